//! `recert store copy`: a whole store from one engine to the other (SQLite into PostgreSQL when
//! a team starts, and back), every row with its ids, in one transaction on the target. The
//! source's audit chain must verify before anything is written, the target must be empty, and
//! the target's chain must verify, with the same head, before the copy commits.

use super::db::{Conn, DbError, ToParam, Value, args};
use super::{Engine, SNAPSHOT_ROWS, Store, StoreError};

/// The tables copied, parents before children (a snapshot's data is in its tables' `_rows`:
/// the views named for them are not copied). `apply_locks` is not: a lock belongs to a
/// process on the source's machine.
pub const COPIED: &[&str] = &[
    "snapshots",
    "source_runs",
    "people_rows",
    "accounts_rows",
    "resources_rows",
    "grants_rows",
    "service_accounts_rows",
    "credentials_rows",
    "invites_rows",
    "idp_apps_rows",
    "app_access_rows",
    "provenance_rows",
    "feeds_rows",
    "snapshot_digests",
    "decisions",
    "audit",
    "audit_head",
    "plans",
    "journal",
    "campaigns",
    "campaign_items",
    "campaign_signoffs",
    "campaign_delegations",
];

/// Tables a copy leaves behind, and why.
pub const NOT_COPIED: &[(&str, &str)] = &[("apply_locks", "a lock belongs to a process")];

/// Tables whose `id` the database generates: their counters are moved past the copied ids.
const GENERATED: &[&str] = &[
    "snapshots",
    "decisions",
    "plans",
    "campaigns",
    "campaign_delegations",
];

/// What a copy moved: rows per table, and the audit head both ends agree on.
#[derive(Debug, Clone, PartialEq)]
pub struct Copied {
    pub rows: Vec<(String, u64)>,
    pub audit_entries: usize,
}

fn count(conn: &Conn, table: &str) -> Result<i64, DbError> {
    conn.value(&format!("SELECT count(*) FROM {table}"), args![])
}

impl Store {
    /// Copy this whole store into `to` (see the module's doc). Nothing is written to `to`
    /// unless every check passes.
    pub fn copy_to(&self, to: &mut Store) -> Result<Copied, StoreError> {
        let refuse = |why: String| Err(StoreError::Refused(why));
        let (src_tables, dst_tables) = (self.tables()?, to.tables()?);
        if src_tables != dst_tables {
            return refuse(format!(
                "{} and {} do not hold the same tables: both must be at this recert's schema",
                self.path.display(),
                to.path.display()
            ));
        }
        for (t, _) in &src_tables {
            if !COPIED.contains(&t.as_str()) && !NOT_COPIED.iter().any(|(n, _)| n == t) {
                return refuse(format!(
                    "this recert does not know how to copy the table {t}"
                ));
            }
        }
        let (entries, verdict) = self.verify_audit(None)?;
        if let Err(e) = verdict {
            return refuse(format!(
                "the audit log of {} does not verify ({e}): nothing was copied; a copy would carry a broken chain as if it were whole",
                self.path.display()
            ));
        }
        let dst_err = to.sql_err();
        for t in COPIED {
            let n = count(&to.conn, t).map_err(&dst_err)?;
            if n > 0 {
                return refuse(format!(
                    "{} is not empty ({n} rows in {t}): recert copies only into an empty store, never over one",
                    to.path.display()
                ));
            }
        }
        // One transaction on the target, checked before it commits.
        to.conn.begin_unguarded().map_err(&dst_err)?;
        let moved = self.copy_rows(to, &src_tables).and_then(|rows| {
            let (copied, anchors) = (to.audit_entries()?, to.audit_anchors()?);
            let verdict = crate::audit::verify_all(&copied, &anchors, None);
            if verdict.is_err() || copied.last().map(|e| &e.hash) != entries.last().map(|e| &e.hash)
            {
                return Err(StoreError::Refused(format!(
                    "the copy's audit log does not verify as the source's does ({verdict:?}): nothing was copied; keep using {} and report this",
                    self.path.display()
                )));
            }
            Ok(rows)
        });
        let rows = match moved {
            Ok(rows) => rows,
            Err(e) => {
                let _ = to.conn.batch("ROLLBACK");
                return Err(e);
            }
        };
        if let Err(e) = to.conn.batch("COMMIT") {
            let _ = to.conn.batch("ROLLBACK");
            return Err(dst_err(e));
        }
        Ok(Copied {
            rows,
            audit_entries: entries.len(),
        })
    }

    /// Every row of every copied table into `to` (inside its open transaction).
    fn copy_rows(
        &self,
        to: &Store,
        tables: &[(String, Vec<String>)],
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let (src_err, dst_err) = (self.sql_err(), to.sql_err());
        let mut rows = Vec::new();
        for t in COPIED {
            let cols = &tables
                .iter()
                .find(|(n, _)| n == t)
                .expect("every copied table is there (checked by copy_to)")
                .1;
            let list = cols.join(", ");
            let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
            let insert = format!("INSERT INTO {t} ({list}) VALUES ({})", marks.join(", "));
            // A snapshot table's rows go in the order written (a snapshot's grants are a
            // list in that order, and the copy's `ord` counts afresh); the rest by their key.
            let order = if t.ends_with(SNAPSHOT_ROWS) {
                "ord"
            } else {
                "1"
            };
            let mut n = 0u64;
            let mut failed = None;
            self.conn
                .each(
                    &format!("SELECT {list} FROM {t} ORDER BY {order}"),
                    args![],
                    |r| {
                        let values: Vec<Value> = (0..cols.len())
                            .map(|i| r.get::<Value>(i))
                            .collect::<Result<_, _>>()?;
                        let params: Vec<&dyn ToParam> =
                            values.iter().map(|v| v as &dyn ToParam).collect();
                        if let Err(e) = to.conn.exec(&insert, &params) {
                            failed = Some(e);
                            return Err(DbError::NoRows);
                        }
                        n += 1;
                        Ok(())
                    },
                )
                .map_err(|e| match failed.take() {
                    Some(d) => dst_err(d),
                    None => src_err(e),
                })?;
            rows.push((t.to_string(), n));
        }
        if to.engine() == Engine::Postgres {
            for t in GENERATED {
                to.conn
                    .batch(&format!(
                        "SELECT setval(pg_get_serial_sequence('{t}', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM {t}"
                    ))
                    .map_err(&dst_err)?;
            }
        }
        Ok(rows)
    }
}
