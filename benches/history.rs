//! Reading a snapshot's grants as the store's history grows. Snapshots share unchanged rows,
//! so every grant a sync changed stays behind as a closed version. This stores a snapshot of
//! `RECERT_BENCH_ROWS` grants (default 1,000,000), then re-syncs (`RECERT_BENCH_RESYNCS`,
//! default 4): the first changes half of the grants, each later one all of them (the half
//! changed before goes back, the other half changes), so 3,500,000 closed versions at the end,
//! what 350 daily syncs with 1% churn leave. After each it times two reads of the newest
//! snapshot's grants in one run: through the `grants` view (the read before
//! `grants_rows_live`) and with the store's
//! own statement (`store::grants_sql`). Both decode every row the same way. Median of 3.
//! Not a test: figures for BENCHMARKS.md.
//!
//!   cargo bench --bench history

use std::time::{Duration, Instant};

use recert::model::{Grant, SourceData};
use recert::store::{SourceResult, Store};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn grants(n: usize, round: usize) -> SourceData {
    let mut d = SourceData::default();
    for g in 0..n {
        // Each round changes the role of every other grant (the half `g % 2 == round % 2`).
        let changed = round > 0 && g % 2 == round % 2;
        d.grants.push(Grant {
            source: "openai".into(),
            provider: "openai".into(),
            principal_kind: "user".into(),
            principal_id: format!("user-{}", (g * 7919) % (n / 5).max(1)).into(),
            resource_id: format!("proj_{}", g / 100).into(),
            role: Some(if changed {
                format!("role-{round}").into()
            } else {
                "member".into()
            }),
            via: "direct".into(),
        });
    }
    d
}

fn store(s: &mut Store, n: usize, round: usize) {
    s.write_snapshot(
        1_800_000_000 + round as i64 * 86_400,
        &[SourceResult {
            source: "openai".into(),
            kind: "openai".into(),
            outcome: Ok(grants(n, round)),
            requests: 1,
            started_at: 0,
            finished_at: 0,
        }],
    )
    .unwrap();
}

/// Median of three reads of snapshot `sid`'s grants with `sql` (`?1` the snapshot).
fn read(c: &rusqlite::Connection, sql: &str, sid: i64) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let mut st = c.prepare(sql).unwrap();
        let rows: Vec<Grant> = st
            .query_map([sid], |r| {
                Ok(Grant {
                    source: r.get::<_, String>(1)?.into(),
                    provider: r.get::<_, String>(2)?.into(),
                    principal_kind: r.get::<_, String>(3)?.into(),
                    principal_id: r.get::<_, String>(4)?.into(),
                    resource_id: r.get::<_, String>(5)?.into(),
                    role: r.get::<_, Option<String>>(6)?.map(Into::into),
                    via: r.get::<_, String>(7)?.into(),
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        times.push(t.elapsed());
        n = rows.len();
    }
    times.sort();
    (times[1], n)
}

fn main() {
    let n = env("RECERT_BENCH_ROWS", 1_000_000);
    let resyncs = env("RECERT_BENCH_RESYNCS", 4);
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let (old, new) = (
        recert::store::grants_sql(false, false),
        recert::store::grants_sql(false, true),
    );
    println!("history: {n} grants; the first re-sync changes half of them, each later one all");
    for round in 0..=resyncs {
        let t = Instant::now();
        store(&mut s, n, round);
        let wrote = t.elapsed();
        let c = rusqlite::Connection::open(dir.path().join("recert.db")).unwrap();
        let sid: i64 = c
            .query_row("SELECT max(id) FROM snapshots", [], |r| r.get(0))
            .unwrap();
        let stored: i64 = c
            .query_row("SELECT count(*) FROM grants_rows", [], |r| r.get(0))
            .unwrap();
        let (a, na) = read(&c, &old, sid);
        let (b, nb) = read(&c, &new, sid);
        assert_eq!((na, nb), (n, n), "both reads give the whole snapshot");
        println!(
            "after {round} re-syncs ({stored} grant versions stored, this write {:.1} s): newest snapshot's grants through the view {} ms, with grants_rows_live {} ms, ratio {:.2}",
            wrote.as_secs_f64(),
            a.as_millis(),
            b.as_millis(),
            b.as_secs_f64() / a.as_secs_f64()
        );
        if round == resyncs {
            let (a, _) = read(&c, &old, 1);
            let (b, _) = read(&c, &new, 1);
            println!(
                "the first snapshot's grants (every row closed since): through the view {} ms, with grants_rows_live {} ms, ratio {:.2}",
                a.as_millis(),
                b.as_millis(),
                b.as_secs_f64() / a.as_secs_f64()
            );
        }
    }
}
