//! The switch's reactions to messages and timers.
//!
//! Every handler follows the same shape: check, build the record, `commit`
//! it (apply, append, sync), pass the crash point, then send.

use std::collections::BTreeSet;

use crate::cover::{hit, hit_either, hit_if, Mark};
use crate::node::{BankId, Bug, Effect, Millis, Peer};
use crate::wire::typed::{
    BatchClose, BatchCloseResponse, BatchTotals, BatchUpload, BatchUploadResponse, FinancialRequest,
    FinancialResponse, NetworkRequest, NetworkResponse, ReversalAdvice, ReversalResponse, WireMessage,
};
use crate::wire::types::{ProcessingCode, ResponseCode, TerminalId, TransactionKey};
use crate::wire::{decode, verify, MacError, MacKey, Message};

use super::reply::{error_answer, security_answer, signed};
use super::state::{add_to_totals, local_answer, BatchKey, BatchState};
use super::{
    Switch, SwitchEffects, SwitchRecord, SwitchTimer, ANSWER_CRASH, CLOSE_CRASH, FORWARD_CRASH,
    REVERSAL_CRASH, SETTLE_CRASH, TIMEOUT_CRASH, UPLOAD_CRASH,
};

/// Network management codes answered 00: sign-on and echo.
const NETWORK_CODES: [u16; 2] = [1, 301];

impl Switch {
    fn send_terminal(&self, terminal: &TerminalId, message: &WireMessage) -> SwitchEffects {
        let Some(link) = self.config.terminal(terminal) else {
            return Vec::new();
        };
        let to = Peer::Terminal(terminal.clone());
        vec![Effect::Send {
            to,
            bytes: signed(message, &link.key),
        }]
    }

    fn send_bank(&self, bank: &BankId, message: &WireMessage) -> SwitchEffects {
        let Some(link) = self.config.bank(bank) else {
            return Vec::new();
        };
        vec![Effect::Send {
            to: Peer::Bank(bank.clone()),
            bytes: signed(message, &link.key),
        }]
    }

    /// Verify, lift and check an incoming message; `Err` holds the error
    /// answer (possibly none).
    fn receive(
        &self,
        bytes: &[u8],
        key: &MacKey,
        skip_mac: bool,
        to: &Peer,
    ) -> Result<WireMessage, SwitchEffects> {
        let answer = |bytes: Option<Vec<u8>>| -> SwitchEffects {
            bytes
                .map(|bytes| Effect::Send {
                    to: to.clone(),
                    bytes,
                })
                .into_iter()
                .collect()
        };
        let verified: Result<Message, MacError> = if skip_mac {
            decode(bytes).map_err(MacError::Decode)
        } else {
            verify(bytes, key)
        };
        let message = match verified {
            Ok(message) => message,
            Err(MacError::Decode(_)) => return Err(Vec::new()),
            Err(_) => {
                hit(Mark::SwitchRefusedSecurity63);
                return Err(answer(security_answer(bytes, key)));
            }
        };
        WireMessage::from_message(&message).map_err(|error| {
            hit(Mark::SwitchRefusedMalformed);
            answer(error_answer(&message, error.response_code(), key))
        })
    }

    pub(super) fn on_terminal_message(
        &mut self,
        now: Millis,
        terminal: &TerminalId,
        bytes: &[u8],
    ) -> SwitchEffects {
        let Some(link) = self.config.terminal(terminal) else {
            return Vec::new();
        };
        let to = Peer::Terminal(terminal.clone());
        let skip_mac = self.bug(Bug::MacNotVerified);
        let message = match self.receive(bytes, &link.key, skip_mac, &to) {
            Ok(message) => message,
            Err(answer) => return answer,
        };
        if message_terminal(&message).is_some_and(|named| named != terminal) {
            hit(Mark::SwitchRefusedWrongTerminal12);
            let raw = message.to_message();
            let answer = error_answer(&raw, ResponseCode::InvalidTransaction, &link.key);
            return answer
                .map(|bytes| Effect::Send { to, bytes })
                .into_iter()
                .collect();
        }
        match message {
            WireMessage::FinancialRequest(request) => self.on_financial_request(now, terminal, request),
            WireMessage::ReversalAdvice(advice) => self.on_terminal_reversal(now, terminal, advice),
            WireMessage::BatchClose(close) => self.on_batch_close(now, terminal, close),
            WireMessage::BatchUpload(item) => self.on_batch_upload(terminal, item),
            WireMessage::NetworkRequest(request) => self.send_to(&to, &network_answer(&request)),
            _ => Vec::new(),
        }
    }

    pub(super) fn on_bank_message(&mut self, now: Millis, bank: &BankId, bytes: &[u8]) -> SwitchEffects {
        let Some(link) = self.config.bank(bank) else {
            return Vec::new();
        };
        let to = Peer::Bank(bank.clone());
        let message = match self.receive(bytes, &link.key, false, &to) {
            Ok(message) => message,
            Err(answer) => return answer,
        };
        match message {
            WireMessage::FinancialResponse(response) => self.on_bank_answer(bank, response),
            WireMessage::ReversalResponse(response) => self.on_reversal_acknowledged(now, bank, response),
            WireMessage::BatchCloseResponse(response) => self.on_settlement_answer(bank, response),
            WireMessage::NetworkRequest(request) => self.send_to(&to, &network_answer(&request)),
            _ => Vec::new(),
        }
    }

    fn send_to(&self, to: &Peer, message: &WireMessage) -> SwitchEffects {
        match to {
            Peer::Terminal(terminal) => self.send_terminal(terminal, message),
            Peer::Bank(bank) => self.send_bank(bank, message),
            Peer::Switch => Vec::new(),
        }
    }

    /// Rule 1: de-duplicate, route, journal, then forward.
    fn on_financial_request(
        &mut self,
        now: Millis,
        terminal: &TerminalId,
        request: FinancialRequest,
    ) -> SwitchEffects {
        let key = request.trace.key();
        if let Some(transaction) = self.state.transactions.get(&key) {
            if !self.bug(Bug::SwitchNoDedupe) {
                return match &transaction.answer {
                    Some(answer) => {
                        hit(Mark::SwitchRepeatStored);
                        self.send_terminal(terminal, &WireMessage::FinancialResponse(answer.clone()))
                    }
                    None => {
                        hit(Mark::SwitchRepeatInFlight);
                        Vec::new()
                    }
                };
            }
        } else if self.state.tombstones.contains(&key) {
            hit(Mark::SwitchTombstoneConsumed);
            return self.answer_locally(terminal, &request, ResponseCode::InvalidTransaction);
        }
        if self.voids_a_batch_being_settled(terminal, &request) {
            hit(Mark::SwitchVoidWhileSettling12);
            return self.answer_locally(terminal, &request, ResponseCode::InvalidTransaction);
        }
        let Some(bank) = self.config.route(&request.pan).cloned() else {
            hit(Mark::SwitchNoRoute14);
            return self.answer_locally(terminal, &request, ResponseCode::InvalidCard);
        };
        let pending = self.state.in_flight().count() + self.state.reversals.len();
        if pending >= self.config.pending_max {
            hit(Mark::SwitchPendingMax91);
            return self.answer_locally(terminal, &request, ResponseCode::IssuerUnavailable);
        }
        hit(Mark::SwitchForwarded);
        let forwarded = WireMessage::FinancialRequest(request.clone());
        let record = SwitchRecord::Forwarded {
            key: key.clone(),
            terminal: terminal.clone(),
            bank: bank.clone(),
            request,
        };
        let mut effects = self.commit(record);
        effects.push(Self::crash_point(FORWARD_CRASH));
        effects.extend(self.send_bank(&bank, &forwarded));
        let at = now.plus(self.config.bank_timeout_ms);
        effects.push(Effect::SetTimer {
            timer: SwitchTimer::BankTimeout(key),
            at,
        });
        effects
    }

    /// A void of a sale in a batch this switch has closed and whose
    /// settlement the acquirer has not answered yet. The settlement carries
    /// the batch's totals as closed; a void approved now would make the
    /// acquirer's own totals disagree, so it would answer 95 and pay
    /// nothing for the whole batch. The terminal only voids sales of its
    /// open batch, so this is a terminal that never learnt its batch was
    /// closed (every 0510 lost). Refused 12 here ("use a refund"); once the
    /// batch is settled the void goes to the issuer, which refuses a void
    /// of a settled sale itself.
    fn voids_a_batch_being_settled(&self, terminal: &TerminalId, request: &FinancialRequest) -> bool {
        if request.processing != ProcessingCode::Void {
            return false;
        }
        let Some(original) = request.original.as_ref().map(|original| original.key(terminal)) else {
            return false;
        };
        let Some(sale) = self.state.transactions.get(&original) else {
            return false;
        };
        let batch = (terminal.clone(), sale.request.batch);
        matches!(self.state.batches.get(&batch), Some(BatchState::Closed { .. }))
            && (self.state.settlements.get(&batch)).is_some_and(|settlement| settlement.answer.is_none())
    }

    fn answer_locally(
        &self,
        terminal: &TerminalId,
        request: &FinancialRequest,
        code: ResponseCode,
    ) -> SwitchEffects {
        self.send_terminal(
            terminal,
            &WireMessage::FinancialResponse(local_answer(request, code)),
        )
    }

    /// Rule 2: journal the bank's answer, then relay it unchanged.
    fn on_bank_answer(&mut self, bank: &BankId, response: FinancialResponse) -> SwitchEffects {
        let key = response.trace.key();
        let Some(transaction) = self.state.transactions.get(&key) else {
            return Vec::new();
        };
        if &transaction.bank != bank || transaction.answer.is_some() {
            // Late (after our 91) or duplicate: changes nothing.
            hit(Mark::SwitchAnswerIgnored);
            return Vec::new();
        }
        hit_either(
            response.response.is_approved(),
            Mark::SwitchAnswerApproved,
            Mark::SwitchAnswerDeclined,
        );
        let relayed = WireMessage::FinancialResponse(response.clone());
        let mut effects = self.commit(SwitchRecord::Answered {
            key: key.clone(),
            response,
        });
        effects.push(Self::crash_point(ANSWER_CRASH));
        effects.push(Effect::CancelTimer(SwitchTimer::BankTimeout(key.clone())));
        effects.extend(self.send_terminal(&key.terminal, &relayed));
        effects
    }

    /// Rule 3: the bank did not answer in time.
    pub(super) fn on_bank_timeout(&mut self, now: Millis, key: &TransactionKey) -> SwitchEffects {
        let unanswered = self
            .state
            .transactions
            .get(key)
            .is_some_and(|t| t.answer.is_none());
        if !unanswered {
            return Vec::new();
        }
        hit(Mark::SwitchBankTimeout91);
        let mut effects = self.commit(SwitchRecord::TimedOut { key: key.clone() });
        effects.push(Self::crash_point(TIMEOUT_CRASH));
        effects.extend(self.send_stored_answer(key));
        effects.extend(self.send_reversal(now, key));
        effects
    }

    fn send_stored_answer(&self, key: &TransactionKey) -> SwitchEffects {
        match self.state.transactions.get(key).and_then(|t| t.answer.clone()) {
            Some(answer) => self.send_terminal(&key.terminal, &WireMessage::FinancialResponse(answer)),
            None => Vec::new(),
        }
    }

    /// Send (or send again, as 0421) a queued reversal and arm its retry.
    pub(super) fn send_reversal(&mut self, now: Millis, key: &TransactionKey) -> SwitchEffects {
        let transmitted = self.config.calendar.transmission_time(now);
        let Some(queued) = self.state.reversals.get_mut(key) else {
            return Vec::new();
        };
        let mut advice = queued.advice.clone();
        hit_either(queued.sent, Mark::SwitchSafRetried, Mark::SwitchSafSent);
        advice.repeat = queued.sent;
        advice.trace.transmitted = transmitted;
        queued.sent = true;
        let bank = queued.bank.clone();
        let mut effects = self.send_bank(&bank, &WireMessage::ReversalAdvice(advice));
        let at = now.plus(self.config.reversal_retry_ms);
        effects.push(Effect::SetTimer {
            timer: SwitchTimer::ReversalRetry(key.clone()),
            at,
        });
        effects
    }

    /// Rule 4: a terminal reverses a transaction.
    fn on_terminal_reversal(
        &mut self,
        now: Millis,
        terminal: &TerminalId,
        advice: ReversalAdvice,
    ) -> SwitchEffects {
        let key = advice.trace.key();
        let acknowledgement = WireMessage::ReversalResponse(ReversalResponse {
            trace: advice.trace.clone(),
            rrn: advice.rrn.clone(),
            amount: advice.amount,
            response: ResponseCode::Approved,
        });
        let already = self.state.tombstones.contains(&key)
            || self
                .state
                .transactions
                .get(&key)
                .is_some_and(|transaction| transaction.reversed);
        if already {
            hit(Mark::SwitchReversalCopy);
            return self.send_terminal(terminal, &acknowledgement);
        }
        hit_either(
            self.state.transactions.contains_key(&key),
            Mark::SwitchTerminalReversal,
            Mark::SwitchTombstoneCreated,
        );
        let mut effects = self.commit(SwitchRecord::TerminalReversed {
            key: key.clone(),
            advice,
        });
        effects.push(Self::crash_point(REVERSAL_CRASH));
        effects.extend(self.send_terminal(terminal, &acknowledgement));
        effects.extend(self.send_reversal(now, &key));
        effects
    }

    /// A bank acknowledged a reversal; settlements waiting on its queue
    /// may go now.
    fn on_reversal_acknowledged(
        &mut self,
        now: Millis,
        bank: &BankId,
        response: ReversalResponse,
    ) -> SwitchEffects {
        let key = response.trace.key();
        let ours = self
            .state
            .reversals
            .get(&key)
            .is_some_and(|queued| &queued.bank == bank);
        if !ours || !response.response.is_approved() {
            return Vec::new();
        }
        hit(Mark::SwitchSafAcknowledged);
        let mut effects = self.commit(SwitchRecord::ReversalAcknowledged { key: key.clone() });
        effects.push(Effect::CancelTimer(SwitchTimer::ReversalRetry(key)));
        effects.extend(self.send_waiting_settlements(now, bank));
        effects
    }

    fn send_waiting_settlements(&mut self, now: Millis, bank: &BankId) -> SwitchEffects {
        let waiting: Vec<BatchKey> = self
            .state
            .settlements
            .iter()
            .filter(|(_, s)| &s.bank == bank && s.answer.is_none() && !s.armed)
            .map(|(batch, _)| batch.clone())
            .collect();
        waiting
            .iter()
            .flat_map(|batch| self.send_settlement(now, batch))
            .collect()
    }

    /// Rule 6: send a settlement if the bank's reversal queue is empty.
    pub(super) fn send_settlement(&mut self, now: Millis, batch: &BatchKey) -> SwitchEffects {
        let transmitted = self.config.calendar.transmission_time(now);
        let Some(settlement) = self.state.settlements.get(batch) else {
            return Vec::new();
        };
        if settlement.answer.is_some() {
            return Vec::new();
        }
        if self.state.reversals_pending_to(&settlement.bank) {
            hit(Mark::SwitchSettlementWaits);
            return Vec::new();
        }
        let settlement = self.state.settlements.get_mut(batch).expect("checked above");
        hit_either(
            settlement.sent,
            Mark::SwitchSettlementRetried,
            Mark::SwitchSettlementSent,
        );
        let mut message = settlement.message.clone();
        message.repeat = settlement.sent;
        message.trace.transmitted = transmitted;
        settlement.sent = true;
        settlement.armed = true;
        let bank = settlement.bank.clone();
        let mut effects = self.send_bank(&bank, &WireMessage::BatchClose(message));
        let timer = SwitchTimer::SettlementRetry(batch.0.clone(), batch.1);
        effects.push(Effect::SetTimer {
            timer,
            at: now.plus(self.config.settlement_retry_ms),
        });
        effects
    }

    fn on_settlement_answer(&mut self, bank: &BankId, response: BatchCloseResponse) -> SwitchEffects {
        let batch = (response.trace.terminal.clone(), response.batch);
        // Only the bank's decision on this settlement ends it: an answer to
        // another message (another key), or a 63 / 30 rejecting a message that
        // was not authentic or well formed, is no acknowledgement (found by
        // exploration, seed 633: a forged 0501 drew a 63 that ended the
        // settlement, and the merchant was never paid).
        let decision = matches!(
            response.response,
            ResponseCode::Approved | ResponseCode::ReconcileError
        );
        let open = self.state.settlements.get(&batch).is_some_and(|s| {
            &s.bank == bank && s.answer.is_none() && s.message.trace.key() == response.trace.key()
        });
        if !open || !decision {
            hit_if(open, Mark::SwitchSettlementNoDecision);
            return Vec::new();
        }
        hit_either(
            response.response.is_approved(),
            Mark::SwitchSettlementApproved,
            Mark::SwitchSettlementMismatch95,
        );
        let record = SwitchRecord::SettlementAcknowledged {
            terminal: batch.0.clone(),
            batch: batch.1,
            response: response.response,
        };
        let mut effects = self.commit(record);
        effects.push(Effect::CancelTimer(SwitchTimer::SettlementRetry(
            batch.0, batch.1,
        )));
        effects
    }

    /// Rule 5: a batch close from a terminal.
    fn on_batch_close(&mut self, now: Millis, terminal: &TerminalId, close: BatchClose) -> SwitchEffects {
        let batch = (terminal.clone(), close.batch);
        match self.state.batches.get(&batch) {
            Some(BatchState::Closed { answer }) => {
                hit(Mark::SwitchCloseRepeat);
                return self.send_terminal(terminal, &WireMessage::BatchCloseResponse(answer.clone()));
            }
            Some(BatchState::Uploading { items }) if upload_complete(items, &close.totals) => {
                let items: Vec<BatchUpload> = items.values().cloned().collect();
                hit(Mark::SwitchCloseAfterUpload);
                return self.close_after_upload(now, terminal, close, &items);
            }
            _ => {}
        }
        if self.state.capture_totals(terminal, close.batch) == close.totals {
            let settled = close.totals;
            hit(Mark::SwitchCloseAgreed);
            return self.close_batch(now, terminal, close, (Vec::new(), Vec::new()), settled);
        }
        self.reconcile_error(terminal, &close)
    }

    /// Answer 95 and start a new upload round.
    fn reconcile_error(&mut self, terminal: &TerminalId, close: &BatchClose) -> SwitchEffects {
        hit(Mark::SwitchCloseMismatch95);
        let record = SwitchRecord::CloseMismatch {
            terminal: terminal.clone(),
            batch: close.batch,
        };
        let mut effects = self.commit(record);
        effects.push(Self::crash_point(CLOSE_CRASH));
        let answer = close_answer(close, ResponseCode::ReconcileError);
        effects.extend(self.send_terminal(terminal, &WireMessage::BatchCloseResponse(answer)));
        effects
    }

    /// The upload replaces the capture: captured items not uploaded are
    /// reversed toward the bank, uploaded items never seen approved are
    /// discrepancies and are not settled.
    fn close_after_upload(
        &mut self,
        now: Millis,
        terminal: &TerminalId,
        close: BatchClose,
        items: &[BatchUpload],
    ) -> SwitchEffects {
        let uploaded: BTreeSet<TransactionKey> = items.iter().map(|item| item.trace.key()).collect();
        let captured = self.state.captured(terminal, close.batch);
        let mut settled = BatchTotals::default();
        for (key, transaction) in &captured {
            if uploaded.contains(*key) {
                let request = &transaction.request;
                add_to_totals(
                    &mut settled,
                    request.processing,
                    request.amount.amount.minor_units(),
                );
            }
        }
        let uncaptured = captured
            .keys()
            .filter(|key| !uploaded.contains(**key))
            .map(|key| (*key).clone());
        let uncaptured: Vec<TransactionKey> = uncaptured.collect();
        let discrepancies: Vec<TransactionKey> = uploaded
            .iter()
            .filter(|key| !captured.contains_key(key))
            .cloned()
            .collect();
        if !uncaptured.is_empty() {
            hit(Mark::SwitchCloseUncaptured);
        }
        if !discrepancies.is_empty() {
            hit(Mark::SwitchCloseDiscrepancy);
        }
        self.close_batch(now, terminal, close, (uncaptured, discrepancies), settled)
    }

    fn close_batch(
        &mut self,
        now: Millis,
        terminal: &TerminalId,
        close: BatchClose,
        (uncaptured, discrepancies): (Vec<TransactionKey>, Vec<TransactionKey>),
        settled: BatchTotals,
    ) -> SwitchEffects {
        let merchant = self.config.terminal(terminal).map(|link| link.merchant.clone());
        let bank = merchant
            .as_ref()
            .and_then(|merchant| self.config.acquirer_of(merchant))
            .cloned();
        let (Some(merchant), Some(bank)) = (merchant, bank) else {
            let answer = close_answer(&close, ResponseCode::IssuerUnavailable);
            return self.send_terminal(terminal, &WireMessage::BatchCloseResponse(answer));
        };
        let answer = close_answer(&close, ResponseCode::Approved);
        let settlement = BatchClose {
            repeat: false,
            merchant,
            totals: settled,
            ..close.clone()
        };
        let record = SwitchRecord::BatchClosed {
            terminal: terminal.clone(),
            batch: close.batch,
            answer: answer.clone(),
            uncaptured: uncaptured.clone(),
            discrepancies,
            bank,
            settlement,
        };
        let mut effects = self.commit(record);
        effects.push(Self::crash_point(CLOSE_CRASH));
        effects.extend(self.send_terminal(terminal, &WireMessage::BatchCloseResponse(answer)));
        for key in &uncaptured {
            effects.extend(self.send_reversal(now, key));
        }
        effects.push(Self::crash_point(SETTLE_CRASH));
        effects.extend(self.send_settlement(now, &(terminal.clone(), close.batch)));
        effects
    }

    /// One 0320 item: journalled, then acknowledged 0330.
    fn on_batch_upload(&mut self, terminal: &TerminalId, item: BatchUpload) -> SwitchEffects {
        let batch = (terminal.clone(), item.batch);
        let Some(BatchState::Uploading { items }) = self.state.batches.get(&batch) else {
            hit(Mark::SwitchUploadRefused12);
            return self.send_terminal(terminal, &upload_answer(&item, ResponseCode::InvalidTransaction));
        };
        let acknowledgement = upload_answer(&item, ResponseCode::Approved);
        if items
            .get(&item.item)
            .is_some_and(|stored| same_item(stored, &item))
        {
            hit(Mark::SwitchUploadCopy);
            return self.send_terminal(terminal, &acknowledgement);
        }
        hit(Mark::SwitchUploadStored);
        let record = SwitchRecord::Uploaded {
            terminal: terminal.clone(),
            batch: item.batch,
            item,
        };
        let mut effects = self.commit(record);
        effects.push(Self::crash_point(UPLOAD_CRASH));
        effects.extend(self.send_terminal(terminal, &acknowledgement));
        effects
    }

    /// After a boot: time out what was in flight, send queued reversals
    /// and unanswered settlements again as repeats.
    pub(super) fn resume(&mut self, now: Millis) -> SwitchEffects {
        let in_flight: Vec<TransactionKey> = self.state.in_flight().cloned().collect();
        let mut effects = Vec::new();
        for key in &in_flight {
            let record = SwitchRecord::TimedOut { key: key.clone() };
            self.state.apply(&record);
            effects.push(Effect::Append(record));
        }
        if !in_flight.is_empty() {
            hit(Mark::SwitchTimeoutAtBoot);
            effects.push(Effect::Sync);
            effects.push(Self::crash_point(TIMEOUT_CRASH));
        }
        for key in &in_flight {
            effects.extend(self.send_stored_answer(key));
        }
        for queued in self.state.reversals.values_mut() {
            queued.sent = true;
        }
        let queued: Vec<TransactionKey> = self.state.reversals.keys().cloned().collect();
        for key in &queued {
            effects.extend(self.send_reversal(now, key));
        }
        let settlements: Vec<BatchKey> = self.pending_settlements();
        for batch in &settlements {
            self.state.settlements.get_mut(batch).expect("listed").sent = true;
            effects.extend(self.send_settlement(now, batch));
        }
        effects
    }
}

/// DE41 of a terminal's message, when it has one.
fn message_terminal(message: &WireMessage) -> Option<&TerminalId> {
    match message {
        WireMessage::FinancialRequest(request) => Some(&request.trace.terminal),
        WireMessage::ReversalAdvice(advice) => Some(&advice.trace.terminal),
        WireMessage::BatchClose(close) => Some(&close.trace.terminal),
        WireMessage::BatchUpload(item) => Some(&item.trace.terminal),
        _ => None,
    }
}

fn network_answer(request: &NetworkRequest) -> WireMessage {
    let response = if NETWORK_CODES.contains(&request.code) {
        ResponseCode::Approved
    } else {
        ResponseCode::InvalidTransaction
    };
    WireMessage::NetworkResponse(NetworkResponse {
        code: request.code,
        stan: request.stan,
        transmitted: request.transmitted,
        response,
    })
}

fn close_answer(close: &BatchClose, response: ResponseCode) -> BatchCloseResponse {
    BatchCloseResponse {
        trace: close.trace.clone(),
        batch: close.batch,
        response,
    }
}

fn upload_answer(item: &BatchUpload, response: ResponseCode) -> WireMessage {
    WireMessage::BatchUploadResponse(BatchUploadResponse {
        trace: item.trace.clone(),
        batch: item.batch,
        item: item.item,
        response,
    })
}

/// The same upload item, whatever DE7 it was transmitted with.
fn same_item(stored: &BatchUpload, item: &BatchUpload) -> bool {
    let mut normalized = item.clone();
    normalized.trace.transmitted = stored.trace.transmitted;
    &normalized == stored
}

/// An upload round is complete when it holds every position 1..=count of
/// one announced count and its totals are the close's, or when it is empty
/// and the close announces an empty batch.
fn upload_complete(items: &std::collections::BTreeMap<u16, BatchUpload>, totals: &BatchTotals) -> bool {
    let mut uploaded = BatchTotals::default();
    for item in items.values() {
        add_to_totals(&mut uploaded, item.processing, item.amount.amount.minor_units());
    }
    let Some(first) = items.values().next() else {
        return *totals == BatchTotals::default();
    };
    let count = first.item_count;
    let positions_complete = usize::from(count) == items.len()
        && items
            .iter()
            .all(|(position, item)| item.item_count == count && (1..=count).contains(position));
    positions_complete && uploaded == *totals
}
