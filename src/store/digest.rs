//! Snapshot digests: the console's first frame (reconcile::digest), one per snapshot, replaced
//! when the snapshot is judged again in another context.

use super::db::args;

use super::{Store, StoreError, source_runs};
use crate::model::{Snapshot, Ts};
use crate::reconcile::digest::Digest;

impl Store {
    /// Store `digest` for snapshot `id`, judged in `context` (replacing any earlier one).
    pub fn save_digest(&self, id: i64, context: &str, digest: &Digest) -> Result<(), StoreError> {
        let body = serde_json::to_string(digest).expect("a digest serialises");
        self.conn
            .exec(
                "INSERT INTO snapshot_digests (snapshot_id, context, made_at, body)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (snapshot_id) DO UPDATE SET context = excluded.context, made_at = excluded.made_at, body = excluded.body",
                args![id, context, chrono::Utc::now().timestamp(), body],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// Drop the digests of snapshots older than `newest`, but those an open campaign is on:
    /// a digest is a cache for a first frame, and a console opening an older snapshot judges
    /// it again (and keeps its digest until the next sync). Each snapshot's digest is about a
    /// tenth of what a re-sync of an unchanged organisation stores otherwise.
    pub fn drop_older_digests(&self, newest: i64) -> Result<usize, StoreError> {
        self.conn
            .exec(
                "DELETE FROM snapshot_digests WHERE snapshot_id < ?1 AND snapshot_id NOT IN
                   (SELECT snapshot_id FROM campaigns WHERE closed_at IS NULL AND cancelled_at IS NULL)",
                args![newest],
            )
            .map_err(self.sql())
    }

    /// Snapshot `id`'s digest if one was made in `context`. A digest made in another context
    /// (other rules, other owners, another recert) or one that no longer parses is `None`: the
    /// caller judges the snapshot again.
    pub fn digest(&self, id: i64, context: &str) -> Result<Option<Digest>, StoreError> {
        let body: Option<String> = self
            .conn
            .row(
                "SELECT body FROM snapshot_digests WHERE snapshot_id = ?1 AND context = ?2",
                args![id, context],
                |r| r.get(0),
            )
            .map_err(self.sql())?;
        Ok(body.and_then(|b| match serde_json::from_str(&b) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(snapshot = id, error = %e, "stored digest unreadable; judging again");
                None
            }
        }))
    }

    /// Snapshot `id`'s time and source runs, without its data.
    pub fn snapshot_header(&self, id: i64) -> Result<Snapshot, StoreError> {
        let taken_at: Ts = self
            .conn
            .value("SELECT taken_at FROM snapshots WHERE id = ?1", args![id])
            .map_err(self.sql())?;
        Ok(Snapshot {
            id,
            taken_at,
            sources: source_runs(&self.conn, id).map_err(self.sql())?,
            data: Default::default(),
        })
    }

    /// The latest snapshot's header (see `snapshot_header`), if there is one.
    pub fn latest_header(&self) -> Result<Option<Snapshot>, StoreError> {
        match self.latest_snapshot_id()? {
            Some(id) => self.snapshot_header(id).map(Some),
            None => Ok(None),
        }
    }
}
