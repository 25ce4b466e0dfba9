//! recert: access reviews for AI platforms. The map of the house as it stands (README.md says
//! what it does for its users; `design.md` the shape it grows toward).
//!
//! **Data flows one way.** [`connectors`] read each source's admin API over real HTTP (one
//! shared client, [`connectors::http`]: retries, pacing, a silence deadline, a body cap; every
//! request path built from typed, percent-encoded segments in [`connectors::path`]) into the
//! plain types of [`model`]. [`sync`] pulls every source at once and writes one snapshot to
//! the [`store`] (all SQL lives there, written once for both engines: SQLite embedded, or
//! PostgreSQL for a team; snapshots share unchanged rows, each row in `<table>_rows` valid
//! from one snapshot to another and read through a view named for the table;
//! `store::db` binds it to each, `store::pg` connects; team mode's
//! roles and row-level security are `store::team`, other sessions' changes `store::live`,
//! moving a store between engines `store::copy`). [`reconcile`] judges a snapshot against the
//! directory: pure functions from data to findings (`model::Archived` is the one rule for what
//! lives in an archived container: it grants nothing, so it raises nothing and is never
//! planned; `reconcile::accountable` is the one rule for who answers for a key: recert's
//! ownership record, else the provider's user, else its service account's recorded owner,
//! never a service account, used by the rules, the Keys view and its detail alike;
//! `model::Credential::place` the one phrase for where a key lives). The model's short text
//! held by the million (a grant's fields, a finding's labels) is `model::Label`, a
//! `CompactString`: inline up to 24 bytes.
//!
//! **Decisions and their effects.** [`review`] holds what a reviewer decided (and campaigns:
//! routing, delegation, sign-off). [`remediate`] turns revoke decisions into a plan, a set of
//! effects (each call once, covered calls recorded, earlier plans' calls not resent, never a
//! call that deletes the admin key recert runs with; [`remediate::recheck`] proves done calls
//! with a read), and [`remediate::apply`] sends a plan: journaled before each call, one
//! applier per plan (a lock in the store), a lost answer re-read before a resend, a call whose
//! decisions were withdrawn abandoned instead. [`audit`] is the hash chain every change is
//! recorded in, what `audit verify` proves (the chain, its head, and that the store's rows
//! still say what it recorded, both ways), the evidence pack and campaign report, and the
//! chain as OCSF events for a SIEM ([`audit::ocsf`], verifiable from its copy).
//!
//! **Trust boundaries.** [`secret`] is the one redactor: every secret the process holds, in
//! every form (and the text read through escapes and separators, so an echoed secret written
//! another way is found), scrubbed before anything is printed, logged, stored or exported; panics
//! included: [`crash`] is the one panic hook (redacted, to the log, and to the terminal only
//! from the thread that owns it).
//! [`model::text`] is the one sanitizer and the one CSV and JSON writer for provider text.
//!
//! **The engine and its two front ends.** [`engine`] holds the use cases, each written once:
//! loading (a snapshot judged, its stored digest first: a cache keyed by the snapshot, the
//! rules, the owners and the build, [`reconcile::digest::BUILD`]), the review read model (with
//! what each decision's plan did and whether a revoke landed after a snapshot: one reading of
//! the journal for the console's marks and `recert gaps`/`person`), deciding
//! (record, undo, redo), a reviewer's acts on a campaign queue and the one delegation policy,
//! applying a plan (the unfinished-plan guard, what is pending, storing under the write lock,
//! clients, the summary), incidents (the key a hint names, the decisions a leaked key or a
//! person's sweep makes) and the setup check (`doctor`).
//! [`engine::Engine`] is the engine a console talks to: commands in, events out, one thread
//! owning the store handle (opened again when a PostgreSQL session is lost; hearing other
//! processes' commits by NOTIFY there, by SQLite's change counter here) and one tokio
//! runtime; what it reads is published as `Arc` plus a generation, never sent through a
//! channel. [`tui`] (the console) is a thin client: the
//! terminal, the draw loop, the filter worker (one `Refine` job answered one way, on the
//! worker with its cache of sorted orders or at once for a small table), and a pure `update`
//! whose effects are engine commands. [`cli`] (the commands) parses, calls the engine's use cases and prints, one
//! file per command group. Nothing below the front ends knows a terminal.
//!
//! [`sim`] is the provider simulator the demo, the tests and the benchmarks run against, with
//! its planted ground truth, faults and hostile text. [`config`] reads the TOML config (keys
//! only from the keyring or the environment). [`compute`] is the pool bulk work (reconcile,
//! filters, sorts) runs on, below the priority of the threads a person waits on.
//!
//! **Where new things go** (each touches the fewest files the design allows today):
//! - *A gap rule*: its entry in the catalogue (`reconcile::RULES`: id, severity, what it
//!   means) and its pass in `reconcile/mod.rs`; the simulator plants it where the generator
//!   decides it (`sim/world/<provider>.rs`) or the oracle derives it (`sim/truth.rs`), and
//!   `tests/ground_truth.rs` then holds recert to it on every seed; a row in the README's
//!   rule table.
//! - *A provider*: its wire format and paging in `connectors/<provider>/` (through
//!   `connectors::http` and `connectors::path`), one arm in `connectors::fetch` and its kind
//!   in `config.rs`; the calls that revoke in `remediate/mod.rs`; its simulated org in
//!   `sim/world/<provider>.rs` and its API in `sim/<provider>.rs`.
//! - *A directory kind* (SCIM, CSV, Okta, Entra today): its wire format in
//!   `connectors/<kind>/`, paging by next-page URL through `connectors::directory::follow`
//!   (kept within the base URL) and people and group memberships through
//!   `connectors::directory` (unreadable groups leave people with groups unknown); its kind
//!   in `model::SourceKind` and its settings checked in `config.rs`; its API in
//!   `sim/<kind>.rs`, served from the world's one directory, and a `sim::Directory` variant
//!   so `recert demo|sim --directory` and the ground-truth tests can read through it. What an
//!   identity provider says beyond the people (the AI platforms' apps and who is assigned
//!   them, provisioning pushes, sign-ins, leave dates) is `model::Signals`, `model::IdpApp`
//!   and `model::AppAccess`, built by `connectors::directory::app_data` from each kind's
//!   reading, judged in `reconcile/idp.rs`, simulated in `sim/world/idp.rs` and derived
//!   independently by `sim::truth::idp` (`sim::truth_for` a directory kind).
//! - *A provenance feed* (what a provider's own records say: who created a key, a user's last
//!   login): its reading in `connectors/<provider>/` into `model::Provenance` facts and a
//!   `model::Feed` saying how far it was read (or why not: never a failed sync), looked up by
//!   `reconcile::provenance::Facts` for the rules and by `provenance::about` for the panes;
//!   OpenAI's audit log is `connectors/openai/audit.rs`, simulated from the world's own events
//!   (`OpenAiOrg::audit`, made in `sim/world/openai.rs`). A feed read over a window (audit
//!   logs, usage reports) goes through `connectors::feed::Window`: read whole once, then on
//!   from the last good read (`Store::prior`), keeping the last read's facts still inside it.
//!   Every window is counted from the sync's one clock (`sync::sync_at`'s `now`, passed to
//!   `connectors::fetch`), never from a connector's own reading of the time.
//! - *A console view*: one file in `tui/views/` implementing `tui::views::View` (name,
//!   title, whether its rows take decisions, its empty message, its detail pane, what a row is
//!   about for a decision, where `Enter` leads) with its table beside it; a `ViewId` variant,
//!   after which the compiler asks for its arm in `views::of`.
//! - *A command*: its arguments and dispatch in `main.rs`, its printing in
//!   `cli/<group>.rs` (a table through `model::text::columns`, which sanitizes and aligns), its work in the engine module of its use case (`engine/<use case>.rs`),
//!   never in the front end; a row in the README's command table.
//!
//! Data flows one way: `model` is the bottom; `connectors` read into it, `sync` writes
//! snapshots to `store`, `reconcile` judges them, `review` and `remediate` decide and plan,
//! `engine` runs the use cases, and `cli` and `tui` are the front ends. No two modules depend
//! on each other (the executor reaches the store through `remediate::apply::Journal`; the
//! simulator's oracle reads the world, never the other way round).

/// mimalloc: reconciling a million grants makes millions of small strings on both cores, and
/// glibc's allocator took about half that time (BENCHMARKS.md, Reconcile).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod audit;
pub mod cli;
pub mod compute;
pub mod config;
pub mod connectors;
pub mod crash;
pub mod engine;
pub mod model;
pub mod notify;
pub mod reconcile;
pub mod remediate;
pub mod review;
pub mod secret;
pub mod sim;
pub mod store;
pub mod sync;
pub mod tui;
