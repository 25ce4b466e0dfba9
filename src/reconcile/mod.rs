//! Identity resolution and the gap rules. Pure: a snapshot's data and a context (the clock,
//! thresholds, ownership records) in, findings out, in a deterministic order whatever the order
//! of the input. Each rule is a small function with a stable id, a severity, a one-line
//! explanation and its evidence in the finding's detail.

mod footprint;
mod identity;

use std::collections::{BTreeMap, HashSet};

use rustc_hash::FxHashMap as HashMap;

use serde::Deserialize;

use crate::model::{Account, Credential, Finding, Grant, Severity, SourceData, Ts};
pub use footprint::{Footprint, footprint};
pub use identity::{Directory, Standing};

const DAY: i64 = 86_400;

/// Every rule: id, severity, what it means.
pub const RULES: &[(&str, Severity, &str)] = &[
    (
        "leaver-with-access",
        Severity::Critical,
        "The directory says this person has left, but the provider still lets them in.",
    ),
    (
        "orphaned-key",
        Severity::Critical,
        "An API key whose owner has left, lost access, or is gone: nobody answers for it.",
    ),
    (
        "unmanaged-account",
        Severity::High,
        "A provider account that no directory person explains: SCIM cannot govern it.",
    ),
    (
        "unowned-service-account",
        Severity::High,
        "A service account nobody has been recorded as owning.",
    ),
    (
        "admin-key-no-expiry",
        Severity::High,
        "An admin key that never expires: org-wide power with no end date.",
    ),
    (
        "privileged-drift",
        Severity::High,
        "Owner or admin power held by someone outside the directory's admin groups.",
    ),
    (
        "dormant-key",
        Severity::Medium,
        "A key nobody has used for a long time, or never used: revoke it or explain it.",
    ),
    (
        "unrotated-key",
        Severity::Medium,
        "An active key older than the rotation period.",
    ),
    (
        "ambiguous-identity",
        Severity::Medium,
        "An account that could belong to more than one directory person: recert will not guess.",
    ),
    (
        "dormant-account",
        Severity::Low,
        "A seat with no activity for a long time.",
    ),
    (
        "stale-invite",
        Severity::Low,
        "A pending invite that is old, or for someone the directory does not know.",
    ),
    (
        "scim-uncovered-grant",
        Severity::Info,
        "Access SCIM cannot govern: the population a review must cover.",
    ),
];

/// Whether `rule` names a rule.
pub fn is_rule(rule: &str) -> bool {
    RULES.iter().any(|r| r.0 == rule)
}

/// The one-line explanation of a rule.
pub fn explain(rule: &str) -> &'static str {
    RULES
        .iter()
        .find(|r| r.0 == rule)
        .map(|r| r.2)
        .unwrap_or("")
}

/// Thresholds and identity settings (`[rules]` in the config). Defaults as documented.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// A key unused for more than this many days is dormant.
    pub dormant_key_days: i64,
    /// A key never used and older than this many days is dormant.
    pub never_used_key_days: i64,
    /// An active key older than this many days is unrotated.
    pub unrotated_key_days: i64,
    /// A seat with no activity for more than this many days is dormant.
    pub dormant_account_days: i64,
    /// A pending invite older than this many days is stale.
    pub stale_invite_days: i64,
    /// Directory groups whose members may hold owner/admin roles. Empty: `privileged-drift` is off.
    pub admin_groups: Vec<String>,
    /// Extra company domains: `"corp.example" = "example.com"` matches alice@corp.example to
    /// alice@example.com.
    pub domain_aliases: BTreeMap<String, String>,
    /// Individual aliases: `"bob@example.com" = "robert@example.com"`.
    pub email_aliases: BTreeMap<String, String>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            dormant_key_days: 90,
            never_used_key_days: 30,
            unrotated_key_days: 180,
            dormant_account_days: 60,
            stale_invite_days: 14,
            admin_groups: Vec::new(),
            domain_aliases: BTreeMap::new(),
            email_aliases: BTreeMap::new(),
        }
    }
}

/// What a reconciliation is judged against besides the data.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The present for time-based rules: the snapshot's time, so a snapshot always reads the same.
    pub now: Ts,
    pub rules: Rules,
    /// `(source, service account id)` with an owner in recert's ownership records.
    pub owned: HashSet<(String, String)>,
}

impl Context {
    pub fn at(now: Ts) -> Context {
        Context {
            now,
            ..Default::default()
        }
    }
}

fn provider_label(p: &str) -> &str {
    match p {
        "openai" => "OpenAI",
        "anthropic" => "Anthropic",
        "cursor" => "Cursor",
        other => other,
    }
}

fn severity(rule: &str) -> Severity {
    RULES
        .iter()
        .find(|r| r.0 == rule)
        .map(|r| r.1)
        .expect("a known rule")
}

fn finding(
    rule: &str,
    provider: &str,
    source: &str,
    kind: &str,
    id: String,
    email: Option<String>,
    detail: String,
) -> Finding {
    Finding {
        rule: rule.into(),
        severity: severity(rule),
        provider: provider.into(),
        source: source.into(),
        subject_kind: kind.into(),
        subject_id: id,
        subject_email: email,
        detail,
    }
}

/// Every finding for the data of one snapshot, sorted by severity, rule, provider, subject.
pub fn reconcile(d: &SourceData, cx: &Context) -> Vec<Finding> {
    let dir = Directory::new(&d.people, &cx.rules);
    let ix = Index::new(d);
    let mut out = Vec::new();
    accounts(&dir, d, cx, &mut out);
    for c in d.credentials.iter().filter(|c| c.usable()) {
        if matches!(c.kind.as_str(), "project_key" | "api_key") {
            out.extend(orphaned_key(&dir, c, &ix));
        }
        out.extend(key_age(c, cx, owner_email(c, &ix)));
        if c.kind == "admin_key" && c.expires_at.is_none() {
            out.push(finding(
                "admin-key-no-expiry",
                &c.provider,
                &c.source,
                "admin_key",
                c.id.clone(),
                owner_email(c, &ix),
                format!("{} has no expires_at", key_label(c)),
            ));
        }
        out.push(finding(
            "scim-uncovered-grant",
            &c.provider,
            &c.source,
            key_kind(c),
            c.id.clone(),
            owner_email(c, &ix),
            format!("{} in {}", key_label(c), ix.resource_name(c)),
        ));
    }
    for s in &d.service_accounts {
        if !cx.owned.contains(&(s.source.clone(), s.id.clone())) {
            let name = s.name.as_deref().unwrap_or(&s.id);
            let project = s
                .resource_id
                .as_deref()
                .map(|r| ix.name(&s.source, r))
                .unwrap_or("the org");
            out.push(finding(
                "unowned-service-account",
                &s.provider,
                &s.source,
                "service_account",
                s.id.clone(),
                None,
                format!("'{name}' in {project} has no recorded owner"),
            ));
        }
    }
    // Grants are the bulk (a million in a large org): both cores, in chunks.
    use rayon::prelude::*;
    let mut parts: Vec<Vec<Finding>> = d
        .grants
        .par_chunks(8192)
        .map(|chunk| {
            chunk
                .iter()
                .flat_map(|g| grant_rules(&dir, g, cx, &ix))
                .collect()
        })
        .collect();
    for i in &d.invites {
        let pending = i.status.as_deref() == Some("pending");
        if !pending {
            continue;
        }
        let old = i
            .created_at
            .is_some_and(|t| cx.now - t > cx.rules.stale_invite_days * DAY);
        let stranger = matches!(dir.standing(i.email.as_deref()), Standing::Unknown);
        if old || stranger {
            let mut why = Vec::new();
            if old {
                why.push(format!(
                    "pending for {} days",
                    (cx.now - i.created_at.unwrap_or(cx.now)) / DAY
                ));
            }
            if stranger {
                why.push("no directory person has this email".to_string());
            }
            out.push(finding(
                "stale-invite",
                &i.provider,
                &i.source,
                "invite",
                i.id.clone(),
                i.email.clone(),
                why.join(", "),
            ));
        }
    }
    parts.push(out);
    sorted(parts)
}

/// Rules in output order: by severity, then by id.
fn rule_order() -> Vec<usize> {
    let mut order: Vec<usize> = (0..RULES.len()).collect();
    order.sort_by(|&a, &b| (RULES[a].1, RULES[a].0).cmp(&(RULES[b].1, RULES[b].0)));
    order
}

/// Sort findings by severity, rule, provider, source, subject kind and subject id.
pub fn sort(findings: &mut Vec<Finding>) {
    let all = std::mem::take(findings);
    *findings = sorted(vec![all]);
}

/// Merge and sort findings held in parts. Each part is consumed as it is split by rule, and each
/// rule's findings are sorted on all cores comparing only what differs within a rule.
fn sorted(parts: Vec<Vec<Finding>>) -> Vec<Finding> {
    use rayon::prelude::*;
    let total = parts.iter().map(Vec::len).sum();
    let mut buckets: Vec<Vec<Finding>> = (0..RULES.len()).map(|_| Vec::new()).collect();
    let mut unknown = Vec::new();
    for part in parts {
        for f in part {
            match RULES.iter().position(|r| r.0 == f.rule) {
                Some(i) => buckets[i].push(f),
                None => unknown.push(f),
            }
        }
    }
    buckets.par_iter_mut().for_each(|b| sort_bucket(b));
    let mut out = Vec::with_capacity(total);
    for i in rule_order() {
        out.append(&mut buckets[i]);
    }
    // Findings from outside the catalogue cannot be made by `reconcile`; kept for completeness.
    unknown.sort_by(|a, b| {
        (
            a.severity,
            &a.rule,
            &a.provider,
            &a.source,
            &a.subject_kind,
            &a.subject_id,
        )
            .cmp(&(
                b.severity,
                &b.rule,
                &b.provider,
                &b.source,
                &b.subject_kind,
                &b.subject_id,
            ))
    });
    out.append(&mut unknown);
    out
}

fn sort_bucket(b: &mut [Finding]) {
    use rayon::prelude::*;
    b.par_sort_unstable_by(|x, y| {
        (&x.provider, &x.source, &x.subject_kind, &x.subject_id).cmp(&(
            &y.provider,
            &y.source,
            &y.subject_kind,
            &y.subject_id,
        ))
    });
}

/// Lookups shared by the rules.
struct Index<'a> {
    accounts: HashMap<(&'a str, &'a str), &'a Account>,
    names: HashMap<(&'a str, &'a str), &'a str>,
}

impl<'a> Index<'a> {
    fn new(d: &'a SourceData) -> Index<'a> {
        Index {
            accounts: d
                .accounts
                .iter()
                .map(|a| ((a.source.as_str(), a.id.as_str()), a))
                .collect(),
            names: d
                .resources
                .iter()
                .map(|r| {
                    (
                        (r.source.as_str(), r.id.as_str()),
                        r.name.as_deref().unwrap_or(r.id.as_str()),
                    )
                })
                .collect(),
        }
    }

    fn name<'b>(&'b self, source: &str, id: &'b str) -> &'b str {
        self.names.get(&(source, id)).copied().unwrap_or(id)
    }

    fn resource_name(&self, c: &Credential) -> String {
        match c.resource_id.as_deref() {
            Some(p) => self.name(&c.source, p).to_string(),
            None if c.provider == "anthropic" => "the Default Workspace".into(),
            None if c.kind == "admin_key" => "the org".into(),
            None => "its project".into(),
        }
    }

    fn account(&self, source: &str, id: &str) -> Option<&'a Account> {
        self.accounts.get(&(source, id)).copied()
    }
}

fn key_kind(c: &Credential) -> &'static str {
    if c.kind == "admin_key" {
        "admin_key"
    } else {
        "api_key"
    }
}

fn key_label(c: &Credential) -> String {
    let what = if c.kind == "admin_key" {
        "admin key"
    } else {
        "key"
    };
    match (&c.name, &c.redacted) {
        (Some(n), Some(r)) => format!("{what} '{n}' ({r})"),
        (Some(n), None) => format!("{what} '{n}'"),
        (None, Some(r)) => format!("{what} {r}"),
        (None, None) => what.to_string(),
    }
}

fn owner_email(c: &Credential, ix: &Index) -> Option<String> {
    let o = c.owner.as_ref()?;
    o.email
        .clone()
        .or_else(|| ix.account(&c.source, &o.id).and_then(|a| a.email.clone()))
}

/// `leaver-with-access` (one per person and provider source), `unmanaged-account`,
/// `ambiguous-identity`, `dormant-account`, and `privileged-drift` for org roles.
fn accounts(dir: &Directory, d: &SourceData, cx: &Context, out: &mut Vec<Finding>) {
    let mut leavers: BTreeMap<(String, String), Vec<(&Account, Standing)>> = BTreeMap::new();
    for a in &d.accounts {
        let p = provider_label(&a.provider);
        let role = a
            .role
            .as_deref()
            .map(|r| format!(", role {r}"))
            .unwrap_or_default();
        let standing = dir.standing(a.email.as_deref());
        match standing {
            Standing::Current => {}
            Standing::Inactive | Standing::Absent => {
                let person = dir.person_key(a.email.as_deref()).unwrap_or_default();
                leavers
                    .entry((person, a.source.clone()))
                    .or_default()
                    .push((a, standing));
            }
            Standing::Unknown => out.push(finding(
                "unmanaged-account",
                &a.provider,
                &a.source,
                "account",
                a.id.clone(),
                a.email.clone(),
                match &a.email {
                    Some(_) => format!("no directory person has this email; account on {p}{role}"),
                    None => format!("the account on {p} has no email to match{role}"),
                },
            )),
            Standing::Ambiguous(n) => out.push(finding(
                "ambiguous-identity",
                &a.provider,
                &a.source,
                "account",
                a.id.clone(),
                a.email.clone(),
                format!("{n} directory people have this email; account on {p}{role}"),
            )),
        }
        // The last reported activity, or, where the provider reports activity over a window
        // and the account had none in it, the window's start.
        if let Some(last) = a.last_active_at.or(a.activity_from) {
            let days = (cx.now - last) / DAY;
            if cx.now - last > cx.rules.dormant_account_days * DAY {
                let what = if a.last_active_at.is_some() {
                    format!("no activity for {days} days")
                } else {
                    format!("no activity reported in the last {days} days")
                };
                out.push(finding(
                    "dormant-account",
                    &a.provider,
                    &a.source,
                    "account",
                    a.id.clone(),
                    a.email.clone(),
                    format!("{what}; account on {p}{role}"),
                ));
            }
        }
        if privileged_org_role(&a.provider, a.role.as_deref())
            && let Some(f) = drift(
                dir,
                cx,
                a,
                "account",
                a.id.clone(),
                format!("{} of the {p} org", a.role.as_deref().unwrap_or("")),
            )
        {
            out.push(f);
        }
    }
    for ((_, _), mut accts) in leavers {
        accts.sort_by(|x, y| x.0.id.cmp(&y.0.id));
        let (a, standing) = accts[0];
        let p = provider_label(&a.provider);
        let state = if standing == Standing::Absent {
            "removed from the directory"
        } else {
            "inactive in the directory"
        };
        let detail = if accts.len() == 1 {
            let role = a
                .role
                .as_deref()
                .map(|r| format!(", role {r}"))
                .unwrap_or_default();
            format!("{state}, still has an account on {p}{role}")
        } else {
            let ids: Vec<&str> = accts.iter().map(|(x, _)| x.id.as_str()).collect();
            format!(
                "{state}, still has {} accounts on {p}: {}",
                accts.len(),
                ids.join(", ")
            )
        };
        out.push(finding(
            "leaver-with-access",
            &a.provider,
            &a.source,
            "account",
            a.id.clone(),
            a.email.clone(),
            detail,
        ));
    }
}

fn privileged_org_role(provider: &str, role: Option<&str>) -> bool {
    matches!(
        (provider, role.unwrap_or("")),
        ("openai", "owner")
            | ("anthropic", "admin" | "owner" | "primary_owner")
            | ("cursor", "owner" | "free-owner")
    )
}

fn privileged_resource_role(provider: &str, role: Option<&str>) -> bool {
    matches!(
        (provider, role.unwrap_or("")),
        ("openai", "owner") | ("anthropic", "workspace_admin")
    )
}

/// `privileged-drift`: power held by someone the admin groups do not include. Off when no admin
/// groups are configured; never judged for an ambiguous identity.
fn drift(
    dir: &Directory,
    cx: &Context,
    a: &Account,
    kind: &str,
    id: String,
    what: String,
) -> Option<Finding> {
    if cx.rules.admin_groups.is_empty() {
        return None;
    }
    if matches!(dir.standing(a.email.as_deref()), Standing::Ambiguous(_)) {
        return None;
    }
    let people = a.email.as_deref().map(|e| dir.people(e)).unwrap_or(&[]);
    let admin = people
        .iter()
        .any(|p| p.is_current() && p.groups.iter().any(|g| cx.rules.admin_groups.contains(g)));
    if admin {
        return None;
    }
    Some(finding(
        "privileged-drift",
        &a.provider,
        &a.source,
        kind,
        id,
        a.email.clone(),
        format!(
            "{what}; not in the admin groups ({})",
            cx.rules.admin_groups.join(", ")
        ),
    ))
}

/// Per grant: `scim-uncovered-grant`, and `privileged-drift` for project/workspace owner/admin.
fn grant_rules(dir: &Directory, g: &Grant, cx: &Context, ix: &Index) -> Vec<Finding> {
    let mut out = Vec::new();
    // Membership of a group SCIM manages is governed by the directory already.
    if g.via == "scim" {
        return out;
    }
    let id = format!("{}/{}", g.resource_id, g.principal_id);
    let resource = ix.name(&g.source, &g.resource_id);
    let account = ix.account(&g.source, &g.principal_id);
    let email = account.and_then(|a| a.email.clone());
    let role = g.role.as_deref().unwrap_or("member");
    let via = if g.via == "direct" {
        String::new()
    } else {
        format!(" via {}", g.via)
    };
    out.push(finding(
        "scim-uncovered-grant",
        &g.provider,
        &g.source,
        "grant",
        id.clone(),
        email,
        format!(
            "{} is {role} of {resource}{via}",
            g.principal_kind.replace('_', " ")
        ),
    ));
    if g.principal_kind == "user" && privileged_resource_role(&g.provider, g.role.as_deref()) {
        let who = account.cloned().unwrap_or_else(|| Account {
            source: g.source.clone(),
            provider: g.provider.clone(),
            id: g.principal_id.clone(),
            email: None,
            name: None,
            role: None,
            added_at: None,
            last_active_at: None,
            scim_managed: None,
            activity_from: None,
        });
        out.extend(drift(
            dir,
            cx,
            &who,
            "grant",
            id,
            format!("{role} of {resource}"),
        ));
    }
    out
}

/// `orphaned-key`: a user key whose owner left the directory, left the org, or lost access.
fn orphaned_key(dir: &Directory, c: &Credential, ix: &Index) -> Option<Finding> {
    let owner = c.owner.as_ref().filter(|o| o.kind == "user")?;
    let email = owner_email(c, ix);
    let mut reasons = Vec::new();
    match dir.standing(email.as_deref()) {
        Standing::Inactive => reasons.push("owner inactive in the directory".to_string()),
        Standing::Absent => reasons.push("owner removed from the directory".to_string()),
        Standing::Current | Standing::Unknown | Standing::Ambiguous(_) => {}
    }
    if ix.account(&c.source, &owner.id).is_none() {
        reasons.push(format!(
            "owner no longer in the {} org",
            provider_label(&c.provider)
        ));
    }
    if c.owner_access.as_deref() == Some("inactive") {
        reasons.push("owner lost access to the project".to_string());
    }
    if reasons.is_empty() {
        return None;
    }
    Some(finding(
        "orphaned-key",
        &c.provider,
        &c.source,
        "api_key",
        c.id.clone(),
        email,
        format!(
            "{}; {} in {}",
            reasons.join(", "),
            key_label(c),
            ix.resource_name(c)
        ),
    ))
}

/// `dormant-key` (where the provider reports use: OpenAI keys carry `last_used_at`) and
/// `unrotated-key`.
fn key_age(c: &Credential, cx: &Context, email: Option<String>) -> Vec<Finding> {
    let mut out = Vec::new();
    let r = &cx.rules;
    let kind = key_kind(c);
    let label = key_label(c);
    // OpenAI keys carry `last_used_at`; Anthropic's come from its usage report, read for the
    // last 90 days, so "never" there means "not in that window".
    let reports_use = matches!(c.provider.as_str(), "openai" | "anthropic");
    if reports_use {
        let never = if c.provider == "anthropic" {
            "no use in the last 90 days of usage reports"
        } else {
            "never used"
        };
        let dormant = match (c.last_used_at, c.created_at) {
            (Some(t), _) if cx.now - t > r.dormant_key_days * DAY => {
                Some(format!("last used {} days ago", (cx.now - t) / DAY))
            }
            (None, Some(t)) if cx.now - t > r.never_used_key_days * DAY => {
                Some(format!("{never}, created {} days ago", (cx.now - t) / DAY))
            }
            _ => None,
        };
        if let Some(why) = dormant {
            out.push(finding(
                "dormant-key",
                &c.provider,
                &c.source,
                kind,
                c.id.clone(),
                email.clone(),
                format!("{label}: {why}"),
            ));
        }
    }
    if let Some(t) = c.created_at
        && cx.now - t > r.unrotated_key_days * DAY
    {
        out.push(finding(
            "unrotated-key",
            &c.provider,
            &c.source,
            kind,
            c.id.clone(),
            email,
            format!("{label}: created {} days ago", (cx.now - t) / DAY),
        ));
    }
    out
}

#[cfg(test)]
mod tests;
