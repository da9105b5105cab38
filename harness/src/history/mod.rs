//! The evidence a run leaves, as plain data: what the workload asked, what
//! each terminal showed the customer, every bank's ledger and posting log,
//! the messages that crossed the network, and the work left unfinished.
//!
//! The simulation and live mode fill it in; the checker reads nothing else,
//! so one checker judges both, and no node can talk it into a pass.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::node::bank::{BankCommand, CardholderAccount, MerchantAccount};
use crate::node::{BankId, Calendar, OperationId, Peer, Shown};
use crate::wire::types::{
    ApprovalCode, BatchNumber, Currency, MerchantId, Money, Pan, ProcessingCode, ResponseCode, TerminalId,
    TransactionKey,
};

/// Everything the checker may look at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// What the workload asked the terminals to do.
    pub operations: Vec<Operation>,
    /// What the terminals showed, in order.
    pub shown: Vec<ShownAt>,
    /// Each bank's ledger.
    pub ledgers: Vec<Ledger>,
    /// Financial answers delivered to terminals and banks' answers delivered
    /// to the switch.
    pub answers: Vec<AnswerSeen>,
    /// Work still pending when the run ended (queues, unanswered requests,
    /// open batches).
    pub open_work: Vec<OpenWork>,
    /// Whether the run went quiet after healing.
    pub quiescent: bool,
    /// Each bank's rules as configured before the run: its accounts with
    /// their states, expiries and limits, and its maintenance windows.
    #[serde(default)]
    pub banks: Vec<BankSetup>,
    /// Operator commands the banks carried out, in each bank's order.
    #[serde(default)]
    pub commands: Vec<OperatorCommand>,
    /// The batch closes asked after healing (end of day), when the network
    /// and every host were up again.
    #[serde(default)]
    pub closes_after_healing: Vec<OperationId>,
}

/// A bank's accounts and rules before the run (operator commands change
/// states later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankSetup {
    /// Which bank.
    pub bank: BankId,
    /// Where the bank's clock epoch sits on the calendar (expiry, days).
    pub calendar: Calendar,
    /// Card accounts as opened.
    pub cards: Vec<CardholderAccount>,
    /// Merchant accounts as opened.
    pub merchants: Vec<MerchantAccount>,
    /// Maintenance windows `[start, end)` on the bank's clock, ms.
    pub maintenance: Vec<(u64, u64)>,
}

/// An operator command as the bank journalled it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorCommand {
    /// Which bank.
    pub bank: BankId,
    /// The bank's clock when it took effect, ms.
    pub at_ms: u64,
    /// How many of the bank's postings precede it: it applies to postings
    /// from this sequence number on.
    pub after_postings: u64,
    /// The command.
    pub command: BankCommand,
}

/// One operation of the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Its identity.
    pub id: OperationId,
    /// The terminal that was asked.
    pub terminal: TerminalId,
    /// Simulated time it was asked.
    pub at_ms: u64,
    /// What was asked.
    pub request: Request,
}

/// What a customer or clerk asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// A sale.
    Sale {
        /// The card.
        pan: Pan,
        /// The amount.
        amount: Money,
    },
    /// A refund of an earlier sale.
    Refund {
        /// The sale's operation.
        original: OperationId,
        /// The amount.
        amount: Money,
    },
    /// A void of an earlier sale.
    Void {
        /// The sale's operation.
        original: OperationId,
    },
    /// A balance inquiry.
    Balance {
        /// The card.
        pan: Pan,
    },
    /// Closing the terminal's batch.
    CloseBatch,
}

/// A terminal display with its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownAt {
    /// Simulated milliseconds.
    pub at_ms: u64,
    /// What was shown.
    pub shown: Shown,
}

/// An account in a bank's ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Account {
    /// A cardholder's card account.
    Cardholder(Pan),
    /// A merchant's settlement account.
    Merchant(MerchantId),
    /// The bank's clearing account: owed to merchants until settlement.
    Clearing(Currency),
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Cardholder(pan) => write!(f, "card {}", pan.masked()),
            Account::Merchant(merchant) => write!(f, "merchant {merchant}"),
            Account::Clearing(currency) => write!(f, "clearing {currency}"),
        }
    }
}

/// What a posting does, for "at most one effect per key and type".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EffectType {
    /// Cardholder debited, clearing credited.
    Sale,
    /// Merchant debited, cardholder credited.
    Refund,
    /// A sale undone before settlement.
    Void,
    /// An earlier posting of the same key undone.
    Reversal,
    /// Clearing paid out to the merchant for a batch.
    Settlement,
}

/// One leg of a posting: a signed amount on an account (credit positive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The account.
    pub account: Account,
    /// Signed minor units: positive adds to the balance.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

/// One posting in a bank's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// Position in the log, from 0.
    pub sequence: u64,
    /// The transaction whose effect this is (for a reversal: the key of the
    /// original; for a settlement: none).
    pub key: Option<TransactionKey>,
    /// What it does.
    pub effect: EffectType,
    /// For refunds and voids: the sale they act on.
    pub original: Option<TransactionKey>,
    /// For settlements: the terminal batch and the sales it pays.
    pub batch: Option<(TerminalId, BatchNumber)>,
    /// Sales paid by a settlement.
    pub settled: Vec<TransactionKey>,
    /// For sales, refunds and voids: the bank's clock when it decided, ms.
    #[serde(default)]
    pub at_ms: Option<u64>,
    /// The legs.
    pub entries: Vec<Entry>,
}

/// A bank's ledger: opening and closing balances and every posting between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Which bank.
    pub bank: BankId,
    /// Balances before the run.
    pub opening: BTreeMap<Account, (i64, Currency)>,
    /// Balances after the run.
    pub closing: BTreeMap<Account, (i64, Currency)>,
    /// Every posting, in order.
    pub postings: Vec<Posting>,
    /// Settlements accepted but held (merchant frozen): the money stays in
    /// clearing until the merchant is unfrozen.
    pub held: Vec<HeldPayout>,
}

/// A batch payout the bank holds back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldPayout {
    /// The terminal batch.
    pub batch: (TerminalId, BatchNumber),
    /// The sales it will pay.
    pub items: Vec<TransactionKey>,
}

/// A financial answer as it arrived somewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerSeen {
    /// Simulated milliseconds.
    pub at_ms: u64,
    /// Who received it.
    pub receiver: Peer,
    /// Who sent it.
    pub sender: Peer,
    /// MTI, e.g. 210 or 430.
    pub mti: u16,
    /// DE3 of a 0210 (what was answered).
    #[serde(default)]
    pub processing: Option<ProcessingCode>,
    /// The transaction key.
    pub key: TransactionKey,
    /// DE39.
    pub response: ResponseCode,
    /// DE38.
    pub approval: Option<ApprovalCode>,
}

/// Something unfinished when the run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWork {
    /// Where.
    pub host: String,
    /// What, in words.
    pub what: String,
    /// The transaction concerned, if any.
    pub key: Option<TransactionKey>,
}
