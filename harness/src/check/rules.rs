//! Invariants over the banks' rules and their acknowledgements: no approval
//! breaks a card's or a merchant's rules as they stood at that moment, and
//! whatever a bank or the switch acknowledged is still true at the end.

use std::collections::{BTreeMap, BTreeSet};

use super::calendar::BankCalendar;
use super::ledger::{cardholder_net, describe};
use super::observed::Observed;
use super::{Invariant, Violation};
use crate::history::{
    Account, BankSetup, CardSetup, CardState, EffectType, History, Ledger, MerchantSetup, MerchantState,
    OperatorAction, OperatorCommand, Party, Posting,
};
use crate::wire::types::{MerchantId, Pan, ProcessingCode, TransactionKey};

/// The rules of one bank as they stand at one point of its history: its
/// setup with the operator commands carried out so far (`card-rules` and
/// the bank model of `availability` both judge by them).
#[derive(Clone)]
pub(super) struct Rules<'a> {
    setup: &'a BankSetup,
    pub calendar: BankCalendar,
    /// Each card as opened, with its state now.
    pub cards: BTreeMap<&'a Pan, (&'a CardSetup, CardState)>,
    /// Each merchant as opened, with its state now.
    pub merchants: BTreeMap<&'a MerchantId, (&'a MerchantSetup, MerchantState)>,
    maintenance_by_command: bool,
}

impl<'a> Rules<'a> {
    pub fn opening(setup: &'a BankSetup, calendar: BankCalendar) -> Rules<'a> {
        Rules {
            setup,
            calendar,
            cards: setup
                .cards
                .iter()
                .map(|card| (&card.pan, (card, card.state)))
                .collect(),
            merchants: setup
                .merchants
                .iter()
                .map(|merchant| (&merchant.id, (merchant, merchant.state)))
                .collect(),
            maintenance_by_command: false,
        }
    }

    pub fn apply(&mut self, command: &OperatorCommand) {
        match &command.command {
            OperatorAction::SetCardState { pan, state } => {
                if let Some(card) = self.cards.get_mut(pan) {
                    card.1 = *state;
                }
            }
            OperatorAction::SetMerchantState { merchant, state } => {
                if let Some(account) = self.merchants.get_mut(merchant) {
                    account.1 = *state;
                }
            }
            OperatorAction::BeginMaintenance => self.maintenance_by_command = true,
            OperatorAction::EndMaintenance => self.maintenance_by_command = false,
        }
    }

    pub fn in_maintenance(&self, at_ms: Option<u64>) -> bool {
        self.maintenance_by_command
            || at_ms.is_some_and(|at| {
                self.setup
                    .maintenance
                    .iter()
                    .any(|(start, end)| *start <= at && at < *end)
            })
    }

    pub fn day(&self, at_ms: u64) -> i64 {
        self.calendar.day(at_ms)
    }
}

/// The account a posting takes money from, of the wanted kind.
fn debited(posting: &Posting, wanted: fn(&Account) -> bool) -> Option<(&Account, u64)> {
    posting
        .entries
        .iter()
        .find(|entry| entry.minor < 0 && wanted(&entry.account))
        .map(|entry| (&entry.account, entry.minor.unsigned_abs()))
}

/// What the bank tracks per day to apply its limits.
#[derive(Default)]
struct Usage<'a> {
    sales: BTreeMap<(&'a Pan, i64), (u64, u32)>,
    refunds: BTreeMap<(&'a MerchantId, i64), u64>,
    sale_at: BTreeMap<&'a TransactionKey, u64>,
}

fn sale_problems<'a>(
    rules: &Rules<'a>,
    usage: &mut Usage<'a>,
    balances: &BTreeMap<Account, i64>,
    posting: &'a Posting,
) -> Vec<String> {
    let Some((Account::Cardholder(pan), amount)) =
        debited(posting, |account| matches!(account, Account::Cardholder(_)))
    else {
        return vec!["a sale posting that debits no card".into()];
    };
    let Some((card, state)) = rules.cards.get(pan) else {
        return vec![format!(
            "sale approved on card {}, which the bank does not have",
            pan.masked()
        )];
    };
    let mut problems = Vec::new();
    if *state != CardState::Active {
        problems.push(format!("sale approved on a card that was {state:?}"));
    }
    let currency = posting.entries.first().map(|entry| entry.currency);
    if currency != Some(card.currency) {
        problems.push(format!(
            "sale approved in {currency:?}, the card is in {}",
            card.currency
        ));
    }
    if card
        .transaction_limit
        .is_some_and(|limit| amount > limit.minor_units())
    {
        problems.push(format!(
            "sale of {amount} approved over the per-transaction limit"
        ));
    }
    if rules.in_maintenance(posting.at_ms) {
        problems.push("sale approved while the issuer was in maintenance".into());
    }
    let balance = balances
        .get(&Account::Cardholder(pan.clone()))
        .copied()
        .unwrap_or(0);
    if balance < amount as i64 {
        problems.push(format!("sale of {amount} approved on a balance of {balance}"));
    }
    if let Some(at) = posting.at_ms {
        if rules.calendar.is_expired(card.expiry, at) {
            problems.push("sale approved on an expired card".into());
        }
        let used = usage.sales.entry((pan, rules.day(at))).or_default();
        if card
            .daily_limit
            .is_some_and(|limit| used.0 + amount > limit.minor_units())
        {
            problems.push(format!(
                "sale of {amount} approved over the daily limit ({} used)",
                used.0
            ));
        }
        if card.daily_count_limit.is_some_and(|limit| used.1 >= limit) {
            problems.push(format!(
                "sale approved after {} sales that day, over the count limit",
                used.1
            ));
        }
        used.0 += amount;
        used.1 += 1;
        if let Some(key) = &posting.key {
            usage.sale_at.insert(key, at);
        }
    }
    problems
}

fn refund_problems<'a>(
    observed: &Observed<'a>,
    rules: &Rules<'a>,
    usage: &mut Usage<'a>,
    balances: &BTreeMap<Account, i64>,
    posting: &'a Posting,
) -> Vec<String> {
    let Some((Account::Merchant(id), amount)) =
        debited(posting, |account| matches!(account, Account::Merchant(_)))
    else {
        return vec!["a refund posting that debits no merchant".into()];
    };
    let Some((merchant, state)) = rules.merchants.get(id) else {
        return vec![format!(
            "refund approved for merchant {id}, which the bank does not have"
        )];
    };
    let mut problems = Vec::new();
    if *state != MerchantState::Active {
        problems.push(format!("refund approved for a merchant that was {state:?}"));
    }
    if merchant.refund_cap.is_some_and(|cap| amount > cap.minor_units()) {
        problems.push(format!("refund of {amount} approved over the refund cap"));
    }
    if rules.in_maintenance(posting.at_ms) {
        problems.push("refund approved while the bank was in maintenance".into());
    }
    let balance = balances.get(&Account::Merchant(id.clone())).copied().unwrap_or(0);
    if balance < amount as i64 {
        problems.push(format!(
            "refund of {amount} approved on a merchant balance of {balance}"
        ));
    }
    if let Some(at) = posting.at_ms {
        let original = posting.key.as_ref().and_then(|key| observed.original_of(key));
        let sold_at = original.and_then(|key| usage.sale_at.get(key));
        let window = merchant.refund_window_ms;
        if let (Some(window), Some(sold_at)) = (window, sold_at) {
            if at.saturating_sub(*sold_at) > window {
                problems.push("refund approved after the refund window".into());
            }
        }
        let refunded = usage.refunds.entry((id, rules.day(at))).or_default();
        let limit = merchant.daily_refund_limit;
        if limit.is_some_and(|limit| *refunded + amount > limit.minor_units()) {
            problems.push(format!(
                "refund of {amount} approved over the daily refund limit ({refunded} used)"
            ));
        }
        *refunded += amount;
    }
    problems
}

/// No approval (a sale, refund or void that posted) breaks the card's or
/// merchant's state, expiry, currency, balance or limits, or the bank's
/// maintenance, as they stood when it was decided: the opening setup, the
/// operator commands before it, and the ledger up to it.
pub fn card_rules<'a>(history: &'a History, observed: &Observed<'a>) -> Vec<Violation> {
    let mut violations = Vec::new();
    for ledger in &history.ledgers {
        let Some(setup) = history.banks.iter().find(|setup| setup.bank == ledger.bank) else {
            continue;
        };
        violations.extend(card_rules_of(history, observed, setup, ledger));
    }
    violations
}

fn card_rules_of<'a>(
    history: &'a History,
    observed: &Observed<'a>,
    setup: &'a BankSetup,
    ledger: &'a Ledger,
) -> Vec<Violation> {
    let Some(calendar) = BankCalendar::new(&setup.epoch) else {
        return vec![Violation {
            invariant: Invariant::CardRules,
            keys: Vec::new(),
            message: format!(
                "{}: its clock's epoch {:?} has no real time of day, so no rule can be judged",
                ledger.bank, setup.epoch
            ),
            evidence: Vec::new(),
        }];
    };
    let mut violations = Vec::new();
    let mut rules = Rules::opening(setup, calendar);
    let mut commands = history
        .commands
        .iter()
        .filter(|command| command.bank == ledger.bank)
        .peekable();
    let mut balances: BTreeMap<Account, i64> = ledger
        .opening
        .iter()
        .map(|(account, (minor, _))| (account.clone(), *minor))
        .collect();
    let mut usage = Usage::default();
    for (sequence, posting) in ledger.postings.iter().enumerate() {
        while let Some(command) = commands.next_if(|command| command.after_postings <= sequence as u64) {
            rules.apply(command);
        }
        let problems = match posting.effect {
            EffectType::Sale => sale_problems(&rules, &mut usage, &balances, posting),
            EffectType::Refund => refund_problems(observed, &rules, &mut usage, &balances, posting),
            EffectType::Void if rules.in_maintenance(posting.at_ms) => {
                vec!["void approved while the bank was in maintenance".into()]
            }
            _ => Vec::new(),
        };
        for problem in problems {
            violations.push(Violation {
                invariant: Invariant::CardRules,
                keys: posting.key.iter().cloned().collect(),
                message: format!("{}: {problem}", ledger.bank),
                evidence: vec![describe(ledger, posting)],
            });
        }
        for entry in &posting.entries {
            *balances.entry(entry.account.clone()).or_default() += entry.minor;
        }
    }
    violations
}

/// What an acknowledgement promised is true in the final ledgers: every
/// approval of a sale, refund or void that a bank sent (as the switch saw
/// it) is backed by a posting of its key unless a reversal of it was
/// acknowledged; and every acknowledged reversal (0430 00) left its key
/// with no net effect on the card (its original, and the refunds and voids
/// of it, undone exactly once, and no late original posted after it).
pub fn durable_ack(history: &History, observed: &Observed) -> Vec<Violation> {
    let mut posted: BTreeSet<&TransactionKey> = BTreeSet::new();
    let mut net: BTreeMap<&TransactionKey, i64> = BTreeMap::new();
    let mut evidence: BTreeMap<&TransactionKey, Vec<String>> = BTreeMap::new();
    for ledger in &history.ledgers {
        for posting in &ledger.postings {
            let Some(key) = &posting.key else { continue };
            posted.insert(key);
            let text = describe(ledger, posting);
            *net.entry(key).or_default() += cardholder_net(posting);
            evidence.entry(key).or_default().push(text.clone());
            if let Some(original) = observed.original_of(key).filter(|original| *original != key) {
                *net.entry(original).or_default() += cardholder_net(posting);
                evidence.entry(original).or_default().push(text);
            }
        }
    }
    let mut acknowledged: BTreeMap<&TransactionKey, String> = BTreeMap::new();
    let mut approvals: BTreeMap<&TransactionKey, String> = BTreeMap::new();
    for answer in history
        .answers
        .iter()
        .filter(|answer| answer.response.is_approved())
    {
        match answer.mti {
            430 => {
                acknowledged.entry(&answer.key).or_insert_with(|| {
                    format!(
                        "0430 00 from {} to {} at {} ms",
                        answer.sender, answer.receiver, answer.at_ms
                    )
                });
            }
            210 if matches!(answer.sender, Party::Bank(_)) => {
                let moves_money = matches!(
                    answer.processing,
                    Some(ProcessingCode::Sale | ProcessingCode::Refund | ProcessingCode::Void)
                );
                if moves_money {
                    approvals.entry(&answer.key).or_insert_with(|| {
                        format!(
                            "0210 00 from {} to {} at {} ms",
                            answer.sender, answer.receiver, answer.at_ms
                        )
                    });
                }
            }
            _ => {}
        }
    }
    let mut violations = Vec::new();
    for (key, seen) in &approvals {
        if !posted.contains(key) && !acknowledged.contains_key(key) {
            violations.push(Violation {
                invariant: Invariant::DurableAck,
                keys: vec![(*key).clone()],
                message: format!("{key} was approved by its bank, but no posting of it survived"),
                evidence: vec![seen.clone()],
            });
        }
    }
    for (key, seen) in &acknowledged {
        let left = net.get(key).copied().unwrap_or(0);
        if left != 0 {
            let mut found = vec![seen.clone()];
            found.extend(evidence.get(key).into_iter().flatten().cloned());
            violations.push(Violation {
                invariant: Invariant::DurableAck,
                keys: vec![(*key).clone()],
                message: format!(
                    "the reversal of {key} was acknowledged, but the card still nets {left} on it"
                ),
                evidence: found,
            });
        }
    }
    violations
}
