//! The Bitcoin side of the index.
//!
//! [`BtcWriter`] turns parsed blocks ([`NewBlock`]) into rows: it resolves every input's prevout
//! (value, address, script kind) through a bounded cache backed by the `btc_utxos` table, assigns
//! dense transaction and address ids, and batches a block's rows with its undo record and the
//! cursor. [`BtcWriter::rollback_tip`] undoes the tip block. [`query`] reads the index back.
//! [`cluster`] keeps address clusters (multi-input heuristic) current in the same batches.

mod cache;
pub mod cluster;
pub mod graph;
pub mod query;
mod rollback;
mod writer;

use std::collections::HashMap;

use chaintrace_model::btc::{AddrKey, ScriptKind};

pub use cluster::{ClusterId, ClusterIndex, ClusterOptions};
pub use query::BtcIndex;
pub use writer::{BtcWriter, WriterOptions};

/// A block ready to be indexed: consensus data already parsed and every output classified.
#[derive(Clone, Debug)]
pub struct NewBlock {
    pub height: u32,
    pub hash: [u8; 32],
    pub prev_hash: [u8; 32],
    pub time: u32,
    pub bits: u32,
    /// Total chain work up to and including this block (big-endian 256-bit).
    pub chainwork: [u8; 32],
    pub txs: Vec<NewTx>,
}

#[derive(Clone, Debug)]
pub struct NewTx {
    pub txid: [u8; 32],
    pub version: i32,
    pub lock_time: u32,
    pub vsize: u32,
    pub coinbase: bool,
    /// Prevouts `(txid, vout)` in input order; empty for a coinbase.
    pub inputs: Vec<([u8; 32], u32)>,
    pub outputs: Vec<NewOutput>,
}

/// An output as seen in a block, or a prevout fetched from a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOutput {
    pub value: u64,
    pub kind: ScriptKind,
    /// `None` only for OP_RETURN outputs.
    pub addr: Option<AddrKey>,
}

/// Prevouts that are not in the index (the index starts above their height) and were
/// resolved through a node, keyed by `(txid, vout)`.
pub type ExternalPrevouts = HashMap<([u8; 32], u32), NewOutput>;

/// Display form of a hash stored in internal byte order (reversed hex, as Bitcoin Core shows it).
pub fn display_hash(internal: &[u8; 32]) -> String {
    let mut rev = *internal;
    rev.reverse();
    chaintrace_model::btc::hex_string(&rev)
}

/// Parses a displayed (reversed hex) hash into internal byte order.
pub fn parse_display_hash(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    out.reverse();
    Some(out)
}
