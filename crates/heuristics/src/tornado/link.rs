//! Runs the enabled heuristics over one set of events and merges their links.
//!
//! Invariants: the result is sorted by (withdrawal, deposit, heuristic) with at most one link per
//! such triple (the most confident), and every link joins a deposit to a strictly later
//! withdrawal. Each heuristic indexes the events it needs (by address, gas, pool and block), so
//! no step compares every deposit with every withdrawal.

use std::cmp::Reverse;
use std::hash::Hash;

use rustc_hash::FxHashMap;

use super::events::{canonical, ApClaim, Deposit, Interactions, Withdrawal};
use super::params::{Heuristic, Link, LinkDetail, LinkParams};
use super::pools::Pool;
use super::{address_match, gas_price, linked_addresses, multi_denomination, torn_mining};

/// The events and side evidence one linking run reads, canonicalised.
pub(crate) struct Evidence<'a> {
    pub pools: &'a [Pool],
    pub deposits: Vec<Deposit>,
    pub withdrawals: Vec<Withdrawal>,
    pub interactions: &'a Interactions,
    pub claims: &'a [ApClaim],
}

/// Links withdrawals to the deposits they probably spent, by every heuristic enabled in
/// `params`. Deterministic: the same inputs in any order give the same, sorted result.
pub fn link(
    pools: &[Pool],
    deposits: &[Deposit],
    withdrawals: &[Withdrawal],
    interactions: &Interactions,
    claims: &[ApClaim],
    params: &LinkParams,
) -> Vec<Link> {
    let ev = Evidence {
        pools,
        deposits: canonical(deposits, |d| d.seq),
        withdrawals: canonical(withdrawals, |w| w.seq),
        interactions,
        claims,
    };
    let mut links = Vec::new();
    for heuristic in Heuristic::ALL {
        if params.is_enabled(heuristic) {
            run(heuristic, &ev, params, &mut links);
        }
    }
    finish(links)
}

fn run(heuristic: Heuristic, ev: &Evidence<'_>, params: &LinkParams, out: &mut Vec<Link>) {
    match heuristic {
        Heuristic::AddressMatch => address_match::link(ev, params, out),
        Heuristic::UniqueGasPrice => gas_price::link(ev, params, out),
        Heuristic::LinkedAddresses => linked_addresses::link(ev, params, out),
        Heuristic::MultiDenomination => multi_denomination::link(ev, params, out),
        Heuristic::TornMining => torn_mining::link(ev, params, out),
    }
}

/// Sorts, and keeps the most confident link of each (withdrawal, deposit, heuristic); among
/// equally confident ones, the largest evidence (for H4, the fullest portfolio).
fn finish(mut links: Vec<Link>) -> Vec<Link> {
    links.sort_unstable_by_key(|l| {
        (
            l.withdrawal,
            l.deposit,
            l.heuristic,
            Reverse(l.confidence),
            Reverse(l.detail),
        )
    });
    links.dedup_by(|later, kept| {
        (later.withdrawal, later.deposit, later.heuristic)
            == (kept.withdrawal, kept.deposit, kept.heuristic)
    });
    links
}

/// Positions of `items` grouped by `key`, each group in input (that is, `seq`) order. Items
/// whose key is `None` are left out.
pub(crate) fn group_by<T, K: Eq + Hash>(
    items: &[T],
    key: impl Fn(&T) -> Option<K>,
) -> FxHashMap<K, Vec<u32>> {
    let mut groups: FxHashMap<K, Vec<u32>> = FxHashMap::default();
    for (i, item) in items.iter().enumerate() {
        if let Some(k) = key(item) {
            groups.entry(k).or_default().push(i as u32);
        }
    }
    groups
}

/// The link record for deposit `d` and withdrawal `w`.
pub(crate) fn make(
    d: &Deposit,
    w: &Withdrawal,
    heuristic: Heuristic,
    confidence: u8,
    detail: LinkDetail,
) -> Link {
    Link {
        withdrawal: w.seq,
        deposit: d.seq,
        heuristic,
        confidence: confidence.min(100),
        detail,
    }
}
