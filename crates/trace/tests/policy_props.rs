//! Engine invariants of spec §1.8 as property tests over random transactions.

use chaintrace_trace::policy::{FeeMode, Policy, Rules};
use chaintrace_trace::{Seg, Taint, TaintLabel};
use proptest::prelude::*;

/// A random transaction: inputs as segment lists (labels 0 = clean, 1..=3), output values,
/// and a fee that leaves the outputs covered.
fn tx() -> impl Strategy<Value = (Vec<Vec<(u16, u64)>>, Vec<u64>)> {
    let input = proptest::collection::vec((0u16..4, 1u64..1_000_000), 1..4);
    (
        proptest::collection::vec(input, 1..6),
        proptest::collection::vec(0u64..1_000, 1..6),
    )
        .prop_map(|(inputs, shares)| {
            let total: u64 = inputs.iter().flatten().map(|(_, a)| a).sum();
            let share_sum: u64 = shares.iter().sum::<u64>().max(1);
            // Outputs take 0–100% of the inputs; the rest is the fee.
            let spend = total - total / 7;
            let outputs = shares.iter().map(|s| spend * s / share_sum).collect();
            (inputs, outputs)
        })
}

fn states(policy: Policy, inputs: &[Vec<(u16, u64)>]) -> Vec<(u64, Option<Taint<u64>>)> {
    inputs
        .iter()
        .map(|segs| {
            let segs: Vec<Seg<u64>> = segs
                .iter()
                .map(|(l, a)| Seg {
                    label: (*l > 0).then_some(TaintLabel(*l)),
                    amount: *a,
                })
                .collect();
            let value = segs.iter().map(|s| s.amount).sum();
            let state = match policy {
                Policy::Poison => {
                    Taint::poison(segs.iter().filter_map(|s| s.label).collect::<Vec<_>>())
                }
                Policy::Haircut => Taint::haircut(
                    segs.iter()
                        .filter_map(|s| s.label.map(|l| (l, s.amount)))
                        .collect::<Vec<_>>(),
                ),
                Policy::Ordered { .. } => Taint::ordered(segs),
            };
            (value, state)
        })
        .collect()
}

fn per_label(states: &[(u64, Option<Taint<u64>>)]) -> Vec<(TaintLabel, u64)> {
    let mut sums: Vec<(TaintLabel, u64)> = Vec::new();
    for (v, t) in states {
        for (l, a) in t.iter().flat_map(|t| t.by_label(*v)) {
            match sums.iter_mut().find(|(k, _)| *k == l) {
                Some((_, s)) => *s += a,
                None => sums.push((l, a)),
            }
        }
    }
    sums.sort();
    sums
}

const LOSSLESS: [Policy; 5] = [
    Policy::Haircut,
    Policy::FIFO,
    Policy::LIFO,
    Policy::TIHO,
    Policy::CISO,
];

proptest! {
    #[test]
    fn lossless_policies_conserve_taint_per_label((inputs, outputs) in tx(), prop_fee in any::<bool>()) {
        for policy in LOSSLESS {
            let mut rules = Rules::new(policy);
            if prop_fee { rules.fee_mode = FeeMode::Proportional; }
            let ins = states(policy, &inputs);
            let refs: Vec<_> = ins.iter().map(|(v, t)| (*v, t.as_ref())).collect();
            let out = rules.apply(&refs, &outputs);
            let fee = ins.iter().map(|(v, _)| v).sum::<u64>() - outputs.iter().sum::<u64>();
            let mut after: Vec<(u64, Option<Taint<u64>>)> = outputs.iter().copied().zip(out.outputs.iter().cloned()).collect();
            after.push((fee, out.fee.clone()));
            prop_assert_eq!(per_label(&after), per_label(&ins), "{:?}", policy);
            for (value, state) in &after {
                if let Some(t) = state {
                    prop_assert!(t.tainted(*value) <= *value);
                    if let Taint::Ordered(segs) = t {
                        prop_assert_eq!(segs.iter().map(|s| s.amount).sum::<u64>(), *value);
                        prop_assert!(segs.iter().all(|s| s.amount > 0));
                        prop_assert!(segs.windows(2).all(|w| w[0].label != w[1].label), "coalesced");
                    }
                }
            }
        }
    }

    #[test]
    fn poison_covers_every_policys_support((inputs, outputs) in tx()) {
        let ins = states(Policy::Poison, &inputs);
        let refs: Vec<_> = ins.iter().map(|(v, t)| (*v, t.as_ref())).collect();
        let poison = Rules::new(Policy::Poison).apply(&refs, &outputs);
        for policy in LOSSLESS {
            let ins = states(policy, &inputs);
            let refs: Vec<_> = ins.iter().map(|(v, t)| (*v, t.as_ref())).collect();
            let out = Rules::new(policy).apply(&refs, &outputs);
            for (k, o) in out.outputs.iter().enumerate() {
                if o.as_ref().is_some_and(|t| t.tainted(outputs[k]) > 0) {
                    let marked = poison.outputs[k].as_ref().map(Taint::labels).unwrap_or_default();
                    for l in o.as_ref().unwrap().labels() {
                        prop_assert!(marked.contains(&l), "{:?} output {} label {:?}", policy, k, l);
                    }
                }
            }
        }
    }

    #[test]
    fn single_input_haircut_keeps_the_fraction(value in 1u64..1_000_000_000, tainted_permille in 0u64..=1000, outputs in proptest::collection::vec(1u64..1_000_000, 1..5)) {
        let total: u64 = outputs.iter().sum();
        prop_assume!(total <= value);
        let tainted = value * tainted_permille / 1000;
        let state = Taint::haircut(vec![(TaintLabel(1), tainted)]);
        let out = Rules::new(Policy::Haircut).apply(&[(value, state.as_ref())], &outputs);
        for (k, o) in out.outputs.iter().enumerate() {
            let got = o.as_ref().map_or(0, |t| t.tainted(outputs[k])) as u128;
            let exact = u128::from(tainted) * u128::from(outputs[k]);
            // Within one unit of the exact proportional share.
            prop_assert!(got * u128::from(value) + u128::from(value) > exact && got * u128::from(value) <= exact + u128::from(value));
        }
    }
}
