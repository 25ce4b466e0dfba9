//! `recert audit export --format ocsf`, end to end through the real binary after real
//! remediation against the simulator (a separate process): every event validates against the
//! OCSF 1.8.0 class definitions written down in `tests/ocsf/`, each call lands in the class it
//! is, `--since` ships only what is new, and the copy still verifies link by link.

use std::collections::BTreeMap;

use recert::review::{NewDecision, Target, Verdict};
use recert::store::Store;
use serde_json::Value;

mod common;
use common::process::Env;

fn revoke(provider: &str, kind: &str, id: &str) -> NewDecision {
    NewDecision {
        verdict: Verdict::Revoke,
        target: Target::new(provider, provider, kind, id),
        label: id.to_string(),
        rule: None,
        owner: None,
        until: None,
        justification: Some("left the company".into()),
    }
}

fn export(e: &Env, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "export", "--format", "ocsf"];
    args.extend_from_slice(extra);
    e.ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|err| panic!("{err}: {l}")))
        .collect()
}

#[test]
fn the_audit_chain_exports_as_valid_ocsf_that_still_verifies() {
    let e = Env::new("small", &[]);
    let snap = e.snapshot();
    let d = &snap.data;
    let groups: Vec<&str> = d
        .resources
        .iter()
        .filter(|r| r.provider == "openai" && r.kind == "group")
        .map(|r| r.id.as_str())
        .collect();
    let projects: Vec<&str> = d
        .resources
        .iter()
        .filter(|r| r.provider == "openai" && r.kind == "project" && !r.archived)
        .map(|r| r.id.as_str())
        .collect();
    let account = d
        .accounts
        .iter()
        .find(|a| a.provider == "openai" && a.role.as_deref() != Some("owner"))
        .unwrap();
    // A project membership and a group membership of someone else.
    let other = |g: &&recert::model::Grant| {
        g.provider == "openai" && g.principal_kind == "user" && g.principal_id != account.id
    };
    let member = d
        .grants
        .iter()
        .filter(other)
        .find(|g| projects.contains(&g.resource_id.as_str()) && g.via == "direct")
        .expect("a direct project membership");
    let in_group = d
        .grants
        .iter()
        .filter(other)
        .find(|g| groups.contains(&g.resource_id.as_str()) && g.principal_id != member.principal_id)
        .expect("a group membership");
    let key = e
        .user_keys()
        .into_iter()
        .find(|k| {
            k.owner.as_ref().is_some_and(|o| {
                o.id != account.id && o.id != member.principal_id && o.id != in_group.principal_id
            })
        })
        .expect("a key of someone else");
    let items = vec![
        revoke("openai", "account", &account.id),
        revoke(
            "openai",
            "grant",
            &format!("{}/{}", member.resource_id, member.principal_id),
        ),
        revoke(
            "openai",
            "grant",
            &format!("{}/{}", in_group.resource_id, in_group.principal_id),
        ),
        revoke("openai", "project_key", &key.id),
    ];
    let mut store = Store::open(e.data()).unwrap();
    store
        .record_decisions(
            &items,
            "responder@example.com",
            Some(snap.id),
            snap.taken_at,
        )
        .unwrap();
    drop(store);
    e.ok(&["apply", "--yes"]);

    let events = export(&e, &[]);
    let schema: Value = serde_json::from_str(include_str!("ocsf/iam-1.8.0.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut classes: BTreeMap<String, usize> = BTreeMap::new();
    for v in &events {
        let errors: Vec<String> = validator.iter_errors(v).map(|x| x.to_string()).collect();
        assert!(errors.is_empty(), "{v}\n{errors:#?}");
        let class = v["class_uid"].as_u64().unwrap();
        let activity = v["activity_id"].as_u64().unwrap();
        assert_eq!(
            v["type_uid"].as_u64().unwrap(),
            class * 100 + activity,
            "{v}"
        );
        *classes
            .entry(format!("{} {}", v["class_name"], v["activity_name"]))
            .or_default() += 1;
    }
    // The schema is strict: an attribute the class does not define, an activity it does not
    // have, or a missing required attribute is refused.
    let account_change = events
        .iter()
        .find(|v| v["class_uid"] == 3001)
        .expect("an Account Change event");
    for (key, value) in [
        ("comment", Value::from("not in Account Change")),
        ("activity_id", Value::from(42)),
        ("user", Value::Null),
    ] {
        let mut v = account_change.clone();
        v[key] = value.clone();
        assert!(!validator.is_valid(&v), "{key}: {value} was accepted");
    }
    // The calls' results, each in the class of what it changed, all successful.
    let done = |class: &str, activity: &str| {
        events.iter().any(|v| {
            v["class_name"] == class
                && v["activity_name"] == activity
                && v["status"] == "Success"
                && v["unmapped"]["recert"]["event"] == "result"
        })
    };
    assert!(done("Account Change", "Delete"), "{classes:#?}");
    assert!(
        done("User Access Management", "Revoke Privileges"),
        "{classes:#?}"
    );
    assert!(done("Group Management", "Remove User"), "{classes:#?}");
    assert!(done("Entity Management", "Delete"), "{classes:#?}");
    // recert's own records are Entity Management: the decision batch, the plan.
    assert!(
        events
            .iter()
            .any(|v| v["unmapped"]["recert"]["event"] == "decide"
                && v["entity"]["type"] == "Decision batch")
    );

    // The copy verifies link by link, from its unmapped fields alone.
    let entries = recert::audit::ocsf::entries(&events);
    assert_eq!(entries.len(), events.len());
    recert::audit::verify(&entries).unwrap();
    let store = Store::open(e.data()).unwrap();
    assert_eq!(entries, store.audit_entries().unwrap());

    // Incremental: only what is after SEQ.
    let half = entries[entries.len() / 2].seq;
    let rest = export(&e, &["--since", &half.to_string()]);
    assert_eq!(rest.len(), entries.iter().filter(|x| x.seq > half).count());
    assert!(
        rest.iter()
            .all(|v| v["unmapped"]["recert"]["seq"].as_i64().unwrap() > half)
    );
    // A result after the cut still names its call's class, though the call is before it.
    assert!(
        rest.iter()
            .filter(|v| v["unmapped"]["recert"]["event"] == "result")
            .all(|v| v["class_name"] != "Entity Management" || v["entity"]["type"] == "API Key"),
        "{rest:#?}"
    );
}
