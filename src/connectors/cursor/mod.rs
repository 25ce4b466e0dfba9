//! Cursor Admin API: `/teams/members` (one unpaginated list; ids are numbers in older
//! responses and `user_...` strings in newer ones; removed members are skipped whether they
//! are omitted or flagged `isRemoved`). Basic auth with the key as user name. Cursor sends no
//! `Retry-After` on 429: the shared client backs off exponentially.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::http::{Http, SourceError};
use super::wire;
use crate::model::{Account, SourceData};

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

/// The last active day (epoch ms) per user id and per lower-cased email, from
/// `/teams/daily-usage-data` over the last `ACTIVITY_DAYS`, in windows of at most 30 days.
async fn last_activity(http: &Http, now_ms: i64) -> Result<HashMap<String, i64>, SourceError> {
    let mut last: HashMap<String, i64> = HashMap::new();
    let mut end = now_ms;
    let start_all = now_ms - ACTIVITY_DAYS * DAY_MS;
    while end > start_all {
        let start = (end - 30 * DAY_MS).max(start_all);
        let mut page = 1u32;
        loop {
            if page > http.limits.max_pages {
                return Err(SourceError::Pagination {
                    src: http.source.clone(),
                    path: "/teams/daily-usage-data".into(),
                    detail: "never reached its end".into(),
                    pages: page - 1,
                });
            }
            let body = json!({"startDate": start, "endDate": end, "page": page, "pageSize": 500});
            let reply = http
                .send(
                    Method::POST,
                    "teams/daily-usage-data",
                    &[],
                    Some(("application/json", body)),
                )
                .await?;
            let usage = WUsage::deserialize(&reply.body).map_err(|e| SourceError::Malformed {
                src: http.source.clone(),
                method: "POST".into(),
                path: "/teams/daily-usage-data".into(),
                detail: http.scrub(&format!("unexpected shape ({e})")),
                excerpt: http.excerpt(&reply.body),
            })?;
            for row in usage.data.iter().filter(|r| r.is_active == Some(true)) {
                // `date` is epoch ms (a number or a numeric string).
                let Some(ms) = row.date else { continue };
                for k in [
                    row.user_id.clone(),
                    row.email.as_deref().map(str::to_lowercase),
                ]
                .into_iter()
                .flatten()
                {
                    let e = last.entry(k).or_insert(ms);
                    *e = (*e).max(ms);
                }
            }
            if usage.pagination.has_next_page != Some(true) || usage.data.is_empty() {
                break;
            }
            page += 1;
        }
        end = start;
    }
    Ok(last)
}

/// Pull a Cursor team.
pub async fn fetch(http: &Arc<Http>) -> Result<SourceData, SourceError> {
    let body = http.get("teams/members", &[]).await?;
    let list = WMembers::deserialize(&body).map_err(|e| SourceError::Malformed {
        src: http.source.clone(),
        method: "GET".into(),
        path: "/teams/members".into(),
        detail: http.scrub(&format!("unexpected shape ({e})")),
        excerpt: http.excerpt(&body),
    })?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let activity = last_activity(http, now_ms).await?;
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
            .get(&id)
            .or_else(|| {
                m.email
                    .as_deref()
                    .and_then(|e| activity.get(&e.to_lowercase()))
            })
            .map(|ms| ms / 1000);
        d.accounts.push(Account {
            source: http.source.clone(),
            provider: "cursor".into(),
            id,
            email: m.email,
            name: m.name,
            role: m.role,
            added_at: None,
            last_active_at: seen,
            scim_managed: None,
            activity_from: Some(now_ms / 1000 - ACTIVITY_DAYS * 86_400),
        });
    }
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
