//! Wasabi 2.x (WabiSabi) rounds, spec §4.3.

use chaintrace_model::btc::ScriptKind;

use super::denominations::is_wasabi2_denomination;
use super::profile::{Profile, ValueGroup};
use super::{detector, Coin, Detection, Protocol};

/// First mainnet block with a Wasabi 2 round (Dumplings `FirstWasabi2Block`).
pub(super) const FIRST_HEIGHT: u32 = 741_213;

/// Dumplings' minimum input count. It was 50 in the zkSNACKs era; the crocs fork lowered it
/// because the coordinators that followed run smaller rounds.
const DUMPLINGS_MIN_INPUTS: u32 = 15;

/// GraphSense's minimum input count ("lowered post-May 2024").
const GRAPHSENSE_MIN_INPUTS: u32 = 20;

/// GraphSense rejects rounds with any output below this (sats).
const GRAPHSENSE_MIN_OUTPUT: u64 = 5_000;

/// A documented choice: the Dumplings rule checks the coordinator's ordering and its
/// denomination table, a fingerprint much harder to hit by chance than GraphSense's counts.
const DUMPLINGS_CONFIDENCE: u8 = 80;

/// GraphSense's own confidence for its Wasabi 2.0 rule.
const GRAPHSENSE_CONFIDENCE: u8 = 60;

/// Dumplings `IsWasabi2Cj`: P2WPKH/P2TR inputs, ≥ 15 of them, inputs and outputs both in
/// descending value order, and more than 80 % of outputs standard denominations.
pub(super) fn dumplings(p: &Profile<'_>) -> Option<Detection> {
    let tx = p.tx;
    let before_activation = tx.mainnet && tx.height < FIRST_HEIGHT;
    // Dumplings only examines transactions with at least one pair of equal outputs.
    if before_activation || p.outs.repeated().next().is_none() {
        return None;
    }
    let fingerprint = p.n_in() >= DUMPLINGS_MIN_INPUTS
        && p.inputs_all(&[ScriptKind::P2wpkh, ScriptKind::P2tr])
        && descending(tx.inputs)
        && descending(tx.outputs)
        && mostly_standard(p);
    if !fingerprint {
        return None;
    }
    let top = p
        .outs
        .iter()
        .rev()
        .find(|g| is_wasabi2_denomination(g.value))?;
    Some(detection(
        detector::DUMPLINGS_WASABI2,
        top,
        DUMPLINGS_CONFIDENCE,
    ))
}

/// GraphSense "Wasabi 2.0": ≥ 20 inputs, no script owning > 10 % of them, no output below
/// 5,000, distinct output scripts, and at least three values repeated (the set `D`) covering at
/// least half the outputs but not all of them.
pub(super) fn graphsense(p: &Profile<'_>) -> Option<Detection> {
    let outs = p.gs_outs();
    let round_sized = p.in_addrs.addressed >= GRAPHSENSE_MIN_INPUTS
        && p.in_addrs.top_share_at_most_tenth()
        && p.out_addrs.all_distinct()
        && outs.iter().all(|g| g.value >= GRAPHSENSE_MIN_OUTPUT);
    if !round_sized {
        return None;
    }
    let levels = outs.repeated().count();
    let in_levels: u64 = outs.repeated().map(|g| u64::from(g.count)).sum();
    let total = u64::from(outs.total);
    // `in_levels < total`: a round with no change and no coordinator output is far more often a
    // clean N-way batch payout than an all-remix round, so GraphSense gives those up.
    let shaped = levels >= 3 && 2 * in_levels + 1 >= total && in_levels < total;
    let top = outs.repeated().last().filter(|_| shaped)?;
    Some(detection(
        detector::GRAPHSENSE_WASABI2,
        top,
        GRAPHSENSE_CONFIDENCE,
    ))
}

fn detection(id: &'static str, top: &ValueGroup, confidence: u8) -> Detection {
    Detection {
        protocol: Protocol::Wasabi2,
        detector: id,
        denomination: top.value,
        participants: top.count,
        confidence,
    }
}

fn descending(coins: &[Coin]) -> bool {
    coins.windows(2).all(|w| w[0].value >= w[1].value)
}

/// More than 80 % of outputs are standard denominations: `5·standard > 4·outputs`.
fn mostly_standard(p: &Profile<'_>) -> bool {
    let standard: u64 = p
        .outs
        .iter()
        .filter(|g| is_wasabi2_denomination(g.value))
        .map(|g| u64::from(g.count))
        .sum();
    5 * standard > 4 * u64::from(p.n_out())
}
