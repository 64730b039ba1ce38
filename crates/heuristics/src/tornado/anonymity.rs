//! Per-withdrawal anonymity sets and candidate probabilities (§5.3).
//!
//! `AS(W)` = deposits of W's pool earlier than W, minus deposits linked to a different
//! withdrawal (in any pool: a link elsewhere also reveals whose note it is). Sizes come from
//! prefix counts over each pool's deposits in `seq` order, so no set is built to be measured.
//!
//! Probabilities, as exact rationals: without links, every member of `AS(W)` has `1/|AS(W)|`.
//! With links, let `M` be W's linked deposits (same pool, earlier) with pair confidences `c_D`
//! (the most confident heuristic per pair) and `C = max c_D`. Then `C%` is shared over `M` in
//! proportion to `c_D`, and the other `(100 − C)%` spread evenly over `AS(W) − M`. When
//! `AS(W) − M` is empty, all of it goes to `M`, in proportion to `c_D`.
//!
//! Invariants: probabilities of one withdrawal sum to exactly 1 unless its set is empty; the
//! size never exceeds the number of earlier deposits of the pool.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::events::{canonical, Deposit, Withdrawal};
use super::pairs::{positions, resolve, Pair};
use super::params::Link;
use super::pools::PoolId;

/// An exact probability `num/den`, in lowest terms (`0/1` for zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Ratio {
    pub num: u128,
    pub den: u128,
}

impl Ratio {
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };

    pub fn new(num: u128, den: u128) -> Ratio {
        if num == 0 || den == 0 {
            return Ratio::ZERO;
        }
        let g = gcd(num, den);
        Ratio {
            num: num / g,
            den: den / g,
        }
    }

    /// Basis points, rounded down.
    pub fn basis_points(self) -> u128 {
        self.num.saturating_mul(10_000) / self.den.max(1)
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// How a withdrawal's note is attributed among its candidate deposits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Distribution {
    pub withdrawal: u64,
    /// `|AS(W)|`.
    pub set_size: u64,
    /// Linked deposits of the same pool (by `seq`) and their probabilities.
    pub linked: Vec<(u64, Ratio)>,
    /// Members of `AS(W)` not linked to W, and the probability each one gets.
    pub unlinked_count: u64,
    pub unlinked_each: Ratio,
}

/// One pool's deposits in `seq` order, with how many of each prefix are linked anywhere.
struct PoolDeposits {
    members: Vec<u32>,
    linked_prefix: Vec<u32>,
}

/// Anonymity sets of every withdrawal, indexed once and answered per withdrawal.
pub struct AnonymitySets {
    deposits: Vec<Deposit>,
    withdrawals: Vec<Withdrawal>,
    wd_pos: FxHashMap<u64, u32>,
    pools: FxHashMap<PoolId, PoolDeposits>,
    /// Per deposit position: `seq`s of the withdrawals it is linked to, in any pool.
    linked_to: FxHashMap<u32, Vec<u64>>,
    /// Per withdrawal position: its same-pool, earlier linked deposits.
    notes: FxHashMap<u32, Vec<Pair>>,
}

impl AnonymitySets {
    pub fn new(deposits: &[Deposit], withdrawals: &[Withdrawal], links: &[Link]) -> AnonymitySets {
        let deposits = canonical(deposits, |d| d.seq);
        let withdrawals = canonical(withdrawals, |w| w.seq);
        let mut linked_to: FxHashMap<u32, Vec<u64>> = FxHashMap::default();
        for p in resolve(&deposits, &withdrawals, links, false) {
            linked_to
                .entry(p.d)
                .or_default()
                .push(withdrawals[p.w as usize].seq);
        }
        let mut notes: FxHashMap<u32, Vec<Pair>> = FxHashMap::default();
        for p in resolve(&deposits, &withdrawals, links, true) {
            notes.entry(p.w).or_default().push(p);
        }
        let pools = pool_index(&deposits, &linked_to);
        let wd_pos = positions(&withdrawals, |w| w.seq);
        AnonymitySets {
            deposits,
            withdrawals,
            wd_pos,
            pools,
            linked_to,
            notes,
        }
    }

    /// `|AS(W)|` for the withdrawal with this `seq`; `None` for an unknown withdrawal.
    pub fn size(&self, withdrawal: u64) -> Option<u64> {
        let w = *self.wd_pos.get(&withdrawal)?;
        Some(self.size_at(w))
    }

    /// `(withdrawal seq, |AS(W)|)` for every withdrawal, in `seq` order.
    pub fn sizes(&self) -> Vec<(u64, u64)> {
        (0..self.withdrawals.len() as u32)
            .map(|w| (self.withdrawals[w as usize].seq, self.size_at(w)))
            .collect()
    }

    /// Members of `AS(W)` by deposit `seq`, in `seq` order, produced lazily: take a prefix
    /// with `.take(cap)` to list a large set.
    pub fn members(&self, withdrawal: u64) -> impl Iterator<Item = u64> + '_ {
        let earlier = self
            .wd_pos
            .get(&withdrawal)
            .and_then(|&w| self.earlier(w))
            .map_or(&[][..], |(members, _)| members);
        earlier
            .iter()
            .filter(move |&&d| self.in_set(d, withdrawal))
            .map(|&d| self.deposits[d as usize].seq)
    }

    /// The attribution of the withdrawal with this `seq` over its candidates.
    pub fn distribution(&self, withdrawal: u64) -> Option<Distribution> {
        let w = *self.wd_pos.get(&withdrawal)?;
        let set_size = self.size_at(w);
        let notes = self.notes.get(&w).map_or(&[][..], Vec::as_slice);
        let own = self.own_in_set(w, notes);
        let unlinked_count = set_size - own;
        let (linked, unlinked_each) = shares(notes, unlinked_count);
        let linked = linked
            .into_iter()
            .map(|(d, r)| (self.deposits[d as usize].seq, r))
            .collect();
        Some(Distribution {
            withdrawal,
            set_size,
            linked,
            unlinked_count,
            unlinked_each,
        })
    }

    /// `P(D|W)` for one deposit; zero outside the candidates.
    pub fn probability(&self, withdrawal: u64, deposit: u64) -> Ratio {
        let Some(dist) = self.distribution(withdrawal) else {
            return Ratio::ZERO;
        };
        if let Some(&(_, r)) = dist.linked.iter().find(|(d, _)| *d == deposit) {
            return r;
        }
        match self.members(withdrawal).find(|&d| d == deposit) {
            Some(_) => dist.unlinked_each,
            None => Ratio::ZERO,
        }
    }

    /// The pool's deposits earlier than withdrawal `w`, and how many of them are linked.
    fn earlier(&self, w: u32) -> Option<(&[u32], u32)> {
        let wd = &self.withdrawals[w as usize];
        let pool = self.pools.get(&wd.pool)?;
        let n = pool
            .members
            .partition_point(|&d| self.deposits[d as usize].seq < wd.seq);
        Some((&pool.members[..n], pool.linked_prefix[n]))
    }

    fn size_at(&self, w: u32) -> u64 {
        let Some((earlier, linked)) = self.earlier(w) else {
            return 0;
        };
        let notes = self.notes.get(&w).map_or(&[][..], Vec::as_slice);
        (earlier.len() as u64 - u64::from(linked)) + self.own_in_set(w, notes)
    }

    /// Linked deposits of `w` that no other withdrawal claims, so they stay in `AS(W)`.
    fn own_in_set(&self, w: u32, notes: &[Pair]) -> u64 {
        let seq = self.withdrawals[w as usize].seq;
        notes.iter().filter(|p| self.in_set(p.d, seq)).count() as u64
    }

    fn in_set(&self, d: u32, withdrawal: u64) -> bool {
        self.linked_to
            .get(&d)
            .is_none_or(|ws| ws.iter().all(|&w| w == withdrawal))
    }
}

fn pool_index(
    deposits: &[Deposit],
    linked_to: &FxHashMap<u32, Vec<u64>>,
) -> FxHashMap<PoolId, PoolDeposits> {
    let mut pools: FxHashMap<PoolId, PoolDeposits> = FxHashMap::default();
    for (i, d) in deposits.iter().enumerate() {
        let entry = pools.entry(d.pool).or_insert_with(|| PoolDeposits {
            members: Vec::new(),
            linked_prefix: vec![0],
        });
        let before = *entry.linked_prefix.last().unwrap_or(&0);
        let linked = u32::from(linked_to.contains_key(&(i as u32)));
        entry.members.push(i as u32);
        entry.linked_prefix.push(before + linked);
    }
    pools
}

/// Probabilities of the linked deposits, and of each of `unlinked` other members.
fn shares(notes: &[Pair], unlinked: u64) -> (Vec<(u32, Ratio)>, Ratio) {
    let unlinked = u128::from(unlinked);
    if notes.is_empty() {
        let each = if unlinked == 0 {
            Ratio::ZERO
        } else {
            Ratio::new(1, unlinked)
        };
        return (Vec::new(), each);
    }
    let top = u128::from(notes.iter().map(|p| p.confidence).max().unwrap_or(0));
    let sum: u128 = notes.iter().map(|p| u128::from(p.confidence)).sum();
    let (mass, rest) = if unlinked == 0 {
        (100, 0)
    } else {
        (top, 100 - top)
    };
    let linked = notes
        .iter()
        .map(|p| (p.d, Ratio::new(mass * u128::from(p.confidence), 100 * sum)))
        .collect();
    let each = if unlinked == 0 {
        Ratio::ZERO
    } else {
        Ratio::new(rest, 100 * unlinked)
    };
    (linked, each)
}
