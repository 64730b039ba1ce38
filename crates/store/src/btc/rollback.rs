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
        source: crate::codec::DecodeError::new("rollback", format!("{what} of block {height} is missing")),
    }
}

impl BtcWriter<'_> {
    /// Removes the tip block from the index (committing anything pending first), restoring the
    /// outputs it spent. Returns `None` on an empty index.
    pub fn rollback_tip(&mut self) -> Result<Option<RolledBack>, StoreError> {
        self.commit()?;
        self.reset_caches();
        let (store, state, batch) = self.parts();
        let Some((height, hash)) = state.tip else { return Ok(None) };
        let undo = store.get::<BtcUndo>(&Height(height))?.ok_or_else(|| missing("undo record", height))?;
        let block = store.get::<BtcBlocks>(&Height(height))?.ok_or_else(|| missing("block record", height))?;
        for n in (0..u64::from(block.tx_count)).rev() {
            let num = TxNum(block.first_tx.0 + n);
            let tx = store.get::<BtcTxs>(&num)?.ok_or_else(|| missing("a transaction", height))?;
            unindex_tx(store, batch, num, &tx)?;
        }
        for (txid, earlier) in &undo.replaced_txids {
            store.put::<BtcTxids>(batch, &Hash32(*txid), earlier);
        }
        for (txid, vout, rec) in &undo.replaced_utxos {
            store.put::<BtcUtxos>(batch, &OutPointTxid { txid: *txid, vout: *vout }, rec);
        }
        forget_new_addresses(store, batch, undo.prev_state.next_addr, state.next_addr)?;
        store.delete::<BtcBlocks>(batch, &Height(height));
        store.delete::<BtcBlockHeights>(batch, &Hash32(hash));
        store.delete::<BtcUndo>(batch, &Height(height));
        *state = undo.prev_state;
        self.put_cursor_now();
        self.write_now()?;
        tracing::info!(height, hash = %display_hash(&hash), "rolled back block");
        Ok(Some(RolledBack { height, hash }))
    }
}

/// Deletes a transaction's rows and puts the outputs it spent back into the unspent set.
fn unindex_tx(store: &Store, batch: &mut Batch, num: TxNum, tx: &TxRecord) -> Result<(), StoreError> {
    for (vout, out) in tx.outputs.iter().enumerate() {
        let vout = vout as u32;
        store.delete::<BtcUtxos>(batch, &OutPointTxid { txid: tx.txid, vout });
        if !out.addr.is_none() {
            store.delete::<BtcAddrOutputs>(batch, &AddrOutput { addr: out.addr, tx: num, vout });
        }
    }
    for input in &tx.inputs {
        let PrevTx::Indexed(prev) = input.prev_tx else { continue };
        store.delete::<BtcSpends>(batch, &OutPointNum { tx: prev, vout: input.vout });
        let prev_txid = store
            .get::<BtcTxs>(&prev)?
            .ok_or_else(|| missing("a spent transaction", tx.height))?
            .txid;
        debug_assert_ne!(input.kind, ScriptKind::OpReturn);
        let rec = UtxoRecord { tx: prev, value: input.value, addr: input.addr, kind: input.kind };
        store.put::<BtcUtxos>(batch, &OutPointTxid { txid: prev_txid, vout: input.vout }, &rec);
    }
    store.delete::<BtcTxids>(batch, &Hash32(tx.txid));
    store.delete::<BtcTxs>(batch, &num);
    Ok(())
}

/// Addresses first seen in the rolled-back block get their ids back.
fn forget_new_addresses(store: &Store, batch: &mut Batch, from: u64, to: u64) -> Result<(), StoreError> {
    for id in from..to {
        let id = AddrId(id);
        if let Some(key) = store.get::<BtcAddrKeys>(&id)? {
            store.delete::<BtcAddrs>(batch, &key);
        }
        store.delete::<BtcAddrKeys>(batch, &id);
    }
    Ok(())
}
