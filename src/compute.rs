//! The threads bulk work runs on. Reconcile, the console's filters and sorts go through rayon;
//! its workers run at a lower scheduling priority than the threads a person is waiting on (the
//! console's UI thread, the engine, the HTTP runtime), so a key press is rarely kept waiting
//! for a time slice behind a filter of a million rows (nice +10 weighs the scheduler about ten
//! to one; it does not forbid). Applies once the binary calls [`init`]; a library user's rayon
//! pool is left as it is. On an idle machine the workers still take every
//! core: priority only decides who runs first when both want the same core.
//!
//! Measured in `cargo bench --bench console` ("key to screen while filtering", both pools in
//! one run): BENCHMARKS.md.

/// How much lower than the process's own priority the bulk workers run (a `nice` increment).
pub const BACKGROUND_NICE: i32 = 10;

/// Makes rayon's global pool the background pool. Called once at the start of the process,
/// before anything uses rayon; a later call (or one after rayon started) changes nothing and
/// says so.
pub fn init() -> Result<(), rayon::ThreadPoolBuildError> {
    builder().build_global()
}

/// A background pool of its own (the benchmark compares it with an ordinary one).
pub fn pool() -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    builder().build()
}

fn builder() -> rayon::ThreadPoolBuilder {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("recert-bulk-{i}"))
        .start_handler(|_| lower_this_thread())
}

/// Lowers the calling thread's priority by [`BACKGROUND_NICE`]. On Linux a thread has its own
/// nice value (`setpriority` on its thread id); elsewhere this does nothing yet, and the
/// workers share the cores evenly with everyone else, as before.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid takes no arguments and cannot fail; setpriority on this thread's own
        // id only changes its nice value (raising it needs no privilege). A failure leaves the
        // thread at its old priority, which is what every other platform gets.
        // getpriority may rightly answer -1, so its failure shows only in errno, cleared first.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            *libc::__errno_location() = 0;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            if *libc::__errno_location() == 0 {
                libc::setpriority(libc::PRIO_PROCESS, tid, now + BACKGROUND_NICE);
            }
        }
    }
}

/// This thread's nice value (Linux), for the test that the workers run below the caller.
#[cfg(target_os = "linux")]
pub fn this_thread_nice() -> i32 {
    // SAFETY: as above; reading a thread's own priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::getpriority(libc::PRIO_PROCESS, tid)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn background_workers_run_below_the_thread_that_waits_for_them() {
        let me = this_thread_nice();
        let pool = pool().unwrap();
        let theirs: Vec<i32> = pool.broadcast(|_| this_thread_nice());
        assert_eq!(theirs.len(), pool.current_num_threads());
        for nice in theirs {
            // The kernel caps nice at 19.
            assert_eq!(
                nice,
                (me + BACKGROUND_NICE).min(19),
                "a worker's nice value"
            );
        }
        assert_eq!(this_thread_nice(), me, "the caller keeps its priority");
    }
}
