//! The simulated world: the nodes run together on turmoil, and things break
//! on purpose.
//!
//! - [`trace`]: every event of a run and its hash.
//! - [`driver`]: runs one sans-IO node on a host over TCP and a journal.
//! - [`disk`]: journal files on the simulated (or a real) disk.
//! - [`faults`]: the fault plan (message rules, random rates).
//! - [`proxy`]: the fault proxy on every link.
//! - [`runner`]: the run loop: schedule, crashes, heal, quiet period.
//! - [`world`]: the payment world: terminals, switch, banks, workload, faults.
//! - [`topology`]: the built-in topology of cards, merchants and nodes.

pub mod disk;
pub mod driver;
pub mod faults;
pub mod proxy;
pub mod runner;
pub mod topology;
pub mod trace;
pub mod world;
