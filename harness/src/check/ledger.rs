//! Invariants over the banks' ledgers and posting logs.

use std::collections::{BTreeMap, BTreeSet};

use super::observed::Observed;
use super::{Invariant, Violation};
use crate::history::{Account, EffectType, History, Ledger, Posting};
use crate::wire::types::{BatchNumber, Currency, TerminalId, TransactionKey};

pub(super) fn violation(
    invariant: Invariant,
    keys: Vec<TransactionKey>,
    message: String,
    evidence: Vec<String>,
) -> Violation {
    Violation {
        invariant,
        keys,
        message,
        evidence,
    }
}

/// A posting in words, for evidence.
pub(super) fn describe(ledger: &Ledger, posting: &Posting) -> String {
    let legs: Vec<String> = posting
        .entries
        .iter()
        .map(|entry| format!("{} {:+} {}", entry.account, entry.minor, entry.currency))
        .collect();
    let key = posting
        .key
        .as_ref()
        .map(|key| key.to_string())
        .unwrap_or_else(|| "-".into());
    format!(
        "{} posting #{} {:?} key {}: {}",
        ledger.bank,
        posting.sequence,
        posting.effect,
        key,
        legs.join(", ")
    )
}

fn keys_of(posting: &Posting) -> Vec<TransactionKey> {
    posting.key.iter().cloned().collect()
}

/// Every posting's entries sum to zero per currency.
pub fn double_entry(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    for ledger in &history.ledgers {
        for posting in &ledger.postings {
            let mut sums: BTreeMap<Currency, i64> = BTreeMap::new();
            for entry in &posting.entries {
                *sums.entry(entry.currency).or_default() += entry.minor;
            }
            for (currency, sum) in sums.into_iter().filter(|(_, sum)| *sum != 0) {
                violations.push(violation(
                    Invariant::DoubleEntry,
                    keys_of(posting),
                    format!("a posting's {currency} legs sum to {sum}, not zero"),
                    vec![describe(ledger, posting)],
                ));
            }
        }
    }
    violations
}

fn totals(balances: &BTreeMap<Account, (i64, Currency)>) -> BTreeMap<Currency, i64> {
    let mut totals = BTreeMap::new();
    for (minor, currency) in balances.values() {
        *totals.entry(*currency).or_default() += minor;
    }
    totals
}

/// The sum per currency is unchanged, and closing = opening + postings.
pub fn conservation(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    for ledger in &history.ledgers {
        let (opening, closing) = (totals(&ledger.opening), totals(&ledger.closing));
        let currencies: BTreeSet<Currency> = opening.keys().chain(closing.keys()).copied().collect();
        for currency in currencies {
            let (before, after) = (
                opening.get(&currency).copied().unwrap_or(0),
                closing.get(&currency).copied().unwrap_or(0),
            );
            if before != after {
                violations.push(violation(
                    Invariant::Conservation,
                    Vec::new(),
                    format!(
                        "{}: all {currency} accounts summed to {before} before the run and {after} after",
                        ledger.bank
                    ),
                    Vec::new(),
                ));
            }
        }
        let mut replayed = ledger.opening.clone();
        for posting in &ledger.postings {
            for entry in &posting.entries {
                replayed
                    .entry(entry.account.clone())
                    .or_insert((0, entry.currency))
                    .0 += entry.minor;
            }
        }
        let accounts: BTreeSet<&Account> = replayed.keys().chain(ledger.closing.keys()).collect();
        for account in accounts {
            let expected = replayed.get(account).map(|(minor, _)| *minor).unwrap_or(0);
            let actual = ledger.closing.get(account).map(|(minor, _)| *minor).unwrap_or(0);
            if expected != actual {
                violations.push(violation(
                    Invariant::Conservation,
                    Vec::new(),
                    format!(
                        "{}: {account} closes at {actual}, but opening balance plus postings give {expected}",
                        ledger.bank
                    ),
                    Vec::new(),
                ));
            }
        }
    }
    violations
}

/// At most one effect per (key, effect type); each batch settled once (so
/// each sale, which belongs to one batch by its DE60, is paid out once).
pub fn at_most_once(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    for ledger in &history.ledgers {
        let mut by_effect: BTreeMap<(TransactionKey, EffectType), Vec<&Posting>> = BTreeMap::new();
        let mut by_batch: BTreeMap<String, Vec<&Posting>> = BTreeMap::new();
        for posting in &ledger.postings {
            if let Some(key) = &posting.key {
                by_effect
                    .entry((key.clone(), posting.effect))
                    .or_default()
                    .push(posting);
            }
            if let Some((terminal, batch)) = &posting.batch {
                by_batch
                    .entry(format!("{terminal} batch {batch}"))
                    .or_default()
                    .push(posting);
            }
        }
        for ((key, effect), postings) in by_effect.into_iter().filter(|(_, p)| p.len() > 1) {
            violations.push(violation(
                Invariant::AtMostOnce,
                vec![key.clone()],
                format!("{key} has {} {effect:?} postings", postings.len()),
                postings.iter().map(|p| describe(ledger, p)).collect(),
            ));
        }
        for (batch, postings) in by_batch.into_iter().filter(|(_, p)| p.len() > 1) {
            violations.push(violation(
                Invariant::AtMostOnce,
                Vec::new(),
                format!("{batch} was settled {} times", postings.len()),
                postings.iter().map(|p| describe(ledger, p)).collect(),
            ));
        }
    }
    violations
}

/// Net effect of a posting on cardholder accounts.
pub(super) fn cardholder_net(posting: &Posting) -> i64 {
    posting
        .entries
        .iter()
        .filter(|entry| matches!(entry.account, Account::Cardholder(_)))
        .map(|entry| entry.minor)
        .sum()
}

/// Each reversal undoes an earlier real posting of the same key, exactly,
/// on the cardholder's side.
pub fn reversal_soundness(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    for ledger in &history.ledgers {
        let mut originals: BTreeMap<&TransactionKey, &Posting> = BTreeMap::new();
        for posting in &ledger.postings {
            let Some(key) = &posting.key else { continue };
            if posting.effect != EffectType::Reversal {
                originals.insert(key, posting);
                continue;
            }
            match originals.get(key) {
                None => violations.push(violation(
                    Invariant::ReversalSoundness,
                    vec![key.clone()],
                    format!("reversal of {key} undoes nothing that was posted"),
                    vec![describe(ledger, posting)],
                )),
                Some(original) if cardholder_net(original) + cardholder_net(posting) != 0 => {
                    violations.push(violation(
                        Invariant::ReversalSoundness,
                        vec![key.clone()],
                        format!("reversal of {key} does not undo its original exactly"),
                        vec![describe(ledger, original), describe(ledger, posting)],
                    ))
                }
                Some(_) => {}
            }
        }
    }
    violations
}

pub(super) fn reversed_keys(ledger: &Ledger) -> BTreeSet<&TransactionKey> {
    ledger
        .postings
        .iter()
        .filter(|posting| posting.effect == EffectType::Reversal)
        .filter_map(|posting| posting.key.as_ref())
        .collect()
}

/// Refunds of a sale (not reversed) never exceed the sale, in its currency.
/// Which sale a refund is of, its request says (DE90).
pub fn refund_bound(history: &History, observed: &Observed) -> Vec<Violation> {
    let mut violations = Vec::new();
    for ledger in &history.ledgers {
        let reversed = reversed_keys(ledger);
        let sales: BTreeMap<&TransactionKey, &Posting> = ledger
            .postings
            .iter()
            .filter(|posting| posting.effect == EffectType::Sale)
            .filter_map(|posting| posting.key.as_ref().map(|key| (key, posting)))
            .collect();
        let mut refunds: BTreeMap<&TransactionKey, Vec<&Posting>> = BTreeMap::new();
        for posting in &ledger.postings {
            let live = posting.key.as_ref().is_some_and(|key| !reversed.contains(key));
            if posting.effect == EffectType::Refund && live {
                let original = posting.key.as_ref().and_then(|key| observed.original_of(key));
                if let Some(original) = original {
                    refunds.entry(original).or_default().push(posting);
                }
            }
        }
        for (original, postings) in refunds {
            let refunded: i64 = postings.iter().map(|posting| cardholder_net(posting)).sum();
            let mut evidence: Vec<String> = postings.iter().map(|p| describe(ledger, p)).collect();
            let Some(sale) = sales.get(original) else {
                violations.push(violation(
                    Invariant::RefundBound,
                    vec![original.clone()],
                    format!("refunds of {original} were posted but the sale never was"),
                    evidence,
                ));
                continue;
            };
            let sold = -cardholder_net(sale);
            crate::cover::hit_if(postings.len() > 1, crate::cover::Mark::CheckRefundsSummed);
            crate::cover::hit_if(refunded == sold, crate::cover::Mark::CheckRefundedInFull);
            let currency_of = |posting: &Posting| posting.entries.first().map(|entry| entry.currency);
            let other_currency = postings
                .iter()
                .any(|posting| currency_of(posting) != currency_of(sale));
            if refunded > sold || other_currency {
                evidence.insert(0, describe(ledger, sale));
                violations.push(violation(
                    Invariant::RefundBound,
                    vec![original.clone()],
                    format!(
                        "sale {original} of {sold} was refunded {refunded} in {} refunds",
                        postings.len()
                    ),
                    evidence,
                ));
            }
        }
    }
    violations
}

/// A void happens only before its sale's batch is settled, in full. Which
/// sale it voids, and which batch that sale is in, the requests say (DE90,
/// DE60); that a voided sale is not paid after the void, settlement
/// exactness judges by the amount paid.
pub fn void_rule(history: &History, observed: &Observed) -> Vec<Violation> {
    let mut violations = Vec::new();
    for ledger in &history.ledgers {
        let reversed = reversed_keys(ledger);
        let mut sales: BTreeMap<&TransactionKey, &Posting> = BTreeMap::new();
        let mut settled: BTreeMap<(&TerminalId, BatchNumber), &Posting> = BTreeMap::new();
        for posting in &ledger.postings {
            match (posting.effect, &posting.key, &posting.batch) {
                (EffectType::Sale, Some(key), _) => {
                    sales.insert(key, posting);
                }
                (EffectType::Settlement, _, Some((terminal, batch))) => {
                    settled.entry((terminal, *batch)).or_insert(posting);
                }
                _ => {}
            }
        }
        for posting in ledger
            .postings
            .iter()
            .filter(|posting| posting.effect == EffectType::Void)
        {
            let Some(key) = posting.key.as_ref().filter(|key| !reversed.contains(key)) else {
                continue;
            };
            let Some(original) = observed.original_of(key) else {
                continue;
            };
            let mut problems = Vec::new();
            match sales.get(original) {
                None => problems.push(format!("void of {original}, a sale that was never posted")),
                Some(sale) if cardholder_net(sale) + cardholder_net(posting) != 0 => {
                    problems.push(format!("void of {original} is not for the full amount"))
                }
                Some(_) => {}
            }
            let settlement = observed
                .batch_of(original)
                .and_then(|batch| settled.get(&batch))
                .filter(|settlement| settlement.sequence < posting.sequence);
            let mut evidence = vec![describe(ledger, posting)];
            if let Some(settlement) = settlement {
                problems.push(format!("voided sale {original} after its batch was settled"));
                evidence.insert(0, describe(ledger, settlement));
            }
            for message in problems {
                violations.push(violation(
                    Invariant::VoidRule,
                    vec![original.clone()],
                    message,
                    evidence.clone(),
                ));
            }
        }
    }
    violations
}
