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
        &Default::default(),
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
    let store = Store::open(e.data()).unwrap();
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
    let email = common::process::busiest_openai_member(d, |a| {
        d.grants.iter().any(|g| {
            g.provider == "openai"
                && g.principal_id == a.id
                && archived.contains(g.resource_id.as_str())
        })
    })
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

/// The issue's run: close a `medium` campaign with the revoke policy and apply. Items inside
/// archived projects and workspaces are not in the campaign at all (they grant nothing), so no
/// call the provider refuses is planned; every call goes out once and `apply` exits 0.
#[test]
fn closing_a_medium_campaign_with_revoke_applies_cleanly() {
    let e = Env::new("medium", &[]);
    let store = Store::open(e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    drop(store);
    let d = &snap.data;
    let archived = recert::model::Archived::new(d);
    assert!(
        !archived.is_empty(),
        "the organisation has archived containers"
    );
    let inside = d
        .grants
        .iter()
        .filter(|g| archived.container(&g.source, &g.resource_id).is_some())
        .count();
    assert!(inside > 0, "memberships in archived containers exist");

    e.new_campaign("Q4", &["--on-close", "revoke"]);
    e.ok(&["campaign", "close", "Q4", "--yes"]);
    let before = e.mutations().len();
    let out = e.ok(&["apply", "--yes"]);
    let m = e.mutations();
    assert!(m.len() > before, "the closing policy sent nothing: {out}");
    let mut seen = HashSet::new();
    for x in &m[before..] {
        assert!(x.status < 300, "refused or already gone: {x:?}");
        assert!(seen.insert((&x.method, &x.path)), "sent twice: {x:?}");
    }
}

/// Two appliers of one plan: the second is refused with who holds the plan, and every target
/// is deleted exactly once (1,000 calls at 20 ms, so the first is still running when the
/// second starts).
#[test]
fn one_plan_has_one_applier() {
    let e = Env::new("medium", &["--latency-ms", "20"]);
    let mut store = Store::open(e.data()).unwrap();
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
    // A new plan meanwhile is refused with who is applying, not as if a run had died.
    for args in [&["apply", "--yes"][..], &["apply", "--resume", "--yes"]] {
        let second = e.run(args);
        let err = String::from_utf8_lossy(&second.stderr).to_string();
        assert!(!second.status.success(), "{err}");
        assert!(
            err.contains(&format!("plan #1 is being applied by pid {}", first.id())),
            "{args:?}: {err}"
        );
        assert!(!err.contains("interrupted"), "{args:?}: {err}");
    }
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
    let mut store = Store::open(e.data()).unwrap();
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
    let store = Store::open(e.data()).unwrap();
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

/// `audit verify` after each kind of tampering, on a store with decisions, a plan, sent calls
/// and answers: each is caught and named, the tail's deletion included.
#[test]
fn audit_verify_catches_every_kind_of_tampering() {
    let e = Env::new("small", &[]);
    let store = Store::open(e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    drop(store);
    let d = &snap.data;
    let email = common::process::busiest_openai_member(d, |_| true).unwrap();
    let out = e.run(&["revoke", "--person", &email, "--yes", "--reason", "left"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = |extra: &[&str]| {
        let mut args = vec!["audit", "verify"];
        args.extend_from_slice(extra);
        let out = e.run(&args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = verify(&[]);
    assert!(ok, "{text}");
    let head = text
        .split("head ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .trim_end_matches(',')
        .to_string();
    let last: i64 = head.split(':').next().unwrap().parse().unwrap();
    assert!(last >= 12, "a sweep of several calls: {text}");
    let (ok, text) = verify(&["--head", &head]);
    assert!(ok, "{text}");

    let db = e.data().join("recert.db");
    let good = std::fs::read(&db).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "an edited entry",
            "UPDATE audit SET detail = detail || ' ' WHERE seq = 3".into(),
            "does not match its hash",
        ),
        (
            "a deleted entry",
            "DELETE FROM audit WHERE seq = 4".into(),
            "deleted",
        ),
        (
            "the tail deleted",
            "DELETE FROM audit WHERE seq >= 10".into(),
            "deleted from its end",
        ),
        (
            "the tail deleted and the head row rewritten to match",
            "DELETE FROM audit WHERE seq >= 2; UPDATE audit_head SET seq = 1, hash = (SELECT hash FROM audit WHERE seq = 1)".into(),
            "has no audit entry",
        ),
        (
            "the head row deleted",
            "DELETE FROM audit_head".into(),
            "head row was deleted",
        ),
        (
            "a decision's target rewritten",
            "UPDATE decisions SET target_id = 'x' || target_id WHERE id = (SELECT min(id) FROM decisions)".into(),
            "no longer hash to the digest",
        ),
        (
            "a sent call's path rewritten",
            "UPDATE journal SET path = path || 'x' WHERE rowid = (SELECT min(rowid) FROM journal WHERE attempts > 0)".into(),
            "not the one recorded as sent",
        ),
        (
            "an answer rewritten",
            "UPDATE journal SET status = 299 WHERE rowid = (SELECT min(rowid) FROM journal WHERE attempts > 0 AND state = 'done')".into(),
            "outcome is not the answer recorded",
        ),
        (
            "a decision batch deleted",
            "DELETE FROM decisions WHERE batch = (SELECT max(batch) FROM decisions)".into(),
            "its decisions were deleted",
        ),
        (
            "a done call put back to pending, so it would be sent again",
            "UPDATE journal SET state = 'pending' WHERE rowid = (SELECT min(rowid) FROM journal WHERE attempts > 0 AND state = 'done')".into(),
            "the chain last recorded it done",
        ),
        (
            "a call marked abandoned with no record of it",
            "UPDATE journal SET state = 'abandoned' WHERE rowid = (SELECT min(rowid) FROM journal WHERE attempts > 0)".into(),
            "abandoning of call",
        ),
    ];
    for (what, statement, says) in &cases {
        std::fs::write(&db, &good).unwrap();
        common::process::sql(&e.data(), statement);
        let (ok, text) = verify(&[]);
        assert!(!ok, "{what}: verify passed: {text}");
        assert!(text.contains(says), "{what}: {text}");
    }
    // Everything rewritten consistently but for a head kept elsewhere: the anchor catches it.
    std::fs::write(&db, &good).unwrap();
    common::process::sql(
        &e.data(),
        &format!(
            "DELETE FROM audit WHERE seq = {last}; UPDATE audit_head SET seq = {p}, hash = (SELECT hash FROM audit WHERE seq = {p})",
            p = last - 1
        ),
    );
    let (ok, text) = verify(&["--head", &head]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("entry #{last} with hash")) || text.contains("has no audit entry"),
        "{text}"
    );
    std::fs::write(&db, &good).unwrap();
    let (ok, text) = verify(&["--head", &head]);
    assert!(ok, "restored: {text}");
}

/// A store that exists but is empty is refused, never replaced; a damaged one says what to
/// do; neither is changed.
#[test]
fn an_empty_or_damaged_store_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("recert.db");
    std::fs::write(&db, b"").unwrap();
    let run = |args: &[&str]| {
        common::process::recert()
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(dir.path().join("none.toml"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["audit", "verify"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("exists but is empty"), "{err}");
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "left as it was");

    // A store whose header is garbage: what to do, and the file untouched.
    let garbage = b"this is not a database, but it was recert.db once".repeat(200);
    std::fs::write(&db, &garbage).unwrap();
    let out = run(&["audit", "verify"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("is damaged") && err.contains("backup"),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "left as it was");

    // Another program's SQLite file, with or without an application id of its own: refused,
    // and not a byte of it changed (not even its journal mode).
    for pragma in [
        "",
        "PRAGMA application_id = 1234;",
        // Another program's schema version: not an older recert store.
        "PRAGMA user_version = 3;",
    ] {
        std::fs::remove_file(&db).unwrap();
        let other = rusqlite::Connection::open(&db).unwrap();
        other
            .execute_batch(&format!(
                "{pragma} CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');"
            ))
            .unwrap();
        drop(other);
        let before = std::fs::read(&db).unwrap();
        let out = run(&["audit", "verify"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("recert did not create"), "{err}");
        assert_eq!(std::fs::read(&db).unwrap(), before, "left as it was");
    }
}

/// A store its owner made read-only (the file and its directory) serves every command that
/// only reads, and a command that writes says why it cannot; recert never makes it writable.
#[test]
fn a_read_only_store_serves_reads() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new("small", &[]);
    let data = e.data();
    let db = data.join("recert.db");
    // The owner is an unprivileged user (root would write regardless of modes).
    let root = unsafe { libc::geteuid() } == 0;
    let as_owner = |args: &[&str]| {
        let mut c = if root {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_recert"));
            c.env("RECERT_SIM_KEY", recert::sim::DEFAULT_KEY)
                .env("RECERT_REVIEWER", "responder@example.com")
                .env("HOME", e.dir.path());
            c
        } else {
            common::process::recert()
        };
        c.arg("--config")
            .arg(e.dir.path().join("cfg.toml"))
            .arg("--data-dir")
            .arg(&data)
            .args(args);
        c.output().unwrap()
    };
    if root {
        std::fs::set_permissions(e.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(
            e.dir.path().join("cfg.toml"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let status = std::process::Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(&data)
            .status()
            .unwrap();
        assert!(status.success());
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o400)).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o500)).unwrap();
    for args in [
        &["gaps"][..],
        &["audit", "verify"],
        &["campaign", "list"],
        &["gaps", "--format", "csv"],
    ] {
        let out = as_owner(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let new = "campaign new --name Q1 --due +30d --fallback group:ai-admins";
    let out = as_owner(&new.split(' ').collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(err.contains("read-only"), "{err}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o400, "the file stays read-only");
    assert_eq!(mode(&data), 0o500, "the directory stays read-only");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// Provider names that attack their reader (`sim --hostile`: OSC 52, a title change, U+2028, a
/// bidi override, formula prefixes) reach every output defused: no unsafe character in any
/// text output, no CSV cell a spreadsheet would run, and JSON that still reads back exactly.
#[test]
fn hostile_provider_text_never_reaches_a_terminal_or_a_spreadsheet() {
    use recert::model::text::is_unsafe;
    let e = Env::new("small", &["--hostile"]);
    let out = |args: &[&str]| -> String {
        let o = e.run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let terminal_safe = |what: &str, text: &str| {
        if let Some(c) = text.chars().find(|c| *c != '\n' && is_unsafe(*c)) {
            panic!("{what}: U+{:04X} reaches the reader", c as u32);
        }
    };
    let spreadsheet_safe = |what: &str, text: &str| {
        terminal_safe(what, text);
        let mut rows = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        for r in rows.records() {
            for cell in r.unwrap().iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{what}: a live formula cell {cell:?}"
                );
            }
        }
    };
    let gaps = out(&["gaps", "--format", "csv"]);
    assert!(
        gaps.contains("HYPERLINK") && gaps.contains("]52;c;"),
        "the hostile names are in the output, defused: {}",
        &gaps[..gaps.len().min(2000)]
    );
    spreadsheet_safe("gaps --format csv", &gaps);
    terminal_safe("gaps", &out(&["gaps"]));
    let json = out(&["gaps", "--format", "json"]);
    terminal_safe("gaps --format json", &json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|f| f["detail"].as_str().is_some_and(|d| d.contains('\u{1b}'))),
        "JSON keeps the provider's text exactly (escaped, not altered)"
    );
    e.new_campaign("Q4", &[]);
    spreadsheet_safe(
        "campaign items --format csv",
        &out(&["campaign", "items", "Q4", "--format", "csv"]),
    );
    terminal_safe("campaign items", &out(&["campaign", "items", "Q4"]));
    let pack = e.dir.path().join("pack");
    out(&["export", "evidence", "--out", pack.to_str().unwrap()]);
    let mut seen = 0;
    for f in std::fs::read_dir(&pack).unwrap() {
        let p = f.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        match p.extension().and_then(|x| x.to_str()) {
            Some("csv") => {
                seen += 1;
                spreadsheet_safe(&p.display().to_string(), &text);
            }
            Some("json" | "html") => terminal_safe(&p.display().to_string(), &text),
            _ => {}
        }
    }
    assert!(seen >= 3, "the pack's CSV files were checked");
}

/// Revoking what an earlier plan revoked sends nothing and says when it was done; with
/// `--recheck` one read proves it (the key is inactive), and when the provider has it back
/// (someone re-activated the key) the call is sent again, saying why.
#[test]
fn a_recheck_proves_an_earlier_revocation_or_sends_it_again() {
    let e = Env::new("small", &[]);
    let key = usable_anthropic_key(&e);
    let revoke = |extra: &[&str]| {
        let mut args = vec!["revoke", "--key", key.as_str(), "--yes"];
        args.extend_from_slice(extra);
        let out = e.run(&args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{err}");
        err
    };
    revoke(&[]);
    let posts = |m: &[recert::sim::Served]| {
        m.iter()
            .filter(|x| x.method == "POST" && x.path.ends_with(&key))
            .count()
    };
    assert_eq!(posts(&e.mutations()), 1);

    let err = revoke(&[]);
    assert!(err.contains("already revoked"), "{err}");
    assert!(err.contains("`--recheck` proves it"), "{err}");
    let err = revoke(&["--recheck"]);
    assert!(err.contains("re-checked: GET"), "{err}");
    assert!(err.contains("the key is inactive"), "{err}");
    assert_eq!(posts(&e.mutations()), 1, "a re-check reads, never resends");

    // Someone turns the key back on at the provider.
    let reactivate = || turn_on_anthropic_key(&e, &key);
    reactivate();
    assert_eq!(posts(&e.mutations()), 2);
    let err = revoke(&["--recheck"]);
    assert!(err.contains("the key is still active"), "{err}");
    assert!(err.contains("sent again"), "{err}");
    assert_eq!(posts(&e.mutations()), 3, "sent once more");

    // A sync after the revocation shows the key inactive: nothing to send, and why.
    std::thread::sleep(Duration::from_millis(1100));
    e.ok(&["sync"]);
    let err = revoke(&[]);
    assert!(err.contains("is already inactive in the snapshot"), "{err}");
    assert_eq!(posts(&e.mutations()), 3);
    // Turned on again, and a sync sees it: without any re-check, the snapshot (newer than the
    // journal's call) is the provider's word, so the call goes again, saying why.
    reactivate();
    std::thread::sleep(Duration::from_millis(1100));
    e.ok(&["sync"]);
    let err = revoke(&[]);
    assert!(err.contains("was taken after it"), "{err}");
    assert_eq!(
        posts(&e.mutations()),
        5,
        "sent again after the sync saw it back"
    );
}

/// The id of the first usable Anthropic key in the latest snapshot.
fn usable_anthropic_key(e: &Env) -> String {
    let store = Store::open(e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    snap.data
        .credentials
        .iter()
        .find(|c| c.provider == "anthropic" && c.usable())
        .map(|c| c.id.clone())
        .unwrap()
}

/// Turn an Anthropic key on again at the simulated provider, as someone with its console would.
fn turn_on_anthropic_key(e: &Env, key: &str) {
    let cfg = std::fs::read_to_string(e.dir.path().join("cfg.toml")).unwrap();
    let base = cfg
        .lines()
        .filter_map(|l| l.strip_prefix("base_url = \""))
        .find(|u| u.contains("/anthropic"))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{base}/v1/organizations/api_keys/{key}"))
            .header("x-api-key", recert::sim::DEFAULT_KEY)
            .header("anthropic-version", "2023-06-01")
            .json(&serde_json::json!({"status": "active"}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success());
}

/// A run killed between sending a call and recording its answer leaves the call `sent`, its
/// outcome unknown. `apply --resume` reads before it resends: a call the provider shows took
/// is recorded done without a second write; one that did not take is sent again.
#[test]
fn a_call_whose_answer_was_lost_is_rechecked_before_it_is_sent_again() {
    let e = Env::new("small", &[]);
    let key = usable_anthropic_key(&e);
    e.ok(&["revoke", "--key", &key, "--yes"]);
    let posts = || {
        e.mutations()
            .iter()
            .filter(|x| x.method == "POST" && x.path.ends_with(&key))
            .count()
    };
    assert_eq!(posts(), 1);
    // As a kill -9 after the send and before the answer was written leaves it.
    let lose_the_answer = || {
        common::process::sql(
            &e.data(),
            "UPDATE journal SET state = 'sent', status = NULL, result = NULL WHERE kind = 'call'",
        )
    };
    lose_the_answer();
    let out = e.ok(&["apply", "--resume", "--yes"]);
    assert!(
        out.contains("re-checked") && out.contains("the key is inactive"),
        "{out}"
    );
    assert!(
        out.contains("0 calls done now, 1 done before"),
        "nothing sent now: {out}"
    );
    assert_eq!(posts(), 1, "the read proved it took: not sent again");

    // The same, but the call never took (the key is active at the provider).
    turn_on_anthropic_key(&e, &key);
    lose_the_answer();
    let out = e.ok(&["apply", "--resume", "--yes"]);
    assert!(out.contains("still active"), "{out}");
    assert_eq!(posts(), 3, "sent again: the earlier call did not take");
}

/// Two `apply` at once on the same standing decisions (a closed campaign's): the plans are
/// made under the store's write lock, so the second is refused while the first runs, or finds
/// its calls already done; no call reaches a provider twice. Before, each process planned the
/// same calls and both sent them all.
#[test]
fn two_applies_at_once_send_each_call_once() {
    let e = Env::new("small", &["--latency-ms", "30"]);
    e.new_campaign("Q4", &["--on-close", "revoke"]);
    e.ok(&["campaign", "close", "Q4", "--yes"]);
    let spawn = || {
        e.cmd(&["apply", "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    let (ra, rb) = (a.wait().unwrap(), b.wait().unwrap());
    assert!(ra.success() || rb.success(), "one of them applied");
    // Whatever the second did, a resume finishes the work and sends nothing twice.
    let _ = e.run(&["apply", "--resume", "--yes"]);
    let m = e.mutations();
    assert!(m.len() > 10, "the campaign's revokes went out: {}", m.len());
    let mut seen = HashSet::new();
    // (Cursor's removals share one path; every other call names its object.)
    for x in m.iter().filter(|x| !x.path.ends_with("remove-member")) {
        assert!(
            seen.insert((&x.method, &x.path)),
            "sent twice: {} {} ({} calls in all)",
            x.method,
            x.path,
            m.len()
        );
    }
}

/// A call the provider will never accept leaves its plan unfinished, which blocks every later
/// plan; `apply --abandon --reason` gives it up (audited) and incident response goes on.
#[test]
fn an_unsendable_call_can_be_abandoned_so_revocation_goes_on() {
    let e = Env::new("small", &["--faults", "403@api_keys/key_"]);
    let store = Store::open(e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    drop(store);
    let d = &snap.data;
    let key = d
        .credentials
        .iter()
        .find(|c| {
            c.kind == "project_key"
                && c.owner.as_ref().is_some_and(|o| o.kind == "user")
                && recert::model::Archived::new(d)
                    .container(&c.source, c.resource_id.as_deref().unwrap_or(""))
                    .is_none()
        })
        .map(|c| c.id.clone())
        .unwrap();
    let out = e.run(&["revoke", "--key", &key, "--yes"]);
    assert!(!out.status.success(), "the provider refuses the call");
    // Someone who owns no key (every key DELETE is refused here).
    let email = common::process::busiest_openai_member(d, |a| {
        !d.credentials
            .iter()
            .any(|c| c.owner.as_ref().is_some_and(|o| o.id == a.id))
    })
    .unwrap();
    let out = e.run(&["revoke", "--person", &email, "--yes"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(err.contains("apply --abandon"), "{err}");
    let err = String::from_utf8_lossy(&e.run(&["apply", "--abandon"]).stderr).to_string();
    assert!(err.contains("--reason"), "a reason is required: {err}");
    let out = e.ok(&["apply", "--abandon", "--reason", "the provider refuses it"]);
    assert!(out.contains("1 call abandoned"), "{out}");
    assert!(out.contains(&key), "{out}");
    e.ok(&["revoke", "--person", &email, "--yes"]);
    let verify = e.ok(&["audit", "verify"]);
    assert!(verify.contains("intact"), "{verify}");
}

/// A reviewer who pastes the admin key into a reason (decide, delegate, abandon, revoke)
/// leaves no trace of it in any file of the store: every free text is redacted before it is
/// staged, stored, chained or journaled.
#[test]
fn a_key_typed_into_a_reason_is_never_stored() {
    // The key the environment holds now (rotated since the sync): it was never sent anywhere.
    let key = "zq7Vt0Lk9pXw4Rw9bN2m";
    let why = format!("rotated; the old one was {key} (see ticket)");
    let e = Env::new("small", &[]);
    let ok = |args: &[&str]| {
        let out = e.cmd(args).env("RECERT_SIM_KEY", key).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    e.new_campaign("Q", &["--route", "manager"]);
    let store = Store::open(e.data()).unwrap();
    let id = store.campaign("Q").unwrap().id;
    let all = store.campaign_items(id).unwrap();
    drop(store);
    let reviewer = all
        .iter()
        .find(|i| i.assigned.contains('@'))
        .unwrap()
        .assigned
        .clone();
    let other = all
        .iter()
        .find(|i| i.assigned != reviewer)
        .unwrap()
        .assigned
        .clone();
    let mine: Vec<String> = all
        .iter()
        .filter(|i| i.assigned == reviewer)
        .map(|i| i.item.seq.to_string())
        .collect();
    assert!(mine.len() >= 2, "{reviewer} has {} items", mine.len());
    let q = ["campaign", "decide", "Q", "--as", &reviewer];
    ok(&[
        &q[..],
        &["--item", &mine[0], "--verdict", "certify", "--reason", &why],
    ]
    .concat());
    // Staged only: the staged row must already be clean.
    let staged = all_store_text(&e);
    ok(&["campaign", "submit", "Q", "--as", &reviewer, "--yes"]);
    ok(&[
        "campaign", "delegate", "Q", "--as", &reviewer, "--to", &other, "--item", &mine[1],
        "--reason", &why,
    ]);
    let text = format!("{staged}{}", all_store_text(&e));
    for w in key.as_bytes().windows(8) {
        let w = std::str::from_utf8(w).unwrap();
        assert!(!text.contains(w), "{w} of the key is in the store");
    }
    assert!(
        text.contains("rotated; the old one was [REDACTED]"),
        "the rest of the reason stays"
    );
}

/// Every byte of every file in the data dir (the WAL included), as text.
fn all_store_text(e: &Env) -> String {
    let mut text = String::new();
    for f in std::fs::read_dir(e.data()).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap_or_default();
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    text
}

/// The admin key recert runs with is one of the org's admin keys. A plan that would delete
/// it (a leaked-key sweep, a campaign closed with revoke) turns that call into a manual step
/// saying why, and every other admin key still goes: deleting it first would lock recert out
/// before the rest of the plan ran.
#[test]
fn a_plan_never_deletes_the_admin_key_recert_runs_with() {
    let e = Env::new("small", &[]);
    let snap = e.snapshot();
    let admin: Vec<&recert::model::Credential> = snap
        .data
        .credentials
        .iter()
        .filter(|c| c.kind == "admin_key")
        .collect();
    let mine = admin
        .iter()
        .find(|c| c.name.as_deref() == Some("recert-admin"))
        .unwrap();
    assert!(admin.len() >= 2, "other admin keys to revoke");
    let deletes = |id: &str| {
        e.mutations()
            .iter()
            .filter(|m| m.method == "DELETE" && m.path.ends_with(&format!("admin_api_keys/{id}")))
            .count()
    };
    let out = e.ok(&["revoke", "--key", &mine.id, "--yes"]);
    assert!(out.contains("the key recert itself uses"), "{out}");
    assert_eq!(deletes(&mine.id), 0);

    e.new_campaign("Q", &["--on-close", "revoke", "--kind", "admin_key"]);
    e.ok(&["campaign", "close", "Q", "--yes"]);
    let out = e.ok(&["apply", "--yes"]);
    assert!(out.contains("the key recert itself uses"), "{out}");
    assert_eq!(deletes(&mine.id), 0, "recert's own key is never deleted");
    for other in admin.iter().filter(|c| c.id != mine.id) {
        assert_eq!(deletes(&other.id), 1, "{} is revoked", other.id);
    }
    // recert still works: it can sync.
    e.ok(&["sync"]);

    // A plan stored by an older recert (or before the key was known) that deletes it: the
    // applier checks again at the last moment, and abandons that call, audited.
    let mut store = Store::open(e.data()).unwrap();
    let steps = vec![recert::remediate::PlannedStep {
        decisions: vec![],
        step: recert::remediate::Step::Call {
            source: mine.source.clone(),
            method: "DELETE",
            path: format!("/organization/admin_api_keys/{}", mine.id),
            body: None,
            note: None,
        },
    }];
    let snap_id = store.latest_snapshot_id().unwrap();
    store.create_plan(&steps, "old-recert", snap_id, 1).unwrap();
    drop(store);
    let out = e.ok(&["apply", "--resume", "--yes"]);
    assert!(
        out.contains("deletes the admin key recert itself uses"),
        "{out}"
    );
    assert_eq!(deletes(&mine.id), 0, "never sent");
    let verify = e.ok(&["audit", "verify"]);
    assert!(verify.contains("intact"), "{verify}");
}

/// A store with a damaged page that a sync would never read (here the root page of the
/// campaign delegations, which a sync does not touch) is not written to: SQLite notices damage
/// only on the pages it reads, so `recert sync` stored a new snapshot into it (found by an
/// attacker overwriting pages of a store). It checks the store first and stops, saying what to
/// do, with nothing read from the providers and nothing written.
#[test]
fn a_sync_never_writes_into_a_store_with_a_damaged_page() {
    let e = Env::new("small", &[]);
    let db = e.data().join("recert.db");
    let (root, page_size) = {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        let root: i64 = c
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'campaign_delegations'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        (root, size)
    };
    let mut bytes = std::fs::read(&db).unwrap();
    let at = ((root - 1) * page_size) as usize;
    bytes[at..at + page_size as usize].fill(0xA5);
    std::fs::write(&db, &bytes).unwrap();
    let before = e.log().len();
    let out = e.run(&["sync"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("is damaged") && err.contains("backup"),
        "{err}"
    );
    assert_eq!(e.log().len(), before, "nothing was read from the providers");
    let c = rusqlite::Connection::open(&db).unwrap();
    let snapshots: i64 = c
        .query_row("SELECT count(*) FROM snapshots", [], |r| r.get(0))
        .unwrap();
    assert_eq!(snapshots, 1, "no snapshot was stored");
}

/// A provider that puts the admin key recert sends it into its own text (a key named after
/// it, a user's name holding it, a key whose id holds it) never gets that key stored, shown or
/// exported: the sync reads provider text through the one redactor before it is stored. A
/// name is kept redacted; an object whose id holds the key is left out (it could not be acted
/// on without sending the key in a path), and the sync says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_echoing_the_admin_key_in_its_data_never_gets_it_stored() {
    let key = recert::sim::DEFAULT_KEY;
    let mut f = common::fresh(Size::Small, 3, "", "").await;
    let hostile_id = format!("key_{key}_1");
    let owned_by;
    {
        let mut w = f.sim.state.world.write().unwrap();
        let (project, keys) = w
            .openai
            .api_keys
            .iter_mut()
            .find(|(_, m)| m.len() >= 3)
            .unwrap();
        let _ = project;
        let mut named = keys.values().next().unwrap().clone();
        let mut by_id = keys.values().nth(1).unwrap().clone();
        let mut by_owner = keys.values().nth(2).unwrap().clone();
        named.name = format!("full-{key}");
        keys.insert(named.id.clone(), named);
        by_id.id = hostile_id.clone();
        keys.insert(hostile_id.clone(), by_id);
        // An id it refers to (its owner's) holds the key: a revoke would put it in a path.
        by_owner.owner = KeyOwner::User {
            id: format!("user-{key}"),
            name: "Owner".into(),
            email: "owner@example.com".into(),
            role: "member".into(),
            created_at: 0,
        };
        owned_by = by_owner.id.clone();
        keys.insert(by_owner.id.clone(), by_owner);
        let u = w.openai.users.values_mut().next().unwrap();
        u.name = format!("Mallory {key} Jones");
    }
    let report = common::sync_once(&f.cfg, &mut f.store).await;
    let said = report.lines().join("\n");
    assert!(
        said.contains("held the key recert sends it") && said.contains("left out"),
        "{said}"
    );
    assert!(!said.contains(key), "{said}");
    let snap = f.store.latest_snapshot().unwrap().unwrap();
    let d = &snap.data;
    assert!(d.credentials.iter().all(|c| c.id != hostile_id), "left out");
    assert!(
        d.credentials.iter().all(|c| c.id != owned_by),
        "left out: its owner's id"
    );
    assert!(
        d.credentials
            .iter()
            .any(|c| c.name.as_deref() == Some("full-[REDACTED]")),
        "the name kept, redacted"
    );
    assert!(
        d.accounts
            .iter()
            .any(|a| a.name.as_deref() == Some("Mallory [REDACTED] Jones"))
    );
    // Not a byte of it in the store file.
    let db = f.store.path().to_path_buf();
    drop(f.store);
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    drop(c);
    let bytes = std::fs::read(&db).unwrap();
    assert!(
        !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
        "the key is in {}",
        db.display()
    );
}
