//! Planning (pure): a decision becomes the exact provider calls it will make, with their side
//! effects spelled out, or a manual step where an API cannot do it. The executor (journal,
//! resume, rate limits) builds on this.

use serde::Serialize;
use serde_json::{Value, json};

pub mod apply;

use crate::model::SourceData;
use crate::review::{Decision, Target, Verdict};

/// One step of a plan. Paths are relative to the source's `base_url` (for OpenAI that already
/// ends in `/v1`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Step {
    Call {
        source: String,
        method: &'static str,
        path: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
        /// What else this call does, when it does more than the decision says.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    Manual {
        source: String,
        what: String,
    },
    /// Recorded in recert only (certify, defer, reassign): nothing reaches a provider.
    Record {
        what: String,
    },
}

impl Step {
    /// One line for the console and `plan --format table`.
    pub fn line(&self) -> String {
        match self {
            Step::Call {
                source,
                method,
                path,
                body,
                note,
            } => {
                let mut s = format!("{method} {path} on {source}");
                if let Some(b) = body {
                    s.push_str(&format!(" {b}"));
                }
                if let Some(n) = note {
                    s.push_str(&format!(" ({n})"));
                }
                s
            }
            Step::Manual { source, what } => format!("MANUAL on {source}: {what}"),
            Step::Record { what } => what.clone(),
        }
    }
}

fn call(t: &Target, method: &'static str, path: String, body: Option<Value>) -> Step {
    Step::Call {
        source: t.source.clone(),
        method,
        path,
        body,
        note: None,
    }
}

/// The steps one decision produces against the data of a snapshot.
/// Choices a plan can be asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Set Anthropic keys `archived` (treated as permanent) instead of `inactive` (reversible).
    pub archive_anthropic_keys: bool,
}

/// The steps with the default options (Anthropic keys set `inactive`).
pub fn steps(verdict: Verdict, owner: Option<&str>, t: &Target, d: &SourceData) -> Vec<Step> {
    steps_with(verdict, owner, t, d, PlanOptions::default())
}

pub fn steps_with(
    verdict: Verdict,
    owner: Option<&str>,
    t: &Target,
    d: &SourceData,
    opts: PlanOptions,
) -> Vec<Step> {
    let key_status = if opts.archive_anthropic_keys {
        "archived"
    } else {
        "inactive"
    };
    match verdict {
        Verdict::Certify => {
            return vec![Step::Record {
                what: "certified: recorded in recert, no provider call".into(),
            }];
        }
        Verdict::Defer => {
            return vec![Step::Record {
                what: "deferred: recorded in recert, no provider call".into(),
            }];
        }
        Verdict::Reassign => {
            return vec![Step::Record {
                what: format!(
                    "owner set to {} in recert's ownership records (providers keep none)",
                    owner.unwrap_or("?")
                ),
            }];
        }
        Verdict::Revoke => {}
    }
    let (p, kind, id) = (t.provider.as_str(), t.kind.as_str(), t.id.as_str());
    // Findings name every user key `api_key`; on OpenAI that is a project key.
    let kind = if (p, kind) == ("openai", "api_key") {
        "project_key"
    } else {
        kind
    };
    let split = || id.split_once('/').unwrap_or((id, ""));
    match (p, kind) {
        ("openai", "account") => vec![call(t, "DELETE", format!("/organization/users/{id}"), None)],
        ("openai", "grant") => {
            let (project, principal) = split();
            let resource = |kind: &str, id: &str| {
                d.resources
                    .iter()
                    .find(|r| r.source == t.source && r.kind == kind && r.id == id)
            };
            let is = |kind: &str, id: &str| resource(kind, id).is_some();
            let is_group = |id: &str| is("group", id);
            // `ROLE/GROUP`: a group's custom role; `ROLE/USER`: a user's, held directly
            // (unassigned) or through a group (changed on the group, not the user). A custom
            // project role lives under `/projects/{p}` (no `/organization` prefix).
            if let Some(r) = resource("role", project) {
                let role = project;
                let (group_base, user_base) = match &r.parent {
                    Some(p) => (
                        format!("/projects/{p}/groups"),
                        format!("/projects/{p}/users"),
                    ),
                    None => ("/organization/groups".into(), "/organization/users".into()),
                };
                if is_group(principal) {
                    return vec![Step::Call {
                        source: t.source.clone(),
                        method: "DELETE",
                        path: format!("{group_base}/{principal}/roles/{role}"),
                        body: None,
                        note: Some("every member of the group loses this role".into()),
                    }];
                }
                let via = d
                    .grants
                    .iter()
                    .find(|g| {
                        g.source == t.source && g.resource_id == role && g.principal_id == principal
                    })
                    .map(|g| g.via.as_str())
                    .unwrap_or("direct");
                if let Some(group) = via.strip_prefix("group:") {
                    return vec![Step::Manual {
                        source: t.source.clone(),
                        what: format!(
                            "{principal} holds role {role} through group {group}: remove them from the group, or the role from the group (DELETE {group_base}/{group}/roles/{role})"
                        ),
                    }];
                }
                return vec![call(
                    t,
                    "DELETE",
                    format!("{user_base}/{principal}/roles/{role}"),
                    None,
                )];
            }
            // `GROUP/USER`: a group membership; `PROJECT/GROUP`: a group's project access.
            if is_group(project) {
                return vec![call(
                    t,
                    "DELETE",
                    format!("/organization/groups/{project}/users/{principal}"),
                    None,
                )];
            }
            if is_group(principal) {
                return vec![Step::Call {
                    source: t.source.clone(),
                    method: "DELETE",
                    path: format!("/organization/projects/{project}/groups/{principal}"),
                    body: None,
                    note: Some("every member of the group loses this project access".into()),
                }];
            }
            let is_sa = d
                .service_accounts
                .iter()
                .any(|s| s.source == t.source && s.id == principal);
            if is_sa {
                vec![call(
                    t,
                    "DELETE",
                    format!("/organization/projects/{project}/service_accounts/{principal}"),
                    None,
                )]
            } else {
                vec![call(
                    t,
                    "DELETE",
                    format!("/organization/projects/{project}/users/{principal}"),
                    None,
                )]
            }
        }
        ("openai", "service_account") => {
            let project = d
                .service_accounts
                .iter()
                .find(|s| s.source == t.source && s.id == id)
                .and_then(|s| s.resource_id.clone())
                .unwrap_or_default();
            vec![Step::Call {
                source: t.source.clone(),
                method: "DELETE",
                path: format!("/organization/projects/{project}/service_accounts/{id}"),
                body: None,
                note: Some("also deletes the service account's keys".into()),
            }]
        }
        ("openai", "project_key") => {
            let Some(key) = d
                .credentials
                .iter()
                .find(|c| c.source == t.source && c.id == id)
            else {
                return vec![Step::Manual {
                    source: t.source.clone(),
                    what: format!(
                        "key {id} is not in the current snapshot (already deleted?): check it by hand"
                    ),
                }];
            };
            let key = Some(key);
            let project = key.and_then(|c| c.resource_id.clone()).unwrap_or_default();
            match key.and_then(|c| c.owner.as_ref()) {
                Some(o) if o.kind == "service_account" => vec![Step::Call {
                    source: t.source.clone(),
                    method: "DELETE",
                    path: format!("/organization/projects/{project}/service_accounts/{}", o.id),
                    body: None,
                    note: Some(format!(
                        "the key belongs to service account {}: OpenAI cannot delete it alone, so the service account goes",
                        o.id
                    )),
                }],
                _ => vec![call(
                    t,
                    "DELETE",
                    format!("/organization/projects/{project}/api_keys/{id}"),
                    None,
                )],
            }
        }
        ("openai", "admin_key") => {
            vec![call(
                t,
                "DELETE",
                format!("/organization/admin_api_keys/{id}"),
                None,
            )]
        }
        ("openai", "invite") => vec![call(
            t,
            "DELETE",
            format!("/organization/invites/{id}"),
            None,
        )],
        ("anthropic", "account") => {
            let role = d
                .accounts
                .iter()
                .find(|a| a.source == t.source && a.id == id)
                .and_then(|a| a.role.clone())
                .unwrap_or_default();
            if matches!(role.as_str(), "admin" | "owner" | "primary_owner") {
                return vec![Step::Manual {
                    source: t.source.clone(),
                    what: format!(
                        "remove {role} {id} in the Claude Console: the Admin API cannot remove an admin"
                    ),
                }];
            }
            let mut out = vec![call(
                t,
                "DELETE",
                format!("/v1/organizations/users/{id}"),
                None,
            )];
            // Removing a user leaves their keys working: the plan adds them.
            for c in d.credentials.iter().filter(|c| {
                c.source == t.source && c.usable() && c.owner.as_ref().is_some_and(|o| o.id == id)
            }) {
                out.push(Step::Call {
                    source: t.source.clone(),
                    method: "POST",
                    path: format!("/v1/organizations/api_keys/{}", c.id),
                    body: Some(json!({"status": key_status})),
                    note: Some("the user's key survives their removal".into()),
                });
            }
            out
        }
        ("anthropic", "grant") => {
            let (ws, user) = split();
            vec![call(
                t,
                "DELETE",
                format!("/v1/organizations/workspaces/{ws}/members/{user}"),
                None,
            )]
        }
        ("anthropic", "api_key") => vec![call(
            t,
            "POST",
            format!("/v1/organizations/api_keys/{id}"),
            Some(json!({"status": key_status})),
        )],
        ("anthropic", "invite") => {
            vec![call(
                t,
                "DELETE",
                format!("/v1/organizations/invites/{id}"),
                None,
            )]
        }
        ("cursor", "account") => vec![call(
            t,
            "POST",
            "/teams/remove-member".into(),
            Some(json!({"userId": id})),
        )],
        _ => vec![Step::Manual {
            source: t.source.clone(),
            what: format!("revoke {kind} {id}: no API call does this; do it by hand"),
        }],
    }
}

/// Does `hint` name this key? It may be the key id, the provider's redacted form (OpenAI
/// `redacted_value`, Anthropic `partial_key_hint`), or the whole secret, which matches when it
/// starts and ends with the redacted form's visible head and tail. The secret itself is never
/// stored, printed or logged.
pub fn key_matches(c: &crate::model::Credential, hint: &str) -> bool {
    let h = hint.trim();
    if h.is_empty() {
        return false;
    }
    if c.id == h {
        return true;
    }
    let Some(r) = c.redacted.as_deref() else {
        return false;
    };
    if r == h {
        return true;
    }
    let Some((head, tail)) = r
        .split_once("...")
        .or_else(|| r.split_once('…'))
        .or_else(|| r.split_once("****"))
    else {
        return false;
    };
    let head = head.trim_end_matches('*');
    let tail = tail.trim_start_matches('*');
    head.len() >= 3
        && tail.len() >= 3
        && h.len() > head.len() + tail.len()
        && h.starts_with(head)
        && h.ends_with(tail)
}

/// A step of a plan, with the decisions it carries out.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedStep {
    pub decisions: Vec<i64>,
    #[serde(flatten)]
    pub step: Step,
}

/// The plan for a set of decisions: only revokes reach providers, so only they are planned.
/// Steps two decisions share (a service account behind two of its keys, a key also removed with
/// its Anthropic user) appear once, carrying both decisions.
pub fn plan(decisions: &[&Decision], d: &SourceData) -> Vec<PlannedStep> {
    plan_with(decisions, d, PlanOptions::default())
}

pub fn plan_with(decisions: &[&Decision], d: &SourceData, opts: PlanOptions) -> Vec<PlannedStep> {
    let mut out: Vec<PlannedStep> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for x in decisions.iter().filter(|x| x.d.verdict == Verdict::Revoke) {
        for step in steps_with(x.d.verdict, x.d.owner.as_deref(), &x.d.target, d, opts) {
            let key = step.line();
            match seen.get(&key) {
                Some(&i) => out[i].decisions.push(x.id),
                None => {
                    seen.insert(key, out.len());
                    out.push(PlannedStep {
                        decisions: vec![x.id],
                        step,
                    });
                }
            }
        }
    }
    out
}

/// How many steps of a plan are provider calls.
pub fn calls(steps: &[PlannedStep]) -> usize {
    steps
        .iter()
        .filter(|s| matches!(s.step, Step::Call { .. }))
        .count()
}

/// The sources a plan's calls go to.
pub fn call_sources(steps: &[PlannedStep]) -> std::collections::BTreeSet<String> {
    steps
        .iter()
        .filter_map(|s| match &s.step {
            Step::Call { source, .. } => Some(source.clone()),
            _ => None,
        })
        .collect()
}

/// Where a journal row stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    Pending,
    /// Written before the call went out; a killed run leaves it here.
    Sent,
    Done,
    Failed,
    /// A step no API can do: a person must.
    Manual,
}

impl RowState {
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Pending => "pending",
            RowState::Sent => "sent",
            RowState::Done => "done",
            RowState::Failed => "failed",
            RowState::Manual => "manual",
        }
    }
    pub fn parse(s: &str) -> RowState {
        match s {
            "sent" => RowState::Sent,
            "done" => RowState::Done,
            "failed" => RowState::Failed,
            "manual" => RowState::Manual,
            _ => RowState::Pending,
        }
    }
}

/// One row of the apply journal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JournalRow {
    pub plan: i64,
    pub seq: i64,
    pub decisions: Vec<i64>,
    pub source: String,
    /// `call`, `manual` or `record`.
    pub kind: String,
    pub method: Option<String>,
    pub path: Option<String>,
    pub body: Option<String>,
    pub note: Option<String>,
    pub state: RowState,
    pub attempts: i64,
    pub status: Option<i64>,
    pub result: Option<String>,
}

impl JournalRow {
    pub fn line(&self) -> String {
        match (&self.method, &self.path) {
            (Some(m), Some(p)) => {
                let body = self
                    .body
                    .as_deref()
                    .map(|b| format!(" {b}"))
                    .unwrap_or_default();
                format!("{m} {p} on {}{body}", self.source)
            }
            _ => format!(
                "MANUAL on {}: {}",
                self.source,
                self.note.as_deref().unwrap_or("")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Credential, Owner};

    fn key(owner_kind: &str) -> Credential {
        Credential {
            source: "oa".into(),
            provider: "openai".into(),
            kind: "project_key".into(),
            id: "key_1".into(),
            name: None,
            redacted: None,
            resource_id: Some("proj_1".into()),
            owner: Some(Owner {
                kind: owner_kind.into(),
                id: "svc_1".into(),
                email: None,
                name: None,
            }),
            owner_access: None,
            status: None,
            created_at: None,
            last_used_at: None,
            expires_at: None,
            spend_cents: None,
        }
    }

    #[test]
    fn a_service_account_key_takes_its_service_account() {
        let mut d = SourceData::default();
        d.credentials.push(key("service_account"));
        let t = Target::new("openai", "oa", "project_key", "key_1");
        let s = steps(Verdict::Revoke, None, &t, &d);
        assert_eq!(s.len(), 1);
        assert!(
            s[0].line()
                .starts_with("DELETE /organization/projects/proj_1/service_accounts/svc_1"),
            "{}",
            s[0].line()
        );
        assert!(s[0].line().contains("cannot delete it alone"));
        d.credentials[0] = key("user");
        let s = steps(Verdict::Revoke, None, &t, &d);
        assert_eq!(
            s[0].line(),
            "DELETE /organization/projects/proj_1/api_keys/key_1 on oa"
        );
    }

    #[test]
    fn a_key_is_found_by_id_redacted_form_or_the_whole_secret() {
        let mut c = key("user");
        c.redacted = Some("sk-proj-abc...wxyz".into());
        assert!(key_matches(&c, "key_1"));
        assert!(key_matches(&c, "sk-proj-abc...wxyz"));
        assert!(key_matches(&c, "sk-proj-abcDEFGHIJKLMNOPwxyz"));
        assert!(!key_matches(&c, "sk-proj-abcDEFGHIJKLMNOPwxy"));
        assert!(!key_matches(&c, "sk-proj-abwxyz"));
        assert!(!key_matches(&c, ""));
        c.redacted = Some("sk-ant-api03-R2D...igAA".into());
        assert!(key_matches(
            &c,
            "sk-ant-api03-R2Dxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-igAA"
        ));
    }

    #[test]
    fn group_grants_leave_the_group_or_take_the_group_off_the_project() {
        let mut d = SourceData::default();
        d.resources.push(crate::model::Resource {
            source: "oa".into(),
            provider: "openai".into(),
            kind: "group".into(),
            id: "group_1".into(),
            name: Some("Support".into()),
            archived: false,
            created_at: None,
            parent: None,
        });
        let line = |id: &str| {
            steps(
                Verdict::Revoke,
                None,
                &Target::new("openai", "oa", "grant", id),
                &d,
            )[0]
            .line()
        };
        assert_eq!(
            line("group_1/user-a"),
            "DELETE /organization/groups/group_1/users/user-a on oa"
        );
        assert!(
            line("proj_1/group_1")
                .starts_with("DELETE /organization/projects/proj_1/groups/group_1"),
            "{}",
            line("proj_1/group_1")
        );
        assert!(
            line("proj_1/user-a").starts_with("DELETE /organization/projects/proj_1/users/user-a")
        );
    }

    #[test]
    fn custom_role_grants_are_unassigned_from_the_user_or_the_group_or_left_to_the_group() {
        let mut d = SourceData::default();
        for (kind, id) in [("group", "group_1"), ("role", "role_1")] {
            d.resources.push(crate::model::Resource {
                source: "oa".into(),
                provider: "openai".into(),
                kind: kind.into(),
                id: id.into(),
                name: None,
                archived: false,
                created_at: None,
                parent: None,
            });
        }
        for (user, via) in [("user-a", "direct"), ("user-b", "group:group_1")] {
            d.grants.push(crate::model::Grant {
                source: "oa".into(),
                provider: "openai".into(),
                principal_kind: "user".into(),
                principal_id: user.into(),
                resource_id: "role_1".into(),
                role: Some("holder".into()),
                via: via.into(),
            });
        }
        let step_in = |d: &SourceData, id: &str| {
            steps(
                Verdict::Revoke,
                None,
                &Target::new("openai", "oa", "grant", id),
                d,
            )
            .remove(0)
        };
        let step = |id: &str| step_in(&d, id);
        assert_eq!(
            step("role_1/user-a").line(),
            "DELETE /organization/users/user-a/roles/role_1 on oa"
        );
        assert!(
            step("role_1/group_1")
                .line()
                .starts_with("DELETE /organization/groups/group_1/roles/role_1"),
        );
        let inherited = step("role_1/user-b");
        assert!(matches!(inherited, Step::Manual { .. }), "{inherited:?}");
        assert!(inherited.line().contains("through group group_1"));

        // A custom project role: the same calls under `/projects/{p}`.
        let mut d = d.clone();
        for r in d.resources.iter_mut().filter(|r| r.kind == "role") {
            r.parent = Some("proj_1".into());
        }
        let step = |id: &str| step_in(&d, id);
        assert_eq!(
            step("role_1/user-a").line(),
            "DELETE /projects/proj_1/users/user-a/roles/role_1 on oa"
        );
        assert!(
            step("role_1/group_1")
                .line()
                .starts_with("DELETE /projects/proj_1/groups/group_1/roles/role_1"),
        );
        let inherited = step("role_1/user-b").line();
        assert!(
            inherited.contains("DELETE /projects/proj_1/groups/group_1/roles/role_1"),
            "{inherited}"
        );
    }

    #[test]
    fn an_openai_key_named_by_a_finding_is_a_project_key() {
        let mut d = SourceData::default();
        d.credentials.push(key("user"));
        let by = |kind: &str| {
            steps(
                Verdict::Revoke,
                None,
                &Target::new("openai", "oa", kind, "key_1"),
                &d,
            )
        };
        assert_eq!(by("api_key"), by("project_key"));
        assert!(
            by("api_key")[0]
                .line()
                .starts_with("DELETE /organization/projects/proj_1/api_keys/key_1"),
            "{}",
            by("api_key")[0].line()
        );
    }

    #[test]
    fn anthropic_keys_are_archived_only_when_asked() {
        let d = SourceData::default();
        let t = Target::new("anthropic", "an", "api_key", "apikey_1");
        let opts = PlanOptions {
            archive_anthropic_keys: true,
        };
        assert_eq!(
            steps_with(Verdict::Revoke, None, &t, &d, opts)[0].line(),
            "POST /v1/organizations/api_keys/apikey_1 on an {\"status\":\"archived\"}"
        );
    }

    #[test]
    fn anthropic_keys_go_inactive_and_cursor_has_no_key_api() {
        let d = SourceData::default();
        let t = Target::new("anthropic", "an", "api_key", "apikey_1");
        assert_eq!(
            steps(Verdict::Revoke, None, &t, &d)[0].line(),
            "POST /v1/organizations/api_keys/apikey_1 on an {\"status\":\"inactive\"}"
        );
        let t = Target::new("cursor", "cu", "grant", "x/y");
        assert!(matches!(
            steps(Verdict::Revoke, None, &t, &d)[0],
            Step::Manual { .. }
        ));
        let t = Target::new("cursor", "cu", "account", "42");
        assert!(
            steps(Verdict::Certify, None, &t, &d)[0]
                .line()
                .contains("no provider call")
        );
    }
}
