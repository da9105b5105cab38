//! Unit tests of the journal-derived state and the RRN.

use super::flow::rrn;
use super::*;
use crate::wire::types::Stan;

fn config() -> TerminalConfig {
    TerminalConfig::new(
        TerminalId::new("TERM0001").unwrap(),
        MerchantId::new("MERCHANT0000001").unwrap(),
        InstitutionId::new("42").unwrap(),
        MacKey([1; 16]),
    )
}

fn sale(operation: u32) -> TerminalCommand {
    TerminalCommand::Sale {
        operation: OperationId(operation),
        card: Card {
            pan: Pan::new("4111111111111111").unwrap(),
            expiry: Expiry { year: 30, month: 1 },
        },
        amount: Money::new(500, Currency::EUR).unwrap(),
    }
}

#[test]
fn rrn_is_batch_then_stan_in_twelve_digits() {
    let rrn = rrn(BatchNumber::new(12).unwrap(), Stan::new(345).unwrap());
    assert_eq!(rrn.as_str(), "000012000345");
}

#[test]
fn replaying_the_journal_rebuilds_the_live_state() {
    let mut live = Terminal::boot(config(), Vec::new());
    let mut journal = Vec::new();
    for operation in 1..=3 {
        for effect in live.on_command(Millis(0), sale(operation)) {
            if let Effect::Append(record) = effect {
                journal.push(record);
            }
        }
    }
    let rebooted = Terminal::boot(config(), journal);
    assert_eq!(rebooted.state.next_stan, live.state.next_stan);
    assert_eq!(
        rebooted.state.next_stan.value(),
        2,
        "one request sent, two queued"
    );
    assert_eq!(rebooted.state.queue, live.state.queue);
    assert_eq!(rebooted.state.unanswered(), live.state.unanswered());
    assert_eq!(rebooted.repeat_first.len(), 0);
}
