//! Configuration: TOML, built-in defaults < the user's file < environment < flags.
//! Paths follow the platform's conventions (XDG on Linux) through the `directories` crate.
//! Keys never live in the file: each source names an environment variable (`key_env`) or uses
//! the OS keyring (`recert login SOURCE`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

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

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Refuse every destructive action.
    #[serde(default)]
    pub read_only: bool,
    /// A built-in theme name or a path to a theme file.
    pub theme: Option<String>,
    /// Who is reviewing: recorded with every decision (default: $RECERT_REVIEWER, then $USER).
    pub reviewer: Option<String>,
    /// Whether a decision needs a justification: `required` (default) or `optional`.
    #[serde(default)]
    pub justification: Justification,
    /// Plans with more calls than this ask to type the number of calls (default 25).
    pub confirm_threshold: Option<usize>,
    /// Calls in flight while applying (default 8; each source's own limits still hold).
    pub apply_concurrency: Option<usize>,
    /// A sync reads audit logs and usage reports on from the last snapshot; one whose feeds
    /// were last read whole longer ago than this many days reads them whole (default 7).
    pub full_sync_days: Option<i64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
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

/// A data dir's own file of rules (see [`Paths::rules_file`]).
pub const DATA_DIR_RULES: &str = "rules.toml";

/// What a data dir's own `rules.toml` may hold: the rules its snapshots are judged by. Never
/// a source, a store or a webhook: those say where keys and data are sent, and a data dir
/// travels (an archive, a shared disk, a demo whose simulator has stopped).
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataDirRules {
    #[serde(default)]
    pub rules: crate::reconcile::Rules,
}

impl DataDirRules {
    /// Read `path`, which must be this user's own and writable by nobody else (on Unix: opened
    /// without following a link, checked on the handle it is read from, in a directory that is
    /// likewise private); on other systems it is not read at all.
    pub fn load(path: &Path) -> Result<DataDirRules, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let text = read_private(path).map_err(|why| {
            invalid(format!(
                "not read: {why}. It sets the rules this data dir's snapshots are judged by, so only a file of your own that nobody else can write is read: `chmod 600` it (and `chmod 700` its directory), or remove it"
            ))
        })?;
        refuse_secrets(&text).map_err(invalid)?;
        toml::from_str(&text).map_err(|e| {
            invalid(crate::secret::redact(
                &format!(
                    "{}; a data dir's rules.toml holds only a [rules] table (sources, the store and webhooks belong in your own config)",
                    e.message().trim_end()
                ),
                &[],
            ))
        })
    }
}

/// `path`'s text, when it and its directory belong to this user and nobody else may write
/// them.
fn read_private(path: &Path) -> Result<String, String> {
    #[cfg(unix)]
    {
        use std::io::Read;
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        // SAFETY: geteuid cannot fail and touches no memory.
        let me = unsafe { libc::geteuid() };
        let mine = |what: &str, m: &std::fs::Metadata| {
            if m.uid() != me {
                Err(format!("{what} belongs to another user"))
            } else if m.mode() & 0o022 != 0 {
                Err(format!("{what} is writable by other users"))
            } else {
                Ok(())
            }
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        mine(
            "its directory",
            &std::fs::metadata(dir).map_err(|e| e.to_string())?,
        )?;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| format!("cannot open it ({e}; a link is never followed)"))?;
        mine("the file", &f.metadata().map_err(|e| e.to_string())?)?;
        let mut text = String::new();
        f.read_to_string(&mut text).map_err(|e| e.to_string())?;
        Ok(text)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Err("a data dir's own rules are read only on Unix, where recert can check who may write them".into())
    }
}

/// Where recert keeps its files.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    /// The data dir's own `rules.toml`, when there is one: the `[rules]` its snapshots are
    /// judged by, in place of the config's (`recert demo --data-dir` writes it, so a later
    /// `recert --data-dir DIR gaps` judges as the demo's console did).
    pub rules_file: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub state_dir: PathBuf,
    /// The store: `recert.db` in `data_dir`, or the PostgreSQL database of team mode.
    pub store: crate::store::Location,
}

impl Paths {
    /// Platform defaults, overridden by `--config` and `--data-dir`.
    pub fn resolve(config: Option<&Path>, data_dir: Option<&Path>) -> Paths {
        let dirs = directories::ProjectDirs::from("dev", "recert", "recert");
        let fallback = || PathBuf::from(".recert");
        let config_file = config.map(Path::to_path_buf).unwrap_or_else(|| {
            dirs.as_ref()
                .map(|d| d.config_dir().join("config.toml"))
                .unwrap_or_else(|| fallback().join("config.toml"))
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
            rules_file: Some(data.join(DATA_DIR_RULES)).filter(|f| f.symlink_metadata().is_ok()),
            store: crate::store::Location::Dir(data.clone()),
            data_dir: data,
            state_dir,
        }
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

    /// A data dir's `rules.toml` is read for its `[rules]` only, and only when nobody but its
    /// owner could have written it; anything else is an error that says so, never a quiet
    /// fallback to other rules.
    #[cfg(unix)]
    #[test]
    fn a_data_dirs_own_rules_are_read_only_when_private_and_only_rules() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        mode(d.path(), 0o700);
        assert_eq!(Paths::resolve(None, Some(d.path())).rules_file, None);
        let f = d.path().join(DATA_DIR_RULES);
        std::fs::write(&f, "# mine\n[rules]\nadmin_groups = [\"ai-admins\"]\n").unwrap();
        mode(&f, 0o600);
        assert_eq!(
            Paths::resolve(None, Some(d.path())).rules_file.as_ref(),
            Some(&f)
        );
        assert_eq!(
            DataDirRules::load(&f).unwrap().rules.admin_groups,
            ["ai-admins"]
        );
        let err = |f: &Path| DataDirRules::load(f).unwrap_err().to_string();
        mode(&f, 0o664);
        assert!(
            err(&f).contains("the file is writable by other users"),
            "{}",
            err(&f)
        );
        mode(&f, 0o600);
        mode(d.path(), 0o777);
        assert!(err(&f).contains("its directory is writable"), "{}", err(&f));
        mode(d.path(), 0o700);
        // A source (where a key would go) is refused, whatever else the file holds.
        std::fs::write(
            &f,
            "[rules]\n[[source]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9\"\n",
        )
        .unwrap();
        assert!(
            err(&f).contains("holds only a [rules] table"),
            "{}",
            err(&f)
        );
        // A link is never followed.
        let other = d.path().join("elsewhere.toml");
        std::fs::write(&other, "[rules]\n").unwrap();
        std::fs::remove_file(&f).unwrap();
        std::os::unix::fs::symlink(&other, &f).unwrap();
        assert_eq!(
            Paths::resolve(None, Some(d.path())).rules_file.as_ref(),
            Some(&f)
        );
        assert!(err(&f).contains("a link is never followed"), "{}", err(&f));
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
