//! Undoing a block's cluster changes on a reorg. The block's undo row names the edges it added
//! and the records of the roots it touched as they were before it; each edge's own row names
//! its transaction, which keys the parent's children row; alerts are keyed by transaction, so
//! the block's are found by its transaction range.

use rustc_hash::FxHashSet as HashSet;

use chaintrace_model::TxNum;

use super::corrupt_forest;
use crate::tables::{
    BtcClusterAlerts, BtcClusterChildren, BtcClusterParent, BtcClusterUndo, BtcClusters,
    ClusterChild, Height,
};
use crate::{Batch, Store, StoreError};

/// Queues into `batch` what restores the cluster tables to their state before block `height`,
/// whose transactions are `first_tx .. first_tx + tx_count`.
pub(crate) fn undo_block(
    store: &Store,
    batch: &mut Batch,
    height: u32,
    first_tx: TxNum,
    tx_count: u32,
) -> Result<(), StoreError> {
    if let Some(undo) = store.get::<BtcClusterUndo>(&Height(height))? {
        let mut rows = HashSet::default();
        for &(child, parent) in &undo.edges {
            let edge = store
                .get::<BtcClusterParent>(&child)?
                .ok_or_else(|| corrupt_forest(child, "an edge of the undo record is missing"))?;
            if rows.insert(ClusterChild {
                parent,
                tx: edge.tx,
            }) {
                batch.delete::<BtcClusterChildren>(&ClusterChild {
                    parent,
                    tx: edge.tx,
                });
            }
            batch.delete::<BtcClusterParent>(&child);
        }
        for (root, rec) in &undo.roots {
            match rec {
                Some(rec) => batch.put::<BtcClusters>(root, rec),
                None => batch.delete::<BtcClusters>(root),
            }
        }
        batch.delete::<BtcClusterUndo>(&Height(height));
    }
    let end = first_tx.0 + u64::from(tx_count);
    for item in store.iter_from::<BtcClusterAlerts>(Some(&first_tx)) {
        let (tx, _) = item?;
        if tx.0 >= end {
            break;
        }
        batch.delete::<BtcClusterAlerts>(&tx);
    }
    Ok(())
}
