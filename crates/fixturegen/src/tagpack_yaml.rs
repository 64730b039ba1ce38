//! Writing scenario labels as GraphSense TagPack YAML, the format `chaintrace labels import`
//! reads. Strings are written as JSON strings, which YAML reads as double-quoted scalars, and
//! nothing depends on the clock, so the files are reproducible.

use std::fmt::Write;

/// Fixed so the files are reproducible.
const LASTMOD: &str = "2024-06-01";

/// The pack's header: what it is and which chain its addresses are on.
pub(crate) struct Pack<'a> {
    pub title: &'a str,
    pub description: &'a str,
    /// `BTC` or `ETH` (written as both `currency` and `network`).
    pub chain: &'a str,
    pub cluster_definer: bool,
}

pub(crate) struct Tag<'a> {
    pub label: &'a str,
    pub address: &'a str,
    pub category: &'a str,
    pub abuse: Option<&'a str>,
}

pub(crate) fn render(pack: &Pack<'_>, tags: &[Tag<'_>]) -> String {
    render_entries(pack, tags.iter().map(|tag| (tag, None)))
}

/// Like [`render`], but every tag states its own `is_cluster_definer`, so one pack can hold
/// service tags that define their cluster's entity next to tags that must not (a theft
/// address says nothing about the rest of its cluster).
pub(crate) fn render_with_definers(pack: &Pack<'_>, tags: &[(Tag<'_>, bool)]) -> String {
    render_entries(
        pack,
        tags.iter().map(|(tag, definer)| (tag, Some(*definer))),
    )
}

fn render_entries<'t, 'a: 't>(
    pack: &Pack<'_>,
    tags: impl Iterator<Item = (&'t Tag<'a>, Option<bool>)>,
) -> String {
    let mut out = String::new();
    let header = [
        ("title", pack.title),
        ("creator", "chaintrace-fixturegen"),
        ("description", pack.description),
        ("currency", pack.chain),
        ("network", pack.chain),
        ("source", "https://github.com/chaintrace/chaintrace"),
        ("confidence", "ownership"),
    ];
    for (key, value) in header {
        let _ = writeln!(out, "{key}: {}", quote(value));
    }
    let _ = writeln!(out, "is_public: true");
    let _ = writeln!(out, "lastmod: {LASTMOD}");
    if pack.cluster_definer {
        let _ = writeln!(out, "is_cluster_definer: true");
    }
    let _ = writeln!(out, "tags:");
    for (tag, definer) in tags {
        let _ = writeln!(out, "  - label: {}", quote(tag.label));
        let _ = writeln!(out, "    address: {}", quote(tag.address));
        let _ = writeln!(out, "    category: {}", quote(tag.category));
        if let Some(abuse) = tag.abuse {
            let _ = writeln!(out, "    abuse: {}", quote(abuse));
        }
        if let Some(definer) = definer {
            let _ = writeln!(out, "    is_cluster_definer: {definer}");
        }
    }
    out
}

fn quote(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}
