//! Incident mode on the `xl` organisation: from starting `recert revoke --key HINT` (the real
//! binary, on a stored snapshot of the whole organisation) to its confirmation prompt. Prints
//! the figure for BENCHMARKS.md; not a test.
//!
//!   cargo bench --bench revoke        # RECERT_BENCH_SIZE=large for a smaller organisation

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use recert::config::{Config, SourceConfig};
use recert::secret::Secret;
use recert::sim::world::Size;
use recert::sim::{self, SimOptions};
use recert::store::Store;

#[tokio::main]
async fn main() {
    let size = match std::env::var("RECERT_BENCH_SIZE").as_deref() {
        Ok("large") => Size::Large,
        Ok("medium") => Size::Medium,
        _ => Size::Xl,
    };
    let sim = sim::start(SimOptions {
        size,
        seed: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("cfg.toml");
    std::fs::write(&cfg_path, sim.config_toml()).unwrap();
    let cfg = Config::parse(&sim.config_toml(), Path::new("bench")).unwrap();
    let data = dir.path().join("data");
    let mut store = Store::open(&data).unwrap();
    let key = Secret::new(sim::DEFAULT_KEY);
    let resolve = move |_: &SourceConfig| Ok(key.clone());
    let t = Instant::now();
    recert::sync::sync(&cfg, &mut store, &resolve, false)
        .await
        .unwrap();
    eprintln!(
        "  (synced the {size:?} organisation in {:.1} s)",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let snap = store.latest_snapshot().unwrap().unwrap();
    let full = t.elapsed();
    let hint = snap
        .data
        .credentials
        .iter()
        .rev()
        .find(|c| c.provider == "openai" && c.kind == "project_key")
        .and_then(|c| c.redacted.clone())
        .unwrap();
    let counts = (
        snap.data.people.len(),
        snap.data.accounts.len(),
        snap.data.grants.len(),
        snap.data.credentials.len(),
    );
    drop(snap);
    drop(store);
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_recert"))
            .arg("--config")
            .arg(&cfg_path)
            .arg("--data-dir")
            .arg(&data)
            .args(["revoke", "--key", &hint])
            .env("RECERT_SIM_KEY", sim::DEFAULT_KEY)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut err = child.stderr.take().unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&seen).contains("[y/N]") {
            let n = err.read(&mut buf).unwrap();
            assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        runs.push(t.elapsed());
        child.stdin.take().unwrap().write_all(b"n\n").unwrap();
        child.wait().unwrap();
    }
    runs.sort();
    println!(
        "revoke --key on {size:?} ({} people, {} accounts, {} grants, {} keys): start to prompt median {:.0} ms, worst {:.0} ms (target 1 s); loading the whole snapshot alone takes {:.0} ms",
        counts.0,
        counts.1,
        counts.2,
        counts.3,
        runs[2].as_secs_f64() * 1000.0,
        runs[4].as_secs_f64() * 1000.0,
        full.as_secs_f64() * 1000.0
    );
}
