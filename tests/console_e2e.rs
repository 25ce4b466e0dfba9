//! End to end in tmux with the real binary, one test per journey: deciding (filter, mark,
//! decide, quit; start again on the same DIR and the decisions are there; sync and apply from
//! inside), the key owner (find the keys nobody answers for, give one an owner, see the
//! findings change at once), the incident responder (`:leak`, `:apply`, checked against the
//! simulator's own request log) and the campaign reviewer (stage, submit, sign off). Each test runs its own tmux server (`tmux -L`), never the user's.
//! Every wait is on screen content (tmux capture-pane), never a fixed sleep. Needs tmux: where
//! the build found none (`build.rs`), each test is ignored with the reason, in `cargo test`'s
//! summary; with `RECERT_REQUIRE_TEST_TOOLS` set (as `.ci/run` does) a missing tmux fails the build.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    /// The private server's socket name (`tmux -L`).
    server: String,
    session: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// A tmux command on this test's own server.
    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.server]);
        c
    }

    fn start(name: &str, cmd: &str, home: &Path) -> Tmux {
        let session = format!("recert-e2e-{name}");
        let t = Tmux {
            server: format!("recert-e2e-{name}-{}", std::process::id()),
            session: session.clone(),
        };
        let status = t
            .tmux()
            .args(["-f", "/dev/null", "new-session", "-d", "-s", &session])
            .args(["-x", "120", "-y", "40"])
            // The environment goes in the command, so nothing of a tmux configuration or of
            // this process's environment leaks in.
            .arg(format!(
                "env HOME={h} XDG_CONFIG_HOME={h}/config XDG_DATA_HOME={h}/data XDG_STATE_HOME={h}/state RECERT_REVIEWER=e2e@example.com TERM=xterm-256color {cmd}; echo RECERT-EXITED-$?; sleep 600",
                h = home.display()
            ))
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux new-session failed");
        t
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Poll the screen until `pred` holds; panic with the screen after `secs`.
    fn wait(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, text: &str, secs: u64) -> String {
        self.wait(text, secs, |s| s.contains(text))
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let st = self
                .tmux()
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .expect("send-keys");
            assert!(st.success());
        }
    }

    fn text(&self, text: &str) {
        let st = self
            .tmux()
            .args(["send-keys", "-t", &self.session, "-l", text])
            .status()
            .expect("send-keys");
        assert!(st.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

/// A fresh store in a temp home, and the demo command on it (`flags` before `demo`).
struct Demo {
    home: tempfile::TempDir,
    dir: std::path::PathBuf,
    cmd: String,
}

impl Demo {
    /// The demo's command line. A tmux that the build found but that is gone now fails (a test
    /// never passes by skipping itself).
    fn new(flags: &str) -> Option<Demo> {
        assert!(
            Tmux::available(),
            "tmux was installed when the tests were built but is gone: reinstall it, or `touch build.rs` so the tests needing it are ignored"
        );
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("store");
        let cmd = format!(
            "{} {flags} demo --size small --seed 3 --data-dir {}",
            env!("CARGO_BIN_EXE_recert"),
            dir.display()
        );
        Some(Demo { home, dir, cmd })
    }

    /// The console in its own tmux server, once the whole snapshot is on screen (not only the
    /// stored digest's first findings).
    fn open(&self, name: &str) -> Tmux {
        let t = Tmux::start(name, &self.cmd, self.home.path());
        t.wait("the whole snapshot", 120, |s| {
            s.contains("Gaps ") && s.contains("CRIT") && !s.contains("loading the rest")
        });
        t
    }
}

#[test]
#[cfg_attr(no_tmux, ignore = "tmux is not installed (bash .ci/run installs it)")]
fn decide_quit_and_the_decisions_are_there_next_time() {
    let Some(demo) = Demo::new("") else { return };
    let dir = &demo.dir;
    let t = demo.open("a");
    // Filter to one rule (keys in the default project or workspace, which is never archived:
    // a key in an archived one has nothing to send), mark two rows, revoke them with a reason.
    let all = shown_rows(&t.wait_for("┌ Gaps ", 20), "Gaps");
    t.keys(&["/"]);
    t.text("orphan Default");
    t.keys(&["Enter"]);
    // Marks wait for the filter's rows (the console refuses them on the rows before).
    let s = t.wait("the filtered rows", 20, |s| {
        s.contains("/orphan Default") && shown_rows(s, "Gaps") < all
    });
    assert!(s.contains("orphaned-key"), "{s}");
    t.keys(&["Space", "Space"]);
    t.wait_for("2 marked", 20);
    t.keys(&["r"]);
    t.wait_for("Justification (required)", 20);
    t.text("left in October");
    t.keys(&["Enter"]);
    t.wait_for("recorded", 20);
    // The decisions view lists them.
    t.keys(&["6"]);
    let s = t.wait_for("Decisions 2", 20);
    assert!(s.contains("revoke"), "{s}");
    t.keys(&["q"]);
    t.wait_for("RECERT-EXITED-0", 30);
    drop(t);

    // The store has them, from the reviewer, with the reason (read independently of the UI).
    let store = recert::store::Store::open(dir).unwrap();
    let ds = store.decisions().unwrap();
    assert_eq!(ds.len(), 2);
    assert!(
        ds.iter().all(|d| d.reviewer == "e2e@example.com"
            && d.d.justification.as_deref() == Some("left in October")
            && d.d.rule.as_deref() == Some("orphaned-key")),
        "{ds:#?}"
    );
    recert::audit::verify(&store.audit_entries().unwrap()).unwrap();
    drop(store);

    // A command on the demo's data dir, with no --config, judges its snapshots with the
    // demo's rules (its admin groups: privileged-drift on), as the console did; the data dir
    // holds those rules and nothing that says where a key goes.
    let h = demo.home.path();
    let on_demo_dir = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_recert"))
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_STATE_HOME", h.join("state"))
            .env_remove("RECERT_DATA_DIR")
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .output()
            .unwrap()
    };
    let gaps = on_demo_dir(&["gaps", "--format", "json", "--rule", "privileged-drift"]);
    assert!(gaps.status.success(), "{gaps:?}");
    let drift: Vec<serde_json::Value> = serde_json::from_slice(&gaps.stdout).unwrap();
    assert!(!drift.is_empty(), "the demo's rules judge its snapshots");
    let rules = std::fs::read_to_string(dir.join(recert::config::DATA_DIR_RULES)).unwrap();
    assert!(
        rules.contains("admin_groups")
            && !rules.contains("[[source]]")
            && !rules.contains("key_env")
            && !rules.contains("base_url"),
        "rules only: {rules}"
    );
    // `doctor` says which rules judge there.
    let doctor = on_demo_dir(&["doctor"]);
    let said = String::from_utf8_lossy(&doctor.stdout);
    let file = dir.join(recert::config::DATA_DIR_RULES);
    assert!(
        said.contains(&format!(
            "rules   {}: this data dir's own rules, used in place of [rules] in",
            file.display()
        )),
        "{said}"
    );

    // Start again on the same directory: the decisions are there.
    let t = demo.open("b");
    t.keys(&["6"]);
    t.wait_for("Decisions 2", 20);
    // The detail pane may still be drawing when the title shows: wait for the reason itself.
    t.wait_for("left in October", 20);
    // Undo is per session: nothing to undo from the last one.
    t.keys(&["u"]);
    t.wait_for("Nothing to undo", 20);
    // Sync from inside: a new snapshot arrives while the console keeps answering.
    t.keys(&[":"]);
    t.text("sync");
    t.keys(&["Enter"]);
    t.wait_for("Sync finished", 60);
    t.wait_for("snapshot #3", 30);
    t.keys(&["6"]);
    t.wait_for("Decisions 2", 20);
    // Apply from the console: the plan first, confirmed, then sent with progress.
    t.keys(&[":"]);
    t.text("apply");
    t.keys(&["Enter"]);
    t.wait_for("This plan makes 2 provider calls", 20);
    t.keys(&["y", "Enter"]);
    t.wait_for("2 calls done now, 0 done before, 0 manual steps", 60);
    t.keys(&["q"]);
    t.wait_for("RECERT-EXITED-0", 30);
    let store = recert::store::Store::open(dir).unwrap();
    let rows = store.all_journal().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.state == recert::remediate::RowState::Done)
    );
    recert::audit::verify(&store.audit_entries().unwrap()).unwrap();
}

#[test]
#[cfg_attr(no_tmux, ignore = "tmux is not installed (bash .ci/run installs it)")]
fn read_only_console_refuses_decisions_and_records_nothing() {
    let Some(demo) = Demo::new("--read-only") else {
        return;
    };
    let dir = &demo.dir;
    let t = demo.open("ro");
    t.wait_for("READ-ONLY", 20);
    t.keys(&["r"]);
    t.wait_for("Read-only mode", 20);
    t.keys(&["q"]);
    t.wait_for("RECERT-EXITED-0", 30);
    let store = recert::store::Store::open(dir).unwrap();
    assert!(store.decisions().unwrap().is_empty());
}

/// The number of rows a view's title shows: `Keys 12/3,456 /filter` gives 12.
fn shown_rows(screen: &str, view: &str) -> usize {
    let at = screen
        .find(&format!("┌ {view} "))
        .unwrap_or_else(|| panic!("no {view} view on screen:\n{screen}"));
    let digits: String = screen[at + "┌ ".len() + view.len() + 1..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no row count after {view}:\n{screen}"))
}

/// The key owner: the README's own query finds the keys nobody answers for; giving a service
/// account an owner clears its finding and gives its keys an owner at once, without a restart.
#[test]
#[cfg_attr(no_tmux, ignore = "tmux is not installed (bash .ci/run installs it)")]
fn key_owner_finds_unowned_keys_and_a_reassign_shows_at_once() {
    let Some(demo) = Demo::new("") else { return };
    let dir = &demo.dir;
    let t = demo.open("owner");
    // The README's query: keys nobody answers for (a service account is not an owner).
    t.keys(&["4", "/"]);
    t.text("owner:none provider:openai age>1y");
    t.keys(&["Enter"]);
    let s = t.wait_for("/owner:none provider:openai age>1y", 20);
    assert!(shown_rows(&s, "Keys") > 0, "{s}");
    // An unowned service account: give it an owner from the picker.
    t.keys(&["2"]);
    let all = shown_rows(&t.wait_for("┌ Gaps ", 20), "Gaps");
    t.keys(&["/"]);
    t.text("unowned-service-account");
    t.keys(&["Enter"]);
    // The title shows the filter as soon as it is kept, and its rows once the filter job
    // answers: wait for those (on a loaded machine the count was still all of Gaps, and the
    // reassign went to whatever row was first before the filter).
    let s = t.wait("the filtered rows", 20, |s| {
        s.contains("/unowned-service-account") && shown_rows(s, "Gaps") < all
    });
    let before = shown_rows(&s, "Gaps");
    assert!(before > 0, "{s}");
    t.keys(&["o"]);
    let s = t.wait_for("New owner", 20);
    assert!(
        s.contains(" · "),
        "the picker shows department and title: {s}"
    );
    t.keys(&["Enter"]);
    t.wait_for("Justification", 20);
    t.text("platform team owns it");
    t.keys(&["Enter"]);
    t.wait_for("Owner reassigned", 20);
    let s = t.wait("the finding to go", 60, |s| {
        s.contains("┌ Gaps ") && shown_rows(s, "Gaps") == before - 1
    });
    assert!(s.contains("/unowned-service-account"), "{s}");
    // Its keys now have an owner, inferred from the account's record.
    t.keys(&["4", "/", "C-u"]);
    t.text("via:inferred");
    t.keys(&["Enter"]);
    let s = t.wait_for("/via:inferred", 20);
    assert!(s.contains("inferred"), "{s}");
    t.keys(&["q"]);
    t.wait_for("RECERT-EXITED-0", 30);
    let store = recert::store::Store::open(dir).unwrap();
    let owners = recert::review::owners(&store.decisions().unwrap());
    assert_eq!(owners.len(), 1, "{owners:?}");
    recert::audit::verify(&store.audit_entries().unwrap()).unwrap();
}

/// The console on an `Env` (the simulator as its own process, with its request log): the
/// command for tmux, with the simulator's key in its environment, and `args` after it.
fn console_on(e: &common::process::Env, args: &str) -> String {
    format!(
        "RECERT_SIM_KEY={} {} --config {} --data-dir {} {args}",
        recert::sim::DEFAULT_KEY,
        env!("CARGO_BIN_EXE_recert"),
        e.dir.path().join("cfg.toml").display(),
        e.data().display()
    )
}

/// The incident responder: `:leak KEY_ID` finds the key, shows it and asks for the reason;
/// `:apply` sends exactly one DELETE for it, which the simulator's own log confirms, and the
/// Decisions view says it is done.
#[test]
#[cfg_attr(no_tmux, ignore = "tmux is not installed (bash .ci/run installs it)")]
fn incident_responder_revokes_a_leaked_key_from_the_console() {
    if Demo::new("").is_none() {
        return;
    }
    let e = common::process::Env::new("small", &[]);
    let key = e
        .user_keys()
        .into_iter()
        .next()
        .expect("the simulator has user keys in live projects");
    let home = tempfile::tempdir().unwrap();
    let t = Tmux::start("leak", &console_on(&e, ""), home.path());
    t.wait("the whole snapshot", 120, |s| {
        s.contains("Gaps ") && s.contains("CRIT") && !s.contains("loading the rest")
    });
    t.keys(&[":"]);
    t.text(&format!("leak {}", key.id));
    t.keys(&["Enter"]);
    let s = t.wait_for("Justification", 20);
    assert!(s.contains("┌ Keys"), "the key's row is shown: {s}");
    t.text("leaked in a public repo");
    t.keys(&["Enter"]);
    t.wait_for("Revoke staged", 20);
    t.keys(&[":"]);
    t.text("apply");
    t.keys(&["Enter"]);
    t.wait_for("This plan makes 1 provider call", 20);
    t.keys(&["y", "Enter"]);
    t.wait_for("1 call done now", 60);
    t.keys(&["6"]);
    // The Keys view's detail says "done, HTTP 200" too: wait for the Decisions view itself.
    t.wait("the decision done", 20, |s| {
        s.contains("REMEDIATION") && s.contains("done, HTTP 2")
    });
    t.keys(&["q"]);
    t.wait_for("RECERT-EXITED-0", 30);
    let sent = e.mutations();
    assert_eq!(
        sent.len(),
        1,
        "exactly one call reached the provider: {sent:?}"
    );
    assert_eq!(sent[0].method, "DELETE");
    assert!(
        sent[0].path.ends_with(&format!("/api_keys/{}", key.id)),
        "{sent:?}"
    );
}

/// The campaign reviewer: their queue, a decision staged and moved past, submitted as one
/// batch, signed off, all from the console; the store has it, audited.
#[test]
#[cfg_attr(no_tmux, ignore = "tmux is not installed (bash .ci/run installs it)")]
fn campaign_reviewer_stages_submits_and_signs_off_in_the_console() {
    if Demo::new("").is_none() {
        return;
    }
    let e = common::process::Env::new("small", &[]);
    e.new_campaign("Q4", &["--route", "manager"]);
    let store = recert::store::Store::open(e.data()).unwrap();
    let c = store.campaign("Q4").unwrap();
    let items = store.campaign_items(c.id).unwrap();
    let who = items
        .iter()
        .find(|i| i.assigned.contains('@'))
        .map(|i| i.assigned.clone())
        .expect("a manager with a queue");
    drop(store);
    let home = tempfile::tempdir().unwrap();
    let cmd = console_on(&e, &format!("review --campaign Q4 --as {who}"));
    let t = Tmux::start("queue", &cmd, home.path());
    // Their queue: routed to them, or to a group they are in.
    let s = t.wait_for("Q4 · 0/", 120);
    let mine: usize = s
        .split("Q4 · 0/")
        .nth(1)
        .and_then(|x| x.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{s}"));
    assert!(mine >= items.iter().filter(|i| i.assigned == who).count());
    // Decisions wait for the whole snapshot: Gaps says when it is in.
    t.keys(&["2"]);
    t.wait("the whole snapshot", 120, |s| {
        s.contains("┌ Gaps ") && !s.contains("loading the rest")
    });
    t.keys(&["0"]);
    t.wait_for("┌ Queue", 20);
    t.keys(&["c"]);
    t.wait_for("Justification", 20);
    t.text("still needed");
    t.keys(&["Enter"]);
    t.wait_for("1 staged", 20);
    t.keys(&[":"]);
    t.text("submit");
    t.keys(&["Enter"]);
    t.wait_for("Type y and Enter to submit", 20);
    t.keys(&["y", "Enter"]);
    t.wait_for("Submitted batch", 20);
    t.wait_for(&format!("1/{mine} done"), 20);
    t.keys(&[":"]);
    t.text("signoff");
    t.keys(&["Enter"]);
    t.wait_for("Type y and Enter to sign off", 20);
    t.keys(&["y", "Enter"]);
    t.wait_for("Signed off: 1/", 20);
    t.keys(&["q"]);
    t.wait_for("RECERT-EXITED-0", 30);
    let store = recert::store::Store::open(e.data()).unwrap();
    let ds = store.decisions().unwrap();
    assert_eq!(ds.len(), 1, "{ds:?}");
    assert_eq!(ds[0].reviewer, who);
    assert!(
        store
            .sign_offs(c.id)
            .unwrap()
            .iter()
            .any(|s| s.reviewer == who)
    );
    recert::audit::verify(&store.audit_entries().unwrap()).unwrap();
}

/// Team mode: two reviewers' consoles on one campaign in PostgreSQL, each logged in as their
/// own database role. A decision submitted in one appears in the other at once, as a notice
/// naming who decided, without a reload.
#[test]
#[cfg_attr(no_tmux, ignore = "tmux is not installed (bash .ci/run installs it)")]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn two_consoles_on_one_campaign_see_each_others_decisions() {
    use recert::store::team::Member;
    if Demo::new("").is_none() {
        return;
    }
    let e = common::process::Env::unsynced("small", &[]);
    let db = recert::store::testkit::TestDb::postgres();
    let dba = db.url().unwrap();
    let as_dba = |args: &[&str]| {
        let out = e
            .cmd(args)
            .env("RECERT_DATABASE_URL", &dba)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    as_dba(&["sync"]);
    as_dba(&[
        "campaign",
        "new",
        "--name",
        "Q4",
        "--due",
        "+30d",
        "--route",
        "manager",
        "--fallback",
        "group:ai-admins",
    ]);
    let mut admin = db.open();
    let c = admin.campaign("Q4").unwrap();
    let mut who: Vec<String> = admin
        .campaign_items(c.id)
        .unwrap()
        .into_iter()
        .map(|i| i.assigned)
        .filter(|a| a.contains('@'))
        .collect();
    who.sort();
    who.dedup();
    assert!(who.len() >= 2, "two managers with queues: {who:?}");
    let (a, b) = (who[0].clone(), who[1].clone());
    admin.team_init().unwrap();
    let pw = "correct-horse-battery";
    for w in [&a, &b] {
        admin
            .add_member(
                w,
                &recert::secret::Secret::new(pw),
                Member::Reviewer { owner: false },
                1,
            )
            .unwrap();
    }
    drop(admin);
    let console = |w: &str| {
        format!(
            "RECERT_DATABASE_URL='{}' {}",
            db.url_as(w, pw).unwrap(),
            console_on(&e, "review --campaign Q4")
        )
    };
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ta = Tmux::start("team-a", &console(&a), home_a.path());
    let tb = Tmux::start("team-b", &console(&b), home_b.path());
    ta.wait_for("Q4 · 0/", 120);
    tb.wait_for("Q4 · 0/", 120);
    ta.keys(&["2"]);
    ta.wait("the whole snapshot", 120, |s| {
        s.contains("┌ Gaps ") && !s.contains("loading the rest")
    });
    ta.keys(&["0"]);
    ta.wait_for("┌ Queue", 20);
    ta.keys(&["c"]);
    ta.wait_for("Justification", 20);
    ta.text("still needed");
    ta.keys(&["Enter"]);
    ta.wait_for("1 staged", 20);
    ta.keys(&[":"]);
    ta.text("submit");
    ta.keys(&["Enter"]);
    ta.wait_for("Type y and Enter to submit", 20);
    ta.keys(&["y", "Enter"]);
    ta.wait_for("Submitted batch", 20);
    // The other console hears it, naming who.
    tb.wait_for(&format!("{a}: 1 decision"), 10);
    for t in [&ta, &tb] {
        t.keys(&["q"]);
        t.wait_for("RECERT-EXITED-0", 30);
    }
}
