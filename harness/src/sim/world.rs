//! The payment world: terminals, a switch and banks on turmoil, with a
//! fault proxy on every link, driven by a workload and a fault plan, and
//! the history the checker judges (gathered by `evidence`).
//!
//! Hosts, in registration order: banks, bank links, the switch, terminal
//! links, terminals. Host names: a terminal is named by its id
//! (`TERM0001`), the switch `switch`, a bank by its id (`bank-a`), a link
//! proxy `link-<terminal or bank>`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::driver::{Arm, CommandQueue, CrashController, HostSpec, Shared};
use super::evidence::{self, Hosts};
use super::runner::{Action, Ending, Runner};
use super::tally::{self, FaultBook, FaultTally};
use super::trace::{Event, EventKind, Trace, TraceHash};
use super::{SimError, SimOptions};
use crate::history::History;
use crate::node::bank::Bank;
use crate::node::switch::Switch;
use crate::node::terminal::{Terminal, TerminalCommand};
use crate::node::{OperationId, Peer, StateMachine};
use crate::plan::{HostId, LinkId, Plan, WorkItem, LOCAL_CLOCK_ORIGIN_MS, SWITCH_HOST};

const SWITCH_PORT: u16 = 5000;
const BANK_PORT: u16 = 6000;

/// What a run produced.
#[derive(Debug)]
pub struct RunResult {
    /// The evidence for the checker.
    pub history: History,
    /// The trace (events kept if asked).
    pub trace: Trace,
    /// Its hash.
    pub trace_hash: TraceHash,
    /// Simulated milliseconds the run took.
    pub simulated_ms: u64,
    /// How it ended.
    pub ending: Ending,
    /// Every fault of the plan and how often it fired (not in the trace).
    pub faults: FaultTally,
}

struct Slots<N: StateMachine> {
    spec: Rc<HostSpec<N>>,
}

fn spec<N: StateMachine>(config: N::Config, me: Peer, plan: &Plan) -> HostSpec<N> {
    let host = HostId::from(&me);
    let name = host.name();
    HostSpec {
        name: name.to_string(),
        config,
        listen_port: None,
        dials: BTreeMap::new(),
        accepts: BTreeMap::new(),
        journal_path: format!("/{name}.journal").into(),
        clock: plan.faults.clocks.get(&host).copied().unwrap_or_default(),
        connect_timeout_ms: 500,
        stale_connection_ms: plan.timing.stale_connection_ms,
        commands: Rc::new(CommandQueue::default()),
        node: Rc::new(RefCell::new(None)),
        durable: Rc::new(RefCell::new(Vec::new())),
        me,
        evidence_keys: BTreeMap::new(),
    }
}

/// Node configurations as the driver runs them: calendars and maintenance
/// windows moved to the hosts' local clock origin.
fn localized(plan: &Plan) -> Plan {
    let mut plan = plan.clone();
    let origin = LOCAL_CLOCK_ORIGIN_MS;
    let topology = &mut plan.topology;
    for terminal in &mut topology.terminals {
        terminal.calendar = terminal.calendar.with_origin(origin);
    }
    topology.switch.calendar = topology.switch.calendar.with_origin(origin);
    for bank in &mut topology.banks {
        bank.calendar = bank.calendar.with_origin(origin);
        for window in &mut bank.maintenance {
            *window = (window.0.plus(origin), window.1.plus(origin));
        }
    }
    plan
}

/// Run a plan to the end: faults, heal, quiet period; then gather history.
pub fn run(plan: &Plan, options: &SimOptions) -> Result<RunResult, SimError> {
    // The evidence states the configuration as configured, not as the
    // driver shifted it: no node calendar code between the two.
    let configured = plan;
    let localized = localized(plan);
    let plan = &localized;
    let shared = Rc::new(Shared {
        trace: RefCell::new(Trace::new(options.keep_events)),
        crashes: RefCell::new(CrashController::new(
            plan.faults.crash_points.iter().map(Arm::from).collect(),
        )),
        faults: RefCell::new(FaultBook::new(&plan.faults)),
        ..Shared::default()
    });
    let mut runner = Runner::new(
        plan.seed,
        plan.timing.tick_ms,
        plan.faults.torn_write_block,
        shared.clone(),
    );
    let banks = add_banks(&mut runner, plan);
    let switch = add_switch(&mut runner, plan);
    let terminals = add_terminals(&mut runner, plan);
    schedule_workload(&mut runner, plan, &terminals, &banks)?;
    schedule_faults(&mut runner, plan);
    runner.trace_phase("faults");
    trace_fault_setup(&shared, plan);
    runner.run_until(plan.timing.fault_phase_ms)?;
    runner.heal();
    let mut next_operation = plan.workload.len() as u32 + 1;
    if plan.timing.close_batches_at_end {
        for (terminal, config) in terminals.iter().zip(&plan.topology.terminals) {
            let operation = OperationId(next_operation);
            next_operation += 1;
            // The clerk closes once the terminal can take a command: a
            // backlog left by the faults is worked off first.
            while !has_room(terminal, config.command_queue_max) && runner.now_ms() < plan.timing.limit_ms {
                runner.step()?;
            }
            let command = TerminalCommand::CloseBatch { operation };
            record_invocation(&shared, runner.now_ms(), &terminal.spec.name, &command);
            terminal.spec.commands.push(command);
        }
    }
    let hosts = Hosts {
        banks: banks.iter().map(|slot| &*slot.spec).collect(),
        switch: &switch.spec,
        terminals: terminals.iter().map(|slot| &*slot.spec).collect(),
    };
    let settled = || evidence::open_work(hosts.switch, &hosts.terminals).is_empty();
    let ending = runner.run_until_quiet(
        plan.timing.quiet_ms,
        plan.timing.settle_ms,
        plan.timing.limit_ms,
        &settled,
    )?;
    runner.trace_phase("end");
    let simulated_ms = runner.now_ms();
    let history = evidence::gather(configured, &shared, &hosts, ending, next_operation);
    evidence::mark_shared_stans(&hosts);
    let trace = shared.trace.borrow().clone();
    let trace_hash = trace.hash();
    let faults = tally::tally(
        &configured.faults,
        &runner.links_fired(),
        &shared.faults.borrow(),
        &shared.crashes.borrow().fired(),
    );
    Ok(RunResult {
        history,
        trace,
        trace_hash,
        simulated_ms,
        ending,
        faults,
    })
}

fn add_banks(runner: &mut Runner, plan: &Plan) -> Vec<Slots<Bank>> {
    let mut banks = Vec::new();
    for config in &plan.topology.banks {
        let link = LinkId::Bank(config.id.clone());
        let name = link.name().to_string();
        let mut host = spec::<Bank>(config.clone(), Peer::Bank(config.id.clone()), plan);
        host.listen_port = Some(BANK_PORT);
        host.accepts.insert(link.proxy_host(), Peer::Switch);
        host.evidence_keys.insert(Peer::Switch, config.link_key);
        let host = Rc::new(host);
        runner.add_node(host.clone());
        let faults = plan.faults.links.get(&link).cloned().unwrap_or_default();
        let seed = plan.seed ^ (0xBA4C_0000 + banks.len() as u64);
        runner.add_proxy(
            &link.proxy_host(),
            BANK_PORT,
            format!("{name}:{BANK_PORT}"),
            faults,
            seed,
            None,
        );
        banks.push(Slots { spec: host });
    }
    banks
}

fn add_switch(runner: &mut Runner, plan: &Plan) -> Slots<Switch> {
    let mut host = spec::<Switch>(plan.topology.switch.clone(), Peer::Switch, plan);
    host.listen_port = Some(SWITCH_PORT);
    for link in &plan.topology.switch.terminals {
        host.accepts.insert(
            LinkId::Terminal(link.terminal.clone()).proxy_host(),
            Peer::Terminal(link.terminal.clone()),
        );
        host.evidence_keys
            .insert(Peer::Terminal(link.terminal.clone()), link.key);
    }
    for link in &plan.topology.switch.banks {
        let peer = Peer::Bank(link.bank.clone());
        let proxy = LinkId::Bank(link.bank.clone()).proxy_host();
        host.dials.insert(peer.clone(), format!("{proxy}:{BANK_PORT}"));
        host.evidence_keys.insert(peer, link.key);
    }
    let host = Rc::new(host);
    runner.add_node(host.clone());
    Slots { spec: host }
}

fn add_terminals(runner: &mut Runner, plan: &Plan) -> Vec<Slots<Terminal>> {
    let mut terminals = Vec::new();
    for config in &plan.topology.terminals {
        let link = LinkId::Terminal(config.terminal.clone());
        let faults = plan.faults.links.get(&link).cloned().unwrap_or_default();
        let seed = plan.seed ^ (0x7E41_0000 + terminals.len() as u64);
        runner.add_proxy(
            &link.proxy_host(),
            SWITCH_PORT,
            format!("{SWITCH_HOST}:{SWITCH_PORT}"),
            faults,
            seed,
            Some(config.key),
        );
        let mut host = spec::<Terminal>(config.clone(), Peer::Terminal(config.terminal.clone()), plan);
        host.dials
            .insert(Peer::Switch, format!("{}:{SWITCH_PORT}", link.proxy_host()));
        host.evidence_keys.insert(Peer::Switch, config.key);
        let host = Rc::new(host);
        runner.add_node(host.clone());
        terminals.push(Slots { spec: host });
    }
    terminals
}

fn record_invocation(shared: &Shared, at_ms: u64, host: &str, command: &TerminalCommand) {
    shared.trace.borrow_mut().push(Event {
        at_ms,
        host: host.to_string(),
        kind: EventKind::Invoke {
            operation: command.operation(),
            what: describe_command(command),
        },
    });
}

fn describe_command(command: &TerminalCommand) -> String {
    match command {
        TerminalCommand::Sale { card, amount, .. } => format!("sale {amount} card {}", card.pan.masked()),
        TerminalCommand::Refund { original, amount, .. } => format!("refund {amount} of {original}"),
        TerminalCommand::Void { original, .. } => format!("void {original}"),
        TerminalCommand::Balance { card, .. } => format!("balance card {}", card.pan.masked()),
        TerminalCommand::CloseBatch { .. } => "close batch".to_string(),
    }
}

/// At `at_ms`, trace `event` on the node's host and give it `command`.
fn schedule_command<N: StateMachine + 'static>(
    runner: &mut Runner,
    at_ms: u64,
    spec: &Rc<HostSpec<N>>,
    command: N::Command,
    event: EventKind,
) {
    let (queue, shared, host) = (spec.commands.clone(), runner.shared.clone(), spec.name.clone());
    runner.schedule(
        at_ms,
        Action::Call(Box::new(move || {
            shared.trace.borrow_mut().push(Event {
                at_ms,
                host,
                kind: event,
            });
            queue.push(command);
        })),
    );
}

fn schedule_workload(
    runner: &mut Runner,
    plan: &Plan,
    terminals: &[Slots<Terminal>],
    banks: &[Slots<Bank>],
) -> Result<(), SimError> {
    for step in &plan.workload {
        match &step.item {
            WorkItem::Terminal { terminal, command } => {
                let slot = terminals
                    .iter()
                    .find(|slot| slot.spec.name == terminal.as_str())
                    .ok_or_else(|| SimError::UnknownTerminal(terminal.clone()))?;
                let event = EventKind::Invoke {
                    operation: command.operation(),
                    what: describe_command(command),
                };
                schedule_command(runner, step.at_ms, &slot.spec, command.clone(), event);
            }
            WorkItem::Bank { bank, command } => {
                let slot = banks
                    .iter()
                    .find(|slot| slot.spec.name == bank.0)
                    .ok_or_else(|| SimError::UnknownBank(bank.clone()))?;
                let event = EventKind::Operator {
                    what: format!("{command:?}"),
                };
                schedule_command(runner, step.at_ms, &slot.spec, command.clone(), event);
            }
        }
    }
    Ok(())
}

/// Put the parts of the fault plan that act silently into the trace.
fn trace_fault_setup(shared: &Shared, plan: &Plan) {
    let mut changes = Vec::new();
    for (host, clock) in &plan.faults.clocks {
        changes.push(format!(
            "clock of {host}: offset {} ms, drift {} ppm",
            clock.offset_ms, clock.drift_ppm
        ));
    }
    for crash in &plan.faults.crash_points {
        changes.push(format!(
            "armed crash of {} at {} (pass {})",
            crash.host, crash.point, crash.nth
        ));
    }
    if let Some(block) = plan.faults.torn_write_block {
        changes.push(format!("torn writes on crash, {block}-byte blocks"));
    }
    let mut trace = shared.trace.borrow_mut();
    for change in changes {
        trace.push(Event {
            at_ms: 0,
            host: "world".into(),
            kind: EventKind::Network { change },
        });
    }
}

fn schedule_faults(runner: &mut Runner, plan: &Plan) {
    for (index, partition) in plan.faults.partitions.iter().enumerate() {
        let proxy = partition.link.proxy_host();
        let server = partition.link.server().name().to_string();
        runner.schedule(
            partition.from_ms,
            Action::Partition {
                from: proxy.clone(),
                to: server.clone(),
                oneway: false,
                fault: Some(index),
            },
        );
        if let Some(until) = partition.until_ms {
            runner.schedule(
                until,
                Action::Repair {
                    from: proxy,
                    to: server,
                    fault: Some(index),
                },
            );
        }
    }
    for (index, crash) in plan.faults.crashes.iter().enumerate() {
        runner.schedule(
            crash.at_ms,
            Action::Crash {
                host: crash.host.name().to_string(),
                fault: Some(index),
            },
        );
        if let Some(delay) = crash.restart_after_ms {
            runner.schedule(
                crash.at_ms + delay.max(1),
                Action::Restart {
                    host: crash.host.name().to_string(),
                },
            );
        }
    }
}

/// Whether `terminal` is up and its command queue has room for one more.
fn has_room(terminal: &Slots<Terminal>, queue_max: usize) -> bool {
    let node = terminal.spec.node.borrow();
    node.as_ref()
        .is_some_and(|node| node.command_queue_len() + terminal.spec.commands.len() < queue_max)
}
