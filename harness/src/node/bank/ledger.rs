//! The bank's double-entry ledger: balances per (account, currency) in
//! `i64` minor units and the full, ordered log of postings.
//!
//! Every [`Posting`] sums to zero per currency, so the sum over all accounts
//! of a currency never changes. The ledger is plain data: the checker reads
//! it (serialized) as evidence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use crate::wire::types::{
    BatchNumber, Currency, MerchantId, Pan, ProcessingCode, TerminalId, TransactionKey,
};

/// An account of the bank's ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountId {
    /// A cardholder's card account.
    Cardholder(Pan),
    /// A merchant's settlement account.
    Merchant(MerchantId),
    /// The bank's clearing account of a currency: money owed to merchants
    /// until settlement.
    Clearing(Currency),
}

/// Why money moved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingKind {
    /// An approved sale: cardholder to clearing.
    Sale,
    /// An approved refund: merchant to cardholder.
    Refund,
    /// A merchant debit left behind by a declined refund (only with the
    /// planted bug `DeclinePartialPosting`).
    DeclinedRefundRemnant,
    /// An approved void: clearing back to the cardholder.
    Void,
    /// A reversal undoing the posting of an original of this kind.
    Reversal {
        /// What the reversed original was.
        of: ProcessingCode,
    },
    /// A settlement paying a terminal batch from clearing to the merchant.
    Settlement {
        /// The terminal of the batch.
        terminal: TerminalId,
        /// The batch.
        batch: BatchNumber,
    },
    /// A held settlement paid when its merchant was unfrozen.
    HeldSettlementPaid {
        /// The terminal of the batch.
        terminal: TerminalId,
        /// The batch.
        batch: BatchNumber,
    },
}

/// One atomic movement of money: entries `(account, currency, minor units)`
/// that sum to zero per currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// The transaction key this posting belongs to.
    pub key: TransactionKey,
    /// Why.
    pub kind: PostingKind,
    /// Signed amounts per account and currency; positive credits the account.
    pub entries: Vec<(AccountId, Currency, i64)>,
}

impl Posting {
    /// A posting moving `minor_units` of `currency` from `from` to `to`.
    pub fn transfer(
        key: TransactionKey,
        kind: PostingKind,
        currency: Currency,
        from: AccountId,
        to: AccountId,
        minor_units: u64,
    ) -> Posting {
        let amount = i64::try_from(minor_units).expect("twelve-digit amounts fit i64");
        Posting {
            key,
            kind,
            entries: vec![(from, currency, -amount), (to, currency, amount)],
        }
    }

    /// Whether the entries sum to zero in every currency.
    pub fn is_balanced(&self) -> bool {
        let mut sums: BTreeMap<Currency, i128> = BTreeMap::new();
        for (_, currency, amount) in &self.entries {
            *sums.entry(*currency).or_default() += i128::from(*amount);
        }
        sums.values().all(|sum| *sum == 0)
    }
}

/// Balances and the posting log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ledger {
    #[serde(serialize_with = "balances_as_list")]
    balances: BTreeMap<(AccountId, Currency), i64>,
    postings: Vec<Posting>,
}

/// One balance, as the serialized ledger lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceEntry<'a> {
    /// The account.
    pub account: &'a AccountId,
    /// The currency.
    pub currency: Currency,
    /// Minor units; may be negative for clearing accounts.
    pub balance: i64,
}

fn balances_as_list<S: Serializer>(
    balances: &BTreeMap<(AccountId, Currency), i64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(
        balances
            .iter()
            .map(|((account, currency), balance)| BalanceEntry {
                account,
                currency: *currency,
                balance: *balance,
            }),
    )
}

impl Ledger {
    /// Set an opening balance (at boot, from the configuration).
    pub fn open(&mut self, account: AccountId, currency: Currency, balance_minor: i64) {
        self.balances.insert((account, currency), balance_minor);
    }

    /// Apply a posting and log it. Panics in debug builds if it does not
    /// balance.
    pub fn post(&mut self, posting: Posting) {
        debug_assert!(posting.is_balanced(), "unbalanced posting {posting:?}");
        for (account, currency, amount) in &posting.entries {
            *self.balances.entry((account.clone(), *currency)).or_default() += amount;
        }
        self.postings.push(posting);
    }

    /// The balance of `account` in `currency` (zero if never touched).
    pub fn balance(&self, account: &AccountId, currency: Currency) -> i64 {
        self.balances
            .get(&(account.clone(), currency))
            .copied()
            .unwrap_or(0)
    }

    /// Every balance, ordered by account and currency.
    pub fn balances(&self) -> impl Iterator<Item = (&AccountId, Currency, i64)> + '_ {
        self.balances
            .iter()
            .map(|((account, currency), balance)| (account, *currency, *balance))
    }

    /// Every posting, in the order applied.
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// The sum over all accounts of `currency`: constant for the life of a
    /// bank.
    pub fn total(&self, currency: Currency) -> i128 {
        self.balances
            .iter()
            .filter(|((_, account_currency), _)| *account_currency == currency)
            .map(|(_, balance)| i128::from(*balance))
            .sum()
    }

    /// The currencies that have any balance.
    pub fn currencies(&self) -> Vec<Currency> {
        let mut currencies: Vec<Currency> = self.balances.keys().map(|(_, currency)| *currency).collect();
        currencies.sort();
        currencies.dedup();
        currencies
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::types::{LocalDate, Stan};

    fn key() -> TransactionKey {
        TransactionKey {
            terminal: TerminalId::new("TERM0001").unwrap(),
            local_date: LocalDate::new(11, 22).unwrap(),
            stan: Stan::FIRST,
        }
    }

    #[test]
    fn transfers_balance_and_keep_totals() {
        let pan = AccountId::Cardholder(Pan::new("4000000000000001").unwrap());
        let clearing = AccountId::Clearing(Currency::EUR);
        let mut ledger = Ledger::default();
        ledger.open(pan.clone(), Currency::EUR, 10_000);
        let posting = Posting::transfer(
            key(),
            PostingKind::Sale,
            Currency::EUR,
            pan.clone(),
            clearing.clone(),
            2_500,
        );
        assert!(posting.is_balanced());
        ledger.post(posting);
        assert_eq!(ledger.balance(&pan, Currency::EUR), 7_500);
        assert_eq!(ledger.balance(&clearing, Currency::EUR), 2_500);
        assert_eq!(ledger.total(Currency::EUR), 10_000);
        assert_eq!(ledger.postings().len(), 1);
    }

    #[test]
    fn unbalanced_postings_are_detected() {
        let pan = AccountId::Cardholder(Pan::new("4000000000000001").unwrap());
        let mut posting = Posting::transfer(key(), PostingKind::Sale, Currency::EUR, pan.clone(), pan, 1);
        assert!(posting.is_balanced());
        posting.entries[1].2 = 2;
        assert!(!posting.is_balanced());
        // Balanced per currency, not just in sum.
        posting.entries[1] = (AccountId::Clearing(Currency::JPY), Currency::JPY, 1);
        assert!(!posting.is_balanced());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "unbalanced posting")]
    fn posting_an_unbalanced_posting_panics_in_debug() {
        let pan = AccountId::Cardholder(Pan::new("4000000000000001").unwrap());
        let mut posting = Posting::transfer(key(), PostingKind::Sale, Currency::EUR, pan.clone(), pan, 1);
        posting.entries.pop();
        Ledger::default().post(posting);
    }

    #[test]
    fn ledger_serializes_balances_as_a_list() {
        let mut ledger = Ledger::default();
        ledger.open(AccountId::Clearing(Currency::EUR), Currency::EUR, 5);
        let json = serde_json::to_value(&ledger).unwrap();
        assert_eq!(json["balances"][0]["balance"], 5);
        assert!(json["postings"].as_array().unwrap().is_empty());
    }
}
