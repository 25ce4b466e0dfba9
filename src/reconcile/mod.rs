//! Identity resolution and the gap rules. Pure: a snapshot's data and a context (the clock,
//! thresholds, ownership records) in, findings out, in a deterministic order whatever the order
//! of the input. Each rule is a small function with a stable id, a severity, a one-line
//! explanation and its evidence in the finding's detail.

pub mod digest;
mod footprint;
mod identity;
mod idp;
pub mod provenance;

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use serde::Deserialize;

use crate::model::{Account, Credential, Finding, Grant, Severity, SourceData, Ts};
pub use footprint::{AppSaid, Footprint, History, Said, footprint, said};
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
        "outside-idp",
        Severity::High,
        "An account the identity provider does not assign the platform's app to: access granted outside the IdP, which SCIM will never take away.",
    ),
    (
        "failed-deprovision",
        Severity::High,
        "The identity provider's deprovisioning push to the platform failed, or succeeded while the account is still there: the push did not land.",
    ),
    (
        "upcoming-leaver",
        Severity::Medium,
        "A person whose leave date is near still holds standing access: pre-stage the revokes.",
    ),
    (
        "dormant-sign-in",
        Severity::Medium,
        "No sign-in to the identity provider for a long time, yet the person holds provider access.",
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
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
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
    /// A person whose leave date is at most this many days away is an upcoming leaver.
    pub leave_notice_days: i64,
    /// No sign-in to the identity provider for more than this many days is dormant.
    pub dormant_sign_in_days: i64,
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
            leave_notice_days: 14,
            dormant_sign_in_days: 90,
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
    /// recert's ownership records.
    pub owners: Owners,
}

/// recert's ownership records: `(source, id)` of a key, service account or resource, to the
/// email of the person recorded as its owner (the latest reassign decision not undone).
pub type Owners = std::collections::HashMap<(String, String), String>;

/// Where a key's accountable owner came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// recert's ownership record for the key itself.
    Record,
    /// The user the provider says owns (or created) the key.
    Provider,
    /// The recorded owner of the service account the key runs as.
    Inferred,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Record => "record",
            Via::Provider => "provider",
            Via::Inferred => "inferred",
        }
    }
}

/// The person who answers for a key, and where that came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accountable {
    /// An email, or (for a provider user whose email is unknown) the provider's name or id.
    pub who: Arc<str>,
    pub via: Via,
}

/// Who answers for a key: recert's record for the key; else the user the provider says owns
/// it (`email_of(source, account id)` finds an email the key itself does not carry); else the
/// recorded owner of the service account it runs as. A service account is never an owner:
/// with no record, its keys have none.
pub fn accountable(
    c: &Credential,
    owners: &Owners,
    email_of: impl Fn(&str, &str) -> Option<Arc<str>>,
) -> Option<Accountable> {
    let recorded = |id: &str| owners.get(&(c.source.clone(), id.to_string()));
    if let Some(o) = recorded(&c.id) {
        return Some(Accountable {
            who: o.as_str().into(),
            via: Via::Record,
        });
    }
    let o = c.owner.as_ref()?;
    if o.kind == "service_account" {
        return recorded(&o.id).map(|e| Accountable {
            who: e.as_str().into(),
            via: Via::Inferred,
        });
    }
    let who = arc(&o.email)
        .or_else(|| email_of(&c.source, &o.id))
        .or_else(|| arc(&o.name))
        .unwrap_or_else(|| o.id.as_str().into());
    Some(Accountable {
        who,
        via: Via::Provider,
    })
}

impl Context {
    pub fn at(now: Ts) -> Context {
        Context {
            now,
            ..Default::default()
        }
    }
}

/// A provider as people write it: `OpenAI`, `Anthropic`, `Cursor`.
pub fn provider_label(p: &str) -> &str {
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
    id: impl Into<compact_str::CompactString>,
    email: Option<Arc<str>>,
    detail: String,
) -> Finding {
    Finding {
        rule: rule.into(),
        severity: severity(rule),
        provider: provider.into(),
        source: source.into(),
        subject_kind: kind.into(),
        subject_id: id.into(),
        subject_email: email,
        detail,
    }
}

/// Every finding for the data of one snapshot, sorted by severity, rule, provider, subject.
pub fn reconcile(d: &SourceData, cx: &Context) -> Vec<Finding> {
    let (dir, ix) = rayon::join(|| Directory::new(&d.people, &cx.rules), || Index::new(d));
    let (mut parts, out) = rayon::join(|| grants(&dir, d, cx, &ix), || others(&dir, d, cx, &ix));
    parts.push(out);
    sorted(parts)
}

/// Grants are the bulk (a million in a large org): both cores, in chunks.
fn grants(dir: &Directory, d: &SourceData, cx: &Context, ix: &Index) -> Vec<Vec<Finding>> {
    use rayon::prelude::*;
    d.grants
        .par_chunks(8192)
        .map(|chunk| {
            let mut out = Vec::with_capacity(chunk.len());
            for g in chunk {
                grant_rules(dir, g, cx, ix, &mut out);
            }
            out
        })
        .collect()
}

/// Every rule but the grants': accounts, keys, service accounts, invites.
fn others(dir: &Directory, d: &SourceData, cx: &Context, ix: &Index) -> Vec<Finding> {
    let mut out = Vec::new();
    accounts(dir, d, cx, &ix.facts, &mut out);
    idp::rules(dir, d, cx, &mut out);
    let live = |c: &&Credential| c.usable() && !ix.inert(&c.source, c.resource_id.as_deref());
    for c in d.credentials.iter().filter(live) {
        if matches!(c.kind.as_str(), "project_key" | "api_key") {
            out.extend(orphaned_key(dir, c, ix, cx));
        }
        out.extend(key_age(c, cx, owner_email(c, ix, cx)));
        if c.kind == "admin_key" && c.expires_at.is_none() {
            out.push(finding(
                "admin-key-no-expiry",
                &c.provider,
                &c.source,
                "admin_key",
                c.id.clone(),
                owner_email(c, ix, cx),
                format!("{} never expires (it has no expiry date)", key_label(c)),
            ));
        }
        out.push(finding(
            "scim-uncovered-grant",
            &c.provider,
            &c.source,
            key_kind(c),
            c.id.clone(),
            owner_email(c, ix, cx),
            format!("{} in {}", key_label(c), ix.resource_name(c)),
        ));
    }
    for s in &d.service_accounts {
        if ix.inert(&s.source, s.resource_id.as_deref()) {
            continue;
        }
        if !cx.owners.contains_key(&(s.source.clone(), s.id.clone())) {
            let name = s.name.as_deref().unwrap_or(&s.id);
            let project = s
                .resource_id
                .as_deref()
                .map(|r| ix.name(&s.source, r))
                .unwrap_or("the org");
            let suggested = match provenance::suggested_owner(&ix.facts, dir, &s.source, &s.id) {
                Some(x) => format!(
                    "; suggested owner {}, who created it {} on {} ({} audit log)",
                    x.email,
                    x.how,
                    day(x.created_at),
                    provider_label(&s.provider)
                ),
                None => String::new(),
            };
            out.push(finding(
                "unowned-service-account",
                &s.provider,
                &s.source,
                "service_account",
                s.id.clone(),
                None,
                format!("'{name}' in {project} has no recorded owner{suggested}"),
            ));
        }
    }
    // A service account the snapshot does not list (Anthropic lists them to OAuth apps only)
    // is known by the live keys it made or acts as: the same gap when nobody owns it.
    let unlisted = d.unlisted_service_accounts(|c| live(&c));
    for ((source, id), (provider, keys)) in unlisted {
        if cx
            .owners
            .contains_key(&(source.to_string(), id.to_string()))
        {
            continue;
        }
        let more = match keys.len() - 1 {
            0 => String::new(),
            1 => " and 1 more key".into(),
            n => format!(" and {n} more keys"),
        };
        out.push(finding(
            "unowned-service-account",
            provider,
            source,
            "service_account",
            id.to_string(),
            None,
            format!(
                "{id}, known by its {}{more}, has no recorded owner ({} lists service accounts to OAuth apps only)",
                key_label(keys[0]),
                provider_label(provider)
            ),
        ));
    }
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
                arc(&i.email),
                why.join(", "),
            ));
        }
    }
    out
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

/// Merge and sort findings held in parts, by (severity, rule) in `rule_order`, then provider,
/// source, subject kind and subject id, then detail and email so that equal subjects still sort
/// the same whatever the input order. A million findings: comparing their strings directly
/// chases pointers for every comparison, so each finding gets a small key (its group's rank and
/// the first 24 bytes of its subject id), the keys are sorted on all cores, the few runs of equal
/// keys are settled by the full strings, and each finding is moved once, into its place.
fn sorted(mut parts: Vec<Vec<Finding>>) -> Vec<Finding> {
    use rayon::prelude::*;
    type Group<'a> = (usize, Severity, &'a str, &'a str, &'a str, &'a str);
    fn group_of<'a>(f: &'a Finding, rank_of_rule: &[usize]) -> Group<'a> {
        let rank = RULES
            .iter()
            .position(|r| r.0 == f.rule)
            .map_or(usize::MAX, |i| rank_of_rule[i]);
        (
            rank,
            f.severity,
            &f.rule,
            &f.provider,
            &f.source,
            &f.subject_kind,
        )
    }
    fn prefix(id: &str) -> [u64; 3] {
        let mut b = [0u8; 24];
        let n = id.len().min(24);
        b[..n].copy_from_slice(&id.as_bytes()[..n]);
        let word = |i: usize| u64::from_be_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        [word(0), word(1), word(2)]
    }
    parts.retain(|p| !p.is_empty());
    let mut offsets = Vec::with_capacity(parts.len() + 1);
    let mut total = 0usize;
    for p in &parts {
        offsets.push(total);
        total += p.len();
    }
    offsets.push(total);
    let at = |g: u32| {
        let p = offsets.partition_point(|&o| o <= g as usize) - 1;
        (p, g as usize - offsets[p])
    };
    // Groups: distinct (rule, severity, provider, source, kind), few, ranked in output order.
    let mut rank_of_rule = [usize::MAX; RULES.len()];
    for (rank, i) in rule_order().into_iter().enumerate() {
        rank_of_rule[i] = rank;
    }
    let mut groups: Vec<Group> = parts
        .par_iter()
        .flat_map_iter(|p| {
            let mut g: Vec<Group> = p.iter().map(|f| group_of(f, &rank_of_rule)).collect();
            g.dedup();
            g.sort_unstable();
            g.dedup();
            g
        })
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let ranks: HashMap<Group, u32> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (*g, i as u32))
        .collect();
    let mut keys: Vec<(u32, [u64; 3], u32)> = parts
        .par_iter()
        .enumerate()
        .flat_map_iter(|(n, p)| {
            let base = offsets[n] as u32;
            let (ranks, rank_of_rule) = (&ranks, &rank_of_rule);
            // Neighbours mostly share a group: compare with the last before hashing.
            let mut last: Option<(Group, u32)> = None;
            p.iter().enumerate().map(move |(i, f)| {
                let g = group_of(f, rank_of_rule);
                let rank = match last {
                    Some((l, r)) if l == g => r,
                    _ => {
                        let r = ranks[&g];
                        last = Some((g, r));
                        r
                    }
                };
                (rank, prefix(&f.subject_id), base + i as u32)
            })
        })
        .collect();
    drop(ranks);
    keys.par_sort_unstable();
    // Runs of equal keys (long ids sharing 24 bytes, or one subject twice): the full strings.
    let get = |g: u32| {
        let (p, i) = at(g);
        &parts[p][i]
    };
    let full = |a: &(u32, [u64; 3], u32), b: &(u32, [u64; 3], u32)| {
        let (x, y) = (get(a.2), get(b.2));
        (&x.subject_id, &x.detail, &x.subject_email).cmp(&(
            &y.subject_id,
            &y.detail,
            &y.subject_email,
        ))
    };
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        while end < keys.len() && keys[end].0 == keys[start].0 && keys[end].1 == keys[start].1 {
            end += 1;
        }
        if end - start > 1 {
            keys[start..end].sort_by(full);
        }
        start = end;
    }
    // Move each finding once, from its part into its place, on all cores. The parts give up
    // their findings first (length 0, memory kept until the end), so a panic can only leak.
    let bases: Vec<usize> = parts.iter().map(|p| p.as_ptr() as usize).collect();
    for p in &mut parts {
        // SAFETY: the findings stay in the allocation; `out` takes each of them exactly once.
        unsafe { p.set_len(0) };
    }
    let mut out: Vec<Finding> = Vec::with_capacity(total);
    out.spare_capacity_mut()[..total]
        .par_chunks_mut(8192)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (j, slot) in chunk.iter_mut().enumerate() {
                let (p, i) = at(keys[c * 8192 + j].2);
                // SAFETY: `keys` holds every index below `total` exactly once (built above from
                // every finding and only reordered), so each finding is read once; its part no
                // longer owns it (length 0) and its memory lives until `parts` drops below.
                let f = unsafe { std::ptr::read((bases[p] as *const Finding).add(i)) };
                slot.write(f);
            }
        });
    // SAFETY: every slot below `total` was written above.
    unsafe { out.set_len(total) };
    drop(parts);
    out
}

/// Lookups shared by the rules.
/// An account, with its email shared by every finding that names it.
type Indexed<'a> = (&'a Account, Option<Arc<str>>);

struct Index<'a> {
    accounts: HashMap<(&'a str, &'a str), Indexed<'a>>,
    names: HashMap<(&'a str, &'a str), &'a str>,
    archived: crate::model::Archived<'a>,
    facts: provenance::Facts<'a>,
}

impl<'a> Index<'a> {
    fn new(d: &'a SourceData) -> Index<'a> {
        Index {
            accounts: d
                .accounts
                .iter()
                .map(|a| ((a.source.as_str(), a.id.as_str()), (a, arc(&a.email))))
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
            archived: crate::model::Archived::new(d),
            facts: provenance::Facts::new(d),
        }
    }

    /// Does `resource` sit in an archived container? What lives there grants nothing (and
    /// cannot be changed), so it raises no finding.
    fn inert(&self, source: &str, resource: Option<&str>) -> bool {
        resource.is_some_and(|r| self.archived.container(source, r).is_some())
    }

    fn name<'b>(&'b self, source: &str, id: &'b str) -> &'b str {
        self.names.get(&(source, id)).copied().unwrap_or(id)
    }

    fn resource_name(&self, c: &Credential) -> String {
        c.place(|p| self.name(&c.source, p).to_string())
    }

    fn email(&self, source: &str, id: &str) -> Option<Arc<str>> {
        self.accounts
            .get(&(source, id))
            .and_then(|(_, e)| e.clone())
    }

    fn account(&self, source: &str, id: &str) -> Option<&'a Account> {
        self.accounts.get(&(source, id)).map(|(a, _)| *a)
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

/// The email of the person who answers for a key (`accountable`), where there is one.
fn owner_email(c: &Credential, ix: &Index, cx: &Context) -> Option<Arc<str>> {
    match accountable(c, &cx.owners, |s, id| ix.email(s, id))? {
        a if a.via != Via::Provider => Some(a.who),
        _ => provider_email(c, ix),
    }
}

/// The email of the user the provider says owns a key.
fn provider_email(c: &Credential, ix: &Index) -> Option<Arc<str>> {
    let o = c.owner.as_ref().filter(|o| o.kind == "user")?;
    arc(&o.email).or_else(|| ix.email(&c.source, &o.id))
}

/// A time as the day it falls on (UTC), as evidence says dates.
pub fn day(t: Ts) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// An email as findings hold it.
fn arc(email: &Option<String>) -> Option<Arc<str>> {
    email.as_deref().map(Arc::from)
}

/// `leaver-with-access` (one per person and provider source), `unmanaged-account`,
/// `ambiguous-identity`, `dormant-account`, and `privileged-drift` for org roles.
fn accounts(
    dir: &Directory,
    d: &SourceData,
    cx: &Context,
    facts: &provenance::Facts,
    out: &mut Vec<Finding>,
) {
    let mut leavers: BTreeMap<(String, String), Vec<(&Account, Standing)>> = BTreeMap::new();
    let key_use = last_key_use(d);
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
                arc(&a.email),
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
                arc(&a.email),
                format!("{n} directory people have this email; account on {p}{role}"),
            )),
        }
        let keys_used = key_use.get(&(a.source.as_str(), a.id.as_str())).copied();
        if let Some((quiet, what)) = quiet(a, keys_used, cx, facts)
            && quiet > cx.rules.dormant_account_days * DAY
        {
            out.push(finding(
                "dormant-account",
                &a.provider,
                &a.source,
                "account",
                a.id.clone(),
                arc(&a.email),
                format!("{what}; account on {p}{role}"),
            ));
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
        let (a, _) = accts[0];
        let p = provider_label(&a.provider);
        let state = dir
            .gone(a.email.as_deref())
            .unwrap_or_else(|| "gone from the directory".into());
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
            arc(&a.email),
            detail,
        ));
    }
}

/// Per (source, user id): the last use of any key the snapshot says that user owns. A seat
/// whose person uses their keys is not dormant, whatever the account's own field says (the
/// person view counts the same keys).
fn last_key_use(d: &SourceData) -> HashMap<(&str, &str), Ts> {
    let mut out: HashMap<(&str, &str), Ts> = HashMap::default();
    for c in &d.credentials {
        let (Some(o), Some(t)) = (&c.owner, c.last_used_at) else {
            continue;
        };
        if o.kind == "user" {
            let at = out.entry((c.source.as_str(), o.id.as_str())).or_insert(t);
            *at = (*at).max(t);
        }
    }
    out
}

/// How many days a seat has been quiet, and the evidence: its last reported activity (its
/// own, or the last use of a key it owns, `keys_used`; or, where the provider reports activity
/// over a window and the account had none in it, the window's start), and, where logins were
/// read, its last login, or none since the logins' span began (or since the account was
/// added, if later).
fn quiet(
    a: &Account,
    keys_used: Option<Ts>,
    cx: &Context,
    facts: &provenance::Facts,
) -> Option<(Ts, String)> {
    let days = |t: Ts| (cx.now - t) / DAY;
    // Key use makes a seat less quiet, never judges one whose own activity is not known (a
    // report that could not be read, a field the provider left out).
    let known = a.last_active_at.is_some() || a.activity_from.is_some();
    let seen = a.last_active_at.max(keys_used.filter(|_| known));
    // Activity reported over a window the account was quiet in: the window's start, unless
    // a key of theirs was used since.
    let window = a.activity_from.filter(|f| seen.is_none_or(|s| *f > s));
    let Some(from) = facts.logins_from(&a.source) else {
        let (last, what) = match (window, seen) {
            (Some(f), _) => (
                f,
                format!("no activity reported in the last {} days", days(f)),
            ),
            (None, Some(s)) => (s, format!("no activity for {} days", days(s))),
            (None, None) => return None,
        };
        return Some((cx.now - last, what));
    };
    let login = facts
        .get(&a.source, "account", &a.id, "last_login")
        .map(|p| p.at);
    let key = window.or(seen);
    let last = [Some(from), login, key, a.added_at]
        .into_iter()
        .flatten()
        .max()?;
    let login = match login {
        Some(t) => format!("last login {}", day(t)),
        None if a.added_at.is_some_and(|t| t > from) => "no login since added".to_string(),
        None => format!("no login in the last {} days", days(from)),
    };
    let key = match seen {
        Some(t) => format!("last key use {}", day(t)),
        None => "no key use on record".to_string(),
    };
    let span = if last == from {
        format!("no activity in at least the last {} days", days(last))
    } else {
        format!("no activity for {} days", days(last))
    };
    Some((cx.now - last, format!("{span} ({login}, {key})")))
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
/// groups are configured; never judged for an ambiguous identity, nor for someone whose
/// directory's groups could not be read.
fn drift(
    dir: &Directory,
    cx: &Context,
    a: &Account,
    kind: &str,
    id: impl Into<compact_str::CompactString>,
    what: String,
) -> Option<Finding> {
    if cx.rules.admin_groups.is_empty() {
        return None;
    }
    if matches!(dir.standing(a.email.as_deref()), Standing::Ambiguous(_)) {
        return None;
    }
    let people = a.email.as_deref().map(|e| dir.people(e)).unwrap_or(&[]);
    // Their directory's groups could not be read: whether they are in one is unknown.
    if people.iter().any(|p| !p.groups_known) {
        return None;
    }
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
        arc(&a.email),
        format!(
            "{what}; not in the admin groups ({})",
            cx.rules.admin_groups.join(", ")
        ),
    ))
}

/// Per grant: `scim-uncovered-grant`, and `privileged-drift` for project/workspace owner/admin.
fn grant_rules(dir: &Directory, g: &Grant, cx: &Context, ix: &Index, out: &mut Vec<Finding>) {
    // Membership of a group SCIM manages is governed by the directory already.
    if g.via == "scim" || ix.inert(&g.source, Some(&g.resource_id)) {
        return;
    }
    // A million of these: the strings are joined by hand (`format!` costs twice as much).
    let join = |parts: &[&str]| {
        let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        parts.iter().for_each(|p| s.push_str(p));
        s
    };
    let mut id =
        compact_str::CompactString::with_capacity(g.resource_id.len() + 1 + g.principal_id.len());
    id.push_str(&g.resource_id);
    id.push('/');
    id.push_str(&g.principal_id);
    let resource = ix.name(&g.source, &g.resource_id);
    let account = ix.account(&g.source, &g.principal_id);
    let email = ix.email(&g.source, &g.principal_id);
    let role = g.role.as_deref().unwrap_or("member");
    let (via, through) = via_words(&g.via, |id| ix.name(&g.source, id));
    let detail = join(&[
        &principal_label(&g.principal_kind),
        " is ",
        role,
        " of ",
        resource,
        via,
        through,
    ]);
    if g.principal_kind == "user" && privileged_resource_role(&g.provider, g.role.as_deref()) {
        let who = account.cloned().unwrap_or_else(|| Account {
            source: g.source.to_string(),
            provider: g.provider.to_string(),
            id: g.principal_id.to_string(),
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
            id.clone(),
            format!("{role} of {resource}"),
        ));
    }
    out.push(finding(
        "scim-uncovered-grant",
        &g.provider,
        &g.source,
        "grant",
        id,
        email,
        detail,
    ));
}

/// How a grant came to be, as findings and `recert person` say it: nothing for a direct
/// grant, ` via group NAME` for a provider group (`group:ID`; `name` looks its id up, the id
/// itself where the snapshot names no such group), ` via SOURCE` for anything else. A head and
/// a tail, so a million grants are joined without another string each.
pub fn via_words<'a>(
    via: &'a str,
    name: impl FnOnce(&'a str) -> &'a str,
) -> (&'static str, &'a str) {
    match via.strip_prefix("group:") {
        Some(id) => (" via group ", name(id)),
        None if via == "direct" => ("", ""),
        None => (" via ", via),
    }
}

/// A principal kind as words: `service_account` is "service account".
fn principal_label(kind: &str) -> std::borrow::Cow<'_, str> {
    if kind.contains('_') {
        kind.replace('_', " ").into()
    } else {
        kind.into()
    }
}

/// `orphaned-key`: a key nobody current answers for. The user it runs as at the provider left
/// the directory, left the org or lost access; or recert's recorded owner (of the key, or of the
/// service account it runs as) has left. After a reassign to someone current, a key that still
/// runs as a departed user stays a finding, routed to its new owner, saying what is left: rotate.
fn orphaned_key(dir: &Directory, c: &Credential, ix: &Index, cx: &Context) -> Option<Finding> {
    let mut reasons = Vec::new();
    let runs_as = c.owner.as_ref().filter(|o| o.kind == "user");
    let runs_as_email = provider_email(c, ix);
    if let Some(owner) = runs_as {
        if let Some(g) = dir.gone(runs_as_email.as_deref()) {
            reasons.push(format!("owner {g}"));
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
    }
    let recorded =
        accountable(c, &cx.owners, |s, id| ix.email(s, id)).filter(|a| a.via != Via::Provider);
    // A service account's key nobody is recorded as owning: the person who created it answers
    // for it, as the provider's audit log names them; one who has left leaves it an orphan.
    let service = c.owner.as_ref().filter(|o| o.kind == "service_account");
    if let Some(sa) = service
        && recorded.is_none()
        && let Some(p) = ix.facts.key_creator(&c.source, &c.id, &sa.id)
        && let Some(g) = dir.gone(p.actor_email.as_deref())
    {
        let what = if p.subject_kind == "api_key" {
            "it"
        } else {
            "its service account"
        };
        reasons.push(format!(
            "no recorded owner, and {} who made {what} ({}, {}) has left: {g}",
            p.actor_email.as_deref().unwrap_or_default(),
            provenance::how(p),
            day(p.at)
        ));
    }
    let place = format!("{} in {}", key_label(c), ix.resource_name(c));
    let detail = match &recorded {
        None if reasons.is_empty() => return None,
        None => format!("{}; {place}", reasons.join(", ")),
        Some(a) => match dir.gone(Some(&a.who)) {
            Some(g) => format!("recorded owner {} {g}; {place}", a.who),
            None if reasons.is_empty() => return None,
            None => {
                let was = runs_as_email
                    .as_deref()
                    .or(runs_as.map(|o| o.id.as_str()))
                    .unwrap_or("its creator");
                format!(
                    "owned by {} ({}), but the key still runs as {was} at {} ({}): rotate it; {place}",
                    a.who,
                    a.via.as_str(),
                    provider_label(&c.provider),
                    reasons.join(", ")
                )
            }
        },
    };
    Some(finding(
        "orphaned-key",
        &c.provider,
        &c.source,
        "api_key",
        c.id.clone(),
        owner_email(c, ix, cx),
        detail,
    ))
}

/// `dormant-key` (where the provider reports use: OpenAI keys carry `last_used_at`) and
/// `unrotated-key`.
fn key_age(c: &Credential, cx: &Context, email: Option<Arc<str>>) -> Vec<Finding> {
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
