//! The evidence pack an auditor receives: the snapshot summary, the findings, the decisions
//! with reviewer and justification, the calls made and their results, and the audit log, as
//! CSV and JSON, a self-contained HTML report with charts, and a SHA-256 manifest (in
//! `sha256sum` format, so `sha256sum -c manifest.sha256` checks it without recert). Pure: it
//! renders files; the caller writes them.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Entry;
use crate::model::{Finding, SourceStatus, Ts};
use crate::remediate::JournalRow;
use crate::review::Decision;

pub struct Evidence<'a> {
    pub snapshot_id: i64,
    pub taken_at: Ts,
    pub sources: &'a [SourceStatus],
    pub findings: &'a [Finding],
    pub decisions: &'a [Decision],
    pub calls: &'a [JournalRow],
    pub audit: &'a [Entry],
    /// `audit::verify_all` of the store: entries checked, or what cannot be trusted.
    pub chain: Result<usize, super::Unverified>,
    pub generated_at: Ts,
    pub generated_by: String,
}

/// Findings as CSV, one row each: what `gaps --format csv` prints and the pack's
/// `findings.csv` holds.
pub fn findings_csv(findings: &[crate::model::Finding]) -> String {
    crate::model::text::csv(
        &[
            "rule",
            "severity",
            "provider",
            "source",
            "subject_kind",
            "subject_id",
            "subject_email",
            "detail",
        ],
        findings.iter().map(|f| {
            [
                f.rule.as_str(),
                f.severity.as_str(),
                &f.provider,
                &f.source,
                &f.subject_kind,
                &f.subject_id,
                f.subject_email.as_deref().unwrap_or(""),
                &f.detail,
            ]
        }),
    )
}

pub(crate) fn csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    crate::model::text::csv(header, rows).into_bytes()
}

/// HTML-escape untrusted text (names and details come from providers).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c != '\n' && crate::model::text::is_unsafe(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn time(t: Ts) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

pub(crate) fn json<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    let mut b = crate::model::text::json_pretty(v)
        .unwrap_or_default()
        .into_bytes();
    b.push(b'\n');
    b
}

/// An inline SVG bar chart.
pub(crate) fn bars(title: &str, items: &[(String, usize)]) -> String {
    let max = items.iter().map(|x| x.1).max().unwrap_or(0).max(1);
    let h = 22 * items.len() + 30;
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" width=\"640\" height=\"{h}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title)
    );
    for (i, (k, n)) in items.iter().enumerate() {
        let y = 10 + i * 22;
        let w = (*n as f64 / max as f64 * 380.0).round() as usize;
        s.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text><rect x=\"200\" y=\"{y}\" width=\"{w}\" height=\"16\" fill=\"#0072b2\"/><text x=\"{}\" y=\"{}\" font-size=\"13\">{n}</text>",
            y + 13,
            esc(k),
            205 + w,
            y + 13
        ));
    }
    s.push_str("</svg></figure>");
    s
}

pub(crate) fn count<'b>(it: impl Iterator<Item = &'b str>) -> Vec<(String, usize)> {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for k in it {
        *m.entry(k).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = m.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// Every file of the pack but the manifest, by name.
pub fn files(e: &Evidence) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let summary = serde_json::json!({
        "snapshot": e.snapshot_id,
        "taken_at": time(e.taken_at),
        "generated_at": time(e.generated_at),
        "generated_by": e.generated_by,
        "sources": e.sources,
        "findings": e.findings.len(),
        "decisions": e.decisions.len(),
        "calls": e.calls.len(),
        "audit_entries": e.audit.len(),
        "audit_chain": match &e.chain { Ok(n) => format!("intact, {n} entries"), Err(b) => format!("BROKEN: {b}") },
    });
    out.push(("snapshot.json".into(), json(&summary)));
    out.push((
        "sources.csv".into(),
        csv(
            &[
                "source",
                "kind",
                "ok",
                "error",
                "carried_from",
                "items",
                "requests",
                "started_at",
                "finished_at",
            ],
            e.sources.iter().map(|s| {
                vec![
                    s.source.clone(),
                    s.kind.clone(),
                    s.ok.to_string(),
                    s.error.clone().unwrap_or_default(),
                    s.carried_from.map(|x| x.to_string()).unwrap_or_default(),
                    s.items.to_string(),
                    s.requests.to_string(),
                    time(s.started_at),
                    time(s.finished_at),
                ]
            }),
        ),
    ));
    out.push(("findings.json".into(), json(e.findings)));
    out.push(("findings.csv".into(), findings_csv(e.findings).into_bytes()));
    out.push(("decisions.json".into(), json(e.decisions)));
    out.push((
        "decisions.csv".into(),
        csv(
            &[
                "id",
                "batch",
                "made_at",
                "reviewer",
                "verdict",
                "provider",
                "source",
                "kind",
                "target_id",
                "label",
                "rule",
                "owner",
                "until",
                "justification",
                "undone",
                "snapshot",
            ],
            e.decisions.iter().map(|d| {
                vec![
                    d.id.to_string(),
                    d.batch.to_string(),
                    time(d.made_at),
                    d.reviewer.clone(),
                    d.d.verdict.as_str().into(),
                    d.d.target.provider.clone(),
                    d.d.target.source.clone(),
                    d.d.target.kind.clone(),
                    d.d.target.id.clone(),
                    d.d.label.clone(),
                    d.d.rule.clone().unwrap_or_default(),
                    d.d.owner.clone().unwrap_or_default(),
                    d.d.until.clone().unwrap_or_default(),
                    d.d.justification.clone().unwrap_or_default(),
                    d.undone.to_string(),
                    d.snapshot_id.map(|x| x.to_string()).unwrap_or_default(),
                ]
            }),
        ),
    ));
    out.push(("calls.json".into(), json(e.calls)));
    // What each call was about, as its decisions name it (a key's name and hint, a person's
    // address): the CSV read alone says whose access went.
    let labels: std::collections::HashMap<i64, &str> = e
        .decisions
        .iter()
        .map(|d| (d.id, d.d.label.as_str()))
        .collect();
    out.push((
        "calls.csv".into(),
        csv(
            &[
                "plan",
                "seq",
                "decisions",
                "about",
                "source",
                "kind",
                "method",
                "path",
                "body",
                "note",
                "state",
                "attempts",
                "status",
                "result",
                "updated_at",
            ],
            e.calls.iter().map(|r| {
                let mut about: Vec<&str> = r
                    .decisions
                    .iter()
                    .filter_map(|d| labels.get(d).copied())
                    .collect();
                about.dedup();
                vec![
                    r.plan.to_string(),
                    r.seq.to_string(),
                    r.decisions
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                    about.join("; "),
                    r.source.clone(),
                    r.kind.clone(),
                    r.method.clone().unwrap_or_default(),
                    r.path.clone().unwrap_or_default(),
                    r.body.clone().unwrap_or_default(),
                    r.note.clone().unwrap_or_default(),
                    r.state.as_str().into(),
                    r.attempts.to_string(),
                    r.status.map(|s| s.to_string()).unwrap_or_default(),
                    r.result.clone().unwrap_or_default(),
                    time(r.updated_at),
                ]
            }),
        ),
    ));
    let mut audit = Vec::new();
    for a in e.audit {
        audit.extend(
            crate::model::text::json_line(a)
                .unwrap_or_default()
                .into_bytes(),
        );
        audit.push(b'\n');
    }
    out.push(("audit.jsonl".into(), audit));
    out.push(("report.html".into(), report(e).into_bytes()));
    out
}

fn report(e: &Evidence) -> String {
    let mut h = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>recert evidence</title>\
         <style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;font-size:13px}\
         td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#eee}figure{margin:1em 0}\
         .bad{color:#d55e00;font-weight:bold}.ok{color:#0072b2}</style></head><body>",
    );
    // Provider calls apart from the steps recorded without one (covered, manual).
    let calls = e.calls.iter().filter(|r| r.kind == "call").count();
    h.push_str(&format!(
        "<h1>recert evidence: snapshot #{}</h1><p>Snapshot taken {} · generated {} by {} · {} findings · {} decisions · {} provider calls · {} steps without a call</p>",
        e.snapshot_id,
        esc(&time(e.taken_at)),
        esc(&time(e.generated_at)),
        esc(&e.generated_by),
        e.findings.len(),
        e.decisions.len(),
        calls,
        e.calls.len() - calls
    ));
    match &e.chain {
        Ok(n) => h.push_str(&format!(
            "<p class=\"ok\">Audit chain intact: {n} entries verified. Check it yourself: <code>recert audit verify</code>, and this pack with <code>sha256sum -c manifest.sha256</code>.</p>"
        )),
        Err(b) => h.push_str(&format!("<p class=\"bad\">Audit chain BROKEN: {}</p>", esc(&b.to_string()))),
    }
    h.push_str("<h2>Sources</h2><table><tr><th>source</th><th>kind</th><th>status</th><th>items</th><th>finished</th></tr>");
    for s in e.sources {
        let st = if s.ok {
            "ok".to_string()
        } else {
            format!("FAILED: {}", s.error.as_deref().unwrap_or(""))
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.source),
            esc(&s.kind),
            esc(&st),
            s.items,
            esc(&time(s.finished_at))
        ));
    }
    h.push_str("</table><h2>Findings</h2>");
    h.push_str(&bars(
        "Findings by rule",
        &count(e.findings.iter().map(|f| f.rule.as_str())),
    ));
    h.push_str(&bars(
        "Findings by severity",
        &count(e.findings.iter().map(|f| f.severity.as_str())),
    ));
    h.push_str(&bars(
        "Findings by provider",
        &count(e.findings.iter().map(|f| f.provider.as_str())),
    ));
    h.push_str("<h2>Decisions</h2>");
    h.push_str(&bars(
        "Decisions by verdict",
        &count(
            e.decisions
                .iter()
                .filter(|d| !d.undone)
                .map(|d| d.d.verdict.as_str()),
        ),
    ));
    h.push_str("<table><tr><th>#</th><th>when</th><th>reviewer</th><th>verdict</th><th>target</th><th>justification</th><th>undone</th></tr>");
    for d in e.decisions.iter().take(5000) {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {} on {}</td><td>{}</td><td>{}</td></tr>",
            d.id,
            esc(&time(d.made_at)),
            esc(&d.reviewer),
            d.d.verdict.as_str(),
            esc(&d.d.target.kind),
            esc(&d.d.label),
            esc(&d.d.target.source),
            esc(d.d.justification.as_deref().unwrap_or("")),
            if d.undone { "yes" } else { "" }
        ));
    }
    h.push_str("</table>");
    if e.decisions.len() > 5000 {
        h.push_str("<p>The first 5,000 decisions are shown; decisions.csv has them all.</p>");
    }
    h.push_str("<h2>Calls made</h2>");
    h.push_str(&bars(
        "Calls by result",
        &count(e.calls.iter().map(|r| r.state.as_str())),
    ));
    h.push_str("<table><tr><th>plan</th><th>#</th><th>call</th><th>state</th><th>status</th><th>result</th></tr>");
    for r in e.calls.iter().take(5000) {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.plan,
            r.seq,
            esc(&r.line()),
            r.state.as_str(),
            r.status.map(|s| s.to_string()).unwrap_or_default(),
            esc(r.result.as_deref().unwrap_or(""))
        ));
    }
    h.push_str("</table></body></html>\n");
    h
}

/// `sha256sum`-format manifest of `files`.
pub fn manifest(files: &[(String, Vec<u8>)]) -> String {
    let mut out = String::new();
    for (name, bytes) in files {
        out.push_str(&format!("{}  {name}\n", super::hex(&Sha256::digest(bytes))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_html_are_defused() {
        assert_eq!(
            esc("<script>alert('x')</script>\u{1b}\u{202e}\u{2028}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\u{fffd}\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn the_manifest_lists_every_file_with_its_hash() {
        let files = vec![("a.txt".to_string(), b"abc".to_vec())];
        assert_eq!(
            manifest(&files),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.txt\n"
        );
    }
}
