//! The bank's state and the one function that changes it: [`Bank::apply`]
//! applies a journal record, live right after deciding it and at boot when
//! replaying the journal. There is no other recovery logic.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::accounts::{BankCommand, BankConfig, CardholderAccount, MerchantAccount};
use super::ledger::{AccountId, Ledger, Posting};
use super::records::{
    BankRecord, Commanded, Processed, RequestSummary, ReversalOutcome, Reversed, Settled, SettlementOutcome,
};
use super::Bank;
use crate::node::Millis;
use crate::wire::typed::{BatchCloseResponse, FinancialResponse};
use crate::wire::types::{
    BatchNumber, Currency, MerchantId, Pan, ProcessingCode, TerminalId, TransactionKey,
};

/// Where the money of an approved sale sits with respect to settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlementStage {
    /// In the open batch; the money is in clearing.
    Open,
    /// Settled while the merchant was not active: still in clearing.
    Held,
    /// Paid to the merchant.
    Paid,
}

/// A financial request the bank has answered, with what happened to it
/// since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transaction {
    /// Arrival on the bank's clock.
    pub at: Millis,
    /// Calendar day of arrival.
    pub day: i64,
    /// What was asked.
    pub request: RequestSummary,
    /// The stored response.
    pub response: FinancialResponse,
    /// Reversed (or tombstoned before it came).
    pub reversed: bool,
    /// For a sale: minor units refunded so far.
    pub refunded_minor: u64,
    /// For a sale: voided.
    pub voided: bool,
    /// For a sale: settlement stage.
    pub stage: SettlementStage,
}

impl Transaction {
    /// Whether the stored response approved it.
    pub fn is_approved(&self) -> bool {
        self.response.response.is_approved()
    }

    /// Whether it is an approved sale that has not been reversed.
    pub fn is_live_sale(&self) -> bool {
        self.is_approved() && !self.reversed && self.request.processing == ProcessingCode::Sale
    }

    /// For a sale: what may still be refunded of it, minor units.
    pub fn refundable_minor(&self) -> u64 {
        self.request
            .amount
            .amount
            .minor_units()
            .saturating_sub(self.refunded_minor)
    }
}

/// A settled terminal batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettledBatch {
    /// The merchant paid.
    pub merchant: MerchantId,
    /// The settlement message's key (postings carry it).
    pub key: TransactionKey,
    /// The items covered.
    pub items: Vec<TransactionKey>,
    /// The stored 0510.
    pub response: BatchCloseResponse,
    /// Whether the payment is still held.
    pub held: bool,
}

/// Usage of a card on one calendar day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DailyUsage {
    /// Sum of approved sales, minor units.
    pub amount_minor: u64,
    /// Number of approved sales.
    pub count: u32,
}

/// Everything the bank knows; rebuilt from the journal at boot.
#[derive(Debug, Clone)]
pub(super) struct BankState {
    pub(super) cards: BTreeMap<Pan, CardholderAccount>,
    pub(super) merchants: BTreeMap<MerchantId, MerchantAccount>,
    pub(super) ledger: Ledger,
    pub(super) transactions: BTreeMap<TransactionKey, Transaction>,
    pub(super) tombstones: BTreeSet<TransactionKey>,
    pub(super) settlements: BTreeMap<(TerminalId, BatchNumber), SettledBatch>,
    pub(super) card_usage: BTreeMap<(Pan, i64), DailyUsage>,
    pub(super) merchant_refunds_minor: BTreeMap<(MerchantId, i64), u64>,
    pub(super) maintenance_by_command: bool,
    pub(super) deferred: BTreeMap<TransactionKey, Posting>,
}

impl BankState {
    /// The state of a fresh bank: opening balances, no history.
    pub(super) fn opening(config: &BankConfig) -> BankState {
        let mut ledger = Ledger::default();
        let mut currencies = BTreeSet::new();
        for card in &config.cardholders {
            let balance = i64::try_from(card.balance.minor_units()).expect("twelve digits fit i64");
            ledger.open(AccountId::Cardholder(card.pan.clone()), card.currency, balance);
            currencies.insert(card.currency);
        }
        for merchant in &config.merchants {
            let balance = i64::try_from(merchant.balance.minor_units()).expect("twelve digits fit i64");
            ledger.open(
                AccountId::Merchant(merchant.id.clone()),
                merchant.currency,
                balance,
            );
            currencies.insert(merchant.currency);
        }
        for currency in currencies {
            ledger.open(AccountId::Clearing(currency), currency, 0);
        }
        BankState {
            cards: config
                .cardholders
                .iter()
                .map(|card| (card.pan.clone(), card.clone()))
                .collect(),
            merchants: config
                .merchants
                .iter()
                .map(|merchant| (merchant.id.clone(), merchant.clone()))
                .collect(),
            ledger,
            transactions: BTreeMap::new(),
            tombstones: BTreeSet::new(),
            settlements: BTreeMap::new(),
            card_usage: BTreeMap::new(),
            merchant_refunds_minor: BTreeMap::new(),
            maintenance_by_command: false,
            deferred: BTreeMap::new(),
        }
    }
}

impl Bank {
    /// Apply one journal record: the only place state changes, used live
    /// and during replay.
    pub(super) fn apply(&mut self, record: &BankRecord) {
        match record {
            BankRecord::Processed(processed) => self.apply_processed(processed),
            BankRecord::Reversed(reversed) => self.apply_reversed(reversed),
            BankRecord::Settled(settled) => self.apply_settled(settled),
            BankRecord::Commanded(commanded) => self.apply_commanded(commanded),
            BankRecord::DeferredPosted { key, posting } => {
                self.state.deferred.remove(key);
                self.state.ledger.post(posting.clone());
                let refund = self
                    .state
                    .transactions
                    .get(key)
                    .map(|refund| refund.request.clone());
                if let Some(request) = refund {
                    self.add_refunded(request.original.as_ref(), request.amount.amount.minor_units());
                }
            }
        }
    }

    fn add_refunded(&mut self, sale_key: Option<&TransactionKey>, minor_units: u64) {
        if let Some(sale) = sale_key.and_then(|key| self.state.transactions.get_mut(key)) {
            sale.refunded_minor = sale.refunded_minor.saturating_add(minor_units);
        }
    }

    fn apply_processed(&mut self, processed: &Processed) {
        let request = &processed.request;
        let approved = processed.response.response.is_approved();
        let amount_minor = request.amount.amount.minor_units();
        if approved {
            match request.processing {
                ProcessingCode::Sale => {
                    let usage = self
                        .state
                        .card_usage
                        .entry((request.pan.clone(), processed.day))
                        .or_default();
                    usage.amount_minor += amount_minor;
                    usage.count += 1;
                }
                ProcessingCode::Refund => {
                    *self
                        .state
                        .merchant_refunds_minor
                        .entry((request.merchant.clone(), processed.day))
                        .or_default() += amount_minor;
                    if processed.deferred.is_none() {
                        self.add_refunded(request.original.as_ref(), amount_minor);
                    }
                }
                ProcessingCode::Void => {
                    if let Some(sale) = request
                        .original
                        .as_ref()
                        .and_then(|key| self.state.transactions.get_mut(key))
                    {
                        sale.voided = true;
                    }
                }
                ProcessingCode::Balance => {}
            }
        }
        for posting in &processed.postings {
            self.state.ledger.post(posting.clone());
        }
        if let Some(posting) = &processed.deferred {
            self.state.deferred.insert(processed.key.clone(), posting.clone());
        }
        let transaction = Transaction {
            at: processed.at,
            day: processed.day,
            request: request.clone(),
            response: processed.response.clone(),
            reversed: self.state.tombstones.contains(&processed.key),
            refunded_minor: 0,
            voided: false,
            stage: SettlementStage::Open,
        };
        self.state.transactions.insert(processed.key.clone(), transaction);
    }

    fn apply_reversed(&mut self, reversed: &Reversed) {
        for posting in &reversed.postings {
            self.state.ledger.post(posting.clone());
        }
        match reversed.outcome {
            ReversalOutcome::Tombstone => {
                self.state.tombstones.insert(reversed.key.clone());
            }
            ReversalOutcome::Ignored => {}
            ReversalOutcome::OriginalDeclined | ReversalOutcome::AlreadyReversed => {
                if let Some(original) = self.state.transactions.get_mut(&reversed.key) {
                    original.reversed = true;
                }
            }
            ReversalOutcome::Undone => self.undo_effects_of(&reversed.key),
        }
    }

    /// Mark an original reversed and give back what it consumed on its sale.
    fn undo_effects_of(&mut self, key: &TransactionKey) {
        let Some(original) = self.state.transactions.get_mut(key) else {
            return;
        };
        original.reversed = true;
        let request = original.request.clone();
        let sale = request
            .original
            .as_ref()
            .and_then(|sale_key| self.state.transactions.get_mut(sale_key));
        match (request.processing, sale) {
            (ProcessingCode::Refund, Some(sale)) => {
                sale.refunded_minor = sale
                    .refunded_minor
                    .saturating_sub(request.amount.amount.minor_units());
            }
            (ProcessingCode::Void, Some(sale)) => sale.voided = false,
            _ => {}
        }
    }

    fn apply_settled(&mut self, settled: &Settled) {
        let stage = match settled.outcome {
            SettlementOutcome::Mismatch => return,
            SettlementOutcome::Paid => SettlementStage::Paid,
            SettlementOutcome::Held => SettlementStage::Held,
        };
        for posting in &settled.postings {
            self.state.ledger.post(posting.clone());
        }
        for key in &settled.items {
            if let Some(item) = self.state.transactions.get_mut(key) {
                item.stage = stage;
            }
        }
        let batch = SettledBatch {
            merchant: settled.merchant.clone(),
            key: settled.key.clone(),
            items: settled.items.clone(),
            response: settled.response.clone(),
            held: stage == SettlementStage::Held,
        };
        self.state
            .settlements
            .insert((settled.terminal.clone(), settled.batch), batch);
    }

    fn apply_commanded(&mut self, commanded: &Commanded) {
        match &commanded.command {
            BankCommand::SetCardState { pan, state } => {
                if let Some(card) = self.state.cards.get_mut(pan) {
                    card.state = *state;
                }
            }
            BankCommand::SetMerchantState { merchant, state } => {
                if let Some(account) = self.state.merchants.get_mut(merchant) {
                    account.state = *state;
                }
            }
            BankCommand::BeginMaintenance => self.state.maintenance_by_command = true,
            BankCommand::EndMaintenance => self.state.maintenance_by_command = false,
        }
        for payout in &commanded.payouts {
            self.state.ledger.post(payout.posting.clone());
            let Some(batch) = self
                .state
                .settlements
                .get_mut(&(payout.terminal.clone(), payout.batch))
            else {
                continue;
            };
            batch.held = false;
            for key in batch.items.clone() {
                if let Some(item) = self.state.transactions.get_mut(&key) {
                    item.stage = SettlementStage::Paid;
                }
            }
        }
    }

    /// The ledger balance of `account` in `currency`.
    pub(super) fn balance_of(&self, account: &AccountId, currency: Currency) -> i64 {
        self.state.ledger.balance(account, currency)
    }
}
