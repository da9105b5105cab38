//! Coverage marks end to end: a run's counts are its own (reset between
//! runs, the same on every thread and every repeat), known scenarios hit
//! the marks of the situations they build, every crash point has a mark,
//! and `payfault coverage` / `payfault explore --require-coverage` say
//! what was hit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use payfault::cover::{Counts, Mark, Site};
use payfault::node::Bugs;
use payfault::run::{run, RunOptions};
use payfault::scenario;

fn scenario_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(relative)
}

fn coverage_of(relative: &str) -> Counts {
    let loaded = scenario::load(&scenario_file(relative)).expect("the scenario loads");
    run(&loaded.plan, &RunOptions::hashed(&Bugs::none()))
        .expect("the scenario runs")
        .coverage
}

fn payfault(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(args)
        .output()
        .expect("payfault starts")
}

#[test]
fn a_reversal_that_overtakes_its_sale_creates_a_tombstone_that_the_late_sale_consumes() {
    let counts = coverage_of("c/late-sale-after-reversal.toml");
    assert!(counts.get(Mark::SwitchBankTimeout91) >= 1, "{counts:?}");
    assert_eq!(counts.get(Mark::BankTombstoneCreated), 1, "{counts:?}");
    assert_eq!(counts.get(Mark::BankTombstoneConsumed), 1, "{counts:?}");
    // No crash is planned in this scenario, and nothing recovers.
    assert_eq!(counts.get(Mark::BankRecovered), 0, "{counts:?}");
    assert!(Mark::ALL
        .iter()
        .filter(|mark| mark.site() == Site::World)
        .all(|mark| counts.get(*mark) == 0));
}

#[test]
fn a_crash_at_a_crash_point_is_counted_and_the_bank_recovers_from_its_journal() {
    let counts = coverage_of("b/refund-bank-crash-before-sync.toml");
    assert_eq!(counts.get(Mark::CrashBankPostBeforeSync), 1, "{counts:?}");
    assert_eq!(counts.get(Mark::CrashBankPostBeforeReply), 0, "{counts:?}");
    assert!(counts.get(Mark::BankRecovered) >= 1, "{counts:?}");
}

#[test]
fn a_settlement_held_for_a_frozen_merchant_is_paid_when_it_is_active_again() {
    let counts = coverage_of("e/settlement-merchant-frozen.toml");
    assert_eq!(counts.get(Mark::BankSettlementHeld), 1, "{counts:?}");
    assert_eq!(counts.get(Mark::BankSettlementHeldPaid), 1, "{counts:?}");
}

#[test]
fn counts_are_reset_between_runs_and_equal_on_every_thread() {
    let first = coverage_of("c/late-sale-after-reversal.toml");
    let other = coverage_of("e/settlement-merchant-frozen.toml");
    assert_ne!(first, other);
    // The same run after another one counts the same: nothing carries over.
    let again = coverage_of("c/late-sale-after-reversal.toml");
    assert_eq!(first, again);
    let on_another_thread = std::thread::spawn(|| coverage_of("c/late-sale-after-reversal.toml"))
        .join()
        .unwrap();
    assert_eq!(first, on_another_thread);
    assert!(first.marks_hit() > 5, "{first:?}");
}

#[test]
fn exploration_sums_the_counts_of_its_seeds_whatever_the_number_of_workers() {
    use payfault::explore::{explore, run_seed, ExploreOptions};
    let mut by_seed = Counts::default();
    for seed in 0..6 {
        by_seed.add(&run_seed(seed, &Bugs::none()).unwrap().coverage);
    }
    for jobs in [1, 3] {
        let options = ExploreOptions {
            jobs,
            ..ExploreOptions::seeds(0, 6)
        };
        let summary = explore(&options, |_| {}).unwrap();
        assert_eq!(summary.coverage, by_seed, "{jobs} workers");
    }
    assert!(by_seed.get(Mark::TerminalRequestSent) > 0);
}

#[test]
fn every_crash_point_of_every_node_has_its_own_mark() {
    let points = payfault::node::all_crash_points();
    let mut marks: Vec<Mark> = points
        .iter()
        .map(|(kind, point)| {
            let mark = Mark::crash_at(point).unwrap_or_else(|| panic!("no mark for {kind} {point}"));
            assert!(mark.name().ends_with(point));
            mark
        })
        .collect();
    marks.sort();
    marks.dedup();
    assert_eq!(marks.len(), points.len());
    let crash_marks = Mark::ALL
        .iter()
        .filter(|mark| mark.name().starts_with("crash."))
        .count();
    assert_eq!(crash_marks, points.len(), "a crash mark names no crash point");
}

#[test]
fn payfault_coverage_lists_every_mark_with_its_site_and_meaning() {
    let output = payfault(&["coverage"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("MARK"), "{text}");
    let listed: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    let catalogue: Vec<&str> = Mark::ALL.iter().map(|mark| mark.name()).collect();
    assert_eq!(listed, catalogue);
    for (line, mark) in lines[1..].iter().zip(Mark::ALL) {
        assert!(line.contains(mark.site().name()), "{line}");
        assert!(line.ends_with(mark.meaning()), "{line}");
    }
    assert_eq!(lines.last().unwrap(), &format!("{} marks", Mark::ALL.len()));
    // Counting needs something to count.
    let output = payfault(&["coverage", "--require"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn payfault_coverage_counts_seeds_and_names_the_marks_never_hit() {
    let output = payfault(&["coverage", "--seeds", "4", "--jobs", "2", "--require"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut expected = Counts::default();
    for seed in 0..4 {
        expected.add(&payfault::explore::run_seed(seed, &Bugs::none()).unwrap().coverage);
    }
    for (mark, hits) in expected.iter() {
        let line = stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(mark.name()))
            .unwrap_or_else(|| panic!("{mark} missing:\n{stdout}"));
        assert_eq!(
            line.split_whitespace().nth(2),
            Some(hits.to_string().as_str()),
            "{line}"
        );
    }
    let never = expected.never_hit();
    assert!(
        !never.is_empty(),
        "4 seeds hit every mark: choose a smaller budget"
    );
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    // A mark on the not-reached-yet list is named with its reason and does
    // not fail the requirement; every other one fails it.
    for mark in &never {
        match mark.not_reached_yet() {
            Some(why) => assert!(
                stdout.contains(&format!("not reached yet: {mark} ({})", why.reason())),
                "{mark} not listed:\n{stdout}"
            ),
            None => assert!(stderr.contains(mark.name()), "{mark} not named:\n{stderr}"),
        }
    }
    assert!(
        never.iter().any(|mark| mark.not_reached_yet().is_none()),
        "4 seeds hit every required mark: choose a smaller budget"
    );
    let summary = format!(
        "coverage (4 seeds): {} of {} marks hit",
        expected.marks_hit(),
        Mark::ALL.len()
    );
    assert!(stdout.contains(&summary), "{stdout}");
}

#[test]
fn payfault_explore_prints_the_never_hit_marks_and_fails_when_coverage_is_required() {
    let plain = payfault(&["explore", "--seeds", "3", "--jobs", "2", "--shrink", "0"]);
    let stdout = String::from_utf8_lossy(&plain.stdout);
    assert!(plain.status.success(), "{stdout}");
    assert!(stdout.contains("3 seeds, 0 failed"), "{stdout}");
    let line = stdout
        .lines()
        .find(|line| line.starts_with("coverage (3 seeds): "))
        .unwrap_or_else(|| panic!("no coverage line:\n{stdout}"));
    assert!(line.contains("never hit ("), "{line}");
    let required = payfault(&[
        "explore",
        "--seeds",
        "3",
        "--jobs",
        "2",
        "--shrink",
        "0",
        "--require-coverage",
    ]);
    assert_eq!(required.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&required.stderr);
    let required_stdout = String::from_utf8_lossy(&required.stdout);
    for name in line.split(": ").last().unwrap().split(", ") {
        let mark = Mark::named(name).unwrap_or_else(|| panic!("{name} is no mark"));
        if mark.not_reached_yet().is_some() {
            assert!(
                required_stdout.contains(&format!("not reached yet: {name} (")),
                "{required_stdout}"
            );
        } else {
            assert!(stderr.contains(name), "{name} not named:\n{stderr}");
        }
    }
}
