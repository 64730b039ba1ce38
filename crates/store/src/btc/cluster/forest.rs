//! Keeping the cluster forest current while blocks are applied.
//!
//! [`BtcWriter`](crate::btc::BtcWriter) hands every transaction to [`ClusterWriter::note_tx`]
//! as it indexes it; those that may merge (two or more input addresses, or a change output when
//! the change rule is on) wait until the block is done, as a few words each. Then
//! [`ClusterWriter::apply_block`] reads every forest node the block needs in a few batched reads
//! (level by level, up to the roots) and merges transaction by transaction, in chain order,
//! writing edges, alerts and the block's undo into the block's batch.
//!
//! Blocks accumulate in one batch until the writer commits, so the node cache is the truth for
//! everything written since: it is only rotated right after a commit, like the writer's other
//! caches, and nothing it drops is missing from the database. The same holds for root records:
//! a busy cluster can grow many times between commits, so its record is written once, by
//! [`ClusterWriter::flush`], just before the commit.

use std::ops::Range;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use chaintrace_heuristics::change::meiklejohn_h2;
use chaintrace_heuristics::coinjoin::is_stonewall;
use chaintrace_heuristics::{detect, Coin, TxShape};
use chaintrace_model::btc::AddrKey;
use chaintrace_model::{AddrId, TxNum};

use super::conflicts::ServiceLabels;
use super::records::{
    ChildList, ClusterAlert, ClusterEdge, ClusterRecord, ClusterUndo, EdgeRule, Jump,
};
use super::{corrupt_forest, ChangeRule, ClusterOptions, MAX_DEPTH};
use crate::btc::cache::GenCache;
use crate::records::TxRecord;
use crate::tables::{
    BtcClusterAlerts, BtcClusterChildren, BtcClusterParent, BtcClusterUndo, BtcClusters,
    ClusterChild, Height,
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
    /// Its distinct input addresses, in input order: a range of [`ClusterWriter::addrs`].
    addrs: Range<usize>,
    /// The address of its change output, if the change rule named one.
    change: Option<AddrId>,
    /// Whether it may have several owners: a multi-party CoinJoin, or the Stonewall shape, which
    /// a STONEWALLx2 between two wallets shares with a one-wallet Stonewall (spec §6.1).
    multi_party: bool,
}

/// One cluster a transaction touches: its root, the address of the transaction that belongs
/// to it, its record before the transaction, and whether that address is the change output.
#[derive(Clone, Copy)]
struct Part {
    root: AddrId,
    addr: AddrId,
    rec: Option<ClusterRecord>,
    by_change: bool,
}

impl Part {
    fn size(&self) -> u64 {
        self.rec.map_or(1, |r| r.size)
    }
}

/// Up to this many ids, "seen before?" is a scan of a short list; beyond, a hash set keeps a
/// consolidation of thousands of inputs linear.
const SCAN_LIMIT: usize = 16;

/// The ids one transaction has met so far.
#[derive(Default)]
struct SeenIds {
    few: Vec<AddrId>,
    many: HashSet<AddrId>,
}

impl SeenIds {
    fn clear(&mut self) {
        self.few.clear();
        if !self.many.is_empty() {
            self.many.clear();
        }
    }

    /// Whether `a` is new; remembers it.
    fn insert(&mut self, a: AddrId) -> bool {
        if !self.many.is_empty() {
            return self.many.insert(a);
        }
        if self.few.contains(&a) {
            return false;
        }
        if self.few.len() < SCAN_LIMIT {
            self.few.push(a);
        } else {
            self.many.extend(self.few.iter().copied());
            self.many.insert(a);
        }
        true
    }
}

/// Buffers reused for every transaction, so that noting and merging one allocates nothing.
#[derive(Default)]
struct Scratch {
    seen: SeenIds,
    inputs: Vec<Coin>,
    outputs: Vec<Coin>,
    fresh: Vec<bool>,
    parts: Vec<Part>,
    /// `(parent, child)` of the edges the current transaction adds.
    kids: Vec<(AddrId, AddrId)>,
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
    /// The input addresses of `pending`, back to back.
    addrs: Vec<AddrId>,
    scratch: Scratch,
    /// Roots whose record changed since the last commit, each with whether the database held a
    /// record for it before.
    dirty: HashMap<AddrId, bool>,
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
            addrs: Vec::new(),
            scratch: Scratch::default(),
            dirty: HashMap::default(),
            fresh_from: next_addr,
        })
    }

    /// Drops what a failed block may have left behind.
    pub(crate) fn begin_block(&mut self) {
        self.pending.clear();
        self.addrs.clear();
    }

    /// Keeps `rec` for the end of the block if it may merge clusters. Output addresses with ids
    /// from `first_new` on were first seen in this transaction (the change rule's "fresh").
    pub(crate) fn note_tx(&mut self, tx: TxNum, rec: &TxRecord, first_new: u64) {
        let start = self.addrs.len();
        self.scratch.seen.clear();
        for input in &rec.inputs {
            if !input.addr.is_none() && self.scratch.seen.insert(input.addr) {
                self.addrs.push(input.addr);
            }
        }
        let distinct = self.addrs.len() - start;
        let change_rule = self.opts.change != ChangeRule::None;
        // Most transactions spend from one address: without the change rule they cannot merge
        // anything, and the coins need not be copied.
        if distinct == 0 || (distinct < 2 && !change_rule) {
            self.addrs.truncate(start);
            return;
        }
        self.copy_coins(rec);
        let change = if change_rule {
            self.change_of(rec, first_new)
        } else {
            None
        };
        if distinct < 2 && change.is_none() {
            self.addrs.truncate(start);
            return;
        }
        let shape = self.shape(rec);
        let multi_party =
            detect(&shape).is_some_and(|d| d.is_multi_party()) || is_stonewall(&shape);
        self.pending.push(Candidate {
            tx,
            addrs: start..self.addrs.len(),
            change,
            multi_party,
        });
    }

    fn copy_coins(&mut self, rec: &TxRecord) {
        let coin = |value, addr, kind| Coin { value, addr, kind };
        let s = &mut self.scratch;
        s.inputs.clear();
        s.inputs
            .extend(rec.inputs.iter().map(|i| coin(i.value, i.addr, i.kind)));
        s.outputs.clear();
        s.outputs
            .extend(rec.outputs.iter().map(|o| coin(o.value, o.addr, o.kind)));
    }

    /// The transaction as the heuristics see it (after [`Self::copy_coins`]).
    fn shape(&self, rec: &TxRecord) -> TxShape<'_> {
        TxShape {
            height: rec.height,
            mainnet: self.mainnet,
            coinbase: rec.coinbase,
            inputs: &self.scratch.inputs,
            outputs: &self.scratch.outputs,
        }
    }

    /// The change output's address by Meiklejohn's Heuristic 2, if it names one.
    fn change_of(&mut self, rec: &TxRecord, first_new: u64) -> Option<AddrId> {
        let fresh = &mut self.scratch.fresh;
        fresh.clear();
        fresh.extend(
            rec.outputs
                .iter()
                .map(|o| !o.addr.is_none() && o.addr.0 >= first_new),
        );
        if !fresh.contains(&true) {
            return None;
        }
        let i = meiklejohn_h2(&self.shape(rec), &self.scratch.fresh)?;
        rec.outputs.get(i).map(|o| o.addr)
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
        let mut pending = std::mem::take(&mut self.pending);
        let mut addrs = std::mem::take(&mut self.addrs);
        let result = self.merge_block(store, batch, height, &pending, &addrs);
        // The buffers keep their capacity for the next block.
        pending.clear();
        addrs.clear();
        self.pending = pending;
        self.addrs = addrs;
        result
    }

    fn merge_block(
        &mut self,
        store: &Store,
        batch: &mut Batch,
        height: u32,
        pending: &[Candidate],
        addrs: &[AddrId],
    ) -> Result<(), StoreError> {
        if pending.is_empty() {
            return Ok(());
        }
        let changes = pending.iter().filter_map(|c| c.change);
        self.load(store, addrs.iter().copied().chain(changes).collect())?;
        let mut undo = BlockUndo::default();
        for c in pending {
            let inputs = addrs.get(c.addrs.clone()).unwrap_or_default();
            self.merge_tx(store, batch, c, inputs, &mut undo)?;
        }
        if !undo.rec.is_empty() {
            batch.put::<BtcClusterUndo>(&Height(height), &undo.rec);
        }
        Ok(())
    }

    /// Writes the record of every root changed since the last commit, once however often it
    /// changed. Call right before the batch is committed.
    pub(crate) fn flush(&mut self, batch: &mut Batch) -> Result<(), StoreError> {
        let nodes = &mut self.nodes;
        for (root, had_record) in self.dirty.drain() {
            match nodes.get(&root) {
                Some(Node::Root(Some(rec))) => batch.put::<BtcClusters>(&root, rec),
                Some(_) if had_record => batch.delete::<BtcClusters>(&root),
                Some(_) => {}
                None => return Err(corrupt_forest(root, "a changed root left the cache")),
            }
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
        self.begin_block();
        self.dirty.clear();
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

    /// Fills `parts` with the distinct clusters of the transaction's input addresses, in input
    /// order, then its change address's.
    fn parts(
        &mut self,
        store: &Store,
        inputs: &[AddrId],
        change: Option<AddrId>,
        parts: &mut Vec<Part>,
    ) -> Result<(), StoreError> {
        parts.clear();
        self.scratch.seen.clear();
        for (i, &addr) in inputs.iter().chain(change.iter()).enumerate() {
            let (root, rec) = self.find(store, addr)?;
            if self.scratch.seen.insert(root) {
                let by_change = i == inputs.len();
                parts.push(Part {
                    root,
                    addr,
                    rec,
                    by_change,
                });
            }
        }
        Ok(())
    }

    fn merge_tx(
        &mut self,
        store: &Store,
        batch: &mut Batch,
        c: &Candidate,
        inputs: &[AddrId],
        undo: &mut BlockUndo,
    ) -> Result<(), StoreError> {
        if let Some((first, second)) = self.services.conflict(inputs) {
            batch.put::<BtcClusterAlerts>(&c.tx, &ClusterAlert::LabelConflict { first, second });
            return Ok(());
        }
        if c.multi_party || inputs.is_empty() {
            return Ok(());
        }
        let change = c
            .change
            .filter(|&a| !self.services.change_conflicts(inputs, a));
        let mut parts = std::mem::take(&mut self.scratch.parts);
        let result = self.parts(store, inputs, change, &mut parts);
        if result.is_ok() && parts.len() >= 2 {
            self.join(batch, c.tx, inputs[0], &parts, undo);
        }
        self.scratch.parts = parts;
        result
    }

    /// Joins `parts` into one cluster and notes the new root's record and any alert.
    fn join(
        &mut self,
        batch: &mut Batch,
        tx: TxNum,
        anchor: AddrId,
        parts: &[Part],
        undo: &mut BlockUndo,
    ) {
        for p in parts {
            undo.touch(p.root, p.rec);
            self.dirty.entry(p.root).or_insert(p.rec.is_some());
        }
        let (root, size) = self.link(batch, tx, anchor, parts, undo);
        let rec = merged_record(tx, parts, size);
        self.nodes.insert(root, Node::Root(Some(rec)));
        if let Some(alert) = self.growth_alert(root, size, parts) {
            batch.put::<BtcClusterAlerts>(&tx, &alert);
        }
    }

    /// Joins the clusters one by one to the first input's, as BlockSci does; each edge names the
    /// first input address (`anchor`) and the address that brought the other cluster. Returns
    /// the final root and size.
    fn link(
        &mut self,
        batch: &mut Batch,
        tx: TxNum,
        anchor: AddrId,
        parts: &[Part],
        undo: &mut BlockUndo,
    ) -> (AddrId, u64) {
        let mut kids = std::mem::take(&mut self.scratch.kids);
        kids.clear();
        let mut cur = parts[0];
        let mut size = cur.size();
        for p in &parts[1..] {
            let p_wins = wins(p, p.size(), &cur, size);
            let (child, parent, child_addr, parent_addr) = if p_wins {
                (cur.root, p.root, anchor, p.addr)
            } else {
                (p.root, cur.root, p.addr, anchor)
            };
            let rule = match (p.by_change, p_wins) {
                (false, _) => EdgeRule::CoSpent,
                (true, false) => EdgeRule::ChangeToChild,
                (true, true) => EdgeRule::ChangeToParent,
            };
            let edge = ClusterEdge {
                parent,
                tx,
                child_addr,
                parent_addr,
                rule,
            };
            batch.put::<BtcClusterParent>(&child, &edge);
            kids.push((parent, child));
            self.nodes.insert(child, Node::Child(parent));
            undo.rec.edges.push((child, parent));
            size += p.size();
            if p_wins {
                cur = *p;
            }
        }
        put_children(batch, tx, &mut kids);
        self.scratch.kids = kids;
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

/// One `btc_cluster_children` row per parent the transaction joined children under (almost
/// always one), children in the order they were joined.
fn put_children(batch: &mut Batch, tx: TxNum, kids: &mut [(AddrId, AddrId)]) {
    // Stable: children keep their order under each parent.
    kids.sort_by_key(|&(parent, _)| parent);
    for run in kids.chunk_by(|a, b| a.0 == b.0) {
        let key = ClusterChild {
            parent: run[0].0,
            tx,
        };
        batch.put::<BtcClusterChildren>(&key, &ChildList(run.iter().map(|k| k.1).collect()));
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
            by_change: false,
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
