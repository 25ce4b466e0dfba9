//! The hash-chained audit log. Every entry carries the hash of the one before, so an edited,
//! deleted or reordered entry breaks the chain at a place `verify` can name. Pure: the store
//! keeps the entries, this module hashes and checks them.

pub mod evidence;
pub mod report;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::Ts;

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: i64,
    pub at: Ts,
    pub actor: String,
    /// `decide`, `undo`, `redo`, ...
    pub event: String,
    /// The event's facts as JSON.
    pub detail: String,
    pub prev: String,
    pub hash: String,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 over every field but the hash itself, each length-prefixed so no two different
/// entries can hash the same bytes.
pub fn hash_of(seq: i64, at: Ts, actor: &str, event: &str, detail: &str, prev: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        seq.to_string().as_str(),
        at.to_string().as_str(),
        actor,
        event,
        detail,
        prev,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

impl Entry {
    pub fn new(seq: i64, at: Ts, actor: &str, event: &str, detail: String, prev: &str) -> Entry {
        Entry {
            seq,
            at,
            actor: actor.into(),
            event: event.into(),
            hash: hash_of(seq, at, actor, event, &detail, prev),
            detail,
            prev: prev.into(),
        }
    }
}

/// Where the chain first breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit entry #{seq} (position {position}): {why}")]
pub struct Break {
    pub seq: i64,
    pub position: usize,
    pub why: String,
}

/// Check the chain in stored order: numbering, links and hashes.
pub fn verify(entries: &[Entry]) -> Result<usize, Break> {
    let mut prev = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        let fail = |why: String| Break {
            seq: e.seq,
            position: i + 1,
            why,
        };
        if e.seq != i as i64 + 1 {
            return Err(fail(format!(
                "expected entry #{} here: an entry was deleted, inserted or moved",
                i + 1
            )));
        }
        if e.prev != prev {
            return Err(fail(
                "it does not link to the entry before it: an entry was deleted or reordered".into(),
            ));
        }
        if hash_of(e.seq, e.at, &e.actor, &e.event, &e.detail, &e.prev) != e.hash {
            return Err(fail(
                "its content does not match its hash: it was edited".into(),
            ));
        }
        prev = e.hash.clone();
    }
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map(|e| e.hash.clone()).unwrap_or(GENESIS.into());
            out.push(Entry::new(
                seq,
                100 + seq,
                "rev@example.com",
                "decide",
                format!("{{\"n\":{seq}}}"),
                &prev,
            ));
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn every_edit_delete_and_reorder_is_named() {
        for i in 0..5 {
            let mut c = chain(5);
            c[i].detail.push(' ');
            assert_eq!(verify(&c).unwrap_err().seq, i as i64 + 1, "edit {i}");
            let mut c = chain(5);
            c[i].actor = "mallory".into();
            assert_eq!(verify(&c).unwrap_err().seq, i as i64 + 1, "actor {i}");
        }
        for i in 0..4 {
            let mut c = chain(5);
            c.remove(i);
            assert_eq!(verify(&c).unwrap_err().position, i + 1, "delete {i}");
            let mut c = chain(5);
            c.swap(i, i + 1);
            assert_eq!(verify(&c).unwrap_err().position, i + 1, "swap {i}");
        }
        // Rewriting an entry and its own hash still breaks the next link.
        let mut c = chain(5);
        c[2].detail = "{}".into();
        c[2].hash = hash_of(3, c[2].at, &c[2].actor, &c[2].event, "{}", &c[2].prev);
        let b = verify(&c).unwrap_err();
        assert_eq!(b.seq, 4);
        assert!(b.why.contains("link"));
    }
}
