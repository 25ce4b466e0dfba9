//! The simulated organisation: a SCIM directory and, drawn from it, an OpenAI org, an
//! Anthropic org and a Cursor team, generated deterministically from a seed with every gap
//! kind planted in known places. The planted findings are recorded as the generator decides
//! them (never by running recert's own rules over the result). One file per provider; this one
//! holds the world, the people every provider draws from and the order they are made in.
//! The truth oracle (`sim::truth`) reads the world; the world never reads the oracle.

use std::collections::{BTreeMap, HashSet};

use super::rng::Rng;
use crate::model::{Finding, Severity, Ts};

/// A day in seconds.
const DAY: i64 = 86_400;

mod anthropic;
mod cursor;
mod directory;
mod idp;
mod openai;

pub use anthropic::{AInvite, AKey, AUser, AWorkspace, AnthropicOrg};
pub use cursor::{CEvent, CMember, CursorId, CursorTeam};
pub use directory::{Directory, ScimGroup, ScimUser};
pub use idp::{Idp, IdpApp, IdpPush};
pub use openai::{
    AUDIT_REACH_DAYS, KeyOwner, OaiActor, OaiAdminKey, OaiAudit, OaiGroup, OaiInvite, OaiKey,
    OaiProject, OaiProjectUser, OaiRole, OaiServiceAccount, OaiUser, OpenAiOrg, key_spend_cents,
};

/// Source names used by `recert sim --write-config` and by the ground truth.
pub const OPENAI_SOURCE: &str = "openai";
pub const ANTHROPIC_SOURCE: &str = "anthropic";
pub const CURSOR_SOURCE: &str = "cursor";
pub const DIRECTORY_SOURCE: &str = "directory";
pub const COMPANY_DOMAIN: &str = "example.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    Small,
    Medium,
    Large,
    Xl,
}

impl Size {
    pub fn people(self) -> usize {
        match self {
            Size::Small => 50,
            Size::Medium => 2_000,
            Size::Large => 20_000,
            Size::Xl => 100_000,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct World {
    pub now: Ts,
    pub openai: OpenAiOrg,
    pub anthropic: AnthropicOrg,
    pub cursor: CursorTeam,
    pub directory: Directory,
    /// What the identity providers know beyond the people (apps, pushes, sign-ins, leave dates).
    pub idp: Idp,
    /// The findings the generator planted, in the `recert gaps --format json` shape.
    pub truth: Vec<Finding>,
}

/// Hostile provider text (`recert sim --hostile`): names that try to attack whoever reads
/// them, in a terminal (OSC 52 clipboard write, a title change, a line separator, a bidi
/// override) or in a spreadsheet (cells starting with `=`, `+`, `-`, `@`, tab, CR).
pub const HOSTILE: [&str; 8] = [
    "=HYPERLINK(\"https://evil.example/\",\"open\")",
    "ops\u{1b}]52;c;ZXZpbA==\u{7}team",
    "\u{1b}]0;pwned\u{7}research",
    "+1-555\u{2028}payroll",
    "@SUM(A1)\u{202e}txt.exe",
    "-2+3 finance",
    "\tdata",
    "\r=cmd|' /C calc'!A0",
];

impl World {
    /// Rename every OpenAI project but the Default one, every project key, every Anthropic
    /// workspace and key, and every tenth OpenAI user with [`HOSTILE`] text in turn. Findings
    /// and the truth are unchanged: only what readers see is.
    pub fn plant_hostile(&mut self) {
        let mut next = HOSTILE.iter().cycle().map(|s| s.to_string());
        for p in self
            .openai
            .projects
            .values_mut()
            .filter(|p| p.name != "Default project")
        {
            p.name = next.next().unwrap_or_default();
        }
        for k in self
            .openai
            .api_keys
            .values_mut()
            .flat_map(|m| m.values_mut())
        {
            k.name = next.next().unwrap_or_default();
        }
        for u in self.openai.users.values_mut().step_by(10) {
            u.name = next.next().unwrap_or_default();
        }
        for w in self.anthropic.workspaces.values_mut() {
            w.name = next.next().unwrap_or_default();
        }
        for k in self.anthropic.api_keys.values_mut() {
            k.name = next.next().unwrap_or_default();
        }
    }

    pub fn request_count_estimate(&self) -> usize {
        self.openai.users.len() / 100 + self.openai.projects.len() * 3
    }
}

pub(super) const GIVEN: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf", "zoe",
    "amara", "bruno", "chen", "dmitri", "elif", "farah", "gustav", "hana", "ines", "jonas",
    "kenji", "leila", "mateo", "noor", "oskar", "priya", "quinn", "rosa", "sven", "tariq", "uma",
    "vera",
];
const FAMILY: &[&str] = &[
    "smith",
    "jones",
    "garcia",
    "müller",
    "kowalski",
    "nguyen",
    "okafor",
    "rossi",
    "tanaka",
    "schmidt",
    "dubois",
    "silva",
    "ivanova",
    "haddad",
    "larsen",
    "novak",
    "costa",
    "kim",
    "patel",
    "cohen",
    "fischer",
    "moreau",
    "berg",
    "santos",
    "yilmaz",
    "murphy",
    "kaur",
    "lindqvist",
];
const TITLES: &[&str] = &[
    "Engineer",
    "Senior Engineer",
    "Staff Engineer",
    "Engineering Manager",
    "Analyst",
    "Data Scientist",
    "Product Manager",
    "Designer",
    "Account Executive",
    "Director",
    "Contractor",
];

const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Research",
    "Data",
    "Sales",
    "Support",
    "Finance",
    "Legal",
    "Marketing",
];
pub(super) const PROJECT_WORDS: &[&str] = &[
    "search",
    "billing",
    "support-bot",
    "summariser",
    "eval",
    "copilot",
    "ingest",
    "triage",
    "translate",
    "forecast",
    "moderation",
    "onboarding",
    "insights",
    "agent",
    "docs-qa",
    "pricing",
];
pub(super) const OUTSIDE_DOMAINS: &[&str] = &[
    "gmail.com",
    "contractor.io",
    "outlook.com",
    "agency.example",
];

fn ascii_fold(s: &str) -> String {
    s.replace('ü', "u")
}

pub(super) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn scim_id(rng: &mut Rng) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        rng.hex(8),
        rng.hex(4),
        rng.hex(4),
        rng.hex(4),
        rng.hex(12)
    )
}

fn redacted(rng: &mut Rng, prefix: &str) -> String {
    format!("{prefix}{}...{}", rng.alnum(3), rng.alnum(3))
}

pub(super) struct Truth(pub(super) Vec<Finding>);

impl Truth {
    fn add(
        &mut self,
        rule: &str,
        severity: Severity,
        kind: &str,
        id: &str,
        email: Option<&str>,
        detail: String,
    ) {
        self.plant(
            "openai",
            OPENAI_SOURCE,
            rule,
            severity,
            kind,
            id,
            email,
            detail,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn plant(
        &mut self,
        provider: &str,
        source: &str,
        rule: &str,
        severity: Severity,
        kind: &str,
        id: &str,
        email: Option<&str>,
        detail: String,
    ) {
        self.0.push(Finding {
            rule: rule.into(),
            severity,
            provider: provider.into(),
            source: source.into(),
            subject_kind: kind.into(),
            subject_id: id.into(),
            subject_email: email.map(Into::into),
            detail,
        });
    }
}

/// Who a directory person is, for planting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Active in the directory.
    Active,
    /// Inactive in the directory and offboarded everywhere: no gap.
    Offboarded,
    /// Inactive in the directory but still an OpenAI org user: `leaver-with-access`.
    LeaverWithAccess,
}

struct Member {
    user_id: String,
    email: String,
    name: String,
    role: String,
    added_at: Ts,
    /// The directory person behind the account is inactive.
    leaver: bool,
}

/// The world for `size` and `seed` at `now`, with the gaps it planted as it made them (the
/// findings derived from them are the oracle's: `sim::generate`).
pub fn build(size: Size, seed: u64, now: Ts) -> World {
    let mut rng = Rng::new(seed);
    let n = size.people();
    let day = 86_400;
    let mut truth = Truth(Vec::new());
    let mut dir = Directory::default();
    let mut org = OpenAiOrg::default();

    // --- The directory ---------------------------------------------------------------------
    let mut emails = HashSet::new();
    let mut people: Vec<(String, String, String, Fate)> = Vec::with_capacity(n); // scim id, email, name, fate
    let mut leavers = 0usize;
    for i in 0..n {
        let given = *rng.pick(GIVEN);
        let family = *rng.pick(FAMILY);
        let base = format!("{}.{}", given, ascii_fold(family));
        let mut email = format!("{base}@{COMPANY_DOMAIN}");
        let mut k = 2;
        while !emails.insert(email.clone()) {
            email = format!("{base}{k}@{COMPANY_DOMAIN}");
            k += 1;
        }
        // Leavers are spread through the directory, not bunched at the front.
        let fate = if i % 40 == 17 || (n < 80 && (i == 7 || i == 31)) {
            leavers += 1;
            Fate::LeaverWithAccess
        } else if i % 40 == 29 || (n < 80 && (i == 13 || i == 41)) {
            Fate::Offboarded
        } else {
            Fate::Active
        };
        let id = scim_id(&mut rng);
        let manager_id = if i >= 8 {
            Some(people[(i / 8).min(people.len() - 1)].0.clone())
        } else {
            None
        };
        let created = now - rng.range(30, 2000) * day;
        dir.users.insert(
            id.clone(),
            ScimUser {
                id: id.clone(),
                user_name: email.clone(),
                external_id: format!("emp-{:06}", i + 1),
                given_name: capitalise(given),
                family_name: capitalise(family),
                active: fate == Fate::Active,
                department: rng.pick(DEPARTMENTS).to_string(),
                // From the index, not the random stream: every seed's world stays as it was.
                title: Some(TITLES[(i * 7 + i / 5) % TITLES.len()].to_string()),
                manager_id,
                employee_number: format!("{:06}", i + 1),
                created,
                last_modified: created + rng.range(0, 20) * day,
                extra_emails: Vec::new(),
            },
        );
        let name = format!("{} {}", capitalise(given), capitalise(family));
        people.push((id, email, name, fate));
    }
    debug_assert!(leavers >= 2);
    for dept in DEPARTMENTS {
        let id = scim_id(&mut rng);
        let members = dir
            .users
            .values()
            .filter(|u| u.department == *dept)
            .map(|u| u.id.clone())
            .collect();
        dir.groups.insert(
            id.clone(),
            ScimGroup {
                id,
                display_name: format!("dept-{}", dept.to_lowercase()),
                members,
            },
        );
    }

    // --- OpenAI org users --------------------------------------------------------------------
    let mut members: Vec<Member> = Vec::new();
    for (scim_id, email, name, fate) in &people {
        let has_account = match fate {
            Fate::Active => rng.chance(0.7),
            Fate::Offboarded => false,
            Fate::LeaverWithAccess => true,
        };
        if !has_account {
            continue;
        }
        let _ = scim_id;
        let id = format!("user-{}", rng.alnum(24));
        // Providers keep whatever case the person typed; matching must not care.
        let shown_email = if rng.chance(0.1) {
            email
                .split('@')
                .map(|part| {
                    part.split('.')
                        .map(capitalise)
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .collect::<Vec<_>>()
                .join("@")
        } else {
            email.clone()
        };
        let role = if rng.chance(0.03) { "owner" } else { "reader" };
        let added_at = now - rng.range(10, 900) * day;
        if *fate == Fate::LeaverWithAccess {
            truth.add(
                "leaver-with-access",
                Severity::Critical,
                "account",
                &id,
                Some(&shown_email),
                format!("inactive in the directory, still has an account on OpenAI, role {role}"),
            );
        }
        members.push(Member {
            user_id: id,
            email: shown_email,
            name: name.clone(),
            role: role.into(),
            added_at,
            leaver: *fate == Fate::LeaverWithAccess,
        });
    }
    // Accounts nobody in the directory explains.
    for _ in 0..(n / 50).max(2) {
        let given = *rng.pick(GIVEN);
        let domain = *rng.pick(OUTSIDE_DOMAINS);
        let email = format!("{given}.{}@{domain}", rng.alnum(4).to_lowercase());
        let id = format!("user-{}", rng.alnum(24));
        truth.add(
            "unmanaged-account",
            Severity::High,
            "account",
            &id,
            Some(&email),
            "no directory person has this email; account on OpenAI, role reader".to_string(),
        );
        members.push(Member {
            user_id: id,
            email,
            name: capitalise(given),
            role: "reader".into(),
            added_at: now - rng.range(10, 400) * day,
            leaver: false,
        });
    }
    for m in &members {
        let last = if rng.chance(0.6) {
            Some(now - rng.range(0, 200) * day)
        } else {
            None
        };
        org.users.insert(
            m.user_id.clone(),
            OaiUser {
                id: m.user_id.clone(),
                name: m.name.clone(),
                email: m.email.clone(),
                role: m.role.clone(),
                added_at: m.added_at,
                api_key_last_used_at: last,
                is_scim_managed: !m.email.ends_with(COMPANY_DOMAIN) || rng.chance(0.8),
            },
        );
    }

    // --- Projects, members, service accounts, keys --------------------------------------------
    let project_count = (n / 20).max(5);
    let mut orphan_inactive_budget = (n / 100).max(2);
    let ghosts = (n / 200).max(2);
    let mut ghost_budget = ghosts;
    let mut default_project = String::new();
    for p in 0..project_count {
        let pid = format!("proj_{}", rng.alnum(24));
        let created_at = now - rng.range(60, 1200) * day;
        let archived_at = if p > 0 && rng.chance(0.1) {
            Some(created_at + rng.range(10, 50) * day)
        } else {
            None
        };
        let name = if p == 0 {
            default_project = pid.clone();
            "Default project".to_string()
        } else {
            format!("{}-{}", rng.pick(PROJECT_WORDS), p)
        };
        org.projects.insert(
            pid.clone(),
            OaiProject {
                id: pid.clone(),
                name,
                created_at,
                archived_at,
            },
        );
        let mut pusers = BTreeMap::new();
        let mut keys = BTreeMap::new();
        let count = (3 + rng.below(26) as usize).min(members.len());
        let mut chosen = HashSet::new();
        while chosen.len() < count {
            chosen.insert(rng.below(members.len() as u64) as usize);
        }
        let mut chosen: Vec<usize> = chosen.into_iter().collect();
        chosen.sort_unstable();
        for (k, &mi) in chosen.iter().enumerate() {
            let m = &members[mi];
            let role = if k == 0 || rng.chance(0.2) {
                "owner"
            } else {
                "member"
            };
            let added_at = created_at.max(m.added_at) + rng.range(0, 30) * day;
            let key_count = if rng.chance(0.45) {
                1 + rng.below(3)
            } else {
                0
            };
            // The owner was removed from the project; their keys stayed behind.
            let removed = !m.leaver
                && key_count > 0
                && orphan_inactive_budget > 0
                && rng.chance(if p + 2 >= project_count { 0.5 } else { 0.05 });
            if removed {
                orphan_inactive_budget -= 1;
            }
            for _ in 0..key_count {
                let kid = format!("key_{}", rng.alnum(16));
                let owner_email = m.email.clone();
                if m.leaver {
                    truth.add(
                        "orphaned-key",
                        Severity::Critical,
                        "api_key",
                        &kid,
                        Some(&owner_email),
                        "owner inactive in the directory".to_string(),
                    );
                } else if removed {
                    truth.add(
                        "orphaned-key",
                        Severity::Critical,
                        "api_key",
                        &kid,
                        Some(&owner_email),
                        "owner lost access to the project".to_string(),
                    );
                }
                keys.insert(
                    kid.clone(),
                    OaiKey {
                        id: kid,
                        name: format!(
                            "{}-{}",
                            rng.pick(PROJECT_WORDS),
                            rng.alnum(4).to_lowercase()
                        ),
                        redacted_value: redacted(&mut rng, "sk-proj-"),
                        created_at: added_at + rng.range(0, 60) * day,
                        last_used_at: if rng.chance(0.8) {
                            Some(now - rng.range(0, 120) * day)
                        } else {
                            None
                        },
                        owner: KeyOwner::User {
                            id: m.user_id.clone(),
                            name: m.name.clone(),
                            email: m.email.clone(),
                            role: role.into(),
                            created_at: added_at,
                        },
                        owner_project_access: if removed { "inactive" } else { "active" }.into(),
                    },
                );
            }
            if !removed {
                pusers.insert(
                    m.user_id.clone(),
                    OaiProjectUser {
                        user_id: m.user_id.clone(),
                        role: role.into(),
                        added_at,
                    },
                );
            }
        }
        // A key whose owner is no longer in the org at all (never in an archived project,
        // where a key grants nothing).
        if ghost_budget > 0
            && archived_at.is_none()
            && (p % 7 == 3 || project_count - p <= ghost_budget)
        {
            ghost_budget -= 1;
            let (kid, key) = openai::ghost_key(&mut rng, &mut truth, created_at, now);
            keys.insert(kid, key);
        }
        let mut sas = BTreeMap::new();
        for _ in 0..rng.below(4) {
            let sid = format!("svc_acct_{}", rng.alnum(20));
            sas.insert(
                sid.clone(),
                OaiServiceAccount {
                    id: sid.clone(),
                    name: format!("{}-bot", rng.pick(PROJECT_WORDS)),
                    role: if rng.chance(0.3) { "owner" } else { "member" }.into(),
                    created_at: created_at + rng.range(0, 60) * day,
                },
            );
            let kid = format!("key_{}", rng.alnum(16));
            keys.insert(
                kid.clone(),
                OaiKey {
                    id: kid,
                    name: "Secret Key".into(),
                    redacted_value: redacted(&mut rng, "sk-svcacct-"),
                    created_at: created_at + rng.range(0, 90) * day,
                    last_used_at: Some(now - rng.range(0, 60) * day),
                    owner: KeyOwner::ServiceAccount { id: sid },
                    owner_project_access: "active".into(),
                },
            );
        }
        org.project_users.insert(pid.clone(), pusers);
        org.api_keys.insert(pid.clone(), keys);
        org.service_accounts.insert(pid, sas);
    }
    // Every project a ghost would have gone to was archived: one in the Default project.
    if ghost_budget == ghosts {
        let created_at = org.projects[&default_project].created_at;
        let (kid, key) = openai::ghost_key(&mut rng, &mut truth, created_at, now);
        if let Some(keys) = org.api_keys.get_mut(&default_project) {
            keys.insert(kid, key);
        }
    }

    // --- Admin keys and invites ----------------------------------------------------------------
    let owners: Vec<&OaiUser> = org.users.values().filter(|u| u.role == "owner").collect();
    let owner_ids: Vec<String> = owners.iter().map(|u| u.id.clone()).collect();
    for i in 0..(n / 500).max(2) {
        let id = format!("key_{}", rng.alnum(16));
        let created_at = now - rng.range(10, 500) * day;
        let owner_user_id = if owner_ids.is_empty() {
            org.users.keys().next().cloned().unwrap_or_default()
        } else {
            rng.pick(&owner_ids).clone()
        };
        org.admin_keys.insert(
            id.clone(),
            OaiAdminKey {
                id,
                name: format!("admin-automation-{i}"),
                redacted_value: redacted(&mut rng, "sk-admin-"),
                created_at,
                expires_at: if i % 2 == 0 {
                    None
                } else {
                    Some(created_at + 365 * day)
                },
                last_used_at: Some(now - rng.range(0, 20) * day),
                owner_user_id,
            },
        );
    }
    let project_ids: Vec<String> = org.projects.keys().cloned().collect();
    for _ in 0..(n / 100).max(3) {
        let id = format!("invite-{}", rng.alnum(20));
        let created_at = now - rng.range(0, 60) * day;
        let status = *rng.pick(&["pending", "pending", "expired", "accepted"]);
        let given = *rng.pick(GIVEN);
        org.invites.insert(
            id.clone(),
            OaiInvite {
                id,
                // Most invites go to people the directory knows; some to strangers.
                email: if rng.chance(0.6) {
                    rng.pick(&people).1.clone()
                } else {
                    format!("{given}.{}@{COMPANY_DOMAIN}", rng.alnum(5).to_lowercase())
                },
                role: "reader".into(),
                status: status.into(),
                created_at,
                expires_at: Some(created_at + 7 * day),
                accepted_at: (status == "accepted").then_some(created_at + day),
                projects: vec![(rng.pick(&project_ids).clone(), "member".into())],
            },
        );
    }

    // The other providers draw from their own streams, so adding them left OpenAI's org as it was.
    let anthropic = anthropic::anthropic(
        &mut Rng::new(seed ^ 0xA17),
        &people_view(&people),
        now,
        &mut truth,
    );
    let mut cursor = cursor::cursor(
        &mut Rng::new(seed ^ 0xC55),
        &people_view(&people),
        now,
        &mut truth,
    );
    cursor::cursor_audit(&mut Rng::new(seed ^ 0xCA0), &mut cursor, now);

    openai::openai_groups(&mut Rng::new(seed ^ 0x6E0), &mut org, now);
    openai::openai_roles(&mut Rng::new(seed ^ 0x201E), &mut org, now);
    openai::openai_project_roles(&mut Rng::new(seed ^ 0x202E), &mut org, now);
    let mut world = World {
        now,
        openai: org,
        anthropic,
        cursor,
        directory: dir,
        idp: Idp::default(),
        truth: truth.0,
    };
    let mut extra = Rng::new(seed ^ 0x5EED);
    plant_ambiguous(&mut world, &people);
    plant_admin_group(&mut world, &mut extra);
    settle_times(&mut world);
    openai::openai_audit(&mut Rng::new(seed ^ 0xA0D1), &mut world);
    world.idp = idp::idp(&mut Rng::new(seed ^ 0x1D9), &world);
    world
}

/// Days from the present at which some rule changes its mind (defaults).
const THRESHOLDS: [i64; 5] = [14, 30, 60, 90, 180];

/// Move a time so that its age is at least two days away from every threshold: a sync a few
/// seconds or hours after generation must judge it as the truth does.
fn settle(now: Ts, t: Ts) -> Ts {
    let day = 86_400;
    let mut t = t;
    while THRESHOLDS
        .iter()
        .any(|th| ((now - t) - th * day).abs() < 2 * day)
    {
        t -= 5 * day;
    }
    t
}

fn settle_times(w: &mut World) {
    let now = w.now;
    let s = |t: &mut Ts| *t = settle(now, *t);
    for u in w.openai.users.values_mut() {
        u.api_key_last_used_at.iter_mut().for_each(s);
        s(&mut u.added_at);
    }
    for k in w.openai.api_keys.values_mut().flat_map(|m| m.values_mut()) {
        s(&mut k.created_at);
        k.last_used_at.iter_mut().for_each(s);
    }
    for k in w.openai.admin_keys.values_mut() {
        s(&mut k.created_at);
        k.last_used_at.iter_mut().for_each(s);
    }
    for i in w.openai.invites.values_mut() {
        s(&mut i.created_at);
    }
    for k in w.anthropic.api_keys.values_mut() {
        s(&mut k.created_at);
        k.last_used.iter_mut().for_each(s);
    }
    for u in w.anthropic.users.values_mut() {
        u.code_active.iter_mut().for_each(s);
    }
    for i in w.anthropic.invites.values_mut() {
        s(&mut i.invited_at);
    }
    for m in &mut w.cursor.members {
        m.last_active.iter_mut().for_each(s);
    }
    // A key is made by now, and never used before it was made (drawn apart, then settled
    // apart, the two could cross, and a key drawn some days after its owner joined could be
    // made after now: the console showed keys unused for longer than they had existed).
    let made_first = |made: &mut Ts, used: &mut Option<Ts>| {
        *made = (*made).min(now);
        if let Some(u) = used {
            *u = (*u).max(*made);
        }
    };
    for k in w.openai.api_keys.values_mut().flat_map(|m| m.values_mut()) {
        made_first(&mut k.created_at, &mut k.last_used_at);
    }
    for k in w.openai.admin_keys.values_mut() {
        made_first(&mut k.created_at, &mut k.last_used_at);
    }
    for k in w.anthropic.api_keys.values_mut() {
        made_first(&mut k.created_at, &mut k.last_used);
    }
}

/// One active person also lists another active person's address: that address is ambiguous,
/// and so is every account that uses it.
fn plant_ambiguous(w: &mut World, people: &[(String, String, String, Fate)]) {
    let active: Vec<&(String, String, String, Fate)> =
        people.iter().filter(|p| p.3 == Fate::Active).collect();
    let with_account = |email: &str| {
        let e = email.to_lowercase();
        w.openai.users.values().any(|u| u.email.to_lowercase() == e)
    };
    let Some(shared) = active.iter().find(|p| with_account(&p.1)) else {
        return;
    };
    let Some(other) = active.iter().find(|p| p.0 != shared.0) else {
        return;
    };
    if let Some(u) = w.directory.users.get_mut(&other.0) {
        u.extra_emails.push(shared.1.clone());
    }
}

/// The `ai-admins` directory group: most, not all, of the people who hold owner or admin roles
/// anywhere (the rest are `privileged-drift`), plus a few who hold none.
fn plant_admin_group(w: &mut World, rng: &mut Rng) {
    let privileged = w.privileged_emails();
    let by_email: std::collections::HashMap<String, String> = w
        .directory
        .users
        .values()
        .map(|u| (u.user_name.to_lowercase(), u.id.clone()))
        .collect();
    let mut members: Vec<String> = privileged
        .iter()
        .filter(|_| rng.chance(0.6))
        .filter_map(|e| by_email.get(e).cloned())
        .collect();
    let ids: Vec<String> = w.directory.users.keys().cloned().collect();
    for _ in 0..3 {
        members.push(rng.pick(&ids).clone());
    }
    members.sort();
    members.dedup();
    let id = scim_id(rng);
    w.directory.groups.insert(
        id.clone(),
        ScimGroup {
            id,
            display_name: ADMIN_GROUP.into(),
            members,
        },
    );
}

/// The directory group the simulator's config names in `[rules] admin_groups`.
pub const ADMIN_GROUP: &str = "ai-admins";

/// A directory person as the other providers' generators see them.
pub(super) struct PersonView {
    pub email: String,
    pub name: String,
    /// Inactive in the directory but still holding accounts (the leaver to plant).
    pub leaver: bool,
    /// Inactive and properly offboarded: holds nothing.
    pub offboarded: bool,
}

fn people_view(people: &[(String, String, String, Fate)]) -> Vec<PersonView> {
    people
        .iter()
        .map(|(_, email, name, fate)| PersonView {
            email: email.clone(),
            name: name.clone(),
            leaver: *fate == Fate::LeaverWithAccess,
            offboarded: *fate == Fate::Offboarded,
        })
        .collect()
}

impl World {
    /// Every owner or admin holding: (provider, source, subject kind, subject id, email).
    pub fn holdings(&self) -> Vec<(&'static str, &'static str, &'static str, String, String)> {
        let w = self;
        let mut h = Vec::new();
        for u in w.openai.users.values().filter(|u| u.role == "owner") {
            h.push((
                "openai",
                OPENAI_SOURCE,
                "account",
                u.id.clone(),
                u.email.clone(),
            ));
        }
        for (p, users) in &w.openai.project_users {
            for pu in users.values().filter(|pu| pu.role == "owner") {
                if let Some(u) = w.openai.users.get(&pu.user_id) {
                    h.push((
                        "openai",
                        OPENAI_SOURCE,
                        "grant",
                        format!("{p}/{}", pu.user_id),
                        u.email.clone(),
                    ));
                }
            }
        }
        for u in w
            .anthropic
            .users
            .values()
            .filter(|u| ["admin", "owner", "primary_owner"].contains(&u.role.as_str()))
        {
            h.push((
                "anthropic",
                ANTHROPIC_SOURCE,
                "account",
                u.id.clone(),
                u.email.clone(),
            ));
        }
        for (ws, members) in &w.anthropic.members {
            for (uid, role) in members.iter().filter(|(_, r)| *r == "workspace_admin") {
                let _ = role;
                if let Some(u) = w.anthropic.users.get(uid) {
                    h.push((
                        "anthropic",
                        ANTHROPIC_SOURCE,
                        "grant",
                        format!("{ws}/{uid}"),
                        u.email.clone(),
                    ));
                }
            }
        }
        for m in w
            .cursor
            .members
            .iter()
            .filter(|m| !m.is_removed && (m.role == "owner" || m.role == "free-owner"))
        {
            h.push((
                "cursor",
                CURSOR_SOURCE,
                "account",
                m.id.as_string(),
                m.email.clone(),
            ));
        }
        h
    }

    /// Lower-cased emails of everyone holding an owner or admin role somewhere.
    pub fn privileged_emails(&self) -> std::collections::BTreeSet<String> {
        self.holdings()
            .into_iter()
            .map(|h| h.4.to_lowercase())
            .collect()
    }
}

fn ulid(rng: &mut Rng, prefix: &str) -> String {
    format!("{prefix}_01{}", rng.alnum(22))
}

/// Someone outside the company (an address at another domain) and their given name.
fn outsider(rng: &mut Rng) -> (String, String) {
    let given = *rng.pick(GIVEN);
    let domain = *rng.pick(OUTSIDE_DOMAINS);
    (
        format!("{given}.{}@{domain}", rng.alnum(4).to_lowercase()),
        capitalise(given),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_for_a_seed() {
        let a = crate::sim::generate(Size::Small, 42, 1_800_000_000);
        let b = crate::sim::generate(Size::Small, 42, 1_800_000_000);
        assert_eq!(a.truth, b.truth);
        assert_eq!(
            a.openai.users.keys().collect::<Vec<_>>(),
            b.openai.users.keys().collect::<Vec<_>>()
        );
        let c = crate::sim::generate(Size::Small, 43, 1_800_000_000);
        assert_ne!(a.truth, c.truth);
    }

    /// No simulated key was made after now or used before it was made, whatever the seed and
    /// size.
    #[test]
    fn no_key_is_used_before_it_was_made() {
        for (size, seeds) in [(Size::Small, 1..60), (Size::Medium, 1..4)] {
            for seed in seeds {
                let w = crate::sim::generate(size, seed, 1_800_000_000);
                let now = w.now;
                let early =
                    |made: Ts, used: Option<Ts>| made > now || used.is_some_and(|u| u < made);
                for k in w.openai.api_keys.values().flat_map(|m| m.values()) {
                    assert!(
                        !early(k.created_at, k.last_used_at),
                        "seed {seed}: {}",
                        k.id
                    );
                }
                for k in w.openai.admin_keys.values() {
                    assert!(
                        !early(k.created_at, k.last_used_at),
                        "seed {seed}: {}",
                        k.id
                    );
                }
                for k in w.anthropic.api_keys.values() {
                    assert!(!early(k.created_at, k.last_used), "seed {seed}: {}", k.id);
                }
            }
        }
    }

    #[test]
    fn every_rule_is_planted_even_when_small() {
        for seed in 1..200 {
            let w = crate::sim::generate(Size::Small, seed, 1_800_000_000);
            for (provider, rules) in [
                (
                    "openai",
                    &["leaver-with-access", "orphaned-key", "unmanaged-account"][..],
                ),
                (
                    "anthropic",
                    &["leaver-with-access", "orphaned-key", "unmanaged-account"][..],
                ),
                ("cursor", &["leaver-with-access", "unmanaged-account"][..]),
            ] {
                for rule in rules {
                    assert!(
                        w.truth
                            .iter()
                            .any(|f| f.rule == *rule && f.provider == provider),
                        "seed {seed}: no {rule} planted on {provider}"
                    );
                }
            }
            assert!(w.directory.users.len() == 50);
            assert!(w.openai.projects.values().any(|p| p.archived_at.is_none()));
        }
    }
}
