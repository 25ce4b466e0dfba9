//! Campaign rules both front ends apply: one policy, so the console cannot allow what the CLI
//! refuses.

use anyhow::{Result, bail};

use crate::model::Ts;
use crate::review::campaign::People;
use crate::store::Store;
use crate::store::campaign::{Campaign, CampaignItem};

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
