//! The serde model of a scenario file, exactly as written: read by the
//! parser and serialized by the writer. Every value keeps its place in the
//! file ([`Spanned`]) so that later checks can point at it (a written value
//! has an empty span); nothing here is validated beyond TOML types.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

use super::vocabulary::{Named, OperationKey};

/// A text value and where it stands in the file.
pub type Text = Spanned<String>;

/// A whole scenario file.
#[derive(Debug, PartialEq, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bugs: Vec<Text>,
    /// Changes on top of the built-in topology.
    #[serde(default, skip_serializing_if = "is_default")]
    pub topology: TopologyChanges,
    /// Phase lengths.
    #[serde(default, skip_serializing_if = "is_default")]
    pub timing: TimingFile,
    /// What customers, clerks and bank operators do, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<OperationFile>,
    /// What breaks.
    #[serde(default, skip_serializing_if = "is_default")]
    pub faults: FaultsFile,
    /// What must be seen, on top of the invariants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<ExpectFile>,
}

impl Serialize for ScenarioFile {
    /// In the order of docs/scenarios.md: the header, `[timing]`,
    /// `[topology]`, the operations, the faults, the expectations.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut file = serializer.serialize_struct("ScenarioFile", 10)?;
        file.serialize_field("name", &self.name)?;
        file.serialize_field("incident", &self.incident)?;
        file.serialize_field("description", &self.description)?;
        file.serialize_field("seed", &self.seed)?;
        if !self.bugs.is_empty() {
            file.serialize_field("bugs", &self.bugs)?;
        }
        if !is_default(&self.timing) {
            file.serialize_field("timing", &self.timing)?;
        }
        if !is_default(&self.topology) {
            file.serialize_field("topology", &self.topology)?;
        }
        if !self.operations.is_empty() {
            file.serialize_field("operations", &self.operations)?;
        }
        if !is_default(&self.faults) {
            file.serialize_field("faults", &self.faults)?;
        }
        if !self.expect.is_empty() {
            file.serialize_field("expect", &self.expect)?;
        }
        file.end()
    }
}

/// Whether a table is empty, so that it is left out of a written file.
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// `[topology]`.
#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyChanges {
    /// `[[topology.cards]]`: change a built-in card or add one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cards: Vec<CardFile>,
    /// `[[topology.merchants]]`: change a built-in merchant or add one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merchants: Vec<MerchantFile>,
    /// `[[topology.terminals]]`: when given, the terminals of the run in
    /// place of the built-in two.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terminals: Vec<TerminalFile>,
    /// `[[topology.maintenance]]`: bank maintenance windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<MaintenanceFile>,
    /// `[topology.timeouts]`: node timeouts.
    #[serde(default, skip_serializing_if = "is_default")]
    pub timeouts: TimeoutsFile,
    /// How many requests the switch keeps toward the banks (in flight, and
    /// reversals queued) before it answers a new one 91 itself (64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_pending_max: Option<Spanned<u32>>,
}

/// One card.
#[derive(Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalFile {
    /// The terminal id (DE41, 8 characters).
    pub id: Text,
    /// Its merchant (DE42), a merchant of the acquiring bank.
    pub merchant: Text,
}

/// One maintenance window.
#[derive(Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
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

/// One `[[operations]]` entry: `at`, `op`, an optional `id`, and the keys
/// of that operation ([`OperationKind::keys`](super::vocabulary::OperationKind::keys)) in file order. Read and
/// written by hand so that an unknown key is located at the key and every
/// value keeps its span; which keys apply is checked when lowering.
#[derive(Debug, PartialEq)]
pub struct OperationFile {
    /// When ("250ms", "3s").
    pub at: Text,
    /// What: the name of an [`OperationKind`](super::vocabulary::OperationKind).
    pub op: Text,
    /// A name to refer to it.
    pub id: Option<Text>,
    /// The other keys, in file order.
    pub fields: Vec<(OperationKey, Text)>,
}

impl OperationFile {
    /// The value of `key`, if the entry has it.
    pub fn get(&self, key: OperationKey) -> Option<&Text> {
        self.fields
            .iter()
            .find(|(present, _)| *present == key)
            .map(|(_, value)| value)
    }
}

impl<'de> Deserialize<'de> for OperationKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        OperationKey::from_name(&name).ok_or_else(|| de::Error::unknown_field(&name, OperationKey::NAMES))
    }
}

impl<'de> Deserialize<'de> for OperationFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("OperationFile", OperationKey::NAMES, OperationVisitor)
    }
}

struct OperationVisitor;

impl<'de> Visitor<'de> for OperationVisitor {
    type Value = OperationFile;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("struct OperationFile")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OperationFile, A::Error> {
        let (mut at, mut op, mut id, mut fields) = (None, None, None, Vec::new());
        while let Some(key) = map.next_key::<OperationKey>()? {
            let value: Text = map.next_value()?;
            match key {
                OperationKey::At => at = Some(value),
                OperationKey::Op => op = Some(value),
                OperationKey::Id => id = Some(value),
                _ => fields.push((key, value)),
            }
        }
        Ok(OperationFile {
            at: at.ok_or_else(|| de::Error::missing_field("at"))?,
            op: op.ok_or_else(|| de::Error::missing_field("op"))?,
            id,
            fields,
        })
    }

    /// The entry as an array of its values in key order, as serde reads
    /// any struct.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OperationFile, A::Error> {
        const EXPECTED: &str = "struct OperationFile with 11 elements";
        let at = seq.next_element::<Text>()?;
        let at = at.ok_or_else(|| de::Error::invalid_length(0, &EXPECTED))?;
        let op = seq.next_element::<Text>()?;
        let op = op.ok_or_else(|| de::Error::invalid_length(1, &EXPECTED))?;
        let mut entry = OperationFile {
            at,
            op,
            id: None,
            fields: Vec::new(),
        };
        for key in &OperationKey::ALL[2..] {
            match seq.next_element::<Option<Text>>()?.flatten() {
                Some(value) if *key == OperationKey::Id => entry.id = Some(value),
                Some(value) => entry.fields.push((*key, value)),
                None => {}
            }
        }
        Ok(entry)
    }
}

impl Serialize for OperationFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3 + self.fields.len()))?;
        map.serialize_entry(OperationKey::At.name(), &self.at)?;
        map.serialize_entry(OperationKey::Op.name(), &self.op)?;
        if let Some(id) = &self.id {
            map.serialize_entry(OperationKey::Id.name(), id)?;
        }
        for (key, value) in &self.fields {
            map.serialize_entry(key.name(), value)?;
        }
        map.end()
    }
}

/// `[faults]`.
#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsFile {
    /// Scripted message faults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageFaultFile>,
    /// Link partitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<PartitionFile>,
    /// Host crashes at a time or at a crash point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crashes: Vec<CrashFile>,
    /// Torn writes on crash: block size in bytes.
    #[serde(default)]
    pub torn_writes: Option<Spanned<u64>>,
    /// Clock skew per host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<ClockFile>,
    /// Random message faults per link.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub random: Vec<RandomFile>,
    /// A hostile host on a link replaying, tampering with or forging
    /// requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub injections: Vec<InjectionFile>,
}

/// One `[[faults.injections]]`: a message a hostile host sends toward the
/// server side of a link.
#[derive(Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, PartialEq, Deserialize, Serialize)]
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
