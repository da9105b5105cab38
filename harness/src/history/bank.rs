//! The banks' side of the evidence: who a bank is, how it was set up
//! before the run (accounts with their states, expiries and limits, its
//! maintenance windows, where its clock sits on the calendar), the operator
//! commands it carried out, and its ledger with every posting.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::wire::types::{
    Amount, BatchNumber, Currency, Expiry, MerchantId, Pan, TerminalId, TransactionKey,
};

/// The identity of a bank (e.g. `bank-a`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BankId(pub String);

impl fmt::Display for BankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bank's calendar: the local date and time at the run's start, as plain
/// numbers (days since 1970-01-01 on the proleptic Gregorian calendar, and
/// seconds after midnight), and what the bank's clock read then. Whoever
/// judges expiry and daily limits turns them into dates with its own
/// calendar; postings' times are readings of that clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    /// Days from 1970-01-01 to the local date at the start (negative before).
    pub days_since_1970: i64,
    /// Seconds after local midnight at the start, 0..86400.
    pub second_of_day: u32,
    /// The bank's clock reading at the start, in milliseconds.
    pub clock_reads_ms: u64,
}

/// State of a card account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    /// Usable.
    Active,
    /// Frozen by the cardholder or the bank.
    Frozen,
    /// Issued but never activated.
    NotActivated,
    /// Blocked (lost, stolen, risk control).
    Blocked,
}

/// State of a merchant account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MerchantState {
    /// Usable.
    Active,
    /// Frozen: no refunds, settlements held.
    Frozen,
    /// Blacklisted: no sales, no refunds, settlements held.
    Blacklisted,
}

/// A card account as the issuing bank opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSetup {
    /// The card number.
    pub pan: Pan,
    /// The account's currency.
    pub currency: Currency,
    /// Opening balance, minor units.
    pub balance: Amount,
    /// State before the run.
    pub state: CardState,
    /// Expiry: valid through the last day of this month.
    pub expiry: Expiry,
    /// Largest single sale.
    pub transaction_limit: Option<Amount>,
    /// Largest sum of approved sales per local calendar day.
    pub daily_limit: Option<Amount>,
    /// Largest number of approved sales per local calendar day.
    pub daily_count_limit: Option<u32>,
}

/// A merchant account as the acquiring bank opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantSetup {
    /// DE42.
    pub id: MerchantId,
    /// The currency of the opening balance.
    pub currency: Currency,
    /// Opening balance, minor units.
    pub balance: Amount,
    /// State before the run.
    pub state: MerchantState,
    /// Largest single refund.
    pub refund_cap: Option<Amount>,
    /// How long after the sale a refund is allowed, ms.
    pub refund_window_ms: Option<u64>,
    /// Largest sum of approved refunds per local calendar day.
    pub daily_refund_limit: Option<Amount>,
}

/// What an operator told a bank to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorAction {
    /// Change a card's state.
    SetCardState {
        /// The card.
        pan: Pan,
        /// The new state.
        state: CardState,
    },
    /// Change a merchant's state.
    SetMerchantState {
        /// The merchant.
        merchant: MerchantId,
        /// The new state.
        state: MerchantState,
    },
    /// Enter maintenance until ended.
    BeginMaintenance,
    /// Leave maintenance (configured windows still apply).
    EndMaintenance,
}

/// A bank's accounts and rules before the run (operator commands change
/// states later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankSetup {
    /// Which bank.
    pub bank: BankId,
    /// Where the bank's clock epoch sits on the calendar (expiry, days).
    pub epoch: Epoch,
    /// Card accounts as opened.
    pub cards: Vec<CardSetup>,
    /// Merchant accounts as opened.
    pub merchants: Vec<MerchantSetup>,
    /// Maintenance windows `[start, end)` on the bank's clock, ms.
    pub maintenance: Vec<(u64, u64)>,
}

/// An operator command as the bank journalled it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorCommand {
    /// Which bank.
    pub bank: BankId,
    /// The bank's clock when it took effect, ms.
    pub at_ms: u64,
    /// How many of the bank's postings precede it: it applies to postings
    /// from this sequence number on.
    pub after_postings: u64,
    /// The command.
    pub command: OperatorAction,
}

/// An account in a bank's ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Account {
    /// A cardholder's card account.
    Cardholder(Pan),
    /// A merchant's settlement account.
    Merchant(MerchantId),
    /// The bank's clearing account: owed to merchants until settlement.
    Clearing(Currency),
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Cardholder(pan) => write!(f, "card {}", pan.masked()),
            Account::Merchant(merchant) => write!(f, "merchant {merchant}"),
            Account::Clearing(currency) => write!(f, "clearing {currency}"),
        }
    }
}

/// What a posting does, for "at most one effect per key and type".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EffectType {
    /// Cardholder debited, clearing credited.
    Sale,
    /// Merchant debited, cardholder credited.
    Refund,
    /// A sale undone before settlement.
    Void,
    /// An earlier posting of the same key undone.
    Reversal,
    /// Clearing paid out to the merchant for a batch.
    Settlement,
}

/// One leg of a posting: a signed amount on an account (credit positive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The account.
    pub account: Account,
    /// Signed minor units: positive adds to the balance.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

/// One posting in a bank's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// Position in the log, from 0.
    pub sequence: u64,
    /// The transaction whose effect this is (for a reversal: the key of the
    /// original; for a settlement: none).
    pub key: Option<TransactionKey>,
    /// What it does.
    pub effect: EffectType,
    /// For settlements: the terminal batch it pays. Which sales that batch
    /// holds, and which sale a refund or void acts on, the checker reads
    /// from the requests that crossed the network, not from the bank.
    pub batch: Option<(TerminalId, BatchNumber)>,
    /// For sales, refunds and voids: the bank's clock when it decided, ms.
    #[serde(default)]
    pub at_ms: Option<u64>,
    /// The legs.
    pub entries: Vec<Entry>,
}

/// A bank's ledger: opening and closing balances and every posting between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Which bank.
    pub bank: BankId,
    /// Balances before the run.
    pub opening: BTreeMap<Account, (i64, Currency)>,
    /// Balances after the run.
    pub closing: BTreeMap<Account, (i64, Currency)>,
    /// Every posting, in order.
    pub postings: Vec<Posting>,
    /// Settlements accepted but held (merchant frozen): the money stays in
    /// clearing until the merchant is unfrozen.
    pub held: Vec<HeldPayout>,
}

/// A batch payout the bank holds back (its sales are the batch's, as the
/// requests show them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldPayout {
    /// The terminal batch.
    pub batch: (TerminalId, BatchNumber),
}
