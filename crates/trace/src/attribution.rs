//! Who the engine believes holds an address: labels loaded once from the index into memory,
//! keyed by dense address id, so that every output the engine meets costs one hash lookup.

use std::sync::Arc;

use chaintrace_model::{AddrId, Category};
use rustc_hash::FxHashMap;
use serde::Serialize;

use chaintrace_store::labels::LabelStore;
use chaintrace_store::tables::LabelTarget;
use chaintrace_store::Store;

use crate::ledger::{OutRef, TraceError};

/// What a label's target is in the index being traced.
pub enum Named {
    Addr(AddrId),
    Output(OutRef),
    /// Another chain's target, or one the index never saw.
    Elsewhere,
}

/// Loads every label of the index, placing each target with `resolve` (one chain's view of
/// the label targets).
pub fn load_labels(
    store: &Store,
    resolve: impl Fn(&LabelTarget) -> Result<Named, TraceError>,
) -> Result<Attributions, TraceError> {
    let labels = LabelStore::new(store);
    let mut by_addr: FxHashMap<AddrId, Vec<Attr>> = FxHashMap::default();
    let mut by_output: FxHashMap<OutRef, Vec<Attr>> = FxHashMap::default();
    for item in labels.all() {
        let (id, label) = item?;
        let attr = Attr {
            label_id: id.0,
            name: Arc::from(label.name.as_str()),
            category: label.category.clone(),
            confidence: label.confidence,
            source: Arc::from(label.source.as_str()),
            cluster_definer: label.is_cluster_definer,
            via_cluster: None,
        };
        for target in labels.targets(id) {
            match resolve(&target?)? {
                Named::Addr(a) => by_addr.entry(a).or_default().push(attr.clone()),
                Named::Output(o) => by_output.entry(o).or_default().push(attr.clone()),
                Named::Elsewhere => {}
            }
        }
    }
    Ok(Attributions::new(
        by_addr.into_iter().map(|(k, v)| (k, v.into())).collect(),
        by_output.into_iter().map(|(k, v)| (k, v.into())).collect(),
    ))
}

/// One attribution of an address or output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attr {
    #[serde(skip)]
    pub label_id: u32,
    pub name: Arc<str>,
    pub category: Category,
    pub confidence: u8,
    pub source: Arc<str>,
    /// The label's pack says it names the whole cluster of its address.
    #[serde(skip)]
    pub cluster_definer: bool,
    /// Set when the label reached this address through its cluster: the cluster's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_cluster: Option<u64>,
}

pub type Attrs = Arc<[Attr]>;

/// Every attribution that applies to an indexed address or output.
#[derive(Default, Clone)]
pub struct Attributions {
    by_addr: FxHashMap<AddrId, Attrs>,
    by_output: FxHashMap<OutRef, Attrs>,
}

impl Attributions {
    pub fn new(by_addr: FxHashMap<AddrId, Attrs>, by_output: FxHashMap<OutRef, Attrs>) -> Self {
        Attributions { by_addr, by_output }
    }

    /// Labels of an output: its own, then its address's.
    pub fn of(&self, out: OutRef, addr: AddrId) -> Option<Vec<Attr>> {
        // Most indexes label no single outputs; skip that lookup on the hot path.
        let own = if self.by_output.is_empty() {
            None
        } else {
            self.by_output.get(&out)
        };
        let via_addr = if addr.is_none() {
            None
        } else {
            self.by_addr.get(&addr)
        };
        match (own, via_addr) {
            (None, None) => None,
            (a, b) => Some(
                a.into_iter()
                    .chain(b)
                    .flat_map(|x| x.iter().cloned())
                    .collect(),
            ),
        }
    }

    pub fn of_addr(&self, addr: AddrId) -> Option<&Attrs> {
        self.by_addr.get(&addr)
    }

    pub fn addresses(&self) -> usize {
        self.by_addr.len()
    }

    /// Extends every cluster-defining address label to the other members of the address's
    /// cluster. `members` gives an address's cluster id, members (the labelled address
    /// included) and whether that list is cut short; at most `budget` labels are spread in
    /// all. Returns whether anything was left out, so that a report can say so.
    pub fn spread_over_clusters(
        &mut self,
        mut members: impl FnMut(AddrId) -> Result<(u64, Vec<AddrId>, bool), TraceError>,
        mut budget: usize,
    ) -> Result<bool, TraceError> {
        let mut definers: Vec<(AddrId, Vec<Attr>)> = self
            .by_addr
            .iter()
            .map(|(a, attrs)| {
                let d: Vec<Attr> = attrs
                    .iter()
                    .filter(|x| x.cluster_definer)
                    .cloned()
                    .collect();
                (*a, d)
            })
            .filter(|(_, d)| !d.is_empty())
            .collect();
        definers.sort_by_key(|(a, _)| *a);
        let mut cut = false;
        for (addr, attrs) in definers {
            let (cluster, all, truncated) = members(addr)?;
            cut |= truncated;
            for m in all.into_iter().filter(|m| *m != addr) {
                if budget == 0 {
                    return Ok(true);
                }
                budget -= 1;
                self.add_via_cluster(m, cluster, &attrs);
            }
        }
        Ok(cut)
    }

    /// Adds `attrs` to `addr` as reached through `cluster`, skipping labels it already has.
    fn add_via_cluster(&mut self, addr: AddrId, cluster: u64, attrs: &[Attr]) {
        let current = self.by_addr.get(&addr);
        let new: Vec<Attr> = attrs
            .iter()
            .filter(|a| current.is_none_or(|c| c.iter().all(|x| x.label_id != a.label_id)))
            .map(|a| Attr {
                via_cluster: Some(cluster),
                ..a.clone()
            })
            .collect();
        if !new.is_empty() {
            let merged: Vec<Attr> = current
                .into_iter()
                .flat_map(|c| c.iter().cloned())
                .chain(new)
                .collect();
            self.by_addr.insert(addr, merged.into());
        }
    }

    /// Every labelled address with its labels (in no particular order).
    pub fn labelled_addresses(&self) -> impl Iterator<Item = (AddrId, &Attrs)> + '_ {
        self.by_addr.iter().map(|(a, attrs)| (*a, attrs))
    }

    pub fn outputs(&self) -> usize {
        self.by_output.len()
    }
}

/// Categories at which a trace stops.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum StopSet {
    /// Any attributed service (`Category::is_service`): the default for forward traces.
    Services,
    /// Any attribution at all: the default for backward exposure.
    AnyLabel,
    /// Exactly these categories.
    Only(Vec<Category>),
    /// Never stop at labels.
    Nothing,
}

impl StopSet {
    pub fn stops(&self, attrs: &[Attr]) -> bool {
        attrs.iter().any(|a| match self {
            StopSet::Services => a.category.is_service(),
            StopSet::AnyLabel => true,
            StopSet::Only(cats) => cats.contains(&a.category),
            StopSet::Nothing => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(id: u32, name: &str, definer: bool) -> Attr {
        Attr {
            label_id: id,
            name: Arc::from(name),
            category: Category::Exchange,
            confidence: 80,
            source: Arc::from("test"),
            cluster_definer: definer,
            via_cluster: None,
        }
    }

    fn with(labels: &[(u64, Attr)]) -> Attributions {
        let mut by_addr: FxHashMap<AddrId, Vec<Attr>> = FxHashMap::default();
        for (a, x) in labels {
            by_addr.entry(AddrId(*a)).or_default().push(x.clone());
        }
        Attributions::new(
            by_addr.into_iter().map(|(k, v)| (k, v.into())).collect(),
            FxHashMap::default(),
        )
    }

    /// Cluster 10 is {10, 11, 12}; every other address is alone.
    fn members(addr: AddrId) -> Result<(u64, Vec<AddrId>, bool), TraceError> {
        Ok(match addr.0 {
            10..=12 => (10, vec![AddrId(10), AddrId(11), AddrId(12)], false),
            a => (a, vec![addr], false),
        })
    }

    #[test]
    fn definer_labels_reach_the_whole_cluster_and_say_how() {
        let mut a = with(&[
            (11, attr(1, "Northbank", true)),
            (12, attr(2, "a user note", false)),
            (20, attr(3, "Keyport", true)),
        ]);
        assert!(!a.spread_over_clusters(members, 100).unwrap());
        let at = |x: u64| a.of_addr(AddrId(x)).map(|v| v.to_vec()).unwrap_or_default();
        assert_eq!(at(10).len(), 1);
        assert_eq!(at(10)[0].name.as_ref(), "Northbank");
        assert_eq!(at(10)[0].via_cluster, Some(10));
        // The labelled address keeps its own label as it was; 12 gains Northbank only.
        assert_eq!(at(11)[0].via_cluster, None);
        let twelve = at(12);
        let names: Vec<&str> = twelve.iter().map(|x| x.name.as_ref()).collect();
        assert_eq!(names, vec!["a user note", "Northbank"]);
        // A non-definer label stays where it is; a lone address spreads nowhere.
        assert!(at(21).is_empty());
    }

    #[test]
    fn the_budget_cuts_the_spread_and_says_so() {
        let mut a = with(&[(11, attr(1, "Northbank", true))]);
        assert!(a.spread_over_clusters(members, 1).unwrap());
        let reached = [10, 12]
            .iter()
            .filter(|x| a.of_addr(AddrId(**x)).is_some())
            .count();
        assert_eq!(reached, 1);
    }
}
