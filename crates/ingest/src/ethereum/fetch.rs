//! Fetching one block's worth of data from a node: the block with full transactions, its
//! receipts and its internal transfers, with the fallbacks real nodes need
//! (`eth_getBlockReceipts` → per-transaction receipts in one batch; `debug_traceBlockByNumber`
//! with callTracer → parity `trace_block`).

use std::sync::atomic::{AtomicBool, Ordering};

use alloy::primitives::{B256, U64};
use alloy::rpc::types::trace::parity::LocalizedTransactionTrace;
use alloy::rpc::types::Block;
use serde_json::{json, Value};

use super::extract::{block_from_json, call_traces_from_json, InternalTraces, Receipt};
use super::node::{EthNode, NodeError};

/// Where internal transfers come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceSource {
    /// geth's `debug_traceBlockByNumber` with the callTracer (geth, erigon, reth, nethermind).
    CallTracer,
    /// parity-style `trace_block` (erigon, reth, nethermind, besu).
    Parity,
    /// No internal transfers at all: value moved by contracts is missing from the index.
    None,
}

impl TraceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceSource::CallTracer => "calltracer",
            TraceSource::Parity => "parity",
            TraceSource::None => "none",
        }
    }
}

/// Everything the extractor needs for one block. Answers are read as JSON first and parsed by
/// the extractor's lenient readers, because alloy's types reject real answers of older nodes
/// (receipts without `from`, call frames of old geth).
pub struct FetchedBlock {
    pub block: Block,
    pub receipts: Vec<Receipt>,
    pub traces: InternalTraces,
}

/// Fetches blocks; remembers that the node lacks `eth_getBlockReceipts` once it has said so.
pub struct Fetcher {
    node: EthNode,
    traces: TraceSource,
    no_block_receipts: AtomicBool,
}

fn hex(n: u64) -> String {
    format!("{n:#x}")
}

impl Fetcher {
    pub fn new(node: EthNode, traces: TraceSource) -> Self {
        Fetcher {
            node,
            traces,
            no_block_receipts: AtomicBool::new(false),
        }
    }

    pub fn node(&self) -> &EthNode {
        &self.node
    }

    pub fn trace_source(&self) -> TraceSource {
        self.traces
    }

    pub async fn chain_id(&self) -> Result<u64, NodeError> {
        let id: Option<U64> = self
            .node
            .call("eth_chainId", (), &|| "the chain id".into())
            .await?;
        Ok(id.map_or(0, |v| v.to()))
    }

    pub async fn head(&self) -> Result<u64, NodeError> {
        let n: Option<U64> = self
            .node
            .call("eth_blockNumber", (), &|| "the head".into())
            .await?;
        Ok(n.map_or(0, |v| v.to()))
    }

    /// Decides the trace source for a node that was not told: callTracer if it answers, else
    /// parity traces, else an error that says what to do.
    pub async fn probe_traces(node: &EthNode, height: u64) -> Result<TraceSource, NodeError> {
        let probe = Fetcher::new(node.clone(), TraceSource::CallTracer);
        match probe.call_traces(height).await {
            Ok(_) => return Ok(TraceSource::CallTracer),
            Err(NodeError::MethodMissing { .. }) => {}
            Err(e) => return Err(e),
        }
        let probe = Fetcher::new(node.clone(), TraceSource::Parity);
        match probe.parity_traces(height).await {
            Ok(_) => Ok(TraceSource::Parity),
            Err(NodeError::MethodMissing { url, reason, .. }) => Err(NodeError::MethodMissing {
                url,
                method: "debug_traceBlockByNumber or trace_block".into(),
                reason: format!(
                    "{reason}; internal transfers need one of them (run the node with the debug \
                     or trace API enabled, or pass --traces none to index without them)"
                ),
            }),
            Err(e) => Err(e),
        }
    }

    /// The hash of the node's block at `height`, if it has one.
    pub async fn block_hash(&self, height: u64) -> Result<Option<B256>, NodeError> {
        let what = || format!("block {height}");
        let block = self
            .node
            .call::<_, Block>("eth_getBlockByNumber", (hex(height), false), &what)
            .await?;
        Ok(block.map(|b| b.header.hash))
    }

    /// The block at `height`, or `None` if the node does not have it (yet).
    pub async fn block(&self, height: u64) -> Result<Option<FetchedBlock>, NodeError> {
        let what = || format!("block {height}");
        let Some(json) = self
            .node
            .call::<_, Value>("eth_getBlockByNumber", (hex(height), true), &what)
            .await?
            .filter(|v| !v.is_null())
        else {
            return Ok(None);
        };
        let block = block_from_json(&json, height)
            .map_err(|e| self.malformed("eth_getBlockByNumber", height, e.to_string()))?;
        let (receipts, traces) =
            futures::try_join!(self.receipts(height, &block), self.traces(height, &block))?;
        Ok(Some(FetchedBlock {
            block,
            receipts,
            traces,
        }))
    }

    async fn receipts(&self, height: u64, block: &Block) -> Result<Vec<Receipt>, NodeError> {
        let what = || format!("the receipts of block {height}");
        let parse = |json: &Value, method: &str| {
            Receipt::list_from_json(json, height)
                .map_err(|e| self.malformed(method, height, e.to_string()))
        };
        if !self.no_block_receipts.load(Ordering::Relaxed) {
            match self
                .node
                .call::<_, Value>("eth_getBlockReceipts", (hex(height),), &what)
                .await
            {
                Ok(Some(r)) if !r.is_null() => return parse(&r, "eth_getBlockReceipts"),
                Ok(_) => return Err(self.absent("eth_getBlockReceipts", what())),
                Err(NodeError::MethodMissing { .. }) => {
                    tracing::warn!(
                        "{} lacks eth_getBlockReceipts; fetching receipts one by one",
                        self.node.url()
                    );
                    self.no_block_receipts.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        let hashes: Vec<(B256,)> = block.transactions.hashes().map(|h| (h,)).collect();
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let found = self
            .node
            .batch::<_, Value>("eth_getTransactionReceipt", &hashes, &what)
            .await?;
        let mut list = Vec::with_capacity(found.len());
        for (r, (h,)) in found.into_iter().zip(&hashes) {
            match r.filter(|v| !v.is_null()) {
                Some(r) => list.push(r),
                None => return Err(self.absent("eth_getTransactionReceipt", format!("tx {h}"))),
            }
        }
        parse(&Value::Array(list), "eth_getTransactionReceipt")
    }

    async fn traces(&self, height: u64, block: &Block) -> Result<InternalTraces, NodeError> {
        match self.traces {
            TraceSource::None => Ok(InternalTraces::None),
            TraceSource::Parity => Ok(InternalTraces::Parity(self.parity_traces(height).await?)),
            TraceSource::CallTracer => {
                let json = self.call_traces(height).await?;
                let hashes: Vec<B256> = block.transactions.hashes().collect();
                let frames = call_traces_from_json(&json, &hashes, height).map_err(|e| {
                    self.malformed("debug_traceBlockByNumber", height, e.to_string())
                })?;
                Ok(InternalTraces::CallTracer(frames))
            }
        }
    }

    async fn call_traces(&self, height: u64) -> Result<Value, NodeError> {
        let what = || format!("the call traces of block {height}");
        let opts = json!({"tracer": "callTracer", "tracerConfig": {"onlyTopCall": false, "withLog": true}});
        self.node
            .call::<_, Value>("debug_traceBlockByNumber", (hex(height), opts), &what)
            .await?
            .filter(|v| !v.is_null())
            .ok_or_else(|| self.absent("debug_traceBlockByNumber", what()))
    }

    async fn parity_traces(
        &self,
        height: u64,
    ) -> Result<Vec<LocalizedTransactionTrace>, NodeError> {
        let what = || format!("the traces of block {height}");
        self.node
            .call::<_, Vec<LocalizedTransactionTrace>>("trace_block", (hex(height),), &what)
            .await?
            .ok_or_else(|| self.absent("trace_block", what()))
    }

    fn absent(&self, method: &str, what: String) -> NodeError {
        NodeError::Rejected {
            url: self.node.url().into(),
            method: method.into(),
            what,
            reason: "the node answered null".into(),
        }
    }

    fn malformed(&self, method: &str, height: u64, reason: String) -> NodeError {
        NodeError::Malformed {
            url: self.node.url().into(),
            method: method.into(),
            what: format!("block {height}"),
            reason,
        }
    }
}
