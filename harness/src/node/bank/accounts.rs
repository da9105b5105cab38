//! The bank's configuration: its accounts (cardholders, merchants), their
//! states and limits, maintenance windows, and the operator commands that
//! change states.

use serde::{Deserialize, Serialize};

use crate::node::{BankId, Bugs, Calendar, Millis};
use crate::wire::types::{Amount, Currency, Expiry, MerchantId, Pan};
use crate::wire::MacKey;

/// State of a card account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    /// Usable.
    Active,
    /// Frozen by the cardholder or the bank: 57.
    Frozen,
    /// Issued but never activated: 57.
    NotActivated,
    /// Blocked (lost, stolen, risk control): 62.
    Blocked,
}

/// State of a merchant account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MerchantState {
    /// Usable.
    Active,
    /// Frozen: refunds declined 58, settlements held until unfrozen.
    Frozen,
    /// Blacklisted: sales and refunds declined 58, settlements held.
    Blacklisted,
}

/// A cardholder's account at this (issuing) bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardholderAccount {
    /// The card number.
    pub pan: Pan,
    /// The account's currency: sales in another currency are 13.
    pub currency: Currency,
    /// Opening balance, minor units.
    pub balance: Amount,
    /// State at boot (operator commands change it later).
    pub state: CardState,
    /// Expiry; a request with another DE14 is treated as expired (54).
    pub expiry: Expiry,
    /// Largest single sale (61 above it).
    pub transaction_limit: Option<Amount>,
    /// Largest sum of approved sales per calendar day (61 above it).
    pub daily_limit: Option<Amount>,
    /// Largest number of approved sales per calendar day (65 above it).
    pub daily_count_limit: Option<u32>,
}

/// A merchant's settlement account at this (acquiring) bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantAccount {
    /// DE42.
    pub id: MerchantId,
    /// The currency of the opening balance.
    pub currency: Currency,
    /// Opening balance, minor units.
    pub balance: Amount,
    /// State at boot (operator commands change it later).
    pub state: MerchantState,
    /// Largest single refund (13 above it).
    pub refund_cap: Option<Amount>,
    /// How long after the sale a refund is allowed, in milliseconds (12
    /// after it).
    pub refund_window_ms: Option<u64>,
    /// Largest sum of approved refunds per calendar day (61 above it).
    pub daily_refund_limit: Option<Amount>,
}

/// Everything a bank is configured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankConfig {
    /// Identity in the topology.
    pub id: BankId,
    /// Where the run's epoch sits on the calendar (expiry, daily limits).
    pub calendar: Calendar,
    /// MAC key of the switch-bank link.
    pub link_key: MacKey,
    /// Card accounts.
    pub cardholders: Vec<CardholderAccount>,
    /// Merchant accounts.
    pub merchants: Vec<MerchantAccount>,
    /// Maintenance windows `[start, end)` on the host's clock: financial
    /// requests are answered 91.
    pub maintenance: Vec<(Millis, Millis)>,
    /// Planted bugs switched on.
    pub bugs: Bugs,
}

/// An operator command. Journalled before it takes effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankCommand {
    /// Change a card's state.
    SetCardState {
        /// The card.
        pan: Pan,
        /// The new state.
        state: CardState,
    },
    /// Change a merchant's state; making it active pays its held
    /// settlements.
    SetMerchantState {
        /// The merchant.
        merchant: MerchantId,
        /// The new state.
        state: MerchantState,
    },
    /// Enter maintenance: financial requests are answered 91 until
    /// [`BankCommand::EndMaintenance`].
    BeginMaintenance,
    /// Leave maintenance (configured windows still apply).
    EndMaintenance,
}
