//! H3, linked addresses (§5.2): when a depositor and a withdrawal's recipient have made at least
//! `min_interactions` direct transactions with each other (either direction), the withdrawal is
//! linked to that depositor's earlier deposits in the same pool. The confidence grows with the
//! number of interactions, up to a cap.
//!
//! Invariant: an address paired with itself is H1's business and is skipped here; each pair is
//! tried in both roles, because either address may have deposited.

use chaintrace_model::AddrId;
use rustc_hash::FxHashMap;

use super::address_match::known;
use super::events::{Deposit, Withdrawal};
use super::link::{group_by, make, Evidence};
use super::params::{Heuristic, Link, LinkDetail, LinkParams};
use super::pools::PoolId;

struct Index<'e> {
    deposits: &'e [Deposit],
    withdrawals: &'e [Withdrawal],
    by_depositor_pool: FxHashMap<(AddrId, PoolId), Vec<u32>>,
    by_recipient: FxHashMap<AddrId, Vec<u32>>,
}

pub(crate) fn link(ev: &Evidence<'_>, params: &LinkParams, out: &mut Vec<Link>) {
    let index = Index {
        deposits: &ev.deposits,
        withdrawals: &ev.withdrawals,
        by_depositor_pool: group_by(&ev.deposits, |d| known(d.from).map(|a| (a, d.pool))),
        by_recipient: group_by(&ev.withdrawals, |w| known(w.recipient)),
    };
    for ((a, b), count) in ev.interactions.iter() {
        if a == b || count < params.min_interactions {
            continue;
        }
        let confidence = params.confidence.linked_addresses(count);
        for (depositor, recipient) in [(a, b), (b, a)] {
            index.link_pair(depositor, recipient, count, confidence, out);
        }
    }
}

impl Index<'_> {
    fn link_pair(
        &self,
        depositor: AddrId,
        recipient: AddrId,
        count: u32,
        confidence: u8,
        out: &mut Vec<Link>,
    ) {
        let Some(ws) = self.by_recipient.get(&recipient) else {
            return;
        };
        for &wi in ws {
            let w = &self.withdrawals[wi as usize];
            let Some(ds) = self.by_depositor_pool.get(&(depositor, w.pool)) else {
                continue;
            };
            let earlier = ds.partition_point(|&i| self.deposits[i as usize].seq < w.seq);
            for &di in &ds[..earlier] {
                let d = &self.deposits[di as usize];
                out.push(make(
                    d,
                    w,
                    Heuristic::LinkedAddresses,
                    confidence,
                    LinkDetail::Interactions { count },
                ));
            }
        }
    }
}
