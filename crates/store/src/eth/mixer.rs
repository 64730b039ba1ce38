//! Tornado-shaped pool events (`eth_mixer_events`): every `Deposit` and `Withdrawal` log of any
//! contract, with what deposit↔withdrawal linking needs next to it — the transaction's sender,
//! its fee terms (a wallet fingerprint), the block and its timestamp. Which contracts are real
//! pools is left to a registry at query time: the index keeps every emitter, so a registry
//! learnt later needs no re-ingest.
//!
//! Rows are keyed `contract ‖ tx ‖ n`, so one pool's events are one contiguous range in chain
//! order, and the events of a block range are found with one seek per emitting contract.

use chaintrace_model::eth::{GasPricing, B256, U256};
use chaintrace_model::{AddrId, TxNum};

use crate::codec::{decode_whole, put_var_bytes, put_varint, DecodeError, Reader};
use crate::eth::records::{put_u256, read_u256};
use crate::tables::{EthMixerEvents, MixerKey, ValueCodec};
use crate::{Batch, Store, StoreError};

use super::EthIndex;

/// A stored mixer event with its transaction's context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixerEventRecord {
    pub height: u32,
    /// Timestamp of the block.
    pub block_time: u64,
    /// `tx.from`: the depositor, or the withdrawal's sender (the relayer or the recipient).
    pub from: AddrId,
    pub pricing: GasPricing,
    pub effective_gas_price: u128,
    pub event: StoredMixerEvent,
}

/// The event itself, addresses as dense ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredMixerEvent {
    Deposit {
        commitment: B256,
        leaf_index: u32,
        /// The timestamp the contract logged.
        timestamp: u64,
    },
    Withdrawal {
        to: AddrId,
        nullifier_hash: B256,
        /// [`AddrId::NONE`] for a self-relayed withdrawal.
        relayer: AddrId,
        fee: U256,
    },
}

impl StoredMixerEvent {
    pub fn is_deposit(&self) -> bool {
        matches!(self, StoredMixerEvent::Deposit { .. })
    }
}

const PRICING_LEGACY: u8 = 0;
const PRICING_1559: u8 = 1;
const KIND_DEPOSIT: u8 = 0;
const KIND_WITHDRAWAL: u8 = 1;

fn put_u128(out: &mut Vec<u8>, v: u128) {
    put_u256(out, &U256::from(v));
}

fn read_u128(r: &mut Reader<'_>, what: &'static str) -> Result<u128, DecodeError> {
    u128::try_from(read_u256(r)?).map_err(|_| DecodeError::new(what, "beyond 128 bits"))
}

impl MixerEventRecord {
    /// `height(var) block_time(var) from(var) pricing effective_gas_price(var len + BE) event`
    /// where `pricing = 0 gas_price | 1 max_fee max_priority` (each var len + trimmed BE) and
    /// `event = 0 commitment(32) leaf_index(var) timestamp(var)
    ///        | 1 to(var) nullifier_hash(32) relayer(var) fee(var len + BE)`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, u64::from(self.height));
        put_varint(out, self.block_time);
        put_varint(out, self.from.0);
        match self.pricing {
            GasPricing::Legacy { gas_price } => {
                out.push(PRICING_LEGACY);
                put_u128(out, gas_price);
            }
            GasPricing::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => {
                out.push(PRICING_1559);
                put_u128(out, max_fee_per_gas);
                put_u128(out, max_priority_fee_per_gas);
            }
        }
        put_u128(out, self.effective_gas_price);
        match &self.event {
            StoredMixerEvent::Deposit {
                commitment,
                leaf_index,
                timestamp,
            } => {
                out.push(KIND_DEPOSIT);
                out.extend_from_slice(commitment.as_slice());
                put_varint(out, u64::from(*leaf_index));
                put_varint(out, *timestamp);
            }
            StoredMixerEvent::Withdrawal {
                to,
                nullifier_hash,
                relayer,
                fee,
            } => {
                out.push(KIND_WITHDRAWAL);
                put_varint(out, to.0);
                out.extend_from_slice(nullifier_hash.as_slice());
                put_varint(out, relayer.0);
                put_var_bytes(out, &fee.to_be_bytes_trimmed_vec());
            }
        }
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "mixer event", |r| {
            Ok(MixerEventRecord {
                height: r.varint_u32()?,
                block_time: r.varint()?,
                from: AddrId(r.varint()?),
                pricing: read_pricing(r)?,
                effective_gas_price: read_u128(r, "mixer event gas price")?,
                event: read_event(r)?,
            })
        })
    }
}

fn read_pricing(r: &mut Reader<'_>) -> Result<GasPricing, DecodeError> {
    match r.u8()? {
        PRICING_LEGACY => Ok(GasPricing::Legacy {
            gas_price: read_u128(r, "mixer event gas price")?,
        }),
        PRICING_1559 => Ok(GasPricing::Eip1559 {
            max_fee_per_gas: read_u128(r, "mixer event max fee")?,
            max_priority_fee_per_gas: read_u128(r, "mixer event priority fee")?,
        }),
        t => Err(DecodeError::new("mixer event", format!("pricing tag {t}"))),
    }
}

fn read_event(r: &mut Reader<'_>) -> Result<StoredMixerEvent, DecodeError> {
    match r.u8()? {
        KIND_DEPOSIT => Ok(StoredMixerEvent::Deposit {
            commitment: B256::from(r.array::<32>()?),
            leaf_index: r.varint_u32()?,
            timestamp: r.varint()?,
        }),
        KIND_WITHDRAWAL => Ok(StoredMixerEvent::Withdrawal {
            to: AddrId(r.varint()?),
            nullifier_hash: B256::from(r.array::<32>()?),
            relayer: AddrId(r.varint()?),
            fee: read_u256(r)?,
        }),
        t => Err(DecodeError::new("mixer event", format!("kind {t}"))),
    }
}

impl ValueCodec for MixerEventRecord {
    fn encode_value(&self, out: &mut Vec<u8>) {
        self.encode(out);
    }
    fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(b)
    }
}

/// A mixer event as read back: where it is and what it says.
pub type MixerRow = (MixerKey, MixerEventRecord);

impl EthIndex<'_> {
    /// The events of `contract` from transaction `from` on, in chain order, read lazily (a
    /// busy pool has hundreds of thousands).
    pub fn mixer_events_of(
        &self,
        contract: AddrId,
        from: TxNum,
    ) -> impl Iterator<Item = Result<MixerRow, StoreError>> + '_ {
        let start = MixerKey {
            contract,
            tx: from,
            n: 0,
        };
        self.store()
            .iter_from::<EthMixerEvents>(Some(&start))
            .take_while(move |item| item.as_ref().map_or(true, |(k, _)| k.contract == contract))
    }

    /// The deposits into `contract`, in chain order.
    pub fn mixer_deposits(
        &self,
        contract: AddrId,
    ) -> impl Iterator<Item = Result<MixerRow, StoreError>> + '_ {
        self.mixer_events_of(contract, TxNum(0))
            .filter(|item| item.as_ref().map_or(true, |(_, r)| r.event.is_deposit()))
    }

    /// The withdrawals from `contract`, in chain order.
    pub fn mixer_withdrawals(
        &self,
        contract: AddrId,
    ) -> impl Iterator<Item = Result<MixerRow, StoreError>> + '_ {
        self.mixer_events_of(contract, TxNum(0))
            .filter(|item| item.as_ref().map_or(true, |(_, r)| !r.event.is_deposit()))
    }

    /// Every contract that emitted a mixer event, in id order: one seek per contract.
    pub fn mixer_contracts(&self) -> Result<Vec<AddrId>, StoreError> {
        let mut out = Vec::new();
        let mut next = Some(AddrId(0));
        while let Some(contract) = next {
            let start = MixerKey {
                contract,
                tx: TxNum(0),
                n: 0,
            };
            let Some(item) = self
                .store()
                .iter_from::<EthMixerEvents>(Some(&start))
                .next()
            else {
                break;
            };
            let found = item?.0.contract;
            out.push(found);
            next = found.0.checked_add(1).map(AddrId);
        }
        Ok(out)
    }

    /// Every mixer event of blocks `first..=last`, of all contracts, in chain order (by
    /// transaction, then position in it).
    pub fn mixer_events_in_blocks(
        &self,
        first: u32,
        last: u32,
    ) -> Result<Vec<MixerRow>, StoreError> {
        let Some(txs) = self.tx_range(first, last)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for contract in self.mixer_contracts()? {
            for item in self.mixer_events_of(contract, txs.start) {
                let row = item?;
                if row.0.tx >= txs.end {
                    break;
                }
                out.push(row);
            }
        }
        out.sort_by_key(|(k, _)| (k.tx, k.n));
        Ok(out)
    }

    /// The transactions of the indexed blocks among `first..=last`, as a half-open range.
    fn tx_range(
        &self,
        first: u32,
        last: u32,
    ) -> Result<Option<std::ops::Range<TxNum>>, StoreError> {
        let mut start = None;
        let mut end = None;
        for h in first..=last {
            if let Some(b) = self.block(h)? {
                start.get_or_insert(b.first_tx);
                end = Some(TxNum(b.first_tx.0 + u64::from(b.tx_count)));
            }
        }
        Ok(start.zip(end).map(|(s, e)| s..e))
    }
}

/// Deletes the mixer events of transactions `txs` (one block's), of every contract.
pub(super) fn delete_events(
    store: &Store,
    txs: std::ops::Range<TxNum>,
    batch: &mut Batch,
) -> Result<(), StoreError> {
    let index = EthIndex::new(store);
    for contract in index.mixer_contracts()? {
        for item in index.mixer_events_of(contract, txs.start) {
            let (key, _) = item?;
            if key.tx >= txs.end {
                break;
            }
            batch.delete::<EthMixerEvents>(&key);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event: StoredMixerEvent, pricing: GasPricing) -> MixerEventRecord {
        MixerEventRecord {
            height: 21,
            block_time: 1_700_000_252,
            from: AddrId(7),
            pricing,
            effective_gas_price: 27_400_000_000,
            event,
        }
    }

    #[test]
    fn records_round_trip_and_reject_bad_bytes() {
        let deposit = record(
            StoredMixerEvent::Deposit {
                commitment: B256::repeat_byte(0xc0),
                leaf_index: 14,
                timestamp: 1_700_000_252,
            },
            GasPricing::Legacy {
                gas_price: 27_400_000_000,
            },
        );
        let withdrawal = record(
            StoredMixerEvent::Withdrawal {
                to: AddrId(9),
                nullifier_hash: B256::repeat_byte(0x4a),
                relayer: AddrId::NONE,
                fee: U256::MAX,
            },
            GasPricing::Eip1559 {
                max_fee_per_gas: u128::MAX,
                max_priority_fee_per_gas: 1,
            },
        );
        for r in [deposit, withdrawal] {
            let mut b = Vec::new();
            r.encode(&mut b);
            assert_eq!(MixerEventRecord::decode(&b).unwrap(), r);
            assert!(MixerEventRecord::decode(&b[..b.len() - 1]).is_err());
            b.push(0);
            assert!(MixerEventRecord::decode(&b).is_err());
        }
        let mut b = Vec::new();
        put_varint(&mut b, 1);
        put_varint(&mut b, 1);
        put_varint(&mut b, 1);
        b.push(9);
        assert!(MixerEventRecord::decode(&b).is_err(), "unknown pricing tag");
    }
}
