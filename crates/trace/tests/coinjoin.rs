//! Crossing CoinJoins: spec vector W-1 (a Whirlpool mix of the 1M pool) under every
//! `--through-coinjoin` mode, directly and through the forward engine, plus the participant
//! mapping of equal-output rounds with change (spec §4.8 option 3a).

use chaintrace_heuristics::{Detection, Protocol};
use chaintrace_trace::attribution::Attributions;
use chaintrace_trace::forward::{trace_forward, ForwardParams, ForwardTrace, Source, Status};
use chaintrace_trace::ledger::OutRef;
use chaintrace_trace::memory::MemLedger;
use chaintrace_trace::mixer::{cross, ThroughCoinjoin};
use chaintrace_trace::{Policy, Rules, Seg, Taint, TaintLabel};

const S: TaintLabel = TaintLabel(0);
const W1_INPUTS: [u64; 5] = [1_000_285, 1_000_285, 1_000_000, 1_000_000, 1_000_000];
const W1_OUTPUTS: [u64; 5] = [1_000_000; 5];

fn whirlpool() -> Detection {
    Detection {
        protocol: Protocol::WhirlpoolMix,
        detector: "dumplings-whirlpool",
        denomination: 1_000_000,
        participants: 5,
        confidence: 60,
    }
}

/// Tainted amount of each output and of the fee.
fn tainted(
    outcome: &chaintrace_trace::policy::Outcome<u64>,
    values: &[u64],
    fee: u64,
) -> (Vec<u64>, u64) {
    let outs = outcome
        .outputs
        .iter()
        .zip(values)
        .map(|(t, v)| t.as_ref().map_or(0, |t| t.tainted(*v)))
        .collect();
    (outs, outcome.fee.as_ref().map_or(0, |t| t.tainted(fee)))
}

/// `(value, taint)` per input: only input `at` carries `source`.
fn one_tainted<'a>(
    values: &[u64],
    at: usize,
    source: &'a Taint<u64>,
) -> Vec<(u64, Option<&'a Taint<u64>>)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (*v, (i == at).then_some(source)))
        .collect()
}

fn w1(policy: Policy, mode: ThroughCoinjoin) -> (Vec<u64>, u64, bool) {
    let source = policy.seed(S, W1_INPUTS[0]).unwrap();
    let inputs = one_tainted(&W1_INPUTS, 0, &source);
    let (outcome, uncertain) = cross(
        &whirlpool(),
        mode,
        &Rules::new(policy),
        &inputs,
        &W1_OUTPUTS,
    );
    let (outs, fee) = tainted(&outcome, &W1_OUTPUTS, 570);
    (outs, fee, uncertain)
}

#[test]
fn w1_equal_split_gives_each_output_a_fifth_and_epsilon_to_the_fee() {
    for policy in [Policy::Haircut, Policy::FIFO, Policy::LIFO] {
        let (outs, fee, uncertain) = w1(policy, ThroughCoinjoin::EqualSplit);
        assert_eq!(outs, vec![200_000; 5], "{policy:?}");
        assert_eq!(fee, 285, "{policy:?}");
        assert!(!uncertain);
    }
}

#[test]
fn w1_haircut_matches_the_spec_table() {
    let (outs, fee, _) = w1(Policy::Haircut, ThroughCoinjoin::Haircut);
    assert_eq!(outs, vec![200_035, 200_034, 200_034, 200_034, 200_034]);
    assert_eq!(fee, 114);
}

#[test]
fn w1_fifo_as_policy_makes_the_first_output_dirty() {
    let (outs, fee, _) = w1(Policy::FIFO, ThroughCoinjoin::AsPolicy);
    assert_eq!(outs, vec![1_000_000, 285, 0, 0, 0]);
    assert_eq!(fee, 0);
}

#[test]
fn w1_poison_marks_every_output_and_the_fee() {
    let (outs, fee, _) = w1(Policy::Haircut, ThroughCoinjoin::Poison);
    assert_eq!(outs, vec![1_000_000; 5]);
    assert_eq!(fee, 570);
}

#[test]
fn ordered_policies_carry_the_split_as_a_leading_tainted_segment() {
    let source = Policy::FIFO.seed(S, W1_INPUTS[0]).unwrap();
    let inputs = one_tainted(&W1_INPUTS, 0, &source);
    let (outcome, _) = cross(
        &whirlpool(),
        ThroughCoinjoin::EqualSplit,
        &Rules::new(Policy::FIFO),
        &inputs,
        &W1_OUTPUTS,
    );
    let Some(Taint::Ordered(segs)) = &outcome.outputs[3] else {
        panic!("an ordered state: {:?}", outcome.outputs[3])
    };
    assert_eq!(
        segs.as_slice(),
        &[Seg::tainted(S, 200_000), Seg::clean(800_000)]
    );
}

/// CJ2 of the spec (JoinMarket): the taker brings 50,000,000 and takes back 9,995,000 of change.
#[test]
fn equal_split_maps_a_joinmarket_taker_to_its_change() {
    let inputs_v = [35_000_000, 35_000_000, 45_000_000, 50_000_000];
    let outputs = [
        40_000_000, 40_000_000, 40_000_000, 30_001_000, 5_001_000, 9_995_000,
    ];
    let d = Detection {
        protocol: Protocol::JoinMarket,
        detector: "graphsense-joinmarket",
        denomination: 40_000_000,
        participants: 3,
        confidence: 49,
    };
    let source = Policy::Haircut.seed(S, 50_000_000).unwrap();
    let inputs = one_tainted(&inputs_v, 3, &source);
    let rules = Rules::new(Policy::Haircut);
    let (outcome, uncertain) = cross(&d, ThroughCoinjoin::EqualSplit, &rules, &inputs, &outputs);
    let (outs, fee) = tainted(&outcome, &outputs, 3_000);
    assert!(!uncertain);
    // 40,000,000 bought spreads as a third per equal output; the change is the taker's own;
    // of the 5,000 it paid beyond both, 3,000 is the whole miner fee and 2,000 went to the
    // makers, 1,000 into each maker's change.
    assert_eq!(
        outs,
        vec![13_333_334, 13_333_333, 13_333_333, 1_000, 1_000, 9_995_000]
    );
    assert_eq!(fee, 3_000);
    assert_eq!(outs.iter().sum::<u64>() + fee, 50_000_000);
}

#[test]
fn ambiguous_participants_fall_back_to_haircut_and_say_so() {
    // Two change outputs fit the tainted participant equally well.
    let inputs_v = [10_600_000, 10_600_000, 10_600_000];
    let outputs = [
        10_000_000, 10_000_000, 10_000_000, 599_000, 599_000, 599_000,
    ];
    let d = Detection {
        protocol: Protocol::Generic,
        detector: "dumplings-other-coinjoin",
        denomination: 10_000_000,
        participants: 3,
        confidence: 50,
    };
    let source = Policy::Haircut.seed(S, 10_600_000).unwrap();
    let inputs = one_tainted(&inputs_v, 0, &source);
    let (outcome, uncertain) = cross(
        &d,
        ThroughCoinjoin::EqualSplit,
        &Rules::new(Policy::Haircut),
        &inputs,
        &outputs,
    );
    assert!(uncertain);
    let (outs, fee) = tainted(&outcome, &outputs, 3_000);
    assert_eq!(outs.iter().sum::<u64>() + fee, 10_600_000);
}

/// W-1 as a chain: the thief's premix enters the mix; the engine detects it and crosses it in
/// the chosen mode, recording the hop.
fn w1_chain() -> (MemLedger, OutRef) {
    let mut l = MemLedger::new(5_000_000_000);
    // Five funding transactions: Whirlpool never mixes two coins of one previous transaction.
    let mut premix = Vec::new();
    for (k, value) in W1_INPUTS.iter().enumerate() {
        let cb = l.coinbase(&[(5_000_000_000, 100)]);
        let change = 5_000_000_000 - value - 1_000;
        let funding = l.tx(
            &[OutRef { tx: cb, vout: 0 }],
            &[(*value, 1 + k as u64), (change, 101)],
        );
        premix.push(OutRef {
            tx: funding,
            vout: 0,
        });
    }
    l.coinbase(&[(5_000_000_000, 100)]);
    let outputs: Vec<(u64, u64)> = (11..16).map(|a| (1_000_000, a)).collect();
    l.tx(&premix, &outputs);
    (l, premix[0])
}

/// The haircut forward trace of the thief's premix in [`w1_chain`], crossing CoinJoins in
/// `mode`; also returns the premix.
fn trace_w1_chain(mode: ThroughCoinjoin) -> (ForwardTrace, OutRef) {
    let (ledger, thief) = w1_chain();
    let mut params = ForwardParams::new(Rules::new(Policy::Haircut));
    params.through_coinjoin = mode;
    let source = Source {
        out: thief,
        label: S,
    };
    let t = trace_forward(&ledger, &Attributions::default(), &[source], &params).unwrap();
    (t, thief)
}

#[test]
fn the_engine_crosses_a_whirlpool_mix_and_marks_every_holding() {
    let (t, _) = trace_w1_chain(ThroughCoinjoin::EqualSplit);
    assert_eq!(t.mixers.len(), 1);
    let hop = &t.mixers[0];
    assert_eq!(hop.detection.protocol, Protocol::WhirlpoolMix);
    assert_eq!(hop.tainted_in, 1_000_285);
    let tainted: Vec<u64> = t.holdings.iter().map(|h| h.tainted).collect();
    assert_eq!(tainted, vec![200_000; 5]);
    assert!(t
        .holdings
        .iter()
        .all(|h| h.mixer == Some(0) && h.status == Status::Unspent));
    assert_eq!(t.fees, vec![(S, 285)]);
    assert_eq!(t.flows.iter().filter(|f| f.mixer.is_some()).count(), 1);
}

#[test]
fn stop_mode_reports_the_premix_as_having_reached_the_mixer() {
    let (t, thief) = trace_w1_chain(ThroughCoinjoin::Stop);
    assert_eq!(t.holdings.len(), 1);
    assert_eq!(t.holdings[0].out, thief);
    assert_eq!(t.holdings[0].status, Status::Mixer);
    assert_eq!(t.holdings[0].mixer, Some(0));
    assert!(t.flows.is_empty());
}
