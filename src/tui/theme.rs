//! Themes are semantic roles (`danger`, `muted`, `selection`...) read from TOML, with partial
//! overrides over the built-in default. `NO_COLOR` drops every colour and keeps only
//! modifiers (bold, reversed), so selection and danger stay visible.

use std::collections::HashMap;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

pub const DEFAULT: &str = include_str!("../../themes/dark.toml");

#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Style,
    pub muted: Style,
    pub accent: Style,
    pub header: Style,
    pub status: Style,
    pub selection: Style,
    pub danger: Style,
    pub warn: Style,
    pub ok: Style,
    pub info: Style,
    pub border: Style,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    roles: HashMap<String, String>,
}

const ROLES: &[&str] = &[
    "text",
    "muted",
    "accent",
    "header_fg",
    "header_bg",
    "status_fg",
    "status_bg",
    "selection_fg",
    "selection_bg",
    "danger",
    "warn",
    "ok",
    "info",
    "border",
];

fn color(s: &str) -> Result<Color, String> {
    s.parse::<Color>()
        .map_err(|_| format!("'{s}' is not a colour"))
}

impl Theme {
    /// The built-in default with `overlay` (a theme file's text) laid over it.
    pub fn load(overlay: Option<&str>, no_color: bool) -> Result<Theme, String> {
        let base: RawTheme = toml::from_str(DEFAULT).expect("built-in theme parses");
        let mut roles = base.roles;
        let mut name = base.name.unwrap_or_default();
        if let Some(text) = overlay {
            let over: RawTheme = toml::from_str(text).map_err(|e| e.to_string())?;
            for (k, v) in over.roles {
                if !ROLES.contains(&k.as_str()) {
                    return Err(format!(
                        "unknown theme role '{k}'; the roles are {}",
                        ROLES.join(", ")
                    ));
                }
                roles.insert(k, v);
            }
            if let Some(n) = over.name {
                name = n;
            }
        }
        let c = |k: &str| -> Result<Color, String> {
            if no_color {
                return Ok(Color::Reset);
            }
            color(roles.get(k).map(String::as_str).unwrap_or("reset"))
        };
        let fg = |k: &str| -> Result<Style, String> { Ok(Style::new().fg(c(k)?)) };
        Ok(Theme {
            name,
            text: fg("text")?,
            muted: fg("muted")?,
            accent: fg("accent")?.add_modifier(Modifier::BOLD),
            header: Style::new()
                .fg(c("header_fg")?)
                .bg(c("header_bg")?)
                .add_modifier(Modifier::BOLD),
            status: Style::new().fg(c("status_fg")?).bg(c("status_bg")?),
            selection: Style::new()
                .fg(c("selection_fg")?)
                .bg(c("selection_bg")?)
                .add_modifier(if no_color {
                    Modifier::REVERSED
                } else {
                    Modifier::empty()
                }),
            danger: fg("danger")?.add_modifier(Modifier::BOLD),
            warn: fg("warn")?,
            ok: fg("ok")?,
            info: fg("info")?,
            border: fg("border")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_overrides_and_no_color() {
        let t = Theme::load(Some("[roles]\ndanger = \"#ff0000\"\n"), false).unwrap();
        assert_eq!(t.danger.fg, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(t.ok.fg, Some(Color::Green));
        let plain = Theme::load(None, true).unwrap();
        assert_eq!(plain.danger.fg, Some(Color::Reset));
        assert!(plain.selection.add_modifier.contains(Modifier::REVERSED));
        assert!(
            Theme::load(Some("[roles]\nsparkle = \"red\"\n"), false)
                .unwrap_err()
                .contains("sparkle")
        );
        assert!(Theme::load(Some("[roles]\nok = \"chartreuse-ish\"\n"), false).is_err());
    }
}
