//! One sync: every configured source pulled concurrently through its connector, then written
//! to the store as one snapshot in one transaction. A source that fails keeps its last good
//! data (carried into the new snapshot and marked), and the failure is reported, never hidden.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, ConfigError, SourceConfig};
use crate::connectors;
use crate::model::{SourceKind, SourceStatus};
use crate::secret::Secret;
use crate::store::{SourceResult, Store, StoreError};

/// The outcome of a sync that reached the store.
#[derive(Debug)]
pub struct SyncReport {
    /// The snapshot this sync wrote; `None` when every source failed and nothing was stored.
    pub snapshot_id: Option<i64>,
    /// When nothing was stored: the snapshot that remains the latest, if any.
    pub kept_snapshot: Option<i64>,
    pub sources: Vec<SourceStatus>,
    pub elapsed: Duration,
    /// Of `elapsed`, the time spent pulling from the sources (the rest is the store).
    pub fetch_elapsed: Duration,
    /// What the sync did to what a source sent that it must say (a secret in its text).
    pub notes: Vec<String>,
}

impl SyncReport {
    pub fn failed(&self) -> usize {
        self.sources.iter().filter(|s| !s.ok).count()
    }

    /// One line per source: what came in, or what went wrong and what is kept instead.
    pub fn lines(&self) -> Vec<String> {
        self.sources
            .iter()
            .map(|s| {
                let secs = (s.finished_at - s.started_at).max(0);
                if s.ok {
                    format!(
                        "{}: ok, {}, {}, {}s",
                        s.source,
                        crate::model::text::plural(s.items as usize, "item"),
                        crate::model::text::plural(s.requests as usize, "request"),
                        secs
                    )
                } else {
                    let kept = match (s.carried_from, self.snapshot_id) {
                        (Some(id), Some(_)) => {
                            format!("keeping its {} items from snapshot #{id}", s.items)
                        }
                        (Some(id), None) => format!("snapshot #{id} stays the latest"),
                        (None, _) => "no earlier data to keep".to_string(),
                    };
                    format!(
                        "{}: FAILED after {} requests: {} ({kept})",
                        s.source,
                        s.requests,
                        s.error.as_deref().unwrap_or("unknown error")
                    )
                }
            })
            .chain(self.notes.iter().cloned())
            .collect()
    }
}

/// Provider text holding a secret recert keeps (the admin key it sends, a fragment of it, in
/// any form the one redactor reads) never reaches the store: each object is read through the
/// redactor as it will be stored. A provider object whose id, or an id it refers to (`*_id`,
/// a key's owner), holds one is left out: acting on it would put the secret (or a stand-in
/// for it) in a request's path. Otherwise its text is kept redacted; the directory's people
/// and the feeds' facts always are (never acted on by path). Returns what it did, for the sync's report; nothing when the source's text holds
/// no secret (each object is checked once, as its JSON).
pub fn scrub_secrets(source: &str, d: &mut crate::model::SourceData) -> Option<String> {
    /// Whether an id, or a reference to one (`id`, `*_id`, at any depth: a key's owner), holds
    /// a secret.
    fn holds_id(v: &serde_json::Value) -> bool {
        let holds = |v: &serde_json::Value| v.as_str().is_some_and(crate::secret::holds_secret);
        match v {
            serde_json::Value::Object(m) => m
                .iter()
                .any(|(k, x)| ((k == "id" || k.ends_with("_id")) && holds(x)) || holds_id(x)),
            serde_json::Value::Array(a) => a.iter().any(holds_id),
            _ => false,
        }
    }
    /// `acted_on`: objects recert puts in request paths (provider objects); the directory's
    /// and the feeds' are only read, and are kept redacted whatever holds the secret.
    fn list<T: serde::Serialize + serde::de::DeserializeOwned + Sync>(
        items: &mut Vec<T>,
        acted_on: bool,
        kept: &mut usize,
        left: &mut usize,
    ) {
        use rayon::prelude::*;
        // Read in batches first, one JSON text each, on every core (most batches hold
        // nothing): only a batch that holds a secret is read object by object. A batch that
        // cannot be written as JSON is read object by object too.
        const BATCH: usize = 4096;
        let suspect: Vec<bool> = items
            .par_chunks(BATCH)
            .map(|b| match serde_json::to_string(b) {
                Ok(text) => crate::secret::holds_secret(&text),
                Err(_) => true,
            })
            .collect();
        if !suspect.contains(&true) {
            return;
        }
        let mut at = 0usize;
        items.retain_mut(|x| {
            at += 1;
            if !suspect[(at - 1) / BATCH] {
                return true;
            }
            let Ok(text) = serde_json::to_string(&*x) else {
                return true;
            };
            if !crate::secret::holds_secret(&text) {
                return true;
            }
            let Ok(mut v) = serde_json::to_value(&*x) else {
                return true;
            };
            if acted_on && holds_id(&v) {
                *left += 1;
                return false;
            }
            redact_strings(&mut v);
            match serde_json::from_value(v) {
                Ok(y) => {
                    *x = y;
                    *kept += 1;
                    true
                }
                // Redacted text that no longer reads as the object: left out rather than kept
                // with the secret.
                Err(_) => {
                    *left += 1;
                    false
                }
            }
        });
    }
    fn redact_strings(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(t) => *t = crate::secret::redact(t, &[]),
            serde_json::Value::Array(a) => a.iter_mut().for_each(redact_strings),
            serde_json::Value::Object(m) => m.values_mut().for_each(redact_strings),
            _ => {}
        }
    }
    let (mut kept, mut left) = (0, 0);
    list(&mut d.people, false, &mut kept, &mut left);
    list(&mut d.accounts, true, &mut kept, &mut left);
    list(&mut d.resources, true, &mut kept, &mut left);
    list(&mut d.grants, true, &mut kept, &mut left);
    list(&mut d.service_accounts, true, &mut kept, &mut left);
    list(&mut d.credentials, true, &mut kept, &mut left);
    list(&mut d.invites, true, &mut kept, &mut left);
    list(&mut d.apps, false, &mut kept, &mut left);
    list(&mut d.app_access, false, &mut kept, &mut left);
    list(&mut d.provenance, false, &mut kept, &mut left);
    list(&mut d.feeds, false, &mut kept, &mut left);
    if kept + left == 0 {
        return None;
    }
    let note = format!(
        "{source}: {} held the key recert sends it (or a secret it keeps) in their text: {kept} kept with it redacted, {left} left out (its id holds it: acting on it would send the secret)",
        crate::model::text::plural(kept + left, "object")
    );
    tracing::warn!(source = %source, kept, left, "provider text held a secret recert keeps");
    Some(note)
}

/// How a source's key is found: the config's `key_env` or keyring, or a fixed key (the demo).
pub type KeyResolver<'a> = &'a (dyn Fn(&SourceConfig) -> Result<Secret, ConfigError> + Sync);

/// Where one source stands while a sync runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub source: String,
    /// Requests so far.
    pub requests: u64,
    /// `None` while it runs; then how many items it read, or why it failed.
    pub done: Option<Result<u64, String>>,
}

/// Receives where every API source stands.
pub type ReportFn = Arc<dyn Fn(Vec<Tick>) + Send + Sync>;

/// How a sync reports progress while it runs: not at all, a line on stderr (a terminal), or
/// where each source stands to a callback every 250 ms, as each source finishes, and once at
/// the end (the console's progress box).
#[derive(Clone)]
pub enum Progress {
    Quiet,
    Stderr,
    Report(ReportFn),
}

/// Pull every source in `config` and store the result.
pub async fn sync(
    config: &Config,
    store: &mut Store,
    keys: KeyResolver<'_>,
    show_progress: bool,
) -> Result<SyncReport, StoreError> {
    let p = if show_progress && std::io::stderr().is_terminal() {
        Progress::Stderr
    } else {
        Progress::Quiet
    };
    sync_with(config, store, keys, p).await
}

/// `sync`, reporting progress as `progress` says.
pub async fn sync_with(
    config: &Config,
    store: &mut Store,
    keys: KeyResolver<'_>,
    progress: Progress,
) -> Result<SyncReport, StoreError> {
    sync_full(config, store, keys, progress, false).await
}

/// `sync_with`; with `full`, every windowed feed (audit logs, usage reports) is read whole
/// instead of on from the last snapshot (`recert sync --full`).
pub async fn sync_full(
    config: &Config,
    store: &mut Store,
    keys: KeyResolver<'_>,
    progress: Progress,
    full: bool,
) -> Result<SyncReport, StoreError> {
    let clock = || chrono::Utc::now().timestamp();
    sync_at(config, store, keys, progress, full, &clock).await
}

/// The time a sync goes by: every time it stamps (the snapshot, each source's start and end)
/// and every window it plans (how far back the feeds are read, what is due for a whole read)
/// comes from here, so a test can run a sync days after the last one.
pub type Clock<'a> = &'a (dyn Fn() -> crate::model::Ts + Send + Sync);

/// `sync_full` on `clock`'s time.
pub async fn sync_at(
    config: &Config,
    store: &mut Store,
    keys: KeyResolver<'_>,
    progress: Progress,
    full: bool,
    clock: Clock<'_>,
) -> Result<SyncReport, StoreError> {
    let started = Instant::now();
    // A damaged store is said before anything is read from the providers, never written to.
    store.check_intact()?;
    // Files need no key; APIs get a client once their key is found.
    let mut origins: HashMap<String, String> = HashMap::new();
    let clients: Vec<(SourceConfig, Result<Arc<connectors::http::Http>, String>)> = config
        .sources
        .iter()
        .filter(|s| s.source_kind() != SourceKind::Csv)
        .map(|s| {
            let key = keys(s);
            let origin = key
                .as_ref()
                .map(|k| connectors::feed::origin(&s.kind, &s.base_url, k))
                .unwrap_or_default();
            origins.insert(s.name.clone(), origin);
            let c = key
                .map(|k| Arc::new(connectors::client(s, k)))
                .map_err(|e| e.to_string());
            (s.clone(), c)
        })
        .collect();
    // Where each source's feeds read on from: the latest snapshot, if it read the source itself
    // from where this sync reads it. A store that cannot say reads them whole, and says so.
    let max_age = config.settings.full_sync_days.unwrap_or(7) * 86_400;
    let mut priors: HashMap<String, connectors::feed::Prior> = HashMap::new();
    for (name, origin) in origins {
        let (feeds, facts) = if full {
            Default::default()
        } else {
            match store.prior(&name) {
                Ok(p) => p.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(source = %name, error = %e, "the last snapshot's feeds could not be read: reading them whole");
                    Default::default()
                }
            }
        };
        priors.insert(
            name,
            connectors::feed::Prior {
                feeds,
                facts,
                max_age,
                origin,
            },
        );
    }
    let none = connectors::feed::Prior::none();
    let priors = &priors;
    let files: Vec<&SourceConfig> = config
        .sources
        .iter()
        .filter(|s| s.source_kind() == SourceKind::Csv)
        .collect();
    let stderr = matches!(progress, Progress::Stderr);
    let watch: Vec<(String, Option<Arc<connectors::http::Http>>)> = clients
        .iter()
        .map(|(s, c)| (s.name.clone(), c.as_ref().ok().cloned()))
        .collect();
    // Per source, once it has finished: how many items, or why it failed.
    let finished: Arc<std::sync::Mutex<HashMap<String, Result<u64, String>>>> = Default::default();
    let ticks = {
        let finished = finished.clone();
        move || -> Vec<Tick> {
            let done = finished.lock().unwrap_or_else(|e| e.into_inner());
            watch
                .iter()
                .map(|(n, c)| Tick {
                    source: n.clone(),
                    requests: c.as_ref().map(|c| c.requests()).unwrap_or(0),
                    done: done.get(n).cloned(),
                })
                .collect()
        }
    };
    let report: Option<ReportFn> = match &progress {
        Progress::Report(f) => Some(f.clone()),
        _ => None,
    };
    let ticker = (!matches!(progress, Progress::Quiet)).then(|| {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let now = ticks();
                match &progress {
                    Progress::Report(f) => f(now),
                    _ => {
                        let line = now
                            .iter()
                            .map(|t| format!("{} {} requests", t.source, t.requests))
                            .collect::<Vec<_>>()
                            .join(" · ");
                        eprint!("\r\x1b[2Ksyncing: {line}");
                        let _ = std::io::stderr().flush();
                    }
                }
            }
        })
    });
    let (finished_ref, report_ref, ticks_ref, none) = (&finished, &report, &ticks, &none);
    let results = futures::future::join_all(clients.iter().map(|(src, client)| async move {
        let started_at = clock();
        let (outcome, requests) = match client {
            Ok(http) => {
                let prior = priors.get(&src.name).unwrap_or(none);
                let r = connectors::fetch(src, http, prior, started_at)
                    .await
                    .map_err(|e| e.to_string());
                if let Err(e) = &r {
                    tracing::warn!(source = %src.name, error = %e, "source failed");
                }
                (r, http.requests())
            }
            Err(e) => (Err(e.clone()), 0),
        };
        let done = match &outcome {
            Ok(d) => Ok(d.items()),
            Err(e) => Err(e.clone()),
        };
        finished_ref
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(src.name.clone(), done);
        if let Some(f) = report_ref {
            f(ticks_ref());
        }
        SourceResult {
            source: src.name.clone(),
            kind: src.kind.clone(),
            outcome,
            requests,
            started_at,
            finished_at: clock(),
        }
    }))
    .await;
    let mut results = results;
    let today = chrono::DateTime::from_timestamp(clock(), 0)
        .unwrap_or_default()
        .date_naive();
    for src in files {
        let started_at = clock();
        let path = src.path.clone().unwrap_or_default();
        let name = src.name.clone();
        let outcome =
            tokio::task::spawn_blocking(move || connectors::csv::load(&name, &path, today))
                .await
                .map_err(|e| format!("source '{}': reading the file failed: {e}", src.name))
                .and_then(|r| r.map_err(|e| e.to_string()));
        results.push(SourceResult {
            source: src.name.clone(),
            kind: src.kind.clone(),
            outcome,
            requests: 0,
            started_at,
            finished_at: clock(),
        });
    }
    if let Some(t) = ticker {
        t.abort();
        if stderr {
            eprint!("\r\x1b[2K");
        }
    }
    let fetch_elapsed = started.elapsed();
    let mut notes = Vec::new();
    for r in &mut results {
        if let Ok(d) = &mut r.outcome {
            notes.extend(scrub_secrets(&r.source, d));
        }
    }
    if results.iter().all(|r| r.outcome.is_err()) {
        // Nothing new arrived: store nothing, so the latest snapshot stays what it was.
        let kept = store.latest_snapshot_id()?;
        let sources = results
            .into_iter()
            .map(|r| SourceStatus {
                source: r.source,
                kind: r.kind,
                ok: false,
                error: r.outcome.err(),
                carried_from: kept,
                items: 0,
                requests: r.requests,
                started_at: r.started_at,
                finished_at: r.finished_at,
            })
            .collect();
        return Ok(SyncReport {
            snapshot_id: None,
            kept_snapshot: kept,
            sources,
            elapsed: started.elapsed(),
            fetch_elapsed,
            notes,
        });
    }
    let id = store.write_snapshot(clock(), &results)?;
    drop(results);
    tracing::info!(snapshot = id, fetch = ?fetch_elapsed, total = ?started.elapsed(), "sync stored");
    // The console's first frame reads this instead of judging the whole snapshot. A failure
    // here loses nothing: the console judges the snapshot itself and stores the digest then.
    if let Err(e) = store_digest(store, &config.rules, id) {
        tracing::warn!(snapshot = id, error = %e, "could not store the snapshot's digest");
    }
    Ok(SyncReport {
        snapshot_id: Some(id),
        kept_snapshot: None,
        sources: store.source_runs(id)?,
        elapsed: started.elapsed(),
        fetch_elapsed,
        notes,
    })
}

/// Judge snapshot `id` with the store's ownership records and store its digest
/// (`reconcile::digest`), so a console opening on it has data on screen at once.
pub fn store_digest(
    store: &Store,
    rules: &crate::reconcile::Rules,
    id: i64,
) -> Result<(), StoreError> {
    let snap = store.snapshot(id)?;
    let owners = crate::review::owner_records(&store.decisions()?);
    let key = crate::reconcile::digest::context(rules, &owners);
    let cx = crate::reconcile::Context {
        now: snap.taken_at,
        rules: rules.clone(),
        owners,
    };
    let found = crate::reconcile::reconcile(&snap.data, &cx);
    let digest = crate::reconcile::digest::Digest::new(&snap.data, &found, snap.taken_at);
    store.save_digest(id, &key, &digest)?;
    // Older snapshots' digests are a cache nobody needs first: dropped, or kept if this
    // store's role may not (a team store whose `recert team init` predates this).
    if let Err(e) = store.drop_older_digests(id) {
        tracing::warn!(error = %e, "older snapshots' digests kept");
    }
    Ok(())
}
