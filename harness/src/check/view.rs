//! Invariants that compare what customers were shown and what was answered
//! with the ledgers, and the liveness check after healing.

use std::collections::{BTreeMap, BTreeSet};

use super::ledger::{cardholder_net, describe};
use super::observed::Observed;
use super::{Invariant, Violation};
use crate::history::{EffectType, History, OperationId, OperationKind, Outcome, Party, Posting, Shown};
use crate::wire::types::{BatchNumber, ProcessingCode, ResponseCode, TerminalId, TransactionKey};

/// All postings of each key, across banks, with their descriptions.
fn postings_by_key(history: &History) -> BTreeMap<&TransactionKey, Vec<(&Posting, String)>> {
    let mut by_key: BTreeMap<&TransactionKey, Vec<(&Posting, String)>> = BTreeMap::new();
    for ledger in &history.ledgers {
        for posting in &ledger.postings {
            if let Some(key) = &posting.key {
                by_key
                    .entry(key)
                    .or_default()
                    .push((posting, describe(ledger, posting)));
            }
        }
    }
    by_key
}

fn net_on_accounts(postings: &[(&Posting, String)]) -> BTreeMap<String, i64> {
    let mut net = BTreeMap::new();
    for (posting, _) in postings {
        for entry in &posting.entries {
            *net.entry(format!("{} {}", entry.account, entry.currency))
                .or_insert(0) += entry.minor;
        }
    }
    net.retain(|_, minor| *minor != 0);
    net
}

/// Answers that decide nothing: 94 means "no new effect"; 63 and 30 reject
/// a message that was not authentic or well formed.
pub(super) const NOT_A_DECISION: [ResponseCode; 3] = [
    ResponseCode::Duplicate,
    ResponseCode::SecurityViolation,
    ResponseCode::FormatError,
];

/// The distinct (DE39, DE38) answers per (receiver, key, MTI).
type AnswerGroups<'a> =
    BTreeMap<(&'a Party, &'a TransactionKey, u16), BTreeSet<(ResponseCode, Option<String>)>>;

/// Every copy and repeat of a request gets the same answer at the same
/// receiver (94 "no new effect", and 63 / 30 rejections of a forged or
/// malformed message, decide nothing and are not compared).
pub fn same_answer(history: &History) -> Vec<Violation> {
    let mut groups: AnswerGroups = BTreeMap::new();
    for answer in &history.answers {
        if NOT_A_DECISION.contains(&answer.response) {
            continue;
        }
        let approval = answer.approval.as_ref().map(|code| code.to_string());
        groups
            .entry((&answer.receiver, &answer.key, answer.mti))
            .or_default()
            .insert((answer.response, approval));
    }
    groups
        .into_iter()
        .filter(|(_, answers)| answers.len() > 1)
        .map(|((receiver, key, mti), answers)| Violation {
            invariant: Invariant::SameAnswer,
            keys: vec![key.clone()],
            message: format!(
                "{receiver} got {} different {mti:04} answers for {key}",
                answers.len()
            ),
            evidence: answers
                .iter()
                .map(|(code, approval)| format!("DE39 {} DE38 {}", code, approval.as_deref().unwrap_or("-")))
                .collect(),
        })
        .collect()
}

/// A request every bank answer declined moved nothing.
pub fn declines_move_nothing(history: &History) -> Vec<Violation> {
    let mut declined: BTreeSet<&TransactionKey> = BTreeSet::new();
    let mut approved: BTreeSet<&TransactionKey> = BTreeSet::new();
    for answer in history
        .answers
        .iter()
        .filter(|answer| answer.mti == 210 && matches!(answer.sender, Party::Bank(_)))
    {
        match answer.response {
            ResponseCode::Approved => approved.insert(&answer.key),
            ResponseCode::Duplicate => false,
            _ => declined.insert(&answer.key),
        };
    }
    let postings = postings_by_key(history);
    let mut violations = Vec::new();
    for key in declined.difference(&approved) {
        let Some(found) = postings.get(key) else { continue };
        let net = net_on_accounts(found);
        if !net.is_empty() {
            violations.push(Violation {
                invariant: Invariant::DeclinesMoveNothing,
                keys: vec![(*key).clone()],
                message: format!("{key} was declined by the bank but moved money: {net:?}"),
                evidence: found.iter().map(|(_, text)| text.clone()).collect(),
            });
        }
    }
    violations
}

fn check_approved(kind: OperationKind, shown_minor: Option<i64>, net_cardholder: i64) -> Option<String> {
    let expected = match kind {
        OperationKind::Financial(ProcessingCode::Sale) => shown_minor.map(|minor| -minor),
        OperationKind::Financial(ProcessingCode::Refund | ProcessingCode::Void) => shown_minor,
        OperationKind::Financial(ProcessingCode::Balance) => Some(0),
        OperationKind::BatchClose => return None,
    };
    match expected {
        Some(expected) if expected != net_cardholder => Some(format!(
            "shown approved, so the card should move {expected}, but it moved {net_cardholder}"
        )),
        None if net_cardholder == 0 && kind != OperationKind::Financial(ProcessingCode::Balance) => {
            Some("shown approved, but the card did not move".to_string())
        }
        _ => None,
    }
}

/// Shown approved: exactly the shown movement of the card (and, once the
/// batch closed, one payout of a sale); anything else: net zero. Every
/// operation is shown a result, and the same one if shown again (a
/// terminal that crashes between showing and journalling shows it twice).
pub fn customer_view(history: &History, observed: &Observed) -> Vec<Violation> {
    let postings = postings_by_key(history);
    let mut violations = Vec::new();
    let mut shown_outcomes: BTreeMap<OperationId, Vec<&Outcome>> = BTreeMap::new();
    for shown_at in &history.shown {
        let shown = &shown_at.shown;
        shown_outcomes
            .entry(shown.operation)
            .or_default()
            .push(&shown.outcome);
        let Some(key) = &shown.key else { continue };
        let found = postings.get(key).map(Vec::as_slice).unwrap_or(&[]);
        let net_cardholder: i64 = found.iter().map(|(posting, _)| cardholder_net(posting)).sum();
        let problem = match &shown.outcome {
            Outcome::Approved { .. } => {
                let shown_minor = shown.amount.map(|money| money.amount.minor_units() as i64);
                check_approved(shown.kind, shown_minor, net_cardholder)
            }
            Outcome::BatchClosed { .. } => None,
            Outcome::Declined { code } if shown.kind != OperationKind::BatchClose => {
                declined_problem(history, shown, key, *code, found)
            }
            other => {
                let net = net_on_accounts(found);
                (!net.is_empty()).then(|| format!("shown {other:?}, but money moved: {net:?}"))
            }
        };
        if let Some(message) = problem {
            violations.push(Violation {
                invariant: Invariant::CustomerView,
                keys: vec![key.clone()],
                message: format!("{} {}: {message}", shown.terminal, shown.operation),
                evidence: found.iter().map(|(_, text)| text.clone()).collect(),
            });
        }
    }
    violations.extend(unpaid_sales(history, observed));
    for operation in &history.operations {
        let outcomes = shown_outcomes
            .get(&operation.id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let problem = match outcomes {
            [] => Some("was never shown a result".to_string()),
            [first, rest @ ..] if rest.iter().any(|other| other != first) => {
                Some(format!("was shown {} different results", outcomes.len()))
            }
            _ => None,
        };
        if let Some(problem) = problem {
            violations.push(Violation {
                invariant: Invariant::CustomerView,
                keys: Vec::new(),
                message: format!("{} {} {problem}", operation.terminal, operation.id),
                evidence: outcomes.iter().map(|outcome| format!("{outcome:?}")).collect(),
            });
        }
    }
    violations
}

/// A decline shown must be one the terminal was sent, and a decline from
/// the issuer (anything but the switch's 91 stand-in) never posted at all.
fn declined_problem(
    history: &History,
    shown: &Shown,
    key: &TransactionKey,
    code: ResponseCode,
    found: &[(&Posting, String)],
) -> Option<String> {
    let receiver = Party::Terminal(shown.terminal.clone());
    let backed = history.answers.iter().any(|answer| {
        answer.mti == 210 && answer.receiver == receiver && &answer.key == key && answer.response == code
    });
    if !backed {
        return Some(format!(
            "shown declined {}, but no such answer ever reached the terminal",
            code.to_wire()
        ));
    }
    if code != ResponseCode::IssuerUnavailable && !found.is_empty() {
        return Some(format!(
            "shown declined {}, but the bank posted it",
            code.to_wire()
        ));
    }
    let net = net_on_accounts(found);
    (!net.is_empty()).then(|| format!("shown declined {}, but money moved: {net:?}", code.to_wire()))
}

/// Sales shown approved before their terminal's last successful batch close
/// that were not voided or reversed must be paid out (or held for a frozen
/// merchant, the money staying in clearing).
fn unpaid_sales(history: &History, observed: &Observed) -> Vec<Violation> {
    let mut last_close: BTreeMap<&TerminalId, u64> = BTreeMap::new();
    for shown_at in &history.shown {
        if matches!(shown_at.shown.outcome, Outcome::BatchClosed { .. }) {
            last_close.insert(&shown_at.shown.terminal, shown_at.at_ms);
        }
    }
    let mut undone: BTreeSet<&TransactionKey> = BTreeSet::new();
    let mut paid: BTreeSet<(&TerminalId, BatchNumber)> = BTreeSet::new();
    for held in history.ledgers.iter().flat_map(|ledger| &ledger.held) {
        paid.insert((&held.batch.0, held.batch.1));
    }
    for posting in history.ledgers.iter().flat_map(|ledger| &ledger.postings) {
        match (posting.effect, &posting.key, &posting.batch) {
            (EffectType::Reversal, Some(key), _) => {
                undone.insert(key);
            }
            (EffectType::Void, Some(key), _) => undone.extend(observed.original_of(key)),
            (EffectType::Settlement, _, Some((terminal, batch))) => {
                paid.insert((terminal, *batch));
            }
            _ => {}
        }
    }
    let paid = |key: &TransactionKey| observed.batch_of(key).is_some_and(|batch| paid.contains(&batch));
    let mut violations = Vec::new();
    for shown_at in &history.shown {
        let shown = &shown_at.shown;
        let approved_sale = shown.kind == OperationKind::Financial(ProcessingCode::Sale)
            && matches!(shown.outcome, Outcome::Approved { .. });
        let closed_after = last_close
            .get(&shown.terminal)
            .is_some_and(|at| *at >= shown_at.at_ms);
        let Some(key) = shown.key.as_ref().filter(|_| approved_sale && closed_after) else {
            continue;
        };
        if !undone.contains(key) && !paid(key) {
            violations.push(Violation {
                invariant: Invariant::CustomerView,
                keys: vec![key.clone()],
                message: format!(
                    "sale {key} was approved and its batch closed, but the merchant was never paid for it"
                ),
                evidence: Vec::new(),
            });
        }
    }
    violations
}

/// After healing and the quiet period, nothing is pending.
pub fn no_limbo(history: &History) -> Vec<Violation> {
    let mut violations: Vec<Violation> = history
        .open_work
        .iter()
        .map(|work| Violation {
            invariant: Invariant::NoLimbo,
            keys: work.key.iter().cloned().collect(),
            message: format!(
                "{} still has work pending after healing: {}",
                work.host, work.what
            ),
            evidence: Vec::new(),
        })
        .collect();
    violations.extend(end_of_day_closes_that_failed(history));
    if !history.quiescent {
        violations.push(Violation {
            invariant: Invariant::NoLimbo,
            keys: Vec::new(),
            message: "the system never went quiet after healing (time limit reached)".into(),
            evidence: Vec::new(),
        });
    }
    violations
}

/// A batch close asked after healing must close: with the network and
/// every host up, a batch left open is a day's sales that are never paid
/// out.
fn end_of_day_closes_that_failed(history: &History) -> Vec<Violation> {
    history
        .closes_after_healing
        .iter()
        .filter_map(|operation| {
            let shown = history.shown.iter().find(|s| s.shown.operation == *operation);
            let what = match shown.map(|s| &s.shown.outcome) {
                Some(Outcome::BatchClosed { .. }) => return None,
                Some(outcome) => format!("it showed {outcome:?}"),
                None => "it never showed anything".to_string(),
            };
            let terminal = history
                .operations
                .iter()
                .find(|op| op.id == *operation)
                .map_or_else(|| "a terminal".to_string(), |op| op.terminal.to_string());
            Some(Violation {
                invariant: Invariant::NoLimbo,
                keys: shown.and_then(|s| s.shown.key.clone()).into_iter().collect(),
                message: format!(
                    "the end-of-day close of {terminal} (op{}) after healing did not close the batch: {what}",
                    operation.0
                ),
                evidence: Vec::new(),
            })
        })
        .collect()
}

/// Money moved only for keys a terminal showed a customer (settlements
/// carry no key; they pay out sales that were shown).
pub fn explained_money(history: &History) -> Vec<Violation> {
    let shown: BTreeSet<&TransactionKey> = history
        .shown
        .iter()
        .filter_map(|shown_at| shown_at.shown.key.as_ref())
        .collect();
    let mut unexplained: BTreeMap<&TransactionKey, Vec<String>> = BTreeMap::new();
    for (key, postings) in postings_by_key(history) {
        if !shown.contains(key) && postings.iter().any(|(posting, _)| !posting.entries.is_empty()) {
            unexplained.insert(key, postings.into_iter().map(|(_, text)| text).collect());
        }
    }
    unexplained
        .into_iter()
        .map(|(key, evidence)| Violation {
            invariant: Invariant::ExplainedMoney,
            keys: vec![key.clone()],
            message: format!("money moved for {key}, which no terminal ever showed a customer"),
            evidence,
        })
        .collect()
}
