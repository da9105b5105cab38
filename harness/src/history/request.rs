//! The requests that crossed the network, as their receivers got them: what
//! each terminal asked the switch and what the switch asked each bank, in
//! the fields the checker needs to judge a decision without asking the
//! decider (the card, the amount, the merchant, the batch, the original a
//! refund, void or reversal names through DE90, the totals of a close).
//!
//! Only authentic messages are kept (a valid MAC from the sender the link
//! belongs to); a forged or corrupted copy is refused on arrival and
//! decides nothing, so it is not evidence of what was asked.

use serde::{Deserialize, Serialize};

use super::Party;
use crate::wire::types::{
    BatchNumber, Currency, Expiry, MerchantId, Money, Pan, ProcessingCode, ResponseCode, TransactionKey,
};

/// One authentic request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSeen {
    /// Simulated milliseconds.
    pub at_ms: u64,
    /// The receiver's own clock when it arrived, ms: the moment a bank
    /// decides by (expiry, days, maintenance windows).
    pub clock_ms: u64,
    /// Who received it.
    pub receiver: Party,
    /// Who sent it.
    pub sender: Party,
    /// MTI: 200, 201, 420, 421, 500 or 501.
    pub mti: u16,
    /// The transaction key (DE41, DE13, DE11); for a reversal, the key of
    /// the request it reverses.
    pub key: TransactionKey,
    /// What it asks.
    pub asked: Asked,
}

/// What a request asks, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Asked {
    /// A 0200/0201: sale, refund, void or balance inquiry.
    Financial(FinancialAsked),
    /// A 0420/0421 reversal advice.
    Reversal(ReversalAsked),
    /// A 0500/0501 batch close (terminal to switch) or settlement (switch
    /// to bank).
    Close(CloseAsked),
}

/// What a 0200/0201 asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinancialAsked {
    /// DE3.
    pub processing: ProcessingCode,
    /// DE2.
    pub pan: Pan,
    /// DE14.
    pub expiry: Expiry,
    /// DE4 with DE49.
    pub amount: Money,
    /// DE42.
    pub merchant: MerchantId,
    /// DE60: the terminal batch the item belongs to.
    pub batch: BatchNumber,
    /// The original a refund or void names (DE41 with DE90's date and
    /// STAN).
    pub original: Option<TransactionKey>,
}

/// What a 0420/0421 asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReversalAsked {
    /// DE3 of the request it reverses.
    pub processing: ProcessingCode,
    /// DE4 with DE49.
    pub amount: Money,
    /// DE39: why (68 timeout, 96 malfunction, ...).
    pub reason: ResponseCode,
}

/// What a 0500/0501 asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseAsked {
    /// DE42.
    pub merchant: MerchantId,
    /// DE60.
    pub batch: BatchNumber,
    /// DE49.
    pub currency: Currency,
    /// DE74, DE86: refunds.
    pub credits: (u64, u64),
    /// DE76, DE88: sales.
    pub debits: (u64, u64),
}
