//! The OpenAI Administration API, as `openapi.yaml` and the reference describe it.

use std::collections::BTreeMap;
use std::ops::Bound;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::world::{KeyOwner, OaiActor, OaiAudit, OaiKey, OpenAiOrg};
use super::{Params, Shared, bearer_ok, presented_key};

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/organization/users", get(list_users))
        .route(
            "/organization/users/{id}",
            get(get_user).delete(delete_user),
        )
        .route("/organization/invites", get(list_invites))
        .route(
            "/organization/invites/{id}",
            get(get_invite).delete(delete_invite),
        )
        .route("/organization/projects", get(list_projects))
        .route("/organization/projects/{p}", get(get_project))
        .route("/organization/projects/{p}/users", get(list_project_users))
        .route(
            "/organization/projects/{p}/users/{u}",
            get(get_project_user).delete(delete_project_user),
        )
        .route(
            "/organization/projects/{p}/service_accounts",
            get(list_service_accounts),
        )
        .route(
            "/organization/projects/{p}/service_accounts/{s}",
            get(get_service_account).delete(delete_service_account),
        )
        .route("/organization/projects/{p}/api_keys", get(list_keys))
        .route(
            "/organization/projects/{p}/api_keys/{k}",
            get(get_key).delete(delete_key),
        )
        .route("/organization/roles", get(list_org_roles))
        .route("/organization/users/{u}/roles", get(list_user_roles))
        .route(
            "/organization/users/{u}/roles/{r}",
            axum::routing::delete(delete_user_role),
        )
        .route("/organization/groups/{g}/roles", get(list_group_roles))
        .route(
            "/organization/groups/{g}/roles/{r}",
            axum::routing::delete(delete_group_role),
        )
        .route("/organization/groups", get(list_groups))
        .route("/organization/groups/{g}/users", get(list_group_users))
        .route(
            "/organization/groups/{g}/users/{u}",
            axum::routing::delete(delete_group_user),
        )
        .route(
            "/organization/projects/{p}/groups",
            get(list_project_groups),
        )
        .route(
            "/organization/projects/{p}/groups/{g}",
            axum::routing::delete(delete_project_group),
        )
        // Project roles live under `/projects`, without the `/organization` prefix.
        .route("/projects/{p}/roles", get(list_project_roles))
        .route(
            "/projects/{p}/users/{u}/roles",
            get(list_project_user_roles),
        )
        .route(
            "/projects/{p}/users/{u}/roles/{r}",
            axum::routing::delete(delete_project_user_role),
        )
        .route(
            "/projects/{p}/groups/{g}/roles",
            get(list_project_group_roles),
        )
        .route(
            "/projects/{p}/groups/{g}/roles/{r}",
            axum::routing::delete(delete_project_group_role),
        )
        .route("/organization/costs", get(costs))
        .route("/organization/audit_logs", get(list_audit_logs))
        .route("/organization/admin_api_keys", get(list_admin_keys))
        .route(
            "/organization/admin_api_keys/{k}",
            get(get_admin_key).delete(delete_admin_key),
        )
        .fallback(|uri: Uri| async move {
            error(
                StatusCode::NOT_FOUND,
                &format!("Invalid URL (GET {})", uri.path()),
                "invalid_request_error",
                None,
                None,
            )
        })
}

/// `{"error":{"message","type","param","code"}}`, all four keys always present.
pub(super) fn error(
    status: StatusCode,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": param, "code": code}})),
    )
        .into_response()
}

fn not_found(what: &str, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("No such {what}: '{id}'"),
        "invalid_request_error",
        None,
        Some("not_found"),
    )
}

type Reply = Result<Response, Response>;

fn authorize(st: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    if bearer_ok(headers, &st.key) {
        return Ok(());
    }
    let presented = presented_key(headers);
    Err(error(
        StatusCode::UNAUTHORIZED,
        &format!(
            "Incorrect API key provided: {presented}. You can find your API key at https://platform.openai.com/account/api-keys."
        ),
        "invalid_request_error",
        None,
        Some("invalid_api_key"),
    ))
}

/// One page of a classic list: `limit` 1–100 (default 20), `after` an object id.
fn page<K: std::borrow::Borrow<str> + Ord, T>(
    items: &BTreeMap<K, T>,
    params: &Params,
    keep: impl Fn(&T) -> bool,
    render: impl Fn(&T) -> Value,
) -> Reply {
    let limit = match params.get("limit") {
        None => 20,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "Invalid value for 'limit': {v}. Expected an integer between 1 and 100."
                    ),
                    "invalid_request_error",
                    Some("limit"),
                    Some("invalid_value"),
                ));
            }
        },
    };
    let start = match params.get("after") {
        Some(a) => Bound::Excluded(a),
        None => Bound::Unbounded,
    };
    let mut data: Vec<(&K, &T)> = items
        .range::<str, _>((start, Bound::Unbounded))
        .filter(|(_, v)| keep(v))
        .take(limit + 1)
        .collect();
    let has_more = data.len() > limit;
    data.truncate(limit);
    Ok(Json(json!({
        "object": "list",
        "data": data.iter().map(|(_, v)| render(v)).collect::<Vec<_>>(),
        "first_id": data.first().map(|(k, _)| -> &str { (*k).borrow() }),
        "last_id": data.last().map(|(k, _)| -> &str { (*k).borrow() }),
        "has_more": has_more,
    }))
    .into_response())
}

fn user_json(u: &super::world::OaiUser) -> Value {
    json!({
        "object": "organization.user",
        "id": u.id,
        "name": u.name,
        "email": u.email,
        "role": u.role,
        "added_at": u.added_at,
        "is_scim_managed": u.is_scim_managed,
        "api_key_last_used_at": u.api_key_last_used_at,
    })
}

async fn list_users(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let emails: Vec<String> = params
        .all("emails")
        .iter()
        .map(|e| e.to_lowercase())
        .collect();
    let w = st.world.read().unwrap();
    page(
        &w.openai.users,
        &params,
        |u| emails.is_empty() || emails.contains(&u.email.to_lowercase()),
        user_json,
    )
}

async fn get_user(State(st): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    w.openai
        .users
        .get(&id)
        .map(|u| Json(user_json(u)).into_response())
        .ok_or_else(|| not_found("user", &id))
}

async fn delete_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    let now = world_now(&w);
    let org = &mut w.openai;
    if org.users.remove(&id).is_none() {
        return Err(not_found("user", &id));
    }
    record(org, "user.deleted", None, &id, now);
    for users in org.project_users.values_mut() {
        users.remove(&id);
    }
    // Keys survive their owner's removal; they lose project access.
    for keys in org.api_keys.values_mut() {
        for k in keys.values_mut() {
            if matches!(&k.owner, KeyOwner::User { id: uid, .. } if *uid == id) {
                k.owner_project_access = "inactive".into();
            }
        }
    }
    Ok(
        Json(json!({"object": "organization.user.deleted", "id": id, "deleted": true}))
            .into_response(),
    )
}

fn invite_json(i: &super::world::OaiInvite) -> Value {
    json!({
        "object": "organization.invite",
        "id": i.id,
        "email": i.email,
        "role": i.role,
        "status": i.status,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "accepted_at": i.accepted_at,
        "projects": i.projects.iter().map(|(id, role)| json!({"id": id, "role": role})).collect::<Vec<_>>(),
    })
}

async fn list_invites(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    page(
        &w.openai.invites,
        &Params::from_uri(&uri),
        |_| true,
        invite_json,
    )
}

async fn get_invite(State(st): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    w.openai
        .invites
        .get(&id)
        .map(|i| Json(invite_json(i)).into_response())
        .ok_or_else(|| not_found("invite", &id))
}

async fn delete_invite(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    match w.openai.invites.get(&id) {
        None => Err(not_found("invite", &id)),
        Some(i) if i.status == "accepted" => Err(error(
            StatusCode::BAD_REQUEST,
            "Cannot delete an accepted invite.",
            "invalid_request_error",
            None,
            None,
        )),
        Some(_) => {
            w.openai.invites.remove(&id);
            Ok(
                Json(json!({"object": "organization.invite.deleted", "id": id, "deleted": true}))
                    .into_response(),
            )
        }
    }
}

fn project_json(p: &super::world::OaiProject) -> Value {
    json!({
        "id": p.id,
        "object": "organization.project",
        "name": p.name,
        "created_at": p.created_at,
        "archived_at": p.archived_at,
        "status": if p.archived_at.is_some() { "archived" } else { "active" },
        "external_key_id": null,
    })
}

async fn list_projects(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let archived = params.get("include_archived") == Some("true");
    let w = st.world.read().unwrap();
    page(
        &w.openai.projects,
        &params,
        |p| archived || p.archived_at.is_none(),
        project_json,
    )
}

fn project<'a>(org: &'a OpenAiOrg, p: &str) -> Result<&'a super::world::OaiProject, Response> {
    org.projects.get(p).ok_or_else(|| not_found("project", p))
}

async fn get_project(State(st): State<Shared>, headers: HeaderMap, Path(p): Path<String>) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    Ok(Json(project_json(project(&w.openai, &p)?)).into_response())
}

fn project_user_json(org: &OpenAiOrg, pu: &super::world::OaiProjectUser) -> Value {
    let u = org.users.get(&pu.user_id);
    json!({
        "object": "organization.project.user",
        "id": pu.user_id,
        "name": u.map(|u| u.name.as_str()),
        "email": u.map(|u| u.email.as_str()),
        "role": pu.role,
        "added_at": pu.added_at,
    })
}

async fn list_project_users(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(p): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    project(&w.openai, &p)?;
    let empty = BTreeMap::new();
    let users = w.openai.project_users.get(&p).unwrap_or(&empty);
    page(
        users,
        &Params::from_uri(&uri),
        |_| true,
        |pu| project_user_json(&w.openai, pu),
    )
}

async fn get_project_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, u)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    project(&w.openai, &p)?;
    w.openai
        .project_users
        .get(&p)
        .and_then(|m| m.get(&u))
        .map(|pu| Json(project_user_json(&w.openai, pu)).into_response())
        .ok_or_else(|| not_found("project user", &u))
}

fn archived_refusal() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "Cannot modify an archived project.",
        "invalid_request_error",
        None,
        None,
    )
}

async fn delete_project_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, u)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    if project(&w.openai, &p)?.archived_at.is_some() {
        return Err(archived_refusal());
    }
    let org = &mut w.openai;
    if org
        .project_users
        .get_mut(&p)
        .and_then(|m| m.remove(&u))
        .is_none()
    {
        return Err(not_found("project user", &u));
    }
    // Their custom project roles go with their project membership.
    if let Some(m) = org.project_user_roles.get_mut(&p) {
        m.remove(&u);
    }
    if let Some(keys) = org.api_keys.get_mut(&p) {
        for k in keys.values_mut() {
            if matches!(&k.owner, KeyOwner::User { id, .. } if *id == u) {
                k.owner_project_access = "inactive".into();
            }
        }
    }
    Ok(
        Json(json!({"object": "organization.project.user.deleted", "id": u, "deleted": true}))
            .into_response(),
    )
}

fn sa_json(s: &super::world::OaiServiceAccount) -> Value {
    json!({
        "object": "organization.project.service_account",
        "id": s.id,
        "name": s.name,
        "role": s.role,
        "created_at": s.created_at,
    })
}

async fn list_service_accounts(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(p): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    project(&w.openai, &p)?;
    let empty = BTreeMap::new();
    page(
        w.openai.service_accounts.get(&p).unwrap_or(&empty),
        &Params::from_uri(&uri),
        |_| true,
        sa_json,
    )
}

async fn get_service_account(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, s)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    project(&w.openai, &p)?;
    w.openai
        .service_accounts
        .get(&p)
        .and_then(|m| m.get(&s))
        .map(|sa| Json(sa_json(sa)).into_response())
        .ok_or_else(|| not_found("service account", &s))
}

async fn delete_service_account(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, s)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    project(&w.openai, &p)?;
    let now = world_now(&w);
    let org = &mut w.openai;
    if org
        .service_accounts
        .get_mut(&p)
        .and_then(|m| m.remove(&s))
        .is_none()
    {
        return Err(not_found("service account", &s));
    }
    if let Some(keys) = org.api_keys.get_mut(&p) {
        keys.retain(|_, k| !matches!(&k.owner, KeyOwner::ServiceAccount { id } if *id == s));
    }
    record(org, "service_account.deleted", Some(&p), &s, now);
    Ok(Json(
        json!({"object": "organization.project.service_account.deleted", "id": s, "deleted": true}),
    )
    .into_response())
}

/// Keys whose id ends in a digit are served in the 2025 owner shape (full `ProjectUser` /
/// `ProjectServiceAccount` objects), the rest in the 2026 shape: clients must read both.
fn key_json(org: &OpenAiOrg, project: &str, k: &OaiKey) -> Value {
    let legacy = k.id.ends_with(|c: char| c.is_ascii_digit());
    let owner = match &k.owner {
        KeyOwner::User {
            id,
            name,
            email,
            role,
            created_at,
        } => {
            let user = if legacy {
                json!({"object": "organization.project.user", "id": id, "name": name, "email": email,
                       "role": role, "added_at": created_at})
            } else {
                json!({"id": id, "name": name, "email": email, "role": role, "created_at": created_at})
            };
            json!({"type": "user", "user": user})
        }
        KeyOwner::ServiceAccount { id } => {
            let sa = org.service_accounts.get(project).and_then(|m| m.get(id));
            let mut v = json!({
                "id": id,
                "name": sa.map(|s| s.name.as_str()),
                "created_at": sa.map(|s| s.created_at),
                "role": sa.map(|s| s.role.as_str()),
            });
            if legacy {
                v["object"] = json!("organization.project.service_account");
            }
            json!({"type": "service_account", "service_account": v})
        }
    };
    json!({
        "object": "organization.project.api_key",
        "redacted_value": k.redacted_value,
        "name": k.name,
        "created_at": k.created_at,
        "last_used_at": k.last_used_at,
        "id": k.id,
        "owner_project_access": k.owner_project_access,
        "owner": owner,
    })
}

async fn list_keys(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(p): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let access = params
        .get("owner_project_access")
        .unwrap_or("any")
        .to_string();
    let w = st.world.read().unwrap();
    project(&w.openai, &p)?;
    let empty = BTreeMap::new();
    page(
        w.openai.api_keys.get(&p).unwrap_or(&empty),
        &params,
        |k| access == "any" || k.owner_project_access == access,
        |k| key_json(&w.openai, &p, k),
    )
}

async fn get_key(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, k)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    project(&w.openai, &p)?;
    w.openai
        .api_keys
        .get(&p)
        .and_then(|m| m.get(&k))
        .map(|key| Json(key_json(&w.openai, &p, key)).into_response())
        .ok_or_else(|| not_found("API key", &k))
}

async fn delete_key(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, k)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    project(&w.openai, &p)?;
    let keys = w.openai.api_keys.entry(p.clone()).or_default();
    match keys.get(&k) {
        None => Err(not_found("API key", &k)),
        Some(key) if matches!(key.owner, KeyOwner::ServiceAccount { .. }) => Err(error(
            StatusCode::BAD_REQUEST,
            "API keys owned by a service account cannot be deleted; delete the service account instead.",
            "invalid_request_error",
            None,
            None,
        )),
        Some(_) => {
            keys.remove(&k);
            let now = world_now(&w);
            record(&mut w.openai, "api_key.deleted", Some(&p), &k, now);
            Ok(Json(
                json!({"object": "organization.project.api_key.deleted", "id": k, "deleted": true}),
            )
            .into_response())
        }
    }
}

/// The flat owner the admin-key list gives each key.
fn flat_owner(
    kind: &str,
    id: &str,
    name: Option<&str>,
    created_at: Option<crate::model::Ts>,
    role: Option<&str>,
) -> Value {
    json!({
        "type": kind,
        "object": format!("organization.{kind}"),
        "id": id,
        "name": name,
        "created_at": created_at,
        "role": role,
    })
}

fn admin_key_json(org: &OpenAiOrg, k: &super::world::OaiAdminKey) -> Value {
    let u = org.users.get(&k.owner_user_id);
    json!({
        "object": "organization.admin_api_key",
        "id": k.id,
        "name": k.name,
        "redacted_value": k.redacted_value,
        "created_at": k.created_at,
        "expires_at": k.expires_at,
        "last_used_at": k.last_used_at,
        "owner": flat_owner(
            "user",
            &k.owner_user_id,
            u.map(|u| u.name.as_str()),
            u.map(|u| u.added_at),
            u.map(|u| u.role.as_str()),
        ),
    })
}

/// One item of the admin-key list: an admin key, or a project key the live API lists there too.
enum Listed<'a> {
    Admin(&'a super::world::OaiAdminKey),
    Project(&'a str, &'a OaiKey),
}

/// A project key as the admin-key list serves it (reference, Additions A1.1): labelled an
/// admin key, owner flat, nothing to tell it from one.
fn mislabelled_key_json(org: &OpenAiOrg, project: &str, k: &OaiKey) -> Value {
    let owner = match &k.owner {
        KeyOwner::User {
            id,
            name,
            role,
            created_at,
            ..
        } => flat_owner("user", id, Some(name), Some(*created_at), Some(role)),
        KeyOwner::ServiceAccount { id } => {
            let sa = org.service_accounts.get(project).and_then(|m| m.get(id));
            flat_owner(
                "service_account",
                id,
                sa.map(|s| s.name.as_str()),
                sa.map(|s| s.created_at),
                sa.map(|s| s.role.as_str()),
            )
        }
    };
    json!({
        "object": "organization.admin_api_key",
        "id": k.id,
        "name": k.name,
        "redacted_value": k.redacted_value,
        "created_at": k.created_at,
        "last_used_at": k.last_used_at,
        "owner": owner,
    })
}

/// The org's admin keys and, as the live API does (reference A1.1), every project key too.
async fn list_admin_keys(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    let org = &w.openai;
    let mut all: BTreeMap<&str, Listed> = org
        .admin_keys
        .iter()
        .map(|(id, k)| (id.as_str(), Listed::Admin(k)))
        .collect();
    for (p, keys) in &org.api_keys {
        for (id, k) in keys {
            all.insert(id.as_str(), Listed::Project(p, k));
        }
    }
    page(
        &all,
        &Params::from_uri(&uri),
        |_| true,
        |x| match x {
            Listed::Admin(k) => admin_key_json(org, k),
            Listed::Project(p, k) => mislabelled_key_json(org, p, k),
        },
    )
}

async fn get_admin_key(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(k): Path<String>,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    w.openai
        .admin_keys
        .get(&k)
        .map(|key| Json(admin_key_json(&w.openai, key)).into_response())
        .ok_or_else(|| not_found("admin API key", &k))
}

async fn delete_admin_key(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(k): Path<String>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    if w.openai.admin_keys.remove(&k).is_none() {
        return Err(not_found("admin API key", &k));
    }
    Ok(
        Json(json!({"id": k, "object": "organization.admin_api_key.deleted", "deleted": true}))
            .into_response(),
    )
}

/// `GET /organization/costs?start_time&end_time&bucket_width=1d&group_by=api_key_id&limit&page`:
/// daily buckets (`{"object":"page","data":[{"object":"bucket",...,"results":[...]}],"has_more",
/// "next_page"}`); each project key's spend lands on the day it was last used. Amounts are dollars.
async fn costs(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let q = Params::from_uri(&uri);
    let bad = |m: &str, p: &str| {
        error(
            StatusCode::BAD_REQUEST,
            m,
            "invalid_request_error",
            Some(p),
            None,
        )
    };
    let start: i64 = q
        .get("start_time")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("start_time is required (unix seconds)", "start_time"))?;
    if q.get("bucket_width").unwrap_or("1d") != "1d" {
        return Err(bad("Costs only support bucket_width=1d", "bucket_width"));
    }
    let limit: i64 = match q.get("limit").map(str::parse::<i64>) {
        None => 7,
        Some(Ok(n)) if (1..=180).contains(&n) => n,
        Some(_) => return Err(bad("limit must be between 1 and 180", "limit")),
    };
    let by_key = q.all("group_by").contains(&"api_key_id");
    let w = st.world.read().unwrap();
    let stop: i64 = q
        .get("end_time")
        .and_then(|v| v.parse().ok())
        .unwrap_or(w.now + 86_400);
    let mut day = match q.get("page") {
        Some(p) => p
            .strip_prefix("page_")
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| bad("invalid page", "page"))?,
        None => start - start.rem_euclid(86_400),
    };
    let mut data = Vec::new();
    while day < stop && (data.len() as i64) < limit {
        let results: Vec<Value> = w
            .openai
            .api_keys
            .values()
            .flat_map(|m| m.values())
            .filter(|k| {
                k.last_used_at
                    .is_some_and(|t| t - t.rem_euclid(86_400) == day)
            })
            .map(|k| {
                let cents = super::world::key_spend_cents(&k.id);
                json!({"object": "organization.costs.result",
                       "amount": {"value": cents as f64 / 100.0, "currency": "usd"},
                       "line_item": null, "project_id": null,
                       "api_key_id": if by_key { json!(k.id) } else { Value::Null },
                       "quantity": null, "quantity_unit": null})
            })
            .collect();
        data.push(json!({"object": "bucket", "start_time": day, "end_time": day + 86_400, "results": results}));
        day += 86_400;
    }
    let more = day < stop;
    Ok(Json(json!({"object": "page", "data": data, "has_more": more, "next_page": more.then(|| format!("page_{day}"))}))
        .into_response())
}

/// The groups-and-roles list scheme: `limit` (1..=`max`, default `default`), `after` (the last
/// id of the previous page), `order` (`asc` or `desc`, default `order`), and
/// `{object, data, has_more, next}` with no first_id/last_id.
fn next_page(
    items: Vec<(String, Value)>,
    params: &Params,
    default: usize,
    max: usize,
    order: &str,
) -> Reply {
    let limit = match params.get("limit") {
        None => default,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "Invalid value for 'limit': {v}. Expected an integer between 1 and {max}."
                    ),
                    "invalid_request_error",
                    Some("limit"),
                    Some("invalid_value"),
                ));
            }
        },
    };
    let desc = params.get("order").unwrap_or(order) == "desc";
    let mut items = items;
    if desc {
        items.reverse();
    }
    let after = params.get("after");
    let mut rest: Vec<(String, Value)> = items
        .into_iter()
        .filter(|(k, _)| match after {
            None => true,
            Some(a) if desc => k.as_str() < a,
            Some(a) => k.as_str() > a,
        })
        .take(limit + 1)
        .collect();
    let has_more = rest.len() > limit;
    rest.truncate(limit);
    let next = if has_more {
        rest.last().map(|(k, _)| k.clone())
    } else {
        None
    };
    Ok(Json(json!({
        "object": "list",
        "data": rest.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "has_more": has_more,
        "next": next,
    }))
    .into_response())
}

async fn list_groups(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    let items = w
        .openai
        .groups
        .values()
        .map(|g| {
            (
                g.id.clone(),
                json!({
                    "object": "group",
                    "id": g.id,
                    "name": g.name,
                    "created_at": g.created_at,
                    "is_scim_managed": g.is_scim_managed,
                    "group_type": "group",
                }),
            )
        })
        .collect();
    next_page(items, &Params::from_uri(&uri), 100, 1000, "asc")
}

fn group<'a>(org: &'a OpenAiOrg, g: &str) -> Result<&'a super::world::OaiGroup, Response> {
    org.groups.get(g).ok_or_else(|| not_found("group", g))
}

async fn list_group_users(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    let items = group(&w.openai, &g)?
        .members
        .iter()
        .filter_map(|u| w.openai.users.get(u))
        .map(|u| {
            (
                u.id.clone(),
                json!({"id": u.id, "name": u.name, "email": u.email}),
            )
        })
        .collect();
    // Group users are listed newest first unless asked otherwise.
    next_page(items, &Params::from_uri(&uri), 100, 1000, "desc")
}

async fn delete_group_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((g, u)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    group(&w.openai, &g)?;
    let removed = w
        .openai
        .groups
        .get_mut(&g)
        .is_some_and(|x| x.members.remove(&u));
    deleted(removed, "group user", &u, "group.user.deleted")
}

async fn list_project_groups(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(p): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    project(&w.openai, &p)?;
    let items = w
        .openai
        .project_groups
        .get(&p)
        .into_iter()
        .flatten()
        .filter_map(|(gid, _)| w.openai.groups.get(gid))
        .map(|g| {
            (
                g.id.clone(),
                json!({
                    "object": "project.group",
                    "project_id": p,
                    "group_id": g.id,
                    "group_name": g.name,
                    "group_type": "group",
                    "created_at": g.created_at,
                }),
            )
        })
        .collect();
    next_page(items, &Params::from_uri(&uri), 20, 100, "asc")
}

async fn delete_project_group(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, g)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    if project(&w.openai, &p)?.archived_at.is_some() {
        return Err(archived_refusal());
    }
    let org = &mut w.openai;
    let removed = org
        .project_groups
        .get_mut(&p)
        .and_then(|m| m.remove(&g))
        .is_some();
    if let Some(m) = org.project_group_roles.get_mut(&p) {
        m.remove(&g);
    }
    deleted(removed, "project group", &g, "project.group.deleted")
}

async fn list_project_group_roles(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, g)): Path<(String, String)>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    project(&w.openai, &p)?;
    let Some(role) = w.openai.project_groups.get(&p).and_then(|m| m.get(&g)) else {
        return Err(not_found("project group", &g));
    };
    let source = || vec![json!({"principal_id": g, "principal_type": "group"})];
    let mut items = vec![predefined_project_role(role, Some(source()))];
    items.extend(project_custom_roles(&w.openai, &p, &g, true, source));
    next_page(items, &Params::from_uri(&uri), 1000, 1000, "asc")
}

/// A project's predefined role as the roles API shows it.
fn predefined_project_role(name: &str, sources: Option<Vec<Value>>) -> (String, Value) {
    let id = format!("role_project_{name}");
    let mut v = role_json(
        &id,
        name,
        &format!("Predefined project role: {name}"),
        &[],
        true,
        0,
        sources,
    );
    v["resource_type"] = json!("api.project");
    (id, v)
}

/// The custom roles of project `p` that `holder` (a group when `group`, else a user) holds,
/// each shown with its `assignment_sources` from `sources`.
fn project_custom_roles(
    org: &OpenAiOrg,
    p: &str,
    holder: &str,
    group: bool,
    sources: impl Fn() -> Vec<Value>,
) -> Vec<(String, Value)> {
    let held = if group {
        &org.project_group_roles
    } else {
        &org.project_user_roles
    };
    held.get(p)
        .and_then(|m| m.get(holder))
        .into_iter()
        .flatten()
        .filter_map(|r| org.project_roles.get(p)?.get(r))
        .map(|r| project_custom_role(r, Some(sources())))
        .collect()
}

fn project_custom_role(r: &super::world::OaiRole, sources: Option<Vec<Value>>) -> (String, Value) {
    let (id, mut v) = custom_role(r, sources);
    v["resource_type"] = json!("api.project");
    (id, v)
}

/// `/projects/{p}/roles`: the predefined project roles and the project's custom ones.
async fn list_project_roles(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(p): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    project(&w.openai, &p)?;
    let mut items: Vec<(String, Value)> = PROJECT_ROLES
        .iter()
        .map(|n| predefined_project_role(n, None))
        .chain(
            w.openai
                .project_roles
                .get(&p)
                .into_iter()
                .flat_map(|m| m.values())
                .map(|r| project_custom_role(r, None)),
        )
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    next_page(items, &Params::from_uri(&uri), 1000, 1000, "asc")
}

/// A project user's roles: their predefined project role, and each custom project role with
/// where it comes from (the user, and/or each of the project's groups of theirs that holds it).
async fn list_project_user_roles(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, u)): Path<(String, String)>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    let org = &w.openai;
    project(org, &p)?;
    let Some(pu) = org.project_users.get(&p).and_then(|m| m.get(&u)) else {
        return Err(not_found("project user", &u));
    };
    let mut items = vec![predefined_project_role(&pu.role, Some(Vec::new()))];
    for r in org
        .project_roles
        .get(&p)
        .into_iter()
        .flat_map(|m| m.values())
    {
        let direct = org
            .project_user_roles
            .get(&p)
            .and_then(|m| m.get(&u))
            .is_some_and(|s| s.contains(&r.id));
        let groups = org.project_group_roles.get(&p).into_iter().flatten();
        let sources = assignment_sources(org, &u, &r.id, direct, groups);
        if !sources.is_empty() {
            items.push(project_custom_role(r, Some(sources)));
        }
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    next_page(items, &Params::from_uri(&uri), 1000, 1000, "asc")
}

async fn delete_project_user_role(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, u, r)): Path<(String, String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    project(&w.openai, &p)?;
    let removed = w
        .openai
        .project_user_roles
        .get_mut(&p)
        .and_then(|m| m.get_mut(&u))
        .is_some_and(|s| s.remove(&r));
    deleted(removed, "role assignment", &r, "user.role.deleted")
}

async fn delete_project_group_role(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((p, g, r)): Path<(String, String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    project(&w.openai, &p)?;
    let removed = w
        .openai
        .project_group_roles
        .get_mut(&p)
        .and_then(|m| m.get_mut(&g))
        .is_some_and(|s| s.remove(&r));
    deleted(removed, "group role", &r, "group.role.deleted")
}

/// The predefined organisation roles, as the roles API lists them.
const ORG_ROLES: [&str; 2] = ["owner", "reader"];
/// The predefined project roles.
const PROJECT_ROLES: [&str; 2] = ["owner", "member"];

/// A role as the roles API shows it; role-assignment lists add `assignment_sources`.
fn role_json(
    id: &str,
    name: &str,
    description: &str,
    permissions: &[String],
    predefined: bool,
    created_at: crate::model::Ts,
    sources: Option<Vec<Value>>,
) -> Value {
    let mut v = json!({
        "object": "role",
        "id": id,
        "name": name,
        "description": description,
        "permissions": permissions,
        "resource_type": "api.organization",
        "predefined_role": predefined,
    });
    if let Some(sources) = sources {
        let m = v.as_object_mut().expect("an object");
        m.remove("object");
        m.insert("created_at".into(), json!(created_at));
        m.insert("updated_at".into(), json!(created_at));
        m.insert("created_by".into(), Value::Null);
        m.insert("created_by_user_obj".into(), Value::Null);
        m.insert("metadata".into(), json!({}));
        m.insert(
            "assignment_sources".into(),
            if sources.is_empty() {
                Value::Null
            } else {
                Value::Array(sources)
            },
        );
    }
    v
}

fn predefined_role(name: &str, sources: Option<Vec<Value>>) -> (String, Value) {
    let id = format!("role_org_{name}");
    let v = role_json(
        &id,
        name,
        &format!("Predefined organization role: {name}"),
        &[],
        true,
        0,
        sources,
    );
    (id, v)
}

fn custom_role(r: &super::world::OaiRole, sources: Option<Vec<Value>>) -> (String, Value) {
    let v = role_json(
        &r.id,
        &r.name,
        &r.description,
        &r.permissions,
        false,
        r.created_at,
        sources,
    );
    (r.id.clone(), v)
}

async fn list_org_roles(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    let mut items: Vec<(String, Value)> = ORG_ROLES
        .iter()
        .map(|n| predefined_role(n, None))
        .chain(w.openai.roles.values().map(|r| custom_role(r, None)))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    next_page(items, &Params::from_uri(&uri), 1000, 1000, "asc")
}

/// A user's org roles: the predefined one, and each custom role with where it comes from
/// (`assignment_sources`: the user, and/or each group of theirs that holds it).
async fn list_user_roles(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(u): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    let org = &w.openai;
    let user = org.users.get(&u).ok_or_else(|| not_found("user", &u))?;
    let mut items = vec![predefined_role(&user.role, Some(Vec::new()))];
    for r in org.roles.values() {
        let direct = org.user_roles.get(&u).is_some_and(|s| s.contains(&r.id));
        let sources = assignment_sources(org, &u, &r.id, direct, &org.group_roles);
        if !sources.is_empty() {
            items.push(custom_role(r, Some(sources)));
        }
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    next_page(items, &Params::from_uri(&uri), 1000, 1000, "asc")
}

async fn delete_user_role(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((u, r)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    if !w.openai.users.contains_key(&u) {
        return Err(not_found("user", &u));
    }
    let removed = w
        .openai
        .user_roles
        .get_mut(&u)
        .is_some_and(|s| s.remove(&r));
    deleted(removed, "role assignment", &r, "user.role.deleted")
}

async fn list_group_roles(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(g): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    let org = &w.openai;
    group(org, &g)?;
    let items = org
        .group_roles
        .get(&g)
        .into_iter()
        .flatten()
        .filter_map(|r| org.roles.get(r))
        .map(|r| {
            custom_role(
                r,
                Some(vec![json!({"principal_id": g, "principal_type": "group"})]),
            )
        })
        .collect();
    next_page(items, &Params::from_uri(&uri), 1000, 1000, "asc")
}

async fn delete_group_role(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((g, r)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    group(&w.openai, &g)?;
    let removed = w
        .openai
        .group_roles
        .get_mut(&g)
        .is_some_and(|s| s.remove(&r));
    deleted(removed, "group role", &r, "group.role.deleted")
}

/// Role `r`'s `assignment_sources` for user `u`: the user when it is assigned to them
/// directly, and each group of theirs among `group_roles` (group → role ids) that holds it.
fn assignment_sources<'a>(
    org: &OpenAiOrg,
    u: &str,
    r: &str,
    direct: bool,
    group_roles: impl IntoIterator<Item = (&'a String, &'a std::collections::BTreeSet<String>)>,
) -> Vec<Value> {
    let mut sources = Vec::new();
    if direct {
        sources.push(json!({"principal_id": u, "principal_type": "user"}));
    }
    for (g, roles) in group_roles {
        let member = org.groups.get(g).is_some_and(|x| x.members.contains(u));
        if member && roles.contains(r) {
            sources.push(json!({"principal_id": g, "principal_type": "group"}));
        }
    }
    sources
}

/// A DELETE's answer: `{"object": OBJECT, "deleted": true}`, or 404 when nothing was there.
fn deleted(removed: bool, what: &str, id: &str, object: &str) -> Reply {
    if !removed {
        return Err(not_found(what, id));
    }
    Ok(Json(json!({"object": object, "deleted": true})).into_response())
}

/// Append what an admin-key call did to the audit log (unless logging is off), as the org's
/// first admin key acting through the API: the log follows the world's changes.
/// The simulated org's clock: the world's time, or the real one once it has passed it (a
/// test that moves the world days ahead sees revokes logged on its own day).
fn world_now(w: &crate::sim::world::World) -> crate::model::Ts {
    w.now.max(chrono::Utc::now().timestamp())
}

fn record(
    org: &mut OpenAiOrg,
    kind: &str,
    project: Option<&str>,
    object: &str,
    now: crate::model::Ts,
) {
    let Some(k) = org.admin_keys.values().next() else {
        return;
    };
    let email = org
        .users
        .get(&k.owner_user_id)
        .map(|u| u.email.clone())
        .unwrap_or_default();
    let actor = OaiActor::UserKey {
        key_id: k.id.clone(),
        user_id: k.owner_user_id.clone(),
        email,
    };
    org.log(kind, actor, project, Some(object), now);
}

/// An audit log entry on the wire: the payload under a key named by its type.
fn audit_json(org: &OpenAiOrg, e: &OaiAudit) -> Value {
    let user = |id: &str, email: &str| json!({"id": id, "email": email});
    let actor = match &e.actor {
        OaiActor::Session { user_id, email } => json!({"type": "session",
            "session": {"user": user(user_id, email), "ip_address": "203.0.113.7"}}),
        OaiActor::UserKey {
            key_id,
            user_id,
            email,
        } => json!({"type": "api_key",
            "api_key": {"id": key_id, "type": "user", "user": user(user_id, email)}}),
        OaiActor::ServiceAccountKey { key_id, sa_id } => json!({"type": "api_key",
            "api_key": {"id": key_id, "type": "service_account", "service_account": {"id": sa_id}}}),
    };
    let mut v = json!({"id": e.id, "type": e.kind, "effective_at": e.effective_at, "actor": actor});
    if let Some(p) = &e.project {
        let name = org.projects.get(p).map(|x| x.name.clone());
        v["project"] = json!({"id": p, "name": name});
    }
    let id = e.object.clone();
    let payload = match e.kind.as_str() {
        "api_key.created" => Some(json!({"id": id, "data": {"scopes": ["api.model.request"]}})),
        "service_account.created" | "user.added" => {
            Some(json!({"id": id, "data": {"role": "member"}}))
        }
        "invite.sent" => {
            let email = id
                .as_deref()
                .and_then(|i| org.invites.get(i))
                .map(|i| i.email.clone());
            Some(json!({"id": id, "data": {"email": email, "role": "member"}}))
        }
        "login.failed" => Some(json!({"error_code": "invalid_credentials",
            "error_message": "Wrong email or password."})),
        // `login.succeeded` has no fields beyond the standard ones.
        "login.succeeded" => None,
        _ => Some(json!({"id": id})),
    };
    if let Some(p) = payload {
        v[e.kind.as_str()] = p;
    }
    v
}

/// `/organization/audit_logs`: newest first; `effective_at[gt|gte|lt|lte]`, `event_types[]`,
/// `project_ids[]`, `actor_ids[]`, `actor_emails[]`, `resource_ids[]`; `limit` 1–100 (default
/// 20), `after` (older than that entry), `before` (newer). With logging off: an empty list.
async fn list_audit_logs(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let bad = |message: String, param: &str| {
        error(
            StatusCode::BAD_REQUEST,
            &message,
            "invalid_request_error",
            Some(param),
            Some("invalid_value"),
        )
    };
    let mut bounds = Vec::new();
    for op in ["gt", "gte", "lt", "lte"] {
        let name = format!("effective_at[{op}]");
        if let Some(v) = params.get(&name) {
            let t: i64 = v
                .parse()
                .map_err(|_| bad(format!("Invalid value for '{name}': {v}."), &name))?;
            bounds.push((op, t));
        }
    }
    let limit = match params.get("limit") {
        None => 20,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(bad(
                    format!(
                        "Invalid value for 'limit': {v}. Expected an integer between 1 and 100."
                    ),
                    "limit",
                ));
            }
        },
    };
    let w = st.world.read().unwrap();
    let org = &w.openai;
    let any = |name: &str, value: Option<&str>| {
        let wanted = params.all(name);
        wanted.is_empty() || value.is_some_and(|v| wanted.contains(&v))
    };
    fn actor(e: &OaiAudit) -> (&str, Option<&str>) {
        match &e.actor {
            OaiActor::Session { user_id, email } | OaiActor::UserKey { user_id, email, .. } => {
                (user_id.as_str(), Some(email.as_str()))
            }
            OaiActor::ServiceAccountKey { sa_id, .. } => (sa_id.as_str(), None),
        }
    }
    let keep = |e: &OaiAudit| {
        bounds.iter().all(|&(op, t)| match op {
            "gt" => e.effective_at > t,
            "gte" => e.effective_at >= t,
            "lt" => e.effective_at < t,
            _ => e.effective_at <= t,
        }) && any("event_types", Some(&e.kind))
            && any("project_ids", e.project.as_deref())
            && any("actor_ids", Some(actor(e).0))
            && any("actor_emails", actor(e).1)
            && any("resource_ids", e.object.as_deref())
    };
    // The position an entry's id names (its trailing number), checked against the log.
    let position = |id: &str| -> Option<usize> {
        let n: usize = id.rsplit('_').next()?.parse().ok()?;
        (org.audit.get(n)?.id == id).then_some(n)
    };
    let log: &[OaiAudit] = if org.audit_off { &[] } else { &org.audit };
    // Newest first: `after` pages towards older entries, `before` towards newer ones.
    let data: Vec<&OaiAudit> = match (params.get("after"), params.get("before")) {
        // A cursor that names no entry has nothing after it.
        (Some(a), _) => {
            let end = position(a).unwrap_or(0);
            log[..end]
                .iter()
                .rev()
                .filter(|e| keep(e))
                .take(limit + 1)
                .collect()
        }
        (None, Some(b)) => {
            let start =
                position(b).ok_or_else(|| bad(format!("Invalid cursor: {b}."), "before"))?;
            let mut newer: Vec<&OaiAudit> = log[start + 1..]
                .iter()
                .filter(|e| keep(e))
                .take(limit + 1)
                .collect();
            newer.reverse();
            newer
        }
        (None, None) => log
            .iter()
            .rev()
            .filter(|e| keep(e))
            .take(limit + 1)
            .collect(),
    };
    let has_more = data.len() > limit;
    let data = &data[..data.len().min(limit)];
    Ok(Json(json!({
        "object": "list",
        "data": data.iter().map(|e| audit_json(org, e)).collect::<Vec<_>>(),
        "first_id": data.first().map(|e| e.id.clone()),
        "last_id": data.last().map(|e| e.id.clone()),
        "has_more": has_more,
    }))
    .into_response())
}
