//! Shared set-up for the integration tests: a real simulator on 127.0.0.1, a config pointing at
//! it, and a real store in a temporary directory.
#![allow(dead_code)]

pub mod process;

use std::path::Path;

use recert::config::{Config, SourceConfig};
use recert::model::Finding;
use recert::secret::Secret;
use recert::sim::faults::Faults;
use recert::sim::world::Size;
use recert::sim::{self, RunningSim, SimOptions};
use recert::store::Store;
use recert::sync::{self, SyncReport};

pub async fn start(size: Size, seed: u64, faults: &str) -> RunningSim {
    sim::start(SimOptions {
        size,
        seed,
        now: chrono::Utc::now().timestamp(),
        faults: Faults::parse(faults).unwrap(),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The config `recert sim --write-config` would write, with `extra` settings added to each source.
pub fn config(sim: &RunningSim, extra: &str) -> Config {
    let text = sim.config_toml().replace(
        "key_env = \"RECERT_SIM_KEY\"\n",
        &format!("key_env = \"RECERT_SIM_KEY\"\n{extra}\n"),
    );
    Config::parse(&text, Path::new("test")).unwrap()
}

pub async fn sync_with_key(cfg: &Config, store: &mut Store, key: &str) -> SyncReport {
    let key = Secret::new(key);
    let resolve = move |_: &SourceConfig| Ok(key.clone());
    sync::sync(cfg, store, &resolve, false).await.unwrap()
}

/// A sync in which the directory source's key is `directory_key` (a private key, say) and
/// every other source's the simulator's.
pub async fn sync_with_directory_key(
    cfg: &Config,
    store: &mut Store,
    directory_key: &str,
) -> SyncReport {
    let (dir, other) = (Secret::new(directory_key), Secret::new(sim::DEFAULT_KEY));
    let resolve = move |s: &SourceConfig| {
        Ok(if matches!(s.kind.as_str(), "scim" | "okta" | "entra") {
            dir.clone()
        } else {
            other.clone()
        })
    };
    sync::sync(cfg, store, &resolve, false).await.unwrap()
}

/// The simulator's service-app private key (a public test key: never trust it).
pub const SIM_CLIENT_KEY: &str = include_str!("../fixtures/sim-client.key.pem");

pub async fn sync_once(cfg: &Config, store: &mut Store) -> SyncReport {
    sync_with_key(cfg, store, sim::DEFAULT_KEY).await
}

/// The people of the latest snapshot in `store`.
pub fn people(store: &Store) -> Vec<recert::model::Person> {
    store.latest_snapshot().unwrap().unwrap().data.people
}

/// Every request a simulator's `request_log` recorded, in order.
pub fn served(log: &Path) -> Vec<recert::sim::Served> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The findings of the latest snapshot under `cfg`'s rules, as `recert gaps` computes them.
pub fn latest_findings(cfg: &Config, store: &Store) -> Vec<Finding> {
    recert::engine::load::findings(cfg, &store.latest_snapshot().unwrap().unwrap())
}

pub fn keys(findings: &[Finding]) -> Vec<(String, String, String, String, String)> {
    let mut k: Vec<_> = findings.iter().map(Finding::key).collect();
    k.sort();
    k
}

pub fn source<'a>(r: &'a SyncReport, name: &str) -> &'a recert::model::SourceStatus {
    r.sources.iter().find(|s| s.source == name).unwrap()
}

/// A simulator with `faults`, a fresh store, and one sync with `extra` source settings.
pub struct Fresh {
    pub sim: RunningSim,
    pub cfg: Config,
    pub store: Store,
    pub report: SyncReport,
    pub _dir: tempfile::TempDir,
}

pub async fn fresh(size: Size, seed: u64, faults: &str, extra: &str) -> Fresh {
    let sim = start(size, seed, faults).await;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = config(&sim, extra);
    let report = sync_once(&cfg, &mut store).await;
    Fresh {
        sim,
        cfg,
        store,
        report,
        _dir: dir,
    }
}

/// The error a source reported, which must exist.
pub fn error_of(r: &SyncReport, name: &str) -> String {
    source(r, name)
        .error
        .clone()
        .unwrap_or_else(|| panic!("source {name} did not fail: {:?}", r.lines()))
}

/// A loopback HTTP server standing in for a chat tool's incoming webhook: answers every
/// request with `status` and keeps each request's body.
pub fn webhook(status: u16) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            kept.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    // The path is the secret part of a real webhook URL.
    (
        format!("http://127.0.0.1:{port}/services/T0SECRET/B0SECRET/W3bh00kT0k3nNeverLogged"),
        bodies,
    )
}

/// Every file under `dir` (logs, the store, the config).
pub fn walk(dir: &std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
