//! Certification campaigns end to end, through the real binary against the simulator (a
//! separate process serving real HTTP): create with routing by manager, two reviewers decide,
//! one delegates part of their queue, both sign off, close with the revoke policy, apply,
//! report; and carry-forward after changes in the simulator.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use recert::review::campaign::CampaignItem;
use recert::review::{NewDecision, Target, Verdict};
use recert::store::Store;
use sha2::{Digest, Sha256};

mod common;
use common::process::Env;

fn ok(e: &Env, args: &[&str]) -> String {
    let out = e.run(args);
    assert!(
        out.status.success(),
        "recert {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(e: &Env, args: &[&str]) -> String {
    let out = e.run(args);
    assert!(!out.status.success(), "recert {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn items(e: &Env, name: &str, extra: &[&str]) -> Vec<CampaignItem> {
    let mut args = vec!["campaign", "items", name, "--format", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(e, &args)).unwrap()
}

fn seqs(items: &[&CampaignItem]) -> String {
    items
        .iter()
        .map(|i| i.item.seq.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

const FALLBACK: &str = "group:ai-admins";

const CANCEL_OOPS: &[&str] = &[
    "campaign",
    "cancel",
    "Oops",
    "--reason",
    "wrong scope",
    "--yes",
];

/// `campaign decide NAME --as WHO --item SEQ --verdict VERDICT --reason left`.
fn decide_one(e: &Env, name: &str, who: &str, seq: &str, verdict: &str) -> std::process::Output {
    e.run(&[
        "campaign",
        "decide",
        name,
        "--as",
        who,
        "--item",
        seq,
        "--verdict",
        verdict,
        "--reason",
        "left",
    ])
}

/// An active member of the fallback group, who reviews its items.
fn fallback_member(e: &Env) -> String {
    let snap = e.snapshot();
    snap.data
        .people
        .iter()
        .find(|p| p.is_current() && p.groups.iter().any(|g| g == "ai-admins"))
        .and_then(|p| p.emails.first().cloned())
        .unwrap()
}

#[test]
fn a_whole_campaign_routes_decides_delegates_signs_off_closes_applies_and_reports() {
    let e = Env::new("small", &[]);
    let out = ok(
        &e,
        &[
            "campaign",
            "new",
            "--name",
            "2026-Q4",
            "--due",
            "+30d",
            "--route",
            "manager",
            "--fallback",
            FALLBACK,
            "--on-close",
            "revoke",
        ],
    );
    assert!(out.contains("campaign 2026-Q4 (#1) created"), "{out}");
    let all = items(&e, "2026-Q4", &[]);
    assert!(all.len() > 50, "{} items", all.len());

    // Routed by manager: every item whose holder has a manager in the directory goes to that
    // manager; the rest to the fallback.
    let store = Store::open(e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    let people = &snap.data.people;
    let email_of = |id: &str| {
        people
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.emails[0].to_lowercase())
    };
    let manager_of: HashMap<String, String> = people
        .iter()
        .filter_map(|p| {
            Some((
                p.emails[0].to_lowercase(),
                email_of(p.manager_id.as_deref()?)?,
            ))
        })
        .collect();
    for i in &all {
        let want = i
            .item
            .person
            .as_ref()
            .and_then(|p| manager_of.get(p))
            .filter(|m| Some(*m) != i.item.person.as_ref())
            .cloned()
            .unwrap_or_else(|| FALLBACK.to_string());
        assert_eq!(
            i.assigned, want,
            "item {}: {}",
            i.item.seq, i.item.routed_by
        );
    }

    // The two managers with the largest queues review.
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for i in all.iter().filter(|i| i.assigned != FALLBACK) {
        *per.entry(&i.assigned).or_default() += 1;
    }
    let mut ranked: Vec<(&str, usize)> = per.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let (r1, r2) = (ranked[0].0.to_string(), ranked[1].0.to_string());
    let q1: Vec<&CampaignItem> = all.iter().filter(|i| i.assigned == r1).collect();
    let q2: Vec<&CampaignItem> = all.iter().filter(|i| i.assigned == r2).collect();

    // r2 hands two items to r1, with a reason; r1's queue grows by them.
    let handed = &q2[..2];
    ok(
        &e,
        &[
            "campaign",
            "delegate",
            "2026-Q4",
            "--as",
            &r2,
            "--to",
            &r1,
            "--item",
            &seqs(handed),
            "--reason",
            "r1 owns these projects now",
        ],
    );
    let now_r1 = items(&e, "2026-Q4", &["--as", &r1]);
    assert_eq!(now_r1.len(), q1.len() + 2);
    // A delegated item says who handed it on and why, not the rule that first routed it.
    let shown = now_r1
        .iter()
        .find(|i| i.item.seq == handed[0].item.seq)
        .unwrap();
    assert_eq!(
        shown.item.routed_by,
        format!("delegated by {r2}: r1 owns these projects now")
    );
    // Delegated items left r2's queue: r2 cannot decide them any more.
    let err = fails(
        &e,
        &[
            "campaign",
            "decide",
            "2026-Q4",
            "--as",
            &r2,
            "--item",
            &handed[0].item.seq.to_string(),
            "--verdict",
            "certify",
            "--reason",
            "x",
        ],
    );
    assert!(err.contains("not in your queue"), "{err}");

    // r2 revokes one item and certifies the rest; staged, then submitted as one batch.
    let mut rest2: Vec<&CampaignItem> = q2[2..].to_vec();
    // A membership: its revoke is one API call, so the report can show the call's result.
    let at = rest2
        .iter()
        .position(|i| i.item.target.kind == "grant")
        .unwrap_or(0);
    rest2.swap(0, at);
    let revoked_by_r2 = rest2[0];
    ok(
        &e,
        &[
            "campaign",
            "decide",
            "2026-Q4",
            "--as",
            &r2,
            "--item",
            &revoked_by_r2.item.seq.to_string(),
            "--verdict",
            "revoke",
            "--reason",
            "left the team",
        ],
    );
    ok(
        &e,
        &[
            "campaign",
            "decide",
            "2026-Q4",
            "--as",
            &r2,
            "--item",
            &seqs(&rest2[1..]),
            "--verdict",
            "certify",
            "--reason",
            "still needed",
        ],
    );
    // Nothing is a decision before the submit.
    assert_eq!(Store::open(e.data()).unwrap().decisions().unwrap().len(), 0);
    let out = ok(&e, &["campaign", "submit", "2026-Q4", "--as", &r2, "--yes"]);
    assert!(out.contains(&format!("{} decisions", rest2.len())), "{out}");
    // r1 certifies their whole queue, delegated items included.
    ok(
        &e,
        &[
            "campaign",
            "decide",
            "2026-Q4",
            "--as",
            &r1,
            "--all",
            "--verdict",
            "certify",
            "--reason",
            "reviewed with the team",
        ],
    );
    ok(&e, &["campaign", "submit", "2026-Q4", "--as", &r1, "--yes"]);

    // Sign-off: r2 is complete; r1 too. After it, their decisions are locked.
    ok(&e, &["campaign", "signoff", "2026-Q4", "--as", &r1]);
    ok(&e, &["campaign", "signoff", "2026-Q4", "--as", &r2]);
    let err = fails(
        &e,
        &[
            "campaign",
            "decide",
            "2026-Q4",
            "--as",
            &r1,
            "--all",
            "--verdict",
            "revoke",
            "--reason",
            "x",
        ],
    );
    assert!(err.contains("signed off"), "{err}");

    // A third reviewer signing off incomplete needs to say so.
    let r3 = ranked[2].0.to_string();
    let err = fails(&e, &["campaign", "signoff", "2026-Q4", "--as", &r3]);
    assert!(err.contains("--incomplete"), "{err}");

    // Close with the revoke policy: every undecided item becomes a revoke, recorded per item.
    let certified = q1.len() + 2 + rest2.len() - 1;
    let undecided = all.len() - certified - 1;
    let out = ok(&e, &["campaign", "close", "2026-Q4", "--yes"]);
    assert!(
        out.contains(&format!("{undecided} items by the closing policy")),
        "{out}"
    );
    let after = items(&e, "2026-Q4", &[]);
    let by_policy = after
        .iter()
        .filter(|i| i.outcome_by.as_deref() == Some("policy"))
        .count();
    assert_eq!(by_policy, undecided);
    assert!(
        after
            .iter()
            .filter(|i| i.outcome_by.as_deref() == Some("policy"))
            .all(|i| i.outcome.as_deref() == Some("revoke"))
    );
    // Closed is final.
    let err = fails(
        &e,
        &[
            "campaign",
            "decide",
            "2026-Q4",
            "--as",
            &r3,
            "--all",
            "--verdict",
            "certify",
            "--reason",
            "x",
        ],
    );
    assert!(err.contains("closed"), "{err}");

    // Apply: the revokes go out, each call once, and the simulator saw exactly those calls.
    let before = e.mutations().len();
    ok(&e, &["apply", "--yes"]);
    let sent: Vec<(String, String)> = e.mutations()[before..]
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    let journal = Store::open(e.data()).unwrap().all_journal().unwrap();
    let calls: Vec<&recert::remediate::JournalRow> =
        journal.iter().filter(|r| r.kind == "call").collect();
    assert!(!calls.is_empty());
    assert!(
        calls
            .iter()
            .all(|r| r.state == recert::remediate::RowState::Done),
        "{calls:?}"
    );
    assert_eq!(sent.len(), calls.len(), "one request per call: {sent:?}");
    for r in &calls {
        let (m, p) = (r.method.as_deref().unwrap(), r.path.as_deref().unwrap());
        let hits = sent
            .iter()
            .filter(|(sm, sp)| sm == m && sp.ends_with(p))
            .count();
        assert_eq!(hits, 1, "{m} {p} reached the simulator {hits} times");
    }
    // Every revoke the campaign made is carried out by some step of the plan.
    let covered: std::collections::HashSet<i64> =
        journal.iter().flat_map(|r| r.decisions.clone()).collect();
    for i in after
        .iter()
        .filter(|i| i.outcome.as_deref() == Some("revoke"))
    {
        let id = i.decision_id.expect("a revoke outcome has its decision");
        assert!(covered.contains(&id), "item {} is in no plan", i.item.seq);
    }

    // Report: counts match the decisions in the store, item by item.
    let dir = e.dir.path().join("report");
    ok(
        &e,
        &[
            "campaign",
            "report",
            "2026-Q4",
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    let lines: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("items.json")).unwrap()).unwrap();
    assert_eq!(lines.len(), all.len());
    let store = Store::open(e.data()).unwrap();
    let decisions = store.decisions().unwrap();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for l in &lines {
        *counts
            .entry(l["decision"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for d in &decisions {
        *stored.entry(d.d.verdict.as_str().to_string()).or_default() += 1;
    }
    assert_eq!(counts, stored);
    assert_eq!(counts["certify"], certified);
    assert_eq!(counts["revoke"], undecided + 1);
    let r2_line = lines
        .iter()
        .find(|l| l["seq"] == revoked_by_r2.item.seq)
        .unwrap();
    assert_eq!(r2_line["decided_by"], r2.as_str());
    assert_eq!(r2_line["justification"], "left the team");
    assert!(
        r2_line["remediation"].as_str().unwrap().starts_with("done"),
        "{r2_line}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["sign_offs"].as_array().unwrap().len(), 2);
    assert_eq!(summary["delegations"].as_array().unwrap().len(), 2);
    // The manifest checks every file.
    let manifest = std::fs::read_to_string(dir.join("manifest.sha256")).unwrap();
    let mut names = BTreeSet::new();
    for line in manifest.lines() {
        let (hash, name) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(hash, recert::audit::hex(&Sha256::digest(&bytes)), "{name}");
        names.insert(name.to_string());
    }
    assert!(names.contains("report.html") && names.contains("items.csv"));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Decided by reviewers"));
    assert!(
        html.contains("Decided by the closing policy"),
        "policy apart"
    );
    // What became of the revokes, and sign-offs as a table (not raw JSON).
    assert!(
        html.contains("<h2>Remediation</h2>") && html.contains("done: "),
        "remediation summary"
    );
    let signoffs = html.split("<h2>Sign-offs</h2>").nth(1).unwrap();
    let signoffs = signoffs.split("</table>").next().unwrap();
    assert!(
        !signoffs.contains("{&quot;") && !signoffs.contains("{\""),
        "{signoffs}"
    );
    assert!(
        html.contains("<h2>Reviewers</h2>") && html.contains(&r2),
        "per-reviewer table"
    );

    // Every step is in the audit chain, and it verifies.
    let events: Vec<String> = store
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    for want in [
        "campaign.create",
        "campaign.delegate",
        "campaign.submit",
        "campaign.signoff",
        "campaign.close",
    ] {
        assert!(
            events.iter().any(|e| e == want),
            "{want} missing: {events:?}"
        );
    }
    assert_eq!(events.iter().filter(|e| *e == "campaign.submit").count(), 2);
    assert_eq!(
        events.iter().filter(|e| *e == "campaign.signoff").count(),
        2
    );
    let out = ok(&e, &["audit", "verify"]);
    assert!(out.contains("intact"), "{out}");
}

#[test]
fn a_campaign_since_an_earlier_one_shows_exactly_what_changed() {
    let e = Env::new("small", &[]);
    ok(
        &e,
        &[
            "campaign",
            "new",
            "--name",
            "Q3",
            "--due",
            "+10d",
            "--fallback",
            FALLBACK,
            "--on-close",
            "certify",
        ],
    );
    ok(&e, &["campaign", "close", "Q3", "--yes"]);
    let q3 = items(&e, "Q3", &[]);
    assert!(q3.iter().all(|i| i.outcome.as_deref() == Some("certify")));

    // Changes in the simulator: remove a user from a project where they own a key (the key's
    // owner_project_access turns inactive: modified), and set an Anthropic key inactive
    // (gone from the population).
    let store = Store::open(e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    let d = &snap.data;
    let key = d
        .credentials
        .iter()
        .find(|c| {
            c.provider == "openai"
                && c.kind == "project_key"
                && c.owner.as_ref().is_some_and(|o| o.kind == "user")
                && c.owner_access.as_deref() == Some("active")
                && d.grants.iter().any(|g| {
                    Some(g.resource_id.as_str()) == c.resource_id.as_deref()
                        && g.principal_id == c.owner.as_ref().unwrap().id
                })
        })
        .expect("an OpenAI key whose owner is in its project");
    let (project, owner) = (
        key.resource_id.clone().unwrap(),
        key.owner.as_ref().unwrap().id.clone(),
    );
    let grant = Target::new("openai", "openai", "grant", &format!("{project}/{owner}"));
    let anth = d
        .credentials
        .iter()
        .find(|c| c.provider == "anthropic" && c.usable())
        .expect("an active Anthropic key");
    let anth_key = Target::new("anthropic", "anthropic", "api_key", &anth.id);
    let modified: BTreeSet<String> = d
        .credentials
        .iter()
        .filter(|c| {
            c.resource_id.as_deref() == Some(&project)
                && c.owner.as_ref().is_some_and(|o| o.id == owner)
                && c.owner_access.as_deref() == Some("active")
        })
        .map(|c| c.id.clone())
        .collect();
    let mut store = store;
    let revoke = |t: &Target| NewDecision {
        verdict: Verdict::Revoke,
        target: t.clone(),
        label: t.id.clone(),
        rule: None,
        owner: None,
        until: None,
        justification: Some("test change".into()),
    };
    store
        .record_decisions(
            &[revoke(&grant), revoke(&anth_key)],
            "t@example.com",
            Some(snap.id),
            1,
        )
        .unwrap();
    drop(store);
    ok(&e, &["apply", "--yes"]);
    ok(&e, &["sync"]);

    let out = ok(
        &e,
        &[
            "campaign",
            "new",
            "--name",
            "Q4",
            "--due",
            "+30d",
            "--fallback",
            FALLBACK,
            "--since",
            "Q3",
        ],
    );
    assert!(
        out.contains(&format!("0 new, {} modified, 2 removed", modified.len())),
        "{out}"
    );
    let changed = items(&e, "Q4", &["--changed"]);
    let got: BTreeSet<String> = changed.iter().map(|i| i.item.target.id.clone()).collect();
    assert_eq!(got, modified);
    // Everything else is unchanged, pre-filled with Q3's certify, visibly carried and staged.
    let q4 = items(&e, "Q4", &[]);
    assert_eq!(q4.len(), q3.len() - 2);
    for i in q4.iter().filter(|i| !modified.contains(&i.item.target.id)) {
        assert_eq!(
            i.item.carried,
            Some(Verdict::Certify),
            "item {}",
            i.item.seq
        );
        assert_eq!(i.staged.as_ref().map(|s| s.verdict), Some(Verdict::Certify));
        assert!(
            i.staged
                .as_ref()
                .unwrap()
                .justification
                .as_deref()
                .unwrap()
                .contains("carried forward from campaign Q3")
        );
    }
    for i in &changed {
        assert_eq!(i.item.carried, None);
        assert!(i.staged.is_none());
    }
    let status: serde_json::Value =
        serde_json::from_str(&ok(&e, &["campaign", "status", "Q4", "--format", "json"])).unwrap();
    assert_eq!(status["removed_since"], 2);
    // The queue shows carried items as such.
    let text = ok(
        &e,
        &["campaign", "items", "Q4", "--as", &fallback_member(&e)],
    );
    assert!(text.contains("carried"), "{text}");
}

/// One delegation policy for both front ends: handing an item to a directory group that
/// contains the item's holder is self-review, refused from the CLI and from the console alike
/// (the console used to compare emails only, so a group got through).
#[test]
fn delegating_to_a_group_that_holds_the_item_is_refused_from_both_front_ends() {
    use recert::review::campaign::People;
    let e = Env::new("small", &[]);
    e.new_campaign("Q4", &["--route", "manager"]);
    let mut store = Store::open(e.data()).unwrap();
    let c = store.campaign("Q4").unwrap();
    let snap = store.snapshot(c.snapshot_id).unwrap();
    let cfg = recert::config::Config::load(&e.dir.path().join("cfg.toml"), true).unwrap();
    let dir = recert::reconcile::Directory::new(&snap.data.people, &cfg.rules);
    let people = People::new(&snap.data.people, &dir);
    let all = store.campaign_items(c.id).unwrap();
    // An undecided item whose holder is in a directory group the reviewer is not in.
    let (item, group) = all
        .iter()
        .filter(|i| !i.assigned.starts_with("group:"))
        .find_map(|i| {
            let holder = i.item.person.as_deref()?;
            people
                .groups
                .iter()
                .find(|(_, m)| m.contains(holder) && !m.contains(&i.assigned))
                .map(|(g, _)| (i, g.clone()))
        })
        .expect("an item whose holder is in a group");
    let to = format!("group:{group}");
    let seq = item.item.seq.to_string();

    let err = fails(
        &e,
        &[
            "campaign",
            "delegate",
            "Q4",
            "--as",
            &item.assigned,
            "--to",
            &to,
            "--item",
            &seq,
            "--reason",
            "they know it",
        ],
    );
    assert!(err.contains("self-review is not allowed"), "{err}");

    let queue = recert::tui::CampaignQueue {
        id: c.id,
        name: c.name.clone(),
        due: c.due.clone(),
        snapshot_id: c.snapshot_id,
        reviewer: item.assigned.clone(),
        groups: Vec::new(),
        people: std::sync::Arc::new(people),
    };
    // What the console's `:delegate` asks the engine to do.
    let said = recert::engine::campaign::act(
        &mut store,
        &queue,
        recert::engine::campaign::Act::Delegate {
            items: vec![item.item.seq],
            to: to.clone(),
            reason: "they know it".into(),
        },
        1_795_000_000,
    );
    match said {
        Err(text) => assert!(text.contains("self-review is not allowed"), "{text}"),
        Ok(text) => panic!("the console delegated: {text}"),
    }
    assert!(
        store.delegations(c.id).unwrap().is_empty(),
        "nothing was delegated"
    );
}

/// A reviewer the directory does not know (a typo, a leaver, a made-up group) is refused in
/// routing and in delegation, with the closest name the directory knows; `--force` overrides.
#[test]
fn reviewers_the_directory_does_not_know_are_refused_with_a_suggestion() {
    let e = Env::new("small", &[]);
    let snap = e.snapshot();
    let real = snap
        .data
        .people
        .iter()
        .find(|p| p.is_current() && p.source == "directory")
        .and_then(|p| p.emails.first().cloned())
        .unwrap();
    let typo = real.replacen('@', "x@", 1);
    let new = |fallback: &str, extra: &[&str]| {
        let mut args = vec![
            "campaign",
            "new",
            "--name",
            "Q",
            "--due",
            "+30d",
            "--fallback",
            fallback,
        ];
        args.extend_from_slice(extra);
        e.run(&args)
    };
    let err = |out: std::process::Output| {
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let text = err(new("nobody@nowhere.example", &[]));
    assert!(
        text.contains("nobody@nowhere.example is not a person of the directory"),
        "{text}"
    );
    assert!(text.contains("--force"), "{text}");
    let text = err(new(&typo, &[]));
    assert!(text.contains(&format!("did you mean {real}?")), "{text}");
    let text = err(new("group:ai-admin", &[]));
    assert!(text.contains("did you mean group:ai-admins?"), "{text}");
    assert!(
        Store::open(e.data())
            .unwrap()
            .campaigns()
            .unwrap()
            .is_empty()
    );

    let out = new(FALLBACK, &["--route", "manager"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = items(&e, "Q", &[]);
    let mine = all.iter().find(|i| i.assigned.contains('@')).unwrap();
    let seq = mine.item.seq.to_string();
    let delegate = |to: &str, extra: &[&str]| {
        let mut args = vec![
            "campaign",
            "delegate",
            "Q",
            "--as",
            &mine.assigned,
            "--to",
            to,
            "--item",
            &seq,
            "--reason",
            "not mine",
        ];
        args.extend_from_slice(extra);
        e.run(&args)
    };
    let text = err(delegate("nobody@nowhere.example", &[]));
    assert!(text.contains("is not a person of the directory"), "{text}");
    let out = delegate("nobody@nowhere.example", &["--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A campaign started by mistake is cancelled, not deleted: its submitted decisions are
/// withdrawn (never planned), its staging dropped, nothing in it can change after, it stays on
/// record as cancelled, and the audit chain verifies. Only its creator can cancel it.
#[test]
fn a_mistaken_campaign_is_cancelled_and_nothing_of_it_is_applied() {
    let e = Env::new("small", &[]);
    e.new_campaign("Oops", &["--route", "manager"]);
    let all = items(&e, "Oops", &[]);
    let mine = all.iter().find(|i| i.assigned.contains('@')).unwrap();
    let who = mine.assigned.clone();
    let seq = mine.item.seq.to_string();
    let decide = |verdict: &str| decide_one(&e, "Oops", &who, &seq, verdict);
    assert!(decide("revoke").status.success());
    ok(&e, &["campaign", "submit", "Oops", "--as", &who, "--yes"]);
    let plan = ok(&e, &["plan"]);
    assert!(
        !plan.contains("0 provider calls") || plan.contains("1 provider"),
        "{plan}"
    );

    let other = e
        .cmd(CANCEL_OOPS)
        .env("RECERT_REVIEWER", "someone.else@example.com")
        .output()
        .unwrap();
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("only responder@example.com"));

    let out = ok(&e, CANCEL_OOPS);
    assert!(out.contains("1 submitted decision withdrawn"), "{out}");
    let store = Store::open(e.data()).unwrap();
    assert!(
        store.decisions().unwrap().iter().all(|d| d.undone),
        "withdrawn"
    );
    drop(store);
    let plan = ok(&e, &["plan"]);
    assert!(!plan.contains("DELETE") && !plan.contains("POST"), "{plan}");
    let out = decide("certify");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("was cancelled by responder@example.com"),
        "{err}"
    );
    let list = ok(&e, &["campaign", "list"]);
    assert!(list.contains("cancelled"), "{list}");
    let status = ok(&e, &["campaign", "status", "Oops"]);
    assert!(
        status.contains("cancelled by responder@example.com: wrong scope"),
        "{status}"
    );
    let verify = ok(&e, &["audit", "verify"]);
    assert!(verify.contains("intact"), "{verify}");
    // Withdrawn decisions quietly made to stand again: caught.
    common::process::sql(&e.data(), "UPDATE decisions SET undone = 0");
    let out = e.run(&["audit", "verify"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("the chain last recorded it withdrawn"),
        "{err}"
    );
}

/// Cancelling a campaign whose revokes are already in an unfinished plan (the provider
/// refused them) withdraws them there too: `apply --resume` does not send them, it abandons
/// them, audited. Before, the resume sent every withdrawn revoke.
#[test]
fn a_cancelled_campaigns_revokes_are_not_sent_by_a_resumed_plan() {
    let e = Env::new("small", &["--faults", "403@users/user-"]);
    e.new_campaign("Oops", &["--route", "manager"]);
    let all = items(&e, "Oops", &[]);
    let mine = all
        .iter()
        .find(|i| {
            i.assigned.contains('@')
                && i.item.target.provider == "openai"
                && i.item.target.kind == "grant"
        })
        .unwrap();
    let who = mine.assigned.clone();
    let seq = mine.item.seq.to_string();
    let out = decide_one(&e, "Oops", &who, &seq, "revoke");
    assert!(out.status.success());
    ok(&e, &["campaign", "submit", "Oops", "--as", &who, "--yes"]);
    let out = e.run(&["apply", "--yes"]);
    assert!(!out.status.success(), "the provider refuses the call");
    let sent = e.mutations().len();
    ok(&e, CANCEL_OOPS);
    let out = ok(&e, &["apply", "--resume", "--yes"]);
    assert!(out.contains("its decisions were withdrawn"), "{out}");
    assert_eq!(e.mutations().len(), sent, "nothing sent after the cancel");
    let verify = ok(&e, &["audit", "verify"]);
    assert!(verify.contains("intact"), "{verify}");
}

/// Items routed to a group are reviewed by its members with their own email: `review --as
/// group:NAME` says so and names members (it used to point at `campaign status`, which lists
/// only the group), and a member's sign-off shows on the group's queue in `campaign status`.
#[test]
fn a_group_queue_is_reviewed_and_signed_off_by_its_members() {
    let e = Env::new("small", &[]);
    e.new_campaign("Grp", &["--route", "group:ai-admins"]);
    let member = fallback_member(&e);
    let snap = e.snapshot();
    let mut members: Vec<&String> = snap
        .data
        .people
        .iter()
        .filter(|p| p.groups.iter().any(|g| g == "ai-admins"))
        .filter_map(|p| p.emails.first().filter(|_| p.is_current()))
        .collect();
    members.sort();
    let err = fails(&e, &["review", "--campaign", "Grp", "--as", FALLBACK]);
    assert!(
        err.contains("is a group: its members review its items")
            && err.contains("--as EMAIL")
            && err.contains(members[0].as_str()),
        "{err}"
    );
    ok(
        &e,
        &[
            "campaign",
            "signoff",
            "Grp",
            "--as",
            &member,
            "--incomplete",
        ],
    );
    let status = ok(&e, &["campaign", "status", "Grp"]);
    let line = status
        .lines()
        .find(|l| l.starts_with(FALLBACK))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(line.ends_with(&format!("yes ({member})")), "{status}");
}

/// `campaign remind`: a dry run prints what it would send and sends and records nothing; a
/// real run posts one message per reviewer with open items to the webhook (a real listener on
/// loopback), audits who was reminded, and never shows or logs the webhook URL, also when the
/// webhook fails.
#[test]
fn reminders_reach_the_webhook_and_its_url_is_never_shown() {
    let e = Env::new("small", &[]);
    e.new_campaign("Q4", &["--route", "manager"]);
    let audit = || Store::open(e.data()).unwrap().audit_entries().unwrap();
    let before = audit().len();
    let dry = ok(&e, &["campaign", "remind", "Q4", "--dry-run"]);
    let lines: Vec<serde_json::Value> = dry
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty(), "{dry}");
    assert!(
        lines.iter().all(|m| m["text"]
            .as_str()
            .unwrap()
            .contains("recert review --campaign Q4")),
        "{dry}"
    );
    assert!(dry.contains("nothing was sent"), "{dry}");
    assert_eq!(audit().len(), before, "a dry run records nothing");

    // No webhook configured: said how to give one, and nothing is recorded.
    let out = e
        .cmd(&["campaign", "remind", "Q4"])
        .env_remove("RECERT_WEBHOOK_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("RECERT_WEBHOOK_URL") && err.contains("never in the config file"),
        "{err}"
    );

    let (url, bodies) = common::webhook(200);
    let out = e
        .cmd(&["campaign", "remind", "Q4"])
        .env("RECERT_WEBHOOK_URL", &url)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), lines.len(), "one message per reviewer: {all}");
    for (body, dry) in got.iter().zip(&lines) {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(&v, dry, "what the dry run showed is what was sent");
    }
    let entries = audit();
    let last = entries.last().unwrap();
    assert_eq!(last.event, "campaign.remind");
    let detail: serde_json::Value = serde_json::from_str(&last.detail).unwrap();
    assert_eq!(detail["reminded"].as_array().unwrap().len(), got.len());
    recert::audit::verify(&entries).unwrap();

    // A webhook that fails: a clear error, recorded, the URL nowhere.
    let (bad, _) = common::webhook(500);
    let out = e
        .cmd(&["campaign", "remind", "Q4"])
        .env("RECERT_WEBHOOK_URL", &bad)
        .output()
        .unwrap();
    let failed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(failed.contains("500"), "{failed}");
    // Nobody listening at all.
    let gone = "http://127.0.0.1:9/services/T0SECRET/B0SECRET/W3bh00kT0k3nNeverLogged";
    let out = e
        .cmd(&["campaign", "remind", "Q4"])
        .env("RECERT_WEBHOOK_URL", gone)
        .output()
        .unwrap();
    let unreachable = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    // Every file the runs wrote (logs, the store's database and its WAL), as bytes.
    let mut logs = String::new();
    for f in common::walk(&e.dir.path().to_path_buf()) {
        if let Ok(b) = std::fs::read(&f) {
            logs.push_str(&String::from_utf8_lossy(&b));
        }
    }
    for text in [&all, &failed, &unreachable, &logs] {
        assert!(
            !text.contains("W3bh00kT0k3n"),
            "the webhook URL leaked:\n{text}"
        );
    }
    let store = Store::open(e.data()).unwrap();
    let remind: Vec<_> = store
        .audit_entries()
        .unwrap()
        .into_iter()
        .filter(|x| x.event == "campaign.remind")
        .collect();
    assert_eq!(remind.len(), 3, "the failures are recorded too");
    assert!(remind.iter().all(|x| !x.detail.contains("W3bh00k")));
}
