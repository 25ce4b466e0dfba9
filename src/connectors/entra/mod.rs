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
const USER_FIELDS: &str = "id,accountEnabled,userPrincipalName,mail,otherMails,proxyAddresses,displayName,givenName,surname,department,jobTitle,employeeType,employeeId,createdDateTime";
/// Read only where the app may: `User-LifeCycleInfo.Read.All`.
const LEAVE_FIELD: &str = "employeeLeaveDateTime";
/// Read only where the tenant and app may: an Entra ID P1/P2 licence and `AuditLog.Read.All`.
const SIGN_IN_FIELD: &str = "signInActivity";

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
struct WSignIns {
    /// Any successful sign-in (recorded from December 2023): failed attempts do not count.
    #[serde(default, rename = "lastSuccessfulSignInDateTime")]
    last_success: Option<String>,
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
    #[serde(default, rename = "signInActivity")]
    sign_ins: Option<WSignIns>,
    #[serde(default, rename = "createdDateTime")]
    created: Option<String>,
}

/// One Graph user as a person, judged at `now`: every address Graph holds for them (user
/// principal name, mail, other mails, SMTP proxy addresses without their `smtp:` prefix); their
/// leave date; and, when `sign_ins` (the tenant reports them), their last successful sign-in
/// (absent: none on record).
pub fn person(
    source: &str,
    v: &Value,
    now: i64,
    deleted: bool,
    sign_ins: bool,
) -> Result<Person, String> {
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
    let leave_at = directory::seconds(u.leave.as_deref());
    let left = leave_at.is_some_and(|t| t <= now);
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
        signals: crate::model::Signals {
            sign_in_known: sign_ins,
            last_sign_in: u
                .sign_ins
                .and_then(|s| directory::seconds(s.last_success.as_deref())),
            leave_at,
            created_at: directory::seconds(u.created.as_deref()),
        },
    })
}

/// The users, with their managers and, where the tenant and app may read them, their leave
/// date and sign-ins; and whether sign-ins were read. A refusal (403) drops the optional
/// fields one at a time: without a P1/P2 licence Graph refuses the whole list when
/// `signInActivity` is selected; without `User-LifeCycleInfo.Read.All`, the leave date.
async fn users(http: &Http) -> Result<(Vec<Value>, bool), SourceError> {
    // With `$expand`, Graph serves at most 100 objects a page.
    let query = |fields: String| {
        vec![
            ("$select", fields),
            ("$expand", "manager($select=id)".to_string()),
            ("$top", "100".to_string()),
        ]
    };
    let tries = [(true, true), (false, true), (true, false), (false, false)];
    let mut refused = None;
    for (sign_ins, leave) in tries {
        let mut fields = USER_FIELDS.to_string();
        if leave {
            fields = format!("{fields},{LEAVE_FIELD}");
        }
        if sign_ins {
            fields = format!("{fields},{SIGN_IN_FIELD}");
        }
        match list_all(http, "users", &query(fields)).await {
            Err(e @ SourceError::Auth { status: 403, .. }) => refused = Some(e),
            Err(e) => return Err(e),
            Ok(users) => {
                if !sign_ins {
                    tracing::warn!(
                        source = %http.source,
                        "Graph refused {SIGN_IN_FIELD} (it needs an Entra ID P1/P2 licence and AuditLog.Read.All): last sign-ins are unknown, and dormant-sign-in makes no judgement"
                    );
                }
                if !leave {
                    tracing::warn!(
                        source = %http.source,
                        "Graph refused {LEAVE_FIELD} (the app lacks User-LifeCycleInfo.Read.All): leave dates are not read"
                    );
                }
                return Ok((users, sign_ins));
            }
        }
    }
    Err(refused.expect("four refusals"))
}

/// The directory at `reading.now`: people, deleted people, groups with their (transitive)
/// members, and for each configured app who is assigned it and its provisioning outcomes.
pub async fn fetch(http: &Http, reading: &directory::Reading) -> Result<SourceData, SourceError> {
    // The apps are read beside the people: nothing of theirs waits on the other.
    let apps = futures::future::join_all(
        reading
            .apps
            .iter()
            .map(|(app_source, sp)| app(http, app_source, sp, reading)),
    );
    let people = async {
        let now = reading.now;
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
        let (users, sign_ins) = users?;
        let listed = users.into_iter().map(|u| (u, false));
        let gone = deleted?.unwrap_or_default().into_iter().map(|u| (u, true));
        let mut people = directory::people(http, "/users", listed.chain(gone), |u, deleted| {
            person(&http.source, u, now, deleted, sign_ins && !deleted)
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
            Ok(user_ids(&members))
        })
        .await?;
        Ok::<_, SourceError>(people)
    };
    let (people, reads) = futures::join!(people, apps);
    let people = people?;
    let (apps, app_access) = directory::app_data(&http.source, reads);
    Ok(SourceData {
        people,
        apps,
        app_access,
        ..Default::default()
    })
}

/// The users among directory objects (nested groups, devices, contacts and service
/// principals come back too).
fn user_ids(members: &[Value]) -> Vec<String> {
    members
        .iter()
        .filter(|m| {
            m.get("@odata.type")
                .and_then(Value::as_str)
                .is_none_or(|t| t == "#microsoft.graph.user")
        })
        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// A Graph `provisioningAction` as a push recert judges.
pub fn push_kind(action: &str) -> Option<&'static str> {
    match action {
        "delete" | "disable" | "stagedDelete" => Some("deprovision"),
        "create" => Some("provision"),
        _ => None,
    }
}

/// One enterprise app (its service principal `sp`): its name and whether assignment is
/// required (`appRoleAssignmentRequired: false` lets anyone in the tenant sign in, so its
/// assignments are no boundary); who is assigned, directly or through a group (the group's
/// direct members, as Graph counts them); and its provisioning outcomes of the window (users'
/// only). A service principal Graph does not know (often the application's client id given
/// for the object id) is unknown whole; any part that cannot be read is unknown, said in the
/// log, never the sync failed.
async fn app(
    http: &Http,
    app_source: &str,
    sp: &str,
    reading: &directory::Reading,
) -> directory::AppRead {
    let base = ApiPath::new("servicePrincipals").id(sp);
    let what = |part: &str| format!("enterprise app '{sp}' ({app_source}): {part}");
    let unknown = directory::AppRead {
        app_source: app_source.to_string(),
        id: sp.to_string(),
        name: None,
        assigned: None,
        open: false,
        pushes: None,
    };
    let this = directory::part(
        http,
        what("the service principal (give its object id, not the application's client id)"),
        async {
            http.get(
                &http.path(base.clone())?,
                &[(
                    "$select",
                    "id,appId,displayName,appRoleAssignmentRequired,accountEnabled".to_string(),
                )],
            )
            .await
        },
    )
    .await;
    let Some(this) = this else {
        return unknown;
    };
    let name = this
        .get("displayName")
        .and_then(Value::as_str)
        .map(directory::shorten);
    // Unknown whether assignment is required: no boundary to judge against.
    let open = this
        .get("appRoleAssignmentRequired")
        .and_then(Value::as_bool)
        != Some(true);
    let since = chrono::DateTime::from_timestamp(reading.since(), 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let logs_query = [
        (
            "$filter",
            format!(
                "servicePrincipal/id eq '{}' and activityDateTime gt {since}",
                sp.replace('\'', "''")
            ),
        ),
        ("$top", "999".to_string()),
    ];
    let (assignments, logs) = futures::join!(
        directory::part(http, what("its assignments"), async {
            let path = http.path(base.clone().map(|p| p.lit("appRoleAssignedTo")))?;
            list_all(http, &path, &[("$top", "999".to_string())]).await
        }),
        directory::part(
            http,
            what("its provisioning outcomes"),
            list_all(http, "auditLogs/provisioning", &logs_query)
        ),
    );
    let assigned = match assignments {
        None => None,
        Some(rows) => {
            let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
            let members_query = [("$select", "id".to_string()), ("$top", "999".to_string())];
            let mut unreadable = false;
            for r in &rows {
                if r.get("deletedDateTime").is_some_and(|d| !d.is_null()) {
                    continue;
                }
                let Some(id) = r.get("principalId").and_then(Value::as_str) else {
                    continue;
                };
                match r.get("principalType").and_then(Value::as_str) {
                    Some("User") => out.entry(id.to_string()).or_default().push("direct".into()),
                    Some("Group") => {
                        let group = directory::shorten(
                            r.get("principalDisplayName")
                                .and_then(Value::as_str)
                                .unwrap_or(id),
                        );
                        let members = directory::part(
                            http,
                            what(&format!(
                                "the members of its group '{}'",
                                crate::model::text::sanitize(&group)
                            )),
                            async {
                                let path = http.path(
                                    ApiPath::new("groups").id(id).map(|p| p.lit("members")),
                                )?;
                                list_all(http, &path, &members_query).await
                            },
                        )
                        .await;
                        match members {
                            Some(members) => {
                                for m in user_ids(&members) {
                                    out.entry(m).or_default().push(group.clone());
                                }
                            }
                            None => unreadable = true,
                        }
                    }
                    _ => {}
                }
            }
            // A group whose members could not be read: who the app reaches is unknown.
            (!unreadable).then_some(out)
        }
    };
    let pushes = logs.map(|entries| {
        entries
            .iter()
            .filter_map(|e| {
                let action = e.get("provisioningAction")?.as_str()?;
                let kind = push_kind(action)?;
                let status = e.pointer("/provisioningStatusInfo/status")?.as_str()?;
                // A group's provisioning is not a person's.
                let identity = e
                    .pointer("/sourceIdentity/identityType")
                    .and_then(Value::as_str);
                if identity.is_some_and(|t| !t.eq_ignore_ascii_case("user")) {
                    return None;
                }
                let person = e.pointer("/sourceIdentity/id")?.as_str()?;
                let why = [
                    "/provisioningStatusInfo/errorInformation/errorCode",
                    "/provisioningStatusInfo/errorInformation/reason",
                ]
                .iter()
                .filter_map(|p| e.pointer(p).and_then(Value::as_str))
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
                let detail = if why.is_empty() {
                    action.to_string()
                } else {
                    format!("{action}: {why}")
                };
                let (at, order) = directory::instant(e.get("activityDateTime")?.as_str())?;
                Some(directory::Push {
                    person_id: person.to_string(),
                    kind,
                    result: status.to_ascii_lowercase(),
                    at,
                    order,
                    detail: crate::model::text::sanitize(&directory::shorten(&detail)).into_owned(),
                })
            })
            .collect()
    });
    directory::AppRead {
        name,
        assigned,
        open,
        pushes,
        ..unknown
    }
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
        assert!(
            !person("entra", &disabled, now, false, false)
                .unwrap()
                .active
        );
        let left = json!({"id":"y","accountEnabled":true,"userPrincipalName":"y@e.example",
                          "employeeLeaveDateTime":"2026-01-01T00:00:00Z"});
        assert!(
            !person("entra", &left, now, false, false).unwrap().active,
            "past the leave date"
        );
        let leaving = json!({"id":"z","userPrincipalName":"z@e.example",
                             "employeeLeaveDateTime":"2030-01-01T00:00:00Z"});
        assert!(
            person("entra", &leaving, now, false, false).unwrap().active,
            "not yet"
        );
        assert!(
            !person("entra", &leaving, now, true, false).unwrap().active,
            "deleted"
        );
    }
}
