//! The same trace at 1 and 4 threads gives identical results, on random transaction graphs.

use chaintrace_trace::attribution::Attributions;
use chaintrace_trace::backward::{screen, BackwardPolicy, ScreenParams};
use chaintrace_trace::forward::{is_conserved, trace_forward, ForwardParams, ForwardTrace, Source};
use chaintrace_trace::ledger::OutRef;
use chaintrace_trace::memory::{out, MemLedger};
use chaintrace_trace::policy::{Policy, Rules};
use chaintrace_trace::TaintLabel;
use proptest::prelude::*;

/// A random ledger: a few blocks of transactions spending random unspent outputs.
fn ledger(seed: u64, txs: usize) -> MemLedger {
    let mut rng = seed | 1;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n.max(1)
    };
    let mut l = MemLedger::new(5_000);
    let mut utxos: Vec<(OutRef, u64)> = Vec::new();
    for i in 0..txs {
        if i % 20 == 0 {
            let cb = l.coinbase(&[(5_000, next(40)), (3_000, next(40))]);
            utxos.extend([(out(cb, 0), 5_000), (out(cb, 1), 3_000)]);
        }
        let n_in = 1 + next(3) as usize;
        let mut inputs = Vec::new();
        let mut total = 0;
        for _ in 0..n_in.min(utxos.len()) {
            let (o, v) = utxos.swap_remove(next(utxos.len() as u64) as usize);
            inputs.push(o);
            total += v;
        }
        if inputs.is_empty() || total < 10 {
            continue;
        }
        let fee = next(total / 10 + 1);
        let n_out = 1 + next(4);
        let mut outputs = Vec::new();
        let mut left = total - fee;
        for k in 0..n_out {
            let v = if k + 1 == n_out { left } else { next(left + 1) };
            left -= v;
            outputs.push((v, next(40)));
        }
        let tx = l.tx(&inputs, &outputs);
        utxos.extend(
            outputs
                .iter()
                .enumerate()
                .map(|(k, (v, _))| (out(tx, k as u32), *v)),
        );
    }
    l
}

fn fingerprint(t: &ForwardTrace) -> String {
    let holdings: Vec<String> = t
        .holdings
        .iter()
        .map(|h| format!("{:?}{:?}{}{:?}", h.out, h.taint, h.hops, h.status))
        .collect();
    let flows: Vec<String> = t
        .flows
        .iter()
        .map(|f| {
            format!(
                "{:?}{}{:?}",
                f.tx,
                f.hop,
                t.outputs(f).iter().map(|o| o.tainted).collect::<Vec<_>>()
            )
        })
        .collect();
    format!("{holdings:?}{flows:?}{:?}{:?}", t.fees, t.burned)
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn forward_and_backward_do_not_depend_on_threads(seed in any::<u64>(), policy_idx in 0usize..5) {
        let l = ledger(seed, 300);
        let policy = [Policy::Haircut, Policy::FIFO, Policy::LIFO, Policy::TIHO, Policy::Poison][policy_idx];
        let sources = [Source { out: out(chaintrace_model::TxNum(0), 0), label: TaintLabel(0) }, Source { out: out(chaintrace_model::TxNum(0), 1), label: TaintLabel(1) }];
        let params = ForwardParams::new(Rules::new(policy));
        let attrs = Attributions::default();
        let one = in_pool(1, || trace_forward(&l, &attrs, &sources, &params).unwrap());
        let four = in_pool(4, || trace_forward(&l, &attrs, &sources, &params).unwrap());
        prop_assert_eq!(fingerprint(&one), fingerprint(&four));
        if policy.is_lossless() {
            prop_assert!(is_conserved(&one));
        }
        let target = one.holdings.last().map(|h| h.out).unwrap_or(out(chaintrace_model::TxNum(0), 0));
        for bp in [BackwardPolicy::Haircut, BackwardPolicy::Fifo] {
            let p = ScreenParams { policy: bp, max_hops: 8, ..ScreenParams::default() };
            let a = in_pool(1, || screen(&l, &attrs, &[target], &p).unwrap());
            let b = in_pool(4, || screen(&l, &attrs, &[target], &p).unwrap());
            prop_assert_eq!(format!("{:?}", a.origins), format!("{:?}", b.origins));
            let assigned: u64 = a.origins.iter().map(|o| o.amount).sum();
            prop_assert_eq!(assigned, a.total, "backward walks assign every unit");
        }
    }
}
