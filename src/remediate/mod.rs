//! Planning (pure): a decision becomes the exact provider calls it will make, with their side
//! effects spelled out, or a manual step where an API cannot do it. The executor (journal,
//! resume, rate limits) builds on this.

use serde::Serialize;
use serde_json::{Value, json};

pub mod apply;
pub mod recheck;

use crate::connectors::path::{ApiPath, UnsafeId};
use crate::model::text::sanitize;
use crate::model::{SourceData, Ts};
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
        /// The removals that would do this by themselves (an org user removed, a group left):
        /// a plan that sends one records this step as covered instead of asking a person.
        #[serde(skip)]
        lifted_by: Vec<(&'static str, Vec<String>)>,
    },
    /// Recorded in recert only (certify, defer, reassign): nothing reaches a provider.
    Record { what: String },
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
            Step::Manual { source, what, .. } => format!("MANUAL on {source}: {what}"),
            Step::Record { what } => what.clone(),
        }
    }
}

fn call(t: &Target, method: &'static str, path: ApiPath, body: Option<Value>) -> Step {
    Step::Call {
        source: t.source.clone(),
        method,
        path: path.into(),
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
    match revoke_steps(t, d, key_status) {
        Ok(steps) => steps,
        // An id that cannot travel as one path segment is never sent: a person looks at it.
        Err(e) => vec![Step::Manual {
            source: t.source.clone(),
            what: format!("revoke {} {}: {e}; do it by hand", t.kind, sanitize(&t.id)),
            lifted_by: Vec::new(),
        }],
    }
}

/// Is `id` (a project, workspace or custom project role) inside an archived container on
/// `source`? See [`crate::model::Archived`].
pub fn archived_container(d: &SourceData, source: &str, id: &str) -> Option<String> {
    crate::model::Archived::new(d)
        .container(source, id)
        .map(str::to_string)
}

/// The step for a target inside an archived container: nothing to send.
fn inert(t: &Target, provider_word: &str, container: &str) -> Vec<Step> {
    vec![Step::Record {
        what: format!(
            "nothing to send: {provider_word} {} is archived, so {} {} grants nothing while it stays archived (the provider refuses changes in it)",
            sanitize(container),
            t.kind.replace('_', " "),
            sanitize(&t.id)
        ),
    }]
}

fn revoke_steps(t: &Target, d: &SourceData, key_status: &str) -> Result<Vec<Step>, UnsafeId> {
    let (p, kind, id) = (t.provider.as_str(), t.kind.as_str(), t.id.as_str());
    // Findings name every user key `api_key`; on OpenAI that is a project key.
    let kind = if (p, kind) == ("openai", "api_key") {
        "project_key"
    } else {
        kind
    };
    let split = || id.split_once('/').unwrap_or((id, ""));
    let call =
        |method: &'static str, path: ApiPath, body: Option<Value>| call(t, method, path, body);
    Ok(match (p, kind) {
        ("openai", "account") => vec![call(
            "DELETE",
            ApiPath::new("organization/users").id(id)?,
            None,
        )],
        ("openai", "grant") => {
            let (project, principal) = split();
            let resource = |kind: &str, id: &str| {
                d.resources
                    .iter()
                    .find(|r| r.source == t.source && r.kind == kind && r.id == id)
            };
            let is = |kind: &str, id: &str| resource(kind, id).is_some();
            let is_group = |id: &str| is("group", id);
            if let Some(c) = archived_container(d, &t.source, project) {
                return Ok(inert(t, "project", &c));
            }
            // `ROLE/GROUP`: a group's custom role; `ROLE/USER`: a user's, held directly
            // (unassigned) or through a group (changed on the group, not the user). A custom
            // project role lives under `/projects/{p}` (no `/organization` prefix).
            if let Some(r) = resource("role", project) {
                let role = project;
                let base = |what: &'static str| -> Result<ApiPath, UnsafeId> {
                    match &r.parent {
                        Some(p) => ApiPath::new("projects").id(p).map(|x| x.lit(what)),
                        None => Ok(match what {
                            "groups" => ApiPath::new("organization/groups"),
                            _ => ApiPath::new("organization/users"),
                        }),
                    }
                };
                if is_group(principal) {
                    return Ok(vec![Step::Call {
                        source: t.source.clone(),
                        method: "DELETE",
                        path: base("groups")?.id(principal)?.lit("roles").id(role)?.into(),
                        body: None,
                        note: Some("every member of the group loses this role".into()),
                    }]);
                }
                // Every way the user holds it, whatever the order the snapshot lists them
                // in: a direct assignment is removed, each group's is left to a person.
                let mut vias: Vec<&str> = d
                    .grants
                    .iter()
                    .filter(|g| {
                        g.source == t.source && g.resource_id == role && g.principal_id == principal
                    })
                    .map(|g| g.via.as_str())
                    .collect();
                vias.sort_unstable();
                vias.dedup();
                let mut out = Vec::new();
                if vias.is_empty() || vias.iter().any(|v| !v.starts_with("group:")) {
                    out.push(call(
                        "DELETE",
                        base("users")?.id(principal)?.lit("roles").id(role)?,
                        None,
                    ));
                }
                for group in vias.iter().filter_map(|v| v.strip_prefix("group:")) {
                    let on_group = base("groups")?.id(group)?.lit("roles").id(role)?;
                    out.push(Step::Manual {
                        source: t.source.clone(),
                        what: format!(
                            "{} holds role {} through group {}: remove them from the group, or the role from the group (DELETE {on_group})",
                            sanitize(principal),
                            sanitize(role),
                            sanitize(group)
                        ),
                        // Done once they leave the group, or the org: keyed by the very
                        // paths those calls take (built and encoded as they are), so an id
                        // matches only the call that acts on it.
                        lifted_by: [
                            ApiPath::new("organization/groups")
                                .id(group)?
                                .lit("users")
                                .id(principal)?,
                            ApiPath::new("organization/users").id(principal)?,
                        ]
                        .into_iter()
                        .filter_map(|path| removal("DELETE", &String::from(path)))
                        .collect(),
                    });
                }
                return Ok(out);
            }
            // `GROUP/USER`: a group membership; `PROJECT/GROUP`: a group's project access.
            if is_group(project) {
                return Ok(vec![call(
                    "DELETE",
                    ApiPath::new("organization/groups")
                        .id(project)?
                        .lit("users")
                        .id(principal)?,
                    None,
                )]);
            }
            let in_project = ApiPath::new("organization/projects").id(project)?;
            if is_group(principal) {
                return Ok(vec![Step::Call {
                    source: t.source.clone(),
                    method: "DELETE",
                    path: in_project.lit("groups").id(principal)?.into(),
                    body: None,
                    note: Some("every member of the group loses this project access".into()),
                }]);
            }
            let is_sa = d
                .service_accounts
                .iter()
                .any(|s| s.source == t.source && s.id == principal);
            if is_sa {
                vec![sa_call(
                    t,
                    in_project.lit("service_accounts").id(principal)?,
                )]
            } else {
                vec![call("DELETE", in_project.lit("users").id(principal)?, None)]
            }
        }
        ("openai", "service_account") => {
            let project = d
                .service_accounts
                .iter()
                .find(|s| s.source == t.source && s.id == id)
                .and_then(|s| s.resource_id.clone())
                .unwrap_or_default();
            if let Some(c) = archived_container(d, &t.source, &project) {
                return Ok(inert(t, "project", &c));
            }
            vec![sa_call(
                t,
                ApiPath::new("organization/projects")
                    .id(&project)?
                    .lit("service_accounts")
                    .id(id)?,
            )]
        }
        ("openai", "project_key") => {
            let Some(key) = d
                .credentials
                .iter()
                .find(|c| c.source == t.source && c.id == id)
            else {
                return Ok(vec![Step::Manual {
                    source: t.source.clone(),
                    what: format!(
                        "key {} is not in the current snapshot (already deleted?): check it by hand",
                        sanitize(id)
                    ),
                    lifted_by: Vec::new(),
                }]);
            };
            let project = key.resource_id.clone().unwrap_or_default();
            if let Some(c) = archived_container(d, &t.source, &project) {
                return Ok(inert(t, "project", &c));
            }
            let in_project = ApiPath::new("organization/projects").id(&project)?;
            match key.owner.as_ref() {
                // OpenAI refuses to delete a service account's key alone (400): the service
                // account goes, and its keys with it. The same call as revoking the account.
                Some(o) if o.kind == "service_account" => {
                    vec![sa_call(t, in_project.lit("service_accounts").id(&o.id)?)]
                }
                _ => vec![call("DELETE", in_project.lit("api_keys").id(id)?, None)],
            }
        }
        ("openai", "admin_key") => vec![call("DELETE", admin_key_path(id)?, None)],
        ("openai", "invite") => vec![call(
            "DELETE",
            ApiPath::new("organization/invites").id(id)?,
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
                return Ok(vec![Step::Manual {
                    source: t.source.clone(),
                    what: format!(
                        "remove {} {} in the Claude Console: the Admin API cannot remove an admin",
                        sanitize(&role),
                        sanitize(id)
                    ),
                    lifted_by: Vec::new(),
                }]);
            }
            let mut out = vec![call(
                "DELETE",
                ApiPath::new("v1/organizations/users").id(id)?,
                None,
            )];
            // Removing a user leaves their keys working: the plan adds them.
            for c in d.credentials.iter().filter(|c| {
                c.source == t.source && c.usable() && c.owner.as_ref().is_some_and(|o| o.id == id)
            }) {
                if c.resource_id
                    .as_deref()
                    .is_some_and(|w| archived_container(d, &t.source, w).is_some())
                {
                    continue;
                }
                out.push(Step::Call {
                    source: t.source.clone(),
                    method: "POST",
                    path: ApiPath::new("v1/organizations/api_keys").id(&c.id)?.into(),
                    body: Some(key_status_body(key_status)),
                    note: Some("the user's key survives their removal".into()),
                });
            }
            out
        }
        ("anthropic", "grant") => {
            let (ws, user) = split();
            if let Some(c) = archived_container(d, &t.source, ws) {
                return Ok(inert(t, "workspace", &c));
            }
            vec![call(
                "DELETE",
                ApiPath::new("v1/organizations/workspaces")
                    .id(ws)?
                    .lit("members")
                    .id(user)?,
                None,
            )]
        }
        ("anthropic", "api_key") => {
            let key = d
                .credentials
                .iter()
                .find(|c| c.source == t.source && c.id == id);
            let ws = key.and_then(|c| c.resource_id.clone());
            if let Some(c) = ws.and_then(|w| archived_container(d, &t.source, &w)) {
                return Ok(inert(t, "workspace", &c));
            }
            // Already as the plan would leave it (or past it: archived and expired keys stay so).
            if let Some(now) = key.and_then(|k| k.status.as_deref())
                && (now == key_status || matches!(now, "archived" | "expired"))
            {
                return Ok(vec![Step::Record {
                    what: format!(
                        "nothing to send: Anthropic key {} is already {} in the snapshot",
                        sanitize(id),
                        sanitize(now)
                    ),
                }]);
            }
            vec![call(
                "POST",
                ApiPath::new("v1/organizations/api_keys").id(id)?,
                Some(key_status_body(key_status)),
            )]
        }
        ("anthropic", "invite") => vec![call(
            "DELETE",
            ApiPath::new("v1/organizations/invites").id(id)?,
            None,
        )],
        ("cursor", "account") => vec![call(
            "POST",
            ApiPath::new("teams/remove-member"),
            Some(json!({"userId": id})),
        )],
        _ => vec![Step::Manual {
            source: t.source.clone(),
            what: format!(
                "revoke {} {}: no API call does this; do it by hand",
                sanitize(kind),
                sanitize(id)
            ),
            lifted_by: Vec::new(),
        }],
    })
}

/// Deleting an OpenAI service account: the one call for the account, its grant and its keys.
fn sa_call(t: &Target, path: ApiPath) -> Step {
    Step::Call {
        source: t.source.clone(),
        method: "DELETE",
        path: path.into(),
        body: None,
        note: Some("deletes the service account and its keys (OpenAI cannot delete a service account's key alone)".into()),
    }
}

/// Does `hint` name this key? It may be the key id, the provider's redacted form (OpenAI
/// `redacted_value`, Anthropic `partial_key_hint`) or a shorter cut of it (`sk-...wxyz`), or
/// the whole secret, which matches when it
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
    // A shorter redacted form (`sk-...wxyz` for `sk-proj-abc...wxyz`): the key's head cut,
    // three characters at least, and its whole visible tail (a part of it would tell keys
    // apart by too little). `find_key` refuses a hint that several keys answer.
    if let Some((hh, ht)) = h.split_once("...").or_else(|| h.split_once('…'))
        && hh.len() >= 3
        && ht.len() >= 3
        && head.starts_with(hh)
        && tail == ht
    {
        return true;
    }
    head.len() >= 3
        && tail.len() >= 3
        && h.len() > head.len() + tail.len()
        && h.starts_with(head)
        && h.ends_with(tail)
}

/// The admin keys recert itself runs with, as (source, key id): a plan never deletes one.
pub type OwnKeys = std::collections::HashSet<(String, String)>;

/// The `DELETE` calls never sent, as (source, path) → the admin key id each would delete: the
/// keys recert itself runs with.
pub type Spare = std::collections::HashMap<(String, String), String>;

/// The body that sets an Anthropic key's status: what the planner sends and what the journal
/// compares (an `archived` key is past `inactive`).
fn key_status_body(status: &str) -> Value {
    json!({ "status": status })
}

/// What a reversal's note says about the call it reverses.
fn reverses_note(plan: i64, seq: i64) -> String {
    format!("reverses plan #{plan} call #{seq}")
}

/// The plan whose done call reversed `row` (an Anthropic key set active again), if any.
pub fn reversed_by(journal: &[JournalRow], row: &JournalRow) -> Option<i64> {
    let note = reverses_note(row.plan, row.seq);
    journal
        .iter()
        .find(|r| r.state == RowState::Done && r.note.as_deref() == Some(note.as_str()))
        .map(|r| r.plan)
}

/// Whether `row` is a reversal (a key set active again) rather than a remediation.
pub fn is_reversal(row: &JournalRow) -> bool {
    sets_key_status(row, "active")
}

/// Whether `row` sets an Anthropic key's status to `status` (the only call that can be
/// reversed, and its reversal).
fn sets_key_status(row: &JournalRow, status: &str) -> bool {
    row.method.as_deref() == Some("POST")
        && row
            .path
            .as_deref()
            .is_some_and(|p| p.starts_with("/v1/organizations/api_keys/"))
        && row
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .is_some_and(|b| b == key_status_body(status))
}

/// The call that undoes journal row `row`, when the provider can undo it: only an Anthropic
/// key set `inactive` can be set `active` again (a deleted key, an archived key or a removed
/// membership cannot come back). The reason when it cannot.
pub fn reversal(row: &JournalRow) -> Result<PlannedStep, &'static str> {
    if row.state != RowState::Done {
        return Err("This entry is not a call that was made: nothing to reverse");
    }
    let path = row.path.clone().unwrap_or_default();
    if !sets_key_status(row, "inactive") {
        return Err(
            "The provider cannot undo this call (only an Anthropic key set inactive can be re-activated)",
        );
    }
    Ok(PlannedStep {
        decisions: row.decisions.clone(),
        step: Step::Call {
            source: row.source.clone(),
            method: "POST",
            path,
            body: Some(key_status_body("active")),
            note: Some(reverses_note(row.plan, row.seq)),
        },
    })
}

/// The one path that deletes an OpenAI admin key.
fn admin_key_path(id: &str) -> Result<ApiPath, UnsafeId> {
    ApiPath::new("organization/admin_api_keys").id(id)
}

/// The call that would delete each of `own`, built as the planner builds it.
pub fn own_key_deletes(own: &OwnKeys) -> Spare {
    own.iter()
        .filter_map(|(s, id)| {
            let path = String::from(admin_key_path(id).ok()?);
            Some(((s.clone(), path), id.clone()))
        })
        .collect()
}

/// Turn every call that would delete an admin key recert itself runs with into a manual step:
/// sent first, it would lock recert out of the provider before the rest of the plan ran (and
/// out of every later re-check).
pub fn spare_own_keys(steps: &mut [PlannedStep], d: &SourceData, own: &OwnKeys) {
    let spare = own_key_deletes(own);
    for p in steps.iter_mut() {
        let Step::Call {
            source,
            method: "DELETE",
            path,
            ..
        } = &p.step
        else {
            continue;
        };
        let hit = spare.get(&(source.clone(), path.clone()));
        if let Some(id) = hit {
            let s = source.clone();
            let name = d
                .credentials
                .iter()
                .find(|c| c.source == *s && c.id == *id)
                .and_then(|c| c.name.clone())
                .unwrap_or_default();
            p.step = Step::Manual {
                what: format!(
                    "admin key {id} ({}) is the key recert itself uses for source '{s}': deleting it now would lock recert out before the rest of the plan runs. Give recert a new admin key first (`recert login {s}`), then revoke this one",
                    crate::model::text::sanitize(&name)
                ),
                source: s,
                lifted_by: Vec::new(),
            };
        }
    }
}

/// A step of a plan, with the decisions it carries out.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedStep {
    pub decisions: Vec<i64>,
    #[serde(flatten)]
    pub step: Step,
}

/// What a call does, whatever its note says: the source, method, path and body. A plan holds
/// each effect once.
pub type Effect = (String, String, String, Option<String>);

impl Step {
    /// The effect of a provider call; `None` for manual and record steps.
    pub fn effect(&self) -> Option<Effect> {
        match self {
            Step::Call {
                source,
                method,
                path,
                body,
                ..
            } => Some((
                source.clone(),
                method.to_string(),
                path.clone(),
                body.as_ref().map(|b| b.to_string()),
            )),
            _ => None,
        }
    }
}

/// A call an earlier plan made, and (after `--recheck`) what a read of the provider says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    pub plan: i64,
    /// When it finished (unix seconds).
    pub at: i64,
    pub proof: Option<recheck::Proof>,
}

/// Calls already done by an earlier plan, by effect.
pub type DoneCalls = std::collections::HashMap<Effect, Done>;

/// The calls the journal records as done, by effect (the latest plan where two did the same),
/// judged against the snapshot the plan is built from, taken at `snapshot_at`. A call done
/// after it is trusted (the snapshot predates it). A call done before it is not: the snapshot
/// is the provider's word since, and a decision that still targets the object means access
/// came back (a key turned on again, a user re-added), so it is sent again, saying why.
pub fn done_calls(journal: &[JournalRow], snapshot_at: Ts) -> DoneCalls {
    with_implied(journal
        .iter()
        .filter(|r| r.kind == "call" && r.state == RowState::Done)
        .filter_map(|r| {
            let (m, p) = (r.method.clone()?, r.path.clone()?);
            let proof = (r.updated_at < snapshot_at).then(|| {
                recheck::Proof::Present(format!(
                    "the snapshot this plan is built from was taken after it ({}) and the decision still targets it",
                    when(snapshot_at)
                ))
            });
            Some((
                (r.source.clone(), m, p, r.body.clone()),
                Done {
                    plan: r.plan,
                    at: r.updated_at,
                    proof,
                },
            ))
        }))
}

/// Every done effect, and the weaker effects each one also has: an Anthropic key set
/// `archived` is past `inactive` (and the provider refuses to change an archived key), so a
/// later plan's `inactive` for it is already done, not a call that would fail.
fn with_implied(done: impl Iterator<Item = (Effect, Done)>) -> DoneCalls {
    let mut out = DoneCalls::new();
    let mut implied = Vec::new();
    for (e, d) in done {
        let (source, method, path, body) = &e;
        let archived = key_status_body("archived").to_string();
        if method == "POST" && body.as_deref() == Some(archived.as_str()) {
            let inactive = key_status_body("inactive").to_string();
            implied.push((
                (source.clone(), method.clone(), path.clone(), Some(inactive)),
                d.clone(),
            ));
        }
        out.insert(e, d);
    }
    for (e, d) in implied {
        out.entry(e).or_insert(d);
    }
    out
}

fn when(t: Ts) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The plan for a set of decisions: only revokes reach providers, so only they are planned.
/// A plan is a set of effects: a call two decisions share (a service account behind its key and
/// its grant, an Anthropic key also taken with its user) appears once, carrying both decisions;
/// a call whose effect another call of the plan already has (a project membership of an org
/// user the plan removes) is not sent and says which call covers it; a call an earlier plan
/// already made is not sent again.
pub fn plan(decisions: &[&Decision], d: &SourceData) -> Vec<PlannedStep> {
    plan_with(
        decisions,
        d,
        PlanOptions::default(),
        &DoneCalls::default(),
        &OwnKeys::default(),
    )
}

/// [`plan`] with options, the calls earlier plans made, and the admin keys recert runs with
/// (never deleted: see [`spare_own_keys`]).
pub fn plan_with(
    decisions: &[&Decision],
    d: &SourceData,
    opts: PlanOptions,
    done: &DoneCalls,
    own: &OwnKeys,
) -> Vec<PlannedStep> {
    let mut out: Vec<PlannedStep> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for x in decisions.iter().filter(|x| x.d.verdict == Verdict::Revoke) {
        for step in steps_with(x.d.verdict, x.d.owner.as_deref(), &x.d.target, d, opts) {
            let key = match step.effect() {
                Some((s, m, p, b)) => format!("{s} {m} {p} {}", b.unwrap_or_default()),
                None => step.line(),
            };
            match seen.get(&key) {
                Some(&i) => {
                    if !out[i].decisions.contains(&x.id) {
                        out[i].decisions.push(x.id)
                    }
                }
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
    cover(&mut out);
    mark_done(&mut out, done);
    spare_own_keys(&mut out, d, own);
    // Calls on a part of a principal go before the call that removes the whole principal.
    out.sort_by_key(|p| match &p.step {
        Step::Call { method, path, .. } => stage(method, path),
        _ => 0,
    });
    out
}

/// Turn each call an earlier plan already made into a record saying so (or, where the proof
/// says the provider still has it, keep it with a note saying why it goes again).
pub fn mark_done(out: &mut [PlannedStep], done: &DoneCalls) {
    for p in out.iter_mut() {
        let Some(Done { plan, at, proof }) = p.step.effect().and_then(|e| done.get(&e)) else {
            continue;
        };
        let at = when(*at);
        let line = p.step.line();
        let what = match proof {
            // The read says the earlier call did not hold: send it again, saying why.
            Some(recheck::Proof::Present(why)) => {
                if let Step::Call { note, .. } = &mut p.step {
                    let again = format!("done in plan #{plan} at {at}, but {why}: sent again");
                    *note = Some(match note.take() {
                        Some(n) => format!("{n}; {again}"),
                        None => again,
                    });
                }
                continue;
            }
            Some(recheck::Proof::Gone(why)) => {
                format!(
                    "already done in plan #{plan} at {at}: {line} (not sent again; re-checked: {why})"
                )
            }
            Some(recheck::Proof::Unknown(why)) => format!(
                "already done in plan #{plan} at {at}: {line} (not sent again; the re-check proves nothing: {why})"
            ),
            None => format!(
                "already done in plan #{plan} at {at}: {line} (not sent again; `recert revoke --recheck` proves it with a read)"
            ),
        };
        p.step = Step::Record { what };
    }
}

/// The calls done by plans newer than `after`: what another process did while this plan was
/// being made and confirmed (always trusted: they are newer than any snapshot it used).
pub fn done_since(journal: &[JournalRow], after: i64) -> DoneCalls {
    with_implied(
        journal
            .iter()
            .filter(|r| r.plan > after && r.kind == "call" && r.state == RowState::Done)
            .filter_map(|r| {
                let (m, p) = (r.method.clone()?, r.path.clone()?);
                Some((
                    (r.source.clone(), m, p, r.body.clone()),
                    Done {
                        plan: r.plan,
                        at: r.updated_at,
                        proof: None,
                    },
                ))
            }),
    )
}

/// The segments of a planned path (each an encoded id or a literal).
fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// What a call removes, if it removes a principal from something whole: (what, ids from the
/// path, as sent) for an OpenAI org user, an Anthropic org user, an OpenAI project membership
/// (its project roles go with it), an OpenAI group membership (the roles the group gives).
fn removal(method: &str, path: &str) -> Option<(&'static str, Vec<String>)> {
    if method != "DELETE" {
        return None;
    }
    match segments(path).as_slice() {
        ["organization", "users", u] => Some(("openai-user", vec![u.to_string()])),
        ["v1", "organizations", "users", u] => Some(("anthropic-user", vec![u.to_string()])),
        ["organization", "projects", p, "users", u] => {
            Some(("openai-project-user", vec![p.to_string(), u.to_string()]))
        }
        ["organization", "groups", g, "users", u] => {
            Some(("openai-group-user", vec![g.to_string(), u.to_string()]))
        }
        _ => None,
    }
}

/// The removal that would also do what `path` does, as (what, id) keys to look up.
fn covered_by(method: &str, path: &str) -> Vec<(&'static str, Vec<String>)> {
    if method != "DELETE" {
        return Vec::new();
    }
    match segments(path).as_slice() {
        ["organization", "projects", _, "users", u] => {
            vec![("openai-user", vec![u.to_string()])]
        }
        ["projects", p, "users", u, "roles", _] => vec![
            ("openai-project-user", vec![p.to_string(), u.to_string()]),
            ("openai-user", vec![u.to_string()]),
        ],
        ["v1", "organizations", "workspaces", _, "members", u] => {
            vec![("anthropic-user", vec![u.to_string()])]
        }
        _ => Vec::new(),
    }
}

/// What the covering call is, in words.
fn removal_words(what: &str) -> &'static str {
    match what {
        "openai-user" | "anthropic-user" => "removing the org user",
        "openai-group-user" => "removing them from the group",
        _ => "removing the project membership",
    }
}

/// Turn every call another call of the plan already does into a record that names it; its
/// decisions travel with the covering call too, so they finish when it does.
fn cover(out: &mut [PlannedStep]) {
    let mut removals: std::collections::HashMap<(String, &'static str, Vec<String>), usize> =
        Default::default();
    for (i, p) in out.iter().enumerate() {
        if let Step::Call {
            source,
            method,
            path,
            ..
        } = &p.step
            && let Some((what, id)) = removal(method, path)
        {
            removals.insert((source.clone(), what, id), i);
        }
    }
    for i in 0..out.len() {
        // A call another removal does, or a manual step one lifts.
        let (source, keys) = match &out[i].step {
            Step::Call {
                source,
                method,
                path,
                ..
            } => (source, covered_by(method, path)),
            Step::Manual {
                source, lifted_by, ..
            } => (source, lifted_by.clone()),
            Step::Record { .. } => continue,
        };
        let Some((by, what)) = keys.into_iter().find_map(|(what, id)| {
            removals
                .get(&(source.clone(), what, id))
                .map(|&j| (j, what))
        }) else {
            continue;
        };
        let by_line = out[by].step.line();
        let moved = out[i].decisions.clone();
        let what = match &out[i].step {
            // Said as what it was, never as `MANUAL ...`: it is not one to do.
            Step::Manual { what: step, .. } => format!(
                "covered by {} ({by_line}): no manual step needed ({step})",
                removal_words(what)
            ),
            s => format!(
                "covered by {} ({by_line}): {} is not sent",
                removal_words(what),
                s.line()
            ),
        };
        out[i].step = Step::Record { what };
        for x in moved {
            if !out[by].decisions.contains(&x) {
                out[by].decisions.push(x);
            }
        }
    }
}

/// The order calls go out in: 0 for calls on part of a principal (a membership, a role, a
/// key), 1 for calls that remove a principal whole (an org user, a service account, a Cursor
/// member), so nothing races the removal that would make it a 404.
pub fn stage(method: &str, path: &str) -> u8 {
    let segs = segments(path);
    let whole = matches!(
        segs.as_slice(),
        ["organization", "users", _]
            | ["v1", "organizations", "users", _]
            | ["organization", "projects", _, "service_accounts", _]
            | ["teams", "remove-member"]
    );
    u8::from(whole && matches!(method, "DELETE" | "POST"))
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
    /// Given up by a person (`apply --abandon`), audited: never sent again by this plan.
    Abandoned,
}

impl RowState {
    /// Not finished: planned, sent without an answer, or failed. A plan with such rows is
    /// what `apply --resume` (and the console's `:apply`) finishes before anything new.
    pub fn is_open(self) -> bool {
        matches!(self, RowState::Pending | RowState::Sent | RowState::Failed)
    }

    /// Gone out to the provider (answered or not): its decisions are carried out.
    pub fn went_out(self) -> bool {
        matches!(self, RowState::Done | RowState::Sent)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Pending => "pending",
            RowState::Sent => "sent",
            RowState::Done => "done",
            RowState::Failed => "failed",
            RowState::Manual => "manual",
            RowState::Abandoned => "abandoned",
        }
    }
    pub fn parse(s: &str) -> RowState {
        match s {
            "sent" => RowState::Sent,
            "done" => RowState::Done,
            "failed" => RowState::Failed,
            "manual" => RowState::Manual,
            "abandoned" => RowState::Abandoned,
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
    /// When the row last changed (unix seconds).
    pub updated_at: i64,
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
            _ if self.kind == "record" => {
                format!("recorded, not sent: {}", self.note.as_deref().unwrap_or(""))
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
        assert!(
            s[0].line()
                .contains("cannot delete a service account's key alone")
        );
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
        // A shorter redacted form, as a post or a scanner quotes it: its head and tail are
        // the key's own, at least three characters each.
        assert!(key_matches(&c, "sk-...wxyz"));
        assert!(!key_matches(&c, "sk-proj-...xyz"), "the whole visible tail");
        assert!(key_matches(&c, "sk-proj-ab…wxyz"));
        assert!(
            !key_matches(&c, "sk-...wxy"),
            "the tail is the key's last characters"
        );
        assert!(!key_matches(&c, "sk-proj-abd...wxyz"));
        assert!(
            !key_matches(&c, "sk...wxyz"),
            "three characters of head at least"
        );
        assert!(
            !key_matches(&c, "sk-...yz"),
            "three characters of tail at least"
        );
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

    /// An OpenAI org (source `oa`) with a group `group_1` and a custom role `role_1`.
    fn group_and_role() -> SourceData {
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
        d
    }

    /// A role held through a group is a manual step (change it on the group), unless the same
    /// plan takes the person out of that group or out of the org: then it is done by that
    /// call, recorded as covered, not left as a ticket a person must close by hand.
    #[test]
    fn a_role_through_a_group_is_covered_when_the_plan_removes_them_from_it() {
        let mut d = group_and_role();
        d.grants.push(crate::model::Grant {
            source: "oa".into(),
            provider: "openai".into(),
            principal_kind: "user".into(),
            principal_id: "user-b".into(),
            resource_id: "role_1".into(),
            role: Some("holder".into()),
            via: "group:group_1".into(),
        });
        let revoke = |id: i64, kind: &str, target: &str| crate::review::Decision {
            id,
            batch: 1,
            made_at: 0,
            reviewer: "r@x.com".into(),
            snapshot_id: None,
            undone: false,
            d: crate::review::NewDecision {
                verdict: Verdict::Revoke,
                target: Target::new("openai", "oa", kind, target),
                label: target.into(),
                rule: None,
                owner: None,
                until: None,
                justification: None,
            },
        };
        let role = revoke(1, "grant", "role_1/user-b");
        let lines = |ds: &[&crate::review::Decision]| -> Vec<String> {
            plan(ds, &d).iter().map(|p| p.step.line()).collect()
        };
        // Alone: a person changes it on the group.
        let alone = lines(&[&role]);
        assert_eq!(alone.len(), 1);
        assert!(alone[0].starts_with("MANUAL on oa:"), "{alone:?}");
        // With the group membership revoked too: that call does it.
        let member = revoke(2, "grant", "group_1/user-b");
        let with_group = lines(&[&role, &member]);
        assert_eq!(calls(&plan(&[&role, &member], &d)), 1, "{with_group:?}");
        assert!(
            with_group.iter().any(|l| l.starts_with(
                "covered by removing them from the group (DELETE /organization/groups/group_1/users/user-b on oa)"
            )),
            "{with_group:?}"
        );
        assert!(
            !with_group.iter().any(|l| l.contains("MANUAL")),
            "a manual step the call lifts does not read as one to do: {with_group:?}"
        );
        assert!(
            with_group
                .iter()
                .any(|l| l.contains("no manual step needed")),
            "{with_group:?}"
        );
        // With the org user removed: done too.
        let user = revoke(3, "account", "user-b");
        let with_user = lines(&[&role, &user]);
        assert!(
            with_user
                .iter()
                .any(|l| l.starts_with("covered by removing the org user")),
            "{with_user:?}"
        );
        assert!(
            !with_user.iter().any(|l| l.starts_with("MANUAL")),
            "{with_user:?}"
        );
        // Another person's group membership removed covers nothing of user-b's.
        let other = revoke(4, "grant", "group_1/user-z");
        assert!(
            lines(&[&role, &other])
                .iter()
                .any(|l| l.starts_with("MANUAL")),
            "not lifted by someone else leaving the group"
        );
        // Ids are matched as the calls send them: `a@b` leaving covers `a@b`'s role, and a
        // user whose id is `a@b` encoded (`a%40b`) leaving covers nothing of `a@b`'s.
        let mut odd = d.clone();
        odd.grants[0].principal_id = "a@b".into();
        let plan_lines = |ds: &[&crate::review::Decision]| -> Vec<String> {
            plan(ds, &odd).iter().map(|p| p.step.line()).collect()
        };
        let role_ab = revoke(5, "grant", "role_1/a@b");
        assert!(
            plan_lines(&[&role_ab])
                .iter()
                .any(|l| l.starts_with("MANUAL"))
        );
        let gone = plan_lines(&[&role_ab, &revoke(6, "account", "a@b")]);
        assert!(
            gone.iter()
                .any(|l| l.starts_with("covered by removing the org user")),
            "{gone:?}"
        );
        let lookalike = plan_lines(&[&role_ab, &revoke(7, "account", "a%40b")]);
        assert!(
            lookalike
                .iter()
                .any(|l| l.contains("holds role role_1 through group") && l.starts_with("MANUAL")),
            "{lookalike:?}"
        );
        // The covered step's decision finishes with the call that covers it.
        let p = plan(&[&role, &member], &d);
        let call = p.iter().find(|s| s.step.effect().is_some()).unwrap();
        assert!(
            call.decisions.contains(&1) && call.decisions.contains(&2),
            "{p:?}"
        );
    }

    #[test]
    fn custom_role_grants_are_unassigned_from_the_user_or_the_group_or_left_to_the_group() {
        let mut d = group_and_role();
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
        // Held both ways, in whichever order the snapshot lists them: the direct assignment is
        // removed and the group's is left to a person, so the plan does not depend on the
        // order (a snapshot's rows shared with earlier ones keep their earlier place).
        for first in ["direct", "group:group_1"] {
            let mut both = d.clone();
            let mut g = both.grants[0].clone();
            g.principal_id = "user-c".into();
            let mut h = g.clone();
            g.via = first.into();
            h.via = if first == "direct" {
                "group:group_1"
            } else {
                "direct"
            }
            .into();
            both.grants.extend([g, h]);
            let all = steps(
                Verdict::Revoke,
                None,
                &Target::new("openai", "oa", "grant", "role_1/user-c"),
                &both,
            );
            let lines: Vec<String> = all.iter().map(Step::line).collect();
            assert_eq!(lines.len(), 2, "{lines:?}");
            assert_eq!(
                lines[0],
                "DELETE /organization/users/user-c/roles/role_1 on oa"
            );
            assert!(lines[1].contains("through group group_1"), "{lines:?}");
        }

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
    fn a_key_archived_by_an_earlier_plan_is_not_set_inactive_again() {
        let d = SourceData::default();
        let t = Target::new("anthropic", "an", "api_key", "apikey_1");
        let archive = PlanOptions {
            archive_anthropic_keys: true,
        };
        let Step::Call {
            method, path, body, ..
        } = steps_with(Verdict::Revoke, None, &t, &d, archive).remove(0)
        else {
            panic!("a call")
        };
        let row = JournalRow {
            plan: 1,
            seq: 1,
            decisions: vec![1],
            source: "an".into(),
            kind: "call".into(),
            method: Some(method.to_string()),
            path: Some(path),
            body: body.map(|b| b.to_string()),
            note: None,
            state: RowState::Done,
            attempts: 1,
            status: Some(200),
            result: None,
            updated_at: 100,
        };
        let row_copy = row.clone();
        let inactive = steps(Verdict::Revoke, None, &t, &d).remove(0);
        for done in [
            done_calls(std::slice::from_ref(&row), 50),
            done_since(&[row], 0),
        ] {
            let mut planned = vec![PlannedStep {
                decisions: vec![2],
                step: inactive.clone(),
            }];
            mark_done(&mut planned, &done);
            assert!(
                matches!(&planned[0].step, Step::Record { what } if what.contains("already done in plan #1")),
                "{:?}",
                planned[0].step
            );
        }
        // Journaled, the record reads as what it is, not as a manual step of no source
        // (it read "MANUAL on : already done in plan #1 ...").
        let record = JournalRow {
            kind: "record".into(),
            source: String::new(),
            method: None,
            path: None,
            body: None,
            note: Some("already done in plan #1 at 2026-12-01 10:00 UTC".into()),
            ..row_copy
        };
        assert_eq!(
            record.line(),
            "recorded, not sent: already done in plan #1 at 2026-12-01 10:00 UTC"
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
