//! The connectors against the simulator over real HTTP, one test per fault.

mod common;

use common::*;
use recert::sim::faults::Faults;
use recert::sim::world::Size;
use recert::store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_429s_completes_with_the_right_answer() {
    let f = fresh(Size::Small, 11, "429:0.3", "").await;
    let r = &f.report;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let truth = f.sim.state.world.read().unwrap().truth.clone();
    assert_eq!(keys(&latest_findings(&f.cfg, &f.store)), keys(&truth));
    // Retries happened: more requests than a clean run of the same organisation needs.
    let clean = fresh(Size::Small, 11, "", "").await;
    let c = &clean.report;
    let total = |r: &recert::sync::SyncReport| r.sources.iter().map(|s| s.requests).sum::<u64>();
    let (retried, needed) = (total(r), total(c));
    assert!(
        retried > needed,
        "{retried} requests under the storm, {needed} without"
    );
    assert_eq!(f.sim.state.requests(), retried);
}

/// A third of the requests answered 500: each was retried on the same path until it
/// succeeded, and the snapshot judges exactly as the simulator's planted truth says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let sim = recert::sim::start(recert::sim::SimOptions {
        size: Size::Small,
        seed: 12,
        now: chrono::Utc::now().timestamp(),
        faults: Faults::parse("500:0.3").unwrap(),
        request_log: Some(log.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = config(&sim, "");
    let r = sync_once(&cfg, &mut store).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let truth = sim.state.world.read().unwrap().truth.clone();
    assert_eq!(keys(&latest_findings(&cfg, &store)), keys(&truth));

    let served = served(&log);
    let failed: Vec<&recert::sim::Served> = served.iter().filter(|s| s.status == 500).collect();
    assert!(
        failed.len() > 10,
        "the fault was served: {} of {} requests",
        failed.len(),
        served.len()
    );
    // Every 500 was followed by the same request answered 200 later on.
    for (i, f) in served.iter().enumerate().filter(|(_, s)| s.status == 500) {
        assert!(
            served[i + 1..]
                .iter()
                .any(|s| s.method == f.method && s.path == f.path && s.status == 200),
            "{} {} was never retried to a 200",
            f.method,
            f.path
        );
    }
    assert_eq!(
        r.sources.iter().map(|s| s.requests).sum::<u64>(),
        served.len() as u64,
        "the report counts every request, retries included"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_cursor_ends_with_a_clear_error() {
    let f = fresh(
        Size::Small,
        1,
        "endless@organization/users",
        "max_pages = 25",
    )
    .await;
    let r = &f.report;
    let s = source(r, "openai");
    assert!(!s.ok);
    let e = s.error.as_deref().unwrap();
    assert!(
        e.contains("source 'openai'") && e.contains("/organization/users"),
        "{e}"
    );
    assert!(
        e.contains("never reached its end") && e.contains("25 pages"),
        "{e}"
    );
    assert!(source(r, "directory").ok, "the directory is unaffected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeating_cursor_is_caught_at_once() {
    // On the user list: it has no nested lists, so this is the only error that can come first.
    let sim = start(Size::Small, 1, "repeat@/openai/v1/organization/users").await;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let r = sync_once(&config(&sim, ""), &mut store).await;
    let e = error_of(&r, "openai");
    assert!(
        e.contains("repeated the cursor 'cursor-repeat'") && e.contains("/organization/users"),
        "{e}"
    );
    assert!(
        source(&r, "openai").requests < 100,
        "stopped early, not at max_pages: {} requests",
        source(&r, "openai").requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scim_server_that_ignores_start_index_is_caught() {
    let f = fresh(Size::Small, 1, "repeat@/scim/v2/Users", "page_size = 20").await;
    let r = &f.report;
    let e = error_of(r, "directory");
    assert!(
        e.contains("source 'directory'") && e.contains("/Users") && e.contains("already sent"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_body_names_the_source_and_path() {
    let f = fresh(Size::Small, 1, "truncate@organization/invites", "").await;
    let r = &f.report;
    let e = error_of(r, "openai");
    assert!(
        e.starts_with("source 'openai': GET /organization/invites"),
        "{e}"
    );
    assert!(e.contains("not valid JSON"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_says_which_source_and_how_to_set_it_without_echoing_it() {
    let sim = start(Size::Small, 1, "").await;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let wrong = "sk-admin-WrongWrongWrong1234567890";
    let r = sync_with_key(&config(&sim, ""), &mut store, wrong).await;
    assert_eq!(r.failed(), 4);
    assert_eq!(
        r.snapshot_id, None,
        "a sync where everything failed stores nothing"
    );
    assert!(store.latest_snapshot().unwrap().is_none());
    for name in ["openai", "anthropic", "cursor", "directory"] {
        let e = error_of(&r, name);
        assert!(
            e.contains(&format!("source '{name}'")) && e.contains("401"),
            "{e}"
        );
        assert!(
            e.contains("export RECERT_SIM_KEY") && e.contains(&format!("recert login {name}")),
            "{e}"
        );
        assert!(!e.contains("WrongWrong"), "the key leaked: {e}");
    }
    // Nor does it reach the database.
    drop(store);
    let db = std::fs::read(dir.path().join("recert.db")).unwrap();
    assert!(!db.windows(10).any(|w| w == b"WrongWrong"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_keeps_the_previous_snapshot() {
    let sim = start(Size::Small, 5, "").await;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = config(&sim, "max_retries = 1");
    let first = sync_once(&cfg, &mut store).await;
    assert_eq!(first.failed(), 0);
    let good = store.latest_snapshot().unwrap().unwrap();

    sim.state.set_faults(Faults::parse("500@/openai/").unwrap());
    let second = sync_once(&cfg, &mut store).await;
    let s = source(&second, "openai");
    assert!(
        !s.ok && s.error.as_deref().unwrap().contains("500"),
        "{:?}",
        s
    );
    assert_eq!(s.carried_from, first.snapshot_id);
    assert!(second.lines().iter().any(|l| l.contains("FAILED")
        && l.contains(&format!("snapshot #{}", first.snapshot_id.unwrap()))));
    let now = store.latest_snapshot().unwrap().unwrap();
    assert_eq!(Some(now.id), second.snapshot_id);
    // The failed source's last good data is kept whole, row for row. (The healthy sources were
    // fetched again; their rows may differ.)
    assert_eq!(
        only(&now.data, "openai"),
        only(&good.data, "openai"),
        "the last good data is kept whole"
    );
    assert!(!only(&now.data, "openai").accounts.is_empty());
    let judge = |snap: &recert::model::Snapshot| {
        let mut k = keys(&recert::engine::load::findings(&cfg, snap));
        k.retain(|f| f.2 == "openai");
        k
    };
    // Judged at the same moment, the carried data gives the same findings.
    let mut same_time = now.clone();
    same_time.taken_at = good.taken_at;
    assert_eq!(judge(&same_time), judge(&good));
    // The earlier snapshot itself is untouched too.
    assert_eq!(
        store.snapshot(first.snapshot_id.unwrap()).unwrap().data,
        good.data
    );
}

/// One source's rows of a snapshot.
fn only(d: &recert::model::SourceData, source: &str) -> recert::model::SourceData {
    fn keep<T: Clone>(v: &[T], f: impl Fn(&T) -> bool) -> Vec<T> {
        v.iter().filter(|x| f(x)).cloned().collect()
    }
    recert::model::SourceData {
        people: keep(&d.people, |x| x.source == source),
        accounts: keep(&d.accounts, |x| x.source == source),
        resources: keep(&d.resources, |x| x.source == source),
        grants: keep(&d.grants, |x| x.source == source),
        service_accounts: keep(&d.service_accounts, |x| x.source == source),
        credentials: keep(&d.credentials, |x| x.source == source),
        invites: keep(&d.invites, |x| x.source == source),
        apps: keep(&d.apps, |x| x.source == source),
        app_access: keep(&d.app_access, |x| x.source == source),
        provenance: keep(&d.provenance, |x| x.source == source),
        feeds: keep(&d.feeds, |x| x.source == source),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_reported_with_what_to_do() {
    let f = fresh(
        Size::Small,
        1,
        "timeout@admin_api_keys",
        "timeout_secs = 1\nmax_retries = 1",
    )
    .await;
    let e = error_of(&f.report, "openai");
    assert!(
        e.contains("/organization/admin_api_keys") && e.contains("no answer within 1s"),
        "{e}"
    );
    assert!(e.contains("timeout_secs"), "{e}");
}

/// Mutations change what the next list returns, and the rules follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_and_deactivations_show_in_the_next_sync() {
    let sim = start(Size::Small, 8, "").await;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = config(&sim, "");
    sync_once(&cfg, &mut store).await;
    let snap = store.latest_snapshot().unwrap().unwrap();
    assert!(
        recert::engine::load::findings(&cfg, &snap)
            .iter()
            .all(|f| f.rule != "leaver-with-access" || f.detail.contains("inactive"))
    );

    // Two active people with OpenAI accounts: delete one from the directory, deactivate the other.
    let dir_people: Vec<_> = snap.data.people.iter().filter(|p| p.active).collect();
    let with_account: Vec<_> = dir_people
        .iter()
        .filter(|p| {
            snap.data.accounts.iter().any(|a| {
                a.provider == "openai"
                    && a.email.as_deref().map(str::to_lowercase) == Some(p.user_name.to_lowercase())
            })
        })
        .take(2)
        .collect();
    let (gone, leaver) = (with_account[0], with_account[1]);
    let key_to_delete = snap
        .data
        .credentials
        .iter()
        .find(|c| c.kind == "project_key" && c.owner.as_ref().is_some_and(|o| o.kind == "user"))
        .unwrap();

    let http = reqwest::Client::new();
    let r = http
        .delete(format!("{}/Users/{}", sim.scim_url(), gone.id))
        .bearer_auth(recert::sim::DEFAULT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let scim = recert::connectors::client(
        cfg.source("directory").unwrap(),
        recert::secret::Secret::new(recert::sim::DEFAULT_KEY),
    );
    recert::connectors::scim::deactivate(&scim, &leaver.id)
        .await
        .unwrap();
    let r = http
        .delete(format!(
            "{}/organization/projects/{}/api_keys/{}",
            sim.openai_url(),
            key_to_delete.resource_id.as_deref().unwrap(),
            key_to_delete.id
        ))
        .bearer_auth(recert::sim::DEFAULT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["object"], "organization.project.api_key.deleted");

    sync_once(&cfg, &mut store).await;
    let next = store.latest_snapshot().unwrap().unwrap();
    assert!(
        !next
            .data
            .credentials
            .iter()
            .any(|c| c.id == key_to_delete.id),
        "deleted key is gone"
    );
    let absent = next.data.people.iter().find(|p| p.id == gone.id).unwrap();
    assert!(
        absent.absent,
        "a person deleted from the directory is remembered as absent"
    );
    assert!(
        !next
            .data
            .people
            .iter()
            .find(|p| p.id == leaver.id)
            .unwrap()
            .active
    );
    let findings = recert::engine::load::findings(&cfg, &next);
    let about = |email: &str| {
        findings
            .iter()
            .filter(|f| {
                f.subject_kind == "account"
                    && f.provider == "openai"
                    && ["leaver-with-access", "unmanaged-account"].contains(&f.rule.as_str())
                    && f.subject_email.as_deref().map(str::to_lowercase)
                        == Some(email.to_lowercase())
            })
            .map(|f| (f.rule.clone(), f.detail.clone()))
            .collect::<Vec<_>>()
    };
    let g = about(&gone.user_name);
    assert_eq!(g.len(), 1, "{g:?}");
    assert_eq!(g[0].0, "leaver-with-access");
    assert!(g[0].1.contains("removed from the directory"), "{g:?}");
    let l = about(&leaver.user_name);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(
        l[0].0 == "leaver-with-access" && l[0].1.contains("inactive"),
        "{l:?}"
    );
}

/// Cursor enforces per-minute limits with 429 and no Retry-After: the client backs off
/// exponentially and every call still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_rate_limits_without_retry_after_are_outlasted() {
    let sim = recert::sim::start(recert::sim::SimOptions {
        // Cursor's documented 20 requests a minute, with a two-second minute: 16 calls make 48
        // usage requests at once, so some must be refused and retried.
        cursor_window: std::time::Duration::from_secs(2),
        ..Default::default()
    })
    .await
    .unwrap();
    let cfg = config(&sim, "");
    let http = std::sync::Arc::new(recert::connectors::client(
        cfg.source("cursor").unwrap(),
        recert::secret::Secret::new(recert::sim::DEFAULT_KEY),
    ));
    let none = recert::connectors::feed::Prior::none();
    let calls = (0..16)
        .map(|_| recert::connectors::cursor::fetch(&http, &none, chrono::Utc::now().timestamp()));
    let results = futures::future::join_all(calls).await;
    let expected = sim
        .state
        .world
        .read()
        .unwrap()
        .cursor
        .members
        .iter()
        .filter(|m| !m.is_removed)
        .count();
    for r in &results {
        assert_eq!(
            r.as_ref().expect("every call finishes").accounts.len(),
            expected
        );
    }
    assert!(
        http.requests() > 16 * 4,
        "some calls were refused and retried: {}",
        http.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_anthropic_page_names_its_source_and_path() {
    let f = fresh(
        Size::Small,
        3,
        "truncate@/anthropic/v1/organizations/api_keys",
        "",
    )
    .await;
    let e = error_of(&f.report, "anthropic");
    assert!(
        e.starts_with("source 'anthropic': GET /v1/organizations/api_keys"),
        "{e}"
    );
    assert!(e.contains("not valid JSON"), "{e}");
    assert!(source(&f.report, "openai").ok && source(&f.report, "cursor").ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_keys_keep_their_workspace_or_the_default_one() {
    let f = fresh(Size::Small, 9, "", "").await;
    let snap = f.store.latest_snapshot().unwrap().unwrap();
    let keys: Vec<_> = snap
        .data
        .credentials
        .iter()
        .filter(|c| c.provider == "anthropic")
        .collect();
    let world = f.sim.state.world.read().unwrap();
    assert_eq!(keys.len(), world.anthropic.api_keys.len());
    for k in keys {
        let planted = &world.anthropic.api_keys[&k.id];
        assert_eq!(k.resource_id, planted.workspace_id, "{}", k.id);
        assert_eq!(k.status.as_deref(), Some(planted.status.as_str()));
        assert_eq!(
            k.owner.as_ref().map(|o| o.id.clone()),
            planted.created_by.as_ref().map(|c| c.0.clone())
        );
    }
    assert!(
        snap.data
            .resources
            .iter()
            .any(|r| r.kind == "workspace" && r.archived),
        "archived workspaces are read"
    );
}

/// Every fault kind against the Anthropic and Cursor surfaces too: storms of 429 and 500 are
/// outlasted; a truncated body, a timeout and (for Anthropic's paged lists) an endless or
/// repeating cursor end with an error naming the source and path, and leave the other sources
/// alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_on_every_provider() {
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("anthropic", "429:0.3@/anthropic/", "", None),
        ("anthropic", "500:0.3@/anthropic/", "", None),
        (
            "anthropic",
            "truncate@/anthropic/v1/organizations/users",
            "",
            Some("/v1/organizations/users"),
        ),
        (
            "anthropic",
            "endless@/anthropic/v1/organizations/users",
            "max_pages = 20\npage_size = 5",
            Some("never reached its end"),
        ),
        (
            "anthropic",
            "repeat@/anthropic/v1/organizations/users",
            "page_size = 5",
            Some("repeated the cursor"),
        ),
        (
            "anthropic",
            "timeout@/anthropic/v1/organizations/invites",
            "timeout_secs = 1\nmax_retries = 0",
            Some("no answer within 1s"),
        ),
        ("cursor", "429:0.3@/cursor/", "", None),
        ("cursor", "500:0.3@/cursor/", "", None),
        (
            "cursor",
            "truncate@/cursor/teams/members",
            "",
            Some("GET /teams/members"),
        ),
        (
            "cursor",
            "timeout@/cursor/teams/members",
            "timeout_secs = 1\nmax_retries = 0",
            Some("no answer within 1s"),
        ),
        (
            "cursor",
            "truncate@/cursor/teams/audit-logs",
            "",
            Some("GET /teams/audit-logs"),
        ),
        (
            "cursor",
            "endless@/cursor/teams/audit-logs",
            // Few pages: Cursor allows 20 audit requests a minute.
            "max_pages = 5",
            Some("never reached its end"),
        ),
    ];
    for (provider, faults, extra, expect) in cases {
        let f = fresh(Size::Small, 41, faults, extra).await;
        let s = source(&f.report, provider);
        match expect {
            None => assert!(s.ok, "{faults}: {:?}", s.error),
            Some(text) => {
                let e = error_of(&f.report, provider);
                assert!(
                    e.starts_with(&format!("source '{provider}'")) && e.contains(text),
                    "{faults}: {e}"
                );
            }
        }
        for other in ["openai", "directory"] {
            assert!(source(&f.report, other).ok, "{faults} hurt {other}");
        }
    }
}

/// Spend per key from OpenAI's costs report (grouped by `api_key_id`, last 30 days, dollars on
/// the wire) arrives in cents on every project key; keys that spent nothing read zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_spend_per_key_comes_from_the_costs_report() {
    let f = fresh(Size::Small, 51, "", "").await;
    let snap = f.store.latest_snapshot().unwrap().unwrap();
    let world = f.sim.state.world.read().unwrap();
    let window = world.now - 30 * 86_400;
    let mut spent = 0;
    for k in world.openai.api_keys.values().flat_map(|m| m.values()) {
        let expected = match k.last_used_at {
            Some(t) if t >= window - window.rem_euclid(86_400) => {
                recert::sim::world::key_spend_cents(&k.id)
            }
            _ => 0,
        };
        let got = snap.data.credentials.iter().find(|c| c.id == k.id).unwrap();
        assert_eq!(got.spend_cents, Some(expected), "{}", k.id);
        spent += (expected > 0) as usize;
    }
    assert!(spent > 0, "some keys spent something");
}

/// A malformed response that carries a key (an OpenAI service-account creation answer does)
/// never puts that key into the error, which reaches the log and the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_responses_never_leak_a_key_into_the_error() {
    let sim = start(Size::Small, 61, "").await;
    // A user whose email holds a live-looking key: it sorts early in the object, so it lands in
    // the body excerpt of the error.
    {
        let mut w = sim.state.world.write().unwrap();
        let u = w.openai.users.values_mut().next().unwrap();
        u.email = "sk-proj-LeakedLeakedLeaked0123456789".into();
    }
    let cfg = config(&sim, "");
    let http = recert::connectors::client(
        cfg.source("openai").unwrap(),
        recert::secret::Secret::new(recert::sim::DEFAULT_KEY),
    );
    // Parse a page of users as a type it is not, so the error quotes the body.
    let e = recert::connectors::openai::list_all::<std::collections::HashMap<String, bool>>(
        &http,
        "organization/users",
        &[],
        100,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("malformed"), "{e}");
    assert!(!e.contains("LeakedLeaked"), "the key leaked: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_paced_under_a_write_limit_see_no_429() {
    use recert::sim::world::KeyOwner;
    let sim = recert::sim::start(recert::sim::SimOptions {
        size: Size::Medium,
        write_limit: Some((10, std::time::Duration::from_secs(1))),
        ..Default::default()
    })
    .await
    .unwrap();
    let paths: Vec<String> = {
        let w = sim.state.world.read().unwrap();
        w.openai
            .api_keys
            .iter()
            .flat_map(|(p, keys)| {
                keys.values()
                    .filter(|k| matches!(k.owner, KeyOwner::User { .. }))
                    .map(move |k| format!("organization/projects/{p}/api_keys/{}", k.id))
            })
            .take(40)
            .collect()
    };
    assert_eq!(paths.len(), 40);
    let send_all = |http: std::sync::Arc<recert::connectors::http::Http>, paths: Vec<String>| async move {
        let calls = paths.into_iter().map(|p| {
            let http = http.clone();
            async move { http.send(reqwest::Method::DELETE, &p, &[], None).await }
        });
        futures::future::join_all(calls).await
    };
    // Paced under the limit (9 a second against 10 per window): every call succeeds at the
    // first try, across three windows.
    let cfg = config(&sim, "");
    let mut src = cfg
        .source(recert::sim::world::OPENAI_SOURCE)
        .unwrap()
        .clone();
    src.rate_per_minute = Some(540);
    let http = std::sync::Arc::new(recert::connectors::client(
        &src,
        recert::secret::Secret::new(recert::sim::DEFAULT_KEY),
    ));
    let started = std::time::Instant::now();
    for r in send_all(http.clone(), paths[..20].to_vec()).await {
        r.expect("deleted");
    }
    assert_eq!(http.requests(), 20);
    // Twenty slots 1/9 s apart: never sooner than 19/9 s.
    assert!(started.elapsed() >= std::time::Duration::from_millis(2100));
    assert!(sim.state.mutations().iter().all(|m| m.status != 429));
    // Unpaced, the limit answers 429 without Retry-After; backing off still finishes.
    src.rate_per_minute = None;
    let http = std::sync::Arc::new(recert::connectors::client(
        &src,
        recert::secret::Secret::new(recert::sim::DEFAULT_KEY),
    ));
    for r in send_all(http.clone(), paths[20..].to_vec()).await {
        r.expect("deleted after retries");
    }
    assert!(sim.state.mutations().iter().any(|m| m.status == 429));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_minute_limit_is_outlasted_even_past_max_retries() {
    // One retry allowed, and a window (3 s) longer than the first backoff steps: a request
    // refused with 429 and no Retry-After keeps backing off until the window turns, instead of
    // failing the source after its retries.
    let sim = recert::sim::start(recert::sim::SimOptions {
        cursor_window: std::time::Duration::from_secs(3),
        ..Default::default()
    })
    .await
    .unwrap();
    let cfg = config(&sim, "max_retries = 1\n");
    assert_eq!(cfg.source("cursor").unwrap().max_retries, Some(1));
    let http = std::sync::Arc::new(recert::connectors::client(
        cfg.source("cursor").unwrap(),
        recert::secret::Secret::new(recert::sim::DEFAULT_KEY),
    ));
    let none = recert::connectors::feed::Prior::none();
    let calls = (0..12)
        .map(|_| recert::connectors::cursor::fetch(&http, &none, chrono::Utc::now().timestamp()));
    let results = futures::future::join_all(calls).await;
    for r in &results {
        assert!(r.is_ok(), "{:?}", r.as_ref().err());
    }
    assert!(
        http.requests() > 12 * 4,
        "some were refused: {}",
        http.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_groups_their_members_and_their_project_access_are_read() {
    let f = fresh(Size::Small, 5, "", "").await;
    let snap = f.store.latest_snapshot().unwrap().unwrap();
    let d = &snap.data;
    let w = f.sim.state.world.read().unwrap();
    let org = &w.openai;
    assert!(!org.groups.is_empty(), "the simulator plants groups");
    // Every group is a resource; every membership a grant on it, `scim` when SCIM manages it.
    let groups: Vec<&recert::model::Resource> =
        d.resources.iter().filter(|r| r.kind == "group").collect();
    assert_eq!(groups.len(), org.groups.len());
    for g in org.groups.values() {
        let mut members: Vec<&str> = d
            .grants
            .iter()
            .filter(|x| x.resource_id == g.id)
            .map(|x| {
                assert_eq!(x.via, if g.is_scim_managed { "scim" } else { "direct" });
                x.principal_id.as_str()
            })
            .collect();
        members.sort();
        let want: Vec<&str> = g.members.iter().map(String::as_str).collect();
        assert_eq!(members, want, "members of {}", g.name);
    }
    // Each group's project access, with its project role from the roles API.
    let mut got: Vec<(String, String, String)> = d
        .grants
        .iter()
        .filter(|x| x.principal_kind == "group" && !org.roles.contains_key(x.resource_id.as_str()))
        .map(|x| {
            (
                x.resource_id.to_string(),
                x.principal_id.to_string(),
                x.role.as_deref().unwrap_or_default().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String, String)> = org
        .project_groups
        .iter()
        .flat_map(|(p, m)| m.iter().map(|(g, r)| (p.clone(), g.clone(), r.clone())))
        .collect();
    want.sort();
    assert_eq!(got, want);
}

/// Custom org roles: each is a resource; each group holding one is a grant; each user holding
/// one is a grant `direct` when assigned to them (whatever groups also give it), `group:ID`
/// through a group SCIM does not manage, `scim` through SCIM-managed groups only. The
/// simulator's `assignment_sources` are the only place the connector learns which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_custom_org_roles_and_where_each_holder_got_them_are_read() {
    let f = fresh(Size::Small, 5, "", "").await;
    let snap = f.store.latest_snapshot().unwrap().unwrap();
    let d = &snap.data;
    let w = f.sim.state.world.read().unwrap();
    let org = &w.openai;
    assert_eq!(
        org.roles.len(),
        3,
        "the simulator plants three custom roles"
    );
    let mut roles: Vec<(String, String)> = d
        .resources
        .iter()
        .filter(|r| r.kind == "role" && r.parent.is_none())
        .map(|r| (r.id.clone(), r.name.clone().unwrap_or_default()))
        .collect();
    roles.sort();
    let want: Vec<(String, String)> = org
        .roles
        .values()
        .map(|r| (r.id.clone(), format!("org role {}", r.name)))
        .collect();
    assert_eq!(roles, want, "custom roles only, never owner or reader");
    let mut got: Vec<(String, String, String)> = d
        .grants
        .iter()
        .filter(|x| org.roles.contains_key(x.resource_id.as_str()))
        .map(|x| {
            (
                x.resource_id.to_string(),
                x.principal_id.to_string(),
                x.via.to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want = Vec::new();
    for (g, rs) in &org.group_roles {
        for r in rs {
            want.push((r.clone(), g.clone(), "direct".to_string()));
        }
    }
    let mut inherited = 0;
    for u in org.users.keys() {
        for r in org.roles.keys() {
            let groups: Vec<&recert::sim::world::OaiGroup> = org
                .group_roles
                .iter()
                .filter(|(_, rs)| rs.contains(r))
                .filter_map(|(g, _)| org.groups.get(g))
                .filter(|g| g.members.contains(u))
                .collect();
            let via = if org.user_roles.get(u).is_some_and(|s| s.contains(r)) {
                "direct".to_string()
            } else if let Some(g) = groups.iter().find(|g| !g.is_scim_managed) {
                inherited += 1;
                format!("group:{}", g.id)
            } else if !groups.is_empty() {
                "scim".to_string()
            } else {
                continue;
            };
            want.push((r.clone(), u.clone(), via));
        }
    }
    want.sort();
    assert_eq!(got, want);
    assert!(inherited > 0, "some roles come through groups");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_custom_project_roles_and_where_each_holder_got_them_are_read() {
    let f = fresh(Size::Medium, 5, "", "").await;
    let snap = f.store.latest_snapshot().unwrap().unwrap();
    let d = &snap.data;
    let w = f.sim.state.world.read().unwrap();
    let org = &w.openai;
    assert!(
        org.project_roles.len() > 1,
        "the simulator plants custom roles on several projects"
    );
    // Each custom project role is a resource inside its project; predefined ones are not.
    let mut roles: Vec<(String, String, Option<String>)> = d
        .resources
        .iter()
        .filter(|r| r.kind == "role" && r.parent.is_some())
        .map(|r| {
            (
                r.id.clone(),
                r.name.clone().unwrap_or_default(),
                r.parent.clone(),
            )
        })
        .collect();
    roles.sort();
    let mut want: Vec<(String, String, Option<String>)> = org
        .project_roles
        .iter()
        .flat_map(|(p, rs)| {
            rs.values().map(move |r| {
                let project = &org.projects[p].name;
                let name = format!("project role {} in {project}", r.name);
                (r.id.clone(), name, Some(p.clone()))
            })
        })
        .collect();
    want.sort();
    assert_eq!(roles, want);
    // Who holds each, and through what: directly, through a group SCIM does not manage, or
    // only through SCIM-managed groups.
    let is_project_role = |id: &str| org.project_roles.values().any(|m| m.contains_key(id));
    let mut got: Vec<(String, String, String)> = d
        .grants
        .iter()
        .filter(|x| is_project_role(&x.resource_id))
        .map(|x| {
            (
                x.resource_id.to_string(),
                x.principal_id.to_string(),
                x.via.to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want = Vec::new();
    let mut by_group = 0;
    let none = Default::default();
    for p in org.project_roles.keys() {
        let groups = org.project_group_roles.get(p).unwrap_or(&none);
        for (g, rs) in groups {
            for r in rs {
                by_group += 1;
                want.push((r.clone(), g.clone(), "direct".to_string()));
            }
        }
        for u in org.project_users[p].keys() {
            for r in org.project_roles[p].keys() {
                let holders: Vec<&recert::sim::world::OaiGroup> = groups
                    .iter()
                    .filter(|(_, rs)| rs.contains(r))
                    .filter_map(|(g, _)| org.groups.get(g))
                    .filter(|g| g.members.contains(u))
                    .collect();
                let direct = org
                    .project_user_roles
                    .get(p)
                    .and_then(|m| m.get(u))
                    .is_some_and(|s| s.contains(r));
                let via = if direct {
                    "direct".to_string()
                } else if let Some(g) = holders.iter().find(|g| !g.is_scim_managed) {
                    format!("group:{}", g.id)
                } else if !holders.is_empty() {
                    "scim".to_string()
                } else {
                    continue;
                };
                want.push((r.clone(), u.clone(), via));
            }
        }
    }
    want.sort();
    assert_eq!(got, want);
    assert!(by_group > 0, "some groups hold a custom project role");
    // A group's project access keeps its predefined role; the custom one is a grant of its own.
    for (p, groups) in &org.project_groups {
        for (g, role) in groups {
            let access = d
                .grants
                .iter()
                .find(|x| x.resource_id == p && x.principal_id == g)
                .expect("the group's project access");
            assert_eq!(access.role.as_deref(), Some(role.as_str()));
        }
    }
    // Every one of them is in the review population, but for those the directory governs and
    // those in an archived project (which grant nothing).
    let findings = latest_findings(&f.cfg, &f.store);
    let archived = recert::model::Archived::new(d);
    for (r, principal, via) in &got {
        let id = format!("{r}/{principal}");
        let found = findings
            .iter()
            .any(|x| x.rule == "scim-uncovered-grant" && x.subject_id == id.as_str());
        let inert = archived.container("openai", r).is_some();
        assert_eq!(found, via != "scim" && !inert, "{id} via {via}");
    }
}

/// The audit log's `add_user` events say when each Cursor member joined and whether SCIM
/// added them; members who joined before the 90 days read have neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_audit_log_says_when_and_how_each_member_joined() {
    let f = fresh(Size::Medium, 4, "", "").await;
    let snap = f.store.latest_snapshot().unwrap().unwrap();
    let w = f.sim.state.world.read().unwrap();
    let window = recert::connectors::cursor::ACTIVITY_DAYS * 86_400;
    let (mut known, mut scim, mut manual) = (0, 0, 0);
    for a in snap.data.accounts.iter().filter(|a| a.provider == "cursor") {
        let email = a.email.clone().unwrap().to_lowercase();
        let added = w
            .cursor
            .audit
            .iter()
            .filter(|e| e.kind == "add_user")
            .filter(|e| e.data["email"].as_str().map(str::to_lowercase) == Some(email.clone()))
            .max_by_key(|e| e.at);
        let Some(e) = added else {
            assert_eq!((a.added_at, a.scim_managed), (None, None), "{email}");
            continue;
        };
        // Clear of the window's edge (the sync's clock is a moment later than the world's).
        if (e.at - (w.now - window)).abs() < 120 {
            continue;
        }
        if e.at < w.now - window {
            assert_eq!((a.added_at, a.scim_managed), (None, None), "{email}");
            continue;
        }
        known += 1;
        let by_scim = e.data["method"] == "scim";
        if by_scim {
            scim += 1;
        } else {
            manual += 1;
        }
        assert_eq!(
            (a.added_at, a.scim_managed),
            (Some(e.at), Some(by_scim)),
            "{email}"
        );
    }
    assert!(
        known > 20 && scim > 0 && manual > 0,
        "{known} joined in the window: {scim} by SCIM, {manual} by hand"
    );
}

/// A key the audit log refuses (403) still reads the team, without join dates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_key_without_audit_access_still_reads_the_team() {
    let f = fresh(Size::Small, 4, "403@/cursor/teams/audit-logs", "").await;
    assert!(source(&f.report, "cursor").ok, "{:?}", f.report);
    let snap = f.store.latest_snapshot().unwrap().unwrap();
    let cursor: Vec<_> = snap
        .data
        .accounts
        .iter()
        .filter(|a| a.provider == "cursor")
        .collect();
    assert!(!cursor.is_empty());
    assert!(cursor.iter().all(|a| a.added_at.is_none()));
}

/// A provider that accepts connections and never answers, or answers with headers and then
/// drips its body a byte a second, fails its source within the deadline (not after every
/// retry of every request times out, 9 × 30 s before), naming the endpoint; the other sources
/// are not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_or_dripping_provider_fails_within_the_deadline_naming_the_endpoint() {
    for fault in ["timeout", "drip"] {
        let started = std::time::Instant::now();
        let faults = format!("{fault}@organization/users");
        let f = fresh(Size::Small, 1, &faults, "deadline_secs = 3").await;
        let e = error_of(&f.report, "openai");
        assert!(
            e.contains("/organization/users") && e.contains("no answer") && e.contains("3s"),
            "{fault}: {e}"
        );
        assert!(e.contains("deadline_secs"), "{fault}: {e}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(25),
            "{fault} took {:?}",
            started.elapsed()
        );
        assert!(source(&f.report, "directory").ok, "{fault}");
    }
}

/// A body that never ends fails at the cap (the default, 256 MiB), naming the endpoint and
/// the cap, and the source keeps its last good data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_fails_at_the_cap() {
    let f = fresh(Size::Small, 1, "flood@organization/projects", "").await;
    let e = error_of(&f.report, "openai");
    assert!(
        e.contains("/organization/projects")
            && e.contains("max_body_mb")
            && e.contains("268435456"),
        "{e}"
    );
    let f = fresh(
        Size::Small,
        1,
        "flood@organization/projects",
        "max_body_mb = 1",
    )
    .await;
    let e = error_of(&f.report, "openai");
    assert!(e.contains("1048576 bytes"), "{e}");
}

/// Only time with a request on the wire counts toward the deadline: a client idle longer than
/// it (a source whose calls come in a later stage of a plan) and a request that waits out a
/// `Retry-After` longer than it both go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_time_and_chosen_waits_are_not_silence() {
    use recert::connectors::http::{Auth, Http, Limits};
    let sim = start(Size::Small, 1, "").await;
    let limits = Limits {
        silence: std::time::Duration::from_secs(1),
        max_retry_after: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let http = Http::new(
        "openai",
        &sim.openai_url(),
        Auth::Bearer(recert::secret::Secret::new(recert::sim::DEFAULT_KEY)),
        String::new(),
        limits,
    );
    http.get("organization/users", &[]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    http.get("organization/users", &[])
        .await
        .expect("idle time is not silence");
    // Two 429s with `Retry-After: 1` (about 2 s of waiting, twice the deadline), then an answer.
    sim.state
        .set_faults(recert::sim::faults::Faults::parse("429:1@organization/invites").unwrap());
    let h = &http;
    let waiting = async move { h.get("organization/invites", &[]).await };
    let clear = async {
        tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
        sim.state.set_faults(Default::default());
    };
    let (got, ()) = tokio::join!(waiting, clear);
    got.expect("a Retry-After wait is not silence");
}

/// A provider whose `Retry-After` asks for longer than recert ever waits (a day, here) is not
/// waited on at all, retry after retry: waiting the cap would not get an answer it refuses
/// before then, and a hostile one held a sync or an incident revoke for eight minutes that way
/// (nine waits of 60 s). The request fails at once, saying how long the provider asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_what_recert_waits_fails_at_once() {
    use recert::connectors::http::{Auth, Http, Limits};
    let sim = start(Size::Small, 1, "hold@organization/users").await;
    let http = Http::new(
        "openai",
        &sim.openai_url(),
        Auth::Bearer(recert::secret::Secret::new(recert::sim::DEFAULT_KEY)),
        String::new(),
        Limits::default(),
    );
    let t = std::time::Instant::now();
    let e = http
        .get("organization/users", &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(http.requests(), 1, "asked once: {e}");
    assert!(e.contains("86400") && e.contains("try again later"), "{e}");
}

/// OpenAI's admin-key list also returns the org's project keys, labelled as admin keys, with
/// nothing in an item to tell them apart (reference, Additions A1.1): the simulator serves them
/// so, and the connector drops every id the project key lists (archived projects included)
/// already have. Each key is one credential, of its true kind, and a revoke of a project key
/// plans one call, on the project path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_keys_in_the_admin_key_list_count_once_as_project_keys() {
    let f = fresh(Size::Small, 3, "", "").await;
    let (admin, project) = {
        let w = f.sim.state.world.read().unwrap();
        (
            w.openai.admin_keys.len(),
            w.openai.api_keys.values().map(|m| m.len()).sum::<usize>(),
        )
    };
    // The list as the live API serves it: both kinds, all labelled admin keys.
    let mut listed = 0;
    let mut after: Option<String> = None;
    loop {
        let mut url = format!(
            "{}/organization/admin_api_keys?limit=100",
            f.sim.openai_url()
        );
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let v: serde_json::Value = reqwest::Client::new()
            .get(url)
            .bearer_auth(recert::sim::DEFAULT_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = v["data"].as_array().unwrap();
        assert!(
            data.iter()
                .all(|k| k["object"] == "organization.admin_api_key")
        );
        listed += data.len();
        if v["has_more"] != true {
            break;
        }
        after = v["last_id"].as_str().map(str::to_string);
    }
    assert_eq!(listed, admin + project, "the admin list holds both kinds");

    let snap = f.store.latest_snapshot().unwrap().unwrap();
    let creds: Vec<_> = snap
        .data
        .credentials
        .iter()
        .filter(|c| c.provider == "openai")
        .collect();
    let mut ids: Vec<&str> = creds.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "a key counted twice");
    assert_eq!(
        creds.iter().filter(|c| c.kind == "admin_key").count(),
        admin,
        "only the true admin keys are admin keys"
    );
    assert_eq!(
        creds.iter().filter(|c| c.kind == "project_key").count(),
        project
    );
}

/// A directory whose groups cannot be read (a SCIM server failing on `/Groups`, an Okta or
/// Entra app without the groups permission) still yields its people, each with their groups
/// marked unknown, and `privileged-drift`, which needs them, makes no judgement: the
/// findings are the planted truth less that rule's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_groups_leave_the_people_and_no_judgement_on_admin_groups() {
    use recert::sim::Directory;
    for (directory, faults) in [
        (Directory::Scim, "500@/scim/v2/Groups"),
        (Directory::Okta, "403@/okta/api/v1/groups"),
        (Directory::Entra, "403@/graph/v1.0/groups"),
    ] {
        let sim = start(Size::Small, 71, faults).await;
        let text = sim.config_toml_with(directory).replace(
            "key_env = \"RECERT_SIM_KEY\"\n",
            "key_env = \"RECERT_SIM_KEY\"\nmax_retries = 1\n",
        );
        let cfg = recert::config::Config::parse(&text, std::path::Path::new("test")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let r = sync_once(&cfg, &mut store).await;
        assert_eq!(r.failed(), 0, "{faults}: {:?}", r.lines());
        let snap = store.latest_snapshot().unwrap().unwrap();
        let n = sim.state.world.read().unwrap().directory.users.len();
        assert_eq!(snap.data.people.len(), n, "{faults}: every person");
        assert!(
            snap.data
                .people
                .iter()
                .all(|p| !p.groups_known && p.groups.is_empty()),
            "{faults}: groups unknown"
        );
        let truth = recert::sim::truth_for(&sim.state.world.read().unwrap(), directory);
        let drift = truth
            .iter()
            .filter(|f| f.rule == "privileged-drift")
            .count();
        assert!(drift > 0, "the world plants privileged-drift");
        // Okta's app users say their scope themselves; Entra's group assignments need the
        // groups' members, so with groups unreadable who an app is assigned to is unknown.
        let unknown: &[&str] = match directory {
            Directory::Entra => &["privileged-drift", "outside-idp"],
            _ => &["privileged-drift"],
        };
        let want: Vec<_> = truth
            .into_iter()
            .filter(|f| !unknown.contains(&&*f.rule))
            .collect();
        assert_eq!(
            keys(&latest_findings(&cfg, &store)),
            keys(&want),
            "{faults}"
        );
    }
}

/// Real SCIM servers' quirks, on every resource type alike: one that answers paging
/// parameters (`count`, `startIndex`) with a server error, one that ignores `startIndex` and
/// serves its first page again (a broken one that also claims pages forever stays an error:
/// `a_scim_server_that_ignores_start_index_is_caught`). Each list is asked for whole once more, and the directory
/// reads exactly as from a well-behaved server: every person, their groups, the same findings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_servers_that_refuse_or_ignore_paging_are_read_whole() {
    for faults in [
        "nopaging@/scim/v2/",
        "nopaging@/scim/v2/Groups",
        "nostart@/scim/v2/Users,nostart@/scim/v2/Groups",
    ] {
        let sim = start(Size::Small, 71, faults).await;
        // Pages of 20: the 50 people take three, so paging is needed.
        let cfg = config(&sim, "max_retries = 1\npage_size = 20");
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let r = sync_once(&cfg, &mut store).await;
        assert_eq!(r.failed(), 0, "{faults}: {:?}", r.lines());
        let snap = store.latest_snapshot().unwrap().unwrap();
        let w = sim.state.world.read().unwrap();
        assert_eq!(snap.data.people.len(), w.directory.users.len(), "{faults}");
        assert!(
            snap.data.people.iter().all(|p| p.groups_known),
            "{faults}: groups read"
        );
        assert!(
            snap.data.people.iter().any(|p| !p.groups.is_empty()),
            "{faults}"
        );
        assert_eq!(
            keys(&latest_findings(&cfg, &store)),
            keys(&w.truth),
            "{faults}"
        );
    }
}

/// A SCIM server that refuses `filter` (a server error on it): finding one user by user name
/// reads every user and picks the one, never another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scim_server_that_refuses_filters_still_finds_a_user() {
    let sim = start(Size::Small, 71, "nofilter@/scim/v2/Users").await;
    let cfg = config(&sim, "max_retries = 1");
    let src = cfg.sources.iter().find(|s| s.kind == "scim").unwrap();
    let http =
        recert::connectors::client(src, recert::secret::Secret::new(recert::sim::DEFAULT_KEY));
    let want = sim
        .state
        .world
        .read()
        .unwrap()
        .directory
        .users
        .values()
        .nth(7)
        .unwrap()
        .clone();
    let found = recert::connectors::scim::find_by_user_name(&http, &want.user_name)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found.id, want.id);
    assert!(
        recert::connectors::scim::find_by_user_name(&http, "nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );
}
