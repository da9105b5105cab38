//! From a seed to a whole run: a workload and a swarm-style fault plan.
//!
//! Swarm testing: each seed first draws which fault kinds it uses at all and
//! at what rates, so some seeds hammer one kind and others mix everything,
//! and some have no faults at all.

use std::ops::RangeInclusive;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::lives;

use crate::node::bank::{BankCommand, CardState, MerchantState};
use crate::node::terminal::{Card, TerminalCommand};
use crate::node::{all_crash_points, Bugs, Calendar, Millis, OperationId};
use crate::plan::topology::{merchant_account, terminal_config, Topology};
use crate::plan::{ArmedCrash, ClockModel, HostId, LinkId};
use crate::plan::{
    Direction, Injection, LinkFaults, MessageAction, MessageMatch, MessageRule, RandomMessageFaults,
    TimedInjection,
};
use crate::plan::{FaultPlan, LinkPartition, Plan, Step, TimedCrash, Timing, WorkItem};
use crate::wire::types::{Amount, Currency, Expiry, MerchantId, Money, TerminalId};

/// How big a generated run may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// The length of the workload and fault phase, in milliseconds.
    pub fault_phase_ms: RangeInclusive<u64>,
    /// How many operations the workload has.
    pub operations: RangeInclusive<u32>,
}

impl Bounds {
    /// Exploration's runs: a 5-20 s fault phase, 3-24 operations.
    pub fn explore() -> Bounds {
        Bounds {
            fault_phase_ms: 5_000..=20_000,
            operations: 3..=24,
        }
    }

    /// Short runs for coverage-guided fuzzing: a 1-4 s
    /// fault phase and 1-12 operations, the same kinds of choices.
    pub fn short() -> Bounds {
        Bounds {
            fault_phase_ms: 1_000..=4_000,
            operations: 1..=12,
        }
    }
}

/// Which fault kinds a seed uses (swarm testing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Swarm {
    random_messages: bool,
    scripted_messages: bool,
    crash_points: bool,
    timed_crashes: bool,
    partitions: bool,
    torn_writes: bool,
    clock_skew: bool,
    hostile: bool,
}

/// A quarter of the seeds use a single fault kind, so that a fault meets a
/// workload without others masking it; the rest mix kinds at random.
fn draw_swarm(rng: &mut dyn RngCore) -> Swarm {
    if rng.random_bool(0.25) {
        let mut swarm = Swarm {
            random_messages: false,
            scripted_messages: false,
            crash_points: false,
            timed_crashes: false,
            partitions: false,
            torn_writes: false,
            clock_skew: false,
            hostile: false,
        };
        let kinds: [&mut bool; 8] = [
            &mut swarm.random_messages,
            &mut swarm.scripted_messages,
            &mut swarm.crash_points,
            &mut swarm.timed_crashes,
            &mut swarm.partitions,
            &mut swarm.torn_writes,
            &mut swarm.clock_skew,
            &mut swarm.hostile,
        ];
        let chosen = rng.random_range(0..kinds.len());
        for (index, kind) in kinds.into_iter().enumerate() {
            *kind = index == chosen;
        }
        return swarm;
    }
    Swarm {
        random_messages: rng.random_bool(0.5),
        scripted_messages: rng.random_bool(0.5),
        crash_points: rng.random_bool(0.4),
        timed_crashes: rng.random_bool(0.3),
        partitions: rng.random_bool(0.3),
        torn_writes: rng.random_bool(0.3),
        clock_skew: rng.random_bool(0.2),
        hostile: rng.random_bool(0.2),
    }
}

/// The card numbers of the built-in topology, weighted towards usable ones.
const CARDS: [(&str, u32); 8] = [
    ("4111110000000001", 30),
    ("4111110000000002", 10),
    ("4111110000000003", 3),
    ("4111110000000004", 3),
    ("4111110000000005", 3),
    ("4111110000000006", 3),
    ("4111110000000007", 15),
    ("4111110000000008", 5),
];

pub(super) fn pick_card(rng: &mut dyn RngCore, topology: &Topology) -> (Card, Currency) {
    let total: u32 = CARDS.iter().map(|(_, weight)| weight).sum();
    let mut draw = rng.random_range(0..total);
    let mut chosen = CARDS[0].0;
    for (pan, weight) in CARDS {
        if draw < weight {
            chosen = pan;
            break;
        }
        draw -= weight;
    }
    let account = topology.banks[0]
        .cardholders
        .iter()
        .find(|card| card.pan.as_str() == chosen)
        .expect("built-in card");
    let card = Card {
        pan: account.pan.clone(),
        expiry: account.expiry,
    };
    (card, account.currency)
}

/// 1 to 4 terminals: the built-in two, a third at a new merchant and a
/// fourth sharing the first terminal's merchant.
fn terminals(rng: &mut dyn RngCore, topology: &mut Topology) {
    let count = match rng.random_range(0..10) {
        0..=1 => 1,
        2..=5 => 2,
        6..=7 => 3,
        _ => 4,
    };
    let mut terminals = topology.terminals.clone();
    let extra = [("TERM0003", "MERCHANT0000003"), ("TERM0004", "MERCHANT0000001")];
    for (terminal, merchant) in extra {
        terminals.push(terminal_config(
            TerminalId::new(terminal).expect("generated terminal id"),
            MerchantId::new(merchant).expect("generated merchant id"),
        ));
    }
    terminals.truncate(count);
    if count >= 3 {
        let opening = rng.random_range(0..=3) * 10_000;
        topology.banks[0].merchants.push(merchant_account(
            MerchantId::new("MERCHANT0000003").expect("generated merchant id"),
            Amount::new(opening).expect("fits"),
        ));
    }
    topology.set_terminals(terminals);
}

/// Now and then impatient nodes: a terminal that waits 1-3 s for an answer,
/// a switch that waits 1-2 s for the bank.
fn timeouts(rng: &mut dyn RngCore, topology: &mut Topology) {
    if rng.random_bool(0.3) {
        let response_timeout_ms = rng.random_range(1..=3) * 1_000;
        topology
            .terminals
            .iter_mut()
            .for_each(|terminal| terminal.response_timeout_ms = response_timeout_ms);
    }
    if rng.random_bool(0.3) {
        topology.switch.bank_timeout_ms = rng.random_range(1..=2) * 1_000;
    }
}

/// Cards and merchants in varied states, balances near the amounts the
/// workload draws.
fn accounts(rng: &mut dyn RngCore, topology: &mut Topology) {
    let bank = &mut topology.banks[0];
    for card in &mut bank.cardholders {
        if !rng.random_bool(0.25) {
            continue;
        }
        let scale = 10u64.pow(u32::from(card.currency.exponent()));
        let balance = match rng.random_range(0..4) {
            0 => rng.random_range(0..=3) * 50 * scale,
            1 => rng.random_range(95 * scale..=105 * scale),
            2 => rng.random_range(0..=300 * scale),
            _ => card.balance.minor_units(),
        };
        card.balance = Amount::new(balance).expect("fits");
        if rng.random_bool(0.2) {
            card.state = [CardState::Active, CardState::Frozen, CardState::Blocked][rng.random_range(0..3)];
        }
    }
    for merchant in &mut bank.merchants {
        if rng.random_bool(0.3) {
            merchant.balance = Amount::new(rng.random_range(0..=300) * 100).expect("fits");
        }
        if rng.random_bool(0.1) {
            merchant.state = MerchantState::Frozen;
        }
    }
}

/// The expiry of a card whose expiry month is the bank's month at the
/// start of the run (valid through its last day) or, as often, the month
/// before (just expired): the boundary an off-by-one calendar gets wrong.
fn expiry_at_the_boundary(rng: &mut dyn RngCore, calendar: &Calendar) -> Expiry {
    let today = calendar.date(Millis(0));
    let (year, month) = match (rng.random_bool(0.5), today.month) {
        (true, _) => (today.year, today.month),
        (false, 1) => (today.year - 1, 12),
        (false, month) => (today.year, month - 1),
    };
    Expiry {
        year: year.rem_euclid(100) as u8,
        month,
    }
}

/// Salt of the stream that draws expiries at the month boundary.
const EXPIRY_STREAM: u64 = 0xE4_91E5;

/// Now and then a card whose expiry is at the month boundary of the run.
/// Drawn from a stream of its own (the seed with a salt), so that the
/// seed's main stream, and every other draw of the run, stays as it was.
fn boundary_expiries(seed: u64, topology: &mut Topology) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ EXPIRY_STREAM);
    let bank = &mut topology.banks[0];
    let calendar = bank.calendar;
    for card in &mut bank.cardholders {
        if rng.random_bool(1.0 / 16.0) {
            card.expiry = expiry_at_the_boundary(&mut rng, &calendar);
        }
    }
}

/// Amounts around the interesting boundaries: tiny, around limits and
/// balances, and zero now and then.
pub(super) fn pick_minor(rng: &mut dyn RngCore) -> u64 {
    match rng.random_range(0..10) {
        0 => 0,
        1 => 1,
        2 => rng.random_range(9_990..=10_010),
        3 => rng.random_range(1_990..=2_010),
        4 => rng.random_range(19_990..=20_010),
        _ => rng.random_range(100..=30_000),
    }
}

struct Sale {
    operation: OperationId,
    terminal: usize,
    minor: u64,
    currency: Currency,
    /// Whether the bank will most likely approve it, judged from the
    /// opening accounts: an active, unexpired card with the money, within
    /// its limits, in the terminal's currency.
    likely_approved: bool,
}

pub(super) fn likely_approved(
    topology: &Topology,
    terminal: usize,
    card: &Card,
    minor: u64,
    currency: Currency,
) -> bool {
    let Some(account) = topology.banks[0]
        .cardholders
        .iter()
        .find(|account| account.pan == card.pan)
    else {
        return false;
    };
    let within = |limit: Option<Amount>| limit.is_none_or(|limit| minor <= limit.minor_units());
    account.state == CardState::Active
        && (account.expiry.year, account.expiry.month) >= (26, 11)
        && minor > 0
        && minor <= account.balance.minor_units()
        && within(account.transaction_limit)
        && currency == topology.terminals[terminal].currency
}

/// Start times for `count` operations inside the fault phase, in order;
/// now and then several at the same moment (concurrent operations).
fn start_times(rng: &mut dyn RngCore, count: u32, fault_phase_ms: u64) -> Vec<u64> {
    let last_ms = fault_phase_ms.saturating_sub(1).max(50);
    let mut times: Vec<u64> = (0..count).map(|_| rng.random_range(50..=last_ms)).collect();
    times.sort_unstable();
    for index in 1..times.len() {
        if rng.random_bool(0.15) {
            times[index] = times[index - 1];
        }
    }
    times
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Sale,
    Refund,
    Void,
    Close,
    Bank,
    Balance,
}

/// The workload's own swarm: each seed draws how often each kind of
/// operation comes, so some seeds are all refunds and others close batch
/// after batch.
struct Mix {
    weights: [(OpKind, u32); 6],
}

impl Mix {
    fn draw_mix(rng: &mut dyn RngCore) -> Mix {
        let mut pick = |choices: &[u32]| choices[rng.random_range(0..choices.len())];
        Mix {
            weights: [
                (OpKind::Sale, pick(&[6, 10, 14])),
                (OpKind::Refund, pick(&[0, 3, 6])),
                (OpKind::Void, pick(&[0, 2, 5])),
                (OpKind::Close, pick(&[0, 1, 3])),
                (OpKind::Bank, pick(&[0, 1, 2])),
                (OpKind::Balance, pick(&[0, 1, 3])),
            ],
        }
    }

    fn draw(&self, rng: &mut dyn RngCore) -> OpKind {
        let total: u32 = self.weights.iter().map(|(_, weight)| weight).sum();
        let mut draw = rng.random_range(0..total);
        for (kind, weight) in self.weights {
            if draw < weight {
                return kind;
            }
            draw -= weight;
        }
        OpKind::Sale
    }
}

/// A sale to refund or void: mostly one the bank likely approved (else the
/// terminal refuses at once), mostly a recent one (so several meet one sale).
fn pick_sale<'s>(rng: &mut dyn RngCore, sales: &'s [Sale]) -> &'s Sale {
    let approved: Vec<&Sale> = sales.iter().filter(|sale| sale.likely_approved).collect();
    if !approved.is_empty() && rng.random_bool(0.7) {
        let from = approved.len().saturating_sub(3);
        return approved[rng.random_range(from..approved.len())];
    }
    &sales[rng.random_range(0..sales.len())]
}

fn workload(
    rng: &mut dyn RngCore,
    topology: &Topology,
    fault_phase_ms: u64,
    operations: RangeInclusive<u32>,
) -> Vec<Step> {
    let mix = Mix::draw_mix(rng);
    let count = rng.random_range(operations);
    let times = start_times(rng, count, fault_phase_ms);
    let mut steps = Vec::new();
    let mut sales: Vec<Sale> = Vec::new();
    // A clerk who closed the batch often voids a sale of it next: the
    // void must be refused once the batch is settled.
    let mut closed_on: Option<usize> = None;
    for (index, at_ms) in (0..count).zip(times) {
        let operation = OperationId(index + 1);
        let terminal_index = rng.random_range(0..topology.terminals.len());
        let terminal = topology.terminals[terminal_index].terminal.clone();
        let closed = closed_on.take();
        let void_after_close = closed.and_then(|closed| {
            let of_terminal: Vec<&Sale> = sales
                .iter()
                .filter(|sale| sale.terminal == closed && sale.likely_approved)
                .collect();
            (!of_terminal.is_empty() && rng.random_bool(0.6))
                .then(|| of_terminal[rng.random_range(0..of_terminal.len())].operation)
        });
        let kind = if void_after_close.is_some() {
            OpKind::Void
        } else {
            mix.draw(rng)
        };
        let kind = match kind {
            OpKind::Refund | OpKind::Void if sales.is_empty() => OpKind::Sale,
            OpKind::Bank if index == 0 => OpKind::Sale,
            kind => kind,
        };
        let command = match kind {
            OpKind::Sale => {
                let (card, currency) = pick_card(rng, topology);
                let minor = pick_minor(rng);
                sales.push(Sale {
                    operation,
                    terminal: terminal_index,
                    minor,
                    currency,
                    likely_approved: likely_approved(topology, terminal_index, &card, minor, currency),
                });
                TerminalCommand::Sale {
                    operation,
                    card,
                    amount: money(minor, currency),
                }
            }
            OpKind::Refund => refund(rng, &sales, operation),
            OpKind::Void => {
                let original = void_after_close.unwrap_or_else(|| pick_sale(rng, &sales).operation);
                TerminalCommand::Void { operation, original }
            }
            OpKind::Close => {
                closed_on = Some(terminal_index);
                TerminalCommand::CloseBatch { operation }
            }
            OpKind::Bank => {
                steps.push(bank_command(rng, topology, at_ms));
                continue;
            }
            OpKind::Balance => {
                let (card, currency) = pick_card(rng, topology);
                TerminalCommand::Balance {
                    operation,
                    card,
                    currency,
                }
            }
        };
        let terminal = match &command {
            TerminalCommand::Refund { original, .. } | TerminalCommand::Void { original, .. } => sales
                .iter()
                .find(|sale| sale.operation == *original)
                .map(|sale| topology.terminals[sale.terminal].terminal.clone())
                .unwrap_or(terminal),
            _ => terminal,
        };
        steps.push(Step {
            at_ms,
            item: WorkItem::Terminal { terminal, command },
        });
    }
    steps
}

pub(super) fn money(minor: u64, currency: Currency) -> Money {
    Money::new(minor, currency).expect("generated amounts fit twelve digits")
}

fn refund(rng: &mut dyn RngCore, sales: &[Sale], operation: OperationId) -> TerminalCommand {
    let sale = pick_sale(rng, sales);
    let minor = match rng.random_range(0..4) {
        0 => sale.minor,
        1 => sale.minor + 1,
        _ => rng.random_range(0..=sale.minor.max(1)),
    };
    TerminalCommand::Refund {
        operation,
        original: sale.operation,
        amount: money(minor, sale.currency),
    }
}

fn bank_command(rng: &mut dyn RngCore, topology: &Topology, at_ms: u64) -> Step {
    let bank = &topology.banks[0];
    let merchant = bank.merchants[rng.random_range(0..bank.merchants.len())]
        .id
        .clone();
    let pan = bank.cardholders[rng.random_range(0..bank.cardholders.len())]
        .pan
        .clone();
    let command = match rng.random_range(0..6) {
        0 => BankCommand::SetMerchantState {
            merchant,
            state: MerchantState::Frozen,
        },
        1 => BankCommand::SetMerchantState {
            merchant,
            state: MerchantState::Active,
        },
        2 => BankCommand::BeginMaintenance,
        3 => BankCommand::EndMaintenance,
        4 => BankCommand::SetCardState {
            pan,
            state: CardState::Frozen,
        },
        _ => BankCommand::SetCardState {
            pan,
            state: CardState::Active,
        },
    };
    Step {
        at_ms,
        item: WorkItem::Bank {
            bank: bank.id.clone(),
            command,
        },
    }
}

fn random_message_faults(rng: &mut dyn RngCore) -> RandomMessageFaults {
    let mut rate = |max: u32| {
        if rng.random_bool(0.6) {
            rng.random_range(0..=max)
        } else {
            0
        }
    };
    RandomMessageFaults {
        drop_ppm: rate(200_000),
        duplicate_ppm: rate(200_000),
        delay_ppm: rate(200_000),
        delay_ms_max: 4_000,
        corrupt_ppm: rate(50_000),
    }
}

/// One scripted message fault: most pick the n-th message of a type; some
/// ("every") hit every message of a type for a while, mostly answers lost on
/// the way back (a link that loses every 0510 for twenty seconds).
fn scripted_rule(rng: &mut dyn RngCore, fault_phase_ms: u64) -> MessageRule {
    let every = rng.random_bool(0.3);
    let direction = if rng.random_bool(if every { 0.3 } else { 0.5 }) {
        Direction::Request
    } else {
        Direction::Response
    };
    let mtis = match direction {
        Direction::Request => [200, 420, 500, 320],
        Direction::Response => [210, 430, 510, 330],
    };
    let mti = mtis[rng.random_range(0..mtis.len())];
    let action_draw = if every {
        rng.random_range(0..10)
    } else {
        rng.random_range(0..4) * 3
    };
    let action = match action_draw {
        0..=5 => MessageAction::Drop,
        6..=7 => MessageAction::Duplicate {
            copies: rng.random_range(1..=3),
        },
        8 => MessageAction::Delay {
            delay_ms: rng.random_range(100..=6_000),
        },
        _ => MessageAction::Corrupt { offset: None },
    };
    let from_ms = rng.random_range(0..fault_phase_ms / 2);
    let until_ms = match rng.random_bool(0.5) {
        true => None,
        false => Some(from_ms + rng.random_range(5_000..=30_000)),
    };
    MessageRule {
        matching: MessageMatch {
            direction: Some(direction),
            mti: Some(mti),
            nth: (!every).then(|| rng.random_range(1..=3)),
            ..MessageMatch::default()
        },
        action,
        from_ms: every.then_some(from_ms),
        until_ms: until_ms.filter(|_| every),
    }
}

/// Injections of the three `kinds` (a kind is a constructor from `nth`),
/// `count` of them at random times of the fault phase, in time order.
fn draw_injections(
    rng: &mut dyn RngCore,
    count: RangeInclusive<u32>,
    kinds: [fn(u32) -> Injection; 3],
    fault_phase_ms: u64,
) -> Vec<TimedInjection> {
    let mut injections: Vec<TimedInjection> = (0..rng.random_range(count))
        .map(|_| {
            let nth = rng.random_range(1..=4);
            let injection = kinds[rng.random_range(0..3) as usize](nth);
            TimedInjection {
                at_ms: rng.random_range(0..fault_phase_ms),
                injection,
            }
        })
        .collect();
    injections.sort_by_key(|timed| timed.at_ms);
    injections
}

fn hostile_injections(rng: &mut dyn RngCore, fault_phase_ms: u64) -> Vec<TimedInjection> {
    let kinds: [fn(u32) -> Injection; 3] = [
        |nth| Injection::Replay { nth },
        |nth| Injection::TamperAmount { nth },
        |nth| Injection::Forge { nth },
    ];
    draw_injections(rng, 1..=3, kinds, fault_phase_ms)
}

const INSIDER_STREAM: u64 = 0x1A51_DE25;

/// Some seeds put an insider on terminal links: a host with the terminal's
/// key sending requests the reference terminal never builds (another
/// terminal's id, a refund of nothing, a void for a wrong amount). Drawn
/// from a stream of their own, so every other draw of the seed is the
/// same with or without them.
fn insiders(seed: u64, topology: &Topology, faults: &mut FaultPlan, fault_phase_ms: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ INSIDER_STREAM);
    if !rng.random_bool(1.0 / 8.0) {
        return;
    }
    for link in topology.links() {
        if !matches!(link, LinkId::Terminal(_)) || !rng.random_bool(0.5) {
            continue;
        }
        let kinds: [fn(u32) -> Injection; 3] = [
            |nth| Injection::InsiderOtherTerminal { nth },
            |nth| Injection::InsiderUnknownOriginal { nth },
            |nth| Injection::InsiderVoidAmount { nth },
        ];
        let drawn = draw_injections(&mut rng, 1..=2, kinds, fault_phase_ms);
        let injections = &mut faults.links.entry(link).or_default().injections;
        injections.extend(drawn);
        injections.sort_by_key(|timed| timed.at_ms);
    }
}

fn fault_plan(rng: &mut dyn RngCore, topology: &Topology, fault_phase_ms: u64) -> FaultPlan {
    let swarm = draw_swarm(rng);
    let mut faults = FaultPlan::default();
    for link in topology.links() {
        let mut link_faults = LinkFaults::default();
        if swarm.random_messages && rng.random_bool(0.7) {
            let random = random_message_faults(rng);
            if random.is_active() {
                link_faults.random = random;
            }
        }
        if swarm.scripted_messages {
            link_faults.rules = (0..rng.random_range(0..=3))
                .map(|_| scripted_rule(rng, fault_phase_ms))
                .collect();
        }
        if swarm.hostile && rng.random_bool(0.5) {
            link_faults.injections = hostile_injections(rng, fault_phase_ms);
        }
        if link_faults != LinkFaults::default() {
            faults.links.insert(link, link_faults);
        }
    }
    let hosts = topology.hosts();
    if swarm.crash_points {
        let points = all_crash_points();
        for _ in 0..rng.random_range(1..=3) {
            let (kind, point) = points[rng.random_range(0..points.len())];
            let host = match kind {
                "terminal" => HostId::Terminal(
                    topology.terminals[rng.random_range(0..topology.terminals.len())]
                        .terminal
                        .clone(),
                ),
                "switch" => HostId::Switch,
                _ => HostId::Bank(topology.banks[0].id.clone()),
            };
            let restart_after_ms = rng.random_bool(0.8).then(|| rng.random_range(50..=5_000));
            faults.crash_points.push(ArmedCrash {
                host,
                point: point.to_string(),
                nth: rng.random_range(1..=3),
                restart_after_ms,
            });
        }
    }
    if swarm.timed_crashes {
        for _ in 0..rng.random_range(1..=2) {
            let host = hosts[rng.random_range(0..hosts.len())].clone();
            let restart_after_ms = rng.random_bool(0.8).then(|| rng.random_range(50..=5_000));
            faults.crashes.push(TimedCrash {
                host,
                at_ms: rng.random_range(0..fault_phase_ms),
                restart_after_ms,
            });
        }
    }
    if swarm.partitions {
        let links = topology.links();
        for _ in 0..rng.random_range(1..=2) {
            let from_ms = rng.random_range(0..fault_phase_ms);
            let until_ms = rng
                .random_bool(0.7)
                .then(|| from_ms + rng.random_range(100..=8_000));
            faults.partitions.push(LinkPartition {
                link: links[rng.random_range(0..links.len())].clone(),
                from_ms,
                until_ms,
            });
        }
    }
    if swarm.torn_writes {
        faults.torn_write_block = Some(rng.random_range(1..=16));
    }
    if swarm.clock_skew {
        let host = hosts[rng.random_range(0..hosts.len())].clone();
        let clock = ClockModel {
            offset_ms: rng.random_range(-120_000..=120_000),
            drift_ppm: rng.random_range(-500..=500),
        };
        faults.clocks.insert(host, clock);
    }
    faults
}

/// The whole run of `seed`, with `bugs` switched on.
pub fn generate(seed: u64, bugs: &Bugs) -> Plan {
    generate_from(
        &mut ChaCha8Rng::seed_from_u64(seed),
        seed,
        bugs,
        &Bounds::explore(),
    )
}

/// A run within `bounds` whose every choice is drawn from `rng` (a seed's
/// ChaCha stream for exploration, a fuzzer's bytes for `fuzz::schedule`); `seed`
/// seeds the simulation itself (latencies, rates) and the cards' expiries.
/// [`generate`] is this with the seed's ChaCha stream.
pub fn generate_from(rng: &mut dyn RngCore, seed: u64, bugs: &Bugs, bounds: &Bounds) -> Plan {
    let mut topology = Topology::standard();
    terminals(rng, &mut topology);
    accounts(rng, &mut topology);
    boundary_expiries(seed, &mut topology);
    timeouts(rng, &mut topology);
    topology.set_bugs(bugs);
    let fault_phase_ms = rng.random_range(bounds.fault_phase_ms.clone());
    let workload = workload(rng, &topology, fault_phase_ms, bounds.operations.clone());
    let mut faults = fault_plan(rng, &topology, fault_phase_ms);
    insiders(seed, &topology, &mut faults, fault_phase_ms);
    let workload = lives::add_lives(seed, &mut topology, workload, fault_phase_ms);
    // Some days nobody closes the batches: no end-of-day reconciliation
    // repairs what the day broke.
    let close_batches_at_end = rng.random_bool(0.8);
    let timing = Timing {
        fault_phase_ms,
        quiet_ms: 15_000,
        close_batches_at_end,
        ..Timing::default()
    };
    Plan::new(seed, topology, workload, faults, timing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiries_of(plan: &Plan) -> Vec<Expiry> {
        plan.topology.banks[0]
            .cardholders
            .iter()
            .map(|card| card.expiry)
            .collect()
    }

    #[test]
    fn some_seeds_draw_cards_at_the_expiry_month_boundary() {
        let just_expired = Expiry { year: 26, month: 10 };
        let last_month_valid = Expiry { year: 26, month: 11 };
        let plans: Vec<Plan> = (0..200).map(|seed| generate(seed, &Bugs::none())).collect();
        let drawn = |expiry: Expiry| {
            plans
                .iter()
                .filter(|plan| expiries_of(plan).contains(&expiry))
                .count()
        };
        assert!(
            drawn(just_expired) > 0,
            "no seed draws a card that expired last month"
        );
        assert!(
            drawn(last_month_valid) > 0,
            "no seed draws a card in its last valid month"
        );
        assert!(
            drawn(just_expired) < 100,
            "the boundary is a variation, not the rule"
        );
    }

    #[test]
    fn boundary_expiries_leave_every_other_draw_alone() {
        for seed in 0..50 {
            let plan = generate(seed, &Bugs::none());
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut topology = Topology::standard();
            terminals(&mut rng, &mut topology);
            accounts(&mut rng, &mut topology);
            timeouts(&mut rng, &mut topology);
            let fault_phase_ms = rng.random_range(5_000..=20_000);
            assert_eq!(plan.timing.fault_phase_ms, fault_phase_ms, "seed {seed}");
            let without = |cards: &[crate::node::bank::CardholderAccount]| {
                cards
                    .iter()
                    .map(|card| (card.pan.clone(), card.balance, card.state))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                without(&plan.topology.banks[0].cardholders),
                without(&topology.banks[0].cardholders),
                "seed {seed}"
            );
        }
    }
}
