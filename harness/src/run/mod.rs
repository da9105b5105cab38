//! Run a plan and check it: the one place where a [`Plan`] meets the
//! simulation and the checker.
//!
//! Scenario files, exploration, shrinking, replay and `payfault mutants`
//! all go through [`run`]: it switches the planted bugs on, executes the
//! plan, judges the history with every invariant, and turns a panic in a
//! node or the world into an error that names the seed.

mod scenario;

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::check::{check, Verdict};
use crate::history::History;
use crate::node::{Bug, Bugs};
use crate::plan::Plan;
use crate::report::Evidence;
use crate::sim::trace::{Trace, TraceHash};
use crate::sim::{self, Ending, SimError, SimOptions};

pub use scenario::{judge, scenario, ScenarioOptions};

/// What a run may change without changing the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Planted bugs switched on in every node, on top of the plan's own.
    pub bugs: Bugs,
    /// Keep every trace event (for reports); otherwise only the hash.
    pub keep_events: bool,
}

impl RunOptions {
    /// Keep every event, with these bugs on (for reports).
    pub fn reported(bugs: &[Bug]) -> RunOptions {
        RunOptions {
            bugs: Bugs::of(bugs.iter().copied()),
            keep_events: true,
        }
    }

    /// Only the hash, with these bugs on (for exploration and shrinking).
    pub fn hashed(bugs: &Bugs) -> RunOptions {
        RunOptions {
            bugs: bugs.clone(),
            keep_events: false,
        }
    }
}

/// What one run left and what the checker made of it.
#[derive(Debug)]
pub struct Run {
    /// The plan's seed.
    pub seed: u64,
    /// The planted bugs the nodes ran with.
    pub bugs: Vec<Bug>,
    /// The evidence.
    pub history: History,
    /// Every invariant judged over the history.
    pub verdict: Verdict,
    /// The trace (its events only if kept).
    pub trace: Trace,
    /// The trace's hash.
    pub trace_hash: TraceHash,
    /// Simulated milliseconds the run took.
    pub simulated_ms: u64,
    /// How it ended.
    pub ending: Ending,
}

impl Run {
    /// Whether every invariant holds and the run went quiet after healing.
    pub fn passed(&self) -> bool {
        self.verdict.passed() && self.ending == Ending::Quiescent
    }

    /// The run as a report reads it.
    pub fn evidence(&self) -> Evidence<'_> {
        Evidence {
            seed: self.seed,
            bugs: &self.bugs,
            history: &self.history,
            verdict: &self.verdict,
            trace: &self.trace,
            simulated_ms: self.simulated_ms,
            quiescent: self.ending == Ending::Quiescent,
        }
    }
}

/// Why a plan could not be run and checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The simulation could not run the plan.
    #[error("seed {seed}: {error}")]
    Sim {
        /// The plan's seed.
        seed: u64,
        /// What went wrong.
        error: SimError,
    },
    /// A node or the world panicked.
    #[error("seed {seed} panicked: {message}")]
    Panicked {
        /// The plan's seed.
        seed: u64,
        /// The panic's message.
        message: String,
    },
}

/// The plan with `bugs` switched on in every node, on top of its own.
pub fn with_bugs(plan: &Plan, bugs: &Bugs) -> Plan {
    let mut plan = plan.clone();
    if bugs.is_empty() {
        return plan;
    }
    let topology = &mut plan.topology;
    for terminal in &mut topology.terminals {
        terminal.bugs = terminal.bugs.union(bugs);
    }
    topology.switch.bugs = topology.switch.bugs.union(bugs);
    for bank in &mut topology.banks {
        bank.bugs = bank.bugs.union(bugs);
    }
    plan
}

/// Every planted bug switched on in some node of `plan`, in catalogue order.
pub fn bugs_of(plan: &Plan) -> Vec<Bug> {
    let topology = &plan.topology;
    let mut all = topology.switch.bugs.clone();
    for terminal in &topology.terminals {
        all = all.union(&terminal.bugs);
    }
    for bank in &topology.banks {
        all = all.union(&bank.bugs);
    }
    all.iter().collect()
}

/// Run `plan` with `options` and check it.
pub fn run(plan: &Plan, options: &RunOptions) -> Result<Run, RunError> {
    let plan = with_bugs(plan, &options.bugs);
    let seed = plan.seed;
    let sim_options = SimOptions {
        keep_events: options.keep_events,
    };
    let result = catch_unwind(AssertUnwindSafe(|| sim::run(&plan, &sim_options)))
        .map_err(|panic| RunError::Panicked {
            seed,
            message: panic_text(&*panic),
        })?
        .map_err(|error| RunError::Sim { seed, error })?;
    let verdict =
        catch_unwind(AssertUnwindSafe(|| check(&result.history))).map_err(|panic| RunError::Panicked {
            seed,
            message: format!("in the checker: {}", panic_text(&*panic)),
        })?;
    Ok(Run {
        seed,
        bugs: bugs_of(&plan),
        history: result.history,
        verdict,
        trace: result.trace,
        trace_hash: result.trace_hash,
        simulated_ms: result.simulated_ms,
        ending: result.ending,
    })
}

/// The message of a caught panic.
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
