//! Flows 3 and 4: no usable answer, the reversal queue, and reboots.

use super::*;

fn timed_out(fixture: &mut Fixture, operation: u32) -> (FinancialRequest, Effects) {
    let request = only_request(&fixture.command(sale(operation, 1_000)));
    fixture.advance(fixture.config.response_timeout_ms);
    let effects = fixture.fire(TerminalTimer::Response(request.trace.key()));
    (request, effects)
}

#[test]
fn a_timeout_records_a_reversal_shows_failed_and_sends_0420() {
    let mut fixture = Fixture::new();
    let (request, effects) = timed_out(&mut fixture, 1);
    let order = shape(&effects);
    let queued = position(&order, "append reversal queued");
    assert_eq!(order[queued + 1], "sync");
    let shown = position(&order, "show");
    let crash = position(&order, "crash terminal.reversal.after_sync_before_send");
    let send = position(&order, "send 0420");
    assert!(queued < shown && shown < crash && crash < send, "{order:?}");
    assert_eq!(
        only_outcome(&effects),
        Outcome::FailedReversed {
            reason: ResponseCode::ResponseTooLate
        }
    );
    let advice = &advices(&effects)[0];
    assert!(!advice.repeat);
    assert_eq!(advice.reason, ResponseCode::ResponseTooLate);
    assert_eq!(advice.trace.key(), request.trace.key());
    assert_eq!(advice.rrn, request.rrn, "RRN is the same on the reversal");
    assert_eq!(advice.amount, request.amount);
    assert_eq!(advice.original.key(&advice.trace.terminal), request.trace.key());
    assert_eq!(fixture.terminal.reversal_queue(), [request.trace.key()]);
}

#[test]
fn de12_and_de13_stay_fixed_while_de7_follows_each_transmission() {
    let mut fixture = Fixture::new();
    let (request, effects) = timed_out(&mut fixture, 1);
    fixture.advance(3_000);
    let retry = fixture.fire(TerminalTimer::ReversalRetry(request.trace.key()));
    for advice in advices(&effects).iter().chain(advices(&retry).iter()) {
        assert_eq!(advice.trace.local_time, request.trace.local_time);
        assert_eq!(advice.trace.local_date, request.trace.local_date);
        assert_ne!(advice.trace.transmitted, request.trace.transmitted);
    }
    assert_eq!(advices(&retry)[0].trace.transmitted.to_wire(), "1122090008");
}

#[test]
fn a_reversal_repeats_as_0421_with_capped_backoff_until_acknowledged() {
    let mut fixture = Fixture::new();
    let (request, _) = timed_out(&mut fixture, 1);
    let key = request.trace.key();
    let mut intervals = Vec::new();
    let mut last = fixture.now;
    for _ in 0..6 {
        let effects = fixture.fire(TerminalTimer::ReversalRetry(key.clone()));
        let advice = &advices(&effects)[0];
        assert!(advice.repeat, "retries are 0421");
        assert_eq!(advice.rrn, request.rrn);
        let at = effects.iter().find_map(|effect| match effect {
            Effect::SetTimer { at, .. } => Some(*at),
            _ => None,
        });
        let at = at.expect("retry timer");
        intervals.push(at.since(fixture.now));
        fixture.now = at;
        last = at;
    }
    assert_eq!(intervals, [2_000, 4_000, 8_000, 8_000, 8_000, 8_000]);
    let retry = fixture.fire(TerminalTimer::ReversalRetry(key.clone()));
    let effects = fixture.deliver(&reversal_ack(&advices(&retry)[0]));
    assert_eq!(
        shape(&effects),
        ["append reversal acknowledged", "sync", "cancel timer"]
    );
    assert!(fixture.terminal.reversal_queue().is_empty());
    fixture.now = last.plus(60_000);
    assert!(
        fixture.fire(TerminalTimer::ReversalRetry(key)).is_empty(),
        "stops after the 0430"
    );
}

#[test]
fn a_0430_that_is_not_00_is_no_acknowledgement() {
    let mut fixture = Fixture::new();
    let (_, effects) = timed_out(&mut fixture, 1);
    let WireMessage::ReversalResponse(mut refused) = reversal_ack(&advices(&effects)[0]) else {
        panic!()
    };
    refused.response = ResponseCode::SecurityViolation;
    assert!(fixture
        .deliver(&WireMessage::ReversalResponse(refused))
        .is_empty());
    assert_eq!(fixture.terminal.reversal_queue().len(), 1);
}

#[test]
fn response_codes_68_and_96_count_as_no_answer() {
    for code in [ResponseCode::ResponseTooLate, ResponseCode::SystemMalfunction] {
        let mut fixture = Fixture::new();
        let request = only_request(&fixture.command(sale(1, 1_000)));
        let effects = fixture.deliver(&answer(&request, code));
        assert_eq!(only_outcome(&effects), Outcome::FailedReversed { reason: code });
        let advice = &advices(&effects)[0];
        assert_eq!(advice.reason, code);
        assert_eq!(advice.trace.key(), request.trace.key());
        assert!(!records(&effects)
            .iter()
            .any(|record| matches!(record, TerminalRecord::Answered { .. })));
    }
}

#[test]
fn queued_reversals_go_out_before_a_waiting_command() {
    let mut fixture = Fixture::new();
    let (_, effects) = timed_out(&mut fixture, 1);
    let advice = advices(&effects)[0].clone();
    let waiting = fixture.command(sale(2, 2_000));
    assert!(requests(&waiting).is_empty(), "the sale waits for the reversal");
    assert_eq!(fixture.terminal.command_queue_len(), 1);
    let effects = fixture.deliver(&reversal_ack(&advice));
    let order = shape(&effects);
    assert!(position(&order, "append reversal acknowledged") < position(&order, "send 0200"));
    assert_eq!(only_request(&effects).amount, eur(2_000));
}

#[test]
fn after_a_reboot_a_request_without_answer_is_reversed_first() {
    let mut fixture = Fixture::new();
    let request = only_request(&fixture.command(sale(1, 1_000)));
    fixture.command(sale(2, 2_000));
    fixture.advance(30_000);
    let effects = fixture.reboot();
    let order = shape(&effects);
    assert!(position(&order, "append reversal queued") < position(&order, "sync"));
    assert!(position(&order, "show") < position(&order, "send 0420"));
    assert!(
        requests(&effects).is_empty(),
        "no new request before the reversal is acknowledged"
    );
    let outcomes: Vec<(OperationId, Outcome)> = shows(&effects)
        .into_iter()
        .map(|shown| (shown.operation, shown.outcome))
        .collect();
    let reversed = Outcome::FailedReversed {
        reason: ResponseCode::ResponseTooLate,
    };
    assert_eq!(outcomes[0], (OperationId(1), reversed));
    assert_eq!(
        outcomes[1].0,
        OperationId(2),
        "the queued command is refused, not replayed"
    );
    assert!(matches!(&outcomes[1].1, Outcome::Refused { reason } if reason.contains("restarted")));
    assert!(
        requests(&fixture.command(sale(3, 3_000))).is_empty(),
        "waits for the reversal"
    );
    let advice = &advices(&effects)[0];
    assert_eq!(advice.trace.key(), request.trace.key());
    assert_eq!(advice.rrn, request.rrn);
    assert_eq!(advice.trace.local_time, request.trace.local_time);
    let effects = fixture.deliver(&reversal_ack(advice));
    let next = only_request(&effects);
    assert_eq!(next.amount, eur(3_000));
    assert_eq!(
        next.trace.stan.value(),
        2,
        "the next STAN is above every journalled one"
    );
}

#[test]
fn after_a_reboot_a_queued_reversal_is_repeated_as_0421() {
    let mut fixture = Fixture::new();
    let (request, _) = timed_out(&mut fixture, 1);
    let effects = fixture.reboot();
    assert!(shows(&effects).is_empty(), "already shown before the crash");
    let advice = &advices(&effects)[0];
    assert!(advice.repeat);
    assert_eq!(advice.trace.key(), request.trace.key());
}

#[test]
fn after_a_reboot_an_answer_recorded_but_not_shown_is_shown_once() {
    let mut fixture = Fixture::new();
    let request = only_request(&fixture.command(sale(1, 1_000)));
    let effects = fixture.deliver(&answer(&request, ResponseCode::Approved));
    // Crash right after the sync, before the show: drop the Shown record.
    let cut = fixture
        .journal
        .iter()
        .position(|record| matches!(record, TerminalRecord::Shown { .. }))
        .unwrap();
    fixture.journal.truncate(cut);
    assert_eq!(shows(&effects).len(), 1);
    let effects = fixture.reboot();
    assert!(matches!(only_outcome(&effects), Outcome::Approved { .. }));
    assert!(
        advices(&effects).is_empty(),
        "an answered request is not reversed"
    );
    assert!(shows(&fixture.reboot()).is_empty(), "shown once, never again");
}

#[test]
fn a_late_answer_after_a_reboot_reversal_is_ignored() {
    let mut fixture = Fixture::new();
    let request = only_request(&fixture.command(sale(1, 1_000)));
    fixture.reboot();
    assert!(fixture
        .deliver(&answer(&request, ResponseCode::Approved))
        .is_empty());
    assert_eq!(fixture.terminal.reversal_queue(), [request.trace.key()]);
}
