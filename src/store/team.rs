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
/// `recert_me()`, and the one audit append, which computes the chain's hash in the database
/// exactly as `audit::hash_of` does (each part's UTF-8 length as 8 big-endian bytes, then the
/// part).
pub(super) const MIGRATION_2: &str = r#"
CREATE TABLE recert_reviewers (
    role TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    added_at BIGINT NOT NULL
);
CREATE FUNCTION recert_me() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path FROM CURRENT
    AS $$ SELECT email FROM recert_reviewers WHERE role = session_user $$;
CREATE FUNCTION recert_part(t text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT int8send(octet_length(convert_to(t, 'UTF8'))::bigint) || convert_to(t, 'UTF8') $$;
CREATE FUNCTION recert_audit_hash(seq bigint, at bigint, actor text, event text, detail text, prev text)
    RETURNS text LANGUAGE sql IMMUTABLE STRICT
    SET search_path FROM CURRENT
    AS $$ SELECT encode(sha256(recert_part(seq::text) || recert_part(at::text) || recert_part(actor)
        || recert_part(event) || recert_part(detail) || recert_part(prev)), 'hex') $$;
CREATE FUNCTION recert_audit_append(p_at bigint, p_actor text, p_event text, p_detail text)
    RETURNS TABLE (seq bigint, prev text, hash text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path FROM CURRENT
    AS $$
DECLARE
    me text := recert_me();
    last_seq bigint;
    last_hash text;
    new_hash text;
BEGIN
    IF me IS NOT NULL AND p_actor <> me AND p_actor <> 'policy'
       AND NOT (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'recert_owner')
                AND pg_has_role(session_user, 'recert_owner', 'MEMBER')) THEN
        RAISE EXCEPTION 'recert: % may not write to the audit log as %', me, p_actor
            USING ERRCODE = '42501';
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
    -- Delivered when the change commits, to every open console (`recert_changes`).
    PERFORM pg_notify('recert_changes', json_build_object('actor', p_actor, 'event', p_event,
        'count', p_detail::jsonb -> 'count')::text);
    RETURN QUERY SELECT last_seq + 1, last_hash, new_hash;
END
$$;
REVOKE ALL ON FUNCTION recert_audit_append(bigint, text, text, text) FROM PUBLIC;
"#;

/// Is `reviewer` (an item's assignee: an email or `group:NAME`) the session's person, or a
/// group the person is in (by the latest snapshot's directory)? As SQL, for the policies.
const MINE: &str = "(reviewer = recert_me() OR (reviewer LIKE 'group:%' AND EXISTS (
    SELECT 1 FROM people p WHERE p.snapshot_id = (SELECT max(id) FROM snapshots)
      AND p.emails::jsonb ? recert_me() AND p.groups::jsonb ? substr(reviewer, 7))))";

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
        "\n-- Everyone recert serves reads everything (there are no secrets in the store: keys live in keyrings).\n",
    );
    sql.push_str("DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO recert_reviewer, recert_syncer, recert_applier', current_database()); END $$;\n");
    sql.push_str(
        "GRANT USAGE ON SCHEMA public TO recert_reviewer, recert_syncer, recert_applier;\n",
    );
    sql.push_str("GRANT SELECT ON ALL TABLES IN SCHEMA public TO recert_reviewer, recert_syncer, recert_applier;\n");
    sql.push_str("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO recert_reviewer, recert_syncer, recert_applier;\n");
    sql.push_str("GRANT EXECUTE ON FUNCTION recert_audit_append(bigint, text, text, text) TO recert_reviewer, recert_syncer, recert_applier;\n");
    sql.push_str("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit, audit_head, recert_reviewers FROM PUBLIC;\n");
    sql.push_str("\n-- The syncer writes snapshots; any console may cache a snapshot's digest.\n");
    sql.push_str("GRANT INSERT ON snapshots, source_runs, people, accounts, resources, grants, service_accounts, credentials, invites TO recert_syncer;\n");
    sql.push_str("GRANT INSERT, UPDATE ON snapshot_digests TO recert_syncer, recert_reviewer, recert_applier;\n");
    sql.push_str("\n-- The applier plans and applies.\n");
    sql.push_str("GRANT INSERT, UPDATE ON plans, journal TO recert_applier;\n");
    sql.push_str("GRANT INSERT, UPDATE, DELETE ON apply_locks TO recert_applier;\n");
    sql.push_str("\n-- Reviewers decide; owners run campaigns.\n");
    sql.push_str(
        "GRANT INSERT ON decisions, campaign_signoffs, campaign_delegations TO recert_reviewer;\n",
    );
    sql.push_str("GRANT UPDATE (undone) ON decisions TO recert_reviewer;\n");
    sql.push_str("GRANT UPDATE (reviewer, staged, staged_at, decision_id, outcome, outcome_by) ON campaign_items TO recert_reviewer;\n");
    sql.push_str("GRANT INSERT, UPDATE ON campaigns, campaign_items TO recert_owner;\n");
    sql.push_str(
        "GRANT SELECT ON recert_reviewers TO recert_reviewer, recert_syncer, recert_applier;\n",
    );
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
    sql.push_str(&format!(
        "CREATE POLICY recert_mine ON campaign_items FOR UPDATE TO recert_reviewer USING {MINE} WITH CHECK (true);\n"
    ));
    sql.push_str("CREATE POLICY recert_mine ON decisions FOR ALL TO recert_reviewer USING (reviewer = recert_me()) WITH CHECK (reviewer = recert_me());\n");
    sql.push_str("CREATE POLICY recert_mine ON campaign_signoffs FOR INSERT TO recert_reviewer WITH CHECK (reviewer = recert_me());\n");
    sql.push_str("CREATE POLICY recert_mine ON campaign_delegations FOR INSERT TO recert_reviewer WITH CHECK (from_reviewer = recert_me() OR (from_reviewer LIKE 'group:%' AND EXISTS (SELECT 1 FROM people p WHERE p.snapshot_id = (SELECT max(id) FROM snapshots) AND p.emails::jsonb ? recert_me() AND p.groups::jsonb ? substr(from_reviewer, 7))));\n");
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
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_append_takes_the_writer_lock_every_transaction_takes() {
        let lock = format!("pg_advisory_xact_lock({})", super::super::pg::WRITER_LOCK);
        assert!(super::MIGRATION_2.contains(&lock));
    }
}
