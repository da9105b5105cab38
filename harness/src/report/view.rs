//! The report's own view of a run, built from the history alone: what each
//! operation showed the customer, every account's balances, outcomes and
//! accounts in words, money in minor units with its currency.

use std::collections::BTreeMap;

use super::{BalanceLine, CustomerLine};
use crate::history::{Account, History, OperationId, Outcome, Request, Shown};
use crate::wire::types::Currency;

/// How a scenario file names one of its operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The `id` in the file, if any.
    pub name: Option<String>,
    /// What was asked, in the file's words.
    pub what: String,
}

/// Labels of operations by id: from a scenario file, or none for a
/// generated seed (the view then describes each request itself).
pub type Labels = BTreeMap<OperationId, Label>;

/// Format minor units of a currency, e.g. `-12.50 EUR`.
pub fn format_minor(minor: i64, currency: Currency) -> String {
    let exponent = u32::from(currency.exponent());
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{abs} {currency}");
    }
    let scale = 10u64.pow(exponent);
    format!(
        "{sign}{}.{:0width$} {currency}",
        abs / scale,
        abs % scale,
        width = exponent as usize
    )
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

/// Everything shown for `operation`, in order.
pub fn shown_for(history: &History, operation: OperationId) -> Vec<&Shown> {
    history
        .shown
        .iter()
        .filter(|shown| shown.shown.operation == operation)
        .map(|shown| &shown.shown)
        .collect()
}

/// A request in words, naming other operations by their labels.
fn describe_request(request: &Request, labels: &Labels) -> String {
    let name = |operation: &OperationId| {
        labels
            .get(operation)
            .and_then(|label| label.name.clone())
            .unwrap_or_else(|| operation.to_string())
    };
    match request {
        Request::Sale { pan, amount } => format!("sale {amount} card {pan}"),
        Request::Refund { original, amount } => format!("refund {amount} of {}", name(original)),
        Request::Void { original } => format!("void {}", name(original)),
        Request::Balance { pan } => format!("balance card {pan}"),
        Request::CloseBatch => "close batch".to_string(),
    }
}

/// What every operation showed the customer.
pub fn customer_view(history: &History, labels: &Labels) -> Vec<CustomerLine> {
    history
        .operations
        .iter()
        .map(|operation| {
            let label = labels.get(&operation.id);
            let request = match (&operation.request, label) {
                (_, Some(label)) => label.what.clone(),
                (Request::CloseBatch, None) if history.closes_after_healing.contains(&operation.id) => {
                    "close batch (end of day)".to_string()
                }
                (request, None) => describe_request(request, labels),
            };
            let displays = shown_for(history, operation.id);
            let key = displays.iter().find_map(|shown| shown.key.as_ref());
            let shown: Vec<String> = displays
                .iter()
                .map(|shown| describe_outcome(&shown.outcome))
                .collect();
            CustomerLine {
                operation: operation.id.to_string(),
                name: label.and_then(|label| label.name.clone()),
                terminal: operation.terminal.to_string(),
                at_ms: operation.at_ms,
                request,
                shown: if shown.is_empty() {
                    "(nothing shown)".to_string()
                } else {
                    shown.join("; ")
                },
                key: key.map(|key| key.to_string()),
                key_id: key.map(super::timeline::key_id),
            }
        })
        .collect()
}

/// An account in words, with its whole number (the report is for the
/// merchant and QA, not the public).
pub fn account_name(account: &Account) -> String {
    match account {
        Account::Cardholder(pan) => format!("card {pan}"),
        Account::Merchant(merchant) => format!("merchant {merchant}"),
        Account::Clearing(currency) => format!("clearing {currency}"),
    }
}

/// Every account of every ledger, opening and closing.
pub fn balances(history: &History) -> Vec<BalanceLine> {
    let mut lines = Vec::new();
    for ledger in &history.ledgers {
        let mut accounts: Vec<&Account> = ledger.opening.keys().chain(ledger.closing.keys()).collect();
        accounts.sort();
        accounts.dedup();
        for account in accounts {
            let opening = ledger.opening.get(account).copied();
            let closing = ledger.closing.get(account).copied();
            let currency = opening.or(closing).map(|(_, c)| c).unwrap_or(Currency::EUR);
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
