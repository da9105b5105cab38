//! The serde model of a scenario file, exactly as written. Every value
//! keeps its place in the file ([`Spanned`]) so that later checks can point
//! at it; nothing here is validated beyond TOML types.

use serde::Deserialize;
use serde_spanned::Spanned;

/// A text value and where it stands in the file.
pub type Text = Spanned<String>;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Short unique name (letters, digits, `-`, `_`).
    pub name: Text,
    /// Incident class of INCIDENTS.md, `A` to `E`.
    pub incident: Text,
    /// One paragraph: which incident this replays and what it shows.
    pub description: Text,
    /// The run's seed (default 1).
    #[serde(default)]
    pub seed: Option<Spanned<u64>>,
    /// Planted bugs switched on in every node (names of `payfault bugs`).
    #[serde(default)]
    pub bugs: Vec<Text>,
    /// Changes on top of the built-in topology.
    #[serde(default)]
    pub topology: TopologyChanges,
    /// Phase lengths.
    #[serde(default)]
    pub timing: TimingFile,
    /// What customers, clerks and bank operators do, in file order.
    #[serde(default)]
    pub operations: Vec<OperationFile>,
    /// What breaks.
    #[serde(default)]
    pub faults: FaultsFile,
    /// What must be seen, on top of the invariants.
    #[serde(default)]
    pub expect: Vec<ExpectFile>,
}

/// `[topology]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyChanges {
    /// `[[topology.cards]]`: change a built-in card or add one.
    #[serde(default)]
    pub cards: Vec<CardFile>,
    /// `[[topology.merchants]]`: change a built-in merchant or add one.
    #[serde(default)]
    pub merchants: Vec<MerchantFile>,
    /// `[[topology.terminals]]`: when given, the terminals of the run in
    /// place of the built-in two.
    #[serde(default)]
    pub terminals: Vec<TerminalFile>,
    /// `[[topology.maintenance]]`: bank maintenance windows.
    #[serde(default)]
    pub maintenance: Vec<MaintenanceFile>,
    /// `[topology.timeouts]`: node timeouts.
    #[serde(default)]
    pub timeouts: TimeoutsFile,
}

/// One card.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardFile {
    /// The card number (16 digits).
    pub pan: Text,
    /// Balance with currency, e.g. "50.00 EUR" (required for a new card).
    #[serde(default)]
    pub balance: Option<Text>,
    /// active, frozen, not_activated, blocked.
    #[serde(default)]
    pub state: Option<Text>,
    /// YYMM.
    #[serde(default)]
    pub expiry: Option<Text>,
    /// Largest single sale.
    #[serde(default)]
    pub transaction_limit: Option<Text>,
    /// Largest sum of sales per day.
    #[serde(default)]
    pub daily_limit: Option<Text>,
    /// Most sales per day.
    #[serde(default)]
    pub daily_count_limit: Option<Spanned<u32>>,
}

/// One merchant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantFile {
    /// The merchant id (15 characters).
    pub id: Text,
    /// Opening balance with currency (required for a new merchant).
    #[serde(default)]
    pub balance: Option<Text>,
    /// active, frozen, blacklisted.
    #[serde(default)]
    pub state: Option<Text>,
    /// Largest single refund.
    #[serde(default)]
    pub refund_cap: Option<Text>,
    /// How long after the sale a refund is allowed ("1h").
    #[serde(default)]
    pub refund_window: Option<Text>,
    /// Largest sum of refunds per day.
    #[serde(default)]
    pub daily_refund_limit: Option<Text>,
}

/// One terminal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalFile {
    /// The terminal id (DE41, 8 characters).
    pub id: Text,
    /// Its merchant (DE42), a merchant of the acquiring bank.
    pub merchant: Text,
}

/// One maintenance window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceFile {
    /// The bank (default `bank-a`).
    #[serde(default)]
    pub bank: Option<Text>,
    /// Start.
    pub from: Text,
    /// End.
    pub until: Text,
}

/// `[topology.timeouts]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsFile {
    /// The terminal's response timeout (5s).
    #[serde(default)]
    pub terminal_response: Option<Text>,
    /// The terminal's first reversal repeat interval (1s).
    #[serde(default)]
    pub terminal_reversal_retry: Option<Text>,
    /// The switch's bank timeout (3s).
    #[serde(default)]
    pub switch_bank: Option<Text>,
    /// The switch's reversal repeat interval (1s).
    #[serde(default)]
    pub switch_reversal_retry: Option<Text>,
    /// The switch's settlement repeat interval (1s).
    #[serde(default)]
    pub switch_settlement_retry: Option<Text>,
}

/// `[timing]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingFile {
    /// Length of the workload and fault phase (20s).
    #[serde(default)]
    pub fault_phase: Option<Text>,
    /// Quiet time after healing that ends the run (10s).
    #[serde(default)]
    pub quiet: Option<Text>,
    /// Close every batch after healing (true).
    #[serde(default)]
    pub close_batches_at_end: Option<Spanned<bool>>,
}

/// One `[[operations]]` entry. Which fields apply depends on `op`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationFile {
    /// When ("250ms", "3s").
    pub at: Text,
    /// What: sale, refund, void, balance, close_batch, freeze_card, ...
    pub op: Text,
    /// A name to refer to it.
    #[serde(default)]
    pub id: Option<Text>,
    /// The terminal (default TERM0001).
    #[serde(default)]
    pub terminal: Option<Text>,
    /// The card (sale, balance, card commands).
    #[serde(default)]
    pub card: Option<Text>,
    /// The expiry the terminal reads (default: the card's).
    #[serde(default)]
    pub expiry: Option<Text>,
    /// Amount with currency (sale, refund).
    #[serde(default)]
    pub amount: Option<Text>,
    /// The id of the sale a refund or void is about.
    #[serde(default)]
    pub of: Option<Text>,
    /// Currency of a balance inquiry (default EUR).
    #[serde(default)]
    pub currency: Option<Text>,
    /// The merchant (merchant commands).
    #[serde(default)]
    pub merchant: Option<Text>,
    /// The bank (operator commands; default bank-a).
    #[serde(default)]
    pub bank: Option<Text>,
}

/// `[faults]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsFile {
    /// Scripted message faults.
    #[serde(default)]
    pub messages: Vec<MessageFaultFile>,
    /// Link partitions.
    #[serde(default)]
    pub partitions: Vec<PartitionFile>,
    /// Host crashes at a time or at a crash point.
    #[serde(default)]
    pub crashes: Vec<CrashFile>,
    /// Torn writes on crash: block size in bytes.
    #[serde(default)]
    pub torn_writes: Option<Spanned<u64>>,
    /// Clock skew per host.
    #[serde(default)]
    pub clocks: Vec<ClockFile>,
    /// Random message faults per link.
    #[serde(default)]
    pub random: Vec<RandomFile>,
    /// A hostile host on a link replaying, tampering with or forging
    /// requests.
    #[serde(default)]
    pub injections: Vec<InjectionFile>,
}

/// One `[[faults.injections]]`: a message a hostile host sends toward the
/// server side of a link.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectionFile {
    /// A terminal id or a bank id.
    pub link: Text,
    /// When.
    pub at: Text,
    /// replay, tamper_amount, forge.
    pub kind: Text,
    /// Which request seen on the link it starts from (default 1).
    #[serde(default)]
    pub nth: Option<Spanned<u32>>,
}

/// One `[[faults.messages]]` rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageFaultFile {
    /// A terminal id or a bank id.
    pub link: Text,
    /// drop, duplicate, delay, resend, corrupt.
    pub action: Text,
    /// request or response.
    #[serde(default)]
    pub direction: Option<Text>,
    /// "0210".
    #[serde(default)]
    pub mti: Option<Text>,
    /// sale, refund, void, balance, or six digits.
    #[serde(default)]
    pub processing: Option<Text>,
    /// DE11.
    #[serde(default)]
    pub stan: Option<Spanned<u32>>,
    /// Only the n-th matching message.
    #[serde(default)]
    pub nth: Option<Spanned<u32>>,
    /// Extra copies (duplicate; default 1).
    #[serde(default)]
    pub copies: Option<Spanned<u32>>,
    /// How long (delay; resend: how late the copy comes).
    #[serde(default)]
    pub delay: Option<Text>,
    /// Byte to flip (corrupt; default a seeded random one).
    #[serde(default)]
    pub offset: Option<Spanned<u32>>,
    /// Active from.
    #[serde(default)]
    pub from: Option<Text>,
    /// Active until.
    #[serde(default)]
    pub until: Option<Text>,
}

/// One `[[faults.partitions]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionFile {
    /// A terminal id or a bank id.
    pub link: Text,
    /// Start.
    pub from: Text,
    /// End (default: healing).
    #[serde(default)]
    pub until: Option<Text>,
}

/// One `[[faults.crashes]]`: `at` a time or at a crash `point`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashFile {
    /// terminal id, `switch` or bank id.
    pub host: Text,
    /// When.
    #[serde(default)]
    pub at: Option<Text>,
    /// A crash point (`payfault crash-points`).
    #[serde(default)]
    pub point: Option<Text>,
    /// Which passage of the point (default 1).
    #[serde(default)]
    pub nth: Option<Spanned<u32>>,
    /// Restart after (default: stays down until healing).
    #[serde(default)]
    pub restart_after: Option<Text>,
}

/// One `[[faults.clocks]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockFile {
    /// The host.
    pub host: Text,
    /// Offset, may be negative ("-2s").
    #[serde(default)]
    pub offset: Option<Text>,
    /// Drift in parts per million.
    #[serde(default)]
    pub drift_ppm: Option<Spanned<i32>>,
}

/// One `[[faults.random]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomFile {
    /// A terminal id or a bank id.
    pub link: Text,
    /// Chance of a drop ("5%", "500ppm").
    #[serde(default)]
    pub drop: Option<Text>,
    /// Chance of a duplicate.
    #[serde(default)]
    pub duplicate: Option<Text>,
    /// Chance of a delay.
    #[serde(default)]
    pub delay: Option<Text>,
    /// Largest random delay (default 1s).
    #[serde(default)]
    pub delay_max: Option<Text>,
    /// Chance of a corrupted byte.
    #[serde(default)]
    pub corrupt: Option<Text>,
}

/// One `[[expect]]`: what an operation shows, or an account's final balance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectFile {
    /// The operation id.
    #[serde(default)]
    pub operation: Option<Text>,
    /// approved, declined, failed_reversed, refused, batch_closed.
    #[serde(default)]
    pub shows: Option<Text>,
    /// The response code of a decline ("13").
    #[serde(default)]
    pub code: Option<Text>,
    /// Items uploaded by a batch close.
    #[serde(default)]
    pub uploaded: Option<Spanned<u32>>,
    /// A card account.
    #[serde(default)]
    pub card: Option<Text>,
    /// A merchant account.
    #[serde(default)]
    pub merchant: Option<Text>,
    /// A clearing account, by currency ("EUR").
    #[serde(default)]
    pub clearing: Option<Text>,
    /// The account's final balance.
    #[serde(default)]
    pub balance: Option<Text>,
}
