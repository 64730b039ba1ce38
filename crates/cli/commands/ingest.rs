//! `chaintrace ingest btc`.

use std::path::Path;

use anyhow::Context;
use chaintrace_ingest::bitcoin::{ingest_blocks_dir, BulkOptions, IngestReport};
use chaintrace_store::btc::cluster::ClusterSetting;
use chaintrace_store::btc::{ClusterIndex, ClusterOptions, WriterOptions};
use chaintrace_store::{Durability, OpenMode, Store};

use crate::args::{BtcIngestArgs, Clustering};
use crate::exit::data;
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

/// Cache sizes from `--cache-mb` (three quarters for unspent outputs, the rest for addresses)
/// and the clustering rules of `store`'s index.
pub fn writer_options(store: &Store, args: &BtcIngestArgs) -> anyhow::Result<WriterOptions> {
    let cache = args.cache_mb << 20;
    let setting = clustering(store, args.clustering)?;
    Ok(WriterOptions {
        utxo_cache_entries: cache * 3 / 4 / UTXO_ENTRY_BYTES,
        addr_cache_entries: cache / 4 / ADDR_ENTRY_BYTES,
        durability: Durability::Logged,
        clustering: ClusterOptions::default().with_setting(setting),
    })
}

fn setting_of(c: Clustering) -> ClusterSetting {
    match c {
        Clustering::Off => ClusterSetting::Off,
        Clustering::Inputs => ClusterSetting::Inputs,
        Clustering::InputsChange => ClusterSetting::InputsAndChange,
    }
}

/// The rules to build clusters with: the index's own once it has blocks (asking for others is
/// an error, since rules changed part-way through the chain give wrong clusters), else what
/// `--clustering` asks for, `inputs` by default.
fn clustering(store: &Store, asked: Option<Clustering>) -> anyhow::Result<ClusterSetting> {
    let asked = asked.map(setting_of);
    match (ClusterIndex::new(store).setting()?, asked) {
        (Some(kept), Some(asked)) if kept != asked => Err(data(format!(
            "this index was built with --clustering {kept} and keeps it (rules changed \
             part-way through the chain would give wrong clusters); leave out --clustering to \
             continue, or ingest into a new directory to use --clustering {asked}"
        ))),
        (Some(kept), _) => Ok(kept),
        (None, asked) => Ok(asked.unwrap_or(ClusterSetting::Inputs)),
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
        ..writer_options(store, args)?
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
