//! Wrapping a detail pane's lines with a hanging indent: a `label text` line that is too wide
//! goes on under its text, not under its label, so the labels stay a clean column:
//!
//! ```text
//!   subject service account search-bot (sa-12) in project
//!           Research
//! ```
//!
//! Lines are broken at spaces, and a word wider than the room is cut. Styles are kept
//! character by character. The result fits `width` exactly, so it is drawn without ratatui's
//! own wrapping and its row count is the number of lines.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// `lines` wrapped to `width` columns, each continuation indented under where the line's text
/// begins: after its first span when the line has a label span before its text (at most half
/// the width), else under its own leading spaces.
pub fn hang<'a>(lines: Vec<Line<'a>>, width: u16) -> Vec<Line<'a>> {
    let width = usize::from(width.max(1));
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        if line.width() <= width {
            out.push(line);
            continue;
        }
        let indent = indent_of(&line).min(width / 2);
        let cells: Vec<(char, Style)> = line
            .spans
            .iter()
            .flat_map(|s| s.content.chars().map(move |c| (c, s.style)))
            .collect();
        for (i, row) in rows(&cells, width, indent).into_iter().enumerate() {
            let mut spans = Vec::new();
            if i > 0 && indent > 0 {
                spans.push(Span::raw(" ".repeat(indent)));
            }
            spans.extend(runs(row));
            out.push(Line::from(spans).style(line.style));
        }
    }
    out
}

/// Where a line's text begins: after a label span (a line of two spans or more), else after its
/// leading spaces.
fn indent_of(line: &Line) -> usize {
    match line.spans.as_slice() {
        [label, _, ..] if !label.content.trim().is_empty() => label.width(),
        _ => {
            let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
            text.chars().take_while(|c| *c == ' ').count()
        }
    }
}

/// The cells broken into rows: the first `width` wide, the rest `width - indent`, each at the
/// last space that fits (the space itself dropped), else cut.
fn rows(cells: &[(char, Style)], width: usize, indent: usize) -> Vec<&[(char, Style)]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < cells.len() {
        let room = if out.is_empty() {
            width
        } else {
            width - indent
        };
        // The longest prefix that fits in `room` columns, and the last space in it.
        let (mut end, mut used, mut space) = (start, 0, None);
        while end < cells.len() {
            let w = cells[end].0.width().unwrap_or(0);
            if used + w > room {
                break;
            }
            if cells[end].0 == ' ' && end > start {
                space = Some(end);
            }
            used += w;
            end += 1;
        }
        if end == start {
            // Not even one character fits (a wide one in a one-column room): take it anyway.
            end = start + 1;
        }
        let cut = match space {
            Some(sp) if end < cells.len() && cells[end].0 != ' ' => sp,
            _ => end,
        };
        out.push(&cells[start..cut]);
        start = cut;
        // A continuation never starts with the space it broke at.
        while start < cells.len() && cells[start].0 == ' ' {
            start += 1;
        }
    }
    out
}

/// A row's cells as spans, one per run of one style.
fn runs<'a>(row: &[(char, Style)]) -> Vec<Span<'a>> {
    let mut spans: Vec<Span<'a>> = Vec::new();
    let mut text = String::new();
    let mut style = None;
    for &(c, st) in row {
        if style.is_some_and(|s| s != st) {
            spans.push(Span::styled(std::mem::take(&mut text), style.unwrap()));
        }
        style = Some(st);
        text.push(c);
    }
    if let Some(s) = style {
        spans.push(Span::styled(text, s));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Color;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn a_labelled_line_goes_on_under_its_text() {
        let label = Style::default().fg(Color::Gray);
        let body = Style::default().fg(Color::Red);
        let line = Line::from(vec![
            Span::styled("  subject ", label),
            Span::styled("service account search-bot in project Research", body),
        ]);
        let out = hang(vec![line], 30);
        assert_eq!(
            text(&out),
            [
                "  subject service account",
                "          search-bot in",
                "          project Research"
            ]
        );
        assert!(out.iter().all(|l| l.width() <= 30));
        // The text keeps its style on every row; the indent is plain.
        assert_eq!(out[1].spans[1].style, body);
        assert_eq!(out[0].spans[0].style, label);
    }

    #[test]
    fn lines_that_fit_or_have_no_label_and_words_too_long() {
        let fits = Line::from(vec![Span::raw("    why "), Span::raw("short")]);
        assert_eq!(text(&hang(vec![fits.clone()], 40)), ["    why short"]);
        // One span: under its own leading spaces.
        let plain = Line::from("  one two three four five six");
        assert_eq!(
            text(&hang(vec![plain], 12)),
            ["  one two", "  three four", "  five six"]
        );
        // A word wider than the room is cut, never lost.
        let long = Line::from(vec![Span::raw("key "), Span::raw("sk-abcdefghijklmnop")]);
        let out = text(&hang(vec![long], 10));
        assert_eq!(out.concat().replace(' ', ""), "keysk-abcdefghijklmnop");
        assert!(out.iter().all(|l| l.chars().count() <= 10), "{out:?}");
        // Wide characters count two columns and never split a row past its width.
        let wide = Line::from(vec![Span::raw("n "), Span::raw("表表表表表表")]);
        let out = hang(vec![wide], 7);
        assert!(out.iter().all(|l| l.width() <= 7), "{:?}", text(&out));
        assert_eq!(text(&out).concat().replace(' ', ""), "n表表表表表表");
        // A width of one never loops or panics.
        assert!(!hang(vec![Line::from("abc def")], 1).is_empty());
    }
}
