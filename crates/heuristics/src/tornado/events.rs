//! What the linker reads: decoded `Deposit` and `Withdrawal` events with the fields of their
//! transactions (§5.1), anonymity-point claims, and counts of direct transactions between
//! addresses.
//!
//! Invariants: events are named by `seq`, their position in the global event order, which
//! refines block and timestamp order; "earlier" everywhere in this module tree means a smaller
//! `seq`. Inputs are canonicalised (sorted, one event per `seq`) before any heuristic runs, so
//! results never depend on the order the caller passes events in.

use chaintrace_model::AddrId;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::pools::PoolId;

/// A transaction's gas pricing, which wallets tend to leave as a fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GasFingerprint {
    /// Pre-London (type 0/1) transactions: the gas price in wei.
    Legacy { gas_price: u128 },
    /// EIP-1559 transactions: the pair a wallet chose, not the effective price the block set.
    Eip1559 { max_fee: u128, max_priority: u128 },
}

impl GasFingerprint {
    /// Zero-priced transactions come from private bundles and say nothing about a wallet.
    pub fn is_informative(self) -> bool {
        !matches!(self, GasFingerprint::Legacy { gas_price: 0 })
    }
}

/// A `Deposit` event and its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Deposit {
    pub seq: u64,
    pub pool: PoolId,
    pub block: u64,
    pub ts: u64,
    /// The transaction's sender (`tx.from`), not the proxy the pool sees as `msg.sender`.
    pub from: AddrId,
    pub gas: GasFingerprint,
    pub commitment: [u8; 32],
    pub leaf_index: u32,
}

/// A `Withdrawal` event and its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Withdrawal {
    pub seq: u64,
    pub pool: PoolId,
    pub block: u64,
    pub ts: u64,
    pub tx_from: AddrId,
    /// The event's `to`.
    pub recipient: AddrId,
    /// `None` when the event's relayer is the zero address.
    pub relayer: Option<AddrId>,
    pub fee: u128,
    pub gas: GasFingerprint,
    pub nullifier: [u8; 32],
}

impl Withdrawal {
    /// Whether the recipient sent the transaction itself, so the gas price is its own choice
    /// rather than a relayer's (§5.1).
    pub fn self_relayed(&self) -> bool {
        self.relayer.is_none() || self.tx_from == self.recipient
    }
}

/// A claim of anonymity points by `addr` at `block` (§5.2 H5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ApClaim {
    pub addr: AddrId,
    pub block: u64,
    pub ap: u64,
}

/// Counts of direct, non-Tornado transactions between pairs of addresses, in either direction
/// (§5.2 H3). The pair is unordered: `(a, b)` and `(b, a)` add to the same count.
#[derive(Clone, Debug, Default)]
pub struct Interactions {
    counts: FxHashMap<(AddrId, AddrId), u32>,
}

impl Interactions {
    pub fn new() -> Interactions {
        Interactions::default()
    }

    /// Adds `count` transactions between `a` and `b`; saturates rather than wraps.
    pub fn add(&mut self, a: AddrId, b: AddrId, count: u32) {
        let slot = self.counts.entry(unordered(a, b)).or_insert(0);
        *slot = slot.saturating_add(count);
    }

    pub fn count(&self, a: AddrId, b: AddrId) -> u32 {
        self.counts.get(&unordered(a, b)).copied().unwrap_or(0)
    }

    /// Every pair with its count, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = ((AddrId, AddrId), u32)> + '_ {
        self.counts.iter().map(|(&pair, &n)| (pair, n))
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

impl FromIterator<((AddrId, AddrId), u32)> for Interactions {
    fn from_iter<I: IntoIterator<Item = ((AddrId, AddrId), u32)>>(iter: I) -> Interactions {
        let mut out = Interactions::new();
        for ((a, b), n) in iter {
            out.add(a, b, n);
        }
        out
    }
}

fn unordered(a: AddrId, b: AddrId) -> (AddrId, AddrId) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Sorted by `seq` with one event per `seq`: when a caller passes two events with the same
/// `seq`, the smaller by full field order wins, so the outcome does not depend on input order.
pub(crate) fn canonical<T: Ord + Copy>(events: &[T], seq: impl Fn(&T) -> u64) -> Vec<T> {
    let mut out = events.to_vec();
    out.sort_unstable();
    out.dedup_by(|later, kept| seq(later) == seq(kept));
    out
}
