//! Okta's management API, read-only (`../shared/reference/directories.md`, part A): people
//! (`/api/v1/users`, and the deactivated ones a bare list omits), groups and their members,
//! and for each AI platform's app its users, its groups and its provisioning pushes in the
//! System Log. An API token (`Authorization: SSWS …`) or an API Services app's
//! `private_key_jwt` token (`connectors::oauth`); pages by `Link: <…>; rel="next"`, followed
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

/// The scopes an API Services app asks for: read-only, what recert reads.
pub const SCOPES: &str = "okta.users.read okta.groups.read okta.apps.read okta.logs.read";

/// Every item of a list that pages by `Link` headers (a JSON array a page).
pub async fn list_all(
    http: &Http,
    path: &str,
    query: &[(&str, String)],
) -> Result<Vec<Value>, SourceError> {
    list_with(http, path, query, Some).await
}

/// What `keep` makes of each item of such a list, page by page (a long list is never held
/// whole: only what `keep` returns).
pub async fn list_with(
    http: &Http,
    path: &str,
    query: &[(&str, String)],
    keep: impl Fn(Value) -> Option<Value>,
) -> Result<Vec<Value>, SourceError> {
    directory::follow(http, path, query, |body, next| match body {
        Value::Array(items) => Ok((items.into_iter().filter_map(&keep).collect(), next)),
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
    /// Okta's only last-activity signal; null when the person never signed in.
    #[serde(default, rename = "lastLogin")]
    last_login: Option<String>,
    #[serde(default)]
    created: Option<String>,
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

/// A leave date as an Okta profile attribute may hold it: an RFC 3339 date-time or a
/// `YYYY-MM-DD` date (midnight UTC).
fn leave_date(v: &Value) -> Option<i64> {
    let s = v.as_str()?.trim();
    directory::seconds(Some(s)).or_else(|| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp())
    })
}

/// One Okta User as a person: every address Okta holds for them (login, email, second email),
/// the login first; when Okta made them and their last sign-in (`lastLogin`); and their leave
/// date from the profile attribute `leave` names, where one is configured. Okta's status is
/// the authority on whether they are here: a passed leave date on someone still `ACTIVE` (a
/// stale attribute, a rehire) is `upcoming-leaver`'s to say, not a leaver made.
pub fn person(source: &str, v: &Value, leave: Option<&str>) -> Result<Person, String> {
    let u = WUser::deserialize(v).map_err(|e| e.to_string())?;
    let leave_at = leave
        .and_then(|attr| v.get("profile")?.get(attr))
        .and_then(leave_date);
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
        signals: crate::model::Signals {
            sign_in_known: true,
            last_sign_in: directory::seconds(u.last_login.as_deref()),
            leave_at,
            created_at: directory::seconds(u.created.as_deref()),
        },
    })
}

/// The directory: every user (the deactivated ones asked for apart, as a bare list omits
/// them), every group and its members (a few groups at a time), and for each configured app
/// who is assigned it and the provisioning outcomes of the window.
pub async fn fetch(
    http: &Http,
    page_size: u32,
    reading: &directory::Reading,
) -> Result<SourceData, SourceError> {
    // The apps are read beside the people (each its own chain of pages), and judged once
    // both are in.
    let apps = futures::future::join_all(
        reading
            .apps
            .iter()
            .map(|(app_source, app_id)| read_app(http, app_source, app_id, reading)),
    );
    let people = async {
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
        let leave = reading.leave_attribute.as_deref();
        let mut people = directory::people(http, "/api/v1/users", all, |u, ()| {
            person(&http.source, u, leave)
        })?;
        let groups = groups.map(|g| directory::groups(&g, "/profile/name"));
        let group_names: HashMap<String, String> = groups
            .as_ref()
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default();
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
        Ok::<_, SourceError>((people, group_names))
    };
    let (people, raws) = futures::join!(people, apps);
    let (mut people, group_names) = people?;
    let reads: Vec<directory::AppRead> = raws
        .into_iter()
        .map(|raw| judge_app(raw, &mut people, &group_names))
        .collect();
    let (apps, app_access) = directory::app_data(&http.source, reads);
    Ok(SourceData {
        people,
        apps,
        app_access,
        ..Default::default()
    })
}

/// An Okta System Log event type as a push recert judges: `deprovision` (the user's
/// deactivation or removal pushed to the app) or `provision` (a push that gives access).
pub fn push_kind(event_type: &str) -> Option<&'static str> {
    match event_type {
        "application.provision.user.deactivate"
        | "application.provision.user.deprovision"
        | "application.provision.user.delete" => Some("deprovision"),
        "application.provision.user.push" | "application.provision.user.reactivate" => {
            Some("provision")
        }
        _ => None,
    }
}

/// The System Log events recert reads for an app: its users' provisioning pushes.
const PUSH_EVENTS: &str = "application.provision.user.";

/// One app as Okta answered: the app itself, its users (only what is used of each), its
/// assigned groups, and its provisioning events; `None` for a part that could not be read.
struct RawApp {
    app_source: String,
    id: String,
    this: Option<Value>,
    users: Option<Vec<Value>>,
    groups: Option<Vec<Value>>,
    events: Option<Vec<Value>>,
}

/// One app's reading: the app (an id Okta does not know leaves the app unknown whole, its
/// other parts not asked for), its users (`scope`, `status`, `credentials.userName`, page by
/// page), its groups, and the System Log's provisioning pushes of the window (a bounded
/// query, `since` within Okta's 90 days, filtered to the app and to provisioning events). A
/// part that cannot be read is unknown, said in the log, never the sync failed.
async fn read_app(
    http: &Http,
    app_source: &str,
    app_id: &str,
    reading: &directory::Reading,
) -> RawApp {
    let base = ApiPath::new("api/v1/apps").id(app_id);
    let what = |part: &str| format!("app '{app_id}' ({app_source}): {part}");
    let mut raw = RawApp {
        app_source: app_source.to_string(),
        id: app_id.to_string(),
        this: None,
        users: None,
        groups: None,
        events: None,
    };
    raw.this = directory::part(http, what("the app"), async {
        http.get(&http.path(base.clone())?, &[]).await
    })
    .await;
    if raw.this.is_none() {
        return raw;
    }
    let since = reading.since().max(reading.now - 90 * 86_400);
    let okta_time = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S.000Z")
            .to_string()
    };
    let log_query = [
        ("since", okta_time(since)),
        ("until", okta_time(reading.now)),
        (
            "filter",
            format!("target.id eq \"{app_id}\" and eventType sw \"{PUSH_EVENTS}\""),
        ),
        ("limit", "1000".to_string()),
    ];
    let (users, groups, events) = futures::join!(
        directory::part(http, what("its users"), async {
            let path = http.path(base.clone().map(|p| p.lit("users")))?;
            list_with(http, &path, &[("limit", "500".to_string())], |u| {
                Some(serde_json::json!({
                    "id": u.get("id")?.as_str()?,
                    "status": u.get("status"),
                    "scope": u.get("scope"),
                    "userName": u.pointer("/credentials/userName"),
                }))
            })
            .await
        }),
        directory::part(http, what("its groups"), async {
            let path = http.path(base.clone().map(|p| p.lit("groups")))?;
            list_all(http, &path, &[("limit", "200".to_string())]).await
        }),
        directory::part(
            http,
            what("its provisioning outcomes (System Log)"),
            list_with(http, "api/v1/logs", &log_query, |e| {
                push_kind(e.get("eventType")?.as_str()?)?;
                Some(e)
            })
        ),
    );
    RawApp {
        users,
        groups,
        events,
        ..raw
    }
}

/// What an app's reading says of the people: who is assigned (`scope` USER directly, GROUP
/// through the app's groups, named by the person's memberships; `credentials.userName` one
/// more address of theirs) and each one's pushes (targets matched on id, their types being
/// unverified).
fn judge_app(
    raw: RawApp,
    people: &mut [Person],
    group_names: &HashMap<String, String>,
) -> directory::AppRead {
    let name = raw
        .this
        .as_ref()
        .and_then(|a| a.get("label").or_else(|| a.get("name")))
        .and_then(Value::as_str)
        .map(directory::shorten);
    let assigned_groups: Option<HashSet<String>> = raw.groups.map(|g| {
        g.iter()
            .filter_map(|x| x.get("id").and_then(Value::as_str))
            .filter_map(|id| group_names.get(id).cloned())
            .collect()
    });
    let index: HashMap<String, usize> = people
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.clone(), i))
        .collect();
    let assigned = raw.users.map(|users| {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for u in &users {
            let Some(id) = u.get("id").and_then(Value::as_str) else {
                continue;
            };
            let status = u.get("status").and_then(Value::as_str).unwrap_or("");
            if matches!(status, "DEPROVISIONED" | "REVOKED" | "UNASSIGNED") {
                continue;
            }
            let person = index.get(id).map(|&i| &mut people[i]);
            let via = match u.get("scope").and_then(Value::as_str) {
                Some("GROUP") => {
                    let names: Vec<String> = person
                        .as_ref()
                        .map(|p| p.groups.as_slice())
                        .unwrap_or_default()
                        .iter()
                        .filter(|g| assigned_groups.as_ref().is_some_and(|a| a.contains(*g)))
                        .cloned()
                        .collect();
                    if names.is_empty() {
                        vec!["a group".to_string()]
                    } else {
                        names
                    }
                }
                _ => vec!["direct".to_string()],
            };
            // Their name at the platform is an address of theirs (`directories.md` D).
            if let (Some(p), Some(name)) = (person, u.get("userName").and_then(Value::as_str)) {
                let name = name.trim();
                if name.contains('@')
                    && !p
                        .emails
                        .iter()
                        .any(|e| normalize_email(e) == normalize_email(name))
                {
                    p.emails.push(name.to_string());
                }
            }
            out.entry(id.to_string()).or_default().extend(via);
        }
        out
    });
    let pushes = raw.events.map(|events| {
        events
            .iter()
            .filter_map(|e| {
                let event = e.get("eventType")?.as_str()?;
                let kind = push_kind(event)?;
                let person = e
                    .get("target")?
                    .as_array()?
                    .iter()
                    .filter_map(|t| t.get("id")?.as_str())
                    .find(|id| index.contains_key(*id))?;
                let outcome = e.get("outcome");
                let text = |k: &str| {
                    outcome
                        .and_then(|o| o.get(k))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                };
                let detail = match text("reason") {
                    "" => event.to_string(),
                    r => format!("{event}: {r}"),
                };
                let (at, order) = directory::instant(e.get("published")?.as_str())?;
                Some(directory::Push {
                    person_id: person.to_string(),
                    kind,
                    result: text("result").to_ascii_lowercase(),
                    at,
                    order,
                    detail: crate::model::text::sanitize(&directory::shorten(&detail)).into_owned(),
                })
            })
            .collect()
    });
    directory::AppRead {
        app_source: raw.app_source,
        id: raw.id,
        name,
        assigned,
        open: false,
        pushes,
    }
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
            None,
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
            None,
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
            let p = person(
                "okta",
                &json!({"id":"x","status":status,"profile":{}}),
                None,
            )
            .unwrap();
            assert_eq!(p.active, active, "{status}");
        }
        assert!(
            person("okta", &json!({"status":"ACTIVE"}), None).is_err(),
            "no id"
        );
    }
}
