//! Identity resolution: one person per directory entry; provider accounts linked by normalised
//! email (case-insensitive, with configured domain and individual aliases). An email that
//! leads to more than one person is ambiguous, never a guess.

use std::collections::HashSet;

use rustc_hash::FxHashMap as HashMap;

use super::Rules;
use crate::model::{Person, normalize_email};

/// Directory people by canonical email (every email a person has).
pub struct Directory<'a> {
    by_email: HashMap<String, Vec<&'a Person>>,
    domain_aliases: HashMap<String, String>,
    email_aliases: HashMap<String, String>,
}

/// What the directory says about an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The one matching person is active and listed.
    Current,
    /// The matching person is inactive.
    Inactive,
    /// The matching person was deleted from the directory since an earlier sync.
    Absent,
    /// Nobody in the directory has this email.
    Unknown,
    /// This many different people have this email.
    Ambiguous(usize),
}

/// Who a directory entry is, across directory sources: its user name.
fn identity(p: &Person) -> String {
    normalize_email(&p.user_name)
}

impl<'a> Directory<'a> {
    pub fn new(people: &'a [Person], rules: &Rules) -> Directory<'a> {
        let lower = |m: &std::collections::BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| (normalize_email(k), normalize_email(v)))
                .collect::<HashMap<_, _>>()
        };
        let mut dir = Directory {
            by_email: HashMap::with_capacity_and_hasher(people.len(), Default::default()),
            domain_aliases: lower(&rules.domain_aliases),
            email_aliases: lower(&rules.email_aliases),
        };
        // Canonical emails on all cores (200,000 people make 200,000 lower-cased strings).
        use rayon::prelude::*;
        let canon: Vec<Vec<String>> = people
            .par_iter()
            .map(|p| {
                let mut own: Vec<String> = p.emails.iter().map(|e| dir.canonical(e)).collect();
                own.sort_unstable();
                own.dedup();
                own
            })
            .collect();
        for (p, own) in people.iter().zip(canon) {
            for e in own {
                dir.by_email.entry(e).or_default().push(p);
            }
        }
        dir
    }

    /// Lower-cased, individual alias applied, alias domain replaced by its company domain.
    pub fn canonical(&self, email: &str) -> String {
        let mut e = normalize_email(email);
        if let Some(to) = self.email_aliases.get(&e) {
            e = to.clone();
        }
        if let Some((local, domain)) = e.rsplit_once('@')
            && let Some(to) = self.domain_aliases.get(domain)
        {
            e = format!("{local}@{to}");
        }
        e
    }

    pub fn people(&self, email: &str) -> &[&'a Person] {
        self.by_email
            .get(&self.canonical(email))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The matched person's identity, when exactly one person matches.
    pub fn person_key(&self, email: Option<&str>) -> Option<String> {
        let people = self.people(email?);
        let ids: HashSet<String> = people.iter().map(|p| identity(p)).collect();
        (ids.len() == 1).then(|| ids.into_iter().next().expect("one"))
    }

    /// Whose is an address, asked for the person `email` names: an address is theirs when it
    /// resolves to them alone; one they share with another directory person (an
    /// `ambiguous-identity`) names nobody, so what it holds is not theirs. With no single
    /// person behind `email`, the address itself. The one test of "is this account theirs"
    /// for a person's footprint (`recert person`) and their sweep (`x`, `revoke --person`).
    pub fn owned_by<'s>(&'s self, email: &str) -> impl Fn(Option<&str>) -> bool + 's {
        let me = self.person_key(Some(email));
        let wanted = self.canonical(email);
        move |e: Option<&str>| {
            e.is_some_and(|e| match &me {
                Some(id) => self.person_key(Some(e)).as_ref() == Some(id),
                None => self.canonical(e) == wanted,
            })
        }
    }

    /// How a finding says that the person `email` names has gone, naming the directory that
    /// says so: `inactive in okta`, `removed from entra` (by the source's name, as the
    /// identity-provider rules name it; `the directory` for a source named `directory`, and
    /// every source's name when several list them). None while they are current, unknown or
    /// ambiguous.
    pub fn gone(&self, email: Option<&str>) -> Option<String> {
        if !matches!(self.standing(email), Standing::Inactive | Standing::Absent) {
            return None;
        }
        // Each directory by what it says: inactive in one, removed from another.
        let people = self.people(email.unwrap_or_default());
        let said = |absent: bool, state: &str| {
            let mut sources: Vec<&str> = people
                .iter()
                .filter(|p| p.absent == absent)
                .map(|p| p.source.as_str())
                .collect();
            sources.sort_unstable();
            sources.dedup();
            let name = match sources.as_slice() {
                [] => return None,
                ["directory"] => "the directory".to_string(),
                s => s.join(" and "),
            };
            Some(format!("{state} {name}"))
        };
        let parts: Vec<String> = [said(false, "inactive in"), said(true, "removed from")]
            .into_iter()
            .flatten()
            .collect();
        Some(parts.join(", "))
    }

    pub fn standing(&self, email: Option<&str>) -> Standing {
        let people = email.map(|e| self.people(e)).unwrap_or(&[]);
        if people.is_empty() {
            return Standing::Unknown;
        }
        // The same person listed by two directory sources is one person.
        let distinct: HashSet<String> = people.iter().map(|p| identity(p)).collect();
        if distinct.len() > 1 {
            Standing::Ambiguous(distinct.len())
        } else if people.iter().any(|p| p.is_current()) {
            Standing::Current
        } else if people.iter().all(|p| p.absent) {
            Standing::Absent
        } else {
            Standing::Inactive
        }
    }
}
