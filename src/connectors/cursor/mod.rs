//! Cursor Admin API: `/teams/members` (one unpaginated list; ids are numbers in older
//! responses and `user_...` strings in newer ones; removed members are skipped whether they
//! are omitted or flagged `isRemoved`). Basic auth with the key as user name. Cursor sends no
//! `Retry-After` on 429: the shared client backs off exponentially. Last activity comes from
//! `/teams/daily-usage-data`; when and how each member joined (by SCIM or by hand) from the
//! `add_user` events of `/teams/audit-logs`, both over the last `ACTIVITY_DAYS`, kept as
//! facts (each member's last active day, each join) so a later sync reads only the days since
//! (`connectors::feed`).

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::feed::{Prior, Window};
use super::http::{Http, SourceError};
use super::wire;
use crate::model::feed::{JOINS, USAGE};
use crate::model::{Account, Provenance, SourceData};

#[derive(Deserialize)]
struct WMember {
    #[serde(default, deserialize_with = "wire::opt_id")]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, rename = "isRemoved", deserialize_with = "wire::flag")]
    is_removed: Option<bool>,
}

#[derive(Deserialize)]
struct WMembers {
    #[serde(rename = "teamMembers")]
    team_members: Vec<WMember>,
}

/// How far back daily usage is read: longer than the default `dormant-account` threshold.
pub const ACTIVITY_DAYS: i64 = 90;
const DAY_MS: i64 = 86_400_000;

#[derive(Deserialize)]
struct WUsageRow {
    #[serde(default, rename = "userId", deserialize_with = "wire::opt_id")]
    user_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    date: Option<i64>,
    #[serde(default, rename = "isActive", deserialize_with = "wire::flag")]
    is_active: Option<bool>,
}

#[derive(Deserialize, Default)]
struct WPagination {
    #[serde(default, rename = "hasNextPage", deserialize_with = "wire::flag")]
    has_next_page: Option<bool>,
}

#[derive(Deserialize)]
struct WUsage {
    #[serde(default)]
    data: Vec<WUsageRow>,
    #[serde(default)]
    pagination: WPagination,
}

/// One page's request: its query and its JSON body, if any.
type PageRequest = (Vec<(&'static str, String)>, Option<serde_json::Value>);

/// Walk a paginated Cursor report (`page` from 1, `pagination.hasNextPage`) over `win` (the
/// last `ACTIVITY_DAYS`, or since the last read) in windows of at most 30 days, newest first,
/// handing each page to `each`.
/// `request(start_ms, end_ms, page)` says what to send for one page.
async fn windows<T: serde::de::DeserializeOwned + Paged>(
    http: &Http,
    method: Method,
    path: &str,
    win: &Window,
    request: impl Fn(i64, i64, u32) -> PageRequest,
    mut each: impl FnMut(T),
) -> Result<(), SourceError> {
    let mut end = win.to * 1000;
    let start_all = win.read_from * 1000;
    while end > start_all {
        let start = (end - 30 * DAY_MS).max(start_all);
        let mut page = 1u32;
        loop {
            if page > http.limits.max_pages {
                return Err(SourceError::Pagination {
                    src: http.source.clone(),
                    path: crate::connectors::http::shown(path),
                    detail: "never reached its end".into(),
                    pages: page - 1,
                });
            }
            let (query, body) = request(start, end, page);
            let body = body.map(|b| ("application/json", b));
            let reply = http.send(method.clone(), path, &query, body).await?;
            let got = T::deserialize(&reply.body).map_err(|e| SourceError::Malformed {
                src: http.source.clone(),
                method: method.to_string(),
                path: crate::connectors::http::shown(path),
                detail: http.scrub(&format!("unexpected shape ({e})")),
                excerpt: http.excerpt(&reply.body),
            })?;
            let more = got.more();
            each(got);
            if !more {
                break;
            }
            page += 1;
        }
        end = start;
    }
    Ok(())
}

/// A page of a Cursor report: whether another follows.
trait Paged {
    fn more(&self) -> bool;
}

impl Paged for WUsage {
    fn more(&self) -> bool {
        self.pagination.has_next_page == Some(true) && !self.data.is_empty()
    }
}

impl Paged for WEvents {
    fn more(&self) -> bool {
        self.pagination.has_next_page == Some(true) && !self.events.is_empty()
    }
}

/// The last active day (epoch ms) per user id (per lower-cased email where a row has no id), from
/// `/teams/daily-usage-data` over `win`.
async fn last_activity(http: &Http, win: &Window) -> Result<HashMap<String, i64>, SourceError> {
    let mut last: HashMap<String, i64> = HashMap::new();
    let request = |start: i64, end: i64, page: u32| {
        let body = json!({"startDate": start, "endDate": end, "page": page, "pageSize": 500});
        (Vec::new(), Some(body))
    };
    windows(
        http,
        Method::POST,
        "teams/daily-usage-data",
        win,
        request,
        |usage: WUsage| {
            for row in usage.data.iter().filter(|r| r.is_active == Some(true)) {
                // `date` is epoch ms (a number or a numeric string).
                let Some(ms) = row.date else { continue };
                // One fact per member: by id, else (the oldest responses) by email.
                let Some(k) = row
                    .user_id
                    .clone()
                    .or_else(|| row.email.as_deref().map(str::to_lowercase))
                else {
                    continue;
                };
                let e = last.entry(k).or_insert(ms);
                *e = (*e).max(ms);
            }
        },
    )
    .await?;
    Ok(last)
}

/// An audit log event (`/teams/audit-logs`): `user_email` is who acted; `event_data.email`,
/// for member events, whom it was done to.
#[derive(Deserialize)]
struct WEvent {
    #[serde(default, deserialize_with = "wire::ts")]
    timestamp: Option<i64>,
    #[serde(default)]
    event_type: Option<String>,
    #[serde(default)]
    event_data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WEvents {
    #[serde(default)]
    events: Vec<WEvent>,
    #[serde(default)]
    pagination: WPagination,
}

/// How a member joined, from the audit log's latest `add_user` for them.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Joined {
    /// Epoch seconds.
    at: i64,
    /// Added by SCIM (`method: "scim"`), not by hand or invitation.
    scim: bool,
}

/// When and how each member (by lower-cased email) joined, from the `add_user` events of the
/// audit log over `win`. Members who joined earlier are not in it.
async fn joined(http: &Http, win: &Window) -> Result<HashMap<String, Joined>, SourceError> {
    let mut out: HashMap<String, Joined> = HashMap::new();
    let iso = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default()
    };
    let request = |start: i64, end: i64, page: u32| {
        let query = vec![
            ("startTime", iso(start)),
            ("endTime", iso(end)),
            ("eventTypes", "add_user".to_string()),
            ("page", page.to_string()),
            ("pageSize", "500".to_string()),
        ];
        (query, None)
    };
    windows(
        http,
        Method::GET,
        "teams/audit-logs",
        win,
        request,
        |page: WEvents| {
            for e in page.events {
                if e.event_type.as_deref() != Some("add_user") {
                    continue;
                }
                let data = e.event_data.unwrap_or_default();
                let (Some(email), Some(at)) =
                    (data.get("email").and_then(|v| v.as_str()), e.timestamp)
                else {
                    continue;
                };
                // A numeric timestamp may be in milliseconds.
                let at = if at > 100_000_000_000 { at / 1000 } else { at };
                let scim = data.get("method").and_then(|v| v.as_str()) == Some("scim");
                let j = Joined { at, scim };
                out.entry(email.to_lowercase())
                    .and_modify(|x| {
                        if at > x.at {
                            *x = j;
                        }
                    })
                    .or_insert(j);
            }
        },
    )
    .await?;
    Ok(out)
}

/// Pull a Cursor team.
pub async fn fetch(
    http: &Arc<Http>,
    prior: &Prior,
    now: crate::model::Ts,
) -> Result<SourceData, SourceError> {
    let body = http.get("teams/members", &[]).await?;
    let list = WMembers::deserialize(&body).map_err(|e| SourceError::Malformed {
        src: http.source.clone(),
        method: "GET".into(),
        path: "/teams/members".into(),
        detail: http.scrub(&format!("unexpected shape ({e})")),
        excerpt: http.excerpt(&body),
    })?;
    let (uwin, jwin) = (
        Window::plan_days(prior, USAGE, now, ACTIVITY_DAYS),
        Window::plan(prior, JOINS, now, ACTIVITY_DAYS),
    );
    // The usage report and the audit log have their own per-minute limits: read side by side.
    // A key without audit access still reads the rest.
    let (activity, joined) = futures::try_join!(
        last_activity(http, &uwin),
        super::optional(joined(http, &jwin)),
    )?;
    let src = http.source.as_str();
    let fact = |feed: &str, id: String, fact: &str, at: i64, via: Option<&str>| Provenance {
        source: src.to_string(),
        subject_kind: "member".into(),
        subject_id: id,
        fact: fact.into(),
        actor_kind: None,
        actor_id: None,
        actor_email: None,
        via: via.map(str::to_string),
        at,
        feed: feed.into(),
    };
    // What this read saw, with what the last read saw that is still in the window.
    let mut feeds = vec![uwin.read(src)];
    let activity_from = uwin.from;
    let mut facts = uwin.merge(
        activity
            .into_iter()
            .map(|(k, ms)| fact(USAGE, k, "last_active", ms / 1000, None))
            .collect(),
    );
    match joined {
        Some(j) => {
            feeds.push(jwin.read(src));
            facts.extend(jwin.merge(
                j.into_iter()
                    .map(|(email, j)| {
                        let via = if j.scim { "scim" } else { "manual" };
                        fact(JOINS, email, "joined", j.at, Some(via))
                    })
                    .collect(),
            ));
        }
        None => feeds.push(jwin.failed(
            src,
            "the audit log could not be read with this key: when and how members joined is unknown".into(),
        )),
    }
    let of = |feed: &str, f: &str| -> HashMap<&str, &Provenance> {
        facts
            .iter()
            .filter(|p| p.feed == feed && p.fact == f)
            .map(|p| (p.subject_id.as_str(), p))
            .collect()
    };
    let (activity, joined) = (of(USAGE, "last_active"), of(JOINS, "joined"));
    let mut d = SourceData::default();
    for m in list.team_members {
        if m.is_removed == Some(true) {
            continue;
        }
        // The oldest responses have no id: the email is the only key.
        let Some(id) = m.id.clone().or_else(|| m.email.clone()) else {
            continue;
        };
        let seen = activity
            .get(id.as_str())
            .or_else(|| {
                m.email
                    .as_deref()
                    .and_then(|e| activity.get(e.to_lowercase().as_str()))
            })
            .map(|p| p.at);
        let join = m
            .email
            .as_deref()
            .and_then(|e| joined.get(e.to_lowercase().as_str()));
        d.accounts.push(Account {
            source: http.source.clone(),
            provider: "cursor".into(),
            id,
            email: m.email,
            name: m.name,
            role: m.role,
            added_at: join.map(|j| j.at),
            last_active_at: seen,
            scim_managed: join.map(|j| j.via.as_deref() == Some("scim")),
            activity_from: Some(activity_from),
        });
    }
    // Facts of members no longer listed say nothing a review needs, and a whole read of the
    // reports does not list them: kept from an earlier read, they would only grow the store.
    let listed = super::feed::listed(&d);
    facts.retain(|p| listed.contains(&p.subject_id));
    d.provenance = facts;
    d.feeds = feeds;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_and_string_ids_and_removed_members() {
        let l = WMembers::deserialize(&json!({"teamMembers": [
            {"id": 12345, "name": "A", "email": "a@x", "role": "member", "isRemoved": false},
            {"id": "user_PDS", "name": "B", "email": "b@x", "role": "free-owner"},
            {"name": "C", "email": "c@x", "role": "owner"}
        ]}))
        .unwrap();
        assert_eq!(l.team_members[0].id.as_deref(), Some("12345"));
        assert_eq!(l.team_members[1].id.as_deref(), Some("user_PDS"));
        assert!(l.team_members[2].id.is_none());
    }

    #[test]
    fn audit_events_in_the_documented_shape() {
        let page = WEvents::deserialize(&json!({
            "events": [
                { "event_id": "evt_abc123", "timestamp": "2024-01-15T12:30:00.000Z", "ip_address": "203.0.113.42",
                  "user_email": "admin@company.com", "event_type": "add_user",
                  "event_data": { "email": "dev@company.com", "method": "manual" } },
                { "event_id": "evt_2", "timestamp": 1705321800000i64, "event_type": "login" }
            ],
            "pagination": { "page": 1, "pageSize": 100, "totalCount": 2, "totalPages": 1, "hasNextPage": false, "hasPreviousPage": false },
            "params": { "teamId": 12345, "startDate": 1704729600000i64, "endDate": 1705334400000i64 }
        }))
        .unwrap();
        assert_eq!(page.events[0].timestamp, Some(1_705_321_800));
        assert_eq!(page.events[0].event_type.as_deref(), Some("add_user"));
        assert_eq!(
            page.events[0].event_data.as_ref().unwrap()["method"],
            "manual"
        );
        assert_eq!(page.events[1].timestamp, Some(1_705_321_800_000));
        assert!(!page.more());
    }

    #[test]
    fn usage_rows_with_numeric_or_string_dates_and_ids() {
        let u = WUsage::deserialize(&json!({"data": [
            {"userId": 12345, "day": "2024-03-18", "date": 1710720000000i64, "email": "a@x", "isActive": true},
            {"userId": "user_A", "date": "1710720000000", "email": "b@x", "isActive": false, "extra": 1}
        ], "pagination": {"hasNextPage": false}}))
        .unwrap();
        assert_eq!(u.data[0].user_id.as_deref(), Some("12345"));
        assert_eq!(u.data[1].date, Some(1_710_720_000_000));
        assert_eq!(u.data[1].is_active, Some(false));
    }
}
