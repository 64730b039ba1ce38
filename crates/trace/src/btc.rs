//! The Bitcoin index as a [`UtxoLedger`], plus resolving what users type (addresses, txids,
//! `txid:vout`, `label:NAME`) into outputs, and loading the index's labels into memory.

use std::sync::Arc;

use chaintrace_model::btc::{AddrKey, ScriptKind};
use chaintrace_model::{AddrId, Network, TxNum};
use chaintrace_store::btc::graph::SpendGraph;
use chaintrace_store::btc::{parse_display_hash, BtcIndex, ClusterIndex};
use chaintrace_store::labels::LabelStore;
use chaintrace_store::records::{PrevTx, TxRecord};
use chaintrace_store::tables::{BtcSpends, BtcTxs, LabelTarget, OutPointNum};
use chaintrace_store::Store;

use crate::attribution::{load_labels, Attributions, Named};
use crate::ledger::{InView, OutRef, OutView, TraceError, TxView, UtxoLedger};

/// A Bitcoin index opened for tracing.
#[derive(Clone)]
pub struct BtcLedger<'s> {
    idx: BtcIndex<'s>,
    network: Network,
    /// The memory-mapped spend graph, when it covers the index: forward traces read it
    /// instead of the tables.
    graph: Option<Arc<SpendGraph>>,
}

impl<'s> BtcLedger<'s> {
    pub fn new(store: &'s Store) -> Result<Self, TraceError> {
        let idx = BtcIndex::new(store);
        let network = idx
            .network()?
            .ok_or_else(|| TraceError::NotFound("the index holds no Bitcoin data".into()))?;
        let graph = match SpendGraph::open(store) {
            Ok(g) => g.map(Arc::new),
            Err(e) => {
                tracing::warn!("not using the spend graph: {e}");
                None
            }
        };
        if graph.is_none() {
            tracing::info!("no current spend graph; forward traces read the index tables");
        }
        Ok(BtcLedger {
            idx,
            network,
            graph,
        })
    }

    /// Ignores the spend graph (reads the tables), e.g. to compare both paths.
    pub fn without_graph(mut self) -> Self {
        self.graph = None;
        self
    }

    pub fn has_graph(&self) -> bool {
        self.graph.is_some()
    }

    pub fn index(&self) -> BtcIndex<'s> {
        self.idx
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// The outputs a reference names, and whether the list was cut at `limit`:
    /// `txid:vout` (one output), a txid (all its spendable outputs), `label:NAME` (everything
    /// carrying that label) or an address (every output it received).
    pub fn resolve(
        &self,
        reference: &str,
        limit: usize,
    ) -> Result<(Vec<OutRef>, bool), TraceError> {
        let r = reference.trim();
        if let Some(name) = r.strip_prefix("label:") {
            return self.resolve_label(name, limit);
        }
        if let Some((txid, vout)) = r.split_once(':').filter(|(t, _)| t.len() == 64) {
            let vout: u32 = vout.parse().map_err(|_| {
                TraceError::Invalid(format!("{r:?}: output index must be a number"))
            })?;
            let out = self.output(txid, vout)?;
            return Ok((vec![out], false));
        }
        if r.len() == 64 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
            return self.resolve_tx(r).map(|v| (v, false));
        }
        self.resolve_address(r, limit)
    }

    fn tx_num(&self, display: &str) -> Result<TxNum, TraceError> {
        let txid = parse_display_hash(display)
            .ok_or_else(|| TraceError::Invalid(format!("{display:?} is not a txid")))?;
        self.idx.tx_num(&txid)?.ok_or_else(|| {
            TraceError::NotFound(format!("transaction {display} is not in the index"))
        })
    }

    fn output(&self, txid: &str, vout: u32) -> Result<OutRef, TraceError> {
        let tx = self.tx_num(txid)?;
        let n = self.tx(tx)?.outputs.len();
        if vout as usize >= n {
            return Err(TraceError::NotFound(format!(
                "transaction {txid} has {n} outputs, not {}",
                vout + 1
            )));
        }
        Ok(OutRef { tx, vout })
    }

    fn resolve_tx(&self, txid: &str) -> Result<Vec<OutRef>, TraceError> {
        let tx = self.tx_num(txid)?;
        let view = self.tx(tx)?;
        Ok((0..view.outputs.len() as u32)
            .filter(|v| !view.outputs[*v as usize].kind.is_unspendable())
            .map(|vout| OutRef { tx, vout })
            .collect())
    }

    fn resolve_address(&self, text: &str, limit: usize) -> Result<(Vec<OutRef>, bool), TraceError> {
        let key =
            AddrKey::parse(text, self.network).map_err(|e| TraceError::Invalid(e.to_string()))?;
        let id = self.idx.addr_id(&key)?.ok_or_else(|| {
            TraceError::NotFound(format!("address {text} never appears in the index"))
        })?;
        let mut outs = Vec::new();
        for item in self.idx.addr_outputs(id) {
            if outs.len() == limit {
                return Ok((outs, true));
            }
            let (tx, vout, _) = item?;
            outs.push(OutRef { tx, vout });
        }
        Ok((outs, false))
    }

    fn resolve_label(&self, name: &str, limit: usize) -> Result<(Vec<OutRef>, bool), TraceError> {
        let labels = LabelStore::new(self.idx.store());
        let mut outs = Vec::new();
        let mut found = false;
        for item in labels.all() {
            let (id, label) = item?;
            if label.name != name {
                continue;
            }
            found = true;
            for target in labels.targets(id) {
                match target? {
                    LabelTarget::BtcAddr(key) => {
                        let Some(addr) = self.idx.addr_id(&key)? else {
                            continue;
                        };
                        for o in self.idx.addr_outputs(addr) {
                            let (tx, vout, _) = o?;
                            outs.push(OutRef { tx, vout });
                        }
                    }
                    LabelTarget::BtcOutput(txid, vout) => {
                        if let Some(tx) = self.idx.tx_num(&txid)? {
                            outs.push(OutRef { tx, vout });
                        }
                    }
                    LabelTarget::EthAddr(_) => {}
                }
            }
        }
        if !found {
            return Err(TraceError::NotFound(format!(
                "no label is named {name:?} (see `chaintrace labels list`)"
            )));
        }
        outs.sort();
        outs.dedup();
        let truncated = outs.len() > limit;
        outs.truncate(limit);
        Ok((outs, truncated))
    }

    /// Display txid of a transaction number.
    pub fn txid(&self, tx: TxNum) -> Result<[u8; 32], TraceError> {
        Ok(self
            .idx
            .tx(tx)?
            .ok_or_else(|| TraceError::NotFound(format!("transaction {tx} is missing")))?
            .txid)
    }
}

fn graph_view(g: &SpendGraph, tx: TxNum) -> Result<TxView, TraceError> {
    let mut view = TxView::default();
    graph_view_into(g, tx, &mut view)?;
    Ok(view)
}

fn graph_view_into(g: &SpendGraph, tx: TxNum, view: &mut TxView) -> Result<(), TraceError> {
    view.tx = tx;
    view.height = g.height(tx).ok_or_else(|| missing(tx))?;
    view.inputs.clear();
    view.inputs.extend(g.inputs(tx).map(|i| InView {
        prev: i.prev.map(|(t, vout)| OutRef { tx: t, vout }),
        value: i.value,
        addr: AddrId::NONE,
        kind: ScriptKind::NonStandard,
    }));
    view.coinbase = view.inputs.is_empty();
    view.outputs.clear();
    view.outputs.extend(g.outputs(tx).map(|o| OutView {
        value: o.value,
        addr: o.addr,
        kind: o.kind,
        spent_by: o.spent_by,
    }));
    Ok(())
}

fn missing(tx: TxNum) -> TraceError {
    TraceError::NotFound(format!("transaction {tx} is missing from the index"))
}

/// The engine's view of a stored transaction (spenders filled in separately).
fn view(tx: TxNum, rec: TxRecord) -> TxView {
    let outputs = rec
        .outputs
        .iter()
        .map(|o| OutView {
            value: o.value,
            addr: o.addr,
            kind: o.kind,
            spent_by: None,
        })
        .collect();
    let inputs = rec
        .inputs
        .iter()
        .map(|i| InView {
            prev: match i.prev_tx {
                PrevTx::Indexed(t) => Some(OutRef {
                    tx: t,
                    vout: i.vout,
                }),
                PrevTx::External(_) => None,
            },
            value: i.value,
            addr: i.addr,
            kind: i.kind,
        })
        .collect();
    TxView {
        tx,
        height: rec.height,
        coinbase: rec.coinbase,
        inputs,
        outputs,
    }
}

impl UtxoLedger for BtcLedger<'_> {
    fn tx(&self, tx: TxNum) -> Result<TxView, TraceError> {
        Ok(self
            .txs(&[tx], true)?
            .pop()
            .expect("one view per transaction"))
    }

    /// From the spend graph when there is one; otherwise two batched reads for the whole set:
    /// the records, then every output's spender.
    fn txs(&self, txs: &[TxNum], spenders: bool) -> Result<Vec<TxView>, TraceError> {
        if let (Some(g), true) = (&self.graph, spenders) {
            return txs.iter().map(|t| graph_view(g, *t)).collect();
        }
        let records = self.idx.store().multi_get::<BtcTxs>(txs)?;
        let mut views = Vec::with_capacity(txs.len());
        for (tx, rec) in txs.iter().zip(records) {
            views.push(view(*tx, rec.ok_or_else(|| missing(*tx))?));
        }
        if spenders {
            let keys: Vec<OutPointNum> = views
                .iter()
                .flat_map(|v| {
                    (0..v.outputs.len() as u32).map(move |vout| OutPointNum { tx: v.tx, vout })
                })
                .collect();
            let mut spends = self.idx.store().multi_get::<BtcSpends>(&keys)?.into_iter();
            for o in views.iter_mut().flat_map(|v| v.outputs.iter_mut()) {
                o.spent_by = spends.next().flatten().map(|s| s.tx);
            }
        }
        Ok(views)
    }

    fn tx_into(&self, tx: TxNum, view: &mut TxView) -> Result<(), TraceError> {
        match &self.graph {
            Some(g) => graph_view_into(g, tx, view),
            None => {
                *view = self.tx(tx)?;
                Ok(())
            }
        }
    }

    fn reads_are_slow(&self) -> bool {
        self.graph.is_none()
    }

    fn block_txs(&self, height: u32) -> Result<(TxNum, u32), TraceError> {
        let b = self
            .idx
            .block(height)?
            .ok_or_else(|| TraceError::NotFound(format!("block {height} is not in the index")))?;
        Ok((b.first_tx, b.tx_count))
    }

    fn subsidy(&self, height: u32) -> u64 {
        self.network.subsidy(height)
    }

    fn complete_inputs(&self, view: &mut TxView) -> Result<(), TraceError> {
        let Some(g) = &self.graph else {
            return Ok(()); // records carry their inputs' addresses already
        };
        for input in &mut view.inputs {
            let Some(prev) = input.prev else { continue };
            let out = g
                .outputs(prev.tx)
                .nth(prev.vout as usize)
                .ok_or_else(|| missing(prev.tx))?;
            input.addr = out.addr;
            input.kind = out.kind;
        }
        Ok(())
    }

    fn mainnet(&self) -> bool {
        self.network == Network::Main
    }
}

/// Labels spread from a cluster-defining address to the rest of its cluster, at most: an
/// exchange's cluster can hold millions of addresses, and these live in memory.
const CLUSTER_SPREAD_BUDGET: usize = 2_000_000;

/// Loads every label that applies to an indexed address or output. A label whose pack marks
/// it as the cluster's definer applies to every address of that address's cluster, when the
/// index keeps clusters.
pub fn load_attributions(store: &Store) -> Result<Attributions, TraceError> {
    let mut attrs = load_address_and_output_labels(store)?;
    let clusters = ClusterIndex::new(store);
    if clusters.enabled()? {
        attrs.spread_over_clusters(
            |addr| {
                let id = clusters.cluster_of(addr)?;
                let m = clusters.members(id, CLUSTER_SPREAD_BUDGET)?;
                Ok((id.0 .0, m.addrs, m.truncated))
            },
            CLUSTER_SPREAD_BUDGET,
        )?;
    }
    Ok(attrs)
}

fn load_address_and_output_labels(store: &Store) -> Result<Attributions, TraceError> {
    let idx = BtcIndex::new(store);
    load_labels(store, |target| {
        Ok(match target {
            LabelTarget::BtcAddr(key) => idx.addr_id(key)?.map_or(Named::Elsewhere, Named::Addr),
            LabelTarget::BtcOutput(txid, vout) => {
                idx.tx_num(txid)?.map_or(Named::Elsewhere, |tx| {
                    Named::Output(OutRef { tx, vout: *vout })
                })
            }
            LabelTarget::EthAddr(_) => Named::Elsewhere,
        })
    })
}

/// Whether outputs of this kind can ever move again.
pub fn is_unspendable(kind: ScriptKind) -> bool {
    kind.is_unspendable()
}
