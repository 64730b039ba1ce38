//! The ChipMixer chip-splitting shape, spec §4.7. Centralized mixers are identified by labels;
//! this structural hint, used in research, only suggests where to look for one.

use crate::coinjoin::TxShape;

/// ChipMixer opened around May 2017; earlier mainnet transactions of this shape are not it.
/// Block 463,000 was mined in the first days of that month.
pub const CHIPMIXER_FROM_HEIGHT: u32 = 463_000;

/// The smallest chip, 0.001 BTC: every chip value is a multiple of it.
const CHIP: u64 = 100_000;

/// Whether `tx` looks like a ChipMixer chip split (taintedtx `mixer_find`): ≥ 4 outputs of at
/// most two distinct values, every repeated value a whole number of chips (0.001 BTC) and none
/// of them below one chip.
pub fn chipmixer_hint(tx: &TxShape<'_>) -> bool {
    let too_early = tx.mainnet && tx.height < CHIPMIXER_FROM_HEIGHT;
    if tx.coinbase || too_early || tx.outputs.len() < 4 {
        return false;
    }
    // At most two distinct values, so two (value, count) slots replace any sorting.
    let mut slots: [(u64, u32); 2] = [(0, 0); 2];
    for coin in tx.outputs {
        match slots.iter_mut().find(|s| s.1 == 0 || s.0 == coin.value) {
            Some(slot) => *slot = (coin.value, slot.1.saturating_add(1)),
            None => return false,
        }
    }
    slots
        .iter()
        .filter(|(_, count)| *count >= 2)
        .all(|&(value, _)| value >= CHIP && value.is_multiple_of(CHIP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coinjoin::Coin;
    use chaintrace_model::btc::ScriptKind;
    use chaintrace_model::AddrId;

    fn outputs(values: &[u64]) -> Vec<Coin> {
        (1..)
            .zip(values)
            .map(|(addr, &value)| Coin {
                value,
                addr: AddrId(addr),
                kind: ScriptKind::P2pkh,
            })
            .collect()
    }

    fn hint(height: u32, values: &[u64]) -> bool {
        let inputs = outputs(&[100_000_000]);
        let outputs = outputs(values);
        chipmixer_hint(&TxShape {
            height,
            mainnet: true,
            coinbase: false,
            inputs: &inputs,
            outputs: &outputs,
        })
    }

    #[test]
    fn chips_of_round_value_with_one_remainder() {
        assert!(hint(500_000, &[1_600_000, 1_600_000, 1_600_000, 93_456]));
        assert!(hint(500_000, &[400_000; 5]));
    }

    #[test]
    fn rejects_other_shapes() {
        assert!(
            !hint(500_000, &[1_600_000, 1_600_000, 93_456]),
            "three outputs"
        );
        assert!(
            !hint(500_000, &[1_600_000, 1_600_000, 800_000, 93_456]),
            "three values"
        );
        assert!(
            !hint(500_000, &[1_650_000, 1_650_000, 1_650_000, 93_456]),
            "not whole chips"
        );
        assert!(
            !hint(500_000, &[50_000, 50_000, 50_000, 1_600_000]),
            "below one chip"
        );
        assert!(
            !hint(CHIPMIXER_FROM_HEIGHT - 1, &[400_000; 5]),
            "before ChipMixer"
        );
    }
}
