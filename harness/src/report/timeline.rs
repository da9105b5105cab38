//! The run as a picture reads it: one lane per host, every message an
//! arrow with what the fault proxies did to it, crashes and restarts on the
//! lanes, partitions as bands across the lanes they cut, the phases, and
//! every account's balance over simulated time.
//!
//! Built once from the trace's events and the history
//! ([`Timeline::build`]); the HTML page draws it and reads nothing else.
//! Time runs down the diagram one row per event, so that messages a few
//! milliseconds apart stay legible; an idle stretch (nothing for
//! [`IDLE_MS`] or more) becomes one break row, and the balance plots share
//! the same axis so that their steps and bands line up with the diagram.

use std::collections::BTreeMap;

use super::view::{account_name, describe_outcome, format_minor};
use crate::history::{Asked, EffectType, History, Party, Posting};
use crate::sim::trace::{Event, EventKind};
use crate::wire::types::{Currency, ResponseCode, TransactionKey};

/// At most this many messages are drawn; the rest of a long run is in
/// `trace.jsonl`, and the diagram says so.
pub const MESSAGES_MAX: usize = 1500;

/// A gap with no event at least this long is drawn as one break row.
pub const IDLE_MS: u64 = 1000;

/// The host the world itself speaks as in the trace.
const WORLD: &str = "world";

/// A message summary from the trace (`0200 sale TERM0001 STAN 000001 batch
/// 000001 60.00 EUR`, `0210 sale TERM0001 STAN 000001 60.00 EUR rc 00`),
/// field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The whole summary as the trace has it.
    pub raw: String,
    /// MTI, e.g. `0200`.
    pub mti: String,
    /// The processing kind in words (`sale`, `refund`, ...).
    pub processing: Option<String>,
    /// DE41.
    pub terminal: Option<String>,
    /// DE11, six digits.
    pub stan: Option<String>,
    /// DE4 with DE49, e.g. `60.00 EUR`.
    pub amount: Option<String>,
    /// DE39.
    pub response: Option<String>,
}

impl Summary {
    /// Read a summary written by the trace; tokens it does not know are
    /// kept in `raw` only.
    pub fn parse(raw: &str) -> Summary {
        let tokens: Vec<&str> = raw.split_whitespace().collect();
        let mut summary = Summary {
            raw: raw.to_string(),
            ..Summary::default()
        };
        let Some(first) = tokens.first() else {
            return summary;
        };
        if first.len() != 4 || !first.bytes().all(|b| b.is_ascii_digit()) {
            return summary;
        }
        summary.mti = first.to_string();
        let mut index = 1;
        while index < tokens.len() {
            let token = tokens[index];
            let next = tokens.get(index + 1).copied();
            match (token, next) {
                ("STAN", Some(stan)) => {
                    summary.stan = Some(stan.to_string());
                    index += 1;
                }
                ("batch", Some(_)) => index += 1,
                ("rc", Some(code)) => {
                    summary.response = Some(code.to_string());
                    index += 1;
                }
                (number, Some(currency))
                    if number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                        && currency.len() == 3
                        && currency.bytes().all(|b| b.is_ascii_uppercase()) =>
                {
                    summary.amount = Some(format!("{number} {currency}"));
                    index += 1;
                }
                (word, _) if index == 1 && word.bytes().all(|b| b.is_ascii_lowercase()) => {
                    summary.processing = Some(word.to_string());
                }
                (word, _) if summary.terminal.is_none() && summary.stan.is_none() => {
                    summary.terminal = Some(word.to_string());
                }
                _ => {}
            }
            index += 1;
        }
        summary
    }

    /// The transaction this message belongs to, as an HTML id fragment:
    /// terminal and STAN (`TERM0001-000002`). Every message of a
    /// transaction carries both: its request, answer, reversal and the
    /// reversal's answer.
    pub fn key_id(&self) -> Option<String> {
        Some(format!("{}-{}", self.terminal.as_ref()?, self.stan.as_ref()?))
    }

    /// The label on the arrow: MTI, processing, STAN, amount, response.
    pub fn label(&self) -> String {
        if self.mti.is_empty() {
            return self.raw.clone();
        }
        let mut label = self.mti.clone();
        for part in [&self.processing, &self.stan, &self.amount].into_iter().flatten() {
            label.push(' ');
            label.push_str(part);
        }
        if let Some(code) = &self.response {
            label.push_str(" rc ");
            label.push_str(code);
        }
        label
    }

    /// The response code in words (`68 (response received too late)`).
    pub fn response_words(&self) -> Option<String> {
        let code = self.response.as_deref()?;
        Some(match ResponseCode::from_wire(code) {
            Ok(known) => format!("{code} ({})", known.description()),
            Err(_) => code.to_string(),
        })
    }

    /// Whether the message asks for an answer (0200, 0201, 0420, 0421,
    /// 0500, 0501), and the MTI of that answer.
    pub fn answer_mti(&self) -> Option<&'static str> {
        match self.mti.as_str() {
            "0200" | "0201" => Some("0210"),
            "0420" | "0421" => Some("0430"),
            "0500" | "0501" => Some("0510"),
            _ => None,
        }
    }
}

/// The HTML id fragment of a transaction key (see [`Summary::key_id`]).
pub fn key_id(key: &TransactionKey) -> String {
    format!("{}-{}", key.terminal, key.stan)
}

/// What a fault proxy did to a message on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Dropped at the proxy.
    Dropped,
    /// Sent on with extra copies.
    Duplicated {
        /// Extra copies.
        copies: u32,
    },
    /// Held back.
    Delayed {
        /// By how long.
        delay_ms: u64,
    },
    /// Bytes changed.
    Corrupted {
        /// The byte offset changed.
        offset: usize,
    },
}

impl Fate {
    /// The fate in a few words, for the arrow.
    pub fn words(&self) -> String {
        match self {
            Fate::Dropped => "dropped".to_string(),
            Fate::Duplicated { copies } => format!("duplicated x{copies}"),
            Fate::Delayed { delay_ms } => format!("delayed {delay_ms} ms"),
            Fate::Corrupted { offset } => format!("corrupted byte {offset}"),
        }
    }
}

/// One message: who sent it to whom, when, what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrow {
    /// The sender's lane (for a hostile injection: the lane of the side it
    /// pretends to come from).
    pub from: usize,
    /// The receiver's lane.
    pub to: usize,
    /// The row it was sent in.
    pub sent_row: usize,
    /// Simulated ms it was sent.
    pub sent_ms: u64,
    /// The proxy of the link it crossed, if one acted on it.
    pub proxy: Option<String>,
    /// Rows and times of every copy received.
    pub arrivals: Vec<(usize, u64)>,
    /// The message.
    pub summary: Summary,
    /// What the proxy did to it, in order.
    pub fates: Vec<Fate>,
    /// A hostile injection by the proxy, and how it was made.
    pub injected: Option<String>,
    /// The send found no connection: the message never left.
    pub send_failed: bool,
    /// A request that was received and never answered on this link.
    pub no_reply: bool,
    /// What arrived differed from what was sent (a corrupted copy).
    pub arrived_as: Option<String>,
}

impl Arrow {
    /// Whether it was dropped by a proxy.
    pub fn dropped(&self) -> bool {
        self.fates.contains(&Fate::Dropped)
    }

    /// Whether it was sent, not dropped, and never arrived.
    pub fn lost(&self) -> bool {
        self.arrivals.is_empty() && !self.dropped() && !self.send_failed
    }
}

/// What a mark on a lane says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkKind {
    /// The host crashed, at a named crash point or at a scheduled time.
    Crash {
        /// The crash point's name.
        point: Option<String>,
    },
    /// The host booted again after a crash and recovered its journal.
    Restart {
        /// Records recovered.
        records: usize,
        /// Bytes discarded (torn or unsynced tail).
        discarded_bytes: usize,
    },
    /// The workload asked a terminal to do something.
    Invoke {
        /// `op2: refund 60.00 EUR of op1`.
        what: String,
    },
    /// A terminal showed the customer a result.
    Shown {
        /// `op2: declined 91 (...)`.
        what: String,
        /// The transaction, when it has one.
        key: Option<String>,
    },
    /// An operator command at a bank.
    Operator {
        /// In words.
        what: String,
    },
    /// A partition lost a message on the connection between this lane's
    /// host and the switch, so the connection ended (its client dials again
    /// for its next message).
    ConnectionCut,
}

/// A mark on one lane at one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneMark {
    /// The lane.
    pub lane: usize,
    /// The row.
    pub row: usize,
    /// Simulated ms.
    pub at_ms: u64,
    /// What it says.
    pub kind: MarkKind,
}

/// A partition across the lanes it cuts, from one row to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// The lanes either side of the cut.
    pub lanes: (usize, usize),
    /// First row inside.
    pub from_row: usize,
    /// The row it was repaired in (or the last row).
    pub to_row: usize,
    /// Simulated ms it began.
    pub from_ms: u64,
    /// Simulated ms it ended (or the end of the run).
    pub to_ms: u64,
    /// `partition link-TERM0001<>switch`.
    pub label: String,
}

/// One row of the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Simulated ms of its event.
    pub at_ms: u64,
    /// Nothing happened for this long before it (an idle stretch drawn as
    /// a break), if at least [`IDLE_MS`].
    pub idle_before_ms: Option<u64>,
}

/// A phase of the run beginning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// `faults`, `heal`, `quiet`, `end`.
    pub name: String,
    /// Its row.
    pub row: usize,
    /// Simulated ms.
    pub at_ms: u64,
}

/// One step of an account's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Simulated ms of the posting (from the request the bank decided on).
    pub at_ms: u64,
    /// The balance after it, minor units.
    pub balance_minor: i64,
    /// The posting's change to this account, minor units.
    pub change_minor: i64,
    /// The posting in words.
    pub what: String,
    /// Its transaction, as an HTML id fragment.
    pub key: Option<String>,
}

/// One account's balance over the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceSeries {
    /// The bank.
    pub bank: String,
    /// The account in words.
    pub account: String,
    /// Its currency.
    pub currency: Currency,
    /// Opening balance, minor units.
    pub opening_minor: i64,
    /// Every change, in posting order.
    pub steps: Vec<Step>,
    /// The bank's lane (for its crashes).
    pub lane: Option<usize>,
}

impl BalanceSeries {
    /// The closing balance, minor units.
    pub fn closing_minor(&self) -> i64 {
        self.steps
            .last()
            .map_or(self.opening_minor, |step| step.balance_minor)
    }

    /// A balance in words.
    pub fn format(&self, minor: i64) -> String {
        format_minor(minor, self.currency)
    }
}

/// The whole picture of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Host names, one lane each: terminals, the switch, banks.
    pub lanes: Vec<String>,
    /// One per drawn event, in time order.
    pub rows: Vec<Row>,
    /// Every drawn message.
    pub arrows: Vec<Arrow>,
    /// Crashes, restarts, invocations, displays, operator commands.
    pub marks: Vec<LaneMark>,
    /// Partitions.
    pub bands: Vec<Band>,
    /// Phases.
    pub phases: Vec<Phase>,
    /// Messages of the run not drawn (over [`MESSAGES_MAX`]).
    pub messages_left_out: usize,
    /// Every account a posting touched, with its steps.
    pub balances: Vec<BalanceSeries>,
    /// The run's end, simulated ms.
    pub end_ms: u64,
}

/// The lane of a peer as the drivers name it (`terminal TERM0001`,
/// `switch`, `bank bank-a`).
fn peer_host(peer: &str) -> &str {
    peer.strip_prefix("terminal ")
        .or_else(|| peer.strip_prefix("bank "))
        .unwrap_or(peer)
}

/// How a hostile message was made, in words: the trace writes the
/// injection as data (`Replay { nth: 1 }`, `TamperAmount { nth: 2 }`,
/// `Forge { nth: 1 }`, `InsiderVoidAmount { nth: 1 }`); anything else is
/// kept as it is.
fn injection_words(how: &str) -> String {
    let (kind, rest) = how.split_once(' ').unwrap_or((how, ""));
    // What was done, and to which request the number counts.
    let (kind, of) = match kind {
        "Replay" => ("replay", "of request"),
        "TamperAmount" => ("amount tampered", "of request"),
        "Forge" => ("forged", "of request"),
        "InsiderOtherTerminal" => ("insider: another terminal's id on", "request"),
        "InsiderUnknownOriginal" => (
            "insider: a refund of a sale nobody made, from",
            "financial request",
        ),
        "InsiderVoidAmount" => ("insider: a void for one unit more of", "financial request"),
        _ => return how.to_string(),
    };
    let nth = rest
        .trim_matches(|c| c == '{' || c == '}' || c == ' ')
        .strip_prefix("nth: ")
        .and_then(|nth| nth.parse::<u32>().ok());
    match nth {
        Some(nth) => format!("{kind} {of} #{nth}"),
        None => kind.to_string(),
    }
}

/// The two hosts a proxy stands between: `link-X` is the link of terminal
/// or bank `X` to the switch.
fn proxy_ends(proxy: &str) -> Option<(&str, &str)> {
    Some((proxy.strip_prefix("link-")?, "switch"))
}

/// The lanes of a run, in order: terminals, the switch, banks.
fn lanes(history: &History, events: &[Event]) -> Vec<String> {
    let mut terminals: Vec<String> = history
        .operations
        .iter()
        .map(|operation| operation.terminal.to_string())
        .collect();
    let mut banks: Vec<String> = history
        .ledgers
        .iter()
        .map(|ledger| ledger.bank.to_string())
        .collect();
    let mut others = Vec::new();
    for event in events {
        let host = event.host.as_str();
        if host == WORLD || host == "switch" || host.starts_with("link-") {
            continue;
        }
        if terminals
            .iter()
            .chain(&banks)
            .chain(&others)
            .all(|known| known != host)
        {
            others.push(host.to_string());
        }
    }
    for host in others {
        if host.starts_with("TERM") {
            terminals.push(host);
        } else {
            banks.push(host);
        }
    }
    terminals.sort();
    terminals.dedup();
    banks.sort();
    banks.dedup();
    terminals
        .into_iter()
        .chain(std::iter::once("switch".to_string()))
        .chain(banks)
        .collect()
}

struct Builder<'a> {
    timeline: Timeline,
    history: &'a History,
    /// Hosts that crashed and did not boot again yet.
    down: Vec<String>,
    /// Open partitions: (label ends, band index).
    open_bands: Vec<((String, String), usize)>,
    shown_seen: usize,
    messages_seen: usize,
}

impl<'a> Builder<'a> {
    fn lane(&self, host: &str) -> Option<usize> {
        self.timeline.lanes.iter().position(|lane| lane == host)
    }

    fn row(&mut self, at_ms: u64) -> usize {
        let idle_before_ms = self
            .timeline
            .rows
            .last()
            .map(|last| at_ms.saturating_sub(last.at_ms))
            .filter(|gap| *gap >= IDLE_MS);
        self.timeline.rows.push(Row {
            at_ms,
            idle_before_ms,
        });
        self.timeline.rows.len() - 1
    }

    fn mark(&mut self, host: &str, at_ms: u64, kind: MarkKind) {
        if let Some(lane) = self.lane(host) {
            let row = self.row(at_ms);
            self.timeline.marks.push(LaneMark {
                lane,
                row,
                at_ms,
                kind,
            });
        }
    }

    /// The latest arrow between `a` and `b` (either way) carrying
    /// `message` that has not arrived yet. The latest, not the oldest: an
    /// identical earlier copy still in flight is one a partition or a
    /// wedged connection swallowed, while a proxy acts within a tick.
    fn in_flight(&self, a: usize, b: usize, message: &str) -> Option<usize> {
        self.timeline.arrows.iter().rposition(|arrow| {
            ((arrow.from == a && arrow.to == b) || (arrow.from == b && arrow.to == a))
                && arrow.summary.raw == message
                && arrow.arrivals.is_empty()
                && !arrow.dropped()
                && arrow.injected.is_none()
                && !arrow.send_failed
        })
    }

    fn proxy_event(&mut self, proxy: &str, message: &str, fate: Fate) {
        let Some((end, other)) = proxy_ends(proxy) else {
            return;
        };
        let (Some(a), Some(b)) = (self.lane(end), self.lane(other)) else {
            return;
        };
        if let Some(index) = self.in_flight(a, b, message) {
            let arrow = &mut self.timeline.arrows[index];
            arrow.proxy = Some(proxy.to_string());
            if !arrow.fates.contains(&fate) {
                arrow.fates.push(fate);
            }
        }
    }

    fn received(&mut self, host: &str, from: &str, message: &str, at_ms: u64) {
        let (Some(to), Some(from)) = (self.lane(host), self.lane(peer_host(from))) else {
            return;
        };
        let copies_allowed = |arrow: &Arrow| {
            1 + arrow
                .fates
                .iter()
                .map(|fate| match fate {
                    Fate::Duplicated { copies } => *copies as usize,
                    _ => 0,
                })
                .sum::<usize>()
        };
        let candidates =
            |arrow: &Arrow| arrow.from == from && arrow.to == to && !arrow.dropped() && !arrow.send_failed;
        // The latest matching send: retransmissions are seconds apart and
        // a delivery takes milliseconds, so an older identical copy still
        // in flight is one that was lost (or is delayed and arrives later).
        let exact = self.timeline.arrows.iter().rposition(|arrow| {
            candidates(arrow) && arrow.summary.raw == message && arrow.arrivals.len() < copies_allowed(arrow)
        });
        let corrupted = exact.is_none().then(|| {
            self.timeline.arrows.iter().rposition(|arrow| {
                candidates(arrow)
                    && arrow.arrivals.is_empty()
                    && arrow
                        .fates
                        .iter()
                        .any(|fate| matches!(fate, Fate::Corrupted { .. }))
            })
        });
        let row = self.row(at_ms);
        match exact.or(corrupted.flatten()) {
            Some(index) => {
                let arrow = &mut self.timeline.arrows[index];
                if arrow.summary.raw != message {
                    arrow.arrived_as = Some(message.to_string());
                }
                arrow.arrivals.push((row, at_ms));
            }
            // Past the cap, what arrives is the rest of a message left
            // out: its arrival is left out too.
            None if self.messages_seen >= MESSAGES_MAX => {}
            None => {
                // Nothing sent matches: a copy of unknown origin, drawn as
                // arriving from its sender's lane at once.
                self.push_arrow(from, to, row, at_ms, message, None);
                if let Some(arrow) = self.timeline.arrows.last_mut() {
                    arrow.arrivals.push((row, at_ms));
                }
            }
        }
    }

    fn push_arrow(
        &mut self,
        from: usize,
        to: usize,
        sent_row: usize,
        sent_ms: u64,
        message: &str,
        injected: Option<String>,
    ) {
        self.timeline.arrows.push(Arrow {
            from,
            to,
            sent_row,
            sent_ms,
            proxy: None,
            arrivals: Vec::new(),
            summary: Summary::parse(message),
            fates: Vec::new(),
            injected,
            send_failed: false,
            no_reply: false,
            arrived_as: None,
        });
    }

    fn network(&mut self, change: &str, at_ms: u64) {
        if let Some(ends) = change.strip_prefix("partition ") {
            let (a, b) = ends
                .split_once("<>")
                .or_else(|| ends.split_once('>'))
                .unwrap_or((ends, ends));
            let host_of = |name: &str| proxy_ends(name).map_or(name.to_string(), |(end, _)| end.to_string());
            let (a_host, b_host) = (host_of(a), host_of(b));
            let lanes = match (self.lane(&a_host), self.lane(&b_host)) {
                (Some(x), Some(y)) if x != y => (x.min(y), x.max(y)),
                (Some(x), _) | (_, Some(x)) => match self.lane("switch") {
                    Some(switch) => (x.min(switch), x.max(switch)),
                    None => (x, x),
                },
                (None, None) => return,
            };
            let row = self.row(at_ms);
            self.timeline.bands.push(Band {
                lanes,
                from_row: row,
                to_row: row,
                from_ms: at_ms,
                to_ms: at_ms,
                label: change.to_string(),
            });
            let index = self.timeline.bands.len() - 1;
            self.open_bands.push(((a.to_string(), b.to_string()), index));
        } else if let Some(proxy) = change.strip_prefix("hangup ") {
            if let Some((client, _)) = proxy_ends(proxy) {
                let client = client.to_string();
                self.mark(&client, at_ms, MarkKind::ConnectionCut);
            }
        } else if let Some(ends) = change.strip_prefix("repair ") {
            let (a, b) = ends.split_once("<>").unwrap_or((ends, ends));
            let row = self.row(at_ms);
            self.open_bands.retain(|((x, y), index)| {
                let same = (x == a && y == b) || (x == b && y == a);
                if same {
                    let band = &mut self.timeline.bands[*index];
                    band.to_row = row;
                    band.to_ms = at_ms;
                }
                !same
            });
        }
    }

    fn event(&mut self, event: &Event) {
        let at_ms = event.at_ms;
        let host = event.host.as_str();
        match &event.kind {
            EventKind::Sent { to, message } | EventKind::SendFailed { to, message } => {
                self.messages_seen += 1;
                let (Some(from), Some(to)) = (self.lane(host), self.lane(peer_host(to))) else {
                    return;
                };
                let row = self.row(at_ms);
                self.push_arrow(from, to, row, at_ms, message, None);
                if matches!(event.kind, EventKind::SendFailed { .. }) {
                    if let Some(arrow) = self.timeline.arrows.last_mut() {
                        arrow.send_failed = true;
                    }
                }
            }
            EventKind::Received { from, message } => self.received(host, from, message, at_ms),
            EventKind::Dropped { link, message } => self.proxy_event(link, message, Fate::Dropped),
            EventKind::Duplicated {
                link,
                message,
                copies,
            } => self.proxy_event(link, message, Fate::Duplicated { copies: *copies }),
            EventKind::Delayed {
                link,
                message,
                delay_ms,
            } => self.proxy_event(link, message, Fate::Delayed { delay_ms: *delay_ms }),
            EventKind::Corrupted {
                link,
                message,
                offset,
            } => self.proxy_event(link, message, Fate::Corrupted { offset: *offset }),
            EventKind::Injected { link, message, how } => {
                self.messages_seen += 1;
                // Toward the link's server: the switch for a terminal's
                // link, the bank for a bank's; as if from the other end.
                let Some((end, switch)) = proxy_ends(link) else {
                    return;
                };
                let end_is_terminal = self
                    .history
                    .operations
                    .iter()
                    .any(|op| op.terminal.to_string() == end)
                    || end.starts_with("TERM");
                let (from_host, to_host) = if end_is_terminal {
                    (end, switch)
                } else {
                    (switch, end)
                };
                if let (Some(from), Some(to)) = (self.lane(from_host), self.lane(to_host)) {
                    let row = self.row(at_ms);
                    self.push_arrow(from, to, row, at_ms, message, Some(injection_words(how)));
                    if let Some(arrow) = self.timeline.arrows.last_mut() {
                        arrow.proxy = Some(link.clone());
                    }
                }
            }
            EventKind::Crash { point } => {
                self.down.push(host.to_string());
                let point = point.map(|point| point.0.to_string());
                self.mark(host, at_ms, MarkKind::Crash { point });
            }
            EventKind::Boot {
                records,
                discarded_bytes,
            } => {
                if let Some(index) = self.down.iter().position(|down| down == host) {
                    self.down.remove(index);
                    let kind = MarkKind::Restart {
                        records: *records,
                        discarded_bytes: *discarded_bytes,
                    };
                    self.mark(host, at_ms, kind);
                }
            }
            EventKind::Invoke { operation, what } => {
                let what = format!("{operation}: {what}");
                self.mark(host, at_ms, MarkKind::Invoke { what });
            }
            EventKind::Shown(shown) => {
                let seen = self.history.shown.get(self.shown_seen);
                self.shown_seen += 1;
                let what = match seen {
                    Some(seen) if seen.shown.operation.0 == shown.operation.0 => {
                        format!("{}: {}", shown.operation, describe_outcome(&seen.shown.outcome))
                    }
                    _ => format!("{}: {:?}", shown.operation, shown.outcome),
                };
                let key = shown.key.as_ref().map(key_id);
                self.mark(host, at_ms, MarkKind::Shown { what, key });
            }
            EventKind::Operator { what } => {
                self.mark(host, at_ms, MarkKind::Operator { what: what.clone() });
            }
            EventKind::Network { change } => self.network(change, at_ms),
            EventKind::Phase { name } => {
                let row = self.row(at_ms);
                self.timeline.phases.push(Phase {
                    name: name.clone(),
                    row,
                    at_ms,
                });
            }
            EventKind::Synced { .. } => {}
        }
    }

    /// Mark every request that arrived and was never answered back on its
    /// link (the bank that crashed after posting, the switch that never
    /// heard back).
    fn mark_unanswered(&mut self) {
        let answered: Vec<bool> = self
            .timeline
            .arrows
            .iter()
            .map(|request| {
                let Some(answer_mti) = request.summary.answer_mti() else {
                    return true;
                };
                if request.arrivals.is_empty() || request.injected.is_some() {
                    return true;
                }
                let key = request.summary.key_id();
                self.timeline.arrows.iter().any(|answer| {
                    answer.from == request.to
                        && answer.to == request.from
                        && answer.summary.mti == answer_mti
                        && answer.summary.key_id() == key
                        && answer.sent_ms >= request.arrivals[0].1
                })
            })
            .collect();
        for (arrow, answered) in self.timeline.arrows.iter_mut().zip(answered) {
            arrow.no_reply = !answered;
        }
    }
}

impl Timeline {
    /// The picture of a run from its trace events and history.
    pub fn build(history: &History, events: &[Event]) -> Timeline {
        let mut builder = Builder {
            timeline: Timeline {
                lanes: lanes(history, events),
                end_ms: events.last().map_or(0, |event| event.at_ms),
                ..Timeline::default()
            },
            history,
            down: Vec::new(),
            open_bands: Vec::new(),
            shown_seen: 0,
            messages_seen: 0,
        };
        for event in events {
            if builder.messages_seen >= MESSAGES_MAX
                && matches!(
                    event.kind,
                    EventKind::Sent { .. } | EventKind::SendFailed { .. } | EventKind::Injected { .. }
                )
            {
                builder.timeline.messages_left_out += 1;
                continue;
            }
            if builder.messages_seen >= MESSAGES_MAX && !matches!(event.kind, EventKind::Received { .. }) {
                continue;
            }
            builder.event(event);
        }
        let last_row = builder.timeline.rows.len().saturating_sub(1);
        let end_ms = builder.timeline.end_ms;
        for (_, index) in std::mem::take(&mut builder.open_bands) {
            let band = &mut builder.timeline.bands[index];
            band.to_row = last_row;
            band.to_ms = end_ms;
        }
        builder.mark_unanswered();
        let mut timeline = builder.timeline;
        timeline.balances = balances(history, &timeline.lanes);
        timeline
    }

    /// Every arrow and mark of transaction `key` (an HTML id fragment).
    pub fn arrows_of<'t>(&'t self, key: &'t str) -> impl Iterator<Item = &'t Arrow> + 't {
        self.arrows
            .iter()
            .filter(move |arrow| arrow.summary.key_id().as_deref() == Some(key))
    }

    /// Crash and restart marks, with their lanes.
    pub fn crashes(&self) -> impl Iterator<Item = &LaneMark> {
        self.marks
            .iter()
            .filter(|mark| matches!(mark.kind, MarkKind::Crash { .. } | MarkKind::Restart { .. }))
    }

    /// The row at or after simulated `at_ms` (the last row when none).
    pub fn row_at(&self, at_ms: u64) -> usize {
        self.rows
            .iter()
            .position(|row| row.at_ms >= at_ms)
            .unwrap_or(self.rows.len().saturating_sub(1))
    }
}

/// When the bank made `posting`: the arrival of the request it decided on,
/// from the history's requests. Sales, refunds and voids carry the bank's
/// clock, matched exactly; reversals and settlements take the first
/// matching request after the previous posting's.
fn posting_time(history: &History, bank: &str, posting: &Posting, after: usize) -> Option<usize> {
    let at_bank =
        |index: &usize| matches!(&history.requests[*index].receiver, Party::Bank(id) if id.0 == bank);
    let matches = |index: &usize| {
        let request = &history.requests[*index];
        match (&request.asked, posting.effect) {
            (Asked::Financial(_), EffectType::Sale | EffectType::Refund | EffectType::Void) => {
                Some(&request.key) == posting.key.as_ref()
                    && posting.at_ms.is_none_or(|clock| clock == request.clock_ms)
            }
            (Asked::Reversal(_), EffectType::Reversal) => Some(&request.key) == posting.key.as_ref(),
            (Asked::Close(close), EffectType::Settlement) => posting
                .batch
                .as_ref()
                .is_some_and(|(terminal, batch)| *terminal == request.key.terminal && *batch == close.batch),
            _ => false,
        }
    };
    (0..history.requests.len())
        .filter(at_bank)
        .filter(matches)
        .find(|index| *index >= after)
        .or_else(|| (0..history.requests.len()).filter(at_bank).find(matches))
}

fn effect_words(effect: EffectType) -> &'static str {
    match effect {
        EffectType::Sale => "sale",
        EffectType::Refund => "refund",
        EffectType::Void => "void",
        EffectType::Reversal => "reversal",
        EffectType::Settlement => "settlement",
    }
}

/// Every account a posting touched, with its balance after each posting.
fn balances(history: &History, lanes: &[String]) -> Vec<BalanceSeries> {
    let mut series = Vec::new();
    for ledger in &history.ledgers {
        let bank = ledger.bank.to_string();
        let mut by_account: BTreeMap<_, BalanceSeries> = BTreeMap::new();
        let mut after = 0;
        let mut last_ms = 0;
        for posting in &ledger.postings {
            let at_ms = match posting_time(history, &bank, posting, after) {
                Some(index) => {
                    after = index;
                    history.requests[index].at_ms
                }
                None => last_ms,
            };
            last_ms = at_ms;
            for entry in &posting.entries {
                let account = by_account.entry(entry.account.clone()).or_insert_with(|| {
                    let opening = ledger.opening.get(&entry.account).map_or(0, |(minor, _)| *minor);
                    BalanceSeries {
                        bank: bank.clone(),
                        account: account_name(&entry.account),
                        currency: entry.currency,
                        opening_minor: opening,
                        steps: Vec::new(),
                        lane: lanes.iter().position(|lane| *lane == bank),
                    }
                });
                let balance_minor = account.closing_minor() + entry.minor;
                let mut what = effect_words(posting.effect).to_string();
                if let Some(key) = &posting.key {
                    what.push_str(&format!(" {key}"));
                }
                if let Some((terminal, batch)) = &posting.batch {
                    what.push_str(&format!(" batch {terminal}/{batch}"));
                }
                account.steps.push(Step {
                    at_ms,
                    balance_minor,
                    change_minor: entry.minor,
                    what,
                    key: posting.key.as_ref().map(key_id),
                });
            }
        }
        // An account whose postings moved nothing (a settlement of an
        // empty batch) has no story to plot.
        series.extend(
            by_account
                .into_values()
                .filter(|account| account.steps.iter().any(|step| step.change_minor != 0)),
        );
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_injection_is_named_in_words() {
        assert_eq!(injection_words("Replay { nth: 1 }"), "replay of request #1");
        assert_eq!(
            injection_words("TamperAmount { nth: 2 }"),
            "amount tampered of request #2"
        );
        assert_eq!(injection_words("Forge { nth: 3 }"), "forged of request #3");
        assert_eq!(injection_words("Forge"), "forged");
        assert_eq!(injection_words("something new"), "something new");
        assert_eq!(
            injection_words("InsiderVoidAmount { nth: 2 }"),
            "insider: a void for one unit more of financial request #2"
        );
        assert_eq!(
            injection_words("InsiderOtherTerminal { nth: 1 }"),
            "insider: another terminal's id on request #1"
        );
    }

    #[test]
    fn a_summary_reads_back_field_by_field() {
        let request = Summary::parse("0200 refund TERM0001 STAN 000002 batch 000001 60.00 EUR");
        assert_eq!(request.mti, "0200");
        assert_eq!(request.processing.as_deref(), Some("refund"));
        assert_eq!(request.terminal.as_deref(), Some("TERM0001"));
        assert_eq!(request.stan.as_deref(), Some("000002"));
        assert_eq!(request.amount.as_deref(), Some("60.00 EUR"));
        assert_eq!(request.response, None);
        assert_eq!(request.key_id().as_deref(), Some("TERM0001-000002"));
        assert_eq!(request.answer_mti(), Some("0210"));
        assert_eq!(request.label(), "0200 refund 000002 60.00 EUR");
        let answer = Summary::parse("0430 TERM0001 STAN 000002 1500 JPY rc 00");
        assert_eq!(answer.processing, None);
        assert_eq!(answer.terminal.as_deref(), Some("TERM0001"));
        assert_eq!(answer.amount.as_deref(), Some("1500 JPY"));
        assert_eq!(answer.response.as_deref(), Some("00"));
        assert_eq!(answer.answer_mti(), None);
        let garbage = Summary::parse("undecodable message (140 bytes)");
        assert_eq!(garbage.mti, "");
        assert_eq!(garbage.key_id(), None);
        assert_eq!(garbage.label(), "undecodable message (140 bytes)");
    }
}
