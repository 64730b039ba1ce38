//! Address clusters (tracing spec §6.1): every non-coinbase transaction's input addresses are
//! taken to have one owner, unless the transaction is a multi-party CoinJoin or spends from
//! addresses labelled as two different services.
//!
//! The clusters are a union-find forest over address ids, kept current block by block in the
//! same batch as the block ([`forest`]), undone exactly on a reorg ([`undo`]) and read back by
//! [`ClusterIndex`]. The forest is union by size (ties go to the smaller root id) and is never
//! path-compressed, so depth stays logarithmic and every edge keeps the transaction and the two
//! co-spent addresses that justify it: that is what `explain` walks.
//!
//! Cluster ids are root address ids. A cluster keeps its id as blocks arrive until it is absorbed
//! into a larger cluster (then it takes that cluster's id); a reorg restores earlier ids.

mod conflicts;
pub(crate) mod forest;
pub mod query;
pub mod records;
pub(crate) mod undo;

use chaintrace_model::AddrId;

use crate::codec::DecodeError;
use crate::tables::{Meta, MetaKey};
use crate::{Store, StoreError};

pub use query::{ClusterIndex, ClusterInfo, Members, MergeStep, Seen};
pub use records::{ClusterAlert, ClusterEdge, ClusterRecord, Jump};

/// A cluster, named by its root address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterId(pub AddrId);

/// How the writer maintains clusters.
#[derive(Clone, Copy, Debug)]
pub struct ClusterOptions {
    /// Maintain clusters during ingest. Applies when an index is created: an index keeps the
    /// setting it was built with, because clusters built over part of a chain would be wrong.
    pub enabled: bool,
    /// Forest nodes (parent links and root records) kept in memory.
    pub cache_entries: usize,
    /// Alert when a transaction makes a cluster reach a power of ten at or above this size
    /// (1,000, 10,000, ...). 0 turns this alert off.
    pub alert_size: u64,
    /// Alert when a transaction joins two or more clusters that each have at least this many
    /// addresses. 0 turns this alert off.
    pub alert_join: u64,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            enabled: true,
            cache_entries: 1_000_000,
            alert_size: 1_000,
            alert_join: 100,
        }
    }
}

/// Whether the index maintains clusters: `None` until its first block is committed.
pub fn stored_setting(store: &Store) -> Result<Option<bool>, StoreError> {
    match store.get::<Meta>(&MetaKey::BtcClustering)?.as_deref() {
        None => Ok(None),
        Some([0]) => Ok(Some(false)),
        Some([1]) => Ok(Some(true)),
        Some(other) => Err(StoreError::Corrupt {
            table: "meta",
            key: MetaKey::BtcClustering.as_str().into(),
            source: DecodeError::new("clustering flag", format!("{other:?}")),
        }),
    }
}

/// The error for a forest that cannot be what the writer wrote (a cycle, a dangling edge).
fn corrupt_forest(addr: AddrId, reason: &str) -> StoreError {
    StoreError::Corrupt {
        table: "btc_cluster_parent",
        key: addr.0.to_string(),
        source: DecodeError::new("cluster forest", reason),
    }
}

/// Longest parent chain the forest can have: union by size at most doubles a cluster per level,
/// so 64 levels would need 2^64 addresses. Longer chains mean a corrupt forest.
const MAX_DEPTH: usize = 64;
