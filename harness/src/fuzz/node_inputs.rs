//! Each node on its own, fed structured input: the `node_inputs` target.
//!
//! A [`Case`] is a sequence of steps for one node kind (bank, switch or
//! terminal): requests and answers built from the node's own sends, copies
//! and repeats of earlier messages, damaged bytes, out-of-order answers,
//! timers fired, operator commands, time passing, and crashes (between
//! inputs or at one of the node's crash points) with recovery from the
//! node's own journal, encoded and decoded as a disk would hold it. A
//! [`Driver`] executes the node's effects the way the simulation's host
//! does (appends are lost unless synced, a crash cuts the effects at the
//! crash point), and after every step the node's local contract of
//! `docs/nodes.md` is judged from what it sent, showed and posted:
//!
//! - every message it sends verifies with the key of its link and decodes;
//! - nothing is sent or shown while a record it appended is not synced;
//! - a damaged message changes nothing (no journal record, nothing
//!   forwarded);
//! - a request is answered the same way every time (DE39 and DE38), across
//!   copies, repeats and reboots;
//! - the bank: every posting sums to zero per currency, the ledger's total
//!   per currency never changes, nothing is posted twice for one key and
//!   reason, a declined key has no posting, refunds and voids of a sale stay
//!   within it, a reversal of an unknown key keeps its late original out, a
//!   settled batch is settled once and its sales are not voided, an expired
//!   card is not charged;
//! - the switch: a request is forwarded to its bank at most once;
//! - the terminal: a transaction key is never reused for another request,
//!   each operation is shown once, a shown approval or decline is the
//!   answer it received, and a reversal is retried until it is
//!   acknowledged;
//! - a node booted again from its journal (when nothing is unsynced) has
//!   the same durable state as the running one.
//!
//! The judgement uses only what the node emitted and the state it exposes
//! (ledger, stored answers, queues); it never asks node code what is right.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use arbitrary::Arbitrary;

use crate::node::bank::{Bank, BankCommand, BankConfig, CardState, MerchantState, PostingKind};
use crate::node::journal::{decode_journal, encode_record, Tail};
use crate::node::switch::{Switch, SwitchConfig};
use crate::node::terminal::{Card, Terminal, TerminalCommand, TerminalConfig};
use crate::node::{BankId, Bugs, Calendar, Effect, Millis, OperationId, Outcome, Peer, Shown, StateMachine};
use crate::plan::topology::{key_for, standard_bank, terminal_config, Topology};
use crate::wire::typed::{
    BatchClose, BatchCloseResponse, BatchTotals, BatchUploadResponse, FinancialRequest, FinancialResponse,
    NetworkRequest, NetworkResponse, OriginalData, ReversalAdvice, ReversalResponse, Trace, WireMessage,
};
use crate::wire::types::{
    ApprovalCode, BatchNumber, Currency, Expiry, InstitutionId, MerchantId, Money, Pan, ProcessingCode,
    ResponseCode, Rrn, Stan, TerminalId, TransactionKey, TransmissionTime,
};
use crate::wire::{sign, verify, MacKey, Mti};

/// The most steps a case runs (longer inputs are cut here).
pub const MAX_STEPS: usize = 48;

/// One fuzz case: a node kind and what happens to it.
#[derive(Debug, Clone)]
pub enum Case {
    /// The bank, fed by a switch.
    Bank(Vec<BankStep>),
    /// The switch, between two terminals and a bank.
    Switch(Vec<SwitchStep>),
    /// A terminal, with a clerk and a switch.
    Terminal(Vec<TerminalStep>),
}

/// The first byte picks the node; every later byte goes to the steps, one
/// after another until the input ends (or [`MAX_STEPS`]), so a longer input
/// is a longer story rather than a rarer one.
impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Case> {
        fn steps<'a, T: Arbitrary<'a>>(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Vec<T>> {
            let mut steps = Vec::new();
            while !u.is_empty() && steps.len() < MAX_STEPS {
                steps.push(T::arbitrary(u)?);
            }
            Ok(steps)
        }
        Ok(match u8::arbitrary(u)? % 3 {
            0 => Case::Bank(steps(u)?),
            1 => Case::Switch(steps(u)?),
            _ => Case::Terminal(steps(u)?),
        })
    }
}

/// How a message reaches the node.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// What happens to its bytes on the way.
    pub damage: Damage,
    /// Crash the node at its n-th crash point while it handles the message.
    pub crash_at: Option<u8>,
}

/// Most messages arrive intact and the node survives them: a story in which
/// three of four messages are damaged rarely gets a sale approved, and so
/// never reaches the refunds, voids and settlements that follow one. One
/// byte decides: about five in eight arrive clean, one in five crashes the
/// node at one of its crash points, one in five is damaged.
impl<'a> Arbitrary<'a> for Delivery {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Delivery> {
        let clean = Delivery {
            damage: Damage::None,
            crash_at: None,
        };
        Ok(match u8::arbitrary(u)? {
            0..=159 => clean,
            160..=207 => Delivery {
                crash_at: Some(u8::arbitrary(u)? % 8),
                ..clean
            },
            _ => Delivery {
                damage: match u8::arbitrary(u)? % 3 {
                    0 => Damage::Flip {
                        at: u16::arbitrary(u)?,
                        with: u8::arbitrary(u)?,
                    },
                    1 => Damage::Truncate(u16::arbitrary(u)?),
                    _ => Damage::WrongKey,
                },
                ..clean
            },
        })
    }
}

/// Damage to a message's bytes.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Damage {
    /// Intact.
    None,
    /// One byte changed.
    Flip {
        /// Which byte (modulo the length).
        at: u16,
        /// XORed into it (0 counts as 1).
        with: u8,
    },
    /// Cut to this many bytes (modulo the length).
    Truncate(u16),
    /// Signed with the wrong key.
    WrongKey,
}

/// A step of a bank case.
#[derive(Debug, Clone, Arbitrary)]
pub enum BankStep {
    /// A sale from one of two terminals.
    Sale {
        /// Which terminal (and so which merchant).
        terminal: bool,
        /// Which card.
        card: u8,
        /// Which amount.
        amount: u8,
        /// How it arrives.
        via: Delivery,
    },
    /// A refund naming an earlier request.
    Refund {
        /// Which earlier request (modulo the count).
        of: u8,
        /// Which amount.
        amount: u8,
        /// How it arrives.
        via: Delivery,
    },
    /// A void naming an earlier request.
    Void {
        /// Which earlier request.
        of: u8,
        /// How it arrives.
        via: Delivery,
    },
    /// A balance inquiry.
    Balance {
        /// Which terminal.
        terminal: bool,
        /// Which card.
        card: u8,
        /// How it arrives.
        via: Delivery,
    },
    /// A reversal of an earlier request, or of a key the bank never saw.
    Reversal {
        /// Which earlier request (past the end: an unknown key, whose
        /// request may come later).
        of: u8,
        /// 0421 rather than 0420.
        repeat: bool,
        /// How it arrives.
        via: Delivery,
    },
    /// A request that was reversed unseen arrives late.
    LateOriginal {
        /// Which unseen key.
        of: u8,
        /// How it arrives.
        via: Delivery,
    },
    /// A settlement of a terminal's open batch.
    Settle {
        /// Which terminal.
        terminal: bool,
        /// The totals of the bank's own approvals, or these wrong ones.
        wrong: Option<u8>,
        /// How it arrives.
        via: Delivery,
    },
    /// A copy of an earlier message.
    Copy {
        /// Which earlier message.
        of: u8,
        /// Marked as a repeat (0201, 0421, 0501).
        repeat: bool,
        /// How it arrives.
        via: Delivery,
    },
    /// The terminal's next batch opens.
    NextBatch {
        /// Which terminal.
        terminal: bool,
    },
    /// An operator command.
    Command {
        /// Which command.
        which: u8,
        /// Which card or merchant.
        target: u8,
    },
    /// Time passes; due timers fire.
    Wait {
        /// Tens of milliseconds.
        ms10: u16,
    },
    /// The host crashes and reboots.
    Crash,
}

/// A step of a switch case.
#[derive(Debug, Clone, Arbitrary)]
pub enum SwitchStep {
    /// A terminal sends a financial request.
    Request {
        /// Which terminal.
        terminal: bool,
        /// Sale, refund, void or balance.
        processing: u8,
        /// Which card.
        card: u8,
        /// Which amount.
        amount: u8,
        /// The original a refund or void names.
        of: u8,
        /// How it arrives.
        via: Delivery,
    },
    /// A terminal reverses one of its requests.
    Reversal {
        /// Which earlier request.
        of: u8,
        /// 0421 rather than 0420.
        repeat: bool,
        /// How it arrives.
        via: Delivery,
    },
    /// A terminal closes its batch.
    Close {
        /// Which terminal.
        terminal: bool,
        /// Totals of what the switch approved, or these wrong ones.
        wrong: Option<u8>,
        /// How it arrives.
        via: Delivery,
    },
    /// A terminal sends an echo test.
    Echo {
        /// Which terminal.
        terminal: bool,
        /// How it arrives.
        via: Delivery,
    },
    /// A terminal sends a copy of an earlier message.
    Copy {
        /// Which earlier message.
        of: u8,
        /// Marked as a repeat.
        repeat: bool,
        /// How it arrives.
        via: Delivery,
    },
    /// The bank answers something the switch sent it (out of order: any
    /// of them, more than once).
    BankAnswer {
        /// Which message the switch sent the bank.
        of: u8,
        /// The answer's code.
        code: u8,
        /// How it arrives.
        via: Delivery,
    },
    /// Time passes; due timers fire.
    Wait {
        /// Tens of milliseconds.
        ms10: u16,
    },
    /// The host crashes and reboots.
    Crash,
}

/// A step of a terminal case.
#[derive(Debug, Clone, Arbitrary)]
pub enum TerminalStep {
    /// The clerk starts a sale.
    Sale {
        /// Which card.
        card: u8,
        /// Which amount.
        amount: u8,
    },
    /// The clerk refunds an earlier operation.
    Refund {
        /// Which operation.
        of: u8,
        /// Which amount.
        amount: u8,
    },
    /// The clerk voids an earlier operation.
    Void {
        /// Which operation.
        of: u8,
    },
    /// The clerk asks for a balance.
    Balance {
        /// Which card.
        card: u8,
    },
    /// The clerk closes the batch.
    Close,
    /// The switch answers something the terminal sent (the latest when
    /// `of` is 0, else an earlier one: late and repeated answers).
    Answer {
        /// How far back.
        of: u8,
        /// The answer's code.
        code: u8,
        /// How it arrives.
        via: Delivery,
    },
    /// Time passes; due timers fire.
    Wait {
        /// Tens of milliseconds.
        ms10: u16,
    },
    /// The host crashes and reboots.
    Crash,
}

/// A broken contract: which node, which step, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The node kind.
    pub node: &'static str,
    /// The step (0-based) after which it was seen.
    pub step: usize,
    /// What is wrong, in words.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} after step {}: {}", self.node, self.step, self.what)
    }
}

/// Run `case` against nodes with `bugs` on; the first broken contract.
pub fn check(case: &Case, bugs: &Bugs) -> Result<(), Violation> {
    match case {
        Case::Bank(steps) => BankCase::new(bugs).run(steps),
        Case::Switch(steps) => SwitchCase::new(bugs).run(steps),
        Case::Terminal(steps) => TerminalCase::new(bugs).run(steps),
    }
}

// ---------------------------------------------------------------------------
// The driver: a node's effects executed as a host would.

/// What one input made the node do.
#[derive(Debug, Default)]
struct Step {
    sent: Vec<(Peer, Vec<u8>)>,
    shown: Vec<Shown>,
    appended: usize,
    /// The input was a damaged copy: an answer to it may echo the damage
    /// (and so not decode); it must change nothing.
    damaged: bool,
}

/// A node and its host: journal (synced and not), timers, clock.
struct Driver<N: StateMachine> {
    config: N::Config,
    node: N,
    synced: Vec<N::Record>,
    unsynced: Vec<N::Record>,
    timers: BTreeMap<N::Timer, Millis>,
    now: Millis,
    boots: u32,
    problems: Vec<String>,
}

impl<N: StateMachine> Driver<N>
where
    N::Config: Clone,
{
    fn new(config: N::Config) -> (Driver<N>, Step) {
        let node = N::boot(config.clone(), Vec::new());
        let mut driver = Driver {
            config,
            node,
            synced: Vec::new(),
            unsynced: Vec::new(),
            timers: BTreeMap::new(),
            now: Millis(1_000),
            boots: 0,
            problems: Vec::new(),
        };
        let effects = driver.node.start(driver.now);
        let step = driver.execute(effects, None);
        (driver, step)
    }

    /// Execute `effects` in order; crash at the `crash_at`-th crash point.
    fn execute(&mut self, effects: Vec<Effect<N::Record, N::Timer>>, crash_at: Option<u8>) -> Step {
        let mut step = Step::default();
        let mut points = 0u8;
        for effect in effects {
            match effect {
                Effect::Append(record) => {
                    self.unsynced.push(record);
                    step.appended += 1;
                }
                Effect::Sync => self.synced.append(&mut self.unsynced),
                Effect::Send { to, bytes } => {
                    if !self.unsynced.is_empty() {
                        self.problems.push(format!(
                            "sent a message to {to} while {} journal record(s) were not synced",
                            self.unsynced.len()
                        ));
                    }
                    step.sent.push((to, bytes));
                }
                Effect::SetTimer { timer, at } => {
                    self.timers.insert(timer, at);
                }
                Effect::CancelTimer(timer) => {
                    self.timers.remove(&timer);
                }
                Effect::Show(shown) => {
                    if !self.unsynced.is_empty() {
                        self.problems.push(format!(
                            "showed {:?} for {} while {} journal record(s) were not synced",
                            shown.outcome,
                            shown.operation,
                            self.unsynced.len()
                        ));
                    }
                    step.shown.push(shown);
                }
                Effect::CrashPoint(_) => {
                    if crash_at == Some(points) {
                        let after = self.reboot();
                        step.sent.extend(after.sent);
                        step.shown.extend(after.shown);
                        return step;
                    }
                    points = points.saturating_add(1);
                }
            }
        }
        step
    }

    /// The journal as the disk holds it, read back.
    fn recovered(&mut self) -> Vec<N::Record> {
        let bytes: Vec<u8> = self.synced.iter().flat_map(encode_record).collect();
        let recovered = decode_journal::<N::Record>(&bytes);
        if recovered.tail != Tail::Clean || recovered.records.len() != self.synced.len() {
            self.problems.push(format!(
                "its journal of {} records read back as {} ({:?})",
                self.synced.len(),
                recovered.records.len(),
                recovered.tail
            ));
        }
        recovered.records
    }

    /// Crash: what was not synced is lost, timers are gone; boot from the
    /// journal and start.
    fn reboot(&mut self) -> Step {
        self.unsynced.clear();
        self.timers.clear();
        let records = self.recovered();
        self.node = N::boot(self.config.clone(), records);
        self.boots += 1;
        let effects = self.node.start(self.now);
        self.execute(effects, None)
    }

    /// A node booted from the journal as it stands, beside the running one.
    fn twin(&mut self) -> N {
        let records = self.recovered();
        N::boot(self.config.clone(), records)
    }

    fn message(&mut self, from: &Peer, bytes: &[u8], crash_at: Option<u8>) -> Step {
        let effects = self.node.on_message(self.now, from, bytes);
        self.execute(effects, crash_at)
    }

    fn command(&mut self, command: N::Command) -> Step {
        let effects = self.node.on_command(self.now, command);
        self.execute(effects, None)
    }

    /// Let `ms` pass, firing every timer that falls due on the way.
    fn wait(&mut self, ms: u64) -> Step {
        let until = self.now.plus(ms);
        let mut step = Step::default();
        let mut fired = 0;
        while let Some((timer, at)) = self.next_timer() {
            if at > until || fired >= 64 {
                break;
            }
            fired += 1;
            self.timers.remove(&timer);
            self.now = self.now.max(at);
            let effects = self.node.on_timer(self.now, timer);
            let more = self.execute(effects, None);
            step.sent.extend(more.sent);
            step.shown.extend(more.shown);
            step.appended += more.appended;
        }
        self.now = self.now.max(until);
        step
    }

    fn next_timer(&self) -> Option<(N::Timer, Millis)> {
        self.timers
            .iter()
            .min_by_key(|(timer, at)| (**at, (*timer).clone()))
            .map(|(timer, at)| (timer.clone(), *at))
    }

    fn take_problem(&mut self) -> Option<String> {
        if self.problems.is_empty() {
            None
        } else {
            Some(self.problems.remove(0))
        }
    }
}

/// The bytes of `message` signed with `key`, then damaged.
fn deliver_bytes(message: &WireMessage, key: &MacKey, damage: Damage) -> (Vec<u8>, bool) {
    let wrong = MacKey(*b"not-the-link-key");
    let mut raw = message.to_message();
    let signing = if matches!(damage, Damage::WrongKey) {
        &wrong
    } else {
        key
    };
    let Ok(bytes) = sign(&mut raw, signing) else {
        return (Vec::new(), true);
    };
    let mut damaged = bytes.clone();
    match damage {
        Damage::None | Damage::WrongKey => {}
        Damage::Flip { at, with } => {
            if !damaged.is_empty() {
                let at = usize::from(at) % damaged.len();
                damaged[at] ^= with.max(1);
            }
        }
        Damage::Truncate(to) => {
            let to = usize::from(to) % damaged.len().max(1);
            damaged.truncate(to);
        }
    }
    let intact = damaged == bytes && !matches!(damage, Damage::WrongKey);
    (damaged, !intact)
}

/// Decode what a node sent with the key it should have used.
fn read_sent(to: &Peer, bytes: &[u8], key: &MacKey) -> Result<WireMessage, String> {
    let message =
        verify(bytes, key).map_err(|error| format!("sent {to} a message that does not verify: {error}"))?;
    WireMessage::from_message(&message)
        .map_err(|error| format!("sent {to} a message that does not decode: {error}"))
}

/// The key a message is about (its own, or its original's for a reversal).
fn key_of(message: &WireMessage) -> Option<TransactionKey> {
    match message {
        WireMessage::FinancialRequest(m) => Some(m.trace.key()),
        WireMessage::FinancialResponse(m) => Some(m.trace.key()),
        WireMessage::ReversalAdvice(m) => Some(m.trace.key()),
        WireMessage::ReversalResponse(m) => Some(m.trace.key()),
        WireMessage::BatchClose(m) => Some(m.trace.key()),
        WireMessage::BatchCloseResponse(m) => Some(m.trace.key()),
        WireMessage::BatchUpload(m) => Some(m.trace.key()),
        WireMessage::BatchUploadResponse(m) => Some(m.trace.key()),
        WireMessage::NetworkRequest(_) | WireMessage::NetworkResponse(_) => None,
    }
}

/// A message marked as a repeat (0201, 0421, 0501), others unchanged.
fn as_repeat(message: &WireMessage) -> WireMessage {
    let mut message = message.clone();
    match &mut message {
        WireMessage::FinancialRequest(m) => m.repeat = true,
        WireMessage::ReversalAdvice(m) => m.repeat = true,
        WireMessage::BatchClose(m) => m.repeat = true,
        _ => {}
    }
    message
}

const CODES: [ResponseCode; 8] = [
    ResponseCode::Approved,
    ResponseCode::Approved,
    ResponseCode::Approved,
    ResponseCode::InsufficientFunds,
    ResponseCode::InvalidTransaction,
    ResponseCode::IssuerUnavailable,
    ResponseCode::SystemMalfunction,
    ResponseCode::ReconcileError,
];

fn approval(key: &TransactionKey) -> ApprovalCode {
    let text = format!("A{:05}", key.stan.value() % 100_000);
    ApprovalCode::new(&text).expect("six alphanumerics")
}

/// The answer a peer would give to `request` with `code`.
fn answer_to(request: &WireMessage, code: ResponseCode) -> Option<WireMessage> {
    let approved = code == ResponseCode::Approved;
    Some(match request {
        WireMessage::FinancialRequest(r) => {
            let code = if code == ResponseCode::ReconcileError {
                ResponseCode::Approved
            } else {
                code
            };
            let approved = code == ResponseCode::Approved;
            WireMessage::FinancialResponse(FinancialResponse {
                processing: r.processing,
                amount: r.amount,
                trace: r.trace.clone(),
                rrn: r.rrn.clone(),
                response: code,
                approval: approved.then(|| approval(&r.trace.key())),
                balance: (approved && r.processing == ProcessingCode::Balance)
                    .then(|| Money::new(12_34, r.amount.currency).expect("small amount")),
            })
        }
        WireMessage::ReversalAdvice(r) => WireMessage::ReversalResponse(ReversalResponse {
            trace: r.trace.clone(),
            rrn: r.rrn.clone(),
            amount: r.amount,
            response: if approved { code } else { ResponseCode::Approved },
        }),
        WireMessage::BatchClose(r) => WireMessage::BatchCloseResponse(BatchCloseResponse {
            trace: r.trace.clone(),
            batch: r.batch,
            response: if approved || code == ResponseCode::ReconcileError {
                code
            } else {
                ResponseCode::Approved
            },
        }),
        WireMessage::BatchUpload(r) => WireMessage::BatchUploadResponse(BatchUploadResponse {
            trace: r.trace.clone(),
            batch: r.batch,
            item: r.item,
            response: ResponseCode::Approved,
        }),
        WireMessage::NetworkRequest(r) => WireMessage::NetworkResponse(NetworkResponse {
            code: r.code,
            stan: r.stan,
            transmitted: r.transmitted,
            response: ResponseCode::Approved,
        }),
        _ => return None,
    })
}

/// The answers a node gave, per (response MTI, key). An approval must stay
/// the same approval (a repeat answered otherwise tells the customer a
/// story the ledger does not), and a definitive decline must not turn into
/// an approval. An answer that decided nothing (91, 96: nobody reached; 68:
/// too late; 95: the totals disagree, nothing was paid; a refusal the case
/// knows to be for now only) may be followed by anything, and one decline
/// by another.
#[derive(Default)]
struct AnswerBook {
    answers: BTreeMap<(u16, TransactionKey), Answer>,
}

#[derive(Clone, PartialEq)]
struct Answer {
    code: ResponseCode,
    approval: Option<ApprovalCode>,
    /// Whether it decided the request (a later approval contradicts it).
    decided: bool,
}

fn transient(code: ResponseCode) -> bool {
    matches!(
        code,
        ResponseCode::IssuerUnavailable
            | ResponseCode::SystemMalfunction
            | ResponseCode::ResponseTooLate
            | ResponseCode::ReconcileError
    )
}

impl AnswerBook {
    /// Record `message` (an answer); an answer to the same request before
    /// that this one contradicts is a broken contract. `for_now`: the case
    /// knows this answer decides nothing yet, whatever its code.
    fn record(&mut self, message: &WireMessage, for_now: bool) -> Result<(), String> {
        let (mti, key, code, approval) = match message {
            WireMessage::FinancialResponse(m) => (210, m.trace.key(), m.response, m.approval.clone()),
            WireMessage::ReversalResponse(m) => (430, m.trace.key(), m.response, None),
            WireMessage::BatchCloseResponse(m) => (510, m.trace.key(), m.response, None),
            _ => return Ok(()),
        };
        // 63 and 30 answer a damaged copy, not the request.
        if matches!(code, ResponseCode::SecurityViolation | ResponseCode::FormatError) {
            return Ok(());
        }
        let new = Answer {
            code,
            approval,
            decided: !transient(code) && !for_now,
        };
        let Some(first) = self.answers.get(&(mti, key.clone())).cloned() else {
            self.answers.insert((mti, key), new);
            return Ok(());
        };
        let approved = ResponseCode::Approved;
        let contradicts = if first.code == approved {
            (first.code, &first.approval) != (new.code, &new.approval)
        } else {
            new.code == approved && first.decided
        };
        if contradicts {
            return Err(format!(
                "answered {key} (0{mti}) with {} {:?} after {} {:?} before",
                new.code.to_wire(),
                new.approval,
                first.code.to_wire(),
                first.approval
            ));
        }
        if !first.decided && new.decided {
            self.answers.insert((mti, key), new);
        }
        Ok(())
    }

    fn financial(&self, key: &TransactionKey) -> Option<ResponseCode> {
        self.answers.get(&(210, key.clone())).map(|answer| answer.code)
    }
}

fn violation(node: &'static str, step: usize, what: String) -> Violation {
    Violation { node, step, what }
}

fn pick<T: Clone>(items: &[T], index: u8) -> Option<T> {
    if items.is_empty() {
        None
    } else {
        Some(items[usize::from(index) % items.len()].clone())
    }
}

const AMOUNTS: [u64; 10] = [
    1, 5_00, 10_00, 19_99, 20_00, 20_01, 50_00, 100_00, 100_01, 1_000_00,
];

fn eur(minor: u64) -> Money {
    Money::new(minor, Currency::EUR).expect("twelve digits")
}

/// Builds the requests of the terminals a case plays.
struct Terminals {
    ids: [TerminalId; 2],
    merchants: [MerchantId; 2],
    stans: [u32; 2],
    batches: [BatchNumber; 2],
    calendar: Calendar,
}

impl Terminals {
    fn new() -> Terminals {
        Terminals {
            ids: [terminal_id("TERM0001"), terminal_id("TERM0002")],
            merchants: [merchant_id("MERCHANT0000001"), merchant_id("MERCHANT0000002")],
            stans: [0, 0],
            batches: [BatchNumber::FIRST, BatchNumber::FIRST],
            calendar: Calendar::default(),
        }
    }

    fn index(second: bool) -> usize {
        usize::from(second)
    }

    fn trace(&mut self, terminal: usize, now: Millis) -> Trace {
        self.stans[terminal] = self.stans[terminal] % 999_999 + 1;
        Trace {
            terminal: self.ids[terminal].clone(),
            stan: Stan::new(self.stans[terminal]).expect("six digits"),
            local_time: self.calendar.local_time(now),
            local_date: self.calendar.local_date(now),
            transmitted: self.calendar.transmission_time(now),
        }
    }

    fn financial(
        &mut self,
        terminal: usize,
        now: Millis,
        processing: ProcessingCode,
        pan: Pan,
        amount: Money,
        original: Option<&FinancialRequest>,
    ) -> FinancialRequest {
        let trace = self.trace(terminal, now);
        FinancialRequest {
            repeat: false,
            processing,
            pan,
            expiry: Expiry { year: 28, month: 12 },
            amount,
            rrn: Rrn::new(&format!(
                "{:06}{:06}",
                self.batches[terminal].value(),
                trace.stan.value()
            ))
            .expect("twelve digits"),
            trace,
            acquirer: InstitutionId::new("12345").expect("institution"),
            merchant: self.merchants[terminal].clone(),
            batch: self.batches[terminal],
            original: original.map(original_data),
        }
    }

    fn terminal_of(&self, id: &TerminalId) -> usize {
        usize::from(id == &self.ids[1])
    }
}

fn terminal_id(text: &str) -> TerminalId {
    TerminalId::new(text).expect("built-in terminal id")
}

fn merchant_id(text: &str) -> MerchantId {
    MerchantId::new(text).expect("built-in merchant id")
}

fn original_data(original: &FinancialRequest) -> OriginalData {
    OriginalData {
        mti: Mti::parse("0200").expect("MTI"),
        stan: original.trace.stan,
        local_date_time: TransmissionTime {
            date: original.trace.local_date,
            time: original.trace.local_time,
        },
        acquirer: original.acquirer.clone(),
    }
}

fn reversal_of(original: &FinancialRequest, repeat: bool) -> ReversalAdvice {
    ReversalAdvice {
        repeat,
        processing: original.processing,
        pan: original.pan.clone(),
        amount: original.amount,
        trace: original.trace.clone(),
        acquirer: original.acquirer.clone(),
        rrn: original.rrn.clone(),
        merchant: original.merchant.clone(),
        reason: ResponseCode::ResponseTooLate,
        original: original_data(original),
    }
}

fn network(now: Millis, stan: u32) -> NetworkRequest {
    NetworkRequest {
        code: 301,
        stan: Stan::new(stan % 999_999 + 1).expect("six digits"),
        transmitted: Calendar::default().transmission_time(now),
    }
}

// ---------------------------------------------------------------------------
// The bank.

/// The standard bank with one card that expired the month before the
/// calendar's epoch, so that an off-by-one expiry check has a card to get
/// wrong.
fn bank_config(bugs: &Bugs) -> BankConfig {
    let mut config = standard_bank();
    let mut lapsed = config.cardholders[0].clone();
    lapsed.pan = Pan::new("4111110000000009").expect("PAN");
    lapsed.expiry = Expiry { year: 26, month: 10 };
    config.cardholders.push(lapsed);
    config.bugs = bugs.clone();
    config
}

/// The keys of every reversal among `delivered`.
fn reversed_keys(delivered: &[WireMessage]) -> BTreeSet<TransactionKey> {
    delivered
        .iter()
        .filter_map(|message| match message {
            WireMessage::ReversalAdvice(advice) => Some(advice.trace.key()),
            _ => None,
        })
        .collect()
}

/// Count one approved sale (a debit) or refund (a credit) into `totals`.
fn tally(totals: &mut BatchTotals, processing: ProcessingCode, amount: Money) {
    let minor = amount.amount.minor_units();
    match processing {
        ProcessingCode::Sale => {
            totals.debit_count += 1;
            totals.debit_amount += minor;
        }
        ProcessingCode::Refund => {
            totals.credit_count += 1;
            totals.credit_amount += minor;
        }
        _ => {}
    }
}

/// `request` with the expiry the bank has on file for its card, so that a
/// lapsed card is judged on its date and not on a wrong DE14.
fn with_card_expiry(cards: &[(Pan, Expiry)], mut request: FinancialRequest) -> FinancialRequest {
    if let Some((_, expiry)) = cards.iter().find(|(pan, _)| pan == &request.pan) {
        request.expiry = *expiry;
    }
    request
}

struct BankCase {
    driver: Driver<Bank>,
    terminals: Terminals,
    key: MacKey,
    cards: Vec<(Pan, Expiry)>,
    /// Every message delivered intact, in order.
    delivered: Vec<WireMessage>,
    /// Financial requests built (intact or not).
    requests: Vec<FinancialRequest>,
    /// Requests reversed before the bank saw them.
    unseen: Vec<FinancialRequest>,
    /// Keys whose reversal reached the bank before the original did.
    tombstoned: BTreeSet<TransactionKey>,
    book: AnswerBook,
    /// Approved sales an approved settlement paid out.
    paid_out: BTreeSet<TransactionKey>,
    /// Per batch, the approved sales when its first close arrived intact.
    settle_snapshot: BTreeMap<(TerminalId, BatchNumber), Vec<TransactionKey>>,
    /// What the approved refunds and voids took from each sale, per key.
    taken: BTreeMap<TransactionKey, BTreeMap<TransactionKey, u64>>,
    counted: BTreeSet<TransactionKey>,
    totals: BTreeMap<Currency, i128>,
    postings_seen: usize,
    posted: BTreeSet<(TransactionKey, PostingKind)>,
}

impl BankCase {
    fn new(bugs: &Bugs) -> BankCase {
        let config = bank_config(bugs);
        let key = config.link_key;
        let cards = config
            .cardholders
            .iter()
            .map(|card| (card.pan.clone(), card.expiry))
            .collect();
        let (driver, _) = Driver::<Bank>::new(config);
        let totals = ledger_totals(&driver.node);
        BankCase {
            driver,
            terminals: Terminals::new(),
            key,
            cards,
            delivered: Vec::new(),
            requests: Vec::new(),
            unseen: Vec::new(),
            tombstoned: BTreeSet::new(),
            book: AnswerBook::default(),
            paid_out: BTreeSet::new(),
            settle_snapshot: BTreeMap::new(),
            taken: BTreeMap::new(),
            counted: BTreeSet::new(),
            totals,
            postings_seen: 0,
            posted: BTreeSet::new(),
        }
    }

    fn run(mut self, steps: &[BankStep]) -> Result<(), Violation> {
        for (index, step) in steps.iter().take(MAX_STEPS).enumerate() {
            self.step(step).map_err(|what| violation("bank", index, what))?;
        }
        Ok(())
    }

    fn card(&self, index: u8) -> Pan {
        self.cards[usize::from(index) % self.cards.len()].0.clone()
    }

    fn step(&mut self, step: &BankStep) -> Result<(), String> {
        let now = self.driver.now;
        match step {
            BankStep::Sale {
                terminal,
                card,
                amount,
                via,
            } => {
                let amount = eur(AMOUNTS[usize::from(*amount) % AMOUNTS.len()]);
                let request = with_card_expiry(
                    &self.cards.clone(),
                    self.terminals.financial(
                        Terminals::index(*terminal),
                        now,
                        ProcessingCode::Sale,
                        self.card(*card),
                        amount,
                        None,
                    ),
                );
                self.requests.push(request.clone());
                self.send(WireMessage::FinancialRequest(request), *via)
            }
            BankStep::Refund { of, via, .. } | BankStep::Void { of, via } => {
                let Some(original) = pick(&self.requests, *of) else {
                    return Ok(());
                };
                let terminal = self.terminals.terminal_of(&original.trace.terminal);
                let (processing, money) = match step {
                    BankStep::Void { .. } => (ProcessingCode::Void, original.amount),
                    BankStep::Refund { amount, .. } => {
                        let minor = AMOUNTS[usize::from(*amount) % AMOUNTS.len()];
                        (
                            ProcessingCode::Refund,
                            Money::new(minor, original.amount.currency).expect("amount"),
                        )
                    }
                    _ => return Ok(()),
                };
                let request = with_card_expiry(
                    &self.cards.clone(),
                    self.terminals.financial(
                        terminal,
                        now,
                        processing,
                        original.pan.clone(),
                        money,
                        Some(&original),
                    ),
                );
                self.requests.push(request.clone());
                self.send(WireMessage::FinancialRequest(request), *via)
            }
            BankStep::Balance { terminal, card, via } => {
                let request = with_card_expiry(
                    &self.cards.clone(),
                    self.terminals.financial(
                        Terminals::index(*terminal),
                        now,
                        ProcessingCode::Balance,
                        self.card(*card),
                        eur(0),
                        None,
                    ),
                );
                self.requests.push(request.clone());
                self.send(WireMessage::FinancialRequest(request), *via)
            }
            BankStep::Reversal { of, repeat, via } => {
                let index = usize::from(*of);
                let original = if index < self.requests.len() {
                    self.requests[index].clone()
                } else {
                    let request = with_card_expiry(
                        &self.cards.clone(),
                        self.terminals.financial(
                            index % 2,
                            now,
                            ProcessingCode::Sale,
                            self.card(*of),
                            eur(AMOUNTS[index % AMOUNTS.len()]),
                            None,
                        ),
                    );
                    self.unseen.push(request.clone());
                    request
                };
                self.send(WireMessage::ReversalAdvice(reversal_of(&original, *repeat)), *via)
            }
            BankStep::LateOriginal { of, via } => {
                let Some(original) = pick(&self.unseen, *of) else {
                    return Ok(());
                };
                self.requests.push(original.clone());
                self.send(WireMessage::FinancialRequest(original), *via)
            }
            BankStep::Settle { terminal, wrong, via } => {
                let index = Terminals::index(*terminal);
                let totals = match wrong {
                    None => self.approved_totals(index),
                    Some(n) => BatchTotals {
                        credit_count: 0,
                        credit_amount: 0,
                        debit_count: u64::from(*n % 4),
                        debit_amount: AMOUNTS[usize::from(*n) % AMOUNTS.len()],
                    },
                };
                let close = BatchClose {
                    repeat: false,
                    trace: self.terminals.trace(index, now),
                    merchant: self.terminals.merchants[index].clone(),
                    batch: self.terminals.batches[index],
                    currency: Currency::EUR,
                    totals,
                };
                self.send(WireMessage::BatchClose(close), *via)
            }
            BankStep::Copy { of, repeat, via } => {
                let Some(message) = pick(&self.delivered, *of) else {
                    return Ok(());
                };
                let message = if *repeat { as_repeat(&message) } else { message };
                self.send(message, *via)
            }
            BankStep::NextBatch { terminal } => {
                let index = Terminals::index(*terminal);
                let next = self.terminals.batches[index].value() % 999_999 + 1;
                self.terminals.batches[index] = BatchNumber::new(next).expect("six digits");
                Ok(())
            }
            BankStep::Command { which, target } => {
                let pan = self.card(*target);
                let merchant = self.terminals.merchants[usize::from(*target) % 2].clone();
                let command = match which % 6 {
                    0 => BankCommand::SetCardState {
                        pan,
                        state: CardState::Frozen,
                    },
                    1 => BankCommand::SetCardState {
                        pan,
                        state: CardState::Active,
                    },
                    2 => BankCommand::SetMerchantState {
                        merchant,
                        state: MerchantState::Frozen,
                    },
                    3 => BankCommand::SetMerchantState {
                        merchant,
                        state: MerchantState::Active,
                    },
                    4 => BankCommand::BeginMaintenance,
                    _ => BankCommand::EndMaintenance,
                };
                let step = self.driver.command(command);
                self.judge_sends(&step)?;
                self.judge_state()
            }
            BankStep::Wait { ms10 } => {
                let step = self.driver.wait(u64::from(*ms10) * 10);
                self.judge_sends(&step)?;
                self.judge_state()
            }
            BankStep::Crash => {
                let step = self.driver.reboot();
                self.judge_sends(&step)?;
                self.judge_state()
            }
        }
    }

    /// The totals of a terminal's open batch, from the bank's own answers:
    /// approved sales and refunds not voided or reversed since.
    /// The sales of `batch` approved so far and not reversed.
    fn approved_sales(&self, batch: &(TerminalId, BatchNumber)) -> Vec<TransactionKey> {
        let reversed = reversed_keys(&self.delivered);
        self.requests
            .iter()
            .filter(|r| {
                r.processing == ProcessingCode::Sale
                    && r.trace.terminal == batch.0
                    && r.batch == batch.1
                    && self.book.financial(&r.trace.key()) == Some(ResponseCode::Approved)
                    && !reversed.contains(&r.trace.key())
            })
            .map(|r| r.trace.key())
            .collect()
    }

    fn approved_totals(&self, terminal: usize) -> BatchTotals {
        let id = &self.terminals.ids[terminal];
        let batch = self.terminals.batches[terminal];
        let reversed = reversed_keys(&self.delivered);
        let voided: BTreeSet<TransactionKey> = self
            .requests
            .iter()
            .filter(|r| r.processing == ProcessingCode::Void)
            .filter(|r| self.book.financial(&r.trace.key()) == Some(ResponseCode::Approved))
            // A reversed void voids nothing: its sale stands again.
            .filter(|r| !reversed.contains(&r.trace.key()))
            .filter_map(|r| r.original.as_ref().map(|o| o.key(&r.trace.terminal)))
            .collect();
        let mut totals = BatchTotals {
            credit_count: 0,
            credit_amount: 0,
            debit_count: 0,
            debit_amount: 0,
        };
        let mut seen = BTreeSet::new();
        for request in &self.requests {
            let key = request.trace.key();
            if &request.trace.terminal != id
                || request.batch != batch
                || request.amount.currency != Currency::EUR
                || !seen.insert(key.clone())
                || self.book.financial(&key) != Some(ResponseCode::Approved)
                || reversed.contains(&key)
                || voided.contains(&key)
            {
                continue;
            }
            tally(&mut totals, request.processing, request.amount);
        }
        totals
    }

    fn send(&mut self, message: WireMessage, via: Delivery) -> Result<(), String> {
        let (bytes, damaged) = deliver_bytes(&message, &self.key, via.damage);
        let key = key_of(&message);
        let was_known = key.as_ref().is_some_and(|key| {
            self.delivered
                .iter()
                .any(|m| matches!(m, WireMessage::FinancialRequest(r) if &r.trace.key() == key))
        });
        if !damaged {
            if let WireMessage::BatchClose(close) = &message {
                let batch = (close.trace.terminal.clone(), close.batch);
                if !self.settle_snapshot.contains_key(&batch) {
                    let approved = self.approved_sales(&batch);
                    self.settle_snapshot.insert(batch, approved);
                }
            }
            self.delivered.push(message.clone());
        }
        let mut step = self.driver.message(&Peer::Switch, &bytes, via.crash_at);
        step.damaged = damaged;
        if damaged && step.appended > 0 {
            return Err(format!(
                "journalled {} record(s) for a damaged copy",
                step.appended
            ));
        }
        // A reversal of a request the bank never saw, acknowledged: the bank
        // has promised that the request, if it comes late, moves no money.
        // (Unacknowledged, a crash may have lost the reversal.)
        if let (WireMessage::ReversalAdvice(_), Some(key), false, false) =
            (&message, &key, was_known, damaged)
        {
            let acknowledged = step.sent.iter().any(|(_, bytes)| {
                matches!(read_sent(&Peer::Switch, bytes, &self.key),
                    Ok(WireMessage::ReversalResponse(answer)) if answer.trace.key() == *key && answer.response == ResponseCode::Approved)
            });
            if acknowledged {
                self.tombstoned.insert(key.clone());
            }
        }
        self.judge_sends(&step)?;
        self.judge_state()
    }

    fn judge_sends(&mut self, step: &Step) -> Result<(), String> {
        if let Some(problem) = self.driver.take_problem() {
            return Err(problem);
        }
        for (to, bytes) in &step.sent {
            if to != &Peer::Switch {
                return Err(format!("sent a message to {to}; a bank talks only to the switch"));
            }
            let message = match read_sent(to, bytes, &self.key) {
                Ok(message) => message,
                Err(_) if step.damaged => continue,
                Err(problem) => return Err(problem),
            };
            self.book.record(&message, false)?;
            if let WireMessage::FinancialResponse(answer) = &message {
                self.judge_answer(answer)?;
            }
            if let WireMessage::BatchCloseResponse(answer) = &message {
                if answer.response == ResponseCode::Approved {
                    // The bank decided the settlement at the earliest when
                    // the batch's first close reached it (a crash may have
                    // hidden that answer, and this one be the stored copy):
                    // the sales approved before that are paid out.
                    let batch = (answer.trace.terminal.clone(), answer.batch);
                    let paid = self.settle_snapshot.get(&batch).cloned().unwrap_or_default();
                    self.paid_out.extend(paid);
                }
            }
        }
        Ok(())
    }

    fn judge_answer(&mut self, answer: &FinancialResponse) -> Result<(), String> {
        let key = answer.trace.key();
        if answer.response != ResponseCode::Approved {
            return Ok(());
        }
        if answer.approval.is_none() {
            return Err(format!("approved {key} without an approval code"));
        }
        if self.tombstoned.contains(&key) {
            return Err(format!(
                "approved {key}, whose reversal it had acknowledged before the request arrived"
            ));
        }
        let Some(request) = self.requests.iter().find(|r| r.trace.key() == key).cloned() else {
            return Ok(());
        };
        if matches!(request.processing, ProcessingCode::Sale | ProcessingCode::Balance) {
            let (_, expiry) = self
                .cards
                .iter()
                .find(|(pan, _)| pan == &request.pan)
                .cloned()
                .unwrap_or((request.pan.clone(), Expiry { year: 99, month: 12 }));
            let today = Calendar::default().date(self.driver.now);
            if (2000 + i64::from(expiry.year), expiry.month) < (today.year, today.month) {
                return Err(format!(
                    "approved {key} on a card that expired {:02}/{:02}, on {}-{:02}-{:02}",
                    expiry.month, expiry.year, today.year, today.month, today.day
                ));
            }
        }
        let Some(original) = request.original.as_ref().map(|o| o.key(&request.trace.terminal)) else {
            return Ok(());
        };
        if !self.counted.insert(key.clone()) {
            return Ok(());
        }
        let Some(sale) = self.requests.iter().find(|r| r.trace.key() == original).cloned() else {
            return Err(format!("approved {key}, naming {original} it never saw"));
        };
        // A sale whose answer a crash swallowed may be approved all the same.
        let declined = self
            .book
            .financial(&original)
            .is_some_and(|code| code != ResponseCode::Approved && !transient(code));
        if sale.processing != ProcessingCode::Sale || declined {
            return Err(format!(
                "approved {key}, naming {original} that is not an approved sale"
            ));
        }
        if request.processing == ProcessingCode::Void && self.paid_out.contains(&original) {
            return Err(format!(
                "approved the void {key} of {original}, which a settlement it had approved paid out"
            ));
        }
        self.taken
            .entry(original.clone())
            .or_default()
            .insert(key.clone(), request.amount.amount.minor_units());
        // A refund or void whose reversal reached the bank may have been
        // undone, and its amount be free again.
        let reversed = reversed_keys(&self.delivered);
        let taken: u64 = self.taken[&original]
            .iter()
            .filter(|(key, _)| !reversed.contains(*key))
            .map(|(_, minor)| minor)
            .sum();
        let limit = sale.amount.amount.minor_units();
        if taken > limit {
            return Err(format!(
                "approved refunds and voids of {original} for {taken} minor units, more than its {limit}"
            ));
        }
        Ok(())
    }

    fn judge_state(&mut self) -> Result<(), String> {
        let postings = self.driver.node.ledger().postings().to_vec();
        for posting in postings.iter().skip(self.postings_seen) {
            let mut sums: BTreeMap<Currency, i128> = BTreeMap::new();
            for (_, currency, amount) in &posting.entries {
                *sums.entry(*currency).or_default() += i128::from(*amount);
            }
            if sums.values().any(|sum| *sum != 0) {
                return Err(format!(
                    "posted {:?} for {} with entries that do not sum to zero",
                    posting.kind, posting.key
                ));
            }
            if !self.posted.insert((posting.key.clone(), posting.kind.clone())) {
                return Err(format!("posted {:?} for {} twice", posting.kind, posting.key));
            }
        }
        self.postings_seen = postings.len();
        let mut settlements: BTreeMap<(TerminalId, BatchNumber), usize> = BTreeMap::new();
        for posting in &postings {
            if let Some(code) = self.book.financial(&posting.key) {
                if code != ResponseCode::Approved && !matches!(posting.kind, PostingKind::Reversal { .. }) {
                    return Err(format!(
                        "posted {:?} for {}, which it declined with {}",
                        posting.kind,
                        posting.key,
                        code.to_wire()
                    ));
                }
            }
            if let PostingKind::Settlement { terminal, batch } = &posting.kind {
                *settlements.entry((terminal.clone(), *batch)).or_default() += 1;
            }
        }
        if let Some(((terminal, batch), count)) = settlements.into_iter().find(|(_, count)| *count > 1) {
            return Err(format!(
                "settled batch {} of {terminal} {count} times",
                batch.value()
            ));
        }
        let totals = ledger_totals(&self.driver.node);
        if totals != self.totals {
            return Err(format!(
                "the ledger's totals per currency moved from {:?} to {:?}",
                self.totals, totals
            ));
        }
        if self.driver.unsynced.is_empty() {
            let twin = self.driver.twin();
            let live = &self.driver.node;
            if twin.ledger().postings() != live.ledger().postings() {
                return Err("booted from its journal, it has other postings than before".into());
            }
            if twin.transactions() != live.transactions() {
                return Err("booted from its journal, it has other transactions than before".into());
            }
            if twin.settlements() != live.settlements() {
                return Err("booted from its journal, it has other settlements than before".into());
            }
            let twin_tombstones: Vec<_> = twin.tombstones().cloned().collect();
            let live_tombstones: Vec<_> = live.tombstones().cloned().collect();
            if twin_tombstones != live_tombstones {
                return Err("booted from its journal, it has other tombstones than before".into());
            }
        }
        Ok(())
    }
}

fn ledger_totals(bank: &Bank) -> BTreeMap<Currency, i128> {
    let mut totals = BTreeMap::new();
    for (_, currency, balance) in bank.ledger().balances() {
        *totals.entry(currency).or_default() += i128::from(balance);
    }
    totals
}

// ---------------------------------------------------------------------------
// The switch.

struct SwitchCase {
    driver: Driver<Switch>,
    terminals: Terminals,
    terminal_keys: [MacKey; 2],
    bank: BankId,
    bank_key: MacKey,
    cards: Vec<Pan>,
    /// Every message a terminal delivered intact.
    delivered: Vec<WireMessage>,
    requests: Vec<FinancialRequest>,
    /// Every message the switch sent the bank.
    to_bank: Vec<WireMessage>,
    /// Financial requests forwarded to the bank, per key.
    forwarded: BTreeMap<TransactionKey, usize>,
    book: AnswerBook,
    /// Answers the switch gave terminals, per key (0210 only).
    told: BTreeMap<TransactionKey, FinancialResponse>,
    echoes: u32,
}

impl SwitchCase {
    fn new(bugs: &Bugs) -> SwitchCase {
        let mut topology = Topology::standard();
        topology.set_bugs(bugs);
        let config: SwitchConfig = topology.switch.clone();
        let bank = topology.banks[0].id.clone();
        let bank_key = topology.banks[0].link_key;
        let cards = topology.banks[0]
            .cardholders
            .iter()
            .map(|card| card.pan.clone())
            .collect();
        let terminals = Terminals::new();
        let terminal_keys = [
            key_for(terminals.ids[0].as_str()),
            key_for(terminals.ids[1].as_str()),
        ];
        let (driver, _) = Driver::<Switch>::new(config);
        SwitchCase {
            driver,
            terminals,
            terminal_keys,
            bank,
            bank_key,
            cards,
            delivered: Vec::new(),
            requests: Vec::new(),
            to_bank: Vec::new(),
            forwarded: BTreeMap::new(),
            book: AnswerBook::default(),
            told: BTreeMap::new(),
            echoes: 0,
        }
    }

    fn run(mut self, steps: &[SwitchStep]) -> Result<(), Violation> {
        for (index, step) in steps.iter().take(MAX_STEPS).enumerate() {
            self.step(step).map_err(|what| violation("switch", index, what))?;
        }
        Ok(())
    }

    fn step(&mut self, step: &SwitchStep) -> Result<(), String> {
        let now = self.driver.now;
        match step {
            SwitchStep::Request {
                terminal,
                processing,
                card,
                amount,
                of,
                via,
            } => {
                let processing = ProcessingCode::ALL[usize::from(*processing) % ProcessingCode::ALL.len()];
                let minor = AMOUNTS[usize::from(*amount) % AMOUNTS.len()];
                let original = match processing {
                    ProcessingCode::Refund | ProcessingCode::Void => pick(&self.requests, *of),
                    _ => None,
                };
                let terminal = match &original {
                    Some(original) => self.terminals.terminal_of(&original.trace.terminal),
                    None => Terminals::index(*terminal),
                };
                let (pan, money) = match (&original, processing) {
                    (Some(original), ProcessingCode::Void) => (original.pan.clone(), original.amount),
                    (Some(original), _) => (original.pan.clone(), eur(minor)),
                    (None, ProcessingCode::Balance) => (pick(&self.cards, *card).expect("cards"), eur(0)),
                    (None, _) => (pick(&self.cards, *card).expect("cards"), eur(minor)),
                };
                let request =
                    self.terminals
                        .financial(terminal, now, processing, pan, money, original.as_ref());
                self.requests.push(request.clone());
                self.deliver_from_terminal(terminal, WireMessage::FinancialRequest(request), *via)
            }
            SwitchStep::Reversal { of, repeat, via } => {
                let Some(original) = pick(&self.requests, *of) else {
                    return Ok(());
                };
                let terminal = self.terminals.terminal_of(&original.trace.terminal);
                self.deliver_from_terminal(
                    terminal,
                    WireMessage::ReversalAdvice(reversal_of(&original, *repeat)),
                    *via,
                )
            }
            SwitchStep::Close { terminal, wrong, via } => {
                let index = Terminals::index(*terminal);
                let totals = match wrong {
                    None => self.approved_totals(index),
                    Some(n) => BatchTotals {
                        credit_count: 0,
                        credit_amount: 0,
                        debit_count: u64::from(*n % 4) + 1,
                        debit_amount: AMOUNTS[usize::from(*n) % AMOUNTS.len()],
                    },
                };
                let close = BatchClose {
                    repeat: false,
                    trace: self.terminals.trace(index, now),
                    merchant: self.terminals.merchants[index].clone(),
                    batch: self.terminals.batches[index],
                    currency: Currency::EUR,
                    totals,
                };
                self.deliver_from_terminal(index, WireMessage::BatchClose(close), *via)
            }
            SwitchStep::Echo { terminal, via } => {
                self.echoes += 1;
                let echo = WireMessage::NetworkRequest(network(now, self.echoes));
                self.deliver_from_terminal(Terminals::index(*terminal), echo, *via)
            }
            SwitchStep::Copy { of, repeat, via } => {
                let Some(message) = pick(&self.delivered, *of) else {
                    return Ok(());
                };
                let terminal = key_of(&message)
                    .map(|key| self.terminals.terminal_of(&key.terminal))
                    .unwrap_or(0);
                let message = if *repeat { as_repeat(&message) } else { message };
                self.deliver_from_terminal(terminal, message, *via)
            }
            SwitchStep::BankAnswer { of, code, via } => {
                let Some(request) = pick(&self.to_bank, *of) else {
                    return Ok(());
                };
                let code = CODES[usize::from(*code) % CODES.len()];
                let Some(answer) = answer_to(&request, code) else {
                    return Ok(());
                };
                let (bytes, damaged) = deliver_bytes(&answer, &self.bank_key, via.damage);
                let mut step = self
                    .driver
                    .message(&Peer::Bank(self.bank.clone()), &bytes, via.crash_at);
                step.damaged = damaged;
                if damaged && step.appended > 0 {
                    return Err(format!(
                        "journalled {} record(s) for a damaged answer from {}",
                        step.appended, self.bank
                    ));
                }
                self.judge(&step)
            }
            SwitchStep::Wait { ms10 } => {
                let step = self.driver.wait(u64::from(*ms10) * 10);
                self.judge(&step)
            }
            SwitchStep::Crash => {
                let step = self.driver.reboot();
                self.judge(&step)
            }
        }
    }

    /// Totals of what the switch told a terminal it approved in its open
    /// batch (sales and refunds, not voided or reversed).
    fn approved_totals(&self, terminal: usize) -> BatchTotals {
        let id = &self.terminals.ids[terminal];
        let gone: BTreeSet<TransactionKey> = self
            .delivered
            .iter()
            .filter_map(|message| match message {
                WireMessage::ReversalAdvice(advice) => Some(advice.trace.key()),
                WireMessage::FinancialRequest(r) if r.processing == ProcessingCode::Void => {
                    let approved = self
                        .told
                        .get(&r.trace.key())
                        .is_some_and(|a| a.response == ResponseCode::Approved);
                    approved
                        .then(|| r.original.as_ref().map(|o| o.key(&r.trace.terminal)))
                        .flatten()
                }
                _ => None,
            })
            .collect();
        let mut totals = BatchTotals {
            credit_count: 0,
            credit_amount: 0,
            debit_count: 0,
            debit_amount: 0,
        };
        for (key, answer) in &self.told {
            if &key.terminal != id || answer.response != ResponseCode::Approved || gone.contains(key) {
                continue;
            }
            tally(&mut totals, answer.processing, answer.amount);
        }
        totals
    }

    /// A 12 to a void the switch never forwarded, for a request no reversal
    /// named: the switch refuses such a void while the sale's batch is
    /// settling and forwards a copy once the settlement is answered, so the
    /// refusal decides nothing yet. (A 12 for a request reversed before it
    /// arrived stays final.)
    fn refused_for_now(&self, message: &WireMessage) -> bool {
        let WireMessage::FinancialResponse(answer) = message else {
            return false;
        };
        let key = answer.trace.key();
        answer.response == ResponseCode::InvalidTransaction
            && answer.processing == ProcessingCode::Void
            && !self.forwarded.contains_key(&key)
            && !self
                .delivered
                .iter()
                .any(|m| matches!(m, WireMessage::ReversalAdvice(advice) if advice.trace.key() == key))
    }

    fn deliver_from_terminal(
        &mut self,
        terminal: usize,
        message: WireMessage,
        via: Delivery,
    ) -> Result<(), String> {
        let (bytes, damaged) = deliver_bytes(&message, &self.terminal_keys[terminal], via.damage);
        if !damaged {
            self.delivered.push(message);
        }
        let from = Peer::Terminal(self.terminals.ids[terminal].clone());
        let mut step = self.driver.message(&from, &bytes, via.crash_at);
        step.damaged = damaged;
        if damaged {
            if step.appended > 0 {
                return Err(format!(
                    "journalled {} record(s) for a damaged copy from {from}",
                    step.appended
                ));
            }
            if let Some((to, _)) = step.sent.iter().find(|(to, _)| matches!(to, Peer::Bank(_))) {
                return Err(format!("sent {to} something on a damaged copy from {from}"));
            }
        }
        self.judge(&step)
    }

    fn judge(&mut self, step: &Step) -> Result<(), String> {
        if let Some(problem) = self.driver.take_problem() {
            return Err(problem);
        }
        for (to, bytes) in &step.sent {
            let key = match to {
                Peer::Terminal(id) if id == &self.terminals.ids[0] => self.terminal_keys[0],
                Peer::Terminal(id) if id == &self.terminals.ids[1] => self.terminal_keys[1],
                Peer::Bank(id) if id == &self.bank => self.bank_key,
                other => return Err(format!("sent a message to {other}, which is not in its topology")),
            };
            let message = match read_sent(to, bytes, &key) {
                Ok(message) => message,
                Err(_) if step.damaged => continue,
                Err(problem) => return Err(problem),
            };
            match to {
                Peer::Bank(_) => {
                    if let WireMessage::FinancialRequest(request) = &message {
                        let count = self.forwarded.entry(request.trace.key()).or_default();
                        *count += 1;
                        if *count > 1 {
                            return Err(format!(
                                "forwarded {} to the bank {} times",
                                request.trace.key(),
                                count
                            ));
                        }
                    }
                    self.to_bank.push(message);
                }
                _ => {
                    let for_now = self.refused_for_now(&message);
                    self.book.record(&message, for_now)?;
                    if let WireMessage::FinancialResponse(answer) = &message {
                        if !matches!(
                            answer.response,
                            ResponseCode::SecurityViolation | ResponseCode::FormatError
                        ) {
                            self.told
                                .entry(answer.trace.key())
                                .or_insert_with(|| answer.clone());
                        }
                    }
                }
            }
        }
        if self.driver.unsynced.is_empty() {
            let twin = self.driver.twin();
            let live = &self.driver.node;
            for key in self.told.keys() {
                let (a, b) = (twin.stored_answer(key), live.stored_answer(key));
                if a != b {
                    return Err(format!(
                        "booted from its journal, it has another stored answer for {key}"
                    ));
                }
                if twin.is_tombstoned(key) != live.is_tombstoned(key) {
                    return Err(format!(
                        "booted from its journal, it disagrees whether {key} is tombstoned"
                    ));
                }
            }
            if twin.queued_reversals() != live.queued_reversals() {
                return Err("booted from its journal, it has other queued reversals".into());
            }
            for index in 0..2 {
                let id = &self.terminals.ids[index];
                let batch = self.terminals.batches[index];
                if twin.captured(id, batch) != live.captured(id, batch) {
                    return Err(format!(
                        "booted from its journal, it has another capture for {id}"
                    ));
                }
                if twin.settlement_answer(id, batch) != live.settlement_answer(id, batch) {
                    return Err(format!(
                        "booted from its journal, it has another settlement answer for {id}"
                    ));
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The terminal.

struct TerminalCase {
    driver: Driver<Terminal>,
    config: TerminalConfig,
    cards: Vec<Pan>,
    next_operation: u32,
    operations: Vec<OperationId>,
    /// Every message the terminal sent, in order.
    sent: Vec<WireMessage>,
    /// The content each key was first sent with.
    keys: BTreeMap<TransactionKey, (ProcessingCode, Pan, Money, String)>,
    /// Financial answers delivered intact, per key.
    answered: BTreeMap<TransactionKey, BTreeSet<ResponseCode>>,
    /// Keys of the reversals acknowledged.
    acknowledged: BTreeSet<TransactionKey>,
    /// Keys shown failed and reversed.
    failed: BTreeSet<TransactionKey>,
    shown: BTreeSet<OperationId>,
}

impl TerminalCase {
    fn new(bugs: &Bugs) -> TerminalCase {
        let mut config = terminal_config(terminal_id("TERM0001"), merchant_id("MERCHANT0000001"));
        config.bugs = bugs.clone();
        let cards = standard_bank()
            .cardholders
            .iter()
            .map(|card| card.pan.clone())
            .collect();
        let (driver, _) = Driver::<Terminal>::new(config.clone());
        TerminalCase {
            driver,
            config,
            cards,
            next_operation: 0,
            operations: Vec::new(),
            sent: Vec::new(),
            keys: BTreeMap::new(),
            answered: BTreeMap::new(),
            acknowledged: BTreeSet::new(),
            failed: BTreeSet::new(),
            shown: BTreeSet::new(),
        }
    }

    fn run(mut self, steps: &[TerminalStep]) -> Result<(), Violation> {
        for (index, step) in steps.iter().take(MAX_STEPS).enumerate() {
            self.step(step)
                .map_err(|what| violation("terminal", index, what))?;
        }
        // The drain: nobody answers any more, time passes. Every reversal
        // not yet acknowledged must still be queued and sent again.
        let step = self.driver.wait(10 * 60 * 1000);
        let last = steps.len().min(MAX_STEPS);
        self.judge(&step)
            .map_err(|what| violation("terminal", last, what))?;
        let queued: BTreeSet<TransactionKey> = self.driver.node.reversal_queue().into_iter().collect();
        for key in self.failed.difference(&self.acknowledged) {
            if !queued.contains(key) {
                return Err(violation(
                    "terminal",
                    last,
                    format!("dropped the reversal of {key}, shown failed and reversed, before it was acknowledged"),
                ));
            }
        }
        Ok(())
    }

    fn operation(&mut self) -> OperationId {
        self.next_operation += 1;
        let operation = OperationId(self.next_operation);
        self.operations.push(operation);
        operation
    }

    fn card(&self, index: u8) -> Card {
        Card {
            pan: pick(&self.cards, index).expect("cards"),
            expiry: Expiry { year: 28, month: 12 },
        }
    }

    fn step(&mut self, step: &TerminalStep) -> Result<(), String> {
        let command = match step {
            TerminalStep::Sale { card, amount } => TerminalCommand::Sale {
                operation: self.operation(),
                card: self.card(*card),
                amount: eur(AMOUNTS[usize::from(*amount) % AMOUNTS.len()]),
            },
            TerminalStep::Refund { of, amount } => {
                let Some(original) = pick(&self.operations, *of) else {
                    return Ok(());
                };
                TerminalCommand::Refund {
                    operation: self.operation(),
                    original,
                    amount: eur(AMOUNTS[usize::from(*amount) % AMOUNTS.len()]),
                }
            }
            TerminalStep::Void { of } => {
                let Some(original) = pick(&self.operations, *of) else {
                    return Ok(());
                };
                TerminalCommand::Void {
                    operation: self.operation(),
                    original,
                }
            }
            TerminalStep::Balance { card } => TerminalCommand::Balance {
                operation: self.operation(),
                card: self.card(*card),
                currency: Currency::EUR,
            },
            TerminalStep::Close => TerminalCommand::CloseBatch {
                operation: self.operation(),
            },
            TerminalStep::Answer { of, code, via } => {
                if self.sent.is_empty() {
                    return Ok(());
                }
                let back = usize::from(*of) % self.sent.len();
                let request = self.sent[self.sent.len() - 1 - back].clone();
                let code = CODES[usize::from(*code) % CODES.len()];
                let Some(answer) = answer_to(&request, code) else {
                    return Ok(());
                };
                let (bytes, damaged) = deliver_bytes(&answer, &self.config.key, via.damage);
                if !damaged {
                    match &answer {
                        WireMessage::FinancialResponse(a) => {
                            self.answered.entry(a.trace.key()).or_default().insert(a.response);
                        }
                        WireMessage::BatchCloseResponse(a) => {
                            self.answered.entry(a.trace.key()).or_default().insert(a.response);
                        }
                        WireMessage::ReversalResponse(a) if a.response == ResponseCode::Approved => {
                            self.acknowledged.insert(a.trace.key());
                        }
                        _ => {}
                    }
                }
                let mut step = self.driver.message(&Peer::Switch, &bytes, via.crash_at);
                step.damaged = damaged;
                if damaged && step.appended > 0 {
                    return Err(format!(
                        "journalled {} record(s) for a damaged answer",
                        step.appended
                    ));
                }
                return self.judge(&step);
            }
            TerminalStep::Wait { ms10 } => {
                let step = self.driver.wait(u64::from(*ms10) * 10);
                return self.judge(&step);
            }
            TerminalStep::Crash => {
                let step = self.driver.reboot();
                return self.judge(&step);
            }
        };
        let step = self.driver.command(command);
        self.judge(&step)
    }

    fn judge(&mut self, step: &Step) -> Result<(), String> {
        if let Some(problem) = self.driver.take_problem() {
            return Err(problem);
        }
        for (to, bytes) in &step.sent {
            if to != &Peer::Switch {
                return Err(format!(
                    "sent a message to {to}; a terminal talks only to the switch"
                ));
            }
            let message = match read_sent(to, bytes, &self.config.key) {
                Ok(message) => message,
                Err(_) if step.damaged => continue,
                Err(problem) => return Err(problem),
            };
            if let WireMessage::FinancialRequest(request) = &message {
                let key = request.trace.key();
                let content = (
                    request.processing,
                    request.pan.clone(),
                    request.amount,
                    format!("{:?} {:?}", request.trace.local_time, request.original),
                );
                match self.keys.get(&key) {
                    Some(first) if first != &content => {
                        let describe = |c: &(ProcessingCode, Pan, Money, String)| {
                            format!(
                                "{:?} {} card {:?}, local time and original {}",
                                c.0,
                                c.2.amount.minor_units(),
                                c.1,
                                c.3
                            )
                        };
                        return Err(format!(
                            "sent {key} for another request ({}) than before ({})",
                            describe(&content),
                            describe(first)
                        ));
                    }
                    Some(_) => {}
                    None => {
                        self.keys.insert(key, content);
                    }
                }
            }
            self.sent.push(message);
        }
        for shown in &step.shown {
            if !self.shown.insert(shown.operation) {
                return Err(format!(
                    "showed {} a second time ({:?})",
                    shown.operation, shown.outcome
                ));
            }
            let received = shown.key.as_ref().and_then(|key| self.answered.get(key));
            match &shown.outcome {
                Outcome::Approved { .. }
                    if shown.kind != crate::node::OperationKind::BatchClose
                        && !received.is_some_and(|codes| codes.contains(&ResponseCode::Approved)) =>
                {
                    return Err(format!(
                        "showed {} approved without an approval for its key",
                        shown.operation
                    ));
                }
                Outcome::Declined { code } if !received.is_some_and(|codes| codes.contains(code)) => {
                    return Err(format!(
                        "showed {} declined {} without receiving that answer",
                        shown.operation,
                        code.to_wire()
                    ));
                }
                Outcome::FailedReversed { .. } => {
                    if let Some(key) = &shown.key {
                        self.failed.insert(key.clone());
                    }
                }
                _ => {}
            }
        }
        if self.driver.unsynced.is_empty() {
            let twin = self.driver.twin();
            let live = &self.driver.node;
            if twin.reversal_queue() != live.reversal_queue() {
                return Err("booted from its journal, it has another reversal queue".into());
            }
            if twin.batch() != live.batch() || twin.open_batch_totals() != live.open_batch_totals() {
                return Err("booted from its journal, it has another open batch".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbitrary::Unstructured;
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn cases(count: u64, size: usize) -> impl Iterator<Item = (u64, Case)> {
        (0..count).map(move |seed| {
            let mut bytes = vec![0u8; size];
            ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
            let case = Case::arbitrary_take_rest(Unstructured::new(&bytes)).expect("enough bytes");
            (seed, case)
        })
    }

    /// How many of 300 random cases catch each planted node bug, printed as
    /// a table (`cargo test -- --nocapture`). Measured 2026-12-03: 13 of the
    /// 17 bugs caught (reversal-every-copy, refund-bound-unchecked,
    /// refund-bound-race and void-after-settlement by none of the 300). The cases are fixed
    /// by their seeds, so the count moves only when the generator or the
    /// checks do. Coverage-guided fuzzing (the node_inputs target) reaches
    /// further than random bytes.
    #[test]
    fn random_cases_catch_most_planted_node_bugs() {
        let mut caught_bugs = Vec::new();
        for bug in crate::node::Bug::ALL {
            let bugs = Bugs::of([bug]);
            let caught = cases(300, 2_000)
                .filter(|(_, case)| check(case, &bugs).is_err())
                .count();
            eprintln!("{:32} {caught:4} of 300 cases", bug.name());
            if caught > 0 {
                caught_bugs.push(bug.name());
            }
        }
        assert!(
            caught_bugs.len() >= 12,
            "only {} bugs caught: {caught_bugs:?}",
            caught_bugs.len()
        );
    }

    /// A void of a sale whose batch is settling is refused 12 by the switch
    /// itself; once the settlement is answered a copy of the void goes to
    /// the issuer, which may approve it. That 00 after the 12 is the
    /// switch relaying an issuer's decision, not a contradiction.
    #[test]
    fn a_void_refused_while_its_batch_settles_may_be_approved_later() {
        let clean = Delivery {
            damage: Damage::None,
            crash_at: None,
        };
        let request = |processing: u8| SwitchStep::Request {
            terminal: false,
            processing,
            card: 0,
            amount: 1,
            of: 0,
            via: clean,
        };
        let answer = |of: u8| SwitchStep::BankAnswer {
            of,
            code: 0,
            via: clean,
        };
        let steps = [
            request(0),
            answer(0),
            SwitchStep::Close {
                terminal: false,
                wrong: None,
                via: clean,
            },
            request(2),
            answer(1),
            SwitchStep::Copy {
                of: 2,
                repeat: true,
                via: clean,
            },
            answer(2),
        ];
        let mut case = SwitchCase::new(&Bugs::none());
        for (index, step) in steps.iter().enumerate() {
            if let Err(what) = case.step(step) {
                panic!("step {index}: {what}");
            }
        }
        let void = case.requests[1].trace.key();
        assert_eq!(
            case.forwarded.get(&void),
            Some(&1),
            "the void was never forwarded"
        );
        assert_eq!(case.book.financial(&void), Some(ResponseCode::Approved));
    }

    #[test]
    fn the_correct_nodes_keep_their_contracts() {
        for (seed, case) in cases(600, 2_000) {
            if let Err(violation) = check(&case, &Bugs::none()) {
                panic!("seed {seed}: {violation}\n{case:?}");
            }
        }
    }
}
