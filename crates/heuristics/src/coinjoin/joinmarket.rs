//! JoinMarket and other single-denomination equal-output CoinJoins, spec §4.5.

use super::profile::Profile;
use super::{detector, Detection, Protocol};

/// GraphSense ignores values at or below this as denomination candidates (dust).
const DUST: u64 = 2_730;
const MIN_PARTICIPANTS: u32 = 3;
/// From this many inputs GraphSense also demands JoinMarket-like fan-in and fan-out, which
/// exchange batch payouts violate.
const LARGE_ROUND: u32 = 50;
const MAX_INPUTS_EACH: u64 = 20;
/// 1.7 outputs per participant, in tenths.
const MIN_OUTPUTS_EACH_TENTHS: u64 = 17;
/// Dumplings' stand-in for subset sum: no input may exceed `d + largest change − 0.0001 BTC`.
const DUMPLINGS_SUBSET_SLACK: u64 = 10_000;

/// GraphSense's own confidence for its JoinMarket rule.
const GRAPHSENSE_CONFIDENCE: u8 = 49;
/// A documented choice: Dumplings' rule names no protocol and its subset-sum stand-in is loose,
/// so it ranks just under GraphSense's.
const DUMPLINGS_CONFIDENCE: u8 = 40;

/// GraphSense JoinMarket: `d` the most frequent value above dust, held by at least half the
/// outputs and by 3 ≤ n ≤ distinct input scripts participants, distinct output scripts, some
/// output not `d`, and for ≥ 50 inputs at most 20 inputs and at least 1.7 outputs per
/// participant.
pub(super) fn graphsense(p: &Profile<'_>) -> Option<Detection> {
    let outs = p.gs_outs();
    let d = outs.most_frequent_where(|v| v > DUST)?;
    let (n, total) = (u64::from(d.count), u64::from(outs.total));
    let shaped = 2 * n >= total
        && d.count >= MIN_PARTICIPANTS
        && d.count <= p.in_addrs.distinct
        && p.out_addrs.all_distinct()
        && n < total
        && large_round_ok(u64::from(p.in_addrs.addressed), n, total);
    shaped.then_some(Detection {
        protocol: Protocol::JoinMarket,
        detector: detector::GRAPHSENSE_JOINMARKET,
        denomination: d.value,
        participants: d.count,
        confidence: GRAPHSENSE_CONFIDENCE,
    })
}

fn large_round_ok(inputs: u64, n: u64, outputs: u64) -> bool {
    inputs < u64::from(LARGE_ROUND)
        || (inputs <= MAX_INPUTS_EACH * n && 10 * outputs >= MIN_OUTPUTS_EACH_TENTHS * n)
}

/// Dumplings "OtherCoinJoin": exactly one group of equal outputs, of `k` outputs where the rest
/// number `k` (one change each) or `k − 1` (a taker sweeping without change), at least `k`
/// distinct output and input scripts, and no input larger than `d` plus the largest other output
/// less 10,000 sats.
pub(super) fn dumplings_other(p: &Profile<'_>) -> Option<Detection> {
    let mut repeated = p.outs.repeated();
    let d = *repeated.next()?;
    if repeated.next().is_some() {
        return None;
    }
    let (k, n) = (u64::from(d.count), u64::from(p.n_out()));
    let largest_other = p.outs.iter().rev().find(|g| g.value != d.value)?.value;
    let ceiling = u128::from(d.value) + u128::from(largest_other);
    let shaped = (2 * k == n || 2 * k == n + 1)
        && d.count <= p.out_addrs.distinct
        && d.count <= p.in_addrs.distinct
        && u128::from(p.max_in) + u128::from(DUMPLINGS_SUBSET_SLACK) <= ceiling;
    shaped.then_some(Detection {
        protocol: Protocol::Generic,
        detector: detector::DUMPLINGS_OTHER_COINJOIN,
        denomination: d.value,
        participants: d.count,
        confidence: DUMPLINGS_CONFIDENCE,
    })
}
