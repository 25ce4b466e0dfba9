//! Changes other sessions make, as they commit (PostgreSQL's `LISTEN`/`NOTIFY`): every audit
//! append sends a hint on the channel `recert_changes`, so an open console learns within a
//! second that another reviewer decided, delegated or signed off, without polling the tables.
//! Who did what is read from the audit log itself, never from the hint (any session may send
//! one). A SQLite store has no other sessions to hear: no listener.

use std::time::Duration;

use super::db::{Conn, args};
use super::{Location, Store, StoreError};

/// A reviewer's change, as the audit log records it (never as a notification says: anyone
/// may send one on the channel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub actor: String,
    pub event: String,
    /// How many things it changed (decisions in a batch, items delegated), when it says.
    pub count: Option<u64>,
}

impl Change {
    /// The change an audit entry records.
    pub fn of(e: &crate::audit::Entry) -> Change {
        let count = serde_json::from_str::<serde_json::Value>(&e.detail)
            .ok()
            .and_then(|d| d.get("count").and_then(|c| c.as_u64()));
        Change {
            actor: e.actor.clone(),
            event: e.event.clone(),
            count,
        }
    }

    /// A reviewer's act (a decision, an undo, a delegation, a sign-off), not the machinery's.
    pub fn is_review(&self) -> bool {
        matches!(
            self.event.as_str(),
            "decide"
                | "undo"
                | "redo"
                | "campaign.submit"
                | "campaign.delegate"
                | "campaign.signoff"
        )
    }

    /// "bob@x.com: 12 decisions", for a toast.
    pub fn toast(&self) -> String {
        let actor = crate::model::text::sanitize(&self.actor);
        let what = match self.event.as_str() {
            "decide" | "campaign.submit" => "decision",
            "campaign.delegate" => "item delegated",
            "campaign.signoff" => return format!("{actor} signed off"),
            "undo" => "decision undone",
            "redo" => "decision redone",
            other => return format!("{actor}: {}", crate::model::text::sanitize(other)),
        };
        let n = self.count.unwrap_or(1);
        let what = if n == 1 {
            what.to_string()
        } else if let Some((noun, rest)) = what.split_once(' ') {
            format!("{noun}s {rest}")
        } else {
            format!("{what}s")
        };
        format!("{actor}: {n} {what}")
    }
}

/// A session of its own that listens for other sessions' changes.
pub struct Listener {
    conn: Conn,
    /// The sessions of this process (the store it writes through): its own changes are not
    /// news to it.
    own: Vec<i32>,
}

impl Listener {
    /// Listen on `at`, leaving out what `own` (this process's store) writes. `None` for a
    /// SQLite store.
    pub fn open(at: &Location, own: &Store) -> Result<Option<Listener>, StoreError> {
        let Some(mut listener) = Listener::reopen(at)? else {
            return Ok(None);
        };
        if let Conn::Pg(_) = &own.conn {
            let pid = own
                .conn
                .value::<i64>("SELECT pg_backend_pid()", args![])
                .map_err(own.sql())?;
            listener.own.push(pid as i32);
        }
        Ok(Some(listener))
    }

    /// Listen again after the connection ended (this process's own sessions are no longer
    /// known: their changes cost a re-read, never a toast, which comes from the audit log).
    pub fn reopen(at: &Location) -> Result<Option<Listener>, StoreError> {
        let Location::Postgres(target) = at else {
            return Ok(None);
        };
        let err = |source| StoreError::Sql {
            path: target.shown().into(),
            source,
        };
        let pg = super::pg::Pg::connect(target).map_err(err)?;
        pg.batch("LISTEN recert_changes").map_err(err)?;
        Ok(Some(Listener {
            conn: Conn::Pg(pg),
            own: Vec::new(),
        }))
    }

    /// Whether another session changed the store within `timeout`. `Err` when the
    /// connection has ended.
    pub fn wait(&self, timeout: Duration) -> Result<bool, String> {
        let Conn::Pg(pg) = &self.conn else {
            return Ok(false);
        };
        let notices = pg.wait(timeout).map_err(|()| {
            "the database connection that listens for changes was lost".to_string()
        })?;
        Ok(notices.iter().any(|n| !self.own.contains(&n.pid)))
    }
}
