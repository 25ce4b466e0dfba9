//! Team mode on PostgreSQL: identities the database enforces. Each reviewer logs in as their
//! own role; with their own credentials and raw SQL they cannot write another reviewer's
//! items, decide as someone else, touch the audit log, or run a campaign; what they may do
//! works through the store, and the chain the database writes verifies in recert.

use recert::review::campaign::OnClose;
use recert::review::{NewDecision, Verdict};
use recert::secret::Secret;
use recert::store::team::Member;
use recert::store::testkit::{TestDb, campaign, decision, directory, exec_as, item, person};
use recert::store::{SourceResult, Store};

const SKIP: &str = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)";
const PW: &str = "correct-horse-battery";

fn nd(seq: i64, v: Verdict) -> NewDecision {
    decision(seq, v, "reviewed")
}

/// A campaign of four items (two for each reviewer, one for a group alice is in), team mode
/// set up by the DBA, and the two reviewers' roles. Returns (alice, bob, campaign id, snapshot).
fn team(db: &TestDb) -> (String, String, i64, i64) {
    // Roles are the cluster's: each test database gets its own people.
    let tag = db.tag();
    let (alice, bob) = (format!("alice.{tag}@x.com"), format!("bob.{tag}@x.com"));
    let mut admin = db.open();
    let snap = directory(
        &mut admin,
        vec![person("1", &alice, &["ai-admins"]), person("2", &bob, &[])],
    );
    let items = vec![
        item(1, &alice),
        item(2, &alice),
        item(3, &bob),
        item(4, "group:ai-admins"),
    ];
    let id = campaign(&mut admin, "q4", snap, &items, OnClose::NoChange);
    admin.team_init().unwrap();
    admin.team_init().unwrap();
    for who in [&alice, &bob] {
        admin
            .add_member(
                who,
                &Secret::new(PW),
                Member::Reviewer { owner: false },
                102,
            )
            .unwrap();
    }
    (alice, bob, id, snap)
}

fn login(db: &TestDb, who: &str) -> (String, Store) {
    let url = db.url_as(who, PW).unwrap();
    let store = Store::connect(&recert::store::Target::parse(&url).unwrap()).unwrap();
    (url, store)
}

#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn a_reviewer_decides_only_their_own_items_as_themselves() {
    let _ = SKIP;
    let db = TestDb::postgres();
    let (alice, bob, id, snap) = team(&db);
    let (_, mut a) = login(&db, &alice);
    assert_eq!(a.identity().unwrap().as_deref(), Some(alice.as_str()));
    // Her own items and her group's: staged, submitted, audited as her.
    let staged = vec![
        (1, Some(nd(1, Verdict::Certify))),
        (4, Some(nd(4, Verdict::Revoke))),
    ];
    assert_eq!(a.stage(id, &staged, 110).unwrap(), 2);
    assert_eq!(a.submit(id, &[1, 4], &alice, snap, 111).unwrap().1, 2);
    // Bob's item: the database shows it, and will not let her stage it.
    assert_eq!(
        a.stage(id, &[(3, Some(nd(3, Verdict::Revoke)))], 112)
            .unwrap(),
        0
    );
    // She cannot decide as Bob, through the store or the log.
    let e = a
        .record_decisions(&[nd(2, Verdict::Revoke)], &bob, Some(snap), 113)
        .unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");
    // She hands her item on; Bob, logged in as himself, decides it and signs off.
    assert_eq!(
        a.delegate(id, &[2], &alice, &bob, "his team", 114).unwrap(),
        1
    );
    let (_, mut b) = login(&db, &bob);
    let staged = vec![
        (2, Some(nd(2, Verdict::Revoke))),
        (3, Some(nd(3, Verdict::Certify))),
    ];
    assert_eq!(b.stage(id, &staged, 115).unwrap(), 2);
    b.submit(id, &[2, 3], &bob, snap, 116).unwrap();
    b.sign_off(id, &bob, &serde_json::json!({"done": 2}), 117)
        .unwrap();
    // Neither may close the campaign: that is the owner's.
    let e = b.close_campaign(id, &bob, snap, 118).unwrap_err();
    assert!(e.to_string().contains("may not"), "{e}");
    // The chain the database wrote (hashed in SQL) verifies in recert.
    let admin = db.open();
    let (entries, verdict) = admin.verify_audit(None).unwrap();
    assert_eq!(verdict, Ok(entries.len()));
    let actors: Vec<&str> = entries.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(
        actors,
        [
            "owner",
            alice.as_str(),
            alice.as_str(),
            bob.as_str(),
            bob.as_str()
        ]
    );
    // Their times are the database's, not the ones their machines gave (110-117, long ago):
    // a reviewer cannot backdate a decision, a hand-off or a sign-off. The owner's stand.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let recent = |t: i64| (now - 600..=now + 600).contains(&t);
    assert!(
        !recent(entries[0].at),
        "the owner's own time: {}",
        entries[0].at
    );
    for e in &entries[1..] {
        assert!(recent(e.at), "{} at {}", e.event, e.at);
    }
    let ds = admin.decisions().unwrap();
    assert!(
        ds.iter()
            .filter(|d| d.reviewer != "owner")
            .all(|d| recent(d.made_at)),
        "{ds:#?}"
    );
    assert!(admin.sign_offs(id).unwrap().iter().all(|x| recent(x.at)));
    let handed = admin.delegations(id).unwrap();
    assert!(!handed.is_empty() && handed.iter().all(|x| recent(x.at)));
}

#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn with_raw_sql_a_reviewer_cannot_touch_what_is_not_theirs() {
    let db = TestDb::postgres();
    let (alice, bob, id, _) = team(&db);
    let tag = db.tag();
    let (url, _) = login(&db, &alice);
    let refused = |sql: &str| {
        let e = exec_as(&url, sql).expect_err(sql);
        assert!(
            e.contains("(42501)")
                || e.contains("permission denied")
                || e.contains("row-level security")
                || e.contains("refused")
                || e.contains("may not")
                // A snapshot table is a view over rows held once for many snapshots.
                || e.contains("cannot delete from view"),
            "{sql}: {e}"
        );
    };
    // Bob's items are invisible to an update: nothing changes.
    assert_eq!(
        exec_as(&url, &format!("UPDATE campaign_items SET outcome = 'revoke' WHERE campaign_id = {id} AND reviewer = '{bob}'")).unwrap(),
        0
    );
    assert_eq!(
        exec_as(
            &url,
            "UPDATE campaign_items SET outcome = 'revoke' WHERE seq = 3"
        )
        .unwrap(),
        0
    );
    // Her own item she may change, but not its frozen facts.
    refused(&format!(
        "UPDATE campaign_items SET item = '{{}}' WHERE reviewer = '{alice}'"
    ));
    // The audit log: no update, delete, insert or truncate, and no append as someone else.
    refused("UPDATE audit SET actor = 'nobody'");
    refused("DELETE FROM audit");
    refused("TRUNCATE audit");
    refused(
        "INSERT INTO audit (seq, at, actor, event, detail, prev, hash) VALUES (99, 1, 'x', 'x', '{}', 'x', 'x')",
    );
    refused("UPDATE audit_head SET seq = 1");
    refused(&format!(
        "SELECT recert_audit_append(1, '{bob}', 'decide', '{{}}')"
    ));
    // Decisions only as herself; campaigns are the owner's; sign-offs only her own.
    refused(&format!(
        "INSERT INTO decisions (batch, made_at, reviewer, verdict, provider, source, kind, target_id, label) VALUES (1, 1, '{bob}', 'revoke', 'openai', 'openai', 'project_key', 'k3', 'x')"
    ));
    refused(
        "INSERT INTO campaigns (name, snapshot_id, created_at, created_by, due, scope, routing, on_close) VALUES ('x', 1, 1, 'x', 'x', '{}', '{}', 'keep')",
    );
    refused(&format!(
        "UPDATE campaigns SET closed_at = 1 WHERE id = {id}"
    ));
    refused(&format!(
        "INSERT INTO campaign_signoffs (campaign_id, reviewer, at, counts) VALUES ({id}, '{bob}', 1, '{{}}')"
    ));
    refused(&format!(
        "INSERT INTO campaign_delegations (campaign_id, seq, from_reviewer, to_reviewer, reason, at) VALUES ({id}, 3, '{bob}', '{alice}', 'x', 1)"
    ));
    // A temporary table cannot stand in for recert's inside its functions: reviewers may
    // make none, and even a role that may finds recert's functions reading recert's tables.
    refused("CREATE TEMP TABLE recert_reviewers (role text, email text, added_at bigint)");
    recert::store::testkit::admin_sql(
        &db.url().unwrap(),
        &format!("GRANT TEMPORARY ON DATABASE {tag} TO \"{alice}\""),
    );
    recert::store::testkit::batch_as(
        &url,
        &format!(
            "CREATE TEMP TABLE recert_reviewers (role text, email text, added_at bigint);
             INSERT INTO recert_reviewers VALUES (session_user, '{bob}', 1);
             CREATE TEMP TABLE audit (LIKE public.audit);
             CREATE TEMP TABLE campaigns (LIKE public.campaigns);
             DO $$ BEGIN
                IF recert_me() <> '{alice}' THEN RAISE EXCEPTION 'shadowed: %', recert_me(); END IF;
                IF NOT recert_open({id}) THEN RAISE EXCEPTION 'shadowed campaigns'; END IF;
             END $$;"
        ),
    )
    .unwrap();
    // No decision outside her items, none with an id she picks, none on another target.
    refused(&format!(
        "INSERT INTO decisions (id, batch, made_at, reviewer, verdict, provider, source, kind, target_id, label, campaign_id) VALUES (9223372036854775806, 1, 1, '{alice}', 'revoke', 'openai', 'openai', 'user', 'u-ceo', 'x', {id})"
    ));
    refused(&format!(
        "INSERT INTO decisions (batch, made_at, reviewer, verdict, provider, source, kind, target_id, label) VALUES (1, 1, '{alice}', 'revoke', 'openai', 'openai', 'user', 'u-ceo', 'x')"
    ));
    refused(&format!(
        "INSERT INTO decisions (batch, made_at, reviewer, verdict, provider, source, kind, target_id, label, campaign_id) VALUES (1, 1, '{alice}', 'revoke', 'openai', 'openai', 'user', 'u-ceo', 'x', {id})"
    ));
    // Her own item is decided only by a decision of hers on it: no outcome out of thin air.
    refused(&format!(
        "UPDATE campaign_items SET outcome = 'certify', outcome_by = '{alice}' WHERE campaign_id = {id} AND seq = 1"
    ));
    refused(&format!(
        "UPDATE campaign_items SET outcome = 'certify', outcome_by = 'carol@x.com', decision_id = 1 WHERE campaign_id = {id} AND seq = 1"
    ));
    // The log: not as 'policy', not an owner's event.
    refused("SELECT recert_audit_append(1, 'policy', 'campaign.close', '{}')");
    refused(&format!(
        "SELECT recert_audit_append(1, '{alice}', 'campaign.close', '{{}}')"
    ));
    // A delegation row for an item that is not handed to that person.
    refused(&format!(
        "INSERT INTO campaign_delegations (campaign_id, seq, from_reviewer, to_reviewer, reason, at) VALUES ({id}, 1, '{alice}', '{bob}', 'x', 1)"
    ));
    // The first frame other consoles trust.
    refused(
        "INSERT INTO snapshot_digests (snapshot_id, context, made_at, body) VALUES (1, 'x', 1, '{}')",
    );
    // Snapshots are the syncer's, plans the applier's, the role mapping the DBA's.
    refused("INSERT INTO snapshots (taken_at) VALUES (1)");
    refused("DELETE FROM people");
    // What a snapshot held stays as it was: its rows are not hers to change or remove.
    refused("DELETE FROM people_rows");
    refused("UPDATE people_rows SET valid_to = 1");
    refused("UPDATE grants_rows SET role = 'owner'");
    refused("INSERT INTO plans (created_at, actor, state) VALUES (1, 'x', 'open')");
    refused(&format!("UPDATE recert_reviewers SET email = '{bob}'"));
    // And nothing she tried left a trace in the chain, which still verifies.
    let (entries, verdict) = db.open().verify_audit(None).unwrap();
    assert_eq!(verdict, Ok(entries.len()));
    assert_eq!(entries.len(), 1);
}

fn recert(args: &[&str], database_url: &str) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("recert.toml"), "").unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_recert"))
        .args([
            "--config",
            &home.path().join("recert.toml").to_string_lossy(),
        ])
        .args(["--data-dir", &home.path().join("data").to_string_lossy()])
        .args(args)
        .env("RECERT_DATABASE_URL", database_url)
        .env_remove("PGPASSWORD")
        .env("HOME", home.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn the_binary_takes_who_you_are_from_the_database_and_refuses_as() {
    let db = TestDb::postgres();
    let (alice, bob, _, _) = team(&db);
    let url = db.url_as(&alice, PW).unwrap();
    let out = recert(&["campaign", "submit", "q4", "--as", &bob, "--yes"], &url);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("you are {alice}")) && err.contains("refused"),
        "{err}"
    );
    assert!(!err.contains(PW), "the password is never echoed: {err}");
    // `team init` prints what it applies; the DBA's address runs it.
    let out = recert(&["team", "init", "--yes"], &db.url().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sql = String::from_utf8_lossy(&out.stdout);
    assert!(
        sql.contains("CREATE POLICY recert_mine ON campaign_items"),
        "{sql}"
    );
    // A password on the command line is refused before anything connects.
    let out = recert(&["--database", &url, "gaps"], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("refused"), "{err}");
    assert!(!err.contains(PW), "{err}");
}

#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn the_syncer_and_the_applier_have_only_what_they_need() {
    let db = TestDb::postgres();
    let (alice, _, _, snap) = team(&db);
    let tag = db.tag();
    let (syncer, applier) = (format!("sync_{tag}"), format!("apply_{tag}"));
    let mut admin = db.open();
    admin
        .add_member(&syncer, &Secret::new(PW), Member::Syncer, 1)
        .unwrap();
    admin
        .add_member(&applier, &Secret::new(PW), Member::Applier, 1)
        .unwrap();
    // A reviewer's role must be named by an address.
    let e = admin
        .add_member(
            "bob",
            &Secret::new(PW),
            Member::Reviewer { owner: false },
            1,
        )
        .unwrap_err();
    assert!(e.to_string().contains("email"), "{e}");
    // The syncer writes snapshots (a failed source carried) and nothing of the review.
    let (sync_url, mut s) = login(&db, &syncer);
    assert_eq!(s.identity().unwrap().as_deref(), Some(syncer.as_str()));
    let next = s
        .write_snapshot(
            200,
            &[SourceResult {
                source: "dir".into(),
                kind: "scim".into(),
                outcome: Err("down".into()),
                requests: 1,
                started_at: 1,
                finished_at: 2,
            }],
        )
        .unwrap();
    assert!(next > snap);
    assert_eq!(s.snapshot(next).unwrap().data.people.len(), 2);
    // Snapshots share unchanged rows, and the syncer closes an open row at the newest
    // snapshot; it cannot rewrite what an earlier snapshot held: no row reopened, moved,
    // edited or removed.
    let before = format!("{:?}", s.snapshot(snap).unwrap().data);
    for sql in [
        format!("UPDATE people_rows SET valid_to = {snap}"),
        // The newest snapshot's id, but not by the sync writing it: a row taken out of a
        // snapshot already committed.
        format!("UPDATE people_rows SET valid_to = {next}"),
        // A row slipped into a past snapshot, or one not open.
        format!(
            "INSERT INTO people_rows (source, id, user_name, emails, active, absent, groups, valid_from, valid_to) VALUES ('dir', 'forged', 'f', '[]', 1, 0, '[]', {snap}, 9223372036854775807)"
        ),
        format!(
            "INSERT INTO people_rows (source, id, user_name, emails, active, absent, groups, valid_from, valid_to) VALUES ('dir', 'forged', 'f', '[]', 1, 0, '[]', {next}, {next})"
        ),
        "UPDATE people_rows SET valid_to = valid_to - 1".into(),
        format!("UPDATE people_rows SET valid_from = {next}"),
        "UPDATE people_rows SET user_name = 'someone else'".into(),
        "DELETE FROM people_rows".into(),
        "TRUNCATE people_rows".into(),
    ] {
        let e = exec_as(&sync_url, &sql).expect_err(&sql);
        assert!(
            e.contains("(42501)") || e.contains("permission denied"),
            "{sql}: {e}"
        );
    }
    assert_eq!(format!("{:?}", s.snapshot(snap).unwrap().data), before);
    let e = s
        .record_decisions(&[nd(1, Verdict::Revoke)], &syncer, Some(next), 3)
        .unwrap_err();
    assert!(e.to_string().contains("may not"), "{e}");
    // The applier plans and journals; it cannot decide.
    let (url, mut a) = login(&db, &applier);
    let plan = a.create_plan(&[], &applier, Some(next), 4).unwrap();
    a.lock_plan(plan, &applier, 5).unwrap();
    a.unlock_plan(plan).unwrap();
    assert!(
        exec_as(
            &url,
            &format!("UPDATE decisions SET undone = 1 WHERE reviewer = '{alice}'")
        )
        .is_err()
    );
    assert!(exec_as(&url, "INSERT INTO snapshots (taken_at) VALUES (1)").is_err());
    let (entries, verdict) = db.open().verify_audit(None).unwrap();
    assert_eq!(verdict, Ok(entries.len()));
}

/// A front end that keeps nothing but the review read model.
struct Reviews;

impl recert::engine::Front for Reviews {
    type Data = ();
    type Review = recert::engine::review::ReadModel;
    fn preview(&self, _: recert::engine::load::Preview) {}
    fn data(&self, _: recert::engine::load::Judged) {}
    fn review(&self, r: recert::engine::review::ReadModel) -> Self::Review {
        r
    }
}

/// A console (an engine) on the shared store, logged in as `who`, settled after its first
/// review read, its events so far drained.
fn console(
    db: &TestDb,
    who: &str,
) -> (
    recert::engine::Engine<Reviews>,
    std::sync::mpsc::Receiver<recert::engine::Event>,
) {
    use recert::engine::{Command, Engine, Setup};
    let (tx, rx) = std::sync::mpsc::channel();
    let engine = Engine::start(
        Setup {
            store: recert::store::Location::Postgres(
                recert::store::Target::parse(&db.url_as(who, PW).unwrap()).unwrap(),
            ),
            config: Default::default(),
            keys: None,
            reviewer: who.to_string(),
            campaign: None,
            read_only: false,
            clock: std::sync::Arc::new(|| 200),
        },
        Reviews,
        std::sync::Arc::new(move |ev| {
            let _ = tx.send(ev);
        }),
    )
    .unwrap();
    engine.send(Command::Review);
    settle(&engine);
    while rx.try_recv().is_ok() {}
    (engine, rx)
}

/// Wait until the engine has carried out every command sent to it.
fn settle(engine: &recert::engine::Engine<Reviews>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !engine.settled() {
        assert!(
            std::time::Instant::now() < deadline,
            "the engine did not settle"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn an_open_console_hears_another_reviewers_decisions_as_they_commit() {
    use recert::engine::{Bulk, Event};
    use std::time::{Duration, Instant};
    let db = TestDb::postgres();
    let (alice, bob, id, snap) = team(&db);
    // Alice's console: an engine on the shared store, logged in as her.
    let (engine, rx) = console(&db, &alice);
    let before = engine.review.latest().1.unwrap().decisions.len();
    // Bob, on his own machine, submits a decision and signs off; someone sends a forged hint.
    let (url, mut b) = login(&db, &bob);
    let staged = vec![(3, Some(nd(3, Verdict::Revoke)))];
    b.stage(id, &staged, 201).unwrap();
    let sent = Instant::now();
    b.submit(id, &[3], &bob, snap, 202).unwrap();
    exec_as(
        &url,
        "NOTIFY recert_changes, '{\"actor\":\"ceo@x.com\",\"event\":\"campaign.signoff\"}'",
    )
    .unwrap();
    b.sign_off(id, &bob, &serde_json::json!({"decided": 1}), 203)
        .unwrap();
    // Alice's console hears both within a second each, and its review shows them.
    let mut notices = Vec::new();
    let mut published = false;
    while notices.len() < 2 || !published {
        let left = Duration::from_secs(5).saturating_sub(sent.elapsed());
        match rx.recv_timeout(left) {
            Ok(Event::Notice(n)) => notices.push(n),
            Ok(Event::Published(Bulk::Review, _)) => published = true,
            Ok(_) => {}
            Err(_) => panic!("no news of bob's decisions: {notices:?}, published {published}"),
        }
    }
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );
    // What the log says, never what a notification claims.
    assert_eq!(
        notices,
        [format!("{bob}: 1 decision"), format!("{bob} signed off")]
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.review.latest().1.unwrap().decisions.len() < before + 1 {
        assert!(
            Instant::now() < deadline,
            "the review never showed bob's decisions"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Her own decision, from another console of hers, is not news to her.
    let (_, mut a) = login(&db, &alice);
    a.stage(id, &[(1, Some(nd(1, Verdict::Certify)))], 204)
        .unwrap();
    a.submit(id, &[1], &alice, snap, 205).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        rx.try_iter().all(|e| !matches!(e, Event::Notice(_))),
        "a reviewer's own decisions are no toast"
    );
}

#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn a_console_whose_database_connections_drop_opens_them_again() {
    use recert::engine::{Bulk, Command, Event};
    use std::time::{Duration, Instant};
    let db = TestDb::postgres();
    let (alice, bob, id, snap) = team(&db);
    let (engine, rx) = console(&db, &alice);
    // The server ends every session of alice's (a restart, a failover, a DBA): her console's
    // store and its listener both lose their connection.
    let cut = recert::store::testkit::admin_sql_value(
        &db.url().unwrap(),
        &format!(
            "SELECT count(pg_terminate_backend(pid))::bigint FROM pg_stat_activity WHERE usename = '{alice}'"
        ),
    );
    assert_eq!(
        cut, 2,
        "her console held two sessions: the store and the listener"
    );
    std::thread::sleep(Duration::from_millis(500));
    // Her next command works, on a new connection, and says the old one was lost.
    engine.send(Command::Review);
    settle(&engine);
    let events: Vec<Event> = rx.try_iter().collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Published(Bulk::Review, _))),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Error(m) if !m.contains("lost"))),
        "{events:?}"
    );
    // And she hears bob again: the listener reconnected too.
    let (_, mut b) = login(&db, &bob);
    let deadline = Instant::now() + Duration::from_secs(10);
    b.stage(id, &[(3, Some(nd(3, Verdict::Revoke)))], 201)
        .unwrap();
    b.submit(id, &[3], &bob, snap, 202).unwrap();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Event::Notice(n)) if n == format!("{bob}: 1 decision") => break,
            Ok(_) => {}
            Err(_) => panic!("after the connections dropped, bob's decision was never heard"),
        }
    }
}

#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
/// A snapshot's grants are read on a second session beside the first; a reviewer whose role
/// may hold only one session still reads the snapshot whole, on the one.
fn a_snapshot_reads_whole_when_a_second_session_is_refused() {
    let db = TestDb::postgres();
    let (alice, _, _, _) = team(&db);
    let mut admin = db.open();
    // Enough grants that a second session is asked for.
    let grants: Vec<recert::model::Grant> = (0..25_000)
        .map(|i| recert::model::Grant {
            source: "openai".into(),
            provider: "openai".into(),
            principal_kind: "user".into(),
            principal_id: format!("user-{}", 25_000 - i).into(),
            resource_id: "proj_1".into(),
            role: Some("member".into()),
            via: "direct".into(),
        })
        .collect();
    admin
        .write_snapshot(
            300,
            &[SourceResult {
                source: "openai".into(),
                kind: "openai".into(),
                outcome: Ok(recert::model::SourceData {
                    grants: grants.clone(),
                    ..Default::default()
                }),
                requests: 1,
                started_at: 0,
                finished_at: 0,
            }],
        )
        .unwrap();
    recert::store::testkit::admin_sql(
        &db.url().unwrap(),
        &format!("ALTER ROLE \"{alice}\" CONNECTION LIMIT 1"),
    );
    let (url, a) = login(&db, &alice);
    assert!(
        exec_as(&url, "SELECT 1").is_err(),
        "her role holds one session at most"
    );
    let snap = a.latest_snapshot().unwrap().unwrap();
    assert_eq!(snap.data.grants, grants);
    assert_eq!(snap, admin.latest_snapshot().unwrap().unwrap());
}

#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
/// A reviewer who leaves is removed: their open sessions end, they cannot log in again, and
/// the database no longer maps their role to a person. A campaign owner added again as a
/// plain reviewer is no longer an owner (adding sets the role's groups, it does not only add).
fn a_removed_member_is_locked_out_and_a_demoted_owner_owns_nothing() {
    let db = TestDb::postgres();
    let (alice, bob, _, _) = team(&db);
    let mut admin = db.open();
    let groups = |who: &str| {
        recert::store::testkit::admin_sql_value(
            &db.url().unwrap(),
            &format!(
                "SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid \
                 JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '{who}' AND g.rolname = 'recert_owner'"
            ),
        )
    };
    admin
        .add_member(
            &bob,
            &Secret::new(PW),
            Member::Reviewer { owner: true },
            103,
        )
        .unwrap();
    assert_eq!(groups(&bob), 1);
    admin
        .add_member(
            &bob,
            &Secret::new(PW),
            Member::Reviewer { owner: false },
            104,
        )
        .unwrap();
    assert_eq!(
        groups(&bob),
        0,
        "bob was demoted: no longer a campaign owner"
    );
    let listed = admin.members().unwrap();
    // Team mode's own groups (recert_owner is in recert_reviewer) and the DBA are no members:
    // removing one would take every owner's rights, or the DBA's own login.
    for not in [
        "recert_owner",
        "recert_reviewer",
        "recert_syncer",
        "recert_applier",
        "recert_admin",
    ] {
        assert!(
            listed.iter().all(|m| m.role != not),
            "{not} listed: {listed:?}"
        );
        assert!(!admin.remove_member(not).unwrap(), "{not} removed");
    }
    let b = listed.iter().find(|m| m.role == bob).unwrap();
    assert_eq!(
        (b.groups.clone(), b.login),
        (vec!["recert_reviewer".to_string()], true)
    );

    // Alice is at her desk when she is removed.
    let (url, open) = login(&db, &alice);
    assert!(admin.remove_member(&alice).unwrap(), "she was a member");
    assert!(
        open.latest_snapshot_id().is_err(),
        "her open session was ended"
    );
    assert!(
        exec_as(&url, "SELECT 1").is_err(),
        "she cannot log in again"
    );
    assert!(admin.members().unwrap().iter().all(|m| m.role != alice));
    let can_login = recert::store::testkit::admin_sql_value(
        &db.url().unwrap(),
        &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{alice}' AND rolcanlogin"),
    );
    assert_eq!(
        can_login, 0,
        "her role stays (for the DBA's records) but cannot log in"
    );
    assert!(!admin.remove_member("nobody@x.com").unwrap());

    // The same from the command line, as the DBA: listed, removed, no longer listed.
    let url = db.url().unwrap();
    let list = |url: &str| {
        let out = recert(&["team", "list"], url);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(list(&url).contains(&bob), "{}", list(&url));
    let out = recert(&["team", "remove", &bob], &url);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing removed"),
        "asks first; no answer, nothing removed: {out:?}"
    );
    assert!(list(&url).contains(&bob));
    let out = recert(&["team", "remove", &bob, "--yes"], &url);
    assert!(out.status.success(), "{out:?}");
    assert!(!list(&url).contains(&bob), "{}", list(&url));
    let out = recert(&["team", "remove", &bob, "--yes"], &url);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no member"),
        "{out:?}"
    );
}

/// A reviewer who takes the writers' lock with raw SQL and sits on it (an undefended case of
/// the issue) blocks every other write for as long as a write waits. What the others see
/// must say who holds it and how to end it, and nothing may be half-written; once the lock
/// is let go, writes go through.
#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn a_session_sitting_on_the_writers_lock_is_named_to_the_others() {
    let db = TestDb::postgres();
    let (alice, bob, id, _) = team(&db);
    let (url, _) = login(&db, &alice);
    let squatter = recert::store::testkit::Session::open(&url).unwrap();
    squatter
        .batch(&format!(
            "SELECT pg_advisory_lock({})",
            recert::store::testkit::WRITER_LOCK
        ))
        .unwrap();
    let (_, mut b) = login(&db, &bob);
    b.set_writer_wait(std::time::Duration::from_millis(1500));
    let e = b
        .stage(id, &[(3, Some(nd(3, Verdict::Certify)))], 120)
        .expect_err("the lock is held")
        .to_string();
    assert!(
        e.contains("is busy")
            && e.contains(&alice)
            && e.contains("pg_terminate_backend(")
            && e.contains("nothing was written"),
        "{e}"
    );
    let staged = db
        .open()
        .campaign_items(id)
        .unwrap()
        .iter()
        .filter(|i| i.staged.is_some())
        .count();
    assert_eq!(staged, 0, "nothing was staged while the lock was held");
    squatter
        .batch(&format!(
            "SELECT pg_advisory_unlock({})",
            recert::store::testkit::WRITER_LOCK
        ))
        .unwrap();
    assert_eq!(
        b.stage(id, &[(3, Some(nd(3, Verdict::Certify)))], 121)
            .unwrap(),
        1
    );
}
