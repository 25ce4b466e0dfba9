//! recert's panic hook, installed for real in a process of its own (a hook is global): a
//! panic on a thread beside the open console leaves the terminal to the console and goes to
//! the log redacted; a panic on the console's own thread gives the terminal back first.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static RESTORED: AtomicUsize = AtomicUsize::new(0);

fn restore() {
    RESTORED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn panics_beside_the_console_go_to_the_log_redacted_and_leave_the_terminal() {
    let log = Log::default();
    let writer = log.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    recert::crash::install();
    let open = recert::crash::console_open(restore);
    let key = format!("sk-svcacct-{}", "Zq9".repeat(14));
    let quoted = key.clone();
    let engine = std::thread::Builder::new()
        .name("recert-engine".into())
        .spawn(move || panic!("the provider answered {quoted}"))
        .unwrap()
        .join();
    assert!(engine.is_err());
    assert_eq!(
        RESTORED.load(Ordering::SeqCst),
        0,
        "a panic off the console's thread must not take its terminal away"
    );
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("internal error: thread 'recert-engine' panicked at")
            && text.contains("[REDACTED]"),
        "{text}"
    );
    assert!(!text.contains(&key), "{text}");
    // On the console's own thread the terminal is given back before anything is printed.
    assert!(std::panic::catch_unwind(|| panic!("a drawing bug")).is_err());
    assert_eq!(RESTORED.load(Ordering::SeqCst), 1);
    // Once the console is closed, nothing restores a terminal it no longer holds.
    drop(open);
    let after = std::thread::spawn(|| panic!("after")).join();
    assert!(after.is_err());
    assert!(std::panic::catch_unwind(|| panic!("after, here")).is_err());
    assert_eq!(RESTORED.load(Ordering::SeqCst), 1);
}
