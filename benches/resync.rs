//! Daily re-sync benchmark: a whole sync of a simulated organisation, then a day later (one
//! day of new logins and usage, 1% of keys used, 1% of Cursor members active), a re-sync that
//! reads the windowed feeds only since the first. Prints both walls, their ratio, the re-sync's
//! floor (requests × latency ÷ concurrency, or Cursor's 20 a minute over the pages it read),
//! the store's bytes in use after each, and the snapshot rows each stored. Not a test: figures for BENCHMARKS.md.
//!
//!   cargo bench --bench resync                     # large, 20 ms
//!   RECERT_BENCH_SIZE=xl cargo bench --bench resync

use std::path::Path;
use std::time::{Duration, Instant};

use recert::config::{Config, SourceConfig};
use recert::secret::Secret;
use recert::sim::world::{OaiActor, Size};
use recert::sim::{self, SimOptions};
use recert::store::Store;

const LATENCY: Duration = Duration::from_millis(20);

/// The store's bytes in use, and those of its digests: the write-ahead log checkpointed
/// into the file first, then its pages less the free ones (a file's length counts pages
/// freed and a log not yet folded in).
fn bytes(dir: &Path) -> (u64, u64) {
    let c = rusqlite::Connection::open(dir.join("recert.db")).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let get = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64;
    let used = (get("PRAGMA page_count") - get("PRAGMA freelist_count")) * get("PRAGMA page_size");
    (
        used,
        get("SELECT coalesce(sum(length(body)), 0) FROM snapshot_digests"),
    )
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
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let sim = sim::start(SimOptions {
            size,
            seed: 1,
            latency: LATENCY,
            request_log: Some(log.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
        let cfg = Config::parse(&sim.config_toml(), Path::new("bench")).unwrap();
        let store_dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(store_dir.path()).unwrap();
        let key = Secret::new(sim::DEFAULT_KEY);
        let resolve = move |_: &SourceConfig| Ok(key.clone());
        let pages = |from: usize| {
            let served: Vec<sim::Served> = std::fs::read_to_string(&log)
                .unwrap()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            let n = |suffix: &str| {
                served[from..]
                    .iter()
                    .filter(|s| s.path.ends_with(suffix) && s.status == 200)
                    .count() as u32
            };
            (
                served.len(),
                n("/teams/daily-usage-data"),
                n("/teams/audit-logs"),
            )
        };
        println!("re-sync benchmark: {size:?} organisation, 20 ms latency per request");
        let t = Instant::now();
        let full = recert::sync::sync(&cfg, &mut store, &resolve, false)
            .await
            .unwrap();
        let full_wall = t.elapsed();
        assert_eq!(full.failed(), 0, "{:?}", full.lines());
        let (full_bytes, full_digest) = bytes(store_dir.path());
        let full_rows = store.stored_rows().unwrap();
        let (seen, _, _) = pages(0);
        // A day's changes: logins, key use, Cursor activity, 1% of each.
        {
            let now = chrono::Utc::now().timestamp();
            let mut w = sim.state.world.write().unwrap();
            let users: Vec<(String, String)> = w
                .openai
                .users
                .values()
                .step_by(100)
                .map(|u| (u.id.clone(), u.email.clone()))
                .collect();
            for (user_id, email) in users {
                let actor = OaiActor::Session { user_id, email };
                w.openai.log("login.succeeded", actor, None, None, now);
            }
            for k in w
                .openai
                .api_keys
                .values_mut()
                .flat_map(|m| m.values_mut())
                .step_by(100)
            {
                k.last_used_at = Some(now);
            }
            for m in w.cursor.members.iter_mut().step_by(100) {
                m.last_active = Some(now);
            }
        }
        // A day later: Cursor's per-minute budget, spent by the whole read, is whole again.
        tokio::time::sleep(Duration::from_secs(61)).await;
        let t = Instant::now();
        let again = recert::sync::sync(&cfg, &mut store, &resolve, false)
            .await
            .unwrap();
        let again_wall = t.elapsed();
        assert_eq!(again.failed(), 0, "{:?}", again.lines());
        let (now_bytes, now_digest) = bytes(store_dir.path());
        let growth = now_bytes.saturating_sub(full_bytes);
        let new_rows = store.stored_rows().unwrap() - full_rows;
        let (_, usage, audit) = pages(seen);
        let requests: u64 = again.sources.iter().map(|s| s.requests).sum();
        let concurrency = recert::connectors::http::Limits::default().concurrency as u32;
        let by_requests = LATENCY * requests as u32 / concurrency;
        let per_minute = |pages: u32| Duration::from_secs(60) * (pages.saturating_sub(1) / 20);
        let floor = by_requests.max(per_minute(usage)).max(per_minute(audit));
        let full_requests: u64 = full.sources.iter().map(|s| s.requests).sum();
        for (what, run) in [("full sync", &full), ("re-sync", &again)] {
            println!("{what}, per source: {}", run.lines().join("; "));
        }
        println!(
            "full sync: {full_requests} requests, wall {:.2} s; store {} bytes in use ({} of them its digest)",
            full_wall.as_secs_f64(),
            full_bytes,
            full_digest
        );
        println!(
            "re-sync:   {requests} requests ({usage} usage pages, {audit} audit pages), wall {:.2} s, floor {:.2} s, wall/floor {:.2}; store grew {} bytes ({} of them its digest)",
            again_wall.as_secs_f64(),
            floor.as_secs_f64(),
            again_wall.as_secs_f64() / floor.as_secs_f64(),
            growth,
            now_digest - full_digest
        );
        println!(
            "snapshot rows stored: full sync {full_rows}, re-sync {new_rows} more ({:.4} of the full sync's)",
            new_rows as f64 / full_rows as f64
        );
        println!(
            "re-sync / full: wall {:.3} (target ≤ 0.10), store growth {:.3} of the full snapshot (target ≤ 0.05)",
            again_wall.as_secs_f64() / full_wall.as_secs_f64(),
            growth as f64 / full_bytes as f64
        );
        sim.stop().await;
    });
}
