//! The destructive path, tried as an attacker and as a hurried responder would: a hostile id
//! cannot move a call to another object, a plan sends each effect once and nothing the provider
//! will refuse, what was done is not sent again, and one plan has one applier. Every test runs
//! against the simulator over real HTTP and checks what reached it.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use recert::review::{NewDecision, Target, Verdict};
use recert::sim::world::{KeyOwner, OaiKey, Size};
use recert::store::Store;

mod common;
use common::process::Env;

fn revoke(provider: &str, source: &str, kind: &str, id: &str) -> NewDecision {
    NewDecision {
        verdict: Verdict::Revoke,
        target: Target::new(provider, source, kind, id),
        label: id.to_string(),
        rule: None,
        owner: None,
        until: None,
        justification: Some("incident".into()),
    }
}

/// Before the path builder, this key's DELETE reached the server as
/// `DELETE /organization/users/<victim>`: an org user was deleted instead of a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traversal_key_id_deletes_that_key_and_nothing_else() {
    let mut f = common::fresh(Size::Small, 3, "", "").await;
    let (project, victim) = {
        let mut w = f.sim.state.world.write().unwrap();
        let victim = w.openai.users.keys().next().unwrap().clone();
        let project = w.openai.projects.keys().next().unwrap().clone();
        let hostile = format!("../../../users/{victim}");
        let owner = w.openai.users[&victim].clone();
        let now = w.now;
        w.openai
            .api_keys
            .entry(project.clone())
            .or_default()
            .insert(
                hostile.clone(),
                OaiKey {
                    id: hostile,
                    name: "innocent".into(),
                    redacted_value: "sk-proj-abc...wxyz".into(),
                    created_at: now - 86_400,
                    last_used_at: None,
                    owner: KeyOwner::User {
                        id: owner.id.clone(),
                        name: owner.name.clone(),
                        email: owner.email.clone(),
                        role: owner.role.clone(),
                        created_at: owner.added_at,
                    },
                    owner_project_access: "active".into(),
                },
            );
        (project, victim)
    };
    if w_archived(&f, &project) {
        f.sim
            .state
            .world
            .write()
            .unwrap()
            .openai
            .projects
            .get_mut(&project)
            .unwrap()
            .archived_at = None;
    }
    common::sync_once(&f.cfg, &mut f.store).await;
    let hostile = format!("../../../users/{victim}");
    let snap = f.store.latest_snapshot().unwrap().unwrap();
    assert!(snap.data.credentials.iter().any(|c| c.id == hostile));
    f.store
        .record_decisions(
            &[revoke("openai", "openai", "api_key", &hostile)],
            "responder@example.com",
            Some(snap.id),
            1,
        )
        .unwrap();
    let ds = f.store.decisions().unwrap();
    let refs: Vec<_> = ds.iter().collect();
    let steps = recert::remediate::plan(&refs, &snap.data);
    assert_eq!(recert::remediate::calls(&steps), 1, "{steps:?}");
    let recert::remediate::Step::Call { path: shown, .. } = &steps[0].step else {
        panic!("{steps:?}")
    };
    let plan = f
        .store
        .create_plan(&steps, "responder", Some(snap.id), 1)
        .unwrap();
    let src = f.cfg.source("openai").unwrap();
    let http =
        recert::connectors::client(src, recert::secret::Secret::new(recert::sim::DEFAULT_KEY));
    let clients = HashMap::from([("openai".to_string(), Arc::new(http))]);
    let store = Mutex::new(f.store);
    let out = recert::remediate::apply::execute(
        &store,
        plan,
        &clients,
        4,
        "responder",
        &|_, _, _, _, _| {},
    )
    .await
    .unwrap();
    assert_eq!(out.done, 1, "{:?}", out.failed);
    // The path on the wire is the path the reviewer confirmed, byte for byte.
    let m: Vec<_> = f
        .sim
        .state
        .mutations()
        .into_iter()
        .filter(|x| x.path.starts_with("/openai/"))
        .collect();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].path, format!("/openai/v1{shown}"));
    assert_eq!(m[0].status, 200);
    let w = f.sim.state.world.read().unwrap();
    assert!(
        w.openai.users.contains_key(&victim),
        "the victim user was deleted"
    );
    assert!(
        !w.openai.api_keys[&project].contains_key(&hostile),
        "the key is still there"
    );
}

fn w_archived(f: &common::Fresh, project: &str) -> bool {
    f.sim.state.world.read().unwrap().openai.projects[project]
        .archived_at
        .is_some()
}

/// A leaver on every provider, with project memberships (one in an archived project where the
/// organisation has one), keys and workspace memberships: the sweep sends each effect once, in
/// an order where nothing races the removal that covers it, and nothing the provider refuses.
#[test]
fn a_person_sweep_sends_each_effect_once_and_nothing_the_provider_refuses() {
    let e = Env::new("medium", &[]);
    let store = Store::open(&e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    drop(store);
    let d = &snap.data;
    let archived: HashSet<&str> = d
        .resources
        .iter()
        .filter(|r| r.archived)
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        !archived.is_empty(),
        "the organisation has archived projects"
    );
    // The OpenAI member (not an owner) with the most project memberships, one of them archived.
    let email = d
        .accounts
        .iter()
        .filter(|a| a.provider == "openai" && a.role.as_deref() != Some("owner"))
        .filter(|a| {
            d.grants.iter().any(|g| {
                g.provider == "openai"
                    && g.principal_id == a.id
                    && archived.contains(g.resource_id.as_str())
            })
        })
        .max_by_key(|a| d.grants.iter().filter(|g| g.principal_id == a.id).count())
        .and_then(|a| a.email.clone())
        .expect("someone with a membership in an archived project");
    let plan = e.run(&["revoke", "--person", &email, "--yes", "--reason", "left"]);
    let err = String::from_utf8_lossy(&plan.stderr).to_string();
    assert!(plan.status.success(), "{err}");
    assert!(err.contains("nothing to send: project"), "{err}");
    assert!(err.contains("covered by removing the org user"), "{err}");
    let m = e.mutations();
    assert!(!m.is_empty());
    for x in &m {
        assert!(x.status < 300, "refused or already gone: {x:?}\n{m:?}");
    }
    let mut seen = HashSet::new();
    for x in &m {
        assert!(seen.insert((&x.method, &x.path)), "sent twice: {x:?}");
    }

    // Again: the journal knows it is done, so nothing is sent and the plan says when it was.
    let before = e.mutations().len();
    let again = e.run(&["revoke", "--person", &email, "--yes"]);
    let err = String::from_utf8_lossy(&again.stderr).to_string();
    assert!(again.status.success(), "{err}");
    assert!(err.contains("already done in plan #1"), "{err}");
    assert_eq!(e.mutations().len(), before, "a call was sent again");
}

/// Two appliers of one plan: the second is refused with who holds the plan, and every target
/// is deleted exactly once (1,000 calls at 20 ms, so the first is still running when the
/// second starts).
#[test]
fn one_plan_has_one_applier() {
    let e = Env::new("medium", &["--latency-ms", "20"]);
    let mut store = Store::open(&e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    let items: Vec<NewDecision> = snap
        .data
        .accounts
        .iter()
        .filter(|a| a.provider == "openai" && a.role.as_deref() != Some("owner"))
        .take(1000)
        .map(|a| revoke("openai", "openai", "account", &a.id))
        .collect();
    store
        .record_decisions(&items, "responder@example.com", Some(snap.id), 1)
        .unwrap();
    drop(store);
    let mut first = e
        .cmd(&["apply", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while e.mutations().len() < 20 {
        assert!(Instant::now() < deadline, "the first apply sent nothing");
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = e.run(&["apply", "--resume", "--yes"]);
    let err = String::from_utf8_lossy(&second.stderr).to_string();
    assert!(!second.status.success(), "{err}");
    assert!(
        err.contains(&format!("plan #1 is being applied by pid {}", first.id())),
        "{err}"
    );
    assert!(first.wait().unwrap().success());
    let m = e.mutations();
    assert_eq!(m.len(), 1000, "every target once");
    let paths: HashSet<&str> = m.iter().map(|x| x.path.as_str()).collect();
    assert_eq!(paths.len(), 1000);
}

/// A killed applier leaves its lock behind; the next `--resume` takes it over (audited) and
/// finishes the plan.
#[test]
fn a_dead_appliers_lock_is_recovered() {
    let e = Env::new("small", &[]);
    let mut store = Store::open(&e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    let a = snap
        .data
        .accounts
        .iter()
        .find(|a| a.provider == "openai" && a.role.as_deref() != Some("owner"))
        .unwrap();
    store
        .record_decisions(
            &[revoke("openai", "openai", "account", &a.id)],
            "r",
            Some(snap.id),
            1,
        )
        .unwrap();
    let ds = store.decisions().unwrap();
    let refs: Vec<_> = ds.iter().collect();
    let steps = recert::remediate::plan(&refs, &snap.data);
    let plan = store.create_plan(&steps, "r", Some(snap.id), 1).unwrap();
    drop(store);
    // A lock held by a process that has exited.
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    common::process::sql(
        &e.data(),
        &format!(
            "INSERT INTO apply_locks (plan_id, pid, pid_start, host, since) VALUES ({plan}, {pid}, 'gone', '{}', 1)",
            recert::store::remediate::host_name()
        ),
    );
    let out = e.run(&["apply", "--resume", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open(&e.data()).unwrap();
    assert!(
        store
            .audit_entries()
            .unwrap()
            .iter()
            .any(|x| x.event == "lock-recovered")
    );
}

/// Each provider's server echoes the credential it was sent (Bearer for OpenAI and SCIM,
/// `x-api-key` for Anthropic, HTTP Basic `base64(key:)` for Cursor) in its error message.
/// Before the one redactor, Cursor's Basic form reached the report and `source_runs.error`
/// whole, and a key cut by the excerpt survived in part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_key_leaves_no_trace_in_any_encoding() {
    use base64::Engine;
    let key = "sk-zz-Q9xLmT4vR8wKpJ2nYc6HbF3sDgA7eU5oZ1iWq0";
    let sim = recert::sim::start(recert::sim::SimOptions {
        size: Size::Small,
        seed: 5,
        key: key.into(),
        faults: recert::sim::faults::Faults::parse("echo").unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = common::config(&sim, "");
    let report = common::sync_with_key(&cfg, &mut store, key).await;
    assert!(report.sources.iter().all(|s| !s.ok), "{:?}", report.lines());
    drop(store);
    let b64 = base64::engine::general_purpose::STANDARD;
    let forms = [
        key.to_string(),
        b64.encode(format!("{key}:")),
        b64.encode(format!(":{key}")),
    ];
    let mut texts = report.lines();
    texts.extend(report.sources.iter().filter_map(|s| s.error.clone()));
    // Every byte the store holds, its WAL included.
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        texts.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    let cursor = texts.iter().any(|t| t.contains("source 'cursor'"));
    assert!(cursor, "the Cursor failure is reported");
    // The echo did reach the error, and was redacted there.
    assert!(
        report
            .sources
            .iter()
            .filter_map(|s| s.error.as_deref())
            .any(|e| e.contains("Invalid credentials") && e.contains("[REDACTED]")),
        "{:?}",
        report.lines()
    );
    for t in &texts {
        for form in &forms {
            for w in form.as_bytes().windows(8) {
                let w = std::str::from_utf8(w).unwrap();
                assert!(
                    !t.contains(w),
                    "{w} of {form} survives in {}",
                    &t[..t.len().min(400)]
                );
            }
        }
    }
    sim.stop().await;
}
