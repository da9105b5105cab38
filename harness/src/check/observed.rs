//! What the requests that crossed the network say about the postings: which
//! sale a refund or void acts on (DE90, read from the request itself), which
//! items a terminal batch holds (DE41 and DE60 of each request), what a
//! settlement was asked to pay (the totals of the 0500). The ledger says
//! what moved; these say what should have, so a bank that labels its
//! postings wrongly cannot vouch for itself.

use std::collections::BTreeMap;

use crate::history::{Asked, FinancialAsked, History, Party};
use crate::wire::types::{BatchNumber, ProcessingCode, TerminalId, TransactionKey};

/// The requests of a run, indexed.
pub(super) struct Observed<'a> {
    /// What a bank was first asked under each key: what it decided.
    asked: BTreeMap<&'a TransactionKey, &'a FinancialAsked>,
    /// Sales and refunds asked of a bank, by terminal batch.
    batches: BTreeMap<(&'a TerminalId, BatchNumber), Vec<&'a TransactionKey>>,
    /// Whether any request was seen at all: a history without them (an old
    /// one, or a source that cannot see the network) cannot judge what
    /// depends on them.
    pub any: bool,
}

impl<'a> Observed<'a> {
    /// Index the requests of `history`.
    pub fn of(history: &'a History) -> Observed<'a> {
        let mut asked: BTreeMap<&TransactionKey, &FinancialAsked> = BTreeMap::new();
        let mut batches: BTreeMap<(&TerminalId, BatchNumber), Vec<&TransactionKey>> = BTreeMap::new();
        for seen in &history.requests {
            let (Party::Bank(_), Asked::Financial(financial)) = (&seen.receiver, &seen.asked) else {
                continue;
            };
            if asked.contains_key(&seen.key) {
                continue;
            }
            asked.insert(&seen.key, financial);
            if matches!(
                financial.processing,
                ProcessingCode::Sale | ProcessingCode::Refund
            ) {
                batches
                    .entry((&seen.key.terminal, financial.batch))
                    .or_default()
                    .push(&seen.key);
            }
        }
        Observed {
            asked,
            batches,
            any: !history.requests.is_empty(),
        }
    }

    /// What a bank was first asked under `key`.
    pub fn asking(&self, key: &TransactionKey) -> Option<&'a FinancialAsked> {
        self.asked.get(key).copied()
    }

    /// The sale a refund or void of `key` names.
    pub fn original_of(&self, key: &TransactionKey) -> Option<&'a TransactionKey> {
        self.asked.get(key).and_then(|asked| asked.original.as_ref())
    }

    /// The sales asked in a terminal batch.
    pub fn sales_of(&self, terminal: &TerminalId, batch: BatchNumber) -> Vec<&'a TransactionKey> {
        self.batches
            .get(&(terminal, batch))
            .into_iter()
            .flatten()
            .copied()
            .filter(|key| {
                self.asked
                    .get(key)
                    .is_some_and(|asked| asked.processing == ProcessingCode::Sale)
            })
            .collect()
    }

    /// The terminal batch a sale or refund was asked in.
    pub fn batch_of(&self, key: &TransactionKey) -> Option<(&'a TerminalId, BatchNumber)> {
        self.asked
            .get_key_value(key)
            .map(|(key, asked)| (&key.terminal, asked.batch))
    }
}
