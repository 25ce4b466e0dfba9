//! Microsoft Entra ID: the identity platform's token endpoint
//! (`POST /entra/{tenant}/oauth2/v2.0/token`, client credentials) and the Graph v1.0 read side
//! recert uses (`/graph/v1.0/users`, `/groups`, `/groups/{id}/transitiveMembers`,
//! `/directory/deletedItems/microsoft.graph.user`; for the AI platforms' enterprise apps
//! `/servicePrincipals/{id}`, its `appRoleAssignedTo`, `/groups/{id}/members` and
//! `/auditLogs/provisioning`), as `directories.md` part B describes
//! them: `$select` honoured (only what is selected comes back), `$top` 1–999 (at most 100 with
//! `$expand`), `@odata.nextLink` with a `$skiptoken`, tokens that expire, Graph's error object.
//!
//! Served from the same world as every other provider. An inactive person is, by a stable
//! choice, disabled (`accountEnabled: false`), past their leave date while still enabled, or
//! deleted (only in the deleted items): none is current, so the ground truth is the SCIM
//! directory's (a deleted person stays listed in their groups here, a simplification that
//! keeps the world one; real Graph drops them). One group exists only here, `ai-everyone`, whose members are the `ai-admins`
//! group and one more person: nested membership, resolved by `transitiveMembers`. And one
//! Microsoft 365 group (`groupTypes: ["Unified"]`, which any user may create by default)
//! named like the admin group, holding the people whose admin roles the real one does not
//! cover: a reader that took it for the admin group would hide their `privileged-drift`.

use std::time::Instant;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::world::{ADMIN_GROUP, Idp, IdpApp, ScimUser, World};
use super::{Params, Shared, iso, same};

/// Graph's answer where an Entra ID P1/P2 licence is needed and the tenant has none.
const NON_PREMIUM: (&str, &str) = (
    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    "Neither tenant is B2C or tenant doesn't have premium license",
);

/// The nested group only the Entra tenant has.
pub const NESTED_GROUP: &str = "ai-everyone";
const NESTED_ID: &str = "6e3d7a1c-0000-4000-8000-a1e5e7e9000d";
/// A Microsoft 365 group any user could have made, named like the admin group and holding the
/// people whose admin roles the real one does not cover: read as a group, it would hide
/// their `privileged-drift`.
const SPOOF_ID: &str = "6e3d7a1c-0000-4000-8000-5900f0000001";

pub(super) fn token_router() -> Router<Shared> {
    Router::new().route("/{tenant}/oauth2/v2.0/token", post(token))
}

pub(super) fn graph_router() -> Router<Shared> {
    Router::new()
        .route("/users", get(users))
        .route("/groups", get(groups))
        .route("/groups/{id}/transitiveMembers", get(transitive_members))
        .route("/groups/{id}/members", get(members))
        .route("/servicePrincipals/{id}", get(service_principal))
        .route(
            "/servicePrincipals/{id}/appRoleAssignedTo",
            get(assigned_to),
        )
        .route("/auditLogs/provisioning", get(provisioning))
        .route(
            "/directory/deletedItems/microsoft.graph.user",
            get(deleted_users),
        )
        .fallback(|| async {
            error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                "Invalid request: the segment is not supported here",
            )
        })
}

/// Graph's error object, `code` by status unless given.
pub(super) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": {"code": code, "message": message, "innerError": {
            "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": "799ac1b2-b3e0-46c9-877e-6eeb72508938",
            "client-request-id": "799ac1b2-b3e0-46c9-877e-6eeb72508938"}}})
        .to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"\", error=\"invalid_token\""),
        );
    }
    r
}

/// Graph's error code for a status.
pub(super) fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "InvalidAuthenticationToken",
        403 => "Authorization_RequestDenied",
        404 => "Request_ResourceNotFound",
        429 => "TooManyRequests",
        400 => "Request_BadRequest",
        _ => "generalException",
    }
}

fn oauth_error(status: StatusCode, error: &str, code: u64, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": error, "error_description": format!("AADSTS{code}: {description}"),
               "error_codes": [code], "timestamp": chrono::Utc::now().to_rfc3339(),
               "trace_id": "0000-sim", "correlation_id": "0000-sim"})
        .to_string(),
    )
        .into_response()
}

async fn token(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let throttled = st
        .entra_token_throttled
        .fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |n| n.checked_sub(1),
        )
        .is_ok();
    if throttled {
        let mut r = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            50196,
            "The server is temporarily unavailable because of too many requests. Retry after the time the Retry-After header gives.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
        return r;
    }
    let form = super::Form::parse(&body);
    let field = |k: &str| form.get(k);
    if field("grant_type") != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if !field("scope").ends_with("/.default") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.",
        );
    }
    if field("client_id").is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    }
    if field("client_assertion_type").is_empty() {
        if !same(field("client_secret"), &st.key) {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
    } else {
        // A certificate credential: PS256 with `x5t#S256`, or RS256 with `x5t`.
        let aud = format!("http://{host}/entra/{tenant}/oauth2/v2.0/token");
        let prints = super::assertion::thumbprints();
        let checked = super::assertion::verify(
            field("client_assertion"),
            &["PS256", "RS256"],
            |h| {
                prints
                    .iter()
                    .any(|(name, value)| h[*name].as_str() == Some(value.as_str()))
            },
            field("client_id"),
            &aud,
            600,
        );
        if let Err(why) = checked {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700027,
                &format!("Client assertion failed signature validation: {why}."),
            );
        }
    }
    let n = st
        .entra_issued
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let token = format!(
        "eyJ0eXAiOiJKV1QiLCJzaW0iOnRydWV9.c2ltLXRva2Vu{n:08}{:016x}.c2ln",
        (st.rng.lock().unwrap().next_u64())
    );
    let ttl = st.entra_token_ttl;
    st.entra_tokens
        .lock()
        .unwrap()
        .insert(token.clone(), Instant::now() + ttl);
    let secs = st.entra_token_claims.unwrap_or(ttl).as_secs().max(1);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": token})
            .to_string(),
    )
        .into_response()
}

fn authorize(st: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let valid = st
        .entra_tokens
        .lock()
        .unwrap()
        .get(presented)
        .is_some_and(|until| Instant::now() < *until);
    if valid {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        ))
    }
}

/// How an inactive person shows in Entra (a stable choice per person).
#[derive(PartialEq)]
enum Gone {
    Disabled,
    PastLeaveDate,
    Deleted,
}

fn gone(u: &ScimUser) -> Option<Gone> {
    if u.active {
        return None;
    }
    Some(match u.id.bytes().map(u32::from).sum::<u32>() % 3 {
        0 => Gone::Deleted,
        1 => Gone::PastLeaveDate,
        _ => Gone::Disabled,
    })
}

fn user_json(u: &ScimUser, now: i64, deleted: bool, idp: &Idp) -> Value {
    let how = gone(u);
    let mut v = json!({
        "@odata.type": "#microsoft.graph.user",
        "id": u.id,
        "accountEnabled": !matches!(how, Some(Gone::Disabled | Gone::Deleted)),
        "userPrincipalName": u.user_name,
        "mail": u.user_name,
        "otherMails": u.extra_emails,
        "proxyAddresses": [format!("SMTP:{}", u.user_name)],
        "displayName": format!("{} {}", u.given_name, u.family_name),
        "givenName": u.given_name,
        "surname": u.family_name,
        "department": u.department,
        "jobTitle": u.title,
        "employeeType": "Employee",
        "employeeId": u.employee_number,
        "createdDateTime": iso(u.created),
        // A leaver still enabled past their leave date; some current people leave soon.
        "employeeLeaveDateTime": match how {
            Some(Gone::PastLeaveDate) => Value::String(iso(now - 86_400)),
            None => idp.leave_at.get(&u.id).map(|t| Value::String(iso(*t))).unwrap_or(Value::Null),
            _ => Value::Null,
        },
    });
    // Absent for people who never signed in.
    if let Some(t) = idp.last_sign_in.get(&u.id) {
        v["signInActivity"] = json!({
            "lastSignInDateTime": iso(*t),
            "lastSignInRequestId": format!("{:08x}-0000-4000-8000-000000000001", t & 0xffff_ffff),
            "lastNonInteractiveSignInDateTime": iso(*t),
            "lastSuccessfulSignInDateTime": iso(*t),
        });
    }
    if deleted {
        v["deletedDateTime"] = json!(iso(u.last_modified));
    }
    v
}

/// Keep only the `$select`ed properties (and `id`, `@odata.type`), as Graph does.
fn select(mut v: Value, params: &Params) -> Value {
    if let (Some(sel), Some(o)) = (params.get("$select"), v.as_object_mut()) {
        let wanted: Vec<&str> = sel.split(',').map(str::trim).collect();
        o.retain(|k, _| {
            k == "id" || k == "@odata.type" || k == "manager" || wanted.contains(&k.as_str())
        });
    }
    v
}

/// `$top` (1–999, default 100; at most 100 with `$expand`).
fn top_of(params: &Params) -> Result<usize, Response> {
    let top = match params.get("$top") {
        None => 100,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=999).contains(&n) => n,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "Request_BadRequest",
                    &format!(
                        "Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."
                    ),
                ));
            }
        },
    };
    Ok(if params.get("$expand").is_some() {
        top.min(100)
    } else {
        top
    })
}

/// One page of a short list (groups, members) from `$skiptoken` (an offset; anything else
/// starts over).
fn page(
    headers: &HeaderMap,
    uri: &Uri,
    path: &str,
    params: &Params,
    items: Vec<Value>,
) -> Result<Response, Response> {
    page_of(headers, uri, path, params, items, |v| v)
}

/// [`page`] of items rendered only for the page served.
fn page_of<T>(
    headers: &HeaderMap,
    uri: &Uri,
    path: &str,
    params: &Params,
    items: Vec<T>,
    render: impl Fn(T) -> Value,
) -> Result<Response, Response> {
    let top = top_of(params)?;
    let start = params
        .get("$skiptoken")
        .and_then(|s| s.strip_prefix("X'"))
        .and_then(|s| s.strip_suffix('\''))
        .and_then(|s| usize::from_str_radix(s, 16).ok())
        .unwrap_or(0)
        .min(items.len());
    let end = (start + top).min(items.len());
    let next = (end < items.len()).then(|| format!("X'{end:x}'"));
    let body = items
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(render)
        .collect();
    Ok(respond(headers, uri, path, body, next))
}

/// Users from the one after `$skiptoken` (a user's id: only the page is read and rendered;
/// anything else starts over), those `keep` admits, at most `$top`; the next token.
fn users_page<'a>(
    w: &'a super::world::World,
    params: &Params,
    keep: impl Fn(&ScimUser) -> bool,
) -> Result<(Vec<&'a ScimUser>, Option<String>), Response> {
    let top = top_of(params)?;
    let from = params
        .get("$skiptoken")
        .and_then(|s| s.strip_prefix("K'"))
        .and_then(|s| s.strip_suffix('\''))
        .filter(|id| w.directory.users.contains_key(*id));
    let rest: Box<dyn Iterator<Item = &ScimUser>> = match from {
        Some(id) => Box::new(
            w.directory
                .users
                .range::<str, _>((std::ops::Bound::Excluded(id), std::ops::Bound::Unbounded))
                .map(|(_, u)| u),
        ),
        None => Box::new(w.directory.users.values()),
    };
    let mut picked: Vec<&ScimUser> = rest.filter(|u| keep(u)).take(top + 1).collect();
    let more = picked.len() > top;
    picked.truncate(top);
    let next = more.then(|| format!("K'{}'", picked[picked.len() - 1].id));
    Ok((picked, next))
}

/// A page's answer, with `@odata.nextLink` carrying `next` when more remain.
fn respond(
    headers: &HeaderMap,
    uri: &Uri,
    path: &str,
    body: Vec<Value>,
    next: Option<String>,
) -> Response {
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#{}", path.trim_start_matches('/')),
        "value": body,
    });
    if let Some(token) = next {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in Params::from_uri(uri)
            .0
            .iter()
            .filter(|(k, _)| k != "$skiptoken")
        {
            q.append_pair(k, v);
        }
        q.append_pair("$skiptoken", &token);
        body["@odata.nextLink"] = json!(format!("http://{host}/graph/v1.0{path}?{}", q.finish()));
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

type Reply = Result<Response, Response>;

async fn users(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    // A field the app or tenant may not read refuses the whole list, as Graph does.
    for (refused, field, (code, message)) in [
        (
            st.entra_no_lifecycle,
            "employeeLeaveDateTime",
            (
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
        ),
        (st.entra_no_premium, "signInActivity", NON_PREMIUM),
    ] {
        if refused && params.get("$select").is_some_and(|s| s.contains(field)) {
            return Err(error(StatusCode::FORBIDDEN, code, message));
        }
    }
    let w = st.world.read().unwrap();
    let expand = params
        .get("$expand")
        .is_some_and(|e| e.starts_with("manager"));
    let (picked, next) = users_page(&w, &params, |u| gone(u) != Some(Gone::Deleted))?;
    let body = picked
        .into_iter()
        .map(|u| {
            let mut v = select(user_json(u, w.now, false, &w.idp), &params);
            if expand
                && let Some(m) = u
                    .manager_id
                    .as_ref()
                    .filter(|m| w.directory.users.contains_key(*m))
            {
                v["manager"] = json!({"@odata.type": "#microsoft.graph.user", "id": m});
            }
            v
        })
        .collect();
    Ok(respond(&headers, &uri, "/users", body, next))
}

async fn deleted_users(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let w = st.world.read().unwrap();
    let (picked, next) = users_page(&w, &params, |u| gone(u) == Some(Gone::Deleted))?;
    let body = picked
        .into_iter()
        .map(|u| select(user_json(u, w.now, true, &w.idp), &params))
        .collect();
    Ok(respond(
        &headers,
        &uri,
        "/directory/deletedItems/microsoft.graph.user",
        body,
        next,
    ))
}

async fn groups(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let w = st.world.read().unwrap();
    let items = w
        .directory
        .groups
        .values()
        .map(|g| (g.id.as_str(), g.display_name.as_str(), false))
        .chain([
            (NESTED_ID, NESTED_GROUP, false),
            (SPOOF_ID, ADMIN_GROUP, true),
        ])
        .map(|(id, name, unified)| {
            let types: &[&str] = if unified { &["Unified"] } else { &[] };
            select(
                json!({"@odata.type": "#microsoft.graph.group", "id": id, "displayName": name,
                       "securityEnabled": !unified, "mailEnabled": unified, "groupTypes": types}),
                &params,
            )
        })
        .collect();
    page(&headers, &uri, "/groups", &params, items)
}

async fn transitive_members(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let w = st.world.read().unwrap();
    let user = |uid: &str| json!({"@odata.type": "#microsoft.graph.user", "id": uid});
    let items: Vec<Value> = if id == SPOOF_ID {
        let drifted: Vec<&str> = w
            .truth
            .iter()
            .filter(|f| f.rule == "privileged-drift")
            .filter_map(|f| f.subject_email.as_deref())
            .collect();
        w.directory
            .users
            .values()
            .filter(|u| drifted.iter().any(|e| e.eq_ignore_ascii_case(&u.user_name)))
            .map(|u| user(&u.id))
            .collect()
    } else if id == NESTED_ID {
        // Its direct members: the admin group (itself a member, listed) and one more person;
        // transitively, the admin group's people too.
        let admins = w
            .directory
            .groups
            .values()
            .find(|g| g.display_name == ADMIN_GROUP);
        let extra = w
            .directory
            .users
            .values()
            .find(|u| u.active && admins.is_none_or(|a| !a.members.contains(&u.id)));
        let mut v = Vec::new();
        if let Some(a) = admins {
            v.push(json!({"@odata.type": "#microsoft.graph.group", "id": a.id}));
            v.extend(
                a.members
                    .iter()
                    .filter(|m| w.directory.users.contains_key(*m))
                    .map(|m| user(m)),
            );
        }
        v.extend(extra.map(|u| user(&u.id)));
        v
    } else {
        let g = w.directory.groups.get(&id).ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
            )
        })?;
        g.members
            .iter()
            .filter_map(|m| w.directory.users.get(m))
            .map(|u| user(&u.id))
            .collect()
    };
    let items = items.into_iter().map(|v| select(v, &params)).collect();
    page(
        &headers,
        &uri,
        &format!("/groups/{id}/transitiveMembers"),
        &params,
        items,
    )
}

/// The enterprise app whose service principal is `id`, and the provider source it stands for.
fn app_of<'a>(w: &'a World, id: &str) -> Result<(&'a str, &'a IdpApp), Response> {
    w.idp.app_where(|a| a.entra_id == id).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    })
}

async fn service_principal(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let w = st.world.read().unwrap();
    let (_, a) = app_of(&w, &id)?;
    let v = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity",
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": a.entra_id, "appId": format!("{}-app", a.entra_id), "displayName": a.name,
        "accountEnabled": true, "appRoleAssignmentRequired": true,
        "preferredSingleSignOnMode": "saml", "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        select(v, &params).to_string(),
    )
        .into_response())
}

/// Who the app is assigned to: its groups (whose direct members have it) and its direct users.
async fn assigned_to(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let w = st.world.read().unwrap();
    let (_, a) = app_of(&w, &id)?;
    let row = |(n, kind, principal, name): (usize, &str, &str, String)| {
        json!({"id": format!("asg{n:06}"), "appRoleId": "00000000-0000-0000-0000-000000000000",
               "createdDateTime": iso(w.now - 200 * 86_400), "deletedDateTime": null,
               "principalDisplayName": name, "principalId": principal, "principalType": kind,
               "resourceDisplayName": a.name, "resourceId": a.entra_id})
    };
    // Who, cheaply; each row rendered only on its page.
    let mut items: Vec<(usize, &str, &str, String)> = Vec::new();
    for g in a.groups.iter().filter_map(|g| w.directory.groups.get(g)) {
        items.push((items.len(), "Group", &g.id, g.display_name.clone()));
    }
    for u in a.direct.iter().filter_map(|u| w.directory.users.get(u)) {
        items.push((items.len(), "User", &u.id, String::new()));
    }
    let names = |(n, kind, principal, name): (usize, &str, &str, String)| {
        let name = match w.directory.users.get(principal) {
            Some(u) if kind == "User" => format!("{} {}", u.given_name, u.family_name),
            _ => name,
        };
        row((n, kind, principal, name))
    };
    page_of(
        &headers,
        &uri,
        &format!("/servicePrincipals/{id}/appRoleAssignedTo"),
        &params,
        items,
        names,
    )
}

/// A group's direct members (users only here; the nested and spoofed groups have none).
async fn members(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let w = st.world.read().unwrap();
    let g = w.directory.groups.get(&id).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    })?;
    let items = g
        .members
        .iter()
        .filter(|m| w.directory.users.contains_key(*m))
        .map(|m| {
            select(
                json!({"@odata.type": "#microsoft.graph.user", "id": m}),
                &params,
            )
        })
        .collect();
    page(
        &headers,
        &uri,
        &format!("/groups/{id}/members"),
        &params,
        items,
    )
}

/// Provisioning logs (P1/P2 only), filtered as recert asks:
/// `servicePrincipal/id eq '…' and activityDateTime gt …`; kept 30 days.
async fn provisioning(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    if st.entra_no_premium {
        return Err(error(StatusCode::FORBIDDEN, NON_PREMIUM.0, NON_PREMIUM.1));
    }
    let params = Params::from_uri(&uri);
    let filter = params.get("$filter").unwrap_or("");
    let sp = filter
        .split("servicePrincipal/id eq '")
        .nth(1)
        .and_then(|r| r.split('\'').next());
    let after = filter
        .split("activityDateTime gt ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp());
    let w = st.world.read().unwrap();
    let after = after.unwrap_or(i64::MIN).max(w.now - 30 * 86_400);
    let mut entries: Vec<(i64, Value)> = Vec::new();
    for (n, p) in w.idp.pushes.iter().enumerate() {
        let (Some(a), Some(u)) = (
            w.idp.apps.get(&p.app_source),
            w.directory.users.get(&p.user_id),
        ) else {
            continue;
        };
        if p.at <= after || sp.is_some_and(|s| s != a.entra_id) {
            continue;
        }
        let status = if p.ok { "success" } else { "failure" };
        let mut info = json!({"status": status});
        if let Some(r) = &p.reason {
            info["errorInformation"] = json!({"errorCode": format!("{}EntryConflict", a.name), "reason": r, "errorCategory": "nonServiceFailure"});
        }
        entries.push((p.at, json!({
            "id": format!("prov{n:08}"), "activityDateTime": iso(p.at),
            "jobId": format!("sim.{}", a.entra_id), "cycleId": "cycle", "changeId": format!("chg{n}"),
            "provisioningAction": if p.deprovision { "disable" } else { "create" },
            "provisioningStatusInfo": info,
            "servicePrincipal": {"id": a.entra_id, "displayName": a.name},
            "sourceSystem": {"displayName": "Azure Active Directory"},
            "targetSystem": {"displayName": a.name},
            "sourceIdentity": {"id": u.id, "displayName": format!("{} {}", u.given_name, u.family_name), "identityType": "User"},
            "targetIdentity": {"id": format!("ext-{}", u.id), "displayName": u.user_name, "identityType": "User"},
            "provisioningSteps": [], "modifiedProperties": [], "durationInMilliseconds": 120,
        })));
    }
    entries.sort_by_key(|e| e.0);
    let items = entries.into_iter().map(|(_, v)| v).collect();
    page(&headers, &uri, "/auditLogs/provisioning", &params, items)
}
