//! Review decisions: what a reviewer decided about one object (certify, revoke, reassign its
//! owner, defer), with who, when and why. Pure data; the store keeps them, the console makes
//! them, the planner (issue 5) turns revokes into provider calls.

pub mod campaign;

use serde::{Deserialize, Serialize};

use crate::model::Ts;

/// Who a decision names when nobody said who is deciding (no `settings.reviewer`,
/// `RECERT_REVIEWER` or `$USER`): the console warns when it acts as this.
pub const UNKNOWN_REVIEWER: &str = "unknown-reviewer";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Certify,
    Revoke,
    Reassign,
    Defer,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Certify => "certify",
            Verdict::Revoke => "revoke",
            Verdict::Reassign => "reassign",
            Verdict::Defer => "defer",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        Some(match s {
            "certify" => Verdict::Certify,
            "revoke" => Verdict::Revoke,
            "reassign" => Verdict::Reassign,
            "defer" => Verdict::Defer,
            _ => return None,
        })
    }

    /// Revoking removes access: the console flags it as dangerous.
    pub fn destructive(self) -> bool {
        self == Verdict::Revoke
    }
}

/// The object a decision is about, stable across snapshots: the source it came from, its
/// kind (`account`, `grant`, `project_key`, `api_key`, `admin_key`, `service_account`,
/// `invite`, `resource`) and the provider's id (`resource/principal` for a grant).
///
/// A target is compared, hashed and ordered by the object it names, not by the word a path
/// used for its kind: see [`Target::identity`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    pub provider: String,
    pub source: String,
    pub kind: String,
    pub id: String,
}

/// Another name some path gives an object's kind, and its own: findings name every user key
/// `api_key`, which on OpenAI is a project key (the Keys view, incidents, ownership records
/// and the provider's endpoints say `project_key`).
fn own_kind<'a>(provider: &str, kind: &'a str) -> &'a str {
    match (provider, kind) {
        ("openai", "api_key") => "project_key",
        _ => kind,
    }
}

impl Target {
    /// The target of an object; its kind as the object's own (`project_key` for an OpenAI
    /// key a finding calls `api_key`).
    pub fn new(provider: &str, source: &str, kind: &str, id: &str) -> Target {
        Target {
            provider: provider.into(),
            source: source.into(),
            kind: own_kind(provider, kind).into(),
            id: id.into(),
        }
    }

    /// Whether the target is of `kind`, by either of its names (a routing rule's
    /// `kind = "api_key"` is every OpenAI project key too).
    pub fn kind_is(&self, kind: &str) -> bool {
        own_kind(&self.provider, kind) == own_kind(&self.provider, &self.kind)
    }

    /// What the target is: provider, source, the kind's own name and the id. Two targets
    /// are the same object when these are equal, so a decision recorded under either name
    /// of a key (stored decisions keep the name they were written with: their batch
    /// digests are over it) is one decision about one key.
    pub fn identity(&self) -> (&str, &str, &str, &str) {
        (
            &self.provider,
            &self.source,
            own_kind(&self.provider, &self.kind),
            &self.id,
        )
    }

    /// Keys, service accounts and resources have owners in recert's records; people do not.
    pub fn ownable(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "project_key" | "api_key" | "admin_key" | "service_account" | "resource"
        )
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for Target {}

impl std::hash::Hash for Target {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state)
    }
}

impl PartialOrd for Target {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Target {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}

/// A decision about to be recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDecision {
    pub verdict: Verdict,
    pub target: Target,
    /// What a person reading the record sees: an email, a key name, a project.
    pub label: String,
    /// The finding that prompted it, when it came from the gaps view.
    pub rule: Option<String>,
    /// The new owner's email (reassign).
    pub owner: Option<String>,
    /// Deferred until this day, `YYYY-MM-DD` (defer).
    pub until: Option<String>,
    pub justification: Option<String>,
}

/// A recorded decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub id: i64,
    /// Decisions made together (one keystroke over many marks) share a batch; undo works per batch.
    pub batch: i64,
    pub made_at: Ts,
    pub reviewer: String,
    pub snapshot_id: Option<i64>,
    pub undone: bool,
    #[serde(flatten)]
    pub d: NewDecision,
}

/// The decision that stands for each target: the latest one not undone.
pub fn effective(decisions: &[Decision]) -> Vec<&Decision> {
    let mut by: std::collections::HashMap<&Target, &Decision> = Default::default();
    for d in decisions.iter().filter(|d| !d.undone) {
        let e = by.entry(&d.d.target).or_insert(d);
        if d.id > e.id {
            *e = d;
        }
    }
    let mut out: Vec<&Decision> = by.into_values().collect();
    out.sort_by_key(|d| std::cmp::Reverse(d.id));
    out
}

/// recert's ownership records as the rules read them: `(source, id)` to the owner's email.
pub fn owner_records(decisions: &[Decision]) -> crate::reconcile::Owners {
    owners(decisions)
        .into_iter()
        .map(|(t, o)| ((t.source, t.id), o))
        .collect()
}

/// recert's ownership records: for each target, the owner of its latest reassign decision that
/// is not undone (a later certify or defer does not take the owner away).
pub fn owners(decisions: &[Decision]) -> std::collections::HashMap<Target, String> {
    let mut out = std::collections::HashMap::new();
    let mut sorted: Vec<&Decision> = decisions.iter().filter(|d| !d.undone).collect();
    sorted.sort_by_key(|d| d.id);
    for d in sorted {
        if let (Verdict::Reassign, Some(o)) = (d.d.verdict, &d.d.owner) {
            out.insert(d.d.target.clone(), o.clone());
        }
    }
    out
}

/// The furthest a deferral or a due date may be: ten years.
const MAX_DAYS: i64 = 3660;

/// `2026-12-31`, `+30d`, `+2w`, `+3m`: the day a deferral ends, relative to `today`; at most
/// ten years away, however it is written.
pub fn parse_until(s: &str, today: chrono::NaiveDate) -> Result<chrono::NaiveDate, String> {
    let s = s.trim();
    let far = || format!("'{s}': between 1 day and 10 years");
    if let Some(rel) = s.strip_prefix('+') {
        // The unit is the last character, whatever its width.
        let at = rel.char_indices().last().map_or(0, |(i, _)| i);
        let (n, unit) = rel.split_at(at);
        let n: i64 = n
            .parse()
            .map_err(|_| format!("'{s}': write +30d, +2w, +3m or +1y"))?;
        let per = match unit {
            "d" => 1,
            "w" => 7,
            "m" => 30,
            // As the filters count a year.
            "y" => 365,
            _ => return Err(format!("'{s}': the unit is d, w, m or y")),
        };
        let days = n.checked_mul(per).ok_or_else(far)?;
        if days <= 0 || days > MAX_DAYS {
            return Err(far());
        }
        return Ok(today + chrono::Duration::days(days));
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("'{s}' is not a date: write YYYY-MM-DD or +30d"))?;
    if d <= today {
        return Err(format!("{d} is not in the future"));
    }
    if (d - today).num_days() > MAX_DAYS {
        return Err(far());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(id: i64, id_: &str, v: Verdict, undone: bool) -> Decision {
        Decision {
            id,
            batch: id,
            made_at: 0,
            reviewer: "r".into(),
            snapshot_id: None,
            undone,
            d: NewDecision {
                verdict: v,
                target: Target::new("openai", "openai", "account", id_),
                label: id_.into(),
                rule: None,
                owner: None,
                until: None,
                justification: None,
            },
        }
    }

    #[test]
    fn the_latest_decision_not_undone_stands() {
        let ds = vec![
            dec(1, "a", Verdict::Certify, false),
            dec(2, "a", Verdict::Revoke, false),
            dec(3, "a", Verdict::Defer, true),
            dec(4, "b", Verdict::Certify, true),
        ];
        let e = effective(&ds);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].id, e[0].d.verdict), (2, Verdict::Revoke));
    }

    /// An OpenAI project key is one object whichever path named it: a finding names every
    /// user key `api_key`, the Keys view, an incident and an ownership record `project_key`.
    /// Two decisions on it stood side by side (a certify from Gaps did not stop a revoke
    /// from Keys, and the revoke was sent).
    #[test]
    fn a_key_named_two_ways_is_one_target_and_its_latest_decision_stands() {
        let mut gaps = dec(1, "key_1", Verdict::Certify, false);
        gaps.d.target = Target {
            provider: "openai".into(),
            source: "oa".into(),
            kind: "api_key".into(),
            id: "key_1".into(),
        };
        let mut keys = dec(2, "key_1", Verdict::Revoke, false);
        keys.d.target = Target::new("openai", "oa", "project_key", "key_1");
        assert_eq!(gaps.d.target, keys.d.target);
        let both = [gaps.clone(), keys.clone()];
        let e = effective(&both);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].d.verdict, Verdict::Revoke);
        gaps.id = 3;
        let both = [gaps, keys];
        let e = effective(&both);
        assert_eq!((e.len(), e[0].d.verdict), (1, Verdict::Certify));
        // New records name it by its own kind; stored ones keep the name they were written
        // with (their batch digests are over it).
        assert_eq!(
            Target::new("openai", "oa", "api_key", "k").kind,
            "project_key"
        );
        assert_eq!(
            Target::new("anthropic", "an", "api_key", "k").kind,
            "api_key"
        );
        assert!(Target::new("openai", "oa", "project_key", "k").kind_is("api_key"));
        assert!(!Target::new("anthropic", "an", "api_key", "k").kind_is("project_key"));
        // Other kinds stay apart: an admin key is not a project key.
        assert_ne!(
            Target::new("openai", "oa", "admin_key", "k"),
            Target::new("openai", "oa", "project_key", "k")
        );
    }

    #[test]
    fn owners_follow_the_latest_reassign_not_undone() {
        let mut a = dec(1, "sa", Verdict::Reassign, false);
        a.d.owner = Some("x@example.com".into());
        let mut b = dec(2, "sa", Verdict::Reassign, true);
        b.d.owner = Some("y@example.com".into());
        let c = dec(3, "sa", Verdict::Certify, false);
        let o = owners(&[c, b, a]);
        assert_eq!(o.len(), 1);
        assert_eq!(o.values().next().unwrap(), "x@example.com");
    }

    #[test]
    fn until_dates() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(
            parse_until("+30d", today).unwrap().to_string(),
            "2026-12-22"
        );
        assert_eq!(parse_until("+2w", today).unwrap().to_string(), "2026-12-06");
        assert_eq!(
            parse_until("2027-01-15", today).unwrap().to_string(),
            "2027-01-15"
        );
        assert!(
            parse_until("2026-11-22", today)
                .unwrap_err()
                .contains("future")
        );
        assert!(parse_until("+0d", today).is_err());
        // Ten years at most, however written; never an overflow or a cut inside a character
        // (`+2000000000000000000w` panicked the console, `9999-12-31` was taken).
        for far in [
            "+2000000000000000000w",
            "+614891469123651721m",
            "+9223372036854775807d",
            "+-5d",
            "9999-12-31",
            "2036-12-01",
        ] {
            assert!(
                parse_until(far, today).unwrap_err().contains("10 years"),
                "{far}"
            );
        }
        assert!(parse_until("2036-11-01", today).is_ok());
        for odd in ["+5é", "+€", "+", "+d"] {
            assert!(parse_until(odd, today).is_err(), "{odd}");
        }
        // Years as the filters count them (365 days), within the ten.
        assert_eq!(parse_until("+1y", today).unwrap().to_string(), "2027-11-22");
        assert!(parse_until("+20y", today).unwrap_err().contains("10 years"));
        assert!(parse_until("+3q", today).unwrap_err().contains("unit"));
        assert!(
            parse_until("tomorrow", today)
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );
    }
}
