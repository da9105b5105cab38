//! The run loop around turmoil's `Sim`: host registration, scheduled
//! actions, crashes requested at crash points, the heal phase and the quiet
//! period.
//!
//! Phases: faults (the workload runs and things break), heal (faults off,
//! partitions repaired, crashed hosts restarted), quiet (run until nothing
//! happens for a while, bounded by a time limit, which is reported and never
//! a hang).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use super::driver::{run_host, HostSpec, Shared};
use super::proxy::{run_proxy, FaultProxy};
use super::tally::LinkFired;
use super::trace::{Event, EventKind};
use super::SimError;
use crate::node::StateMachine;
use crate::plan::LinkFaults;
use crate::wire::MacKey;

/// Simulated seconds since the UNIX epoch at which every run starts, so
/// nothing depends on the wall clock.
pub const EPOCH_SECONDS: u64 = 1_795_338_000;

/// Something the runner does at a simulated time.
pub enum Action {
    /// Cut both directions (or one, `from` to `to`) between two hosts.
    Partition {
        /// One side.
        from: String,
        /// Other side.
        to: String,
        /// Only `from` → `to`.
        oneway: bool,
        /// The fault plan's partition this is, to count what it cuts.
        fault: Option<usize>,
    },
    /// Repair a partition.
    Repair {
        /// One side.
        from: String,
        /// Other side.
        to: String,
        /// The fault plan's partition this ends.
        fault: Option<usize>,
    },
    /// Crash a host (it stays down until restarted or healed).
    Crash {
        /// The host.
        host: String,
        /// The fault plan's timed crash this is, to count it when it happens.
        fault: Option<usize>,
    },
    /// Restart a crashed host.
    Restart {
        /// The host.
        host: String,
    },
    /// Anything else, e.g. giving a terminal a command.
    Call(Box<dyn FnOnce()>),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Nothing happened for the whole quiet period after healing.
    Quiescent,
    /// The time limit came first: something kept going (a liveness problem).
    TimeLimit,
}

/// Owns the turmoil simulation of one run.
pub struct Runner<'a> {
    sim: turmoil::Sim<'a>,
    /// What every host shares: trace, customer view, crash controller.
    pub shared: Rc<Shared>,
    schedule: BTreeMap<(u64, u64), Action>,
    sequence: u64,
    proxies: Vec<Rc<RefCell<FaultProxy>>>,
    partitions: BTreeSet<(String, String)>,
    crashed: BTreeSet<String>,
}

impl<'a> Runner<'a> {
    /// A simulation seeded by `seed`, ticking every `tick_ms`, with torn
    /// writes on crash when `torn_write_block` is set (bytes per block).
    pub fn new(seed: u64, tick_ms: u64, torn_write_block: Option<u64>, shared: Rc<Shared>) -> Runner<'a> {
        let mut builder = turmoil::Builder::new();
        builder
            .rng_seed(seed)
            .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECONDS))
            .tick_duration(Duration::from_millis(tick_ms))
            .simulation_duration(Duration::from_secs(365 * 24 * 3600))
            .min_message_latency(Duration::from_millis(1))
            .max_message_latency(Duration::from_millis(5));
        if let Some(block) = torn_write_block {
            builder.fs().block_size(block);
        }
        Runner {
            sim: builder.build(),
            shared,
            schedule: BTreeMap::new(),
            sequence: 0,
            proxies: Vec::new(),
            partitions: BTreeSet::new(),
            crashed: BTreeSet::new(),
        }
    }

    /// Simulated milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        self.sim.elapsed().as_millis() as u64
    }

    fn trace(&self, host: &str, kind: EventKind) {
        let at_ms = self.now_ms();
        self.shared.trace.borrow_mut().push(Event {
            at_ms,
            host: host.to_string(),
            kind,
        });
    }

    /// Mark the start of a phase in the trace.
    pub fn trace_phase(&self, name: &str) {
        self.trace(
            "world",
            EventKind::Phase {
                name: name.to_string(),
            },
        );
    }

    /// Register a node host.
    pub fn add_node<N>(&mut self, spec: Rc<HostSpec<N>>)
    where
        N: StateMachine + 'static,
        N::Config: Clone,
    {
        let shared = self.shared.clone();
        let name = spec.name.clone();
        self.sim
            .host(name.as_str(), move || run_host(spec.clone(), shared.clone()));
    }

    /// Register a fault proxy host named `name` for a link, listening on
    /// `listen_port` and forwarding to `server_address`; an insider on the
    /// link signs with `insider_key`.
    pub fn add_proxy(
        &mut self,
        name: &str,
        listen_port: u16,
        server_address: String,
        faults: LinkFaults,
        seed: u64,
        insider_key: Option<MacKey>,
    ) {
        let mut proxy = FaultProxy::new(name, faults, seed);
        if let Some(key) = insider_key {
            proxy = proxy.with_insider_key(key);
        }
        let proxy = Rc::new(RefCell::new(proxy));
        self.proxies.push(proxy.clone());
        let shared = self.shared.clone();
        let host = name.to_string();
        self.sim.host(name, move || {
            run_proxy(
                listen_port,
                server_address.clone(),
                proxy.clone(),
                shared.clone(),
                host.clone(),
            )
        });
    }

    /// What each link's proxy counted of its faults, by proxy host name.
    pub fn links_fired(&self) -> BTreeMap<String, LinkFired> {
        self.proxies
            .iter()
            .map(|proxy| {
                let proxy = proxy.borrow();
                (proxy.link().to_string(), proxy.fired().clone())
            })
            .collect()
    }

    /// Do `action` at simulated time `at_ms` (actions at the same time run
    /// in the order they were scheduled).
    pub fn schedule(&mut self, at_ms: u64, action: Action) {
        self.sequence += 1;
        self.schedule.insert((at_ms, self.sequence), action);
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Partition {
                from,
                to,
                oneway,
                fault,
            } => {
                if oneway {
                    self.sim.partition_oneway(from.as_str(), to.as_str());
                } else {
                    self.sim.partition(from.as_str(), to.as_str());
                }
                let change = format!("partition {from}{}{to}", if oneway { ">" } else { "<>" });
                self.partitions.insert((from, to));
                if let Some(index) = fault {
                    self.shared.faults.borrow_mut().set_partition(index, true);
                }
                self.trace("world", EventKind::Network { change });
            }
            Action::Repair { from, to, fault } => {
                if let Some(index) = fault {
                    let mut faults = self.shared.faults.borrow_mut();
                    faults.set_partition(index, false);
                    // Another of the plan's partitions of this link is still
                    // on: the link stays cut until the last one ends.
                    if faults.partitioned(&from) {
                        return;
                    }
                }
                self.sim.repair(from.as_str(), to.as_str());
                self.partitions.remove(&(from.clone(), to.clone()));
                self.trace(
                    "world",
                    EventKind::Network {
                        change: format!("repair {from}<>{to}"),
                    },
                );
            }
            Action::Crash { host, fault } => {
                if self.crashed.insert(host.clone()) {
                    if let Some(index) = fault {
                        self.shared.faults.borrow_mut().crashed(index);
                    }
                    self.trace(&host, EventKind::Crash { point: None });
                    self.sim.crash(host.as_str());
                }
            }
            Action::Restart { host } => {
                if self.crashed.remove(&host) {
                    self.sim.bounce(host.as_str());
                }
            }
            Action::Call(call) => call(),
        }
    }

    /// Advance one tick: network, hosts, due actions, requested crashes.
    pub fn step(&mut self) -> Result<(), SimError> {
        self.sim.step().map_err(|error| SimError::Turmoil {
            at_ms: self.now_ms(),
            message: error.to_string(),
        })?;
        let now = self.now_ms();
        while let Some(entry) = self.schedule.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let action = entry.remove();
            self.apply(action);
        }
        let requests = self.shared.crashes.borrow_mut().take_requests();
        for (host, _point, restart_after_ms) in requests {
            self.crashed.insert(host.clone());
            self.sim.crash(host.as_str());
            if let Some(delay) = restart_after_ms {
                self.schedule(now + delay.max(1), Action::Restart { host });
            }
        }
        Ok(())
    }

    /// Step until simulated time `until_ms`.
    pub fn run_until(&mut self, until_ms: u64) -> Result<(), SimError> {
        while self.now_ms() < until_ms {
            self.step()?;
        }
        Ok(())
    }

    /// The heal phase: every fault off, partitions repaired, crashed hosts
    /// restarted, scheduled faults dropped (scheduled calls still run).
    pub fn heal(&mut self) {
        self.trace("world", EventKind::Phase { name: "heal".into() });
        for proxy in &self.proxies {
            proxy.borrow_mut().set_enabled(false);
        }
        self.shared.crashes.borrow_mut().disable();
        let fault_keys: Vec<(u64, u64)> = self
            .schedule
            .iter()
            .filter(|(_, action)| !matches!(action, Action::Call(_)))
            .map(|(key, _)| *key)
            .collect();
        for key in fault_keys {
            self.schedule.remove(&key);
        }
        let partitions: Vec<(String, String)> = self.partitions.iter().cloned().collect();
        for (from, to) in partitions {
            self.apply(Action::Repair {
                from,
                to,
                fault: None,
            });
        }
        self.shared.faults.borrow_mut().end_partitions();
        let crashed: Vec<String> = self.crashed.iter().cloned().collect();
        for host in crashed {
            self.apply(Action::Restart { host });
        }
    }

    /// Run until quiet: nothing traced for `settle_ms` while `settled` says
    /// no node has work pending and no proxy holds a message, or nothing
    /// traced at all for `quiet_ms`; give up at `limit_ms`.
    pub fn run_until_quiet(
        &mut self,
        quiet_ms: u64,
        settle_ms: u64,
        limit_ms: u64,
        settled: &dyn Fn() -> bool,
    ) -> Result<Ending, SimError> {
        self.trace("world", EventKind::Phase { name: "quiet".into() });
        let mut last_count = self.shared.trace.borrow().len();
        let mut last_change = self.now_ms();
        while self.now_ms() < limit_ms {
            self.step()?;
            let count = self.shared.trace.borrow().len();
            if count != last_count {
                last_count = count;
                last_change = self.now_ms();
                continue;
            }
            let silent_ms = self.now_ms() - last_change;
            let nothing_held = self.proxies.iter().all(|proxy| proxy.borrow().held() == 0);
            let calm = self.schedule.is_empty() && nothing_held;
            if calm && (silent_ms >= quiet_ms || (silent_ms >= settle_ms && settled())) {
                return Ok(Ending::Quiescent);
            }
        }
        Ok(Ending::TimeLimit)
    }
}
