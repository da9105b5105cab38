//! A run as typed data: the topology of nodes, the workload, every fault
//! and the timing of the phases, with typed host and link ids.
//!
//! Scenario files and generated seeds both become a [`Plan`]; the shrinker
//! edits one; the simulation (and later live mode) executes one. A plan is
//! plain data: comparable (`PartialEq`), printable and serializable, so two
//! plans are equal exactly when they run the same.
//!
//! - [`ids`]: [`HostId`] and [`LinkId`];
//! - [`topology`]: the nodes and how they are wired, and the built-in one;
//! - [`faults`]: what breaks: message rules, random rates, injections,
//!   partitions, crashes, torn writes, clocks.
//!
//! It sits above `node/` (whose configurations it holds) and below `sim/`.

pub mod faults;
pub mod ids;
pub mod topology;

use serde::{Deserialize, Serialize};

pub use faults::{
    ArmedCrash, ClockModel, Direction, FaultPlan, Injection, LinkFaults, LinkPartition, MessageAction,
    MessageMatch, MessageRule, RandomMessageFaults, TimedCrash, TimedInjection, LOCAL_CLOCK_ORIGIN_MS,
};
pub use ids::{HostId, IdError, LinkId, SWITCH_HOST};
pub use topology::Topology;

use crate::node::bank::BankCommand;
use crate::node::terminal::TerminalCommand;
use crate::node::BankId;
use crate::wire::types::TerminalId;

/// What the workload does at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkItem {
    /// A customer or clerk at a terminal.
    Terminal {
        /// Which terminal.
        terminal: TerminalId,
        /// What they do.
        command: TerminalCommand,
    },
    /// A bank operator (freeze a merchant, maintenance, ...).
    Bank {
        /// Which bank.
        bank: BankId,
        /// What they do.
        command: BankCommand,
    },
}

/// A scheduled work item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Simulated milliseconds from the start.
    pub at_ms: u64,
    /// What happens.
    pub item: WorkItem,
}

/// How long each phase lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// Simulated milliseconds per tick. 20 ms: message latency (1-5 ms)
    /// rounds to one tick, and every timeout the nodes and the generator
    /// use (connect 500 ms, response, bank and retry timeouts whole seconds,
    /// stale connections 2 s) is a multiple of it; timers fire at their
    /// exact millisecond inside a tick, only deliveries wait for the next
    /// tick. Every host is polled once a tick, so a run costs half the steps
    /// of a 10 ms tick.
    pub tick_ms: u64,
    /// The workload and fault phase.
    pub fault_phase_ms: u64,
    /// Quiet for this long after healing ends the run.
    pub quiet_ms: u64,
    /// Hard limit on simulated time (reported, never a hang).
    pub limit_ms: u64,
    /// Close every terminal's batch after healing (end of day), so that
    /// settlement is always exercised.
    pub close_batches_at_end: bool,
    /// Dial again when a connection stays silent this long.
    pub stale_connection_ms: u64,
    /// After healing, end the run once nothing happened for this long while
    /// no node has work pending (else after `quiet_ms` of silence). 100 ms:
    /// five ticks, longer than any message takes from a proxy to a node
    /// (one or two ticks), so a run ends the moment it is quiescent rather
    /// than after a second of idle ticks.
    pub settle_ms: u64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            tick_ms: 20,
            fault_phase_ms: 20_000,
            quiet_ms: 10_000,
            limit_ms: 600_000,
            close_batches_at_end: true,
            stale_connection_ms: 2_000,
            settle_ms: 100,
        }
    }
}

/// A whole run: nodes, workload, faults, timing, and the seed of
/// everything random in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The seed of everything random in the run.
    pub seed: u64,
    /// The nodes and how they are wired.
    pub topology: Topology,
    /// The workload.
    pub workload: Vec<Step>,
    /// What breaks.
    pub faults: FaultPlan,
    /// Phases.
    pub timing: Timing,
}

impl Plan {
    /// A run of `topology`'s nodes.
    pub fn new(
        seed: u64,
        topology: Topology,
        workload: Vec<Step>,
        faults: FaultPlan,
        timing: Timing,
    ) -> Plan {
        Plan {
            seed,
            topology,
            workload,
            faults,
            timing,
        }
    }
}
