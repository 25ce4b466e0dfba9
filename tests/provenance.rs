//! Provenance from OpenAI's audit log, over real HTTP against the simulator: who created each
//! key and service account, logins, and what happens when the log cannot be read.

mod common;

use common::*;
use recert::model::Provenance;
use recert::sim::world::{OaiActor, Size};

fn facts(store: &recert::store::Store) -> Vec<Provenance> {
    store.latest_snapshot().unwrap().unwrap().data.provenance
}

/// The id of a service account's key in a live project, and its project.
fn service_key(w: &recert::sim::world::World) -> (String, String) {
    w.openai
        .api_keys
        .iter()
        .filter(|(p, _)| w.openai.projects[*p].archived_at.is_none())
        .flat_map(|(p, keys)| keys.values().map(move |k| (p, k)))
        .filter(|(_, k)| matches!(k.owner, recert::sim::world::KeyOwner::ServiceAccount { .. }))
        .find(|(_, k)| {
            w.openai
                .audit
                .iter()
                .any(|e| e.kind == "api_key.created" && e.object.as_deref() == Some(k.id.as_str()))
        })
        .map(|(p, k)| (k.id.clone(), p.clone()))
        .expect("a service account's key")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_names_creators_and_a_leavers_service_key_is_an_orphan() {
    let sim = start(Size::Small, 3, "").await;
    let (key, sa, leaver, current) = {
        let mut w = sim.state.world.write().unwrap();
        let (key, project) = service_key(&w);
        let sa = w.openai.service_accounts[&project]
            .keys()
            .next()
            .unwrap()
            .clone();
        let leaver = w
            .directory
            .users
            .values()
            .find(|u| !u.active)
            .unwrap()
            .user_name
            .clone();
        let current = w
            .directory
            .users
            .values()
            .find(|u| u.active && u.extra_emails.is_empty())
            .unwrap()
            .user_name
            .clone();
        let who = |email: &str| OaiActor::Session {
            user_id: "user-x".into(),
            email: email.into(),
        };
        for e in &mut w.openai.audit {
            if e.object.as_deref() == Some(key.as_str()) && e.kind == "api_key.created" {
                e.actor = who(&leaver);
            }
            if e.object.as_deref() == Some(sa.as_str()) && e.kind == "service_account.created" {
                e.actor = who(&current);
            }
        }
        (key, sa, leaver, current)
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = recert::store::Store::open(dir.path()).unwrap();
    let cfg = config(&sim, "");
    let report = sync_once(&cfg, &mut store).await;
    assert!(source(&report, "openai").ok, "{:?}", report.lines());
    let snap = store.latest_snapshot().unwrap().unwrap();
    assert!(
        snap.data.feeds.iter().all(|f| f.known && f.note.is_none()),
        "{:?}",
        snap.data.feeds
    );
    let made = facts(&store)
        .into_iter()
        .find(|p| p.subject_id == key && p.fact == "created_by")
        .expect("the key's creator");
    assert_eq!(made.actor_email.as_deref(), Some(leaver.as_str()));
    // Every key the log saw made is known by its creator, and nothing else is.
    let w = sim.state.world.read().unwrap();
    let mut logged: Vec<&str> = w
        .openai
        .audit
        .iter()
        .filter(|e| e.kind == "api_key.created")
        .filter_map(|e| e.object.as_deref())
        .collect();
    logged.sort();
    let stored = facts(&store);
    let mut known: Vec<&str> = stored
        .iter()
        .filter(|p| p.subject_kind == "api_key" && p.fact == "created_by")
        .map(|p| p.subject_id.as_str())
        .collect();
    known.sort();
    assert_eq!(known, logged);
    drop(w);
    let findings = latest_findings(&cfg, &store);
    let orphan = findings
        .iter()
        .find(|f| f.rule == "orphaned-key" && f.subject_id == key.as_str())
        .expect("an orphan");
    assert!(
        orphan
            .detail
            .contains(&format!("{leaver} who made it (in the dashboard")),
        "{}",
        orphan.detail
    );
    let unowned = findings
        .iter()
        .find(|f| f.rule == "unowned-service-account" && f.subject_id == sa.as_str())
        .unwrap();
    assert!(
        unowned
            .detail
            .contains(&format!("suggested owner {current}")),
        "{}",
        unowned.detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_never_switched_on_is_said_once_and_judges_nothing() {
    let sim = start(Size::Small, 3, "").await;
    sim.state.world.write().unwrap().openai.audit_off = true;
    let dir = tempfile::tempdir().unwrap();
    let mut store = recert::store::Store::open(dir.path()).unwrap();
    let cfg = config(&sim, "");
    let report = sync_once(&cfg, &mut store).await;
    assert!(source(&report, "openai").ok);
    let snap = store.latest_snapshot().unwrap().unwrap();
    assert!(!snap.data.provenance.iter().any(|p| p.source == "openai"));
    let feeds: Vec<_> = snap
        .data
        .feeds
        .iter()
        .filter(|f| f.source == "openai")
        .collect();
    assert_eq!(feeds.len(), 2);
    for f in feeds {
        assert!(!f.known);
        assert!(
            f.note
                .as_deref()
                .unwrap()
                .contains("audit logging looks switched off"),
            "{f:?}"
        );
    }
    // Quiet seats are judged by key use alone, as before there was a log.
    let findings = latest_findings(&cfg, &store);
    assert!(
        findings
            .iter()
            .filter(|f| f.rule == "dormant-account")
            .all(|f| !f.detail.contains("login"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_cannot_be_read_leaves_it_unknown_and_says_why() {
    for (fault, says) in [
        ("403@audit_logs", "may not read it"),
        ("404@audit_logs", "may not be switched on"),
        ("endless@audit_logs", "pagination is broken"),
        ("truncate@audit_logs", "none of it was used"),
    ] {
        let f = fresh(Size::Small, 2, fault, "").await;
        assert!(
            source(&f.report, "openai").ok,
            "{fault}: {:?}",
            f.report.lines()
        );
        let snap = f.store.latest_snapshot().unwrap().unwrap();
        assert!(
            !snap.data.provenance.iter().any(|p| p.source == "openai"),
            "{fault}"
        );
        for feed in snap.data.feeds.iter().filter(|f| f.source == "openai") {
            assert!(!feed.known, "{fault}");
            let note = feed.note.as_deref().unwrap();
            assert!(note.contains(says), "{fault}: {note}");
            assert!(!note.contains(recert::sim::DEFAULT_KEY), "{fault}: {note}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_appears_in_the_log() {
    let f = fresh(Size::Small, 4, "", "").await;
    let before = f.sim.state.world.read().unwrap().openai.audit.len();
    let (key, project) = {
        let w = f.sim.state.world.read().unwrap();
        let (p, k) = w
            .openai
            .api_keys
            .iter()
            .flat_map(|(p, ks)| ks.values().map(move |k| (p, k)))
            .find(|(_, k)| matches!(k.owner, recert::sim::world::KeyOwner::User { .. }))
            .unwrap();
        (k.id.clone(), p.clone())
    };
    let url = format!(
        "{}/organization/projects/{project}/api_keys/{key}",
        f.sim.openai_url()
    );
    let r = reqwest::Client::new()
        .delete(&url)
        .bearer_auth(recert::sim::DEFAULT_KEY)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let w = f.sim.state.world.read().unwrap();
    assert_eq!(w.openai.audit.len(), before + 1);
    let e = w.openai.audit.last().unwrap();
    assert_eq!(
        (e.kind.as_str(), e.object.as_deref()),
        ("api_key.deleted", Some(key.as_str()))
    );
}

/// The feed row of `feed` from `source` in the latest snapshot.
fn feed_of(store: &recert::store::Store, source: &str, feed: &str) -> recert::model::Feed {
    store
        .latest_snapshot()
        .unwrap()
        .unwrap()
        .data
        .feeds
        .into_iter()
        .find(|f| f.source == source && f.feed == feed)
        .unwrap_or_else(|| panic!("no feed {feed} of {source}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_activity_comes_from_the_analytics_api_where_the_key_may_read_it() {
    use recert::model::feed::{ANALYTICS, CODE_USE};
    // The Claude Code report refused: the Analytics API still says who was active when.
    let f = fresh(Size::Small, 2, "403@usage_report/claude_code", "").await;
    assert!(source(&f.report, "anthropic").ok);
    assert!(!feed_of(&f.store, "anthropic", CODE_USE).known);
    assert!(feed_of(&f.store, "anthropic", ANALYTICS).known);
    let snap = f.store.latest_snapshot().unwrap().unwrap();
    {
        let w = f.sim.state.world.read().unwrap();
        let day = |t: i64| t - t.rem_euclid(86_400);
        let mut active = 0;
        for a in snap
            .data
            .accounts
            .iter()
            .filter(|a| a.source == "anthropic")
        {
            let u = &w.anthropic.users[&a.id];
            let since = day(chrono::Utc::now().timestamp() - 90 * 86_400);
            let want = u.code_active.map(day).filter(|&d| d >= since);
            assert_eq!(a.last_active_at, want, "{}", a.id);
            assert!(a.activity_from.is_some());
            active += usize::from(want.is_some());
        }
        assert!(active > 0, "someone was active");
    }
    // Reporting off: rows without a date say nothing, and that is said.
    let sim = start(Size::Small, 2, "").await;
    sim.state.world.write().unwrap().anthropic.last_activity_off = true;
    let dir = tempfile::tempdir().unwrap();
    let mut store = recert::store::Store::open(dir.path()).unwrap();
    let cfg = config(&sim, "");
    sync_once(&cfg, &mut store).await;
    let a = feed_of(&store, "anthropic", ANALYTICS);
    assert!(!a.known);
    assert!(a.note.unwrap().contains("not enabled"));
    assert!(feed_of(&store, "anthropic", CODE_USE).known);
    // A key that may not read it (a Console admin key): said, the rest read.
    let f = fresh(Size::Small, 2, "404@analytics/users", "").await;
    assert!(source(&f.report, "anthropic").ok);
    let a = feed_of(&f.store, "anthropic", ANALYTICS);
    assert!(!a.known && a.note.unwrap().contains("read:analytics"));
}

/// A large org's log: more entries over the 90 days of logins than one chain of pages may
/// hold (`max_pages`), a few hundred a week. Read as one chain, every login was unknown; read
/// in weeks, each under its own limit, every user's last login is known, as an uncapped read
/// finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_longer_than_the_page_limit_is_read_in_weeks_whole() {
    let sim = start(Size::Small, 5, "").await;
    let now = chrono::Utc::now().timestamp();
    {
        let mut w = sim.state.world.write().unwrap();
        let users: Vec<(String, String)> = w
            .openai
            .users
            .values()
            .map(|u| (u.id.clone(), u.email.clone()))
            .collect();
        // 3,000 logins spread evenly over the last 89 days: 30 pages of 100 as one chain,
        // about 240 entries (3 pages) a week.
        for i in 0..3_000i64 {
            let (user_id, email) = users[i as usize % users.len()].clone();
            w.openai.audit.push(recert::sim::world::OaiAudit {
                id: String::new(),
                kind: "login.succeeded".into(),
                effective_at: now - 89 * 86_400 + i * (89 * 86_400 / 3_000),
                actor: OaiActor::Session { user_id, email },
                project: None,
                object: None,
            });
        }
        w.openai.audit.sort_by_key(|e| e.effective_at);
        for (n, e) in w.openai.audit.iter_mut().enumerate() {
            e.id = format!("audit_log-t_{n:08}");
        }
    }
    let logins = |store: &recert::store::Store| {
        let mut l: Vec<(String, i64)> = facts(store)
            .into_iter()
            .filter(|p| p.feed == recert::model::feed::LOGINS)
            .map(|p| (p.subject_id, p.at))
            .collect();
        l.sort();
        l
    };
    let read = |extra: &'static str| {
        let text = sim.config_toml().replacen(
            "kind = \"openai\"\n",
            &format!("kind = \"openai\"\n{extra}"),
            1,
        );
        recert::config::Config::parse(&text, std::path::Path::new("test")).unwrap()
    };
    let (capped, whole) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut capped = recert::store::Store::open(capped.path()).unwrap();
    let mut whole_store = recert::store::Store::open(whole.path()).unwrap();
    let report = sync_once(&read("max_pages = 20\n"), &mut capped).await;
    assert!(source(&report, "openai").ok, "{:?}", report.lines());
    sync_once(&read(""), &mut whole_store).await;
    let feed = feed_of(&capped, "openai", recert::model::feed::LOGINS);
    assert!(feed.known, "{:?}", feed.note);
    let (got, want) = (logins(&capped), logins(&whole_store));
    assert!(want.len() >= 40, "{want:?}");
    assert_eq!(got, want);
}
