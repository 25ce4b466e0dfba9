//! Sync benchmark: the `large` simulated organisation (20,000 people) with 20 ms added latency
//! per request, synced through the real connectors over loopback HTTP at the default
//! concurrency and at concurrency 1. Prints requests, wall time and the floor
//! (requests × latency ÷ concurrency). Not a test: it prints figures for BENCHMARKS.md.
//!
//!   cargo bench --bench sync                       # large, 20 ms
//!   RECERT_BENCH_SIZE=medium cargo bench --bench sync

use std::path::Path;
use std::time::{Duration, Instant};

use recert::config::{Config, SourceConfig};
use recert::secret::Secret;
use recert::sim::world::Size;
use recert::sim::{self, SimOptions};
use recert::store::Store;

fn latency() -> Duration {
    let ms = std::env::var("RECERT_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    Duration::from_millis(ms)
}

async fn run(size: Size, concurrency: usize) -> (u64, Duration, Duration) {
    let t_gen = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let sim = sim::start(SimOptions {
        size,
        seed: 1,
        latency: latency(),
        request_log: Some(log.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let text = sim.config_toml().replace(
        "key_env = \"RECERT_SIM_KEY\"\n",
        &format!("key_env = \"RECERT_SIM_KEY\"\nconcurrency = {concurrency}\n"),
    );
    let cfg = Config::parse(&text, Path::new("bench")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let key = Secret::new(sim::DEFAULT_KEY);
    let resolve = move |_: &SourceConfig| Ok(key.clone());
    eprintln!(
        "  (generated the {size:?} organisation in {:.2} s)",
        t_gen.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let report = recert::sync::sync(&cfg, &mut store, &resolve, false)
        .await
        .unwrap();
    let wall = t.elapsed();
    assert_eq!(report.failed(), 0, "{:?}", report.lines());
    let requests: u64 = report.sources.iter().map(|s| s.requests).sum();
    let by_requests = latency() * requests as u32 / concurrency as u32;
    // Cursor's usage report and audit log each allow 20 requests a minute and are read page
    // after page: past 20 pages that limit, not the request count, sets the floor (the
    // simulator enforces it, as Cursor does). Pages served, 429s excluded, from its request log.
    let served = std::fs::read_to_string(&log).unwrap();
    let pages = |suffix: &str| {
        served
            .lines()
            .filter_map(|l| serde_json::from_str::<sim::Served>(l).ok())
            .filter(|s| s.path.ends_with(suffix) && s.status == 200)
            .count() as u32
    };
    let (usage_pages, audit_pages) = (pages("/teams/daily-usage-data"), pages("/teams/audit-logs"));
    let per_minute = |pages: u32| Duration::from_secs(60) * (pages.saturating_sub(1) / 20);
    let by_rate = per_minute(usage_pages).max(per_minute(audit_pages));
    let floor = by_requests.max(by_rate);
    eprintln!(
        "  (floor by requests {:.2} s; by Cursor's 20 a minute over {usage_pages} usage pages and {audit_pages} audit pages {:.0} s)",
        by_requests.as_secs_f64(),
        by_rate.as_secs_f64()
    );
    eprintln!(
        "  (fetch {:.2} s, store {:.2} s)",
        report.fetch_elapsed.as_secs_f64(),
        (report.elapsed - report.fetch_elapsed).as_secs_f64()
    );
    sim.stop().await;
    (requests, wall, floor)
}

fn main() {
    let size = match std::env::var("RECERT_BENCH_SIZE").as_deref() {
        Ok("small") => Size::Small,
        Ok("medium") => Size::Medium,
        Ok("xl") => Size::Xl,
        _ => Size::Large,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let concurrency = std::env::var("RECERT_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(recert::connectors::http::Limits::default().concurrency);
    println!(
        "sync benchmark: {size:?} organisation, {} ms latency per request",
        latency().as_millis()
    );
    let (req, wall, floor) = rt.block_on(run(size, concurrency));
    println!(
        "concurrency {concurrency:>2}: {req} requests, wall {:.2} s, floor {:.2} s, wall/floor {:.2}",
        wall.as_secs_f64(),
        floor.as_secs_f64(),
        wall.as_secs_f64() / floor.as_secs_f64()
    );
    if std::env::var_os("RECERT_BENCH_SKIP_SERIAL").is_some() {
        return;
    }
    let (req1, wall1, floor1) = rt.block_on(run(size, 1));
    println!(
        "concurrency  1: {req1} requests, wall {:.2} s, floor {:.2} s, wall/floor {:.2}",
        wall1.as_secs_f64(),
        floor1.as_secs_f64(),
        wall1.as_secs_f64() / floor1.as_secs_f64()
    );
    println!(
        "speed-up at concurrency {concurrency}: {:.1}x (target ≥ 10x); wall within {:.2}x of the floor (target ≤ 1.5x)",
        wall1.as_secs_f64() / wall.as_secs_f64(),
        wall.as_secs_f64() / floor.as_secs_f64()
    );
}
