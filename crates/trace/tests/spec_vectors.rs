//! The spec's machine-readable UTXO vectors (`spec_vectors.jsonl`, copied verbatim from
//! tracing-spec §8.2) and its other ★ examples, as exact unit tests.

use chaintrace_trace::policy::{FeeMode, Outcome, Policy, Rules};
use chaintrace_trace::{Seg, Taint, TaintLabel};
use serde_json::Value;

/// Label names in vectors ("S", "S1", "S2") to label ids, "C" = clean.
fn label(name: &str) -> Option<TaintLabel> {
    match name {
        "C" => None,
        "S" | "S1" => Some(TaintLabel(1)),
        "S2" => Some(TaintLabel(2)),
        other => panic!("unknown label {other}"),
    }
}

fn name(l: TaintLabel) -> &'static str {
    if l.0 == 1 {
        "S1"
    } else {
        "S2"
    }
}

fn segs(v: &Value) -> Vec<Seg<u64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| Seg {
            label: label(s[0].as_str().unwrap()),
            amount: s[1].as_u64().unwrap(),
        })
        .collect()
}

/// The input's state under `policy`, built from its segment list.
fn input_state(policy: Policy, v: &Value) -> (u64, Option<Taint<u64>>) {
    let s = segs(v);
    let value = s.iter().map(|x| x.amount).sum();
    let state = match policy {
        Policy::Poison => Taint::poison(s.iter().filter_map(|x| x.label).collect::<Vec<_>>()),
        Policy::Haircut => Taint::haircut(
            s.iter()
                .filter_map(|x| x.label.map(|l| (l, x.amount)))
                .collect::<Vec<_>>(),
        ),
        Policy::Ordered { .. } => Taint::ordered(s),
    };
    (value, state)
}

fn rules_for(key: &str) -> Rules {
    let (name, mode) = key.split_once('_').unwrap_or((key, ""));
    let policy = Policy::parse(name).unwrap();
    let mut r = Rules::new(policy);
    r.fee_mode = match mode {
        "tail" => FeeMode::Tail,
        "prop" => FeeMode::Proportional,
        _ => r.fee_mode,
    };
    r
}

/// An outcome slot rendered the way the vectors write it.
fn render(state: &Option<Taint<u64>>, value: u64, policy: Policy, vector_uses_s: bool) -> Value {
    let n = |l: TaintLabel| {
        if vector_uses_s && l.0 == 1 {
            "S"
        } else {
            name(l)
        }
    };
    match policy {
        Policy::Poison => Value::Array(
            state
                .iter()
                .flat_map(|t| t.labels())
                .map(|l| Value::from(n(l)))
                .collect(),
        ),
        Policy::Haircut => Value::Object(
            state
                .iter()
                .flat_map(|t| t.by_label(value))
                .map(|(l, a)| (n(l).to_string(), Value::from(a)))
                .collect(),
        ),
        Policy::Ordered { .. } => {
            let segs = Taint::segments_of(state.as_ref(), value);
            let segs = if state.is_none() && value == 0 {
                vec![]
            } else {
                segs.to_vec()
            };
            Value::Array(
                segs.iter()
                    .map(|s| serde_json::json!([s.label.map_or("C", n), s.amount]))
                    .collect(),
            )
        }
    }
}

fn check(
    outcome: &Outcome<u64>,
    outputs: &[u64],
    fee: u64,
    policy: Policy,
    expect: &Value,
    uses_s: bool,
    what: &str,
) {
    for (k, want) in expect["outs"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            &render(&outcome.outputs[k], outputs[k], policy, uses_s),
            want,
            "{what} output {k}"
        );
    }
    assert_eq!(
        &render(&outcome.fee, fee, policy, uses_s),
        &expect["fee"],
        "{what} fee"
    );
}

#[test]
fn machine_readable_utxo_vectors() {
    let mut checked = 0;
    for line in include_str!("spec_vectors.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap();
        let outputs: Vec<u64> = v["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_u64().unwrap())
            .collect();
        let uses_s = line.contains("[\"S\",");
        for (key, expect) in v["expect"].as_object().unwrap() {
            let rules = rules_for(key);
            let inputs: Vec<(u64, Option<Taint<u64>>)> = v["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| input_state(rules.policy, i))
                .collect();
            let refs: Vec<(u64, Option<&Taint<u64>>)> =
                inputs.iter().map(|(v, t)| (*v, t.as_ref())).collect();
            let outcome = rules.apply(&refs, &outputs);
            check(
                &outcome,
                &outputs,
                v["fee"].as_u64().unwrap(),
                rules.policy,
                expect,
                uses_s,
                &format!("{id} {key}"),
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 38, "every vector of the spec was checked");
}

fn ordered_in(segs_in: &[&[(Option<u16>, u64)]]) -> Vec<(u64, Option<Taint<u64>>)> {
    segs_in
        .iter()
        .map(|s| {
            let segs: Vec<Seg<u64>> = s
                .iter()
                .map(|(l, a)| Seg {
                    label: l.map(TaintLabel),
                    amount: *a,
                })
                .collect();
            (segs.iter().map(|x| x.amount).sum(), Taint::ordered(segs))
        })
        .collect()
}

fn seg_list(t: &Option<Taint<u64>>, value: u64) -> Vec<(Option<u16>, u64)> {
    Taint::segments_of(t.as_ref(), value)
        .iter()
        .map(|s| (s.label.map(|l| l.0), s.amount))
        .collect()
}

/// U-0: the Redux blog example, every policy.
#[test]
fn u0_redux_example() {
    let s = Some(1);
    let inputs = ordered_in(&[&[(s, 3)], &[(None, 7)]]);
    let refs: Vec<_> = inputs.iter().map(|(v, t)| (*v, t.as_ref())).collect();
    let fifo = Rules::new(Policy::FIFO).apply(&refs, &[10]);
    assert_eq!(seg_list(&fifo.outputs[0], 10), vec![(s, 3), (None, 7)]);
    let lifo = Rules::new(Policy::LIFO).apply(&refs, &[10]);
    assert_eq!(seg_list(&lifo.outputs[0], 10), vec![(None, 7), (s, 3)]);
}

/// CISO/tail of U-C (listed in the spec's table, not in the JSON lines).
#[test]
fn uc_ciso_tail() {
    let (s1, s2) = (Some(1), Some(2));
    let inputs = ordered_in(&[&[(s1, 20), (None, 30)], &[(s2, 30)], &[(None, 20)]]);
    let refs: Vec<_> = inputs.iter().map(|(v, t)| (*v, t.as_ref())).collect();
    let out = Rules::new(Policy::CISO).apply(&refs, &[10, 50, 30]);
    assert_eq!(seg_list(&out.outputs[0], 10), vec![(None, 10)]);
    assert_eq!(
        seg_list(&out.outputs[1], 50),
        vec![(None, 10), (s1, 20), (s2, 20)]
    );
    assert_eq!(seg_list(&out.outputs[2], 30), vec![(None, 30)]);
    assert_eq!(seg_list(&out.fee, 10), vec![(s2, 10)]);
}

/// U-E: a coinbase under taint_fee; fees in block order then the subsidy, burn from the tail.
#[test]
fn ue_coinbase_redux_order_and_burn() {
    let s = Some(1);
    let fees = ordered_in(&[&[(s, 10)], &[(None, 20)]]);
    let refs: Vec<_> = fees.iter().map(|(v, t)| (*v, t.as_ref())).collect();
    let rules = Rules {
        taint_fee: true,
        ..Rules::new(Policy::FIFO)
    };
    let out = rules.apply_coinbase(&refs, 100, &[50, 80]);
    assert_eq!(seg_list(&out.outputs[0], 50), vec![(s, 10), (None, 40)]);
    assert_eq!(seg_list(&out.outputs[1], 80), vec![(None, 80)]);
    assert!(out.fee.is_none());
    let short = rules.apply_coinbase(&refs, 100, &[50, 70]);
    assert_eq!(seg_list(&short.outputs[0], 50), vec![(s, 10), (None, 40)]);
    assert_eq!(seg_list(&short.outputs[1], 70), vec![(None, 70)]);
    assert_eq!(
        seg_list(&short.fee, 10),
        vec![(None, 10)],
        "burned: 10 clean from the subsidy tail"
    );
    // Haircut with largest remainders: exact shares 3.846 / 6.154 of the 10 tainted units.
    let hc = Rules {
        taint_fee: true,
        ..Rules::new(Policy::Haircut)
    };
    let fees_hc = [
        (10u64, Taint::haircut(vec![(TaintLabel(1), 10)])),
        (20, None),
    ];
    let refs: Vec<_> = fees_hc.iter().map(|(v, t)| (*v, t.as_ref())).collect();
    let out = hc.apply_coinbase(&refs, 100, &[50, 80]);
    let tainted: Vec<u64> = out
        .outputs
        .iter()
        .map(|t| t.as_ref().map_or(0, |t| t.tainted(0)))
        .collect();
    assert_eq!(tainted, vec![4, 6]);
}

/// U-G: a peel chain under FIFO/tail and haircut, three hops.
#[test]
fn ug_peel_chain_three_hops() {
    let s = Some(1);
    let fifo = Rules::new(Policy::FIFO);
    let hc = Rules::new(Policy::Haircut);
    let mut f_state = Taint::ordered(vec![
        Seg::tainted(TaintLabel(1), 50_000_000),
        Seg::clean(950_000_000),
    ]);
    let mut h_state = Taint::haircut(vec![(TaintLabel(1), 50_000_000)]);
    let mut value = 1_000_000_000u64;
    let hops = [
        (
            30_000_000u64,
            969_990_000u64,
            vec![(s, 30_000_000)],
            (1_500_000, 48_499_500, 500),
        ),
        (
            25_000_000,
            944_980_000,
            vec![(s, 20_000_000), (None, 5_000_000)],
            (1_250_000, 47_249_000, 500),
        ),
        (
            40_000_000,
            904_970_000,
            vec![(None, 40_000_000)],
            (2_000_000, 45_248_500, 500),
        ),
    ];
    for (peel, change, want_peel, (hp, hchange, hfee)) in hops {
        let f = fifo.apply(&[(value, f_state.as_ref())], &[peel, change]);
        assert_eq!(seg_list(&f.outputs[0], peel), want_peel);
        let h = hc.apply(&[(value, h_state.as_ref())], &[peel, change]);
        let t = |x: &Option<Taint<u64>>| x.as_ref().map_or(0, |t| t.tainted(0));
        assert_eq!(
            (t(&h.outputs[0]), t(&h.outputs[1]), t(&h.fee)),
            (hp, hchange, hfee)
        );
        f_state = f.outputs[1].clone();
        h_state = h.outputs[1].clone();
        value = change;
    }
    assert!(f_state.is_none(), "after P3 the FIFO change is clean");
}
