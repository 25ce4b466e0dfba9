//! The engine a console talks to: commands in, events out, one thread that owns the store
//! handle, one tokio runtime for the slow work (loading, sync, apply), and the bulk data
//! published as `Arc` plus a generation number, never sent through a channel.
//!
//! The front end says what it builds from a judged snapshot and from the review read model
//! ([`Front`]); the engine runs those builders off the front end's thread, so a console's
//! draw loop never waits for SQL, HTTP or a million-row table.

use crate::store::Location;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use super::campaign::{Act, CampaignQueue};
use super::load::{Judged, Preview};
use super::review::ReadModel;
use crate::config::{Config, ConfigError, SourceConfig};
use crate::model::Ts;
use crate::remediate::{JournalRow, PlannedStep, RowState};
use crate::review::{NewDecision, Verdict};
use crate::secret::Secret;
use crate::store::Store;

/// Finds a source's key.
pub type Keys = Arc<dyn Fn(&SourceConfig) -> Result<Secret, ConfigError> + Send + Sync>;
/// The time now, in seconds (injected, so tests decide what "now" is).
pub type Clock = Arc<dyn Fn() -> Ts + Send + Sync>;

/// What a front end builds from what the engine reads. Called on the engine's threads.
pub trait Front: Send + Sync + 'static {
    type Data: Send + Sync + 'static;
    type Review: Send + Sync + 'static;
    /// What to show while the snapshot loads.
    fn preview(&self, p: Preview) -> Self::Data;
    /// What to show for a judged snapshot.
    fn data(&self, j: Judged) -> Self::Data;
    /// What to show for the decisions, the audit log, the journal and the queue.
    fn review(&self, r: ReadModel) -> Self::Review;
}

/// What a front end asks of the engine. Each is carried out once, in the order sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Judge the latest snapshot and publish it; `preview`: publish its stored digest first.
    Load { preview: bool },
    /// Read the decisions, audit log and journal again and publish them.
    Review,
    /// Record these decisions as one batch, made against `snapshot`.
    Record {
        items: Vec<NewDecision>,
        snapshot: Option<i64>,
    },
    /// Undo (`true`) or redo a batch.
    SetUndone { batch: i64, undone: bool },
    /// Something a campaign reviewer does to their queue.
    Campaign(Act),
    /// Store these steps as a plan (under the unfinished-plan guard; `known` is the newest
    /// plan the front end planned against) and send it.
    Apply {
        steps: Vec<PlannedStep>,
        known: i64,
        snapshot: Option<i64>,
    },
    /// Send the calls of stored plan `plan` that are not done (an interrupted or failed run).
    Resume { plan: i64 },
    /// Pull every source, store the snapshot, then load it.
    Sync,
}

/// What bulk data was published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bulk {
    Data,
    Review,
}

/// A sync's progress: where each source stands.
pub type SyncProgress = Vec<crate::sync::Tick>;

/// A plan's progress while it is sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplyProgress {
    pub plan: i64,
    pub done: usize,
    pub failed: usize,
    pub total: usize,
    /// The last call's line.
    pub last: String,
}

/// What the engine tells a front end.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A new generation of `Bulk` data is in its slot ([`Engine::data`], [`Engine::review`]).
    Published(Bulk, u64),
    /// Loading the snapshot failed (why); whatever was published stays.
    LoadFailed(String),
    Recorded {
        batch: i64,
        count: usize,
        verdict: Verdict,
    },
    /// A `Record` that was not recorded (why).
    NotRecorded(String),
    /// A `SetUndone` that did not happen (why): the batch stands as it was.
    NotUndone {
        batch: i64,
        undone: bool,
        why: String,
    },
    SyncProgress(SyncProgress),
    SyncDone {
        ok: bool,
        lines: Vec<String>,
    },
    ApplyProgress(ApplyProgress),
    ApplyDone {
        ok: bool,
        lines: Vec<String>,
    },
    Error(String),
    Notice(String),
    /// A reviewer's act on their campaign queue was carried out (what to say): the marks it
    /// was made on are used up. A refused act is an `Error` and changes nothing.
    Acted(String),
}

/// Where the engine tells a front end what happened.
pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// The newest value of something large, with its generation: the engine writes, the front end
/// reads the latest when told a generation is ready. A value made from an older request never
/// replaces one made from a newer request.
pub struct Published<T> {
    slot: Mutex<Slot<T>>,
}

struct Slot<T> {
    generation: u64,
    /// The request the value answers (later requests are larger).
    request: u64,
    value: Option<Arc<T>>,
}

impl<T> Default for Published<T> {
    fn default() -> Self {
        Published {
            slot: Mutex::new(Slot {
                generation: 0,
                request: 0,
                value: None,
            }),
        }
    }
}

impl<T> Published<T> {
    /// Publish `value`, made for request `request`; its generation, or `None` when a newer
    /// request's value is already there.
    pub fn publish(&self, request: u64, value: T) -> Option<u64> {
        let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if request < s.request {
            return None;
        }
        s.generation += 1;
        s.request = request;
        s.value = Some(Arc::new(value));
        Some(s.generation)
    }

    /// A value made for a request later than `request` is already here: what `request` found
    /// (a failure included) is old news.
    pub fn overtaken(&self, request: u64) -> bool {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).request > request
    }

    /// The latest value and its generation (0 and `None` before the first).
    pub fn latest(&self) -> (u64, Option<Arc<T>>) {
        let s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        (s.generation, s.value.clone())
    }
}

/// What the engine needs to start.
pub struct Setup {
    /// The store.
    pub store: Location,
    /// The configuration: rules for loading; sources for sync and apply.
    pub config: Config,
    /// The keys for sync and apply; `None`: this front end cannot reach the providers.
    pub keys: Option<Keys>,
    /// Who decides: recorded with every decision and audit entry.
    pub reviewer: String,
    /// The campaign queue the front end is on.
    pub campaign: Option<CampaignQueue>,
    /// Refuse every change (decisions, campaign acts, plans): read-only mode.
    pub read_only: bool,
    pub clock: Clock,
}

/// A running engine. Dropping it stops its thread once the commands sent are done.
pub struct Engine<F: Front> {
    commands: Sender<Msg>,
    /// Commands sent, and commands carried out (their answers sent): equal when the engine has
    /// nothing left to do but slow work already under way.
    sent: std::sync::atomic::AtomicU64,
    carried_out: Arc<std::sync::atomic::AtomicU64>,
    pub data: Arc<Published<F::Data>>,
    pub review: Arc<Published<F::Review>>,
}

enum Msg {
    Do(Command),
    /// A slow task finished and asks for a follow-up.
    Then(Command),
    /// Tell the front end this once the review read model is read again (an apply's end: the
    /// console must not see "done" with a journal that still says "sent").
    After(Event),
    /// Other sessions changed the shared store (team mode): read the review again, and say
    /// who did what (from the audit log).
    Changed,
    /// Nothing: the listener's check that the engine still runs.
    Ping,
    /// The front end is gone.
    Stop,
}

impl<F: Front> Engine<F> {
    /// Start the engine's thread and runtime.
    pub fn start(setup: Setup, front: F, sink: Sink) -> anyhow::Result<Engine<F>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("recert-engine")
            .enable_all()
            .build()?;
        let (tx, rx) = mpsc::channel();
        let data = Arc::new(Published::default());
        let review = Arc::new(Published::default());
        let carried_out = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let inner = Inner {
            carried_out: carried_out.clone(),
            setup,
            front: Arc::new(front),
            sink,
            data: data.clone(),
            review: review.clone(),
            rt,
            me: tx.clone(),
            loads: 0,
            running: Arc::new(Mutex::new(None)),
        };
        std::thread::Builder::new()
            .name("recert-engine".into())
            .spawn(move || inner.run(rx))?;
        Ok(Engine {
            commands: tx,
            sent: Default::default(),
            carried_out,
            data,
            review,
        })
    }

    /// Ask the engine to do `c`; `false` when the engine is gone (nothing will answer).
    pub fn send(&self, c: Command) -> bool {
        let ok = self.commands.send(Msg::Do(c)).is_ok();
        if ok {
            self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        ok
    }

    /// Every command sent has been carried out and answered (the review read again where it
    /// changed); a load, sync or apply it started may still be running on the runtime.
    pub fn settled(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        self.carried_out.load(SeqCst) >= self.sent.load(SeqCst)
    }
}

impl<F: Front> Drop for Engine<F> {
    fn drop(&mut self) {
        let _ = self.commands.send(Msg::Stop);
    }
}

/// The event that tells a front end `c` did not happen (and why), so nothing waits for an
/// answer that will not come.
fn refused(c: &Command, why: &str) -> Event {
    match c {
        Command::Record { .. } => {
            Event::NotRecorded(format!("the decision was NOT recorded: {why}"))
        }
        Command::SetUndone { batch, undone } => Event::NotUndone {
            batch: *batch,
            undone: *undone,
            why: why.to_string(),
        },
        Command::Apply { .. } | Command::Resume { .. } => Event::ApplyDone {
            ok: false,
            lines: vec![format!("nothing was sent: {why}")],
        },
        Command::Load { .. } => Event::LoadFailed(why.to_string()),
        Command::Sync => Event::SyncDone {
            ok: false,
            lines: vec![format!("sync: FAILED: {why}")],
        },
        Command::Campaign(_) | Command::Review => {
            Event::Error(format!("{why}; nothing was changed"))
        }
    }
}

/// A load's [`Answer`], dropped unsent when a newer load's data is already published.
struct Overtakable<T> {
    answer: Answer,
    slot: Arc<Published<T>>,
    request: u64,
}

impl<T> Overtakable<T> {
    fn disarm(mut self) {
        self.answer.event = None;
    }
}

impl<T> Drop for Overtakable<T> {
    fn drop(&mut self) {
        if self.slot.overtaken(self.request) {
            self.answer.event = None;
        }
    }
}

/// Sends `event` when dropped unless disarmed: a slow task that panics still answers.
struct Answer {
    sink: Sink,
    event: Option<Event>,
}

impl Answer {
    fn disarm(mut self) {
        self.event = None;
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(e) = self.event.take() {
            (self.sink)(e);
        }
    }
}

/// The least time between two tries at opening a lost store again.
const REOPEN_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// When the engine last tried to open its store again, and whether that failed.
#[derive(Default)]
struct Reopen {
    tried: Option<std::time::Instant>,
    failed: bool,
}

struct Inner<F: Front> {
    setup: Setup,
    front: Arc<F>,
    sink: Sink,
    data: Arc<Published<F::Data>>,
    review: Arc<Published<F::Review>>,
    rt: tokio::runtime::Runtime,
    me: Sender<Msg>,
    /// Loads requested so far: a load's request number.
    loads: u64,
    /// The plan being sent, while it is.
    running: Arc<Mutex<Option<i64>>>,
    /// How many of the front end's commands are carried out ([`Engine::settled`]).
    carried_out: Arc<std::sync::atomic::AtomicU64>,
}

impl<F: Front> Inner<F> {
    fn run(mut self, rx: Receiver<Msg>) {
        let mut store = match Store::open(&self.setup.store) {
            Ok(s) => Some(s),
            Err(e) => {
                (self.sink)(Event::Error(format!(
                    "cannot open the store: {e:#}; decisions cannot be recorded"
                )));
                None
            }
        };
        let mut listening = store.as_ref().is_some_and(|s| self.listen(s));
        let mut reopen = Reopen {
            tried: None,
            failed: store.is_none(),
        };
        let mut reviews = 0u64;
        // The newest audit entry the front end has been shown.
        let mut seen: Option<i64> = None;
        // A SQLite store has no NOTIFY: another process's commits (`recert revoke` in another
        // terminal, a second console) are seen by the database's change counter, read twice a
        // second while the engine is idle (this handle's own commits leave it).
        let mut version = store.as_ref().and_then(|s| s.data_version());
        loop {
            let first = match rx.recv_timeout(std::time::Duration::from_millis(500)) {
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = store.as_ref().and_then(|s| s.data_version());
                    if now.is_none() || now == version {
                        continue;
                    }
                    Msg::Changed
                }
            };
            // Everything that piled up, in order; reading the review once serves them all.
            let mut read_review = false;
            let mut news = false;
            let mut after = Vec::new();
            let mut asked = 0;
            if !matches!(first, Msg::Ping) && self.reopen_if_lost(&mut store, &mut reopen) {
                read_review = true;
                if !listening && let Some(s) = &store {
                    listening = self.listen(s);
                }
            }
            for m in std::iter::once(first).chain(rx.try_iter()) {
                let c = match m {
                    Msg::Do(c) => {
                        asked += 1;
                        c
                    }
                    Msg::Then(c) => c,
                    Msg::After(e) => {
                        read_review = true;
                        after.push(e);
                        continue;
                    }
                    Msg::Changed => {
                        read_review = true;
                        news = true;
                        continue;
                    }
                    Msg::Ping => continue,
                    Msg::Stop => return,
                };
                // A bug in one command answers that command and leaves the engine running.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.command(store.as_mut(), c.clone())
                }));
                match run {
                    Ok(read) => read_review |= read,
                    Err(_) => {
                        (self.sink)(refused(&c, "recert hit an internal error (see the log)"));
                        read_review = true;
                    }
                }
            }
            if read_review && let Some(s) = &store {
                // Whatever is committed from here on is read next time.
                version = s.data_version();
                reviews += 1;
                match super::review::read(s, self.setup.campaign.as_ref()) {
                    Ok(r) => {
                        // Another reviewer's acts since the last read are news; this person's
                        // own (from another console of theirs) and the machinery's (plans,
                        // calls) only refresh what is shown.
                        let last = r.audit.iter().map(|e| e.seq).max().unwrap_or(0);
                        if news && let Some(seen) = seen {
                            let me = &self.setup.reviewer;
                            let toasts: Vec<Event> = r
                                .audit
                                .iter()
                                .filter(|e| e.seq > seen)
                                .map(crate::store::live::Change::of)
                                .filter(|c| &c.actor != me && c.is_review())
                                .map(|c| Event::Notice(c.toast()))
                                .collect();
                            after.splice(0..0, toasts);
                        }
                        seen = Some(last);
                        if let Some(g) = self.review.publish(reviews, self.front.review(r)) {
                            (self.sink)(Event::Published(Bulk::Review, g));
                        }
                    }
                    Err(e) => (self.sink)(Event::Error(format!(
                        "reading decisions and the audit log failed: {e:#}"
                    ))),
                }
            }
            for e in after {
                (self.sink)(e);
            }
            self.carried_out
                .fetch_add(asked, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Team mode: hear other sessions' changes as they commit, on a thread of its own, and
    /// hand them to the engine's loop. Nothing for a SQLite store. Whether it listens.
    fn listen(&self, store: &Store) -> bool {
        let listener = match crate::store::live::Listener::open(&self.setup.store, store) {
            Ok(Some(l)) => l,
            Ok(None) => return true,
            Err(e) => {
                (self.sink)(Event::Error(format!(
                    "other reviewers' changes will show only when you reload: cannot listen for them ({e:#})"
                )));
                return false;
            }
        };
        let (me, sink) = (self.me.clone(), self.sink.clone());
        let at = self.setup.store.clone();
        let _ = std::thread::Builder::new()
            .name("recert-listen".into())
            .spawn(move || {
                let mut listener = listener;
                loop {
                    match listener.wait(std::time::Duration::from_millis(500)) {
                        Ok(false) => {}
                        Ok(true) => {
                            if me.send(Msg::Changed).is_err() {
                                return;
                            }
                        }
                        Err(why) => {
                            sink(Event::Error(format!(
                                "{why}: reconnecting; until then other reviewers' changes show when you reload"
                            )));
                            // Try again, waiting longer each time (up to half a minute); once
                            // back, read everything again: changes made meanwhile were missed.
                            let mut pause = std::time::Duration::from_secs(1);
                            listener = loop {
                                std::thread::sleep(pause);
                                if me.send(Msg::Ping).is_err() {
                                    return;
                                }
                                match crate::store::live::Listener::reopen(&at) {
                                    Ok(Some(l)) => break l,
                                    Ok(None) => return,
                                    Err(e) => tracing::warn!(error = %e, "listening again failed"),
                                }
                                pause = (pause * 2).min(std::time::Duration::from_secs(30));
                            };
                            sink(Event::Notice(
                                "listening for other reviewers' changes again".into(),
                            ));
                            if me.send(Msg::Changed).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        true
    }

    /// A store whose database session ended is opened again before the next command (the
    /// command that met the lost connection failed and said so; the review read next shows
    /// what the database holds). A store that could not be opened at all is tried again too.
    ///
    /// Tries are at least `REOPEN_EVERY` apart (a server that is down, or a password that no
    /// longer works, must not be asked again on every keystroke), and each failure is said once
    /// until one succeeds, which is said too.
    fn reopen_if_lost(&self, store: &mut Option<Store>, last: &mut Reopen) -> bool {
        if store.as_ref().is_some_and(|s| !s.connection_lost()) {
            return false;
        }
        if last.tried.is_some_and(|t| t.elapsed() < REOPEN_EVERY) {
            return false;
        }
        last.tried = Some(std::time::Instant::now());
        let was_open = store.is_some();
        match Store::open(&self.setup.store) {
            Ok(s) => {
                *store = Some(s);
                if was_open || last.failed {
                    (self.sink)(Event::Notice(
                        "the database connection was lost and is open again".into(),
                    ));
                }
                last.failed = false;
                true
            }
            Err(e) => {
                if was_open {
                    // The dead session is no use: drop it, and say so once.
                    *store = None;
                }
                if !last.failed {
                    (self.sink)(Event::Error(format!(
                        "the database cannot be reached: {e:#}; recert tries again at your next step, at most every {} s",
                        REOPEN_EVERY.as_secs()
                    )));
                }
                last.failed = true;
                false
            }
        }
    }

    /// Carry out `c`; whether the review read model must be read again.
    fn command(&mut self, store: Option<&mut Store>, c: Command) -> bool {
        let now = (self.setup.clock)();
        let reviewer = self.setup.reviewer.clone();
        let writes = matches!(
            c,
            Command::Record { .. }
                | Command::SetUndone { .. }
                | Command::Campaign(_)
                | Command::Apply { .. }
                | Command::Resume { .. }
        );
        if writes && self.setup.read_only {
            (self.sink)(refused(
                &c,
                "read-only mode (started with --read-only or settings.read_only = true)",
            ));
            return false;
        }
        if writes && store.is_none() {
            (self.sink)(refused(&c, "the store could not be opened"));
            return false;
        }
        if matches!(c, Command::Apply { .. } | Command::Resume { .. })
            && let Some(plan) = *self.running.lock().unwrap_or_else(|e| e.into_inner())
        {
            // One run at a time in this process: a second would send the same calls again.
            (self.sink)(Event::Error(format!(
                "plan #{plan} is being sent: wait for it to finish; nothing else was sent"
            )));
            return false;
        }
        match c {
            Command::Review => true,
            Command::Load { preview } => {
                self.load(preview);
                false
            }
            Command::Sync => {
                self.sync();
                false
            }
            Command::Record { items, snapshot } => {
                let Some(store) = store else { return false };
                match super::decide::record(store, &items, &reviewer, snapshot, now) {
                    Ok(batch) => (self.sink)(Event::Recorded {
                        batch,
                        count: items.len(),
                        verdict: items.first().map(|d| d.verdict).unwrap_or(Verdict::Certify),
                    }),
                    Err(e) => (self.sink)(Event::NotRecorded(e)),
                }
                true
            }
            Command::SetUndone { batch, undone } => {
                let Some(store) = store else { return false };
                if let Err(why) = super::decide::set_undone(store, batch, undone, &reviewer, now) {
                    (self.sink)(Event::NotUndone { batch, undone, why });
                }
                true
            }
            Command::Campaign(act) => {
                let (Some(store), Some(q)) = (store, self.setup.campaign.clone()) else {
                    (self.sink)(Event::Error(
                        "campaign: this console is not on a campaign queue; nothing was changed"
                            .into(),
                    ));
                    return false;
                };
                // A refused act changed nothing: the front end's marks and cursor stay.
                match super::campaign::act(store, &q, act, now) {
                    Ok(text) => {
                        (self.sink)(Event::Acted(text));
                        true
                    }
                    Err(e) => {
                        (self.sink)(Event::Error(e));
                        false
                    }
                }
            }
            Command::Resume { plan } => {
                self.apply(plan);
                false
            }
            Command::Apply {
                steps,
                known,
                snapshot,
            } => {
                let Some(store) = store else { return false };
                match super::apply::store_plan(store, &steps, known, &reviewer, snapshot, now) {
                    Ok(plan) => self.apply(plan),
                    Err(e) => (self.sink)(Event::ApplyDone {
                        ok: false,
                        lines: vec![format!("the plan was NOT stored: {e:#}")],
                    }),
                }
                // The plan and its journal are in the store now.
                true
            }
        }
    }

    /// Judge the latest snapshot on the runtime's blocking pool and publish it (its preview
    /// first when asked); a load that finishes after a newer one is dropped.
    fn load(&mut self, preview: bool) {
        self.loads += 1;
        let request = self.loads;
        let (cfg, dir) = (self.setup.config.clone(), self.setup.store.clone());
        let (front, sink, slot) = (self.front.clone(), self.sink.clone(), self.data.clone());
        let keys = self.setup.keys.clone();
        self.rt.spawn_blocking(move || {
            let answer = Answer {
                sink: sink.clone(),
                event: Some(Event::LoadFailed(
                    "loading the snapshot stopped on an internal error (see the log)".into(),
                )),
            };
            // A newer load already shown: whatever stops this one is not news.
            let answer = Overtakable {
                answer,
                slot: slot.clone(),
                request,
            };
            let early = |p: Preview| {
                if preview && let Some(g) = slot.publish(request, front.preview(p)) {
                    sink(Event::Published(Bulk::Data, g));
                }
            };
            // The admin keys recert runs with are the ones this front end was given.
            let key_for = |s: &SourceConfig| match &keys {
                Some(k) => k(s),
                None => crate::config::resolve_key(s),
            };
            match super::load::latest(&cfg, &dir, &key_for, &early) {
                Ok(j) => {
                    if let Some(g) = slot.publish(request, front.data(j)) {
                        sink(Event::Published(Bulk::Data, g));
                    }
                }
                // A newer load's data is already shown: this failure is not the console's state.
                Err(e) if slot.overtaken(request) => {
                    tracing::warn!("an older load failed after a newer one finished: {e:#}")
                }
                Err(e) => sink(Event::LoadFailed(format!("{e:#}"))),
            }
            answer.disarm();
        });
    }

    fn sync(&mut self) {
        let keys = self.setup.keys.clone();
        let Some(keys) = keys.filter(|_| !self.setup.config.sources.is_empty()) else {
            (self.sink)(Event::SyncDone {
                ok: false,
                lines: vec![
                    "sync: FAILED: no sources configured for this console: add a [[source]] to its config (README: Using it with your own providers), or run `recert demo`".into(),
                ],
            });
            return;
        };
        let (cfg, dir) = (self.setup.config.clone(), self.setup.store.clone());
        let (sink, me) = (self.sink.clone(), self.me.clone());
        let progress = {
            let sink = sink.clone();
            Arc::new(move |now: SyncProgress| sink(Event::SyncProgress(now)))
        };
        let handle = self.rt.handle().clone();
        self.rt.spawn_blocking(move || {
            let answer = Answer {
                sink: sink.clone(),
                event: Some(Event::SyncDone {
                    ok: false,
                    lines: vec!["sync: stopped on an internal error (see the log)".into()],
                }),
            };
            let result = handle.block_on(async {
                let mut store = Store::open(&dir)?;
                let resolve = move |s: &SourceConfig| keys(s);
                crate::sync::sync_with(
                    &cfg,
                    &mut store,
                    &resolve,
                    crate::sync::Progress::Report(progress),
                )
                .await
            });
            match result {
                Ok(r) => {
                    let mut lines = r.lines();
                    match r.snapshot_id {
                        Some(id) => lines.push(format!("sync: stored snapshot #{id}")),
                        None => lines.push("sync: every source FAILED; nothing stored".into()),
                    }
                    sink(Event::SyncDone {
                        ok: r.failed() == 0 && r.snapshot_id.is_some(),
                        lines,
                    });
                    // The old snapshot stays until the new one is judged whole: a preview
                    // would hold only the first findings, and the front end's marks and
                    // cursors would be lost against it.
                    if r.snapshot_id.is_some() {
                        let _ = me.send(Msg::Then(Command::Load { preview: false }));
                    }
                }
                Err(e) => sink(Event::SyncDone {
                    ok: false,
                    lines: vec![format!("sync: FAILED: {e}")],
                }),
            }
            answer.disarm();
        });
    }

    /// Send stored plan `plan` on the runtime, reporting each call; then read the review.
    fn apply(&mut self, plan: i64) {
        let Some(keys) = self.setup.keys.clone() else {
            (self.sink)(Event::ApplyDone {
                ok: false,
                lines: vec![format!(
                    "plan #{plan} is stored but this console has no sources to send it to: `recert apply --resume`"
                )],
            });
            return;
        };
        // Which plan is going out, before its first call answers.
        (self.sink)(Event::ApplyProgress(ApplyProgress {
            plan,
            ..Default::default()
        }));
        let (cfg, dir) = (self.setup.config.clone(), self.setup.store.clone());
        let (sink, me, actor) = (
            self.sink.clone(),
            self.me.clone(),
            self.setup.reviewer.clone(),
        );
        let handle = self.rt.handle().clone();
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(plan);
        let running = self.running.clone();
        self.rt.spawn_blocking(move || {
            // However the run ends (a panic included), the plan is no longer running and the
            // front end hears so, after the review is read again.
            struct Ended {
                running: Arc<Mutex<Option<i64>>>,
                me: Sender<Msg>,
                plan: i64,
                done: Option<Event>,
            }
            impl Drop for Ended {
                fn drop(&mut self) {
                    *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    let done = self.done.take().unwrap_or_else(|| Event::ApplyDone {
                        ok: false,
                        lines: vec![format!(
                            "plan #{} stopped on an internal error (see the log); `recert apply --resume` finishes it",
                            self.plan
                        )],
                    });
                    let _ = self.me.send(Msg::After(done));
                }
            }
            let mut ended = Ended {
                running,
                me: me.clone(),
                plan,
                done: None,
            };
            let run = || -> anyhow::Result<crate::remediate::apply::Outcome> {
                let store = Mutex::new(Store::open(&dir)?);
                let progress = Mutex::new(ApplyProgress {
                    plan,
                    ..Default::default()
                });
                let on_item =
                    |_n: usize, total: usize, row: &JournalRow, st: RowState, _detail: &str| {
                        let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
                        p.total = total;
                        if st == RowState::Done {
                            p.done += 1;
                        } else {
                            p.failed += 1;
                        }
                        p.last = row.line();
                        sink(Event::ApplyProgress(p.clone()));
                    };
                handle.block_on(super::apply::run(
                    &store, &cfg, &*keys, plan, &actor, &on_item,
                ))
            };
            let done = match run() {
                Ok(out) => Event::ApplyDone {
                    ok: out.failed.is_empty(),
                    lines: super::apply::summary(plan, &out),
                },
                Err(e) => Event::ApplyDone {
                    ok: false,
                    // A store that failed mid-run says already what went out and how to
                    // finish; said once.
                    lines: vec![match format!("{e:#}") {
                        e if e.contains("apply --resume") => e,
                        e => format!("plan #{plan} stopped: {e}; `recert apply --resume` finishes it"),
                    }],
                },
            };
            // Said after the review is read again: the journal then shows what the run did.
            ended.done = Some(done);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::Published;

    #[test]
    fn a_value_from_an_older_request_never_replaces_a_newer_one() {
        let p = Published::default();
        assert_eq!(p.latest().0, 0);
        assert!(p.latest().1.is_none());
        // Load 2's preview, then load 1 finishing late, then load 2's whole.
        assert_eq!(p.publish(2, "preview 2"), Some(1));
        assert_eq!(p.publish(1, "whole 1"), None);
        assert_eq!(*p.latest().1.unwrap(), "preview 2");
        assert_eq!(p.publish(2, "whole 2"), Some(2));
        assert_eq!(p.latest(), (2, Some(std::sync::Arc::new("whole 2"))));
        // Load 1 failing now is not reported: load 2's data is what the console shows.
        assert!(p.overtaken(1));
        assert!(!p.overtaken(2), "load 2's own failure would be");
    }
}
