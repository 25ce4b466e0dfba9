//! The console. The only module that knows ratatui and crossterm. The driver turns terminal
//! events and background results into messages, runs the pure `update`, carries out its
//! effects, and redraws when something changed. Slow work (loading a snapshot, filtering and
//! sorting a million rows, syncing) runs on other threads; the UI keeps answering keys.

pub mod data;
pub mod keymap;
pub mod query;
pub mod state;
pub mod table;
pub mod theme;
pub mod view;

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::config::{Config, ConfigError, SourceConfig};
use crate::secret::Secret;
use crate::store::Store;
use data::{Data, Review, ViewId};
use keymap::Keymap;
use state::{Effect, Msg, SourceProgress, State, update};
use table::{Sort, Table};
use theme::Theme;

/// Builds the console's data from the latest stored snapshot (run off the UI thread).
/// Loads the console's data. It may hand a preview (`Data::preview`) to its argument first,
/// then returns the whole.
pub type Loader = Arc<dyn Fn(&dyn Fn(Data)) -> anyhow::Result<Data> + Send + Sync>;
/// Finds a source's key for `:sync`.
pub type Keys = Arc<dyn Fn(&SourceConfig) -> Result<Secret, ConfigError> + Send + Sync>;

pub struct Options {
    pub keymap: Keymap,
    pub theme: Theme,
    pub read_only: bool,
    pub justification_required: bool,
    /// Who is deciding: recorded with every decision and audit entry.
    pub reviewer: String,
    /// What the header says about the data (snapshot, time, sources).
    pub context: String,
    /// The store's directory (decisions are written there as they are made).
    pub data_dir: PathBuf,
    pub loader: Loader,
    /// What `:sync` needs; `None` disables it.
    pub sync: Option<(Config, Keys)>,
    /// Opened on a campaign reviewer's queue (`recert review --campaign`).
    pub campaign: Option<CampaignQueue>,
}

/// Whose queue in which campaign the console shows.
#[derive(Clone, Debug)]
pub struct CampaignQueue {
    pub id: i64,
    pub name: String,
    pub due: String,
    pub snapshot_id: i64,
    /// The reviewer (`--as`), normalised.
    pub reviewer: String,
    /// The directory groups the reviewer is in: items routed to `group:NAME` are theirs too.
    pub groups: Vec<String>,
    /// The campaign snapshot's people and groups, for the delegation policy.
    pub people: Arc<crate::review::campaign::People>,
}

impl CampaignQueue {
    /// The assignees whose items are this reviewer's: their email and each `group:NAME`.
    fn assignees(&self) -> Vec<String> {
        let mut mine = vec![self.reviewer.clone()];
        mine.extend(self.groups.iter().map(|g| format!("group:{g}")));
        mine
    }
}

/// Put the terminal back: leave raw mode and the alternate screen. Safe to call twice.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

struct Job {
    view: ViewId,
    ticket: u64,
    table: Arc<Table>,
    query: query::Query,
    sort: Option<Sort>,
}

/// The filter/sort worker: newest job per view wins; sorted orders are cached per table.
fn worker(jobs: Receiver<Job>, out: Sender<Msg>) {
    // Per view: which table (by address) and sort the cached order is for.
    type Cached = (usize, Option<Sort>, Arc<Vec<u32>>);
    let mut cache: HashMap<ViewId, Cached> = HashMap::new();
    while let Ok(first) = jobs.recv() {
        let mut latest: HashMap<ViewId, Job> = HashMap::new();
        latest.insert(first.view, first);
        while let Ok(j) = jobs.try_recv() {
            latest.insert(j.view, j);
        }
        for (_, j) in latest {
            let key = Arc::as_ptr(&j.table) as usize;
            let order = match cache.get(&j.view) {
                Some((k, s, o)) if *k == key && *s == j.sort => o.clone(),
                _ => {
                    let o = Arc::new(table::order(&j.table, j.sort));
                    cache.insert(j.view, (key, j.sort, o.clone()));
                    o
                }
            };
            let visible = if j.query.is_empty() {
                order
            } else {
                Arc::new(table::filter(&j.table, &order, &j.query))
            };
            if out
                .send(Msg::Refined {
                    view: j.view,
                    ticket: j.ticket,
                    visible,
                })
                .is_err()
            {
                return;
            }
        }
    }
}

/// Load the data off the UI thread. With `preview`, the stored digest's first findings are
/// published while the rest loads (a start, a new snapshot); without (a rejudge after an
/// ownership change), the screen keeps the whole old data until the new is complete.
fn load_in_background(loader: Loader, tx: Sender<Msg>, preview: bool) {
    std::thread::spawn(move || {
        let early = tx.clone();
        let preview = move |d: Data| {
            if preview {
                let _ = early.send(Msg::Data(Arc::new(d)));
            }
        };
        match loader(&preview) {
            Ok(d) => {
                let _ = tx.send(Msg::Data(Arc::new(d)));
            }
            Err(e) => {
                let _ = tx.send(Msg::LoadFailed(format!("{e:#}")));
            }
        }
    });
}

pub fn review(
    store: &Store,
    campaign: Option<&CampaignQueue>,
) -> Result<Review, crate::store::StoreError> {
    let queue = match campaign {
        Some(c) => {
            let header = store.campaigns()?.into_iter().find(|x| x.id == c.id);
            let closed = header.as_ref().is_some_and(|x| x.is_final());
            let allow_self_review = header.is_some_and(|x| x.routing.allow_self_review);
            let signed_off = store
                .sign_offs(c.id)?
                .iter()
                .any(|s| s.reviewer == c.reviewer);
            let items = store.queue_items(c.id, &c.assignees())?;
            Some(data::Queue {
                campaign: c.name.clone(),
                due: c.due.clone(),
                items,
                signed_off,
                closed,
                allow_self_review,
            })
        }
        None => None,
    };
    Ok(
        Review::with_queue(store.decisions()?, store.audit_entries()?, queue)
            .with_journal(store.planned_decisions()?, store.all_journal()?),
    )
}

fn start_sync(opts: &Options, tx: Sender<Msg>) {
    let Some((cfg, keys)) = opts.sync.clone() else {
        let _ = tx.send(Msg::SyncDone {
            ok: false,
            lines: vec!["sync: FAILED: this console has no sources to sync".into()],
        });
        return;
    };
    let dir = opts.data_dir.clone();
    let loader = opts.loader.clone();
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Msg::SyncDone {
                    ok: false,
                    lines: vec![format!("sync: FAILED to start: {e}")],
                });
                return;
            }
        };
        let ptx = tx.clone();
        let report = Arc::new(move |now: Vec<(String, u64)>| {
            let p = now
                .into_iter()
                .map(|(source, requests)| SourceProgress {
                    source,
                    requests,
                    done: None,
                })
                .collect();
            let _ = ptx.send(Msg::SyncProgress(p));
        });
        let result = rt.block_on(async {
            let mut store = Store::open(&dir)?;
            let resolve = move |s: &SourceConfig| keys(s);
            crate::sync::sync_with(
                &cfg,
                &mut store,
                &resolve,
                crate::sync::Progress::Report(report),
            )
            .await
        });
        match result {
            Ok(r) => {
                let ok = r.failed() == 0;
                let mut lines = r.lines();
                if let Some(id) = r.snapshot_id {
                    lines.push(format!("sync: stored snapshot #{id}"));
                } else {
                    lines.push("sync: every source FAILED; nothing stored".into());
                }
                let stored = r.snapshot_id.is_some();
                let _ = tx.send(Msg::SyncDone { ok, lines });
                if stored {
                    load_in_background(loader, tx, true);
                }
            }
            Err(e) => {
                let _ = tx.send(Msg::SyncDone {
                    ok: false,
                    lines: vec![format!("sync: FAILED: {e}")],
                });
            }
        }
    });
}

/// Send a stored plan on another thread, reporting each call; then reload the decisions.
fn start_apply(opts: &Options, plan: i64, tx: Sender<Msg>, reload: Sender<()>) {
    use crate::remediate::RowState;
    let Some((cfg, keys)) = opts.sync.clone() else {
        let _ = tx.send(Msg::ApplyDone {
            ok: false,
            lines: vec![format!(
                "plan #{plan} is stored but this console has no sources to send it to: `recert apply --resume`"
            )],
        });
        return;
    };
    let dir = opts.data_dir.clone();
    let actor = opts.reviewer.clone();
    std::thread::spawn(move || {
        let run = || -> anyhow::Result<crate::remediate::apply::Outcome> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let store = std::sync::Mutex::new(Store::open(&dir)?);
            let progress = std::sync::Mutex::new(state::Applying {
                plan,
                ..Default::default()
            });
            let ptx = tx.clone();
            let on_item = move |_n: usize,
                                total: usize,
                                row: &crate::remediate::JournalRow,
                                st: RowState,
                                _detail: &str| {
                let mut p = progress.lock().unwrap();
                p.total = total;
                if st == RowState::Done {
                    p.done += 1;
                } else {
                    p.failed += 1;
                }
                p.last = row.line();
                let _ = ptx.send(Msg::ApplyProgress(p.clone()));
            };
            rt.block_on(crate::engine::apply::run(
                &store, &cfg, &*keys, plan, &actor, &on_item,
            ))
        };
        let msg = match run() {
            Ok(out) => Msg::ApplyDone {
                ok: out.failed.is_empty(),
                lines: crate::engine::apply::summary(plan, &out),
            },
            Err(e) => Msg::ApplyDone {
                ok: false,
                lines: vec![format!(
                    "plan #{plan} stopped: {e:#}; `recert apply --resume` finishes it"
                )],
            },
        };
        let _ = tx.send(msg);
        // The decisions view and the audit log change with every call: reload them.
        let _ = reload.send(());
    });
}

/// Reads the decisions, audit log and journal off the UI thread whenever asked; requests that
/// pile up are served by one read, which always sees the newest writes.
fn review_loader(
    dir: PathBuf,
    campaign: Option<CampaignQueue>,
    requests: Receiver<()>,
    out: Sender<Msg>,
) {
    let store = match Store::open(&dir) {
        Ok(s) => s,
        Err(e) => {
            let _ = out.send(Msg::Error(format!("cannot read decisions: {e:#}")));
            return;
        }
    };
    while requests.recv().is_ok() {
        while requests.try_recv().is_ok() {}
        let msg = match review(&store, campaign.as_ref()) {
            Ok(r) => Msg::Review(Arc::new(r)),
            Err(e) => Msg::Error(format!("reading decisions and the audit log failed: {e:#}")),
        };
        if out.send(msg).is_err() {
            return;
        }
    }
}

/// Put `text` on the clipboard of the terminal the console runs in (OSC 52, as lazygit and
/// yazi do; it works over SSH). The text is base64 inside the sequence, so nothing in it can
/// act on the terminal.
fn copy_to_clipboard(text: &str) {
    use base64::Engine;
    use std::io::Write;
    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{b64}\x07");
    let _ = out.flush();
}

/// Carry out a campaign effect in the store; the message says how it went.
pub fn campaign_effect(store: &mut Store, c: &CampaignQueue, e: Effect) -> Msg {
    let now = chrono::Utc::now().timestamp();
    let done = match e {
        Effect::Stage(items) => {
            let verdict = items.first().map(|(_, d)| d.verdict.as_str()).unwrap_or("");
            let staged: Vec<(i64, Option<crate::review::NewDecision>)> =
                items.into_iter().map(|(s, d)| (s, Some(d))).collect();
            store.stage(c.id, &staged, now).map(|n| {
                format!(
                    "Staged {verdict} on {}: :submit records them",
                    crate::model::text::plural(n, "item")
                )
            })
        }
        Effect::Unstage(seqs) => {
            let none: Vec<(i64, Option<crate::review::NewDecision>)> =
                seqs.into_iter().map(|s| (s, None)).collect();
            store.stage(c.id, &none, now).map(|n| {
                format!(
                    "Un-staged {}: back to undecided",
                    crate::model::text::plural(n, "item")
                )
            })
        }
        Effect::Submit(seqs) => store
            .submit(c.id, &seqs, &c.reviewer, c.snapshot_id, now)
            .map(|(batch, n)| {
                format!(
                    "Submitted batch {batch}: {}, audited",
                    crate::model::text::plural(n, "decision")
                )
            }),
        Effect::SignOff => store.queue_items(c.id, &c.assignees()).and_then(|items| {
            let mine: Vec<_> = items.iter().collect();
            let decided = mine.iter().filter(|i| i.decided()).count();
            let counts = crate::store::campaign::sign_off_counts(&mine);
            store.sign_off(c.id, &c.reviewer, &counts, now).map(|()| {
                format!(
                    "Signed off: {decided}/{} decided; your decisions are locked",
                    mine.len()
                )
            })
        }),
        Effect::Delegate { items, to, reason } => {
            let delegated = store.campaign(&c.name).and_then(|campaign| {
                let all = store.campaign_items(campaign.id)?;
                Ok((campaign, all))
            });
            match delegated {
                Ok((campaign, all)) => crate::engine::campaign::delegate(
                    store,
                    crate::engine::campaign::Delegation {
                        campaign: &campaign,
                        items: &all,
                        people: &c.people,
                        from: &c.reviewer,
                        to: &to,
                        seqs: &items,
                        reason: &reason,
                        // The console offers no override: `campaign delegate --force` does.
                        force: false,
                    },
                    now,
                )
                .map(|(to, n)| {
                    format!(
                        "Delegated {} to {to}, audited",
                        crate::model::text::plural(n, "item")
                    )
                })
                .map_err(|e| crate::store::StoreError::Campaign(format!("{e:#}"))),
                Err(e) => Err(e),
            }
        }
        _ => return Msg::Error("not a campaign effect".into()),
    };
    match done {
        Ok(text) => Msg::Notice(text),
        Err(e) => Msg::Error(format!("campaign: {e}; nothing was changed")),
    }
}

/// Run the console until the user quits.
pub fn run(opts: Options) -> anyhow::Result<()> {
    let mut store = Store::open(&opts.data_dir)?;
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        prev_hook(info);
    }));
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen)?;
    let result = (|| -> anyhow::Result<()> {
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        let (tx, rx) = mpsc::channel::<Msg>();
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        {
            let tx = tx.clone();
            std::thread::spawn(move || worker(jobs_rx, tx));
        }
        let (reload, reload_rx) = mpsc::channel::<()>();
        {
            let tx = tx.clone();
            let dir = opts.data_dir.clone();
            let campaign = opts.campaign.clone();
            std::thread::spawn(move || review_loader(dir, campaign, reload_rx, tx));
        }
        let _ = reload.send(());
        let mut state = State::new(opts.keymap.clone(), opts.context.clone());
        state.read_only = opts.read_only;
        state.justification_required = opts.justification_required;
        if opts.campaign.is_some() {
            state.campaign = true;
            state.view = ViewId::Queue;
        }
        if let Some((cfg, _)) = &opts.sync {
            state.confirm_threshold = cfg.settings.confirm_threshold.unwrap_or(25);
        }
        load_in_background(opts.loader.clone(), tx.clone(), true);
        let started = Instant::now();
        let size = terminal.size()?;
        let mut pending: Vec<Msg> = vec![view::resized(size.width, size.height)];
        let mut dirty = true;
        loop {
            if dirty {
                terminal.draw(|f| view::draw(f, &state, &opts.theme))?;
                dirty = false;
            }
            if pending.is_empty() && event::poll(Duration::from_millis(50))? {
                // Drain everything the terminal has before the next frame.
                loop {
                    match event::read()? {
                        Event::Key(k) if k.kind != KeyEventKind::Release => {
                            pending.push(Msg::Key(k))
                        }
                        Event::Resize(w, h) => pending.push(view::resized(w, h)),
                        _ => {}
                    }
                    if !event::poll(Duration::ZERO)? {
                        break;
                    }
                }
            }
            pending.extend(rx.try_iter());
            pending.push(Msg::Tick {
                now_ms: started.elapsed().as_millis() as u64,
            });
            for msg in std::mem::take(&mut pending) {
                if !matches!(msg, Msg::Tick { .. }) {
                    dirty = true;
                }
                let had_toast = state.toast.is_some();
                let effects = update(&mut state, msg);
                if had_toast != state.toast.is_some() {
                    dirty = true;
                }
                for e in effects {
                    match e {
                        Effect::Quit => return Ok(()),
                        Effect::Refine {
                            view,
                            ticket,
                            table,
                            query,
                            sort,
                        } => {
                            let _ = jobs_tx.send(Job {
                                view,
                                ticket,
                                table,
                                query,
                                sort,
                            });
                        }
                        Effect::Record(items) => {
                            let now = chrono::Utc::now().timestamp();
                            let snap = Some(state.data.snapshot.id).filter(|&i| i > 0);
                            let verdict = items[0].verdict;
                            let count = items.len();
                            match store.record_decisions(&items, &opts.reviewer, snap, now) {
                                Ok(batch) => {
                                    pending.push(Msg::Recorded {
                                        batch,
                                        count,
                                        verdict,
                                    });
                                    let _ = reload.send(());
                                }
                                Err(e) => pending.push(Msg::Error(format!(
                                    "the decision was NOT recorded: {}",
                                    anyhow::Error::from(e)
                                        .chain()
                                        .map(|c| c.to_string())
                                        .collect::<Vec<_>>()
                                        .join(": ")
                                ))),
                            }
                        }
                        Effect::SetUndone { batch, undone } => {
                            let now = chrono::Utc::now().timestamp();
                            match store.set_batch_undone(batch, undone, &opts.reviewer, now) {
                                Ok(_) => {
                                    let _ = reload.send(());
                                }
                                Err(e) => pending.push(Msg::Error(format!("undo failed: {e:#}"))),
                            }
                        }
                        Effect::Sync => start_sync(&opts, tx.clone()),
                        Effect::Rejudge => {
                            load_in_background(opts.loader.clone(), tx.clone(), false)
                        }
                        Effect::Copy(text) => copy_to_clipboard(&text),
                        Effect::Stage(_)
                        | Effect::Unstage(_)
                        | Effect::Submit(_)
                        | Effect::SignOff
                        | Effect::Delegate { .. } => {
                            let Some(c) = &opts.campaign else { continue };
                            pending.push(campaign_effect(&mut store, c, e));
                            let _ = reload.send(());
                        }
                        Effect::Apply(steps) => {
                            let snap = Some(state.data.snapshot.id).filter(|&i| i > 0);
                            let now = chrono::Utc::now().timestamp();
                            // The newest plan the state planned against.
                            let known = state
                                .review
                                .journal
                                .iter()
                                .map(|r| r.plan)
                                .max()
                                .unwrap_or(0);
                            let made = crate::engine::apply::store_plan(
                                &mut store,
                                &steps,
                                known,
                                &opts.reviewer,
                                snap,
                                now,
                            )
                            .map_err(|e| format!("the plan was NOT stored: {e:#}"));
                            match made {
                                Ok(plan) => start_apply(&opts, plan, tx.clone(), reload.clone()),
                                Err(e) => {
                                    pending.push(Msg::ApplyDone {
                                        ok: false,
                                        lines: vec![e],
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
    })();
    restore_terminal();
    let _ = std::panic::take_hook();
    result
}
