//! The protocol's own cost: a sale, a refund and a timed-out, reversed
//! sale pushed straight through the terminal, switch and bank state
//! machines of the built-in topology with no simulation
//! ([`payfault::bench::Direct`]). This is the floor the simulation's
//! overhead is measured against. Run: `cargo bench --bench nodes`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use payfault::bench::{direct_sale, Direct};
use payfault::node::terminal::{TerminalCommand, TerminalTimer};
use payfault::node::{Effect, OperationId, Outcome};
use payfault::wire::types::{Currency, Money};

fn approved(direct: &Direct) -> bool {
    matches!(direct.last_outcome(), Some(Outcome::Approved { .. }))
}

fn bench_nodes(c: &mut Criterion) {
    let mut group = c.benchmark_group("nodes_direct");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sale", |b| {
        b.iter_batched(
            Direct::new,
            |mut direct| {
                direct.command(direct_sale(1, 12_50));
                assert!(approved(&direct));
                black_box(direct)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("sale_then_refund", |b| {
        b.iter_batched(
            Direct::new,
            |mut direct| {
                direct.command(direct_sale(1, 12_50));
                direct.command(TerminalCommand::Refund {
                    operation: OperationId(2),
                    original: OperationId(1),
                    amount: Money::new(2_50, Currency::EUR).unwrap(),
                });
                assert!(approved(&direct));
                black_box(direct)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("sale_timed_out_and_reversed", |b| {
        b.iter_batched(
            || {
                // The sale is lost on its way: the terminal waits for an
                // answer that never comes, then its response timer fires.
                let mut direct = Direct::new();
                let effects = direct.command_lost(direct_sale(1, 12_50));
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
                assert!(matches!(
                    direct.last_outcome(),
                    Some(Outcome::FailedReversed { .. })
                ));
                black_box(direct)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_nodes);
criterion_main!(benches);
