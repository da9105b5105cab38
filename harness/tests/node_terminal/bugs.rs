//! The planted bugs that live in the terminal: correct when off, wrong when on.

use super::*;

#[test]
fn terminal_journal_after_send_sends_before_the_pending_record() {
    for on in [false, true] {
        let mut fixture = if on {
            Fixture::with_bugs(&[Bug::TerminalJournalAfterSend])
        } else {
            Fixture::new()
        };
        let order = shape(&fixture.command(sale(1, 1_000)));
        let send = position(&order, "send 0200");
        let pending = position(&order, "append pending");
        assert_eq!(send < pending, on, "bug {on}: {order:?}");
    }
}

#[test]
fn terminal_timeout_as_decline_shows_68_and_never_reverses() {
    for on in [false, true] {
        let mut fixture = if on {
            Fixture::with_bugs(&[Bug::TerminalTimeoutAsDecline])
        } else {
            Fixture::new()
        };
        let request = only_request(&fixture.command(sale(1, 1_000)));
        let effects = fixture.fire(TerminalTimer::Response(request.trace.key()));
        let code = ResponseCode::ResponseTooLate;
        if on {
            assert_eq!(only_outcome(&effects), Outcome::Declined { code });
            assert!(advices(&effects).is_empty());
            assert!(advices(&fixture.reboot()).is_empty(), "not even after a reboot");
        } else {
            assert_eq!(only_outcome(&effects), Outcome::FailedReversed { reason: code });
            assert_eq!(advices(&effects).len(), 1);
        }
    }
}

#[test]
fn stan_not_persisted_reuses_trace_numbers_after_a_reboot() {
    for on in [false, true] {
        let mut fixture = if on {
            Fixture::with_bugs(&[Bug::StanNotPersisted])
        } else {
            Fixture::new()
        };
        fixture.approved_sale(1, 1_000);
        fixture.approved_sale(2, 2_000);
        fixture.reboot();
        let request = only_request(&fixture.command(sale(3, 3_000)));
        assert_eq!(request.trace.stan.value(), if on { 1 } else { 3 }, "bug {on}");
    }
}

#[test]
fn reversal_queue_gives_up_drops_an_unacknowledged_reversal() {
    for on in [false, true] {
        let mut fixture = if on {
            Fixture::with_bugs(&[Bug::ReversalQueueGivesUp])
        } else {
            Fixture::new()
        };
        let request = only_request(&fixture.command(sale(1, 1_000)));
        let key = request.trace.key();
        let mut transmissions = advices(&fixture.fire(TerminalTimer::Response(key.clone()))).len();
        let mut given_up = false;
        for _ in 0..10 {
            let effects = fixture.fire(TerminalTimer::ReversalRetry(key.clone()));
            transmissions += advices(&effects).len();
            given_up |= records(&effects)
                .iter()
                .any(|record| matches!(record, TerminalRecord::ReversalGivenUp { .. }));
        }
        if on {
            assert_eq!(transmissions, fixture.config.reversal_give_up_tries as usize);
            assert!(given_up, "the drop is journalled");
            assert!(fixture.terminal.reversal_queue().is_empty());
            assert_eq!(only_request(&fixture.command(sale(2, 1))).trace.stan.value(), 2);
        } else {
            assert_eq!(transmissions, 11);
            assert!(!given_up);
            assert_eq!(fixture.terminal.reversal_queue(), [key]);
        }
    }
}
