//! Key bindings as data: a TOML table of layers (`normal`, `filter`, `command`, `prompt`,
//! `picker`, `help`), each entry naming an action by string, with a description the help
//! overlay shows.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::data::ViewId;

/// Everything a key can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Filter,
    Command,
    /// Esc in the list: the range anchor, then the marks, then the filter.
    ClearFilter,
    Help,
    Quit,
    Accept,
    Cancel,
    DeleteChar,
    ClearInput,
    /// Delete the word before the cursor (Ctrl-w, as in a shell).
    DeleteWord,
    /// Shift-Tab: the view before this one.
    PrevView,
    /// Copy the selected row's id to the clipboard (OSC 52).
    Copy,
    Complete,
    Close,
    Mark,
    MarkRange,
    MarkAll,
    Certify,
    Revoke,
    Reassign,
    /// Reassign to the owner recert suggests (a service account's creator).
    AcceptSuggested,
    Defer,
    Sweep,
    Undo,
    Redo,
    SortNext,
    SortReverse,
    NextView,
    /// `Up`/`Down` in the filter bar: an earlier / later filter.
    HistoryPrev,
    HistoryNext,
    /// `Enter` on a row: open what it is about (k9s's drill-in); `Esc` goes back.
    Open,
    /// Columns that do not fit: scroll them (`h`/`l`, as in k9s).
    ScrollLeft,
    ScrollRight,
    /// In the audit view: reverse a call where the provider allows it.
    Reverse,
    /// `→`/`End` in the filter bar: keep the kept filter (shown selected) and type after it.
    Extend,
    /// The selected row's whole detail, scrolling (`z`, as in a pane zoom).
    Detail,
    View(ViewId),
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        if s == "view_queue" {
            return Some(Action::View(ViewId::Queue));
        }
        if let Some(v) = s.strip_prefix("view_") {
            return ViewId::ALL
                .iter()
                .find(|x| x.name() == v)
                .map(|x| Action::View(*x));
        }
        Some(match s {
            "down" => Action::Down,
            "up" => Action::Up,
            "page_down" => Action::PageDown,
            "page_up" => Action::PageUp,
            "top" => Action::Top,
            "bottom" => Action::Bottom,
            "filter" => Action::Filter,
            "command" => Action::Command,
            "clear_filter" => Action::ClearFilter,
            "help" => Action::Help,
            "quit" => Action::Quit,
            "accept" => Action::Accept,
            "cancel" => Action::Cancel,
            "delete_char" => Action::DeleteChar,
            "clear_input" => Action::ClearInput,
            "delete_word" => Action::DeleteWord,
            "prev_view" => Action::PrevView,
            "copy" => Action::Copy,
            "complete" => Action::Complete,
            "close" => Action::Close,
            "mark" => Action::Mark,
            "mark_range" => Action::MarkRange,
            "mark_all" => Action::MarkAll,
            "certify" => Action::Certify,
            "revoke" => Action::Revoke,
            "reassign" => Action::Reassign,
            "accept_suggested" => Action::AcceptSuggested,
            "defer" => Action::Defer,
            "sweep" => Action::Sweep,
            "detail" => Action::Detail,
            "undo" => Action::Undo,
            "redo" => Action::Redo,
            "sort_next" => Action::SortNext,
            "sort_reverse" => Action::SortReverse,
            "next_view" => Action::NextView,
            "scroll_left" => Action::ScrollLeft,
            "open" => Action::Open,
            "history_prev" => Action::HistoryPrev,
            "history_next" => Action::HistoryNext,
            "scroll_right" => Action::ScrollRight,
            "reverse" => Action::Reverse,
            "extend" => Action::Extend,
            _ => return None,
        })
    }

    /// Decision keys: refused in read-only mode.
    pub fn decides(self) -> bool {
        matches!(
            self,
            Action::Certify
                | Action::Revoke
                | Action::Reassign
                | Action::AcceptSuggested
                | Action::Defer
                | Action::Sweep
                | Action::Undo
                | Action::Redo
                | Action::Reverse
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    Normal,
    Filter,
    Command,
    Prompt,
    Picker,
    Help,
}

impl Layer {
    pub const ALL: [(Layer, &'static str, &'static str); 6] = [
        (Layer::Normal, "normal", "Lists"),
        (Layer::Filter, "filter", "Filter (after /)"),
        (Layer::Command, "command", "Commands (after :)"),
        (
            Layer::Prompt,
            "prompt",
            "Prompts and confirmations (justification, date, submit, apply)",
        ),
        (Layer::Picker, "picker", "Owner picker"),
        (Layer::Help, "help", "Help and log"),
    ];
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub keys: Vec<(KeyCode, KeyModifiers)>,
    pub labels: Vec<String>,
    pub action: Action,
    pub desc: String,
}

#[derive(Clone, Debug, Default)]
pub struct Keymap {
    layers: Vec<(Layer, Vec<Binding>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    keys: Vec<String>,
    action: String,
    #[serde(default)]
    desc: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawKeymap {
    #[serde(default)]
    normal: Vec<RawEntry>,
    #[serde(default)]
    filter: Vec<RawEntry>,
    #[serde(default)]
    command: Vec<RawEntry>,
    #[serde(default)]
    prompt: Vec<RawEntry>,
    #[serde(default)]
    picker: Vec<RawEntry>,
    #[serde(default)]
    help: Vec<RawEntry>,
}

pub const DEFAULT: &str = include_str!("keymap.toml");

/// `j`, `G`, `/`, `down`, `pgdn`, `ctrl-c`, `esc`, `space`, `tab`...
pub fn parse_key(s: &str) -> Option<(KeyCode, KeyModifiers)> {
    let (mods, name) = match s.strip_prefix("ctrl-") {
        Some(rest) => (KeyModifiers::CONTROL, rest),
        None => (KeyModifiers::NONE, s),
    };
    let code = match name {
        "down" => KeyCode::Down,
        "up" => KeyCode::Up,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pgdn" => KeyCode::PageDown,
        "pgup" => KeyCode::PageUp,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "backspace" => KeyCode::Backspace,
        "space" => KeyCode::Char(' '),
        n if n.chars().count() == 1 => KeyCode::Char(n.chars().next()?),
        _ => return None,
    };
    Some((code, mods))
}

fn label(s: &str) -> String {
    match s {
        "down" => "↓".into(),
        "up" => "↑".into(),
        "pgdn" => "PgDn".into(),
        "pgup" => "PgUp".into(),
        "home" => "Home".into(),
        "end" => "End".into(),
        "enter" => "Enter".into(),
        "esc" => "Esc".into(),
        "tab" => "Tab".into(),
        "backtab" => "Shift-Tab".into(),
        "space" => "Space".into(),
        "backspace" => "Bksp".into(),
        s if s.starts_with("ctrl-") => format!("Ctrl-{}", &s[5..]),
        s => s.into(),
    }
}

fn layer(raw: Vec<RawEntry>, name: &str) -> Result<Vec<Binding>, String> {
    raw.into_iter()
        .map(|e| {
            let action = Action::parse(&e.action)
                .ok_or_else(|| format!("[{name}] unknown action '{}'", e.action))?;
            let keys = e
                .keys
                .iter()
                .map(|k| parse_key(k).ok_or_else(|| format!("[{name}] unknown key '{k}'")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Binding {
                keys,
                labels: e.keys.iter().map(|k| label(k)).collect(),
                action,
                desc: e.desc,
            })
        })
        .collect()
}

impl Keymap {
    pub fn parse(text: &str) -> Result<Keymap, String> {
        let raw: RawKeymap = toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(Keymap {
            layers: vec![
                (Layer::Normal, layer(raw.normal, "normal")?),
                (Layer::Filter, layer(raw.filter, "filter")?),
                (Layer::Command, layer(raw.command, "command")?),
                (Layer::Prompt, layer(raw.prompt, "prompt")?),
                (Layer::Picker, layer(raw.picker, "picker")?),
                (Layer::Help, layer(raw.help, "help")?),
            ],
        })
    }

    pub fn default_map() -> Keymap {
        Keymap::parse(DEFAULT).expect("the built-in keymap parses")
    }

    /// The defaults with a user's file laid over them: a user entry for an action replaces the
    /// default entry for that action in that layer.
    pub fn with_overrides(text: &str) -> Result<Keymap, String> {
        let user = Keymap::parse(text)?;
        let mut km = Keymap::default_map();
        for ((_, mine), (_, theirs)) in km.layers.iter_mut().zip(user.layers) {
            for b in theirs {
                mine.retain(|d| d.action != b.action);
                // The user's key wins over a default bound to the same key.
                for d in mine.iter_mut() {
                    d.keys.retain(|k| !b.keys.contains(k));
                }
                mine.push(b);
            }
        }
        Ok(km)
    }

    pub fn layer(&self, l: Layer) -> &[Binding] {
        self.layers
            .iter()
            .find(|(x, _)| *x == l)
            .map(|(_, b)| b.as_slice())
            .unwrap_or(&[])
    }

    pub fn lookup(&self, l: Layer, key: &KeyEvent) -> Option<Action> {
        let mods = key.modifiers & KeyModifiers::CONTROL;
        self.layer(l)
            .iter()
            .find(|b| b.keys.iter().any(|(c, m)| *c == key.code && *m == mods))
            .map(|b| b.action)
    }

    /// The first key bound to `action` in `layer`, for hints ("u undoes").
    pub fn key_for(&self, l: Layer, action: Action) -> String {
        self.layer(l)
            .iter()
            .find(|b| b.action == action)
            .and_then(|b| b.labels.first().cloned())
            .unwrap_or_else(|| "?".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_resolve() {
        let km = Keymap::default_map();
        let k = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert_eq!(
            km.lookup(Layer::Normal, &k(KeyCode::Char('j'))),
            Some(Action::Down)
        );
        assert_eq!(
            km.lookup(Layer::Normal, &k(KeyCode::Char('G'))),
            Some(Action::Bottom)
        );
        assert_eq!(
            km.lookup(
                Layer::Normal,
                &KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            km.lookup(Layer::Normal, &k(KeyCode::Char('3'))),
            Some(Action::View(ViewId::People))
        );
        assert_eq!(km.lookup(Layer::Filter, &k(KeyCode::Char('j'))), None);
        // Destructive decisions are never on a bare Ctrl chord.
        for b in km.layer(Layer::Normal) {
            if matches!(b.action, Action::Revoke | Action::Sweep) {
                assert!(b.keys.iter().all(|(_, m)| m.is_empty()), "{b:?}");
            }
        }
    }

    #[test]
    fn overrides_replace_an_action_and_bad_entries_are_named() {
        let km = Keymap::with_overrides(
            "[[normal]]\nkeys = [\"x\"]\naction = \"quit\"\ndesc = \"Leave\"\n",
        )
        .unwrap();
        let k = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert_eq!(
            km.lookup(Layer::Normal, &k(KeyCode::Char('x'))),
            Some(Action::Quit)
        );
        assert_eq!(km.lookup(Layer::Normal, &k(KeyCode::Char('q'))), None);
        // `x` was the sweep key: the user's binding took it.
        assert!(
            km.layer(Layer::Normal)
                .iter()
                .any(|b| b.action == Action::Sweep)
        );
        assert!(
            Keymap::parse("[[normal]]\nkeys=[\"j\"]\naction=\"fly\"\n")
                .unwrap_err()
                .contains("fly")
        );
        assert!(
            Keymap::parse("[[normal]]\nkeys=[\"hyper-j\"]\naction=\"up\"\n")
                .unwrap_err()
                .contains("hyper-j")
        );
    }
}
