//! What the identity providers (the simulator's Okta org and Entra tenant) know beyond who the
//! people are: each AI platform's app and who it is assigned to (directly, or through
//! department groups), the provisioning pushes they recorded, everyone's last sign-in and the
//! leave dates of people about to go. Drawn from the world after the providers are made, from
//! its own random stream, so the providers' worlds are as they were; the findings that follow
//! are the oracle's (`sim::truth::idp`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{ANTHROPIC_SOURCE, CURSOR_SOURCE, DAY, OPENAI_SOURCE, World};
use crate::model::Ts;
use crate::sim::rng::Rng;

/// One AI platform's app in the identity provider.
#[derive(Clone, Debug, Default)]
pub struct IdpApp {
    /// Its Okta app id (`0oa…`).
    pub okta_id: String,
    /// Its Entra service principal's object id.
    pub entra_id: String,
    pub name: String,
    /// Directory groups assigned the app (their members have it).
    pub groups: BTreeSet<String>,
    /// Directory users assigned the app directly.
    pub direct: BTreeSet<String>,
}

/// A provisioning push the identity provider recorded for one person and app.
#[derive(Clone, Debug)]
pub struct IdpPush {
    pub user_id: String,
    /// The provider source the app stands for.
    pub app_source: String,
    pub at: Ts,
    /// A deprovisioning push (deactivate, delete); otherwise a provisioning one.
    pub deprovision: bool,
    pub ok: bool,
    /// Why it failed, as the target platform answered.
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Idp {
    /// By provider source.
    pub apps: BTreeMap<String, IdpApp>,
    /// Last successful sign-in by directory user id; absent: never signed in.
    pub last_sign_in: BTreeMap<String, Ts>,
    /// Leave dates of current people who are about to go, by directory user id.
    pub leave_at: BTreeMap<String, Ts>,
    pub pushes: Vec<IdpPush>,
}

impl Idp {
    /// Everyone `source`'s app is assigned to, directly or through its groups: computed once,
    /// for a whole list (checking each person with `assigned` walks the groups each time).
    pub fn assignees<'a>(
        &'a self,
        w: &'a World,
        source: &str,
    ) -> std::collections::HashSet<&'a str> {
        let mut out = std::collections::HashSet::new();
        if let Some(app) = self.apps.get(source) {
            out.extend(app.direct.iter().map(String::as_str));
            for g in app.groups.iter().filter_map(|g| w.directory.groups.get(g)) {
                out.extend(g.members.iter().map(String::as_str));
            }
        }
        out
    }

    /// The first app `f` admits, with the provider source it stands for.
    pub fn app_where(&self, f: impl Fn(&IdpApp) -> bool) -> Option<(&str, &IdpApp)> {
        self.apps
            .iter()
            .find(|(_, a)| f(a))
            .map(|(s, a)| (s.as_str(), a))
    }

    /// Does the identity provider assign `source`'s app to `user` (directly or through a group)?
    pub fn assigned(&self, w: &World, source: &str, user: &str) -> bool {
        self.apps.get(source).is_some_and(|app| {
            app.direct.contains(user)
                || app.groups.iter().any(|g| {
                    w.directory
                        .groups
                        .get(g)
                        .is_some_and(|g| g.members.iter().any(|m| m == user))
                })
        })
    }
}

/// Every provider account: (provider source, email).
pub(crate) fn accounts(w: &World) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    out.extend(
        w.openai
            .users
            .values()
            .map(|u| (OPENAI_SOURCE, u.email.clone())),
    );
    out.extend(
        w.anthropic
            .users
            .values()
            .map(|u| (ANTHROPIC_SOURCE, u.email.clone())),
    );
    out.extend(
        w.cursor
            .members
            .iter()
            .filter(|m| !m.is_removed)
            .map(|m| (CURSOR_SOURCE, m.email.clone())),
    );
    out
}

/// When each account `source` holds was made, by lower-cased address, as the provider tells
/// it (OpenAI and Anthropic: its `added_at`; Cursor: its `add_user` in the audit log).
fn made_at(w: &World, source: &str) -> HashMap<String, Ts> {
    let mut out: HashMap<String, Ts> = HashMap::new();
    let mut put = |e: &str, t: Ts| {
        let x = out.entry(e.to_lowercase()).or_insert(t);
        *x = (*x).max(t);
    };
    match source {
        OPENAI_SOURCE => w
            .openai
            .users
            .values()
            .for_each(|u| put(&u.email, u.added_at)),
        ANTHROPIC_SOURCE => w
            .anthropic
            .users
            .values()
            .for_each(|u| put(&u.email, u.added_at)),
        _ => w
            .cursor
            .audit
            .iter()
            .filter(|e| e.kind == "add_user")
            .for_each(|e| {
                if let Some(m) = e.data.get("email").and_then(|v| v.as_str()) {
                    put(m, e.at)
                }
            }),
    }
    out
}

/// A time at least two days from the sign-in threshold (90 days) and the leave notice (14).
fn clear(now: Ts, t: Ts) -> Ts {
    let mut t = t;
    while [90, 14, -14]
        .iter()
        .any(|d| ((now - t) - d * DAY).abs() < 2 * DAY)
    {
        t -= 5 * DAY;
    }
    t
}

pub(super) fn idp(rng: &mut Rng, w: &World) -> Idp {
    let now = w.now;
    let mut idp = Idp::default();
    // Whose an address is: the one directory user with it (shared addresses are nobody's).
    let mut by_email: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for u in w.directory.users.values() {
        for e in std::iter::once(&u.user_name).chain(u.extra_emails.iter()) {
            by_email.entry(e.to_lowercase()).or_default().insert(&u.id);
        }
    }
    let owner = |email: &str| {
        by_email
            .get(&email.to_lowercase())
            .filter(|s| s.len() == 1)
            .and_then(|s| s.iter().next().copied())
    };
    let departments: Vec<&String> = w
        .directory
        .groups
        .values()
        .filter(|g| g.display_name.starts_with("dept-"))
        .map(|g| &g.id)
        .collect();
    let accounts = accounts(w);
    for (n, (source, name)) in [
        (OPENAI_SOURCE, "OpenAI"),
        (ANTHROPIC_SOURCE, "Claude"),
        (CURSOR_SOURCE, "Cursor"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut app = IdpApp {
            okta_id: format!("0oa{}sim{n}", rng.alnum(12)),
            entra_id: format!("5e7c0a11-0000-4000-8000-{:012x}", rng.below(1 << 40)),
            name: name.into(),
            ..Default::default()
        };
        for _ in 0..2.min(departments.len()) {
            app.groups.insert(rng.pick(&departments).to_string());
        }
        // Who the app's groups reach, and when each account here was made: once, not per person.
        let in_groups: BTreeSet<&str> = app
            .groups
            .iter()
            .filter_map(|g| w.directory.groups.get(g))
            .flat_map(|g| g.members.iter().map(String::as_str))
            .collect();
        idp.apps.insert(source.into(), app);
        let made_here = made_at(w, source);
        let added = |e: &str| made_here.get(&e.to_lowercase()).copied().unwrap_or(0);
        // Each holder and the addresses of their accounts here.
        let mut holders: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (_, e) in accounts.iter().filter(|(s, _)| *s == source) {
            if let Some(uid) = owner(e) {
                holders.entry(uid).or_default().push(e);
            }
        }
        for (uid, emails) in holders {
            let Some(u) = w.directory.users.get(uid) else {
                continue;
            };
            let push = |deprovision: bool, ok: bool, at: Ts| IdpPush {
                user_id: uid.to_string(),
                app_source: source.into(),
                at,
                deprovision,
                ok,
                reason: (!ok).then(|| {
                    format!("{name} returned an error response with the HTTP status code 409")
                }),
            };
            if !u.active {
                // A leaver: the identity provider pushed their removal; it failed, or it said
                // it worked and did not, or nothing was pushed at all. Always after their
                // account was made (an account made after a removal is another story).
                let made = emails.iter().map(|e| added(e)).max().unwrap_or(0);
                let at = (now - rng.range(1, 25) * DAY).max(made + DAY);
                if at > now - DAY {
                    continue;
                }
                if rng.chance(0.35) {
                    idp.pushes.push(push(true, false, at));
                } else if rng.chance(0.4) {
                    idp.pushes.push(push(true, true, at));
                }
                continue;
            }
            let assigned = in_groups.contains(uid);
            if !assigned {
                if rng.chance(0.07) {
                    // Access granted outside the IdP; for some, a removal that never landed
                    // (after the account was made).
                    let made = emails.iter().map(|e| added(e)).max().unwrap_or(0);
                    let at = (now - rng.range(2, 20) * DAY).max(made + DAY);
                    if rng.chance(0.3) && at <= now - DAY {
                        idp.pushes.push(push(true, true, at));
                    }
                    continue;
                }
                idp.apps
                    .get_mut(source)
                    .expect("inserted above")
                    .direct
                    .insert(uid.to_string());
            }
            // Re-hired or moved back: a failed removal long ago, then a provisioning push; or
            // assigned again with no push since. Neither is a finding: they are assigned.
            if rng.chance(0.03) {
                idp.pushes.push(push(true, false, now - 20 * DAY));
                idp.pushes.push(push(false, true, now - 5 * DAY));
            } else if rng.chance(0.02) {
                idp.pushes.push(push(true, false, now - 12 * DAY));
            }
        }
    }
    // Some who left and hold nothing at OpenAI: a removal pushed there that worked (history,
    // not a finding).
    let openai_holders: BTreeSet<&str> = accounts
        .iter()
        .filter(|(s, _)| *s == OPENAI_SOURCE)
        .filter_map(|(_, e)| by_email.get(&e.to_lowercase()))
        .flatten()
        .copied()
        .collect();
    for u in w.directory.users.values().filter(|u| !u.active) {
        if rng.chance(0.3) && !openai_holders.contains(u.id.as_str()) {
            idp.pushes.push(IdpPush {
                user_id: u.id.clone(),
                app_source: OPENAI_SOURCE.into(),
                at: now - rng.range(1, 25) * DAY,
                deprovision: true,
                ok: true,
                reason: None,
            });
        }
    }
    for u in w.directory.users.values() {
        let r = rng.below(100);
        let signed_in = match r {
            // Someone who left last signed in before they did (before any removal pushed).
            0..=84 if !u.active => Some(now - rng.range(30, 80) * DAY),
            0..=84 => Some(now - rng.range(0, 30) * DAY - rng.range(60, 80_000)),
            85..=94 => Some(now - rng.range(100, 300) * DAY),
            _ => None,
        };
        // Never signed in, and made near the sign-in threshold: a sign-in instead, so that a
        // sync a moment later judges the new hire as the truth does.
        let signed_in = match signed_in {
            None if ((now - u.created) - 90 * DAY).abs() < 2 * DAY => Some(now - DAY),
            s => s,
        };
        if let Some(t) = signed_in {
            idp.last_sign_in.insert(u.id.clone(), clear(now, t));
        }
        if u.active {
            let leave = match rng.below(100) {
                0..=2 => Some(now + rng.range(2, 10) * DAY + DAY / 2),
                3..=5 => Some(now + rng.range(20, 60) * DAY + DAY / 2),
                _ => None,
            };
            if let Some(t) = leave {
                idp.leave_at.insert(u.id.clone(), clear(now, t));
            }
        }
    }
    // Every world has someone about to leave who still holds access (a small one may draw
    // none by chance, and `upcoming-leaver` would be missing from its demo): the first such
    // holder by id is given a leave date a week away.
    let holders: BTreeSet<&str> = accounts.iter().filter_map(|(_, e)| owner(e)).collect();
    let leaving_soon = |uid: &str| {
        idp.leave_at
            .get(uid)
            .is_some_and(|t| *t > now && *t - now <= 14 * DAY)
    };
    let active: Vec<&str> = holders
        .into_iter()
        .filter(|uid| w.directory.users.get(*uid).is_some_and(|u| u.active))
        .collect();
    if !active.iter().any(|uid| leaving_soon(uid))
        && let Some(uid) = active.first()
    {
        idp.leave_at
            .insert(uid.to_string(), clear(now, now + 7 * DAY + DAY / 2));
    }
    idp
}
