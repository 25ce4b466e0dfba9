//! Certification campaigns: the frozen review population, reviewer routing, recommendations,
//! carry-forward and the closing policy. Pure: the store keeps campaigns and their items, the
//! CLI and the console drive them.
//!
//! The population is every grant SCIM cannot govern (the `scim-uncovered-grant` findings:
//! project and workspace memberships, group-derived roles, service accounts' memberships, keys),
//! narrowed by a [`Scope`]. Each item is routed to one reviewer by [`Routing`] (first matching
//! rule wins, a fallback catches the rest), gets at most one [`Recommendation`] (shown with the
//! rule and its evidence, never applied on its own), and, when the campaign is created since an
//! earlier one, is compared with it: unchanged items are pre-filled with the earlier decision.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{NewDecision, Target, Verdict};
use crate::model::{Finding, Person, SourceData, Ts};
use crate::reconcile::{Directory, Rules};

/// A campaign's header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub snapshot_id: i64,
    pub created_at: Ts,
    pub created_by: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    pub scope: Scope,
    pub routing: Routing,
    pub on_close: OnClose,
    pub since: Option<String>,
    pub closed_at: Option<Ts>,
    pub closed_by: Option<String>,
    pub cancelled_at: Option<Ts>,
    pub cancelled_by: Option<String>,
    pub cancel_reason: Option<String>,
}

impl Campaign {
    /// `open`, `closed` (decided and final) or `cancelled` (withdrawn; nothing of it stands).
    pub fn state(&self) -> &'static str {
        match (self.cancelled_at, self.closed_at) {
            (Some(_), _) => "cancelled",
            (None, Some(_)) => "closed",
            (None, None) => "open",
        }
    }

    /// Nothing can change in it any more.
    pub fn is_final(&self) -> bool {
        self.state() != "open"
    }

    /// Refuse a change to a closed or cancelled campaign, saying why and what to do.
    pub fn refuse_if_final(&self) -> Result<(), String> {
        match final_message(
            &self.name,
            self.closed_at.is_some(),
            self.cancelled_by.as_deref(),
        ) {
            Some(m) => Err(m),
            None => Ok(()),
        }
    }
}

/// What cancelling a campaign withdrew.
#[derive(Debug, Default)]
pub struct Cancelled {
    /// Staged (unsubmitted) decisions dropped.
    pub staged: usize,
    /// Submitted decisions withdrawn (marked undone: never planned).
    pub decisions: usize,
}

/// What a new campaign is made of.
pub struct NewCampaign<'a> {
    pub name: &'a str,
    pub snapshot_id: i64,
    pub due: &'a str,
    pub scope: &'a Scope,
    pub routing: &'a Routing,
    pub on_close: OnClose,
    pub since: Option<i64>,
}

/// One item as it stands: frozen facts, its current reviewer, and where its decision is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignItem {
    #[serde(flatten)]
    pub item: Item,
    /// The reviewer now (after any delegation); `item.reviewer` is who routing chose.
    pub assigned: String,
    /// A decision made but not yet submitted.
    pub staged: Option<NewDecision>,
    /// The submitted decision's id.
    pub decision_id: Option<i64>,
    /// `certify`, `revoke`, `reassign`, `defer`, or `no-change` (closing policy).
    pub outcome: Option<String>,
    /// The reviewer who submitted it, or `policy` (closed undecided).
    pub outcome_by: Option<String>,
}

impl CampaignItem {
    pub fn decided(&self) -> bool {
        self.outcome.is_some()
    }

    /// Where the item stands, in a word or two: `revoke ✓` (submitted), `certify (carried)`,
    /// `revoke (staged)`, or `—` (undecided).
    pub fn state_label(&self) -> String {
        match (&self.outcome, &self.staged) {
            (Some(o), _) => format!("{o} ✓"),
            (None, Some(st)) if self.item.carried.is_some() => {
                format!("{} (carried)", st.verdict.as_str())
            }
            (None, Some(st)) => format!("{} (staged)", st.verdict.as_str()),
            _ => "—".to_string(),
        }
    }
}

/// What a sign-off records about a queue: items, decided, and the count of each outcome.
pub fn sign_off_counts(queue: &[&CampaignItem]) -> serde_json::Value {
    let mut outcomes: std::collections::BTreeMap<&str, usize> = Default::default();
    for i in queue {
        *outcomes
            .entry(i.outcome.as_deref().unwrap_or("undecided"))
            .or_default() += 1;
    }
    let decided = queue.iter().filter(|i| i.decided()).count();
    serde_json::json!({"items": queue.len(), "decided": decided, "outcomes": outcomes})
}

/// A reviewer's sign-off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    pub reviewer: String,
    pub at: Ts,
    pub counts: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    pub seq: i64,
    pub from: String,
    pub to: String,
    pub reason: String,
    pub at: Ts,
}

/// Why nothing in a closed or cancelled campaign can change (`None` while it is open).
pub fn final_message(name: &str, closed: bool, cancelled_by: Option<&str>) -> Option<String> {
    match (cancelled_by, closed) {
        (Some(by), _) => Some(format!(
            "campaign {name} was cancelled by {by}: nothing in it can change (`recert campaign new` starts another)"
        )),
        (None, true) => Some(format!(
            "campaign {name} is closed: its decisions are final (start a new one with `recert campaign new --since {name}`)"
        )),
        (None, false) => None,
    }
}

const DAY: i64 = 86_400;
/// Recommend revoking what has not been used for this many days.
pub const UNUSED_DAYS: i64 = 90;
/// Recommend certifying what was used within this many days (and certified last time, unchanged).
pub const RECENT_DAYS: i64 = 30;

/// Which part of the population a campaign reviews. Each list is "any of"; empty keeps all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scope {
    pub providers: Vec<String>,
    pub sources: Vec<String>,
    /// Item kinds: `grant`, `project_key`, `api_key` (any user key), `admin_key`.
    pub kinds: Vec<String>,
    /// Resource ids or names (projects, workspaces).
    pub resources: Vec<String>,
    /// Gap rules the item must carry (every item carries `scim-uncovered-grant`).
    pub rules: Vec<String>,
    /// Directory attributes of the holder, `department=Sales`, `title=...`,
    /// `employee_type=Contractor` or `group=Admins`; all must hold.
    pub attrs: Vec<(String, String)>,
}

impl Scope {
    /// `department=Sales` → (`department`, `Sales`); the attributes recert can narrow by.
    pub fn parse_attr(s: &str) -> Result<(String, String), String> {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}': write ATTRIBUTE=VALUE, e.g. department=Sales"))?;
        let k = k.trim().to_lowercase();
        if !matches!(
            k.as_str(),
            "department" | "title" | "employee_type" | "group" | "active"
        ) {
            return Err(format!(
                "'{s}': the directory attributes are department, title, employee_type, group and active"
            ));
        }
        Ok((k, v.trim().to_string()))
    }
}

/// One routing rule: when every given condition matches the item, `reviewer` reviews it.
/// `reviewer` is `manager` (the holder's manager in the directory), `owner` (the owner in
/// recert's ownership records), an email, or `group:NAME` (any member of a directory group).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub reviewer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A resource id or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The holder's directory department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// How a campaign's items find their reviewers (`[review]` in the config).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    #[serde(rename = "route")]
    pub routes: Vec<Route>,
    /// Who reviews what no rule routes (an email or `group:NAME`).
    pub fallback: Option<String>,
    /// Let a person review their own access (off: such a rule is skipped for that item).
    pub allow_self_review: bool,
}

impl Routing {
    /// A rule that can never route is a configuration mistake: say so before freezing anything.
    pub fn check(&self) -> Result<(), String> {
        for (i, r) in self.routes.iter().enumerate() {
            let who = r.reviewer.trim();
            let ok = matches!(who, "manager" | "owner")
                || who.contains('@')
                || who.strip_prefix("group:").is_some_and(|g| !g.is_empty());
            if !ok {
                return Err(format!(
                    "routing rule {}: reviewer '{who}' is not manager, owner, an email or group:NAME",
                    i + 1
                ));
            }
        }
        match self.fallback.as_deref() {
            None => Err(
                "no fallback reviewer: set [review] fallback in the config or pass --fallback EMAIL, so no item is left without a reviewer".into(),
            ),
            Some(f) if !f.contains('@') && !f.starts_with("group:") => {
                Err(format!("fallback '{f}' is not an email or group:NAME"))
            }
            Some(_) => Ok(()),
        }
    }
}

/// What happens at close to items nobody decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OnClose {
    /// Recorded as "no change": access stays, nothing is certified.
    #[default]
    NoChange,
    Revoke,
    Certify,
}

impl OnClose {
    pub fn as_str(self) -> &'static str {
        match self {
            OnClose::NoChange => "no-change",
            OnClose::Revoke => "revoke",
            OnClose::Certify => "certify",
        }
    }
    pub fn parse(s: &str) -> Option<OnClose> {
        Some(match s {
            "no-change" => OnClose::NoChange,
            "revoke" => OnClose::Revoke,
            "certify" => OnClose::Certify,
            _ => return None,
        })
    }
    /// The verdict recorded for an undecided item, if any.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            OnClose::NoChange => None,
            OnClose::Revoke => Some(Verdict::Revoke),
            OnClose::Certify => Some(Verdict::Certify),
        }
    }
}

/// A suggestion with the rule that made it and the facts it rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    pub verdict: Verdict,
    pub rule: String,
    pub evidence: String,
}

/// How an item compares with the same target in the campaign it was created since.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Not in the earlier campaign.
    New,
    /// In it, but its role, path, resource, owner or status differs.
    Modified,
    Unchanged,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Modified => "modified",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One thing to review, frozen when the campaign is created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Position in the campaign, from 1.
    pub seq: i64,
    pub target: Target,
    /// What the grant or key is, in words.
    pub label: String,
    /// The holder's email (the account of a grant, the owner of a key), canonical.
    pub person: Option<String>,
    pub resource_id: Option<String>,
    pub resource: Option<String>,
    pub role: Option<String>,
    /// `direct`, `group:<id>`…
    pub via: Option<String>,
    /// The gap rules on this item or its holder's account besides `scim-uncovered-grant`.
    pub rules: Vec<String>,
    pub last_used: Option<Ts>,
    pub created_at: Option<Ts>,
    /// SHA-256 (16 hex) over the fields a reviewer certifies: what changes it makes it a new item.
    pub fingerprint: String,
    /// An email or `group:NAME`.
    pub reviewer: String,
    /// Which routing rule chose the reviewer, and which were skipped and why.
    pub routed_by: String,
    pub recommendation: Option<Recommendation>,
    /// Against the `--since` campaign; None when there is none.
    pub change: Option<Change>,
    /// The earlier campaign's outcome, pre-filled for an unchanged item.
    pub carried: Option<Verdict>,
}

/// What an earlier campaign concluded about a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Earlier {
    pub target: Target,
    pub fingerprint: String,
    pub outcome: Option<Verdict>,
}

/// A directory person as routing and recommendations see them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holder {
    pub email: String,
    pub active: bool,
    pub department: Option<String>,
    pub title: Option<String>,
    pub employee_type: Option<String>,
    /// The manager's email.
    pub manager: Option<String>,
    pub groups: Vec<String>,
}

/// Everything freezing a campaign reads.
pub struct Inputs<'a> {
    pub data: &'a SourceData,
    pub findings: &'a [Finding],
    pub rules: &'a Rules,
    /// The snapshot's time: what "unused for 90 days" is measured against.
    pub now: Ts,
    pub owners: &'a HashMap<Target, String>,
    pub scope: &'a Scope,
    pub routing: &'a Routing,
    /// The earlier campaign (`--since`, or the latest one) for carry-forward and the certify
    /// recommendation.
    pub earlier: Option<&'a [Earlier]>,
    /// Whether `earlier` was asked for with `--since` (then items are compared and pre-filled).
    pub carry_forward: bool,
}

/// Directory people by canonical email, with managers resolved to emails.
#[derive(Debug, Default)]
pub struct People {
    by_email: HashMap<String, Holder>,
    /// Members of each directory group (canonical emails).
    pub groups: HashMap<String, HashSet<String>>,
}

impl People {
    pub fn new(people: &[Person], dir: &Directory) -> People {
        let primary = |p: &Person| {
            dir.canonical(p.emails.first().map(String::as_str).unwrap_or(&p.user_name))
        };
        let by_id: HashMap<(&str, &str), &Person> = people
            .iter()
            .map(|p| ((p.source.as_str(), p.id.as_str()), p))
            .collect();
        let mut by_email = HashMap::new();
        let mut groups: HashMap<String, HashSet<String>> = HashMap::new();
        for p in people {
            let email = primary(p);
            // SCIM gives the manager's id; an HR export gives the manager's email.
            let manager = p.manager_id.as_deref().and_then(|m| {
                by_id
                    .get(&(p.source.as_str(), m))
                    .map(|mp| primary(mp))
                    .or_else(|| m.contains('@').then(|| dir.canonical(m)))
            });
            for g in &p.groups {
                groups.entry(g.clone()).or_default().insert(email.clone());
            }
            let h = Holder {
                email: email.clone(),
                active: p.is_current(),
                department: p.department.clone(),
                title: p.title.clone(),
                employee_type: p.employee_type.clone(),
                manager,
                groups: p.groups.clone(),
            };
            for e in &p.emails {
                by_email
                    .entry(dir.canonical(e))
                    .or_insert_with(|| h.clone());
            }
            by_email.entry(email).or_insert(h);
        }
        People { by_email, groups }
    }

    pub fn get(&self, email: Option<&str>) -> Option<&Holder> {
        self.by_email.get(email?)
    }

    /// Whether `reviewer` (an email or `group:NAME`) can review: an active person of the
    /// directory, or a directory group. The error says what is wrong and, for a near miss,
    /// "did you mean" the closest name the directory knows.
    pub fn check_reviewer(&self, reviewer: &str) -> Result<(), String> {
        if let Some(g) = reviewer.strip_prefix("group:") {
            if self.groups.contains_key(g) {
                return Ok(());
            }
            let hint = did_you_mean(g, self.groups.keys().map(String::as_str))
                .map(|c| format!(" (did you mean group:{c}?)"))
                .unwrap_or_default();
            return Err(format!("group:{g} is not a group of the directory{hint}"));
        }
        let email = crate::model::normalize_email(reviewer);
        match self.by_email.get(&email) {
            Some(h) if h.active => Ok(()),
            Some(_) => Err(format!(
                "{email} is not active in the directory: nobody would review these items"
            )),
            None => {
                let active = self
                    .by_email
                    .iter()
                    .filter(|(_, h)| h.active)
                    .map(|(e, _)| e.as_str());
                let hint = did_you_mean(&email, active)
                    .map(|c| format!(" (did you mean {c}?)"))
                    .unwrap_or_default();
                Err(format!("{email} is not a person of the directory{hint}"))
            }
        }
    }

    /// Whether `who` (an email) may act as `reviewer` (an email or `group:NAME`).
    pub fn acts_as(&self, who: &str, reviewer: &str) -> bool {
        let who = crate::model::normalize_email(who);
        match reviewer.strip_prefix("group:") {
            Some(g) => self.groups.get(g).is_some_and(|m| m.contains(&who)),
            None => crate::model::normalize_email(reviewer) == who,
        }
    }
}

/// The candidate closest to `typed` by edit distance, if it is a near miss (a few edits).
pub fn did_you_mean<'a>(typed: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_lowercase();
    let limit = (typed.chars().count() / 4).clamp(1, 4);
    candidates
        .map(|c| (edit_distance(&typed, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (up + 1).min(row[j] + 1).min(diag + usize::from(ca != *cb));
            diag = up;
        }
    }
    row[b.len()]
}

fn hash16(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    crate::model::text::hex(&h.finalize())[..16].to_string()
}

/// The population of the latest snapshot within `scope`, unrouted (reviewer empty).
pub fn population(i: &Inputs, dir: &Directory, people: &People) -> Vec<Item> {
    let d = i.data;
    // One grant per target: held both directly and through a group, the direct one, so the
    // item does not depend on the order the snapshot lists its grants in.
    let mut grants: HashMap<(&str, String), &crate::model::Grant> = HashMap::new();
    let rank = |g: &crate::model::Grant| (g.via != "direct", g.via.clone(), g.role.clone());
    for g in &d.grants {
        let key = (
            g.source.as_str(),
            format!("{}/{}", g.resource_id, g.principal_id),
        );
        match grants.get(&key) {
            Some(kept) if rank(kept) <= rank(g) => {}
            _ => {
                grants.insert(key, g);
            }
        }
    }
    let keys: HashMap<(&str, &str), &crate::model::Credential> = d
        .credentials
        .iter()
        .map(|c| ((c.source.as_str(), c.id.as_str()), c))
        .collect();
    let accounts: HashMap<(&str, &str), &crate::model::Account> = d
        .accounts
        .iter()
        .map(|a| ((a.source.as_str(), a.id.as_str()), a))
        .collect();
    let names = d.resource_names();
    // Other findings by (source, kind, id): a key's own, and an account's for its grants.
    let mut other: HashMap<(&str, &str, &str), Vec<&str>> = HashMap::new();
    for f in i
        .findings
        .iter()
        .filter(|f| f.rule != "scim-uncovered-grant")
    {
        let v = other
            .entry((&f.source, &f.subject_kind, &f.subject_id))
            .or_default();
        if !v.contains(&f.rule.as_str()) {
            v.push(&f.rule);
        }
    }
    let s = i.scope;
    let any = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
    let mut out = Vec::new();
    for f in i
        .findings
        .iter()
        .filter(|f| f.rule == "scim-uncovered-grant")
    {
        if !any(&s.providers, &f.provider) || !any(&s.sources, &f.source) {
            continue;
        }
        let mut rules: Vec<String> = other
            .get(&(
                f.source.as_str(),
                f.subject_kind.as_str(),
                f.subject_id.as_str(),
            ))
            .map(|v| v.iter().map(|r| r.to_string()).collect())
            .unwrap_or_default();
        let (resource_id, role, via, last_used, created_at, fingerprint);
        if f.subject_kind == "grant" {
            let Some(g) = grants.get(&(f.source.as_str(), f.subject_id.to_string())) else {
                continue;
            };
            let acct = accounts.get(&(g.source.as_str(), g.principal_id.as_str()));
            if let Some(v) = other.get(&(g.source.as_str(), "account", g.principal_id.as_str())) {
                for r in v {
                    if !rules.iter().any(|x| x == r) {
                        rules.push(r.to_string());
                    }
                }
            }
            resource_id = Some(g.resource_id.to_string());
            role = g.role.as_deref().map(str::to_string);
            via = Some(g.via.to_string());
            last_used = acct.and_then(|a| a.last_active_at);
            created_at = acct.and_then(|a| a.added_at);
            fingerprint = hash16(&[
                "grant",
                &g.principal_kind,
                &g.principal_id,
                &g.resource_id,
                g.role.as_deref().unwrap_or(""),
                &g.via,
            ]);
        } else {
            let Some(c) = keys.get(&(f.source.as_str(), f.subject_id.as_str())) else {
                continue;
            };
            resource_id = c.resource_id.clone();
            role = None;
            via = None;
            last_used = c.last_used_at;
            created_at = c.created_at;
            let owner = c
                .owner
                .as_ref()
                .map(|o| format!("{}:{}", o.kind, o.id))
                .unwrap_or_default();
            fingerprint = hash16(&[
                &c.kind,
                c.resource_id.as_deref().unwrap_or(""),
                &owner,
                c.owner_access.as_deref().unwrap_or(""),
                c.status.as_deref().unwrap_or(""),
                &c.expires_at.map(|t| t.to_string()).unwrap_or_default(),
            ]);
        }
        let resource = resource_id.as_deref().map(|r| {
            names
                .get(&(f.source.as_str(), r))
                .copied()
                .unwrap_or(r)
                .to_string()
        });
        if !s.resources.is_empty()
            && !s.resources.iter().any(|x| {
                Some(x.as_str()) == resource_id.as_deref()
                    || Some(x.as_str()) == resource.as_deref()
            })
        {
            continue;
        }
        if !s.rules.is_empty()
            && !s
                .rules
                .iter()
                .any(|r| r == "scim-uncovered-grant" || rules.contains(r))
        {
            continue;
        }
        let person = f.subject_email.as_deref().map(|e| dir.canonical(e));
        let holder = people.get(person.as_deref());
        let attrs_hold = s.attrs.iter().all(|(k, v)| match (k.as_str(), holder) {
            ("department", Some(h)) => h.department.as_deref() == Some(v.as_str()),
            ("title", Some(h)) => h.title.as_deref() == Some(v.as_str()),
            ("employee_type", Some(h)) => h
                .employee_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(v)),
            ("group", Some(h)) => h.groups.iter().any(|g| g == v),
            ("active", Some(h)) => h.active.to_string() == v.to_lowercase(),
            _ => false,
        });
        if !attrs_hold {
            continue;
        }
        rules.sort();
        // A key is named by its own kind (`project_key`…), as ownership records name it.
        let kind = match keys.get(&(f.source.as_str(), f.subject_id.as_str())) {
            Some(c) if f.subject_kind != "grant" => c.kind.as_str(),
            _ => f.subject_kind.as_str(),
        };
        if !any(&s.kinds, kind) && !any(&s.kinds, &f.subject_kind) {
            continue;
        }
        out.push(Item {
            seq: out.len() as i64 + 1,
            target: Target::new(&f.provider, &f.source, kind, &f.subject_id),
            label: f.detail.clone(),
            person,
            resource_id,
            resource,
            role,
            via,
            rules,
            last_used,
            created_at,
            fingerprint,
            reviewer: String::new(),
            routed_by: String::new(),
            recommendation: None,
            change: None,
            carried: None,
        });
    }
    out
}

/// The reviewer of one item: the first rule that matches and resolves to someone other than
/// the holder (unless self-review is allowed), else the fallback. Returns (reviewer, why).
pub fn route(
    item: &Item,
    routing: &Routing,
    people: &People,
    owners: &HashMap<Target, String>,
) -> (String, String) {
    let holder = people.get(item.person.as_deref());
    let mut skipped = Vec::new();
    for (n, r) in routing.routes.iter().enumerate() {
        let n = n + 1;
        let cond = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| Some(w) == have)
        };
        let matches = cond(&r.provider, Some(&item.target.provider))
            && cond(&r.source, Some(&item.target.source))
            && r.kind.as_deref().is_none_or(|k| item.target.kind_is(k))
            && (r.resource.is_none()
                || cond(&r.resource, item.resource_id.as_deref())
                || cond(&r.resource, item.resource.as_deref()))
            && r.rule
                .as_deref()
                .is_none_or(|want| item.rules.iter().any(|x| x == want))
            && cond(&r.department, holder.and_then(|h| h.department.as_deref()));
        if !matches {
            continue;
        }
        let (who, what) = match r.reviewer.trim() {
            "manager" => match holder.and_then(|h| h.manager.clone()) {
                Some(m) => (m, "manager of the holder".to_string()),
                None => {
                    skipped.push(format!("rule {n} (manager): the holder has no manager"));
                    continue;
                }
            },
            "owner" => match owners.get(&item.target) {
                Some(o) => (
                    crate::model::normalize_email(o),
                    "recorded owner".to_string(),
                ),
                None => {
                    skipped.push(format!("rule {n} (owner): no recorded owner"));
                    continue;
                }
            },
            named => (named.to_string(), "named reviewer".to_string()),
        };
        if !routing.allow_self_review
            && let Some(p) = &item.person
            && people.acts_as(p, &who)
        {
            skipped.push(format!("rule {n}: {who} would review their own access"));
            continue;
        }
        let mut why = format!("rule {n}: {what}");
        if !skipped.is_empty() {
            why = format!("{why} ({} skipped)", skipped.join("; "));
        }
        return (who, why);
    }
    let fallback = routing.fallback.clone().unwrap_or_default();
    let mut why = "fallback".to_string();
    if !skipped.is_empty() {
        why = format!("{why} ({})", skipped.join("; "));
    }
    if !routing.allow_self_review
        && let Some(p) = &item.person
        && people.acts_as(p, &fallback)
    {
        why.push_str("; the fallback is the holder: self-review flagged for the auditor");
    }
    (fallback, why)
}

/// Who else holds each (source, resource, role), by department: for the peer rule.
pub struct Peers {
    by_entitlement: HashMap<(String, String, String), BTreeMap<String, usize>>,
}

impl Peers {
    pub fn new(items: &[Item], people: &People) -> Peers {
        let mut by_entitlement: HashMap<(String, String, String), BTreeMap<String, usize>> =
            HashMap::new();
        let mut seen = HashSet::new();
        for it in items.iter().filter(|i| i.target.kind == "grant") {
            let Some(h) = people.get(it.person.as_deref()) else {
                continue;
            };
            let key = entitlement(it);
            if seen.insert((key.clone(), h.email.clone())) {
                *by_entitlement
                    .entry(key)
                    .or_default()
                    .entry(h.department.clone().unwrap_or_default())
                    .or_default() += 1;
            }
        }
        Peers { by_entitlement }
    }
}

fn entitlement(it: &Item) -> (String, String, String) {
    (
        it.target.source.clone(),
        it.resource_id.clone().unwrap_or_default(),
        it.role.clone().unwrap_or_default(),
    )
}

/// The recommendation for one item, rules in this order (first that fires wins):
/// 1. `inactive-holder`: the holder is inactive or gone from the directory → revoke;
/// 2. `unused-90d`: not used for 90 days → revoke;
/// 3. `no-department-peer`: nobody else in the holder's department holds the same role on the
///    same resource → revoke;
/// 4. `used-and-certified`: used in the last 30 days and certified last campaign with nothing
///    changed → certify.
pub fn recommend(
    it: &Item,
    people: &People,
    peers: &Peers,
    earlier: Option<&Earlier>,
    now: Ts,
) -> Option<Recommendation> {
    let rec = |verdict, rule: &str, evidence: String| Recommendation {
        verdict,
        rule: rule.into(),
        evidence,
    };
    let holder = people.get(it.person.as_deref());
    if let Some(p) = &it.person {
        match holder {
            Some(h) if !h.active => {
                return Some(rec(
                    Verdict::Revoke,
                    "inactive-holder",
                    format!("{p} is inactive or removed in the directory"),
                ));
            }
            None if it.target.kind == "grant" => {
                return Some(rec(
                    Verdict::Revoke,
                    "inactive-holder",
                    format!("{p} is not in the directory"),
                ));
            }
            _ => {}
        }
    }
    let days = |t: Ts| (now - t) / DAY;
    match (it.last_used, it.created_at) {
        (Some(t), _) if days(t) >= UNUSED_DAYS => {
            return Some(rec(
                Verdict::Revoke,
                "unused-90d",
                format!("last used {} days ago", days(t)),
            ));
        }
        (None, Some(c)) if it.target.kind != "grant" && days(c) >= UNUSED_DAYS => {
            return Some(rec(
                Verdict::Revoke,
                "unused-90d",
                format!("no recorded use, created {} days ago", days(c)),
            ));
        }
        _ => {}
    }
    if it.target.kind == "grant"
        && let Some(h) = holder
        && let Some(dept) = &h.department
        && let Some(by_dept) = peers.by_entitlement.get(&entitlement(it))
    {
        let same = by_dept.get(dept).copied().unwrap_or(0);
        if same <= 1 {
            let others: usize = by_dept.values().sum::<usize>() - same;
            return Some(rec(
                Verdict::Revoke,
                "no-department-peer",
                format!(
                    "nobody else in {dept} is {} of {} ({others} holder(s) in other departments)",
                    it.role.as_deref().unwrap_or("member"),
                    it.resource.as_deref().unwrap_or("the resource")
                ),
            ));
        }
    }
    if let (Some(t), Some(e)) = (it.last_used, earlier)
        && days(t) <= RECENT_DAYS
        && e.outcome == Some(Verdict::Certify)
        && e.fingerprint == it.fingerprint
    {
        return Some(rec(
            Verdict::Certify,
            "used-and-certified",
            format!(
                "used {} days ago; certified last campaign, unchanged since",
                days(t)
            ),
        ));
    }
    None
}

/// Freeze a campaign: the population, routed, with recommendations, compared with the earlier
/// campaign when asked.
pub fn freeze(i: &Inputs) -> Vec<Item> {
    let dir = Directory::new(&i.data.people, i.rules);
    let people = People::new(&i.data.people, &dir);
    let mut items = population(i, &dir, &people);
    let peers = Peers::new(&items, &people);
    let earlier: HashMap<&Target, &Earlier> = i
        .earlier
        .unwrap_or(&[])
        .iter()
        .map(|e| (&e.target, e))
        .collect();
    for it in &mut items {
        let (who, why) = route(it, i.routing, &people, i.owners);
        it.reviewer = who;
        it.routed_by = why;
        let before = earlier.get(&it.target).copied();
        it.recommendation = recommend(it, &people, &peers, before, i.now);
        if i.carry_forward {
            it.change = Some(match before {
                None => Change::New,
                Some(e) if e.fingerprint != it.fingerprint => Change::Modified,
                Some(_) => Change::Unchanged,
            });
            if it.change == Some(Change::Unchanged) {
                it.carried = before.and_then(|e| e.outcome);
            }
        }
    }
    items
}

/// Targets of the earlier campaign no longer in the population (removed since).
pub fn removed_since<'a>(items: &[Item], earlier: &'a [Earlier]) -> Vec<&'a Earlier> {
    let now: HashSet<&Target> = items.iter().map(|i| &i.target).collect();
    earlier
        .iter()
        .filter(|e| !now.contains(&e.target))
        .collect()
}

/// `due in 9 days`, `due today` or `3 days overdue`, for a due day `YYYY-MM-DD`.
pub fn due_in(due: &str, today: chrono::NaiveDate) -> String {
    match chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d").map(|d| (d - today).num_days()) {
        Ok(0) => "due today".into(),
        Ok(n) if n > 0 => format!("due in {n} days"),
        Ok(n) => format!("{} days overdue", -n),
        Err(_) => format!("due {due}"),
    }
}

#[cfg(test)]
mod tests;
