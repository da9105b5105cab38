//! From a seed to a whole run: a workload and a swarm-style fault plan.
//!
//! Swarm testing: each seed first draws which fault kinds it uses at all and
//! at what rates, so some seeds hammer one kind and others mix everything,
//! and some have no faults at all.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::node::bank::BankCommand;
use crate::node::terminal::{Card, TerminalCommand};
use crate::node::{all_crash_points, BankId, Bugs, OperationId};
use crate::sim::driver::{ArmedCrash, ClockModel};
use crate::sim::faults::{
    Direction, Injection, LinkFaults, MessageAction, MessageMatch, MessageRule, RandomMessageFaults,
    TimedInjection,
};
use crate::sim::topology::Topology;
use crate::sim::world::{FaultPlan, LinkPartition, Step, TimedCrash, Timing, WorkItem, WorldPlan};
use crate::wire::types::{Currency, Money};

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

fn draw_swarm(rng: &mut ChaCha8Rng) -> Swarm {
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

fn pick_card(rng: &mut ChaCha8Rng) -> (Card, Currency) {
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
    let topology = crate::sim::topology::standard_bank();
    let account = topology
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

/// Amounts around the interesting boundaries: tiny, around limits and
/// balances, and zero now and then.
fn pick_minor(rng: &mut ChaCha8Rng) -> u64 {
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
}

fn workload(rng: &mut ChaCha8Rng, topology: &Topology, fault_phase_ms: u64) -> Vec<Step> {
    let count = rng.random_range(3..=24);
    let mut steps = Vec::new();
    let mut sales: Vec<Sale> = Vec::new();
    let mut at_ms = 50;
    for index in 0..count {
        at_ms += rng.random_range(0..=fault_phase_ms * 2 / (count as u64 + 1));
        let operation = OperationId(index + 1);
        let terminal_index = rng.random_range(0..topology.terminals.len());
        let terminal = topology.terminals[terminal_index].terminal.clone();
        let command = match rng.random_range(0..20) {
            0..=10 => {
                let (card, currency) = pick_card(rng);
                let minor = pick_minor(rng);
                sales.push(Sale {
                    operation,
                    terminal: terminal_index,
                    minor,
                    currency,
                });
                TerminalCommand::Sale {
                    operation,
                    card,
                    amount: money(minor, currency),
                }
            }
            11..=14 if !sales.is_empty() => refund(rng, &sales, operation, terminal_index),
            15..=16 if !sales.is_empty() => {
                let sale = &sales[rng.random_range(0..sales.len())];
                TerminalCommand::Void {
                    operation,
                    original: sale.operation,
                }
            }
            17 => TerminalCommand::CloseBatch { operation },
            18 if index > 0 => {
                steps.push(bank_command(rng, at_ms));
                continue;
            }
            _ => {
                let (card, currency) = pick_card(rng);
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

fn money(minor: u64, currency: Currency) -> Money {
    Money::new(minor, currency).expect("generated amounts fit twelve digits")
}

fn refund(rng: &mut ChaCha8Rng, sales: &[Sale], operation: OperationId, _terminal: usize) -> TerminalCommand {
    let sale = &sales[rng.random_range(0..sales.len())];
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

fn bank_command(rng: &mut ChaCha8Rng, at_ms: u64) -> Step {
    let merchant = crate::wire::types::MerchantId::new("MERCHANT0000001").expect("built-in merchant");
    use crate::node::bank::MerchantState;
    let command = match rng.random_range(0..4) {
        0 => BankCommand::SetMerchantState {
            merchant,
            state: MerchantState::Frozen,
        },
        1 => BankCommand::SetMerchantState {
            merchant,
            state: MerchantState::Active,
        },
        2 => BankCommand::BeginMaintenance,
        _ => BankCommand::EndMaintenance,
    };
    Step {
        at_ms,
        item: WorkItem::Bank {
            bank: BankId("bank-a".into()),
            command,
        },
    }
}

fn links(topology: &Topology) -> Vec<String> {
    let mut links: Vec<String> = topology
        .terminals
        .iter()
        .map(|t| t.terminal.to_string())
        .collect();
    links.extend(topology.banks.iter().map(|bank| bank.id.0.clone()));
    links
}

fn hosts(topology: &Topology) -> Vec<String> {
    let mut hosts = links(topology);
    hosts.push(crate::sim::world::SWITCH_HOST.to_string());
    hosts
}

fn random_message_faults(rng: &mut ChaCha8Rng) -> RandomMessageFaults {
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

fn scripted_rule(rng: &mut ChaCha8Rng) -> MessageRule {
    let mtis = [200, 210, 420, 430, 500, 510, 320, 330];
    let action = match rng.random_range(0..4) {
        0 => MessageAction::Drop,
        1 => MessageAction::Duplicate {
            copies: rng.random_range(1..=3),
        },
        2 => MessageAction::Delay {
            delay_ms: rng.random_range(100..=6_000),
        },
        _ => MessageAction::Corrupt { offset: None },
    };
    MessageRule {
        matching: MessageMatch {
            direction: Some(if rng.random_bool(0.5) {
                Direction::Request
            } else {
                Direction::Response
            }),
            mti: Some(mtis[rng.random_range(0..mtis.len())]),
            nth: Some(rng.random_range(1..=3)),
            ..MessageMatch::default()
        },
        action,
        from_ms: None,
        until_ms: None,
    }
}

fn hostile_injections(rng: &mut ChaCha8Rng, fault_phase_ms: u64) -> Vec<TimedInjection> {
    let mut injections: Vec<TimedInjection> = (0..rng.random_range(1..=3))
        .map(|_| {
            let nth = rng.random_range(1..=4);
            let injection = match rng.random_range(0..3) {
                0 => Injection::Replay { nth },
                1 => Injection::TamperAmount { nth },
                _ => Injection::Forge { nth },
            };
            TimedInjection {
                at_ms: rng.random_range(0..fault_phase_ms),
                injection,
            }
        })
        .collect();
    injections.sort_by_key(|timed| timed.at_ms);
    injections
}

fn fault_plan(rng: &mut ChaCha8Rng, topology: &Topology, fault_phase_ms: u64) -> FaultPlan {
    let swarm = draw_swarm(rng);
    let mut faults = FaultPlan::default();
    for link in links(topology) {
        let mut link_faults = LinkFaults::default();
        if swarm.random_messages && rng.random_bool(0.7) {
            link_faults.random = random_message_faults(rng);
        }
        if swarm.scripted_messages {
            link_faults.rules = (0..rng.random_range(0..=3)).map(|_| scripted_rule(rng)).collect();
        }
        if swarm.hostile && rng.random_bool(0.5) {
            link_faults.injections = hostile_injections(rng, fault_phase_ms);
        }
        faults.links.insert(link, link_faults);
    }
    let hosts = hosts(topology);
    if swarm.crash_points {
        let points = all_crash_points();
        for _ in 0..rng.random_range(1..=3) {
            let (kind, point) = points[rng.random_range(0..points.len())];
            let host = match kind {
                "terminal" => topology.terminals[rng.random_range(0..topology.terminals.len())]
                    .terminal
                    .to_string(),
                "switch" => crate::sim::world::SWITCH_HOST.to_string(),
                _ => topology.banks[0].id.0.clone(),
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
        let links = links(topology);
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
pub fn generate(seed: u64, bugs: &Bugs) -> WorldPlan {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut topology = Topology::standard();
    topology.set_bugs(bugs);
    let fault_phase_ms = rng.random_range(5_000..=20_000);
    let workload = workload(&mut rng, &topology, fault_phase_ms);
    let faults = fault_plan(&mut rng, &topology, fault_phase_ms);
    let timing = Timing {
        fault_phase_ms,
        quiet_ms: 15_000,
        limit_ms: 600_000,
        ..Timing::default()
    };
    let mut plan = WorldPlan::new(seed, topology, workload, faults, timing);
    plan.keep_events = false;
    plan
}
