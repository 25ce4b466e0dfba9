//! Reconciliation is deterministic, independent of input order, and local: adding a person
//! nobody's accounts point at never changes anybody's findings.

use proptest::prelude::*;
use recert::model::Finding;
use recert::model::{Account, Credential, Grant, Invite, Owner, Person, SourceData};
use recert::reconcile::{Context, RULES, reconcile, sort};

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;
const EMAILS: [&str; 6] = [
    "a@x.com",
    "B@x.com",
    "c@x.com",
    "d@y.com",
    "e@x.com",
    "shared@x.com",
];
const PROVIDERS: [&str; 3] = ["openai", "anthropic", "cursor"];

fn person() -> impl Strategy<Value = Person> {
    (
        0..EMAILS.len(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0..EMAILS.len()),
        any::<bool>(),
    )
        .prop_map(|(e, active, absent, extra, admin)| Person {
            source: "dir".into(),
            id: format!("p-{e}"),
            user_name: EMAILS[e].into(),
            emails: std::iter::once(EMAILS[e].to_string())
                .chain(extra.map(|x| EMAILS[x].to_string()))
                .collect(),
            display_name: None,
            active,
            absent,
            external_id: None,
            department: None,
            manager_id: None,
            title: None,
            groups: if admin {
                vec!["ai-admins".into()]
            } else {
                vec![]
            },
            groups_known: true,
            employee_type: None,
            signals: Default::default(),
        })
}

fn account() -> impl Strategy<Value = Account> {
    (
        0..3usize,
        0..8u8,
        0..EMAILS.len(),
        any::<bool>(),
        prop::option::of(0..200i64),
    )
        .prop_map(|(p, id, e, owner, active)| Account {
            source: PROVIDERS[p].into(),
            provider: PROVIDERS[p].into(),
            id: format!("u{id}"),
            email: Some(EMAILS[e].into()),
            name: None,
            role: Some(if owner { "owner" } else { "reader" }.into()),
            added_at: None,
            last_active_at: active.map(|d| NOW - d * DAY),
            scim_managed: None,
            activity_from: None,
        })
}

fn key() -> impl Strategy<Value = Credential> {
    (
        0..16u8,
        0..8u8,
        any::<bool>(),
        prop::option::of(0..300i64),
        0..400i64,
        any::<bool>(),
    )
        .prop_map(|(id, owner, inactive, used, age, admin)| Credential {
            source: "openai".into(),
            provider: "openai".into(),
            kind: if admin { "admin_key" } else { "project_key" }.into(),
            id: format!("k{id}"),
            name: None,
            redacted: None,
            resource_id: Some("proj".into()),
            owner: Some(Owner {
                kind: "user".into(),
                id: format!("u{owner}"),
                email: None,
                name: None,
            }),
            owner_access: Some(if inactive { "inactive" } else { "active" }.into()),
            status: None,
            created_at: Some(NOW - age * DAY),
            last_used_at: used.map(|d| NOW - d * DAY),
            expires_at: None,
            spend_cents: None,
        })
}

fn data() -> impl Strategy<Value = SourceData> {
    (
        prop::collection::vec(person(), 0..6),
        prop::collection::vec(account(), 0..10),
        prop::collection::vec(key(), 0..10),
        prop::collection::vec((0..8u8, any::<bool>()), 0..6),
        prop::collection::vec((0..EMAILS.len(), 0..40i64), 0..4),
    )
        .prop_map(
            |(mut people, mut accounts, mut credentials, grants, invites)| {
                // Stable ids are unique within a source.
                people.sort_by(|a, b| a.id.cmp(&b.id));
                people.dedup_by(|a, b| a.id == b.id);
                accounts.sort_by(|a, b| (&a.source, &a.id).cmp(&(&b.source, &b.id)));
                accounts.dedup_by(|a, b| a.source == b.source && a.id == b.id);
                credentials.sort_by(|a, b| a.id.cmp(&b.id));
                credentials.dedup_by(|a, b| a.id == b.id);
                let mut grants: Vec<Grant> = grants
                    .into_iter()
                    .map(|(u, owner)| Grant {
                        source: "openai".into(),
                        provider: "openai".into(),
                        principal_kind: "user".into(),
                        principal_id: format!("u{u}").into(),
                        resource_id: "proj".into(),
                        role: Some(if owner { "owner" } else { "member" }.into()),
                        via: "direct".into(),
                    })
                    .collect();
                grants.sort_by(|a, b| a.principal_id.cmp(&b.principal_id));
                grants.dedup_by(|a, b| a.principal_id == b.principal_id);
                let invites = invites
                    .into_iter()
                    .enumerate()
                    .map(|(i, (e, age))| Invite {
                        source: "openai".into(),
                        provider: "openai".into(),
                        id: format!("inv{i}"),
                        email: Some(EMAILS[e].into()),
                        role: None,
                        status: Some("pending".into()),
                        created_at: Some(NOW - age * DAY),
                        expires_at: None,
                    })
                    .collect();
                SourceData {
                    people,
                    accounts,
                    credentials,
                    grants,
                    invites,
                    ..Default::default()
                }
            },
        )
}

fn cx() -> Context {
    let mut cx = Context::at(NOW);
    cx.rules.admin_groups = vec!["ai-admins".into()];
    cx
}

/// Reverse every list, then rotate: a different order of the same facts.
fn reorder(d: &SourceData, by: usize) -> SourceData {
    fn turn<T: Clone>(v: &[T], by: usize) -> Vec<T> {
        let mut v: Vec<T> = v.iter().rev().cloned().collect();
        if !v.is_empty() {
            let n = by % v.len();
            v.rotate_left(n);
        }
        v
    }
    SourceData {
        people: turn(&d.people, by),
        accounts: turn(&d.accounts, by),
        resources: turn(&d.resources, by),
        grants: turn(&d.grants, by),
        service_accounts: turn(&d.service_accounts, by),
        credentials: turn(&d.credentials, by),
        invites: turn(&d.invites, by),
        apps: turn(&d.apps, by),
        app_access: turn(&d.app_access, by),
        provenance: turn(&d.provenance, by),
        feeds: turn(&d.feeds, by),
    }
}

proptest! {
    #[test]
    fn deterministic_and_independent_of_input_order(d in data(), by in 0usize..7) {
        let once = reconcile(&d, &cx());
        prop_assert_eq!(&once, &reconcile(&d, &cx()));
        prop_assert_eq!(&once, &reconcile(&reorder(&d, by), &cx()));
    }

    #[test]
    fn an_unrelated_person_changes_nobody_s_findings(d in data(), active in any::<bool>()) {
        let before = reconcile(&d, &cx());
        let mut more = d.clone();
        more.people.push(Person {
            source: "dir".into(),
            id: "p-stranger".into(),
            user_name: "stranger@elsewhere.example".into(),
            emails: vec!["stranger@elsewhere.example".into()],
            display_name: None,
            active,
            absent: false,
            external_id: None,
            department: None,
            manager_id: None,
            title: None,
            groups: vec!["ai-admins".into()],
            groups_known: true,
            employee_type: None,
            signals: Default::default(),
        });
        prop_assert_eq!(before, reconcile(&more, &cx()));
    }

    /// The key sort (group rank, 24-byte id prefix, then full strings) orders exactly as
    /// comparing every field would: ids longer than the prefix and sharing it, equal subjects
    /// with different details, several parts.
    #[test]
    fn the_key_sort_orders_as_comparing_every_field(
        raw in prop::collection::vec((0..RULES.len(), 0..3usize, 0..2usize, 0..3u8, 0..6u8, 0..4u8), 0..300)
    ) {
        let long = "proj_abcdefghijklmnopqrstuvwxyz/";
        let findings: Vec<Finding> = raw
            .iter()
            .map(|&(r, p, s, k, id, d)| Finding {
                rule: RULES[r].0.into(),
                severity: RULES[r].1,
                provider: PROVIDERS[p].into(),
                source: ["a", "b"][s].into(),
                subject_kind: ["grant", "account", "api_key"][k as usize].into(),
                subject_id: if id % 2 == 0 { format!("{long}user-{id}") } else { format!("u{id}") }.into(),
                subject_email: (d % 2 == 0).then(|| format!("e{d}@x.com").into()),
                detail: format!("detail {d}"),
            })
            .collect();
        let mut fast = findings.clone();
        sort(&mut fast);
        let mut slow = findings;
        slow.sort_by(|a, b| {
            (a.severity, &a.rule, &a.provider, &a.source, &a.subject_kind, &a.subject_id, &a.detail, &a.subject_email)
                .cmp(&(b.severity, &b.rule, &b.provider, &b.source, &b.subject_kind, &b.subject_id, &b.detail, &b.subject_email))
        });
        prop_assert_eq!(fast, slow);
    }
}

/// Addresses an identity resolver must see through: case and spaces, a company alias domain
/// (`corp.x.com` is `x.com`), an individual alias (`robert@` is `bob@`).
const ADDRESSES: [&str; 8] = [
    "a@x.com",
    " A@corp.x.com",
    "bob@x.com",
    "robert@x.com",
    "c@x.com",
    "C@X.COM ",
    "shared@x.com",
    "nobody@z.com",
];

/// The test's own reading of an address: lower case, trimmed, the individual alias, then the
/// alias domain (written apart from recert's resolver).
fn canonical(e: &str) -> String {
    let mut e = e.trim().to_lowercase();
    if e == "robert@x.com" {
        e = "bob@x.com".into();
    }
    if let Some(local) = e.strip_suffix("@corp.x.com") {
        e = format!("{local}@x.com");
    }
    e
}

proptest! {
    /// Identity resolution with every address the directories give (login, aliases, several
    /// directories) and the configured aliases never links one account to two people
    /// silently: an account whose address leads to two people is `ambiguous-identity` and
    /// nothing that would speak for either of them; one that leads to nobody is
    /// `unmanaged-account`; one that leads to exactly one person is neither.
    #[test]
    fn an_account_is_never_silently_linked_to_two_people(
        people in prop::collection::vec(
            (prop::collection::vec(0..ADDRESSES.len(), 0..3), any::<bool>(), 0..2usize),
            1..6,
        ),
        accounts in prop::collection::vec((0..ADDRESSES.len(), 0..3usize), 1..8),
    ) {
        let mut d = SourceData::default();
        for (i, (addresses, active, dir)) in people.iter().enumerate() {
            let login = format!("person{i}@people.example");
            let source = ["okta", "hr"][*dir];
            d.people.push(Person {
                source: source.into(),
                id: format!("p{i}"),
                user_name: login.clone(),
                emails: std::iter::once(login)
                    .chain(addresses.iter().map(|a| ADDRESSES[*a].to_string()))
                    .collect(),
                display_name: None,
                active: *active,
                absent: false,
                external_id: None,
                department: None,
                manager_id: None,
                title: None,
                groups: vec![],
                groups_known: true,
                employee_type: None,
                signals: recert::model::Signals {
                    sign_in_known: true,
                    last_sign_in: None,
                    leave_at: Some(NOW + DAY),
                    created_at: Some(NOW - 400 * DAY),
                },
            });
        }
        d.apps.push(recert::model::IdpApp {
            source: "okta".into(),
            app_source: "openai".into(),
            id: "0oa1".into(),
            name: None,
            assignments_known: true,
            open: false,
            pushes_known: true,
        });
        for (n, (a, p)) in accounts.iter().enumerate() {
            let provider = PROVIDERS[*p];
            d.accounts.push(Account {
                source: provider.into(),
                provider: provider.into(),
                id: format!("acct-{n}"),
                email: Some(ADDRESSES[*a].into()),
                name: None,
                role: None,
                added_at: None,
                last_active_at: None,
                scim_managed: None,
                activity_from: None,
            });
        }
        let mut cx = Context::at(NOW);
        cx.rules.domain_aliases = [("corp.x.com".to_string(), "x.com".to_string())].into();
        cx.rules.email_aliases = [("robert@x.com".to_string(), "bob@x.com".to_string())].into();
        let found = reconcile(&d, &cx);
        let speaks_for_a_person = [
            "leaver-with-access",
            "outside-idp",
            "failed-deprovision",
            "upcoming-leaver",
            "dormant-sign-in",
            "privileged-drift",
        ];
        for a in &d.accounts {
            let want = canonical(a.email.as_deref().unwrap());
            let owners: std::collections::BTreeSet<&str> = d
                .people
                .iter()
                .filter(|p| p.emails.iter().any(|e| canonical(e) == want))
                .map(|p| p.user_name.as_str())
                .collect();
            let rules: Vec<&str> = found
                .iter()
                .filter(|f| f.subject_kind == "account" && f.subject_id == a.id.as_str() && f.source == a.source.as_str())
                .map(|f| &*f.rule)
                .collect();
            match owners.len() {
                0 => {
                    prop_assert!(rules.contains(&"unmanaged-account"), "{:?}: {rules:?}", a.email);
                    prop_assert!(!rules.iter().any(|r| speaks_for_a_person.contains(r)), "{rules:?}");
                }
                1 => prop_assert!(
                    !rules.contains(&"ambiguous-identity") && !rules.contains(&"unmanaged-account"),
                    "{:?} is one person's: {rules:?}", a.email
                ),
                _ => {
                    prop_assert!(rules.contains(&"ambiguous-identity"), "{:?} ({owners:?}): {rules:?}", a.email);
                    prop_assert!(
                        !rules.iter().any(|r| speaks_for_a_person.contains(r)),
                        "{:?} belongs to {owners:?}, yet: {rules:?}", a.email
                    );
                }
            }
        }
    }
}
