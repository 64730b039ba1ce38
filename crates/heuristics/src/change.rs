//! Change-address heuristics, spec §6.2.
//!
//! Each BlockSci-style heuristic returns the outputs it *cannot rule out* as change; OP_RETURN
//! outputs are never among them. Combine them with `&`, `|`, `-` and ask
//! [`OutputSet::unique`]: merging every member of a loose set is how clusters over-merge.
//!
//! Facts the shape cannot carry come from the caller as slices indexed by vout: `fresh[i]` is
//! whether output `i`'s address first appears in this transaction; spender facts are `None` for
//! an unspent output. A slice shorter than the outputs reads as `false` / unspent beyond its end.

use chaintrace_model::btc::ScriptKind;
use smallvec::SmallVec;

use crate::coinjoin::{detect, Coin, TxShape};
use crate::outputs::OutputSet;

/// GraphSense's confidence in its one-time-change answer.
pub const ONE_TIME_CHANGE_CONFIDENCE: u8 = 50;
/// GraphSense's confidence in "direct change" ([`address_reuse`]): paying back to an input's
/// own address is as explicit as change gets.
pub const DIRECT_CHANGE_CONFIDENCE: u8 = 100;
/// BlockSci's default for [`power_of_ten_value`]: multiples of 0.01 BTC look like payments.
pub const DEFAULT_POWER_OF_TEN_DIGITS: u32 = 6;

/// The spendable outputs accepted by `keep`.
fn outputs_where(tx: &TxShape<'_>, keep: impl Fn(usize, &Coin) -> bool) -> OutputSet {
    OutputSet::from_fn(tx.outputs.len(), |i| {
        let coin = &tx.outputs[i];
        !coin.kind.is_unspendable() && keep(i, coin)
    })
}

fn flag(facts: &[bool], vout: usize) -> bool {
    facts.get(vout).copied().unwrap_or(false)
}

fn spender<T: Copy>(facts: &[Option<T>], vout: usize) -> Option<T> {
    facts.get(vout).copied().flatten()
}

/// The input addresses, sorted, for membership tests.
fn input_addrs(tx: &TxShape<'_>) -> SmallVec<[u64; 8]> {
    let mut addrs: SmallVec<[u64; 8]> = tx
        .inputs
        .iter()
        .filter(|c| !c.addr.is_none())
        .map(|c| c.addr.0)
        .collect();
    addrs.sort_unstable();
    addrs
}

/// Outputs paying an address that also funds the transaction (GraphSense's "direct change").
pub fn address_reuse(tx: &TxShape<'_>) -> OutputSet {
    let inputs = input_addrs(tx);
    outputs_where(tx, |_, c| {
        !c.addr.is_none() && inputs.binary_search(&c.addr.0).is_ok()
    })
}

/// The single script type of all inputs, if they share one.
fn uniform_input_kind(tx: &TxShape<'_>) -> Option<ScriptKind> {
    let kind = tx.inputs.first()?.kind;
    tx.inputs.iter().all(|c| c.kind == kind).then_some(kind)
}

/// If every input has one script type, the outputs of that type (wallets keep their type for
/// change); otherwise none.
pub fn address_type(tx: &TxShape<'_>) -> OutputSet {
    match uniform_input_kind(tx) {
        Some(kind) => outputs_where(tx, |_, c| c.kind == kind),
        None => OutputSet::new(),
    }
}

/// Outputs smaller than the smallest input: an optimal coin selector would not have added an
/// input it did not need, so a payment is at least as large as any single input.
pub fn optimal_change(tx: &TxShape<'_>) -> OutputSet {
    let Some(smallest) = tx.inputs.iter().map(|c| c.value).min() else {
        return OutputSet::new();
    };
    outputs_where(tx, |_, c| c.value < smallest)
}

/// Outputs whose value is not a multiple of `10^digits` sats: people pay round amounts, change
/// is what is left. A power beyond `u64` divides no value but zero.
pub fn power_of_ten_value(tx: &TxShape<'_>, digits: u32) -> OutputSet {
    let round = |v: u64| match 10u64.checked_pow(digits) {
        Some(unit) => v.is_multiple_of(unit),
        None => v == 0,
    };
    outputs_where(tx, |_, c| !round(c.value))
}

/// Outputs whose address first appears in this transaction: wallets send change to a fresh
/// address, while payees often reuse theirs.
pub fn client_change_address_behavior(tx: &TxShape<'_>, fresh: &[bool]) -> OutputSet {
    outputs_where(tx, |i, _| flag(fresh, i))
}

/// Whether the transaction is a multi-party CoinJoin, whose outputs belong to many owners and so
/// have no single change.
fn is_coinjoin(tx: &TxShape<'_>) -> bool {
    detect(tx).is_some_and(|d| d.is_multi_party())
}

/// BlockSci's pre-0.6 rule: not a CoinJoin, at least two spendable outputs, and exactly one
/// output both below the smallest input and paying a fresh address.
pub fn legacy(tx: &TxShape<'_>, fresh: &[bool]) -> OutputSet {
    let spendable = outputs_where(tx, |_, _| true).len();
    if tx.coinbase || spendable < 2 || is_coinjoin(tx) {
        return OutputSet::new();
    }
    let candidates = &optimal_change(tx) & &client_change_address_behavior(tx, fresh);
    candidates.unique().into_iter().collect()
}

/// Dynamic: outputs unspent, or spent by a transaction whose locktime is set exactly when this
/// one's is (a wallet using anti-fee-sniping locktimes does so for its change's spend too).
pub fn locktime(
    tx: &TxShape<'_>,
    tx_locktime: u32,
    spender_locktimes: &[Option<u32>],
) -> OutputSet {
    outputs_where(tx, |i, _| {
        spender(spender_locktimes, i).is_none_or(|lt| (lt > 0) == (tx_locktime > 0))
    })
}

/// Dynamic: outputs unspent, or spent by a transaction paying the same fee rate (sats per
/// 1,000 vbytes), as a wallet with a fixed fee setting does.
pub fn fixed_fee(
    tx: &TxShape<'_>,
    fee_per_kvb: u64,
    spender_fees_per_kvb: &[Option<u64>],
) -> OutputSet {
    outputs_where(tx, |i, _| {
        spender(spender_fees_per_kvb, i).is_none_or(|rate| rate == fee_per_kvb)
    })
}

/// Dynamic: if the transaction is part of a peeling chain (see [`crate::peel`]), the outputs
/// unspent or spent by a peeling-chain transaction (`Some(true)`); otherwise none.
pub fn peeling_chain(
    tx: &TxShape<'_>,
    tx_is_peeling_chain: bool,
    spent_by_peeling_chain: &[Option<bool>],
) -> OutputSet {
    if !tx_is_peeling_chain {
        return OutputSet::new();
    }
    outputs_where(tx, |i, _| {
        spender(spent_by_peeling_chain, i).is_none_or(|peel| peel)
    })
}

/// GraphSense's one-time-change consensus: among 2–10 outputs of a non-coinbase transaction,
/// the one output of the inputs' (uniform) script type, not a multiple of 1,000 sats, below the
/// smallest input, paying an address not reused and paid only once here, if exactly one
/// qualifies. `not_reused[i]`: output `i`'s address has at most one incoming and one outgoing
/// transaction and was first seen in this transaction's block (fresh addresses qualify).
/// Confidence [`ONE_TIME_CHANGE_CONFIDENCE`].
pub fn one_time_change(tx: &TxShape<'_>, not_reused: &[bool]) -> Option<usize> {
    if tx.coinbase || !(2..=10).contains(&tx.outputs.len()) {
        return None;
    }
    let kind = uniform_input_kind(tx)?;
    let smallest = tx.inputs.iter().map(|c| c.value).min()?;
    let paid_once = |addr| tx.outputs.iter().filter(|o| o.addr == addr).count() == 1;
    outputs_where(tx, |i, c| {
        !c.addr.is_none()
            && c.kind == kind
            && !c.value.is_multiple_of(1_000)
            && c.value < smallest
            && flag(not_reused, i)
            && paid_once(c.addr)
    })
    .unique()
}

/// Meiklejohn et al.'s Heuristic 2: in a non-coinbase transaction that pays none of its input
/// addresses, the output paying the only address that appears here for the first time. Two
/// fresh outputs, even to one address, leave it undecided.
pub fn meiklejohn_h2(tx: &TxShape<'_>, fresh: &[bool]) -> Option<usize> {
    if tx.coinbase || !address_reuse(tx).is_empty() {
        return None;
    }
    outputs_where(tx, |i, c| !c.addr.is_none() && flag(fresh, i)).unique()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chaintrace_model::AddrId;

    /// A coin of `value` sat at address id `addr`; the peel-chain tests build theirs alike.
    pub(crate) fn coin(value: u64, addr: u64, kind: ScriptKind) -> Coin {
        Coin {
            value,
            addr: AddrId(addr),
            kind,
        }
    }

    fn set(vouts: &[usize]) -> OutputSet {
        vouts.iter().copied().collect()
    }

    /// CH-1: one P2WPKH input of 50,000,000 from a seen address; o0 = 10,000,000 to an old
    /// P2PKH address, o1 = 39,984,321 to a fresh P2WPKH address; fee 15,679.
    #[test]
    fn ch1_truth_table() {
        let inputs = [coin(50_000_000, 1, ScriptKind::P2wpkh)];
        let outputs = [
            coin(10_000_000, 2, ScriptKind::P2pkh),
            coin(39_984_321, 3, ScriptKind::P2wpkh),
        ];
        let tx = TxShape {
            height: 800_000,
            mainnet: true,
            coinbase: false,
            inputs: &inputs,
            outputs: &outputs,
        };
        let fresh = [false, true];
        assert_eq!(50_000_000 - 10_000_000 - 39_984_321, 15_679);
        assert_eq!(address_type(&tx), set(&[1]));
        assert_eq!(optimal_change(&tx), set(&[0, 1]));
        assert_eq!(
            power_of_ten_value(&tx, DEFAULT_POWER_OF_TEN_DIGITS),
            set(&[1])
        );
        assert_eq!(client_change_address_behavior(&tx, &fresh), set(&[1]));
        assert_eq!(address_reuse(&tx), set(&[]));
        assert_eq!(legacy(&tx, &fresh), set(&[1]));
        assert_eq!(one_time_change(&tx, &fresh), Some(1));
        assert_eq!(meiklejohn_h2(&tx, &fresh), Some(1));
        // Locktime > 0 here; o1's spender also sets one, o0's does not.
        assert_eq!(locktime(&tx, 840_000, &[Some(0), Some(840_100)]), set(&[1]));
    }

    /// An ordinary mainnet transaction at height 800,000 (also the peel-chain tests' shape).
    pub(crate) fn tx<'a>(inputs: &'a [Coin], outputs: &'a [Coin]) -> TxShape<'a> {
        TxShape {
            height: 800_000,
            mainnet: true,
            coinbase: false,
            inputs,
            outputs,
        }
    }

    #[test]
    fn op_return_is_never_change() {
        let inputs = [coin(1_000, 1, ScriptKind::P2wpkh)];
        let outputs = [
            coin(0, 0, ScriptKind::OpReturn),
            coin(900, 1, ScriptKind::P2wpkh),
        ];
        let tx = tx(&inputs, &outputs);
        assert_eq!(optimal_change(&tx), set(&[1]));
        assert_eq!(
            power_of_ten_value(&tx, 0),
            set(&[]),
            "10^0 divides everything"
        );
        assert_eq!(
            power_of_ten_value(&tx, 40),
            set(&[1]),
            "10^40 divides only zero"
        );
        assert_eq!(address_reuse(&tx), set(&[1]));
        assert_eq!(
            meiklejohn_h2(&tx, &[true, true]),
            None,
            "self-change rules H2 out"
        );
    }

    #[test]
    fn address_type_needs_uniform_inputs() {
        let inputs = [
            coin(5_000, 1, ScriptKind::P2wpkh),
            coin(5_000, 2, ScriptKind::P2tr),
        ];
        let outputs = [
            coin(4_000, 3, ScriptKind::P2wpkh),
            coin(5_500, 4, ScriptKind::P2tr),
        ];
        let tx = tx(&inputs, &outputs);
        assert_eq!(address_type(&tx), set(&[]));
        assert_eq!(one_time_change(&tx, &[true, true]), None);
    }

    #[test]
    fn dynamic_rules_keep_unspent_outputs() {
        let inputs = [coin(100_000, 1, ScriptKind::P2wpkh)];
        let outputs = [
            coin(30_000, 2, ScriptKind::P2wpkh),
            coin(60_000, 3, ScriptKind::P2wpkh),
            coin(9_000, 4, ScriptKind::P2wpkh),
        ];
        let tx = tx(&inputs, &outputs);
        assert_eq!(
            fixed_fee(&tx, 2_000, &[Some(2_000), Some(3_000)]),
            set(&[0, 2])
        );
        assert_eq!(locktime(&tx, 0, &[Some(5)]), set(&[1, 2]));
        assert_eq!(
            peeling_chain(&tx, true, &[Some(false), Some(true)]),
            set(&[1, 2])
        );
        assert_eq!(peeling_chain(&tx, false, &[]), set(&[]));
    }

    #[test]
    fn one_time_change_needs_exactly_one_candidate() {
        let inputs = [coin(100_000, 1, ScriptKind::P2wpkh)];
        let outputs = [
            coin(30_001, 2, ScriptKind::P2wpkh),
            coin(60_002, 3, ScriptKind::P2wpkh),
        ];
        let tx = tx(&inputs, &outputs);
        assert_eq!(one_time_change(&tx, &[true, true]), None);
        assert_eq!(one_time_change(&tx, &[false, true]), Some(1));
        let same_addr = [outputs[0], coin(60_002, 2, ScriptKind::P2wpkh)];
        assert_eq!(
            one_time_change(
                &TxShape {
                    outputs: &same_addr,
                    ..tx
                },
                &[true, true]
            ),
            None
        );
    }

    #[test]
    fn legacy_skips_coinjoins() {
        // CJ2's JoinMarket round: change outputs are below the smallest input and fresh, but a
        // CoinJoin has no single change.
        let inputs: Vec<Coin> = [35_000_000, 35_000_000, 45_000_000, 50_000_000]
            .iter()
            .zip(1..)
            .map(|(&v, a)| coin(v, a, ScriptKind::P2wpkh))
            .collect();
        let values = [
            40_000_000, 30_001_000, 40_000_000, 5_001_000, 40_000_000, 9_995_000,
        ];
        let outputs: Vec<Coin> = values
            .iter()
            .zip(10..)
            .map(|(&v, a)| coin(v, a, ScriptKind::P2wpkh))
            .collect();
        let fresh = [false, false, false, true, false, false];
        let cj = tx(&inputs, &outputs);
        assert_eq!(legacy(&cj, &fresh), set(&[]));
        let plain = TxShape {
            outputs: &outputs[2..4],
            ..cj
        };
        assert_eq!(legacy(&plain, &fresh[2..4]), set(&[1]));
    }
}
