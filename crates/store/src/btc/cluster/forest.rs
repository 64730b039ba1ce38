//! Keeping the cluster forest current while blocks are applied.
//!
//! [`BtcWriter`](crate::btc::BtcWriter) hands every transaction to [`ClusterWriter::note_tx`]
//! as it indexes it; those with two or more input addresses wait until the block is done. Then
//! [`ClusterWriter::apply_block`] reads every forest node the block needs in a few batched reads
//! (level by level, up to the roots) and merges transaction by transaction, in chain order,
//! writing edges, root records, alerts and the block's undo into the block's batch.
//!
//! Blocks accumulate in one batch until the writer commits, so the node cache is the truth for
//! everything written since: it is only rotated right after a commit, like the writer's other
//! caches, and nothing it drops is missing from the database.

use rustc_hash::FxHashSet as HashSet;

use chaintrace_heuristics::{detect, Coin, TxShape};
use chaintrace_model::btc::AddrKey;
use chaintrace_model::{AddrId, TxNum};

use super::conflicts::ServiceLabels;
use super::records::{ClusterAlert, ClusterEdge, ClusterRecord, ClusterUndo, Jump};
use super::{corrupt_forest, ClusterOptions, MAX_DEPTH};
use crate::btc::cache::GenCache;
use crate::records::TxRecord;
use crate::tables::{
    BtcClusterAlerts, BtcClusterChildren, BtcClusterParent, BtcClusterUndo, BtcClusters,
    ClusterChild, Empty, Height,
};
use crate::{Batch, Store, StoreError};

/// A forest node as the writer caches it.
#[derive(Clone, Copy, Debug)]
enum Node {
    /// Joined to another cluster: the parent in the forest.
    Child(AddrId),
    /// A root; `None` is a single address (no record).
    Root(Option<ClusterRecord>),
}

/// A transaction of the current block that may merge clusters.
struct Candidate {
    tx: TxNum,
    height: u32,
    /// Distinct input addresses, in input order.
    addrs: Vec<AddrId>,
    inputs: Vec<Coin>,
    outputs: Vec<Coin>,
}

/// One cluster a transaction touches: its root, the input address that belongs to it, and its
/// record before the transaction.
#[derive(Clone, Copy)]
struct Part {
    root: AddrId,
    addr: AddrId,
    rec: Option<ClusterRecord>,
}

impl Part {
    fn size(&self) -> u64 {
        self.rec.map_or(1, |r| r.size)
    }
}

/// Union by size; equal sizes go to the smaller root id, so the outcome never depends on the
/// order the clusters are met in.
fn wins(a: &Part, a_size: u64, b: &Part, b_size: u64) -> bool {
    a_size > b_size || (a_size == b_size && a.root < b.root)
}

/// The writer's side of the clusters.
pub(crate) struct ClusterWriter {
    opts: ClusterOptions,
    mainnet: bool,
    nodes: GenCache<AddrId, Node>,
    services: ServiceLabels,
    pending: Vec<Candidate>,
    /// Addresses from this id on were created in the uncommitted batch: their forest rows, if
    /// any, are in the cache, so a cache miss means a single address, without a read.
    fresh_from: u64,
}

impl ClusterWriter {
    pub(crate) fn new(
        store: &Store,
        opts: ClusterOptions,
        mainnet: bool,
        next_addr: u64,
    ) -> Result<Self, StoreError> {
        Ok(ClusterWriter {
            opts,
            mainnet,
            nodes: GenCache::new(opts.cache_entries),
            services: ServiceLabels::load(store)?,
            pending: Vec::new(),
            fresh_from: next_addr,
        })
    }

    /// Drops what a failed block may have left behind.
    pub(crate) fn begin_block(&mut self) {
        self.pending.clear();
    }

    /// Keeps `rec` for the end of the block if it spends from two or more addresses.
    pub(crate) fn note_tx(&mut self, tx: TxNum, rec: &TxRecord) {
        if rec.inputs.len() < 2 {
            return;
        }
        let mut seen = HashSet::default();
        let addrs: Vec<AddrId> = rec
            .inputs
            .iter()
            .map(|i| i.addr)
            .filter(|a| !a.is_none() && seen.insert(*a))
            .collect();
        if addrs.len() < 2 {
            return;
        }
        let coin = |value, addr, kind| Coin { value, addr, kind };
        self.pending.push(Candidate {
            tx,
            height: rec.height,
            addrs,
            inputs: rec
                .inputs
                .iter()
                .map(|i| coin(i.value, i.addr, i.kind))
                .collect(),
            outputs: rec
                .outputs
                .iter()
                .map(|o| coin(o.value, o.addr, o.kind))
                .collect(),
        });
    }

    /// Learns the id of a new address (for the label-conflict rule).
    pub(crate) fn note_address(&mut self, key: &AddrKey, id: AddrId) {
        self.services.note_address(key, id);
    }

    /// Merges the block's waiting transactions into `batch`, with the block's undo record.
    pub(crate) fn apply_block(
        &mut self,
        store: &Store,
        batch: &mut Batch,
        height: u32,
    ) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Ok(());
        }
        let wanted: Vec<AddrId> = pending
            .iter()
            .flat_map(|c| c.addrs.iter().copied())
            .collect();
        self.load(store, wanted)?;
        let mut undo = BlockUndo::default();
        for c in &pending {
            self.merge_tx(store, batch, c, &mut undo)?;
        }
        if !undo.rec.is_empty() {
            batch.put::<BtcClusterUndo>(&Height(height), &undo.rec);
        }
        Ok(())
    }

    /// Call right after a commit, with the first address id the next batch can create.
    pub(crate) fn committed(&mut self, next_addr: u64) {
        self.nodes.rotate_if_full();
        self.fresh_from = next_addr;
    }

    /// After a rollback: the cache may hold undone state, and ids at or above `next_addr` will
    /// name other addresses.
    pub(crate) fn reset(&mut self, next_addr: u64) {
        self.nodes.clear();
        self.pending.clear();
        self.services.forget_from(next_addr);
        self.fresh_from = next_addr;
    }

    /// Brings `addrs` and all their ancestors into the cache: one batched read per forest level.
    fn load(&mut self, store: &Store, addrs: Vec<AddrId>) -> Result<(), StoreError> {
        let mut frontier = addrs;
        while !frontier.is_empty() {
            let (nodes, fresh_from) = (&mut self.nodes, self.fresh_from);
            frontier.retain(|a| {
                if nodes.contains(a) {
                    return false;
                }
                if a.0 >= fresh_from {
                    nodes.insert(*a, Node::Root(None));
                    return false;
                }
                true
            });
            frontier.sort_unstable();
            frontier.dedup();
            let parents = store.multi_get::<BtcClusterParent>(&frontier)?;
            let mut roots = Vec::new();
            let mut next = Vec::new();
            for (&a, edge) in frontier.iter().zip(parents) {
                match edge {
                    Some(e) => {
                        self.nodes.insert(a, Node::Child(e.parent));
                        next.push(e.parent);
                    }
                    None => roots.push(a),
                }
            }
            let recs = store.multi_get::<BtcClusters>(&roots)?;
            for (a, rec) in roots.into_iter().zip(recs) {
                self.nodes.insert(a, Node::Root(rec));
            }
            frontier = next;
        }
        Ok(())
    }

    fn node(&mut self, store: &Store, a: AddrId) -> Result<Node, StoreError> {
        if let Some(n) = self.nodes.get(&a) {
            return Ok(*n);
        }
        self.load(store, vec![a])?;
        self.nodes
            .get(&a)
            .copied()
            .ok_or_else(|| corrupt_forest(a, "node vanished from the cache while loading"))
    }

    /// The root of `a`'s cluster and its record.
    fn find(
        &mut self,
        store: &Store,
        a: AddrId,
    ) -> Result<(AddrId, Option<ClusterRecord>), StoreError> {
        let mut cur = a;
        for _ in 0..=MAX_DEPTH {
            match self.node(store, cur)? {
                Node::Child(p) => cur = p,
                Node::Root(rec) => return Ok((cur, rec)),
            }
        }
        Err(corrupt_forest(a, "parent chain too long (a cycle?)"))
    }

    /// The distinct clusters of a transaction's input addresses, in input order.
    fn parts(&mut self, store: &Store, addrs: &[AddrId]) -> Result<Vec<Part>, StoreError> {
        let mut seen = HashSet::default();
        let mut parts = Vec::new();
        for &addr in addrs {
            let (root, rec) = self.find(store, addr)?;
            if seen.insert(root) {
                parts.push(Part { root, addr, rec });
            }
        }
        Ok(parts)
    }

    fn merge_tx(
        &mut self,
        store: &Store,
        batch: &mut Batch,
        c: &Candidate,
        undo: &mut BlockUndo,
    ) -> Result<(), StoreError> {
        if let Some((first, second)) = self.services.conflict(&c.addrs) {
            batch.put::<BtcClusterAlerts>(&c.tx, &ClusterAlert::LabelConflict { first, second });
            return Ok(());
        }
        let parts = self.parts(store, &c.addrs)?;
        if parts.len() < 2 || self.is_multi_party(c) {
            return Ok(());
        }
        for p in &parts {
            undo.touch(p.root, p.rec);
        }
        let (root, size) = self.link(batch, c, &parts, undo);
        let rec = merged_record(c.tx, &parts, size);
        for p in parts.iter().filter(|p| p.root != root && p.rec.is_some()) {
            batch.delete::<BtcClusters>(&p.root);
        }
        batch.put::<BtcClusters>(&root, &rec);
        self.nodes.insert(root, Node::Root(Some(rec)));
        if let Some(alert) = self.growth_alert(root, size, &parts) {
            batch.put::<BtcClusterAlerts>(&c.tx, &alert);
        }
        Ok(())
    }

    /// Whether the CoinJoin detectors see several owners in the transaction.
    fn is_multi_party(&self, c: &Candidate) -> bool {
        let shape = TxShape {
            height: c.height,
            mainnet: self.mainnet,
            coinbase: false,
            inputs: &c.inputs,
            outputs: &c.outputs,
        };
        detect(&shape).is_some_and(|d| d.is_multi_party())
    }

    /// Joins the clusters one by one to the first input's, as BlockSci does; each edge names the
    /// first input address and the input address that brought the other cluster. Returns the
    /// final root and size.
    fn link(
        &mut self,
        batch: &mut Batch,
        c: &Candidate,
        parts: &[Part],
        undo: &mut BlockUndo,
    ) -> (AddrId, u64) {
        let anchor = c.addrs[0];
        let mut cur = parts[0];
        let mut size = cur.size();
        for p in &parts[1..] {
            let (child, parent, child_addr, parent_addr) = if wins(p, p.size(), &cur, size) {
                (cur.root, p.root, anchor, p.addr)
            } else {
                (p.root, cur.root, p.addr, anchor)
            };
            let edge = ClusterEdge {
                parent,
                tx: c.tx,
                child_addr,
                parent_addr,
            };
            batch.put::<BtcClusterParent>(&child, &edge);
            batch.put::<BtcClusterChildren>(&ClusterChild { parent, child }, &Empty);
            self.nodes.insert(child, Node::Child(parent));
            undo.rec.edges.push((child, parent));
            size += p.size();
            if parent == p.root {
                cur = *p;
            }
        }
        (cur.root, size)
    }

    fn growth_alert(&self, root: AddrId, size: u64, parts: &[Part]) -> Option<ClusterAlert> {
        let mut sizes: Vec<u64> = parts.iter().map(Part::size).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        let (largest, second) = (sizes[0], sizes[1]);
        let crossed = crosses_power_of_ten(largest, size, self.opts.alert_size);
        let joined = self.opts.alert_join > 0 && second >= self.opts.alert_join;
        (crossed || joined).then_some(ClusterAlert::Growth {
            root,
            size_after: size,
            largest_before: largest,
            second_before: second,
            clusters: parts.len() as u64,
        })
    }
}

/// The record of the cluster a transaction made out of `parts`: their history combined, and
/// this transaction as the latest merge (and as the largest jump if it grew the cluster most).
fn merged_record(tx: TxNum, parts: &[Part], size: u64) -> ClusterRecord {
    let largest = parts.iter().map(Part::size).max().unwrap_or(1);
    let mut jump = Jump {
        tx,
        before: largest,
        after: size,
    };
    let mut first_merge = tx;
    for rec in parts.iter().filter_map(|p| p.rec) {
        first_merge = first_merge.min(rec.first_merge);
        let j = rec.largest_jump;
        // Equal growth keeps the earlier transaction.
        if (j.growth(), std::cmp::Reverse(j.tx)) > (jump.growth(), std::cmp::Reverse(jump.tx)) {
            jump = j;
        }
    }
    ClusterRecord {
        size,
        first_merge,
        last_merge: tx,
        largest_jump: jump,
    }
}

/// Whether growing from `before` to `after` reaches a power of ten that is at least `min`
/// (`min` 0: never).
fn crosses_power_of_ten(before: u64, after: u64, min: u64) -> bool {
    if min == 0 {
        return false;
    }
    let mut p: u64 = 1;
    while p < min || p <= before {
        match p.checked_mul(10) {
            Some(next) => p = next,
            None => return false,
        }
    }
    p <= after
}

/// The undo record being built for one block.
#[derive(Default)]
struct BlockUndo {
    rec: ClusterUndo,
    touched: HashSet<AddrId>,
}

impl BlockUndo {
    /// Remembers a root's record as it was before the block (only its first touch counts).
    fn touch(&mut self, root: AddrId, rec: Option<ClusterRecord>) {
        if self.touched.insert(root) {
            self.rec.roots.push((root, rec));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_fire_when_a_power_of_ten_is_reached() {
        assert!(crosses_power_of_ten(999, 1_000, 1_000));
        assert!(crosses_power_of_ten(5, 20_000, 1_000));
        assert!(!crosses_power_of_ten(1_000, 9_999, 1_000));
        assert!(crosses_power_of_ten(9_999, 10_000, 1_000));
        assert!(!crosses_power_of_ten(50, 999, 1_000));
        assert!(!crosses_power_of_ten(50, 5_000, 0));
        assert!(!crosses_power_of_ten(u64::MAX - 1, u64::MAX, 1_000));
    }

    #[test]
    fn the_largest_jump_keeps_the_earlier_of_equal_growths() {
        let part = |root, size: u64, jump_tx| Part {
            root: AddrId(root),
            addr: AddrId(root),
            rec: (size > 1).then_some(ClusterRecord {
                size,
                first_merge: TxNum(jump_tx),
                last_merge: TxNum(jump_tx),
                largest_jump: Jump {
                    tx: TxNum(jump_tx),
                    before: 1,
                    after: size,
                },
            }),
        };
        // The new transaction adds 3 to a cluster of 4: growth 3, the same as tx 5's.
        let rec = merged_record(TxNum(9), &[part(1, 4, 5), part(2, 1, 0), part(3, 2, 7)], 7);
        assert_eq!(rec.largest_jump.tx, TxNum(5));
        assert_eq!(rec.first_merge, TxNum(5));
        assert_eq!(rec.last_merge, TxNum(9));
        assert_eq!(rec.size, 7);
    }
}
