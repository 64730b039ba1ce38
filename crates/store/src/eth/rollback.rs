//! Undoing the tip Ethereum block: every row the block wrote is found again from its ranges
//! (transactions, transfers, mixer events of its transactions, new address ids) and deleted;
//! balances come back from the undo record.

use chaintrace_model::eth::EventNum;
use chaintrace_model::{AddrId, TxNum};

use crate::eth::records::{Balance, EthState};
use crate::tables::{
    AddrAsset, EthAddrKeys, EthAddrs, EthBalances, EthBlockHeights, EthBlocks, EthContracts,
    EthEvents, EthHistory, EthTxHashes, EthTxs, EthUndo, Hash32, Height, HistoryKey, Meta, MetaKey,
};
use crate::{Batch, Store, StoreError};

use super::EthIndex;

/// The batch that removes block `height` (the tip of `state`).
pub(super) fn rollback_batch(
    store: &Store,
    state: &EthState,
    height: u32,
) -> Result<Batch, StoreError> {
    let index = EthIndex::new(store);
    let block = index
        .block(height)?
        .ok_or_else(|| missing("eth_blocks", height))?;
    let undo = index.undo(height)?;
    let mut batch = Batch::new();
    for n in block.first_tx.0..block.first_tx.0 + u64::from(block.tx_count) {
        let tx = index.tx(TxNum(n))?;
        batch.delete::<EthTxHashes>(&Hash32(tx.hash));
        batch.delete::<EthTxs>(&TxNum(n));
    }
    let txs = block.first_tx..TxNum(block.first_tx.0 + u64::from(block.tx_count));
    super::mixer::delete_events(store, txs, &mut batch)?;
    for e in block.first_event..block.first_event + u64::from(block.event_count) {
        let event = EventNum(e);
        let t = index.event(event)?.transfer;
        for addr in [t.from, t.to] {
            if !addr.is_none() {
                batch.delete::<EthHistory>(&HistoryKey {
                    addr,
                    asset: t.asset,
                    event,
                });
            }
        }
        batch.delete::<EthEvents>(&event);
    }
    for (addr, asset, before) in &undo.balances {
        let key = AddrAsset {
            addr: *addr,
            asset: *asset,
        };
        match before {
            Some(b) => batch.put::<EthBalances>(&key, &Balance(*b)),
            None => batch.delete::<EthBalances>(&key),
        }
    }
    for c in &undo.new_contracts {
        batch.delete::<EthContracts>(c);
    }
    for id in undo.prev_state.next_addr..state.next_addr {
        let addr = store
            .get::<EthAddrKeys>(&AddrId(id))?
            .ok_or_else(|| missing("eth_addr_keys", height))?;
        batch.delete::<EthAddrs>(&addr);
        batch.delete::<EthAddrKeys>(&AddrId(id));
    }
    batch.delete::<EthBlockHeights>(&Hash32(block.hash));
    batch.delete::<EthBlocks>(&Height(height));
    batch.delete::<EthUndo>(&Height(height));
    let mut prev = Vec::new();
    undo.prev_state.encode(&mut prev);
    batch.put::<Meta>(&MetaKey::EthState, &prev);
    Ok(batch)
}

fn missing(table: &'static str, height: u32) -> StoreError {
    StoreError::Corrupt {
        table,
        key: format!("rows of Ethereum block {height}"),
        source: crate::codec::DecodeError::new("rollback", "a row the block wrote is missing"),
    }
}
