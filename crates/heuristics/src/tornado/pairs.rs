//! Links as evidence about notes: which (withdrawal, deposit) pairs could be the same note, and
//! how sure the heuristics are about each, shared by the anonymity sets and the taint flow.
//!
//! Invariants: a pair joins a deposit to a later withdrawal of the same pool (a note never
//! leaves its pool, so cross-pool links are evidence about owners, not notes); several
//! heuristics on one pair combine by taking the most confident, because they often rest on the
//! same behaviour and are not independent; links with confidence 0 carry no evidence.

use rustc_hash::FxHashMap;

use super::events::{Deposit, Withdrawal};
use super::params::Link;

/// One (withdrawal, deposit) pair by position in the canonical event lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pair {
    pub w: u32,
    pub d: u32,
    pub confidence: u8,
}

/// Position of each event by `seq`.
pub(crate) fn positions<T>(events: &[T], seq: impl Fn(&T) -> u64) -> FxHashMap<u64, u32> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| (seq(e), i as u32))
        .collect()
}

/// Links resolved to positions, skipping links to unknown events and links without
/// confidence; `same_pool` also skips pairs that cannot be one note.
pub(crate) fn resolve(
    deposits: &[Deposit],
    withdrawals: &[Withdrawal],
    links: &[Link],
    same_pool: bool,
) -> Vec<Pair> {
    let dep_pos = positions(deposits, |d| d.seq);
    let wd_pos = positions(withdrawals, |w| w.seq);
    let mut pairs: Vec<Pair> = links
        .iter()
        .filter(|l| l.confidence > 0)
        .filter_map(|l| {
            let d = *dep_pos.get(&l.deposit)?;
            let w = *wd_pos.get(&l.withdrawal)?;
            let (dep, wd) = (&deposits[d as usize], &withdrawals[w as usize]);
            let note = dep.pool == wd.pool && dep.seq < wd.seq;
            (note || !same_pool).then_some(Pair {
                w,
                d,
                confidence: l.confidence.min(100),
            })
        })
        .collect();
    pairs.sort_unstable_by_key(|p| (p.w, p.d, std::cmp::Reverse(p.confidence)));
    pairs.dedup_by_key(|p| (p.w, p.d));
    pairs
}
