//! For several seeds and sizes, the gaps recert finds through the real connectors equal the
//! gaps the simulator planted: nothing missed, nothing extra.

mod common;

use common::*;
use recert::reconcile::reconcile;
use recert::sim::world::Size;
use recert::store::Store;

async fn check(size: Size, seed: u64) {
    let sim = start(size, seed, "").await;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let r = sync_once(&config(&sim, ""), &mut store).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let truth = sim.state.world.read().unwrap().truth.clone();
    let found = reconcile(&store.latest_snapshot().unwrap().unwrap().data);
    let (t, f) = (keys(&truth), keys(&found));
    let missed: Vec<_> = t.iter().filter(|k| !f.contains(k)).collect();
    let extra: Vec<_> = f.iter().filter(|k| !t.contains(k)).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "{size:?} seed {seed}: missed {missed:?}, extra {extra:?}"
    );
    for rule in ["leaver-with-access", "orphaned-key", "unmanaged-account"] {
        assert!(
            found.iter().any(|x| x.rule == rule),
            "{size:?} seed {seed}: no {rule}"
        );
    }
    // Severities agree too.
    for x in &found {
        let planted = truth.iter().find(|t| t.key() == x.key()).unwrap();
        assert_eq!(planted.severity, x.severity);
    }
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_org_several_seeds() {
    for seed in [1, 2, 3, 42, 1234] {
        check(Size::Small, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medium_org_several_seeds() {
    for seed in [1, 7, 99] {
        check(Size::Medium, seed).await;
    }
}
