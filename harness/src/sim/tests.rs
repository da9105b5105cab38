//! The simulation machinery on two toy nodes: a client that sends numbered
//! 0800 echoes until each is answered, and a server that journals every
//! STAN it answers. Shows each fault kind acting, crash points, recovery of
//! synced (and only synced) records, and run-to-run determinism.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::driver::{Arm, CommandQueue, CrashController, HostSpec, Shared};
use super::runner::{Action, Ending, Runner};
use super::trace::{EventKind, TraceHash};
use crate::node::{CrashPoint, Effect, Millis, Peer, StateMachine};
use crate::plan::{
    ClockModel, Direction, LinkFaults, MessageAction, MessageMatch, MessageRule, RandomMessageFaults,
};
use crate::wire::typed::{NetworkRequest, NetworkResponse};
use crate::wire::types::{ResponseCode, Stan, TransmissionTime};
use crate::wire::{self, MacKey, WireMessage};

const KEY: MacKey = MacKey([5; 16]);

fn signed(message: WireMessage) -> Vec<u8> {
    wire::sign(&mut message.to_message(), &KEY).unwrap()
}

fn transmitted() -> TransmissionTime {
    TransmissionTime::from_wire("1122090000").unwrap()
}

/// Sends `Ping(n)` as 0800 STAN n, retries every 100 ms until answered.
struct Client {
    answered: BTreeSet<u32>,
}

impl StateMachine for Client {
    type Config = ();
    type Record = u32;
    type Timer = u32;
    type Command = u32;

    fn boot(_: (), _: Vec<u32>) -> Client {
        Client {
            answered: BTreeSet::new(),
        }
    }
    fn start(&mut self, _: Millis) -> Vec<Effect<u32, u32>> {
        Vec::new()
    }
    fn on_message(&mut self, _: Millis, _: &Peer, bytes: &[u8]) -> Vec<Effect<u32, u32>> {
        let Ok(message) = wire::verify(bytes, &KEY) else {
            return Vec::new();
        };
        if let Ok(WireMessage::NetworkResponse(response)) = WireMessage::from_message(&message) {
            self.answered.insert(response.stan.value());
            return vec![Effect::CancelTimer(response.stan.value())];
        }
        Vec::new()
    }
    fn on_timer(&mut self, now: Millis, stan: u32) -> Vec<Effect<u32, u32>> {
        if self.answered.contains(&stan) {
            return Vec::new();
        }
        self.on_command(now, stan)
    }
    fn on_command(&mut self, now: Millis, stan: u32) -> Vec<Effect<u32, u32>> {
        let request = NetworkRequest {
            code: 301,
            stan: Stan::new(stan).unwrap(),
            transmitted: transmitted(),
        };
        vec![
            Effect::Send {
                to: Peer::Switch,
                bytes: signed(WireMessage::NetworkRequest(request)),
            },
            Effect::SetTimer {
                timer: stan,
                at: now.plus(100),
            },
        ]
    }
}

/// Journals each new STAN (append, crash point, sync, crash point), then
/// answers; a repeat of a journalled STAN is answered without a new record.
struct Server {
    seen: BTreeSet<u32>,
}

impl StateMachine for Server {
    type Config = ();
    type Record = u32;
    type Timer = u32;
    type Command = u32;

    fn boot(_: (), journal: Vec<u32>) -> Server {
        Server {
            seen: journal.into_iter().collect(),
        }
    }
    fn start(&mut self, _: Millis) -> Vec<Effect<u32, u32>> {
        Vec::new()
    }
    fn on_message(&mut self, _: Millis, from: &Peer, bytes: &[u8]) -> Vec<Effect<u32, u32>> {
        let Ok(message) = wire::verify(bytes, &KEY) else {
            return Vec::new();
        };
        let Ok(WireMessage::NetworkRequest(request)) = WireMessage::from_message(&message) else {
            return Vec::new();
        };
        let response = NetworkResponse {
            code: request.code,
            stan: request.stan,
            transmitted: request.transmitted,
            response: ResponseCode::Approved,
        };
        let reply = Effect::Send {
            to: from.clone(),
            bytes: signed(WireMessage::NetworkResponse(response)),
        };
        if !self.seen.insert(request.stan.value()) {
            return vec![reply];
        }
        vec![
            Effect::Append(request.stan.value()),
            Effect::CrashPoint(CrashPoint("server.after_append_before_sync")),
            Effect::Sync,
            Effect::CrashPoint(CrashPoint("server.after_sync_before_reply")),
            reply,
        ]
    }
    fn on_timer(&mut self, _: Millis, _: u32) -> Vec<Effect<u32, u32>> {
        Vec::new()
    }
    fn on_command(&mut self, _: Millis, _: u32) -> Vec<Effect<u32, u32>> {
        Vec::new()
    }
}

struct Plan {
    seed: u64,
    pings: u32,
    faults: LinkFaults,
    crashes: Vec<Arm>,
    actions: Vec<(u64, Action)>,
    torn_write_block: Option<u64>,
}

impl Plan {
    fn new(seed: u64) -> Plan {
        Plan {
            seed,
            pings: 20,
            faults: LinkFaults::default(),
            crashes: Vec::new(),
            actions: Vec::new(),
            torn_write_block: None,
        }
    }
}

struct Outcome {
    answered: BTreeSet<u32>,
    durable: Vec<u32>,
    events: Vec<EventKind>,
    hash: TraceHash,
    ending: Ending,
}

fn run(plan: Plan) -> Outcome {
    let shared = Rc::new(Shared {
        crashes: RefCell::new(CrashController::new(plan.crashes)),
        ..Shared::default()
    });
    let mut runner = Runner::new(plan.seed, 1, plan.torn_write_block, shared.clone());
    let client_commands = Rc::new(CommandQueue::default());
    let client = Rc::new(HostSpec::<Client> {
        name: "client".into(),
        config: (),
        listen_port: None,
        dials: BTreeMap::from([(Peer::Switch, "link:7000".to_string())]),
        accepts: BTreeMap::new(),
        journal_path: "/client.journal".into(),
        clock: ClockModel::default(),
        connect_timeout_ms: 50,
        stale_connection_ms: 300,
        commands: client_commands.clone(),
        node: Rc::new(RefCell::new(None)),
        durable: Rc::new(RefCell::new(Vec::new())),
        me: Peer::Terminal(crate::wire::types::TerminalId::new("CLIENT01").unwrap()),
        evidence_keys: BTreeMap::new(),
    });
    let server = Rc::new(HostSpec::<Server> {
        name: "server".into(),
        config: (),
        listen_port: Some(8000),
        dials: BTreeMap::new(),
        accepts: BTreeMap::from([(
            "link".to_string(),
            Peer::Terminal(crate::wire::types::TerminalId::new("CLIENT01").unwrap()),
        )]),
        journal_path: "/server.journal".into(),
        clock: ClockModel::default(),
        connect_timeout_ms: 50,
        stale_connection_ms: 300,
        commands: Rc::new(CommandQueue::default()),
        node: Rc::new(RefCell::new(None)),
        durable: Rc::new(RefCell::new(Vec::new())),
        me: Peer::Switch,
        evidence_keys: BTreeMap::new(),
    });
    runner.add_node(client.clone());
    runner.add_node(server.clone());
    runner.add_proxy(
        "link",
        7000,
        "server:8000".into(),
        plan.faults,
        plan.seed ^ 0x5eed,
        None,
    );
    for stan in 1..=plan.pings {
        let commands = client_commands.clone();
        runner.schedule(
            u64::from(stan) * 10,
            Action::Call(Box::new(move || commands.push(stan))),
        );
    }
    for (at, action) in plan.actions {
        runner.schedule(at, action);
    }
    runner.run_until(2_000).unwrap();
    runner.heal();
    let ending = runner.run_until_quiet(1_000, 1_000, 60_000, &|| false).unwrap();
    let answered = client.node.borrow().as_ref().unwrap().answered.clone();
    let durable = server.durable.borrow().clone();
    let trace = shared.trace.borrow();
    Outcome {
        answered,
        durable,
        events: trace.events().iter().map(|e| e.kind.clone()).collect(),
        hash: trace.hash(),
        ending,
    }
}

/// The records in ascending order; a duplicate record would survive sorting.
fn sorted(mut records: Vec<u32>) -> Vec<u32> {
    records.sort_unstable();
    records
}

fn all(pings: u32) -> BTreeSet<u32> {
    (1..=pings).collect()
}

#[test]
fn without_faults_every_ping_is_answered_and_journalled_once() {
    let outcome = run(Plan::new(1));
    assert_eq!(outcome.ending, Ending::Quiescent);
    assert_eq!(outcome.answered, all(20));
    assert_eq!(outcome.durable, (1..=20).collect::<Vec<_>>());
}

#[test]
fn dropped_answer_is_retried_and_answered_from_the_journal() {
    let mut plan = Plan::new(2);
    plan.faults.rules.push(MessageRule {
        matching: MessageMatch {
            direction: Some(Direction::Response),
            stan: Some(3),
            ..MessageMatch::default()
        },
        action: MessageAction::Drop,
        from_ms: None,
        until_ms: None,
    });
    let outcome = run(plan);
    assert!(outcome
        .events
        .iter()
        .any(|e| matches!(e, EventKind::Dropped { .. })));
    assert_eq!(outcome.answered, all(20));
    assert_eq!(outcome.durable.iter().filter(|stan| **stan == 3).count(), 1);
}

#[test]
fn duplicates_delays_and_corruption_do_not_duplicate_records() {
    let mut plan = Plan::new(3);
    let rule = |stan, action| MessageRule {
        matching: MessageMatch {
            direction: Some(Direction::Request),
            stan: Some(stan),
            ..MessageMatch::default()
        },
        action,
        from_ms: None,
        until_ms: None,
    };
    plan.faults
        .rules
        .push(rule(2, MessageAction::Duplicate { copies: 3 }));
    plan.faults
        .rules
        .push(rule(4, MessageAction::Delay { delay_ms: 300 }));
    plan.faults
        .rules
        .push(rule(6, MessageAction::Corrupt { offset: Some(20) }));
    let outcome = run(plan);
    for kind in ["Duplicated", "Delayed", "Corrupted"] {
        assert!(
            outcome.events.iter().any(|e| format!("{e:?}").starts_with(kind)),
            "no {kind} event"
        );
    }
    assert_eq!(outcome.answered, all(20));
    assert_eq!(outcome.durable.len(), 20, "{:?}", outcome.durable);
}

#[test]
fn crash_after_sync_keeps_the_record_and_the_retry_is_answered_from_it() {
    let mut plan = Plan::new(4);
    plan.crashes.push(Arm {
        host: "server".into(),
        point: "server.after_sync_before_reply".into(),
        nth: 5,
        restart_after_ms: Some(200),
    });
    let outcome = run(plan);
    let crash_at = outcome
        .events
        .iter()
        .position(|e| matches!(e, EventKind::Crash { point: Some(_) }))
        .unwrap();
    assert!(outcome.events[crash_at..]
        .iter()
        .any(|e| matches!(e, EventKind::Boot { records: 5, .. })));
    assert_eq!(outcome.answered, all(20));
    assert_eq!(sorted(outcome.durable), (1..=20).collect::<Vec<_>>());
}

#[test]
fn crash_before_sync_loses_the_unsynced_record_and_torn_tails_are_discarded() {
    for torn in [None, Some(3)] {
        let mut plan = Plan::new(5);
        plan.torn_write_block = torn;
        plan.crashes.push(Arm {
            host: "server".into(),
            point: "server.after_append_before_sync".into(),
            nth: 7,
            restart_after_ms: Some(150),
        });
        let outcome = run(plan);
        let boots: Vec<&EventKind> = outcome
            .events
            .iter()
            .filter(|e| matches!(e, EventKind::Boot { .. }))
            .collect();
        // Client and server boot at the start; the server boots again with the 6 synced records.
        assert!(
            boots
                .iter()
                .any(|e| matches!(e, EventKind::Boot { records: 6, .. })),
            "{boots:?}"
        );
        assert_eq!(outcome.answered, all(20));
        assert_eq!(
            sorted(outcome.durable),
            (1..=20).collect::<Vec<_>>(),
            "torn {torn:?}"
        );
    }
}

#[test]
fn partition_until_heal_then_everything_is_answered() {
    let mut plan = Plan::new(6);
    plan.actions.push((
        50,
        Action::Partition {
            from: "link".into(),
            to: "server".into(),
            oneway: false,
            fault: None,
        },
    ));
    let outcome = run(plan);
    assert!(outcome
        .events
        .iter()
        .any(|e| matches!(e, EventKind::Network { change } if change.starts_with("partition"))));
    assert_eq!(outcome.answered, all(20));
}

#[test]
fn crash_at_a_time_and_restart() {
    let mut plan = Plan::new(7);
    plan.actions.push((
        55,
        Action::Crash {
            host: "server".into(),
            fault: None,
        },
    ));
    plan.actions.push((
        400,
        Action::Restart {
            host: "server".into(),
        },
    ));
    let outcome = run(plan);
    assert!(outcome
        .events
        .iter()
        .any(|e| matches!(e, EventKind::Crash { point: None })));
    assert_eq!(outcome.answered, all(20));
    assert_eq!(outcome.durable.len(), 20);
}

fn random_plan(seed: u64) -> Plan {
    let mut plan = Plan::new(seed);
    plan.faults.random = RandomMessageFaults {
        drop_ppm: 100_000,
        duplicate_ppm: 100_000,
        delay_ppm: 100_000,
        delay_ms_max: 200,
        corrupt_ppm: 50_000,
    };
    plan
}

#[test]
fn same_seed_same_trace_hash_and_seeds_differ() {
    let first = run(random_plan(42));
    let second = run(random_plan(42));
    assert_eq!(first.hash, second.hash);
    assert_eq!(first.events, second.events);
    assert_eq!(first.answered, all(20));
    assert_ne!(first.hash, run(random_plan(43)).hash);
}
