//! Windowed feeds read incrementally: a report or log read over the last N days (OpenAI's
//! audit log, Cursor's daily usage and audit log) whose reading is the latest fact per subject.
//! A sync reads a feed whole the first time, then only from where the last good read ended
//! (less a day, for late entries), and keeps the last read's facts that still fall inside the
//! span. Latest-per-subject over the span is the same either way, so an incremental snapshot
//! judges as a full one would. A feed is read whole again when asked (`recert sync --full`),
//! when its last whole read is older than `full_sync_days`, or when the last snapshot did not
//! read the source itself (it failed, and its data was carried), when the source now reads
//! another org or key, or a newer recert reads the feed otherwise (the feed's `origin`).
//! "The same as a whole read" holds while a provider publishes each entry within a day of its
//! time ([`OVERLAP`]); an entry published later is read by the next whole read.

use std::collections::HashMap;

use crate::model::{Feed, Provenance, Ts};

pub(crate) const DAY: i64 = 86_400;

/// How far back an incremental read reaches before the last read's end: entries that land
/// late (the providers' reports are revised for about a day) are read again.
pub const OVERLAP: i64 = DAY;

/// How recert reads the feeds: raised when a change to what a feed reads or how it reduces
/// its entries makes earlier reads unfit to read on from.
const FEEDS_VERSION: u32 = 1;

/// How far ahead of this machine's clock another machine's read may be (team mode) before it
/// is taken for a clock gone wrong and the feed is read whole.
const SKEW: Ts = 300;

/// A fingerprint of where a source's feeds are read from: its kind, address and key, and
/// `FEEDS_VERSION`. Sixteen hex digits of a SHA-256: it tells two keys apart and says nothing
/// of either.
pub fn origin(kind: &str, base_url: &str, key: &crate::secret::Secret) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        "recert feed origin",
        &FEEDS_VERSION.to_string(),
        kind,
        base_url,
        key.expose(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the last good snapshot read from one source's feeds.
#[derive(Clone, Debug, Default)]
pub struct Prior {
    pub feeds: Vec<Feed>,
    pub facts: Vec<Provenance>,
    /// Read whole when the last whole read is older than this (seconds).
    pub max_age: Ts,
    /// Where this sync reads the source from ([`origin`]).
    pub origin: String,
}

impl Prior {
    /// Nothing to read on from: every feed is read whole.
    pub fn none() -> Prior {
        Prior::default()
    }
}

/// How one feed is read in this sync.
#[derive(Clone, Debug)]
pub struct Window {
    pub feed: &'static str,
    /// The span's start.
    pub from: Ts,
    /// Where reading starts: `from` for a whole read, else the last read's end less
    /// [`OVERLAP`].
    pub read_from: Ts,
    /// The span's end: now.
    pub to: Ts,
    /// When the span was last read whole (now, for a whole read).
    pub full_at: Ts,
    origin: Option<String>,
    kept: Vec<Provenance>,
}

impl Window {
    /// The window of `feed` over the last `days` at `now`, on from `prior` where it can be.
    pub fn plan(prior: &Prior, feed: &'static str, now: Ts, days: i64) -> Window {
        Window::plan_from(prior, feed, now, now - days * DAY)
    }

    /// The window of `feed` from `from` to `now`, on from `prior` where it can be.
    fn plan_from(prior: &Prior, feed: &'static str, now: Ts, from: Ts) -> Window {
        let whole = Window {
            feed,
            from,
            read_from: from,
            to: now,
            full_at: now,
            origin: (!prior.origin.is_empty()).then(|| prior.origin.clone()),
            kept: Vec::new(),
        };
        let Some(last) = prior.feeds.iter().find(|f| f.feed == feed) else {
            return whole;
        };
        let (Some(to), Some(full_at), true) = (last.to, last.full_at, last.known) else {
            return whole;
        };
        if last.origin.is_none() || last.origin != whole.origin {
            return whole;
        }
        // The span grew (a longer window), or a clock went wrong: whole.
        if now - full_at > prior.max_age
            || to > now + SKEW
            || last.from.is_none_or(|f| f > from + SKEW)
        {
            return whole;
        }
        // Another machine's clock a little ahead: read on from this one's now at the latest.
        let read_from = (to.min(now) - OVERLAP).max(from);
        Window {
            read_from,
            full_at,
            kept: prior
                .facts
                .iter()
                .filter(|p| p.feed == feed && p.at >= from)
                .cloned()
                .collect(),
            ..whole
        }
    }

    /// `plan` for a report in whole UTC days: the span starts at the start of its first day.
    pub fn plan_days(prior: &Prior, feed: &'static str, now: Ts, days: i64) -> Window {
        let start = now - days * DAY;
        Window::plan_from(prior, feed, now, start - start.rem_euclid(DAY))
    }

    /// Whether this read starts after the span's start.
    pub fn incremental(&self) -> bool {
        self.read_from > self.from
    }

    /// The feed row for a good read of this window.
    pub fn read(&self, source: &str) -> Feed {
        Feed {
            source: source.to_string(),
            feed: self.feed.to_string(),
            known: true,
            from: Some(self.from),
            to: Some(self.to),
            full_at: Some(self.full_at),
            note: None,
            origin: self.origin.clone(),
        }
    }

    /// The feed row for a read that failed: unknown, with why (the next read is whole).
    pub fn failed(&self, source: &str, note: String) -> Feed {
        Feed {
            known: false,
            to: None,
            full_at: None,
            note: Some(note),
            ..self.read(source)
        }
    }

    /// What the span holds: the facts kept from the last read and the ones read now, the
    /// latest per subject and fact (ties by the order read: a later one wins), none from
    /// before the span.
    pub fn merge(self, read: Vec<Provenance>) -> Vec<Provenance> {
        let mut latest: HashMap<(String, String, String), Provenance> = HashMap::new();
        for p in self.kept.into_iter().chain(read) {
            if p.at < self.from {
                continue;
            }
            let key = (p.subject_kind.clone(), p.subject_id.clone(), p.fact.clone());
            match latest.get(&key) {
                Some(old) if old.at > p.at => {}
                _ => {
                    latest.insert(key, p);
                }
            }
        }
        let mut out: Vec<Provenance> = latest.into_values().collect();
        out.sort_by(|a, b| {
            (&a.subject_kind, &a.subject_id, &a.fact).cmp(&(
                &b.subject_kind,
                &b.subject_id,
                &b.fact,
            ))
        });
        out
    }
}

/// Every id and lower-cased address of a source's accounts: the members a feed's facts may be
/// about. Facts of anyone else (a member since removed) are not kept: a whole read of the
/// provider's reports does not list them, and they would only grow the store.
pub fn listed(d: &crate::model::SourceData) -> std::collections::HashSet<String> {
    d.accounts
        .iter()
        .flat_map(|a| {
            [
                Some(a.id.clone()),
                a.email.as_deref().map(str::to_lowercase),
            ]
        })
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(id: &str, at: Ts) -> Provenance {
        Provenance {
            source: "s".into(),
            subject_kind: "account".into(),
            subject_id: id.into(),
            fact: "last_login".into(),
            actor_kind: None,
            actor_id: None,
            actor_email: None,
            via: None,
            at,
            feed: "f".into(),
        }
    }

    fn prior(to: Ts, full_at: Ts, facts: Vec<Provenance>) -> Prior {
        Prior {
            feeds: vec![Feed {
                source: "s".into(),
                feed: "f".into(),
                known: true,
                from: Some(to - 90 * DAY),
                to: Some(to),
                full_at: Some(full_at),
                note: None,
                origin: Some("o".into()),
            }],
            facts,
            max_age: 7 * DAY,
            origin: "o".into(),
        }
    }

    #[test]
    fn reads_on_from_the_last_read_keeping_what_is_still_in_the_span() {
        let now = 1_000 * DAY;
        let p = prior(
            now - DAY,
            now - 3 * DAY,
            vec![
                fact("a", now - 89 * DAY),
                fact("b", now - 91 * DAY),
                fact("c", now - 10 * DAY),
            ],
        );
        let w = Window::plan(&p, "f", now, 90);
        assert!(w.incremental());
        assert_eq!((w.read_from, w.full_at), (now - 2 * DAY, now - 3 * DAY));
        // b fell out of the span; c's newer login replaces the kept one.
        let got = w.merge(vec![fact("c", now - DAY / 2), fact("d", now - DAY)]);
        let ids: Vec<(&str, Ts)> = got.iter().map(|p| (p.subject_id.as_str(), p.at)).collect();
        assert_eq!(
            ids,
            [
                ("a", now - 89 * DAY),
                ("c", now - DAY / 2),
                ("d", now - DAY)
            ]
        );
    }

    #[test]
    fn reads_whole_without_a_good_recent_whole_read() {
        let now = 1_000 * DAY;
        // Nothing before; a whole read too old; a failed read; another feed's row.
        let mut failed = prior(now - DAY, now - DAY, vec![]);
        failed.feeds[0].known = false;
        let mut other = prior(now - DAY, now - DAY, vec![]);
        other.feeds[0].feed = "g".into();
        for p in [
            Prior::none(),
            prior(now - DAY, now - 8 * DAY, vec![]),
            failed,
            other,
        ] {
            let w = Window::plan(&p, "f", now, 90);
            assert!(!w.incremental(), "{p:?}");
            assert_eq!(w.full_at, now);
        }
        // A little ahead (another machine's clock): on from now.
        let w = Window::plan(&prior(now + 10, now - DAY, vec![]), "f", now, 90);
        assert_eq!(w.read_from, now - OVERLAP);
        // Two keys, two origins; the fingerprint holds nothing of the key.
        let (a, b) = (
            origin("openai", "u", &crate::secret::Secret::new("sk-admin-one")),
            origin("openai", "u", &crate::secret::Secret::new("sk-admin-two")),
        );
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        // A span now longer than the last one's (the setting grew): whole.
        assert!(!Window::plan(&prior(now - DAY, now - DAY, vec![]), "f", now, 120).incremental());
    }
}
