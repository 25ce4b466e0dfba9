//! `recert doctor` through the real binary against the simulator (a separate process): each
//! permission missing and each feature off is named with its fix, an optional endpoint does not
//! stop a sync, and the exit code says whether every source can be synced.

use serde_json::Value;

mod common;
use common::process::Env;

fn doctor(e: &Env, key: bool) -> (bool, Value, String) {
    let mut c = e.cmd(&["doctor", "--format", "json"]);
    if !key {
        c.env_remove("RECERT_SIM_KEY");
    }
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The checks of source `src`.
fn checks<'a>(v: &'a Value, src: &str) -> &'a Vec<Value> {
    v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == src)
        .and_then(|s| s["checks"].as_array())
        .unwrap_or_else(|| panic!("no source {src}: {v:#}"))
}

/// The check of `what` in source `src`.
fn check<'a>(v: &'a Value, src: &str, what: &str) -> &'a Value {
    checks(v, src)
        .iter()
        .find(|c| c["what"] == what)
        .unwrap_or_else(|| panic!("no check {what} in {src}: {v:#}"))
}

#[test]
fn a_healthy_setup_is_all_ok() {
    let e = Env::unsynced("small", &[]);
    let (ok, v, err) = doctor(&e, true);
    assert!(ok, "{err}\n{v:#}");
    assert_eq!(v["ok"], true);
    for s in v["sources"].as_array().unwrap() {
        for c in s["checks"].as_array().unwrap() {
            assert_eq!(c["outcome"], "ok", "{c:#}");
        }
    }
    assert!(
        v["store"].as_str().unwrap().contains("integrity ok"),
        "{v:#}"
    );
    // Plain text says the same, one line per endpoint.
    let text = e.ok(&["doctor"]);
    assert!(text.contains("source  openai (openai): can sync"), "{text}");
    assert!(text.contains("OK                 admin keys"), "{text}");
}

#[test]
fn missing_permissions_and_features_are_named_with_their_fix() {
    let faults = "403@organization/admin_api_keys,404@organization/groups,403@usage_report/messages,403@audit_logs";
    let e = Env::unsynced("small", &["--faults", faults]);
    let (ok, v, err) = doctor(&e, true);
    assert!(!ok, "an admin-key list the key cannot read stops the sync");
    assert!(
        err.contains("source 'openai'") && !err.contains("anthropic"),
        "{err}"
    );
    let admin = check(&v, "openai", "admin keys");
    assert_eq!(admin["outcome"], "missing_permission");
    assert_eq!(admin["required"], true);
    assert!(
        admin["fix"].as_str().unwrap().contains("sk-admin"),
        "{admin:#}"
    );
    let groups = check(&v, "openai", "groups");
    assert_eq!(groups["outcome"], "feature_off");
    assert_eq!(groups["required"], false);
    assert!(
        groups["fix"].as_str().unwrap().contains("does not have it"),
        "{groups:#}"
    );
    let audit = check(&v, "openai", "audit log");
    assert_eq!(audit["outcome"], "missing_permission");
    assert_eq!(audit["required"], false);
    assert!(
        audit["fix"]
            .as_str()
            .unwrap()
            .contains("audit logging switched on"),
        "{audit:#}"
    );
    // An optional endpoint refused: the source can still be synced, said so.
    let usage = check(&v, "anthropic", "usage report (key last use)");
    assert_eq!(usage["outcome"], "missing_permission");
    assert!(
        checks(&v, "anthropic")
            .iter()
            .all(|c| c["required"] == false || c["outcome"] == "ok")
    );
    let text = e.run(&["doctor"]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("source  openai (openai): CANNOT SYNC"),
        "{text}"
    );
    assert!(
        text.contains("source  anthropic (anthropic): can sync"),
        "{text}"
    );
    assert!(
        text.contains("(optional: the sync goes on without it)"),
        "{text}"
    );
}

#[test]
fn no_key_and_no_config_are_said_plainly() {
    let e = Env::unsynced("small", &[]);
    let (ok, v, _) = doctor(&e, false);
    assert!(!ok);
    let key = check(&v, "openai", "key");
    assert_eq!(key["outcome"], "failed");
    assert!(
        key["fix"].as_str().unwrap().contains("RECERT_SIM_KEY"),
        "{key:#}"
    );
    // No config at all: nothing to sync, and the store is still checked.
    let home = tempfile::tempdir().unwrap();
    let out = common::process::recert()
        .arg("--config")
        .arg(home.path().join("none.toml"))
        .arg("--data-dir")
        .arg(home.path().join("data"))
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        text.contains("config ") && err.contains("the config"),
        "{text}{err}"
    );
    assert!(text.contains("integrity ok"), "{text}");
}
