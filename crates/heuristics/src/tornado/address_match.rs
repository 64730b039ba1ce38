//! H1, address match (§5.2): a withdrawal paid to an address that earlier deposited is linked to
//! each of that address's earlier deposits (in any pool, or only the same pool with `by_pool`).
//!
//! Invariant: the "no address" id never matches, so events with unknown addresses stay unlinked.

use chaintrace_model::AddrId;

use super::link::{group_by, make, Evidence};
use super::params::{Heuristic, Link, LinkDetail, LinkParams};

pub(crate) fn link(ev: &Evidence<'_>, params: &LinkParams, out: &mut Vec<Link>) {
    let deps = &ev.deposits;
    let by_from = group_by(deps, |d| known(d.from));
    let confidence = params.confidence.address_match;
    for w in &ev.withdrawals {
        let Some(list) = known(w.recipient).and_then(|r| by_from.get(&r)) else {
            continue;
        };
        let earlier = list.partition_point(|&i| deps[i as usize].seq < w.seq);
        for &i in &list[..earlier] {
            let d = &deps[i as usize];
            if !params.by_pool || d.pool == w.pool {
                out.push(make(
                    d,
                    w,
                    Heuristic::AddressMatch,
                    confidence,
                    LinkDetail::SameAddress,
                ));
            }
        }
    }
}

pub(crate) fn known(addr: AddrId) -> Option<AddrId> {
    (!addr.is_none()).then_some(addr)
}
