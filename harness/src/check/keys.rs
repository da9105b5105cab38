//! Identity: a transaction key names one transaction. A request that reuses
//! a key with other content (another card, amount, processing code,
//! merchant or original) is a different transaction and must not be
//! approved with the answer of the first; and an answer reaches only the
//! terminal whose key it carries (DE41), or the terminal whose link asked
//! it (a request naming another terminal is answered to the link it came
//! on).

use std::collections::BTreeMap;

use super::ledger::violation;
use super::{Invariant, Violation};
use crate::history::{Asked, FinancialAsked, History, Party};
use crate::wire::types::{ResponseCode, TransactionKey};

/// Whether two requests under one key ask the same transaction: the card,
/// the amount, the processing code, the merchant and the original. DE7 and
/// the repeat flag change on retransmission; DE14 and DE60 are not
/// compared.
fn same_transaction(a: &FinancialAsked, b: &FinancialAsked) -> bool {
    (a.processing, &a.pan, a.amount, &a.merchant, &a.original)
        == (b.processing, &b.pan, b.amount, &b.merchant, &b.original)
}

/// A request's transaction in words, for evidence.
fn describe(asked: &FinancialAsked) -> String {
    let original = asked
        .original
        .as_ref()
        .map(|original| format!(" of {original}"))
        .unwrap_or_default();
    format!(
        "{} {} card {} merchant {}{original}",
        asked.processing.to_wire(),
        asked.amount,
        asked.pan.masked(),
        asked.merchant
    )
}

/// A key's first content at a receiver, and when and with what content it
/// was asked again with other content.
type FirstAsked<'a> = (&'a FinancialAsked, Option<(u64, &'a FinancialAsked)>);

/// See the module documentation.
pub fn key_reuse(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    // A 63 or 30 rejects a message that was not authentic or well formed
    // and echoes whatever key that message carried: it answers no one.
    let rejections = [ResponseCode::SecurityViolation, ResponseCode::FormatError];
    // An answer goes back over the link the request came on: a request
    // naming another terminal that came over this terminal's link (a host
    // with its key and other software) is answered to this link, which asked.
    // The first time each terminal link asked each key.
    let mut asked_over: BTreeMap<(&Party, &TransactionKey), u64> = BTreeMap::new();
    for request in &history.requests {
        if let Party::Terminal(_) = request.sender {
            asked_over
                .entry((&request.sender, &request.key))
                .or_insert(request.at_ms);
        }
    }
    for answer in history
        .answers
        .iter()
        .filter(|answer| !rejections.contains(&answer.response))
    {
        if let Party::Terminal(terminal) = &answer.receiver {
            let asked_here = asked_over
                .get(&(&answer.receiver, &answer.key))
                .is_some_and(|&asked_ms| asked_ms <= answer.at_ms);
            if &answer.key.terminal != terminal && !asked_here {
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
        let Asked::Financial(asked) = &request.asked else {
            continue;
        };
        let entry = first
            .entry((&request.receiver, &request.key))
            .or_insert((asked, None));
        if entry.1.is_none() && !same_transaction(entry.0, asked) {
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
                    format!("first asked: {}", describe(original)),
                    format!("asked again at {since} ms: {}", describe(asked)),
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
