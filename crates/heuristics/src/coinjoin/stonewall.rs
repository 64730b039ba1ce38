//! The Samourai Stonewall shape, spec §4.6: a veto on CoinJoin answers, never a detection.

use super::profile::Profile;
use super::TxShape;

/// GraphSense's floor for the pseudo-mix value. The spec writes `d > 5,000`; GraphSense's code
/// rejects only `d < 5,000`, and this follows the code.
const MIN_DENOMINATION: u64 = 5_000;

/// Whether `tx` has the Stonewall shape (GraphSense `_is_stonewall`).
pub fn is_stonewall(tx: &TxShape<'_>) -> bool {
    !tx.coinbase && matches(&Profile::new(tx))
}

/// ≥ 2 addressed inputs; 3 or 4 addressed outputs with distinct scripts; exactly one value held
/// by exactly two of them, at least 5,000 sats. GraphSense also demands that the two other
/// outputs of the 4-output form differ, which "exactly one value held twice" already implies.
pub(super) fn matches(p: &Profile<'_>) -> bool {
    let outs = p.gs_outs();
    let mut pairs = outs.iter().filter(|g| g.count == 2);
    let single_pair = match (pairs.next(), pairs.next()) {
        (Some(pair), None) => pair.value >= MIN_DENOMINATION,
        _ => false,
    };
    !p.tx.coinbase
        && p.in_addrs.addressed >= 2
        && (3..=4).contains(&outs.total)
        && p.out_addrs.all_distinct()
        && single_pair
}
