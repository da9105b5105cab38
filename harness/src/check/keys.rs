//! Identity: a transaction key names one transaction. A request that reuses
//! a key with other content (another card, amount, processing code,
//! merchant or original) is a different transaction and must not be
//! approved with the answer of the first; and an answer reaches only the
//! terminal whose key it carries (DE41).

use std::collections::BTreeMap;

use super::ledger::violation;
use super::{Invariant, Violation};
use crate::history::{Asked, History, Party, RequestSeen};
use crate::wire::types::{ResponseCode, TransactionKey};

/// The fields that make a financial request the transaction it is; DE7 and
/// the repeat flag change on retransmission and are not part of it.
fn content(request: &RequestSeen) -> Option<String> {
    match &request.asked {
        Asked::Financial {
            processing,
            pan,
            amount,
            merchant,
            original,
            ..
        } => Some(format!(
            "{} {} card {} merchant {merchant}{}",
            processing.to_wire(),
            amount,
            pan.masked(),
            original
                .as_ref()
                .map(|original| format!(" of {original}"))
                .unwrap_or_default()
        )),
        _ => None,
    }
}

/// A key's first content at a receiver, and when and with what content it
/// was asked again with other content.
type FirstAsked = (String, Option<(u64, String)>);

/// See the module documentation.
pub fn key_reuse(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    // A 63 or 30 rejects a message that was not authentic or well formed
    // and echoes whatever key that message carried: it answers no one.
    let rejections = [ResponseCode::SecurityViolation, ResponseCode::FormatError];
    for answer in history
        .answers
        .iter()
        .filter(|answer| !rejections.contains(&answer.response))
    {
        if let Party::Terminal(terminal) = &answer.receiver {
            if &answer.key.terminal != terminal {
                violations.push(violation(
                    Invariant::KeyReuse,
                    vec![answer.key.clone()],
                    format!(
                        "an answer for {} reached {terminal}, which did not ask it",
                        answer.key
                    ),
                    vec![format!(
                        "0{} {} from {} at {} ms",
                        answer.mti,
                        answer.response.to_wire(),
                        answer.sender,
                        answer.at_ms
                    )],
                ));
            }
        }
    }
    let mut first: BTreeMap<(&Party, &TransactionKey), FirstAsked> = BTreeMap::new();
    for request in &history.requests {
        let Some(asked) = content(request) else { continue };
        let entry = first
            .entry((&request.receiver, &request.key))
            .or_insert_with(|| (asked.clone(), None));
        if entry.0 != asked && entry.1.is_none() {
            entry.1 = Some((request.at_ms, asked));
        }
    }
    for ((receiver, key), (original, reused)) in first {
        let Some((since, asked)) = reused else { continue };
        let approved_after = history.answers.iter().find(|answer| {
            &answer.sender == receiver
                && &answer.key == key
                && answer.mti == 210
                && answer.at_ms >= since
                && answer.response.is_approved()
        });
        if let Some(answer) = approved_after {
            violations.push(violation(
                Invariant::KeyReuse,
                vec![key.clone()],
                format!("{receiver} was asked {key} again with other content and still approved it"),
                vec![
                    format!("first asked: {original}"),
                    format!("asked again at {since} ms: {asked}"),
                    format!(
                        "0210 00 from {receiver} to {} at {} ms",
                        answer.receiver, answer.at_ms
                    ),
                ],
            ));
        }
    }
    violations
}
