//! Setting up: `recert sync`, `recert login` and `recert doctor`.

use super::*;

/// `recert sync`: pull every source; one summary line each; an error when any failed.
pub async fn sync_cmd(g: &Globals, full: bool) -> Result<()> {
    let cfg = g.config()?;
    if cfg.sources.is_empty() {
        bail!(
            "no sources configured in {}. Add a [[source]] (see README), or run `recert demo` to try recert on a simulated organisation",
            g.paths.config_file.display()
        );
    }
    let mut store = Store::open(&g.paths.store)?;
    let progress = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        sync::Progress::Stderr
    } else {
        sync::Progress::Quiet
    };
    let report = sync::sync_full(&cfg, &mut store, &config::resolve_key, progress, full).await?;
    for line in report.lines() {
        println!("{line}");
    }
    let failed = report.failed();
    let total = report.sources.len();
    match (report.snapshot_id, report.kept_snapshot) {
        (Some(_), _) if failed == 0 => Ok(()),
        (Some(id), _) => bail!(
            "{failed} of {total} sources failed; snapshot #{id} holds the last good data of each (see above, and the log in {}). `recert doctor` shows what each key can and cannot read",
            g.paths.state_dir.display()
        ),
        (None, Some(kept)) => bail!(
            "all {total} sources failed; nothing was stored and snapshot #{kept} stays the latest. `recert doctor` shows what each key can and cannot read"
        ),
        (None, None) => {
            bail!(
                "all {total} sources failed; nothing was stored (there is no snapshot yet). `recert doctor` shows what each key can and cannot read"
            )
        }
    }
}

/// `recert login SOURCE`: prompt for the key (not echoed) and keep it in the OS keyring.
pub fn login(g: &Globals, source: &str) -> Result<()> {
    let cfg = g.config()?;
    cfg.source(source)?;
    let key = rpassword::prompt_password(format!("Admin key for '{source}' (input hidden): "))?;
    if key.trim().is_empty() {
        bail!("no key entered; nothing stored");
    }
    config::store_key(source, &Secret::new(key.trim()))?;
    println!(
        "stored the key for '{source}' in the OS keyring (service '{}')",
        config::KEYRING_SERVICE
    );
    Ok(())
}

/// Free bytes on the filesystem holding `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a valid out-parameter.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_bytes(_: &Path) -> Option<u64> {
    None
}

/// `recert doctor`: the config, the store, and every source's key probed endpoint by
/// endpoint (`engine::doctor`). Fails (exit 1) when a source cannot be synced, the config
/// cannot be read or the store is unusable.
pub async fn doctor(g: &Globals, format: Format) -> Result<()> {
    use crate::engine::doctor::{Outcome, SourceReport};
    let mut problems = Vec::new();
    let cfg_path = g.paths.config_file.display().to_string();
    let (config, cfg) = match g.config() {
        Ok(c) if c.sources.is_empty() => (
            format!(
                "no sources configured in {cfg_path} (README: Using it with your own providers; `recert demo` needs none)"
            ),
            Some(c),
        ),
        Ok(c) => (
            format!("{cfg_path}: OK, {}", plural(c.sources.len(), "source")),
            Some(c),
        ),
        Err(e) => {
            problems.push("the config".to_string());
            (format!("{cfg_path}: {e:#}"), None)
        }
    };
    // A data dir's own rules (the demo writes them): which file judges, in place of what.
    let rules = g.paths.rules_file.as_ref().map(|f| match &cfg {
        Some(_) => format!(
            "{}: this data dir's own rules, used in place of [rules] in {cfg_path}",
            f.display()
        ),
        None => format!("{}: see the config line", f.display()),
    });
    let dir = &g.paths.data_dir;
    let store = if let crate::store::Location::Postgres(t) = &g.paths.store {
        match Store::open(&g.paths.store).and_then(|s| s.health()) {
            Ok((_, version, known)) => {
                if version != known {
                    problems.push("the store".to_string());
                }
                format!("{} (PostgreSQL): schema {version} of {known}", t.shown())
            }
            Err(e) => {
                problems.push("the store".to_string());
                format!("{}: {e:#}", t.shown())
            }
        }
    } else {
        match Store::open(dir).and_then(|s| s.health().map(|h| (s.path().to_path_buf(), h))) {
            Ok((path, (check, version, known))) => {
                let probe = dir.join(format!(".doctor-{}", std::process::id()));
                let writable = std::fs::write(&probe, b"").is_ok();
                let _ = std::fs::remove_file(&probe);
                let free = free_bytes(dir);
                let low = free.is_some_and(|f| f < 512 * 1024 * 1024);
                if check != "ok" || version != known || !writable {
                    problems.push("the store".to_string());
                }
                format!(
                    "{}: integrity {check}, schema {version} of {known}, {}, {}{}",
                    path.display(),
                    if writable {
                        "writable"
                    } else {
                        "NOT WRITABLE (check the directory's owner and mode)"
                    },
                    free.map(|f| format!("{:.1} GB free", f as f64 / 1e9))
                        .unwrap_or_else(|| "free space unknown".into()),
                    if low {
                        " (LOW: a sync of a large org needs more)"
                    } else {
                        ""
                    }
                )
            }
            Err(e) => {
                problems.push("the store".to_string());
                format!("{}: {e:#}", dir.display())
            }
        }
    };
    let now = chrono::Utc::now().timestamp();
    let mut reports: Vec<SourceReport> = Vec::new();
    for src in cfg.iter().flat_map(|c| c.sources.iter()) {
        let key = if src.source_kind() == crate::model::SourceKind::Csv {
            Err(String::new())
        } else {
            config::resolve_key(src).map_err(|e| e.to_string())
        };
        let r = crate::engine::doctor::check_source(src, key, now).await;
        if !r.can_sync() {
            problems.push(format!("source '{}'", r.source));
        }
        reports.push(r);
    }
    match format {
        Format::Json => println!(
            "{}",
            crate::model::text::json_pretty(&serde_json::json!({
                "config": config,
                "rules": rules,
                "store": store,
                "sources": reports,
                "ok": problems.is_empty(),
            }))?
        ),
        _ => {
            println!("config  {}", sanitize(&config));
            if let Some(r) = &rules {
                println!("rules   {}", sanitize(r));
            }
            println!("store   {}", sanitize(&store));
            for r in &reports {
                println!(
                    "\nsource  {} ({}): {}",
                    sanitize(&r.source),
                    r.kind,
                    if r.can_sync() {
                        "can sync"
                    } else {
                        "CANNOT SYNC"
                    }
                );
                for c in &r.checks {
                    let optional = if c.required || c.outcome == Outcome::Ok {
                        ""
                    } else {
                        " (optional: the sync goes on without it)"
                    };
                    println!(
                        "  {:<18} {:<36} {}{optional}",
                        c.outcome.label(),
                        sanitize(&c.what),
                        sanitize(&c.endpoint)
                    );
                    if c.outcome != Outcome::Ok {
                        // A refused key's own error repeats the sync's advice: the fix says it.
                        let said =
                            matches!(c.outcome, Outcome::MissingPermission | Outcome::KeyRejected);
                        if !c.detail.is_empty() && !said {
                            println!("      {}", sanitize(&c.detail));
                        }
                        println!("      fix: {}", sanitize(&c.fix));
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        bail!("doctor found problems with {}", problems.join(", "));
    }
    Ok(())
}
