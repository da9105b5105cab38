//! A failing seed, shrunk and written out as a scenario file that replays
//! the failure exactly, with its report.
//!
//! The file is checked before it is kept: it is parsed and run as any
//! scenario would be, and it must violate the same invariant with the same
//! trace hash as the shrunk run.

use std::path::{Path, PathBuf};

use super::generate::generate;
use super::shrink::{shrink, Budget, Size};
use crate::check::Invariant;
use crate::node::{Bug, Bugs};
use crate::plan::Plan;
use crate::report::{self, Labels, ScenarioReport};
use crate::run::{self as runner, run, RunError, RunOptions, ScenarioOptions};
use crate::scenario;
use crate::scenario::write::{write, Header};
use crate::sim::trace::TraceHash;

/// A failure written to a scenario file.
#[derive(Debug, Clone)]
pub struct Found {
    /// The seed it came from.
    pub seed: u64,
    /// The planted bugs switched on.
    pub bugs: Vec<Bug>,
    /// The invariant the shrunk run violates (the seed's first).
    pub invariant: Invariant,
    /// The seed's run.
    pub before: Size,
    /// The shrunk run.
    pub after: Size,
    /// Candidate runs the shrink made.
    pub shrink_runs: usize,
    /// The scenario file.
    pub path: PathBuf,
    /// The page of the report of running the file (`index.html` in the
    /// run's report folder).
    pub report_path: PathBuf,
    /// The report of running the file.
    pub report: ScenarioReport,
    /// The trace hash of the file's run (equal to the shrunk run's).
    pub trace_hash: TraceHash,
}

/// The incident class a failure most likely replays, from the invariant it
/// violates (a first guess; QA edits the file).
pub fn incident_of(invariant: Invariant) -> char {
    match invariant {
        Invariant::RefundBound => 'A',
        Invariant::CardRules | Invariant::DeclinesMoveNothing => 'D',
        Invariant::VoidRule => 'E',
        _ => 'C',
    }
}

/// The file name (without `.toml`) of seed `seed`'s failure.
pub fn name_of(seed: u64, invariant: Invariant, bugs: &[Bug]) -> String {
    let mut name = format!("seed-{seed}-{}", invariant.name());
    for bug in bugs {
        name.push_str("-with-");
        name.push_str(bug.name());
    }
    name
}

/// Where a failing plan came from, as its scenario file tells it.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The file name, without `.toml`.
    pub name: String,
    /// What found it, e.g. `payfault explore: seed 7`.
    pub found_by: String,
    /// The command that reruns the failure as it was found.
    pub replay: String,
}

/// Shrink seed `seed`'s failure of `invariant` (with `bugs` on), write it to
/// `out_dir/<name>.toml` and its report to the folder `report_dir/<name>/`, and check
/// that the file replays the failure.
pub fn shrink_seed(
    seed: u64,
    bugs: &[Bug],
    invariant: Invariant,
    budget: Budget,
    out_dir: &Path,
    report_dir: &Path,
) -> Result<Found, String> {
    let plan = generate(seed, &Bugs::of(bugs.iter().copied()));
    let origin = Origin {
        name: name_of(seed, invariant, bugs),
        found_by: format!("payfault explore: seed {seed}"),
        replay: format!("Replay the seed itself with: {}.", replay_command(seed, bugs)),
    };
    shrink_plan(&plan, &origin, bugs, invariant, budget, out_dir, report_dir)
}

/// Shrink `plan`'s failure of `invariant` (its nodes run with `bugs`),
/// write it to `out_dir/<origin.name>.toml` and its report to the folder
/// `report_dir/<origin.name>/`, and check that the file replays the failure.
pub fn shrink_plan(
    plan: &Plan,
    origin: &Origin,
    bugs: &[Bug],
    invariant: Invariant,
    budget: Budget,
    out_dir: &Path,
    report_dir: &Path,
) -> Result<Found, String> {
    let seed = plan.seed;
    let shrunk = shrink(plan, invariant, budget);
    let name = origin.name.clone();
    let mut description = format!(
        "Found by {}{} violates {invariant}. Shrunk from {} to {} in {} runs{}.",
        origin.found_by,
        if bugs.is_empty() {
            String::new()
        } else {
            format!(
                " with the planted bug {}",
                bugs.iter().map(|bug| bug.name()).collect::<Vec<_>>().join(", ")
            )
        },
        shrunk.before,
        shrunk.after,
        shrunk.runs,
        if shrunk.budget_exhausted {
            " (the run budget ran out: it may shrink further)"
        } else {
            ""
        },
    );
    description.push(' ');
    description.push_str(&origin.replay);
    let header = Header {
        name: name.clone(),
        incident: incident_of(invariant),
        description,
        bugs: bugs.to_vec(),
    };
    let text = write(&shrunk.plan, &header)?;
    let expected =
        run(&shrunk.plan, &RunOptions::hashed(&Bugs::none())).map_err(|error| error.to_string())?;
    // Checked as a file would be run before it is kept: parse the text
    // under the file's name, run it, and require the shrunk run's trace and
    // invariant.
    let path = out_dir.join(format!("{name}.toml"));
    let loaded = scenario::parse(&path.display().to_string(), &text).map_err(|errors| errors.to_string())?;
    let report = runner::scenario(&loaded, &ScenarioOptions::default()).map_err(|error| error.to_string())?;
    let violated: Vec<Invariant> = report.violations.iter().map(|v| v.invariant).collect();
    if report.trace_hash != expected.trace_hash.to_string() || !violated.contains(&invariant) {
        return Err(format!(
            "the written scenario of seed {seed} does not replay the shrunk run (trace {} instead of {}, violated {violated:?}); not kept",
            report.trace_hash, expected.trace_hash,
        ));
    }
    std::fs::create_dir_all(out_dir).map_err(|error| format!("creating {}: {error}", out_dir.display()))?;
    std::fs::write(&path, &text).map_err(|error| format!("writing {}: {error}", path.display()))?;
    let report_path = report::write_folder(report_dir, &report)
        .map_err(|error| error.to_string())?
        .join("index.html");
    Ok(Found {
        seed,
        bugs: bugs.to_vec(),
        invariant,
        before: shrunk.before,
        after: shrunk.after,
        shrink_runs: shrunk.runs,
        path,
        report_path,
        report,
        trace_hash: expected.trace_hash,
    })
}

/// The command that replays seed `seed` with `bugs` on.
pub fn replay_command(seed: u64, bugs: &[Bug]) -> String {
    let mut command = format!("payfault replay {seed}");
    for bug in bugs {
        command.push_str(&format!(" --bug {}", bug.name()));
    }
    command
}

/// Where shrunk failures go unless told: `scenarios/found/`, where they
/// become regression scenarios of the library, or `reports/found/` when a
/// planted bug is on (a planted bug's failure is a measurement, not a
/// regression to keep).
pub fn default_out_dir(bugs: &[Bug]) -> PathBuf {
    PathBuf::from(if bugs.is_empty() {
        "scenarios/found"
    } else {
        "reports/found"
    })
}

/// The incident class a generated seed's report and file are filed under
/// until QA says which one it replays.
pub const SEED_INCIDENT: char = 'C';

/// Seed `seed`'s generated plan with `bugs` on, run with every event kept,
/// and its report (the customer view, balances, verdict and every event),
/// built straight from the run: no scenario file in between.
pub fn report_seed(seed: u64, bugs: &[Bug]) -> Result<(Plan, ScenarioReport), RunError> {
    let started = std::time::Instant::now();
    let plan = generate(seed, &Bugs::of(bugs.iter().copied()));
    let result = run(&plan, &RunOptions::reported(bugs))?;
    let replay = replay_command(seed, &result.bugs);
    let header = report::Header {
        name: format!("seed-{seed}"),
        file: format!("(generated by seed {seed})"),
        incident: SEED_INCIDENT,
        description: format!("The generated run of seed {seed}, as `{replay}` runs it."),
        replay,
    };
    let report = ScenarioReport::build(
        header,
        result.evidence(),
        &Labels::new(),
        Vec::new(),
        started.elapsed().as_millis() as u64,
    );
    Ok((plan, report))
}
