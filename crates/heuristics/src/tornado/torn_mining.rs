//! H5, anonymity-points mining (§5.2): a claim of `ap` points divided by a pool's rate gives how
//! many blocks a note stayed in that pool; a deposit and a withdrawal of the claimant exactly
//! that many blocks apart are linked.
//!
//! Invariants: only exact divisions count (a remainder means the claim is not one note's worth
//! in this pool); a claim only speaks for events at or before its block; when several events sit
//! at the implied block the claim cannot tell them apart, so nothing is linked.

use chaintrace_model::AddrId;
use rustc_hash::FxHashMap;

use super::address_match::known;
use super::events::{ApClaim, Deposit, Withdrawal};
use super::link::{group_by, make, Evidence};
use super::params::{Heuristic, Link, LinkDetail, LinkParams};
use super::pools::{Pool, PoolId};

struct Index<'e> {
    pools: &'e [Pool],
    deposits: &'e [Deposit],
    withdrawals: &'e [Withdrawal],
    deposits_by_from: FxHashMap<AddrId, Vec<u32>>,
    withdrawals_by_recipient: FxHashMap<AddrId, Vec<u32>>,
    deposits_at: FxHashMap<(PoolId, u64), Vec<u32>>,
    withdrawals_at: FxHashMap<(PoolId, u64), Vec<u32>>,
}

pub(crate) fn link(ev: &Evidence<'_>, params: &LinkParams, out: &mut Vec<Link>) {
    if ev.claims.is_empty() {
        return;
    }
    let index = Index {
        pools: ev.pools,
        deposits: &ev.deposits,
        withdrawals: &ev.withdrawals,
        deposits_by_from: group_by(&ev.deposits, |d| known(d.from)),
        withdrawals_by_recipient: group_by(&ev.withdrawals, |w| known(w.recipient)),
        deposits_at: group_by(&ev.deposits, |d| Some((d.pool, d.block))),
        withdrawals_at: group_by(&ev.withdrawals, |w| Some((w.pool, w.block))),
    };
    let confidence = params.confidence.torn_mining;
    for claim in ev.claims.iter().filter(|c| c.ap > 0) {
        index.claimed_by_withdrawer(claim, confidence, out);
        index.claimed_by_depositor(claim, confidence, out);
    }
}

impl Index<'_> {
    /// Blocks a note of `pool` must have stayed to earn `ap` points.
    fn blocks(&self, pool: PoolId, ap: u64) -> Option<u64> {
        let rate = self.pools.get(pool.0 as usize)?.ap_rate?;
        (rate > 0 && ap.is_multiple_of(rate)).then(|| ap / rate)
    }

    /// The claimant withdrew: look for the one deposit `Δ` blocks before.
    fn claimed_by_withdrawer(&self, claim: &ApClaim, confidence: u8, out: &mut Vec<Link>) {
        let Some(ws) = self.withdrawals_by_recipient.get(&claim.addr) else {
            return;
        };
        for w in ws.iter().map(|&i| &self.withdrawals[i as usize]) {
            let Some(blocks) = self
                .blocks(w.pool, claim.ap)
                .filter(|_| w.block <= claim.block)
            else {
                continue;
            };
            let Some(start) = w.block.checked_sub(blocks) else {
                continue;
            };
            let candidates = self
                .deposits_at
                .get(&(w.pool, start))
                .map_or(&[][..], Vec::as_slice);
            let mut earlier = candidates
                .iter()
                .map(|&i| &self.deposits[i as usize])
                .filter(|d| d.seq < w.seq);
            if let (Some(d), None) = (earlier.next(), earlier.next()) {
                out.push(mining_link(d, w, claim, blocks, confidence));
            }
        }
    }

    /// The claimant deposited: look for the one withdrawal `Δ` blocks after.
    fn claimed_by_depositor(&self, claim: &ApClaim, confidence: u8, out: &mut Vec<Link>) {
        let Some(ds) = self.deposits_by_from.get(&claim.addr) else {
            return;
        };
        for d in ds.iter().map(|&i| &self.deposits[i as usize]) {
            let Some(blocks) = self.blocks(d.pool, claim.ap) else {
                continue;
            };
            let Some(end) = d.block.checked_add(blocks).filter(|&b| b <= claim.block) else {
                continue;
            };
            let candidates = self
                .withdrawals_at
                .get(&(d.pool, end))
                .map_or(&[][..], Vec::as_slice);
            let mut later = candidates
                .iter()
                .map(|&i| &self.withdrawals[i as usize])
                .filter(|w| w.seq > d.seq);
            if let (Some(w), None) = (later.next(), later.next()) {
                out.push(mining_link(d, w, claim, blocks, confidence));
            }
        }
    }
}

/// The link a claim implies between `d` and `w`, which sit `blocks` apart.
fn mining_link(d: &Deposit, w: &Withdrawal, claim: &ApClaim, blocks: u64, confidence: u8) -> Link {
    let detail = LinkDetail::Mining {
        ap: claim.ap,
        blocks,
    };
    make(d, w, Heuristic::TornMining, confidence, detail)
}
