//! Deciding: a batch of decisions recorded (audited by the store), a batch undone or redone.
//! The console's `Space`/`x`/`o`/`d`, `u` and `U`, and the CLI's `revoke` and `owners import`
//! all record here.

use crate::model::Ts;
use crate::review::NewDecision;
use crate::store::Store;

/// Record `items` as one batch by `reviewer` against `snapshot`; the batch id, or why nothing
/// was recorded (every cause in the chain, one line).
pub fn record(
    store: &mut Store,
    items: &[NewDecision],
    reviewer: &str,
    snapshot: Option<i64>,
    now: Ts,
) -> Result<i64, String> {
    store
        .record_decisions(items, reviewer, snapshot, now)
        .map_err(|e| {
            format!(
                "the decision was NOT recorded: {}",
                anyhow::Error::from(e)
                    .chain()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(": ")
            )
        })
}

/// Undo (`undone`) or redo batch `batch`, audited as `reviewer`'s.
pub fn set_undone(
    store: &mut Store,
    batch: i64,
    undone: bool,
    reviewer: &str,
    now: Ts,
) -> Result<(), String> {
    store
        .set_batch_undone(batch, undone, reviewer, now)
        .map(|_| ())
        .map_err(|e| format!("{} failed: {e:#}", if undone { "undo" } else { "redo" }))
}
