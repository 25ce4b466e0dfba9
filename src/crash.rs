//! What happens when recert hits a bug (a panic), in every command and every thread.
//!
//! The report is one line, redacted like every other line recert writes (a panic's message
//! can quote whatever the code held: a provider's answer, a key), written to the log. It is
//! also printed where a person reads it, with one exception: while the console is open, a
//! panic on another thread (the engine answers a failed command and goes on; the filter
//! worker answers a failed job) leaves the terminal alone, since the console is still
//! running and printing would scribble over it, and restoring the terminal would leave it
//! drawing in a cooked terminal. Only a panic on the console's own thread restores the
//! terminal first, then prints.

use std::any::Any;
use std::sync::{Mutex, Once};
use std::thread::ThreadId;

/// The open console: its thread, and how to give the terminal back.
struct Console {
    thread: ThreadId,
    restore: fn(),
}

static CONSOLE: Mutex<Option<Console>> = Mutex::new(None);
static INSTALL: Once = Once::new();

/// Where a panic's report goes besides the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Give the terminal back (raw mode off, main screen) before printing.
    pub restore_terminal: bool,
    /// Print the report on stderr.
    pub stderr: bool,
}

/// The route of a panic on `thread`, `console` being the console's thread while it is open.
pub fn route(thread: ThreadId, console: Option<ThreadId>) -> Route {
    match console {
        None => Route {
            restore_terminal: false,
            stderr: true,
        },
        Some(ui) if ui == thread => Route {
            restore_terminal: true,
            stderr: true,
        },
        Some(_) => Route {
            restore_terminal: false,
            stderr: false,
        },
    }
}

/// A panic's one-line report, redacted: the thread, where, and the message.
pub fn report(
    thread: Option<&str>,
    location: Option<String>,
    payload: &(dyn Any + Send),
) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    let text = format!(
        "thread '{}' panicked at {}: {message}",
        thread.unwrap_or("<unnamed>"),
        location.as_deref().unwrap_or("an unknown place"),
    );
    crate::secret::redact(&text, &[])
}

/// Install recert's panic hook (once; later calls do nothing).
pub fn install() {
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let current = std::thread::current();
            let line = report(
                current.name(),
                info.location().map(|l| format!("{}:{}", l.file(), l.line())),
                info.payload(),
            );
            let trace = std::backtrace::Backtrace::capture();
            if trace.status() == std::backtrace::BacktraceStatus::Captured {
                tracing::error!(target: "recert::crash", "internal error: {line}\n{trace}");
            } else {
                tracing::error!(target: "recert::crash", "internal error: {line}");
            }
            // The lock is never held while anything can panic; a poisoned one still holds
            // the console.
            let console = CONSOLE.lock().unwrap_or_else(|e| e.into_inner());
            let r = route(current.id(), console.as_ref().map(|c| c.thread));
            if r.restore_terminal && let Some(c) = console.as_ref() {
                (c.restore)();
            }
            drop(console);
            if r.stderr {
                // Never `eprintln!` here: with stderr closed it panics, and a panic in the
                // hook aborts. Provider text quoted in the message never drives the terminal.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "recert: internal error: {}\nThis is a bug in recert: please report it (the log has the details).",
                    crate::model::text::sanitize(&line)
                );
            }
        }));
    });
}

/// The console is open on this thread until the guard is dropped; `restore` gives the
/// terminal back.
#[must_use]
pub struct ConsoleOpen(());

/// Say the console is open on the calling thread (installing the hook if it is not yet).
pub fn console_open(restore: fn()) -> ConsoleOpen {
    install();
    *CONSOLE.lock().unwrap_or_else(|e| e.into_inner()) = Some(Console {
        thread: std::thread::current().id(),
        restore,
    });
    ConsoleOpen(())
}

impl Drop for ConsoleOpen {
    fn drop(&mut self) {
        *CONSOLE.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_console_thread_restores_the_terminal_and_others_stay_off_it() {
        let me = std::thread::current().id();
        let other = std::thread::spawn(|| std::thread::current().id())
            .join()
            .unwrap();
        assert_eq!(
            route(me, None),
            Route {
                restore_terminal: false,
                stderr: true
            }
        );
        assert_eq!(
            route(me, Some(me)),
            Route {
                restore_terminal: true,
                stderr: true
            }
        );
        assert_eq!(
            route(other, Some(me)),
            Route {
                restore_terminal: false,
                stderr: false
            }
        );
    }

    #[test]
    fn a_report_is_redacted_whatever_the_payload() {
        let key = format!("sk-proj-{}", "Q7x".repeat(16));
        let owned: Box<dyn Any + Send> = Box::new(format!("bad answer: {key}"));
        let line = report(
            Some("recert-engine"),
            Some("src/x.rs:1".into()),
            owned.as_ref(),
        );
        assert!(
            !line.contains(&key) && line.contains("[REDACTED]"),
            "{line}"
        );
        assert!(line.starts_with("thread 'recert-engine' panicked at src/x.rs:1: bad answer"));
        let fixed: Box<dyn Any + Send> = Box::new("plain");
        assert!(report(None, None, fixed.as_ref()).ends_with(": plain"));
        let other: Box<dyn Any + Send> = Box::new(42u8);
        assert!(report(None, None, other.as_ref()).ends_with("(no message)"));
    }
}
