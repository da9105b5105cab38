//! The simulated world: the nodes run together on turmoil, and things break
//! on purpose.
//!
//! One entry point: [`run`] executes a [`Plan`] and returns the
//! [`History`](crate::history::History) it left, its [`trace`], how it
//! ended and how often each fault fired. Inside:
//!
//! - [`trace`]: every event of a run and its hash (public: reports read it);
//! - `driver`: runs one sans-IO node on a host over TCP and a journal;
//! - `disk`: journal files on the simulated (or a real) disk;
//! - `proxy`: the fault proxy on every link; its decisions are the sans-IO
//!   [`FaultProxy`] (public: what a fault means, whatever carries the bytes);
//! - `runner`: the run loop: schedule, crashes, heal, quiet period;
//! - `world`: the payment world: terminals, switch, banks, workload, faults;
//! - `evidence`: the one place where node state becomes history, at the
//!   end of a run;
//! - `tally`: how often each fault of the plan fired ([`FaultTally`]),
//!   counted beside the trace, never in it.

mod disk;
mod driver;
mod evidence;
mod proxy;
mod runner;
mod tally;
pub mod trace;
mod world;

#[cfg(test)]
mod tests;

pub use proxy::{Delivery, FaultProxy};
pub use runner::Ending;
pub use tally::{FaultFired, FaultKind, FaultTally, LinkFired};
pub use world::RunResult;

use crate::node::BankId;
use crate::plan::Plan;
use crate::wire::types::TerminalId;

/// How to execute a plan (what does not change what happens in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimOptions {
    /// Keep every trace event (for reports), not only the hash and count.
    pub keep_events: bool,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions { keep_events: true }
    }
}

/// Why a plan could not be run to its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The workload names a terminal the topology does not have.
    #[error("the workload names terminal {0}, which is not in the topology")]
    UnknownTerminal(TerminalId),
    /// The workload names a bank the topology does not have.
    #[error("the workload names bank {0}, which is not in the topology")]
    UnknownBank(BankId),
    /// The simulator itself failed (a host task returned an error).
    #[error("simulation error at {at_ms} ms: {message}")]
    Turmoil {
        /// Simulated time of the failure.
        at_ms: u64,
        /// turmoil's message.
        message: String,
    },
}

/// Run `plan` to its end: the fault phase, healing, the quiet period; then
/// gather the history from what the nodes kept.
pub fn run(plan: &Plan, options: &SimOptions) -> Result<RunResult, SimError> {
    world::run(plan, options)
}
