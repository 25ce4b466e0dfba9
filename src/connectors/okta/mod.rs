//! Okta's management API, read-only (`../shared/reference/directories.md`, part A): people
//! (`/api/v1/users`, and the deactivated ones a bare list omits), groups and their members.
//! An API token (`Authorization: SSWS …`); pages by `Link: <…>; rel="next"`, followed
//! verbatim and only within the org's base URL; `X-Rate-Limit-*` honoured by the shared client
//! (a spent window holds requests until it resets; a 429 waits for the reset, never blind).
//!
//! Statuses, as recert reads them (Okta's own meanings in the reference, A.3):
//! - current (`active`): `ACTIVE`, `PASSWORD_EXPIRED`, `LOCKED_OUT`, `RECOVERY`, `PROVISIONED`,
//!   `STAGED`, and any status Okta adds later: the person is still employed, so access they
//!   hold is judged as an employee's;
//! - suspended (`SUSPENDED`): cannot sign in; not current, so what they hold is a gap;
//! - deprovisioned (`DEPROVISIONED`): deactivated, a leaver;
//! - deleted: no longer listed at all (recert marks a person it saw before as absent).
//!
//! Okta does not nest groups (its directory imports flatten them), so a group's member list is
//! already complete.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::directory;
use super::http::{Http, SourceError};
use super::path::ApiPath;
use crate::model::{Person, SourceData, normalize_email};

/// Every item of a list that pages by `Link` headers (a JSON array a page).
pub async fn list_all(
    http: &Http,
    path: &str,
    query: &[(&str, String)],
) -> Result<Vec<Value>, SourceError> {
    directory::follow(http, path, query, |body, next| match body {
        Value::Array(items) => Ok((items, next)),
        Value::Null => Ok((Vec::new(), next)),
        _ => Err("expected a JSON array".into()),
    })
    .await
}

#[derive(Deserialize, Default)]
struct WProfile {
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, rename = "secondEmail")]
    second_email: Option<String>,
    #[serde(default, rename = "firstName")]
    first_name: Option<String>,
    #[serde(default, rename = "lastName")]
    last_name: Option<String>,
    #[serde(default, rename = "displayName")]
    display_name: Option<String>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default, rename = "managerId")]
    manager_id: Option<String>,
    #[serde(default, rename = "employeeNumber")]
    employee_number: Option<String>,
    /// "organization-to-user relationship, such as employee or contractor".
    #[serde(default, rename = "userType")]
    user_type: Option<String>,
}

#[derive(Deserialize)]
struct WUser {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    profile: WProfile,
}

/// Whether an Okta status is a current person's (see the module docs).
pub fn current(status: &str) -> bool {
    !matches!(
        status.to_ascii_uppercase().as_str(),
        "SUSPENDED" | "DEPROVISIONED"
    )
}

/// One Okta User as a person: every address Okta holds for them (login, email, second email),
/// the login first.
pub fn person(source: &str, v: &Value) -> Result<Person, String> {
    let u = WUser::deserialize(v).map_err(|e| e.to_string())?;
    let p = u.profile;
    let mut emails: Vec<String> = Vec::new();
    for e in [&p.login, &p.email, &p.second_email].into_iter().flatten() {
        let e = e.trim();
        if e.contains('@')
            && !emails
                .iter()
                .any(|x| normalize_email(x) == normalize_email(e))
        {
            emails.push(e.to_string());
        }
    }
    let display_name =
        p.display_name
            .filter(|n| !n.trim().is_empty())
            .or(match (p.first_name, p.last_name) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (f, l) => f.or(l),
            });
    Ok(Person {
        source: source.to_string(),
        id: u.id,
        user_name: p.login.unwrap_or_default(),
        emails,
        display_name,
        active: u.status.as_deref().is_none_or(current),
        absent: false,
        external_id: p.employee_number,
        department: p.department,
        title: p.title,
        manager_id: p.manager_id,
        groups: Vec::new(),
        groups_known: true,
        employee_type: p.user_type,
    })
}

/// The directory: every user (the deactivated ones asked for apart, as a bare list omits
/// them), every group and its members (a few groups at a time).
pub async fn fetch(http: &Http, page_size: u32) -> Result<SourceData, SourceError> {
    let limit = page_size.clamp(1, 200).to_string();
    let listed = [("limit", limit.clone())];
    let gone = [
        ("filter", "status eq \"DEPROVISIONED\"".to_string()),
        ("limit", limit.clone()),
    ];
    let (users, deprovisioned, groups) = futures::join!(
        list_all(http, "api/v1/users", &listed),
        list_all(http, "api/v1/users", &gone),
        list_all(http, "api/v1/groups", &listed),
    );
    let all = users?.into_iter().chain(deprovisioned?).map(|u| (u, ()));
    let mut people =
        directory::people(http, "/api/v1/users", all, |u, ()| person(&http.source, u))?;
    let groups = groups.map(|g| directory::groups(&g, "/profile/name"));
    let limit = &limit;
    directory::memberships(http, groups, &mut people, |id| async move {
        let path = http.path(
            ApiPath::new("api/v1/groups")
                .id(&id)
                .map(|p| p.lit("users")),
        )?;
        let users = list_all(http, &path, &[("limit", limit.clone())]).await?;
        Ok(users
            .iter()
            .filter_map(|u| u.get("id").and_then(Value::as_str).map(str::to_string))
            .collect())
    })
    .await?;
    // `managerId` is free text from HR: an Okta id, else a login or email of someone here.
    let by_address: HashMap<String, String> = people
        .iter()
        .flat_map(|p| {
            p.emails
                .iter()
                .map(move |e| (normalize_email(e), p.id.clone()))
        })
        .collect();
    let ids: HashSet<String> = people.iter().map(|p| p.id.clone()).collect();
    for p in &mut people {
        if let Some(m) = &p.manager_id
            && !ids.contains(m)
            && let Some(id) = by_address.get(&normalize_email(m))
        {
            p.manager_id = Some(id.clone());
        }
    }
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
    fn reads_the_reference_user_and_odd_shapes() {
        // The reference's example (A.3), trimmed.
        let p = person(
            "okta",
            &json!({"id":"00u1xke1apZnmHgpB1d7","status":"ACTIVE",
              "profile":{"firstName":"Ben","lastName":"Richler","secondEmail":null,
                "login":"ben.richler@example.com","email":"ben.richler@example.com",
                "department":"Engineering","title":"Staff Engineer","userType":"Employee",
                "employeeNumber":"1001","manager":"Janice Benson","managerId":"00u269cmneNMFHCH51d7"},
              "credentials":{"password":{},"provider":{"type":"OKTA","name":"OKTA"}},
              "_links":{"self":{"href":"https://example.okta.com/api/v1/users/00u1xke1apZnmHgpB1d7"}}}),
        )
        .unwrap();
        assert_eq!(p.id, "00u1xke1apZnmHgpB1d7");
        assert!(p.active);
        assert_eq!(p.emails, vec!["ben.richler@example.com"]);
        assert_eq!(p.display_name.as_deref(), Some("Ben Richler"));
        assert_eq!(p.department.as_deref(), Some("Engineering"));
        assert_eq!(p.title.as_deref(), Some("Staff Engineer"));
        assert_eq!(p.manager_id.as_deref(), Some("00u269cmneNMFHCH51d7"));
        // A login that differs from the email, a second email, an unknown status.
        let q = person(
            "okta",
            &json!({"id":"00u2","status":"ACTIVATING",
              "profile":{"login":"dana@corp.example","email":"Dana.Lee@example.com",
                "secondEmail":"dana@home.example"}}),
        )
        .unwrap();
        assert!(q.active, "an unknown status is a current person's");
        assert_eq!(
            q.emails,
            vec![
                "dana@corp.example",
                "Dana.Lee@example.com",
                "dana@home.example"
            ]
        );
        for (status, active) in [
            ("SUSPENDED", false),
            ("DEPROVISIONED", false),
            ("LOCKED_OUT", true),
            ("PASSWORD_EXPIRED", true),
            ("RECOVERY", true),
            ("STAGED", true),
        ] {
            let p = person("okta", &json!({"id":"x","status":status,"profile":{}})).unwrap();
            assert_eq!(p.active, active, "{status}");
        }
        assert!(
            person("okta", &json!({"status":"ACTIVE"})).is_err(),
            "no id"
        );
    }
}
