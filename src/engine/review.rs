//! The review read model: the decisions, the audit log, what the plans did, and a campaign
//! reviewer's queue, read from the store in one go. Both front ends read it here; the console
//! builds its tables from it off the UI thread.

use std::collections::{HashMap, HashSet};

use crate::audit::Entry;
use crate::model::Ts;
use crate::remediate::JournalRow;
use crate::review::Decision;
use crate::review::campaign::CampaignItem;
use crate::store::{Store, StoreError};

use super::campaign::CampaignQueue;

/// Everything a reviewer reads about what was decided and done, as the store has it now.
#[derive(Clone, Debug, Default)]
pub struct ReadModel {
    /// Every decision, oldest first (undone ones included, marked).
    pub decisions: Vec<Decision>,
    /// The whole audit log in stored order.
    pub audit: Vec<Entry>,
    /// Decisions some plan already covers (applied, or in a plan being applied).
    pub planned: HashSet<i64>,
    /// Every plan's journal rows.
    pub journal: Vec<JournalRow>,
    /// In a campaign: the reviewer's queue and where it stands.
    pub queue: Option<Queue>,
}

/// A campaign reviewer's queue: the items routed or delegated to them (or to a group they are
/// in) and where the campaign and their sign-off stand.
#[derive(Clone, Debug, Default)]
pub struct Queue {
    pub campaign: String,
    pub due: String,
    pub items: Vec<CampaignItem>,
    pub signed_off: bool,
    pub closed: bool,
    /// The campaign lets people review their own access.
    pub allow_self_review: bool,
}

impl Queue {
    pub fn done(&self) -> usize {
        self.items.iter().filter(|i| i.decided()).count()
    }

    pub fn staged(&self) -> usize {
        self.items
            .iter()
            .filter(|i| !i.decided() && i.staged.is_some())
            .count()
    }

    /// `campaign 2026-Q4 · 12/40 done · 3 staged · due in 9 days`: the burndown header.
    pub fn burndown(&self, today: chrono::NaiveDate) -> String {
        // A closed campaign is due no more.
        let (due, state) = if self.closed {
            (String::new(), "CLOSED")
        } else if self.signed_off {
            (
                crate::review::campaign::due_in(&self.due, today),
                " · signed off",
            )
        } else {
            (crate::review::campaign::due_in(&self.due, today), "")
        };
        format!(
            "campaign {} · {}/{} done · {} staged · {due}{state}",
            self.campaign,
            self.done(),
            self.items.len(),
            self.staged()
        )
    }
}

/// Read the model from `store`, with `campaign`'s queue when the reviewer is on one.
pub fn read(store: &Store, campaign: Option<&CampaignQueue>) -> Result<ReadModel, StoreError> {
    let queue = match campaign {
        Some(c) => {
            let header = store.campaigns()?.into_iter().find(|x| x.id == c.id);
            let closed = header.as_ref().is_some_and(|x| x.is_final());
            let allow_self_review = header.is_some_and(|x| x.routing.allow_self_review);
            let signed_off = store
                .sign_offs(c.id)?
                .iter()
                .any(|s| s.reviewer == c.reviewer);
            let items = store.queue_items(c.id, &c.assignees())?;
            Some(Queue {
                campaign: c.name.clone(),
                due: c.due.clone(),
                items,
                signed_off,
                closed,
                allow_self_review,
            })
        }
        None => None,
    };
    let journal = store.all_journal()?;
    Ok(ReadModel {
        decisions: store.decisions()?,
        audit: store.audit_entries()?,
        planned: super::apply::planned(&journal),
        journal,
        queue,
    })
}

/// Per decision, the journal row that says most about what became of it: `failed` before
/// `sent` before `planned` before `manual` before `abandoned` before `done`, the newest plan's
/// first among equals. The one reading of "what did its plan do" every front end shows.
pub fn outcome_rows(journal: &[JournalRow]) -> HashMap<i64, &JournalRow> {
    use crate::remediate::RowState;
    let rank = |s: RowState| match s {
        RowState::Failed => 0,
        RowState::Sent => 1,
        RowState::Pending => 2,
        RowState::Manual => 3,
        RowState::Abandoned => 4,
        RowState::Done => 5,
    };
    let mut worst: HashMap<i64, &JournalRow> = HashMap::new();
    for r in journal {
        for &d in &r.decisions {
            let e = worst.entry(d).or_insert(r);
            if (rank(r.state), -r.plan) < (rank(e.state), -e.plan) {
                *e = r;
            }
        }
    }
    worst
}

/// The decisions a plan carried out with calls of its own (every call done, the last not a
/// reversal), with when the last of those calls was done and by which plan. A step recorded
/// without a call ("already done in plan #1") carries nothing out: the object may be back.
pub fn carried_out(journal: &[JournalRow]) -> HashMap<i64, (Ts, i64)> {
    let calls: Vec<JournalRow> = journal
        .iter()
        .filter(|r| r.kind == "call")
        .cloned()
        .collect();
    let journal = &calls[..];
    let done: HashMap<i64, i64> = outcome_rows(journal)
        .into_iter()
        .filter(|(_, r)| {
            r.state == crate::remediate::RowState::Done && !crate::remediate::is_reversal(r)
        })
        .map(|(d, r)| (d, r.plan))
        .collect();
    let mut out: HashMap<i64, (Ts, i64)> = HashMap::new();
    for r in journal {
        for d in &r.decisions {
            if let Some(&plan) = done.get(d) {
                let e = out.entry(*d).or_insert((r.updated_at, plan));
                e.0 = e.0.max(r.updated_at);
            }
        }
    }
    out
}

/// Whether a revoke carried out at `done_at` has landed as far as a snapshot taken at
/// `taken_at` can tell: done after it was taken (it cannot show it yet), or the object is no
/// longer usable in it (an Anthropic key set inactive). Not landed: a snapshot taken after
/// still has it usable (granted again, or the call did not take).
pub fn landed(done_at: Ts, taken_at: Ts, usable: bool) -> bool {
    done_at >= taken_at || !usable
}

/// The standing revokes a plan carried out after a snapshot taken at `taken_at`, by target:
/// what `recert gaps` and `recert person` mark on the snapshot's rows, as the console marks
/// them `⊘`. The value is when and by which plan.
pub fn revoked_since(
    decisions: &[Decision],
    journal: &[JournalRow],
    taken_at: Ts,
) -> HashMap<crate::review::Target, (Ts, i64)> {
    let done = carried_out(journal);
    crate::review::effective(decisions)
        .into_iter()
        .filter(|d| d.d.verdict == crate::review::Verdict::Revoke)
        .filter_map(|d| {
            let &(at, plan) = done.get(&d.id)?;
            // After the snapshot: what it cannot show yet (its usability is the snapshot's).
            landed(at, taken_at, true).then(|| (d.d.target.clone(), (at, plan)))
        })
        .collect()
}
