//! Decisions and the audit chain in the store. A decision is written (with its audit entry, in
//! the same transaction) the moment it is made, so killing the terminal loses nothing.

use sha2::{Digest, Sha256};

use super::db::{Conn, DbError, Row, args};
use super::{Store, StoreError};
use crate::audit::{self, Entry};
use crate::model::Ts;
use crate::review::{Decision, NewDecision, Target, Verdict};

/// Append one audit entry inside `tx`, chained to the last one.
pub(crate) fn append_audit(
    tx: &Conn,
    at: Ts,
    actor: &str,
    event: &str,
    detail: &serde_json::Value,
) -> Result<Entry, DbError> {
    if tx.engine() == super::Engine::Postgres {
        // The database chains it (under the writer lock, refusing an actor that is not the
        // session's person): a reviewer's role has no other way to write the log.
        let detail = crate::secret::redact(&detail.to_string(), &[]);
        return tx.one(
            "SELECT seq, prev, hash FROM recert_audit_append(?1, ?2, ?3, ?4)",
            args![at, actor, event, detail],
            |r| {
                Ok(Entry {
                    seq: r.get(0)?,
                    at,
                    actor: actor.into(),
                    event: event.into(),
                    detail: detail.clone(),
                    prev: r.get(1)?,
                    hash: r.get(2)?,
                })
            },
        );
    }
    let (seq, prev): (i64, String) = tx
        .row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            args![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .unwrap_or_else(|| (0, audit::GENESIS.to_string()));
    // The one redactor runs before anything is chained: a secret in the chain could never be
    // removed without breaking `audit verify`.
    let detail = crate::secret::redact(&detail.to_string(), &[]);
    let e = Entry::new(seq + 1, at, actor, event, detail, &prev);
    tx.exec(
        "INSERT INTO audit (seq, at, actor, event, detail, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![e.seq, e.at, e.actor, e.event, e.detail, e.prev, e.hash],
    )?;
    tx.exec(
        "INSERT INTO audit_head (one, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        args![e.seq, e.hash],
    )?;
    Ok(e)
}

fn row_decision(r: &Row) -> Result<Decision, DbError> {
    let verdict: String = r.get(5)?;
    Ok(Decision {
        id: r.get(0)?,
        batch: r.get(1)?,
        made_at: r.get(2)?,
        reviewer: r.get(3)?,
        snapshot_id: r.get(4)?,
        undone: r.get::<i64>(15)? != 0,
        d: NewDecision {
            verdict: Verdict::parse(&verdict).unwrap_or(Verdict::Defer),
            target: Target {
                provider: r.get(6)?,
                source: r.get(7)?,
                kind: r.get(8)?,
                id: r.get(9)?,
            },
            label: r.get(10)?,
            rule: r.get(11)?,
            owner: r.get(12)?,
            until: r.get(13)?,
            justification: r.get(14)?,
        },
    })
}

const DECISION_COLUMNS: &str = "id, batch, made_at, reviewer, snapshot_id, verdict, provider, source, kind, target_id, label, rule, owner, until, justification, undone";

/// What inserting a batch of decisions produced: for its audit entry.
pub(crate) struct Inserted {
    pub batch: i64,
    pub ids: Vec<i64>,
    pub detail: serde_json::Value,
}

/// Text a person typed (a reason, a note), with every known secret redacted: the one
/// redactor, before the text reaches any table.
pub(crate) fn scrub(text: &str) -> String {
    crate::secret::redact(text, &[])
}

/// The `items_sha256` of a decision batch: SHA-256 over each decision's JSON and a newline, in
/// insertion order. Written with the batch's audit entry, recomputed by `audit verify`.
fn batch_digest<'a>(items: impl IntoIterator<Item = &'a NewDecision>) -> String {
    let mut digest = Sha256::new();
    for d in items {
        digest.update(serde_json::to_vec(d).unwrap_or_default());
        digest.update(b"\n");
    }
    audit::hex(&digest.finalize())
}

/// Insert one batch of decisions inside `tx` (not audited: the caller appends the entry, with
/// `detail` in it). `detail` carries the count, the verdicts and a SHA-256 over the rows, so a
/// decision edited in the table afterwards no longer matches its entry.
pub(crate) fn insert_decisions(
    tx: &Conn,
    items: &[NewDecision],
    reviewer: &str,
    snapshot_id: Option<i64>,
    now: Ts,
    campaign: Option<i64>,
) -> Result<Inserted, DbError> {
    let batch: i64 = tx.value("SELECT coalesce(max(batch), 0) + 1 FROM decisions", args![])?;
    // Free text a person typed is redacted before it is stored or digested, and every text is
    // digested as the database stores it (a NUL as U+FFFD), or `audit verify` would not match.
    let st = |s: &str| super::db::storable(s).into_owned();
    let stored: Vec<NewDecision> = items
        .iter()
        .map(|d| NewDecision {
            verdict: d.verdict,
            target: Target {
                provider: st(&d.target.provider),
                source: st(&d.target.source),
                kind: st(&d.target.kind),
                id: st(&d.target.id),
            },
            label: st(&d.label),
            rule: d.rule.as_deref().map(st),
            owner: d.owner.as_deref().map(st),
            until: d.until.as_deref().map(st),
            justification: d.justification.as_deref().map(|j| st(&scrub(j))),
        })
        .collect();
    let mut ids = Vec::with_capacity(stored.len());
    {
        for d in &stored {
            let t = &d.target;
            let id = tx.insert_id(
            "INSERT INTO decisions (batch, made_at, reviewer, snapshot_id, verdict, provider, source, kind, target_id, label, rule, owner, until, justification, campaign_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)", args![
                batch,
                now,
                reviewer,
                snapshot_id,
                d.verdict.as_str(),
                t.provider,
                t.source,
                t.kind,
                t.id,
                d.label,
                d.rule,
                d.owner,
                d.until,
                d.justification,
                campaign
            ])?;
            ids.push(id);
        }
    }
    let mut verdicts: std::collections::BTreeMap<&str, usize> = Default::default();
    for d in &stored {
        *verdicts.entry(d.verdict.as_str()).or_default() += 1;
    }
    let detail = serde_json::json!({
        "batch": batch,
        "count": stored.len(),
        "verdicts": verdicts,
        "snapshot": snapshot_id,
        "justification": stored.first().and_then(|d| d.justification.as_deref()),
        "first": stored.first().map(|d| &d.target),
        "items_sha256": batch_digest(&stored),
    });
    Ok(Inserted { batch, ids, detail })
}

/// The plan that sent (or is sending) a call carrying a decision of `batch`, if any: such a
/// batch is carried out and cannot be withdrawn. Calls planned but not sent, failed or
/// abandoned do not count (a resumed plan abandons the withdrawn ones).
fn carried_out(tx: &Conn, batch: i64) -> Result<Option<i64>, DbError> {
    let ids: std::collections::HashSet<i64> = tx
        .column::<i64>("SELECT id FROM decisions WHERE batch = ?1", args![batch])?
        .into_iter()
        .collect();
    let rows: Vec<(i64, String)> = tx.map(
        "SELECT plan_id, decisions FROM journal WHERE state IN ('done', 'sent') ORDER BY plan_id",
        args![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(rows.into_iter().find_map(|(plan, ds)| {
        serde_json::from_str::<Vec<i64>>(&ds)
            .unwrap_or_default()
            .iter()
            .any(|d| ids.contains(d))
            .then_some(plan)
    }))
}

impl Store {
    /// Record one batch of decisions and its audit entry in one transaction; returns the batch.
    pub fn record_decisions(
        &mut self,
        items: &[NewDecision],
        reviewer: &str,
        snapshot_id: Option<i64>,
        now: Ts,
    ) -> Result<i64, StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        let ins = insert_decisions(&tx, items, reviewer, snapshot_id, now, None).map_err(&err)?;
        append_audit(&tx, now, reviewer, "decide", &ins.detail).map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(ins.batch)
    }

    /// Undo (`undone = true`) or redo a batch; audited. Returns how many decisions changed.
    pub fn set_batch_undone(
        &mut self,
        batch: i64,
        undone: bool,
        actor: &str,
        now: Ts,
    ) -> Result<usize, StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        if undone && let Some(plan) = carried_out(&tx, batch).map_err(&err)? {
            return Err(StoreError::Refused(format!(
                "batch {batch} is not undone: plan #{plan} has sent its calls (or is sending them), so the access is gone at the provider and withdrawing the decision would not bring it back"
            )));
        }
        let n = tx
            .exec(
                "UPDATE decisions SET undone = ?1 WHERE batch = ?2",
                args![undone as i64, batch],
            )
            .map_err(&err)?;
        let event = if undone { "undo" } else { "redo" };
        append_audit(
            &tx,
            now,
            actor,
            event,
            &serde_json::json!({"batch": batch, "count": n}),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(n)
    }

    /// Every decision ever recorded, oldest first (undone ones included, marked).
    pub fn decisions(&self) -> Result<Vec<Decision>, StoreError> {
        self.conn
            .map(
                &format!("SELECT {DECISION_COLUMNS} FROM decisions ORDER BY id"),
                args![],
                row_decision,
            )
            .map_err(self.sql())
    }

    /// The whole audit log in stored order.
    pub fn audit_entries(&self) -> Result<Vec<Entry>, StoreError> {
        self.conn
            .map(
                "SELECT seq, at, actor, event, detail, prev, hash FROM audit ORDER BY seq",
                args![],
                |r| {
                    Ok(Entry {
                        seq: r.get(0)?,
                        at: r.get(1)?,
                        actor: r.get(2)?,
                        event: r.get(3)?,
                        detail: r.get(4)?,
                        prev: r.get(5)?,
                        hash: r.get(6)?,
                    })
                },
            )
            .map_err(self.sql())
    }

    /// What the rest of the store says the audit chain must hold (see [`audit::Anchors`]).
    pub fn audit_anchors(&self) -> Result<audit::Anchors, StoreError> {
        let err = self.sql_err();
        let head = self
            .conn
            .row(
                "SELECT seq, hash FROM audit_head WHERE one = 1",
                args![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&err)?;
        let ints = |sql: &str| -> Result<Vec<i64>, StoreError> {
            self.conn.column(sql, args![]).map_err(&err)
        };
        let texts = |sql: &str| -> Result<Vec<String>, StoreError> {
            self.conn.column(sql, args![]).map_err(&err)
        };
        let pairs = |sql: &str| -> Result<Vec<(i64, i64)>, StoreError> {
            self.conn
                .map(sql, args![], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(&err)
        };
        Ok(audit::Anchors {
            head,
            batches: ints("SELECT DISTINCT batch FROM decisions ORDER BY batch")?,
            plans: ints("SELECT id FROM plans ORDER BY id")?,
            sent: pairs(
                "SELECT plan_id, seq FROM journal WHERE attempts > 0 ORDER BY plan_id, seq",
            )?,
            answered: pairs(
                "SELECT plan_id, seq FROM journal WHERE attempts > 0 AND state IN ('done', 'failed') ORDER BY plan_id, seq",
            )?,
            undone: ints("SELECT DISTINCT batch FROM decisions WHERE undone = 1 ORDER BY batch")?,
            campaigns: texts("SELECT name FROM campaigns ORDER BY id")?,
            closed: texts("SELECT name FROM campaigns WHERE closed_at IS NOT NULL ORDER BY id")?,
            cancelled: texts(
                "SELECT name FROM campaigns WHERE cancelled_at IS NOT NULL ORDER BY id",
            )?,
            sign_offs: self
                .conn
                .map(
                    "SELECT c.name, s.reviewer FROM campaign_signoffs s JOIN campaigns c ON c.id = s.campaign_id",
                    args![],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(&err)?,
            delegations: self
                .conn
                .map(
                    "SELECT c.name, d.seq, d.to_reviewer FROM campaign_delegations d JOIN campaigns c ON c.id = d.campaign_id",
                    args![],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(&err)?,
            digests: {
                let mut all = self.decisions()?;
                all.sort_by_key(|d| (d.batch, d.id));
                all.chunk_by(|a, b| a.batch == b.batch)
                    .map(|batch| (batch[0].batch, batch_digest(batch.iter().map(|d| &d.d))))
                    .collect()
            },
            calls: self
                .conn
                .map(
                    "SELECT plan_id, seq, method, path, body, state, status, result FROM journal WHERE attempts > 0 ORDER BY plan_id, seq",
                    args![],
                    |r| {
                        Ok(audit::JournalCall {
                            plan: r.get(0)?,
                            seq: r.get(1)?,
                            method: r.get(2)?,
                            path: r.get(3)?,
                            body: r.get(4)?,
                            state: r.get(5)?,
                            status: r.get(6)?,
                            result: r.get(7)?,
                        })
                    },
                )
                .map_err(&err)?,
            abandoned: pairs(
                "SELECT plan_id, seq FROM journal WHERE state = 'abandoned' ORDER BY plan_id, seq",
            )?,
            manual_done: self
                .conn
                .map(
                    "SELECT plan_id, seq, COALESCE(result, '') FROM journal WHERE kind = 'manual' AND state = 'done' ORDER BY plan_id, seq",
                    args![],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(&err)?,
        })
    }

    /// `audit verify`: the chain, its head, and every row that points into it; with `recorded`,
    /// also a head kept outside the store. The outer error is the store failing to answer.
    pub fn verify_audit(
        &self,
        recorded: Option<&audit::Head>,
    ) -> Result<(Vec<Entry>, Result<usize, audit::Unverified>), StoreError> {
        let (entries, anchors) = self.conn.consistent(self.sql(), || {
            Ok((self.audit_entries()?, self.audit_anchors()?))
        })?;
        let verdict = audit::verify_all(&entries, &anchors, recorded);
        Ok((entries, verdict))
    }

    pub(super) fn sql_err(&self) -> impl Fn(super::DbError) -> StoreError + use<> {
        let path = self.path.clone();
        move |source| StoreError::Sql {
            path: path.clone(),
            source,
        }
    }
}
