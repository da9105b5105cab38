//! The evidence a run leaves, as plain data: what the workload asked, what
//! each terminal showed the customer, every bank's ledger and posting log,
//! the messages that crossed the network, and the work left unfinished.
//!
//! The simulation and live mode fill it in; the checker reads nothing else,
//! so one checker judges both, and no node can talk it into a pass.
//!
//! The history speaks its own vocabulary: operations, displays, parties,
//! answers, postings and bank setups are its own plain data types, built
//! only on the wire's value types (card numbers, money, keys, codes). It
//! never names a node type, so what a node gets wrong cannot leak into the
//! words the checker judges it by. `sim::evidence` turns node state into
//! these types; [`bank`] holds the banks' side: ledgers, setups, commands.

mod bank;
mod request;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use bank::{
    Account, BankId, BankSetup, CardSetup, CardState, EffectType, Entry, Epoch, HeldPayout, Ledger,
    MerchantSetup, MerchantState, OperatorAction, OperatorCommand, Posting,
};
pub use request::{Asked, CloseAsked, FinancialAsked, RequestSeen, ReversalAsked};

use crate::wire::types::{
    ApprovalCode, Money, Pan, ProcessingCode, ResponseCode, Rrn, TerminalId, TransactionKey,
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
    /// Authentic requests as the switch and the banks received them, in
    /// order of arrival.
    #[serde(default)]
    pub requests: Vec<RequestSeen>,
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
    /// When each host crashed (it lost what it had not made durable), in
    /// order.
    #[serde(default)]
    pub crashes: Vec<CrashSeen>,
}

/// A host that crashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashSeen {
    /// Simulated milliseconds.
    pub at_ms: u64,
    /// Which host.
    pub host: Party,
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

/// Identifies one operation of the workload (what a customer or clerk
/// did), so that what a terminal showed can be matched to what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OperationId(pub u32);

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op{}", self.0)
    }
}

/// What kind of operation a display is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    /// A financial transaction (sale, refund, void, balance).
    Financial(ProcessingCode),
    /// Closing the terminal's batch.
    BatchClose,
}

/// The result a terminal showed the customer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Approved, with the approval code (and the balance of an inquiry).
    Approved {
        /// DE38.
        approval: ApprovalCode,
        /// DE54 of a balance inquiry.
        balance: Option<Money>,
    },
    /// Declined with this code.
    Declined {
        /// DE39.
        code: ResponseCode,
    },
    /// No usable answer: the terminal shows "failed, reversed".
    FailedReversed {
        /// Why: 68 for a timeout, or the code received.
        reason: ResponseCode,
    },
    /// Refused by the terminal without asking the host.
    Refused {
        /// Why, in words.
        reason: String,
    },
    /// A batch close finished with the host's totals agreeing.
    BatchClosed {
        /// Items uploaded after a 95; 0 when the totals agreed at once.
        uploaded: u32,
    },
}

/// One thing a terminal showed on its screen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shown {
    /// The terminal.
    pub terminal: TerminalId,
    /// The workload operation it answers.
    pub operation: OperationId,
    /// What kind of operation.
    pub kind: OperationKind,
    /// The transaction key, once one was assigned.
    pub key: Option<TransactionKey>,
    /// The RRN, once one was assigned.
    pub rrn: Option<Rrn>,
    /// The amount asked for.
    pub amount: Option<Money>,
    /// The result.
    pub outcome: Outcome,
}

/// A terminal display with its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownAt {
    /// Simulated milliseconds.
    pub at_ms: u64,
    /// What was shown.
    pub shown: Shown,
}

/// A party that sends or receives messages: a terminal, the switch or a
/// bank.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Party {
    /// A POS terminal.
    Terminal(TerminalId),
    /// The payment switch.
    Switch,
    /// A bank.
    Bank(BankId),
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Party::Terminal(id) => write!(f, "terminal {id}"),
            Party::Switch => f.write_str("switch"),
            Party::Bank(id) => write!(f, "bank {id}"),
        }
    }
}

/// A financial answer as it arrived somewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerSeen {
    /// Simulated milliseconds.
    pub at_ms: u64,
    /// Who received it.
    pub receiver: Party,
    /// Who sent it.
    pub sender: Party,
    /// MTI: 210, 430 or 510.
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
