//! Forward traces over small in-memory ledgers: statuses, hops, stops, strategies, fees,
//! conservation and determinism.

use std::sync::Arc;

use chaintrace_model::{AddrId, Category, TxNum};
use chaintrace_trace::attribution::{Attr, Attributions, StopSet};
use chaintrace_trace::forward::{
    is_conserved, trace_forward, ForwardParams, ForwardTrace, Source, Status, Strategy,
};
use chaintrace_trace::ledger::{self, TraceError, TxView};
use chaintrace_trace::memory::{out, MemLedger};
use chaintrace_trace::policy::{FeeMode, Policy, Rules};
use chaintrace_trace::{Seg, Taint, TaintLabel};
use rustc_hash::FxHashMap;

const S: TaintLabel = TaintLabel(1);

fn params(policy: Policy) -> ForwardParams {
    ForwardParams::new(Rules::new(policy))
}

fn exchange_at(addr: u64) -> Attributions {
    let attr = Attr {
        label_id: 1,
        name: Arc::from("Exchange"),
        category: Category::Exchange,
        confidence: 80,
        source: Arc::from("test"),
        cluster_definer: false,
        via_cluster: None,
    };
    let mut by_addr = FxHashMap::default();
    by_addr.insert(AddrId(addr), Arc::from(vec![attr]));
    Attributions::new(by_addr, FxHashMap::default())
}

/// U-H (spec §1.7): T1 splits stolen coins; T2 mixes one half with clean coins; T3 splits the
/// other half further.
fn uh_ledger() -> (MemLedger, [chaintrace_model::TxNum; 4]) {
    let mut l = MemLedger::new(0);
    let t0 = l.coinbase(&[(100, 1), (40, 2)]);
    let t1 = l.tx(&[out(t0, 0)], &[(60, 3), (39, 4)]);
    let t2 = l.tx(&[out(t1, 0), out(t0, 1)], &[(70, 5), (29, 6)]);
    let t3 = l.tx(&[out(t1, 1)], &[(20, 7), (18, 8)]);
    (l, [t0, t1, t2, t3])
}

#[test]
fn uh_dirty_first_strategies() {
    let (l, [t0, t1, t2, t3]) = uh_ledger();
    let src = [Source {
        out: out(t0, 0),
        label: S,
    }];
    let mut p = params(Policy::FIFO);
    p.rules.fee_mode = FeeMode::Proportional;
    let mut txs = |strategy| {
        p.strategy = strategy;
        let t = trace_forward(&l, &Attributions::default(), &src, &p).unwrap();
        assert_flows_match_ledger(&l, &t);
        t.flows
            .iter()
            .map(|f| (f.tx, f.terminal))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        txs(Strategy::DirtyFirst),
        vec![(t1, false), (t2, true), (t3, false)]
    );
    assert_eq!(
        txs(Strategy::PureDirtyFirst),
        vec![(t1, false), (t3, false)]
    );
    assert_eq!(
        txs(Strategy::All),
        vec![(t1, false), (t2, false), (t3, false)]
    );
}

/// Every flow records exactly its transaction's inputs and outputs (flows share arrays, and a
/// transaction left out of the trace must leave nothing behind in them).
fn assert_flows_match_ledger(l: &MemLedger, t: &ForwardTrace) {
    for f in &t.flows {
        let view = ledger::UtxoLedger::tx(l, f.tx).unwrap();
        let ins: Vec<_> = t.inputs(f).iter().map(|i| (i.prev, i.value)).collect();
        let want: Vec<_> = view.inputs.iter().map(|i| (i.prev, i.value)).collect();
        assert_eq!(ins, want, "inputs of {:?}", f.tx);
        let outs: Vec<_> = t.outputs(f).iter().map(|o| (o.value, o.addr)).collect();
        let want: Vec<_> = view.outputs.iter().map(|o| (o.value, o.addr)).collect();
        assert_eq!(outs, want, "outputs of {:?}", f.tx);
    }
}

/// A damaged index whose spend records point back to the genesis transaction.
struct SpentBackwards(MemLedger);

// Not imported: MemLedger's own `tx` (which builds transactions) would be shadowed.
impl ledger::UtxoLedger for SpentBackwards {
    fn tx(&self, tx: TxNum) -> Result<TxView, TraceError> {
        let mut v = ledger::UtxoLedger::tx(&self.0, tx)?;
        for o in v.outputs.iter_mut().filter(|o| o.spent_by.is_some()) {
            o.spent_by = Some(TxNum(0));
        }
        Ok(v)
    }
    fn reads_are_slow(&self) -> bool {
        false
    }
    fn block_txs(&self, height: u32) -> Result<(TxNum, u32), TraceError> {
        ledger::UtxoLedger::block_txs(&self.0, height)
    }
    fn subsidy(&self, height: u32) -> u64 {
        ledger::UtxoLedger::subsidy(&self.0, height)
    }
}

#[test]
fn a_spender_earlier_in_the_chain_is_an_error_not_a_loop() {
    let (l, [t0, ..]) = uh_ledger();
    let src = [Source {
        out: out(t0, 0),
        label: S,
    }];
    let err = trace_forward(
        &SpentBackwards(l),
        &Attributions::default(),
        &src,
        &params(Policy::Haircut),
    )
    .unwrap_err();
    assert!(matches!(err, TraceError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("inconsistent"), "{err}");
}

#[test]
fn holdings_say_why_the_trace_stopped_and_totals_reconcile() {
    let mut l = MemLedger::new(0);
    let t0 = l.coinbase(&[(1_000, 1)]);
    // Hop 1: 600 to an exchange, 300 onward, 99 dust, fee 1.
    let t1 = l.tx(&[out(t0, 0)], &[(600, 50), (300, 2), (99, 3)]);
    let _dust_spend = l.tx(&[out(t1, 2)], &[(98, 4)]);
    let t2 = l.tx(&[out(t1, 1)], &[(290, 5)]);
    let t3 = l.tx(&[out(t2, 0)], &[(280, 6)]);
    let src = [Source {
        out: out(t0, 0),
        label: S,
    }];
    for policy in [Policy::Haircut, Policy::FIFO, Policy::LIFO, Policy::TIHO] {
        let mut p = params(policy);
        p.min_amount = 100;
        p.max_hops = 2;
        let t = trace_forward(&l, &exchange_at(50), &src, &p).unwrap();
        let statuses: Vec<(u64, u32, Status)> = t
            .holdings
            .iter()
            .map(|h| (h.out.tx.0, h.out.vout, h.status))
            .collect();
        assert_eq!(
            statuses,
            vec![
                (t1.0, 0, Status::StoppedAtLabel),
                (t1.0, 2, Status::BelowMin),
                (t2.0, 0, Status::MaxHops)
            ],
            "{policy:?}"
        );
        assert!(is_conserved(&t), "{policy:?}");
        assert!(
            t.flows.iter().all(|f| f.tx != t3),
            "max hops stops before t3"
        );
        assert_eq!(t.holdings[2].hops, 2);
    }
}

#[test]
fn poison_is_an_upper_bound_and_not_conserved() {
    let mut l = MemLedger::new(0);
    let t0 = l.coinbase(&[(100, 1), (900, 2)]);
    let t1 = l.tx(&[out(t0, 0), out(t0, 1)], &[(500, 3), (490, 4)]);
    let t = trace_forward(
        &l,
        &Attributions::default(),
        &[Source {
            out: out(t0, 0),
            label: S,
        }],
        &params(Policy::Poison),
    )
    .unwrap();
    let tainted: u64 = t.holdings.iter().map(|h| h.tainted).sum();
    assert_eq!(tainted, 990);
    assert!(!is_conserved(&t));
    assert_eq!(
        t.holdings.iter().map(|h| h.out).collect::<Vec<_>>(),
        vec![out(t1, 0), out(t1, 1)]
    );
}

#[test]
fn tainted_fees_reach_the_coinbase_only_with_taint_fee() {
    let mut l = MemLedger::new(50);
    let t0 = l.coinbase(&[(100, 1)]);
    let cb1 = l.coinbase(&[(60, 9)]); // block 1 claims subsidy 50 + fee 10
    let t1 = l.tx(&[out(t0, 0)], &[(90, 2)]);
    let src = [Source {
        out: out(t0, 0),
        label: S,
    }];
    let mut p = params(Policy::FIFO);
    let t = trace_forward(&l, &Attributions::default(), &src, &p).unwrap();
    assert_eq!(t.fees, vec![(S, 10)]);
    assert!(is_conserved(&t));
    p.rules.taint_fee = true;
    let t = trace_forward(&l, &Attributions::default(), &src, &p).unwrap();
    assert!(t.fees.is_empty());
    let cb = t
        .holdings
        .iter()
        .find(|h| h.out == out(cb1, 0))
        .expect("the coinbase holds the fee taint");
    assert_eq!(
        cb.taint,
        Taint::ordered(vec![Seg::tainted(S, 10), Seg::clean(50)]).unwrap()
    );
    assert!(t
        .holdings
        .iter()
        .any(|h| h.out == out(t1, 0) && h.tainted == 90));
    assert!(is_conserved(&t));
}

#[test]
fn fan_out_cap_reports_the_rest_as_truncated() {
    let mut l = MemLedger::new(0);
    let t0 = l.coinbase(&[(1_000, 1)]);
    let outputs: Vec<(u64, u64)> = (0..10).map(|i| (100 - i, 10 + i)).collect();
    let t1 = l.tx(&[out(t0, 0)], &outputs);
    for v in 0..10 {
        l.tx(&[out(t1, v)], &[(50, 100 + u64::from(v))]);
    }
    let mut p = params(Policy::Haircut);
    p.max_fanout = 3;
    let t = trace_forward(
        &l,
        &Attributions::default(),
        &[Source {
            out: out(t0, 0),
            label: S,
        }],
        &p,
    )
    .unwrap();
    let truncated = t
        .holdings
        .iter()
        .filter(|h| h.status == Status::Truncated)
        .count();
    assert_eq!(truncated, 7);
    assert!(t.truncated);
    assert!(is_conserved(&t));
    assert_eq!(
        t.flows.len(),
        4,
        "t1 and the three largest outputs' spenders"
    );
}

#[test]
fn stop_sets_and_multiple_labels() {
    let mut l = MemLedger::new(0);
    let t0 = l.coinbase(&[(100, 1), (200, 2)]);
    let t1 = l.tx(&[out(t0, 0), out(t0, 1)], &[(150, 50), (140, 3)]);
    let src = [
        Source {
            out: out(t0, 0),
            label: TaintLabel(1),
        },
        Source {
            out: out(t0, 1),
            label: TaintLabel(2),
        },
    ];
    let mut p = params(Policy::FIFO);
    p.stop_at = StopSet::Nothing;
    let t = trace_forward(&l, &exchange_at(50), &src, &p).unwrap();
    let h = &t.holdings[0];
    assert_eq!((h.out, h.status), (out(t1, 0), Status::Unspent));
    assert_eq!(
        h.taint.by_label(150).to_vec(),
        vec![(TaintLabel(1), 100), (TaintLabel(2), 50)]
    );
    assert_eq!(
        h.attrs.len(),
        1,
        "labels are reported even when not stopping"
    );
    assert!(is_conserved(&t));
}
