//! What the terminal knows from its journal, and the one apply function that
//! both the live code and a reboot use to change it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{TerminalCommand, TerminalRecord};
use crate::node::{OperationId, OperationKind, Outcome, Shown};
use crate::wire::typed::{BatchTotals, FinancialRequest, Trace};
use crate::wire::types::{
    ApprovalCode, BatchNumber, Currency, Money, ProcessingCode, ResponseCode, Stan, TerminalId,
    TransactionKey,
};

/// A definitive answer.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub response: ResponseCode,
    pub approval: Option<ApprovalCode>,
}

/// One journalled financial request.
#[derive(Debug, Clone)]
pub(super) struct Transaction {
    pub operation: OperationId,
    pub request: FinancialRequest,
    pub answer: Option<Answer>,
    pub reversed: bool,
    pub voided: bool,
}

impl Transaction {
    /// Approved by the host and not reversed since.
    pub(super) fn approved(&self) -> bool {
        !self.reversed
            && self
                .answer
                .as_ref()
                .is_some_and(|answer| answer.response.is_approved())
    }
}

/// A batch close in progress.
#[derive(Debug, Clone)]
pub(super) struct CloseJournal {
    pub operation: OperationId,
    pub trace: Trace,
    pub batch: BatchNumber,
    pub totals: BatchTotals,
    pub mismatch: bool,
    pub acknowledged_items: u16,
}

/// The journal-derived state.
#[derive(Debug)]
pub(super) struct State {
    terminal: TerminalId,
    pub next_stan: Stan,
    pub batch: BatchNumber,
    pub queue: VecDeque<TerminalCommand>,
    pub transactions: BTreeMap<TransactionKey, Transaction>,
    /// Keys in journal order.
    pub order: Vec<TransactionKey>,
    pub operations: BTreeMap<OperationId, TransactionKey>,
    pub reversals: VecDeque<TransactionKey>,
    pub close: Option<CloseJournal>,
    /// A close of the open batch that got no answer at all: the host may
    /// have closed (and settled) the batch without the terminal knowing.
    /// The next close repeats it with the same key, so that the host's
    /// stored answer settles the doubt; until then no sale or refund may
    /// enter the batch.
    pub close_in_doubt: Option<(BatchNumber, Trace)>,
    /// The result decided for each operation (what is or will be shown).
    pub decisions: BTreeMap<OperationId, Shown>,
    pub shown: BTreeSet<OperationId>,
}

impl State {
    pub fn new(terminal: TerminalId) -> State {
        State {
            terminal,
            next_stan: Stan::FIRST,
            batch: BatchNumber::FIRST,
            queue: VecDeque::new(),
            transactions: BTreeMap::new(),
            order: Vec::new(),
            operations: BTreeMap::new(),
            reversals: VecDeque::new(),
            close: None,
            close_in_doubt: None,
            decisions: BTreeMap::new(),
            shown: BTreeSet::new(),
        }
    }

    /// Apply one record: the only way the journal-derived state changes.
    pub fn apply(&mut self, record: &TerminalRecord) {
        match record {
            TerminalRecord::Accepted { command } => self.queue.push_back(command.clone()),
            TerminalRecord::Pending {
                operation, request, ..
            } => self.apply_pending(*operation, request),
            TerminalRecord::Answered {
                key,
                response,
                approval,
                balance,
            } => self.apply_answer(key, *response, approval.clone(), *balance),
            TerminalRecord::ReversalQueued { key, reason } => self.apply_reversal(key, *reason),
            TerminalRecord::ReversalAcknowledged { key } | TerminalRecord::ReversalGivenUp { key, .. } => {
                self.reversals.retain(|queued| queued != key);
            }
            TerminalRecord::Shown { shown } => {
                self.unqueue(shown.operation);
                self.shown.insert(shown.operation);
            }
            TerminalRecord::CloseStarted {
                operation,
                trace,
                batch,
                totals,
            } => {
                self.unqueue(*operation);
                self.use_stan(trace.stan);
                self.close = Some(CloseJournal {
                    operation: *operation,
                    trace: trace.clone(),
                    batch: *batch,
                    totals: *totals,
                    mismatch: false,
                    acknowledged_items: 0,
                });
            }
            TerminalRecord::CloseMismatch { .. } => {
                self.close.iter_mut().for_each(|close| close.mismatch = true)
            }
            TerminalRecord::UploadAcknowledged { item, .. } => (self.close.iter_mut())
                .for_each(|close| close.acknowledged_items = close.acknowledged_items.max(*item)),
            TerminalRecord::BatchClosed {
                operation,
                batch,
                uploaded,
            } => {
                self.decide_close(*operation, Outcome::BatchClosed { uploaded: *uploaded });
                self.batch = batch.next();
                self.close_in_doubt = None;
            }
            TerminalRecord::CloseFailed {
                operation,
                batch,
                outcome,
            } => {
                // No answer at all (`Refused`): the close is in doubt. A
                // definitive answer other than 00 leaves the doubt as it was.
                if let (Outcome::Refused { .. }, Some(close)) = (outcome, &self.close) {
                    self.close_in_doubt = Some((*batch, close.trace.clone()));
                }
                self.decide_close(*operation, outcome.clone());
            }
        }
    }

    fn unqueue(&mut self, operation: OperationId) {
        self.queue.retain(|command| command.operation() != operation);
    }

    fn use_stan(&mut self, stan: Stan) {
        if stan >= self.next_stan {
            self.next_stan = stan.next();
        }
    }

    fn apply_pending(&mut self, operation: OperationId, request: &FinancialRequest) {
        let key = request.trace.key();
        self.unqueue(operation);
        self.use_stan(request.trace.stan);
        self.order.retain(|known| *known != key);
        self.order.push(key.clone());
        self.operations.insert(operation, key.clone());
        let transaction = Transaction {
            operation,
            request: request.clone(),
            answer: None,
            reversed: false,
            voided: false,
        };
        self.transactions.insert(key, transaction);
    }

    fn apply_answer(
        &mut self,
        key: &TransactionKey,
        response: ResponseCode,
        approval: Option<ApprovalCode>,
        balance: Option<Money>,
    ) {
        let Some(transaction) = self.transactions.get_mut(key) else {
            return;
        };
        transaction.answer = Some(Answer {
            response,
            approval: approval.clone(),
        });
        let outcome = match approval {
            Some(approval) if response.is_approved() => Outcome::Approved { approval, balance },
            _ => Outcome::Declined { code: response },
        };
        let (operation, request) = (transaction.operation, transaction.request.clone());
        if response.is_approved() && request.processing == ProcessingCode::Void {
            let original = request
                .original
                .as_ref()
                .map(|original| original.key(&self.terminal));
            if let Some(original) = original.and_then(|key| self.transactions.get_mut(&key)) {
                original.voided = true;
            }
        }
        self.decide_financial(operation, &request, outcome);
    }

    fn apply_reversal(&mut self, key: &TransactionKey, reason: ResponseCode) {
        let Some(transaction) = self.transactions.get_mut(key) else {
            return;
        };
        transaction.reversed = true;
        let (operation, request) = (transaction.operation, transaction.request.clone());
        if !self.reversals.contains(key) {
            self.reversals.push_back(key.clone());
        }
        self.decide_financial(operation, &request, Outcome::FailedReversed { reason });
    }

    fn decide_financial(&mut self, operation: OperationId, request: &FinancialRequest, outcome: Outcome) {
        let amount = (request.processing != ProcessingCode::Balance).then_some(request.amount);
        let shown = Shown {
            terminal: self.terminal.clone(),
            operation,
            kind: OperationKind::Financial(request.processing),
            key: Some(request.trace.key()),
            rrn: Some(request.rrn.clone()),
            amount,
            outcome,
        };
        self.decisions.entry(operation).or_insert(shown);
    }

    fn decide_close(&mut self, operation: OperationId, outcome: Outcome) {
        let key = self.close.as_ref().map(|close| close.trace.key());
        self.close = None;
        let shown = Shown {
            terminal: self.terminal.clone(),
            operation,
            kind: OperationKind::BatchClose,
            key,
            rrn: None,
            amount: None,
            outcome,
        };
        self.decisions.entry(operation).or_insert(shown);
    }

    /// Requests with neither an answer nor a reversal, in journal order.
    pub fn unanswered(&self) -> Vec<TransactionKey> {
        (self.order.iter())
            .filter(|key| {
                let transaction = &self.transactions[*key];
                transaction.answer.is_none() && !transaction.reversed
            })
            .cloned()
            .collect()
    }

    /// The items of `batch` that count: approved sales not voided and
    /// approved refunds, in `currency`, in journal order.
    pub fn items(&self, batch: BatchNumber, currency: Currency) -> Vec<&Transaction> {
        (self.order.iter())
            .map(|key| &self.transactions[key])
            .filter(|transaction| {
                let request = &transaction.request;
                let counted = match request.processing {
                    ProcessingCode::Sale => !transaction.voided,
                    ProcessingCode::Refund => true,
                    ProcessingCode::Void | ProcessingCode::Balance => false,
                };
                counted
                    && transaction.approved()
                    && request.batch == batch
                    && request.amount.currency == currency
            })
            .collect()
    }

    /// Totals of `batch`: debits are sales, credits refunds.
    pub fn totals(&self, batch: BatchNumber, currency: Currency) -> BatchTotals {
        let mut totals = BatchTotals::default();
        for item in self.items(batch, currency) {
            let minor = item.request.amount.amount.minor_units();
            if item.request.processing == ProcessingCode::Refund {
                totals.credit_count += 1;
                totals.credit_amount += minor;
            } else {
                totals.debit_count += 1;
                totals.debit_amount += minor;
            }
        }
        totals
    }
}
