//! The hash-chained audit log. Every entry carries the hash of the one before, so an edited,
//! deleted or reordered entry breaks the chain at a place `verify` can name. Pure: the store
//! keeps the entries, this module hashes and checks them.

pub mod evidence;
pub mod ocsf;
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

pub use crate::model::text::hex;

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

/// What the rest of the store says the chain must hold. Every row below was written in the
/// same transaction as the audit entry that records it, so an entry deleted from the chain
/// (its tail above all, which the links alone cannot show) leaves a row pointing at nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Anchors {
    /// The head (seq, hash) the store rewrites with every append, in the append's transaction.
    pub head: Option<(i64, String)>,
    /// Every decision batch recorded (each named by a `batch` in some entry's detail).
    pub batches: Vec<i64>,
    /// Every plan created (each has a `plan` entry).
    pub plans: Vec<i64>,
    /// Every journal call sent at least once, as (plan, seq) (each has a `call` entry).
    pub sent: Vec<(i64, i64)>,
    /// Every sent call with its answer recorded (each has a `result` entry).
    pub answered: Vec<(i64, i64)>,
    /// Every decision batch now undone (each has an `undo` entry naming it).
    pub undone: Vec<i64>,
    /// Every campaign by name (each has a `campaign.create` entry).
    pub campaigns: Vec<String>,
    /// Every closed campaign (each has a `campaign.close` entry).
    pub closed: Vec<String>,
    /// Every cancelled campaign (each has a `campaign.cancel` entry).
    pub cancelled: Vec<String>,
    /// Every sign-off as (campaign, reviewer) (each has that reviewer's `campaign.signoff`).
    pub sign_offs: Vec<(String, String)>,
    /// Every delegated item as (campaign, item, to) (each in a `campaign.delegate` entry).
    pub delegations: Vec<(String, i64, String)>,
    /// Every decision batch's digest, recomputed from its decision rows as they stand (each
    /// must equal the `items_sha256` its entry recorded).
    pub digests: Vec<(i64, String)>,
    /// Every sent journal call as it stands (its last `call` entry must name the same request,
    /// and its last `result` entry, once answered, the same outcome).
    pub calls: Vec<JournalCall>,
    /// Every abandoned journal call as (plan, seq) (each in an `abandon` entry).
    pub abandoned: Vec<(i64, i64)>,
    /// Every manual step marked done by a person, as (plan, seq, how) (each in a
    /// `manual.done` entry saying the same how).
    pub manual_done: Vec<(i64, i64, String)>,
}

/// Whether what the journal holds is what the chain recorded of it. The chain records text
/// through the redactor: the journal's text, read through it now, must be what was recorded
/// (never a `[REDACTED]` run standing for any text, which would let an edit to it through).
fn as_recorded(recorded: &Option<String>, actual: &Option<String>) -> bool {
    match (recorded, actual) {
        (Some(r), Some(a)) => r == a || crate::secret::redact(a, &[]) == *r,
        _ => recorded == actual,
    }
}

/// A sent journal row's request and outcome, as the journal holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalCall {
    pub plan: i64,
    pub seq: i64,
    pub method: Option<String>,
    pub path: Option<String>,
    pub body: Option<String>,
    /// `done` or `failed` when answered; the outcome is compared only then.
    pub state: String,
    pub status: Option<i64>,
    pub result: Option<String>,
}

/// A head recorded outside the store (`audit verify` prints it; `--head SEQ:HASH` checks it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

impl std::str::FromStr for Head {
    type Err = String;
    fn from_str(s: &str) -> Result<Head, String> {
        let (seq, hash) = s
            .split_once(':')
            .ok_or_else(|| "expected SEQ:HASH, as `audit verify` prints it".to_string())?;
        let seq: i64 = seq
            .trim()
            .parse()
            .map_err(|_| format!("`{seq}` is not an entry number"))?;
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the hash is 64 hexadecimal characters".into());
        }
        Ok(Head { seq, hash })
    }
}

/// Why the record cannot be trusted whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    #[error("{0}")]
    Chain(Break),
    #[error(
        "the chain ends at entry #{last} but the store recorded #{head} as its head: entries were deleted from its end, or the head was edited"
    )]
    Shortened { last: i64, head: i64 },
    #[error(
        "the chain has {entries} entries but the store holds no head for it: the head row was deleted"
    )]
    NoHead { entries: usize },
    #[error(
        "{what} has no audit entry: the entry that recorded it was deleted (the chain ends at #{last})"
    )]
    Unrecorded { what: String, last: i64 },
    #[error(
        "the head you recorded, entry #{seq} with hash {hash}, is not in the chain: the chain was shortened or rewritten since"
    )]
    Anchor { seq: i64, hash: String },
    #[error(
        "{what} was changed after audit entry #{entry} recorded it ({how}): the store's rows no longer say what the chain says"
    )]
    Altered {
        what: String,
        entry: i64,
        how: String,
    },
}

/// Everything `audit verify` proves: the chain is intact ([`verify`]), it ends where the store
/// last appended, every decision batch, plan, sent call and answer the store holds is in it,
/// and (given one) a head recorded earlier outside the store is still in it.
pub fn verify_all(
    entries: &[Entry],
    anchors: &Anchors,
    recorded: Option<&Head>,
) -> Result<usize, Unverified> {
    let n = verify(entries).map_err(Unverified::Chain)?;
    let last = entries.last().map(|e| e.seq).unwrap_or(0);
    match &anchors.head {
        Some((seq, hash))
            if entries
                .last()
                .is_none_or(|e| e.seq != *seq || &e.hash != hash) =>
        {
            return Err(Unverified::Shortened { last, head: *seq });
        }
        None if n > 0 => return Err(Unverified::NoHead { entries: n }),
        _ => {}
    }
    use std::collections::HashSet;
    let mut batches = HashSet::new();
    let mut plans = HashSet::new();
    let mut calls = HashSet::new();
    let mut results = HashSet::new();
    let mut undos = HashSet::new();
    let mut created = HashSet::new();
    let mut closed = HashSet::new();
    let mut cancelled = HashSet::new();
    let mut signed = HashSet::new();
    let mut delegated = HashSet::new();
    let mut abandoned = HashSet::new();
    // Manual steps marked done: (plan, seq) to (entry seq, how).
    let mut manual_done: std::collections::HashMap<(i64, i64), (i64, String)> = Default::default();
    // The latest entry about each thing: (entry seq, what it recorded).
    let mut digests = std::collections::HashMap::new();
    let mut requests = std::collections::HashMap::new();
    let mut outcomes = std::collections::HashMap::new();
    // The last thing the chain says of each call (`call`, `result`, `abandon`) and of each
    // batch (undone or not): what the rows must still say.
    let mut last_call_event: std::collections::HashMap<(i64, i64), (i64, &str)> =
        Default::default();
    let mut batch_undone: std::collections::HashMap<i64, (i64, bool)> = Default::default();
    for e in entries {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&e.detail) else {
            continue;
        };
        collect_batches(&v, &mut batches);
        collect_digests(&v, e.seq, &mut digests);
        let num = |k: &str| v.get(k).and_then(serde_json::Value::as_i64);
        let text = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        match (e.event.as_str(), num("plan"), num("seq")) {
            ("plan", Some(p), _) => {
                plans.insert(p);
            }
            ("call", Some(p), Some(q)) => {
                last_call_event.insert((p, q), (e.seq, "sent"));
                calls.insert((p, q));
                let request = (text("method"), text("path"), text("body"));
                requests.insert((p, q), (e.seq, request));
            }
            ("result", Some(p), Some(q)) => {
                if let Some(st) = v.get("state").and_then(serde_json::Value::as_str) {
                    let st = if st == "done" { "done" } else { "failed" };
                    last_call_event.insert((p, q), (e.seq, st));
                }
                results.insert((p, q));
                let outcome = (text("state"), num("status"), text("result"));
                outcomes.insert((p, q), (e.seq, outcome));
            }
            ("manual.done", Some(p), Some(q)) => {
                manual_done.insert((p, q), (e.seq, text("how").unwrap_or_default()));
            }
            ("abandon", Some(p), _) => {
                let seqs = v.get("seqs").and_then(serde_json::Value::as_array);
                for q in seqs.into_iter().flatten().filter_map(|x| x.as_i64()) {
                    abandoned.insert((p, q));
                    last_call_event.insert((p, q), (e.seq, "abandoned"));
                }
            }
            ("undo", ..) => {
                undos.extend(num("batch"));
                if let Some(b) = num("batch") {
                    batch_undone.insert(b, (e.seq, true));
                }
            }
            ("redo", ..) => {
                if let Some(b) = num("batch") {
                    batch_undone.insert(b, (e.seq, false));
                }
            }
            ("campaign.create", ..) => {
                created.extend(text("campaign"));
            }
            ("campaign.close", ..) => {
                closed.extend(text("campaign"));
            }
            ("campaign.cancel", ..) => {
                cancelled.extend(text("campaign"));
                // The batches it withdrew are undone by this entry.
                let withdrawn = v.pointer("/withdrawn/batches").and_then(|b| b.as_array());
                for b in withdrawn.into_iter().flatten().filter_map(|b| b.as_i64()) {
                    undos.insert(b);
                    batch_undone.insert(b, (e.seq, true));
                }
            }
            ("campaign.signoff", ..) => {
                signed.extend(text("campaign").map(|c| (c, e.actor.clone())));
            }
            ("campaign.delegate", ..) => {
                if let (Some(c), Some(to)) = (text("campaign"), text("to")) {
                    let items = v.get("items").and_then(serde_json::Value::as_array);
                    for seq in items.into_iter().flatten().filter_map(|x| x.as_i64()) {
                        delegated.insert((c.clone(), seq, to.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    let missing = |what: String| Err(Unverified::Unrecorded { what, last });
    if let Some(b) = anchors.batches.iter().find(|b| !batches.contains(*b)) {
        return missing(format!("decision batch {b}"));
    }
    if let Some(p) = anchors.plans.iter().find(|p| !plans.contains(*p)) {
        return missing(format!("plan #{p}"));
    }
    if let Some((p, q)) = anchors.sent.iter().find(|c| !calls.contains(*c)) {
        return missing(format!("call {q} of plan #{p} (sent)"));
    }
    if let Some((p, q)) = anchors.answered.iter().find(|c| !results.contains(*c)) {
        return missing(format!("the answer to call {q} of plan #{p}"));
    }
    if let Some(b) = anchors.undone.iter().find(|b| !undos.contains(*b)) {
        return missing(format!("the undoing of decision batch {b}"));
    }
    if let Some(c) = anchors.campaigns.iter().find(|c| !created.contains(*c)) {
        return missing(format!("campaign {c}"));
    }
    if let Some(c) = anchors.closed.iter().find(|c| !closed.contains(*c)) {
        return missing(format!("the closing of campaign {c}"));
    }
    if let Some(c) = anchors.cancelled.iter().find(|c| !cancelled.contains(*c)) {
        return missing(format!("the cancelling of campaign {c}"));
    }
    if let Some((c, r)) = anchors.sign_offs.iter().find(|x| !signed.contains(*x)) {
        return missing(format!("{r}'s sign-off of campaign {c}"));
    }
    if let Some((c, seq, to)) = anchors.delegations.iter().find(|x| !delegated.contains(*x)) {
        return missing(format!(
            "the delegation of item {seq} of campaign {c} to {to}"
        ));
    }
    if let Some((p, q)) = anchors.abandoned.iter().find(|c| !abandoned.contains(*c)) {
        return missing(format!("the abandoning of call {q} of plan #{p}"));
    }
    if let Some((p, q, _)) = anchors
        .manual_done
        .iter()
        .find(|(p, q, _)| !manual_done.contains_key(&(*p, *q)))
    {
        return missing(format!("the marking done of manual step {q} of plan #{p}"));
    }
    // Each manual step the chain records done is done in the journal, as it was recorded.
    let done_now: std::collections::HashMap<(i64, i64), &str> = anchors
        .manual_done
        .iter()
        .map(|(p, q, how)| ((*p, *q), how.as_str()))
        .collect();
    for ((p, q), (entry, how)) in &manual_done {
        match done_now.get(&(*p, *q)) {
            Some(now) if *now == how => {}
            now => {
                return Err(Unverified::Altered {
                    what: format!("manual step {q} of plan #{p}"),
                    entry: *entry,
                    how: match now {
                        Some(_) => "what it says was done was changed".to_string(),
                        None => "the chain recorded it done, the journal has it open".to_string(),
                    },
                });
            }
        }
    }
    // Content: what the rows say now is what the chain recorded.
    let present: HashSet<i64> = anchors.digests.iter().map(|(b, _)| *b).collect();
    for (b, (entry, _)) in &digests {
        if !present.contains(b) {
            return Err(Unverified::Altered {
                what: format!("decision batch {b}"),
                entry: *entry,
                how: "its decisions were deleted from the store".into(),
            });
        }
    }
    let undone_now: HashSet<i64> = anchors.undone.iter().copied().collect();
    for (b, (entry, undone)) in &batch_undone {
        if undone_now.contains(b) != *undone {
            return Err(Unverified::Altered {
                what: format!("decision batch {b}"),
                entry: *entry,
                how: format!(
                    "the chain last recorded it {}, the store has it {}",
                    if *undone { "withdrawn" } else { "standing" },
                    if *undone { "standing" } else { "withdrawn" }
                ),
            });
        }
    }
    let rows: std::collections::HashMap<(i64, i64), &str> = anchors
        .calls
        .iter()
        .map(|c| ((c.plan, c.seq), c.state.as_str()))
        .chain(anchors.abandoned.iter().map(|a| (*a, "abandoned")))
        .collect();
    for ((p, q), (entry, state)) in &last_call_event {
        let now = rows.get(&(*p, *q)).copied();
        if now != Some(*state) {
            return Err(Unverified::Altered {
                what: format!("call {q} of plan #{p}"),
                entry: *entry,
                how: format!(
                    "the chain last recorded it {state}, the journal has it {}",
                    now.unwrap_or("missing (deleted, or its attempts reset)")
                ),
            });
        }
    }
    for (b, sha) in &anchors.digests {
        if let Some((entry, recorded)) = digests.get(b)
            && recorded != sha
        {
            return Err(Unverified::Altered {
                what: format!("decision batch {b}"),
                entry: *entry,
                how: "its decisions no longer hash to the digest recorded".into(),
            });
        }
    }
    for c in &anchors.calls {
        let at = (c.plan, c.seq);
        let what = || format!("call {} of plan #{}", c.seq, c.plan);
        if let Some((entry, (m, p, b))) = requests.get(&at)
            && !(as_recorded(m, &c.method) && as_recorded(p, &c.path) && as_recorded(b, &c.body))
        {
            return Err(Unverified::Altered {
                what: what(),
                entry: *entry,
                how: "the journal's request is not the one recorded as sent".into(),
            });
        }
        if matches!(c.state.as_str(), "done" | "failed")
            && let Some((entry, (st, status, result))) = outcomes.get(&at)
            && (st.as_deref() != Some(c.state.as_str())
                || status != &c.status
                || !as_recorded(result, &c.result))
        {
            return Err(Unverified::Altered {
                what: what(),
                entry: *entry,
                how: "the journal's outcome is not the answer recorded".into(),
            });
        }
    }
    if let Some(h) = recorded
        && !entries.iter().any(|e| e.seq == h.seq && e.hash == h.hash)
    {
        return Err(Unverified::Anchor {
            seq: h.seq,
            hash: h.hash.clone(),
        });
    }
    Ok(n)
}

/// Every (batch, items_sha256) pair at any depth, with the entry that holds it (the latest).
fn collect_digests(
    v: &serde_json::Value,
    entry: i64,
    out: &mut std::collections::HashMap<i64, (i64, String)>,
) {
    match v {
        serde_json::Value::Object(m) => {
            let batch = m.get("batch").and_then(serde_json::Value::as_i64);
            let sha = m.get("items_sha256").and_then(serde_json::Value::as_str);
            if let (Some(b), Some(sha)) = (batch, sha) {
                out.insert(b, (entry, sha.to_string()));
            }
            for x in m.values() {
                collect_digests(x, entry, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_digests(x, entry, out)),
        _ => {}
    }
}

/// Every integer under a `batch` key, at any depth (a campaign's close nests its batch).
fn collect_batches(v: &serde_json::Value, out: &mut std::collections::HashSet<i64>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_i64()) {
                    ("batch", Some(b)) => {
                        out.insert(b);
                    }
                    _ => collect_batches(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_batches(x, out)),
        _ => {}
    }
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

    fn anchored(c: &[Entry]) -> Anchors {
        Anchors {
            head: c.last().map(|e| (e.seq, e.hash.clone())),
            ..Default::default()
        }
    }

    #[test]
    fn a_shortened_chain_is_caught_by_its_head_and_by_what_points_into_it() {
        let mut c = chain(12);
        c[3].detail = r#"{"batch":7}"#.into();
        c[3].hash = String::new();
        // Rebuild the chain with the batch entry in it.
        let mut fixed: Vec<Entry> = Vec::new();
        for e in &c {
            let prev = fixed
                .last()
                .map(|x| x.hash.clone())
                .unwrap_or(GENESIS.into());
            fixed.push(Entry::new(
                e.seq,
                e.at,
                &e.actor,
                &e.event,
                e.detail.clone(),
                &prev,
            ));
        }
        let c = fixed;
        let mut a = anchored(&c);
        a.batches = vec![7];
        assert_eq!(verify_all(&c, &a, None), Ok(12));

        // The tail deleted (`delete from audit where seq >= 10`): the head says #12.
        let short = &c[..9];
        assert_eq!(
            verify_all(short, &a, None),
            Err(Unverified::Shortened { last: 9, head: 12 })
        );
        // The head row rewritten to match: the decision batch still points past the end.
        let short = &c[..3];
        let mut b = a.clone();
        b.head = Some((3, c[2].hash.clone()));
        let e = verify_all(short, &b, None).unwrap_err();
        assert!(matches!(e, Unverified::Unrecorded { .. }), "{e}");
        assert!(e.to_string().contains("decision batch 7"), "{e}");
        // The head row deleted.
        let mut nohead = a.clone();
        nohead.head = None;
        assert_eq!(
            verify_all(&c, &nohead, None),
            Err(Unverified::NoHead { entries: 12 })
        );
        // Everything made consistent but a head recorded outside the store earlier.
        let kept = Head {
            seq: 12,
            hash: c[11].hash.clone(),
        };
        assert_eq!(verify_all(&c, &a, Some(&kept)), Ok(12));
        let short = &c[..11];
        let consistent = Anchors {
            head: Some((11, c[10].hash.clone())),
            batches: vec![7],
            ..Default::default()
        };
        assert!(matches!(
            verify_all(short, &consistent, Some(&kept)),
            Err(Unverified::Anchor { seq: 12, .. })
        ));
    }

    #[test]
    fn plans_calls_and_answers_must_be_in_the_chain() {
        let mut c: Vec<Entry> = Vec::new();
        for (event, detail) in [
            ("plan", r#"{"plan":1,"steps":1}"#),
            ("call", r#"{"plan":1,"seq":1}"#),
            ("result", r#"{"plan":1,"seq":1}"#),
        ] {
            let prev = c.last().map(|x| x.hash.clone()).unwrap_or(GENESIS.into());
            c.push(Entry::new(
                c.len() as i64 + 1,
                1,
                "a",
                event,
                detail.into(),
                &prev,
            ));
        }
        let a = Anchors {
            head: Some((3, c[2].hash.clone())),
            plans: vec![1],
            sent: vec![(1, 1)],
            answered: vec![(1, 1)],
            calls: vec![JournalCall {
                plan: 1,
                seq: 1,
                state: "sent".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(verify_all(&c, &a, None), Ok(3));
        for (field, want) in [
            ("plans", "plan #2"),
            ("sent", "call 2 of plan #1"),
            ("answered", "answer to call 2"),
        ] {
            let mut b = a.clone();
            match field {
                "plans" => b.plans.push(2),
                "sent" => b.sent.push((1, 2)),
                _ => b.answered.push((1, 2)),
            }
            let e = verify_all(&c, &b, None).unwrap_err().to_string();
            assert!(e.contains(want), "{field}: {e}");
        }
        // What the chain recorded of a request was redacted (an id holding a fragment of a
        // key recert knows): the journal's request matches it where the text is kept, and the
        // redacted run stands for what it hid. Anything else changed is still caught.
        let sent = |path: &str| {
            let mut c = c.clone();
            let detail =
                format!(r#"{{"plan":1,"seq":1,"method":"DELETE","path":"{path}","body":null}}"#);
            c[1] = Entry::new(2, 1, "a", "call", detail, &c[0].hash);
            c[2] = Entry::new(3, 1, "a", "result", c[2].detail.clone(), &c[1].hash);
            c
        };
        let journal = |path: &str| {
            let mut b = a.clone();
            b.calls[0].method = Some("DELETE".into());
            b.calls[0].path = Some(path.into());
            b
        };
        let _k = crate::secret::Secret::new("hunter2-hunter2-hunter2");
        let hid = crate::secret::redact("/keys/hunter2-hunter2-hunter2-x", &[]);
        assert!(hid.contains("[REDACTED]") && hid.ends_with('x'), "{hid}");
        let recorded = sent(&hid);
        let mut b = journal("/keys/hunter2-hunter2-hunter2-x");
        b.head = Some((3, recorded[2].hash.clone()));
        assert_eq!(verify_all(&recorded, &b, None), Ok(3));
        // A `[REDACTED]` run stands for the secret it hid, never for any text: an id swapped
        // for another is caught.
        for other in [
            "/keys/hunter2-hunter2-hunter2-y",
            "/other/hunter2-hunter2-hunter2-x",
            "/keys/-x",
            "/keys/proj_other-x",
        ] {
            let mut b = journal(other);
            b.head = Some((3, recorded[2].hash.clone()));
            let e = verify_all(&recorded, &b, None).unwrap_err().to_string();
            assert!(e.contains("not the one recorded"), "{other}: {e}");
        }
        assert!("12:abc".parse::<Head>().is_err());
        assert_eq!(
            format!("3:{}", c[2].hash.to_uppercase()).parse::<Head>(),
            Ok(Head {
                seq: 3,
                hash: c[2].hash.clone()
            })
        );
    }
}
