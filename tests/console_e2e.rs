//! End to end in tmux with the real binary: `recert demo --data-dir DIR`, filter, mark, decide,
//! quit; start again on the same DIR and the decisions are there. Every wait is on screen
//! content (tmux capture-pane), never a fixed sleep. Needs tmux: in CI a missing tmux fails the
//! test, elsewhere it is skipped with a note.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn start(name: &str, cmd: &str, home: &Path) -> Tmux {
        let session = format!("recert-e2e-{name}-{}", std::process::id());
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", "120", "-y", "40"])
            // The environment goes in the command: a tmux server that is already running gives
            // new sessions its own environment, not this process's.
            .arg(format!(
                "env HOME={h} XDG_CONFIG_HOME={h}/config XDG_DATA_HOME={h}/data XDG_STATE_HOME={h}/state RECERT_REVIEWER=e2e@example.com TERM=xterm-256color {cmd}; echo RECERT-EXITED-$?; sleep 600",
                h = home.display()
            ))
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux new-session failed");
        Tmux { session }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
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
            let st = Command::new("tmux")
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .expect("send-keys");
            assert!(st.success());
        }
    }

    fn text(&self, text: &str) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "-l", text])
            .status()
            .expect("send-keys");
        assert!(st.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

#[test]
fn decide_quit_and_the_decisions_are_there_next_time() {
    if !Tmux::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is missing in CI: .ci/run must install it"
        );
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("store");
    let bin = env!("CARGO_BIN_EXE_recert");
    let cmd = format!(
        "{bin} demo --size small --seed 3 --data-dir {}",
        dir.display()
    );
    let t = Tmux::start("a", &cmd, home.path());
    t.wait("the gaps view with rows", 120, |s| {
        // Rows, and the whole snapshot (not only the stored digest's first findings).
        s.contains("Gaps ") && s.contains("CRIT") && !s.contains("loading the rest")
    });
    // Filter to one rule (keys in the default project or workspace, which is never archived:
    // a key in an archived one has nothing to send), mark two rows, revoke them with a reason.
    t.keys(&["/"]);
    t.text("orphan Default");
    let s = t.wait_for("/orphan Default", 20);
    assert!(s.contains("orphaned-key"), "{s}");
    t.keys(&["Enter", "Space", "Space"]);
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
    let store = recert::store::Store::open(&dir).unwrap();
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

    // Start again on the same directory: the decisions are there.
    let t = Tmux::start("b", &cmd, home.path());
    t.wait("the gaps view with rows", 120, |s| {
        // Rows, and the whole snapshot (not only the stored digest's first findings).
        s.contains("Gaps ") && s.contains("CRIT") && !s.contains("loading the rest")
    });
    t.keys(&["6"]);
    let s = t.wait_for("Decisions 2", 20);
    assert!(s.contains("left in October"), "{s}");
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
    t.wait_for("2 calls done now, 0 done before, 0 failed", 60);
    t.keys(&["q"]);
    t.wait_for("RECERT-EXITED-0", 30);
    let store = recert::store::Store::open(&dir).unwrap();
    let rows = store.all_journal().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.state == recert::remediate::RowState::Done)
    );
    recert::audit::verify(&store.audit_entries().unwrap()).unwrap();
}

#[test]
fn read_only_console_refuses_decisions_and_records_nothing() {
    if !Tmux::available() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing in CI");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("store");
    let bin = env!("CARGO_BIN_EXE_recert");
    let cmd = format!(
        "{bin} --read-only demo --size small --seed 3 --data-dir {}",
        dir.display()
    );
    let t = Tmux::start("ro", &cmd, home.path());
    t.wait("the gaps view", 120, |s| {
        s.contains("READ-ONLY") && s.contains("CRIT") && !s.contains("loading the rest")
    });
    t.keys(&["r"]);
    t.wait_for("Read-only mode", 20);
    t.keys(&["q"]);
    t.wait_for("RECERT-EXITED-0", 30);
    let store = recert::store::Store::open(&dir).unwrap();
    assert!(store.decisions().unwrap().is_empty());
}
