//! Remediation through the real binary against the simulator (a separate process serving real
//! HTTP, with its request log as the independent record of what reached the providers):
//! SIGKILL in the middle of a 1,000-call apply, then resume; the audit chain catches edits,
//! deletions and reorders; failures are reported item by item; read-only sends nothing.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use recert::review::{NewDecision, Target, Verdict};
use recert::store::Store;

mod common;
use common::process::Env;

impl Env {
    /// Revoke decisions for `n` OpenAI accounts that are not org owners; their ids.
    fn revoke_openai_accounts(&self, n: usize) -> Vec<String> {
        let mut store = Store::open(self.data()).unwrap();
        let snap = store.latest_snapshot().unwrap().unwrap();
        let ids: Vec<String> = snap
            .data
            .accounts
            .iter()
            .filter(|a| a.provider == "openai" && a.role.as_deref() != Some("owner"))
            .take(n)
            .map(|a| a.id.clone())
            .collect();
        assert_eq!(ids.len(), n, "the organisation has enough accounts");
        let items: Vec<NewDecision> = ids
            .iter()
            .map(|id| NewDecision {
                verdict: Verdict::Revoke,
                target: Target::new("openai", "openai", "account", id),
                label: id.clone(),
                rule: Some("leaver-with-access".into()),
                owner: None,
                until: None,
                justification: Some("incident 42".into()),
            })
            .collect();
        store
            .record_decisions(&items, "responder@example.com", Some(snap.id), 1)
            .unwrap();
        ids
    }
}

impl Env {
    /// The simulator's own record of what reached it, all `DELETE`s: each path's statuses.
    fn deletes_by_path(&self) -> HashMap<String, Vec<u16>> {
        let mut by_path: HashMap<String, Vec<u16>> = HashMap::new();
        for m in self.mutations() {
            assert_eq!(m.method, "DELETE", "{m:?}");
            by_path.entry(m.path).or_default().push(m.status);
        }
        by_path
    }
}

/// The first address of the first current person in `snap`: an owner an import may name.
fn a_current_email(snap: &recert::model::Snapshot) -> String {
    snap.data
        .people
        .iter()
        .find(|p| p.is_current())
        .unwrap()
        .emails[0]
        .clone()
}

fn user_path(id: &str) -> String {
    format!("/openai/v1/organization/users/{id}")
}

#[test]
fn sigkill_mid_apply_then_resume_removes_every_target_exactly_once() {
    let e = Env::new("medium", &["--latency-ms", "3"]);
    let ids = e.revoke_openai_accounts(1000);
    let out = e.run(&["plan"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1000 provider calls"));

    let mut child = e
        .cmd(&["apply", "--yes"])
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = e.mutations().len();
        if n >= 300 {
            break;
        }
        assert!(Instant::now() < deadline, "apply made only {n} calls");
        assert!(
            child.try_wait().unwrap().is_none(),
            "apply finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = e.mutations().len();
    assert!(at_kill < 1000, "killed mid-way ({at_kill} calls)");

    // A new apply refuses to plan over the unfinished one.
    let out = e.run(&["apply", "--yes"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));

    let out = e.run(&["apply", "--resume", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The simulator's own record: every target removed exactly once, nothing else touched.
    let by_path = e.deletes_by_path();
    assert_eq!(by_path.len(), 1000);
    for id in &ids {
        let statuses = &by_path[&user_path(id)];
        // A call in flight at the kill is read before it is resent: sent once, never twice.
        assert_eq!(statuses, &[200], "{id}");
    }
    let out = e.run(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing is left to do, and the journal says so.
    let out = e.run(&["apply", "--resume", "--yes"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to resume"));
    let out = e.run(&["plan"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing new to plan"));
}

use common::process::sql;

#[test]
fn audit_verify_names_an_edited_deleted_or_reordered_entry() {
    let e = Env::new("small", &[]);
    e.revoke_openai_accounts(3);
    let out = e.run(&["apply", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = e.run(&["audit", "verify"]);
    assert!(ok.status.success());
    let intact = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(intact.contains("intact"), "{intact}");
    let export = e.run(&["audit", "export"]);
    let lines = String::from_utf8_lossy(&export.stdout).lines().count();
    // decide, plan, and a call and a result per call.
    assert_eq!(lines, 2 + 3 * 2);

    let db = e.data();
    // Checkpoint the WAL so the copy is the whole database.
    sql(&db, "PRAGMA wal_checkpoint(TRUNCATE);");
    let backup = std::fs::read(db.join("recert.db")).unwrap();
    let restore = || {
        let _ = std::fs::remove_file(db.join("recert.db-wal"));
        let _ = std::fs::remove_file(db.join("recert.db-shm"));
        std::fs::write(db.join("recert.db"), &backup).unwrap();
    };
    let broken = |what: &str, want: &str| {
        let out = e.run(&["audit", "verify"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{what}: verify passed");
        assert!(err.contains(want), "{what}: {err}");
    };
    sql(
        &db,
        "UPDATE audit SET detail = replace(detail, 'incident 42', 'routine') WHERE seq = 1;",
    );
    broken("edit", "#1 ");
    restore();
    sql(&db, "UPDATE audit SET actor = 'mallory' WHERE seq = 5;");
    broken("actor", "#5 ");
    restore();
    sql(&db, "DELETE FROM audit WHERE seq = 4;");
    broken("delete", "#5 ");
    restore();
    // Reorder: entries 3 and 4 trade places (each keeps its position's number).
    sql(
        &db,
        "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (3, 4);
         UPDATE audit SET (at, actor, event, detail, prev, hash) =
           (SELECT at, actor, event, detail, prev, hash FROM t WHERE t.seq = 7 - audit.seq)
         WHERE seq IN (3, 4);",
    );
    broken("reorder", "#3 ");
    restore();
    let out = e.run(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "restored: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn failures_are_reported_item_by_item_and_retried_by_resume() {
    // One target always answers 500, another never answers (the client times out after 1 s);
    // 429s with Retry-After and 500s hit everything else at random (each call gets 6 tries, so
    // a random target fails with odds of 0.2^6).
    let probe = Env::new("small", &[]);
    let victims = probe.revoke_openai_accounts(2);
    drop(probe);
    let faults = format!(
        "500@organization/users/{}$,timeout@organization/users/{}$,429:0.1@organization/users/,500:0.1@organization/users/",
        victims[0], victims[1]
    );
    let e = Env::with_source_settings(
        "small",
        &["--faults", &faults],
        "timeout_secs = 1\nmax_retries = 5\n",
    );
    let ids = e.revoke_openai_accounts(20);
    assert!(ids.contains(&victims[0]) && ids.contains(&victims[1]));
    let out = e.run(&["apply", "--yes"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(
        // The failures first: a summary cut at the screen's edge never hides them.
        stdout.contains("plan #1: 2 calls FAILED (below), 18 calls done now"),
        "{stdout}"
    );
    let failed: Vec<&str> = stdout.lines().filter(|l| l.contains("FAILED #")).collect();
    assert_eq!(failed.len(), 2, "{stdout}");
    assert!(
        failed
            .iter()
            .any(|l| l.contains(&victims[0]) && l.contains("500")),
        "{stdout}"
    );
    assert!(
        failed
            .iter()
            .any(|l| l.contains(&victims[1]) && l.contains("no answer")),
        "{stdout}"
    );
    assert!(stderr.contains("--resume"), "{stderr}");
    // `recert plan` never reads "nothing to plan" as all clear while a plan has calls open.
    let out = e.run(&["plan"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.contains("plan #1 has 2 calls not done") && said.contains("recert apply --resume"),
        "{said}"
    );
    // The others are gone exactly once each.
    let ok: Vec<String> = e
        .mutations()
        .into_iter()
        .filter(|m| m.status == 200)
        .map(|m| m.path)
        .collect();
    assert_eq!(ok.len(), 18);
    // Resume retries only the failed ones (they fail again: the faults are permanent).
    let out = e.run(&["apply", "--resume", "--yes"]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        stdout.contains("2 calls FAILED (below), 0 calls done now, 18 done before"),
        "{stdout}"
    );
}

#[test]
fn read_only_refuses_apply_and_nothing_reaches_the_simulator() {
    let e = Env::new("small", &[]);
    e.revoke_openai_accounts(5);
    let out = e.run(&["--read-only", "apply", "--yes"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
    assert!(e.mutations().is_empty());
}

#[test]
fn revoke_a_leaked_key_by_its_whole_secret_without_ever_echoing_it() {
    let e = Env::new("small", &[]);
    let k = e
        .user_keys()
        .into_iter()
        .find(|c| c.redacted.as_deref().is_some_and(|r| r.contains("...")))
        .expect("an OpenAI user key");
    let r = k.redacted.clone().unwrap();
    let (head, tail) = r.split_once("...").unwrap();
    let secret = format!("{head}SECRETMIDDLEPART0123456789{tail}");
    let out = e.run(&["revoke", "--key", &secret, "--yes"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(
        !all.contains("SECRETMIDDLEPART"),
        "the secret was echoed: {all}"
    );
    assert!(all.contains(&k.id), "{all}");
    let m = e.mutations();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].method, "DELETE");
    assert!(m[0].path.ends_with(&format!("/api_keys/{}", k.id)), "{m:?}");
    assert_eq!(m[0].status, 200);
    // The record says who and why, and never the secret.
    let db = std::fs::read(e.data().join("recert.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains("SECRETMIDDLEPART"));
    let out = e.run(&["audit", "verify"]);
    assert!(out.status.success());
    // An unknown hint is refused without echoing it.
    let out = e.run(&[
        "revoke",
        "--key",
        "sk-proj-NOPE-unknownsecretvalue",
        "--yes",
    ]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("unknownsecretvalue"));
}

#[test]
fn revoke_a_person_removes_them_from_every_provider_in_one_plan() {
    let e = Env::new("small", &[]);
    let store = Store::open(e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    drop(store);
    // Someone with an account on OpenAI and on Cursor.
    let d = &snap.data;
    let email = d
        .accounts
        .iter()
        .filter(|a| a.provider == "openai" && a.role.as_deref() != Some("owner"))
        .filter_map(|a| a.email.clone())
        .find(|e| {
            d.accounts.iter().any(|b| {
                b.provider == "cursor"
                    && b.email.as_deref().map(str::to_lowercase) == Some(e.to_lowercase())
            })
        })
        .expect("someone on OpenAI and Cursor");
    let out = e.run(&[
        "revoke",
        "--person",
        &email,
        "--yes",
        "--reason",
        "left today",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    // The plan is shown before anything is recorded: it names no decision (there is none yet,
    // and made-up numbers would read as the store's).
    assert!(err.contains("DELETE"), "{err}");
    assert!(!err.contains("[decision"), "{err}");
    let m = e.mutations();
    assert!(
        m.iter().any(|x| x.method == "DELETE"
            && x.path.contains("/openai/v1/organization/users/")
            && x.status == 200),
        "{m:?}"
    );
    assert!(
        m.iter().any(|x| x.method == "POST"
            && x.path.ends_with("/teams/remove-member")
            && x.status == 200),
        "{m:?}"
    );
    assert!(m.iter().all(|x| x.status < 300 || x.status == 404), "{m:?}");
    let store = Store::open(e.data()).unwrap();
    let ds = store.decisions().unwrap();
    assert!(
        ds.iter()
            .all(|x| x.d.justification.as_deref() == Some("left today"))
    );
    // Read-only refuses it before anything is found or sent.
    let before = e.mutations().len();
    let out = e.run(&["--read-only", "revoke", "--person", &email, "--yes"]);
    assert!(!out.status.success());
    assert_eq!(e.mutations().len(), before);
}

#[test]
fn owners_import_clears_unowned_service_accounts_all_or_nothing() {
    let e = Env::new("small", &[]);
    let gaps = |rule: &str| -> Vec<String> {
        let out = e.run(&["gaps", "--format", "json", "--rule", rule]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| f["subject_id"].as_str().unwrap().to_string())
            .collect()
    };
    let unowned = gaps("unowned-service-account");
    assert!(unowned.len() >= 2, "{unowned:?}");
    let store = Store::open(e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    drop(store);
    let owner = a_current_email(&snap);
    let csv = e.dir.path().join("owners.csv");
    // One bad line: nothing is imported, every bad line is named.
    std::fs::write(
        &csv,
        format!(
            "id,owner\n{},{owner}\nsvc_nope,{owner}\n{},nobody@nowhere.example\n",
            unowned[0], unowned[1]
        ),
    )
    .unwrap();
    let out = e.run(&["owners", "import", csv.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(
        err.contains("line 3") && err.contains("line 4") && err.contains("nothing imported"),
        "{err}"
    );
    assert_eq!(gaps("unowned-service-account"), unowned);
    // All good: the two service accounts now have owners and leave the finding.
    std::fs::write(
        &csv,
        format!("id,owner\n{},{owner}\n{},{owner}\n", unowned[0], unowned[1]),
    )
    .unwrap();
    let out = e.run(&["owners", "import", csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = gaps("unowned-service-account");
    assert_eq!(after.len(), unowned.len() - 2);
    assert!(!after.contains(&unowned[0]) && !after.contains(&unowned[1]));
    let out = e.run(&["owners", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert!(e.run(&["audit", "verify"]).status.success());
    // Owners are recorded in recert only: nothing reached a provider.
    assert!(e.mutations().is_empty());
}

#[test]
fn evidence_pack_has_every_record_and_a_manifest_that_checks() {
    let e = Env::new("small", &[]);
    let ids = e.revoke_openai_accounts(4);
    let out = e.run(&["apply", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pack = e.dir.path().join("pack");
    let out = e.run(&["export", "evidence", "--out", pack.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "snapshot.json",
        "sources.csv",
        "findings.json",
        "findings.csv",
        "decisions.json",
        "decisions.csv",
        "calls.json",
        "calls.csv",
        "audit.jsonl",
        "report.html",
        "manifest.sha256",
    ] {
        assert!(pack.join(f).exists(), "{f}");
    }
    // The manifest, checked independently of recert.
    let manifest = std::fs::read_to_string(pack.join("manifest.sha256")).unwrap();
    assert_eq!(manifest.lines().count(), 10);
    for line in manifest.lines() {
        let (hash, name) = line.split_once("  ").unwrap();
        use sha2::Digest;
        let got = sha2::Sha256::digest(std::fs::read(pack.join(name)).unwrap());
        let got: String = got.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, hash, "{name}");
    }
    // Counts match the records.
    let decisions = std::fs::read_to_string(pack.join("decisions.csv")).unwrap();
    assert_eq!(decisions.lines().count(), 1 + 4);
    assert!(decisions.contains("incident 42") && decisions.contains("responder@example.com"));
    let calls = std::fs::read_to_string(pack.join("calls.csv")).unwrap();
    assert_eq!(calls.lines().count(), 1 + 4);
    for id in &ids {
        assert!(calls.contains(&format!("/organization/users/{id}")), "{id}");
    }
    // Each call says when it was last answered (as the other files date things: ISO 8601,
    // UTC) and what it was about, as its decisions name it: an auditor reads the CSV alone.
    let head: Vec<&str> = calls.lines().next().unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).expect(name);
    for line in calls.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let at = cells[col("updated_at")];
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok(),
            "{at:?} in {line}"
        );
        assert!(
            ids.iter().any(|id| cells[col("about")] == id.as_str()),
            "{line}"
        );
    }
    let html = std::fs::read_to_string(pack.join("report.html")).unwrap();
    assert!(html.contains("Audit chain intact") && html.contains("<svg"));
    let audit = std::fs::read_to_string(pack.join("audit.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 2 + 4 * 2);
    // A second export into the same directory is refused rather than mixing packs.
    let out = e.run(&["export", "evidence", "--out", pack.to_str().unwrap()]);
    assert!(!out.status.success());
}

#[test]
fn custom_project_roles_are_unassigned_from_the_user_and_the_group() {
    let e = Env::new("medium", &[]);
    let mut store = Store::open(e.data()).unwrap();
    let snap = store.latest_snapshot().unwrap().unwrap();
    let d = &snap.data;
    let project_of = |role: &str| {
        d.resources
            .iter()
            .find(|r| r.kind == "role" && r.id == role)
            .and_then(|r| r.parent.clone())
    };
    let pick = |kind: &str| {
        d.grants
            .iter()
            .find(|g| {
                g.principal_kind == kind
                    && g.via == "direct"
                    && project_of(&g.resource_id).is_some()
            })
            .unwrap_or_else(|| panic!("a {kind} holding a custom project role"))
    };
    let (user, group) = (pick("user"), pick("group"));
    let items: Vec<NewDecision> = [user, group]
        .iter()
        .map(|g| NewDecision {
            verdict: Verdict::Revoke,
            target: Target::new(
                "openai",
                "openai",
                "grant",
                &format!("{}/{}", g.resource_id, g.principal_id),
            ),
            label: g.resource_id.to_string(),
            rule: Some("scim-uncovered-grant".into()),
            owner: None,
            until: None,
            justification: Some("quarterly review".into()),
        })
        .collect();
    store
        .record_decisions(&items, "reviewer@example.com", Some(snap.id), 1)
        .unwrap();
    drop(store);
    let out = e.run(&["apply", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = e.mutations();
    for (g, base) in [(user, "users"), (group, "groups")] {
        let p = project_of(&g.resource_id).unwrap();
        let path = format!(
            "/openai/v1/projects/{p}/{base}/{}/roles/{}",
            g.principal_id, g.resource_id
        );
        assert!(
            m.iter()
                .any(|x| x.method == "DELETE" && x.path == path && x.status == 200),
            "{path} not in {m:?}"
        );
    }
    // The next sync no longer sees either assignment.
    let out = e.run(&["sync"]);
    assert!(out.status.success());
    let store = Store::open(e.data()).unwrap();
    let after = store.latest_snapshot().unwrap().unwrap();
    for g in [user, group] {
        assert!(
            !after
                .data
                .grants
                .iter()
                .any(|x| x.resource_id == g.resource_id
                    && x.principal_id == g.principal_id
                    && x.via == "direct"),
            "{g:?} survived"
        );
    }
}

/// Manual steps are tickets: listed with their instruction and the decisions behind them,
/// sent once to a ticket intake webhook (a real listener on loopback), and done only when a
/// person marks them, with who, when and how, audited; the chain still verifies.
#[test]
fn manual_steps_are_tickets_done_only_when_marked() {
    let e = Env::new("small", &[]);
    let snap = e.snapshot();
    // recert's own admin key: a plan never deletes it, it becomes a manual step.
    let mine = snap
        .data
        .credentials
        .iter()
        .find(|c| c.name.as_deref() == Some("recert-admin"))
        .unwrap();
    // Before it is applied, `plan --manual` shows it as a ticket to be.
    let mut store = Store::open(e.data()).unwrap();
    store
        .record_decisions(
            &[NewDecision {
                verdict: Verdict::Revoke,
                target: Target::new("openai", "openai", "admin_key", &mine.id),
                label: "recert-admin".into(),
                rule: None,
                owner: None,
                until: None,
                justification: Some("rotating".into()),
            }],
            "responder@example.com",
            Some(snap.id),
            snap.taken_at,
        )
        .unwrap();
    drop(store);
    let planned: serde_json::Value =
        serde_json::from_str(&e.ok(&["plan", "--manual", "--format", "json"])).unwrap();
    assert_eq!(planned.as_array().unwrap().len(), 1, "{planned:#}");
    assert_eq!(planned[0]["state"], "planned");
    assert_eq!(planned[0]["decisions"][0]["justification"], "rotating");
    let csv = e.ok(&["plan", "--manual", "--format", "csv"]);
    assert!(
        csv.lines().count() == 2 && csv.contains("rotating"),
        "{csv}"
    );
    e.ok(&["apply", "--yes"]);
    let list: serde_json::Value =
        serde_json::from_str(&e.ok(&["manual", "list", "--format", "json"])).unwrap();
    let open = list.as_array().unwrap();
    assert_eq!(open.len(), 1, "{list:#}");
    let t = &open[0];
    let id = t["id"].as_str().unwrap().to_string();
    assert_eq!(t["state"], "open");
    assert!(
        t["instruction"].as_str().unwrap().contains("new admin key"),
        "{t:#}"
    );
    assert_eq!(t["decisions"][0]["justification"], "rotating");
    assert_eq!(t["decisions"][0]["target"]["id"], mine.id.as_str());
    let csv = e.ok(&["manual", "list", "--format", "csv"]);
    assert!(csv.starts_with("id,source,state,instruction"), "{csv}");

    // Sent once: a second send has nothing new.
    let (url, bodies) = common::webhook(200);
    let send = |e: &Env| {
        e.cmd(&["manual", "send"])
            .env("RECERT_TICKET_WEBHOOK_URL", &url)
            .output()
            .unwrap()
    };
    assert!(send(&e).status.success());
    assert!(send(&e).status.success());
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "a ticket is never opened twice: {got:?}");
    let ticket: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(ticket["id"], id.as_str());

    // Done only when marked; once; a call is not a manual step.
    let err = e.run(&["manual", "done", &id, "--reason", ""]);
    assert!(!err.status.success());
    e.ok(&[
        "manual",
        "done",
        &id,
        "--reason",
        "rotated by hand, ticket SEC-42",
    ]);
    let again = e.run(&["manual", "done", &id, "--reason", "twice"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already"));
    let all: serde_json::Value =
        serde_json::from_str(&e.ok(&["manual", "list", "--all", "--format", "json"])).unwrap();
    let done = &all.as_array().unwrap()[0];
    assert_eq!(done["state"], "done");
    assert_eq!(done["done"]["by"], "responder@example.com");
    assert!(done["done"]["how"].as_str().unwrap().contains("SEC-42"));
    let open: serde_json::Value =
        serde_json::from_str(&e.ok(&["manual", "list", "--format", "json"])).unwrap();
    assert!(open.as_array().unwrap().is_empty());
    let store = Store::open(e.data()).unwrap();
    recert::audit::verify(&store.audit_entries().unwrap()).unwrap();
    drop(store);
    e.ok(&["audit", "verify"]);
    // Reopened or reworded behind recert's back: `audit verify` names it.
    let db = e.data().join("recert.db");
    for (sql, says) in [
        (
            "UPDATE journal SET result = 'nothing to see' WHERE kind = 'manual'",
            "was changed",
        ),
        (
            "UPDATE journal SET state = 'manual' WHERE kind = 'manual'",
            "has it open",
        ),
    ] {
        let c = rusqlite::Connection::open(&db).unwrap();
        let before: String = c
            .query_row(
                "SELECT state || '|' || COALESCE(result, '') FROM journal WHERE kind = 'manual'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        c.execute(sql, []).unwrap();
        let out = e.run(&["audit", "verify"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success() && err.contains(says), "{sql}: {err}");
        let (state, result) = before.split_once('|').unwrap();
        c.execute(
            "UPDATE journal SET state = ?1, result = ?2 WHERE kind = 'manual'",
            [state, result],
        )
        .unwrap();
    }
    e.ok(&["audit", "verify"]);
}

/// A bulk owners import never cancels a standing revoke: an assignment is a decision, and
/// the latest decision stands, so importing an owner for a key someone had revoked (not yet
/// applied) took the revoke away without a word, and `recert plan` lost its call.
#[test]
fn an_owners_import_leaves_a_standing_revoke_standing() {
    let e = Env::new("small", &[]);
    let snap = e.snapshot();
    let mut keys = snap
        .data
        .credentials
        .iter()
        .filter(|c| c.provider == "openai" && c.kind == "project_key");
    let (key, other) = (keys.next().unwrap().clone(), keys.next().unwrap().clone());
    let owner = a_current_email(&snap);
    Store::open(e.data())
        .unwrap()
        .record_decisions(
            &[NewDecision {
                verdict: Verdict::Revoke,
                target: Target::new(&key.provider, &key.source, &key.kind, &key.id),
                label: key.id.clone(),
                rule: None,
                owner: None,
                until: None,
                justification: Some("leaked".into()),
            }],
            "responder@example.com",
            Some(snap.id),
            1_795_000_000,
        )
        .unwrap();
    let csv = e.dir.path().join("owners.csv");
    std::fs::write(
        &csv,
        format!("id,owner\n{},{owner}\n{},{owner}\n", key.id, other.id),
    )
    .unwrap();
    let out = e.run(&["owners", "import", csv.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("assigned 1 owner ")
            && said.contains("1 left as it was: a revoke stands on it")
            && said.contains(&key.id),
        "{said}"
    );
    let decisions = Store::open(e.data()).unwrap().decisions().unwrap();
    let standing = recert::review::effective(&decisions);
    let of = |id: &str| {
        standing
            .iter()
            .find(|d| d.d.target.id == id)
            .map(|d| d.d.verdict)
    };
    assert_eq!(of(&key.id), Some(Verdict::Revoke));
    assert_eq!(of(&other.id), Some(Verdict::Reassign));
}

/// The store failing in the middle of an apply (here the process may not grow a file past
/// 192 KiB, as when the disk fills: SQLite's writes fail from then on) stops the run, and what it
/// says is what a responder needs: how many calls went out before the store failed, and that
/// `recert apply --resume` finishes the plan once the store can be written again. The resume
/// sends each remaining call once and none twice (a call whose answer was not recorded is read
/// back from the provider first).
#[test]
fn a_store_failing_mid_apply_says_what_went_out_and_resume_finishes_it_once() {
    use std::os::unix::process::CommandExt as _;
    let e = Env::new("medium", &[]);
    let ids = e.revoke_openai_accounts(40);
    e.ok(&["plan"]);
    let mut apply = e.cmd(&["apply", "--yes"]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        apply.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 192 * 1024,
                rlim_max: 192 * 1024,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            Ok(())
        });
    }
    let out = apply.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{stderr}");
    let sent = e.mutations().len();
    assert!(sent > 0 && sent < 40, "{sent} calls went out\n{stderr}");
    assert!(
        stderr.contains(&format!("{sent} of its 40 calls had gone out"))
            && stderr.contains("the disk may be full")
            && stderr.contains("recert apply --resume"),
        "{stderr}"
    );
    let out = e.run(&["apply", "--resume", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_path = e.deletes_by_path();
    assert_eq!(by_path.len(), 40);
    for id in &ids {
        assert_eq!(by_path[&user_path(id)], [200], "{id}: sent once");
    }
    e.ok(&["audit", "verify"]);
}

/// After a revoke is carried out, `recert gaps` and `recert person` (which read the snapshot
/// taken before it) say so on the rows it removed, as the console marks them `⊘`: a second
/// responder reading them does not take revoked access for open access.
#[test]
fn gaps_and_person_mark_what_a_plan_revoked_after_the_snapshot() {
    let e = Env::new("small", &[]);
    let snap = e.snapshot();
    let d = &snap.data;
    // A leaver still on OpenAI: `leaver-with-access` on their account.
    let left = |a: &recert::model::Account| {
        let m = a.email.as_deref().unwrap_or_default();
        d.people
            .iter()
            .any(|p| !p.is_current() && p.emails.iter().any(|x| x.eq_ignore_ascii_case(m)))
    };
    let email = common::process::busiest_openai_member(d, left).expect("a leaver on OpenAI");
    let before = e.ok(&["gaps", "--person", &email]);
    assert!(
        before.contains("leaver-with-access") && !before.contains("REVOKED"),
        "{before}"
    );
    e.ok(&["revoke", "--person", &email, "--yes", "--reason", "left"]);
    let gaps = e.ok(&["gaps", "--person", &email]);
    let line = gaps
        .lines()
        .find(|l| l.contains("leaver-with-access") && l.contains("openai"))
        .unwrap_or_default();
    assert!(
        line.contains("REVOKED after the snapshot (plan #1"),
        "{gaps}"
    );
    assert!(gaps.contains("revoked after snapshot #"), "{gaps}");
    let person = e.ok(&["person", &email]);
    assert!(
        person.contains("revoked on") && person.contains("by plan #1"),
        "{person}"
    );
}
