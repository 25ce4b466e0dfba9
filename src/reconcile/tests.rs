use super::*;
use crate::model::{Invite, Owner, Person, Resource, ServiceAccount};

const NOW: Ts = 1_800_000_000;

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
        title: None,
        groups: vec![],
        groups_known: true,
        employee_type: None,
        signals: Default::default(),
    }
}

fn account(provider: &str, id: &str, email: &str) -> Account {
    Account {
        source: provider.into(),
        provider: provider.into(),
        id: id.into(),
        email: Some(email.into()),
        name: None,
        role: Some("reader".into()),
        added_at: None,
        last_active_at: None,
        scim_managed: None,
        activity_from: None,
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
        created_at: Some(NOW - 10 * DAY),
        last_used_at: Some(NOW - DAY),
        expires_at: None,
        spend_cents: None,
    }
}

fn run(d: &SourceData) -> Vec<Finding> {
    reconcile(d, &Context::at(NOW))
}

/// (rule, subject id) of every finding except the informational census.
fn rules(d: &SourceData, cx: &Context) -> Vec<(String, String)> {
    reconcile(d, cx)
        .into_iter()
        .filter(|f| f.rule != "scim-uncovered-grant")
        .map(|f| (f.rule.to_string(), f.subject_id.to_string()))
        .collect()
}

fn pair(r: &str, id: &str) -> (String, String) {
    (r.to_string(), id.to_string())
}

#[test]
fn email_matching_ignores_case_and_whitespace() {
    let d = SourceData {
        people: vec![person("alice@example.com", true, false)],
        accounts: vec![account("openai", "u1", " Alice@Example.COM ")],
        ..Default::default()
    };
    assert!(run(&d).is_empty());
}

/// A finding names the directory that says a person has gone, by its source's name; a source
/// named `directory` reads as "the directory", and each source that lists them is named.
#[test]
fn a_leaver_is_said_gone_from_the_directory_that_says_so() {
    let at = |source: &str, email: &str, active: bool| Person {
        source: source.into(),
        ..person(email, active, false)
    };
    let people = vec![
        at("okta", "a@x.com", false),
        at("directory", "b@x.com", false),
        at("okta", "c@x.com", false),
        at("hr-csv", "c@x.com", false),
        at("okta", "d@x.com", true),
    ];
    let dir = crate::reconcile::Directory::new(&people, &Default::default());
    assert_eq!(
        dir.gone(Some("a@x.com")).as_deref(),
        Some("inactive in okta")
    );
    assert_eq!(
        dir.gone(Some("b@x.com")).as_deref(),
        Some("inactive in the directory")
    );
    assert_eq!(
        dir.gone(Some("c@x.com")).as_deref(),
        Some("inactive in hr-csv and okta")
    );
    assert_eq!(dir.gone(Some("d@x.com")), None);
    // Inactive in one, deleted from another: each said as it is.
    let mut e_hr = at("hr-csv", "e@x.com", false);
    e_hr.absent = true;
    let people = vec![at("okta", "e@x.com", false), e_hr];
    let dir = crate::reconcile::Directory::new(&people, &Default::default());
    assert_eq!(
        dir.gone(Some("e@x.com")).as_deref(),
        Some("inactive in okta, removed from hr-csv")
    );
    assert_eq!(dir.gone(Some("nobody@x.com")), None);
    assert_eq!(dir.gone(None), None);
}

#[test]
fn inactive_absent_and_unknown_people() {
    let d = SourceData {
        people: vec![
            person("a@x.com", false, false),
            person("b@x.com", true, true),
        ],
        accounts: vec![
            account("openai", "u1", "a@x.com"),
            account("openai", "u2", "b@x.com"),
            account("openai", "u3", "c@y.com"),
        ],
        ..Default::default()
    };
    let f = run(&d);
    assert_eq!(
        rules(&d, &Context::at(NOW)),
        vec![
            pair("leaver-with-access", "u1"),
            pair("leaver-with-access", "u2"),
            pair("unmanaged-account", "u3")
        ]
    );
    // The directory is named as its source is (as the identity-provider rules name it).
    assert_eq!(
        f[1].detail,
        "removed from dir, still has an account on OpenAI, role reader"
    );
    assert_eq!(
        f[0].detail,
        "inactive in dir, still has an account on OpenAI, role reader"
    );
}

#[test]
fn one_leaver_finding_per_person_and_provider() {
    let d = SourceData {
        people: vec![person("a@x.com", false, false)],
        accounts: vec![
            account("openai", "u2", "a@x.com"),
            account("openai", "u1", "A@x.com"),
            account("cursor", "7", "a@x.com"),
        ],
        ..Default::default()
    };
    let f = run(&d);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(
        (f[0].provider.as_str(), f[0].subject_id.as_str()),
        ("cursor", "7")
    );
    assert_eq!(
        (f[1].provider.as_str(), f[1].subject_id.as_str()),
        ("openai", "u1")
    );
    assert!(
        f[1].detail.contains("2 accounts on OpenAI: u1, u2"),
        "{}",
        f[1].detail
    );
}

#[test]
fn one_current_entry_across_directory_sources_is_enough() {
    let mut okta = person("a@x.com", true, false);
    okta.source = "okta".into();
    let d = SourceData {
        people: vec![person("a@x.com", false, false), okta],
        accounts: vec![account("openai", "u1", "a@x.com")],
        ..Default::default()
    };
    assert!(run(&d).is_empty());
}

#[test]
fn two_people_with_one_email_are_ambiguous_not_guessed() {
    let mut bob = person("bob@x.com", false, false);
    bob.emails.push("shared@x.com".into());
    let d = SourceData {
        people: vec![person("shared@x.com", true, false), bob],
        accounts: vec![account("openai", "u1", "shared@x.com")],
        ..Default::default()
    };
    assert_eq!(
        rules(&d, &Context::at(NOW)),
        vec![pair("ambiguous-identity", "u1")]
    );
}

#[test]
fn domain_and_email_aliases_link_accounts() {
    let mut cx = Context::at(NOW);
    cx.rules
        .domain_aliases
        .insert("corp.example".into(), "example.com".into());
    cx.rules
        .email_aliases
        .insert("bobby@example.com".into(), "bob@example.com".into());
    let d = SourceData {
        people: vec![
            person("alice@example.com", true, false),
            person("bob@example.com", true, false),
        ],
        accounts: vec![
            account("openai", "u1", "Alice@Corp.Example"),
            account("openai", "u2", "bobby@example.com"),
        ],
        ..Default::default()
    };
    assert!(rules(&d, &cx).is_empty());
    assert_eq!(
        rules(&d, &Context::at(NOW)).len(),
        2,
        "without aliases both are strangers"
    );
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
        accounts: vec![
            account("openai", "u1", "a@x.com"),
            account("openai", "u2", "gone@x.com"),
        ],
        credentials: vec![
            key("k_ok", "u1", "a@x.com", "active"),
            key("k_inactive_person", "u2", "gone@x.com", "active"),
            key("k_lost_access", "u1", "a@x.com", "inactive"),
            key("k_not_member", "u9", "a@x.com", "active"),
            sa_key,
        ],
        ..Default::default()
    };
    let keys: Vec<String> = run(&d)
        .into_iter()
        .filter(|f| f.rule == "orphaned-key")
        .map(|f| f.subject_id.to_string())
        .collect();
    assert_eq!(
        keys,
        vec!["k_inactive_person", "k_lost_access", "k_not_member"]
    );
}

#[test]
fn anthropic_keys_survive_their_creator_and_default_workspace_keys_count() {
    let mut k = key("apikey_1", "user_gone", "", "");
    k.provider = "anthropic".into();
    k.source = "anthropic".into();
    k.kind = "api_key".into();
    k.owner_access = None;
    k.owner.as_mut().unwrap().email = None;
    k.resource_id = None;
    k.status = Some("active".into());
    let mut retired = k.clone();
    retired.id = "apikey_2".into();
    retired.status = Some("inactive".into());
    let d = SourceData {
        credentials: vec![k, retired],
        ..Default::default()
    };
    let f: Vec<_> = run(&d)
        .into_iter()
        .filter(|f| f.rule == "orphaned-key")
        .collect();
    assert_eq!(
        f.len(),
        1,
        "an inactive key cannot be used and is not orphaned"
    );
    assert!(
        f[0].detail.contains("no longer in the Anthropic org")
            && f[0].detail.contains("Default Workspace")
    );
}

#[test]
fn dormant_keys_at_the_edges() {
    let mut at_90 = key("k90", "u1", "a@x.com", "active");
    at_90.last_used_at = Some(NOW - 90 * DAY);
    let mut past_90 = key("k91", "u1", "a@x.com", "active");
    past_90.last_used_at = Some(NOW - 90 * DAY - 1);
    let mut never_new = key("k_new", "u1", "a@x.com", "active");
    never_new.last_used_at = None;
    never_new.created_at = Some(NOW - 30 * DAY);
    let mut never_old = key("k_old", "u1", "a@x.com", "active");
    never_old.last_used_at = None;
    never_old.created_at = Some(NOW - 31 * DAY);
    let mut anthropic = never_old.clone();
    anthropic.id = "apikey".into();
    anthropic.provider = "anthropic".into();
    let d = SourceData {
        people: vec![person("a@x.com", true, false)],
        accounts: vec![account("openai", "u1", "a@x.com")],
        credentials: vec![at_90, past_90, never_new, never_old, anthropic],
        ..Default::default()
    };
    let dormant: Vec<String> = run(&d)
        .into_iter()
        .filter(|f| f.rule == "dormant-key")
        .map(|f| f.subject_id.to_string())
        .collect();
    // Anthropic reports use through its usage report: no use in the window and older than 30
    // days is dormant there too.
    assert_eq!(dormant, vec!["apikey", "k91", "k_old"]);
    let f = run(&d);
    let anthropic = f
        .iter()
        .find(|f| f.subject_id == "apikey" && f.rule == "dormant-key")
        .unwrap();
    assert!(
        anthropic.detail.contains("no use in the last 90 days"),
        "{}",
        anthropic.detail
    );
}

#[test]
fn unrotated_and_admin_keys() {
    let mut old = key("k_old", "u1", "a@x.com", "active");
    old.created_at = Some(NOW - 181 * DAY);
    let mut edge = key("k_edge", "u1", "a@x.com", "active");
    edge.created_at = Some(NOW - 180 * DAY);
    let mut admin = key("key_admin", "u1", "a@x.com", "active");
    admin.kind = "admin_key".into();
    admin.resource_id = None;
    let mut admin_expiring = admin.clone();
    admin_expiring.id = "key_admin2".into();
    admin_expiring.expires_at = Some(NOW + DAY);
    let d = SourceData {
        people: vec![person("a@x.com", true, false)],
        accounts: vec![account("openai", "u1", "a@x.com")],
        credentials: vec![old, edge, admin, admin_expiring],
        ..Default::default()
    };
    assert_eq!(
        rules(&d, &Context::at(NOW)),
        vec![
            pair("admin-key-no-expiry", "key_admin"),
            pair("unrotated-key", "k_old")
        ]
    );
}

#[test]
fn service_accounts_need_an_owner_record() {
    let sa = |id: &str| ServiceAccount {
        source: "openai".into(),
        provider: "openai".into(),
        id: id.into(),
        resource_id: Some("proj_1".into()),
        name: Some("bot".into()),
        role: Some("member".into()),
        created_at: None,
    };
    let d = SourceData {
        service_accounts: vec![sa("svc_1"), sa("svc_2")],
        ..Default::default()
    };
    let mut cx = Context::at(NOW);
    cx.owners
        .insert(("openai".into(), "svc_2".into()), "b@x.com".into());
    assert_eq!(
        rules(&d, &cx),
        vec![pair("unowned-service-account", "svc_1")]
    );
}

/// Anthropic lists service accounts to OAuth apps only, so a service account an admin key
/// reads is known by the keys it made (`created_by.type: "service_account"`). Nobody answering
/// for it is the same gap as an OpenAI service account with no owner: one finding per service
/// account, however many keys it made, none once someone is recorded as its owner, and none
/// twice for a service account the snapshot does list.
#[test]
fn a_service_account_known_only_by_its_keys_needs_an_owner_record() {
    let made_by = |id: &str, sa: &str, status: &str| {
        let mut k = key(id, sa, "", "active");
        k.source = "anthropic".into();
        k.provider = "anthropic".into();
        k.kind = "api_key".into();
        k.name = Some(format!("{id}-name"));
        k.status = Some(status.into());
        k.owner = Some(Owner {
            kind: "service_account".into(),
            id: sa.into(),
            email: None,
            name: None,
        });
        k
    };
    let mut listed = made_by("k_listed", "svac_listed", "active");
    listed.source = "openai".into();
    listed.provider = "openai".into();
    // An OpenAI admin key owned by an org-level service account (not listed): not this rule.
    let mut org_admin = made_by("k_admin", "svc_org", "active");
    org_admin.source = "openai".into();
    org_admin.provider = "openai".into();
    org_admin.kind = "admin_key".into();
    org_admin.resource_id = None;
    let d = SourceData {
        credentials: vec![
            made_by("k1", "svac_a", "active"),
            made_by("k2", "svac_a", "active"),
            made_by("k3", "svac_owned", "active"),
            made_by("k4", "svac_gone", "inactive"),
            listed,
            org_admin,
        ],
        service_accounts: vec![ServiceAccount {
            source: "openai".into(),
            provider: "openai".into(),
            id: "svac_listed".into(),
            resource_id: None,
            name: Some("bot".into()),
            role: None,
            created_at: None,
        }],
        ..Default::default()
    };
    let mut cx = Context::at(NOW);
    cx.owners
        .insert(("anthropic".into(), "svac_owned".into()), "b@x.com".into());
    let found: Vec<_> = reconcile(&d, &cx)
        .into_iter()
        .filter(|f| f.rule == "unowned-service-account")
        .collect();
    let ids: Vec<_> = found.iter().map(|f| f.subject_id.to_string()).collect();
    assert_eq!(ids, vec!["svac_a", "svac_listed"]);
    let a = &found[0];
    assert_eq!(
        (a.provider.as_str(), a.subject_kind.as_str()),
        ("anthropic", "service_account")
    );
    assert!(
        a.detail.contains("k1-name") && a.detail.contains("1 more key"),
        "{}",
        a.detail
    );
    assert!(
        a.detail.contains("OAuth"),
        "says why it has no name: {}",
        a.detail
    );
}

#[test]
fn privileged_drift_only_with_admin_groups_and_never_for_ambiguous_people() {
    let mut admin = person("admin@x.com", true, false);
    admin.groups = vec!["ai-admins".into()];
    let mut owner = account("openai", "u_owner", "owner@x.com");
    owner.role = Some("owner".into());
    let mut blessed = account("openai", "u_admin", "admin@x.com");
    blessed.role = Some("owner".into());
    let grant = |p: &str, role: &str| Grant {
        source: "openai".into(),
        provider: "openai".into(),
        principal_kind: "user".into(),
        principal_id: p.into(),
        resource_id: "proj_1".into(),
        role: Some(role.into()),
        via: "direct".into(),
    };
    let d = SourceData {
        people: vec![admin, person("owner@x.com", true, false)],
        accounts: vec![owner, blessed],
        grants: vec![
            grant("u_owner", "owner"),
            grant("u_owner", "member"),
            grant("u_admin", "owner"),
        ],
        ..Default::default()
    };
    assert!(
        rules(&d, &Context::at(NOW)).is_empty(),
        "no admin groups configured: off"
    );
    let mut cx = Context::at(NOW);
    cx.rules.admin_groups = vec!["ai-admins".into()];
    assert_eq!(
        rules(&d, &cx),
        vec![
            pair("privileged-drift", "u_owner"),
            pair("privileged-drift", "proj_1/u_owner")
        ]
    );
}

#[test]
fn dormant_accounts_and_stale_invites() {
    let mut quiet = account("openai", "u1", "a@x.com");
    quiet.last_active_at = Some(NOW - 61 * DAY);
    let mut busy = account("openai", "u2", "b@x.com");
    busy.last_active_at = Some(NOW - 60 * DAY);
    let invite = |id: &str, email: &str, age: i64, status: &str| Invite {
        source: "openai".into(),
        provider: "openai".into(),
        id: id.into(),
        email: Some(email.into()),
        role: None,
        status: Some(status.into()),
        created_at: Some(NOW - age * DAY),
        expires_at: None,
    };
    let d = SourceData {
        people: vec![
            person("a@x.com", true, false),
            person("b@x.com", true, false),
        ],
        accounts: vec![quiet, busy],
        invites: vec![
            invite("i_fresh", "a@x.com", 14, "pending"),
            invite("i_old", "a@x.com", 15, "pending"),
            invite("i_stranger", "z@y.com", 1, "pending"),
            invite("i_done", "z@y.com", 99, "accepted"),
        ],
        ..Default::default()
    };
    assert_eq!(
        rules(&d, &Context::at(NOW)),
        vec![
            pair("dormant-account", "u1"),
            pair("stale-invite", "i_old"),
            pair("stale-invite", "i_stranger")
        ]
    );
}

#[test]
fn the_census_counts_every_grant_and_usable_key() {
    let d = SourceData {
        grants: vec![Grant {
            source: "anthropic".into(),
            provider: "anthropic".into(),
            principal_kind: "user".into(),
            principal_id: "user_1".into(),
            resource_id: "wrkspc_1".into(),
            role: Some("workspace_developer".into()),
            via: "direct".into(),
        }],
        credentials: vec![key("k1", "u1", "a@x.com", "active")],
        ..Default::default()
    };
    let census: Vec<_> = run(&d)
        .into_iter()
        .filter(|f| f.rule == "scim-uncovered-grant")
        .map(|f| (f.subject_kind.to_string(), f.subject_id.to_string()))
        .collect();
    assert_eq!(
        census,
        vec![
            ("grant".to_string(), "wrkspc_1/user_1".to_string()),
            ("api_key".into(), "k1".into())
        ]
    );
}

/// A role held through a provider group names the group as a reviewer knows it: by its name
/// where the snapshot lists one (its id otherwise), never as the raw `group:ID` a connector
/// records.
#[test]
fn a_grant_through_a_group_names_the_group() {
    let resource = |kind: &str, id: &str, name: Option<&str>| Resource {
        source: "openai".into(),
        provider: "openai".into(),
        kind: kind.into(),
        id: id.into(),
        name: name.map(Into::into),
        archived: false,
        created_at: None,
        parent: None,
    };
    let grant = |principal: &str, via: &str| Grant {
        source: "openai".into(),
        provider: "openai".into(),
        principal_kind: "user".into(),
        principal_id: principal.into(),
        resource_id: "proj_1".into(),
        role: Some("member".into()),
        via: via.into(),
    };
    let d = SourceData {
        resources: vec![
            resource("project", "proj_1", Some("Search")),
            resource("group", "group_01ab", Some("ML Platform")),
        ],
        grants: vec![
            grant("u1", "group:group_01ab"),
            grant("u2", "group:group_unlisted"),
            grant("u3", "direct"),
        ],
        ..Default::default()
    };
    let details: Vec<String> = run(&d)
        .into_iter()
        .filter(|f| f.rule == "scim-uncovered-grant")
        .map(|f| f.detail)
        .collect();
    assert_eq!(
        details,
        vec![
            "user is member of Search via group ML Platform".to_string(),
            "user is member of Search via group group_unlisted".into(),
            "user is member of Search".into(),
        ]
    );
}

#[test]
fn every_rule_has_an_explanation() {
    for (id, _, text) in RULES {
        assert!(!text.is_empty(), "{id}");
        assert_eq!(explain(id), *text);
    }
}

#[test]
fn nothing_inside_an_archived_project_or_workspace_raises_a_finding() {
    let resource = |kind: &str, id: &str, archived: bool, parent: Option<&str>| Resource {
        source: "openai".into(),
        provider: "openai".into(),
        kind: kind.into(),
        id: id.into(),
        name: None,
        archived,
        created_at: None,
        parent: parent.map(Into::into),
    };
    let grant = |resource: &str, role: &str| Grant {
        source: "openai".into(),
        provider: "openai".into(),
        principal_kind: "user".into(),
        principal_id: "u1".into(),
        resource_id: resource.into(),
        role: Some(role.into()),
        via: "direct".into(),
    };
    let in_project = |p: &str| {
        let mut k = key(&format!("key_{p}"), "u_gone", "gone@x.com", "inactive");
        k.resource_id = Some(p.into());
        k
    };
    let sa = |p: &str| ServiceAccount {
        source: "openai".into(),
        provider: "openai".into(),
        id: format!("svc_{p}"),
        resource_id: Some(p.into()),
        name: None,
        role: None,
        created_at: None,
    };
    let d = |archived: bool| SourceData {
        people: vec![person("a@x.com", true, false)],
        accounts: vec![account("openai", "u1", "a@x.com")],
        resources: vec![
            resource("project", "proj_1", archived, None),
            resource("role", "role_1", false, Some("proj_1")),
        ],
        grants: vec![grant("proj_1", "owner"), grant("role_1", "custom")],
        service_accounts: vec![sa("proj_1")],
        credentials: vec![in_project("proj_1")],
        ..Default::default()
    };
    let mut cx = Context::at(NOW);
    cx.rules.admin_groups = vec!["admins".into()];
    let live = reconcile(&d(false), &cx);
    let ids = |fs: &[Finding]| {
        let mut v: Vec<String> = fs.iter().map(|f| f.subject_id.to_string()).collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(
        ids(&live),
        vec!["key_proj_1", "proj_1/u1", "role_1/u1", "svc_proj_1"],
        "live: {live:?}"
    );
    let archived = reconcile(&d(true), &cx);
    assert!(archived.is_empty(), "archived: {archived:?}");
}

/// Owner means an accountable person: recert's record for the key, else the user the provider
/// says owns it, else the recorded owner of the service account it runs as. A service account
/// is never an owner, and each answer says where it came from.
#[test]
fn a_keys_owner_is_an_accountable_person_with_its_provenance() {
    let mut sa_key = key("k_sa", "svc_1", "", "active");
    let o = sa_key.owner.as_mut().unwrap();
    o.kind = "service_account".into();
    o.email = None;
    o.name = Some("deploy-bot".into());
    let mut sa_key_owned = sa_key.clone();
    sa_key_owned.id = "k_sa2".into();
    sa_key_owned.owner.as_mut().unwrap().id = "svc_2".into();
    let user_key = key("k_user", "u1", "a@x.com", "active");
    let mut owners = Owners::default();
    owners.insert(("openai".into(), "svc_2".into()), "b@x.com".into());
    let who = |c: &Credential, owners: &Owners| {
        accountable(c, owners, |_, _| None).map(|a| (a.who.to_string(), a.via.as_str()))
    };
    assert_eq!(
        who(&sa_key, &owners),
        None,
        "a service account is not an owner"
    );
    assert_eq!(
        who(&sa_key_owned, &owners),
        Some(("b@x.com".into(), "inferred")),
        "the service account's recorded owner answers for its keys"
    );
    assert_eq!(
        who(&user_key, &owners),
        Some(("a@x.com".into(), "provider"))
    );
    owners.insert(("openai".into(), "k_user".into()), "c@x.com".into());
    owners.insert(("openai".into(), "k_sa".into()), "c@x.com".into());
    assert_eq!(who(&user_key, &owners), Some(("c@x.com".into(), "record")));
    assert_eq!(who(&sa_key, &owners), Some(("c@x.com".into(), "record")));
}

/// After a reassign the finding routes to the recorded owner and says what is still wrong; a
/// recorded owner who has left orphans the key again, service-account keys included.
#[test]
fn a_reassigned_orphan_says_what_is_left_and_a_departed_recorded_owner_orphans_again() {
    let mut sa_key = key("k_sa", "svc_1", "", "active");
    sa_key.owner.as_mut().unwrap().kind = "service_account".into();
    let d = SourceData {
        people: vec![
            person("new@x.com", true, false),
            person("gone@x.com", false, false),
            person("left@x.com", false, false),
        ],
        accounts: vec![account("openai", "u2", "gone@x.com")],
        credentials: vec![key("k_orphan", "u2", "gone@x.com", "active"), sa_key],
        ..Default::default()
    };
    let orphans = |cx: &Context| -> Vec<Finding> {
        reconcile(&d, cx)
            .into_iter()
            .filter(|f| f.rule == "orphaned-key")
            .collect()
    };
    let mut cx = Context::at(NOW);
    let before = orphans(&cx);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].subject_email.as_deref(), Some("gone@x.com"));

    cx.owners
        .insert(("openai".into(), "k_orphan".into()), "new@x.com".into());
    let after = orphans(&cx);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].subject_email.as_deref(), Some("new@x.com"));
    assert!(
        after[0].detail.contains("still runs as gone@x.com")
            && after[0].detail.contains("rotate it"),
        "{}",
        after[0].detail
    );

    cx.owners
        .insert(("openai".into(), "svc_1".into()), "left@x.com".into());
    let sa: Vec<Finding> = orphans(&cx)
        .into_iter()
        .filter(|f| f.subject_id == "k_sa")
        .collect();
    assert_eq!(sa.len(), 1, "{sa:?}");
    assert_eq!(sa[0].subject_email.as_deref(), Some("left@x.com"));
    assert!(
        sa[0]
            .detail
            .contains("recorded owner left@x.com inactive in dir"),
        "{}",
        sa[0].detail
    );
}

fn app(source: &str, app_source: &str) -> crate::model::IdpApp {
    crate::model::IdpApp {
        source: source.into(),
        app_source: app_source.into(),
        id: format!("0oa-{app_source}"),
        name: Some(format!("{app_source} app")),
        assignments_known: true,
        open: false,
        pushes_known: true,
    }
}

fn access(person: &str, app_source: &str, assigned: bool) -> crate::model::AppAccess {
    crate::model::AppAccess {
        source: "dir".into(),
        person_id: person.into(),
        app_source: app_source.into(),
        assigned,
        via: assigned.then(|| "direct".into()),
        push_kind: None,
        push_result: None,
        push_at: None,
        push_detail: None,
    }
}

#[test]
fn identity_provider_rules_judge_only_what_the_directory_could_say() {
    let mut leaving = person("leaving@x.com", true, false);
    leaving.signals.leave_at = Some(NOW + 5 * DAY);
    let mut later = person("later@x.com", true, false);
    later.signals.leave_at = Some(NOW + 40 * DAY);
    let mut quiet = person("quiet@x.com", true, false);
    quiet.signals = crate::model::Signals {
        sign_in_known: true,
        last_sign_in: Some(NOW - 120 * DAY),
        leave_at: None,
        created_at: None,
    };
    let mut never = person("never@x.com", true, false);
    never.signals.sign_in_known = true;
    let mut recent = person("recent@x.com", true, false);
    recent.signals.sign_in_known = true;
    recent.signals.last_sign_in = Some(NOW - 3 * DAY);
    let gone = person("gone@x.com", false, false);
    let people = vec![
        person("assigned@x.com", true, false),
        person("outside@x.com", true, false),
        leaving,
        later,
        quiet,
        never,
        recent,
        gone,
    ];
    let mut accounts: Vec<Account> = people
        .iter()
        .map(|p| account("openai", &format!("u-{}", p.id), &p.user_name))
        .collect();
    // Anthropic has no app configured: nobody there is judged for assignment.
    accounts.push(account("anthropic", "a-outside", "outside@x.com"));
    let mut failed = access("gone@x.com", "openai", false);
    failed.push_kind = Some("deprovision".into());
    failed.push_result = Some("failure".into());
    failed.push_at = Some(NOW - 2 * DAY);
    failed.push_detail = Some("application.provision.user.deactivate: 409".into());
    let mut landed = access("recent@x.com", "openai", false);
    landed.push_kind = Some("deprovision".into());
    landed.push_result = Some("success".into());
    let mut app_access: Vec<_> = [
        "assigned@x.com",
        "leaving@x.com",
        "later@x.com",
        "quiet@x.com",
        "never@x.com",
    ]
    .iter()
    .map(|p| access(p, "openai", true))
    .collect();
    app_access.push(failed);
    app_access.push(landed);
    let d = SourceData {
        people,
        accounts,
        apps: vec![app("dir", "openai")],
        app_access,
        ..Default::default()
    };
    let cx = Context::at(NOW);
    let found: Vec<(String, String)> = rules(&d, &cx)
        .into_iter()
        .filter(|(r, _)| r != "leaver-with-access")
        .collect();
    let mut want = vec![
        pair("failed-deprovision", "u-gone@x.com"),
        pair("failed-deprovision", "u-recent@x.com"),
        pair("outside-idp", "u-outside@x.com"),
        // recent@ is not assigned the app because the IdP removed them: the push that did
        // not land is the one cause, not a second `outside-idp` (one cause, one finding).
        pair("dormant-sign-in", "u-never@x.com"),
        pair("dormant-sign-in", "u-quiet@x.com"),
        pair("upcoming-leaver", "u-leaving@x.com"),
    ];
    let mut got = found.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let all = reconcile(&d, &cx);
    let detail = |rule: &str, id: &str| {
        all.iter()
            .find(|f| f.rule == rule && f.subject_id == id)
            .map(|f| f.detail.clone())
            .unwrap()
    };
    assert!(detail("failed-deprovision", "u-gone@x.com").contains("failed on"));
    assert!(detail("failed-deprovision", "u-recent@x.com").contains("did not land"));
    assert!(detail("upcoming-leaver", "u-leaving@x.com").contains("in 5 days"));
    assert!(detail("dormant-sign-in", "u-quiet@x.com").contains("120 days"));
    // An app anyone may use, or whose assignments could not be read, judges nobody.
    for change in [
        |a: &mut crate::model::IdpApp| a.open = true,
        |a: &mut crate::model::IdpApp| a.assignments_known = false,
    ] {
        let mut e = d.clone();
        change(&mut e.apps[0]);
        assert!(
            !rules(&e, &cx).iter().any(|(r, _)| r == "outside-idp"),
            "no judgement"
        );
    }
    // With the assignments unknown, a current person's removal may be history (a re-hire, a
    // move back, assigned again): no judgement. A leaver's failed push is one all the same.
    let mut e = d.clone();
    e.apps[0].assignments_known = false;
    let found = rules(&e, &cx);
    assert!(
        found.contains(&pair("failed-deprovision", "u-gone@x.com")),
        "{found:?}"
    );
    assert!(
        !found.contains(&pair("failed-deprovision", "u-recent@x.com")),
        "{found:?}"
    );
    // The thresholds are the config's.
    let mut cx2 = Context::at(NOW);
    cx2.rules.leave_notice_days = 60;
    cx2.rules.dormant_sign_in_days = 200;
    let found = rules(&d, &cx2);
    assert!(found.contains(&pair("upcoming-leaver", "u-later@x.com")));
    assert!(!found.contains(&pair("dormant-sign-in", "u-quiet@x.com")));
    assert!(found.contains(&pair("dormant-sign-in", "u-never@x.com")));
}

/// A person listed by two directories (an identity provider for employees, an HR export for
/// contractors) shows what each said: its status and facts, its sign-ins, leave date and apps.
#[test]
fn a_footprint_says_which_directory_said_what() {
    let mut okta = person("dana@x.com", true, false);
    okta.source = "okta".into();
    okta.id = "00u1".into();
    okta.department = Some("Research".into());
    okta.manager_id = Some("00u9".into());
    let mut boss = person("lee@x.com", true, false);
    boss.source = "okta".into();
    boss.id = "00u9".into();
    boss.display_name = Some("Lee Park".into());
    okta.signals = crate::model::Signals {
        sign_in_known: true,
        last_sign_in: Some(NOW - 3 * DAY),
        leave_at: None,
        created_at: None,
    };
    let mut hr = person("dana@x.com", true, false);
    hr.source = "hr".into();
    hr.id = "E7".into();
    hr.employee_type = Some("Contractor".into());
    hr.manager_id = Some("E9".into());
    hr.signals.leave_at = Some(NOW + 10 * DAY);
    let mut a = access("00u1", "openai", true);
    a.source = "okta".into();
    a.via = Some("dept-research".into());
    a.push_kind = Some("provision".into());
    a.push_result = Some("success".into());
    a.push_at = Some(NOW - 30 * DAY);
    let d = SourceData {
        people: vec![okta, hr, boss],
        accounts: vec![account("openai", "u1", "dana@x.com")],
        apps: vec![app("okta", "openai")],
        app_access: vec![a],
        ..Default::default()
    };
    let cx = Context::at(NOW);
    let fp = footprint(&d, &cx, &reconcile(&d, &cx), "Dana@X.com");
    let by: std::collections::HashMap<&str, Vec<(&str, String)>> = fp
        .said
        .iter()
        .map(|s| (s.source.as_str(), s.facts(NOW)))
        .collect();
    assert_eq!(by.len(), 2, "{:?}", fp.said);
    let text = |src: &str| {
        by[src]
            .iter()
            .map(|(l, t)| format!("{l}: {t}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let okta = text("okta");
    assert!(
        okta.contains("directory: okta 00u1 · active · Research"),
        "{okta}"
    );
    // The manager by name and address, not the directory's id; one the directory does not
    // list, by its id, saying so.
    assert!(okta.contains("manager: Lee Park <lee@x.com>"), "{okta}");
    assert!(
        okta.contains("signed in: ") && okta.contains("(3 days ago)"),
        "{okta}"
    );
    assert!(
        okta.contains(
            "app: openai app (openai): assigned via dept-research; last push provision success"
        ),
        "{okta}"
    );
    let hr = text("hr");
    assert!(
        hr.contains("directory: hr E7 · active · Contractor"),
        "{hr}"
    );
    assert!(hr.contains("manager: E9 (not listed in hr)"), "{hr}");
    assert!(
        hr.contains("leaves: ") && hr.contains("(in 10 days)"),
        "{hr}"
    );
    assert!(
        !hr.contains("signed in"),
        "the export says nothing of sign-ins: {hr}"
    );
    assert!(!hr.contains("app:"), "{hr}");
    // The contractor export's leave date makes an upcoming leaver of the one person.
    assert!(rules(&d, &cx).contains(&pair("upcoming-leaver", "u1")));
}

/// What is not a failed removal or a dormant sign-in: a person assigned the app again after a
/// failed removal; a removal that worked minutes ago (still on its way); an account made after
/// the removal; a new hire who has not signed in yet.
#[test]
fn identity_provider_rules_leave_history_and_new_hires_alone() {
    let mut people = vec![
        person("back@x.com", true, false),
        person("fresh@x.com", true, false),
        person("again@x.com", false, false),
        person("new@x.com", true, false),
        person("old@x.com", true, false),
    ];
    for p in &mut people[3..] {
        p.signals.sign_in_known = true;
    }
    people[3].signals.created_at = Some(NOW - 10 * DAY);
    people[4].signals.created_at = Some(NOW - 400 * DAY);
    let mut accounts: Vec<Account> = people
        .iter()
        .map(|p| account("openai", &format!("u-{}", p.id), &p.user_name))
        .collect();
    accounts[2].added_at = Some(NOW - DAY);
    let removal = |who: &str, assigned: bool, result: &str, at: Ts| {
        let mut a = access(who, "openai", assigned);
        a.push_kind = Some("deprovision".into());
        a.push_result = Some(result.into());
        a.push_at = Some(at);
        a
    };
    let mut app_access = vec![
        removal("back@x.com", true, "failure", NOW - 12 * DAY),
        removal("fresh@x.com", false, "success", NOW - 600),
        removal("again@x.com", false, "success", NOW - 5 * DAY),
    ];
    for p in ["fresh@x.com", "new@x.com", "old@x.com"] {
        if p != "fresh@x.com" {
            app_access.push(access(p, "openai", true));
        }
    }
    let d = SourceData {
        people,
        accounts,
        apps: vec![app("dir", "openai")],
        app_access,
        ..Default::default()
    };
    let found: Vec<(String, String)> = rules(&d, &Context::at(NOW))
        .into_iter()
        .filter(|(r, _)| r != "leaver-with-access")
        .collect();
    assert_eq!(
        found,
        vec![
            pair("outside-idp", "u-fresh@x.com"),
            pair("dormant-sign-in", "u-old@x.com"),
        ]
    );
}

fn fact(kind: &str, id: &str, fact: &str, by: Option<&str>, at: Ts) -> crate::model::Provenance {
    crate::model::Provenance {
        source: "openai".into(),
        subject_kind: kind.into(),
        subject_id: id.into(),
        fact: fact.into(),
        actor_kind: Some(
            if by.is_some() {
                "user"
            } else {
                "service_account"
            }
            .into(),
        ),
        actor_id: Some("user-1".into()),
        actor_email: by.map(str::to_string),
        via: Some("console".into()),
        at,
        feed: "audit_log".into(),
    }
}

fn feed(name: &str, known: bool) -> crate::model::Feed {
    crate::model::Feed {
        source: "openai".into(),
        feed: name.into(),
        known,
        from: Some(NOW - 90 * DAY),
        to: None,
        full_at: None,
        note: None,
        origin: None,
    }
}

#[test]
fn a_service_keys_creator_answers_for_it_until_someone_is_recorded() {
    let sa_key = |id: &str| Credential {
        owner: Some(Owner {
            kind: "service_account".into(),
            id: "svc_1".into(),
            email: None,
            name: None,
        }),
        ..key(id, "", "", "active")
    };
    let d = SourceData {
        people: vec![
            person("gone@x.com", false, false),
            person("here@x.com", true, false),
        ],
        credentials: vec![
            sa_key("k_gone"),
            sa_key("k_here"),
            sa_key("k_unknown"),
            sa_key("k_bot"),
        ],
        provenance: vec![
            fact(
                "api_key",
                "k_gone",
                "created_by",
                Some("gone@x.com"),
                NOW - DAY,
            ),
            fact(
                "api_key",
                "k_here",
                "created_by",
                Some("here@x.com"),
                NOW - DAY,
            ),
            // Made by a service account's key: no person to judge.
            fact("api_key", "k_bot", "created_by", None, NOW - DAY),
            // A suggested owner only for a creator who is current.
            fact(
                "service_account",
                "svc_1",
                "created_by",
                Some("here@x.com"),
                NOW - DAY,
            ),
            fact(
                "service_account",
                "svc_2",
                "created_by",
                Some("gone@x.com"),
                NOW - DAY,
            ),
        ],
        service_accounts: ["svc_1", "svc_2"]
            .iter()
            .map(|id| ServiceAccount {
                source: "openai".into(),
                provider: "openai".into(),
                id: id.to_string(),
                resource_id: Some("proj_1".into()),
                name: None,
                role: None,
                created_at: None,
            })
            .collect(),
        ..Default::default()
    };
    let found = run(&d);
    let orphans: Vec<&str> = found
        .iter()
        .filter(|f| f.rule == "orphaned-key")
        .map(|f| &*f.subject_id)
        .collect();
    assert_eq!(orphans, ["k_gone"]);
    let unowned = |id: &str| {
        found
            .iter()
            .find(|f| f.rule == "unowned-service-account" && f.subject_id == id)
            .unwrap()
            .detail
            .clone()
    };
    assert!(unowned("svc_1").contains("suggested owner here@x.com"));
    assert!(!unowned("svc_2").contains("suggested"));
    // Once someone is recorded as owning the service account, its creator's leaving is moot.
    let mut cx = Context::at(NOW);
    cx.owners
        .insert(("openai".into(), "svc_1".into()), "here@x.com".into());
    assert!(!rules(&d, &cx).contains(&pair("orphaned-key", "k_gone")));
}

#[test]
fn a_seat_is_quiet_only_without_logins_or_key_use_and_new_seats_are_not() {
    let seat = |id: &str, key: Option<i64>, added: Option<i64>| Account {
        last_active_at: key.map(|d| NOW - d * DAY),
        added_at: added.map(|d| NOW - d * DAY),
        ..account("openai", id, &format!("{id}@x.com"))
    };
    let mut d = SourceData {
        people: ["old", "login", "new", "key", "never"]
            .iter()
            .map(|id| person(&format!("{id}@x.com"), true, false))
            .collect(),
        accounts: vec![
            seat("old", Some(200), Some(400)),
            seat("login", Some(200), Some(400)),
            seat("new", None, Some(20)),
            seat("key", Some(5), Some(400)),
            seat("never", None, None),
        ],
        provenance: vec![
            fact(
                "account",
                "login",
                "last_login",
                Some("login@x.com"),
                NOW - 3 * DAY,
            ),
            // The log reaches back at least this far.
            fact(
                "api_key",
                "k",
                "created_by",
                Some("old@x.com"),
                NOW - 200 * DAY,
            ),
        ],
        feeds: vec![feed("audit_log_logins", true)],
        ..Default::default()
    };
    let dormant = |d: &SourceData| -> Vec<String> {
        run(d)
            .into_iter()
            .filter(|f| f.rule == "dormant-account")
            .map(|f| f.subject_id.to_string())
            .collect()
    };
    assert_eq!(dormant(&d), ["never", "old"]);
    // A log whose oldest entry is three days old (switched on since) cannot say "no login in
    // 90 days": nobody is quiet by it.
    let reach = d.provenance.pop();
    assert_eq!(dormant(&d), Vec::<String>::new());
    d.provenance.extend(reach);
    // Logins not read: key use alone, as ever (a login on record is not trusted either).
    d.feeds = vec![feed("audit_log_logins", false)];
    assert_eq!(dormant(&d), ["login", "old"]);
}

/// A person whose second address is another person's own: what that address holds is
/// neither's to claim. `recert person` (the footprint) and a sweep (`x`, `revoke --person`)
/// answer by one test, so the person view never shows access a sweep would not take.
#[test]
fn a_footprint_and_a_sweep_agree_on_an_address_two_people_share() {
    let mut dmitri = person("dmitri@x.com", true, false);
    dmitri.id = "00u1".into();
    dmitri.emails.push("sven@x.com".into());
    let mut sven = person("sven@x.com", true, false);
    sven.id = "00u2".into();
    let d = SourceData {
        people: vec![dmitri, sven],
        accounts: vec![
            account("openai", "u-d", "dmitri@x.com"),
            account("openai", "u-s", "sven@x.com"),
            account("cursor", "c-d", "Dmitri@X.com"),
        ],
        ..Default::default()
    };
    let cx = Context::at(NOW);
    let findings = reconcile(&d, &cx);
    let fp = footprint(&d, &cx, &findings, "dmitri@x.com");
    let mut held: Vec<&str> = fp.accounts.iter().map(|a| a.id.as_str()).collect();
    held.sort();
    assert_eq!(held, ["c-d", "u-d"], "not the shared address's account");
    assert!(
        fp.findings
            .iter()
            .all(|f| f.subject_email.as_deref() != Some("sven@x.com")),
        "{:?}",
        fp.findings
    );
    let sweep = crate::engine::incident::sweep(&d, &cx.rules, "dmitri@x.com").unwrap();
    assert_eq!(
        sweep.accounts,
        held.len(),
        "the sweep takes what the footprint shows"
    );
    // The shared address names two people: a sweep by it is refused.
    assert!(crate::engine::incident::sweep(&d, &cx.rules, "sven@x.com").is_err());
}

/// A person's last activity (`recert person`'s header) is their latest sign of life anywhere:
/// an account's reported activity, a login the provider's log records, a use of their key;
/// not "-" for someone who signed in last week.
#[test]
fn a_footprints_last_activity_counts_logins_and_key_use() {
    let mut k = key("k1", "u1", "uma@x.com", "active");
    k.last_used_at = Some(NOW - 5 * DAY);
    let mut d = SourceData {
        people: vec![person("uma@x.com", true, false)],
        accounts: vec![account("openai", "u1", "uma@x.com")],
        credentials: vec![k],
        provenance: vec![fact(
            "account",
            "u1",
            "last_login",
            Some("uma@x.com"),
            NOW - 2 * DAY,
        )],
        feeds: vec![feed("audit_log_logins", true)],
        ..Default::default()
    };
    let cx = Context::at(NOW);
    let last = |d: &SourceData| footprint(d, &cx, &[], "uma@x.com").last_active_at;
    assert_eq!(last(&d), Some(NOW - 2 * DAY), "the login");
    d.provenance.clear();
    assert_eq!(last(&d), Some(NOW - 5 * DAY), "the key's use");
    d.credentials.clear();
    assert_eq!(last(&d), None);
    d.accounts[0].last_active_at = Some(NOW - 9 * DAY);
    assert_eq!(last(&d), Some(NOW - 9 * DAY), "the account's own activity");
}

/// A seat whose person uses a key they own is not dormant, whatever the account's own field
/// says (OpenAI's `api_key_last_used_at` is unverified in live data; the keys' `last_used_at`
/// is documented): the finding and the person view count the same keys. It said "last key use
/// 2026-08-11" beside a key of theirs last used in October.
#[test]
fn a_seat_whose_key_is_in_use_is_not_dormant() {
    let mut seat = account("openai", "u1", "a@x.com");
    seat.last_active_at = Some(NOW - 100 * DAY);
    let mut other = account("openai", "u2", "b@x.com");
    other.last_active_at = Some(NOW - 100 * DAY);
    let mut used = key("k1", "u1", "a@x.com", "active");
    used.last_used_at = Some(NOW - 5 * DAY);
    let mut stale = key("k2", "u2", "b@x.com", "active");
    stale.last_used_at = Some(NOW - 70 * DAY);
    let d = SourceData {
        people: vec![
            person("a@x.com", true, false),
            person("b@x.com", true, false),
        ],
        accounts: vec![seat, other],
        credentials: vec![used, stale],
        ..Default::default()
    };
    let dormant: Vec<Finding> = run(&d)
        .into_iter()
        .filter(|f| f.rule == "dormant-account")
        .collect();
    assert_eq!(dormant.len(), 1, "{dormant:?}");
    assert_eq!(dormant[0].subject_id, "u2");
    // The evidence names the later of the two.
    assert!(
        dormant[0].detail.contains("no activity for 70 days"),
        "{}",
        dormant[0].detail
    );
    let f = super::footprint::footprint(&d, &Context::at(NOW), &run(&d), "a@x.com");
    assert_eq!(f.last_active_at, Some(NOW - 5 * DAY));
    // A seat whose own activity is not known (a report not read) is not judged by an old
    // key's use alone.
    let mut d = d;
    d.accounts[1].last_active_at = None;
    assert!(
        !run(&d).iter().any(|f| f.rule == "dormant-account"),
        "{:?}",
        run(&d)
    );
}

/// A person's footprint lists the keys recert's records make theirs (a reassigned key), as
/// their findings already did: `recert person` left it out of KEYS.
#[test]
fn a_footprint_lists_the_keys_recorded_as_theirs() {
    let d = SourceData {
        people: vec![
            person("a@x.com", true, false),
            person("b@x.com", true, false),
        ],
        accounts: vec![account("openai", "u2", "b@x.com")],
        credentials: vec![key("k1", "u2", "b@x.com", "active")],
        ..Default::default()
    };
    let mut cx = Context::at(NOW);
    let ids = |cx: &Context, who: &str| -> Vec<String> {
        let f = super::footprint::footprint(&d, cx, &reconcile(&d, cx), who);
        f.keys.iter().map(|k| k.id.clone()).collect()
    };
    assert_eq!(ids(&cx, "a@x.com"), Vec::<String>::new());
    cx.owners
        .insert(("openai".into(), "k1".into()), "a@x.com".into());
    assert_eq!(ids(&cx, "a@x.com"), ["k1"]);
    // It still runs as its user at the provider: theirs too.
    assert_eq!(ids(&cx, "b@x.com"), ["k1"]);
    // Its use is its user's activity, not its recorded owner's.
    let f = super::footprint::footprint(&d, &cx, &reconcile(&d, &cx), "a@x.com");
    assert_eq!(f.last_active_at, None);
}
