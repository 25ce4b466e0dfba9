//! The database: SQLite (bundled) with numbered migrations. Snapshots are written in one
//! transaction; a source that failed keeps its last good data, carried into the new snapshot
//! and marked so. Files are created readable by the owner only.
//! SQL and rusqlite types stay inside this module (a PostgreSQL backend will sit behind the same
//! interface).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub mod campaign;
pub mod copy;
pub(crate) mod db;
mod digest;
pub mod live;
pub mod pg;
pub mod remediate;
mod review;
pub mod team;
#[doc(hidden)]
pub mod testkit;

pub use db::Engine;
use db::{Conn, DbError, Param, Params, ToParam, Value, args};
pub use pg::Target;

use crate::model::{
    Account, AppAccess, Credential, Feed, Grant, IdpApp, Invite, Owner, Person, Provenance,
    Resource, ServiceAccount, Signals, Snapshot, SourceData, SourceStatus, Ts,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}", sql_message(path, source))]
    Sql { path: PathBuf, source: DbError },
    #[error(
        "cannot prepare {path} (it must be a directory or file recert can create and make private to you)"
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "database {path} was written by a newer recert (schema {found}, this one knows {known}); upgrade recert"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// A campaign operation that cannot be done, with what to do instead.
    #[error("{0}")]
    Campaign(String),
    /// `recert.db` exists but holds nothing: never silently replaced by a new store.
    #[error(
        "database {path} exists but is empty (0 bytes): it was truncated or is not recert's, and recert will not start a new store over it. Restore it from your backup, or move it aside to start afresh"
    )]
    Empty { path: PathBuf },
    /// A SQLite file that another program made: recert will not add its tables to it.
    #[error(
        "database {path} is a SQLite file that recert did not create ({why}): recert will not write into it. Point --data-dir at recert's own directory, or move the file aside"
    )]
    Foreign { path: PathBuf, why: String },
    /// A PostgreSQL database that holds another program's tables.
    #[error(
        "PostgreSQL database {path} holds tables recert did not create ({why}): recert will not write into it. Give recert an empty database of its own (createdb recert)"
    )]
    ForeignDatabase { path: PathBuf, why: String },
    /// The store is older than this recert and cannot be migrated because it is read-only.
    #[error(
        "database {path} needs upgrading to this recert's schema ({found} → {known}) but is read-only: make it writable once (chmod u+w) and run any command"
    )]
    ReadOnlyOld {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// Nothing was stored, and why (a guard that refused under the write lock).
    #[error("{0}")]
    Refused(String),
    /// Another process is applying this plan.
    #[error(
        "{0}: nothing was sent. Wait for it to finish (or stop it); a lock whose process has died is taken over by the next `recert apply --resume`"
    )]
    Locked(remediate::LockHolder),
}

/// `PRAGMA application_id` of every recert store ("rcrt"), so `file(1)` and recert itself can
/// tell a recert store from another program's SQLite file.
pub const APPLICATION_ID: i64 = 0x7263_7274;

/// Schema migrations, applied in order; `user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    taken_at INTEGER NOT NULL
);
CREATE TABLE source_runs (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT,
    carried_from INTEGER,
    items INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, source)
);
CREATE TABLE people (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, id TEXT NOT NULL, user_name TEXT NOT NULL, emails TEXT NOT NULL,
    display_name TEXT, active INTEGER NOT NULL, absent INTEGER NOT NULL, external_id TEXT,
    department TEXT, manager_id TEXT, groups TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, source, id)
);
CREATE TABLE accounts (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, id TEXT NOT NULL, email TEXT, name TEXT,
    role TEXT, added_at INTEGER, last_active_at INTEGER, scim_managed INTEGER,
    PRIMARY KEY (snapshot_id, source, id)
);
CREATE TABLE resources (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    name TEXT, archived INTEGER NOT NULL, created_at INTEGER,
    PRIMARY KEY (snapshot_id, source, kind, id)
);
CREATE TABLE grants (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, principal_kind TEXT NOT NULL,
    principal_id TEXT NOT NULL, resource_id TEXT NOT NULL, role TEXT, via TEXT NOT NULL
);
CREATE INDEX grants_snapshot ON grants(snapshot_id, source);
CREATE TABLE service_accounts (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, id TEXT NOT NULL, resource_id TEXT,
    name TEXT, role TEXT, created_at INTEGER,
    PRIMARY KEY (snapshot_id, source, id)
);
CREATE TABLE credentials (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    name TEXT, redacted TEXT, resource_id TEXT, owner_kind TEXT, owner_id TEXT, owner_email TEXT,
    owner_name TEXT, owner_access TEXT, created_at INTEGER, last_used_at INTEGER, expires_at INTEGER,
    PRIMARY KEY (snapshot_id, source, kind, id)
);
CREATE TABLE invites (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, id TEXT NOT NULL, email TEXT, role TEXT,
    status TEXT, created_at INTEGER, expires_at INTEGER,
    PRIMARY KEY (snapshot_id, source, id)
);
"#,
    // 2: Anthropic key status.
    "ALTER TABLE credentials ADD COLUMN status TEXT;",
    // 3: the start of a provider's activity window (Cursor daily usage).
    "ALTER TABLE accounts ADD COLUMN activity_from INTEGER;",
    // 4: spend per key (OpenAI costs by api_key_id).
    "ALTER TABLE credentials ADD COLUMN spend_cents INTEGER;",
    // 5: review decisions and the hash-chained audit log.
    r#"
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    batch INTEGER NOT NULL,
    made_at INTEGER NOT NULL,
    reviewer TEXT NOT NULL,
    snapshot_id INTEGER,
    verdict TEXT NOT NULL,
    provider TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL, target_id TEXT NOT NULL,
    label TEXT NOT NULL,
    rule TEXT, owner TEXT, until TEXT, justification TEXT,
    undone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX decisions_batch ON decisions (batch);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
"#,
    // 6: remediation plans and their journal (each call written before it is sent).
    r#"
CREATE TABLE plans (
    id INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    snapshot_id INTEGER,
    state TEXT NOT NULL
);
CREATE TABLE journal (
    plan_id INTEGER NOT NULL REFERENCES plans (id),
    seq INTEGER NOT NULL,
    decisions TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    method TEXT,
    path TEXT,
    body TEXT,
    note TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status INTEGER,
    result TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (plan_id, seq)
);
"#,
    // 7: certification campaigns: the frozen items, their reviewers, staged and submitted
    // decisions, sign-offs and delegations.
    r#"
CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    snapshot_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    due TEXT NOT NULL,
    scope TEXT NOT NULL,
    routing TEXT NOT NULL,
    on_close TEXT NOT NULL,
    since_id INTEGER REFERENCES campaigns (id),
    closed_at INTEGER,
    closed_by TEXT
);
CREATE TABLE campaign_items (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    seq INTEGER NOT NULL,
    item TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    staged TEXT,
    staged_at INTEGER,
    decision_id INTEGER,
    outcome TEXT,
    outcome_by TEXT,
    PRIMARY KEY (campaign_id, seq)
);
CREATE INDEX campaign_items_reviewer ON campaign_items (campaign_id, reviewer);
CREATE TABLE campaign_signoffs (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    reviewer TEXT NOT NULL,
    at INTEGER NOT NULL,
    counts TEXT NOT NULL,
    PRIMARY KEY (campaign_id, reviewer)
);
CREATE TABLE campaign_delegations (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    seq INTEGER NOT NULL,
    from_reviewer TEXT NOT NULL,
    to_reviewer TEXT NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL
);
ALTER TABLE decisions ADD COLUMN campaign_id INTEGER;
"#,
    // 8: each snapshot's digest (dashboard counts and the first findings) for a fast first
    // frame, keyed by the context its findings were judged in.
    r#"
CREATE TABLE snapshot_digests (
    snapshot_id INTEGER PRIMARY KEY REFERENCES snapshots(id) ON DELETE CASCADE,
    context TEXT NOT NULL,
    made_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
"#,
    // 9: the resource a resource lives in (a custom project role's project).
    "ALTER TABLE resources ADD COLUMN parent TEXT;",
    // 10: who is applying which plan (one applier per plan, across processes), and the audit
    // chain's head, kept apart from the chain so that deleting its tail is seen.
    r#"
CREATE TABLE apply_locks (
    plan_id INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    pid_start TEXT,
    host TEXT NOT NULL,
    since INTEGER NOT NULL
);
CREATE TABLE audit_head (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (one, seq, hash) SELECT 1, seq, hash FROM audit ORDER BY seq DESC LIMIT 1;
"#,
    // 11: a campaign started by mistake is cancelled, not deleted: the record stays.
    r#"
ALTER TABLE campaigns ADD COLUMN cancelled_at INTEGER;
ALTER TABLE campaigns ADD COLUMN cancelled_by TEXT;
ALTER TABLE campaigns ADD COLUMN cancel_reason TEXT;
"#,
    // 12: a person's job title, so the owner picker tells people of one name apart.
    "ALTER TABLE people ADD COLUMN title TEXT;",
    // 13: whether a person's groups are known (the directory's groups could be read).
    "ALTER TABLE people ADD COLUMN groups_known INTEGER NOT NULL DEFAULT 1;",
    // 14: the person's employee type, for campaign scoping.
    "ALTER TABLE people ADD COLUMN employee_type TEXT;",
    // 15: what an identity provider says: a person's last sign-in and leave date, the AI
    // platforms' apps, who each is assigned to and the last provisioning push.
    r#"
ALTER TABLE people ADD COLUMN sign_in_known INTEGER NOT NULL DEFAULT 0;
ALTER TABLE people ADD COLUMN last_sign_in INTEGER;
ALTER TABLE people ADD COLUMN leave_at INTEGER;
ALTER TABLE people ADD COLUMN created_at INTEGER;
CREATE TABLE idp_apps (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, app_source TEXT NOT NULL, id TEXT NOT NULL, name TEXT,
    assignments_known INTEGER NOT NULL, open INTEGER NOT NULL, pushes_known INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, source, app_source)
);
CREATE TABLE app_access (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, person_id TEXT NOT NULL, app_source TEXT NOT NULL,
    assigned INTEGER NOT NULL, via TEXT, push_kind TEXT, push_result TEXT, push_at INTEGER,
    push_detail TEXT,
    PRIMARY KEY (snapshot_id, source, person_id, app_source)
);
"#,
    // 16: what a provider's audit feed says about its objects (who created a key, a user's
    // last login), and how far each feed was read.
    r#"
CREATE TABLE provenance (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL,
    fact TEXT NOT NULL, actor_kind TEXT, actor_id TEXT, actor_email TEXT, via TEXT,
    at INTEGER NOT NULL, feed TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, source, subject_kind, subject_id, fact)
);
CREATE TABLE feeds (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, feed TEXT NOT NULL, known INTEGER NOT NULL,
    read_from INTEGER, read_to INTEGER, note TEXT,
    PRIMARY KEY (snapshot_id, source, feed)
);
"#,
    // 17: when each feed was last read whole (incremental syncs read on from `read_to`).
    "ALTER TABLE feeds ADD COLUMN full_at INTEGER;",
    // 18: where each feed was read from (a fingerprint, never the key).
    "ALTER TABLE feeds ADD COLUMN origin TEXT;",
    // 19: snapshots share their unchanged rows. Each data table's rows move to `<table>_rows`,
    // each row valid from one snapshot until another (`valid_to`, or `OPEN` while it is in the
    // newest); a view under the table's old name gives every snapshot its rows as before.
    // The rest of this migration (copying the rows, the views) is [`temporal_migration`].
    r#"
CREATE TABLE people_rows (
    source TEXT NOT NULL, id TEXT NOT NULL, user_name TEXT NOT NULL, emails TEXT NOT NULL,
    display_name TEXT, active INTEGER NOT NULL, absent INTEGER NOT NULL, external_id TEXT,
    department TEXT, manager_id TEXT, groups TEXT NOT NULL, title TEXT,
    groups_known INTEGER NOT NULL DEFAULT 1, employee_type TEXT,
    sign_in_known INTEGER NOT NULL DEFAULT 0, last_sign_in INTEGER, leave_at INTEGER,
    created_at INTEGER,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, ord INTEGER PRIMARY KEY
);
CREATE TABLE accounts_rows (
    source TEXT NOT NULL, provider TEXT NOT NULL, id TEXT NOT NULL, email TEXT, name TEXT,
    role TEXT, added_at INTEGER, last_active_at INTEGER, scim_managed INTEGER,
    activity_from INTEGER,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, ord INTEGER PRIMARY KEY
);
CREATE TABLE resources_rows (
    source TEXT NOT NULL, provider TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    name TEXT, archived INTEGER NOT NULL, created_at INTEGER, parent TEXT,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, ord INTEGER PRIMARY KEY
);
CREATE TABLE grants_rows (
    source TEXT NOT NULL, provider TEXT NOT NULL, principal_kind TEXT NOT NULL,
    principal_id TEXT NOT NULL, resource_id TEXT NOT NULL, role TEXT, via TEXT NOT NULL,
    ord INTEGER PRIMARY KEY, valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL
);
CREATE TABLE service_accounts_rows (
    source TEXT NOT NULL, provider TEXT NOT NULL, id TEXT NOT NULL, resource_id TEXT,
    name TEXT, role TEXT, created_at INTEGER,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, ord INTEGER PRIMARY KEY
);
CREATE TABLE credentials_rows (
    source TEXT NOT NULL, provider TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    name TEXT, redacted TEXT, resource_id TEXT, owner_kind TEXT, owner_id TEXT, owner_email TEXT,
    owner_name TEXT, owner_access TEXT, created_at INTEGER, last_used_at INTEGER,
    expires_at INTEGER, status TEXT, spend_cents INTEGER,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, ord INTEGER PRIMARY KEY
);
CREATE TABLE invites_rows (
    source TEXT NOT NULL, provider TEXT NOT NULL, id TEXT NOT NULL, email TEXT, role TEXT,
    status TEXT, created_at INTEGER, expires_at INTEGER,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, ord INTEGER PRIMARY KEY
);
CREATE TABLE idp_apps_rows (
    source TEXT NOT NULL, app_source TEXT NOT NULL, id TEXT NOT NULL, name TEXT,
    assignments_known INTEGER NOT NULL, open INTEGER NOT NULL, pushes_known INTEGER NOT NULL,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, ord INTEGER PRIMARY KEY
);
CREATE TABLE app_access_rows (
    source TEXT NOT NULL, person_id TEXT NOT NULL, app_source TEXT NOT NULL,
    assigned INTEGER NOT NULL, via TEXT, push_kind TEXT, push_result TEXT, push_at INTEGER,
    push_detail TEXT,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, ord INTEGER PRIMARY KEY
);
CREATE TABLE provenance_rows (
    source TEXT NOT NULL, subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL,
    fact TEXT NOT NULL, actor_kind TEXT, actor_id TEXT, actor_email TEXT, via TEXT,
    at INTEGER NOT NULL, feed TEXT NOT NULL,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, ord INTEGER PRIMARY KEY
);
CREATE TABLE feeds_rows (
    source TEXT NOT NULL, feed TEXT NOT NULL, known INTEGER NOT NULL,
    read_from INTEGER, read_to INTEGER, note TEXT, full_at INTEGER, origin TEXT,
    valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, ord INTEGER PRIMARY KEY
);
"#,
    // 20: a snapshot's grants in listing order without walking every stored version.
    r#"
CREATE INDEX grants_rows_live ON grants_rows (valid_to, ord);
"#,
];

/// The migration (SQLite's 19, PostgreSQL's 8) after which snapshots share unchanged rows.
const TEMPORAL: (usize, usize) = (19, 8);

/// The `valid_to` of a row still in the newest snapshot.
const OPEN: i64 = i64::MAX;

/// What a data table's rows are held in, after its name.
pub(crate) const SNAPSHOT_ROWS: &str = "_rows";

/// The rest of the temporal migration, made from [`DATA_TABLES`]: every row of every snapshot
/// moves into its table's `_rows`, valid for its own snapshot only (those of the newest
/// snapshot stay open, so the next sync keeps what has not changed and a failed source's
/// rows carry on); then the view, and the index that finds a source's open rows (unique by
/// the table's key, which the old primary key held per snapshot). On PostgreSQL triggers let
/// a row be closed only by the sync writing the newest snapshot, never reopened, moved or
/// edited, and let the syncer write rows only into that snapshot: what a past snapshot held
/// stays as it was. A team database's roles get the new tables and views at once.
fn temporal_migration(engine: Engine) -> String {
    let mut sql = String::new();
    let valid_to = format!(
        "CASE WHEN snapshot_id = (SELECT max(id) FROM snapshots) THEN {OPEN} ELSE snapshot_id + 1 END"
    );
    if engine == Engine::Postgres {
        sql.push_str(&format!(
            "CREATE FUNCTION recert_close_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.valid_to <> {OPEN}
       OR to_jsonb(NEW) - 'valid_to' <> to_jsonb(OLD) - 'valid_to'
       OR NEW.valid_to IS DISTINCT FROM (SELECT max(id) FROM snapshots)
       OR (SELECT xmin FROM snapshots WHERE id = NEW.valid_to) <> pg_current_xact_id()::xid THEN
        RAISE EXCEPTION 'a snapshot row is closed once, by the sync writing the newest snapshot, and never changed'
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END $$;
CREATE FUNCTION recert_new_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF recert_member_of('recert_syncer') AND NOT recert_is_owner() AND (
       NEW.valid_to <> {OPEN}
       OR NEW.valid_from IS DISTINCT FROM (SELECT max(id) FROM snapshots)
       OR (SELECT xmin FROM snapshots WHERE id = NEW.valid_from) <> pg_current_xact_id()::xid) THEN
        RAISE EXCEPTION 'a snapshot row is written only into the snapshot this sync is writing'
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END $$;
DO $$ BEGIN EXECUTE format('ALTER FUNCTION recert_new_row() SET search_path = pg_catalog, %I, pg_temp', current_schema()); END $$;
DO $$ BEGIN EXECUTE format('ALTER FUNCTION recert_close_row() SET search_path = pg_catalog, %I, pg_temp', current_schema()); END $$;
"
        ));
    }
    for t in DATA_TABLES {
        let (name, cols) = (t.name, t.columns());
        let rows = t.rows();
        match engine {
            Engine::Sqlite => sql.push_str(&format!(
                "INSERT INTO {rows} ({cols}, valid_from, valid_to) SELECT {cols}, snapshot_id, {valid_to} FROM {name} ORDER BY snapshot_id, rowid;
DROP TABLE {name};
"
            )),
            Engine::Postgres => {
                sql.push_str(&format!(
                    "ALTER TABLE {name} RENAME TO {rows};
ALTER TABLE {rows} ADD COLUMN valid_from BIGINT, ADD COLUMN valid_to BIGINT;
UPDATE {rows} SET valid_from = snapshot_id, valid_to = {valid_to};
ALTER TABLE {rows} ALTER COLUMN valid_from SET NOT NULL, ALTER COLUMN valid_to SET NOT NULL, DROP COLUMN snapshot_id;
"
                ));
                sql.push_str(&if t.key.is_empty() {
                    format!("ALTER TABLE {rows} ADD PRIMARY KEY (ord);
")
                } else {
                    format!(
                        "ALTER TABLE {rows} ADD COLUMN ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
"
                    )
                });
                sql.push_str(&format!(
                    "CREATE TRIGGER recert_close BEFORE UPDATE ON {rows} FOR EACH ROW EXECUTE FUNCTION recert_close_row();
CREATE TRIGGER recert_new BEFORE INSERT ON {rows} FOR EACH ROW EXECUTE FUNCTION recert_new_row();
"
                ));
            }
        }
        let picked: Vec<String> = cols.split(", ").map(|c| format!("r.{c}")).collect();
        sql.push_str(&format!(
            "CREATE VIEW {name} AS SELECT s.id AS snapshot_id, {}{} FROM snapshots s JOIN {rows} r ON r.valid_from <= s.id AND s.id < r.valid_to;
",
            picked.join(", "),
            if t.key.is_empty() { ", r.ord" } else { "" }
        ));
        sql.push_str(&if t.key.is_empty() {
            format!(
                "CREATE INDEX {rows}_open ON {rows} (valid_to, source);
"
            )
        } else {
            format!(
                "CREATE UNIQUE INDEX {rows}_open ON {rows} (valid_to, {});
",
                t.key.join(", ")
            )
        });
    }
    if engine == Engine::Postgres {
        // A team database (its roles exist) keeps working before `recert team init` runs
        // again: the views are read by everyone, the syncer writes and closes rows.
        let views: Vec<&str> = DATA_TABLES.iter().map(|t| t.name).collect();
        let rows: Vec<String> = DATA_TABLES.iter().map(DataTable::rows).collect();
        sql.push_str(&format!(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'recert_syncer') THEN
    GRANT SELECT ON {}, {} TO recert_reviewer, recert_syncer, recert_applier;
{}",
            views.join(", "),
            rows.join(", "),
            team::syncer_row_grants()
        ));
        sql.push_str(
            "END IF; END $$;
",
        );
    }
    sql
}

/// The PostgreSQL schema's migrations, applied in order; `recert_schema.version` records how
/// many ran. The first is SQLite's schema as its fourteen migrations left it, column for
/// column in the same order (a test holds the two to that); each later SQLite migration gets
/// its twin here. Integers are `bigint` (SQLite's integers are 64-bit), flags 0 or 1.
const PG_MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE snapshots (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    taken_at BIGINT NOT NULL
);
CREATE TABLE source_runs (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, kind TEXT NOT NULL, ok BIGINT NOT NULL, error TEXT,
    carried_from BIGINT, items BIGINT NOT NULL, requests BIGINT NOT NULL,
    started_at BIGINT NOT NULL, finished_at BIGINT NOT NULL,
    PRIMARY KEY (snapshot_id, source)
);
CREATE TABLE people (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, id TEXT NOT NULL, user_name TEXT NOT NULL, emails TEXT NOT NULL,
    display_name TEXT, active BIGINT NOT NULL, absent BIGINT NOT NULL, external_id TEXT,
    department TEXT, manager_id TEXT, groups TEXT NOT NULL, title TEXT,
    groups_known BIGINT NOT NULL DEFAULT 1, employee_type TEXT,
    PRIMARY KEY (snapshot_id, source, id)
);
CREATE TABLE accounts (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, id TEXT NOT NULL, email TEXT, name TEXT,
    role TEXT, added_at BIGINT, last_active_at BIGINT, scim_managed BIGINT, activity_from BIGINT,
    PRIMARY KEY (snapshot_id, source, id)
);
CREATE TABLE resources (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    name TEXT, archived BIGINT NOT NULL, created_at BIGINT, parent TEXT,
    PRIMARY KEY (snapshot_id, source, kind, id)
);
CREATE TABLE grants (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, principal_kind TEXT NOT NULL,
    principal_id TEXT NOT NULL, resource_id TEXT NOT NULL, role TEXT, via TEXT NOT NULL,
    ord BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX grants_snapshot ON grants(snapshot_id, source);
CREATE TABLE service_accounts (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, id TEXT NOT NULL, resource_id TEXT,
    name TEXT, role TEXT, created_at BIGINT,
    PRIMARY KEY (snapshot_id, source, id)
);
CREATE TABLE credentials (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    name TEXT, redacted TEXT, resource_id TEXT, owner_kind TEXT, owner_id TEXT, owner_email TEXT,
    owner_name TEXT, owner_access TEXT, created_at BIGINT, last_used_at BIGINT, expires_at BIGINT,
    status TEXT, spend_cents BIGINT,
    PRIMARY KEY (snapshot_id, source, kind, id)
);
CREATE TABLE invites (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT NOT NULL, provider TEXT NOT NULL, id TEXT NOT NULL, email TEXT, role TEXT,
    status TEXT, created_at BIGINT, expires_at BIGINT,
    PRIMARY KEY (snapshot_id, source, id)
);
CREATE TABLE decisions (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    batch BIGINT NOT NULL, made_at BIGINT NOT NULL, reviewer TEXT NOT NULL, snapshot_id BIGINT,
    verdict TEXT NOT NULL,
    provider TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL, target_id TEXT NOT NULL,
    label TEXT NOT NULL,
    rule TEXT, owner TEXT, until TEXT, justification TEXT,
    undone BIGINT NOT NULL DEFAULT 0,
    campaign_id BIGINT
);
CREATE INDEX decisions_batch ON decisions (batch);
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, event TEXT NOT NULL,
    detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE plans (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    created_at BIGINT NOT NULL, actor TEXT NOT NULL, snapshot_id BIGINT, state TEXT NOT NULL
);
CREATE TABLE journal (
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    seq BIGINT NOT NULL, decisions TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL,
    method TEXT, path TEXT, body TEXT, note TEXT, state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0, status BIGINT, result TEXT, updated_at BIGINT NOT NULL,
    PRIMARY KEY (plan_id, seq)
);
CREATE TABLE campaigns (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE, snapshot_id BIGINT NOT NULL, created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL, due TEXT NOT NULL, scope TEXT NOT NULL, routing TEXT NOT NULL,
    on_close TEXT NOT NULL, since_id BIGINT REFERENCES campaigns (id), closed_at BIGINT,
    closed_by TEXT, cancelled_at BIGINT, cancelled_by TEXT, cancel_reason TEXT
);
CREATE TABLE campaign_items (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    seq BIGINT NOT NULL, item TEXT NOT NULL, reviewer TEXT NOT NULL, staged TEXT,
    staged_at BIGINT, decision_id BIGINT, outcome TEXT, outcome_by TEXT,
    PRIMARY KEY (campaign_id, seq)
);
CREATE INDEX campaign_items_reviewer ON campaign_items (campaign_id, reviewer);
CREATE TABLE campaign_signoffs (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    reviewer TEXT NOT NULL, at BIGINT NOT NULL, counts TEXT NOT NULL,
    PRIMARY KEY (campaign_id, reviewer)
);
CREATE TABLE campaign_delegations (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    seq BIGINT NOT NULL, from_reviewer TEXT NOT NULL, to_reviewer TEXT NOT NULL,
    reason TEXT NOT NULL, at BIGINT NOT NULL
);
CREATE TABLE snapshot_digests (
    snapshot_id BIGINT PRIMARY KEY REFERENCES snapshots(id) ON DELETE CASCADE,
    context TEXT NOT NULL, made_at BIGINT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE apply_locks (
    plan_id BIGINT PRIMARY KEY, pid BIGINT NOT NULL, pid_start TEXT, host TEXT NOT NULL,
    since BIGINT NOT NULL
);
CREATE TABLE audit_head (
    one BIGINT PRIMARY KEY CHECK (one = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL
);
"#,
    team::MIGRATION_2,
    MIGRATION_3,
    MIGRATION_4,
    MIGRATION_5,
    "ALTER TABLE feeds ADD COLUMN full_at BIGINT;",
    "ALTER TABLE feeds ADD COLUMN origin TEXT;",
    // 8: SQLite's 19, all of it in [`temporal_migration`].
    "",
    // 9 (SQLite's 20): a snapshot's grants in listing order without walking every stored
    // version.
    r#"
CREATE INDEX grants_rows_live ON grants_rows (valid_to, ord);
"#,
    // 10 (PostgreSQL only): a team member's times are the database's.
    team::MIGRATION_10,
];

/// PostgreSQL 5: SQLite's 16 (provenance and the feeds it was read from).
const MIGRATION_5: &str = r#"
CREATE TABLE provenance (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT COLLATE "C" NOT NULL, subject_kind TEXT COLLATE "C" NOT NULL,
    subject_id TEXT COLLATE "C" NOT NULL, fact TEXT COLLATE "C" NOT NULL, actor_kind TEXT,
    actor_id TEXT, actor_email TEXT, via TEXT, at BIGINT NOT NULL, feed TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, source, subject_kind, subject_id, fact)
);
CREATE TABLE feeds (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT COLLATE "C" NOT NULL, feed TEXT COLLATE "C" NOT NULL, known BIGINT NOT NULL,
    read_from BIGINT, read_to BIGINT, note TEXT,
    PRIMARY KEY (snapshot_id, source, feed)
);
"#;

/// PostgreSQL 4: SQLite's 15 (what an identity provider says), text keys by code point.
const MIGRATION_4: &str = r#"
ALTER TABLE people ADD COLUMN sign_in_known BIGINT NOT NULL DEFAULT 0;
ALTER TABLE people ADD COLUMN last_sign_in BIGINT;
ALTER TABLE people ADD COLUMN leave_at BIGINT;
ALTER TABLE people ADD COLUMN created_at BIGINT;
CREATE TABLE idp_apps (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT COLLATE "C" NOT NULL, app_source TEXT COLLATE "C" NOT NULL, id TEXT NOT NULL,
    name TEXT, assignments_known BIGINT NOT NULL, open BIGINT NOT NULL,
    pushes_known BIGINT NOT NULL,
    PRIMARY KEY (snapshot_id, source, app_source)
);
CREATE TABLE app_access (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    source TEXT COLLATE "C" NOT NULL, person_id TEXT COLLATE "C" NOT NULL,
    app_source TEXT COLLATE "C" NOT NULL, assigned BIGINT NOT NULL, via TEXT, push_kind TEXT,
    push_result TEXT, push_at BIGINT, push_detail TEXT,
    PRIMARY KEY (snapshot_id, source, person_id, app_source)
);
"#;

/// PostgreSQL 3: the snapshot's text keys compare by code point, as SQLite's do, whatever the
/// database's locale (in an ICU or glibc natural-language locale `a` sorted before `B`, so a
/// snapshot listed, judged and digested its objects in another order than on SQLite); and
/// grants read back in the order written without sorting a million rows (an index on
/// `ord`). The snapshot tables carry no row-level policy, so their columns can change type.
const MIGRATION_3: &str = r#"
ALTER TABLE source_runs ALTER COLUMN source TYPE text COLLATE "C";
ALTER TABLE people ALTER COLUMN source TYPE text COLLATE "C", ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE accounts ALTER COLUMN source TYPE text COLLATE "C", ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE resources ALTER COLUMN source TYPE text COLLATE "C", ALTER COLUMN kind TYPE text COLLATE "C", ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE service_accounts ALTER COLUMN source TYPE text COLLATE "C", ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE credentials ALTER COLUMN source TYPE text COLLATE "C", ALTER COLUMN kind TYPE text COLLATE "C", ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE invites ALTER COLUMN source TYPE text COLLATE "C", ALTER COLUMN id TYPE text COLLATE "C";
CREATE INDEX grants_order ON grants (snapshot_id, ord);
"#;

/// What a failed PostgreSQL call means, and what to do (by SQLSTATE).
fn pg_message(at: &str, e: &DbError) -> String {
    let code = e.sqlstate().unwrap_or_default();
    match code {
        "42501" => format!(
            "database {at} refused: your database role may not do this ({e}). Ask the DBA who ran `recert team init`, or check you logged in as the right role"
        ),
        "28P01" | "28000" => format!(
            "database {at} refused the login ({e}): set PGPASSWORD, put the password in ~/.pgpass (mode 0600), or store it in the OS keyring"
        ),
        "3D000" => format!("database {at} does not exist: create it (createdb) or fix the address"),
        "55P03" => format!(
            "database {at} is busy: another session held a lock this change needed for 10 s, and nothing was written. Try again; if it persists, ask the DBA which session holds it (pg_locks)"
        ),
        "40001" | "40P01" => format!(
            "database {at} was busy with another reviewer's change and nothing was written: try again"
        ),
        "53100" => format!("the disk under database {at} is full: nothing was written"),
        "57P01" | "57P02" => format!(
            "database {at} ended this session (the server is restarting, or a DBA ended it): run the command again; an open console opens a new session at your next step and shows what was saved"
        ),
        "57P03" => format!(
            "database {at} cannot take sessions yet (it is starting or shutting down): try again in a moment"
        ),
        "" if matches!(e, DbError::Pg(p) if p.is_closed() || std::error::Error::source(p).is_some_and(|s| s.is::<std::io::Error>())) =>
        {
            format!(
                "cannot reach database {at} ({e}): check that the server is running and the address is right"
            )
        }
        _ => format!("database {at} failed: {e}"),
    }
}

/// Tables that hold one source's data within a snapshot.
/// A snapshot's data table: its name (a view, over `<name>_rows`), its columns as the view
/// has them (`snapshot_id` first), and the columns that name one row in a snapshot (none for
/// grants: a list, kept in the order written).
struct DataTable {
    name: &'static str,
    cols: &'static str,
    key: &'static [&'static str],
}

impl DataTable {
    /// The table its rows are held in.
    fn rows(&self) -> String {
        format!("{}{SNAPSHOT_ROWS}", self.name)
    }

    /// The columns a row holds (without `snapshot_id`).
    fn columns(&self) -> &'static str {
        self.cols
            .strip_prefix("snapshot_id, ")
            .expect("every data table's columns start with snapshot_id")
    }
}

const DATA_TABLES: &[DataTable] = &[
    DataTable {
        name: "people",
        cols: PEOPLE,
        key: &["source", "id"],
    },
    DataTable {
        name: "accounts",
        cols: ACCOUNTS,
        key: &["source", "id"],
    },
    DataTable {
        name: "resources",
        cols: RESOURCES,
        key: &["source", "kind", "id"],
    },
    DataTable {
        name: "grants",
        cols: GRANTS,
        key: &[],
    },
    DataTable {
        name: "service_accounts",
        cols: SERVICE_ACCOUNTS,
        key: &["source", "id"],
    },
    DataTable {
        name: "credentials",
        cols: CREDENTIALS,
        key: &["source", "kind", "id"],
    },
    DataTable {
        name: "invites",
        cols: INVITES,
        key: &["source", "id"],
    },
    DataTable {
        name: "idp_apps",
        cols: IDP_APPS,
        key: &["source", "app_source"],
    },
    DataTable {
        name: "app_access",
        cols: APP_ACCESS,
        key: &["source", "person_id", "app_source"],
    },
    DataTable {
        name: "provenance",
        cols: PROVENANCE,
        key: &["source", "subject_kind", "subject_id", "fact"],
    },
    DataTable {
        name: "feeds",
        cols: FEEDS,
        key: &["source", "feed"],
    },
];

/// What one source produced in a sync: its data, or the error that stopped it.
pub struct SourceResult {
    pub source: String,
    pub kind: String,
    pub outcome: Result<SourceData, String>,
    pub requests: u64,
    pub started_at: Ts,
    pub finished_at: Ts,
}

pub struct Store {
    conn: Conn,
    path: PathBuf,
    /// A PostgreSQL store's address, for a second session that reads a snapshot's grants
    /// while this one reads the rest.
    target: Option<Box<Target>>,
}

/// Where a store lives: `recert.db` in a directory (SQLite, the default), or a PostgreSQL
/// database (team mode: `--database`, `RECERT_DATABASE_URL` or `[store] url`).
#[derive(Clone, Debug)]
pub enum Location {
    Dir(PathBuf),
    Postgres(Target),
}

impl Location {
    /// The store's directory, for a SQLite store.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Location::Dir(d) => Some(d),
            Location::Postgres(_) => None,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Dir(d) => write!(f, "{}", d.join("recert.db").display()),
            Location::Postgres(t) => f.write_str(t.shown()),
        }
    }
}

impl From<&Path> for Location {
    fn from(d: &Path) -> Location {
        Location::Dir(d.to_path_buf())
    }
}
impl From<&PathBuf> for Location {
    fn from(d: &PathBuf) -> Location {
        Location::Dir(d.clone())
    }
}
impl From<PathBuf> for Location {
    fn from(d: PathBuf) -> Location {
        Location::Dir(d)
    }
}
impl From<&Location> for Location {
    fn from(l: &Location) -> Location {
        l.clone()
    }
}

/// Create `dir` (0700) if needed.
pub fn private_dir(dir: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    tighten(dir).map_err(io)
}

/// Take group and other permissions away from `path`, and nothing else: an owner who made
/// the store read-only keeps it read-only (recert never adds a permission back).
fn tighten(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Create `path` if missing with mode 0600, and tighten it if it exists.
pub fn private_file(path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !path.exists() {
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(path).map_err(io)?;
    }
    tighten(path).map_err(io)
}

/// Make a new store at `path`: built under a temporary name and linked into place only when
/// its schema is complete, so a killed first run never leaves a 0-byte `recert.db`, and two
/// first runs at once end with one store.
fn create(path: &Path) -> Result<(), StoreError> {
    // Unique across processes and hosts sharing the directory.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        "recert.db.new-{}-{}-{nonce}",
        remediate::host_name(),
        std::process::id()
    ));
    let sql = |source| StoreError::Sql {
        path: tmp.clone(),
        source,
    };
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let _ = std::fs::remove_file(&tmp);
    private_file(&tmp)?;
    {
        let conn = Connection::open(&tmp).map_err(|e| sql(e.into()))?;
        let mut store = Store {
            conn: Conn::Lite(conn),
            path: tmp.clone(),
            target: None,
        };
        store.init()?;
        // Leave WAL mode's side files behind: one file to link into place.
        store
            .conn
            .batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
            .map_err(sql)?;
    }
    let placed = place(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match placed {
        Ok(()) => Ok(()),
        // Another first run won: use its store.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    }
}

/// Put the complete new store `tmp` at `path`, never over a file already there: a hard link
/// where the filesystem has them, else a copy into a file created exclusively (exFAT, some
/// network shares and container volumes have no hard links).
fn place(tmp: &Path, path: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(tmp, path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut out = opts.open(path)?;
            let copied = std::io::copy(&mut std::fs::File::open(tmp)?, &mut out)
                .and_then(|_| out.sync_all());
            if let Err(e) = copied {
                // Never leave a partial store behind: a 0-byte or short file would be refused.
                drop(out);
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
            Ok(())
        }
        other => other,
    }
}

/// `file:PATH?immutable=1`, every byte of the path that a URI cannot hold as it is
/// percent-encoded (non-UTF-8 bytes included); an absolute path gets an empty authority
/// (`file:///…`), so a path starting with `//` is never read as a host.
fn immutable_uri(path: &Path) -> String {
    #[cfg(unix)]
    let bytes: Vec<u8> = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes: Vec<u8> = path.to_string_lossy().replace('\\', "/").into_bytes();
    let mut uri = String::from(if bytes.first() == Some(&b'/') {
        "file://"
    } else {
        "file:"
    });
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// May this process write `path`? (`access(2)`, so root and ACLs answer as the kernel would.)
fn writable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
    }
    #[cfg(not(unix))]
    {
        // Windows sets the read-only attribute on many folders and ignores it there: only a
        // file's counts.
        std::fs::metadata(path).is_ok_and(|m| m.is_dir() || !m.permissions().readonly())
    }
}

/// What a failed database call means for the person at the keyboard, and what to do.
fn sql_message(path: &Path, e: &DbError) -> String {
    use rusqlite::ErrorCode as C;
    let p = path.display();
    let e = match e {
        DbError::Lite(e) => e,
        DbError::Pg(_) => return pg_message(&p.to_string(), e),
        DbError::Busy(who) => return format!("database {p} is busy: {who}"),
        DbError::NoRows => return format!("database {p} failed"),
        DbError::Type(..) => return format!("database {p} failed: {e}"),
        DbError::Session(_) => {
            return format!(
                "cannot connect to database {p}: {e}. Check the address, that the server is up, and its TLS setup"
            );
        }
    };
    match e.sqlite_error_code() {
        Some(C::DatabaseCorrupt | C::NotADatabase) => format!(
            "database {p} is damaged: SQLite met a damaged page and recert stopped there (a write that had not reached it may have gone in; nothing since). Stop using it: restore it from your backup (stop recert, copy the backup over {p}), or move it aside and run `recert sync` to start a new store (keep the damaged file: its audit log may still be recovered with `sqlite3 {p} .recover`)"
        ),
        Some(C::ReadOnly) => format!(
            "database {p} is read-only: commands that only read work on it, and this one writes. Make it and its directory writable again (chmod u+w) to go on"
        ),
        Some(C::CannotOpen) => format!(
            "cannot open database {p}: check that it and its directory exist and that you may read them"
        ),
        Some(C::DatabaseBusy | C::DatabaseLocked) => format!(
            "database {p} is busy: another recert is writing to it; try again when it finishes"
        ),
        Some(C::DiskFull) => format!("the disk holding {p} is full: free space and try again"),
        Some(C::SystemIoFailure) => format!(
            "database {p} could not be read or written (an I/O error: the disk may be full or failing, or a file-size limit reached): free space or fix the disk and try again"
        ),
        _ => format!("database {p} failed"),
    }
}

impl Store {
    /// SQLite: a number that changes when another connection (another process, or another
    /// handle of this one) commits to the database; this handle's own commits leave it. `None` on PostgreSQL,
    /// whose changes arrive by NOTIFY ([`live::Listener`]).
    pub fn data_version(&self) -> Option<i64> {
        match &self.conn {
            Conn::Lite(c) => c.query_row("PRAGMA data_version", [], |r| r.get(0)).ok(),
            _ => None,
        }
    }

    /// Open the store at `at`. In a directory: `recert.db`, created when there is none. An
    /// existing store is never replaced: a 0-byte one is refused. A store its owner made
    /// read-only (the file or its directory) is opened read-only: reads work, writes say so.
    /// On PostgreSQL: see [`Store::connect`].
    pub fn open(at: impl Into<Location>) -> Result<Store, StoreError> {
        match at.into() {
            Location::Dir(d) => Store::open_dir(&d),
            Location::Postgres(t) => Store::connect(&t),
        }
    }

    fn open_dir(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join("recert.db");
        let sql = |source| StoreError::Sql {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            private_dir(data_dir)?;
            create(&path)?;
        }
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        if std::fs::metadata(&path).map_err(io)?.len() == 0 {
            return Err(StoreError::Empty { path });
        }
        // Best effort: a store on a filesystem that cannot change modes is still read.
        let _ = tighten(data_dir);
        let _ = tighten(&path);
        if writable(data_dir) && writable(&path) {
            let conn = Connection::open(&path).map_err(|e| sql(e.into()))?;
            let mut store = Store {
                conn: Conn::Lite(conn),
                path,
                target: None,
            };
            store.init()?;
            return Ok(store);
        }
        // Read-only and immutable: a WAL store in a directory recert may not write has no
        // `-shm` file to share, and nobody can change a file no one may write. Unless a
        // killed run left committed pages in the `-wal` file: immutable would not see them.
        use rusqlite::OpenFlags as F;
        let wal = path.with_file_name("recert.db-wal");
        let pending = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
        let conn = Connection::open_with_flags(
            if pending {
                path.to_string_lossy().into_owned()
            } else {
                immutable_uri(&path)
            },
            F::SQLITE_OPEN_READ_ONLY | F::SQLITE_OPEN_NO_MUTEX | F::SQLITE_OPEN_URI,
        )
        .map_err(|e| sql(e.into()))?;
        let store = Store {
            conn: Conn::Lite(conn),
            path,
            target: None,
        };
        store.check_read_only()?;
        Ok(store)
    }

    /// Whether this store's database session has ended (the server restarted, the network
    /// dropped it, a DBA ended it): open the store again to go on.
    pub fn connection_lost(&self) -> bool {
        self.conn.is_lost()
    }

    /// A read-only store can be read only if it is at this recert's schema already.
    fn check_read_only(&self) -> Result<(), StoreError> {
        let err = self.sql();
        let version: i64 = self
            .conn
            .value("PRAGMA user_version", args![])
            .map_err(err)?;
        let known = MIGRATIONS.len() as i64;
        match version.cmp(&known) {
            std::cmp::Ordering::Greater => Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known,
            }),
            std::cmp::Ordering::Less => Err(StoreError::ReadOnlyOld {
                path: self.path.clone(),
                found: version,
                known,
            }),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// For `recert doctor`: the engine's own consistency check (`ok`, or what is wrong) and
    /// the schema version against this recert's.
    pub fn health(&self) -> Result<(String, i64, i64), StoreError> {
        let err = self.sql();
        if self.conn.engine() == Engine::Postgres {
            let version: i64 = self
                .conn
                .value("SELECT version FROM recert_schema WHERE one = 1", args![])
                .map_err(&err)?;
            return Ok(("ok".into(), version, PG_MIGRATIONS.len() as i64));
        }
        let check: String = self
            .conn
            .value("PRAGMA quick_check", args![])
            .map_err(&err)?;
        let version: i64 = self
            .conn
            .value("PRAGMA user_version", args![])
            .map_err(&err)?;
        Ok((check, version, MIGRATIONS.len() as i64))
    }

    /// Which engine holds this store.
    pub fn engine(&self) -> Engine {
        self.conn.engine()
    }

    /// How long a write waits for another session's write on PostgreSQL before it gives up,
    /// writes nothing and says whose session holds the writers' lock (two minutes unless
    /// set). SQLite's writers wait by its own busy timeout.
    pub fn set_writer_wait(&self, wait: std::time::Duration) {
        if let db::Conn::Pg(c) = &self.conn {
            c.set_writer_wait(wait);
        }
    }

    /// recert's tables and their columns, in order, as this engine holds them (without the
    /// engine's own bookkeeping: SQLite's `sqlite_*`, PostgreSQL's `recert_schema`, and the
    /// order `ord` of a snapshot table's rows), not the views over them.
    pub fn tables(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let err = self.sql();
        let names: Vec<String> = match self.conn.engine() {
            Engine::Sqlite => self.conn.column(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                args![],
            ),
            Engine::Postgres => self.conn.column(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'recert\\_%' ORDER BY table_name",
                args![],
            ),
        }
        .map_err(&err)?;
        names
            .into_iter()
            .map(|t| {
                let mut cols = self.conn.columns(&t).map_err(&err)?;
                // A row's place among a table's rows is the engine's to number.
                cols.retain(|c| !(t.ends_with(SNAPSHOT_ROWS) && c == "ord"));
                Ok((t, cols))
            })
            .collect()
    }

    fn sql(&self) -> impl Fn(DbError) -> StoreError + '_ {
        move |source| StoreError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Connect to a PostgreSQL store, creating recert's tables in an empty database (and
    /// refusing one that holds another program's tables).
    pub fn connect(target: &Target) -> Result<Store, StoreError> {
        let path = PathBuf::from(target.shown());
        let conn = pg::Pg::connect(target).map_err(|source| StoreError::Sql {
            path: path.clone(),
            source,
        })?;
        let mut store = Store {
            conn: Conn::Pg(conn),
            path,
            target: Some(Box::new(target.clone())),
        };
        store.init_pg()?;
        Ok(store)
    }

    fn init_pg(&mut self) -> Result<(), StoreError> {
        let err = self.sql_err();
        // One process migrates at a time; the others wait, then find the schema current.
        self.conn
            .exec("SELECT pg_advisory_lock(?1)", args![pg::SCHEMA_LOCK])
            .map_err(&err)?;
        let result = self.migrate_pg();
        let unlocked = self
            .conn
            .exec("SELECT pg_advisory_unlock(?1)", args![pg::SCHEMA_LOCK]);
        result?;
        unlocked.map_err(&err)?;
        Ok(())
    }

    fn migrate_pg(&mut self) -> Result<(), StoreError> {
        let err = self.sql_err();
        let tables: Vec<String> = self
            .conn
            .column(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
                args![],
            )
            .map_err(&err)?;
        let foreign = |why: String| StoreError::ForeignDatabase {
            path: self.path.clone(),
            why,
        };
        if !tables.iter().any(|t| t == "recert_schema") {
            if !tables.is_empty() {
                return Err(foreign(format!(
                    "its schema already holds {} tables",
                    tables.len()
                )));
            }
            self.conn
                .batch(&format!(
                    "CREATE TABLE recert_schema (one BIGINT PRIMARY KEY CHECK (one = 1), application BIGINT NOT NULL, version BIGINT NOT NULL);
                     INSERT INTO recert_schema VALUES (1, {APPLICATION_ID}, 0);"
                ))
                .map_err(&err)?;
        }
        let (app, version): (i64, i64) = self
            .conn
            .one(
                "SELECT application, version FROM recert_schema WHERE one = 1",
                args![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&err)?;
        if app != APPLICATION_ID {
            return Err(foreign(format!("its application id is {app:#x}")));
        }
        let known = PG_MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known,
            });
        }
        for (i, m) in PG_MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.begin().map_err(&err)?;
            tx.batch(m).map_err(&err)?;
            if i + 1 == TEMPORAL.1 {
                tx.batch(&temporal_migration(Engine::Postgres))
                    .map_err(&err)?;
            }
            tx.exec(
                "UPDATE recert_schema SET version = ?1 WHERE one = 1",
                args![i as i64 + 1],
            )
            .map_err(&err)?;
            tx.commit().map_err(&err)?;
        }
        Ok(())
    }

    fn init(&mut self) -> Result<(), StoreError> {
        let err = self.sql_err();
        self.conn
            .batch("PRAGMA busy_timeout = 5000;")
            .map_err(&err)?;
        let version: i64 = self
            .conn
            .value("PRAGMA user_version", args![])
            .map_err(&err)?;
        // Whose file this is, before anything is written to it (even its journal mode).
        let app: i64 = self
            .conn
            .value("PRAGMA application_id", args![])
            .map_err(&err)?;
        let tables: i64 = self
            .conn
            .value("SELECT count(*) FROM sqlite_master", args![])
            .map_err(&err)?;
        let foreign = |why: String| StoreError::Foreign {
            path: self.path.clone(),
            why,
        };
        if app != 0 && app != APPLICATION_ID {
            return Err(foreign(format!("its application id is {app:#x}")));
        }
        if version == 0 && tables > 0 {
            return Err(foreign(format!("it already holds {tables} schema objects")));
        }
        // An older recert store carries no application id yet: it must hold recert's first
        // tables, or it is some other program's file with a schema version of its own.
        if app == 0 && version > 0 {
            let ours: i64 = self
                .conn
                .value(
                    "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name IN ('snapshots', 'source_runs', 'people')",
                    args![],
                )
                .map_err(&err)?;
            if ours < 3 {
                return Err(foreign(format!(
                    "its schema version is {version} but it lacks recert's tables"
                )));
            }
        }
        self.conn
            .batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
            .map_err(&err)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known,
            });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.begin().map_err(&err)?;
            tx.batch(m).map_err(&err)?;
            if i + 1 == TEMPORAL.0 {
                tx.batch(&temporal_migration(Engine::Sqlite))
                    .map_err(&err)?;
            }
            tx.batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(&err)?;
            tx.commit().map_err(&err)?;
        }
        // Stamped only once it is a recert store at this schema.
        if app == 0 {
            self.conn
                .batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))
                .map_err(&err)?;
        }
        Ok(())
    }

    /// Before a sync or an apply writes: the whole store read once (`PRAGMA quick_check`), so
    /// nothing is written into a damaged one unnoticed (SQLite notices damage only on the pages
    /// it reads, and a write may touch none of them). About 1.5 ms per MB of store on this
    /// machine, page cache warm (a 31 MB `large` store: 47 ms). PostgreSQL checks its own pages:
    /// nothing to do there.
    pub fn check_intact(&self) -> Result<(), StoreError> {
        let Conn::Lite(c) = &self.conn else {
            return Ok(());
        };
        let said: String = c
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(|e| self.sql()(DbError::Lite(e)))?;
        if said == "ok" {
            return Ok(());
        }
        // Said as SQLite says a damaged page it meets: one message for both.
        let damaged = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(said),
        );
        Err(self.sql()(DbError::Lite(damaged)))
    }

    pub fn latest_snapshot_id(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .value("SELECT max(id) FROM snapshots", args![])
            .map_err(self.sql())
    }

    /// Write one sync as a new snapshot, in one transaction. Rows that have not changed since
    /// the newest snapshot are not written again: they stay valid into this one (see
    /// [`write_source`]). A failed source keeps its rows of the previous snapshot (its last
    /// good data), a directory's people who vanished since are kept, marked absent, and a
    /// source this sync did not read (no longer configured) has no rows in it.
    pub fn write_snapshot(
        &mut self,
        taken_at: Ts,
        results: &[SourceResult],
    ) -> Result<i64, StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        // Read under the write lock: a sync that finished meanwhile is the one to carry from.
        let prev: Option<i64> = tx
            .value("SELECT max(id) FROM snapshots", args![])
            .map_err(&err)?;
        let id = tx
            .insert_id(
                "INSERT INTO snapshots (taken_at) VALUES (?1)",
                args![taken_at],
            )
            .map_err(&err)?;
        let read: Vec<&str> = results.iter().map(|r| r.source.as_str()).collect();
        close_unread(&tx, id, &read).map_err(&err)?;
        for r in results {
            let (ok, error, carried_from, items) = match &r.outcome {
                Ok(data) => {
                    write_source(&tx, id, &r.source, data).map_err(&err)?;
                    (true, None, None, data.items())
                }
                Err(e) => {
                    // Its open rows stay open: the previous snapshot's, carried on.
                    let from = match prev {
                        Some(prev) => carried_from(&tx, prev, &r.source).map_err(&err)?,
                        None => None,
                    };
                    let items = count_source(&tx, id, &r.source).map_err(&err)?;
                    (false, Some(crate::secret::redact(e, &[])), from, items)
                }
            };
            tx.exec(
                "INSERT INTO source_runs (snapshot_id, source, kind, ok, error, carried_from, items, requests, started_at, finished_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                args![id, r.source, r.kind, ok, error, carried_from, items as i64, r.requests as i64, r.started_at, r.finished_at],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        Ok(id)
    }

    /// How many snapshot rows the store holds, all snapshots together: a row unchanged
    /// between snapshots counts once.
    pub fn stored_rows(&self) -> Result<u64, StoreError> {
        let mut n = 0u64;
        for t in DATA_TABLES {
            let c: i64 = self
                .conn
                .value(&format!("SELECT count(*) FROM {}", t.rows()), args![])
                .map_err(self.sql())?;
            n += c as u64;
        }
        Ok(n)
    }

    /// Only the keys and resources of the latest snapshot, with its header: what incident mode
    /// needs to find a key fast in a large organisation.
    pub fn latest_keys(&self) -> Result<Option<Snapshot>, StoreError> {
        let Some(mut snap) = self.latest_header()? else {
            return Ok(None);
        };
        let id = snap.id;
        snap.data.credentials = load_credentials(&self.conn, id).map_err(self.sql())?;
        snap.data.resources = load_resources(&self.conn, id).map_err(self.sql())?;
        Ok(Some(snap))
    }

    /// The newest snapshot, fully loaded.
    pub fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        match self.latest_snapshot_id()? {
            Some(id) => self.snapshot(id).map(Some),
            None => Ok(None),
        }
    }

    /// How each source fared in snapshot `id`, without loading its data.
    pub fn source_runs(&self, id: i64) -> Result<Vec<SourceStatus>, StoreError> {
        source_runs(&self.conn, id).map_err(self.sql())
    }

    pub fn snapshot(&self, id: i64) -> Result<Snapshot, StoreError> {
        let second = match (&self.conn, self.target.as_deref()) {
            (Conn::Pg(_), Some(t)) => Some(Second::Pg(t.clone())),
            (Conn::Lite(c), _) if !c.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) => {
                Some(Second::Lite(self.path.clone()))
            }
            _ => None,
        };
        load(&self.conn, id, second).map_err(self.sql())
    }

    /// What the latest snapshot read from `source`'s feeds, and the facts it kept, when that
    /// snapshot read the source itself (not carried from an earlier one): where an
    /// incremental sync reads on from. None otherwise.
    pub fn prior(&self, source: &str) -> Result<Option<Prior>, StoreError> {
        let Some(sid) = self.latest_snapshot_id()? else {
            return Ok(None);
        };
        let fresh: Option<i64> = self
            .conn
            .value(
                "SELECT count(*) FROM source_runs WHERE snapshot_id = ?1 AND source = ?2 AND ok = 1 AND carried_from IS NULL",
                args![sid, source],
            )
            .map_err(self.sql())?;
        if fresh.unwrap_or(0) == 0 {
            return Ok(None);
        }
        let feeds = load_feeds(&self.conn, sid, Some(source)).map_err(self.sql())?;
        let facts = load_provenance(&self.conn, sid, Some(source)).map_err(self.sql())?;
        Ok(Some((feeds, facts)))
    }
}

/// A source's feeds and facts as the latest snapshot read them (`Store::prior`).
pub type Prior = (Vec<Feed>, Vec<Provenance>);

/// The columns of each data table, in order (both engines hold them in this order).
const PEOPLE: &str = "snapshot_id, source, id, user_name, emails, display_name, active, absent, external_id, department, manager_id, groups, title, groups_known, employee_type, sign_in_known, last_sign_in, leave_at, created_at";
const ACCOUNTS: &str = "snapshot_id, source, provider, id, email, name, role, added_at, last_active_at, scim_managed, activity_from";
const RESOURCES: &str =
    "snapshot_id, source, provider, kind, id, name, archived, created_at, parent";
const GRANTS: &str =
    "snapshot_id, source, provider, principal_kind, principal_id, resource_id, role, via";
const SERVICE_ACCOUNTS: &str =
    "snapshot_id, source, provider, id, resource_id, name, role, created_at";
const CREDENTIALS: &str = "snapshot_id, source, provider, kind, id, name, redacted, resource_id, owner_kind, owner_id, owner_email, owner_name, owner_access, created_at, last_used_at, expires_at, status, spend_cents";
const INVITES: &str =
    "snapshot_id, source, provider, id, email, role, status, created_at, expires_at";
const IDP_APPS: &str =
    "snapshot_id, source, app_source, id, name, assignments_known, open, pushes_known";
const APP_ACCESS: &str = "snapshot_id, source, person_id, app_source, assigned, via, push_kind, push_result, push_at, push_detail";
const PROVENANCE: &str = "snapshot_id, source, subject_kind, subject_id, fact, actor_kind, actor_id, actor_email, via, at, feed";
const FEEDS: &str = "snapshot_id, source, feed, known, read_from, read_to, note, full_at, origin";

/// Push each row `d` holds for `table`, its columns in the table's order (without
/// `snapshot_id`).
fn each_row(
    d: &SourceData,
    table: &str,
    push: &mut dyn FnMut(Params) -> Result<(), DbError>,
) -> Result<(), DbError> {
    match table {
        "people" => {
            for p in &d.people {
                push(args![
                    p.source,
                    p.id,
                    p.user_name,
                    serde_json::to_string(&p.emails).unwrap(),
                    p.display_name,
                    p.active,
                    p.absent,
                    p.external_id,
                    p.department,
                    p.manager_id,
                    serde_json::to_string(&p.groups).unwrap(),
                    p.title,
                    p.groups_known,
                    p.employee_type,
                    p.signals.sign_in_known,
                    p.signals.last_sign_in,
                    p.signals.leave_at,
                    p.signals.created_at
                ])?;
            }
        }
        "accounts" => {
            for a in &d.accounts {
                push(args![
                    a.source,
                    a.provider,
                    a.id,
                    a.email,
                    a.name,
                    a.role,
                    a.added_at,
                    a.last_active_at,
                    a.scim_managed,
                    a.activity_from
                ])?;
            }
        }
        "resources" => {
            for r in &d.resources {
                push(args![
                    r.source,
                    r.provider,
                    r.kind,
                    r.id,
                    r.name,
                    r.archived,
                    r.created_at,
                    r.parent
                ])?;
            }
        }
        "grants" => {
            for g in &d.grants {
                push(args![
                    g.source,
                    g.provider,
                    g.principal_kind,
                    g.principal_id,
                    g.resource_id,
                    g.role,
                    g.via
                ])?;
            }
        }
        "service_accounts" => {
            for s in &d.service_accounts {
                push(args![
                    s.source,
                    s.provider,
                    s.id,
                    s.resource_id,
                    s.name,
                    s.role,
                    s.created_at
                ])?;
            }
        }
        "credentials" => {
            for c in &d.credentials {
                let o = c.owner.as_ref();
                push(args![
                    c.source,
                    c.provider,
                    c.kind,
                    c.id,
                    c.name,
                    c.redacted,
                    c.resource_id,
                    o.map(|o| &o.kind),
                    o.map(|o| &o.id),
                    o.and_then(|o| o.email.as_ref()),
                    o.and_then(|o| o.name.as_ref()),
                    c.owner_access,
                    c.created_at,
                    c.last_used_at,
                    c.expires_at,
                    c.status,
                    c.spend_cents
                ])?;
            }
        }
        "invites" => {
            for i in &d.invites {
                push(args![
                    i.source,
                    i.provider,
                    i.id,
                    i.email,
                    i.role,
                    i.status,
                    i.created_at,
                    i.expires_at
                ])?;
            }
        }
        "idp_apps" => {
            for a in &d.apps {
                push(args![
                    a.source,
                    a.app_source,
                    a.id,
                    a.name,
                    a.assignments_known,
                    a.open,
                    a.pushes_known
                ])?;
            }
        }
        "app_access" => {
            for a in &d.app_access {
                push(args![
                    a.source,
                    a.person_id,
                    a.app_source,
                    a.assigned,
                    a.via,
                    a.push_kind,
                    a.push_result,
                    a.push_at,
                    a.push_detail
                ])?;
            }
        }
        "provenance" => {
            for p in &d.provenance {
                push(args![
                    p.source,
                    p.subject_kind,
                    p.subject_id,
                    p.fact,
                    p.actor_kind,
                    p.actor_id,
                    p.actor_email,
                    p.via,
                    p.at,
                    p.feed
                ])?;
            }
        }
        "feeds" => {
            for f in &d.feeds {
                push(args![
                    f.source, f.feed, f.known, f.from, f.to, f.note, f.full_at, f.origin
                ])?;
            }
        }
        other => unreachable!("no data table {other}"),
    }
    Ok(())
}

/// A digest of one row's values, as both engines store them: rows are told apart by it, so a
/// change in any column is a new row.
fn row_digest<'a>(values: impl Iterator<Item = Param<'a>>) -> [u8; 16] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for v in values {
        match v {
            Param::Null => h.update([0]),
            Param::Int(i) => {
                h.update([1]);
                h.update(i.to_le_bytes());
            }
            Param::Text(t) => {
                let t = db::storable(t);
                h.update([2]);
                h.update((t.len() as u64).to_le_bytes());
                h.update(t.as_bytes());
            }
        }
    }
    let mut out = [0; 16];
    out.copy_from_slice(&h.finalize()[..16]);
    out
}

/// One of the open rows with this digest, taken (it stays valid into the new snapshot).
fn take_open(open: &mut HashMap<[u8; 16], Vec<i64>>, digest: &[u8; 16]) -> bool {
    open.get_mut(digest).and_then(Vec::pop).is_some()
}

/// Close the rows `ords` of `rows` at snapshot `sid`: they were valid until it.
fn close_rows(
    tx: &Conn,
    rows: &str,
    sid: i64,
    ords: impl Iterator<Item = i64>,
) -> Result<(), DbError> {
    tx.exec_many(
        &format!("UPDATE {rows} SET valid_to = ?1 WHERE ord = ?2"),
        |push| {
            for ord in ords {
                push(args![sid, ord])?;
            }
            Ok(())
        },
    )
}

/// One source's data into snapshot `sid`, table by table. A row the newest snapshot already
/// holds, identical in every column, is not written again: it stays valid into this one. A
/// row it held that this read did not return is closed at `sid`. The rest are written, valid
/// from `sid`. A table with a key keeps one row per key, a later row replacing an earlier one
/// (as a provider listing one object twice would have it); grants are a list, kept in the
/// order written. A directory's people who were there and are not in this read stay, marked
/// absent: a person deleted from the directory is a leaver, not a stranger.
fn write_source(tx: &Conn, sid: i64, source: &str, d: &SourceData) -> Result<(), DbError> {
    for t in DATA_TABLES {
        let rows = t.rows();
        let cols = t.columns();
        let names: Vec<&str> = cols.split(", ").collect();
        let mut open: HashMap<[u8; 16], Vec<i64>> = HashMap::new();
        // People's open rows, whole: those this read lacks stay, marked absent.
        let mut were: Vec<Vec<Value>> = Vec::new();
        tx.each(
            &format!("SELECT ord, {cols} FROM {rows} WHERE valid_to = ?1 AND source = ?2"),
            args![OPEN, source],
            |r| {
                let values: Vec<Value> = (1..=names.len())
                    .map(|i| r.get::<Value>(i))
                    .collect::<Result<_, _>>()?;
                let digest = row_digest(values.iter().map(Value::param));
                open.entry(digest).or_default().push(r.get(0)?);
                if t.name == "people" {
                    were.push(values);
                }
                Ok(())
            },
        )?;
        let marks: Vec<String> = (1..=names.len() + 2).map(|i| format!("?{i}")).collect();
        let insert = format!(
            "INSERT INTO {rows} ({cols}, valid_from, valid_to) VALUES ({})",
            marks.join(", ")
        );
        if t.key.is_empty() {
            // A list, streamed in the order written.
            tx.exec_many(&insert, |ins| {
                each_row(d, t.name, &mut |p| {
                    if take_open(&mut open, &row_digest(p.iter().map(|v| v.param()))) {
                        return Ok(());
                    }
                    let mut full: Vec<&dyn ToParam> = p.to_vec();
                    full.extend([&sid as &dyn ToParam, &OPEN]);
                    ins(&full)
                })
            })?;
            close_rows(tx, &rows, sid, open.into_values().flatten())?;
            continue;
        }
        let key_at: Vec<usize> = t
            .key
            .iter()
            .map(|k| {
                names
                    .iter()
                    .position(|n| n == k)
                    .expect("a key is a column")
            })
            .collect();
        let key = |v: &[Value]| -> Vec<Value> { key_at.iter().map(|&i| v[i].clone()).collect() };
        let mut fresh: Vec<Vec<Value>> = Vec::new();
        let mut at: HashMap<Vec<Value>, usize> = HashMap::new();
        each_row(d, t.name, &mut |p| {
            let v: Vec<Value> = p.iter().map(|x| Value::of(*x)).collect();
            match at.entry(key(&v)) {
                std::collections::hash_map::Entry::Occupied(e) => fresh[*e.get()] = v,
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(fresh.len());
                    fresh.push(v);
                }
            }
            Ok(())
        })?;
        let absent = names.iter().position(|n| *n == "absent");
        for mut v in were {
            if let Some(absent) = absent
                && !at.contains_key(&key(&v))
            {
                v[absent] = Value::Int(1);
                fresh.push(v);
            }
        }
        let new: Vec<Vec<Value>> = fresh
            .into_iter()
            .filter(|v| !take_open(&mut open, &row_digest(v.iter().map(Value::param))))
            .collect();
        // Closed first: a key has one open row.
        close_rows(tx, &rows, sid, open.into_values().flatten())?;
        tx.exec_many(&insert, |ins| {
            for v in &new {
                let mut full: Vec<&dyn ToParam> = v.iter().map(|x| x as &dyn ToParam).collect();
                full.extend([&sid as &dyn ToParam, &OPEN]);
                ins(&full)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Close the open rows of every source this sync did not read (one no longer configured):
/// the new snapshot has none of them.
fn close_unread(tx: &Conn, sid: i64, read: &[&str]) -> Result<(), DbError> {
    for t in DATA_TABLES {
        let rows = t.rows();
        let sources: Vec<String> = tx.column(
            &format!("SELECT DISTINCT source FROM {rows} WHERE valid_to = ?1"),
            args![OPEN],
        )?;
        for s in sources.iter().filter(|s| !read.contains(&s.as_str())) {
            tx.exec(
                &format!("UPDATE {rows} SET valid_to = ?1 WHERE valid_to = ?2 AND source = ?3"),
                args![sid, OPEN, s],
            )?;
        }
    }
    Ok(())
}

/// The snapshot a failed source's carried rows were really fetched in, by how it fared in
/// `prev`.
fn carried_from(tx: &Conn, prev: i64, source: &str) -> Result<Option<i64>, DbError> {
    let prev_run: Option<(bool, Option<i64>)> = tx.row(
        "SELECT ok, carried_from FROM source_runs WHERE snapshot_id = ?1 AND source = ?2",
        args![prev, source],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(prev_run.and_then(|(ok, carried)| if ok { Some(prev) } else { carried }))
}

fn count_source(tx: &Conn, sid: i64, source: &str) -> Result<u64, DbError> {
    let mut n = 0u64;
    for t in DATA_TABLES {
        let c: i64 = tx.value(
            &format!(
                "SELECT count(*) FROM {} WHERE snapshot_id = ?1 AND source = ?2",
                t.name
            ),
            args![sid, source],
        )?;
        n += c as u64;
    }
    Ok(n)
}

fn json_list(s: String) -> Vec<String> {
    serde_json::from_str(&s).unwrap_or_default()
}

fn source_runs(conn: &Conn, sid: i64) -> Result<Vec<SourceStatus>, DbError> {
    conn.map(
        "SELECT source, kind, ok, error, carried_from, items, requests, started_at, finished_at
         FROM source_runs WHERE snapshot_id = ?1 ORDER BY source",
        args![sid],
        |r| {
            Ok(SourceStatus {
                source: r.get(0)?,
                kind: r.get(1)?,
                ok: r.get(2)?,
                error: r.get(3)?,
                carried_from: r.get(4)?,
                items: r.get::<i64>(5)? as u64,
                requests: r.get::<i64>(6)? as u64,
                started_at: r.get(7)?,
                finished_at: r.get(8)?,
            })
        },
    )
}

/// A snapshot's provenance, of one source or all.
fn load_provenance(
    conn: &Conn,
    sid: i64,
    source: Option<&str>,
) -> Result<Vec<Provenance>, DbError> {
    conn.map(
        &format!(
            "SELECT {PROVENANCE} FROM provenance WHERE snapshot_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR source = ?2) ORDER BY source, subject_kind, subject_id, fact"
        ),
        args![sid, source],
        |r| {
            Ok(Provenance {
                source: r.get(1)?,
                subject_kind: r.get(2)?,
                subject_id: r.get(3)?,
                fact: r.get(4)?,
                actor_kind: r.get(5)?,
                actor_id: r.get(6)?,
                actor_email: r.get(7)?,
                via: r.get(8)?,
                at: r.get(9)?,
                feed: r.get(10)?,
            })
        },
    )
}

/// A snapshot's feeds, of one source or all.
fn load_feeds(conn: &Conn, sid: i64, source: Option<&str>) -> Result<Vec<Feed>, DbError> {
    conn.map(
        &format!(
            "SELECT {FEEDS} FROM feeds WHERE snapshot_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR source = ?2) ORDER BY source, feed"
        ),
        args![sid, source],
        |r| {
            Ok(Feed {
                source: r.get(1)?,
                feed: r.get(2)?,
                known: r.get(3)?,
                from: r.get(4)?,
                to: r.get(5)?,
                note: r.get(6)?,
                full_at: r.get(7)?,
                origin: r.get(8)?,
            })
        },
    )
}

fn load_credentials(conn: &Conn, sid: i64) -> Result<Vec<Credential>, DbError> {
    conn.map(
        &format!(
            "SELECT {CREDENTIALS} FROM credentials WHERE snapshot_id = ?1 ORDER BY source, kind, id"
        ),
        args![sid],
        |r| {
            let owner_id: Option<String> = r.get(9)?;
            Ok(Credential {
                source: r.get(1)?,
                provider: r.get(2)?,
                kind: r.get(3)?,
                id: r.get(4)?,
                name: r.get(5)?,
                redacted: r.get(6)?,
                resource_id: r.get(7)?,
                owner: match owner_id {
                    Some(id) => Some(Owner {
                        kind: r.get::<Option<String>>(8)?.unwrap_or_else(|| "user".into()),
                        id,
                        email: r.get(10)?,
                        name: r.get(11)?,
                    }),
                    None => None,
                },
                owner_access: r.get(12)?,
                created_at: r.get(13)?,
                last_used_at: r.get(14)?,
                expires_at: r.get(15)?,
                status: r.get(16)?,
                spend_cents: r.get(17)?,
            })
        },
    )
}

fn load_resources(conn: &Conn, sid: i64) -> Result<Vec<Resource>, DbError> {
    conn.map(
        &format!(
            "SELECT {RESOURCES} FROM resources WHERE snapshot_id = ?1 ORDER BY source, kind, id"
        ),
        args![sid],
        |r| {
            Ok(Resource {
                source: r.get(1)?,
                provider: r.get(2)?,
                kind: r.get(3)?,
                id: r.get(4)?,
                name: r.get(5)?,
                archived: r.get(6)?,
                created_at: r.get(7)?,
                parent: r.get(8)?,
            })
        },
    )
}

/// A snapshot's grants in the order written: all of them, or (PostgreSQL) those whose `ord`
/// is in `lo..=hi`. `newest` (whether `sid` was the newest snapshot when the load began)
/// only picks the faster statement: each reads any snapshot right, even one a sync made
/// older since.
fn load_grants(
    conn: &Conn,
    sid: i64,
    newest: bool,
    range: Option<(i64, i64)>,
) -> Result<Vec<Grant>, DbError> {
    let grant = |r: &db::Row| {
        Ok(Grant {
            source: r.get(1)?,
            provider: r.get(2)?,
            principal_kind: r.get(3)?,
            principal_id: r.get(4)?,
            resource_id: r.get(5)?,
            role: r.get(6)?,
            via: r.get(7)?,
        })
    };
    match range {
        None => conn.map(&grants_sql(false, newest), args![sid], grant),
        Some((lo, hi)) => conn.map(&grants_sql(true, newest), args![sid, lo, hi], grant),
    }
}

/// Snapshot `?1`'s grants in listing order (`ord`; with `range`, those with `ord` between `?2`
/// and `?3`), in one statement, so one consistent read. For the `newest` snapshot (the
/// console's start), not through the `grants` view, whose join walks every grant version ever
/// stored, a walk that grows with each sync that changes anything: its rows, all still open,
/// come in `ord` order from `grants_rows_live`, and rows closed after it (none, unless a sync
/// has committed since) are sorted and merged in. An older snapshot reads through the view:
/// many of its rows are closed, and sorting them costs more than the walk
/// (`cargo bench --bench history`, BENCHMARKS.md).
pub fn grants_sql(range: bool, newest: bool) -> String {
    let within = if range {
        " AND ord BETWEEN ?2 AND ?3"
    } else {
        ""
    };
    if !newest {
        return format!(
            "SELECT {GRANTS}, ord FROM grants WHERE snapshot_id = ?1{within} ORDER BY ord"
        );
    }
    let cols = "0 AS snapshot_id, source, provider, principal_kind, principal_id, resource_id, role, via, ord";
    let rows = format!("grants{SNAPSHOT_ROWS}");
    format!(
        "SELECT {cols} FROM {rows} WHERE valid_to = {OPEN} AND valid_from <= ?1{within} \
         UNION ALL \
         SELECT {cols} FROM {rows} WHERE valid_to > ?1 AND valid_to < {OPEN} AND valid_from <= ?1{within} \
         ORDER BY ord"
    )
}

/// A large snapshot's grants shared out in pieces (ranges of `ord`) between two sessions
/// (PostgreSQL sessions, or SQLite connections): whichever is free reads the next piece, so
/// the two finish together whatever else the first had to read. Pieces are put back together
/// in order.
struct Pieces {
    ranges: Vec<(i64, i64)>,
    /// Whether the snapshot was the newest when the load began (see [`load_grants`]).
    newest: bool,
    next: std::sync::atomic::AtomicUsize,
    read: std::sync::Mutex<Vec<Piece>>,
    filled: std::sync::Condvar,
}

enum Piece {
    /// Not read yet, or being read.
    Waiting,
    Read(Vec<Grant>),
    /// The second session failed on it: the first reads it.
    Failed,
}

impl Pieces {
    /// How many pieces a snapshot's grants are cut into.
    const COUNT: i64 = 16;
    /// Below this many grants one session reads them: a second session's login costs more.
    const FROM: i64 = 20_000;
    /// How long the first session waits for a piece the second is reading before it reads
    /// the piece itself.
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

    /// The pieces of snapshot `sid`'s grants, or `None` when it has too few to share: its
    /// `ord` span, from the statement that reads them (see [`load_grants`]).
    fn plan(conn: &Conn, sid: i64, newest: bool) -> Result<Option<Pieces>, DbError> {
        let (lo, hi): (Option<i64>, Option<i64>) = conn.one(
            &format!(
                "SELECT min(ord), max(ord) FROM ({}) g",
                grants_sql(false, newest)
            ),
            args![sid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(None);
        };
        if hi - lo + 1 < Self::FROM {
            return Ok(None);
        }
        let step = (hi - lo + Self::COUNT) / Self::COUNT;
        let ranges: Vec<(i64, i64)> = (0..Self::COUNT)
            .map(|i| (lo + i * step, (lo + (i + 1) * step - 1).min(hi)))
            .filter(|(a, b)| a <= b)
            .collect();
        Ok(Some(Pieces {
            newest,
            read: std::sync::Mutex::new(ranges.iter().map(|_| Piece::Waiting).collect()),
            ranges,
            next: Default::default(),
            filled: Default::default(),
        }))
    }

    fn put(&self, i: usize, piece: Piece) {
        self.read.lock().unwrap_or_else(|e| e.into_inner())[i] = piece;
        self.filled.notify_all();
    }

    /// Read pieces on `conn` until none is left.
    fn work(&self, conn: &Conn, sid: i64) -> Result<(), DbError> {
        loop {
            let i = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let Some(range) = self.ranges.get(i) else {
                return Ok(());
            };
            match load_grants(conn, sid, self.newest, Some(*range)) {
                Ok(grants) => self.put(i, Piece::Read(grants)),
                Err(e) => {
                    self.put(i, Piece::Failed);
                    return Err(e);
                }
            }
        }
    }

    /// Every piece, in order, once this session has taken all it could: one the second
    /// session failed on, or is still reading after `PATIENCE`, is read here (the second's
    /// copy, if it comes, is dropped).
    fn collect(&self, conn: &Conn, sid: i64) -> Result<Vec<Grant>, DbError> {
        let deadline = std::time::Instant::now() + Self::PATIENCE;
        let mut out = Vec::new();
        for (i, range) in self.ranges.iter().enumerate() {
            let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                match std::mem::replace(&mut read[i], Piece::Waiting) {
                    Piece::Read(p) => {
                        out.extend(p);
                        break;
                    }
                    Piece::Waiting if std::time::Instant::now() < deadline => {
                        let left = deadline.saturating_duration_since(std::time::Instant::now());
                        read = self
                            .filled
                            .wait_timeout(read, left)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    Piece::Waiting | Piece::Failed => {
                        drop(read);
                        out.extend(load_grants(conn, sid, self.newest, Some(*range))?);
                        break;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Where a second session that reads a snapshot's grants beside the first connects.
enum Second {
    /// The PostgreSQL store's address.
    Pg(Target),
    /// The SQLite store's file: a second read-only connection (WAL lets readers run side by
    /// side). Not for a store opened read-only: its first connection may be `immutable`, and
    /// a plain second one could need a `-shm` file its directory will not take.
    Lite(PathBuf),
}

impl Second {
    fn connect(&self) -> Result<Conn, DbError> {
        match self {
            Second::Pg(t) => pg::Pg::connect(t).map(Conn::Pg),
            Second::Lite(path) => {
                use rusqlite::OpenFlags as F;
                let c = Connection::open_with_flags(
                    path,
                    F::SQLITE_OPEN_READ_ONLY | F::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(Conn::Lite(c))
            }
        }
    }
}

/// Snapshot `sid`, whole. A large snapshot's grants are shared out between this session and
/// a second one (`second`: where it connects), which this one helps once it has read the
/// rest: the time goes to decoding rows, and this spreads it over two cores. Each piece is
/// one statement over the rows valid in snapshot `sid` (`grants_sql`), so the two sessions'
/// reads agree even while a sync writes a newer snapshot. The second session is never waited
/// for: if it cannot log in (the role's connection limit, a slow server) it takes no piece,
/// and a piece it is slow on is read here after a short wait.
fn load(conn: &Conn, sid: i64, second: Option<Second>) -> Result<Snapshot, DbError> {
    let newest = conn.value::<Option<i64>>("SELECT max(id) FROM snapshots", args![])? == Some(sid);
    let pieces = match second {
        Some(second) => Pieces::plan(conn, sid, newest)?.map(|p| {
            let p = std::sync::Arc::new(p);
            let theirs = p.clone();
            // The second connection is made on its own thread: a slow login is never waited
            // for (the first takes every piece it has not).
            let _ = std::thread::Builder::new()
                .name("recert-read".into())
                .spawn(move || {
                    let done = second.connect().and_then(|c| theirs.work(&c, sid));
                    if let Err(e) = done {
                        tracing::debug!(error = %e, "reading grants on a second session failed");
                    }
                });
            p
        }),
        None => None,
    };
    let taken_at: Ts = conn.value("SELECT taken_at FROM snapshots WHERE id = ?1", args![sid])?;
    let sources = source_runs(conn, sid)?;
    let people = conn.map(
        &format!("SELECT {PEOPLE} FROM people WHERE snapshot_id = ?1 ORDER BY source, id"),
        args![sid],
        |r| {
            Ok(Person {
                source: r.get(1)?,
                id: r.get(2)?,
                user_name: r.get(3)?,
                emails: json_list(r.get(4)?),
                display_name: r.get(5)?,
                active: r.get(6)?,
                absent: r.get(7)?,
                external_id: r.get(8)?,
                department: r.get(9)?,
                manager_id: r.get(10)?,
                groups: json_list(r.get(11)?),
                title: r.get(12)?,
                groups_known: r.get(13)?,
                employee_type: r.get(14)?,
                signals: Signals {
                    sign_in_known: r.get(15)?,
                    last_sign_in: r.get(16)?,
                    leave_at: r.get(17)?,
                    created_at: r.get(18)?,
                },
            })
        },
    )?;
    let accounts = conn.map(
        &format!("SELECT {ACCOUNTS} FROM accounts WHERE snapshot_id = ?1 ORDER BY source, id"),
        args![sid],
        |r| {
            Ok(Account {
                source: r.get(1)?,
                provider: r.get(2)?,
                id: r.get(3)?,
                email: r.get(4)?,
                name: r.get(5)?,
                role: r.get(6)?,
                added_at: r.get(7)?,
                last_active_at: r.get(8)?,
                scim_managed: r.get(9)?,
                activity_from: r.get(10)?,
            })
        },
    )?;
    let resources = load_resources(conn, sid)?;
    let grants = match &pieces {
        Some(p) => {
            p.work(conn, sid)?;
            p.collect(conn, sid)?
        }
        None => load_grants(conn, sid, newest, None)?,
    };
    let service_accounts = conn.map(
        &format!("SELECT {SERVICE_ACCOUNTS} FROM service_accounts WHERE snapshot_id = ?1 ORDER BY source, id"),
        args![sid],
        |r| {
            Ok(ServiceAccount {
                source: r.get(1)?,
                provider: r.get(2)?,
                id: r.get(3)?,
                resource_id: r.get(4)?,
                name: r.get(5)?,
                role: r.get(6)?,
                created_at: r.get(7)?,
            })
        },
    )?;
    let credentials = load_credentials(conn, sid)?;
    let invites = conn.map(
        &format!("SELECT {INVITES} FROM invites WHERE snapshot_id = ?1 ORDER BY source, id"),
        args![sid],
        |r| {
            Ok(Invite {
                source: r.get(1)?,
                provider: r.get(2)?,
                id: r.get(3)?,
                email: r.get(4)?,
                role: r.get(5)?,
                status: r.get(6)?,
                created_at: r.get(7)?,
                expires_at: r.get(8)?,
            })
        },
    )?;
    let apps = conn.map(
        &format!(
            "SELECT {IDP_APPS} FROM idp_apps WHERE snapshot_id = ?1 ORDER BY source, app_source"
        ),
        args![sid],
        |r| {
            Ok(IdpApp {
                source: r.get(1)?,
                app_source: r.get(2)?,
                id: r.get(3)?,
                name: r.get(4)?,
                assignments_known: r.get(5)?,
                open: r.get(6)?,
                pushes_known: r.get(7)?,
            })
        },
    )?;
    let app_access = conn.map(
        &format!("SELECT {APP_ACCESS} FROM app_access WHERE snapshot_id = ?1 ORDER BY source, person_id, app_source"),
        args![sid],
        |r| {
            Ok(AppAccess {
                source: r.get(1)?,
                person_id: r.get(2)?,
                app_source: r.get(3)?,
                assigned: r.get(4)?,
                via: r.get(5)?,
                push_kind: r.get(6)?,
                push_result: r.get(7)?,
                push_at: r.get(8)?,
                push_detail: r.get(9)?,
            })
        },
    )?;
    let provenance = load_provenance(conn, sid, None)?;
    let feeds = load_feeds(conn, sid, None)?;
    Ok(Snapshot {
        id: sid,
        taken_at,
        sources,
        data: SourceData {
            people,
            accounts,
            resources,
            grants,
            service_accounts,
            credentials,
            invites,
            apps,
            app_access,
            provenance,
            feeds,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_that_cannot_be_set_up_says_so_and_what_to_check() {
        let m = sql_message(
            Path::new("postgres://a@h:5432/d"),
            &DbError::Session(
                "the server accepted the connection but did not finish logging in within 30 s"
                    .into(),
            ),
        );
        assert!(
            m.starts_with("cannot connect to database postgres://a@h:5432/d"),
            "{m}"
        );
        assert!(
            m.contains("Check the address") && !m.contains("column"),
            "{m}"
        );
    }

    #[test]
    fn an_immutable_uri_holds_any_path_exactly() {
        assert_eq!(
            immutable_uri(Path::new("/tmp/a b?c#d%e/recert.db")),
            "file:///tmp/a%20b%3Fc%23d%25e/recert.db?immutable=1"
        );
        // A path starting with `//` is not a host.
        assert!(immutable_uri(Path::new("//srv/x/recert.db")).starts_with("file:////srv"));
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let odd = std::ffi::OsStr::from_bytes(b"/tmp/\xff/recert.db");
            assert_eq!(
                immutable_uri(Path::new(odd)),
                "file:///tmp/%FF/recert.db?immutable=1"
            );
        }
    }

    /// A store written before snapshots shared their rows (schema 18) upgrades in place:
    /// every snapshot reads back as it was, grants in the order written, and the newest
    /// snapshot's rows carry on into the next sync (a failed source keeps them, stored once).
    #[test]
    fn a_store_from_before_shared_rows_reads_back_the_same_and_carries_on() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = Connection::open(dir.path().join("recert.db")).unwrap();
            for (i, m) in MIGRATIONS[..TEMPORAL.0 - 1].iter().enumerate() {
                c.execute_batch(m).unwrap();
                c.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                    .unwrap();
            }
            c.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))
                .unwrap();
            c.execute_batch(
                "INSERT INTO snapshots (id, taken_at) VALUES (1, 100), (2, 200);
                 INSERT INTO source_runs VALUES (1, 'openai', 'openai', 1, NULL, NULL, 3, 1, 1, 2),
                                                (2, 'openai', 'openai', 1, NULL, NULL, 3, 1, 1, 2);
                 INSERT INTO grants (snapshot_id, source, provider, principal_kind, principal_id, resource_id, role, via) VALUES
                    (1, 'openai', 'openai', 'user', 'u-2', 'p', 'member', 'direct'),
                    (1, 'openai', 'openai', 'user', 'u-1', 'p', 'member', 'direct'),
                    (2, 'openai', 'openai', 'user', 'u-3', 'p', NULL, 'direct'),
                    (2, 'openai', 'openai', 'user', 'u-1', 'p', 'member', 'direct');
                 INSERT INTO credentials (snapshot_id, source, provider, kind, id, name) VALUES
                    (1, 'openai', 'openai', 'project_key', 'k1', 'a'),
                    (2, 'openai', 'openai', 'project_key', 'k1', 'b');",
            )
            .unwrap();
        }
        let mut s = Store::open(dir.path()).unwrap();
        let ids = |s: &Store, id: i64| -> (Vec<String>, Vec<Option<String>>) {
            let d = s.snapshot(id).unwrap().data;
            (
                d.grants
                    .into_iter()
                    .map(|g| g.principal_id.into())
                    .collect(),
                d.credentials.into_iter().map(|c| c.name).collect(),
            )
        };
        let one = (
            vec!["u-2".to_string(), "u-1".into()],
            vec![Some("a".to_string())],
        );
        let two = (
            vec!["u-3".to_string(), "u-1".into()],
            vec![Some("b".to_string())],
        );
        assert_eq!(ids(&s, 1), one);
        assert_eq!(ids(&s, 2), two);
        let stored = s.stored_rows().unwrap();
        assert_eq!(stored, 6);
        let three = s
            .write_snapshot(
                300,
                &[SourceResult {
                    source: "openai".into(),
                    kind: "openai".into(),
                    outcome: Err("HTTP 503".into()),
                    requests: 1,
                    started_at: 1,
                    finished_at: 2,
                }],
            )
            .unwrap();
        assert_eq!(ids(&s, three), two);
        assert_eq!(ids(&s, 1), one);
        assert_eq!(s.stored_rows().unwrap(), stored);
    }

    /// The newest snapshot's grants are read in the order they were listed through an index
    /// that holds the open rows in that order: never a walk over every version ever stored
    /// (which grows with every sync that changes anything). The statement reads an older
    /// snapshot right too (a sync may commit between choosing it and running it).
    #[test]
    fn the_newest_snapshots_grants_are_read_without_walking_the_whole_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let grant = |id: &str, role: &str| Grant {
            source: "openai".into(),
            provider: "openai".into(),
            principal_kind: "user".into(),
            principal_id: id.into(),
            resource_id: "p".into(),
            role: Some(role.into()),
            via: "direct".into(),
        };
        let sync = |s: &mut Store, gs: Vec<Grant>| {
            let data = SourceData {
                grants: gs,
                ..Default::default()
            };
            s.write_snapshot(
                1,
                &[SourceResult {
                    source: "openai".into(),
                    kind: "openai".into(),
                    outcome: Ok(data),
                    requests: 1,
                    started_at: 1,
                    finished_at: 2,
                }],
            )
            .unwrap()
        };
        let first = vec![grant("u3", "a"), grant("u1", "a"), grant("u2", "a")];
        let second = vec![grant("u3", "a"), grant("u1", "b"), grant("u4", "a")];
        let one = sync(&mut s, first.clone());
        let two = sync(&mut s, second.clone());
        let read = |sql: &str, sid: i64| {
            s.conn
                .map(sql, args![sid], |r| {
                    Ok((r.get::<String>(4)?, r.get::<Option<String>>(6)?))
                })
                .unwrap()
        };
        let want = |gs: &[Grant]| -> Vec<(String, Option<String>)> {
            gs.iter()
                .map(|g| {
                    (
                        g.principal_id.to_string(),
                        g.role.as_deref().map(str::to_string),
                    )
                })
                .collect()
        };
        for sid in [one, two] {
            let expect = want(if sid == one { &first } else { &second });
            assert_eq!(
                read(&grants_sql(false, true), sid),
                expect,
                "snapshot {sid}"
            );
            assert_eq!(
                read(&grants_sql(false, false), sid),
                expect,
                "snapshot {sid}"
            );
        }
        assert_eq!(
            s.snapshot(two).unwrap().data.grants,
            second,
            "the store's own read"
        );
        for range in [false, true] {
            let sql = grants_sql(range, true)
                .replace("?1", "1")
                .replace("?2", "0")
                .replace("?3", "9");
            let plan: Vec<String> = s
                .conn
                .map(&format!("EXPLAIN QUERY PLAN {sql}"), args![], |r| r.get(3))
                .unwrap();
            assert!(plan.iter().all(|l| !l.starts_with("SCAN")), "{plan:?}");
            assert!(
                plan.iter()
                    .any(|l| l.contains("USING INDEX grants_rows_live (valid_to=?")),
                "{plan:?}"
            );
        }
    }

    /// A SQLite snapshot large enough to be read in pieces on two connections comes back
    /// exactly as written, in order, both the newest and an older one whose rows a later sync
    /// closed; and a store opened read-only reads it on its one connection alike.
    #[test]
    fn a_large_snapshot_read_on_two_connections_is_the_one_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let grants = |n: usize, role: &str| -> Vec<Grant> {
            (0..n)
                .map(|i| Grant {
                    source: "openai".into(),
                    provider: "openai".into(),
                    principal_kind: "user".into(),
                    principal_id: format!("u{}", (i * 7919) % n).into(),
                    resource_id: format!("p{}", i / 100).into(),
                    role: Some(if i % 3 == 0 { role } else { "member" }.into()),
                    via: "direct".into(),
                })
                .collect()
        };
        let sync = |s: &mut Store, gs: Vec<Grant>| {
            s.write_snapshot(
                1,
                &[SourceResult {
                    source: "openai".into(),
                    kind: "openai".into(),
                    outcome: Ok(SourceData {
                        grants: gs,
                        ..Default::default()
                    }),
                    requests: 1,
                    started_at: 1,
                    finished_at: 2,
                }],
            )
            .unwrap()
        };
        let n = Pieces::FROM as usize * 3 / 2;
        let (first, second) = (grants(n, "owner"), grants(n, "admin"));
        let one = sync(&mut s, first.clone());
        let two = sync(&mut s, second.clone());
        assert!(matches!(s.conn, Conn::Lite(_)));
        // The same grants as written; in the order one connection reads them (by `ord`: a
        // row shared with an older snapshot keeps its place from there).
        let sorted = |mut g: Vec<Grant>| {
            g.sort_by(|a, b| {
                (&a.principal_id, &a.resource_id, &a.role).cmp(&(
                    &b.principal_id,
                    &b.resource_id,
                    &b.role,
                ))
            });
            g
        };
        for (sid, written, newest) in [(one, &first, false), (two, &second, true)] {
            let read = s.snapshot(sid).unwrap().data.grants;
            let alone = load_grants(&s.conn, sid, newest, None).unwrap();
            assert!(
                read == alone,
                "snapshot {sid}: two connections read as one does"
            );
            assert!(
                sorted(read) == sorted(written.clone()),
                "snapshot {sid}: the grants written"
            );
        }
        drop(s);
        // As `open` opens a store in a directory it may not write: immutable, read-only.
        let path = dir.path().join("recert.db");
        let conn = Connection::open_with_flags(
            immutable_uri(&path),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let ro = Store {
            conn: Conn::Lite(conn),
            path,
            target: None,
        };
        assert!(
            sorted(ro.snapshot(two).unwrap().data.grants) == sorted(second),
            "read-only"
        );
    }

    #[test]
    fn a_store_in_an_awkward_directory_opens_read_only_with_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a b?c#d%e");
        {
            let s = Store::open(&data).unwrap();
            assert!(s.latest_snapshot_id().unwrap().is_none());
        }
        let conn = Connection::open_with_flags(
            immutable_uri(&data.join("recert.db")),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }
}
