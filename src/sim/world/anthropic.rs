//! The simulated Anthropic organisation: users, workspaces, keys and invites, generated from the same directory on its own random stream, with its own planted gaps.

use super::*;

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
    /// Last-activity reporting is not enabled for the org: the Analytics API omits
    /// `last_activity_date`.
    pub last_activity_off: bool,
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
