//! CoinJoin detection (tracing spec §4): Wasabi 2, Wasabi 1, Whirlpool (mix and Tx0),
//! JoinMarket and generic equal-output rounds, run in Dumplings' precedence order, with the
//! Stonewall shape as a veto.
//!
//! Where Dumplings and GraphSense state a protocol differently, both rules are kept as named
//! detectors so a report can say which one fired. [`detect`] tries them in [`PRECEDENCE`] order;
//! [`detect_dumplings`] and [`detect_graphsense`] run one tool's rules alone, which is what the
//! spec's truth tables (§4.9) are written against.

mod blocksci;
mod denominations;
mod equal_mix;
mod joinmarket;
mod profile;
mod stonewall;
mod wasabi1;
mod wasabi2;
mod whirlpool;

#[cfg(test)]
mod vectors;

use chaintrace_model::btc::ScriptKind;
use chaintrace_model::AddrId;
use serde::Serialize;

use profile::Profile;

pub use blocksci::is_coinjoin as blocksci_is_coinjoin;
pub use denominations::{is_wasabi2_denomination, wasabi2_denominations};
pub use stonewall::is_stonewall;
pub use whirlpool::{
    whirlpool_equal_split, whirlpool_mix_round, whirlpool_mix_with_lineage, whirlpool_pool,
    whirlpool_tx0, MixRound, MixSplit, Pool, Tx0, WHIRLPOOL_POOLS,
};

/// One input or output as the detectors see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coin {
    pub value: u64,
    /// Dense address id; equal ids mean the same script. `AddrId::NONE` for scripts without an
    /// address (OP_RETURN, non-standard), which never count as equal to one another.
    pub addr: AddrId,
    pub kind: ScriptKind,
}

/// A transaction's shape: enough to run every detector.
#[derive(Clone, Copy, Debug)]
pub struct TxShape<'a> {
    pub height: u32,
    /// Whether mainnet activation heights gate the protocol detectors (Wasabi 1 from 610,000,
    /// Wasabi 2 from 741,213). Test networks have no such history, so every rule applies there.
    pub mainnet: bool,
    pub coinbase: bool,
    pub inputs: &'a [Coin],
    pub outputs: &'a [Coin],
}

/// Which mixing protocol a transaction matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Wasabi2,
    Wasabi1,
    WhirlpoolMix,
    /// The single-owner premix transaction of Whirlpool: not a CoinJoin itself.
    WhirlpoolTx0,
    #[serde(rename = "joinmarket")]
    JoinMarket,
    /// Equal-output CoinJoin of no recognised protocol.
    Generic,
}

/// A positive detection, with its evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Detection {
    pub protocol: Protocol,
    /// The rule that fired, e.g. `"dumplings-wasabi2"`, `"graphsense-joinmarket"`.
    pub detector: &'static str,
    /// The mixed denomination in satoshis (the largest level for multi-denomination rounds),
    /// serialized as a decimal string like every amount.
    #[serde(serialize_with = "decimal")]
    pub denomination: u64,
    /// Outputs of that denomination (the anonymity set at this hop).
    pub participants: u32,
    /// Whole percent.
    pub confidence: u8,
}

fn decimal<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Detection {
    /// Whether several owners' coins meet in this transaction (everything but a Tx0).
    pub fn is_multi_party(&self) -> bool {
        self.protocol != Protocol::WhirlpoolTx0
    }
}

/// The `detector` ids, one per rule.
pub mod detector {
    pub const DUMPLINGS_WASABI2: &str = "dumplings-wasabi2";
    pub const GRAPHSENSE_WASABI2: &str = "graphsense-wasabi2";
    pub const DUMPLINGS_WASABI1: &str = "dumplings-wasabi1";
    pub const GRAPHSENSE_WASABI1_0: &str = "graphsense-wasabi1.0";
    pub const GRAPHSENSE_WASABI1_1: &str = "graphsense-wasabi1.1";
    pub const DUMPLINGS_WHIRLPOOL: &str = "dumplings-whirlpool";
    pub const GRAPHSENSE_WHIRLPOOL: &str = "graphsense-whirlpool";
    pub const GRAPHSENSE_WHIRLPOOL_TX0: &str = "graphsense-whirlpool-tx0";
    pub const GRAPHSENSE_JOINMARKET: &str = "graphsense-joinmarket";
    pub const DUMPLINGS_OTHER_COINJOIN: &str = "dumplings-other-coinjoin";
    pub const BLOCKSCI_COINJOIN: &str = "blocksci-coinjoin";
    pub const EQUAL_OUTPUT_MIX: &str = "equal-output-mix";
}

type Rule = fn(&Profile<'_>) -> Option<Detection>;

/// Every rule, in the order [`detect`] tries them; the first match wins.
///
/// Families follow Dumplings' order (Wasabi 2 → Wasabi 1 → Whirlpool → the rest). Within a
/// family the Dumplings rule goes first where it checks more of the protocol's fingerprint
/// (script types, ordering, exact pool sizes). GraphSense's single-denomination Wasabi 1.0 rule
/// goes before its 1.1 rule, which then catches the multi-level rounds 1.0 misses. GraphSense's
/// JoinMarket rule goes before Dumplings' "other CoinJoin" because it names a protocol, and
/// BlockSci's generic rule, the loosest, comes next so that nothing it would catch reaches
/// clustering unflagged. The change-less equal-output mix of any denomination comes last: the
/// Whirlpool rules claim its known pools first.
pub const PRECEDENCE: [&str; 12] = [
    detector::DUMPLINGS_WASABI2,
    detector::GRAPHSENSE_WASABI2,
    detector::DUMPLINGS_WASABI1,
    detector::GRAPHSENSE_WASABI1_0,
    detector::GRAPHSENSE_WASABI1_1,
    detector::DUMPLINGS_WHIRLPOOL,
    detector::GRAPHSENSE_WHIRLPOOL,
    detector::GRAPHSENSE_WHIRLPOOL_TX0,
    detector::GRAPHSENSE_JOINMARKET,
    detector::DUMPLINGS_OTHER_COINJOIN,
    detector::BLOCKSCI_COINJOIN,
    detector::EQUAL_OUTPUT_MIX,
];

const RULES: [Rule; 12] = [
    wasabi2::dumplings,
    wasabi2::graphsense,
    wasabi1::dumplings,
    wasabi1::graphsense_base,
    wasabi1::graphsense_levels,
    whirlpool::dumplings_mix,
    whirlpool::graphsense_mix,
    whirlpool::graphsense_tx0,
    joinmarket::graphsense,
    joinmarket::dumplings_other,
    blocksci::rule,
    equal_mix::rule,
];

const DUMPLINGS_RULES: [Rule; 4] = [
    wasabi2::dumplings,
    wasabi1::dumplings,
    whirlpool::dumplings_mix,
    joinmarket::dumplings_other,
];

const GRAPHSENSE_RULES: [Rule; 6] = [
    wasabi2::graphsense,
    wasabi1::graphsense_base,
    wasabi1::graphsense_levels,
    whirlpool::graphsense_mix,
    whirlpool::graphsense_tx0,
    joinmarket::graphsense,
];

/// Runs the detectors in precedence order (Wasabi 2 → Wasabi 1 → Whirlpool → JoinMarket/generic)
/// and returns the first match, unless the Stonewall veto applies.
///
/// The veto removes multi-party answers only: a Stonewall is one or two wallets paying, so
/// calling it a CoinJoin would stop clustering and traces for nothing, while a Tx0 (one owner by
/// construction) is not a CoinJoin claim to veto.
pub fn detect(tx: &TxShape<'_>) -> Option<Detection> {
    if !worth_profiling(tx) {
        return None;
    }
    let profile = Profile::new(tx);
    let vetoed = stonewall::matches(&profile);
    first_match(&RULES, &profile, |d| !(vetoed && d.is_multi_party()))
}

/// Dumplings' rules alone, in Dumplings' order, without the Stonewall veto (Dumplings has none).
/// Dumplings recognises a Tx0 only as the parent of a mix input, never by shape, so this never
/// answers [`Protocol::WhirlpoolTx0`].
pub fn detect_dumplings(tx: &TxShape<'_>) -> Option<Detection> {
    if !worth_profiling(tx) {
        return None;
    }
    first_match(&DUMPLINGS_RULES, &Profile::new(tx), |_| true)
}

/// GraphSense's rules alone. GraphSense vetoes every answer, the Tx0 included, on a Stonewall
/// shape.
pub fn detect_graphsense(tx: &TxShape<'_>) -> Option<Detection> {
    if !worth_profiling(tx) {
        return None;
    }
    let profile = Profile::new(tx);
    if stonewall::matches(&profile) {
        return None;
    }
    first_match(&GRAPHSENSE_RULES, &profile, |_| true)
}

fn first_match(
    rules: &[Rule],
    profile: &Profile<'_>,
    allowed: impl Fn(&Detection) -> bool,
) -> Option<Detection> {
    rules
        .iter()
        .filter_map(|rule| rule(profile))
        .find(|d| allowed(d))
}

/// The fast reject that keeps ingest cheap: ordinary payments (one or two inputs, one or two
/// outputs) stop here without sorting anything.
///
/// Every rule needs two or more inputs, except the Tx0 rule, which needs an address-less
/// OP_RETURN output. Every rule needs three or more outputs, except that Dumplings' Wasabi 2
/// rule, read literally, would accept fifteen inputs paying two equal standard denominations:
/// a consolidation, not a round, which this floor drops on purpose.
fn worth_profiling(tx: &TxShape<'_>) -> bool {
    if tx.coinbase || tx.outputs.len() < 3 {
        return false;
    }
    tx.inputs.len() >= 2 || tx.outputs.iter().any(|c| c.addr.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small_coin() -> impl Strategy<Value = Coin> {
        let kinds = prop::sample::select(vec![ScriptKind::P2wpkh, ScriptKind::OpReturn]);
        (
            prop::sample::select(vec![5_000u64, 100_000, 1_000_285, 10_000_000]),
            0..4u64,
            kinds,
        )
            .prop_map(|(value, addr, kind)| Coin {
                value,
                addr: AddrId(addr),
                kind,
            })
    }

    proptest! {
        /// The fast path hides nothing but the two-output consolidation it documents.
        #[test]
        fn fast_path_hides_no_round(
            inputs in prop::collection::vec(small_coin(), 0..24),
            outputs in prop::collection::vec(small_coin(), 0..4),
        ) {
            let tx = TxShape { height: 0, mainnet: false, coinbase: false, inputs: &inputs, outputs: &outputs };
            prop_assume!(!worth_profiling(&tx));
            let profile = Profile::new(&tx);
            for d in RULES.iter().filter_map(|rule| rule(&profile)) {
                prop_assert_eq!(d.detector, detector::DUMPLINGS_WASABI2);
                prop_assert_eq!(outputs.len(), 2);
            }
        }
    }

    #[test]
    fn precedence_names_match_the_rules_in_order() {
        let mut fired = [false; RULES.len()];
        for (name, vector) in vectors::all() {
            let tx = vector.shape();
            let profile = Profile::new(&tx);
            for (i, (rule, id)) in RULES.iter().zip(PRECEDENCE).enumerate() {
                if let Some(d) = rule(&profile) {
                    assert_eq!(d.detector, id, "{name}");
                    fired[i] = true;
                }
            }
        }
        assert_eq!(
            fired,
            [true; RULES.len()],
            "every rule fires on some §4.9 vector"
        );
    }

    #[test]
    fn ordinary_payments_take_the_fast_path() {
        let coin = |value, addr| Coin {
            value,
            addr: AddrId(addr),
            kind: ScriptKind::P2wpkh,
        };
        let inputs = [coin(10_000, 1), coin(10_000, 2)];
        let outputs = [coin(9_000, 3), coin(9_000, 4)];
        let tx = TxShape {
            height: 800_000,
            mainnet: true,
            coinbase: false,
            inputs: &inputs,
            outputs: &outputs,
        };
        assert!(!worth_profiling(&tx));
        assert_eq!(detect(&tx), None);
    }
}
