//! Reading clusters back: which cluster an address is in, what the cluster is, who is in it,
//! when it was active, why two addresses are in it together, and which merges were alarming.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use chaintrace_model::{AddrId, TxNum};

use super::records::{ClusterAlert, ClusterEdge, ClusterRecord};
use super::{corrupt_forest, stored_setting, ClusterId, ClusterSetting, MAX_DEPTH};
use crate::btc::BtcIndex;
use crate::tables::{
    BtcClusterAlerts, BtcClusterChildren, BtcClusterParent, BtcClusters, BtcSpends, ClusterChild,
    OutPointNum,
};
use crate::{Store, StoreError};

/// A cluster's size and history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    pub id: ClusterId,
    pub size: u64,
    /// `None` for a single address that was never merged.
    pub record: Option<ClusterRecord>,
}

/// Some members of a cluster, root first, then depth-first through the forest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Members {
    pub addrs: Vec<AddrId>,
    /// Whether the cluster has more members than listed.
    pub truncated: bool,
}

/// When a set of addresses was active: the first output any of them received, and the latest
/// output received or spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Seen {
    pub first: Option<TxNum>,
    pub last: Option<TxNum>,
    /// Outputs examined.
    pub outputs: u64,
    /// Whether the output budget ran out before every address was read in full.
    pub capped: bool,
}

/// One step of an explanation: transaction `tx` spent from `left` and `right` together, or,
/// when `change` is set, spent from one of them and paid its change to the other, `change`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MergeStep {
    pub tx: TxNum,
    pub left: AddrId,
    pub right: AddrId,
    pub change: Option<AddrId>,
}

/// Typed queries over the cluster tables.
#[derive(Clone, Copy)]
pub struct ClusterIndex<'s> {
    store: &'s Store,
}

/// Work left while explaining: a pair still to connect, or a step ready to emit.
enum Work {
    Pair(AddrId, AddrId),
    Step(MergeStep),
}

impl<'s> ClusterIndex<'s> {
    pub fn new(store: &'s Store) -> Self {
        ClusterIndex { store }
    }

    /// Whether the index maintains clusters (an index built with clustering off has none).
    pub fn enabled(&self) -> Result<bool, StoreError> {
        Ok(self.setting()?.is_some_and(ClusterSetting::enabled))
    }

    /// What the index's clusters are built from; `None` for an index without Bitcoin blocks.
    pub fn setting(&self) -> Result<Option<ClusterSetting>, StoreError> {
        stored_setting(self.store)
    }

    /// The forest edge above `a`; `None` for a root.
    pub fn parent(&self, a: AddrId) -> Result<Option<ClusterEdge>, StoreError> {
        self.store.get::<BtcClusterParent>(&a)
    }

    /// The cluster of `addr` (its own id if it was never merged).
    pub fn cluster_of(&self, addr: AddrId) -> Result<ClusterId, StoreError> {
        let mut cur = addr;
        for _ in 0..=MAX_DEPTH {
            match self.parent(cur)? {
                Some(e) => cur = e.parent,
                None => return Ok(ClusterId(cur)),
            }
        }
        Err(corrupt_forest(addr, "parent chain too long (a cycle?)"))
    }

    /// Size and history of cluster `id`; `None` if `id` is not a cluster root any more (it was
    /// absorbed: ask [`ClusterIndex::cluster_of`] for its cluster today).
    pub fn info(&self, id: ClusterId) -> Result<Option<ClusterInfo>, StoreError> {
        if self.parent(id.0)?.is_some() {
            return Ok(None);
        }
        let record = self.store.get::<BtcClusters>(&id.0)?;
        Ok(Some(ClusterInfo {
            id,
            size: record.map_or(1, |r| r.size),
            record,
        }))
    }

    /// Up to `limit` members of cluster `id`, root first, then depth-first. Reads only as many
    /// forest rows as it lists.
    pub fn members(&self, id: ClusterId, limit: usize) -> Result<Members, StoreError> {
        let size = self.store.get::<BtcClusters>(&id.0)?.map_or(1, |r| r.size);
        let mut addrs = Vec::new();
        let mut stack = vec![id.0];
        while let Some(node) = stack.pop() {
            if addrs.len() >= limit {
                break;
            }
            addrs.push(node);
            let room = limit.saturating_sub(addrs.len() + stack.len());
            let mut children = Vec::new();
            for item in self
                .store
                .iter_prefix::<BtcClusterChildren>(ClusterChild::prefix(node))
            {
                if children.len() >= room {
                    break;
                }
                children.extend(item?.1 .0);
            }
            children.truncate(room);
            stack.extend(children.into_iter().rev());
        }
        Ok(Members {
            truncated: (addrs.len() as u64) < size,
            addrs,
        })
    }

    /// When `addrs` were active, reading at most `budget` of their outputs (hub addresses have
    /// millions); [`Seen::capped`] says whether the budget ran out.
    pub fn seen(&self, addrs: &[AddrId], budget: u64) -> Result<Seen, StoreError> {
        let btc = BtcIndex::new(self.store);
        let mut seen = Seen::default();
        for &addr in addrs {
            let mut outs = Vec::new();
            for item in btc.addr_outputs(addr) {
                if seen.outputs >= budget {
                    seen.capped = true;
                    break;
                }
                let (tx, vout, _) = item?;
                seen.outputs += 1;
                outs.push(OutPointNum { tx, vout });
            }
            if let Some(first) = outs.first() {
                seen.first = Some(seen.first.map_or(first.tx, |f| f.min(first.tx)));
            }
            let spenders = self.store.multi_get::<BtcSpends>(&outs)?;
            let latest = outs
                .iter()
                .map(|o| o.tx)
                .chain(spenders.into_iter().flatten().map(|s| s.tx))
                .max();
            seen.last = seen.last.max(latest);
            if seen.capped {
                break;
            }
        }
        Ok(seen)
    }

    /// The chain of transactions that put `a` and `b` in one cluster: steps whose addresses link
    /// up (`a` = first left, each right = next left, last right = `b`), each a transaction that
    /// spent from both of its addresses or paid its change to one of them. `None` if they are in different clusters; empty if
    /// `a == b`.
    ///
    /// Built from the forest path between them: its latest edge is the merge that finally joined
    /// their clusters; the two halves before and after it are explained the same way with only
    /// earlier edges. Every edge appears at most once, so the chain has fewer steps than the
    /// cluster has addresses.
    pub fn explain(&self, a: AddrId, b: AddrId) -> Result<Option<Vec<MergeStep>>, StoreError> {
        let mut memo = HashMap::default();
        if self.ancestors(a, &mut memo)?.last() != self.ancestors(b, &mut memo)?.last() {
            return Ok(None);
        }
        let mut steps = Vec::new();
        let mut work = vec![Work::Pair(a, b)];
        while let Some(item) = work.pop() {
            let (x, y) = match item {
                Work::Step(s) => {
                    steps.push(s);
                    continue;
                }
                Work::Pair(x, y) if x == y => continue,
                Work::Pair(x, y) => (x, y),
            };
            let (edge, x_below) = self.latest_edge_between(x, y, &mut memo)?;
            let (near_x, near_y) = if x_below {
                (edge.child_addr, edge.parent_addr)
            } else {
                (edge.parent_addr, edge.child_addr)
            };
            work.push(Work::Pair(near_y, y));
            work.push(Work::Step(MergeStep {
                tx: edge.tx,
                left: near_x,
                right: near_y,
                change: edge.change_addr(),
            }));
            work.push(Work::Pair(x, near_x));
        }
        Ok(Some(steps))
    }

    /// `a` and its ancestors up to the root, each with the edge above it.
    fn ancestors(
        &self,
        a: AddrId,
        memo: &mut HashMap<AddrId, Option<ClusterEdge>>,
    ) -> Result<Vec<(AddrId, Option<ClusterEdge>)>, StoreError> {
        let mut out = Vec::new();
        let mut cur = a;
        for _ in 0..=MAX_DEPTH {
            let edge = match memo.get(&cur) {
                Some(e) => *e,
                None => {
                    let e = self.parent(cur)?;
                    memo.insert(cur, e);
                    e
                }
            };
            out.push((cur, edge));
            match edge {
                Some(e) => cur = e.parent,
                None => return Ok(out),
            }
        }
        Err(corrupt_forest(a, "parent chain too long (a cycle?)"))
    }

    /// The latest edge on the forest path between `x` and `y` (which share a root), and whether
    /// `x` is on its child side.
    fn latest_edge_between(
        &self,
        x: AddrId,
        y: AddrId,
        memo: &mut HashMap<AddrId, Option<ClusterEdge>>,
    ) -> Result<(ClusterEdge, bool), StoreError> {
        let up_x = self.ancestors(x, memo)?;
        let up_y = self.ancestors(y, memo)?;
        let on_y: HashSet<AddrId> = up_y.iter().map(|(n, _)| *n).collect();
        let meet = up_x
            .iter()
            .position(|(n, _)| on_y.contains(n))
            .ok_or_else(|| corrupt_forest(x, "addresses of one cluster have different roots"))?;
        let lca = up_x[meet].0;
        let x_side = up_x[..meet].iter().map(|(_, e)| (*e, true));
        let y_side = up_y
            .iter()
            .take_while(|(n, _)| *n != lca)
            .map(|(_, e)| (*e, false));
        x_side
            .chain(y_side)
            .filter_map(|(e, below)| e.map(|e| (e, below)))
            .max_by_key(|(e, _)| e.tx)
            .ok_or_else(|| corrupt_forest(x, "no forest path between two addresses"))
    }

    /// Every alert, in chain order.
    pub fn alerts(&self) -> impl Iterator<Item = Result<(TxNum, ClusterAlert), StoreError>> + 's {
        self.store.iter_from::<BtcClusterAlerts>(None)
    }

    /// Up to `limit` alerts that concern cluster `id` today, in chain order: growth alerts of
    /// clusters it absorbed or became, and label conflicts among its addresses.
    pub fn alerts_of(
        &self,
        id: ClusterId,
        limit: usize,
    ) -> Result<Vec<(TxNum, ClusterAlert)>, StoreError> {
        let mut out = Vec::new();
        for item in self.alerts() {
            if out.len() >= limit {
                break;
            }
            let (tx, alert) = item?;
            let concerns = match alert {
                ClusterAlert::Growth { root, .. } => self.cluster_of(root)? == id,
                ClusterAlert::LabelConflict { first, second } => {
                    self.cluster_of(first)? == id || self.cluster_of(second)? == id
                }
            };
            if concerns {
                out.push((tx, alert));
            }
        }
        Ok(out)
    }
}
