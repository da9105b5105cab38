//! The protocol's own cost: a sale, a refund and a reversal pushed straight
//! through the terminal, switch and bank state machines of the built-in
//! topology, with no simulation (no network, no disk, no clock): every
//! `Send` effect is handed to its receiver at once, journals are dropped,
//! timers only fire when a step asks for one. This is the floor the
//! simulation's overhead is measured against. Run: `cargo bench --bench nodes`.

use std::collections::VecDeque;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use payfault::node::bank::Bank;
use payfault::node::switch::Switch;
use payfault::node::terminal::{Card, Terminal, TerminalCommand, TerminalTimer};
use payfault::node::{Effect, Millis, OperationId, Outcome, Peer, Shown, StateMachine};
use payfault::plan::Topology;
use payfault::wire::types::{Currency, Expiry, Money, Pan};

/// The three nodes of the built-in topology's first terminal, wired
/// directly.
struct Direct {
    me: Peer,
    terminal: Terminal,
    switch: Switch,
    bank: Bank,
    now: Millis,
    shown: Vec<Shown>,
}

/// A message in flight: who sent it, who gets it, the bytes.
type Letter = (Peer, Peer, Vec<u8>);

impl Direct {
    fn new() -> Direct {
        let topology = Topology::standard();
        let now = Millis(payfault::plan::LOCAL_CLOCK_ORIGIN_MS);
        let mut direct = Direct {
            me: Peer::Terminal(topology.terminals[0].terminal.clone()),
            terminal: Terminal::boot(topology.terminals[0].clone(), Vec::new()),
            switch: Switch::boot(topology.switch.clone(), Vec::new()),
            bank: Bank::boot(topology.banks[0].clone(), Vec::new()),
            now,
            shown: Vec::new(),
        };
        let mut mail = VecDeque::new();
        let effects = direct.terminal.start(now);
        direct.collect(
            Peer::Terminal(topology.terminals[0].terminal.clone()),
            effects,
            &mut mail,
        );
        let effects = direct.switch.start(now);
        direct.collect(Peer::Switch, effects, &mut mail);
        let effects = direct.bank.start(now);
        direct.collect(Peer::Bank(topology.banks[0].id.clone()), effects, &mut mail);
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

    fn command(&mut self, command: TerminalCommand) {
        self.now = self.now.plus(10);
        let mut mail = VecDeque::new();
        let effects = self.terminal.on_command(self.now, command);
        self.collect(self.me.clone(), effects, &mut mail);
        self.deliver(mail);
    }

    fn fire(&mut self, timer: TerminalTimer) {
        self.now = self.now.plus(10_000);
        let mut mail = VecDeque::new();
        let effects = self.terminal.on_timer(self.now, timer);
        self.collect(self.me.clone(), effects, &mut mail);
        self.deliver(mail);
    }

    fn last_outcome(&self) -> &Outcome {
        &self.shown.last().expect("something was shown").outcome
    }
}

fn card() -> Card {
    Card {
        pan: Pan::new("4111110000000001").unwrap(),
        expiry: Expiry::from_wire("2812").unwrap(),
    }
}

fn eur(minor: u64) -> Money {
    Money::new(minor, Currency::EUR).unwrap()
}

fn sale(operation: u32, minor: u64) -> TerminalCommand {
    TerminalCommand::Sale {
        operation: OperationId(operation),
        card: card(),
        amount: eur(minor),
    }
}

fn bench_nodes(c: &mut Criterion) {
    let mut group = c.benchmark_group("nodes_direct");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sale", |b| {
        b.iter_batched(
            Direct::new,
            |mut direct| {
                direct.command(sale(1, 12_50));
                assert!(matches!(direct.last_outcome(), Outcome::Approved { .. }));
                black_box(direct)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("sale_then_refund", |b| {
        b.iter_batched(
            Direct::new,
            |mut direct| {
                direct.command(sale(1, 12_50));
                direct.command(TerminalCommand::Refund {
                    operation: OperationId(2),
                    original: OperationId(1),
                    amount: eur(2_50),
                });
                assert!(matches!(direct.last_outcome(), Outcome::Approved { .. }));
                black_box(direct)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("sale_timed_out_and_reversed", |b| {
        b.iter_batched(
            || {
                // The sale's answer never comes back: the terminal asks, the
                // answer is dropped, the response timer fires.
                let mut direct = Direct::new();
                direct.now = direct.now.plus(10);
                let effects = direct.terminal.on_command(direct.now, sale(1, 12_50));
                let timer = effects
                    .iter()
                    .find_map(|effect| match effect {
                        Effect::SetTimer {
                            timer: timer @ TerminalTimer::Response(_),
                            ..
                        } => Some(timer.clone()),
                        _ => None,
                    })
                    .expect("the sale waits for its answer");
                (direct, timer)
            },
            |(mut direct, timer)| {
                direct.fire(timer);
                assert!(matches!(direct.last_outcome(), Outcome::FailedReversed { .. }));
                black_box(direct)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_nodes);
criterion_main!(benches);
