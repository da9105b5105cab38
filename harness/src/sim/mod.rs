//! The simulated world: the nodes run together on turmoil, and things break
//! on purpose.
//!
//! - [`trace`]: every event of a run and its hash.
//! - [`faults`]: the fault plan (message rules, random rates).
//! - [`proxy`]: the fault proxy on every link.

pub mod faults;
pub mod proxy;
pub mod trace;
