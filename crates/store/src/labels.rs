//! Attribution data in the index: labels imported from files, and which addresses and outputs
//! they name. Labels are keyed by canonical address key rather than address id, so they can be
//! imported before, after or without the blocks that use the address.

use std::collections::BTreeMap;

use chaintrace_model::btc::AddrKey;
use chaintrace_model::Label;

use crate::records::LabelFileRecord;
use crate::tables::{
    AddrLabel, BtcAddrLabels, BtcOutputLabels, Empty, EthAddrLabel, EthAddrLabels, FileKey,
    LabelFiles, LabelId, LabelTarget, LabelTargetKey, LabelTargets, Labels, Meta, MetaKey,
    OutputLabel,
};
use crate::{Batch, Durability, Store, StoreError};

/// What an import changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportOutcome {
    /// Distinct labels (name, category, source, ...) the file defines.
    pub labels: usize,
    /// Addresses and outputs labelled.
    pub targets: usize,
    /// Labels of an earlier import of the same file that were replaced.
    pub replaced: usize,
}

/// Reads and writes labels.
#[derive(Clone, Copy)]
pub struct LabelStore<'s> {
    store: &'s Store,
}

impl<'s> LabelStore<'s> {
    pub fn new(store: &'s Store) -> Self {
        LabelStore { store }
    }

    /// Replaces everything earlier imported from `file` with `entries`, in one atomic batch.
    /// Identical labels (same name, category, source, ...) are stored once.
    pub fn import(
        &self,
        file: &str,
        format: &str,
        sha256: &str,
        entries: &[(LabelTarget, Label)],
    ) -> Result<ImportOutcome, StoreError> {
        let mut batch = Batch::new();
        let replaced = self.forget_file(file, &mut batch)?;
        let mut next = self.next_id()?;
        let mut ids: BTreeMap<String, LabelId> = BTreeMap::new();
        let mut record = LabelFileRecord {
            format: format.into(),
            sha256: sha256.into(),
            ..Default::default()
        };
        for (target, label) in entries {
            let fingerprint = serde_json::to_string(label).expect("labels serialize");
            let id = *ids.entry(fingerprint).or_insert_with(|| {
                let id = LabelId(next);
                next += 1;
                batch.put::<Labels>(&id, label);
                record.labels.push(id.0);
                id
            });
            put_target(&mut batch, id, target);
            batch.put::<LabelTargets>(
                &LabelTargetKey {
                    label: id,
                    target: *target,
                },
                &Empty,
            );
            record.targets += 1;
        }
        batch.put::<LabelFiles>(&FileKey(file.to_string()), &record);
        batch.put::<Meta>(&MetaKey::NextLabelId, &next.to_be_bytes().to_vec());
        self.store.write(batch, Durability::Logged)?;
        Ok(ImportOutcome {
            labels: ids.len(),
            targets: entries.len(),
            replaced,
        })
    }

    fn next_id(&self) -> Result<u32, StoreError> {
        Ok(self
            .store
            .get::<Meta>(&MetaKey::NextLabelId)?
            .and_then(|v| <[u8; 4]>::try_from(v.as_slice()).ok())
            .map_or(1, u32::from_be_bytes))
    }

    /// Queues the deletion of every label of an earlier import of `file`.
    fn forget_file(&self, file: &str, batch: &mut Batch) -> Result<usize, StoreError> {
        let Some(old) = self.store.get::<LabelFiles>(&FileKey(file.to_string()))? else {
            return Ok(0);
        };
        for &id in &old.labels {
            let id = LabelId(id);
            for item in self
                .store
                .iter_prefix::<LabelTargets>(id.0.to_be_bytes().to_vec())
            {
                let (key, _) = item?;
                delete_target(batch, id, &key.target);
                batch.delete::<LabelTargets>(&key);
            }
            batch.delete::<Labels>(&id);
        }
        batch.delete::<LabelFiles>(&FileKey(file.to_string()));
        Ok(old.labels.len())
    }

    pub fn label(&self, id: LabelId) -> Result<Option<Label>, StoreError> {
        self.store.get::<Labels>(&id)
    }

    /// Labels of a Bitcoin address.
    pub fn of_btc_addr(&self, addr: &AddrKey) -> Result<Vec<(LabelId, Label)>, StoreError> {
        let ids: Vec<LabelId> = self
            .store
            .iter_prefix::<BtcAddrLabels>(AddrLabel::prefix(addr))
            .map(|r| r.map(|(k, _)| k.label))
            .collect::<Result<_, _>>()?;
        self.resolve(ids)
    }

    /// Labels of an Ethereum address.
    pub fn of_eth_addr(&self, addr: &[u8; 20]) -> Result<Vec<(LabelId, Label)>, StoreError> {
        let ids: Vec<LabelId> = self
            .store
            .iter_prefix::<EthAddrLabels>(addr.to_vec())
            .map(|r| r.map(|(k, _)| k.label))
            .collect::<Result<_, _>>()?;
        self.resolve(ids)
    }

    /// Labels of a Bitcoin output (`txid` in internal byte order).
    pub fn of_btc_output(
        &self,
        txid: &[u8; 32],
        vout: u32,
    ) -> Result<Vec<(LabelId, Label)>, StoreError> {
        let ids: Vec<LabelId> = self
            .store
            .iter_prefix::<BtcOutputLabels>(OutputLabel::prefix(txid, vout))
            .map(|r| r.map(|(k, _)| k.label))
            .collect::<Result<_, _>>()?;
        self.resolve(ids)
    }

    fn resolve(&self, ids: Vec<LabelId>) -> Result<Vec<(LabelId, Label)>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(l) = self.label(id)? {
                out.push((id, l));
            }
        }
        Ok(out)
    }

    /// Every label, in id order.
    pub fn all(&self) -> impl Iterator<Item = Result<(LabelId, Label), StoreError>> + 's {
        self.store.iter_from::<Labels>(None)
    }

    /// What a label names.
    pub fn targets(
        &self,
        id: LabelId,
    ) -> impl Iterator<Item = Result<LabelTarget, StoreError>> + 's {
        self.store
            .iter_prefix::<LabelTargets>(id.0.to_be_bytes().to_vec())
            .map(|r| r.map(|(k, _)| k.target))
    }

    /// Imported files and what they brought.
    pub fn files(
        &self,
    ) -> impl Iterator<Item = Result<(String, LabelFileRecord), StoreError>> + 's {
        self.store
            .iter_from::<LabelFiles>(None)
            .map(|r| r.map(|(k, v)| (k.0, v)))
    }
}

fn put_target(batch: &mut Batch, id: LabelId, target: &LabelTarget) {
    match target {
        LabelTarget::BtcAddr(addr) => batch.put::<BtcAddrLabels>(
            &AddrLabel {
                addr: *addr,
                label: id,
            },
            &Empty,
        ),
        LabelTarget::BtcOutput(txid, vout) => batch.put::<BtcOutputLabels>(
            &OutputLabel {
                txid: *txid,
                vout: *vout,
                label: id,
            },
            &Empty,
        ),
        LabelTarget::EthAddr(addr) => batch.put::<EthAddrLabels>(
            &EthAddrLabel {
                addr: *addr,
                label: id,
            },
            &Empty,
        ),
    }
}

fn delete_target(batch: &mut Batch, id: LabelId, target: &LabelTarget) {
    match target {
        LabelTarget::BtcAddr(addr) => batch.delete::<BtcAddrLabels>(&AddrLabel {
            addr: *addr,
            label: id,
        }),
        LabelTarget::BtcOutput(txid, vout) => batch.delete::<BtcOutputLabels>(&OutputLabel {
            txid: *txid,
            vout: *vout,
            label: id,
        }),
        LabelTarget::EthAddr(addr) => batch.delete::<EthAddrLabels>(&EthAddrLabel {
            addr: *addr,
            label: id,
        }),
    }
}
