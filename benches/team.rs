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

use recert::model::{Person, SourceData};
use recert::review::campaign::{Item, NewCampaign, OnClose, Routing, Scope};
use recert::review::{NewDecision, Target, Verdict};
use recert::secret::Secret;
use recert::store::SourceResult;
use recert::store::Store;
use recert::store::team::Member;
use recert::store::testkit::TestDb;

const PER_REVIEWER: usize = 200;
const PW: &str = "correct-horse-battery";

fn target(i: usize) -> Target {
    Target::new("openai", "openai", "project_key", &format!("k{i}"))
}

fn decision(i: usize) -> NewDecision {
    NewDecision {
        verdict: if i.is_multiple_of(2) {
            Verdict::Revoke
        } else {
            Verdict::Certify
        },
        target: target(i),
        label: format!("key k{i}"),
        rule: None,
        owner: None,
        until: None,
        justification: Some("bench".into()),
    }
}

/// A campaign of `PER_REVIEWER` items for each of `who`, in `s`: its id and snapshot.
fn campaign(s: &mut Store, who: &[String]) -> (i64, i64) {
    let people = who
        .iter()
        .enumerate()
        .map(|(i, e)| Person {
            source: "dir".into(),
            id: i.to_string(),
            user_name: e.clone(),
            emails: vec![e.clone()],
            display_name: None,
            active: true,
            absent: false,
            external_id: None,
            department: None,
            title: None,
            manager_id: None,
            groups: vec![],
            groups_known: true,
            employee_type: None,
        })
        .collect();
    let snap = s
        .write_snapshot(
            1,
            &[SourceResult {
                source: "dir".into(),
                kind: "scim".into(),
                outcome: Ok(SourceData {
                    people,
                    ..Default::default()
                }),
                requests: 1,
                started_at: 1,
                finished_at: 1,
            }],
        )
        .unwrap();
    let items: Vec<Item> = (0..who.len() * PER_REVIEWER)
        .map(|i| Item {
            seq: i as i64 + 1,
            target: target(i + 1),
            label: format!("key k{}", i + 1),
            person: None,
            resource_id: None,
            resource: None,
            role: None,
            via: None,
            rules: vec![],
            last_used: None,
            created_at: None,
            fingerprint: i.to_string(),
            reviewer: who[i % who.len()].clone(),
            routed_by: "bench".into(),
            recommendation: None,
            change: None,
            carried: None,
        })
        .collect();
    let (scope, routing) = (Scope::default(), Routing::default());
    let id = s
        .create_campaign(
            &NewCampaign {
                name: "bench",
                snapshot_id: snap,
                due: "2026-12-31",
                scope: &scope,
                routing: &routing,
                on_close: OnClose::NoChange,
                since: None,
            },
            &items,
            "owner",
            1,
        )
        .unwrap();
    (id, snap)
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
                            s.stage(id, &[(seq, Some(decision(seq as usize)))], 2)
                                .unwrap();
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
    let (id, snap) = campaign(&mut s, &me);
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
        let tag = db
            .url()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let mut admin = db.open();
        let who: Vec<String> = (0..n).map(|i| format!("r{i}.{tag}@x.com")).collect();
        let (id, snap) = campaign(&mut admin, &who);
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
