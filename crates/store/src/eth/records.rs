//! The values stored in the Ethereum tables, and their byte layouts (documented in `SCHEMA.md`).
//!
//! Like the Bitcoin records, every record decodes strictly: truncation, unknown tags and
//! trailing bytes are [`DecodeError`]s.

use chaintrace_model::eth::{AssetId, Transfer, TransferKind, U256};
use chaintrace_model::{AddrId, TxNum};

use crate::codec::{decode_whole, put_var_bytes, put_varint, DecodeError, Reader};

/// One block of the indexed Ethereum chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthBlockRecord {
    pub hash: [u8; 32],
    pub parent_hash: [u8; 32],
    pub timestamp: u64,
    pub miner: AddrId,
    /// `None` before London.
    pub base_fee: Option<u64>,
    pub first_tx: TxNum,
    pub tx_count: u32,
    pub first_event: u64,
    pub event_count: u32,
}

/// One transaction. Failed transactions are kept (they pay gas) with `success == false`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthTxRecord {
    pub hash: [u8; 32],
    pub height: u32,
    pub index: u32,
    pub from: AddrId,
    /// [`AddrId::NONE`] for a contract creation.
    pub to: AddrId,
    /// The contract a creation deployed, else [`AddrId::NONE`].
    pub created: AddrId,
    pub success: bool,
    pub gas_used: u64,
    pub effective_gas_price: u128,
    pub value: U256,
    pub first_event: u64,
    pub event_count: u32,
}

/// The Ethereum cursor and counters, kept under `eth.state` in `meta`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthState {
    pub chain_id: u64,
    /// Height of the first indexed block (ingest may start mid-chain with `--from`).
    pub start_height: u32,
    /// Height and hash of the last indexed block; `None` for an empty index.
    pub tip: Option<(u32, [u8; 32])>,
    pub next_tx: u64,
    pub next_event: u64,
    pub next_addr: u64,
}

impl EthState {
    pub fn empty(chain_id: u64, start_height: u32) -> Self {
        EthState {
            chain_id,
            start_height,
            tip: None,
            next_tx: 0,
            next_event: 0,
            next_addr: 1,
        }
    }

    /// The height the next block must have.
    pub fn next_height(&self) -> u32 {
        self.tip.map_or(self.start_height, |(h, _)| h + 1)
    }

    pub fn blocks(&self) -> u64 {
        self.tip
            .map_or(0, |(h, _)| u64::from(h - self.start_height) + 1)
    }

    pub fn addresses(&self) -> u64 {
        self.next_addr - 1
    }
}

/// What it takes to remove a block: the state before it, the balances it changed (as they were
/// before; `None` = no row) and the addresses it first saw running code. Transactions, events,
/// history rows and new addresses are found again from the block's ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthUndoRecord {
    pub prev_state: EthState,
    pub balances: Vec<(AddrId, AssetId, Option<U256>)>,
    pub new_contracts: Vec<AddrId>,
}

/// A balance or amount, stored as trimmed big-endian bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Balance(pub U256);

pub(crate) fn put_u256(out: &mut Vec<u8>, v: &U256) {
    put_var_bytes(out, &v.to_be_bytes_trimmed_vec());
}

pub(crate) fn read_u256(r: &mut Reader<'_>) -> Result<U256, DecodeError> {
    let b = r.var_bytes()?;
    if b.len() > 32 {
        return Err(DecodeError::new("u256", format!("{} bytes", b.len())));
    }
    U256::try_from_be_slice(b).ok_or_else(|| DecodeError::new("u256", "out of range"))
}

fn put_opt_height(out: &mut Vec<u8>, tip: &Option<(u32, [u8; 32])>) {
    match tip {
        None => out.push(0),
        Some((h, hash)) => {
            out.push(1);
            put_varint(out, u64::from(*h));
            out.extend_from_slice(hash);
        }
    }
}

fn read_opt_height(r: &mut Reader<'_>) -> Result<Option<(u32, [u8; 32])>, DecodeError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some((r.varint_u32()?, r.array()?))),
        t => Err(DecodeError::new("eth state", format!("tip tag {t}"))),
    }
}

fn read_bool(r: &mut Reader<'_>, what: &'static str) -> Result<bool, DecodeError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        t => Err(DecodeError::new(what, format!("flag {t}"))),
    }
}

impl EthBlockRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hash);
        out.extend_from_slice(&self.parent_hash);
        put_varint(out, self.timestamp);
        put_varint(out, self.miner.0);
        // base fee + 1, so 0 stands for "before London"
        put_varint(out, self.base_fee.map_or(0, |f| f.saturating_add(1)));
        put_varint(out, self.first_tx.0);
        put_varint(out, u64::from(self.tx_count));
        put_varint(out, self.first_event);
        put_varint(out, u64::from(self.event_count));
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "eth block record", |r| {
            Ok(EthBlockRecord {
                hash: r.array()?,
                parent_hash: r.array()?,
                timestamp: r.varint()?,
                miner: AddrId(r.varint()?),
                base_fee: r.varint()?.checked_sub(1),
                first_tx: TxNum(r.varint()?),
                tx_count: r.varint_u32()?,
                first_event: r.varint()?,
                event_count: r.varint_u32()?,
            })
        })
    }
}

impl EthTxRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hash);
        put_varint(out, u64::from(self.height));
        put_varint(out, u64::from(self.index));
        put_varint(out, self.from.0);
        put_varint(out, self.to.0);
        put_varint(out, self.created.0);
        out.push(u8::from(self.success));
        put_varint(out, self.gas_used);
        put_var_bytes(out, &trimmed_u128(self.effective_gas_price));
        put_u256(out, &self.value);
        put_varint(out, self.first_event);
        put_varint(out, u64::from(self.event_count));
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "eth tx record", |r| {
            Ok(EthTxRecord {
                hash: r.array()?,
                height: r.varint_u32()?,
                index: r.varint_u32()?,
                from: AddrId(r.varint()?),
                to: AddrId(r.varint()?),
                created: AddrId(r.varint()?),
                success: read_bool(r, "eth tx record")?,
                gas_used: r.varint()?,
                effective_gas_price: read_u128(r)?,
                value: read_u256(r)?,
                first_event: r.varint()?,
                event_count: r.varint_u32()?,
            })
        })
    }

    /// Reads only the hash, for name lookups that need nothing else.
    pub fn decode_hash(b: &[u8]) -> Result<[u8; 32], DecodeError> {
        Reader::new(b, "eth tx record").array()
    }
}

fn trimmed_u128(v: u128) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count();
    b[skip..].to_vec()
}

fn read_u128(r: &mut Reader<'_>) -> Result<u128, DecodeError> {
    let b = r.var_bytes()?;
    if b.len() > 16 {
        return Err(DecodeError::new("u128", format!("{} bytes", b.len())));
    }
    Ok(b.iter().fold(0u128, |acc, &x| (acc << 8) | u128::from(x)))
}

impl EthState {
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.chain_id);
        put_varint(out, u64::from(self.start_height));
        put_opt_height(out, &self.tip);
        put_varint(out, self.next_tx);
        put_varint(out, self.next_event);
        put_varint(out, self.next_addr);
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "eth state", Self::read)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(EthState {
            chain_id: r.varint()?,
            start_height: r.varint_u32()?,
            tip: read_opt_height(r)?,
            next_tx: r.varint()?,
            next_event: r.varint()?,
            next_addr: r.varint()?,
        })
    }
}

impl EthUndoRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut state = Vec::new();
        self.prev_state.encode(&mut state);
        put_var_bytes(out, &state);
        put_varint(out, self.balances.len() as u64);
        for (addr, asset, before) in &self.balances {
            put_varint(out, addr.0);
            put_varint(out, asset.0);
            match before {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    put_u256(out, v);
                }
            }
        }
        put_varint(out, self.new_contracts.len() as u64);
        for c in &self.new_contracts {
            put_varint(out, c.0);
        }
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "eth undo record", |r| {
            let prev_state = EthState::decode(r.var_bytes()?)?;
            let n = r.varint()?;
            let mut balances = Vec::new();
            for _ in 0..n {
                let addr = AddrId(r.varint()?);
                let asset = AssetId(r.varint()?);
                let before = read_bool(r, "eth undo record")?
                    .then(|| read_u256(r))
                    .transpose()?;
                balances.push((addr, asset, before));
            }
            let n = r.varint()?;
            let mut new_contracts = Vec::new();
            for _ in 0..n {
                new_contracts.push(AddrId(r.varint()?));
            }
            Ok(EthUndoRecord {
                prev_state,
                balances,
                new_contracts,
            })
        })
    }
}

/// A stored transfer with the height of its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    pub height: u32,
    pub transfer: Transfer,
}

impl EventRecord {
    /// `height(varint) kind(1) tx+1(varint, 0 = a block credit) asset from to amount`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, u64::from(self.height));
        encode_transfer(&self.transfer, out);
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "eth transfer", |r| {
            Ok(EventRecord {
                height: r.varint_u32()?,
                transfer: read_transfer(r)?,
            })
        })
    }
}

fn encode_transfer(t: &Transfer, out: &mut Vec<u8>) {
    out.push(t.kind as u8);
    put_varint(out, t.tx.map_or(0, |tx| tx.0 + 1));
    put_varint(out, t.asset.0);
    put_varint(out, t.from.0);
    put_varint(out, t.to.0);
    put_u256(out, &t.amount);
}

fn read_transfer(r: &mut Reader<'_>) -> Result<Transfer, DecodeError> {
    let tag = r.u8()?;
    let kind = TransferKind::from_byte(tag)
        .ok_or_else(|| DecodeError::new("eth transfer", format!("kind {tag}")))?;
    Ok(Transfer {
        kind,
        tx: r.varint()?.checked_sub(1).map(TxNum),
        asset: AssetId(r.varint()?),
        from: AddrId(r.varint()?),
        to: AddrId(r.varint()?),
        amount: read_u256(r)?,
    })
}

impl Balance {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_be_bytes_trimmed_vec());
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() > 32 {
            return Err(DecodeError::new("balance", format!("{} bytes", b.len())));
        }
        U256::try_from_be_slice(b)
            .map(Balance)
            .ok_or_else(|| DecodeError::new("balance", "out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let state = EthState {
            chain_id: 31337,
            start_height: 0,
            tip: Some((7, [3; 32])),
            next_tx: 12,
            next_event: 40,
            next_addr: 9,
        };
        let mut b = Vec::new();
        state.encode(&mut b);
        assert_eq!(EthState::decode(&b).unwrap(), state);

        let tx = EthTxRecord {
            hash: [9; 32],
            height: 5,
            index: 2,
            from: AddrId(3),
            to: AddrId::NONE,
            created: AddrId(8),
            success: false,
            gas_used: 21_000,
            effective_gas_price: 1_000_000_007,
            value: U256::from(10u64).pow(U256::from(20u64)),
            first_event: 17,
            event_count: 2,
        };
        let mut b = Vec::new();
        tx.encode(&mut b);
        assert_eq!(EthTxRecord::decode(&b).unwrap(), tx);
        assert_eq!(EthTxRecord::decode_hash(&b).unwrap(), [9; 32]);

        let undo = EthUndoRecord {
            prev_state: state,
            balances: vec![
                (AddrId(1), AssetId::ETH, None),
                (AddrId(2), AssetId(5), Some(U256::MAX)),
            ],
            new_contracts: vec![AddrId(4)],
        };
        let mut b = Vec::new();
        undo.encode(&mut b);
        assert_eq!(EthUndoRecord::decode(&b).unwrap(), undo);

        let t = Transfer {
            kind: TransferKind::GasTip,
            tx: Some(TxNum(0)),
            asset: AssetId::ETH,
            from: AddrId(1),
            to: AddrId::NONE,
            amount: U256::from(1u64),
        };
        let e = EventRecord {
            height: 3,
            transfer: t,
        };
        let mut b = Vec::new();
        e.encode(&mut b);
        assert_eq!(EventRecord::decode(&b).unwrap(), e);
    }

    #[test]
    fn bad_bytes_are_errors() {
        assert!(EventRecord::decode(&[0, 42, 0, 0, 0, 0, 0]).is_err());
        assert!(Balance::decode(&[1; 33]).is_err());
        assert!(EthState::decode(&[1, 0, 7]).is_err());
        let mut b = Vec::new();
        EthState::empty(1, 0).encode(&mut b);
        b.push(0);
        assert!(EthState::decode(&b).is_err());
    }
}
