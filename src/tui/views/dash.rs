//! The dashboard: counts by rule, severity, provider and source (drawn by `view::dashboard`; no table).

use super::*;

pub struct Dash;

impl View for Dash {
    fn id(&self) -> ViewId {
        ViewId::Dash
    }
    fn name(&self) -> &'static str {
        "dash"
    }
    fn title(&self) -> &'static str {
        "Dashboard"
    }
    fn decidable(&self) -> bool {
        false
    }
    fn shows_decisions(&self) -> bool {
        false
    }
    fn empty(&self) -> &'static str {
        "Nothing here in this snapshot."
    }
    fn detail<'a>(&self, _: &State, _: &Theme, _: u32) -> Vec<Line<'a>> {
        Vec::new()
    }
}
