//! The fault plan: what breaks, where and when. Plain data, built from a
//! scenario file or drawn from a seed; the world and the fault proxies
//! carry it out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{HostId, LinkId};
use crate::node::Millis;
use crate::wire::types::ProcessingCode;

/// Everything that breaks in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// Message faults per link.
    pub links: BTreeMap<LinkId, LinkFaults>,
    /// Partitions.
    pub partitions: Vec<LinkPartition>,
    /// Crashes at times.
    pub crashes: Vec<TimedCrash>,
    /// Crashes at named crash points.
    pub crash_points: Vec<ArmedCrash>,
    /// Torn writes on crash: block size in bytes.
    pub torn_write_block: Option<u64>,
    /// Clock skew per host.
    pub clocks: BTreeMap<HostId, ClockModel>,
}

/// A partition of a link, both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkPartition {
    /// The link.
    pub link: LinkId,
    /// Start.
    pub from_ms: u64,
    /// End (`None`: until the heal phase).
    pub until_ms: Option<u64>,
}

/// A crash at a simulated time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedCrash {
    /// The host.
    pub host: HostId,
    /// When.
    pub at_ms: u64,
    /// Restart after (`None`: stays down until the heal phase).
    pub restart_after_ms: Option<u64>,
}

/// Which way a message travels on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the connecting side to the listening side (terminal to switch,
    /// switch to bank): requests and advices.
    Request,
    /// Back: answers.
    Response,
}

/// Which messages a rule applies to. Every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMatch {
    /// Direction on the link.
    pub direction: Option<Direction>,
    /// MTI as a number, e.g. 210.
    pub mti: Option<u16>,
    /// DE3.
    pub processing: Option<ProcessingCode>,
    /// DE11.
    pub stan: Option<u32>,
    /// Only the n-th matching message (1-based); every match when unset.
    pub nth: Option<u32>,
}

/// What the proxy does to a matching message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageAction {
    /// Never deliver it.
    Drop,
    /// Deliver it and `copies` extra copies.
    Duplicate {
        /// Extra copies.
        copies: u32,
    },
    /// Deliver it now and one more copy `delay_ms` later (a late
    /// retransmission: the copy arrives after later messages).
    Resend {
        /// Delay of the copy in simulated milliseconds.
        delay_ms: u64,
    },
    /// Deliver it `delay_ms` later (later messages overtake it).
    Delay {
        /// Delay in simulated milliseconds.
        delay_ms: u64,
    },
    /// Flip the bits of one byte (at `offset`, or a seeded random one).
    Corrupt {
        /// Byte offset in the message.
        offset: Option<usize>,
    },
}

/// One scripted message fault on a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRule {
    /// Which messages.
    pub matching: MessageMatch,
    /// What to do.
    pub action: MessageAction,
    /// Active from this simulated time (inclusive).
    pub from_ms: Option<u64>,
    /// Active until this simulated time (exclusive).
    pub until_ms: Option<u64>,
}

/// Random message faults, in parts per million per message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomMessageFaults {
    /// Chance a message is dropped.
    pub drop_ppm: u32,
    /// Chance a message is duplicated once.
    pub duplicate_ppm: u32,
    /// Chance a message is delayed.
    pub delay_ppm: u32,
    /// Largest random delay.
    pub delay_ms_max: u64,
    /// Chance one byte of a message is corrupted.
    pub corrupt_ppm: u32,
}

impl RandomMessageFaults {
    /// Whether any random fault can happen.
    pub fn is_active(&self) -> bool {
        self.drop_ppm + self.duplicate_ppm + self.delay_ppm + self.corrupt_ppm > 0
    }
}

/// What a hostile host on a link sends toward the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Injection {
    /// Send again, byte for byte, the n-th request seen on the link (1-based).
    Replay {
        /// Which captured request.
        nth: u32,
    },
    /// The n-th request seen, with its amount (DE4) raised and its MAC kept.
    TamperAmount {
        /// Which captured request.
        nth: u32,
    },
    /// The n-th request seen, with a new STAN and a MAC made with a wrong key.
    Forge {
        /// Which captured request.
        nth: u32,
    },
    /// An insider (a terminal with the link's right key and wrong
    /// software): the n-th request seen, naming another terminal in DE41,
    /// with a new STAN and a valid MAC. Terminal links only.
    InsiderOtherTerminal {
        /// Which captured request.
        nth: u32,
    },
    /// An insider: the n-th financial request seen, made a refund of a
    /// sale nobody made (DE90 names a STAN never used), with a new STAN
    /// and a valid MAC. Terminal links only.
    InsiderUnknownOriginal {
        /// Which captured financial request (0200/0201).
        nth: u32,
    },
    /// An insider: a void of the n-th financial request seen, for one
    /// minor unit more than that request's amount, with a new STAN and a
    /// valid MAC. Terminal links only.
    InsiderVoidAmount {
        /// Which captured financial request (0200/0201).
        nth: u32,
    },
}

impl Injection {
    /// Which captured request it starts from (1-based).
    pub fn nth(&self) -> u32 {
        match *self {
            Injection::Replay { nth }
            | Injection::TamperAmount { nth }
            | Injection::Forge { nth }
            | Injection::InsiderOtherTerminal { nth }
            | Injection::InsiderUnknownOriginal { nth }
            | Injection::InsiderVoidAmount { nth } => nth,
        }
    }

    /// Whether it is signed with the link's own key (an insider), which
    /// only a terminal link's hostile host can hold: the switch trusts its
    /// bank links, and the bank the switch.
    pub fn is_insider(&self) -> bool {
        matches!(
            self,
            Injection::InsiderOtherTerminal { .. }
                | Injection::InsiderUnknownOriginal { .. }
                | Injection::InsiderVoidAmount { .. }
        )
    }
}

/// An injection at a simulated time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedInjection {
    /// When.
    pub at_ms: u64,
    /// What.
    pub injection: Injection,
}

/// The message faults of one link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkFaults {
    /// Scripted rules, applied in order; the first rule that fires decides.
    pub rules: Vec<MessageRule>,
    /// Random faults for messages no rule fired on.
    pub random: RandomMessageFaults,
    /// A hostile host's injections toward the server side of the link.
    #[serde(default)]
    pub injections: Vec<TimedInjection>,
}

/// Every host's local clock reads this much at the start of a run (plus its
/// offset), so that a clock set back by up to a day still runs: local time
/// never has to go below zero. The world shifts each node's calendar by the
/// same amount, so dates and times are what the configuration says.
pub const LOCAL_CLOCK_ORIGIN_MS: u64 = 86_400_000;

/// A host's clock: simulated time plus a fixed offset and a drift.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockModel {
    /// Offset from simulated time, in milliseconds (may be negative).
    pub offset_ms: i64,
    /// Drift in parts per million (positive: the clock runs fast).
    pub drift_ppm: i32,
}

impl ClockModel {
    /// The host's local time at simulated time `sim_ms`.
    pub fn local(&self, sim_ms: u64) -> Millis {
        let drift = i128::from(sim_ms) * i128::from(self.drift_ppm) / 1_000_000;
        let local =
            i128::from(LOCAL_CLOCK_ORIGIN_MS) + i128::from(sim_ms) + i128::from(self.offset_ms) + drift;
        Millis(local.max(0) as u64)
    }

    /// The first simulated time at which the local clock reads `local`.
    pub fn sim_at(&self, local: Millis) -> u64 {
        let target = i128::from(local.0) - i128::from(LOCAL_CLOCK_ORIGIN_MS) - i128::from(self.offset_ms);
        let scale = 1_000_000 + i128::from(self.drift_ppm);
        let mut sim = (target * 1_000_000 / scale.max(1)).max(0) as u64;
        while self.local(sim) < local {
            sim += 1;
        }
        sim
    }
}

/// One armed crash: crash `host` the `nth` time it passes `point`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmedCrash {
    /// The host.
    pub host: HostId,
    /// Crash point name.
    pub point: String,
    /// Which passage (1-based).
    pub nth: u32,
    /// Restart after this many simulated milliseconds (`None`: stays down
    /// until the heal phase).
    pub restart_after_ms: Option<u64>,
}
