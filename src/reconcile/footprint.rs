//! One person's whole footprint across providers: directory entries, accounts, memberships and
//! roles (with where each came from), keys, last activity, findings. Pure.

use serde::Serialize;

use super::{Context, Directory};
use crate::model::{Account, Credential, Finding, Grant, Person, SourceData};

#[derive(Debug, Serialize)]
pub struct Footprint {
    pub email: String,
    pub directory: Vec<Person>,
    pub accounts: Vec<Account>,
    pub grants: Vec<Grant>,
    pub keys: Vec<Credential>,
    /// The latest activity any provider reports for the person's accounts.
    pub last_active_at: Option<i64>,
    pub findings: Vec<Finding>,
}

/// Everything `email` (or any other address of the directory person it names) holds.
pub fn footprint(d: &SourceData, cx: &Context, findings: &[Finding], email: &str) -> Footprint {
    let dir = Directory::new(&d.people, &cx.rules);
    let mut addresses = vec![dir.canonical(email)];
    let directory: Vec<Person> = dir.people(email).iter().map(|p| (*p).clone()).collect();
    for p in &directory {
        addresses.extend(p.emails.iter().map(|e| dir.canonical(e)));
    }
    addresses.sort();
    addresses.dedup();
    let mine =
        |e: Option<&str>| e.is_some_and(|e| addresses.binary_search(&dir.canonical(e)).is_ok());
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
    let keys = d
        .credentials
        .iter()
        .filter(|c| {
            c.owner
                .as_ref()
                .is_some_and(|o| held(&c.source, &o.id) || mine(o.email.as_deref()))
        })
        .cloned()
        .collect();
    let findings = findings
        .iter()
        .filter(|f| mine(f.subject_email.as_deref()))
        .cloned()
        .collect();
    Footprint {
        email: email.to_string(),
        last_active_at: accounts.iter().filter_map(|a| a.last_active_at).max(),
        directory,
        accounts,
        grants,
        keys,
        findings,
    }
}
