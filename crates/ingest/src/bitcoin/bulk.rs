//! Bulk ingest from a blocks directory.
//!
//! A producer thread reads and parses windows of blocks in parallel (rayon) and sends them in
//! height order through a bounded channel; the calling thread applies them to the writer and
//! commits whenever the pending batch grows past a threshold. Memory is bounded by the window
//! size, the channel depth, the commit threshold and the writer's caches.

use std::path::Path;
use std::time::{Duration, Instant};

use bitcoin::blockdata::constants::genesis_block;
use chaintrace_model::Network;
use chaintrace_store::btc::{BtcIndex, BtcWriter, ExternalPrevouts, NewBlock, WriterOptions};
use chaintrace_store::{Durability, Store};
use rayon::prelude::*;

use super::blkfiles::BlocksDir;
use super::chain::{plan, BlockSource, PlannedBlock};
use super::parse::parse_block;
use crate::{IngestError, Progress};

/// Tuning of a bulk ingest.
#[derive(Clone, Copy, Debug)]
pub struct BulkOptions {
    pub network: Network,
    /// Commit once the pending batch holds this many bytes.
    pub commit_bytes: usize,
    /// Blocks parsed together in parallel.
    pub window_blocks: usize,
    pub writer: WriterOptions,
}

impl BulkOptions {
    pub fn new(network: Network) -> Self {
        BulkOptions {
            network,
            commit_bytes: 64 << 20,
            window_blocks: 64,
            writer: WriterOptions {
                durability: Durability::Unlogged,
                ..WriterOptions::default()
            },
        }
    }
}

/// What an ingest run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct IngestReport {
    pub rolled_back: u32,
    pub blocks: u32,
    pub txs: u64,
    pub tip_height: Option<u32>,
    pub tip_hash: Option<String>,
    pub stale_blocks: usize,
    pub orphan_blocks: usize,
    pub seconds: f64,
}

type Parsed = Result<NewBlock, IngestError>;

/// Ingests the most-work chain found in `dir` into `store`, continuing from the index's tip.
pub fn ingest_blocks_dir(
    store: &Store,
    dir: &Path,
    opts: &BulkOptions,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    let blocks = BlocksDir::open(dir, opts.network)?;
    let mut writer = BtcWriter::new(store, opts.network, 0, opts.writer)?;
    let locations = blocks.scan(progress)?;
    let plan = plan(&locations, opts.network, &BtcIndex::new(store))?;
    drop(locations);
    if plan.orphans > 0 {
        tracing::warn!(
            count = plan.orphans,
            "ignored blocks whose ancestry is neither in the block files nor in the index"
        );
    }
    let mut report = IngestReport {
        stale_blocks: plan.stale,
        orphan_blocks: plan.orphans,
        ..IngestReport::default()
    };
    if let Some(fork) = plan.rollback_to {
        while writer.state().tip.is_some_and(|(h, _)| h > fork) {
            writer.rollback_tip()?;
            report.rolled_back += 1;
        }
    }
    let applied = apply_all(&mut writer, &blocks, &plan.apply, opts, progress);
    let state = writer.finish()?;
    let (blocks_done, txs) = applied?;
    update_graph(store)?;
    report.blocks = blocks_done;
    report.txs = txs;
    report.tip_height = state.tip.map(|(h, _)| h);
    report.tip_hash = state
        .tip
        .map(|(_, h)| chaintrace_store::btc::display_hash(&h));
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Applies the planned blocks in order; stops at the first bad one, keeping the blocks before it
/// (the caller commits them).
fn apply_all(
    writer: &mut BtcWriter<'_>,
    blocks: &BlocksDir,
    planned: &[PlannedBlock],
    opts: &BulkOptions,
    progress: &dyn Progress,
) -> Result<(u32, u64), IngestError> {
    progress.start("indexing blocks", Some(planned.len() as u64), "blocks");
    let (tx, rx) = crossbeam_channel::bounded::<Vec<Parsed>>(2);
    let none = ExternalPrevouts::new();
    let result = std::thread::scope(|s| {
        s.spawn(move || {
            for window in planned.chunks(opts.window_blocks.max(1)) {
                let parsed: Vec<Parsed> = window
                    .par_iter()
                    .map(|p| load(blocks, p, opts.network))
                    .collect();
                let failed = parsed.iter().any(Result::is_err);
                if tx.send(parsed).is_err() || failed {
                    break;
                }
            }
        });
        // Owning the receiver here drops it on an early return, which unblocks the producer.
        let rx = rx;
        let mut done = (0u32, 0u64);
        let mut last_log = Instant::now();
        for window in rx.iter() {
            for block in window {
                let block = block?;
                writer.apply_block(&block, &none)?;
                done.0 += 1;
                done.1 += block.txs.len() as u64;
                progress.advance(1);
                if writer.pending_bytes() >= opts.commit_bytes {
                    writer.commit()?;
                }
                if last_log.elapsed() > Duration::from_secs(30) {
                    tracing::info!(height = block.height, txs = done.1, "indexing");
                    last_log = Instant::now();
                }
            }
        }
        Ok(done)
    });
    progress.finish();
    result
}

/// Extends (or rebuilds) the spend graph that forward traces read.
pub(crate) fn update_graph(store: &Store) -> Result<(), IngestError> {
    let started = Instant::now();
    let outcome = chaintrace_store::btc::graph::update(store)?;
    tracing::info!(
        ?outcome,
        seconds = started.elapsed().as_secs_f64(),
        "spend graph updated"
    );
    Ok(())
}

fn load(blocks: &BlocksDir, p: &PlannedBlock, network: Network) -> Parsed {
    let (raw, location) = match p.source {
        BlockSource::File(loc) => (
            blocks.read_block(&loc)?,
            blocks.describe(loc.file, loc.offset),
        ),
        BlockSource::Genesis => (
            bitcoin::consensus::serialize(&genesis_block(network.to_bitcoin())),
            "built-in genesis block".into(),
        ),
    };
    parse_block(&raw, Some(p.hash), p.height, p.chainwork)
        .map_err(|reason| IngestError::bad_data(format!("block {} ({location})", p.height), reason))
}
