//! Exploration: runs generated from seeds, to find the bugs nobody wrote a
//! scenario for.
//!
//! - [`generate`]: a seed to a whole run (workload and swarm fault plan).

pub mod generate;

use crate::check::{check, Verdict};
use crate::node::Bugs;
use crate::sim::trace::TraceHash;
use crate::sim::world::run;

/// What one seed did.
#[derive(Debug, Clone)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// The checker's verdict.
    pub verdict: Verdict,
    /// The trace hash.
    pub trace_hash: TraceHash,
    /// Simulated milliseconds.
    pub simulated_ms: u64,
    /// Operations in the workload.
    pub operations: usize,
    /// Trace events.
    pub events: usize,
}

/// Generate and run one seed, and check it.
pub fn run_seed(seed: u64, bugs: &Bugs) -> Result<SeedOutcome, String> {
    let plan = generate::generate(seed, bugs);
    let result = run(&plan)?;
    Ok(SeedOutcome {
        seed,
        verdict: check(&result.history),
        trace_hash: result.trace_hash,
        simulated_ms: result.simulated_ms,
        operations: result.history.operations.len(),
        events: result.trace.len(),
    })
}
