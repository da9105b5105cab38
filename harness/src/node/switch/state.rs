//! The switch's durable state and the one function that changes it.
//!
//! [`State::apply`] is the only way state changes, live and during replay
//! at boot, so a rebooted switch is exactly the switch that wrote the
//! journal. Capture is not stored: it is derived from the transactions
//! (approved, not reversed sales and refunds of a terminal batch, minus
//! sales named by a live approved void), so it can never drift from them.

use std::collections::{BTreeMap, BTreeSet};

use crate::node::BankId;
use crate::wire::typed::{
    BatchClose, BatchCloseResponse, BatchTotals, BatchUpload, FinancialRequest, FinancialResponse,
    OriginalData, ReversalAdvice,
};
use crate::wire::types::{
    BatchNumber, ProcessingCode, ResponseCode, TerminalId, TransactionKey, TransmissionTime,
};
use crate::wire::Mti;

use super::SwitchRecord;

/// A terminal batch: (terminal, DE60 batch number).
pub type BatchKey = (TerminalId, BatchNumber);

/// A request the switch forwarded to a bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The issuing bank it went to.
    pub bank: BankId,
    /// The request as the terminal sent it.
    pub request: FinancialRequest,
    /// The stored answer (the bank's, or the switch's own 91); `None` while
    /// in flight.
    pub answer: Option<FinancialResponse>,
    /// Reversed (by the terminal, by a bank timeout or by a batch upload):
    /// never captured, and a reversal toward the bank was queued once.
    pub reversed: bool,
}

impl Transaction {
    /// Approved by the bank and not reversed.
    pub fn is_live_approval(&self) -> bool {
        !self.reversed
            && self
                .answer
                .as_ref()
                .is_some_and(|answer| answer.response.is_approved())
    }
}

/// A reversal advice waiting for the bank's 0430.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedReversal {
    /// Where it goes.
    pub bank: BankId,
    /// The advice (DE7 is refreshed on every transmission).
    pub advice: ReversalAdvice,
    /// Sent at least once: the next copy is a 0421.
    pub sent: bool,
}

/// Where a terminal batch stands at the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchState {
    /// Answered 95; collecting the 0320 items, by position (DE71).
    Uploading {
        /// Items received so far.
        items: BTreeMap<u16, BatchUpload>,
    },
    /// Closed with `00`; the stored answer for repeated closes.
    Closed {
        /// The 0510 sent.
        answer: BatchCloseResponse,
    },
}

/// A settlement owed to an acquiring bank for one terminal batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The acquiring bank.
    pub bank: BankId,
    /// The 0500 to send (DE7 refreshed on every transmission).
    pub message: BatchClose,
    /// The bank's 0510 code once received.
    pub answer: Option<ResponseCode>,
    /// Sent at least once: the next copy is a 0501.
    pub sent: bool,
    /// A retry timer is armed (not durable).
    pub armed: bool,
}

/// An uploaded item the switch never saw approved: not settled.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Discrepancy {
    /// The batch.
    pub batch: BatchKey,
    /// The item's key.
    pub key: TransactionKey,
}

/// Everything the switch remembers.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Forwarded requests by key.
    pub transactions: BTreeMap<TransactionKey, Transaction>,
    /// Keys reversed by a terminal before the switch forwarded them.
    pub tombstones: BTreeSet<TransactionKey>,
    /// Reversals toward banks not yet acknowledged.
    pub reversals: BTreeMap<TransactionKey, QueuedReversal>,
    /// Batches in upload or closed.
    pub batches: BTreeMap<BatchKey, BatchState>,
    /// Settlements by batch.
    pub settlements: BTreeMap<BatchKey, Settlement>,
    /// Uploaded items never seen approved.
    pub discrepancies: Vec<Discrepancy>,
}

/// The 91 the switch answers itself when the bank does not.
pub fn unavailable_answer(request: &FinancialRequest) -> FinancialResponse {
    local_answer(request, ResponseCode::IssuerUnavailable)
}

/// An answer the switch gives itself (no route, tombstone, timeout).
pub fn local_answer(request: &FinancialRequest, response: ResponseCode) -> FinancialResponse {
    FinancialResponse {
        processing: request.processing,
        amount: request.amount,
        trace: request.trace.clone(),
        rrn: request.rrn.clone(),
        response,
        approval: None,
        balance: None,
    }
}

/// The switch's own reversal advice for a forwarded request.
pub fn reversal_of(request: &FinancialRequest, reason: ResponseCode) -> ReversalAdvice {
    ReversalAdvice {
        repeat: false,
        processing: request.processing,
        pan: request.pan.clone(),
        amount: request.amount,
        trace: request.trace.clone(),
        acquirer: request.acquirer.clone(),
        rrn: request.rrn.clone(),
        merchant: request.merchant.clone(),
        reason,
        original: OriginalData {
            mti: Mti::from_value(if request.repeat { 201 } else { 200 }).expect("four digits"),
            stan: request.trace.stan,
            local_date_time: TransmissionTime {
                date: request.trace.local_date,
                time: request.trace.local_time,
            },
            acquirer: request.acquirer.clone(),
        },
    }
}

/// Add one sale (debit) or refund (credit) to `totals`.
pub fn add_to_totals(totals: &mut BatchTotals, processing: ProcessingCode, minor_units: u64) {
    match processing {
        ProcessingCode::Sale => {
            totals.debit_count += 1;
            totals.debit_amount += minor_units;
        }
        ProcessingCode::Refund => {
            totals.credit_count += 1;
            totals.credit_amount += minor_units;
        }
        ProcessingCode::Void | ProcessingCode::Balance => {}
    }
}

impl State {
    /// Apply one journal record. Used live (right before the record is
    /// appended) and at boot, so both paths build the same state.
    pub fn apply(&mut self, record: &SwitchRecord) {
        match record {
            SwitchRecord::Forwarded {
                key, bank, request, ..
            } => {
                let transaction = Transaction {
                    bank: bank.clone(),
                    request: request.clone(),
                    answer: None,
                    reversed: false,
                };
                self.transactions.insert(key.clone(), transaction);
            }
            SwitchRecord::Answered { key, response } => {
                if let Some(transaction) = self.transactions.get_mut(key) {
                    transaction.answer = Some(response.clone());
                }
            }
            SwitchRecord::TimedOut { key } => self.apply_timeout(key),
            SwitchRecord::TerminalReversed { key, advice } => self.apply_terminal_reversal(key, advice),
            SwitchRecord::ReversalAcknowledged { key } => {
                self.reversals.remove(key);
            }
            SwitchRecord::CloseMismatch { terminal, batch } => {
                let items = BTreeMap::new();
                self.batches
                    .insert((terminal.clone(), *batch), BatchState::Uploading { items });
            }
            SwitchRecord::Uploaded {
                terminal,
                batch,
                item,
            } => {
                if let Some(BatchState::Uploading { items }) =
                    self.batches.get_mut(&(terminal.clone(), *batch))
                {
                    items.insert(item.item, item.clone());
                }
            }
            SwitchRecord::BatchClosed { .. } => self.apply_close(record),
            SwitchRecord::SettlementAcknowledged {
                terminal,
                batch,
                response,
            } => {
                if let Some(settlement) = self.settlements.get_mut(&(terminal.clone(), *batch)) {
                    settlement.answer = Some(*response);
                }
            }
        }
    }

    fn apply_timeout(&mut self, key: &TransactionKey) {
        let Some(transaction) = self.transactions.get_mut(key) else {
            return;
        };
        if transaction.answer.is_some() {
            return;
        }
        transaction.answer = Some(unavailable_answer(&transaction.request));
        let advice = reversal_of(&transaction.request, ResponseCode::ResponseTooLate);
        self.reverse(key, advice);
    }

    fn apply_terminal_reversal(&mut self, key: &TransactionKey, advice: &ReversalAdvice) {
        if self.transactions.contains_key(key) {
            self.reverse(key, advice.clone());
        } else {
            self.tombstones.insert(key.clone());
        }
    }

    /// Mark a forwarded transaction reversed and queue its reversal toward
    /// the bank, once.
    fn reverse(&mut self, key: &TransactionKey, advice: ReversalAdvice) {
        let Some(transaction) = self.transactions.get_mut(key) else {
            return;
        };
        if transaction.reversed {
            return;
        }
        transaction.reversed = true;
        let queued = QueuedReversal {
            bank: transaction.bank.clone(),
            advice,
            sent: false,
        };
        self.reversals.insert(key.clone(), queued);
    }

    fn apply_close(&mut self, record: &SwitchRecord) {
        let SwitchRecord::BatchClosed {
            terminal,
            batch,
            answer,
            uncaptured,
            discrepancies,
            bank,
            settlement,
        } = record
        else {
            return;
        };
        let batch_key = (terminal.clone(), *batch);
        for key in uncaptured {
            if let Some(transaction) = self.transactions.get(key) {
                let advice = reversal_of(&transaction.request, ResponseCode::ReconcileError);
                self.reverse(key, advice);
            }
        }
        for key in discrepancies {
            let batch = batch_key.clone();
            self.discrepancies.push(Discrepancy {
                batch,
                key: key.clone(),
            });
        }
        let closed = BatchState::Closed {
            answer: answer.clone(),
        };
        self.batches.insert(batch_key.clone(), closed);
        let settlement = Settlement {
            bank: bank.clone(),
            message: settlement.clone(),
            answer: None,
            sent: false,
            armed: false,
        };
        self.settlements.insert(batch_key, settlement);
    }

    /// The keys captured in a terminal batch: live approved sales and
    /// refunds of that batch, minus sales voided by a live approved void.
    pub fn captured(
        &self,
        terminal: &TerminalId,
        batch: BatchNumber,
    ) -> BTreeMap<&TransactionKey, &Transaction> {
        let voided: BTreeSet<TransactionKey> = self
            .transactions
            .iter()
            .filter(|(key, transaction)| {
                &key.terminal == terminal
                    && transaction.request.processing == ProcessingCode::Void
                    && transaction.is_live_approval()
            })
            .filter_map(|(key, transaction)| {
                transaction
                    .request
                    .original
                    .as_ref()
                    .map(|o| o.key(&key.terminal))
            })
            .collect();
        self.transactions
            .iter()
            .filter(|(key, transaction)| {
                &key.terminal == terminal
                    && transaction.request.batch == batch
                    && matches!(
                        transaction.request.processing,
                        ProcessingCode::Sale | ProcessingCode::Refund
                    )
                    && transaction.is_live_approval()
                    && !voided.contains(*key)
            })
            .collect()
    }

    /// The totals of what is captured in a terminal batch.
    pub fn capture_totals(&self, terminal: &TerminalId, batch: BatchNumber) -> BatchTotals {
        let mut totals = BatchTotals::default();
        for transaction in self.captured(terminal, batch).values() {
            let request = &transaction.request;
            add_to_totals(
                &mut totals,
                request.processing,
                request.amount.amount.minor_units(),
            );
        }
        totals
    }

    /// Requests forwarded and not answered yet.
    pub fn in_flight(&self) -> impl Iterator<Item = &TransactionKey> {
        self.transactions
            .iter()
            .filter(|(_, transaction)| transaction.answer.is_none())
            .map(|(key, _)| key)
    }

    /// Whether any reversal toward `bank` waits for its 0430.
    pub fn reversals_pending_to(&self, bank: &BankId) -> bool {
        self.reversals.values().any(|queued| &queued.bank == bank)
    }
}
