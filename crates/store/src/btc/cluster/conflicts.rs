//! The label-conflict exclusion (spec §6.1 [DESIGN]): a transaction whose inputs carry labels of
//! two different services is not one owner's spend (or the labels are wrong), so it must not
//! merge clusters; it is flagged instead.
//!
//! The writer loads the service labels once when it opens: labelled addresses are few next to
//! the chain's, and checking an input costs one hash lookup. Labels imported while a writer
//! runs apply from its next start; blocks already clustered are not revisited.

use rustc_hash::FxHashMap as HashMap;

use chaintrace_model::btc::AddrKey;
use chaintrace_model::{AddrId, Label};

use crate::tables::{BtcAddrLabels, BtcAddrs, LabelId, Labels};
use crate::{Store, StoreError};

/// Which service (by a dense entity number) each labelled address belongs to.
#[derive(Default)]
pub(super) struct ServiceLabels {
    by_key: HashMap<AddrKey, u32>,
    by_id: HashMap<AddrId, u32>,
}

/// The entity a label attributes to, if it names a service: its actor id when it has one (one
/// actor may carry several names), else its name, case-folded.
fn entity_name(label: &Label) -> Option<String> {
    if !label.category.is_service() {
        return None;
    }
    let name = label.actor.as_deref().unwrap_or(&label.name);
    Some(name.trim().to_lowercase())
}

impl ServiceLabels {
    pub(super) fn load(store: &Store) -> Result<Self, StoreError> {
        let mut entities: HashMap<String, u32> = HashMap::default();
        let mut of_label: HashMap<LabelId, u32> = HashMap::default();
        for item in store.iter_from::<Labels>(None) {
            let (id, label) = item?;
            if let Some(name) = entity_name(&label) {
                let next = entities.len() as u32;
                of_label.insert(id, *entities.entry(name).or_insert(next));
            }
        }
        let mut by_key = HashMap::default();
        if !of_label.is_empty() {
            for item in store.iter_from::<BtcAddrLabels>(None) {
                let (k, _) = item?;
                // Keys come in label-id order per address: the first service label wins.
                if let Some(&entity) = of_label.get(&k.label) {
                    by_key.entry(k.addr).or_insert(entity);
                }
            }
        }
        let keys: Vec<AddrKey> = by_key.keys().copied().collect();
        let ids = store.multi_get::<BtcAddrs>(&keys)?;
        let by_id = keys
            .iter()
            .zip(ids)
            .filter_map(|(k, id)| Some((id?, by_key[k])))
            .collect();
        Ok(ServiceLabels { by_key, by_id })
    }

    /// Learns the id the writer just gave to a new address.
    pub(super) fn note_address(&mut self, key: &AddrKey, id: AddrId) {
        if let Some(&entity) = self.by_key.get(key) {
            self.by_id.insert(id, entity);
        }
    }

    /// Forgets ids a rollback took back (they will be given to other addresses).
    pub(super) fn forget_from(&mut self, next_addr: u64) {
        self.by_id.retain(|id, _| id.0 < next_addr);
    }

    /// Two of `addrs` labelled as different services, if any.
    pub(super) fn conflict(&self, addrs: &[AddrId]) -> Option<(AddrId, AddrId)> {
        if self.by_id.is_empty() {
            return None;
        }
        let mut first: Option<(AddrId, u32)> = None;
        for &a in addrs {
            let Some(&entity) = self.by_id.get(&a) else {
                continue;
            };
            match first {
                None => first = Some((a, entity)),
                Some((f, e)) if e != entity => return Some((f, a)),
                Some(_) => {}
            }
        }
        None
    }

    /// Whether `change` is labelled as a service other than one of `inputs`: a guessed change
    /// output does not outrank a label.
    pub(super) fn change_conflicts(&self, inputs: &[AddrId], change: AddrId) -> bool {
        let Some(&entity) = self.by_id.get(&change) else {
            return false;
        };
        inputs
            .iter()
            .any(|a| self.by_id.get(a).is_some_and(|&e| e != entity))
    }
}
