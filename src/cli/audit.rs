//! The audit log and evidence: `recert audit verify`, `recert audit export`, `recert export`.

use super::*;

/// `recert audit verify [--head SEQ:HASH]`: the chain, its head and every row pointing into
/// it; the first thing that cannot be trusted is named. Prints the head to keep elsewhere.
pub fn audit_verify(g: &Globals, recorded: Option<&crate::audit::Head>) -> Result<()> {
    let store = Store::open(&g.paths.store)?;
    let (entries, verdict) = store.verify_audit(recorded)?;
    match verdict {
        Ok(n) => {
            let (seq, head) = entries
                .last()
                .map(|e| (e.seq, e.hash.as_str()))
                .unwrap_or((0, crate::audit::GENESIS));
            println!("audit log intact: {n} entries, head {seq}:{head}");
            if let Some(h) = recorded {
                println!("entry #{} still has the hash you recorded", h.seq);
            }
            println!(
                "keep the head outside this machine; `recert audit verify --head {seq}:{head}` later proves nothing up to it was removed or rewritten"
            );
            Ok(())
        }
        Err(b) => bail!("audit log cannot be trusted: {b}"),
    }
}

/// `recert audit export [--out FILE]`: the log as JSON lines.
/// `recert audit export [--format json|ocsf] [--since SEQ] [--out FILE]`: the chain as JSON
/// lines, recert's own entries or OCSF events.
pub fn audit_export(g: &Globals, out: Option<&Path>, ocsf: bool, since: i64) -> Result<()> {
    let store = Store::open(&g.paths.store)?;
    let entries = store.audit_entries()?;
    let mut text = String::new();
    if ocsf {
        for v in crate::audit::ocsf::events(&entries, since) {
            text.push_str(&crate::model::text::json_line(&v)?);
            text.push('\n');
        }
    } else {
        for e in entries.iter().filter(|e| e.seq > since) {
            text.push_str(&crate::model::text::json_line(e)?);
            text.push('\n');
        }
    }
    match out {
        Some(p) => write_file(p, &text)?,
        None => print!("{text}"),
    }
    Ok(())
}

/// `recert export evidence --out DIR`: the evidence pack, with a SHA-256 manifest.
pub fn export_evidence(g: &Globals, out: &Path) -> Result<()> {
    use crate::audit::evidence;
    let cfg = g.config()?;
    let store = Store::open(&g.paths.store)?;
    let snap = store.latest_snapshot()?.ok_or_else(|| no_snapshot(g))?;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!(
            "{} is not empty: give a new or empty directory, so the pack holds only its own files",
            out.display()
        );
    }
    let (_, found) = judged(&cfg, &g.paths.store, &snap)?;
    let decisions = store.decisions()?;
    let calls = store.all_journal()?;
    let (audit, chain) = store.verify_audit(None)?;
    let e = evidence::Evidence {
        snapshot_id: snap.id,
        taken_at: snap.taken_at,
        sources: &snap.sources,
        findings: &found,
        decisions: &decisions,
        calls: &calls,
        chain,
        audit: &audit,
        generated_at: chrono::Utc::now().timestamp(),
        generated_by: acting_as(g, &cfg, None)?,
    };
    let files = evidence::files(&e);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, bytes) in &files {
        std::fs::write(out.join(name), bytes)
            .with_context(|| format!("cannot write {}", out.join(name).display()))?;
    }
    std::fs::write(out.join("manifest.sha256"), evidence::manifest(&files))?;
    println!(
        "wrote {} files to {} (snapshot #{}, {} findings, {} decisions, {}, {} without a call); check with: cd {} && sha256sum -c manifest.sha256",
        files.len() + 1,
        out.display(),
        snap.id,
        found.len(),
        decisions.len(),
        plural(
            calls.iter().filter(|r| r.kind == "call").count(),
            "provider call"
        ),
        calls.iter().filter(|r| r.kind != "call").count(),
        out.display()
    );
    if let Err(b) = &e.chain {
        bail!("the pack was written, but the audit chain is broken: {b}");
    }
    Ok(())
}
