//! The heist's attribution tags as a GraphSense TagPack (`heist.tagpack.yaml`).
//!
//! Exchange addresses get `category: exchange`. GraphSense's taxonomy has no "theft" entity
//! type; stolen-fund addresses are a `user` with `abuse: service_hack` (the INTERPOL DW-VA
//! abuse type for "digital intrusion into a service with the goal to steal funds").

use std::fmt::Write;

use super::manifest::HeistManifest;

/// Fixed so the file is reproducible.
const LASTMOD: &str = "2024-06-01";

struct Tag<'a> {
    label: &'a str,
    address: &'a str,
    category: &'a str,
    abuse: Option<&'a str>,
}

/// Renders the TagPack. Strings are written as JSON strings, which YAML reads as
/// double-quoted scalars.
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
    let mut out = String::new();
    let header = [
        ("title", "chaintrace heist fixture"),
        ("creator", "chaintrace-fixturegen"),
        (
            "description",
            "Fictional exchanges and the Bitvault Exchange hot-wallet theft on the deterministic \
             chaintrace regtest heist chain (see heist.json).",
        ),
        ("currency", "BTC"),
        ("network", "BTC"),
        ("source", "https://github.com/chaintrace/chaintrace"),
        ("confidence", "ownership"),
    ];
    for (key, value) in header {
        let _ = writeln!(out, "{key}: {}", quote(value));
    }
    let _ = writeln!(out, "is_public: true");
    let _ = writeln!(out, "lastmod: {LASTMOD}");
    let _ = writeln!(out, "is_cluster_definer: true");
    let _ = writeln!(out, "tags:");
    for tag in tags {
        let _ = writeln!(out, "  - label: {}", quote(tag.label));
        let _ = writeln!(out, "    address: {}", quote(tag.address));
        let _ = writeln!(out, "    category: {}", quote(tag.category));
        if let Some(abuse) = tag.abuse {
            let _ = writeln!(out, "    abuse: {}", quote(abuse));
        }
    }
    out
}

fn quote(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}
