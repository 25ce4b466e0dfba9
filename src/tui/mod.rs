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
pub mod views;
pub mod wrap;

use std::collections::HashMap;
use std::io;
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

use crate::config::Config;
use crate::engine::{Bulk, Engine, Event as EngineEvent, Front, session};
use data::{Data, Review, ViewId};
use keymap::Keymap;
use state::{Effect, Msg, SourceProgress, State, update};
use table::{Sort, Table};
use theme::Theme;

pub use crate::engine::campaign::CampaignQueue;
/// Finds a source's key for `:sync` and `:apply`.
pub type Keys = session::Keys;

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
    pub store: crate::store::Location,
    /// The rules the snapshot is judged under, and the sources `:sync` and `:apply` reach.
    pub config: Config,
    /// The sources' keys; `None` disables `:sync` and `:apply`.
    pub keys: Option<Keys>,
    /// Opened on a campaign reviewer's queue (`recert review --campaign`).
    pub campaign: Option<CampaignQueue>,
}

/// What the console builds from what the engine reads: its view tables, on the engine's
/// threads.
pub struct Console;

impl Front for Console {
    type Data = Data;
    type Review = Review;
    fn preview(&self, p: crate::engine::load::Preview) -> Data {
        Data::preview(p.head, p.digest, p.rules, p.now)
    }
    fn data(&self, j: crate::engine::load::Judged) -> Data {
        Data::judged(j)
    }
    fn review(&self, r: crate::engine::review::ReadModel) -> Review {
        Review::from_read(r)
    }
}

/// The console's data from the latest snapshot in `dir` (its stored digest to `preview`
/// first), as the engine loads it: for the benchmarks and tests that time or check a start.
pub fn load(
    cfg: &Config,
    at: impl Into<crate::store::Location>,
    preview: &dyn Fn(Data),
) -> anyhow::Result<Data> {
    let at = at.into();
    let j = crate::engine::load::latest(cfg, &at, &crate::config::resolve_key, &|p| {
        preview(Console.preview(p))
    })?;
    Ok(Console.data(j))
}

/// Put the terminal back: leave raw mode and the alternate screen. Safe to call twice.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// Per view: which table and sort the cached order is for. The table is held weakly: its
/// allocation (so its address) stays taken while the cache names it, and a new table can
/// never be taken for a freed one that had the same address.
type Cached = HashMap<ViewId, (std::sync::Weak<Table>, Option<Sort>, Arc<Vec<u32>>)>;

/// The filter/sort worker: newest job per view wins; sorted orders are cached per table.
fn worker(jobs: Receiver<state::Refine>, out: Sender<Msg>) {
    serve(jobs, out, refine_job)
}

/// The worker's loop around `process`. A job that panics (a bug) is answered with
/// [`Msg::RefineFailed`] and the worker goes on: a view never waits for an answer that will
/// not come (its marks and decisions wait for its rows).
fn serve(
    jobs: Receiver<state::Refine>,
    out: Sender<Msg>,
    process: impl Fn(&mut Cached, state::Refine) -> Msg,
) {
    let mut cache = Cached::new();
    while let Ok(first) = jobs.recv() {
        let mut latest: HashMap<ViewId, state::Refine> = HashMap::new();
        latest.insert(first.view, first);
        while let Ok(j) = jobs.try_recv() {
            latest.insert(j.view, j);
        }
        for (view, j) in latest {
            let ticket = j.ticket;
            let answer =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| process(&mut cache, j)))
                    .unwrap_or_else(|_| {
                        cache.clear();
                        Msg::RefineFailed { view, ticket }
                    });
            if out.send(answer).is_err() {
                return;
            }
        }
    }
}

/// One filter/sort job, answered with the worker's cache of sorted orders.
fn refine_job(cache: &mut Cached, j: state::Refine) -> Msg {
    j.answer(|table, sort| match cache.get(&j.view) {
        Some((t, s, o)) if t.as_ptr() == Arc::as_ptr(table) && *s == sort => o.clone(),
        _ => {
            let o = Arc::new(table::order(table, sort));
            cache.insert(j.view, (Arc::downgrade(table), sort, o.clone()));
            o
        }
    })
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

/// The console's line to its engine: commands out, the engine's events back as messages for
/// the state. The driver and the state tests use this one line, so the tests see the engine
/// exactly as the console does.
pub struct Link {
    engine: Engine<Console>,
    events: Receiver<EngineEvent>,
    seen: [u64; 2],
}

impl Link {
    pub fn start(setup: crate::engine::Setup) -> anyhow::Result<Link> {
        let (events_tx, events) = mpsc::channel::<EngineEvent>();
        let engine = Engine::start(
            setup,
            Console,
            Arc::new(move |e| {
                let _ = events_tx.send(e);
            }),
        )?;
        Ok(Link {
            engine,
            events,
            seen: [0; 2],
        })
    }

    /// Ask the engine to do `c`; `false` when it has stopped.
    pub fn send(&self, c: crate::engine::Command) -> bool {
        self.engine.send(c)
    }

    /// Every command sent so far is carried out and answered ([`Engine::settled`]).
    pub fn settled(&self) -> bool {
        self.engine.settled()
    }

    /// What the engine said since the last call, as messages, in order.
    pub fn messages(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            out.extend(self.message(e));
        }
        out
    }

    /// What an engine event tells the state, reading published data from its slot (only when it
    /// is newer than what the state has: a preview overtaken by the whole is never shown).
    fn message(&mut self, e: EngineEvent) -> Option<Msg> {
        Some(match e {
            EngineEvent::Published(Bulk::Data, g) if g > self.seen[0] => {
                let (g, d) = self.engine.data.latest();
                self.seen[0] = g;
                Msg::Data(d?)
            }
            EngineEvent::Published(Bulk::Review, g) if g > self.seen[1] => {
                let (g, r) = self.engine.review.latest();
                self.seen[1] = g;
                Msg::Review(r?)
            }
            EngineEvent::Published(..) => return None,
            EngineEvent::LoadFailed(why) => Msg::LoadFailed(why),
            EngineEvent::Recorded {
                batch,
                count,
                verdict,
            } => Msg::Recorded {
                batch,
                count,
                verdict,
            },
            EngineEvent::NotRecorded(why) => Msg::NotRecorded(why),
            EngineEvent::NotUndone { batch, undone, why } => Msg::NotUndone { batch, undone, why },
            EngineEvent::SyncProgress(p) => Msg::SyncProgress(
                p.into_iter()
                    .map(|t| SourceProgress {
                        source: t.source,
                        requests: t.requests,
                        done: t.done,
                    })
                    .collect(),
            ),
            EngineEvent::SyncDone { ok, lines } => Msg::SyncDone { ok, lines },
            EngineEvent::ApplyProgress(p) => Msg::ApplyProgress(p),
            EngineEvent::ApplyDone { ok, lines } => Msg::ApplyDone { ok, lines },
            EngineEvent::Error(e) => Msg::Error(e),
            EngineEvent::Notice(n) => Msg::Notice(n),
            EngineEvent::Acted(n) => Msg::Acted(n),
        })
    }
}

/// Run the console until the user quits.
pub fn run(opts: Options) -> anyhow::Result<()> {
    // Refuse a store that cannot be opened before the terminal is taken.
    drop(crate::store::Store::open(&opts.store)?);
    // A panic on this thread gives the terminal back before it is reported; one on another
    // thread (the engine's, the worker's: each answers and goes on) leaves it to the console.
    let _open = crate::crash::console_open(restore_terminal);
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen)?;
    let result = (|| -> anyhow::Result<()> {
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        let (tx, rx) = mpsc::channel::<Msg>();
        let (jobs_tx, jobs_rx) = mpsc::channel::<state::Refine>();
        {
            let tx = tx.clone();
            std::thread::spawn(move || worker(jobs_rx, tx));
        }
        let mut link = Link::start(crate::engine::Setup {
            store: opts.store.clone(),
            config: opts.config.clone(),
            keys: opts.keys.clone(),
            reviewer: opts.reviewer.clone(),
            campaign: opts.campaign.clone(),
            read_only: opts.read_only,
            clock: Arc::new(|| chrono::Utc::now().timestamp()),
        })?;
        link.send(crate::engine::Command::Review);
        link.send(crate::engine::Command::Load { preview: true });
        let mut state = State::new(
            opts.keymap.clone(),
            opts.context.clone(),
            chrono::Utc::now().date_naive(),
        );
        state.read_only = opts.read_only;
        state.justification_required = opts.justification_required;
        state.acting_as(&opts.reviewer);
        if opts.campaign.is_some() {
            state.campaign = true;
            state.view = ViewId::Queue;
        }
        state.confirm_threshold = opts.config.settings.confirm_threshold.unwrap_or(25);
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
            pending.extend(link.messages());
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
                        Effect::Refine(job) => {
                            let (view, ticket) = (job.view, job.ticket);
                            if jobs_tx.send(job).is_err() {
                                // The worker is gone: the view must not wait for it.
                                pending.push(Msg::RefineFailed { view, ticket });
                            }
                        }
                        Effect::Copy(text) => copy_to_clipboard(&text),
                        Effect::Engine(c) => {
                            if !link.send(c) {
                                pending.push(Msg::Error(
                                    "recert's engine has stopped: nothing more can be recorded or sent; quit and start again".into(),
                                ));
                            }
                        }
                    }
                }
            }
        }
    })();
    restore_terminal();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that panics is answered as failed and the worker serves the next one: before,
    /// the worker thread died with it and every view waited for answers that never came.
    #[test]
    fn a_job_that_panics_is_answered_as_failed_and_the_worker_goes_on() {
        let (jobs_tx, jobs_rx) = mpsc::channel::<state::Refine>();
        let (tx, rx) = mpsc::channel::<Msg>();
        std::thread::spawn(move || {
            serve(jobs_rx, tx, |cache, j| {
                assert!(j.view != ViewId::Keys, "a bug in a filter");
                refine_job(cache, j)
            })
        });
        let job = |view, ticket| state::Refine {
            view,
            ticket,
            table: Arc::new(Table::default()),
            query: query::Query::default(),
            sort: None,
            decided: None,
            relocate: None,
        };
        let wait = Duration::from_secs(30);
        jobs_tx.send(job(ViewId::Keys, 1)).unwrap();
        assert!(matches!(
            rx.recv_timeout(wait).unwrap(),
            Msg::RefineFailed {
                view: ViewId::Keys,
                ticket: 1
            }
        ));
        jobs_tx.send(job(ViewId::Gaps, 2)).unwrap();
        assert!(matches!(
            rx.recv_timeout(wait).unwrap(),
            Msg::Refined {
                view: ViewId::Gaps,
                ticket: 2,
                ..
            }
        ));
    }
}
