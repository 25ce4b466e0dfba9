//! Team mode on PostgreSQL: who a reviewer is comes from the database role they log in as,
//! and the database itself enforces what the tool promises. `recert team init` prints (then,
//! confirmed, applies) [`init_sql`]: the group roles, their grants and the row-level security
//! policies, for a DBA to read first. `recert team add-reviewer` makes a login role and maps it
//! to a directory person ([`Store::add_reviewer`]).
//!
//! - `recert_reviewer`: reads everything; stages, submits, delegates and signs off only items
//!   routed or delegated to them (or to a `group:` they are in), writes decisions only as
//!   themselves, undoes only their own.
//! - `recert_owner`: a campaign owner: creates, closes and cancels campaigns (and the decisions
//!   a closing policy makes), and acts as any reviewer.
//! - `recert_syncer`: writes snapshots and their digests; nothing else.
//! - `recert_applier`: plans and applies: plans, the journal and the apply locks.
//! - Nobody (no recert role) may update or delete an audit row, or insert one except through
//!   `recert_audit_append`, which chains the hash under the writer lock and refuses an actor
//!   that is not the caller.
//! - Times are the database's for everyone but an owner (migration 10): an audit entry's
//!   `at`, a decision's `made_at`, a sign-off's and a delegation's `at`.

use super::db::args;
use super::{Engine, Store, StoreError};

/// The group roles `recert team init` creates.
pub const ROLES: &[&str] = &[
    "recert_reviewer",
    "recert_owner",
    "recert_syncer",
    "recert_applier",
];

/// PostgreSQL migration 2 (every PostgreSQL store, team mode or not): the reviewer mapping,
/// who the session is (`recert_me`, `recert_is_owner`), whether an assignee is the session's
/// person (`recert_mine`), the one audit append (which computes the chain's hash in the
/// database exactly as `audit::hash_of` does: each part's UTF-8 length as 8 big-endian bytes,
/// then the part), and the triggers that hold a reviewer's writes to what the tool promises.
/// Every function that runs with its owner's rights searches `pg_catalog`, recert's schema,
/// then `pg_temp`, and the ones the policies call name every table with its schema, so a
/// session's temporary table can never stand in for one of recert's.
pub(super) const MIGRATION_2: &str = r#"
CREATE TABLE recert_reviewers (
    role TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    added_at BIGINT NOT NULL
);
-- Who the session is, and what it may touch: plain SQL the planner can inline into the
-- policies (no owner's rights, nothing to shadow: every name qualified by the schema).
DO $migrate$
DECLARE s text := quote_ident(current_schema());
BEGIN
    EXECUTE format($f$
CREATE FUNCTION %1$s.recert_member_of(r text) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r)
              AND pg_catalog.pg_has_role(session_user, r, 'MEMBER') $$;
-- The DBA (a superuser, or the role that owns recert's tables) and campaign owners.
CREATE FUNCTION %1$s.recert_is_owner() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user), false)
              OR session_user = (SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class
                                  WHERE oid = '%1$s.audit'::pg_catalog.regclass)
              OR %1$s.recert_member_of('recert_owner') $$;
-- The person (a reviewer's address) or the service role (the syncer's, the applier's) this
-- session is; NULL for the DBA and for a store not in team mode.
CREATE FUNCTION %1$s.recert_me() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(
        (SELECT email FROM %1$s.recert_reviewers WHERE role = session_user),
        CASE WHEN NOT %1$s.recert_is_owner()
              AND (%1$s.recert_member_of('recert_syncer') OR %1$s.recert_member_of('recert_applier'))
             THEN session_user::text END) $$;
-- Is `assignee` (an item's reviewer) the session's person, or a group they are in by the
-- campaign's own snapshot (active people only)?
CREATE FUNCTION %1$s.recert_mine(assignee text, campaign bigint) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT assignee = %1$s.recert_me() OR (assignee LIKE 'group:%%' AND EXISTS (
        SELECT 1 FROM %1$s.people p WHERE p.snapshot_id = (SELECT snapshot_id FROM %1$s.campaigns WHERE id = campaign)
          AND p.active = 1 AND p.absent = 0
          AND p.emails::jsonb ? %1$s.recert_me() AND p.groups::jsonb ? substr(assignee, 7))) $$;
CREATE FUNCTION %1$s.recert_open(campaign bigint) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT EXISTS (SELECT 1 FROM %1$s.campaigns WHERE id = campaign
                           AND closed_at IS NULL AND cancelled_at IS NULL) $$;
$f$, s);
END
$migrate$;
CREATE FUNCTION recert_part(t text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT int8send(octet_length(convert_to(t, 'UTF8'))::bigint) || convert_to(t, 'UTF8') $$;
CREATE FUNCTION recert_audit_hash(seq bigint, at bigint, actor text, event text, detail text, prev text)
    RETURNS text LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT encode(sha256(recert_part(seq::text) || recert_part(at::text) || recert_part(actor)
        || recert_part(event) || recert_part(detail) || recert_part(prev)), 'hex') $$;
CREATE FUNCTION recert_audit_append(p_at bigint, p_actor text, p_event text, p_detail text)
    RETURNS TABLE (seq bigint, prev text, hash text)
    LANGUAGE plpgsql SECURITY DEFINER
    AS $$
DECLARE
    me text := recert_me();
    last_seq bigint;
    last_hash text;
    new_hash text;
BEGIN
    IF NOT recert_is_owner() THEN
        IF me IS NULL OR p_actor IS DISTINCT FROM me THEN
            RAISE EXCEPTION 'recert: % may not write to the audit log as %', session_user, p_actor
                USING ERRCODE = '42501';
        END IF;
        IF NOT ((recert_member_of('recert_reviewer') AND p_event IN
                    ('decide', 'undo', 'redo', 'campaign.submit', 'campaign.delegate', 'campaign.signoff'))
             OR (recert_member_of('recert_applier') AND p_event IN
                    ('plan', 'call', 'result', 'abandon', 'lock-recovered', 'manual.done', 'manual.ticket'))) THEN
            RAISE EXCEPTION 'recert: % may not record a % in the audit log', session_user, p_event
                USING ERRCODE = '42501';
        END IF;
    END IF;
    IF octet_length(p_detail) > 1048576 THEN
        RAISE EXCEPTION 'recert: an audit entry of % bytes is refused (at most 1 MiB)', octet_length(p_detail)
            USING ERRCODE = '54000';
    END IF;
    PERFORM pg_advisory_xact_lock(125771447533569);
    SELECT a.seq, a.hash INTO last_seq, last_hash FROM audit a ORDER BY a.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        last_seq := 0;
        last_hash := repeat('0', 64);
    END IF;
    new_hash := recert_audit_hash(last_seq + 1, p_at, p_actor, p_event, p_detail, last_hash);
    INSERT INTO audit (seq, at, actor, event, detail, prev, hash)
        VALUES (last_seq + 1, p_at, p_actor, p_event, p_detail, last_hash, new_hash);
    INSERT INTO audit_head (one, seq, hash) VALUES (1, last_seq + 1, new_hash)
        ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;
    -- A hint, delivered when the change commits: consoles read the log itself for who and what.
    PERFORM pg_notify('recert_changes', (last_seq + 1)::text);
    RETURN QUERY SELECT last_seq + 1, last_hash, new_hash;
END
$$;
-- A reviewer's decision gets the next id (never one they chose), and joins only a batch
-- that is new or their own, begun in this same transaction.
CREATE FUNCTION recert_decision_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    AS $$
BEGIN
    IF recert_is_owner() THEN
        RETURN NEW;
    END IF;
    NEW.id := nextval(pg_get_serial_sequence('decisions', 'id'));
    NEW.undone := 0;
    -- Every row of a batch is written by the session that began it (by induction: one row
    -- of it tells whose it is).
    IF NEW.batch < (SELECT coalesce(max(batch), 0) FROM decisions)
       OR NEW.batch > (SELECT coalesce(max(batch), 0) + 1 FROM decisions)
       OR EXISTS (SELECT 1 FROM (SELECT d.reviewer, d.xmin FROM decisions d WHERE d.batch = NEW.batch LIMIT 1) f
                    WHERE f.reviewer <> NEW.reviewer OR f.xmin <> pg_current_xact_id()::xid) THEN
        RAISE EXCEPTION 'recert: decision batch % is not this reviewer''s new batch', NEW.batch
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER recert_decision_insert BEFORE INSERT ON decisions
    FOR EACH ROW EXECUTE FUNCTION recert_decision_insert();
-- Undo and redo by a reviewer: never bring back what a cancelled campaign withdrew, never
-- withdraw what a plan has sent.
CREATE FUNCTION recert_decision_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    AS $$
BEGIN
    IF recert_is_owner() OR NEW.undone = OLD.undone THEN
        RETURN NEW;
    END IF;
    IF NEW.undone = 0 AND OLD.campaign_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM campaigns WHERE id = OLD.campaign_id AND cancelled_at IS NOT NULL) THEN
        RAISE EXCEPTION 'recert: decision % was withdrawn with its cancelled campaign', OLD.id
            USING ERRCODE = '42501';
    END IF;
    IF NEW.undone = 1 AND EXISTS (
        SELECT 1 FROM journal WHERE state IN ('sent', 'done')
          AND decisions::jsonb @> jsonb_build_array(OLD.id)) THEN
        RAISE EXCEPTION 'recert: decision % is carried out: a plan has sent its call', OLD.id
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER recert_decision_update BEFORE UPDATE ON decisions
    FOR EACH ROW EXECUTE FUNCTION recert_decision_update();
-- A reviewer changes an undecided item of an open campaign only by staging it, handing it
-- on, or deciding it with a decision of their own on the item's own target.
CREATE FUNCTION recert_item_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    AS $$
BEGIN
    IF recert_is_owner() THEN
        RETURN NEW;
    END IF;
    IF OLD.outcome IS NOT NULL OR NOT recert_open(OLD.campaign_id) THEN
        RAISE EXCEPTION 'recert: item % is decided or its campaign is over', OLD.seq
            USING ERRCODE = '42501';
    END IF;
    IF NEW.reviewer IS DISTINCT FROM OLD.reviewer THEN
        IF NEW.outcome IS NOT NULL OR NEW.decision_id IS NOT NULL OR NEW.staged IS NOT NULL THEN
            RAISE EXCEPTION 'recert: an item handed on goes undecided' USING ERRCODE = '42501';
        END IF;
    ELSIF NEW.outcome IS NOT NULL OR NEW.decision_id IS NOT NULL OR NEW.outcome_by IS NOT NULL THEN
        IF NEW.outcome_by IS DISTINCT FROM recert_me() OR NOT EXISTS (
            SELECT 1 FROM decisions d WHERE d.id = NEW.decision_id AND d.reviewer = recert_me()
              AND d.campaign_id = OLD.campaign_id AND d.verdict = NEW.outcome AND d.undone = 0
              AND jsonb_build_object('provider', d.provider, 'source', d.source, 'kind', d.kind, 'id', d.target_id)
                  = OLD.item::jsonb -> 'target') THEN
            RAISE EXCEPTION 'recert: item % is decided only by a decision of yours on it', OLD.seq
                USING ERRCODE = '42501';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER recert_item_update BEFORE UPDATE ON campaign_items
    FOR EACH ROW EXECUTE FUNCTION recert_item_update();
-- The policies find a decision's item by its target.
CREATE INDEX campaign_items_target ON campaign_items (campaign_id, ((item::jsonb) -> 'target'));
DO $$
DECLARE f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['recert_part(text)',
        'recert_audit_hash(bigint, bigint, text, text, text, text)',
        'recert_audit_append(bigint, text, text, text)', 'recert_decision_insert()',
        'recert_decision_update()', 'recert_item_update()'] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp', f, current_schema());
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION recert_audit_append(bigint, text, text, text) FROM PUBLIC;
"#;

/// What the syncer may do to a snapshot's rows: write new ones, and close an open one at the
/// newest snapshot (triggers refuse any other change: what a past snapshot held stays as it
/// was). Given by `init_sql` and by the migration that made the tables.
pub(super) fn syncer_row_grants() -> String {
    let rows: Vec<String> = super::DATA_TABLES.iter().map(|t| t.rows()).collect();
    format!(
        "GRANT INSERT ON {rows} TO recert_syncer;\nGRANT UPDATE (valid_to) ON {rows} TO recert_syncer;\n",
        rows = rows.join(", ")
    )
}

/// The roles, grants and row-level security of team mode, for the database recert's tables
/// are in. Safe to apply again (after an upgrade adds tables).
pub fn init_sql() -> String {
    let mut sql = String::from("-- recert team mode: roles, grants and row-level security.\n");
    for role in ROLES {
        sql.push_str(&format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} NOLOGIN; END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;\n"
        ));
    }
    sql.push_str("GRANT recert_reviewer TO recert_owner;\n");
    sql.push_str(
        "\n-- No temporary tables (nothing of recert needs them), and nothing created in recert's schema.\n",
    );
    sql.push_str("DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', current_schema()); END $$;\n");
    sql.push_str(
        "\n-- Everyone recert serves reads everything (there are no secrets in the store: keys live in keyrings).\n",
    );
    sql.push_str("DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO recert_reviewer, recert_syncer, recert_applier', current_database()); EXECUTE format('GRANT USAGE ON SCHEMA %I TO recert_reviewer, recert_syncer, recert_applier', current_schema()); END $$;\n");
    sql.push_str("DO $$ BEGIN EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %1$I TO recert_reviewer, recert_syncer, recert_applier; GRANT USAGE ON ALL SEQUENCES IN SCHEMA %1$I TO recert_reviewer, recert_syncer, recert_applier', current_schema()); END $$;\n");
    sql.push_str("GRANT EXECUTE ON FUNCTION recert_audit_append(bigint, text, text, text) TO recert_reviewer, recert_syncer, recert_applier;\n");
    sql.push_str("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit, audit_head, recert_reviewers, snapshot_digests FROM PUBLIC;\n");
    sql.push_str("\n-- The syncer writes snapshots (a new id, never one it chooses) and their digests, which consoles trust for a first frame.\n");
    sql.push_str("GRANT INSERT (taken_at) ON snapshots TO recert_syncer;\n");
    sql.push_str("GRANT INSERT ON source_runs TO recert_syncer;\n");
    sql.push_str(&syncer_row_grants());
    sql.push_str("GRANT INSERT, UPDATE, DELETE ON snapshot_digests TO recert_syncer;\n");
    sql.push_str("\n-- The applier plans and applies.\n");
    sql.push_str(
        "GRANT INSERT (created_at, actor, snapshot_id, state) ON plans TO recert_applier;\n",
    );
    sql.push_str("GRANT INSERT, UPDATE ON journal TO recert_applier;\n");
    sql.push_str("GRANT INSERT, UPDATE, DELETE ON apply_locks TO recert_applier;\n");
    sql.push_str("\n-- Reviewers decide their items; owners run campaigns.\n");
    sql.push_str("GRANT INSERT (batch, made_at, reviewer, snapshot_id, verdict, provider, source, kind, target_id, label, rule, owner, until, justification, campaign_id) ON decisions TO recert_reviewer;\n");
    sql.push_str("GRANT INSERT ON campaign_signoffs TO recert_reviewer;\n");
    sql.push_str("GRANT INSERT (campaign_id, seq, from_reviewer, to_reviewer, reason, at) ON campaign_delegations TO recert_reviewer;\n");
    sql.push_str("GRANT UPDATE (undone) ON decisions TO recert_reviewer;\n");
    sql.push_str("GRANT UPDATE (reviewer, staged, staged_at, decision_id, outcome, outcome_by) ON campaign_items TO recert_reviewer;\n");
    sql.push_str("GRANT INSERT, UPDATE ON campaigns, campaign_items, decisions TO recert_owner;\n");
    sql.push_str("GRANT INSERT ON campaign_delegations TO recert_owner;\n");
    sql.push_str("\n-- Row-level security: each row only by the person it belongs to.\n");
    for t in [
        "decisions",
        "campaigns",
        "campaign_items",
        "campaign_signoffs",
        "campaign_delegations",
    ] {
        sql.push_str(&format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;\n"));
        for p in ["read", "mine", "owner"] {
            sql.push_str(&format!("DROP POLICY IF EXISTS recert_{p} ON {t};\n"));
        }
        sql.push_str(&format!(
            "CREATE POLICY recert_read ON {t} FOR SELECT USING (true);\n"
        ));
        sql.push_str(&format!(
            "CREATE POLICY recert_owner ON {t} TO recert_owner USING (true) WITH CHECK (true);\n"
        ));
    }
    sql.push_str("CREATE POLICY recert_mine ON campaign_items FOR UPDATE TO recert_reviewer USING (recert_mine(reviewer, campaign_id)) WITH CHECK (true);\n");
    // A reviewer's decision is on an undecided item of theirs, in an open campaign, on the
    // item's own target.
    sql.push_str("CREATE POLICY recert_mine ON decisions FOR INSERT TO recert_reviewer WITH CHECK (reviewer = recert_me() AND campaign_id IS NOT NULL AND recert_open(campaign_id) AND EXISTS (SELECT 1 FROM campaign_items i WHERE i.campaign_id = decisions.campaign_id AND i.outcome IS NULL AND recert_mine(i.reviewer, i.campaign_id) AND i.item::jsonb -> 'target' = jsonb_build_object('provider', decisions.provider, 'source', decisions.source, 'kind', decisions.kind, 'id', decisions.target_id)));\n");
    sql.push_str("DROP POLICY IF EXISTS recert_undo ON decisions;\n");
    sql.push_str("CREATE POLICY recert_undo ON decisions FOR UPDATE TO recert_reviewer USING (reviewer = recert_me()) WITH CHECK (reviewer = recert_me());\n");
    sql.push_str("CREATE POLICY recert_mine ON campaign_signoffs FOR INSERT TO recert_reviewer WITH CHECK (reviewer = recert_me() AND recert_open(campaign_id));\n");
    sql.push_str("CREATE POLICY recert_mine ON campaign_delegations FOR INSERT TO recert_reviewer WITH CHECK (recert_mine(from_reviewer, campaign_id) AND recert_open(campaign_id) AND EXISTS (SELECT 1 FROM campaign_items i WHERE i.campaign_id = campaign_delegations.campaign_id AND i.seq = campaign_delegations.seq AND i.reviewer = campaign_delegations.to_reviewer AND i.outcome IS NULL));\n");
    sql
}

/// Who a team member's login role is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// A person who reviews (and, as an owner, runs campaigns).
    Reviewer { owner: bool },
    /// The process that syncs: writes snapshots.
    Syncer,
    /// The process that applies plans.
    Applier,
}

/// The group roles team mode grants its members.
const GROUPS: [&str; 4] = [
    "recert_reviewer",
    "recert_owner",
    "recert_syncer",
    "recert_applier",
];

/// A team member as the database holds them (`recert team list`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The login role.
    pub role: String,
    /// Team mode's groups it is in (`recert_reviewer`, `recert_owner`, …).
    pub groups: Vec<String>,
    /// Whether it may log in.
    pub login: bool,
    /// The person this database maps it to (reviewers only).
    pub email: Option<String>,
}

/// A login role's name for `email`: the address itself (PostgreSQL quotes it).
fn quoted(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl Store {
    /// Who the database says this session is (team mode), or `None`: not PostgreSQL, or a role
    /// that is no reviewer (the DBA's, a syncer's).
    pub fn identity(&self) -> Result<Option<String>, StoreError> {
        if self.engine() != Engine::Postgres {
            return Ok(None);
        }
        self.conn
            .value("SELECT recert_me()", args![])
            .map_err(self.sql())
    }

    /// Apply [`init_sql`] (as a role that may create roles and owns recert's tables).
    pub fn team_init(&mut self) -> Result<(), StoreError> {
        if self.engine() != Engine::Postgres {
            return Err(StoreError::Refused(
                "team mode needs the store on PostgreSQL (--database or RECERT_DATABASE_URL)"
                    .into(),
            ));
        }
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        tx.batch(&init_sql()).map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Every login role in team mode's groups, and every person this database maps a role
    /// to, by role name: not the groups themselves, not superusers, not the session's own
    /// role (the DBA running this).
    pub fn members(&self) -> Result<Vec<Listed>, StoreError> {
        self.team_only()?;
        self.conn
            .map(
                "SELECT u.rolname::text, u.rolcanlogin,
                        coalesce((SELECT string_agg(g.rolname::text, ',' ORDER BY g.rolname)
                                  FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                                  WHERE m.member = u.oid AND g.rolname IN ('recert_reviewer', 'recert_owner', 'recert_syncer', 'recert_applier')), ''),
                        r.email
                 FROM pg_roles u LEFT JOIN recert_reviewers r ON r.role = u.rolname
                 WHERE u.rolname NOT IN ('recert_reviewer', 'recert_owner', 'recert_syncer', 'recert_applier')
                   AND NOT u.rolsuper AND u.rolname <> current_user
                   AND (r.role IS NOT NULL OR EXISTS (
                     SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                     WHERE m.member = u.oid AND g.rolname IN ('recert_reviewer', 'recert_owner', 'recert_syncer', 'recert_applier')))
                 ORDER BY u.rolname",
                args![],
                |r| {
                    let groups: String = r.get(2)?;
                    Ok(Listed {
                        role: r.get(0)?,
                        login: r.get(1)?,
                        groups: groups
                            .split(',')
                            .filter(|g| !g.is_empty())
                            .map(String::from)
                            .collect(),
                        email: r.get(3)?,
                    })
                },
            )
            .map_err(self.sql())
    }

    /// Remove a team member: out of team mode's groups, no longer able to log in, no longer
    /// mapped to a person, and their open sessions ended. The role itself stays (a DBA may
    /// drop it; its name is in the audit log). Whether there was such a member.
    pub fn remove_member(&mut self, name: &str) -> Result<bool, StoreError> {
        self.team_only()?;
        let listed = self.members()?;
        let wanted = crate::model::normalize_email(name);
        let Some(m) = listed
            .iter()
            .find(|m| m.role == name.trim() || m.role == wanted)
        else {
            return Ok(false);
        };
        let role = quoted(&m.role);
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        tx.batch(&format!(
            "ALTER ROLE {role} NOLOGIN; REVOKE {} FROM {role};",
            GROUPS.join(", ")
        ))
        .map_err(&err)?;
        tx.exec(
            "DELETE FROM recert_reviewers WHERE role = ?1",
            args![m.role],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        // A REVOKE of a membership another role granted only warns: check it took.
        let left = self.groups_of(&m.role)?;
        if !left.is_empty() {
            return Err(StoreError::Refused(format!(
                "{} can no longer log in, but is still in {} (granted by another role): revoke that as the role that granted it",
                crate::model::text::sanitize(&m.role),
                left.join(", ")
            )));
        }
        // After the commit: a session ended sooner could still have written meanwhile.
        if let Err(e) = self.conn.value::<i64>(
            "SELECT count(pg_terminate_backend(pid))::bigint FROM pg_stat_activity WHERE usename = ?1",
            args![m.role],
        ) {
            return Err(StoreError::Refused(format!(
                "{} is removed (cannot log in, in no group, mapped to no one: no rights left in recert's tables), but their open sessions could not be ended ({e}): a role in pg_signal_backend can end them",
                crate::model::text::sanitize(&m.role)
            )));
        }
        Ok(true)
    }

    /// Team mode's groups `role` is in.
    fn groups_of(&self, role: &str) -> Result<Vec<String>, StoreError> {
        self.conn
            .column(
                "SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                 JOIN pg_roles u ON u.oid = m.member
                 WHERE u.rolname = ?1 AND g.rolname IN ('recert_reviewer', 'recert_owner', 'recert_syncer', 'recert_applier')
                 ORDER BY 1",
                args![role],
            )
            .map_err(self.sql())
    }

    fn team_only(&self) -> Result<(), StoreError> {
        if self.engine() != Engine::Postgres {
            return Err(StoreError::Refused(
                "team mode needs the store on PostgreSQL".into(),
            ));
        }
        Ok(())
    }

    /// Make (or, for one that exists, re-password) the login role of a team member, its
    /// password sent as a SCRAM verifier (never as text the server could log): a reviewer's
    /// role is named by their email and mapped to them; a service's (the syncer, the applier)
    /// by `name`. Returns the role's name.
    pub fn add_member(
        &mut self,
        name: &str,
        password: &crate::secret::Secret,
        member: Member,
        now: crate::model::Ts,
    ) -> Result<String, StoreError> {
        if self.engine() != Engine::Postgres {
            return Err(StoreError::Refused(
                "team mode needs the store on PostgreSQL".into(),
            ));
        }
        let name = match member {
            Member::Reviewer { .. } => crate::model::normalize_email(name),
            _ => name.trim().to_string(),
        };
        let shown = crate::model::text::sanitize(&name);
        if name.is_empty() || name.len() > 63 || name.chars().any(|c| c.is_control()) {
            return Err(StoreError::Refused(format!(
                "'{shown}' cannot name a database role (1 to 63 characters, no control characters)"
            )));
        }
        if matches!(member, Member::Reviewer { .. }) && !name.contains('@') {
            return Err(StoreError::Refused(format!(
                "'{shown}' is not an email address: a reviewer's role is named by their address"
            )));
        }
        let verifier = postgres_protocol::password::scram_sha_256(password.expose().as_bytes());
        let role = quoted(&name);
        let groups: &[&str] = match member {
            Member::Reviewer { owner: true } => &["recert_reviewer", "recert_owner"],
            Member::Reviewer { owner: false } => &["recert_reviewer"],
            Member::Syncer => &["recert_syncer"],
            Member::Applier => &["recert_applier"],
        };
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        let exists: Option<String> = tx
            .row(
                "SELECT rolname::text FROM pg_roles WHERE rolname = ?1",
                args![name],
                |r| r.get(0),
            )
            .map_err(&err)?;
        let verb = if exists.is_some() { "ALTER" } else { "CREATE" };
        let mut sql = format!(
            "{verb} ROLE {role} LOGIN PASSWORD '{}';",
            verifier.replace('\'', "''")
        );
        // Adding sets the role's groups: an owner added again as a reviewer is one no more.
        if exists.is_some() {
            sql.push_str(&format!(" REVOKE {} FROM {role};", GROUPS.join(", ")));
        }
        for g in groups {
            sql.push_str(&format!(" GRANT {g} TO {role};"));
        }
        tx.batch(&sql).map_err(&err)?;
        if matches!(member, Member::Reviewer { .. }) {
            tx.exec(
                "INSERT INTO recert_reviewers (role, email, added_at) VALUES (?1, ?1, ?2)
                 ON CONFLICT (role) DO UPDATE SET email = excluded.email",
                args![name, now],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        let now_in = self.groups_of(&name)?;
        let mut wanted: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        wanted.sort();
        if now_in != wanted {
            return Err(StoreError::Refused(format!(
                "{shown} is in {} rather than {} (a membership granted by another role stays until that role revokes it)",
                now_in.join(", "),
                wanted.join(", ")
            )));
        }
        Ok(name)
    }
}

/// PostgreSQL 10: a team member's times are the database's, not their machine's: the audit
/// log's `at` (set inside `recert_audit_append`, before the hash is chained), a decision's
/// `made_at`, a sign-off's and a delegation's `at`. The owner (the DBA, a campaign owner, `store
/// copy`) keeps the times it gives. Migration 2's `recert_audit_append` is replaced whole, as
/// a migration must (history is not edited).
pub(super) const MIGRATION_10: &str = r#"
CREATE FUNCTION recert_server_now() RETURNS bigint
    LANGUAGE sql VOLATILE
    AS $$ SELECT floor(extract(epoch FROM clock_timestamp()))::bigint $$;
CREATE OR REPLACE FUNCTION recert_audit_append(p_at bigint, p_actor text, p_event text, p_detail text)
    RETURNS TABLE (seq bigint, prev text, hash text)
    LANGUAGE plpgsql SECURITY DEFINER
    AS $$
DECLARE
    me text := recert_me();
    last_seq bigint;
    last_hash text;
    new_hash text;
BEGIN
    IF NOT recert_is_owner() THEN
        IF me IS NULL OR p_actor IS DISTINCT FROM me THEN
            RAISE EXCEPTION 'recert: % may not write to the audit log as %', session_user, p_actor
                USING ERRCODE = '42501';
        END IF;
        IF NOT ((recert_member_of('recert_reviewer') AND p_event IN
                    ('decide', 'undo', 'redo', 'campaign.submit', 'campaign.delegate', 'campaign.signoff'))
             OR (recert_member_of('recert_applier') AND p_event IN
                    ('plan', 'call', 'result', 'abandon', 'lock-recovered', 'manual.done', 'manual.ticket'))) THEN
            RAISE EXCEPTION 'recert: % may not record a % in the audit log', session_user, p_event
                USING ERRCODE = '42501';
        END IF;
    END IF;
    -- The time is the database's for everyone but the owner: a reviewer's own clock could
    -- backdate a decision past a campaign's due date.
    IF NOT recert_is_owner() THEN
        p_at := recert_server_now();
    END IF;
    IF octet_length(p_detail) > 1048576 THEN
        RAISE EXCEPTION 'recert: an audit entry of % bytes is refused (at most 1 MiB)', octet_length(p_detail)
            USING ERRCODE = '54000';
    END IF;
    PERFORM pg_advisory_xact_lock(125771447533569);
    SELECT a.seq, a.hash INTO last_seq, last_hash FROM audit a ORDER BY a.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        last_seq := 0;
        last_hash := repeat('0', 64);
    END IF;
    new_hash := recert_audit_hash(last_seq + 1, p_at, p_actor, p_event, p_detail, last_hash);
    INSERT INTO audit (seq, at, actor, event, detail, prev, hash)
        VALUES (last_seq + 1, p_at, p_actor, p_event, p_detail, last_hash, new_hash);
    INSERT INTO audit_head (one, seq, hash) VALUES (1, last_seq + 1, new_hash)
        ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;
    -- A hint, delivered when the change commits: consoles read the log itself for who and what.
    PERFORM pg_notify('recert_changes', (last_seq + 1)::text);
    RETURN QUERY SELECT last_seq + 1, last_hash, new_hash;
END
$$;
CREATE FUNCTION recert_stamp() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    AS $$
BEGIN
    IF NOT recert_is_owner() THEN
        IF TG_TABLE_NAME = 'decisions' THEN
            NEW.made_at := recert_server_now();
        ELSE
            NEW.at := recert_server_now();
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER recert_stamp BEFORE INSERT ON decisions
    FOR EACH ROW EXECUTE FUNCTION recert_stamp();
CREATE TRIGGER recert_stamp BEFORE INSERT ON campaign_signoffs
    FOR EACH ROW EXECUTE FUNCTION recert_stamp();
CREATE TRIGGER recert_stamp BEFORE INSERT ON campaign_delegations
    FOR EACH ROW EXECUTE FUNCTION recert_stamp();
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn the_append_takes_the_writer_lock_every_transaction_takes() {
        let lock = format!("pg_advisory_xact_lock({})", super::super::pg::WRITER_LOCK);
        assert!(super::MIGRATION_2.contains(&lock));
    }
}
