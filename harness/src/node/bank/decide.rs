//! The bank's decisions: the checks of docs/nodes.md "Bank", in the order
//! listed there, each turning a request into a journal record without
//! changing state. [`Bank::apply`](super::Bank) then applies the record.

use super::accounts::{CardState, CardholderAccount, MerchantAccount, MerchantState};
use super::ledger::{AccountId, Posting, PostingKind};
use super::records::{
    HeldPayout, Processed, RequestSummary, ReversalOutcome, Reversed, Settled, SettlementOutcome,
};
use super::state::{SettlementStage, Transaction};
use super::{approval_code, Bank};
use crate::cover::{hit, hit_either, hit_if, Mark};
use crate::node::{Bug, Millis};
use crate::wire::typed::{
    BatchClose, BatchCloseResponse, BatchTotals, FinancialRequest, FinancialResponse, ReversalAdvice,
    ReversalResponse,
};
use crate::wire::types::{Expiry, Money, Pan, ProcessingCode, ResponseCode, TransactionKey};

/// The outcome of the checks of one financial request.
struct Decision {
    code: ResponseCode,
    postings: Vec<Posting>,
    deferred: Option<Posting>,
    balance: Option<Money>,
}

impl Decision {
    fn declined(code: ResponseCode) -> Decision {
        Decision {
            code,
            postings: Vec::new(),
            deferred: None,
            balance: None,
        }
    }

    fn approved(postings: Vec<Posting>) -> Decision {
        Decision {
            code: ResponseCode::Approved,
            postings,
            deferred: None,
            balance: None,
        }
    }
}

fn minor(amount: u64) -> i64 {
    i64::try_from(amount).expect("twelve-digit amounts fit i64")
}

impl Bank {
    /// Decide a financial request that has no stored response.
    pub(super) fn decide_financial(&self, now: Millis, request: &FinancialRequest) -> Processed {
        let key = request.trace.key();
        let decision = if self.state.tombstones.contains(&key) {
            hit(Mark::BankTombstoneConsumed);
            Decision::declined(ResponseCode::InvalidTransaction)
        } else {
            match request.processing {
                ProcessingCode::Sale => self.decide_sale(now, request).unwrap_or_else(Decision::declined),
                ProcessingCode::Refund => self.decide_refund(now, request),
                ProcessingCode::Void => self.decide_void(now, request).unwrap_or_else(Decision::declined),
                ProcessingCode::Balance => self
                    .decide_balance(now, request)
                    .unwrap_or_else(Decision::declined),
            }
        };
        let approved = decision.code.is_approved();
        let response = FinancialResponse {
            processing: request.processing,
            amount: request.amount,
            trace: request.trace.clone(),
            rrn: request.rrn.clone(),
            response: decision.code,
            approval: approved.then(|| approval_code(&key)),
            balance: decision.balance,
        };
        Processed {
            key,
            at: now,
            day: self.config.calendar.day_number(now),
            request: RequestSummary {
                processing: request.processing,
                pan: request.pan.clone(),
                merchant: request.merchant.clone(),
                amount: request.amount,
                batch: request.batch,
                original: request
                    .original
                    .as_ref()
                    .map(|original| original.key(&request.trace.terminal)),
            },
            response,
            postings: decision.postings,
            deferred: decision.deferred,
        }
    }

    /// Whether the bank is in maintenance at `now` (command or window).
    pub(super) fn in_maintenance(&self, now: Millis) -> bool {
        self.state.maintenance_by_command
            || self
                .config
                .maintenance
                .iter()
                .any(|(start, end)| *start <= now && now < *end)
    }

    /// Card checks shared by sale and balance: 14, 54, 57, 62.
    fn check_card(&self, now: Millis, pan: &Pan, expiry: Expiry) -> Result<&CardholderAccount, ResponseCode> {
        let Some(card) = self.state.cards.get(pan) else {
            hit(Mark::BankCardUnknown14);
            return Err(ResponseCode::InvalidCard);
        };
        if card.expiry != expiry
            || self
                .config
                .calendar
                .is_expired(card.expiry, now, &self.config.bugs)
        {
            hit(Mark::BankCardExpired54);
            return Err(ResponseCode::ExpiredCard);
        }
        match card.state {
            CardState::Active => Ok(card),
            CardState::Frozen | CardState::NotActivated => {
                hit(Mark::BankCardNotPermitted57);
                Err(ResponseCode::NotPermittedToCardholder)
            }
            CardState::Blocked => {
                hit(Mark::BankCardBlocked62);
                Err(ResponseCode::RestrictedCard)
            }
        }
    }

    fn decide_sale(&self, now: Millis, request: &FinancialRequest) -> Result<Decision, ResponseCode> {
        let card = self.check_card(now, &request.pan, request.expiry)?;
        let merchant = self.state.merchants.get(&request.merchant);
        if merchant.is_none_or(|merchant| merchant.state == MerchantState::Blacklisted) {
            hit(Mark::BankSaleMerchantRefused58);
            return Err(ResponseCode::NotPermittedToTerminal);
        }
        let amount = request.amount.amount;
        if amount.is_zero() || request.amount.currency != card.currency {
            hit(Mark::BankSaleAmount13);
            return Err(ResponseCode::InvalidAmount);
        }
        let day = self.config.calendar.day_number(now);
        let usage = self
            .state
            .card_usage
            .get(&(card.pan.clone(), day))
            .copied()
            .unwrap_or_default();
        let over_transaction_limit = card.transaction_limit.is_some_and(|limit| amount > limit);
        let over_daily_limit = card
            .daily_limit
            .is_some_and(|limit| usage.amount_minor + amount.minor_units() > limit.minor_units());
        if over_transaction_limit || over_daily_limit {
            hit(Mark::BankSaleLimit61);
            return Err(ResponseCode::AmountLimit);
        }
        if card.daily_count_limit.is_some_and(|limit| usage.count >= limit) {
            hit(Mark::BankSaleFrequency65);
            return Err(ResponseCode::FrequencyLimit);
        }
        if self.in_maintenance(now) {
            hit(Mark::BankSaleMaintenance91);
            return Err(ResponseCode::IssuerUnavailable);
        }
        let cardholder = AccountId::Cardholder(card.pan.clone());
        if self.balance_of(&cardholder, card.currency) < minor(amount.minor_units()) {
            hit(Mark::BankSaleFunds51);
            return Err(ResponseCode::InsufficientFunds);
        }
        hit(Mark::BankSaleApproved);
        let posting = Posting::transfer(
            request.trace.key(),
            PostingKind::Sale,
            card.currency,
            cardholder,
            AccountId::Clearing(card.currency),
            amount.minor_units(),
        );
        Ok(Decision::approved(vec![posting]))
    }

    /// The original sale a refund or void names, if it is an approved,
    /// unreversed sale of the same card and merchant.
    fn original_sale(&self, request: &FinancialRequest) -> Result<&Transaction, ResponseCode> {
        let sale = request.original.as_ref().and_then(|original| {
            self.state
                .transactions
                .get(&original.key(&request.trace.terminal))
        });
        let Some(sale) = sale else {
            hit(Mark::BankOriginalUnknown12);
            return Err(ResponseCode::InvalidTransaction);
        };
        let same_parties = sale.request.pan == request.pan && sale.request.merchant == request.merchant;
        if !sale.is_live_sale() || !same_parties {
            hit(Mark::BankOriginalNotLive12);
            return Err(ResponseCode::InvalidTransaction);
        }
        Ok(sale)
    }

    /// Refund checks up to the merchant balance: 12, 12 window, 13, 58, 61, 91.
    fn check_refund(
        &self,
        now: Millis,
        request: &FinancialRequest,
    ) -> Result<(&Transaction, &MerchantAccount), ResponseCode> {
        let sale = self.original_sale(request)?;
        if sale.voided && !self.config.bugs.has(Bug::RefundAfterVoid) {
            // A voided sale gave everything back already: a refund of it
            // would pay the cardholder twice (found by `sale-bound`).
            hit(Mark::BankRefundVoided12);
            return Err(ResponseCode::InvalidTransaction);
        }
        let merchant = self.state.merchants.get(&request.merchant);
        let window_ms = merchant.and_then(|merchant| merchant.refund_window_ms);
        if window_ms.is_some_and(|window_ms| now.since(sale.at) > window_ms) {
            hit(Mark::BankRefundWindow12);
            return Err(ResponseCode::InvalidTransaction);
        }
        let amount = request.amount.amount;
        let remaining_minor = sale.refundable_minor();
        let over_remaining =
            !self.config.bugs.has(Bug::RefundBoundUnchecked) && amount.minor_units() > remaining_minor;
        let over_cap = merchant
            .and_then(|merchant| merchant.refund_cap)
            .is_some_and(|cap| amount > cap);
        if amount.is_zero() || request.amount.currency != sale.request.amount.currency {
            hit(Mark::BankRefundAmount13);
            return Err(ResponseCode::InvalidAmount);
        }
        if over_cap || over_remaining {
            hit_either(
                over_remaining,
                Mark::BankRefundOverRemaining13,
                Mark::BankRefundOverCap13,
            );
            return Err(ResponseCode::InvalidAmount);
        }
        let Some(merchant) = merchant.filter(|merchant| merchant.state == MerchantState::Active) else {
            hit(Mark::BankRefundMerchant58);
            return Err(ResponseCode::NotPermittedToTerminal);
        };
        let day = self.config.calendar.day_number(now);
        let refunded_today = self
            .state
            .merchant_refunds_minor
            .get(&(merchant.id.clone(), day))
            .copied()
            .unwrap_or(0);
        if merchant
            .daily_refund_limit
            .is_some_and(|limit| refunded_today + amount.minor_units() > limit.minor_units())
        {
            hit(Mark::BankRefundDailyLimit61);
            return Err(ResponseCode::AmountLimit);
        }
        if self.in_maintenance(now) {
            hit(Mark::BankRefundMaintenance91);
            return Err(ResponseCode::IssuerUnavailable);
        }
        Ok((sale, merchant))
    }

    fn decide_refund(&self, now: Millis, request: &FinancialRequest) -> Decision {
        let (sale, merchant) = match self.check_refund(now, request) {
            Ok(found) => found,
            Err(code) => return Decision::declined(code),
        };
        let currency = request.amount.currency;
        let amount_minor = request.amount.amount.minor_units();
        let merchant_account = AccountId::Merchant(merchant.id.clone());
        let key = request.trace.key();
        if self.balance_of(&merchant_account, currency) < minor(amount_minor) {
            hit(Mark::BankRefundMerchantShort51);
            let mut decision = Decision::declined(ResponseCode::InsufficientFunds);
            if self.config.bugs.has(Bug::DeclinePartialPosting) {
                // The merchant debit is posted before the balance check
                // fails, and never taken back: it lands in clearing.
                let kind = PostingKind::DeclinedRefundRemnant;
                let clearing = AccountId::Clearing(currency);
                decision.postings.push(Posting::transfer(
                    key,
                    kind,
                    currency,
                    merchant_account,
                    clearing,
                    amount_minor,
                ));
            }
            return decision;
        }
        let remaining_minor = sale.refundable_minor();
        // Over the remainder only with the planted bug RefundBoundUnchecked.
        hit_if(amount_minor == remaining_minor, Mark::BankRefundExactRemainder);
        hit_if(amount_minor < remaining_minor, Mark::BankRefundPartial);
        if sale.refunded_minor > 0 {
            hit(Mark::BankRefundAfterRefund);
        }
        let cardholder = AccountId::Cardholder(sale.request.pan.clone());
        let posting = Posting::transfer(
            key,
            PostingKind::Refund,
            currency,
            merchant_account,
            cardholder,
            amount_minor,
        );
        if self.config.bugs.has(Bug::RefundBoundRace) {
            // Checked now, posted by a later step (a timer): a refund
            // arriving in between is checked against the old remainder.
            return Decision {
                code: ResponseCode::Approved,
                postings: Vec::new(),
                deferred: Some(posting),
                balance: None,
            };
        }
        Decision::approved(vec![posting])
    }

    fn decide_void(&self, now: Millis, request: &FinancialRequest) -> Result<Decision, ResponseCode> {
        let sale = self.original_sale(request)?;
        let settled = sale.stage != SettlementStage::Open && !self.config.bugs.has(Bug::VoidAfterSettlement);
        if settled || sale.refunded_minor > 0 || sale.voided {
            hit(if settled {
                Mark::BankVoidSettled12
            } else if sale.voided {
                Mark::BankVoidVoided12
            } else {
                Mark::BankVoidRefunded12
            });
            return Err(ResponseCode::InvalidTransaction);
        }
        if request.amount != sale.request.amount {
            hit(Mark::BankVoidAmount13);
            return Err(ResponseCode::InvalidAmount);
        }
        if self.in_maintenance(now) {
            hit(Mark::BankVoidMaintenance91);
            return Err(ResponseCode::IssuerUnavailable);
        }
        hit(Mark::BankVoidApproved);
        let currency = request.amount.currency;
        let posting = Posting::transfer(
            request.trace.key(),
            PostingKind::Void,
            currency,
            AccountId::Clearing(currency),
            AccountId::Cardholder(sale.request.pan.clone()),
            request.amount.amount.minor_units(),
        );
        Ok(Decision::approved(vec![posting]))
    }

    fn decide_balance(&self, now: Millis, request: &FinancialRequest) -> Result<Decision, ResponseCode> {
        let card = self.check_card(now, &request.pan, request.expiry)?;
        if self.in_maintenance(now) {
            hit(Mark::BankBalanceMaintenance91);
            return Err(ResponseCode::IssuerUnavailable);
        }
        hit(Mark::BankBalanceApproved);
        let balance_minor = self.balance_of(&AccountId::Cardholder(card.pan.clone()), card.currency);
        let mut decision = Decision::approved(Vec::new());
        decision.balance = Money::new(u64::try_from(balance_minor.max(0)).unwrap_or(0), card.currency);
        Ok(decision)
    }

    /// Decide a reversal advice; `None` when it changes nothing (a copy of
    /// one already applied) and needs no record.
    pub(super) fn decide_reversal(&self, advice: &ReversalAdvice) -> Option<Reversed> {
        let key = advice.trace.key();
        let every_copy = self.config.bugs.has(Bug::ReversalEveryCopy);
        let outcome = match self.state.transactions.get(&key) {
            None if self.state.tombstones.contains(&key) => {
                hit(Mark::BankReversalCopy);
                return None;
            }
            None if self.config.bugs.has(Bug::ReversalUnknownIgnored) => ReversalOutcome::Ignored,
            None => {
                hit(Mark::BankTombstoneCreated);
                ReversalOutcome::Tombstone
            }
            Some(original) if original.reversed && !(every_copy && original.is_approved()) => {
                hit(Mark::BankReversalCopy);
                return None;
            }
            Some(original) if !original.is_approved() => {
                hit(Mark::BankReversalDeclined);
                ReversalOutcome::OriginalDeclined
            }
            Some(_) => ReversalOutcome::Undone,
        };
        let postings = match outcome {
            ReversalOutcome::Undone => self.undo_postings(&key),
            _ => Vec::new(),
        };
        Some(Reversed {
            key,
            outcome,
            postings,
            response: self.reversal_response(advice),
        })
    }

    /// The 0430 for an advice.
    pub(super) fn reversal_response(&self, advice: &ReversalAdvice) -> ReversalResponse {
        ReversalResponse {
            trace: advice.trace.clone(),
            rrn: advice.rrn.clone(),
            amount: advice.amount,
            response: ResponseCode::Approved,
        }
    }

    /// Postings that undo an approved original, from its stored request.
    fn undo_postings(&self, key: &TransactionKey) -> Vec<Posting> {
        let Some(original) = self.state.transactions.get(key) else {
            return Vec::new();
        };
        let request = &original.request;
        let currency = request.amount.currency;
        let amount_minor = request.amount.amount.minor_units();
        let cardholder = AccountId::Cardholder(request.pan.clone());
        let merchant = AccountId::Merchant(request.merchant.clone());
        let clearing = AccountId::Clearing(currency);
        let kind = PostingKind::Reversal {
            of: request.processing,
        };
        let transfer =
            |from, to| Posting::transfer(key.clone(), kind.clone(), currency, from, to, amount_minor);
        match request.processing {
            ProcessingCode::Balance => Vec::new(),
            ProcessingCode::Refund => {
                hit(Mark::BankReversalRefund);
                vec![transfer(cardholder, merchant)]
            }
            ProcessingCode::Void => {
                hit(Mark::BankReversalVoid);
                vec![transfer(cardholder, clearing)]
            }
            ProcessingCode::Sale if original.voided => {
                hit(Mark::BankReversalSaleVoided);
                Vec::new()
            }
            ProcessingCode::Sale => {
                hit(Mark::BankReversalSale);
                if original.refunded_minor > 0 {
                    hit(Mark::BankReversalSaleRefunded);
                }
                // What is still live of the sale goes back to the card; the
                // part already refunded was paid by the merchant, who gets
                // it back from clearing if the sale was never paid out.
                let refunded = original.refunded_minor.min(amount_minor);
                let remaining = minor(amount_minor - refunded);
                let entries = if original.stage == SettlementStage::Paid {
                    hit(Mark::BankReversalSalePaid);
                    vec![
                        (merchant, currency, -remaining),
                        (cardholder, currency, remaining),
                    ]
                } else {
                    vec![
                        (clearing, currency, -minor(amount_minor)),
                        (cardholder, currency, remaining),
                        (merchant, currency, minor(refunded)),
                    ]
                };
                vec![Posting {
                    key: key.clone(),
                    kind,
                    entries,
                }]
            }
        }
    }

    /// The live sales and refunds of the batch a close names, their totals,
    /// and whether any of them is in another currency or of another
    /// merchant than the close.
    fn batch_items(&self, close: &BatchClose) -> (Vec<TransactionKey>, BatchTotals, bool) {
        let terminal = &close.trace.terminal;
        let items = self
            .state
            .transactions
            .iter()
            .filter(|(key, item)| &key.terminal == terminal && item.request.batch == close.batch)
            .filter(|(_, item)| item.is_approved() && !item.reversed && !item.voided)
            .filter(|(_, item)| {
                matches!(
                    item.request.processing,
                    ProcessingCode::Sale | ProcessingCode::Refund
                )
            });
        let mut totals = BatchTotals::default();
        let mut foreign = false;
        let mut keys = Vec::new();
        for (key, item) in items {
            let amount_minor = item.request.amount.amount.minor_units();
            foreign |=
                item.request.amount.currency != close.currency || item.request.merchant != close.merchant;
            if item.request.processing == ProcessingCode::Sale {
                totals.debit_count += 1;
                totals.debit_amount += amount_minor;
            } else {
                totals.credit_count += 1;
                totals.credit_amount += amount_minor;
            }
            keys.push(key.clone());
        }
        (keys, totals, foreign)
    }

    /// Decide a settlement that has no stored answer.
    pub(super) fn decide_settlement(&self, close: &BatchClose) -> Settled {
        let terminal = &close.trace.terminal;
        let (items, totals, foreign) = self.batch_items(close);
        let merchant = self.state.merchants.get(&close.merchant);
        let outcome = if foreign || totals != close.totals || merchant.is_none() {
            SettlementOutcome::Mismatch
        } else if merchant.is_some_and(|merchant| merchant.state == MerchantState::Active) {
            SettlementOutcome::Paid
        } else {
            SettlementOutcome::Held
        };
        hit(match outcome {
            SettlementOutcome::Paid => Mark::BankSettlementPaid,
            SettlementOutcome::Held => Mark::BankSettlementHeld,
            SettlementOutcome::Mismatch => Mark::BankSettlementMismatch95,
        });
        if outcome == SettlementOutcome::Paid && totals.credit_count > 0 && totals.debit_count > 0 {
            hit(Mark::BankSettlementCreditsAndDebits);
        }
        let key = close.trace.key();
        let postings = if outcome == SettlementOutcome::Paid {
            let kind = PostingKind::Settlement {
                terminal: terminal.clone(),
                batch: close.batch,
            };
            let from = AccountId::Clearing(close.currency);
            let to = AccountId::Merchant(close.merchant.clone());
            vec![Posting::transfer(
                key.clone(),
                kind,
                close.currency,
                from,
                to,
                totals.debit_amount,
            )]
        } else {
            Vec::new()
        };
        let code = if outcome == SettlementOutcome::Mismatch {
            ResponseCode::ReconcileError
        } else {
            ResponseCode::Approved
        };
        Settled {
            terminal: terminal.clone(),
            batch: close.batch,
            merchant: close.merchant.clone(),
            key,
            outcome,
            items,
            postings,
            response: BatchCloseResponse {
                trace: close.trace.clone(),
                batch: close.batch,
                response: code,
            },
        }
    }

    /// Held settlements of `merchant`, paid now with what is still live.
    pub(super) fn held_payouts(&self, merchant: &crate::wire::types::MerchantId) -> Vec<HeldPayout> {
        let held = self
            .state
            .settlements
            .iter()
            .filter(|(_, batch)| batch.held && &batch.merchant == merchant);
        held.map(|((terminal, batch_number), batch)| {
            let live: Vec<&Transaction> = batch
                .items
                .iter()
                .filter_map(|key| self.state.transactions.get(key))
                .filter(|item| item.is_live_sale() && !item.voided)
                .collect();
            let amount_minor: u64 = live
                .iter()
                .map(|item| item.request.amount.amount.minor_units())
                .sum();
            let currency = live.first().map(|item| item.request.amount.currency);
            let currency =
                currency.or_else(|| self.state.merchants.get(merchant).map(|account| account.currency));
            let currency = currency.expect("a held batch's merchant exists");
            hit(Mark::BankSettlementHeldPaid);
            let kind = PostingKind::HeldSettlementPaid {
                terminal: terminal.clone(),
                batch: *batch_number,
            };
            let from = AccountId::Clearing(currency);
            let to = AccountId::Merchant(merchant.clone());
            HeldPayout {
                terminal: terminal.clone(),
                batch: *batch_number,
                posting: Posting::transfer(batch.key.clone(), kind, currency, from, to, amount_minor),
            }
        })
        .collect()
    }
}
