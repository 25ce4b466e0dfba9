//! A campaign report for auditors: every item with its decision, reviewer, justification,
//! recommendation and remediation result, as CSV, JSON and a self-contained HTML page with
//! charts, plus the sign-offs and delegations. Pure: it renders files; the caller writes them
//! with the SHA-256 manifest from `evidence::manifest`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::evidence::{bars, count, csv, esc, json, time};
use crate::model::Ts;
use crate::remediate::JournalRow;
use crate::review::Decision;
use crate::review::campaign::{Campaign, CampaignItem, Delegation, SignOff};

pub struct Report<'a> {
    pub campaign: &'a Campaign,
    pub items: &'a [CampaignItem],
    /// Decisions by id (the campaign's submitted and policy decisions).
    pub decisions: &'a HashMap<i64, Decision>,
    /// The journal row that carried out each decision, by decision id.
    pub results: &'a HashMap<i64, JournalRow>,
    pub sign_offs: &'a [SignOff],
    pub delegations: &'a [Delegation],
    /// `audit::verify` over the whole log.
    pub chain: Result<usize, super::Unverified>,
    pub generated_at: Ts,
    pub generated_by: String,
}

/// One line of the report: what the CSV and JSON hold per item.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Line {
    pub seq: i64,
    pub provider: String,
    pub source: String,
    pub kind: String,
    pub id: String,
    pub label: String,
    pub person: String,
    pub resource: String,
    pub role: String,
    pub reviewer: String,
    pub routed_by: String,
    pub decision: String,
    pub decided_by: String,
    pub decided_at: String,
    pub justification: String,
    pub recommendation: String,
    pub recommendation_rule: String,
    pub recommendation_evidence: String,
    pub change: String,
    pub carried: String,
    pub remediation: String,
}

/// `undecided` for an item nobody decided (a campaign still open).
pub fn lines(r: &Report) -> Vec<Line> {
    r.items
        .iter()
        .map(|ci| {
            let it = &ci.item;
            let d = ci.decision_id.and_then(|id| r.decisions.get(&id));
            let remediation = match (
                ci.decision_id.and_then(|id| r.results.get(&id)),
                ci.outcome.as_deref(),
            ) {
                (Some(j), _) => {
                    let status = j.status.map(|s| format!(" HTTP {s}")).unwrap_or_default();
                    format!("{}{status}", j.state.as_str())
                }
                (None, Some("revoke")) => "not applied yet".into(),
                _ => String::new(),
            };
            let rec = it.recommendation.as_ref();
            Line {
                seq: it.seq,
                provider: it.target.provider.clone(),
                source: it.target.source.clone(),
                kind: it.target.kind.clone(),
                id: it.target.id.clone(),
                label: it.label.clone(),
                person: it.person.clone().unwrap_or_default(),
                resource: it.resource.clone().unwrap_or_default(),
                role: it.role.clone().unwrap_or_default(),
                reviewer: ci.assigned.clone(),
                routed_by: it.routed_by.clone(),
                decision: ci.outcome.clone().unwrap_or_else(|| "undecided".into()),
                decided_by: ci.outcome_by.clone().unwrap_or_default(),
                decided_at: d.map(|d| time(d.made_at)).unwrap_or_default(),
                justification: d
                    .and_then(|d| d.d.justification.clone())
                    .unwrap_or_default(),
                recommendation: rec
                    .map(|r| r.verdict.as_str().to_string())
                    .unwrap_or_default(),
                recommendation_rule: rec.map(|r| r.rule.clone()).unwrap_or_default(),
                recommendation_evidence: rec.map(|r| r.evidence.clone()).unwrap_or_default(),
                change: it
                    .change
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                carried: it
                    .carried
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_default(),
                remediation,
            }
        })
        .collect()
}

/// How many reviewers the per-reviewer chart shows by name; the rest are one bar.
const TOP_REVIEWERS: usize = 20;

/// The first `n` of `counted` (already sorted, largest first), and the rest summed as one
/// "N other reviewers" bar, so the chart stays readable with hundreds of reviewers.
fn top_and_rest(mut counted: Vec<(String, usize)>, n: usize) -> Vec<(String, usize)> {
    if counted.len() <= n + 1 {
        return counted;
    }
    let rest = counted.split_off(n);
    counted.push((
        format!("{} other reviewers", rest.len()),
        rest.iter().map(|x| x.1).sum(),
    ));
    counted
}

/// What became of the revokes: done, failed, manual, not applied yet, or recorded without a
/// call; the failures listed first, each with what the provider answered.
fn remediation_summary(r: &Report, ls: &[Line]) -> String {
    let revokes: Vec<&Line> = ls.iter().filter(|l| l.decision == "revoke").collect();
    let mut h = String::from("<h2>Remediation</h2>");
    if revokes.is_empty() {
        h.push_str("<p>No revoke decisions: nothing to remediate.</p>");
        return h;
    }
    let kind = |l: &Line| -> &'static str {
        match l.remediation.split_whitespace().next().unwrap_or("") {
            "done" => "done",
            "failed" => "failed",
            "manual" => "manual (to do by hand)",
            "abandoned" => "abandoned",
            "pending" | "sent" => "in progress",
            "" => "not applied yet",
            _ => "other",
        }
    };
    let counted = count(revokes.iter().map(|l| kind(l)));
    h.push_str(&format!(
        "<p>{}</p>",
        esc(&counted
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(" · "))
    ));
    let failed: Vec<&&Line> = revokes.iter().filter(|l| kind(l) == "failed").collect();
    if !failed.is_empty() {
        h.push_str("<h3 class=\"bad\">Failed (retry with <code>recert apply --resume</code>)</h3><table><tr><th>#</th><th>item</th><th>reviewer</th><th>what the provider answered</th></tr>");
        let items: HashMap<i64, &CampaignItem> = r.items.iter().map(|i| (i.item.seq, i)).collect();
        for l in failed {
            let why = items
                .get(&l.seq)
                .and_then(|ci| ci.decision_id)
                .and_then(|d| r.results.get(&d))
                .and_then(|j| j.result.clone())
                .unwrap_or_default();
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                l.seq,
                esc(&l.label),
                esc(&l.reviewer),
                esc(&why)
            ));
        }
        h.push_str("</table>");
    }
    h
}

/// Counts of outcomes: what the report's header and the tests compare with the decisions.
pub fn totals(lines: &[Line]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(l.decision.clone()).or_default() += 1;
    }
    m
}

const HEADER: &[&str] = &[
    "seq",
    "provider",
    "source",
    "kind",
    "id",
    "label",
    "person",
    "resource",
    "role",
    "reviewer",
    "routed_by",
    "decision",
    "decided_by",
    "decided_at",
    "justification",
    "recommendation",
    "recommendation_rule",
    "recommendation_evidence",
    "change",
    "carried",
    "remediation",
];

/// Every file of the report but the manifest, by name.
pub fn files(r: &Report) -> Vec<(String, Vec<u8>)> {
    let ls = lines(r);
    let c = r.campaign;
    let summary = serde_json::json!({
        "campaign": c.name,
        "snapshot": c.snapshot_id,
        "created_at": time(c.created_at),
        "created_by": c.created_by,
        "due": c.due,
        "on_close": c.on_close.as_str(),
        "since": c.since,
        "closed_at": c.closed_at.map(time),
        "closed_by": c.closed_by,
        "state": c.state(),
        "cancelled_at": c.cancelled_at.map(time),
        "cancelled_by": c.cancelled_by,
        "cancel_reason": c.cancel_reason,
        "scope": c.scope,
        "routing": c.routing,
        "items": ls.len(),
        "outcomes": totals(&ls),
        "sign_offs": r.sign_offs,
        "delegations": r.delegations,
        "audit_chain": match &r.chain {
            Ok(n) => serde_json::json!({"intact": true, "entries": n}),
            Err(b) => serde_json::json!({"intact": false, "break": b.to_string()}),
        },
        "generated_at": time(r.generated_at),
        "generated_by": r.generated_by,
    });
    let rows = ls.iter().map(|l| {
        vec![
            l.seq.to_string(),
            l.provider.clone(),
            l.source.clone(),
            l.kind.clone(),
            l.id.clone(),
            l.label.clone(),
            l.person.clone(),
            l.resource.clone(),
            l.role.clone(),
            l.reviewer.clone(),
            l.routed_by.clone(),
            l.decision.clone(),
            l.decided_by.clone(),
            l.decided_at.clone(),
            l.justification.clone(),
            l.recommendation.clone(),
            l.recommendation_rule.clone(),
            l.recommendation_evidence.clone(),
            l.change.clone(),
            l.carried.clone(),
            l.remediation.clone(),
        ]
    });
    vec![
        ("summary.json".into(), json(&summary)),
        ("items.csv".into(), csv(HEADER, rows)),
        ("items.json".into(), json(&ls)),
        ("report.html".into(), html(r, &ls).into_bytes()),
    ]
}

fn html(r: &Report, ls: &[Line]) -> String {
    let c = r.campaign;
    let mut h = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>recert campaign report</title>\
         <style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:13px}\
         td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#eee}figure{margin:1em 0}\
         .bad{color:#d55e00;font-weight:bold}.ok{color:#0072b2}</style></head><body>",
    );
    let state = match (c.cancelled_at, &c.cancelled_by, c.closed_at, &c.closed_by) {
        (Some(t), Some(by), ..) => format!(
            "CANCELLED {} by {}: {} (its decisions were withdrawn and never applied)",
            time(t),
            by,
            c.cancel_reason.as_deref().unwrap_or("")
        ),
        (.., Some(t), Some(by)) => format!("closed {} by {}", time(t), by),
        _ => "open".into(),
    };
    h.push_str(&format!(
        "<h1>Campaign {}</h1><p>Snapshot #{} · created {} by {} · due {} · {} · undecided at close: {} · {} items</p>",
        esc(&c.name),
        c.snapshot_id,
        esc(&time(c.created_at)),
        esc(&c.created_by),
        esc(&c.due),
        esc(&state),
        esc(c.on_close.as_str()),
        ls.len()
    ));
    if let Some(s) = &c.since {
        h.push_str(&format!(
            "<p>Created since campaign {}: unchanged items were pre-filled from it (column <em>carried</em>).</p>",
            esc(s)
        ));
    }
    match &r.chain {
        Ok(n) => h.push_str(&format!(
            "<p class=\"ok\">Audit chain intact: {n} entries verified (<code>recert audit verify</code>; this report: <code>sha256sum -c manifest.sha256</code>).</p>"
        )),
        Err(b) => h.push_str(&format!(
            "<p class=\"bad\">Audit chain BROKEN: {}</p>",
            esc(&b.to_string())
        )),
    }
    h.push_str(&remediation_summary(r, ls));
    // Decisions reviewers made apart from those the closing policy made for them.
    h.push_str(&bars(
        "Decided by reviewers",
        &count(
            ls.iter()
                .filter(|l| l.decided_by != "policy")
                .map(|l| l.decision.as_str()),
        ),
    ));
    h.push_str(&bars(
        "Decided by the closing policy (left undecided by the reviewer)",
        &count(
            ls.iter()
                .filter(|l| l.decided_by == "policy")
                .map(|l| l.decision.as_str()),
        ),
    ));
    h.push_str(&bars(
        "Items by reviewer",
        &top_and_rest(count(ls.iter().map(|l| l.reviewer.as_str())), TOP_REVIEWERS),
    ));
    h.push_str(&bars(
        "Recommendations",
        &count(
            ls.iter()
                .filter(|l| !l.recommendation_rule.is_empty())
                .map(|l| l.recommendation_rule.as_str()),
        ),
    ));
    let followed = ls
        .iter()
        .filter(|l| !l.recommendation.is_empty() && l.recommendation == l.decision)
        .count();
    let recommended = ls.iter().filter(|l| !l.recommendation.is_empty()).count();
    h.push_str(&format!(
        "<p>Recommendations followed: {followed} of {recommended}.</p>"
    ));
    // Per reviewer: what they were given and what became of it.
    let mut per: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for l in ls {
        *per.entry(&l.reviewer)
            .or_default()
            .entry(&l.decision)
            .or_default() += 1;
    }
    h.push_str("<h2>Reviewers</h2><table><tr><th>reviewer</th><th>items</th><th>outcomes</th><th>signed off</th></tr>");
    for (who, outcomes) in &per {
        let signed = r
            .sign_offs
            .iter()
            .find(|x| x.reviewer == *who)
            .map(|x| time(x.at))
            .unwrap_or_else(|| "no".into());
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(who),
            outcomes.values().sum::<usize>(),
            esc(&outcomes
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")),
            esc(&signed),
        ));
    }
    h.push_str("</table>");
    // Sign-offs: one column per count the sign-offs recorded.
    let keys: std::collections::BTreeSet<&str> = r
        .sign_offs
        .iter()
        .filter_map(|s| s.counts.as_object())
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    h.push_str("<h2>Sign-offs</h2><table><tr><th>reviewer</th><th>at</th>");
    for k in &keys {
        h.push_str(&format!("<th>{}</th>", esc(k)));
    }
    h.push_str("</tr>");
    for s in r.sign_offs {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td>",
            esc(&s.reviewer),
            esc(&time(s.at))
        ));
        for k in &keys {
            let v = s.counts.get(*k).map(|v| match v {
                serde_json::Value::String(t) => t.clone(),
                serde_json::Value::Object(m) => m
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            });
            h.push_str(&format!("<td>{}</td>", esc(&v.unwrap_or_default())));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table><h2>Delegations</h2><table><tr><th>item</th><th>from</th><th>to</th><th>reason</th><th>at</th></tr>");
    for d in r.delegations {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            d.seq,
            esc(&d.from),
            esc(&d.to),
            esc(&d.reason),
            esc(&time(d.at))
        ));
    }
    h.push_str("</table><h2>Items</h2><table><tr>");
    for col in [
        "#",
        "provider",
        "what",
        "person",
        "reviewer",
        "decision",
        "by",
        "justification",
        "recommendation",
        "remediation",
    ] {
        h.push_str(&format!("<th>{col}</th>"));
    }
    h.push_str("</tr>");
    for l in ls {
        let rec = if l.recommendation.is_empty() {
            String::new()
        } else {
            format!(
                "{} ({}: {})",
                l.recommendation, l.recommendation_rule, l.recommendation_evidence
            )
        };
        let class = if l.decision == "revoke" {
            " class=\"bad\""
        } else {
            ""
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{class}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.seq,
            esc(&l.provider),
            esc(&l.label),
            esc(&l.person),
            esc(&l.reviewer),
            esc(&l.decision),
            esc(&l.decided_by),
            esc(&l.justification),
            esc(&rec),
            esc(&l.remediation)
        ));
    }
    h.push_str("</table></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reviewer_chart_names_the_top_twenty_and_sums_the_rest() {
        let counted: Vec<(String, usize)> = (0..250).map(|i| (format!("r{i}"), 300 - i)).collect();
        let shown = top_and_rest(counted, TOP_REVIEWERS);
        assert_eq!(shown.len(), 21);
        assert_eq!(shown[0], ("r0".to_string(), 300));
        let rest: usize = (20..250).map(|i| 300 - i).sum();
        assert_eq!(shown[20], ("230 other reviewers".to_string(), rest));
        // Twenty-one reviewers: all shown, no "1 other reviewers" bar.
        let few: Vec<(String, usize)> = (0..21).map(|i| (format!("r{i}"), 1)).collect();
        assert_eq!(top_and_rest(few.clone(), TOP_REVIEWERS), few);
    }
}
