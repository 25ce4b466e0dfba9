//! The Cursor Admin API: `/teams/members` (not paginated; ids numbers or strings; `isRemoved`),
//! `/teams/remove-member`, `/teams/daily-usage-data`, `/teams/audit-logs`. HTTP Basic auth
//! with the key as user name. Per-minute limits per endpoint enforced with 429 and no
//! `Retry-After`, as documented.

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};

use super::Shared;
use super::world::CursorId;

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/teams/members", get(members))
        .route("/teams/remove-member", post(remove_member))
        .route("/teams/daily-usage-data", post(daily_usage))
        .route("/teams/audit-logs", get(audit_logs))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found", "Not found") })
}

/// `{"error":"<Status Text>","message":"..."}`.
pub(super) fn error(status: StatusCode, error: &str, message: &str) -> Response {
    (status, Json(json!({"error": error, "message": message}))).into_response()
}

type Reply = Result<Response, Response>;

fn authorize(st: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let ok = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .is_some_and(|up| {
            up.strip_suffix(':')
                .is_some_and(|k| super::same(k, &st.key))
        });
    if ok {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Invalid API key",
        ))
    }
}

/// Count a request against the endpoint's per-window limit (documented per minute).
fn limit(st: &Shared, endpoint: &'static str, per_window: u32) -> Result<(), Response> {
    if st.cursor_window.is_zero() {
        return Ok(());
    }
    let mut windows = st.cursor_limits.lock().unwrap();
    let now = Instant::now();
    let w = windows.entry(endpoint).or_insert((now, 0));
    if now.duration_since(w.0) >= st.cursor_window {
        *w = (now, 0);
    }
    if w.1 >= per_window {
        return Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "Rate limit exceeded. Please try again later.",
        ));
    }
    w.1 += 1;
    Ok(())
}

fn id_json(id: &CursorId) -> Value {
    match id {
        CursorId::Number(n) => json!(n),
        CursorId::Text(s) => json!(s),
    }
}

async fn members(State(st): State<Shared>, headers: HeaderMap) -> Reply {
    authorize(&st, &headers)?;
    limit(&st, "members", 20)?;
    let w = st.world.read().unwrap();
    let list: Vec<Value> = w
        .cursor
        .members
        .iter()
        .map(|m| json!({"id": id_json(&m.id), "name": m.name, "email": m.email, "role": m.role, "isRemoved": m.is_removed}))
        .collect();
    Ok(Json(json!({"teamMembers": list})).into_response())
}

/// `{"userId": ...}` or `{"email": ...}`, not both. Keeps at least one admin.
async fn remove_member(State(st): State<Shared>, headers: HeaderMap, body: String) -> Reply {
    authorize(&st, &headers)?;
    limit(&st, "remove-member", 50)?;
    let v: Value = serde_json::from_str(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            &format!("Invalid JSON: {e}"),
        )
    })?;
    let by_id = v.get("userId").map(|x| match x {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let by_email = v
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    if by_id.is_some() == by_email.is_some() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "Provide exactly one of userId or email",
        ));
    }
    let mut w = st.world.write().unwrap();
    let team = &mut w.cursor;
    let Some(pos) = team.members.iter().position(|m| {
        !m.is_removed
            && (by_id.as_ref() == Some(&m.id.as_string())
                || by_email.as_ref() == Some(&m.email.to_lowercase()))
    }) else {
        return Err((
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "User is not a member of this team"})),
        )
            .into_response());
    };
    let admins = team
        .members
        .iter()
        .filter(|m| !m.is_removed && (m.role == "owner" || m.role == "free-owner"))
        .count();
    let m = &team.members[pos];
    if (m.role == "owner" || m.role == "free-owner") && admins <= 1 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "At least one admin must remain on the team",
        ));
    }
    let id = id_json(&m.id);
    let email = m.email.clone();
    team.members.remove(pos);
    let now = w.now.max(chrono::Utc::now().timestamp());
    let id_text = format!("evt_removed_{}", w.cursor.audit.len());
    w.cursor.audit.push(super::world::CEvent {
        id: id_text,
        at: now,
        actor: "api@cursor.com".into(),
        kind: "remove_user".into(),
        data: json!({"email": email}),
    });
    Ok(Json(json!({"success": true, "userId": id, "hasBillingCycleUsage": false})).into_response())
}

/// `POST /teams/daily-usage-data {startDate, endDate (epoch ms, at most 30 days apart), page,
/// pageSize}`: a row per member per day; here the member's last active day inside the window
/// (`isActive: true`), or one inactive row at the window's start.
async fn daily_usage(
    State(st): State<Shared>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: String,
) -> Reply {
    authorize(&st, &headers)?;
    limit(&st, "daily-usage-data", 20)?;
    let v: Value = serde_json::from_str(if body.trim().is_empty() { "{}" } else { &body })
        .map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                &format!("Invalid JSON: {e}"),
            )
        })?;
    let q = super::Params::from_uri(&uri);
    let num = |k: &str| {
        v.get(k)
            .and_then(Value::as_i64)
            .or_else(|| q.get(k).and_then(|x| x.parse().ok()))
    };
    let (Some(start), Some(end)) = (num("startDate"), num("endDate")) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "startDate and endDate are required",
        ));
    };
    if end < start || end - start > 30 * 86_400_000 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "Date range cannot exceed 30 days",
        ));
    }
    let page = num("page").unwrap_or(1).max(1) as usize;
    let size = num("pageSize").unwrap_or(100).clamp(1, 1000) as usize;
    let day = |ms: i64| {
        chrono::DateTime::from_timestamp(ms / 1000, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let w = st.world.read().unwrap();
    let mut rows: Vec<Value> = w
        .cursor
        .members
        .iter()
        .filter(|m| !m.is_removed)
        .map(|m| {
            let active = m.last_active.map(|t| t * 1000).filter(|ms| (start..=end).contains(ms));
            let at = active.unwrap_or(start);
            json!({"userId": id_json(&m.id), "day": day(at), "date": at, "email": m.email,
                   "isActive": active.is_some(), "totalLinesAdded": if active.is_some() { 120 } else { 0 },
                   "mostUsedModel": "gpt-5", "clientVersion": "1.7.2"})
        })
        .collect();
    let total = rows.len();
    let pages = total.div_ceil(size).max(1);
    let data: Vec<Value> = rows.drain(..).skip((page - 1) * size).take(size).collect();
    Ok(Json(json!({
        "data": data,
        "period": {"startDate": start, "endDate": end},
        "pagination": {"page": page, "pageSize": size, "totalUsers": total, "totalPages": pages,
                       "hasNextPage": page < pages, "hasPreviousPage": page > 1},
    }))
    .into_response())
}

/// A time as `/teams/audit-logs` takes it: `7d` or `5h` before now, ISO 8601, `YYYY-MM-DD`, or
/// unix seconds or milliseconds. Epoch seconds.
fn audit_time(v: &str, now: i64) -> Option<i64> {
    let v = v.trim();
    if let Some(n) = v.strip_suffix('d').and_then(|n| n.parse::<i64>().ok()) {
        return Some(now - n * 86_400);
    }
    if let Some(n) = v.strip_suffix('h').and_then(|n| n.parse::<i64>().ok()) {
        return Some(now - n * 3_600);
    }
    if let Ok(n) = v.parse::<i64>() {
        return Some(if n > 100_000_000_000 { n / 1000 } else { n });
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(t.timestamp());
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// `GET /teams/audit-logs?startTime&endTime (at most 30 days apart; default the last 7 days)
/// &eventTypes (comma-separated)&users&page&pageSize (1–500, default 100)`: newest first.
async fn audit_logs(State(st): State<Shared>, headers: HeaderMap, uri: axum::http::Uri) -> Reply {
    authorize(&st, &headers)?;
    limit(&st, "audit-logs", 20)?;
    let q = super::Params::from_uri(&uri);
    let w = st.world.read().unwrap();
    let now = w.now.max(chrono::Utc::now().timestamp());
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "Bad Request", m);
    let time = |k: &str, default: i64| match q.get(k) {
        None => Ok(default),
        Some(v) => audit_time(v, now).ok_or_else(|| bad(&format!("Invalid {k}"))),
    };
    let end = time("endTime", now)?;
    let start = time("startTime", end - 7 * 86_400)?;
    if end < start || end - start > 30 * 86_400 {
        return Err(bad("Date range cannot exceed 30 days"));
    }
    let split = |k: &str| -> Vec<String> {
        q.all(k)
            .iter()
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let (types, users) = (split("eventTypes"), split("users"));
    let page = q
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let size = q
        .get("pageSize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100usize);
    if !(1..=500).contains(&size) {
        return Err(bad("pageSize must be between 1 and 500"));
    }
    let matching: Vec<&super::world::CEvent> = w
        .cursor
        .audit
        .iter()
        .rev()
        .filter(|e| (start..=end).contains(&e.at))
        .filter(|e| types.is_empty() || types.contains(&e.kind))
        .filter(|e| users.is_empty() || users.contains(&e.actor.to_lowercase()))
        .collect();
    let total = matching.len();
    let pages = total.div_ceil(size);
    let events: Vec<Value> = matching
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|e| {
            let ts = chrono::DateTime::from_timestamp(e.at, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .unwrap_or_default();
            json!({"event_id": e.id, "timestamp": ts, "ip_address": "203.0.113.42",
                   "user_email": e.actor, "event_type": e.kind, "event_data": e.data})
        })
        .collect();
    Ok(Json(json!({
        "events": events,
        "pagination": {"page": page, "pageSize": size, "totalCount": total, "totalPages": pages,
                       "hasNextPage": page < pages, "hasPreviousPage": page > 1},
        "params": {"teamId": 12345, "startDate": start * 1000, "endDate": end * 1000},
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_times_in_every_documented_form() {
        let now = 1_705_334_400; // 2024-01-15T16:00:00Z
        let t = |v| super::audit_time(v, now);
        assert_eq!(t("7d"), Some(now - 7 * 86_400));
        assert_eq!(t("5h"), Some(now - 5 * 3_600));
        assert_eq!(t("2024-01-15T12:30:00.000Z"), Some(1_705_321_800));
        assert_eq!(t("2024-01-15"), Some(1_705_276_800));
        assert_eq!(t("1705321800"), Some(1_705_321_800));
        assert_eq!(t("1705321800000"), Some(1_705_321_800));
        assert_eq!(t("yesterday"), None);
    }
}
