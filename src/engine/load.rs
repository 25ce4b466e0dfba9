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
/// is read and judged (seconds on a million grants); otherwise the digest is stored now for the
/// next start.
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
    let digest = Digest::new(&snap.data, &found, cx.now);
    if stored.is_none()
        && let Err(e) = store.save_digest(id, &key, &digest)
    {
        tracing::warn!(error = %e, "could not store the snapshot's digest");
    }
    Ok(Judged {
        snapshot: snap,
        findings: found,
        cx,
        own_keys,
        digest,
    })
}
