//! The SCIM connector against scim2-server, a third-party SCIM 2.0 server (Python, from PyPI),
//! installed and started by `.ci/run`. Where the build found no peer (`build.rs`) these tests
//! are ignored with the reason, in `cargo test`'s summary; with `RECERT_REQUIRE_TEST_TOOLS` set a missing peer fails the build.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use recert::config::Config;
use recert::connectors::{self, scim};
use recert::secret::Secret;
use recert::sim::world::{Size, World};
use recert::store::Store;
use serde_json::{Value, json};

const TOKEN: &str = "peer-token-0123456789";

fn peer_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RECERT_SCIM2_SERVER") {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".peers/venv/bin/scim2-server");
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("scim2-server"))
            .find(|p| p.exists())
    })
}

struct Peer {
    child: Child,
    base: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start a fresh scim2-server on a free loopback port. A peer the build found but that is gone
/// now fails the test (a test never passes by skipping itself).
async fn peer() -> Option<Peer> {
    let Some(bin) = peer_binary() else {
        panic!(
            "scim2-server was found when the tests were built but is gone: `bash .ci/run` installs it (or set RECERT_SCIM2_SERVER); `touch build.rs` to ignore these tests instead"
        );
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&bin)
        .args([
            "--hostname",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--bearer-token",
            TOKEN,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let peer = Peer {
        child,
        base: format!("http://127.0.0.1:{port}/v2"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http
            .get(format!("{}/ServiceProviderConfig", peer.base))
            .bearer_auth(TOKEN)
            .send()
            .await;
        if r.is_ok_and(|r| r.status().is_success()) {
            return Some(peer);
        }
        assert!(
            Instant::now() < deadline,
            "scim2-server did not become ready on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Copy the simulator's directory into the peer through plain SCIM POSTs.
async fn seed(peer: &Peer, world: &World) {
    let http = reqwest::Client::new();
    let mut ids = std::collections::HashMap::new();
    // Managers come before their reports in the generated directory; post in that order.
    let mut users: Vec<_> = world.directory.users.values().collect();
    users.sort_by(|a, b| a.employee_number.cmp(&b.employee_number));
    for u in users {
        let mut ent = json!({"employeeNumber": u.employee_number, "department": u.department});
        if let Some(m) = u.manager_id.as_ref().and_then(|m| ids.get(m)) {
            ent["manager"] = json!({"value": m});
        }
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", scim::ENTERPRISE],
            "userName": u.user_name, "externalId": u.external_id, "active": u.active,
            "name": {"givenName": u.given_name, "familyName": u.family_name},
            "displayName": format!("{} {}", u.given_name, u.family_name),
            "emails": std::iter::once(json!({"value": u.user_name, "type": "work", "primary": true}))
                .chain(u.extra_emails.iter().map(|e| json!({"value": e, "type": "other"})))
                .collect::<Vec<_>>(),
            scim::ENTERPRISE: ent,
        });
        let r = http
            .post(format!("{}/Users", peer.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let created: Value = r.json().await.unwrap();
        ids.insert(u.id.clone(), created["id"].as_str().unwrap().to_string());
    }
    for g in world.directory.groups.values() {
        let members: Vec<Value> = g
            .members
            .iter()
            .filter_map(|m| ids.get(m))
            .map(|id| json!({"value": id}))
            .collect();
        let r = http
            .post(format!("{}/Groups", peer.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/scim+json")
            .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": g.display_name, "members": members}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
}

fn peer_source(peer: &Peer, extra: &str) -> Config {
    let text = format!(
        "[[source]]\nname = \"okta\"\nkind = \"scim\"\nbase_url = \"{}\"\nkey_env = \"UNUSED\"\n{extra}\n",
        peer.base
    );
    Config::parse(&text, std::path::Path::new("peer")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    no_scim_peer,
    ignore = "scim2-server is not installed (bash .ci/run installs it, or set RECERT_SCIM2_SERVER)"
)]
async fn reads_filters_and_deactivates_on_a_third_party_server() {
    let Some(peer) = peer().await else { return };
    let world = recert::sim::generate(Size::Small, 21, chrono::Utc::now().timestamp());
    seed(&peer, &world).await;
    let cfg = peer_source(&peer, "");
    let src = cfg.source("okta").unwrap();
    let http = connectors::client(src, Secret::new(TOKEN));

    // Several pages (20 a page) and the one-page walk agree with what was written.
    let paged = scim::fetch(&http, 20).await.unwrap().people;
    let whole = scim::fetch(&http, 1000).await.unwrap().people;
    assert_eq!(paged.len(), world.directory.users.len());
    let by_name = |ps: &[recert::model::Person]| {
        let mut v: Vec<_> = ps
            .iter()
            .map(|p| {
                (
                    p.user_name.clone(),
                    p.active,
                    p.department.clone(),
                    p.groups.clone(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(by_name(&paged), by_name(&whole));
    for u in world.directory.users.values() {
        let p = paged.iter().find(|p| p.user_name == u.user_name).unwrap();
        assert_eq!(p.active, u.active, "{}", u.user_name);
        assert_eq!(p.department.as_deref(), Some(u.department.as_str()));
        assert_eq!(p.external_id.as_deref(), Some(u.external_id.as_str()));
        assert_eq!(
            p.manager_id.is_some(),
            u.manager_id.is_some(),
            "{}",
            u.user_name
        );
        assert!(
            p.groups
                .contains(&format!("dept-{}", u.department.to_lowercase())),
            "{:?}",
            p.groups
        );
    }

    // userName is case-insensitive; the match is verified, never taken on trust.
    let target = world.directory.users.values().find(|u| u.active).unwrap();
    let found = scim::find_by_user_name(&http, &target.user_name.to_uppercase())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user_name, target.user_name);
    assert!(
        scim::find_by_user_name(&http, "nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );

    // PATCH active=false: scim2-server answers 204 with no body; the next read shows it.
    scim::deactivate(&http, &found.id).await.unwrap();
    let again = scim::find_by_user_name(&http, &target.user_name)
        .await
        .unwrap()
        .unwrap();
    assert!(!again.active);

    // A wrong token: the error names the source, the status and the fix.
    let bad = connectors::client(src, Secret::new("not-the-token-000"));
    let e = scim::fetch(&bad, 100).await.unwrap_err().to_string();
    assert!(
        e.contains("source 'okta'") && e.contains("401") && e.contains("UNUSED"),
        "{e}"
    );
    assert!(!e.contains("not-the-token"), "{e}");
}

/// The whole pipeline with the third-party server as the directory: the gaps still equal the
/// planted ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    no_scim_peer,
    ignore = "scim2-server is not installed (bash .ci/run installs it, or set RECERT_SCIM2_SERVER)"
)]
async fn a_sync_with_the_peer_as_directory_finds_exactly_the_planted_gaps() {
    let Some(peer) = peer().await else { return };
    let sim = start(Size::Small, 22, "").await;
    let world = sim.state.world.read().unwrap().clone();
    seed(&peer, &world).await;

    let providers = config(&sim, "")
        .sources
        .into_iter()
        .filter(|s| s.kind != "scim");
    let mut cfg = peer_source(&peer, "page_size = 15");
    cfg.sources[0].name = "directory".into();
    cfg.sources.extend(providers);
    cfg.rules = config(&sim, "").rules;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let resolve = |s: &recert::config::SourceConfig| {
        Ok(Secret::new(if s.kind == "scim" {
            TOKEN
        } else {
            recert::sim::DEFAULT_KEY
        }))
    };
    let r = recert::sync::sync(&cfg, &mut store, &resolve, false)
        .await
        .unwrap();
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let found = latest_findings(&cfg, &store);
    assert_eq!(keys(&found), keys(&world.truth));
}
