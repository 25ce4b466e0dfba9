//! Screen tests: every view at 80×24 and 120×40 (insta snapshots of the text; they ignore
//! colour), explicit style asserts for selection and danger, hostile provider text, and every
//! small size without a panic.

use super::*;
use crate::tui::state::tests::Harness;
use crate::tui::table::{ellipsize, fit_columns};
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(h: &mut Harness, w: u16, ht: u16, theme: &Theme) -> Terminal<TestBackend> {
    h.send(resized(w, ht));
    let mut term = Terminal::new(TestBackend::new(w, ht)).unwrap();
    term.draw(|f| draw(f, &h.s, theme)).unwrap();
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

fn harness() -> Harness {
    let mut h = Harness::with_engine(40);
    // A decision, so Decisions and Audit have rows and the decision column shows.
    h.key('j');
    h.key('r');
    h.typ("left in October");
    h.code(KeyCode::Enter);
    // The decision moved the cursor on: back to the decided row, whose detail shows it.
    h.key('k');
    h.send(crate::tui::state::Msg::Tick { now_ms: 600_000 });
    h
}

fn theme() -> Theme {
    Theme::load(None, false).unwrap()
}

#[test]
fn every_view_at_80x24_and_120x40() {
    let t = theme();
    for (key, name) in [
        ('1', "dash"),
        ('2', "gaps"),
        ('3', "people"),
        ('4', "keys"),
        ('5', "resources"),
        ('6', "decisions"),
        ('7', "audit"),
    ] {
        let mut h = harness();
        h.key(key);
        for (w, ht) in [(80u16, 24u16), (120, 40)] {
            let screen = text(&render(&mut h, w, ht, &t));
            // The audit view shows hashes and times that differ per run: redact them.
            let screen = if name == "audit" {
                redact_audit(&screen)
            } else {
                screen
            };
            insta::assert_snapshot!(format!("{name}_{w}x{ht}"), screen);
        }
    }
}

fn redact_audit(s: &str) -> String {
    let re_hex = |line: &str| {
        let mut out = String::new();
        let mut run = String::new();
        for c in line.chars() {
            if c.is_ascii_hexdigit() {
                run.push(c);
            } else {
                if run.len() >= 16 {
                    out.push_str(&"#".repeat(run.len()));
                } else {
                    out.push_str(&run);
                }
                run.clear();
                out.push(c);
            }
        }
        if run.len() >= 16 {
            out.push_str(&"#".repeat(run.len()));
        } else {
            out.push_str(&run);
        }
        out
    };
    let mut lines: Vec<Vec<String>> = s
        .lines()
        .map(|l| re_hex(l).split('│').map(str::to_string).collect())
        .collect();
    // A hash wrapped in the detail pane goes on on the next row: the piece on either side of
    // the break is part of it, however short.
    let hex_run = |t: &str, from_end: bool| -> usize {
        let it: Box<dyn Iterator<Item = char>> = if from_end {
            Box::new(t.chars().rev())
        } else {
            Box::new(t.trim_start().chars())
        };
        it.take_while(char::is_ascii_hexdigit).count()
    };
    loop {
        let mut changed = false;
        for i in 0..lines.len().saturating_sub(1) {
            for k in 0..lines[i].len().min(lines[i + 1].len()) {
                let (a, b) = (lines[i][k].clone(), lines[i + 1][k].clone());
                let (tail, head) = (hex_run(&a, true), hex_run(&b, false));
                if tail > 0 && b.trim_start().starts_with('#') {
                    let keep = a.len() - tail;
                    lines[i][k] = format!("{}{}", &a[..keep], "#".repeat(tail));
                    changed = true;
                }
                if head > 0 && a.ends_with('#') {
                    let pad = b.len() - b.trim_start().len();
                    lines[i + 1][k] =
                        format!("{}{}{}", &b[..pad], "#".repeat(head), &b[pad + head..]);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    lines
        .iter()
        .map(|l| l.join("│"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn overlays_at_80x24() {
    let t = theme();
    let mut h = harness();
    h.key('?');
    insta::assert_snapshot!("help_80x24", text(&render(&mut h, 80, 24, &t)));
    h.code(KeyCode::Esc);
    h.key(':');
    h.typ("re");
    insta::assert_snapshot!("palette_80x24", text(&render(&mut h, 80, 24, &t)));
    h.code(KeyCode::Esc);
    h.key('/');
    h.typ("unmanaged");
    insta::assert_snapshot!("filter_80x24", text(&render(&mut h, 80, 24, &t)));
    h.code(KeyCode::Enter);
    h.key('*');
    h.key('r');
    h.typ("no such person");
    insta::assert_snapshot!("revoke_prompt_80x24", text(&render(&mut h, 80, 24, &t)));
    h.code(KeyCode::Esc);
    h.key('4');
    h.key('o');
    let picker = text(&render(&mut h, 80, 24, &t));
    assert!(
        picker.contains("Research · Staff Engineer"),
        "the picker tells people apart: {picker}"
    );
    insta::assert_snapshot!("owner_picker_80x24", picker);
}

/// An overlay never sits one cell inside the panes' borders (a doubled corner, `┌┌`) nor has
/// its border run into theirs (`mor┌ Help`, `└─└───┘─┘`), at any size: every box's left
/// corners have a blank (or the screen's edge, or a pane beside it) to their left, its right
/// corners one to their right. And `j` in help, log and `z` stops at the last line: one `k`
/// from there shows the line above it, never a blank stretch scrolled past the end.
#[test]
fn overlays_have_single_borders_and_scroll_no_further_than_their_last_line() {
    let t = theme();
    let clear = |screen: &str| -> Result<(), String> {
        for (y, line) in screen.lines().enumerate().skip(1) {
            let c: Vec<char> = line.chars().collect();
            for (x, &ch) in c.iter().enumerate() {
                let before = x.checked_sub(1).map(|i| c[i]);
                let after = c.get(x + 1).copied();
                let ok = match ch {
                    '┌' | '└' => matches!(before, None | Some(' ' | '┐' | '┘')),
                    '┐' | '┘' => matches!(after, None | Some(' ' | '┌' | '└')),
                    _ => true,
                };
                if !ok {
                    return Err(format!("row {y} column {x}: {line}"));
                }
            }
        }
        Ok(())
    };
    for (w, ht) in [
        (80u16, 24u16),
        (81, 25),
        (82, 26),
        (83, 30),
        (100, 30),
        (120, 40),
    ] {
        for open in ["?", "z", ":"] {
            let mut h = harness();
            h.key('3');
            for k in open.chars() {
                h.key(k);
            }
            let screen = text(&render(&mut h, w, ht, &t));
            if let Err(e) = clear(&screen) {
                panic!("{open} at {w}x{ht}: {e}\n{screen}");
            }
        }
        // A prompt, over the panes' inner border.
        let mut h = harness();
        h.key('k');
        h.key('c');
        let screen = text(&render(&mut h, w, ht, &t));
        assert_eq!(h.s.mode, Mode::Prompt);
        if let Err(e) = clear(&screen) {
            panic!("prompt at {w}x{ht}: {e}\n{screen}");
        }
    }
    // Help at 80×24 is longer than the screen: scroll far past its end, then one line up.
    let mut h = harness();
    h.key('?');
    let first = text(&render(&mut h, 80, 24, &t));
    for _ in 0..10_000 {
        h.key('j');
        render(&mut h, 80, 24, &t);
    }
    let bottom = text(&render(&mut h, 80, 24, &t));
    assert_ne!(first, bottom, "j scrolls help");
    let inner: Vec<&str> = bottom.lines().skip(2).take(20).collect();
    assert!(
        !inner.last().unwrap().trim_matches(['│', ' ']).is_empty(),
        "the last line of help is at the bottom of the box, not blank rows:\n{bottom}"
    );
    // `G`/`End` go to the end of an overlay at once, `g`/`Home` back to its top, as in the
    // lists.
    for (end, top) in [
        (KeyCode::Char('G'), KeyCode::Char('g')),
        (KeyCode::End, KeyCode::Home),
    ] {
        let mut o = harness();
        o.key('?');
        render(&mut o, 80, 24, &t);
        o.code(end);
        assert_eq!(
            text(&render(&mut o, 80, 24, &t)),
            bottom,
            "{end:?} goes to the end"
        );
        o.code(top);
        assert_eq!(
            text(&render(&mut o, 80, 24, &t)),
            first,
            "{top:?} goes to the top"
        );
    }
    h.key('k');
    let up = text(&render(&mut h, 80, 24, &t));
    let was: Vec<&str> = bottom.lines().collect();
    let now: Vec<&str> = up.lines().collect();
    // One `k` moves the text down by one line at once.
    assert_eq!(
        now[3], was[2],
        "one k after the end scrolls up one line:\n{up}"
    );
}

/// At 80×24 every rule of the catalogue does not fit above the key-age chart: the most
/// frequent rules show, one line counts the rest, and the chart is whole (it used to be cut
/// off with no sign).
#[test]
fn the_dashboard_keeps_its_key_age_chart_when_rules_do_not_fit() {
    let t = theme();
    let mut h = harness();
    let mut d = crate::tui::state::tests::sample_data(40);
    d.dash.by_rule = crate::reconcile::RULES
        .iter()
        .enumerate()
        .map(|(i, r)| (r.0.to_string(), 100 - i as u64))
        .collect();
    let n = d.dash.by_rule.len();
    assert!(n > 12, "enough rules to overflow 80×24: {n}");
    h.send(crate::tui::state::Msg::Data(std::sync::Arc::new(d)));
    h.key('1');
    let screen = text(&render(&mut h, 80, 24, &t));
    assert!(screen.contains("> 1 year"), "the whole chart:\n{screen}");
    // The rest counted, on one line that fits the pane.
    let rest = screen
        .lines()
        .find(|l| l.contains("more rules: "))
        .unwrap_or_else(|| panic!("the rest counted:\n{screen}"));
    assert!(rest.contains(" findings (2: Gaps)"), "{rest}");
    let big = text(&render(&mut h, 120, 60, &t));
    assert!(
        !big.contains("more rules"),
        "all rules fit at 120×60:\n{big}"
    );
    assert!(big.contains(crate::reconcile::RULES[n - 1].0), "{big}");
}

/// A key typed before the first frame of a newly opened overlay is not held back by the last
/// overlay's length (a short log left `j` nowhere to go in help), and on a short terminal the
/// owner picker lists only the people its box holds, its cursor always among them.
#[test]
fn a_new_overlay_scrolls_at_once_and_the_picker_keeps_its_cursor_in_view() {
    let t = theme();
    let mut h = harness();
    h.key(':');
    h.typ("log");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.mode, Mode::Log);
    render(&mut h, 80, 24, &t);
    assert_eq!(h.s.scroll_max.get(), 0, "a log that fits");
    h.code(KeyCode::Esc);
    h.key('?');
    h.key('j');
    h.key('j');
    assert_eq!(h.s.help_scroll, 2, "both keys scrolled, before any frame");
    h.code(KeyCode::Esc);
    // 100×18: the picker asks for 14 rows and gets fewer; the last person is still shown when
    // the cursor is on them (30 more people than the sample's, all current).
    let mut snap = crate::tui::state::tests::sample_data(0).snapshot.clone();
    let alice = snap.data.people[0].clone();
    for i in 0..30 {
        let mut p = alice.clone();
        p.id = format!("u-extra{i:02}");
        p.user_name = format!("extra{i:02}@example.com");
        p.emails = vec![p.user_name.clone()];
        snap.data.people.push(p);
    }
    let cx = crate::reconcile::Context::at(crate::tui::state::tests::NOW);
    let findings = crate::reconcile::reconcile(&snap.data, &cx);
    h.send(crate::tui::state::Msg::Data(std::sync::Arc::new(
        crate::tui::data::Data::new(snap, findings, cx),
    )));
    h.key('4');
    h.key('o');
    assert_eq!(h.s.mode, Mode::Picker);
    let n = h.s.picker.as_ref().unwrap().matches.len();
    assert!(n > 20, "more people than the box holds: {n}");
    for _ in 0..n {
        h.code(KeyCode::Down);
    }
    let cursor = h.s.picker.as_ref().unwrap().cursor;
    let p = h.s.picker.as_ref().unwrap();
    let last = p.choices[p.matches[cursor]].email.clone();
    for (w, ht) in [(100u16, 18u16), (80, 16), (80, 24)] {
        let screen = text(&render(&mut h, w, ht, &t));
        assert!(
            screen.contains(&last),
            "{w}x{ht}: {last} in view:\n{screen}"
        );
    }
}

/// The sweep's prompt (a long title, the revoke note) says a justification is required, and an
/// empty Enter's error shows in full: the box grows with its wrapped lines.
#[test]
fn the_sweep_prompt_shows_its_error_whole_at_80x24() {
    let t = theme();
    let mut h = harness();
    h.key('3');
    h.key('g');
    h.key('x');
    assert_eq!(h.s.mode, Mode::Prompt, "{:?}", h.s.toast);
    let title = h.s.prompt.as_ref().unwrap().title.clone();
    assert!(title.ends_with("Justification (required)"), "{title}");
    h.code(KeyCode::Enter);
    let screen = text(&render(&mut h, 80, 24, &t));
    assert!(
        screen.contains("a justification is required")
            && screen.contains("this off)")
            && screen.contains("until a plan"),
        "{screen}"
    );
}

/// The help overlay names the view it was opened from and lists the `:` commands with their
/// arguments, not only the keys.
#[test]
fn help_names_its_view_and_lists_the_commands_with_arguments() {
    let t = theme();
    let mut h = harness();
    h.key('4');
    h.key('?');
    let screen = text(&render(&mut h, 120, 200, &t));
    assert!(screen.contains("Help · Keys"), "{screen}");
    for usage in [
        ":leak HINT",
        ":delegate EMAIL REASON",
        ":sort COLUMN [desc]",
        ":sync",
    ] {
        assert!(screen.contains(usage), "{usage}: {screen}");
    }
}

#[test]
fn selection_danger_and_marks_are_styled() {
    let t = theme();
    let mut h = harness();
    h.key('g');
    h.key('j');
    let term = render(&mut h, 80, 24, &t);
    let buf = term.backend().buffer();
    // Row 0 of the table is at y=3 (header line, border, column titles); the cursor is on row 1.
    let selected = &buf[(10, 4)];
    assert_eq!(selected.bg, t.selection.bg.unwrap());
    // Row 0 is critical: its severity cell is in the danger style.
    let critical = &buf[(4, 3)];
    assert_eq!(critical.symbol(), "C");
    assert_eq!(critical.fg, t.danger.fg.unwrap());
    assert!(critical.modifier.contains(Modifier::BOLD));
    // Row 1 carries a revoke decision: its mark column shows ✗ in danger.
    assert_eq!(buf[(2, 4)].symbol(), "✗");
    assert_eq!(buf[(2, 4)].fg, t.danger.fg.unwrap());
    // A marked row shows the mark and is bold.
    h.key('j');
    h.key(' ');
    let term = render(&mut h, 80, 24, &t);
    let buf = term.backend().buffer();
    assert_eq!(buf[(1, 5)].symbol(), "●");
    assert!(buf[(20, 5)].modifier.contains(Modifier::BOLD));
}

#[test]
fn no_color_keeps_selection_visible() {
    let t = Theme::load(None, true).unwrap();
    let mut h = harness();
    h.key('g');
    let term = render(&mut h, 80, 24, &t);
    let buf = term.backend().buffer();
    assert!(buf[(10, 3)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn no_control_characters_reach_the_buffer() {
    let t = theme();
    let mut h = harness();
    h.key('3');
    h.key('/');
    h.typ("carol");
    h.code(KeyCode::Enter);
    for (w, ht) in [(120u16, 40u16), (80, 24)] {
        let screen = text(&render(&mut h, w, ht, &t));
        assert!(
            !screen.chars().any(|c| c.is_control() && c != '\n'),
            "{screen}"
        );
        assert!(screen.contains("Carol ␛]52;c;aGk=␇"), "{screen}");
    }
}

/// With no data at all (no snapshot yet, or a load that failed), every key in every view
/// leaves the view where it was, marks nothing, records nothing and plans nothing, and the view
/// still draws its frame with its name.
#[test]
fn empty_views_never_panic_and_change_nothing() {
    use crate::tui::state::{Mode, Msg};
    let t = theme();
    let mut h = Harness::new(0);
    h.send(Msg::Data(std::sync::Arc::new(
        crate::tui::data::Data::default(),
    )));
    for v in ['1', '2', '3', '4', '5', '6', '7'] {
        h.key(v);
        let view = h.s.view;
        for c in [
            'j', 'k', 'G', 'g', ' ', 'x', 'o', 'd', 'v', 'v', '*', 'c', 's', 'S', 'u',
        ] {
            let left = h.key(c);
            assert!(
                left.iter()
                    .all(|e| matches!(e, crate::tui::state::Effect::Refine(_))),
                "{v} then {c}: {left:?}"
            );
            if h.s.mode != Mode::Normal {
                h.code(KeyCode::Esc);
            }
            assert_eq!(h.s.view, view, "{v} then {c}");
        }
        h.code(KeyCode::PageDown);
        assert!(h.s.vs().visible.is_empty(), "{v}");
        assert!(h.s.vs().marks.ids.is_empty(), "{v}");
        let screen = text(&render(&mut h, 80, 24, &t));
        assert!(screen.contains(view.title()), "{v}: {screen}");
    }
    // The engine was asked for nothing: no decision, no plan.
    use crate::engine::Command;
    assert!(
        !h.sent.iter().any(|c| matches!(
            c,
            Command::Record { .. }
                | Command::SetUndone { .. }
                | Command::Apply { .. }
                | Command::Resume { .. }
                | Command::Campaign(_)
        )),
        "{:?}",
        h.sent
    );
}

/// A toast longer than the status line gives way to nothing but the position: the hints go
/// first, then the toast is cut with `…` (it was cut mid-word with no mark).
#[test]
fn a_long_toast_is_cut_with_an_ellipsis_and_the_hints_give_way() {
    let t = theme();
    let mut h = harness();
    h.s.notify(
        "Not undone: batch 12 is already in plan #3, whose calls were sent or are being sent; withdrawing it would not give the access back",
        crate::tui::state::Level::Warn,
    );
    let screen = text(&render(&mut h, 80, 24, &t));
    let status = screen.lines().nth(23).unwrap();
    assert!(
        status.contains("Not undone: batch 12 is already in plan #3"),
        "{status}"
    );
    assert!(status.contains('…'), "{status}");
    assert!(!status.contains("? help"), "{status}");
    // A short one keeps the hints.
    h.s.notify("Saved", crate::tui::state::Level::Info);
    let screen = text(&render(&mut h, 80, 24, &t));
    assert!(screen.lines().nth(23).unwrap().contains("? help"));
}

/// Splitting display text never lands inside a character (a cut `…`, a sanitized control).
#[test]
fn split_floor_keeps_to_character_boundaries() {
    let s = "ab…␛c";
    for at in 0..=s.len() + 2 {
        let (h, t) = split_floor(s, at);
        assert_eq!(format!("{h}{t}"), s);
    }
    assert_eq!(split_floor(s, 3), ("ab", "…␛c"));
}

#[test]
fn every_small_size_renders_without_panic() {
    let t = Theme::load(None, true).unwrap();
    for key in ['1', '2', '3', '4', '5', '6', '7', '?', ':'] {
        for w in [1u16, 10, 39, 40, 41, 60, 80] {
            for ht in [1u16, 5, 11, 12, 13, 24] {
                let mut h = harness();
                if key == '?' || key == ':' {
                    h.key(key);
                } else {
                    h.key(key);
                    h.key('G');
                }
                let screen = text(&render(&mut h, w, ht, &t));
                if w < MIN_WIDTH || ht < MIN_HEIGHT {
                    // Below the minimum: the first line says so, as much of it as fits.
                    let first = screen.lines().next().unwrap_or("").trim();
                    assert!(
                        !first.is_empty() && "terminal too small".starts_with(first),
                        "{w}x{ht}: {screen}"
                    );
                } else {
                    // At or above it: the view itself, with its name in the header.
                    let name = h.s.view.title();
                    assert!(
                        !screen.contains("too small") && screen.contains(name),
                        "{w}x{ht} ({key}): {screen}"
                    );
                }
            }
        }
    }
}

/// Every action key and every `:` command, in every view, with marks and without, on a full
/// and an empty campaign queue: never a panic, always a screen with the header. Filter jobs
/// are held back and a frame is drawn before they answer, as in the real console, where a
/// frame can come between new data (a delegation's reload) and its filter's answer.
#[test]
fn every_key_and_command_in_every_view_never_panics() {
    use crossterm::event::{KeyEvent, KeyModifiers};
    let t = theme();
    let mut keys: Vec<KeyEvent> = "jkgGcravVxuUsSy? "
        .chars()
        .map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
        .collect();
    for code in [
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::PageDown,
        KeyCode::PageUp,
        KeyCode::Left,
        KeyCode::Right,
    ] {
        keys.push(KeyEvent::new(code, KeyModifiers::NONE));
    }
    keys.push(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
    let commands = [
        ":submit",
        ":signoff",
        ":delegate carol@example.com she owns it",
        ":delegate rev@example.com to myself",
        ":delegate group:nobody why",
        ":delegate",
        ":leak sk-proj-abc",
        ":leak",
        ":sweep",
        ":sweep nobody@example.com",
        ":sort subject",
        ":sort nonsense",
        ":group person",
        ":apply",
        ":log",
        ":help",
        ":queue",
        ":nonsense",
        "/decision:none",
        "/state:none",
        "/zzz",
    ];
    let views = ['0', '1', '2', '3', '4', '5', '6', '7'];
    let mut runs = 0;
    for full in [true, false] {
        for view in views {
            for marks in [false, true] {
                let actions: Vec<Result<KeyEvent, &str>> = keys
                    .iter()
                    .map(|k| Ok(*k))
                    .chain(commands.iter().map(|c| Err(*c)))
                    .collect();
                for action in actions {
                    // An empty queue: the console opened by someone nothing is routed to.
                    let mut h = crate::tui::state::tests::campaign_harness_as(if full {
                        "rev@example.com"
                    } else {
                        "nobody@example.com"
                    });
                    h.key(view);
                    if marks {
                        h.key(' ');
                        h.key('j');
                        h.key(' ');
                    }
                    h.defer_refine = true;
                    match action {
                        Ok(k) => {
                            h.send(crate::tui::state::Msg::Key(k));
                        }
                        Err(cmd) => {
                            h.typ(cmd);
                            h.code(KeyCode::Enter);
                        }
                    }
                    // Whatever was asked (a reason, a confirmation): answer it.
                    let what = format!("{view} marks={marks} full={full} {action:?}");
                    for step in 0..3 {
                        let screen = text(&render(&mut h, 80, 24, &t));
                        assert!(screen.contains("recert"), "{what}: {screen}");
                        match step {
                            0 => h.typ("because"),
                            1 => {
                                h.code(KeyCode::Enter);
                                h.key('y');
                            }
                            _ => {}
                        }
                    }
                    h.flush();
                    let screen = text(&render(&mut h, 120, 40, &t));
                    assert!(screen.contains("recert"), "{what}: {screen}");
                    runs += 1;
                }
            }
        }
    }
    assert!(runs > 500, "{runs}");
}

#[test]
fn all_built_in_themes_load() {
    for (name, text) in crate::cli::THEMES {
        let t = Theme::load(Some(text), false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&t.name, name);
        assert_ne!(t.danger, t.ok, "{name}");
    }
}

#[test]
fn the_campaign_queue_at_80x24_and_120x40() {
    let t = theme();
    let mut h = crate::tui::state::tests::campaign_harness();
    // One staged revoke, so the state column and the danger tone show.
    h.key('j');
    h.key('r');
    h.typ("unused since spring");
    h.code(KeyCode::Enter);
    h.key('k');
    h.send(crate::tui::state::Msg::Tick { now_ms: 600_000 });
    for (w, ht) in [(80, 24), (120, 40)] {
        let term = render(&mut h, w, ht, &t);
        let screen = text(&term);
        assert!(screen.contains("Q4 · 0/4 done · 1 staged"), "{screen}");
        insta::assert_snapshot!(format!("queue_{w}x{ht}"), screen);
    }
    // The submit confirmation lists the batch.
    h.typ(":submit");
    h.code(KeyCode::Enter);
    let term = render(&mut h, 80, 24, &t);
    let screen = text(&term);
    assert!(screen.contains("revoke 1"), "{screen}");
    insta::assert_snapshot!("queue_submit_80x24", screen);
}

/// Columns take their width from their content, the sorted one always shows (with its arrow),
/// and `h`/`l` scroll to the ones that do not fit; nothing is cut without an ellipsis.
#[test]
fn columns_fit_the_terminal_scroll_sideways_and_keep_the_sorted_one() {
    let t = theme();
    let mut h = harness();
    h.key('4');
    let s80 = text(&render(&mut h, 80, 24, &t));
    let head = |s: &str| s.lines().nth(2).unwrap_or("").to_string();
    assert!(
        head(&s80).contains("KEY") && head(&s80).contains("OWNER"),
        "{s80}"
    );
    assert!(
        s80.contains("more column"),
        "says columns are hidden: {s80}"
    );
    // Sorted by spend: the column shows with its arrow though it did not fit.
    h.key(':');
    h.typ("sort spend desc");
    h.code(KeyCode::Enter);
    let sorted = text(&render(&mut h, 80, 24, &t));
    assert!(head(&sorted).contains("SPEND▼"), "{sorted}");
    // `l` scrolls: the last column (resource) comes into view, the first stays.
    for _ in 0..8 {
        h.key('l');
    }
    let right = text(&render(&mut h, 80, 24, &t));
    assert!(
        head(&right).contains("RESOURCE") && head(&right).contains("KEY"),
        "{right}"
    );
    assert!(right.contains("h ◀"), "{right}");
    // Presses past the last column are not kept: one `h` moves the columns at once.
    h.key('h');
    let one_back = text(&render(&mut h, 80, 24, &t));
    assert_ne!(head(&one_back), head(&right), "{one_back}");
    for _ in 0..8 {
        h.key('h');
    }
    let back = text(&render(&mut h, 80, 24, &t));
    assert!(head(&back).contains("OWNER"), "{back}");
    // Wide enough for everything: no scrolling and nothing hidden.
    let wide = text(&render(&mut h, 200, 40, &t));
    assert!(!wide.contains("more column"), "{wide}");
}

#[test]
fn fitting_is_pure_and_never_scrolls_past_what_is_needed() {
    use crate::tui::table::Column;
    let cols = [
        Column::text("a", 10),
        Column::text("b", 10),
        Column::text("c", 10),
        Column::grow("d", 10),
    ];
    let natural = [10, 10, 10, 10];
    // 5 for borders and lead, 11 per column: everything fits in 49.
    let all = fit_columns(&cols, &natural, 49, 3, None);
    assert_eq!(all.shown, vec![0, 1, 2, 3]);
    assert_eq!((all.hidden_left, all.hidden_right), (0, 0));
    // Extra width goes to the growing column.
    let wide = fit_columns(&cols, &natural, 60, 0, None);
    assert_eq!(wide.widths, vec![10, 10, 10, 21]);
    // Two fit: scroll shows b then c; the sorted column replaces the last when off screen.
    let narrow = fit_columns(&cols, &natural, 27, 0, None);
    assert_eq!((narrow.shown.clone(), narrow.hidden_right), (vec![0, 1], 2));
    let scrolled = fit_columns(&cols, &natural, 27, 1, None);
    assert_eq!(scrolled.shown, vec![0, 2]);
    assert_eq!((scrolled.hidden_left, scrolled.hidden_right), (1, 1));
    let sorted = fit_columns(&cols, &natural, 27, 0, Some(3));
    assert_eq!(sorted.shown, vec![0, 3]);
    // Too narrow even for the first column: it is cut, not dropped, and nothing panics.
    let tiny = fit_columns(&cols, &natural, 8, 0, Some(2));
    assert_eq!(tiny.shown, vec![0]);
    assert_eq!(tiny.widths, vec![3]);
    // A column that does not fit whole shows cut where a useful part of it fits.
    let plain = [
        Column::text("a", 10),
        Column::text("b", 10),
        Column::text("c", 10),
        Column::text("d", 20),
    ];
    let part = fit_columns(&plain, &[10, 10, 10, 20], 52, 0, None);
    assert_eq!(part.shown, vec![0, 1, 2, 3]);
    assert_eq!(part.widths, vec![10, 10, 10, 13]);
    let no_room = fit_columns(&plain, &[10, 10, 10, 20], 44, 0, None);
    assert_eq!(
        no_room.shown,
        vec![0, 1, 2],
        "8 columns or less: not worth it"
    );
    assert_eq!(ellipsize("abcdef", 4), "abc…");
    assert_eq!(ellipsize("abc", 4), "abc");
    assert_eq!(ellipsize("日本語", 4), "日…");
}

/// An empty result says why across the table, not clipped into its first column.
#[test]
fn an_empty_result_says_why_in_full() {
    let t = theme();
    let mut h = harness();
    h.key('4');
    h.key('/');
    h.typ("owner:nobody-at-all");
    h.code(KeyCode::Enter);
    for (w, ht) in [(80u16, 24u16), (120, 40), (40, 12)] {
        let screen = text(&render(&mut h, w, ht, &t));
        let want = if w >= 80 {
            "Nothing matches the filter (Esc clears it)."
        } else {
            "Nothing matches"
        };
        assert!(screen.contains(want), "{w}x{ht}:\n{screen}");
    }
}

/// The new screens at both sizes: a drill-in with its breadcrumb, and the columns scrolled.
#[test]
fn drill_in_and_scrolled_columns_at_80x24_and_120x40() {
    let t = theme();
    for (w, ht) in [(80u16, 24u16), (120, 40)] {
        let mut h = harness();
        h.key('4');
        h.code(KeyCode::Enter);
        let screen = text(&render(&mut h, w, ht, &t));
        assert!(screen.contains("Keys › People"), "{screen}");
        insta::assert_snapshot!(format!("drill_in_{w}x{ht}"), screen);
        let mut h = harness();
        h.key('4');
        render(&mut h, w, ht, &t);
        h.key('l');
        h.key('l');
        insta::assert_snapshot!(
            format!("keys_scrolled_{w}x{ht}"),
            text(&render(&mut h, w, ht, &t))
        );
    }
}

/// A plan longer than the screen is read whole before it is confirmed: the title says how much
/// is below, `↓` and `PgDn` scroll the steps under the fixed prompt (a letter still types),
/// no further than the last step; each step says what it is for (its decision's label).
#[test]
fn a_long_plan_scrolls_under_its_prompt_to_the_last_step() {
    use crate::remediate::{PlannedStep, Step};
    let t = theme();
    let mut h = harness();
    // The harness recorded one decision (a revoke): every step is for it.
    let id = h.s.review.decisions[0].id;
    let label = h.s.review.decisions[0].d.label.clone();
    let steps = (1..=60)
        .map(|i| PlannedStep {
            decisions: vec![id],
            step: Step::Call {
                source: "openai".into(),
                method: "DELETE",
                path: format!("/organization/users/user-{i:03}"),
                body: None,
                note: None,
            },
        })
        .collect();
    h.s.confirm = Some(crate::tui::state::Confirm {
        purpose: crate::tui::state::Purpose::Apply { known: 0 },
        summary: vec![],
        steps,
        calls: 60,
        typed: String::new(),
        need_typing: true,
    });
    h.s.mode = Mode::Confirm;
    let top = text(&render(&mut h, 80, 24, &t));
    assert!(top.contains("more lines"), "{top}");
    assert!(top.contains("> ▏"), "the prompt is shown: {top}");
    assert!(
        top.contains(&format!("1. {label}: DELETE /organization/users/user-001")),
        "{top}"
    );
    assert!(!top.contains("user-060"), "{top}");
    h.code(KeyCode::Down);
    let down = text(&render(&mut h, 80, 24, &t));
    assert!(!down.contains("user-001"), "one line down: {down}");
    for _ in 0..20 {
        h.code(KeyCode::PageDown);
        render(&mut h, 80, 24, &t);
    }
    let end = text(&render(&mut h, 80, 24, &t));
    assert!(end.contains("user-060"), "the last step: {end}");
    assert!(end.contains("↑ scrolls"), "{end}");
    assert!(end.contains("Type 60 and Enter"), "the prompt stays: {end}");
    // Letters type into the prompt, as before.
    h.typ("60");
    assert_eq!(h.s.confirm.as_ref().unwrap().typed, "60");
    // One line up from the end shows the step above the last at once.
    h.code(KeyCode::Up);
    let up = text(&render(&mut h, 80, 24, &t));
    assert!(up.contains("↓ 1 more line"), "{up}");
}

/// The plan's first line counts each kind of step as the list below shows it: a step other
/// calls cover is not a manual step.
#[test]
fn the_plan_counts_calls_manual_steps_and_covered_steps_apart() {
    use crate::remediate::{PlannedStep, Step};
    let h = harness();
    let step = |s: Step| PlannedStep {
        decisions: vec![1],
        step: s,
    };
    let c = crate::tui::state::Confirm {
        purpose: crate::tui::state::Purpose::Apply { known: 0 },
        summary: vec![],
        steps: vec![
            step(Step::Call {
                source: "openai".into(),
                method: "DELETE",
                path: "/organization/users/u1".into(),
                body: None,
                note: None,
            }),
            step(Step::Manual {
                source: "anthropic".into(),
                what: "remove the role by hand".into(),
                lifted_by: Vec::new(),
            }),
            step(Step::Record {
                what: "covered by step 1".into(),
            }),
            step(Step::Record {
                what: "covered by step 1".into(),
            }),
        ],
        calls: 1,
        typed: String::new(),
        need_typing: false,
    };
    let first: String = plan_lines(&h.s, &theme(), &c).0[0]
        .spans
        .iter()
        .map(|s| s.content.to_string())
        .collect();
    assert_eq!(
        first,
        "This plan makes 1 provider call (1 manual step; 2 covered by other steps). Nothing has been sent."
    );
}

/// On the smallest terminal the decision prompt keeps what is typed in view: the question is
/// cut (with `…`), never the input line, so nobody confirms a reason they cannot see.
#[test]
fn a_prompt_at_40x12_shows_what_is_typed() {
    let t = theme();
    for key in ['r', 'c'] {
        let mut h = harness();
        h.key('j');
        h.key(key);
        h.typ("handover from leaver");
        // A title as long as a reassign's (key, owner, what is asked).
        let p = h.s.prompt.as_mut().expect("a prompt");
        p.title = format!(
            "Reassign billing-v8pb (sk-ant-api03-1JD...tgHH) to grace.schmidt2@example.com. {}",
            p.title
        );
        let big = text(&render(&mut h, 120, 40, &t));
        assert!(big.contains("> handover from leaver"), "{big}");
        let small = text(&render(&mut h, 40, 12, &t));
        assert!(small.contains("> handover from"), "{key}: {small}");
        let rows: Vec<&str> = small.lines().collect();
        let at = rows
            .iter()
            .position(|l| l.contains("> handover from"))
            .expect("the input line");
        assert!(
            at > 0 && rows[at - 1].contains('…'),
            "the question is cut, and says so: {small}"
        );
        // A reason longer than the box is wide shows its end, with the cursor; what is wrong
        // with it shows too.
        h.typ(", see ticket SEC-4411 and the HR record");
        h.s.prompt.as_mut().expect("a prompt").error = Some("needs a date".into());
        let small = text(&render(&mut h, 40, 12, &t));
        assert!(
            small.contains("HR record▏") && small.contains("needs a date"),
            "{key}: {small}"
        );
    }
}

/// The harness's decision (a revoke) carried out by a plan of one call, the provider's answer
/// (`done`, HTTP 204) recorded at `at`, as `recert apply` would; the console reloads.
fn carry_out(h: &mut Harness, at: i64) {
    use crate::remediate::{PlannedStep, RowState, Step};
    let d = h.outside().decisions().unwrap().remove(0);
    let plan = h
        .outside()
        .create_plan(
            &[PlannedStep {
                decisions: vec![d.id],
                step: Step::Call {
                    source: "openai".into(),
                    method: "DELETE",
                    path: "/organization/projects/proj_1/api_keys/id-001".into(),
                    body: None,
                    note: None,
                },
            }],
            "r",
            None,
            0,
        )
        .unwrap();
    let row = h.outside().journal(plan).unwrap().remove(0);
    h.outside().journal_sent(&row, "r", at - 1).unwrap();
    h.outside()
        .journal_result(&row, RowState::Done, Some(204), "ok", "r", at)
        .unwrap();
    h.reload_review();
}

/// A decision a plan carried out shows what that plan did, from its journal, not a plan made
/// again against the current snapshot.
#[test]
fn a_carried_out_decision_shows_what_its_plan_did() {
    let t = theme();
    let mut h = harness();
    carry_out(&mut h, 2);
    h.key('6');
    let screen = text(&render(&mut h, 120, 40, &t));
    assert!(
        screen.contains("outcome done, HTTP 204 (plan 1)")
            && screen.contains("plan #1 step 1 done: DELETE"),
        "{screen}"
    );
    // Done before the snapshot was taken, yet the snapshot still has it: still a revoke not
    // carried out (✗), and the detail asks why.
    h.key('2');
    let screen = text(&render(&mut h, 120, 40, &t));
    assert!(
        // (The pane wraps the words.)
        screen.contains('✗') && !screen.contains('⊘') && screen.contains("· STILL"),
        "{screen}"
    );
}

/// A revoke a plan carried out after the snapshot was taken (the snapshot cannot show it yet)
/// is marked `⊘`, not a staged `✗`.
#[test]
fn a_revoke_carried_out_after_the_snapshot_is_marked_so() {
    let t = theme();
    let mut h = harness();
    let before = text(&render(&mut h, 120, 40, &t));
    assert!(before.contains('✗') && !before.contains('⊘'), "{before}");
    carry_out(&mut h, crate::tui::state::tests::NOW + 60);
    let screen = text(&render(&mut h, 120, 40, &t));
    assert!(
        screen.contains('⊘') && !screen.contains('✗') && !screen.contains("STILL"),
        "{screen}"
    );
}

/// At 80×24 a person's detail does not fit its pane: the pane says so, and `z` shows the whole
/// of it over the screen (their sign-ins, leave date and apps), `Esc` back.
#[test]
fn the_whole_detail_at_80x24_with_z() {
    let t = theme();
    let mut h = harness();
    h.key('3');
    let screen = text(&render(&mut h, 80, 24, &t));
    assert!(screen.contains("more: z shows all"), "{screen}");
    assert!(!screen.contains("app OpenAI"), "{screen}");
    h.key('z');
    let screen = text(&render(&mut h, 80, 24, &t));
    assert!(screen.contains("Esc or z closes"), "{screen}");
    for says in [
        "signed in",
        "leaves",
        "app OpenAI (openai): assigned via staff",
    ] {
        assert!(screen.contains(says), "{says}: {screen}");
    }
    h.code(KeyCode::Esc);
    let screen = text(&render(&mut h, 80, 24, &t));
    assert!(!screen.contains("Esc or z closes"), "{screen}");
    // Nothing to zoom on the dashboard.
    h.key('1');
    h.key('z');
    let screen = text(&render(&mut h, 80, 24, &t));
    assert!(!screen.contains("Esc or z closes"), "{screen}");
}

/// `/` on a kept filter draws exactly the filter reversed (a selection), not the prompt or
/// the cursor; once typing replaces it, nothing is reversed.
#[test]
fn a_selected_kept_filter_is_drawn_reversed() {
    let t = theme();
    let mut h = harness();
    h.key('/');
    h.typ("ab");
    h.code(KeyCode::Enter);
    h.key('/');
    let reversed = |h: &mut Harness| -> String {
        let term = render(h, 80, 24, &t);
        let buf = term.backend().buffer();
        (0..buf.area.width)
            .map(|x| &buf[(x, buf.area.height - 1)])
            .filter(|c| c.modifier.contains(Modifier::REVERSED))
            .map(|c| c.symbol().to_string())
            .collect()
    };
    assert_eq!(reversed(&mut h), "ab");
    h.typ("c");
    assert_eq!(reversed(&mut h), "");
}

/// A filter kept with Enter while it has an error still says so: the rows are the last
/// good filter's (`/age` while `/age>abc` was typed), and the status line said only
/// `filter: age>abc`, as if it were applied.
#[test]
fn a_kept_filter_with_an_error_says_so_after_enter() {
    let t = theme();
    let mut h = harness();
    h.key('4');
    h.key('/');
    h.typ("age>abc");
    h.code(KeyCode::Enter);
    let screen = text(&render(&mut h, 80, 24, &t));
    let status = screen.lines().last().unwrap();
    assert!(
        status.contains("not a number for 'age'") && status.contains("/age"),
        "{screen}"
    );
    // At 120 columns the whole of it.
    let screen = text(&render(&mut h, 120, 40, &t));
    assert!(
        screen.contains("'abc' is not a number for 'age'"),
        "{screen}"
    );
}

/// A narrow dashboard cuts the rule's name, never its count: at 60 columns "3773" read "3".
#[test]
fn a_narrow_dashboard_cuts_names_not_counts() {
    let t = theme();
    let mut h = harness();
    h.key('1');
    for (w, ht) in [(60u16, 20u16), (50, 20), (80, 24)] {
        let screen = text(&render(&mut h, w, ht, &t));
        let rules = h.s.data.dash.by_rule.clone();
        assert!(!rules.is_empty());
        let mut seen = 0;
        for (rule, n) in &rules {
            let head: String = rule.chars().take(12).collect();
            let Some(line) = screen.lines().find(|l| l.contains(&head)) else {
                continue;
            };
            seen += 1;
            let after = &line[line.find(&head).unwrap() + head.len()..];
            assert!(
                after
                    .split(|c: char| !c.is_ascii_digit())
                    .any(|x| x == n.to_string()),
                "{w}x{ht}: {rule} {n} in {line:?}\n{screen}"
            );
        }
        assert!(seen > 0, "{w}x{ht}: no rule shown\n{screen}");
    }
}

/// The dashboard's "Decisions standing" counts a revoke a plan carried out apart from one still
/// to send: a responder reads "1 revoked", not a revoke that looks outstanding.
#[test]
fn the_dashboard_counts_carried_out_revokes_apart() {
    let t = theme();
    let mut h = harness();
    h.key('1');
    let standing = |h: &mut Harness| {
        let screen = text(&render(h, 120, 40, &t));
        let at = screen
            .lines()
            .position(|l| l.contains("Decisions standing"))
            .unwrap();
        let line = screen.lines().nth(at + 1).unwrap();
        // The right pane's line, between its borders.
        let inner = line.rsplit('│').nth(1).unwrap_or(line).trim().to_string();
        inner.split(" · ").map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(standing(&mut h), ["1 revoke"]);
    carry_out(&mut h, crate::tui::state::tests::NOW + 60);
    assert_eq!(standing(&mut h), ["1 revoked"]);
}

/// A whole key pasted into the filter bar or the palette (a responder holding a leak) is never
/// drawn: typed text reaches the screen through the redactor, as provider text and logs do.
/// The filter keeps it out of its history and points to `:leak`, which finds a key by it.
#[test]
fn a_whole_key_typed_is_never_drawn() {
    let t = theme();
    let key = "sk-proj-Zq8vK2mN5pL7xR3tY6wB9cD1fG4hJ0sA";
    let mut h = harness();
    h.key('4');
    h.key('/');
    h.typ(key);
    let typing = text(&render(&mut h, 120, 40, &t));
    h.code(KeyCode::Enter);
    let kept = text(&render(&mut h, 120, 40, &t));
    h.key(':');
    h.typ(&format!("leak {key}"));
    let palette = text(&render(&mut h, 120, 40, &t));
    for (when, screen) in [("typing", &typing), ("kept", &kept), ("palette", &palette)] {
        assert!(!screen.contains("Zq8vK2mN5pL7"), "{when}:\n{screen}");
    }
    assert!(
        h.s.filter_history
            .iter()
            .all(|f| !f.contains("Zq8vK2mN5pL7")),
        "{:?}",
        h.s.filter_history
    );
    assert!(
        h.s.log.iter().any(|l| l.contains(":leak")) || kept.contains(":leak"),
        "the person is pointed to :leak\n{kept}"
    );
}
