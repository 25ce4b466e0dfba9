//! The executor: runs a stored plan's calls with bounded concurrency through each source's
//! client (which honours Retry-After and backs off on 429s without it), journaling every call
//! before it is sent and its result after. Idempotent on retry: a 404 on a DELETE, or Cursor's
//! "not a member", means the target is already gone, which is what was wanted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use reqwest::Method;

use super::{JournalRow, RowState};
use crate::connectors::http::{Http, SourceError};

/// What one run did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub done: usize,
    /// `(row, why)` for every call that failed this run.
    pub failed: Vec<(JournalRow, String)>,
    pub manual: Vec<JournalRow>,
    /// Calls an earlier run of this plan finished.
    pub already_done: usize,
    /// Steps recorded without a call (covered by another call, done by an earlier plan, or
    /// nothing to send).
    pub recorded: usize,
    /// `(row, what was found and done)` for every call an interrupted run had sent without
    /// recording its answer: read first, then recorded done or sent again.
    pub rechecked: Vec<(JournalRow, String)>,
    /// Calls not sent because every decision they carried out was withdrawn (abandoned).
    pub withdrawn: Vec<JournalRow>,
    /// Calls not sent because they delete an admin key recert itself runs with (abandoned).
    pub spared: Vec<JournalRow>,
}

pub use super::Spare;

/// Where a run is journaled and locked (the store implements it): the executor knows the wire
/// and the order of calls, not the database.
pub trait Journal {
    type Error: std::error::Error + Send + Sync + 'static;
    /// Take `plan`'s apply lock, or say who holds it.
    fn lock_plan(&mut self, plan: i64, actor: &str, now: i64) -> Result<(), Self::Error>;
    fn unlock_plan(&mut self, plan: i64) -> Result<(), Self::Error>;
    /// `plan`'s rows, in order.
    fn journal(&self, plan: i64) -> Result<Vec<JournalRow>, Self::Error>;
    /// The ids of the decisions withdrawn (undone, or their campaign cancelled).
    fn withdrawn(&self) -> Result<std::collections::HashSet<i64>, Self::Error>;
    /// Mark `rows` abandoned with `reason`, audited; the rows as abandoned.
    fn abandon_rows(
        &mut self,
        plan: i64,
        rows: Vec<JournalRow>,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<Vec<JournalRow>, Self::Error>;
    /// Record that `row` is about to be sent (before it is).
    fn journal_sent(&mut self, row: &JournalRow, actor: &str, now: i64) -> Result<(), Self::Error>;
    /// Record what became of `row`.
    #[allow(clippy::too_many_arguments)]
    fn journal_result(
        &mut self,
        row: &JournalRow,
        state: RowState,
        status: Option<u16>,
        result: &str,
        actor: &str,
        now: i64,
    ) -> Result<(), Self::Error>;
}

/// Called after each call finishes: (finished so far, to do, the row, its new state, detail).
pub type OnItem<'a> = &'a (dyn Fn(usize, usize, &JournalRow, RowState, &str) + Sync);

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Gone already counts as done for a removal.
fn already_gone(method: &str, e: &SourceError) -> bool {
    match e {
        SourceError::NotFound { .. } => method == "DELETE",
        SourceError::Rejected { message, .. } => message.to_lowercase().contains("not a member"),
        _ => false,
    }
}

/// Run every call of `plan` that is not done (pending, sent by a killed run, or failed),
/// holding the plan's apply lock in the store for the whole run: a second applier of the same
/// plan, in this process or another, is refused with who holds it. Calls go out in stages:
/// every call on part of a principal before any call that removes a principal whole.
pub async fn execute<J: Journal>(
    store: &Mutex<J>,
    plan: i64,
    clients: &HashMap<String, Arc<Http>>,
    concurrency: usize,
    actor: &str,
    spare: &Spare,
    on_item: OnItem<'_>,
) -> Result<Outcome, Stopped<J::Error>> {
    let stop = |started| move |error| Stopped { error, started };
    store
        .lock()
        .unwrap()
        .lock_plan(plan, actor, now())
        .map_err(stop(false))?;
    let out = execute_locked(store, plan, clients, concurrency, actor, spare, on_item).await;
    let released = store.lock().unwrap().unlock_plan(plan);
    let out = out.map_err(stop(true))?;
    released.map_err(stop(true))?;
    Ok(out)
}

/// Why a run stopped before its end: the store failed (`error`), before the plan's lock was
/// taken (`started` false: nothing was sent) or during the run (calls may have gone out; the
/// journal says which).
#[derive(Debug)]
pub struct Stopped<E> {
    pub error: E,
    pub started: bool,
}

impl<E: std::fmt::Display> std::fmt::Display for Stopped<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Stopped<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

async fn execute_locked<J: Journal>(
    store: &Mutex<J>,
    plan: i64,
    clients: &HashMap<String, Arc<Http>>,
    concurrency: usize,
    actor: &str,
    spare: &Spare,
    on_item: OnItem<'_>,
) -> Result<Outcome, J::Error> {
    let all = store.lock().unwrap().journal(plan)?;
    let mut out = Outcome::default();
    // Open calls not to send: those whose every decision was withdrawn since they were
    // planned (undone, or their campaign cancelled), and those that would delete the admin
    // key recert runs with. Each kind is abandoned, audited, with its reason.
    let withdrawn_ids = store.lock().unwrap().withdrawn()?;
    let (mut rows, mut withdrawn, mut own) = (Vec::new(), Vec::new(), Vec::new());
    for r in all {
        let open = r.kind == "call" && r.state.is_open();
        if open && !r.decisions.is_empty() && r.decisions.iter().all(|d| withdrawn_ids.contains(d))
        {
            withdrawn.push(r);
        } else if open
            && r.method.as_deref() == Some("DELETE")
            && spare.contains_key(&(r.source.clone(), r.path.clone().unwrap_or_default()))
        {
            own.push(r);
        } else {
            rows.push(r);
        }
    }
    for (rows, why, into) in [
        (
            withdrawn,
            "every decision it carried out was withdrawn (undone, or its campaign cancelled) after it was planned",
            &mut out.withdrawn,
        ),
        (
            own,
            "it deletes the admin key recert itself runs with: give recert a new admin key first, then revoke this one",
            &mut out.spared,
        ),
    ] {
        if !rows.is_empty() {
            *into = store
                .lock()
                .unwrap()
                .abandon_rows(plan, rows, actor, why, now())?;
        }
    }
    let mut todo = Vec::new();
    for r in rows {
        match r.state {
            RowState::Done if r.kind == "call" => out.already_done += 1,
            RowState::Done => out.recorded += 1,
            RowState::Manual => out.manual.push(r),
            RowState::Abandoned => {}
            _ if r.kind == "call" => todo.push(r),
            _ => {}
        }
    }
    let total = todo.len();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let stage_of = |r: &JournalRow| {
        super::stage(
            r.method.as_deref().unwrap_or(""),
            r.path.as_deref().unwrap_or(""),
        )
    };
    let (first, last): (Vec<JournalRow>, Vec<JournalRow>) =
        todo.into_iter().partition(|r| stage_of(r) == 0);
    let mut results: Vec<Result<Finished, J::Error>> = Vec::new();
    for batch in [first, last] {
        results.extend(
            run_stage(
                store,
                batch,
                clients,
                concurrency,
                actor,
                on_item,
                total,
                &finished,
            )
            .await,
        );
    }
    for r in results {
        let Finished {
            row,
            state,
            detail,
            rechecked,
            sent,
        } = r?;
        if let Some(note) = rechecked {
            out.rechecked.push((row.clone(), note));
        }
        match state {
            // A re-read proved an interrupted run's call took: done before, not now.
            RowState::Done if !sent => out.already_done += 1,
            RowState::Done => out.done += 1,
            _ => out.failed.push((row, detail)),
        }
    }
    out.failed.sort_by_key(|(r, _)| r.seq);
    out.rechecked.sort_by_key(|(r, _)| r.seq);
    Ok(out)
}

/// How one call ended.
struct Finished {
    row: JournalRow,
    state: RowState,
    detail: String,
    /// What a re-read found first, for a call an interrupted run had sent.
    rechecked: Option<String>,
    /// Whether it went out in this run (not when a re-read proved it had taken).
    sent: bool,
}

/// A call an interrupted run sent without recording its answer: what a read of the provider
/// says. `Ok(note)`: the call already took, record it done without sending. `Err(note)`: send
/// it again, saying why (a removal or a status change is safe to repeat).
async fn lost_answer(http: &Http, row: &JournalRow) -> Result<String, String> {
    use super::recheck::Proof;
    let effect = (
        row.source.clone(),
        row.method.clone().unwrap_or_default(),
        row.path.clone().unwrap_or_default(),
        row.body.clone(),
    );
    let lost = "an interrupted run sent it but did not record the answer";
    match super::recheck::recheck(http, &effect).await {
        Proof::Gone(why) => Ok(format!("{lost}; re-checked: {why}: not sent again")),
        Proof::Present(why) => Err(format!("{lost}; re-checked: {why}: sent again")),
        Proof::Unknown(why) => Err(format!(
            "{lost}; the re-check proves nothing ({why}): sent again"
        )),
    }
}

/// One stage's calls, `concurrency` at a time.
#[allow(clippy::too_many_arguments)]
async fn run_stage<J: Journal>(
    store: &Mutex<J>,
    todo: Vec<JournalRow>,
    clients: &HashMap<String, Arc<Http>>,
    concurrency: usize,
    actor: &str,
    on_item: OnItem<'_>,
    total: usize,
    finished: &std::sync::atomic::AtomicUsize,
) -> Vec<Result<Finished, J::Error>> {
    futures::stream::iter(todo)
        .map(|row| {
            async move {
                let mut rechecked = None;
                if row.state == RowState::Sent
                    && let Some(http) = clients.get(&row.source)
                {
                    match lost_answer(http, &row).await {
                        Ok(note) => {
                            let state = RowState::Done;
                            store.lock().unwrap().journal_result(
                                &row,
                                state,
                                None,
                                &note,
                                actor,
                                now(),
                            )?;
                            let n = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                            on_item(n, total, &row, state, &note);
                            return Ok(Finished {
                                row,
                                state,
                                detail: note.clone(),
                                rechecked: Some(note),
                                sent: false,
                            });
                        }
                        Err(note) => rechecked = Some(note),
                    }
                }
                // Journaled before it is sent: a kill after this line leaves `sent`.
                store.lock().unwrap().journal_sent(&row, actor, now())?;
                let method = row.method.clone().unwrap_or_default();
                let path = row.path.clone().unwrap_or_default();
                let (state, status, detail) = match clients.get(&row.source) {
                    None => (
                        RowState::Failed,
                        None,
                        format!(
                            "no client for source '{}': is it still in the config?",
                            row.source
                        ),
                    ),
                    Some(http) => {
                        let body = row
                            .body
                            .as_deref()
                            .and_then(|b| serde_json::from_str(b).ok())
                            .map(|v| ("application/json", v));
                        let m = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
                        match http.send(m, &path, &[], body).await {
                            Ok(reply) => (
                                RowState::Done,
                                Some(reply.status.as_u16()),
                                "ok".to_string(),
                            ),
                            Err(e) if already_gone(&method, &e) => {
                                (RowState::Done, Some(404), format!("already gone: {e}"))
                            }
                            Err(e) => (RowState::Failed, None, e.to_string()),
                        }
                    }
                };
                store
                    .lock()
                    .unwrap()
                    .journal_result(&row, state, status, &detail, actor, now())?;
                let n = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                on_item(n, total, &row, state, &detail);
                Ok(Finished {
                    row,
                    state,
                    detail,
                    rechecked,
                    sent: true,
                })
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}
