//! Tracing throughput and latency on an indexed, generated chain of about 1M transactions:
//! forward haircut and FIFO traces, backward screening at 6 hops (p50/p99), a batch of 1,000
//! screening cases at 1 and 2 threads, and the same reachable subgraph walked by a plain
//! in-memory BFS (the practical lower bound).
//!
//!   cargo bench --bench trace            (CHAINTRACE_BENCH_TRACE_TXS overrides the size)

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chaintrace_model::TxNum;
use chaintrace_store::{OpenMode, Store};
use chaintrace_trace::attribution::Attributions;
use chaintrace_trace::backward::{screen, ScreenParams};
use chaintrace_trace::btc::{load_attributions, BtcLedger};
use chaintrace_trace::forward::{trace_forward, ForwardParams, ForwardTrace, Source};
use chaintrace_trace::ledger::{OutRef, UtxoLedger};
use chaintrace_trace::policy::{Policy, Rules};
use criterion::{Criterion, Throughput};
use rayon::prelude::*;

#[path = "support/btc_index.rs"]
mod btc_index;

use btc_index::{forward, index, sources};

/// Deposits to screen: outputs spread over the upper half of the chain.
fn deposits(ledger: &BtcLedger<'_>, n: usize) -> Vec<OutRef> {
    let state = ledger.index().state().unwrap().unwrap();
    let lo = state.next_tx / 2;
    (0..n as u64)
        .map(|i| OutRef {
            tx: TxNum(lo + i * (state.next_tx - lo) / n as u64),
            vout: 0,
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A plain BFS over the transactions a trace reached, with the graph already in memory.
fn in_memory_bfs(ledger: &BtcLedger<'_>, trace: &ForwardTrace) -> (Duration, usize) {
    let reached: Vec<TxNum> = trace.flows.iter().map(|f| f.tx).collect();
    let index: rustc_hash::FxHashMap<TxNum, usize> =
        reached.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let adjacency: Vec<Vec<usize>> = reached
        .par_iter()
        .map(|t| {
            ledger
                .tx(*t)
                .unwrap()
                .outputs
                .iter()
                .filter_map(|o| o.spent_by.and_then(|s| index.get(&s).copied()))
                .collect()
        })
        .collect();
    let roots: Vec<usize> = trace
        .flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.hop == 1)
        .map(|(i, _)| i)
        .collect();
    let started = Instant::now();
    let mut seen = vec![false; adjacency.len()];
    let mut queue: VecDeque<usize> = roots.into();
    let mut visited = 0;
    while let Some(n) = queue.pop_front() {
        if std::mem::replace(&mut seen[n], true) {
            continue;
        }
        visited += 1;
        queue.extend(adjacency[n].iter().copied().filter(|m| !seen[*m]));
    }
    (started.elapsed(), visited)
}

fn main() {
    let mut c = Criterion::default().configure_from_args().sample_size(10);
    let db = index();
    {
        // Indexes built by an older build may lack the spend graph.
        let store = Store::open(&db, OpenMode::Create).expect("open");
        chaintrace_store::btc::graph::update(&store).expect("spend graph");
    }
    let store = Store::open(&db, OpenMode::ReadOnly).expect("open");
    let ledger = BtcLedger::new(&store).expect("ledger");
    let attrs = load_attributions(&store).expect("labels");
    let src = sources(&ledger, 40);
    if let Ok(policy) = std::env::var("CHAINTRACE_BENCH_PROFILE_FORWARD") {
        // Only the forward engine under one policy, repeatedly, for `perf record` (value:
        // haircut or fifo): no other trace in the profile.
        let policy = if policy == "fifo" {
            Policy::FIFO
        } else {
            Policy::Haircut
        };
        for _ in 0..10 {
            let started = Instant::now();
            let t = forward(&ledger, &attrs, policy, &src);
            let traced = started.elapsed();
            let steps = t.flows.len();
            drop(t);
            eprintln!(
                "{policy:?}: {steps} tx-steps, trace {:.3} s, with freeing {:.3} s",
                traced.as_secs_f64(),
                started.elapsed().as_secs_f64()
            );
        }
        return;
    }
    let mut group = c.benchmark_group("trace_forward");
    for (name, policy) in [("haircut", Policy::Haircut), ("fifo", Policy::FIFO)] {
        let steps = forward(&ledger, &attrs, policy, &src).flows.len() as u64;
        group
            .throughput(Throughput::Elements(steps))
            .measurement_time(Duration::from_secs(30));
        group.bench_function(format!("{name}_{steps}_tx_steps"), |b| {
            b.iter(|| forward(&ledger, &attrs, policy, &src))
        });
    }
    group.finish();
    c.final_summary();
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    report(&ledger, &attrs, &src);
}

/// Every transaction of the index held in memory: the engine's speed without storage reads.
struct Preloaded {
    txs: Vec<chaintrace_trace::ledger::TxView>,
    blocks: Vec<(TxNum, u32)>,
}

impl UtxoLedger for Preloaded {
    fn tx(
        &self,
        tx: TxNum,
    ) -> Result<chaintrace_trace::ledger::TxView, chaintrace_trace::ledger::TraceError> {
        Ok(self.txs[tx.0 as usize].clone())
    }
    fn tx_into(
        &self,
        tx: TxNum,
        view: &mut chaintrace_trace::ledger::TxView,
    ) -> Result<(), chaintrace_trace::ledger::TraceError> {
        view.clone_from(&self.txs[tx.0 as usize]);
        Ok(())
    }
    fn reads_are_slow(&self) -> bool {
        false
    }
    fn block_txs(&self, height: u32) -> Result<(TxNum, u32), chaintrace_trace::ledger::TraceError> {
        Ok(self.blocks[height as usize])
    }
    fn subsidy(&self, _: u32) -> u64 {
        0
    }
}

fn preload(ledger: &BtcLedger<'_>) -> Preloaded {
    let state = ledger.index().state().unwrap().unwrap();
    let all: Vec<TxNum> = (0..state.next_tx).map(TxNum).collect();
    let txs = all
        .par_chunks(10_000)
        .flat_map_iter(|c| ledger.txs(c, true).unwrap())
        .collect();
    let blocks = (0..=state.tip.unwrap().0)
        .map(|h| ledger.block_txs(h).unwrap())
        .collect();
    Preloaded { txs, blocks }
}

/// Latency percentiles, batch scaling and the BFS ratio (printed; Criterion covers the rest).
fn report(ledger: &BtcLedger<'_>, attrs: &Attributions, src: &[Source]) {
    let trace = forward(ledger, attrs, Policy::Haircut, src);
    let started = Instant::now();
    let again = forward(ledger, attrs, Policy::Haircut, src);
    let ours = started.elapsed();
    let (bfs, visited) = in_memory_bfs(ledger, &trace);
    let tables = ledger.clone().without_graph();
    let started = Instant::now();
    let from_tables = forward(&tables, attrs, Policy::Haircut, src);
    let tables_time = started.elapsed();
    println!(
        "forward haircut reading the RocksDB tables instead of the spend graph: {} tx-steps in {:.3} s = {:.0} tx-steps/s",
        from_tables.flows.len(),
        tables_time.as_secs_f64(),
        from_tables.flows.len() as f64 / tables_time.as_secs_f64()
    );
    let memory = preload(ledger);
    let started = Instant::now();
    let mut p = ForwardParams::new(Rules::new(Policy::Haircut));
    p.max_hops = 1_000;
    let in_memory = trace_forward(&memory, attrs, src, &p).expect("trace");
    let engine_only = started.elapsed();
    println!(
        "forward haircut over an in-memory ledger (no storage reads): {} tx-steps in {:.3} s = {:.0} tx-steps/s",
        in_memory.flows.len(),
        engine_only.as_secs_f64(),
        in_memory.flows.len() as f64 / engine_only.as_secs_f64()
    );
    println!(
        "\nforward haircut: {} tx-steps in {:.3} s = {:.0} tx-steps/s; in-memory BFS over the same {} txs: {:.4} s; ratio {:.1}x",
        again.flows.len(),
        ours.as_secs_f64(),
        again.flows.len() as f64 / ours.as_secs_f64(),
        visited,
        bfs.as_secs_f64(),
        ours.as_secs_f64() / bfs.as_secs_f64().max(1e-9)
    );
    let targets = deposits(ledger, 1_000);
    let params = ScreenParams::default();
    let mut lat: Vec<Duration> = targets
        .iter()
        .map(|t| {
            let s = Instant::now();
            screen(ledger, attrs, &[*t], &params).expect("screen");
            s.elapsed()
        })
        .collect();
    lat.sort();
    println!(
        "screen, 6 hops, {} deposits: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.9).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    let batch = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let s = Instant::now();
        pool.install(|| {
            targets
                .par_iter()
                .for_each(|t| drop(screen(ledger, attrs, &[*t], &params).expect("screen")))
        });
        s.elapsed()
    };
    let (one, two) = (batch(1), batch(2));
    println!(
        "batch of {} screens: 1 thread {:.2} s, 2 threads {:.2} s, scaling {:.2}x",
        targets.len(),
        one.as_secs_f64(),
        two.as_secs_f64(),
        one.as_secs_f64() / two.as_secs_f64()
    );
}
