//! The values stored in the Bitcoin tables, and their byte layouts (documented in `SCHEMA.md`).
//!
//! Every record decodes strictly: a truncated value, an unknown tag or trailing bytes is a
//! [`DecodeError`], never a panic and never a silently wrong record.

use chaintrace_model::btc::ScriptKind;
use chaintrace_model::{AddrId, TxNum};

use crate::codec::{decode_whole, put_var_bytes, put_varint, DecodeError, Reader};

/// One block of the active chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRecord {
    pub hash: [u8; 32],
    pub prev_hash: [u8; 32],
    pub time: u32,
    pub bits: u32,
    pub first_tx: TxNum,
    pub tx_count: u32,
    /// Total work of the chain up to and including this block, big-endian 256-bit.
    pub chainwork: [u8; 32],
}

/// Where an input's coins came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrevTx {
    /// An indexed transaction.
    Indexed(TxNum),
    /// A transaction below the index's start height (a partial index started from a node at a
    /// later height); its value and address were resolved through the node.
    External([u8; 32]),
}

/// A spent output as seen from the spending input: the prevout is fully resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputRecord {
    pub prev_tx: PrevTx,
    pub vout: u32,
    pub value: u64,
    pub addr: AddrId,
    pub kind: ScriptKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputRecord {
    pub value: u64,
    pub addr: AddrId,
    pub kind: ScriptKind,
}

/// One transaction with resolved inputs. Coinbase transactions have no inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRecord {
    /// Internal byte order (as hashed), not the reversed display order.
    pub txid: [u8; 32],
    pub height: u32,
    pub coinbase: bool,
    pub version: i32,
    pub lock_time: u32,
    pub vsize: u32,
    pub inputs: Vec<InputRecord>,
    pub outputs: Vec<OutputRecord>,
}

impl TxRecord {
    pub fn input_value(&self) -> u64 {
        self.inputs.iter().map(|i| i.value).sum()
    }

    pub fn output_value(&self) -> u64 {
        self.outputs.iter().map(|o| o.value).sum()
    }

    /// Miner fee in satoshis; zero for a coinbase, whose outputs claim subsidy plus fees.
    pub fn fee(&self) -> u64 {
        if self.coinbase {
            0
        } else {
            self.input_value().saturating_sub(self.output_value())
        }
    }
}

/// An unspent output, as the ingest needs it to resolve a later input in one lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtxoRecord {
    pub tx: TxNum,
    pub value: u64,
    pub addr: AddrId,
    pub kind: ScriptKind,
}

/// Who spent an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpendRecord {
    pub tx: TxNum,
    pub input: u32,
}

/// Counters and cursor of the Bitcoin index; written with every batch, so it always describes
/// exactly the blocks that are in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChainState {
    /// Height of the first indexed block (0 unless the index was started from a node mid-chain).
    pub start_height: u32,
    /// Height and hash of the last indexed block; `None` for an empty index.
    pub tip: Option<(u32, [u8; 32])>,
    pub next_tx: u64,
    pub next_addr: u64,
    pub inputs: u64,
    pub outputs: u64,
}

impl ChainState {
    pub fn empty(start_height: u32) -> Self {
        ChainState {
            start_height,
            tip: None,
            next_tx: 0,
            next_addr: 1,
            inputs: 0,
            outputs: 0,
        }
    }

    pub fn blocks(&self) -> u64 {
        self.tip
            .map_or(0, |(h, _)| u64::from(h - self.start_height) + 1)
    }

    pub fn addresses(&self) -> u64 {
        self.next_addr - 1
    }

    /// The height the next block must have.
    pub fn next_height(&self) -> u32 {
        self.tip.map_or(self.start_height, |(h, _)| h + 1)
    }
}

/// What it takes to remove a block again: the state before it, plus the rare entries the block
/// overwrote (duplicate coinbase txids, BIP30). Everything else is re-derived from the block's
/// transaction records, which keeps undo data tiny.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UndoRecord {
    pub prev_state: ChainState,
    pub replaced_txids: Vec<([u8; 32], TxNum)>,
    pub replaced_utxos: Vec<([u8; 32], u32, UtxoRecord)>,
}

/// What one imported label file brought.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LabelFileRecord {
    /// Format it was read as (`tagpack`, `ofac`, `csv`).
    pub format: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    pub labels: Vec<u32>,
    /// How many addresses and outputs it labelled.
    pub targets: u64,
}

impl LabelFileRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_var_bytes(out, self.format.as_bytes());
        put_var_bytes(out, self.sha256.as_bytes());
        put_varint(out, self.labels.len() as u64);
        for l in &self.labels {
            put_varint(out, u64::from(*l));
        }
        put_varint(out, self.targets);
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "label file record");
        let text = |r: &mut Reader<'_>| -> Result<String, DecodeError> {
            String::from_utf8(r.var_bytes()?.to_vec())
                .map_err(|_| DecodeError::new("label file record", "not UTF-8"))
        };
        let format = text(&mut r)?;
        let sha256 = text(&mut r)?;
        let n = r.varint()?;
        let mut labels = Vec::new();
        for _ in 0..n {
            labels.push(r.varint_u32()?);
        }
        let targets = r.varint()?;
        r.finish()?;
        Ok(LabelFileRecord {
            format,
            sha256,
            labels,
            targets,
        })
    }
}

fn kind_from(b: u8) -> Result<ScriptKind, DecodeError> {
    ScriptKind::from_u8(b).ok_or_else(|| DecodeError::new("script kind", format!("tag {b}")))
}

impl BlockRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hash);
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&self.time.to_be_bytes());
        out.extend_from_slice(&self.bits.to_be_bytes());
        put_varint(out, self.first_tx.0);
        put_varint(out, u64::from(self.tx_count));
        out.extend_from_slice(&self.chainwork);
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "block record");
        let rec = BlockRecord {
            hash: r.array()?,
            prev_hash: r.array()?,
            time: r.u32_be()?,
            bits: r.u32_be()?,
            first_tx: TxNum(r.varint()?),
            tx_count: r.varint_u32()?,
            chainwork: r.array()?,
        };
        r.finish()?;
        Ok(rec)
    }
}

const INPUT_EXTERNAL: u8 = 0x80;
const FLAG_COINBASE: u8 = 1;

impl TxRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(if self.coinbase { FLAG_COINBASE } else { 0 });
        out.extend_from_slice(&self.txid);
        put_varint(out, u64::from(self.height));
        put_varint(out, u64::from(self.version as u32));
        put_varint(out, u64::from(self.lock_time));
        put_varint(out, u64::from(self.vsize));
        put_varint(out, self.inputs.len() as u64);
        for i in &self.inputs {
            i.encode(out);
        }
        put_varint(out, self.outputs.len() as u64);
        for o in &self.outputs {
            out.push(o.kind as u8);
            put_varint(out, o.value);
            put_varint(out, o.addr.0);
        }
    }

    /// Only the txid of an encoded record (it sits right after the flags byte).
    pub fn decode_txid(b: &[u8]) -> Result<[u8; 32], DecodeError> {
        let mut r = Reader::new(b, "transaction record");
        r.u8()?;
        r.array()
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "transaction record");
        let flags = r.u8()?;
        if flags & !FLAG_COINBASE != 0 {
            return Err(DecodeError::new(
                "transaction record",
                format!("unknown flags {flags:#x}"),
            ));
        }
        let txid = r.array()?;
        let height = r.varint_u32()?;
        let version = r.varint_u32()? as i32;
        let lock_time = r.varint_u32()?;
        let vsize = r.varint_u32()?;
        let n_in = r.varint()?;
        let mut inputs = Vec::with_capacity(n_in.min(4096) as usize);
        for _ in 0..n_in {
            inputs.push(InputRecord::decode(&mut r)?);
        }
        let n_out = r.varint()?;
        let mut outputs = Vec::with_capacity(n_out.min(4096) as usize);
        for _ in 0..n_out {
            let tag = r.u8()?;
            let kind = kind_from(tag)?;
            outputs.push(OutputRecord {
                kind,
                value: r.varint()?,
                addr: AddrId(r.varint()?),
            });
        }
        r.finish()?;
        let coinbase = flags & FLAG_COINBASE != 0;
        Ok(TxRecord {
            txid,
            height,
            coinbase,
            version,
            lock_time,
            vsize,
            inputs,
            outputs,
        })
    }
}

impl InputRecord {
    fn encode(&self, out: &mut Vec<u8>) {
        match self.prev_tx {
            PrevTx::Indexed(tx) => {
                out.push(self.kind as u8);
                put_varint(out, tx.0);
            }
            PrevTx::External(txid) => {
                out.push(self.kind as u8 | INPUT_EXTERNAL);
                out.extend_from_slice(&txid);
            }
        }
        put_varint(out, u64::from(self.vout));
        put_varint(out, self.value);
        put_varint(out, self.addr.0);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8()?;
        let kind = kind_from(tag & !INPUT_EXTERNAL)?;
        let prev_tx = if tag & INPUT_EXTERNAL != 0 {
            PrevTx::External(r.array()?)
        } else {
            PrevTx::Indexed(TxNum(r.varint()?))
        };
        Ok(InputRecord {
            prev_tx,
            kind,
            vout: r.varint_u32()?,
            value: r.varint()?,
            addr: AddrId(r.varint()?),
        })
    }
}

impl UtxoRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind as u8);
        put_varint(out, self.tx.0);
        put_varint(out, self.value);
        put_varint(out, self.addr.0);
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "utxo record", Self::decode_from)
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8()?;
        Ok(UtxoRecord {
            kind: kind_from(tag)?,
            tx: TxNum(r.varint()?),
            value: r.varint()?,
            addr: AddrId(r.varint()?),
        })
    }
}

impl SpendRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.tx.0);
        put_varint(out, u64::from(self.input));
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "spend record");
        let rec = SpendRecord {
            tx: TxNum(r.varint()?),
            input: r.varint_u32()?,
        };
        r.finish()?;
        Ok(rec)
    }
}

impl ChainState {
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, u64::from(self.start_height));
        match self.tip {
            None => out.push(0),
            Some((h, hash)) => {
                out.push(1);
                put_varint(out, u64::from(h));
                out.extend_from_slice(&hash);
            }
        }
        for v in [self.next_tx, self.next_addr, self.inputs, self.outputs] {
            put_varint(out, v);
        }
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        decode_whole(b, "chain state", Self::decode_from)
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let start_height = r.varint_u32()?;
        let tip = match r.u8()? {
            0 => None,
            1 => Some((r.varint_u32()?, r.array()?)),
            t => return Err(DecodeError::new("chain state", format!("tip tag {t}"))),
        };
        Ok(ChainState {
            start_height,
            tip,
            next_tx: r.varint()?,
            next_addr: r.varint()?,
            inputs: r.varint()?,
            outputs: r.varint()?,
        })
    }
}

impl UndoRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut state = Vec::new();
        self.prev_state.encode(&mut state);
        put_var_bytes(out, &state);
        put_varint(out, self.replaced_txids.len() as u64);
        for (txid, num) in &self.replaced_txids {
            out.extend_from_slice(txid);
            put_varint(out, num.0);
        }
        put_varint(out, self.replaced_utxos.len() as u64);
        for (txid, vout, utxo) in &self.replaced_utxos {
            out.extend_from_slice(txid);
            put_varint(out, u64::from(*vout));
            utxo.encode(out);
        }
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "undo record");
        let prev_state = ChainState::decode(r.var_bytes()?)?;
        let n = r.varint()?;
        let mut replaced_txids = Vec::new();
        for _ in 0..n {
            replaced_txids.push((r.array()?, TxNum(r.varint()?)));
        }
        let n = r.varint()?;
        let mut replaced_utxos = Vec::new();
        for _ in 0..n {
            let txid = r.array()?;
            let vout = r.varint_u32()?;
            replaced_utxos.push((txid, vout, UtxoRecord::decode_from(&mut r)?));
        }
        r.finish()?;
        Ok(UndoRecord {
            prev_state,
            replaced_txids,
            replaced_utxos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind() -> impl Strategy<Value = ScriptKind> {
        (1u8..=10).prop_map(|b| ScriptKind::from_u8(b).unwrap())
    }

    fn input() -> impl Strategy<Value = InputRecord> {
        let prev = prop_oneof![
            any::<u64>().prop_map(|n| PrevTx::Indexed(TxNum(n))),
            any::<[u8; 32]>().prop_map(PrevTx::External),
        ];
        (prev, any::<u32>(), any::<u64>(), any::<u64>(), kind()).prop_map(
            |(prev_tx, vout, value, addr, kind)| InputRecord {
                prev_tx,
                vout,
                value,
                addr: AddrId(addr),
                kind,
            },
        )
    }

    fn tx() -> impl Strategy<Value = TxRecord> {
        let out = (any::<u64>(), any::<u64>(), kind()).prop_map(|(value, a, kind)| OutputRecord {
            value,
            addr: AddrId(a),
            kind,
        });
        (
            any::<[u8; 32]>(),
            any::<u32>(),
            any::<bool>(),
            any::<i32>(),
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(input(), 0..5),
            proptest::collection::vec(out, 0..5),
        )
            .prop_map(
                |(txid, height, coinbase, version, lock_time, vsize, inputs, outputs)| TxRecord {
                    txid,
                    height,
                    coinbase,
                    version,
                    lock_time,
                    vsize,
                    inputs,
                    outputs,
                },
            )
    }

    proptest! {
        #[test]
        fn tx_records_round_trip(t in tx()) {
            let mut buf = Vec::new();
            t.encode(&mut buf);
            prop_assert_eq!(TxRecord::decode(&buf).unwrap(), t);
        }

        #[test]
        fn truncated_tx_records_are_errors(t in tx(), cut in any::<proptest::sample::Index>()) {
            let mut buf = Vec::new();
            t.encode(&mut buf);
            let cut = cut.index(buf.len());
            prop_assert!(TxRecord::decode(&buf[..cut]).is_err());
        }

        #[test]
        fn undo_records_round_trip(
            tip in proptest::option::of((any::<u32>(), any::<[u8; 32]>())),
            counters in any::<[u64; 4]>(),
            txids in proptest::collection::vec((any::<[u8; 32]>(), any::<u64>()), 0..3),
        ) {
            let prev_state = ChainState {
                start_height: 7, tip, next_tx: counters[0], next_addr: counters[1],
                inputs: counters[2], outputs: counters[3],
            };
            let u = UndoRecord {
                prev_state,
                replaced_txids: txids.iter().map(|(t, n)| (*t, TxNum(*n))).collect(),
                replaced_utxos: vec![([9; 32], 3, UtxoRecord {
                    tx: TxNum(1), value: 2, addr: AddrId(3), kind: ScriptKind::P2pk,
                })],
            };
            let mut buf = Vec::new();
            u.encode(&mut buf);
            prop_assert_eq!(UndoRecord::decode(&buf).unwrap(), u);
        }
    }

    #[test]
    fn block_record_round_trip_and_trailing_bytes() {
        let b = BlockRecord {
            hash: [1; 32],
            prev_hash: [2; 32],
            time: 1_231_006_505,
            bits: 0x1d00ffff,
            first_tx: TxNum(0),
            tx_count: 1,
            chainwork: [3; 32],
        };
        let mut buf = Vec::new();
        b.encode(&mut buf);
        assert_eq!(BlockRecord::decode(&buf).unwrap(), b);
        buf.push(0);
        assert!(BlockRecord::decode(&buf).is_err());
    }
}
