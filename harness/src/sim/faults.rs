//! The fault plan: what breaks, where and when. Plain data, built from a
//! scenario file or drawn from a seed; the world and the fault proxies
//! carry it out.

use serde::{Deserialize, Serialize};

use crate::wire::types::ProcessingCode;

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
