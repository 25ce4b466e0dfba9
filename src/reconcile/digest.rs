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
        let by_severity = [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ]
        .iter()
        .map(|sv| {
            let n = findings.iter().filter(|f| f.severity == *sv).count() as u64;
            (sv.as_str().to_string(), n)
        })
        .collect();
        Digest {
            total: findings.len() as u64,
            by_rule: count_by(findings, |f| &f.rule),
            by_severity,
            by_provider: count_by(findings, |f| &f.provider),
            key_ages: key_ages(data, now),
            top: findings.iter().take(TOP).cloned().collect(),
        }
    }
}

/// Count of findings by `key`, largest first, then by name.
fn count_by<F: Fn(&Finding) -> &str>(findings: &[Finding], key: F) -> Vec<(String, u64)> {
    let mut m: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    for f in findings {
        *m.entry(key(f)).or_default() += 1;
    }
    let mut v: Vec<(String, u64)> = m.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
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

/// What a snapshot's findings depend on besides its data: recert's version (the rules' code),
/// the configured thresholds and identity settings, and the ownership records. A digest made
/// under another context is stale and never shown.
pub fn context(rules: &Rules, owners: &Owners) -> String {
    let mut owned: Vec<(&(String, String), &String)> = owners.iter().collect();
    owned.sort();
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
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
        assert_eq!(d.by_severity[0], ("critical".to_string(), 335));
        assert_eq!(d.by_severity.len(), 5);
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
}
