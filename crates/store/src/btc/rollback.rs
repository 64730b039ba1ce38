//! Undoing the tip block, for reorgs. Every row a block added is re-derived from its stored
//! transaction records, so the undo record itself only carries the cursor before the block and
//! the rare rows the block overwrote.

use chaintrace_model::btc::ScriptKind;
use chaintrace_model::{AddrId, TxNum};

use super::{display_hash, BtcWriter};
use crate::records::{PrevTx, TxRecord, UtxoRecord};
use crate::tables::{
    AddrOutput, BtcAddrKeys, BtcAddrOutputs, BtcAddrs, BtcBlockHeights, BtcBlocks, BtcSpends,
    BtcTxids, BtcTxs, BtcUndo, BtcUtxos, Hash32, Height, OutPointNum, OutPointTxid,
};
use crate::{Batch, Store, StoreError};

/// What a rollback removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RolledBack {
    pub height: u32,
    pub hash: [u8; 32],
}

fn missing(what: &str, height: u32) -> StoreError {
    StoreError::Corrupt {
        table: "btc_undo",
        key: height.to_string(),
        source: crate::codec::DecodeError::new(
            "rollback",
            format!("{what} of block {height} is missing"),
        ),
    }
}

impl BtcWriter<'_> {
    /// Removes the tip block from the index (committing anything pending first), restoring the
    /// outputs it spent. Returns `None` on an empty index.
    pub fn rollback_tip(&mut self) -> Result<Option<RolledBack>, StoreError> {
        self.sync()?;
        self.reset_caches();
        let (store, state, batch) = self.parts();
        let Some((height, hash)) = state.tip else {
            return Ok(None);
        };
        let undo = store
            .get::<BtcUndo>(&Height(height))?
            .ok_or_else(|| missing("undo record", height))?;
        let block = store
            .get::<BtcBlocks>(&Height(height))?
            .ok_or_else(|| missing("block record", height))?;
        for n in (0..u64::from(block.tx_count)).rev() {
            let num = TxNum(block.first_tx.0 + n);
            let tx = store
                .get::<BtcTxs>(&num)?
                .ok_or_else(|| missing("a transaction", height))?;
            unindex_tx(store, batch, num, &tx)?;
        }
        for (txid, earlier) in &undo.replaced_txids {
            batch.put::<BtcTxids>(&Hash32(*txid), earlier);
        }
        for (txid, vout, rec) in &undo.replaced_utxos {
            batch.put::<BtcUtxos>(
                &OutPointTxid {
                    txid: *txid,
                    vout: *vout,
                },
                rec,
            );
        }
        forget_new_addresses(store, batch, undo.prev_state.next_addr, state.next_addr)?;
        super::cluster::undo::undo_block(store, batch, height, block.first_tx, block.tx_count)?;
        batch.delete::<BtcBlocks>(&Height(height));
        batch.delete::<BtcBlockHeights>(&Hash32(hash));
        batch.delete::<BtcUndo>(&Height(height));
        *state = undo.prev_state;
        let parent_work = match undo.prev_state.tip {
            Some((h, _)) => store.get::<BtcBlocks>(&Height(h))?.map(|b| b.chainwork),
            None => None,
        };
        self.set_tip_chainwork(parent_work);
        self.reset_clusters();
        self.put_cursor_now();
        self.write_now()?;
        tracing::info!(height, hash = %display_hash(&hash), "rolled back block");
        Ok(Some(RolledBack { height, hash }))
    }
}

/// Deletes a transaction's rows and puts the outputs it spent back into the unspent set.
fn unindex_tx(
    store: &Store,
    batch: &mut Batch,
    num: TxNum,
    tx: &TxRecord,
) -> Result<(), StoreError> {
    for (vout, out) in tx.outputs.iter().enumerate() {
        let vout = vout as u32;
        batch.delete::<BtcUtxos>(&OutPointTxid {
            txid: tx.txid,
            vout,
        });
        if !out.addr.is_none() {
            batch.delete::<BtcAddrOutputs>(&AddrOutput {
                addr: out.addr,
                tx: num,
                vout,
            });
        }
    }
    for input in &tx.inputs {
        let PrevTx::Indexed(prev) = input.prev_tx else {
            continue;
        };
        batch.delete::<BtcSpends>(&OutPointNum {
            tx: prev,
            vout: input.vout,
        });
        let prev_txid = store
            .get::<BtcTxs>(&prev)?
            .ok_or_else(|| missing("a spent transaction", tx.height))?
            .txid;
        debug_assert_ne!(input.kind, ScriptKind::OpReturn);
        let rec = UtxoRecord {
            tx: prev,
            value: input.value,
            addr: input.addr,
            kind: input.kind,
        };
        batch.put::<BtcUtxos>(
            &OutPointTxid {
                txid: prev_txid,
                vout: input.vout,
            },
            &rec,
        );
    }
    batch.delete::<BtcTxids>(&Hash32(tx.txid));
    batch.delete::<BtcTxs>(&num);
    Ok(())
}

/// Addresses first seen in the rolled-back block get their ids back.
fn forget_new_addresses(
    store: &Store,
    batch: &mut Batch,
    from: u64,
    to: u64,
) -> Result<(), StoreError> {
    for id in from..to {
        let id = AddrId(id);
        if let Some(key) = store.get::<BtcAddrKeys>(&id)? {
            batch.delete::<BtcAddrs>(&key);
        }
        batch.delete::<BtcAddrKeys>(&id);
    }
    Ok(())
}
