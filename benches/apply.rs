//! Apply benchmark: revoke N OpenAI keys (default 10,000, from the `xl` organisation) through
//! the real executor (journal write before and after every call, audit entries) against the
//! simulator with 20 ms added latency, and compare with the floor calls × latency ÷ concurrency;
//! then revoke keys under a per-window write limit with the client pacing itself, and compare
//! with the limit's floor.
//! Prints figures for BENCHMARKS.md; it is not a test.
//!
//!   cargo bench --bench apply        # RECERT_BENCH_CALLS, RECERT_BENCH_LATENCY_MS, RECERT_BENCH_CONCURRENCY

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use recert::config::Config;
use recert::remediate::{PlannedStep, Step, apply};
use recert::secret::Secret;
use recert::sim::world::Size;
use recert::sim::{self, SimOptions};
use recert::store::Store;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let calls = env("RECERT_BENCH_CALLS", 10_000) as usize;
    let latency = Duration::from_millis(env("RECERT_BENCH_LATENCY_MS", 20));
    let concurrency = env("RECERT_BENCH_CONCURRENCY", 16) as usize;
    let t = Instant::now();
    let sim = sim::start(SimOptions {
        size: Size::Xl,
        seed: 1,
        latency,
        ..Default::default()
    })
    .await
    .unwrap();
    eprintln!(
        "  (generated the xl organisation in {:.1} s)",
        t.elapsed().as_secs_f64()
    );
    let steps = user_key_deletions(&sim, calls);
    let (wall, out) = send(
        &sim,
        &steps,
        &format!("concurrency = {concurrency}"),
        concurrency,
    )
    .await;
    assert_eq!(out.done, calls, "{:?}", out.failed.first());
    let floor = latency * calls as u32 / concurrency as u32;
    println!(
        "apply: {calls} key deletions, {} ms latency, concurrency {concurrency}: {:.2} s; floor {:.2} s; ratio {:.2} (target 1.5)",
        latency.as_millis(),
        wall.as_secs_f64(),
        floor.as_secs_f64(),
        wall.as_secs_f64() / floor.as_secs_f64()
    );
    let removed = sim
        .state
        .mutations()
        .iter()
        .filter(|m| m.status == 200)
        .count();
    println!("  the simulator saw {removed} successful deletions");
    sim.stop().await;
    limited().await;
}

/// A per-minute write limit (the simulator's `write_limit`: 50 writes per window, 429 without
/// Retry-After beyond it; the window is one second here so 10,000 calls take minutes, not
/// days). The client paces the OpenAI source with `rate_per_minute` 3% under the limit; the
/// floor is calls ÷ 50 windows.
async fn limited() {
    let calls = env("RECERT_BENCH_LIMITED_CALLS", 1_000) as usize;
    let window = Duration::from_secs(1);
    let sim = sim::start(SimOptions {
        size: Size::Xl,
        seed: 2,
        write_limit: Some((50, window)),
        ..Default::default()
    })
    .await
    .unwrap();
    let steps = user_key_deletions(&sim, calls);
    // 50 per second is 3000 per minute; 3% under it.
    let rate = 2910;
    let (wall, out) = send(&sim, &steps, &format!("rate_per_minute = {rate}"), 8).await;
    assert_eq!(out.done, calls, "{:?}", out.failed.first());
    let floor = window * (calls as u32 / 50);
    let limited = sim
        .state
        .mutations()
        .iter()
        .filter(|x| x.status == 429)
        .count();
    println!(
        "apply under a limit: {calls} key deletions, limit 50 writes per {} ms window, client paced at {rate}/min: {:.2} s; floor {:.2} s; ratio {:.2} (target 1.1); 429s seen {limited}",
        window.as_millis(),
        wall.as_secs_f64(),
        floor.as_secs_f64(),
        wall.as_secs_f64() / floor.as_secs_f64()
    );
}

/// Store `steps` as a plan and send them through the executor to the simulator's OpenAI source,
/// with `setting` (a TOML line) added to every source; the wall time and the outcome.
async fn send(
    sim: &sim::RunningSim,
    steps: &[PlannedStep],
    setting: &str,
    concurrency: usize,
) -> (Duration, apply::Outcome) {
    let text = sim.config_toml().replace(
        "key_env = \"RECERT_SIM_KEY\"\n",
        &format!("key_env = \"RECERT_SIM_KEY\"\n{setting}\n"),
    );
    let cfg = Config::parse(&text, Path::new("bench")).unwrap();
    let src = cfg.source("openai").unwrap();
    let mut clients = HashMap::new();
    clients.insert(
        "openai".to_string(),
        Arc::new(recert::connectors::client(
            src,
            Secret::new(sim::DEFAULT_KEY),
        )),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let plan = store.create_plan(steps, "bench", None, 0).unwrap();
    let store = Mutex::new(store);
    let t = Instant::now();
    let out = apply::execute(
        &store,
        plan,
        &clients,
        concurrency,
        "bench",
        &Default::default(),
        &|_, _, _, _, _| {},
    )
    .await
    .unwrap();
    (t.elapsed(), out)
}

/// Deletions of `n` user-owned OpenAI project keys (a service account's key cannot be deleted
/// alone).
fn user_key_deletions(sim: &sim::RunningSim, n: usize) -> Vec<PlannedStep> {
    let w = sim.state.world.read().unwrap();
    let steps: Vec<PlannedStep> = w
        .openai
        .api_keys
        .iter()
        .flat_map(|(p, keys)| {
            keys.values()
                .filter(|k| matches!(k.owner, recert::sim::world::KeyOwner::User { .. }))
                .map(move |k| (p.clone(), k.id.clone()))
        })
        .take(n)
        .map(|(p, k)| PlannedStep {
            decisions: vec![],
            step: Step::Call {
                source: "openai".into(),
                method: "DELETE",
                path: format!("/organization/projects/{p}/api_keys/{k}"),
                body: None,
                note: None,
            },
        })
        .collect();
    assert_eq!(steps.len(), n, "the organisation has enough keys");
    steps
}
