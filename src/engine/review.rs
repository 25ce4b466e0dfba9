//! The review read model: the decisions, the audit log, what the plans did, and a campaign
//! reviewer's queue, read from the store in one go. Both front ends read it here; the console
//! builds its tables from it off the UI thread.

use std::collections::HashSet;

use crate::audit::Entry;
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
