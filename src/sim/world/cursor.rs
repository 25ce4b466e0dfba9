//! The simulated Cursor team: members, removals and the audit log, generated from the same directory on its own random stream, with its own planted gaps.

use super::*;

/// A Cursor member id: the API has served both numbers and `user_...` strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CursorId {
    Number(u64),
    Text(String),
}

impl CursorId {
    pub fn as_string(&self) -> String {
        match self {
            CursorId::Number(n) => n.to_string(),
            CursorId::Text(s) => s.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CMember {
    pub id: CursorId,
    pub name: String,
    pub email: String,
    pub role: String,
    pub is_removed: bool,
    /// The last day the member was active (daily usage), if ever.
    pub last_active: Option<Ts>,
}

#[derive(Clone, Debug, Default)]
pub struct CursorTeam {
    /// In the order `/teams/members` lists them.
    pub members: Vec<CMember>,
    /// The team's audit log (`/teams/audit-logs`), oldest first.
    pub audit: Vec<CEvent>,
}

/// A Cursor audit log event: `event_type` by `user_email` (the actor) at `timestamp`.
#[derive(Clone, Debug)]
pub struct CEvent {
    pub id: String,
    pub at: Ts,
    pub actor: String,
    pub kind: String,
    pub data: serde_json::Value,
}

pub(super) fn cursor(
    rng: &mut Rng,
    people: &[PersonView],
    now: Ts,
    truth: &mut Truth,
) -> CursorTeam {
    let n = people.len();
    let mut team = CursorTeam::default();
    let mut leaver_planted = false;
    let mut next_number = 10_000u64;
    let mut new_id = |rng: &mut Rng| {
        if rng.chance(0.5) {
            next_number += 1 + rng.below(50);
            CursorId::Number(next_number)
        } else {
            CursorId::Text(format!("user_{}", rng.alnum(26)))
        }
    };
    for p in people.iter().filter(|p| !p.offboarded) {
        // Leavers and current staff alike: half the company has a Cursor seat.
        let first_leaver = p.leaver && !leaver_planted;
        if !first_leaver && !rng.chance(0.5) {
            continue;
        }
        let id = new_id(rng);
        // A removed member is not a member: no finding even for a leaver.
        let is_removed = !first_leaver && rng.chance(0.04);
        leaver_planted |= p.leaver && !is_removed;
        let role = if rng.chance(0.02) {
            "owner"
        } else if rng.chance(0.01) {
            "free-owner"
        } else {
            "member"
        };
        if p.leaver && !is_removed {
            truth.plant(
                "cursor",
                CURSOR_SOURCE,
                "leaver-with-access",
                Severity::Critical,
                "account",
                &id.as_string(),
                Some(&p.email),
                format!("inactive in the directory, still has an account on Cursor, role {role}"),
            );
        }
        team.members.push(CMember {
            id,
            name: p.name.clone(),
            email: p.email.clone(),
            role: role.into(),
            is_removed,
            last_active: rng.chance(0.8).then(|| now - rng.range(0, 150) * DAY),
        });
    }
    for _ in 0..(n / 100).max(2) {
        let (email, name) = outsider(rng);
        let id = new_id(rng);
        truth.plant(
            "cursor",
            CURSOR_SOURCE,
            "unmanaged-account",
            Severity::High,
            "account",
            &id.as_string(),
            Some(&email),
            "no directory person has this email; account on Cursor, role member".into(),
        );
        team.members.push(CMember {
            id,
            name,
            email,
            role: "member".into(),
            is_removed: false,
            last_active: rng.chance(0.8).then(|| now - rng.range(0, 150) * DAY),
        });
    }
    team
}

/// The Cursor audit log over the last 120 days: each member's `add_user` (by SCIM for most
/// directory people, by hand for the rest) if they joined then, their `login`s, an
/// `update_user_role` for each owner, a `remove_user` for each removed member. Its own stream.
pub(super) fn cursor_audit(rng: &mut Rng, team: &mut CursorTeam, now: Ts) {
    let admins: Vec<String> = team
        .members
        .iter()
        .filter(|m| m.role == "owner" && !m.is_removed)
        .map(|m| m.email.clone())
        .collect();
    let admin = |rng: &mut Rng| {
        if admins.is_empty() {
            "admin@example.com".to_string()
        } else {
            rng.pick(&admins).clone()
        }
    };
    let mut events = Vec::new();
    let mut event = |at: Ts, actor: String, kind: &str, data: serde_json::Value| {
        events.push(CEvent {
            id: String::new(),
            at,
            actor,
            kind: kind.into(),
            data,
        });
    };
    for m in &team.members {
        // Most members joined long ago; the log keeps only recent history.
        let joined = now - rng.range(1, 900) * DAY - rng.range(0, DAY);
        if joined >= now - 120 * DAY {
            let scim = m.email.ends_with(super::COMPANY_DOMAIN) && rng.chance(0.7);
            let method = if scim { "scim" } else { "manual" };
            let by = if scim {
                "scim@cursor.com".into()
            } else {
                admin(rng)
            };
            event(
                joined,
                by,
                "add_user",
                serde_json::json!({"email": m.email, "method": method}),
            );
            if m.role == "owner" {
                let by = admin(rng);
                event(
                    joined + DAY,
                    by,
                    "update_user_role",
                    serde_json::json!({"email": m.email, "oldRole": "member", "newRole": "owner"}),
                );
            }
        }
        if let Some(t) = m.last_active.filter(|t| *t >= now - 120 * DAY) {
            event(
                t,
                m.email.clone(),
                "login",
                serde_json::json!({"method": "sso"}),
            );
        }
        if m.is_removed {
            let by = admin(rng);
            let at = now - rng.range(1, 100) * DAY;
            event(at, by, "remove_user", serde_json::json!({"email": m.email}));
        }
    }
    events.sort_by_key(|e| e.at);
    for e in &mut events {
        e.id = format!("evt_{}", rng.alnum(16));
    }
    team.audit = events;
}
