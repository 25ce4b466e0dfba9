//! Key bindings as data: a TOML table of layers (`normal`, `filter`, `help`), each entry naming
//! an action by string, with a description the help overlay shows.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

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
    ClearFilter,
    Help,
    Quit,
    Accept,
    Cancel,
    DeleteChar,
    ClearInput,
    Close,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "down" => Action::Down,
            "up" => Action::Up,
            "page_down" => Action::PageDown,
            "page_up" => Action::PageUp,
            "top" => Action::Top,
            "bottom" => Action::Bottom,
            "filter" => Action::Filter,
            "clear_filter" => Action::ClearFilter,
            "help" => Action::Help,
            "quit" => Action::Quit,
            "accept" => Action::Accept,
            "cancel" => Action::Cancel,
            "delete_char" => Action::DeleteChar,
            "clear_input" => Action::ClearInput,
            "close" => Action::Close,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    Normal,
    Filter,
    Help,
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
    pub normal: Vec<Binding>,
    pub filter: Vec<Binding>,
    pub help: Vec<Binding>,
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
    help: Vec<RawEntry>,
}

pub const DEFAULT: &str = include_str!("keymap.toml");

/// `j`, `G`, `/`, `down`, `pgdn`, `ctrl-c`, `esc`...
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
            normal: layer(raw.normal, "normal")?,
            filter: layer(raw.filter, "filter")?,
            help: layer(raw.help, "help")?,
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
        for (mine, theirs) in [
            (&mut km.normal, user.normal),
            (&mut km.filter, user.filter),
            (&mut km.help, user.help),
        ] {
            for b in theirs {
                mine.retain(|d| d.action != b.action);
                mine.push(b);
            }
        }
        Ok(km)
    }

    pub fn layer(&self, l: Layer) -> &[Binding] {
        match l {
            Layer::Normal => &self.normal,
            Layer::Filter => &self.filter,
            Layer::Help => &self.help,
        }
    }

    pub fn lookup(&self, l: Layer, key: &KeyEvent) -> Option<Action> {
        let mods = key.modifiers & KeyModifiers::CONTROL;
        self.layer(l)
            .iter()
            .find(|b| b.keys.iter().any(|(c, m)| *c == key.code && *m == mods))
            .map(|b| b.action)
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
        assert_eq!(km.lookup(Layer::Filter, &k(KeyCode::Char('j'))), None);
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
