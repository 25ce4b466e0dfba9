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
                        principal_id: format!("u{u}"),
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
