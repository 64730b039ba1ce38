//! H4, multi-denomination (§5.2): a recipient's withdrawals within a look-back window form a
//! portfolio `{pool: count}`; a depositor whose deposits within such a window form exactly the
//! same portfolio, all before the withdrawals, is linked to them.
//!
//! Windows are anchored at every event and look back `window_secs`, as Tutela's are. A portfolio
//! needs two pools and `min_portfolio_txs` transactions. Links join deposits and withdrawals of
//! the same pool only, since a note never leaves its pool: each matched deposit is linked to every
//! matched withdrawal of its pool. When `k` depositors match one portfolio, each gets `1/k` of the
//! H4 confidence, and more than `max_portfolio_matches` matches link nobody.
//!
//! Invariant: a portfolio common enough to have more than [`SCAN_LIMIT`] earlier windows is
//! treated as matching too many depositors, which keeps the search linear in the events.

use std::ops::Range;

use chaintrace_model::AddrId;
use rustc_hash::FxHashMap;

use super::address_match::known;
use super::link::{make, Evidence};
use super::params::{Heuristic, Link, LinkDetail, LinkParams};
use super::pools::PoolId;

/// Most earlier windows of one portfolio looked at for one withdrawal window.
pub const SCAN_LIMIT: usize = 1_024;

/// Pools in ascending order with their counts.
type Portfolio = Vec<(PoolId, u32)>;

/// An event as a portfolio sees it; `idx` points back into the canonical event list.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Item {
    owner: AddrId,
    ts: u64,
    seq: u64,
    pool: PoolId,
    idx: u32,
}

struct Window {
    owner: AddrId,
    span: Range<usize>,
    first_seq: u64,
    last_seq: u64,
    portfolio: Portfolio,
}

pub(crate) fn link(ev: &Evidence<'_>, params: &LinkParams, out: &mut Vec<Link>) {
    let dep_items = items(ev.deposits.iter().map(|d| (d.from, d.ts, d.seq, d.pool)));
    let wd_items = items(
        ev.withdrawals
            .iter()
            .map(|w| (w.recipient, w.ts, w.seq, w.pool)),
    );
    let by_portfolio = index(windows(&dep_items, params));
    for ww in windows(&wd_items, params) {
        let Some(cands) = by_portfolio.get(&ww.portfolio) else {
            continue;
        };
        let matches = latest_per_owner(cands, ww.first_seq, params.max_portfolio_matches);
        if matches.is_empty() {
            continue;
        }
        let confidence =
            (u32::from(params.confidence.multi_denomination) / matches.len() as u32) as u8;
        let detail = LinkDetail::Portfolio {
            pools: ww.portfolio.len() as u32,
            txs: ww.span.len() as u32,
            depositors: matches.len() as u32,
        };
        for dw in matches {
            pair_up(
                ev,
                &dep_items[dw.span.clone()],
                &wd_items[ww.span.clone()],
                confidence,
                detail,
                out,
            );
        }
    }
}

/// Events of known owners, grouped by owner and in time order within each owner.
fn items(events: impl Iterator<Item = (AddrId, u64, u64, PoolId)>) -> Vec<Item> {
    let mut out: Vec<Item> = events
        .enumerate()
        .filter_map(|(i, (owner, ts, seq, pool))| {
            known(owner).map(|owner| Item {
                owner,
                ts,
                seq,
                pool,
                idx: i as u32,
            })
        })
        .collect();
    out.sort_unstable();
    out
}

/// Every look-back window whose portfolio qualifies, one per anchor event.
fn windows(items: &[Item], params: &LinkParams) -> Vec<Window> {
    let mut out = Vec::new();
    let mut portfolio: Portfolio = Vec::new();
    let mut lo = 0;
    for hi in 0..items.len() {
        let anchor = items[hi];
        if hi > 0 && items[hi - 1].owner != anchor.owner {
            portfolio.clear();
            lo = hi;
        }
        add(&mut portfolio, anchor.pool);
        let from = anchor.ts.saturating_sub(params.window_secs);
        while items[lo].ts < from {
            remove(&mut portfolio, items[lo].pool);
            lo += 1;
        }
        if qualifies(&portfolio, hi + 1 - lo, params) {
            out.push(Window {
                owner: anchor.owner,
                span: lo..hi + 1,
                first_seq: items[lo].seq,
                last_seq: anchor.seq,
                portfolio: portfolio.clone(),
            });
        }
    }
    out
}

fn qualifies(portfolio: &Portfolio, txs: usize, params: &LinkParams) -> bool {
    portfolio.len() >= 2 && txs >= params.min_portfolio_txs as usize
}

fn add(portfolio: &mut Portfolio, pool: PoolId) {
    match portfolio.binary_search_by_key(&pool, |e| e.0) {
        Ok(i) => portfolio[i].1 += 1,
        Err(i) => portfolio.insert(i, (pool, 1)),
    }
}

fn remove(portfolio: &mut Portfolio, pool: PoolId) {
    if let Ok(i) = portfolio.binary_search_by_key(&pool, |e| e.0) {
        portfolio[i].1 -= 1;
        if portfolio[i].1 == 0 {
            portfolio.remove(i);
        }
    }
}

/// Deposit windows by portfolio, each list in order of its last deposit.
fn index(windows: Vec<Window>) -> FxHashMap<Portfolio, Vec<Window>> {
    let mut map: FxHashMap<Portfolio, Vec<Window>> = FxHashMap::default();
    for w in windows {
        map.entry(w.portfolio.clone()).or_default().push(w);
    }
    for list in map.values_mut() {
        list.sort_unstable_by_key(|w| (w.last_seq, w.owner));
    }
    map
}

/// The latest window of each owner that closed before `before`; empty when more than `max`
/// owners qualify (or the scan limit is reached), since the portfolio then identifies no one.
fn latest_per_owner(cands: &[Window], before: u64, max: u32) -> Vec<&Window> {
    let end = cands.partition_point(|w| w.last_seq < before);
    let mut found: Vec<&Window> = Vec::new();
    for (scanned, w) in cands[..end].iter().rev().enumerate() {
        if scanned == SCAN_LIMIT || found.len() > max as usize {
            return Vec::new();
        }
        if found.iter().all(|f| f.owner != w.owner) {
            found.push(w);
        }
    }
    if found.len() > max as usize {
        return Vec::new();
    }
    found
}

fn pair_up(
    ev: &Evidence<'_>,
    deps: &[Item],
    wds: &[Item],
    confidence: u8,
    detail: LinkDetail,
    out: &mut Vec<Link>,
) {
    for wi in wds {
        for di in deps.iter().filter(|d| d.pool == wi.pool && d.seq < wi.seq) {
            let d = &ev.deposits[di.idx as usize];
            let w = &ev.withdrawals[wi.idx as usize];
            out.push(make(d, w, Heuristic::MultiDenomination, confidence, detail));
        }
    }
}
