//! Scenario files: how QA replays a customer incident.
//!
//! A scenario is a small TOML file (format: `docs/scenarios.md`): a name,
//! the incident class (A-E of INCIDENTS.md), a description, changes on top
//! of the built-in topology, a timed list of operations, the faults, and
//! optional expectations. The invariants are always checked; expectations
//! add to them.
//!
//! The flow is one way, one module per step:
//!
//! - [`format`]: the serde model of the file, every value with its span;
//! - [`parse`]: TOML into that model, and the located errors
//!   ([`ScenarioError`]: file, line, column, what was expected, the nearest
//!   valid name for a misspelling), rendered with miette;
//! - [`lower`]: checks every name and value and lowers the file to a
//!   [`Plan`](crate::sim::world::Plan) plus [`Expectation`]s;
//! - this module: [`run`] a [`Scenario`] and judge it into a
//!   [`ScenarioReport`](crate::report::ScenarioReport).
//!
//! Operation ids map to `OperationId`s by file order: the n-th
//! `[[operations]]` entry is `op<n>`; the end-of-day batch closes follow.
//!
//! ```
//! use payfault::scenario::{parse, run, RunOptions};
//!
//! let text = r#"
//! name = "one-sale"
//! incident = "C"
//! description = "A plain sale, approved and paid out at the end of the day."
//! [[operations]]
//! at = "100ms"
//! op = "sale"
//! id = "s1"
//! card = "4111110000000001"
//! amount = "12.50 EUR"
//! [[expect]]
//! operation = "s1"
//! shows = "approved"
//! "#;
//! let scenario = parse("one-sale.toml", text).unwrap();
//! assert_eq!(scenario.plan.workload.len(), 1);
//! # let _ = run;
//! ```

pub mod format;
pub mod lower;
pub mod parse;
pub mod write;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use lower::{Expectation, OperationInfo, Scenario, ShowKind, DEFAULT_SEED};
pub use parse::{ScenarioError, ScenarioErrors};

use crate::check::Invariant;
use crate::history::{Account, History, OperationId, Outcome, Request, Shown};
use crate::node::Bug;
use crate::report::{format_minor, BalanceLine, CustomerLine, ExpectationResult, ScenarioReport};
use crate::sim::Ending;

/// Parse and check a scenario from its text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioErrors> {
    let source = parse::Source::new(file, text);
    let model = parse::parse_file(&source, text)?;
    lower::lower(&source, model)
}

/// Why a file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// It could not be read.
    Io(String),
    /// It does not validate.
    Invalid(ScenarioErrors),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(message) => f.write_str(message),
            LoadError::Invalid(errors) => write!(f, "{errors}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Read, parse and check a scenario file.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| LoadError::Io(format!("{}: {error}", path.display())))?;
    parse(&path.display().to_string(), &text).map_err(LoadError::Invalid)
}

/// Every `*.toml` file under `paths` (files as given, folders recursively),
/// sorted.
pub fn find_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(format!("{} does not exist", path.display()));
        }
        collect(path, &mut found)?;
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn collect(path: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    if path.is_file() {
        found.push(path.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|error| format!("reading {}: {error}", path.display()))?;
    for entry in entries {
        let entry_path = entry.map_err(|error| error.to_string())?.path();
        if entry_path.is_dir() {
            collect(&entry_path, found)?;
        } else if entry_path.extension().is_some_and(|ext| ext == "toml") {
            found.push(entry_path);
        }
    }
    Ok(())
}

/// What a run may change: the seed, and planted bugs to switch on.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Override the file's seed.
    pub seed: Option<u64>,
    /// Switch these planted bugs on in every node (on top of the file's).
    pub bugs: Vec<Bug>,
}

/// Run a scenario and judge it: the invariants, then the expectations.
pub fn run(scenario: &Scenario, options: &RunOptions) -> Result<ScenarioReport, String> {
    let started = Instant::now();
    let mut plan = scenario.plan.clone();
    if let Some(seed) = options.seed {
        plan.seed = seed;
    }
    let mut bugs: Vec<Bug> = scenario.bugs.clone();
    bugs.extend(options.bugs.iter().copied());
    bugs.sort();
    bugs.dedup();
    let result =
        crate::run::run(&plan, &crate::run::RunOptions::reported(&bugs)).map_err(|e| e.to_string())?;
    let verdict = result.verdict.clone();
    let expectations = judge(scenario, &result.history);
    let quiescent = result.ending == Ending::Quiescent;
    let passed = verdict.passed() && expectations.iter().all(|e| e.met) && quiescent;
    let mut replay = format!("payfault run {} --seed {}", scenario.file, plan.seed);
    for bug in &options.bugs {
        replay.push_str(&format!(" --bug {}", bug.name()));
    }
    Ok(ScenarioReport {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        incident: scenario.incident.to_string(),
        description: scenario.description.clone(),
        passed,
        seed: plan.seed,
        bugs: bugs.iter().map(|b| b.name().to_string()).collect(),
        trace_hash: result.trace_hash.to_string(),
        simulated_ms: result.simulated_ms,
        wall_ms: started.elapsed().as_millis() as u64,
        ending: if quiescent { "quiescent" } else { "time limit" }.to_string(),
        customer_view: customer_view(scenario, &result.history),
        balances: balances(&result.history),
        expectations,
        violations: verdict.violations,
        replay,
        events: result.trace.events().iter().map(|e| e.to_string()).collect(),
    })
}

/// Load and run one file.
pub fn run_file(path: &Path, options: &RunOptions) -> Result<ScenarioReport, LoadError> {
    let scenario = load(path)?;
    run(&scenario, options).map_err(LoadError::Io)
}

/// The invariants every run is judged by, in report order.
pub fn invariants() -> &'static [Invariant] {
    &Invariant::ALL
}

/// An outcome in words.
pub fn describe_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Approved {
            approval,
            balance: None,
        } => format!("approved ({approval})"),
        Outcome::Approved {
            approval,
            balance: Some(balance),
        } => format!("approved ({approval}), balance {balance}"),
        Outcome::Declined { code } => format!("declined {} ({})", code.to_wire(), code.description()),
        Outcome::FailedReversed { reason } => format!("failed, reversed ({})", reason.to_wire()),
        Outcome::Refused { reason } => format!("refused: {reason}"),
        Outcome::BatchClosed { uploaded: 0 } => "batch closed".to_string(),
        Outcome::BatchClosed { uploaded } => format!("batch closed after uploading {uploaded} items"),
    }
}

fn shown_for(history: &History, operation: OperationId) -> Vec<&Shown> {
    history
        .shown
        .iter()
        .filter(|shown| shown.shown.operation == operation)
        .map(|shown| &shown.shown)
        .collect()
}

fn customer_view(scenario: &Scenario, history: &History) -> Vec<CustomerLine> {
    history
        .operations
        .iter()
        .map(|operation| {
            let info = scenario
                .operations
                .iter()
                .find(|info| info.operation.map(OperationId::from) == Some(operation.id));
            let request = match (&operation.request, info) {
                (_, Some(info)) => info.what.clone(),
                (Request::CloseBatch, None) => "close batch (end of day)".to_string(),
                (other, None) => format!("{other:?}"),
            };
            let shown: Vec<String> = shown_for(history, operation.id)
                .iter()
                .map(|shown| describe_outcome(&shown.outcome))
                .collect();
            CustomerLine {
                operation: operation.id.to_string(),
                name: info.and_then(|info| info.name.clone()),
                terminal: operation.terminal.to_string(),
                at_ms: operation.at_ms,
                request,
                shown: if shown.is_empty() {
                    "(nothing shown)".to_string()
                } else {
                    shown.join("; ")
                },
            }
        })
        .collect()
}

fn account_name(account: &Account) -> String {
    match account {
        Account::Cardholder(pan) => format!("card {pan}"),
        Account::Merchant(merchant) => format!("merchant {merchant}"),
        Account::Clearing(currency) => format!("clearing {currency}"),
    }
}

fn balances(history: &History) -> Vec<BalanceLine> {
    let mut lines = Vec::new();
    for ledger in &history.ledgers {
        let mut accounts: Vec<&Account> = ledger.opening.keys().chain(ledger.closing.keys()).collect();
        accounts.sort();
        accounts.dedup();
        for account in accounts {
            let opening = ledger.opening.get(account).copied();
            let closing = ledger.closing.get(account).copied();
            let currency = opening
                .or(closing)
                .map(|(_, c)| c)
                .unwrap_or(crate::wire::types::Currency::EUR);
            let open = opening.map_or(0, |(minor, _)| minor);
            let close = closing.map_or(open, |(minor, _)| minor);
            lines.push(BalanceLine {
                bank: ledger.bank.to_string(),
                account: account_name(account),
                opening: format_minor(open, currency),
                closing: format_minor(close, currency),
                change: if close == open {
                    String::new()
                } else {
                    let delta = close - open;
                    let text = format_minor(delta, currency);
                    if delta > 0 {
                        format!("+{text}")
                    } else {
                        text
                    }
                },
            });
        }
    }
    lines
}

fn judge(scenario: &Scenario, history: &History) -> Vec<ExpectationResult> {
    scenario
        .expectations
        .iter()
        .map(|expectation| match expectation {
            Expectation::Shows {
                name,
                operation,
                shows,
                code,
                uploaded,
            } => {
                let mut expected = format!("`{name}` shows {}", shows.name());
                if let Some(code) = code {
                    expected.push_str(&format!(" {}", code.to_wire()));
                }
                if let Some(uploaded) = uploaded {
                    expected.push_str(&format!(" after uploading {uploaded} items"));
                }
                let seen = shown_for(history, (*operation).into());
                let met = seen.len() == 1 && outcome_matches(&seen[0].outcome, *shows, *code, *uploaded);
                let actual = if seen.is_empty() {
                    "nothing shown".to_string()
                } else {
                    seen.iter()
                        .map(|shown| describe_outcome(&shown.outcome))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                ExpectationResult {
                    expected,
                    actual,
                    met,
                }
            }
            Expectation::Balance {
                label,
                account,
                balance,
            } => {
                let expected = format!("{label} ends at {balance}");
                let closing = history
                    .ledgers
                    .iter()
                    .find_map(|ledger| ledger.closing.get(account).copied());
                match closing {
                    None => ExpectationResult {
                        expected,
                        actual: "no such account in any ledger".to_string(),
                        met: false,
                    },
                    Some((minor, currency)) => ExpectationResult {
                        expected,
                        actual: format_minor(minor, currency),
                        met: currency == balance.currency && minor == balance.amount.minor_units() as i64,
                    },
                }
            }
        })
        .collect()
}

fn outcome_matches(
    outcome: &Outcome,
    shows: ShowKind,
    code: Option<crate::wire::types::ResponseCode>,
    uploaded: Option<u32>,
) -> bool {
    match (outcome, shows) {
        (Outcome::Approved { .. }, ShowKind::Approved) => true,
        (Outcome::Declined { code: got }, ShowKind::Declined) => code.is_none_or(|code| code == *got),
        (Outcome::FailedReversed { reason }, ShowKind::FailedReversed) => {
            code.is_none_or(|code| code == *reason)
        }
        (Outcome::Refused { .. }, ShowKind::Refused) => true,
        (Outcome::BatchClosed { uploaded: got }, ShowKind::BatchClosed) => uploaded.is_none_or(|u| u == *got),
        _ => false,
    }
}
