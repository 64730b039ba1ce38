//! Address clustering: what it adds to bulk ingest, and how fast a cluster is looked up.
//!
//! Criterion times the ingest of a generated regtest chain (100k transactions;
//! `CHAINTRACE_BENCH_TXS` overrides) with clustering on and off. Then off/on pairs, run back to
//! back so a busy machine slows both alike (`CHAINTRACE_BENCH_PAIRS`, default 5), report the
//! slowdown and the added cost per block (median and range), one run with the change rule too;
//! and the clustered index answers `cluster_of` and `info` for 20,000 addresses spread over the
//! id range (p50/p99), plus `explain` between members of the largest clusters found.
//!
//!   cargo bench --bench cluster

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chaintrace_fixturegen::{write_chain, BlkWriterOptions, ChainSpec, ChainSummary};
use chaintrace_ingest::bitcoin::{ingest_blocks_dir, BulkOptions};
use chaintrace_ingest::NoProgress;
use chaintrace_model::{AddrId, Network};
use chaintrace_store::btc::cluster::ClusterSetting;
use chaintrace_store::btc::{BtcIndex, ClusterIndex};
use chaintrace_store::{OpenMode, Store};
use criterion::{Criterion, Throughput};

const TXS_PER_BLOCK: u32 = 1_000;
const LOOKUPS: u64 = 20_000;

/// A generated chain of about `txs` transactions, cached between runs.
fn chain(txs: u64) -> (PathBuf, ChainSummary) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-cluster-chain-{txs}"));
    let spec = ChainSpec {
        seed: 11,
        blocks: 100 + txs.div_ceil(u64::from(TXS_PER_BLOCK)) as u32,
        txs_per_block: TXS_PER_BLOCK,
        stale_branches: 0,
        ..ChainSpec::default()
    };
    let _ = std::fs::remove_dir_all(&dir);
    let summary =
        write_chain(&spec, &BlkWriterOptions::default(), &dir).expect("writing the chain");
    (dir, summary)
}

fn bench_txs() -> u64 {
    std::env::var("CHAINTRACE_BENCH_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn bench_pairs() -> usize {
    std::env::var("CHAINTRACE_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// Ingests `blocks` into `db` with clusters built as `setting` says, and returns the time it
/// took.
fn ingest_as(db: &Path, blocks: &Path, setting: ClusterSetting) -> Duration {
    let store = Store::open(db, OpenMode::Create).expect("open");
    let mut opts = BulkOptions::new(Network::Regtest);
    opts.writer.clustering = opts.writer.clustering.with_setting(setting);
    let started = Instant::now();
    ingest_blocks_dir(&store, blocks, &opts, &NoProgress).expect("ingest");
    started.elapsed()
}

/// Ingests `blocks` into `db` and returns the time it took.
fn ingest_into(db: &Path, blocks: &Path, clustering: bool) -> Duration {
    let store = Store::open(db, OpenMode::Create).expect("open");
    let mut opts = BulkOptions::new(Network::Regtest);
    opts.writer.clustering.enabled = clustering;
    let started = Instant::now();
    ingest_blocks_dir(&store, blocks, &opts, &NoProgress).expect("ingest");
    started.elapsed()
}

fn ingest_once(blocks: &Path, clustering: bool) -> Duration {
    let db = tempfile::tempdir().expect("tempdir");
    ingest_into(db.path(), blocks, clustering)
}

fn ingest(c: &mut Criterion, dir: &Path, summary: &ChainSummary) {
    let mut group = c.benchmark_group("cluster_ingest");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Elements(summary.txs));
    for (name, on) in [("clustering_on", true), ("clustering_off", false)] {
        group.bench_function(format!("{name}_{}_txs", summary.txs), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| ingest_once(dir, on)).sum())
        });
    }
    group.finish();
}

fn percentile(sorted: &[Duration], pct: usize) -> Duration {
    sorted[(sorted.len() - 1) * pct / 100]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Times `f` on every address of `ids` and prints p50/p99.
fn latency(what: &str, ids: &[AddrId], mut f: impl FnMut(AddrId)) {
    let mut times: Vec<Duration> = ids
        .iter()
        .map(|&id| {
            let t = Instant::now();
            f(id);
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    println!(
        "{what:<28} p50 {:>8.1} µs   p99 {:>8.1} µs   ({} lookups)",
        micros(percentile(&times, 50)),
        micros(percentile(&times, 99)),
        times.len()
    );
}

fn lookups(db: &Path) {
    let store = Store::open(db, OpenMode::ReadOnly).expect("open");
    let addrs = BtcIndex::new(&store)
        .state()
        .expect("state")
        .expect("ingested")
        .addresses();
    let clusters = ClusterIndex::new(&store);
    let step = (addrs / LOOKUPS).max(1);
    let ids: Vec<AddrId> = (1..=addrs).step_by(step as usize).map(AddrId).collect();
    let mut sizes = Vec::with_capacity(ids.len());
    latency("cluster_of", &ids, |id| {
        clusters.cluster_of(id).expect("cluster_of");
    });
    latency("cluster_of + info", &ids, |id| {
        let c = clusters.cluster_of(id).expect("cluster_of");
        let info = clusters.info(c).expect("info").expect("a root");
        sizes.push((info.size, id, c));
    });
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let merged = sizes.iter().filter(|(s, _, _)| *s > 1).count();
    println!(
        "sampled addresses in clusters of 2+: {merged} of {}; largest cluster sampled: {} addresses",
        sizes.len(),
        sizes.first().map_or(0, |s| s.0)
    );
    let pairs: Vec<AddrId> = sizes
        .iter()
        .filter(|(s, _, _)| *s > 1)
        .take(2_000)
        .map(|(_, id, _)| *id)
        .collect();
    let mut steps = 0usize;
    latency("explain(member, root)", &pairs, |id| {
        let root = clusters.cluster_of(id).expect("cluster_of").0;
        steps += clusters
            .explain(id, root)
            .expect("explain")
            .map_or(0, |s| s.len());
    });
    if !pairs.is_empty() {
        println!(
            "explain: {:.1} steps on average",
            steps as f64 / pairs.len() as f64
        );
    }
}

/// Slowdown in percent and added microseconds per block of `on` over `off`.
fn cost(on: Duration, off: Duration, blocks: f64) -> (f64, f64) {
    let (on, off) = (on.as_secs_f64(), off.as_secs_f64());
    ((on / off - 1.0) * 100.0, (on - off) / blocks * 1e6)
}

fn report(dir: &Path, summary: &ChainSummary) {
    let blocks = summary.blocks.max(1) as f64;
    let mut pairs = Vec::new();
    for _ in 0..bench_pairs() {
        let off = ingest_once(dir, false);
        pairs.push((ingest_once(dir, true), off));
    }
    let costs: Vec<(f64, f64)> = pairs
        .iter()
        .map(|&(on, off)| cost(on, off, blocks))
        .collect();
    let spread = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let pct = spread(costs.iter().map(|c| c.0).collect());
    let per_block = spread(costs.iter().map(|c| c.1).collect());
    let mut offs: Vec<Duration> = pairs.iter().map(|p| p.1).collect();
    offs.sort_unstable();
    let off = offs[offs.len() / 2];
    println!(
        "\n{} off/on pairs, {} txs in {} blocks: clustering off {:.2} s median ({:.0} tx/s); \
         on: {:+.1} % median ({:+.1} .. {:+.1} %), {:+.0} µs per block ({:+.0} .. {:+.0})",
        pairs.len(),
        summary.txs,
        summary.blocks,
        off.as_secs_f64(),
        summary.txs as f64 / off.as_secs_f64(),
        pct.0,
        pct.1,
        pct.2,
        per_block.0,
        per_block.1,
        per_block.2
    );
    let db = tempfile::tempdir().expect("tempdir");
    let change = ingest_as(db.path(), dir, ClusterSetting::InputsAndChange);
    let (pct, per_block) = cost(change, off, blocks);
    println!(
        "inputs+change, one run: {:.2} s, {pct:+.1} % over the median off run, {per_block:+.0} µs per block",
        change.as_secs_f64()
    );
    let db = tempfile::tempdir().expect("tempdir");
    ingest_into(db.path(), dir, true);
    lookups(db.path());
}

fn main() {
    let (dir, summary) = chain(bench_txs());
    let mut c = Criterion::default().configure_from_args();
    ingest(&mut c, &dir, &summary);
    c.final_summary();
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    report(&dir, &summary);
}
