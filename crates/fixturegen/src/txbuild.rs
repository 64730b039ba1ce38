//! Turning chosen coins and outputs into a signed-looking transaction, and fee arithmetic.

use bitcoin::{
    absolute, transaction, Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
};

use crate::keys::KeyFactory;
use crate::rng::Rng;
use crate::scripts::{unlock, ScriptKind};

/// Outputs below this value are never created (except zero-value OP_RETURNs), as wallets refuse
/// to create dust.
pub(crate) const DUST: u64 = 546;

/// Version, lock time, input and output counts, and the segwit marker and flag, in weight units.
const TX_OVERHEAD_WEIGHT: u64 = (4 + 4 + 3 + 3) * 4 + 2;

/// A coin the generator can spend: everything needed to rebuild its unlocking data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Coin {
    pub(crate) outpoint: OutPoint,
    pub(crate) value: u64,
    pub(crate) kind: ScriptKind,
    pub(crate) key_id: u64,
    /// Height of the block that created the coin.
    pub(crate) height: u32,
}

/// A transaction ready for a block, with what block assembly needs to know about it.
#[derive(Clone, Debug)]
pub(crate) struct BuiltTx {
    pub(crate) tx: Transaction,
    pub(crate) fee: u64,
    /// The newest height among the coins it spends; stale blocks copy only transactions whose
    /// inputs all predate the fork, so the copies stay valid on the stale branch.
    pub(crate) newest_input_height: u32,
}

pub(crate) fn output_weight(script: &ScriptBuf) -> u64 {
    let len = script.len() as u64;
    let len_prefix = if len < 0xfd { 1 } else { 3 };
    (8 + len_prefix + len) * 4
}

/// The fee a transaction of at most this many weight units pays at `rate` sat/vB.
pub(crate) fn fee_bound(inputs: &[Coin], outputs: &[&ScriptBuf], rate: u64) -> u64 {
    let weight = TX_OVERHEAD_WEIGHT
        + inputs
            .iter()
            .map(|c| c.kind.input_weight_bound())
            .sum::<u64>()
        + outputs.iter().map(|s| output_weight(s)).sum::<u64>();
    weight.div_ceil(4) * rate
}

pub(crate) fn fee_at(tx: &Transaction, rate: u64) -> u64 {
    tx.vsize() as u64 * rate
}

pub(crate) fn total_value(coins: &[Coin]) -> u64 {
    coins.iter().map(|c| c.value).sum()
}

pub(crate) fn tx_out(script_pubkey: ScriptBuf, value: u64) -> TxOut {
    TxOut {
        value: Amount::from_sat(value),
        script_pubkey,
    }
}

/// Builds the transaction with wallet-like framing: mostly version 2 with Core's anti fee
/// sniping lock time (the previous height) and RBF-signalling sequences.
pub(crate) fn assemble_tx(
    keys: &KeyFactory,
    rng: &mut Rng,
    height: u32,
    inputs: &[Coin],
    output: Vec<TxOut>,
) -> Transaction {
    let version = if rng.chance(80) {
        transaction::Version::ONE
    } else {
        transaction::Version::TWO
    };
    let (lock_time, sequence) = if height > 0 && rng.chance(600) {
        let lock = absolute::LockTime::from_height(height - 1).unwrap_or(absolute::LockTime::ZERO);
        let seq = if rng.chance(700) {
            Sequence::ENABLE_RBF_NO_LOCKTIME
        } else {
            Sequence::ENABLE_LOCKTIME_NO_RBF
        };
        (lock, seq)
    } else {
        (absolute::LockTime::ZERO, Sequence::MAX)
    };
    let input = inputs
        .iter()
        .map(|coin| {
            let (script_sig, witness) = unlock(keys, coin.kind, coin.key_id, rng);
            TxIn {
                previous_output: coin.outpoint,
                script_sig,
                sequence,
                witness,
            }
        })
        .collect();
    Transaction {
        version,
        lock_time,
        input,
        output,
    }
}

/// Sets the value of output `index` so that the transaction pays exactly `rate` sat/vB and
/// returns the fee. Values do not change the serialized size, so one pass is exact.
pub(crate) fn settle_remainder(
    tx: &mut Transaction,
    input_total: u64,
    index: usize,
    rate: u64,
) -> Option<u64> {
    let fee = fee_at(tx, rate);
    let others: u64 = tx
        .output
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, o)| o.value.to_sat())
        .sum();
    let remainder = input_total.checked_sub(others)?.checked_sub(fee)?;
    if remainder < DUST {
        return None;
    }
    tx.output[index].value = Amount::from_sat(remainder);
    Some(fee)
}
