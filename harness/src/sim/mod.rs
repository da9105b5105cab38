//! The simulated world: the nodes run together on turmoil, and things break
//! on purpose.
//!
//! - [`trace`]: every event of a run and its hash.
//! - [`driver`]: runs one sans-IO node on a host over TCP and a journal.
//! - [`disk`]: journal files on the simulated (or a real) disk.
//! - [`faults`]: the fault plan (message rules, random rates).
//! - [`proxy`]: the fault proxy on every link.
//! - [`runner`]: the run loop: schedule, crashes, heal, quiet period.

pub mod disk;
pub mod driver;
pub mod faults;
pub mod proxy;
pub mod runner;
pub mod trace;
