//! The Anthropic Admin API (`/v1/organizations/...`): users, invites, workspaces (archived ones
//! on request; the Default Workspace is never listed), workspace members, API keys with both
//! `principal` shapes; `after_id`/`before_id` pagination with `limit` 1–1000; RFC 3339
//! timestamps with microseconds; `x-api-key` auth; the Anthropic error envelope.

use std::collections::BTreeMap;
use std::ops::Bound;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::world::{AKey, AnthropicOrg};
use super::{Params, Shared};

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/v1/organizations/users", get(list_users))
        .route(
            "/v1/organizations/users/{id}",
            get(get_user).delete(delete_user),
        )
        .route("/v1/organizations/invites", get(list_invites))
        .route(
            "/v1/organizations/invites/{id}",
            axum::routing::delete(delete_invite),
        )
        .route(
            "/v1/organizations/workspaces/{w}/members/{u}",
            get(get_member).delete(delete_member),
        )
        .route("/v1/organizations/workspaces", get(list_workspaces))
        .route(
            "/v1/organizations/workspaces/{w}/members",
            get(list_members),
        )
        .route("/v1/organizations/api_keys", get(list_keys))
        .route(
            "/v1/organizations/api_keys/{id}",
            get(get_key).post(update_key),
        )
        .route(
            "/v1/organizations/usage_report/messages",
            get(usage_messages),
        )
        .route(
            "/v1/organizations/usage_report/claude_code",
            get(usage_claude_code),
        )
        .route("/v1/organizations/analytics/users", get(analytics_users))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not_found_error",
                "The requested resource could not be found.",
            )
        })
}

/// `{"type":"error","error":{"type","message"},"request_id"}`.
pub(super) fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(
            json!({"type": "error", "error": {"type": kind, "message": message},
                    "request_id": "req_011CSimulatedRequest0001"}),
        ),
    )
        .into_response()
}

type Reply = Result<Response, Response>;

fn authorize(st: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    // Admin API keys go in `x-api-key` (OAuth bearer tokens serve endpoints not simulated here).
    let given = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match given {
        Some(k) if super::same(&k, &st.key) => Ok(()),
        _ => Err(error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        )),
    }
}

pub(super) fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 427_722_000)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// `limit` (1–1000, default 20), `after_id` or `before_id`; `{data, has_more, first_id, last_id}`.
fn page<T>(
    items: &BTreeMap<String, T>,
    params: &Params,
    keep: impl Fn(&T) -> bool,
    render: impl Fn(&str, &T) -> Value,
) -> Reply {
    let limit = match params.get("limit") {
        None => 20,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &format!("limit: Input should be between 1 and 1000, got {v}"),
                ));
            }
        },
    };
    let (data, has_more): (Vec<(&String, &T)>, bool) = if let Some(before) = params.get("before_id")
    {
        let mut all: Vec<_> = items
            .range::<str, _>((Bound::Unbounded, Bound::Excluded(before)))
            .filter(|(_, v)| keep(v))
            .collect();
        let more = all.len() > limit;
        let cut = all.len().saturating_sub(limit);
        (all.split_off(cut), more)
    } else {
        let start = params
            .get("after_id")
            .map_or(Bound::Unbounded, Bound::Excluded);
        let mut d: Vec<_> = items
            .range::<str, _>((start, Bound::Unbounded))
            .filter(|(_, v)| keep(v))
            .take(limit + 1)
            .collect();
        let more = d.len() > limit;
        d.truncate(limit);
        (d, more)
    };
    Ok(Json(json!({
        "data": data.iter().map(|(k, v)| render(k, v)).collect::<Vec<_>>(),
        "has_more": has_more,
        "first_id": data.first().map(|(k, _)| k.as_str()),
        "last_id": data.last().map(|(k, _)| k.as_str()),
    }))
    .into_response())
}

fn user_json(u: &super::world::AUser) -> Value {
    json!({"id": u.id, "added_at": rfc3339(u.added_at), "email": u.email, "name": u.name, "role": u.role, "type": "user"})
}

async fn list_users(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let email = params.get("email").map(str::to_lowercase);
    let w = st.world.read().unwrap();
    page(
        &w.anthropic.users,
        &params,
        |u| email.as_ref().is_none_or(|e| u.email.to_lowercase() == *e),
        |_, u| user_json(u),
    )
}

async fn get_user(State(st): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    w.anthropic
        .users
        .get(&id)
        .map(|u| Json(user_json(u)).into_response())
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "not_found_error", "User not found."))
}

/// Admins cannot be removed through the API. Removing a user leaves their keys working.
async fn delete_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    let org: &mut AnthropicOrg = &mut w.anthropic;
    match org.users.get(&id) {
        None => Err(error(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "User not found.",
        )),
        Some(u) if u.role == "admin" => Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Admin users cannot be removed through the API.",
        )),
        Some(_) => {
            org.users.remove(&id);
            for m in org.members.values_mut() {
                m.remove(&id);
            }
            Ok(Json(json!({"id": id, "type": "user_deleted"})).into_response())
        }
    }
}

async fn delete_invite(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    match w.anthropic.invites.remove(&id) {
        Some(_) => Ok(Json(json!({"id": id, "type": "invite_deleted"})).into_response()),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "Invite not found.",
        )),
    }
}

async fn get_member(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((ws, user)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    match w.anthropic.members.get(&ws).and_then(|m| m.get(&user)) {
        Some(role) => Ok(Json(
            json!({"type": "workspace_member", "user_id": user, "workspace_id": ws, "workspace_role": role}),
        )
        .into_response()),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "Workspace member not found.",
        )),
    }
}

async fn delete_member(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((ws, user)): Path<(String, String)>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    match w
        .anthropic
        .members
        .get_mut(&ws)
        .and_then(|m| m.remove(&user))
    {
        Some(_) => Ok(Json(
            json!({"type": "workspace_member_deleted", "user_id": user, "workspace_id": ws}),
        )
        .into_response()),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "Workspace member not found.",
        )),
    }
}

async fn list_invites(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    page(
        &w.anthropic.invites,
        &Params::from_uri(&uri),
        |_| true,
        |_, i| {
            json!({"id": i.id, "email": i.email, "expires_at": rfc3339(i.expires_at), "invited_at": rfc3339(i.invited_at),
               "role": i.role, "status": i.status, "type": "invite"})
        },
    )
}

async fn list_workspaces(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let archived = params.get("include_archived") == Some("true");
    let w = st.world.read().unwrap();
    page(
        &w.anthropic.workspaces,
        &params,
        |x| archived || x.archived_at.is_none(),
        |_, x| {
            json!({"id": x.id, "archived_at": x.archived_at.map(rfc3339), "created_at": rfc3339(x.created_at),
               "display_color": "#6C5BB9", "name": x.name, "type": "workspace"})
        },
    )
}

async fn list_members(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(ws): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    if !w.anthropic.workspaces.contains_key(&ws) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "Workspace not found.",
        ));
    }
    let empty = BTreeMap::new();
    let members = w.anthropic.members.get(&ws).unwrap_or(&empty);
    page(
        members,
        &Params::from_uri(&uri),
        |_| true,
        |user_id, role| json!({"type": "workspace_member", "user_id": user_id, "workspace_id": ws, "workspace_role": role}),
    )
}

fn key_json(k: &AKey) -> Value {
    let mut v = json!({
        "id": k.id,
        "created_at": rfc3339(k.created_at),
        "created_by": k.created_by.as_ref().map(|(id, t)| json!({"id": id, "type": t})),
        "expires_at": null,
        "name": k.name,
        "partial_key_hint": k.partial_key_hint,
        "status": k.status,
        "type": "api_key",
        "workspace_id": k.workspace_id,
    });
    if k.principal_shape > 0 {
        v["principal"] = match (&k.created_by, k.principal_shape) {
            (Some((id, t)), 1) if t == "user" => json!({"type": "user_actor", "user_id": id}),
            (Some((id, _)), 1) => {
                json!({"type": "service_account_actor", "service_account_id": id})
            }
            (Some((id, t)), _) => json!({"id": id, "type": t}),
            (None, _) => Value::Null,
        };
        v["scope"] = json!({"type": "workspace",
                            "workspace_id": k.workspace_id.clone().unwrap_or_else(|| "wrkspc_01DefaultWorkspace000000".into())});
    }
    v
}

async fn list_keys(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let status = params.get("status").map(str::to_string);
    let ws = params.get("workspace_id").map(str::to_string);
    let by = params.get("created_by_user_id").map(str::to_string);
    let w = st.world.read().unwrap();
    page(
        &w.anthropic.api_keys,
        &params,
        |k| {
            status.as_ref().is_none_or(|s| k.status == *s)
                && ws
                    .as_ref()
                    .is_none_or(|x| k.workspace_id.as_ref() == Some(x))
                && by
                    .as_ref()
                    .is_none_or(|b| k.created_by.as_ref().is_some_and(|(id, _)| id == b))
        },
        |_, k| key_json(k),
    )
}

async fn get_key(State(st): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    w.anthropic
        .api_keys
        .get(&id)
        .map(|k| Json(key_json(k)).into_response())
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "not_found_error",
                "API key not found.",
            )
        })
}

/// `POST {"status": "active"|"inactive"|"archived", "name"?}`. Archived keys stay archived.
async fn update_key(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Reply {
    authorize(&st, &headers)?;
    let v: Value = serde_json::from_str(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &format!("invalid JSON: {e}"),
        )
    })?;
    let mut w = st.world.write().unwrap();
    let k = w.anthropic.api_keys.get_mut(&id).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "API key not found.",
        )
    })?;
    if let Some(s) = v.get("status").and_then(Value::as_str) {
        if !["active", "inactive", "archived"].contains(&s) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("status: invalid value '{s}'"),
            ));
        }
        if k.status == "archived" && s != "archived" {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "Archived API keys cannot be changed.",
            ));
        }
        k.status = s.to_string();
    }
    if let Some(n) = v.get("name").and_then(Value::as_str) {
        k.name = n.to_string();
    }
    Ok(Json(key_json(k)).into_response())
}

fn parse_time(v: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp())
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp())
        })
}

fn day_start(t: i64) -> i64 {
    t - t.rem_euclid(86_400)
}

/// `GET /usage_report/messages?starting_at&ending_at&bucket_width=1d&group_by[]=api_key_id&limit
/// &page`: daily buckets; a key appears in the bucket of the day it was last used.
async fn usage_messages(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let q = Params::from_uri(&uri);
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "invalid_request_error", m);
    let start = q
        .get("starting_at")
        .and_then(parse_time)
        .ok_or_else(|| bad("starting_at: an RFC 3339 time is required"))?;
    let end = q.get("ending_at").and_then(parse_time);
    if q.get("bucket_width").unwrap_or("1d") != "1d" {
        return Err(bad("bucket_width: only 1d is simulated"));
    }
    let limit: i64 = match q.get("limit").map(str::parse::<i64>) {
        None => 7,
        Some(Ok(n)) if (1..=31).contains(&n) => n,
        Some(_) => return Err(bad("limit: must be between 1 and 31 for 1d buckets")),
    };
    let by_key = q.all("group_by").contains(&"api_key_id");
    // `page` is the opaque start of the next bucket.
    let from = match q.get("page") {
        Some(p) => p
            .strip_prefix("page_")
            .and_then(|x| x.parse::<i64>().ok())
            .ok_or_else(|| bad("page: invalid"))?,
        None => day_start(start),
    };
    let stop = end.unwrap_or(st.world.read().unwrap().now + 86_400);
    let w = st.world.read().unwrap();
    let mut buckets = Vec::new();
    let mut day = from;
    while day < stop && (buckets.len() as i64) < limit {
        let results: Vec<Value> = w
            .anthropic
            .api_keys
            .values()
            .filter(|k| k.last_used.is_some_and(|t| day_start(t) == day))
            .map(|k| {
                json!({"api_key_id": if by_key { json!(k.id) } else { Value::Null }, "workspace_id": null,
                       "model": null, "service_tier": null, "context_window": null, "account_id": null,
                       "uncached_input_tokens": 1500, "cache_read_input_tokens": 200, "output_tokens": 500,
                       "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
                       "server_tool_use": {"web_search_requests": 0}})
            })
            .collect();
        buckets.push(json!({"starting_at": rfc3339(day), "ending_at": rfc3339(day + 86_400), "results": results}));
        day += 86_400;
    }
    let more = day < stop;
    Ok(Json(json!({"data": buckets, "has_more": more, "next_page": more.then(|| format!("page_{day}"))})).into_response())
}

/// `GET /usage_report/claude_code?starting_at=YYYY-MM-DD&limit&page`: one day; a row per user
/// active that day.
async fn usage_claude_code(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let q = Params::from_uri(&uri);
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "invalid_request_error", m);
    let day = q
        .get("starting_at")
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .ok_or_else(|| bad("starting_at: a UTC date YYYY-MM-DD is required"))?;
    let w = st.world.read().unwrap();
    let rows: Vec<Value> = w
        .anthropic
        .users
        .values()
        .filter(|u| u.code_active.is_some_and(|t| day_start(t) == day))
        .map(|u| {
            json!({"actor": {"type": "user_actor", "email_address": u.email}, "date": rfc3339(day),
                   "customer_type": "api", "organization_id": "org_sim", "terminal_type": "vscode",
                   "core_metrics": {"num_sessions": 3, "lines_of_code": {"added": 120, "removed": 30},
                                    "commits_by_claude_code": 1, "pull_requests_by_claude_code": 0},
                   "model_breakdown": [], "tool_actions": {}})
        })
        .collect();
    report_page(&q, 20, rows)
}

/// `GET /v1/organizations/analytics/users` (Enterprise Analytics API): one row per user over a
/// single `date`, or rolled up over `starting_date` to `ending_date` (exclusive, at most 366
/// days); `last_activity_date` is the user's latest active day in the span (here, their last
/// Claude Code day), omitted while last-activity reporting is off. `limit` 1–1000 (default
/// 100), `page` a token.
async fn analytics_users(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let q = Params::from_uri(&uri);
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "invalid_request_error", m);
    let date = |k: &str| -> Result<Option<i64>, Response> {
        match q.get(k) {
            None => Ok(None),
            Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| Some(t.and_utc().timestamp()))
                .ok_or_else(|| bad(&format!("{k}: a UTC date YYYY-MM-DD is required"))),
        }
    };
    let (start, end) = match (date("date")?, date("starting_date")?, date("ending_date")?) {
        (Some(d), None, None) => (d, d + 86_400),
        (None, Some(s), e) => {
            let e = e.unwrap_or(s + 86_400);
            if e <= s || e - s > 366 * 86_400 {
                return Err(bad(
                    "ending_date: must be after starting_date, at most 366 days",
                ));
            }
            (s, e)
        }
        _ => return Err(bad("give either date, or starting_date (and ending_date)")),
    };
    let w = st.world.read().unwrap();
    let off = w.anthropic.last_activity_off;
    let rows: Vec<Value> = w
        .anthropic
        .users
        .values()
        .map(|u| {
            let mut row = json!({"user": {"id": u.id, "email_address": u.email, "type": "user"},
                "chat_metrics": {}, "claude_code_metrics": {}, "web_search_count": 0});
            let active = u
                .code_active
                .map(day_start)
                .filter(|d| (start..end).contains(d));
            if let (Some(d), false) = (active, off) {
                row["last_activity_date"] = json!(
                    chrono::DateTime::from_timestamp(d, 0)
                        .map(|t| t.format("%Y-%m-%d").to_string())
                );
            }
            row
        })
        .collect();
    report_page(&q, 100, rows)
}

/// One page of a usage or analytics report's `rows`: `limit` 1–1000 (`default` without one),
/// `page` a token from the last page's `next_page`.
fn report_page(q: &Params, default: usize, rows: Vec<Value>) -> Reply {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "invalid_request_error", m);
    let limit: usize = match q.get("limit").map(str::parse::<usize>) {
        None => default,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return Err(bad("limit: must be between 1 and 1000")),
    };
    let offset: usize = match q.get("page") {
        Some(p) => p
            .strip_prefix("page_")
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| bad("page: invalid"))?,
        None => 0,
    };
    let page: Vec<Value> = rows.iter().skip(offset).take(limit).cloned().collect();
    let next = offset + page.len();
    let more = next < rows.len();
    Ok(Json(
        json!({"data": page, "has_more": more, "next_page": more.then(|| format!("page_{next}"))}),
    )
    .into_response())
}
