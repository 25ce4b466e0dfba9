//! The commands behind the binary. `main.rs` only parses and dispatches; each command group is
//! one file here, a thin client of the engine's use cases: parse, call, print. This file holds
//! what every group shares (global settings, logging, the latest snapshot, confirmation).

pub mod apply;
pub mod audit;
pub mod campaign;
pub mod console;
pub mod gaps;
pub mod manual;
pub mod owners;
pub mod revoke;
pub mod setup;
pub mod simulate;
pub mod team;

pub use apply::{abandon_cmd, apply_cmd, plan_cmd};
pub use audit::{audit_export, audit_verify, export_evidence};
pub use console::{console, demo};
pub use gaps::{GapFilter, gaps, person, to_table};
pub use owners::{owners_import, owners_list};
pub use revoke::{RevokeWhat, revoke_cmd};
pub use setup::{doctor, login, sync_cmd};
pub use simulate::{SimArgs, sim};

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
    /// The config, with the data dir's own rules in place of its `[rules]` where the data dir
    /// has a `rules.toml` (an error, not a silent fallback, when that file cannot be trusted).
    pub fn config(&self) -> Result<Config> {
        let mut cfg = Config::load(&self.paths.config_file, self.config_explicit)?;
        if let Some(path) = &self.paths.rules_file {
            cfg.rules = config::DataDirRules::load(path)?.rules;
        }
        Ok(cfg)
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

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Whether there can be a store to read: a SQLite store is not created by a command that only
/// reads (a PostgreSQL store always answers).
fn store_exists(g: &Globals) -> bool {
    g.paths
        .store
        .dir()
        .is_none_or(|d| d.join("recert.db").exists())
}

fn load_latest(g: &Globals) -> Result<Option<Snapshot>> {
    if !store_exists(g) {
        return Ok(None);
    }
    Ok(Store::open(&g.paths.store)?.latest_snapshot()?)
}

/// The latest snapshot's time and sources, without its data.
pub(crate) fn latest_header(g: &Globals) -> Result<Option<Snapshot>> {
    if !store_exists(g) {
        return Ok(None);
    }
    Ok(Store::open(&g.paths.store)?.latest_header()?)
}

fn no_snapshot(g: &Globals) -> anyhow::Error {
    anyhow::anyhow!(
        "no snapshot in {} yet. Add a [[source]] to {}, check it with `recert doctor` and run `recert sync` (README: Configuration), or run `recert demo` to see recert on a simulated organisation",
        g.paths.store,
        g.paths.config_file.display()
    )
}

pub use crate::engine::load::{findings, judged, owners};

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

/// Who is acting. In team mode, the person the database role maps to (`--as` someone else is
/// refused: the database would refuse their rows anyway); otherwise `who`, else
/// [`reviewer`].
pub fn acting_as(g: &Globals, cfg: &Config, who: Option<String>) -> Result<String> {
    if g.paths.store.dir().is_none()
        && let Some(me) = Store::open(&g.paths.store)?.identity()?
    {
        if let Some(w) = who
            && crate::model::normalize_email(&w) != me
        {
            bail!(
                "team mode: you are {me}, the database role you logged in as; --as {} is refused (log in as their role to act as them)",
                sanitize(&w)
            );
        }
        return Ok(me);
    }
    Ok(crate::model::normalize_email(
        &who.unwrap_or_else(|| reviewer(cfg)),
    ))
}

/// Who is deciding: `settings.reviewer`, `$RECERT_REVIEWER`, then `$USER`, else
/// [`crate::review::UNKNOWN_REVIEWER`].
pub fn reviewer(cfg: &Config) -> String {
    cfg.settings
        .reviewer
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            std::env::var("RECERT_REVIEWER")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .or_else(|| std::env::var("USER").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| crate::review::UNKNOWN_REVIEWER.into())
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
