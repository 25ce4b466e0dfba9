//! Incident response, the same in both front ends (`recert revoke` and the console's `:leak`,
//! `:sweep` and `x`): the key a hint names (an id, a redacted value, or the whole leaked key,
//! which is never kept) and the facts shown about it, and the revoke decisions a leaked key or
//! a person's sweep makes.

use crate::model::{Credential, SourceData, text::sanitize};
use crate::reconcile::{Directory, Rules};
use crate::review::{NewDecision, Target, Verdict};

/// The rule a leaked key's revoke is recorded under.
pub const LEAKED_KEY: &str = "leaked-key";

/// The revoke of a leaked key (no reason yet: the front end asks for it).
pub fn leaked_key(c: &Credential) -> NewDecision {
    revoke(
        Target::new(&c.provider, &c.source, &c.kind, &c.id),
        format!("{} key {}", c.provider, c.label()),
        LEAKED_KEY.into(),
    )
}

fn revoke(target: Target, label: String, rule: String) -> NewDecision {
    NewDecision {
        verdict: Verdict::Revoke,
        target,
        label,
        rule: Some(rule),
        owner: None,
        until: None,
        justification: None,
    }
}

/// Everything one person holds on every provider, as revoke decisions: their accounts (by any
/// of their directory addresses), the memberships those accounts hold, and the usable keys
/// they own.
#[derive(Debug, Default)]
pub struct Sweep {
    pub items: Vec<NewDecision>,
    pub accounts: usize,
    pub memberships: usize,
    pub keys: usize,
}

/// The sweep of the person `email` names, whichever of their addresses it is (rule
/// `sweep:FIRST-ADDRESS`, the same whichever address named them). An address no directory
/// person has sweeps what that address holds; an address two directory people share is
/// refused, naming them: a sweep must never take a second person's access.
pub fn sweep(d: &SourceData, rules: &Rules, email: &str) -> Result<Sweep, String> {
    let dir = Directory::new(&d.people, rules);
    let people = dir.people(email);
    if !people.is_empty() && dir.person_key(Some(email)).is_none() {
        let mut names: Vec<String> = people
            .iter()
            .map(|p| sanitize(&p.user_name).into_owned())
            .collect();
        names.sort();
        names.dedup();
        return Err(format!(
            "{} directory people share the address {} ({}): sweep one of them by an address only they have",
            names.len(),
            sanitize(email),
            names.join(", ")
        ));
    }
    // An account is theirs when its address resolves to them alone: an address they share
    // with someone else (an `ambiguous-identity` finding) is nobody's to sweep.
    let wanted = dir.canonical(email);
    let mine = dir.owned_by(email);
    let first = people
        .first()
        .and_then(|p| p.emails.first())
        .map(|e| dir.canonical(e))
        .unwrap_or_else(|| wanted.clone());
    let rule = format!("sweep:{}", sanitize(&first));
    let mut out = Sweep::default();
    let mut held: Vec<(&str, &str)> = Vec::new();
    for a in d.accounts.iter().filter(|a| mine(a.email.as_deref())) {
        held.push((&a.source, &a.id));
        out.accounts += 1;
        out.items.push(revoke(
            Target::new(&a.provider, &a.source, "account", &a.id),
            format!(
                "{} account {}",
                a.provider,
                a.email.as_deref().unwrap_or(&a.id)
            ),
            rule.clone(),
        ));
    }
    let holds = |source: &str, id: &str| held.iter().any(|&(s, i)| s == source && i == id);
    for g in d
        .grants
        .iter()
        .filter(|g| g.principal_kind == "user" && holds(&g.source, &g.principal_id))
    {
        out.memberships += 1;
        let resource = d
            .resources
            .iter()
            .find(|r| r.source == g.source && r.id == g.resource_id)
            .and_then(|r| r.name.as_deref())
            .unwrap_or(&g.resource_id);
        out.items.push(revoke(
            Target::new(
                &g.provider,
                &g.source,
                "grant",
                &format!("{}/{}", g.resource_id, g.principal_id),
            ),
            format!("{} membership of {resource}", g.provider),
            rule.clone(),
        ));
    }
    for c in d.credentials.iter().filter(|c| {
        c.usable()
            && c.owner
                .as_ref()
                .is_some_and(|o| holds(&c.source, &o.id) || mine(o.email.as_deref()))
    }) {
        out.keys += 1;
        out.items.push(revoke(
            Target::new(&c.provider, &c.source, &c.kind, &c.id),
            format!("{} key {}", c.provider, c.label()),
            rule.clone(),
        ));
    }
    Ok(out)
}

/// What a hint found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// The index of the one key in `SourceData::credentials`.
    One(usize),
    None,
    /// Several keys match: their indices.
    Many(Vec<usize>),
}

/// The keys `hint` matches in `d` (see [`crate::remediate::key_matches`]).
pub fn find_key(d: &SourceData, hint: &str) -> Found {
    let found: Vec<usize> = d
        .credentials
        .iter()
        .enumerate()
        .filter(|(_, c)| crate::remediate::key_matches(c, hint))
        .map(|(i, _)| i)
        .collect();
    match found.as_slice() {
        [] => Found::None,
        [i] => Found::One(*i),
        _ => Found::Many(found),
    }
}

fn day(ts: Option<i64>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// The facts about a key, as both front ends show them (provider text sanitized).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFacts {
    pub id: String,
    pub redacted: String,
    pub source: String,
    pub provider: String,
    pub name: String,
    pub owner: String,
    pub project: String,
    pub created: String,
    pub last_used: String,
    pub status: String,
}

impl KeyFacts {
    pub fn of(d: &SourceData, c: &Credential) -> KeyFacts {
        let owner = c
            .owner
            .as_ref()
            .map(|o| {
                format!(
                    "{} {}",
                    o.kind.replace('_', " "),
                    o.email.as_deref().or(o.name.as_deref()).unwrap_or(&o.id)
                )
            })
            .unwrap_or_else(|| "no owner".into());
        let project = c
            .resource_id
            .as_deref()
            .map(|r| {
                d.resources
                    .iter()
                    .find(|x| x.source == c.source && x.id == r)
                    .and_then(|x| x.name.clone())
                    .unwrap_or_else(|| r.to_string())
            })
            .unwrap_or_else(|| "(organisation)".into());
        KeyFacts {
            id: sanitize(&c.id).into_owned(),
            redacted: sanitize(c.redacted.as_deref().unwrap_or("-")).into_owned(),
            source: sanitize(&c.source).into_owned(),
            provider: c.provider.clone(),
            name: sanitize(c.name.as_deref().unwrap_or("-")).into_owned(),
            owner: sanitize(&owner).into_owned(),
            project: sanitize(&project).into_owned(),
            created: day(c.created_at),
            last_used: day(c.last_used_at),
            status: sanitize(c.status.as_deref().unwrap_or("active")).into_owned(),
        }
    }

    /// The facts in two lines: what the key is, then who holds it and how it was used.
    pub fn lines(&self) -> [String; 2] {
        [
            format!(
                "key {} ({}) on {} ({}): name {}",
                self.id, self.redacted, self.source, self.provider, self.name
            ),
            format!(
                "owner {} · project {} · created {} · last used {} · status {} in the snapshot",
                self.owner, self.project, self.created, self.last_used, self.status
            ),
        ]
    }
}
