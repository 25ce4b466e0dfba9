//! The engine as a front end drives it (`recert::engine::Engine`): commands in, events out,
//! bulk data read from its published slots; against the simulator in its own process, with its
//! request log as the independent record of what reached the providers.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use recert::config::Config;
use recert::engine::load::{Judged, Preview};
use recert::engine::review::ReadModel;
use recert::engine::{Bulk, Command, Engine, Event, Front, Setup};
use recert::remediate::RowState;
use recert::review::{NewDecision, Target, Verdict};
use recert::secret::Secret;
use recert::store::Store;

mod common;
use common::process::Env;

const NOW: i64 = 1_795_000_000;

/// A front end that keeps what the engine judged as plain facts, and a record of every data
/// value it was asked to build (`true` for a preview).
#[derive(Clone, Default)]
struct Plain(Arc<std::sync::Mutex<Vec<bool>>>);

impl Front for Plain {
    /// The snapshot id, the number of findings, and whether it is the preview.
    type Data = (i64, usize, bool);
    type Review = ReadModel;
    fn preview(&self, p: Preview) -> Self::Data {
        self.0.lock().unwrap().push(true);
        (p.head.id, p.digest.total as usize, true)
    }
    fn data(&self, j: Judged) -> Self::Data {
        self.0.lock().unwrap().push(false);
        (j.snapshot.id, j.findings.len(), false)
    }
    fn review(&self, r: ReadModel) -> ReadModel {
        r
    }
}

fn start(e: &Env, reviewer: &str) -> (Engine<Plain>, Receiver<Event>) {
    start_with(e, reviewer, false)
}

fn start_with(e: &Env, reviewer: &str, read_only: bool) -> (Engine<Plain>, Receiver<Event>) {
    start_front(e, reviewer, read_only, Plain::default())
}

fn start_front(
    e: &Env,
    reviewer: &str,
    read_only: bool,
    front: Plain,
) -> (Engine<Plain>, Receiver<Event>) {
    let text = std::fs::read_to_string(e.dir.path().join("cfg.toml")).unwrap();
    let config = Config::parse(&text, std::path::Path::new("cfg.toml")).unwrap();
    let (tx, rx) = channel();
    let engine = Engine::start(
        Setup {
            store: e.data().into(),
            config,
            keys: Some(Arc::new(|_| Ok(Secret::new(recert::sim::DEFAULT_KEY)))),
            reviewer: reviewer.into(),
            campaign: None,
            read_only,
            clock: Arc::new(|| NOW),
        },
        front,
        Arc::new(move |ev| {
            let _ = tx.send(ev);
        }),
    )
    .unwrap();
    (engine, rx)
}

/// The events up to and including the first that `done` accepts (fails after a minute).
fn until(rx: &Receiver<Event>, done: impl Fn(&Event) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no such event in a minute; saw {seen:?}"));
        let last = done(&ev);
        seen.push(ev);
        if last {
            return seen;
        }
    }
}

/// Load the latest snapshot and wait for it whole.
fn loaded(engine: &Engine<Plain>, rx: &Receiver<Event>) {
    engine.send(Command::Load { preview: true });
    until(rx, |ev| {
        matches!(ev, Event::Published(Bulk::Data, _))
            && engine.data.latest().1.is_some_and(|d| !d.2)
    });
}

fn revokes(e: &Env, n: usize) -> Vec<NewDecision> {
    let snap = e.snapshot();
    snap.data
        .accounts
        .iter()
        .filter(|a| a.provider == "openai" && a.role.as_deref() != Some("owner"))
        .take(n)
        .map(|a| NewDecision {
            verdict: Verdict::Revoke,
            target: Target::new("openai", "openai", "account", &a.id),
            label: a.id.clone(),
            rule: Some("leaver-with-access".into()),
            owner: None,
            until: None,
            justification: Some("incident 42".into()),
        })
        .collect()
}

#[test]
fn the_engine_judges_records_undoes_and_publishes_what_it_read() {
    let e = Env::new("small", &[]);
    let (engine, rx) = start(&e, "rev@example.com");
    loaded(&engine, &rx);
    let snap = e.snapshot();
    let cfg_text = std::fs::read_to_string(e.dir.path().join("cfg.toml")).unwrap();
    let cfg = Config::parse(&cfg_text, std::path::Path::new("cfg.toml")).unwrap();
    let (_, found) = recert::engine::load::judged(&cfg, &e.data().into(), &snap).unwrap();
    let (generation, data) = engine.data.latest();
    assert!(generation >= 1);
    assert_eq!(*data.unwrap(), (snap.id, found.len(), false));
    assert!(!found.is_empty());

    let items = revokes(&e, 3);
    engine.send(Command::Record {
        items: items.clone(),
        snapshot: Some(snap.id),
    });
    let seen = until(&rx, |ev| matches!(ev, Event::Published(Bulk::Review, _)));
    let batch = seen
        .iter()
        .find_map(|ev| match ev {
            Event::Recorded {
                batch,
                count,
                verdict,
            } => {
                assert_eq!((*count, *verdict), (3, Verdict::Revoke));
                Some(*batch)
            }
            _ => None,
        })
        .expect("the engine said the decisions were recorded");
    let review = engine.review.latest().1.unwrap();
    assert_eq!(review.decisions.len(), 3);
    assert!(
        review
            .decisions
            .iter()
            .all(|d| d.reviewer == "rev@example.com"
                && d.made_at == NOW
                && d.snapshot_id == Some(snap.id))
    );
    assert_eq!(review.audit.last().unwrap().event, "decide");

    engine.send(Command::SetUndone {
        batch,
        undone: true,
    });
    until(&rx, |ev| matches!(ev, Event::Published(Bulk::Review, _)));
    let review = engine.review.latest().1.unwrap();
    assert!(review.decisions.iter().all(|d| d.undone));
    assert_eq!(review.audit.last().unwrap().event, "undo");
    // What the store holds, read by another handle.
    let stored = Store::open(e.data()).unwrap().decisions().unwrap();
    assert!(stored.len() == 3 && stored.iter().all(|d| d.undone));
}

/// The console's `:apply` (the engine's Apply command, with the steps the console plans) and
/// `recert apply` make the same journal and send the same calls for the same decisions.
#[test]
fn the_consoles_apply_and_recert_apply_make_the_same_journal() {
    let cli = Env::new("small", &[]);
    let console = Env::new("small", &[]);
    let items = revokes(&cli, 4);
    assert_eq!(items, revokes(&console, 4), "the two simulators agree");
    for e in [&cli, &console] {
        let snap = e.snapshot();
        Store::open(e.data())
            .unwrap()
            .record_decisions(&items, "responder@example.com", Some(snap.id), NOW)
            .unwrap();
    }

    let out = cli.run(&["apply", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (engine, rx) = start(&console, "responder@example.com");
    let snap = console.snapshot();
    let store = Store::open(console.data()).unwrap();
    let own = recert::engine::apply::own_keys(
        &recert::config::Config::parse(
            &std::fs::read_to_string(console.dir.path().join("cfg.toml")).unwrap(),
            std::path::Path::new("cfg.toml"),
        )
        .unwrap(),
        &|_| Ok(Secret::new(recert::sim::DEFAULT_KEY)),
        &snap.data,
    );
    let steps = recert::engine::apply::pending(
        &store.decisions().unwrap(),
        &store.all_journal().unwrap(),
        &snap,
        &own,
        Default::default(),
    );
    assert_eq!(recert::remediate::calls(&steps), 4);
    engine.send(Command::Apply {
        steps,
        known: 0,
        snapshot: Some(snap.id),
    });
    let seen = until(&rx, |ev| matches!(ev, Event::ApplyDone { .. }));
    match seen.last() {
        Some(Event::ApplyDone { ok, lines }) => assert!(*ok, "{lines:?}"),
        other => panic!("{other:?}"),
    }
    let progress: Vec<&recert::engine::session::ApplyProgress> = seen
        .iter()
        .filter_map(|ev| match ev {
            Event::ApplyProgress(p) => Some(p),
            _ => None,
        })
        .collect();
    // The plan named before its first call answers, then one event per call.
    assert_eq!(progress.len(), 5, "{progress:?}");
    assert!(progress[0].plan > 0 && progress[0].done == 0 && progress[0].total == 0);
    assert_eq!(progress[4].done, 4);
    assert!(progress.iter().all(|p| p.plan == progress[0].plan));

    let journal = |e: &Env| {
        Store::open(e.data())
            .unwrap()
            .all_journal()
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.plan,
                    r.seq,
                    r.decisions,
                    r.source,
                    r.method,
                    r.path,
                    r.body,
                    r.state,
                    r.status,
                )
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (journal(&cli), journal(&console));
    assert_eq!(a.len(), 4);
    assert!(a.iter().all(|r| r.7 == RowState::Done));
    assert_eq!(a, b);
    let sent = |e: &Env| {
        e.mutations()
            .into_iter()
            .map(|s| (s.method, s.path, s.status))
            .collect::<Vec<_>>()
    };
    let sent_cli = sent(&cli);
    assert_eq!(sent_cli.len(), 4, "each call once: {sent_cli:?}");
    let mut sent_console = sent(&console);
    let mut sent_cli = sent_cli;
    sent_cli.sort();
    sent_console.sort();
    assert_eq!(sent_cli, sent_console);
}

/// After `:sync` the new snapshot replaces the old one whole: no preview in between (a preview
/// holds only the first findings, and the marks and cursor of every other view were lost
/// against it).
#[test]
fn a_sync_publishes_the_new_snapshot_whole_without_a_preview() {
    let e = Env::new("small", &[]);
    let front = Plain::default();
    let (engine, rx) = start_front(&e, "rev@example.com", false, front.clone());
    loaded(&engine, &rx);
    let built_before = front.0.lock().unwrap().len();
    let before = engine.data.latest().1.unwrap().0;
    engine.send(Command::Sync);
    let seen = until(&rx, |ev| {
        matches!(ev, Event::Published(Bulk::Data, _))
            && engine.data.latest().1.is_some_and(|d| d.0 != before)
    });
    assert!(
        seen.iter()
            .any(|ev| matches!(ev, Event::SyncDone { ok: true, .. })),
        "{seen:?}"
    );
    let (_, data) = engine.data.latest();
    let data = data.unwrap();
    assert!(
        !data.2,
        "the first data after a sync is the whole snapshot, not a preview"
    );
    assert_eq!(
        front.0.lock().unwrap()[built_before..],
        [false],
        "one value built after the sync: the whole snapshot"
    );
    assert_eq!(data.0, e.snapshot().id);
    // Each source said when it finished, with what it read.
    let last = seen
        .iter()
        .rev()
        .find_map(|ev| match ev {
            Event::SyncProgress(p) => Some(p.clone()),
            _ => None,
        })
        .expect("progress was reported");
    assert_eq!(last.len(), 4, "{last:?}");
    assert!(
        last.iter()
            .all(|t| t.requests > 0 && matches!(t.done, Some(Ok(n)) if n > 0)),
        "{last:?}"
    );
}

/// A read-only engine refuses every change and says so in the answer the front end waits for
/// (so nothing waits forever), whatever the front end asked.
#[test]
fn a_read_only_engine_refuses_every_change() {
    let e = Env::new("small", &[]);
    let (engine, rx) = start_with(&e, "rev@example.com", true);
    let snap = e.snapshot();
    engine.send(Command::Record {
        items: revokes(&e, 1),
        snapshot: Some(snap.id),
    });
    let seen = until(&rx, |ev| matches!(ev, Event::NotRecorded(_)));
    assert!(format!("{seen:?}").contains("read-only"), "{seen:?}");
    engine.send(Command::Resume { plan: 1 });
    let seen = until(&rx, |ev| matches!(ev, Event::ApplyDone { .. }));
    assert!(matches!(
        seen.last(),
        Some(Event::ApplyDone { ok: false, .. })
    ));
    assert!(
        Store::open(e.data())
            .unwrap()
            .decisions()
            .unwrap()
            .is_empty()
    );
    assert!(e.mutations().is_empty(), "nothing reached a provider");
}

/// One plan is sent at a time: a second Apply or Resume while a run is out is refused, so no
/// call goes out twice (the store's lock cannot tell two runs of one process apart).
#[test]
fn a_second_run_while_one_is_out_is_refused() {
    let e = Env::new("small", &["--latency-ms", "150"]);
    let items = revokes(&e, 6);
    let snap = e.snapshot();
    let mut store = Store::open(e.data()).unwrap();
    store
        .record_decisions(&items, "responder@example.com", Some(snap.id), NOW)
        .unwrap();
    let steps = recert::engine::apply::pending(
        &store.decisions().unwrap(),
        &store.all_journal().unwrap(),
        &snap,
        &Default::default(),
        Default::default(),
    );
    let (engine, rx) = start(&e, "responder@example.com");
    engine.send(Command::Apply {
        steps,
        known: 0,
        snapshot: Some(snap.id),
    });
    let seen = until(&rx, |ev| matches!(ev, Event::ApplyProgress(_)));
    let plan = match seen.last() {
        Some(Event::ApplyProgress(p)) => p.plan,
        _ => unreachable!(),
    };
    engine.send(Command::Resume { plan });
    let seen = until(&rx, |ev| matches!(ev, Event::ApplyDone { .. }));
    assert!(
        seen.iter().any(
            |ev| matches!(ev, Event::Error(m) if m.contains(&format!("plan #{plan} is being sent")))
        ),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|ev| matches!(ev, Event::ApplyDone { .. }))
            .count(),
        1
    );
    let sent = e.mutations();
    assert_eq!(sent.len(), 6, "each call once: {sent:?}");
}

/// The console and `recert revoke` make the same incident decisions: a person's sweep (`x`,
/// `:sweep`) and `revoke --person` the same targets, labels and rule; `:leak` and
/// `revoke --key` the same decision for the same key (they were written twice and disagreed:
/// labels, and a rule only the console recorded).
#[test]
fn the_console_and_recert_revoke_make_the_same_incident_decisions() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use recert::tui::state::{Effect, Msg, State, update};
    let e = Env::new("small", &[]);
    let text = std::fs::read_to_string(e.dir.path().join("cfg.toml")).unwrap();
    let config = Config::parse(&text, std::path::Path::new("cfg.toml")).unwrap();
    let data = Arc::new(recert::tui::load(&config, e.data(), &|_| {}).unwrap());
    let d = &data.snapshot.data;
    let email = common::process::busiest_openai_member(d, |_| true).expect("an OpenAI member");
    let person = d
        .people
        .iter()
        .position(|p| p.emails.iter().any(|x| x.eq_ignore_ascii_case(&email)))
        .expect("the member is a directory person") as u32;
    // What the console's sweep would record for them.
    let console: Vec<NewDecision> = data.sweep(person).unwrap();
    assert!(console.len() >= 3, "{console:?}");
    let key = d
        .credentials
        .iter()
        .find(|c| c.usable() && !console.iter().any(|x| x.target.id == c.id))
        .expect("a usable key the person does not hold")
        .clone();
    let shown = |ds: &[NewDecision]| {
        let mut v: Vec<(Target, String, Option<String>)> = ds
            .iter()
            .map(|x| (x.target.clone(), x.label.clone(), x.rule.clone()))
            .collect();
        v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        v
    };
    // What `recert revoke --person` records (and sends) for them, named by an address of
    // theirs other than the first when they have one: the rule names the person, not the
    // address typed.
    let typed = d.people[person as usize]
        .emails
        .last()
        .cloned()
        .unwrap_or(email.clone());
    let out = e.run(&["revoke", "--person", &typed, "--yes", "--reason", "left"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open(e.data()).unwrap();
    let cli: Vec<NewDecision> = store
        .decisions()
        .unwrap()
        .into_iter()
        .map(|x| x.d)
        .collect();
    drop(store);
    assert_eq!(shown(&cli), shown(&console));
    assert!(cli.iter().all(|x| x.rule.as_deref()
        == Some(&*format!(
            "sweep:{}",
            d.people[person as usize].emails[0].to_lowercase()
        ))));

    // `:leak ID` in the console and `revoke --key ID`.
    let mut s = State::new(
        recert::tui::keymap::Keymap::default_map(),
        "t".into(),
        chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
    );
    update(
        &mut s,
        Msg::Resize {
            rows: 20,
            width: 120,
        },
    );
    update(&mut s, Msg::Data(data.clone()));
    let mut recorded = Vec::new();
    for c in format!(":leak {}\nposted\n", key.id).chars() {
        let code = if c == '\n' {
            KeyCode::Enter
        } else {
            KeyCode::Char(c)
        };
        for eff in update(&mut s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))) {
            if let Effect::Engine(Command::Record { items, .. }) = eff {
                recorded.extend(items);
            }
        }
    }
    assert_eq!(recorded.len(), 1, "the console recorded the key's revoke");
    let before = Store::open(e.data()).unwrap().decisions().unwrap().len();
    let out = e.run(&["revoke", "--key", &key.id, "--yes", "--reason", "posted"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Vec<NewDecision> = Store::open(e.data())
        .unwrap()
        .decisions()
        .unwrap()
        .into_iter()
        .skip(before)
        .map(|x| x.d)
        .collect();
    assert_eq!(cli.len(), 1);
    assert_eq!(shown(&cli), shown(&recorded));
    assert_eq!(cli[0].rule.as_deref(), Some("leaked-key"));
    assert_eq!(cli[0].justification, recorded[0].justification);
}

/// A sweep never takes a second person's access: an address two directory people share is
/// refused by `recert revoke --person`, and sweeping the person who holds another's address
/// as an extra one leaves the accounts on that shared address alone (they are nobody's alone:
/// an `ambiguous-identity` finding).
#[test]
fn a_sweep_never_takes_a_second_persons_access() {
    let e = Env::new("small", &[]);
    let text = std::fs::read_to_string(e.dir.path().join("cfg.toml")).unwrap();
    let config = Config::parse(&text, std::path::Path::new("cfg.toml")).unwrap();
    let data = recert::tui::load(&config, e.data(), &|_| {}).unwrap();
    let d = &data.snapshot.data;
    // The planted pair: someone whose extra address is another person's own.
    let (holder, shared) = d
        .people
        .iter()
        .enumerate()
        .find_map(|(i, p)| {
            p.emails.iter().skip(1).find_map(|x| {
                d.people
                    .iter()
                    .any(|q| q.id != p.id && q.emails.iter().any(|y| y.eq_ignore_ascii_case(x)))
                    .then(|| (i as u32, x.clone()))
            })
        })
        .expect("the world plants a shared address");
    let on_shared: Vec<&str> = d
        .accounts
        .iter()
        .filter(|a| {
            a.email
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(&shared))
        })
        .map(|a| a.id.as_str())
        .collect();
    assert!(!on_shared.is_empty(), "an account on the shared address");
    let swept = data
        .sweep(holder)
        .expect("their own first address is theirs alone");
    for x in &swept {
        assert!(
            !on_shared.contains(&x.target.id.as_str()),
            "the sweep took the account on the shared address: {x:?}"
        );
    }
    let out = e.run(&["revoke", "--person", &shared, "--yes", "--reason", "left"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("share the address"), "{err}");
    let store = Store::open(e.data()).unwrap();
    assert!(
        store.decisions().unwrap().is_empty(),
        "nothing was recorded"
    );
    assert!(e.mutations().is_empty(), "nothing was sent");
}

/// A change another process makes to a SQLite store (`recert revoke` in another terminal, a
/// second console) reaches an open console within seconds, as a PostgreSQL store's NOTIFY
/// does in team mode: its Decisions, Audit and decided rows showed none of it until the
/// console made a change of its own.
#[test]
fn a_change_another_process_makes_reaches_an_open_console() {
    let e = Env::new("small", &[]);
    let (engine, rx) = start(&e, "rev@example.com");
    loaded(&engine, &rx);
    engine.send(Command::Review);
    until(&rx, |ev| matches!(ev, Event::Published(Bulk::Review, _)));
    assert!(engine.review.latest().1.unwrap().decisions.is_empty());
    let snap = e.snapshot();
    Store::open(e.data())
        .unwrap()
        .record_decisions(&revokes(&e, 2), "cli@example.com", Some(snap.id), NOW)
        .unwrap();
    let sent = Instant::now();
    // Another person's decisions are news, as in team mode, told after the review that
    // shows them is published.
    until(
        &rx,
        |ev| matches!(ev, Event::Notice(n) if n == "cli@example.com: 2 decisions"),
    );
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(engine.review.latest().1.unwrap().decisions.len(), 2);
    // Its own changes are not read twice: nothing more comes while nothing changes.
    engine.send(Command::Record {
        items: revokes(&e, 3)[2..].to_vec(),
        snapshot: Some(snap.id),
    });
    until(&rx, |_| {
        engine
            .review
            .latest()
            .1
            .is_some_and(|r| r.decisions.len() == 3)
    });
    let generation = engine.review.latest().0;
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        engine.review.latest().0,
        generation,
        "read again for nothing"
    );
}
