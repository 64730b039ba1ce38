//! Cost of the CoinJoin detectors, to decide whether they can run at ingest (a flag per
//! transaction) or only on demand, and what they add to every forward trace step.
//!
//! Measured on the cached ~1M-transaction generated chain of `benches/trace.rs`:
//! - `detect` over every transaction held in memory as shapes (txs/s), and the other entry
//!   points (`detect_dumplings`, `detect_graphsense`, `blocksci_is_coinjoin`,
//!   `is_peel_candidate`);
//! - the same detectors on CoinJoin-heavy synthetic sets (the spec §4.9 vectors CJ1–CJ6
//!   repeated, and random equal-output rounds), where the fast path never helps: worst case;
//! - one full pass reading every `btc_txs` record from RocksDB, with and without `detect`:
//!   what an on-demand scan costs;
//! - the forward haircut trace of `benches/trace.rs`, whose every step runs the tracer's
//!   CoinJoin check, and that check alone on the same steps.
//!
//! Fast-path rejection rates, detections per rule, 2-thread throughput and peak RSS are printed
//! after the Criterion run.
//!
//!   cargo bench --bench mixers            (CHAINTRACE_BENCH_TRACE_TXS overrides the size)

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chaintrace_heuristics::coinjoin::{blocksci_is_coinjoin, detect_dumplings, detect_graphsense};
use chaintrace_heuristics::{detect, is_peel_candidate, Coin, TxShape};
use chaintrace_model::btc::ScriptKind;
use chaintrace_model::{AddrId, TxNum};
use chaintrace_store::btc::BtcIndex;
use chaintrace_store::records::TxRecord;
use chaintrace_store::tables::{BtcTxs, LabelTarget};
use chaintrace_store::{OpenMode, Store};
use chaintrace_trace::attribution::{load_labels, Attributions, Named};
use chaintrace_trace::btc::{load_attributions, BtcLedger};
use chaintrace_trace::forward::{ForwardTrace, Source};
use chaintrace_trace::ledger::{TxView, UtxoLedger};
use chaintrace_trace::mixer::detect_coinjoin;
use chaintrace_trace::policy::Policy;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use rayon::prelude::*;

// The cached index (seed, size, labels, directory) is `benches/trace.rs`'s, so both benches
// run on one index and their numbers compare.
#[path = "support/btc_index.rs"]
mod btc_index;

use btc_index::{index, sources};

/// The labels as stored, each on its own address: `load_attributions` now also spreads
/// cluster-defining labels over their address's cluster, under which the bench's exchange labels
/// stop the trace after about a fifth of the steps. Without the spreading the trace is the
/// workload `benches/trace.rs` recorded (958,790 tx-steps), so the numbers compare.
fn address_labels(store: &Store) -> Attributions {
    let idx = BtcIndex::new(store);
    load_labels(store, |target| {
        Ok(match target {
            LabelTarget::BtcAddr(key) => idx.addr_id(key)?.map_or(Named::Elsewhere, Named::Addr),
            _ => Named::Elsewhere,
        })
    })
    .expect("labels")
}

/// The haircut trace of `benches/trace.rs`, with the default `through_coinjoin` (equal split).
fn forward(ledger: &BtcLedger<'_>, attrs: &Attributions, src: &[Source]) -> ForwardTrace {
    btc_index::forward(ledger, attrs, Policy::Haircut, src)
}

/// Transactions as the detectors see them, in flat arrays: one allocation for all coins
/// instead of two per transaction, so the loop measures detection rather than pointer chasing.
#[derive(Default)]
struct Shapes {
    mainnet: bool,
    coins: Vec<Coin>,
    txs: Vec<TxMeta>,
}

struct TxMeta {
    start: usize,
    inputs: u32,
    outputs: u32,
    height: u32,
    coinbase: bool,
}

impl Shapes {
    fn push(&mut self, height: u32, coinbase: bool, inputs: &[Coin], outputs: &[Coin]) {
        self.txs.push(TxMeta {
            start: self.coins.len(),
            inputs: inputs.len() as u32,
            outputs: outputs.len() as u32,
            height,
            coinbase,
        });
        self.coins.extend_from_slice(inputs);
        self.coins.extend_from_slice(outputs);
    }

    fn shape(&self, i: usize) -> TxShape<'_> {
        let m = &self.txs[i];
        let mid = m.start + m.inputs as usize;
        TxShape {
            height: m.height,
            mainnet: self.mainnet,
            coinbase: m.coinbase,
            inputs: &self.coins[m.start..mid],
            outputs: &self.coins[mid..mid + m.outputs as usize],
        }
    }

    fn len(&self) -> usize {
        self.txs.len()
    }

    /// How many shapes `f` says yes to.
    fn count(&self, f: impl Fn(&TxShape<'_>) -> bool) -> u64 {
        (0..self.len()).filter(|i| f(&self.shape(*i))).count() as u64
    }
}

fn coin(value: u64, addr: AddrId, kind: ScriptKind) -> Coin {
    Coin { value, addr, kind }
}

/// A stored record's coins, into reused buffers (what an ingest-time or on-demand pass does).
fn record_coins(rec: &TxRecord, inputs: &mut Vec<Coin>, outputs: &mut Vec<Coin>) {
    inputs.clear();
    inputs.extend(rec.inputs.iter().map(|i| coin(i.value, i.addr, i.kind)));
    outputs.clear();
    outputs.extend(rec.outputs.iter().map(|o| coin(o.value, o.addr, o.kind)));
}

/// Every transaction of the index, read in key order from `btc_txs`.
fn load_shapes(store: &Store) -> Shapes {
    let mut shapes = Shapes::default();
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    for item in store.iter_from::<BtcTxs>(None) {
        let (_, rec) = item.expect("record");
        record_coins(&rec, &mut inputs, &mut outputs);
        shapes.push(rec.height, rec.coinbase, &inputs, &outputs);
    }
    shapes
}

/// One full pass over `btc_txs`; with `run_detect`, each record is also turned into a shape and
/// run through `detect`. Returns (transactions, detections).
fn scan(store: &Store, run_detect: bool) -> (u64, u64) {
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    let (mut txs, mut found) = (0, 0);
    for item in store.iter_from::<BtcTxs>(None) {
        let (_, rec) = item.expect("record");
        txs += 1;
        if !run_detect {
            black_box(&rec);
            continue;
        }
        record_coins(&rec, &mut inputs, &mut outputs);
        let tx = TxShape {
            height: rec.height,
            mainnet: false,
            coinbase: rec.coinbase,
            inputs: &inputs,
            outputs: &outputs,
        };
        found += u64::from(detect(&tx).is_some());
    }
    (txs, found)
}

/// The spec §4.9 vectors CJ1–CJ6 (copied from the heuristics crate's test-only module): P2WPKH
/// coins with distinct addresses, mainnet heights, CJ4's first output an OP_RETURN.
fn spec_vectors() -> Vec<(u32, Vec<Coin>, Vec<Coin>)> {
    let coins = |values: &[u64], first_addr: u64| -> Vec<Coin> {
        (first_addr..)
            .zip(values)
            .map(|(addr, &value)| coin(value, AddrId(addr), ScriptKind::P2wpkh))
            .collect()
    };
    let vector = |height, inputs: &[u64], outputs: &[u64]| {
        (height, coins(inputs, 1), coins(outputs, 100_000))
    };
    let rep = |value: u64, times: usize| vec![value; times];
    let cj1 = vector(
        700_000,
        &[rep(1_000_000, 3), rep(1_000_285, 2)].concat(),
        &rep(1_000_000, 5),
    );
    let cj2 = vector(
        700_000,
        &[35_000_000, 35_000_000, 45_000_000, 50_000_000],
        &[
            40_000_000, 30_001_000, 40_000_000, 5_001_000, 40_000_000, 9_995_000,
        ],
    );
    let cj3_changes = [
        496_000, 796_000, 1_196_000, 1_996_000, 2_996_000, 246_000, 4_996_000, 396_000, 2_096_000,
        546_000,
    ];
    let cj3 = vector(
        650_000,
        &[
            10_500_000, 10_800_000, 11_200_000, 12_000_000, 13_000_000, 10_250_000, 15_000_000,
            10_400_000, 6_000_000, 6_100_000, 5_500_000, 5_050_000,
        ],
        &[rep(10_000_000, 10), cj3_changes.to_vec(), vec![30_000]].concat(),
    );
    let mut cj4 = vector(
        700_000,
        &[5_000_000],
        &[vec![0, 50_000], rep(1_000_285, 4), vec![948_360]].concat(),
    );
    cj4.2[0] = coin(0, AddrId::NONE, ScriptKind::OpReturn);
    let cj5 = vector(
        700_000,
        &[100_000_000],
        &[rep(10_000_000, 5), vec![49_990_000]].concat(),
    );
    let mut cj6_inputs: Vec<u64> = (0..19).map(|i| 2_450_000 - 1_000 * i).collect();
    cj6_inputs.push(2_261_624);
    let cj6 = vector(
        850_000,
        &cj6_inputs,
        &[
            rep(10_000_000, 2),
            rep(5_000_000, 3),
            rep(2_097_152, 4),
            rep(1_000_000, 4),
            rep(531_441, 2),
            vec![123_456, 45_678],
        ]
        .concat(),
    );
    vec![cj1, cj2, cj3, cj4, cj5, cj6]
}

/// `n` shapes cycling through CJ1–CJ6.
fn spec_vector_set(n: usize) -> Shapes {
    let vectors = spec_vectors();
    let mut shapes = Shapes {
        mainnet: true,
        ..Shapes::default()
    };
    for (height, inputs, outputs) in vectors.iter().cycle().take(n) {
        shapes.push(*height, false, inputs, outputs);
    }
    shapes
}

/// SplitMix64: a fixed, dependency-free generator so the synthetic set is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random equal-output rounds: 2–50 participants mixing one denomination (Whirlpool and Wasabi
/// pool sizes among them), each paying with 1–3 inputs and usually taking change. Half keep
/// Wasabi's descending output order, half are shuffled. Every one passes the fast path, so all
/// rules run.
fn random_rounds(n: usize, seed: u64) -> Shapes {
    const DENOMINATIONS: [u64; 6] = [
        100_000, 1_000_000, 5_000_000, 10_000_000, 50_000_000, 2_097_152,
    ];
    let mut rng = Rng(seed);
    let mut shapes = Shapes {
        mainnet: true,
        ..Shapes::default()
    };
    let mut next_addr = 1u64;
    let mut fresh = |kind| {
        next_addr += 1;
        coin(0, AddrId(next_addr), kind)
    };
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    for _ in 0..n {
        inputs.clear();
        outputs.clear();
        let participants = 2 + rng.below(49);
        let denomination = if rng.below(4) == 0 {
            10_000 + rng.below(100_000_000)
        } else {
            DENOMINATIONS[rng.below(DENOMINATIONS.len() as u64) as usize]
        };
        for _ in 0..participants {
            let change = if rng.below(3) == 0 {
                0
            } else {
                1_000 + rng.below(denomination)
            };
            let total = denomination + change + 1_000 + rng.below(5_000);
            let k = 1 + rng.below(3);
            for j in 0..k {
                let value = if j + 1 == k {
                    total - (total / k) * (k - 1)
                } else {
                    total / k
                };
                inputs.push(Coin {
                    value,
                    ..fresh(ScriptKind::P2wpkh)
                });
            }
            outputs.push(Coin {
                value: denomination,
                ..fresh(ScriptKind::P2wpkh)
            });
            if change > 0 {
                outputs.push(Coin {
                    value: change,
                    ..fresh(ScriptKind::P2wpkh)
                });
            }
        }
        if rng.below(2) == 0 {
            outputs.sort_by_key(|c| std::cmp::Reverse(c.value));
        } else {
            for i in (1..outputs.len()).rev() {
                outputs.swap(i, rng.below(i as u64 + 1) as usize);
            }
        }
        shapes.push(850_000, false, &inputs, &outputs);
    }
    shapes
}

/// `detect`'s fast reject, which is private to the heuristics crate, restated to count how often
/// it fires; the report checks that nothing it rejects is detected.
fn fast_rejected(tx: &TxShape<'_>) -> bool {
    tx.coinbase
        || tx.outputs.len() < 3
        || (tx.inputs.len() < 2 && !tx.outputs.iter().any(|c| c.addr.is_none()))
}

/// The tracer's own pre-check (`may_be_coinjoin` in the trace crate, private), restated to count
/// how many trace steps go on to complete their inputs and run the detectors.
fn tracer_prefilter_passes(view: &TxView) -> bool {
    if view.coinbase || view.inputs.len() < 2 || view.outputs.len() < 3 {
        return false;
    }
    if view.inputs.len() >= 15 {
        return true;
    }
    let mut values: Vec<u64> = view.outputs.iter().map(|o| o.value).collect();
    values.sort_unstable();
    values.windows(2).any(|w| w[0] == w[1])
}

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Criterion benchmarks of every detector entry point over one set of shapes.
fn bench_detectors(group: &mut Group<'_>, set: &str, shapes: &Shapes) {
    group.throughput(Throughput::Elements(shapes.len() as u64));
    bench_one(group, set, "detect", shapes, |t| detect(t).is_some());
    bench_one(group, set, "detect_dumplings", shapes, |t| {
        detect_dumplings(t).is_some()
    });
    bench_one(group, set, "detect_graphsense", shapes, |t| {
        detect_graphsense(t).is_some()
    });
    bench_one(
        group,
        set,
        "blocksci_is_coinjoin",
        shapes,
        blocksci_is_coinjoin,
    );
    bench_one(group, set, "is_peel_candidate", shapes, is_peel_candidate);
}

/// Generic rather than a `dyn` detector, so the call is direct: a fast-path reject costs only a
/// few nanoseconds and an indirect call would be a visible share of it.
fn bench_one(
    group: &mut Group<'_>,
    set: &str,
    name: &str,
    shapes: &Shapes,
    f: impl Fn(&TxShape<'_>) -> bool,
) {
    group.bench_function(format!("{set}/{name}"), |b| {
        b.iter(|| shapes.count(|t| f(black_box(t))))
    });
}

fn vm_hwm_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let mut c = Criterion::default().configure_from_args().sample_size(10);
    let listing = std::env::args().any(|a| a == "--list" || a == "--test");
    let db = index();
    {
        // Indexes built by an older build may lack the spend graph the tracer reads.
        let store = Store::open(&db, OpenMode::Create).expect("open");
        chaintrace_store::btc::graph::update(&store).expect("spend graph");
    }
    let store = Store::open(&db, OpenMode::ReadOnly).expect("open");
    let rss_before_load = vm_hwm_mib();
    let started = Instant::now();
    let chain = load_shapes(&store);
    let load_time = started.elapsed();
    let rss_after_load = vm_hwm_mib();
    let vectors = spec_vector_set(60_000);
    let rounds = random_rounds(20_000, 7);

    let mut group = c.benchmark_group("mixers_detect");
    group.measurement_time(Duration::from_secs(5));
    bench_detectors(&mut group, &format!("chain_{}_txs", chain.len()), &chain);
    bench_detectors(&mut group, "spec_vectors_cj1_cj6", &vectors);
    bench_detectors(&mut group, "random_equal_output_rounds", &rounds);
    group.finish();

    // Each pass reads the whole table (seconds), so every sample is one pass.
    let mut group = c.benchmark_group("mixers_rocksdb_scan");
    group
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(chain.len() as u64))
        .measurement_time(Duration::from_secs(30));
    group.bench_function(format!("read_{}_txs", chain.len()), |b| {
        b.iter(|| scan(&store, false))
    });
    group.bench_function(format!("read_and_detect_{}_txs", chain.len()), |b| {
        b.iter(|| scan(&store, true))
    });
    group.finish();

    let ledger = BtcLedger::new(&store).expect("ledger");
    let attrs = address_labels(&store);
    let src = sources(&ledger, 40);
    let steps = forward(&ledger, &attrs, &src).flows.len() as u64;
    let mut group = c.benchmark_group("mixers_trace_forward");
    group
        .throughput(Throughput::Elements(steps))
        .measurement_time(Duration::from_secs(30));
    group.bench_function(format!("haircut_{steps}_tx_steps"), |b| {
        b.iter(|| forward(&ledger, &attrs, &src))
    });
    group.finish();
    c.final_summary();
    if listing {
        return;
    }
    report(&store, &[&chain, &vectors, &rounds]);
    check_cost(&ledger, &attrs, &src, "address labels only");
    let spread = load_attributions(&store).expect("labels");
    check_cost(&ledger, &spread, &src, "labels spread over clusters");
    println!(
        "load of {} shapes ({} coins) from RocksDB: {:.2} s; peak RSS before the load {:.0} MiB, after {:.0} MiB (includes the index build when this run rebuilt it)",
        chain.len(),
        chain.coins.len(),
        load_time.as_secs_f64(),
        rss_before_load.unwrap_or(f64::NAN),
        rss_after_load.unwrap_or(f64::NAN)
    );
    println!(
        "peak RSS (VmHWM) of the whole run: {:.0} MiB",
        vm_hwm_mib().unwrap_or(f64::NAN)
    );
}

/// Rejection rates, detections per rule, 2-thread throughput and one timed RocksDB pass
/// (printed; Criterion covers the rest).
fn report(store: &Store, sets: &[&Shapes; 3]) {
    for (name, shapes) in [
        "generated chain",
        "CJ1-CJ6 repeated",
        "random equal-output rounds",
    ]
    .into_iter()
    .zip(sets)
    {
        let mut rules: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut rejected = 0u64;
        for i in 0..shapes.len() {
            let tx = shapes.shape(i);
            let found = detect(&tx);
            if fast_rejected(&tx) {
                rejected += 1;
                assert!(
                    found.is_none(),
                    "the restated fast path drifted from detect's"
                );
            }
            if let Some(d) = found {
                *rules.entry(d.detector).or_default() += 1;
            }
        }
        let n = shapes.len() as f64;
        println!(
            "{name}: {} txs, {:.1} inputs and {:.1} outputs on average, fast path rejects {} ({:.1} %), detected {} ({:.3} %), by rule {:?}",
            shapes.len(),
            shapes.txs.iter().map(|t| f64::from(t.inputs)).sum::<f64>() / n,
            shapes.txs.iter().map(|t| f64::from(t.outputs)).sum::<f64>() / n,
            rejected,
            100.0 * rejected as f64 / n,
            rules.values().sum::<u64>(),
            100.0 * rules.values().sum::<u64>() as f64 / n,
            rules
        );
    }

    // Ingest has both cores; this is the rate if detection ran beside it in parallel.
    let chain = sets[0];
    let indices: Vec<usize> = (0..chain.len()).collect();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let best = (0..5)
            .map(|_| {
                let s = Instant::now();
                let found: u64 = pool.install(|| {
                    indices
                        .par_chunks(4_096)
                        .map(|c| {
                            c.iter()
                                .filter(|i| detect(&chain.shape(**i)).is_some())
                                .count() as u64
                        })
                        .sum()
                });
                black_box(found);
                s.elapsed()
            })
            .min()
            .unwrap();
        println!(
            "detect over the generated chain in memory, {threads} thread(s), best of 5: {:.1} ms = {:.1}M txs/s",
            best.as_secs_f64() * 1e3,
            chain.len() as f64 / best.as_secs_f64() / 1e6
        );
    }

    let started = Instant::now();
    let (txs, found) = scan(store, true);
    let t = started.elapsed();
    println!(
        "one RocksDB pass with detect: {txs} txs in {:.2} s = {:.0} txs/s ({found} detected)",
        t.as_secs_f64(),
        txs as f64 / t.as_secs_f64()
    );
}

/// The tracer's check on exactly the steps of a haircut trace: the same views read from the
/// spend graph, with and without `detect_coinjoin`. The difference is what detection adds per
/// step; detection cannot be switched off in the engine itself.
fn check_cost(ledger: &BtcLedger<'_>, attrs: &Attributions, src: &[Source], labels: &str) {
    let trace = forward(ledger, attrs, src);
    let steps: Vec<TxNum> = trace.flows.iter().map(|f| f.tx).collect();
    drop(trace);
    let mut view = TxView::default();
    let (mut passes, mut incomplete, mut mixers) = (0u64, 0u64, 0u64);
    for tx in &steps {
        ledger.tx_into(*tx, &mut view).unwrap();
        if tracer_prefilter_passes(&view) {
            passes += 1;
            incomplete += u64::from(view.inputs.iter().any(|i| i.addr.is_none()));
        }
        mixers += u64::from(detect_coinjoin(ledger, &view).unwrap().is_some());
    }
    let read_only = || {
        let s = Instant::now();
        let mut view = TxView::default();
        for tx in &steps {
            ledger.tx_into(*tx, &mut view).unwrap();
            black_box(&view);
        }
        s.elapsed()
    };
    let read_and_check = || {
        let s = Instant::now();
        let mut view = TxView::default();
        let mut found = 0u64;
        for tx in &steps {
            ledger.tx_into(*tx, &mut view).unwrap();
            found += u64::from(detect_coinjoin(ledger, &view).unwrap().is_some());
        }
        black_box(found);
        s.elapsed()
    };
    // Alternated, best of 5 each, to keep a burst of load from other processes out of one side.
    let (mut best_read, mut best_check) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        best_read = best_read.min(read_only());
        best_check = best_check.min(read_and_check());
    }
    let n = steps.len() as f64;
    let check = best_check.saturating_sub(best_read);
    let started = Instant::now();
    drop(forward(ledger, attrs, src));
    let trace_time = started.elapsed();
    println!(
        "haircut trace, {labels}: {} tx-steps; pass the tracer's pre-check {passes} ({:.2} %), {incomplete} of them copied to complete their inputs' addresses; CoinJoins met {mixers}",
        steps.len(),
        100.0 * passes as f64 / n
    );
    println!(
        "same steps, graph reads only {:.1} ms, reads + detect_coinjoin {:.1} ms: the check costs {:.1} ns/step; one haircut trace {:.1} ms = {:.0} ns/step ({:.0} tx-steps/s), so the check is {:.1} % of a step",
        best_read.as_secs_f64() * 1e3,
        best_check.as_secs_f64() * 1e3,
        check.as_secs_f64() * 1e9 / n,
        trace_time.as_secs_f64() * 1e3,
        trace_time.as_secs_f64() * 1e9 / n,
        n / trace_time.as_secs_f64(),
        100.0 * check.as_secs_f64() / trace_time.as_secs_f64()
    );
}
