//! Ownership records: `recert owners import` and `recert owners list`.

use super::*;

/// `recert owners import FILE`: assign owners in bulk from a CSV with the columns `id` and
/// `owner` (and optionally `source`). All or nothing: every bad line is named and nothing is
/// recorded unless every line is good. Each assignment is a reassign decision (audited, undoable).
pub fn owners_import(g: &Globals, file: &Path, reason: Option<String>) -> Result<()> {
    use crate::review::{NewDecision, Target, Verdict};
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "owners import")?;
    let mut store = Store::open(&g.paths.store)?;
    let snap = store.latest_snapshot()?.ok_or_else(|| no_snapshot(g))?;
    let d = &snap.data;
    let dir = reconcile::Directory::new(&d.people, &cfg.rules);
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let headers: Vec<String> = rdr.headers()?.iter().map(|h| h.to_lowercase()).collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id_col), Some(owner_col)) = (col("id"), col("owner")) else {
        bail!(
            "{}: the header must name the columns `id` and `owner` (and may name `source`)",
            file.display()
        );
    };
    let source_col = col("source");
    // Everything that can have an owner, by id.
    let mut ownable: Vec<(Target, String)> = Vec::new();
    for c in &d.credentials {
        let label = c
            .name
            .clone()
            .or(c.redacted.clone())
            .unwrap_or_else(|| c.id.clone());
        ownable.push((Target::new(&c.provider, &c.source, &c.kind, &c.id), label));
    }
    for s in &d.service_accounts {
        let label = s.name.clone().unwrap_or_else(|| s.id.clone());
        ownable.push((
            Target::new(&s.provider, &s.source, "service_account", &s.id),
            label,
        ));
    }
    // Service accounts known only by their keys (Anthropic's): as the rules know them.
    for ((source, id), (provider, _)) in d.unlisted_service_accounts(|_| true) {
        ownable.push((
            Target::new(provider, source, "service_account", id),
            format!("service account {id}"),
        ));
    }
    for r in &d.resources {
        let label = r.name.clone().unwrap_or_else(|| r.id.clone());
        ownable.push((
            Target::new(&r.provider, &r.source, "resource", &r.id),
            label,
        ));
    }
    // An assignment is a decision and the latest decision stands: one made here on a key a
    // responder revoked would take the revoke away. Those are left as they are, and named.
    let decisions = store.decisions()?;
    let revoked: std::collections::HashSet<&Target> = crate::review::effective(&decisions)
        .into_iter()
        .filter(|x| x.d.verdict == Verdict::Revoke)
        .map(|x| &x.d.target)
        .collect();
    let mut kept = Vec::new();
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let line = n + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let id = rec.get(id_col).unwrap_or("");
        let owner = rec.get(owner_col).unwrap_or("");
        let source = source_col
            .and_then(|c| rec.get(c))
            .filter(|s| !s.is_empty());
        let found: Vec<&(Target, String)> = ownable
            .iter()
            .filter(|(t, _)| t.id == id && source.is_none_or(|s| t.source == s))
            .collect();
        let target = match found.len() {
            0 => {
                errors.push(format!(
                    "line {line}: no key, service account or resource '{id}' in snapshot #{}",
                    snap.id
                ));
                continue;
            }
            1 => found[0],
            _ => {
                errors.push(format!(
                    "line {line}: '{id}' is in several sources; add a `source` column"
                ));
                continue;
            }
        };
        if dir.standing(Some(owner)) != reconcile::Standing::Current {
            errors.push(format!(
                "line {line}: owner '{owner}' is not an active directory person"
            ));
            continue;
        }
        if revoked.contains(&target.0) {
            kept.push(format!(
                "line {line}: {} ({})",
                crate::model::text::sanitize(&target.1),
                crate::model::text::sanitize(&target.0.id)
            ));
            continue;
        }
        items.push(NewDecision {
            verdict: Verdict::Reassign,
            target: target.0.clone(),
            label: target.1.clone(),
            rule: None,
            owner: Some(dir.canonical(owner)),
            until: None,
            justification: Some(
                reason
                    .clone()
                    .unwrap_or_else(|| format!("owners imported from {}", file.display())),
            ),
        });
    }
    if !errors.is_empty() {
        let shown: Vec<&String> = errors.iter().take(20).collect();
        bail!(
            "{}: {}, nothing imported:\n  {}",
            file.display(),
            crate::model::text::plural(errors.len(), "bad line"),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    let left = || {
        if !kept.is_empty() {
            let (n, how) = match kept.len() {
                1 => ("1".to_string(), "left as it was: a revoke stands on it"),
                n => (n.to_string(), "left as they were: a revoke stands on each"),
            };
            println!(
                "{n} {how} (undo the revoke to assign an owner):\n  {}",
                kept.join("\n  ")
            );
        }
    };
    if items.is_empty() {
        println!("{}: nothing to assign", file.display());
        left();
        return Ok(());
    }
    let batch = engine::decide::record(
        &mut store,
        &items,
        &acting_as(g, &cfg, None)?,
        Some(snap.id),
        chrono::Utc::now().timestamp(),
    )
    .map_err(anyhow::Error::msg)?;
    println!(
        "assigned {} (batch {batch})",
        crate::model::text::plural(items.len(), "owner")
    );
    left();
    Ok(())
}

/// `recert owners list`: recert's ownership records.
pub fn owners_list(g: &Globals, format: Format) -> Result<()> {
    let store = Store::open(&g.paths.store)?;
    let mut owners: Vec<(crate::review::Target, String)> =
        crate::review::owners(&store.decisions()?)
            .into_iter()
            .collect();
    owners.sort();
    match format {
        Format::Json => {
            let v: Vec<serde_json::Value> = owners
                .iter()
                .map(|(t, o)| serde_json::json!({"source": t.source, "provider": t.provider, "kind": t.kind, "id": t.id, "owner": o}))
                .collect();
            println!("{}", crate::model::text::json_pretty(&v)?);
        }
        _ => {
            let rows = owners.iter().map(|(t, o)| {
                [
                    t.source.as_str(),
                    t.kind.as_str(),
                    t.id.as_str(),
                    o.as_str(),
                ]
            });
            let head = ["SOURCE", "KIND", "ID", "OWNER"];
            print!(
                "{}",
                crate::model::text::columns(std::iter::once(head).chain(rows), &[])
            );
            println!("{} owned", owners.len());
        }
    }
    Ok(())
}
