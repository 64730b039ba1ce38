//! Peel chains, spec §6.3: a large coin paying out small amounts hop after hop, each hop
//! keeping the remainder as change. These functions judge one hop; the tracer walks the chain
//! (rule 3: extend while the next transaction spends the change and is itself a candidate) and
//! calls a chain of three or more hops a peel chain (rule 4).

use serde::Serialize;

use crate::change::{address_type, client_change_address_behavior, power_of_ten_value};
use crate::coinjoin::{detect, TxShape};
use crate::outputs::OutputSet;

/// Rule 2(c): the larger output is change only if it is at least this many times the smaller.
pub const LARGER_RATIO: u64 = 3;

/// Rule 2(b) reads "round" at BlockSci's default: a multiple of 0.01 BTC.
const ROUND_DIGITS: u32 = crate::change::DEFAULT_POWER_OF_TEN_DIGITS;

/// BlockSci's `looksLikePeelingChain`: exactly one input and exactly two outputs.
pub fn looks_like_peel(tx: &TxShape<'_>) -> bool {
    tx.inputs.len() == 1 && tx.outputs.len() == 2
}

/// Rule 1 as the engine applies it by default: non-coinbase, one input, exactly two spendable
/// (non-OP_RETURN) outputs, and not a CoinJoin.
pub fn is_peel_candidate(tx: &TxShape<'_>) -> bool {
    is_peel_candidate_with(tx, 1)
}

/// Rule 1 allowing up to `max_inputs` inputs. The spec's variant uses 2: a wallet that tops up
/// the peeling coin with one more input still peels, at the cost of more false candidates.
pub fn is_peel_candidate_with(tx: &TxShape<'_>, max_inputs: usize) -> bool {
    !tx.coinbase
        && (1..=max_inputs).contains(&tx.inputs.len())
        && spendable(tx).len() == 2
        && !detect(tx).is_some_and(|d| d.is_multi_party())
}

fn spendable(tx: &TxShape<'_>) -> OutputSet {
    OutputSet::from_fn(tx.outputs.len(), |i| !tx.outputs[i].kind.is_unspendable())
}

/// Why an output was taken as a hop's change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeReason {
    /// Rule 2(a): the only output spent by another peel candidate.
    SpentByPeel,
    /// Rule 2(b): the only output of the inputs' script type, of a non-round value, paying a
    /// fresh address.
    Shape,
    /// Rule 2(c): the larger output, at least [`LARGER_RATIO`] times the smaller.
    Larger,
}

/// What the caller knows about each output, indexed by vout (a short slice reads as `false`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PeelFacts<'a> {
    /// Whether output `i` is spent by a transaction that is itself a peel candidate.
    pub spent_by_peel: &'a [bool],
    /// Whether output `i`'s address first appears in this transaction.
    pub fresh: &'a [bool],
}

/// Rule 2: the change output of a hop and the rule that chose it, trying (a), (b), (c) in turn.
/// `None` if the transaction does not have exactly two spendable outputs or no rule decides.
/// The caller has already judged candidacy ([`is_peel_candidate`] or its variant).
pub fn peel_change(tx: &TxShape<'_>, facts: &PeelFacts<'_>) -> Option<(usize, ChangeReason)> {
    let outputs = spendable(tx);
    if outputs.len() != 2 {
        return None;
    }
    let spent_by_peel = outputs
        .iter()
        .filter(|&i| facts.spent_by_peel.get(i).copied().unwrap_or(false));
    if let Some(vout) = unique(spent_by_peel) {
        return Some((vout, ChangeReason::SpentByPeel));
    }
    let shape = &(&address_type(tx) & &power_of_ten_value(tx, ROUND_DIGITS))
        & &client_change_address_behavior(tx, facts.fresh);
    if let Some(vout) = shape.unique() {
        return Some((vout, ChangeReason::Shape));
    }
    larger(tx, &outputs).map(|vout| (vout, ChangeReason::Larger))
}

fn unique(mut iter: impl Iterator<Item = usize>) -> Option<usize> {
    let first = iter.next()?;
    iter.next().is_none().then_some(first)
}

/// The larger of the two outputs, if it is at least [`LARGER_RATIO`] times the smaller (and
/// strictly larger, so two zero outputs decide nothing).
fn larger(tx: &TxShape<'_>, outputs: &OutputSet) -> Option<usize> {
    let mut pair = outputs.iter().map(|i| (tx.outputs[i].value, i));
    let (a, b) = (pair.next()?, pair.next()?);
    let (small, big) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    let dominant =
        big.0 > small.0 && u128::from(big.0) >= u128::from(LARGER_RATIO) * u128::from(small.0);
    dominant.then_some(big.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::tests::{coin, tx as shape};
    use crate::coinjoin::Coin;
    use chaintrace_model::btc::ScriptKind;

    fn wpkh(value: u64, addr: u64) -> Coin {
        coin(value, addr, ScriptKind::P2wpkh)
    }

    /// U-G's three hops: P1 (two inputs, so only the ≤ 2 variant admits it), P2 and P3.
    #[test]
    fn u_g_chain_hops() {
        let p1_in = [wpkh(50_000_000, 1), wpkh(950_000_000, 2)];
        let p1_out = [wpkh(30_000_000, 10), wpkh(969_990_000, 11)];
        let p1 = shape(&p1_in, &p1_out);
        assert!(!is_peel_candidate(&p1));
        assert!(is_peel_candidate_with(&p1, 2));

        let p2_in = [wpkh(969_990_000, 11)];
        let p2_out = [wpkh(25_000_000, 20), wpkh(944_980_000, 21)];
        let p2 = shape(&p2_in, &p2_out);
        let p3_in = [wpkh(944_980_000, 21)];
        let p3_out = [wpkh(40_000_000, 30), wpkh(904_970_000, 31)];
        let p3 = shape(&p3_in, &p3_out);
        assert!(is_peel_candidate(&p2) && is_peel_candidate(&p3));

        // P1's and P2's changes are spent by the next hop. P3's is unspent: its non-round,
        // fresh change decides by shape, and without freshness facts by size.
        let spent = PeelFacts {
            spent_by_peel: &[false, true],
            fresh: &[true, true],
        };
        assert_eq!(
            peel_change(&p1, &spent),
            Some((1, ChangeReason::SpentByPeel))
        );
        assert_eq!(
            peel_change(&p2, &spent),
            Some((1, ChangeReason::SpentByPeel))
        );
        let last = PeelFacts {
            spent_by_peel: &[],
            fresh: &[true, true],
        };
        assert_eq!(peel_change(&p3, &last), Some((1, ChangeReason::Shape)));
        assert_eq!(
            peel_change(&p3, &PeelFacts::default()),
            Some((1, ChangeReason::Larger))
        );
    }

    /// CH-1 as a hop: only o1 is P2WPKH like the input, non-round and fresh.
    #[test]
    fn shape_rule_on_ch1() {
        let inputs = [wpkh(50_000_000, 1)];
        let outputs = [coin(10_000_000, 2, ScriptKind::P2pkh), wpkh(39_984_321, 3)];
        let tx = shape(&inputs, &outputs);
        let facts = PeelFacts {
            spent_by_peel: &[],
            fresh: &[false, true],
        };
        assert_eq!(peel_change(&tx, &facts), Some((1, ChangeReason::Shape)));
    }

    #[test]
    fn candidates_and_undecided_hops() {
        let inputs = [wpkh(10_000_000, 1)];
        let op_return = coin(0, 0, ScriptKind::OpReturn);
        let with_data = [wpkh(4_000_000, 2), op_return, wpkh(5_000_000, 3)];
        assert!(
            is_peel_candidate(&shape(&inputs, &with_data)),
            "OP_RETURN is not spendable"
        );
        let three = [wpkh(4_000_000, 2), wpkh(3_000_000, 3), wpkh(2_990_000, 4)];
        assert!(!is_peel_candidate(&shape(&inputs, &three)));
        let coinbase = TxShape {
            coinbase: true,
            ..shape(&inputs, &with_data)
        };
        assert!(!is_peel_candidate(&coinbase));

        // Both spent by peels, both round, 4:6 — no rule decides.
        let both = PeelFacts {
            spent_by_peel: &[true, true, true],
            fresh: &[true, true, true],
        };
        assert_eq!(peel_change(&shape(&inputs, &with_data), &both), None);
        assert_eq!(peel_change(&shape(&inputs, &three), &both), None);
    }

    #[test]
    fn larger_rule_boundary() {
        let inputs = [wpkh(4_000_000, 1)];
        let exact = [wpkh(1_000_000, 2), wpkh(3_000_000, 3)];
        let short = [wpkh(1_000_001, 2), wpkh(2_999_999, 3)];
        let zeros = [wpkh(0, 2), wpkh(0, 3)];
        let none = PeelFacts::default();
        let tx = |outs| shape(&inputs, outs);
        assert_eq!(
            peel_change(&tx(&exact), &none),
            Some((1, ChangeReason::Larger))
        );
        assert_eq!(peel_change(&tx(&short), &none), None);
        assert_eq!(peel_change(&tx(&zeros), &none), None);
    }
}
