//! Whole runs from fuzz input: libFuzzer's bytes become a [`Plan`] through
//! the exploration generator, and the plan runs through the simulation and
//! the full checker.
//!
//! The bytes are a *decision tape*. Their first eight are the run's seed
//! (the simulation's own randomness and the fallback stream); every later
//! group of bytes is the next choice the generator makes (how many
//! terminals, which card, which fault kinds, when a partition starts, ...).
//! When the tape runs out, choices continue from the seed's ChaCha stream.
//! So a mutation of one byte changes one choice and leaves the others as
//! they were, and coverage-guided search steers the generator branch by
//! branch instead of jumping from seed to seed. The runs are kept short
//! ([`Bounds::short`]) so that hundreds run each second.

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::check::Invariant;
use crate::explore::generate::{generate_from, Bounds};
use crate::node::Bugs;
use crate::plan::Plan;
use crate::run::{run, Run, RunError, RunOptions};

/// One fuzz case of the `sim_schedule` target: a seed and a decision tape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The run's seed.
    pub seed: u64,
    /// The generator's choices, in the order it makes them.
    pub tape: Vec<u8>,
}

impl Schedule {
    /// The case a fuzz input's bytes stand for (any bytes are a case).
    pub fn from_bytes(bytes: &[u8]) -> Schedule {
        let split = bytes.len().min(8);
        let mut seed = [0u8; 8];
        seed[..split].copy_from_slice(&bytes[..split]);
        Schedule {
            seed: u64::from_le_bytes(seed),
            tape: bytes[split..].to_vec(),
        }
    }

    /// The bytes of this case, as a corpus file holds them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.seed.to_le_bytes().to_vec();
        bytes.extend_from_slice(&self.tape);
        bytes
    }

    /// Seed `seed` with an empty tape: every choice from the seed's stream,
    /// as exploration would make them within [`Bounds::short`].
    pub fn of_seed(seed: u64) -> Schedule {
        Schedule {
            seed,
            tape: Vec::new(),
        }
    }

    /// The run this case stands for, with `bugs` on in every node.
    pub fn plan(&self, bugs: &Bugs) -> Plan {
        let mut draws = Tape::new(self);
        generate_from(&mut draws, self.seed, bugs, &Bounds::short())
    }
}

impl<'a> Arbitrary<'a> for Schedule {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Schedule> {
        Schedule::arbitrary_take_rest(Unstructured::new(u.bytes(u.len())?))
    }

    fn arbitrary_take_rest(u: Unstructured<'a>) -> arbitrary::Result<Schedule> {
        Ok(Schedule::from_bytes(u.take_rest()))
    }
}

/// Choices read from a tape, then from the seed's stream.
struct Tape<'t> {
    tape: &'t [u8],
    rest: ChaCha8Rng,
}

impl<'t> Tape<'t> {
    fn new(schedule: &'t Schedule) -> Tape<'t> {
        Tape {
            tape: &schedule.tape,
            rest: ChaCha8Rng::seed_from_u64(schedule.seed),
        }
    }
}

impl RngCore for Tape<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0u8; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let taken = dest.len().min(self.tape.len());
        let (from_tape, from_rest) = dest.split_at_mut(taken);
        from_tape.copy_from_slice(&self.tape[..taken]);
        self.tape = &self.tape[taken..];
        if !from_rest.is_empty() {
            self.rest.fill_bytes(from_rest);
        }
    }
}

/// What a fuzz case found: a violated invariant or a run that could not
/// finish.
#[derive(Debug, Clone)]
pub enum Finding {
    /// The checker found violations.
    Violated {
        /// The run's seed.
        seed: u64,
        /// Every invariant violated, the first one first.
        invariants: Vec<Invariant>,
        /// The first violation, in words.
        first: String,
    },
    /// The simulation or the checker failed (a panic, a run that could not
    /// be built).
    Failed(RunError),
}

impl Finding {
    /// The invariant to shrink on, if the case violated one.
    pub fn invariant(&self) -> Option<Invariant> {
        match self {
            Finding::Violated { invariants, .. } => invariants.first().copied(),
            Finding::Failed(_) => None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Violated {
                seed,
                invariants,
                first,
            } => {
                let names: Vec<&str> = invariants.iter().map(|invariant| invariant.name()).collect();
                write!(f, "seed {seed} violates {}: {first}", names.join(", "))
            }
            Finding::Failed(error) => write!(f, "{error}"),
        }
    }
}

/// Run `schedule` with `bugs` on and check it with every invariant.
pub fn check(schedule: &Schedule, bugs: &Bugs) -> Result<Run, Finding> {
    let plan = schedule.plan(bugs);
    let run = run(&plan, &RunOptions::hashed(&Bugs::none())).map_err(Finding::Failed)?;
    if run.verdict.passed() {
        return Ok(run);
    }
    let first = run
        .verdict
        .violations
        .first()
        .map(|violation| violation.to_string())
        .unwrap_or_default();
    Err(Finding::Violated {
        seed: run.seed,
        invariants: run.verdict.violated(),
        first,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::generate::generate;
    use crate::node::Bug;

    #[test]
    fn bytes_and_cases_convert_both_ways() {
        let schedule = Schedule {
            seed: 0x0102_0304_0506_0708,
            tape: vec![9, 10, 11],
        };
        assert_eq!(Schedule::from_bytes(&schedule.to_bytes()), schedule);
        assert_eq!(Schedule::from_bytes(&[7]).seed, 7);
        assert!(Schedule::from_bytes(&[]).tape.is_empty());
    }

    #[test]
    fn an_empty_tape_draws_what_the_seed_draws_within_short_bounds() {
        let seed = 17;
        let mut chacha = ChaCha8Rng::seed_from_u64(seed);
        let expected = generate_from(&mut chacha, seed, &Bugs::none(), &Bounds::short());
        assert_eq!(Schedule::of_seed(seed).plan(&Bugs::none()), expected);
        let phase = expected.timing.fault_phase_ms;
        assert!(Bounds::short().fault_phase_ms.contains(&phase), "{phase}");
        // And exploration's own runs are unchanged by the bounds.
        let explored = generate(seed, &Bugs::none());
        assert!(Bounds::explore()
            .fault_phase_ms
            .contains(&explored.timing.fault_phase_ms));
    }

    #[test]
    fn a_changed_choice_changes_the_run_and_the_same_tape_gives_the_same_run() {
        let base = Schedule {
            seed: 3,
            tape: vec![0x80; 64],
        };
        // The first choice is the number of terminals, read from the first
        // four bytes; its top byte decides it (a multiply, not a modulo).
        let mut changed = base.clone();
        changed.tape[3] = 0x00;
        assert_ne!(base.plan(&Bugs::none()), changed.plan(&Bugs::none()));
        assert_eq!(base.plan(&Bugs::none()), base.plan(&Bugs::none()));
    }

    #[test]
    fn short_cases_pass_on_the_correct_system() {
        for seed in 0..40 {
            if let Err(finding) = check(&Schedule::of_seed(seed), &Bugs::none()) {
                panic!("{finding}");
            }
        }
    }

    #[test]
    fn a_planted_bug_makes_some_short_case_fail() {
        let bugs = Bugs::of([Bug::RefundBoundUnchecked]);
        let found = (0..400).find_map(|seed| check(&Schedule::of_seed(seed), &bugs).err());
        let finding = found.expect("no short case of 400 catches refund-bound-unchecked");
        assert_eq!(finding.invariant(), Some(Invariant::RefundBound), "{finding}");
    }
}
