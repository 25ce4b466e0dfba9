//! Configuration: TOML, built-in defaults < the user's file < environment < flags.
//! Paths follow the platform's conventions (XDG on Linux) through the `directories` crate.
//! Keys never live in the file: each source names an environment variable (`key_env`) or uses
//! the OS keyring (`recert login SOURCE`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::SourceKind;
use crate::secret::Secret;

/// Settings that would hold a secret if they were allowed.
const SECRET_SETTINGS: &[&str] = &[
    "key",
    "api_key",
    "admin_key",
    "token",
    "bearer_token",
    "secret",
    "password",
];

pub const KEYRING_SERVICE: &str = "recert";

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub settings: Settings,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Thresholds, admin groups and identity aliases for the gap rules.
    #[serde(default)]
    pub rules: crate::reconcile::Rules,
    /// Campaign reviewer routing: rules in order, a fallback, self-review.
    #[serde(default)]
    pub review: crate::review::campaign::Routing,
    /// Where reminders go (`recert campaign remind`).
    #[serde(default)]
    pub notify: Notify,
    /// `[store]`: the team's PostgreSQL store (see `Paths::choose_database`).
    #[serde(default)]
    pub store: StoreSettings,
}

/// `[store]`: `url = "postgres://USER@HOST:PORT/DATABASE?sslmode=require"`, never with a
/// password in it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    pub url: Option<String>,
}

/// `[notify]`: the chat webhook reminders are posted to. The URL itself is a secret: only the
/// name of the environment variable that holds it belongs here.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// The environment variable holding the webhook URL (default `RECERT_WEBHOOK_URL`);
    /// without it, the OS keyring entry `recert`/`webhook`.
    pub webhook_env: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Refuse every destructive action.
    #[serde(default)]
    pub read_only: bool,
    /// A built-in theme name or a path to a theme file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    /// Who is reviewing: recorded with every decision (default: $RECERT_REVIEWER, then $USER).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    /// Whether a decision needs a justification: `required` (default) or `optional`.
    #[serde(default)]
    pub justification: Justification,
    /// Plans with more calls than this ask to type the number of calls (default 25).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_threshold: Option<usize>,
    /// Calls in flight while applying (default 8; each source's own limits still hold).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_concurrency: Option<usize>,
    /// A sync reads audit logs and usage reports on from the last snapshot; one whose feeds
    /// were last read whole longer ago than this many days reads them whole (default 7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_sync_days: Option<i64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Justification {
    #[default]
    Required,
    Optional,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    pub kind: String,
    /// The API's base URL (every kind but `csv`).
    #[serde(default)]
    pub base_url: String,
    /// The export file (`csv` sources).
    pub path: Option<std::path::PathBuf>,
    /// The environment variable that holds the key; without it the OS keyring is used.
    pub key_env: Option<String>,
    /// Requests in flight at once to this source (default 16).
    pub concurrency: Option<usize>,
    /// Per-request timeout in seconds (default 30).
    pub timeout_secs: Option<u64>,
    /// Seconds the source may go without answering anything before its sync fails (default
    /// 60): a provider that accepts connections and never answers ends here.
    pub deadline_secs: Option<u64>,
    /// The largest response body read, in MiB (default 256).
    pub max_body_mb: Option<u64>,
    /// Retries of a request after 429, 5xx or a timeout (default 8).
    pub max_retries: Option<u32>,
    /// Items asked for per page (default: the provider's maximum).
    pub page_size: Option<u32>,
    /// Pages after which a list is treated as endless (default 10000).
    pub max_pages: Option<u32>,
    /// Space requests evenly to stay under the provider's limit (e.g. Cursor's remove-member
    /// allows 50 per minute): requests per minute, retries included. Unset: no pacing.
    pub rate_per_minute: Option<u32>,
    /// `entra`: the tenant (its GUID or a verified domain).
    pub tenant: Option<String>,
    /// `entra`: the app registration's application (client) id; its client secret (or, with
    /// `certificate_thumbprint`, its certificate's private key) is the key. `okta`: an API
    /// Services app's client id: recert signs in with `private_key_jwt`, the key being the
    /// app's private key (instead of an API token).
    pub client_id: Option<String>,
    /// The token endpoint (`entra` default
    /// `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`; `okta` default
    /// `{base_url}/oauth2/v1/token`, the org authorization server).
    pub token_url: Option<String>,
    /// `okta` with `client_id`: the `kid` of the app's public key in its JWKS.
    pub key_id: Option<String>,
    /// `entra`: the thumbprint of the certificate registered for the app (hex, SHA-256 or
    /// SHA-1, as the portal shows it): the key is then that certificate's private key.
    pub certificate_thumbprint: Option<String>,
    /// `okta`, `entra`: the AI platforms' apps in this identity provider, each standing for
    /// one provider source: `apps = { openai = "0oa1abc…" }` (an Okta app id, an Entra
    /// enterprise app's service principal object id). Its assignments say who should have
    /// access; its provisioning outcomes say whether removals landed.
    #[serde(default)]
    pub apps: std::collections::BTreeMap<String, String>,
    /// `okta`, `entra`: days of provisioning outcomes read (default 30; Okta keeps 90).
    pub provisioning_days: Option<u32>,
    /// `okta`: the profile attribute holding a person's leave date (Okta has none of its own;
    /// e.g. `terminationDate`), as an ISO date or date-time.
    pub leave_attribute: Option<String>,
}

impl SourceConfig {
    pub fn source_kind(&self) -> SourceKind {
        SourceKind::parse(&self.kind).expect("validated on load")
    }

    /// The OAuth token endpoint of an `entra` source, or of an `okta` one with a `client_id`.
    pub fn token_endpoint(&self) -> String {
        self.token_url.clone().unwrap_or_else(|| {
            if self.kind == "okta" {
                return format!("{}/oauth2/v1/token", self.base_url.trim_end_matches('/'));
            }
            format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                crate::connectors::path::segment(self.tenant.as_deref().unwrap_or_default())
                    .unwrap_or_default()
            )
        })
    }

    /// How to give this source its key, for error messages.
    pub fn key_hint(&self) -> String {
        match &self.key_env {
            Some(var) => format!(
                "export {var}=<key> (or run `recert login {}` to keep it in the OS keyring)",
                self.name
            ),
            None => format!(
                "run `recert login {}` to store its key in the OS keyring",
                self.name
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path} is invalid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("no key for source '{source_name}': {hint}")]
    MissingKey { source_name: String, hint: String },
    #[error("the OS keyring failed for source '{source_name}': {message}")]
    Keyring {
        source_name: String,
        message: String,
    },
    #[error("no source named '{0}' in the config; the configured sources are: {1}")]
    UnknownSource(String, String),
}

/// A URL a key may be sent to: https, or plain http only to this machine (the simulator, a
/// local proxy): a key must never cross a network in clear text.
fn key_safe_url(text: &str) -> Result<(), String> {
    let u = url::Url::parse(text).map_err(|_| "which is not an http(s) URL".to_string())?;
    let loopback = match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(
            "which is plain http to another machine: the key would cross the network in clear text; use https".to_string(),
        ),
        _ => Err("which is not an http(s) URL".to_string()),
    }
}

/// Whether `file` and its directory belong to this user and nobody else may write them: a
/// data dir's own config is trusted only then (it says where keys are sent).
fn private_to_me(file: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid cannot fail and touches no memory.
        let me = unsafe { libc::geteuid() };
        let dir = file.parent().unwrap_or(Path::new("."));
        for (what, p) in [("its directory", dir), ("the file", file)] {
            let m = std::fs::metadata(p).map_err(|e| format!("{what}: {e}"))?;
            if m.uid() != me {
                return Err(format!("{what} belongs to another user"));
            }
            if m.mode() & 0o022 != 0 {
                return Err(format!("{what} is writable by other users"));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// A data dir's own config, read when `--config` is not given (see [`Paths::resolve`]).
pub const DATA_DIR_CONFIG: &str = "config.toml";

/// Where recert keeps its files.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
    pub state_dir: PathBuf,
    /// The store: `recert.db` in `data_dir`, or the PostgreSQL database of team mode.
    pub store: crate::store::Location,
}

impl Paths {
    /// Platform defaults, overridden by `--config` and `--data-dir`. A data dir given without
    /// `--config` that holds its own `config.toml` (as `recert demo --data-dir` writes) is read
    /// with that file: its snapshots are judged by the rules they were synced with, not by
    /// whatever the platform config says.
    pub fn resolve(config: Option<&Path>, data_dir: Option<&Path>) -> Paths {
        let dirs = directories::ProjectDirs::from("dev", "recert", "recert");
        let fallback = || PathBuf::from(".recert");
        let own = data_dir
            .map(|d| d.join(DATA_DIR_CONFIG))
            .filter(|f| f.is_file())
            .filter(|f| match private_to_me(f) {
                Ok(()) => true,
                Err(why) => {
                    eprintln!(
                        "recert: {} is not read ({why}): a config names where keys are sent, so one that another user could have written is ignored",
                        f.display()
                    );
                    false
                }
            });
        let config_file = config.map(Path::to_path_buf).or(own).unwrap_or_else(|| {
            Paths::platform_config(dirs.as_ref()).unwrap_or_else(|| fallback().join("config.toml"))
        });
        let data = data_dir.map(Path::to_path_buf).unwrap_or_else(|| {
            dirs.as_ref()
                .map(|d| d.data_dir().to_path_buf())
                .unwrap_or_else(fallback)
        });
        let state_dir = if data_dir.is_some() {
            data.join("log")
        } else {
            dirs.as_ref()
                .and_then(|d| d.state_dir().map(Path::to_path_buf))
                .unwrap_or_else(|| data.join("log"))
        };
        Paths {
            config_file,
            store: crate::store::Location::Dir(data.clone()),
            data_dir: data,
            state_dir,
        }
    }

    /// The platform's config file (e.g. `~/.config/recert/config.toml`).
    fn platform_config(dirs: Option<&directories::ProjectDirs>) -> Option<PathBuf> {
        dirs.map(|d| d.config_dir().join("config.toml"))
    }

    /// The config a person keeps for every store: `--config` when given, else the platform's,
    /// never a data dir's own (which `recert demo` writes and must not read its settings from).
    pub fn user_config(explicit: Option<&Path>) -> Option<PathBuf> {
        explicit.map(Path::to_path_buf).or_else(|| {
            Paths::platform_config(
                directories::ProjectDirs::from("dev", "recert", "recert").as_ref(),
            )
        })
    }

    /// Team mode: the PostgreSQL store named by `--database` (`flag`), else
    /// `RECERT_DATABASE_URL`, else the config file's `[store] url`. A password may travel only
    /// in the environment variable: one on a command line is seen by every user of the machine
    /// (`ps`), and none belongs in the config file.
    pub fn choose_database(&mut self, flag: Option<&str>) -> Result<(), String> {
        let env = std::env::var("RECERT_DATABASE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty());
        let (url, origin) = match (flag, env) {
            (Some(f), _) => (f.to_string(), "--database"),
            (None, Some(e)) => (e, "env"),
            (None, None) => match store_url(&self.config_file) {
                Some(u) => (u, "config"),
                None => return Ok(()),
            },
        };
        let target = crate::store::Target::parse(&url)?;
        if target.password_in_url() && origin != "env" {
            let place = if origin == "config" {
                format!(
                    "the config file's [store] url ({})",
                    self.config_file.display()
                )
            } else {
                "--database (every user of this machine can read a command line)".to_string()
            };
            return Err(format!(
                "the database address in {place} holds a password, which is refused: remove it, and set PGPASSWORD, use ~/.pgpass (mode 0600), or keep the whole address in RECERT_DATABASE_URL"
            ));
        }
        self.store = crate::store::Location::Postgres(target);
        Ok(())
    }
}

/// The `[store] url` of the config file at `path`, if it has one (a file that does not parse
/// has none here: the command that loads it says what is wrong).
fn store_url(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    table.get("store")?.get("url")?.as_str().map(str::to_string)
}

impl Config {
    /// Load `path`; a missing file is an empty config unless `required`.
    pub fn load(path: &Path, required: bool) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let cfg = Config::parse(&text, path)?;
                cfg.learn_env_keys();
                Ok(cfg)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Teach the redactor every key the environment holds for a source, before any command
    /// stores text a person typed (a key pasted into a reason). Keys in the OS keyring are
    /// learned when they are read.
    pub fn learn_env_keys(&self) {
        for s in &self.sources {
            if let Some(v) = s.key_env.as_ref().and_then(|var| std::env::var(var).ok()) {
                crate::secret::learn(v.trim());
            }
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        refuse_secrets(text).map_err(invalid)?;
        // toml's own message quotes the offending line, which may hold a key: say where and
        // what, never the line.
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: ")
                })
                .unwrap_or_default();
            invalid(crate::secret::redact(
                &format!("{at}{}", e.message().trim_end()),
                &[],
            ))
        })?;
        let mut names = std::collections::HashSet::new();
        for s in &cfg.sources {
            if SourceKind::parse(&s.kind).is_none() {
                return Err(invalid(format!(
                    "source '{}' has kind = \"{}\"; the kinds are \"openai\", \"anthropic\", \"cursor\", \"scim\", \"okta\", \"entra\" and \"csv\"",
                    s.name, s.kind
                )));
            }
            if !names.insert(s.name.as_str()) {
                return Err(invalid(format!(
                    "two sources are named '{}'; names must be unique",
                    s.name
                )));
            }
            if let Some(var) = &s.key_env
                && !is_env_name(var)
            {
                return Err(invalid(format!(
                    "source '{}' has a key_env that is not an environment variable name (letters, digits and _); it may be a key itself, so it is not shown. Put the key in an environment variable (or `recert login {}`), set key_env to that variable's name, and rotate the key if it was pasted here",
                    s.name, s.name
                )));
            }
            if s.kind == "csv" {
                if s.path.is_none() {
                    return Err(invalid(format!(
                        "source '{}' is a csv source and needs path = \"/path/to/export.csv\"",
                        s.name
                    )));
                }
                continue;
            }
            if let Err(why) = key_safe_url(&s.base_url) {
                return Err(invalid(format!(
                    "source '{}' has base_url = \"{}\", {why}",
                    s.name, s.base_url
                )));
            }
            if !s.apps.is_empty() && !matches!(s.kind.as_str(), "okta" | "entra") {
                return Err(invalid(format!(
                    "source '{}' has apps, which only an okta or entra source reads",
                    s.name
                )));
            }
            for (provider, app) in &s.apps {
                let target = cfg.sources.iter().find(|t| &t.name == provider);
                if !target
                    .is_some_and(|t| matches!(t.kind.as_str(), "openai" | "anthropic" | "cursor"))
                {
                    return Err(invalid(format!(
                        "source '{}' has apps.{provider}, but no openai, anthropic or cursor source is named '{provider}'; name the provider source whose accounts the app governs",
                        s.name
                    )));
                }
                if app.trim().is_empty() {
                    return Err(invalid(format!(
                        "source '{}' has an empty apps.{provider}; give the app's id",
                        s.name
                    )));
                }
            }
            if let Some(t) = &s.certificate_thumbprint {
                if s.kind != "entra" {
                    return Err(invalid(format!(
                        "source '{}' has certificate_thumbprint, which only an entra source uses",
                        s.name
                    )));
                }
                if let Err(why) = crate::connectors::assertion::thumbprint(t) {
                    return Err(invalid(format!("source '{}': {why}", s.name)));
                }
            }
            if s.key_id.is_some() && !(s.kind == "okta" && s.client_id.is_some()) {
                return Err(invalid(format!(
                    "source '{}' has key_id, which only an okta source with a client_id uses",
                    s.name
                )));
            }
            if s.kind == "okta"
                && let Some(t) = &s.token_url
                && let Err(why) = key_safe_url(t)
            {
                return Err(invalid(format!(
                    "source '{}' has token_url = \"{t}\", {why}",
                    s.name
                )));
            }
            if s.provisioning_days == Some(0) {
                return Err(invalid(format!(
                    "source '{}' has provisioning_days = 0; use 1 or more",
                    s.name
                )));
            }
            if s.kind == "entra" {
                if s.client_id.as_deref().is_none_or(|c| c.trim().is_empty()) {
                    return Err(invalid(format!(
                        "source '{}' is an entra source and needs client_id = \"<the app registration's application id>\" (its client secret is the key: `recert login {}`)",
                        s.name, s.name
                    )));
                }
                if s.tenant.is_none() && s.token_url.is_none() {
                    return Err(invalid(format!(
                        "source '{}' is an entra source and needs tenant = \"<tenant id or domain>\"",
                        s.name
                    )));
                }
                if s.token_url.is_none() && s.tenant.as_deref().is_some_and(|t| t.trim().is_empty())
                {
                    return Err(invalid(format!(
                        "source '{}' has an empty tenant; give the tenant id or a verified domain",
                        s.name
                    )));
                }
                if let Some(t) = &s.token_url
                    && let Err(why) = key_safe_url(t)
                {
                    return Err(invalid(format!(
                        "source '{}' has token_url = \"{t}\", {why}",
                        s.name
                    )));
                }
            }
            for (setting, zero) in [
                ("concurrency", s.concurrency == Some(0)),
                ("deadline_secs", s.deadline_secs == Some(0)),
                ("max_body_mb", s.max_body_mb == Some(0)),
                ("timeout_secs", s.timeout_secs == Some(0)),
            ] {
                if zero {
                    return Err(invalid(format!(
                        "source '{}' has {setting} = 0, which would fail every request; use 1 or more",
                        s.name
                    )));
                }
            }
        }
        if let Some(var) = &cfg.notify.webhook_env
            && !is_env_name(var)
        {
            return Err(invalid(
                "[notify] webhook_env is not an environment variable name (letters, digits and _); it may be the webhook URL itself, so it is not shown. Put the URL in an environment variable (or the keyring entry recert/webhook), set webhook_env to that variable's name, and regenerate the webhook if it was pasted here".to_string(),
            ));
        }
        Ok(cfg)
    }

    pub fn source(&self, name: &str) -> Result<&SourceConfig, ConfigError> {
        self.sources.iter().find(|s| s.name == name).ok_or_else(|| {
            let known = if self.sources.is_empty() {
                // The usual way here: a snapshot from `recert demo`, whose simulated providers
                // are gone once it quits.
                "none. A snapshot from `recert demo` can be applied only from inside the demo \
                 (`:apply`), while its simulator runs; for your own providers, add [[source]] \
                 to the config (README: Using it with your own providers)"
                    .to_string()
            } else {
                self.sources
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            ConfigError::UnknownSource(name.to_string(), known)
        })
    }
}

/// A secret written into the config file is refused, naming its line and where it belongs.
fn refuse_secrets(text: &str) -> Result<(), String> {
    for (i, line) in text.lines().enumerate() {
        let Some((k, _)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim().trim_matches('"').to_lowercase();
        if SECRET_SETTINGS.contains(&k.as_str()) {
            return Err(format!(
                "line {}: `{k}` would put a secret in the config file, which is refused. Remove it and \
                 either set `key_env = \"SOME_VAR\"` and export SOME_VAR, or run `recert login <source>` \
                 to keep the key in the OS keyring",
                i + 1
            ));
        }
    }
    Ok(())
}

/// An environment variable's name: a letter or `_`, then letters, digits and `_`.
fn is_env_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The key for a source: its `key_env` variable when set and non-empty, else the OS keyring.
pub fn resolve_key(src: &SourceConfig) -> Result<Secret, ConfigError> {
    if let Some(var) = &src.key_env {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => return Ok(Secret::new(v.trim())),
            _ => {}
        }
    }
    let missing = || ConfigError::MissingKey {
        source_name: src.name.clone(),
        hint: src.key_hint(),
    };
    let name = src.name.clone();
    let got = off_runtime(move || {
        keyring::Entry::new(KEYRING_SERVICE, &name).and_then(|e| e.get_password())
    });
    match got {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        Ok(_) | Err(keyring::Error::NoEntry) => Err(missing()),
        // No keyring service on this machine: the environment variable is the way.
        Err(keyring::Error::PlatformFailure(_)) | Err(keyring::Error::NoStorageAccess(_)) => {
            Err(missing())
        }
        Err(e) => Err(ConfigError::Keyring {
            source_name: src.name.clone(),
            message: e.to_string(),
        }),
    }
}

/// Run a keyring call on a plain thread: the Secret Service backend drives its own async
/// runtime and must not be called from inside ours.
pub(crate) fn off_runtime<T: Send>(
    f: impl FnOnce() -> keyring::Result<T> + Send,
) -> keyring::Result<T> {
    std::thread::scope(|s| {
        s.spawn(f).join().unwrap_or_else(|_| {
            Err(keyring::Error::PlatformFailure(
                "the keyring backend panicked".into(),
            ))
        })
    })
}

/// Store a key in the OS keyring (`recert login`).
pub fn store_key(source: &str, key: &Secret) -> Result<(), ConfigError> {
    let (name, value) = (source.to_string(), key.clone());
    off_runtime(move || {
        keyring::Entry::new(KEYRING_SERVICE, &name).and_then(|e| e.set_password(value.expose()))
    })
    .map_err(|e| ConfigError::Keyring {
        source_name: source.to_string(),
        message: format!("{e}; keep the key in an environment variable named by `key_env` instead"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data dir holding its own config is read with it unless `--config` names another; a
    /// data dir without one, or no data dir, reads the platform's.
    #[test]
    fn a_data_dirs_own_config_is_read_unless_config_is_given() {
        let d = tempfile::tempdir().unwrap();
        let plain = Paths::resolve(None, Some(d.path())).config_file;
        assert_ne!(plain, d.path().join(DATA_DIR_CONFIG));
        let own = d.path().join(DATA_DIR_CONFIG);
        std::fs::write(&own, "").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path, m: u32| {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
            };
            // One another user could have written is never read: it says where keys go.
            mode(&own, 0o666);
            assert_eq!(Paths::resolve(None, Some(d.path())).config_file, plain);
            mode(&own, 0o600);
            mode(d.path(), 0o777);
            assert_eq!(Paths::resolve(None, Some(d.path())).config_file, plain);
            mode(d.path(), 0o700);
        }
        assert_eq!(Paths::resolve(None, Some(d.path())).config_file, own);
        let given = d.path().join("other.toml");
        assert_eq!(
            Paths::resolve(Some(&given), Some(d.path())).config_file,
            given
        );
        assert_eq!(Paths::resolve(None, None).config_file, plain);
        assert_eq!(Paths::user_config(None), Some(plain));
    }

    /// A demo's store has no configured sources: the error says how to apply it instead of
    /// ending in an empty list.
    #[test]
    fn an_unknown_source_with_none_configured_says_what_to_do() {
        let err = Config::default()
            .source("anthropic")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("from inside the demo (`:apply`)") && err.contains("[[source]]"),
            "{err}"
        );
        assert!(!err.ends_with(": "), "{err}");
    }

    fn parse(t: &str) -> Result<Config, ConfigError> {
        Config::parse(t, Path::new("test.toml"))
    }

    #[test]
    fn a_key_pasted_as_key_env_or_in_a_broken_line_is_never_echoed() {
        let key = "sk-admin-PASTEDpastedPASTEDpasted0123";
        let text = format!(
            "[[source]]\nname = \"oa\"\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\nkey_env = \"{key}\"\n"
        );
        let e = Config::parse(&text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("PASTEDpa"), "{e}");
        assert!(e.contains("not an environment variable name"), "{e}");
        let text = format!("[[source]]\nname = \"oa\"\nkey = {key}\n");
        let e = Config::parse(&text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("PASTEDpa"), "{e}");
        assert!(e.contains("line 3"), "{e}");
    }

    /// The webhook URL is a secret too: pasted where its variable's name belongs, it is
    /// refused without being shown.
    #[test]
    fn a_webhook_url_pasted_as_webhook_env_is_never_echoed() {
        let text = "[notify]\nwebhook_env = \"https://hooks.example.com/services/T0/B0/PastedWebhookToken\"\n";
        let e = Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("PastedWebhook"), "{e}");
        assert!(
            e.contains("webhook_env") && e.contains("not an environment variable name"),
            "{e}"
        );
    }

    #[test]
    fn a_key_in_the_file_is_refused_with_its_line() {
        let e = parse("[[source]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\napi_key = \"sk-admin-x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 5"), "{e}");
        assert!(e.contains("recert login"), "{e}");
        assert!(!e.contains("sk-admin-x"), "{e}");
    }

    #[test]
    fn unknown_settings_name_the_key_and_line() {
        let e = parse("[settings]\nread_only = true\ncolour = \"red\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour") && e.contains("line 3"), "{e}");
    }

    #[test]
    fn bad_kind_and_duplicate_names_are_errors() {
        let src = |n: &str, k: &str| {
            format!("[[source]]\nname = \"{n}\"\nkind = \"{k}\"\nbase_url = \"https://x\"\n")
        };
        assert!(
            parse(&src("a", "gitlab"))
                .unwrap_err()
                .to_string()
                .contains("kinds are")
        );
        let two = src("a", "openai") + &src("a", "scim");
        assert!(parse(&two).unwrap_err().to_string().contains("unique"));
    }
}
