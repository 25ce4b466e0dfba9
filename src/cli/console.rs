//! The console: `recert` (on the latest snapshot) and `recert demo`.

use super::*;

pub(super) fn tui_options(
    g: &Globals,
    cfg: &Config,
    snap: &Snapshot,
    keys: Option<tui::Keys>,
) -> Result<tui::Options> {
    let theme = load_theme(g, cfg)?;
    let keymap_file = g.paths.config_file.with_file_name("keymap.toml");
    let keymap = match std::fs::read_to_string(&keymap_file) {
        Ok(text) => tui::keymap::Keymap::with_overrides(&text)
            .map_err(|e| anyhow::anyhow!("keymap {}: {e}", keymap_file.display()))?,
        Err(_) => tui::keymap::Keymap::default_map(),
    };
    let when = chrono::DateTime::from_timestamp(snap.taken_at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let sources = snap
        .sources
        .iter()
        .map(|s| format!("{} {}", s.source, if s.ok { "ok" } else { "FAILED" }))
        .collect::<Vec<_>>()
        .join(", ");
    let dir = g.paths.store.clone();
    Ok(tui::Options {
        keymap,
        theme,
        read_only: g.read_only || cfg.settings.read_only,
        justification_required: cfg.settings.justification == config::Justification::Required,
        reviewer: acting_as(g, cfg, None)?,
        context: format!("snapshot #{} · {when} · {sources}", snap.id),
        store: dir,
        config: cfg.clone(),
        keys,
        campaign: None,
    })
}

/// `recert` with no command: the console on the latest snapshot.
pub fn console(g: &Globals) -> Result<()> {
    let cfg = g.config()?;
    // The header only: the data loads behind the first frame.
    let snap = latest_header(g)?.ok_or_else(|| no_snapshot(g))?;
    let keys: tui::Keys = std::sync::Arc::new(config::resolve_key);
    let opts = tui_options(g, &cfg, &snap, Some(keys))?;
    drop(snap);
    tui::run(opts)
}

/// The first line of the rules `recert demo` writes into its data dir: a file that starts
/// otherwise is a person's own and is never overwritten.
const DEMO_RULES_MARK: &str = "# Written by `recert demo`";

/// The demo's rules (its admin groups) into the data dir's `rules.toml`, private to this
/// user, so a later command on the data dir (`recert --data-dir DIR gaps`) judges the demo's
/// snapshots as its console does. Rules only: the demo's sources, which point at a simulator
/// that stops with the demo, never outlive it.
fn write_demo_rules(dir: &Path, cfg: &Config) -> Result<()> {
    let path = dir.join(config::DATA_DIR_RULES);
    if let Ok(old) = std::fs::read_to_string(&path)
        && !old.starts_with(DEMO_RULES_MARK)
    {
        eprintln!(
            "recert demo: {} is not the demo's own and is left as it is; commands on this data dir judge by it",
            path.display()
        );
        return Ok(());
    }
    let rules = config::DataDirRules {
        rules: cfg.rules.clone(),
    };
    let text = format!(
        "{DEMO_RULES_MARK}: the rules this data dir's snapshots are judged by.\n{}",
        toml::to_string(&rules).context("cannot write the demo's rules")?
    );
    if !dir.exists() {
        crate::store::private_dir(dir)?;
    }
    crate::store::private_file(&path)?;
    write_file(&path, &text)
}

/// `recert demo`: a simulated organisation, synced over real HTTP, then the console.
pub async fn demo(
    g: &Globals,
    data_dir: Option<&Path>,
    size: Size,
    seed: u64,
    directory: sim::Directory,
) -> Result<()> {
    let running = sim::start(SimOptions {
        size,
        seed,
        ..Default::default()
    })
    .await
    .context("cannot start the simulator on 127.0.0.1")?;
    let tmp;
    let dir = match data_dir {
        Some(d) => d.to_path_buf(),
        None => {
            tmp = tempfile::Builder::new().prefix("recert-demo-").tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let mut cfg = Config::parse(&running.config_toml_with(directory), Path::new("(demo)"))?;
    // The demo keeps the user's console settings (theme, reviewer, justification, read-only).
    if let Ok(user) = Config::load(&g.paths.config_file, g.config_explicit) {
        cfg.settings = user.settings;
    }
    write_demo_rules(&dir, &cfg)?;
    let mut store = Store::open(&dir)?;
    eprintln!(
        "recert demo: simulating a {size:?} organisation on {} ...",
        running.addr
    );
    let key = Secret::new(sim::DEFAULT_KEY);
    let resolve = {
        let key = key.clone();
        move |_: &SourceConfig| Ok(key.clone())
    };
    let report = sync::sync(&cfg, &mut store, &resolve, true).await?;
    for line in report.lines() {
        eprintln!("{line}");
    }
    drop(store);
    let snap = Store::open(&dir)?
        .latest_header()?
        .ok_or_else(|| anyhow::anyhow!("the demo sync stored nothing"))?;
    let mut g2 = Globals {
        paths: g.paths.clone(),
        config_explicit: false,
        theme: g.theme.clone(),
        read_only: g.read_only,
    };
    g2.paths.store = crate::store::Location::Dir(dir.clone());
    g2.paths.data_dir = dir;
    let keys: tui::Keys = std::sync::Arc::new(move |_: &SourceConfig| Ok(key.clone()));
    let opts = tui_options(&g2, &cfg, &snap, Some(keys))?;
    drop(snap);
    tokio::task::block_in_place(|| tui::run(opts))?;
    running.stop().await;
    Ok(())
}
