//! A snapshot's digest: what the console shows first (the dashboard's counts and the top of the
//! Gaps view), computed once when the snapshot is judged and stored beside it, so a console on a
//! million-finding snapshot has data on screen in milliseconds while the rest loads. Pure.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{Owners, Rules};
use crate::model::{Finding, Severity, SourceData, Ts};

/// How many of the first findings (in the Gaps view's order) a digest keeps.
pub const TOP: usize = 1000;

const DAY: i64 = 86_400;

/// Counts behind the dashboard and the first findings, for one snapshot judged in one context.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// Every finding, not just `top`.
    pub total: u64,
    /// Findings by rule, largest first.
    pub by_rule: Vec<(String, u64)>,
    /// Findings by severity, critical first, every severity listed.
    pub by_severity: Vec<(String, u64)>,
    /// Findings by provider, largest first.
    pub by_provider: Vec<(String, u64)>,
    /// Usable keys by age: <30d, 30-90d, 90-180d, 180-365d, >1y.
    pub key_ages: [u64; 5],
    /// The first `TOP` findings, in order.
    pub top: Vec<Finding>,
}

impl Digest {
    /// `findings` as `reconcile` returns them (sorted), for `data` judged at `now`.
    pub fn new(data: &SourceData, findings: &[Finding], now: Ts) -> Digest {
        const SEVERITIES: [Severity; 5] = [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ];
        // One pass. Findings come sorted by rule, so neighbours share their rule and mostly
        // their provider: a count is found by comparing with the last one before searching
        // the few others.
        let mut severities = [0u64; 5];
        let (mut rules, mut providers) = (Tally::default(), Tally::default());
        for f in findings {
            // The enum's order is SEVERITIES'.
            severities[f.severity as usize] += 1;
            rules.add(&f.rule);
            providers.add(&f.provider);
        }
        Digest {
            total: findings.len() as u64,
            by_rule: rules.largest_first(),
            by_severity: SEVERITIES
                .iter()
                .zip(severities)
                .map(|(s, n)| (s.as_str().to_string(), n))
                .collect(),
            by_provider: providers.largest_first(),
            key_ages: key_ages(data, now),
            top: findings.iter().take(TOP).cloned().collect(),
        }
    }
}

/// Counts by a label that takes few values (a rule, a provider).
#[derive(Default)]
struct Tally<'a> {
    counts: Vec<(&'a str, u64)>,
    last: usize,
}

impl<'a> Tally<'a> {
    fn add(&mut self, key: &'a str) {
        if let Some((k, n)) = self.counts.get_mut(self.last)
            && *k == key
        {
            *n += 1;
            return;
        }
        self.last = match self.counts.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.counts.push((key, 0));
                self.counts.len() - 1
            }
        };
        self.counts[self.last].1 += 1;
    }

    /// Largest first, then by name.
    fn largest_first(self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .counts
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// Usable keys by age: (<30d, 30-90d, 90-180d, 180-365d, >1y).
fn key_ages(data: &SourceData, now: Ts) -> [u64; 5] {
    let mut h = [0u64; 5];
    for c in data.credentials.iter().filter(|c| c.usable()) {
        let Some(t) = c.created_at else { continue };
        let b = match (now - t) / DAY {
            ..30 => 0,
            30..90 => 1,
            90..180 => 2,
            180..365 => 3,
            _ => 4,
        };
        h[b] += 1;
    }
    h
}

/// The code that judged: recert's version and a hash of the sources it was built from (see
/// `build.rs`), so two builds of one version number with other rules never share a digest.
/// (Dependencies are not in it: a `Cargo.lock` change alone keeps the key; a dependency that
/// changed a finding would come with a new version.)
pub const BUILD: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("RECERT_SOURCE_HASH"));

/// What a snapshot's findings depend on besides its data: the code that judged ([`BUILD`]),
/// the configured thresholds and identity settings, and the ownership records. A digest made
/// under another context is stale and never shown.
pub fn context(rules: &Rules, owners: &Owners) -> String {
    context_of(BUILD, rules, owners)
}

fn context_of(build: &str, rules: &Rules, owners: &Owners) -> String {
    let mut owned: Vec<(&(String, String), &String)> = owners.iter().collect();
    owned.sort();
    let mut h = Sha256::new();
    h.update(build.as_bytes());
    h.update([0]);
    h.update(format!("{rules:?}").as_bytes());
    for ((source, id), owner) in owned {
        for part in [source, id, owner] {
            h.update(part.as_bytes());
            h.update([0]);
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, severity: Severity, provider: &str, id: &str) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            provider: provider.into(),
            source: provider.into(),
            subject_kind: "account".into(),
            subject_id: id.into(),
            subject_email: None,
            detail: String::new(),
        }
    }

    #[test]
    fn counts_every_finding_but_keeps_only_the_top() {
        let findings: Vec<Finding> = (0..TOP + 5)
            .map(|i| {
                let (rule, sv) = if i % 3 == 0 {
                    ("orphaned-key", Severity::Critical)
                } else {
                    ("scim-uncovered-grant", Severity::Info)
                };
                finding(rule, sv, ["openai", "cursor"][i % 2], &format!("u{i}"))
            })
            .collect();
        let d = Digest::new(&SourceData::default(), &findings, 0);
        assert_eq!(d.total, (TOP + 5) as u64);
        assert_eq!(d.top.len(), TOP);
        assert_eq!(d.top[..], findings[..TOP]);
        assert_eq!(
            d.by_rule,
            vec![
                ("scim-uncovered-grant".to_string(), 670),
                ("orphaned-key".to_string(), 335)
            ]
        );
        let names: Vec<&str> = d.by_severity.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["critical", "high", "medium", "low", "info"]);
        assert_eq!(d.by_severity[0].1, 335);
        assert_eq!(d.by_severity[4].1, 670);
        assert_eq!(
            d.by_provider,
            vec![("openai".to_string(), 503), ("cursor".to_string(), 502)]
        );
    }

    #[test]
    fn the_context_changes_with_rules_and_owners_not_with_their_order() {
        let rules = Rules::default();
        let own = |pairs: &[(&str, &str)]| -> Owners {
            pairs
                .iter()
                .map(|(id, o)| (("openai".to_string(), id.to_string()), o.to_string()))
                .collect()
        };
        let a = own(&[("svc1", "a@x"), ("svc2", "b@x")]);
        let b = own(&[("svc2", "b@x"), ("svc1", "a@x")]);
        assert_eq!(context(&rules, &a), context(&rules, &b));
        assert_ne!(context(&rules, &a), context(&rules, &Owners::new()));
        let other_owner = own(&[("svc1", "a@x"), ("svc2", "c@x")]);
        assert_ne!(
            context(&rules, &a),
            context(&rules, &other_owner),
            "a reassign to someone else changes the findings' subjects"
        );
        let stricter = Rules {
            dormant_key_days: 30,
            ..Rules::default()
        };
        assert_ne!(context(&rules, &a), context(&stricter, &a));
    }

    /// Two builds of one version number (a checkout of main between releases) may judge
    /// differently: the sources' hash is part of the context, so neither shows the other's.
    #[test]
    fn the_context_changes_with_the_sources_not_only_the_version() {
        let (rules, owners) = (Rules::default(), Owners::new());
        let (version, hash) = BUILD.split_once('+').expect("version+hash");
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
        assert!(
            hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{hash}"
        );
        assert_eq!(context(&rules, &owners), context_of(BUILD, &rules, &owners));
        assert_ne!(
            context_of("0.1.0+0000000000000000", &rules, &owners),
            context_of("0.1.0+0000000000000001", &rules, &owners)
        );
    }
}
