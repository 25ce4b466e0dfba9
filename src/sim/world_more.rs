//! The simulated Anthropic organisation and Cursor team, generated beside the OpenAI org from
//! the same directory, each with its own planted gaps.

use std::collections::BTreeMap;

use super::rng::Rng;
use super::world::{
    ANTHROPIC_SOURCE, CURSOR_SOURCE, GIVEN, OUTSIDE_DOMAINS, PROJECT_WORDS, PersonView, Truth,
    capitalise,
};
use crate::model::{Severity, Ts};

const DAY: i64 = 86_400;

#[derive(Clone, Debug)]
pub struct AUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub added_at: Ts,
    /// The last day the user used Claude Code, if ever (the Claude Code report).
    pub code_active: Option<Ts>,
}

#[derive(Clone, Debug)]
pub struct AWorkspace {
    pub id: String,
    pub name: String,
    pub created_at: Ts,
    pub archived_at: Option<Ts>,
}

/// Who made an Anthropic key, and which of the two documented `principal` shapes (if any) the
/// simulator serves for it.
#[derive(Clone, Debug)]
pub struct AKey {
    pub id: String,
    pub name: String,
    pub partial_key_hint: String,
    pub created_at: Ts,
    /// `(id, "user" | "service_account")`.
    pub created_by: Option<(String, String)>,
    /// 0: no `principal`; 1: `{type:"user_actor",user_id}`; 2: `{id, type:"user"}`.
    pub principal_shape: u8,
    pub status: String,
    pub workspace_id: Option<String>,
    /// The last day the key was used (the messages usage report), if ever.
    pub last_used: Option<Ts>,
}

#[derive(Clone, Debug)]
pub struct AInvite {
    pub id: String,
    pub email: String,
    pub role: String,
    pub status: String,
    pub invited_at: Ts,
    pub expires_at: Ts,
}

#[derive(Clone, Debug, Default)]
pub struct AnthropicOrg {
    pub users: BTreeMap<String, AUser>,
    pub invites: BTreeMap<String, AInvite>,
    pub workspaces: BTreeMap<String, AWorkspace>,
    /// workspace id → user id → workspace role.
    pub members: BTreeMap<String, BTreeMap<String, String>>,
    pub api_keys: BTreeMap<String, AKey>,
}

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

fn ulid(rng: &mut Rng, prefix: &str) -> String {
    format!("{prefix}_01{}", rng.alnum(22))
}

fn outsider(rng: &mut Rng) -> (String, String) {
    let given = *rng.pick(GIVEN);
    let domain = *rng.pick(OUTSIDE_DOMAINS);
    (
        format!("{given}.{}@{domain}", rng.alnum(4).to_lowercase()),
        capitalise(given),
    )
}

pub(super) fn anthropic(
    rng: &mut Rng,
    people: &[PersonView],
    now: Ts,
    truth: &mut Truth,
) -> AnthropicOrg {
    let n = people.len();
    let mut org = AnthropicOrg::default();
    let plant =
        |truth: &mut Truth, rule: &str, sev, kind: &str, id: &str, email: &str, detail: String| {
            truth.plant(
                "anthropic",
                ANTHROPIC_SOURCE,
                rule,
                sev,
                kind,
                id,
                Some(email),
                detail,
            )
        };
    // Users: (id, leaver).
    let mut users: Vec<(String, bool)> = Vec::new();
    let mut leaver_planted = false;
    for p in people.iter().filter(|p| !p.offboarded) {
        // The first leaver always keeps a seat, so every seed plants the rule here.
        let has = if p.leaver {
            !leaver_planted || rng.chance(0.5)
        } else {
            rng.chance(0.4)
        };
        if !has {
            continue;
        }
        let id = ulid(rng, "user");
        let role = if rng.chance(0.03) {
            "admin"
        } else if rng.chance(0.3) {
            "developer"
        } else {
            "user"
        };
        if p.leaver {
            leaver_planted = true;
            plant(
                truth,
                "leaver-with-access",
                Severity::Critical,
                "account",
                &id,
                &p.email,
                format!(
                    "inactive in the directory, still has an account on Anthropic, role {role}"
                ),
            );
        }
        org.users.insert(
            id.clone(),
            AUser {
                id: id.clone(),
                email: p.email.clone(),
                name: p.name.clone(),
                role: role.into(),
                added_at: now - rng.range(10, 700) * DAY,
                code_active: rng.chance(0.7).then(|| now - rng.range(0, 120) * DAY),
            },
        );
        users.push((id, p.leaver));
    }
    for _ in 0..(n / 100).max(2) {
        let (email, name) = outsider(rng);
        let id = ulid(rng, "user");
        plant(
            truth,
            "unmanaged-account",
            Severity::High,
            "account",
            &id,
            &email,
            "no directory person has this email; account on Anthropic, role user".into(),
        );
        org.users.insert(
            id.clone(),
            AUser {
                id: id.clone(),
                email,
                name,
                role: "user".into(),
                added_at: now - rng.range(10, 300) * DAY,
                code_active: rng.chance(0.7).then(|| now - rng.range(0, 120) * DAY),
            },
        );
        users.push((id, false));
    }
    // Workspaces and their members.
    let ws_count = (n / 50).max(3);
    let mut ws_ids = Vec::new();
    for i in 0..ws_count {
        let id = ulid(rng, "wrkspc");
        let created_at = now - rng.range(30, 900) * DAY;
        org.workspaces.insert(
            id.clone(),
            AWorkspace {
                id: id.clone(),
                name: format!("{}-{}", rng.pick(PROJECT_WORDS), i + 1),
                created_at,
                archived_at: (i + 1 == ws_count || (i > 0 && rng.chance(0.1)))
                    .then(|| created_at + rng.range(5, 20) * DAY),
            },
        );
        let mut members = BTreeMap::new();
        if !users.is_empty() {
            for _ in 0..(2 + rng.below(14)) {
                let (uid, _) = &users[rng.below(users.len() as u64) as usize];
                let role = *rng.pick(&[
                    "workspace_user",
                    "workspace_developer",
                    "workspace_developer",
                    "workspace_admin",
                ]);
                members.insert(uid.clone(), role.to_string());
            }
        }
        org.members.insert(id.clone(), members);
        ws_ids.push(id);
    }
    // API keys: made by users, some in the Default Workspace (workspace_id null), some no longer
    // active. Keys survive their creator's departure: those still active are orphaned.
    let archived_ws: std::collections::HashSet<String> = org
        .workspaces
        .values()
        .filter(|w| w.archived_at.is_some())
        .map(|w| w.id.clone())
        .collect();
    let mut key =
        |rng: &mut Rng, created_by: Option<(String, String)>, ws: Option<String>, status: &str| {
            let id = ulid(rng, "apikey");
            let k = AKey {
                id: id.clone(),
                name: format!(
                    "{}-{}",
                    rng.pick(PROJECT_WORDS),
                    rng.alnum(4).to_lowercase()
                ),
                partial_key_hint: format!("sk-ant-api03-{}...{}", rng.alnum(3), rng.alnum(4)),
                created_at: now - rng.range(1, 400) * DAY,
                principal_shape: (rng.below(3)) as u8,
                created_by,
                status: status.into(),
                workspace_id: ws,
                last_used: rng.chance(0.7).then(|| now - rng.range(0, 150) * DAY),
            };
            org.api_keys.insert(id.clone(), k);
            id
        };
    const RETIRED: [&str; 3] = ["inactive", "archived", "expired"];
    let key_status = |rng: &mut Rng| -> &'static str {
        if rng.chance(0.85) {
            "active"
        } else {
            RETIRED[rng.below(3) as usize]
        }
    };
    for (uid, leaver) in users.clone() {
        if !rng.chance(0.35) {
            continue;
        }
        for _ in 0..(1 + rng.below(2)) {
            let ws = if rng.chance(0.2) {
                None
            } else {
                Some(rng.pick(&ws_ids).clone())
            };
            let status = key_status(rng);
            let id = key(rng, Some((uid.clone(), "user".into())), ws, status);
            if leaver && status == "active" {
                truth_key(truth, &id, &uid, "owner inactive in the directory");
            }
        }
    }
    // Keys whose creator is no longer in the org at all: Anthropic keeps them working.
    // (Never in an archived workspace, where a key grants nothing: the Default Workspace then.)
    for _ in 0..(n / 200).max(2) {
        let ghost = ulid(rng, "user");
        let ws = rng.pick(&ws_ids).clone();
        let live = !archived_ws.contains(&ws);
        let id = key(
            rng,
            Some((ghost.clone(), "user".into())),
            live.then_some(ws),
            "active",
        );
        truth_key(truth, &id, &ghost, "owner no longer in the Anthropic org");
    }
    // Keys made by service accounts (or by the system): not orphaned by any person.
    for _ in 0..(n / 100).max(1) {
        let sa = ulid(rng, "svac");
        let ws = rng.pick(&ws_ids).clone();
        key(
            rng,
            Some((sa, "service_account".into())),
            Some(ws),
            "active",
        );
    }
    key(rng, None, None, "active");
    // Invites.
    for _ in 0..(n / 100).max(2) {
        let (email, _) = outsider(rng);
        let invited_at = now - rng.range(0, 40) * DAY;
        let id = ulid(rng, "invite");
        org.invites.insert(
            id.clone(),
            AInvite {
                id,
                email,
                role: "user".into(),
                status: if now - invited_at > 21 * DAY {
                    "expired"
                } else {
                    "pending"
                }
                .into(),
                invited_at,
                expires_at: invited_at + 21 * DAY,
            },
        );
    }
    fix_key_emails(truth, &org);
    org
}

/// Orphaned-key truth is recorded by key id with the creator's id standing in for the email;
/// `fix_key_emails` fills in each creator's email once every user exists.
fn truth_key(truth: &mut Truth, key: &str, creator: &str, detail: &str) {
    truth.plant(
        "anthropic",
        ANTHROPIC_SOURCE,
        "orphaned-key",
        Severity::Critical,
        "api_key",
        key,
        Some(creator),
        detail.to_string(),
    );
}

fn fix_key_emails(truth: &mut Truth, org: &AnthropicOrg) {
    for f in truth
        .0
        .iter_mut()
        .filter(|f| f.provider == "anthropic" && f.subject_kind == "api_key")
    {
        let creator = f.subject_email.as_deref().unwrap_or_default().to_string();
        f.subject_email = org.users.get(&creator).map(|u| u.email.as_str().into());
    }
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

/// OpenAI organisation groups: about one per four projects, each with some org users (leavers
/// among them, as the org has them), granted `member` (now and then `owner`) on a project or
/// two; one group in four is SCIM-managed. Drawn from its own stream, so the rest of the org is
/// as it was.
pub(super) fn openai_groups(rng: &mut Rng, org: &mut super::world::OpenAiOrg, now: Ts) {
    let day = 86_400;
    let users: Vec<String> = org.users.keys().cloned().collect();
    let projects: Vec<String> = org
        .projects
        .values()
        .filter(|p| p.archived_at.is_none())
        .map(|p| p.id.clone())
        .collect();
    if users.is_empty() || projects.is_empty() {
        return;
    }
    let count = (projects.len() / 4).max(2);
    for i in 0..count {
        let id = format!("group_01{}", rng.alnum(24));
        let mut members = std::collections::BTreeSet::new();
        for _ in 0..rng.range(1, 12) {
            members.insert(rng.pick(&users).clone());
        }
        org.groups.insert(
            id.clone(),
            super::world::OaiGroup {
                id: id.clone(),
                name: format!(
                    "{} team {i}",
                    capitalise(rng.pick::<&str>(super::world::PROJECT_WORDS))
                ),
                created_at: now - rng.range(30, 700) * day,
                is_scim_managed: i % 4 == 3,
                members,
            },
        );
        for _ in 0..rng.range(1, 3) {
            let role = if rng.chance(0.2) { "owner" } else { "member" };
            org.project_groups
                .entry(rng.pick(&projects).clone())
                .or_default()
                .insert(id.clone(), role.into());
        }
    }
}

/// Custom OpenAI organisation roles: three, each assigned directly to a few org users and to a
/// group or two (whose members inherit it: `assignment_sources` tells which). Drawn from its
/// own stream, so the rest of the org is as it was.
pub(super) fn openai_roles(rng: &mut Rng, org: &mut super::world::OpenAiOrg, now: Ts) {
    let day = 86_400;
    let users: Vec<String> = org.users.keys().cloned().collect();
    let groups: Vec<String> = org.groups.keys().cloned().collect();
    if users.is_empty() {
        return;
    }
    let custom: [(&str, &str, &[&str]); 3] = [
        (
            "API Group Manager",
            "Allows managing organization groups",
            &["api.groups.read", "api.groups.write"],
        ),
        (
            "Usage Auditor",
            "Reads usage and costs",
            &["api.usage.read"],
        ),
        (
            "Key Custodian",
            "Manages project API keys",
            &[
                "api.organization.projects.api_keys.read",
                "api.organization.projects.api_keys.write",
            ],
        ),
    ];
    for (name, description, permissions) in custom {
        let id = format!("role_01{}", rng.alnum(24));
        let created = now - rng.range(30, 500) * day;
        let role = oai_role(&id, (name, description, permissions), created);
        org.roles.insert(id.clone(), role);
        for _ in 0..rng.range(1, 6) {
            org.user_roles
                .entry(rng.pick(&users).clone())
                .or_default()
                .insert(id.clone());
        }
        if !groups.is_empty() {
            for _ in 0..rng.range(1, 3) {
                org.group_roles
                    .entry(rng.pick(&groups).clone())
                    .or_default()
                    .insert(id.clone());
            }
        }
    }
}

/// Custom project roles: about one project in twenty (at least one) defines one, held by a few
/// of its users directly and, where the project has groups, by one of them.
pub(super) fn openai_project_roles(rng: &mut Rng, org: &mut super::world::OpenAiOrg, now: Ts) {
    let day = 86_400;
    let custom: [(&str, &str, &[&str]); 3] = [
        (
            "Fine-tune Operator",
            "Runs fine-tuning jobs",
            &["api.fine_tuning.jobs.write"],
        ),
        ("Eval Runner", "Runs evals", &["api.evals.write"]),
        (
            "Batch Submitter",
            "Submits batch jobs",
            &["api.batch.write", "api.files.write"],
        ),
    ];
    let projects: Vec<String> = org
        .project_users
        .iter()
        .filter(|(_, users)| !users.is_empty())
        .map(|(p, _)| p.clone())
        .collect();
    for (i, p) in projects.iter().enumerate() {
        if i != 0 && !rng.chance(0.05) {
            continue;
        }
        let kind = *rng.pick(&custom);
        let id = format!("role_01{}", rng.alnum(24));
        let role = oai_role(&id, kind, now - rng.range(10, 300) * day);
        org.project_roles
            .entry(p.clone())
            .or_default()
            .insert(id.clone(), role);
        let users: Vec<String> = org.project_users[p].keys().cloned().collect();
        for _ in 0..rng.range(1, 4) {
            org.project_user_roles
                .entry(p.clone())
                .or_default()
                .entry(rng.pick(&users).clone())
                .or_default()
                .insert(id.clone());
        }
        let groups: Vec<String> = org
            .project_groups
            .get(p)
            .into_iter()
            .flat_map(|m| m.keys().cloned())
            .collect();
        if !groups.is_empty() && rng.chance(0.7) {
            org.project_group_roles
                .entry(p.clone())
                .or_default()
                .entry(rng.pick(&groups).clone())
                .or_default()
                .insert(id);
        }
    }
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
            let scim = m.email.ends_with(super::world::COMPANY_DOMAIN) && rng.chance(0.7);
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

/// A custom OpenAI role from its `(name, description, permissions)`.
fn oai_role(
    id: &str,
    (name, description, permissions): (&str, &str, &[&str]),
    created_at: Ts,
) -> super::world::OaiRole {
    super::world::OaiRole {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
        created_at,
    }
}
