//! SCIM 2.0 directory (RFC 7643/7644): users with the enterprise extension, groups, index and
//! cursor pagination that advances by what actually arrived, and deactivation by PATCH.
//! Written to survive real servers: missing `totalResults`, silent page caps, a server that
//! ignores `startIndex`, string or integer error `status`, HTML error pages, 204 or 200 on PATCH.

use std::collections::{HashMap, HashSet};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Http, SourceError};
use super::wire;
use crate::model::{Person, SourceData, normalize_email};

pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SCIM_JSON: &str = "application/scim+json";

/// Every resource at `endpoint` (`Users`, `Groups`, any resource type alike), de-duplicated by
/// `id`. Paged by `count` and `startIndex` (or the server's cursor); a server that refuses the
/// paging parameters (a 400 or a server error on them) or ignores `startIndex` is asked once
/// more for the whole list without them, and what it answers stands if it is whole.
pub async fn list_all(
    http: &Http,
    endpoint: &str,
    filter: Option<&str>,
    count: u32,
) -> Result<Vec<Value>, SourceError> {
    match list_paged(http, endpoint, filter, count).await {
        Ok(v) => Ok(v),
        Err(e) if paging_refused(&e) => {
            tracing::warn!(source = %http.source, error = %e, "/{endpoint} refused or ignored paging; asking for the whole list in one request");
            match list_unpaged(http, endpoint, filter).await {
                Ok(Some(v)) => Ok(v),
                // Not whole, or failing too: the first answer says what went wrong.
                Ok(None) | Err(_) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Whether an error is a server's way of refusing parameters it does not support: a 400, a
/// 501 or a 500 (after retries), or a page that ignored `startIndex`.
fn paging_refused(e: &SourceError) -> bool {
    match e {
        SourceError::Rejected { status, .. } => matches!(status, 400 | 422 | 501),
        SourceError::Transient { status, .. } => matches!(status, 500 | 501),
        SourceError::Pagination { detail, .. } => detail.contains("startIndex"),
        _ => false,
    }
}

/// The whole list without paging parameters, when the answer is whole (no `totalResults`
/// beyond what came, no cursor to follow); a server that then serves only its default page
/// size is asked once more for `count` = its total, still without `startIndex`.
async fn list_unpaged(
    http: &Http,
    endpoint: &str,
    filter: Option<&str>,
) -> Result<Option<Vec<Value>>, SourceError> {
    let mut count: Option<u64> = None;
    for _ in 0..2 {
        let mut q: Vec<(&str, String)> = filter
            .map(|f| ("filter", f.to_string()))
            .into_iter()
            .collect();
        if let Some(n) = count {
            q.push(("count", n.to_string()));
        }
        let page = http.get(endpoint, &q).await?;
        let resources = match page.get("Resources") {
            Some(Value::Array(a)) => a.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Ok(None),
        };
        if page
            .get("nextCursor")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty())
        {
            return Ok(None);
        }
        match page.get("totalResults").and_then(Value::as_u64) {
            Some(total) if total > resources.len() as u64 => {
                if count.is_some() || total > u64::from(http.limits.max_pages) * 1000 {
                    return Ok(None);
                }
                count = Some(total);
                continue;
            }
            _ => {}
        }
        let mut seen: HashSet<String> = HashSet::new();
        return Ok(Some(
            resources
                .into_iter()
                .filter(|r| match r.get("id") {
                    Some(Value::String(s)) => seen.insert(s.clone()),
                    Some(Value::Number(n)) => seen.insert(n.to_string()),
                    _ => false,
                })
                .collect(),
        ));
    }
    Ok(None)
}

async fn list_paged(
    http: &Http,
    endpoint: &str,
    filter: Option<&str>,
    count: u32,
) -> Result<Vec<Value>, SourceError> {
    let mut out = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut start: u64 = 1;
    let mut cursor: Option<String> = None;
    let mut cursors = HashSet::new();
    let mut pages = 0u32;
    let pagination = |detail: &str, pages| SourceError::Pagination {
        src: http.source.clone(),
        path: format!("/{endpoint}"),
        detail: detail.to_string(),
        pages,
    };
    loop {
        if pages >= http.limits.max_pages {
            return Err(pagination("never reached its end", pages));
        }
        let mut q: Vec<(&str, String)> = vec![("count", count.to_string())];
        match &cursor {
            Some(c) => q.push(("cursor", c.clone())),
            None => q.push(("startIndex", start.to_string())),
        }
        if let Some(f) = filter {
            q.push(("filter", f.to_string()));
        }
        let page = if pages > 0 {
            http.get_next_page(endpoint, &q).await?
        } else {
            http.get(endpoint, &q).await?
        };
        pages += 1;
        let resources = match page.get("Resources") {
            Some(Value::Array(a)) => a.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                return Err(SourceError::Malformed {
                    src: http.source.clone(),
                    method: "GET".into(),
                    path: format!("/{endpoint}"),
                    detail: "`Resources` is not an array".into(),
                    excerpt: http.excerpt(&page),
                });
            }
        };
        if resources.is_empty() {
            return Ok(out);
        }
        let got = resources.len() as u64;
        let mut fresh = 0;
        for r in resources {
            let id = match r.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            if seen.insert(id) {
                fresh += 1;
                out.push(r);
            }
        }
        if fresh == 0 {
            return Err(pagination(
                "served a page holding only resources it had already sent (the server ignores startIndex?)",
                pages,
            ));
        }
        // A server may force cursor pagination; follow nextCursor whenever it appears.
        if let Some(next) = page
            .get("nextCursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
        {
            if !cursors.insert(next.to_string()) {
                return Err(pagination(&format!("repeated the cursor '{next}'"), pages));
            }
            cursor = Some(next.to_string());
            continue;
        }
        if cursor.is_some() {
            return Ok(out);
        }
        start += got;
        if page
            .get("totalResults")
            .and_then(Value::as_u64)
            .is_some_and(|total| start > total)
        {
            return Ok(out);
        }
    }
}

#[derive(Deserialize, Default)]
struct WEmail {
    #[serde(default)]
    value: Option<String>,
    #[serde(default, deserialize_with = "wire::flag")]
    primary: Option<bool>,
}

#[derive(Deserialize, Default)]
struct WName {
    #[serde(default)]
    formatted: Option<String>,
    #[serde(default, rename = "givenName")]
    given: Option<String>,
    #[serde(default, rename = "familyName")]
    family: Option<String>,
}

#[derive(Deserialize)]
struct WUser {
    #[serde(deserialize_with = "wire::id")]
    id: String,
    #[serde(default, rename = "userName")]
    user_name: Option<String>,
    #[serde(default, rename = "externalId")]
    external_id: Option<String>,
    #[serde(default, rename = "displayName")]
    display_name: Option<String>,
    #[serde(default)]
    name: Option<WName>,
    #[serde(default, deserialize_with = "wire::flag")]
    active: Option<bool>,
    #[serde(default)]
    emails: Vec<WEmail>,
    #[serde(default, deserialize_with = "wire::opt_id")]
    title: Option<String>,
    #[serde(default, rename = "userType", deserialize_with = "wire::opt_id")]
    user_type: Option<String>,
    #[serde(
        default,
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )]
    enterprise: Option<Value>,
}

/// Turn one SCIM User into a person. `active` absent means active (RFC 7643 gives no default;
/// every server seen here omits it only for active users).
pub fn person(source: &str, v: &Value) -> Result<Person, String> {
    let u = WUser::deserialize(v).map_err(|e| e.to_string())?;
    let mut emails: Vec<(bool, String)> = u
        .emails
        .iter()
        .filter_map(|e| {
            e.value
                .as_ref()
                .map(|v| (e.primary.unwrap_or(false), v.trim().to_string()))
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    emails.sort_by_key(|(p, _)| !p);
    let mut emails: Vec<String> = emails.into_iter().map(|(_, v)| v).collect();
    let user_name = u.user_name.clone().unwrap_or_default();
    if user_name.contains('@')
        && !emails
            .iter()
            .any(|e| normalize_email(e) == normalize_email(&user_name))
    {
        emails.push(user_name.clone());
    }
    let name = u.name.unwrap_or_default();
    let display_name =
        u.display_name
            .or(name.formatted)
            .or_else(|| match (name.given, name.family) {
                (Some(g), Some(f)) => Some(format!("{g} {f}")),
                (g, f) => g.or(f),
            });
    let ent = u.enterprise.unwrap_or(Value::Null);
    let manager_id = match ent.get("manager") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(m) => m.get("value").and_then(Value::as_str).map(str::to_string),
        None => None,
    };
    Ok(Person {
        source: source.to_string(),
        id: u.id,
        user_name,
        emails,
        display_name,
        active: u.active.unwrap_or(true),
        absent: false,
        external_id: u.external_id,
        department: ent
            .get("department")
            .and_then(Value::as_str)
            .map(str::to_string),
        title: u.title,
        manager_id,
        groups: Vec::new(),
        groups_known: true,
        employee_type: u.user_type,
        signals: Default::default(),
    })
}

/// Pull the directory: users, and group memberships from `/Groups` (servers rarely fill
/// `User.groups`). A directory whose groups cannot be read (no Groups endpoint, a refusal, a
/// list that breaks) is read without them, each person's groups marked unknown.
pub async fn fetch(http: &Http, count: u32) -> Result<SourceData, SourceError> {
    let (users, groups) = futures::join!(
        list_all(http, "Users", None, count),
        list_all(http, "Groups", None, count)
    );
    // Groups that cannot be read (no Groups endpoint, a refusal, a broken list) leave the
    // people readable, their groups unknown.
    let (groups, groups_known) = match groups {
        Ok(g) => (g, true),
        Err(e) => {
            tracing::warn!(source = %http.source, error = %e, "the directory's groups could not be read; people are read without them");
            (Vec::new(), false)
        }
    };
    let mut member_of: HashMap<String, Vec<String>> = HashMap::new();
    for g in &groups {
        let name = g
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for m in g
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = m.get("value").and_then(Value::as_str) {
                member_of
                    .entry(id.to_string())
                    .or_default()
                    .push(name.clone());
            }
        }
    }
    let mut people = Vec::new();
    for u in users? {
        let mut p = person(&http.source, &u).map_err(|detail| SourceError::Malformed {
            src: http.source.clone(),
            method: "GET".into(),
            path: "/Users".into(),
            detail: http.scrub(&format!("a User is unreadable ({detail})")),
            excerpt: http.excerpt(&u),
        })?;
        if let Some(g) = member_of.get(&p.id) {
            p.groups = g.clone();
            p.groups.sort();
        }
        p.groups_known = groups_known;
        people.push(p);
    }
    Ok(SourceData {
        people,
        ..Default::default()
    })
}

/// Find a user by `userName`, checking each result really is that user (some servers ignore
/// `filter` and return everyone).
pub async fn find_by_user_name(
    http: &Http,
    user_name: &str,
) -> Result<Option<Person>, SourceError> {
    let escaped = user_name.replace('\\', "\\\\").replace('"', "\\\"");
    let found = match list_all(
        http,
        "Users",
        Some(&format!("userName eq \"{escaped}\"")),
        10,
    )
    .await
    {
        Ok(found) => found,
        // A server that refuses `filter`: every user, matched here.
        Err(e) if paging_refused(&e) => {
            tracing::warn!(source = %http.source, error = %e, "/Users refused the filter; reading every user to find one");
            list_all(http, "Users", None, 1000).await?
        }
        Err(e) => return Err(e),
    };
    let wanted = normalize_email(user_name);
    let mut matches = found
        .iter()
        .filter_map(|v| person(&http.source, v).ok())
        .filter(|p| normalize_email(&p.user_name) == wanted);
    Ok(matches.next())
}

/// Deactivate a user: the RFC form of PATCH `active=false`. Accepts 200 with the resource or
/// 204 with none.
pub async fn deactivate(http: &Http, id: &str) -> Result<(), SourceError> {
    let body = json!({
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": false}],
    });
    let path = http.path(super::path::ApiPath::new("Users").id(id))?;
    let reply = http
        .send(Method::PATCH, &path, &[], Some((SCIM_JSON, body)))
        .await?;
    // 204 carries no body; a 200 must not show the user still active.
    let still_active = reply.body.get("active").and_then(Value::as_bool) == Some(true);
    if reply.status.as_u16() == 200 && still_active {
        {
            return Err(SourceError::Malformed {
                src: http.source.clone(),
                method: "PATCH".into(),
                path: crate::connectors::http::shown(&path),
                detail: "the server answered 200 but the user is still active".into(),
                excerpt: http.excerpt(&reply.body),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_core_enterprise_and_odd_shapes() {
        let p = person(
            "dir",
            &json!({"id": 7, "userName": "Alice@Example.com", "active": "False",
                    "emails": [{"value": "alice@other.example"}, {"value": "alice@example.com", "primary": true}],
                    "name": {"givenName": "Alice", "familyName": "Smith"},
                    ENTERPRISE: {"department": "Eng", "manager": {"value": "m1"}}}),
        )
        .unwrap();
        assert_eq!(p.id, "7");
        assert!(!p.active);
        assert_eq!(p.emails, vec!["alice@example.com", "alice@other.example"]);
        assert_eq!(p.display_name.as_deref(), Some("Alice Smith"));
        assert_eq!(
            (p.department.as_deref(), p.manager_id.as_deref()),
            (Some("Eng"), Some("m1"))
        );
        let bare = person("dir", &json!({"id": "x", "userName": "bob@example.com"})).unwrap();
        assert!(bare.active);
        assert_eq!(bare.emails, vec!["bob@example.com"]);
    }
}
