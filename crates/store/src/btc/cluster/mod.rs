//! Address clusters (tracing spec §6.1): every non-coinbase transaction's input addresses are
//! taken to have one owner, unless the transaction is a multi-party CoinJoin, has the Stonewall
//! shape, or spends from addresses labelled as two different services. On request ([`ChangeRule`], spec §6.2), a
//! transaction's change output joins its first input's cluster too.
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
pub use records::{ChildList, ClusterAlert, ClusterEdge, ClusterRecord, EdgeRule, Jump};

/// A cluster, named by its root address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterId(pub AddrId);

/// A change-address rule applied at ingest (tracing spec §6.2). Change heuristics guess, and a
/// wrong guess merges two owners for good, so none runs unless asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChangeRule {
    #[default]
    None,
    /// Meiklejohn et al.'s Heuristic 2: in a transaction that pays none of its input addresses,
    /// the one output whose address appears for the first time is the change. It joins the
    /// cluster of the transaction's first input address.
    MeiklejohnH2,
}

/// What an index's clusters are built from: stored in `meta/btc.clustering` with the first
/// block, and kept for the life of the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterSetting {
    Off,
    /// Common-input ownership only (spec §6.1).
    Inputs,
    /// Common-input ownership plus change outputs found by [`ChangeRule::MeiklejohnH2`].
    InputsAndChange,
}

impl ClusterSetting {
    /// The `meta` byte.
    fn byte(self) -> u8 {
        match self {
            ClusterSetting::Off => 0,
            ClusterSetting::Inputs => 1,
            ClusterSetting::InputsAndChange => 2,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(ClusterSetting::Off),
            1 => Some(ClusterSetting::Inputs),
            2 => Some(ClusterSetting::InputsAndChange),
            _ => None,
        }
    }

    pub(crate) fn encode(self) -> Vec<u8> {
        vec![self.byte()]
    }

    /// Whether the index keeps clusters at all.
    pub fn enabled(self) -> bool {
        self != ClusterSetting::Off
    }

    /// The change rule in force.
    pub fn change(self) -> ChangeRule {
        match self {
            ClusterSetting::InputsAndChange => ChangeRule::MeiklejohnH2,
            ClusterSetting::Off | ClusterSetting::Inputs => ChangeRule::None,
        }
    }

    /// The name `chaintrace ingest btc --clustering` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterSetting::Off => "off",
            ClusterSetting::Inputs => "inputs",
            ClusterSetting::InputsAndChange => "inputs+change",
        }
    }
}

impl std::fmt::Display for ClusterSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the writer maintains clusters.
#[derive(Clone, Copy, Debug)]
pub struct ClusterOptions {
    /// Maintain clusters during ingest. Applies when an index is created: an index keeps the
    /// setting it was built with, because clusters built over part of a chain would be wrong.
    pub enabled: bool,
    /// The change-address rule, on top of common-input ownership (off by default). Like
    /// `enabled`, it applies when the index is created.
    pub change: ChangeRule,
    /// Forest nodes (parent links and root records) kept in memory.
    pub cache_entries: usize,
    /// Alert when a transaction makes a cluster reach a power of ten at or above this size
    /// (1,000, 10,000, ...). 0 turns this alert off.
    pub alert_size: u64,
    /// Alert when a transaction joins two or more clusters that each have at least this many
    /// addresses. 0 turns this alert off.
    pub alert_join: u64,
}

impl ClusterOptions {
    /// The setting these options ask for.
    pub fn setting(&self) -> ClusterSetting {
        match (self.enabled, self.change) {
            (false, _) => ClusterSetting::Off,
            (true, ChangeRule::None) => ClusterSetting::Inputs,
            (true, ChangeRule::MeiklejohnH2) => ClusterSetting::InputsAndChange,
        }
    }

    /// Options asking for `setting`, other fields unchanged.
    pub fn with_setting(self, setting: ClusterSetting) -> Self {
        ClusterOptions {
            enabled: setting.enabled(),
            change: setting.change(),
            ..self
        }
    }
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            enabled: true,
            change: ChangeRule::None,
            cache_entries: 1_000_000,
            alert_size: 1_000,
            alert_join: 100,
        }
    }
}

/// What the index's clusters are built from: `None` until its first block is committed.
pub fn stored_setting(store: &Store) -> Result<Option<ClusterSetting>, StoreError> {
    let Some(value) = store.get::<Meta>(&MetaKey::BtcClustering)? else {
        return Ok(None);
    };
    match value.as_slice() {
        [b] => ClusterSetting::from_byte(*b).map(Some),
        _ => None,
    }
    .ok_or_else(|| StoreError::Corrupt {
        table: "meta",
        key: MetaKey::BtcClustering.as_str().into(),
        source: DecodeError::new("clustering setting", format!("{value:?}")),
    })
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
