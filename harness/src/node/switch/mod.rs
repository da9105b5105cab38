//! The payment switch (`docs/nodes.md`, "Switch").
//!
//! The switch owns four things: **routing** (a terminal's financial request
//! goes to the bank issuing its BIN, longest configured prefix first),
//! **de-duplication** (one forward per transaction key; a copy of an
//! answered request gets the stored answer), the **store-and-forward
//! reversal queue** toward banks (after a bank timeout, a terminal reversal
//! or a batch upload), and **capture and settlement** (approved items per
//! terminal batch, batch close with totals, upload after a 95, and one
//! settlement per terminal batch to the merchant's acquiring bank).
//!
//! Choices where the contract is silent:
//! - A BIN no bank issues is answered `14` locally, not journalled (routing
//!   is static configuration, so a repeat gets the same answer).
//! - A copy of a request reversed by its terminal before the switch ever
//!   forwarded it (a tombstone) is answered `12` locally, like the bank
//!   answers a late original.
//! - More than `pending_max` requests in flight plus reversals queued: a new
//!   request is answered `91` locally and not forwarded (nothing moved).
//!   Reversals are never dropped: dropping one would lose money.
//! - After a reboot, every request forwarded but unanswered is timed out at
//!   once (journalled `91` and a queued reversal), because its terminal has
//!   given up on it already; queued reversals go out as 0421 and unanswered
//!   settlements as 0501.
//! - Retries (0421, 0501) repeat every `reversal_retry_ms` /
//!   `settlement_retry_ms` without a count limit, as the terminal's do.
//! - A settlement answered with anything (`00` or `95`) is finished: the
//!   code is journalled, a `95` is visible there and is not retried.
//! - A batch with no acquiring bank configured is answered `91` and stays
//!   open.

mod reply;
mod state;

use serde::{Deserialize, Serialize};

use crate::node::{Bug, Bugs, Calendar, CrashPoint, Effect, Millis, Peer, StateMachine};
use crate::wire::typed::{
    BatchClose, BatchCloseResponse, BatchUpload, FinancialRequest, FinancialResponse, ReversalAdvice,
};
use crate::wire::types::{
    BatchNumber, InstitutionId, MerchantId, Pan, ResponseCode, TerminalId, TransactionKey,
};
use crate::wire::MacKey;

use state::State;
pub use state::{BatchKey, Discrepancy};

mod handlers;

/// Every crash point of the switch.
pub const CRASH_POINTS: &[&str] = &[
    FORWARD_CRASH,
    ANSWER_CRASH,
    TIMEOUT_CRASH,
    REVERSAL_CRASH,
    CLOSE_CRASH,
    UPLOAD_CRASH,
    SETTLE_CRASH,
];

const FORWARD_CRASH: &str = "switch.forward.after_sync_before_send";
const ANSWER_CRASH: &str = "switch.answer.after_sync_before_reply";
const TIMEOUT_CRASH: &str = "switch.timeout.after_sync_before_reply";
const REVERSAL_CRASH: &str = "switch.reversal.after_sync_before_ack";
const CLOSE_CRASH: &str = "switch.close.after_sync_before_reply";
const UPLOAD_CRASH: &str = "switch.upload.after_sync_before_reply";
const SETTLE_CRASH: &str = "switch.settle.after_sync_before_send";

/// A terminal the switch serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalLink {
    /// DE41.
    pub terminal: TerminalId,
    /// The merchant (DE42) the terminal belongs to.
    pub merchant: MerchantId,
    /// The terminal-switch MAC key.
    pub key: MacKey,
}

/// A bank the switch is linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankLink {
    /// The bank.
    pub bank: BankId,
    /// The switch-bank MAC key.
    pub key: MacKey,
    /// BIN prefixes (1 to 6 digits) of the cards it issues.
    pub bins: Vec<String>,
    /// Whether it acquires merchants (the first such bank is the default
    /// acquirer of merchants not listed in `merchant_acquirer`).
    pub acquirer: bool,
}

pub use crate::node::BankId;

/// The switch's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchConfig {
    /// Where the run's epoch sits on the calendar (DE7 of what it sends).
    pub calendar: Calendar,
    /// The switch's own institution id.
    pub institution: InstitutionId,
    /// The terminals it serves.
    pub terminals: Vec<TerminalLink>,
    /// The banks it routes to.
    pub banks: Vec<BankLink>,
    /// Explicit acquiring bank per merchant (else the default acquirer).
    pub merchant_acquirer: Vec<(MerchantId, BankId)>,
    /// How long a bank has to answer a forwarded request.
    pub bank_timeout_ms: u64,
    /// Interval between copies of an unacknowledged reversal (0421).
    pub reversal_retry_ms: u64,
    /// Interval between copies of an unanswered settlement (0501).
    pub settlement_retry_ms: u64,
    /// Bound on requests in flight plus reversals queued; a new request
    /// beyond it is answered 91 without being forwarded.
    pub pending_max: usize,
    /// Planted bugs switched on.
    pub bugs: Bugs,
}

impl SwitchConfig {
    /// The issuing bank of a card: the longest configured BIN prefix that
    /// starts the PAN.
    pub fn route(&self, pan: &Pan) -> Option<&BankId> {
        self.banks
            .iter()
            .flat_map(|link| link.bins.iter().map(move |bin| (bin, &link.bank)))
            .filter(|(bin, _)| !bin.is_empty() && pan.as_str().starts_with(bin.as_str()))
            .max_by_key(|(bin, _)| bin.len())
            .map(|(_, bank)| bank)
    }

    /// The acquiring bank of a merchant.
    pub fn acquirer_of(&self, merchant: &MerchantId) -> Option<&BankId> {
        self.merchant_acquirer
            .iter()
            .find(|(listed, _)| listed == merchant)
            .map(|(_, bank)| bank)
            .or_else(|| {
                self.banks
                    .iter()
                    .find(|link| link.acquirer)
                    .map(|link| &link.bank)
            })
    }

    fn terminal(&self, terminal: &TerminalId) -> Option<&TerminalLink> {
        self.terminals.iter().find(|link| &link.terminal == terminal)
    }

    fn bank(&self, bank: &BankId) -> Option<&BankLink> {
        self.banks.iter().find(|link| &link.bank == bank)
    }
}

/// What the switch journals. Each record is applied by the same function
/// live and at boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SwitchRecord {
    /// A request forwarded to its issuing bank.
    Forwarded {
        /// Its key.
        key: TransactionKey,
        /// The terminal it came from.
        terminal: TerminalId,
        /// The bank it went to.
        bank: BankId,
        /// The request as received.
        request: FinancialRequest,
    },
    /// The bank's answer, stored before it is relayed (and captured if an
    /// approved sale or refund, or uncapturing the original of a void).
    Answered {
        /// Its key.
        key: TransactionKey,
        /// The bank's 0210.
        response: FinancialResponse,
    },
    /// The bank did not answer in time: `91` stored, reversal queued.
    TimedOut {
        /// Its key.
        key: TransactionKey,
    },
    /// A terminal reversed a transaction: uncaptured and queued toward the
    /// bank if forwarded, tombstone if not.
    TerminalReversed {
        /// The original's key.
        key: TransactionKey,
        /// The terminal's advice (relayed to the bank).
        advice: ReversalAdvice,
    },
    /// A bank acknowledged a queued reversal (0430 `00`).
    ReversalAcknowledged {
        /// The original's key.
        key: TransactionKey,
    },
    /// A batch close disagreed with the capture: `95`, a new upload round.
    CloseMismatch {
        /// The terminal.
        terminal: TerminalId,
        /// DE60.
        batch: BatchNumber,
    },
    /// One item of a batch upload (0320).
    Uploaded {
        /// The terminal.
        terminal: TerminalId,
        /// DE60.
        batch: BatchNumber,
        /// The item.
        item: BatchUpload,
    },
    /// A batch closed with `00`; its settlement is queued.
    BatchClosed {
        /// The terminal.
        terminal: TerminalId,
        /// DE60.
        batch: BatchNumber,
        /// The stored 0510.
        answer: BatchCloseResponse,
        /// Captured items missing from the upload: reversed toward the bank.
        uncaptured: Vec<TransactionKey>,
        /// Uploaded items the switch never saw approved: not settled.
        discrepancies: Vec<TransactionKey>,
        /// The acquiring bank.
        bank: BankId,
        /// The settlement 0500 owed to it.
        settlement: BatchClose,
    },
    /// The acquiring bank answered a settlement.
    SettlementAcknowledged {
        /// The terminal.
        terminal: TerminalId,
        /// DE60.
        batch: BatchNumber,
        /// Its DE39.
        response: ResponseCode,
    },
}

/// The switch's timers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SwitchTimer {
    /// The bank's time to answer a forwarded request ran out.
    BankTimeout(TransactionKey),
    /// Send a queued reversal again.
    ReversalRetry(TransactionKey),
    /// Send an unanswered settlement again.
    SettlementRetry(TerminalId, BatchNumber),
}

/// Operator commands: the switch takes none yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchCommand {}

/// The effects the switch produces.
pub type SwitchEffects = Vec<Effect<SwitchRecord, SwitchTimer>>;

/// The payment switch.
#[derive(Debug, Clone)]
pub struct Switch {
    config: SwitchConfig,
    state: State,
}

impl StateMachine for Switch {
    type Config = SwitchConfig;
    type Record = SwitchRecord;
    type Timer = SwitchTimer;
    type Command = SwitchCommand;

    fn boot(config: SwitchConfig, journal: Vec<SwitchRecord>) -> Switch {
        if !journal.is_empty() {
            crate::cover::hit(crate::cover::Mark::SwitchRecovered);
        }
        let mut state = State::default();
        for record in &journal {
            state.apply(record);
        }
        Switch { config, state }
    }

    fn start(&mut self, now: Millis) -> SwitchEffects {
        self.resume(now)
    }

    fn on_message(&mut self, now: Millis, from: &Peer, bytes: &[u8]) -> SwitchEffects {
        match from {
            Peer::Terminal(terminal) => self.on_terminal_message(now, terminal, bytes),
            Peer::Bank(bank) => self.on_bank_message(now, bank, bytes),
            Peer::Switch => Vec::new(),
        }
    }

    fn on_timer(&mut self, now: Millis, timer: SwitchTimer) -> SwitchEffects {
        match timer {
            SwitchTimer::BankTimeout(key) => self.on_bank_timeout(now, &key),
            SwitchTimer::ReversalRetry(key) => self.send_reversal(now, &key),
            SwitchTimer::SettlementRetry(terminal, batch) => {
                if let Some(settlement) = self.state.settlements.get_mut(&(terminal.clone(), batch)) {
                    settlement.armed = false;
                }
                self.send_settlement(now, &(terminal, batch))
            }
        }
    }

    fn on_command(&mut self, _now: Millis, command: SwitchCommand) -> SwitchEffects {
        match command {}
    }
}

impl Switch {
    /// The configuration.
    pub fn config(&self) -> &SwitchConfig {
        &self.config
    }

    /// Keys captured in a terminal batch, in key order.
    pub fn captured(&self, terminal: &TerminalId, batch: BatchNumber) -> Vec<TransactionKey> {
        self.state
            .captured(terminal, batch)
            .into_keys()
            .cloned()
            .collect()
    }

    /// Totals of the capture of a terminal batch.
    pub fn capture_totals(
        &self,
        terminal: &TerminalId,
        batch: BatchNumber,
    ) -> crate::wire::typed::BatchTotals {
        self.state.capture_totals(terminal, batch)
    }

    /// Keys whose reversal toward a bank waits for its 0430.
    pub fn queued_reversals(&self) -> Vec<TransactionKey> {
        self.state.reversals.keys().cloned().collect()
    }

    /// Keys forwarded and not answered yet.
    pub fn in_flight(&self) -> Vec<TransactionKey> {
        self.state.in_flight().cloned().collect()
    }

    /// The stored answer for a key, if any.
    pub fn stored_answer(&self, key: &TransactionKey) -> Option<&FinancialResponse> {
        self.state
            .transactions
            .get(key)
            .and_then(|transaction| transaction.answer.as_ref())
    }

    /// Settlements without an answer from the acquiring bank.
    pub fn pending_settlements(&self) -> Vec<BatchKey> {
        let pending = self
            .state
            .settlements
            .iter()
            .filter(|(_, settlement)| settlement.answer.is_none());
        pending.map(|(batch, _)| batch.clone()).collect()
    }

    /// The acquiring bank's answer to a batch's settlement, once received.
    pub fn settlement_answer(&self, terminal: &TerminalId, batch: BatchNumber) -> Option<ResponseCode> {
        self.state
            .settlements
            .get(&(terminal.clone(), batch))
            .and_then(|settlement| settlement.answer)
    }

    /// The settlement message owed for a batch, once closed.
    pub fn settlement(&self, terminal: &TerminalId, batch: BatchNumber) -> Option<&BatchClose> {
        self.state
            .settlements
            .get(&(terminal.clone(), batch))
            .map(|settlement| &settlement.message)
    }

    /// Uploaded items the switch never saw approved.
    pub fn discrepancies(&self) -> &[Discrepancy] {
        &self.state.discrepancies
    }

    /// Whether a key was reversed by its terminal before being forwarded.
    pub fn is_tombstoned(&self, key: &TransactionKey) -> bool {
        self.state.tombstones.contains(key)
    }

    fn bug(&self, bug: Bug) -> bool {
        self.config.bugs.has(bug)
    }

    /// Apply a record and journal it durably.
    fn commit(&mut self, record: SwitchRecord) -> SwitchEffects {
        self.state.apply(&record);
        vec![Effect::Append(record), Effect::Sync]
    }

    fn crash_point(name: &'static str) -> Effect<SwitchRecord, SwitchTimer> {
        Effect::CrashPoint(CrashPoint(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SwitchConfig {
        let bank = |name: &str, bins: &[&str], acquirer| BankLink {
            bank: BankId(name.into()),
            key: MacKey([0; 16]),
            bins: bins.iter().map(|bin| bin.to_string()).collect(),
            acquirer,
        };
        SwitchConfig {
            calendar: Calendar::default(),
            institution: InstitutionId::new("99").unwrap(),
            terminals: Vec::new(),
            banks: vec![bank("short", &["4", ""], false), bank("long", &["4111"], true)],
            merchant_acquirer: vec![(
                MerchantId::new("MERCHANT0000009").unwrap(),
                BankId("short".into()),
            )],
            bank_timeout_ms: 1,
            reversal_retry_ms: 1,
            settlement_retry_ms: 1,
            pending_max: 1,
            bugs: Bugs::none(),
        }
    }

    #[test]
    fn the_longest_prefix_routes_and_an_empty_prefix_matches_nothing() {
        let config = config();
        let route = |pan: &str| config.route(&Pan::new(pan).unwrap()).map(|bank| bank.0.clone());
        assert_eq!(route("4111000000000000"), Some("long".into()));
        assert_eq!(route("4000000000000000"), Some("short".into()));
        assert_eq!(route("5000000000000000"), None);
    }

    #[test]
    fn a_listed_merchant_uses_its_acquirer_and_others_the_default() {
        let config = config();
        let listed = MerchantId::new("MERCHANT0000009").unwrap();
        let other = MerchantId::new("MERCHANT0000001").unwrap();
        assert_eq!(config.acquirer_of(&listed), Some(&BankId("short".into())));
        assert_eq!(config.acquirer_of(&other), Some(&BankId("long".into())));
    }
}
