//! The bank's journal records: each is one atomic, synced step (the
//! decision, its postings and the stored answer), and each is replayed by
//! the same apply function at boot as live.

use serde::{Deserialize, Serialize};

use super::accounts::BankCommand;
use super::ledger::Posting;
use crate::node::Millis;
use crate::wire::typed::{BatchCloseResponse, FinancialResponse, ReversalResponse};
use crate::wire::types::{BatchNumber, MerchantId, Money, Pan, ProcessingCode, TerminalId, TransactionKey};

/// What a financial request asked for, as the bank remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSummary {
    /// Sale, refund, void or balance.
    pub processing: ProcessingCode,
    /// DE2.
    pub pan: Pan,
    /// DE42.
    pub merchant: MerchantId,
    /// DE4 with DE49.
    pub amount: Money,
    /// DE60: the terminal batch.
    pub batch: BatchNumber,
    /// DE90 as a key: the original sale of a refund or void.
    pub original: Option<TransactionKey>,
}

/// A financial request decided: checks, postings and the stored answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processed {
    /// The request's key.
    pub key: TransactionKey,
    /// Arrival on the bank's clock (refund windows).
    pub at: Millis,
    /// Calendar day of arrival (daily limits).
    pub day: i64,
    /// What was asked.
    pub request: RequestSummary,
    /// The stored response, sent again verbatim to every copy and repeat.
    pub response: FinancialResponse,
    /// Postings applied in this step (none on a decline).
    pub postings: Vec<Posting>,
    /// A posting decided now but applied by a later
    /// [`BankRecord::DeferredPosted`] (only with the planted bug
    /// `RefundBoundRace`).
    pub deferred: Option<Posting>,
}

/// What a reversal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReversalOutcome {
    /// The approved original was undone.
    Undone,
    /// The original was declined: nothing to undo.
    OriginalDeclined,
    /// The original was already reversed: nothing to undo.
    AlreadyReversed,
    /// The original is unknown: a tombstone declines it if it comes late.
    Tombstone,
    /// The original is unknown and no tombstone was left (only with the
    /// planted bug `ReversalUnknownIgnored`).
    Ignored,
}

/// A reversal advice processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reversed {
    /// The original's key.
    pub key: TransactionKey,
    /// What happened.
    pub outcome: ReversalOutcome,
    /// Postings undoing the original.
    pub postings: Vec<Posting>,
    /// The 0430 sent.
    pub response: ReversalResponse,
}

/// How a settlement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlementOutcome {
    /// Totals agreed; the merchant was paid.
    Paid,
    /// Totals agreed; the merchant is not active, so the money stays in
    /// clearing until it is.
    Held,
    /// Totals disagreed (95): nothing moved and the batch stays open.
    Mismatch,
}

/// A settlement (0500/0501 from the switch) processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    /// DE41 of the batch.
    pub terminal: TerminalId,
    /// DE60.
    pub batch: BatchNumber,
    /// DE42: the merchant paid.
    pub merchant: MerchantId,
    /// The key of the settlement message itself (postings carry it).
    pub key: TransactionKey,
    /// What happened.
    pub outcome: SettlementOutcome,
    /// The live sales and refunds of the batch it covers.
    pub items: Vec<TransactionKey>,
    /// The payment (empty when held or mismatched).
    pub postings: Vec<Posting>,
    /// The 0510 sent; stored for repeats unless a mismatch.
    pub response: BatchCloseResponse,
}

/// A held settlement paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldPayout {
    /// DE41 of the batch.
    pub terminal: TerminalId,
    /// DE60.
    pub batch: BatchNumber,
    /// The payment.
    pub posting: Posting,
}

/// An operator command applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commanded {
    /// When.
    pub at: Millis,
    /// The command.
    pub command: BankCommand,
    /// Held settlements paid because of it.
    pub payouts: Vec<HeldPayout>,
}

/// One record of the bank's journal.
// Records are built once per step and moved into an effect: the size
// difference between variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankRecord {
    /// A financial request (0200/0201) decided.
    Processed(Processed),
    /// A reversal advice (0420/0421) processed.
    Reversed(Reversed),
    /// A settlement (0500/0501) processed.
    Settled(Settled),
    /// An operator command.
    Commanded(Commanded),
    /// A deferred refund posting applied (only with `RefundBoundRace`).
    DeferredPosted {
        /// The refund's key.
        key: TransactionKey,
        /// The posting.
        posting: Posting,
    },
}

impl BankRecord {
    /// Every posting this record applies.
    pub fn postings(&self) -> Vec<&Posting> {
        match self {
            BankRecord::Processed(processed) => processed.postings.iter().collect(),
            BankRecord::Reversed(reversed) => reversed.postings.iter().collect(),
            BankRecord::Settled(settled) => settled.postings.iter().collect(),
            BankRecord::Commanded(commanded) => {
                commanded.payouts.iter().map(|payout| &payout.posting).collect()
            }
            BankRecord::DeferredPosted { posting, .. } => vec![posting],
        }
    }
}
