//! What every directory API connector (Okta, Entra) does the same way once its wire format is
//! read: people from user objects (a user that cannot be read fails the source, naming where;
//! the first of each id kept), each group's members fetched a few groups at a time, and each
//! person's group names.

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use serde_json::Value;

use super::http::{Http, SourceError};
use crate::model::{AppAccess, IdpApp, Person, Ts};

/// Every item of a list whose pages name the next one by an absolute URL (Okta's `Link`
/// header, Graph's `@odata.nextLink`), followed verbatim and only within the base URL, with
/// the guards of every list: a next page that repeats, or no end within `max_pages`, is an
/// error. `split` turns a page (its body and its `Link: rel="next"`) into its items and the
/// next page's URL.
pub async fn follow(
    http: &Http,
    path: &str,
    query: &[(&str, String)],
    split: impl Fn(Value, Option<String>) -> Result<(Vec<Value>, Option<String>), String>,
) -> Result<Vec<Value>, SourceError> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    let mut seen = HashSet::new();
    let pagination = |detail: String, pages| SourceError::Pagination {
        src: http.source.clone(),
        path: super::http::shown(path),
        detail,
        pages,
    };
    for pages in 0.. {
        if pages >= http.limits.max_pages {
            return Err(pagination("never reached its end".into(), pages));
        }
        let (body, link) = http.get_linked(path, query, next.as_deref()).await?;
        let excerpt = http.excerpt(&body);
        let (items, more) = split(body, link).map_err(|detail| SourceError::Malformed {
            src: http.source.clone(),
            method: "GET".into(),
            path: super::http::shown(path),
            detail,
            excerpt,
        })?;
        out.extend(items);
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

/// People from `users` (each with what `read` needs besides the object), the first of each id.
pub fn people<X>(
    http: &Http,
    path: &str,
    users: impl IntoIterator<Item = (Value, X)>,
    read: impl Fn(&Value, X) -> Result<Person, String>,
) -> Result<Vec<Person>, SourceError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (u, x) in users {
        let p = read(&u, x).map_err(|detail| SourceError::Malformed {
            src: http.source.clone(),
            method: "GET".into(),
            path: path.to_string(),
            detail: http.scrub(&format!("a user is unreadable ({detail})")),
            excerpt: http.excerpt(&u),
        })?;
        if seen.insert(p.id.clone()) {
            out.push(p);
        }
    }
    Ok(out)
}

/// `(id, name)` of each group object, the name at `name` (a JSON pointer), else the id.
pub fn groups(list: &[Value], name: &str) -> Vec<(String, String)> {
    list.iter()
        .filter_map(|g| {
            let id = g.get("id")?.as_str()?.to_string();
            let name = g
                .pointer(name)
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_string();
            Some((id, name))
        })
        .collect()
}

/// Each group's member ids from `members` (a few groups at a time, as the source's
/// concurrency allows), written into each person's group names (sorted, once each). Groups
/// that cannot be read (the list, or any group's members) leave everyone's groups unknown,
/// not the source failed: the people are still read.
pub async fn memberships<F, Fut>(
    http: &Http,
    groups: Result<Vec<(String, String)>, SourceError>,
    people: &mut [Person],
    members: F,
) -> Result<(), SourceError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<String>, SourceError>>,
{
    let read = match groups {
        Ok(groups) => member_names(http, &groups, members).await,
        Err(e) => Err(e),
    };
    match read {
        Ok(mut member_of) => {
            for p in people {
                if let Some(g) = member_of.remove(&p.id) {
                    p.groups = g;
                    p.groups.sort();
                    p.groups.dedup();
                }
            }
        }
        Err(e) => {
            tracing::warn!(source = %http.source, error = %e, "the directory's groups could not be read; people are read without them");
            for p in people {
                p.groups.clear();
                p.groups_known = false;
            }
        }
    }
    Ok(())
}

async fn member_names<F, Fut>(
    http: &Http,
    groups: &[(String, String)],
    members: F,
) -> Result<HashMap<String, Vec<String>>, SourceError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<String>, SourceError>>,
{
    let mut each = futures::stream::iter(groups.iter().map(|(id, name)| {
        let fetched = members(id.clone());
        async move { Ok::<_, SourceError>((name.clone(), fetched.await?)) }
    }))
    .buffer_unordered(http.limits.concurrency.clamp(1, 8));
    let mut member_of: HashMap<String, Vec<String>> = HashMap::new();
    while let Some(group) = each.next().await {
        let (name, ids) = group?;
        for id in ids {
            member_of.entry(id).or_default().push(name.clone());
        }
    }
    Ok(member_of)
}

/// What a directory source reads besides its people, from its config: the AI platforms' apps
/// (provider source → app id), how many days of provisioning outcomes, and (Okta) the profile
/// attribute holding a leave date; `now` is the sync's present.
#[derive(Clone, Debug, Default)]
pub struct Reading {
    pub apps: std::collections::BTreeMap<String, String>,
    pub provisioning_days: u32,
    pub leave_attribute: Option<String>,
    pub now: Ts,
}

impl Reading {
    pub fn of(src: &crate::config::SourceConfig, now: Ts) -> Reading {
        Reading {
            apps: src.apps.clone(),
            provisioning_days: src.provisioning_days.unwrap_or(30),
            leave_attribute: src.leave_attribute.clone(),
            now,
        }
    }

    /// The start of the provisioning window.
    pub fn since(&self) -> Ts {
        self.now - i64::from(self.provisioning_days) * 86_400
    }
}

/// One provisioning push the identity provider recorded, already classified.
#[derive(Clone, Debug)]
pub struct Push {
    pub person_id: String,
    /// `deprovision` or `provision` (other events are not kept).
    pub kind: &'static str,
    /// Lower case: `success`, `failure`, `skipped`...
    pub result: String,
    pub at: Ts,
    /// Its time in milliseconds: which of two pushes in one second came last.
    pub order: i64,
    pub detail: String,
}

/// One app as read: its name, who it is assigned to (person id → how: `direct` or group
/// names; `None` when the assignments could not be read), whether anyone may use it, and its
/// pushes (`None` when the provisioning outcomes could not be read).
pub struct AppRead {
    pub app_source: String,
    pub id: String,
    pub name: Option<String>,
    pub assigned: Option<HashMap<String, Vec<String>>>,
    pub open: bool,
    pub pushes: Option<Vec<Push>>,
}

/// The apps and each person's standing with them: assigned or not, and the last push (the
/// latest by time to the millisecond, whatever order the directory listed them in; of two at
/// one instant, the later listed).
pub fn app_data(source: &str, reads: Vec<AppRead>) -> (Vec<IdpApp>, Vec<AppAccess>) {
    let mut apps = Vec::new();
    let mut access = Vec::new();
    for r in reads {
        apps.push(IdpApp {
            source: source.to_string(),
            app_source: r.app_source.clone(),
            id: r.id,
            name: r.name,
            assignments_known: r.assigned.is_some(),
            open: r.open,
            pushes_known: r.pushes.is_some(),
        });
        let mut rows: std::collections::BTreeMap<String, AppAccess> = Default::default();
        let row = |person: &str| AppAccess {
            source: source.to_string(),
            person_id: person.to_string(),
            app_source: r.app_source.clone(),
            assigned: false,
            via: None,
            push_kind: None,
            push_result: None,
            push_at: None,
            push_detail: None,
        };
        for (person, mut via) in r.assigned.unwrap_or_default() {
            via.sort_by(|a, b| (a != "direct", a).cmp(&(b != "direct", b)));
            via.dedup();
            let mut x = row(&person);
            x.assigned = true;
            x.via = Some(via.join(", "));
            rows.insert(person, x);
        }
        let mut pushes = r.pushes.unwrap_or_default();
        pushes.sort_by_key(|p| p.order);
        for p in pushes {
            let x = rows
                .entry(p.person_id.clone())
                .or_insert_with(|| row(&p.person_id));
            {
                x.push_kind = Some(p.kind.to_string());
                x.push_result = Some(p.result);
                x.push_at = Some(p.at);
                x.push_detail = Some(p.detail);
            }
        }
        access.extend(rows.into_values());
    }
    (apps, access)
}

/// One part of what a directory says (an app, its assignments, its provisioning outcomes):
/// what it answered, or, on any error, unknown, said in the log. The rules that need the part
/// make no judgement; the people and everything else are still read.
pub async fn part<T>(
    http: &Http,
    what: String,
    read: impl std::future::Future<Output = Result<T, SourceError>>,
) -> Option<T> {
    match read.await {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(
                source = %http.source,
                error = %e,
                "{what} could not be read: unknown, and the rules that need it make no judgement"
            );
            None
        }
    }
}

/// An RFC 3339 time as (seconds, milliseconds), if it is one.
pub fn instant(t: Option<&str>) -> Option<(Ts, i64)> {
    let d = chrono::DateTime::parse_from_rfc3339(t?).ok()?;
    Some((d.timestamp(), d.timestamp_millis()))
}

/// An RFC 3339 time as seconds, if it is one.
pub fn seconds(t: Option<&str>) -> Option<Ts> {
    instant(t).map(|(s, _)| s)
}

/// A provider's reason text, at most 200 characters (a push's error can carry a whole
/// response body).
pub fn shorten(text: &str) -> String {
    if text.chars().count() <= 200 {
        return text.to_string();
    }
    let mut s: String = text.chars().take(199).collect();
    s.push('…');
    s
}
