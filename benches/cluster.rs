//! Address clustering: what it adds to bulk ingest, and how fast a cluster is looked up.
//!
//! Criterion times the ingest of a generated regtest chain (100k transactions;
//! `CHAINTRACE_BENCH_TXS` overrides) with clustering on and off. Then one more run of each
//! reports the slowdown and the added cost per block, and the clustered index answers
//! `cluster_of` and `info` for 20,000 addresses spread over the id range (p50/p99), plus
//! `explain` between members of the largest clusters found.
//!
//!   cargo bench --bench cluster

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chaintrace_fixturegen::{write_chain, BlkWriterOptions, ChainSpec, ChainSummary};
use chaintrace_ingest::bitcoin::{ingest_blocks_dir, BulkOptions};
use chaintrace_ingest::NoProgress;
use chaintrace_model::{AddrId, Network};
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

fn report(dir: &Path, summary: &ChainSummary) {
    let off = ingest_once(dir, false);
    let db = tempfile::tempdir().expect("tempdir");
    let on = ingest_into(db.path(), dir, true);
    let (on_s, off_s) = (on.as_secs_f64(), off.as_secs_f64());
    let blocks = summary.blocks.max(1) as f64;
    println!(
        "\none run each, {} txs in {} blocks: clustering off {off_s:.2} s ({:.0} tx/s), on {on_s:.2} s \
         ({:.0} tx/s): {:+.1} %, {:+.0} µs per block",
        summary.txs,
        summary.blocks,
        summary.txs as f64 / off_s,
        summary.txs as f64 / on_s,
        (on_s / off_s - 1.0) * 100.0,
        (on_s - off_s) / blocks * 1e6
    );
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
