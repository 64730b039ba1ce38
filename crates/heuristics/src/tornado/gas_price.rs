//! H2, unique gas price (§5.2): a deposit whose gas fingerprint no other deposit shares (in any
//! pool, or in its pool with `by_pool`) is linked to each later self-relayed withdrawal with the
//! same fingerprint.
//!
//! Invariant: relayed withdrawals are never linked, because a relayer chose their gas price; a
//! legacy price and an EIP-1559 pair never match each other.

use rustc_hash::FxHashMap;

use super::events::GasFingerprint;
use super::link::{make, Evidence};
use super::params::{Heuristic, Link, LinkDetail, LinkParams};
use super::pools::PoolId;

type Key = (Option<PoolId>, GasFingerprint);

pub(crate) fn link(ev: &Evidence<'_>, params: &LinkParams, out: &mut Vec<Link>) {
    let unique = unique_deposits(ev, params.by_pool);
    let confidence = params.confidence.unique_gas_price;
    for w in ev.withdrawals.iter().filter(|w| w.self_relayed()) {
        let key = (params.by_pool.then_some(w.pool), w.gas);
        let Some(&(1, i)) = unique.get(&key) else {
            continue;
        };
        let d = &ev.deposits[i as usize];
        if d.seq < w.seq {
            out.push(make(
                d,
                w,
                Heuristic::UniqueGasPrice,
                confidence,
                LinkDetail::GasPrice { gas: w.gas },
            ));
        }
    }
}

/// For each fingerprint: how many deposits used it, and the first of them.
fn unique_deposits(ev: &Evidence<'_>, by_pool: bool) -> FxHashMap<Key, (u32, u32)> {
    let mut seen: FxHashMap<Key, (u32, u32)> = FxHashMap::default();
    for (i, d) in ev.deposits.iter().enumerate() {
        if !d.gas.is_informative() {
            continue;
        }
        let entry = seen
            .entry((by_pool.then_some(d.pool), d.gas))
            .or_insert((0, i as u32));
        entry.0 = entry.0.saturating_add(1);
    }
    seen
}
