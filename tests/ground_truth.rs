//! For several seeds and sizes, the gaps recert finds through the real connectors equal the
//! gaps the simulator planted: nothing missed, nothing extra.

mod common;

use common::*;
use recert::sim::Directory;
use recert::sim::world::Size;
use recert::store::Store;

/// The rules only an identity provider's directory (Okta, Entra) can feed.
const IDP_RULES: [&str; 4] = [
    "outside-idp",
    "failed-deprovision",
    "upcoming-leaver",
    "dormant-sign-in",
];

async fn check(size: Size, seed: u64, directory: Directory) {
    let sim = if size == Size::Large {
        // Judging, not waiting: Cursor's and Okta's per-minute limits off (their pacing has
        // its own tests), so a large org's thousands of requests do not wait out windows.
        recert::sim::start(recert::sim::SimOptions {
            size,
            seed,
            now: chrono::Utc::now().timestamp(),
            cursor_window: std::time::Duration::ZERO,
            okta_rate: (1_000_000, std::time::Duration::from_secs(60)),
            ..Default::default()
        })
        .await
        .unwrap()
    } else {
        start(size, seed, "").await
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let text = sim.config_toml_with(directory);
    let cfg = recert::config::Config::parse(&text, std::path::Path::new("test")).unwrap();
    let r = sync_once(&cfg, &mut store).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let truth = recert::sim::truth_for(&sim.state.world.read().unwrap(), directory);
    let found = latest_findings(&cfg, &store);
    let (t, f): (std::collections::HashSet<_>, std::collections::HashSet<_>) = (
        keys(&truth).into_iter().collect(),
        keys(&found).into_iter().collect(),
    );
    assert_eq!(t.len(), truth.len(), "the truth lists each finding once");
    assert_eq!(f.len(), found.len(), "recert reports each finding once");
    let missed: Vec<_> = t.difference(&f).collect();
    let extra: Vec<_> = f.difference(&t).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "{size:?} seed {seed} {directory:?}: missed {missed:?}, extra {extra:?}"
    );
    for rule in ["leaver-with-access", "orphaned-key", "unmanaged-account"] {
        assert!(
            found.iter().any(|x| x.rule == rule),
            "{size:?} seed {seed}: no {rule}"
        );
    }
    // Every world read from an identity provider has someone about to leave who holds
    // access, however small (the demo shows the rule at every size).
    if directory != Directory::Scim {
        assert!(
            found.iter().any(|x| x.rule == "upcoming-leaver"),
            "{size:?} seed {seed} {directory:?}: no upcoming-leaver"
        );
    }
    // At medium size every rule of the catalogue is present, and the activity rules on each
    // provider that reports activity: a rule silently missing from both sides cannot pass.
    if size == Size::Medium {
        for (rule, _, _) in recert::reconcile::RULES
            .iter()
            .filter(|r| directory != Directory::Scim || !IDP_RULES.contains(&r.0))
        {
            assert!(
                found.iter().any(|x| x.rule == *rule),
                "{size:?} seed {seed} {directory:?}: no {rule}"
            );
        }
        for (provider, rule) in [
            ("openai", "dormant-key"),
            ("anthropic", "dormant-key"),
            ("openai", "dormant-account"),
            ("anthropic", "dormant-account"),
            ("cursor", "dormant-account"),
            ("anthropic", "unrotated-key"),
            ("anthropic", "privileged-drift"),
            ("cursor", "privileged-drift"),
            ("anthropic", "stale-invite"),
        ] {
            assert!(
                found
                    .iter()
                    .any(|x| x.rule == rule && x.provider == provider),
                "{size:?} seed {seed}: no {rule} on {provider}"
            );
        }
    }
    // Severities agree too.
    let planted: std::collections::HashMap<_, _> =
        truth.iter().map(|t| (t.key(), t.severity)).collect();
    for x in &found {
        assert_eq!(planted[&x.key()], x.severity, "{:?}", x.key());
    }
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_org_several_seeds() {
    for seed in [1, 2, 3, 42, 1234] {
        check(Size::Small, seed, Directory::Scim).await;
    }
    for seed in [2, 42] {
        check(Size::Small, seed, Directory::Okta).await;
        check(Size::Small, seed, Directory::Entra).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medium_org_several_seeds() {
    for seed in [1, 7, 99] {
        check(Size::Medium, seed, Directory::Scim).await;
    }
}

/// With the people from Okta or Entra (every app configured), the identity-provider rules too:
/// every rule of the catalogue appears, and nothing else than the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medium_org_on_okta_and_entra() {
    check(Size::Medium, 7, Directory::Okta).await;
    check(Size::Medium, 99, Directory::Entra).await;
}

/// A large organisation (20,000 people) through each identity provider: every rule, nothing
/// missed, nothing extra.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_org_on_okta_and_entra() {
    check(Size::Large, 3, Directory::Okta).await;
    check(Size::Large, 3, Directory::Entra).await;
}
