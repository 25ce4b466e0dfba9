//! Reading the gaps: `recert gaps` and `recert person`.

use super::*;

/// Which findings `recert gaps` prints. Each list is "any of"; empty lists keep everything.
#[derive(Debug, Default, Clone)]
pub struct GapFilter {
    pub rules: Vec<String>,
    pub providers: Vec<String>,
    pub severities: Vec<String>,
    pub person: Option<String>,
}

impl GapFilter {
    /// Refuse names that match nothing, saying which ones exist.
    pub fn validate(&self) -> Result<()> {
        for r in &self.rules {
            if !reconcile::is_rule(r) {
                let known: Vec<&str> = reconcile::RULES.iter().map(|r| r.0).collect();
                bail!(
                    "--rule {r}: no such rule; the rules are {}",
                    known.join(", ")
                );
            }
        }
        for s in &self.severities {
            if !["critical", "high", "medium", "low", "info"].contains(&s.as_str()) {
                bail!("--severity {s}: the severities are critical, high, medium, low, info");
            }
        }
        Ok(())
    }

    fn keep(&self, f: &Finding) -> bool {
        let any = |list: &[String], v: &str| {
            list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(v))
        };
        any(&self.rules, &f.rule)
            && any(&self.providers, &f.provider)
            && any(&self.severities, f.severity.as_str())
    }
}

/// `recert gaps`: the findings of the latest snapshot.
pub fn gaps(g: &Globals, format: Format, filter: &GapFilter) -> Result<()> {
    filter.validate()?;
    let cfg = g.config()?;
    let snap = load_latest(g)?.ok_or_else(|| no_snapshot(g))?;
    let (cx, all) = judged(&cfg, &g.paths.store, &snap)?;
    let mut found: Vec<Finding> = match &filter.person {
        Some(email) => reconcile::footprint(&snap.data, &cx, &all, email).findings,
        None => all,
    };
    found.retain(|f| filter.keep(f));
    let revoked = revoked_since(g, &snap)?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", crate::model::text::json_pretty(&found)?)?,
        Format::Csv => write!(out, "{}", crate::audit::evidence::findings_csv(&found))?,
        Format::Table => write!(out, "{}", to_table(&found, &revoked, &snap))?,
    }
    // The exports are the snapshot's findings as they were; the note goes beside them.
    let n = found
        .iter()
        .filter(|f| revoked_at(f, &revoked).is_some())
        .count();
    if n > 0 && format != Format::Table {
        eprintln!("note: {}", revoked_note(n, &snap));
    }
    warn_failed_sources(&snap);
    Ok(())
}

/// The standing revokes a plan carried out after `snap` was taken, by target
/// ([`engine::review::revoked_since`]): what the snapshot cannot show yet.
fn revoked_since(g: &Globals, snap: &Snapshot) -> Result<Revoked> {
    let store = Store::open(&g.paths.store)?;
    Ok(engine::review::revoked_since(
        &store.decisions()?,
        &store.all_journal()?,
        snap.taken_at,
    ))
}

type Revoked = std::collections::HashMap<crate::review::Target, (i64, i64)>;

fn revoked_at(f: &Finding, revoked: &Revoked) -> Option<(i64, i64)> {
    if revoked.is_empty() {
        return None;
    }
    let t = crate::review::Target::new(&f.provider, &f.source, &f.subject_kind, &f.subject_id);
    revoked.get(&t).copied()
}

fn revoked_note(n: usize, snap: &Snapshot) -> String {
    let which = if n == 1 {
        "1 finding is".to_string()
    } else {
        format!("{n} findings are")
    };
    format!(
        "{which} on objects a plan revoked after snapshot #{} was taken: `recert sync` reads the org as it is now",
        snap.id
    )
}

/// `recert person EMAIL`: one person's whole footprint.
pub fn person(g: &Globals, email: &str, format: Format) -> Result<()> {
    let cfg = g.config()?;
    let snap = load_latest(g)?.ok_or_else(|| no_snapshot(g))?;
    let (cx, all) = judged(&cfg, &g.paths.store, &snap)?;
    let revoked = revoked_since(g, &snap)?;
    let fp = reconcile::footprint(&snap.data, &cx, &all, email);
    if fp.directory.is_empty() && fp.accounts.is_empty() {
        bail!(
            "nobody in snapshot #{} has the email {email}: no directory entry and no provider account",
            snap.id
        );
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", crate::model::text::json_pretty(&fp)?)?,
        Format::Table | Format::Csv => write!(out, "{}", footprint_table(&fp, &snap, &revoked))?,
    }
    warn_failed_sources(&snap);
    Ok(())
}

fn date(ts: Option<i64>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// What the provider's records say about one account or key, under its line.
fn history(o: &mut String, fp: &reconcile::Footprint, kind: &str, source: &str, id: &str) {
    use std::fmt::Write as _;
    let found = fp
        .history
        .iter()
        .find(|h| h.subject_kind == kind && h.source == source && h.subject_id == id);
    for line in found.into_iter().flat_map(|h| &h.lines) {
        let _ = writeln!(o, "{:>14}{}", "", crate::model::text::sanitize(line));
    }
}

/// Under an account's or key's line: that a plan revoked it after the snapshot was taken.
fn revoked_line(o: &mut String, revoked: &Revoked, t: crate::review::Target) {
    use std::fmt::Write as _;
    if let Some((at, plan)) = revoked.get(&t) {
        let _ = writeln!(
            o,
            "{:>14}revoked on {} by plan #{plan}, after this snapshot (`recert sync` reads it again)",
            "",
            date(Some(*at))
        );
    }
}

fn footprint_table(fp: &reconcile::Footprint, snap: &Snapshot, revoked: &Revoked) -> String {
    use crate::model::text::{columns, sanitize};
    use std::fmt::Write as _;
    let mut o = String::new();
    let names = snap.data.resource_names();
    let _ = writeln!(
        o,
        "{}  (last activity {})",
        sanitize(&fp.email),
        date(fp.last_active_at)
    );
    let _ = writeln!(o, "\nDIRECTORY");
    if fp.directory.is_empty() {
        let _ = writeln!(o, "  (no directory person has this email)");
    }
    for said in &fp.said {
        for (label, text) in said.facts(snap.taken_at) {
            let _ = writeln!(o, "  {label:<10} {}", sanitize(&text));
        }
    }
    let _ = writeln!(o, "\nACCOUNTS");
    let rows = fp.accounts.iter().map(|a| {
        [
            a.provider.clone(),
            a.id.clone(),
            format!("role {}", a.role.as_deref().unwrap_or("-")),
            format!("added {}", date(a.added_at)),
            format!("last active {}", date(a.last_active_at)),
        ]
    });
    for (line, a) in columns(rows, &[]).lines().zip(&fp.accounts) {
        let _ = writeln!(o, "  {line}");
        let t = crate::review::Target::new(&a.provider, &a.source, "account", &a.id);
        revoked_line(&mut o, revoked, t);
        history(&mut o, fp, "account", &a.source, &a.id);
    }
    let _ = writeln!(o, "\nMEMBERSHIPS AND ROLES");
    let rows = fp.grants.iter().map(|g| {
        [
            g.provider.to_string(),
            names
                .get(&(g.source.as_str(), g.resource_id.as_str()))
                .copied()
                .unwrap_or(&g.resource_id)
                .to_string(),
            g.role.as_deref().unwrap_or("-").to_string(),
            // A group by its name, where the snapshot lists one: as the findings say it.
            match crate::reconcile::via_words(&g.via, |id| {
                names.get(&(g.source.as_str(), id)).copied().unwrap_or(id)
            }) {
                ("", _) => format!("via {}", g.via),
                (via, through) => format!("{}{through}", via.trim_start()),
            },
        ]
    });
    for line in columns(rows, &[]).lines() {
        let _ = writeln!(o, "  {line}");
    }
    let _ = writeln!(o, "\nKEYS");
    let rows = fp.keys.iter().map(|k| {
        [
            k.provider.clone(),
            k.id.clone(),
            // By its name and redacted value, as the findings below name it.
            format!(
                "{} {}",
                k.name.as_deref().unwrap_or("(unnamed)"),
                k.redacted.as_deref().unwrap_or("-")
            ),
            format!("status {}", k.status.as_deref().unwrap_or("active")),
            format!("created {}", date(k.created_at)),
            format!("last used {}", date(k.last_used_at)),
            format!(
                "spent {}",
                k.spend_cents
                    .map(|c| format!("${}.{:02} (30 days)", c / 100, c % 100))
                    .unwrap_or_else(|| "-".into())
            ),
        ]
    });
    for (line, k) in columns(rows, &[]).lines().zip(&fp.keys) {
        let _ = writeln!(o, "  {line}");
        let t = crate::review::Target::new(&k.provider, &k.source, &k.kind, &k.id);
        revoked_line(&mut o, revoked, t);
        history(&mut o, fp, "api_key", &k.source, &k.id);
    }
    let _ = writeln!(o, "\nFINDINGS");
    o.push_str(
        &to_table(&fp.findings, revoked, snap)
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>(),
    );
    o
}

/// The findings as a table; one on an object a plan revoked after the snapshot was taken says
/// so before its detail, and the count under the table says how many.
pub fn to_table(findings: &[Finding], revoked: &Revoked, snap: &Snapshot) -> String {
    let head = ["SEVERITY", "RULE", "PROVIDER", "SUBJECT", "EMAIL", "DETAIL"].map(String::from);
    let mut n = 0;
    let rows: Vec<[String; 6]> = findings
        .iter()
        .map(|f| {
            let detail = match revoked_at(f, revoked) {
                Some((at, plan)) => {
                    n += 1;
                    format!(
                        "REVOKED after the snapshot (plan #{plan}, {}): {}",
                        date(Some(at)),
                        f.detail
                    )
                }
                None => f.detail.to_string(),
            };
            [
                f.severity.as_str().to_string(),
                f.rule.to_string(),
                f.provider.to_string(),
                f.subject_id.to_string(),
                f.subject_email.as_deref().unwrap_or("-").to_string(),
                detail,
            ]
        })
        .collect();
    let mut out = crate::model::text::columns(std::iter::once(head).chain(rows), &[]);
    out.push_str(&format!("{} findings\n", findings.len()));
    if n > 0 {
        out.push_str(&format!("{}\n", revoked_note(n, snap)));
    }
    out
}
