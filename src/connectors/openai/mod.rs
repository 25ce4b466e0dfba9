//! OpenAI Administration API: org users, invites, projects (archived too), project users,
//! service accounts and API keys, admin API keys. Projects are fetched in parallel, bounded by
//! the source's concurrency.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::http::{Http, SourceError};
use super::paging;
use super::path::ApiPath;
use super::wire;
use crate::model::{
    Account, Credential, Grant, Invite, Owner, Resource, ServiceAccount, SourceData,
};

pub mod audit;

const PROVIDER: &str = "openai";

/// Every item of an OpenAI classic list (`limit`/`after`).
pub async fn list_all<T: DeserializeOwned>(
    http: &Http,
    path: &str,
    params: &[(&str, String)],
    page_size: u32,
) -> Result<Vec<T>, SourceError> {
    paging::list_all(http, paging::OPENAI, path, params, page_size).await
}

#[derive(Deserialize)]
struct WUser {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    added_at: Option<i64>,
    #[serde(default, deserialize_with = "wire::ts")]
    api_key_last_used_at: Option<i64>,
    #[serde(default, deserialize_with = "wire::flag")]
    is_scim_managed: Option<bool>,
}

#[derive(Deserialize)]
struct WProject {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    created_at: Option<i64>,
    #[serde(default, deserialize_with = "wire::ts")]
    archived_at: Option<i64>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct WProjectUser {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default)]
    role: Option<String>,
}

#[derive(Deserialize)]
struct WServiceAccount {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    created_at: Option<i64>,
}

/// The person or service account inside an owner object (2025 and 2026 shapes alike).
#[derive(Deserialize, Default)]
struct WPrincipal {
    #[serde(default, deserialize_with = "wire::opt_id")]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// Project keys nest the principal (`{type, user:{..}}` / `{type, service_account:{..}}`);
/// admin keys are flat (`{type, id, name, ...}`). Both are read.
#[derive(Deserialize, Default)]
struct WOwner {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    user: Option<WPrincipal>,
    #[serde(default)]
    service_account: Option<WPrincipal>,
    #[serde(flatten)]
    flat: WPrincipal,
}

impl WOwner {
    fn into_owner(self) -> Option<Owner> {
        let (kind, p) = match (self.kind.as_deref(), self.user, self.service_account) {
            (_, Some(u), _) => ("user", u),
            (_, None, Some(s)) => ("service_account", s),
            (Some("service_account"), None, None) => ("service_account", self.flat),
            (_, None, None) => ("user", self.flat),
        };
        Some(Owner {
            kind: kind.into(),
            id: p.id?,
            email: p.email,
            name: p.name,
        })
    }
}

#[derive(Deserialize)]
struct WKey {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    redacted_value: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    created_at: Option<i64>,
    #[serde(default, deserialize_with = "wire::ts")]
    last_used_at: Option<i64>,
    #[serde(default, deserialize_with = "wire::ts")]
    expires_at: Option<i64>,
    #[serde(default)]
    owner_project_access: Option<String>,
    #[serde(default)]
    owner: Option<WOwner>,
}

#[derive(Deserialize)]
struct WInvite {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    created_at: Option<i64>,
    #[serde(default, deserialize_with = "wire::ts")]
    expires_at: Option<i64>,
}

struct ProjectParts {
    users: Vec<WProjectUser>,
    service_accounts: Vec<WServiceAccount>,
    keys: Vec<WKey>,
    /// Groups with access to the project, each with its predefined project role names and the
    /// ids of the project's custom roles it holds.
    groups: Vec<(String, Option<String>, Vec<String>)>,
    /// The project's custom roles, `(id, name)`.
    roles: Vec<(String, String)>,
    /// Each project user's custom project roles, with their sources.
    user_roles: Vec<UserRoles>,
}

/// An organisation group (`/organization/groups`).
#[derive(Deserialize)]
struct WGroup {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    created_at: Option<i64>,
    #[serde(default, deserialize_with = "wire::flag")]
    is_scim_managed: Option<bool>,
}

/// A group's member (`/organization/groups/{g}/users`): `{id, name, email}`.
#[derive(Deserialize)]
struct WGroupUser {
    #[serde(deserialize_with = "wire::id")]
    id: String,
}

/// A group granted access to a project (`/organization/projects/{p}/groups`).
#[derive(Deserialize)]
struct WProjectGroup {
    #[serde(deserialize_with = "wire::id")]
    group_id: String,
}

/// A role (`/organization/roles`) or a role assignment (`AssignedRoleDetails`): the role's
/// name is what a reviewer reads; `assignment_sources` says whether a user holds it directly
/// or through a group.
#[derive(Deserialize)]
struct WRole {
    #[serde(default, deserialize_with = "wire::opt_id")]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "wire::flag")]
    predefined_role: Option<bool>,
    #[serde(default)]
    assignment_sources: Option<Vec<WSource>>,
}

/// Where a role assignment comes from: `{principal_id, principal_type: "user"|"group"}`.
#[derive(Deserialize)]
struct WSource {
    #[serde(deserialize_with = "wire::id")]
    principal_id: String,
    #[serde(default)]
    principal_type: Option<String>,
}

/// Custom organisation roles and who holds them: `(role id, name)`, each group's custom roles,
/// and each user's custom roles with their sources. Predefined roles (`owner`, `reader`) are the
/// users' `role` already. Without custom roles nobody is asked (one request per user
/// otherwise); orgs without the roles API answer 404 or 403: none.
type OrgRoles = (
    Vec<(String, String)>,
    Vec<(String, Vec<String>)>,
    Vec<UserRoles>,
);

/// A user id and each custom role they hold, with its `assignment_sources`.
type UserRoles = (String, Vec<(String, Vec<WSource>)>);

/// The custom (not predefined) roles a roles list names, `(id, name)`. An org without the
/// roles API answers 404 or 403: none.
async fn custom_roles(http: &Http, path: &str) -> Result<Vec<(String, String)>, SourceError> {
    let Some(roles) = super::optional(list_all::<WRole>(http, path, &[], 1000)).await? else {
        return Ok(Vec::new());
    };
    Ok(roles
        .into_iter()
        .filter(|r| r.predefined_role != Some(true))
        .filter_map(|r| {
            let id = r.id?;
            let name = r.name.unwrap_or_else(|| id.clone());
            Some((id, name))
        })
        .collect())
}

/// Each user's roles among `custom`, read from `{users}/{u}/roles` (one request per user),
/// with their `assignment_sources`.
async fn users_custom_roles(
    http: &Http,
    users_path: &ApiPath,
    users: &[String],
    custom: &[(String, String)],
) -> Result<Vec<UserRoles>, SourceError> {
    // Owned ids and no closure over a reference in the futures: the stream runs inside a
    // spawned project task, whose higher-ranked `Send` check rejects either.
    futures::stream::iter(users.iter().cloned().map(|u| async move {
        let path = http.path(users_path.clone().id(&u).map(|p| p.lit("roles")))?;
        // A user removed since the user list was read has no roles to review.
        let roles = super::optional(list_all::<WRole>(http, &path, &[], 1000))
            .await?
            .unwrap_or_default();
        let held = roles
            .into_iter()
            .filter_map(|r| Some((r.id?, r.assignment_sources.unwrap_or_default())))
            .filter(|(id, _)| custom.iter().any(|(c, _)| c == id))
            .collect();
        Ok::<_, SourceError>((u, held))
    }))
    .buffered(http.limits.concurrency.max(1))
    .try_collect()
    .await
}

async fn org_roles(
    http: &Http,
    users: &[String],
    groups: &[String],
) -> Result<OrgRoles, SourceError> {
    let custom = custom_roles(http, "organization/roles").await?;
    if custom.is_empty() {
        return Ok(Default::default());
    }
    let known = &custom;
    let by_group: Vec<(String, Vec<String>)> =
        futures::stream::iter(groups.iter().map(|g| async move {
            let path = http.path(
                ApiPath::new("organization/groups")
                    .id(g)
                    .map(|p| p.lit("roles")),
            )?;
            let roles: Vec<WRole> = list_all(http, &path, &[], 1000).await?;
            let ids = roles
                .into_iter()
                .filter_map(|r| r.id)
                .filter(|id| known.iter().any(|(c, _)| c == id))
                .collect();
            Ok::<_, SourceError>((g.clone(), ids))
        }))
        .buffered(http.limits.concurrency.max(1))
        .try_collect()
        .await?;
    let by_user =
        users_custom_roles(http, &ApiPath::new("organization/users"), users, &custom).await?;
    Ok((custom, by_group, by_user))
}

/// Where a user's custom role comes from: `direct` when they hold it themselves (or no source
/// is named), `scim` when only SCIM-managed groups give it (the directory governs it), else
/// `group:ID` (changed on the group, not the user).
fn role_via(sources: &[WSource], scim_groups: &std::collections::HashSet<String>) -> String {
    let direct = sources.is_empty()
        || sources
            .iter()
            .any(|x| x.principal_type.as_deref() != Some("group"));
    if direct {
        return "direct".into();
    }
    match sources
        .iter()
        .find(|x| !scim_groups.contains(&x.principal_id))
    {
        Some(g) => format!("group:{}", g.principal_id),
        None => "scim".into(),
    }
}

/// A custom role as a resource (inside its project, for a project role).
fn role_resource(src: &str, id: String, name: String, parent: Option<String>) -> Resource {
    Resource {
        source: src.to_string(),
        provider: PROVIDER.to_string(),
        kind: "role".into(),
        archived: false,
        id,
        name: Some(name),
        created_at: None,
        parent,
    }
}

/// Holding a custom role: a grant on the role's resource.
fn role_grant(src: &str, kind: &str, principal: &str, role: String, via: String) -> Grant {
    Grant {
        source: src.into(),
        provider: PROVIDER.into(),
        principal_kind: kind.into(),
        principal_id: principal.into(),
        resource_id: role.into(),
        role: Some("holder".into()),
        via: via.into(),
    }
}

/// Each user's custom roles as grants (via `role_via`).
fn held_roles(
    d: &mut SourceData,
    src: &str,
    users: Vec<UserRoles>,
    scim_groups: &std::collections::HashSet<String>,
) {
    for (u, held) in users {
        for (role, sources) in held {
            let via = role_via(&sources, scim_groups);
            d.grants.push(role_grant(src, "user", &u, role, via));
        }
    }
}

/// The groups with access to a project and the roles each holds there (from
/// `/projects/{p}/groups/{g}/roles`, which has no `/organization` prefix): `(group, roles)`.
/// Orgs without groups answer 404 or 403: no groups.
async fn project_groups(
    http: &Http,
    project: &str,
) -> Result<Vec<(String, Vec<WRole>)>, SourceError> {
    let path = http.path(
        ApiPath::new("organization/projects")
            .id(project)
            .map(|p| p.lit("groups")),
    )?;
    let Some(groups) = super::optional(list_all::<WProjectGroup>(http, &path, &[], 100)).await?
    else {
        return Ok(Vec::new());
    };
    let roles = groups.into_iter().map(|g| async move {
        let path = http.path(
            ApiPath::new("projects")
                .id(project)
                .and_then(|p| p.lit("groups").id(&g.group_id))
                .map(|p| p.lit("roles")),
        )?;
        let roles: Vec<WRole> = list_all(http, &path, &[], 100).await?;
        Ok::<_, SourceError>((g.group_id, roles))
    });
    futures::future::try_join_all(roles).await
}

/// Every organisation group with its members; `None` when the org has no groups API.
async fn groups(
    http: &Http,
    page: u32,
) -> Result<Option<Vec<(WGroup, Vec<WGroupUser>)>>, SourceError> {
    let Some(groups) =
        super::optional(list_all::<WGroup>(http, "organization/groups", &[], page)).await?
    else {
        return Ok(None);
    };
    let with_members = futures::stream::iter(groups.into_iter().map(|g| async move {
        let path = http.path(
            ApiPath::new("organization/groups")
                .id(&g.id)
                .map(|p| p.lit("users")),
        )?;
        let users: Vec<WGroupUser> = list_all(http, &path, &[], page).await?;
        Ok::<_, SourceError>((g, users))
    }))
    .buffered(http.limits.concurrency.max(1))
    .try_collect()
    .await?;
    Ok(Some(with_members))
}

async fn project_parts(http: &Http, project: &str, page: u32) -> Result<ProjectParts, SourceError> {
    let id = |base: &'static str| {
        ApiPath::new(base)
            .id(project)
            .map_err(|e| http.unsafe_id(e))
    };
    let base = id("organization/projects")?;
    let users_path = base.clone().lit("users").into_string();
    let sa_path = base.clone().lit("service_accounts").into_string();
    let keys_path = base.lit("api_keys").into_string();
    let in_project = id("projects")?;
    let roles_path = in_project.clone().lit("roles").into_string();
    let (users, service_accounts, keys, groups, roles) = futures::try_join!(
        list_all::<WProjectUser>(http, &users_path, &[], page),
        list_all(http, &sa_path, &[], page),
        list_all(http, &keys_path, &[], page),
        project_groups(http, project),
        custom_roles(http, &roles_path),
    )?;
    let is_custom = |id: &Option<String>| {
        id.as_ref()
            .is_some_and(|id| roles.iter().any(|(c, _)| c == id))
    };
    // A group's predefined project role is its access; its custom roles are grants of their own.
    let groups = groups
        .into_iter()
        .map(|(g, held)| {
            let (custom, predefined): (Vec<WRole>, Vec<WRole>) =
                held.into_iter().partition(|r| is_custom(&r.id));
            let names: Vec<String> = predefined.into_iter().filter_map(|r| r.name).collect();
            let custom = custom.into_iter().filter_map(|r| r.id).collect();
            (g, (!names.is_empty()).then(|| names.join(",")), custom)
        })
        .collect();
    // Only a project with custom roles costs a request per user.
    let user_roles = if roles.is_empty() {
        Vec::new()
    } else {
        let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
        users_custom_roles(http, &in_project.lit("users"), &ids, &roles).await?
    };
    Ok(ProjectParts {
        users,
        service_accounts,
        keys,
        groups,
        roles,
        user_roles,
    })
}

/// The cost window: spend per key over the last 30 days, for triage order.
pub const SPEND_DAYS: i64 = 30;

/// Spend per API key id, in cents: `/organization/costs` grouped by `api_key_id`, daily
/// buckets over the last `SPEND_DAYS` (amounts are dollars on the wire).
async fn spend_by_key(
    http: &Http,
    now: i64,
) -> Result<std::collections::HashMap<String, i64>, SourceError> {
    let start = now - SPEND_DAYS * 86_400;
    let mut spend = std::collections::HashMap::new();
    let first = vec![
        ("start_time", (start - start.rem_euclid(86_400)).to_string()),
        ("bucket_width", "1d".to_string()),
        ("group_by", "api_key_id".to_string()),
        ("limit", (SPEND_DAYS + 1).to_string()),
    ];
    paging::page_tokens(http, "organization/costs", first, |body| {
        for bucket in body
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for r in bucket
                .get("results")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(id), Some(usd)) = (
                    r.get("api_key_id").and_then(Value::as_str),
                    r.pointer("/amount/value").and_then(Value::as_f64),
                ) else {
                    continue;
                };
                *spend.entry(id.to_string()).or_insert(0) += (usd * 100.0).round() as i64;
            }
        }
    })
    .await?;
    Ok(spend)
}

/// A spawned task that is cancelled when its handle is dropped (a sibling failed, or the sync
/// was abandoned), so no request outlives the sync that wanted it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Pull an OpenAI organisation.
pub async fn fetch(
    http: &Arc<Http>,
    page: u32,
    prior: &super::feed::Prior,
    now: crate::model::Ts,
) -> Result<SourceData, SourceError> {
    let src = http.source.as_str();
    let archived = [("include_archived", "true".to_string())];
    // The project fan-out needs only the project list: it starts as soon as that is in, while
    // the long sequential user list is still paging. The client's semaphore bounds requests
    // in flight across all of it.
    let projects_and_parts = async {
        // Project ids flow into the fan-out page by page, while the project list is still paging.
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let lister = async move {
            paging::list_each(
                http,
                paging::OPENAI,
                "organization/projects",
                &archived,
                page,
                |p: &WProject| {
                    let _ = tx.send(p.id.clone());
                },
            )
            .await
        };
        let ids =
            futures::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|id| (id, rx)) },
            );
        let fan_out = ids
            .map(|pid| {
                // Each project is its own task, so parsing spreads over every core and never
                // holds up the next request.
                let http = http.clone();
                let mut task = AbortOnDrop(tokio::spawn(async move {
                    let parts = project_parts(&http, &pid, page).await?;
                    Ok::<_, SourceError>((pid, parts))
                }));
                async move { (&mut task.0).await.expect("project fetch task panicked") }
            })
            .buffer_unordered(http.limits.concurrency.max(1) * 2)
            .try_collect::<Vec<(String, ProjectParts)>>();
        futures::try_join!(lister, fan_out)
    };
    // The audit log is read beside the rest; what it cannot say is unknown, never a failure.
    let (listed, (provenance, feeds)) = futures::join!(
        async {
            futures::try_join!(
                list_all(http, "organization/users", &[], page),
                projects_and_parts,
                list_all(http, "organization/invites", &[], page),
                list_all(http, "organization/admin_api_keys", &[], page),
                super::optional(spend_by_key(http, now)),
                groups(http, page),
            )
        },
        audit::provenance(http, now, page, prior),
    );
    let (users, (projects, parts), invites, admin_keys, spend, groups): (
        Vec<WUser>,
        _,
        Vec<WInvite>,
        Vec<WKey>,
        _,
        _,
    ) = listed?;

    let user_ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let group_ids: Vec<String> = groups.iter().flatten().map(|(g, _)| g.id.clone()).collect();
    let scim_groups: std::collections::HashSet<String> = groups
        .iter()
        .flatten()
        .filter(|(g, _)| g.is_scim_managed == Some(true))
        .map(|(g, _)| g.id.clone())
        .collect();
    let (roles, group_roles, user_roles) = org_roles(http, &user_ids, &group_ids).await?;

    let mut d = SourceData::default();
    let s = |x: &str| x.to_string();
    // Custom org roles are resources; holding one is a grant SCIM cannot govern. A user who
    // holds one only through SCIM-managed groups is governed by the directory (`via = scim`);
    // through another group, `via = group:ID` (revoked by changing the group, not the user).
    for (id, name) in roles {
        d.resources
            .push(role_resource(src, id, format!("org role {name}"), None));
    }
    for (g, ids) in group_roles {
        for role in ids {
            d.grants
                .push(role_grant(src, "group", &g, role, s("direct")));
        }
    }
    held_roles(&mut d, src, user_roles, &scim_groups);
    for u in users {
        d.accounts.push(Account {
            source: s(src),
            provider: s(PROVIDER),
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            added_at: u.added_at,
            last_active_at: u.api_key_last_used_at,
            scim_managed: u.is_scim_managed,
            activity_from: None,
        });
    }
    let project_names: std::collections::HashMap<String, String> = projects
        .iter()
        .filter_map(|p| Some((p.id.clone(), p.name.clone()?)))
        .collect();
    for p in projects {
        d.resources.push(Resource {
            source: s(src),
            provider: s(PROVIDER),
            kind: s("project"),
            archived: p.archived_at.is_some() || p.status.as_deref() == Some("archived"),
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            parent: None,
        });
    }
    // Groups are resources; membership of one SCIM does not manage is a grant it cannot
    // govern (`via = scim` marks the ones it does).
    for (g, members) in groups.into_iter().flatten() {
        let via = if g.is_scim_managed == Some(true) {
            "scim"
        } else {
            "direct"
        };
        for u in members {
            d.grants.push(Grant {
                source: src.into(),
                provider: PROVIDER.into(),
                principal_kind: "user".into(),
                principal_id: u.id.into(),
                resource_id: g.id.as_str().into(),
                role: Some("member".into()),
                via: via.into(),
            });
        }
        d.resources.push(Resource {
            source: s(src),
            provider: s(PROVIDER),
            kind: s("group"),
            archived: false,
            id: g.id,
            name: g.name,
            created_at: g.created_at,
            parent: None,
        });
    }
    let mut parts = parts;
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    for (pid, parts) in parts {
        for u in parts.users {
            d.grants.push(Grant {
                source: src.into(),
                provider: PROVIDER.into(),
                principal_kind: "user".into(),
                principal_id: u.id.into(),
                resource_id: pid.as_str().into(),
                role: u.role.map(Into::into),
                via: "direct".into(),
            });
        }
        for sa in parts.service_accounts {
            d.grants.push(Grant {
                source: src.into(),
                provider: PROVIDER.into(),
                principal_kind: "service_account".into(),
                principal_id: sa.id.as_str().into(),
                resource_id: pid.as_str().into(),
                role: sa.role.clone().map(Into::into),
                via: "direct".into(),
            });
            d.service_accounts.push(ServiceAccount {
                source: s(src),
                provider: s(PROVIDER),
                id: sa.id,
                resource_id: Some(pid.clone()),
                name: sa.name,
                role: sa.role,
                created_at: sa.created_at,
            });
        }
        // A group's project access: every member holds the role through the group. Its custom
        // project roles are grants on those roles.
        for (gid, role, custom) in parts.groups {
            for r in custom {
                d.grants
                    .push(role_grant(src, "group", &gid, r, s("direct")));
            }
            d.grants.push(Grant {
                source: src.into(),
                provider: PROVIDER.into(),
                principal_kind: "group".into(),
                principal_id: gid.into(),
                resource_id: pid.as_str().into(),
                role: role.map(Into::into),
                via: "direct".into(),
            });
        }
        // Custom project roles are resources in their project; holding one is a grant SCIM
        // cannot govern, with its source as for org roles.
        for (id, name) in parts.roles {
            let name = match project_names.get(&pid) {
                Some(project) => format!("project role {name} in {project}"),
                None => format!("project role {name}"),
            };
            d.resources
                .push(role_resource(src, id, name, Some(pid.clone())));
        }
        held_roles(&mut d, src, parts.user_roles, &scim_groups);
        for k in parts.keys {
            let mut c = key(src, "project_key", Some(pid.clone()), k);
            // Keys that spent nothing in the window have no row: zero, when costs could be read.
            c.spend_cents = spend.as_ref().map(|m| m.get(&c.id).copied().unwrap_or(0));
            d.credentials.push(c);
        }
    }
    // The admin-key list also returns every project key, labelled an admin key, and nothing in
    // an item tells them apart (reference, Additions A1.1). The project key lists win: a key
    // one of them already has (archived projects are listed too) is that project's key, and
    // never an admin key as well, so it is counted, judged and revoked once, on its project.
    let project_keys: std::collections::HashSet<String> = d
        .credentials
        .iter()
        .filter(|c| c.kind == "project_key")
        .map(|c| c.id.clone())
        .collect();
    for k in admin_keys
        .into_iter()
        .filter(|k| !project_keys.contains(&k.id))
    {
        d.credentials.push(key(src, "admin_key", None, k));
    }
    for i in invites {
        d.invites.push(Invite {
            source: s(src),
            provider: s(PROVIDER),
            id: i.id,
            email: i.email,
            role: i.role,
            status: i.status,
            created_at: i.created_at,
            expires_at: i.expires_at,
        });
    }
    d.provenance = provenance;
    d.feeds = feeds;
    audit::silence(&mut d);
    Ok(d)
}

fn key(src: &str, kind: &str, project: Option<String>, k: WKey) -> Credential {
    Credential {
        source: src.to_string(),
        provider: PROVIDER.to_string(),
        kind: kind.to_string(),
        id: k.id,
        name: k.name,
        redacted: k.redacted_value,
        resource_id: project,
        owner: k.owner.and_then(WOwner::into_owner),
        owner_access: k.owner_project_access,
        status: None,
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        expires_at: k.expires_at,
        spend_cents: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(v: Value) -> Option<Owner> {
        serde_json::from_value::<WOwner>(v).unwrap().into_owner()
    }

    #[test]
    fn reads_both_nested_owner_shapes_and_the_flat_one() {
        let new = owner(serde_json::json!({"type":"user","user":{"id":"user_abc","name":"A","email":"a@x","role":"owner","created_at":1}})).unwrap();
        assert_eq!(
            (new.kind.as_str(), new.id.as_str(), new.email.as_deref()),
            ("user", "user_abc", Some("a@x"))
        );
        let old = owner(serde_json::json!({"type":"user","user":{"object":"organization.project.user","id":"user_abc","email":"a@x","added_at":1}})).unwrap();
        assert_eq!(old.id, "user_abc");
        let sa = owner(serde_json::json!({"type":"service_account","service_account":{"id":"svc_acct_1","name":"bot","created_at":1,"role":"member"}})).unwrap();
        assert_eq!(
            (sa.kind.as_str(), sa.id.as_str()),
            ("service_account", "svc_acct_1")
        );
        let flat = owner(serde_json::json!({"type":"service_account","object":"organization.service_account","id":"sa_456","name":"x","created_at":1,"role":"member"})).unwrap();
        assert_eq!(
            (flat.kind.as_str(), flat.id.as_str()),
            ("service_account", "sa_456")
        );
        assert!(owner(serde_json::json!({"type":"user"})).is_none());
    }

    #[test]
    fn unknown_fields_and_nulls_are_fine() {
        let k: WKey = serde_json::from_value(serde_json::json!({
            "object":"organization.project.api_key","id":"key_1","name":null,"redacted_value":"sk-a...b",
            "created_at":"1711471533","last_used_at":null,"brand_new_field":{"x":1},"owner":null}))
        .unwrap();
        assert_eq!(k.created_at, Some(1711471533));
        assert!(k.last_used_at.is_none() && k.owner.is_none());
    }
}
