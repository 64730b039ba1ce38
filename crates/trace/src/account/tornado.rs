//! Following taint through Tornado Cash pools (spec §5), in stages.
//!
//! A forward trace stops where tainted value enters a pool, as at any mixer. With
//! `anonymity-set` or `linked-only`, the deposits it made there are matched to the pools'
//! withdrawals by the linking heuristics (H1–H5, `chaintrace_heuristics::tornado`), each
//! withdrawal receives its share of the deposited taint, and a next stage traces on from the
//! withdrawals' recipients ([`AccountSource::Received`]). Stages repeat while taint re-enters a
//! pool, up to a limit.
//!
//! Every stage is an ordinary trace that reconciles on its own (its sources are the
//! withdrawals' tainted shares), and every crossing says which deposits it came from, by which
//! heuristic and how confidently: what came out of a pool is a belief, not a fact, and the
//! report keeps it apart from what went in.

use std::collections::{BTreeMap, BTreeSet};

use chaintrace_heuristics::tornado::{
    self as tc, AnonymitySets, ApClaim, Deposit, Interactions, Link, LinkParams, Pool, TaintMode,
    Withdrawal,
};
use chaintrace_model::eth::{AssetId, EventNum, TransferKind, U256};
use chaintrace_model::{AddrId, TxNum};
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::forward::{trace_forward, AccountForwardParams, AccountSource};
use super::ledger::AccountLedger;
use super::result::AccountTrace;
use super::state::add_part;
use crate::attribution::Attributions;
use crate::ledger::TraceError;
use crate::rounding::split;
use crate::taint::{Parts, TaintLabel};

/// How taint crosses a Tornado Cash pool (`--through-tornado`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThroughTornado {
    /// The trace ends at the pool (reported as reaching a mixer).
    #[default]
    Stop,
    /// Every later withdrawal of the pool gets the deposits' taint by its probability of
    /// spending them: a pool-wide haircut, sharpened where heuristics link a withdrawal.
    AnonymitySet,
    /// Only withdrawals a heuristic links to a tainted deposit receive its taint.
    LinkedOnly,
}

impl ThroughTornado {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "stop" => ThroughTornado::Stop,
            "anonymity-set" => ThroughTornado::AnonymitySet,
            "linked-only" => ThroughTornado::LinkedOnly,
            _ => return None,
        })
    }
}

/// The pools and their events, as linking needs them.
#[derive(Clone, Debug, Default)]
pub struct PoolEvents {
    pub pools: Vec<Pool>,
    pub deposits: Vec<Deposit>,
    pub withdrawals: Vec<Withdrawal>,
    /// Event `seq` → its transaction.
    pub txs: FxHashMap<u64, TxNum>,
}

impl PoolEvents {
    /// The `seq` of an event: its transaction, then its position among the transaction's
    /// mixer events, so `seq` order is chain order.
    pub fn seq(tx: TxNum, n: u32) -> u64 {
        (tx.0 << 20) | u64::from(n & 0xF_FFFF)
    }

    fn pool_at(&self, addr: AddrId, asset: AssetId) -> Option<usize> {
        self.pools
            .iter()
            .position(|p| p.addr == addr && p.asset == asset)
    }
}

/// How a crossing runs.
#[derive(Clone, Debug, Serialize)]
pub struct TornadoParams {
    pub mode: ThroughTornado,
    pub link: LinkParams,
    /// Anonymity-points claims for H5.
    #[serde(skip)]
    pub claims: Vec<ApClaim>,
    /// Pools crossed one after another at most this many times.
    pub max_stages: u32,
    /// History scanned per withdrawal recipient when counting direct interactions (H3).
    pub max_history: usize,
}

impl Default for TornadoParams {
    fn default() -> Self {
        TornadoParams {
            mode: ThroughTornado::Stop,
            link: LinkParams::default(),
            claims: Vec::new(),
            max_stages: 4,
            max_history: 10_000,
        }
    }
}

/// A deposit that carried taint into a pool.
#[derive(Clone, Debug)]
pub struct TaintedDeposit {
    pub seq: u64,
    pub tx: TxNum,
    pub pool: usize,
    pub depositor: AddrId,
    pub by_label: Parts<U256>,
    /// The stage whose trace made it (0: the first trace).
    pub stage: u32,
}

/// A withdrawal that carries taint out, and why.
#[derive(Clone, Debug)]
pub struct TaintedWithdrawal {
    pub seq: u64,
    pub tx: TxNum,
    pub pool: usize,
    pub recipient: AddrId,
    pub relayer: Option<AddrId>,
    pub by_label: Parts<U256>,
    /// Of it, what links carried (the rest is the pool-wide share).
    pub via_links: U256,
    /// Confidence of the most confident link that carried taint.
    pub confidence: Option<u8>,
    /// Links of this withdrawal to the tainted deposits.
    pub links: Vec<Link>,
    /// `|AS(W)|`: deposits that could have funded it.
    pub anonymity_set: u64,
    /// The stage that traces on from it.
    pub stage: u32,
}

/// What crossing the pools found, and the traces beyond them.
#[derive(Clone, Debug, Default)]
pub struct TornadoCrossing {
    pub params: Option<TornadoParams>,
    pub deposits: Vec<TaintedDeposit>,
    pub withdrawals: Vec<TaintedWithdrawal>,
    /// Every heuristic link among the pools' events (evidence, tainted or not).
    pub links: Vec<Link>,
    /// One trace per stage past the first.
    pub onward: Vec<AccountTrace>,
}

/// Traces `sources`, then on through the pools of `events` as `params` says.
pub fn trace_through_tornado<L: AccountLedger>(
    ledger: &L,
    attrs: &Attributions,
    sources: &[AccountSource],
    trace: &AccountForwardParams,
    events: &PoolEvents,
    params: &TornadoParams,
) -> Result<(AccountTrace, TornadoCrossing), TraceError> {
    let first = trace_forward(ledger, attrs, sources, trace)?;
    let mut crossing = TornadoCrossing {
        params: Some(params.clone()),
        ..TornadoCrossing::default()
    };
    if params.mode == ThroughTornado::Stop || events.pools.is_empty() {
        return Ok((first, crossing));
    }
    let interactions = interactions(ledger, events, params.max_history)?;
    crossing.links = tc::link(
        &events.pools,
        &events.deposits,
        &events.withdrawals,
        &interactions,
        &params.claims,
        &params.link,
    );
    let sets = AnonymitySets::new(&events.deposits, &events.withdrawals, &crossing.links);
    let mut seen: BTreeSet<u64> = BTreeSet::new();
    for stage in 0..params.max_stages {
        let last = crossing.onward.last().unwrap_or(&first);
        let deposits: Vec<TaintedDeposit> = tainted_deposits(last, events, stage)
            .into_iter()
            .filter(|d| seen.insert(d.seq))
            .collect();
        if deposits.is_empty() {
            break;
        }
        let withdrawals = shares(
            events,
            &crossing.links,
            &sets,
            &deposits,
            params.mode,
            stage,
        );
        let sources = received_sources(ledger, events, &withdrawals, last)?;
        crossing.deposits.extend(deposits);
        crossing.withdrawals.extend(withdrawals);
        if sources.is_empty() {
            break;
        }
        crossing
            .onward
            .push(trace_forward(ledger, attrs, &sources, trace)?);
    }
    Ok((first, crossing))
}

/// Deposits the trace's tainted transfers made into a pool: a transfer into the pool in a
/// transaction that logged a deposit there. Several deposits in one transaction share it.
fn tainted_deposits(t: &AccountTrace, events: &PoolEvents, stage: u32) -> Vec<TaintedDeposit> {
    let mut into: BTreeMap<(TxNum, usize), Parts<U256>> = BTreeMap::new();
    for f in &t.flows {
        let (Some(tx), Some(pool)) = (f.tx, events.pool_at(f.to, f.asset)) else {
            continue;
        };
        let parts = into.entry((tx, pool)).or_default();
        for l in &f.by_label {
            add_part(parts, l.label, l.amount);
        }
    }
    // One pass over the pools' deposits finds those of the transactions that paid in.
    let mut logged: BTreeMap<(TxNum, usize), Vec<&Deposit>> = BTreeMap::new();
    for d in &events.deposits {
        let Some(tx) = events.txs.get(&d.seq) else {
            continue;
        };
        let key = (*tx, d.pool.0 as usize);
        if into.contains_key(&key) {
            logged.entry(key).or_default().push(d);
        }
    }
    let mut out = Vec::new();
    for ((tx, pool), parts) in into {
        let ds = logged.remove(&(tx, pool)).unwrap_or_default();
        let weights = vec![U256::from(1u8); ds.len()];
        let mut each: Vec<Parts<U256>> = vec![Parts::new(); ds.len()];
        for (label, amount) in &parts {
            for (k, share) in split(*amount, &weights, None).into_iter().enumerate() {
                add_part(&mut each[k], *label, share);
            }
        }
        for (d, by_label) in ds.into_iter().zip(each) {
            out.push(TaintedDeposit {
                seq: d.seq,
                tx,
                pool,
                depositor: d.from,
                by_label,
                stage,
            });
        }
    }
    out
}

/// Each withdrawal's share of the tainted deposits, label by label.
fn shares(
    events: &PoolEvents,
    links: &[Link],
    sets: &AnonymitySets,
    deposits: &[TaintedDeposit],
    mode: ThroughTornado,
    stage: u32,
) -> Vec<TaintedWithdrawal> {
    let taint_mode = match mode {
        ThroughTornado::LinkedOnly => TaintMode::LinkedOnly,
        _ => TaintMode::Pool,
    };
    let labels: BTreeSet<TaintLabel> = deposits
        .iter()
        .flat_map(|d| d.by_label.iter().map(|(l, _)| *l))
        .collect();
    let withdrawals: FxHashMap<u64, &Withdrawal> =
        events.withdrawals.iter().map(|w| (w.seq, w)).collect();
    let tainted: BTreeSet<u64> = deposits.iter().map(|d| d.seq).collect();
    let mut evidence: FxHashMap<u64, Vec<Link>> = FxHashMap::default();
    for l in links.iter().filter(|l| tainted.contains(&l.deposit)) {
        evidence.entry(l.withdrawal).or_default().push(*l);
    }
    let mut by_seq: BTreeMap<u64, TaintedWithdrawal> = BTreeMap::new();
    for label in labels {
        let amounts: Vec<(u64, u128)> = deposits
            .iter()
            .filter_map(|d| {
                let a = d.by_label.iter().find(|(l, _)| *l == label)?.1;
                Some((d.seq, u128::try_from(a).unwrap_or(u128::MAX)))
            })
            .collect();
        let taints = tc::withdrawal_taint(
            &events.deposits,
            &events.withdrawals,
            links,
            &amounts,
            taint_mode,
        );
        for wt in taints.into_iter().filter(|w| w.tainted > 0) {
            let Some(w) = withdrawals.get(&wt.withdrawal) else {
                continue;
            };
            let entry = by_seq.entry(w.seq).or_insert_with(|| TaintedWithdrawal {
                seq: w.seq,
                tx: events.txs.get(&w.seq).copied().unwrap_or_default(),
                pool: w.pool.0 as usize,
                recipient: w.recipient,
                relayer: w.relayer,
                by_label: Parts::new(),
                via_links: U256::ZERO,
                confidence: None,
                links: evidence.get(&w.seq).cloned().unwrap_or_default(),
                anonymity_set: sets.size(w.seq).unwrap_or(0),
                stage: stage + 1,
            });
            add_part(&mut entry.by_label, label, U256::from(wt.tainted));
            entry.via_links = entry.via_links.saturating_add(U256::from(wt.via_links));
            entry.confidence = entry.confidence.max(wt.confidence);
        }
    }
    by_seq.into_values().collect()
}

/// The next stage's sources: each tainted withdrawal's taint spread over what its pool pays
/// out in that transaction (to the recipient and, relayed, the relayer's fee).
fn received_sources<L: AccountLedger>(
    ledger: &L,
    events: &PoolEvents,
    withdrawals: &[TaintedWithdrawal],
    previous: &AccountTrace,
) -> Result<Vec<AccountSource>, TraceError> {
    let hop = previous.holdings.iter().map(|h| h.hops).max().unwrap_or(0);
    let mut out = Vec::new();
    for w in withdrawals {
        let pool = &events.pools[w.pool];
        let payouts: Vec<(EventNum, U256)> = ledger
            .tx_events(w.tx)?
            .into_iter()
            .filter(|e| e.transfer.from == pool.addr && e.transfer.asset == pool.asset)
            .filter(|e| e.transfer.kind != TransferKind::GasBurn)
            .map(|e| (e.num, e.transfer.amount))
            .collect();
        let weights: Vec<U256> = payouts.iter().map(|(_, a)| *a).collect();
        if weights.iter().all(|w| w.is_zero()) {
            continue;
        }
        for (label, tainted) in &w.by_label {
            for ((event, _), share) in payouts.iter().zip(split(*tainted, &weights, None)) {
                if !share.is_zero() {
                    out.push(AccountSource::Received {
                        event: *event,
                        label: *label,
                        tainted: share,
                        hop: hop.saturating_add(1),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// H3's evidence: direct transactions (their value transfer, in either direction) between
/// each withdrawal recipient and each depositor, from the recipients' ether histories.
fn interactions<L: AccountLedger>(
    ledger: &L,
    events: &PoolEvents,
    max_history: usize,
) -> Result<Interactions, TraceError> {
    let depositors: BTreeSet<AddrId> = events.deposits.iter().map(|d| d.from).collect();
    let pools: BTreeSet<AddrId> = events.pools.iter().map(|p| p.addr).collect();
    let recipients: BTreeSet<AddrId> = events.withdrawals.iter().map(|w| w.recipient).collect();
    let mut counts: BTreeMap<(AddrId, AddrId), u32> = BTreeMap::new();
    for r in recipients {
        for num in ledger.history(r, AssetId::ETH, EventNum(0), max_history)? {
            let t = ledger.event(num)?.transfer;
            if t.kind != TransferKind::TxValue || pools.contains(&t.from) || pools.contains(&t.to) {
                continue;
            }
            let other = if t.from == r { t.to } else { t.from };
            if other != r && depositors.contains(&other) {
                *counts.entry((r, other)).or_default() += 1;
            }
        }
    }
    Ok(counts.into_iter().collect())
}
