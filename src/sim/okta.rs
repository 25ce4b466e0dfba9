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

use super::world::{Idp, IdpApp, ScimUser, World};
use super::{Params, Shared, iso, same};

/// Largest page served by default (users, groups); each list's own maximum as the reference
/// gives it (A.8): a group's users 1,000, an app's users 500, the System Log 1,000.
const MAX_LIMIT: usize = 200;

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/api/v1/users", get(list_users))
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{id}/users", get(group_users))
        .route("/api/v1/apps/{id}", get(app))
        .route("/api/v1/apps/{id}/users", get(app_users))
        .route("/api/v1/apps/{id}/groups", get(app_groups))
        .route("/api/v1/logs", get(logs))
        .route("/oauth2/v1/token", axum::routing::post(token))
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

fn user_json(base: &str, u: &ScimUser, idp: &Idp) -> Value {
    let status = status(u);
    json!({
        "id": user_id(&u.id),
        "status": status,
        "created": iso(u.created),
        "activated": iso(u.created),
        "statusChanged": iso(u.last_modified),
        "lastLogin": idp.last_sign_in.get(&u.id).map(|t| iso(*t)),
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
            // A custom attribute (Okta has no leave date of its own): the simulator's config
            // names it in `leave_attribute`.
            "terminationDate": idp.leave_at.get(&u.id).map(|t| iso(*t)),
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

/// An API token (`SSWS`), or a bearer token the org authorization server issued and that has
/// not expired.
fn authorize(st: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = match (given.strip_prefix("SSWS "), given.strip_prefix("Bearer ")) {
        (Some(t), _) => same(t, &st.key),
        (_, Some(t)) => st
            .entra_tokens
            .lock()
            .unwrap()
            .get(t)
            .is_some_and(|until| std::time::Instant::now() < *until),
        _ => false,
    };
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

fn limit_of(params: &Params, max: usize) -> usize {
    params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(max)
        .clamp(1, max)
}

/// One page of `items` (each with its id) after the cursor `after`: for the short lists
/// (groups, a group's members). An unknown cursor starts again from the top (the faults
/// that break paging use it).
#[allow(clippy::too_many_arguments)]
fn page(
    base: &str,
    path: &str,
    params: &Params,
    keep: &[(&str, &str)],
    items: Vec<(String, Value)>,
    limits: [(&'static str, String); 3],
    max: usize,
) -> Response {
    let limit = limit_of(params, max);
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
    respond(base, path, params, keep, body, next, limits, max)
}

/// A page's answer: its items, a `self` link, and a `next` link after `next` when more
/// remain (each its own `Link` line, as Okta sends them).
#[allow(clippy::too_many_arguments)]
fn respond(
    base: &str,
    path: &str,
    params: &Params,
    keep: &[(&str, &str)],
    body: Vec<Value>,
    next: Option<String>,
    limits: [(&'static str, String); 3],
    max: usize,
) -> Response {
    let limit = limit_of(params, max);
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
    let limit = limit_of(&params, MAX_LIMIT);
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
    let body = picked.iter().map(|u| user_json(&base, u, &w.idp)).collect();
    let keep: Vec<(&str, &str)> = filter.map(|f| ("filter", f)).into_iter().collect();
    Ok(respond(
        &base,
        "/api/v1/users",
        &params,
        &keep,
        body,
        next,
        limits,
        MAX_LIMIT,
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
    Ok(page(
        &base,
        "/api/v1/groups",
        &params,
        &[],
        items,
        limits,
        MAX_LIMIT,
    ))
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
    // Only the page is rendered: the cursor is the last member's Okta id.
    let limit = limit_of(&params, 1000);
    let members: Vec<&ScimUser> = g
        .members
        .iter()
        .filter_map(|m| w.directory.users.get(m))
        .collect();
    let start = params
        .get("after")
        .and_then(|a| {
            members
                .iter()
                .position(|u| user_id(&u.id) == a)
                .map(|i| i + 1)
        })
        .unwrap_or(0);
    let end = (start + limit).min(members.len());
    let next = (end < members.len()).then(|| user_id(&members[end - 1].id));
    let body = members[start..end]
        .iter()
        .map(|u| user_json(&base, u, &w.idp))
        .collect();
    let path = format!("/api/v1/groups/{id}/users");
    Ok(respond(
        &base,
        &path,
        &params,
        &[],
        body,
        next,
        limits,
        1000,
    ))
}

/// The app whose Okta id is `id`, and the provider source it stands for.
fn app_of<'a>(w: &'a World, id: &str) -> Result<(&'a str, &'a IdpApp), Response> {
    w.idp.app_where(|a| a.okta_id == id).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            &format!("Not found: Resource not found: {id} (AppInstance)"),
        )
    })
}

async fn app(State(st): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    authorize(&st, &headers)?;
    let limits = bucket(&st)?;
    let w = st.world.read().unwrap();
    let (_, a) = app_of(&w, &id)?;
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"id": a.okta_id, "name": format!("{}_sim", a.name.to_lowercase()), "label": a.name,
               "status": "ACTIVE", "signOnMode": "SAML_2_0",
               "features": ["PUSH_NEW_USERS", "PUSH_USER_DEACTIVATION"]})
        .to_string(),
    )
        .into_response();
    with_headers(&mut r, &limits);
    Ok(r)
}

/// The app's users: those assigned directly (`scope: USER`) and those through its groups
/// (`GROUP`), the deactivated left out (Okta removes them from their apps). Only the page is
/// read and rendered: the cursor is the last user's Okta id.
async fn app_users(
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
    let (source, a) = app_of(&w, &id)?;
    let assignees = w.idp.assignees(&w, source);
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
    let limit = limit_of(&params, 500);
    let mut picked: Vec<&ScimUser> = rest
        .filter(|u| status(u) != "DEPROVISIONED" && assignees.contains(u.id.as_str()))
        .take(limit + 1)
        .collect();
    let more = picked.len() > limit;
    picked.truncate(limit);
    let next = more.then(|| user_id(&picked[picked.len() - 1].id));
    let body = picked
        .iter()
        .map(|u| {
            let scope = if a.direct.contains(&u.id) {
                "USER"
            } else {
                "GROUP"
            };
            let uid = user_id(&u.id);
            json!({
                "id": uid, "externalId": format!("ext-{}", u.id), "scope": scope,
                "status": "PROVISIONED", "syncState": "SYNCHRONIZED",
                "created": iso(u.created), "lastUpdated": iso(u.last_modified),
                "statusChanged": iso(u.last_modified), "lastSync": iso(w.now),
                "credentials": {"userName": u.user_name},
                "profile": {"email": u.user_name},
                "_links": {"app": {"href": format!("{base}/api/v1/apps/{id}")},
                           "user": {"href": format!("{base}/api/v1/users/{uid}")}},
            })
        })
        .collect();
    let path = format!("/api/v1/apps/{id}/users");
    Ok(respond(&base, &path, &params, &[], body, next, limits, 500))
}

async fn app_groups(
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
    let (_, a) = app_of(&w, &id)?;
    let items = a
        .groups
        .iter()
        .map(|g| {
            let gid = group_id(g);
            let v = json!({"id": gid, "priority": 0, "lastUpdated": iso(w.now), "profile": {},
                           "_links": {"group": {"href": format!("{base}/api/v1/groups/{gid}")}}});
            (gid, v)
        })
        .collect();
    let path = format!("/api/v1/apps/{id}/groups");
    Ok(page(&base, &path, &params, &[], items, limits, MAX_LIMIT))
}

/// The System Log, bounded by `since` and `until` (`since` at most 180 days back; events
/// older than 90 days are gone), filtered to one app's events (`target.id eq "…"`, the only
/// filter simulated), oldest first.
async fn logs(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let limits = bucket(&st)?;
    let params = Params::from_uri(&uri);
    let base = base_of(&headers);
    let w = st.world.read().unwrap();
    let time = |k: &str| {
        params
            .get(k)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
    };
    let until = time("until").unwrap_or(w.now);
    let since = time("since").unwrap_or(until - 7 * 86_400);
    if since < w.now - 180 * 86_400 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Api validation failed: The since parameter is over 180 days prior to the current day.",
        ));
    }
    // The filter clauses simulated: `target.id eq "…"` and `eventType eq|sw "…"`, joined by
    // `and`; anything else is refused as Okta refuses what it cannot parse.
    let mut target: Option<String> = None;
    let mut event_prefix: Option<(bool, String)> = None;
    for clause in params
        .get("filter")
        .into_iter()
        .flat_map(|f| f.split(" and "))
    {
        let mut words = clause.trim().splitn(3, ' ');
        let (field, op, value) = (
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
            words
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"')
                .to_string(),
        );
        match (field, op) {
            ("target.id", "eq") => target = Some(value),
            ("eventType", "eq") => event_prefix = Some((true, value)),
            ("eventType", "sw") => event_prefix = Some((false, value)),
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "Api validation failed: filter (only `target.id eq` and `eventType eq|sw` are simulated)",
                ));
            }
        }
    }
    let since = since.max(w.now - 90 * 86_400);
    let mut events: Vec<(i64, String, Value)> = Vec::new();
    for (n, p) in w.idp.pushes.iter().enumerate() {
        let Some(a) = w.idp.apps.get(&p.app_source) else {
            continue;
        };
        let Some(u) = w.directory.users.get(&p.user_id) else {
            continue;
        };
        if p.at < since || p.at >= until || target.as_ref().is_some_and(|t| *t != a.okta_id) {
            continue;
        }
        let event = if p.deprovision {
            "application.provision.user.deactivate"
        } else {
            "application.provision.user.push"
        };
        if let Some((exact, v)) = &event_prefix
            && !(if *exact {
                event == v
            } else {
                event.starts_with(v.as_str())
            })
        {
            continue;
        }
        let uuid = format!("sim{n:08}-{}", p.at);
        let v = json!({
            "uuid": uuid, "published": iso(p.at), "eventType": event, "version": "0",
            "severity": if p.ok { "INFO" } else { "ERROR" },
            "displayMessage": if p.deprovision { "Push user deactivation to external application" } else { "Push new user to external application" },
            "actor": {"id": "0oasimprovisioning", "type": "PublicClientApp", "alternateId": "provisioning", "displayName": "Okta Provisioning"},
            "outcome": {"result": if p.ok { "SUCCESS" } else { "FAILURE" }, "reason": p.reason},
            "target": [
                {"id": user_id(&u.id), "type": "User", "alternateId": u.user_name, "displayName": format!("{} {}", u.given_name, u.family_name)},
                {"id": a.okta_id, "type": "AppInstance", "alternateId": a.name, "displayName": a.name},
            ],
            "transaction": {"type": "JOB", "id": format!("job{n}")},
        });
        events.push((p.at, uuid, v));
    }
    events.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let items = events.into_iter().map(|(_, id, v)| (id, v)).collect();
    let keep: Vec<(&str, &str)> = ["since", "until", "filter"]
        .into_iter()
        .filter_map(|k| params.get(k).map(|v| (k, v)))
        .collect();
    Ok(page(
        &base,
        "/api/v1/logs",
        &params,
        &keep,
        items,
        limits,
        1000,
    ))
}

/// Okta's `OAuthError`.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response()
}

/// The org authorization server's token endpoint for the simulated API Services app:
/// client credentials with `private_key_jwt` only (RS256, the key's `kid`), the scopes asked
/// for, a bearer token for an hour (or DPoP required, where the app demands it).
async fn token(State(st): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let form = super::Form::parse(&body);
    let field = |k: &str| form.get(k);
    if field("grant_type") != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    if field("scope").trim().is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "No scopes were requested.",
        );
    }
    if field("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: this client must use private_key_jwt.",
        );
    }
    if st.okta_dpop {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            "The DPoP proof JWT header is missing.",
        );
    }
    let aud = format!("{}/oauth2/v1/token", base_of(&headers));
    let checked = super::assertion::verify(
        field("client_assertion"),
        &["RS256"],
        |h| h["kid"].as_str() == Some(super::assertion::OKTA_KEY_ID),
        super::assertion::OKTA_CLIENT_ID,
        &aud,
        3600,
    );
    if let Err(why) = checked {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!("The client_assertion token is invalid: {why}."),
        );
    }
    let token = format!(
        "eyJraWQiOiJzaW0ifQ.b2t0YS1zaW0{:016x}.c2ln",
        st.rng.lock().unwrap().next_u64()
    );
    st.entra_tokens.lock().unwrap().insert(
        token.clone(),
        std::time::Instant::now() + std::time::Duration::from_secs(3600),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"token_type": "Bearer", "expires_in": 3600, "access_token": token, "scope": field("scope")}).to_string(),
    )
        .into_response()
}
