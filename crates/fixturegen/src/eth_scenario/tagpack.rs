//! The scenario's attribution tags as a GraphSense-style TagPack (`eth_scenario.tagpack.yaml`).
//!
//! What an investigator would know on the day of the theft: the exchanges' addresses
//! (`exchange`), the mixer pool (`mixer`), and the address that received the stolen funds
//! (`theft`, with the GraphSense abuse `service_hack`). Everything else the tracer must find.

use super::manifest::EthManifest;
use crate::tagpack_yaml::{Pack, Tag};

/// Renders the TagPack: every manifest address with a category, in manifest order.
pub(crate) fn render(manifest: &EthManifest) -> String {
    let addresses: Vec<String> = manifest
        .addresses
        .iter()
        .map(|a| a.address.to_string())
        .collect();
    let tags: Vec<Tag<'_>> = manifest
        .addresses
        .iter()
        .zip(&addresses)
        .filter_map(|(named, address)| {
            let (label, category) = (named.label.as_deref()?, named.category.as_deref()?);
            Some(Tag {
                label,
                address,
                category,
                abuse: (category == "theft").then_some("service_hack"),
            })
        })
        .collect();
    let pack = Pack {
        title: "chaintrace Ethereum scenario fixture",
        description: "Fictional exchanges, the Tornado-style mixer pool and the Bitvault \
                      Exchange hot-wallet theft on the deterministic chaintrace anvil scenario \
                      (see eth_scenario.json).",
        chain: "ETH",
        cluster_definer: false,
    };
    crate::tagpack_yaml::render(&pack, &tags)
}
