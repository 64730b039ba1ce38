//! Turning the recorded story into the manifest: cluster expectations, exchange address
//! lists and the thief's holdings at the tip.

use std::collections::BTreeSet;
use std::io;

use super::manifest::*;
use super::plot::{STORY, TAINT_CONVENTIONS};
use super::story::Story;
use super::{MERIDIAN, QUAYSIDE, TALLYPORT};
use crate::chain::GeneratedBlock;
use crate::heist::{DepositAddress, PeelHop};
use crate::scenario::{chain_facts, coin_ref, Addr};

fn addresses(list: &[Addr]) -> Vec<String> {
    list.iter().map(|a| a.address.clone()).collect()
}

fn owned(list: &[Addr], owner: &str) -> Vec<DepositAddress> {
    list.iter()
        .map(|a| DepositAddress {
            address: a.address.clone(),
            owner: owner.to_owned(),
        })
        .collect()
}

/// The consolidations merge the reused wallet addresses and the consolidation outputs they
/// sweep, step by step.
fn multi_input_cluster(merges: &[Merge]) -> ExpectedCluster {
    let addresses: BTreeSet<String> = merges
        .iter()
        .flat_map(|m| m.addresses.iter().cloned())
        .collect();
    ExpectedCluster {
        heuristic: "multi_input".to_owned(),
        addresses: addresses.into_iter().collect(),
        merges: merges.to_vec(),
    }
}

/// Each hop links the address it spends with its change address.
fn peel_chain_cluster(hops: &[PeelHop]) -> ExpectedCluster {
    let merges: Vec<Merge> = hops
        .iter()
        .map(|h| Merge {
            txid: h.txid.clone(),
            height: h.height,
            addresses: vec![h.input.address.clone(), h.change.address.clone()],
        })
        .collect();
    let addresses: BTreeSet<String> = merges
        .iter()
        .flat_map(|m| m.addresses.iter().cloned())
        .collect();
    ExpectedCluster {
        heuristic: "peel_chain".to_owned(),
        addresses: addresses.into_iter().collect(),
        merges,
    }
}

impl Story {
    fn exchanges(&self) -> Vec<MixersExchange> {
        let cast = &self.cast;
        let deposit_addresses = |slot: usize| {
            let mut all = owned(&cast.thief.deposit[slot], "thief");
            all.extend(owned(&cast.customers[slot], "customer"));
            all
        };
        vec![
            MixersExchange {
                name: MERIDIAN.to_owned(),
                hot_wallet: addresses(&cast.hot),
                deposit_addresses: Vec::new(),
            },
            MixersExchange {
                name: TALLYPORT.to_owned(),
                hot_wallet: Vec::new(),
                deposit_addresses: deposit_addresses(0),
            },
            MixersExchange {
                name: QUAYSIDE.to_owned(),
                hot_wallet: Vec::new(),
                deposit_addresses: deposit_addresses(1),
            },
        ]
    }

    pub(super) fn into_manifest(
        self,
        blocks: &[GeneratedBlock],
        tip: bitcoin::BlockHash,
    ) -> io::Result<MixersManifest> {
        let incomplete =
            |what: &str| io::Error::other(format!("mixers scenario did not record the {what}"));
        let exchanges = self.exchanges();
        let coordinators = vec![
            Coordinator {
                name: "Whirlpool coordinator".to_owned(),
                address: self.cast.whirlpool_coordinator.address.clone(),
            },
            Coordinator {
                name: "Wasabi coordinator".to_owned(),
                address: self.cast.wasabi_coordinator.address.clone(),
            },
        ];
        let record = self.record;
        let thief_unspent = record
            .thief_coins
            .iter()
            .filter(|c| !record.spent.contains(&c.outpoint))
            .map(|c| coin_ref(&self.keys, c))
            .collect();
        let hops = record.peel_hops;
        let first = hops.first().ok_or_else(|| incomplete("peel chain"))?;
        let last = hops.last().ok_or_else(|| incomplete("peel chain"))?;
        let peel_chain = PeelChain {
            start: first.input.clone(),
            length: hops.len() as u32,
            final_change: last.change.clone(),
            hops: hops.clone(),
        };
        let clusters = ClusterExpectations {
            together: vec![
                multi_input_cluster(&record.consolidations),
                peel_chain_cluster(&hops),
            ],
            apart: record.apart,
        };
        Ok(MixersManifest {
            format: 1,
            network: "regtest".to_owned(),
            story: STORY.to_owned(),
            taint_conventions: TAINT_CONVENTIONS.to_owned(),
            chain: chain_facts(blocks, tip),
            exchanges,
            coordinators,
            theft: record.theft.ok_or_else(|| incomplete("theft"))?,
            distributions: record.distributions,
            mixes: record.mixes,
            peel_chain,
            clusters,
            deposits: record.deposits,
            innocent_deposits: record.innocent_deposits,
            thief_unspent,
        })
    }
}
