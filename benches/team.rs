//! Team mode: decisions per second and each decision's latency (p50, p99) with 1, 10 and 50
//! reviewers deciding at once on PostgreSQL, each logged in as their own role, with SQLite's
//! single reviewer beside them in the same run. A decision here is what a reviewer's `c` and
//! `:submit` of one campaign item do: stage it, then submit it (the decision, the item marked
//! and the audit entry, committed), under the database's own checks. Prints the figures for
//! BENCHMARKS.md; not a test.
//!
//!   source scripts/pg-test-cluster && cargo bench --bench team
//!
//! Without a server (RECERT_TEST_DATABASE_URL) it measures SQLite only and says so.

use std::time::{Duration, Instant};

use recert::review::campaign::OnClose;
use recert::review::{NewDecision, Verdict};
use recert::secret::Secret;
use recert::store::Store;
use recert::store::team::Member;
use recert::store::testkit::{TestDb, campaign, decision, directory, item, person};

const PER_REVIEWER: usize = 200;
const PW: &str = "correct-horse-battery";

fn bench_decision(i: i64) -> NewDecision {
    let verdict = if i % 2 == 0 {
        Verdict::Revoke
    } else {
        Verdict::Certify
    };
    decision(i, verdict, "bench")
}

/// A campaign of `PER_REVIEWER` items for each of `who`, in `s`: its id and snapshot.
fn bench_campaign(s: &mut Store, who: &[String]) -> (i64, i64) {
    let people = who
        .iter()
        .enumerate()
        .map(|(i, e)| person(&i.to_string(), e, &[]))
        .collect();
    let snap = directory(s, people);
    let items: Vec<_> = (0..who.len() * PER_REVIEWER)
        .map(|i| item(i as i64 + 1, &who[i % who.len()]))
        .collect();
    (campaign(s, "bench", snap, &items, OnClose::NoChange), snap)
}

/// Each of `stores` decides its `PER_REVIEWER` items one at a time, all at once: (decisions
/// per second, p50, p99).
fn run(stores: Vec<(String, Store)>, id: i64, snap: i64) -> (f64, Duration, Duration) {
    let t = Instant::now();
    let mut lat: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .into_iter()
            .map(|(who, mut s)| {
                scope.spawn(move || {
                    let mine: Vec<i64> = s
                        .queue_items(id, std::slice::from_ref(&who))
                        .unwrap()
                        .iter()
                        .map(|c| c.item.seq)
                        .collect();
                    mine.into_iter()
                        .map(|seq| {
                            let t = Instant::now();
                            s.stage(id, &[(seq, Some(bench_decision(seq)))], 2).unwrap();
                            s.submit(id, &[seq], &who, snap, 2).unwrap();
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = t.elapsed();
    lat.sort();
    let q = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    (lat.len() as f64 / wall.as_secs_f64(), q(0.50), q(0.99))
}

fn line(what: &str, (rate, p50, p99): (f64, Duration, Duration)) {
    println!(
        "{what:<34} {rate:>8.0} decisions/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

fn main() {
    let lite = TestDb::sqlite();
    let mut s = lite.open();
    let me = vec!["r0@x.com".to_string()];
    let (id, snap) = bench_campaign(&mut s, &me);
    line(
        "SQLite, 1 reviewer",
        run(vec![(me[0].clone(), s)], id, snap),
    );
    if recert::store::testkit::server().is_none() {
        println!("PostgreSQL: no server (source scripts/pg-test-cluster), not measured");
        return;
    }
    for n in [1, 10, 50] {
        let db = TestDb::postgres();
        let tag = db.tag();
        let mut admin = db.open();
        let who: Vec<String> = (0..n).map(|i| format!("r{i}.{tag}@x.com")).collect();
        let (id, snap) = bench_campaign(&mut admin, &who);
        admin.team_init().unwrap();
        for w in &who {
            admin
                .add_member(w, &Secret::new(PW), Member::Reviewer { owner: false }, 1)
                .unwrap();
        }
        let stores = who
            .iter()
            .map(|w| {
                let t = recert::store::Target::parse(&db.url_as(w, PW).unwrap()).unwrap();
                (w.clone(), Store::connect(&t).unwrap())
            })
            .collect();
        line(
            &format!("PostgreSQL, {n} reviewer(s) at once"),
            run(stores, id, snap),
        );
        let (entries, verdict) = admin.verify_audit(None).unwrap();
        assert_eq!(verdict, Ok(entries.len()));
        assert_eq!(admin.decisions().unwrap().len(), n * PER_REVIEWER);
    }
}
