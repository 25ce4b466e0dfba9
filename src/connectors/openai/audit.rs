//! OpenAI's audit log (`/organization/audit_logs`) as provenance: who created each key and
//! service account, who added or removed each user, sent each invite and archived each
//! project, and each user's last login. Read as two feeds over their own spans (changes over a
//! year, logins over 90 days), newest first, each entry reduced as its page arrives to the one
//! latest fact per subject. A feed that cannot be read (no permission, logging never switched
//! on, a broken page) is unknown, said on the feed, and never fails the sync.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

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

const DAY: i64 = 86_400;

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

/// One feed: every entry of `types` since `days` ago, reduced to the latest fact per subject.
async fn read(
    http: &Http,
    now: Ts,
    feed: &str,
    types: &[&str],
    days: i64,
    page: u32,
) -> (Vec<Provenance>, Feed) {
    let src = http.source.as_str();
    let from = now - days * DAY;
    let mut params: Vec<(&str, String)> = vec![("effective_at[gte]", from.to_string())];
    params.extend(types.iter().map(|t| ("event_types[]", t.to_string())));
    let mut latest: HashMap<(String, String, String), (String, Provenance)> = HashMap::new();
    let mut newest: Option<Ts> = None;
    let mut entries = 0u64;
    let read = super::super::paging::list_each(
        http,
        super::super::paging::OPENAI,
        "organization/audit_logs",
        &params,
        page.max(100),
        |e: &WEntry| {
            entries += 1;
            newest = newest.max(e.effective_at);
        },
    )
    .await;
    let mut out_feed = Feed {
        source: src.to_string(),
        feed: feed.to_string(),
        known: false,
        from: Some(from),
        to: None,
        note: None,
    };
    match read {
        Ok(list) => {
            for e in list {
                let Some((id, p)) = fact(src, feed, e) else {
                    continue;
                };
                let key = (p.subject_kind.clone(), p.subject_id.clone(), p.fact.clone());
                match latest.get(&key) {
                    Some((old_id, old)) if (old.at, old_id) >= (p.at, &id) => {}
                    _ => {
                        latest.insert(key, (id, p));
                    }
                }
            }
            out_feed.known = true;
            out_feed.to = newest;
        }
        Err(e) => {
            let why = match &e {
                SourceError::Auth { status: 403, .. } => {
                    "the admin key may not read the audit log (it needs an org owner's admin key)"
                }
                SourceError::NotFound { .. } | SourceError::Rejected { status: 400, .. } => {
                    "audit logging may not be switched on (Organization settings → Data controls → Audit logging)"
                }
                SourceError::Pagination { .. } | SourceError::Malformed { .. } => {
                    "its answer was broken, so none of it was used"
                }
                _ => "the next sync tries again",
            };
            tracing::warn!(source = %src, error = %e, "the audit log ({feed}) could not be read: creators and logins unknown");
            out_feed.note = Some(http.scrub(&format!(
                "the audit log could not be read ({e}): {why}; who created keys and service accounts, and logins, are unknown this sync"
            )));
        }
    }
    let mut facts: Vec<Provenance> = latest.into_values().map(|(_, p)| p).collect();
    facts.sort_by(|a, b| {
        (&a.subject_kind, &a.subject_id, &a.fact).cmp(&(&b.subject_kind, &b.subject_id, &b.fact))
    });
    (facts, out_feed)
}

/// Both feeds, read at once.
pub async fn provenance(http: &Http, now: Ts, page: u32) -> (Vec<Provenance>, Vec<Feed>) {
    let ((mut changes, cfeed), (logins, lfeed)) = futures::join!(
        read(http, now, CHANGES, CHANGE_TYPES, CHANGE_DAYS, page),
        read(http, now, LOGINS, LOGIN_TYPES, LOGIN_DAYS, page),
    );
    changes.extend(logins);
    (changes, vec![cfeed, lfeed])
}

/// A log with no change at all over the changes' span, in an org that made a key, a service
/// account or a user inside it, is one never switched on (the API's answer while logging is off
/// is not documented: an empty list is one of the two it may be). It says nothing, so both
/// feeds are unknown, and said so once.
pub fn silence(d: &mut SourceData, now: Ts) {
    let since = now - CHANGE_DAYS * DAY;
    let silent = d
        .feeds
        .iter()
        .any(|f| f.feed == CHANGES && f.known && f.to.is_none());
    let made = d
        .credentials
        .iter()
        .any(|c| c.created_at.is_some_and(|t| t >= since))
        || d.service_accounts
            .iter()
            .any(|s| s.created_at.is_some_and(|t| t >= since))
        || d.accounts
            .iter()
            .any(|a| a.added_at.is_some_and(|t| t >= since));
    if !(silent && made) {
        return;
    }
    let note = format!(
        "the audit log holds nothing for the last {CHANGE_DAYS} days although keys or users were made since: audit logging looks switched off (Organization settings → Data controls → Audit logging; once on it cannot be switched off). Who created keys and service accounts, and logins, are unknown"
    );
    if let Some(f) = d.feeds.first() {
        tracing::warn!(source = %f.source, "{note}");
    }
    for f in &mut d.feeds {
        f.known = false;
        f.note = Some(note.clone());
    }
    d.provenance.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: Value) -> Option<Provenance> {
        fact("oa", CHANGES, serde_json::from_value(v).unwrap()).map(|(_, p)| p)
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
}
