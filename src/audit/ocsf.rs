//! The audit chain as OCSF events (Open Cybersecurity Schema Framework, version
//! [`VERSION`]), one JSON object per entry, for a SIEM. Each entry goes in the Identity & Access
//! Management class it is: a provider call that removes an account is Account Change, one that
//! takes a membership or a role away is User Access Management, a group membership or a group's
//! role is Group Management, and a key, an invite or one of recert's own records (a decision
//! batch, a campaign, a plan) is Entity Management. recert's own fields (sequence, time, actor,
//! event, detail exactly as hashed, previous hash, hash) are kept under `unmapped.recert`, so a
//! SIEM's copy can still be verified link by link. Pure.

use serde_json::{Value, json};

use super::Entry;

/// The OCSF schema version the events follow.
pub const VERSION: &str = "1.8.0";

/// Identity & Access Management.
const CATEGORY: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    AccountChange,
    EntityManagement,
    UserAccess,
    GroupManagement,
}

impl Class {
    pub fn uid(self) -> u32 {
        CATEGORY * 1000
            + match self {
                Class::AccountChange => 1,
                Class::EntityManagement => 4,
                Class::UserAccess => 5,
                Class::GroupManagement => 6,
            }
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::AccountChange => "Account Change",
            Class::EntityManagement => "Entity Management",
            Class::UserAccess => "User Access Management",
            Class::GroupManagement => "Group Management",
        }
    }

    /// The caption of `activity` in this class (the schema's `activity_id` enum).
    fn activity(self, activity: u32) -> &'static str {
        match (self, activity) {
            (_, 99) => "Other",
            (Class::AccountChange, 1) => "Create",
            (Class::AccountChange, 5) => "Disable",
            (Class::AccountChange, 6) => "Delete",
            (Class::EntityManagement, 1) => "Create",
            (Class::EntityManagement, 3) => "Update",
            (Class::EntityManagement, 4) => "Delete",
            (Class::EntityManagement, 8) => "Enable",
            (Class::EntityManagement, 9) => "Disable",
            (Class::EntityManagement, 11) => "Deactivate",
            (Class::UserAccess, 1) => "Assign Privileges",
            (Class::UserAccess, 2) => "Revoke Privileges",
            (Class::GroupManagement, 2) => "Revoke Privileges",
            (Class::GroupManagement, 4) => "Remove User",
            _ => "Unknown",
        }
    }
}

/// What one entry is in OCSF terms: its class, activity, the class's own attributes, and the
/// event's message.
struct Mapped {
    class: Class,
    activity: u32,
    attrs: serde_json::Map<String, Value>,
    message: Option<String>,
}

impl Mapped {
    fn new(class: Class, activity: u32) -> Mapped {
        Mapped {
            class,
            activity,
            attrs: Default::default(),
            message: None,
        }
    }
    fn with(mut self, key: &str, v: Value) -> Mapped {
        self.attrs.insert(key.to_string(), v);
        self
    }
}

fn user(uid: &str) -> Value {
    json!({"uid": uid, "type_id": 1, "type": "User"})
}

fn entity(kind: &str, uid: &str) -> Value {
    json!({"uid": uid, "type": kind})
}

/// A provider call, by its method and path (as planned: the grammar `remediate` builds), in
/// the class of what it changes.
fn call(source: &str, method: &str, path: &str, body: Option<&str>) -> Mapped {
    use Class::*;
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let resource = |kind: &str, uid: &str| json!({"uid": uid, "type": kind});
    let body: Value = body
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let m = match (method, segs.as_slice()) {
        // Whole principals.
        ("DELETE", ["organization", "users", u])
        | ("DELETE", ["v1", "organizations", "users", u]) => {
            Mapped::new(AccountChange, 6).with("user", user(u))
        }
        ("DELETE", ["organization", "projects", p, "service_accounts", s]) => {
            Mapped::new(AccountChange, 6).with(
                "user",
                json!({"uid": s, "type_id": 99, "type": "Service Account", "domain": p}),
            )
        }
        ("POST", ["teams", "remove-member"]) => {
            let who = body
                .get("email")
                .and_then(Value::as_str)
                .map(|e| json!({"email_addr": e, "name": e}))
                .unwrap_or_else(|| json!({"name": "unknown"}));
            Mapped::new(AccountChange, 6).with("user", who)
        }
        // Memberships and roles.
        ("DELETE", ["organization", "projects", p, "users", u])
        | ("DELETE", ["v1", "organizations", "workspaces", p, "members", u]) => {
            let kind = if segs[0] == "v1" {
                "workspace"
            } else {
                "project"
            };
            Mapped::new(UserAccess, 2)
                .with("user", user(u))
                .with("privileges", json!([format!("{kind} member")]))
                .with("resource", resource(kind, p))
        }
        // A role is a privilege (1.8.0 has no role activities).
        ("DELETE", [.., "users", u, "roles", r]) => Mapped::new(UserAccess, 2)
            .with("user", user(u))
            .with("privileges", json!([r])),
        ("DELETE", ["organization", "groups", g, "users", u]) => Mapped::new(GroupManagement, 4)
            .with("group", json!({"uid": g}))
            .with("user", user(u)),
        ("DELETE", [.., "groups", g, "roles", r]) => Mapped::new(GroupManagement, 2)
            .with("group", json!({"uid": g}))
            .with("privileges", json!([r])),
        ("DELETE", ["organization", "projects", p, "groups", g]) => Mapped::new(GroupManagement, 2)
            .with("group", json!({"uid": g}))
            .with("privileges", json!(["project access"]))
            .with("resource", resource("project", p)),
        // Keys and invites.
        ("DELETE", ["organization", "projects", _, "api_keys", k])
        | ("DELETE", ["organization", "admin_api_keys", k]) => {
            Mapped::new(EntityManagement, 4).with("entity", entity("API Key", k))
        }
        ("POST", ["v1", "organizations", "api_keys", k]) => {
            let activity = match body.get("status").and_then(Value::as_str) {
                Some("active") => 8,
                Some("inactive") => 9,
                Some("archived") => 4,
                _ => 3,
            };
            Mapped::new(EntityManagement, activity).with("entity", entity("API Key", k))
        }
        ("DELETE", ["organization", "invites", i])
        | ("DELETE", ["v1", "organizations", "invites", i]) => {
            Mapped::new(EntityManagement, 4).with("entity", entity("Invite", i))
        }
        _ => Mapped::new(EntityManagement, 99).with("entity", entity("Provider object", path)),
    };
    Mapped {
        message: Some(format!("{method} {path} on {source}")),
        ..m
    }
}

/// recert's own records: a decision batch, a campaign step, a plan.
fn record(event: &str, detail: &Value) -> Mapped {
    let uid = |k: &str| {
        detail
            .get(k)
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    let (kind, id_key, activity) = match event {
        "decide" => ("Decision batch", "batch", 1),
        "undo" | "redo" => ("Decision batch", "batch", 3),
        "plan" => ("Plan", "plan", 1),
        "abandon" | "lock-recovered" => ("Plan", "plan", 3),
        "campaign.create" | "campaign.submit" => ("Campaign", "campaign", 1),
        "campaign.delegate" | "campaign.signoff" | "campaign.close" | "campaign.remind" => {
            ("Campaign", "campaign", 3)
        }
        "campaign.cancel" => ("Campaign", "campaign", 11),
        "manual.ticket" => ("Ticket", "id", 1),
        "manual.done" => ("Manual step", "plan", 3),
        _ => ("Record", "id", 99),
    };
    let name = match uid(id_key) {
        s if s.is_empty() => event.to_string(),
        s => s,
    };
    Mapped::new(Class::EntityManagement, activity)
        .with("entity", json!({"name": name, "type": kind}))
}

/// `result` entries name their call by plan and sequence: the call's method and path come from
/// its `call` entry, earlier in the chain.
type Calls = std::collections::HashMap<(i64, i64), (String, String, String, Option<String>)>;

/// Every entry after `since` (a sequence number; 0 for all) as an OCSF event, in chain order.
pub fn events(entries: &[Entry], since: i64) -> Vec<Value> {
    let mut calls: Calls = Default::default();
    let mut out = Vec::new();
    for e in entries {
        let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
        let key = || {
            (
                detail.get("plan").and_then(Value::as_i64).unwrap_or(0),
                detail.get("seq").and_then(Value::as_i64).unwrap_or(0),
            )
        };
        let text = |k: &str| detail.get(k).and_then(Value::as_str).map(str::to_string);
        let (mapped, status) = match e.event.as_str() {
            "call" => {
                let c = (
                    text("source").unwrap_or_default(),
                    text("method").unwrap_or_default(),
                    text("path").unwrap_or_default(),
                    text("body"),
                );
                calls.insert(key(), c.clone());
                (
                    call(&c.0, &c.1, &c.2, c.3.as_deref()),
                    (99, "Sent".to_string()),
                )
            }
            "result" => {
                let state = text("state").unwrap_or_default();
                let status = match state.as_str() {
                    "done" => (1, "Success".to_string()),
                    "failed" => (2, "Failure".to_string()),
                    other => (99, other.to_string()),
                };
                match calls.get(&key()) {
                    Some(c) => (call(&c.0, &c.1, &c.2, c.3.as_deref()), status),
                    None => (record("result", &detail), status),
                }
            }
            other => (record(other, &detail), (1, "Success".to_string())),
        };
        if e.seq <= since {
            continue;
        }
        out.push(event(e, mapped, status));
    }
    out
}

fn event(e: &Entry, m: Mapped, (status_id, status): (u32, String)) -> Value {
    let class = m.class;
    let mut v = json!({
        "category_uid": CATEGORY,
        "category_name": "Identity & Access Management",
        "class_uid": class.uid(),
        "class_name": class.name(),
        "activity_id": m.activity,
        "activity_name": class.activity(m.activity),
        "type_uid": class.uid() as u64 * 100 + m.activity as u64,
        "type_name": format!("{}: {}", class.name(), class.activity(m.activity)),
        "time": e.at * 1000,
        "severity_id": 1,
        "severity": "Informational",
        "status_id": status_id,
        "status": status,
        "message": m
            .message
            .unwrap_or_else(|| format!("recert {} by {}", e.event, e.actor)),
        "actor": {"user": {"name": e.actor}},
        "metadata": {
            "version": VERSION,
            "log_name": "recert audit",
            "product": {
                "name": "recert",
                "vendor_name": "recert",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "unmapped": {"recert": {
            "seq": e.seq,
            "at": e.at,
            "actor": e.actor,
            "event": e.event,
            "detail": e.detail,
            "prev": e.prev,
            "hash": e.hash,
        }},
    });
    if let Value::Object(o) = &mut v {
        o.extend(m.attrs);
    }
    v
}

/// The chain's entries back from OCSF events' `unmapped.recert`, to verify a SIEM's copy.
pub fn entries(events: &[Value]) -> Vec<Entry> {
    events
        .iter()
        .filter_map(|v| {
            let r = v.get("unmapped")?.get("recert")?;
            let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
            Some(Entry {
                seq: r.get("seq")?.as_i64()?,
                at: r.get("at")?.as_i64()?,
                actor: s("actor")?,
                event: s("event")?,
                detail: s("detail")?,
                prev: s("prev")?,
                hash: s("hash")?,
            })
        })
        .collect()
}
