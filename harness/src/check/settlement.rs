//! Invariants over what one sale and one batch may move: everything given
//! back for a sale stays within it, and a settlement pays a merchant
//! exactly the live sales of its batch. Which refund or void belongs to
//! which sale, and which sales a batch holds, come from the requests that
//! crossed the network (DE90, DE41 and DE60), not from the bank's tables.

use std::collections::{BTreeMap, BTreeSet};

use super::ledger::{cardholder_net, describe, reversed_keys, violation};
use super::observed::Observed;
use super::{Invariant, Violation};
use crate::history::{Account, Asked, EffectType, History, Ledger, Party, Posting};
use crate::wire::types::{BatchNumber, Currency, MerchantId, ProcessingCode, TerminalId, TransactionKey};

/// The sale a posting acts on: its own key for a sale or the reversal of a
/// sale, the named original for a refund or void and for their reversals.
fn sale_of<'a>(
    posting: &'a Posting,
    observed: &Observed<'a>,
    sales: &BTreeMap<&TransactionKey, u64>,
) -> Option<&'a TransactionKey> {
    let key = posting.key.as_ref()?;
    if sales.contains_key(key) {
        return Some(key);
    }
    observed.original_of(key)
}

/// Everything given back to the cardholder for one sale (its refunds, a
/// void, its reversal, less the reversals of those) never exceeds the
/// sale, at any point of the ledger; and a sale has at most one void in
/// effect.
pub fn sale_bound(history: &History, observed: &Observed) -> Vec<Violation> {
    let mut violations = Vec::new();
    for ledger in &history.ledgers {
        let reversed = reversed_keys(ledger);
        let sales: BTreeMap<&TransactionKey, u64> = ledger
            .postings
            .iter()
            .filter(|posting| posting.effect == EffectType::Sale)
            .filter_map(|posting| {
                let key = posting.key.as_ref()?;
                Some((key, cardholder_net(posting).unsigned_abs()))
            })
            .collect();
        let mut returned: BTreeMap<&TransactionKey, (i64, Vec<String>)> = BTreeMap::new();
        let mut voids: BTreeMap<&TransactionKey, Vec<String>> = BTreeMap::new();
        let mut reported: BTreeSet<&TransactionKey> = BTreeSet::new();
        for posting in &ledger.postings {
            if posting.effect == EffectType::Sale || posting.effect == EffectType::Settlement {
                continue;
            }
            let Some(sale) = sale_of(posting, observed, &sales) else {
                continue;
            };
            let Some(sold) = sales.get(sale) else {
                continue;
            };
            let entry = returned.entry(sale).or_default();
            entry.0 += cardholder_net(posting);
            entry.1.push(describe(ledger, posting));
            let live_void = posting.effect == EffectType::Void
                && posting.key.as_ref().is_some_and(|key| !reversed.contains(key));
            if live_void {
                voids.entry(sale).or_default().push(describe(ledger, posting));
            }
            if entry.0 > *sold as i64 && reported.insert(sale) {
                violations.push(violation(
                    Invariant::SaleBound,
                    vec![sale.clone()],
                    format!(
                        "{}: sale {sale} of {sold} gave {} back to the cardholder",
                        ledger.bank, entry.0
                    ),
                    entry.1.clone(),
                ));
            }
        }
        for (sale, evidence) in voids.into_iter().filter(|(_, found)| found.len() > 1) {
            violations.push(violation(
                Invariant::SaleBound,
                vec![sale.clone()],
                format!("{}: sale {sale} was voided {} times", ledger.bank, evidence.len()),
                evidence,
            ));
        }
    }
    violations
}

/// What a sale is, as the ledger walks past it.
#[derive(Default)]
struct SaleState {
    amount: u64,
    currency: Option<Currency>,
    reversed: bool,
    voids: i32,
}

impl SaleState {
    fn live(&self) -> bool {
        !self.reversed && self.voids <= 0
    }
}

/// What a settlement posting credited, per merchant.
fn merchant_credits(posting: &Posting) -> BTreeMap<&MerchantId, i64> {
    let mut credits = BTreeMap::new();
    for entry in &posting.entries {
        if let Account::Merchant(merchant) = &entry.account {
            *credits.entry(merchant).or_default() += entry.minor;
        }
    }
    credits
}

/// Settlements pay exactly what their batch owes, once, and the clearing
/// account holds exactly what is owed and not paid:
/// - each settlement posting credits the batch's merchant with the sum of
///   the batch's sales still live at that point of the ledger (approved,
///   not voided, not reversed; refunds were taken from the merchant when
///   they were made, so they are not deducted again);
/// - each settlement a bank acknowledged (0510 00 to the switch) paid the
///   batch or holds it visibly;
/// - at the end, each clearing account holds the live sales of the batches
///   that were never paid.
pub fn settlement_exact(history: &History, observed: &Observed) -> Vec<Violation> {
    let mut violations = Vec::new();
    for ledger in &history.ledgers {
        violations.extend(payouts(ledger, observed));
        violations.extend(acknowledged_paid(history, ledger));
    }
    violations
}

fn payouts(ledger: &Ledger, observed: &Observed) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut sales: BTreeMap<&TransactionKey, SaleState> = BTreeMap::new();
    let mut paid: BTreeSet<(&TerminalId, BatchNumber)> = BTreeSet::new();
    for posting in &ledger.postings {
        let key = posting.key.as_ref();
        match posting.effect {
            EffectType::Sale => {
                if let Some(key) = key {
                    let state = sales.entry(key).or_default();
                    state.amount = cardholder_net(posting).unsigned_abs();
                    state.currency = posting.entries.first().map(|entry| entry.currency);
                }
            }
            EffectType::Void => {
                let sale = key.and_then(|key| observed.original_of(key));
                if let Some(state) = sale.and_then(|sale| sales.get_mut(sale)) {
                    state.voids += 1;
                }
            }
            EffectType::Reversal => {
                let Some(key) = key else { continue };
                if let Some(state) = sales.get_mut(key) {
                    state.reversed = true;
                } else if observed
                    .asking(key)
                    .is_some_and(|asked| asked.processing == ProcessingCode::Void)
                {
                    if let Some(state) = observed.original_of(key).and_then(|sale| sales.get_mut(sale)) {
                        state.voids -= 1;
                    }
                }
            }
            EffectType::Refund => {}
            EffectType::Settlement => {
                let Some((terminal, batch)) = &posting.batch else {
                    continue;
                };
                paid.insert((terminal, *batch));
                let items = observed.sales_of(terminal, *batch);
                let owed: u64 = items
                    .iter()
                    .filter_map(|item| sales.get(item))
                    .filter(|state| state.live())
                    .map(|state| state.amount)
                    .sum();
                let credits = merchant_credits(posting);
                let credited: i64 = credits.values().sum();
                let merchants: BTreeSet<&MerchantId> = items
                    .iter()
                    .filter_map(|item| observed.asking(item))
                    .map(|asked| &asked.merchant)
                    .collect();
                let wrong_merchant = credits.keys().any(|merchant| !merchants.contains(merchant));
                if credited != owed as i64 || (wrong_merchant && !merchants.is_empty()) {
                    let mut evidence = vec![describe(ledger, posting)];
                    evidence.extend(items.iter().map(|item| {
                        let state = sales.get(item);
                        let what = match state {
                            None => "never posted".to_string(),
                            Some(state) if state.reversed => format!("{} reversed", state.amount),
                            Some(state) if state.voids > 0 => format!("{} voided", state.amount),
                            Some(state) => format!("{} live", state.amount),
                        };
                        format!("sale {item} asked in this batch: {what}")
                    }));
                    violations.push(violation(
                        Invariant::SettlementExact,
                        items.iter().map(|item| (*item).clone()).collect(),
                        format!(
                            "{}: {terminal} batch {batch} owed its merchant {owed} and the settlement paid {credited}{}",
                            ledger.bank,
                            if wrong_merchant { ", to another merchant" } else { "" }
                        ),
                        evidence,
                    ));
                }
            }
        }
    }
    violations.extend(clearing_holds_what_is_owed(ledger, observed, &sales, &paid));
    violations
}

/// At the end, each clearing account holds the live sales of the batches
/// that were never paid (held ones included).
fn clearing_holds_what_is_owed(
    ledger: &Ledger,
    observed: &Observed,
    sales: &BTreeMap<&TransactionKey, SaleState>,
    paid: &BTreeSet<(&TerminalId, BatchNumber)>,
) -> Vec<Violation> {
    let mut owed: BTreeMap<Currency, i64> = BTreeMap::new();
    for (key, state) in sales.iter().filter(|(_, state)| state.live()) {
        let unpaid = observed.batch_of(key).is_some_and(|batch| !paid.contains(&batch));
        if let (true, Some(currency)) = (unpaid, state.currency) {
            *owed.entry(currency).or_default() += state.amount as i64;
        }
    }
    let mut violations = Vec::new();
    let clearing = ledger
        .closing
        .iter()
        .filter(|(account, _)| matches!(account, Account::Clearing(_)));
    let currencies: BTreeSet<Currency> = clearing
        .clone()
        .map(|(_, (_, currency))| *currency)
        .chain(owed.keys().copied())
        .collect();
    for currency in currencies {
        let holds = ledger
            .closing
            .get(&Account::Clearing(currency))
            .map_or(0, |(minor, _)| *minor);
        let expected = owed.get(&currency).copied().unwrap_or(0);
        if holds != expected {
            violations.push(violation(
                Invariant::SettlementExact,
                Vec::new(),
                format!(
                    "{}: clearing {currency} ends at {holds}, but the live sales of unpaid batches sum to {expected}",
                    ledger.bank
                ),
                Vec::new(),
            ));
        }
    }
    violations
}

/// Every settlement the bank acknowledged (0510 00 to the switch) paid its
/// batch or holds it.
fn acknowledged_paid(history: &History, ledger: &Ledger) -> Vec<Violation> {
    let bank = Party::Bank(ledger.bank.clone());
    let mut batches: BTreeSet<(&TerminalId, BatchNumber)> = ledger
        .postings
        .iter()
        .filter(|posting| posting.effect == EffectType::Settlement)
        .filter_map(|posting| posting.batch.as_ref().map(|(terminal, batch)| (terminal, *batch)))
        .collect();
    batches.extend(ledger.held.iter().map(|held| (&held.batch.0, held.batch.1)));
    let acknowledged: BTreeSet<&TransactionKey> = history
        .answers
        .iter()
        .filter(|answer| answer.mti == 510 && answer.sender == bank && answer.response.is_approved())
        .map(|answer| &answer.key)
        .collect();
    let mut violations = Vec::new();
    let mut seen = BTreeSet::new();
    for request in history.requests.iter().filter(|request| request.receiver == bank) {
        let Asked::Close(close) = &request.asked else {
            continue;
        };
        let batch = &close.batch;
        if !acknowledged.contains(&request.key) || !seen.insert(&request.key) {
            continue;
        }
        if !batches.contains(&(&request.key.terminal, *batch)) {
            violations.push(violation(
                Invariant::SettlementExact,
                Vec::new(),
                format!(
                    "{}: acknowledged the settlement of {} batch {batch} ({}) but neither paid nor holds it",
                    ledger.bank, request.key.terminal, request.key
                ),
                Vec::new(),
            ));
        }
    }
    violations
}
