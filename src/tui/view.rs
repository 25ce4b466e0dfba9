//! Drawing: a pure function of the state. Only the visible rows are turned into widgets, so a
//! frame costs the same for fifty rows or a million.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};
use unicode_width::UnicodeWidthStr;

use super::data::{Data, ViewId};
use super::keymap::Layer;
use super::state::{Level, Mode, State};
use super::table::{Tone, ellipsize};
use super::theme::Theme;
use crate::model::text::sanitize;
use crate::review::Verdict;

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
        let detail_h = if body.height >= 16 { 8 } else { 5 };
        let [t, d] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(detail_h)]).areas(body);
        (t, d)
    };
    Areas {
        header,
        table,
        detail,
        status,
    }
}

/// How many table rows fit for a terminal of `width`×`height`.
pub fn table_rows(width: u16, height: u16) -> usize {
    let a = areas(Rect::new(0, 0, width, height));
    // Borders (2) and the column header (1).
    a.table.height.saturating_sub(3) as usize
}

/// The message a terminal of `width`×`height` sends: the table's rows and width.
pub fn resized(width: u16, height: u16) -> super::state::Msg {
    let a = areas(Rect::new(0, 0, width, height));
    super::state::Msg::Resize {
        rows: a.table.height.saturating_sub(3) as usize,
        width: a.table.width,
    }
}

pub(crate) fn tone(t: &Theme, tone: Tone) -> Style {
    match tone {
        Tone::Normal => t.text,
        Tone::Danger => t.danger,
        Tone::Warn => t.warn,
        Tone::Accent => t.accent,
        Tone::Muted => t.muted,
    }
}

/// A row's mark for its standing decision: `✓` certify, `✗` revoke not carried out as this
/// snapshot shows (staged, planned, sent, failed, or done yet still here), `⊘` a revoke a plan
/// carried out (`Review::landed`), `→` reassign, `…` defer.
fn verdict_mark(v: Option<(Verdict, bool)>) -> &'static str {
    match v {
        Some((Verdict::Certify, _)) => "✓",
        Some((Verdict::Revoke, false)) => "✗",
        Some((Verdict::Revoke, true)) => "⊘",
        Some((Verdict::Reassign, _)) => "→",
        Some((Verdict::Defer, _)) => "…",
        None => " ",
    }
}

pub fn rule_explanation(rule: &str) -> &'static str {
    crate::reconcile::explain(rule)
}

pub use super::data::severity_label;
pub use crate::model::text::thousands;

pub fn draw(f: &mut Frame, s: &State, t: &Theme) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = vec![
            Line::from(Span::styled("terminal too small", t.warn)),
            Line::from(format!(
                "{}×{}: recert needs {MIN_WIDTH}×{MIN_HEIGHT}",
                area.width, area.height
            )),
        ];
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let a = areas(area);
    header(f, s, t, a.header);
    if s.view == ViewId::Dash {
        let [_, body, _] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        dashboard(f, s, t, body);
    } else {
        table(f, s, t, a.table);
        detail(f, s, t, a.detail);
    }
    if let Some(p) = &s.sync {
        sync_box(f, s, t, area, p);
    }
    match s.mode {
        Mode::Help => help(f, s, t, area),
        Mode::Log => log(f, s, t, area),
        Mode::Detail => {
            let r = centered(area, 100, area.height);
            let max = overlay(
                f,
                t,
                r,
                " Detail · j/k scroll · Esc or z closes ".into(),
                current_detail(s, t),
                s.help_scroll,
                t.accent,
            );
            s.scroll_max.set(max);
        }
        Mode::Command => palette(f, s, t, area),
        Mode::Prompt => prompt(f, s, t, area),
        Mode::Picker => picker(f, s, t, area),
        Mode::Confirm => confirm(f, s, t, area),
        _ => {}
    }
    if let Some(a) = &s.applying {
        applying(f, t, area, a);
    }
    // Last: its hints follow what the overlays drawn above found (whether there is more to
    // scroll).
    status(f, s, t, a.status);
}

/// What the header says of the data on screen (after a load or a `:sync`), or before it, what
/// the driver said.
fn header_context(s: &State, compact: bool) -> String {
    let snap = &s.data.snapshot;
    if snap.id > 0 {
        let format = if compact {
            "%m-%d %H:%M"
        } else {
            "%Y-%m-%d %H:%M UTC"
        };
        let when = chrono::DateTime::from_timestamp(snap.taken_at, 0)
            .map(|x| x.format(format).to_string())
            .unwrap_or_default();
        let failed: Vec<&str> = snap
            .sources
            .iter()
            .filter(|x| !x.ok)
            .map(|x| x.source.as_str())
            .collect();
        let health = if failed.is_empty() {
            let n = snap.sources.len();
            if compact {
                format!("{n} ok")
            } else {
                format!("{n} source{} ok", if n == 1 { "" } else { "s" })
            }
        } else {
            format!("FAILED: {}", failed.join(", "))
        };
        if compact {
            format!("#{} · {when} · {health}", snap.id)
        } else {
            format!("snapshot #{} · {when} · {health}", snap.id)
        }
    } else {
        s.context.clone()
    }
}

fn header(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let mut spans = vec![Span::styled(" recert ", t.header)];
    let mut context = header_context(s, false);
    // Every view's name when they fit beside what the header says of the data; else numbers,
    // with the current view named (k9s keeps its context line whole the same way).
    let names: usize = ViewId::ALL
        .iter()
        .map(|v| v.title().len() + 4)
        .sum::<usize>()
        + if s.campaign { 9 } else { 0 };
    let wide = area.width as usize >= 8 + names + 1 + context.chars().count();
    if s.campaign {
        let style = if s.view == ViewId::Queue {
            t.selection.add_modifier(Modifier::BOLD)
        } else {
            t.header
        };
        let label = if wide || s.view == ViewId::Queue {
            " 0:Queue "
        } else {
            " 0 "
        };
        spans.push(Span::styled(label, style));
    }
    for v in ViewId::ALL {
        let label = if wide || v == s.view {
            format!(" {}:{} ", v.index() + 1, v.title())
        } else {
            format!(" {} ", v.index() + 1)
        };
        let style = if v == s.view {
            t.selection.add_modifier(Modifier::BOLD)
        } else {
            t.header
        };
        spans.push(Span::styled(label, style));
    }
    // What the header says of the data, whole when it fits, else compact, else cut with `…`
    // (it used to be cut mid-word: "4 so").
    let used: usize = spans.iter().map(|x| x.content.width()).sum::<usize>() + 1;
    let room = (area.width as usize).saturating_sub(used);
    if context.width() > room {
        context = header_context(s, true);
    }
    let context = super::table::ellipsize(&sanitize(&context), room as u16).into_owned();
    spans.push(Span::styled(format!(" {context}"), t.header));
    f.render_widget(Paragraph::new(Line::from(spans)).style(t.header), area);
}

fn table(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let vs = s.vs();
    let tbl = &vs.table;
    let rows_fit = area.height.saturating_sub(3) as usize;
    let end = (vs.offset + rows_fit).min(vs.visible.len());
    let page: Vec<&super::table::Row> = vs.visible[vs.offset.min(end)..end]
        .iter()
        .filter_map(|&id| vs.row(id))
        .collect();
    let natural = super::table::natural_widths(&tbl.columns, &page);
    let fit = super::table::fit_columns(
        &tbl.columns,
        &natural,
        area.width,
        vs.hscroll,
        vs.sort.map(|x| x.col),
    );
    let shown = &fit.shown;
    let mut widths: Vec<Constraint> = fit.widths.iter().map(|&w| Constraint::Length(w)).collect();
    widths.insert(0, Constraint::Length(2));
    let decided = super::views::of(s.view).shows_decisions();
    let rows: Vec<Row> = vs.visible[vs.offset.min(end)..end]
        .iter()
        .enumerate()
        .filter_map(|(n, &id)| vs.row(id).map(|r| (n, id, r)))
        .map(|(n, id, r)| {
            let selected = vs.offset + n == vs.cursor;
            let marked = vs.marks.contains(tbl, id);
            let verdict = if decided {
                s.data
                    .target(s.view, r.item)
                    .and_then(|(tg, _, _)| s.review.decided.get(&tg).copied())
                    .map(|(v, id)| {
                        let landed = s.review.landed(&s.data, s.view, r.item, id);
                        (v, v == Verdict::Revoke && landed == Some(true))
                    })
            } else {
                None
            };
            let lead = format!(
                "{}{}",
                if marked { "●" } else { " " },
                verdict_mark(verdict)
            );
            let mut cells =
                vec![
                    Cell::from(lead).style(if verdict.is_some_and(|v| v.0 == Verdict::Revoke) {
                        t.danger
                    } else {
                        t.accent
                    }),
                ];
            for (k, &c) in shown.iter().enumerate() {
                let text = r.cell(c);
                let cell = Cell::from(ellipsize(text, fit.widths[k]));
                cells.push(if k == 0 && !selected {
                    cell.style(tone(t, r.tone))
                } else {
                    cell
                });
            }
            let row = Row::new(cells);
            if selected {
                row.style(t.selection)
            } else if marked {
                row.style(t.text.add_modifier(Modifier::BOLD))
            } else {
                row.style(t.text)
            }
        })
        .collect();
    let mut head: Vec<Cell> = vec![Cell::from("")];
    for (k, &c) in shown.iter().enumerate() {
        let col = &tbl.columns[c];
        let arrow = match vs.sort {
            Some(so) if so.col == c => {
                if so.desc {
                    "▼"
                } else {
                    "▲"
                }
            }
            _ => "",
        };
        let name = format!("{}{arrow}", col.name.to_uppercase());
        head.push(Cell::from(ellipsize(&name, fit.widths[k]).into_owned()));
    }
    // The drill-ins taken (`Enter`), k9s-style: `People › Gaps`; `Esc` walks back.
    let crumbs: String = s
        .crumbs
        .iter()
        .map(|c| format!("{} › ", c.from.title()))
        .collect();
    let mut title = format!(" {crumbs}{} ", s.view.title());
    let preview = s.data.partial.filter(|_| s.view == ViewId::Gaps);
    if let (Some(total), true) = (preview, vs.applied.is_empty()) {
        title.push_str(&format!(
            "first {} of {} · loading the rest…",
            thousands(vs.visible.len()),
            thousands(total as usize)
        ));
    } else if vs.applied.is_empty() {
        title.push_str(&thousands(vs.visible.len()));
    } else {
        title.push_str(&format!(
            "{}/{} /{}",
            thousands(vs.visible.len()),
            thousands(tbl.rows.len()),
            typed(&vs.applied.text)
        ));
    }
    if vs.updating() {
        title.push_str(" · filtering…");
    }
    let hidden = fit.hidden_left + fit.hidden_right;
    if hidden > 0 {
        let arrows = match (fit.hidden_left > 0, fit.hidden_right > 0) {
            (true, true) => "h ◀ ▶ l",
            (true, false) => "h ◀",
            _ => "▶ l",
        };
        title.push_str(&format!(
            " · {} {arrows}",
            crate::model::text::plural(hidden, "more column")
        ));
    }
    if !vs.marks.is_empty() {
        title.push_str(&format!(" · {} marked", thousands(vs.marks.count())));
    }
    if s.view == ViewId::Queue
        && let Some(q) = &s.review.queue
    {
        let b = q.burndown(s.today);
        title.push_str(&format!(" · {}", b.trim_start_matches("campaign ")));
    }
    title.push(' ');
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(title, t.accent));
    let widget = Table::new(rows, widths)
        .header(Row::new(head).style(t.muted.add_modifier(Modifier::BOLD)))
        .block(block)
        .column_spacing(1);
    f.render_widget(widget, area);
    if vs.visible.is_empty() && !vs.updating() {
        let why = if s.loading {
            "Loading the snapshot…"
        } else if s.data.partial.is_some() {
            "The snapshot could not be loaded (:log says why)."
        } else if tbl.rows.is_empty() {
            super::views::of(s.view).empty()
        } else {
            "Nothing matches the filter (Esc clears it)."
        };
        // Across the table's width, under the header: not squeezed into a column.
        let line = Rect {
            x: area.x + 3,
            y: area.y + 2,
            width: area.width.saturating_sub(4),
            height: area.height.saturating_sub(3).min(2),
        };
        if line.height > 0 {
            f.render_widget(
                Paragraph::new(why).style(t.muted).wrap(Wrap { trim: true }),
                line,
            );
        }
    }
}

/// A detail line's label, right-aligned in a column with a cell of margin before the longest
/// label (`directory`, `signed in`), so every label sits clear of the pane's border.
pub(crate) fn label(name: &str) -> String {
    format!("{name:>10} ")
}

pub(crate) fn field<'a>(t: &Theme, name: &str, value: impl AsRef<str>) -> Line<'a> {
    Line::from(vec![
        Span::styled(label(name), t.muted),
        Span::styled(sanitize(value.as_ref()).into_owned(), t.text),
    ])
}

pub(crate) fn date(ts: Option<i64>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// The selected row's detail lines.
fn current_detail<'a>(s: &State, t: &Theme) -> Vec<Line<'a>> {
    s.current()
        .and_then(|id| s.vs().table.rows.get(id as usize))
        .map(|r| detail_lines(s, t, r.item))
        .unwrap_or_default()
}

fn detail(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    // Wrapped here, each line going on under its text (not its label).
    let lines = super::wrap::hang(current_detail(s, t), area.width.saturating_sub(2));
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(" Detail ", t.accent));
    // More than fits: say so, and how to see it all.
    if lines.len() > usize::from(area.height.saturating_sub(2)) {
        block = block.title_bottom(Span::styled(" more: z shows all ", t.muted));
    }
    f.render_widget(Paragraph::new(lines).block(block), area);
}

pub(crate) fn decision_line<'a>(
    s: &State,
    t: &Theme,
    d: &Data,
    view: ViewId,
    item: u32,
) -> Option<Line<'a>> {
    let (text, destructive) = decision_text(s, d, view, item)?;
    Some(Line::from(vec![
        Span::styled(label("decision"), t.muted),
        Span::styled(text, if destructive { t.danger } else { t.ok }),
    ]))
}

/// The decision standing for a row, as its detail says it: verdict, reviewer, reason, and what
/// became of it. With whether it is destructive (for its colour).
pub(crate) fn decision_text(
    s: &State,
    d: &Data,
    view: ViewId,
    item: u32,
) -> Option<(String, bool)> {
    let (tg, _, _) = d.target(view, item)?;
    let (v, id) = s.review.decided.get(&tg)?;
    // Decisions are in id order: no scan per frame.
    let x = s
        .review
        .decisions
        .binary_search_by_key(id, |x| x.id)
        .ok()
        .map(|i| &s.review.decisions[i])?;
    let extra =
        x.d.owner
            .as_ref()
            .map(|o| format!(" → {o}"))
            .or(x.d.until.as_ref().map(|u| format!(" until {u}")))
            .unwrap_or_default();
    let mut remediation = match s.review.remediation_of(x) {
        r if r == "-" => String::new(),
        r => format!(" · {r}"),
    };
    // Done, yet a snapshot taken after still has it: granted again, or the call did not take.
    if s.review.landed(d, view, item, x.id) == Some(false) {
        remediation.push_str(&format!(
            " · STILL HERE in snapshot #{}, taken after: granted again?",
            d.snapshot.id
        ));
    }
    Some((
        format!(
            "{}{extra} by {} ({}){remediation}",
            v.as_str(),
            sanitize(&x.reviewer),
            sanitize(x.d.justification.as_deref().unwrap_or("no justification"))
        ),
        v.destructive(),
    ))
}

fn detail_lines<'a>(s: &State, t: &Theme, item: u32) -> Vec<Line<'a>> {
    super::views::of(s.view).detail(s, t, item)
}

fn bar(n: u64, max: u64, width: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let full = (n as f64 / max as f64 * width as f64).round() as usize;
    "█".repeat(full.max(usize::from(n > 0)))
}

fn bars<'a>(
    t: &Theme,
    title: &str,
    items: &[(String, u64)],
    label_w: usize,
    bar_w: usize,
) -> Vec<Line<'a>> {
    let max = items.iter().map(|x| x.1).max().unwrap_or(0);
    let mut out = vec![Line::from(Span::styled(title.to_string(), t.accent))];
    for (k, n) in items {
        let name = crate::tui::table::ellipsize(k, label_w as u16);
        out.push(Line::from(vec![
            Span::styled(format!("{name:<label_w$} "), t.text),
            Span::styled(format!("{n:>7} "), t.muted),
            Span::styled(bar(*n, max, bar_w), t.info),
        ]));
    }
    out
}

fn dashboard(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let d = &*s.data;
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    // Room for the longest rule id (`unowned-service-account`), cut only where the pane is
    // too narrow for it and the count beside it: a count is never cut.
    let label_w = d
        .dash
        .by_rule
        .iter()
        .map(|(r, _)| r.chars().count())
        .max()
        .unwrap_or(0)
        .max(22)
        .min((left.width as usize).saturating_sub(2 + 9).max(1));
    let bar_w = (left.width as usize).saturating_sub(label_w + 9 + 3).max(3);
    // The key-age chart (a blank, its title and five rows) always shows: when every rule does
    // not fit above it, the most frequent do and one line counts the rest.
    let room = usize::from(left.height.saturating_sub(2)).saturating_sub(1 + 7);
    let rules = &d.dash.by_rule;
    let mut l = if rules.len() > room {
        let shown = room.saturating_sub(1);
        let mut l = bars(t, "Findings by rule", &rules[..shown], label_w, bar_w);
        let rest = &rules[shown..];
        let n: u64 = rest.iter().map(|x| x.1).sum();
        l.push(Line::from(Span::styled(
            format!(
                "… {}: {} findings (2: Gaps)",
                crate::model::text::plural(rest.len(), "more rule"),
                thousands(n as usize)
            ),
            t.muted,
        )));
        l
    } else {
        bars(t, "Findings by rule", rules, label_w, bar_w)
    };
    l.push(Line::from(""));
    let ages = d.dash.key_ages;
    let labels = [
        "< 30 days",
        "30-90 days",
        "90-180 days",
        "180-365 days",
        "> 1 year",
    ];
    let age_items: Vec<(String, u64)> = labels
        .iter()
        .zip(ages)
        .map(|(a, n)| (a.to_string(), n))
        .collect();
    l.extend(bars(t, "Key age (usable keys)", &age_items, label_w, bar_w));
    let rbar = (right.width as usize).saturating_sub(10 + 9 + 3).max(3);
    let mut r = bars(t, "By severity", &d.dash.by_severity, 10, rbar);
    r.push(Line::from(""));
    r.extend(bars(t, "By provider", &d.dash.by_provider, 10, rbar));
    r.push(Line::from(""));
    // The decisions standing first (what a reviewer acts on), then the sources: at 80×24 the
    // sources used to push the decisions off the screen.
    // A revoke a plan carried out is counted apart: it is done, not outstanding.
    let (mut counts, mut revoked) = ([0usize; 4], 0);
    for &i in &s.review.pending {
        let d = &s.review.decisions[i as usize];
        if d.d.verdict == Verdict::Revoke && s.review.done_at.contains_key(&d.id) {
            revoked += 1;
        } else {
            counts[d.d.verdict as usize] += 1;
        }
    }
    r.push(Line::from(Span::styled("Decisions standing", t.accent)));
    let standing: Vec<String> = [
        Verdict::Revoke,
        Verdict::Certify,
        Verdict::Reassign,
        Verdict::Defer,
    ]
    .into_iter()
    .map(|v| (counts[v as usize], v.as_str()))
    .chain(std::iter::once((revoked, "revoked")))
    .filter(|(n, _)| *n > 0)
    .map(|(n, v)| format!("{n} {v}"))
    .collect();
    r.push(Line::from(Span::styled(
        if standing.is_empty() {
            "none yet".to_string()
        } else {
            standing.join(" · ")
        },
        t.text,
    )));
    r.push(Line::from(""));
    r.push(Line::from(Span::styled("Sources (last sync)", t.accent)));
    let inner = right.width.saturating_sub(2) as usize;
    for src in &d.snapshot.sources {
        let at = |f: &str| {
            chrono::DateTime::from_timestamp(src.finished_at, 0)
                .map(|x| x.format(f).to_string())
                .unwrap_or_default()
        };
        let (word, style) = if src.ok {
            ("ok", t.ok)
        } else {
            ("FAILED", t.danger)
        };
        let items = crate::model::text::plural(src.items as usize, "item");
        let name = sanitize(&src.source);
        // One line per source: the whole form when it fits, else a compact one, else cut.
        let (name, word_w, rest) = if 12 + 1 + 6 + 1 + 11 + 3 + items.len() <= inner {
            (
                format!("{name:<12} "),
                6,
                format!("{} · {items}", at("%m-%d %H:%M")),
            )
        } else {
            (
                format!("{name} "),
                word.len(),
                format!("{} · {items}", at("%H:%M")),
            )
        };
        let line = format!("{name}{word:<word_w$} {rest}");
        let cut = super::table::ellipsize(&line, inner as u16).into_owned();
        let (head, tail) = split_floor(&cut, name.len());
        let (w, tail) = split_floor(tail, word_w);
        r.push(Line::from(vec![
            Span::styled(head.to_string(), t.text),
            Span::styled(w.to_string(), style),
            Span::styled(tail.to_string(), t.muted),
        ]));
        // A feed the source could not read (the audit log): said once, under the source.
        let mut notes: Vec<&str> = d
            .snapshot
            .data
            .feeds
            .iter()
            .filter(|f| f.source == src.source)
            .filter_map(|f| f.note.as_deref())
            .collect();
        notes.sort_unstable();
        notes.dedup();
        for n in notes {
            r.push(Line::from(Span::styled(
                format!("  {}", sanitize(n)),
                t.warn,
            )));
        }
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border);
    f.render_widget(
        Paragraph::new(l).block(
            block
                .clone()
                .title(Span::styled(" Dashboard ".to_string(), t.accent)),
        ),
        left,
    );
    f.render_widget(
        Paragraph::new(r).wrap(Wrap { trim: false }).block(block),
        right,
    );
}

/// `s` split at byte `at`, moved back to a character boundary (never a panic on `…` or other
/// multi-byte text).
fn split_floor(s: &str, at: usize) -> (&str, &str) {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    s.split_at(at)
}

fn status(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let vs = s.vs();
    let pos = if s.view == ViewId::Dash {
        String::new()
    } else if vs.visible.is_empty() {
        "0/0".to_string()
    } else {
        format!(
            "{}/{}",
            thousands(vs.cursor + 1),
            thousands(vs.visible.len())
        )
    };
    let (left, left_style) = match (s.mode, &s.toast, &vs.error) {
        (Mode::Filter, _, Some(e)) => (format!(" /{}▏ {}", typed(&vs.filter), e), t.warn),
        (Mode::Filter, _, None) => (format!(" /{}▏", typed(&vs.filter)), t.status),
        (Mode::Command, _, _) => (format!(" :{}▏", typed(&s.input)), t.status),
        (_, Some((msg, level, _)), _) => (
            format!(" {}", sanitize(msg)),
            match level {
                Level::Info => t.status,
                Level::Warn => t.status.patch(t.warn),
                Level::Error => t.status.patch(t.danger),
            },
        ),
        // A filter kept with Enter that could not be used: the rows are the last good
        // filter's, and the status says so until the filter is mended or cleared.
        (Mode::Normal, None, Some(e)) => {
            let shown = if vs.applied.text.is_empty() {
                "every row".to_string()
            } else {
                format!("/{}", typed(&vs.applied.text))
            };
            (
                format!(
                    " showing {shown} · /{} not applied: {}",
                    typed(&vs.filter),
                    sanitize(e)
                ),
                t.status.patch(t.warn),
            )
        }
        (_, None, _) if vs.anchor.is_some() => (" range: move, then v marks it".into(), t.status),
        (_, None, _) if !vs.filter.is_empty() => {
            (format!(" filter: {}", typed(&vs.filter)), t.status)
        }
        _ => (String::new(), t.status),
    };
    let ro = if s.read_only { "READ-ONLY · " } else { "" };
    let marks = if vs.marks.is_empty() {
        String::new()
    } else {
        format!("{} marked · ", thousands(vs.marks.count()))
    };
    let hints = match s.mode {
        Mode::Filter if s.filter_selected => "type to replace · → edit · Enter keep · Esc clear",
        Mode::Filter => "Enter keep · Esc clear",
        Mode::Command => "Enter run · Tab complete · Esc close",
        Mode::Confirm if s.scroll_max.get() > 0 => "↓↑ scroll · Enter ok · Esc cancel",
        Mode::Prompt | Mode::Picker | Mode::Confirm => "Enter ok · Esc cancel",
        Mode::Help | Mode::Log => "Esc close",
        Mode::Detail => "j/k scroll · Esc close",
        Mode::Normal => "? help · : cmd · / filter",
    };
    let sep = if pos.is_empty() { "" } else { " · " };
    let mut right = format!("{ro}{marks}{pos}{sep}{hints} ");
    let width = area.width as usize;
    // A toast that does not fit beside the hints takes their place; what still does not fit
    // is cut with `…` (warnings and errors are kept whole in `:log`).
    let toast = (s.toast.is_some() && matches!(s.mode, Mode::Normal | Mode::Confirm))
        || (s.mode == Mode::Normal && vs.error.is_some());
    if toast && left.width() + right.width() + 1 > width {
        right = format!("{ro}{marks}{pos} ");
    }
    let right_w = right.width();
    let left =
        super::table::ellipsize(&left, width.saturating_sub(right_w + 1) as u16).into_owned();
    let pad = width.saturating_sub(left.width() + right_w);
    let bold = left_style.add_modifier(Modifier::BOLD);
    // The kept filter, selected: drawn reversed, as a text field shows a selection; only the
    // whole filter as typed (not cut with `…`, no error beside it).
    let shown = typed(&vs.filter);
    let mut spans = if s.mode == Mode::Filter && s.filter_selected && left == format!(" /{shown}▏")
    {
        vec![
            Span::styled(" /", bold),
            Span::styled(shown, bold.add_modifier(Modifier::REVERSED)),
            Span::styled("▏", bold),
        ]
    } else {
        vec![Span::styled(left, bold)]
    };
    spans.push(Span::styled(" ".repeat(pad), t.status));
    spans.push(Span::styled(right, t.status));
    let line = Line::from(spans);
    f.render_widget(Paragraph::new(line).style(t.status), area);
}

/// The panes' area of a frame: between the header and the status line.
fn body_of(area: Rect) -> Rect {
    let a = areas(area);
    a.table.union(a.detail)
}

/// A box of `w`×`h` centred over the panes (between the header and the status line). A box
/// that nearly fills them takes their place exactly, its border drawn on theirs; any other
/// stays at least two cells inside them, and [`overlay`] clears a cell around it, so its
/// border never runs beside or along another (`┌┌`, `└─└──┘─┘`).
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let body = body_of(area);
    let near = |want: u16, room: u16| want.saturating_add(4) > room;
    let (w, h) = if near(w, body.width) && near(h, body.height) {
        (body.width, body.height)
    } else {
        (
            w.min(body.width.saturating_sub(4)).max(1),
            h.min(body.height.saturating_sub(4)).max(1),
        )
    };
    Rect::new(
        body.x + (body.width.saturating_sub(w)) / 2,
        body.y + (body.height.saturating_sub(h)) / 2,
        w,
        h,
    )
}

/// A bordered box over the panes with `lines` in it, wrapped with a hanging indent and
/// scrolled down `scroll` lines, never past the last line. Returns how far it can scroll.
fn overlay(
    f: &mut Frame,
    t: &Theme,
    r: Rect,
    title: String,
    lines: Vec<Line>,
    scroll: usize,
    style: Style,
) -> usize {
    let lines = super::wrap::hang(lines, r.width.saturating_sub(2));
    let max = lines
        .len()
        .saturating_sub(usize::from(r.height.saturating_sub(2)));
    let scroll = scroll.min(max);
    // A box narrower than the panes gets a blank column each side (within the panes), so its
    // corners never touch a pane's border on the same row (`└─└──┘─┘`); the rows above and
    // below are left alone (a pane's border and title there stay whole).
    let body = body_of(f.area());
    let ring = Rect::new(
        r.x.saturating_sub(1),
        r.y,
        r.width.saturating_add(2),
        r.height,
    )
    .intersection(body);
    f.render_widget(Clear, ring.union(r));
    f.render_widget(
        Paragraph::new(lines)
            .scroll((scroll.min(u16::MAX as usize) as u16, 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(style)
                    .title(Span::styled(title, style))
                    .style(t.text),
            ),
        r,
    );
    max
}

/// Text a person typed, as the screen shows it: controls made visible, and a whole key (a
/// pasted leak, a known secret in any form) hidden as the logs hide it. Every input (filter,
/// palette, prompt, confirmation) reaches the screen through here.
pub(crate) fn typed(s: &str) -> String {
    sanitize(&crate::secret::redact(s, &[])).into_owned()
}

pub const FILTER_HELP: &[&str] = &[
    "Filter terms are space-separated and must all hold:",
    "  alice            fuzzy text: letters in order, close together, in one column",
    "  owner:ali        a word in the column starts with it (owner:none: empty)",
    "  provider:openai  unused>90d  age>=1y  spend>100  members<3",
    "  decision:none    no decision yet (any, certify, revoke, reassign, defer)",
    "  !status:active   ! negates a term",
    "  e.g. /owner:none provider:openai age>1y   (in Keys: nobody answers for them)",
];

fn help(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let mut lines = Vec::new();
    for line in FILTER_HELP {
        lines.push(Line::from(Span::styled(line.to_string(), t.text)));
    }
    if s.read_only {
        lines.push(Line::from(Span::styled(
            "Read-only mode: decision keys (c r o d x u Ctrl-r) are disabled.",
            t.warn,
        )));
    }
    for (layer, _, title) in Layer::ALL {
        lines.push(Line::from(Span::styled(title, t.accent)));
        for b in s.keymap.layer(layer) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<20} ", b.labels.join(", ")), t.text),
                Span::styled(b.desc.clone(), t.muted),
            ]));
        }
        if layer != Layer::Normal {
            continue;
        }
        // The `:` commands right after the lists' keys (`:leak`, `:sweep` and `:apply` are
        // what a responder looks for), with their arguments (the description starts with
        // them when a command takes any: "leak HINT: ...").
        lines.push(Line::from(Span::styled(
            "Commands (type : then the name; Tab completes)",
            t.accent,
        )));
        for (name, desc) in super::state::COMMANDS {
            let (usage, what) = match desc.split_once(": ") {
                Some((u, w)) if u.starts_with(name) => (format!(":{u}"), w),
                _ => (format!(":{name}"), *desc),
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {usage:<28} "), t.text),
                Span::styled(what.to_string(), t.muted),
            ]));
        }
    }
    let close = s.keymap.key_for(Layer::Help, super::keymap::Action::Close);
    let r = centered(area, 84, area.height);
    let max = overlay(
        f,
        t,
        r,
        format!(" Help · {} · j/k scroll · {close} closes ", s.view.title()),
        lines,
        s.help_scroll,
        t.accent,
    );
    s.scroll_max.set(max);
}

fn log(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let mut lines: Vec<Line> = s
        .log
        .iter()
        .rev()
        .map(|l| Line::from(Span::styled(sanitize(l).into_owned(), t.text)))
        .collect();
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "Nothing logged in this session.",
            t.muted,
        )));
    }
    let r = centered(area, 100, area.height);
    let max = overlay(
        f,
        t,
        r,
        " Log, newest first · Esc closes ".into(),
        lines,
        s.help_scroll,
        t.accent,
    );
    s.scroll_max.set(max);
}

fn palette(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let items = s.palette();
    let h = (items.len() as u16 + 2).min(area.height.saturating_sub(3));
    let w = area.width.min(70);
    let r = Rect::new(area.x, area.y + area.height - 1 - h, w, h);
    let lines: Vec<Line> = items
        .iter()
        .enumerate()
        .map(|(i, (name, desc))| {
            let style = if i == s.palette_cursor {
                t.selection
            } else {
                t.text
            };
            Line::from(vec![
                Span::styled(format!(" {name:<10} "), style),
                Span::styled(
                    desc.to_string(),
                    if i == s.palette_cursor {
                        t.selection
                    } else {
                        t.muted
                    },
                ),
            ])
        })
        .collect();
    overlay(f, t, r, " Commands ".into(), lines, 0, t.accent);
}

fn prompt(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let Some(p) = &s.prompt else { return };
    let style = if p.danger { t.danger } else { t.accent };
    let w = area.width.saturating_sub(4).min(90);
    // Each part wrapped on its own: the question, what is typed, what is wrong with it, and
    // (for a revoke) what a revoke is.
    let wrap = |text: String, style: Style| {
        super::wrap::hang(
            vec![Line::from(Span::styled(text, style))],
            w.saturating_sub(2),
        )
    };
    let mut question = wrap(sanitize(&p.title).into_owned(), t.text);
    let input = wrap(
        format!("> {}▏", typed(&p.input)),
        t.text.add_modifier(Modifier::BOLD),
    );
    let error = p
        .error
        .as_deref()
        .map(|e| wrap(sanitize(e).into_owned(), t.warn))
        .unwrap_or_default();
    let note = if p.danger {
        wrap(
            "Revokes are staged as decisions: nothing reaches a provider until a plan is applied."
                .into(),
            t.muted,
        )
    } else {
        Vec::new()
    };
    // As tall as its wrapped lines (a long title and an error must both show).
    let all = question.len() + input.len() + error.len() + note.len();
    let r = centered(area, w, (all as u16 + 2).max(7));
    // On a short terminal the box holds fewer. What is typed shows first (its end, with the
    // cursor, when it is taller than the box), then what is wrong with it; the question gets
    // what is left, cut with `…`; the revoke note only when all of that fits. Nobody
    // confirms what they cannot see.
    let mut room = usize::from(r.height.saturating_sub(2));
    let input: Vec<Line> = input[input.len().saturating_sub(room)..].to_vec();
    room -= input.len();
    let error: Vec<Line> = error.into_iter().take(room).collect();
    room -= error.len();
    if question.len() > room {
        question.truncate(room);
        if let Some(last) = question.last_mut() {
            let text: String = last.spans.iter().map(|x| x.content.as_ref()).collect();
            let short = ellipsize(&text, w.saturating_sub(3)).into_owned();
            let short = if short.ends_with('…') {
                short
            } else {
                format!("{}…", short.trim_end())
            };
            *last = Line::from(Span::styled(short, t.text));
        }
    }
    room -= question.len();
    let mut lines = question;
    lines.extend(input);
    lines.extend(error);
    if note.len() <= room {
        lines.extend(note);
    }
    overlay(
        f,
        t,
        r,
        if p.danger {
            " Revoke ".into()
        } else {
            " Decision ".into()
        },
        lines,
        0,
        style,
    );
}

fn picker(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let Some(p) = &s.picker else { return };
    // The box first, then as many people as it holds (borders and the input line aside): on
    // a short terminal `centered` gives less than asked, and the cursor must stay in view.
    let r = centered(
        area,
        area.width.saturating_sub(4).min(76),
        area.height.saturating_sub(4).min(16),
    );
    let (w, rows) = (r.width, r.height.saturating_sub(3) as usize);
    let start = p.cursor.saturating_sub(rows.saturating_sub(1));
    let mut lines = vec![Line::from(Span::styled(
        format!("> {}▏", typed(&p.input)),
        t.text.add_modifier(Modifier::BOLD),
    ))];
    for (k, &i) in p.matches.iter().enumerate().skip(start).take(rows) {
        let c = &p.choices[i];
        let style = if k == p.cursor { t.selection } else { t.text };
        let line = format!(
            " {:<18} {:<26} {}",
            ellipsize(&c.name, 18),
            ellipsize(&c.email, 26),
            c.about
        );
        let line = ellipsize(&line, w.saturating_sub(2)).into_owned();
        lines.push(Line::from(Span::styled(line, style)));
    }
    if p.matches.is_empty() {
        lines.push(Line::from(Span::styled(" nobody matches", t.muted)));
    }
    overlay(
        f,
        t,
        r,
        {
            // For what: the one item's label, else how many.
            let of = match s.pending.as_ref().map(|x| x.items.as_slice()) {
                Some([one]) => format!(" for {}", ellipsize(&sanitize(&one.1), 30)),
                Some(many) if !many.is_empty() => {
                    format!(" for {}", crate::model::text::plural(many.len(), "item"))
                }
                _ => String::new(),
            };
            if p.input.trim().is_empty() {
                format!(" New owner{of} · {} people ", p.choices.len())
            } else {
                format!(
                    " New owner{of} · {} of {} people ",
                    p.matches.len(),
                    p.choices.len()
                )
            }
        },
        lines,
        0,
        t.accent,
    );
}

fn confirm(f: &mut Frame, s: &State, t: &Theme, area: Rect) {
    let Some(c) = &s.confirm else { return };
    let r = centered(area, 110, area.height);
    if !matches!(c.purpose, super::state::Purpose::Apply { .. }) {
        let (verb, title) = match c.purpose {
            super::state::Purpose::SignOff => ("sign off", " Sign off ".to_string()),
            super::state::Purpose::Resume(plan) => ("resume it", format!(" Resume plan #{plan} ")),
            _ => ("submit them", " Submit the staged batch ".to_string()),
        };
        let head = vec![
            Line::from(Span::styled(
                if c.need_typing {
                    format!("Type {} and Enter to {verb}; Esc cancels.", c.calls)
                } else {
                    format!("Type y and Enter to {verb}; Esc cancels.")
                },
                t.warn,
            )),
            Line::from(Span::styled(format!("> {}▏", typed(&c.typed)), t.text)),
            Line::from(""),
        ];
        let body = c
            .summary
            .iter()
            .map(|l| Line::from(Span::styled(sanitize(l).into_owned(), t.text)))
            .collect();
        scrolled(f, s, t, r, title, (head, body), t.accent);
        return;
    }
    scrolled(
        f,
        s,
        t,
        r,
        " Apply: the plan ".into(),
        plan_lines(s, t, c),
        t.danger,
    );
}

/// An overlay whose first lines (what to type, the prompt) stay put while the rest scrolls
/// under them (`↓`/`↑`, `PgDn`/`PgUp`), no further than its last line; its title says when
/// more is below. A plan of a thousand calls is read whole before it is confirmed.
fn scrolled(
    f: &mut Frame,
    s: &State,
    t: &Theme,
    r: Rect,
    title: String,
    (head, body): (Vec<Line>, Vec<Line>),
    style: Style,
) {
    let width = r.width.saturating_sub(2);
    let head = super::wrap::hang(head, width);
    let body = super::wrap::hang(body, width);
    let room = usize::from(r.height.saturating_sub(2)).saturating_sub(head.len());
    let max = body.len().saturating_sub(room);
    s.scroll_max.set(max);
    let at = s.help_scroll.min(max);
    let below = max - at;
    let base = title.trim_end();
    let title = match below {
        _ if max == 0 => title.clone(),
        0 => format!("{base} · ↑ scrolls "),
        n => format!("{base} · ↓ {} ", crate::model::text::plural(n, "more line")),
    };
    let lines: Vec<Line> = head
        .into_iter()
        .chain(body.into_iter().skip(at).take(room))
        .collect();
    overlay(f, t, r, title, lines, 0, style);
}

/// What the apply confirmation says: the calls, the manual steps and the steps other calls
/// cover, each counted by its kind (as listed below it); then every step, each with what it
/// is for (the label of the decision behind it).
pub(crate) fn plan_lines<'a>(
    s: &State,
    t: &Theme,
    c: &super::state::Confirm,
) -> (Vec<Line<'a>>, Vec<Line<'a>>) {
    use crate::remediate::Step;
    let manual = c
        .steps
        .iter()
        .filter(|p| matches!(p.step, Step::Manual { .. }))
        .count();
    let covered = c
        .steps
        .iter()
        .filter(|p| matches!(p.step, Step::Record { .. }))
        .count();
    let covered = if covered > 0 {
        format!("; {covered} covered by other steps")
    } else {
        String::new()
    };
    let head = vec![
        Line::from(Span::styled(
            format!(
                "This plan makes {} ({}{covered}). Nothing has been sent.",
                crate::model::text::plural(c.calls, "provider call"),
                crate::model::text::plural(manual, "manual step")
            ),
            t.text.add_modifier(Modifier::BOLD),
        )),
        Line::from(Span::styled(
            if c.need_typing {
                format!("Type {} and Enter to apply it; Esc cancels.", c.calls)
            } else {
                "Type y and Enter to apply it; Esc cancels.".to_string()
            },
            t.warn,
        )),
        Line::from(Span::styled(format!("> {}▏", typed(&c.typed)), t.text)),
        Line::from(""),
    ];
    let label = |id: &i64| {
        s.review
            .decisions
            .binary_search_by_key(id, |x| x.id)
            .ok()
            .map(|i| s.review.decisions[i].d.label.as_str())
    };
    let body = c
        .steps
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let style = match p.step {
                Step::Manual { .. } => t.warn,
                _ => t.text,
            };
            let mut labels = p.decisions.iter().filter_map(label);
            let what = match (labels.next(), labels.count()) {
                (None, _) => String::new(),
                (Some(l), 0) => format!("{}: ", sanitize(l)),
                (Some(l), n) => format!("{} and {n} more: ", sanitize(l)),
            };
            Line::from(vec![
                Span::styled(format!("{:>5} ", format!("{}.", i + 1)), style),
                Span::styled(format!("{what}{}", sanitize(&p.step.line())), style),
            ])
        })
        .collect();
    (head, body)
}

fn applying(f: &mut Frame, t: &Theme, area: Rect, a: &super::state::Applying) {
    let w = 50.min(area.width.saturating_sub(2));
    let r = Rect::new(area.x + area.width - w - 1, area.y + 1, w, 4);
    let pct = ((a.done + a.failed) * 20)
        .checked_div(a.total)
        .unwrap_or(0)
        .min(20);
    let lines = vec![
        Line::from(vec![
            Span::styled(
                format!("{}{} ", "█".repeat(pct), "░".repeat(20 - pct)),
                t.info,
            ),
            Span::styled(
                format!("{}/{} done, {} failed", a.done, a.total, a.failed),
                if a.failed > 0 { t.danger } else { t.text },
            ),
        ]),
        // The last call on one line, cut with `…` (a long path used to wrap out of the box).
        Line::from(Span::styled(
            super::table::ellipsize(&sanitize(&a.last), w.saturating_sub(2)).into_owned(),
            t.muted,
        )),
    ];
    overlay(
        f,
        t,
        r,
        format!(" Applying plan #{} ", a.plan),
        lines,
        0,
        t.accent,
    );
}

fn sync_box(f: &mut Frame, s: &State, t: &Theme, area: Rect, p: &[super::state::SourceProgress]) {
    let _ = s;
    let w = 46.min(area.width.saturating_sub(2));
    let h = (p.len() as u16 + 2).clamp(3, area.height.saturating_sub(2));
    let r = Rect::new(area.x + area.width - w - 1, area.y + 1, w, h);
    let mut lines = Vec::new();
    if p.is_empty() {
        lines.push(Line::from(Span::styled("starting…", t.muted)));
    }
    for x in p {
        let (gauge, style) = match &x.done {
            // Turns with each request: the source is working (a count, not a fraction of
            // a total nobody knows in advance).
            None => {
                const SPIN: [&str; 4] = ["◐", "◓", "◑", "◒"];
                (
                    format!("{} reading", SPIN[(x.requests % 4) as usize]),
                    t.info,
                )
            }
            Some(Ok(items)) => (
                format!(
                    "done, {}",
                    crate::model::text::plural(*items as usize, "item")
                ),
                t.ok,
            ),
            Some(Err(_)) => ("FAILED".into(), t.danger),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<12} ", sanitize(&x.source)), t.text),
            Span::styled(format!("{gauge:<18} "), style),
            Span::styled(format!("{} req", x.requests), t.muted),
        ]));
    }
    overlay(f, t, r, " Syncing ".into(), lines, 0, t.accent);
}

#[cfg(test)]
mod tests;
