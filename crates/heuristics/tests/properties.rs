//! Properties every detector keeps on arbitrary shapes: no panic (empty transactions, values
//! near `u64::MAX`, huge fan-in), deterministic answers, and answers that are consistent with
//! the transaction they describe.

use chaintrace_heuristics::change;
use chaintrace_heuristics::coinjoin::{
    blocksci_is_coinjoin, detect_dumplings, detect_graphsense, is_stonewall,
};
use chaintrace_heuristics::peel::{is_peel_candidate_with, peel_change, PeelFacts};
use chaintrace_heuristics::{chipmixer_hint, detect, Coin, TxShape};
use chaintrace_model::btc::ScriptKind;
use chaintrace_model::AddrId;
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = ScriptKind> {
    prop_oneof![
        4 => Just(ScriptKind::P2wpkh),
        1 => Just(ScriptKind::P2tr),
        1 => Just(ScriptKind::P2pkh),
        1 => Just(ScriptKind::OpReturn),
    ]
}

/// Values drawn to hit the rules' interesting regions: pool sizes, the Wasabi base, equal
/// values (a small pool makes repeats likely), and the extremes.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(u64::MAX),
        u64::MAX - 1_000..=u64::MAX,
        prop::sample::select(vec![
            546, 2_730, 5_000, 100_000, 1_000_000, 1_000_285, 10_000_000
        ]),
        0..200_000_000u64,
        any::<u64>(),
    ]
}

fn coin() -> impl Strategy<Value = Coin> {
    (value(), 0..12u64, kind()).prop_map(|(value, addr, kind)| Coin {
        value,
        addr: if kind == ScriptKind::OpReturn {
            AddrId::NONE
        } else {
            AddrId(addr)
        },
        kind,
    })
}

fn coins(max: usize) -> impl Strategy<Value = Vec<Coin>> {
    prop::collection::vec(coin(), 0..max)
}

fn shape<'a>(
    height: u32,
    mainnet: bool,
    coinbase: bool,
    ins: &'a [Coin],
    outs: &'a [Coin],
) -> TxShape<'a> {
    TxShape {
        height,
        mainnet,
        coinbase,
        inputs: ins,
        outputs: outs,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn detectors_never_panic_and_are_deterministic(
        ins in coins(40), outs in coins(40), height in any::<u32>(), mainnet in any::<bool>(),
        coinbase in any::<bool>(),
    ) {
        let tx = shape(height, mainnet, coinbase, &ins, &outs);
        let first = detect(&tx);
        prop_assert_eq!(first, detect(&tx));
        prop_assert_eq!(detect_dumplings(&tx), detect_dumplings(&tx));
        prop_assert_eq!(detect_graphsense(&tx), detect_graphsense(&tx));
        let _ = (blocksci_is_coinjoin(&tx), is_stonewall(&tx), chipmixer_hint(&tx));
        if let Some(d) = first {
            prop_assert!(!coinbase, "coinbases are never CoinJoins");
            prop_assert!(d.confidence <= 100);
            prop_assert!(d.participants as usize <= outs.len());
            prop_assert!(outs.iter().any(|c| c.value == d.denomination));
        }
    }

    #[test]
    fn equal_value_rounds_with_huge_values_never_panic(
        n_in in 0..120usize, n_out in 0..120usize, v in value(), spread in 0..3u64,
    ) {
        let ins: Vec<Coin> = (0..n_in)
            .map(|i| Coin { value: v.saturating_add(i as u64 % (spread + 1)), addr: AddrId(i as u64 + 1), kind: ScriptKind::P2wpkh })
            .collect();
        let outs: Vec<Coin> = (0..n_out)
            .map(|i| Coin { value: v.wrapping_sub(i as u64 % (spread + 1)), addr: AddrId(1_000 + i as u64), kind: ScriptKind::P2wpkh })
            .collect();
        for mainnet in [true, false] {
            let tx = shape(900_000, mainnet, false, &ins, &outs);
            prop_assert_eq!(detect(&tx), detect(&tx));
            let _ = (detect_dumplings(&tx), detect_graphsense(&tx), blocksci_is_coinjoin(&tx));
        }
    }

    #[test]
    fn change_and_peel_rules_never_panic(
        ins in coins(8), outs in coins(12), fresh in prop::collection::vec(any::<bool>(), 0..14),
        spent in prop::collection::vec(prop::option::of(any::<u32>()), 0..14), digits in 0..30u32,
    ) {
        let tx = shape(800_000, true, false, &ins, &outs);
        let sets = [
            change::address_reuse(&tx),
            change::address_type(&tx),
            change::optimal_change(&tx),
            change::power_of_ten_value(&tx, digits),
            change::client_change_address_behavior(&tx, &fresh),
            change::legacy(&tx, &fresh),
            change::locktime(&tx, 1, &spent),
        ];
        for set in &sets {
            prop_assert!(set.iter().all(|i| i < outs.len() && !outs[i].kind.is_unspendable()));
        }
        for vout in [change::one_time_change(&tx, &fresh), change::meiklejohn_h2(&tx, &fresh)].into_iter().flatten() {
            prop_assert!(vout < outs.len());
        }
        let facts = PeelFacts { spent_by_peel: &fresh, fresh: &fresh };
        let _ = is_peel_candidate_with(&tx, 2);
        if let Some((vout, _)) = peel_change(&tx, &facts) {
            prop_assert!(vout < outs.len() && !outs[vout].kind.is_unspendable());
        }
    }

    #[test]
    fn detection_ignores_the_height_off_mainnet(
        ins in coins(30), outs in coins(30), h1 in any::<u32>(), h2 in any::<u32>(),
    ) {
        prop_assert_eq!(
            detect(&shape(h1, false, false, &ins, &outs)),
            detect(&shape(h2, false, false, &ins, &outs))
        );
    }
}
