//! The scenario's attribution tags as a GraphSense TagPack (`mixers.tagpack.yaml`).
//!
//! Exchange addresses define their cluster's entity (`is_cluster_definer: true`): whatever
//! a clusterer joins to them is the exchange. The theft address (`category: theft`) and the
//! coordinators' fee addresses (`mixing_service`) do not: they say nothing about the rest of
//! their clusters.

use super::manifest::MixersManifest;
use crate::tagpack_yaml::{Pack, Tag};

/// Renders the TagPack.
pub(super) fn render(manifest: &MixersManifest) -> String {
    let mut tags = Vec::new();
    for exchange in &manifest.exchanges {
        let addresses = exchange
            .hot_wallet
            .iter()
            .chain(exchange.deposit_addresses.iter().map(|d| &d.address));
        for address in addresses {
            let tag = Tag {
                label: &exchange.name,
                address,
                category: "exchange",
                abuse: None,
            };
            tags.push((tag, true));
        }
    }
    let theft = Tag {
        label: "Meridian Exchange hack",
        address: &manifest.theft.stolen_output.address,
        category: "theft",
        abuse: None,
    };
    tags.push((theft, false));
    for coordinator in &manifest.coordinators {
        let tag = Tag {
            label: &coordinator.name,
            address: &coordinator.address,
            category: "mixing_service",
            abuse: None,
        };
        tags.push((tag, false));
    }
    let pack = Pack {
        title: "chaintrace mixers fixture",
        description: "Fictional exchanges, the Meridian Exchange theft and the CoinJoin \
                      coordinators on the deterministic chaintrace regtest mixers chain (see \
                      mixers.json).",
        chain: "BTC",
        cluster_definer: false,
    };
    crate::tagpack_yaml::render_with_definers(&pack, &tags)
}
