//! Campaigns in the store: the frozen items, staging, submitted batches, delegations,
//! sign-offs and the close. Every change that a reviewer or an auditor cares about appends an
//! audit entry in the same transaction as the change.

use std::collections::HashMap;

use super::db::{Conn, DbError, Row, args};

use super::review::{append_audit, insert_decisions};
use super::{Store, StoreError};
use crate::model::Ts;
use crate::review::campaign::{
    Campaign, CampaignItem, Cancelled, Delegation, Earlier, Item, NewCampaign, OnClose, SignOff,
    final_message,
};
use crate::review::{NewDecision, Verdict};

fn row_campaign(r: &Row) -> Result<Campaign, DbError> {
    let json = |i: usize| -> Result<String, DbError> { r.get(i) };
    Ok(Campaign {
        id: r.get(0)?,
        name: r.get(1)?,
        snapshot_id: r.get(2)?,
        created_at: r.get(3)?,
        created_by: r.get(4)?,
        due: r.get(5)?,
        scope: serde_json::from_str(&json(6)?).unwrap_or_default(),
        routing: serde_json::from_str(&json(7)?).unwrap_or_default(),
        on_close: OnClose::parse(&json(8)?).unwrap_or_default(),
        since: r.get(9)?,
        closed_at: r.get(10)?,
        closed_by: r.get(11)?,
        cancelled_at: r.get(12)?,
        cancelled_by: r.get(13)?,
        cancel_reason: r.get(14)?,
    })
}

const CAMPAIGN_COLUMNS: &str = "c.id, c.name, c.snapshot_id, c.created_at, c.created_by, c.due, c.scope, c.routing, c.on_close, s.name, c.closed_at, c.closed_by, c.cancelled_at, c.cancelled_by, c.cancel_reason";

fn bad(what: String) -> StoreError {
    StoreError::Campaign(what)
}

impl Store {
    /// Freeze a campaign: its header and every item, routed; audited with the counts per
    /// reviewer. Unchanged items carried forward are staged with the earlier outcome.
    pub fn create_campaign(
        &mut self,
        c: &NewCampaign,
        items: &[Item],
        actor: &str,
        now: Ts,
    ) -> Result<i64, StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        let exists: Option<i64> = tx
            .row(
                "SELECT id FROM campaigns WHERE name = ?1",
                args![c.name],
                |r| r.get(0),
            )
            .map_err(&err)?;
        if exists.is_some() {
            return Err(bad(format!(
                "a campaign named '{}' exists already: pick another name (`recert campaign list`)",
                c.name
            )));
        }
        let id = tx.insert_id(
            "INSERT INTO campaigns (name, snapshot_id, created_at, created_by, due, scope, routing, on_close, since_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            args![
                c.name,
                c.snapshot_id,
                now,
                actor,
                c.due,
                serde_json::to_string(c.scope).unwrap_or_default(),
                serde_json::to_string(c.routing).unwrap_or_default(),
                c.on_close.as_str(),
                c.since
            ],
        )
        .map_err(&err)?;
        let since_name: Option<String> = match c.since {
            Some(s) => tx
                .row("SELECT name FROM campaigns WHERE id = ?1", args![s], |r| {
                    r.get(0)
                })
                .map_err(&err)?,
            None => None,
        };
        let mut per: std::collections::BTreeMap<&str, usize> = Default::default();
        {
            for it in items {
                *per.entry(&it.reviewer).or_default() += 1;
                let staged = it.carried.map(|v| NewDecision {
                    verdict: v,
                    target: it.target.clone(),
                    label: it.label.clone(),
                    rule: Some("scim-uncovered-grant".into()),
                    owner: None,
                    until: None,
                    justification: Some(format!(
                        "carried forward from campaign {}: unchanged since",
                        since_name.as_deref().unwrap_or("?")
                    )),
                });
                tx.exec(
                    "INSERT INTO campaign_items (campaign_id, seq, item, reviewer, staged, staged_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    args![
                        id,
                        it.seq,
                        serde_json::to_string(it).unwrap_or_default(),
                        it.reviewer,
                        staged.map(|s| serde_json::to_string(&s).unwrap_or_default()),
                        it.carried.map(|_| now)
                    ],
                )
                .map_err(&err)?;
            }
        }
        let changed = items
            .iter()
            .filter(|i| {
                i.change
                    .is_some_and(|c| c != crate::review::campaign::Change::Unchanged)
            })
            .count();
        append_audit(
            &tx,
            now,
            actor,
            "campaign.create",
            &serde_json::json!({
                "campaign": c.name,
                "snapshot": c.snapshot_id,
                "due": c.due,
                "items": items.len(),
                "by_reviewer": per,
                "on_close": c.on_close.as_str(),
                "since": since_name,
                "changed": changed,
                "scope": c.scope,
                "routing": c.routing,
            }),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(id)
    }

    pub fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        self.conn
            .map(
                &format!(
                    "SELECT {CAMPAIGN_COLUMNS} FROM campaigns c LEFT JOIN campaigns s ON s.id = c.since_id ORDER BY c.id"
                ),
                args![],
                row_campaign,
            )
            .map_err(self.sql())
    }

    /// The campaign called `name`, or an error that lists the ones there are.
    pub fn campaign(&self, name: &str) -> Result<Campaign, StoreError> {
        let all = self.campaigns()?;
        let names: Vec<String> = all.iter().map(|c| c.name.clone()).collect();
        all.into_iter().find(|c| c.name == name).ok_or_else(|| {
            bad(if names.is_empty() {
                format!("no campaign '{name}': there are none yet (`recert campaign new --name {name} --due YYYY-MM-DD`)")
            } else {
                format!("no campaign '{name}'; there are: {}", names.join(", "))
            })
        })
    }

    /// Every item of a campaign, in order.
    pub fn campaign_items(&self, id: i64) -> Result<Vec<CampaignItem>, StoreError> {
        self.items_where(id, "", &[])
    }

    /// The items assigned to any of `reviewers` (emails or `group:NAME`), in order: one queue,
    /// read through the reviewer index without parsing the rest of a large campaign.
    pub fn queue_items(
        &self,
        id: i64,
        reviewers: &[String],
    ) -> Result<Vec<CampaignItem>, StoreError> {
        if reviewers.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=reviewers.len()).map(|i| format!("?{i}")).collect();
        let marks = marks.join(", ");
        self.items_where(id, &format!("AND reviewer IN ({marks})"), reviewers)
    }

    fn items_where(
        &self,
        id: i64,
        filter: &str,
        reviewers: &[String],
    ) -> Result<Vec<CampaignItem>, StoreError> {
        let params: Vec<&dyn super::db::ToParam> = reviewers
            .iter()
            .map(|r| r as &dyn super::db::ToParam)
            .collect();
        // The item JSON is parsed after the query, so a bad row is named, not a SQL error.
        let rows: Vec<(String, CampaignItem)> = self
            .conn
            .map(
                &format!(
                    "SELECT item, reviewer, staged, decision_id, outcome, outcome_by FROM campaign_items WHERE campaign_id = {id} {filter} ORDER BY seq"
                ),
                &params,
                |r| {
                let staged: Option<String> = r.get(2)?;
                Ok((
                    r.get(0)?,
                    CampaignItem {
                        item: placeholder(),
                        assigned: r.get(1)?,
                        staged: staged.and_then(|s| serde_json::from_str(&s).ok()),
                        decision_id: r.get(3)?,
                        outcome: r.get(4)?,
                        outcome_by: r.get(5)?,
                    },
                ))
            },
            )
            .map_err(self.sql())?;
        // A delegated item shows who handed it on and why, not the rule that first routed it.
        let mut handed: HashMap<i64, String> = HashMap::new();
        {
            let rows = self
                .conn
                .map(
                    "SELECT seq, from_reviewer, reason FROM campaign_delegations WHERE campaign_id = ?1 ORDER BY id",
                    args![id],
                    |r| {
                        Ok((
                            r.get::<i64>(0)?,
                            r.get::<String>(1)?,
                            r.get::<String>(2)?,
                        ))
                    },
                )
                .map_err(self.sql())?;
            for (seq, from, reason) in rows {
                handed.insert(seq, format!("delegated by {from}: {reason}"));
            }
        }
        rows.into_iter()
            .map(|(json, mut ci)| {
                ci.item = serde_json::from_str(&json)
                    .map_err(|e| bad(format!("campaign {id}: an item does not parse: {e}")))?;
                if let Some(by) = handed.get(&ci.item.seq) {
                    ci.item.routed_by = by.clone();
                }
                Ok(ci)
            })
            .collect()
    }

    /// What an earlier campaign concluded, for carry-forward and recommendations.
    pub fn earlier(&self, id: i64) -> Result<Vec<Earlier>, StoreError> {
        Ok(self
            .campaign_items(id)?
            .into_iter()
            .map(|c| Earlier {
                target: c.item.target,
                fingerprint: c.item.fingerprint,
                outcome: c.outcome.as_deref().and_then(Verdict::parse),
            })
            .collect())
    }

    pub fn sign_offs(&self, id: i64) -> Result<Vec<SignOff>, StoreError> {
        self.conn.map("SELECT reviewer, at, counts FROM campaign_signoffs WHERE campaign_id = ?1 ORDER BY at, reviewer", args![id], |r| {
            let counts: String = r.get(2)?;
            Ok(SignOff {
                reviewer: r.get(0)?,
                at: r.get(1)?,
                counts: serde_json::from_str(&counts).unwrap_or_default(),
            })
        })
        .map_err(self.sql())
    }

    pub fn delegations(&self, id: i64) -> Result<Vec<Delegation>, StoreError> {
        self.conn.map("SELECT seq, from_reviewer, to_reviewer, reason, at FROM campaign_delegations WHERE campaign_id = ?1 ORDER BY id", args![id], |r| {
            Ok(Delegation {
                seq: r.get(0)?,
                from: r.get(1)?,
                to: r.get(2)?,
                reason: r.get(3)?,
                at: r.get(4)?,
            })
        })
        .map_err(self.sql())
    }

    /// Stage (or, with `None`, unstage) a decision on items; not yet a decision, so not
    /// audited, but stored at once so a killed console loses nothing.
    pub fn stage(
        &mut self,
        id: i64,
        staged: &[(i64, Option<NewDecision>)],
        now: Ts,
    ) -> Result<usize, StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        open_check(&tx, id).map_err(bad)?;
        let mut n = 0;
        {
            for (seq, d) in staged {
                n += tx
                    .exec("UPDATE campaign_items SET staged = ?3, staged_at = ?4 WHERE campaign_id = ?1 AND seq = ?2 AND outcome IS NULL", args![
                        id,
                        seq,
                        d.as_ref().map(|d| super::review::scrub(
                            &serde_json::to_string(d).unwrap_or_default()
                        )),
                        d.as_ref().map(|_| now)
                    ])
                    .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)?;
        Ok(n)
    }

    /// Submit the staged decisions on `seqs` as one batch: decisions written, items marked
    /// decided, one `campaign.submit` audit entry with the batch's digest. Returns (batch, n).
    pub fn submit(
        &mut self,
        id: i64,
        seqs: &[i64],
        reviewer: &str,
        snapshot_id: i64,
        now: Ts,
    ) -> Result<(i64, usize), StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        let name = open_check(&tx, id).map_err(bad)?;
        let mut staged = Vec::new();
        {
            for &seq in seqs {
                let s: Option<String> = tx
                    .row("SELECT staged FROM campaign_items WHERE campaign_id = ?1 AND seq = ?2 AND outcome IS NULL AND staged IS NOT NULL", args![id, seq], |r| r.get(0))
                    .map_err(&err)?;
                if let Some(d) = s.and_then(|s| serde_json::from_str::<NewDecision>(&s).ok()) {
                    staged.push((seq, d));
                }
            }
        }
        if staged.is_empty() {
            return Err(bad("nothing staged to submit".into()));
        }
        let decisions: Vec<NewDecision> = staged.iter().map(|(_, d)| d.clone()).collect();
        let ins = insert_decisions(&tx, &decisions, reviewer, Some(snapshot_id), now, Some(id))
            .map_err(&err)?;
        for ((seq, d), did) in staged.iter().zip(&ins.ids) {
            tx.exec("UPDATE campaign_items SET staged = NULL, decision_id = ?3, outcome = ?4, outcome_by = ?5 WHERE campaign_id = ?1 AND seq = ?2", args![id, seq, did, d.verdict.as_str(), reviewer])
                .map_err(&err)?;
        }
        let mut detail = ins.detail;
        detail["campaign"] = name.into();
        detail["items"] = staged.iter().map(|(s, _)| *s).collect::<Vec<_>>().into();
        append_audit(&tx, now, reviewer, "campaign.submit", &detail).map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok((ins.batch, staged.len()))
    }

    /// Hand items to another reviewer, with a reason; audited.
    pub fn delegate(
        &mut self,
        id: i64,
        seqs: &[i64],
        from: &str,
        to: &str,
        reason: &str,
        now: Ts,
    ) -> Result<usize, StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        let name = open_check(&tx, id).map_err(bad)?;
        let reason = &super::review::scrub(reason);
        let mut moved = Vec::new();
        for &seq in seqs {
            let assigned: Option<String> = tx
                .row(
                    "SELECT reviewer FROM campaign_items WHERE campaign_id = ?1 AND seq = ?2",
                    args![id, seq],
                    |r| r.get(0),
                )
                .map_err(&err)?;
            let Some(assigned) = assigned else { continue };
            if tx.exec("UPDATE campaign_items SET reviewer = ?3, staged = NULL, staged_at = NULL WHERE campaign_id = ?1 AND seq = ?2 AND outcome IS NULL AND reviewer = ?4", args![id, seq, to, assigned]).map_err(&err)? == 1 {
                tx.exec("INSERT INTO campaign_delegations (campaign_id, seq, from_reviewer, to_reviewer, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", args![id, seq, assigned, to, reason, now])
                    .map_err(&err)?;
                moved.push(seq);
            }
        }
        if moved.is_empty() {
            return Err(bad(
                "nothing to delegate: the items are decided already or not in the queue".into(),
            ));
        }
        append_audit(
            &tx,
            now,
            from,
            "campaign.delegate",
            &serde_json::json!({"campaign": name, "to": to, "reason": reason, "count": moved.len(), "items": moved}),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(moved.len())
    }

    /// A reviewer signs off their queue; their decisions are locked from then on. Audited.
    pub fn sign_off(
        &mut self,
        id: i64,
        reviewer: &str,
        counts: &serde_json::Value,
        now: Ts,
    ) -> Result<(), StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        let name = open_check(&tx, id).map_err(bad)?;
        let done: Option<i64> = tx
            .row(
                "SELECT at FROM campaign_signoffs WHERE campaign_id = ?1 AND reviewer = ?2",
                args![id, reviewer],
                |r| r.get(0),
            )
            .map_err(&err)?;
        if done.is_some() {
            return Err(bad(format!("{reviewer} has signed off {name} already")));
        }
        tx.exec(
            "INSERT INTO campaign_signoffs (campaign_id, reviewer, at, counts) VALUES (?1, ?2, ?3, ?4)",
            args![id, reviewer, now, counts.to_string()],
        )
        .map_err(&err)?;
        append_audit(
            &tx,
            now,
            reviewer,
            "campaign.signoff",
            &serde_json::json!({"campaign": name, "counts": counts}),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(())
    }

    /// Record who was reminded of an open campaign (and whose reminder could not be sent).
    /// Audited as `campaign.remind`.
    pub fn record_reminders(
        &mut self,
        id: i64,
        actor: &str,
        reminded: &[String],
        failed: &[String],
        now: Ts,
    ) -> Result<(), StoreError> {
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        let name = open_check(&tx, id).map_err(bad)?;
        append_audit(
            &tx,
            now,
            actor,
            "campaign.remind",
            &serde_json::json!({"campaign": name, "reminded": reminded, "failed": failed}),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Cancel an open campaign started by mistake: its staged decisions are dropped, its
    /// submitted decisions withdrawn (marked undone, so no plan ever acts on them), and the
    /// campaign kept, marked cancelled, with who, when and why; one `campaign.cancel` audit
    /// entry names the withdrawn batches.
    pub fn cancel_campaign(
        &mut self,
        id: i64,
        actor: &str,
        reason: &str,
        now: Ts,
    ) -> Result<Cancelled, StoreError> {
        let reason = super::review::scrub(reason.trim());
        if reason.is_empty() {
            return Err(bad("say why the campaign is cancelled".into()));
        }
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        let name = open_check(&tx, id).map_err(bad)?;
        let staged = tx
            .exec(
                "UPDATE campaign_items SET staged = NULL, staged_at = NULL WHERE campaign_id = ?1 AND staged IS NOT NULL",
                args![id],
            )
            .map_err(&err)?;
        let batches: Vec<i64> = tx
            .column(
                "SELECT DISTINCT batch FROM decisions WHERE campaign_id = ?1 AND undone = 0 ORDER BY batch",
                args![id],
            )
            .map_err(&err)?;
        let decisions = tx
            .exec(
                "UPDATE decisions SET undone = 1 WHERE campaign_id = ?1 AND undone = 0",
                args![id],
            )
            .map_err(&err)?;
        tx.exec(
            "UPDATE campaigns SET cancelled_at = ?2, cancelled_by = ?3, cancel_reason = ?4 WHERE id = ?1",
            args![id, now, actor, reason],
        )
        .map_err(&err)?;
        super::review::append_audit(
            &tx,
            now,
            actor,
            "campaign.cancel",
            &serde_json::json!({"campaign": name, "reason": reason, "staged_dropped": staged,
                "withdrawn": {"decisions": decisions, "batches": batches}}),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(Cancelled { staged, decisions })
    }

    /// Close a campaign: every undecided item gets the closing policy's outcome, recorded per
    /// item (`outcome_by = policy`); a revoke or certify policy writes those decisions, so
    /// `recert apply` carries the revokes out. Audited with the counts. Returns the outcomes
    /// the policy gave.
    pub fn close_campaign(
        &mut self,
        id: i64,
        actor: &str,
        snapshot_id: i64,
        now: Ts,
    ) -> Result<usize, StoreError> {
        let c = self.campaigns()?.into_iter().find(|c| c.id == id);
        let Some(c) = c else {
            return Err(bad(format!("no campaign with id {id}")));
        };
        // The items themselves are frozen; which are undecided is read again under the
        // writer lock: a submit that committed while this waited for it stands.
        let items = self.campaign_items(id)?;
        let err = self.sql_err();
        let tx = self.conn.begin().map_err(&err)?;
        open_check(&tx, id).map_err(bad)?;
        let open: HashMap<i64, bool> = tx
            .map(
                "SELECT seq, staged IS NOT NULL FROM campaign_items WHERE campaign_id = ?1 AND outcome IS NULL",
                args![id],
                |r| Ok((r.get::<i64>(0)?, r.get::<bool>(1)?)),
            )
            .map_err(&err)?
            .into_iter()
            .collect();
        let undecided: Vec<&CampaignItem> = items
            .iter()
            .filter(|i| open.contains_key(&i.item.seq))
            .collect();
        let staged_dropped = open.values().filter(|staged| **staged).count();
        let policy = c.on_close;
        let why = format!(
            "closing policy of campaign {}: undecided at close, {}",
            c.name,
            policy.as_str()
        );
        let mut detail = serde_json::json!({
            "campaign": c.name,
            "policy": policy.as_str(),
            "undecided": undecided.len(),
            "staged_unsubmitted": staged_dropped,
        });
        match policy.verdict() {
            Some(v) if !undecided.is_empty() => {
                let ds: Vec<NewDecision> = undecided
                    .iter()
                    .map(|i| NewDecision {
                        verdict: v,
                        target: i.item.target.clone(),
                        label: i.item.label.clone(),
                        rule: Some("scim-uncovered-grant".into()),
                        owner: None,
                        until: None,
                        justification: Some(why.clone()),
                    })
                    .collect();
                let ins = insert_decisions(&tx, &ds, actor, Some(snapshot_id), now, Some(id))
                    .map_err(&err)?;
                for (i, did) in undecided.iter().zip(&ins.ids) {
                    let n = tx.exec("UPDATE campaign_items SET staged = NULL, decision_id = ?3, outcome = ?4, outcome_by = 'policy' WHERE campaign_id = ?1 AND seq = ?2 AND outcome IS NULL", args![id, i.item.seq, did, v.as_str()])
                        .map_err(&err)?;
                    // Read undecided under this lock: never otherwise. Nothing is kept if so.
                    if n != 1 {
                        return Err(bad(format!(
                            "campaign {}: item {} was decided while it closed; nothing was recorded, close it again",
                            c.name, i.item.seq
                        )));
                    }
                }
                detail["decisions"] = ins.detail;
            }
            _ => {
                tx.exec(
                    "UPDATE campaign_items SET staged = NULL, outcome = 'no-change', outcome_by = 'policy' WHERE campaign_id = ?1 AND outcome IS NULL",
                    args![id],
                )
                .map_err(&err)?;
            }
        }
        tx.exec(
            "UPDATE campaigns SET closed_at = ?2, closed_by = ?3 WHERE id = ?1",
            args![id, now, actor],
        )
        .map_err(&err)?;
        append_audit(&tx, now, actor, "campaign.close", &detail).map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(undecided.len())
    }

    /// Every journal row that carried out one of these decisions: for the campaign report.
    pub fn decision_results(
        &self,
    ) -> Result<std::collections::HashMap<i64, crate::remediate::JournalRow>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for row in self.all_journal()? {
            for d in &row.decisions {
                // The latest plan's row wins: a resumed or retried plan supersedes the first.
                out.insert(*d, row.clone());
            }
        }
        Ok(out)
    }
}

fn placeholder() -> Item {
    Item {
        seq: 0,
        target: crate::review::Target::new("", "", "", ""),
        label: String::new(),
        person: None,
        resource_id: None,
        resource: None,
        role: None,
        via: None,
        rules: Vec::new(),
        last_used: None,
        created_at: None,
        fingerprint: String::new(),
        reviewer: String::new(),
        routed_by: String::new(),
        recommendation: None,
        change: None,
        carried: None,
    }
}

/// The campaign's name, or why it cannot change any more.
fn open_check(tx: &Conn, id: i64) -> Result<String, String> {
    let row: Option<(String, Option<i64>, Option<String>)> = tx
        .row(
            "SELECT name, closed_at, cancelled_by FROM campaigns WHERE id = ?1",
            args![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| e.to_string())?;
    match row {
        None => Err(format!("no campaign with id {id}")),
        Some((name, closed, cancelled_by)) => {
            match final_message(&name, closed.is_some(), cancelled_by.as_deref()) {
                Some(m) => Err(m),
                None => Ok(name),
            }
        }
    }
}
