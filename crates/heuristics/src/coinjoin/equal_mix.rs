//! Equal-output mixes without change, of any denomination: `n` participants each bring one
//! coin a little above `d` and each take back exactly `d`, the excess paying the miner. This is
//! Whirlpool's mix structure (spec §4.4, `verify_mix_tx`) without its fixed pool sizes, which
//! is how self-hosted and forked coordinators, and hand-made mixes, look. The protocol rules
//! above it claim the known pools first.

use super::profile::Profile;
use super::{detector, Detection, Protocol};

/// Participants below this are a plain payment split, not an anonymity set.
const MIN_PARTICIPANTS: u32 = 3;
/// A participant's excess over `d` (its miner-fee share) is at most 1 % of `d`.
const MAX_EXCESS_PER_MILLE: u64 = 10;
/// A documented choice: structurally strict (one coin per distinct owner in, exactly `d` each
/// out), but nothing names the protocol.
const CONFIDENCE: u8 = 40;

/// As many inputs as outputs (at least three); every output exactly `d`, each to its own
/// address; every input from its own address and worth between `d` and `d` plus 1 %.
pub(super) fn rule(p: &Profile<'_>) -> Option<Detection> {
    let n = p.n_out();
    let group = p.outs.most_frequent()?;
    let d = group.value;
    let shaped = n >= MIN_PARTICIPANTS
        && p.n_in() == n
        && group.count == n
        && d > 0
        && p.out_addrs.addressed == n
        && p.out_addrs.all_distinct()
        && p.in_addrs.addressed == n
        && p.in_addrs.all_distinct()
        && p.tx
            .inputs
            .iter()
            .all(|c| c.value >= d && c.value - d <= d / 1_000 * MAX_EXCESS_PER_MILLE);
    shaped.then_some(Detection {
        protocol: Protocol::Generic,
        detector: detector::EQUAL_OUTPUT_MIX,
        denomination: d,
        participants: n,
        confidence: CONFIDENCE,
    })
}

#[cfg(test)]
mod tests {
    use chaintrace_model::btc::ScriptKind;
    use chaintrace_model::AddrId;

    use super::super::{detect, Coin, TxShape};
    use super::*;

    fn coin(value: u64, addr: u64) -> Coin {
        Coin {
            value,
            addr: AddrId(addr),
            kind: ScriptKind::P2wpkh,
        }
    }

    fn shape<'a>(inputs: &'a [Coin], outputs: &'a [Coin]) -> TxShape<'a> {
        TxShape {
            height: 178,
            mainnet: false,
            coinbase: false,
            inputs,
            outputs,
        }
    }

    #[test]
    fn a_five_way_one_coin_mix_of_a_non_pool_denomination_is_generic() {
        let inputs: Vec<Coin> = (1..6).map(|i| coin(100_002_000, i)).collect();
        let outputs: Vec<Coin> = (10..15).map(|i| coin(100_000_000, i)).collect();
        let d = detect(&shape(&inputs, &outputs)).unwrap();
        assert_eq!(d.detector, detector::EQUAL_OUTPUT_MIX);
        assert_eq!((d.denomination, d.participants), (100_000_000, 5));
    }

    #[test]
    fn shared_owners_large_excess_or_too_few_participants_are_not_mixes() {
        let outputs: Vec<Coin> = (10..15).map(|i| coin(100_000_000, i)).collect();
        let one_owner: Vec<Coin> = (0..5).map(|_| coin(100_002_000, 1)).collect();
        assert!(detect(&shape(&one_owner, &outputs)).is_none());
        let excess: Vec<Coin> = (1..6).map(|i| coin(101_500_000, i)).collect();
        assert!(detect(&shape(&excess, &outputs)).is_none());
        let two: Vec<Coin> = (1..3).map(|i| coin(100_002_000, i)).collect();
        assert!(detect(&shape(&two, &outputs[..2])).is_none());
    }
}
