//! Team mode under load: 50 reviewers, each logged in as their own database role, deciding a
//! 100,000-item campaign at once, with delegations and sign-offs in between. Nothing is lost,
//! nothing doubled, and the audit chain the database wrote verifies.

use recert::review::campaign::{Item, OnClose};
use recert::review::{NewDecision, Verdict};
use recert::secret::Secret;
use recert::store::Store;
use recert::store::team::Member;
use recert::store::testkit::{TestDb, campaign, decision, directory, item, person};

const REVIEWERS: usize = 50;
const ITEMS: usize = 100_000;
const HANDED: usize = 20;
const CHUNK: usize = 500;
const PW: &str = "correct-horse-battery";

#[test]
#[cfg_attr(
    no_postgres,
    ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
)]
fn fifty_reviewers_decide_a_hundred_thousand_items_at_once() {
    let db = TestDb::postgres();
    let tag = db.tag();
    let who: Vec<String> = (0..REVIEWERS)
        .map(|i| format!("r{i}.{tag}@x.com"))
        .collect();
    let mut admin = db.open();
    let people = who
        .iter()
        .enumerate()
        .map(|(i, e)| person(&i.to_string(), e, &[]))
        .collect();
    let snap = directory(&mut admin, people);
    let items: Vec<Item> = (1..=ITEMS as i64)
        .map(|seq| item(seq, &who[seq as usize % REVIEWERS]))
        .collect();
    let id = campaign(&mut admin, "load", snap, &items, OnClose::NoChange);
    drop(items);
    admin.team_init().unwrap();
    for w in &who {
        admin
            .add_member(w, &Secret::new(PW), Member::Reviewer { owner: false }, 3)
            .unwrap();
    }
    let barrier = std::sync::Barrier::new(REVIEWERS);
    std::thread::scope(|scope| {
        for (i, me) in who.iter().enumerate() {
            let (db, who, barrier) = (&db, &who, &barrier);
            scope.spawn(move || {
                let url = db.url_as(me, PW).unwrap();
                let mut s = Store::connect(&recert::store::Target::parse(&url).unwrap()).unwrap();
                assert_eq!(s.identity().unwrap().as_deref(), Some(me.as_str()));
                // Hand a few items to the next reviewer, while everyone else does the same.
                let mine: Vec<i64> = s
                    .queue_items(id, std::slice::from_ref(me))
                    .unwrap()
                    .iter()
                    .map(|c| c.item.seq)
                    .collect();
                let next = &who[(i + 1) % REVIEWERS];
                let n = s
                    .delegate(id, &mine[..HANDED], me, next, "load test", 10)
                    .unwrap();
                assert_eq!(n, HANDED);
                barrier.wait();
                // Decide everything now routed or delegated to me, in chunks, as it comes.
                let queue: Vec<i64> = s
                    .queue_items(id, std::slice::from_ref(me))
                    .unwrap()
                    .iter()
                    .filter(|c| !c.decided())
                    .map(|c| c.item.seq)
                    .collect();
                for chunk in queue.chunks(CHUNK) {
                    let staged: Vec<(i64, Option<NewDecision>)> = chunk
                        .iter()
                        .map(|&seq| {
                            let v = if seq % 3 == 0 {
                                Verdict::Revoke
                            } else {
                                Verdict::Certify
                            };
                            (seq, Some(decision(seq, v, "load")))
                        })
                        .collect();
                    assert_eq!(s.stage(id, &staged, 11).unwrap(), chunk.len());
                    let (_, n) = s.submit(id, chunk, me, snap, 12).unwrap();
                    assert_eq!(n, chunk.len());
                }
                s.sign_off(id, me, &serde_json::json!({"decided": queue.len()}), 13)
                    .unwrap();
            });
        }
    });
    let admin = db.open();
    let items = admin.campaign_items(id).unwrap();
    assert_eq!(items.len(), ITEMS);
    assert!(items.iter().all(|c| c.decided()), "every item decided");
    let decisions = admin.decisions().unwrap();
    assert_eq!(decisions.len(), ITEMS, "nothing lost, nothing doubled");
    let mut ids: Vec<i64> = items.iter().filter_map(|c| c.decision_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), ITEMS, "each item has its own decision");
    // Each decision is by the reviewer the item was with when it was decided.
    let by_id: std::collections::HashMap<i64, &recert::review::Decision> =
        decisions.iter().map(|d| (d.id, d)).collect();
    for c in &items {
        let d = by_id[&c.decision_id.unwrap()];
        assert_eq!(Some(&d.reviewer), c.outcome_by.as_ref());
        assert_eq!(&d.reviewer, &c.assigned);
    }
    assert_eq!(admin.delegations(id).unwrap().len(), REVIEWERS * HANDED);
    assert_eq!(admin.sign_offs(id).unwrap().len(), REVIEWERS);
    let (entries, verdict) = admin.verify_audit(None).unwrap();
    assert_eq!(verdict, Ok(entries.len()));
    // create + a delegation and a sign-off each + one submit per chunk.
    assert!(entries.len() >= 1 + 2 * REVIEWERS + ITEMS / CHUNK);
}
