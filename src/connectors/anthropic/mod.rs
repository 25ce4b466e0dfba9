//! Anthropic Admin API: users, invites, workspaces (archived ones too; the Default Workspace is
//! never listed, and keys in it have `workspace_id: null`), workspace members, API keys.
//! Keys record who made them (`created_by`) and, in newer versions, who they act as
//! (`principal`, in either documented shape); the principal wins when present.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::feed::{Prior, Window};
use super::http::{Http, SourceError};
use super::paging::{self, ANTHROPIC};
use super::path::ApiPath;
use super::wire;
use crate::model::feed::{ANALYTICS, CODE_USE, KEY_USE};
use crate::model::{Account, Credential, Grant, Invite, Owner, Provenance, Resource, SourceData};

const PROVIDER: &str = "anthropic";

#[derive(Deserialize)]
struct WUser {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    added_at: Option<i64>,
}

#[derive(Deserialize)]
struct WWorkspace {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    created_at: Option<i64>,
    #[serde(default, deserialize_with = "wire::ts")]
    archived_at: Option<i64>,
}

#[derive(Deserialize)]
struct WMember {
    #[serde(deserialize_with = "wire::id")]
    user_id: String,
    #[serde(default)]
    workspace_role: Option<String>,
}

/// `{id, type}` (created_by, and the docs-mirror principal) or the SDK's
/// `{type:"user_actor", user_id}` / `{type:"service_account_actor", service_account_id}`.
#[derive(Deserialize, Default)]
struct WActor {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "wire::opt_id")]
    id: Option<String>,
    #[serde(default, deserialize_with = "wire::opt_id")]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "wire::opt_id")]
    service_account_id: Option<String>,
}

impl WActor {
    fn owner(self) -> Option<Owner> {
        let (kind, id) = match (self.user_id, self.service_account_id, self.id) {
            (Some(u), _, _) => ("user", u),
            (None, Some(s), _) => ("service_account", s),
            (None, None, Some(id)) => match self.kind.as_deref() {
                Some("service_account") | Some("service_account_actor") => ("service_account", id),
                _ => ("user", id),
            },
            _ => return None,
        };
        Some(Owner {
            kind: kind.into(),
            id,
            email: None,
            name: None,
        })
    }
}

#[derive(Deserialize)]
struct WScope {
    #[serde(default, deserialize_with = "wire::opt_id")]
    workspace_id: Option<String>,
}

#[derive(Deserialize)]
struct WKey {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    partial_key_hint: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    created_at: Option<i64>,
    #[serde(default, deserialize_with = "wire::ts")]
    expires_at: Option<i64>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    created_by: Option<WActor>,
    #[serde(default)]
    principal: Option<WActor>,
    #[serde(default)]
    scope: Option<WScope>,
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
    invited_at: Option<i64>,
    #[serde(default, deserialize_with = "wire::ts")]
    expires_at: Option<i64>,
}

/// How far back the usage reports are read: longer than the default dormancy thresholds.
pub const ACTIVITY_DAYS: i64 = crate::model::USAGE_REPORT_DAYS;
const DAY: i64 = 86_400;

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Last use per API key id: the messages usage report grouped by `api_key_id`, daily buckets
/// over `win` (the last `ACTIVITY_DAYS`, or the days since the last read).
async fn key_usage(
    http: &Http,
    win: &Window,
) -> Result<std::collections::HashMap<String, i64>, SourceError> {
    let mut last = std::collections::HashMap::new();
    let start = win.read_from;
    let first = vec![
        ("starting_at", rfc3339(start - start.rem_euclid(DAY))),
        ("ending_at", rfc3339(win.to + DAY)),
        ("bucket_width", "1d".to_string()),
        ("group_by[]", "api_key_id".to_string()),
        ("limit", "31".to_string()),
    ];
    paging::page_tokens(
        http,
        "v1/organizations/usage_report/messages",
        first,
        |body| {
            for bucket in body
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(at) = bucket
                    .get("starting_at")
                    .and_then(Value::as_str)
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                else {
                    continue;
                };
                for r in bucket
                    .get("results")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(id) = r.get("api_key_id").and_then(Value::as_str) {
                        let e = last.entry(id.to_string()).or_insert(at.timestamp());
                        *e = (*e).max(at.timestamp());
                    }
                }
            }
        },
    )
    .await?;
    Ok(last)
}

/// Last Claude Code activity per lower-cased email: the report is one UTC day per request,
/// each day of `win` (the last `ACTIVITY_DAYS`, or the days since the last read).
async fn claude_code_activity(
    http: &Http,
    win: &Window,
) -> Result<std::collections::HashMap<String, i64>, SourceError> {
    let now = win.to;
    // Every day from the window's first (its start is a day's start) to today.
    let day_of = |t: i64| t - t.rem_euclid(DAY);
    let span = (day_of(now) - day_of(win.read_from)) / DAY + 1;
    let days: Vec<i64> = (0..span).map(|d| now - d * DAY).collect();
    let per_day: Vec<Vec<(String, i64)>> = futures::stream::iter(days)
        .map(|t| async move {
            let date = chrono::DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .format("%Y-%m-%d")
                .to_string();
            let day = t - t.rem_euclid(DAY);
            let mut seen = Vec::new();
            let first = vec![("starting_at", date), ("limit", "1000".to_string())];
            paging::page_tokens(
                http,
                "v1/organizations/usage_report/claude_code",
                first,
                |body| {
                    for row in body
                        .get("data")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(email) =
                            row.pointer("/actor/email_address").and_then(Value::as_str)
                        {
                            seen.push((email.to_lowercase(), day));
                        }
                    }
                },
            )
            .await?;
            Ok::<_, SourceError>(seen)
        })
        .buffer_unordered(http.limits.concurrency.max(1))
        .try_collect()
        .await?;
    let mut last = std::collections::HashMap::new();
    for (email, day) in per_day.into_iter().flatten() {
        let e = last.entry(email).or_insert(day);
        *e = (*e).max(day);
    }
    Ok(last)
}

/// The first day the Enterprise Analytics API has data for.
const ANALYTICS_FIRST_DAY: i64 = 1_767_225_600; // 2026-01-01

/// Each user's last active day (any product) from the Enterprise Analytics API
/// (`/v1/organizations/analytics/users`, rolled up over `win`), by user id. None when the org
/// does not report last activity (a whole window's rows all come without `last_activity_date`).
async fn analytics_activity(
    http: &Http,
    win: &Window,
) -> Result<Option<std::collections::HashMap<String, i64>>, SourceError> {
    let day = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .format("%Y-%m-%d")
            .to_string()
    };
    let first = vec![
        ("starting_date", day(win.read_from.max(ANALYTICS_FIRST_DAY))),
        ("ending_date", day(win.to + DAY)),
        ("limit", "1000".to_string()),
    ];
    let mut last = std::collections::HashMap::new();
    let (mut rows, mut dated) = (0u64, 0u64);
    paging::page_tokens(http, "v1/organizations/analytics/users", first, |body| {
        for row in body
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            rows += 1;
            let (Some(id), Some(at)) = (
                row.pointer("/user/id").and_then(Value::as_str),
                row.get("last_activity_date")
                    .and_then(Value::as_str)
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .and_then(|d| d.and_hms_opt(0, 0, 0)),
            ) else {
                continue;
            };
            dated += 1;
            let t = at.and_utc().timestamp();
            let e = last.entry(id.to_string()).or_insert(t);
            *e = (*e).max(t);
        }
    })
    .await?;
    // Rows over the whole window, none dated: last-activity reporting is off for the org, and
    // the rows say nothing. (Over the days since the last read, nobody active is no news.)
    Ok((rows == 0 || dated > 0 || win.incremental()).then_some(last))
}

/// Pull an Anthropic organisation.
pub async fn fetch(
    http: &Arc<Http>,
    page: u32,
    prior: &Prior,
    now: crate::model::Ts,
) -> Result<SourceData, SourceError> {
    let src = http.source.as_str();
    let list = |path: &'static str, params: Vec<(&'static str, String)>| async move {
        paging::list_all::<Value>(http, ANTHROPIC, path, &params, page).await
    };
    let workspaces_and_members = async {
        let workspaces: Vec<WWorkspace> = paging::list_all(
            http,
            ANTHROPIC,
            "v1/organizations/workspaces",
            &[("include_archived", "true".to_string())],
            page,
        )
        .await?;
        let members: Vec<(String, Vec<WMember>)> =
            futures::stream::iter(workspaces.iter().map(|w| w.id.clone()))
                .map(|wid| async move {
                    let path = http.path(
                        ApiPath::new("v1/organizations/workspaces")
                            .id(&wid)
                            .map(|p| p.lit("members")),
                    )?;
                    let m = paging::list_all(http, ANTHROPIC, &path, &[], page).await?;
                    Ok::<_, SourceError>((wid, m))
                })
                .buffer_unordered(http.limits.concurrency.max(1))
                .try_collect()
                .await?;
        Ok::<_, SourceError>((workspaces, members))
    };
    let (kwin, cwin, awin) = (
        Window::plan_days(prior, KEY_USE, now, ACTIVITY_DAYS),
        Window::plan_days(prior, CODE_USE, now, ACTIVITY_DAYS),
        Window::plan_days(prior, ANALYTICS, now, ACTIVITY_DAYS),
    );
    let (users, (workspaces, members), keys, invites, key_use, code_use, analytics) = futures::try_join!(
        list("v1/organizations/users", vec![]),
        workspaces_and_members,
        list("v1/organizations/api_keys", vec![]),
        list("v1/organizations/invites", vec![]),
        super::optional(key_usage(http, &kwin)),
        super::optional(claude_code_activity(http, &cwin)),
        super::optional(analytics_activity(http, &awin)),
    )?;
    // Each report's facts: what this read saw, with what the last read saw still in the window.
    let mut feeds = Vec::new();
    let mut facts = Vec::new();
    let window_start = cwin.from;
    let mut report = |win: Window,
                      seen: Option<std::collections::HashMap<String, i64>>,
                      kind: &str,
                      what: &str| {
        let Some(seen) = seen else {
            feeds.push(win.failed(
                src,
                format!("the {what} could not be read with this key (the Usage & Cost Admin API): unknown this sync"),
            ));
            return None;
        };
        feeds.push(win.read(src));
        let feed = win.feed;
        let merged = win.merge(
            seen.into_iter()
                .map(|(id, at)| Provenance {
                    source: src.to_string(),
                    subject_kind: kind.into(),
                    subject_id: id,
                    fact: "last_active".into(),
                    actor_kind: None,
                    actor_id: None,
                    actor_email: None,
                    via: None,
                    at,
                    feed: feed.into(),
                })
                .collect(),
        );
        let map: std::collections::HashMap<String, i64> = merged
            .iter()
            .map(|p| (p.subject_id.clone(), p.at))
            .collect();
        facts.extend(merged);
        Some(map)
    };
    let key_use = report(
        kwin,
        key_use,
        "api_key",
        "messages usage report (key last use)",
    );
    let code_use = report(cwin, code_use, "member", "Claude Code usage report");
    // The Analytics API needs an Enterprise key with `read:analytics`: a Console admin key is
    // refused, and the Claude Code report stands alone.
    let analytics = match analytics {
        Some(Some(seen)) => report(awin, Some(seen), "user", ""),
        Some(None) => {
            feeds.push(awin.failed(
                src,
                "the Analytics API reports no last activity: last-activity reporting is not enabled for the org (claude.ai admin settings); activity beyond Claude Code is unknown".into(),
            ));
            None
        }
        None => report(
            awin,
            None,
            "user",
            "the Analytics API could not be read: it needs a Claude Enterprise key with read:analytics (a Console admin key is refused); activity beyond Claude Code is unknown",
        ),
    };
    let bad = |path: &str, v: &Value, e: serde_json::Error| paging::malformed(http, path, &e, v);
    let s = |x: &str| x.to_string();
    let mut d = SourceData::default();
    for v in &users {
        let u = WUser::deserialize(v).map_err(|e| bad("v1/organizations/users", v, e))?;
        let code = code_use.as_ref().and_then(|m| {
            u.email
                .as_deref()
                .and_then(|e| m.get(&e.to_lowercase()))
                .copied()
        });
        let any = analytics.as_ref().and_then(|m| m.get(&u.id).copied());
        let active = code.max(any);
        d.accounts.push(Account {
            source: s(src),
            provider: s(PROVIDER),
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            added_at: u.added_at,
            last_active_at: active,
            scim_managed: None,
            activity_from: (code_use.is_some() || analytics.is_some()).then_some(window_start),
        });
    }
    for w in workspaces {
        d.resources.push(Resource {
            source: s(src),
            provider: s(PROVIDER),
            kind: s("workspace"),
            archived: w.archived_at.is_some(),
            id: w.id,
            name: w.name,
            created_at: w.created_at,
            parent: None,
        });
    }
    let mut members = members;
    members.sort_by(|a, b| a.0.cmp(&b.0));
    for (wid, ms) in members {
        for m in ms {
            d.grants.push(Grant {
                source: src.into(),
                provider: PROVIDER.into(),
                principal_kind: "user".into(),
                principal_id: m.user_id.into(),
                resource_id: wid.as_str().into(),
                role: m.workspace_role.map(Into::into),
                via: "direct".into(),
            });
        }
    }
    let listed: std::collections::HashSet<String> =
        d.resources.iter().map(|r| r.id.clone()).collect();
    for v in &keys {
        let k = WKey::deserialize(v).map_err(|e| bad("v1/organizations/api_keys", v, e))?;
        let used = key_use.as_ref().and_then(|m| m.get(&k.id).copied());
        let owner = k
            .principal
            .and_then(WActor::owner)
            .or_else(|| k.created_by.and_then(WActor::owner));
        // `scope` names the Default Workspace by a real id; `workspace_id` null means the same.
        let workspace = k
            .workspace_id
            .or_else(|| k.scope.and_then(|s| s.workspace_id));
        let workspace = workspace.filter(|w| listed.contains(w.as_str()));
        d.credentials.push(Credential {
            source: s(src),
            provider: s(PROVIDER),
            kind: s("api_key"),
            id: k.id,
            name: k.name,
            redacted: k.partial_key_hint,
            resource_id: workspace,
            owner,
            owner_access: None,
            status: k.status,
            created_at: k.created_at,
            last_used_at: used,
            expires_at: k.expires_at,
            spend_cents: None,
        });
    }
    for v in &invites {
        let i = WInvite::deserialize(v).map_err(|e| bad("v1/organizations/invites", v, e))?;
        d.invites.push(Invite {
            source: s(src),
            provider: s(PROVIDER),
            id: i.id,
            email: i.email,
            role: i.role,
            status: i.status,
            created_at: i.invited_at,
            expires_at: i.expires_at,
        });
    }
    // Keys carry only the creator's id: fill in the email from the org's users.
    let by_id: std::collections::HashMap<&str, &Account> =
        d.accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut credentials = std::mem::take(&mut d.credentials);
    for o in credentials.iter_mut().filter_map(|c| c.owner.as_mut()) {
        if let Some(a) = by_id.get(o.id.as_str()) {
            o.email = a.email.clone();
            o.name = a.name.clone();
        }
    }
    d.credentials = credentials;
    // A member's facts (Claude Code by address, Analytics by id) only while they are listed:
    // the reports say nothing of those who left, and kept facts would only grow the store.
    let listed = super::feed::listed(&d);
    facts.retain(|p| p.subject_kind == "api_key" || listed.contains(&p.subject_id));
    d.provenance = facts;
    d.feeds = feeds;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn owner(v: Value) -> Option<Owner> {
        WActor::deserialize(&v).unwrap().owner()
    }

    #[test]
    fn reads_both_principal_shapes_and_created_by() {
        let sdk = owner(json!({"type": "user_actor", "user_id": "user_01A"})).unwrap();
        assert_eq!((sdk.kind.as_str(), sdk.id.as_str()), ("user", "user_01A"));
        let sa = owner(json!({"type": "service_account_actor", "service_account_id": "svac_01B"}))
            .unwrap();
        assert_eq!(
            (sa.kind.as_str(), sa.id.as_str()),
            ("service_account", "svac_01B")
        );
        let mirror = owner(json!({"id": "svac_01C", "type": "service_account"})).unwrap();
        assert_eq!(
            (mirror.kind.as_str(), mirror.id.as_str()),
            ("service_account", "svac_01C")
        );
        let created = owner(json!({"id": "user_01D", "type": "user"})).unwrap();
        assert_eq!(created.id, "user_01D");
        assert!(owner(json!({"type": "user"})).is_none());
    }

    #[test]
    fn default_workspace_keys_and_rfc3339_times() {
        let k = WKey::deserialize(&json!({
            "id": "apikey_01", "created_at": "2024-10-30T23:58:27.427722Z", "created_by": null,
            "expires_at": null, "name": "k", "partial_key_hint": "sk-ant-api03-R2D...igAA",
            "status": "active", "type": "api_key", "workspace_id": null, "new_field": 1}))
        .unwrap();
        assert_eq!(k.created_at, Some(1730332707));
        assert!(k.workspace_id.is_none() && k.created_by.is_none());
    }
}
