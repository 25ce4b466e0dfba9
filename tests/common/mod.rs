//! Shared set-up for the integration tests: a real simulator on 127.0.0.1, a config pointing at
//! it, and a real store in a temporary directory.
#![allow(dead_code)]

use std::path::Path;

use recert::config::{Config, SourceConfig};
use recert::model::Finding;
use recert::secret::Secret;
use recert::sim::faults::Faults;
use recert::sim::world::Size;
use recert::sim::{self, RunningSim, SimOptions};
use recert::store::Store;
use recert::sync::{self, SyncReport};

pub const NOW: i64 = 1_795_000_000;

pub async fn start(size: Size, seed: u64, faults: &str) -> RunningSim {
    sim::start(SimOptions {
        size,
        seed,
        now: NOW,
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

pub fn keys(findings: &[Finding]) -> Vec<(String, String, String, String, String)> {
    let mut k: Vec<_> = findings.iter().map(Finding::key).collect();
    k.sort();
    k
}

pub fn source<'a>(r: &'a SyncReport, name: &str) -> &'a recert::model::SourceStatus {
    r.sources.iter().find(|s| s.source == name).unwrap()
}
