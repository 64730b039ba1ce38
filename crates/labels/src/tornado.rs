//! Tornado Cash pool registries, as pareto-xyz/tutela-app keeps them: `tornado_pools.json`
//! (`{"0x…": "1 ETH", …}`) or `tornadocontracts.csv` (no header; `address,token,denomination,
//! short_name`).
//!
//! Every pool is a mixer, named with its denomination ("Tornado Cash pool 1 ETH"): the label
//! model has no description field, and the name is what reports show. The denomination is the
//! registry's claim; Etherscan names two of the USDC pools differently, so nothing here checks
//! it. Deposits reach the pools through the router and proxies, which registries of pools do
//! not list, so every import adds them too (see [`ENTRY_CONTRACTS`]).

use chaintrace_model::Category;

use crate::csvfile;
use crate::entry::{Entry, Invalid, Location};
use crate::eth::looks_like_eth;
use crate::fields::Fixed;
use crate::{json, LabelError};

/// Where the pool registries come from.
pub const SOURCE: &str = "https://github.com/pareto-xyz/tutela-app/tree/main/data/static/tcash";
/// Where the entry contracts are named (Etherscan's `tornado-cash` label, also on the OFAC
/// list).
pub const ENTRY_SOURCE: &str = "https://etherscan.io/accounts/label/tornado-cash";

/// The pools are the mixer's own, immutable contracts, listed alike by OFAC and Etherscan.
const CONFIDENCE: &str = "forensic";

/// Contracts users deposit through, which pass the funds on to a pool: the router (current),
/// the proxy it replaced, and the first proxy. Added to every registry import, written at line
/// 0 since the file does not hold them.
pub const ENTRY_CONTRACTS: [(&str, &str); 3] = [
    (
        "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b",
        "Tornado Cash Router",
    ),
    (
        "0x722122dF12D4e14e13Ac3b6895a86e84145b6967",
        "Tornado Cash Proxy",
    ),
    (
        "0x905b63Fff465B9fFBF41DeA908CEb12478ec7601",
        "Tornado Cash Old Proxy",
    ),
];

/// Whether a CSV file has no header and starts with a pool address (the registry's layout).
pub fn is_headerless_csv(text: &str) -> bool {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    first.is_some_and(|l| looks_like_eth(l.split(',').next().unwrap_or_default()))
}

/// Parses either form of the registry, then adds the entry contracts.
pub fn parse(text: &str, file: &str) -> Result<(Vec<Entry>, Vec<Invalid>), LabelError> {
    let (mut entries, invalid) = if text.trim_start().starts_with('{') {
        parse_json(text, file)?
    } else {
        parse_csv(text, file)
    };
    entries.extend(ENTRY_CONTRACTS.iter().map(|(address, name)| {
        let label = label(name.to_string(), ENTRY_SOURCE);
        label.entry(address, "ETH", file, Location::line(0))
    }));
    Ok((entries, invalid))
}

fn parse_json(text: &str, file: &str) -> Result<(Vec<Entry>, Vec<Invalid>), LabelError> {
    let what = "a Tornado Cash pool object ({\"0x…\": \"1 ETH\", …})";
    let pools = json::members::<String>(text, file, what)?;
    let (mut entries, mut invalid) = (Vec::new(), Vec::new());
    for (i, (line, address, denomination)) in pools.into_iter().enumerate() {
        match pool(&address, &denomination, file, Location::entry(line, i + 1)) {
            Ok(e) => entries.push(e),
            Err(e) => invalid.push(e),
        }
    }
    Ok((entries, invalid))
}

fn parse_csv(text: &str, file: &str) -> (Vec<Entry>, Vec<Invalid>) {
    let reader = csvfile::reader(text, false);
    csvfile::rows(text, reader, "the first row", |r, at| {
        let field = |i: usize| r.get(i).unwrap_or_default().trim();
        let denomination = format!("{} {}", field(2), field(1));
        pool(field(0), &denomination, file, at)
    })
}

/// The entry of one pool; a pool without a denomination is not one.
fn pool(address: &str, denomination: &str, file: &str, at: Location) -> Result<Entry, Invalid> {
    let denomination = denomination.trim();
    if denomination.is_empty() {
        return Err(Invalid {
            at,
            text: address.to_string(),
            reason: "the pool has no denomination".into(),
        });
    }
    let label = label(format!("Tornado Cash pool {denomination}"), SOURCE);
    Ok(label.entry(address, "ETH", file, at))
}

fn label(name: String, source: &str) -> Fixed {
    Fixed {
        name,
        category: Category::Mixer,
        raw_category: "mixing_service".into(),
        confidence: CONFIDENCE,
        source: source.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::parse_eth_address;

    #[test]
    fn entry_contracts_are_checksummed_addresses() {
        for (address, _) in ENTRY_CONTRACTS {
            assert_eq!(
                parse_eth_address(address).unwrap().to_checksum(None),
                address
            );
        }
    }

    #[test]
    fn rows_without_denomination_are_invalid() {
        let (entries, invalid) = parse_csv("0xab,ETH,1,eth1\n0xcd,,,x\n0xef,ETH\n", "t.csv");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].label.name, "Tornado Cash pool 1 ETH");
        let got: Vec<(usize, &str)> = invalid
            .iter()
            .map(|i| (i.at.line, i.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (2, "the pool has no denomination"),
                (3, "the row has 2 fields but the first row has 4 (quote fields that contain commas)")
            ]
        );
    }
}
