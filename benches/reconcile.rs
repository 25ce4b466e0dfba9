//! Reconcile 1,000,000 grants against 200,000 directory people from an in-memory snapshot, and
//! in the same run the same join (grant → account → person by email, with the person's standing)
//! as SQL in SQLite over the same data. Prints times, the ratio, and peak memory.
//!
//!   cargo bench --bench reconcile            # RECERT_BENCH_GRANTS, RECERT_BENCH_PEOPLE to change sizes

use std::time::Instant;

use recert::model::{Account, Grant, Person, SourceData};
use recert::reconcile::{Context, reconcile};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn data(people: usize, grants: usize) -> SourceData {
    let mut d = SourceData::default();
    for i in 0..people {
        d.people.push(Person {
            source: "dir".into(),
            id: format!("p{i}"),
            user_name: format!("person{i}@example.com"),
            emails: vec![format!("person{i}@example.com")],
            display_name: None,
            active: i % 25 != 0,
            absent: false,
            external_id: None,
            department: None,
            manager_id: None,
            title: None,
            groups: vec![],
            groups_known: true,
            employee_type: None,
            signals: Default::default(),
        });
    }
    // Three in four people have an account; a few accounts belong to nobody.
    let accounts = people * 3 / 4;
    for i in 0..accounts {
        let email = if i % 100 == 99 {
            format!("stranger{i}@other.example")
        } else {
            format!("Person{}@Example.com", i * 4 / 3)
        };
        d.accounts.push(Account {
            source: "openai".into(),
            provider: "openai".into(),
            id: format!("user-{i}"),
            email: Some(email),
            name: None,
            role: Some("reader".into()),
            added_at: None,
            last_active_at: None,
            scim_managed: None,
            activity_from: None,
        });
    }
    for g in 0..grants {
        d.grants.push(Grant {
            source: "openai".into(),
            provider: "openai".into(),
            principal_kind: "user".into(),
            principal_id: format!("user-{}", (g * 7919) % accounts).into(),
            resource_id: format!("proj_{}", g / 100).into(),
            role: Some(if g % 10 == 0 { "owner" } else { "member" }.into()),
            via: "direct".into(),
        });
    }
    d
}

fn sql_join(d: &SourceData) -> (usize, std::time::Duration, std::time::Duration) {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE people (email TEXT, active INTEGER);
         CREATE TABLE accounts (id TEXT PRIMARY KEY, email TEXT);
         CREATE TABLE grants (principal_id TEXT, resource_id TEXT, role TEXT);",
    )
    .unwrap();
    let t = Instant::now();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut p = tx
            .prepare("INSERT INTO people VALUES (lower(?1), ?2)")
            .unwrap();
        for x in &d.people {
            p.execute(rusqlite::params![x.user_name, x.active]).unwrap();
        }
        let mut a = tx
            .prepare("INSERT INTO accounts VALUES (?1, lower(?2))")
            .unwrap();
        for x in &d.accounts {
            a.execute(rusqlite::params![x.id, x.email]).unwrap();
        }
        let mut g = tx
            .prepare("INSERT INTO grants VALUES (?1, ?2, ?3)")
            .unwrap();
        for x in &d.grants {
            g.execute(rusqlite::params![
                x.principal_id.as_str(),
                x.resource_id.as_str(),
                x.role.as_deref()
            ])
            .unwrap();
        }
    }
    tx.execute_batch("CREATE INDEX people_email ON people(email);")
        .unwrap();
    tx.commit().unwrap();
    let load = t.elapsed();
    let t = Instant::now();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM (
               SELECT g.resource_id, g.principal_id, g.role, a.email,
                      CASE WHEN p.email IS NULL THEN 'unknown' WHEN p.active THEN 'current' ELSE 'inactive' END
               FROM grants g JOIN accounts a ON a.id = g.principal_id
               LEFT JOIN people p ON p.email = a.email)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (n as usize, load, t.elapsed())
}

fn main() {
    let people = env("RECERT_BENCH_PEOPLE", 200_000);
    let grants = env("RECERT_BENCH_GRANTS", 1_000_000);
    let d = data(people, grants);
    let before = peak_rss_mb();
    let cx = Context::at(1_800_000_000);
    let mut times = Vec::new();
    let mut findings = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let f = reconcile(&d, &cx);
        times.push(t.elapsed().as_secs_f64());
        findings = f.len();
    }
    let first = times[0];
    times.sort_by(f64::total_cmp);
    let (best, median) = (times[0], times[2]);
    let peak = peak_rss_mb();
    println!(
        "reconcile: {grants} grants, {people} people, {} accounts -> {findings} findings",
        d.accounts.len()
    );
    println!(
        "  recert (in memory): best of 5 {best:.3} s, median {median:.3} s, first {first:.3} s (target <= 0.5 s); peak RSS {peak:.0} MB (data alone {before:.0} MB; target < 1024 MB)"
    );
    // A sync reads every object a provider sent through the redactor before it is stored
    // (`sync::scrub_secrets`): its cost over the same data, an admin key known, beside
    // reconcile's median in the same run.
    let _key = recert::secret::Secret::new("sk-admin-Zq8vK2mN5pL7xR3tY6wB9cD1fG4hJ0sAq8vK2mN5pL");
    let objects = d.people.len() + d.accounts.len() + d.grants.len() + d.credentials.len();
    let mut copy = d.clone();
    let t = Instant::now();
    let said = recert::sync::scrub_secrets("bench", &mut copy);
    let scrub = t.elapsed().as_secs_f64();
    println!(
        "  sync's secret scrub, same data: {scrub:.3} s for {objects} objects ({:.2} us each; {}); scrub / reconcile median = {:.2}",
        scrub * 1e6 / objects as f64,
        said.as_deref().unwrap_or("nothing held a secret"),
        scrub / median
    );
    if std::env::var_os("RECERT_BENCH_SKIP_SQL").is_some() {
        return;
    }
    let (rows, load, join) = sql_join(&d);
    println!(
        "  SQLite, same join: {rows} rows in {:.3} s (+ {:.2} s to load and index); recert / SQL = {:.2}",
        join.as_secs_f64(),
        load.as_secs_f64(),
        best / join.as_secs_f64()
    );
}
