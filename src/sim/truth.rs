//! The ground truth for the rules whose findings follow from the generated world as a whole
//! (ages, expiries, roles, the census of grants): an oracle written from the rule catalogue's
//! wording against the simulator's own data, independent of recert's reconcile code.
//! Times in the world are kept at least two days away from every threshold, so these hold for a
//! sync made soon after generation.

use std::collections::{BTreeSet, HashMap};

use super::world::{
    ADMIN_GROUP, ANTHROPIC_SOURCE, CURSOR_SOURCE, KeyOwner, OPENAI_SOURCE, OaiActor, World,
};
use crate::model::{Finding, Severity};

const DAY: i64 = 86_400;
/// How far back recert reads OpenAI's logins (the README's provenance section).
const LOGIN_WINDOW_DAYS: i64 = 90;

struct Out(Vec<Finding>);

impl Out {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        rule: &str,
        sev: Severity,
        provider: &str,
        source: &str,
        kind: &str,
        id: String,
        email: Option<&str>,
        detail: &str,
    ) {
        self.0.push(Finding {
            rule: rule.into(),
            severity: sev,
            provider: provider.into(),
            source: source.into(),
            subject_kind: kind.into(),
            subject_id: id.into(),
            subject_email: email.map(Into::into),
            detail: detail.into(),
        });
    }
}

/// Directory user ids by lower-cased email (user names and further emails).
fn directory_index(w: &World) -> HashMap<String, BTreeSet<String>> {
    let mut m: HashMap<String, BTreeSet<String>> = HashMap::new();
    for u in w.directory.users.values() {
        for e in std::iter::once(&u.user_name).chain(u.extra_emails.iter()) {
            m.entry(e.to_lowercase()).or_default().insert(u.id.clone());
        }
    }
    m
}

/// Is OpenAI project `p` archived? What lives in it grants nothing and raises no finding.
fn archived_project(w: &World, p: &str) -> bool {
    w.openai
        .projects
        .get(p)
        .is_some_and(|x| x.archived_at.is_some())
}

/// Is Anthropic workspace `ws` archived? Alike.
fn archived_workspace(w: &World, ws: &str) -> bool {
    w.anthropic
        .workspaces
        .get(ws)
        .is_some_and(|x| x.archived_at.is_some())
}

/// Planted findings whose subject lives in an archived project or workspace are not findings:
/// what is there grants nothing (see `model::Archived`).
pub(super) fn drop_inert(w: &mut World) {
    let inert = |f: &Finding| -> bool {
        let id: &str = &f.subject_id;
        match (&*f.provider, &*f.subject_kind) {
            ("openai", "api_key") => w
                .openai
                .api_keys
                .iter()
                .any(|(p, keys)| keys.contains_key(id) && archived_project(w, p)),
            ("openai", "service_account") => w
                .openai
                .service_accounts
                .iter()
                .any(|(p, sas)| sas.contains_key(id) && archived_project(w, p)),
            ("openai", "grant") => archived_project(w, id.split('/').next().unwrap_or_default()),
            ("anthropic", "api_key") => w
                .anthropic
                .api_keys
                .get(id)
                .and_then(|k| k.workspace_id.as_deref())
                .is_some_and(|ws| archived_workspace(w, ws)),
            ("anthropic", "grant") => {
                archived_workspace(w, id.split('/').next().unwrap_or_default())
            }
            _ => false,
        }
    };
    let keep: Vec<bool> = w.truth.iter().map(|f| !inert(f)).collect();
    let mut keep = keep.into_iter();
    w.truth.retain(|_| keep.next().unwrap_or(true));
}

/// `dormant-key` (use reported: last use, else age when never used) and `unrotated-key` for one
/// usable key, at the default thresholds.
#[allow(clippy::too_many_arguments)]
fn key_age(
    out: &mut Out,
    now: i64,
    provider: &str,
    source: &str,
    kind: &str,
    id: &str,
    created: i64,
    last_used: Option<i64>,
) {
    let older = |t: i64, days: i64| now - t > days * DAY;
    let dormant = match last_used {
        Some(t) => older(t, 90),
        None => older(created, 30),
    };
    if dormant {
        out.push(
            "dormant-key",
            Severity::Medium,
            provider,
            source,
            kind,
            id.to_string(),
            None,
            "dormant",
        );
    }
    if older(created, 180) {
        out.push(
            "unrotated-key",
            Severity::Medium,
            provider,
            source,
            kind,
            id.to_string(),
            None,
            "old",
        );
    }
}

pub(super) fn derive(w: &World) -> Vec<Finding> {
    let now = w.now;
    let older = |t: i64, days: i64| now - t > days * DAY;
    let dir = directory_index(w);
    let matches = |email: &str| {
        dir.get(&email.to_lowercase())
            .map(BTreeSet::len)
            .unwrap_or(0)
    };
    let mut out = Out(Vec::new());
    let (oa, an, cu) = (OPENAI_SOURCE, ANTHROPIC_SOURCE, CURSOR_SOURCE);

    // OpenAI project keys and admin keys.
    // Nothing in an archived project or workspace raises a finding: it grants nothing.
    let live_p = |p: &&String| !archived_project(w, p);
    for (p, keys) in w.openai.api_keys.iter().filter(|(p, _)| live_p(p)) {
        for k in keys.values() {
            out.push(
                "scim-uncovered-grant",
                Severity::Info,
                "openai",
                oa,
                "api_key",
                k.id.clone(),
                None,
                "key",
            );
            key_age(
                &mut out,
                now,
                "openai",
                oa,
                "api_key",
                &k.id,
                k.created_at,
                k.last_used_at,
            );
        }
        for u in w
            .openai
            .project_users
            .get(p)
            .into_iter()
            .flat_map(|m| m.values())
        {
            out.push(
                "scim-uncovered-grant",
                Severity::Info,
                "openai",
                oa,
                "grant",
                format!("{p}/{}", u.user_id),
                None,
                "member",
            );
        }
        for sa in w
            .openai
            .service_accounts
            .get(p)
            .into_iter()
            .flat_map(|m| m.values())
        {
            out.push(
                "scim-uncovered-grant",
                Severity::Info,
                "openai",
                oa,
                "grant",
                format!("{p}/{}", sa.id),
                None,
                "service account",
            );
            out.push(
                "unowned-service-account",
                Severity::High,
                "openai",
                oa,
                "service_account",
                sa.id.clone(),
                None,
                "no owner",
            );
        }
    }
    // A service account's key (nobody records owners in the simulator) whose maker, as the
    // audit log names them, is a directory person who has left: nobody answers for it. Its
    // maker is the person who made the key, else (made with a service account's key, or not in
    // the log) the person who made its service account.
    if !w.openai.audit_off {
        let person = |e: &&super::world::OaiAudit| match &e.actor {
            OaiActor::Session { email, .. } | OaiActor::UserKey { email, .. } => {
                Some((e.object.clone()?, email.clone()))
            }
            OaiActor::ServiceAccountKey { .. } => None,
        };
        let made_by = |kind: &str| -> HashMap<String, String> {
            w.openai
                .audit
                .iter()
                .filter(|e| e.kind == kind)
                .filter_map(|e| person(&e))
                .collect()
        };
        let (keys_by, accounts_by) = (
            made_by("api_key.created"),
            made_by("service_account.created"),
        );
        let left = |email: &str| {
            let ids = dir.get(&email.to_lowercase());
            ids.is_some_and(|ids| {
                ids.len() == 1 && ids.iter().all(|id| !w.directory.users[id].active)
            })
        };
        for (_, keys) in w.openai.api_keys.iter().filter(|(p, _)| live_p(p)) {
            for k in keys.values() {
                let KeyOwner::ServiceAccount { id: sa } = &k.owner else {
                    continue;
                };
                let maker = keys_by.get(&k.id).or_else(|| accounts_by.get(sa));
                if maker.is_some_and(|m| left(m)) {
                    out.push(
                        "orphaned-key",
                        Severity::Critical,
                        "openai",
                        oa,
                        "api_key",
                        k.id.clone(),
                        None,
                        "maker left",
                    );
                }
            }
        }
    }
    // Group memberships SCIM does not manage, and every group's project access.
    for g in w.openai.groups.values().filter(|g| !g.is_scim_managed) {
        for u in &g.members {
            out.push(
                "scim-uncovered-grant",
                Severity::Info,
                "openai",
                oa,
                "grant",
                format!("{}/{u}", g.id),
                None,
                "group member",
            );
        }
    }
    for (p, groups) in w.openai.project_groups.iter().filter(|(p, _)| live_p(p)) {
        for g in groups.keys() {
            out.push(
                "scim-uncovered-grant",
                Severity::Info,
                "openai",
                oa,
                "grant",
                format!("{p}/{g}"),
                None,
                "group on project",
            );
        }
    }
    // Custom org roles: each group holding one, and each user holding one directly or through a
    // group SCIM does not manage (through SCIM-managed groups only, the directory governs it).
    let org = &w.openai;
    for (g, roles) in &org.group_roles {
        for r in roles.iter().filter(|r| org.roles.contains_key(*r)) {
            out.push(
                "scim-uncovered-grant",
                Severity::Info,
                "openai",
                oa,
                "grant",
                format!("{r}/{g}"),
                None,
                "group org role",
            );
        }
    }
    for u in org.users.keys() {
        for r in org.roles.keys() {
            let direct = org.user_roles.get(u).is_some_and(|s| s.contains(r));
            if direct || through_unmanaged(org, u, r, &org.group_roles) {
                out.push(
                    "scim-uncovered-grant",
                    Severity::Info,
                    "openai",
                    oa,
                    "grant",
                    format!("{r}/{u}"),
                    None,
                    "custom org role",
                );
            }
        }
    }
    // Custom project roles, alike: each group holding one on the project, and each project user
    // holding one directly or through a group SCIM does not manage.
    let custom = |p: &str| org.project_roles.get(p).into_iter().flat_map(|m| m.keys());
    for (p, groups) in org.project_group_roles.iter().filter(|(p, _)| live_p(p)) {
        for (g, roles) in groups {
            for r in custom(p).filter(|r| roles.contains(*r)) {
                out.push(
                    "scim-uncovered-grant",
                    Severity::Info,
                    "openai",
                    oa,
                    "grant",
                    format!("{r}/{g}"),
                    None,
                    "group project role",
                );
            }
        }
    }
    for (p, users) in org.project_users.iter().filter(|(p, _)| live_p(p)) {
        for u in users.keys() {
            for r in custom(p) {
                let direct = org
                    .project_user_roles
                    .get(p)
                    .and_then(|m| m.get(u))
                    .is_some_and(|s| s.contains(r));
                let groups = org.project_group_roles.get(p).into_iter().flatten();
                if direct || through_unmanaged(org, u, r, groups) {
                    out.push(
                        "scim-uncovered-grant",
                        Severity::Info,
                        "openai",
                        oa,
                        "grant",
                        format!("{r}/{u}"),
                        None,
                        "custom project role",
                    );
                }
            }
        }
    }
    for k in w.openai.admin_keys.values() {
        out.push(
            "scim-uncovered-grant",
            Severity::Info,
            "openai",
            oa,
            "admin_key",
            k.id.clone(),
            None,
            "admin key",
        );
        if k.expires_at.is_none() {
            out.push(
                "admin-key-no-expiry",
                Severity::High,
                "openai",
                oa,
                "admin_key",
                k.id.clone(),
                None,
                "no expiry",
            );
        }
        key_age(
            &mut out,
            now,
            "openai",
            oa,
            "admin_key",
            &k.id,
            k.created_at,
            k.last_used_at,
        );
    }
    // A seat is quiet since its last key use or login; recert reads the audit log's logins for
    // the last 90 days (none there: none since then, or since the user was added). With
    // logging off, only key use counts.
    let logins = (!w.openai.audit_off).then(|| {
        let mut last: HashMap<&str, i64> = HashMap::new();
        for e in w.openai.audit.iter().filter(|e| {
            e.kind == "login.succeeded" && e.effective_at >= now - LOGIN_WINDOW_DAYS * DAY
        }) {
            if let OaiActor::Session { user_id, .. } | OaiActor::UserKey { user_id, .. } = &e.actor
            {
                let t = last.entry(user_id.as_str()).or_insert(e.effective_at);
                *t = (*t).max(e.effective_at);
            }
        }
        last
    });
    // "No login since" reaches back no further than the oldest entry recert reads (changes
    // over 365 days): a log switched on lately says nothing older.
    let reach = w
        .openai
        .audit
        .iter()
        .filter(|e| e.effective_at >= now - 365 * DAY)
        .map(|e| e.effective_at)
        .min()
        .unwrap_or(now)
        .max(now - LOGIN_WINDOW_DAYS * DAY);
    // A user's keys in use (project keys and admin keys they own) are signs of life too.
    let mut keys_used: HashMap<&str, i64> = HashMap::new();
    let project_keys = w.openai.api_keys.values().flat_map(|ks| ks.values());
    let owned = project_keys
        .filter_map(|k| match &k.owner {
            KeyOwner::User { id, .. } => Some((id.as_str(), k.last_used_at?)),
            _ => None,
        })
        .chain(
            w.openai
                .admin_keys
                .values()
                .filter_map(|k| Some((k.owner_user_id.as_str(), k.last_used_at?))),
        );
    for (user, at) in owned {
        let last = keys_used.entry(user).or_insert(at);
        *last = (*last).max(at);
    }
    for u in w.openai.users.values() {
        // Only where the user's own field says something: key use never judges a seat alone.
        let used = u
            .api_key_last_used_at
            .map(|t| t.max(keys_used.get(u.id.as_str()).copied().unwrap_or(t)));
        let quiet_since = match &logins {
            None => used,
            Some(last) => [
                Some(reach),
                last.get(u.id.as_str()).copied(),
                used,
                Some(u.added_at),
            ]
            .into_iter()
            .flatten()
            .max(),
        };
        if quiet_since.is_some_and(|t| older(t, 60)) {
            out.push(
                "dormant-account",
                Severity::Low,
                "openai",
                oa,
                "account",
                u.id.clone(),
                Some(&u.email),
                "quiet",
            );
        }
    }
    for i in w.openai.invites.values().filter(|i| i.status == "pending") {
        if older(i.created_at, 14) || matches(&i.email) == 0 {
            out.push(
                "stale-invite",
                Severity::Low,
                "openai",
                oa,
                "invite",
                i.id.clone(),
                Some(&i.email),
                "stale",
            );
        }
    }

    // Anthropic: usable keys, workspace members, invites. A service account is one finding
    // however many keys it made.
    let mut unowned_sas = std::collections::HashSet::new();
    for k in w.anthropic.api_keys.values().filter(|k| {
        k.status == "active"
            && !k
                .workspace_id
                .as_deref()
                .is_some_and(|ws| archived_workspace(w, ws))
    }) {
        out.push(
            "scim-uncovered-grant",
            Severity::Info,
            "anthropic",
            an,
            "api_key",
            k.id.clone(),
            None,
            "key",
        );
        // A key a service account made: the admin key cannot list Anthropic's service
        // accounts, nobody records owners in the simulator, so the account is unowned.
        if let Some((sa, "service_account")) = k.created_by.as_ref().map(|(i, t)| (i, t.as_str()))
            && unowned_sas.insert(sa.clone())
        {
            out.push(
                "unowned-service-account",
                Severity::High,
                "anthropic",
                an,
                "service_account",
                sa.clone(),
                None,
                "no owner",
            );
        }
        // Use comes from the usage report over the last 90 days: older use is no use.
        let seen = k.last_used.filter(|t| !older(*t, 90));
        key_age(
            &mut out,
            now,
            "anthropic",
            an,
            "api_key",
            &k.id,
            k.created_at,
            seen,
        );
    }
    for (ws, members) in w
        .anthropic
        .members
        .iter()
        .filter(|(ws, _)| !archived_workspace(w, ws))
    {
        for uid in members.keys() {
            out.push(
                "scim-uncovered-grant",
                Severity::Info,
                "anthropic",
                an,
                "grant",
                format!("{ws}/{uid}"),
                None,
                "member",
            );
        }
    }
    for i in w
        .anthropic
        .invites
        .values()
        .filter(|i| i.status == "pending")
    {
        if older(i.invited_at, 14) || matches(&i.email) == 0 {
            out.push(
                "stale-invite",
                Severity::Low,
                "anthropic",
                an,
                "invite",
                i.id.clone(),
                Some(&i.email),
                "stale",
            );
        }
    }

    // Anthropic seats: the Claude Code report over the last 90 days, and the keys they made
    // in use (the messages usage report by key).
    let mut keys_used: HashMap<&str, i64> = HashMap::new();
    for k in w.anthropic.api_keys.values() {
        if let (Some((id, kind)), Some(at)) = (&k.created_by, k.last_used)
            && kind == "user"
        {
            let last = keys_used.entry(id.as_str()).or_insert(at);
            *last = (*last).max(at);
        }
    }
    for u in w.anthropic.users.values() {
        let active = u.code_active.max(keys_used.get(u.id.as_str()).copied());
        if active.is_none_or(|t| older(t, 60)) {
            out.push(
                "dormant-account",
                Severity::Low,
                "anthropic",
                an,
                "account",
                u.id.clone(),
                Some(&u.email),
                "quiet",
            );
        }
    }

    // Cursor seats: daily usage over the last 90 days is the signal; none at all counts too.
    for m in w.cursor.members.iter().filter(|m| !m.is_removed) {
        if m.last_active.is_none_or(|t| older(t, 60)) {
            out.push(
                "dormant-account",
                Severity::Low,
                "cursor",
                cu,
                "account",
                m.id.as_string(),
                Some(&m.email),
                "quiet",
            );
        }
    }

    // Identities more than one directory person could own.
    let accounts = w
        .openai
        .users
        .values()
        .map(|u| ("openai", oa, u.id.clone(), &u.email))
        .chain(
            w.anthropic
                .users
                .values()
                .map(|u| ("anthropic", an, u.id.clone(), &u.email)),
        )
        .chain(
            w.cursor
                .members
                .iter()
                .filter(|m| !m.is_removed)
                .map(|m| ("cursor", cu, m.id.as_string(), &m.email)),
        );
    for (provider, source, id, email) in accounts {
        if matches(email) > 1 {
            out.push(
                "ambiguous-identity",
                Severity::Medium,
                provider,
                source,
                "account",
                id,
                Some(email),
                "ambiguous",
            );
        }
    }

    // Owner and admin power outside the admin group (never judged for an ambiguous identity).
    let admins: BTreeSet<&String> = w
        .directory
        .groups
        .values()
        .filter(|g| g.display_name == ADMIN_GROUP)
        .flat_map(|g| g.members.iter())
        .collect();
    let inert = |provider: &str, kind: &str, id: &str| {
        let container = id.split('/').next().unwrap_or_default();
        kind == "grant"
            && match provider {
                "openai" => archived_project(w, container),
                _ => archived_workspace(w, container),
            }
    };
    for (provider, source, kind, id, email) in w.holdings() {
        if inert(provider, kind, &id) {
            continue;
        }
        let ids = dir.get(&email.to_lowercase());
        if ids.is_some_and(|s| s.len() > 1) {
            continue;
        }
        let blessed = ids.and_then(|s| s.iter().next()).is_some_and(|uid| {
            admins.contains(uid) && w.directory.users.get(uid).is_some_and(|u| u.active)
        });
        if !blessed {
            out.push(
                "privileged-drift",
                Severity::High,
                provider,
                source,
                kind,
                id,
                Some(&email),
                "drift",
            );
        }
    }
    out.0
}

/// Whether user `u` holds role `r` through a group SCIM does not manage, among `group_roles`
/// (group → role ids).
fn through_unmanaged<'a>(
    org: &super::world::OpenAiOrg,
    u: &str,
    r: &str,
    group_roles: impl IntoIterator<Item = (&'a String, &'a BTreeSet<String>)>,
) -> bool {
    group_roles.into_iter().any(|(g, roles)| {
        roles.contains(r)
            && org
                .groups
                .get(g)
                .is_some_and(|x| !x.is_scim_managed && x.members.contains(u))
    })
}

/// The findings of the rules that read an identity provider (`outside-idp`,
/// `failed-deprovision`, `upcoming-leaver`, `dormant-sign-in`), for a sync whose directory is
/// the simulator's Okta org or Entra tenant with every app configured: from the world's
/// identity-provider facts, at the default thresholds (14 days' notice, 90 days' sign-in).
pub fn idp(w: &World) -> Vec<Finding> {
    idp_seen(w, true)
}

/// [`idp`] for a directory that reports no provisioning outcomes (`pushes`: an Entra tenant
/// without a premium licence): no `failed-deprovision`, and so an unassigned person's account is
/// `outside-idp` even when the IdP removed them.
pub fn idp_seen(w: &World, pushes: bool) -> Vec<Finding> {
    let now = w.now;
    let dir = directory_index(w);
    let mut out = Out(Vec::new());
    let accounts = w
        .openai
        .users
        .values()
        .map(|u| ("openai", OPENAI_SOURCE, u.id.clone(), &u.email))
        .chain(
            w.anthropic
                .users
                .values()
                .map(|u| ("anthropic", ANTHROPIC_SOURCE, u.id.clone(), &u.email)),
        )
        .chain(
            w.cursor
                .members
                .iter()
                .filter(|m| !m.is_removed)
                .map(|m| ("cursor", CURSOR_SOURCE, m.id.as_string(), &m.email)),
        );
    // Each app's assignees, and each person's last push per app: once, not per account.
    let assignees: HashMap<&str, std::collections::HashSet<&str>> = w
        .idp
        .apps
        .keys()
        .map(|s| (s.as_str(), w.idp.assignees(w, s)))
        .collect();
    let mut last: HashMap<(&str, &str), &super::world::IdpPush> = HashMap::new();
    for p in &w.idp.pushes {
        let e = last
            .entry((p.user_id.as_str(), p.app_source.as_str()))
            .or_insert(p);
        if p.at >= e.at {
            *e = p;
        }
    }
    for (provider, source, id, email) in accounts {
        let Some(ids) = dir.get(&email.to_lowercase()).filter(|s| s.len() == 1) else {
            continue;
        };
        let uid = ids.iter().next().expect("one");
        let Some(u) = w.directory.users.get(uid) else {
            continue;
        };
        let mut f = |rule: &str, sev: Severity| {
            out.push(
                rule,
                sev,
                provider,
                source,
                "account",
                id.clone(),
                Some(email),
                rule,
            )
        };
        let last_push = last.get(&(uid.as_str(), source));
        let assigned = assignees
            .get(source)
            .is_some_and(|a| a.contains(uid.as_str()));
        // A removal that failed or did not land; not for someone assigned the app again.
        let removed = pushes && last_push.is_some_and(|p| p.deprovision) && !(u.active && assigned);
        if removed {
            f("failed-deprovision", Severity::High);
        }
        if !u.active {
            continue;
        }
        // The removal that did not land is why they are unassigned: that finding alone.
        if !assigned && !removed {
            f("outside-idp", Severity::High);
        }
        if w.idp
            .leave_at
            .get(uid)
            .is_some_and(|t| *t - now <= 14 * DAY)
        {
            f("upcoming-leaver", Severity::Medium);
        }
        // No sign-in for 90 days, or none at all from someone here longer than that.
        let quiet = match w.idp.last_sign_in.get(uid) {
            Some(t) => now - *t > 90 * DAY,
            None => now - u.created > 90 * DAY,
        };
        if quiet {
            f("dormant-sign-in", Severity::Medium);
        }
    }
    out.0
}
