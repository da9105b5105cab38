//! The system under test: POS terminal, payment switch and bank as sans-IO
//! state machines.
//!
//! A node never touches a socket, a disk or a clock. Every input (a message
//! from a peer, a timer firing, an operator command, the start after a boot)
//! comes in with `now`, and the node answers with a list of [`Effect`]s that a
//! driver executes in order: append a journal record, sync the journal, send
//! a message, set or cancel a timer, show a result to the customer, or pass a
//! named crash point. A node's state after a reboot is rebuilt from the
//! journal records that reached the disk, and nothing else
//! ([`StateMachine::boot`]).
//!
//! The same node code runs in the simulation and as a real server; the
//! driver decides what "send" and "sync" mean.

pub mod bank;
pub mod bug;
pub mod clock;
pub mod journal;
pub mod switch;
pub mod terminal;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::wire::types::{
    ApprovalCode, Money, ProcessingCode, ResponseCode, Rrn, TerminalId, TransactionKey,
};

pub use bug::{Bug, Bugs};
pub use clock::{Calendar, Millis};

/// The identity of a bank in the topology (e.g. `"bank-a"`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BankId(pub String);

impl fmt::Display for BankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A node a message comes from or goes to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Peer {
    /// A POS terminal.
    Terminal(TerminalId),
    /// The payment switch.
    Switch,
    /// A bank.
    Bank(BankId),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Terminal(id) => write!(f, "terminal {id}"),
            Peer::Switch => f.write_str("switch"),
            Peer::Bank(id) => write!(f, "bank {id}"),
        }
    }
}

/// A named place in node code where a host may be crashed on purpose, e.g.
/// `bank.post.after_sync_before_reply`. Each node lists its points in a
/// `CRASH_POINTS` constant so exploration can cover all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CrashPoint(pub &'static str);

/// What a node asks its driver to do. Executed strictly in order: an effect
/// after [`Effect::Sync`] happens only once the sync completed, so a crash
/// in between leaves exactly what was synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect<R, T> {
    /// Append a record to the node's journal (not durable until synced).
    Append(R),
    /// Make every appended record durable.
    Sync,
    /// Send an encoded, MAC-signed message (without frame header).
    Send {
        /// The receiver.
        to: Peer,
        /// The encoded message.
        bytes: Vec<u8>,
    },
    /// Fire `timer` at local time `at` (replaces an earlier setting).
    SetTimer {
        /// Which timer.
        timer: T,
        /// When, on the host's clock.
        at: Millis,
    },
    /// Forget a timer.
    CancelTimer(T),
    /// Show a result to the customer (terminals only).
    Show(Shown),
    /// The driver may crash the host here.
    CrashPoint(CrashPoint),
}

/// A sans-IO node: inputs in, effects out.
pub trait StateMachine: Sized {
    /// Static configuration (identity, keys, accounts, timeouts, bugs).
    type Config;
    /// What the node writes to its journal.
    type Record: Serialize + for<'de> Deserialize<'de> + Clone + fmt::Debug;
    /// The node's timers.
    type Timer: Clone + fmt::Debug + PartialEq + Eq + Ord;
    /// Operator commands the node accepts.
    type Command: fmt::Debug;

    /// Build the node from its configuration and the journal records that
    /// survived on disk (none for a fresh node).
    fn boot(config: Self::Config, journal: Vec<Self::Record>) -> Self;

    /// Called once after [`StateMachine::boot`]: resume what the journal
    /// says is unfinished (queued reversals, pending requests, timers).
    fn start(&mut self, now: Millis) -> Vec<Effect<Self::Record, Self::Timer>>;

    /// A message arrived from `from`. Bad MAC or format: an error answer or
    /// nothing, and no state change.
    fn on_message(
        &mut self,
        now: Millis,
        from: &Peer,
        bytes: &[u8],
    ) -> Vec<Effect<Self::Record, Self::Timer>>;

    /// A timer set earlier fired.
    fn on_timer(&mut self, now: Millis, timer: Self::Timer) -> Vec<Effect<Self::Record, Self::Timer>>;

    /// An operator command.
    fn on_command(&mut self, now: Millis, command: Self::Command) -> Vec<Effect<Self::Record, Self::Timer>>;
}

/// Identifies one operation of the workload (what a customer or clerk did),
/// so that what the terminal showed can be matched to what was asked.
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

/// The result a terminal shows the customer: the evidence the checker
/// compares with the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Approved by the host, with the approval code (and the balance of an
    /// inquiry).
    Approved {
        /// DE38.
        approval: ApprovalCode,
        /// DE54 of a balance inquiry.
        balance: Option<Money>,
    },
    /// Declined by the host with this code (nothing moved).
    Declined {
        /// DE39.
        code: ResponseCode,
    },
    /// No usable answer (timeout, 68, 96): the terminal recorded a reversal
    /// and shows "failed, reversed".
    FailedReversed {
        /// Why: 68 for a timeout, or the code received.
        reason: ResponseCode,
    },
    /// The terminal refused locally without contacting the host (e.g. the
    /// original of a refund is unknown on this terminal).
    Refused {
        /// Why, in words.
        reason: String,
    },
    /// A batch close finished: the host's totals agreed (after an upload if
    /// `uploaded`).
    BatchClosed {
        /// Items uploaded after a 95; 0 when the totals agreed at once.
        uploaded: u32,
    },
}

/// One thing shown on a terminal's screen.
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

/// Every named crash point of every node kind, as (node kind, point).
pub fn all_crash_points() -> Vec<(&'static str, &'static str)> {
    let kinds: [(&str, &[&str]); 3] = [
        ("terminal", terminal::CRASH_POINTS),
        ("switch", switch::CRASH_POINTS),
        ("bank", bank::CRASH_POINTS),
    ];
    kinds
        .into_iter()
        .flat_map(|(kind, points)| points.iter().map(move |point| (kind, *point)))
        .collect()
}
