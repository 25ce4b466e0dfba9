//! The console's state and its pure `update`: (state, message) → (state', effects). No I/O, no
//! terminal: every behaviour here is unit-tested.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

use super::keymap::{Action, Keymap, Layer};
use crate::model::Finding;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Filter,
    Help,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// The body's height in rows changed (the view reports it after a resize).
    Resize {
        rows: usize,
    },
}

/// What the driver must do after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
}

/// The findings screen.
pub struct State {
    pub findings: Arc<Vec<Finding>>,
    /// Lower-cased searchable fields per finding, built once. A filter term must match inside
    /// one field: letters scattered across a whole row match nearly anything.
    haystacks: Vec<[String; 6]>,
    /// Indices into `findings` that pass the filter, in display order.
    pub visible: Vec<usize>,
    pub cursor: usize,
    pub offset: usize,
    /// Rows the table can show (kept current by the driver).
    pub page: usize,
    pub filter: String,
    pub mode: Mode,
    pub keymap: Keymap,
    /// A title for the header: which snapshot, when, how each source fared.
    pub context: String,
    pub read_only: bool,
}

impl State {
    pub fn new(findings: Vec<Finding>, keymap: Keymap, context: String) -> State {
        let haystacks = findings
            .iter()
            .map(|f| {
                [
                    f.severity.as_str().to_string(),
                    f.rule.clone(),
                    f.provider.clone(),
                    f.subject_email.as_deref().unwrap_or("").to_lowercase(),
                    f.subject_id.to_lowercase(),
                    f.detail.to_lowercase(),
                ]
            })
            .collect();
        let visible = (0..findings.len()).collect();
        State {
            findings: Arc::new(findings),
            haystacks,
            visible,
            cursor: 0,
            offset: 0,
            page: 10,
            filter: String::new(),
            mode: Mode::Normal,
            keymap,
            context,
            read_only: false,
        }
    }

    pub fn current(&self) -> Option<&Finding> {
        self.visible.get(self.cursor).map(|&i| &self.findings[i])
    }

    fn layer(&self) -> Layer {
        match self.mode {
            Mode::Normal => Layer::Normal,
            Mode::Filter => Layer::Filter,
            Mode::Help => Layer::Help,
        }
    }

    /// Re-run the filter: every space-separated term must fuzzy-match; order is kept.
    fn refilter(&mut self) {
        let keep = self
            .current()
            .map(|f| (f.rule.clone(), f.subject_id.clone()));
        let terms: Vec<String> = self
            .filter
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        if terms.is_empty() {
            self.visible = (0..self.findings.len()).collect();
        } else {
            let m = SkimMatcherV2::default();
            self.visible = self
                .haystacks
                .iter()
                .enumerate()
                .filter(|(_, fields)| {
                    terms
                        .iter()
                        .all(|t| fields.iter().any(|f| compact_match(&m, f, t)))
                })
                .map(|(i, _)| i)
                .collect();
        }
        // Stay on the same finding when it is still visible.
        self.cursor = keep
            .and_then(|(r, s)| {
                self.visible
                    .iter()
                    .position(|&i| self.findings[i].rule == r && self.findings[i].subject_id == s)
            })
            .unwrap_or(0);
        self.scroll();
    }

    fn move_to(&mut self, cursor: usize) {
        self.cursor = cursor.min(self.visible.len().saturating_sub(1));
        self.scroll();
    }

    /// Keep the cursor inside the window of visible rows.
    fn scroll(&mut self) {
        let page = self.page.max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + page {
            self.offset = self.cursor + 1 - page;
        }
        let max_offset = self.visible.len().saturating_sub(page);
        self.offset = self.offset.min(max_offset);
    }

    fn apply(&mut self, action: Action) -> Vec<Effect> {
        let page = self.page.max(1);
        match action {
            Action::Down => self.move_to(self.cursor + 1),
            Action::Up => self.move_to(self.cursor.saturating_sub(1)),
            Action::PageDown => self.move_to(self.cursor + page),
            Action::PageUp => self.move_to(self.cursor.saturating_sub(page)),
            Action::Top => self.move_to(0),
            Action::Bottom => self.move_to(usize::MAX),
            Action::Filter => self.mode = Mode::Filter,
            Action::ClearFilter | Action::Cancel => {
                self.mode = Mode::Normal;
                if !self.filter.is_empty() {
                    self.filter.clear();
                    self.refilter();
                }
            }
            Action::Accept => self.mode = Mode::Normal,
            Action::DeleteChar => {
                if self.filter.pop().is_some() {
                    self.refilter();
                }
            }
            Action::ClearInput => {
                self.filter.clear();
                self.refilter();
            }
            Action::Help => self.mode = Mode::Help,
            Action::Close => self.mode = Mode::Normal,
            Action::Quit => return vec![Effect::Quit],
        }
        Vec::new()
    }
}

/// A fuzzy match whose matched letters lie close together: "orphan" finds "orphaned-key" and
/// "lvr" finds "leaver", but not letters strewn across a long sentence.
fn compact_match(m: &SkimMatcherV2, field: &str, term: &str) -> bool {
    match m.fuzzy_indices(field, term) {
        Some((_, idx)) => match (idx.first(), idx.last()) {
            (Some(a), Some(b)) => b - a < term.chars().count() * 2 + 3,
            _ => true,
        },
        None => false,
    }
}

/// The one entry point: apply a message, return what the driver must do.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Resize { rows } => {
            state.page = rows.max(1);
            state.scroll();
            Vec::new()
        }
        Msg::Key(key) => {
            if let Some(action) = state.keymap.lookup(state.layer(), &key) {
                return state.apply(action);
            }
            if state.mode == Mode::Filter
                && let KeyCode::Char(c) = key.code
                && !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            {
                state.filter.push(c);
                state.refilter();
            }
            Vec::new()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::Severity;

    pub fn sample(n: usize) -> Vec<Finding> {
        (0..n)
            .map(|i| Finding {
                rule: ["leaver-with-access", "orphaned-key", "unmanaged-account"][i % 3].into(),
                severity: if i % 3 == 2 {
                    Severity::High
                } else {
                    Severity::Critical
                },
                provider: "openai".into(),
                source: "openai".into(),
                subject_kind: if i % 3 == 1 { "api_key" } else { "account" }.into(),
                subject_id: format!("id-{i:03}"),
                subject_email: Some(format!("person{i:03}@example.com")),
                detail: format!("detail for {i}"),
            })
            .collect()
    }

    fn key(c: char) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }
    fn code(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }
    fn state(n: usize) -> State {
        let mut s = State::new(sample(n), Keymap::default_map(), "test".into());
        update(&mut s, Msg::Resize { rows: 5 });
        s
    }

    #[test]
    fn moves_pages_and_clamps() {
        let mut s = state(12);
        update(&mut s, key('j'));
        update(&mut s, code(KeyCode::Down));
        assert_eq!(s.cursor, 2);
        update(&mut s, code(KeyCode::PageDown));
        assert_eq!((s.cursor, s.offset), (7, 3));
        update(&mut s, key('G'));
        assert_eq!((s.cursor, s.offset), (11, 7));
        update(&mut s, key('j'));
        assert_eq!(s.cursor, 11);
        update(&mut s, key('g'));
        assert_eq!((s.cursor, s.offset), (0, 0));
        update(&mut s, key('k'));
        assert_eq!(s.cursor, 0);
    }

    #[test]
    fn filter_as_you_type_then_escape_restores() {
        let mut s = state(30);
        update(&mut s, key('/'));
        assert_eq!(s.mode, Mode::Filter);
        for c in "orphan".chars() {
            update(&mut s, key(c));
        }
        assert_eq!(s.visible.len(), 10);
        assert!(
            s.visible
                .iter()
                .all(|&i| s.findings[i].rule == "orphaned-key")
        );
        // `j` is text while filtering, not a movement.
        update(&mut s, key(' '));
        update(&mut s, key('0'));
        update(&mut s, key('2'));
        assert_eq!(s.filter, "orphan 02");
        assert!(
            s.visible
                .iter()
                .all(|&i| s.findings[i].subject_id.contains("02"))
        );
        update(&mut s, code(KeyCode::Enter));
        assert_eq!(s.mode, Mode::Normal);
        assert_eq!(s.filter, "orphan 02");
        update(&mut s, code(KeyCode::Esc));
        assert_eq!((s.visible.len(), s.filter.as_str()), (30, ""));
    }

    #[test]
    fn a_term_must_match_within_one_field() {
        let mut s = state(30);
        update(&mut s, key('/'));
        // "hig" + "0" would match across the severity and id fields of every high row.
        for c in "high0".chars() {
            update(&mut s, key(c));
        }
        assert!(s.visible.is_empty(), "{:?}", s.visible);
    }

    #[test]
    fn fuzzy_terms_must_be_compact() {
        let m = SkimMatcherV2::default();
        assert!(compact_match(&m, "orphaned-key", "orphan"));
        assert!(compact_match(&m, "leaver-with-access", "lvr"));
        assert!(compact_match(&m, "alice.smith@example.com", "alicesmith"));
        assert!(!compact_match(
            &m,
            "no directory person has this email; account on openai",
            "orphan"
        ));
    }

    #[test]
    fn cursor_stays_on_its_finding_when_the_filter_widens() {
        let mut s = state(30);
        update(&mut s, key('/'));
        for c in "id-013".chars() {
            update(&mut s, key(c));
        }
        assert_eq!(s.current().unwrap().subject_id, "id-013");
        update(&mut s, code(KeyCode::Esc));
        assert_eq!(s.current().unwrap().subject_id, "id-013");
        assert_eq!(s.cursor, 13);
    }

    #[test]
    fn backspace_help_and_quit() {
        let mut s = state(3);
        update(&mut s, key('/'));
        update(&mut s, key('z'));
        update(&mut s, key('z'));
        assert!(s.visible.is_empty());
        assert_eq!(s.current(), None);
        update(&mut s, code(KeyCode::Backspace));
        update(&mut s, code(KeyCode::Backspace));
        assert_eq!(s.visible.len(), 3);
        update(&mut s, code(KeyCode::Enter));
        update(&mut s, key('?'));
        assert_eq!(s.mode, Mode::Help);
        assert!(
            update(&mut s, key('q')).is_empty(),
            "q closes help, it does not quit"
        );
        assert_eq!(s.mode, Mode::Normal);
        assert_eq!(update(&mut s, key('q')), vec![Effect::Quit]);
    }

    #[test]
    fn empty_list_never_panics() {
        let mut s = state(0);
        for m in [
            key('j'),
            key('k'),
            key('G'),
            code(KeyCode::PageDown),
            key('g'),
        ] {
            update(&mut s, m);
        }
        assert_eq!((s.cursor, s.offset), (0, 0));
    }
}
