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
    /// The audit log, oldest first (`/organization/audit_logs` serves it newest first).
    pub audit: Vec<OaiAudit>,
    /// Audit logging was never switched on in the org settings: the log answers an empty list.
    pub audit_off: bool,
}

impl OpenAiOrg {
    /// Append an entry to the audit log (unless logging is off), never before the last one:
    /// what a change to the org since it was generated leaves in the log.
    pub fn log(
        &mut self,
        kind: &str,
        actor: OaiActor,
        project: Option<&str>,
        object: Option<&str>,
        at: Ts,
    ) {
        if self.audit_off {
            return;
        }
        let n = self.audit.len();
        let last = self.audit.last().map(|e| e.effective_at).unwrap_or(0);
        self.audit.push(OaiAudit {
            id: format!("audit_log-later_{n:08}"),
            kind: kind.into(),
            effective_at: at.max(last),
            actor,
            project: project.map(str::to_string),
            object: object.map(str::to_string),
        });
    }
}

/// One audit log entry: what happened, to what, and who did it.
#[derive(Clone, Debug)]
pub struct OaiAudit {
    pub id: String,
    /// The event type (`api_key.created`, `login.succeeded`...).
    pub kind: String,
    pub effective_at: Ts,
    pub actor: OaiActor,
    /// The project it happened in, if any.
    pub project: Option<String>,
    /// The payload's `id`: the key, service account, user, invite or project acted on.
    pub object: Option<String>,
}

/// Who did it: a person signed in to the dashboard, or the API with a user's or a service
/// account's key.
#[derive(Clone, Debug)]
pub enum OaiActor {
    Session {
        user_id: String,
        email: String,
    },
    UserKey {
        key_id: String,
        user_id: String,
        email: String,
    },
    ServiceAccountKey {
        key_id: String,
        sa_id: String,
    },
}

/// How far back the simulated org's audit log reaches (logging was switched on then).
pub const AUDIT_REACH_DAYS: i64 = 360;

/// The org's audit log from the world as generated: who created each key and service account
/// (a user's own key by its user; a service account and its key by a person of the directory,
/// now and then one who has since left), who added each user and sent each invite, who archived
/// each archived project, and each user's last login (most users) and last failed one (a few).
/// Only what happened within `AUDIT_REACH_DAYS`; drawn from its own stream.
pub(super) fn openai_audit(rng: &mut Rng, w: &mut World) {
    let now = w.now;
    let day = 86_400;
    let reach = now - AUDIT_REACH_DAYS * day;
    // The people who make service accounts: directory people, current and departed, each
    // with one address no one else has (an address two people share decides nothing).
    let mut count: std::collections::HashMap<String, usize> = Default::default();
    for u in w.directory.users.values() {
        for e in std::iter::once(&u.user_name).chain(u.extra_emails.iter()) {
            *count.entry(e.to_lowercase()).or_default() += 1;
        }
    }
    let makers: Vec<(String, bool)> = w
        .directory
        .users
        .values()
        .filter(|u| count.get(&u.user_name.to_lowercase()) == Some(&1))
        .map(|u| (u.user_name.clone(), u.active))
        .collect();
    let (current, departed): (Vec<_>, Vec<_>) = makers.into_iter().partition(|m| m.1);
    let ids: std::collections::HashMap<String, String> = w
        .openai
        .users
        .values()
        .map(|u| (u.email.to_lowercase(), u.id.clone()))
        .collect();
    let maker = |rng: &mut Rng| -> (String, String) {
        let pool = if !departed.is_empty() && rng.chance(0.25) {
            &departed
        } else {
            &current
        };
        let email = if pool.is_empty() {
            format!("nobody@{COMPANY_DOMAIN}")
        } else {
            rng.pick(pool).0.clone()
        };
        // Their org user id; one who has left the org keeps the id the log recorded.
        let id = ids.get(&email.to_lowercase()).cloned().unwrap_or_else(|| {
            let local = email.split('@').next().unwrap_or_default().replace('.', "");
            format!("user-former{local}")
        });
        (id, email)
    };
    let owner = w
        .openai
        .users
        .values()
        .find(|u| u.role == "owner")
        .map(|u| (u.id.clone(), u.email.clone()));
    let session = |(user_id, email): (String, String)| OaiActor::Session { user_id, email };
    let mut log = Vec::new();
    let mut push =
        |kind: &str, at: Ts, actor: OaiActor, project: Option<&String>, object: Option<&String>| {
            if at >= reach && at <= now {
                log.push(OaiAudit {
                    id: String::new(),
                    kind: kind.into(),
                    effective_at: at,
                    actor,
                    project: project.cloned(),
                    object: object.cloned(),
                });
            }
        };
    let org = &w.openai;
    for (p, keys) in &org.api_keys {
        let sas = org.service_accounts.get(p);
        for k in keys.values() {
            match &k.owner {
                KeyOwner::User { id, email, .. } => push(
                    "api_key.created",
                    k.created_at,
                    session((id.clone(), email.clone())),
                    Some(p),
                    Some(&k.id),
                ),
                KeyOwner::ServiceAccount { id } => {
                    let by = maker(rng);
                    let sa_at = sas.and_then(|m| m.get(id)).map(|s| s.created_at);
                    if let Some(at) = sa_at {
                        let sa_by = if rng.chance(0.7) {
                            by.clone()
                        } else {
                            maker(rng)
                        };
                        push(
                            "service_account.created",
                            at,
                            session(sa_by),
                            Some(p),
                            Some(id),
                        );
                    }
                    // Now and then made with an admin key, through the API; now and then by
                    // another service account's key (no person: its account's maker answers).
                    let actor = if rng.chance(0.05) {
                        OaiActor::ServiceAccountKey {
                            key_id: format!("key_{}", rng.alnum(16)),
                            sa_id: id.clone(),
                        }
                    } else if rng.chance(0.2) {
                        OaiActor::UserKey {
                            key_id: format!("key_{}", rng.alnum(16)),
                            user_id: by.0,
                            email: by.1,
                        }
                    } else {
                        session(by)
                    };
                    push("api_key.created", k.created_at, actor, Some(p), Some(&k.id));
                }
            }
        }
    }
    for u in org.users.values() {
        if let Some(o) = &owner {
            push(
                "user.added",
                u.added_at,
                session(o.clone()),
                None,
                Some(&u.id),
            );
        }
        if rng.chance(0.75) {
            let at = settle(now, now - rng.range(0, 120) * day);
            push(
                "login.succeeded",
                at,
                session((u.id.clone(), u.email.clone())),
                None,
                None,
            );
        }
        if rng.chance(0.1) {
            let at = settle(now, now - rng.range(0, 60) * day);
            push(
                "login.failed",
                at,
                session((u.id.clone(), u.email.clone())),
                None,
                None,
            );
        }
    }
    for i in org.invites.values() {
        if let Some(o) = &owner {
            push(
                "invite.sent",
                i.created_at,
                session(o.clone()),
                None,
                Some(&i.id),
            );
        }
    }
    for p in org.projects.values() {
        if let (Some(at), Some(o)) = (p.archived_at, &owner) {
            push(
                "project.archived",
                at,
                session(o.clone()),
                Some(&p.id),
                Some(&p.id),
            );
        }
    }
    log.sort_by(|a, b| {
        (a.effective_at, &a.kind, &a.object).cmp(&(b.effective_at, &b.kind, &b.object))
    });
    for (n, e) in log.iter_mut().enumerate() {
        e.id = format!("audit_log-{}_{n:08}", rng.alnum(10));
    }
    w.openai.audit = log;
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
