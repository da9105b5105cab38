//! The fault tally: every fault of a plan, named as a tester would say it,
//! with how often it fired in the run.
//!
//! A fault that never fired tested nothing: a rule on a message that never
//! passed, a partition of a link nobody used, a crash point never reached.
//! The world counts while it runs ([`FaultBook`] for what the world and the
//! hosts see, [`LinkFired`] in each link's proxy, the crash controller for
//! crash points) and [`tally`] names the counts after the run. None of it is
//! traced: counting changes neither what happens nor the trace hash.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plan::{Direction, FaultPlan, Injection, LinkId, MessageAction, MessageRule, RandomMessageFaults};

/// What kind of fault a tally line counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A scripted message rule of a link.
    Message,
    /// A random message fault rate of a link.
    Random,
    /// A hostile host's injection on a link.
    Injection,
    /// A partition of a link.
    Partition,
    /// A crash at a time.
    Crash,
    /// A crash at a named crash point.
    CrashPoint,
    /// Torn writes on crash.
    TornWrites,
    /// A host's clock skew.
    Clock,
}

impl FaultKind {
    /// What one firing of this kind is, in words (plural).
    pub fn counts(self) -> &'static str {
        match self {
            FaultKind::Message | FaultKind::Random => "messages acted on",
            FaultKind::Injection => "messages injected",
            FaultKind::Partition => "messages or connections cut",
            FaultKind::Crash | FaultKind::CrashPoint => "crashes",
            FaultKind::TornWrites => "torn journal tails discarded on recovery",
            FaultKind::Clock => "clock reads while off",
        }
    }
}

/// One configured fault and how often it fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultFired {
    /// What kind of fault.
    pub kind: FaultKind,
    /// The fault in words, e.g. `drop 0210 #1 on bank-a>switch (rule 1)`.
    pub fault: String,
    /// How often it fired (see [`FaultKind::counts`]).
    pub fired: u64,
}

/// Every fault of a run's plan, in plan order, with its fire count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultTally {
    /// One line per fault.
    pub faults: Vec<FaultFired>,
}

impl FaultTally {
    /// The faults that never fired.
    pub fn never_fired(&self) -> impl Iterator<Item = &FaultFired> {
        self.faults.iter().filter(|fault| fault.fired == 0)
    }
}

/// What one link's proxy did on its own faults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFired {
    /// Per scripted rule, in order: messages it acted on.
    pub rules: Vec<u64>,
    /// Random drops.
    pub random_drop: u64,
    /// Random duplicates.
    pub random_duplicate: u64,
    /// Random delays.
    pub random_delay: u64,
    /// Random corruptions.
    pub random_corrupt: u64,
    /// Per injection, in order: messages injected (0 when nothing had been
    /// captured to build it from, or it was never due).
    pub injections: Vec<u64>,
}

impl LinkFired {
    /// Nothing fired yet, for a link with `rules` rules and `injections`
    /// injections.
    pub fn new(rules: usize, injections: usize) -> LinkFired {
        LinkFired {
            rules: vec![0; rules],
            injections: vec![0; injections],
            ..LinkFired::default()
        }
    }
}

#[derive(Debug, Clone)]
struct PartitionState {
    proxy: String,
    active: bool,
    cut: u64,
}

/// What the world and its hosts count while a run goes on: partitions,
/// timed crashes, torn journal tails, skewed clock reads.
#[derive(Debug, Default)]
pub struct FaultBook {
    partitions: Vec<PartitionState>,
    crashes: Vec<u64>,
    torn: u64,
    clock_reads: BTreeMap<String, u64>,
}

impl FaultBook {
    /// Nothing counted yet for `faults`.
    pub fn new(faults: &FaultPlan) -> FaultBook {
        FaultBook {
            partitions: faults
                .partitions
                .iter()
                .map(|partition| PartitionState {
                    proxy: partition.link.proxy_host(),
                    active: false,
                    cut: 0,
                })
                .collect(),
            crashes: vec![0; faults.crashes.len()],
            torn: 0,
            clock_reads: BTreeMap::new(),
        }
    }

    /// The plan's `index`-th partition started (or ended).
    pub fn set_partition(&mut self, index: usize, active: bool) {
        if let Some(partition) = self.partitions.get_mut(index) {
            partition.active = active;
        }
    }

    /// Healing: every partition ended.
    pub fn end_partitions(&mut self) {
        for partition in &mut self.partitions {
            partition.active = false;
        }
    }

    /// Whether the link of proxy host `proxy` is cut from its server now.
    pub fn partitioned(&self, proxy: &str) -> bool {
        self.partitions
            .iter()
            .any(|partition| partition.active && partition.proxy == proxy)
    }

    /// A message (or a connection) tried to cross the link of proxy host
    /// `proxy`: every partition cutting it now counts one.
    pub fn cut(&mut self, proxy: &str) {
        for partition in &mut self.partitions {
            if partition.active && partition.proxy == proxy {
                partition.cut += 1;
            }
        }
    }

    /// The plan's `index`-th timed crash crashed a host that was up.
    pub fn crashed(&mut self, index: usize) {
        if let Some(count) = self.crashes.get_mut(index) {
            *count += 1;
        }
    }

    /// A host booted from a journal whose torn tail it discarded.
    pub fn torn_tail_discarded(&mut self) {
        self.torn += 1;
    }

    /// `host` read its clock while the clock was off.
    pub fn skewed_read(&mut self, host: &str) {
        match self.clock_reads.get_mut(host) {
            Some(count) => *count += 1,
            None => {
                self.clock_reads.insert(host.to_string(), 1);
            }
        }
    }
}

/// Name every fault of `faults` and say how often it fired: `links` by
/// proxy host name, `crash_points` whether each armed crash fired.
pub fn tally(
    faults: &FaultPlan,
    links: &BTreeMap<String, LinkFired>,
    book: &FaultBook,
    crash_points: &[bool],
) -> FaultTally {
    let mut lines = Vec::new();
    let mut push = |kind, fault, fired| lines.push(FaultFired { kind, fault, fired });
    for (link, link_faults) in &faults.links {
        let fired = links.get(&link.proxy_host()).cloned().unwrap_or_default();
        for (index, rule) in link_faults.rules.iter().enumerate() {
            let count = fired.rules.get(index).copied().unwrap_or(0);
            push(FaultKind::Message, rule_name(link, rule, index + 1), count);
        }
        for (what, rate, count) in random_faults(&link_faults.random, &fired) {
            let fault = format!("random {what} {} on {}", rate_name(rate), ends(link, None));
            push(FaultKind::Random, fault, count);
        }
        for (index, timed) in link_faults.injections.iter().enumerate() {
            let (what, nth) = match timed.injection {
                Injection::Replay { nth } => ("replay", nth),
                Injection::TamperAmount { nth } => ("tamper the amount of", nth),
                Injection::Forge { nth } => ("forge from", nth),
                Injection::InsiderOtherTerminal { nth } => ("as an insider, name another terminal in", nth),
                Injection::InsiderUnknownOriginal { nth } => {
                    ("as an insider, refund a sale nobody made, from financial", nth)
                }
                Injection::InsiderVoidAmount { nth } => {
                    ("as an insider, void for one unit more than financial", nth)
                }
            };
            let fault = format!(
                "{what} request #{nth} on {} at {} ms",
                ends(link, Some(Direction::Request)),
                timed.at_ms
            );
            push(
                FaultKind::Injection,
                fault,
                fired.injections.get(index).copied().unwrap_or(0),
            );
        }
    }
    for (partition, state) in faults.partitions.iter().zip(&book.partitions) {
        let window = match partition.until_ms {
            Some(until) => format!("{}..{until} ms", partition.from_ms),
            None => format!("from {} ms until healing", partition.from_ms),
        };
        let fault = format!("partition {} {window}", partition.link.name());
        push(FaultKind::Partition, fault, state.cut);
    }
    for (crash, count) in faults.crashes.iter().zip(&book.crashes) {
        let fault = format!("crash {} at {} ms", crash.host, crash.at_ms);
        push(FaultKind::Crash, fault, *count);
    }
    for (index, crash) in faults.crash_points.iter().enumerate() {
        let fired = crash_points.get(index).copied().unwrap_or(false);
        let fault = format!("crash {} at {} #{}", crash.host, crash.point, crash.nth);
        push(FaultKind::CrashPoint, fault, u64::from(fired));
    }
    if let Some(block) = faults.torn_write_block {
        let fault = format!("torn writes on crash ({block}-byte blocks)");
        push(FaultKind::TornWrites, fault, book.torn);
    }
    for (host, clock) in &faults.clocks {
        let fault = format!(
            "clock of {host} off by {} ms, drift {} ppm",
            clock.offset_ms, clock.drift_ppm
        );
        let reads = book.clock_reads.get(host.name()).copied().unwrap_or(0);
        push(FaultKind::Clock, fault, reads);
    }
    FaultTally { faults: lines }
}

/// The hosts at the two ends of `link`, the way a message goes.
fn ends(link: &LinkId, direction: Option<Direction>) -> String {
    let (client, server) = (link.client(), link.server());
    match direction {
        Some(Direction::Request) => format!("{client}>{server}"),
        Some(Direction::Response) => format!("{server}>{client}"),
        None => format!("{client}<>{server}"),
    }
}

fn rule_name(link: &LinkId, rule: &MessageRule, number: usize) -> String {
    let (verb, how) = match &rule.action {
        MessageAction::Drop => ("drop", String::new()),
        MessageAction::Duplicate { copies: 1 } => ("duplicate", String::new()),
        MessageAction::Duplicate { copies } => ("duplicate", format!(" ({copies} extra copies)")),
        MessageAction::Resend { delay_ms } => ("resend", format!(" {delay_ms} ms later")),
        MessageAction::Delay { delay_ms } => ("delay", format!(" by {delay_ms} ms")),
        MessageAction::Corrupt { offset: Some(offset) } => ("corrupt", format!(" at byte {offset}")),
        MessageAction::Corrupt { offset: None } => ("corrupt", " at a random byte".to_string()),
    };
    let matching = &rule.matching;
    let mut filter = Vec::new();
    if let Some(mti) = matching.mti {
        filter.push(format!("{mti:04}"));
    }
    if let Some(processing) = matching.processing {
        filter.push(processing.name().to_string());
    }
    if let Some(stan) = matching.stan {
        filter.push(format!("stan {stan}"));
    }
    if filter.is_empty() {
        filter.push("every message".to_string());
    }
    if let Some(nth) = matching.nth {
        filter.push(format!("#{nth}"));
    }
    let window = match (rule.from_ms, rule.until_ms) {
        (Some(from), Some(until)) => format!(" {from}..{until} ms"),
        (Some(from), None) => format!(" from {from} ms"),
        (None, Some(until)) => format!(" until {until} ms"),
        (None, None) => String::new(),
    };
    format!(
        "{verb} {}{how} on {}{window} (rule {number})",
        filter.join(" "),
        ends(link, matching.direction)
    )
}

fn random_faults(random: &RandomMessageFaults, fired: &LinkFired) -> Vec<(&'static str, u32, u64)> {
    [
        ("drop", random.drop_ppm, fired.random_drop),
        ("duplicate", random.duplicate_ppm, fired.random_duplicate),
        ("delay", random.delay_ppm, fired.random_delay),
        ("corrupt", random.corrupt_ppm, fired.random_corrupt),
    ]
    .into_iter()
    .filter(|(_, rate, _)| *rate > 0)
    .collect()
}

/// A rate in parts per million as a percentage: `5%`, `0.5%`, `0.025%`.
fn rate_name(ppm: u32) -> String {
    let (whole, rest) = (ppm / 10_000, ppm % 10_000);
    if rest == 0 {
        return format!("{whole}%");
    }
    let decimals = format!("{rest:04}");
    format!("{whole}.{}%", decimals.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{
        ArmedCrash, ClockModel, HostId, LinkFaults, LinkPartition, MessageMatch, TimedCrash, TimedInjection,
    };
    use crate::wire::types::{ProcessingCode, TerminalId};

    fn bank_a() -> LinkId {
        LinkId::Bank(crate::node::BankId("bank-a".into()))
    }

    fn term() -> LinkId {
        LinkId::Terminal(TerminalId::new("TERM0001").unwrap())
    }

    #[test]
    fn rates_read_as_percentages() {
        assert_eq!(rate_name(50_000), "5%");
        assert_eq!(rate_name(5_000), "0.5%");
        assert_eq!(rate_name(12_500), "1.25%");
        assert_eq!(rate_name(250), "0.025%");
        assert_eq!(rate_name(10_920), "1.092%");
        assert_eq!(rate_name(1), "0.0001%");
        assert_eq!(rate_name(1_000_000), "100%");
    }

    #[test]
    fn a_rule_reads_as_what_it_does_to_which_message_where() {
        let name = |action, matching, from_ms, until_ms| {
            let rule = MessageRule {
                matching,
                action,
                from_ms,
                until_ms,
            };
            rule_name(&term(), &rule, 3)
        };
        let request = MessageMatch {
            direction: Some(Direction::Request),
            ..MessageMatch::default()
        };
        let stan = MessageMatch {
            stan: Some(7),
            nth: Some(2),
            ..MessageMatch::default()
        };
        assert_eq!(
            name(MessageAction::Drop, MessageMatch::default(), None, None),
            "drop every message on TERM0001<>switch (rule 3)"
        );
        assert_eq!(
            name(
                MessageAction::Duplicate { copies: 2 },
                request.clone(),
                Some(500),
                None
            ),
            "duplicate every message (2 extra copies) on TERM0001>switch from 500 ms (rule 3)"
        );
        assert_eq!(
            name(MessageAction::Resend { delay_ms: 6_000 }, stan, None, Some(900)),
            "resend stan 7 #2 6000 ms later on TERM0001<>switch until 900 ms (rule 3)"
        );
        assert_eq!(
            name(MessageAction::Corrupt { offset: None }, request, None, None),
            "corrupt every message at a random byte on TERM0001>switch (rule 3)"
        );
    }

    #[test]
    fn every_fault_of_a_plan_is_named_in_plan_order_with_its_count() {
        let rule = MessageRule {
            matching: MessageMatch {
                direction: Some(Direction::Response),
                mti: Some(210),
                processing: Some(ProcessingCode::Refund),
                nth: Some(1),
                ..MessageMatch::default()
            },
            action: MessageAction::Drop,
            from_ms: Some(1_000),
            until_ms: Some(4_000),
        };
        let mut faults = FaultPlan::default();
        faults.links.insert(
            bank_a(),
            LinkFaults {
                rules: vec![rule],
                random: RandomMessageFaults {
                    drop_ppm: 50_000,
                    ..RandomMessageFaults::default()
                },
                injections: vec![TimedInjection {
                    at_ms: 3_000,
                    injection: Injection::Replay { nth: 1 },
                }],
            },
        );
        faults.partitions.push(LinkPartition {
            link: term(),
            from_ms: 1_000,
            until_ms: None,
        });
        faults.crashes.push(TimedCrash {
            host: HostId::Switch,
            at_ms: 2_000,
            restart_after_ms: None,
        });
        faults.crash_points.push(ArmedCrash {
            host: bank_a().host(),
            point: "bank.post.before_sync".into(),
            nth: 2,
            restart_after_ms: None,
        });
        faults.torn_write_block = Some(16);
        faults.clocks.insert(
            bank_a().host(),
            ClockModel {
                offset_ms: -2_000,
                drift_ppm: 0,
            },
        );
        let mut book = FaultBook::new(&faults);
        book.set_partition(0, true);
        book.cut("link-TERM0001");
        book.cut("link-bank-a");
        book.set_partition(0, false);
        book.cut("link-TERM0001");
        book.skewed_read("bank-a");
        book.skewed_read("bank-a");
        let mut fired = LinkFired::new(1, 1);
        fired.rules[0] = 1;
        fired.random_drop = 4;
        let links = BTreeMap::from([("link-bank-a".to_string(), fired)]);
        let tally = tally(&faults, &links, &book, &[true]);
        let lines: Vec<(FaultKind, &str, u64)> = tally
            .faults
            .iter()
            .map(|line| (line.kind, line.fault.as_str(), line.fired))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    FaultKind::Message,
                    "drop 0210 refund #1 on bank-a>switch 1000..4000 ms (rule 1)",
                    1
                ),
                (FaultKind::Random, "random drop 5% on switch<>bank-a", 4),
                (
                    FaultKind::Injection,
                    "replay request #1 on switch>bank-a at 3000 ms",
                    0
                ),
                (
                    FaultKind::Partition,
                    "partition TERM0001 from 1000 ms until healing",
                    1
                ),
                (FaultKind::Crash, "crash switch at 2000 ms", 0),
                (
                    FaultKind::CrashPoint,
                    "crash bank-a at bank.post.before_sync #2",
                    1
                ),
                (FaultKind::TornWrites, "torn writes on crash (16-byte blocks)", 0),
                (
                    FaultKind::Clock,
                    "clock of bank-a off by -2000 ms, drift 0 ppm",
                    2
                ),
            ]
        );
        let never: Vec<&str> = tally.never_fired().map(|line| line.fault.as_str()).collect();
        assert_eq!(
            never,
            [
                "replay request #1 on switch>bank-a at 3000 ms",
                "crash switch at 2000 ms",
                "torn writes on crash (16-byte blocks)"
            ]
        );
    }
}
