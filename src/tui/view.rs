//! Drawing: a pure function of the state. Only the visible rows are turned into widgets, so a
//! frame costs the same for fifty findings or a million.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::state::{Mode, State};
use super::theme::Theme;
use crate::model::text::sanitize;
use crate::model::{Finding, Severity};

pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;

struct Areas {
    header: Rect,
    table: Rect,
    detail: Rect,
    status: Rect,
}

fn areas(area: Rect) -> Areas {
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let (table, detail) = if body.width >= 110 {
        let [t, d] = Layout::horizontal([Constraint::Percentage(66), Constraint::Percentage(34)])
            .areas(body);
        (t, d)
    } else {
        let detail_h = if body.height >= 16 { 8 } else { 6 };
        let [t, d] = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Min(3), Constraint::Length(detail_h)])
            .areas(body);
        (t, d)
    };
    Areas {
        header,
        table,
        detail,
        status,
    }
}

/// How many rows of findings fit for a terminal of `width`×`height`.
pub fn table_rows(width: u16, height: u16) -> usize {
    let a = areas(Rect::new(0, 0, width, height));
    // Borders (2) and the column header (1).
    a.table.height.saturating_sub(3) as usize
}

pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::High => "HIGH",
        Severity::Medium => "MED",
        Severity::Low => "LOW",
        Severity::Info => "INFO",
    }
}

fn severity_style(t: &Theme, s: Severity) -> Style {
    match s {
        Severity::Critical => t.danger,
        Severity::High => t.warn,
        Severity::Medium => t.accent,
        Severity::Low | Severity::Info => t.muted,
    }
}

pub fn rule_explanation(rule: &str) -> &'static str {
    crate::reconcile::explain(rule)
}

pub fn draw(f: &mut Frame, s: &State, t: &Theme) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = vec![
            Line::from(Span::styled("terminal too small", t.warn)),
            Line::from(format!(
                "{}×{} — need {MIN_WIDTH}×{MIN_HEIGHT}",
                area.width, area.height
            )),
        ];
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let a = areas(area);
    header(f, s, t, a.header);
    table(f, s, t, a.table);
    detail(f, s, t, a.detail);
    status(f, s, t, a.status);
    if s.mode == Mode::Help {
        help(f, s, t, area);
    }
}

fn header(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let crit = s
        .findings
        .iter()
        .filter(|x| x.severity == Severity::Critical)
        .count();
    let text = format!(
        " recert · findings: {} ({} critical) · {}",
        s.findings.len(),
        crit,
        sanitize(&s.context)
    );
    f.render_widget(Paragraph::new(text).style(t.header), area);
}

fn table(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let rows_fit = area.height.saturating_sub(3) as usize;
    let end = (s.offset + rows_fit).min(s.visible.len());
    let rows: Vec<Row> = s.visible[s.offset.min(end)..end]
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let x = &s.findings[i];
            let selected = s.offset + n == s.cursor;
            let sev = Cell::from(severity_label(x.severity)).style(if selected {
                Style::default()
            } else {
                severity_style(t, x.severity)
            });
            let subject = x.subject_email.as_deref().unwrap_or(&x.subject_id);
            let row = Row::new(vec![
                sev,
                Cell::from(x.rule.clone()),
                Cell::from(sanitize(subject).into_owned()),
                Cell::from(x.provider.clone()),
                Cell::from(sanitize(&x.detail).into_owned()),
            ]);
            if selected {
                row.style(t.selection)
            } else {
                row.style(t.text)
            }
        })
        .collect();
    let wide = area.width >= 100;
    let widths = [
        Constraint::Length(4),
        Constraint::Length(18),
        Constraint::Length(if wide { 28 } else { 24 }),
        // "anthropic" is the longest provider name.
        Constraint::Length(9),
        Constraint::Min(10),
    ];
    let title = if s.filter.is_empty() {
        format!(" Gaps {} ", s.visible.len())
    } else {
        format!(
            " Gaps {}/{} matching /{} ",
            s.visible.len(),
            s.findings.len(),
            sanitize(&s.filter)
        )
    };
    let header = Row::new(vec!["SEV", "RULE", "SUBJECT", "PROVIDER", "DETAIL"])
        .style(t.muted.add_modifier(Modifier::BOLD));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(title, t.accent));
    let mut widget = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(1);
    if s.visible.is_empty() {
        widget = widget.footer(
            Row::new(vec![
                Cell::from(""),
                Cell::from(if s.findings.is_empty() {
                    "No gaps in this snapshot."
                } else {
                    "Nothing matches the filter (Esc clears it)."
                }),
            ])
            .style(t.muted),
        );
    }
    f.render_widget(widget, area);
}

fn field<'a>(t: &Theme, name: &'a str, value: String) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{name:>9} "), t.muted),
        Span::styled(sanitize(&value).into_owned(), t.text),
    ])
}

fn detail(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(" Detail ", t.accent));
    let Some(x) = s.current() else {
        f.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let lines = detail_lines(x, t);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn detail_lines<'a>(x: &'a Finding, t: &Theme) -> Vec<Line<'a>> {
    vec![
        Line::from(vec![
            Span::styled(format!("{:>9} ", "severity"), t.muted),
            Span::styled(x.severity.as_str(), severity_style(t, x.severity)),
        ]),
        field(t, "rule", x.rule.clone()),
        field(t, "subject", x.subject_kind.replace('_', " ")),
        field(t, "id", x.subject_id.clone()),
        field(
            t,
            "email",
            x.subject_email
                .clone()
                .unwrap_or_else(|| "(unknown)".into()),
        ),
        field(t, "source", format!("{} ({})", x.source, x.provider)),
        field(t, "why", x.detail.clone()),
        Line::from(Span::styled(rule_explanation(&x.rule), t.muted)),
    ]
}

fn status(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let pos = if s.visible.is_empty() {
        "0/0".to_string()
    } else {
        format!("{}/{}", s.cursor + 1, s.visible.len())
    };
    let left = match s.mode {
        Mode::Filter => format!(" /{}▏", sanitize(&s.filter)),
        _ if !s.filter.is_empty() => format!(" filter: {}", sanitize(&s.filter)),
        _ => String::new(),
    };
    let ro = if s.read_only { "READ-ONLY · " } else { "" };
    let hints = match s.mode {
        Mode::Filter => "Enter keep · Esc clear",
        Mode::Help => "Esc close",
        Mode::Normal => "? help · / filter · q quit",
    };
    let right = format!("{ro}{pos} · {hints} ");
    let width = area.width as usize;
    let pad = width.saturating_sub(left.chars().count() + right.chars().count());
    let line = Line::from(vec![
        Span::styled(left, t.status.add_modifier(Modifier::BOLD)),
        Span::styled(" ".repeat(pad), t.status),
        Span::styled(right, t.status),
    ]);
    f.render_widget(Paragraph::new(line).style(t.status), area);
}

fn help(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    use super::keymap::Layer;
    let mut lines = Vec::new();
    for (title, layer) in [("List", Layer::Normal), ("Filter (after /)", Layer::Filter)] {
        lines.push(Line::from(Span::styled(title, t.accent)));
        for b in s.keymap.layer(layer) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<22}", b.labels.join(", ")), t.text),
                Span::styled(b.desc.clone(), t.muted),
            ]));
        }
    }
    lines.push(Line::from(Span::styled(
        "Filter terms are space-separated; each must fuzzy-match severity, rule, provider, email, id or detail.",
        t.muted,
    )));
    let close = s
        .keymap
        .layer(Layer::Help)
        .first()
        .map(|b| b.labels.join("/"))
        .unwrap_or_else(|| "Esc".into());
    let w = area.width.saturating_sub(4).min(76);
    let h = (lines.len() as u16 + 3).min(area.height.saturating_sub(2));
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(t.accent)
                .title(Span::styled(format!(" Keys — {close} closes "), t.accent)),
        ),
        r,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::keymap::Keymap;
    use crate::tui::state::{Msg, tests::sample, update};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn render(s: &mut State, w: u16, h: u16, theme: &Theme) -> Terminal<TestBackend> {
        update(
            s,
            Msg::Resize {
                rows: table_rows(w, h),
            },
        );
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| draw(f, s, theme)).unwrap();
        term
    }

    fn text(term: &Terminal<TestBackend>) -> String {
        let buf = term.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    fn state() -> State {
        let mut f = sample(40);
        f[0].subject_email = Some("mallory\u{1b}]52;c;aGk=\u{7}@evil.example\nnext".into());
        State::new(
            f,
            Keymap::default_map(),
            "snapshot #1 · 2026-11-22 06:00 UTC".into(),
        )
    }

    fn key(s: &mut State, c: KeyCode) {
        update(s, Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)));
    }

    #[test]
    fn findings_80x24() {
        let t = Theme::load(None, false).unwrap();
        let mut s = state();
        key(&mut s, KeyCode::Char('j'));
        insta::assert_snapshot!(text(&render(&mut s, 80, 24, &t)));
    }

    #[test]
    fn findings_120x40() {
        let t = Theme::load(None, false).unwrap();
        let mut s = state();
        insta::assert_snapshot!(text(&render(&mut s, 120, 40, &t)));
    }

    #[test]
    fn filtered_and_help_80x24() {
        let t = Theme::load(None, false).unwrap();
        let mut s = state();
        for c in "/unmanaged".chars() {
            key(&mut s, KeyCode::Char(c));
        }
        insta::assert_snapshot!("filter_80x24", text(&render(&mut s, 80, 24, &t)));
        key(&mut s, KeyCode::Enter);
        key(&mut s, KeyCode::Char('?'));
        insta::assert_snapshot!("help_80x24", text(&render(&mut s, 80, 24, &t)));
    }

    #[test]
    fn no_control_characters_reach_the_buffer() {
        let t = Theme::load(None, false).unwrap();
        let mut s = state();
        let screen = text(&render(&mut s, 120, 40, &t));
        assert!(
            !screen.chars().any(|c| c.is_control() && c != '\n'),
            "{screen}"
        );
        assert!(
            screen.contains("mallory␛]52;c;aGk=␇@evil.example␊next"),
            "{screen}"
        );
    }

    #[test]
    fn selection_and_danger_styles() {
        let t = Theme::load(None, false).unwrap();
        let mut s = state();
        key(&mut s, KeyCode::Char('j'));
        let term = render(&mut s, 80, 24, &t);
        let buf = term.backend().buffer();
        // Row 0 of the table is at y=3 (header line, border, column titles); the cursor is on row 1.
        let selected = &buf[(10, 4)];
        assert_eq!(selected.bg, t.selection.bg.unwrap());
        let critical = &buf[(1, 3)];
        assert_eq!(critical.symbol(), "C");
        assert_eq!(critical.fg, t.danger.fg.unwrap());
        assert!(critical.modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn every_small_size_renders_without_panic() {
        let t = Theme::load(None, true).unwrap();
        for w in [1u16, 10, 39, 40, 41, 60, 80] {
            for h in [1u16, 5, 11, 12, 13, 24] {
                let mut s = state();
                key(&mut s, KeyCode::Char('G'));
                let screen = text(&render(&mut s, w, h, &t));
                if w < MIN_WIDTH || h < MIN_HEIGHT {
                    assert!(screen.contains("terminal") || w < 10, "{w}x{h}: {screen}");
                }
            }
        }
    }
}
