//! The trace: every event of a run, in order, with simulated time and host,
//! and a 64-bit hash of it.
//!
//! Same seed, same binary: byte-identical trace, same hash. The hash is
//! FNV-1a over each event's postcard encoding, so it depends on nothing but
//! the events (no addresses, no wall time, no map iteration order).

use std::fmt;

use serde::Serialize;

use crate::node::{CrashPoint, OperationId, Shown};

/// One thing that happened in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Simulated milliseconds since the start of the run.
    pub at_ms: u64,
    /// The host it happened on (or `world` for the harness itself).
    pub host: String,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum EventKind {
    /// The workload asked a terminal to do something.
    Invoke {
        /// The operation.
        operation: OperationId,
        /// In words, e.g. `sale 12.50 EUR card 411111******1111`.
        what: String,
    },
    /// An operator command at a bank (freeze, maintenance, ...).
    Operator {
        /// In words.
        what: String,
    },
    /// A terminal showed a result.
    Shown(Shown),
    /// A node sent a message.
    Sent {
        /// To whom.
        to: String,
        /// Summary: MTI, processing code, STAN, response code.
        message: String,
    },
    /// A node received a message.
    Received {
        /// From whom.
        from: String,
        /// Summary.
        message: String,
    },
    /// A send found no connection (the message is lost).
    SendFailed {
        /// To whom.
        to: String,
        /// Summary.
        message: String,
    },
    /// The fault proxy dropped a message.
    Dropped {
        /// The link, e.g. `TERM0001>switch`.
        link: String,
        /// Summary.
        message: String,
    },
    /// The fault proxy sent extra copies.
    Duplicated {
        /// The link.
        link: String,
        /// Summary.
        message: String,
        /// Extra copies.
        copies: u32,
    },
    /// The fault proxy delayed a message.
    Delayed {
        /// The link.
        link: String,
        /// Summary.
        message: String,
        /// By how long.
        delay_ms: u64,
    },
    /// The fault proxy changed bytes of a message.
    Corrupted {
        /// The link.
        link: String,
        /// Summary of the original.
        message: String,
        /// Byte offset changed.
        offset: usize,
    },
    /// A hostile host sent a message of its own on a link.
    Injected {
        /// The link.
        link: String,
        /// Summary of what was sent.
        message: String,
        /// How it was made (replay, tampered amount, forged).
        how: String,
    },
    /// A journal sync completed.
    Synced {
        /// Records durable after the sync.
        records: usize,
    },
    /// A host crashed.
    Crash {
        /// At a named crash point, or at a scheduled time.
        point: Option<CrashPoint>,
    },
    /// A host booted (again) and recovered its journal.
    Boot {
        /// Records recovered.
        records: usize,
        /// Bytes discarded at the journal's tail (torn or unsynced).
        discarded_bytes: usize,
    },
    /// A network fault or repair on a link.
    Network {
        /// e.g. `partition switch<>bank-a`.
        change: String,
    },
    /// A phase of the run began.
    Phase {
        /// `faults`, `heal`, `quiet`, `end`.
        name: String,
    },
}

/// The ordered events of a run and their running hash.
#[derive(Debug, Clone)]
pub struct Trace {
    events: Vec<Event>,
    hash: u64,
    keep_events: bool,
    count: usize,
    /// Every crash (simulated ms, host), kept even when events are not:
    /// the checker's evidence of when a host was down.
    crashes: Vec<(u64, String)>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

impl Default for Trace {
    fn default() -> Trace {
        Trace::new(true)
    }
}

impl Trace {
    /// An empty trace; `keep_events: false` keeps only the hash and count
    /// (for fast exploration).
    pub fn new(keep_events: bool) -> Trace {
        Trace {
            events: Vec::new(),
            hash: FNV_OFFSET,
            keep_events,
            count: 0,
            crashes: Vec::new(),
        }
    }

    /// Append an event.
    pub fn push(&mut self, event: Event) {
        let bytes = postcard::to_stdvec(&event).expect("trace events serialize");
        self.hash = fnv1a(self.hash, &bytes);
        self.count += 1;
        if matches!(event.kind, EventKind::Crash { .. }) {
            self.crashes.push((event.at_ms, event.host.clone()));
        }
        if self.keep_events {
            self.events.push(event);
        }
    }

    /// The events (empty when events are not kept).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Every crash pushed: simulated ms and host name.
    pub fn crashes(&self) -> &[(u64, String)] {
        &self.crashes
    }

    /// Number of events pushed.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The 64-bit hash of every event pushed so far.
    pub fn hash(&self) -> TraceHash {
        TraceHash(self.hash)
    }
}

/// A trace hash, printed as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TraceHash(pub u64);

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>8}ms {:<18} ", self.at_ms, self.host)?;
        match &self.kind {
            EventKind::Invoke { operation, what } => write!(f, "invoke {operation}: {what}"),
            EventKind::Operator { what } => write!(f, "operator: {what}"),
            EventKind::Shown(shown) => write!(f, "shows {}: {:?}", shown.operation, shown.outcome),
            EventKind::Sent { to, message } => write!(f, "send {message} -> {to}"),
            EventKind::Received { from, message } => write!(f, "recv {message} <- {from}"),
            EventKind::SendFailed { to, message } => {
                write!(f, "send FAILED {message} -> {to} (no connection)")
            }
            EventKind::Dropped { link, message } => write!(f, "DROP {message} on {link}"),
            EventKind::Duplicated {
                link,
                message,
                copies,
            } => write!(f, "DUPLICATE x{copies} {message} on {link}"),
            EventKind::Delayed {
                link,
                message,
                delay_ms,
            } => write!(f, "DELAY {delay_ms}ms {message} on {link}"),
            EventKind::Corrupted {
                link,
                message,
                offset,
            } => write!(f, "CORRUPT byte {offset} of {message} on {link}"),
            EventKind::Injected { link, message, how } => write!(f, "HOSTILE {how}: {message} on {link}"),
            EventKind::Synced { records } => write!(f, "sync ({records} records durable)"),
            EventKind::Crash { point: Some(point) } => write!(f, "CRASH at {}", point.0),
            EventKind::Crash { point: None } => write!(f, "CRASH"),
            EventKind::Boot {
                records,
                discarded_bytes,
            } => {
                write!(
                    f,
                    "boot: {records} records recovered, {discarded_bytes} bytes discarded"
                )
            }
            EventKind::Network { change } => write!(f, "network: {change}"),
            EventKind::Phase { name } => write!(f, "=== phase {name}"),
        }
    }
}

/// A one-line description of an encoded message for the trace, e.g.
/// `0200 sale STAN 000042 12.50 EUR` or `0210 STAN 000042 rc 00`.
pub fn describe_message(bytes: &[u8]) -> String {
    let Ok(message) = crate::wire::decode(bytes) else {
        return format!("undecodable message ({} bytes)", bytes.len());
    };
    let mut text = message.mti.to_string();
    if let Some(kind) = message
        .text(3)
        .and_then(|code| crate::wire::types::ProcessingCode::from_wire(code).ok())
    {
        text.push(' ');
        text.push_str(kind.name());
    }
    if let Some(terminal) = message.text(41) {
        text.push_str(&format!(" {terminal}"));
    }
    if let Some(stan) = message.text(11) {
        text.push_str(&format!(" STAN {stan}"));
    }
    if let Some(batch) = message.text(60) {
        text.push_str(&format!(" batch {batch}"));
    }
    let amount = message
        .text(4)
        .and_then(|amount| crate::wire::types::Amount::from_wire(amount).ok());
    let currency = message
        .text(49)
        .and_then(|code| crate::wire::types::Currency::from_wire(code).ok());
    if let (Some(amount), Some(currency)) = (amount, currency) {
        text.push_str(&format!(" {}", crate::wire::types::Money { amount, currency }));
    }
    if let Some(code) = message.text(39) {
        text.push_str(&format!(" rc {code}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at_ms: u64, change: &str) -> Event {
        Event {
            at_ms,
            host: "world".into(),
            kind: EventKind::Network {
                change: change.into(),
            },
        }
    }

    #[test]
    fn hash_depends_on_every_event_and_its_order() {
        let mut a = Trace::new(true);
        let mut b = Trace::new(false);
        for trace in [&mut a, &mut b] {
            trace.push(event(1, "partition"));
            trace.push(event(2, "repair"));
        }
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.len(), 2);
        assert!(b.events().is_empty());
        let mut swapped = Trace::new(true);
        swapped.push(event(2, "repair"));
        swapped.push(event(1, "partition"));
        assert_ne!(a.hash(), swapped.hash());
        let mut other = Trace::new(true);
        other.push(event(1, "partition"));
        other.push(event(3, "repair"));
        assert_ne!(a.hash(), other.hash());
    }
}
