//! Reading what `trace` and `screen` print as JSON, finding the bundled Bitcoin fixtures, and
//! the split arithmetic the scenario tests derive their expected figures with.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A bundled Bitcoin scenario's directory, `fixtures/btc/NAME` (blocks, manifest, TagPack).
pub fn btc_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/btc")
        .join(name)
}

/// A JSON amount: a decimal string of sats (the CLI contract), never a bare number.
pub fn sats(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{v} is not an amount string"))
}

pub fn holdings(r: &Value) -> &[Value] {
    r["holdings"]
        .as_array()
        .unwrap_or_else(|| panic!("no holdings array in {r}"))
}

pub fn flows(r: &Value) -> &[Value] {
    r["flows"]
        .as_array()
        .unwrap_or_else(|| panic!("no flows array in {r}"))
}

/// Largest-remainder split (spec §0.3) of `total` over `weights`; ties to the lower index.
pub fn largest_remainder(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    let exact: Vec<u128> = weights
        .iter()
        .map(|w| u128::from(total) * u128::from(*w))
        .collect();
    let mut parts: Vec<u64> = exact.iter().map(|e| (e / sum) as u64).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| (exact[*b] % sum).cmp(&(exact[*a] % sum)).then(a.cmp(b)));
    let left = total - parts.iter().sum::<u64>();
    for i in order.into_iter().take(left as usize) {
        parts[i] += 1;
    }
    parts
}
