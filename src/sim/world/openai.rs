//! The simulated OpenAI organisation: users, projects, service accounts, keys, admin keys, invites, roles and groups, with the gaps planted in them.

use super::*;

#[derive(Clone, Debug)]
pub struct OaiUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub added_at: Ts,
    pub api_key_last_used_at: Option<Ts>,
    pub is_scim_managed: bool,
}

#[derive(Clone, Debug)]
pub struct OaiProject {
    pub id: String,
    pub name: String,
    pub created_at: Ts,
    pub archived_at: Option<Ts>,
}

#[derive(Clone, Debug)]
pub struct OaiProjectUser {
    pub user_id: String,
    pub role: String,
    pub added_at: Ts,
}

#[derive(Clone, Debug)]
pub struct OaiServiceAccount {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: Ts,
}

#[derive(Clone, Debug)]
pub enum KeyOwner {
    /// A user, with the details as they were when the key was made (the user may be gone since).
    User {
        id: String,
        name: String,
        email: String,
        role: String,
        created_at: Ts,
    },
    ServiceAccount {
        id: String,
    },
}

#[derive(Clone, Debug)]
pub struct OaiKey {
    pub id: String,
    pub name: String,
    pub redacted_value: String,
    pub created_at: Ts,
    pub last_used_at: Option<Ts>,
    pub owner: KeyOwner,
    pub owner_project_access: String,
}

impl World {
    /// The key this simulator accepts is one of the OpenAI org's admin keys, as the key recert
    /// runs with is in a real org: the first admin key shows its redacted form (head and tail),
    /// so a plan that would delete it can be seen.
    pub fn admin_key_is(&mut self, key: &str) {
        let chars: Vec<char> = key.chars().collect();
        if chars.len() < 10 {
            return;
        }
        let head: String = chars[..5].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        if let Some(k) = self.openai.admin_keys.values_mut().next() {
            k.redacted_value = format!("{head}...{tail}");
            k.name = "recert-admin".into();
        }
    }
}

#[derive(Clone, Debug)]
pub struct OaiAdminKey {
    pub id: String,
    pub name: String,
    pub redacted_value: String,
    pub created_at: Ts,
    pub expires_at: Option<Ts>,
    pub last_used_at: Option<Ts>,
    pub owner_user_id: String,
}

#[derive(Clone, Debug)]
pub struct OaiInvite {
    pub id: String,
    pub email: String,
    pub role: String,
    pub status: String,
    pub created_at: Ts,
    pub expires_at: Option<Ts>,
    pub accepted_at: Option<Ts>,
    pub projects: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct OpenAiOrg {
    pub users: BTreeMap<String, OaiUser>,
    pub invites: BTreeMap<String, OaiInvite>,
    pub projects: BTreeMap<String, OaiProject>,
    pub project_users: BTreeMap<String, BTreeMap<String, OaiProjectUser>>,
    pub service_accounts: BTreeMap<String, BTreeMap<String, OaiServiceAccount>>,
    pub api_keys: BTreeMap<String, BTreeMap<String, OaiKey>>,
    pub admin_keys: BTreeMap<String, OaiAdminKey>,
    /// Organisation groups (`/organization/groups`) with their members.
    pub groups: BTreeMap<String, OaiGroup>,
    /// Per project, the groups granted access and the project role each holds.
    pub project_groups: BTreeMap<String, BTreeMap<String, String>>,
    /// Custom organisation roles (`/organization/roles`, `predefined_role: false`).
    pub roles: BTreeMap<String, OaiRole>,
    /// Custom org roles assigned to users directly: user id → role ids.
    pub user_roles: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Custom org roles assigned to groups: group id → role ids (the members inherit them).
    pub group_roles: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Custom project roles (`/projects/{p}/roles`): project id → role id → role.
    pub project_roles: BTreeMap<String, BTreeMap<String, OaiRole>>,
    /// Custom project roles assigned to project users directly: project → user → role ids.
    pub project_user_roles: BTreeMap<String, BTreeMap<String, std::collections::BTreeSet<String>>>,
    /// Custom project roles assigned to a project's groups: project → group → role ids.
    pub project_group_roles: BTreeMap<String, BTreeMap<String, std::collections::BTreeSet<String>>>,
}

/// A custom OpenAI organisation role.
#[derive(Clone, Debug)]
pub struct OaiRole {
    pub id: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub created_at: Ts,
}

/// An OpenAI organisation group. A SCIM-managed one mirrors a directory group.
#[derive(Clone, Debug)]
pub struct OaiGroup {
    pub id: String,
    pub name: String,
    pub created_at: Ts,
    pub is_scim_managed: bool,
    /// User ids.
    pub members: std::collections::BTreeSet<String>,
}

/// A project key whose owner is no longer in the OpenAI org at all (planted as an orphan).
pub(super) fn ghost_key(
    rng: &mut Rng,
    truth: &mut Truth,
    created_at: Ts,
    now: Ts,
) -> (String, OaiKey) {
    let day = 86_400;
    let kid = format!("key_{}", rng.alnum(16));
    let gid = format!("user-{}", rng.alnum(24));
    let given = *rng.pick(GIVEN);
    let email = format!("{given}.former{}@{COMPANY_DOMAIN}", rng.below(1000));
    truth.add(
        "orphaned-key",
        Severity::Critical,
        "api_key",
        &kid,
        Some(&email),
        "owner no longer in the OpenAI org, owner lost access to the project".to_string(),
    );
    let key = OaiKey {
        id: kid.clone(),
        name: format!("legacy-{}", rng.alnum(4).to_lowercase()),
        redacted_value: redacted(rng, "sk-proj-"),
        created_at: created_at + rng.range(0, 30) * day,
        last_used_at: Some(now - rng.range(0, 30) * day),
        owner: KeyOwner::User {
            id: gid,
            name: capitalise(given),
            email,
            role: "owner".into(),
            created_at,
        },
        owner_project_access: "inactive".into(),
    };
    (kid, key)
}

/// What an OpenAI project key spent on the day it was last used, in cents (the simulated costs
/// report attributes it there): derived from the id, so tests can predict it.
pub fn key_spend_cents(id: &str) -> i64 {
    1 + id.bytes().map(i64::from).sum::<i64>() % 5000
}

/// OpenAI organisation groups: about one per four projects, each with some org users (leavers
/// among them, as the org has them), granted `member` (now and then `owner`) on a project or
/// two; one group in four is SCIM-managed. Drawn from its own stream, so the rest of the org is
/// as it was.
pub(super) fn openai_groups(rng: &mut Rng, org: &mut super::OpenAiOrg, now: Ts) {
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
            super::OaiGroup {
                id: id.clone(),
                name: format!(
                    "{} team {i}",
                    capitalise(rng.pick::<&str>(super::PROJECT_WORDS))
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
pub(super) fn openai_roles(rng: &mut Rng, org: &mut super::OpenAiOrg, now: Ts) {
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
pub(super) fn openai_project_roles(rng: &mut Rng, org: &mut super::OpenAiOrg, now: Ts) {
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

/// A custom OpenAI role from its `(name, description, permissions)`.
fn oai_role(
    id: &str,
    (name, description, permissions): (&str, &str, &[&str]),
    created_at: Ts,
) -> super::OaiRole {
    super::OaiRole {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
        created_at,
    }
}
