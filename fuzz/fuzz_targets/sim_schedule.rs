//! Whole fault schedules: the input is a decision tape for the exploration
//! generator (`payfault::fuzz::schedule`): topology, workload and fault plan
//! within short bounds, run through the simulation and judged by every
//! invariant. A violated invariant or a panic is a crash; turn one into a
//! shrunk scenario with `payfault from-fuzz ARTIFACT`.
//!
//! Run: `cargo +nightly fuzz run sim_schedule` (from the repository root);
//! with a planted bug on: `PAYFAULT_BUGS=switch-no-dedupe cargo +nightly fuzz run sim_schedule`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use payfault::fuzz::target_bugs;
use payfault::fuzz::schedule::{check, Schedule};

fuzz_target!(|schedule: Schedule| {
    if let Err(finding) = check(&schedule, target_bugs()) {
        panic!("{finding}\nturn it into a scenario: payfault from-fuzz <the crash file below>");
    }
});
