//! How fast the harness is, measured on this machine in one run: seeds per
//! second of the default exploration profile on every core and on one,
//! simulated seconds per wall second, the simulation's transactions per
//! second against the protocol's own cost (the same nodes stepped directly,
//! [`Direct`]), peak memory, and the wall time of the whole library.
//!
//! `payfault bench` prints it; `--json` gives one object for tracking;
//! docs/performance.md keeps the figures of each change.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::explore::{default_jobs, explore, ExploreError, ExploreOptions};
use crate::node::bank::Bank;
use crate::node::switch::Switch;
use crate::node::terminal::{Card, Terminal, TerminalCommand, TerminalRecord, TerminalTimer};
use crate::node::{Effect, Millis, OperationId, Outcome, Peer, Shown, StateMachine};
use crate::plan::Topology;
use crate::run::{self, RunError, ScenarioOptions};
use crate::scenario::Library;
use crate::wire::types::{Currency, Expiry, Money, Pan};

/// The built-in topology's first terminal, the switch and the bank, wired
/// straight to each other: every `Send` effect is handed to its receiver
/// at once; journals, displays' timing and timers are the caller's. No
/// network, disk or clock: what the protocol itself costs.
pub struct Direct {
    me: Peer,
    terminal: Terminal,
    switch: Switch,
    bank: Bank,
    now: Millis,
    shown: Vec<Shown>,
}

/// A message in flight: who sent it, who gets it, the bytes.
type Letter = (Peer, Peer, Vec<u8>);

impl Default for Direct {
    fn default() -> Direct {
        Direct::new()
    }
}

impl Direct {
    /// Fresh nodes of the built-in topology, started.
    pub fn new() -> Direct {
        let topology = Topology::standard();
        // The configured calendars read 0 ms at the run's start (no clock
        // here is set back, so none needs the simulation's origin).
        let now = Millis(0);
        let terminal_config = topology.terminals[0].clone();
        let bank_config = topology.banks[0].clone();
        let mut direct = Direct {
            me: Peer::Terminal(terminal_config.terminal.clone()),
            terminal: Terminal::boot(terminal_config, Vec::new()),
            switch: Switch::boot(topology.switch.clone(), Vec::new()),
            bank: Bank::boot(bank_config.clone(), Vec::new()),
            now,
            shown: Vec::new(),
        };
        let mut mail = VecDeque::new();
        let effects = direct.terminal.start(now);
        direct.collect(direct.me.clone(), effects, &mut mail);
        let effects = direct.switch.start(now);
        direct.collect(Peer::Switch, effects, &mut mail);
        let effects = direct.bank.start(now);
        direct.collect(Peer::Bank(bank_config.id), effects, &mut mail);
        direct.deliver(mail);
        direct
    }

    fn collect<R, T>(&mut self, from: Peer, effects: Vec<Effect<R, T>>, mail: &mut VecDeque<Letter>) {
        for effect in effects {
            match effect {
                Effect::Send { to, bytes } => mail.push_back((from.clone(), to, bytes)),
                Effect::Show(shown) => self.shown.push(shown),
                _ => {}
            }
        }
    }

    fn deliver(&mut self, mut mail: VecDeque<Letter>) {
        while let Some((from, to, bytes)) = mail.pop_front() {
            match &to {
                Peer::Terminal(_) => {
                    let effects = self.terminal.on_message(self.now, &from, &bytes);
                    self.collect(to, effects, &mut mail);
                }
                Peer::Switch => {
                    let effects = self.switch.on_message(self.now, &from, &bytes);
                    self.collect(to, effects, &mut mail);
                }
                Peer::Bank(_) => {
                    let effects = self.bank.on_message(self.now, &from, &bytes);
                    self.collect(to, effects, &mut mail);
                }
            }
        }
    }

    /// Give the terminal a command 10 ms after the last input, and carry
    /// every message it causes to its end.
    pub fn command(&mut self, command: TerminalCommand) {
        self.now = self.now.plus(10);
        let mut mail = VecDeque::new();
        let effects = self.terminal.on_command(self.now, command);
        self.collect(self.me.clone(), effects, &mut mail);
        self.deliver(mail);
    }

    /// The terminal's input `command` without delivering what it sends
    /// (the messages are lost); the effects, for the caller to inspect.
    pub fn command_lost(&mut self, command: TerminalCommand) -> Vec<Effect<TerminalRecord, TerminalTimer>> {
        self.now = self.now.plus(10);
        let effects = self.terminal.on_command(self.now, command);
        for effect in &effects {
            if let Effect::Show(shown) = effect {
                self.shown.push(shown.clone());
            }
        }
        effects
    }

    /// Fire a terminal timer 10 s after the last input, and carry every
    /// message it causes to its end.
    pub fn fire(&mut self, timer: TerminalTimer) {
        self.now = self.now.plus(10_000);
        let mut mail = VecDeque::new();
        let effects = self.terminal.on_timer(self.now, timer);
        self.collect(self.me.clone(), effects, &mut mail);
        self.deliver(mail);
    }

    /// The last thing the terminal showed.
    pub fn last_outcome(&self) -> Option<&Outcome> {
        self.shown.last().map(|shown| &shown.outcome)
    }

    /// How many things the terminal showed.
    pub fn shown(&self) -> usize {
        self.shown.len()
    }
}

/// A sale of `minor` EUR cents on the built-in rich card.
pub fn direct_sale(operation: u32, minor: u64) -> TerminalCommand {
    TerminalCommand::Sale {
        operation: OperationId(operation),
        card: Card {
            pan: Pan::new("4111110000000001").expect("built-in PAN"),
            expiry: Expiry::from_wire("2812").expect("built-in expiry"),
        },
        amount: Money::new(minor, Currency::EUR).expect("a small amount"),
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Seeds of the default exploration profile, from seed 0.
    pub seeds: u64,
    /// Workers for the all-core figure.
    pub jobs: usize,
    /// Sales pushed through [`Direct`] for the protocol's own rate.
    pub direct_sales: u64,
    /// The scenario library to time.
    pub library: Vec<PathBuf>,
}

impl Default for BenchOptions {
    fn default() -> BenchOptions {
        BenchOptions {
            seeds: 1_000,
            jobs: default_jobs(),
            direct_sales: 20_000,
            library: vec![PathBuf::from("scenarios")],
        }
    }
}

/// The figures of one `payfault bench`.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Cores the machine reports.
    pub cores: usize,
    /// Seeds run for each exploration figure.
    pub seeds: u64,
    /// Workers of the all-core figure.
    pub jobs: usize,
    /// Seeds per wall second on `jobs` workers.
    pub seeds_per_s_all: f64,
    /// Seeds per wall second on one worker.
    pub seeds_per_s_one: f64,
    /// Simulated seconds per wall second on one worker.
    pub simulated_s_per_wall_s_one: f64,
    /// Workload operations per wall second on one worker.
    pub sim_transactions_per_s_one: f64,
    /// Sales per wall second through the nodes stepped directly.
    pub direct_transactions_per_s: f64,
    /// How many times slower the simulation runs a transaction than the
    /// nodes alone (direct rate over simulated rate, one core each).
    pub overhead_ratio: f64,
    /// Peak resident memory of the process, KiB (0 where unknown).
    pub peak_rss_kib: u64,
    /// Scenarios in the library.
    pub library_scenarios: usize,
    /// Wall time of running the whole library once, one after another.
    pub library_wall_ms: u64,
}

/// Why a measurement could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BenchError {
    /// Exploration stopped.
    #[error(transparent)]
    Explore(#[from] ExploreError),
    /// A library scenario could not be run.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The library could not be loaded.
    #[error("{0}")]
    Library(String),
    /// The direct pipeline did not approve a sale: the measurement would
    /// not be of the protocol's work.
    #[error("the direct pipeline did not approve sale {0}")]
    DirectNotApproved(u64),
}

fn explore_rate(seeds: u64, jobs: usize) -> Result<(f64, u64, u64, Duration), BenchError> {
    let options = ExploreOptions {
        jobs,
        ..ExploreOptions::seeds(0, seeds)
    };
    let summary = explore(&options, |_| {})?;
    Ok((
        summary.seeds_per_second(),
        summary.simulated_ms,
        summary.operations,
        summary.wall,
    ))
}

/// Sales per second through [`Direct`], a fresh world every 100 sales (so
/// the terminal's batch and the bank's ledger stay small, as in a seed).
pub fn direct_rate(sales: u64) -> Result<f64, BenchError> {
    let began = Instant::now();
    let mut direct = Direct::new();
    for index in 0..sales {
        if index % 100 == 0 {
            direct = Direct::new();
        }
        let operation = (index % 100) as u32 + 1;
        direct.command(direct_sale(operation, 1_00 + index % 50));
        if !matches!(direct.last_outcome(), Some(Outcome::Approved { .. })) {
            return Err(BenchError::DirectNotApproved(index));
        }
    }
    Ok(sales as f64 / began.elapsed().as_secs_f64().max(1e-9))
}

/// The process's peak resident memory in KiB, where the OS says.
pub fn peak_rss_kib() -> u64 {
    #[cfg(unix)]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a rusage into the pointer it is given,
        // which points at enough zeroed memory for one.
        let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
        if ok {
            // SAFETY: getrusage succeeded, so the struct is initialised.
            let usage = unsafe { usage.assume_init() };
            return usage.ru_maxrss.max(0) as u64;
        }
    }
    0
}

/// Measure everything of [`BenchReport`] with `options`.
pub fn measure(options: &BenchOptions) -> Result<BenchReport, BenchError> {
    let library = Library::load(&options.library)
        .and_then(Library::valid)
        .map_err(BenchError::Library)?;
    let began = Instant::now();
    for scenario in &library {
        run::scenario(scenario, &ScenarioOptions::default())?;
    }
    let library_wall_ms = began.elapsed().as_millis() as u64;
    let (seeds_per_s_all, _, _, _) = explore_rate(options.seeds, options.jobs)?;
    let (seeds_per_s_one, simulated_ms, operations, wall) = explore_rate(options.seeds, 1)?;
    let wall_s = wall.as_secs_f64().max(1e-9);
    let sim_transactions_per_s_one = operations as f64 / wall_s;
    let direct_transactions_per_s = direct_rate(options.direct_sales)?;
    Ok(BenchReport {
        cores: default_jobs(),
        seeds: options.seeds,
        jobs: options.jobs,
        seeds_per_s_all,
        seeds_per_s_one,
        simulated_s_per_wall_s_one: simulated_ms as f64 / 1000.0 / wall_s,
        sim_transactions_per_s_one,
        direct_transactions_per_s,
        overhead_ratio: direct_transactions_per_s / sim_transactions_per_s_one.max(1e-9),
        peak_rss_kib: peak_rss_kib(),
        library_scenarios: library.len(),
        library_wall_ms,
    })
}

impl BenchReport {
    /// The figures as a short table.
    pub fn table(&self) -> String {
        let rows = [
            (
                format!("exploration, {} workers", self.jobs),
                format!("{:.1} seeds/s", self.seeds_per_s_all),
            ),
            (
                "exploration, 1 worker".to_string(),
                format!("{:.1} seeds/s", self.seeds_per_s_one),
            ),
            (
                "simulated time, 1 worker".to_string(),
                format!("{:.0} simulated s per wall s", self.simulated_s_per_wall_s_one),
            ),
            (
                "transactions in the simulation, 1 worker".to_string(),
                format!("{:.0} /s", self.sim_transactions_per_s_one),
            ),
            (
                "transactions through the nodes directly".to_string(),
                format!("{:.0} /s", self.direct_transactions_per_s),
            ),
            (
                "simulation overhead".to_string(),
                format!("{:.0}x the protocol's own cost", self.overhead_ratio),
            ),
            (
                "peak memory".to_string(),
                format!("{} MiB", self.peak_rss_kib / 1024),
            ),
            (
                format!("the library ({} scenarios)", self.library_scenarios),
                format!("{:.2} s", self.library_wall_ms as f64 / 1000.0),
            ),
        ];
        let mut out = format!(
            "{} seeds of the default profile on a {}-core machine\n",
            self.seeds, self.cores
        );
        for (what, figure) in rows {
            out.push_str(&format!("  {what:<44} {figure}\n"));
        }
        out
    }
}
