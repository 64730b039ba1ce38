//! Pass-through contracts (spec §2.3): routers, aggregators, multisend and relayers forward
//! what they receive inside one transaction.
//!
//! Treated as ordinary accounts they would commingle the forwarded value with their own
//! balance: a router holding 990,000 clean units that forwards 10,000 stolen ones would pass
//! on 1 % taint and keep the rest "stuck" (spec E-3). Instead, within the transaction, the
//! contract's inflows of an asset are matched to its outflows of that asset by haircut, as if
//! the contract were one UTXO transaction, and its stored balance is left alone.
//!
//! A (contract, asset) is a *route* of a transaction when every inflow comes before the first
//! outflow (a contract that pays before it is paid, like a flash-loan lender, would otherwise
//! hand out taint that has not arrived yet) and either its net change is zero or it is named
//! as pass-through. A named contract that keeps part of its inflow keeps that part's share of
//! the taint; one that pays out more than it received pays the difference from its balance.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use chaintrace_model::eth::{AssetId, U256};
use chaintrace_model::AddrId;

use super::amount::{lr_split, sum};
use super::ledger::{AccountLedger, EventView};
use super::state::{AccountPolicy, Parcel};
use crate::ledger::TraceError;
use crate::policy::{Policy, Rules};
use crate::taint::{coalesce, Seg, Segs, Taint};

/// Whether an address may be a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eligibility {
    /// Never (not a contract, a labelled stop, a source).
    No,
    /// When its net change for the asset within the transaction is zero.
    IfBalanced,
    /// Whenever its inflows precede its outflows (named as pass-through).
    Always,
}

/// One pass-through (contract, asset) within a transaction; indices are positions in the
/// transaction's events as processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub addr: AddrId,
    pub asset: AssetId,
    pub inflows: Vec<usize>,
    pub outflows: Vec<usize>,
    pub total_in: U256,
    pub total_out: U256,
}

/// The routes among a transaction's events (in processing order). Gas never takes part: only
/// the transaction's sender pays it.
pub fn routes(
    events: &[EventView],
    mut eligible: impl FnMut(AddrId) -> Result<Eligibility, TraceError>,
) -> Result<Vec<Route>, TraceError> {
    let mut flows: BTreeMap<(AddrId, AssetId), (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, ev) in events.iter().enumerate() {
        let t = &ev.transfer;
        if t.kind.is_gas() || t.from == t.to || t.amount.is_zero() {
            continue;
        }
        flows.entry((t.to, t.asset)).or_default().0.push(i);
        flows.entry((t.from, t.asset)).or_default().1.push(i);
    }
    let mut out = Vec::new();
    for ((addr, asset), (inflows, outflows)) in flows {
        let (Some(last_in), Some(first_out)) = (inflows.last(), outflows.first()) else {
            continue;
        };
        if addr.is_none() || last_in > first_out {
            continue;
        }
        let amount = |i: &usize| events[*i].transfer.amount;
        let (Ok(total_in), Ok(total_out)) = (
            sum(inflows.iter().map(amount), "inflows"),
            sum(outflows.iter().map(amount), "outflows"),
        ) else {
            continue;
        };
        let ok = match eligible(addr)? {
            Eligibility::No => false,
            Eligibility::IfBalanced => total_in == total_out,
            Eligibility::Always => true,
        };
        if ok {
            out.push(Route {
                addr,
                asset,
                inflows,
                outflows,
                total_in,
                total_out,
            });
        }
    }
    Ok(out)
}

/// Shares the taint of `inputs` over `outputs` by haircut; the totals must match (callers add
/// what a route kept as an output, or what it paid from its balance as an input). Ordered
/// parcels keep their order: each output gets a proportional slice of every input segment, in
/// stream order. Largest-remainder rounding with per-output room keeps every unit and fills
/// each output exactly.
pub fn allocate(
    inputs: &[Parcel],
    outputs: &[U256],
    policy: AccountPolicy,
) -> Result<Vec<Parcel>, TraceError> {
    let total_in = sum(inputs.iter().map(|p| p.amount), "a route's inflows")?;
    let total_out = sum(outputs.iter().copied(), "a route's outflows")?;
    if total_in != total_out {
        return Err(TraceError::Invalid(format!(
            "a route forwards {total_out} of {total_in} received"
        )));
    }
    let taints: Vec<Option<Taint<U256>>> = match policy {
        AccountPolicy::Fifo | AccountPolicy::Lifo => proportional_segments(inputs, outputs)?,
        AccountPolicy::Poison => shared(inputs, outputs, Policy::Poison),
        _ => shared(inputs, outputs, Policy::Haircut),
    };
    Ok(outputs
        .iter()
        .zip(taints)
        .map(|(amount, taint)| Parcel {
            amount: *amount,
            taint,
        })
        .collect())
}

/// Poison and haircut are exactly the UTXO policies for a transaction without fee.
fn shared(inputs: &[Parcel], outputs: &[U256], policy: Policy) -> Vec<Option<Taint<U256>>> {
    let ins: Vec<(U256, Option<&Taint<U256>>)> = inputs
        .iter()
        .map(|p| (p.amount, p.taint.as_ref()))
        .collect();
    Rules::new(policy).apply(&ins, outputs).outputs
}

fn proportional_segments(
    inputs: &[Parcel],
    outputs: &[U256],
) -> Result<Vec<Option<Taint<U256>>>, TraceError> {
    let stream = coalesce(inputs.iter().flat_map(|p| p.segments()));
    let mut room = outputs.to_vec();
    let mut outs: Vec<Segs<U256>> = vec![Segs::new(); outputs.len()];
    for seg in &stream {
        let parts = lr_split(seg.amount, outputs, Some(&room))?;
        for (k, part) in parts.into_iter().enumerate() {
            room[k] = room[k].saturating_sub(part);
            outs[k].push(Seg {
                label: seg.label,
                amount: part,
            });
        }
    }
    Ok(outs.into_iter().map(Taint::ordered).collect())
}

/// Which contracts may pass value through, and a cache of which addresses are contracts: both
/// walks ask for the same few addresses again and again.
pub struct Contracts<'p> {
    named: &'p BTreeSet<AddrId>,
    detect: bool,
    known: FxHashMap<AddrId, bool>,
}

impl<'p> Contracts<'p> {
    /// `named` forward whatever they receive; with `detect`, any contract whose balance of an
    /// asset does not change within a transaction does too.
    pub fn new(named: &'p BTreeSet<AddrId>, detect: bool) -> Self {
        Contracts {
            named,
            detect,
            known: FxHashMap::default(),
        }
    }

    pub fn eligibility<L: AccountLedger>(
        &mut self,
        ledger: &L,
        addr: AddrId,
    ) -> Result<Eligibility, TraceError> {
        if self.named.contains(&addr) {
            return Ok(Eligibility::Always);
        }
        if !self.detect || addr.is_none() {
            return Ok(Eligibility::No);
        }
        let contract = match self.known.get(&addr) {
            Some(c) => *c,
            None => {
                let c = ledger.is_contract(addr)?;
                self.known.insert(addr, c);
                c
            }
        };
        Ok(if contract {
            Eligibility::IfBalanced
        } else {
            Eligibility::No
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taint::TaintLabel;
    use chaintrace_model::eth::{EventNum, Transfer, TransferKind};

    const S: TaintLabel = TaintLabel(0);

    fn u(v: u64) -> U256 {
        U256::from(v)
    }

    fn ev(i: u64, kind: TransferKind, from: u64, to: u64, amount: u64) -> EventView {
        EventView {
            num: EventNum(i),
            height: 0,
            transfer: Transfer {
                kind,
                tx: None,
                asset: AssetId::ETH,
                from: AddrId(from),
                to: AddrId(to),
                amount: u(amount),
            },
        }
    }

    #[test]
    fn balanced_contracts_that_receive_first_are_routes() {
        use TransferKind::*;
        // T(1) → R(2) 100; R → D(3) 60; R → F(4) 40; a flash lender L(5) pays first.
        let events = [
            ev(0, GasBurn, 1, 0, 5),
            ev(1, TxValue, 1, 2, 100),
            ev(2, Internal, 2, 3, 60),
            ev(3, Internal, 2, 4, 40),
            ev(4, Internal, 5, 3, 10),
            ev(5, Internal, 3, 5, 10),
        ];
        let all = |_| Ok(Eligibility::IfBalanced);
        let r = routes(&events, all).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].addr, r[0].inflows.clone(), r[0].outflows.clone()),
            (AddrId(2), vec![1], vec![2, 3])
        );
        // D(3) receives 60 + 10 before paying 10, so it is not balanced; named, it is a route.
        let named = |a: AddrId| {
            Ok(if a == AddrId(3) {
                Eligibility::Always
            } else {
                Eligibility::No
            })
        };
        let r = routes(&events, named).unwrap();
        assert_eq!((r.len(), r[0].total_in, r[0].total_out), (1, u(70), u(10)));
    }

    #[test]
    fn e3_router_forwards_all_of_its_inflow_taint() {
        for policy in AccountPolicy::NAMED.map(|(_, p)| p) {
            let inflow = Parcel::seeded(policy, S, u(10_000));
            let outs = allocate(&[inflow], &[u(9_900), u(100)], policy).unwrap();
            assert_eq!(outs[0].tainted(), u(9_900), "{policy:?}");
            assert_eq!(outs[1].tainted(), u(100), "{policy:?}");
        }
    }

    #[test]
    fn ordered_allocation_keeps_segment_order_and_fills_outputs() {
        let a = Parcel {
            amount: u(10),
            taint: Taint::ordered([Seg::tainted(S, u(4)), Seg::clean(u(6))]),
        };
        let b = Parcel::clean(u(5));
        let outs = allocate(&[a, b], &[u(3), u(12)], AccountPolicy::Fifo).unwrap();
        assert_eq!(
            outs[0].segments().into_vec(),
            vec![Seg::tainted(S, u(1)), Seg::clean(u(2))]
        );
        assert_eq!(
            outs[1].segments().into_vec(),
            vec![Seg::tainted(S, u(3)), Seg::clean(u(9))]
        );
        assert!(allocate(&[Parcel::clean(u(1))], &[u(2)], AccountPolicy::Fifo).is_err());
    }
}
