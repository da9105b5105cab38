//! Every planted bug is caught by the incident library: for each
//! `Bug::ALL`, some scenario under `scenarios/` (which all pass on the
//! correct system, see `scenarios.rs`) fails when that bug is switched on,
//! with at least one violated invariant. One test case per bug
//! (libtest-mimic), named `<incident>::<bug>`; each prints one `CAUGHT`
//! line (`cargo test --test scenario_bugs -- --nocapture` shows the table).
//!
//! To stay cheap, each bug first tries the scenarios listed for it in
//! `FIRST_TRIES` and stops at the first that catches it. The list only
//! orders the search: if a listed scenario stops catching its bug, the rest
//! of the library is tried before the case fails, and the case prints which
//! scenario caught the bug instead.
//!
//! The other way round, every library scenario must be shown to matter:
//! `MATTERS` names a planted bug under which it fails (one `matters::` case
//! each), and a scenario no planted bug makes fail is listed in
//! `NOT_SHOWN_BY_A_PLANTED_BUG`; a new file in neither list fails
//! `library::every_scenario_accounted_for`.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use payfault::node::Bug;
use payfault::report::ScenarioReport;
use payfault::run::ScenarioOptions;
use payfault::scenario::{self, Scenario};

/// The scenario expected to catch each bug (relative to `scenarios/`).
const FIRST_TRIES: &[(Bug, &str)] = &[
    (Bug::SwitchNoDedupe, "c/duplicate-sale-late-retransmission.toml"),
    (Bug::BankNotIdempotent, "c/duplicate-sale-messages.toml"),
    (Bug::BankReplyBeforeSync, "b/refund-bank-crash-before-sync.toml"),
    (Bug::TerminalJournalAfterSend, "c/terminal-crash-after-send.toml"),
    (Bug::TerminalTimeoutAsDecline, "c/approval-lost-reversed.toml"),
    (Bug::ReversalEveryCopy, "c/reversal-duplicated.toml"),
    (Bug::ReversalUnknownIgnored, "c/late-sale-after-reversal.toml"),
    (Bug::RefundBoundUnchecked, "a/refund-over-remaining.toml"),
    (Bug::RefundBoundRace, "a/refund-two-partials-racing.toml"),
    (Bug::StanNotPersisted, "c/terminal-reboot-between-sales.toml"),
    (Bug::ReversalQueueGivesUp, "c/reversal-outlasts-partition.toml"),
    (Bug::VoidAfterSettlement, "e/void-after-settlement-at-host.toml"),
    (Bug::BatchSettledTwice, "e/settlement-duplicated.toml"),
    (Bug::DeclinePartialPosting, "b/refund-merchant-short.toml"),
    (Bug::MacNotVerified, "d/corrupted-amount-digit.toml"),
    (Bug::BankExpiryOffByOneMonth, "d/expired-last-month.toml"),
    (Bug::RefundAfterVoid, "a/refund-after-void.toml"),
];

/// What shows each library scenario matters: a planted bug under which it
/// fails (a violated invariant or an unmet expectation). Every library file
/// is listed here or in `NOT_SHOWN_BY_A_PLANTED_BUG`.
const MATTERS: &[(&str, Bug)] = &[
    ("a/refund-after-void.toml", Bug::RefundAfterVoid),
    ("a/refund-over-remaining.toml", Bug::RefundBoundUnchecked),
    ("a/refund-response-lost-retried.toml", Bug::BankNotIdempotent),
    ("a/refund-two-partials-queued.toml", Bug::RefundBoundUnchecked),
    ("a/refund-two-partials-racing.toml", Bug::RefundBoundRace),
    (
        "a/refunds-and-sales-at-exact-bounds.toml",
        Bug::DeclinePartialPosting,
    ),
    (
        "a/sale-life-refund-void-remainder.toml",
        Bug::RefundBoundUnchecked,
    ),
    ("b/maintenance-every-request.toml", Bug::RefundAfterVoid),
    ("b/refund-bank-crash-after-posting.toml", Bug::BankReplyBeforeSync),
    ("b/refund-bank-crash-before-sync.toml", Bug::BankReplyBeforeSync),
    ("b/refund-merchant-short.toml", Bug::DeclinePartialPosting),
    (
        "b/refund-switch-crash-before-reply.toml",
        Bug::TerminalTimeoutAsDecline,
    ),
    (
        "b/terminal-crashes-refund-reversal-close.toml",
        Bug::StanNotPersisted,
    ),
    ("c/approval-lost-reversed.toml", Bug::TerminalTimeoutAsDecline),
    (
        "c/close-after-reversal-lost-in-partition.toml",
        Bug::TerminalTimeoutAsDecline,
    ),
    ("c/duplicate-sale-late-retransmission.toml", Bug::SwitchNoDedupe),
    ("c/duplicate-sale-messages.toml", Bug::BankNotIdempotent),
    ("c/late-sale-after-reversal.toml", Bug::ReversalUnknownIgnored),
    ("c/reversal-bank-crash-before-ack.toml", Bug::ReversalEveryCopy),
    ("c/reversal-bank-crash-before-sync.toml", Bug::BankReplyBeforeSync),
    ("c/reversal-duplicated.toml", Bug::ReversalEveryCopy),
    ("c/reversal-lost-retried.toml", Bug::TerminalTimeoutAsDecline),
    ("c/reversal-outlasts-partition.toml", Bug::ReversalQueueGivesUp),
    (
        "c/same-stan-two-terminals-one-merchant.toml",
        Bug::StanNotPersisted,
    ),
    ("c/switch-crash-after-forward.toml", Bug::TerminalTimeoutAsDecline),
    (
        "c/switch-crash-timeout-and-reversal.toml",
        Bug::TerminalTimeoutAsDecline,
    ),
    ("c/terminal-crash-after-send.toml", Bug::TerminalJournalAfterSend),
    ("c/terminal-reboot-between-sales.toml", Bug::StanNotPersisted),
    (
        "d/bank-clock-crosses-month-end.toml",
        Bug::BankExpiryOffByOneMonth,
    ),
    ("d/corrupted-amount-digit.toml", Bug::MacNotVerified),
    ("d/corrupted-in-transit.toml", Bug::TerminalTimeoutAsDecline),
    (
        "d/corrupted-on-bank-link-request.toml",
        Bug::TerminalTimeoutAsDecline,
    ),
    ("d/expired-last-month.toml", Bug::BankExpiryOffByOneMonth),
    ("d/hostile-replay-tamper-forge.toml", Bug::MacNotVerified),
    (
        "e/batch-totals-after-lost-approval.toml",
        Bug::ReversalQueueGivesUp,
    ),
    ("e/close-switch-crashes-twice.toml", Bug::DeclinePartialPosting),
    ("e/settlement-duplicated.toml", Bug::BatchSettledTwice),
    ("e/settlement-lost.toml", Bug::BatchSettledTwice),
    ("e/settlement-mixed-bank-crash.toml", Bug::BatchSettledTwice),
    (
        "e/settlement-two-terminals-bank-crash-before-sync.toml",
        Bug::BankReplyBeforeSync,
    ),
    ("e/void-after-settlement-at-host.toml", Bug::VoidAfterSettlement),
];

/// Library scenarios no planted bug makes fail, with what shows they
/// matter: a cargo-mutants mutant of the node code that survived without
/// them and is caught with them (docs/mutants.md), or that nothing does yet.
/// They guard decision branches no planted bug touches.
const NOT_SHOWN_BY_A_PLANTED_BUG: &[(&str, &str)] = &[
    ("a/refund-other-currency.toml", NOT_MEASURED),
    ("a/refund-over-cap.toml", NOT_MEASURED),
    ("b/refund-during-maintenance.toml", NOT_MEASURED),
    ("b/refund-merchant-frozen.toml", NOT_MEASURED),
    ("b/refund-outside-window.toml", NOT_MEASURED),
    ("b/refund-over-daily-limit.toml", NOT_MEASURED),
    ("b/refund-terminal-crash-before-record.toml", NOT_MEASURED),
    ("c/late-bank-approval.toml", NOT_MEASURED),
    (
        "c/switch-at-capacity-answers-91.toml",
        "hand mutation switch/handlers.rs:180 (>= to >: one request more in flight) fails its expectations",
    ),
    ("d/corrupted-on-bank-link-response.toml", NOT_MEASURED),
    ("d/declines-amounts.toml", NOT_MEASURED),
    ("d/declines-card-states.toml", NOT_MEASURED),
    (
        "d/insider-requests-never-built.toml",
        "hand mutations: switch/handlers.rs:101 without the DE41 check (explained-money, card balance) and bank/decide.rs:343 without the void amount check (availability, explained-money)",
    ),
    ("e/batch-close-in-doubt.toml", NOT_MEASURED),
    (
        "e/held-settlement-with-void-and-maintenance.toml",
        "mutants bank/decide.rs:594 (a held payout counts voided sales) and :107 (maintenance windows of the setup)",
    ),
    ("e/settlement-merchant-frozen.toml", NOT_MEASURED),
    ("e/settlement-partition.toml", NOT_MEASURED),
    ("e/void-after-settlement.toml", NOT_MEASURED),
    ("e/void-before-settlement.toml", NOT_MEASURED),
    ("e/void-while-settlement-pending.toml", NOT_MEASURED),
];

/// No measure yet says which mutant only this scenario catches.
const NOT_MEASURED: &str = "not shown yet";

fn scenario_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Every library file, loaded, in path order.
fn library() -> Result<Vec<(PathBuf, Scenario)>, Failed> {
    let root = scenario_root();
    let files = scenario::find_files(std::slice::from_ref(&root))?;
    files
        .into_iter()
        .map(|path| {
            let loaded = scenario::load(&path).map_err(|error| Failed::from(error.to_string()))?;
            let relative = path.strip_prefix(&root).unwrap_or(&path).to_path_buf();
            Ok((relative, loaded))
        })
        .collect()
}

/// The library in the order to try for `bug`: its first tries, then the rest.
fn search_order(library: &[(PathBuf, Scenario)], bug: Bug) -> Vec<&(PathBuf, Scenario)> {
    let first: Vec<&str> = FIRST_TRIES
        .iter()
        .filter(|(listed, _)| *listed == bug)
        .map(|(_, file)| *file)
        .collect();
    let is_first = |path: &Path| first.iter().any(|file| path == Path::new(file));
    let mut order: Vec<_> = library.iter().filter(|(path, _)| is_first(path)).collect();
    order.extend(library.iter().filter(|(path, _)| !is_first(path)));
    order
}

fn run(scenario: &Scenario, bugs: Vec<Bug>) -> Result<ScenarioReport, Failed> {
    let options = ScenarioOptions { seed: None, bugs };
    payfault::run::scenario(scenario, &options).map_err(Failed::from)
}

fn invariant_names(report: &ScenarioReport) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = report.violations.iter().map(|v| v.invariant.name()).collect();
    names.dedup();
    names
}

/// Run the library with `bug` on until a scenario fails with a violated
/// invariant; check that scenario passes with the bug off.
fn caught(bug: Bug) -> Result<(), Failed> {
    let library = library()?;
    let mut tried = Vec::new();
    for (path, loaded) in search_order(&library, bug) {
        let report = run(loaded, vec![bug])?;
        tried.push(path.display().to_string());
        if report.passed || report.violations.is_empty() {
            continue;
        }
        let clean = run(loaded, Vec::new())?;
        if !clean.passed {
            return Err(format!(
                "{} fails on the correct system too:\n{}",
                path.display(),
                clean.failure_text()
            )
            .into());
        }
        let unmet = report.expectations.iter().filter(|e| !e.met).count();
        let listed = FIRST_TRIES.iter().any(|(b, f)| *b == bug && path == Path::new(f));
        println!(
            "CAUGHT | {bug} | {} | {} | {unmet} unmet expectations | {} tried{}",
            path.display(),
            invariant_names(&report).join(", "),
            tried.len(),
            if listed { "" } else { " (not the listed first try)" },
        );
        return Ok(());
    }
    Err(format!(
        "no library scenario fails with a violated invariant when {bug} is on (tried {})",
        tried.join(", ")
    )
    .into())
}

/// Library files must pass on the correct system: none switches a bug on,
/// and every first try names a file that exists.
fn library_is_clean() -> Result<(), Failed> {
    let library = library()?;
    if library.len() < 30 {
        return Err(format!("only {} scenarios in the library", library.len()).into());
    }
    for (path, loaded) in &library {
        if !loaded.bugs.is_empty() {
            return Err(format!("{} switches bugs on: {:?}", path.display(), loaded.bugs).into());
        }
    }
    for (bug, file) in FIRST_TRIES {
        if !library.iter().any(|(path, _)| path == Path::new(file)) {
            return Err(format!("first try for {bug}: {file} is not in the library").into());
        }
    }
    Ok(())
}

/// The scenario `file` fails with `bug` on: a planted bug it guards.
fn matters(file: &'static str, bug: Bug) -> Result<(), Failed> {
    let path = scenario_root().join(file);
    let loaded = scenario::load(&path).map_err(|error| Failed::from(error.to_string()))?;
    let report = run(&loaded, vec![bug])?;
    if report.passed {
        return Err(format!("{file} passes with {bug} on: it does not guard that bug").into());
    }
    Ok(())
}

/// Every library file is accounted for: listed once, in `MATTERS` or in
/// `NOT_SHOWN_BY_A_PLANTED_BUG`, and nothing listed is missing.
fn library_is_accounted_for() -> Result<(), Failed> {
    let library = library()?;
    let listed: Vec<&str> = MATTERS
        .iter()
        .map(|(file, _)| *file)
        .chain(NOT_SHOWN_BY_A_PLANTED_BUG.iter().map(|(file, _)| *file))
        .collect();
    for (path, _) in &library {
        let count = listed.iter().filter(|file| path == Path::new(file)).count();
        if count != 1 {
            return Err(format!(
                "{} is listed {count} times in MATTERS and NOT_SHOWN_BY_A_PLANTED_BUG; \
                 name the planted bug it guards (payfault run FILE --bug NAME fails), or list it as not shown",
                path.display()
            )
            .into());
        }
    }
    for file in listed {
        if !library.iter().any(|(path, _)| path == Path::new(file)) {
            return Err(format!("{file} is listed but not in the library").into());
        }
    }
    Ok(())
}

fn main() {
    let arguments = Arguments::from_args();
    let mut trials = vec![
        Trial::test("library::no_bugs_switched_on", library_is_clean),
        Trial::test("library::every_scenario_accounted_for", library_is_accounted_for),
    ];
    trials.extend(MATTERS.iter().map(|&(file, bug)| {
        let name = format!(
            "matters::{}::{}",
            file.trim_end_matches(".toml").replace('/', "::"),
            bug.name()
        );
        Trial::test(name, move || matters(file, bug))
    }));
    trials.extend(Bug::ALL.into_iter().map(|bug| {
        let name = format!("{}::{}", bug.incident().to_ascii_lowercase(), bug.name());
        Trial::test(name, move || caught(bug))
    }));
    libtest_mimic::run(&arguments, trials).exit();
}
