//! The spend graph: a compact, memory-mapped copy of who spent what, for fast forward tracing.
//!
//! Forward tracing asks, for every transaction it meets, for the values of its outputs and who
//! spent them. From the RocksDB tables that is one point read per output; from these flat
//! arrays it is a few memory loads. The graph is derived data: it is rebuilt or extended from
//! the tables (after ingest), is never part of the content digest, and is only used when it
//! covers exactly the index's chain.
//!
//! Layout (`<index>/btc-graph/`, little-endian fixed-width arrays, one file each):
//! `tx_out` and `tx_in` (u64, `txs + 1` entries: first output / input of each transaction),
//! `tx_height` (u32), `out_value`, `out_addr` (u64), `out_kind` (u8), `out_spender` (u64:
//! spending transaction + 1, 0 = unspent), `in_prev_tx` (u64, `u64::MAX` for a prevout outside
//! the index), `in_prev_vout` (u32), `in_value` (u64), and `meta.json`.
//!
//! Consistency: an update first marks the graph incomplete, then only writes entries for new
//! transactions (and spender marks of outputs they spend), then records the new extent. A
//! crashed update leaves the mark, and the next update rebuilds from scratch into a fresh
//! directory that replaces the old one atomically. Readers ignore spender marks that point past
//! the extent they opened, so an extension in progress never shows them half-written data.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use chaintrace_model::btc::ScriptKind;
use chaintrace_model::{AddrId, TxNum};
use memmap2::{Mmap, MmapMut};
use serde::{Deserialize, Serialize};

use super::{display_hash, BtcIndex};
use crate::records::{PrevTx, TxRecord};
use crate::tables::BtcTxs;
use crate::{Store, StoreError};

const VERSION: u32 = 1;
const DIR: &str = "btc-graph";
const META: &str = "meta.json";
const EXTERNAL: u64 = u64::MAX;

/// Array files and their element widths.
const FILES: [(&str, usize); 10] = [
    ("tx_out", 8),
    ("tx_in", 8),
    ("tx_height", 4),
    ("out_value", 8),
    ("out_addr", 8),
    ("out_kind", 1),
    ("out_spender", 8),
    ("in_prev_tx", 8),
    ("in_prev_vout", 4),
    ("in_value", 8),
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    version: u32,
    complete: bool,
    txs: u64,
    outputs: u64,
    inputs: u64,
    tip_height: u32,
    tip_hash: String,
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Graph(format!("{}: {e}", path.display()))
}

/// Where the graph of the index at `db` lives.
pub fn graph_dir(db: &Path) -> PathBuf {
    db.join(DIR)
}

fn read_meta(dir: &Path) -> Option<Meta> {
    let bytes = std::fs::read(dir.join(META)).ok()?;
    serde_json::from_slice(&bytes)
        .ok()
        .filter(|m: &Meta| m.version == VERSION)
}

fn write_meta(dir: &Path, meta: &Meta) -> Result<(), StoreError> {
    let tmp = dir.join("meta.json.tmp");
    let bytes = serde_json::to_vec_pretty(meta).expect("meta serializes");
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    let f = File::open(&tmp).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, dir.join(META)).map_err(|e| io(dir, e))
}

/// What a status report says about the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct GraphStatus {
    /// Transactions the graph covers.
    pub txs: u64,
    /// Whether it covers exactly the index's chain (and is therefore used).
    pub current: bool,
}

/// The graph's extent, if there is one.
pub fn status(store: &Store) -> Result<Option<GraphStatus>, StoreError> {
    let Some(meta) = read_meta(&graph_dir(store.path())) else {
        return Ok(None);
    };
    let current = SpendGraph::open(store)?.is_some();
    Ok(Some(GraphStatus {
        txs: meta.txs,
        current,
    }))
}

/// What [`update`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphUpdate {
    Unchanged,
    Extended { from: u64, to: u64 },
    Rebuilt { txs: u64 },
    Removed,
}

/// Brings the graph in line with the index: extends it when the index only grew, rebuilds it
/// after a reorg below its extent or a crashed update.
pub fn update(store: &Store) -> Result<GraphUpdate, StoreError> {
    let idx = BtcIndex::new(store);
    let dir = graph_dir(store.path());
    let Some(state) = idx.state()?.filter(|s| s.tip.is_some()) else {
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(GraphUpdate::Removed);
    };
    let (tip_height, tip_hash) = state.tip.expect("filtered");
    let target = Meta {
        version: VERSION,
        complete: true,
        txs: state.next_tx,
        outputs: state.outputs,
        inputs: state.inputs,
        tip_height,
        tip_hash: display_hash(&tip_hash),
    };
    match read_meta(&dir) {
        Some(m) if m == target => Ok(GraphUpdate::Unchanged),
        Some(m) if m.complete && m.txs <= target.txs && still_on_chain(&idx, &m)? => {
            extend(store, &dir, &m, &target)?;
            Ok(GraphUpdate::Extended {
                from: m.txs,
                to: target.txs,
            })
        }
        _ => {
            rebuild(store, &dir, &target)?;
            Ok(GraphUpdate::Rebuilt { txs: target.txs })
        }
    }
}

fn still_on_chain(idx: &BtcIndex<'_>, m: &Meta) -> Result<bool, StoreError> {
    Ok(idx
        .block(m.tip_height)?
        .is_some_and(|b| display_hash(&b.hash) == m.tip_hash))
}

fn rebuild(store: &Store, dir: &Path, target: &Meta) -> Result<(), StoreError> {
    let fresh = dir.with_extension("new");
    let _ = std::fs::remove_dir_all(&fresh);
    std::fs::create_dir_all(&fresh).map_err(|e| io(&fresh, e))?;
    let empty = Meta {
        complete: true,
        txs: 0,
        outputs: 0,
        inputs: 0,
        ..target.clone()
    };
    fill(store, &fresh, &empty, target)?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&fresh, dir).map_err(|e| io(dir, e))
}

fn extend(store: &Store, dir: &Path, from: &Meta, target: &Meta) -> Result<(), StoreError> {
    write_meta(
        dir,
        &Meta {
            complete: false,
            ..from.clone()
        },
    )?;
    fill(store, dir, from, target)
}

/// Writable arrays, grown to their final size.
struct Writer {
    maps: Vec<MmapMut>,
}

impl Writer {
    fn open(dir: &Path, target: &Meta) -> Result<Self, StoreError> {
        let mut maps = Vec::with_capacity(FILES.len());
        for (name, width) in FILES {
            let len = match name {
                "tx_out" | "tx_in" => target.txs + 1,
                n if n.starts_with("tx_") => target.txs,
                n if n.starts_with("out_") => target.outputs,
                _ => target.inputs,
            } * width as u64;
            let path = dir.join(name);
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| io(&path, e))?;
            f.set_len(len.max(1)).map_err(|e| io(&path, e))?;
            // SAFETY: the file is private to the index directory; only this process writes it
            // (ingest holds the index's lock) and readers only read entries below their extent.
            maps.push(unsafe { MmapMut::map_mut(&f) }.map_err(|e| io(&path, e))?);
        }
        Ok(Writer { maps })
    }

    fn put(&mut self, file: usize, i: u64, bytes: &[u8]) {
        let w = FILES[file].1;
        let at = i as usize * w;
        self.maps[file][at..at + w].copy_from_slice(&bytes[..w]);
    }

    fn get_u64(&self, file: usize, i: u64) -> u64 {
        let at = i as usize * 8;
        u64::from_le_bytes(self.maps[file][at..at + 8].try_into().expect("8 bytes"))
    }

    fn flush(&self) -> Result<(), StoreError> {
        for m in &self.maps {
            m.flush().map_err(|e| StoreError::Graph(e.to_string()))?;
        }
        Ok(())
    }
}

const TX_OUT: usize = 0;
const TX_IN: usize = 1;
const TX_HEIGHT: usize = 2;
const OUT_VALUE: usize = 3;
const OUT_ADDR: usize = 4;
const OUT_KIND: usize = 5;
const OUT_SPENDER: usize = 6;
const IN_PREV_TX: usize = 7;
const IN_PREV_VOUT: usize = 8;
const IN_VALUE: usize = 9;

/// Writes transactions `from.txs .. target.txs`, then records `target` as the extent.
fn fill(store: &Store, dir: &Path, from: &Meta, target: &Meta) -> Result<(), StoreError> {
    let mut w = Writer::open(dir, target)?;
    let (mut o, mut i) = (from.outputs, from.inputs);
    let mut expected = from.txs;
    for item in store
        .iter_from::<BtcTxs>(Some(&TxNum(from.txs)))
        .take((target.txs - from.txs) as usize)
    {
        let (tx, rec) = item?;
        if tx.0 != expected {
            return Err(StoreError::Graph(format!(
                "transaction {expected} is missing from the index"
            )));
        }
        expected += 1;
        w.put(TX_OUT, tx.0, &o.to_le_bytes());
        w.put(TX_IN, tx.0, &i.to_le_bytes());
        w.put(TX_HEIGHT, tx.0, &rec.height.to_le_bytes());
        write_tx(&mut w, tx, &rec, &mut o, &mut i);
    }
    if (expected, o, i) != (target.txs, target.outputs, target.inputs) {
        return Err(StoreError::Graph(format!(
            "the index holds {expected} transactions, {o} outputs and {i} inputs, its cursor says {}, {} and {}",
            target.txs, target.outputs, target.inputs
        )));
    }
    w.put(TX_OUT, target.txs, &o.to_le_bytes());
    w.put(TX_IN, target.txs, &i.to_le_bytes());
    w.flush()?;
    write_meta(dir, target)
}

fn write_tx(w: &mut Writer, tx: TxNum, rec: &TxRecord, o: &mut u64, i: &mut u64) {
    for out in &rec.outputs {
        w.put(OUT_VALUE, *o, &out.value.to_le_bytes());
        w.put(OUT_ADDR, *o, &out.addr.0.to_le_bytes());
        w.put(OUT_KIND, *o, &[out.kind as u8]);
        w.put(OUT_SPENDER, *o, &0u64.to_le_bytes());
        *o += 1;
    }
    for input in &rec.inputs {
        let prev = match input.prev_tx {
            PrevTx::Indexed(p) => {
                let spent = w.get_u64(TX_OUT, p.0) + u64::from(input.vout);
                w.put(OUT_SPENDER, spent, &(tx.0 + 1).to_le_bytes());
                p.0
            }
            PrevTx::External(_) => EXTERNAL,
        };
        w.put(IN_PREV_TX, *i, &prev.to_le_bytes());
        w.put(IN_PREV_VOUT, *i, &input.vout.to_le_bytes());
        w.put(IN_VALUE, *i, &input.value.to_le_bytes());
        *i += 1;
    }
}

/// A read-only view of a graph that covers exactly the index's chain.
pub struct SpendGraph {
    txs: u64,
    maps: Vec<Mmap>,
}

/// One output, as the graph stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphOutput {
    pub value: u64,
    pub addr: AddrId,
    pub kind: ScriptKind,
    pub spent_by: Option<TxNum>,
}

/// One input: the output it spends (`None` outside the index) and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphInput {
    pub prev: Option<(TxNum, u32)>,
    pub value: u64,
}

impl SpendGraph {
    /// The graph of `store`'s index, if one exists and covers exactly the index's chain.
    pub fn open(store: &Store) -> Result<Option<SpendGraph>, StoreError> {
        let dir = graph_dir(store.path());
        let Some(meta) = read_meta(&dir).filter(|m| m.complete) else {
            return Ok(None);
        };
        let state = BtcIndex::new(store).state()?;
        let current =
            state.and_then(|s| s.tip.map(|(h, hash)| (s.next_tx, h, display_hash(&hash))));
        if current != Some((meta.txs, meta.tip_height, meta.tip_hash.clone())) {
            return Ok(None);
        }
        let mut maps = Vec::with_capacity(FILES.len());
        for (name, _) in FILES {
            let path = dir.join(name);
            let f = File::open(&path).map_err(|e| io(&path, e))?;
            // SAFETY: readers only touch entries below the extent recorded in meta.json, which
            // writers never change; spender marks beyond it are filtered out.
            maps.push(unsafe { Mmap::map(&f) }.map_err(|e| io(&path, e))?);
        }
        let graph = SpendGraph {
            txs: meta.txs,
            maps,
        };
        let sized = |f: usize, n: u64| graph.maps[f].len() as u64 >= n * FILES[f].1 as u64;
        if !(sized(TX_OUT, meta.txs + 1)
            && sized(OUT_SPENDER, meta.outputs)
            && sized(IN_VALUE, meta.inputs))
        {
            return Err(StoreError::Graph(format!(
                "{}: array files are shorter than meta.json says",
                dir.display()
            )));
        }
        Ok(Some(graph))
    }

    pub fn txs(&self) -> u64 {
        self.txs
    }

    fn u64_at(&self, file: usize, i: u64) -> u64 {
        let at = i as usize * 8;
        u64::from_le_bytes(self.maps[file][at..at + 8].try_into().expect("8 bytes"))
    }

    fn u32_at(&self, file: usize, i: u64) -> u32 {
        let at = i as usize * 4;
        u32::from_le_bytes(self.maps[file][at..at + 4].try_into().expect("4 bytes"))
    }

    /// Height of `tx`, or `None` past the graph's extent.
    pub fn height(&self, tx: TxNum) -> Option<u32> {
        (tx.0 < self.txs).then(|| self.u32_at(TX_HEIGHT, tx.0))
    }

    /// The outputs of `tx` (empty past the graph's extent).
    pub fn outputs(&self, tx: TxNum) -> impl Iterator<Item = GraphOutput> + '_ {
        let range = self.range(TX_OUT, tx);
        range.map(|o| self.output(o))
    }

    /// The inputs of `tx` (empty past the graph's extent).
    pub fn inputs(&self, tx: TxNum) -> impl Iterator<Item = GraphInput> + '_ {
        let range = self.range(TX_IN, tx);
        range.map(|i| self.input(i))
    }

    fn range(&self, file: usize, tx: TxNum) -> std::ops::Range<u64> {
        if tx.0 >= self.txs {
            return 0..0;
        }
        self.u64_at(file, tx.0)..self.u64_at(file, tx.0 + 1)
    }

    fn output(&self, o: u64) -> GraphOutput {
        let spender = self.u64_at(OUT_SPENDER, o);
        GraphOutput {
            value: self.u64_at(OUT_VALUE, o),
            addr: AddrId(self.u64_at(OUT_ADDR, o)),
            kind: ScriptKind::from_u8(self.maps[OUT_KIND][o as usize])
                .unwrap_or(ScriptKind::NonStandard),
            // A mark past our extent belongs to an extension still being written.
            spent_by: (spender != 0 && spender <= self.txs).then(|| TxNum(spender - 1)),
        }
    }

    fn input(&self, i: u64) -> GraphInput {
        let prev = self.u64_at(IN_PREV_TX, i);
        GraphInput {
            prev: (prev != EXTERNAL).then(|| (TxNum(prev), self.u32_at(IN_PREV_VOUT, i))),
            value: self.u64_at(IN_VALUE, i),
        }
    }
}
