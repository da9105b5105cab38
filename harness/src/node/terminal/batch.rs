//! Batch close: 0500 with the open batch's totals; on 95 the items are
//! uploaded one by one (0320, each acknowledged by 0330), then the close is
//! repeated as 0501.

use super::{CloseSending, CloseStep, Effects, Terminal, TerminalRecord, TerminalTimer};
use crate::cover::{hit, hit_either, Mark};
use crate::node::{Effect, Millis, OperationId, Outcome};
use crate::wire::typed::{BatchClose, BatchCloseResponse, BatchUpload, BatchUploadResponse, WireMessage};
use crate::wire::types::{ApprovalCode, BatchNumber, ResponseCode};

impl Terminal {
    /// Journal the close with its STAN and totals, then send the 0500. A
    /// close in doubt (an earlier close of this batch got no answer) is
    /// repeated instead, as 0501 with the earlier close's key: if the host
    /// closed the batch then, its stored answer closes it here too.
    pub(super) fn start_close(&mut self, now: Millis, operation: OperationId, out: &mut Effects) {
        let batch = self.state.batch;
        let in_doubt = (self.state.close_in_doubt.as_ref())
            .filter(|(doubtful, _)| *doubtful == batch)
            .map(|(_, trace)| trace.clone());
        let repeat = in_doubt.is_some();
        hit_either(
            repeat,
            Mark::TerminalCloseInDoubtRepeated,
            Mark::TerminalCloseStarted,
        );
        let trace = in_doubt.unwrap_or_else(|| self.trace(self.state.next_stan, now));
        let record = TerminalRecord::CloseStarted {
            operation,
            trace,
            batch,
            totals: self.state.totals(batch, self.config.currency),
        };
        self.record(record, out);
        out.push(Effect::Sync);
        self.close_resumed = repeat;
        self.send_close_step(now, 1, out);
    }

    /// The step the journal says comes next.
    fn next_close_step(&self) -> Option<CloseStep> {
        let close = self.state.close.as_ref()?;
        if !close.mismatch {
            return Some(CloseStep::Close);
        }
        let item_count = self.upload_count();
        Some(if close.acknowledged_items < item_count {
            CloseStep::Upload(close.acknowledged_items + 1)
        } else {
            CloseStep::Confirm
        })
    }

    fn upload_count(&self) -> u16 {
        let batch = self
            .state
            .close
            .as_ref()
            .map_or(self.state.batch, |close| close.batch);
        self.state.items(batch, self.config.currency).len() as u16
    }

    /// Send (or resend, `attempts` > 1) the next step and set its timer.
    pub(super) fn send_close_step(&mut self, now: Millis, attempts: u32, out: &mut Effects) {
        let (Some(step), Some(close)) = (self.next_close_step(), self.state.close.clone()) else {
            return;
        };
        let at = now.plus(self.config.response_timeout_ms);
        let message = match step {
            CloseStep::Close | CloseStep::Confirm => {
                let repeat = step == CloseStep::Confirm || attempts > 1 || self.close_resumed;
                if !repeat {
                    Terminal::crash_point(out, "terminal.batch.after_sync_before_send");
                }
                WireMessage::BatchClose(BatchClose {
                    repeat,
                    trace: self.retransmitted(&close.trace, now),
                    merchant: self.config.merchant.clone(),
                    batch: close.batch,
                    currency: self.config.currency,
                    totals: close.totals,
                })
            }
            CloseStep::Upload(item) => self.upload_item(now, close.batch, item),
        };
        self.send(&message, out);
        let timer = match step {
            CloseStep::Upload(item) => TerminalTimer::BatchUpload {
                batch: close.batch,
                item,
            },
            _ => TerminalTimer::BatchClose(close.batch),
        };
        out.push(Effect::SetTimer { timer, at });
        self.close = Some(CloseSending { step, attempts });
    }

    fn upload_item(&self, now: Millis, batch: BatchNumber, item: u16) -> WireMessage {
        let items = self.state.items(batch, self.config.currency);
        let transaction = items[usize::from(item) - 1];
        let request = &transaction.request;
        let approval = (transaction.answer.as_ref())
            .and_then(|answer| answer.approval.clone())
            .unwrap_or_else(|| ApprovalCode::new("000000").expect("six digits"));
        WireMessage::BatchUpload(BatchUpload {
            trace: self.retransmitted(&request.trace, now),
            merchant: self.config.merchant.clone(),
            batch,
            processing: request.processing,
            pan: request.pan.clone(),
            amount: request.amount,
            rrn: request.rrn.clone(),
            approval,
            item,
            item_count: items.len() as u16,
        })
    }

    /// A 0510 for the close waiting for one.
    pub(super) fn on_close_response(&mut self, now: Millis, response: BatchCloseResponse, out: &mut Effects) {
        let (Some(close), Some(sending)) = (self.state.close.clone(), self.close) else {
            return;
        };
        let waiting = matches!(sending.step, CloseStep::Close | CloseStep::Confirm);
        if !waiting || response.trace.key() != close.trace.key() || response.batch != close.batch {
            return;
        }
        if rejects_a_message(response.response) {
            hit(Mark::TerminalCloseMessageRejected);
            return;
        }
        out.push(Effect::CancelTimer(TerminalTimer::BatchClose(close.batch)));
        self.close = None;
        match (sending.step, response.response) {
            (_, ResponseCode::Approved) => {
                let uploaded = if close.mismatch {
                    hit(Mark::TerminalClosedAfterUpload);
                    u32::from(self.upload_count())
                } else {
                    hit(Mark::TerminalClosed);
                    0
                };
                let operation = close.operation;
                let batch = close.batch;
                self.record(
                    TerminalRecord::BatchClosed {
                        operation,
                        batch,
                        uploaded,
                    },
                    out,
                );
                out.push(Effect::Sync);
                self.show(operation, out);
                self.pump(now, out);
            }
            (CloseStep::Close, ResponseCode::ReconcileError) => {
                hit(Mark::TerminalCloseMismatch95);
                self.record(TerminalRecord::CloseMismatch { batch: close.batch }, out);
                out.push(Effect::Sync);
                self.send_close_step(now, 1, out);
            }
            (_, code) => {
                hit(Mark::TerminalCloseDeclined);
                self.fail_close(now, Outcome::Declined { code }, out)
            }
        }
    }

    /// A 0330 for the upload item waiting for one.
    pub(super) fn on_upload_response(
        &mut self,
        now: Millis,
        response: BatchUploadResponse,
        out: &mut Effects,
    ) {
        let (Some(close), Some(sending)) = (self.state.close.clone(), self.close) else {
            return;
        };
        let CloseStep::Upload(item) = sending.step else {
            return;
        };
        let items = self.state.items(close.batch, self.config.currency);
        let item_key = items[usize::from(item) - 1].request.trace.key();
        if response.item != item || response.batch != close.batch || response.trace.key() != item_key {
            return;
        }
        if rejects_a_message(response.response) {
            hit(Mark::TerminalCloseMessageRejected);
            return;
        }
        out.push(Effect::CancelTimer(TerminalTimer::BatchUpload {
            batch: close.batch,
            item,
        }));
        self.close = None;
        if !response.response.is_approved() {
            hit(Mark::TerminalUploadDeclined);
            return self.fail_close(
                now,
                Outcome::Declined {
                    code: response.response,
                },
                out,
            );
        }
        hit(Mark::TerminalUploadAcknowledged);
        self.record(
            TerminalRecord::UploadAcknowledged {
                batch: close.batch,
                item,
            },
            out,
        );
        out.push(Effect::Sync);
        self.send_close_step(now, 1, out);
    }

    /// No answer to a close or upload step: repeat it, or give up after
    /// `batch_attempts_max` transmissions.
    pub(super) fn on_close_timeout(
        &mut self,
        now: Millis,
        batch: BatchNumber,
        item: Option<u16>,
        out: &mut Effects,
    ) {
        let (Some(close), Some(sending)) = (self.state.close.as_ref(), self.close) else {
            return;
        };
        let matches = match (sending.step, item) {
            (CloseStep::Upload(waiting), Some(item)) => waiting == item,
            (CloseStep::Close | CloseStep::Confirm, None) => true,
            _ => false,
        };
        if !matches || close.batch != batch {
            return;
        }
        self.close = None;
        if sending.attempts >= self.config.batch_attempts_max {
            hit(Mark::TerminalCloseInDoubt);
            let reason = format!(
                "host did not answer the batch close after {} attempts; batch {batch} stays open",
                sending.attempts
            );
            return self.fail_close(now, Outcome::Refused { reason }, out);
        }
        hit(Mark::TerminalCloseResent);
        self.send_close_step(now, sending.attempts + 1, out);
    }

    fn fail_close(&mut self, now: Millis, outcome: Outcome, out: &mut Effects) {
        let Some(close) = self.state.close.clone() else {
            return;
        };
        let operation = close.operation;
        let record = TerminalRecord::CloseFailed {
            operation,
            batch: close.batch,
            outcome,
        };
        self.record(record, out);
        out.push(Effect::Sync);
        self.show(operation, out);
        self.pump(now, out);
    }
}

/// 63 and 30 reject a message (a copy corrupted or forged on the way), not
/// the close: another copy may have closed the batch. Such an answer is no
/// answer; the close waits on and repeats (found by exploration, seed
/// 22549: a tampered copy's 63 failed a close the switch had made, so the
/// batch never closed).
fn rejects_a_message(code: ResponseCode) -> bool {
    matches!(code, ResponseCode::SecurityViolation | ResponseCode::FormatError)
}
