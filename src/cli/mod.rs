//! The commands behind the binary. `main.rs` only parses and dispatches; the work is here so it
//! can be tested and reused (the demo runs the same sync as `recert sync`).

pub mod campaign;
pub mod manual;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::model::text::plural;
use anyhow::{Context, Result, bail};

use crate::config::{self, Config, Paths, SourceConfig};
use crate::model::text::sanitize;
use crate::model::{Finding, Snapshot};
use crate::secret::Secret;
use crate::sim::{self, SimOptions, world::Size};
use crate::store::Store;
use crate::{engine, reconcile, sync, tui};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Global settings every command sees.
pub struct Globals {
    pub paths: Paths,
    /// `--config` was given: the file must exist.
    pub config_explicit: bool,
    pub theme: Option<String>,
    pub read_only: bool,
}

impl Globals {
    pub fn config(&self) -> Result<Config> {
        Ok(Config::load(&self.paths.config_file, self.config_explicit)?)
    }
}

/// The log file, through the one redactor: each event is written whole, redacted.
struct RedactingLog(std::sync::Mutex<std::fs::File>);

/// One event's text, redacted when it is complete.
pub struct RedactingLine<'a>(&'a std::sync::Mutex<std::fs::File>, Vec<u8>);

impl std::io::Write for RedactingLine<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactingLine<'_> {
    fn drop(&mut self) {
        let text = crate::secret::redact(&String::from_utf8_lossy(&self.1), &[]);
        let mut f = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = f.write_all(text.as_bytes());
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingLog {
    type Writer = RedactingLine<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine(&self.0, Vec::new())
    }
}

/// Send logs to a file in the state directory (never to the terminal), 0600.
pub fn init_logging(paths: &Paths) -> Option<PathBuf> {
    crate::store::private_dir(&paths.state_dir).ok()?;
    let file = paths.state_dir.join("recert.log");
    crate::store::private_file(&file).ok()?;
    let f = std::fs::OpenOptions::new().append(true).open(&file).ok()?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("RECERT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(RedactingLog(std::sync::Mutex::new(f)))
        .try_init()
        .ok()?;
    Some(file)
}

pub struct SimArgs {
    pub listen: std::net::SocketAddr,
    pub size: Size,
    pub seed: u64,
    pub latency_ms: u64,
    pub faults: Option<String>,
    pub key: String,
    pub truth: Option<PathBuf>,
    pub write_config: Option<PathBuf>,
    pub request_log: Option<PathBuf>,
    /// Writes allowed per minute across the simulated providers (429 beyond it).
    pub write_limit: Option<u32>,
    pub hostile: bool,
}

/// `recert sim`: serve until killed; print one JSON line of base URLs once listening.
pub async fn sim(a: SimArgs) -> Result<()> {
    let faults = match &a.faults {
        Some(spec) => sim::faults::Faults::parse(spec).context("--faults")?,
        None => Default::default(),
    };
    let opts = SimOptions {
        listen: a.listen,
        size: a.size,
        seed: a.seed,
        latency: std::time::Duration::from_millis(a.latency_ms),
        faults,
        key: a.key,
        request_log: a.request_log.clone(),
        write_limit: a
            .write_limit
            .map(|n| (n, std::time::Duration::from_secs(60))),
        hostile: a.hostile,
        ..Default::default()
    };
    let running = sim::start(opts)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    if let Some(path) = &a.truth {
        let truth = running.state.world.read().unwrap().truth.clone();
        write_file(path, &crate::model::text::json_pretty(&truth)?)?;
    }
    if let Some(path) = &a.write_config {
        write_file(path, &running.config_toml())?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", running.urls_json())?;
    out.flush()?;
    drop(out);
    shutdown_signal().await;
    running.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `recert sync`: pull every source; one summary line each; an error when any failed.
pub async fn sync_cmd(g: &Globals) -> Result<()> {
    let cfg = g.config()?;
    if cfg.sources.is_empty() {
        bail!(
            "no sources configured in {}. Add a [[source]] (see README), or run `recert demo` to try recert on a simulated organisation",
            g.paths.config_file.display()
        );
    }
    let mut store = Store::open(&g.paths.data_dir)?;
    let report = sync::sync(&cfg, &mut store, &config::resolve_key, true).await?;
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

fn load_latest(g: &Globals) -> Result<Option<Snapshot>> {
    let db = g.paths.data_dir.join("recert.db");
    if !db.exists() {
        return Ok(None);
    }
    Ok(Store::open(&g.paths.data_dir)?.latest_snapshot()?)
}

/// The latest snapshot's time and sources, without its data.
pub(crate) fn latest_header(g: &Globals) -> Result<Option<Snapshot>> {
    if !g.paths.data_dir.join("recert.db").exists() {
        return Ok(None);
    }
    Ok(Store::open(&g.paths.data_dir)?.latest_header()?)
}

fn no_snapshot(g: &Globals) -> anyhow::Error {
    anyhow::anyhow!(
        "no snapshot in {} yet. Add a [[source]] to {}, check it with `recert doctor` and run `recert sync` (README: Configuration), or run `recert demo` to see recert on a simulated organisation",
        g.paths.data_dir.display(),
        g.paths.config_file.display()
    )
}

pub use crate::engine::load::{findings, judged, owners};

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
    let (cx, all) = judged(&cfg, &g.paths.data_dir, &snap)?;
    let mut found: Vec<Finding> = match &filter.person {
        Some(email) => reconcile::footprint(&snap.data, &cx, &all, email).findings,
        None => all,
    };
    found.retain(|f| filter.keep(f));
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", crate::model::text::json_pretty(&found)?)?,
        Format::Csv => write!(out, "{}", crate::audit::evidence::findings_csv(&found))?,
        Format::Table => write!(out, "{}", to_table(&found))?,
    }
    warn_failed_sources(&snap);
    Ok(())
}

fn warn_failed_sources(snap: &Snapshot) {
    for s in snap.sources.iter().filter(|s| !s.ok) {
        eprintln!(
            "warning: source '{}' failed in the last sync ({}); its data is from snapshot #{}",
            s.source,
            s.error.as_deref().unwrap_or("unknown error"),
            s.carried_from
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
}

/// `recert person EMAIL`: one person's whole footprint.
pub fn person(g: &Globals, email: &str, format: Format) -> Result<()> {
    let cfg = g.config()?;
    let snap = load_latest(g)?.ok_or_else(|| no_snapshot(g))?;
    let (cx, all) = judged(&cfg, &g.paths.data_dir, &snap)?;
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
        Format::Table | Format::Csv => write!(out, "{}", footprint_table(&fp, &snap))?,
    }
    warn_failed_sources(&snap);
    Ok(())
}

fn date(ts: Option<i64>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

fn footprint_table(fp: &reconcile::Footprint, snap: &Snapshot) -> String {
    use crate::model::text::sanitize;
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
    for p in &fp.directory {
        let state = if p.absent {
            "removed"
        } else if p.active {
            "active"
        } else {
            "inactive"
        };
        let _ = writeln!(
            o,
            "  {:<10} {:<8} {}  dept {}  groups {}",
            p.source,
            state,
            sanitize(p.display_name.as_deref().unwrap_or(&p.user_name)),
            sanitize(p.department.as_deref().unwrap_or("-")),
            sanitize(&p.groups.join(", "))
        );
    }
    let _ = writeln!(o, "\nACCOUNTS");
    for a in &fp.accounts {
        let _ = writeln!(
            o,
            "  {:<10} {:<32} role {:<12} added {}  last active {}",
            a.provider,
            sanitize(&a.id),
            sanitize(a.role.as_deref().unwrap_or("-")),
            date(a.added_at),
            date(a.last_active_at)
        );
    }
    let _ = writeln!(o, "\nMEMBERSHIPS AND ROLES");
    for g in &fp.grants {
        let _ = writeln!(
            o,
            "  {:<10} {:<40} {:<22} via {}",
            g.provider,
            sanitize(
                names
                    .get(&(g.source.as_str(), g.resource_id.as_str()))
                    .copied()
                    .unwrap_or(&g.resource_id)
            ),
            sanitize(g.role.as_deref().unwrap_or("-")),
            g.via
        );
    }
    let _ = writeln!(o, "\nKEYS");
    for k in &fp.keys {
        let _ = writeln!(
            o,
            "  {:<10} {:<34} {:<28} status {:<9} created {}  last used {}  spent {}",
            k.provider,
            sanitize(&k.id),
            sanitize(k.redacted.as_deref().unwrap_or("-")),
            k.status.as_deref().unwrap_or("active"),
            date(k.created_at),
            date(k.last_used_at),
            k.spend_cents
                .map(|c| format!("${}.{:02} (30 days)", c / 100, c % 100))
                .unwrap_or_else(|| "-".into())
        );
    }
    let _ = writeln!(o, "\nFINDINGS");
    o.push_str(
        &to_table(&fp.findings)
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>(),
    );
    o
}

pub fn to_table(findings: &[Finding]) -> String {
    use crate::model::text::sanitize;
    let mut out = format!(
        "{:<8} {:<18} {:<8} {:<30} {:<34} {}\n",
        "SEVERITY", "RULE", "PROVIDER", "SUBJECT", "EMAIL", "DETAIL"
    );
    for f in findings {
        out.push_str(&format!(
            "{:<8} {:<18} {:<8} {:<30} {:<34} {}\n",
            f.severity.as_str(),
            f.rule,
            f.provider,
            sanitize(&f.subject_id),
            sanitize(f.subject_email.as_deref().unwrap_or("-")),
            sanitize(&f.detail)
        ));
    }
    out.push_str(&format!("{} findings\n", findings.len()));
    out
}

/// The built-in themes, by name.
pub const THEMES: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
];

/// `--theme` or `settings.theme`: a built-in name or a theme file; `NO_COLOR` drops colour.
pub fn load_theme(g: &Globals, cfg: &Config) -> Result<tui::theme::Theme> {
    let theme_name = g.theme.clone().or_else(|| cfg.settings.theme.clone());
    let overlay = match theme_name.as_deref() {
        None => None,
        Some(name) => match THEMES.iter().find(|t| t.0 == name) {
            Some((_, text)) => Some(text.to_string()),
            None => Some(std::fs::read_to_string(name).with_context(|| {
                let names: Vec<&str> = THEMES.iter().map(|t| t.0).collect();
                format!(
                    "theme '{name}': not a built-in theme ({}) and not a readable file",
                    names.join(", ")
                )
            })?),
        },
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tui::theme::Theme::load(overlay.as_deref(), no_color).map_err(|e| anyhow::anyhow!("theme: {e}"))
}

/// Who is deciding: `settings.reviewer`, `$RECERT_REVIEWER`, then `$USER`.
pub fn reviewer(cfg: &Config) -> String {
    cfg.settings
        .reviewer
        .clone()
        .or_else(|| {
            std::env::var("RECERT_REVIEWER")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .or_else(|| std::env::var("USER").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown-reviewer".into())
}

fn tui_options(
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
    let dir = g.paths.data_dir.clone();
    Ok(tui::Options {
        keymap,
        theme,
        read_only: g.read_only || cfg.settings.read_only,
        justification_required: cfg.settings.justification == config::Justification::Required,
        reviewer: reviewer(cfg),
        context: format!("snapshot #{} · {when} · {sources}", snap.id),
        data_dir: dir,
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

/// `recert demo`: a simulated organisation, synced over real HTTP, then the console.
pub async fn demo(g: &Globals, data_dir: Option<&Path>, size: Size, seed: u64) -> Result<()> {
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
    let mut cfg = Config::parse(&running.config_toml(), Path::new("(demo)"))?;
    // The demo keeps the user's console settings (theme, reviewer, justification, read-only).
    if let Ok(user) = g.config() {
        cfg.settings = user.settings;
    }
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
    g2.paths.data_dir = dir;
    let keys: tui::Keys = std::sync::Arc::new(move |_: &SourceConfig| Ok(key.clone()));
    let opts = tui_options(&g2, &cfg, &snap, Some(keys))?;
    drop(snap);
    tokio::task::block_in_place(|| tui::run(opts))?;
    running.stop().await;
    Ok(())
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

/// The revoke decisions standing that no plan covers yet, planned against the latest snapshot.
fn pending_plan(
    cfg: &Config,
    store: &Store,
    snap: &Snapshot,
    opts: crate::remediate::PlanOptions,
) -> Result<Vec<crate::remediate::PlannedStep>> {
    let own = engine::apply::own_keys(cfg, &config::resolve_key, &snap.data);
    Ok(engine::apply::pending(
        &store.decisions()?,
        &store.planned_decisions()?,
        &store.all_journal()?,
        snap,
        &own,
        opts,
    ))
}

fn plan_table(steps: &[crate::remediate::PlannedStep]) -> String {
    let mut out = String::new();
    for (i, p) in steps.iter().enumerate() {
        // A preview's decisions are not recorded yet (id 0): nothing to name.
        let ids: Vec<String> = p
            .decisions
            .iter()
            .filter(|d| **d > 0)
            .map(|d| d.to_string())
            .collect();
        let which = match ids.len() {
            0 => String::new(),
            1 => format!("   [decision {}]", ids[0]),
            _ => format!("   [decisions {}]", ids.join(", ")),
        };
        out.push_str(&format!(
            "{:>5}. {}{which}\n",
            i + 1,
            crate::model::text::sanitize(&p.step.line()),
        ));
    }
    let calls = crate::remediate::calls(steps);
    let manual = steps
        .iter()
        .filter(|p| matches!(p.step, crate::remediate::Step::Manual { .. }))
        .count();
    out.push_str(&format!(
        "{}, {}, {} recorded without a call (covered by another call, already done, or nothing to send)\n",
        plural(calls, "provider call"),
        plural(manual, "manual step"),
        steps.len() - calls - manual
    ));
    out
}

/// `recert plan`: what applying the standing revoke decisions would send, call by call.
pub fn plan_cmd(
    g: &Globals,
    format: Format,
    opts: crate::remediate::PlanOptions,
    manual_only: bool,
) -> Result<()> {
    let store = Store::open(&g.paths.data_dir)?;
    let snap = store.latest_snapshot()?.ok_or_else(|| no_snapshot(g))?;
    let steps = pending_plan(&g.config()?, &store, &snap, opts)?;
    if manual_only {
        return manual::planned(&store, &steps, format);
    }
    match format {
        Format::Json => println!("{}", crate::model::text::json_pretty(&steps)?),
        _ if steps.is_empty() => {
            println!(
                "nothing to plan: no standing revoke decision that a plan does not already cover"
            )
        }
        _ => print!("{}", plan_table(&steps)),
    }
    Ok(())
}

/// Show the plan, make sure every source it calls has a key, and ask (unless `yes`): whether
/// to go on. Nothing is stored or sent here.
fn confirm_plan(cfg: &Config, steps: &[crate::remediate::PlannedStep], yes: bool) -> Result<bool> {
    eprint!("{}", plan_table(steps));
    let calls = crate::remediate::calls(steps);
    let sources = crate::remediate::call_sources(steps);
    for s in &sources {
        config::resolve_key(cfg.source(s)?)?;
    }
    let threshold = cfg.settings.confirm_threshold.unwrap_or(25);
    let what = plural(calls, "provider call");
    Ok(calls == 0
        || yes
        || confirm(
            calls,
            threshold,
            &format!("This plan makes {what}."),
            &format!("apply {what}"),
        )?)
}

/// Ask before acting on `n` things: over `threshold`, the number must be typed ("`said` Type
/// N to `act`"); else y/N.
pub(crate) fn confirm(n: usize, threshold: usize, said: &str, act: &str) -> Result<bool> {
    use std::io::BufRead;
    if n > threshold {
        eprint!("{said} Type {n} to {act}: ");
    } else {
        let mut act = act.to_string();
        if let Some(first) = act.get(..1) {
            act.replace_range(..1, &first.to_uppercase());
        }
        eprint!("{said} {act}? [y/N] ");
    }
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim();
    Ok(if n > threshold {
        line == n.to_string()
    } else {
        matches!(line, "y" | "Y" | "yes")
    })
}

/// Commands that change anything stop here in read-only mode, before they read or send.
fn refuse_read_only(g: &Globals, cfg: &Config, what: &str) -> Result<()> {
    if g.read_only || cfg.settings.read_only {
        bail!(
            "read-only mode (--read-only or settings.read_only = true): {what} refused; nothing was recorded or sent. Drop the flag or the setting to {what}"
        );
    }
    Ok(())
}

/// `recert apply [--resume] [--yes]`: plan, confirm, journal, send.
/// `recert apply --abandon --reason TEXT`: give up the unfinished plan's open calls, audited,
/// so one call a provider will never accept does not block every later plan.
pub fn abandon_cmd(g: &Globals, reason: &str) -> Result<()> {
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "apply --abandon")?;
    if reason.trim().is_empty() {
        bail!("apply --abandon: say why (--reason \"...\")");
    }
    let mut store = Store::open(&g.paths.data_dir)?;
    let Some(plan) = store.unfinished_plan()? else {
        println!("nothing to abandon: every plan is finished");
        return Ok(());
    };
    let rows = store.abandon_plan(
        plan,
        &reviewer(&cfg),
        reason.trim(),
        chrono::Utc::now().timestamp(),
    )?;
    println!(
        "plan #{plan}: {} abandoned, audited",
        plural(rows.len(), "call")
    );
    for r in &rows {
        let unknown = if r.state == crate::remediate::RowState::Sent {
            " (it was sent and never answered: check the provider)"
        } else {
            ""
        };
        println!("  abandoned #{}: {}{unknown}", r.seq, sanitize(&r.line()));
    }
    println!(
        "their decisions stay recorded; `recert revoke` (or new decisions and `recert apply`) tries again"
    );
    Ok(())
}

pub async fn apply_cmd(
    g: &Globals,
    resume: bool,
    yes: bool,
    opts: crate::remediate::PlanOptions,
) -> Result<()> {
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "apply")?;
    let mut store = Store::open(&g.paths.data_dir)?;
    let actor = reviewer(&cfg);
    let plan_id = if resume {
        match store.unfinished_plan()? {
            Some(p) => {
                eprintln!("resuming plan #{p}");
                p
            }
            None => {
                println!("nothing to resume: every plan is finished");
                return Ok(());
            }
        }
    } else {
        engine::apply::guard(&store, "anything new is planned")?;
        let known = store.max_plan_id()?;
        let snap = store.latest_snapshot()?.ok_or_else(|| no_snapshot(g))?;
        let steps = pending_plan(&cfg, &store, &snap, opts)?;
        if steps.is_empty() {
            println!(
                "nothing to apply: no standing revoke decision that a plan does not already cover"
            );
            return Ok(());
        }
        if !confirm_plan(&cfg, &steps, yes)? {
            bail!("not confirmed; nothing was sent");
        }
        engine::apply::store_plan(
            &mut store,
            &steps,
            known,
            &actor,
            Some(snap.id),
            chrono::Utc::now().timestamp(),
        )?
    };
    run_plan(&cfg, store, plan_id, &actor).await
}

/// `--recheck`: for every call of this plan an earlier plan already made, one read of the
/// provider says whether it took (recorded in `done`, so the plan says so or sends it again).
async fn recheck_done(
    cfg: &Config,
    decisions: &[&crate::review::Decision],
    d: &crate::model::SourceData,
    opts: crate::remediate::PlanOptions,
    done: &mut crate::remediate::DoneCalls,
) -> Result<()> {
    let fresh =
        crate::remediate::plan_with(decisions, d, opts, &Default::default(), &Default::default());
    let effects: Vec<crate::remediate::Effect> = fresh
        .iter()
        .filter_map(|p| p.step.effect())
        .filter(|e| done.contains_key(e))
        .collect();
    let clients = engine::apply::clients(
        cfg,
        &config::resolve_key,
        effects.iter().map(|e| e.0.clone()),
    )?;
    for e in effects {
        let Some(http) = clients.get(&e.0) else {
            continue;
        };
        let proof = crate::remediate::recheck::recheck(http, &e).await;
        if let Some(x) = done.get_mut(&e) {
            x.proof = Some(proof);
        }
    }
    Ok(())
}

/// Send a stored plan's open calls, report item by item, then the summary.
async fn run_plan(cfg: &Config, store: Store, plan_id: i64, actor: &str) -> Result<()> {
    use crate::remediate::RowState;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let on_item = |n: usize,
                   total: usize,
                   row: &crate::remediate::JournalRow,
                   state: RowState,
                   detail: &str| {
        if state != RowState::Done {
            eprintln!(
                "[{n}/{total}] FAILED {}: {}",
                crate::model::text::sanitize(&row.line()),
                crate::model::text::sanitize(detail)
            );
        } else if tty {
            eprint!(
                "\r\x1b[2K[{n}/{total}] done {}",
                crate::model::text::sanitize(&row.line())
            );
        }
    };
    let store = std::sync::Mutex::new(store);
    let out =
        engine::apply::run(&store, cfg, &config::resolve_key, plan_id, actor, &on_item).await?;
    if tty {
        eprint!("\r\x1b[2K");
    }
    for line in engine::apply::summary(plan_id, &out) {
        println!("{line}");
    }
    if !out.failed.is_empty() {
        bail!(
            "{} failed (listed above); `recert apply --resume` retries them",
            plural(out.failed.len(), "call")
        );
    }
    Ok(())
}

/// `recert audit verify [--head SEQ:HASH]`: the chain, its head and every row pointing into
/// it; the first thing that cannot be trusted is named. Prints the head to keep elsewhere.
pub fn audit_verify(g: &Globals, recorded: Option<&crate::audit::Head>) -> Result<()> {
    let store = Store::open(&g.paths.data_dir)?;
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
    let dir = &g.paths.data_dir;
    let store = match Store::open(dir).and_then(|s| s.health().map(|h| (s.path().to_path_buf(), h)))
    {
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
                "store": store,
                "sources": reports,
                "ok": problems.is_empty(),
            }))?
        ),
        _ => {
            println!("config  {}", sanitize(&config));
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

/// `recert audit export [--out FILE]`: the log as JSON lines.
/// `recert audit export [--format json|ocsf] [--since SEQ] [--out FILE]`: the chain as JSON
/// lines, recert's own entries or OCSF events.
pub fn audit_export(g: &Globals, out: Option<&Path>, ocsf: bool, since: i64) -> Result<()> {
    let store = Store::open(&g.paths.data_dir)?;
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

/// What `recert revoke` acts on.
pub enum RevokeWhat {
    /// A key id, redacted form or the whole secret (never echoed).
    Key(String),
    Person(String),
}

/// `recert revoke --key HINT | --person EMAIL`: incident mode. Finds the targets on every
/// provider, shows them, and (after confirmation, or `--yes`) records the revoke decisions,
/// plans and applies them, journaled and audited like any apply.
pub async fn revoke_cmd(
    g: &Globals,
    what: RevokeWhat,
    reason: Option<String>,
    yes: bool,
    recheck: bool,
    opts: crate::remediate::PlanOptions,
) -> Result<()> {
    use crate::review::{NewDecision, Target, Verdict};
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "revoke")?;
    let mut store = Store::open(&g.paths.data_dir)?;
    engine::apply::guard(&store, "you revoke")?;
    // A key needs only the keys and resources (fast on a large organisation); a person needs all.
    let snap = match &what {
        RevokeWhat::Key(_) => store.latest_keys()?,
        RevokeWhat::Person(_) => store.latest_snapshot()?,
    }
    .ok_or_else(|| no_snapshot(g))?;
    let taken = chrono::DateTime::from_timestamp(snap.taken_at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let d = &snap.data;
    let mut items: Vec<NewDecision> = Vec::new();
    let (why, shown) = match &what {
        RevokeWhat::Key(hint) => {
            let c = match engine::incident::find_key(d, hint) {
                engine::incident::Found::One(i) => &d.credentials[i],
                engine::incident::Found::None => bail!(
                    "no key in snapshot #{} ({taken}) matches the given hint (an id, a redacted value or the whole key); if the key is newer, run `recert sync` first",
                    snap.id
                ),
                engine::incident::Found::Many(all) => {
                    for &i in &all {
                        let f = engine::incident::KeyFacts::of(d, &d.credentials[i]);
                        eprintln!("  {} {} on {} ({})", f.id, f.redacted, f.source, f.provider);
                    }
                    bail!(
                        "the hint matches {} keys (listed above): give the key id",
                        all.len()
                    );
                }
            };
            for line in engine::incident::KeyFacts::of(d, c).lines() {
                eprintln!("{line}");
            }
            let label = c
                .redacted
                .clone()
                .or(c.name.clone())
                .unwrap_or_else(|| c.id.clone());
            items.push(NewDecision {
                verdict: Verdict::Revoke,
                target: Target::new(&c.provider, &c.source, &c.kind, &c.id),
                label: label.clone(),
                rule: None,
                owner: None,
                until: None,
                justification: None,
            });
            (format!("incident: leaked key {label}"), label)
        }
        RevokeWhat::Person(email) => {
            let cx = reconcile::Context {
                now: snap.taken_at,
                rules: cfg.rules.clone(),
                owners: Default::default(),
            };
            let fp = reconcile::footprint(d, &cx, &[], email);
            for a in &fp.accounts {
                items.push(NewDecision {
                    verdict: Verdict::Revoke,
                    target: Target::new(&a.provider, &a.source, "account", &a.id),
                    label: format!(
                        "{} account {}",
                        a.provider,
                        a.email.as_deref().unwrap_or(&a.id)
                    ),
                    rule: None,
                    owner: None,
                    until: None,
                    justification: None,
                });
            }
            for gr in fp.grants.iter().filter(|g| g.principal_kind == "user") {
                items.push(NewDecision {
                    verdict: Verdict::Revoke,
                    target: Target::new(
                        &gr.provider,
                        &gr.source,
                        "grant",
                        &format!("{}/{}", gr.resource_id, gr.principal_id),
                    ),
                    label: format!("{} membership of {}", gr.provider, gr.resource_id),
                    rule: None,
                    owner: None,
                    until: None,
                    justification: None,
                });
            }
            for c in fp.keys.iter().filter(|c| c.usable()) {
                items.push(NewDecision {
                    verdict: Verdict::Revoke,
                    target: Target::new(&c.provider, &c.source, &c.kind, &c.id),
                    label: format!("{} key {}", c.provider, c.name.as_deref().unwrap_or(&c.id)),
                    rule: None,
                    owner: None,
                    until: None,
                    justification: None,
                });
            }
            if items.is_empty() {
                bail!(
                    "{email} holds nothing on any provider in snapshot #{} ({taken})",
                    snap.id
                );
            }
            eprintln!(
                "{email}: {} accounts, {} memberships, {} usable keys in snapshot #{} ({taken})",
                fp.accounts.len(),
                fp.grants
                    .iter()
                    .filter(|g| g.principal_kind == "user")
                    .count(),
                fp.keys.iter().filter(|c| c.usable()).count(),
                snap.id
            );
            (
                format!("incident: revoke everything {email} holds"),
                email.clone(),
            )
        }
    };
    let justification = reason.unwrap_or(why);
    for i in &mut items {
        i.justification = Some(justification.clone());
    }
    // The plan, shown before anything is recorded or sent.
    let preview: Vec<crate::review::Decision> = items
        .iter()
        .enumerate()
        .map(|(n, x)| crate::review::Decision {
            id: n as i64,
            batch: 0,
            made_at: 0,
            reviewer: String::new(),
            snapshot_id: None,
            undone: false,
            d: x.clone(),
        })
        .collect();
    let refs: Vec<&crate::review::Decision> = preview.iter().collect();
    let known = store.max_plan_id()?;
    let mut done = crate::remediate::done_calls(&store.all_journal()?, snap.taken_at);
    if recheck {
        recheck_done(&cfg, &refs, d, opts, &mut done).await?;
    }
    let own = engine::apply::own_keys(&cfg, &config::resolve_key, d);
    let steps = crate::remediate::plan_with(&refs, d, opts, &done, &own);
    if crate::remediate::calls(&steps) == 0
        && steps
            .iter()
            .any(|s| s.step.line().starts_with("already done"))
    {
        eprintln!(
            "already revoked: every call was made by an earlier plan (the snapshot still shows the state before it; `recert sync` refreshes it{})",
            if recheck {
                ""
            } else {
                ", `--recheck` proves it with a read"
            }
        );
    }
    if !confirm_plan(&cfg, &steps, yes)? {
        bail!("not confirmed; nothing was recorded or sent");
    }
    let actor = reviewer(&cfg);
    let now = chrono::Utc::now().timestamp();
    let batch = store.record_decisions(&items, &actor, Some(snap.id), now)?;
    let recorded: Vec<crate::review::Decision> = store
        .decisions()?
        .into_iter()
        .filter(|x| x.batch == batch)
        .collect();
    let refs: Vec<&crate::review::Decision> = recorded.iter().collect();
    let steps = crate::remediate::plan_with(&refs, d, opts, &done, &own);
    let plan_id = engine::apply::store_plan(&mut store, &steps, known, &actor, Some(snap.id), now)?;
    eprintln!("revoking {shown}: plan #{plan_id}");
    run_plan(&cfg, store, plan_id, &actor).await
}

/// `recert owners import FILE`: assign owners in bulk from a CSV with the columns `id` and
/// `owner` (and optionally `source`). All or nothing: every bad line is named and nothing is
/// recorded unless every line is good. Each assignment is a reassign decision (audited, undoable).
pub fn owners_import(g: &Globals, file: &Path, reason: Option<String>) -> Result<()> {
    use crate::review::{NewDecision, Target, Verdict};
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "owners import")?;
    let mut store = Store::open(&g.paths.data_dir)?;
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
    for r in &d.resources {
        let label = r.name.clone().unwrap_or_else(|| r.id.clone());
        ownable.push((
            Target::new(&r.provider, &r.source, "resource", &r.id),
            label,
        ));
    }
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
            "{}: {} bad lines, nothing imported:\n  {}",
            file.display(),
            errors.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    if items.is_empty() {
        println!("{}: no rows; nothing imported", file.display());
        return Ok(());
    }
    let batch = store.record_decisions(
        &items,
        &reviewer(&cfg),
        Some(snap.id),
        chrono::Utc::now().timestamp(),
    )?;
    println!("assigned {} owners (batch {batch})", items.len());
    Ok(())
}

/// `recert owners list`: recert's ownership records.
pub fn owners_list(g: &Globals, format: Format) -> Result<()> {
    let store = Store::open(&g.paths.data_dir)?;
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
            for (t, o) in &owners {
                println!(
                    "{:<10} {:<16} {:<40} {}",
                    sanitize(&t.source),
                    t.kind,
                    sanitize(&t.id),
                    sanitize(o)
                );
            }
            println!("{} owned", owners.len());
        }
    }
    Ok(())
}

/// `recert export evidence --out DIR`: the evidence pack, with a SHA-256 manifest.
pub fn export_evidence(g: &Globals, out: &Path) -> Result<()> {
    use crate::audit::evidence;
    let cfg = g.config()?;
    let store = Store::open(&g.paths.data_dir)?;
    let snap = store.latest_snapshot()?.ok_or_else(|| no_snapshot(g))?;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!(
            "{} is not empty: give a new or empty directory, so the pack holds only its own files",
            out.display()
        );
    }
    let (_, found) = judged(&cfg, &g.paths.data_dir, &snap)?;
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
        generated_by: reviewer(&cfg),
    };
    let files = evidence::files(&e);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, bytes) in &files {
        std::fs::write(out.join(name), bytes)
            .with_context(|| format!("cannot write {}", out.join(name).display()))?;
    }
    std::fs::write(out.join("manifest.sha256"), evidence::manifest(&files))?;
    println!(
        "wrote {} files to {} (snapshot #{}, {} findings, {} decisions, {} calls); check with: cd {} && sha256sum -c manifest.sha256",
        files.len() + 1,
        out.display(),
        snap.id,
        found.len(),
        decisions.len(),
        calls.len(),
        out.display()
    );
    if let Err(b) = &e.chain {
        bail!("the pack was written, but the audit chain is broken: {b}");
    }
    Ok(())
}
