//! Sale lives: after a sale, a random sequence of follow-ups on that sale,
//! its card and its merchant, added on top of a seed's independent
//! operations.
//!
//! The independent operations meet faults one at a time; a life builds the
//! combinations they rarely do: partial refunds down to the remainder and
//! one past it, a void after a refund or a close, the same card at another
//! terminal of the same merchant, a follow-up sent while the sale is still
//! in flight, operator commands on the card or the merchant between two
//! steps, a batch that mixes all of it. Amounts sit at, one below and one
//! above each bound the life knows (what is left of the sale, the refund
//! cap, what is left of the daily refund limit, the card's balance and
//! limits). Some lives start with a card the bank never issued or whose
//! BIN no bank serves, and some seeds give the merchants refund windows,
//! caps and daily limits of their own.
//!
//! Everything here is drawn from a stream of its own (the seed with a
//! salt), and only some seeds get lives at all: a seed without lives is
//! exactly the run it was before lives existed, so exploration's other
//! draws and those seeds' trace hashes stay as they were.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::generate::{likely_approved, money, pick_card, pick_minor};
use super::shrink::number_by_place;
use crate::node::bank::{BankCommand, CardState, MerchantState};
use crate::node::terminal::{Card, TerminalCommand};
use crate::node::OperationId;
use crate::plan::topology::Topology;
use crate::plan::{Step, WorkItem};
use crate::wire::types::{Amount, Currency, Expiry, MerchantId, Pan};

/// Salt of the stream lives are drawn from.
const LIFE_STREAM: u64 = 0x11FE_5A1E;

/// The share of seeds that get lives.
const LIVES_PER_SEED: f64 = 0.4;

/// Cards nobody can pay with: one of the bank's BIN it never issued, one
/// of a BIN no bank serves.
const STRANGER_CARDS: [&str; 2] = ["4111119999999999", "5500000000000004"];

/// The seed's workload with lives added (and the merchants' refund rules
/// drawn), or `workload` unchanged for a seed without lives.
pub(super) fn add_lives(
    seed: u64,
    topology: &mut Topology,
    workload: Vec<Step>,
    fault_phase_ms: u64,
) -> Vec<Step> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ LIFE_STREAM);
    if !rng.random_bool(LIVES_PER_SEED) {
        return workload;
    }
    merchant_rules(&mut rng, topology);
    let mut drafts = Drafts {
        steps: workload.into_iter().enumerate().collect(),
        next_id: FIRST_LIFE_ID,
    };
    for _ in 0..rng.random_range(1..=3) {
        Life::start(&mut rng, topology, &mut drafts, fault_phase_ms).run(&mut rng, topology, &mut drafts);
    }
    drafts.steps.sort_by_key(|(order, step)| (step.at_ms, *order));
    number_by_place(drafts.steps.iter().map(|(_, step)| step).collect())
}

/// Operation ids of steps a life adds, until they are numbered by place:
/// far above any id of the independent workload.
const FIRST_LIFE_ID: u32 = 1_000_000;

/// The workload being built: each step with its place of creation (the
/// tie-break between steps at the same moment, so a follow-up at the
/// moment of its sale comes after it).
struct Drafts {
    steps: Vec<(usize, Step)>,
    next_id: u32,
}

impl Drafts {
    fn push(&mut self, at_ms: u64, item: WorkItem) {
        let order = self.steps.len();
        self.steps.push((order, Step { at_ms, item }));
    }

    fn next_operation(&mut self) -> OperationId {
        self.next_id += 1;
        OperationId(self.next_id)
    }
}

/// Refund windows, caps and daily refund limits drawn for the bank's
/// merchants, and now and then one blacklisted from the start.
fn merchant_rules(rng: &mut dyn RngCore, topology: &mut Topology) {
    for merchant in &mut topology.banks[0].merchants {
        if rng.random_bool(0.3) {
            merchant.refund_window_ms = Some(rng.random_range(1..=30) * 200);
        }
        if rng.random_bool(0.3) {
            merchant.daily_refund_limit = Some(Amount::new(rng.random_range(1..=15) * 10_00).expect("fits"));
        }
        if rng.random_bool(0.2) {
            merchant.refund_cap = Some(Amount::new(rng.random_range(1..=10) * 5_00).expect("fits"));
        }
        if rng.random_bool(0.04) {
            merchant.state = MerchantState::Blacklisted;
        }
    }
}

/// One sale's life as it is built: what the generator knows of its sale.
struct Life {
    sale: OperationId,
    terminal: usize,
    card: Card,
    /// Whether the bank issued the card.
    known_card: bool,
    minor: u64,
    currency: Currency,
    /// The sum of the refunds the life has asked for so far.
    refunded: u64,
    at_ms: u64,
    fault_phase_ms: u64,
}

impl Life {
    /// A life starts from a sale of the independent workload the bank will
    /// likely approve, or from a sale of its own.
    fn start(rng: &mut dyn RngCore, topology: &Topology, drafts: &mut Drafts, fault_phase_ms: u64) -> Life {
        let existing: Vec<Life> = drafts
            .steps
            .iter()
            .filter_map(|(_, step)| match &step.item {
                WorkItem::Terminal {
                    terminal,
                    command:
                        TerminalCommand::Sale {
                            operation,
                            card,
                            amount,
                        },
                } => {
                    let index = topology.terminals.iter().position(|t| &t.terminal == terminal)?;
                    likely_approved(
                        topology,
                        index,
                        card,
                        amount.amount.minor_units(),
                        amount.currency,
                    )
                    .then(|| Life {
                        sale: *operation,
                        terminal: index,
                        card: card.clone(),
                        known_card: true,
                        minor: amount.amount.minor_units(),
                        currency: amount.currency,
                        refunded: 0,
                        at_ms: step.at_ms,
                        fault_phase_ms,
                    })
                }
                _ => None,
            })
            .collect();
        if !existing.is_empty() && rng.random_bool(0.5) {
            let index = rng.random_range(0..existing.len());
            return existing.into_iter().nth(index).expect("in range");
        }
        let terminal = rng.random_range(0..topology.terminals.len());
        let (card, currency, known_card) = if rng.random_bool(0.12) {
            let pan = STRANGER_CARDS[rng.random_range(0..STRANGER_CARDS.len())];
            let card = Card {
                pan: Pan::new(pan).expect("a valid card number"),
                expiry: Expiry { year: 28, month: 12 },
            };
            (card, topology.terminals[terminal].currency, false)
        } else {
            let (card, currency) = pick_card(rng, topology);
            (card, currency, true)
        };
        let minor = if known_card {
            amount_at_a_card_bound(rng, topology, &card.pan)
        } else {
            pick_minor(rng)
        };
        let at_ms = rng.random_range(50..=fault_phase_ms.saturating_sub(1).max(50));
        let sale = drafts.next_operation();
        drafts.push(
            at_ms,
            WorkItem::Terminal {
                terminal: topology.terminals[terminal].terminal.clone(),
                command: TerminalCommand::Sale {
                    operation: sale,
                    card: card.clone(),
                    amount: money(minor, currency),
                },
            },
        );
        Life {
            sale,
            terminal,
            card,
            known_card,
            minor,
            currency,
            refunded: 0,
            at_ms,
            fault_phase_ms,
        }
    }

    /// One to four follow-ups, each at the same moment as the step before,
    /// while it is in flight, just after its answer, or later.
    fn run(mut self, rng: &mut dyn RngCore, topology: &Topology, drafts: &mut Drafts) {
        for _ in 0..rng.random_range(1..=4) {
            let delay = match rng.random_range(0..8) {
                0 => 0,
                1..=2 => rng.random_range(1..=30),
                3..=5 => rng.random_range(100..=1_500),
                _ => rng.random_range(1_500..=8_000),
            };
            self.at_ms = (self.at_ms + delay).min(self.fault_phase_ms.saturating_sub(1).max(50));
            self.follow_up(rng, topology, drafts);
        }
    }

    fn follow_up(&mut self, rng: &mut dyn RngCore, topology: &Topology, drafts: &mut Drafts) {
        let own = topology.terminals[self.terminal].terminal.clone();
        let operation = drafts.next_operation();
        let command = match rng.random_range(0..12) {
            0..=4 => {
                let minor = self.refund_amount(rng, topology);
                self.refunded += minor;
                TerminalCommand::Refund {
                    operation,
                    original: self.sale,
                    amount: money(minor, self.currency),
                }
            }
            5..=6 => TerminalCommand::Void {
                operation,
                original: self.sale,
            },
            7 => {
                let terminal = self.colleague(rng, topology);
                return drafts.push(
                    self.at_ms,
                    WorkItem::Terminal {
                        terminal: topology.terminals[terminal].terminal.clone(),
                        command: TerminalCommand::CloseBatch { operation },
                    },
                );
            }
            8 => {
                let terminal = self.colleague(rng, topology);
                let minor = if self.known_card {
                    amount_at_a_card_bound(rng, topology, &self.card.pan)
                } else {
                    self.minor
                };
                return drafts.push(
                    self.at_ms,
                    WorkItem::Terminal {
                        terminal: topology.terminals[terminal].terminal.clone(),
                        command: TerminalCommand::Sale {
                            operation,
                            card: self.card.clone(),
                            amount: money(minor, self.currency),
                        },
                    },
                );
            }
            9 => TerminalCommand::Balance {
                operation,
                card: self.card.clone(),
                currency: self.currency,
            },
            _ => {
                let command = self.operator_command(rng, topology);
                return drafts.push(
                    self.at_ms,
                    WorkItem::Bank {
                        bank: topology.banks[0].id.clone(),
                        command,
                    },
                );
            }
        };
        drafts.push(
            self.at_ms,
            WorkItem::Terminal {
                terminal: own,
                command,
            },
        );
    }

    /// The sale's own terminal or, as often, another terminal of the same
    /// merchant when there is one.
    fn colleague(&self, rng: &mut dyn RngCore, topology: &Topology) -> usize {
        let merchant = &topology.terminals[self.terminal].merchant;
        let others: Vec<usize> = (0..topology.terminals.len())
            .filter(|&index| index != self.terminal && &topology.terminals[index].merchant == merchant)
            .collect();
        if others.is_empty() || rng.random_bool(0.5) {
            self.terminal
        } else {
            others[rng.random_range(0..others.len())]
        }
    }

    /// At, one below or one above a bound: what is left of the sale, the
    /// whole sale, the merchant's cap, what is left of its daily refund
    /// limit; or a small part.
    fn refund_amount(&self, rng: &mut dyn RngCore, topology: &Topology) -> u64 {
        let left = self.minor.saturating_sub(self.refunded);
        let merchant = &topology.terminals[self.terminal].merchant;
        let account = topology.banks[0].merchants.iter().find(|m| &m.id == merchant);
        let cap = account.and_then(|m| m.refund_cap).map(Amount::minor_units);
        let daily = account
            .and_then(|m| m.daily_refund_limit)
            .map(|limit| limit.minor_units().saturating_sub(self.refunded));
        let bound = match rng.random_range(0..6) {
            0 | 1 => left,
            2 => self.minor,
            3 => cap.unwrap_or(left),
            4 => daily.unwrap_or(left),
            _ => return rng.random_range(1..=left.max(1)),
        };
        around(rng, bound)
    }

    /// A command on the life's card (when the bank knows it) or on its
    /// merchant, and as often the command that undoes it.
    fn operator_command(&self, rng: &mut dyn RngCore, topology: &Topology) -> BankCommand {
        let merchant: MerchantId = topology.terminals[self.terminal].merchant.clone();
        if self.known_card && rng.random_bool(0.5) {
            let state = [CardState::Frozen, CardState::Blocked, CardState::Active][rng.random_range(0..3)];
            return BankCommand::SetCardState {
                pan: self.card.pan.clone(),
                state,
            };
        }
        let state = [
            MerchantState::Frozen,
            MerchantState::Blacklisted,
            MerchantState::Active,
            MerchantState::Active,
        ][rng.random_range(0..4)];
        BankCommand::SetMerchantState { merchant, state }
    }
}

/// `bound`, one below it or one above it.
fn around(rng: &mut dyn RngCore, bound: u64) -> u64 {
    match rng.random_range(0..3) {
        0 => bound.saturating_sub(1),
        1 => bound,
        _ => bound + 1,
    }
}

/// An amount at, one below or one above a bound of the card: its opening
/// balance, its single-sale limit, its daily limit.
fn amount_at_a_card_bound(rng: &mut dyn RngCore, topology: &Topology, pan: &Pan) -> u64 {
    let Some(account) = topology.banks[0].cardholders.iter().find(|card| &card.pan == pan) else {
        return pick_minor(rng);
    };
    let bounds: Vec<u64> = [
        Some(account.balance),
        account.transaction_limit,
        account.daily_limit,
    ]
    .into_iter()
    .flatten()
    .map(Amount::minor_units)
    .collect();
    if rng.random_bool(0.5) {
        return pick_minor(rng);
    }
    let bound = bounds[rng.random_range(0..bounds.len())];
    around(rng, bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::generate::generate;
    use crate::node::Bugs;

    /// Seeds with and without lives: a seed without keeps the workload the
    /// independent generator drew; with, every refund and void names a
    /// sale before it, operations are numbered by place, in time order.
    #[test]
    fn lives_are_added_in_time_order_and_numbered_by_place() {
        let mut with_lives = 0;
        for seed in 0..200 {
            let plan = generate(seed, &Bugs::none());
            let mut last_ms = 0;
            let mut sales = Vec::new();
            for (index, step) in plan.workload.iter().enumerate() {
                assert!(step.at_ms >= last_ms, "seed {seed}: out of time order");
                last_ms = step.at_ms;
                if let WorkItem::Terminal { command, .. } = &step.item {
                    assert_eq!(command.operation(), OperationId(index as u32 + 1), "seed {seed}");
                    match command {
                        TerminalCommand::Sale { operation, .. } => sales.push(*operation),
                        TerminalCommand::Refund { original, .. } | TerminalCommand::Void { original, .. } => {
                            assert!(sales.contains(original), "seed {seed}: names a later or no sale")
                        }
                        _ => {}
                    }
                }
            }
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ LIFE_STREAM);
            if rng.random_bool(LIVES_PER_SEED) {
                with_lives += 1;
            }
        }
        assert!(
            (50..=110).contains(&with_lives),
            "{with_lives} of 200 seeds have lives"
        );
    }
}
