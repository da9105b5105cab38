//! Exploration: runs generated from seeds, to find the bugs nobody wrote a
//! scenario for.
//!
//! - [`generate`]: a seed to a whole run (topology, workload, swarm fault
//!   plan);
//! - this module: many seeds in parallel ([`explore`]), each alone on one
//!   worker, with results reported in seed order so that they do not depend
//!   on the number of workers; `--shard K/N` splits a seed range across
//!   machines;
//! - [`shrink`]: a failing run reduced to a small one failing the same way;
//! - [`found`]: the shrunk run written out as a scenario file that replays
//!   the failure exactly.

pub mod found;
pub mod generate;
mod lives;
pub mod shrink;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::check::{Invariant, Verdict};
use crate::cover::Counts;
use crate::node::Bugs;
use crate::run::{run_built, RunError, RunOptions};
use crate::sim::trace::TraceHash;

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
    /// How often each coverage mark was hit.
    pub coverage: Counts,
}

impl SeedOutcome {
    /// The first invariant the seed violates, if any.
    pub fn first_violation(&self) -> Option<Invariant> {
        self.verdict.violated().first().copied()
    }
}

/// Generate and run one seed, and check it.
pub fn run_seed(seed: u64, bugs: &Bugs) -> Result<SeedOutcome, RunError> {
    let result = run_built(seed, || generate::generate(seed, bugs), &RunOptions::hashed(bugs))?;
    Ok(SeedOutcome {
        seed,
        verdict: result.verdict,
        trace_hash: result.trace_hash,
        simulated_ms: result.simulated_ms,
        operations: result.history.operations.len(),
        events: result.trace.len(),
        coverage: result.coverage,
    })
}

/// One machine's share of a seed range: the seeds `start + index + n *
/// count` for n = 0, 1, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index of this shard.
    pub index: u64,
    /// How many shards share the range.
    pub count: u64,
}

impl Shard {
    /// The whole range.
    pub const ALL: Shard = Shard { index: 0, count: 1 };
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `K/N`, 1-based: `1/4` is the first of four shards.
    fn from_str(text: &str) -> Result<Shard, String> {
        let error = || format!("`{text}` is not a shard: write K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = text.split_once('/').ok_or_else(error)?;
        let (k, n): (u64, u64) = (
            k.trim().parse().map_err(|_| error())?,
            n.trim().parse().map_err(|_| error())?,
        );
        if n == 0 || k == 0 || k > n {
            return Err(error());
        }
        Ok(Shard {
            index: k - 1,
            count: n,
        })
    }
}

/// Which seeds to run, how, and when to stop.
#[derive(Debug, Clone)]
pub struct ExploreOptions {
    /// The first seed of the range.
    pub start: u64,
    /// How many seeds of the range (before sharding); `None`: until the
    /// time limit.
    pub seeds: Option<u64>,
    /// Stop starting new seeds after this much wall time.
    pub time_limit: Option<Duration>,
    /// Worker threads (each runs one seed at a time, alone).
    pub jobs: usize,
    /// This machine's share of the range.
    pub shard: Shard,
    /// Planted bugs switched on.
    pub bugs: Bugs,
    /// Stop after the first failing seed (the lowest one).
    pub stop_at_first_failure: bool,
}

impl ExploreOptions {
    /// Seeds a run explores when given neither a count nor a time limit.
    pub const DEFAULT_SEEDS: u64 = 100;

    /// The seed count to run: `seeds` if given, else none with a time
    /// limit (until it runs out), else [`ExploreOptions::DEFAULT_SEEDS`].
    pub fn seed_count(seeds: Option<u64>, time_limit: Option<Duration>) -> Option<u64> {
        seeds.or(if time_limit.is_some() {
            None
        } else {
            Some(ExploreOptions::DEFAULT_SEEDS)
        })
    }

    /// How many seeds this machine runs (its shard's share of the range),
    /// when the range is bounded: the total a progress bar counts to.
    pub fn seeds_to_run(&self) -> Option<u64> {
        self.seeds.map(|seeds| shard_len(seeds, self.shard))
    }

    /// The 1-based position of `seed` among the seeds this shard runs.
    pub fn position_of(&self, seed: u64) -> u64 {
        seed.saturating_sub(self.start) / self.shard.count + 1
    }

    /// `seeds` seeds from `start` on every core, no bug, no limit.
    pub fn seeds(start: u64, seeds: u64) -> ExploreOptions {
        ExploreOptions {
            start,
            seeds: Some(seeds),
            time_limit: None,
            jobs: default_jobs(),
            shard: Shard::ALL,
            bugs: Bugs::none(),
            stop_at_first_failure: false,
        }
    }
}

/// One worker per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// What a whole exploration did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// The failing seeds, in seed order.
    pub failures: Vec<SeedOutcome>,
    /// Operations run.
    pub operations: u64,
    /// Simulated milliseconds.
    pub simulated_ms: u64,
    /// Wall time.
    pub wall: Duration,
    /// Whether it stopped at the time limit before the range ended.
    pub timed_out: bool,
    /// How often each coverage mark was hit, summed over the seeds
    /// reported.
    pub coverage: Counts,
}

impl Summary {
    /// Seeds per second of wall time.
    pub fn seeds_per_second(&self) -> f64 {
        self.seeds as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Why an exploration stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExploreError {
    /// The range does not fit in 64-bit seeds.
    #[error("the seed range from {start} runs past the largest seed")]
    SeedRange {
        /// The first seed of the range.
        start: u64,
    },
    /// No worker was asked for.
    #[error("--jobs must be at least 1")]
    NoWorkers,
    /// The worker threads could not start.
    #[error("cannot start {jobs} workers: {message}")]
    Workers {
        /// How many were asked for.
        jobs: usize,
        /// Why not.
        message: String,
    },
    /// A worker went away without an answer.
    #[error("an exploration worker stopped without an answer")]
    WorkerLost,
    /// A seed could not be run (the simulation failed or panicked).
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Run the seeds of `options` in parallel, calling `report` for each
/// outcome in seed order, and sum them up.
///
/// A window of seeds is in flight at a time: a worker that finishes a seed
/// takes the next at once (no batch waits for its slowest seed), and
/// outcomes that arrive early wait in a reorder buffer until every lower
/// seed is reported.
pub fn explore(
    options: &ExploreOptions,
    mut report: impl FnMut(&SeedOutcome),
) -> Result<Summary, ExploreError> {
    if options.jobs == 0 {
        return Err(ExploreError::NoWorkers);
    }
    let jobs = options.jobs;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|error| ExploreError::Workers {
            jobs,
            message: error.to_string(),
        })?;
    let began = Instant::now();
    let total = options.seeds_to_run();
    let window = (jobs * 4) as u64;
    let seed_at = |n: u64| {
        n.checked_mul(options.shard.count)
            .and_then(|offset| offset.checked_add(options.shard.index))
            .and_then(|offset| offset.checked_add(options.start))
            .ok_or(ExploreError::SeedRange { start: options.start })
    };
    if let Some(total) = total.filter(|total| *total > 0) {
        seed_at(total - 1)?;
    }
    let (sender, receiver) = std::sync::mpsc::channel::<(u64, Result<SeedOutcome, RunError>)>();
    let mut early: BTreeMap<u64, Result<SeedOutcome, RunError>> = BTreeMap::new();
    let mut summary = Summary::default();
    let (mut started, mut reported) = (0u64, 0u64);
    let mut stopping = false;
    // With `stop_at_first_failure`, the seeds after the first failure that
    // were already in flight are drained unreported, so that what is
    // reported does not depend on the number of workers.
    let mut last_reported: Option<u64> = None;
    loop {
        while !stopping && started - reported < window && total.is_none_or(|total| started < total) {
            if options.time_limit.is_some_and(|limit| began.elapsed() >= limit) {
                summary.timed_out = true;
                stopping = true;
                break;
            }
            let (sender, bugs, seed, index) =
                (sender.clone(), options.bugs.clone(), seed_at(started)?, started);
            pool.spawn(move || {
                // `run_seed` turns a panic while generating, running or
                // checking into this seed's error. The receiver outlives
                // every task unless an error ended the run early; then
                // nobody needs the outcome.
                let _ = sender.send((index, run_seed(seed, &bugs)));
            });
            started += 1;
        }
        if reported == started {
            break;
        }
        let (index, outcome) = receiver.recv().map_err(|_| ExploreError::WorkerLost)?;
        early.insert(index, outcome);
        while let Some(outcome) = early.remove(&reported) {
            reported += 1;
            if last_reported.is_some_and(|last| reported > last + 1) {
                continue;
            }
            let outcome = outcome?;
            summary.seeds += 1;
            summary.operations += outcome.operations as u64;
            summary.simulated_ms += outcome.simulated_ms;
            summary.coverage.add(&outcome.coverage);
            report(&outcome);
            if !outcome.verdict.passed() {
                if options.stop_at_first_failure {
                    stopping = true;
                    last_reported = Some(reported - 1);
                }
                summary.failures.push(outcome);
            }
        }
    }
    summary.wall = began.elapsed();
    Ok(summary)
}

/// Run seed `seed` twice: both trace hashes (equal unless something in the
/// simulation escapes the seed).
pub fn run_twice(seed: u64, bugs: &Bugs) -> Result<(TraceHash, TraceHash), RunError> {
    let first = run_seed(seed, bugs)?;
    let second = run_seed(seed, bugs)?;
    Ok((first.trace_hash, second.trace_hash))
}

/// How many of `seeds` seeds fall to `shard`.
pub fn shard_len(seeds: u64, shard: Shard) -> u64 {
    seeds / shard.count + u64::from(seeds % shard.count > shard.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_one_based_and_checked() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 0, count: 4 }));
        assert_eq!("4/4".parse::<Shard>(), Ok(Shard { index: 3, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x", "1/", "/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_shards_of_a_range_cover_it_once() {
        for seeds in [0u64, 1, 7, 10, 11] {
            let lengths: u64 = (0..3)
                .map(|index| shard_len(seeds, Shard { index, count: 3 }))
                .sum();
            assert_eq!(lengths, seeds);
        }
    }
}
