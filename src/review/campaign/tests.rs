use super::*;
use crate::model::{Account, Grant, Person, Resource};

fn person(id: &str, email: &str, dept: &str, manager: Option<&str>, active: bool) -> Person {
    Person {
        source: "dir".into(),
        id: id.into(),
        user_name: email.into(),
        emails: vec![email.into()],
        display_name: None,
        active,
        absent: false,
        external_id: None,
        department: Some(dept.into()),
        manager_id: manager.map(str::to_string),
        title: None,
        groups: if dept == "Security" {
            vec!["Reviewers".into()]
        } else {
            vec![]
        },
        groups_known: true,
        employee_type: None,
        signals: Default::default(),
    }
}

fn directory() -> Vec<Person> {
    vec![
        person("m1", "boss@x.com", "Eng", None, true),
        person("u1", "ann@x.com", "Eng", Some("m1"), true),
        person("u2", "bob@x.com", "Eng", Some("m1"), true),
        person("u3", "cat@x.com", "Sales", None, true),
        person("u4", "dan@x.com", "Eng", Some("m1"), false),
        person("s1", "sec@x.com", "Security", None, true),
    ]
}

fn item(person: &str, resource: &str, role: &str) -> Item {
    Item {
        seq: 1,
        target: Target::new("openai", "oa", "grant", &format!("{resource}/{person}")),
        label: String::new(),
        person: Some(person.into()),
        resource_id: Some(resource.into()),
        resource: Some(format!("Project {resource}")),
        role: Some(role.into()),
        via: Some("direct".into()),
        rules: vec![],
        last_used: None,
        created_at: None,
        fingerprint: "f1".into(),
        reviewer: String::new(),
        routed_by: String::new(),
        recommendation: None,
        change: None,
        carried: None,
    }
}

fn ctx(people: &[Person]) -> People {
    let rules = Rules::default();
    let dir = Directory::new(people, &rules);
    People::new(people, &dir)
}

fn routing(routes: &[&str], fallback: &str) -> Routing {
    Routing {
        routes: routes
            .iter()
            .map(|r| Route {
                reviewer: r.to_string(),
                ..Default::default()
            })
            .collect(),
        fallback: Some(fallback.into()),
        allow_self_review: false,
    }
}

#[test]
fn manager_rule_routes_to_the_scim_manager() {
    let dir = directory();
    let p = ctx(&dir);
    let (who, why) = route(
        &item("ann@x.com", "p1", "member"),
        &routing(&["manager"], "sec@x.com"),
        &p,
        &HashMap::new(),
    );
    assert_eq!(who, "boss@x.com");
    assert!(why.starts_with("rule 1: manager"), "{why}");
}

#[test]
fn a_rule_that_cannot_resolve_falls_through_to_the_next() {
    let dir = directory();
    let p = ctx(&dir);
    // cat has no manager, and the key has no recorded owner: the fallback catches it.
    let r = routing(&["manager", "owner"], "sec@x.com");
    let (who, why) = route(&item("cat@x.com", "p1", "member"), &r, &p, &HashMap::new());
    assert_eq!(who, "sec@x.com");
    assert!(
        why.contains("no manager") && why.contains("no recorded owner"),
        "{why}"
    );
}

#[test]
fn owner_rule_uses_the_ownership_records() {
    let dir = directory();
    let p = ctx(&dir);
    let it = item("cat@x.com", "p1", "member");
    let owners = HashMap::from([(it.target.clone(), "Bob@X.com".to_string())]);
    let (who, _) = route(
        &it,
        &routing(&["owner", "manager"], "sec@x.com"),
        &p,
        &owners,
    );
    assert_eq!(who, "bob@x.com");
}

#[test]
fn first_matching_rule_wins_in_order() {
    let dir = directory();
    let p = ctx(&dir);
    let it = item("ann@x.com", "p1", "member");
    let owners = HashMap::from([(it.target.clone(), "bob@x.com".to_string())]);
    let (a, _) = route(
        &it,
        &routing(&["owner", "manager"], "sec@x.com"),
        &p,
        &owners,
    );
    let (b, _) = route(
        &it,
        &routing(&["manager", "owner"], "sec@x.com"),
        &p,
        &owners,
    );
    assert_eq!((a.as_str(), b.as_str()), ("bob@x.com", "boss@x.com"));
}

#[test]
fn conditions_narrow_a_rule() {
    let dir = directory();
    let p = ctx(&dir);
    let mut r = routing(&["group:Reviewers", "manager"], "sec@x.com");
    r.routes[0].department = Some("Sales".into());
    r.routes[0].provider = Some("openai".into());
    let (cat, _) = route(&item("cat@x.com", "p1", "member"), &r, &p, &HashMap::new());
    let (ann, _) = route(&item("ann@x.com", "p1", "member"), &r, &p, &HashMap::new());
    assert_eq!(
        (cat.as_str(), ann.as_str()),
        ("group:Reviewers", "boss@x.com")
    );
    r.routes[0].provider = Some("cursor".into());
    let (cat, why) = route(&item("cat@x.com", "p1", "member"), &r, &p, &HashMap::new());
    assert_eq!(cat, "sec@x.com", "{why}");
}

#[test]
fn self_review_is_skipped_unless_allowed() {
    let dir = directory();
    let p = ctx(&dir);
    let it = item("bob@x.com", "p1", "member");
    let owners = HashMap::from([(it.target.clone(), "bob@x.com".to_string())]);
    let mut r = routing(&["owner", "manager"], "sec@x.com");
    let (who, why) = route(&it, &r, &p, &owners);
    assert_eq!(who, "boss@x.com");
    assert!(why.contains("own access"), "{why}");
    r.allow_self_review = true;
    assert_eq!(route(&it, &r, &p, &owners).0, "bob@x.com");
    // A group the holder belongs to counts as self-review too.
    let sec = item("sec@x.com", "p1", "member");
    let (who, _) = route(
        &sec,
        &routing(&["group:Reviewers"], "boss@x.com"),
        &p,
        &owners,
    );
    assert_eq!(who, "boss@x.com");
}

#[test]
fn routing_check_names_the_bad_rule_and_wants_a_fallback() {
    assert!(
        routing(&["manager", "bogus"], "a@x.com")
            .check()
            .unwrap_err()
            .contains("rule 2")
    );
    let mut r = routing(&["manager"], "a@x.com");
    r.fallback = None;
    assert!(r.check().unwrap_err().contains("fallback"));
    assert!(
        routing(&["manager", "owner", "group:G", "x@y.z"], "group:Sec")
            .check()
            .is_ok()
    );
}

const NOW: Ts = 1_000 * DAY;

fn rec_of(it: &Item, all: &[Item], earlier: Option<&Earlier>) -> Option<(Verdict, String)> {
    let dir = directory();
    let p = ctx(&dir);
    let peers = Peers::new(all, &p);
    recommend(it, &p, &peers, earlier, NOW).map(|r| (r.verdict, r.rule))
}

fn used(mut it: Item, days_ago: i64) -> Item {
    it.last_used = Some(NOW - days_ago * DAY);
    it
}

#[test]
fn each_recommendation_rule_fires_on_its_own() {
    let ann = used(item("ann@x.com", "p1", "member"), 5);
    let bob = used(item("bob@x.com", "p1", "member"), 5);
    let team = [ann.clone(), bob.clone()];
    // Nothing to say: used recently, a department peer holds the same role, no earlier campaign.
    assert_eq!(rec_of(&ann, &team, None), None);
    // Inactive holder.
    let dan = used(item("dan@x.com", "p1", "member"), 5);
    assert_eq!(
        rec_of(&dan, &[dan.clone(), ann.clone(), bob.clone()], None)
            .unwrap()
            .1,
        "inactive-holder"
    );
    // Not in the directory at all.
    let ghost = item("ghost@x.com", "p1", "member");
    assert_eq!(
        rec_of(&ghost, std::slice::from_ref(&ghost), None)
            .unwrap()
            .1,
        "inactive-holder"
    );
    // Unused: exactly 90 days fires, 89 does not.
    let old = used(item("ann@x.com", "p1", "member"), 90);
    assert_eq!(
        rec_of(&old, &[old.clone(), bob.clone()], None).unwrap().1,
        "unused-90d"
    );
    let recent = used(item("ann@x.com", "p1", "member"), 89);
    assert_eq!(rec_of(&recent, &[recent.clone(), bob.clone()], None), None);
    // A key never used, created long ago.
    let mut key = item("ann@x.com", "p1", "member");
    key.target.kind = "api_key".into();
    key.created_at = Some(NOW - 200 * DAY);
    assert_eq!(
        rec_of(&key, std::slice::from_ref(&key), None).unwrap().1,
        "unused-90d"
    );
    // Nobody else in Sales is owner of p1 (Eng people are).
    let cat = used(item("cat@x.com", "p1", "owner"), 5);
    let ann_owner = used(item("ann@x.com", "p1", "owner"), 5);
    let (v, rule) = rec_of(&cat, &[cat.clone(), ann_owner.clone()], None).unwrap();
    assert_eq!((v, rule.as_str()), (Verdict::Revoke, "no-department-peer"));
    // Certified last time, unchanged, used in the last 30 days.
    let e = Earlier {
        target: ann.target.clone(),
        fingerprint: ann.fingerprint.clone(),
        outcome: Some(Verdict::Certify),
    };
    assert_eq!(
        rec_of(&ann, &team, Some(&e)),
        Some((Verdict::Certify, "used-and-certified".into()))
    );
    // ...but not when something changed, when it was revoked, or when not used recently.
    let changed = Earlier {
        fingerprint: "other".into(),
        ..e.clone()
    };
    assert_eq!(rec_of(&ann, &team, Some(&changed)), None);
    let revoked = Earlier {
        outcome: Some(Verdict::Revoke),
        ..e.clone()
    };
    assert_eq!(rec_of(&ann, &team, Some(&revoked)), None);
    let month = used(item("ann@x.com", "p1", "member"), 31);
    assert_eq!(
        rec_of(&month, &[month.clone(), bob.clone()], Some(&e)),
        None
    );
}

#[test]
fn recommendation_rules_apply_in_order() {
    let bob = used(item("bob@x.com", "p1", "member"), 5);
    // Inactive and unused: the inactive rule speaks first.
    let dan = used(item("dan@x.com", "p1", "member"), 400);
    assert_eq!(
        rec_of(&dan, &[dan.clone(), bob.clone()], None).unwrap().1,
        "inactive-holder"
    );
    // Unused and without a department peer: unused first.
    let cat = used(item("cat@x.com", "p1", "member"), 400);
    assert_eq!(
        rec_of(&cat, &[cat.clone(), bob.clone()], None).unwrap().1,
        "unused-90d"
    );
    // Without a department peer yet certified last time: revoke wins over certify.
    let cat = used(item("cat@x.com", "p1", "member"), 3);
    let e = Earlier {
        target: cat.target.clone(),
        fingerprint: cat.fingerprint.clone(),
        outcome: Some(Verdict::Certify),
    };
    assert_eq!(
        rec_of(&cat, &[cat.clone(), bob.clone()], Some(&e))
            .unwrap()
            .1,
        "no-department-peer"
    );
}

fn data() -> SourceData {
    let mut d = SourceData {
        people: directory(),
        ..Default::default()
    };
    for (i, email) in ["ann@x.com", "bob@x.com", "cat@x.com"].iter().enumerate() {
        d.accounts.push(Account {
            source: "oa".into(),
            provider: "openai".into(),
            id: format!("user-{i}"),
            email: Some(email.to_string()),
            name: None,
            role: Some("reader".into()),
            added_at: None,
            last_active_at: Some(NOW - DAY),
            scim_managed: None,
            activity_from: None,
        });
        d.grants.push(Grant {
            source: "oa".into(),
            provider: "openai".into(),
            principal_kind: "user".into(),
            principal_id: format!("user-{i}").into(),
            resource_id: "proj_1".into(),
            role: Some("member".into()),
            via: "direct".into(),
        });
    }
    d.resources.push(Resource {
        source: "oa".into(),
        provider: "openai".into(),
        kind: "project".into(),
        id: "proj_1".into(),
        name: Some("Search".into()),
        archived: false,
        created_at: None,
        parent: None,
    });
    d
}

fn frozen(d: &SourceData, scope: &Scope, earlier: Option<&[Earlier]>) -> Vec<Item> {
    let rules = Rules::default();
    let cx = crate::reconcile::Context {
        now: NOW,
        rules: rules.clone(),
        owners: Default::default(),
    };
    let findings = crate::reconcile::reconcile(d, &cx);
    freeze(&Inputs {
        data: d,
        findings: &findings,
        rules: &rules,
        now: NOW,
        owners: &HashMap::new(),
        scope,
        routing: &routing(&["manager"], "sec@x.com"),
        earlier,
        carry_forward: earlier.is_some(),
    })
}

#[test]
fn freezing_routes_scopes_and_compares_with_the_earlier_campaign() {
    let d = data();
    let all = frozen(&d, &Scope::default(), None);
    assert_eq!(all.len(), 3);
    let by: Vec<(&str, &str)> = all
        .iter()
        .map(|i| (i.person.as_deref().unwrap(), i.reviewer.as_str()))
        .collect();
    assert_eq!(
        by,
        [
            ("ann@x.com", "boss@x.com"),
            ("bob@x.com", "boss@x.com"),
            ("cat@x.com", "sec@x.com")
        ]
    );
    assert_eq!(all[0].resource.as_deref(), Some("Search"));
    // Scope by directory attribute and by resource name.
    let sales = Scope {
        attrs: vec![("department".into(), "Sales".into())],
        ..Default::default()
    };
    assert_eq!(frozen(&d, &sales, None).len(), 1);
    // By title and employee type (the type compared without regard to case).
    let mut typed = d.clone();
    for p in typed
        .people
        .iter_mut()
        .filter(|p| p.user_name == "bob@x.com")
    {
        p.title = Some("Staff Engineer".into());
        p.employee_type = Some("Contractor".into());
    }
    let by_attr = |k: &str, v: &str| Scope {
        attrs: vec![(k.into(), v.into())],
        ..Default::default()
    };
    let people_of = |scope: &Scope| -> Vec<String> {
        frozen(&typed, scope, None)
            .iter()
            .filter_map(|i| i.person.clone())
            .collect()
    };
    assert_eq!(
        people_of(&by_attr("employee_type", "contractor")),
        ["bob@x.com"]
    );
    assert_eq!(
        people_of(&by_attr("title", "Staff Engineer")),
        ["bob@x.com"]
    );
    assert!(
        people_of(&by_attr("title", "staff engineer")).is_empty(),
        "titles are exact"
    );
    assert_eq!(
        Scope::parse_attr("Employee_Type=Contractor"),
        Ok(("employee_type".into(), "Contractor".into()))
    );
    assert!(Scope::parse_attr("cost_center=1").is_err());
    let nothing = Scope {
        resources: vec!["Other".into()],
        ..Default::default()
    };
    assert!(frozen(&d, &nothing, None).is_empty());
    // Carry-forward: change bob's role; ann's certify is carried, bob's item is modified.
    let earlier: Vec<Earlier> = all
        .iter()
        .map(|i| Earlier {
            target: i.target.clone(),
            fingerprint: i.fingerprint.clone(),
            outcome: Some(Verdict::Certify),
        })
        .collect();
    let mut d2 = d.clone();
    d2.grants[1].role = Some("owner".into());
    d2.grants.remove(2);
    let next = frozen(&d2, &Scope::default(), Some(&earlier));
    let changes: Vec<_> = next.iter().map(|i| (i.change, i.carried)).collect();
    assert_eq!(
        changes,
        [
            (Some(Change::Unchanged), Some(Verdict::Certify)),
            (Some(Change::Modified), None)
        ]
    );
    let gone = removed_since(&next, &earlier);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].target.id, "proj_1/user-2");
}

/// A user holding one project both directly and through a group: what the items describe does
/// not depend on the order the snapshot lists the two grants in (a snapshot's rows shared
/// with an earlier one keep their earlier place); both describe the direct grant. (The two
/// share one target id, `proj_1/user-0`: telling them apart is left on the issue.)
#[test]
fn items_of_a_grant_held_two_ways_do_not_depend_on_the_order() {
    let mut d = data();
    let mut group = d.grants[0].clone();
    group.via = "group:eng".into();
    group.role = Some("owner".into());
    let mut later = d.clone();
    d.grants.insert(0, group.clone());
    later.grants.push(group);
    let ann = |data: &SourceData| -> Vec<(Option<String>, Option<String>, String)> {
        let mut v: Vec<_> = frozen(data, &Scope::default(), None)
            .into_iter()
            .filter(|i| i.person.as_deref() == Some("ann@x.com"))
            .map(|i| (i.via, i.role, i.fingerprint))
            .collect();
        v.sort();
        v
    };
    let first = ann(&d);
    assert_eq!(first, ann(&later));
    assert!(first.iter().all(
        |(via, role, _)| via.as_deref() == Some("direct") && role.as_deref() == Some("member")
    ));
}
