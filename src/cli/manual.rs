//! `recert manual …`: the manual steps of applied plans (what no API can do) as tickets. Each is
//! a journal row with a stable id (`PLAN:SEQ`); it is listed with everything a ticket owner
//! needs (the instruction, the decisions behind it, who made them and why), sent once to a
//! ticketing intake webhook if one is configured, and counts as done only when someone marks it,
//! with who, when and how: audited like a call's result.

use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Format, Globals, acting_as, refuse_read_only};
use crate::model::text::{plural, sanitize};
use crate::remediate::{JournalRow, RowState};
use crate::store::Store;

/// The environment variable holding the ticket intake webhook's URL.
pub const TICKET_ENV: &str = "RECERT_TICKET_WEBHOOK_URL";

/// A manual step as a ticket.
#[derive(Debug, Serialize)]
pub struct Ticket {
    /// `PLAN:SEQ`, stable: what `recert manual done` takes.
    pub id: String,
    pub plan: i64,
    pub seq: i64,
    pub source: String,
    /// `open` or `done`.
    pub state: &'static str,
    /// What a person must do, as the plan says it.
    pub instruction: String,
    /// The decisions it carries out: the evidence.
    pub decisions: Vec<Value>,
    /// For a done step: how it was done, by whom and when (unix seconds).
    pub done: Option<Value>,
}

/// The decisions `ids` name, as a ticket's evidence: what, why, who and when.
fn evidence(decisions: &[crate::review::Decision], ids: &[i64]) -> Vec<Value> {
    ids.iter()
        .filter_map(|id| decisions.iter().find(|d| d.id == *id))
        .map(|d| {
            json!({
                "decision": d.id,
                "verdict": d.d.verdict.as_str(),
                "target": d.d.target,
                "label": d.d.label,
                "rule": d.d.rule,
                "reviewer": d.reviewer,
                "justification": d.d.justification,
                "made_at": d.made_at,
                "batch": d.batch,
            })
        })
        .collect()
}

/// The tickets' CSV: one line each, the first decision as its subject.
fn tickets_csv(ts: &[Ticket]) -> String {
    let rows = ts.iter().map(|t| {
        let first = t.decisions.first();
        let s = |k: &str| {
            first
                .and_then(|d| d.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        vec![
            t.id.clone(),
            t.source.clone(),
            t.state.to_string(),
            t.instruction.clone(),
            s("label"),
            s("reviewer"),
            s("justification"),
        ]
    });
    crate::model::text::csv(
        &[
            "id",
            "source",
            "state",
            "instruction",
            "subject",
            "decided_by",
            "justification",
        ],
        rows,
    )
}

/// `recert plan --manual`: the manual steps the next plan would have, as tickets (not stored
/// yet, so without an id: `recert manual list` has them with theirs once applied).
pub fn planned(
    store: &Store,
    steps: &[crate::remediate::PlannedStep],
    format: Format,
) -> Result<()> {
    let decisions = store.decisions()?;
    let ts: Vec<Ticket> = steps
        .iter()
        .filter_map(|p| match &p.step {
            crate::remediate::Step::Manual { source, what, .. } => Some(Ticket {
                id: "(planned)".into(),
                plan: 0,
                seq: 0,
                source: source.clone(),
                state: "planned",
                instruction: what.clone(),
                decisions: evidence(&decisions, &p.decisions),
                done: None,
            }),
            _ => None,
        })
        .collect();
    match format {
        Format::Json => println!("{}", crate::model::text::json_pretty(&ts)?),
        Format::Csv => print!("{}", tickets_csv(&ts)),
        Format::Table => {
            for t in &ts {
                println!("{:<10} {}", sanitize(&t.source), sanitize(&t.instruction));
            }
            println!(
                "{} in the next plan (`recert manual list` tracks them once it is applied)",
                plural(ts.len(), "manual step")
            );
        }
    }
    Ok(())
}

fn tickets(store: &Store, all: bool) -> Result<Vec<Ticket>> {
    let decisions = store.decisions()?;
    let audit = store.audit_entries()?;
    let mut out = Vec::new();
    for r in store
        .all_journal()?
        .into_iter()
        .filter(|r| r.kind == "manual")
    {
        let open = r.state == RowState::Manual;
        if !open && !all {
            continue;
        }
        let done = (!open).then(|| {
            // The chain's entry that marked it: who, when.
            let last = audit.iter().rev().find(|e| {
                e.event == "manual.done"
                    && serde_json::from_str::<Value>(&e.detail).is_ok_and(|d| {
                        d["plan"].as_i64() == Some(r.plan) && d["seq"].as_i64() == Some(r.seq)
                    })
            });
            json!({
                "state": r.state.as_str(),
                "how": r.result,
                "by": last.map(|e| e.actor.clone()),
                "at": last.map(|e| e.at),
            })
        });
        let evidence = evidence(&decisions, &r.decisions);
        out.push(Ticket {
            id: format!("{}:{}", r.plan, r.seq),
            plan: r.plan,
            seq: r.seq,
            source: r.source.clone(),
            state: if open { "open" } else { "done" },
            instruction: r.note.clone().unwrap_or_default(),
            decisions: evidence,
            done,
        });
    }
    Ok(out)
}

/// `recert manual list [--all] [--format table|json|csv]`: the open manual steps (with
/// `--all`, the done ones too).
pub fn list(g: &Globals, all: bool, format: Format) -> Result<()> {
    let store = Store::open(&g.paths.store)?;
    let ts = tickets(&store, all)?;
    match format {
        Format::Json => println!("{}", crate::model::text::json_pretty(&ts)?),
        Format::Csv => print!("{}", tickets_csv(&ts)),
        Format::Table => {
            for t in &ts {
                println!(
                    "{:<8} {:<10} {:<5} {}",
                    t.id,
                    sanitize(&t.source),
                    t.state,
                    sanitize(&t.instruction)
                );
            }
            println!(
                "{} (`recert manual done ID --reason TEXT` when done by hand)",
                plural(ts.len(), "manual step")
            );
        }
    }
    Ok(())
}

/// The journal row `PLAN:SEQ` names.
fn row(store: &Store, id: &str) -> Result<JournalRow> {
    let parsed = id
        .split_once(':')
        .and_then(|(p, s)| Some((p.parse::<i64>().ok()?, s.parse::<i64>().ok()?)));
    let Some((plan, seq)) = parsed else {
        bail!("'{id}' is not a manual step id: write PLAN:SEQ, as `recert manual list` shows it");
    };
    store
        .journal(plan)?
        .into_iter()
        .find(|r| r.seq == seq)
        .ok_or_else(|| anyhow::anyhow!("plan #{plan} has no step {seq} (`recert manual list`)"))
}

/// `recert manual done PLAN:SEQ --reason TEXT`: a person did the step by hand; recorded with
/// who, when and how, audited. Only a manual step, only once.
pub fn done(g: &Globals, id: &str, reason: &str) -> Result<()> {
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "marking a manual step done")?;
    if reason.trim().is_empty() {
        bail!("say how it was done: --reason \"removed in the admin console, ticket OPS-123\"");
    }
    let mut store = Store::open(&g.paths.store)?;
    let r = row(&store, id)?;
    if r.kind != "manual" {
        bail!(
            "{id} is a provider call, not a manual step: `recert apply --resume` sends it and its answer records it"
        );
    }
    if r.state != RowState::Manual {
        bail!("{id} was marked {} already", r.state.as_str());
    }
    let who = acting_as(g, &cfg, None)?;
    let how = format!("done by hand: {}", reason.trim());
    store.manual_done(&r, &how, &who, chrono::Utc::now().timestamp())?;
    println!("{id} marked done by {who}, audited");
    Ok(())
}

/// `recert manual send [--dry-run]`: each open manual step not sent before, as one JSON ticket
/// to the intake webhook (`RECERT_TICKET_WEBHOOK_URL`, or the keyring entry
/// `recert`/`tickets`); what was sent is audited, so a ticket is never opened twice.
pub async fn send(g: &Globals, dry_run: bool) -> Result<()> {
    let cfg = g.config()?;
    let mut store = Store::open(&g.paths.store)?;
    let sent_before: std::collections::HashSet<String> = store
        .audit_entries()?
        .iter()
        .filter(|e| e.event == "manual.ticket")
        .filter_map(|e| serde_json::from_str::<Value>(&e.detail).ok())
        .filter_map(|d| d["id"].as_str().map(str::to_string))
        .collect();
    let todo: Vec<Ticket> = tickets(&store, false)?
        .into_iter()
        .filter(|t| !sent_before.contains(&t.id))
        .collect();
    if todo.is_empty() {
        println!("no open manual step that has not been sent already");
        return Ok(());
    }
    if dry_run {
        for t in &todo {
            println!("{}", crate::model::text::json_line(t)?);
        }
        println!(
            "dry run: {} would be sent; nothing was sent",
            plural(todo.len(), "ticket")
        );
        return Ok(());
    }
    let hook = crate::notify::Webhook::from_env_or_keyring(TICKET_ENV, "tickets")
        .map_err(|e| anyhow::anyhow!(e))?;
    let who = acting_as(g, &cfg, None)?;
    let mut failed = 0;
    for t in &todo {
        match hook.post(&serde_json::to_value(t)?).await {
            Ok(_) => store.record_ticket(&t.id, &who, chrono::Utc::now().timestamp())?,
            Err(e) => {
                eprintln!("{}: not sent: {e}", t.id);
                failed += 1;
            }
        }
    }
    println!("sent {} (audited)", plural(todo.len() - failed, "ticket"));
    if failed > 0 {
        bail!(
            "{} could not be sent (above); `recert manual send` again sends only those",
            plural(failed, "ticket")
        );
    }
    Ok(())
}
