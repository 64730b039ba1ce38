//! GraphSense TagPack YAML: a header of defaults and a `tags:` list that overrides them.
//!
//! Scalars are read as the text the file holds (no YAML type guessing), so an unquoted
//! `0x00…` address or a label such as `1.10` reaches the label exactly as written.

use saphyr::{AnnotatedMapping, MarkedYaml, YamlData, YamlLoader};
use saphyr_parser::Parser;

use crate::entry::{Entry, Invalid, Location, ParseOptions};
use crate::fields::{present, RawFields};
use crate::{malformed, LabelError};

type Mapping<'a> = AnnotatedMapping<'a, MarkedYaml<'a>>;

/// Parses a TagPack into entries (every chain) and the tags that could not be used.
pub fn parse(
    text: &str,
    file: &str,
    opts: &ParseOptions,
) -> Result<(Vec<Entry>, Vec<Invalid>), LabelError> {
    let doc = load(text, file)?;
    let header = doc.data.as_mapping().ok_or_else(|| {
        malformed(
            file,
            doc.span.start.line(),
            "a TagPack is a mapping with a `tags:` list",
        )
    })?;
    let tags = get(header, "tags")
        .and_then(|t| t.data.as_sequence())
        .ok_or_else(|| {
            malformed(
                file,
                doc.span.start.line(),
                "the TagPack has no `tags:` list",
            )
        })?;
    let (mut entries, mut invalid) = (Vec::new(), Vec::new());
    for (i, tag) in tags.iter().enumerate() {
        let at = Location::tag(tag.span.start.line(), i + 1);
        match tag_fields(header, tag, at).and_then(|f| f.into_entry(file, at, opts)) {
            Ok(e) => entries.push(e),
            Err(e) => invalid.push(e),
        }
    }
    Ok((entries, invalid))
}

/// Loads the single YAML document of a TagPack, keeping scalars as written.
fn load<'a>(text: &'a str, file: &str) -> Result<MarkedYaml<'a>, LabelError> {
    let mut loader: YamlLoader<'a, MarkedYaml<'a>> = YamlLoader::default();
    loader.early_parse(false);
    let mut parser = Parser::new_from_str(text);
    let scan_error = |e: &saphyr::ScanError| {
        malformed(
            file,
            e.marker().line(),
            format!("not valid YAML: {}", e.info()),
        )
    };
    parser.load(&mut loader, true).map_err(|e| scan_error(&e))?;
    if let Some(e) = loader.error() {
        return Err(scan_error(e));
    }
    let mut docs = loader.into_documents().into_iter();
    let doc = docs
        .next()
        .ok_or_else(|| malformed(file, 1, "the file holds no YAML document"))?;
    if let Some(extra) = docs.next() {
        return Err(malformed(
            file,
            extra.span.start.line(),
            "a TagPack is one YAML document, but a second one starts here",
        ));
    }
    Ok(doc)
}

/// The value of `key` in a mapping (keys compared as written).
fn get<'m, 'a>(map: &'m Mapping<'a>, key: &str) -> Option<&'m MarkedYaml<'a>> {
    map.iter()
        .find(|(k, _)| scalar_text(k).as_deref() == Some(key))
        .map(|(_, v)| v)
}

/// The text of a scalar node as written; `None` for nulls and non-scalars. (The loader runs
/// without early parsing, so every scalar is a `Representation`.)
fn scalar_text(node: &MarkedYaml<'_>) -> Option<String> {
    match &node.data {
        YamlData::Representation(s, style, _) => {
            let null = *style == saphyr::ScalarStyle::Plain
                && matches!(s.as_ref(), "~" | "null" | "Null" | "NULL");
            (!null).then(|| s.to_string())
        }
        YamlData::Tagged(_, inner) => scalar_text(inner),
        _ => None,
    }
}

/// The fields of a tag, each taken from the tag if it has it, else from the header.
fn tag_fields(
    header: &Mapping<'_>,
    tag: &MarkedYaml<'_>,
    at: Location,
) -> Result<RawFields, Invalid> {
    let tag = tag.data.as_mapping().ok_or_else(|| Invalid {
        at,
        text: scalar_text(tag).unwrap_or_default(),
        reason: "a tag must be a mapping (`- address: ...`)".into(),
    })?;
    let field = |key: &str| -> Result<Option<String>, Invalid> {
        let own = value(tag, key, at)?;
        Ok(match own {
            Some(v) => Some(v),
            None => value(header, key, at)?,
        })
    };
    // `network` names the chain in newer TagPacks, `currency` in older ones; the tag's own
    // statement wins over the header's, whichever key it uses.
    let currency = match value(tag, "network", at)?.or(value(tag, "currency", at)?) {
        Some(c) => Some(c),
        None => value(header, "network", at)?.or(value(header, "currency", at)?),
    };
    Ok(RawFields {
        address: value(tag, "address", at)?,
        label: field("label")?,
        category: field("category")?,
        abuse: field("abuse")?,
        confidence: field("confidence")?,
        source: field("source")?,
        currency,
        is_cluster_definer: field("is_cluster_definer")?,
        actor: field("actor")?,
    })
}

/// A scalar field of a mapping; a list or mapping where a value belongs makes the tag invalid.
fn value(map: &Mapping<'_>, key: &str, at: Location) -> Result<Option<String>, Invalid> {
    let Some(node) = get(map, key) else {
        return Ok(None);
    };
    if node.data.is_sequence() || node.data.is_mapping() {
        return Err(Invalid {
            at,
            text: String::new(),
            reason: format!("`{key}` must be a single value, not a list or mapping"),
        });
    }
    Ok(present(scalar_text(node).as_deref()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chaintrace_model::Category;

    use super::*;
    use crate::{fixture, parse_file, Format};

    fn pack(name: &str) -> crate::ParsedFile {
        parse_file(&fixture(name), None, &ParseOptions::default()).unwrap()
    }

    fn inline(text: &str) -> (Vec<Entry>, Vec<Invalid>) {
        parse(text, "inline.yaml", &ParseOptions::default()).unwrap()
    }

    fn count<K: Ord>(keys: impl Iterator<Item = K>) -> BTreeMap<K, usize> {
        let mut m = BTreeMap::new();
        for k in keys {
            *m.entry(k).or_insert(0) += 1;
        }
        m
    }

    #[test]
    fn hacks_pack_inherits_the_header_and_tags_override_it() {
        let p = pack("hacks.yaml");
        assert_eq!(p.format, Format::Tagpack);
        assert_eq!((p.entries.len(), p.invalid.len()), (608, 0));
        let first = &p.entries[0];
        assert_eq!(first.target, "1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEa");
        assert_eq!(first.at, Location::tag(8, 1));
        assert_eq!(
            (first.label.name.as_str(), first.currency.as_str()),
            ("Bitstamp", "BTC")
        );
        assert_eq!(first.label.category, Category::Exchange);
        assert_eq!(first.label.confidence, 20, "web_crawl, from the header");
        assert_eq!(first.label.actor.as_deref(), Some("bitstamp"));
        assert!(first
            .label
            .source
            .starts_with("https://www.reddit.com/r/Bitcoin/comments/2rdvi7"));
        assert!(!first.label.is_cluster_definer);
        let by_category = count(p.entries.iter().map(|e| e.label.category.to_string()));
        let expected = [
            ("exchange", 403),
            ("gambling", 5),
            ("miner", 5),
            ("theft", 178),
            ("user", 5),
            ("wallet_service", 12),
        ];
        assert_eq!(
            by_category,
            expected
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect()
        );
        // Flexcoin's address is listed twice: once as the service, once as the hack.
        let flexcoin: Vec<_> = p
            .entries
            .iter()
            .filter(|e| e.target == "1DssS2srnAra8ghUpgEHsEARswej4SMgd3")
            .collect();
        assert_eq!(
            flexcoin
                .iter()
                .map(|e| e.at.tag.unwrap())
                .collect::<Vec<_>>(),
            vec![82, 85]
        );
        assert_eq!(flexcoin[0].label.category, Category::Theft);
        assert_eq!(flexcoin[0].label.abuse.as_deref(), Some("service_hack"));
        assert_eq!(flexcoin[0].label.raw_category, None);
        assert_eq!(
            flexcoin[1].label.raw_category.as_deref(),
            Some("wallet_service")
        );
    }

    #[test]
    fn mixing_pack_takes_every_default_from_the_header() {
        let p = pack("mixing_fc2021.yaml");
        assert_eq!((p.entries.len(), p.invalid.len()), (66, 0));
        for e in &p.entries {
            assert_eq!(e.label.category, Category::Mixer);
            assert_eq!(e.label.raw_category.as_deref(), Some("mixing_service"));
            assert_eq!(e.label.confidence, 90, "forensic");
            assert_eq!(e.label.source, "https://fc21.ifca.ai/papers/103.pdf");
            assert!(!e.label.is_cluster_definer);
        }
        let names = count(p.entries.iter().map(|e| e.label.name.as_str()));
        assert_eq!(names.get("Bitcoin Mixer"), Some(&20));
        assert_eq!(names.get("ChipMixer"), Some(&10));
        assert_eq!(names.len(), 5);
    }

    #[test]
    fn walletexplorer_categories_map_to_tracing_categories() {
        let p = pack("walletexplorer.yaml");
        assert_eq!((p.entries.len(), p.invalid.len()), (386, 0));
        let by_category = count(p.entries.iter().map(|e| e.label.category.to_string()));
        let expected = [
            ("exchange", 120),
            ("gambling", 58),
            ("market", 16),
            ("miner", 20),
            ("mixer", 37),
            ("service", 133),
            ("wallet_service", 2),
        ];
        let expected: BTreeMap<String, usize> = expected
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(by_category, expected);
        assert!(p
            .entries
            .iter()
            .all(|e| e.label.confidence == 80 && e.label.is_cluster_definer));
        assert_eq!(
            p.entries.iter().filter(|e| e.label.actor.is_none()).count(),
            2
        );
    }

    #[test]
    fn chains_come_from_each_tags_currency() {
        let p = pack("exchange-wallets-binance.yaml");
        let currencies = count(p.entries.iter().map(|e| e.currency.as_str()));
        let expected = [
            ("BEP2", 25),
            ("BEP20", 16),
            ("BTC", 4),
            ("ETH", 32),
            ("TRX", 9),
        ];
        assert_eq!(currencies, expected.into_iter().collect());
        assert!(p
            .entries
            .iter()
            .all(|e| e.label.actor.as_deref() == Some("binance") && e.label.is_cluster_definer));
        assert!(p
            .entries
            .iter()
            .all(|e| e.label.confidence == 80 && e.label.category == Category::Exchange));

        let ofac = pack("ofac.yaml");
        assert_eq!(ofac.entries.len(), 572);
        let c = count(ofac.entries.iter().map(|e| e.currency.as_str()));
        assert_eq!(
            (c["BTC"], c["ETH"], c["USDT"], c["LTC"], c["TRX"]),
            (385, 147, 9, 8, 3)
        );
        assert_eq!(c.len(), 13);
        let tron = ofac
            .entries
            .iter()
            .find(|e| e.target.starts_with("TUCs"))
            .unwrap();
        assert_eq!(
            (tron.at, tron.currency.as_str()),
            (Location::tag(1069, 531), "BTC")
        );
        // The pack states no confidence, and calls the sanctioned addresses `user`.
        assert_eq!(tron.label.confidence, crate::DEFAULT_CONFIDENCE);
        assert_eq!(
            tron.label.name,
            "Asset listed under US Treasury OFAC Sanctions List"
        );
        assert_eq!(tron.label.category, Category::User);
    }

    #[test]
    fn network_outranks_currency_and_the_tag_outranks_the_header() {
        let (e, invalid) = inline(
            "currency: ETH\nlabel: L\ntags:\n- address: a\n  network: BTC\n- address: b\n- address: c\n  currency: btc\n",
        );
        assert!(invalid.is_empty());
        let chains: Vec<&str> = e.iter().map(|e| e.currency.as_str()).collect();
        assert_eq!(chains, ["BTC", "ETH", "BTC"]);
        let (e, _) = inline("network: BTC\ncurrency: ETH\nlabel: L\ntags:\n- address: a\n");
        assert_eq!(e[0].currency, "BTC");
    }

    #[test]
    fn confidence_is_an_id_or_a_number() {
        let text = "currency: BTC\nconfidence: forensic\nlabel: L\ntags:\n\
                    - address: a\n\
                    - address: b\n  confidence: 75\n\
                    - address: c\n  confidence: ownership\n\
                    - address: d\n  confidence: 150\n\
                    - address: e\n  confidence: sure\n";
        let (e, invalid) = inline(text);
        let levels: Vec<u8> = e.iter().map(|e| e.label.confidence).collect();
        assert_eq!(levels, [90, 75, 100]);
        let bad: Vec<(Location, &str)> = invalid.iter().map(|i| (i.at, i.text.as_str())).collect();
        assert_eq!(
            bad,
            [(Location::tag(10, 4), "d"), (Location::tag(12, 5), "e")]
        );
        assert!(invalid[0]
            .reason
            .contains("\"150\" is neither a GraphSense confidence id nor a number 0-100"));
    }

    #[test]
    fn bad_tags_are_reported_with_their_line_and_the_rest_is_kept() {
        let text = "currency: BTC\ntags:\n- address: a\n  label: A\n- address: b\n- just text\n- label: C\n- address: [x, y]\n  label: D\n";
        let (e, invalid) = inline(text);
        assert_eq!(e.len(), 1);
        let reasons: Vec<(usize, &str)> = invalid
            .iter()
            .map(|i| (i.at.line, i.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (5, "no label"),
                (6, "a tag must be a mapping (`- address: ...`)"),
                (7, "no address"),
                (8, "`address` must be a single value, not a list or mapping"),
            ]
        );
    }

    #[test]
    fn scalars_are_kept_as_written() {
        let text = "currency: ETH\ntags:\n- address: 0x0000000000000000000000000000000000000000\n  label: 1.10\n  is_cluster_definer: true\n  actor: ~\n";
        let (e, _) = inline(text);
        assert_eq!(e[0].target, "0x0000000000000000000000000000000000000000");
        assert_eq!(e[0].label.name, "1.10");
        assert!(e[0].label.is_cluster_definer);
        assert_eq!(e[0].label.actor, None);
    }

    #[test]
    fn malformed_yaml_is_an_error_naming_the_line() {
        let err = |text: &str| match parse(text, "bad.yaml", &ParseOptions::default()) {
            Err(LabelError::Malformed { path, line, reason }) => (path, line, reason),
            other => panic!("expected a malformed-file error, got {other:?}"),
        };
        let (path, line, reason) =
            err("title: x\ntags:\n- address: a\n  label: [unclosed\n- address: b\n");
        assert_eq!((path.as_str(), line), ("bad.yaml", 5));
        assert!(reason.starts_with("not valid YAML"), "{reason}");
        assert_eq!(err("title: x\ntags:\n- address: a\n   label: b\n").1, 4);
        assert_eq!(err("title: x\nlabel: a\nlabel: b\ntags: []\n").1, 3);
        assert_eq!(err("title: x\n").2, "the TagPack has no `tags:` list");
        assert_eq!(
            err("- a\n- b\n").2,
            "a TagPack is a mapping with a `tags:` list"
        );
        assert_eq!(err("").2, "the file holds no YAML document");
        assert_eq!(err("tags: []\n---\ntags: []\n").1, 3);
    }
}
