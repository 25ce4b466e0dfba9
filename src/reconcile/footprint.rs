//! One person's whole footprint across providers: directory entries, accounts, memberships and
//! roles (with where each came from), keys, last activity, findings. Pure.

use serde::Serialize;

use super::{Context, Directory, day};
use crate::model::{Account, Credential, Finding, Grant, Person, SourceData, Ts};

#[derive(Debug, Serialize)]
pub struct Footprint {
    pub email: String,
    pub directory: Vec<Person>,
    /// What each directory entry says about the person, entry by entry.
    pub said: Vec<Said>,
    pub accounts: Vec<Account>,
    pub grants: Vec<Grant>,
    pub keys: Vec<Credential>,
    /// The latest activity any provider reports for the person: an account's activity, a
    /// login in a provider's log, a use of one of their keys.
    pub last_active_at: Option<i64>,
    pub findings: Vec<Finding>,
    /// What the providers' own records say about each account and key (who added or made
    /// it, the last login, the last activity), where they say anything.
    pub history: Vec<History>,
}

/// What a provider's records say about one account or key, as lines a person reads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct History {
    pub source: String,
    /// `account` or `api_key`.
    pub subject_kind: String,
    pub subject_id: String,
    pub lines: Vec<String>,
}

/// Everything `email` (or any other address of the directory person it names) holds: what a
/// sweep of them would revoke, by the same test (`Directory::owned_by`), so an address they
/// share with another person is nobody's here either.
pub fn footprint(d: &SourceData, cx: &Context, findings: &[Finding], email: &str) -> Footprint {
    let dir = Directory::new(&d.people, &cx.rules);
    let directory: Vec<Person> = dir.people(email).iter().map(|p| (*p).clone()).collect();
    let mine = dir.owned_by(email);
    let accounts: Vec<Account> = d
        .accounts
        .iter()
        .filter(|a| mine(a.email.as_deref()))
        .cloned()
        .collect();
    let held = |source: &str, id: &str| accounts.iter().any(|a| a.source == source && a.id == id);
    let grants = d
        .grants
        .iter()
        .filter(|g| g.principal_kind == "user" && held(&g.source, &g.principal_id))
        .cloned()
        .collect();
    // The keys that run as them, and the keys recert's ownership records make theirs (a
    // reassigned key, a key of a service account they own): the rules and the Keys view
    // name them its owner, so their footprint lists it.
    let runs_as_them = |c: &Credential| {
        c.owner
            .as_ref()
            .is_some_and(|o| held(&c.source, &o.id) || mine(o.email.as_deref()))
    };
    let keys: Vec<Credential> = d
        .credentials
        .iter()
        .filter(|c| {
            runs_as_them(c)
                || super::accountable(c, &cx.owners, |_, _| None)
                    .is_some_and(|a| a.via != super::Via::Provider && mine(Some(&a.who)))
        })
        .cloned()
        .collect();
    let findings = findings
        .iter()
        .filter(|f| mine(f.subject_email.as_deref()))
        .cloned()
        .collect();
    let said = said(d, &directory.iter().collect::<Vec<_>>());
    // An account's facts are filed as the feed names it: an OpenAI `account`, a Cursor
    // `member` (by id, or by address), an Anthropic `member` (Claude Code, by address) or
    // `user` (Analytics, by id).
    let subjects = accounts
        .iter()
        .map(|a| {
            (
                "account",
                a.source.as_str(),
                a.id.as_str(),
                a.email.as_deref(),
            )
        })
        .chain(
            keys.iter()
                .map(|k| ("api_key", k.source.as_str(), k.id.as_str(), None)),
        );
    let history = subjects
        .filter_map(|(kind, source, id, email)| {
            let mut lines = super::provenance::about(d, source, kind, id);
            if kind == "account" {
                let email = email.map(str::to_lowercase);
                for (k, i) in [
                    ("member", Some(id)),
                    ("member", email.as_deref()),
                    ("user", Some(id)),
                ] {
                    if let Some(i) = i {
                        lines.extend(super::provenance::about(d, source, k, i));
                    }
                }
                lines.dedup();
            }
            (!lines.is_empty()).then(|| History {
                source: source.to_string(),
                subject_kind: kind.to_string(),
                subject_id: id.to_string(),
                lines,
            })
        })
        .collect();
    // The latest sign of life anywhere: an account's reported activity, a login the
    // provider's log records, a key that runs as them used (what `dormant-account` counts
    // too; a key they answer for by recert's records is not their use).
    let facts = super::provenance::Facts::new(d);
    let last_active_at = accounts
        .iter()
        .flat_map(|a| {
            let login = facts
                .get(&a.source, "account", &a.id, "last_login")
                .map(|p| p.at);
            [a.last_active_at, login]
        })
        .chain(
            keys.iter()
                .filter(|k| runs_as_them(k))
                .map(|k| k.last_used_at),
        )
        .flatten()
        .max();
    Footprint {
        history,
        email: email.to_string(),
        last_active_at,
        said,
        directory,
        accounts,
        grants,
        keys,
        findings,
    }
}

/// What one directory entry says about a person: which directory said it, and each fact, so
/// that a person listed by several directories (Okta for employees, a CSV for contractors)
/// shows who said what.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Said {
    pub source: String,
    pub id: String,
    /// `active`, `inactive` or `removed` (no longer listed).
    pub status: &'static str,
    pub department: Option<String>,
    pub title: Option<String>,
    pub employee_type: Option<String>,
    pub manager_id: Option<String>,
    /// The manager as a person reads them: `Name <email>` of the entry `manager_id` names in
    /// the same directory, the address itself where the directory gives one (an HR export),
    /// else `None` (shown as the raw id, marked as not listed).
    pub manager: Option<String>,
    /// `None`: the directory's groups could not be read.
    pub groups: Option<Vec<String>>,
    /// Whether the directory reports sign-ins at all.
    pub sign_in_known: bool,
    pub last_sign_in: Option<Ts>,
    pub leave_at: Option<Ts>,
    /// The AI platforms' apps this directory knows (an identity provider's `apps`).
    pub apps: Vec<AppSaid>,
}

/// One app, as one directory says it stands with the person.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppSaid {
    /// The provider source the app stands for.
    pub app_source: String,
    pub app: String,
    /// `None`: the app's assignments could not be read (or anyone may use it).
    pub assigned: Option<bool>,
    pub via: Option<String>,
    /// The last provisioning push: kind, outcome, when, what the directory called it.
    pub push: Option<String>,
    /// Whether the provisioning outcomes could be read.
    pub pushes_known: bool,
}

/// The person `id` names in directory `source`, as `Name <email>` (or the email alone), else
/// `id` itself when it is an address.
fn manager(d: &SourceData, source: &str, id: &str) -> Option<String> {
    match d.people.iter().find(|p| p.source == source && p.id == id) {
        Some(m) => {
            let email = m.emails.first().unwrap_or(&m.user_name);
            Some(match m.display_name.as_deref().filter(|n| !n.is_empty()) {
                Some(name) => format!("{name} <{email}>"),
                None => email.clone(),
            })
        }
        None => id.contains('@').then(|| id.to_string()),
    }
}

/// What each of `people` (one person's directory entries) says, in their order.
pub fn said(d: &SourceData, people: &[&Person]) -> Vec<Said> {
    people
        .iter()
        .map(|p| {
            let apps = d
                .apps
                .iter()
                .filter(|a| a.source == p.source)
                .map(|a| {
                    let x = d.app_access.iter().find(|x| {
                        x.source == p.source && x.person_id == p.id && x.app_source == a.app_source
                    });
                    let push = x.and_then(|x| {
                        let kind = x.push_kind.as_deref()?;
                        Some(format!(
                            "{kind} {} {}{}",
                            x.push_result.as_deref().unwrap_or("?"),
                            x.push_at.map(day).unwrap_or_default(),
                            x.push_detail
                                .as_deref()
                                .map(|d| format!(" ({d})"))
                                .unwrap_or_default()
                        ))
                    });
                    AppSaid {
                        app_source: a.app_source.clone(),
                        app: a.name.clone().unwrap_or_else(|| a.id.clone()),
                        assigned: (a.assignments_known && !a.open)
                            .then(|| x.is_some_and(|x| x.assigned)),
                        via: x.and_then(|x| x.via.clone()),
                        push,
                        pushes_known: a.pushes_known,
                    }
                })
                .collect();
            Said {
                source: p.source.clone(),
                id: p.id.clone(),
                status: if p.absent {
                    "removed"
                } else if p.active {
                    "active"
                } else {
                    "inactive"
                },
                department: p.department.clone(),
                title: p.title.clone(),
                employee_type: p.employee_type.clone(),
                manager_id: p.manager_id.clone(),
                manager: p
                    .manager_id
                    .as_deref()
                    .and_then(|m| manager(d, &p.source, m)),
                groups: p.groups_known.then(|| p.groups.clone()),
                sign_in_known: p.signals.sign_in_known,
                last_sign_in: p.signals.last_sign_in,
                leave_at: p.signals.leave_at,
                apps,
            }
        })
        .collect()
}

impl Said {
    /// The facts as (label, text) lines, for a table or a pane (provider text unsanitized:
    /// the front end sanitizes as it draws).
    pub fn facts(&self, now: Ts) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut about = vec![self.status.to_string()];
        about.extend(
            [&self.department, &self.title, &self.employee_type]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .cloned(),
        );
        out.push((
            "directory",
            format!("{} {} · {}", self.source, self.id, about.join(" · ")),
        ));
        match (&self.manager, &self.manager_id) {
            (Some(m), _) => out.push(("manager", m.clone())),
            (None, Some(id)) => {
                out.push(("manager", format!("{id} (not listed in {})", self.source)))
            }
            (None, None) => {}
        }
        out.push((
            "groups",
            match &self.groups {
                None => "unknown (the directory's groups could not be read)".into(),
                Some(g) if g.is_empty() => "-".into(),
                Some(g) => g.join(", "),
            },
        ));
        if self.sign_in_known {
            out.push((
                "signed in",
                match self.last_sign_in {
                    Some(t) => format!("{} ({} days ago)", day(t), (now - t).max(0) / 86_400),
                    None => "never, on record".into(),
                },
            ));
        }
        if let Some(t) = self.leave_at {
            let when = if t <= now {
                "passed".to_string()
            } else {
                format!("in {} days", (t - now + 86_399) / 86_400)
            };
            out.push(("leaves", format!("{} ({when})", day(t))));
        }
        for a in &self.apps {
            let standing = match a.assigned {
                None => "assignment unknown".to_string(),
                Some(false) => "not assigned".to_string(),
                Some(true) => match a.via.as_deref() {
                    Some("direct") | None => "assigned directly".to_string(),
                    Some(via) => format!(
                        "assigned via {}",
                        via.strip_prefix("direct, ")
                            .map(|g| format!("{g} and directly"))
                            .unwrap_or_else(|| via.to_string())
                    ),
                },
            };
            let push = match (&a.push, a.pushes_known) {
                (Some(p), _) => format!("; last push {p}"),
                (None, true) => String::new(),
                (None, false) => "; provisioning outcomes unknown".into(),
            };
            out.push((
                "app",
                format!("{} ({}): {standing}{push}", a.app, a.app_source),
            ));
        }
        out
    }
}
