//! `recert doctor`: what each configured source's key can and cannot read, probed with one
//! read-only request per endpoint the sync uses (the smallest page), and what to do about each
//! refusal; the config and the store checked too. A probe never writes: the one POST (Cursor's
//! usage report) is a read by the provider's own design.

use std::sync::Arc;

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::SourceConfig;
use crate::connectors::http::SourceError;
use crate::model::SourceKind;
use crate::secret::Secret;

/// How one probe went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// 401: the key itself is not accepted.
    KeyRejected,
    /// 403: the key is accepted but may not read this.
    MissingPermission,
    /// 404: the organisation does not have this (a plan, a licence, a setting).
    FeatureOff,
    /// No connection, no answer.
    Unreachable,
    /// Anything else (a 5xx, a malformed answer, no key at all).
    Failed,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::KeyRejected => "KEY REJECTED",
            Outcome::MissingPermission => "MISSING PERMISSION",
            Outcome::FeatureOff => "FEATURE OFF",
            Outcome::Unreachable => "UNREACHABLE",
            Outcome::Failed => "FAILED",
        }
    }
}

/// One endpoint, probed.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub what: String,
    pub endpoint: String,
    pub outcome: Outcome,
    /// Without it the sync fails; an optional endpoint only loses a detail (with a note).
    pub required: bool,
    /// What the provider said, when it was not OK.
    pub detail: String,
    /// What to do, when it was not OK.
    pub fix: String,
}

/// A source, probed.
#[derive(Clone, Debug, Serialize)]
pub struct SourceReport {
    pub source: String,
    pub kind: String,
    pub checks: Vec<Check>,
}

impl SourceReport {
    /// Whether a sync of this source would succeed: every required endpoint answered.
    pub fn can_sync(&self) -> bool {
        self.checks
            .iter()
            .all(|c| !c.required || c.outcome == Outcome::Ok)
    }
}

/// What a probe asks: the endpoint, whether the sync needs it, and what fixes a refusal.
struct Probe {
    what: &'static str,
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
    required: bool,
    /// The permission, scope, plan or setting it needs, in the provider's words.
    needs: &'static str,
}

fn get(what: &'static str, path: &str, required: bool, needs: &'static str) -> Probe {
    Probe {
        what,
        method: Method::GET,
        path: path.to_string(),
        query: Vec::new(),
        body: None,
        required,
        needs,
    }
}

impl Probe {
    fn q(mut self, k: &'static str, v: impl Into<String>) -> Probe {
        self.query.push((k, v.into()));
        self
    }
}

fn iso(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The endpoints the sync of a source of `kind` reads, each as its smallest request.
fn probes(kind: SourceKind, now: i64) -> Vec<Probe> {
    const OPENAI_ADMIN: &str = "an OpenAI admin key (sk-admin-…), made by an org owner at platform.openai.com → Settings → Organization → Admin keys";
    const ANTHROPIC_ADMIN: &str = "an Anthropic Admin API key (sk-ant-admin…), made by an org admin in Console → Settings → Admin keys";
    const CURSOR_ADMIN: &str = "a Cursor Admin API key, made by a team admin in the dashboard → Settings → Advanced → Admin API keys";
    match kind {
        SourceKind::OpenAi => vec![
            get("org users", "organization/users", true, OPENAI_ADMIN).q("limit", "1"),
            get("projects", "organization/projects", true, OPENAI_ADMIN).q("limit", "1"),
            get("invites", "organization/invites", true, OPENAI_ADMIN).q("limit", "1"),
            get("admin keys", "organization/admin_api_keys", true, OPENAI_ADMIN).q("limit", "1"),
            get(
                "groups",
                "organization/groups",
                false,
                "groups (an Enterprise org with SCIM groups); without them no group memberships are read",
            )
            .q("limit", "1"),
            get(
                "custom roles",
                "organization/roles",
                false,
                "custom roles (RBAC); without them no custom role grants are read",
            )
            .q("limit", "1"),
            get(
                "costs per key",
                "organization/costs",
                false,
                "the Costs API on the admin key; without it keys show no spend",
            )
            .q("start_time", (now - 86_400).to_string())
            .q("limit", "1"),
            get(
                "audit log",
                "organization/audit_logs",
                false,
                "the audit log (an org owner's admin key, and audit logging switched on under Organization settings → Data controls); without it keys and service accounts have no known creator and logins are unknown",
            )
            .q("limit", "1"),
        ],
        SourceKind::Anthropic => vec![
            get("org users", "v1/organizations/users", true, ANTHROPIC_ADMIN).q("limit", "1"),
            get("workspaces", "v1/organizations/workspaces", true, ANTHROPIC_ADMIN).q("limit", "1"),
            get("API keys", "v1/organizations/api_keys", true, ANTHROPIC_ADMIN).q("limit", "1"),
            get("invites", "v1/organizations/invites", true, ANTHROPIC_ADMIN).q("limit", "1"),
            get(
                "usage report (key last use)",
                "v1/organizations/usage_report/messages",
                false,
                "the Usage & Cost Admin API; without it keys show no last use",
            )
            .q("starting_at", iso(now - 86_400))
            .q("ending_at", iso(now))
            .q("bucket_width", "1d")
            .q("limit", "1"),
            get(
                "Claude Code usage (member activity)",
                "v1/organizations/usage_report/claude_code",
                false,
                "the Claude Code Analytics Admin API; without it members show no activity",
            )
            .q(
                "starting_at",
                iso(now - 86_400).get(..10).unwrap_or_default().to_string(),
            )
            .q("limit", "1"),
        ],
        SourceKind::Cursor => vec![
            get("team members", "teams/members", true, CURSOR_ADMIN),
            get(
                "audit log (when members joined)",
                "teams/audit-logs",
                false,
                "the audit log (Enterprise plan); without it members show no join method",
            )
            .q("startTime", iso(now - 86_400))
            .q("endTime", iso(now))
            .q("pageSize", "1"),
            Probe {
                body: Some(json!({"startDate": (now - 86_400) * 1000, "endDate": now * 1000, "page": 1, "pageSize": 1})),
                ..get(
                    "daily usage (member activity)",
                    "teams/daily-usage-data",
                    false,
                    "the usage API on the admin key; without it members show no activity",
                )
            }
            .with_method(Method::POST),
        ],
        SourceKind::Scim => vec![
            get("users", "Users", true, "a SCIM token that may read Users").q("count", "1"),
            get(
                "groups",
                "Groups",
                true,
                "a SCIM token that may read Groups",
            )
            .q("count", "1"),
        ],
        SourceKind::Okta => vec![
            get(
                "users",
                "api/v1/users",
                true,
                "an API token of an admin who may read users (okta.users.read)",
            )
            .q("limit", "1"),
            get(
                "groups",
                "api/v1/groups",
                true,
                "an API token of an admin who may read groups (okta.groups.read)",
            )
            .q("limit", "1"),
        ],
        SourceKind::Entra => vec![
            get(
                "users",
                "users",
                true,
                "an app registration granted User.Read.All (application permission, admin consent)",
            )
            .q("$select", "id")
            .q("$top", "1"),
            get(
                "groups",
                "groups",
                true,
                "an app registration granted GroupMember.Read.All or Group.Read.All",
            )
            .q("$select", "id")
            .q("$top", "1"),
            get(
                "deleted users",
                "directory/deletedItems/microsoft.graph.user",
                false,
                "User.Read.All; without it deleted people are simply not listed",
            )
            .q("$select", "id")
            .q("$top", "1"),
        ],
        SourceKind::Csv => Vec::new(),
    }
}

impl Probe {
    fn with_method(mut self, m: Method) -> Probe {
        self.method = m;
        self
    }
}

/// What to do about `outcome` on a probe that needs `needs`.
fn fix(outcome: Outcome, needs: &str, src: &SourceConfig) -> String {
    match outcome {
        Outcome::Ok => String::new(),
        Outcome::KeyRejected => format!(
            "the key is not accepted: put a valid one in {} (revoked or mistyped keys answer 401)",
            src.key_hint()
        ),
        Outcome::MissingPermission => format!("the key lacks the permission: use {needs}"),
        Outcome::FeatureOff => format!("the organisation does not have it: {needs}"),
        Outcome::Unreachable => format!(
            "check base_url ({}), the network and the provider's status page",
            src.base_url
        ),
        Outcome::Failed => "try again; if it persists, `recert sync` says more".to_string(),
    }
}

fn classify(e: &SourceError) -> Outcome {
    match e {
        SourceError::Auth { status: 403, .. } => Outcome::MissingPermission,
        SourceError::Auth { .. } => Outcome::KeyRejected,
        SourceError::Rejected { status: 403, .. } => Outcome::MissingPermission,
        SourceError::NotFound { .. } => Outcome::FeatureOff,
        SourceError::Connect { .. } | SourceError::Timeout { .. } | SourceError::Silent { .. } => {
            Outcome::Unreachable
        }
        _ => Outcome::Failed,
    }
}

/// Probe every endpoint of `src` with `key` (`Err`: no key to probe with, said as a check).
pub async fn check_source(
    src: &SourceConfig,
    key: Result<Secret, String>,
    now: i64,
) -> SourceReport {
    let mut report = SourceReport {
        source: src.name.clone(),
        kind: src.kind.clone(),
        checks: Vec::new(),
    };
    if src.source_kind() == SourceKind::Csv {
        let path = src.path.clone().unwrap_or_default();
        let read = crate::connectors::csv::load(&src.name, &path, chrono::Utc::now().date_naive());
        report.checks.push(Check {
            what: "directory export".into(),
            endpoint: path.display().to_string(),
            outcome: if read.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Failed
            },
            required: true,
            detail: read.err().map(|e| e.to_string()).unwrap_or_default(),
            fix: "fix the file or `path` (README: Configuration reference)".into(),
        });
        return report;
    }
    let key = match key {
        Ok(k) => k,
        Err(e) => {
            report.checks.push(Check {
                what: "key".into(),
                endpoint: "-".into(),
                outcome: Outcome::Failed,
                required: true,
                detail: e,
                fix: format!("give the key in {}", src.key_hint()),
            });
            return report;
        }
    };
    let mut limits_src = src.clone();
    // A probe is one request: no long retry storms, no waiting a minute for a dead host.
    limits_src.max_retries = Some(limits_src.max_retries.unwrap_or(2).min(2));
    limits_src.deadline_secs = Some(limits_src.deadline_secs.unwrap_or(20).min(20));
    let http = Arc::new(crate::connectors::client(&limits_src, key));
    let mut all = probes(src.source_kind(), now);
    // OpenAI's per-project lists need a project: the first one the key can see.
    if src.source_kind() == SourceKind::OpenAi {
        let first = http
            .get("organization/projects", &[("limit", "1".to_string())])
            .await
            .ok()
            .and_then(|v| {
                v.pointer("/data/0/id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        if let Some(p) = first.and_then(|p| {
            crate::connectors::path::ApiPath::new("organization/projects")
                .id(&p)
                .ok()
        }) {
            let base = p.into_string();
            for (what, tail) in [
                ("project members", "users"),
                ("project service accounts", "service_accounts"),
                ("project keys", "api_keys"),
            ] {
                all.push(
                    get(
                        what,
                        &format!("{}/{tail}", base.trim_start_matches('/')),
                        true,
                        "an OpenAI admin key (sk-admin-…) with read access to Projects",
                    )
                    .q("limit", "1"),
                );
            }
        }
    }
    for p in all {
        let body = p.body.clone().map(|b| ("application/json", b));
        let got = http.send(p.method.clone(), &p.path, &p.query, body).await;
        let (outcome, detail) = match got {
            Ok(_) => (Outcome::Ok, String::new()),
            Err(e) => (classify(&e), crate::secret::redact(&e.to_string(), &[])),
        };
        report.checks.push(Check {
            what: p.what.to_string(),
            endpoint: format!("{} /{}", p.method, p.path),
            outcome,
            required: p.required,
            fix: fix(outcome, p.needs, src),
            detail,
        });
    }
    report
}
