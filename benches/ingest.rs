//! Bulk ingest throughput: parse + prevout resolution + RocksDB writes, end to end, on
//! generated regtest chains in Bitcoin Core's blk format.
//!
//! Criterion measures the 200k-transaction chain (`CHAINTRACE_BENCH_TXS` overrides). After the
//! Criterion run, the binary ingests chains of 1M and 2M transactions in child processes
//! (`CHAINTRACE_BENCH_RSS_TXS=a,b` overrides) and reports their peak resident memory: once
//! RocksDB's block cache and the ingest caches are full, memory stops growing with the chain.
//!
//!   cargo bench --bench ingest

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chaintrace_fixturegen::{write_chain, BlkWriterOptions, ChainSpec, ChainSummary};
use chaintrace_ingest::bitcoin::{ingest_blocks_dir, BulkOptions};
use chaintrace_ingest::NoProgress;
use chaintrace_model::Network;
use chaintrace_store::{OpenMode, Store};
use criterion::{Criterion, Throughput};

const TXS_PER_BLOCK: u32 = 1_000;

/// A generated chain of about `txs` transactions, cached between runs.
fn chain(txs: u64) -> (PathBuf, ChainSummary) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-chain-{txs}"));
    let blocks = 100 + txs.div_ceil(u64::from(TXS_PER_BLOCK)) as u32;
    let spec = ChainSpec {
        seed: 7,
        blocks,
        txs_per_block: TXS_PER_BLOCK,
        stale_branches: 0,
        ..ChainSpec::default()
    };
    let _ = std::fs::remove_dir_all(&dir);
    let summary =
        write_chain(&spec, &BlkWriterOptions::default(), &dir).expect("writing the bench chain");
    (dir, summary)
}

fn bench_txs() -> u64 {
    std::env::var("CHAINTRACE_BENCH_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

fn ingest_once(blocks: &Path) -> Duration {
    let db = tempfile::tempdir().expect("tempdir");
    let store = Store::open(db.path(), OpenMode::Create).expect("open");
    let started = Instant::now();
    ingest_blocks_dir(
        &store,
        blocks,
        &BulkOptions::new(Network::Regtest),
        &NoProgress,
    )
    .expect("ingest");
    started.elapsed()
}

fn ingest(c: &mut Criterion) {
    let (dir, summary) = chain(bench_txs());
    let mut group = c.benchmark_group("ingest_btc");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(40))
        .throughput(Throughput::Elements(summary.txs));
    group.bench_function(format!("blk_files_{}_txs", summary.txs), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| ingest_once(&dir)).sum())
    });
    group.finish();
}

/// Runs the `chaintrace` binary on a chain and returns (txs, seconds, peak RSS bytes).
fn child_run(txs: u64) -> (u64, f64, u64) {
    let (dir, summary) = chain(txs);
    let db = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chaintrace"))
        .arg("--db")
        .arg(db.path())
        .args(["ingest", "btc", "--network", "regtest", "--blocks-dir"])
        .arg(&dir)
        .output()
        .expect("running chaintrace");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let secs = between(&stderr, " in ", "s (").parse().unwrap_or(0.0);
    let rss = rss_bytes(between(&stderr, "peak memory ", ")"));
    (summary.txs, secs, rss)
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    s.split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map_or("", |(v, _)| v)
}

fn rss_bytes(s: &str) -> u64 {
    let (v, unit) = s.split_once(' ').unwrap_or(("0", "B"));
    let v: f64 = v.parse().unwrap_or(0.0);
    let scale = match unit {
        "KiB" => 1u64 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => 1,
    };
    (v * scale as f64) as u64
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    ingest(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let sizes: Vec<u64> = std::env::var("CHAINTRACE_BENCH_RSS_TXS")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000_000, 2_000_000]);
    println!(
        "\npeak memory of `chaintrace ingest btc` (separate processes, default --cache-mb 512)"
    );
    println!(
        "{:>12} {:>10} {:>12} {:>12}",
        "txs", "seconds", "tx/s", "peak RSS"
    );
    for txs in sizes {
        let (n, secs, rss) = child_run(txs);
        let rate = if secs > 0.0 { n as f64 / secs } else { 0.0 };
        println!(
            "{n:>12} {secs:>10.2} {rate:>12.0} {:>9.0} MiB",
            rss as f64 / (1 << 20) as f64
        );
    }
}
