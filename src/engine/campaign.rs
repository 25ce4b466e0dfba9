//! Campaign rules both front ends apply: one policy, so the console cannot allow what the CLI
//! refuses.

use anyhow::{Result, bail};

use crate::model::Ts;
use crate::review::campaign::People;
use crate::review::campaign::{Campaign, CampaignItem};
use crate::store::Store;

/// A hand-over of items from one reviewer to another.
pub struct Delegation<'a> {
    pub campaign: &'a Campaign,
    /// The campaign's items (the ones named in `seqs` are checked).
    pub items: &'a [CampaignItem],
    pub people: &'a People,
    /// Who hands them on (normalised).
    pub from: &'a str,
    /// An email or `group:NAME`, as typed.
    pub to: &'a str,
    pub seqs: &'a [i64],
    pub reason: &'a str,
    /// Hand over even to someone the directory does not know as an active person or group.
    pub force: bool,
}

/// The reviewers a routing names (its email and `group:` rules and its fallback) must be
/// active directory people or directory groups, unless `force`: a typo would route items to
/// nobody. The error names every bad one, with "did you mean".
pub fn check_routing(people: &People, routing: &crate::review::campaign::Routing) -> Result<()> {
    let named = routing
        .routes
        .iter()
        .map(|r| r.reviewer.trim())
        .filter(|r| !matches!(*r, "manager" | "owner"))
        .chain(routing.fallback.as_deref().map(str::trim));
    let bad: Vec<String> = named
        .filter_map(|r| people.check_reviewer(r).err())
        .collect();
    if !bad.is_empty() {
        bail!("{}; --force routes to them anyway", bad.join("; "));
    }
    Ok(())
}

/// Delegate, after the policy: a reason is given; `to` is an email or `group:NAME`; nobody
/// delegates to themselves; and unless the campaign allows self-review, no item goes to its
/// own holder, directly or through a directory group they are in. Returns who took the items
/// (normalised) and how many moved; audited by the store.
pub fn delegate(store: &mut Store, d: Delegation, now: Ts) -> Result<(String, usize)> {
    let reason = d.reason.trim();
    if reason.is_empty() {
        bail!("say why the items are handed on");
    }
    let to = d.to.trim();
    if !to.contains('@') && !to.starts_with("group:") {
        bail!("'{to}' is not an email or group:NAME");
    }
    let to = if to.starts_with("group:") {
        to.to_string()
    } else {
        crate::model::normalize_email(to)
    };
    if to == d.from {
        bail!("{} would delegate to themselves", d.from);
    }
    if !d.campaign.routing.allow_self_review {
        for s in d.seqs {
            let holder = d
                .items
                .iter()
                .find(|i| i.item.seq == *s)
                .and_then(|i| i.item.person.as_deref());
            if let Some(p) = holder
                && d.people.acts_as(p, &to)
            {
                bail!(
                    "item {s} is {p}'s own access and {to} {} them; self-review is not allowed in this campaign",
                    if to.starts_with("group:") {
                        "includes"
                    } else {
                        "is"
                    }
                );
            }
        }
    }
    if !d.force
        && let Err(e) = d.people.check_reviewer(&to)
    {
        bail!("{e}; --force hands the items over anyway");
    }
    let n = store.delegate(d.campaign.id, d.seqs, d.from, &to, reason, now)?;
    Ok((to, n))
}

/// Whose queue in which campaign a console shows.
#[derive(Clone, Debug)]
pub struct CampaignQueue {
    pub id: i64,
    pub name: String,
    pub due: String,
    pub snapshot_id: i64,
    /// The reviewer (`--as`), normalised.
    pub reviewer: String,
    /// The directory groups the reviewer is in: items routed to `group:NAME` are theirs too.
    pub groups: Vec<String>,
    /// The campaign snapshot's people and groups, for the delegation policy.
    pub people: std::sync::Arc<People>,
}

impl CampaignQueue {
    /// The assignees whose items are this reviewer's: their email and each `group:NAME`.
    pub fn assignees(&self) -> Vec<String> {
        let mut mine = vec![self.reviewer.clone()];
        mine.extend(self.groups.iter().map(|g| format!("group:{g}")));
        mine
    }
}

/// What a reviewer does to their queue.
#[derive(Clone, Debug, PartialEq)]
pub enum Act {
    /// Stage these decisions on these items (not yet decisions).
    Stage(Vec<(i64, crate::review::NewDecision)>),
    /// Drop the staged decisions of these items.
    Unstage(Vec<i64>),
    /// Submit the staged decisions on these items as one audited batch.
    Submit(Vec<i64>),
    /// Sign off the reviewer's queue.
    SignOff,
    /// Hand these items to another reviewer, with a reason.
    Delegate {
        items: Vec<i64>,
        to: String,
        reason: String,
    },
}

/// `item 3`, `items 3, 4 and 7`, `items 3, 4, 5, 6, 7 and 12 more`.
fn items_named(seqs: &[i64]) -> String {
    let shown: Vec<String> = seqs.iter().take(5).map(|s| s.to_string()).collect();
    match seqs.len() {
        0 => "no item".into(),
        1 => format!("item {}", shown[0]),
        n if n <= 5 => format!("items {} and {}", shown[..n - 1].join(", "), shown[n - 1]),
        n => format!("items {} and {} more", shown.join(", "), n - 5),
    }
}

/// Carry out `act` on `q`'s queue in the store; what to tell the reviewer, or why nothing was
/// changed.
pub fn act(store: &mut Store, q: &CampaignQueue, act: Act, now: Ts) -> Result<String, String> {
    use crate::model::text::plural;
    let done = match act {
        Act::Stage(items) => {
            let verdict = items.first().map(|(_, d)| d.verdict.as_str()).unwrap_or("");
            let staged: Vec<(i64, Option<crate::review::NewDecision>)> =
                items.into_iter().map(|(s, d)| (s, Some(d))).collect();
            store.stage(q.id, &staged, now).map(|n| {
                format!(
                    "Staged {verdict} on {}: :submit records them",
                    plural(n, "item")
                )
            })
        }
        Act::Unstage(seqs) => {
            let none: Vec<(i64, Option<crate::review::NewDecision>)> =
                seqs.into_iter().map(|s| (s, None)).collect();
            let which = items_named(&none.iter().map(|(s, _)| *s).collect::<Vec<_>>());
            store
                .stage(q.id, &none, now)
                .map(|n| format!("Un-staged {which}: back to undecided ({n} in all)"))
        }
        Act::Submit(seqs) => store
            .submit(q.id, &seqs, &q.reviewer, q.snapshot_id, now)
            .map(|(batch, n)| {
                format!(
                    "Submitted batch {batch}: {}, audited",
                    plural(n, "decision")
                )
            }),
        Act::SignOff => store.queue_items(q.id, &q.assignees()).and_then(|items| {
            let mine: Vec<_> = items.iter().collect();
            let decided = mine.iter().filter(|i| i.decided()).count();
            let counts = crate::review::campaign::sign_off_counts(&mine);
            store.sign_off(q.id, &q.reviewer, &counts, now).map(|()| {
                format!(
                    "Signed off: {decided}/{} decided; your decisions are locked",
                    mine.len()
                )
            })
        }),
        Act::Delegate { items, to, reason } => {
            let read = store.campaign(&q.name).and_then(|campaign| {
                let all = store.campaign_items(campaign.id)?;
                Ok((campaign, all))
            });
            match read {
                Ok((campaign, all)) => delegate(
                    store,
                    Delegation {
                        campaign: &campaign,
                        items: &all,
                        people: &q.people,
                        from: &q.reviewer,
                        to: &to,
                        seqs: &items,
                        reason: &reason,
                        // The console offers no override: `campaign delegate --force` does.
                        force: false,
                    },
                    now,
                )
                .map(|(to, n)| format!("Delegated {} to {to}, audited", plural(n, "item")))
                .map_err(|e| crate::store::StoreError::Campaign(format!("{e:#}"))),
                Err(e) => Err(e),
            }
        }
    };
    done.map_err(|e| format!("campaign: {e}; nothing was changed"))
}
