//! Every planted bug, caught end to end: for each bug a small hand-written
//! world (a workload and the faults that expose it) that the checker passes
//! with the bug off, and that violates the invariant the bug breaks with
//! the bug on. A harness that cannot catch its planted bugs is broken.
//!
//! Each case prints one `CATALOGUE` line (bug, test, invariants violated,
//! simulated ms); `cargo test --release --test sim_bugs -- --nocapture`
//! shows the table.

use payfault::check::{check, Invariant, Verdict};
use payfault::history::{Account, Outcome};
use payfault::node::bank::{CardState, CardholderAccount};
use payfault::node::terminal::{Card, TerminalCommand};
use payfault::node::{Bug, Bugs, OperationId};
use payfault::plan::topology::Topology;
use payfault::plan::{
    ArmedCrash, FaultPlan, HostId, LinkId, LinkPartition, Plan, Step, TimedCrash, Timing, WorkItem,
};
use payfault::plan::{Direction, LinkFaults, MessageAction, MessageMatch, MessageRule};
use payfault::sim::FaultProxy;
use payfault::sim::{run, RunResult, SimOptions};
use payfault::wire::types::{Amount, Currency, Expiry, MerchantId, Money, Pan, ResponseCode, TerminalId};
use payfault::wire::{Message, Mti};

// ---------------------------------------------------------------- workload

const TERM1: &str = "TERM0001";
const TERM2: &str = "TERM0002";
const BANK: &str = "bank-a";
/// 1,000.00 EUR, active, no limits.
const RICH: &str = "4111110000000001";

/// The link of a terminal or bank of the built-in topology.
fn link_id(name: &str) -> LinkId {
    Topology::standard().link_named(name).expect("a built-in link")
}

/// A host of the built-in topology.
fn host_id(name: &str) -> HostId {
    Topology::standard().host_named(name).expect("a built-in host")
}

fn terminal(name: &str) -> TerminalId {
    TerminalId::new(name).unwrap()
}

fn card(pan: &str) -> Card {
    Card {
        pan: Pan::new(pan).unwrap(),
        expiry: Expiry::from_wire("2812").unwrap(),
    }
}

fn eur(text: &str) -> Money {
    format!("{text} EUR").parse().unwrap()
}

fn at(at_ms: u64, name: &str, command: TerminalCommand) -> Step {
    Step {
        at_ms,
        item: WorkItem::Terminal {
            terminal: terminal(name),
            command,
        },
    }
}

fn sale(op: u32, at_ms: u64, name: &str, amount: &str) -> Step {
    let command = TerminalCommand::Sale {
        operation: OperationId(op),
        card: card(RICH),
        amount: eur(amount),
    };
    at(at_ms, name, command)
}

fn refund(op: u32, at_ms: u64, name: &str, original: u32, amount: &str) -> Step {
    let command = TerminalCommand::Refund {
        operation: OperationId(op),
        original: OperationId(original),
        amount: eur(amount),
    };
    at(at_ms, name, command)
}

fn void(op: u32, at_ms: u64, name: &str, original: u32) -> Step {
    let command = TerminalCommand::Void {
        operation: OperationId(op),
        original: OperationId(original),
    };
    at(at_ms, name, command)
}

fn close(op: u32, at_ms: u64, name: &str) -> Step {
    at(
        at_ms,
        name,
        TerminalCommand::CloseBatch {
            operation: OperationId(op),
        },
    )
}

// ------------------------------------------------------------------ faults

fn matching(direction: Direction, mti: u16, nth: Option<u32>) -> MessageMatch {
    MessageMatch {
        direction: Some(direction),
        mti: Some(mti),
        nth,
        ..MessageMatch::default()
    }
}

/// A plan under construction: the workload, its faults, its timing and
/// cards opened on top of the built-in bank's.
struct Case {
    seed: u64,
    workload: Vec<Step>,
    faults: FaultPlan,
    timing: Timing,
    cards: Vec<CardholderAccount>,
}

impl Case {
    /// A short run: `fault_phase_ms` of workload and faults, then heal,
    /// end-of-day batch close and a quiet period.
    fn new(fault_phase_ms: u64, workload: Vec<Step>) -> Case {
        Case {
            seed: 1,
            workload,
            faults: FaultPlan::default(),
            timing: Timing {
                fault_phase_ms,
                quiet_ms: 8_000,
                limit_ms: 120_000,
                ..Timing::default()
            },
            cards: Vec::new(),
        }
    }

    /// Do `action` to messages of `link` (a terminal or bank id).
    fn rule(mut self, link: &str, matching: MessageMatch, action: MessageAction) -> Case {
        let faults = self.faults.links.entry(link_id(link)).or_default();
        faults.rules.push(MessageRule {
            matching,
            action,
            from_ms: None,
            until_ms: None,
        });
        self
    }

    fn drop_nth(self, link: &str, direction: Direction, mti: u16, nth: u32) -> Case {
        self.rule(link, matching(direction, mti, Some(nth)), MessageAction::Drop)
    }

    fn crash_point(mut self, host: &str, point: &str, restart_after_ms: u64) -> Case {
        self.faults.crash_points.push(ArmedCrash {
            host: host_id(host),
            point: point.into(),
            nth: 1,
            restart_after_ms: Some(restart_after_ms),
        });
        self
    }

    fn run(&self, bugs: &[Bug]) -> RunResult {
        let mut topology = Topology::standard();
        topology.set_bugs(&Bugs::of(bugs.iter().copied()));
        topology.banks[0].cardholders.extend(self.cards.iter().cloned());
        let plan = Plan {
            seed: self.seed,
            topology,
            workload: self.workload.clone(),
            faults: self.faults.clone(),
            timing: self.timing,
        };
        run(&plan, &SimOptions::default()).expect("the world runs")
    }
}

// ----------------------------------------------------------------- verdicts

fn trace_text(result: &RunResult) -> String {
    let events: Vec<String> = result
        .trace
        .events()
        .iter()
        .map(|event| event.to_string())
        .collect();
    events.join("\n")
}

fn outcome_of(result: &RunResult, op: u32) -> Outcome {
    result
        .history
        .shown
        .iter()
        .find(|shown| shown.shown.operation == OperationId(op).into())
        .map(|shown| shown.shown.outcome.clone())
        .unwrap_or_else(|| panic!("op{op} never shown\n{}", trace_text(result)))
}

fn approved(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Approved { .. })
}

fn declined(outcome: &Outcome, wanted: ResponseCode) -> bool {
    matches!(outcome, Outcome::Declined { code } if *code == wanted)
}

fn failed_reversed(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::FailedReversed { .. })
}

fn closing(result: &RunResult, account: &Account) -> i64 {
    result.history.ledgers[0].closing[account].0
}

fn rich_account() -> Account {
    Account::Cardholder(Pan::new(RICH).unwrap())
}

fn merchant_account(id: &str) -> Account {
    Account::Merchant(MerchantId::new(id).unwrap())
}

/// The correct system passes every invariant, and the customer saw what
/// `expected` says.
fn assert_clean(result: &RunResult, expected: impl FnOnce(&RunResult) -> bool) {
    let verdict = check(&result.history);
    assert!(
        verdict.passed(),
        "bug off, but the checker failed:\n{}\n{}",
        report(&verdict),
        trace_text(result)
    );
    assert!(
        expected(result),
        "bug off, unexpected customer view\n{}",
        trace_text(result)
    );
}

/// With `bug` on, the checker reports `invariant`; one catalogue line.
fn assert_caught(bug: Bug, test: &str, result: &RunResult, invariant: Invariant) {
    let verdict = check(&result.history);
    let violated = verdict.violated();
    let names: Vec<&str> = violated.iter().map(|invariant| invariant.name()).collect();
    println!(
        "CATALOGUE | {bug} | {test} | {} | {} ms",
        names.join(", "),
        result.simulated_ms
    );
    assert!(
        violated.contains(&invariant),
        "{bug} on: expected {invariant}, got {names:?}\n{}\n{}",
        report(&verdict),
        trace_text(result)
    );
}

fn report(verdict: &Verdict) -> String {
    let lines: Vec<String> = verdict
        .violations
        .iter()
        .map(|violation| violation.to_string())
        .collect();
    lines.join("\n")
}

// -------------------------------------------------------------------- cases

/// A sale whose bank approval is lost: the switch answers 91 and reverses
/// it at the bank; a late retransmission of the 0200 reaches the switch
/// afterwards. A switch that forwards it again gets the bank's stored 00
/// and relays it: the terminal is answered 91 and then 00 for one key.
/// (With an idempotent bank nothing posts twice: the bank masks the
/// double forwarding, the changed answer is the visible damage.)
#[test]
fn switch_no_dedupe_breaks_same_answer() {
    let case = Case::new(10_000, vec![sale(1, 100, TERM1, "12.50")])
        .drop_nth(BANK, Direction::Response, 210, 1)
        .rule(
            TERM1,
            matching(Direction::Request, 200, Some(1)),
            MessageAction::Resend { delay_ms: 6_000 },
        );
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        declined(&outcome_of(r, 1), ResponseCode::IssuerUnavailable)
            && closing(r, &rich_account()) == 1_000_00
    });
    let bug = Bug::SwitchNoDedupe;
    assert_caught(
        bug,
        "switch_no_dedupe_breaks_same_answer",
        &case.run(&[bug]),
        Invariant::SameAnswer,
    );
}

/// The switch-bank link duplicates the sale: a bank that is not
/// idempotent debits the card twice.
#[test]
fn bank_not_idempotent_breaks_at_most_once() {
    let case = Case::new(3_000, vec![sale(1, 100, TERM1, "12.50")]).rule(
        BANK,
        matching(Direction::Request, 200, Some(1)),
        MessageAction::Duplicate { copies: 1 },
    );
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        approved(&outcome_of(r, 1)) && closing(r, &rich_account()) == 1_000_00 - 12_50
    });
    let bug = Bug::BankNotIdempotent;
    assert_caught(
        bug,
        "bank_not_idempotent_breaks_at_most_once",
        &case.run(&[bug]),
        Invariant::AtMostOnce,
    );
}

/// The bank crashes before its journal sync, with torn writes. Correct:
/// nothing was answered, the switch times out, reverses, the card is
/// whole. Replying before the sync: the sale was approved and shown, and
/// the rebooted bank has forgotten it.
#[test]
fn bank_reply_before_sync_breaks_durable_ack() {
    let mut case =
        Case::new(8_000, vec![sale(1, 100, TERM1, "12.50")]).crash_point(BANK, "bank.post.before_sync", 500);
    case.faults.torn_write_block = Some(16);
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        declined(&outcome_of(r, 1), ResponseCode::IssuerUnavailable)
            && closing(r, &rich_account()) == 1_000_00
    });
    let bug = Bug::BankReplyBeforeSync;
    assert_caught(
        bug,
        "bank_reply_before_sync_breaks_durable_ack",
        &case.run(&[bug]),
        Invariant::DurableAck,
    );
}

/// The terminal crashes right after the sale leaves (correct: right after
/// the synced journal record, before the send), reboots, and sells again.
/// Correct: on reboot the pending sale becomes a reversal, the next sale
/// gets the next STAN. Journalling after the send: the rebooted terminal
/// knows nothing of a sale the bank debited, reuses its STAN for the next
/// sale and is answered with the lost sale's stored approval: the next
/// sale is shown approved for 7.00 while the card moved 12.50. (With one
/// sale only, the end-of-day batch reconciliation reverses the uncaptured
/// sale and masks the bug.)
#[test]
fn terminal_journal_after_send_breaks_customer_view() {
    let case = Case::new(
        6_000,
        vec![sale(1, 100, TERM1, "12.50"), sale(2, 2_000, TERM1, "7.00")],
    )
    .crash_point(TERM1, "terminal.request.after_sync_before_send", 500);
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        failed_reversed(&outcome_of(r, 1))
            && approved(&outcome_of(r, 2))
            && closing(r, &rich_account()) == 1_000_00 - 7_00
    });
    let bug = Bug::TerminalJournalAfterSend;
    assert_caught(
        bug,
        "terminal_journal_after_send_breaks_customer_view",
        &case.run(&[bug]),
        Invariant::CustomerView,
    );
}

/// The approval is lost on the way to the terminal: it must time out,
/// show "failed, reversed" and reverse; showing a decline leaves the card
/// debited.
#[test]
fn terminal_timeout_as_decline_breaks_customer_view() {
    let case =
        Case::new(8_000, vec![sale(1, 100, TERM1, "12.50")]).drop_nth(TERM1, Direction::Response, 210, 1);
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        failed_reversed(&outcome_of(r, 1)) && closing(r, &rich_account()) == 1_000_00
    });
    let bug = Bug::TerminalTimeoutAsDecline;
    assert_caught(
        bug,
        "terminal_timeout_as_decline_breaks_customer_view",
        &case.run(&[bug]),
        Invariant::CustomerView,
    );
}

/// A lost approval is reversed, and every 0420 on the bank link arrives
/// twice: the bank must undo the sale once.
#[test]
fn reversal_every_copy_breaks_at_most_once() {
    let case = Case::new(8_000, vec![sale(1, 100, TERM1, "12.50")])
        .drop_nth(TERM1, Direction::Response, 210, 1)
        .rule(
            BANK,
            matching(Direction::Request, 420, None),
            MessageAction::Duplicate { copies: 1 },
        );
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        failed_reversed(&outcome_of(r, 1)) && closing(r, &rich_account()) == 1_000_00
    });
    let bug = Bug::ReversalEveryCopy;
    assert_caught(
        bug,
        "reversal_every_copy_breaks_at_most_once",
        &case.run(&[bug]),
        Invariant::AtMostOnce,
    );
}

/// The sale is delayed on the bank link beyond the switch's timeout: the
/// switch answers 91 and its reversal overtakes the sale. The bank must
/// leave a tombstone; ignoring the unknown reversal posts the late sale
/// although its reversal was acknowledged.
#[test]
fn reversal_unknown_ignored_breaks_durable_ack() {
    let mut case = Case::new(10_000, vec![sale(1, 100, TERM1, "12.50")]).rule(
        BANK,
        matching(Direction::Request, 200, Some(1)),
        MessageAction::Delay { delay_ms: 6_000 },
    );
    // Keep the switch on the connection that carries the delayed sale.
    case.timing.stale_connection_ms = 30_000;
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        declined(&outcome_of(r, 1), ResponseCode::IssuerUnavailable)
            && closing(r, &rich_account()) == 1_000_00
    });
    let bug = Bug::ReversalUnknownIgnored;
    assert_caught(
        bug,
        "reversal_unknown_ignored_breaks_durable_ack",
        &case.run(&[bug]),
        Invariant::DurableAck,
    );
}

/// A sale of 10.00 and two refunds of 6.00: the second is over the
/// refundable remainder and must be 13.
#[test]
fn refund_bound_unchecked_breaks_refund_bound() {
    let case = Case::new(
        4_000,
        vec![
            sale(1, 100, TERM1, "10.00"),
            refund(2, 1_000, TERM1, 1, "6.00"),
            refund(3, 2_000, TERM1, 1, "6.00"),
        ],
    );
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        approved(&outcome_of(r, 2))
            && declined(&outcome_of(r, 3), ResponseCode::InvalidAmount)
            && closing(r, &rich_account()) == 1_000_00 - 4_00
    });
    let bug = Bug::RefundBoundUnchecked;
    assert_caught(
        bug,
        "refund_bound_unchecked_breaks_refund_bound",
        &case.run(&[bug]),
        Invariant::RefundBound,
    );
}

/// Two partial refunds of 6.00 of a 10.00 sale, back to back: the second
/// reaches the bank before the first one's deferred posting.
#[test]
fn refund_bound_race_breaks_refund_bound() {
    let case = Case::new(
        4_000,
        vec![
            sale(1, 100, TERM1, "10.00"),
            refund(2, 1_000, TERM1, 1, "6.00"),
            refund(3, 1_000, TERM1, 1, "6.00"),
        ],
    );
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        approved(&outcome_of(r, 2))
            && declined(&outcome_of(r, 3), ResponseCode::InvalidAmount)
            && closing(r, &rich_account()) == 1_000_00 - 4_00
    });
    let bug = Bug::RefundBoundRace;
    assert_caught(
        bug,
        "refund_bound_race_breaks_refund_bound",
        &case.run(&[bug]),
        Invariant::RefundBound,
    );
}

/// The terminal reboots between two sales: the second must get a new
/// STAN. Reusing the first's makes it a copy of the first sale, answered
/// with the first sale's stored approval: shown approved, never debited.
#[test]
fn stan_not_persisted_breaks_customer_view() {
    let mut case = Case::new(
        5_000,
        vec![sale(1, 100, TERM1, "12.50"), sale(2, 3_000, TERM1, "7.00")],
    );
    case.faults.crashes.push(TimedCrash {
        host: host_id(TERM1),
        at_ms: 2_000,
        restart_after_ms: Some(200),
    });
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        approved(&outcome_of(r, 1))
            && approved(&outcome_of(r, 2))
            && closing(r, &rich_account()) == 1_000_00 - 12_50 - 7_00
    });
    let bug = Bug::StanNotPersisted;
    assert_caught(
        bug,
        "stan_not_persisted_breaks_customer_view",
        &case.run(&[bug]),
        Invariant::CustomerView,
    );
}

/// A lost approval, then a long partition of the terminal link: the
/// reversal must be retried until acknowledged. A terminal that gives up
/// leaves the card debited although it showed "failed, reversed". (No
/// batch close in this run: the switch's reconciliation at batch close
/// would reverse the uncaptured sale and hide the loss until then.)
#[test]
fn reversal_queue_gives_up_breaks_customer_view() {
    let mut case =
        Case::new(16_000, vec![sale(1, 100, TERM1, "12.50")]).drop_nth(TERM1, Direction::Response, 210, 1);
    case.faults.partitions.push(LinkPartition {
        link: link_id(TERM1),
        from_ms: 1_000,
        until_ms: Some(15_000),
    });
    case.timing.close_batches_at_end = false;
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        failed_reversed(&outcome_of(r, 1)) && closing(r, &rich_account()) == 1_000_00
    });
    let bug = Bug::ReversalQueueGivesUp;
    assert_caught(
        bug,
        "reversal_queue_gives_up_breaks_customer_view",
        &case.run(&[bug]),
        Invariant::CustomerView,
    );
}

/// A sale, its batch closed and settled, then a void of it: must be 12.
#[test]
fn void_after_settlement_breaks_void_rule() {
    // A terminal voids only sales of its open batch. The host sees a void of
    // a settled sale when the switch closed and settled the batch but every
    // 0510 back to the terminal was lost: the terminal gave up closing and
    // still takes the batch for open.
    let case = Case::new(
        20_000,
        vec![
            sale(1, 100, TERM1, "12.50"),
            close(2, 1_000, TERM1),
            void(3, 18_000, TERM1, 1),
        ],
    )
    .rule(
        TERM1,
        matching(Direction::Response, 510, None),
        MessageAction::Drop,
    );
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        approved(&outcome_of(r, 1))
            && matches!(outcome_of(r, 2), Outcome::Refused { .. })
            && declined(&outcome_of(r, 3), ResponseCode::InvalidTransaction)
            && closing(r, &merchant_account("MERCHANT0000001")) == 500_00 + 12_50
    });
    let bug = Bug::VoidAfterSettlement;
    assert_caught(
        bug,
        "void_after_settlement_breaks_void_rule",
        &case.run(&[bug]),
        Invariant::VoidRule,
    );
}

/// The settlement 0500 arrives twice at the bank: the merchant is paid once.
#[test]
fn batch_settled_twice_breaks_at_most_once() {
    let case = Case::new(3_000, vec![sale(1, 100, TERM1, "12.50")]).rule(
        BANK,
        matching(Direction::Request, 500, None),
        MessageAction::Duplicate { copies: 1 },
    );
    // The duplicate must happen in the run, so keep faults through the
    // end-of-day close.
    let mut case = case;
    case.workload.push(close(2, 1_000, TERM1));
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        approved(&outcome_of(r, 1)) && closing(r, &merchant_account("MERCHANT0000001")) == 500_00 + 12_50
    });
    let bug = Bug::BatchSettledTwice;
    assert_caught(
        bug,
        "batch_settled_twice_breaks_at_most_once",
        &case.run(&[bug]),
        Invariant::AtMostOnce,
    );
}

/// A refund at a merchant with no money (MERCHANT0000002 opens at 0 and
/// its sale is not settled yet): 51, and nothing moves.
#[test]
fn decline_partial_posting_breaks_declines_move_nothing() {
    let case = Case::new(
        3_000,
        vec![sale(1, 100, TERM2, "20.00"), refund(2, 1_000, TERM2, 1, "10.00")],
    );
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        approved(&outcome_of(r, 1))
            && declined(&outcome_of(r, 2), ResponseCode::InsufficientFunds)
            && closing(r, &merchant_account("MERCHANT0000002")) == 20_00
    });
    let bug = Bug::DeclinePartialPosting;
    assert_caught(
        bug,
        "decline_partial_posting_breaks_declines_move_nothing",
        &case.run(&[bug]),
        Invariant::DeclinesMoveNothing,
    );
}

/// Offset in the encoded 0200 of the hundred-thousands digit of DE4: MTI
/// (4), primary bitmap (8), DE2 (LL + 16 digits), DE3 (6), then DE4's
/// twelve digits from offset 36.
const AMOUNT_DIGIT_OFFSET: usize = 43;

/// A seed whose terminal-link proxy turns that '0' into another digit, so
/// the corrupted sale still parses, for a larger amount.
fn seed_corrupting_amount_to_a_digit(faults: &LinkFaults) -> u64 {
    let mut message = Message::new(Mti::parse("0200").unwrap());
    message
        .set_text(2, RICH)
        .set_text(3, "000000")
        .set_text(4, "000000001250");
    let bytes = payfault::wire::encode(&message).unwrap();
    (1..10_000u64)
        .find(|seed| {
            // The world seeds the first terminal's proxy like this.
            let mut proxy = FaultProxy::new("probe", faults.clone(), seed ^ 0x7E41_0000);
            let (deliveries, _) = proxy.on_message(Direction::Request, bytes.clone(), 0);
            let byte = deliveries[0].bytes[AMOUNT_DIGIT_OFFSET];
            byte != b'0' && byte.is_ascii_digit()
        })
        .expect("some seed flips a digit into a digit")
}

/// A sale corrupted on the terminal link (one digit of the amount): the
/// switch must answer 63 and nothing moves; without MAC verification the
/// bank debits the corrupted amount.
#[test]
fn mac_not_verified_breaks_customer_view() {
    let mut case = Case::new(3_000, vec![sale(1, 100, TERM1, "12.50")]).rule(
        TERM1,
        matching(Direction::Request, 200, Some(1)),
        MessageAction::Corrupt {
            offset: Some(AMOUNT_DIGIT_OFFSET),
        },
    );
    case.seed = seed_corrupting_amount_to_a_digit(&case.faults.links[&link_id(TERM1)]);
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        // The corrupted request is rejected with 63; the terminal cannot know
        // whether another copy went through, so it shows failed and reverses.
        outcome_of(r, 1)
            == Outcome::FailedReversed {
                reason: ResponseCode::SecurityViolation,
            }
            && closing(r, &rich_account()) == 1_000_00
    });
    let bug = Bug::MacNotVerified;
    assert_caught(
        bug,
        "mac_not_verified_breaks_customer_view",
        &case.run(&[bug]),
        Invariant::CustomerView,
    );
}

/// A sale on a card whose expiry month (October 2026) ended before the
/// bank's date (22 November 2026): declined 54. A bank whose calendar
/// gives a card one month more approves it, against the card's rules.
#[test]
fn bank_expiry_off_by_one_month_breaks_card_rules() {
    const LAPSED: &str = "4111110000000009";
    let lapsed = Card {
        pan: Pan::new(LAPSED).unwrap(),
        expiry: Expiry::from_wire("2610").unwrap(),
    };
    let command = TerminalCommand::Sale {
        operation: OperationId(1),
        card: lapsed.clone(),
        amount: eur("25.00"),
    };
    let mut case = Case::new(3_000, vec![at(100, TERM1, command)]);
    case.cards.push(CardholderAccount {
        pan: lapsed.pan.clone(),
        currency: Currency::EUR,
        balance: Amount::new(100_00).unwrap(),
        state: CardState::Active,
        expiry: lapsed.expiry,
        transaction_limit: None,
        daily_limit: None,
        daily_count_limit: None,
    });
    let clean = case.run(&[]);
    let account = Account::Cardholder(lapsed.pan.clone());
    assert_clean(&clean, |r| {
        declined(&outcome_of(r, 1), ResponseCode::ExpiredCard) && closing(r, &account) == 100_00
    });
    let bug = Bug::BankExpiryOffByOneMonth;
    let caught = case.run(&[bug]);
    assert!(approved(&outcome_of(&caught, 1)), "the buggy bank approves");
    assert_caught(
        bug,
        "bank_expiry_off_by_one_month_breaks_card_rules",
        &caught,
        Invariant::CardRules,
    );
}

/// A 10.00 sale voided, then refunded 4.00: the void gave it all back, so
/// the refund is declined 12. A bank that checks only the refundable
/// remainder (a void leaves it at 10.00) refunds it: the cardholder gets
/// 14.00 back for a 10.00 sale, and money is still conserved.
#[test]
fn refund_after_void_breaks_sale_bound() {
    let case = Case::new(
        4_000,
        vec![
            sale(1, 100, TERM1, "10.00"),
            void(2, 1_000, TERM1, 1),
            refund(3, 2_000, TERM1, 1, "4.00"),
        ],
    );
    let clean = case.run(&[]);
    assert_clean(&clean, |r| {
        approved(&outcome_of(r, 2))
            && declined(&outcome_of(r, 3), ResponseCode::InvalidTransaction)
            && closing(r, &rich_account()) == 1_000_00
    });
    let bug = Bug::RefundAfterVoid;
    let caught = case.run(&[bug]);
    assert_eq!(closing(&caught, &rich_account()), 1_000_00 + 4_00);
    assert_caught(
        bug,
        "refund_after_void_breaks_sale_bound",
        &caught,
        Invariant::SaleBound,
    );
}

/// Every planted bug has a case above (names start with the bug's).
#[test]
fn every_planted_bug_has_a_case() {
    let source = include_str!("sim_bugs.rs");
    for bug in Bug::ALL {
        let test = format!("fn {}_breaks_", bug.name().replace('-', "_"));
        assert!(source.contains(&test), "no case for {bug}");
    }
}
