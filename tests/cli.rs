//! The command-line contract, run through the real binary.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn recert() -> Command {
    Command::new(env!("CARGO_BIN_EXE_recert"))
}

struct Sim(Child);
impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn sim_sync_gaps_round_trip_matches_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let (truth, cfg, data) = (
        dir.path().join("truth.json"),
        dir.path().join("cfg.toml"),
        dir.path().join("data"),
    );
    let mut child = recert()
        .args([
            "sim", "--size", "small", "--seed", "4", "--key", "k-123456", "--truth",
        ])
        .arg(&truth)
        .arg("--write-config")
        .arg(&cfg)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _sim = Sim(child);
    let urls: serde_json::Value = serde_json::from_str(&line).expect("one line of JSON");
    let obj = urls.as_object().unwrap();
    let mut names: Vec<_> = obj.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "anthropic",
            "cursor",
            "entra",
            "entra_token",
            "okta",
            "openai",
            "scim"
        ]
    );
    assert!(
        obj["openai"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    let sync = recert()
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .arg("sync")
        .env("RECERT_SIM_KEY", "k-123456")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&sync.stdout);
    assert!(
        sync.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&sync.stderr)
    );
    assert!(out.lines().any(|l| l.starts_with("openai: ok,")), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("directory: ok,")),
        "{out}"
    );

    // The rules (admin groups) come from the config the simulator wrote.
    let gaps = recert()
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .args(["gaps", "--format", "json"])
        .output()
        .unwrap();
    assert!(gaps.status.success());
    let found: Vec<serde_json::Value> = serde_json::from_slice(&gaps.stdout).unwrap();
    let planted: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).unwrap();
    let key = |v: &serde_json::Value| {
        ["rule", "severity", "provider", "subject_kind", "subject_id"]
            .map(|k| v[k].as_str().unwrap().to_string())
    };
    let mut a: Vec<_> = found.iter().map(key).collect();
    let mut b: Vec<_> = planted.iter().map(key).collect();
    a.sort();
    b.sort();
    assert!(b.len() > 20, "the simulator planted gaps: {}", b.len());
    assert_eq!(a, b);
    for f in &found {
        assert!(
            recert::reconcile::is_rule(f["rule"].as_str().unwrap()),
            "{f}"
        );
        assert!(
            ["critical", "high", "medium", "low", "info"]
                .contains(&f["severity"].as_str().unwrap()),
            "{f}"
        );
        assert!(
            f["subject_email"].is_null() || f["subject_email"].as_str().unwrap().contains('@'),
            "{f}"
        );
        assert!(!f["detail"].as_str().unwrap().trim().is_empty(), "{f}");
    }

    let csv = recert()
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .args(["gaps", "--format", "csv"])
        .output()
        .unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with(
        "rule,severity,provider,source,subject_kind,subject_id,subject_email,detail\n"
    ));
    // The CSV says what the JSON says, row for row.
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let from_csv: Vec<Vec<String>> = rows
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let from_json: Vec<Vec<String>> = found
        .iter()
        .map(|f| {
            [
                "rule",
                "severity",
                "provider",
                "source",
                "subject_kind",
                "subject_id",
                "subject_email",
                "detail",
            ]
            .map(|k| f[k].as_str().unwrap_or("").to_string())
            .to_vec()
        })
        .collect();
    assert_eq!(from_csv, from_json);

    // Files the store writes are the owner's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in std::fs::read_dir(&data).unwrap() {
            let f = f.unwrap();
            let mode = f.metadata().unwrap().permissions().mode() & 0o777;
            let want = if f.file_type().unwrap().is_dir() {
                0o700
            } else {
                0o600
            };
            assert_eq!(mode, want, "{}", f.path().display());
        }
    }
}

#[test]
fn sync_exits_non_zero_and_says_why_when_a_source_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(
        &cfg,
        "[[source]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nkey_env = \"RECERT_TEST_UNSET_KEY\"\n",
    )
    .unwrap();
    let out = recert()
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path().join("d"))
        .arg("sync")
        .env_remove("RECERT_TEST_UNSET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("openai: FAILED"), "{all}");
    assert!(
        all.contains("no key for source 'openai'") && all.contains("export RECERT_TEST_UNSET_KEY"),
        "{all}"
    );
}

#[test]
fn a_key_in_the_config_is_refused_and_not_repeated() {
    let out = recert()
        .arg("--config")
        .arg(fixture("key-in-file.toml"))
        .arg("sync")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 5") && err.contains("api_key") && err.contains("recert login"),
        "{err}"
    );
    assert!(!err.contains("DoNotPutMeHere"), "{err}");
}

#[test]
fn unknown_settings_and_broken_files_are_named() {
    let out = recert()
        .arg("--config")
        .arg(fixture("unknown-setting.toml"))
        .arg("sync")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("concurrancy") && err.contains("line 6"),
        "{err}"
    );
    let out = recert()
        .arg("--config")
        .arg(fixture("broken.toml"))
        .arg("sync")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("broken.toml") && err.contains("line 1"),
        "{err}"
    );
    let out = recert()
        .arg("--config")
        .arg(fixture("missing.toml"))
        .arg("sync")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config"));
}

#[test]
fn the_valid_fixture_loads() {
    let cfg = recert::config::Config::load(&fixture("valid.toml"), true).unwrap();
    assert!(cfg.settings.read_only);
    assert_eq!(cfg.sources.len(), 4);
    assert_eq!(cfg.sources[0].concurrency, Some(8));
    assert!(cfg.sources[1].key_hint().contains("recert login okta"));
    assert_eq!(
        cfg.sources[2].token_endpoint(),
        "https://example.okta.com/oauth2/v1/token"
    );
    assert_eq!(cfg.sources[3].apps.len(), 1);
    assert_eq!(cfg.review.routes.len(), 2);
    assert_eq!(cfg.review.routes[0].department.as_deref(), Some("Platform"));
    assert_eq!(cfg.review.check(), Ok(()));
}

#[test]
fn no_snapshot_yet_says_how_to_start() {
    let dir = tempfile::tempdir().unwrap();
    for args in [vec![], vec!["gaps"]] {
        let out = recert()
            .env("XDG_CONFIG_HOME", dir.path())
            .env("HOME", dir.path())
            .arg("--data-dir")
            .arg(dir.path().join("d"))
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("recert sync")
                && err.contains("recert demo")
                && err.contains("[[source]]"),
            "{err}"
        );
    }
}

#[test]
fn bad_fault_specs_are_rejected() {
    let out = recert()
        .args(["sim", "--faults", "teapot"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown fault `teapot`"));
}

/// A synced simulator in a temporary directory, driven through the real binary.
struct Synced {
    _sim: Sim,
    dir: tempfile::TempDir,
}

impl Synced {
    fn new(seed: &str) -> Synced {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cfg.toml");
        let mut child = recert()
            .args(["sim", "--size", "small", "--seed", seed, "--write-config"])
            .arg(&cfg)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let sim = Sim(child);
        let s = Synced { _sim: sim, dir };
        let out = s.run(&["sync"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        recert()
            .arg("--config")
            .arg(self.dir.path().join("cfg.toml"))
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(args)
            .env("RECERT_SIM_KEY", recert::sim::DEFAULT_KEY)
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn gaps_filters_narrow_by_rule_provider_severity_and_person() {
    let s = Synced::new("5");
    let all = s.json(&["gaps", "--format", "json"]);
    let all = all.as_array().unwrap();
    let pick = |args: &[&str]| s.json(&[&["gaps", "--format", "json"], args].concat());
    let count = |pred: &dyn Fn(&serde_json::Value) -> bool| all.iter().filter(|f| pred(f)).count();

    let keys = pick(&["--rule", "orphaned-key,dormant-key"]);
    assert!(!keys.as_array().unwrap().is_empty());
    assert_eq!(
        keys.as_array().unwrap().len(),
        count(&|f| f["rule"] == "orphaned-key" || f["rule"] == "dormant-key")
    );

    let cursor_high = pick(&["--provider", "cursor", "--severity", "critical,high"]);
    assert_eq!(
        cursor_high.as_array().unwrap().len(),
        count(&|f| f["provider"] == "cursor"
            && (f["severity"] == "critical" || f["severity"] == "high"))
    );

    let leaver = all
        .iter()
        .find(|f| f["rule"] == "leaver-with-access")
        .unwrap();
    let email = leaver["subject_email"].as_str().unwrap().to_uppercase();
    let theirs = pick(&["--person", &email]);
    let theirs = theirs.as_array().unwrap();
    assert!(!theirs.is_empty());
    assert!(theirs.iter().all(|f| {
        f["subject_email"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(&email)
    }));

    let bad = s.run(&["gaps", "--rule", "leavers"]);
    assert!(!bad.status.success());
    // Checked by the command line (which the completions complete from), with a suggestion.
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("possible values: leaver-with-access")
            && err.contains("a similar value exists: 'leaver-with-access'"),
        "{err}"
    );
}

#[test]
fn person_shows_the_whole_footprint() {
    let s = Synced::new("6");
    let all = s.json(&["gaps", "--format", "json"]);
    let orphan = all
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["rule"] == "orphaned-key"
                && f["provider"] == "openai"
                && f["detail"].as_str().unwrap().contains("inactive")
        })
        .unwrap();
    let email = orphan["subject_email"].as_str().unwrap();
    let fp = s.json(&["person", email, "--format", "json"]);
    assert_eq!(fp["directory"][0]["active"], false);
    assert!(
        fp["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["provider"] == "openai")
    );
    assert!(
        fp["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == orphan["subject_id"])
    );
    // The grants are the person's accounts' grants in the snapshot, each one.
    let snap = recert::store::Store::open(s.dir.path().join("data"))
        .unwrap()
        .latest_snapshot()
        .unwrap()
        .unwrap();
    let ids: std::collections::HashSet<&str> = fp["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let mut want: Vec<(String, String)> = snap
        .data
        .grants
        .iter()
        .filter(|g| g.principal_kind == "user" && ids.contains(g.principal_id.as_str()))
        .map(|g| (g.principal_id.to_string(), g.resource_id.to_string()))
        .collect();
    let mut got: Vec<(String, String)> = fp["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["principal_id"].as_str().unwrap().to_string(),
                g["resource_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert!(!want.is_empty(), "the person holds grants");
    assert_eq!(got, want);
    let rules: Vec<&str> = fp["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"leaver-with-access") && rules.contains(&"orphaned-key"),
        "{rules:?}"
    );

    let table = s.run(&["person", email]);
    let text = String::from_utf8_lossy(&table.stdout);
    for section in [
        "DIRECTORY",
        "ACCOUNTS",
        "MEMBERSHIPS AND ROLES",
        "KEYS",
        "FINDINGS",
    ] {
        assert!(text.contains(section), "{text}");
    }
    // Keys by their names, as the findings name them; memberships through a group by the
    // group's name, never its raw `group:ID`.
    let key = snap
        .data
        .credentials
        .iter()
        .find(|c| c.id == orphan["subject_id"].as_str().unwrap())
        .unwrap();
    let name = key.name.as_deref().expect("the simulator names every key");
    let keys = text.split("\nKEYS\n").nth(1).unwrap();
    assert!(keys.contains(name), "{keys}");
    // Someone who holds a role through a group: the group by its name.
    let (g, group) = snap
        .data
        .grants
        .iter()
        .filter(|g| g.principal_kind == "user")
        .find_map(|g| {
            let id = g.via.strip_prefix("group:")?;
            let r = snap
                .data
                .resources
                .iter()
                .find(|r| r.source == g.source && r.id == id)?;
            Some((g, r.name.clone()?))
        })
        .expect("a role held through a named group");
    let member = snap
        .data
        .accounts
        .iter()
        .find(|a| a.source == g.source && a.id == g.principal_id)
        .and_then(|a| a.email.clone())
        .expect("the member's email");
    let theirs = String::from_utf8_lossy(&s.run(&["person", &member]).stdout).into_owned();
    let held = theirs
        .split("\nMEMBERSHIPS AND ROLES\n")
        .nth(1)
        .and_then(|x| x.split("\nKEYS\n").next())
        .unwrap();
    assert!(
        held.contains(&format!("via group {group}")) && !held.contains("via group:"),
        "{group}: {held}"
    );
    // What the providers' records say of an account: someone who logged in shows it, in the
    // JSON and under the account's line in the table.
    let login = snap
        .data
        .provenance
        .iter()
        .find(|p| p.fact == "last_login")
        .expect("a login in the audit log");
    let who = snap
        .data
        .accounts
        .iter()
        .find(|a| a.source == login.source && a.id == login.subject_id)
        .and_then(|a| a.email.clone())
        .unwrap();
    let fp = s.json(&["person", &who, "--format", "json"]);
    let lines: Vec<&str> = fp["history"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["lines"].as_array().unwrap())
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("last login") && l.ends_with("(OpenAI audit log)")),
        "{lines:?}"
    );
    let text = String::from_utf8_lossy(&s.run(&["person", &who]).stdout).into_owned();
    for l in &lines {
        assert!(text.contains(l), "{l} in {text}");
    }
    let nobody = s.run(&["person", "nobody@nowhere.example"]);
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("nobody in snapshot"));
}

/// Completions and the man page come from the one clap definition: every subcommand is in
/// them, the bash script parses, and neither touches a config, store or log.
#[test]
fn completions_and_the_man_page_cover_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = recert()
            .args(args)
            .env("HOME", dir.path())
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let commands = [
        "sync",
        "gaps",
        "revoke",
        "apply",
        "campaign",
        "audit",
        "completions",
        "man",
    ];
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = run(&["completions", shell]);
        for c in commands {
            assert!(script.contains(c), "{shell} completion lacks {c}");
        }
    }
    // Campaign subcommands too, cancel included; and the rule ids `--rule` takes.
    assert!(run(&["completions", "bash"]).contains("cancel"));
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        for c in [
            "doctor",
            "manual",
            "remind",
            "orphaned-key",
            "unowned-service-account",
        ] {
            assert!(script.contains(c), "{shell} completion lacks {c}");
        }
    }
    let bash = run(&["completions", "bash"]);
    let check = Command::new("bash")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bash.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(check.success(), "the bash completion script does not parse");
    let man = run(&["man"]);
    assert!(
        man.contains(".TH recert 1"),
        "{}",
        &man[..man.len().min(300)]
    );
    for c in commands {
        assert!(man.contains(c), "the man page lacks {c}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written under HOME"
    );
}

/// `RECERT_DATA_DIR` names the store for every command, as `--data-dir` does (a walkthrough
/// can set it once); `--data-dir` wins over it.
#[test]
fn the_data_dir_comes_from_recert_data_dir_unless_given() {
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("from-env");
    let flag = home.path().join("from-flag");
    let out = recert()
        .env("RECERT_DATA_DIR", &store)
        .args(["gaps"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&store.display().to_string()), "{err}");
    let out = recert()
        .env("RECERT_DATA_DIR", &store)
        .arg("--data-dir")
        .arg(&flag)
        .args(["gaps"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&flag.display().to_string()), "{err}");
}
