//! The POS terminal: a sans-IO state machine that turns operator commands
//! (sale, refund, void, balance inquiry, batch close) into ISO 8583 requests
//! to the switch, and shows each command's result exactly once.
//!
//! It owns: the STAN counter and RRNs, the open batch and its approved items,
//! the FIFO command queue, the reversal queue (store-and-forward until 0430),
//! and the batch close with its upload. Everything that must survive a reboot
//! is a [`TerminalRecord`]; [`StateMachine::boot`] rebuilds the state by
//! replaying the records through the same apply function the live code uses.
//!
//! Choices where `docs/nodes.md` is silent:
//! - Accepted commands are journalled ([`TerminalRecord::Accepted`]); after a
//!   reboot the ones not started yet are shown `Refused` (a rebooted terminal
//!   does not replay the cashier's input; re-running them with reused trace
//!   numbers would also hide a lost `Pending` record).
//! - A [`TerminalRecord::Shown`] is written after each `Show`; after a reboot
//!   every decided but not yet shown result is shown (again, if the crash
//!   fell between the `Show` and its record).
//! - A batch close or upload step that gets no answer is repeated (0501, or
//!   the same 0320) up to `batch_attempts_max` times; then the close fails,
//!   journalled, shown as `Refused` and the batch stays open, its close in
//!   doubt: the next close repeats it with the same key, and until then sales
//!   and refunds are refused (`docs/nodes.md`, flow 6). A 0510 or 0330
//!   with a code other than 00 (or 95 for the first close) fails it the same
//!   way, shown as `Declined` with that code.
//! - Batch totals cover the approved items in `config.currency`.

mod batch;
mod flow;
mod state;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Bug, Bugs, Calendar, Effect, Millis, OperationId, OperationKind, Peer, Shown, StateMachine};
use crate::cover::{hit, Mark};
use crate::wire::mac::MacKey;
use crate::wire::typed::{BatchTotals, FinancialRequest, Trace, WireMessage};
use crate::wire::types::{
    ApprovalCode, BatchNumber, Currency, Expiry, InstitutionId, MerchantId, Money, Pan, ProcessingCode,
    ResponseCode, TerminalId, TransactionKey,
};
use crate::wire::{sign, verify};

use state::State;

/// Every named crash point of the terminal.
pub const CRASH_POINTS: &[&str] = &[
    "terminal.request.after_sync_before_send",
    "terminal.answer.before_record",
    "terminal.answer.after_sync_before_show",
    "terminal.reversal.after_sync_before_send",
    "terminal.batch.after_sync_before_send",
];

/// Static configuration of one terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalConfig {
    /// DE41.
    pub terminal: TerminalId,
    /// DE42.
    pub merchant: MerchantId,
    /// DE32.
    pub acquirer: InstitutionId,
    /// Terminal-switch MAC key.
    pub key: MacKey,
    /// Turns `now` into DE7, DE12, DE13.
    pub calendar: Calendar,
    /// Currency of the batch totals (DE49 of the 0500).
    pub currency: Currency,
    /// How long to wait for a 0210, 0510 or 0330.
    pub response_timeout_ms: u64,
    /// First interval between reversal repeats (doubles on each repeat).
    pub reversal_retry_ms: u64,
    /// Cap of the reversal repeat interval.
    pub reversal_retry_cap_ms: u64,
    /// Most operator commands waiting in the queue; more are refused.
    pub command_queue_max: usize,
    /// Transmissions of one batch close or upload step before the close fails.
    pub batch_attempts_max: u32,
    /// Transmissions of a reversal after which the planted
    /// [`Bug::ReversalQueueGivesUp`] drops it.
    pub reversal_give_up_tries: u32,
    /// Planted bugs switched on.
    pub bugs: Bugs,
}

impl TerminalConfig {
    /// A configuration with default timings (5 s response timeout, reversal
    /// repeats from 1 s capped at 8 s, 16 queued commands, 3 batch attempts).
    pub fn new(terminal: TerminalId, merchant: MerchantId, acquirer: InstitutionId, key: MacKey) -> Self {
        TerminalConfig {
            terminal,
            merchant,
            acquirer,
            key,
            calendar: Calendar::default(),
            currency: Currency::EUR,
            response_timeout_ms: 5_000,
            reversal_retry_ms: 1_000,
            reversal_retry_cap_ms: 8_000,
            command_queue_max: 16,
            batch_attempts_max: 3,
            reversal_give_up_tries: 3,
            bugs: Bugs::none(),
        }
    }
}

/// A card as the terminal reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// DE2.
    pub pan: Pan,
    /// DE14.
    pub expiry: Expiry,
}

/// An operator command; each ends in exactly one `Show` for its operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TerminalCommand {
    /// Charge a card.
    Sale {
        /// The workload operation.
        operation: OperationId,
        /// The card.
        card: Card,
        /// How much.
        amount: Money,
    },
    /// Refund (part of) an earlier sale of this terminal.
    Refund {
        /// The workload operation.
        operation: OperationId,
        /// The operation of the original sale.
        original: OperationId,
        /// How much.
        amount: Money,
    },
    /// Void an earlier sale of the open batch (for its full amount).
    Void {
        /// The workload operation.
        operation: OperationId,
        /// The operation of the original sale.
        original: OperationId,
    },
    /// Ask for a card's available balance.
    Balance {
        /// The workload operation.
        operation: OperationId,
        /// The card.
        card: Card,
        /// The currency asked in (the amount sent is zero).
        currency: Currency,
    },
    /// Close the open batch with the host.
    CloseBatch {
        /// The workload operation.
        operation: OperationId,
    },
}

impl TerminalCommand {
    /// The workload operation this command belongs to.
    pub fn operation(&self) -> OperationId {
        match self {
            TerminalCommand::Sale { operation, .. }
            | TerminalCommand::Refund { operation, .. }
            | TerminalCommand::Void { operation, .. }
            | TerminalCommand::Balance { operation, .. }
            | TerminalCommand::CloseBatch { operation } => *operation,
        }
    }

    /// What kind of operation it is, as shown.
    pub fn kind(&self) -> OperationKind {
        match self {
            TerminalCommand::Sale { .. } => OperationKind::Financial(ProcessingCode::Sale),
            TerminalCommand::Refund { .. } => OperationKind::Financial(ProcessingCode::Refund),
            TerminalCommand::Void { .. } => OperationKind::Financial(ProcessingCode::Void),
            TerminalCommand::Balance { .. } => OperationKind::Financial(ProcessingCode::Balance),
            TerminalCommand::CloseBatch { .. } => OperationKind::BatchClose,
        }
    }

    fn amount(&self) -> Option<Money> {
        match self {
            TerminalCommand::Sale { amount, .. } | TerminalCommand::Refund { amount, .. } => Some(*amount),
            _ => None,
        }
    }
}

/// What the terminal journals. Replayed in order by [`Terminal::boot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TerminalRecord {
    /// A command was accepted into the queue.
    Accepted {
        /// The command.
        command: TerminalCommand,
    },
    /// A financial request is about to be sent: its STAN is used, and unless
    /// an answer is recorded it must be reversed.
    Pending {
        /// The operation it serves.
        operation: OperationId,
        /// The full request (key, RRN, DE12/DE13, batch, DE90).
        request: FinancialRequest,
        /// The pending-reversal mark: reverse this request unless an answer
        /// is recorded (always true for financial requests).
        reversal_pending: bool,
    },
    /// A definitive answer to a pending request.
    Answered {
        /// The request's key.
        key: TransactionKey,
        /// DE39.
        response: ResponseCode,
        /// DE38 on approvals.
        approval: Option<ApprovalCode>,
        /// DE54 on an approved balance inquiry.
        balance: Option<Money>,
    },
    /// A reversal of the request with this key is queued.
    ReversalQueued {
        /// The original's key.
        key: TransactionKey,
        /// DE39 of the advice: 68 timeout, or the code received.
        reason: ResponseCode,
    },
    /// The switch acknowledged the reversal (0430 00).
    ReversalAcknowledged {
        /// The original's key.
        key: TransactionKey,
    },
    /// The planted [`Bug::ReversalQueueGivesUp`] dropped this reversal.
    ReversalGivenUp {
        /// The original's key.
        key: TransactionKey,
        /// Transmissions made.
        tries: u32,
    },
    /// The customer was shown this.
    Shown {
        /// What was shown.
        shown: Shown,
    },
    /// A batch close started: its own STAN and the totals sent.
    CloseStarted {
        /// The operation it serves.
        operation: OperationId,
        /// Trace fields of the 0500 (DE7 is the first transmission's).
        trace: Trace,
        /// The batch being closed.
        batch: BatchNumber,
        /// The totals sent.
        totals: BatchTotals,
    },
    /// The host answered 95: the items are to be uploaded.
    CloseMismatch {
        /// The batch.
        batch: BatchNumber,
    },
    /// The host acknowledged upload item `item` (0330 00).
    UploadAcknowledged {
        /// The batch.
        batch: BatchNumber,
        /// DE71 of the item.
        item: u16,
    },
    /// The batch is closed; the next batch number is open.
    BatchClosed {
        /// The operation it served.
        operation: OperationId,
        /// The closed batch.
        batch: BatchNumber,
        /// Items uploaded after a 95.
        uploaded: u32,
    },
    /// The close failed; the batch stays open.
    CloseFailed {
        /// The operation it served.
        operation: OperationId,
        /// The batch.
        batch: BatchNumber,
        /// What is shown.
        outcome: super::Outcome,
    },
}

/// The terminal's timers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TerminalTimer {
    /// No 0210 for the request with this key in time.
    Response(TransactionKey),
    /// Repeat the reversal of this key.
    ReversalRetry(TransactionKey),
    /// No 0510 for the close of this batch in time.
    BatchClose(BatchNumber),
    /// No 0330 for this upload item in time.
    BatchUpload {
        /// The batch.
        batch: BatchNumber,
        /// DE71 of the item.
        item: u16,
    },
}

type Effects = Vec<Effect<TerminalRecord, TerminalTimer>>;

/// The reversal being transmitted (front of the queue).
#[derive(Debug, Clone)]
struct ReversalSending {
    key: TransactionKey,
    tries: u32,
    delay_ms: u64,
}

/// The batch-close step waiting for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseStep {
    Close,
    Upload(u16),
    Confirm,
}

#[derive(Debug, Clone, Copy)]
struct CloseSending {
    step: CloseStep,
    attempts: u32,
}

/// A POS terminal.
#[derive(Debug)]
pub struct Terminal {
    config: TerminalConfig,
    state: State,
    in_flight: Option<TransactionKey>,
    reversal: Option<ReversalSending>,
    close: Option<CloseSending>,
    /// Reversals queued before this boot: they may have been sent, so the
    /// first transmission is a repeat (0421).
    repeat_first: BTreeSet<TransactionKey>,
    /// A close resumed after a boot repeats as 0501.
    close_resumed: bool,
}

impl Terminal {
    /// Reversals queued and not yet acknowledged, oldest first.
    pub fn reversal_queue(&self) -> Vec<TransactionKey> {
        self.state.reversals.iter().cloned().collect()
    }

    /// Commands accepted and not started yet.
    pub fn command_queue_len(&self) -> usize {
        self.state.queue.len()
    }

    /// The open batch.
    pub fn batch(&self) -> BatchNumber {
        self.state.batch
    }

    /// Totals of the open batch as a close would send them.
    pub fn open_batch_totals(&self) -> BatchTotals {
        self.state.totals(self.state.batch, self.config.currency)
    }

    /// Whether nothing is in progress: no request, reversal, close or queued
    /// command.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_none()
            && self.state.reversals.is_empty()
            && self.state.close.is_none()
            && self.state.queue.is_empty()
    }

    fn record(&mut self, record: TerminalRecord, out: &mut Effects) {
        self.state.apply(&record);
        out.push(Effect::Append(record));
    }

    fn send(&self, message: &WireMessage, out: &mut Effects) {
        let mut raw = message.to_message();
        let bytes = sign(&mut raw, &self.config.key).expect("terminal messages encode");
        out.push(Effect::Send {
            to: Peer::Switch,
            bytes,
        });
    }

    fn crash_point(out: &mut Effects, name: &'static str) {
        debug_assert!(CRASH_POINTS.contains(&name));
        out.push(Effect::CrashPoint(super::CrashPoint(name)));
    }

    fn trace(&self, stan: crate::wire::types::Stan, now: Millis) -> Trace {
        let calendar = &self.config.calendar;
        Trace {
            terminal: self.config.terminal.clone(),
            stan,
            local_time: calendar.local_time(now),
            local_date: calendar.local_date(now),
            transmitted: calendar.transmission_time(now),
        }
    }

    fn retransmitted(&self, trace: &Trace, now: Millis) -> Trace {
        Trace {
            transmitted: self.config.calendar.transmission_time(now),
            ..trace.clone()
        }
    }

    /// Show the decided result of `operation` and journal that it was shown.
    fn show(&mut self, operation: OperationId, out: &mut Effects) {
        let Some(shown) = self.state.decisions.get(&operation).cloned() else {
            return;
        };
        out.push(Effect::Show(shown.clone()));
        self.record(TerminalRecord::Shown { shown }, out);
        out.push(Effect::Sync);
    }

    /// Start whatever may go next: the oldest reversal, a resumed close, or
    /// the next queued command; one at a time.
    fn pump(&mut self, now: Millis, out: &mut Effects) {
        loop {
            if self.in_flight.is_some() || self.reversal.is_some() || self.close.is_some() {
                return;
            }
            if let Some(key) = self.state.reversals.front().cloned() {
                self.send_first_reversal(now, key, out);
                return;
            }
            if self.state.close.is_some() {
                self.send_close_step(now, 1, out);
                return;
            }
            let Some(command) = self.state.queue.front().cloned() else {
                return;
            };
            self.start_command(now, command, out);
        }
    }
}

impl StateMachine for Terminal {
    type Config = TerminalConfig;
    type Record = TerminalRecord;
    type Timer = TerminalTimer;
    type Command = TerminalCommand;

    fn boot(config: TerminalConfig, journal: Vec<TerminalRecord>) -> Terminal {
        if !journal.is_empty() {
            hit(Mark::TerminalRecovered);
        }
        let mut state = State::new(config.terminal.clone());
        for record in &journal {
            state.apply(record);
        }
        if config.bugs.has(Bug::StanNotPersisted) {
            state.next_stan = crate::wire::types::Stan::FIRST;
        }
        let repeat_first = state.reversals.iter().cloned().collect();
        let close_resumed = state.close.is_some();
        Terminal {
            config,
            state,
            in_flight: None,
            reversal: None,
            close: None,
            repeat_first,
            close_resumed,
        }
    }

    fn start(&mut self, now: Millis) -> Effects {
        let mut out = Vec::new();
        let unanswered = self.state.unanswered();
        for key in &unanswered {
            let reason = ResponseCode::ResponseTooLate;
            self.record(
                TerminalRecord::ReversalQueued {
                    key: key.clone(),
                    reason,
                },
                &mut out,
            );
        }
        if !unanswered.is_empty() {
            hit(Mark::TerminalBootReversed);
            out.push(Effect::Sync);
        }
        let unshown: Vec<OperationId> = (self.state.decisions.keys())
            .filter(|operation| !self.state.shown.contains(operation))
            .copied()
            .collect();
        for operation in unshown {
            hit(Mark::TerminalBootShown);
            self.show(operation, &mut out);
        }
        for command in Vec::from(self.state.queue.clone()) {
            hit(Mark::TerminalRefusedRestarted);
            let reason = "terminal restarted before the operation started".to_string();
            self.refuse(&command, reason, &mut out);
        }
        self.pump(now, &mut out);
        out
    }

    fn on_message(&mut self, now: Millis, from: &Peer, bytes: &[u8]) -> Effects {
        if *from != Peer::Switch {
            return Vec::new();
        }
        // Only answers come to a terminal: nothing to answer a bad one with.
        let Ok(message) = verify(bytes, &self.config.key) else {
            return Vec::new();
        };
        let Ok(typed) = WireMessage::from_message(&message) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match typed {
            WireMessage::FinancialResponse(response) => self.on_financial_response(now, response, &mut out),
            WireMessage::ReversalResponse(response) => self.on_reversal_response(now, response, &mut out),
            WireMessage::BatchCloseResponse(response) => self.on_close_response(now, response, &mut out),
            WireMessage::BatchUploadResponse(response) => self.on_upload_response(now, response, &mut out),
            _ => {}
        }
        out
    }

    fn on_timer(&mut self, now: Millis, timer: TerminalTimer) -> Effects {
        let mut out = Vec::new();
        match timer {
            TerminalTimer::Response(key) => self.on_response_timeout(now, key, &mut out),
            TerminalTimer::ReversalRetry(key) => self.on_reversal_retry(now, key, &mut out),
            TerminalTimer::BatchClose(batch) => self.on_close_timeout(now, batch, None, &mut out),
            TerminalTimer::BatchUpload { batch, item } => {
                self.on_close_timeout(now, batch, Some(item), &mut out)
            }
        }
        out
    }

    fn on_command(&mut self, now: Millis, command: TerminalCommand) -> Effects {
        let mut out = Vec::new();
        if self.state.queue.len() >= self.config.command_queue_max {
            hit(Mark::TerminalRefusedQueueFull);
            out.push(Effect::Show(Shown {
                terminal: self.config.terminal.clone(),
                operation: command.operation(),
                kind: command.kind(),
                key: None,
                rrn: None,
                amount: command.amount(),
                outcome: super::Outcome::Refused {
                    reason: format!("command queue full ({} waiting)", self.state.queue.len()),
                },
            }));
            return out;
        }
        self.record(TerminalRecord::Accepted { command }, &mut out);
        out.push(Effect::Sync);
        self.pump(now, &mut out);
        out
    }
}

#[cfg(test)]
mod tests;
