//! Financial requests, their answers and timeouts, and the reversal queue.

use super::{Effects, ReversalSending, Terminal, TerminalCommand, TerminalRecord, TerminalTimer};
use crate::cover::{hit, hit_either, Mark};
use crate::node::{Bug, Effect, Millis, OperationId, Outcome, Shown};
use crate::wire::message::Mti;
use crate::wire::typed::{
    FinancialRequest, FinancialResponse, OriginalData, ReversalAdvice, ReversalResponse, WireMessage,
};
use crate::wire::types::{
    Amount, BatchNumber, Money, ProcessingCode, ResponseCode, Rrn, Stan, TransactionKey, TransmissionTime,
};

/// The parts of a request that depend on the command.
struct Asked {
    processing: ProcessingCode,
    card: super::Card,
    amount: Money,
    original: Option<OriginalData>,
}

impl Terminal {
    /// Start the command at the head of the queue (or refuse it locally).
    pub(super) fn start_command(&mut self, now: Millis, command: TerminalCommand, out: &mut Effects) {
        let operation = command.operation();
        let in_doubt =
            (self.state.close_in_doubt.as_ref()).is_some_and(|(batch, _)| *batch == self.state.batch);
        let asked = match command.clone() {
            TerminalCommand::CloseBatch { operation } => return self.start_close(now, operation, out),
            // The host may have closed this batch already: a new item in it
            // would never be settled (sale) or would break the settlement
            // totals (refund). A void is still asked: the host decides.
            TerminalCommand::Sale { .. } | TerminalCommand::Refund { .. } if in_doubt => {
                hit(Mark::TerminalRefusedInDoubt);
                Err(format!(
                    "the close of batch {} got no answer and is in doubt: close the batch again first",
                    self.state.batch
                ))
            }
            TerminalCommand::Sale { amount, .. } if amount.currency != self.config.currency => {
                hit(Mark::TerminalRefusedCurrency);
                Err(format!(
                    "this terminal sells in {} only, not {}",
                    self.config.currency, amount.currency
                ))
            }
            TerminalCommand::Sale { card, amount, .. } => Ok(Asked {
                processing: ProcessingCode::Sale,
                card,
                amount,
                original: None,
            }),
            TerminalCommand::Balance { card, currency, .. } => Ok(Asked {
                processing: ProcessingCode::Balance,
                card,
                amount: Money {
                    amount: Amount::ZERO,
                    currency,
                },
                original: None,
            }),
            TerminalCommand::Refund { original, amount, .. } => {
                self.asked_from_original(original, ProcessingCode::Refund, Some(amount))
            }
            TerminalCommand::Void { original, .. } => {
                self.asked_from_original(original, ProcessingCode::Void, None)
            }
        };
        match asked {
            Ok(asked) => self.send_request(now, operation, asked, out),
            Err(reason) => self.refuse(&command, reason, out),
        }
    }

    /// Refund and void: card, amount (void: the sale's) and DE90 from the
    /// original's journal entry.
    fn asked_from_original(
        &self,
        original: OperationId,
        processing: ProcessingCode,
        amount: Option<Money>,
    ) -> Result<Asked, String> {
        let transaction =
            (self.state.operations.get(&original)).and_then(|key| self.state.transactions.get(key));
        let Some(transaction) = transaction else {
            hit(Mark::TerminalRefusedUnknownOriginal);
            return Err(format!("original operation {original} unknown on this terminal"));
        };
        // Only a sale this terminal saw approved can be refunded or voided: a
        // sale shown declined or failed may still be in flight or being
        // reversed at the host, and refunding it would pay for nothing.
        if transaction.request.processing != ProcessingCode::Sale || !transaction.approved() {
            hit(Mark::TerminalRefusedNotApproved);
            return Err(format!(
                "original operation {original} is not an approved sale on this terminal"
            ));
        }
        // A void cancels a sale of the open batch; a closed batch is on its way
        // to settlement, and voiding one of its sales would make the host's
        // totals disagree with the switch's (found by exploration, seed 157).
        if processing == ProcessingCode::Void && transaction.request.batch != self.state.batch {
            hit(Mark::TerminalRefusedVoidClosedBatch);
            return Err(format!(
                "original operation {original} is in closed batch {}: refund it instead",
                transaction.request.batch
            ));
        }
        let request = &transaction.request;
        Ok(Asked {
            processing,
            card: super::Card {
                pan: request.pan.clone(),
                expiry: request.expiry,
            },
            amount: amount.unwrap_or(request.amount),
            original: Some(OriginalData {
                mti: request_mti(request),
                stan: request.trace.stan,
                local_date_time: TransmissionTime {
                    date: request.trace.local_date,
                    time: request.trace.local_time,
                },
                acquirer: request.acquirer.clone(),
            }),
        })
    }

    /// Show a local refusal and journal it (which takes it off the queue).
    pub(super) fn refuse(&mut self, command: &TerminalCommand, reason: String, out: &mut Effects) {
        let shown = Shown {
            terminal: self.config.terminal.clone(),
            operation: command.operation(),
            kind: command.kind(),
            key: None,
            rrn: None,
            amount: command.amount(),
            outcome: Outcome::Refused { reason },
        };
        out.push(Effect::Show(shown.clone()));
        self.record(TerminalRecord::Shown { shown }, out);
        out.push(Effect::Sync);
    }

    fn send_request(&mut self, now: Millis, operation: OperationId, asked: Asked, out: &mut Effects) {
        hit(Mark::TerminalRequestSent);
        let stan = self.state.next_stan;
        let batch = self.state.batch;
        let request = FinancialRequest {
            repeat: false,
            processing: asked.processing,
            pan: asked.card.pan,
            expiry: asked.card.expiry,
            amount: asked.amount,
            trace: self.trace(stan, now),
            acquirer: self.config.acquirer.clone(),
            rrn: rrn(batch, stan),
            merchant: self.config.merchant.clone(),
            batch,
            original: asked.original,
        };
        let key = request.trace.key();
        let message = WireMessage::FinancialRequest(request.clone());
        let pending = TerminalRecord::Pending {
            operation,
            request,
            reversal_pending: true,
        };
        if self.config.bugs.has(Bug::TerminalJournalAfterSend) {
            self.send(&message, out);
            Terminal::crash_point(out, "terminal.request.after_sync_before_send");
            self.record(pending, out);
            out.push(Effect::Sync);
        } else {
            self.record(pending, out);
            out.push(Effect::Sync);
            Terminal::crash_point(out, "terminal.request.after_sync_before_send");
            self.send(&message, out);
        }
        let at = now.plus(self.config.response_timeout_ms);
        out.push(Effect::SetTimer {
            timer: TerminalTimer::Response(key.clone()),
            at,
        });
        self.in_flight = Some(key);
    }

    /// A 0210: only the answer to the request in flight counts.
    pub(super) fn on_financial_response(
        &mut self,
        now: Millis,
        response: FinancialResponse,
        out: &mut Effects,
    ) {
        let key = response.trace.key();
        if self.in_flight.as_ref() != Some(&key) {
            return;
        }
        let transaction = &self.state.transactions[&key];
        if transaction.request.rrn != response.rrn || transaction.request.processing != response.processing {
            return;
        }
        let code = response.response;
        // 68 and 96 are no answer. 63 and 30 reject a message (a copy of the
        // request corrupted in transit, say), not the transaction: another
        // copy may have been approved, so the outcome is unknown and the
        // terminal reverses (found by exploration, seed 101).
        if matches!(
            code,
            ResponseCode::ResponseTooLate
                | ResponseCode::SystemMalfunction
                | ResponseCode::SecurityViolation
                | ResponseCode::FormatError
        ) {
            hit(match code {
                ResponseCode::SecurityViolation | ResponseCode::FormatError => Mark::TerminalMessageRejected,
                _ => Mark::TerminalNoAnswer,
            });
            return self.fail_request(now, key, code, out);
        }
        if code.is_approved() && response.approval.is_none() {
            hit(Mark::TerminalApprovalWithoutCode);
            return; // An approval without DE38 is no usable answer: the timeout reverses it.
        }
        hit_either(code.is_approved(), Mark::TerminalApproved, Mark::TerminalDeclined);
        Terminal::crash_point(out, "terminal.answer.before_record");
        let answered = TerminalRecord::Answered {
            key: key.clone(),
            response: code,
            approval: response.approval.filter(|_| code.is_approved()),
            balance: response.balance.filter(|_| code.is_approved()),
        };
        self.record(answered, out);
        out.push(Effect::Sync);
        Terminal::crash_point(out, "terminal.answer.after_sync_before_show");
        out.push(Effect::CancelTimer(TerminalTimer::Response(key.clone())));
        self.in_flight = None;
        let operation = self.state.transactions[&key].operation;
        self.show(operation, out);
        self.pump(now, out);
    }

    pub(super) fn on_response_timeout(&mut self, now: Millis, key: TransactionKey, out: &mut Effects) {
        if self.in_flight.as_ref() == Some(&key) {
            hit(Mark::TerminalTimeout);
            self.fail_request(now, key, ResponseCode::ResponseTooLate, out);
        }
    }

    /// No usable answer: journal a reversal, show "failed, reversed", and
    /// let the pump send the 0420.
    fn fail_request(&mut self, now: Millis, key: TransactionKey, reason: ResponseCode, out: &mut Effects) {
        out.push(Effect::CancelTimer(TerminalTimer::Response(key.clone())));
        self.in_flight = None;
        let record = if self.config.bugs.has(Bug::TerminalTimeoutAsDecline) {
            TerminalRecord::Answered {
                key: key.clone(),
                response: reason,
                approval: None,
                balance: None,
            }
        } else {
            TerminalRecord::ReversalQueued {
                key: key.clone(),
                reason,
            }
        };
        self.record(record, out);
        out.push(Effect::Sync);
        let operation = self.state.transactions[&key].operation;
        self.show(operation, out);
        self.pump(now, out);
    }

    fn reversal_advice(&self, key: &TransactionKey, repeat: bool, now: Millis) -> WireMessage {
        let request = &self.state.transactions[key].request;
        let reason = match &self.state.decisions[&self.state.transactions[key].operation].outcome {
            Outcome::FailedReversed { reason } => *reason,
            _ => ResponseCode::ResponseTooLate,
        };
        WireMessage::ReversalAdvice(ReversalAdvice {
            repeat,
            processing: request.processing,
            pan: request.pan.clone(),
            amount: request.amount,
            trace: self.retransmitted(&request.trace, now),
            acquirer: request.acquirer.clone(),
            rrn: request.rrn.clone(),
            merchant: request.merchant.clone(),
            reason,
            original: OriginalData {
                mti: request_mti(request),
                stan: request.trace.stan,
                local_date_time: TransmissionTime {
                    date: request.trace.local_date,
                    time: request.trace.local_time,
                },
                acquirer: request.acquirer.clone(),
            },
        })
    }

    pub(super) fn send_first_reversal(&mut self, now: Millis, key: TransactionKey, out: &mut Effects) {
        let repeat = self.repeat_first.remove(&key);
        hit(Mark::TerminalReversalSent);
        Terminal::crash_point(out, "terminal.reversal.after_sync_before_send");
        self.send(&self.reversal_advice(&key, repeat, now), out);
        let delay_ms = self.config.reversal_retry_ms;
        out.push(Effect::SetTimer {
            timer: TerminalTimer::ReversalRetry(key.clone()),
            at: now.plus(delay_ms),
        });
        self.reversal = Some(ReversalSending {
            key,
            tries: 1,
            delay_ms,
        });
    }

    pub(super) fn on_reversal_retry(&mut self, now: Millis, key: TransactionKey, out: &mut Effects) {
        let Some(sending) = self.reversal.clone().filter(|sending| sending.key == key) else {
            return;
        };
        let gives_up = self.config.bugs.has(Bug::ReversalQueueGivesUp);
        if gives_up && sending.tries >= self.config.reversal_give_up_tries {
            let tries = sending.tries;
            self.record(TerminalRecord::ReversalGivenUp { key, tries }, out);
            out.push(Effect::Sync);
            self.reversal = None;
            return self.pump(now, out);
        }
        hit(Mark::TerminalReversalRetried);
        let delay_ms = (sending.delay_ms.saturating_mul(2)).min(self.config.reversal_retry_cap_ms);
        self.send(&self.reversal_advice(&key, true, now), out);
        out.push(Effect::SetTimer {
            timer: TerminalTimer::ReversalRetry(key.clone()),
            at: now.plus(delay_ms),
        });
        self.reversal = Some(ReversalSending {
            key,
            tries: sending.tries + 1,
            delay_ms,
        });
    }

    /// A 0430 00 for a queued reversal acknowledges it.
    pub(super) fn on_reversal_response(
        &mut self,
        now: Millis,
        response: ReversalResponse,
        out: &mut Effects,
    ) {
        let key = response.trace.key();
        if !response.response.is_approved() || !self.state.reversals.contains(&key) {
            return;
        }
        if self.state.transactions[&key].request.rrn != response.rrn {
            return;
        }
        hit(Mark::TerminalReversalAcknowledged);
        self.record(TerminalRecord::ReversalAcknowledged { key: key.clone() }, out);
        out.push(Effect::Sync);
        self.repeat_first.remove(&key);
        if self.reversal.as_ref().is_some_and(|sending| sending.key == key) {
            out.push(Effect::CancelTimer(TerminalTimer::ReversalRetry(key)));
            self.reversal = None;
        }
        self.pump(now, out);
    }
}

/// The MTI of an original request: the terminal sends every request as 0200.
fn request_mti(_request: &FinancialRequest) -> Mti {
    Mti::from_value(200).expect("0200 is an MTI")
}

/// RRN: batch number and STAN, 12 digits, unique on this terminal.
pub(super) fn rrn(batch: BatchNumber, stan: Stan) -> Rrn {
    Rrn::new(&format!("{}{}", batch.to_wire(), stan.to_wire())).expect("12 digits")
}
