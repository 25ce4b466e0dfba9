//! Incremental sync: a re-sync reads the windowed feeds (OpenAI's audit log, Cursor's usage
//! report and joins) only since the last good read, and judges exactly as a whole read would.

mod common;

use common::*;
use proptest::prelude::*;
use recert::model::{Finding, Provenance};
use recert::reconcile::{Context, reconcile};
use recert::sim::faults::Faults;
use recert::sim::world::{KeyOwner, OaiActor, OaiKey, OaiServiceAccount, Size};
use recert::store::Store;
use recert::sync::{self, Progress};

/// One change to the world between two syncs.
#[derive(Clone, Debug)]
enum Change {
    /// An OpenAI user signs in.
    Login(usize),
    /// An OpenAI project key is used.
    KeyUse(usize),
    /// A Cursor member is active today.
    Active(usize),
    /// An Anthropic member uses Claude Code today.
    Code(usize),
    /// An Anthropic key is used today.
    AnthropicKey(usize),
    /// A Cursor member is removed from the team.
    CursorRemove(usize),
    /// An Anthropic member leaves the org.
    AnthropicRemove(usize),
    /// An OpenAI user leaves the org.
    Remove(usize),
    /// An OpenAI user's role changes.
    Role(usize),
    /// A directory person (current or departed) makes a service account and its key.
    NewBot(usize, usize),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0usize..500).prop_map(Change::Login),
        (0usize..500).prop_map(Change::KeyUse),
        (0usize..500).prop_map(Change::Active),
        (0usize..500).prop_map(Change::Code),
        (0usize..500).prop_map(Change::AnthropicKey),
        (0usize..500).prop_map(Change::CursorRemove),
        (0usize..500).prop_map(Change::AnthropicRemove),
        (0usize..500).prop_map(Change::Remove),
        (0usize..500).prop_map(Change::Role),
        ((0usize..500), (0usize..500)).prop_map(|(p, m)| Change::NewBot(p, m)),
    ]
}

fn apply(w: &mut recert::sim::world::World, c: &Change, now: i64) {
    let pick = |n: usize, len: usize| n % len.max(1);
    match c {
        Change::Login(i) => {
            let Some(u) = w.openai.users.values().nth(pick(*i, w.openai.users.len())) else {
                return;
            };
            let actor = OaiActor::Session {
                user_id: u.id.clone(),
                email: u.email.clone(),
            };
            w.openai.log("login.succeeded", actor, None, None, now);
        }
        Change::KeyUse(i) => {
            let n = w.openai.api_keys.values().map(|m| m.len()).sum();
            if let Some(k) = w
                .openai
                .api_keys
                .values_mut()
                .flat_map(|m| m.values_mut())
                .nth(pick(*i, n))
            {
                k.last_used_at = Some(now);
            }
        }
        Change::Active(i) => {
            let n = w.cursor.members.len();
            if let Some(m) = w.cursor.members.get_mut(pick(*i, n)) {
                m.last_active = Some(now);
            }
        }
        Change::Code(i) => {
            let n = w.anthropic.users.len();
            if let Some(u) = w.anthropic.users.values_mut().nth(pick(*i, n)) {
                u.code_active = Some(now);
            }
        }
        Change::AnthropicKey(i) => {
            let n = w.anthropic.api_keys.len();
            if let Some(k) = w.anthropic.api_keys.values_mut().nth(pick(*i, n)) {
                k.last_used = Some(now);
            }
        }
        Change::CursorRemove(i) => {
            let n = w.cursor.members.len();
            if let Some(m) = w.cursor.members.get_mut(pick(*i, n)) {
                m.is_removed = true;
            }
        }
        Change::AnthropicRemove(i) => {
            let n = w.anthropic.users.len();
            if let Some(id) = w.anthropic.users.keys().nth(pick(*i, n)).cloned() {
                w.anthropic.users.remove(&id);
                for m in w.anthropic.members.values_mut() {
                    m.remove(&id);
                }
            }
        }
        Change::Remove(i) => {
            let n = w.openai.users.len();
            if let Some(id) = w.openai.users.keys().nth(pick(*i, n)).cloned() {
                w.openai.users.remove(&id);
                for users in w.openai.project_users.values_mut() {
                    users.remove(&id);
                }
            }
        }
        Change::Role(i) => {
            let n = w.openai.users.len();
            if let Some(u) = w.openai.users.values_mut().nth(pick(*i, n)) {
                u.role = if u.role == "owner" { "reader" } else { "owner" }.into();
            }
        }
        Change::NewBot(p, m) => {
            let np = w.openai.projects.len();
            let Some(project) = w.openai.projects.keys().nth(pick(*p, np)).cloned() else {
                return;
            };
            let nd = w.directory.users.len();
            let Some(maker) = w
                .directory
                .users
                .values()
                .nth(pick(*m, nd))
                .map(|u| u.user_name.clone())
            else {
                return;
            };
            let sa = format!("svc_acct_new{p}x{m}");
            let key = format!("key_new{p}x{m}");
            w.openai
                .service_accounts
                .entry(project.clone())
                .or_default()
                .insert(
                    sa.clone(),
                    OaiServiceAccount {
                        id: sa.clone(),
                        name: "new-bot".into(),
                        role: "member".into(),
                        created_at: now,
                    },
                );
            w.openai
                .api_keys
                .entry(project.clone())
                .or_default()
                .insert(
                    key.clone(),
                    OaiKey {
                        id: key.clone(),
                        name: "Secret Key".into(),
                        redacted_value: "sk-svcacct-ab...cd".into(),
                        created_at: now,
                        last_used_at: None,
                        owner: KeyOwner::ServiceAccount { id: sa.clone() },
                        owner_project_access: "active".into(),
                    },
                );
            let by = OaiActor::Session {
                user_id: "user-maker".into(),
                email: maker,
            };
            w.openai.log(
                "service_account.created",
                by.clone(),
                Some(&project),
                Some(&sa),
                now,
            );
            w.openai
                .log("api_key.created", by, Some(&project), Some(&key), now);
        }
    }
}

async fn sync_as(cfg: &recert::config::Config, store: &mut Store, full: bool) -> sync::SyncReport {
    let key = recert::secret::Secret::new(recert::sim::DEFAULT_KEY);
    let resolve = move |_: &recert::config::SourceConfig| Ok(key.clone());
    sync::sync_full(cfg, store, &resolve, Progress::Quiet, full)
        .await
        .unwrap()
}

/// A sync run at `now` by its clock (days after the last one, say).
async fn sync_on(cfg: &recert::config::Config, store: &mut Store, now: i64) -> sync::SyncReport {
    let key = recert::secret::Secret::new(recert::sim::DEFAULT_KEY);
    let resolve = move |_: &recert::config::SourceConfig| Ok(key.clone());
    let clock = move || now;
    sync::sync_at(cfg, store, &resolve, Progress::Quiet, false, &clock)
        .await
        .unwrap()
}

/// The findings and the facts of a store's latest snapshot, judged at `now`.
fn judged(store: &Store, now: i64) -> (Vec<Finding>, Vec<Provenance>) {
    let snap = store.latest_snapshot().unwrap().unwrap();
    let mut facts = snap.data.provenance.clone();
    facts.sort_by(|a, b| {
        (&a.source, &a.subject_kind, &a.subject_id, &a.fact).cmp(&(
            &b.source,
            &b.subject_kind,
            &b.subject_id,
            &b.fact,
        ))
    });
    (reconcile(&snap.data, &Context::at(now)), facts)
}

fn requests(r: &sync::SyncReport, source: &str) -> u64 {
    source_of(r, source).requests
}

fn source_of<'a>(r: &'a sync::SyncReport, name: &str) -> &'a recert::model::SourceStatus {
    r.sources.iter().find(|s| s.source == name).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The re-sync runs `days` after the first (its clock and the world's moved on alike), the
    /// changes made on that day: past `settings.full_sync_days` (7) it reads whole on its own.
    #[test]
    fn an_incremental_resync_judges_as_a_full_sync(seed in 1u64..1000, days in 0i64..10, changes in proptest::collection::vec(change(), 1..12)) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let sim = start(Size::Small, seed, "").await;
            let cfg = config(&sim, "");
            let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let mut a = Store::open(a_dir.path()).unwrap();
            let first = sync_as(&cfg, &mut a, false).await;
            // Later that day, or days later: a few hours on, so a day's boundary is crossed.
            let later = chrono::Utc::now().timestamp() + days * 86_400 + 3 * 3_600;
            {
                let mut w = sim.state.world.write().unwrap();
                w.now = later;
                for c in &changes {
                    apply(&mut w, c, later);
                }
            }
            let again = sync_on(&cfg, &mut a, later).await;
            if days >= 7 {
                // The last whole read is more than seven days old: this one is whole.
                assert_eq!(requests(&again, "cursor"), requests(&first, "cursor"), "{:?}", again.lines());
            } else {
                // It read on from the last sync: fewer report windows than a whole read.
                assert!(requests(&again, "cursor") < requests(&first, "cursor"), "{:?}", again.lines());
                // Anthropic's Claude Code report is a request a day: a few days, not ninety.
                assert!(requests(&again, "anthropic") + 80 < requests(&first, "anthropic"), "{:?}", again.lines());
            }
            let mut b = Store::open(b_dir.path()).unwrap();
            let whole = sync_on(&cfg, &mut b, later).await;
            assert_eq!(requests(&whole, "cursor"), requests(&first, "cursor"));
            let (inc, inc_facts) = judged(&a, later);
            let (full, full_facts) = judged(&b, later);
            let only = |x: &[Provenance], y: &[Provenance]| -> Vec<Provenance> {
                x.iter().filter(|p| !y.contains(p)).cloned().collect()
            };
            assert!(
                inc_facts == full_facts,
                "{changes:?} {days} days on: only in the incremental {:#?}, only in the full {:#?}",
                only(&inc_facts, &full_facts),
                only(&full_facts, &inc_facts)
            );
            assert_eq!(inc, full, "{changes:?} {days} days on");
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failed_source_and_with_full_the_feeds_are_read_whole() {
    let sim = start(Size::Small, 5, "").await;
    let cfg = config(&sim, "");
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let whole = requests(&sync_as(&cfg, &mut store, false).await, "cursor");
    let on = requests(&sync_as(&cfg, &mut store, false).await, "cursor");
    assert!(on < whole, "{on} {whole}");
    // Cursor fails: its data is carried, and the next sync reads its reports whole.
    sim.state
        .set_faults(Faults::parse("500@daily-usage-data").unwrap());
    let failed = sync_as(&cfg, &mut store, false).await;
    assert!(!source_of(&failed, "cursor").ok);
    sim.state.set_faults(Faults::default());
    let after = sync_as(&cfg, &mut store, false).await;
    assert_eq!(requests(&after, "cursor"), whole, "{:?}", after.lines());
    // On from there; then `--full` reads whole whatever the last read was.
    assert!(requests(&sync_as(&cfg, &mut store, false).await, "cursor") < whole);
    assert_eq!(
        requests(&sync_as(&cfg, &mut store, true).await, "cursor"),
        whole
    );
    // The OpenAI audit log alike: a read on from the last keeps the time of the last whole
    // read, and a whole read is its own.
    let feeds = |store: &Store| store.latest_snapshot().unwrap().unwrap().data.feeds;
    let openai = |store: &Store| -> Vec<(Option<i64>, Option<i64>)> {
        feeds(store)
            .into_iter()
            .filter(|f| f.source == "openai")
            .map(|f| (f.full_at, f.to))
            .collect()
    };
    let last = openai(&store);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    sync_as(&cfg, &mut store, false).await;
    let now = openai(&store);
    assert_eq!(now.len(), 2);
    for ((full_then, _), (full_now, to_now)) in last.iter().zip(&now) {
        assert_eq!(full_then, full_now, "read on from the last whole read");
        assert!(to_now > full_now);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    sync_as(&cfg, &mut store, true).await;
    assert!(openai(&store).iter().all(|(full, to)| full == to));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_pointed_at_another_org_reads_it_whole() {
    // One store, one source name, two organisations: nothing of the first is kept.
    let (first, second) = (
        start(Size::Small, 7, "").await,
        start(Size::Small, 8, "").await,
    );
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    sync_as(&config(&first, ""), &mut store, false).await;
    let moved = sync_as(&config(&second, ""), &mut store, false).await;
    let other = tempfile::tempdir().unwrap();
    let mut fresh = Store::open(other.path()).unwrap();
    let whole = sync_as(&config(&second, ""), &mut fresh, false).await;
    for s in ["cursor", "anthropic"] {
        assert_eq!(requests(&moved, s), requests(&whole, s), "{s}");
    }
    let now = chrono::Utc::now().timestamp();
    assert_eq!(judged(&store, now), judged(&fresh, now));
}
