//! The bank: issuer and acquirer in one, as a sans-IO state machine.
//!
//! It owns the cardholder and merchant accounts, the double-entry
//! [`ledger`], the table of stored responses keyed by transaction key, the
//! reversal tombstones and the settled batches. Every request it processes
//! becomes one journal record ([`BankRecord`]) holding the decision, its
//! postings and the stored answer; the record is synced before the answer
//! leaves. [`Bank::apply`] applies a record, live and at boot alike, so
//! recovery cannot drift from live behaviour.
//!
//! The contract is docs/nodes.md, section "Bank"; the checks run in the
//! order listed there.
//!
//! - [`accounts`]: configuration, account states, operator commands.
//! - [`ledger`]: accounts, postings, balances.
//! - [`records`]: the journal records.
//! - `state` and `decide`: applying records and deciding requests.
//!
//! Choices beyond the contract: 91 (maintenance) applies to every financial
//! request, checked just before the balance checks; a refund or void must
//! name a sale of the same card and merchant (else 12); a DE14 other than
//! the card's is answered 54; a sale reversal gives back what is still live
//! of the sale (a voided sale nothing more, a partly refunded one the rest,
//! with the merchant reimbursed for the refunds if the sale was never paid
//! out); a settlement whose totals disagree (95) is journalled but leaves
//! the batch open, so a later repeat is compared again.

pub mod accounts;
mod decide;
pub mod ledger;
pub mod records;
mod state;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cover::{hit, Mark};
use crate::node::{Bug, CrashPoint, Effect, Millis, Peer, StateMachine};
use crate::wire::message::{Message, Mti};
use crate::wire::typed::{
    BatchClose, BatchUploadResponse, FinancialRequest, NetworkRequest, NetworkResponse, ReversalAdvice,
};
use crate::wire::types::{ApprovalCode, BatchNumber, ResponseCode, TerminalId, TransactionKey};
use crate::wire::{decode, sign, verify, MacError, WireMessage};

pub use accounts::{BankCommand, BankConfig, CardState, CardholderAccount, MerchantAccount, MerchantState};
pub use ledger::{AccountId, Ledger, Posting, PostingKind};
pub use records::{BankRecord, ReversalOutcome, SettlementOutcome};
pub use state::{DailyUsage, SettledBatch, SettlementStage, Transaction};

use state::BankState;

/// Every crash point the bank passes.
pub const CRASH_POINTS: &[&str] = &[
    "bank.post.before_sync",
    "bank.post.after_sync_before_reply",
    "bank.reversal.before_sync",
    "bank.reversal.after_sync_before_reply",
    "bank.settle.before_sync",
    "bank.settle.after_sync_before_reply",
];

/// With the planted bug `RefundBoundRace`: how long after its check a
/// refund's posting is applied, in milliseconds.
pub const DEFERRED_REFUND_POSTING_MS: u64 = 500;

/// The bank's timers. Only the planted bug `RefundBoundRace` uses one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BankTimer {
    /// Apply the deferred posting of this refund.
    PostDeferredRefund(TransactionKey),
}

/// The effects the bank emits.
pub type BankEffect = Effect<BankRecord, BankTimer>;

/// Which step a durable reply belongs to (names its crash points).
#[derive(Debug, Clone, Copy)]
enum Step {
    Post,
    Reversal,
    Settle,
}

impl Step {
    fn before_sync(self) -> CrashPoint {
        CrashPoint(match self {
            Step::Post => CRASH_POINTS[0],
            Step::Reversal => CRASH_POINTS[2],
            Step::Settle => CRASH_POINTS[4],
        })
    }

    fn after_sync_before_reply(self) -> CrashPoint {
        CrashPoint(match self {
            Step::Post => CRASH_POINTS[1],
            Step::Reversal => CRASH_POINTS[3],
            Step::Settle => CRASH_POINTS[5],
        })
    }
}

/// The bank node.
#[derive(Debug, Clone)]
pub struct Bank {
    config: BankConfig,
    state: BankState,
}

/// A six-character approval code derived from the key (FNV-1a of its text).
pub fn approval_code(key: &TransactionKey) -> ApprovalCode {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let text: String = (0..6)
        .map(|index| char::from(ALPHABET[((hash >> (index * 6)) % 36) as usize]))
        .collect();
    ApprovalCode::new(&text).expect("six alphanumerics")
}

impl Bank {
    /// The configuration.
    pub fn config(&self) -> &BankConfig {
        &self.config
    }

    /// Balances and the full posting log.
    pub fn ledger(&self) -> &Ledger {
        &self.state.ledger
    }

    /// Every financial request answered, by key, with its stored response.
    pub fn transactions(&self) -> &BTreeMap<TransactionKey, Transaction> {
        &self.state.transactions
    }

    /// Keys reversed before their original arrived.
    pub fn tombstones(&self) -> impl Iterator<Item = &TransactionKey> + '_ {
        self.state.tombstones.iter()
    }

    /// Settled batches by (terminal, batch), with their stored 0510.
    pub fn settlements(&self) -> &BTreeMap<(TerminalId, BatchNumber), SettledBatch> {
        &self.state.settlements
    }

    /// The current state of a card, if the bank knows it.
    pub fn card_state(&self, pan: &crate::wire::types::Pan) -> Option<CardState> {
        self.state.cards.get(pan).map(|card| card.state)
    }

    /// The current state of a merchant, if the bank knows it.
    pub fn merchant_state(&self, merchant: &crate::wire::types::MerchantId) -> Option<MerchantState> {
        self.state.merchants.get(merchant).map(|account| account.state)
    }

    /// Whether the bank is in maintenance at `now`.
    pub fn is_in_maintenance(&self, now: Millis) -> bool {
        self.in_maintenance(now)
    }

    /// Encode and sign a message for the switch.
    fn send(&self, message: &WireMessage) -> BankEffect {
        let mut raw = message.to_message();
        let bytes = sign(&mut raw, &self.config.link_key).expect("typed messages encode");
        Effect::Send {
            to: Peer::Switch,
            bytes,
        }
    }

    /// Apply `record`, then journal it and reply: Append, Sync, crash
    /// point, Send (the planted bug `BankReplyBeforeSync` sends first).
    fn commit(&mut self, record: BankRecord, step: Step, reply: &WireMessage) -> Vec<BankEffect> {
        self.apply(&record);
        let send = self.send(reply);
        if self.config.bugs.has(Bug::BankReplyBeforeSync) {
            return vec![
                Effect::Append(record),
                send,
                Effect::CrashPoint(step.before_sync()),
                Effect::Sync,
            ];
        }
        vec![
            Effect::Append(record),
            Effect::CrashPoint(step.before_sync()),
            Effect::Sync,
            Effect::CrashPoint(step.after_sync_before_reply()),
            send,
        ]
    }

    fn on_financial(&mut self, now: Millis, request: FinancialRequest) -> Vec<BankEffect> {
        let key = request.trace.key();
        if let Some(stored) = self.state.transactions.get(&key) {
            if !self.config.bugs.has(Bug::BankNotIdempotent) {
                hit(Mark::BankRepeatStored);
                return vec![self.send(&WireMessage::FinancialResponse(stored.response.clone()))];
            }
        }
        let processed = self.decide_financial(now, &request);
        let reply = WireMessage::FinancialResponse(processed.response.clone());
        let deferred = processed.deferred.is_some();
        let mut effects = self.commit(BankRecord::Processed(processed), Step::Post, &reply);
        if deferred {
            let timer = BankTimer::PostDeferredRefund(key);
            effects.push(Effect::SetTimer {
                timer,
                at: now.plus(DEFERRED_REFUND_POSTING_MS),
            });
        }
        effects
    }

    fn on_reversal(&mut self, advice: ReversalAdvice) -> Vec<BankEffect> {
        match self.decide_reversal(&advice) {
            Some(reversed) => {
                let reply = WireMessage::ReversalResponse(reversed.response.clone());
                self.commit(BankRecord::Reversed(reversed), Step::Reversal, &reply)
            }
            None => vec![self.send(&WireMessage::ReversalResponse(self.reversal_response(&advice)))],
        }
    }

    fn on_settlement(&mut self, close: BatchClose) -> Vec<BankEffect> {
        let batch_id = (close.trace.terminal.clone(), close.batch);
        if let Some(settled) = self.state.settlements.get(&batch_id) {
            if !self.config.bugs.has(Bug::BatchSettledTwice) {
                hit(Mark::BankSettlementRepeat);
                return vec![self.send(&WireMessage::BatchCloseResponse(settled.response.clone()))];
            }
        }
        let settled = self.decide_settlement(&close);
        let reply = WireMessage::BatchCloseResponse(settled.response.clone());
        self.commit(BankRecord::Settled(settled), Step::Settle, &reply)
    }

    fn on_echo(&self, request: NetworkRequest) -> Vec<BankEffect> {
        let response = if request.code == 301 {
            ResponseCode::Approved
        } else {
            ResponseCode::InvalidTransaction
        };
        let reply = NetworkResponse {
            code: request.code,
            stan: request.stan,
            transmitted: request.transmitted,
            response,
        };
        vec![self.send(&WireMessage::NetworkResponse(reply))]
    }

    /// Answer a message that cannot be processed (bad MAC, bad format) with
    /// its response MTI and `code`, echoing the fields present; nothing if
    /// its MTI has no response.
    fn refuse(&self, message: &Message, code: ResponseCode) -> Vec<BankEffect> {
        const ECHOED: &[u8] = &[3, 4, 7, 11, 12, 13, 37, 41, 49, 60, 70, 71];
        let response_mti = match message.mti.value() {
            200 | 201 => 210,
            420 | 421 => 430,
            500 | 501 => 510,
            320 => 330,
            800 => 810,
            _ => return Vec::new(),
        };
        let mut reply = Message::new(Mti::from_value(response_mti).expect("four digits"));
        for field in ECHOED {
            if let Some(value) = message.get(*field) {
                reply.set(*field, value.to_vec());
            }
        }
        reply.set_text(39, code.to_wire());
        match sign(&mut reply, &self.config.link_key) {
            Ok(bytes) => vec![Effect::Send {
                to: Peer::Switch,
                bytes,
            }],
            Err(_) => Vec::new(),
        }
    }
}

impl StateMachine for Bank {
    type Config = BankConfig;
    type Record = BankRecord;
    type Timer = BankTimer;
    type Command = BankCommand;

    fn boot(config: BankConfig, journal: Vec<BankRecord>) -> Bank {
        if !journal.is_empty() {
            hit(Mark::BankRecovered);
        }
        let state = BankState::opening(&config);
        let mut bank = Bank { config, state };
        for record in &journal {
            bank.apply(record);
        }
        bank
    }

    fn start(&mut self, now: Millis) -> Vec<BankEffect> {
        self.state
            .deferred
            .keys()
            .map(|key| Effect::SetTimer {
                timer: BankTimer::PostDeferredRefund(key.clone()),
                at: now.plus(DEFERRED_REFUND_POSTING_MS),
            })
            .collect()
    }

    fn on_message(&mut self, now: Millis, _from: &Peer, bytes: &[u8]) -> Vec<BankEffect> {
        let message = match verify(bytes, &self.config.link_key) {
            Ok(message) => message,
            Err(MacError::Decode(_)) => return Vec::new(),
            Err(_) => match decode(bytes) {
                Ok(message) => {
                    hit(Mark::BankRefusedSecurity63);
                    return self.refuse(&message, ResponseCode::SecurityViolation);
                }
                Err(_) => return Vec::new(),
            },
        };
        let typed = match WireMessage::from_message(&message) {
            Ok(typed) => typed,
            Err(error) => {
                hit(Mark::BankRefusedMalformed);
                return self.refuse(&message, error.response_code());
            }
        };
        match typed {
            WireMessage::FinancialRequest(request) => self.on_financial(now, request),
            WireMessage::ReversalAdvice(advice) => self.on_reversal(advice),
            WireMessage::BatchClose(close) => self.on_settlement(close),
            WireMessage::NetworkRequest(request) => self.on_echo(request),
            WireMessage::BatchUpload(upload) => {
                // Batch uploads end at the switch; the bank does not take them.
                let reply = BatchUploadResponse {
                    trace: upload.trace,
                    batch: upload.batch,
                    item: upload.item,
                    response: ResponseCode::InvalidTransaction,
                };
                vec![self.send(&WireMessage::BatchUploadResponse(reply))]
            }
            // Answers nobody asked for: the bank sends no requests.
            _ => Vec::new(),
        }
    }

    fn on_timer(&mut self, _now: Millis, timer: BankTimer) -> Vec<BankEffect> {
        let BankTimer::PostDeferredRefund(key) = timer;
        let Some(posting) = self.state.deferred.get(&key).cloned() else {
            return Vec::new();
        };
        let record = BankRecord::DeferredPosted { key, posting };
        self.apply(&record);
        vec![Effect::Append(record), Effect::Sync]
    }

    fn on_command(&mut self, now: Millis, command: BankCommand) -> Vec<BankEffect> {
        let payouts = match &command {
            BankCommand::SetMerchantState {
                merchant,
                state: MerchantState::Active,
            } => self.held_payouts(merchant),
            _ => Vec::new(),
        };
        hit(Mark::BankCommandApplied);
        let record = BankRecord::Commanded(records::Commanded {
            at: now,
            command,
            payouts,
        });
        self.apply(&record);
        vec![Effect::Append(record), Effect::Sync]
    }
}
