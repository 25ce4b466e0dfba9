//! The console's state and its pure `update`: (state, message) → (state', effects). No I/O, no
//! terminal, an injected clock: every behaviour here is unit-tested. Filtering and sorting are
//! effects the driver runs off the UI thread; the newest request wins and stale results are
//! dropped by generation number.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

use super::data::{Data, Review, ViewId};
use super::keymap::{Action, Keymap, Layer};
use super::query::{self, Query};
use super::table::{Sort, Table};
use crate::engine::Command;
use crate::engine::campaign::Act;
use crate::review::{NewDecision, Target, Verdict};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Filter,
    Command,
    Prompt,
    Picker,
    Help,
    Log,
    /// The selected row's whole detail, over the screen, scrolling (the pane beside the table
    /// shows what fits).
    Detail,
    /// A plan is shown; applying it needs a confirmation.
    Confirm,
}

/// What a confirmation is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Send a plan's provider calls, planned when the store's newest plan was `known`: a call
    /// a later plan (another console, another process) made is then "already done" when this
    /// one is stored, never sent twice. Taken with the preview, not when it is confirmed: by
    /// then the review may have reloaded with the other plan in it.
    Apply { known: i64 },
    /// Submit these staged campaign items as one batch.
    Submit(Vec<i64>),
    /// Sign off the reviewer's campaign queue.
    SignOff,
    /// Send the calls of this stored plan that are not done.
    Resume(i64),
}

/// A plan (or a campaign batch) waiting for confirmation before anything is sent or recorded.
#[derive(Clone, Debug)]
pub struct Confirm {
    pub purpose: Purpose,
    /// For a submit or sign-off: what it holds, shown instead of the steps.
    pub summary: Vec<String>,
    pub steps: Vec<crate::remediate::PlannedStep>,
    pub calls: usize,
    /// Above the threshold the number of calls must be typed; below it, `y`.
    pub typed: String,
    pub need_typing: bool,
}

/// An apply running in the background.
pub type Applying = crate::engine::session::ApplyProgress;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// One source's progress during an in-console sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceProgress {
    pub source: String,
    pub requests: u64,
    /// `None` while running; then ok or the error.
    pub done: Option<Result<u64, String>>,
}

#[derive(Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// The table's height in rows changed (the driver reports it after a resize).
    Resize {
        rows: usize,
        /// The table's width with its borders (0: not known, as in tests of the state alone).
        width: u16,
    },
    /// The clock, in milliseconds (toasts expire by it).
    Tick {
        now_ms: u64,
    },
    /// A filter/sort job finished.
    Refined {
        view: ViewId,
        ticket: u64,
        visible: Arc<Vec<u32>>,
        /// What a relocation found again (cursor, marks) in the new table.
        found: Option<Found>,
        /// The decisions a `decision:` filter was judged with (the worker's scan): kept with
        /// the applied query, so `*` marks what the filter showed.
        decided: Option<query::Decisions>,
    },
    /// The worker could not finish the filter/sort job `ticket` of `view` (a bug, caught).
    RefineFailed {
        view: ViewId,
        ticket: u64,
    },
    /// A new snapshot's data (first load, or after `:sync`).
    Data(Arc<Data>),
    /// Loading the snapshot failed (why); whatever is shown stays.
    LoadFailed(String),
    /// The decisions and audit log changed in the store.
    Review(Arc<Review>),
    Recorded {
        batch: i64,
        count: usize,
        verdict: Verdict,
    },
    /// A decision the engine could not record (why).
    NotRecorded(String),
    /// An undo (or redo) of `batch` the engine refused (why): it stands as it was.
    NotUndone {
        batch: i64,
        undone: bool,
        why: String,
    },
    SyncProgress(Vec<SourceProgress>),
    SyncDone {
        ok: bool,
        lines: Vec<String>,
    },
    /// An apply started (plan id) or progressed.
    ApplyProgress(Applying),
    ApplyDone {
        ok: bool,
        lines: Vec<String>,
    },
    Error(String),
    /// Something worked; say so.
    Notice(String),
    /// The reviewer's act on the campaign queue was carried out (what to say): the queue's
    /// marks are used up, as a recorded decision uses up its view's.
    Acted(String),
}

/// A filter/sort job: sort and filter `table` for `view`, answered by [`Refine::answer`] with
/// `Msg::Refined` carrying `ticket`, on the filter worker or (small tables) at once.
#[derive(Clone)]
pub struct Refine {
    pub view: ViewId,
    pub ticket: u64,
    pub table: Arc<Table>,
    pub query: Query,
    pub sort: Option<Sort>,
    /// For `decision:` terms: what the worker finds the decided rows in.
    pub decided: Option<Decided>,
    /// After a new snapshot: what the worker finds again (cursor, marks).
    pub relocate: Option<Relocate>,
}

impl Refine {
    /// The job's answer: the rows of its table matching its query, in its sort order (from
    /// `order`, which the worker keeps cached per table and sort), and what a relocation
    /// found again. The one way a filter is answered, wherever it runs.
    pub fn answer(&self, order: impl FnOnce(&Arc<Table>, Option<Sort>) -> Arc<Vec<u32>>) -> Msg {
        let mut q = self.query.clone();
        if let Some(d) = &self.decided {
            d.fill(&self.table, &mut q);
        }
        let order = order(&self.table, self.sort);
        let visible = if q.is_empty() {
            order
        } else {
            Arc::new(query::filter(&self.table, &order, &q))
        };
        Msg::Refined {
            view: self.view,
            ticket: self.ticket,
            visible,
            found: self
                .relocate
                .as_ref()
                .map(|r| r.find(self.view, &self.table)),
            decided: q.decided,
        }
    }
}

/// What the driver must do after an update.
#[derive(Clone)]
pub enum Effect {
    Quit,
    /// Sort and filter a table: the worker answers with `Msg::Refined`.
    Refine(Refine),
    /// Put this text on the terminal's clipboard (OSC 52).
    Copy(String),
    /// Ask the engine (store, providers, loading): its answers come back as messages.
    Engine(Command),
}

impl Effect {
    /// A filter job answered here, as the worker answers it (without its cache of sorted
    /// orders); `None` for any other effect.
    pub fn answer_here(&self) -> Option<Msg> {
        let Effect::Refine(job) = self else {
            return None;
        };
        Some(job.answer(|t, sort| Arc::new(super::table::order(t, sort))))
    }
}

impl std::fmt::Debug for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Effect::Quit => write!(f, "Quit"),
            Effect::Refine(j) => write!(f, "Refine({:?}, {})", j.view, j.ticket),
            Effect::Copy(_) => write!(f, "Copy"),
            Effect::Engine(c) => write!(f, "Engine({c:?})"),
        }
    }
}

impl PartialEq for Effect {
    fn eq(&self, other: &Effect) -> bool {
        match (self, other) {
            (Effect::Quit, Effect::Quit) => true,
            (Effect::Copy(a), Effect::Copy(b)) => a == b,
            (Effect::Engine(a), Effect::Engine(b)) => a == b,
            _ => false,
        }
    }
}

/// "Everything matching the filter": the query plus exclusions, never a million ids.
#[derive(Clone, Debug, Default)]
pub struct AllMatching {
    pub query: Query,
    pub count: usize,
    pub excluded: HashSet<u32>,
}

/// Marked rows, by row id (stable for a snapshot), never by position.
#[derive(Clone, Debug, Default)]
pub struct Marks {
    pub ids: HashSet<u32>,
    pub all: Option<AllMatching>,
}

impl Marks {
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }
    pub fn count(&self) -> usize {
        self.ids.len()
            + self
                .all
                .as_ref()
                .map(|a| a.count.saturating_sub(a.excluded.len()))
                .unwrap_or(0)
    }
    pub fn contains(&self, table: &Table, id: u32) -> bool {
        if self.ids.contains(&id) {
            return true;
        }
        match &self.all {
            Some(a) => {
                !a.excluded.contains(&id)
                    && table
                        .rows
                        .get(id as usize)
                        .is_some_and(|r| query::matches(&a.query, r))
            }
            None => false,
        }
    }
    fn in_all(&self, table: &Table, id: u32) -> bool {
        self.all.as_ref().is_some_and(|a| {
            table
                .rows
                .get(id as usize)
                .is_some_and(|r| query::matches(&a.query, r))
        })
    }
    fn set(&mut self, table: &Table, id: u32, on: bool) {
        if self.in_all(table, id) {
            let a = self.all.as_mut().expect("in_all");
            if on {
                a.excluded.remove(&id);
            } else {
                a.excluded.insert(id);
            }
        } else if on {
            self.ids.insert(id);
        } else {
            self.ids.remove(&id);
        }
    }
    fn toggle(&mut self, table: &Table, id: u32) {
        let on = !self.contains(table, id);
        self.set(table, id, on);
    }
    /// Every marked row id, in table order.
    pub fn materialise(&self, table: &Table) -> Vec<u32> {
        match &self.all {
            None => {
                let mut v: Vec<u32> = self.ids.iter().copied().collect();
                v.sort_unstable();
                v
            }
            Some(_) => (0..table.rows.len() as u32)
                .filter(|&i| self.contains(table, i))
                .collect(),
        }
    }
}

/// One table view's own state: its filter, sort, cursor and marks survive switching views.
#[derive(Clone, Debug, Default)]
pub struct ViewState {
    pub table: Arc<Table>,
    /// Row ids passing the filter, in display order.
    pub visible: Arc<Vec<u32>>,
    pub cursor: usize,
    pub offset: usize,
    /// The filter as typed.
    pub filter: String,
    /// The query whose result `visible` holds.
    pub applied: Query,
    /// The filter/sort job that is out: its ticket, and its query (applied when its result
    /// lands). One field, so a ticket never waits without its query or the other way round.
    requested: Option<(u64, Query)>,
    /// Why the typed filter could not be used (the last good result stays).
    pub error: Option<String>,
    pub sort: Option<Sort>,
    pub marks: Marks,
    /// Where a `v` range started (a row id).
    pub anchor: Option<u32>,
    /// The row id under the cursor before a refine, to stay on it.
    keep: Option<u32>,
    /// Where the cursor was when that row is gone (a finding a reassign settled): the row
    /// that took its place is next.
    keep_at: Option<usize>,
    /// Columns scrolled off to the left (`h`/`l`) when they do not all fit; the first column
    /// and the sorted one stay.
    pub hscroll: usize,
    /// A new snapshot's search for the cursor's object and the marks, until the worker answers.
    pub relocate: Option<Relocate>,
    /// How many rows were marked before that snapshot (for the "marks kept" notice).
    pub marks_had: usize,
}

impl ViewState {
    /// The row id under the cursor, if it is a row of the table now shown.
    pub fn current(&self) -> Option<u32> {
        self.visible
            .get(self.cursor)
            .copied()
            .filter(|id| (*id as usize) < self.table.rows.len())
    }

    /// The row `id` of the table now shown (`None` for an id from an older table).
    pub fn row(&self, id: u32) -> Option<&crate::tui::table::Row> {
        self.table.rows.get(id as usize)
    }

    /// Place the cursor once new rows are in: on the row it was on when that row is still
    /// visible; when it is gone, on the row that took its place.
    fn settle(&mut self, page: usize) {
        self.cursor = self
            .keep
            .and_then(|id| self.visible.iter().position(|&x| x == id))
            .or(self
                .keep_at
                .map(|at| at.min(self.visible.len().saturating_sub(1))))
            .unwrap_or(0);
        self.keep = None;
        self.keep_at = None;
        scroll(self, page);
    }

    /// Whether a filter/sort job is out: the rows shown are the last answer's.
    pub fn updating(&self) -> bool {
        self.requested.is_some()
    }

    /// Show a new table. `visible` and any filter job still out were computed for the old
    /// one, so both are dropped (the row under the cursor is remembered, to return to it):
    /// no row id of one table is ever looked up in another.
    fn set_table(&mut self, table: Arc<Table>) {
        if Arc::ptr_eq(&self.table, &table) {
            return;
        }
        self.keep = self.current().or(self.keep);
        self.table = table;
        self.visible = Arc::new(Vec::new());
        self.requested = None;
        self.anchor = None;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    Until,
    Justification,
}

/// A decision being made: what it covers and what has been asked so far.
#[derive(Clone, Debug)]
pub struct Pending {
    pub verdict: Verdict,
    pub items: Vec<(Target, String, Option<String>)>,
    pub owner: Option<String>,
    pub until: Option<String>,
    /// Rows the verdict does not apply to (a reassign on something without an owner).
    pub skipped: usize,
    /// Why this owner: the evidence behind a suggested one, shown in the prompt.
    pub why: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Prompt {
    pub kind: PromptKind,
    pub title: String,
    pub input: String,
    pub error: Option<String>,
    pub danger: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Picker {
    pub choices: Arc<Vec<super::data::Choice>>,
    pub input: String,
    /// Indices into `choices`, best first (at most 200).
    pub matches: Vec<usize>,
    pub cursor: usize,
}

/// How many filters `Up` in the filter bar can recall.
const HISTORY: usize = 100;

/// The command palette's commands: name, what it does.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "dash",
        "Dashboard: findings by rule, severity, provider; key ages; sources; decisions",
    ),
    ("gaps", "Every gap found, by severity"),
    (
        "people",
        "One row per directory person, with their holdings",
    ),
    (
        "keys",
        "Every key on every provider: owner, age, last use, spend, status",
    ),
    (
        "resources",
        "Projects, workspaces, groups and roles with member counts",
    ),
    (
        "decisions",
        "Decisions standing, with the calls they will produce",
    ),
    ("audit", "The hash-chained audit log"),
    ("sync", "Pull every source again, in the background"),
    (
        "apply",
        "Show the plan for the standing revokes, confirm, send it",
    ),
    (
        "leak",
        "leak HINT: find a key by id, redacted value or the whole key; stage its revoke",
    ),
    (
        "sweep",
        "sweep EMAIL: stage revoking everything one person holds",
    ),
    (
        "queue",
        "Campaign: your review queue (recert review --campaign)",
    ),
    (
        "group",
        "group person|resource: group the campaign queue by person or by resource",
    ),
    (
        "submit",
        "Campaign: show your staged decisions, confirm, record them",
    ),
    (
        "signoff",
        "Campaign: sign off your queue; locks your decisions",
    ),
    (
        "delegate",
        "delegate EMAIL REASON: hand the marked items to another reviewer",
    ),
    ("log", "Errors and sync reports in full"),
    ("sort", "sort COLUMN [desc]: sort the view by a column"),
    ("help", "Keys and the filter syntax"),
    ("quit", "Leave recert"),
];

/// The whole console.
/// One step of a drill-in (`Enter`), undone by `Esc`: the view it left, and the filter the
/// view it opened had before.
#[derive(Clone, Debug)]
pub struct Crumb {
    pub from: ViewId,
    pub to: ViewId,
    pub to_filter: String,
    /// What was opened (an email, a key id): for the breadcrumb.
    pub what: String,
}

pub struct State {
    /// The campaign items staged last in this session: what `u` un-stages when the cursor is
    /// not on a staged row.
    pub staged_last: Vec<i64>,
    /// The table's width (`Msg::Resize`), for scrolling columns only as far as is useful.
    pub table_width: u16,
    /// The drill-ins (`Enter`) taken, oldest first; `Esc` walks back, a view key forgets them.
    pub crumbs: Vec<Crumb>,
    /// Filters kept with `Enter`, oldest first (at most `HISTORY`), for `Up`/`Down` in the
    /// filter bar; where browsing is, and what was typed before it started.
    pub filter_history: Vec<String>,
    history_at: Option<usize>,
    history_draft: String,
    /// `/` opened on a kept filter: it is shown selected, and the first key typed replaces it
    /// (Backspace deletes it; `→`/`End` keep it for editing).
    pub filter_selected: bool,
    pub data: Arc<Data>,
    pub review: Arc<Review>,
    pub view: ViewId,
    pub views: Vec<ViewState>,
    pub mode: Mode,
    pub keymap: Keymap,
    /// The header's description of the data (snapshot, time, sources).
    pub context: String,
    pub read_only: bool,
    pub justification_required: bool,
    /// Rows the table can show (kept current by the driver).
    pub page: usize,
    pub now_ms: u64,
    /// Today, for deferral dates.
    pub today: chrono::NaiveDate,
    pub toast: Option<(String, Level, u64)>,
    pub log: Vec<String>,
    pub help_scroll: usize,
    /// How far the open overlay (help, log, `z`) can scroll: its lines as last drawn, less
    /// the rows it shows. The view sets it as it draws (the wrapped height depends on the
    /// terminal), so `j` stops at the last line instead of scrolling on into blank rows.
    /// Unbounded until something has been drawn.
    pub scroll_max: std::cell::Cell<usize>,
    pub input: String,
    pub palette_cursor: usize,
    pub pending: Option<Pending>,
    pub prompt: Option<Prompt>,
    pub picker: Option<Picker>,
    pub undo: Vec<i64>,
    pub redo: Vec<i64>,
    /// Decisions sent to the engine and not yet answered (recorded or refused).
    pub recording: usize,
    /// Records sent to the engine so far, and answered so far (the engine answers in order).
    records_sent: u64,
    records_answered: u64,
    /// The view each record in flight was made in: its marks are cleared when it is recorded.
    record_views: std::collections::VecDeque<ViewId>,
    /// `u` pressed while decisions were on their way: for each, the record it means (the
    /// newest sent when it was pressed), undone as soon as that one is recorded.
    pub undo_waiting: Vec<u64>,
    /// Per batch recorded this session: how many decisions it holds.
    batch_sizes: HashMap<i64, (usize, Verdict)>,
    /// `q` was pressed once while an apply or sync ran: a `q` (or `:q`) before this time (ms)
    /// quits.
    pub quit_armed: Option<u64>,
    pub sync: Option<Vec<SourceProgress>>,
    pub confirm: Option<Confirm>,
    pub applying: Option<Applying>,
    /// Plans above this many calls ask for the number to be typed.
    pub confirm_threshold: usize,
    /// Waiting for the first data.
    pub loading: bool,
    /// Opened on a campaign queue (`recert review --campaign`).
    pub campaign: bool,
    ticket: u64,
}

const TOAST_MS: u64 = 6000;

impl State {
    /// A console with no data yet; `today` dates the campaign burndown (the state never
    /// reads the clock).
    pub fn new(keymap: Keymap, context: String, today: chrono::NaiveDate) -> State {
        State {
            staged_last: Vec::new(),
            table_width: 0,
            crumbs: Vec::new(),
            filter_history: Vec::new(),
            history_at: None,
            history_draft: String::new(),
            filter_selected: false,
            data: Arc::new(Data::default()),
            review: Arc::new(Review::default()),
            view: ViewId::Gaps,
            // Every view in `ALL`, then the campaign queue.
            views: (0..=ViewId::ALL.len())
                .map(|_| ViewState::default())
                .collect(),
            mode: Mode::Normal,
            keymap,
            context,
            read_only: false,
            justification_required: true,
            page: 10,
            now_ms: 0,
            today,
            toast: None,
            log: Vec::new(),
            help_scroll: 0,
            scroll_max: std::cell::Cell::new(usize::MAX),
            input: String::new(),
            palette_cursor: 0,
            pending: None,
            prompt: None,
            picker: None,
            undo: Vec::new(),
            redo: Vec::new(),
            recording: 0,
            records_sent: 0,
            records_answered: 0,
            record_views: Default::default(),
            undo_waiting: Vec::new(),
            batch_sizes: HashMap::new(),
            quit_armed: None,
            sync: None,
            confirm: None,
            applying: None,
            confirm_threshold: 25,
            loading: true,
            campaign: false,
            ticket: 0,
        }
    }

    pub fn vs(&self) -> &ViewState {
        &self.views[self.view.index()]
    }
    fn vs_mut(&mut self) -> &mut ViewState {
        let i = self.view.index();
        &mut self.views[i]
    }
    pub fn view_state(&self, v: ViewId) -> &ViewState {
        &self.views[v.index()]
    }

    /// The row id under the cursor.
    pub fn current(&self) -> Option<u32> {
        self.vs().current()
    }

    fn layer(&self) -> Layer {
        match self.mode {
            Mode::Normal => Layer::Normal,
            Mode::Filter => Layer::Filter,
            Mode::Command => Layer::Command,
            Mode::Prompt => Layer::Prompt,
            Mode::Picker => Layer::Picker,
            Mode::Help | Mode::Log | Mode::Detail => Layer::Help,
            Mode::Confirm => Layer::Prompt,
        }
    }

    /// Who the console decides as: when nobody said (no `settings.reviewer`,
    /// `RECERT_REVIEWER` or `$USER`), a warning that every decision and audit entry would
    /// name `unknown-reviewer`, and how to say who (not in a read-only console: it decides
    /// nothing).
    pub fn acting_as(&mut self, reviewer: &str) {
        if reviewer == crate::review::UNKNOWN_REVIEWER && !self.read_only {
            self.notify(
                "Deciding as unknown-reviewer: set RECERT_REVIEWER or settings.reviewer",
                Level::Warn,
            );
        }
    }

    pub fn notify(&mut self, text: impl Into<String>, level: Level) {
        let text = text.into();
        if level != Level::Info {
            self.log.push(text.clone());
        }
        self.toast = Some((text, level, self.now_ms + TOAST_MS));
    }

    fn table_for(&self, v: ViewId) -> Arc<Table> {
        match v {
            ViewId::Decisions | ViewId::Audit | ViewId::Queue => {
                self.review.tables.get(&v).cloned().unwrap_or_default()
            }
            _ => self.data.table(v),
        }
    }

    /// Ask for `view` to be sorted and filtered again with its current filter and sort.
    fn refine(&mut self, view: ViewId) -> Vec<Effect> {
        let i = view.index();
        let table = self.views[i].table.clone();
        let decidable = view.decidable();
        let parsed = query::parse(&self.views[i].filter, &table.columns).and_then(|q| {
            if q.asks_decisions() && !decidable {
                Err("decision: works in Gaps, Keys, Resources and the campaign queue".to_string())
            } else {
                Ok(q)
            }
        });
        let mut q = match parsed {
            Ok(q) => {
                self.views[i].error = None;
                q
            }
            Err(e) => {
                // Keep the last good result on screen and say what is wrong. A new table
                // (new data, a reload) has no result yet: the last good query is run on it,
                // as the status line says ("showing /age"), never a blank view.
                let vs = &mut self.views[i];
                vs.error = Some(e);
                if !vs.visible.is_empty() || vs.updating() || vs.table.rows.is_empty() {
                    return Vec::new();
                }
                vs.applied.clone()
            }
        };
        q.decided = None;
        self.ticket += 1;
        let ticket = self.ticket;
        let vs = &mut self.views[i];
        vs.keep = vs.current().or(vs.keep);
        // Decisions and Audit list the newest first: off screen, a cursor on the top row
        // follows the top, as a log does, so a visit opens on the newest entry (it stayed on
        // the row it was on: after three decisions a first visit opened on the oldest, 3/3).
        // On screen it stays put: another reviewer's entry never moves a reader's cursor.
        if matches!(view, ViewId::Decisions | ViewId::Audit)
            && view != self.view
            && vs.sort.is_none()
            && vs.cursor == 0
        {
            vs.keep = None;
            vs.keep_at = None;
        }
        vs.requested = Some((ticket, q.clone()));
        // Which rows are decided is a scan of the whole table: the worker does it, with the
        // data and decisions as they are now.
        let decided = q.asks_decisions().then(|| Decided {
            data: self.data.clone(),
            review: self.review.clone(),
            view,
        });
        vec![Effect::Refine(Refine {
            view,
            ticket,
            table,
            query: q,
            sort: vs.sort,
            decided,
            relocate: vs.relocate.clone(),
        })]
    }

    fn move_to(&mut self, cursor: usize) {
        let page = self.page.max(1);
        let vs = self.vs_mut();
        vs.cursor = cursor.min(vs.visible.len().saturating_sub(1));
        scroll(vs, page);
    }

    fn switch(&mut self, v: ViewId) -> Vec<Effect> {
        self.view = v;
        self.mode = Mode::Normal;
        self.crumbs.clear();
        Vec::new()
    }

    /// `Enter`: open what the row is about (`Data::drill`), remembering the way back.
    fn drill(&mut self) -> Vec<Effect> {
        use super::data::Drill;
        let Some(row) = self.current().and_then(|id| self.vs().row(id)) else {
            return Vec::new();
        };
        let Some(drill) = self.data.drill(self.view, row.item) else {
            self.notify("Nothing to open from this row", Level::Info);
            return Vec::new();
        };
        let (to, what) = match &drill {
            Drill::Row { view, what, .. } | Drill::Filter { view, what, .. } => {
                (*view, what.clone())
            }
        };
        let from = self.view;
        let to_filter = self.views[to.index()].filter.clone();
        self.crumbs.push(Crumb {
            from,
            to,
            to_filter,
            what,
        });
        self.view = to;
        self.mode = Mode::Normal;
        let back = self.keymap.key_for(Layer::Normal, Action::ClearFilter);
        let what = self
            .crumbs
            .last()
            .map(|c| c.what.clone())
            .unwrap_or_default();
        self.notify(
            format!("{}: {what} ({back} goes back)", to.title()),
            Level::Info,
        );
        match drill {
            Drill::Row { item, .. } => {
                let vs = self.vs_mut();
                let id = vs
                    .table
                    .rows
                    .iter()
                    .position(|r| r.item == item)
                    .map(|r| r as u32);
                vs.filter.clear();
                let out = self.refine(to);
                // The cursor lands on the row when the refined rows arrive.
                self.vs_mut().keep = id;
                out
            }
            Drill::Filter { filter, .. } => {
                self.vs_mut().filter = filter;
                self.refine(to)
            }
        }
    }

    /// The columns as the table shows them now (the view fits them the same way), once the
    /// table's width is known.
    fn column_fit(&self) -> Option<super::table::Fit> {
        if self.table_width == 0 {
            return None;
        }
        let vs = self.vs();
        let end = (vs.offset + self.page).min(vs.visible.len());
        let page: Vec<&super::table::Row> = vs.visible[vs.offset.min(end)..end]
            .iter()
            .filter_map(|&id| vs.row(id))
            .collect();
        let natural = super::table::natural_widths(&vs.table.columns, &page);
        Some(super::table::fit_columns(
            &vs.table.columns,
            &natural,
            self.table_width,
            vs.hscroll,
            vs.sort.map(|s| s.col),
        ))
    }

    /// `Up` (`older`) / `Down` in the filter bar: an earlier filter, as a shell recalls
    /// commands; `Down` past the newest gives back what was typed before.
    fn recall(&mut self, older: bool) -> Vec<Effect> {
        let n = self.filter_history.len();
        let at = match (self.history_at, older) {
            (_, true) if n == 0 => return Vec::new(),
            (None, true) => {
                self.history_draft = self.vs().filter.clone();
                Some(n - 1)
            }
            (Some(i), true) => Some(i.saturating_sub(1)),
            (None, false) => return Vec::new(),
            (Some(i), false) if i + 1 < n => Some(i + 1),
            (Some(_), false) => None,
        };
        self.history_at = at;
        let text = match at {
            Some(i) => self.filter_history[i].clone(),
            None => std::mem::take(&mut self.history_draft),
        };
        self.vs_mut().filter = text;
        let v = self.view;
        self.refine(v)
    }

    /// `Tab` in the `:` bar: the command name while it is the only word, then its argument:
    /// a column of this view for `:sort`, a current directory person's email for `:delegate`
    /// and `:sweep`, `person`/`resource` for `:group`. One match completes; several complete to
    /// what they share and are listed; the input is never wiped.
    fn complete(&mut self) {
        let ends_with_space = self.input.ends_with(' ');
        let words: Vec<&str> = self.input.split_whitespace().collect();
        if words.len() <= 1 && !ends_with_space {
            if let Some(c) = self.palette_matches().get(self.palette_cursor) {
                self.input = format!("{c} ");
                self.palette_cursor = 0;
            }
            return;
        }
        let command = words[0];
        // The argument being typed: the last word, or a new one after a space.
        let (done, word) = if ends_with_space {
            (words.len(), "")
        } else {
            (words.len() - 1, words[words.len() - 1])
        };
        // Only the first argument is completed (`:delegate EMAIL REASON...`).
        if done != 1 {
            return;
        }
        let pool: Vec<String> = match command {
            "sort" => self
                .vs()
                .table
                .columns
                .iter()
                .map(|c| c.name.to_string())
                .collect(),
            "delegate" | "sweep" => self
                .data
                .people_choices()
                .into_iter()
                .map(|c| c.email)
                .collect(),
            "group" => vec!["person".into(), "resource".into()],
            _ => return,
        };
        let lower = word.to_lowercase();
        let hits: Vec<&String> = pool
            .iter()
            .filter(|c| c.to_lowercase().starts_with(&lower))
            .collect();
        let prefix = words[..done].join(" ");
        match hits.as_slice() {
            [] => self.notify(format!("Nothing to complete for '{word}'"), Level::Info),
            [one] => self.input = format!("{prefix} {one} "),
            many => {
                let mut common = many[0].clone();
                for h in &many[1..] {
                    let n = common
                        .chars()
                        .zip(h.chars())
                        .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
                        .count();
                    common = common.chars().take(n).collect();
                }
                if common.chars().count() > word.chars().count() {
                    self.input = format!("{prefix} {common}");
                }
                let shown: Vec<&str> = many.iter().take(5).map(|s| s.as_str()).collect();
                let more = many.len().saturating_sub(5);
                let tail = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                self.notify(
                    format!(
                        "{} match: {}{tail}",
                        crate::model::text::plural(many.len(), "completion"),
                        shown.join(", ")
                    ),
                    Level::Info,
                );
            }
        }
    }

    /// `Esc` after a drill-in: back to the view it left, the opened view's filter as it was.
    fn back(&mut self) -> Option<Vec<Effect>> {
        let c = self.crumbs.pop()?;
        self.views[c.to.index()].filter = c.to_filter;
        let out = self.refine(c.to);
        self.view = c.from;
        self.mode = Mode::Normal;
        Some(out)
    }

    /// After a decision on the row under the cursor (no marks), go on to the next row below
    /// that is still open (undecided and unstaged), as lazygit moves on after an action.
    fn advance_to_next_open(&mut self) {
        let vs = self.vs();
        if !vs.marks.is_empty() {
            return;
        }
        let open = |id: u32| -> bool {
            let Some(row) = vs.row(id) else {
                return false;
            };
            if self.view == ViewId::Queue {
                return self
                    .review
                    .queue
                    .as_ref()
                    .and_then(|q| q.items.get(row.item as usize))
                    .is_some_and(|i| !i.decided() && i.staged.is_none());
            }
            self.data
                .target(self.view, row.item)
                .is_some_and(|(t, _, _)| self.review.verdict(&t).is_none())
        };
        let start = vs.cursor + 1;
        let next = vs
            .visible
            .get(start..)
            .and_then(|rest| rest.iter().position(|&id| open(id)))
            .map(|p| start + p);
        if let Some(n) = next {
            let page = self.page.max(1);
            let vs = self.vs_mut();
            vs.cursor = n;
            scroll(vs, page);
        }
    }

    /// After `u`: the cursor back on the nearest row of this view that batch `b` decided (the
    /// decision had moved it on). Looks behind the cursor first, where a decision leaves it,
    /// and no further than a few thousand rows either way (the UI thread does not scan a
    /// million rows for it); no such row shown, the cursor stays.
    fn cursor_to_batch(&mut self, b: i64) {
        const REACH: usize = 4096;
        if !self.view.decidable() {
            return;
        }
        let targets: HashSet<&Target> = self
            .review
            .decisions
            .iter()
            .filter(|d| d.batch == b)
            .map(|d| &d.d.target)
            .collect();
        let vs = self.vs();
        let hit = |at: usize| {
            let row = vs.visible.get(at).and_then(|&id| vs.row(id))?;
            let (t, _, _) = self.data.target(self.view, row.item)?;
            targets.contains(&t).then_some(at)
        };
        let cur = vs.cursor;
        let found = (cur.saturating_sub(REACH)..=cur)
            .rev()
            .chain(cur + 1..(cur + REACH).min(vs.visible.len()))
            .find_map(hit);
        if let Some(at) = found {
            let page = self.page.max(1);
            let vs = self.vs_mut();
            vs.cursor = at;
            scroll(vs, page);
        }
    }

    /// What `y` copies: the id of the object the row is about (a key, an account, a
    /// membership), else the row's first cell (an email in People, a sequence in Audit).
    fn selected_id(&self) -> Option<String> {
        let vs = self.vs();
        let row = vs.row(vs.current()?)?;
        if self.view == ViewId::Queue {
            let q = self.review.queue.as_ref()?;
            return Some(q.items.get(row.item as usize)?.item.target.id.clone());
        }
        if self.view.decidable()
            && let Some((t, _, _)) = self.data.target(self.view, row.item)
        {
            return Some(t.id);
        }
        (!row.is_empty()).then(|| row.cell(0).to_string())
    }

    /// `u` in the campaign queue: un-stage the marked rows, or the row under the cursor.
    /// `u` in the queue: un-stage the marked rows or the row under the cursor; with nothing
    /// staged there (the staged row left a `decision:none` filter, the cursor moved on), the
    /// last staging of this session, if it still stands.
    fn unstage(&mut self) -> Vec<Effect> {
        let mut seqs: Vec<i64> = self
            .queue_selection()
            .iter()
            .filter(|i| i.staged.is_some())
            .map(|i| i.item.seq)
            .collect();
        if seqs.is_empty()
            && let Some(q) = &self.review.queue
        {
            let last = std::mem::take(&mut self.staged_last);
            seqs = q
                .items
                .iter()
                .filter(|i| !i.decided() && i.staged.is_some() && last.contains(&i.item.seq))
                .map(|i| i.item.seq)
                .collect();
        }
        if seqs.is_empty() {
            self.notify(
                "Nothing staged here to undo (submitted decisions are recorded; the campaign owner can cancel the campaign)",
                Level::Info,
            );
            return Vec::new();
        }
        vec![Effect::Engine(Command::Campaign(Act::Unstage(seqs)))]
    }

    fn targets(&self) -> Vec<(Target, String, Option<String>)> {
        let vs = self.vs();
        let ids = if vs.marks.is_empty() {
            vs.current().into_iter().collect()
        } else {
            vs.marks.materialise(&vs.table)
        };
        ids.into_iter()
            .filter_map(|id| {
                let item = vs.table.rows.get(id as usize)?.item;
                if self.view == ViewId::Queue {
                    let ci = self.review.queue.as_ref()?.items.get(item as usize)?;
                    return Some((
                        ci.item.target.clone(),
                        ci.item.label.clone(),
                        Some("scim-uncovered-grant".to_string()),
                    ));
                }
                self.data.target(self.view, item)
            })
            .collect()
    }

    /// The campaign items under the cursor or marked, undecided ones only.
    fn queue_items(&self) -> Vec<i64> {
        self.queue_selection()
            .iter()
            .map(|ci| ci.item.seq)
            .collect()
    }

    /// Whether `view`'s rows are being updated, saying so: a filter (or a new table) asked of
    /// the worker and not answered yet. The rows on screen are the last answer's, not the ones
    /// asked for, so nothing is marked, decided or delegated on them.
    fn rows_updating(&mut self, view: ViewId) -> bool {
        let updating = self.view_state(view).updating();
        if updating {
            self.notify(
                "Rows still updating (filter or new data): press again when they are in",
                Level::Info,
            );
        }
        updating
    }

    /// The undecided campaign items marked in the queue, or the one under the cursor.
    fn queue_selection(&self) -> Vec<&crate::review::campaign::CampaignItem> {
        let Some(q) = &self.review.queue else {
            return Vec::new();
        };
        let vs = self.view_state(ViewId::Queue);
        let ids = if vs.marks.is_empty() {
            vs.current().into_iter().collect()
        } else {
            vs.marks.materialise(&vs.table)
        };
        ids.into_iter()
            .filter_map(|id| q.items.get(vs.row(id)?.item as usize))
            .filter(|ci| !ci.decided())
            .collect()
    }

    /// Why the campaign queue cannot change now, if it cannot.
    fn queue_locked(&self) -> Option<&'static str> {
        let q = self.review.queue.as_ref()?;
        if q.closed {
            Some("The campaign is closed: its decisions are final")
        } else if q.signed_off {
            Some("You have signed off this queue: your decisions are locked")
        } else {
            None
        }
    }

    /// `:submit`: what the staged batch holds, to confirm.
    fn plan_submit(&mut self) -> Vec<Effect> {
        if self.refuse_read_only("submitting") {
            return Vec::new();
        }
        if let Some(why) = self.queue_locked() {
            self.notify(why, Level::Warn);
            return Vec::new();
        }
        let Some(q) = &self.review.queue else {
            self.notify(
                "Not in a campaign: open one with `recert review --campaign NAME`",
                Level::Warn,
            );
            return Vec::new();
        };
        let staged: Vec<&crate::review::campaign::CampaignItem> = q
            .items
            .iter()
            .filter(|i| !i.decided() && i.staged.is_some())
            .collect();
        if staged.is_empty() {
            self.notify(
                "Nothing staged: decide items first (c r o d), then :submit",
                Level::Info,
            );
            return Vec::new();
        }
        let mut verdicts: std::collections::BTreeMap<&str, usize> = Default::default();
        for i in &staged {
            if let Some(st) = &i.staged {
                *verdicts.entry(st.verdict.as_str()).or_default() += 1;
            }
        }
        let carried = staged.iter().filter(|i| i.item.carried.is_some()).count();
        let mut summary = vec![format!(
            "{} in campaign {}: {}{}",
            crate::model::text::plural(staged.len(), "decision"),
            q.campaign,
            verdicts
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            if carried > 0 {
                format!(" ({carried} carried forward)")
            } else {
                String::new()
            }
        )];
        summary.push(String::new());
        for i in staged.iter().take(200) {
            let st = i.staged.as_ref().expect("staged");
            // What the verdict does: the new owner of a reassign, the date of a defer.
            let what = match (&st.owner, &st.until) {
                (Some(o), _) => format!(" → {o}"),
                (None, Some(u)) => format!(" until {u}"),
                _ => String::new(),
            };
            summary.push(format!(
                "#{:<5} {:<8} {}{what}{}",
                i.item.seq,
                st.verdict.as_str(),
                i.item.label,
                st.justification
                    .as_deref()
                    .map(|j| format!("  ({j})"))
                    .unwrap_or_default()
            ));
        }
        let seqs = staged.iter().map(|i| i.item.seq).collect::<Vec<_>>();
        self.confirm = Some(Confirm {
            purpose: Purpose::Submit(seqs),
            summary,
            steps: Vec::new(),
            calls: staged.len(),
            typed: String::new(),
            need_typing: staged.len() > self.confirm_threshold,
        });
        self.reset_scroll();
        self.mode = Mode::Confirm;
        Vec::new()
    }

    /// `:signoff`: the queue's counts, to confirm.
    fn plan_sign_off(&mut self) -> Vec<Effect> {
        if self.refuse_read_only("signing off") {
            return Vec::new();
        }
        if let Some(why) = self.queue_locked() {
            self.notify(why, Level::Warn);
            return Vec::new();
        }
        let Some(q) = &self.review.queue else {
            self.notify("Not in a campaign", Level::Warn);
            return Vec::new();
        };
        let staged = q.staged();
        if staged > 0 {
            self.notify(
                format!(
                    "{} not submitted: :submit first, or u to unstage",
                    crate::model::text::plural(staged, "staged decision")
                ),
                Level::Warn,
            );
            return Vec::new();
        }
        let open = q.items.len() - q.done();
        let mut summary = vec![format!(
            "Sign off campaign {}: {}/{} decided. Your decisions are locked after.",
            q.campaign,
            q.done(),
            q.items.len()
        )];
        if open > 0 {
            summary.push(format!(
                "{} undecided: they fall to the campaign's closing policy.",
                crate::model::text::plural(open, "item") + if open == 1 { " is" } else { " are" }
            ));
        }
        self.confirm = Some(Confirm {
            purpose: Purpose::SignOff,
            summary,
            steps: Vec::new(),
            calls: 1,
            typed: String::new(),
            need_typing: false,
        });
        self.mode = Mode::Confirm;
        Vec::new()
    }

    /// `:delegate EMAIL REASON…`: hand the marked (or current) undecided items on.
    fn delegate(&mut self, args: &[&str]) -> Vec<Effect> {
        if self.read_only {
            self.notify(
                "Read-only mode (--read-only or settings.read_only): delegating is off",
                Level::Warn,
            );
            return Vec::new();
        }
        if let Some(why) = self.queue_locked() {
            self.notify(why, Level::Warn);
            return Vec::new();
        }
        let (Some(to), true) = (args.first(), args.len() > 1) else {
            self.notify(
                "delegate EMAIL REASON: who takes the marked items, and why",
                Level::Warn,
            );
            return Vec::new();
        };
        if !to.contains('@') && !to.starts_with("group:") {
            self.notify(format!("'{to}' is not an email or group:NAME"), Level::Warn);
            return Vec::new();
        }
        if self.rows_updating(ViewId::Queue) {
            return Vec::new();
        }
        let items = self.queue_items();
        if items.is_empty() {
            self.notify(
                "Nothing to delegate: move to an undecided item or mark some",
                Level::Warn,
            );
            return Vec::new();
        }
        // The delegation policy (self, self-review through a group) is the engine's, applied
        // when the effect runs: one rule for the console and the CLI.
        vec![Effect::Engine(Command::Campaign(Act::Delegate {
            items,
            to: to.to_string(),
            reason: args[1..].join(" "),
        }))]
    }

    /// In read-only mode, say that `what` is disabled; whether it is.
    fn refuse_read_only(&mut self, what: &str) -> bool {
        if self.read_only {
            self.notify(
                format!(
                    "Read-only mode: {what} is disabled (started with --read-only or settings.read_only = true)"
                ),
                Level::Warn,
            );
        }
        self.read_only
    }

    /// `q`: quit, unless an apply or a sync is running: then say what stops with it, and the
    /// next `q` quits.
    fn quit(&mut self) -> Vec<Effect> {
        let busy = match (&self.applying, &self.sync) {
            // Plan 0: stored, not yet numbered by the engine's answer.
            (Some(a), _) => Some(format!(
                "An apply is running{}: calls sent when you quit are left without an answer, and `recert apply --resume` reads them before sending again; q again quits",
                if a.plan > 0 {
                    format!(" (plan #{})", a.plan)
                } else {
                    String::new()
                }
            )),
            (None, Some(_)) => Some(
                "A sync is running: quitting stops it and stores nothing; q again quits"
                    .to_string(),
            ),
            (None, None) => None,
        };
        let armed = self.quit_armed.is_some_and(|until| self.now_ms <= until);
        match busy {
            Some(why) if !armed => {
                self.quit_armed = Some(self.now_ms + TOAST_MS);
                self.notify(why, Level::Warn);
                Vec::new()
            }
            _ => vec![Effect::Quit],
        }
    }

    /// How many decisions batch `b` holds (as the engine said when it recorded them: the
    /// review read model may not have it yet).
    fn batch_size(&self, b: i64) -> usize {
        self.batch_sizes.get(&b).map(|x| x.0).unwrap_or_else(|| {
            self.review
                .decisions
                .iter()
                .filter(|d| d.batch == b)
                .count()
        })
    }

    /// `u`: undo the newest batch this session recorded. While a decision is still on its way
    /// to the store, the undo waits for it (it is the batch the person means). A batch some
    /// plan already covers is not undone: its calls were sent (or are being sent), and
    /// withdrawing the decision would not give the access back.
    fn undo_last(&mut self) -> Vec<Effect> {
        if self.recording > 0 {
            self.undo_waiting.push(self.records_sent);
            self.notify("Undo waits for the decision being recorded", Level::Info);
            return Vec::new();
        }
        let Some(b) = self.undo.last().copied() else {
            self.notify("Nothing to undo in this session", Level::Info);
            return Vec::new();
        };
        let ids: HashSet<i64> = self
            .review
            .decisions
            .iter()
            .filter(|d| d.batch == b)
            .map(|d| d.id)
            .collect();
        // The store refuses it too (in the undo's own transaction); saying so here saves a
        // round trip. A planned call not sent yet does not pin it: a resumed plan abandons it.
        let sent = self
            .review
            .journal
            .iter()
            .find(|r| r.state.went_out() && r.decisions.iter().any(|d| ids.contains(d)));
        if let Some(r) = sent {
            self.notify(
                format!(
                    "Not undone: batch {b} is carried out by plan #{}, whose calls were sent or are being sent; withdrawing it would not give the access back (reverse a call from the audit view with R, where the provider allows it)",
                    r.plan
                ),
                Level::Warn,
            );
            return Vec::new();
        }
        self.undo.pop();
        self.redo.push(b);
        self.cursor_to_batch(b);
        let redo = self.keymap.key_for(Layer::Normal, Action::Redo);
        self.notify(
            format!(
                "Undone: {} (batch {b}; {redo} redoes)",
                crate::model::text::plural(self.batch_size(b), "decision")
            ),
            Level::Info,
        );
        let mut out = vec![Effect::Engine(Command::SetUndone {
            batch: b,
            undone: true,
        })];
        out.extend(self.rejudge_after(b));
        out
    }

    /// The snapshot shown, when it is a stored one (decisions and plans are made against it).
    fn snapshot_id(&self) -> Option<i64> {
        Some(self.data.snapshot.id).filter(|&i| i > 0)
    }

    /// `Rejudge` when batch `b` holds a reassign: undoing or redoing it changes who owns what.
    fn rejudge_after(&self, b: i64) -> Option<Effect> {
        // This session's batches are known from the engine's answer (the review read model
        // may not have them yet); older ones from the review.
        let reassign = match self.batch_sizes.get(&b) {
            Some((_, v)) => *v == Verdict::Reassign,
            None => self
                .review
                .decisions
                .iter()
                .any(|d| d.batch == b && d.d.verdict == Verdict::Reassign),
        };
        reassign.then_some(Effect::Engine(Command::Load { preview: false }))
    }

    fn start_decision(&mut self, verdict: Verdict) -> Vec<Effect> {
        self.decide(verdict, false)
    }

    /// `start_decision`; with `suggested`, a reassign to the owner recert suggests (a service
    /// account's creator, from the provider's audit log) instead of the person picker.
    fn decide(&mut self, verdict: Verdict, suggested: bool) -> Vec<Effect> {
        // Every decision key comes here (`:leak` and a sweep build their own: the incident's).
        if self.read_only {
            self.notify(
                "Read-only mode: decisions are disabled (started with --read-only or settings.read_only = true)",
                Level::Warn,
            );
            return Vec::new();
        }
        if self.view == ViewId::Queue
            && let Some(why) = self.queue_locked()
        {
            self.notify(why, Level::Warn);
            return Vec::new();
        }
        if matches!(self.view, ViewId::People) {
            self.notify(
                "People: press x to revoke everything a person holds, or open Gaps or Keys to decide item by item",
                Level::Warn,
            );
            return Vec::new();
        }
        let mut items = self.targets();
        if items.is_empty() {
            self.notify(
                "Nothing to decide here: move to a row or mark some",
                Level::Warn,
            );
            return Vec::new();
        }
        let mut skipped = 0;
        if verdict == Verdict::Reassign {
            let before = items.len();
            items.retain(|(t, _, _)| t.ownable());
            skipped = before - items.len();
            if items.is_empty() {
                self.notify(
                    "Only keys, service accounts and resources have owners to reassign",
                    Level::Warn,
                );
                return Vec::new();
            }
        }
        if verdict == Verdict::Revoke {
            let before = items.len();
            items.retain(|(t, _, _)| t.kind != "resource");
            skipped = before - items.len();
            if items.is_empty() {
                self.notify(
                    "A whole project or workspace is not revoked from here: revoke its members or keys",
                    Level::Warn,
                );
                return Vec::new();
            }
        }
        let mut owner = None;
        let mut why = None;
        if suggested {
            // Only a finding that nobody owns the service account: a recorded owner is never
            // replaced by a suggestion.
            let mut each: Vec<Option<crate::reconcile::provenance::Suggested>> = items
                .iter()
                .map(|(t, _, rule)| {
                    (t.kind == "service_account"
                        && rule.as_deref() == Some("unowned-service-account"))
                    .then(|| self.data.suggested_owner(&t.source, &t.id))
                    .flatten()
                })
                .collect();
            each.sort_by(|a, b| {
                let key = |x: &Option<crate::reconcile::provenance::Suggested>| {
                    x.as_ref().map(|s| s.email.clone())
                };
                key(a).cmp(&key(b))
            });
            each.dedup_by(|a, b| a.as_ref().map(|s| &s.email) == b.as_ref().map(|s| &s.email));
            match each.as_slice() {
                [Some(x)] => {
                    owner = Some(x.email.clone());
                    if items.len() == 1 {
                        why = Some(format!(
                            " (created it {} on {}, audit log)",
                            x.how,
                            crate::reconcile::day(x.created_at)
                        ));
                    }
                }
                [None] => {
                    self.notify("No suggested owner here: o picks one", Level::Warn);
                    return Vec::new();
                }
                _ => {
                    self.notify(
                        "Suggested owners differ: O one at a time, or o for all",
                        Level::Warn,
                    );
                    return Vec::new();
                }
            }
        }
        self.pending = Some(Pending {
            verdict,
            items,
            owner: owner.clone(),
            until: None,
            skipped,
            why,
        });
        if owner.is_some() {
            self.ask(PromptKind::Justification);
            return Vec::new();
        }
        match verdict {
            Verdict::Defer => self.ask(PromptKind::Until),
            Verdict::Reassign => {
                let choices = Arc::new(self.data.people_choices());
                let mut p = Picker {
                    choices,
                    ..Default::default()
                };
                rank_people(&mut p);
                self.picker = Some(p);
                self.mode = Mode::Picker;
            }
            _ => self.ask(PromptKind::Justification),
        }
        Vec::new()
    }

    /// An overlay opened (help, log, `z`, a confirmation): at its top, and how far it can
    /// scroll unknown until it is drawn (not the last overlay's).
    fn reset_scroll(&mut self) {
        self.help_scroll = 0;
        self.scroll_max.set(usize::MAX);
    }

    fn ask(&mut self, kind: PromptKind) {
        let Some(p) = &self.pending else { return };
        let n = p.items.len();
        // One item by its label, and for an account or invite (labelled by a person's email)
        // what of theirs it is: "Revoke bob@x.com" read as everything Bob holds.
        let what = match p.items.as_slice() {
            [(t, label, _)] => {
                let on = crate::reconcile::provider_label(&t.provider);
                match t.kind.as_str() {
                    "account" => format!("{label}'s account on {on}"),
                    "invite" => format!("the invite for {label} on {on}"),
                    _ => label.clone(),
                }
            }
            _ => crate::model::text::plural(n, "item"),
        };
        let skipped = if p.skipped > 0 {
            format!(" ({} marked rows do not apply and are left out)", p.skipped)
        } else {
            String::new()
        };
        let title = match (kind, p.verdict) {
            (PromptKind::Until, _) => format!("Defer {what} until (YYYY-MM-DD or +30d){skipped}"),
            (_, v) => {
                // What is decided first, then to whom or until when (and why that owner).
                let said = match v {
                    Verdict::Certify => format!("Certify {what}"),
                    Verdict::Revoke => format!("Revoke {what}"),
                    Verdict::Reassign => format!(
                        "Reassign {what} to {}{}",
                        p.owner.as_deref().unwrap_or("?"),
                        p.why.as_deref().unwrap_or("")
                    ),
                    Verdict::Defer => {
                        format!("Defer {what} until {}", p.until.as_deref().unwrap_or("?"))
                    }
                };
                let need = if self.justification_required {
                    "required"
                } else {
                    "optional"
                };
                format!("{said}{skipped}. Justification ({need})")
            }
        };
        self.prompt = Some(Prompt {
            kind,
            title,
            input: String::new(),
            error: None,
            danger: p.verdict.destructive(),
        });
        self.mode = Mode::Prompt;
    }

    fn sweep(&mut self) -> Vec<Effect> {
        if self.refuse_read_only("a person sweep") {
            return Vec::new();
        }
        if self.view != ViewId::People {
            self.notify("x sweeps a person: open People (3) first", Level::Warn);
            return Vec::new();
        }
        let Some(id) = self.current() else {
            return Vec::new();
        };
        let Some(row) = self.vs().row(id) else {
            return Vec::new();
        };
        let (item, person) = (row.item, row.cell(0).to_string());
        let targets = match self.data.sweep(item) {
            Ok(t) => t,
            Err(why) => {
                self.notify(format!("No sweep: {why}"), Level::Warn);
                return Vec::new();
            }
        };
        if targets.is_empty() {
            self.notify("This person holds nothing on any provider", Level::Info);
            return Vec::new();
        }
        // Said with how much of it a plan has revoked already (its calls are not sent again).
        let done = super::views::people::revoked(self, item, &targets).after;
        let count = match done {
            0 => crate::model::text::plural(targets.len(), "item"),
            n => format!(
                "{}: {n} revoked already",
                crate::model::text::plural(targets.len(), "item")
            ),
        };
        self.pending = Some(Pending {
            verdict: Verdict::Revoke,
            items: targets
                .into_iter()
                .map(|d| (d.target, d.label, d.rule))
                .collect(),
            owner: None,
            until: None,
            skipped: 0,
            why: None,
        });
        self.ask(PromptKind::Justification);
        if let Some(p) = &mut self.prompt {
            p.title = format!(
                "Revoke everything {person} holds on every provider ({count}). Justification ({})",
                if self.justification_required {
                    "required"
                } else {
                    "optional"
                }
            );
        }
        Vec::new()
    }

    fn finish_prompt(&mut self) -> Vec<Effect> {
        let Some(prompt) = self.prompt.clone() else {
            self.mode = Mode::Normal;
            return Vec::new();
        };
        let text = prompt.input.trim().to_string();
        match prompt.kind {
            PromptKind::Until => match crate::review::parse_until(&text, self.today) {
                Ok(d) => {
                    if let Some(p) = &mut self.pending {
                        p.until = Some(d.to_string());
                    }
                    self.ask(PromptKind::Justification);
                }
                Err(e) => {
                    if let Some(p) = &mut self.prompt {
                        p.error = Some(e);
                    }
                }
            },
            PromptKind::Justification => {
                if text.is_empty() && self.justification_required {
                    if let Some(p) = &mut self.prompt {
                        p.error = Some(
                            "a justification is required (settings.justification = \"optional\" turns this off)"
                                .into(),
                        );
                    }
                    return Vec::new();
                }
                let Some(p) = self.pending.take() else {
                    return Vec::new();
                };
                self.prompt = None;
                self.mode = Mode::Normal;
                let justification = (!text.is_empty()).then_some(text);
                let items: Vec<NewDecision> = p
                    .items
                    .into_iter()
                    .map(|(target, label, rule)| NewDecision {
                        verdict: p.verdict,
                        target,
                        label,
                        rule,
                        owner: p.owner.clone(),
                        until: p.until.clone(),
                        justification: justification.clone(),
                    })
                    .collect();
                if self.view == ViewId::Queue
                    && let Some(q) = &self.review.queue
                {
                    // In a campaign the decisions are staged on their items until `:submit`.
                    let seq: HashMap<&Target, i64> = q
                        .items
                        .iter()
                        .filter(|i| !i.decided())
                        .map(|i| (&i.item.target, i.item.seq))
                        .collect();
                    let staged: Vec<(i64, NewDecision)> = items
                        .into_iter()
                        .filter_map(|d| Some((*seq.get(&d.target)?, d)))
                        .collect();
                    if staged.is_empty() {
                        self.notify("Those items are decided already", Level::Info);
                        return Vec::new();
                    }
                    self.advance_to_next_open();
                    self.staged_last = staged.iter().map(|(s, _)| *s).collect();
                    return vec![Effect::Engine(Command::Campaign(Act::Stage(staged)))];
                }
                self.advance_to_next_open();
                self.recording += 1;
                self.records_sent += 1;
                self.record_views.push_back(self.view);
                return vec![Effect::Engine(Command::Record {
                    items,
                    snapshot: self.snapshot_id(),
                })];
            }
        }
        Vec::new()
    }

    fn cancel_decision(&mut self) {
        // `:leak` marked the key itself: a cancelled leak leaves nothing marked behind.
        let leak = self.pending.as_ref().is_some_and(|p| {
            p.items
                .iter()
                .any(|(_, _, rule)| rule.as_deref() == Some(crate::engine::incident::LEAKED_KEY))
        });
        if leak {
            self.views[ViewId::Keys.index()].marks = Marks::default();
        }
        self.pending = None;
        self.prompt = None;
        self.picker = None;
        self.mode = Mode::Normal;
        self.notify("Cancelled: nothing was recorded", Level::Info);
    }

    fn palette_matches(&self) -> Vec<&'static str> {
        let word = self.input.split_whitespace().next().unwrap_or("");
        if word.is_empty() {
            return COMMANDS.iter().map(|c| c.0).collect();
        }
        let m = SkimMatcherV2::default();
        let mut scored: Vec<(i64, &'static str)> = COMMANDS
            .iter()
            .filter_map(|(c, _)| m.fuzzy_match(c, word).map(|s| (s, *c)))
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        scored.into_iter().map(|x| x.1).collect()
    }

    pub fn palette(&self) -> Vec<(&'static str, &'static str)> {
        self.palette_matches()
            .into_iter()
            .filter_map(|c| COMMANDS.iter().find(|x| x.0 == c).copied())
            .collect()
    }

    fn run_command(&mut self) -> Vec<Effect> {
        let input = self.input.trim().to_string();
        let mut words = input.split_whitespace();
        let first = words.next().unwrap_or("");
        let args: Vec<&str> = words.collect();
        // An exact name wins; otherwise the highlighted suggestion.
        let name = if COMMANDS.iter().any(|c| c.0 == first) || first == "q" {
            first.to_string()
        } else {
            match self.palette_matches().get(self.palette_cursor) {
                Some(c) => c.to_string(),
                None => {
                    self.mode = Mode::Normal;
                    self.notify(format!("no command '{first}' (: lists them)"), Level::Warn);
                    return Vec::new();
                }
            }
        };
        self.mode = Mode::Normal;
        self.input.clear();
        if let Some(v) = ViewId::ALL.iter().find(|v| v.name() == name) {
            return self.switch(*v);
        }
        if name == "queue" {
            if !self.campaign {
                self.notify(
                    "No campaign open: `recert review --campaign NAME` opens one",
                    Level::Info,
                );
                return Vec::new();
            }
            return self.switch(ViewId::Queue);
        }
        match name.as_str() {
            "sync" => {
                if self.sync.is_some() {
                    self.notify("A sync is already running", Level::Info);
                    Vec::new()
                } else {
                    self.sync = Some(Vec::new());
                    vec![Effect::Engine(Command::Sync)]
                }
            }
            "log" => {
                self.reset_scroll();
                self.mode = Mode::Log;
                Vec::new()
            }
            "help" => {
                self.reset_scroll();
                self.mode = Mode::Help;
                Vec::new()
            }
            "quit" | "q" => self.quit(),
            "sort" => self.sort_command(&args),
            "apply" => self.plan_apply(),
            "leak" => self.leak(&args),
            "sweep" => self.sweep_person(&args),
            "submit" => self.plan_submit(),
            "signoff" => self.plan_sign_off(),
            "delegate" => self.delegate(&args),
            "group" => {
                if self.view != ViewId::Queue {
                    self.notify("group works in the campaign queue (:queue)", Level::Info);
                    return Vec::new();
                }
                match args.first().copied() {
                    Some("person") | Some("resource") => self.sort_command(&args[..1]),
                    _ => {
                        self.notify("group person|resource", Level::Warn);
                        Vec::new()
                    }
                }
            }
            _ => Vec::new(),
        }
    }

    /// `:apply`: the plan for the standing revokes, shown for confirmation.
    fn plan_apply(&mut self) -> Vec<Effect> {
        if self.read_only {
            self.notify(
                "Read-only mode: apply is disabled (started with --read-only or settings.read_only = true)",
                Level::Warn,
            );
            return Vec::new();
        }
        if self.applying.is_some() {
            self.notify("An apply is already running", Level::Info);
            return Vec::new();
        }
        // An unfinished plan is finished first: nothing new is planned past it.
        if let Some((plan, open)) = crate::engine::apply::unfinished(&self.review.journal) {
            let mut summary = vec![
                format!(
                    "plan #{plan} has {} not done (a run was interrupted, or some failed): resume it before anything new is planned",
                    crate::model::text::plural(open, "call")
                ),
                "A call sent without an answer is read at the provider before it is sent again; a call done since is not sent.".into(),
            ];
            if self
                .review
                .journal
                .iter()
                .any(|r| r.plan == plan && r.state == crate::remediate::RowState::Failed)
            {
                // A call a provider refuses every time would hold every later revoke back.
                summary.push(
                    "A call the provider refuses every time (the last admin, say) is given up from a shell with `recert apply --abandon --reason TEXT` (audited): then new revokes can be planned.".into(),
                );
            }
            summary.push(String::new());
            summary.extend(
                self.review
                    .journal
                    .iter()
                    .filter(|r| r.plan == plan)
                    .filter(|r| r.state.is_open())
                    .map(|r| r.line()),
            );
            self.confirm = Some(Confirm {
                purpose: Purpose::Resume(plan),
                summary,
                steps: Vec::new(),
                calls: open,
                typed: String::new(),
                need_typing: open > self.confirm_threshold,
            });
            self.mode = Mode::Confirm;
            self.reset_scroll();
            return Vec::new();
        }
        if self.review.to_apply().is_empty() {
            self.notify(
                "Nothing to apply: no standing revoke that a plan does not already cover",
                Level::Info,
            );
            return Vec::new();
        }
        let steps = crate::engine::apply::pending(
            &self.review.decisions,
            &self.review.journal,
            &self.data.snapshot,
            &self.data.own_keys,
            Default::default(),
        );
        let calls = crate::remediate::calls(&steps);
        self.confirm = Some(Confirm {
            purpose: Purpose::Apply {
                known: self.review.newest_plan(),
            },
            summary: Vec::new(),
            steps,
            calls,
            typed: String::new(),
            need_typing: calls > self.confirm_threshold,
        });
        self.reset_scroll();
        self.mode = Mode::Confirm;
        Vec::new()
    }

    fn finish_confirm(&mut self) -> Vec<Effect> {
        let Some(c) = self.confirm.take() else {
            self.mode = Mode::Normal;
            return Vec::new();
        };
        let ok = if c.need_typing {
            c.typed.trim() == c.calls.to_string()
        } else {
            matches!(c.typed.trim(), "y" | "Y" | "yes")
        };
        if ok {
            // "Not confirmed: …" from an earlier try is no longer true.
            self.toast = None;
        }
        if ok
            && matches!(c.purpose, Purpose::Apply { .. } | Purpose::Resume(_))
            && let Some(a) = &self.applying
        {
            self.mode = Mode::Normal;
            self.notify(
                format!(
                    "Plan #{} is being sent: nothing else is sent until it is done",
                    a.plan
                ),
                Level::Warn,
            );
            return Vec::new();
        }
        if !ok {
            let what = if c.need_typing {
                format!("type {} (the number of calls)", c.calls)
            } else {
                "type y".to_string()
            };
            self.confirm = Some(Confirm {
                typed: String::new(),
                ..c
            });
            self.notify(
                format!("Not confirmed: {what}, or Esc to cancel"),
                Level::Warn,
            );
            return Vec::new();
        }
        self.mode = Mode::Normal;
        let known = match c.purpose {
            Purpose::Submit(seqs) => {
                // A reassign among them changes who owns what: judge again once submitted.
                let reassigns = self.review.queue.as_ref().is_some_and(|q| {
                    q.items.iter().any(|i| {
                        seqs.contains(&i.item.seq)
                            && i.staged
                                .as_ref()
                                .is_some_and(|d| d.verdict == Verdict::Reassign)
                    })
                });
                let mut out = vec![Effect::Engine(Command::Campaign(Act::Submit(seqs)))];
                if reassigns {
                    out.push(Effect::Engine(Command::Load { preview: false }));
                }
                return out;
            }
            Purpose::SignOff => return vec![Effect::Engine(Command::Campaign(Act::SignOff))],
            Purpose::Resume(plan) => {
                self.applying = Some(Applying {
                    plan,
                    total: c.calls,
                    ..Default::default()
                });
                return vec![Effect::Engine(Command::Resume { plan })];
            }
            Purpose::Apply { known } => known,
        };
        self.applying = Some(Applying {
            total: c.calls,
            ..Default::default()
        });
        vec![Effect::Engine(Command::Apply {
            steps: c.steps,
            known,
            snapshot: self.snapshot_id(),
        })]
    }

    /// In the audit view: the call on the current entry, reversed where the provider allows it
    /// (an Anthropic key set `inactive` goes back to `active`), shown as a plan to confirm.
    fn reverse(&mut self) -> Vec<Effect> {
        if self.refuse_read_only("reversing a call") {
            return Vec::new();
        }
        if let Some(a) = &self.applying {
            self.notify(
                format!(
                    "Plan #{} is being sent: reverse a call once it is done",
                    a.plan
                ),
                Level::Info,
            );
            return Vec::new();
        }
        if self.view != ViewId::Audit {
            self.notify(
                "R reverses a call: open the audit view (7) on the call's entry",
                Level::Info,
            );
            return Vec::new();
        }
        let Some(id) = self.current() else {
            return Vec::new();
        };
        let Some(item) = self.vs().row(id).map(|r| r.item as usize) else {
            return Vec::new();
        };
        let Some(entry) = self.review.audit.get(item) else {
            return Vec::new();
        };
        let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap_or_default();
        let (plan, seq) = (detail["plan"].as_i64(), detail["seq"].as_i64());
        let row = self
            .review
            .journal
            .iter()
            .find(|r| Some(r.plan) == plan && Some(r.seq) == seq);
        let Some(row) = row else {
            self.notify(
                "This entry is not a call that was made: nothing to reverse",
                Level::Warn,
            );
            return Vec::new();
        };
        if let Some(by) = crate::remediate::reversed_by(&self.review.journal, row) {
            self.notify(
                format!("This call was reversed already, by plan #{by}"),
                Level::Info,
            );
            return Vec::new();
        }
        let steps = match crate::remediate::reversal(row) {
            Ok(step) => vec![step],
            Err(why) => {
                self.notify(why, Level::Warn);
                return Vec::new();
            }
        };
        self.confirm = Some(Confirm {
            purpose: Purpose::Apply {
                known: self.review.newest_plan(),
            },
            summary: Vec::new(),
            steps,
            calls: 1,
            typed: String::new(),
            need_typing: false,
        });
        self.mode = Mode::Confirm;
        Vec::new()
    }

    /// `:leak HINT`: mark the one key the hint names in Keys and ask for the revoke's reason.
    fn leak(&mut self, args: &[&str]) -> Vec<Effect> {
        if self.refuse_read_only("revoking a leaked key") {
            return Vec::new();
        }
        let Some(hint) = args.first() else {
            self.notify(
                "leak HINT: a key id, redacted value or the whole key",
                Level::Warn,
            );
            return Vec::new();
        };
        use crate::engine::incident::{Found, KeyFacts, find_key};
        match find_key(&self.data.snapshot.data, hint) {
            Found::None => {
                self.notify(
                    "No key has that whole hint: / in Keys finds a part; :sync if newer",
                    Level::Warn,
                );
                Vec::new()
            }
            Found::Many(all) => {
                self.notify(
                    format!("The hint matches {} keys: give the key id", all.len()),
                    Level::Warn,
                );
                Vec::new()
            }
            Found::One(i) => {
                let facts = KeyFacts::of(
                    &self.data.snapshot.data,
                    &self.data.snapshot.data.credentials[i],
                );
                self.view = ViewId::Keys;
                self.mode = Mode::Normal;
                let row = self
                    .vs()
                    .table
                    .rows
                    .iter()
                    .position(|r| r.item == i as u32)
                    .map(|r| r as u32);
                let vs = self.vs_mut();
                // Every key shown (the id is not a column: filtering by it showed nothing),
                // and never a filter made of the hint (it may be the secret).
                vs.filter = String::new();
                vs.marks = Marks::default();
                if let Some(r) = row {
                    vs.marks.ids.insert(r);
                }
                let out = self.refine(ViewId::Keys);
                // The cursor lands on the key when the refined rows arrive.
                self.vs_mut().keep = row;
                // The decision `recert revoke --key` makes, asked a reason for.
                let d =
                    crate::engine::incident::leaked_key(&self.data.snapshot.data.credentials[i]);
                self.pending = Some(Pending {
                    verdict: Verdict::Revoke,
                    items: vec![(d.target, d.label, d.rule)],
                    owner: None,
                    until: None,
                    skipped: 0,
                    why: None,
                });
                self.ask(PromptKind::Justification);
                self.notify(facts.lines().join(" · "), Level::Info);
                out
            }
        }
    }

    /// On a snapshot's preview (its stored digest while the rest loads) in a view of its data.
    fn on_preview(&self) -> bool {
        self.data.partial.is_some()
            && !matches!(self.view, ViewId::Decisions | ViewId::Audit | ViewId::Queue)
    }

    fn still_loading(&mut self) {
        let (shown, total) = (
            crate::model::text::thousands(self.data.findings.len()),
            crate::model::text::thousands(self.data.partial.unwrap_or_default() as usize),
        );
        let text = if self.loading {
            format!(
                "Still loading the snapshot: the first {shown} of {total} findings are shown; marks and decisions open when all are in"
            )
        } else {
            format!(
                "The snapshot could not be loaded (:log says why): only the first {shown} of {total} findings are here; marks and decisions need the whole (run :sync or restart recert)"
            )
        };
        self.notify(text, Level::Warn);
    }

    /// `:sweep EMAIL`: put the cursor on that person in People and ask for the sweep's reason.
    fn sweep_person(&mut self, args: &[&str]) -> Vec<Effect> {
        if self.refuse_read_only("a person sweep") {
            return Vec::new();
        }
        if self.data.partial.is_some() {
            self.still_loading();
            return Vec::new();
        }
        let Some(email) = args.first().map(|e| e.to_lowercase()) else {
            self.notify("sweep EMAIL: whose access to revoke", Level::Warn);
            return Vec::new();
        };
        let people = &self.data.snapshot.data.people;
        let Some(i) = people
            .iter()
            .position(|p| p.emails.iter().any(|e| e.to_lowercase() == email))
        else {
            self.notify(
                format!("No directory person has the email {email}"),
                Level::Warn,
            );
            return Vec::new();
        };
        self.view = ViewId::People;
        self.mode = Mode::Normal;
        let table = self.vs().table.clone();
        let Some(row) = table.rows.iter().position(|r| r.item == i as u32) else {
            return Vec::new();
        };
        let page = self.page.max(1);
        let vs = self.vs_mut();
        match vs.visible.iter().position(|&x| x == row as u32) {
            Some(p) => vs.cursor = p,
            None => {
                // Hidden by a filter: clear it so the person is on screen.
                vs.filter.clear();
                vs.visible = Arc::new(vec![row as u32]);
                vs.cursor = 0;
            }
        }
        // On screen, and kept there when the cleared filter's result lands.
        vs.keep = Some(row as u32);
        scroll(vs, page);
        let mut out = if self.vs().filter.is_empty() && self.vs().visible.len() == 1 {
            self.refine(ViewId::People)
        } else {
            Vec::new()
        };
        out.extend(self.sweep());
        out
    }

    fn sort_command(&mut self, args: &[&str]) -> Vec<Effect> {
        if self.view == ViewId::Dash {
            return Vec::new();
        }
        let cols = &self.vs().table.columns;
        let Some(name) = args.first() else {
            let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
            self.notify(format!("sort by one of: {}", names.join(", ")), Level::Warn);
            return Vec::new();
        };
        let Some(col) = cols.iter().position(|c| c.name == name.to_lowercase()) else {
            let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
            self.notify(
                format!("no column '{name}'; sort by one of: {}", names.join(", ")),
                Level::Warn,
            );
            return Vec::new();
        };
        let desc = args.get(1).is_some_and(|a| a.starts_with("desc"));
        self.vs_mut().sort = Some(Sort { col, desc });
        let v = self.view;
        self.refine(v)
    }

    fn mark_range(&mut self) {
        let Some(here) = self.current() else { return };
        let vs = self.vs_mut();
        match vs.anchor.take() {
            None => vs.anchor = Some(here),
            Some(a) => {
                let pos = |id: u32| vs.visible.iter().position(|&x| x == id);
                let (Some(pa), Some(pb)) = (pos(a), pos(here)) else {
                    return;
                };
                let (lo, hi) = (pa.min(pb), pa.max(pb));
                let ids: Vec<u32> = vs.visible[lo..=hi].to_vec();
                let table = vs.table.clone();
                for id in ids {
                    vs.marks.set(&table, id, true);
                }
            }
        }
    }

    fn mark_all(&mut self) {
        let vs = self.vs_mut();
        let q = vs.applied.clone();
        let table = vs.table.clone();
        // Ids already marked that the query covers are folded in.
        vs.marks.ids.retain(|&id| {
            table
                .rows
                .get(id as usize)
                .is_none_or(|r| !query::matches(&q, r))
        });
        vs.marks.all = Some(AllMatching {
            query: q,
            count: vs.visible.len(),
            excluded: HashSet::new(),
        });
    }

    fn apply(&mut self, action: Action) -> Vec<Effect> {
        let page = self.page.max(1);
        if action.decides() && self.read_only {
            self.notify(
                "Read-only mode: decisions are disabled (started with --read-only or settings.read_only = true)",
                Level::Warn,
            );
            return Vec::new();
        }
        // Acts on rows: marks, and decisions (undo and redo act on batches, not rows; but in
        // the queue undo unstages the rows under the cursor or marked).
        let on_rows = matches!(action, Action::Mark | Action::MarkRange | Action::MarkAll)
            || action.decides() && !matches!(action, Action::Undo | Action::Redo | Action::Reverse)
            || action == Action::Undo && self.view == ViewId::Queue;
        if self.mode == Mode::Normal && on_rows && self.on_preview() {
            self.still_loading();
            return Vec::new();
        }
        if self.mode == Mode::Normal && on_rows && self.rows_updating(self.view) {
            return Vec::new();
        }
        match (self.mode, action) {
            (_, Action::Quit) => return self.quit(),
            (Mode::Help | Mode::Log | Mode::Detail, Action::Close | Action::Detail) => {
                self.mode = Mode::Normal
            }
            (Mode::Help | Mode::Log | Mode::Detail | Mode::Confirm, Action::Down) => {
                self.help_scroll = (self.help_scroll + 1).min(self.scroll_max.get())
            }
            (Mode::Help | Mode::Log | Mode::Detail | Mode::Confirm, Action::Up) => {
                self.help_scroll = self
                    .help_scroll
                    .min(self.scroll_max.get())
                    .saturating_sub(1)
            }
            (Mode::Help | Mode::Log | Mode::Detail | Mode::Confirm, Action::PageDown) => {
                self.help_scroll = (self.help_scroll + self.page).min(self.scroll_max.get())
            }
            (Mode::Help | Mode::Log | Mode::Detail | Mode::Confirm, Action::PageUp) => {
                self.help_scroll = self
                    .help_scroll
                    .min(self.scroll_max.get())
                    .saturating_sub(self.page)
            }
            (Mode::Help | Mode::Log | Mode::Detail, Action::Top) => self.help_scroll = 0,
            (Mode::Help | Mode::Log | Mode::Detail, Action::Bottom) => {
                self.help_scroll = self.scroll_max.get()
            }
            // A plan waiting for confirmation.
            (Mode::Confirm, Action::Accept) => return self.finish_confirm(),
            (Mode::Confirm, Action::Cancel) => {
                let what = match self.confirm.take().map(|c| c.purpose) {
                    Some(Purpose::Submit(_)) => "Submit cancelled: nothing was recorded",
                    Some(Purpose::SignOff) => "Sign-off cancelled: nothing was recorded",
                    _ => "Apply cancelled: nothing was sent",
                };
                self.mode = Mode::Normal;
                self.notify(what, Level::Info);
            }
            (Mode::Confirm, Action::DeleteChar) => {
                if let Some(c) = &mut self.confirm {
                    c.typed.pop();
                }
            }
            (Mode::Confirm, Action::ClearInput) => {
                if let Some(c) = &mut self.confirm {
                    c.typed.clear();
                }
            }
            (Mode::Confirm, Action::DeleteWord) => {
                if let Some(c) = &mut self.confirm {
                    delete_word(&mut c.typed);
                }
            }
            (Mode::Command, Action::DeleteWord) => {
                delete_word(&mut self.input);
                self.palette_cursor = 0;
            }
            (Mode::Prompt, Action::DeleteWord) => {
                if let Some(p) = &mut self.prompt {
                    delete_word(&mut p.input);
                    p.error = None;
                }
            }
            (Mode::Picker, Action::DeleteWord) => {
                if let Some(p) = &mut self.picker {
                    delete_word(&mut p.input);
                    rank_people(p);
                }
            }
            (Mode::Filter, Action::DeleteWord) => {
                if std::mem::take(&mut self.filter_selected) {
                    self.vs_mut().filter.clear();
                }
                delete_word(&mut self.vs_mut().filter);
                let v = self.view;
                return self.refine(v);
            }
            // The palette.
            (Mode::Command, Action::Accept) => return self.run_command(),
            (Mode::Command, Action::Cancel) => {
                self.mode = Mode::Normal;
                self.input.clear();
            }
            (Mode::Command, Action::Complete) => self.complete(),
            (Mode::Command, Action::Down) => {
                let n = self.palette_matches().len();
                self.palette_cursor = (self.palette_cursor + 1).min(n.saturating_sub(1));
            }
            (Mode::Command, Action::Up) => {
                self.palette_cursor = self.palette_cursor.saturating_sub(1)
            }
            (Mode::Command, Action::DeleteChar) => {
                self.input.pop();
                self.palette_cursor = 0;
            }
            (Mode::Command, Action::ClearInput) => {
                self.input.clear();
                self.palette_cursor = 0;
            }
            // Prompts.
            (Mode::Prompt, Action::Accept) => return self.finish_prompt(),
            (Mode::Prompt, Action::Cancel) | (Mode::Picker, Action::Cancel) => {
                self.cancel_decision()
            }
            (Mode::Prompt, Action::DeleteChar) => {
                if let Some(p) = &mut self.prompt {
                    p.input.pop();
                    p.error = None;
                }
            }
            (Mode::Prompt, Action::ClearInput) => {
                if let Some(p) = &mut self.prompt {
                    p.input.clear();
                }
            }
            // The owner picker.
            (Mode::Picker, Action::Accept) => {
                let chosen = self
                    .picker
                    .as_ref()
                    .and_then(|p| p.matches.get(p.cursor).map(|&i| p.choices[i].email.clone()));
                match chosen {
                    Some(email) => {
                        self.picker = None;
                        if let Some(p) = &mut self.pending {
                            p.owner = Some(email);
                        }
                        self.ask(PromptKind::Justification);
                    }
                    None => self.notify(
                        "No person matches: type part of an email or name",
                        Level::Warn,
                    ),
                }
            }
            (Mode::Picker, Action::Down) => {
                if let Some(p) = &mut self.picker {
                    p.cursor = (p.cursor + 1).min(p.matches.len().saturating_sub(1));
                }
            }
            (Mode::Picker, Action::Up) => {
                if let Some(p) = &mut self.picker {
                    p.cursor = p.cursor.saturating_sub(1);
                }
            }
            (Mode::Picker, Action::DeleteChar) => {
                if let Some(p) = &mut self.picker {
                    p.input.pop();
                    rank_people(p);
                }
            }
            (Mode::Picker, Action::ClearInput) => {
                if let Some(p) = &mut self.picker {
                    p.input.clear();
                    rank_people(p);
                }
            }
            // The filter line.
            (Mode::Filter, Action::Accept) => {
                self.mode = Mode::Normal;
                self.history_at = None;
                self.filter_selected = false;
                let f = self.vs().filter.trim().to_string();
                if crate::secret::holds_secret(&f) {
                    // A whole key (a leak being chased): hidden on screen, kept out of the
                    // history, and the command that finds its key by it named.
                    self.notify(
                        "That is a whole key: it is hidden on screen and not kept; :leak KEY finds its key by it",
                        Level::Warn,
                    );
                } else if !f.is_empty() {
                    self.filter_history.retain(|h| *h != f);
                    self.filter_history.push(f);
                    let over = self.filter_history.len().saturating_sub(HISTORY);
                    self.filter_history.drain(..over);
                }
            }
            (Mode::Filter, Action::HistoryPrev) => {
                self.filter_selected = false;
                return self.recall(true);
            }
            (Mode::Filter, Action::HistoryNext) => {
                self.filter_selected = false;
                return self.recall(false);
            }
            (Mode::Filter, Action::Extend) => self.filter_selected = false,
            (Mode::Filter, Action::DeleteChar) if std::mem::take(&mut self.filter_selected) => {
                self.vs_mut().filter.clear();
                let v = self.view;
                return self.refine(v);
            }
            (Mode::Filter, Action::Cancel) => {
                self.mode = Mode::Normal;
                self.filter_selected = false;
                if !self.vs().filter.is_empty() {
                    self.vs_mut().filter.clear();
                    let v = self.view;
                    return self.refine(v);
                }
            }
            (Mode::Filter, Action::DeleteChar) if self.vs_mut().filter.pop().is_some() => {
                let v = self.view;
                return self.refine(v);
            }
            (Mode::Filter, Action::ClearInput) => {
                self.filter_selected = false;
                self.vs_mut().filter.clear();
                let v = self.view;
                return self.refine(v);
            }
            (Mode::Filter | Mode::Normal, Action::Down) => self.move_to(self.vs().cursor + 1),
            (Mode::Filter | Mode::Normal, Action::Up) => {
                self.move_to(self.vs().cursor.saturating_sub(1))
            }
            // The list.
            (Mode::Normal, a) => return self.normal(a, page),
            _ => {}
        }
        Vec::new()
    }

    fn normal(&mut self, action: Action, page: usize) -> Vec<Effect> {
        match action {
            Action::PageDown => self.move_to(self.vs().cursor + page),
            Action::PageUp => self.move_to(self.vs().cursor.saturating_sub(page)),
            Action::Top => self.move_to(0),
            Action::Bottom => self.move_to(usize::MAX),
            Action::Filter if self.view != ViewId::Dash => {
                self.history_at = None;
                self.filter_selected = !self.vs().filter.is_empty();
                self.mode = Mode::Filter;
            }
            Action::Command => {
                self.input.clear();
                self.palette_cursor = 0;
                self.mode = Mode::Command;
            }
            Action::Help => {
                self.reset_scroll();
                self.mode = Mode::Help;
            }
            Action::Open => return self.drill(),
            Action::ClearFilter => {
                let drilled = self.crumbs.last().is_some_and(|c| c.to == self.view);
                let vs = self.vs_mut();
                if vs.anchor.take().is_some() {
                } else if !vs.marks.is_empty() {
                    vs.marks = Marks::default();
                } else if drilled {
                    return self.back().unwrap_or_default();
                } else if !vs.filter.is_empty() {
                    vs.filter.clear();
                    let v = self.view;
                    return self.refine(v);
                }
            }
            Action::Mark => {
                if let Some(id) = self.current() {
                    let vs = self.vs_mut();
                    let table = vs.table.clone();
                    vs.marks.toggle(&table, id);
                    self.move_to(self.vs().cursor + 1);
                }
            }
            Action::MarkRange => self.mark_range(),
            Action::MarkAll if self.view != ViewId::Dash => self.mark_all(),
            Action::Reverse => return self.reverse(),
            Action::Certify => return self.start_decision(Verdict::Certify),
            Action::Revoke => return self.start_decision(Verdict::Revoke),
            Action::Reassign => return self.start_decision(Verdict::Reassign),
            Action::AcceptSuggested => return self.decide(Verdict::Reassign, true),
            Action::Defer => return self.start_decision(Verdict::Defer),
            Action::Sweep => return self.sweep(),
            Action::Detail if self.view != ViewId::Dash && self.current().is_some() => {
                self.reset_scroll();
                self.mode = Mode::Detail;
            }
            Action::Undo if self.view == ViewId::Queue => return self.unstage(),
            Action::Undo => return self.undo_last(),
            Action::Redo => match self.redo.pop() {
                Some(b) => {
                    self.undo.push(b);
                    let n = self.batch_size(b);
                    self.notify(
                        format!(
                            "Redone: {} (batch {b})",
                            crate::model::text::plural(n, "decision")
                        ),
                        Level::Info,
                    );
                    let mut out = vec![Effect::Engine(Command::SetUndone {
                        batch: b,
                        undone: false,
                    })];
                    out.extend(self.rejudge_after(b));
                    return out;
                }
                None => self.notify("Nothing to redo", Level::Info),
            },
            Action::SortNext | Action::SortReverse if self.view != ViewId::Dash => {
                let n = self.vs().table.columns.len();
                let vs = self.vs_mut();
                vs.sort = match (action, vs.sort) {
                    (Action::SortReverse, Some(s)) => Some(Sort {
                        col: s.col,
                        desc: !s.desc,
                    }),
                    (Action::SortReverse, None) => Some(Sort { col: 0, desc: true }),
                    (_, None) => Some(Sort {
                        col: 0,
                        desc: false,
                    }),
                    (_, Some(s)) if s.col + 1 >= n => None,
                    (_, Some(s)) => Some(Sort {
                        col: s.col + 1,
                        desc: false,
                    }),
                };
                let v = self.view;
                return self.refine(v);
            }
            // From where the columns really are (a scroll past the last column is not kept,
            // so every press of the other key moves them).
            Action::ScrollLeft => {
                let at = self.column_fit().map(|f| f.scroll);
                let vs = self.vs_mut();
                vs.hscroll = at.unwrap_or(vs.hscroll).saturating_sub(1);
            }
            Action::ScrollRight => {
                let fit = self.column_fit();
                let vs = self.vs_mut();
                let n = vs.table.columns.len();
                vs.hscroll = match fit {
                    Some(f) if f.hidden_right == 0 => f.scroll,
                    Some(f) => f.scroll + 1,
                    None => (vs.hscroll + 1).min(n.saturating_sub(2)),
                };
            }
            Action::NextView => {
                let next = ViewId::ALL[(self.view.index() + 1) % ViewId::ALL.len()];
                return self.switch(next);
            }
            Action::PrevView => {
                let n = ViewId::ALL.len();
                let prev = ViewId::ALL[(self.view.index() + n - 1) % n];
                return self.switch(prev);
            }
            Action::Copy => match self.selected_id() {
                // Never a control or format character on the clipboard: pasted into a shell,
                // a newline runs what follows, and an ESC can end a bracketed paste.
                Some(id) if crate::model::text::sanitize(&id) != id => self.notify(
                    format!(
                        "Not copied: the id holds control or format characters (shown as {}); a pasted id would act in a shell",
                        crate::model::text::sanitize(&id)
                    ),
                    Level::Warn,
                ),
                Some(id) => {
                    self.notify(
                        format!(
                            "Copied {} to the clipboard",
                            crate::model::text::sanitize(&id)
                        ),
                        Level::Info,
                    );
                    return vec![Effect::Copy(id)];
                }
                None => self.notify("No row to copy", Level::Info),
            },
            Action::View(ViewId::Queue) if !self.campaign => self.notify(
                "No campaign open: `recert review --campaign NAME` opens one",
                Level::Info,
            ),
            Action::View(v) => return self.switch(v),
            _ => {}
        }
        Vec::new()
    }

    fn typed(&mut self, c: char) -> Vec<Effect> {
        match self.mode {
            Mode::Filter => {
                if std::mem::take(&mut self.filter_selected) {
                    self.vs_mut().filter.clear();
                }
                self.vs_mut().filter.push(c);
                let v = self.view;
                self.refine(v)
            }
            Mode::Command => {
                self.input.push(c);
                self.palette_cursor = 0;
                Vec::new()
            }
            Mode::Prompt => {
                if let Some(p) = &mut self.prompt
                    && p.input.chars().count() < 500
                {
                    p.input.push(c);
                    p.error = None;
                }
                Vec::new()
            }
            Mode::Picker => {
                if let Some(p) = &mut self.picker {
                    p.input.push(c);
                    rank_people(p);
                }
                Vec::new()
            }
            Mode::Confirm => {
                if let Some(x) = &mut self.confirm
                    && x.typed.len() < 12
                {
                    x.typed.push(c);
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// New data: every table view is reset to it (filters and sorts are kept and re-run).
    /// Rows marked one by one stay marked where the new data has the same object (and, in
    /// Gaps, the same rule); "all matching" marks and rows that are gone are dropped, and the
    /// notice says how many.
    fn load(&mut self, data: Arc<Data>) -> Vec<Effect> {
        // A preview (the stored digest) keeps the "loading" notices up in the views it lacks.
        self.loading = data.partial.is_some();
        let old = std::mem::replace(&mut self.data, data);
        let mut out = Vec::new();
        for v in ViewId::ALL {
            if v == ViewId::Dash {
                continue;
            }
            let table = self.table_for(v);
            // What to find again in the new table (its rows are new): the object under the
            // cursor and the objects marked one by one. Looked up in the old data here (a
            // few rows); searched for in the new table by the worker.
            let vs = &self.views[v.index()];
            let about = |id: u32| {
                vs.table
                    .rows
                    .get(id as usize)
                    .and_then(|r| old.target(v, r.item))
                    .map(|(t, _, rule)| (t, rule))
            };
            let under = vs.current().and_then(about);
            let marked: HashSet<(Target, Option<String>)> =
                vs.marks.ids.iter().filter_map(|&id| about(id)).collect();
            let had = vs.marks.count();
            let vs = &mut self.views[v.index()];
            let at = vs.cursor;
            vs.set_table(table);
            vs.keep = None;
            vs.keep_at = Some(at);
            vs.marks = Marks::default();
            vs.marks_had = had;
            vs.relocate = Some(Relocate {
                data: self.data.clone(),
                under,
                marked: Arc::new(marked),
            });
            out.extend(self.refine(v));
        }
        out
    }

    /// A filter job on a small table (a review's: decisions, audit entries, a queue) answered
    /// at once, as the worker would answer it: a reload never shows a blank frame, nor
    /// refuses a key while its rows come. A large one goes to the worker.
    fn answer_small(&mut self, e: Effect) -> Vec<Effect> {
        match e {
            Effect::Refine(ref j) if j.table.rows.len() <= SMALL_TABLE => match e.answer_here() {
                Some(answer) => update(self, answer),
                None => vec![e],
            },
            e => vec![e],
        }
    }

    fn set_review(&mut self, review: Arc<Review>) -> Vec<Effect> {
        let old = std::mem::replace(&mut self.review, review);
        let new = self.review.clone();
        let mut out = Vec::new();
        let mut dropped = None;
        // A `decision:` filter follows the decisions as they are made and undone.
        for v in ViewId::ALL.into_iter().filter(|v| v.decidable()) {
            let vs = &self.views[v.index()];
            if vs
                .requested
                .as_ref()
                .map_or(&vs.applied, |(_, q)| q)
                .asks_decisions()
            {
                out.extend(self.refine(v));
            }
        }
        for v in [ViewId::Decisions, ViewId::Audit, ViewId::Queue] {
            if v == ViewId::Queue && !self.campaign {
                continue;
            }
            let table = self.table_for(v);
            let vs = &mut self.views[v.index()];
            // The row under the cursor and the marked rows, found again in the new table by
            // what they show (an audit entry, a decision, a queue item), not by their row
            // numbers: new entries come in at the top, delegated items leave the queue.
            // Marks made with `*` are kept as the rows they stood for, so an item that
            // arrives later is never marked unseen.
            let key_of = |id: u32| {
                vs.table
                    .rows
                    .get(id as usize)
                    .and_then(|r| review_row_key(&old, v, r))
            };
            let under = vs.current().and_then(key_of);
            let marked: HashSet<i64> = vs
                .marks
                .materialise(&vs.table)
                .into_iter()
                .filter_map(key_of)
                .collect();
            let mut same = None;
            let mut marks = HashSet::new();
            if under.is_some() || !marked.is_empty() {
                for (i, r) in table.rows.iter().enumerate() {
                    let Some(k) = review_row_key(&new, v, r) else {
                        continue;
                    };
                    if under == Some(k) && same.is_none() {
                        same = Some(i as u32);
                    }
                    if marked.contains(&k) {
                        marks.insert(i as u32);
                    }
                }
            }
            let at = vs.cursor;
            vs.set_table(table);
            // The row that was under the cursor, found again; gone (decided, delegated or
            // replaced elsewhere), the row that took its place: never the old row's id
            // looked up in the new table.
            vs.keep = same;
            vs.keep_at = same.is_none().then_some(at);
            vs.marks = Marks {
                ids: marks,
                all: None,
            };
            if vs.marks.count() < marked.len() && v == self.view {
                dropped = Some((vs.marks.count(), marked.len()));
            }
            for e in self.refine(v) {
                out.extend(self.answer_small(e));
            }
        }
        if let Some((kept, had)) = dropped {
            self.notify(
                format!(
                    "{kept} of {had} marks kept: the rest left this view (delegated, decided or undone elsewhere)"
                ),
                Level::Warn,
            );
        }
        out
    }
}

/// The most rows a filter job is answered at once on the UI thread ([`State::answer_small`]):
/// a few milliseconds of filtering and sorting at most.
const SMALL_TABLE: usize = 20_000;

/// What a row of the Decisions, Audit or Queue view is about, the same in every reload:
/// the decision's id, the audit entry's sequence number, the campaign item's number (each
/// read from `review`, the read model the row was made from; never a row's position).
fn review_row_key(review: &Review, view: ViewId, r: &crate::tui::table::Row) -> Option<i64> {
    match view {
        ViewId::Decisions => review.decisions.get(r.item as usize).map(|d| d.id),
        // Column 0 is the entry's seq (Audit) or the item's number (Queue).
        _ => Some(r.num(0)).filter(|&n| n != crate::tui::table::NONE),
    }
}

fn rows_about(
    data: &Data,
    view: ViewId,
    table: &Table,
    ids: &HashSet<&str>,
) -> Vec<(u32, u32, Target, Option<String>)> {
    use rayon::prelude::*;
    if ids.is_empty() {
        return Vec::new();
    }
    table
        .rows
        .par_iter()
        .enumerate()
        .filter(|(_, r)| {
            data.target_id(view, r.item)
                .is_some_and(|id| ids.contains(id))
        })
        .filter_map(|(row, r)| {
            let (t, _, rule) = data.target(view, r.item)?;
            Some((row as u32, r.item, t, rule))
        })
        .collect()
}

/// What a view looks for again in a new snapshot's table: the object under the cursor and
/// the objects marked one by one (each with its Gaps rule). The worker searches; `update`
/// never scans a table.
#[derive(Clone)]
pub struct Relocate {
    /// The new snapshot's data.
    pub data: Arc<Data>,
    pub under: Option<(Target, Option<String>)>,
    pub marked: Arc<HashSet<(Target, Option<String>)>>,
}

/// What the worker found again: the row of the object that was under the cursor, the rows of
/// the marked objects still there, and how many were marked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    pub under: Option<u32>,
    pub marks: Vec<u32>,
}

impl std::fmt::Debug for Relocate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Relocate(under: {}, marked: {})",
            self.under.is_some(),
            self.marked.len()
        )
    }
}

impl Relocate {
    /// Search `table` (of `view`, in the new data) for what was under the cursor and marked.
    pub fn find(&self, view: ViewId, table: &Table) -> Found {
        let ids: HashSet<&str> = self
            .under
            .iter()
            .chain(self.marked.iter())
            .map(|(t, _)| t.id.as_str())
            .collect();
        let mut found = Found::default();
        for (row, _, t, rule) in rows_about(&self.data, view, table, &ids) {
            let key = (t, rule);
            if self.under.as_ref() == Some(&key) && found.under.is_none() {
                found.under = Some(row);
            }
            if self.marked.contains(&key) {
                found.marks.push(row);
            }
        }
        found
    }
}

/// What a filter job needs for `decision:` terms: the data and decisions of the moment it was
/// asked for, so the worker (never the UI thread) finds the decided rows.
#[derive(Clone)]
pub struct Decided {
    pub data: Arc<Data>,
    pub review: Arc<Review>,
    pub view: ViewId,
}

impl Decided {
    /// Fill in `q`'s decided rows of `table`.
    pub fn fill(&self, table: &Table, q: &mut Query) {
        q.decided = Some(Arc::new(decided_items(
            &self.data,
            &self.review,
            self.view,
            table,
        )));
    }
}

/// The rows of `view` (by item) with a standing decision, and its verdict: what `decision:`
/// filters on. Decisions are few: rows are first matched on their target's id alone.
pub fn decided_items(
    data: &Data,
    review: &Review,
    view: ViewId,
    table: &Table,
) -> HashMap<u32, Verdict> {
    if view == ViewId::Queue {
        // A queue item's decision: its staged verdict, else its recorded outcome.
        let Some(q) = &review.queue else {
            return HashMap::new();
        };
        return table
            .rows
            .iter()
            .filter_map(|r| {
                let i = q.items.get(r.item as usize)?;
                let v = i
                    .staged
                    .as_ref()
                    .map(|d| d.verdict)
                    .or_else(|| i.outcome.as_deref().and_then(Verdict::parse))?;
                Some((r.item, v))
            })
            .collect();
    }
    let ids: HashSet<&str> = review.decided.keys().map(|t| t.id.as_str()).collect();
    rows_about(data, view, table, &ids)
        .into_iter()
        .filter_map(|(_, item, t, _)| Some((item, review.verdict(&t)?)))
        .collect()
}

/// Delete the word before the end of `s` (and the spaces after it), as Ctrl-w does in a shell.
fn delete_word(s: &mut String) {
    let kept = s.trim_end().len();
    s.truncate(kept);
    let start = s
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    s.truncate(start);
}

/// Keep the cursor inside the window of visible rows.
fn scroll(vs: &mut ViewState, page: usize) {
    if vs.cursor < vs.offset {
        vs.offset = vs.cursor;
    } else if vs.cursor >= vs.offset + page {
        vs.offset = vs.cursor + 1 - page;
    }
    let max_offset = vs.visible.len().saturating_sub(page);
    vs.offset = vs.offset.min(max_offset);
}

/// Rank the picker's people by fuzzy score over email and name, best 200 first.
fn rank_people(p: &mut Picker) {
    p.cursor = 0;
    if p.input.trim().is_empty() {
        p.matches = (0..p.choices.len().min(200)).collect();
        return;
    }
    let m = SkimMatcherV2::default();
    let needle = p.input.trim().to_lowercase();
    let mut scored: Vec<(i64, usize)> = p
        .choices
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let a = m.fuzzy_match(&c.email, &needle);
            let b = m.fuzzy_match(&c.name, &needle);
            let about = m.fuzzy_match(&c.about, &needle).map(|s| s / 2);
            a.max(b).max(about).map(|s| (s, i))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.truncate(200);
    p.matches = scored.into_iter().map(|x| x.1).collect();
}

/// The one entry point: apply a message, return what the driver must do.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Resize { rows, width } => {
            state.page = rows.max(1);
            state.table_width = width;
            let page = state.page;
            for vs in &mut state.views {
                scroll(vs, page);
            }
            Vec::new()
        }
        Msg::Tick { now_ms } => {
            state.now_ms = now_ms;
            if state.toast.as_ref().is_some_and(|t| t.2 <= now_ms) {
                state.toast = None;
            }
            Vec::new()
        }
        Msg::Refined {
            view,
            ticket,
            visible,
            found,
            decided,
        } => {
            let page = state.page.max(1);
            let vs = &mut state.views[view.index()];
            let Some((_, mut q)) = vs.requested.take_if(|(t, _)| *t == ticket) else {
                // A newer request is out: this answer is stale (a relocation still pending
                // rides on the newer one).
                return Vec::new();
            };
            q.decided = decided;
            vs.applied = q;
            vs.visible = visible;
            let mut kept = None;
            if let Some(f) = found
                && vs.relocate.take().is_some()
            {
                vs.keep = f.under;
                kept = Some((f.marks.len(), std::mem::take(&mut vs.marks_had)));
                vs.marks.ids = f.marks.into_iter().collect();
            }
            vs.settle(page);
            if let Some((kept, had)) = kept.filter(|(_, had)| *had > 0) {
                let text = if kept == had {
                    format!("New snapshot: all {had} marks kept")
                } else {
                    format!(
                        "New snapshot: {kept} of {had} marks kept; the rest are gone from it or were \"all matching\" (decisions are kept)"
                    )
                };
                state.notify(&text, Level::Info);
            }
            Vec::new()
        }
        Msg::RefineFailed { view, ticket } => {
            let page = state.page.max(1);
            let vs = &mut state.views[view.index()];
            if vs.requested.take_if(|(t, _)| *t == ticket).is_none() {
                return Vec::new();
            }
            // Nothing is left waiting: every row in the table's own order (no worker needed),
            // the filter and sort dropped so what is shown is what the view says it shows.
            // The marks go too: `*` marks are the failed query, which this thread would run
            // to draw and count them.
            vs.relocate = None;
            vs.marks_had = 0;
            vs.marks = Marks::default();
            vs.filter.clear();
            vs.applied = Query::default();
            vs.sort = None;
            vs.error = None;
            vs.visible = Arc::new((0..vs.table.rows.len() as u32).collect());
            vs.settle(page);
            state.notify(
                format!(
                    "{}: could not filter or sort its rows (an internal error, in the log): every row is shown, unfiltered, unsorted and unmarked",
                    view.title()
                ),
                Level::Error,
            );
            Vec::new()
        }
        Msg::Data(d) => state.load(d),
        Msg::Review(r) => state.set_review(r),
        Msg::Notice(text) => {
            // News of others' acts never hides a warning still showing (the marks a reload
            // cost, say): both are said.
            match &state.toast {
                Some((old, level, until)) if *level != Level::Info && *until > state.now_ms => {
                    let (old, level) = (old.clone(), *level);
                    state.toast = Some((format!("{text} · {old}"), level, state.now_ms + TOAST_MS));
                }
                _ => state.notify(text, Level::Info),
            }
            Vec::new()
        }
        Msg::Acted(text) => {
            state.views[ViewId::Queue.index()].marks = Marks::default();
            state.notify(text, Level::Info);
            Vec::new()
        }
        Msg::Recorded {
            batch,
            count,
            verdict,
        } => {
            state.recording = state.recording.saturating_sub(1);
            state.records_answered += 1;
            state.batch_sizes.insert(batch, (count, verdict));
            state.undo.push(batch);
            state.redo.clear();
            // The marks the decision was made on (in the view it was made in).
            let made_in = state.record_views.pop_front().unwrap_or(state.view);
            state.views[made_in.index()].marks = Marks::default();
            let verb = match verdict {
                Verdict::Certify => "Certified",
                Verdict::Revoke => "Revoke staged for",
                Verdict::Reassign => "Owner reassigned for",
                Verdict::Defer => "Deferred",
            };
            let undo = state.keymap.key_for(Layer::Normal, Action::Undo);
            let what = if count == 1 {
                "1 item".to_string()
            } else {
                format!("{count} items")
            };
            state.notify(
                format!("{verb} {what}: recorded ({undo} undoes)"),
                Level::Info,
            );
            let mut out = Vec::new();
            if verdict == Verdict::Reassign {
                out.push(Effect::Engine(Command::Load { preview: false }));
            }
            // A `u` that waited for this record undoes it now (it is the newest batch: later
            // records are not answered yet).
            let answered = state.records_answered;
            let due = state
                .undo_waiting
                .iter()
                .filter(|&&r| r == answered)
                .count();
            state.undo_waiting.retain(|&r| r != answered);
            for _ in 0..due {
                let recording = std::mem::take(&mut state.recording);
                out.extend(state.undo_last());
                state.recording = recording;
            }
            out
        }
        Msg::NotUndone { batch, undone, why } => {
            // Put the batch back where it was on the undo and redo stacks.
            let (from, to) = if undone {
                (&mut state.redo, &mut state.undo)
            } else {
                (&mut state.undo, &mut state.redo)
            };
            if let Some(i) = from.iter().rposition(|b| *b == batch) {
                from.remove(i);
                to.push(batch);
            }
            let what = if undone { "undone" } else { "redone" };
            state.notify(format!("Batch {batch} was NOT {what}: {why}"), Level::Error);
            Vec::new()
        }
        Msg::NotRecorded(e) => {
            state.recording = state.recording.saturating_sub(1);
            state.records_answered += 1;
            state.record_views.pop_front();
            let answered = state.records_answered;
            let before = state.undo_waiting.len();
            state.undo_waiting.retain(|&r| r != answered);
            let note = if state.undo_waiting.len() < before {
                "; the undo waiting for it was dropped"
            } else {
                ""
            };
            state.notify(format!("{e}{note}"), Level::Error);
            Vec::new()
        }
        Msg::SyncProgress(p) => {
            // A tick that lands after the sync ended reopens nothing.
            if state.sync.is_some() {
                state.sync = Some(p);
            }
            Vec::new()
        }
        Msg::SyncDone { ok, lines } => {
            state.sync = None;
            state.log.extend(lines.iter().cloned());
            if ok {
                state.notify(
                    "Sync finished: the views show the new snapshot",
                    Level::Info,
                );
            } else {
                let first = lines.iter().find(|l| l.contains("FAILED")).cloned();
                state.notify(
                    format!(
                        "Sync had failures: {} (:log has the details)",
                        first.unwrap_or_else(|| "see :log".into())
                    ),
                    Level::Error,
                );
            }
            Vec::new()
        }
        Msg::ApplyProgress(mut a) => {
            // Until the first call answers the run's total is not known: keep the plan's.
            if a.total == 0
                && let Some(before) = &state.applying
            {
                a.total = before.total;
            }
            state.applying = Some(a);
            Vec::new()
        }
        Msg::ApplyDone { ok, lines } => {
            state.applying = None;
            state.log.extend(lines.iter().cloned());
            let summary = lines.first().cloned().unwrap_or_default();
            if ok {
                state.notify(
                    format!(
                        "{summary} (:audit shows every call; the views show the snapshot from before: :sync reads the providers as they are now)"
                    ),
                    Level::Info,
                );
            } else {
                state.notify(
                    format!("{summary}: some calls failed; :log lists them, `recert apply --resume` retries"),
                    Level::Error,
                );
            }
            Vec::new()
        }
        Msg::Error(e) => {
            state.notify(e, Level::Error);
            Vec::new()
        }
        Msg::LoadFailed(e) => {
            state.loading = false;
            let shown = if state.data.partial.is_some() {
                " (what is shown comes from the stored digest; marks and decisions need the whole)"
            } else {
                ""
            };
            state.notify(
                format!(
                    "loading the snapshot failed: {e}{shown}. Fix the cause (:log has it), then run :sync or restart recert"
                ),
                Level::Error,
            );
            Vec::new()
        }
        Msg::Key(key) => {
            if let Some(action) = state.keymap.lookup(state.layer(), &key) {
                return state.apply(action);
            }
            if let KeyCode::Char(c) = key.code
                && !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            {
                return state.typed(c);
            }
            Vec::new()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
