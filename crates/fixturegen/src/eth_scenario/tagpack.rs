//! The scenario's attribution tags as a GraphSense-style TagPack (`eth_scenario.tagpack.yaml`).
//!
//! What an investigator would know on the day of the theft: the exchanges' addresses
//! (`exchange`), the mixer pool (`mixer`), and the address that received the stolen funds
//! (`theft`, with the GraphSense abuse `service_hack`). Everything else the tracer must find.

use std::fmt::Write;

use super::manifest::EthManifest;

/// Fixed so the file is reproducible.
const LASTMOD: &str = "2024-06-01";

/// Renders the TagPack: every manifest address with a category, in manifest order. Strings
/// are written as JSON strings, which YAML reads as double-quoted scalars.
pub(crate) fn render(manifest: &EthManifest) -> String {
    let mut out = String::new();
    let header = [
        ("title", "chaintrace Ethereum scenario fixture"),
        ("creator", "chaintrace-fixturegen"),
        (
            "description",
            "Fictional exchanges, the Tornado-style mixer pool and the Bitvault Exchange \
             hot-wallet theft on the deterministic chaintrace anvil scenario (see \
             eth_scenario.json).",
        ),
        ("currency", "ETH"),
        ("network", "ETH"),
        ("source", "https://github.com/chaintrace/chaintrace"),
        ("confidence", "ownership"),
    ];
    for (key, value) in header {
        let _ = writeln!(out, "{key}: {}", quote(value));
    }
    let _ = writeln!(out, "is_public: true");
    let _ = writeln!(out, "lastmod: {LASTMOD}");
    let _ = writeln!(out, "tags:");
    for named in &manifest.addresses {
        let (Some(label), Some(category)) = (&named.label, &named.category) else {
            continue;
        };
        let _ = writeln!(out, "  - label: {}", quote(label));
        let _ = writeln!(out, "    address: {}", quote(&named.address.to_string()));
        let _ = writeln!(out, "    category: {}", quote(category));
        if category == "theft" {
            let _ = writeln!(out, "    abuse: {}", quote("service_hack"));
        }
    }
    out
}

fn quote(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}
