//! `payfault mutants` measures what it claims: a planted bug the library
//! and exploration catch counts as caught, one given no chance escapes and
//! fails the measurement, and the correct system raises no alarm.

use std::path::{Path, PathBuf};
use std::time::Duration;

use payfault::check::Invariant;
use payfault::mutants::{load_library, measure, MutantsOptions};
use payfault::node::Bug;

fn library(files: &[&str]) -> Vec<payfault::scenario::Scenario> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let paths: Vec<PathBuf> = files.iter().map(|file| root.join(file)).collect();
    load_library(&paths).expect("the library loads")
}

fn options(bugs: &[Bug], budget: Duration, files: &[&str]) -> MutantsOptions {
    let out = std::env::temp_dir().join(format!(
        "payfault-mutants-{}-{}",
        std::process::id(),
        budget.as_millis()
    ));
    MutantsOptions {
        bugs: bugs.to_vec(),
        budget,
        jobs: 2,
        library: library(files),
        shrink_runs: 300,
        out_dir: out.clone(),
        report_dir: out,
    }
}

#[test]
fn a_bug_the_library_and_exploration_catch_counts_as_caught_and_the_correct_system_passes() {
    let options = options(
        &[Bug::RefundBoundUnchecked],
        Duration::from_secs(60),
        &["a/refund-over-remaining.toml", "c/approval-lost-reversed.toml"],
    );
    let report = measure(&options, |_| {}).expect("measures");
    let result = &report.bugs[0];
    let caught_by: Vec<&str> = result.library.iter().map(|f| f.scenario.as_str()).collect();
    assert_eq!(caught_by, ["refund-over-remaining"]);
    assert!(result.library[0].invariants.contains(&Invariant::RefundBound));
    let first = result.first_failure.as_ref().expect("exploration finds it");
    assert_eq!(first.invariant, Invariant::RefundBound);
    let shrunk = first.shrunk.as_ref().expect("the failure shrinks");
    assert!(shrunk.after.operations <= shrunk.before.operations);
    assert!(shrunk.path.exists());
    assert_eq!(report.caught(), 1);
    assert!(report.false_alarms.library.is_empty());
    assert!(report.false_alarms.failing_seeds.is_empty());
    assert_eq!(report.false_alarms.seeds, result.seeds_run);
    assert!(report.passed());
    assert!(
        report.table().contains("mutation score 1/1"),
        "{}",
        report.table()
    );
    let _ = std::fs::remove_dir_all(&options.out_dir);
}

#[test]
fn a_bug_no_scenario_and_no_seed_catches_escapes_and_fails_the_measurement() {
    // The library has no void after settlement and exploration gets no
    // time: the bug must be reported as escaped, not as caught.
    let options = options(
        &[Bug::VoidAfterSettlement],
        Duration::ZERO,
        &["a/refund-over-remaining.toml"],
    );
    let report = measure(&options, |_| {}).expect("measures");
    let result = &report.bugs[0];
    assert!(result.library.is_empty());
    assert!(result.first_failure.is_none());
    assert_eq!(result.seeds_run, 0);
    assert_eq!(report.caught(), 0);
    assert!(!report.passed());
    assert!(report.table().contains("ESCAPED"), "{}", report.table());
    assert!(
        report.table().contains("mutation score 0/1"),
        "{}",
        report.table()
    );
}
