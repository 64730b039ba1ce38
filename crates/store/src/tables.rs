//! The table of contents of the index: every column family, its key and value types, and how
//! they are laid out in bytes. Nothing outside this crate writes raw bytes; everything goes
//! through these types. The same layout is written out for humans in `SCHEMA.md`.

use chaintrace_model::btc::AddrKey;
use chaintrace_model::{AddrId, TxNum};

use crate::codec::{put_varint, DecodeError, Reader};
use crate::records::{BlockRecord, ChainState, SpendRecord, TxRecord, UndoRecord, UtxoRecord};

/// Encodes a table key. Keys that order numerically use big-endian fixed-width integers.
pub trait KeyCodec: Sized {
    fn encode_key(&self, out: &mut Vec<u8>);
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError>;
}

/// Encodes a table value.
pub trait ValueCodec: Sized {
    fn encode_value(&self, out: &mut Vec<u8>);
    fn decode_value(b: &[u8]) -> Result<Self, DecodeError>;
}

/// A column family with typed keys and values.
pub trait Table {
    /// Column family name, as it appears on disk.
    const NAME: &'static str;
    /// Whether point lookups of absent keys are frequent enough to deserve a bloom filter.
    const BLOOM: bool;
    /// Position in [`ALL_TABLES`].
    const INDEX: usize;
    type Key: KeyCodec;
    type Value: ValueCodec;
}

macro_rules! tables {
    ($($(#[$doc:meta])* $ty:ident = $name:literal, bloom: $bloom:expr, $key:ty => $val:ty;)*) => {
        $(
            $(#[$doc])*
            pub struct $ty;
            impl Table for $ty {
                const NAME: &'static str = $name;
                const BLOOM: bool = $bloom;
                const INDEX: usize = table_index($name);
                type Key = $key;
                type Value = $val;
            }
        )*
        /// Every column family, in the fixed order used by the content digest.
        pub const ALL_TABLES: &[(&str, bool)] = &[$(($name, $bloom)),*];
    };
}

tables! {
    /// Schema version, network, and the Bitcoin cursor with its counters.
    Meta = "meta", bloom: false, MetaKey => Vec<u8>;
    /// Active-chain blocks by height.
    BtcBlocks = "btc_blocks", bloom: false, Height => BlockRecord;
    /// Block hash (internal byte order) → height, for active-chain blocks only.
    BtcBlockHeights = "btc_block_heights", bloom: true, Hash32 => Height;
    /// Txid (internal byte order) → dense transaction number.
    BtcTxids = "btc_txids", bloom: true, Hash32 => TxNum;
    /// Transaction number → transaction with resolved inputs.
    BtcTxs = "btc_txs", bloom: false, TxNum => TxRecord;
    /// Spent output (transaction number, vout) → spending transaction and input index.
    BtcSpends = "btc_spends", bloom: true, OutPointNum => SpendRecord;
    /// Unspent outputs by (txid, vout): what the ingest needs to resolve a prevout in one lookup.
    BtcUtxos = "btc_utxos", bloom: true, OutPointTxid => UtxoRecord;
    /// Canonical address key → dense address id.
    BtcAddrs = "btc_addrs", bloom: true, AddrKey => AddrId;
    /// Dense address id → canonical address key.
    BtcAddrKeys = "btc_addr_keys", bloom: false, AddrId => AddrKey;
    /// Outputs received by an address, in chain order: (address id, tx number, vout) → value.
    BtcAddrOutputs = "btc_addr_outputs", bloom: false, AddrOutput => Amount;
    /// Undo record by height, for rolling back reorganised blocks.
    BtcUndo = "btc_undo", bloom: false, Height => UndoRecord;
}

/// Position of the table called `name` in [`ALL_TABLES`] (evaluated at compile time).
const fn table_index(name: &str) -> usize {
    let mut i = 0;
    while i < ALL_TABLES.len() {
        if str_eq(ALL_TABLES[i].0, name) {
            return i;
        }
        i += 1;
    }
    panic!("table missing from ALL_TABLES")
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Keys of the `meta` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaKey {
    SchemaVersion,
    BtcNetwork,
    BtcState,
}

impl MetaKey {
    pub fn as_str(self) -> &'static str {
        match self {
            MetaKey::SchemaVersion => "schema_version",
            MetaKey::BtcNetwork => "btc.network",
            MetaKey::BtcState => "btc.state",
        }
    }
}

impl KeyCodec for MetaKey {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_str().as_bytes());
    }

    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        [
            MetaKey::SchemaVersion,
            MetaKey::BtcNetwork,
            MetaKey::BtcState,
        ]
        .into_iter()
        .find(|k| k.as_str().as_bytes() == b)
        .ok_or_else(|| DecodeError::new("meta key", format!("{:?}", String::from_utf8_lossy(b))))
    }
}

impl ValueCodec for Vec<u8> {
    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }

    fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
        Ok(b.to_vec())
    }
}

/// A block height (big-endian u32 in keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Height(pub u32);

/// A 32-byte hash in internal byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hash32(pub [u8; 32]);

/// An output named by dense transaction number: `tx(8 BE) vout(4 BE)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutPointNum {
    pub tx: TxNum,
    pub vout: u32,
}

/// An output named by txid, as transactions name their prevouts: `txid(32) vout(4 BE)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutPointTxid {
    pub txid: [u8; 32],
    pub vout: u32,
}

/// One output received by an address: `addr(8 BE) tx(8 BE) vout(4 BE)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AddrOutput {
    pub addr: AddrId,
    pub tx: TxNum,
    pub vout: u32,
}

/// An amount in base units (varint).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount(pub u64);

fn fixed<const N: usize>(b: &[u8], what: &'static str) -> Result<[u8; N], DecodeError> {
    b.try_into()
        .map_err(|_| DecodeError::new(what, format!("expected {N} bytes, got {}", b.len())))
}

impl KeyCodec for Height {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        Ok(Height(u32::from_be_bytes(fixed(b, "height key")?)))
    }
}

impl ValueCodec for Height {
    fn encode_value(&self, out: &mut Vec<u8>) {
        put_varint(out, u64::from(self.0));
    }
    fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "height");
        let h = r.varint_u32()?;
        r.finish()?;
        Ok(Height(h))
    }
}

impl KeyCodec for Hash32 {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        Ok(Hash32(fixed(b, "hash key")?))
    }
}

impl KeyCodec for TxNum {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        Ok(TxNum(u64::from_be_bytes(fixed(b, "tx number key")?)))
    }
}

impl KeyCodec for AddrId {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        Ok(AddrId(u64::from_be_bytes(fixed(b, "address id key")?)))
    }
}

fn varint_value(b: &[u8], what: &'static str) -> Result<u64, DecodeError> {
    let mut r = Reader::new(b, what);
    let v = r.varint()?;
    r.finish()?;
    Ok(v)
}

impl ValueCodec for TxNum {
    fn encode_value(&self, out: &mut Vec<u8>) {
        put_varint(out, self.0);
    }
    fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
        varint_value(b, "tx number").map(TxNum)
    }
}

impl ValueCodec for AddrId {
    fn encode_value(&self, out: &mut Vec<u8>) {
        put_varint(out, self.0);
    }
    fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
        varint_value(b, "address id").map(AddrId)
    }
}

impl ValueCodec for Amount {
    fn encode_value(&self, out: &mut Vec<u8>) {
        put_varint(out, self.0);
    }
    fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
        varint_value(b, "amount").map(Amount)
    }
}

impl KeyCodec for OutPointNum {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.tx.0.to_be_bytes());
        out.extend_from_slice(&self.vout.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 12] = fixed(b, "outpoint key")?;
        Ok(OutPointNum {
            tx: TxNum(u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))),
            vout: u32::from_be_bytes(b[8..].try_into().expect("4 bytes")),
        })
    }
}

impl KeyCodec for OutPointTxid {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.txid);
        out.extend_from_slice(&self.vout.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 36] = fixed(b, "utxo key")?;
        Ok(OutPointTxid {
            txid: b[..32].try_into().expect("32 bytes"),
            vout: u32::from_be_bytes(b[32..].try_into().expect("4 bytes")),
        })
    }
}

impl KeyCodec for AddrOutput {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.addr.0.to_be_bytes());
        out.extend_from_slice(&self.tx.0.to_be_bytes());
        out.extend_from_slice(&self.vout.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 20] = fixed(b, "address output key")?;
        Ok(AddrOutput {
            addr: AddrId(u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))),
            tx: TxNum(u64::from_be_bytes(b[8..16].try_into().expect("8 bytes"))),
            vout: u32::from_be_bytes(b[16..].try_into().expect("4 bytes")),
        })
    }
}

impl KeyCodec for AddrKey {
    fn encode_key(&self, out: &mut Vec<u8>) {
        self.encode_into(out);
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        AddrKey::from_bytes(b).map_err(|e| DecodeError::new("address key", e.to_string()))
    }
}

impl ValueCodec for AddrKey {
    fn encode_value(&self, out: &mut Vec<u8>) {
        self.encode_into(out);
    }
    fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_key(b)
    }
}

macro_rules! record_value {
    ($($ty:ty),*) => {$(
        impl ValueCodec for $ty {
            fn encode_value(&self, out: &mut Vec<u8>) {
                self.encode(out);
            }
            fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
                <$ty>::decode(b)
            }
        }
    )*};
}

record_value!(
    BlockRecord,
    TxRecord,
    SpendRecord,
    UtxoRecord,
    UndoRecord,
    ChainState
);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<K: KeyCodec + PartialEq + std::fmt::Debug>(k: K) -> Vec<u8> {
        let mut buf = Vec::new();
        k.encode_key(&mut buf);
        assert_eq!(K::decode_key(&buf).unwrap(), k);
        buf
    }

    #[test]
    fn numeric_keys_sort_in_chain_order() {
        let a = round_trip(AddrOutput {
            addr: AddrId(1),
            tx: TxNum(255),
            vout: 9,
        });
        let b = round_trip(AddrOutput {
            addr: AddrId(1),
            tx: TxNum(256),
            vout: 0,
        });
        let c = round_trip(AddrOutput {
            addr: AddrId(2),
            tx: TxNum(0),
            vout: 0,
        });
        assert!(a < b && b < c);
        assert!(round_trip(Height(255)) < round_trip(Height(256)));
        assert!(
            round_trip(OutPointNum {
                tx: TxNum(1),
                vout: 300
            }) < round_trip(OutPointNum {
                tx: TxNum(2),
                vout: 0
            })
        );
    }

    #[test]
    fn short_keys_are_errors() {
        assert!(OutPointTxid::decode_key(&[0; 35]).is_err());
        assert!(Height::decode_key(&[0; 3]).is_err());
        assert!(MetaKey::decode_key(b"nope").is_err());
    }
}
