//! Identity resolution and the gap rules. Pure: a snapshot's data in, findings out, in a
//! deterministic order whatever the order of the input.
//!
//! Rules so far (the full catalogue follows in the providers issue):
//! - `leaver-with-access` (critical): a provider account whose directory person is inactive or
//!   absent (deleted from the directory since an earlier sync).
//! - `orphaned-key` (critical): a project key owned by a user who is inactive or absent in the
//!   directory, gone from the provider's org, or has lost access to the project.
//! - `unmanaged-account` (high): a provider account whose email matches no directory person.

use std::collections::{HashMap, HashSet};

use crate::model::{Account, Credential, Finding, Person, Severity, SourceData, normalize_email};

/// Directory people by normalised email (every email a person has).
pub struct Directory<'a> {
    by_email: HashMap<String, Vec<&'a Person>>,
}

/// What the directory says about an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// At least one matching person is active and listed.
    Current,
    /// Every matching person is inactive.
    Inactive,
    /// Every matching person was deleted from the directory (some may also be inactive).
    Absent,
    /// Nobody in the directory has this email.
    Unknown,
}

impl<'a> Directory<'a> {
    pub fn new(people: &'a [Person]) -> Directory<'a> {
        let mut by_email: HashMap<String, Vec<&Person>> = HashMap::with_capacity(people.len());
        for p in people {
            let mut own = HashSet::new();
            for e in &p.emails {
                let e = normalize_email(e);
                if own.insert(e.clone()) {
                    by_email.entry(e).or_default().push(p);
                }
            }
        }
        Directory { by_email }
    }

    pub fn people(&self, email: &str) -> &[&'a Person] {
        self.by_email
            .get(&normalize_email(email))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn standing(&self, email: Option<&str>) -> Standing {
        let people = email.map(|e| self.people(e)).unwrap_or(&[]);
        if people.is_empty() {
            Standing::Unknown
        } else if people.iter().any(|p| p.is_current()) {
            Standing::Current
        } else if people.iter().all(|p| p.absent) {
            Standing::Absent
        } else {
            Standing::Inactive
        }
    }
}

fn provider_label(p: &str) -> &str {
    match p {
        "openai" => "OpenAI",
        "anthropic" => "Anthropic",
        "cursor" => "Cursor",
        other => other,
    }
}

/// Every finding for the data of one snapshot, sorted by severity, rule, provider, subject.
pub fn reconcile(d: &SourceData) -> Vec<Finding> {
    let dir = Directory::new(&d.people);
    let mut out = Vec::new();
    for a in &d.accounts {
        account_rules(&dir, a, &mut out);
    }
    let members: HashSet<(&str, &str)> = d
        .accounts
        .iter()
        .map(|a| (a.source.as_str(), a.id.as_str()))
        .collect();
    let by_id: HashMap<(&str, &str), &Account> = d
        .accounts
        .iter()
        .map(|a| ((a.source.as_str(), a.id.as_str()), a))
        .collect();
    let project_names: HashMap<(&str, &str), &str> = d
        .resources
        .iter()
        .map(|r| {
            (
                (r.source.as_str(), r.id.as_str()),
                r.name.as_deref().unwrap_or(r.id.as_str()),
            )
        })
        .collect();
    // Keys that act for a user (OpenAI project keys, Anthropic API keys), while still usable.
    // Admin keys have their own rules.
    for c in d
        .credentials
        .iter()
        .filter(|c| matches!(c.kind.as_str(), "project_key" | "api_key") && c.usable())
    {
        if let Some(f) = orphaned_key(&dir, c, &members, &by_id, &project_names) {
            out.push(f);
        }
    }
    sort(&mut out);
    out
}

pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (
            a.severity,
            &a.rule,
            &a.provider,
            &a.source,
            &a.subject_kind,
            &a.subject_id,
        )
            .cmp(&(
                b.severity,
                &b.rule,
                &b.provider,
                &b.source,
                &b.subject_kind,
                &b.subject_id,
            ))
    });
}

fn account_rules(dir: &Directory, a: &Account, out: &mut Vec<Finding>) {
    let p = provider_label(&a.provider);
    let role = a
        .role
        .as_deref()
        .map(|r| format!(", role {r}"))
        .unwrap_or_default();
    let finding = |rule: &str, severity, detail: String| Finding {
        rule: rule.into(),
        severity,
        provider: a.provider.clone(),
        source: a.source.clone(),
        subject_kind: "account".into(),
        subject_id: a.id.clone(),
        subject_email: a.email.clone(),
        detail,
    };
    match dir.standing(a.email.as_deref()) {
        Standing::Current => {}
        Standing::Inactive => out.push(finding(
            "leaver-with-access",
            Severity::Critical,
            format!("inactive in the directory, still has an account on {p}{role}"),
        )),
        Standing::Absent => out.push(finding(
            "leaver-with-access",
            Severity::Critical,
            format!("removed from the directory, still has an account on {p}{role}"),
        )),
        Standing::Unknown => out.push(finding(
            "unmanaged-account",
            Severity::High,
            match &a.email {
                Some(_) => format!("no directory person has this email; account on {p}{role}"),
                None => format!("the account on {p} has no email to match{role}"),
            },
        )),
    }
}

fn orphaned_key(
    dir: &Directory,
    c: &Credential,
    members: &HashSet<(&str, &str)>,
    accounts: &HashMap<(&str, &str), &Account>,
    projects: &HashMap<(&str, &str), &str>,
) -> Option<Finding> {
    let owner = c.owner.as_ref().filter(|o| o.kind == "user")?;
    let account = accounts.get(&(c.source.as_str(), owner.id.as_str()));
    let email = owner
        .email
        .clone()
        .or_else(|| account.and_then(|a| a.email.clone()));
    let project = match c.resource_id.as_deref() {
        Some(p) => projects.get(&(c.source.as_str(), p)).copied().unwrap_or(p),
        None if c.provider == "anthropic" => "the Default Workspace",
        None => "its project",
    };
    let mut reasons = Vec::new();
    match dir.standing(email.as_deref()) {
        Standing::Inactive => reasons.push("owner inactive in the directory".to_string()),
        Standing::Absent => reasons.push("owner removed from the directory".to_string()),
        Standing::Current | Standing::Unknown => {}
    }
    if !members.contains(&(c.source.as_str(), owner.id.as_str())) {
        reasons.push(format!(
            "owner no longer in the {} org",
            provider_label(&c.provider)
        ));
    }
    if c.owner_access.as_deref() == Some("inactive") {
        reasons.push("owner lost access to the project".to_string());
    }
    if reasons.is_empty() {
        return None;
    }
    let key = match (&c.name, &c.redacted) {
        (Some(n), Some(r)) => format!("key '{n}' ({r})"),
        (Some(n), None) => format!("key '{n}'"),
        (None, Some(r)) => format!("key {r}"),
        (None, None) => "key".to_string(),
    };
    Some(Finding {
        rule: "orphaned-key".into(),
        severity: Severity::Critical,
        provider: c.provider.clone(),
        source: c.source.clone(),
        subject_kind: "api_key".into(),
        subject_id: c.id.clone(),
        subject_email: email,
        detail: format!("{}; {key} in {project}", reasons.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Owner;

    fn person(email: &str, active: bool, absent: bool) -> Person {
        Person {
            source: "dir".into(),
            id: email.into(),
            user_name: email.into(),
            emails: vec![email.into()],
            display_name: None,
            active,
            absent,
            external_id: None,
            department: None,
            manager_id: None,
            groups: vec![],
        }
    }

    fn account(id: &str, email: &str) -> Account {
        Account {
            source: "openai".into(),
            provider: "openai".into(),
            id: id.into(),
            email: Some(email.into()),
            name: None,
            role: Some("reader".into()),
            added_at: None,
            last_active_at: None,
            scim_managed: None,
        }
    }

    fn key(id: &str, owner: &str, email: &str, access: &str) -> Credential {
        Credential {
            source: "openai".into(),
            provider: "openai".into(),
            kind: "project_key".into(),
            id: id.into(),
            name: None,
            redacted: None,
            resource_id: Some("proj_1".into()),
            owner: Some(Owner {
                kind: "user".into(),
                id: owner.into(),
                email: Some(email.into()),
                name: None,
            }),
            owner_access: Some(access.into()),
            status: None,
            created_at: None,
            last_used_at: None,
            expires_at: None,
        }
    }

    fn rules(d: &SourceData) -> Vec<(String, String)> {
        reconcile(d)
            .into_iter()
            .map(|f| (f.rule, f.subject_id))
            .collect()
    }

    #[test]
    fn email_matching_ignores_case_and_whitespace() {
        let d = SourceData {
            people: vec![person("alice@example.com", true, false)],
            accounts: vec![account("u1", " Alice@Example.COM ")],
            ..Default::default()
        };
        assert!(reconcile(&d).is_empty());
    }

    #[test]
    fn inactive_absent_and_unknown_people() {
        let d = SourceData {
            people: vec![
                person("a@x.com", false, false),
                person("b@x.com", true, true),
            ],
            accounts: vec![
                account("u1", "a@x.com"),
                account("u2", "b@x.com"),
                account("u3", "c@y.com"),
            ],
            ..Default::default()
        };
        let f = reconcile(&d);
        assert_eq!(
            rules(&d),
            vec![
                ("leaver-with-access".to_string(), "u1".to_string()),
                ("leaver-with-access".into(), "u2".into()),
                ("unmanaged-account".into(), "u3".into()),
            ]
        );
        assert!(
            f[1].detail.contains("removed from the directory"),
            "{}",
            f[1].detail
        );
    }

    #[test]
    fn one_current_person_is_enough() {
        let mut two = person("a@x.com", true, false);
        two.id = "other".into();
        let d = SourceData {
            people: vec![person("a@x.com", false, false), two],
            accounts: vec![account("u1", "a@x.com")],
            ..Default::default()
        };
        assert!(reconcile(&d).is_empty());
    }

    #[test]
    fn orphaned_keys_for_each_reason_and_never_for_service_accounts() {
        let mut sa_key = key("k_sa", "svc_1", "", "active");
        sa_key.owner.as_mut().unwrap().kind = "service_account".into();
        let d = SourceData {
            people: vec![
                person("a@x.com", true, false),
                person("gone@x.com", false, false),
            ],
            accounts: vec![account("u1", "a@x.com"), account("u2", "gone@x.com")],
            credentials: vec![
                key("k_ok", "u1", "a@x.com", "active"),
                key("k_inactive_person", "u2", "gone@x.com", "active"),
                key("k_lost_access", "u1", "a@x.com", "inactive"),
                key("k_not_member", "u9", "a@x.com", "active"),
                sa_key,
            ],
            ..Default::default()
        };
        let keys: Vec<String> = reconcile(&d)
            .into_iter()
            .filter(|f| f.rule == "orphaned-key")
            .map(|f| f.subject_id)
            .collect();
        assert_eq!(
            keys,
            vec!["k_inactive_person", "k_lost_access", "k_not_member"]
        );
    }

    #[test]
    fn admin_keys_are_not_project_keys() {
        let mut k = key("k_admin", "u9", "a@x.com", "inactive");
        k.kind = "admin_key".into();
        let d = SourceData {
            credentials: vec![k],
            ..Default::default()
        };
        assert!(reconcile(&d).is_empty());
    }
}
