//! Loading: the latest snapshot judged against the directory under the configured rules and
//! recert's ownership records. The console, `gaps`, `person`, campaigns and the evidence pack
//! all judge here, so a finding means the same everywhere.

use anyhow::Result;

use crate::config::Config;
use crate::model::{Finding, Snapshot, Ts};
use crate::reconcile::{self, Context, Rules, digest::Digest};
use crate::remediate::OwnKeys;
use crate::store::{Location, Store};

/// What can be shown at once, before the snapshot is read: its header and the stored digest
/// (the dashboard and the first findings) made in the same context.
pub struct Preview {
    pub head: Snapshot,
    pub digest: Digest,
    pub rules: Rules,
    pub now: Ts,
}

/// A snapshot judged: its findings, the context they were judged in, the admin keys recert
/// runs with (a plan never deletes them) and its digest.
pub struct Judged {
    pub snapshot: Snapshot,
    pub findings: Vec<Finding>,
    pub cx: Context,
    pub own_keys: OwnKeys,
    pub digest: Digest,
}

/// The context a snapshot is judged in: at the snapshot's time, under `cfg`'s rules.
pub fn context(cfg: &Config, snap: &Snapshot, owners: reconcile::Owners) -> Context {
    Context {
        now: snap.taken_at,
        rules: cfg.rules.clone(),
        owners,
    }
}

/// The findings of a snapshot under the configured rules, judged at the snapshot's time, with
/// no ownership records.
pub fn findings(cfg: &Config, snap: &Snapshot) -> Vec<Finding> {
    reconcile::reconcile(&snap.data, &context(cfg, snap, Default::default()))
}

/// recert's ownership records in `store`, as the rules read them.
pub fn owners(store: &Store) -> Result<reconcile::Owners> {
    Ok(crate::review::owner_records(&store.decisions()?))
}

/// A snapshot judged with the ownership records in `dir`'s store: the context and the findings.
pub fn judged(cfg: &Config, dir: &Location, snap: &Snapshot) -> Result<(Context, Vec<Finding>)> {
    let cx = context(cfg, snap, owners(&Store::open(dir)?)?);
    let found = reconcile::reconcile(&snap.data, &cx);
    Ok((cx, found))
}

/// The latest snapshot in `dir`, judged under `cfg`'s rules. When the snapshot's stored digest
/// was made in the same context, `preview` gets it at once (milliseconds), before the snapshot
/// is read and judged (seconds on a million grants), and it is the whole load's digest too;
/// otherwise the digest is made and stored now for the next start.
pub fn latest(
    cfg: &Config,
    dir: &Location,
    key_for: super::apply::KeyFor,
    preview: &dyn Fn(Preview),
) -> Result<Judged> {
    let store = Store::open(dir)?;
    let id = store
        .latest_snapshot_id()?
        .ok_or_else(|| anyhow::anyhow!("no snapshot in {dir}"))?;
    let owners = owners(&store)?;
    let key = reconcile::digest::context(&cfg.rules, &owners);
    let stored = store.digest(id, &key)?;
    if let Some(digest) = &stored {
        let head = store.snapshot_header(id)?;
        let now = head.taken_at;
        preview(Preview {
            head,
            digest: digest.clone(),
            rules: cfg.rules.clone(),
            now,
        });
    }
    let snap = store.snapshot(id)?;
    let cx = context(cfg, &snap, owners);
    let found = reconcile::reconcile(&snap.data, &cx);
    let own_keys = super::apply::own_keys(cfg, key_for, &snap.data);
    // The digest stored in this context is this snapshot's, judged by this code under these
    // rules and owners: counting a million findings again would make the same one.
    let digest = match stored {
        Some(d) => d,
        None => {
            let d = Digest::new(&snap.data, &found, cx.now);
            if let Err(e) = store.save_digest(id, &key, &d) {
                tracing::warn!(error = %e, "could not store the snapshot's digest");
            }
            d
        }
    };
    Ok(Judged {
        snapshot: snap,
        findings: found,
        cx,
        own_keys,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A store holding the console tests' small organisation as its one snapshot.
    fn store() -> (tempfile::TempDir, Location) {
        let dir = tempfile::tempdir().unwrap();
        let snap = crate::tui::state::tests::sample_data(0).snapshot;
        Store::open(dir.path())
            .unwrap()
            .write_snapshot(
                snap.taken_at,
                &[crate::store::SourceResult {
                    source: "openai".into(),
                    kind: "openai".into(),
                    outcome: Ok(snap.data),
                    requests: 1,
                    started_at: snap.taken_at,
                    finished_at: snap.taken_at,
                }],
            )
            .unwrap();
        let at = dir.path().into();
        (dir, at)
    }

    fn load(dir: &Location) -> (Option<Digest>, Judged) {
        let shown = RefCell::new(None);
        let none = |_: &crate::config::SourceConfig| {
            Err(crate::config::ConfigError::MissingKey {
                source_name: "openai".into(),
                hint: "no keys in this test".into(),
            })
        };
        let j = latest(&Config::default(), dir, &none, &|p| {
            *shown.borrow_mut() = Some(p.digest)
        })
        .unwrap();
        (shown.into_inner(), j)
    }

    /// A start with the stored digest judges the snapshot to the same findings and digest as
    /// a cold one: the digest is a cache, never a second opinion.
    #[test]
    fn a_load_with_the_stored_digest_equals_a_cold_one() {
        let (_keep, dir) = store();
        let (preview, cold) = load(&dir);
        assert!(preview.is_none(), "nothing stored yet");
        let (preview, warm) = load(&dir);
        assert_eq!(preview.as_ref(), Some(&cold.digest), "the first frame");
        assert_eq!(warm.findings, cold.findings);
        assert_eq!(warm.digest, cold.digest);
        assert!(!cold.findings.is_empty());
    }

    /// The digest stored in the same context is the whole load's too: a million findings are
    /// not counted again (a third of a second) to make what the store already holds.
    #[test]
    fn a_load_takes_the_stored_digest_made_in_its_context() {
        let (_keep, dir) = store();
        let (_, cold) = load(&dir);
        let store = Store::open(&dir).unwrap();
        let id = store.latest_snapshot_id().unwrap().unwrap();
        let key = reconcile::digest::context(&Config::default().rules, &owners(&store).unwrap());
        let mut planted = cold.digest.clone();
        planted.total += 1;
        store.save_digest(id, &key, &planted).unwrap();
        let (_, warm) = load(&dir);
        assert_eq!(warm.digest, planted);
    }
}
