//! Directory and provider sources beyond one-of-each: an HR export (CSV) as the directory,
//! and two sources of the same kind.

mod common;

use std::collections::HashSet;
use std::fmt::Write as _;

use common::*;
use recert::config::Config;
use recert::sim::world::Size;
use recert::store::Store;

const PERSON_RULES: [&str; 3] = ["leaver-with-access", "orphaned-key", "unmanaged-account"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hr_export_can_be_the_directory() {
    let sim = start(Size::Small, 31, "").await;
    let world = sim.state.world.read().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    // The same people as the simulated SCIM directory; leavers marked two ways.
    let csv = dir.path().join("hr.csv");
    let mut text = String::from("Email,Department,Active,Termination Date,Manager\n");
    for (i, u) in world.directory.users.values().enumerate() {
        let (active, ended) = match (u.active, i % 2) {
            (true, _) => ("yes", ""),
            (false, 0) => ("no", ""),
            (false, _) => ("", "2020-01-31"),
        };
        writeln!(text, "{},{},{active},{ended},", u.user_name, u.department).unwrap();
    }
    std::fs::write(&csv, text).unwrap();
    let mut cfg = config(&sim, "");
    cfg.sources.retain(|s| s.kind != "scim");
    let hr = Config::parse(
        &format!(
            "[[source]]\nname = \"hr\"\nkind = \"csv\"\npath = \"{}\"\n",
            csv.display()
        ),
        std::path::Path::new("hr"),
    )
    .unwrap();
    cfg.sources.extend(hr.sources);
    let mut store = Store::open(dir.path().join("data")).unwrap();
    let r = sync_once(&cfg, &mut store).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    assert_eq!(source(&r, "hr").items as usize, world.directory.users.len());
    let pick = |fs: &[recert::model::Finding]| -> HashSet<_> {
        fs.iter()
            .filter(|f| PERSON_RULES.contains(&f.rule.as_str()))
            .map(|f| f.key())
            .collect()
    };
    assert_eq!(pick(&latest_findings(&cfg, &store)), pick(&world.truth));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_export_fails_only_its_source() {
    let sim = start(Size::Small, 32, "").await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("hr.csv");
    std::fs::write(&csv, "email,active\nalice@example.com,perhaps\n").unwrap();
    let mut cfg = config(&sim, "");
    let hr = Config::parse(
        &format!(
            "[[source]]\nname = \"hr\"\nkind = \"csv\"\npath = \"{}\"\n",
            csv.display()
        ),
        std::path::Path::new("hr"),
    )
    .unwrap();
    cfg.sources.extend(hr.sources);
    let mut store = Store::open(dir.path().join("data")).unwrap();
    let r = sync_once(&cfg, &mut store).await;
    let e = error_of(&r, "hr");
    assert!(e.contains("line 2") && e.contains("perhaps"), "{e}");
    assert!(source(&r, "directory").ok && source(&r, "openai").ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_of_one_kind_each_report_their_own_findings() {
    let sim = start(Size::Small, 33, "").await;
    let mut cfg = config(&sim, "");
    let mut eu = cfg.source("openai").unwrap().clone();
    eu.name = "openai-eu".into();
    cfg.sources.push(eu);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let r = sync_once(&cfg, &mut store).await;
    assert_eq!(r.failed(), 0, "{:?}", r.lines());
    let found = latest_findings(&cfg, &store);
    let of = |source: &str| -> HashSet<_> {
        found
            .iter()
            .filter(|f| f.source == source)
            .map(|f| (f.rule.clone(), f.subject_kind.clone(), f.subject_id.clone()))
            .collect()
    };
    assert!(!of("openai").is_empty());
    assert_eq!(of("openai"), of("openai-eu"));
}

/// A sync stores its snapshot's digest; the console's loader hands it over as a preview before
/// the whole (the same first findings and counts), and never shows a digest judged in another
/// context (here: after an ownership record), which it replaces instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_stores_the_digest_the_console_shows_first() {
    let f = fresh(Size::Small, 11, "", "").await;
    let dir = f._dir.path();
    let load = || {
        let seen = std::sync::Mutex::new(Vec::new());
        let whole = recert::tui::load(&f.cfg, dir, &|d| seen.lock().unwrap().push(d)).unwrap();
        (seen.into_inner().unwrap(), whole)
    };
    let (previews, whole) = load();
    assert_eq!(previews.len(), 1, "the sync stored a digest");
    let p = &previews[0];
    assert!(p.snapshot.data.people.is_empty(), "a header, not the data");
    assert_eq!(p.snapshot.id, whole.snapshot.id);
    assert_eq!(p.partial, Some(whole.findings.len() as u64));
    assert_eq!(
        p.findings.len(),
        whole.findings.len().min(recert::reconcile::digest::TOP)
    );
    assert!(!p.findings.is_empty());
    assert_eq!(p.findings[..], whole.findings[..p.findings.len()]);
    assert_eq!(p.dash, whole.dash);
    assert_eq!(whole.partial, None);

    // Record an owner for one unowned service account: the stored digest is now stale.
    let unowned = |d: &recert::tui::data::Data| {
        d.dash
            .by_rule
            .iter()
            .find(|(r, _)| r == "unowned-service-account")
            .map_or(0, |x| x.1)
    };
    // One whose keys the Keys view lists: they have no owner until the account has one.
    let keys_of = |d: &recert::tui::data::Data, sa: &str| -> Vec<(String, String)> {
        let t = d.table(recert::tui::data::ViewId::Keys);
        t.rows
            .iter()
            .filter(|r| {
                d.snapshot.data.credentials[r.item as usize]
                    .owner
                    .as_ref()
                    .is_some_and(|o| o.kind == "service_account" && o.id == sa)
            })
            .map(|r| (r.cell(1).to_string(), r.cell(2).to_string()))
            .collect()
    };
    let svc = whole
        .findings
        .iter()
        .find(|x| x.rule == "unowned-service-account" && !keys_of(&whole, &x.subject_id).is_empty())
        .expect("the simulator plants unowned service accounts with keys");
    assert!(
        keys_of(&whole, &svc.subject_id)
            .iter()
            .all(|(owner, via)| owner == "-" && via == "-"),
        "a service account is not an owner: {:?}",
        keys_of(&whole, &svc.subject_id)
    );
    let mut store = Store::open(dir).unwrap();
    store
        .record_decisions(
            &[recert::review::NewDecision {
                verdict: recert::review::Verdict::Reassign,
                target: recert::tui::data::finding_target(svc),
                label: svc.subject_id.to_string(),
                rule: Some(svc.rule.to_string()),
                owner: Some("owner@example.com".into()),
                until: None,
                justification: Some("platform team".into()),
            }],
            "rev@example.com",
            Some(whole.snapshot.id),
            whole.snapshot.taken_at,
        )
        .unwrap();
    let (previews, again) = load();
    assert!(previews.is_empty(), "a stale digest is never shown");
    assert_eq!(unowned(&again), unowned(&whole) - 1);
    assert!(
        keys_of(&again, &svc.subject_id)
            .iter()
            .all(|(owner, via)| owner == "owner@example.com" && via == "inferred"),
        "its keys show the account's recorded owner: {:?}",
        keys_of(&again, &svc.subject_id)
    );
    let (previews, _) = load();
    assert_eq!(previews.len(), 1, "the console stored the new digest");
    assert_eq!(unowned(&previews[0]), unowned(&whole) - 1);
}
