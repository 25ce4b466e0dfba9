//! The use cases both front ends call, each written once: the console and the CLI are thin
//! clients of these. Each module is one use case; none prints, draws or reads the terminal.
//!
//! - [`apply`]: the unfinished-plan guard, a plan stored, the provider clients for it, the
//!   run and its one summary.
//! - [`campaign`]: the delegation policy (no delegating to oneself, no self-review through a
//!   directory group).
//! - [`incident`]: a key found by any hint, and the facts shown about it.
//!
//! Still in the front ends (issue 19 moves them here): loading a snapshot, decisions and
//! their undo, staging and submitting, signing off, the person sweep and sync.

pub mod apply;
pub mod campaign;
pub mod doctor;
pub mod incident;
