//! Flows 5 and 6: batch totals, close, upload after 95.

use super::*;
use payfault::wire::typed::BatchTotals;

/// Sales 1000 (approved), 2000 (approved then voided), 4000 (declined),
/// 8000 (timed out, reversed), refund 300 of the first: debits 1 × 1000,
/// credits 1 × 300.
fn mixed_batch(fixture: &mut Fixture) {
    fixture.approved_sale(1, 1_000);
    fixture.approved_sale(2, 2_000);
    let void_request = only_request(&fixture.command(void(3, 2)));
    fixture.deliver(&answer(&void_request, ResponseCode::Approved));
    let declined = only_request(&fixture.command(sale(4, 4_000)));
    fixture.deliver(&answer(&declined, ResponseCode::InsufficientFunds));
    let lost = only_request(&fixture.command(sale(5, 8_000)));
    let effects = fixture.fire(TerminalTimer::Response(lost.trace.key()));
    fixture.deliver(&reversal_ack(&advices(&effects)[0]));
    let refund_request = only_request(&fixture.command(refund(6, 1, 300)));
    fixture.deliver(&answer(&refund_request, ResponseCode::Approved));
}

fn expected_totals() -> BatchTotals {
    BatchTotals {
        credit_count: 1,
        credit_amount: 300,
        debit_count: 1,
        debit_amount: 1_000,
    }
}

#[test]
fn totals_count_approved_sales_and_refunds_only() {
    let mut fixture = Fixture::new();
    mixed_batch(&mut fixture);
    assert_eq!(fixture.terminal.open_batch_totals(), expected_totals());
}

#[test]
fn a_close_answered_00_closes_the_batch_and_opens_the_next() {
    let mut fixture = Fixture::new();
    mixed_batch(&mut fixture);
    let effects = fixture.command(close(7));
    let order = shape(&effects);
    let started = position(&order, "append close started");
    assert_eq!(order[started + 1], "sync");
    assert_eq!(order[started + 2], "crash terminal.batch.after_sync_before_send");
    assert_eq!(order[started + 3], "send 0500");
    let batch_close = only_close(&effects);
    assert!(!batch_close.repeat);
    assert_eq!(batch_close.batch.value(), 1);
    assert_eq!(batch_close.totals, expected_totals());
    assert_eq!(batch_close.currency, Currency::EUR);
    assert_eq!(batch_close.trace.stan.value(), 7, "the close has its own STAN");
    let effects = fixture.deliver(&close_answer(&batch_close, ResponseCode::Approved));
    let order = shape(&effects);
    assert!(position(&order, "append batch closed") < position(&order, "show"));
    assert_eq!(only_outcome(&effects), Outcome::BatchClosed { uploaded: 0 });
    assert_eq!(fixture.terminal.batch().value(), 2);
    assert_eq!(fixture.terminal.open_batch_totals(), BatchTotals::default());
    let next = only_request(&fixture.command(sale(8, 100)));
    assert_eq!(next.batch.value(), 2);
    assert_eq!(next.rrn.as_str(), "000002000008");
}

#[test]
fn a_95_uploads_every_item_then_repeats_the_close_as_0501() {
    let mut fixture = Fixture::new();
    mixed_batch(&mut fixture);
    let batch_close = only_close(&fixture.command(close(7)));
    let mut effects = fixture.deliver(&close_answer(&batch_close, ResponseCode::ReconcileError));
    assert!(records(&effects)
        .iter()
        .any(|record| matches!(record, TerminalRecord::CloseMismatch { .. })));
    let mut uploaded = Vec::new();
    for position in 1..=2 {
        let upload = only_upload(&effects);
        assert_eq!((upload.item, upload.item_count), (position, 2));
        assert_eq!(upload.batch.value(), 1);
        uploaded.push((upload.processing, upload.amount, upload.approval.clone()));
        effects = fixture.deliver(&upload_ack(&upload));
    }
    assert_eq!(
        uploaded,
        [
            (
                ProcessingCode::Sale,
                eur(1_000),
                ApprovalCode::new("A00001").unwrap()
            ),
            (
                ProcessingCode::Refund,
                eur(300),
                ApprovalCode::new("A00006").unwrap()
            ),
        ]
    );
    let repeated = only_close(&effects);
    assert!(repeated.repeat, "0501 after the upload");
    assert_eq!(repeated.trace.key(), batch_close.trace.key());
    let effects = fixture.deliver(&close_answer(&repeated, ResponseCode::Approved));
    assert_eq!(only_outcome(&effects), Outcome::BatchClosed { uploaded: 2 });
    assert_eq!(fixture.terminal.batch().value(), 2);
}

#[test]
fn an_unanswered_upload_item_is_sent_again() {
    let mut fixture = Fixture::new();
    fixture.approved_sale(1, 1_000);
    let batch_close = only_close(&fixture.command(close(2)));
    let upload = only_upload(&fixture.deliver(&close_answer(&batch_close, ResponseCode::ReconcileError)));
    let timer = TerminalTimer::BatchUpload {
        batch: upload.batch,
        item: 1,
    };
    fixture.advance(5_000);
    let again = only_upload(&fixture.fire(timer));
    assert_eq!((again.item, again.rrn.clone()), (1, upload.rrn.clone()));
    let effects = fixture.deliver(&upload_ack(&again));
    let effects = fixture.deliver(&close_answer(&only_close(&effects), ResponseCode::Approved));
    assert_eq!(only_outcome(&effects), Outcome::BatchClosed { uploaded: 1 });
}

#[test]
fn a_close_the_host_never_answers_fails_after_bounded_attempts() {
    let mut fixture = Fixture::new();
    fixture.approved_sale(1, 1_000);
    let first = only_close(&fixture.command(close(2)));
    let timer = TerminalTimer::BatchClose(first.batch);
    for _ in 1..fixture.config.batch_attempts_max {
        fixture.advance(5_000);
        let again = only_close(&fixture.fire(timer.clone()));
        assert!(again.repeat);
        assert_eq!(again.totals, first.totals);
    }
    fixture.advance(5_000);
    let effects = fixture.fire(timer);
    assert!(sent(&effects).is_empty());
    let outcome = only_outcome(&effects);
    assert!(
        matches!(&outcome, Outcome::Refused { reason } if reason.contains("stays open")),
        "{outcome:?}"
    );
    assert_eq!(fixture.terminal.batch().value(), 1);
    assert_eq!(fixture.terminal.open_batch_totals().debit_amount, 1_000);
    assert!(fixture.terminal.is_idle());
}

#[test]
fn a_close_waits_for_the_reversal_queue_to_drain() {
    let mut fixture = Fixture::new();
    let lost = only_request(&fixture.command(sale(1, 1_000)));
    let effects = fixture.fire(TerminalTimer::Response(lost.trace.key()));
    assert!(sent(&fixture.command(close(2))).is_empty());
    let effects = fixture.deliver(&reversal_ack(&advices(&effects)[0]));
    assert_eq!(only_close(&effects).totals, BatchTotals::default());
}

#[test]
fn a_reboot_during_the_upload_resumes_at_the_next_item() {
    let mut fixture = Fixture::new();
    fixture.approved_sale(1, 1_000);
    fixture.approved_sale(2, 2_000);
    let batch_close = only_close(&fixture.command(close(3)));
    let upload = only_upload(&fixture.deliver(&close_answer(&batch_close, ResponseCode::ReconcileError)));
    fixture.deliver(&upload_ack(&upload));
    let effects = fixture.reboot();
    let resumed = only_upload(&effects);
    assert_eq!(resumed.item, 2);
    let effects = fixture.deliver(&upload_ack(&resumed));
    let effects = fixture.deliver(&close_answer(&only_close(&effects), ResponseCode::Approved));
    assert_eq!(only_outcome(&effects), Outcome::BatchClosed { uploaded: 2 });
}

#[test]
fn a_reboot_before_the_close_answer_repeats_the_close() {
    let mut fixture = Fixture::new();
    fixture.approved_sale(1, 1_000);
    let batch_close = only_close(&fixture.command(close(2)));
    let resumed = only_close(&fixture.reboot());
    assert!(resumed.repeat);
    assert_eq!(resumed.trace.key(), batch_close.trace.key());
    let effects = fixture.deliver(&close_answer(&resumed, ResponseCode::Approved));
    assert_eq!(only_outcome(&effects), Outcome::BatchClosed { uploaded: 0 });
}

/// Let a close go unanswered `batch_attempts_max` times: it fails, shown
/// `Refused`, and is in doubt (the host may have closed the batch).
fn close_in_doubt(fixture: &mut Fixture, operation: u32) -> BatchClose {
    let first = only_close(&fixture.command(close(operation)));
    let timer = TerminalTimer::BatchClose(first.batch);
    for _ in 1..fixture.config.batch_attempts_max {
        fixture.advance(5_000);
        only_close(&fixture.fire(timer.clone()));
    }
    fixture.advance(5_000);
    let outcome = only_outcome(&fixture.fire(timer));
    assert!(matches!(outcome, Outcome::Refused { .. }), "{outcome:?}");
    first
}

/// The switch closed and settled the batch but every 0510 was lost: the
/// next close must repeat the same key, so the switch's stored answer (for
/// that key) closes the batch at the terminal too. A close with a new STAN
/// would be answered with the stored 0510 of the old key, which the terminal
/// rightly ignores: the batch could never be closed again.
#[test]
fn a_close_in_doubt_is_repeated_with_its_own_key() {
    let mut fixture = Fixture::new();
    fixture.approved_sale(1, 1_000);
    let first = close_in_doubt(&mut fixture, 2);
    let again = only_close(&fixture.command(close(3)));
    assert!(again.repeat, "a repeat of the close in doubt: 0501");
    assert_eq!(again.trace.key(), first.trace.key());
    assert_eq!(again.totals, first.totals);
    let effects = fixture.deliver(&close_answer(&first, ResponseCode::Approved));
    assert_eq!(only_outcome(&effects), Outcome::BatchClosed { uploaded: 0 });
    assert_eq!(fixture.terminal.batch().value(), 2);
    // The doubt is over: the next batch takes sales, and its close has a new STAN.
    let next = only_request(&fixture.command(sale(4, 100)));
    assert_eq!(next.batch.value(), 2);
    fixture.deliver(&answer(&next, ResponseCode::Approved));
    let fresh = only_close(&fixture.command(close(5)));
    assert!(!fresh.repeat);
    assert_ne!(fresh.trace.key(), first.trace.key());
}

/// While the close is in doubt, a sale or refund would enter a batch the host
/// may have closed and settled already (and never be settled, or break the
/// settlement totals): refused locally. A void is still asked (the host
/// refuses it if the batch was settled). A reboot keeps the doubt.
#[test]
fn while_a_close_is_in_doubt_sales_and_refunds_are_refused() {
    let mut fixture = Fixture::new();
    fixture.approved_sale(1, 1_000);
    close_in_doubt(&mut fixture, 2);
    for command in [sale(3, 500), refund(4, 1, 200)] {
        let effects = fixture.command(command);
        assert!(sent(&effects).is_empty());
        let outcome = only_outcome(&effects);
        assert!(
            matches!(&outcome, Outcome::Refused { reason } if reason.contains("in doubt")),
            "{outcome:?}"
        );
    }
    fixture.reboot();
    let effects = fixture.command(sale(5, 500));
    assert!(sent(&effects).is_empty(), "the doubt survives a reboot");
    let voided = only_request(&fixture.command(void(6, 1)));
    assert_eq!(voided.processing, ProcessingCode::Void);
    fixture.deliver(&answer(&voided, ResponseCode::InvalidTransaction));
    assert!(only_close(&fixture.command(close(7))).repeat);
}

/// A definitive answer other than 00 is no doubt: the next close is new.
#[test]
fn a_declined_close_is_not_in_doubt() {
    let mut fixture = Fixture::new();
    fixture.approved_sale(1, 1_000);
    let first = only_close(&fixture.command(close(2)));
    let effects = fixture.deliver(&close_answer(&first, ResponseCode::SystemMalfunction));
    assert!(matches!(only_outcome(&effects), Outcome::Declined { .. }));
    only_request(&fixture.command(sale(3, 500)));
}

#[test]
fn a_63_to_a_close_is_no_answer_the_close_repeats_and_a_00_closes_the_batch() {
    // A tampered copy of the 0500 is answered 63 by the switch while the
    // real one was closed there: the 63 says nothing about this close.
    let mut fixture = Fixture::new();
    fixture.approved_sale(1, 1_000);
    let batch_close = only_close(&fixture.command(close(2)));
    for code in [ResponseCode::SecurityViolation, ResponseCode::FormatError] {
        let effects = fixture.deliver(&close_answer(&batch_close, code));
        assert!(effects.is_empty(), "{code:?} is ignored: {:?}", shape(&effects));
    }
    let effects = fixture.fire(TerminalTimer::BatchClose(batch_close.batch));
    let repeated = only_close(&effects);
    assert!(repeated.repeat, "the timeout repeats the close as 0501");
    assert_eq!(repeated.trace.key(), batch_close.trace.key());
    let effects = fixture.deliver(&close_answer(&repeated, ResponseCode::Approved));
    assert_eq!(only_outcome(&effects), Outcome::BatchClosed { uploaded: 0 });
    assert_eq!(fixture.terminal.batch().value(), 2);
}
