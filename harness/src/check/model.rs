//! The checker's own model of a bank (TigerBeetle's auditor): from the
//! bank's setup, the operator commands, and the requests as they arrived,
//! it works out which answers the rules of `../shared/PROTOCOL.md` allow
//! for each decision, and compares them with what the bank answered.
//!
//! The model never asks the bank what is right. It follows the bank's own
//! decisions only where they are facts (what was approved is approved, the
//! ledger's balances are the balances), so one wrong decision is reported
//! once rather than cascading. Where a decision's moment is not certain (a
//! copy decided again after a crash), the answer must be allowed at one of
//! the moments it could have been made.

use std::collections::{BTreeMap, BTreeSet};

use super::calendar::BankCalendar;
use super::ledger::violation;
use super::rules::Rules;
use super::view::NOT_A_DECISION;
use super::{Invariant, Violation};
use crate::history::{
    Account, AnswerSeen, Asked, BankSetup, CardState, CloseAsked, EffectType, FinancialAsked, History,
    Ledger, MerchantState, OperatorCommand, Party, Posting, RequestSeen,
};
use crate::wire::types::{
    BatchNumber, Expiry, MerchantId, Money, Pan, ProcessingCode, ResponseCode, TerminalId, TransactionKey,
};

/// A sale as the model knows it.
struct Sale<'a> {
    pan: &'a Pan,
    merchant: &'a MerchantId,
    amount: Money,
    at_ms: u64,
    batch: (&'a TerminalId, BatchNumber),
    refunded: u64,
    voided: bool,
}

/// What an approved refund or void did, so its reversal can undo it.
enum Follow<'a> {
    Refund { sale: &'a TransactionKey, minor: u64 },
    Void { sale: &'a TransactionKey },
    Other,
}

/// An approved sale or refund of a batch, for a settlement's totals.
struct Item<'a> {
    key: &'a TransactionKey,
    sale: bool,
    amount: Money,
    merchant: &'a MerchantId,
}

struct Model<'a> {
    rules: Rules<'a>,
    balances: BTreeMap<&'a Account, i64>,
    usage: BTreeMap<(&'a Pan, i64), (u64, u32)>,
    refunds_today: BTreeMap<(&'a MerchantId, i64), u64>,
    sales: BTreeMap<&'a TransactionKey, Sale<'a>>,
    follows: BTreeMap<&'a TransactionKey, Follow<'a>>,
    items: BTreeMap<(&'a TerminalId, BatchNumber), Vec<Item<'a>>>,
    reversed: BTreeSet<&'a TransactionKey>,
    tombstones: BTreeSet<&'a TransactionKey>,
    decided: BTreeSet<&'a TransactionKey>,
    settled: BTreeSet<(&'a TerminalId, BatchNumber)>,
}

/// The answers a rule set allows: the codes of every rule a request
/// breaks, or approval when it breaks none.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    Approve,
    OneOf(BTreeSet<ResponseCode>),
}

impl Allowed {
    fn of(codes: BTreeSet<ResponseCode>) -> Allowed {
        if codes.is_empty() {
            Allowed::Approve
        } else {
            Allowed::OneOf(codes)
        }
    }

    fn allows(&self, code: ResponseCode) -> bool {
        match self {
            Allowed::Approve => code.is_approved(),
            Allowed::OneOf(codes) => codes.contains(&code),
        }
    }

    fn describe(&self) -> String {
        match self {
            Allowed::Approve => "00".into(),
            Allowed::OneOf(codes) => codes
                .iter()
                .map(|code| code.to_wire())
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

impl<'a> Model<'a> {
    fn new(setup: &'a BankSetup, calendar: BankCalendar, ledger: &'a Ledger) -> Model<'a> {
        Model {
            rules: Rules::opening(setup, calendar),
            balances: ledger
                .opening
                .iter()
                .map(|(account, (minor, _))| (account, *minor))
                .collect(),
            usage: BTreeMap::new(),
            refunds_today: BTreeMap::new(),
            sales: BTreeMap::new(),
            follows: BTreeMap::new(),
            items: BTreeMap::new(),
            reversed: BTreeSet::new(),
            tombstones: BTreeSet::new(),
            decided: BTreeSet::new(),
            settled: BTreeSet::new(),
        }
    }

    fn post(&mut self, posting: &'a Posting) {
        self.move_by(posting, 1);
    }

    /// Apply `posting`'s legs (`sign` 1) or take them back (`sign` -1).
    fn move_by(&mut self, posting: &'a Posting, sign: i64) {
        for entry in &posting.entries {
            *self.balances.entry(&entry.account).or_default() += sign * entry.minor;
        }
    }

    /// `judge` run on the model as it would be had the settlements of
    /// `batches` not happened yet; the model is the same afterwards.
    fn with_open<R>(
        &mut self,
        batches: &BTreeSet<(&'a TerminalId, BatchNumber)>,
        judge: impl FnOnce(&Self) -> R,
    ) -> R {
        let reopened: Vec<_> = batches
            .iter()
            .filter(|batch| self.settled.remove(*batch))
            .collect();
        let judged = judge(self);
        self.settled.extend(reopened);
        judged
    }

    /// `judge` run on the model as it would be had `postings` already been
    /// made; the model is the same afterwards.
    fn with_postings<R>(&mut self, postings: &[&'a Posting], judge: impl FnOnce(&Self) -> R) -> R {
        for posting in postings {
            self.post(posting);
        }
        let judged = judge(self);
        for posting in postings {
            self.move_by(posting, -1);
        }
        judged
    }

    fn balance(&self, account: &Account) -> i64 {
        self.balances.get(account).copied().unwrap_or(0)
    }

    fn in_maintenance(&self, at_ms: u64) -> bool {
        self.rules.in_maintenance(Some(at_ms))
    }

    /// Card checks of a sale and a balance inquiry: 14, 54, 57, 62.
    fn card_codes(&self, pan: &Pan, expiry: Expiry, at_ms: u64, codes: &mut BTreeSet<ResponseCode>) -> bool {
        let Some((card, state)) = self.rules.cards.get(pan) else {
            codes.insert(ResponseCode::InvalidCard);
            return false;
        };
        if card.expiry != expiry || self.rules.calendar.is_expired(card.expiry, at_ms) {
            codes.insert(ResponseCode::ExpiredCard);
        }
        match state {
            CardState::Active => {}
            CardState::Frozen | CardState::NotActivated => {
                codes.insert(ResponseCode::NotPermittedToCardholder);
            }
            CardState::Blocked => {
                codes.insert(ResponseCode::RestrictedCard);
            }
        }
        true
    }

    fn sale(&self, pan: &Pan, expiry: Expiry, amount: Money, merchant: &MerchantId, at_ms: u64) -> Allowed {
        let mut codes = BTreeSet::new();
        if !self.card_codes(pan, expiry, at_ms, &mut codes) {
            return Allowed::of(codes);
        }
        let (card, _) = self.rules.cards[pan];
        if self
            .rules
            .merchants
            .get(merchant)
            .is_none_or(|(_, state)| *state == MerchantState::Blacklisted)
        {
            codes.insert(ResponseCode::NotPermittedToTerminal);
        }
        let minor = amount.amount.minor_units();
        if minor == 0 || amount.currency != card.currency {
            codes.insert(ResponseCode::InvalidAmount);
        }
        let (used, count) = self
            .usage
            .get(&(pan, self.rules.day(at_ms)))
            .copied()
            .unwrap_or_default();
        let over_transaction = card
            .transaction_limit
            .is_some_and(|limit| minor > limit.minor_units());
        let over_daily = card
            .daily_limit
            .is_some_and(|limit| used + minor > limit.minor_units());
        if over_transaction || over_daily {
            codes.insert(ResponseCode::AmountLimit);
        }
        if card.daily_count_limit.is_some_and(|limit| count >= limit) {
            codes.insert(ResponseCode::FrequencyLimit);
        }
        if self.in_maintenance(at_ms) {
            codes.insert(ResponseCode::IssuerUnavailable);
        }
        if self.balance(&Account::Cardholder(pan.clone())) < minor as i64 {
            codes.insert(ResponseCode::InsufficientFunds);
        }
        Allowed::of(codes)
    }

    /// The live sale a refund or void names, of the same card and merchant.
    fn original(
        &self,
        original: Option<&TransactionKey>,
        pan: &Pan,
        merchant: &MerchantId,
    ) -> Option<&Sale<'a>> {
        let original = original?;
        let sale = self.sales.get(original)?;
        let live = !self.reversed.contains(original);
        (live && sale.pan == pan && sale.merchant == merchant).then_some(sale)
    }

    fn refund(&self, asked: &FinancialAsked, at_ms: u64) -> Allowed {
        let mut codes = BTreeSet::new();
        let Some(sale) = self.original(asked.original.as_ref(), &asked.pan, &asked.merchant) else {
            return Allowed::OneOf([ResponseCode::InvalidTransaction].into());
        };
        let merchant = self.rules.merchants.get(&asked.merchant);
        let account = merchant.map(|(account, _)| *account);
        if sale.voided
            || account
                .and_then(|account| account.refund_window_ms)
                .is_some_and(|window| at_ms.saturating_sub(sale.at_ms) > window)
        {
            codes.insert(ResponseCode::InvalidTransaction);
        }
        let minor = asked.amount.amount.minor_units();
        let remaining = sale.amount.amount.minor_units().saturating_sub(sale.refunded);
        let over_cap = account
            .and_then(|account| account.refund_cap)
            .is_some_and(|cap| minor > cap.minor_units());
        if minor == 0 || asked.amount.currency != sale.amount.currency || over_cap || minor > remaining {
            codes.insert(ResponseCode::InvalidAmount);
        }
        if merchant.is_none_or(|(_, state)| *state != MerchantState::Active) {
            codes.insert(ResponseCode::NotPermittedToTerminal);
        }
        let today = self
            .refunds_today
            .get(&(&asked.merchant, self.rules.day(at_ms)))
            .copied()
            .unwrap_or(0);
        if account
            .and_then(|account| account.daily_refund_limit)
            .is_some_and(|limit| today + minor > limit.minor_units())
        {
            codes.insert(ResponseCode::AmountLimit);
        }
        if self.in_maintenance(at_ms) {
            codes.insert(ResponseCode::IssuerUnavailable);
        }
        if self.balance(&Account::Merchant(asked.merchant.clone())) < minor as i64 {
            codes.insert(ResponseCode::InsufficientFunds);
        }
        Allowed::of(codes)
    }

    fn void(&self, asked: &FinancialAsked, at_ms: u64) -> Allowed {
        let mut codes = BTreeSet::new();
        let Some(sale) = self.original(asked.original.as_ref(), &asked.pan, &asked.merchant) else {
            return Allowed::OneOf([ResponseCode::InvalidTransaction].into());
        };
        if self.settled.contains(&sale.batch) || sale.refunded > 0 || sale.voided {
            codes.insert(ResponseCode::InvalidTransaction);
        }
        if asked.amount != sale.amount {
            codes.insert(ResponseCode::InvalidAmount);
        }
        if self.in_maintenance(at_ms) {
            codes.insert(ResponseCode::IssuerUnavailable);
        }
        Allowed::of(codes)
    }

    fn financial(&self, asked: &FinancialAsked, key: &TransactionKey, at_ms: u64) -> Allowed {
        if self.tombstones.contains(key) {
            return Allowed::OneOf([ResponseCode::InvalidTransaction].into());
        }
        match asked.processing {
            ProcessingCode::Sale => self.sale(&asked.pan, asked.expiry, asked.amount, &asked.merchant, at_ms),
            ProcessingCode::Refund => self.refund(asked, at_ms),
            ProcessingCode::Void => self.void(asked, at_ms),
            ProcessingCode::Balance => {
                let mut codes = BTreeSet::new();
                if self.card_codes(&asked.pan, asked.expiry, at_ms, &mut codes) && self.in_maintenance(at_ms)
                {
                    codes.insert(ResponseCode::IssuerUnavailable);
                }
                Allowed::of(codes)
            }
        }
    }

    /// Take in an approved financial request.
    fn approved(&mut self, asked: &'a FinancialAsked, request: &'a RequestSeen) {
        let key = &request.key;
        let at_ms = request.clock_ms;
        let day = self.rules.day(at_ms);
        let minor = asked.amount.amount.minor_units();
        let follow = match asked.processing {
            ProcessingCode::Sale => {
                let usage = self.usage.entry((&asked.pan, day)).or_default();
                usage.0 += minor;
                usage.1 += 1;
                self.sales.insert(
                    key,
                    Sale {
                        pan: &asked.pan,
                        merchant: &asked.merchant,
                        amount: asked.amount,
                        at_ms,
                        batch: (&key.terminal, asked.batch),
                        refunded: 0,
                        voided: false,
                    },
                );
                Follow::Other
            }
            ProcessingCode::Refund => {
                *self.refunds_today.entry((&asked.merchant, day)).or_default() += minor;
                match asked
                    .original
                    .as_ref()
                    .and_then(|original| self.sales.get_mut(original).map(|sale| (original, sale)))
                {
                    Some((original, sale)) => {
                        sale.refunded += minor;
                        Follow::Refund {
                            sale: original,
                            minor,
                        }
                    }
                    None => Follow::Other,
                }
            }
            ProcessingCode::Void => match asked
                .original
                .as_ref()
                .and_then(|original| self.sales.get_mut(original).map(|sale| (original, sale)))
            {
                Some((original, sale)) => {
                    sale.voided = true;
                    Follow::Void { sale: original }
                }
                None => Follow::Other,
            },
            ProcessingCode::Balance => return,
        };
        self.follows.insert(key, follow);
        if matches!(asked.processing, ProcessingCode::Sale | ProcessingCode::Refund) {
            self.items
                .entry((&key.terminal, asked.batch))
                .or_default()
                .push(Item {
                    key,
                    sale: asked.processing == ProcessingCode::Sale,
                    amount: asked.amount,
                    merchant: &asked.merchant,
                });
        }
    }

    /// A reversal advice arrived for `key`.
    fn reversal(&mut self, key: &'a TransactionKey) {
        if !self.decided.contains(key) {
            self.tombstones.insert(key);
            return;
        }
        if !self.reversed.insert(key) {
            return;
        }
        self.shift_follow(key, true);
    }

    /// `judge` run on the model as it would be had the bank lost the
    /// reversals of `keys` (it crashed before acknowledging them, and may
    /// not have synced them); the model is the same afterwards.
    fn without_reversals<R>(
        &mut self,
        keys: &BTreeSet<&'a TransactionKey>,
        judge: impl FnOnce(&Self) -> R,
    ) -> R {
        let mut undone: Vec<(&'a TransactionKey, bool)> = Vec::new();
        for &key in keys {
            if self.tombstones.remove(key) {
                undone.push((key, true));
            } else if self.reversed.remove(key) {
                self.shift_follow(key, false);
                undone.push((key, false));
            }
        }
        let judged = judge(self);
        for (key, tombstone) in undone {
            if tombstone {
                self.tombstones.insert(key);
            } else {
                self.reversed.insert(key);
                self.shift_follow(key, true);
            }
        }
        judged
    }

    /// Undo (`reversed`) or redo what the approved refund or void `key`
    /// did to its sale.
    fn shift_follow(&mut self, key: &TransactionKey, reversed: bool) {
        match self.follows.get(key) {
            Some(Follow::Refund { sale, minor }) => {
                if let Some(sale) = self.sales.get_mut(*sale) {
                    sale.refunded = match reversed {
                        true => sale.refunded.saturating_sub(*minor),
                        false => sale.refunded + minor,
                    };
                }
            }
            Some(Follow::Void { sale }) => {
                if let Some(sale) = self.sales.get_mut(*sale) {
                    sale.voided = !reversed;
                }
            }
            _ => {}
        }
    }

    /// What a settlement of `batch` may be answered: 00 when its totals
    /// are the batch's live sales and refunds, of its merchant and
    /// currency, else 95.
    fn close(&self, batch: (&TerminalId, BatchNumber), asked: &CloseAsked) -> Allowed {
        let mut totals = ((0u64, 0u64), (0u64, 0u64));
        let mut foreign = !self.rules.merchants.contains_key(&asked.merchant);
        for item in self.items.get(&batch).into_iter().flatten() {
            if self.reversed.contains(item.key) || self.sales.get(item.key).is_some_and(|sale| sale.voided) {
                continue;
            }
            foreign |= item.amount.currency != asked.currency || item.merchant != &asked.merchant;
            let side = if item.sale { &mut totals.1 } else { &mut totals.0 };
            side.0 += 1;
            side.1 += item.amount.amount.minor_units();
        }
        if foreign || totals != (asked.credits, asked.debits) {
            Allowed::OneOf([ResponseCode::ReconcileError].into())
        } else {
            Allowed::Approve
        }
    }
}

/// The bank's decisive answer to each key, as the switch received it.
fn answers_of<'a>(history: &'a History, bank: &Party) -> BTreeMap<(&'a TransactionKey, u16), &'a AnswerSeen> {
    let mut answers = BTreeMap::new();
    for answer in history.answers.iter().filter(|answer| &answer.sender == bank) {
        if !NOT_A_DECISION.contains(&answer.response) {
            answers.entry((&answer.key, answer.mti)).or_insert(answer);
        }
    }
    answers
}

/// Which arrival made a posting: `at`, its index in the arrivals. A
/// posting with no time of its own (a reversal's, a settlement's) could
/// have been made by any copy of its request between the postings around
/// it; when the bank crashed after an earlier copy, that copy may have been
/// lost and a later one made it, so the arrivals from `earliest` to `at`
/// are judged both with and without it.
#[derive(Debug, Clone, Copy)]
struct Owner {
    at: usize,
    earliest: usize,
}

impl Owner {
    /// Whether the posting may already have been made when arrival
    /// `index` was decided, though the model takes it in later.
    fn in_doubt_at(&self, index: usize) -> bool {
        self.earliest < index && index < self.at
    }
}

/// Whether `request` could have made `posting`: same key and kind (and,
/// for a timed posting, the bank's clock at arrival), or the close of the
/// batch a settlement pays.
fn made_by(posting: &Posting, request: &RequestSeen) -> bool {
    match (&request.asked, posting.effect) {
        (Asked::Financial(_), EffectType::Sale | EffectType::Refund | EffectType::Void) => {
            posting.key.as_ref() == Some(&request.key)
                && posting.at_ms.is_none_or(|at_ms| at_ms == request.clock_ms)
        }
        (Asked::Reversal(_), EffectType::Reversal) => posting.key.as_ref() == Some(&request.key),
        (Asked::Close(close), EffectType::Settlement) => posting
            .batch
            .as_ref()
            .is_some_and(|(terminal, batch)| *terminal == request.key.terminal && *batch == close.batch),
        _ => false,
    }
}

/// Which arrival each posting belongs to: the next arrival that could
/// have made it (same key and kind, or the close of its batch), in order;
/// a posting no arrival explains belongs to the one before. Of several
/// copies that could have made an untimed posting, the first one the bank
/// cannot have lost (no crash of it before the next copy), else the last.
fn owners(
    ledger: &Ledger,
    arrivals: &[&RequestSeen],
    commands: &[&OperatorCommand],
    may_have_lost: &dyn Fn(&RequestSeen, &RequestSeen) -> bool,
) -> Vec<Owner> {
    let mut owners: Vec<Owner> = Vec::with_capacity(ledger.postings.len());
    let mut at = 0;
    for (index, posting) in ledger.postings.iter().enumerate() {
        if posting.at_ms.is_some() {
            if let Some(found) = arrivals[at..]
                .iter()
                .position(|request| made_by(posting, request))
            {
                at += found;
            }
            owners.push(Owner { at, earliest: at });
            continue;
        }
        // It was made after the posting before it: after that one's
        // earliest copy, if that one has no time either.
        let from = match index
            .checked_sub(1)
            .map(|before| (&ledger.postings[before], owners[before]))
        {
            Some((before, owner)) if before.at_ms.is_none() => owner.earliest,
            _ => at,
        };
        // The next timed posting's arrival bounds where this one was made.
        let bound = ledger.postings[index + 1..]
            .iter()
            .find(|later| later.at_ms.is_some())
            .and_then(|later| arrivals[at..].iter().position(|request| made_by(later, request)))
            .map_or(arrivals.len(), |found| at + found);
        // A command journalled after it was made bounds when, too.
        let deadline = commands
            .iter()
            .filter(|command| command.after_postings > index as u64)
            .map(|command| command.at_ms)
            .min();
        let copies: Vec<usize> = (from..bound)
            .filter(|&i| made_by(posting, arrivals[i]))
            .filter(|&i| deadline.is_none_or(|deadline| arrivals[i].clock_ms <= deadline))
            .collect();
        let Some(&earliest) = copies.first() else {
            owners.push(Owner { at, earliest: at });
            continue;
        };
        let kept = copies
            .windows(2)
            .find_map(|pair| (!may_have_lost(arrivals[pair[0]], arrivals[pair[1]])).then_some(pair[0]));
        let chosen = kept.unwrap_or(copies[copies.len() - 1]);
        at = at.max(chosen);
        owners.push(Owner { at: chosen, earliest });
    }
    // The ledger's order is the order the postings were made in: a posting
    // was made no later than the one after it.
    for index in (0..owners.len().saturating_sub(1)).rev() {
        let next = owners[index + 1].at;
        let owner = &mut owners[index];
        if owner.at > next && next >= owner.earliest {
            owner.at = next;
        }
    }
    owners
}

/// Every decision of a bank is one its rules allow at the moment it was
/// made: a valid request is approved, an invalid one is declined with a
/// code of a rule it breaks; a reversal is acknowledged; a settlement is
/// 00 exactly when its totals are the batch's.
pub fn availability(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    for setup in &history.banks {
        let Some(ledger) = history.ledgers.iter().find(|ledger| ledger.bank == setup.bank) else {
            continue;
        };
        let Some(calendar) = BankCalendar::new(&setup.epoch) else {
            continue;
        };
        violations.extend(judge_bank(history, setup, calendar, ledger));
    }
    violations
}

fn judge_bank<'a>(
    history: &'a History,
    setup: &'a BankSetup,
    calendar: BankCalendar,
    ledger: &'a Ledger,
) -> Vec<Violation> {
    let bank = Party::Bank(setup.bank.clone());
    let arrivals: Vec<&RequestSeen> = history
        .requests
        .iter()
        .filter(|request| request.receiver == bank)
        .collect();
    let answers = answers_of(history, &bank);
    let crashes: Vec<u64> = history
        .crashes
        .iter()
        .filter(|crash| crash.host == bank)
        .map(|crash| crash.at_ms)
        .collect();
    let bank_commands: Vec<&OperatorCommand> = history
        .commands
        .iter()
        .filter(|command| command.bank == setup.bank)
        .collect();
    // A copy the bank answered before a crash was synced before it.
    let kept_until = |copy: &RequestSeen, crash: u64| {
        let mti = match copy.asked {
            Asked::Financial(_) => 210,
            Asked::Reversal(_) => 430,
            Asked::Close(_) => 510,
        };
        answers
            .get(&(&copy.key, mti))
            .is_some_and(|answer| answer.at_ms >= copy.at_ms && answer.at_ms <= crash)
    };
    // Whether the bank may have lost what `copy` did before `next` arrived.
    let may_have_lost = |copy: &RequestSeen, next: &RequestSeen| {
        crashes
            .iter()
            .any(|&crash| crash >= copy.at_ms && crash < next.at_ms && !kept_until(copy, crash))
    };
    let owners = owners(ledger, &arrivals, &bank_commands, &may_have_lost);
    let owned: BTreeSet<(usize, &TransactionKey)> = ledger
        .postings
        .iter()
        .zip(&owners)
        .filter_map(|(posting, owner)| posting.key.as_ref().map(|key| (owner.at, key)))
        .collect();
    let mut commands = bank_commands.iter().copied().peekable();
    // key -> when it first arrived, for keys the bank may have forgotten.
    let mut first_arrival: BTreeMap<&TransactionKey, u64> = BTreeMap::new();
    // Keys whose reversal may have found no record: the bank crashed after
    // the request arrived and before it showed any decision (no answer, no
    // approval), so it may have lost the request and taken the reversal
    // for one of an unknown transaction (a tombstone, 12 to a late copy).
    let mut maybe_forgotten: BTreeSet<&TransactionKey> = BTreeSet::new();
    // Reversals the bank may have lost: it crashed after one arrived and
    // before acknowledging it. Until a copy arrives again, a request may
    // be decided as if the reversal had not happened.
    let mut maybe_lost: BTreeSet<&TransactionKey> = BTreeSet::new();
    let mut model = Model::new(setup, calendar, ledger);
    let mut posted = 0;
    // The rules as they stood before the commands of one millisecond.
    let mut rules_before: Option<(u64, Rules<'a>)> = None;
    // Batches whose settlement the bank may have lost in a crash, though
    // the model counts them settled: voids are judged both ways.
    let mut maybe_open: BTreeSet<(&TerminalId, BatchNumber)> = BTreeSet::new();
    // close key -> each copy and the answer its totals then allowed.
    let mut close_moments: BTreeMap<&TransactionKey, Vec<(&RequestSeen, Allowed)>> = BTreeMap::new();
    // key -> the answers allowed at each moment it could have been decided.
    let mut moments: BTreeMap<&TransactionKey, Vec<(u64, Allowed)>> = BTreeMap::new();
    let mut violations = Vec::new();
    for (index, request) in arrivals.iter().copied().enumerate() {
        while posted < owners.len() && owners[posted].at < index {
            model.post(&ledger.postings[posted]);
            posted += 1;
        }
        // Commands journalled in the same millisecond as an arrival may
        // have taken effect before or after its decision: every arrival of
        // that millisecond is also judged by the rules as they stood
        // before them.
        while let Some(command) = commands
            .next_if(|command| command.after_postings <= posted as u64 && command.at_ms <= request.clock_ms)
        {
            if command.at_ms == request.clock_ms
                && rules_before
                    .as_ref()
                    .is_none_or(|(ms, _)| *ms != request.clock_ms)
            {
                rules_before = Some((request.clock_ms, model.rules.clone()));
            }
            model.rules.apply(command);
        }
        let mut before_commands = |model: &mut Model<'a>, judge: &dyn Fn(&Model<'a>) -> Allowed| {
            let (_, rules) = rules_before.as_mut().filter(|(ms, _)| *ms == request.clock_ms)?;
            std::mem::swap(&mut model.rules, rules);
            let judged = judge(model);
            std::mem::swap(&mut model.rules, rules);
            Some(judged)
        };
        match &request.asked {
            Asked::Financial(asked) => {
                let answer = answers.get(&(&request.key, 210));
                let first_time = model.decided.insert(&request.key);
                let still_open = answer.is_none_or(|answer| answer.at_ms >= request.at_ms) || first_time;
                first_arrival.entry(&request.key).or_insert(request.at_ms);
                let judge = |model: &Model<'a>| model.financial(asked, &request.key, request.clock_ms);
                let before = still_open.then(|| before_commands(&mut model, &judge)).flatten();
                if still_open {
                    let allowed = model.financial(asked, &request.key, request.clock_ms);
                    let moments = moments.entry(&request.key).or_default();
                    moments.push((request.at_ms, allowed));
                    moments.extend(before.map(|allowed| (request.at_ms, allowed)));
                    let doubtful: Vec<&Posting> = (posted..owners.len())
                        .filter(|&p| owners[p].in_doubt_at(index))
                        .map(|p| &ledger.postings[p])
                        .collect();
                    if !doubtful.is_empty() {
                        let allowed = model.with_postings(&doubtful, |model| {
                            model.financial(asked, &request.key, request.clock_ms)
                        });
                        moments.push((request.at_ms, allowed));
                    }
                    if asked.processing == ProcessingCode::Void && !maybe_open.is_empty() {
                        let allowed = model.with_open(&maybe_open, |model| {
                            model.financial(asked, &request.key, request.clock_ms)
                        });
                        moments.push((request.at_ms, allowed));
                    }
                    if !maybe_lost.is_empty() {
                        let allowed = model.without_reversals(&maybe_lost, |model| {
                            model.financial(asked, &request.key, request.clock_ms)
                        });
                        moments.push((request.at_ms, allowed));
                    }
                    if maybe_forgotten.contains(&request.key) {
                        moments.push((
                            request.at_ms,
                            Allowed::OneOf([ResponseCode::InvalidTransaction].into()),
                        ));
                    }
                }
                let approved = answer.is_some_and(|answer| answer.response.is_approved())
                    || owned.contains(&(index, &request.key));
                if approved && first_time {
                    model.approved(asked, request);
                }
            }
            Asked::Reversal(_) => {
                let key = &request.key;
                let answered = answers
                    .get(&(key, 210))
                    .is_some_and(|answer| answer.at_ms <= request.at_ms);
                let crashed_since = first_arrival.get(key).is_some_and(|&since| {
                    crashes
                        .iter()
                        .any(|&crash| crash >= since && crash <= request.at_ms)
                });
                if crashed_since && !answered && !model.follows.contains_key(key) {
                    maybe_forgotten.insert(key);
                }
                model.reversal(key);
                let next_crash = crashes
                    .iter()
                    .copied()
                    .filter(|&crash| crash >= request.at_ms)
                    .min();
                let acknowledged_before = |crash: u64| {
                    answers
                        .get(&(key, 430))
                        .is_some_and(|answer| answer.at_ms <= crash)
                };
                match next_crash {
                    Some(crash) if !acknowledged_before(crash) => maybe_lost.insert(key),
                    _ => maybe_lost.remove(key),
                };
                if let Some(answer) = answers
                    .get(&(&request.key, 430))
                    .filter(|answer| !answer.response.is_approved())
                {
                    violations.push(violation(
                        Invariant::Availability,
                        vec![request.key.clone()],
                        format!(
                            "{}: a reversal of {} was answered {}, never acknowledged",
                            setup.bank,
                            request.key,
                            answer.response.to_wire()
                        ),
                        Vec::new(),
                    ));
                }
            }
            Asked::Close(asked) => {
                let batch = (&request.key.terminal, asked.batch);
                let judge = |model: &Model<'a>| model.close(batch, asked);
                let before = before_commands(&mut model, &judge);
                let Some(answer) = answers.get(&(&request.key, 510)) else {
                    continue;
                };
                let first_time = model.decided.insert(&request.key);
                if first_time || answer.at_ms >= request.at_ms {
                    let moments = close_moments.entry(&request.key).or_default();
                    moments.push((request, model.close(batch, asked)));
                    moments.extend(before.map(|allowed| (request, allowed)));
                }
                if answer.response.is_approved() {
                    model.settled.insert(batch);
                    // A crash before the next copy may have lost this one:
                    // until a copy the bank kept, the batch may be open.
                    let next_copy = arrivals[index + 1..]
                        .iter()
                        .find(|later| later.key == request.key && matches!(later.asked, Asked::Close(_)));
                    let lost = next_copy.is_some_and(|next| may_have_lost(request, next));
                    // Unless the ledger shows this copy made the payment.
                    let paid_here = ledger
                        .postings
                        .iter()
                        .zip(&owners)
                        .any(|(posting, owner)| made_by(posting, request) && owner.at <= index);
                    let lost = lost && !paid_here;
                    match lost {
                        true => maybe_open.insert(batch),
                        false => maybe_open.remove(&batch),
                    };
                }
            }
        }
    }
    for (key, moments) in close_moments {
        let Some(answer) = answers.get(&(key, 510)) else {
            continue;
        };
        if moments.iter().any(|(_, allowed)| allowed.allows(answer.response)) {
            continue;
        }
        let (request, allowed) = &moments[0];
        let Asked::Close(asked) = &request.asked else {
            continue;
        };
        violations.push(violation(
            Invariant::Availability,
            vec![key.clone()],
            format!(
                "{}: the settlement of {} batch {} was answered {}, its totals call for {}",
                setup.bank,
                key.terminal,
                asked.batch,
                answer.response.to_wire(),
                allowed.describe()
            ),
            vec![format!(
                "asked: credits {:?}, debits {:?} in {}",
                asked.credits, asked.debits, asked.currency
            )],
        ));
    }
    for (key, moments) in moments {
        let Some(answer) = answers.get(&(key, 210)) else {
            continue;
        };
        if moments.iter().any(|(_, allowed)| allowed.allows(answer.response)) {
            continue;
        }
        let evidence = moments
            .iter()
            .map(|(at_ms, allowed)| {
                format!(
                    "arrived at {at_ms} ms: its rules then allowed {}",
                    allowed.describe()
                )
            })
            .collect();
        violations.push(violation(
            Invariant::Availability,
            vec![key.clone()],
            format!(
                "{}: {} was answered {}, which the rules of its moment do not allow",
                setup.bank,
                key,
                answer.response.to_wire()
            ),
            evidence,
        ));
    }
    violations
}
