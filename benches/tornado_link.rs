//! Tornado Cash linking on 100,000 synthetic deposits and 100,000 synthetic withdrawals over
//! the 19 mainnet pools: all five heuristics, then anonymity-set sizes of every withdrawal, then
//! the pool-wide taint flow.
//!
//!   cargo bench --bench tornado_link        (CHAINTRACE_BENCH_TORNADO_EVENTS overrides the size)

use std::hint::black_box;

use chaintrace_heuristics::tornado::synthetic::{Synthetic, DEFAULT_EVENTS, DEFAULT_SEED};
use chaintrace_heuristics::tornado::{withdrawal_taint, AnonymitySets, LinkParams, TaintMode};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn size() -> u64 {
    std::env::var("CHAINTRACE_BENCH_TORNADO_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_EVENTS)
}

fn bench(c: &mut Criterion) {
    let n = size();
    let data = Synthetic::generate(n, DEFAULT_SEED);
    let params = LinkParams::default();
    let links = data.link(&params);
    let taint = data.sample_taint();
    let mut group = c.benchmark_group("tornado_link");
    group.sample_size(10);
    group.throughput(Throughput::Elements(2 * n));
    group.bench_function("link", |b| b.iter(|| black_box(data.link(&params))));
    group.bench_function("anonymity_set_sizes", |b| {
        b.iter(|| black_box(AnonymitySets::new(&data.deposits, &data.withdrawals, &links).sizes()))
    });
    group.bench_function("pool_taint", |b| {
        b.iter(|| {
            black_box(withdrawal_taint(
                &data.deposits,
                &data.withdrawals,
                &links,
                &taint,
                TaintMode::Pool,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
