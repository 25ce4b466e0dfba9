//! What a provider's own records say about its objects (model::Provenance), looked up once per
//! snapshot: who created a key or a service account, a user's last login, and whether the feed
//! that would say it was read. The rules use it (`orphaned-key`, `unowned-service-account`'s
//! suggested owner, `dormant-account`), and the console's panes show the facts ([`about`]) in
//! the words of [`lines`]. Pure.

use rustc_hash::FxHashMap as HashMap;

use super::{Directory, Standing, day, provider_label};
use crate::model::feed::{self, CHANGES};
use crate::model::{Feed, Provenance, SourceData, Ts};

use crate::model::feed::LOGINS;

/// A snapshot's provenance, by subject and fact, and its feeds.
pub struct Facts<'a> {
    facts: HashMap<(&'a str, &'a str, &'a str, &'a str), &'a Provenance>,
    feeds: HashMap<(&'a str, &'a str), &'a Feed>,
    /// Per source, the oldest fact its audit log holds: the log reaches back at least that far.
    oldest: HashMap<&'a str, Ts>,
}

impl<'a> Facts<'a> {
    pub fn new(d: &'a SourceData) -> Facts<'a> {
        let mut oldest: HashMap<&str, Ts> = HashMap::default();
        for p in d
            .provenance
            .iter()
            .filter(|p| p.feed == CHANGES || p.feed == LOGINS)
        {
            let t = oldest.entry(p.source.as_str()).or_insert(p.at);
            *t = (*t).min(p.at);
        }
        Facts {
            facts: d
                .provenance
                .iter()
                .map(|p| {
                    let key = (
                        p.source.as_str(),
                        p.subject_kind.as_str(),
                        p.subject_id.as_str(),
                        p.fact.as_str(),
                    );
                    (key, p)
                })
                .collect(),
            feeds: d
                .feeds
                .iter()
                .map(|f| ((f.source.as_str(), f.feed.as_str()), f))
                .collect(),
            oldest,
        }
    }

    /// The fact `fact` about subject `(kind, id)` of `source`, if its feed holds one.
    pub fn get(&self, source: &str, kind: &str, id: &str, fact: &str) -> Option<&'a Provenance> {
        self.facts.get(&(source, kind, id, fact)).copied()
    }

    /// The person (never a service account's key) who created the subject, with an email.
    pub fn creator(&self, source: &str, kind: &str, id: &str) -> Option<&'a Provenance> {
        self.get(source, kind, id, "created_by")
            .filter(|p| p.by_person() && p.actor_email.is_some())
    }

    /// The person who made a service account's key: its own `api_key.created` entry, else
    /// (made by no person the log names, or not found under the key's id: that the entry's
    /// id is the key's is the spec example's, not a verified fact) the person who made the
    /// service account, whose first key OpenAI makes with it.
    pub fn key_creator(
        &self,
        source: &str,
        key: &str,
        service_account: &str,
    ) -> Option<&'a Provenance> {
        self.creator(source, "api_key", key)
            .or_else(|| self.creator(source, "service_account", service_account))
    }

    /// Where logins were read for `source`: the start of the span, or the oldest entry the
    /// log holds if later (a log switched on 40 days ago cannot say "no login in 90 days"): no
    /// login on record means none since then. None when they were not read.
    pub fn logins_from(&self, source: &str) -> Option<Ts> {
        let from = self
            .feeds
            .get(&(source, LOGINS))
            .filter(|f| f.known)
            .and_then(|f| f.from)?;
        Some(match self.oldest.get(source) {
            Some(&t) => from.max(t),
            None => from,
        })
    }
}

/// The facts a subject can have, in the order they are shown when two fall on one instant.
const FACTS: [&str; 7] = [
    "created_by",
    "added_by",
    "invited_by",
    "archived_by",
    "removed_by",
    "last_login",
    "last_failed_login",
];

/// Facts as lines a person reads, oldest first: what, who, how, when, and which provider's
/// record says it (`by`: the provider, or the source where it is not known).
pub fn lines<'a>(facts: impl Iterator<Item = &'a Provenance>, by: &str) -> Vec<String> {
    let by = provider_label(by);
    let mut out: Vec<&Provenance> = facts.collect();
    out.sort_by_key(|p| (p.at, FACTS.iter().position(|f| *f == p.fact)));
    out.iter()
        .map(|p| {
            let what = p.fact.replace('_', " ");
            let who = p
                .actor_email
                .as_deref()
                .or(p.actor_id.as_deref())
                .unwrap_or("someone unnamed");
            let how = match how(p) {
                "" => String::new(),
                h => format!(" ({h})"),
            };
            let record = match p.feed.as_str() {
                feed::CHANGES | feed::LOGINS | feed::JOINS => "audit log",
                _ => "usage report",
            };
            match (p.fact.as_str(), p.via.as_deref()) {
                (f, _) if f.starts_with("last_") => {
                    format!("{what} {} ({by} {record})", day(p.at))
                }
                ("joined", Some(via)) => format!("joined on {} ({via}; {by} {record})", day(p.at)),
                _ => format!("{what} {who}{how} on {} ({by} {record})", day(p.at)),
            }
        })
        .collect()
}

/// Every fact about one subject in `d`, as [`lines`]: for a pane that shows one subject (a
/// scan, not an index).
pub fn about(d: &SourceData, source: &str, kind: &str, id: &str) -> Vec<String> {
    let by = d
        .accounts
        .iter()
        .find(|a| a.source == source)
        .map(|a| a.provider.as_str())
        .or_else(|| {
            d.credentials
                .iter()
                .find(|c| c.source == source)
                .map(|c| c.provider.as_str())
        })
        .unwrap_or(source);
    lines(
        d.provenance
            .iter()
            .filter(|p| p.source == source && p.subject_kind == kind && p.subject_id == id),
        by,
    )
}

/// The owner recert suggests for a service account nobody owns: the person who created it,
/// if the directory has them, current. A reviewer accepts it with one key; recert never
/// records it on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggested {
    /// The directory person's own address (the log may spell it otherwise).
    pub email: String,
    pub created_at: Ts,
    /// How they made it: `in the dashboard`, or `through the API` (with an admin key of theirs,
    /// perhaps from a pipeline they run).
    pub how: &'static str,
}

/// How a person acted, as words.
pub fn how(p: &Provenance) -> &'static str {
    match (p.actor_kind.as_deref(), p.via.as_deref()) {
        (Some("service_account"), _) => "with a service account's key",
        (_, Some("api_key")) => "through the API",
        (_, Some("console")) => "in the dashboard",
        _ => "",
    }
}

pub fn suggested_owner(
    facts: &Facts,
    dir: &Directory,
    source: &str,
    service_account: &str,
) -> Option<Suggested> {
    let p = facts.creator(source, "service_account", service_account)?;
    let email = p.actor_email.as_deref()?;
    if dir.standing(Some(email)) != Standing::Current {
        return None;
    }
    let person = dir.people(email).first()?;
    Some(Suggested {
        email: person
            .emails
            .first()
            .cloned()
            .unwrap_or_else(|| person.user_name.clone()),
        created_at: p.at,
        how: how(p),
    })
}
