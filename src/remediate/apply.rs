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
use crate::store::{Store, StoreError};

/// What one run did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub done: usize,
    /// `(row, why)` for every call that failed this run.
    pub failed: Vec<(JournalRow, String)>,
    pub manual: Vec<JournalRow>,
    pub already_done: usize,
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

/// Run every call of `plan` that is not done (pending, sent by a killed run, or failed).
pub async fn execute(
    store: &Mutex<Store>,
    plan: i64,
    clients: &HashMap<String, Arc<Http>>,
    concurrency: usize,
    actor: &str,
    on_item: OnItem<'_>,
) -> Result<Outcome, StoreError> {
    let rows = store.lock().unwrap().journal(plan)?;
    let mut out = Outcome::default();
    let mut todo = Vec::new();
    for r in rows {
        match r.state {
            RowState::Done => out.already_done += 1,
            RowState::Manual => out.manual.push(r),
            _ if r.kind == "call" => todo.push(r),
            _ => {}
        }
    }
    let total = todo.len();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<(JournalRow, RowState, String), StoreError>> =
        futures::stream::iter(todo)
            .map(|row| {
                let finished = &finished;
                async move {
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
                    store.lock().unwrap().journal_result(
                        &row,
                        state,
                        status,
                        &detail,
                        actor,
                        now(),
                    )?;
                    let n = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    on_item(n, total, &row, state, &detail);
                    Ok((row, state, detail))
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    for r in results {
        let (row, state, detail) = r?;
        match state {
            RowState::Done => out.done += 1,
            _ => out.failed.push((row, detail)),
        }
    }
    out.failed.sort_by_key(|(r, _)| r.seq);
    Ok(out)
}
