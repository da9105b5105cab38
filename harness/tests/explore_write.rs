//! Generated runs written out as scenario files replay exactly: the file
//! lowers to the same plan, and the run has the same trace hash.

use payfault::explore::generate::generate;
use payfault::node::{Bug, Bugs};
use payfault::run::{run, RunOptions};
use payfault::scenario::write::{write, Header};

fn header(seed: u64, bugs: &[Bug]) -> Header {
    Header {
        name: format!("seed-{seed}"),
        incident: 'C',
        description: format!("Generated run of seed {seed}."),
        bugs: bugs.to_vec(),
    }
}

#[test]
fn every_generated_plan_writes_as_a_scenario_that_lowers_to_the_same_plan() {
    for seed in 0..400 {
        let plan = generate(seed, &Bugs::none());
        if let Err(error) = write(&plan, &header(seed, &[])) {
            panic!("seed {seed}: {error}");
        }
    }
}

#[test]
fn a_plan_with_a_planted_bug_writes_its_bug_and_replays_it() {
    let bugs = [Bug::RefundBoundUnchecked];
    let plan = generate(7, &Bugs::of(bugs));
    let text = write(&plan, &header(7, &bugs)).expect("writes");
    assert!(text.contains("bugs = [\"refund-bound-unchecked\"]"), "{text}");
    // Without the bug in the header the file would not give back the plan.
    assert!(write(&plan, &header(7, &[])).is_err());
}

#[test]
fn a_written_scenario_replays_its_run_with_the_same_trace_hash() {
    for seed in [3, 11, 42] {
        let plan = generate(seed, &Bugs::none());
        let text = write(&plan, &header(seed, &[])).expect("writes");
        let scenario = payfault::scenario::parse("seed.toml", &text).expect("parses");
        let original = run(&plan, &RunOptions::hashed(&Bugs::none())).expect("runs");
        let replayed = run(&scenario.plan, &RunOptions::hashed(&Bugs::none())).expect("runs");
        assert_eq!(original.trace_hash, replayed.trace_hash, "seed {seed}:\n{text}");
    }
}
