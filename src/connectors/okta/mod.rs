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

use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;

use super::http::{Http, SourceError};
use super::path::ApiPath;
use crate::model::{Person, SourceData, normalize_email};

/// Every item of a list that pages by `Link` headers, with the same guards as every other
/// list: a next page that repeats, or no end within `max_pages`, is an error.
pub async fn list_all(
    http: &Http,
    path: &str,
    query: &[(&str, String)],
) -> Result<Vec<Value>, SourceError> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    let mut seen = HashSet::new();
    let pagination = |detail: String, pages| SourceError::Pagination {
        src: http.source.clone(),
        path: format!("/{path}"),
        detail,
        pages,
    };
    for pages in 0.. {
        if pages >= http.limits.max_pages {
            return Err(pagination("never reached its end".into(), pages));
        }
        let (body, more) = http.get_linked(path, query, next.as_deref()).await?;
        match body {
            Value::Array(items) => out.extend(items),
            Value::Null => {}
            other => {
                return Err(SourceError::Malformed {
                    src: http.source.clone(),
                    method: "GET".into(),
                    path: format!("/{path}"),
                    detail: "expected a JSON array".into(),
                    excerpt: http.excerpt(&other),
                });
            }
        }
        match more {
            None => return Ok(out),
            Some(url) => {
                if !seen.insert(url.clone()) {
                    return Err(pagination(
                        format!("repeated its next page '{}'", http.scrub(&url)),
                        pages + 1,
                    ));
                }
                next = Some(url);
            }
        }
    }
    Ok(out)
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
    let mut people: Vec<Person> = Vec::new();
    let mut seen = HashSet::new();
    for u in users?.into_iter().chain(deprovisioned?) {
        let p = person(&http.source, &u).map_err(|detail| SourceError::Malformed {
            src: http.source.clone(),
            method: "GET".into(),
            path: "/api/v1/users".into(),
            detail: http.scrub(&format!("a user is unreadable ({detail})")),
            excerpt: http.excerpt(&u),
        })?;
        if seen.insert(p.id.clone()) {
            people.push(p);
        }
    }
    let groups: Vec<(String, String)> = groups?
        .iter()
        .filter_map(|g| {
            let id = g.get("id")?.as_str()?.to_string();
            let name = g
                .pointer("/profile/name")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_string();
            Some((id, name))
        })
        .collect();
    let limit = &limit;
    let mut members = futures::stream::iter(groups.iter().map(|(id, name)| async move {
        let path = http.path(ApiPath::new("api/v1/groups").id(id).map(|p| p.lit("users")))?;
        let users = list_all(http, &path, &[("limit", limit.clone())]).await?;
        Ok::<_, SourceError>((name.clone(), users))
    }))
    .buffer_unordered(http.limits.concurrency.clamp(1, 8));
    let mut member_of: HashMap<String, Vec<String>> = HashMap::new();
    while let Some(group) = members.next().await {
        let (name, users) = group?;
        for u in users {
            if let Some(id) = u.get("id").and_then(Value::as_str) {
                member_of
                    .entry(id.to_string())
                    .or_default()
                    .push(name.clone());
            }
        }
    }
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
        if let Some(g) = member_of.remove(&p.id) {
            p.groups = g;
            p.groups.sort();
            p.groups.dedup();
        }
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
