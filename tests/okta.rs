//! The Okta directory source against the simulator's Okta API over real HTTP: the same people
//! as the SCIM directory of the same world, the same findings as the planted truth, `Link`
//! paging, Okta's rate-limit headers, its 429s and error objects, and broken paging.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use recert::config::Config;
use recert::model::Person;
use recert::sim::faults::Faults;
use recert::sim::world::Size;
use recert::sim::{RunningSim, SimOptions};
use recert::store::Store;

/// The simulator's config with its directory read from Okta instead of SCIM; `extra` is added
/// to the Okta source.
fn okta_config(sim: &RunningSim, extra: &str) -> Config {
    let text = sim.config_toml_with(recert::sim::Directory::Okta).replace(
        &format!("base_url = \"{}\"\n", sim.okta_url()),
        &format!("base_url = \"{}\"\n{extra}\n", sim.okta_url()),
    );
    assert!(text.contains("kind = \"okta\""), "{text}");
    assert!(text.contains(&format!("\n{extra}\n")), "{text}");
    Config::parse(&text, std::path::Path::new("test")).unwrap()
}

async fn sim_with(size: Size, seed: u64, faults: &str, okta_rate: (u32, Duration)) -> RunningSim {
    recert::sim::start(SimOptions {
        size,
        seed,
        now: chrono::Utc::now().timestamp(),
        faults: Faults::parse(faults).unwrap(),
        okta_rate,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// What a person is to recert, whichever directory said it.
#[derive(Debug, PartialEq, Eq)]
struct Facts {
    emails: Vec<String>,
    active: bool,
    department: Option<String>,
    title: Option<String>,
    groups: Vec<String>,
    employee_type: Option<String>,
}

/// Each person's facts, by login.
fn facts(people: &[Person]) -> BTreeMap<String, Facts> {
    people
        .iter()
        .map(|p| {
            let mut emails: Vec<String> = p.emails.iter().map(|e| e.to_lowercase()).collect();
            emails.sort();
            let f = Facts {
                emails,
                active: p.active,
                department: p.department.clone(),
                title: p.title.clone(),
                groups: p.groups.clone(),
                employee_type: p.employee_type.clone(),
            };
            (p.user_name.to_lowercase(), f)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_gives_the_same_people_and_findings_as_the_scim_directory() {
    for (size, seed) in [(Size::Small, 3), (Size::Medium, 4)] {
        let sim = sim_with(size, seed, "", (1000, Duration::from_secs(60))).await;
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let scim = config(&sim, "");
        let r = sync_once(&scim, &mut store).await;
        assert_eq!(r.failed(), 0, "{:?}", r.lines());
        let from_scim = people(&store);

        let dir2 = tempfile::tempdir().unwrap();
        let mut store2 = Store::open(dir2.path()).unwrap();
        let okta = okta_config(&sim, "");
        let r = sync_once(&okta, &mut store2).await;
        assert_eq!(r.failed(), 0, "{:?}", r.lines());
        let from_okta = people(&store2);
        assert_eq!(
            from_okta.len(),
            from_scim.len(),
            "every person, the deactivated too"
        );
        assert!(from_okta.iter().any(|p| !p.active), "some have left");
        assert_eq!(facts(&from_okta), facts(&from_scim));
        // Managers resolve to the manager's Okta id.
        let by_id: BTreeMap<&str, &Person> = from_okta.iter().map(|p| (p.id.as_str(), p)).collect();
        let managed = from_okta.iter().filter(|p| p.manager_id.is_some()).count();
        assert!(managed > 0);
        for p in from_okta.iter().filter(|p| p.manager_id.is_some()) {
            assert!(
                by_id.contains_key(p.manager_id.as_deref().unwrap()),
                "{}'s manager {:?} is a person",
                p.user_name,
                p.manager_id
            );
        }
        let truth = recert::sim::truth_for(
            &sim.state.world.read().unwrap(),
            recert::sim::Directory::Okta,
        );
        assert_eq!(
            keys(&latest_findings(&okta, &store2)),
            keys(&truth),
            "{size:?}"
        );
    }
}

/// Small pages walk the `Link` headers to the end; a spent rate-limit window holds requests
/// until it resets (the headers say when), so none is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_pages_and_a_tight_rate_limit_complete_without_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let sim = recert::sim::start(SimOptions {
        size: Size::Small,
        seed: 5,
        now: chrono::Utc::now().timestamp(),
        okta_rate: (15, Duration::from_secs(2)),
        request_log: Some(log.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = okta_config(&sim, "page_size = 7\nconcurrency = 4");
    let r = sync_once(&cfg, &mut store).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let truth = recert::sim::truth_for(
        &sim.state.world.read().unwrap(),
        recert::sim::Directory::Okta,
    );
    assert_eq!(keys(&latest_findings(&cfg, &store)), keys(&truth));
    let served = served(&log);
    let okta: Vec<&recert::sim::Served> = served
        .iter()
        .filter(|s| s.path.starts_with("/okta/"))
        .collect();
    assert!(
        okta.len() > 15,
        "small pages take more requests than one window holds: {}",
        okta.len()
    );
    let refused: Vec<_> = okta.iter().filter(|s| s.status == 429).collect();
    assert!(
        refused.is_empty(),
        "requests went out into a spent window: {refused:?}"
    );
}

/// Okta's 429 says when the window resets, not how long to wait: a storm of them is outlasted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_429s_with_a_reset_time_are_outlasted() {
    let sim = sim_with(
        Size::Small,
        6,
        "429:0.3@/okta/",
        (1000, Duration::from_secs(60)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = okta_config(&sim, "");
    let r = sync_once(&cfg, &mut store).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let truth = recert::sim::truth_for(
        &sim.state.world.read().unwrap(),
        recert::sim::Directory::Okta,
    );
    assert_eq!(keys(&latest_findings(&cfg, &store)), keys(&truth));
}

/// A wrong token: Okta's own error (code and summary), the source, what to do, and never the
/// token, even when the server echoes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_okta_token_says_what_okta_said_and_what_to_do() {
    let sim = sim_with(Size::Small, 7, "", (1000, Duration::from_secs(60))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = okta_config(&sim, "");
    let wrong = "00QCjAl4MlV-WPXMwrongtokenwrongtoken0HmjFx";
    let r = sync_with_key(&cfg, &mut store, wrong).await;
    let err = error_of(&r, recert::sim::Directory::Okta.source_name());
    assert!(err.contains("E0000011 Invalid token provided"), "{err}");
    assert!(err.contains("/api/v1/"), "{err}");
    assert!(err.contains("RECERT_SIM_KEY"), "{err}");
    assert!(!err.contains(wrong), "{err}");

    // The same with a server that echoes the presented credential.
    let sim = sim_with(
        Size::Small,
        7,
        "echo@/okta/",
        (1000, Duration::from_secs(60)),
    )
    .await;
    let cfg = okta_config(&sim, "");
    let r = sync_with_key(&cfg, &mut store, wrong).await;
    let err = error_of(&r, recert::sim::Directory::Okta.source_name());
    assert!(!err.contains(wrong), "{err}");
    assert!(!err.contains("wrongtoken"), "{err}");
}

/// A `Link` that never ends, or names the same next page again, fails the source clearly and
/// keeps the last good snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_okta_paging_fails_clearly() {
    for (fault, says) in [
        ("endless@/okta/api/v1/users", "never reached its end"),
        ("repeat@/okta/api/v1/users", "repeated its next page"),
    ] {
        let sim = sim_with(Size::Small, 8, fault, (100_000, Duration::from_secs(60))).await;
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let cfg = okta_config(&sim, "max_pages = 50");
        let r = sync_once(&cfg, &mut store).await;
        let err = error_of(&r, recert::sim::Directory::Okta.source_name());
        assert!(err.contains(says), "{fault}: {err}");
        assert!(err.contains("/api/v1/"), "{fault}: {err}");
    }
}

/// An Okta token whose role may not read the apps or the System Log: the people are read,
/// those parts are unknown (so `outside-idp` and `failed-deprovision` make no judgement), and
/// every other finding stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_app_lists_and_system_log_judge_nobody_and_fail_nothing() {
    let sim = sim_with(
        Size::Small,
        42,
        "403@/okta/api/v1/apps/,403@/okta/api/v1/logs",
        (1000, Duration::from_secs(60)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = okta_config(&sim, "");
    let r = sync_once(&cfg, &mut store).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let d = store.latest_snapshot().unwrap().unwrap().data;
    assert_eq!(d.apps.len(), 3);
    assert!(
        d.apps
            .iter()
            .all(|a| !a.assignments_known && !a.pushes_known && a.name.is_none())
    );
    let truth: Vec<_> = recert::sim::truth_for(
        &sim.state.world.read().unwrap(),
        recert::sim::Directory::Okta,
    )
    .into_iter()
    .filter(|f| !matches!(&*f.rule, "outside-idp" | "failed-deprovision"))
    .collect();
    assert!(truth.iter().any(|f| f.rule == "dormant-sign-in"));
    assert_eq!(keys(&latest_findings(&cfg, &store)), keys(&truth));
}

/// Okta's shapes for the apps: app users by `scope` (USER direct, GROUP through an assigned
/// group, named), System Log events matched to people by target id, `lastLogin`, the leave
/// date from the configured profile attribute; pages of the System Log and app users walked
/// by `Link` under a tight rate limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_users_system_log_and_sign_ins_are_read_as_okta_serves_them() {
    let sim = sim_with(
        Size::Medium,
        5,
        "429:0.1@/okta/api/v1/logs",
        (200, Duration::from_secs(1)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = okta_config(&sim, "");
    let r = sync_once(&cfg, &mut store).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let d = store.latest_snapshot().unwrap().unwrap().data;
    let w = sim.state.world.read().unwrap();
    let okta_id = |u: &str| format!("00u{u}");
    for (source, app) in &w.idp.apps {
        let got = d.apps.iter().find(|a| &a.app_source == source).unwrap();
        assert_eq!(got.id, app.okta_id);
        assert_eq!(got.name.as_deref(), Some(app.name.as_str()));
        let want: std::collections::BTreeSet<String> = w
            .directory
            .users
            .values()
            .filter(|u| u.active && w.idp.assigned(&w, source, &u.id))
            .map(|u| okta_id(&u.id))
            .collect();
        let read: std::collections::BTreeSet<String> = d
            .app_access
            .iter()
            .filter(|x| &x.app_source == source && x.assigned)
            .map(|x| x.person_id.clone())
            .collect();
        assert!(want.is_subset(&read), "{source}: every current assignee");
        assert!(
            d.app_access
                .iter()
                .filter(|x| &x.app_source == source)
                .any(|x| x.via.as_deref().is_some_and(|v| v.starts_with("dept-"))),
            "{source}: a group named"
        );
        let pushes = w
            .idp
            .pushes
            .iter()
            .filter(|p| &p.app_source == source)
            .count();
        let read_pushes = d
            .app_access
            .iter()
            .filter(|x| &x.app_source == source && x.push_kind.is_some())
            .count();
        assert!(pushes == 0 || read_pushes > 0, "{source}");
    }
    let by_id: BTreeMap<&str, &Person> = d.people.iter().map(|p| (p.id.as_str(), p)).collect();
    for (u, t) in &w.idp.last_sign_in {
        assert_eq!(by_id[okta_id(u).as_str()].signals.last_sign_in, Some(*t));
    }
    for (u, t) in &w.idp.leave_at {
        assert_eq!(by_id[okta_id(u).as_str()].signals.leave_at, Some(*t));
    }
    assert!(d.people.iter().all(|p| p.signals.sign_in_known));
}

/// An API Services app signs in with its private key (`private_key_jwt`, RS256, its `kid`) at
/// the org authorization server, for the read scopes, and reads what an API token reads. A
/// wrong key id, a key that is not a key, and an app that demands DPoP each say what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_app_signs_in_with_its_private_key() {
    let sim = sim_with(Size::Small, 9, "", (1000, Duration::from_secs(60))).await;
    let app = format!(
        "client_id = \"{}\"\nkey_id = \"{}\"",
        recert::sim::assertion::OKTA_CLIENT_ID,
        recert::sim::assertion::OKTA_KEY_ID
    );
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = okta_config(&sim, &app);
    let r = sync_with_directory_key(&cfg, &mut store, SIM_CLIENT_KEY).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let truth = recert::sim::truth_for(
        &sim.state.world.read().unwrap(),
        recert::sim::Directory::Okta,
    );
    assert_eq!(keys(&latest_findings(&cfg, &store)), keys(&truth));

    for (extra, key, says) in [
        (
            app.replace("sim-key-1", "another-key"),
            SIM_CLIENT_KEY.to_string(),
            "the app's JWKS",
        ),
        (
            app.clone(),
            "00QCjAl4MlV-an-api-token-not-a-key".to_string(),
            "its key cannot be used",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let cfg = okta_config(&sim, &extra);
        let r = sync_with_directory_key(&cfg, &mut store, &key).await;
        let e = error_of(&r, recert::sim::Directory::Okta.source_name());
        assert!(e.contains(says), "{e}");
        assert!(
            !e.contains("MII") && !e.contains("an-api-token"),
            "never the key: {e}"
        );
    }
    let dpop = recert::sim::start(SimOptions {
        okta_dpop: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = okta_config(&dpop, &app);
    let r = sync_with_directory_key(&cfg, &mut store, SIM_CLIENT_KEY).await;
    let e = error_of(&r, recert::sim::Directory::Okta.source_name());
    assert!(
        e.contains("invalid_dpop_proof") && e.contains("turn off"),
        "{e}"
    );
}

/// An app id Okta does not know (a typo) leaves that app unknown whole, and a System Log whose
/// pages never end leaves the provisioning outcomes unknown: each said in the log, the rules
/// that need them make no judgement, and the sync, people and every other finding stand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_app_and_an_endless_system_log_leave_parts_unknown_not_the_sync() {
    let sim = sim_with(
        Size::Small,
        42,
        "endless@/okta/api/v1/logs",
        (1000, Duration::from_secs(60)),
    )
    .await;
    let openai_app = sim.state.world.read().unwrap().idp.apps["openai"]
        .okta_id
        .clone();
    let text = sim
        .config_toml_with(recert::sim::Directory::Okta)
        .replace(&openai_app, "0oaTypo0000000000000")
        .replace(
            &format!("base_url = \"{}\"\n", sim.okta_url()),
            &format!("base_url = \"{}\"\nmax_pages = 20\n", sim.okta_url()),
        );
    let cfg = Config::parse(&text, std::path::Path::new("test")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let r = sync_once(&cfg, &mut store).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let d = store.latest_snapshot().unwrap().unwrap().data;
    let typo = d.apps.iter().find(|a| a.app_source == "openai").unwrap();
    assert!(!typo.assignments_known && !typo.pushes_known && typo.name.is_none());
    assert!(
        d.apps
            .iter()
            .filter(|a| a.app_source != "openai")
            .all(|a| a.assignments_known && !a.pushes_known)
    );
    // No provisioning outcomes read: no failed push explains an unassigned account, so it is
    // `outside-idp` (the oracle that knows no pushes says so too), except on the app it could
    // not find.
    let truth: Vec<_> = recert::sim::truth_without_pushes(
        &sim.state.world.read().unwrap(),
        recert::sim::Directory::Okta,
    )
    .into_iter()
    .filter(|f| !(f.rule == "outside-idp" && f.source == "openai"))
    .collect();
    assert!(truth.iter().any(|f| f.rule == "outside-idp"));
    assert_eq!(keys(&latest_findings(&cfg, &store)), keys(&truth));
}
