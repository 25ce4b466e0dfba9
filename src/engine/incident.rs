//! Incident response: the key a hint names (an id, a redacted value, or the whole leaked
//! key, which is never kept), and the facts shown about it, the same in both front ends.

use crate::model::{Credential, SourceData, text::sanitize};

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
