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
use crate::cover::{self, Counts};
use crate::history::History;
use crate::node::{Bug, Bugs};
use crate::plan::Plan;
use crate::report::Evidence;
use crate::sim::trace::{Trace, TraceHash};
use crate::sim::{self, Ending, FaultTally, SimError, SimOptions};

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
    /// Every fault of the plan and how often it fired.
    pub faults: FaultTally,
    /// How often each coverage mark was hit while running and checking
    /// it (not part of the trace or its hash).
    pub coverage: Counts,
}

impl Run {
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
            faults: &self.faults,
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
fn with_bugs(plan: &Plan, bugs: &Bugs) -> Plan {
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
fn bugs_of(plan: &Plan) -> Vec<Bug> {
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

/// Build a plan with `make` (a seed's generator, say) and run it: a panic
/// while building counts as one while running, naming `seed`.
pub fn run_built(seed: u64, make: impl FnOnce() -> Plan, options: &RunOptions) -> Result<Run, RunError> {
    let plan = catch_unwind(AssertUnwindSafe(make)).map_err(|panic| RunError::Panicked {
        seed,
        message: format!("while building the plan: {}", panic_text(&*panic)),
    })?;
    run(&plan, options)
}

/// Run `plan` with `options` and check it.
pub fn run(plan: &Plan, options: &RunOptions) -> Result<Run, RunError> {
    let plan = with_bugs(plan, &options.bugs);
    let seed = plan.seed;
    let sim_options = SimOptions {
        keep_events: options.keep_events,
    };
    // The run executes on this thread alone: what the marks count from
    // here to `take` is this run's.
    cover::reset();
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
        faults: result.faults,
        coverage: cover::take(),
    })
}

/// Run each scenario's plan as its file says (its seed, its own bugs) and
/// sum how often each coverage mark was hit: what the library builds.
pub fn library_coverage(scenarios: &[crate::scenario::Scenario]) -> Result<Counts, RunError> {
    let mut total = Counts::default();
    for scenario in scenarios {
        total.add(&run(&scenario.plan, &RunOptions::hashed(&Bugs::none()))?.coverage);
    }
    Ok(total)
}

/// The message of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_building_a_plan_is_an_error_that_names_the_seed() {
        let error = run_built(
            7,
            || panic!("the generator tripped"),
            &RunOptions::hashed(&Bugs::none()),
        )
        .unwrap_err();
        assert_eq!(
            error,
            RunError::Panicked {
                seed: 7,
                message: "while building the plan: the generator tripped".into()
            }
        );
        assert_eq!(
            error.to_string(),
            "seed 7 panicked: while building the plan: the generator tripped"
        );
    }

    #[test]
    fn bugs_are_switched_on_in_every_node_on_top_of_the_plans_own() {
        let mut plan = Plan::new(
            1,
            crate::plan::Topology::standard(),
            Vec::new(),
            Default::default(),
            Default::default(),
        );
        plan.topology.switch.bugs = Bugs::of([Bug::SwitchNoDedupe]);
        let with = with_bugs(&plan, &Bugs::of([Bug::MacNotVerified]));
        assert_eq!(bugs_of(&with), [Bug::SwitchNoDedupe, Bug::MacNotVerified]);
        assert!(with
            .topology
            .terminals
            .iter()
            .all(|t| t.bugs.has(Bug::MacNotVerified)));
        assert!(with
            .topology
            .banks
            .iter()
            .all(|b| b.bugs.has(Bug::MacNotVerified)));
        assert!(!with.topology.banks[0].bugs.has(Bug::SwitchNoDedupe));
    }
}
