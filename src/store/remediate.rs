//! Plans and the apply journal. A call is marked `sent` (in its own committed transaction, with
//! an audit entry) before it goes out and `done` or `failed` after, so a killed run can be
//! resumed without missing or silently repeating anything.

use super::db::{Conn, DbError, Params, args};

use super::review::append_audit;
use super::{Store, StoreError};
use crate::model::Ts;
use crate::remediate::{JournalRow, PlannedStep, RowState, Step};

/// Who holds a plan's apply lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    pub plan: i64,
    pub pid: i64,
    pub host: String,
    pub since: Ts,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = chrono::DateTime::from_timestamp(self.since, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        write!(
            f,
            "plan #{} is being applied by pid {} on {} since {since}",
            self.plan,
            self.pid,
            crate::model::text::sanitize(&self.host)
        )
    }
}

/// This machine's name, for the lock's holder.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// When process `pid` started (field 22 of `/proc/PID/stat`), so a reused pid is not taken
/// for the process that held a lock. `None` where `/proc` is not there.
fn process_start(pid: i64) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19).map(str::to_string)
}

/// Is the process that took a lock on this host still running?
fn holder_alive(pid: i64, pid_start: Option<&str>) -> bool {
    if pid <= 0 || pid > i32::MAX as i64 {
        return false;
    }
    match (process_start(pid), pid_start) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        // No /proc: ask the kernel whether the pid exists.
        (None, _) => {
            #[cfg(unix)]
            {
                // SAFETY: signal 0 sends nothing; it only checks that the pid exists.
                unsafe { libc::kill(pid as i32, 0) == 0 }
            }
            #[cfg(not(unix))]
            {
                true
            }
        }
    }
}

impl Store {
    /// Take the apply lock of `plan` for this process, in the store (so two processes, the
    /// console and the CLI, cannot send one plan's calls twice). A lock whose holder on this
    /// host has died is recovered (audited); a live one is refused with who holds it.
    pub fn lock_plan(&mut self, plan: i64, actor: &str, now: Ts) -> Result<(), StoreError> {
        let err = self.sql_err();
        let host = host_name();
        let pid = std::process::id() as i64;
        let tx = self.conn.begin().map_err(&err)?;
        let held: Option<(i64, Option<String>, String, Ts)> = tx
            .row(
                "SELECT pid, pid_start, host, since FROM apply_locks WHERE plan_id = ?1",
                args![plan],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(&err)?;
        if let Some((hpid, start, hhost, since)) = held {
            let holder = LockHolder {
                plan,
                pid: hpid,
                host: hhost.clone(),
                since,
            };
            let mine = hhost == host && hpid == pid;
            if !mine && (hhost != host || holder_alive(hpid, start.as_deref())) {
                return Err(StoreError::Locked(holder));
            }
            if !mine {
                append_audit(
                    &tx,
                    now,
                    actor,
                    "lock-recovered",
                    &serde_json::json!({"plan": plan, "pid": hpid, "host": hhost, "since": since}),
                )
                .map_err(&err)?;
            }
        }
        tx.exec(
            "INSERT INTO apply_locks (plan_id, pid, pid_start, host, since) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (plan_id) DO UPDATE SET pid = excluded.pid, pid_start = excluded.pid_start, host = excluded.host, since = excluded.since",
            args![plan, pid, process_start(pid), host, now],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Let go of `plan`'s apply lock, if this process holds it.
    pub fn unlock_plan(&mut self, plan: i64) -> Result<(), StoreError> {
        self.conn
            .exec(
                "DELETE FROM apply_locks WHERE plan_id = ?1 AND pid = ?2 AND host = ?3",
                args![plan, std::process::id() as i64, host_name()],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Who holds `plan`'s apply lock now, if anyone alive does.
    pub fn plan_lock(&self, plan: i64) -> Result<Option<LockHolder>, StoreError> {
        let held: Option<(i64, Option<String>, String, Ts)> = self
            .conn
            .row(
                "SELECT pid, pid_start, host, since FROM apply_locks WHERE plan_id = ?1",
                args![plan],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(self.sql())?;
        Ok(held.and_then(|(pid, start, host, since)| {
            let alive = host != host_name() || holder_alive(pid, start.as_deref());
            alive.then_some(LockHolder {
                plan,
                pid,
                host,
                since,
            })
        }))
    }

    /// Store a plan and its steps, all `pending` (manual steps `manual`); audited. Returns its id.
    pub fn create_plan(
        &mut self,
        steps: &[PlannedStep],
        actor: &str,
        snapshot_id: Option<i64>,
        now: Ts,
    ) -> Result<i64, StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        let id = insert_plan(&tx, steps, actor, snapshot_id, now).map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(id)
    }

    /// Store a plan while holding the database's write lock from before `make` reads the
    /// store to its commit: two processes planning at once are serialised, and the second
    /// sees the first's plan (its guard refuses, or its calls are already done). `make`
    /// returns the steps to store, or why nothing may be stored.
    pub fn create_plan_exclusive(
        &mut self,
        actor: &str,
        snapshot_id: Option<i64>,
        now: Ts,
        make: impl FnOnce(&Store) -> Result<Vec<PlannedStep>, String>,
    ) -> Result<i64, StoreError> {
        let err = self.sql_err();
        self.conn.begin_unguarded().map_err(&err)?;
        let made = match make(self) {
            Ok(steps) => insert_plan(&self.conn, &steps, actor, snapshot_id, now).map_err(&err),
            Err(why) => Err(StoreError::Refused(why)),
        };
        match made {
            Ok(id) => {
                if let Err(e) = self.conn.batch("COMMIT") {
                    let _ = self.conn.batch("ROLLBACK");
                    return Err(err(e));
                }
                Ok(id)
            }
            Err(e) => {
                let _ = self.conn.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Give up a plan's calls that are not done (pending, sent or failed), audited with the
    /// reason: the plan is finished and no longer blocks new plans. Refused while a live
    /// process applies it. Returns the rows given up.
    pub fn abandon_plan(
        &mut self,
        plan: i64,
        actor: &str,
        reason: &str,
        now: Ts,
    ) -> Result<Vec<JournalRow>, StoreError> {
        if let Some(h) = self.plan_lock(plan)?
            && (h.host != host_name() || holder_alive(h.pid, None))
            && h.pid != std::process::id() as i64
        {
            return Err(StoreError::Locked(h));
        }
        let rows: Vec<JournalRow> = self
            .journal(plan)?
            .into_iter()
            .filter(|r| r.state.is_open())
            .collect();
        self.abandon_rows(plan, rows, actor, reason, now)
    }

    /// Give up those of `rows` of `plan` still open (the caller holds the plan or has checked
    /// its lock), in one transaction with one `abandon` audit entry naming them and the
    /// reason. Returns the rows given up.
    pub fn abandon_rows(
        &mut self,
        plan: i64,
        rows: Vec<JournalRow>,
        actor: &str,
        reason: &str,
        now: Ts,
    ) -> Result<Vec<JournalRow>, StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        let mut given_up = Vec::with_capacity(rows.len());
        for r in rows {
            if tx
                .exec(
                    "UPDATE journal SET state = 'abandoned', updated_at = ?3 WHERE plan_id = ?1 AND seq = ?2 AND state IN ('pending', 'sent', 'failed')",
                    args![plan, r.seq, now],
                )
                .map_err(&err)?
                == 1
            {
                given_up.push(r);
            }
        }
        let rows = given_up;
        if rows.is_empty() {
            return Ok(rows);
        }
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let sent: Vec<i64> = rows
            .iter()
            .filter(|r| r.state == RowState::Sent)
            .map(|r| r.seq)
            .collect();
        append_audit(
            &tx,
            now,
            actor,
            "abandon",
            &serde_json::json!({"plan": plan, "seqs": seqs, "outcome_unknown": sent, "reason": reason}),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(rows)
    }

    /// The OpenAI admin keys of the latest snapshot (id, name and redacted form only): what an
    /// applier checks the keys recert runs with against, without loading the snapshot.
    pub fn latest_admin_keys(&self) -> Result<Vec<crate::model::Credential>, StoreError> {
        self.conn.map(
                "SELECT source, provider, id, name, redacted FROM credentials WHERE kind = 'admin_key' AND snapshot_id = (SELECT max(id) FROM snapshots)",
                args![],
            |r| {
            Ok(crate::model::Credential {
                source: r.get(0)?,
                provider: r.get(1)?,
                kind: "admin_key".into(),
                id: r.get(2)?,
                name: r.get(3)?,
                redacted: r.get(4)?,
                ..Default::default()
            })
        })
        .map_err(self.sql_err())
    }

    /// The newest plan's id (0 when there is none).
    pub fn max_plan_id(&self) -> Result<i64, StoreError> {
        self.conn
            .value("SELECT coalesce(max(id), 0) FROM plans", args![])
            .map_err(self.sql())
    }
}

/// Insert a plan, its journal rows and its audit entry on `tx`.
fn insert_plan(
    tx: &Conn,
    steps: &[PlannedStep],
    actor: &str,
    snapshot_id: Option<i64>,
    now: Ts,
) -> Result<i64, DbError> {
    {
        let id = tx.insert_id(
            "INSERT INTO plans (created_at, actor, snapshot_id, state) VALUES (?1, ?2, ?3, 'open')",
            args![now, actor, snapshot_id],
        )?;
        {
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
                    Step::Manual { source, what, .. } => (
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
                tx.exec("INSERT INTO journal (plan_id, seq, decisions, source, kind, method, path, body, note, state, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", args![
                    id,
                    i as i64 + 1,
                    decisions,
                    source,
                    kind,
                    method,
                    path,
                    body,
                    note.as_deref().map(super::review::scrub),
                    state.as_str(),
                    now
                ])?;
            }
        }
        let calls = steps
            .iter()
            .filter(|s| matches!(s.step, Step::Call { .. }))
            .count();
        append_audit(
            tx,
            now,
            actor,
            "plan",
            &serde_json::json!({"plan": id, "steps": steps.len(), "calls": calls, "snapshot": snapshot_id}),
        )?;
        Ok(id)
    }
}

impl Store {
    /// The newest plan that still has calls not done, if any.
    pub fn unfinished_plan(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .value(
                "SELECT max(plan_id) FROM journal WHERE state IN ('pending', 'sent', 'failed')",
                args![],
            )
            .map_err(self.sql())
    }

    /// Every plan's rows, oldest plan first.
    pub fn all_journal(&self) -> Result<Vec<JournalRow>, StoreError> {
        self.journal_rows("ORDER BY plan_id, seq", args![])
    }

    pub fn journal(&self, plan: i64) -> Result<Vec<JournalRow>, StoreError> {
        self.journal_rows("WHERE plan_id = ?1 ORDER BY seq", args![plan])
    }

    fn journal_rows(&self, tail: &str, params: Params) -> Result<Vec<JournalRow>, StoreError> {
        self.conn.map(&format!(
                "SELECT plan_id, seq, decisions, source, kind, method, path, body, note, state, attempts, status, result, updated_at
                 FROM journal {tail}"
            ), params, |r| {
            let state: String = r.get(9)?;
            Ok(JournalRow {
                plan: r.get(0)?,
                seq: r.get(1)?,
                decisions: serde_json::from_str(&r.get::<String>(2)?).unwrap_or_default(),
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
                updated_at: r.get(13)?,
            })
        })
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
        let tx = self.conn.begin().map_err(&err)?;
        // A call whose every decision was withdrawn since the run began (an undo, a cancelled
        // campaign) is not sent: the check and the mark are one transaction with the undo's.
        if !row.decisions.is_empty() {
            let marks: Vec<String> = (1..=row.decisions.len()).map(|i| format!("?{i}")).collect();
            let ids: Vec<&dyn super::db::ToParam> = row
                .decisions
                .iter()
                .map(|d| d as &dyn super::db::ToParam)
                .collect();
            let standing: i64 = tx
                .value(
                    &format!(
                        "SELECT count(*) FROM decisions WHERE undone = 0 AND id IN ({})",
                        marks.join(", ")
                    ),
                    &ids,
                )
                .map_err(&err)?;
            if standing == 0 {
                return Err(StoreError::Refused(format!(
                    "plan #{} call #{} was not sent: every decision it carries out was withdrawn after the run began; `recert apply --resume` abandons it",
                    row.plan, row.seq
                )));
            }
        }
        tx.exec(
            "UPDATE journal SET state = 'sent', attempts = attempts + 1, updated_at = ?3 WHERE plan_id = ?1 AND seq = ?2",
            args![row.plan, row.seq, now],
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

    /// A person did manual step `row` by hand: it is done, saying `how`; audited as
    /// `manual.done` with who and when. Only an open manual step.
    pub fn manual_done(
        &mut self,
        row: &JournalRow,
        how: &str,
        actor: &str,
        now: Ts,
    ) -> Result<(), StoreError> {
        let err = self.sql_err();
        let how = crate::secret::redact(how, &[]);
        let tx = self.conn.begin().map_err(&err)?;
        let changed = tx
            .exec(
                "UPDATE journal SET state = 'done', result = ?3, updated_at = ?4 WHERE plan_id = ?1 AND seq = ?2 AND kind = 'manual' AND state = 'manual'",
                args![row.plan, row.seq, how, now],
            )
            .map_err(&err)?;
        if changed != 1 {
            return Err(StoreError::Campaign(format!(
                "step {} of plan #{} is not an open manual step",
                row.seq, row.plan
            )));
        }
        append_audit(
            &tx,
            now,
            actor,
            "manual.done",
            &serde_json::json!({"plan": row.plan, "seq": row.seq, "how": how}),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Record that manual step `id` (`PLAN:SEQ`) was sent as a ticket, so it is never sent
    /// twice. Audited as `manual.ticket`.
    pub fn record_ticket(&mut self, id: &str, actor: &str, now: Ts) -> Result<(), StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        append_audit(
            &tx,
            now,
            actor,
            "manual.ticket",
            &serde_json::json!({"id": id}),
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
        let result = &crate::secret::redact(result, &[]);
        let tx = self.conn.begin().map_err(&err)?;
        tx.exec(
            "UPDATE journal SET state = ?3, status = ?4, result = ?5, updated_at = ?6 WHERE plan_id = ?1 AND seq = ?2",
            args![row.plan, row.seq, state.as_str(), status, result, now],
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

/// The executor journals and locks through the store.
impl crate::remediate::apply::Journal for Store {
    type Error = StoreError;
    fn lock_plan(&mut self, plan: i64, actor: &str, now: Ts) -> Result<(), StoreError> {
        Store::lock_plan(self, plan, actor, now)
    }
    fn unlock_plan(&mut self, plan: i64) -> Result<(), StoreError> {
        Store::unlock_plan(self, plan)
    }
    fn journal(&self, plan: i64) -> Result<Vec<JournalRow>, StoreError> {
        Store::journal(self, plan)
    }
    fn withdrawn(&self) -> Result<std::collections::HashSet<i64>, StoreError> {
        Ok(self
            .decisions()?
            .into_iter()
            .filter(|d| d.undone)
            .map(|d| d.id)
            .collect())
    }
    fn abandon_rows(
        &mut self,
        plan: i64,
        rows: Vec<JournalRow>,
        actor: &str,
        reason: &str,
        now: Ts,
    ) -> Result<Vec<JournalRow>, StoreError> {
        Store::abandon_rows(self, plan, rows, actor, reason, now)
    }
    fn journal_sent(&mut self, row: &JournalRow, actor: &str, now: Ts) -> Result<(), StoreError> {
        Store::journal_sent(self, row, actor, now)
    }
    fn journal_result(
        &mut self,
        row: &JournalRow,
        state: RowState,
        status: Option<u16>,
        result: &str,
        actor: &str,
        now: Ts,
    ) -> Result<(), StoreError> {
        Store::journal_result(self, row, state, status, result, actor, now)
    }
}
