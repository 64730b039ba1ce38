//! Taint through Tornado Cash pools (§5.3): how much of the deposits' taint each withdrawal
//! carries out.
//!
//! Every note is 100 units (hundredths of a note). Links reserve units of a deposit for a
//! withdrawal: withdrawal W with linked deposits `M` and pair confidences `c_D` reserves
//! `C·c_D/Σc` units of each (`C = max c_D` in [`TaintMode::Pool`], 100 in
//! [`TaintMode::LinkedOnly`]); a deposit reserved beyond 100 units in total is scaled down to 100.
//! A deposit's taint is split over its reserved parts and its free rest by largest remainder
//! (§0.3, the free rest last), so the split conserves it exactly.
//!
//! In `Pool` mode the free units and their taint enter the pool account at the deposit, and each
//! withdrawal draws its unreserved units from the account in `seq` order, taking the account's
//! taint in proportion (floor; the remainder stays in the pool until the last unit leaves). This
//! is the pool-wide haircut of §5.3 when there are no links. It differs from summing `P(D|W)` of
//! [`AnonymitySets`](super::AnonymitySets) over static sets on purpose: static sets let two
//! withdrawals both expect the same note, which can hand out more taint than went in.
//!
//! In `LinkedOnly` mode only reserved parts move; free taint stays untraced in the pool.
//!
//! Invariant: the taint handed to withdrawals never exceeds the taint of the deposits.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::events::{canonical, Deposit, Withdrawal};
use super::pairs::{resolve, Pair};
use super::params::Link;

/// Units of one note.
const NOTE: u64 = 100;

/// How taint crosses a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaintMode {
    /// Pool-wide haircut, sharpened by links in proportion to their confidence.
    Pool,
    /// Only along heuristic links, each passing its deposit's taint in full.
    LinkedOnly,
}

/// The taint one withdrawal carries out of its pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WithdrawalTaint {
    pub withdrawal: u64,
    /// `via_links + via_pool`, in base units.
    pub tainted: u128,
    pub via_links: u128,
    pub via_pool: u128,
    /// Confidence of the most confident link that passed taint, if any did.
    pub confidence: Option<u8>,
}

/// Each withdrawal's tainted amount, given tainted amounts of deposits as `(deposit seq,
/// amount)` (repeats add up; unknown deposits are ignored). Only withdrawals that receive taint
/// are listed, in `seq` order.
pub fn withdrawal_taint(
    deposits: &[Deposit],
    withdrawals: &[Withdrawal],
    links: &[Link],
    deposit_taint: &[(u64, u128)],
    mode: TaintMode,
) -> Vec<WithdrawalTaint> {
    let deposits = canonical(deposits, |d| d.seq);
    let withdrawals = canonical(withdrawals, |w| w.seq);
    let pairs = reserve(resolve(&deposits, &withdrawals, links, true), mode);
    let taint = taint_by_position(&deposits, deposit_taint);
    let mut out: Vec<WithdrawalTaint> = withdrawals
        .iter()
        .map(|w| WithdrawalTaint {
            withdrawal: w.seq,
            tainted: 0,
            via_links: 0,
            via_pool: 0,
            confidence: None,
        })
        .collect();
    let free = split_deposits(&pairs, &taint, &mut out);
    if mode == TaintMode::Pool {
        draw_from_pools(&deposits, &withdrawals, &pairs, &free, &mut out);
    }
    out.retain_mut(|t| {
        t.tainted = t.via_links.saturating_add(t.via_pool);
        t.tainted > 0
    });
    out
}

/// A link turned into reserved units of the deposit for the withdrawal.
#[derive(Clone, Copy, Debug)]
struct Reserved {
    pair: Pair,
    units: u64,
}

/// Reserved units per pair, in (withdrawal, deposit) order; see the module comment.
fn reserve(pairs: Vec<Pair>, mode: TaintMode) -> Vec<Reserved> {
    let mut out = Vec::with_capacity(pairs.len());
    for group in pairs.chunk_by(|a, b| a.w == b.w) {
        let sum: u64 = group.iter().map(|p| u64::from(p.confidence)).sum();
        let top = match mode {
            TaintMode::Pool => group
                .iter()
                .map(|p| u64::from(p.confidence))
                .max()
                .unwrap_or(0),
            TaintMode::LinkedOnly => NOTE,
        };
        out.extend(group.iter().map(|&pair| Reserved {
            pair,
            units: top * u64::from(pair.confidence) / sum.max(1),
        }));
    }
    let mut load: FxHashMap<u32, u64> = FxHashMap::default();
    for r in &out {
        *load.entry(r.pair.d).or_insert(0) += r.units;
    }
    for r in &mut out {
        let total = load.get(&r.pair.d).copied().unwrap_or(0);
        if total > NOTE {
            r.units = r.units * NOTE / total;
        }
    }
    out
}

fn taint_by_position(deposits: &[Deposit], deposit_taint: &[(u64, u128)]) -> Vec<u128> {
    let mut by_seq: FxHashMap<u64, u128> = FxHashMap::default();
    for &(seq, amount) in deposit_taint {
        let slot = by_seq.entry(seq).or_insert(0);
        *slot = slot.saturating_add(amount);
    }
    deposits
        .iter()
        .map(|d| by_seq.get(&d.seq).copied().unwrap_or(0))
        .collect()
}

/// Free units and free taint of one deposit, for the pool account.
#[derive(Clone, Copy, Debug, Default)]
struct Free {
    units: u64,
    taint: u128,
}

/// Splits each deposit's taint over its reservations and its free rest, crediting the
/// reservations to their withdrawals; returns the free rest of every deposit.
fn split_deposits(reserved: &[Reserved], taint: &[u128], out: &mut [WithdrawalTaint]) -> Vec<Free> {
    let mut by_deposit: Vec<&Reserved> = reserved.iter().collect();
    by_deposit.sort_unstable_by_key(|r| (r.pair.d, r.pair.w));
    let mut free: Vec<Free> = taint
        .iter()
        .map(|&t| Free {
            units: NOTE,
            taint: t,
        })
        .collect();
    for group in by_deposit.chunk_by(|a, b| a.pair.d == b.pair.d) {
        let d = group[0].pair.d as usize;
        let mut weights: Vec<u64> = group.iter().map(|r| r.units).collect();
        let rest = NOTE - weights.iter().sum::<u64>();
        weights.push(rest);
        let parts = largest_remainder(taint[d], &weights, NOTE);
        for (r, &part) in group.iter().zip(&parts) {
            credit_link(&mut out[r.pair.w as usize], part, r.pair.confidence);
        }
        free[d] = Free {
            units: rest,
            taint: parts[group.len()],
        };
    }
    free
}

fn credit_link(t: &mut WithdrawalTaint, part: u128, confidence: u8) {
    if part > 0 {
        t.via_links = t.via_links.saturating_add(part);
        t.confidence = Some(t.confidence.map_or(confidence, |c| c.max(confidence)));
    }
}

/// One pool account, in units and taint.
#[derive(Clone, Copy, Debug, Default)]
struct Account {
    units: u64,
    taint: u128,
}

impl Account {
    /// Takes `want` units and their share of the taint.
    fn draw(&mut self, want: u64) -> u128 {
        let take = want.min(self.units);
        let taint = if take == 0 {
            0
        } else if take == self.units {
            self.taint
        } else {
            mul_div(self.taint, take, self.units).0
        };
        self.units -= take;
        self.taint -= taint;
        taint
    }
}

/// Replays every pool in `seq` order: deposits credit their free rest, withdrawals draw their
/// unreserved units.
fn draw_from_pools(
    deposits: &[Deposit],
    withdrawals: &[Withdrawal],
    reserved: &[Reserved],
    free: &[Free],
    out: &mut [WithdrawalTaint],
) {
    let mut draw = vec![NOTE; withdrawals.len()];
    for r in reserved {
        draw[r.pair.w as usize] -= r.units;
    }
    // Deposits sort before withdrawals of the same seq, which only malformed input can have.
    let mut events: Vec<(u32, u64, bool, u32)> = deposits
        .iter()
        .enumerate()
        .map(|(i, d)| (d.pool.0, d.seq, false, i as u32))
        .chain(
            withdrawals
                .iter()
                .enumerate()
                .map(|(i, w)| (w.pool.0, w.seq, true, i as u32)),
        )
        .collect();
    events.sort_unstable();
    let mut accounts: FxHashMap<u32, Account> = FxHashMap::default();
    for (pool, _, is_withdrawal, i) in events {
        let account = accounts.entry(pool).or_default();
        let i = i as usize;
        if is_withdrawal {
            out[i].via_pool = account.draw(draw[i]);
        } else {
            account.units += free[i].units;
            account.taint = account.taint.saturating_add(free[i].taint);
        }
    }
}

/// `(floor(a·b/c), (a·b) mod c)` without overflow, for `b ≤ c`.
fn mul_div(a: u128, b: u64, c: u64) -> (u128, u128) {
    let (b, c) = (u128::from(b), u128::from(c.max(1)));
    let (q, r) = (a / c, a % c);
    // r < c < 2^64 and b < 2^64, so r·b fits; q·b ≤ a because b ≤ c.
    let rb = r * b;
    (q * b + rb / c, rb % c)
}

/// Splits `amount` in proportions `weights / total` (weights summing to `total`) by largest
/// remainder: floors first, then one unit each to the largest remainders, ties to the lower
/// index. The parts sum to `amount` exactly.
fn largest_remainder(amount: u128, weights: &[u64], total: u64) -> Vec<u128> {
    let split: Vec<(u128, u128)> = weights.iter().map(|&w| mul_div(amount, w, total)).collect();
    let mut parts: Vec<u128> = split.iter().map(|s| s.0).collect();
    let given: u128 = parts.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(split[i].1), i));
    let leftover = amount - given;
    for &i in order.iter().take(leftover as usize) {
        parts[i] += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_div_is_exact_at_the_top_of_the_range() {
        assert_eq!(mul_div(u128::MAX, 1, 3), (u128::MAX / 3, 0));
        assert_eq!(mul_div(u128::MAX, 2, 4), (u128::MAX >> 1, 2));
        assert_eq!(mul_div(10, 1, 3), (3, 1));
        assert_eq!(mul_div(7, 0, 0), (0, 0));
    }

    #[test]
    fn largest_remainder_conserves_and_breaks_ties_low() {
        assert_eq!(largest_remainder(10, &[33, 33, 34], 100), vec![3, 3, 4]);
        assert_eq!(largest_remainder(2, &[50, 50], 100), vec![1, 1]);
        assert_eq!(largest_remainder(1, &[50, 50], 100), vec![1, 0]);
        assert_eq!(largest_remainder(7, &[20, 30, 50], 100), vec![1, 2, 4]);
        let parts = largest_remainder(u128::MAX, &[1, 98, 1], 100);
        assert_eq!(parts.iter().sum::<u128>(), u128::MAX);
    }

    #[test]
    fn account_keeps_the_remainder_until_the_last_unit() {
        let mut acc = Account {
            units: 300,
            taint: 10,
        };
        assert_eq!(acc.draw(100), 3);
        assert_eq!(acc.draw(100), 3);
        assert_eq!(acc.draw(100), 4);
        assert_eq!(acc.draw(100), 0);
    }
}
