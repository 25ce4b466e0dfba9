//! Each console view in one file, behind one trait (as k9s keeps a view per resource): its
//! name and title, whether its rows take decisions, what it says when empty, its detail pane,
//! what a row is about for a decision, where `Enter` on a row leads, and the table it shows (an `impl Data` or `impl Review` block beside it, built off the UI
//! thread). [`of`] maps every [`ViewId`] to its view with an exhaustive match, so a new view
//! does not compile until each part is written.

pub mod audit;
pub mod dash;
pub mod decisions;
pub mod gaps;
pub mod keys;
pub mod people;
pub mod queue;
pub mod resources;

pub(crate) use super::state::State;
pub(crate) use super::table::{Column, NONE, Row, Table, Tone, Unit};
pub(crate) use super::theme::Theme;
pub(crate) use crate::model::text::sanitize;
pub(crate) use crate::review::{Target, Verdict};
pub(crate) use crate::tui::data::*;
pub(crate) use crate::tui::view::*;

pub(crate) use ratatui::text::{Line, Span};

/// What a console view is.
pub trait View: Sync {
    fn id(&self) -> ViewId;
    /// Its `:name` (lower case).
    fn name(&self) -> &'static str;
    /// Its title in the header and the table's border.
    fn title(&self) -> &'static str;
    /// Its rows take decisions (certify, revoke, reassign, defer) and `decision:` filters.
    fn decidable(&self) -> bool;
    /// Each row shows the decision standing for it in the first column.
    fn shows_decisions(&self) -> bool;
    /// What the table says when the snapshot gives it no rows.
    fn empty(&self) -> &'static str;
    /// The detail pane for the row showing `item`.
    fn detail<'a>(&self, s: &State, t: &Theme, item: u32) -> Vec<Line<'a>>;
    /// What the row showing `item` is about, for decisions: `(target, label, rule)`. Every
    /// decidable view but the queue (whose items are the campaign's) answers it: a test holds
    /// each to it. The default: its rows take no decision of their own.
    fn target(&self, _: &Data, _: u32) -> Option<(Target, String, Option<String>)> {
        None
    }
    /// The provider id of [`View::target`]'s target, without building it (a quick first test
    /// when looking rows up among a million).
    fn target_id<'d>(&self, _: &'d Data, _: u32) -> Option<&'d str> {
        None
    }
    /// Where `Enter` on the row showing `item` leads (k9s's drill-in); the default: nowhere.
    fn drill(&self, _: &Data, _: u32) -> Option<Drill> {
        None
    }
}

/// The view behind `id`.
pub fn of(id: ViewId) -> &'static dyn View {
    match id {
        ViewId::Dash => &dash::Dash,
        ViewId::Gaps => &gaps::Gaps,
        ViewId::People => &people::People,
        ViewId::Keys => &keys::Keys,
        ViewId::Resources => &resources::Resources,
        ViewId::Decisions => &decisions::Decisions,
        ViewId::Audit => &audit::Audit,
        ViewId::Queue => &queue::QueueView,
    }
}
