//! The store's one test suite, run on both engines: every use of the store (snapshots with a
//! failed source carried, decisions and undo, campaigns from creation to close, plans and the
//! apply journal and lock, digests, the audit chain) once on SQLite and once on PostgreSQL,
//! with the same expectations. On PostgreSQL each test has its own database on the server
//! `RECERT_TEST_DATABASE_URL` names (`scripts/pg-test-cluster`; `.ci/run` starts one).

use recert::engines;
use recert::model::{Account, Credential, Grant, Owner, Person, Resource, SourceData};
use recert::remediate::{PlannedStep, RowState, Step};
use recert::review::campaign::{Item, NewCampaign, OnClose, Routing, Scope};
use recert::review::{NewDecision, Target, Verdict};
use recert::store::testkit::TestDb;
use recert::store::{SourceResult, Store};

fn person(id: &str, email: &str) -> Person {
    Person {
        source: "dir".into(),
        id: id.into(),
        user_name: email.into(),
        emails: vec![email.into(), format!("alias.{email}")],
        display_name: Some(format!("Person {id} — ünïcode 'quoted'")),
        active: true,
        absent: false,
        external_id: None,
        department: Some("R&D".into()),
        title: Some("Engineer".into()),
        manager_id: None,
        groups: vec!["ai-users".into()],
        groups_known: true,
        employee_type: Some("Employee".into()),
        signals: Default::default(),
    }
}

fn data() -> (SourceData, SourceData) {
    let dir = SourceData {
        people: vec![person("p1", "ann@x.com"), person("p2", "bob@x.com")],
        ..Default::default()
    };
    let openai = SourceData {
        accounts: vec![Account {
            source: "openai".into(),
            provider: "openai".into(),
            id: "user-1".into(),
            email: Some("ann@x.com".into()),
            name: None,
            role: Some("owner".into()),
            added_at: Some(1_700_000_000),
            last_active_at: None,
            scim_managed: Some(false),
            activity_from: None,
        }],
        resources: vec![Resource {
            source: "openai".into(),
            provider: "openai".into(),
            kind: "project".into(),
            id: "proj_1".into(),
            name: Some("Prod".into()),
            archived: false,
            created_at: Some(1),
            parent: None,
        }],
        grants: (0..3)
            .map(|i| Grant {
                source: "openai".into(),
                provider: "openai".into(),
                principal_kind: "user".into(),
                principal_id: format!("user-{}", 3 - i).into(),
                resource_id: "proj_1".into(),
                role: Some("member".into()),
                via: "direct".into(),
            })
            .collect(),
        credentials: vec![Credential {
            source: "openai".into(),
            provider: "openai".into(),
            kind: "project_key".into(),
            id: "key_1".into(),
            name: Some("deploy".into()),
            redacted: Some("sk-proj-abc...xyz".into()),
            resource_id: Some("proj_1".into()),
            owner: Some(Owner {
                kind: "user".into(),
                id: "user-1".into(),
                email: Some("ann@x.com".into()),
                name: None,
            }),
            created_at: Some(5),
            last_used_at: Some(i64::MAX / 2),
            spend_cents: Some(12_345),
            ..Default::default()
        }],
        ..Default::default()
    };
    (dir, openai)
}

fn ok(source: &str, kind: &str, d: SourceData) -> SourceResult {
    SourceResult {
        source: source.into(),
        kind: kind.into(),
        outcome: Ok(d),
        requests: 3,
        started_at: 10,
        finished_at: 11,
    }
}

fn failed(source: &str, kind: &str) -> SourceResult {
    SourceResult {
        source: source.into(),
        kind: kind.into(),
        outcome: Err("HTTP 503 from the provider".into()),
        requests: 1,
        started_at: 20,
        finished_at: 21,
    }
}

fn nd(id: &str, v: Verdict) -> NewDecision {
    NewDecision {
        verdict: v,
        target: Target::new("openai", "openai", "project_key", id),
        label: format!("key {id}"),
        rule: Some("dormant-key".into()),
        owner: None,
        until: None,
        justification: Some("unused since March".into()),
    }
}

/// A DELETE of `path` carrying out `ids`.
fn call(ids: Vec<i64>, path: &str) -> PlannedStep {
    PlannedStep {
        decisions: ids,
        step: Step::Call {
            source: "openai".into(),
            method: "DELETE",
            path: path.into(),
            body: None,
            note: None,
        },
    }
}

fn verified(s: &Store) -> usize {
    let (_, verdict) = s.verify_audit(None).unwrap();
    verdict.unwrap_or_else(|e| panic!("the audit chain does not verify: {e:?}"))
}

engines!(
    a_snapshot_reads_back_as_written_and_a_failed_source_is_carried,
    |db: &TestDb| {
        let mut s = db.open();
        assert_eq!(s.latest_snapshot_id().unwrap(), None);
        let (dir, openai) = data();
        let first = s
            .write_snapshot(
                100,
                &[
                    ok("dir", "scim", dir.clone()),
                    ok("openai", "openai", openai.clone()),
                ],
            )
            .unwrap();
        let snap = s.latest_snapshot().unwrap().unwrap();
        assert_eq!(snap.id, first);
        assert_eq!(snap.taken_at, 100);
        assert_eq!(snap.data.people, dir.people);
        assert_eq!(snap.data.accounts, openai.accounts);
        assert_eq!(snap.data.resources, openai.resources);
        // Grants come back in the order written, whatever their content.
        assert_eq!(snap.data.grants, openai.grants);
        assert_eq!(snap.data.credentials, openai.credentials);
        assert_eq!(snap.sources.len(), 2);
        assert!(snap.sources.iter().all(|r| r.ok && r.requests == 3));

        // Bob left the directory; the provider failed: its last good data is carried, marked.
        let mut dir2 = dir.clone();
        dir2.people.retain(|p| p.id != "p2");
        let second = s
            .write_snapshot(200, &[ok("dir", "scim", dir2), failed("openai", "openai")])
            .unwrap();
        drop(s);
        let s = db.open();
        let snap = s.snapshot(second).unwrap();
        let run = snap.sources.iter().find(|r| r.source == "openai").unwrap();
        assert!(!run.ok);
        assert_eq!(run.carried_from, Some(first));
        assert_eq!(run.error.as_deref(), Some("HTTP 503 from the provider"));
        assert_eq!(snap.data.grants, openai.grants);
        assert_eq!(snap.data.credentials, openai.credentials);
        let bob = snap.data.people.iter().find(|p| p.id == "p2").unwrap();
        assert!(
            bob.absent,
            "a person gone from the directory stays, marked absent"
        );
        assert_eq!(s.latest_keys().unwrap().unwrap().data.credentials.len(), 1);
        assert_eq!(s.latest_admin_keys().unwrap(), vec![]);
        assert_eq!(s.health().unwrap().0, "ok");
    }
);

engines!(
    /// Snapshots share what has not changed (the provenance issue, item 4): a re-sync that
    /// reads the same data stores no row again, a change stores only the rows it changed, and
    /// every snapshot reads back exactly as it was written, however many came after it.
    unchanged_rows_are_shared_between_snapshots_and_each_reads_back_as_written,
    |db: &TestDb| {
        let mut s = db.open();
        let (dir, openai) = data();
        let both = |dir: &SourceData, openai: &SourceData| {
            [
                ok("dir", "scim", dir.clone()),
                ok("openai", "openai", openai.clone()),
            ]
        };
        let one = s.write_snapshot(100, &both(&dir, &openai)).unwrap();
        let stored = s.stored_rows().unwrap();
        assert_eq!(stored, 2 + 1 + 1 + 3 + 1);
        let read = |s: &Store, id: i64| s.snapshot(id).unwrap().data;
        let first = read(&s, one);

        // The same again: nothing more is stored, and it reads back the same.
        let two = s.write_snapshot(200, &both(&dir, &openai)).unwrap();
        assert_eq!(s.stored_rows().unwrap(), stored);
        assert_eq!(format!("{:?}", read(&s, two)), format!("{first:?}"));

        // One key used, one grant gone, one new: two rows more (the key's new version and the
        // new grant; a removal stores nothing), and the earlier snapshots are untouched.
        let mut changed = openai.clone();
        changed.credentials[0].last_used_at = Some(7);
        changed.grants.remove(1);
        let mut new = changed.grants[0].clone();
        new.principal_id = "user-9".into();
        changed.grants.push(new);
        let three = s.write_snapshot(300, &both(&dir, &changed)).unwrap();
        assert_eq!(s.stored_rows().unwrap(), stored + 2);
        let third = read(&s, three);
        assert_eq!(third.credentials, changed.credentials);
        assert_eq!(third.grants, changed.grants, "the order written, the new grant last");
        for id in [one, two] {
            assert_eq!(format!("{:?}", read(&s, id)), format!("{first:?}"));
        }

        // A source no longer read has no rows in the next snapshot, and is written afresh
        // when it is read again; a person gone from the directory stays, marked absent, once.
        let mut fewer = dir.clone();
        fewer.people.retain(|p| p.id != "p2");
        let four = s
            .write_snapshot(400, &[ok("dir", "scim", fewer.clone())])
            .unwrap();
        let fourth = read(&s, four);
        assert!(fourth.credentials.is_empty() && fourth.grants.is_empty());
        assert!(fourth.people.iter().any(|p| p.id == "p2" && p.absent));
        let five = s
            .write_snapshot(500, &both(&fewer, &openai))
            .unwrap();
        let fifth = read(&s, five);
        assert_eq!(fifth.grants, openai.grants);
        assert_eq!(fifth.people, fourth.people);
        assert_eq!(format!("{:?}", read(&s, three)), format!("{third:?}"));
        assert_eq!(format!("{:?}", read(&s, one)), format!("{first:?}"));
    }
);

engines!(
    /// A sync keeps the newest snapshot's digest and those of snapshots an open campaign is
    /// on; older ones (a cache for a first frame, a tenth of what an unchanged re-sync would
    /// otherwise store) are dropped.
    older_digests_are_dropped_but_an_open_campaigns,
    |db: &TestDb| {
        let mut s = db.open();
        let (dir, _) = data();
        let ids: Vec<i64> = (1..=4)
            .map(|t| s.write_snapshot(t, &[ok("dir", "scim", dir.clone())]).unwrap())
            .collect();
        for id in &ids {
            s.save_digest(*id, "ctx", &Default::default()).unwrap();
        }
        let open = recert::store::testkit::campaign(
            &mut s,
            "open",
            ids[0],
            &[item(1, "k1", "ann@x.com")],
            OnClose::Revoke,
        );
        let closed = recert::store::testkit::campaign(
            &mut s,
            "closed",
            ids[1],
            &[item(1, "k1", "ann@x.com")],
            OnClose::Revoke,
        );
        s.close_campaign(closed, "owner@x.com", ids[1], 5).unwrap();
        assert!(open > 0);
        assert_eq!(s.drop_older_digests(ids[3]).unwrap(), 2);
        let kept: Vec<bool> = ids
            .iter()
            .map(|id| s.digest(*id, "ctx").unwrap().is_some())
            .collect();
        assert_eq!(kept, [true, false, false, true]);
    }
);

engines!(
    /// Rows go to PostgreSQL in pipelined batches of about a thousand: a snapshot several
    /// batches long comes back whole and in order, and an object listed twice, its copies in
    /// different batches, is stored once as the later copy said.
    a_snapshot_longer_than_one_batch_is_written_whole,
    |db: &TestDb| {
        let mut s = db.open();
        let mut dir = SourceData::default();
        for i in 0..2_500 {
            dir.people.push(person(&format!("p{i}"), &format!("u{i}@x.com")));
        }
        let mut again = person("p7", "u7@x.com");
        again.display_name = Some("the later copy".into());
        dir.people.push(again);
        let (_, mut openai) = data();
        // Enough grants that PostgreSQL reads them in pieces on two sessions.
        openai.grants = (0..25_000)
            .map(|i| Grant {
                source: "openai".into(),
                provider: "openai".into(),
                principal_kind: "user".into(),
                principal_id: format!("user-{}", 24_999 - i).into(),
                resource_id: format!("proj_{}", i % 7).into(),
                role: Some("member".into()),
                via: "direct".into(),
            })
            .collect();
        s.write_snapshot(1, &[ok("dir", "scim", dir), ok("openai", "openai", openai.clone())])
            .unwrap();
        let snap = s.latest_snapshot().unwrap().unwrap();
        assert_eq!(snap.data.people.len(), 2_500);
        let p7 = snap.data.people.iter().find(|p| p.id == "p7").unwrap();
        assert_eq!(p7.display_name.as_deref(), Some("the later copy"));
        assert_eq!(snap.data.grants, openai.grants);
    }
);

engines!(
    /// A NUL character is text PostgreSQL cannot hold: provider text carrying one (a hostile
    /// display name, a key name) must not fail the sync on one engine and pass on the other.
    /// Both store it as U+FFFD, so both read back the same.
    provider_text_with_a_nul_character_is_stored_alike_on_both_engines,
    |db: &TestDb| {
        let mut s = db.open();
        let (mut dir, mut openai) = data();
        dir.people[0].display_name = Some("Ann\0\u{1b}[31m".into());
        openai.credentials[0].name = Some("deploy\0key".into());
        s.write_snapshot(1, &[ok("dir", "scim", dir), ok("openai", "openai", openai)])
            .unwrap();
        let snap = s.latest_snapshot().unwrap().unwrap();
        assert_eq!(
            snap.data.people[0].display_name.as_deref(),
            Some("Ann\u{fffd}\u{1b}[31m")
        );
        assert_eq!(
            snap.data.credentials[0].name.as_deref(),
            Some("deploy\u{fffd}key")
        );
    }
);

engines!(
    /// A key carrying a NUL (a hostile person or key id) is stored as U+FFFD: the next sync
    /// reading the same object must find it as the row it already holds, not as a person gone
    /// from the directory whose absent copy then collides with the row kept.
    an_id_with_a_nul_character_syncs_again_and_again,
    |db: &TestDb| {
        let mut s = db.open();
        let (mut dir, mut openai) = data();
        dir.people[0].id = "p\0x".into();
        openai.credentials[0].id = "key\0x".into();
        for t in 1..=3 {
            s.write_snapshot(
                t,
                &[ok("dir", "scim", dir.clone()), ok("openai", "openai", openai.clone())],
            )
            .unwrap();
        }
        let snap = s.latest_snapshot().unwrap().unwrap();
        assert_eq!(snap.data.people.len(), 2);
        assert!(snap.data.people.iter().all(|p| !p.absent));
        assert!(snap.data.people.iter().any(|p| p.id == "p\u{fffd}x"));
        assert_eq!(snap.data.credentials[0].id, "key\u{fffd}x");
        assert_eq!(s.stored_rows().unwrap(), 8);
    }
);

engines!(
    /// A decision's text carrying a NUL (a key's hostile name in its label) is stored as U+FFFD
    /// and its batch's digest is taken over what is stored: `audit verify` still passes.
    a_decision_with_a_nul_in_its_text_verifies,
    |db: &TestDb| {
        let mut s = db.open();
        let mut d = nd("k\0", Verdict::Revoke);
        d.label = "key deploy\0key".into();
        d.justification = Some("left\0".into());
        s.record_decisions(&[d], "r", Some(1), 10).unwrap();
        let stored = &s.decisions().unwrap()[0];
        assert_eq!(stored.d.label, "key deploy\u{fffd}key");
        assert_eq!(stored.d.target.id, "k\u{fffd}");
        assert_eq!(verified(&s), 1);
    }
);

engines!(decisions_undo_and_the_audit_chain, |db: &TestDb| {
    let mut s = db.open();
    let b1 = s
        .record_decisions(
            &[nd("k1", Verdict::Revoke), nd("k2", Verdict::Revoke)],
            "rev@x.com",
            Some(1),
            10,
        )
        .unwrap();
    let b2 = s
        .record_decisions(&[nd("k1", Verdict::Certify)], "rev@x.com", Some(1), 11)
        .unwrap();
    assert_eq!((b1, b2), (1, 2));
    assert_eq!(s.set_batch_undone(b2, true, "rev@x.com", 12).unwrap(), 1);
    drop(s);
    let s = db.open();
    let all = s.decisions().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all.iter().map(|d| d.id).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(all[2].undone);
    let log = s.audit_entries().unwrap();
    assert_eq!(
        log.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["decide", "decide", "undo"]
    );
    assert_eq!(verified(&s), 3);
});

fn item(seq: i64, key: &str, reviewer: &str) -> Item {
    Item {
        seq,
        target: Target::new("openai", "openai", "project_key", key),
        label: format!("key {key}"),
        person: Some("ann@x.com".into()),
        resource_id: Some("proj_1".into()),
        resource: Some("Prod".into()),
        role: None,
        via: None,
        rules: vec!["dormant-key".into()],
        last_used: None,
        created_at: Some(5),
        fingerprint: format!("fp{seq}"),
        reviewer: reviewer.into(),
        routed_by: "default".into(),
        recommendation: None,
        change: None,
        carried: None,
    }
}

engines!(a_campaign_from_creation_to_close, |db: &TestDb| {
    let mut s = db.open();
    let (dir, openai) = data();
    let snap = s
        .write_snapshot(
            100,
            &[ok("dir", "scim", dir), ok("openai", "openai", openai)],
        )
        .unwrap();
    let (scope, routing) = (Scope::default(), Routing::default());
    let new = NewCampaign {
        name: "q4",
        snapshot_id: snap,
        due: "2026-12-31",
        scope: &scope,
        routing: &routing,
        on_close: OnClose::Revoke,
        since: None,
    };
    let items: Vec<Item> = (1..=4)
        .map(|i| {
            item(
                i,
                &format!("k{i}"),
                if i <= 2 { "ann@x.com" } else { "bob@x.com" },
            )
        })
        .collect();
    let id = s.create_campaign(&new, &items, "owner@x.com", 101).unwrap();
    let e = s
        .create_campaign(&new, &items, "owner@x.com", 101)
        .unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");
    assert_eq!(s.queue_items(id, &["ann@x.com".into()]).unwrap().len(), 2);
    let staged = vec![
        (1, Some(nd("k1", Verdict::Certify))),
        (2, Some(nd("k2", Verdict::Revoke))),
    ];
    assert_eq!(s.stage(id, &staged, 102).unwrap(), 2);
    let (_, n) = s.submit(id, &[1, 2], "ann@x.com", snap, 103).unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        s.delegate(id, &[3], "bob@x.com", "cat@x.com", "on leave", 104)
            .unwrap(),
        1
    );
    let handed = s.queue_items(id, &["cat@x.com".into()]).unwrap();
    assert_eq!(handed.len(), 1);
    assert!(handed[0].item.routed_by.contains("on leave"));
    s.sign_off(id, "ann@x.com", &serde_json::json!({"certify": 1}), 105)
        .unwrap();
    assert!(
        s.sign_off(id, "ann@x.com", &serde_json::json!({}), 106)
            .is_err()
    );
    assert_eq!(s.close_campaign(id, "owner@x.com", snap, 107).unwrap(), 2);
    let e = s.stage(id, &staged, 108).unwrap_err();
    assert!(e.to_string().contains("closed"), "{e}");
    let c = s.campaign("q4").unwrap();
    assert_eq!(c.closed_by.as_deref(), Some("owner@x.com"));
    assert_eq!(s.sign_offs(id).unwrap().len(), 1);
    assert_eq!(s.delegations(id).unwrap()[0].to, "cat@x.com");
    let items = s.campaign_items(id).unwrap();
    assert!(items.iter().all(|i| i.decided()));
    assert_eq!(items[3].outcome.as_deref(), Some("revoke"));
    assert_eq!(s.decisions().unwrap().len(), 4);
    // create, submit, delegate, sign-off, close.
    assert_eq!(verified(&s), 5);
});

engines!(a_plan_is_journalled_locked_and_resumable, |db: &TestDb| {
    let mut s = db.open();
    s.record_decisions(
        &[nd("k1", Verdict::Revoke), nd("k2", Verdict::Revoke)],
        "r",
        Some(1),
        10,
    )
    .unwrap();
    let ids: Vec<i64> = s.decisions().unwrap().iter().map(|d| d.id).collect();
    let plan = s
        .create_plan(
            &[call(vec![ids[0]], "/a/k1"), call(vec![ids[1]], "/a/k2")],
            "r",
            Some(1),
            12,
        )
        .unwrap();
    assert_eq!(s.unfinished_plan().unwrap(), Some(plan));
    s.lock_plan(plan, "r", 13).unwrap();
    assert!(s.plan_lock(plan).unwrap().is_some());
    let rows = s.journal(plan).unwrap();
    s.journal_sent(&rows[0], "r", 14).unwrap();
    s.journal_result(&rows[0], RowState::Done, Some(204), "deleted", "r", 15)
        .unwrap();
    let given_up = s
        .abandon_rows(plan, vec![rows[1].clone()], "r", "not needed", 16)
        .unwrap();
    assert_eq!(given_up.len(), 1);
    s.unlock_plan(plan).unwrap();
    assert!(s.plan_lock(plan).unwrap().is_none());
    let rows = s.journal(plan).unwrap();
    assert_eq!(rows[0].state, RowState::Done);
    assert_eq!(rows[0].status, Some(204));
    assert_eq!(rows[1].state, RowState::Abandoned);
    assert_eq!(s.unfinished_plan().unwrap(), None);
    assert_eq!(
        recert::engine::apply::planned(&s.all_journal().unwrap()).len(),
        2
    );
    // Planning under the write lock: a guard that refuses stores nothing.
    let e = s
        .create_plan_exclusive("r", Some(1), 17, |_| Err("nothing to do".into()))
        .unwrap_err();
    assert!(e.to_string().contains("nothing to do"));
    let next = s
        .create_plan_exclusive("r", Some(1), 18, |store| {
            assert_eq!(store.max_plan_id().unwrap(), plan);
            Ok(vec![])
        })
        .unwrap();
    assert_eq!(next, plan + 1);
    assert!(verified(&s) >= 6);
});

engines!(a_digest_is_kept_per_context, |db: &TestDb| {
    let mut s = db.open();
    let (dir, _) = data();
    let id = s.write_snapshot(100, &[ok("dir", "scim", dir)]).unwrap();
    let d = recert::reconcile::digest::Digest::default();
    s.save_digest(id, "ctx-a", &d).unwrap();
    assert!(s.digest(id, "ctx-a").unwrap().is_some());
    s.save_digest(id, "ctx-b", &d).unwrap();
    assert!(s.digest(id, "ctx-a").unwrap().is_none());
    assert!(s.digest(id, "ctx-b").unwrap().is_some());
    assert_eq!(s.snapshot_header(id).unwrap().sources.len(), 1);
});

engines!(
    many_writers_at_once_lose_and_double_nothing,
    |db: &TestDb| {
        drop(db.open());
        std::thread::scope(|scope| {
            for t in 0..6 {
                scope.spawn(move || {
                    let mut s = db.open();
                    for i in 0..15 {
                        s.record_decisions(
                            &[nd(&format!("k{t}-{i}"), Verdict::Revoke)],
                            &format!("r{t}@x.com"),
                            Some(1),
                            10 + i,
                        )
                        .unwrap();
                    }
                });
            }
        });
        let s = db.open();
        let all = s.decisions().unwrap();
        assert_eq!(all.len(), 90);
        let mut batches: Vec<i64> = all.iter().map(|d| d.batch).collect();
        batches.sort();
        batches.dedup();
        assert_eq!(batches.len(), 90, "every batch number once");
        assert_eq!(verified(&s), 90);
    }
);

/// The two migration tracks arrive at one schema: every table, every column, in one order
/// (a SQLite migration without its PostgreSQL twin fails here).
#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn both_migration_tracks_arrive_at_one_schema() {
    let (lite, pg) = (TestDb::sqlite(), TestDb::postgres());
    let (lite, pg) = (lite.open().tables().unwrap(), pg.open().tables().unwrap());
    assert!(lite.len() >= 20, "{lite:?}");
    assert_eq!(lite, pg);
}

/// A snapshot reads back in one order from either engine, whatever the PostgreSQL database's
/// locale: SQLite compares text by code point, and so must PostgreSQL, or the same snapshot
/// would list (and judge, and digest) its objects in another order in team mode.
#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn a_database_in_a_natural_language_locale_reads_back_in_sqlites_order() {
    let ids = ["b", "B", "a", "_x", "C", "é", "Z9", "z10"];
    let (mut dir, mut openai) = data();
    dir.people = ids
        .iter()
        .map(|i| person(i, &format!("{i}@x.com")))
        .collect();
    openai.credentials = ids
        .iter()
        .map(|i| recert::model::Credential {
            id: format!("key_{i}"),
            ..openai.credentials[0].clone()
        })
        .collect();
    let read = |db: &TestDb| {
        let mut s = db.open();
        s.write_snapshot(
            1,
            &[
                ok("dir", "scim", dir.clone()),
                ok("openai", "openai", openai.clone()),
            ],
        )
        .unwrap();
        let snap = s.latest_snapshot().unwrap().unwrap();
        let people: Vec<String> = snap.data.people.iter().map(|p| p.id.clone()).collect();
        let keys: Vec<String> = snap.data.credentials.iter().map(|c| c.id.clone()).collect();
        (people, keys)
    };
    let lite = read(&TestDb::sqlite());
    let mut sorted: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    sorted.sort();
    assert_eq!(lite.0, sorted, "SQLite: by code point");
    assert_eq!(read(&TestDb::postgres_natural_order()), lite);
}

/// A PostgreSQL database that holds another program's tables is refused, not written into.
#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn a_database_holding_other_tables_is_refused() {
    let db = TestDb::postgres();
    recert::store::testkit::admin_sql(&db.url().unwrap(), "CREATE TABLE theirs (x int)");
    let e = db.try_open().err().expect("refused");
    assert!(e.to_string().contains("did not create"), "{e}");
}

engines!(
    /// A batch whose call went out cannot be withdrawn, and a call whose decisions were all
    /// withdrawn is never marked sent (so never sent): each check in the same transaction as
    /// the change it guards.
    a_sent_call_pins_its_decisions_and_a_withdrawn_call_is_not_sent,
    |db: &TestDb| {
        let mut s = db.open();
        let b1 = s
            .record_decisions(&[nd("k1", Verdict::Revoke)], "r", Some(1), 10)
            .unwrap();
        let b2 = s
            .record_decisions(&[nd("k2", Verdict::Revoke)], "r", Some(1), 11)
            .unwrap();
        let ids: Vec<i64> = s.decisions().unwrap().iter().map(|d| d.id).collect();
        let plan = s
            .create_plan(
                &[call(vec![ids[0]], "/a/k1"), call(vec![ids[1]], "/a/k2")],
                "r",
                Some(1),
                12,
            )
            .unwrap();
        let rows = s.journal(plan).unwrap();
        // k1's call goes out: its batch is pinned.
        s.journal_sent(&rows[0], "r", 13).unwrap();
        let e = s.set_batch_undone(b1, true, "r", 14).unwrap_err();
        assert!(e.to_string().contains(&format!("plan #{plan}")), "{e}");
        assert!(!s.decisions().unwrap()[0].undone);
        // k2's call has not gone out: its batch can be withdrawn, and then it is not sent.
        s.set_batch_undone(b2, true, "r", 15).unwrap();
        let e = s.journal_sent(&rows[1], "r", 16).unwrap_err();
        assert!(e.to_string().contains("withdrawn"), "{e}");
        assert_eq!(s.journal(plan).unwrap()[1].state, RowState::Pending);
        // Redo is always allowed.
        s.set_batch_undone(b2, false, "r", 17).unwrap();
        s.journal_sent(&rows[1], "r", 18).unwrap();
    }
);

/// Fill a store with one of everything: two snapshots (one source carried), decisions with
/// an undo, a campaign taken to close, a plan with a sent call.
fn fill(s: &mut Store) {
    let (dir, openai) = data();
    let first = s
        .write_snapshot(
            100,
            &[
                ok("dir", "scim", dir.clone()),
                ok("openai", "openai", openai),
            ],
        )
        .unwrap();
    let snap = s
        .write_snapshot(200, &[ok("dir", "scim", dir), failed("openai", "openai")])
        .unwrap();
    assert!(snap > first);
    s.save_digest(snap, "ctx", &Default::default()).unwrap();
    let b = s
        .record_decisions(
            &[nd("k1", Verdict::Revoke), nd("k2", Verdict::Certify)],
            "r@x.com",
            Some(snap),
            10,
        )
        .unwrap();
    s.set_batch_undone(b, true, "r@x.com", 11).unwrap();
    s.set_batch_undone(b, false, "r@x.com", 12).unwrap();
    let id = recert::store::testkit::campaign(
        s,
        "q4",
        snap,
        &[item(1, "k1", "ann@x.com"), item(2, "k2", "bob@x.com")],
        OnClose::Revoke,
    );
    s.stage(id, &[(1, Some(nd("k1", Verdict::Certify)))], 14)
        .unwrap();
    s.submit(id, &[1], "ann@x.com", snap, 15).unwrap();
    s.delegate(id, &[2], "bob@x.com", "cat@x.com", "away", 16)
        .unwrap();
    s.close_campaign(id, "owner@x.com", snap, 17).unwrap();
    let ids: Vec<i64> = s.decisions().unwrap().iter().map(|d| d.id).collect();
    let plan = s
        .create_plan(&[call(vec![ids[0]], "/a/k1")], "r@x.com", Some(snap), 18)
        .unwrap();
    let rows = s.journal(plan).unwrap();
    s.journal_sent(&rows[0], "r@x.com", 19).unwrap();
    s.journal_result(&rows[0], RowState::Done, Some(204), "gone", "r@x.com", 20)
        .unwrap();
}

/// Everything a store holds, as recert reads it.
fn everything(s: &Store) -> String {
    let snaps: Vec<_> = (1..=s.latest_snapshot_id().unwrap().unwrap())
        .map(|id| s.snapshot(id).unwrap())
        .collect();
    let id = s.campaign("q4").unwrap().id;
    format!(
        "{snaps:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        s.decisions().unwrap(),
        s.audit_entries().unwrap(),
        s.campaigns().unwrap(),
        s.campaign_items(id).unwrap(),
        s.sign_offs(id).unwrap(),
        s.delegations(id).unwrap(),
        s.all_journal().unwrap(),
        s.digest(2, "ctx").unwrap(),
    )
}

#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn a_store_copies_into_postgresql_and_back_whole() {
    let (lite, pg, back) = (TestDb::sqlite(), TestDb::postgres(), TestDb::sqlite());
    let mut s = lite.open();
    fill(&mut s);
    let want = everything(&s);
    let copied = s.copy_to(&mut pg.open()).unwrap();
    assert!(copied.audit_entries >= 10, "{copied:?}");
    assert!(
        copied
            .rows
            .iter()
            .any(|(t, n)| t == "grants_rows" && *n == 3),
        "{copied:?}"
    );
    // Both snapshots' three grants, held once: the second carried them.
    assert_eq!(everything(&pg.open()), want);
    // The copy goes on where the source left off: new ids follow the copied ones.
    let mut p = pg.open();
    let next = p
        .record_decisions(&[nd("k9", Verdict::Revoke)], "r@x.com", Some(2), 30)
        .unwrap();
    assert_eq!(
        next,
        s.decisions()
            .unwrap()
            .iter()
            .map(|d| d.batch)
            .max()
            .unwrap()
            + 1
    );
    assert!(
        p.write_snapshot(300, &[ok("dir", "scim", data().0)])
            .unwrap()
            == 3
    );
    // And back into SQLite, whole.
    let before = everything(&p);
    p.copy_to(&mut back.open()).unwrap();
    assert_eq!(everything(&back.open()), before);
    // Never over a store that holds anything.
    let e = s.copy_to(&mut pg.open()).unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");
    assert_eq!(everything(&pg.open()), before);
}

#[test]
fn a_store_whose_chain_does_not_verify_is_not_copied() {
    let (from, to) = (TestDb::sqlite(), TestDb::sqlite());
    let mut s = from.open();
    fill(&mut s);
    drop(s);
    let db = match &from {
        TestDb::Sqlite(d) => d.path().join("recert.db"),
        _ => unreachable!(),
    };
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute("UPDATE decisions SET verdict = 'certify' WHERE id = 1", [])
        .unwrap();
    drop(conn);
    let e = from.open().copy_to(&mut to.open()).unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    assert_eq!(to.open().latest_snapshot_id().unwrap(), None);
}

engines!(
    /// A reviewer's submit that commits while a close waits for the writer lock stands: the
    /// close judges only the items still undecided once it holds the lock. It read the items
    /// before taking the lock, and gave a just-certified item the closing policy's revoke
    /// (both commands said they succeeded; `recert plan` then planned the revoke).
    a_close_waiting_for_a_submit_leaves_what_it_decided,
    |db: &TestDb| {
        let mut s = db.open();
        let (dir, _) = data();
        let snap = s.write_snapshot(1, &[ok("dir", "scim", dir)]).unwrap();
        let id = recert::store::testkit::campaign(
            &mut s,
            "q",
            snap,
            &[item(1, "k1", "ann@x.com"), item(2, "k2", "ann@x.com")],
            OnClose::Revoke,
        );
        let held = db.hold_writer();
        let mut closer = db.open();
        let closing =
            std::thread::spawn(move || closer.close_campaign(id, "owner@x.com", snap, 5));
        std::thread::sleep(std::time::Duration::from_millis(700));
        held.batch(&format!(
            "UPDATE campaign_items SET outcome = 'certify', outcome_by = 'ann@x.com' WHERE campaign_id = {id} AND seq = 1"
        ));
        held.commit();
        assert_eq!(closing.join().unwrap().unwrap(), 1, "one item left undecided");
        let items = s.campaign_items(id).unwrap();
        assert_eq!(items[0].outcome.as_deref(), Some("certify"));
        assert_eq!(items[0].outcome_by.as_deref(), Some("ann@x.com"));
        assert_eq!(items[1].outcome.as_deref(), Some("revoke"));
        let ds = s.decisions().unwrap();
        assert!(
            !ds.iter().any(|d| d.d.target.id == "k1"),
            "no policy decision for the certified item: {:?}",
            ds.iter().map(|d| &d.d.target.id).collect::<Vec<_>>()
        );
    }
);
