//! The console. The only module that knows ratatui and crossterm. The driver turns terminal
//! events into messages, runs the pure `update`, carries out its effects, and redraws when
//! something changed.

pub mod keymap;
pub mod state;
pub mod theme;
pub mod view;

use std::io;
use std::time::Duration;

use crossterm::event::{self, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::model::Finding;
use keymap::Keymap;
use state::{Effect, Msg, State, update};
use theme::Theme;

pub struct Options {
    pub keymap: Keymap,
    pub theme: Theme,
    pub read_only: bool,
    /// What the header says about the data (snapshot, time, sources).
    pub context: String,
}

/// Put the terminal back: leave raw mode and the alternate screen. Safe to call twice.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// Run the findings console until the user quits.
pub fn run(findings: Vec<Finding>, opts: Options) -> io::Result<()> {
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        prev_hook(info);
    }));
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen)?;
    let result = (|| {
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        let mut state = State::new(findings, opts.keymap, opts.context);
        state.read_only = opts.read_only;
        let size = terminal.size()?;
        update(
            &mut state,
            Msg::Resize {
                rows: view::table_rows(size.width, size.height),
            },
        );
        let mut dirty = true;
        loop {
            if dirty {
                terminal.draw(|f| view::draw(f, &state, &opts.theme))?;
                dirty = false;
            }
            if !event::poll(Duration::from_millis(250))? {
                continue;
            }
            // Drain everything pending before the next frame.
            loop {
                let msg = match event::read()? {
                    Event::Key(k) if k.kind != KeyEventKind::Release => Some(Msg::Key(k)),
                    Event::Resize(w, h) => Some(Msg::Resize {
                        rows: view::table_rows(w, h),
                    }),
                    _ => None,
                };
                if let Some(msg) = msg {
                    dirty = true;
                    if update(&mut state, msg).contains(&Effect::Quit) {
                        return Ok(());
                    }
                }
                if !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
    })();
    restore_terminal();
    let _ = std::panic::take_hook();
    result
}
