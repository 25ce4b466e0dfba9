//! Okta's management API, the read side recert uses (`directories.md`, part A): `/api/v1/users`
//! (a bare list omits `DEPROVISIONED`; `filter=status eq "DEPROVISIONED"` lists them),
//! `/api/v1/groups`, `/api/v1/groups/{id}/users`; `SSWS` tokens; `limit`/`after` cursors in
//! `Link` header lines (`self` and `next`, each its own line, as Okta sends them); the
//! `X-Rate-Limit-*` headers on every answer from one bucket per window, a spent bucket
//! answered 429 `E0000047`; Okta's error object.
//!
//! Served from the same world as every other provider: the directory's people, with Okta ids
//! (`00u` + the directory id) and statuses (an inactive person is `DEPROVISIONED` or, for some,
//! `SUSPENDED`: neither is current, so the ground truth is the SCIM directory's).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::world::ScimUser;
use super::{Params, Shared, iso, same};

/// Largest page served.
const MAX_LIMIT: usize = 200;

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/api/v1/users", get(list_users))
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{id}/users", get(group_users))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not found: Resource not found") })
}

/// Okta's error object; `errorCode` by status as the reference lists them.
pub(super) fn error(status: StatusCode, summary: &str) -> Response {
    let code = match status.as_u16() {
        400 => "E0000001",
        401 => "E0000011",
        403 => "E0000006",
        404 => "E0000007",
        429 => "E0000047",
        _ => "E0000009",
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"errorCode": code, "errorSummary": summary, "errorLink": code,
               "errorId": "oaeSim0000000000000000000", "errorCauses": []})
        .to_string(),
    )
        .into_response()
}

/// An Okta user id for a directory id.
pub fn user_id(directory_id: &str) -> String {
    format!("00u{directory_id}")
}

fn group_id(directory_id: &str) -> String {
    format!("00g{directory_id}")
}

/// The status an inactive person shows (a stable choice per person).
fn status(u: &ScimUser) -> &'static str {
    if u.active {
        "ACTIVE"
    } else if u.id.bytes().map(u32::from).sum::<u32>() % 4 == 0 {
        "SUSPENDED"
    } else {
        "DEPROVISIONED"
    }
}

fn user_json(base: &str, u: &ScimUser) -> Value {
    let status = status(u);
    json!({
        "id": user_id(&u.id),
        "status": status,
        "created": iso(u.created),
        "activated": iso(u.created),
        "statusChanged": iso(u.last_modified),
        "lastLogin": null,
        "lastUpdated": iso(u.last_modified),
        "passwordChanged": null,
        "type": {"id": "oty1simdefault0000000"},
        "profile": {
            "firstName": u.given_name,
            "lastName": u.family_name,
            "login": u.user_name,
            "email": u.user_name,
            "secondEmail": u.extra_emails.first(),
            "department": u.department,
            "title": u.title,
            "userType": "Employee",
            "employeeNumber": u.employee_number,
            "managerId": u.manager_id.as_deref().map(user_id),
        },
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": format!("{base}/api/v1/users/{}", user_id(&u.id))}},
    })
}

/// `http://host/okta`: links are absolute, as Okta's are (the router is nested under
/// `/okta`, which its handlers do not see in their path).
fn base_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}/okta")
}

fn authorize(st: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("SSWS "))
        .is_some_and(|t| same(t, &st.key));
    if ok {
        Ok(())
    } else {
        Err(error(StatusCode::UNAUTHORIZED, "Invalid token provided"))
    }
}

/// Take one request from the window's bucket: the headers every answer carries, or the 429.
fn bucket(st: &Shared) -> Result<[(&'static str, String); 3], Response> {
    let (limit, window) = st.okta_rate;
    let mut w = st.okta_window.lock().unwrap();
    let now = std::time::Instant::now();
    if now.duration_since(w.0) >= window {
        *w = (now, 0);
    }
    let reset_in = window.saturating_sub(now.duration_since(w.0));
    let reset = chrono::Utc::now().timestamp() + reset_in.as_secs_f64().ceil() as i64;
    let spent = w.1 >= limit;
    if !spent {
        w.1 += 1;
    }
    let headers = [
        ("x-rate-limit-limit", limit.to_string()),
        (
            "x-rate-limit-remaining",
            limit.saturating_sub(w.1).to_string(),
        ),
        ("x-rate-limit-reset", reset.to_string()),
    ];
    if spent {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "API call exceeded rate limit due to too many requests.",
        );
        with_headers(&mut r, &headers);
        return Err(r);
    }
    Ok(headers)
}

fn with_headers(r: &mut Response, headers: &[(&'static str, String)]) {
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            r.headers_mut().insert(*k, v);
        }
    }
}

fn limit_of(params: &Params) -> usize {
    params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(MAX_LIMIT)
        .clamp(1, MAX_LIMIT)
}

/// One page of `items` (each with its id) after the cursor `after`: for the short lists
/// (groups, a group's members). An unknown cursor starts again from the top (the faults
/// that break paging use it).
fn page(
    base: &str,
    path: &str,
    params: &Params,
    keep: &[(&str, &str)],
    items: Vec<(String, Value)>,
    limits: [(&'static str, String); 3],
) -> Response {
    let limit = limit_of(params);
    let start = params
        .get("after")
        .and_then(|a| items.iter().position(|(id, _)| id == a).map(|i| i + 1))
        .unwrap_or(0);
    let end = (start + limit).min(items.len());
    let next = (end < items.len()).then(|| items[end - 1].0.clone());
    let body: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .map(|(_, v)| v)
        .collect();
    respond(base, path, params, keep, body, next, limits)
}

/// A page's answer: its items, a `self` link, and a `next` link after `next` when more
/// remain (each its own `Link` line, as Okta sends them).
fn respond(
    base: &str,
    path: &str,
    params: &Params,
    keep: &[(&str, &str)],
    body: Vec<Value>,
    next: Option<String>,
    limits: [(&'static str, String); 3],
) -> Response {
    let limit = limit_of(params);
    let link = |after: Option<&str>| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in keep {
            q.append_pair(k, v);
        }
        if let Some(a) = after {
            q.append_pair("after", a);
        }
        q.append_pair("limit", &limit.to_string());
        format!("{base}{path}?{}", q.finish())
    };
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&body).unwrap_or_default(),
    )
        .into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>; rel=\"self\"", link(params.get("after"))))
    {
        h.append(header::LINK, v);
    }
    if let Some(after) = next
        && let Ok(v) = HeaderValue::from_str(&format!("<{}>; rel=\"next\"", link(Some(&after))))
    {
        h.append(header::LINK, v);
    }
    with_headers(&mut r, &limits);
    r
}

type Reply = Result<Response, Response>;

async fn list_users(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let limits = bucket(&st)?;
    let params = Params::from_uri(&uri);
    let filter = params.get("filter");
    let only = match filter {
        None => None,
        Some(f) => {
            let wanted = f
                .trim()
                .strip_prefix("status eq ")
                .map(|s| s.trim().trim_matches('"').to_ascii_uppercase())
                .ok_or_else(|| {
                    error(
                        StatusCode::BAD_REQUEST,
                        "Api validation failed: filter (only `status eq \"…\"` is simulated)",
                    )
                })?;
            Some(wanted)
        }
    };
    let base = base_of(&headers);
    let w = st.world.read().unwrap();
    // Only the page is read and rendered: the cursor is the last user's Okta id, a key into
    // the directory (an unknown one starts from the top).
    let from = params
        .get("after")
        .and_then(|a| a.strip_prefix("00u"))
        .filter(|a| w.directory.users.contains_key(*a));
    let rest: Box<dyn Iterator<Item = &ScimUser>> = match from {
        Some(a) => Box::new(
            w.directory
                .users
                .range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
                .map(|(_, u)| u),
        ),
        None => Box::new(w.directory.users.values()),
    };
    let limit = limit_of(&params);
    let mut picked: Vec<&ScimUser> = rest
        .filter(|u| match &only {
            Some(s) => status(u) == s,
            // A bare list omits the deactivated.
            None => status(u) != "DEPROVISIONED",
        })
        .take(limit + 1)
        .collect();
    let more = picked.len() > limit;
    picked.truncate(limit);
    let next = more.then(|| user_id(&picked[picked.len() - 1].id));
    let body = picked.iter().map(|u| user_json(&base, u)).collect();
    let keep: Vec<(&str, &str)> = filter.map(|f| ("filter", f)).into_iter().collect();
    Ok(respond(
        &base,
        "/api/v1/users",
        &params,
        &keep,
        body,
        next,
        limits,
    ))
}

async fn list_groups(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let limits = bucket(&st)?;
    let params = Params::from_uri(&uri);
    let base = base_of(&headers);
    let w = st.world.read().unwrap();
    let items = w
        .directory
        .groups
        .values()
        .map(|g| {
            let id = group_id(&g.id);
            let v = json!({
                "id": id, "type": "OKTA_GROUP", "objectClass": ["okta:user_group"],
                "created": iso(w.now), "lastUpdated": iso(w.now), "lastMembershipUpdated": iso(w.now),
                "profile": {"name": g.display_name, "description": null},
                "_links": {"users": {"href": format!("{base}/api/v1/groups/{id}/users")}},
            });
            (id, v)
        })
        .collect();
    Ok(page(&base, "/api/v1/groups", &params, &[], items, limits))
}

async fn group_users(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let limits = bucket(&st)?;
    let params = Params::from_uri(&uri);
    let base = base_of(&headers);
    let w = st.world.read().unwrap();
    let g = w
        .directory
        .groups
        .values()
        .find(|g| group_id(&g.id) == id)
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("Not found: Resource not found: {id} (UserGroup)"),
            )
        })?;
    let items = g
        .members
        .iter()
        .filter_map(|m| w.directory.users.get(m))
        .map(|u| (user_id(&u.id), user_json(&base, u)))
        .collect();
    let path = format!("/api/v1/groups/{id}/users");
    Ok(page(&base, &path, &params, &[], items, limits))
}
