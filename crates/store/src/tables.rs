//! The table of contents of the index: every column family, its key and value types, and how
//! they are laid out in bytes. Nothing outside this crate writes raw bytes; everything goes
//! through these types. The same layout is written out for humans in `SCHEMA.md`.

use chaintrace_model::btc::AddrKey;
use chaintrace_model::{AddrId, TxNum};

use crate::btc::cluster::records::{
    ChildList, ClusterAlert, ClusterEdge, ClusterRecord, ClusterUndo,
};
use crate::codec::{put_varint, DecodeError, Reader};
use crate::eth::mixer::MixerEventRecord;
use crate::eth::records::{Balance, EthBlockRecord, EthTxRecord, EthUndoRecord, EventRecord};
use crate::records::{
    BlockRecord, ChainState, LabelFileRecord, SpendRecord, TxRecord, UndoRecord, UtxoRecord,
};
use chaintrace_model::eth::{AssetId, EventNum};
use chaintrace_model::Label;

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
    /// Address clusters: a former cluster root → the forest edge that joined it to another
    /// cluster (parent root, transaction, the two addresses it tied and the rule that did).
    BtcClusterParent = "btc_cluster_parent", bloom: true, AddrId => ClusterEdge;
    /// The same edges from the parent side, `parent(BE64) tx(BE64)` → the children that
    /// transaction joined under that parent, to list members.
    BtcClusterChildren = "btc_cluster_children", bloom: false, ClusterChild => ChildList;
    /// Cluster root (the cluster id) → size and history; only clusters of two or more addresses.
    BtcClusters = "btc_clusters", bloom: true, AddrId => ClusterRecord;
    /// Transaction → what it did that deserves a look: a super-cluster jump or a label conflict.
    BtcClusterAlerts = "btc_cluster_alerts", bloom: false, TxNum => ClusterAlert;
    /// Height → the cluster changes of that block, for rollbacks (no row: the block merged nothing).
    BtcClusterUndo = "btc_cluster_undo", bloom: false, Height => ClusterUndo;
    /// Label id → the attribution (JSON of `chaintrace_model::Label`).
    Labels = "labels", bloom: false, LabelId => Label;
    /// Imported label file → the ids of the labels it brought (re-importing replaces them).
    LabelFiles = "label_files", bloom: false, FileKey => LabelFileRecord;
    /// Labelled Bitcoin address: `len(1) AddrKey LabelId(BE32)` → empty.
    BtcAddrLabels = "btc_addr_labels", bloom: false, AddrLabel => Empty;
    /// Labelled Bitcoin output: `txid(32) vout(BE32) LabelId(BE32)` → empty.
    BtcOutputLabels = "btc_output_labels", bloom: false, OutputLabel => Empty;
    /// Reverse index: `LabelId(BE32) target` → empty, to find what a label names.
    LabelTargets = "label_targets", bloom: false, LabelTargetKey => Empty;
    /// Labelled Ethereum address: `address(20) LabelId(BE32)` → empty.
    EthAddrLabels = "eth_addr_labels", bloom: false, EthAddrLabel => Empty;
    /// Active-chain Ethereum blocks by height.
    EthBlocks = "eth_blocks", bloom: false, Height => EthBlockRecord;
    /// Ethereum block hash → height, for active-chain blocks only.
    EthBlockHeights = "eth_block_heights", bloom: true, Hash32 => Height;
    /// Transaction hash → dense transaction number (its own numbering, not Bitcoin's).
    EthTxHashes = "eth_tx_hashes", bloom: true, Hash32 => TxNum;
    /// Transaction number → transaction summary and its range of transfers.
    EthTxs = "eth_txs", bloom: false, TxNum => EthTxRecord;
    /// Every value transfer, by its number in canonical order.
    EthEvents = "eth_events", bloom: false, EventNum => EventRecord;
    /// 20-byte address → dense address id (the zero address is id 0 and has no row).
    EthAddrs = "eth_addrs", bloom: true, EthAddr => AddrId;
    /// Dense address id → 20-byte address.
    EthAddrKeys = "eth_addr_keys", bloom: false, AddrId => EthAddr;
    /// Addresses where code ran → the height it was first seen running.
    EthContracts = "eth_contracts", bloom: true, AddrId => Height;
    /// Current indexed balance per (address, asset); also lists the assets an address touched.
    EthBalances = "eth_balances", bloom: false, AddrAsset => Balance;
    /// Per (address, asset) history in canonical order → the indexed balance after the event.
    EthHistory = "eth_history", bloom: false, HistoryKey => Balance;
    /// Undo record by height, for rolling back reorganised Ethereum blocks.
    EthUndo = "eth_undo", bloom: false, Height => EthUndoRecord;
    /// Tornado-shaped pool events, per emitting contract in chain order: `contract(8 BE)
    /// tx(8 BE) n(4 BE)` → `MixerEventRecord` (the event with its tx's sender, fee terms and
    /// block).
    EthMixerEvents = "eth_mixer_events", bloom: false, MixerKey => MixerEventRecord;
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
    NextLabelId,
    EthState,
    BtcClustering,
}

impl MetaKey {
    pub fn as_str(self) -> &'static str {
        match self {
            MetaKey::SchemaVersion => "schema_version",
            MetaKey::BtcNetwork => "btc.network",
            MetaKey::BtcState => "btc.state",
            MetaKey::NextLabelId => "labels.next_id",
            MetaKey::EthState => "eth.state",
            MetaKey::BtcClustering => "btc.clustering",
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
            MetaKey::NextLabelId,
            MetaKey::EthState,
            MetaKey::BtcClustering,
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

/// A 20-byte Ethereum address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EthAddr(pub [u8; 20]);

/// An (address, asset) pair: `addr(8 BE) asset(8 BE)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrAsset {
    pub addr: AddrId,
    pub asset: AssetId,
}

/// One event in an (address, asset) history: `addr(8 BE) asset(8 BE) event(8 BE)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HistoryKey {
    pub addr: AddrId,
    pub asset: AssetId,
    pub event: EventNum,
}

impl AddrAsset {
    /// Key prefix of every asset of `addr`.
    pub fn prefix(addr: AddrId) -> Vec<u8> {
        addr.0.to_be_bytes().to_vec()
    }
}

/// One mixer event: `contract(8 BE) tx(8 BE) n(4 BE)`, `n` being the event's position among
/// the mixer events of its transaction. A contract's events are contiguous and in chain order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MixerKey {
    pub contract: AddrId,
    pub tx: TxNum,
    pub n: u32,
}

impl KeyCodec for MixerKey {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.contract.0.to_be_bytes());
        out.extend_from_slice(&self.tx.0.to_be_bytes());
        out.extend_from_slice(&self.n.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 20] = fixed(b, "mixer event key")?;
        Ok(MixerKey {
            contract: AddrId(u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))),
            tx: TxNum(u64::from_be_bytes(b[8..16].try_into().expect("8 bytes"))),
            n: u32::from_be_bytes(b[16..].try_into().expect("4 bytes")),
        })
    }
}

impl HistoryKey {
    /// Key prefix of one (address, asset) history.
    pub fn prefix(addr: AddrId, asset: AssetId) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&addr.0.to_be_bytes());
        out.extend_from_slice(&asset.0.to_be_bytes());
        out
    }
}

impl KeyCodec for EthAddr {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        Ok(EthAddr(fixed(b, "eth address key")?))
    }
}

impl ValueCodec for EthAddr {
    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
        Ok(EthAddr(fixed(b, "eth address")?))
    }
}

impl KeyCodec for EventNum {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        Ok(EventNum(u64::from_be_bytes(fixed(b, "event key")?)))
    }
}

impl KeyCodec for AddrAsset {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.addr.0.to_be_bytes());
        out.extend_from_slice(&self.asset.0.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 16] = fixed(b, "address asset key")?;
        Ok(AddrAsset {
            addr: AddrId(u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))),
            asset: AssetId(u64::from_be_bytes(b[8..].try_into().expect("8 bytes"))),
        })
    }
}

impl KeyCodec for HistoryKey {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::prefix(self.addr, self.asset));
        out.extend_from_slice(&self.event.0.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 24] = fixed(b, "history key")?;
        Ok(HistoryKey {
            addr: AddrId(u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))),
            asset: AssetId(u64::from_be_bytes(b[8..16].try_into().expect("8 bytes"))),
            event: EventNum(u64::from_be_bytes(b[16..].try_into().expect("8 bytes"))),
        })
    }
}

/// An Ethereum address carrying a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthAddrLabel {
    pub addr: EthAddr,
    pub label: LabelId,
}

impl KeyCodec for EthAddrLabel {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.addr.0);
        self.label.encode_key(out);
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 24] = fixed(b, "eth address label key")?;
        Ok(EthAddrLabel {
            addr: EthAddr(b[..20].try_into().expect("20 bytes")),
            label: LabelId(u32::from_be_bytes(b[20..].try_into().expect("4 bytes"))),
        })
    }
}

/// Dense id of an imported label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct LabelId(pub u32);

/// An empty value (the key says everything).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Empty;

/// Name of an imported label file, as given to `labels import`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileKey(pub String);

/// A Bitcoin address carrying a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrLabel {
    pub addr: AddrKey,
    pub label: LabelId,
}

/// A Bitcoin output carrying a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLabel {
    pub txid: [u8; 32],
    pub vout: u32,
    pub label: LabelId,
}

/// What a label names, for the reverse index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelTarget {
    BtcAddr(AddrKey),
    BtcOutput([u8; 32], u32),
    EthAddr(EthAddr),
}

/// Reverse index key: `LabelId(BE32)` then a tagged target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelTargetKey {
    pub label: LabelId,
    pub target: LabelTarget,
}

impl KeyCodec for LabelId {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        Ok(LabelId(u32::from_be_bytes(fixed(b, "label id key")?)))
    }
}

impl ValueCodec for Empty {
    fn encode_value(&self, _: &mut Vec<u8>) {}
    fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
        if b.is_empty() {
            Ok(Empty)
        } else {
            Err(DecodeError::new(
                "empty value",
                format!("{} bytes", b.len()),
            ))
        }
    }
}

impl ValueCodec for Label {
    fn encode_value(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(out, self).expect("labels serialize");
    }
    fn decode_value(b: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(b).map_err(|e| DecodeError::new("label", e.to_string()))
    }
}

impl KeyCodec for FileKey {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        String::from_utf8(b.to_vec())
            .map(FileKey)
            .map_err(|_| DecodeError::new("label file key", "not UTF-8"))
    }
}

/// `len(1) AddrKey`: the length prefix keeps one address's keys from prefixing another's.
fn encode_addr_prefixed(addr: &AddrKey, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(0);
    addr.encode_into(out);
    out[start] = (out.len() - start - 1) as u8;
}

fn decode_addr_prefixed<'a>(
    b: &'a [u8],
    what: &'static str,
) -> Result<(AddrKey, &'a [u8]), DecodeError> {
    let (&len, rest) = b
        .split_first()
        .ok_or_else(|| DecodeError::new(what, "empty"))?;
    if rest.len() < len as usize {
        return Err(DecodeError::new(what, "truncated address"));
    }
    let (key, rest) = rest.split_at(len as usize);
    let addr = AddrKey::from_bytes(key).map_err(|e| DecodeError::new(what, e.to_string()))?;
    Ok((addr, rest))
}

impl AddrLabel {
    /// Key prefix of every label of `addr`.
    pub fn prefix(addr: &AddrKey) -> Vec<u8> {
        let mut out = Vec::with_capacity(44);
        encode_addr_prefixed(addr, &mut out);
        out
    }
}

impl KeyCodec for AddrLabel {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_addr_prefixed(&self.addr, out);
        self.label.encode_key(out);
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let (addr, rest) = decode_addr_prefixed(b, "address label key")?;
        Ok(AddrLabel {
            addr,
            label: LabelId::decode_key(rest)?,
        })
    }
}

impl OutputLabel {
    pub fn prefix(txid: &[u8; 32], vout: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        out.extend_from_slice(txid);
        out.extend_from_slice(&vout.to_be_bytes());
        out
    }
}

impl KeyCodec for OutputLabel {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::prefix(&self.txid, self.vout));
        self.label.encode_key(out);
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 40] = fixed(b, "output label key")?;
        Ok(OutputLabel {
            txid: b[..32].try_into().expect("32 bytes"),
            vout: u32::from_be_bytes(b[32..36].try_into().expect("4 bytes")),
            label: LabelId(u32::from_be_bytes(b[36..].try_into().expect("4 bytes"))),
        })
    }
}

const TARGET_BTC_ADDR: u8 = 1;
const TARGET_BTC_OUTPUT: u8 = 2;
const TARGET_ETH_ADDR: u8 = 3;

impl KeyCodec for LabelTargetKey {
    fn encode_key(&self, out: &mut Vec<u8>) {
        self.label.encode_key(out);
        match &self.target {
            LabelTarget::BtcAddr(a) => {
                out.push(TARGET_BTC_ADDR);
                encode_addr_prefixed(a, out);
            }
            LabelTarget::BtcOutput(txid, vout) => {
                out.push(TARGET_BTC_OUTPUT);
                out.extend_from_slice(txid);
                out.extend_from_slice(&vout.to_be_bytes());
            }
            LabelTarget::EthAddr(a) => {
                out.push(TARGET_ETH_ADDR);
                out.extend_from_slice(&a.0);
            }
        }
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let what = "label target key";
        if b.len() < 5 {
            return Err(DecodeError::new(what, "too short"));
        }
        let label = LabelId::decode_key(&b[..4])?;
        let target = match b[4] {
            TARGET_BTC_ADDR => {
                let (addr, rest) = decode_addr_prefixed(&b[5..], what)?;
                if !rest.is_empty() {
                    return Err(DecodeError::new(what, "trailing bytes"));
                }
                LabelTarget::BtcAddr(addr)
            }
            TARGET_BTC_OUTPUT => {
                let t: [u8; 36] = fixed(&b[5..], what)?;
                LabelTarget::BtcOutput(
                    t[..32].try_into().expect("32 bytes"),
                    u32::from_be_bytes(t[32..].try_into().expect("4 bytes")),
                )
            }
            TARGET_ETH_ADDR => LabelTarget::EthAddr(EthAddr(fixed(&b[5..], what)?)),
            t => return Err(DecodeError::new(what, format!("target tag {t}"))),
        };
        Ok(LabelTargetKey { label, target })
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

/// The forest edges one transaction added under one parent: `parent(BE64) tx(BE64)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterChild {
    pub parent: AddrId,
    pub tx: TxNum,
}

impl ClusterChild {
    /// Key prefix of every child of `parent`.
    pub fn prefix(parent: AddrId) -> Vec<u8> {
        parent.0.to_be_bytes().to_vec()
    }
}

impl KeyCodec for ClusterChild {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.parent.0.to_be_bytes());
        out.extend_from_slice(&self.tx.0.to_be_bytes());
    }
    fn decode_key(b: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 16] = fixed(b, "cluster child key")?;
        Ok(ClusterChild {
            parent: AddrId(u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))),
            tx: TxNum(u64::from_be_bytes(b[8..].try_into().expect("8 bytes"))),
        })
    }
}

record_value!(
    ChildList,
    ClusterEdge,
    ClusterRecord,
    ClusterAlert,
    ClusterUndo
);

record_value!(
    BlockRecord,
    TxRecord,
    SpendRecord,
    UtxoRecord,
    UndoRecord,
    ChainState,
    LabelFileRecord,
    EthBlockRecord,
    EthTxRecord,
    EthUndoRecord,
    EventRecord,
    Balance
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
