//! The use cases both front ends call, each written once: the console and the CLI are thin
//! clients of these. Each module is one use case; none prints, draws or reads the terminal.
//!
//! - [`load`]: the latest snapshot judged (its stored digest first), and the one way every
//!   command judges a snapshot.
//! - [`review`]: the review read model (decisions, audit log, journal, a reviewer's queue).
//! - [`decide`]: decisions recorded, batches undone and redone.
//! - [`campaign`]: a reviewer's acts on their queue (stage, submit, sign off, delegate) and
//!   the one delegation policy (no delegating to oneself, no self-review through a group).
//! - [`apply`]: the unfinished-plan guard, a plan stored, the provider clients for it, the
//!   run and its one summary.
//! - [`incident`]: a key found by any hint, and the facts shown about it.
//! - [`doctor`]: the setup check.
//! - [`session`]: the engine a console talks to: commands in, events out, one thread owning
//!   the store handle, one runtime, bulk data published as `Arc` plus a generation.

pub mod apply;
pub mod campaign;
pub mod decide;
pub mod doctor;
pub mod incident;
pub mod load;
pub mod review;
pub mod session;

pub use session::{Bulk, Command, Engine, Event, Front, Published, Setup};
