//! How well the harness catches bugs: every planted bug switched on in
//! turn, against the scenario library and against exploration, and the
//! same run on the correct system, which must raise no alarm.
//!
//! For each bug: which library scenarios fail with it on, and how many
//! seeds and how much wall time exploration needs for its first failure
//! (within a budget), which invariant that failure violates, and how small
//! it shrinks. The mutation score is the share of bugs caught by both.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::check::Invariant;
use crate::explore::found::{shrink_seed, Found};
use crate::explore::shrink::{Budget, Size};
use crate::explore::{explore, ExploreError, ExploreOptions, Shard};
use crate::node::{Bug, Bugs};
use crate::run::{self, RunError, ScenarioOptions};
use crate::scenario::{self, Scenario};

/// What to measure, and how long to try.
#[derive(Debug, Clone)]
pub struct MutantsOptions {
    /// The bugs to switch on, one at a time.
    pub bugs: Vec<Bug>,
    /// Exploration wall time per bug before it counts as escaped.
    pub budget: Duration,
    /// Worker threads.
    pub jobs: usize,
    /// The scenario library.
    pub library: Vec<Scenario>,
    /// Most candidate runs per shrink.
    pub shrink_runs: usize,
    /// Where the shrunk scenarios of the first failures go.
    pub out_dir: PathBuf,
    /// Where their reports go.
    pub report_dir: PathBuf,
}

/// A library scenario that failed.
#[derive(Debug, Clone, Serialize)]
pub struct LibraryFailure {
    /// Its name.
    pub scenario: String,
    /// The invariants it violated (empty: only expectations were unmet).
    pub invariants: Vec<Invariant>,
}

/// Exploration's first failure with a bug on.
#[derive(Debug, Clone, Serialize)]
pub struct FirstFailure {
    /// The seed.
    pub seed: u64,
    /// Seeds run up to and including it.
    pub seeds_to_failure: u64,
    /// Wall time until it was seen.
    pub wall_ms: u64,
    /// The invariant it violated first.
    pub invariant: Invariant,
    /// The shrunk scenario (or why shrinking failed).
    pub shrunk: Result<ShrunkFile, String>,
}

/// A shrunk failure written to a file.
#[derive(Debug, Clone, Serialize)]
pub struct ShrunkFile {
    /// The scenario file.
    pub path: PathBuf,
    /// The seed's size.
    pub before: Size,
    /// The file's size.
    pub after: Size,
}

/// Everything measured for one bug.
#[derive(Debug, Clone, Serialize)]
pub struct BugResult {
    /// The bug.
    pub bug: Bug,
    /// Its incident class.
    pub incident: char,
    /// Library scenarios that fail with it on.
    pub library: Vec<LibraryFailure>,
    /// Seeds exploration ran.
    pub seeds_run: u64,
    /// Exploration's first failure, if within the budget.
    pub first_failure: Option<FirstFailure>,
}

impl BugResult {
    /// Caught by the library and by exploration.
    pub fn caught(&self) -> bool {
        !self.library.is_empty() && self.first_failure.is_some()
    }
}

/// The correct system on the same library and seeds.
#[derive(Debug, Clone, Serialize)]
pub struct FalseAlarms {
    /// Library scenarios that fail with no bug on.
    pub library: Vec<LibraryFailure>,
    /// Seeds explored with no bug on (every seed any bug run used).
    pub seeds: u64,
    /// Those that failed.
    pub failing_seeds: Vec<u64>,
}

/// The whole measurement.
#[derive(Debug, Clone, Serialize)]
pub struct MutantsReport {
    /// One entry per bug.
    pub bugs: Vec<BugResult>,
    /// The false-alarm check.
    pub false_alarms: FalseAlarms,
    /// Scenarios in the library.
    pub library_scenarios: usize,
    /// Exploration budget per bug, in milliseconds.
    pub budget_ms: u64,
    /// Wall time of the whole measurement.
    pub wall_ms: u64,
}

impl MutantsReport {
    /// Bugs caught by the library and by exploration.
    pub fn caught(&self) -> usize {
        self.bugs.iter().filter(|result| result.caught()).count()
    }

    /// Whether every bug was caught and the correct system raised no alarm.
    pub fn passed(&self) -> bool {
        self.caught() == self.bugs.len()
            && self.false_alarms.library.is_empty()
            && self.false_alarms.failing_seeds.is_empty()
    }

    /// The median wall time to exploration's first failure, over the bugs
    /// it caught.
    pub fn median_wall_ms(&self) -> Option<u64> {
        median(
            self.bugs
                .iter()
                .filter_map(|r| r.first_failure.as_ref().map(|f| f.wall_ms))
                .collect(),
        )
    }

    /// The median seeds to exploration's first failure.
    pub fn median_seeds(&self) -> Option<u64> {
        median(
            self.bugs
                .iter()
                .filter_map(|r| r.first_failure.as_ref().map(|f| f.seeds_to_failure))
                .collect(),
        )
    }

    /// The table people read.
    pub fn table(&self) -> String {
        let mut lines = vec![format!(
            "{:<28} {:<2} {:<34} {:>6} {:>8} {:<22} {}",
            "bug", "", "library (scenarios failing)", "seeds", "wall", "invariant", "shrunk (seed -> file)"
        )];
        for result in &self.bugs {
            let library = match result.library.as_slice() {
                [] => "ESCAPED".to_string(),
                [only] => only.scenario.clone(),
                [first, rest @ ..] => format!("{} +{}", first.scenario, rest.len()),
            };
            let (seeds, wall, invariant, shrunk) = match &result.first_failure {
                None => (
                    format!(">{}", result.seeds_run),
                    "-".to_string(),
                    "ESCAPED".to_string(),
                    "-".to_string(),
                ),
                Some(first) => (
                    first.seeds_to_failure.to_string(),
                    format!("{:.1}s", first.wall_ms as f64 / 1000.0),
                    first.invariant.name().to_string(),
                    match &first.shrunk {
                        Ok(file) => format!(
                            "{} -> {} ops, {} -> {} faults",
                            file.before.operations,
                            file.after.operations,
                            file.before.faults,
                            file.after.faults
                        ),
                        Err(_) => "not shrunk".to_string(),
                    },
                ),
            };
            lines.push(format!(
                "{:<28} {:<2} {:<34} {:>6} {:>8} {:<22} {}",
                result.bug.name(),
                result.incident,
                truncate(&library, 34),
                seeds,
                wall,
                invariant,
                shrunk
            ));
        }
        let library_caught = self.bugs.iter().filter(|r| !r.library.is_empty()).count();
        let explore_caught = self.bugs.iter().filter(|r| r.first_failure.is_some()).count();
        lines.push(String::new());
        lines.push(format!(
            "mutation score {}/{} ({} by the library, {} by exploration within {:.0} s each)",
            self.caught(),
            self.bugs.len(),
            library_caught,
            explore_caught,
            self.budget_ms as f64 / 1000.0
        ));
        if let (Some(seeds), Some(wall)) = (self.median_seeds(), self.median_wall_ms()) {
            lines.push(format!(
                "median to the first exploration failure: {seeds} seeds, {:.1} s",
                wall as f64 / 1000.0
            ));
        }
        let alarms = &self.false_alarms;
        lines.push(format!(
            "false alarms on the correct system: {} of {} library scenarios, {} of {} seeds{}",
            alarms.library.len(),
            self.library_scenarios,
            alarms.failing_seeds.len(),
            alarms.seeds,
            if alarms.failing_seeds.is_empty() {
                String::new()
            } else {
                format!(" (seeds {:?})", alarms.failing_seeds)
            }
        ));
        lines.join("\n")
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('~');
    cut
}

fn median(mut values: Vec<u64>) -> Option<u64> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

/// Why a measurement could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutantsError {
    /// The worker threads could not start.
    #[error("cannot start {jobs} workers: {message}")]
    Workers {
        /// How many were asked for.
        jobs: usize,
        /// Why not.
        message: String,
    },
    /// Exploration stopped.
    #[error(transparent)]
    Explore(#[from] ExploreError),
    /// A library scenario could not be run.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Run every library scenario with `bugs` on; the ones that fail.
fn run_library(
    pool: &rayon::ThreadPool,
    library: &[Scenario],
    bugs: &[Bug],
) -> Result<Vec<LibraryFailure>, MutantsError> {
    let options = ScenarioOptions {
        seed: None,
        bugs: bugs.to_vec(),
    };
    let reports: Vec<Result<_, RunError>> = pool.install(|| {
        library
            .par_iter()
            .map(|scenario| run::scenario(scenario, &options))
            .collect()
    });
    let mut failures = Vec::new();
    for report in reports {
        let report = report?;
        if !report.passed {
            let mut invariants: Vec<Invariant> = report.violations.iter().map(|v| v.invariant).collect();
            invariants.sort();
            invariants.dedup();
            failures.push(LibraryFailure {
                scenario: report.name,
                invariants,
            });
        }
    }
    Ok(failures)
}

fn explore_bug(options: &MutantsOptions, bug: Bug) -> Result<(u64, Option<FirstFailure>), MutantsError> {
    let began = Instant::now();
    let mut seen: Option<(u64, u64, Invariant)> = None;
    let explore_options = ExploreOptions {
        start: 0,
        seeds: None,
        time_limit: Some(options.budget),
        jobs: options.jobs,
        shard: Shard::ALL,
        bugs: Bugs::of([bug]),
        stop_at_first_failure: true,
    };
    let summary = explore(&explore_options, |outcome| {
        if seen.is_none() {
            if let Some(invariant) = outcome.first_violation() {
                seen = Some((outcome.seed, began.elapsed().as_millis() as u64, invariant));
            }
        }
    })?;
    let Some((seed, wall_ms, invariant)) = seen else {
        return Ok((summary.seeds, None));
    };
    let budget = Budget {
        runs_max: options.shrink_runs,
        ..Budget::default()
    };
    let shrunk = shrink_seed(
        seed,
        &[bug],
        invariant,
        budget,
        &options.out_dir,
        &options.report_dir,
    )
    .map(|found: Found| ShrunkFile {
        path: found.path,
        before: found.before,
        after: found.after,
    });
    Ok((
        summary.seeds,
        Some(FirstFailure {
            seed,
            seeds_to_failure: seed + 1,
            wall_ms,
            invariant,
            shrunk,
        }),
    ))
}

/// Measure every bug of `options`, then the correct system on the same
/// library and seeds. `progress` hears about each bug as it is done.
pub fn measure(
    options: &MutantsOptions,
    mut progress: impl FnMut(&BugResult),
) -> Result<MutantsReport, MutantsError> {
    let began = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(|error| MutantsError::Workers {
            jobs: options.jobs,
            message: error.to_string(),
        })?;
    let mut bugs = Vec::new();
    for &bug in &options.bugs {
        let library = run_library(&pool, &options.library, &[bug])?;
        let (seeds_run, first_failure) = explore_bug(options, bug)?;
        let result = BugResult {
            bug,
            incident: bug.incident(),
            library,
            seeds_run,
            first_failure,
        };
        progress(&result);
        bugs.push(result);
    }
    let seeds = bugs.iter().map(|result| result.seeds_run).max().unwrap_or(0);
    let library = run_library(&pool, &options.library, &[])?;
    let mut failing_seeds = Vec::new();
    explore(
        &ExploreOptions {
            jobs: options.jobs,
            ..ExploreOptions::seeds(0, seeds)
        },
        |outcome| {
            if !outcome.verdict.passed() {
                failing_seeds.push(outcome.seed);
            }
        },
    )?;
    Ok(MutantsReport {
        bugs,
        false_alarms: FalseAlarms {
            library,
            seeds,
            failing_seeds,
        },
        library_scenarios: options.library.len(),
        budget_ms: options.budget.as_millis() as u64,
        wall_ms: began.elapsed().as_millis() as u64,
    })
}

/// Load every scenario under `paths` (the library); every file must validate.
pub fn load_library(paths: &[PathBuf]) -> Result<Vec<Scenario>, String> {
    scenario::Library::load(paths)?.valid()
}
