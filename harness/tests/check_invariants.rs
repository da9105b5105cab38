//! Every invariant of the checker on hand-built histories: a clean history
//! passes, and each mutation breaks exactly the invariants it should.

use std::collections::BTreeMap;

use payfault::check::{check, Invariant};
use payfault::history::*;
use payfault::wire::types::*;

fn key(stan: u32) -> TransactionKey {
    TransactionKey {
        terminal: terminal(),
        local_date: LocalDate::new(11, 22).unwrap(),
        stan: Stan::new(stan).unwrap(),
    }
}

fn terminal() -> TerminalId {
    TerminalId::new("TERM0001").unwrap()
}

fn card() -> Account {
    Account::Cardholder(Pan::new("4111111111111111").unwrap())
}

fn merchant() -> Account {
    Account::Merchant(MerchantId::new("MERCHANT0000001").unwrap())
}

fn clearing() -> Account {
    Account::Clearing(Currency::EUR)
}

fn eur(minor: u64) -> Money {
    Money::new(minor, Currency::EUR).unwrap()
}

fn posting(effect: EffectType, stan: Option<u32>, legs: &[(Account, i64)]) -> Posting {
    Posting {
        sequence: 0,
        key: stan.map(key),
        effect,
        batch: None,
        at_ms: None,
        entries: legs
            .iter()
            .map(|(account, minor)| Entry {
                account: account.clone(),
                minor: *minor,
                currency: Currency::EUR,
            })
            .collect(),
    }
}

fn shown(operation: u32, stan: u32, code: ProcessingCode, minor: u64, outcome: Outcome) -> ShownAt {
    ShownAt {
        at_ms: u64::from(operation) * 10,
        shown: Shown {
            terminal: terminal(),
            operation: OperationId(operation),
            kind: OperationKind::Financial(code),
            key: Some(key(stan)),
            rrn: None,
            amount: Some(eur(minor)),
            outcome,
        },
    }
}

fn approved() -> Outcome {
    Outcome::Approved {
        approval: ApprovalCode::new("A00001").unwrap(),
        balance: None,
    }
}

fn answer(receiver: Party, sender: Party, stan: u32, response: ResponseCode) -> AnswerSeen {
    AnswerSeen {
        at_ms: 0,
        receiver,
        sender,
        mti: 210,
        processing: Some(ProcessingCode::Sale),
        key: key(stan),
        response,
        approval: response
            .is_approved()
            .then(|| ApprovalCode::new("A00001").unwrap()),
    }
}

/// A financial request as bank-a received it from the switch, at 1,000 ms
/// on both clocks.
fn asked(stan: u32, processing: ProcessingCode, minor: u64, original: Option<u32>) -> RequestSeen {
    RequestSeen {
        at_ms: 1_000,
        clock_ms: 1_000,
        receiver: bank_party(),
        sender: Party::Switch,
        mti: 200,
        key: key(stan),
        asked: Asked::Financial(FinancialAsked {
            processing,
            pan: Pan::new("4111111111111111").unwrap(),
            expiry: Expiry::from_wire("2812").unwrap(),
            amount: eur(minor),
            merchant: MerchantId::new("MERCHANT0000001").unwrap(),
            batch: BatchNumber::new(1).unwrap(),
            original: original.map(key),
        }),
    }
}

/// The reversal advice of `stan` as bank-a received it.
fn reversal_asked(stan: u32, minor: u64) -> RequestSeen {
    RequestSeen {
        mti: 420,
        asked: Asked::Reversal(ReversalAsked {
            processing: ProcessingCode::Sale,
            amount: eur(minor),
            reason: ResponseCode::ResponseTooLate,
        }),
        ..asked(stan, ProcessingCode::Sale, minor, None)
    }
}

/// The switch's settlement of batch 1 (key STAN 9) as bank-a received it.
fn settlement_asked(credits: (u64, u64), debits: (u64, u64)) -> RequestSeen {
    RequestSeen {
        mti: 500,
        asked: Asked::Close(CloseAsked {
            merchant: MerchantId::new("MERCHANT0000001").unwrap(),
            batch: BatchNumber::new(1).unwrap(),
            currency: Currency::EUR,
            credits,
            debits,
        }),
        ..asked(9, ProcessingCode::Sale, 1, None)
    }
}

/// The card's expiry as its bank opened it and as every request carried it
/// (DE14).
fn set_expiry(history: &mut History, wire: &str) {
    let expiry = Expiry::from_wire(wire).unwrap();
    history.banks[0].cards[0].expiry = expiry;
    for request in &mut history.requests {
        if let Asked::Financial(asked) = &mut request.asked {
            asked.expiry = expiry;
        }
    }
}

/// When the bank decided `stan`: its posting's time and its request's
/// arrival on the bank's clock.
fn decided_at(history: &mut History, stan: u32, at_ms: u64) {
    for posting in postings(history).iter_mut().filter(|p| p.key == Some(key(stan))) {
        posting.at_ms = Some(at_ms);
    }
    for request in history.requests.iter_mut().filter(|r| r.key == key(stan)) {
        request.clock_ms = at_ms;
    }
}

fn operation(id: u32, request: Request) -> Operation {
    Operation {
        id: OperationId(id),
        terminal: terminal(),
        at_ms: u64::from(id) * 10 - 5,
        request,
    }
}

/// Recompute closing balances and sequence numbers from the postings.
fn settle_books(history: &mut History) {
    for ledger in &mut history.ledgers {
        let mut closing = ledger.opening.clone();
        for (sequence, posting) in ledger.postings.iter_mut().enumerate() {
            posting.sequence = sequence as u64;
            for entry in &posting.entries {
                closing
                    .entry(entry.account.clone())
                    .or_insert((0, entry.currency))
                    .0 += entry.minor;
            }
        }
        ledger.closing = closing;
    }
}

/// A sale approved and paid out, a partial refund of it, a declined sale, a
/// sale whose answer was lost and that was reversed, and a batch close.
fn clean() -> History {
    let pan = Pan::new("4111111111111111").unwrap();
    let refund = posting(EffectType::Refund, Some(2), &[(merchant(), -300), (card(), 300)]);
    let mut settlement = posting(
        EffectType::Settlement,
        None,
        &[(clearing(), -1000), (merchant(), 1000)],
    );
    settlement.batch = Some((terminal(), BatchNumber::new(1).unwrap()));
    let opening = BTreeMap::from([
        (card(), (10_000, Currency::EUR)),
        (merchant(), (5_000, Currency::EUR)),
        (clearing(), (0, Currency::EUR)),
    ]);
    let ledger = Ledger {
        bank: BankId("bank-a".into()),
        opening,
        closing: BTreeMap::new(),
        held: Vec::new(),
        postings: vec![
            posting(EffectType::Sale, Some(1), &[(card(), -1000), (clearing(), 1000)]),
            refund,
            posting(EffectType::Sale, Some(4), &[(card(), -200), (clearing(), 200)]),
            posting(
                EffectType::Reversal,
                Some(4),
                &[(card(), 200), (clearing(), -200)],
            ),
            settlement,
        ],
    };
    let bank = Party::Bank(BankId("bank-a".into()));
    let term = Party::Terminal(terminal());
    let mut history = History {
        operations: vec![
            operation(
                1,
                Request::Sale {
                    pan: pan.clone(),
                    amount: eur(1000),
                },
            ),
            operation(
                2,
                Request::Refund {
                    original: OperationId(1),
                    amount: eur(300),
                },
            ),
            operation(
                3,
                Request::Sale {
                    pan: pan.clone(),
                    amount: eur(50_000),
                },
            ),
            operation(
                4,
                Request::Sale {
                    pan,
                    amount: eur(200),
                },
            ),
            operation(5, Request::CloseBatch),
        ],
        shown: vec![
            shown(1, 1, ProcessingCode::Sale, 1000, approved()),
            shown(2, 2, ProcessingCode::Refund, 300, approved()),
            shown(
                3,
                3,
                ProcessingCode::Sale,
                50_000,
                Outcome::Declined {
                    code: ResponseCode::InsufficientFunds,
                },
            ),
            shown(
                4,
                4,
                ProcessingCode::Sale,
                200,
                Outcome::FailedReversed {
                    reason: ResponseCode::ResponseTooLate,
                },
            ),
            ShownAt {
                at_ms: 50,
                shown: Shown {
                    terminal: terminal(),
                    operation: OperationId(5),
                    kind: OperationKind::BatchClose,
                    key: None,
                    rrn: None,
                    amount: None,
                    outcome: Outcome::BatchClosed { uploaded: 0 },
                },
            },
        ],
        ledgers: vec![ledger],
        answers: vec![
            answer(Party::Switch, bank.clone(), 1, ResponseCode::Approved),
            answer(term.clone(), Party::Switch, 1, ResponseCode::Approved),
            AnswerSeen {
                processing: Some(ProcessingCode::Refund),
                ..answer(Party::Switch, bank.clone(), 2, ResponseCode::Approved)
            },
            answer(term.clone(), Party::Switch, 1, ResponseCode::Approved),
            answer(Party::Switch, bank.clone(), 3, ResponseCode::InsufficientFunds),
            answer(term, Party::Switch, 3, ResponseCode::InsufficientFunds),
            answer(Party::Switch, bank, 4, ResponseCode::Approved),
        ],
        requests: vec![
            asked(1, ProcessingCode::Sale, 1000, None),
            asked(2, ProcessingCode::Refund, 300, Some(1)),
            asked(3, ProcessingCode::Sale, 50_000, None),
            asked(4, ProcessingCode::Sale, 200, None),
            reversal_asked(4, 200),
            settlement_asked((1, 300), (1, 1000)),
        ],
        open_work: Vec::new(),
        quiescent: true,
        banks: vec![setup()],
        commands: Vec::new(),
        closes_after_healing: Vec::new(),
        crashes: Vec::new(),
    };
    history.answers.push(reversal_ack(Party::Switch, bank_party(), 4));
    history.answers.push(AnswerSeen {
        mti: 510,
        processing: None,
        approval: None,
        ..answer(Party::Switch, bank_party(), 9, ResponseCode::Approved)
    });
    for posting in &mut history.ledgers[0].postings {
        if matches!(
            posting.effect,
            EffectType::Sale | EffectType::Refund | EffectType::Void
        ) {
            posting.at_ms = Some(1_000);
        }
    }
    settle_books(&mut history);
    history
}

fn bank_party() -> Party {
    Party::Bank(BankId("bank-a".into()))
}

/// The 0430 00 that acknowledges the reversal of `stan`.
fn reversal_ack(receiver: Party, sender: Party, stan: u32) -> AnswerSeen {
    AnswerSeen {
        mti: 430,
        processing: None,
        approval: None,
        ..answer(receiver, sender, stan, ResponseCode::Approved)
    }
}

/// bank-a's accounts as the clean history's ledger opens them.
fn setup() -> BankSetup {
    BankSetup {
        bank: BankId("bank-a".into()),
        // 2026-11-22 09:00 (20,779 days after 1970-01-01).
        epoch: Epoch {
            days_since_1970: 20_779,
            second_of_day: 9 * 3600,
            clock_reads_ms: 0,
        },
        cards: vec![CardSetup {
            pan: Pan::new("4111111111111111").unwrap(),
            currency: Currency::EUR,
            balance: Amount::new(10_000).unwrap(),
            state: CardState::Active,
            expiry: Expiry::from_wire("2812").unwrap(),
            transaction_limit: None,
            daily_limit: None,
            daily_count_limit: None,
        }],
        merchants: vec![MerchantSetup {
            id: MerchantId::new("MERCHANT0000001").unwrap(),
            currency: Currency::EUR,
            balance: Amount::new(5_000).unwrap(),
            state: MerchantState::Active,
            refund_cap: None,
            refund_window_ms: None,
            daily_refund_limit: None,
        }],
        maintenance: Vec::new(),
    }
}

fn command(after_postings: u64, command: OperatorAction) -> OperatorCommand {
    OperatorCommand {
        bank: BankId("bank-a".into()),
        at_ms: 500,
        after_postings,
        command,
    }
}

/// `request` as it arrived at `at_ms`, on both clocks.
fn arriving(request: RequestSeen, at_ms: u64) -> RequestSeen {
    RequestSeen {
        at_ms,
        clock_ms: at_ms,
        ..request
    }
}

/// bank-a's answer to refund `stan`, as the switch received it at `at_ms`.
fn refund_answered(stan: u32, response: ResponseCode, at_ms: u64) -> AnswerSeen {
    AnswerSeen {
        processing: Some(ProcessingCode::Refund),
        at_ms,
        ..answer(Party::Switch, bank_party(), stan, response)
    }
}

/// MERCHANT0000001 opens with `minor` cents.
fn merchant_holds(history: &mut History, minor: u64) {
    history.ledgers[0]
        .opening
        .insert(merchant(), (minor as i64, Currency::EUR));
    history.banks[0].merchants[0].balance = Amount::new(minor).unwrap();
}

/// bank-a crashed at `crash_ms`, if given.
fn bank_crashes(history: &mut History, crash_ms: Option<u64>) {
    history.crashes.extend(crash_ms.map(|at_ms| CrashSeen {
        at_ms,
        host: bank_party(),
    }));
}

/// When the switch received the bank's 0510 to the settlement of batch 1.
fn settled_at(history: &mut History, at_ms: u64) {
    for answer in history.answers.iter_mut().filter(|a| a.mti == 510) {
        answer.at_ms = at_ms;
    }
}

fn violated(history: &History) -> Vec<Invariant> {
    check(history).violated()
}

fn mutated(change: impl FnOnce(&mut History)) -> Vec<Invariant> {
    let mut history = clean();
    change(&mut history);
    settle_books(&mut history);
    violated(&history)
}

fn postings(history: &mut History) -> &mut Vec<Posting> {
    &mut history.ledgers[0].postings
}

#[test]
fn the_clean_history_passes_every_invariant() {
    let verdict = check(&clean());
    assert!(verdict.passed(), "{:#?}", verdict.violations);
}

#[test]
fn an_unbalanced_posting_breaks_double_entry_and_so_conservation() {
    let found = mutated(|h| postings(h)[0].entries[1].minor = 900);
    assert_eq!(
        found,
        vec![
            Invariant::DoubleEntry,
            Invariant::Conservation,
            Invariant::SettlementExact
        ]
    );
}

#[test]
fn a_balance_that_does_not_follow_from_the_postings_breaks_conservation() {
    let mut history = clean();
    history.ledgers[0].closing.get_mut(&merchant()).unwrap().0 += 1;
    assert_eq!(violated(&history), vec![Invariant::Conservation]);
}

#[test]
fn a_batch_settled_twice_breaks_at_most_once() {
    let found = mutated(|h| {
        let again = postings(h)[4].clone();
        postings(h).push(again);
    });
    assert_eq!(found, vec![Invariant::AtMostOnce, Invariant::SettlementExact]);
}

#[test]
fn a_copy_answered_differently_breaks_same_answer() {
    let found = mutated(|h| {
        h.answers.push(answer(
            Party::Terminal(terminal()),
            Party::Switch,
            1,
            ResponseCode::InvalidAmount,
        ))
    });
    assert_eq!(found, vec![Invariant::SameAnswer]);
    // 63: a tampered copy of the request was rejected; that decides nothing.
    let found = mutated(|h| {
        h.answers.push(answer(
            Party::Terminal(terminal()),
            Party::Switch,
            1,
            ResponseCode::SecurityViolation,
        ))
    });
    assert!(found.is_empty(), "{found:?}");
    // 94 "duplicate, no new effect" is not a different answer.
    let found = mutated(|h| {
        h.answers.push(answer(
            Party::Terminal(terminal()),
            Party::Switch,
            1,
            ResponseCode::Duplicate,
        ))
    });
    assert!(found.is_empty());
}

#[test]
fn a_declined_request_that_posted_breaks_declines_move_nothing() {
    let found = mutated(|h| {
        h.answers.push(answer(
            Party::Switch,
            Party::Bank(BankId("bank-a".into())),
            9,
            ResponseCode::InsufficientFunds,
        ));
        postings(h).push(posting(
            EffectType::Refund,
            Some(9),
            &[(merchant(), -50), (card(), 50)],
        ));
    });
    assert!(found.contains(&Invariant::DeclinesMoveNothing), "{found:?}");
    assert!(!found.contains(&Invariant::CustomerView));
}

#[test]
fn a_reversal_without_an_original_or_of_the_wrong_amount_breaks_reversal_soundness() {
    let found = mutated(|h| {
        postings(h).push(posting(
            EffectType::Reversal,
            Some(8),
            &[(card(), 70), (clearing(), -70)],
        ))
    });
    // A reversal of something never posted is also money no customer's
    // transaction explains.
    assert_eq!(
        found,
        vec![
            Invariant::ReversalSoundness,
            Invariant::SettlementExact,
            Invariant::ExplainedMoney
        ]
    );
    let found = mutated(|h| {
        postings(h)[3].entries = posting(
            EffectType::Reversal,
            Some(4),
            &[(card(), 150), (clearing(), -150)],
        )
        .entries
    });
    assert!(found.contains(&Invariant::ReversalSoundness), "{found:?}");
}

#[test]
fn refunds_over_the_sale_or_in_another_currency_break_refund_bound() {
    let found = mutated(|h| {
        let refund = posting(EffectType::Refund, Some(7), &[(merchant(), -800), (card(), 800)]);
        postings(h).push(refund);
        h.requests.push(asked(7, ProcessingCode::Refund, 800, Some(1)));
        h.shown.push(shown(7, 7, ProcessingCode::Refund, 800, approved()));
    });
    assert_eq!(found, vec![Invariant::RefundBound, Invariant::SaleBound]);
    let found = mutated(|h| {
        for entry in &mut postings(h)[1].entries {
            entry.currency = Currency::JPY;
        }
        h.ledgers[0].opening.insert(
            Account::Merchant(MerchantId::new("MERCHANT0000002").unwrap()),
            (0, Currency::JPY),
        );
    });
    assert!(found.contains(&Invariant::RefundBound), "{found:?}");
}

#[test]
fn a_void_after_settlement_or_partial_breaks_the_void_rule() {
    let found = mutated(|h| {
        let void = posting(EffectType::Void, Some(8), &[(card(), 1000), (clearing(), -1000)]);
        postings(h).push(void);
        h.requests.push(asked(8, ProcessingCode::Void, 1000, Some(1)));
        h.shown.push(shown(8, 8, ProcessingCode::Void, 1000, approved()));
    });
    assert_eq!(
        found,
        vec![
            Invariant::SaleBound,
            Invariant::VoidRule,
            Invariant::SettlementExact
        ]
    );
    let found = mutated(|h| {
        let void = posting(EffectType::Void, Some(8), &[(card(), 400), (clearing(), -400)]);
        postings(h).push(void);
        h.requests.push(asked(8, ProcessingCode::Void, 400, Some(4)));
    });
    assert!(found.contains(&Invariant::VoidRule), "{found:?}");
}

#[test]
fn what_the_terminal_showed_must_match_the_ledger() {
    // Shown approved, but nothing moved.
    let found = mutated(|h| h.shown[2].shown.outcome = approved());
    assert_eq!(found, vec![Invariant::CustomerView]);
    // Shown failed-and-reversed, but the reversal never posted: the card
    // stays debited (and the bank's 0430 for it did not last).
    let found = mutated(|h| {
        postings(h).remove(3);
    });
    assert_eq!(
        found,
        vec![
            Invariant::SettlementExact,
            Invariant::CustomerView,
            Invariant::DurableAck
        ]
    );
    // Approved sale in a closed batch, never paid out.
    let found = mutated(|h| {
        postings(h).remove(4);
        h.answers.retain(|a| a.mti != 510);
    });
    assert_eq!(found, vec![Invariant::CustomerView]);
    // ...and a settlement the bank acknowledged that paid nothing.
    let found = mutated(|h| {
        postings(h).remove(4);
    });
    assert_eq!(found, vec![Invariant::SettlementExact, Invariant::CustomerView]);
    // ...unless the payout is held for a frozen merchant.
    let found = mutated(|h| {
        let settlement = postings(h).remove(4);
        h.ledgers[0].held.push(HeldPayout {
            batch: settlement.batch.unwrap(),
        });
    });
    assert!(found.is_empty(), "{found:?}");
    // A decline the terminal was never sent (a timeout shown as a decline).
    let found = mutated(|h| {
        h.answers
            .retain(|a| !(a.key == key(3) && matches!(a.receiver, Party::Terminal(_))))
    });
    assert_eq!(found, vec![Invariant::CustomerView]);
    // A decline from the issuer that posted, even if a reversal undid it later.
    let found = mutated(|h| {
        postings(h).push(posting(
            EffectType::Sale,
            Some(3),
            &[(card(), -500), (clearing(), 500)],
        ));
        postings(h).push(posting(
            EffectType::Reversal,
            Some(3),
            &[(card(), 500), (clearing(), -500)],
        ));
    });
    assert!(found.contains(&Invariant::CustomerView), "{found:?}");
    // Shown twice the same way is fine (at-least-once display); differently is not.
    let found = mutated(|h| {
        let again = h.shown[0].clone();
        h.shown.push(again);
    });
    assert!(found.is_empty(), "{found:?}");
    let found = mutated(|h| {
        let mut again = h.shown[2].clone();
        again.shown.outcome = Outcome::Declined {
            code: ResponseCode::DoNotHonour,
        };
        h.shown.push(again);
    });
    assert!(found.contains(&Invariant::CustomerView), "{found:?}");
    // A batch close rejected (a corrupted 0500 drew a 63) is no financial decline.
    let found = mutated(|h| {
        h.shown[4].shown.key = Some(key(5));
        h.shown[4].shown.outcome = Outcome::Declined {
            code: ResponseCode::SecurityViolation,
        };
    });
    assert!(found.is_empty(), "{found:?}");
    // An operation never shown: its refund's money is then unexplained too.
    let found = mutated(|h| {
        h.shown.remove(1);
    });
    assert_eq!(found, vec![Invariant::CustomerView, Invariant::ExplainedMoney]);
}

#[test]
fn money_moved_for_a_key_no_terminal_showed_breaks_explained_money() {
    // A forged request that got through: a debit nobody at a terminal asked for.
    let found = mutated(|h| {
        postings(h).push(posting(
            EffectType::Sale,
            Some(9),
            &[(card(), -50), (clearing(), 50)],
        ))
    });
    assert_eq!(found, vec![Invariant::SettlementExact, Invariant::ExplainedMoney]);
}

#[test]
fn pending_work_or_no_quiet_breaks_no_limbo() {
    let found = mutated(|h| {
        h.open_work.push(OpenWork {
            host: "TERM0001".into(),
            what: "reversal queued".into(),
            key: Some(key(4)),
        })
    });
    assert_eq!(found, vec![Invariant::NoLimbo]);
    let found = mutated(|h| h.quiescent = false);
    assert_eq!(found, vec![Invariant::NoLimbo]);
}

#[test]
fn an_end_of_day_close_that_does_not_close_breaks_no_limbo() {
    // op5 is the clean history's close: as an end-of-day close it holds...
    let found = mutated(|h| h.closes_after_healing = vec![OperationId(5)]);
    assert_eq!(found, Vec::<Invariant>::new());
    // ...but refused after healing, the day's sales are never paid out.
    let found = mutated(|h| {
        h.closes_after_healing = vec![OperationId(5)];
        for shown in &mut h.shown {
            if shown.shown.operation == OperationId(5) {
                shown.shown.outcome = Outcome::Refused {
                    reason: "host did not answer the batch close after 3 attempts".into(),
                };
            }
        }
    });
    assert_eq!(found, vec![Invariant::NoLimbo]);
    // An end-of-day close that never showed anything is in limbo too.
    let found = mutated(|h| h.closes_after_healing = vec![OperationId(6)]);
    assert_eq!(found, vec![Invariant::NoLimbo]);
}

#[test]
fn an_approval_against_the_card_or_merchant_rules_of_its_moment_breaks_card_rules() {
    let frozen = || OperatorAction::SetCardState {
        pan: Pan::new("4111111111111111").unwrap(),
        state: CardState::Frozen,
    };
    // The card was frozen before the sale: the approval breaks the rules.
    let found = mutated(|h| h.commands.push(command(0, frozen())));
    assert_eq!(found, vec![Invariant::CardRules, Invariant::Availability]);
    // Frozen only after the sales: they stood within the rules.
    let found = mutated(|h| h.commands.push(command(5, frozen())));
    assert!(found.is_empty(), "{found:?}");
    // Expired, over the per-transaction limit, over the daily count.
    for change in [
        (|h: &mut History| set_expiry(h, "2410")) as fn(&mut History),
        |h| h.banks[0].cards[0].transaction_limit = Some(Amount::new(500).unwrap()),
        |h| h.banks[0].cards[0].daily_count_limit = Some(1),
        |h| h.banks[0].cards[0].daily_limit = Some(Amount::new(1_100).unwrap()),
    ] {
        let found = mutated(change);
        assert_eq!(found, vec![Invariant::CardRules, Invariant::Availability]);
    }
    // A sale approved on a card whose expiry month ended the month before.
    let found = mutated(|h| set_expiry(h, "2610"));
    assert_eq!(found, vec![Invariant::CardRules, Invariant::Availability]);
    let found = mutated(|h| set_expiry(h, "2611"));
    assert!(found.is_empty(), "valid through its month: {found:?}");
    // The bank's card expires another month than the card presented (DE14).
    let found = mutated(|h| h.banks[0].cards[0].expiry = Expiry::from_wire("2811").unwrap());
    assert_eq!(found, vec![Invariant::Availability]);
    // A sale approved on a balance that did not cover it.
    let found = mutated(|h| {
        h.ledgers[0].opening.insert(card(), (900, Currency::EUR));
        h.banks[0].cards[0].balance = Amount::new(900).unwrap();
    });
    assert_eq!(found, vec![Invariant::CardRules, Invariant::Availability]);
    // Approved during a maintenance window, or by command.
    let found = mutated(|h| h.banks[0].maintenance.push((900, 1_100)));
    assert_eq!(found, vec![Invariant::CardRules, Invariant::Availability]);
    let found = mutated(|h| {
        h.commands.push(command(0, OperatorAction::BeginMaintenance));
        h.commands.push(command(1, OperatorAction::EndMaintenance));
    });
    assert_eq!(found, vec![Invariant::CardRules, Invariant::Availability]);
    // A refund for a frozen merchant, or over its cap.
    let found = mutated(|h| {
        h.commands.push(command(
            1,
            OperatorAction::SetMerchantState {
                merchant: MerchantId::new("MERCHANT0000001").unwrap(),
                state: MerchantState::Frozen,
            },
        ))
    });
    assert_eq!(found, vec![Invariant::CardRules, Invariant::Availability]);
    let found = mutated(|h| h.banks[0].merchants[0].refund_cap = Some(Amount::new(100).unwrap()));
    assert_eq!(found, vec![Invariant::CardRules, Invariant::Availability]);
}

#[test]
fn an_acknowledgement_that_did_not_last_breaks_durable_ack() {
    // The bank approved a sale the final ledger does not know (it replied
    // before syncing and crashed).
    let found = mutated(|h| {
        h.answers
            .push(answer(Party::Switch, bank_party(), 6, ResponseCode::Approved))
    });
    assert_eq!(found, vec![Invariant::DurableAck]);
    // ... unless a reversal of it was acknowledged (nothing is owed).
    let found = mutated(|h| {
        h.answers
            .push(answer(Party::Switch, bank_party(), 6, ResponseCode::Approved));
        h.answers.push(reversal_ack(Party::Switch, bank_party(), 6));
    });
    assert!(found.is_empty(), "{found:?}");
    // A balance inquiry's approval posts nothing.
    let found = mutated(|h| {
        let mut inquiry = answer(Party::Switch, bank_party(), 6, ResponseCode::Approved);
        inquiry.processing = Some(ProcessingCode::Balance);
        h.answers.push(inquiry);
    });
    assert!(found.is_empty(), "{found:?}");
    // A reversal acknowledged, but its original still stands.
    let found = mutated(|h| {
        h.answers
            .push(reversal_ack(Party::Terminal(terminal()), Party::Switch, 1))
    });
    assert_eq!(found, vec![Invariant::DurableAck]);
    // A reversal acknowledged, and the late original posted after it.
    let found = mutated(|h| {
        postings(h).push(posting(
            EffectType::Sale,
            Some(4),
            &[(card(), -200), (clearing(), 200)],
        ));
    });
    assert!(found.contains(&Invariant::DurableAck), "{found:?}");
}

#[test]
fn daily_limits_reset_at_the_banks_local_midnight() {
    // The bank's clock starts at 09:00, so local midnight is at 15 h; the
    // clean history's two sales are at 1 s and, here, just before or just
    // after midnight.
    let midnight_ms = 15 * 3_600_000;
    let second_sale_at = |at_ms: u64| {
        move |h: &mut History| {
            h.banks[0].cards[0].daily_count_limit = Some(1);
            decided_at(h, 4, at_ms);
        }
    };
    assert_eq!(
        mutated(second_sale_at(midnight_ms - 1)),
        vec![Invariant::CardRules, Invariant::Availability]
    );
    let found = mutated(second_sale_at(midnight_ms));
    assert!(found.is_empty(), "a new day, a new count: {found:?}");
    // On a clock that started at 08:00 the same instant is 23:00 of the
    // first day: both sales fall on one day.
    let found = mutated(|h| {
        second_sale_at(midnight_ms)(h);
        h.banks[0].epoch.second_of_day = 8 * 3600;
    });
    assert_eq!(found, vec![Invariant::CardRules, Invariant::Availability]);
}

#[test]
fn expiry_is_judged_on_the_banks_own_calendar() {
    // Valid through November 2026: a sale on 30 November passes, one on
    // 1 December breaks the rules.
    // Days since 1970-01-01, from Python's datetime.date.
    let on = |days_since_1970, second_of_day| {
        move |h: &mut History| {
            set_expiry(h, "2611");
            h.banks[0].epoch = Epoch {
                days_since_1970,
                second_of_day,
                clock_reads_ms: 0,
            };
        }
    };
    assert!(mutated(on(20_787, 9 * 3600)).is_empty(), "2026-11-30");
    assert_eq!(
        mutated(on(20_788, 9 * 3600)),
        vec![Invariant::CardRules, Invariant::Availability],
        "2026-12-01"
    );
    assert_eq!(
        mutated(on(20_819, 9 * 3600)),
        vec![Invariant::CardRules, Invariant::Availability],
        "2027-01-01"
    );
    // An epoch with no real time of day cannot be judged, and says so.
    let found = mutated(on(20_787, 86_400));
    assert_eq!(found, vec![Invariant::CardRules]);
}

#[test]
fn giving_back_more_than_the_sale_breaks_sale_bound() {
    // A void of a sale that was already partly refunded: 300 + 1000 back.
    let found = mutated(|h| {
        postings(h).insert(
            2,
            posting(EffectType::Void, Some(8), &[(card(), 1000), (clearing(), -1000)]),
        );
        h.requests
            .insert(2, asked(8, ProcessingCode::Void, 1000, Some(1)));
    });
    assert!(found.contains(&Invariant::SaleBound), "{found:?}");
    // Refunds within the sale, and the sale's reversal giving back only
    // what was left of it: 300 + 700 = 1000, within the bound.
    let found = mutated(|h| {
        postings(h).insert(
            4,
            posting(
                EffectType::Reversal,
                Some(1),
                &[(card(), 700), (merchant(), -700)],
            ),
        );
        h.requests.insert(4, reversal_asked(1, 1000));
    });
    assert!(!found.contains(&Invariant::SaleBound), "{found:?}");
}

#[test]
fn a_settlement_that_pays_other_than_the_live_sales_breaks_settlement_exact() {
    // Paid the refund back on top of the sale.
    let found = mutated(|h| {
        postings(h)[4].entries[0].minor = -1300;
        postings(h)[4].entries[1].minor = 1300;
    });
    assert!(found.contains(&Invariant::SettlementExact), "{found:?}");
    // Paid the reversed sale too.
    let found = mutated(|h| {
        postings(h)[4].entries[0].minor = -1200;
        postings(h)[4].entries[1].minor = 1200;
    });
    assert!(found.contains(&Invariant::SettlementExact), "{found:?}");
    // Paid another merchant.
    let found = mutated(|h| {
        let other = Account::Merchant(MerchantId::new("MERCHANT0000002").unwrap());
        h.ledgers[0].opening.insert(other.clone(), (0, Currency::EUR));
        postings(h)[4].entries[1].account = other;
    });
    assert_eq!(found, vec![Invariant::SettlementExact]);
}

#[test]
fn a_decision_the_rules_do_not_call_for_breaks_availability() {
    // A sale the card could pay, declined for funds.
    let found = mutated(|h| {
        h.requests[2] = asked(3, ProcessingCode::Sale, 500, None);
        h.operations[2].request = Request::Sale {
            pan: Pan::new("4111111111111111").unwrap(),
            amount: eur(500),
        };
        h.shown[2].shown.amount = Some(eur(500));
    });
    assert_eq!(found, vec![Invariant::Availability]);
    // Declined with a code no rule gives: 05 for a sale over the balance.
    let found = mutated(|h| {
        for answer in h.answers.iter_mut().filter(|a| a.key == key(3)) {
            answer.response = ResponseCode::DoNotHonour;
        }
        h.shown[2].shown.outcome = Outcome::Declined {
            code: ResponseCode::DoNotHonour,
        };
    });
    assert_eq!(found, vec![Invariant::Availability]);
    // A settlement acknowledged whose totals are not the batch's.
    let found = mutated(|h| h.requests[5] = settlement_asked((0, 0), (1, 1000)));
    assert_eq!(found, vec![Invariant::Availability]);
    // A refund of a sale the bank never approved, approved.
    let found = mutated(|h| h.requests[1] = asked(2, ProcessingCode::Refund, 300, Some(3)));
    assert!(found.contains(&Invariant::Availability), "{found:?}");
}

#[test]
fn a_late_copy_declined_12_is_allowed_only_when_a_crash_may_have_lost_its_original() {
    // Sale 7 arrives at the bank and is never answered; its reversal
    // arrives; a late copy of the sale arrives and is declined 12 (the
    // bank took the reversal for one of an unknown transaction).
    let late_copy = |crash: Option<(u64, Party)>| {
        mutated(|h| {
            let mut first = asked(7, ProcessingCode::Sale, 100, None);
            first.at_ms = 2_000;
            let mut reversal = reversal_asked(7, 100);
            reversal.at_ms = 5_000;
            let mut copy = asked(7, ProcessingCode::Sale, 100, None);
            copy.at_ms = 9_000;
            h.requests.extend([first, reversal, copy]);
            let mut declined = answer(Party::Switch, bank_party(), 7, ResponseCode::InvalidTransaction);
            declined.at_ms = 9_010;
            h.answers.push(declined);
            h.crashes
                .extend(crash.map(|(at_ms, host)| CrashSeen { at_ms, host }));
        })
    };
    // No crash: the bank had the request on record, so 12 is wrong.
    assert!(late_copy(None).contains(&Invariant::Availability));
    // A crash before the reversal arrived: the bank may have lost the
    // request, so the reversal found nothing and 12 is what it owes.
    assert!(!late_copy(Some((3_000, bank_party()))).contains(&Invariant::Availability));
    // A crash of the bank only after the reversal does not excuse it, nor
    // does a crash of another host.
    assert!(late_copy(Some((6_000, bank_party()))).contains(&Invariant::Availability));
    assert!(late_copy(Some((3_000, Party::Switch))).contains(&Invariant::Availability));
}

#[test]
fn a_decision_may_ignore_a_reversal_the_bank_crashed_before_acknowledging() {
    // Refund 2 (300 of sale 1's 1000) is reversed at 5 s; a refund of the
    // whole sale arrives at 6 s and is declined 13, as if refund 2 stood.
    let whole_refund_after_reversal = |crash_ms: Option<u64>, acknowledged_ms: u64| {
        mutated(|h| {
            let mut reversal = reversal_asked(2, 300);
            reversal.at_ms = 5_000;
            if let Asked::Reversal(asked) = &mut reversal.asked {
                asked.processing = ProcessingCode::Refund;
            }
            let mut whole = asked(7, ProcessingCode::Refund, 1000, Some(1));
            whole.at_ms = 6_000;
            h.requests.extend([reversal, whole]);
            let mut ack = reversal_ack(Party::Switch, bank_party(), 2);
            ack.at_ms = acknowledged_ms;
            h.answers
                .extend([ack, refund_answered(7, ResponseCode::InvalidAmount, 6_010)]);
            bank_crashes(h, crash_ms);
        })
    };
    // The reversal stood (acknowledged, no crash): the whole sale was left
    // to refund, so 13 is wrong.
    assert!(whole_refund_after_reversal(None, 5_010).contains(&Invariant::Availability));
    // Acknowledged before the bank crashed: it was synced, 13 is wrong.
    assert!(whole_refund_after_reversal(Some(5_500), 5_010).contains(&Invariant::Availability));
    // The bank crashed before acknowledging it (the ack came for a later
    // copy): it may have lost the reversal, and 13 is what it then owes.
    assert!(!whole_refund_after_reversal(Some(5_500), 9_010).contains(&Invariant::Availability));
}

#[test]
fn a_reused_key_or_a_misdelivered_answer_breaks_key_reuse() {
    // The same key asked again for another amount, and approved again.
    let found = mutated(|h| {
        let mut again = asked(1, ProcessingCode::Sale, 1500, None);
        again.at_ms = 2_000;
        h.requests.push(again);
        let mut approval = answer(Party::Switch, bank_party(), 1, ResponseCode::Approved);
        approval.at_ms = 2_010;
        h.answers.push(approval);
    });
    assert_eq!(found, vec![Invariant::KeyReuse]);
    // An answer for another terminal's key delivered to TERM0001.
    let found = mutated(|h| {
        let mut stray = answer(
            Party::Terminal(terminal()),
            Party::Switch,
            1,
            ResponseCode::Approved,
        );
        stray.key.terminal = TerminalId::new("TERM0002").unwrap();
        h.answers.push(stray);
    });
    assert_eq!(found, vec![Invariant::KeyReuse]);
}

#[test]
fn without_the_requests_what_depends_on_them_is_not_judged() {
    let mut history = clean();
    history.requests.clear();
    let verdict = check(&history);
    let not_judged: Vec<Invariant> = verdict.not_judged.iter().map(|n| n.invariant).collect();
    for invariant in [
        Invariant::SaleBound,
        Invariant::SettlementExact,
        Invariant::Availability,
        Invariant::KeyReuse,
        Invariant::CustomerView,
    ] {
        assert!(
            not_judged.contains(&invariant),
            "{invariant} judged without evidence"
        );
    }
    assert!(!not_judged.contains(&Invariant::Conservation));
    assert!(verdict.passed(), "{:#?}", verdict.violations);
}

#[test]
fn a_command_journalled_in_the_same_millisecond_may_come_before_or_after_the_decision() {
    // Refund 2 arrives twice in the millisecond an operator command is
    // journalled; the merchant may refund 300 a day, so the copy, judged
    // after the refund stood, could only be declined 61.
    let same_millisecond = |response: ResponseCode| {
        mutated(|h| {
            h.banks[0].merchants[0].daily_refund_limit = Some(Amount::new(300).unwrap());
            let mut command = command(
                1,
                OperatorAction::SetMerchantState {
                    merchant: MerchantId::new("MERCHANT0000001").unwrap(),
                    state: MerchantState::Active,
                },
            );
            command.at_ms = 1_000;
            h.commands.push(command);
            h.requests
                .insert(2, asked(2, ProcessingCode::Refund, 300, Some(1)));
            for answer in h.answers.iter_mut().filter(|a| a.key == key(2)) {
                answer.at_ms = 1_000;
                answer.response = response;
            }
        })
    };
    // The first arrival decided it, before or after the command: 00 stands.
    let found = same_millisecond(ResponseCode::Approved);
    assert!(!found.contains(&Invariant::Availability), "{found:?}");
    // Neither order allows a 05.
    let found = same_millisecond(ResponseCode::DoNotHonour);
    assert!(found.contains(&Invariant::Availability), "{found:?}");
    // The card, frozen since 500 ms, is made active again in the
    // millisecond sale 3 arrives; sale 3 is declined 57, which only the
    // order with the command after the decision allows.
    let unfrozen_at_once = |response: ResponseCode| {
        mutated(|h| {
            let pan = Pan::new("4111111111111111").unwrap();
            h.commands.push(command(
                2,
                OperatorAction::SetCardState {
                    pan: pan.clone(),
                    state: CardState::Frozen,
                },
            ));
            let mut active = command(
                2,
                OperatorAction::SetCardState {
                    pan,
                    state: CardState::Active,
                },
            );
            active.at_ms = 1_000;
            h.commands.push(active);
            for answer in h.answers.iter_mut().filter(|a| a.key == key(3)) {
                answer.response = response;
            }
            h.shown[2].shown.outcome = Outcome::Declined { code: response };
        })
    };
    let found = unfrozen_at_once(ResponseCode::NotPermittedToCardholder);
    assert!(!found.contains(&Invariant::Availability), "{found:?}");
    let found = unfrozen_at_once(ResponseCode::RestrictedCard);
    assert!(found.contains(&Invariant::Availability), "{found:?}");
}

#[test]
fn a_settlement_the_bank_may_have_lost_in_a_crash_is_judged_paid_and_unpaid_until_its_copy() {
    // The merchant holds nothing after refund 2; batch 1's settlement
    // (1000 to the merchant) arrives at 1 s, refund 7 (300 of sale 1) at
    // 2 s is declined 51, a copy of the settlement arrives at 3 s; the
    // switch has the 0510 at `acknowledged_ms`.
    let refund_between_copies = |crash_ms: Option<u64>, acknowledged_ms: u64| {
        mutated(|h| {
            merchant_holds(h, 300);
            let refund = arriving(asked(7, ProcessingCode::Refund, 300, Some(1)), 2_000);
            let copy = arriving(settlement_asked((1, 300), (1, 1000)), 3_000);
            h.requests.extend([refund, copy]);
            h.answers
                .push(refund_answered(7, ResponseCode::InsufficientFunds, 2_010));
            settled_at(h, acknowledged_ms);
            bank_crashes(h, crash_ms);
        })
    };
    // No crash: the first copy paid the merchant, so 51 is wrong.
    assert!(refund_between_copies(None, 3_010).contains(&Invariant::Availability));
    // A crash after the switch had the 0510: the payment was synced.
    let found = refund_between_copies(Some(1_500), 1_010);
    assert!(found.contains(&Invariant::Availability), "{found:?}");
    // A crash before the refund arrived: the first copy may have been
    // lost and the second made the payment, so 51 is what the bank owed.
    let found = refund_between_copies(Some(1_500), 3_010);
    assert!(!found.contains(&Invariant::Availability), "{found:?}");
}

#[test]
fn a_void_after_a_settlement_the_bank_may_have_lost_in_a_crash_may_be_approved() {
    // Batch 1 settles at 1 s; sale 8 (100, batch 1) arrives at 1.2 s and
    // its void at 2 s is approved; a copy of the settlement comes at 3 s.
    // `paid_first`: the ledger has the payment before sale 8's posting, so
    // the first copy made it.
    let void_between_copies = |crash_ms: Option<u64>, paid_first: bool| {
        mutated(|h| {
            let sale = arriving(asked(8, ProcessingCode::Sale, 100, None), 1_200);
            let void = arriving(asked(10, ProcessingCode::Void, 100, Some(8)), 2_000);
            let copy = arriving(settlement_asked((1, 300), (1, 1000)), 3_000);
            h.requests.extend([sale, void, copy]);
            let mut sold = posting(EffectType::Sale, Some(8), &[(card(), -100), (clearing(), 100)]);
            sold.at_ms = Some(1_200);
            let mut voided = posting(EffectType::Void, Some(10), &[(card(), 100), (clearing(), -100)]);
            voided.at_ms = Some(2_000);
            postings(h).extend([sold, voided]);
            if !paid_first {
                let settlement = postings(h).remove(4);
                postings(h).push(settlement);
            }
            settled_at(h, 3_010);
            let mut approved_sale = answer(Party::Switch, bank_party(), 8, ResponseCode::Approved);
            approved_sale.at_ms = 1_210;
            let mut approved_void = answer(Party::Switch, bank_party(), 10, ResponseCode::Approved);
            approved_void.processing = Some(ProcessingCode::Void);
            approved_void.at_ms = 2_010;
            h.answers.extend([approved_sale, approved_void]);
            bank_crashes(h, crash_ms);
        })
    };
    // No crash: the batch was settled, the void owed 12.
    assert!(void_between_copies(None, false).contains(&Invariant::Availability));
    // The bank crashed before the void: it may have lost the settlement.
    let found = void_between_copies(Some(1_500), false);
    assert!(!found.contains(&Invariant::Availability), "{found:?}");
    // A crash, but the ledger shows the first copy paid the merchant
    // before sale 8 and its void: the batch was settled, 12 was owed.
    let found = void_between_copies(Some(1_500), true);
    assert!(found.contains(&Invariant::Availability), "{found:?}");
}

#[test]
fn the_ledger_order_places_an_untimed_posting_before_a_later_copy_of_the_one_before() {
    // Sale 4's reversal arrives at 1 s and again at 2 s, the bank crashed
    // at 1.1 s; batch 1's settlement arrives once, at 1.2 s, and the ledger
    // has it after the reversal's posting. The settlement was made at
    // 1.2 s whatever copy made the reversal, so the merchant, holding
    // nothing before it, was paid when refund 7 came at 1.5 s: its 51 is
    // wrong.
    let found = mutated(|h| {
        merchant_holds(h, 300);
        h.requests[5] = arriving(h.requests[5].clone(), 1_200);
        let refund = arriving(asked(7, ProcessingCode::Refund, 300, Some(1)), 1_500);
        let copy = arriving(reversal_asked(4, 200), 2_000);
        h.requests.extend([refund, copy]);
        h.answers
            .push(refund_answered(7, ResponseCode::InsufficientFunds, 1_510));
        settled_at(h, 1_210);
        for answer in h.answers.iter_mut().filter(|a| a.mti == 430) {
            answer.at_ms = 2_010;
        }
        h.crashes.push(CrashSeen {
            at_ms: 1_100,
            host: bank_party(),
        });
    });
    assert!(found.contains(&Invariant::Availability), "{found:?}");
}
