//! Run a scenario file's plan and judge it: every invariant, then the
//! file's expectations, into a report.

use std::time::Instant;

use super::{run, RunError, RunOptions};
use crate::history::{History, OperationId, Outcome};
use crate::node::Bug;
use crate::report::view::{describe_outcome, format_minor, shown_for};
use crate::report::{ExpectationResult, Header, Label, Labels, ScenarioReport};
use crate::scenario::{Expectation, Scenario, ShowKind};
use crate::wire::types::ResponseCode;

/// What a scenario run may change: the seed, and planted bugs to switch on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioOptions {
    /// Override the file's seed.
    pub seed: Option<u64>,
    /// Switch these planted bugs on in every node (on top of the file's).
    pub bugs: Vec<Bug>,
}

/// Run `scenario` and judge it: the invariants, then the expectations.
pub fn scenario(scenario: &Scenario, options: &ScenarioOptions) -> Result<ScenarioReport, RunError> {
    let started = Instant::now();
    let mut plan = scenario.plan.clone();
    if let Some(seed) = options.seed {
        plan.seed = seed;
    }
    // The file's own bugs are on in the plan's nodes already.
    let result = run(&plan, &RunOptions::reported(&options.bugs))?;
    let expectations = judge(scenario, &result.history);
    let mut replay = format!("payfault run {} --seed {}", scenario.file, plan.seed);
    for bug in &options.bugs {
        replay.push_str(&format!(" --bug {}", bug.name()));
    }
    let header = Header {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        incident: scenario.incident,
        description: scenario.description.clone(),
        replay,
    };
    Ok(ScenarioReport::build(
        header,
        result.evidence(),
        &labels(scenario),
        expectations,
        started.elapsed().as_millis() as u64,
    ))
}

/// How the file names its terminal operations.
fn labels(scenario: &Scenario) -> Labels {
    scenario
        .operations
        .iter()
        .filter_map(|info| {
            let label = Label {
                name: info.name.clone(),
                what: info.what.clone(),
            };
            info.operation
                .map(|operation| (OperationId::from(operation), label))
        })
        .collect()
}

/// Every expectation of `scenario`, judged over `history`.
pub fn judge(scenario: &Scenario, history: &History) -> Vec<ExpectationResult> {
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
    code: Option<ResponseCode>,
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
