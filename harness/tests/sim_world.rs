//! The whole system end to end on the simulated network: terminal, switch
//! and bank, faults injected, and the checker's verdict on the evidence.

use payfault::check::{check, Invariant};
use payfault::history::Outcome;
use payfault::node::terminal::{Card, TerminalCommand};
use payfault::node::{Bug, Bugs, OperationId};
use payfault::plan::topology::Topology;
use payfault::plan::{Direction, LinkFaults, MessageAction, MessageMatch, MessageRule};
use payfault::plan::{FaultPlan, HostId, LinkId, Plan, Step, Timing, WorkItem};
use payfault::sim::{run, RunResult, SimOptions};
use payfault::wire::types::{Expiry, Money, Pan, TerminalId};

fn terminal() -> TerminalId {
    TerminalId::new("TERM0001").unwrap()
}

fn rich_card() -> Card {
    Card {
        pan: Pan::new("4111110000000001").unwrap(),
        expiry: Expiry::from_wire("2812").unwrap(),
    }
}

fn sale(operation: u32, at_ms: u64, amount: &str) -> Step {
    Step {
        at_ms,
        item: WorkItem::Terminal {
            terminal: terminal(),
            command: TerminalCommand::Sale {
                operation: OperationId(operation),
                card: rich_card(),
                amount: amount.parse::<Money>().unwrap(),
            },
        },
    }
}

fn plan(seed: u64, workload: Vec<Step>, faults: FaultPlan, bugs: Bugs) -> Plan {
    let mut topology = Topology::standard();
    topology.set_bugs(&bugs);
    Plan::new(
        seed,
        topology,
        workload,
        faults,
        Timing {
            fault_phase_ms: 15_000,
            quiet_ms: 12_000,
            ..Timing::default()
        },
    )
}

fn drop_first_approval() -> FaultPlan {
    let mut faults = FaultPlan::default();
    faults.links.insert(
        LinkId::Terminal(TerminalId::new("TERM0001").unwrap()),
        LinkFaults {
            rules: vec![MessageRule {
                matching: MessageMatch {
                    direction: Some(Direction::Response),
                    mti: Some(210),
                    nth: Some(1),
                    ..MessageMatch::default()
                },
                action: MessageAction::Drop,
                from_ms: None,
                until_ms: None,
            }],
            ..LinkFaults::default()
        },
    );
    faults
}

fn outcome_of(result: &RunResult, operation: u32) -> Outcome {
    result
        .history
        .shown
        .iter()
        .find(|shown| shown.shown.operation == OperationId(operation).into())
        .map(|shown| shown.shown.outcome.clone())
        .unwrap_or_else(|| panic!("op{operation} never shown"))
}

fn trace_text(result: &RunResult) -> String {
    result
        .trace
        .events()
        .iter()
        .map(|event| event.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The checker passes the run's history; otherwise its violations and the
/// whole trace.
fn assert_checker_passes(result: &RunResult) {
    let verdict = check(&result.history);
    assert!(
        verdict.passed(),
        "{:#?}\n{}",
        verdict.violations,
        trace_text(result)
    );
}

#[test]
fn an_approved_sale_is_shown_approved_and_paid_out_at_end_of_day() {
    let result = run(
        &plan(
            1,
            vec![sale(1, 100, "12.50 EUR")],
            FaultPlan::default(),
            Bugs::none(),
        ),
        &SimOptions::default(),
    )
    .unwrap();
    assert_checker_passes(&result);
    assert!(
        matches!(outcome_of(&result, 1), Outcome::Approved { .. }),
        "{}",
        trace_text(&result)
    );
    assert!(
        matches!(outcome_of(&result, 2), Outcome::BatchClosed { .. }),
        "{}",
        trace_text(&result)
    );
    let ledger = &result.history.ledgers[0];
    let merchant = payfault::history::Account::Merchant(
        payfault::wire::types::MerchantId::new("MERCHANT0000001").unwrap(),
    );
    assert_eq!(ledger.closing[&merchant].0, 500_00 + 12_50, "merchant paid once");
}

#[test]
fn a_lost_approval_is_reversed_and_the_card_nets_to_zero() {
    let result = run(
        &plan(
            2,
            vec![sale(1, 100, "12.50 EUR")],
            drop_first_approval(),
            Bugs::none(),
        ),
        &SimOptions::default(),
    )
    .unwrap();
    let text = trace_text(&result);
    assert!(text.contains("DROP 0210"), "{text}");
    assert!(
        matches!(outcome_of(&result, 1), Outcome::FailedReversed { .. }),
        "{text}"
    );
    assert_checker_passes(&result);
    let card = payfault::history::Account::Cardholder(rich_card().pan);
    assert_eq!(result.history.ledgers[0].closing[&card].0, 1_000_00, "{text}");
}

#[test]
fn the_checker_catches_a_terminal_that_shows_a_timeout_as_a_decline() {
    let bugs = Bugs::of([Bug::TerminalTimeoutAsDecline]);
    let result = run(
        &plan(2, vec![sale(1, 100, "12.50 EUR")], drop_first_approval(), bugs),
        &SimOptions::default(),
    )
    .unwrap();
    let verdict = check(&result.history);
    assert!(
        verdict.violated().contains(&Invariant::CustomerView),
        "{:#?}\n{}",
        verdict.violations,
        trace_text(&result)
    );
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let make = || {
        plan(
            7,
            vec![sale(1, 100, "12.50 EUR"), sale(2, 150, "3.00 EUR")],
            drop_first_approval(),
            Bugs::none(),
        )
    };
    let first = run(&make(), &SimOptions::default()).unwrap();
    let second = run(&make(), &SimOptions::default()).unwrap();
    assert_eq!(first.trace_hash, second.trace_hash);
    assert_eq!(trace_text(&first), trace_text(&second));
}

fn hostile_plan(bugs: Bugs) -> Plan {
    use payfault::plan::{Injection, TimedInjection};
    let mut faults = FaultPlan::default();
    let injections = [
        Injection::Replay { nth: 1 },
        Injection::TamperAmount { nth: 1 },
        Injection::Forge { nth: 1 },
    ]
    .into_iter()
    .enumerate()
    .map(|(index, injection)| TimedInjection {
        at_ms: 2_000 + 500 * index as u64,
        injection,
    })
    .collect();
    faults.links.insert(
        LinkId::Terminal(TerminalId::new("TERM0001").unwrap()),
        LinkFaults {
            injections,
            ..LinkFaults::default()
        },
    );
    plan(9, vec![sale(1, 100, "12.50 EUR")], faults, bugs)
}

#[test]
fn a_hostile_host_replaying_tampering_and_forging_moves_no_money() {
    let result = run(&hostile_plan(Bugs::none()), &SimOptions::default()).unwrap();
    let text = trace_text(&result);
    assert_eq!(text.matches("HOSTILE").count(), 3, "{text}");
    assert_checker_passes(&result);
    assert!(
        matches!(outcome_of(&result, 1), Outcome::Approved { .. }),
        "{text}"
    );
    let card = payfault::history::Account::Cardholder(rich_card().pan);
    assert_eq!(
        result.history.ledgers[0].closing[&card].0,
        1_000_00 - 12_50,
        "one debit only\n{text}"
    );
}

#[test]
fn with_mac_verification_off_the_forgery_moves_money_and_is_caught() {
    let result = run(
        &hostile_plan(Bugs::of([Bug::MacNotVerified])),
        &SimOptions::default(),
    )
    .unwrap();
    let verdict = check(&result.history);
    assert!(
        verdict.violated().contains(&Invariant::ExplainedMoney),
        "{:#?}\n{}",
        verdict.violations,
        trace_text(&result)
    );
}

#[test]
fn a_terminal_clock_a_day_ahead_dates_its_transactions_a_day_later() {
    let mut faults = FaultPlan::default();
    faults.clocks.insert(
        HostId::Terminal(TerminalId::new("TERM0001").unwrap()),
        payfault::plan::ClockModel {
            offset_ms: 86_400_000,
            drift_ppm: 0,
        },
    );
    let result = run(
        &plan(4, vec![sale(1, 100, "12.50 EUR")], faults, Bugs::none()),
        &SimOptions::default(),
    )
    .unwrap();
    assert_checker_passes(&result);
    let key = result
        .history
        .shown
        .iter()
        .find_map(|shown| shown.shown.key.clone())
        .unwrap();
    assert_eq!(
        key.local_date.to_wire(),
        "1123",
        "DE13 follows the terminal's own clock"
    );
    let text = trace_text(&result);
    assert!(text.contains("clock of TERM0001: offset 86400000 ms"), "{text}");
}

#[test]
fn the_history_records_each_crash_with_its_host_and_time() {
    use payfault::history::{BankId, CrashSeen, Party};
    use payfault::plan::{ArmedCrash, TimedCrash};
    let mut faults = FaultPlan::default();
    faults.crashes.push(TimedCrash {
        host: HostId::Switch,
        at_ms: 3_000,
        restart_after_ms: Some(500),
    });
    faults.crash_points.push(ArmedCrash {
        host: HostId::Bank(payfault::node::BankId("bank-a".into())),
        point: "bank.post.before_sync".into(),
        nth: 1,
        restart_after_ms: Some(100),
    });
    let result = run(
        &plan(3, vec![sale(1, 100, "12.50 EUR")], faults, Bugs::none()),
        &SimOptions::default(),
    )
    .unwrap();
    let text = trace_text(&result);
    let crashes = &result.history.crashes;
    assert_eq!(crashes.len(), 2, "{crashes:?}\n{text}");
    assert!(
        matches!(&crashes[0], CrashSeen { host: Party::Bank(BankId(bank)), at_ms } if bank == "bank-a" && *at_ms < 3_000),
        "{crashes:?}"
    );
    assert_eq!(
        crashes[1],
        CrashSeen {
            at_ms: 3_000,
            host: Party::Switch
        }
    );
}

/// Two partitions of one link that overlap: the link stays cut until the
/// later one ends, not just until the first one does.
#[test]
fn overlapping_partitions_of_one_link_keep_it_cut_until_the_last_ends() {
    let mut faults = FaultPlan::default();
    for (from_ms, until_ms) in [(1_000, 5_000), (3_000, 9_000)] {
        faults.partitions.push(payfault::plan::LinkPartition {
            link: LinkId::Terminal(terminal()),
            from_ms,
            until_ms: Some(until_ms),
        });
    }
    let result = run(
        &plan(3, vec![sale(1, 6_000, "12.50 EUR")], faults, Bugs::none()),
        &SimOptions::default(),
    )
    .unwrap();
    let events = result.trace.events();
    let crossed_while_cut: Vec<String> = events
        .iter()
        .filter(|event| event.host == "switch" && (5_000..9_000).contains(&event.at_ms))
        .filter(|event| matches!(event.kind, payfault::sim::trace::EventKind::Received { .. }))
        .map(|event| event.to_string())
        .collect();
    assert!(
        crossed_while_cut.is_empty(),
        "{crossed_while_cut:#?}\n{}",
        trace_text(&result)
    );
    let repairs: Vec<u64> = events
        .iter()
        .filter(|event| {
            matches!(&event.kind, payfault::sim::trace::EventKind::Network { change } if change.starts_with("repair"))
        })
        .map(|event| event.at_ms)
        .collect();
    assert_eq!(repairs.len(), 1, "{}", trace_text(&result));
    assert!(repairs[0] >= 9_000, "{repairs:?}");
    assert_checker_passes(&result);
}
