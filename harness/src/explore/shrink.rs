//! Shrinking a failing run to a small one that fails the same way.
//!
//! A plan is taken apart into [`Part`]s (each operation and each fault) and
//! reduced in three passes, each keeping a change only while the same
//! invariant still fails:
//!
//! 1. delta debugging (ddmin) over the parts: drop operations and faults;
//! 2. weakening what is left: fewer copies, shorter delays and partitions,
//!    lower random rates, restarts sooner, crash points at their first
//!    passage;
//! 3. fewer hosts and plainer accounts: terminals nobody needs go, cards
//!    and merchants go back to their built-in state.
//!
//! Every candidate is a plan a scenario file states exactly: operations are
//! numbered by place, a refund or void without its sale goes with it, and
//! link faults are only listed where there are some. Each candidate costs
//! one simulated run; a budget of runs bounds the whole.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::check::Invariant;
use crate::node::terminal::TerminalCommand;
use crate::node::{Bugs, OperationId};
use crate::plan::topology::terminal_links;
use crate::plan::{ArmedCrash, ClockModel, HostId, LinkId};
use crate::plan::{FaultPlan, LinkPartition, Plan, Step, TimedCrash, WorkItem};
use crate::plan::{MessageAction, MessageRule, RandomMessageFaults, TimedInjection};
use crate::run::{run, RunOptions};

/// One operation or one fault of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// An operation of the workload.
    Step(Step),
    /// A scripted message rule on a link.
    Rule {
        /// The link.
        link: LinkId,
        /// The rule.
        rule: MessageRule,
    },
    /// Random message faults on a link.
    Random {
        /// The link.
        link: LinkId,
        /// The rates.
        random: RandomMessageFaults,
    },
    /// A hostile host's message on a link.
    Injection {
        /// The link.
        link: LinkId,
        /// What and when.
        injection: TimedInjection,
    },
    /// A partition.
    Partition(LinkPartition),
    /// A crash at a time.
    Crash(TimedCrash),
    /// A crash at a crash point.
    CrashPoint(ArmedCrash),
    /// Torn writes on crash, with this block size.
    TornWrites(u64),
    /// A host's clock skew.
    Clock {
        /// The host.
        host: HostId,
        /// Its clock.
        clock: ClockModel,
    },
}

impl Part {
    fn is_fault(&self) -> bool {
        !matches!(self, Part::Step(_))
    }

    /// The host or link this part needs, if it names one.
    fn place(&self) -> Option<&str> {
        match self {
            Part::Step(step) => match &step.item {
                WorkItem::Terminal { terminal, .. } => Some(terminal.as_str()),
                WorkItem::Bank { .. } => None,
            },
            Part::Rule { link, .. } | Part::Random { link, .. } | Part::Injection { link, .. } => {
                Some(link.name())
            }
            Part::Partition(partition) => Some(partition.link.name()),
            Part::Crash(crash) => Some(crash.host.name()),
            Part::CrashPoint(crash) => Some(crash.host.name()),
            Part::Clock { host, .. } => Some(host.name()),
            Part::TornWrites(_) => None,
        }
    }
}

/// How big a run is: what a reader of its scenario file has to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Size {
    /// Operations in the workload.
    pub operations: usize,
    /// Faults (message rules, random rates, injections, partitions,
    /// crashes, torn writes, clocks).
    pub faults: usize,
    /// Terminals.
    pub terminals: usize,
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural =
            |count: usize, word: &str| format!("{count} {word}{}", if count == 1 { "" } else { "s" });
        write!(
            f,
            "{}, {}, {}",
            plural(self.operations, "operation"),
            plural(self.faults, "fault"),
            plural(self.terminals, "terminal")
        )
    }
}

/// The size of `plan`.
pub fn size(plan: &Plan) -> Size {
    let parts = parts(plan);
    Size {
        operations: plan.workload.len(),
        faults: parts.iter().filter(|part| part.is_fault()).count(),
        terminals: plan.topology.terminals.len(),
    }
}

/// The operations and faults of `plan`, in a fixed order.
pub fn parts(plan: &Plan) -> Vec<Part> {
    let mut parts: Vec<Part> = plan.workload.iter().cloned().map(Part::Step).collect();
    let faults = &plan.faults;
    for (link, link_faults) in &faults.links {
        parts.extend(link_faults.rules.iter().map(|rule| Part::Rule {
            link: link.clone(),
            rule: rule.clone(),
        }));
        if link_faults.random.is_active() {
            parts.push(Part::Random {
                link: link.clone(),
                random: link_faults.random,
            });
        }
        parts.extend(link_faults.injections.iter().map(|injection| Part::Injection {
            link: link.clone(),
            injection: injection.clone(),
        }));
    }
    parts.extend(faults.partitions.iter().cloned().map(Part::Partition));
    parts.extend(faults.crashes.iter().cloned().map(Part::Crash));
    parts.extend(faults.crash_points.iter().cloned().map(Part::CrashPoint));
    parts.extend(faults.torn_write_block.map(Part::TornWrites));
    parts.extend(faults.clocks.iter().map(|(host, clock)| Part::Clock {
        host: host.clone(),
        clock: *clock,
    }));
    parts
}

/// `base` (its topology, timing and seed) with just these parts, as a
/// scenario file would state it: a refund or void whose sale is not among
/// the parts is left out, and operations are numbered by place.
pub fn assemble(base: &Plan, parts: &[Part]) -> Plan {
    let mut plan = base.clone();
    plan.faults = FaultPlan::default();
    let parts = live(parts.to_vec());
    let kept: Vec<&Step> = parts
        .iter()
        .filter_map(|part| match part {
            Part::Step(step) => Some(step),
            _ => None,
        })
        .collect();
    plan.workload = number_by_place(kept);
    for part in &parts {
        add_fault(&mut plan.faults, part);
    }
    plan
}

/// The parts [`assemble`] keeps: a refund or void whose sale is not among
/// the parts goes.
fn live(parts: Vec<Part>) -> Vec<Part> {
    let sales: Vec<OperationId> = parts
        .iter()
        .filter_map(|part| match part {
            Part::Step(Step {
                item:
                    WorkItem::Terminal {
                        command: TerminalCommand::Sale { operation, .. },
                        ..
                    },
                ..
            }) => Some(*operation),
            _ => None,
        })
        .collect();
    parts
        .into_iter()
        .filter(|part| match part {
            Part::Step(Step {
                item:
                    WorkItem::Terminal {
                        command:
                            TerminalCommand::Refund { original, .. } | TerminalCommand::Void { original, .. },
                        ..
                    },
                ..
            }) => sales.contains(original),
            _ => true,
        })
        .collect()
}

/// `steps` in their order, each operation numbered by its place (from 1)
/// and each refund or void naming its sale's new number, as a scenario file
/// numbers them.
pub(super) fn number_by_place(steps: Vec<&Step>) -> Vec<Step> {
    let mut renumbered: BTreeMap<OperationId, OperationId> = BTreeMap::new();
    for (index, step) in steps.iter().enumerate() {
        if let WorkItem::Terminal { command, .. } = &step.item {
            renumbered.insert(command.operation(), OperationId(index as u32 + 1));
        }
    }
    steps
        .into_iter()
        .enumerate()
        .map(|(index, step)| renumber(step, OperationId(index as u32 + 1), &renumbered))
        .collect()
}

fn renumber(step: &Step, place: OperationId, renumbered: &BTreeMap<OperationId, OperationId>) -> Step {
    let mut step = step.clone();
    if let WorkItem::Terminal { command, .. } = &mut step.item {
        let original_of = |original: &OperationId| renumbered.get(original).copied().unwrap_or(*original);
        match command {
            TerminalCommand::Sale { operation, .. }
            | TerminalCommand::Balance { operation, .. }
            | TerminalCommand::CloseBatch { operation } => *operation = place,
            TerminalCommand::Refund {
                operation, original, ..
            }
            | TerminalCommand::Void { operation, original } => {
                *operation = place;
                *original = original_of(original);
            }
        }
    }
    step
}

fn add_fault(faults: &mut FaultPlan, part: &Part) {
    match part {
        Part::Step(_) => {}
        Part::Rule { link, rule } => faults
            .links
            .entry(link.clone())
            .or_default()
            .rules
            .push(rule.clone()),
        Part::Random { link, random } => faults.links.entry(link.clone()).or_default().random = *random,
        Part::Injection { link, injection } => faults
            .links
            .entry(link.clone())
            .or_default()
            .injections
            .push(injection.clone()),
        Part::Partition(partition) => faults.partitions.push(partition.clone()),
        Part::Crash(crash) => faults.crashes.push(crash.clone()),
        Part::CrashPoint(crash) => faults.crash_points.push(crash.clone()),
        Part::TornWrites(block) => faults.torn_write_block = Some(*block),
        Part::Clock { host, clock } => {
            faults.clocks.insert(host.clone(), *clock);
        }
    }
}

/// Limits on one shrink. The number of runs decides where a shrink stops,
/// so that the same failure always shrinks to the same file; a wall-time
/// limit, when given, trades that for a bound on time.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most candidate runs.
    pub runs_max: usize,
    /// Most wall time (`None`: no limit but the runs).
    pub wall_max: Option<Duration>,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            runs_max: 600,
            wall_max: None,
        }
    }
}

/// What a shrink found.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest failing plan found.
    pub plan: Plan,
    /// The invariant it still violates.
    pub invariant: Invariant,
    /// The size before.
    pub before: Size,
    /// The size after.
    pub after: Size,
    /// Candidate runs made.
    pub runs: usize,
    /// Whether the budget ran out before the passes ended.
    pub budget_exhausted: bool,
}

struct Shrinker {
    invariant: Invariant,
    budget: Budget,
    began: Instant,
    runs: usize,
    /// A candidate was refused for want of budget.
    cut_short: bool,
    /// The plan with no part at all was run already.
    empty_tried: bool,
}

impl Shrinker {
    fn exhausted(&self) -> bool {
        self.runs >= self.budget.runs_max
            || self
                .budget
                .wall_max
                .is_some_and(|wall| self.began.elapsed() >= wall)
    }

    /// Whether `plan` still violates the invariant (false once the budget
    /// is spent, so that nothing more is taken). A candidate that makes the
    /// world panic or fail to run does not count as the same failure.
    fn fails(&mut self, plan: &Plan) -> bool {
        if self.exhausted() {
            self.cut_short = true;
            return false;
        }
        self.runs += 1;
        match run(plan, &RunOptions::hashed(&Bugs::none())) {
            Ok(result) => result.verdict.violated().contains(&self.invariant),
            Err(_) => false,
        }
    }

    /// Delta debugging: a 1-minimal sublist of `parts` (within the budget).
    fn ddmin(&mut self, base: &Plan, parts: Vec<Part>) -> Vec<Part> {
        let mut parts = live(parts);
        if !parts.is_empty() && !self.empty_tried {
            self.empty_tried = true;
            if self.fails(&assemble(base, &[])) {
                return Vec::new();
            }
        }
        let mut granularity = 2usize;
        while parts.len() >= 2 && !self.exhausted() {
            let chunk = parts.len().div_ceil(granularity);
            let chunks: Vec<Vec<Part>> = parts.chunks(chunk).map(<[Part]>::to_vec).collect();
            // Rounding may give fewer chunks than asked for.
            granularity = chunks.len();
            let mut reduced = None;
            for (index, subset) in chunks.iter().enumerate() {
                if chunks.len() > 2 && self.fails(&assemble(base, subset)) {
                    reduced = Some((subset.clone(), 2));
                    break;
                }
                let complement: Vec<Part> = chunks
                    .iter()
                    .enumerate()
                    .filter(|(other, _)| *other != index)
                    .flat_map(|(_, chunk)| chunk.iter().cloned())
                    .collect();
                if self.fails(&assemble(base, &complement)) {
                    reduced = Some((complement, (granularity - 1).max(2)));
                    break;
                }
            }
            match reduced {
                Some((smaller, next)) => {
                    // What the plan would leave out anyway (a refund whose
                    // sale went) is no part to test again.
                    parts = live(smaller);
                    granularity = next;
                }
                None if granularity >= parts.len() => break,
                None => granularity = (granularity * 2).min(parts.len()),
            }
        }
        parts
    }

    /// Replace each part by a weaker variant while the failure stays.
    fn weaken(&mut self, base: &Plan, mut parts: Vec<Part>) -> Vec<Part> {
        for index in 0..parts.len() {
            let mut variants = weaker(&parts[index]);
            while let Some(variant) = variants.pop() {
                if self.exhausted() {
                    return parts;
                }
                let mut candidate = parts.clone();
                candidate[index] = variant.clone();
                if self.fails(&assemble(base, &candidate)) {
                    parts = candidate;
                    variants = weaker(&variant);
                }
            }
        }
        parts
    }

    /// Drop terminals nothing needs, and put changed accounts back to their
    /// built-in state, while the failure stays.
    fn simplify_topology(&mut self, mut base: Plan, mut parts: Vec<Part>) -> (Plan, Vec<Part>) {
        let terminals: Vec<String> = base
            .topology
            .terminals
            .iter()
            .map(|t| t.terminal.to_string())
            .collect();
        for terminal in terminals {
            if base.topology.terminals.len() <= 1 || self.exhausted() {
                break;
            }
            let kept: Vec<Part> = parts
                .iter()
                .filter(|part| part.place() != Some(terminal.as_str()))
                .cloned()
                .collect();
            let mut candidate = base.clone();
            let others: Vec<_> = candidate
                .topology
                .terminals
                .iter()
                .filter(|t| t.terminal.as_str() != terminal)
                .cloned()
                .collect();
            candidate.topology.switch.terminals = terminal_links(&others);
            candidate.topology.terminals = others;
            if self.fails(&assemble(&candidate, &kept)) {
                base = candidate;
                parts = kept;
            }
        }
        let standard = crate::plan::topology::standard_bank();
        self.revert_accounts(
            &mut base,
            &parts,
            |plan| &mut plan.topology.banks[0].cardholders,
            &standard.cardholders,
            |a, b| a.pan == b.pan,
        );
        self.revert_accounts(
            &mut base,
            &parts,
            |plan| &mut plan.topology.banks[0].merchants,
            &standard.merchants,
            |a, b| a.id == b.id,
        );
        (base, parts)
    }
}

impl Shrinker {
    /// Put each account of `base` that differs from its built-in twin back
    /// to the built-in one, while the failure stays.
    fn revert_accounts<T: Clone + PartialEq>(
        &mut self,
        base: &mut Plan,
        parts: &[Part],
        accounts: fn(&mut Plan) -> &mut Vec<T>,
        built_in: &[T],
        same_account: fn(&T, &T) -> bool,
    ) {
        for index in 0..accounts(base).len() {
            let account = accounts(base)[index].clone();
            let Some(original) = built_in.iter().find(|b| same_account(b, &account)) else {
                continue;
            };
            if *original == account || self.exhausted() {
                continue;
            }
            let mut candidate = base.clone();
            accounts(&mut candidate)[index] = original.clone();
            if self.fails(&assemble(&candidate, parts)) {
                *base = candidate;
            }
        }
    }
}

/// Weaker variants of a part, the one to try first last.
fn weaker(part: &Part) -> Vec<Part> {
    let mut variants = Vec::new();
    match part {
        Part::Rule { link, rule } => {
            let mut with = |action: MessageAction| {
                let mut rule = rule.clone();
                rule.action = action;
                variants.push(Part::Rule {
                    link: link.clone(),
                    rule,
                });
            };
            match rule.action {
                MessageAction::Duplicate { copies } if copies > 1 => {
                    with(MessageAction::Duplicate { copies: 1 })
                }
                MessageAction::Delay { delay_ms } if delay_ms >= 200 => with(MessageAction::Delay {
                    delay_ms: round_ms(delay_ms / 2),
                }),
                MessageAction::Resend { delay_ms } if delay_ms >= 200 => with(MessageAction::Resend {
                    delay_ms: round_ms(delay_ms / 2),
                }),
                _ => {}
            }
        }
        Part::Random { link, random } => {
            let rates: [fn(&mut RandomMessageFaults) -> &mut u32; 4] = [
                |r| &mut r.drop_ppm,
                |r| &mut r.duplicate_ppm,
                |r| &mut r.delay_ppm,
                |r| &mut r.corrupt_ppm,
            ];
            for rate in rates {
                let mut halved = *random;
                if *rate(&mut halved) >= 2_000 {
                    *rate(&mut halved) /= 2;
                    variants.push(Part::Random {
                        link: link.clone(),
                        random: halved,
                    });
                }
                let mut zeroed = *random;
                if *rate(&mut zeroed) > 0 {
                    *rate(&mut zeroed) = 0;
                    if zeroed.is_active() {
                        variants.push(Part::Random {
                            link: link.clone(),
                            random: zeroed,
                        });
                    }
                }
            }
        }
        Part::Partition(partition) => {
            let from_ms = partition.from_ms;
            let shorter = match partition.until_ms {
                None => Some(from_ms + 4_000),
                Some(until) if until - from_ms >= 400 => Some(from_ms + round_ms((until - from_ms) / 2)),
                Some(_) => None,
            };
            if let Some(until_ms) = shorter {
                variants.push(Part::Partition(LinkPartition {
                    link: partition.link.clone(),
                    from_ms,
                    until_ms: Some(until_ms),
                }));
            }
        }
        Part::Crash(crash) => {
            if let Some(restart) = sooner(crash.restart_after_ms) {
                variants.push(Part::Crash(TimedCrash {
                    restart_after_ms: Some(restart),
                    ..crash.clone()
                }));
            }
        }
        Part::CrashPoint(crash) => {
            if let Some(restart) = sooner(crash.restart_after_ms) {
                variants.push(Part::CrashPoint(ArmedCrash {
                    restart_after_ms: Some(restart),
                    ..crash.clone()
                }));
            }
            if crash.nth > 1 {
                variants.push(Part::CrashPoint(ArmedCrash {
                    nth: 1,
                    ..crash.clone()
                }));
            }
        }
        Part::Clock { host, clock } => {
            if clock.drift_ppm != 0 {
                variants.push(Part::Clock {
                    host: host.clone(),
                    clock: ClockModel {
                        drift_ppm: 0,
                        ..*clock
                    },
                });
            }
            if clock.offset_ms.abs() >= 200 {
                variants.push(Part::Clock {
                    host: host.clone(),
                    clock: ClockModel {
                        offset_ms: clock.offset_ms / 2 / 10 * 10,
                        ..*clock
                    },
                });
            }
        }
        Part::Step(_) | Part::Injection { .. } | Part::TornWrites(_) => {}
    }
    variants
}

/// A restart sooner than `restart_after_ms` (1 s for a host that stayed
/// down), if there is one worth trying.
fn sooner(restart_after_ms: Option<u64>) -> Option<u64> {
    match restart_after_ms {
        None => Some(1_000),
        Some(ms) if ms >= 200 => Some(round_ms(ms / 2)),
        Some(_) => None,
    }
}

/// Whole tens of milliseconds (the tick), so that files read cleanly.
fn round_ms(ms: u64) -> u64 {
    (ms / 10 * 10).max(10)
}

/// Shrink `plan`, which violates `invariant`, within `budget`.
pub fn shrink(plan: &Plan, invariant: Invariant, budget: Budget) -> Shrunk {
    let mut shrinker = Shrinker {
        invariant,
        budget,
        began: Instant::now(),
        runs: 0,
        cut_short: false,
        empty_tried: false,
    };
    let base = plan.clone();
    let before = size(plan);
    let parts = shrinker.ddmin(&base, parts(plan));
    let parts = shrinker.weaken(&base, parts);
    let (base, parts) = shrinker.simplify_topology(base, parts);
    // A last pass: weaker faults and fewer hosts may make more parts
    // needless.
    let parts = shrinker.ddmin(&base, parts);
    let shrunk = assemble(&base, &parts);
    Shrunk {
        after: size(&shrunk),
        plan: shrunk,
        invariant,
        before,
        runs: shrinker.runs,
        budget_exhausted: shrinker.cut_short,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::generate::generate;
    use crate::node::Bugs;

    #[test]
    fn a_plan_taken_apart_and_put_together_again_is_the_same_plan() {
        for seed in 0..50 {
            let plan = generate(seed, &Bugs::none());
            let again = assemble(&plan, &parts(&plan));
            assert_eq!(format!("{again:?}"), format!("{plan:?}"), "seed {seed}");
        }
    }

    #[test]
    fn leaving_out_a_sale_leaves_out_its_refunds_and_renumbers_by_place() {
        let plan = (0..200)
            .map(|seed| generate(seed, &Bugs::none()))
            .find(|plan| {
                plan.workload.iter().any(|step| {
                    matches!(&step.item, WorkItem::Terminal { command: TerminalCommand::Refund { original, .. }, .. } if original.0 > 1)
                })
            })
            .expect("some seed refunds a later sale");
        let all = parts(&plan);
        let Some(refund_original) = plan.workload.iter().find_map(|step| match &step.item {
            WorkItem::Terminal {
                command: TerminalCommand::Refund { original, .. },
                ..
            } if original.0 > 1 => Some(*original),
            _ => None,
        }) else {
            unreachable!()
        };
        let without_sale: Vec<Part> = all
            .iter()
            .filter(|part| !matches!(part, Part::Step(step) if matches!(&step.item, WorkItem::Terminal { command, .. } if command.operation() == refund_original)))
            .cloned()
            .collect();
        let smaller = assemble(&plan, &without_sale);
        for (index, step) in smaller.workload.iter().enumerate() {
            if let WorkItem::Terminal { command, .. } = &step.item {
                assert_eq!(command.operation(), OperationId(index as u32 + 1));
                if let TerminalCommand::Refund { original, .. } | TerminalCommand::Void { original, .. } =
                    command
                {
                    let target = &smaller.workload[original.0 as usize - 1];
                    assert!(
                        matches!(
                            &target.item,
                            WorkItem::Terminal {
                                command: TerminalCommand::Sale { .. },
                                ..
                            }
                        ),
                        "a refund or void names a sale"
                    );
                }
            }
        }
        assert!(smaller.workload.len() < plan.workload.len());
    }
}
