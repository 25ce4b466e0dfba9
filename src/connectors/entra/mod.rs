//! Microsoft Entra ID through Microsoft Graph v1.0, read-only (`directories.md`, part B):
//! people (`/users`, with their manager; and the deleted ones still restorable, from
//! `/directory/deletedItems/microsoft.graph.user`), groups and their members with nested
//! groups resolved (`/groups/{id}/transitiveMembers`, users only). A client-credentials token
//! (`connectors::oauth`), fetched again before it expires or when Graph says it has; pages by
//! `@odata.nextLink`, followed verbatim and only within the base URL; `Retry-After` on 429 and
//! 503 by the shared client; `$select` of only the fields used.
//!
//! Statuses, as recert reads them:
//! - current: `accountEnabled` true (or absent) and no `employeeLeaveDateTime` in the past;
//! - disabled (`accountEnabled: false`) or past their leave date: not current;
//! - deleted: in the deleted items (restorable for 30 days) or no longer listed at all.
//!
//! Groups are security groups: Microsoft 365 (`Unified`) groups, which any user may create by
//! default under any name, are not read, so none can pose as an admin group.
//!
//! A permission the app lacks degrades what it reads, never the sync: without
//! `User-LifeCycleInfo.Read.All` the leave date is not read (the users are read again
//! without it); without access to the deleted items, deleted people are simply absent.

use serde::Deserialize;
use serde_json::Value;

use super::directory;
use super::http::{Http, SourceError};
use super::path::ApiPath;
use crate::model::{Person, SourceData, normalize_email};

/// The scope a client-credentials token for Graph asks for.
pub const SCOPE: &str = "https://graph.microsoft.com/.default";

/// The user fields read (Graph returns only what is selected).
const USER_FIELDS: &str = "id,accountEnabled,userPrincipalName,mail,otherMails,proxyAddresses,displayName,givenName,surname,department,jobTitle,employeeType,employeeId";
/// Read only where the app may: `User-LifeCycleInfo.Read.All`.
const LEAVE_FIELD: &str = "employeeLeaveDateTime";

/// Every item of a Graph collection (`value`), following `@odata.nextLink`.
pub async fn list_all(
    http: &Http,
    path: &str,
    query: &[(&str, String)],
) -> Result<Vec<Value>, SourceError> {
    directory::follow(http, path, query, |mut body, _| {
        let next = body
            .get("@odata.nextLink")
            .and_then(Value::as_str)
            .map(str::to_string);
        match body.get_mut("value").map(Value::take) {
            Some(Value::Array(items)) => Ok((items, next)),
            None | Some(Value::Null) => Ok((Vec::new(), next)),
            Some(_) => Err("`value` is not an array".into()),
        }
    })
    .await
}

#[derive(Deserialize)]
struct WManager {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct WUser {
    id: String,
    #[serde(default, rename = "accountEnabled")]
    account_enabled: Option<bool>,
    #[serde(default, rename = "userPrincipalName")]
    upn: Option<String>,
    #[serde(default)]
    mail: Option<String>,
    #[serde(default, rename = "otherMails")]
    other_mails: Vec<String>,
    #[serde(default, rename = "proxyAddresses")]
    proxy_addresses: Vec<String>,
    #[serde(default, rename = "displayName")]
    display_name: Option<String>,
    #[serde(default, rename = "givenName")]
    given_name: Option<String>,
    #[serde(default)]
    surname: Option<String>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default, rename = "jobTitle")]
    job_title: Option<String>,
    #[serde(default, rename = "employeeId")]
    employee_id: Option<String>,
    #[serde(default, rename = "employeeType")]
    employee_type: Option<String>,
    #[serde(default, rename = "employeeLeaveDateTime")]
    leave: Option<String>,
    #[serde(default)]
    manager: Option<WManager>,
}

/// One Graph user as a person, judged at `now`: every address Graph holds for them (user
/// principal name, mail, other mails, SMTP proxy addresses without their `smtp:` prefix).
pub fn person(source: &str, v: &Value, now: i64, deleted: bool) -> Result<Person, String> {
    let u = WUser::deserialize(v).map_err(|e| e.to_string())?;
    let mut emails: Vec<String> = Vec::new();
    let proxies = u.proxy_addresses.iter().filter_map(|p| {
        let (kind, addr) = p.split_once(':')?;
        kind.eq_ignore_ascii_case("smtp").then_some(addr)
    });
    for e in u
        .upn
        .iter()
        .chain(u.mail.iter())
        .map(String::as_str)
        .chain(u.other_mails.iter().map(String::as_str))
        .chain(proxies)
    {
        let e = e.trim();
        if e.contains('@')
            && !emails
                .iter()
                .any(|x| normalize_email(x) == normalize_email(e))
        {
            emails.push(e.to_string());
        }
    }
    let left = u
        .leave
        .as_deref()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .is_some_and(|d| d.timestamp() <= now);
    let display_name =
        u.display_name
            .filter(|n| !n.trim().is_empty())
            .or(match (u.given_name, u.surname) {
                (Some(g), Some(s)) => Some(format!("{g} {s}")),
                (g, s) => g.or(s),
            });
    Ok(Person {
        source: source.to_string(),
        id: u.id,
        user_name: u.upn.unwrap_or_default(),
        emails,
        display_name,
        active: !deleted && u.account_enabled != Some(false) && !left,
        absent: false,
        external_id: u.employee_id,
        department: u.department,
        title: u.job_title,
        manager_id: u.manager.and_then(|m| m.id),
        groups: Vec::new(),
        groups_known: true,
        employee_type: u.employee_type,
    })
}

/// The users, with their managers and (where the app may read it) their leave date.
async fn users(http: &Http) -> Result<Vec<Value>, SourceError> {
    // With `$expand`, Graph serves at most 100 objects a page.
    let query = |fields: String| {
        vec![
            ("$select", fields),
            ("$expand", "manager($select=id)".to_string()),
            ("$top", "100".to_string()),
        ]
    };
    match list_all(
        http,
        "users",
        &query(format!("{USER_FIELDS},{LEAVE_FIELD}")),
    )
    .await
    {
        Err(SourceError::Auth { status: 403, .. }) => {
            tracing::warn!(
                source = %http.source,
                "Graph refused {LEAVE_FIELD} (the app lacks User-LifeCycleInfo.Read.All): leave dates are not read"
            );
            list_all(http, "users", &query(USER_FIELDS.to_string())).await
        }
        other => other,
    }
}

/// The directory at `now`: people, deleted people, groups with their (transitive) members.
pub async fn fetch(http: &Http, now: i64) -> Result<SourceData, SourceError> {
    let deleted_query = [
        ("$select", USER_FIELDS.to_string()),
        ("$top", "999".to_string()),
    ];
    let groups_query = [
        ("$select", "id,displayName,groupTypes".to_string()),
        ("$top", "999".to_string()),
    ];
    let (users, deleted, groups) = futures::join!(
        users(http),
        super::optional(list_all(
            http,
            "directory/deletedItems/microsoft.graph.user",
            &deleted_query
        )),
        list_all(http, "groups", &groups_query),
    );
    let listed = users?.into_iter().map(|u| (u, false));
    let gone = deleted?.unwrap_or_default().into_iter().map(|u| (u, true));
    let mut people = directory::people(http, "/users", listed.chain(gone), |u, deleted| {
        person(&http.source, u, now, deleted)
    })?;
    // Microsoft 365 groups are left out: by default any user may create one, with any
    // name, so one named like an admin group would stand in for it. Admin groups must be
    // security groups, which only admins create.
    let groups = groups.map(|groups| {
        let security: Vec<Value> = groups
            .into_iter()
            .filter(|g| {
                !g.get("groupTypes")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.iter().any(|x| x.as_str() == Some("Unified")))
            })
            .collect();
        directory::groups(&security, "/displayName")
    });
    let members_query = [("$select", "id".to_string()), ("$top", "999".to_string())];
    let members_query = &members_query;
    directory::memberships(http, groups, &mut people, |id| async move {
        let path = http.path(
            ApiPath::new("groups")
                .id(&id)
                .map(|p| p.lit("transitiveMembers")),
        )?;
        let members = list_all(http, &path, members_query).await?;
        // Nested groups come back too (and devices, contacts, service principals): users only.
        Ok(members
            .iter()
            .filter(|m| {
                m.get("@odata.type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "#microsoft.graph.user")
            })
            .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
            .collect())
    })
    .await?;
    Ok(SourceData {
        people,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_graph_users_with_every_address_and_status() {
        let now = 1_800_000_000;
        let p = person(
            "entra",
            &json!({"id":"59bb3898-0621-4414-ac61-74f9d7201355","accountEnabled":true,
              "userPrincipalName":"AdeleV@contoso.example","mail":"adele.vance@contoso.example",
              "otherMails":["adele@home.example"],
              "proxyAddresses":["SMTP:adele.vance@contoso.example","smtp:av@contoso.example","X500:/o=x"],
              "displayName":"Adele Vance","department":"Retail","jobTitle":"Retail Manager",
              "manager":{"@odata.type":"#microsoft.graph.user","id":"m-1"}}),
            now,
            false,
        )
        .unwrap();
        assert!(p.active);
        assert_eq!(
            p.emails,
            vec![
                "AdeleV@contoso.example",
                "adele.vance@contoso.example",
                "adele@home.example",
                "av@contoso.example"
            ]
        );
        assert_eq!(p.manager_id.as_deref(), Some("m-1"));
        assert_eq!(p.title.as_deref(), Some("Retail Manager"));
        let disabled = json!({"id":"x","accountEnabled":false,"userPrincipalName":"x@e.example"});
        assert!(!person("entra", &disabled, now, false).unwrap().active);
        let left = json!({"id":"y","accountEnabled":true,"userPrincipalName":"y@e.example",
                          "employeeLeaveDateTime":"2026-01-01T00:00:00Z"});
        assert!(
            !person("entra", &left, now, false).unwrap().active,
            "past the leave date"
        );
        let leaving = json!({"id":"z","userPrincipalName":"z@e.example",
                             "employeeLeaveDateTime":"2030-01-01T00:00:00Z"});
        assert!(
            person("entra", &leaving, now, false).unwrap().active,
            "not yet"
        );
        assert!(
            !person("entra", &leaving, now, true).unwrap().active,
            "deleted"
        );
    }
}
