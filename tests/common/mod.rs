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

pub async fn sync_once(cfg: &Config, store: &mut Store) -> SyncReport {
    sync_with_key(cfg, store, sim::DEFAULT_KEY).await
}

/// The findings of the latest snapshot under `cfg`'s rules, as `recert gaps` computes them.
pub fn latest_findings(cfg: &Config, store: &Store) -> Vec<Finding> {
    recert::cli::findings(cfg, &store.latest_snapshot().unwrap().unwrap())
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
