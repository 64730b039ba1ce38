//! OFAC SDN digital-currency address lists, as published by
//! 0xB10C/ofac-sanctioned-digital-currency-addresses: `sanctioned_addresses_<ASSET>.txt` (one
//! address per line) or `.json` (an array of the same addresses).

use std::path::Path;

use chaintrace_model::Category;

use crate::entry::{currency_code, Entry, Invalid, Location, ParseOptions};
use crate::eth::looks_like_eth;
use crate::fields::Fixed;
use crate::{json, LabelError};

/// The name every address of an OFAC list is labelled with.
pub const NAME: &str = "OFAC SDN list";
/// Where the addresses come from: the SDN list they are extracted from.
pub const SOURCE: &str = "https://www.treasury.gov/ofac/downloads/sdnlist.txt";

/// Tokens OFAC files addresses under by the token's own code. Their `0x` addresses hold the
/// token on Ethereum: OFAC files the other EVM chains' addresses under the chain (`ARB`,
/// `BSC`). Their other addresses (Omni on Bitcoin, Tron) stay under the token and are skipped.
const ETHEREUM_TOKENS: [&str; 2] = ["USDT", "USDC"];

/// Parses an OFAC list. Every line (or array item) is an entry; which addresses are valid is
/// decided later, against the index's network.
pub fn parse(
    text: &str,
    file: &str,
    path: &Path,
    opts: &ParseOptions,
) -> Result<(Vec<Entry>, Vec<Invalid>), LabelError> {
    let asset = asset_of(path)
        .or_else(|| opts.currency.as_deref().map(currency_code))
        .ok_or_else(|| LabelError::Ambiguous {
            path: file.to_string(),
            reason: "the file name does not say which asset the addresses hold \
                     (sanctioned_addresses_<ASSET>.txt); pass --chain"
                .into(),
        })?;
    let addresses = if text.trim_start().starts_with('[') {
        json::string_items(text, file, "a JSON array of addresses")?
    } else {
        text_lines(text)
    };
    let entries = addresses
        .into_iter()
        .map(|(line, address)| {
            let currency = chain_currency(&asset, &address);
            label(&asset).entry(&address, currency, file, Location::line(line))
        })
        .collect();
    Ok((entries, Vec::new()))
}

/// The asset named by `sanctioned_addresses_<ASSET>.<ext>`.
fn asset_of(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let asset = stem.strip_prefix("sanctioned_addresses_")?;
    (!asset.is_empty()).then(|| currency_code(asset))
}

/// The currency an address of the `asset` list is on: Ethereum for the `0x` addresses of
/// [`ETHEREUM_TOKENS`], else the asset itself.
fn chain_currency<'a>(asset: &'a str, address: &str) -> &'a str {
    if ETHEREUM_TOKENS.contains(&asset) && looks_like_eth(address) {
        "ETH"
    } else {
        asset
    }
}

/// The label of the `asset` list; a token list says which token, since its addresses are
/// filed under the chain they are on.
fn label(asset: &str) -> Fixed {
    let name = if ETHEREUM_TOKENS.contains(&asset) {
        format!("{NAME} ({asset})")
    } else {
        NAME.to_string()
    };
    Fixed {
        name,
        category: Category::Sanctioned,
        raw_category: "sanctioned".into(),
        confidence: "authority_data",
        source: SOURCE.into(),
    }
}

/// Non-empty lines with their 1-based numbers; `#` starts a comment line.
fn text_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(n, l)| (n, l.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use chaintrace_model::Network;

    use super::*;
    use crate::{fixture, parse_file, resolve, Format};

    fn list(name: &str, opts: &ParseOptions) -> Result<crate::ParsedFile, LabelError> {
        parse_file(&fixture(name), None, opts)
    }

    #[test]
    fn the_xbt_list_has_434_bitcoin_addresses_and_one_tron_line() {
        let p = list("sanctioned_addresses_XBT.txt", &ParseOptions::default()).unwrap();
        assert_eq!(p.format, Format::Ofac);
        assert_eq!(p.entries.len(), 435);
        let e = &p.entries[0];
        assert_eq!(
            (e.target.as_str(), e.currency.as_str()),
            ("123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX", "BTC")
        );
        assert_eq!(
            (e.label.name.as_str(), e.label.source.as_str()),
            (NAME, SOURCE)
        );
        assert_eq!(
            (e.label.category.clone(), e.label.confidence),
            (Category::Sanctioned, 60)
        );
        let r = resolve(p, Network::Main);
        assert_eq!(r.labels.len(), 434);
        assert_eq!(r.invalid.len(), 1);
        let tron = &r.invalid[0];
        assert_eq!(
            (tron.at, tron.text.as_str()),
            (Location::line(355), "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq")
        );
        assert!(
            tron.reason.contains("is not a valid Bitcoin address"),
            "{}",
            tron.reason
        );
    }

    #[test]
    fn the_json_form_holds_the_same_addresses_with_their_lines() {
        let txt = list("sanctioned_addresses_XBT.txt", &ParseOptions::default()).unwrap();
        let json = list("sanctioned_addresses_XBT.json", &ParseOptions::default()).unwrap();
        let targets = |p: &crate::ParsedFile| {
            p.entries
                .iter()
                .map(|e| e.target.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(targets(&txt), targets(&json));
        // The array opens on line 1, so item n is on line n + 1.
        assert!(json
            .entries
            .iter()
            .enumerate()
            .all(|(i, e)| e.at == Location::line(i + 2)));
        let err = parse(
            "[\"1abc\",\n 5]",
            "x.json",
            Path::new("sanctioned_addresses_XBT.json"),
            &ParseOptions::default(),
        );
        assert!(
            matches!(err, Err(LabelError::Malformed { line: 2, .. })),
            "{err:?}"
        );
    }

    #[test]
    fn the_eth_list_has_152_sanctioned_ethereum_addresses() {
        let p = list("sanctioned_addresses_ETH.txt", &ParseOptions::default()).unwrap();
        assert_eq!(p.entries.len(), 152);
        assert!(p.entries.iter().all(|e| e.currency == "ETH"));
        let r = resolve(p, Network::Main);
        assert_eq!(
            (r.labels.len(), r.invalid.len(), r.skipped.len()),
            (152, 0, 0)
        );
        assert!(r
            .labels
            .iter()
            .all(|(_, l)| l.category == Category::Sanctioned
                && l.name == NAME
                && l.confidence == 60));
        // The Ronin bridge exploiter (Lazarus), checksummed on the list.
        let ronin = crate::parse_eth_target("0x098B716B8Aaf21512996dC57EB0615e2383E2f96").unwrap();
        assert!(r.labels.iter().any(|(t, _)| *t == ronin));
    }

    #[test]
    fn token_lists_label_their_ethereum_addresses() {
        let usdt = list(
            "eth/sanctioned_addresses_USDT.txt",
            &ParseOptions::default(),
        )
        .unwrap();
        let currencies: Vec<&str> = usdt.entries.iter().map(|e| e.currency.as_str()).collect();
        assert_eq!(currencies.iter().filter(|c| **c == "ETH").count(), 8);
        assert_eq!(currencies.iter().filter(|c| **c == "USDT").count(), 18);
        let r = resolve(usdt, Network::Main);
        assert_eq!((r.labels.len(), r.invalid.len()), (8, 0));
        assert_eq!(
            r.skipped.into_iter().collect::<Vec<_>>(),
            [("USDT".to_string(), 18)]
        );
        assert_eq!(r.labels[0].1.name, "OFAC SDN list (USDT)");
        assert_eq!(r.labels[0].1.category, Category::Sanctioned);

        let usdc = list(
            "eth/sanctioned_addresses_USDC.txt",
            &ParseOptions::default(),
        )
        .unwrap();
        let r = resolve(usdc, Network::Main);
        assert_eq!(
            (r.labels.len(), r.invalid.len(), r.skipped.len()),
            (2, 0, 0)
        );
        assert_eq!(r.labels[1].1.name, "OFAC SDN list (USDC)");
    }

    #[test]
    fn the_asset_comes_from_the_name_or_the_caller() {
        let text = "# sanctioned\n\n1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa\n";
        let named = parse(
            text,
            "f",
            Path::new("dir/sanctioned_addresses_USDT.txt"),
            &ParseOptions::default(),
        )
        .unwrap();
        assert_eq!(
            (named.0[0].currency.as_str(), named.0[0].at),
            ("USDT", Location::line(3))
        );
        let opts = ParseOptions {
            currency: Some("xbt".into()),
        };
        let given = parse(text, "f", Path::new("list.txt"), &opts).unwrap();
        assert_eq!(given.0[0].currency, "BTC");
        let unknown = parse(text, "f", Path::new("list.txt"), &ParseOptions::default());
        assert!(matches!(unknown, Err(LabelError::Ambiguous { .. })));
    }
}
