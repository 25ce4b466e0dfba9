//! The harness the end-to-end tests of the binary share: the simulator as a separate process serving real
//! HTTP (its request log the independent record of what reached the providers), a config
//! pointing at it, and the real `recert` binary run against a private data dir.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use recert::sim::Served;

pub fn recert() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_recert"));
    c.env("RECERT_SIM_KEY", recert::sim::DEFAULT_KEY)
        .env("RECERT_REVIEWER", "responder@example.com");
    c
}

pub struct Sim(Child);
impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Env {
    _sim: Sim,
    pub dir: tempfile::TempDir,
    /// Request-log lines written by the sync (reads, including Cursor's POST usage report).
    pub baseline: usize,
}

impl Env {
    pub fn new(size: &str, extra: &[&str]) -> Env {
        Env::with_source_settings(size, extra, "")
    }

    /// The simulator and its config, not synced yet (for commands that must work before a
    /// sync, or with faults a sync would fail on).
    pub fn unsynced(size: &str, extra: &[&str]) -> Env {
        Env::start(size, extra, "", false)
    }

    /// `settings` (TOML lines) are added to every source of the generated config.
    pub fn with_source_settings(size: &str, extra: &[&str], settings: &str) -> Env {
        Env::start(size, extra, settings, true)
    }

    fn start(size: &str, extra: &[&str], settings: &str, sync: bool) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut child = recert()
            .args(["sim", "--size", size, "--seed", "11", "--write-config"])
            .arg(dir.path().join("cfg.toml"))
            .arg("--request-log")
            .arg(dir.path().join("requests.jsonl"))
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let cfg = dir.path().join("cfg.toml");
        let text = std::fs::read_to_string(&cfg).unwrap().replace(
            "key_env = \"RECERT_SIM_KEY\"\n",
            &format!("key_env = \"RECERT_SIM_KEY\"\n{settings}"),
        );
        std::fs::write(&cfg, text).unwrap();
        let mut e = Env {
            _sim: Sim(child),
            dir,
            baseline: 0,
        };
        if !sync {
            return e;
        }
        let out = e.run(&["sync"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        e.baseline = e.log().len();
        e
    }

    /// The latest snapshot in the store.
    pub fn snapshot(&self) -> recert::model::Snapshot {
        recert::store::Store::open(self.data())
            .unwrap()
            .latest_snapshot()
            .unwrap()
            .unwrap()
    }

    /// The OpenAI project keys of users in live (not archived) projects: keys a revoke can
    /// delete.
    pub fn user_keys(&self) -> Vec<recert::model::Credential> {
        let snap = self.snapshot();
        let archived = recert::model::Archived::new(&snap.data);
        snap.data
            .credentials
            .iter()
            .filter(|c| {
                c.provider == "openai"
                    && c.kind == "project_key"
                    && c.usable()
                    && c.owner.as_ref().is_some_and(|o| o.kind == "user")
                    && archived
                        .container(&c.source, c.resource_id.as_deref().unwrap_or(""))
                        .is_none()
            })
            .cloned()
            .collect()
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = recert();
        c.arg("--config")
            .arg(self.dir.path().join("cfg.toml"))
            .arg("--data-dir")
            .arg(self.data())
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).output().unwrap()
    }

    /// Run, require success, and return stdout then stderr as text.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {text}");
        text
    }

    /// `campaign new --name NAME --due +30d --fallback group:ai-admins`, then `extra`.
    pub fn new_campaign(&self, name: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "campaign",
            "new",
            "--name",
            name,
            "--due",
            "+30d",
            "--fallback",
            "group:ai-admins",
        ];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    pub fn log(&self) -> Vec<Served> {
        let text =
            std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<Served>(l).unwrap())
            .collect()
    }

    /// The writes that reached the simulator after the sync, from its request log (reads, such
    /// as a re-check's GET, are not writes).
    pub fn mutations(&self) -> Vec<Served> {
        let mut after = self.log().split_off(self.baseline);
        after.retain(|m| m.method != "GET");
        after
    }
}

/// Run SQL on a data dir's store directly, as someone with the file would.
pub fn sql(dir: &std::path::Path, statement: &str) {
    let conn = rusqlite::Connection::open(dir.join("recert.db")).unwrap();
    conn.execute_batch(statement).unwrap();
}

/// The email of the OpenAI member (not an owner) holding the most grants, among those `keep`
/// allows: a person whose sweep makes several calls.
pub fn busiest_openai_member(
    d: &recert::model::SourceData,
    keep: impl Fn(&recert::model::Account) -> bool,
) -> Option<String> {
    d.accounts
        .iter()
        .filter(|a| a.provider == "openai" && a.role.as_deref() != Some("owner"))
        .filter(|a| keep(a))
        .max_by_key(|a| d.grants.iter().filter(|g| g.principal_id == a.id).count())
        .and_then(|a| a.email.clone())
}
