//! The domain, pure data. Every object carries the configured `source` it came from and the
//! provider's own id, so `(source, id)` is stable across syncs.

pub mod text;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, UTC.
pub type Ts = i64;

/// What a configured source speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    OpenAi,
    Anthropic,
    Cursor,
    Scim,
    /// An HR export read from a file.
    Csv,
    /// An Okta org, read through its management API.
    Okta,
    /// A Microsoft Entra ID tenant, read through Microsoft Graph.
    Entra,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::OpenAi => "openai",
            SourceKind::Anthropic => "anthropic",
            SourceKind::Cursor => "cursor",
            SourceKind::Scim => "scim",
            SourceKind::Csv => "csv",
            SourceKind::Okta => "okta",
            SourceKind::Entra => "entra",
        }
    }
    pub fn parse(s: &str) -> Option<SourceKind> {
        match s {
            "openai" => Some(SourceKind::OpenAi),
            "anthropic" => Some(SourceKind::Anthropic),
            "cursor" => Some(SourceKind::Cursor),
            "scim" => Some(SourceKind::Scim),
            "csv" => Some(SourceKind::Csv),
            "okta" => Some(SourceKind::Okta),
            "entra" => Some(SourceKind::Entra),
            _ => None,
        }
    }
    /// The provider name used in findings (`openai`, later `anthropic`, `cursor`); the directory is `directory`.
    pub fn provider(self) -> &'static str {
        match self {
            SourceKind::OpenAi => "openai",
            SourceKind::Anthropic => "anthropic",
            SourceKind::Cursor => "cursor",
            SourceKind::Scim | SourceKind::Csv | SourceKind::Okta | SourceKind::Entra => {
                "directory"
            }
        }
    }
}

/// A person in the directory (one SCIM User).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub source: String,
    pub id: String,
    pub user_name: String,
    /// Every email the directory holds for the person, primary first.
    pub emails: Vec<String>,
    pub display_name: Option<String>,
    pub active: bool,
    /// Seen in an earlier directory sync but no longer listed: deleted from the directory.
    pub absent: bool,
    pub external_id: Option<String>,
    pub department: Option<String>,
    /// Job title (SCIM core `title`, a CSV `title` column): tells two people of one name apart.
    #[serde(default)]
    pub title: Option<String>,
    pub manager_id: Option<String>,
    /// Display names of the directory groups the person is a member of.
    pub groups: Vec<String>,
    /// Whether `groups` is known: false when the directory's groups could not be read (a
    /// server error, a missing permission, no Groups endpoint), so that a rule needing them
    /// (`privileged-drift`) makes no judgement instead of reading "in no group".
    #[serde(default = "known")]
    pub groups_known: bool,
    /// The relationship to the organisation, as the directory says it (`Employee`,
    /// `Contractor`...): SCIM and Okta `userType`, Entra `employeeType`, a CSV
    /// `employee_type` column.
    #[serde(default)]
    pub employee_type: Option<String>,
    /// What an identity provider says beyond who the person is: last sign-in, leave date.
    #[serde(default)]
    pub signals: Signals,
}

/// What an identity provider (Okta, Entra) reports about a person's presence: their last
/// sign-in and their leave date. Empty for a SCIM or CSV directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// Whether the directory reports sign-ins at all (Okta's `lastLogin`; Entra's
    /// `signInActivity`, which needs a P1/P2 licence and `AuditLog.Read.All`). Without it,
    /// `dormant-sign-in` makes no judgement.
    pub sign_in_known: bool,
    /// The last successful sign-in to the identity provider; none on record when unset.
    pub last_sign_in: Option<Ts>,
    /// When the person leaves, or left (Entra's `employeeLeaveDateTime`; an Okta profile
    /// attribute named by the source's `leave_attribute`).
    pub leave_at: Option<Ts>,
    /// When the directory made the person: someone newer than the sign-in threshold who has
    /// not signed in yet is a new hire, not dormant.
    #[serde(default)]
    pub created_at: Option<Ts>,
}

fn known() -> bool {
    true
}

impl Person {
    /// Active and still listed in the directory.
    pub fn is_current(&self) -> bool {
        self.active && !self.absent
    }
}

/// A user account on a provider (an OpenAI org user).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub source: String,
    pub provider: String,
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
    pub added_at: Option<Ts>,
    pub last_active_at: Option<Ts>,
    pub scim_managed: Option<bool>,
    /// Where the provider reports activity over a window (Cursor daily usage): its start. No
    /// activity in the window then means none since at least this time.
    pub activity_from: Option<Ts>,
}

/// A container of access: an OpenAI project, group or custom role, an Anthropic workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub source: String,
    pub provider: String,
    pub kind: String,
    pub id: String,
    pub name: Option<String>,
    pub archived: bool,
    pub created_at: Option<Ts>,
    /// The resource this one lives in: a custom project role's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// A short piece of text the model holds by the million (a source, a provider, a role, an id):
/// up to 24 bytes inline, no allocation of its own; longer ones go to the heap.
pub type Label = compact_str::CompactString;

/// Who holds which role on what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub source: Label,
    pub provider: Label,
    /// `user` or `service_account`.
    pub principal_kind: Label,
    pub principal_id: Label,
    pub resource_id: Label,
    pub role: Option<Label>,
    /// Where the grant came from: `direct`, `group:<id>` or `scim`.
    pub via: Label,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    pub source: String,
    pub provider: String,
    pub id: String,
    pub resource_id: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
    pub created_at: Option<Ts>,
}

/// Who a credential belongs to, as the provider reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// `user` or `service_account`.
    pub kind: String,
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

impl Credential {
    /// How a person names the key: `NAME (REDACTED)`, whichever of the two it has, else its
    /// id. One label for every list and decision.
    pub fn label(&self) -> String {
        match (&self.name, &self.redacted) {
            (Some(n), Some(r)) => format!("{n} ({r})"),
            (Some(x), None) | (None, Some(x)) => x.clone(),
            (None, None) => self.id.clone(),
        }
    }

    /// What the key lives in, as its provider says it: `workspace` (Anthropic), `project`
    /// (an OpenAI project key), `scope` for a key above them (an admin key).
    pub fn container_word(&self) -> &'static str {
        match (self.provider.as_str(), self.kind.as_str()) {
            (_, "admin_key") => "scope",
            ("anthropic", _) => "workspace",
            _ => "project",
        }
    }

    /// Where the key lives, in words: `name` of its resource (the resource's name from the
    /// snapshot, else its id), or what a key without one belongs to: Anthropic's Default
    /// Workspace, the org for an admin key. One phrase for findings and the console.
    pub fn place(&self, name: impl FnOnce(&str) -> String) -> String {
        match self.resource_id.as_deref() {
            Some(p) => name(p),
            None if self.kind == "admin_key" => "the org".into(),
            None if self.provider == "anthropic" => "the Default Workspace".into(),
            None => "its project".into(),
        }
    }

    /// A key the provider would still accept.
    pub fn usable(&self) -> bool {
        self.status.as_deref().is_none_or(|s| s == "active")
    }

    /// How many whole days the key has gone unused at `now`, and whether that is only a floor:
    /// Anthropic's keys report use through its usage report, read [`USAGE_REPORT_DAYS`] back,
    /// so a key with no use in it, older than that, has gone unused *at least* that long (not
    /// since it was made). `None`: no date to count from.
    pub fn unused_days(&self, now: Ts) -> Option<(i64, bool)> {
        const DAY: i64 = 86_400;
        let days = |t: Ts| ((now - t) / DAY).max(0);
        match (self.last_used_at, self.created_at) {
            (Some(t), _) => Some((days(t), false)),
            (None, Some(t)) if self.provider == "anthropic" && days(t) > USAGE_REPORT_DAYS => {
                Some((USAGE_REPORT_DAYS, true))
            }
            (None, Some(t)) => Some((days(t), false)),
            (None, None) => None,
        }
    }
}

/// How far back Anthropic's usage reports are read (a key's use, a member's activity): longer
/// than the default dormancy thresholds.
pub const USAGE_REPORT_DAYS: i64 = 90;

/// An API key or admin key: `project_key` (OpenAI), `admin_key` (OpenAI), `api_key` (Anthropic).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub source: String,
    pub provider: String,
    /// `project_key` or `admin_key`.
    pub kind: String,
    pub id: String,
    pub name: Option<String>,
    /// The provider's redacted form (`sk-abc...def`); never the secret itself.
    pub redacted: Option<String>,
    pub resource_id: Option<String>,
    pub owner: Option<Owner>,
    /// OpenAI `owner_project_access`: `active` or `inactive`.
    pub owner_access: Option<String>,
    /// Anthropic `status`: `active`, `inactive`, `archived` or `expired` (None: usable).
    pub status: Option<String>,
    pub created_at: Option<Ts>,
    pub last_used_at: Option<Ts>,
    pub expires_at: Option<Ts>,
    /// Spend attributed to the key over the provider's cost window, in cents (OpenAI costs
    /// grouped by `api_key_id`, last 30 days): for triage order.
    pub spend_cents: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub source: String,
    pub provider: String,
    pub id: String,
    pub email: Option<String>,
    pub role: Option<String>,
    pub status: Option<String>,
    pub created_at: Option<Ts>,
    pub expires_at: Option<Ts>,
}

/// How one source fared in the sync that produced a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: String,
    pub kind: String,
    pub ok: bool,
    /// What went wrong, for a failed source (its data is carried from `carried_from`).
    pub error: Option<String>,
    pub carried_from: Option<i64>,
    pub items: u64,
    pub requests: u64,
    pub started_at: Ts,
    pub finished_at: Ts,
}

/// Everything one source returned in one sync.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceData {
    pub people: Vec<Person>,
    pub accounts: Vec<Account>,
    pub resources: Vec<Resource>,
    pub grants: Vec<Grant>,
    pub service_accounts: Vec<ServiceAccount>,
    pub credentials: Vec<Credential>,
    pub invites: Vec<Invite>,
    /// The AI platforms' apps in an identity provider, each standing for one provider source.
    #[serde(default)]
    pub apps: Vec<IdpApp>,
    /// Who an identity provider assigns each app to, and its last provisioning push to them.
    #[serde(default)]
    pub app_access: Vec<AppAccess>,
    /// What a provider's own records say about its objects: who created a key or a service
    /// account, who added a user, a user's last login.
    #[serde(default)]
    pub provenance: Vec<Provenance>,
    /// The feeds those facts were read from, and how far: an unread feed leaves its facts
    /// unknown, and the rules that need them make no judgement.
    #[serde(default)]
    pub feeds: Vec<Feed>,
}

/// A fact a provider's own records state about one of its objects, with where it came from
/// (OpenAI's audit log). One per subject and fact: the latest the feed holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub source: String,
    /// What it is about: `api_key` (a credential's id), `service_account`, `account`,
    /// `invite` or `project`.
    pub subject_kind: String,
    pub subject_id: String,
    /// `created_by`, `added_by`, `removed_by`, `invited_by`, `archived_by`, `last_login` or
    /// `last_failed_login`.
    pub fact: String,
    /// Who acted: the provider's user (for a login, the user who signed in) or, for an act
    /// done with a service account's key, the service account.
    pub actor_kind: Option<String>,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    /// How they acted: `console` (a signed-in session) or `api_key` (the API, with a key).
    pub via: Option<String>,
    pub at: Ts,
    /// The feed that said it (a [`Feed`]'s `feed`).
    pub feed: String,
}

impl Provenance {
    /// A person acted (not a service account's key).
    pub fn by_person(&self) -> bool {
        self.actor_kind.as_deref() == Some("user")
    }
}

/// The feeds provenance is read from.
pub mod feed {
    /// OpenAI's audit log: creations, additions, removals, archivals.
    pub const CHANGES: &str = "audit_log";
    /// OpenAI's audit log: logins.
    pub const LOGINS: &str = "audit_log_logins";
    /// Cursor's daily usage report: each member's last active day.
    pub const USAGE: &str = "daily_usage";
    /// Cursor's audit log: when and how each member was added.
    pub const JOINS: &str = "audit_log_joins";
    /// Anthropic's messages usage report by key: each key's last day of use.
    pub const KEY_USE: &str = "usage_keys";
    /// Anthropic's Claude Code usage report: each member's last active day.
    pub const CODE_USE: &str = "usage_claude_code";
    /// Anthropic's Enterprise Analytics API: each user's last active day on any product.
    pub const ANALYTICS: &str = "analytics_users";
}

/// A provider feed one source's facts were read from, and the span it was read over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed {
    pub source: String,
    /// `audit_log` (OpenAI's changes: creations, additions, removals) or `audit_log_logins`.
    pub feed: String,
    /// Whether it was read: without it a missing fact says nothing.
    pub known: bool,
    /// The start of the span read: a fact the feed does not hold did not happen since then.
    pub from: Option<Ts>,
    /// The end of the span read (the time of the read): the next sync reads on from here.
    pub to: Option<Ts>,
    /// When the whole span was last read (a full read); an incremental read keeps it, and
    /// one older than `full_sync_days` makes the next read a full one.
    #[serde(default)]
    pub full_at: Option<Ts>,
    /// Where it was read from: a fingerprint of the source's kind, address and key, and of how
    /// recert reads the feed. A later sync reads on from this read only when its own matches
    /// (a source pointed at another org, or a newer recert, reads whole).
    #[serde(default)]
    pub origin: Option<String>,
    /// What a reviewer should know: why it could not be read, or that it looks switched off.
    pub note: Option<String>,
}

/// An AI platform's app in an identity provider (an Okta app, an Entra enterprise app's
/// service principal), configured per directory source as standing for one provider source:
/// "these are the people the IdP says should have access to it".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpApp {
    /// The directory source.
    pub source: String,
    /// The provider source whose accounts the app governs.
    pub app_source: String,
    /// The app's id in the identity provider.
    pub id: String,
    pub name: Option<String>,
    /// Whether its assignments were read: without them `outside-idp` makes no judgement.
    pub assignments_known: bool,
    /// Anyone in the tenant may sign in (Entra `appRoleAssignmentRequired: false`): the
    /// assignment list is no access boundary, so `outside-idp` makes no judgement.
    pub open: bool,
    /// Whether its provisioning outcomes were read (Okta System Log, Entra provisioning logs).
    pub pushes_known: bool,
}

/// One person's standing with one app: assigned (directly or through groups) or not, and the
/// identity provider's last provisioning push for them to the app's platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppAccess {
    /// The directory source.
    pub source: String,
    /// The directory person's id.
    pub person_id: String,
    /// The provider source the app stands for.
    pub app_source: String,
    /// The identity provider assigns the app to this person.
    pub assigned: bool,
    /// How: `direct`, or the names of the groups that carry the assignment.
    pub via: Option<String>,
    /// The last push: `deprovision` (deactivate, delete, disable) or `provision`.
    pub push_kind: Option<String>,
    /// Its outcome as the identity provider recorded it, lower case (`success`, `failure`...).
    pub push_result: Option<String>,
    pub push_at: Option<Ts>,
    /// The event as the identity provider named it, and its reason where it gave one.
    pub push_detail: Option<String>,
}

/// Service accounts known only by their keys, by (source, id): each one's provider and the
/// keys that name it, in the snapshot's order.
pub type Unlisted<'a> =
    std::collections::BTreeMap<(&'a str, &'a str), (&'a str, Vec<&'a Credential>)>;

impl SourceData {
    /// Service accounts of a provider whose admin key cannot list them (Anthropic lists
    /// service accounts to OAuth apps only) that its keys name as their owner (`owner.kind`
    /// `service_account`), counting the keys `counts` keeps: an admin key knows one by the
    /// keys it made. (OpenAI's org-level service accounts that own admin keys are not these:
    /// OpenAI has no unlisted kind to judge them by.)
    /// The one answer to "which service accounts are there" beside `service_accounts`, for the
    /// rules and for what may be given an owner.
    pub fn unlisted_service_accounts(&self, counts: impl Fn(&Credential) -> bool) -> Unlisted<'_> {
        let listed: std::collections::HashSet<(&str, &str)> = self
            .service_accounts
            .iter()
            .map(|s| (s.source.as_str(), s.id.as_str()))
            .collect();
        let mut out = Unlisted::new();
        for c in self
            .credentials
            .iter()
            .filter(|c| c.provider == "anthropic" && counts(c))
        {
            let Some(o) = c.owner.as_ref().filter(|o| o.kind == "service_account") else {
                continue;
            };
            if !listed.contains(&(c.source.as_str(), o.id.as_str())) {
                out.entry((c.source.as_str(), o.id.as_str()))
                    .or_insert((c.provider.as_str(), Vec::new()))
                    .1
                    .push(c);
            }
        }
        out
    }

    pub fn items(&self) -> u64 {
        (self.people.len()
            + self.accounts.len()
            + self.resources.len()
            + self.grants.len()
            + self.service_accounts.len()
            + self.credentials.len()
            + self.invites.len()
            + self.apps.len()
            + self.app_access.len()
            + self.provenance.len()) as u64
    }

    /// Each resource's display name (its id when it has none), by (source, id).
    pub fn resource_names(&self) -> std::collections::HashMap<(&str, &str), &str> {
        self.resources
            .iter()
            .map(|r| {
                (
                    (r.source.as_str(), r.id.as_str()),
                    r.name.as_deref().unwrap_or(&r.id),
                )
            })
            .collect()
    }

    pub fn extend(&mut self, other: SourceData) {
        self.people.extend(other.people);
        self.accounts.extend(other.accounts);
        self.resources.extend(other.resources);
        self.grants.extend(other.grants);
        self.service_accounts.extend(other.service_accounts);
        self.credentials.extend(other.credentials);
        self.invites.extend(other.invites);
        self.apps.extend(other.apps);
        self.app_access.extend(other.app_access);
        self.provenance.extend(other.provenance);
        self.feeds.extend(other.feeds);
    }
}

/// Which containers are archived: an archived OpenAI project or Anthropic workspace, and every
/// resource whose parent is one (a custom project role). Archiving is one way on both providers
/// (neither has an unarchive call), so what lives inside grants nothing and the provider refuses
/// every change in it. The one rule that reconcile, the planner and the simulator's truth share.
pub struct Archived<'a> {
    map: std::collections::HashMap<(&'a str, &'a str), &'a str>,
}

impl<'a> Archived<'a> {
    pub fn new(d: &'a SourceData) -> Archived<'a> {
        // Only projects and workspaces contain access; anything else is inside one only
        // through its parent (an id that merely equals a container's is not inside it).
        let container = |r: &&Resource| matches!(r.kind.as_str(), "project" | "workspace");
        let archived: std::collections::HashSet<(&str, &str)> = d
            .resources
            .iter()
            .filter(container)
            .filter(|r| r.archived)
            .map(|r| (r.source.as_str(), r.id.as_str()))
            .collect();
        let map = d
            .resources
            .iter()
            .filter_map(|r| {
                let key = (r.source.as_str(), r.id.as_str());
                if container(&r) && archived.contains(&key) {
                    return Some((key, r.id.as_str()));
                }
                let parent = r.parent.as_deref()?;
                archived
                    .get(&(r.source.as_str(), parent))
                    .map(|&(_, p)| (key, p))
            })
            .collect();
        Archived { map }
    }

    /// The archived container `id` (a project, workspace, group or role) is or lives in.
    pub fn container(&self, source: &str, id: &str) -> Option<&'a str> {
        self.map.get(&(source, id)).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// One stored sync of every configured source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: i64,
    pub taken_at: Ts,
    pub sources: Vec<SourceStatus>,
    pub data: SourceData,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

/// One gap, with the evidence behind it. The JSON form is the `recert gaps --format json` contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Label,
    pub severity: Severity,
    pub provider: Label,
    pub source: Label,
    pub subject_kind: Label,
    pub subject_id: Label,
    /// Shared with the account it came from: a grant's finding costs no copy of the email.
    pub subject_email: Option<std::sync::Arc<str>>,
    pub detail: String,
}

impl Finding {
    /// The identity of a finding, ignoring its wording: what ground-truth comparison uses.
    pub fn key(&self) -> (String, String, String, String, String) {
        (
            self.rule.to_string(),
            self.provider.to_string(),
            self.source.to_string(),
            self.subject_kind.to_string(),
            self.subject_id.to_string(),
        )
    }
}

/// Lower-cased, trimmed email for matching (email local parts are case-insensitive in practice).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}
