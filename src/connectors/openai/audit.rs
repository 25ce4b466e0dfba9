//! OpenAI's audit log (`/organization/audit_logs`) as provenance: who created each key and
//! service account, who added or removed each user, sent each invite and archived each
//! project, and each user's last login. Read as two feeds over their own spans (changes over a
//! year, logins over 90 days), each window in stretches of a week read at once, each entry
//! reduced as its page arrives to the one latest fact per subject. A feed that cannot be read (no permission, logging never switched
//! on, a broken page) is unknown, said on the feed, and never fails the sync.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::super::feed::{Prior, Window};
use super::super::http::{Http, SourceError};
use super::super::wire;
use crate::model::{Feed, Provenance, SourceData, Ts};

/// How far back the changes are read: a key or service account made earlier has no known
/// creator (the log's retention is not documented).
pub const CHANGE_DAYS: i64 = 365;
/// How far back logins are read: a user with none in this span has not logged in since.
pub const LOGIN_DAYS: i64 = 90;

pub use crate::model::feed::{CHANGES, LOGINS};

/// The event types the feed of changes reads.
const CHANGE_TYPES: &[&str] = &[
    "api_key.created",
    "service_account.created",
    "user.added",
    "user.deleted",
    "invite.sent",
    "project.archived",
];
/// The event types the feed of logins reads.
const LOGIN_TYPES: &[&str] = &["login.succeeded", "login.failed"];

/// One entry, as much of it as provenance needs; anything else is ignored.
#[derive(Deserialize)]
struct WEntry {
    #[serde(default, deserialize_with = "wire::opt_id")]
    id: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "wire::ts")]
    effective_at: Option<Ts>,
    #[serde(default)]
    actor: Option<WActor>,
    /// The payload sits under a key named by the type.
    #[serde(flatten)]
    rest: HashMap<String, Value>,
}

#[derive(Deserialize, Default)]
struct WActor {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    session: Option<WSession>,
    #[serde(default)]
    api_key: Option<WKeyActor>,
}

#[derive(Deserialize, Default)]
struct WSession {
    #[serde(default)]
    user: Option<WUser>,
}

#[derive(Deserialize, Default)]
struct WKeyActor {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    user: Option<WUser>,
    #[serde(default)]
    service_account: Option<WUser>,
}

#[derive(Deserialize, Default)]
struct WUser {
    #[serde(default, deserialize_with = "wire::opt_id")]
    id: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// Who acted: (`user` or `service_account`, id, email, `console` or `api_key`).
type Actor = (String, Option<String>, Option<String>, String);

fn actor(a: Option<WActor>) -> Option<Actor> {
    let a = a?;
    match (a.kind.as_deref(), a.session, a.api_key) {
        (Some("session") | None, Some(s), _) => {
            let u = s.user?;
            Some(("user".into(), u.id, u.email, "console".into()))
        }
        (_, _, Some(k)) => match (k.kind.as_deref(), k.user, k.service_account) {
            (Some("service_account"), _, Some(sa)) | (None, None, Some(sa)) => {
                Some(("service_account".into(), sa.id, None, "api_key".into()))
            }
            (_, Some(u), _) => Some(("user".into(), u.id, u.email, "api_key".into())),
            _ => None,
        },
        _ => None,
    }
}

/// What an entry says: (subject kind, fact, whose: the payload's `id`, or the actor for a
/// login).
fn meaning(kind: &str) -> Option<(&'static str, &'static str, bool)> {
    Some(match kind {
        "api_key.created" => ("api_key", "created_by", false),
        "service_account.created" => ("service_account", "created_by", false),
        "user.added" => ("account", "added_by", false),
        "user.deleted" => ("account", "removed_by", false),
        "invite.sent" => ("invite", "invited_by", false),
        "project.archived" => ("project", "archived_by", false),
        "login.succeeded" => ("account", "last_login", true),
        "login.failed" => ("account", "last_failed_login", true),
        _ => return None,
    })
}

/// The fact an entry states, if it states one recert reads.
fn fact(src: &str, feed: &str, e: WEntry) -> Option<(String, Provenance)> {
    let kind = e.kind?;
    let at = e.effective_at?;
    let (subject_kind, fact, of_actor) = meaning(&kind)?;
    let who = actor(e.actor);
    let subject = if of_actor {
        who.as_ref().filter(|a| a.0 == "user")?.1.clone()?
    } else {
        let payload = e.rest.get(&kind)?;
        match payload.get("id")? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        }
    };
    let (actor_kind, actor_id, actor_email, via) = match who {
        Some((k, id, email, via)) => (Some(k), id, email, Some(via)),
        None => (None, None, None, None),
    };
    Some((
        e.id.unwrap_or_default(),
        Provenance {
            source: src.to_string(),
            subject_kind: subject_kind.into(),
            subject_id: subject,
            fact: fact.into(),
            actor_kind,
            actor_id,
            actor_email,
            via,
            at,
            feed: feed.into(),
        },
    ))
}

/// How long a stretch of the log one chain of pages reads. A window is read as stretches this
/// long, all at once (the client's concurrency bounds them), each under its own page limit:
/// a large org's 90 days of logins is neither one chain past `max_pages` (which would leave
/// every login unknown) nor thousands of pages read one after another.
const STRETCH: i64 = 7 * super::super::feed::DAY;

/// The stretches `from..to` is read as, oldest first: each `[start, end)`, the newest open at
/// its end (whatever the log holds by the time it is read).
fn stretches(from: Ts, to: Ts) -> Vec<(Ts, Option<Ts>)> {
    let mut out = Vec::new();
    let mut start = from;
    while start + STRETCH < to {
        out.push((start, Some(start + STRETCH)));
        start += STRETCH;
    }
    out.push((start, None));
    out
}

/// The latest fact per subject (and fact), ties broken by entry id so any order of reading
/// keeps the same one.
type Latest = HashMap<(String, String, String), (String, Provenance)>;

fn keep_latest(latest: &mut Latest, id: String, p: Provenance) {
    let key = (p.subject_kind.clone(), p.subject_id.clone(), p.fact.clone());
    match latest.get(&key) {
        Some((old_id, old)) if (old.at, old_id) >= (p.at, &id) => {}
        _ => {
            latest.insert(key, (id, p));
        }
    }
}

/// One stretch of one feed, each entry reduced as its page arrives: a long log is never held
/// whole.
async fn read_stretch(
    http: &Http,
    feed: &'static str,
    types: &[&str],
    (start, end): (Ts, Option<Ts>),
    page: u32,
) -> Result<Latest, SourceError> {
    let src = http.source.as_str();
    let mut params: Vec<(&str, String)> = vec![("effective_at[gte]", start.to_string())];
    if let Some(end) = end {
        params.push(("effective_at[lt]", end.to_string()));
    }
    params.extend(types.iter().map(|t| ("event_types[]", t.to_string())));
    let mut latest = Latest::new();
    super::super::paging::each(
        http,
        super::super::paging::OPENAI,
        "organization/audit_logs",
        &params,
        page,
        |e: WEntry| {
            if let Some((id, p)) = fact(src, feed, e) {
                keep_latest(&mut latest, id, p);
            }
        },
    )
    .await?;
    Ok(latest)
}

/// One feed: every entry of `types` in its window (on from the last read where it can be),
/// reduced to the latest fact per subject, with the last read's facts still in the span.
async fn read(http: &Http, win: Window, types: &[&str], page: u32) -> (Vec<Provenance>, Feed) {
    let src = http.source.as_str();
    let feed = win.feed;
    let parts = futures::future::join_all(
        stretches(win.read_from, win.to)
            .into_iter()
            .map(|s| read_stretch(http, feed, types, s, page)),
    )
    .await;
    let read = parts.into_iter().try_fold(Latest::new(), |mut all, part| {
        for (id, p) in part?.into_values() {
            keep_latest(&mut all, id, p);
        }
        Ok::<_, SourceError>(all)
    });
    match read {
        Ok(latest) => {
            let out_feed = win.read(src);
            (
                win.merge(latest.into_values().map(|(_, p)| p).collect()),
                out_feed,
            )
        }
        Err(e) => {
            tracing::warn!(source = %src, error = %e, "the audit log ({feed}) could not be read: what it says is unknown");
            let unknown = if feed == CHANGES {
                "who created keys and service accounts is unknown this sync"
            } else {
                "last logins are unknown this sync"
            };
            (
                Vec::new(),
                win.failed(
                    src,
                    format!(
                        "the audit log could not be read: {}; {unknown}",
                        failure(&e)
                    ),
                ),
            )
        }
    }
}

/// Why the log could not be read, and what to do, in words of recert's own: never the
/// provider's text (an error excerpt can quote an entry, with its actor's address).
fn failure(e: &SourceError) -> String {
    match e {
        SourceError::Auth { status: 403, .. } => {
            "refused (403): the admin key may not read it (it needs an org owner's admin key)".into()
        }
        SourceError::Auth { status, .. } => format!("refused ({status}): check the admin key"),
        SourceError::NotFound { .. } => {
            "not found (404): audit logging may not be switched on (Organization settings → Data controls → Audit logging)".into()
        }
        SourceError::Rejected { status, .. } => format!(
            "rejected ({status}): audit logging may not be switched on (Organization settings → Data controls → Audit logging)"
        ),
        SourceError::Pagination { pages, .. } => format!(
            "its pages did not end after {pages} in one week of it: its pagination is broken, or the log is longer than the source's `max_pages` allows; none of it was used"
        ),
        SourceError::Malformed { .. } => {
            "an entry was not in the documented shape, so none of it was used".into()
        }
        _ => "the provider did not answer in time, or refused for now; the next sync tries again"
            .into(),
    }
}

/// Both feeds, read at once.
pub async fn provenance(
    http: &Http,
    now: Ts,
    page: u32,
    prior: &Prior,
) -> (Vec<Provenance>, Vec<Feed>) {
    let ((mut changes, cfeed), (logins, lfeed)) = futures::join!(
        read(
            http,
            Window::plan(prior, CHANGES, now, CHANGE_DAYS),
            CHANGE_TYPES,
            page
        ),
        read(
            http,
            Window::plan(prior, LOGINS, now, LOGIN_DAYS),
            LOGIN_TYPES,
            page
        ),
    );
    changes.extend(logins);
    (changes, vec![cfeed, lfeed])
}

/// What the two feeds say together. An entry in either shows logging is on. A log with none
/// at all in an org that has users is one never switched on (what the API answers while logging
/// is off is not documented: an empty list is one of the two it may be), or one that says
/// nothing: both feeds are unknown, and said so once.
pub fn silence(d: &mut SourceData) {
    let ours = |p: &&Provenance| p.feed == CHANGES || p.feed == LOGINS;
    let oldest = d.provenance.iter().filter(ours).map(|p| p.at).min();
    let read = d.feeds.iter().any(|f| f.known);
    if oldest.is_none() && read && !d.accounts.is_empty() {
        let note = format!(
            "the audit log holds no entry in the last {CHANGE_DAYS} days, not even a login, in an org with users: audit logging looks switched off (Organization settings → Data controls → Audit logging; once on it cannot be switched off). Who created keys and service accounts, and logins, are unknown"
        );
        if let Some(f) = d.feeds.first() {
            tracing::warn!(source = %f.source, "{note}");
        }
        for f in d
            .feeds
            .iter_mut()
            .filter(|f| f.feed == CHANGES || f.feed == LOGINS)
        {
            f.known = false;
            f.to = None;
            f.full_at = None;
            f.note = Some(note.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: Value) -> Option<Provenance> {
        fact("oa", CHANGES, serde_json::from_value(v).unwrap()).map(|(_, p)| p)
    }

    #[test]
    fn a_window_is_read_in_weeks_that_cover_it_once() {
        let day = super::super::super::feed::DAY;
        assert_eq!(stretches(0, 3 * day), vec![(0, None)]);
        assert_eq!(stretches(0, 7 * day), vec![(0, None)]);
        let s = stretches(0, 20 * day);
        assert_eq!(
            s,
            vec![
                (0, Some(7 * day)),
                (7 * day, Some(14 * day)),
                (14 * day, None)
            ]
        );
        // Each starts where the one before ends: no second missed, none read twice.
        let s = stretches(5, 365 * day + 5);
        assert_eq!(s.len(), 53);
        assert!(s.windows(2).all(|w| w[0].1 == Some(w[1].0)));
        assert_eq!(s[0].0, 5);
        assert_eq!(s.last().unwrap().1, None);
    }

    #[test]
    fn reads_the_documented_examples() {
        // The spec's own example: a key created from a signed-in session.
        let p = entry(serde_json::json!({
            "id": "req_xxx_20240101", "type": "api_key.created", "effective_at": 1720804090,
            "actor": {"type": "session", "session": {"user": {"id": "user-xxx", "email": "user@example.com"},
                      "ip_address": "127.0.0.1", "user_agent": "Mozilla/5.0"}},
            "api_key.created": {"id": "key_xxxx", "data": {"scopes": ["resource.operation"]}}
        }))
        .unwrap();
        assert_eq!(
            (
                p.subject_kind.as_str(),
                p.subject_id.as_str(),
                p.fact.as_str()
            ),
            ("api_key", "key_xxxx", "created_by")
        );
        assert_eq!(p.actor_email.as_deref(), Some("user@example.com"));
        assert_eq!(p.via.as_deref(), Some("console"));
        assert!(p.by_person());
        // The reference's constructed example: a service account made with a user's key.
        let p = entry(serde_json::json!({
            "id": "audit_log-abc_20260901", "type": "service_account.created", "effective_at": 1788220800,
            "project": {"id": "proj_abc", "name": "Default project"},
            "actor": {"type": "api_key", "api_key": {"id": "key_trk_1", "type": "user",
                      "user": {"id": "user-xxx", "email": "admin@example.com"}}},
            "service_account.created": {"id": "svc_acct_abc", "data": {"role": "member"}}
        }))
        .unwrap();
        assert_eq!(p.subject_id, "svc_acct_abc");
        assert_eq!(p.via.as_deref(), Some("api_key"));
        // A login names its subject by the actor; a service account's key is no person.
        let p = entry(serde_json::json!({
            "id": "audit_log-def_20260901", "type": "login.failed", "effective_at": 1788220900,
            "actor": {"type": "session", "session": {"user": {"id": "user-yyy", "email": "u@example.com"}, "ip_address": "203.0.113.7"}},
            "login.failed": {"error_code": "x", "error_message": "y"}
        }))
        .unwrap();
        assert_eq!(
            (p.subject_id.as_str(), p.fact.as_str()),
            ("user-yyy", "last_failed_login")
        );
        let p = entry(serde_json::json!({
            "id": "a", "type": "api_key.created", "effective_at": 1,
            "actor": {"type": "api_key", "api_key": {"id": "key_t", "type": "service_account",
                      "service_account": {"id": "svc_acct_1"}}},
            "api_key.created": {"id": "key_2"}
        }))
        .unwrap();
        assert!(!p.by_person());
        assert_eq!(p.actor_id.as_deref(), Some("svc_acct_1"));
    }

    #[test]
    fn entries_it_cannot_place_are_skipped_not_guessed() {
        // No time, no payload id, a type it does not read, a login with no user, a null actor.
        for v in [
            serde_json::json!({"id": "a", "type": "api_key.created", "api_key.created": {"id": "k"}}),
            serde_json::json!({"id": "a", "type": "api_key.created", "effective_at": 1}),
            serde_json::json!({"id": "a", "type": "tenant.admin_api_key.created", "effective_at": 1}),
            serde_json::json!({"id": "a", "type": "login.succeeded", "effective_at": 1, "actor": null}),
            serde_json::json!({"id": "a", "type": "login.succeeded", "effective_at": 1, "source": "scim"}),
        ] {
            assert_eq!(entry(v.clone()), None, "{v}");
        }
        // An act whose actor is null still says what was made, not by whom.
        let p = entry(
            serde_json::json!({"id": "a", "type": "project.archived", "effective_at": 5,
                                         "actor": null, "project.archived": {"id": "proj_1"}}),
        )
        .unwrap();
        assert_eq!((p.actor_kind, p.at), (None, 5));
    }

    #[test]
    fn a_log_with_any_entry_is_on_and_one_with_none_in_an_org_with_users_is_off() {
        let feed = |name: &str| Feed {
            source: "oa".into(),
            feed: name.into(),
            known: true,
            from: Some(0),
            to: Some(10),
            full_at: Some(10),
            note: None,
            origin: None,
        };
        let login = entry(serde_json::json!({"id": "a", "type": "login.succeeded", "effective_at": 5,
            "actor": {"type": "session", "session": {"user": {"id": "user-1", "email": "a@x.com"}}}}))
        .map(|p| Provenance { feed: LOGINS.into(), ..p })
        .unwrap();
        let user = crate::model::Account {
            source: "oa".into(),
            provider: "openai".into(),
            id: "user-1".into(),
            email: None,
            name: None,
            role: None,
            added_at: None,
            last_active_at: None,
            scim_managed: None,
            activity_from: None,
        };
        // Logins but no change in a year: logging is on.
        let mut d = SourceData {
            accounts: vec![user.clone()],
            feeds: vec![feed(CHANGES), feed(LOGINS)],
            provenance: vec![login],
            ..Default::default()
        };
        silence(&mut d);
        assert!(d.feeds.iter().all(|f| f.known && f.note.is_none()));
        // No entry at all, with users: off, both feeds.
        d.provenance.clear();
        silence(&mut d);
        assert!(
            d.feeds
                .iter()
                .all(|f| !f.known && f.note.as_deref().unwrap().contains("switched off"))
        );
        // No users at all: an empty log says nothing wrong.
        let mut empty = SourceData {
            feeds: vec![feed(CHANGES), feed(LOGINS)],
            ..Default::default()
        };
        silence(&mut empty);
        assert!(empty.feeds.iter().all(|f| f.known));
    }
}
