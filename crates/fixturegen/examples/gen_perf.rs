//! Manual performance check: generates a chain with about the requested number of
//! transactions and writes it to a temporary blocks directory.
//!
//! ```text
//! cargo run --release -p chaintrace-fixturegen --example gen_perf -- [TXS] [TXS_PER_BLOCK]
//! ```

use std::time::Instant;

use chaintrace_fixturegen::{write_chain, BlkWriterOptions, ChainSpec};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>());
    let txs = args
        .next()
        .transpose()
        .map_err(std::io::Error::other)?
        .unwrap_or(200_000);
    let per_block = args
        .next()
        .transpose()
        .map_err(std::io::Error::other)?
        .unwrap_or(100)
        .max(1);
    // Blocks below height 101 carry only coinbases.
    let blocks = 100 + txs.div_ceil(per_block);
    let spec = ChainSpec {
        seed: 42,
        blocks,
        txs_per_block: per_block,
        stale_branches: 10,
        wallets: 2000,
    };
    let dir = std::env::temp_dir().join(format!("chaintrace-gen-perf-{}", std::process::id()));
    let opts = BlkWriterOptions {
        shuffle_window: 64,
        ..BlkWriterOptions::default()
    };
    let started = Instant::now();
    let summary = write_chain(&spec, &opts, &dir)?;
    let elapsed = started.elapsed();
    std::fs::remove_dir_all(&dir)?;
    let non_coinbase = summary.txs - summary.blocks;
    println!(
        "{} blocks (+{} stale), {} txs ({} non-coinbase), {} inputs, {} outputs, {} files, {:.1} MiB in {:.2?} ({:.0} tx/s)",
        summary.blocks,
        summary.stale_blocks,
        summary.txs,
        non_coinbase,
        summary.inputs,
        summary.outputs,
        summary.files,
        summary.bytes_written as f64 / (1024.0 * 1024.0),
        elapsed,
        summary.txs as f64 / elapsed.as_secs_f64(),
    );
    Ok(())
}
