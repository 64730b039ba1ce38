//! OFAC SDN digital-currency address lists, as published by
//! 0xB10C/ofac-sanctioned-digital-currency-addresses: `sanctioned_addresses_<ASSET>.txt` (one
//! address per line) or `.json` (an array of the same addresses).

use std::path::Path;

use chaintrace_model::label::confidence_level;
use chaintrace_model::{Category, Label};

use crate::entry::{currency_code, Entry, Invalid, Location, ParseOptions};
use crate::{malformed, LabelError};

/// The name every address of an OFAC list is labelled with.
pub const NAME: &str = "OFAC SDN list";
/// Where the addresses come from: the SDN list they are extracted from.
pub const SOURCE: &str = "https://www.treasury.gov/ofac/downloads/sdnlist.txt";

/// Parses an OFAC list. Every line (or array item) is an entry; which addresses are valid is
/// decided later, against the index's network.
pub fn parse(
    text: &str,
    file: &str,
    path: &Path,
    opts: &ParseOptions,
) -> Result<(Vec<Entry>, Vec<Invalid>), LabelError> {
    let currency = asset_of(path)
        .or_else(|| opts.currency.as_deref().map(currency_code))
        .ok_or_else(|| LabelError::Ambiguous {
            path: file.to_string(),
            reason: "the file name does not say which asset the addresses hold \
                     (sanctioned_addresses_<ASSET>.txt); pass --chain"
                .into(),
        })?;
    let label = label(file);
    let addresses = if text.trim_start().starts_with('[') {
        json_items(text, file)?
    } else {
        text_lines(text)
    };
    let entries = addresses
        .into_iter()
        .map(|(line, address)| Entry {
            target: address,
            currency: currency.clone(),
            label: label.clone(),
            at: Location::line(line),
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

fn label(file: &str) -> Label {
    Label {
        name: NAME.into(),
        category: Category::Sanctioned,
        raw_category: Some("sanctioned".into()),
        abuse: None,
        confidence: confidence_level("authority_data").expect("a GraphSense level"),
        source: SOURCE.into(),
        file: file.to_string(),
        is_cluster_definer: false,
        actor: None,
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

/// The strings of a JSON array, each with the line it is written on.
fn json_items(text: &str, file: &str) -> Result<Vec<(usize, String)>, LabelError> {
    let items: Vec<String> = serde_json::from_str(text).map_err(|e| {
        malformed(
            file,
            e.line(),
            format!("not a JSON array of addresses: {e}"),
        )
    })?;
    // serde_json keeps no positions, so each item is found in the text in order; the array
    // holds plain quoted strings, so its n-th item is the n-th match from the previous one.
    let mut offset = 0;
    let mut line = 1;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let quoted = serde_json::to_string(&item).expect("strings serialize");
        let found = text[offset..].find(&quoted).map_or(offset, |i| offset + i);
        line += text[offset..found].matches('\n').count();
        offset = found;
        out.push((line, item.trim().to_string()));
    }
    Ok(out)
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
    fn ethereum_lists_are_kept_but_skipped() {
        let p = list("sanctioned_addresses_ETH.txt", &ParseOptions::default()).unwrap();
        assert_eq!(p.entries.len(), 152);
        assert!(p
            .entries
            .iter()
            .all(|e| e.currency == "ETH" && e.target.starts_with("0x")));
        let r = resolve(p, Network::Main);
        assert!(r.labels.is_empty() && r.invalid.is_empty());
        assert_eq!(
            r.skipped.into_iter().collect::<Vec<_>>(),
            [("ETH".to_string(), 152)]
        );
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
