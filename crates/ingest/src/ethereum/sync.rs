//! The Ethereum ingest loop: fetch blocks concurrently from the node, apply them in order, one
//! atomic batch per block, and roll back when the node's chain no longer extends the index.
//!
//! Fetching is the slow part (three RPC calls per block), so up to `concurrency` blocks are in
//! flight while earlier ones are extracted and written. Writing stays sequential: a block is
//! applied only on top of its parent, which is what makes a kill at any moment safe to resume
//! and a reorg detectable (the next block's parent hash is not the indexed tip).

use std::time::{Duration, Instant};

use chaintrace_model::eth::{ExtractedBlock, B256};
use chaintrace_store::eth::EthWriter;
use chaintrace_store::Store;
use futures::stream::{self, StreamExt};

use super::extract::extract_block;
use super::fetch::{FetchedBlock, Fetcher, TraceSource};
use super::node::{EthNode, NodeError, RetryPolicy};
use crate::{IngestError, Progress};

/// What `chaintrace ingest eth` was asked to do.
#[derive(Clone, Debug)]
pub struct EthIngestOptions {
    pub rpc: String,
    /// First height of a new index (ignored when resuming, where it must match the cursor).
    pub from: Option<u64>,
    /// Last height to ingest.
    pub to: Option<u64>,
    /// Stay this many blocks behind the node's head (reorgs deeper than this are still handled).
    pub confirmations: u64,
    /// Blocks fetched at once.
    pub concurrency: usize,
    /// `None`: probe the node (callTracer, then parity).
    pub traces: Option<TraceSource>,
    /// Keep polling for new blocks instead of returning once caught up.
    pub follow: bool,
    pub poll: Duration,
    pub retry: RetryPolicy,
    /// Refuse to roll back more blocks than this in one reorg.
    pub max_reorg_depth: u32,
}

impl EthIngestOptions {
    pub fn new(rpc: impl Into<String>) -> Self {
        EthIngestOptions {
            rpc: rpc.into(),
            from: None,
            to: None,
            confirmations: 0,
            concurrency: 8,
            traces: None,
            follow: false,
            poll: Duration::from_secs(4),
            retry: RetryPolicy::default(),
            max_reorg_depth: 128,
        }
    }
}

/// What one run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct EthIngestReport {
    pub chain_id: u64,
    pub blocks: u64,
    pub txs: u64,
    pub transfers: u64,
    pub rolled_back: u64,
    pub tip_height: Option<u32>,
    pub tip_hash: Option<String>,
    pub traces: String,
    pub seconds: f64,
}

impl From<NodeError> for IngestError {
    fn from(e: NodeError) -> Self {
        if e.is_unavailable() {
            IngestError::Unavailable {
                url: match &e {
                    NodeError::Unreachable { url, .. } | NodeError::MethodMissing { url, .. } => {
                        url.clone()
                    }
                    _ => String::new(),
                },
                reason: e.to_string(),
            }
        } else if let NodeError::BadUrl(_) = e {
            IngestError::Usage(e.to_string())
        } else {
            IngestError::bad_data("Ethereum node", e.to_string())
        }
    }
}

/// Runs the ingest on a runtime of its own, so callers stay synchronous.
pub fn ingest_eth(
    store: &Store,
    opts: &EthIngestOptions,
    progress: &dyn Progress,
    stop: &dyn Fn() -> bool,
) -> Result<EthIngestReport, IngestError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| IngestError::Usage(format!("cannot start the async runtime: {e}")))?;
    let report = runtime.block_on(run(store, opts, progress, stop));
    // Blocks are durable through the write-ahead log already; flushing it into table files
    // spares every later (read-only) open from replaying it.
    store.flush()?;
    report
}

async fn run(
    store: &Store,
    opts: &EthIngestOptions,
    progress: &dyn Progress,
    stop: &dyn Fn() -> bool,
) -> Result<EthIngestReport, IngestError> {
    let started = Instant::now();
    let node = EthNode::connect(&opts.rpc, opts.retry)?;
    let chain_id = Fetcher::new(node.clone(), TraceSource::None)
        .chain_id()
        .await?;
    let mut writer = open_writer(store, chain_id, opts)?;
    let traces = match opts.traces {
        Some(t) => t,
        None => {
            // Probe a block the node surely has: the next one to index, or its head.
            let head = Fetcher::new(node.clone(), TraceSource::None).head().await?;
            let probe = u64::from(writer.state().next_height()).min(head);
            Fetcher::probe_traces(&node, probe).await?
        }
    };
    if traces == TraceSource::None {
        tracing::warn!(
            "--traces none: internal transfers (value moved by contracts) will be MISSING from \
             the index, and traces through contracts will stop short"
        );
    }
    let fetcher = Fetcher::new(node, traces);
    let mut report = EthIngestReport {
        chain_id,
        traces: traces.as_str().into(),
        ..Default::default()
    };
    let mut depth = 0u32;
    let mut run = Run {
        fetcher: &fetcher,
        writer: &mut writer,
        opts,
        report: &mut report,
        depth: &mut depth,
    };
    loop {
        if !run.tip_is_canonical().await? {
            run.rollback()?;
            continue;
        }
        let head = fetcher.head().await?;
        let target = opts
            .to
            .map_or(head, |t| t.min(head))
            .saturating_sub(opts.confirmations.min(head));
        let next = u64::from(run.writer.state().next_height());
        if next <= target
            && !stop()
            && run.catch_up(next..=target, progress, stop).await? == Outcome::RolledBack
        {
            continue;
        }
        let done = opts
            .to
            .is_some_and(|t| u64::from(run.writer.state().next_height()) > t);
        if !opts.follow || done || stop() {
            break;
        }
        sleep_unless_stopped(opts.poll, stop).await;
    }
    if let Some((h, hash)) = writer.state().tip {
        report.tip_height = Some(h);
        report.tip_hash = Some(B256::from(hash).to_string());
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn open_writer<'s>(
    store: &'s Store,
    chain_id: u64,
    opts: &EthIngestOptions,
) -> Result<EthWriter<'s>, IngestError> {
    let start = u32::try_from(opts.from.unwrap_or(0))
        .map_err(|_| IngestError::Usage("--from is beyond any Ethereum height".into()))?;
    let writer = EthWriter::open(store, chain_id, start)?;
    let state = writer.state();
    if let (Some(from), Some(_)) = (opts.from, state.tip) {
        if from != u64::from(state.next_height()) && from != u64::from(state.start_height) {
            return Err(IngestError::Usage(format!(
                "the index already holds Ethereum blocks {}..={} and continues at {}; \
                 --from {from} would leave a gap or overlap (use a new --db for another range)",
                state.start_height,
                state.next_height() - 1,
                state.next_height()
            )));
        }
    }
    Ok(writer)
}

async fn sleep_unless_stopped(total: Duration, stop: &dyn Fn() -> bool) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < total && !stop() {
        tokio::time::sleep(step).await;
        slept += step;
    }
}

/// One catch-up pass over a range of heights.
struct Run<'a, 's> {
    fetcher: &'a Fetcher,
    writer: &'a mut EthWriter<'s>,
    opts: &'a EthIngestOptions,
    report: &'a mut EthIngestReport,
    /// Blocks rolled back since the last block applied.
    depth: &'a mut u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Applied,
    RolledBack,
}

impl Run<'_, '_> {
    /// Applies `heights` in order while fetching ahead. Stops early after rolling back a
    /// reorganised tip, since the heights to fetch have changed.
    async fn catch_up(
        &mut self,
        heights: std::ops::RangeInclusive<u64>,
        progress: &dyn Progress,
        stop: &dyn Fn() -> bool,
    ) -> Result<Outcome, IngestError> {
        let total = heights.end() - heights.start() + 1;
        progress.start("ingesting Ethereum blocks", Some(total), "blocks");
        let fetcher = self.fetcher;
        let mut fetched = stream::iter(heights)
            .map(|h| async move { (h, fetcher.block(h).await) })
            .buffered(self.opts.concurrency.max(1));
        let mut outcome = Outcome::Applied;
        while let Some((height, result)) = fetched.next().await {
            let Some(data) = result? else {
                break; // the node's head moved back (a reorg in progress); poll again
            };
            let block = extract(&data, height)?;
            if !extends_tip(self.writer, &block) {
                self.rollback()?;
                outcome = Outcome::RolledBack;
                break;
            }
            self.writer.apply(&block)?;
            *self.depth = 0;
            count(self.report, &block);
            progress.advance(1);
            if stop() {
                break;
            }
        }
        progress.finish();
        Ok(outcome)
    }

    /// Whether the node still has the indexed tip on its chain (a reorg of equal length
    /// replaces the tip without a new block that would reveal it).
    async fn tip_is_canonical(&self) -> Result<bool, IngestError> {
        let Some((height, hash)) = self.writer.state().tip else {
            return Ok(true);
        };
        let current = self.fetcher.block_hash(u64::from(height)).await?;
        Ok(current.is_none_or(|h| h.0 == hash))
    }

    fn rollback(&mut self) -> Result<(), IngestError> {
        *self.depth += 1;
        if *self.depth > self.opts.max_reorg_depth {
            let tip = self.writer.state().tip.map_or(0, |(h, _)| h);
            return Err(IngestError::bad_data(
                format!("Ethereum block {tip}"),
                format!(
                    "reorganisation deeper than {} blocks (raise --max-reorg-depth if the node \
                     really switched that far)",
                    self.opts.max_reorg_depth
                ),
            ));
        }
        let tip = self.writer.state().tip.map(|(h, _)| h);
        tracing::warn!(
            ?tip,
            "the node's chain no longer extends the indexed tip; rolling it back"
        );
        self.writer.rollback_tip()?;
        self.report.rolled_back += 1;
        Ok(())
    }
}

fn extract(data: &FetchedBlock, height: u64) -> Result<ExtractedBlock, IngestError> {
    extract_block(&data.block, &data.receipts, &data.traces)
        .map_err(|e| IngestError::bad_data(format!("Ethereum block {height}"), e.to_string()))
}

fn extends_tip(writer: &EthWriter<'_>, block: &ExtractedBlock) -> bool {
    writer
        .state()
        .tip
        .is_none_or(|(_, tip)| block.parent_hash.0 == tip)
}

fn count(report: &mut EthIngestReport, block: &ExtractedBlock) {
    report.blocks += 1;
    report.txs += block.txs.len() as u64;
    report.transfers += block.transfer_count() as u64;
}
