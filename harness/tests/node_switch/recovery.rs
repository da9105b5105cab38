//! Recovery from every journal prefix and at every crash point.
//!
//! A small deterministic world runs the switch with two fake terminals and
//! a fake bank A. The terminals repeat 0201 / 0421 / 0501 / 0320 as real
//! ones would; the bank is idempotent per key, leaves tombstones for
//! unknown reversals, and settles each terminal batch once. The run is
//! repeated with the switch crashed (a) just before its k-th journal append
//! for every k (so exactly the first k records survive) and (b) at its j-th
//! crash point for every j, then rebooted from the durable journal. Every
//! run must end correctly.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use payfault::node::switch::{Switch, SwitchRecord, SwitchTimer};
use payfault::node::{Effect, Millis, Peer, StateMachine};
use payfault::wire::typed::*;
use payfault::wire::types::*;
use payfault::wire::{verify, WireMessage};

use crate::fixture::*;

const NETWORK_DELAY_MS: u64 = 1;
const TICK_MS: u64 = 100;
const TERMINAL_REPEAT_MS: u64 = 300;
const TERMINAL_TIMEOUT_MS: u64 = 900;
const LATE_ANSWER_MS: u64 = 1_000;
const RUN_LIMIT_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    None,
    BeforeAppend(usize),
    AtCrashPoint(usize),
}

#[derive(Debug, Clone)]
enum Operation {
    Sale {
        stan: u32,
        minor: u64,
    },
    Refund {
        stan: u32,
        minor: u64,
        original: u32,
    },
    /// The terminal does not accept the answer (e.g. shown too late) and reverses.
    SaleThenReverse {
        stan: u32,
        minor: u64,
    },
    /// A reversal for a request that never left; then a late copy of it.
    ReverseUnsent {
        stan: u32,
        minor: u64,
    },
    Close,
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // test model: clarity over size
enum Current {
    Request {
        request: FinancialRequest,
        sent_at: u64,
        repeated: bool,
        reverse_after: bool,
    },
    Reversal {
        advice: ReversalAdvice,
        sent_at: u64,
        late_copy: Option<FinancialRequest>,
    },
    Close {
        close: BatchClose,
        sent_at: u64,
    },
    Upload {
        items: Vec<BatchUpload>,
        next: usize,
        sent_at: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Approved,
    Declined(ResponseCode),
    Reversed,
}

struct FakeTerminal {
    number: u8,
    operations: VecDeque<Operation>,
    current: Option<Current>,
    requests: BTreeMap<u32, FinancialRequest>,
    answers: BTreeMap<u32, Vec<ResponseCode>>,
    outcomes: BTreeMap<u32, Outcome>,
    /// Approved items this terminal's batch omits (forces a 95 and an upload).
    forgotten: BTreeSet<u32>,
    closed: Option<ResponseCode>,
}

impl FakeTerminal {
    fn new(number: u8, operations: Vec<Operation>, forgotten: &[u32]) -> FakeTerminal {
        FakeTerminal {
            number,
            operations: operations.into(),
            current: None,
            requests: BTreeMap::new(),
            answers: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            forgotten: forgotten.iter().copied().collect(),
            closed: None,
        }
    }

    fn done(&self) -> bool {
        self.current.is_none() && self.operations.is_empty()
    }

    fn batch_items(&self) -> Vec<&FinancialRequest> {
        self.outcomes
            .iter()
            .filter(|(stan, outcome)| **outcome == Outcome::Approved && !self.forgotten.contains(stan))
            .map(|(stan, _)| &self.requests[stan])
            .filter(|request| matches!(request.processing, ProcessingCode::Sale | ProcessingCode::Refund))
            .collect()
    }

    fn totals(&self) -> BatchTotals {
        let items = self.batch_items();
        let amounts = |code| {
            items
                .iter()
                .filter(|r| r.processing == code)
                .map(|r| r.amount.amount.minor_units())
                .collect::<Vec<_>>()
        };
        totals(&amounts(ProcessingCode::Sale), &amounts(ProcessingCode::Refund))
    }

    /// Start the next operation if idle; repeat or give up on timeouts.
    fn tick(&mut self, now: u64) -> Vec<WireMessage> {
        match self.current.clone() {
            None => self.start_next(now),
            Some(Current::Request {
                request,
                sent_at,
                repeated,
                reverse_after,
            }) => {
                if now >= sent_at + TERMINAL_TIMEOUT_MS {
                    return self.reverse(now, &request, None);
                }
                if !repeated && now >= sent_at + TERMINAL_REPEAT_MS {
                    let mut repeat = request.clone();
                    repeat.repeat = true;
                    self.current = Some(Current::Request {
                        request,
                        sent_at,
                        repeated: true,
                        reverse_after,
                    });
                    return vec![WireMessage::FinancialRequest(repeat)];
                }
                Vec::new()
            }
            Some(Current::Reversal {
                mut advice,
                sent_at,
                late_copy,
            }) if now >= sent_at + TERMINAL_REPEAT_MS => {
                advice.repeat = true;
                self.current = Some(Current::Reversal {
                    advice: advice.clone(),
                    sent_at: now,
                    late_copy,
                });
                vec![WireMessage::ReversalAdvice(advice)]
            }
            Some(Current::Close { mut close, sent_at }) if now >= sent_at + TERMINAL_REPEAT_MS => {
                close.repeat = true;
                self.current = Some(Current::Close {
                    close: close.clone(),
                    sent_at: now,
                });
                vec![WireMessage::BatchClose(close)]
            }
            Some(Current::Upload { items, next, sent_at }) if now >= sent_at + TERMINAL_REPEAT_MS => {
                let item = items[next].clone();
                self.current = Some(Current::Upload {
                    items,
                    next,
                    sent_at: now,
                });
                vec![WireMessage::BatchUpload(item)]
            }
            Some(_) => Vec::new(),
        }
    }

    fn start_next(&mut self, now: u64) -> Vec<WireMessage> {
        let Some(operation) = self.operations.pop_front() else {
            return Vec::new();
        };
        let (request, reverse_after) = match operation {
            Operation::Sale { stan, minor } => (sale(self.number, stan, minor), false),
            Operation::SaleThenReverse { stan, minor } => (sale(self.number, stan, minor), true),
            Operation::Refund {
                stan,
                minor,
                original,
            } => (
                follow_up(&self.requests[&original], stan, ProcessingCode::Refund, minor),
                false,
            ),
            Operation::ReverseUnsent { stan, minor } => {
                let request = sale(self.number, stan, minor);
                self.requests.insert(stan, request.clone());
                return self.reverse(now, &request, Some(request.clone()));
            }
            Operation::Close => {
                let close = close(self.number, 99, self.totals(), false);
                self.current = Some(Current::Close {
                    close: close.clone(),
                    sent_at: now,
                });
                return vec![WireMessage::BatchClose(close)];
            }
        };
        self.requests.insert(request.trace.stan.value(), request.clone());
        self.current = Some(Current::Request {
            request: request.clone(),
            sent_at: now,
            repeated: false,
            reverse_after,
        });
        vec![WireMessage::FinancialRequest(request)]
    }

    fn reverse(
        &mut self,
        now: u64,
        request: &FinancialRequest,
        late_copy: Option<FinancialRequest>,
    ) -> Vec<WireMessage> {
        let advice = reversal(request, false);
        self.current = Some(Current::Reversal {
            advice: advice.clone(),
            sent_at: now,
            late_copy,
        });
        vec![WireMessage::ReversalAdvice(advice)]
    }

    fn receive(&mut self, now: u64, message: WireMessage) -> Vec<WireMessage> {
        match (self.current.clone(), message) {
            (current, WireMessage::FinancialResponse(answer)) => self.on_answer(now, current, &answer),
            (
                Some(Current::Reversal {
                    advice, late_copy, ..
                }),
                WireMessage::ReversalResponse(ack),
            ) if ack.trace.key() == advice.trace.key() && ack.response.is_approved() => {
                self.outcomes.insert(advice.trace.stan.value(), Outcome::Reversed);
                self.current = None;
                late_copy.map(WireMessage::FinancialRequest).into_iter().collect()
            }
            (Some(Current::Close { close, .. }), WireMessage::BatchCloseResponse(answer))
                if answer.batch == close.batch =>
            {
                self.on_close_answer(now, close, answer.response)
            }
            (Some(Current::Upload { items, next, .. }), WireMessage::BatchUploadResponse(answer))
                if answer.item == items[next].item =>
            {
                self.on_upload_acknowledged(now, items, next)
            }
            _ => Vec::new(),
        }
    }

    fn on_answer(
        &mut self,
        now: u64,
        current: Option<Current>,
        answer: &FinancialResponse,
    ) -> Vec<WireMessage> {
        let stan = answer.trace.stan.value();
        self.answers.entry(stan).or_default().push(answer.response);
        let Some(Current::Request {
            request,
            reverse_after,
            ..
        }) = current
        else {
            return Vec::new();
        };
        if request.trace.key() != answer.trace.key() {
            return Vec::new();
        }
        if reverse_after {
            return self.reverse(now, &request, None);
        }
        let outcome = if answer.response.is_approved() {
            Outcome::Approved
        } else {
            Outcome::Declined(answer.response)
        };
        self.outcomes.insert(stan, outcome);
        self.current = None;
        Vec::new()
    }

    fn on_close_answer(&mut self, now: u64, close: BatchClose, response: ResponseCode) -> Vec<WireMessage> {
        if response != ResponseCode::ReconcileError {
            self.closed = Some(response);
            self.current = None;
            return Vec::new();
        }
        let batch = self.batch_items();
        let count = batch.len() as u16;
        let items: Vec<BatchUpload> = batch
            .iter()
            .enumerate()
            .map(|(index, r)| upload(r, index as u16 + 1, count))
            .collect();
        if items.is_empty() {
            let repeat = BatchClose {
                repeat: true,
                ..close
            };
            self.current = Some(Current::Close {
                close: repeat.clone(),
                sent_at: now,
            });
            return vec![WireMessage::BatchClose(repeat)];
        }
        self.current = Some(Current::Upload {
            items: items.clone(),
            next: 0,
            sent_at: now,
        });
        vec![WireMessage::BatchUpload(items[0].clone())]
    }

    fn on_upload_acknowledged(&mut self, now: u64, items: Vec<BatchUpload>, next: usize) -> Vec<WireMessage> {
        if next + 1 < items.len() {
            let item = items[next + 1].clone();
            self.current = Some(Current::Upload {
                items,
                next: next + 1,
                sent_at: now,
            });
            return vec![WireMessage::BatchUpload(item)];
        }
        let close = close(self.number, 99, self.totals(), true);
        self.current = Some(Current::Close {
            close: close.clone(),
            sent_at: now,
        });
        vec![WireMessage::BatchClose(close)]
    }
}

#[derive(Default)]
struct FakeBank {
    responses: BTreeMap<TransactionKey, FinancialResponse>,
    requests_received: BTreeMap<TransactionKey, u32>,
    live: BTreeMap<TransactionKey, FinancialRequest>,
    tombstones: BTreeSet<TransactionKey>,
    late: BTreeSet<TransactionKey>,
    settlements: BTreeMap<(TerminalId, BatchNumber), (ResponseCode, i128)>,
}

impl FakeBank {
    fn receive(&mut self, message: WireMessage) -> Vec<(u64, WireMessage)> {
        match message {
            WireMessage::FinancialRequest(request) => self.on_request(request),
            WireMessage::ReversalAdvice(advice) => {
                let key = advice.trace.key();
                if self.live.remove(&key).is_none() && !self.responses.contains_key(&key) {
                    self.tombstones.insert(key);
                }
                vec![(NETWORK_DELAY_MS, reversal_ack(&advice))]
            }
            WireMessage::BatchClose(settlement) => {
                let batch = (settlement.trace.terminal.clone(), settlement.batch);
                let live = self.live_totals(&batch);
                let stored = self.settlements.entry(batch).or_insert_with(|| {
                    if live == settlement.totals {
                        (ResponseCode::Approved, settlement.totals.net())
                    } else {
                        (ResponseCode::ReconcileError, 0)
                    }
                });
                vec![(NETWORK_DELAY_MS, close_answer(&settlement, stored.0))]
            }
            _ => Vec::new(),
        }
    }

    fn on_request(&mut self, request: FinancialRequest) -> Vec<(u64, WireMessage)> {
        let key = request.trace.key();
        *self.requests_received.entry(key.clone()).or_default() += 1;
        if let Some(stored) = self.responses.get(&key) {
            return vec![(NETWORK_DELAY_MS, WireMessage::FinancialResponse(stored.clone()))];
        }
        let code = if self.tombstones.contains(&key) {
            ResponseCode::InvalidTransaction
        } else {
            ResponseCode::Approved
        };
        if code.is_approved() {
            self.live.insert(key.clone(), request.clone());
        }
        let response = answer(&request, code);
        self.responses.insert(key.clone(), response.clone());
        let delay = if self.late.contains(&key) {
            LATE_ANSWER_MS
        } else {
            NETWORK_DELAY_MS
        };
        vec![(delay, WireMessage::FinancialResponse(response))]
    }

    fn live_totals(&self, batch: &(TerminalId, BatchNumber)) -> BatchTotals {
        let items: Vec<_> = self
            .live
            .values()
            .filter(|r| r.trace.terminal == batch.0 && r.batch == batch.1)
            .collect();
        let amounts = |code| {
            items
                .iter()
                .filter(|r| r.processing == code)
                .map(|r| r.amount.amount.minor_units())
                .collect::<Vec<_>>()
        };
        totals(&amounts(ProcessingCode::Sale), &amounts(ProcessingCode::Refund))
    }
}

#[derive(Debug)]
enum Event {
    ToSwitch(Peer, Vec<u8>),
    ToTerminal(u8, Vec<u8>),
    ToBank(Vec<u8>),
    SwitchTimer(SwitchTimer),
    Tick,
}

struct World {
    fx: Fixture,
    switch: Switch,
    journal: Vec<SwitchRecord>,
    unsynced: Vec<SwitchRecord>,
    now: u64,
    events: BTreeMap<(u64, u64), Event>,
    sequence: u64,
    timers: BTreeMap<SwitchTimer, u64>,
    terminals: Vec<FakeTerminal>,
    bank: FakeBank,
    crash: Crash,
    /// The crash this run was asked for (kept for messages).
    plan: Crash,
    appends: usize,
    crash_points: usize,
}

impl World {
    fn new(crash: Crash) -> World {
        let fx = Fixture::new();
        let switch = fx.switch();
        let terminal_1 = FakeTerminal::new(
            1,
            vec![
                Operation::Sale {
                    stan: 1,
                    minor: 1_000,
                },
                Operation::Sale { stan: 2, minor: 700 },
                Operation::Refund {
                    stan: 3,
                    minor: 300,
                    original: 1,
                },
                Operation::SaleThenReverse { stan: 4, minor: 200 },
                Operation::ReverseUnsent { stan: 5, minor: 50 },
                Operation::Close,
            ],
            &[],
        );
        let terminal_2 = FakeTerminal::new(
            2,
            vec![
                Operation::Sale { stan: 1, minor: 500 },
                Operation::Sale { stan: 2, minor: 400 },
                Operation::Close,
            ],
            &[2],
        );
        let mut bank = FakeBank::default();
        bank.late.insert(trace(1, 2).key());
        let mut world = World {
            fx,
            switch,
            journal: Vec::new(),
            unsynced: Vec::new(),
            now: 0,
            events: BTreeMap::new(),
            sequence: 0,
            timers: BTreeMap::new(),
            terminals: vec![terminal_1, terminal_2],
            bank,
            crash,
            plan: crash,
            appends: 0,
            crash_points: 0,
        };
        world.schedule(0, Event::Tick);
        world
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.sequence += 1;
        self.events.insert((at, self.sequence), event);
    }

    fn execute(&mut self, effects: Vec<Effect<SwitchRecord, SwitchTimer>>) {
        for effect in effects {
            match effect {
                Effect::Append(record) => {
                    if self.crash == Crash::BeforeAppend(self.appends) {
                        return self.reboot();
                    }
                    self.appends += 1;
                    self.unsynced.push(record);
                }
                Effect::Sync => self.journal.append(&mut self.unsynced),
                Effect::Send { to, bytes } => {
                    let event = match to {
                        Peer::Terminal(id) => Event::ToTerminal(id.as_str().as_bytes()[7] - b'0', bytes),
                        Peer::Bank(_) => Event::ToBank(bytes),
                        Peer::Switch => unreachable!(),
                    };
                    self.schedule(self.now + NETWORK_DELAY_MS, event);
                }
                Effect::SetTimer { timer, at } => {
                    self.timers.insert(timer.clone(), at.0);
                    self.schedule(at.0, Event::SwitchTimer(timer));
                }
                Effect::CancelTimer(timer) => {
                    self.timers.remove(&timer);
                }
                Effect::Show(_) => panic!("the switch shows nothing"),
                Effect::CrashPoint(_) => {
                    if self.crash == Crash::AtCrashPoint(self.crash_points) {
                        return self.reboot();
                    }
                    self.crash_points += 1;
                }
            }
        }
    }

    fn reboot(&mut self) {
        self.crash = Crash::None;
        self.unsynced.clear();
        self.timers.clear();
        self.switch = Switch::boot(self.fx.config.clone(), self.journal.clone());
        let effects = self.switch.start(Millis(self.now));
        self.execute(effects);
    }

    fn quiescent(&self) -> bool {
        self.terminals.iter().all(FakeTerminal::done)
            && self.switch.queued_reversals().is_empty()
            && self.switch.in_flight().is_empty()
            && self.switch.pending_settlements().is_empty()
            && !self
                .events
                .values()
                .any(|e| matches!(e, Event::ToSwitch(..) | Event::ToBank(_) | Event::ToTerminal(..)))
    }

    fn run(&mut self) {
        while let Some(((at, _), event)) = self.events.pop_first() {
            assert!(
                at <= RUN_LIMIT_MS,
                "the run did not settle: crash {:?}",
                self.crash
            );
            self.now = at;
            self.handle(event);
            if self.quiescent() {
                return;
            }
        }
    }

    fn handle(&mut self, event: Event) {
        let now = self.now;
        match event {
            Event::ToSwitch(from, bytes) => {
                let effects = self.switch.on_message(Millis(now), &from, &bytes);
                self.execute(effects);
            }
            Event::SwitchTimer(timer) => {
                if self.timers.get(&timer) == Some(&now) {
                    self.timers.remove(&timer);
                    let effects = self.switch.on_timer(Millis(now), timer);
                    self.execute(effects);
                }
            }
            Event::ToBank(bytes) => {
                let key = self.fx.key_of(&Peer::Bank(bank_a()));
                let message = WireMessage::from_message(&verify(&bytes, &key).unwrap()).unwrap();
                for (delay, answer) in self.bank.receive(message) {
                    self.schedule(
                        now + delay,
                        Event::ToSwitch(Peer::Bank(bank_a()), signed(&answer, &key)),
                    );
                }
            }
            Event::ToTerminal(number, bytes) => {
                let key = self.fx.key_of(&Peer::Terminal(terminal(number)));
                let message = WireMessage::from_message(&verify(&bytes, &key).unwrap()).unwrap();
                let replies = self.terminals[usize::from(number - 1)].receive(now, message);
                self.send_from_terminal(number, replies);
            }
            Event::Tick => {
                for number in 1..=2u8 {
                    let messages = self.terminals[usize::from(number - 1)].tick(now);
                    self.send_from_terminal(number, messages);
                }
                self.schedule(now + TICK_MS, Event::Tick);
            }
        }
    }

    fn send_from_terminal(&mut self, number: u8, messages: Vec<WireMessage>) {
        let from = Peer::Terminal(terminal(number));
        let key = self.fx.key_of(&from);
        for message in messages {
            self.schedule(
                self.now + NETWORK_DELAY_MS,
                Event::ToSwitch(from.clone(), signed(&message, &key)),
            );
        }
    }

    /// The protocol ended correctly.
    fn check(&self) {
        let context = format!("crash {:?}", self.plan);
        assert!(self.quiescent(), "{context}: not quiescent");
        for (key, count) in &self.bank.requests_received {
            assert_eq!(*count, 1, "{context}: {key} forwarded {count} times");
        }
        for fake in &self.terminals {
            assert_eq!(
                fake.closed,
                Some(ResponseCode::Approved),
                "{context}: terminal {} batch",
                fake.number
            );
            for (stan, answers) in &fake.answers {
                assert!(
                    answers.windows(2).all(|pair| pair[0] == pair[1]),
                    "{context}: stan {stan} answered {answers:?}"
                );
            }
            for (stan, request) in &fake.requests {
                let key = request.trace.key();
                let approved =
                    fake.outcomes.get(stan) == Some(&Outcome::Approved) && !fake.forgotten.contains(stan);
                assert_eq!(
                    self.bank.live.contains_key(&key),
                    approved,
                    "{context}: {key} live at the bank"
                );
                let captured = self.switch.captured(&key.terminal, batch(1)).contains(&key);
                assert_eq!(captured, approved, "{context}: {key} captured");
            }
            let settlement = self.bank.settlements.get(&(terminal(fake.number), batch(1)));
            assert_eq!(
                settlement,
                Some(&(ResponseCode::Approved, fake.totals().net())),
                "{context}: settled"
            );
            let answer = self.switch.settlement_answer(&terminal(fake.number), batch(1));
            assert_eq!(answer, Some(ResponseCode::Approved), "{context}");
        }
    }
}

fn run(crash: Crash) -> World {
    let mut world = World::new(crash);
    world.run();
    world.check();
    world
}

#[test]
fn the_scripted_scenario_ends_correctly_without_a_crash() {
    let world = run(Crash::None);
    let outcomes = &world.terminals[0].outcomes;
    assert_eq!(outcomes[&1], Outcome::Approved);
    assert_eq!(
        outcomes[&2],
        Outcome::Declined(ResponseCode::IssuerUnavailable),
        "late approval: 91, reversed"
    );
    assert_eq!(outcomes[&3], Outcome::Approved);
    assert_eq!(outcomes[&4], Outcome::Reversed);
    assert_eq!(outcomes[&5], Outcome::Reversed);
    assert_eq!(
        world.terminals[0].answers[&5],
        vec![ResponseCode::InvalidTransaction],
        "tombstone"
    );
    assert_eq!(world.switch.discrepancies(), &[]);
    let closes = world
        .journal
        .iter()
        .filter(|r| matches!(r, SwitchRecord::CloseMismatch { .. }))
        .count();
    assert_eq!(closes, 1, "terminal 2 forgot an item: one 95 and an upload");
}

#[test]
fn recovery_from_every_journal_prefix() {
    let records = run(Crash::None).journal.len();
    assert!(
        records > 15,
        "the scenario exercises the journal ({records} records)"
    );
    for appends in 0..=records {
        run(Crash::BeforeAppend(appends));
    }
}

#[test]
fn recovery_from_every_crash_point() {
    let points = run(Crash::None).crash_points;
    assert!(points > 10, "the scenario passes the crash points ({points})");
    for point in 0..points {
        run(Crash::AtCrashPoint(point));
    }
}
