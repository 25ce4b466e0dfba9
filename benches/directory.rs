//! Directory read benchmark (issue: Okta and Entra): a directory of RECERT_BENCH_PEOPLE
//! people (default 200,000) in RECERT_BENCH_GROUPS groups (default 400, each person in two),
//! with three AI platforms' apps (each assigned to two groups and a quarter of the people
//! directly) and a push for every fiftieth person and app in the last 25 days (read over 30),
//! served by the simulator with RECERT_BENCH_LATENCY_MS added per request (default 20), read
//! through each directory connector (SCIM, Okta, Entra) over loopback HTTP at the default
//! concurrency. Prints requests, wall time, the floors and peak memory. Not a test.
//!
//!   cargo bench --bench directory
//!
//! Two floors bound a read: the requests at the latency spread over the concurrency, and the
//! longest chain of pages that must be read one after another (a cursor or next link names
//! the next page only once the page before it has arrived: the users list is such a chain).
//! The binding floor is the larger.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use recert::config::Config;
use recert::secret::Secret;
use recert::sim::world::{Directory, Idp, IdpApp, IdpPush, ScimGroup, ScimUser, World};
use recert::sim::{self, SimOptions};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory since the last reset, in MiB (Linux).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Reset the peak to the current resident size (Linux: `clear_refs` 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn world(people: u64, groups: u64, now: i64) -> World {
    let mut users = BTreeMap::new();
    for i in 0..people {
        let id = format!("{:08x}-0000-4000-8000-{:012x}", i, i);
        users.insert(
            id.clone(),
            ScimUser {
                id,
                user_name: format!("person{i}@example.com"),
                external_id: format!("E{i}"),
                given_name: format!("Given{i}"),
                family_name: format!("Family{i}"),
                active: i % 10 != 0,
                department: format!("dept-{}", i % 40),
                title: Some("Engineer".into()),
                manager_id: (i > 0)
                    .then(|| format!("{:08x}-0000-4000-8000-{:012x}", i / 10, i / 10)),
                employee_number: format!("{i}"),
                created: now - 86_400 * 400,
                last_modified: now - 86_400,
                extra_emails: Vec::new(),
            },
        );
    }
    let ids: Vec<String> = users.keys().cloned().collect();
    let mut gs = BTreeMap::new();
    for g in 0..groups {
        let id = format!("g{g:06}");
        let members = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u64 % groups == g || (*i as u64 + 7) % groups == g)
            .map(|(_, id)| id.clone())
            .collect();
        gs.insert(
            id.clone(),
            ScimGroup {
                id,
                display_name: format!("group-{g}"),
                members,
            },
        );
    }
    // Each AI platform's app: two groups and every fourth person directly; a push for every
    // fiftieth person in the last 25 days; everyone's last sign-in; a few leave dates.
    let mut idp = Idp::default();
    for (n, source) in ["openai", "anthropic", "cursor"].into_iter().enumerate() {
        let app = IdpApp {
            okta_id: format!("0oabench{n}"),
            entra_id: format!("5e7c0a11-0000-4000-8000-{n:012x}"),
            name: source.to_string(),
            groups: [format!("g{:06}", n), format!("g{:06}", n + 3)].into(),
            direct: ids.iter().skip(n).step_by(4).cloned().collect(),
        };
        idp.apps.insert(source.to_string(), app);
        for (i, id) in ids.iter().enumerate().skip(n).step_by(50) {
            idp.pushes.push(IdpPush {
                user_id: id.clone(),
                app_source: source.to_string(),
                at: now - 86_400 * (1 + (i as i64 % 25)),
                deprovision: i % 3 == 0,
                ok: i % 7 != 0,
                reason: None,
            });
        }
    }
    for (i, id) in ids.iter().enumerate() {
        idp.last_sign_in
            .insert(id.clone(), now - 86_400 * (i as i64 % 200));
        if i % 100 == 5 {
            idp.leave_at.insert(id.clone(), now + 86_400 * 10);
        }
    }
    World {
        now,
        directory: Directory { users, groups: gs },
        idp,
        ..Default::default()
    }
}

#[tokio::main]
async fn main() {
    let people = env("RECERT_BENCH_PEOPLE", 200_000);
    let groups = env("RECERT_BENCH_GROUPS", 400);
    let latency = Duration::from_millis(env("RECERT_BENCH_LATENCY_MS", 20));
    let now = chrono::Utc::now().timestamp();
    let t = Instant::now();
    let w = world(people, groups, now);
    println!(
        "directory benchmark: {people} people in {groups} groups (each person in two), {} ms latency (built in {:.1} s)",
        latency.as_millis(),
        t.elapsed().as_secs_f64()
    );
    let running = sim::start_with(
        w,
        SimOptions {
            latency,
            okta_rate: (1_000_000, Duration::from_secs(60)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for (directory, chain_page) in [
        (sim::Directory::Scim, 1000u64),
        (sim::Directory::Okta, 200),
        (sim::Directory::Entra, 100),
    ] {
        let cfg = Config::parse(&running.config_toml_with(directory), Path::new("bench")).unwrap();
        let src = cfg.source(directory.source_name()).unwrap();
        let concurrency = src.concurrency.unwrap_or(16) as u64;
        let http = std::sync::Arc::new(recert::connectors::client(
            src,
            Secret::new(sim::DEFAULT_KEY),
        ));
        reset_peak();
        let before = peak_mib();
        let t = Instant::now();
        let d = recert::connectors::fetch(
            src,
            &http,
            &Default::default(),
            chrono::Utc::now().timestamp(),
        )
        .await
        .unwrap();
        let wall = t.elapsed();
        let peak = peak_mib();
        assert_eq!(d.people.len() as u64, people, "{directory:?}");
        if directory != sim::Directory::Scim {
            assert_eq!(d.apps.len(), 3, "{directory:?}");
            assert!(
                d.apps.iter().all(|a| a.assignments_known && a.pushes_known),
                "{directory:?}: every app read"
            );
        }
        let requests = http.requests();
        let spread = latency * requests as u32 / concurrency as u32;
        // The users list, page after page (the group member lists and the apps' lists run
        // beside it, each a shorter chain).
        let chain = latency * people.div_ceil(chain_page) as u32;
        let floor = spread.max(chain);
        println!(
            "{:<6} {:>6} requests  wall {:>7.2} s  floors: spread {:>6.2} s, chain {:>6.2} s  → {:.2}× the floor  peak RSS {:.0} MiB (+{:.0} over the start)",
            format!("{directory:?}").to_lowercase(),
            requests,
            wall.as_secs_f64(),
            spread.as_secs_f64(),
            chain.as_secs_f64(),
            wall.as_secs_f64() / floor.as_secs_f64(),
            peak,
            peak - before
        );
    }
    running.stop().await;
}
