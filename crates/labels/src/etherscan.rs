//! Etherscan account labels, as scraped by brianleect/etherscan-labels: one CSV export per
//! label (`<label>.csv`, columns `,Address,Name Tag,Balance,Txn Count`, the file name being
//! the label), or every labelled account in one JSON object (`combinedAccountLabels.json`:
//! `{"0x…": {"name": "Binance 14", "labels": ["binance", …]}, …}`).
//!
//! Etherscan's labels ("slugs") name services and protocols, not categories, so the ones that
//! matter to tracing are mapped ([`category_of`]); the rest keep their slug as category
//! (`Category::parse`), which tracing treats as no service. Every label keeps the slugs it
//! comes from as its raw category, and the label's page as its source.

use std::path::Path;

use chaintrace_model::Category;

use crate::csvfile::{self, Columns};
use crate::entry::{Entry, Invalid, Location};
use crate::fields::Fixed;
use crate::{json, LabelError};

/// Etherscan labels are scraped from its label pages, as GraphSense's own Etherscan packs
/// rate them.
const CONFIDENCE: &str = "web_crawl";

/// Centralised exchanges by their Etherscan slug; `<slug>-deposit` names their deposit
/// addresses, which are the exchange's too.
const EXCHANGES: [&str; 38] = [
    "ascendex",
    "binance",
    "bitfinex",
    "bithumb",
    "bitmart",
    "bitmex",
    "bitstamp",
    "bittrex",
    "cobinhood",
    "coinbase",
    "coinhako",
    "coinmetro",
    "coinone",
    "coinsquare",
    "coss-io",
    "crex24",
    "crypto-com",
    "deribit",
    "digifinex",
    "ftx",
    "gate-io",
    "gemini",
    "hitbtc",
    "hotbit",
    "huobi",
    "korbit",
    "kraken",
    "kucoin",
    "latoken",
    "liquid",
    "okx",
    "paribu",
    "poloniex",
    "quadrigacx",
    "tidex",
    "upbit",
    "yunbi",
    "zb-com",
];

/// The tracing category of an Etherscan label slug.
///
/// `blocked` (addresses a stablecoin issuer froze) counts as sanctioned with the OFAC lists:
/// funds reaching either are frozen, and the raw category still tells them apart.
pub fn category_of(slug: &str) -> Category {
    let slug = slug.trim().to_ascii_lowercase();
    let issuer = slug.strip_suffix("-deposit").unwrap_or(&slug);
    if EXCHANGES.contains(&issuer) {
        return Category::Exchange;
    }
    match slug.as_str() {
        "tornado-cash" | "ethereum-mixer" | "typhoon-cash" => Category::Mixer,
        "bridge" => Category::Bridge,
        "ofac-sanctions-lists" | "blocked" => Category::Sanctioned,
        "mining" | "f2pool" | "miningpoolhub" => Category::Miner,
        _ => Category::parse(&slug),
    }
}

/// Whether a CSV file is an Etherscan label export (by its header row).
pub fn is_csv_export(text: &str) -> bool {
    let header: Vec<String> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    ["address", "name tag"]
        .iter()
        .all(|c| header.iter().any(|h| h == c))
}

/// Parses either form: a JSON object of accounts, or the CSV export of the label the file is
/// named after.
pub fn parse(
    text: &str,
    file: &str,
    path: &Path,
) -> Result<(Vec<Entry>, Vec<Invalid>), LabelError> {
    if text.trim_start().starts_with('{') {
        return parse_accounts(text, file);
    }
    let slug = path
        .file_stem()
        .map(|s| s.to_string_lossy().trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| LabelError::Ambiguous {
            path: file.to_string(),
            reason: "an Etherscan CSV export is named after its label (<label>.csv)".into(),
        })?;
    parse_csv(text, file, &slug)
}

/// One account of `combinedAccountLabels.json`.
#[derive(serde::Deserialize)]
struct Account {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: Vec<String>,
}

/// One entry per account and tracing category: an account tagged `tornado-cash` and
/// `ofac-sanctions-lists` is both a mixer and sanctioned.
fn parse_accounts(text: &str, file: &str) -> Result<(Vec<Entry>, Vec<Invalid>), LabelError> {
    let what = "an Etherscan account object ({\"0x…\": {\"name\": …, \"labels\": [...]}})";
    let accounts = json::members::<Account>(text, file, what)?;
    let (mut entries, mut invalid) = (Vec::new(), Vec::new());
    for (i, (line, address, account)) in accounts.into_iter().enumerate() {
        let at = Location::entry(line, i + 1);
        let groups = by_category(&account.labels);
        if groups.is_empty() {
            invalid.push(Invalid {
                at,
                text: address,
                reason: "the account has no labels".into(),
            });
            continue;
        }
        for (category, slugs) in groups {
            entries.push(label(&account.name, category, &slugs).entry(&address, "ETH", file, at));
        }
    }
    Ok((entries, invalid))
}

/// The non-empty slugs grouped by tracing category, in the order they first appear.
fn by_category(slugs: &[String]) -> Vec<(Category, Vec<&str>)> {
    let mut groups: Vec<(Category, Vec<&str>)> = Vec::new();
    for slug in slugs.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let category = category_of(slug);
        match groups.iter_mut().find(|(c, _)| *c == category) {
            Some((_, group)) => group.push(slug),
            None => groups.push((category, vec![slug])),
        }
    }
    groups
}

fn parse_csv(text: &str, file: &str, slug: &str) -> Result<(Vec<Entry>, Vec<Invalid>), LabelError> {
    let mut reader = csvfile::reader(text, true);
    let header = csvfile::header(&mut reader, file)?;
    let example = "an Etherscan label export starts with `,Address,Name Tag,Balance,Txn Count`";
    let columns = Columns::find(&header, file, &["address", "name tag"], &[], example)?;
    let category = category_of(slug);
    Ok(csvfile::rows(text, reader, "the header", |r, at| {
        let address = columns.get(r, "address").ok_or_else(|| Invalid {
            at,
            text: String::new(),
            reason: "no address".into(),
        })?;
        let name = columns.get(r, "name tag").unwrap_or_default();
        Ok(label(&name, category.clone(), &[slug]).entry(&address, "ETH", file, at))
    }))
}

/// The label of an account named `name` (Etherscan leaves many unnamed: they are called by
/// their first slug) under `slugs`, all of one category.
fn label(name: &str, category: Category, slugs: &[&str]) -> Fixed {
    let first = slugs.first().copied().unwrap_or_default();
    let name = name.trim();
    Fixed {
        name: if name.is_empty() { first } else { name }.to_string(),
        category,
        raw_category: slugs.join(","),
        confidence: CONFIDENCE,
        source: format!("https://etherscan.io/accounts/label/{first}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_map_to_tracing_categories() {
        let c = |s: &str| category_of(s).to_string();
        for exchange in [
            "binance",
            "binance-deposit",
            "coinbase",
            "kraken",
            "bitfinex",
            "upbit",
        ] {
            assert_eq!(c(exchange), "exchange", "{exchange}");
        }
        assert_eq!(c("tornado-cash"), "mixer");
        assert_eq!(c("ethereum-mixer"), "mixer");
        assert_eq!(c("bridge"), "bridge");
        assert_eq!(c("ofac-sanctions-lists"), "sanctioned");
        assert_eq!(c("blocked"), "sanctioned");
        assert_eq!(c("Mining"), "miner");
        assert_eq!(c("dex"), "defi");
        assert_eq!(c("gambling"), "gambling");
        assert_eq!(c("sushiswap"), "sushiswap");
        assert_eq!(c("take-action"), "take_action");
        assert_eq!(c("unknown-deposit"), "unknown_deposit");
    }

    #[test]
    fn accounts_get_one_label_per_category() {
        // Three accounts exactly as combinedAccountLabels.json has them.
        let text = r#"{"0x94a1b5cdb22c43faab4abeb5c74999895464ddaf": {"name": "Tornado.Cash: Mixer 1", "labels": ["ethereum-mixer", "ofac-sanctions-lists", "tornado-cash"]}, "0x49812738c5c5c3f05622fcbfd192a330ba46a7d5": {"name": "", "labels": ["binance-deposit"]}, "0x0e8ba001a821f3ce0734763d008c9d7c957f5852": {"name": "AmadeusRelay", "labels": ["0x-protocol-ecosystem", "dex"]}}"#;
        let (entries, invalid) = parse_accounts(text, "combined.json").unwrap();
        assert!(invalid.is_empty());
        let got: Vec<(&str, String, &str, Location)> = entries
            .iter()
            .map(|e| {
                let l = &e.label;
                (
                    l.name.as_str(),
                    l.category.to_string(),
                    l.raw_category.as_deref().unwrap(),
                    e.at,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "Tornado.Cash: Mixer 1",
                    "mixer".into(),
                    "ethereum-mixer,tornado-cash",
                    Location::entry(1, 1)
                ),
                (
                    "Tornado.Cash: Mixer 1",
                    "sanctioned".into(),
                    "ofac-sanctions-lists",
                    Location::entry(1, 1)
                ),
                (
                    "binance-deposit",
                    "exchange".into(),
                    "binance-deposit",
                    Location::entry(1, 2)
                ),
                (
                    "AmadeusRelay",
                    "0x_protocol_ecosystem".into(),
                    "0x-protocol-ecosystem",
                    Location::entry(1, 3)
                ),
                ("AmadeusRelay", "defi".into(), "dex", Location::entry(1, 3)),
            ]
        );
        let first = &entries[0];
        assert_eq!(first.currency, "ETH");
        assert_eq!(
            first.label.source,
            "https://etherscan.io/accounts/label/ethereum-mixer"
        );
        assert_eq!(
            (first.label.confidence, first.label.file.as_str()),
            (20, "combined.json")
        );
    }

    #[test]
    fn accounts_without_labels_are_invalid_and_bad_json_is_malformed() {
        let text =
            "{\n\"0xab\": {\"name\": \"x\", \"labels\": []},\n\"0xcd\": {\"name\": \"y\"}\n}";
        let (entries, invalid) = parse_accounts(text, "f.json").unwrap();
        assert!(entries.is_empty());
        let at: Vec<Location> = invalid.iter().map(|i| i.at).collect();
        assert_eq!(at, [Location::entry(2, 1), Location::entry(3, 2)]);
        let truncated = "{\"0xab\": {\"name\": \"x\", \"labels\": [\"kraken\"]},\n\"0xcd\": {\"na";
        match parse_accounts(truncated, "f.json") {
            Err(LabelError::Malformed { line, reason, .. }) => {
                assert_eq!(line, 2);
                assert!(
                    reason.starts_with("not an Etherscan account object"),
                    "{reason}"
                );
            }
            other => panic!("expected a malformed-file error, got {other:?}"),
        }
    }
}
