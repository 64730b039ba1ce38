//! The values of the cluster tables and their byte layouts (documented in `SCHEMA.md`).
//! Every field is a varint; decoding is strict, like the other records.

use chaintrace_model::{AddrId, TxNum};

use crate::codec::{decode_whole, put_varint, DecodeError, Reader};

/// A forest edge: the cluster rooted at the key joined the cluster rooted at `parent` because of
/// transaction `tx` and two of its addresses, `child_addr` (then in the child's cluster) and
/// `parent_addr` (then in the parent's cluster); `rule` says how the transaction tied them.
/// Edges are never rewritten (no path compression), so each one keeps the evidence for the merge
/// it made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterEdge {
    pub parent: AddrId,
    pub tx: TxNum,
    pub child_addr: AddrId,
    pub parent_addr: AddrId,
    pub rule: EdgeRule,
}

/// Why the two addresses of an edge have one owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeRule {
    /// The transaction spent from both (common-input ownership).
    CoSpent,
    /// The transaction spent from `parent_addr` and paid its change to `child_addr`.
    ChangeToChild,
    /// The transaction spent from `child_addr` and paid its change to `parent_addr`.
    ChangeToParent,
}

impl EdgeRule {
    fn byte(self) -> u8 {
        match self {
            EdgeRule::CoSpent => 0,
            EdgeRule::ChangeToChild => 1,
            EdgeRule::ChangeToParent => 2,
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(EdgeRule::CoSpent),
            1 => Ok(EdgeRule::ChangeToChild),
            2 => Ok(EdgeRule::ChangeToParent),
            b => Err(DecodeError::new(
                "cluster edge",
                format!("unknown rule {b}"),
            )),
        }
    }
}

impl ClusterEdge {
    /// The change address, if the edge was made by the change rule.
    pub fn change_addr(&self) -> Option<AddrId> {
        match self.rule {
            EdgeRule::CoSpent => None,
            EdgeRule::ChangeToChild => Some(self.child_addr),
            EdgeRule::ChangeToParent => Some(self.parent_addr),
        }
    }
}

/// The value of a `btc_cluster_children` row: the roots one transaction joined under one
/// parent, in the order it joined them. One row per (parent, transaction) rather than one per
/// child keeps the writes of a many-input merge few.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ChildList(pub Vec<AddrId>);

impl ChildList {
    pub fn encode(&self, out: &mut Vec<u8>) {
        for a in &self.0 {
            put_varint(out, a.0);
        }
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "cluster children", |r| {
            let mut out = Vec::new();
            while !r.remaining().is_empty() {
                out.push(addr(r)?);
            }
            if out.is_empty() {
                return Err(DecodeError::new("cluster children", "empty list"));
            }
            Ok(ChildList(out))
        })
    }
}

/// The transaction in a cluster's history that grew it the most at once: the largest cluster
/// it involved had `before` addresses, the result had `after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Jump {
    pub tx: TxNum,
    pub before: u64,
    pub after: u64,
}

impl Jump {
    pub fn growth(&self) -> u64 {
        self.after.saturating_sub(self.before)
    }
}

/// What the index keeps about a cluster of two or more addresses, under its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterRecord {
    /// Number of addresses.
    pub size: u64,
    /// The earliest merging transaction in the cluster's history.
    pub first_merge: TxNum,
    /// The latest merging transaction.
    pub last_merge: TxNum,
    pub largest_jump: Jump,
}

/// Something a transaction did to the clusters that an investigator should look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterAlert {
    /// The transaction grew a cluster past a size threshold, or joined two large clusters.
    /// `root` is the cluster's root right after the transaction (it may have been absorbed
    /// since; resolve it again to find today's cluster).
    Growth {
        root: AddrId,
        size_after: u64,
        largest_before: u64,
        second_before: u64,
        /// How many distinct clusters the transaction joined.
        clusters: u64,
    },
    /// The transaction spent from addresses labelled as two different services, so it was not
    /// used to merge anything.
    LabelConflict { first: AddrId, second: AddrId },
}

/// What a block changed in the cluster tables, so a rollback can restore them exactly: the
/// edges it added and, for every cluster root it touched, that root's record before the block
/// (`None`: the root had no record, i.e. was a single address).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClusterUndo {
    /// `(child, parent)` of every edge the block added.
    pub edges: Vec<(AddrId, AddrId)>,
    pub roots: Vec<(AddrId, Option<ClusterRecord>)>,
}

impl ClusterUndo {
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty() && self.roots.is_empty()
    }
}

fn addr(r: &mut Reader<'_>) -> Result<AddrId, DecodeError> {
    r.varint().map(AddrId)
}

fn tx(r: &mut Reader<'_>) -> Result<TxNum, DecodeError> {
    r.varint().map(TxNum)
}

impl ClusterEdge {
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.parent.0);
        put_varint(out, self.tx.0);
        put_varint(out, self.child_addr.0);
        put_varint(out, self.parent_addr.0);
        out.push(self.rule.byte());
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "cluster edge", |r| {
            Ok(ClusterEdge {
                parent: addr(r)?,
                tx: tx(r)?,
                child_addr: addr(r)?,
                parent_addr: addr(r)?,
                rule: EdgeRule::read(r)?,
            })
        })
    }
}

impl ClusterRecord {
    fn put(&self, out: &mut Vec<u8>) {
        put_varint(out, self.size);
        put_varint(out, self.first_merge.0);
        put_varint(out, self.last_merge.0);
        put_varint(out, self.largest_jump.tx.0);
        put_varint(out, self.largest_jump.before);
        put_varint(out, self.largest_jump.after);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ClusterRecord {
            size: r.varint()?,
            first_merge: tx(r)?,
            last_merge: tx(r)?,
            largest_jump: Jump {
                tx: tx(r)?,
                before: r.varint()?,
                after: r.varint()?,
            },
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        self.put(out);
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "cluster record", Self::read)
    }
}

const ALERT_GROWTH: u8 = 1;
const ALERT_LABEL_CONFLICT: u8 = 2;

impl ClusterAlert {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            ClusterAlert::Growth {
                root,
                size_after,
                largest_before,
                second_before,
                clusters,
            } => {
                out.push(ALERT_GROWTH);
                for v in [root.0, size_after, largest_before, second_before, clusters] {
                    put_varint(out, v);
                }
            }
            ClusterAlert::LabelConflict { first, second } => {
                out.push(ALERT_LABEL_CONFLICT);
                put_varint(out, first.0);
                put_varint(out, second.0);
            }
        }
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "cluster alert", |r| match r.u8()? {
            ALERT_GROWTH => Ok(ClusterAlert::Growth {
                root: addr(r)?,
                size_after: r.varint()?,
                largest_before: r.varint()?,
                second_before: r.varint()?,
                clusters: r.varint()?,
            }),
            ALERT_LABEL_CONFLICT => Ok(ClusterAlert::LabelConflict {
                first: addr(r)?,
                second: addr(r)?,
            }),
            t => Err(DecodeError::new(
                "cluster alert",
                format!("unknown kind {t}"),
            )),
        })
    }
}

impl ClusterUndo {
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.edges.len() as u64);
        for (child, parent) in &self.edges {
            put_varint(out, child.0);
            put_varint(out, parent.0);
        }
        put_varint(out, self.roots.len() as u64);
        for (root, rec) in &self.roots {
            put_varint(out, root.0);
            match rec {
                Some(rec) => {
                    out.push(1);
                    rec.put(out);
                }
                None => out.push(0),
            }
        }
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "cluster undo record", |r| {
            let n = r.varint()?;
            let mut edges = Vec::with_capacity(n.min(4096) as usize);
            for _ in 0..n {
                edges.push((addr(r)?, addr(r)?));
            }
            let n = r.varint()?;
            let mut roots = Vec::with_capacity(n.min(4096) as usize);
            for _ in 0..n {
                let root = addr(r)?;
                let rec = match r.u8()? {
                    0 => None,
                    1 => Some(ClusterRecord::read(r)?),
                    f => {
                        return Err(DecodeError::new(
                            "cluster undo record",
                            format!("record flag {f}"),
                        ))
                    }
                };
                roots.push((root, rec));
            }
            Ok(ClusterUndo { edges, roots })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(size: u64) -> ClusterRecord {
        ClusterRecord {
            size,
            first_merge: TxNum(3),
            last_merge: TxNum(900),
            largest_jump: Jump {
                tx: TxNum(77),
                before: 2,
                after: size,
            },
        }
    }

    #[test]
    fn records_round_trip_and_reject_trailing_bytes() {
        let undo = ClusterUndo {
            edges: vec![(AddrId(5), AddrId(2)), (AddrId(300), AddrId(2))],
            roots: vec![(AddrId(2), Some(rec(40))), (AddrId(5), None)],
        };
        let mut b = Vec::new();
        undo.encode(&mut b);
        assert_eq!(ClusterUndo::decode(&b).unwrap(), undo);
        b.push(0);
        assert!(ClusterUndo::decode(&b).is_err());

        for alert in [
            ClusterAlert::Growth {
                root: AddrId(9),
                size_after: 1_000,
                largest_before: 999,
                second_before: 1,
                clusters: 2,
            },
            ClusterAlert::LabelConflict {
                first: AddrId(1),
                second: AddrId(u64::MAX),
            },
        ] {
            let mut b = Vec::new();
            alert.encode(&mut b);
            assert_eq!(ClusterAlert::decode(&b).unwrap(), alert);
        }
        assert!(ClusterAlert::decode(&[7]).is_err());

        let edge = ClusterEdge {
            parent: AddrId(1),
            tx: TxNum(1 << 40),
            child_addr: AddrId(8),
            parent_addr: AddrId(1),
            rule: EdgeRule::ChangeToParent,
        };
        let mut b = Vec::new();
        edge.encode(&mut b);
        assert_eq!(ClusterEdge::decode(&b).unwrap(), edge);
        assert_eq!(edge.change_addr(), Some(AddrId(1)));
        assert!(ClusterEdge::decode(&b[..b.len() - 1]).is_err());
        *b.last_mut().unwrap() = 3;
        assert!(ClusterEdge::decode(&b).is_err(), "unknown rule");

        let kids = ChildList(vec![AddrId(7), AddrId(1 << 33)]);
        let mut b = Vec::new();
        kids.encode(&mut b);
        assert_eq!(ChildList::decode(&b).unwrap(), kids);
        assert!(ChildList::decode(&[]).is_err());
        assert!(ChildList::decode(&b[..b.len() - 1]).is_err());
    }
}
