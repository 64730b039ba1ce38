//! Wasabi 1.x (ZeroLink) rounds around the 0.1 BTC base denomination, spec §4.2.

use super::profile::{percent, Groups, Profile, ValueGroup};
use super::{detector, Detection, Protocol};

/// From this mainnet height Wasabi stopped paying fixed coordinator addresses, and Dumplings
/// switches to its structural rule. Earlier rounds are recognised by those addresses, which a
/// shape of address ids cannot see, so the Dumplings rule stays silent below it on mainnet.
pub(super) const FIRST_HEIGHT: u32 = 610_000;

const BASE: u64 = 10_000_000;
/// NBitcoin `Money.Almost(0.1 BTC, 0.02 BTC)` in Dumplings.
const DUMPLINGS_TOLERANCE: u64 = 2_000_000;
const DUMPLINGS_MIN_EQUAL: u32 = 10;
/// GraphSense's ±5 % window; level `i` of Wasabi 1.1 uses `2^i` times it.
const GRAPHSENSE_TOLERANCE: u64 = 500_000;
const GRAPHSENSE_MIN_INPUTS: u32 = 10;
const GRAPHSENSE_MIN_PARTICIPANTS: u32 = 3;
/// At most seven inputs per participant.
const GRAPHSENSE_MAX_INPUTS_EACH: u64 = 7;
/// Below this many inputs a round must not be a clean N-way split of its outputs.
const GRAPHSENSE_SMALL_ROUND: u32 = 20;

/// A documented choice, as for Wasabi 2: ten or more equal P2WPKH outputs near 0.1 BTC with
/// change and coordinator outputs beside them is a narrow fingerprint.
const DUMPLINGS_CONFIDENCE: u8 = 80;
/// GraphSense's own confidence for its Wasabi 1.0 rule.
const GRAPHSENSE_BASE_CONFIDENCE: u8 = 70;

/// Dumplings (h ≥ 610,000): P2WPKH only, the most frequent equal-output value within
/// 0.1 ± 0.02 BTC occurring ≥ 10 times, at least as many inputs, and ≥ 2 outputs of unique value
/// (change and coordinator fee).
pub(super) fn dumplings(p: &Profile<'_>) -> Option<Detection> {
    if p.tx.mainnet && p.tx.height < FIRST_HEIGHT {
        return None;
    }
    let top = p.outs.most_frequent().filter(|g| g.count >= 2)?;
    let unique = p.outs.iter().filter(|g| g.count == 1).count();
    let fingerprint = p.p2wpkh_only()
        && top.count >= DUMPLINGS_MIN_EQUAL
        && p.n_in() >= top.count
        && top.value.abs_diff(BASE) <= DUMPLINGS_TOLERANCE
        && unique >= 2;
    fingerprint.then(|| detection(detector::DUMPLINGS_WASABI1, &top, DUMPLINGS_CONFIDENCE))
}

/// GraphSense "Wasabi 1.0": one denomination within 0.1 BTC ± 5 %, at least three participants
/// making up half the outputs (one more for the coordinator), 1–7 input scripts each, distinct
/// output scripts, and small rounds that are not clean splits.
pub(super) fn graphsense_base(p: &Profile<'_>) -> Option<Detection> {
    if !graphsense_inputs_ok(p) {
        return None;
    }
    let outs = p.gs_outs();
    let d = outs.most_frequent_where(|v| v.abs_diff(BASE) <= GRAPHSENSE_TOLERANCE)?;
    let shaped = d.count >= GRAPHSENSE_MIN_PARTICIPANTS
        && 2 * u64::from(d.count) + 1 >= u64::from(outs.total)
        && inputs_per_participant_ok(p, d.count)
        && p.out_addrs.all_distinct()
        && !clean_split(p);
    shaped.then(|| {
        detection(
            detector::GRAPHSENSE_WASABI1_0,
            &d,
            GRAPHSENSE_BASE_CONFIDENCE,
        )
    })
}

/// Output counts at the mixing levels `2^i · 0.1 BTC` that hold two or more outputs.
#[derive(Default)]
struct Levels {
    /// Outputs on any level.
    postmix: u64,
    /// The largest count on one level: a lower bound on the participants.
    widest: u32,
    /// The highest level's exact denomination (its most frequent value).
    top: Option<ValueGroup>,
}

fn levels(outs: &Groups) -> Levels {
    let mut found = Levels::default();
    let max_out = outs.max_value().unwrap_or(0);
    let (mut level, mut tolerance) = (BASE, GRAPHSENSE_TOLERANCE);
    while level <= max_out {
        let near = |v: u64| v.abs_diff(level) <= tolerance;
        let count: u32 = outs.iter().filter(|g| near(g.value)).map(|g| g.count).sum();
        if count >= 2 {
            found.postmix += u64::from(count);
            found.widest = found.widest.max(count);
            found.top = outs.most_frequent_where(near);
        }
        let Some(next) = level.checked_mul(2) else {
            break;
        };
        (level, tolerance) = (next, tolerance * 2);
    }
    found
}

/// GraphSense "Wasabi 1.1": mixing levels `2^i · 0.1 BTC`, each within `2^i · 500,000` and
/// holding ≥ 2 outputs. Confidence `50 + 50·(n/n_in − 1/7)/(1 − 1/7)`, halved when only one of
/// the two post-mix-majority conditions holds.
pub(super) fn graphsense_levels(p: &Profile<'_>) -> Option<Detection> {
    if !graphsense_inputs_ok(p) {
        return None;
    }
    let found = levels(p.gs_outs());
    let n = found.widest;
    if n < GRAPHSENSE_MIN_PARTICIPANTS || !inputs_per_participant_ok(p, n) {
        return None;
    }
    let outs = u64::from(p.gs_outs().total);
    let scripts_in = u64::from(p.in_addrs.distinct);
    let majority = 2 * found.postmix + 1 >= outs;
    // The paper's sum condition, `postmix ≥ outputs − input scripts − 1`, kept unsigned.
    let sum_condition = found.postmix + scripts_in + 1 >= outs;
    if !(majority || sum_condition) || !p.out_addrs.all_distinct() || clean_split(p) {
        return None;
    }
    let mut confidence = 50 + 50 * (7 * u64::from(n) - scripts_in) / (6 * scripts_in);
    if !(majority && sum_condition) {
        confidence /= 2;
    }
    let top = found.top?;
    Some(detection(
        detector::GRAPHSENSE_WASABI1_1,
        &top,
        percent(confidence),
    ))
}

/// ≥ 10 inputs, none of whose scripts owns more than a tenth of them.
fn graphsense_inputs_ok(p: &Profile<'_>) -> bool {
    p.in_addrs.addressed >= GRAPHSENSE_MIN_INPUTS && p.in_addrs.top_share_at_most_tenth()
}

/// `n ≤ distinct input scripts ≤ 7n`.
fn inputs_per_participant_ok(p: &Profile<'_>, n: u32) -> bool {
    let scripts = u64::from(p.in_addrs.distinct);
    u64::from(n) <= scripts && scripts <= GRAPHSENSE_MAX_INPUTS_EACH * u64::from(n)
}

/// A small round (< 20 inputs) whose outputs sum to within 0.01 % of a whole multiple of the
/// most frequent value looks like someone splitting one coin N ways, not a CoinJoin.
fn clean_split(p: &Profile<'_>) -> bool {
    if p.in_addrs.addressed >= GRAPHSENSE_SMALL_ROUND {
        return false;
    }
    let outs = p.gs_outs();
    let total = outs.sum();
    let unit = outs.most_frequent().map_or(0, |g| u128::from(g.value));
    if total == 0 || unit == 0 {
        return false;
    }
    let multiple = round_half_even(total, unit);
    multiple > 0 && total.abs_diff(multiple * unit) * 10_000 <= total
}

/// `total / unit` rounded as Python's `round` does (halves to even).
fn round_half_even(total: u128, unit: u128) -> u128 {
    let (q, r) = (total / unit, total % unit);
    match (2 * r).cmp(&unit) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q % 2),
    }
}

fn detection(id: &'static str, d: &ValueGroup, confidence: u8) -> Detection {
    Detection {
        protocol: Protocol::Wasabi1,
        detector: id,
        denomination: d.value,
        participants: d.count,
        confidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding() {
        assert_eq!(round_half_even(25, 10), 2);
        assert_eq!(round_half_even(35, 10), 4);
        assert_eq!(round_half_even(36, 10), 4);
        assert_eq!(round_half_even(34, 10), 3);
    }
}
