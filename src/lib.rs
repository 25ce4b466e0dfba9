//! recert: access reviews for AI platforms. See README.md and ../shared/design.md for the map.

/// mimalloc: reconciling a million grants makes millions of small strings on both cores, and
/// glibc's allocator took about half that time (BENCHMARKS.md, Reconcile).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod audit;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod model;
pub mod reconcile;
pub mod remediate;
pub mod review;
pub mod secret;
pub mod sim;
pub mod store;
pub mod sync;
pub mod tui;
