//! `chaintrace ingest btc`.

use std::path::Path;

use anyhow::Context;
use chaintrace_ingest::bitcoin::{ingest_blocks_dir, BulkOptions, IngestReport};
use chaintrace_store::btc::WriterOptions;
use chaintrace_store::{Durability, OpenMode, Store};

use crate::args::BtcIngestArgs;
use crate::progress::Bars;

/// Bytes of cache memory per cached unspent output / address id (hash map entry + record).
const UTXO_ENTRY_BYTES: usize = 120;
const ADDR_ENTRY_BYTES: usize = 100;

pub fn btc(db: &Path, args: &BtcIngestArgs) -> anyhow::Result<()> {
    let store = Store::open(db, OpenMode::Create)?;
    let report = match (&args.blocks_dir, &args.rest) {
        (Some(dir), _) => from_blocks_dir(&store, dir, args)?,
        (None, Some(url)) => super::ingest_rest::follow(&store, url, args)?,
        (None, None) => unreachable!("clap requires a source"),
    };
    print_report(&report);
    Ok(())
}

/// Cache sizes from `--cache-mb`: three quarters for unspent outputs, the rest for addresses.
pub fn writer_options(args: &BtcIngestArgs) -> WriterOptions {
    let cache = args.cache_mb << 20;
    WriterOptions {
        utxo_cache_entries: cache * 3 / 4 / UTXO_ENTRY_BYTES,
        addr_cache_entries: cache / 4 / ADDR_ENTRY_BYTES,
        durability: Durability::Logged,
        ..WriterOptions::default()
    }
}

fn from_blocks_dir(
    store: &Store,
    dir: &Path,
    args: &BtcIngestArgs,
) -> anyhow::Result<IngestReport> {
    let mut opts = BulkOptions::new(args.network);
    opts.writer = WriterOptions {
        durability: Durability::Unlogged,
        ..writer_options(args)
    };
    ingest_blocks_dir(store, dir, &opts, &Bars::default())
        .with_context(|| format!("ingesting {}", dir.display()))
}

fn print_report(r: &IngestReport) {
    let tip = match (&r.tip_height, &r.tip_hash) {
        (Some(h), Some(hash)) => format!("tip {h} {hash}"),
        _ => "index is empty".to_string(),
    };
    let rate = if r.seconds > 0.0 {
        r.txs as f64 / r.seconds
    } else {
        0.0
    };
    let memory = crate::render::peak_rss()
        .map(|b| format!(", peak memory {}", crate::render::bytes(b)))
        .unwrap_or_default();
    eprintln!(
        "indexed {} blocks, {} txs in {:.1}s ({:.0} tx/s{memory}); {tip}",
        r.blocks, r.txs, r.seconds, rate
    );
    if r.rolled_back > 0 {
        eprintln!("rolled back {} blocks of a stale branch", r.rolled_back);
    }
    if r.stale_blocks > 0 || r.orphan_blocks > 0 {
        eprintln!(
            "skipped {} stale and {} orphan blocks",
            r.stale_blocks, r.orphan_blocks
        );
    }
}
