//! Plans and the apply journal. A call is marked `sent` (in its own committed transaction, with
//! an audit entry) before it goes out and `done` or `failed` after, so a killed run can be
//! resumed without missing or silently repeating anything.

use rusqlite::params;

use super::review::append_audit;
use super::{Store, StoreError};
use crate::model::Ts;
use crate::remediate::{JournalRow, PlannedStep, RowState, Step};

impl Store {
    /// Store a plan and its steps, all `pending` (manual steps `manual`); audited. Returns its id.
    pub fn create_plan(
        &mut self,
        steps: &[PlannedStep],
        actor: &str,
        snapshot_id: Option<i64>,
        now: Ts,
    ) -> Result<i64, StoreError> {
        let err = self.sql_err();
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute(
            "INSERT INTO plans (created_at, actor, snapshot_id, state) VALUES (?1, ?2, ?3, 'open')",
            params![now, actor, snapshot_id],
        )
        .map_err(&err)?;
        let id = tx.last_insert_rowid();
        {
            let mut ins = tx
                .prepare(
                    "INSERT INTO journal (plan_id, seq, decisions, source, kind, method, path, body, note, state, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(&err)?;
            for (i, p) in steps.iter().enumerate() {
                let decisions = serde_json::to_string(&p.decisions).unwrap_or_default();
                let (source, kind, method, path, body, note, state) = match &p.step {
                    Step::Call {
                        source,
                        method,
                        path,
                        body,
                        note,
                    } => (
                        source.as_str(),
                        "call",
                        Some(*method),
                        Some(path.as_str()),
                        body.as_ref().map(|b| b.to_string()),
                        note.clone(),
                        RowState::Pending,
                    ),
                    Step::Manual { source, what } => (
                        source.as_str(),
                        "manual",
                        None,
                        None,
                        None,
                        Some(what.clone()),
                        RowState::Manual,
                    ),
                    Step::Record { what } => (
                        "",
                        "record",
                        None,
                        None,
                        None,
                        Some(what.clone()),
                        RowState::Done,
                    ),
                };
                ins.execute(params![
                    id,
                    i as i64 + 1,
                    decisions,
                    source,
                    kind,
                    method,
                    path,
                    body,
                    note,
                    state.as_str(),
                    now
                ])
                .map_err(&err)?;
            }
        }
        let calls = steps
            .iter()
            .filter(|s| matches!(s.step, Step::Call { .. }))
            .count();
        append_audit(
            &tx,
            now,
            actor,
            "plan",
            &serde_json::json!({"plan": id, "steps": steps.len(), "calls": calls, "snapshot": snapshot_id}),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(id)
    }

    /// The newest plan that still has calls not done, if any.
    pub fn unfinished_plan(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT max(plan_id) FROM journal WHERE state IN ('pending', 'sent', 'failed')",
                [],
                |r| r.get(0),
            )
            .map_err(self.sql())
    }

    /// Every decision id some plan already covers.
    pub fn planned_decisions(&self) -> Result<std::collections::HashSet<i64>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT decisions FROM journal")
            .map_err(self.sql())?;
        let rows: Vec<String> = st
            .query_map([], |r| r.get(0))
            .and_then(|r| r.collect())
            .map_err(self.sql())?;
        Ok(rows
            .iter()
            .flat_map(|t| serde_json::from_str::<Vec<i64>>(t).unwrap_or_default())
            .collect())
    }

    /// Every plan's rows, oldest plan first.
    pub fn all_journal(&self) -> Result<Vec<JournalRow>, StoreError> {
        self.journal_rows("ORDER BY plan_id, seq", [])
    }

    pub fn journal(&self, plan: i64) -> Result<Vec<JournalRow>, StoreError> {
        self.journal_rows("WHERE plan_id = ?1 ORDER BY seq", [plan])
    }

    fn journal_rows<P: rusqlite::Params>(
        &self,
        tail: &str,
        params: P,
    ) -> Result<Vec<JournalRow>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT plan_id, seq, decisions, source, kind, method, path, body, note, state, attempts, status, result
                 FROM journal {tail}"
            ))
            .map_err(self.sql())?;
        st.query_map(params, |r| {
            let state: String = r.get(9)?;
            Ok(JournalRow {
                plan: r.get(0)?,
                seq: r.get(1)?,
                decisions: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
                source: r.get(3)?,
                kind: r.get(4)?,
                method: r.get(5)?,
                path: r.get(6)?,
                body: r.get(7)?,
                note: r.get(8)?,
                state: RowState::parse(&state),
                attempts: r.get(10)?,
                status: r.get(11)?,
                result: r.get(12)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(self.sql())
    }

    /// Mark a call as about to be sent (committed before it goes out), audited.
    pub fn journal_sent(
        &mut self,
        row: &JournalRow,
        actor: &str,
        now: Ts,
    ) -> Result<(), StoreError> {
        let err = self.sql_err();
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute(
            "UPDATE journal SET state = 'sent', attempts = attempts + 1, updated_at = ?3 WHERE plan_id = ?1 AND seq = ?2",
            params![row.plan, row.seq, now],
        )
        .map_err(&err)?;
        append_audit(
            &tx,
            now,
            actor,
            "call",
            &serde_json::json!({"plan": row.plan, "seq": row.seq, "source": row.source,
                "method": row.method, "path": row.path, "body": row.body, "attempt": row.attempts + 1}),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Record what came back for a call, audited.
    pub fn journal_result(
        &mut self,
        row: &JournalRow,
        state: RowState,
        status: Option<u16>,
        result: &str,
        actor: &str,
        now: Ts,
    ) -> Result<(), StoreError> {
        let err = self.sql_err();
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute(
            "UPDATE journal SET state = ?3, status = ?4, result = ?5, updated_at = ?6 WHERE plan_id = ?1 AND seq = ?2",
            params![row.plan, row.seq, state.as_str(), status, result, now],
        )
        .map_err(&err)?;
        append_audit(
            &tx,
            now,
            actor,
            "result",
            &serde_json::json!({"plan": row.plan, "seq": row.seq, "state": state.as_str(),
                "status": status, "result": result}),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }
}
