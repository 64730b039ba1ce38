//! The heist's attribution tags as a GraphSense TagPack (`heist.tagpack.yaml`).
//!
//! Exchange addresses get `category: exchange`. GraphSense's taxonomy has no "theft" entity
//! type; stolen-fund addresses are a `user` with `abuse: service_hack` (the INTERPOL DW-VA
//! abuse type for "digital intrusion into a service with the goal to steal funds").

use super::manifest::HeistManifest;
use crate::tagpack_yaml::{Pack, Tag};

/// Renders the TagPack.
pub(crate) fn render(manifest: &HeistManifest) -> String {
    let mut tags = Vec::new();
    for exchange in &manifest.entities.exchanges {
        let addresses = exchange
            .hot_wallet
            .iter()
            .chain(exchange.deposit_addresses.iter().map(|d| &d.address));
        for address in addresses {
            tags.push(Tag {
                label: &exchange.name,
                address,
                category: "exchange",
                abuse: None,
            });
        }
    }
    for address in &manifest.entities.thief.theft_addresses {
        tags.push(Tag {
            label: "Bitvault Exchange hack",
            address,
            category: "user",
            abuse: Some("service_hack"),
        });
    }
    let pack = Pack {
        title: "chaintrace heist fixture",
        description: "Fictional exchanges and the Bitvault Exchange hot-wallet theft on the \
                      deterministic chaintrace regtest heist chain (see heist.json).",
        chain: "BTC",
        cluster_definer: true,
    };
    crate::tagpack_yaml::render(&pack, &tags)
}
