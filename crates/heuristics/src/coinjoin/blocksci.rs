//! BlockSci's generic `isCoinjoin`, spec §4.1: every participant is assumed to add one mixed
//! and one change output.

use super::profile::Profile;
use super::{detector, Detection, Protocol, TxShape};

/// The two dust values BlockSci refuses as a denomination.
const DUST: [u64; 2] = [546, 2_730];

/// A documented choice: the loosest rule here (it fires on many batch payments with a matching
/// count), so the lowest confidence.
const CONFIDENCE: u8 = 30;

/// `isCoinjoin`: ≥ 2 inputs and ≥ 3 outputs; `p = (outputs + 1) / 2` no more than the inputs or
/// their distinct addresses; the most common output value occurring exactly `p` times; and that
/// value not 546 or 2,730. BlockSci breaks ties between equally common values by hash-map order;
/// here the value appearing first in output order wins, so the answer is deterministic.
pub fn is_coinjoin(tx: &TxShape<'_>) -> bool {
    !tx.coinbase
        && tx.inputs.len() >= 2
        && tx.outputs.len() >= 3
        && rule(&Profile::new(tx)).is_some()
}

pub(super) fn rule(p: &Profile<'_>) -> Option<Detection> {
    let participants = u64::from(p.n_out()).div_ceil(2);
    let top = p.outs.most_frequent()?;
    let shaped = p.n_in() >= 2
        && p.n_out() >= 3
        && participants <= u64::from(p.n_in())
        && participants <= u64::from(p.in_addrs.distinct)
        && u64::from(top.count) == participants
        && !DUST.contains(&top.value);
    shaped.then_some(Detection {
        protocol: Protocol::Generic,
        detector: detector::BLOCKSCI_COINJOIN,
        denomination: top.value,
        participants: top.count,
        confidence: CONFIDENCE,
    })
}
