//! Following a node's tip through its REST interface.
//!
//! Each block is committed on its own (with the write-ahead log), so the index is never more
//! than one block behind what was fetched and an interrupt loses nothing. Before extending the
//! index, the follower checks that its tip is still on the node's active chain; if not, it rolls
//! back block by block until it is, then applies the node's branch.

use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::pow::Work;
use chaintrace_store::btc::{display_hash, BtcWriter, ExternalPrevouts, NewBlock, WriterOptions};
use chaintrace_store::Store;

use super::bulk::IngestReport;
use super::parse::block_to_new;
use super::rest::RestClient;
use crate::{IngestError, Progress};

#[derive(Clone, Copy, Debug)]
pub struct FollowOptions {
    /// Return once caught up instead of polling for new blocks.
    pub once: bool,
    pub poll: Duration,
    /// First height of an empty index (prevouts below it are fetched from the node).
    pub start_height: u32,
    pub stop_height: Option<u32>,
    pub writer: WriterOptions,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            once: true,
            poll: Duration::from_secs(5),
            start_height: 0,
            stop_height: None,
            writer: WriterOptions::default(),
        }
    }
}

/// Ingests the node's active chain and keeps following it (unless `once`).
pub fn follow_rest(
    store: &Store,
    client: &RestClient,
    opts: &FollowOptions,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    let info = client.chain_info()?;
    let network = info.network()?;
    let mut writer = BtcWriter::new(store, network, opts.start_height, opts.writer)?;
    let mut report = IngestReport::default();
    let mut info = Some(info);
    loop {
        let node = match info.take() {
            Some(i) => i,
            None => client.chain_info()?,
        };
        let target = opts.stop_height.map_or(node.blocks, |s| s.min(node.blocks));
        report.rolled_back += reconcile(&mut writer, client)?;
        let caught_up = catch_up(&mut writer, client, target, &mut report, progress)?;
        if caught_up {
            writer.sync()?;
            super::bulk::update_graph(store)?;
        }
        let state = *writer.state();
        report.tip_height = state.tip.map(|(h, _)| h);
        report.tip_hash = state.tip.map(|(_, h)| display_hash(&h));
        report.seconds = started.elapsed().as_secs_f64();
        let done =
            caught_up && (opts.once || opts.stop_height.is_some_and(|s| state.next_height() > s));
        if done {
            return Ok(report);
        }
        if caught_up {
            std::thread::sleep(opts.poll);
        }
    }
}

/// Rolls back while the index tip is not the node's block at that height.
fn reconcile(writer: &mut BtcWriter<'_>, client: &RestClient) -> Result<u32, IngestError> {
    let mut rolled = 0;
    while let Some((height, hash)) = writer.state().tip {
        if client.block_hash(height)? == Some(hash) {
            break;
        }
        if height == writer.state().start_height {
            return Err(IngestError::bad_data(
                client.base(),
                format!("the node's chain no longer contains block {height}, the first block of this index"),
            ));
        }
        writer.rollback_tip()?;
        tracing::warn!(height, hash = %display_hash(&hash), "reorg: rolled back block");
        rolled += 1;
    }
    Ok(rolled)
}

/// Applies blocks up to `target`. Returns false if the node's chain changed underneath us.
fn catch_up(
    writer: &mut BtcWriter<'_>,
    client: &RestClient,
    target: u32,
    report: &mut IngestReport,
    progress: &dyn Progress,
) -> Result<bool, IngestError> {
    let first = writer.state().next_height();
    if first > target {
        return Ok(true);
    }
    progress.start(
        "following node",
        Some(u64::from(target - first + 1)),
        "blocks",
    );
    for height in first..=target {
        let Some(hash) = client.block_hash(height)? else {
            return Ok(finish(progress, false));
        };
        let block = client.block(&hash)?;
        let parent = block.header.prev_blockhash.to_byte_array();
        if writer.state().tip.is_some_and(|(_, tip)| tip != parent) {
            return Ok(finish(progress, false));
        }
        let chainwork = chainwork_after(writer, &block.header);
        let new = block_to_new(&block, height, chainwork).map_err(|r| {
            IngestError::bad_data(
                format!(
                    "block {height} ({}) from {}",
                    display_hash(&hash),
                    client.base()
                ),
                r,
            )
        })?;
        let external = fetch_external(writer, client, &new)?;
        writer.apply_block(&new, &external)?;
        writer.commit()?;
        report.blocks += 1;
        report.txs += new.txs.len() as u64;
        progress.advance(1);
    }
    Ok(finish(progress, true))
}

fn finish(progress: &dyn Progress, v: bool) -> bool {
    progress.finish();
    v
}

/// Cumulative work including `header`. A partial index counts work from its first block.
fn chainwork_after(writer: &BtcWriter<'_>, header: &bitcoin::block::Header) -> [u8; 32] {
    let prev = writer.tip_chainwork().map(Work::from_be_bytes);
    prev.map_or(header.work(), |w| w + header.work())
        .to_be_bytes()
}

/// Prevouts of a partial index that lie below its start height, fetched from the node.
fn fetch_external(
    writer: &mut BtcWriter<'_>,
    client: &RestClient,
    block: &NewBlock,
) -> Result<ExternalPrevouts, IngestError> {
    let unknown = writer.unknown_prevouts(block)?;
    let mut external = ExternalPrevouts::new();
    if unknown.is_empty() || writer.state().start_height == 0 {
        return Ok(external); // a full index resolves everything itself; apply reports the gap
    }
    for (txid, vout) in unknown {
        external.insert((txid, vout), client.prevout(&txid, vout)?);
    }
    Ok(external)
}
