//! The console on a million rows: frame time, filter keystroke time (recert's compact matcher
//! and fuzzy-matcher's skim, in the same run), sort time, key-to-screen latency while a filter
//! job keeps both cores busy, and time to the first frame and to the first frame with data
//! from a stored snapshot of that size, held in SQLite and (with a test server,
//! `RECERT_TEST_DATABASE_URL`) in PostgreSQL in the same run. Prints figures; it is not a test.
//!
//!   cargo bench --bench console             # RECERT_BENCH_ROWS (default 1,000,000)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use recert::model::{Account, Finding, Grant, Person, Severity, Snapshot, SourceData};
use recert::store::testkit::TestDb;
use recert::store::{SourceResult, Store};
use recert::tui::data::{Data, ViewId};
use recert::tui::keymap::Keymap;
use recert::tui::query;
use recert::tui::state::{Msg, State, update};
use recert::tui::table;
use recert::tui::theme::Theme;
use recert::tui::view;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn findings(n: usize) -> Vec<Finding> {
    const RULES: [(&str, Severity); 4] = [
        ("scim-uncovered-grant", Severity::Info),
        ("orphaned-key", Severity::Critical),
        ("dormant-key", Severity::Medium),
        ("privileged-drift", Severity::High),
    ];
    const FIRST: [&str; 8] = [
        "alice", "bob", "carol", "dmitri", "elif", "farah", "goran", "hana",
    ];
    const LAST: [&str; 6] = ["smith", "rossi", "tanaka", "okafor", "novak", "silva"];
    (0..n)
        .map(|i| {
            let (rule, severity) = RULES[i % 4];
            let email = format!(
                "{}.{}{}@example.com",
                FIRST[i % 8],
                LAST[(i / 8) % 6],
                i / 48
            );
            Finding {
                rule: rule.into(),
                severity,
                provider: ["openai", "anthropic", "cursor"][i % 3].into(),
                source: "openai".into(),
                subject_kind: "grant".into(),
                subject_id: format!("proj_{}/user-{i}", i / 100).into(),
                subject_email: Some(email.into()),
                detail: format!("user is member of Project {} via direct", i / 100),
            }
        })
        .collect()
}

fn run(s: &mut State, msg: Msg) {
    let mut queue = vec![msg];
    while let Some(m) = queue.pop() {
        for e in update(s, m) {
            if let Some(answer) = e.answer_here() {
                queue.push(answer);
            }
        }
    }
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn stored_snapshot(store: &mut Store, people: usize, grants: usize) {
    let mut d = SourceData::default();
    for i in 0..people {
        d.people.push(Person {
            source: "dir".into(),
            id: format!("p{i}"),
            user_name: format!("person{i}@example.com"),
            emails: vec![format!("person{i}@example.com")],
            display_name: Some(format!("Person {i}")),
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
    let accounts = people * 3 / 4;
    let mut oa = SourceData::default();
    for i in 0..accounts {
        oa.accounts.push(Account {
            source: "openai".into(),
            provider: "openai".into(),
            id: format!("user-{i}"),
            email: Some(format!("person{}@example.com", i * 4 / 3)),
            name: None,
            role: Some("reader".into()),
            added_at: None,
            last_active_at: None,
            scim_managed: None,
            activity_from: None,
        });
    }
    for g in 0..grants {
        oa.grants.push(Grant {
            source: "openai".into(),
            provider: "openai".into(),
            principal_kind: "user".into(),
            principal_id: format!("user-{}", (g * 7919) % accounts).into(),
            resource_id: format!("proj_{}", g / 100).into(),
            role: Some(if g % 10 == 0 { "owner" } else { "member" }.into()),
            via: "direct".into(),
        });
    }
    let r = |source: &str, kind: &str, data: SourceData| SourceResult {
        source: source.into(),
        kind: kind.into(),
        outcome: Ok(data),
        requests: 1,
        started_at: 0,
        finished_at: 0,
    };
    store
        .write_snapshot(
            chrono::Utc::now().timestamp(),
            &[r("dir", "scim", d), r("openai", "openai", oa)],
        )
        .unwrap();
}

fn main() {
    let n = env("RECERT_BENCH_ROWS", 1_000_000);
    let theme = Theme::load(None, false).unwrap();
    println!("console benchmark: {n} rows in the Gaps view");

    // `RECERT_BENCH_ONLY=start` measures only the start from a stored snapshot.
    if std::env::var("RECERT_BENCH_ONLY").as_deref() != Ok("start") {
        in_memory(n, &theme);
    }
    // Start from a stored snapshot of that size: 1M grants, 200k people, on each engine.
    let people = env("RECERT_BENCH_PEOPLE", 200_000);
    let lite = start_from("SQLite", &TestDb::sqlite(), n, people, &theme);
    if recert::store::testkit::server().is_none() {
        println!(
            "PostgreSQL: no server (RECERT_TEST_DATABASE_URL; source scripts/pg-test-cluster), not measured"
        );
        return;
    }
    let pg = start_from("PostgreSQL", &TestDb::postgres(), n, people, &theme);
    println!(
        "PostgreSQL / SQLite, same run: first frame with data {:.2}x, every view complete {:.2}x, read the snapshot {:.2}x",
        pg.0.as_secs_f64() / lite.0.as_secs_f64(),
        pg.1.as_secs_f64() / lite.1.as_secs_f64(),
        pg.2.as_secs_f64() / lite.2.as_secs_f64()
    );
}

/// Store a snapshot of `n` grants and `people` people in `db`, then start the console on it as
/// the binary does. Returns (first frame with data, every view complete, snapshot read).
fn start_from(
    label: &str,
    db: &TestDb,
    n: usize,
    people: usize,
    theme: &Theme,
) -> (Duration, Duration, Duration) {
    println!("-- {label}");
    let t = Instant::now();
    stored_snapshot(&mut db.open(), people, n);
    println!(
        "(setup: stored a snapshot of {n} grants and {people} people in {:.1} s)",
        t.elapsed().as_secs_f64()
    );
    let cfg = recert::config::Config::default();
    // What a sync does after storing: judge the snapshot once and store its digest.
    let t = Instant::now();
    {
        let store = db.open();
        let id = store.latest_snapshot_id().unwrap().unwrap();
        recert::sync::store_digest(&store, &cfg.rules, id).unwrap();
    }
    println!(
        "(the sync's extra step: judge the snapshot and store its digest, {:.1} s)",
        t.elapsed().as_secs_f64()
    );
    // The console's start, as the binary runs it, `RECERT_BENCH_STARTS` times (default 5):
    // the figures are the medians.
    let starts = env("RECERT_BENCH_STARTS", 5).max(1);
    let runs: Vec<(Duration, Duration, Duration)> = (0..starts)
        .map(|k| start_once(db, &cfg, theme, k + 1 == starts))
        .collect();
    let med = |f: fn(&(Duration, Duration, Duration)) -> Duration| {
        let mut v: Vec<Duration> = runs.iter().map(f).collect();
        v.sort();
        v[v.len() / 2]
    };
    let (firsts, previews, wholes) = (med(|r| r.0), med(|r| r.1), med(|r| r.2));
    println!(
        "start, median of {starts}: first frame {}, first frame with data {}, every view complete {} (target 1.0 s, issue 20); each run's every view complete: {}",
        ms(firsts),
        ms(previews),
        ms(wholes),
        runs.iter().map(|r| ms(r.2)).collect::<Vec<_>>().join(", ")
    );
    // The same load without a digest, by phase: what the first start after an old recert's
    // sync costs, and where the time goes.
    let read = load_phases(db, &cfg, label);
    (previews, wholes, read)
}

/// One start of the console on the stored snapshot, as the binary runs it: a frame at once,
/// then the engine (its own thread and runtime) publishes the preview from the digest, then
/// the whole. Returns (first frame, first frame with data, every view complete).
fn start_once(
    db: &TestDb,
    cfg: &recert::config::Config,
    theme: &Theme,
    say: bool,
) -> (Duration, Duration, Duration) {
    let start = Instant::now();
    let mut s = State::new(
        Keymap::default_map(),
        "bench".into(),
        chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
    );
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    run(&mut s, view::resized(120, 40));
    term.draw(|f| view::draw(f, &s, theme)).unwrap();
    let first = start.elapsed();
    let (tx, events) = std::sync::mpsc::channel();
    let engine = recert::engine::Engine::start(
        recert::engine::Setup {
            store: db.location(),
            config: cfg.clone(),
            keys: None,
            reviewer: "bench@example.com".into(),
            campaign: None,
            read_only: false,
            clock: Arc::new(|| 0),
        },
        recert::tui::Console,
        Arc::new(move |e| {
            let _ = tx.send(e);
        }),
    )
    .unwrap();
    engine.send(recert::engine::Command::Load { preview: true });
    let (mut previewed, mut preview_rows, mut rows) = (None, 0, 0);
    // When the engine had the whole judged and built, and what the console took after.
    let (mut published, mut taken) = (Duration::ZERO, Duration::ZERO);
    while let Ok(e) = events.recv() {
        match e {
            recert::engine::Event::Published(recert::engine::Bulk::Data, _) => {
                let d = engine.data.latest().1.unwrap();
                let whole = d.partial.is_none();
                rows = d.findings.len();
                let t = Instant::now();
                if whole {
                    published = start.elapsed();
                }
                run(&mut s, Msg::Data(d));
                term.draw(|f| view::draw(f, &s, theme)).unwrap();
                if whole {
                    taken = t.elapsed();
                    break;
                }
                preview_rows = s.vs().visible.len();
                previewed = Some(start.elapsed());
            }
            recert::engine::Event::LoadFailed(why) => panic!("{why}"),
            _ => {}
        }
    }
    let with_all = start.elapsed();
    drop(engine);
    if say {
        println!(
            "start from the stored snapshot: first frame {} (target 0.5 s); first frame with data (the stored digest: dashboard, first {preview_rows} of {rows} findings) {} (target 0.5 s); every view complete {} (the engine's whole published at {}, then the console took it and drew in {})",
            ms(first),
            previewed
                .map(ms)
                .unwrap_or_else(|| "NONE (no digest)".into()),
            ms(with_all),
            ms(published),
            ms(taken)
        );
    }
    (first, previewed.unwrap_or(with_all), with_all)
}

/// The load without a digest, phase by phase. Returns the snapshot read's time.
fn load_phases(db: &TestDb, cfg: &recert::config::Config, label: &str) -> Duration {
    let t = Instant::now();
    let snap = db.open().latest_snapshot().unwrap().unwrap();
    let read = t.elapsed();
    let t = Instant::now();
    let found = recert::engine::load::findings(cfg, &snap);
    let judged = t.elapsed();
    let t = Instant::now();
    let digest = recert::reconcile::digest::Digest::new(&snap.data, &found, snap.taken_at);
    let digested = t.elapsed();
    drop(digest);
    let t = Instant::now();
    let cx = recert::reconcile::Context {
        now: snap.taken_at,
        rules: cfg.rules.clone(),
        owners: Default::default(),
    };
    let data = Data::new(snap, found, cx);
    let built = t.elapsed();
    // People's detail pane asks for the person's sweep on every frame it draws.
    let mut asks = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        std::hint::black_box(data.sweep(1).ok());
        asks.push(t.elapsed());
    }
    println!(
        "People's detail: one person's sweep, first ask {} (every frame paid this before it was kept), later asks median {}",
        ms(asks[0]),
        ms(pct(asks[1..].to_vec(), 0.5))
    );
    drop(data);
    println!(
        "  the whole load: read the snapshot from {label} {}, reconcile {}, digest {}, build the view tables {}",
        ms(read),
        ms(judged),
        ms(digested),
        ms(built)
    );
    read
}

/// The Gaps view on `n` findings in memory: frames, filters, sorts, key-to-screen.
fn in_memory(n: usize, theme: &Theme) {
    let t = Instant::now();
    let data = Data::new(Snapshot::default(), findings(n), Default::default());
    let build = t.elapsed();
    println!("build the view tables: {}", ms(build));
    let mut s = State::new(
        Keymap::default_map(),
        "bench".into(),
        chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
    );
    run(&mut s, view::resized(120, 40));
    let t = Instant::now();
    run(&mut s, Msg::Data(Arc::new(data)));
    println!(
        "first refine (no filter, no sort) over all views: {}",
        ms(t.elapsed())
    );

    // Frame time: page through the million rows, drawing each frame.
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        run(&mut s, view::resized(w, h));
        let mut times = Vec::new();
        for i in 0..300 {
            run(
                &mut s,
                key(if i % 50 == 49 {
                    KeyCode::End
                } else {
                    KeyCode::PageDown
                }),
            );
            let t = Instant::now();
            term.draw(|f| view::draw(f, &s, theme)).unwrap();
            times.push(t.elapsed());
        }
        println!(
            "draw a frame {w}x{h}: median {}, p99 {} (target 5 ms)",
            ms(pct(times.clone(), 0.5)),
            ms(pct(times, 0.99))
        );
    }

    // Filter keystrokes: each prefix of a fuzzy term, then column terms.
    let tbl = s.view_state(ViewId::Gaps).table.clone();
    let order: Vec<u32> = (0..tbl.rows.len() as u32).collect();
    let mut compact_total = Vec::new();
    let mut skim_total = Vec::new();
    for typed in [
        "e",
        "el",
        "eli",
        "elif",
        "elif.r",
        "elif.rossi",
        "elif.rossi1",
        "provider:cursor",
        "sev:crit orphan",
        "elif rossi 12",
    ] {
        let q = query::parse(typed, &tbl.columns).unwrap();
        let t = Instant::now();
        let a = query::filter(&tbl, &order, &q);
        let ca = t.elapsed();
        let t = Instant::now();
        let b = query::filter_skim(&tbl, &order, &q);
        let cb = t.elapsed();
        println!(
            "filter /{typed:<18} {:>8} rows   recert compact {:>10}   fuzzy-matcher skim {:>10} ({} rows)",
            a.len(),
            ms(ca),
            ms(cb),
            b.len()
        );
        compact_total.push(ca);
        skim_total.push(cb);
    }
    println!(
        "filter keystroke, worst of the above: compact {} · skim {} (target 100 ms)",
        ms(*compact_total.iter().max().unwrap()),
        ms(*skim_total.iter().max().unwrap())
    );
    // `decision:none` with 1,000 standing decisions: the UI thread finds the decided rows,
    // then the filter runs as any other.
    {
        let dir = tempfile::tempdir().unwrap();
        let mut store = recert::store::Store::open(dir.path()).unwrap();
        let items: Vec<recert::review::NewDecision> = (0..1000u32)
            .map(|k| {
                let item = (k as usize * 997 % tbl.rows.len()) as u32;
                let (target, label, rule) = s.data.target(ViewId::Gaps, item).unwrap();
                recert::review::NewDecision {
                    verdict: recert::review::Verdict::Certify,
                    target,
                    label,
                    rule,
                    owner: None,
                    until: None,
                    justification: Some("bench".into()),
                }
            })
            .collect();
        store
            .record_decisions(&items, "bench@example.com", None, 0)
            .unwrap();
        let review = recert::tui::data::Review::from_read(
            recert::engine::review::read(&store, None).unwrap(),
        );
        let t = Instant::now();
        let decided = recert::tui::state::decided_items(&s.data, &review, ViewId::Gaps, &tbl);
        let pass = t.elapsed();
        let mut q = query::parse("decision:none", &tbl.columns).unwrap();
        q.decided = Some(Arc::new(decided));
        let t = Instant::now();
        let rows = query::filter(&tbl, &order, &q);
        println!(
            "filter /decision:none with 1000 decisions: decided rows found {} and the filter {}, both on the worker ({} rows)",
            ms(pass),
            ms(t.elapsed()),
            rows.len()
        );
    }
    for col in [1usize, 2] {
        let t = Instant::now();
        let o = table::order(&tbl, Some(table::Sort { col, desc: false }));
        let fast = t.elapsed();
        // The same order the way it was taken before (whole cells compared in a parallel
        // merge sort), in the same run, for the ratio.
        let t = Instant::now();
        let mut before: Vec<u32> = (0..tbl.rows.len() as u32).collect();
        {
            use rayon::slice::ParallelSliceMut;
            let rows = &tbl.rows;
            before.par_sort_by(|&a, &b| {
                rows[a as usize]
                    .cell(col)
                    .cmp(rows[b as usize].cell(col))
                    .then(a.cmp(&b))
            });
        }
        let whole = t.elapsed();
        assert_eq!(o, before, "the two sorts disagree");
        println!(
            "sort by {}: {} (whole-text comparison sort, as before: {}, {:.2}x) ({} rows; target 150 ms)",
            tbl.columns[col].name,
            ms(fast),
            ms(whole),
            whole.as_secs_f64() / fast.as_secs_f64(),
            o.len()
        );
    }

    // Key-to-screen while filter jobs keep both cores busy (they run off the UI thread, as in
    // the driver): update + draw per key. Twice in one run: the filter jobs on an ordinary
    // pool, then on the background pool the binary runs bulk work on (`recert::compute`).
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    run(&mut s, view::resized(120, 40));
    for (label, pool) in [
        (
            "an ordinary pool",
            rayon::ThreadPoolBuilder::new().build().unwrap(),
        ),
        (
            "the background pool (recert::compute)",
            recert::compute::pool().unwrap(),
        ),
    ] {
        let busy = Arc::new(AtomicBool::new(true));
        let bg = {
            let busy = busy.clone();
            let tbl = tbl.clone();
            std::thread::spawn(move || {
                let q = query::parse("elif rossi", &tbl.columns).unwrap();
                let order: Vec<u32> = (0..tbl.rows.len() as u32).collect();
                let mut runs = 0;
                while busy.load(Ordering::Relaxed) {
                    std::hint::black_box(pool.install(|| query::filter(&tbl, &order, &q)));
                    runs += 1;
                }
                runs
            })
        };
        // Let the filter jobs start before the first key.
        std::thread::sleep(Duration::from_millis(50));
        let mut times = Vec::new();
        for i in 0..2000 {
            let t = Instant::now();
            run(
                &mut s,
                key(if i % 2 == 0 {
                    KeyCode::Char('j')
                } else {
                    KeyCode::Char('k')
                }),
            );
            term.draw(|f| view::draw(f, &s, theme)).unwrap();
            times.push(t.elapsed());
        }
        busy.store(false, Ordering::Relaxed);
        let runs = bg.join().unwrap();
        println!(
            "key to screen while filtering on {label} ({runs} filter jobs ran meanwhile): median {}, p99 {} (target 16 ms)",
            ms(pct(times.clone(), 0.5)),
            ms(pct(times, 0.99))
        );
    }
}
