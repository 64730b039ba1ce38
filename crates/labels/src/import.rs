//! From parsed entries to labels in the index: validation against each entry's chain (and the
//! index's network, for Bitcoin), the atomic write, and the report of what was imported.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::Address;
use chaintrace_model::btc::AddrKey;
use chaintrace_model::{Chain, Label, Network};
use chaintrace_store::btc::{parse_display_hash, BtcIndex};
use chaintrace_store::eth::EthIndex;
use chaintrace_store::labels::LabelStore;
use chaintrace_store::tables::LabelTarget;
use chaintrace_store::{Store, StoreError};
use serde::Serialize;

use crate::entry::{Entry, Format, Invalid, ParsedFile};
use crate::eth::parse_eth_target;

/// A parsed file checked against a network: exactly what an import would write.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub path: String,
    pub format: Format,
    pub sha256: String,
    /// Entries the file holds (every chain, not counting invalid ones).
    pub entries: usize,
    /// Distinct (target, label) pairs on chains the index holds, in file order.
    pub labels: Vec<(LabelTarget, Label)>,
    /// Entries of chains the index does not hold (yet), per currency.
    pub skipped: BTreeMap<String, usize>,
    /// Entries that cannot be imported, in file order.
    pub invalid: Vec<Invalid>,
}

/// Checks every Bitcoin entry's address (or `txid:vout`) for `network` and every Ethereum
/// entry's address (form and EIP-55 checksum); entries of other chains are counted, not
/// checked.
pub fn resolve(parsed: ParsedFile, network: Network) -> Resolved {
    let mut invalid = parsed.invalid;
    let mut skipped = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut labels = Vec::new();
    for entry in &parsed.entries {
        let Some(target) = target_of(entry, network) else {
            *skipped.entry(entry.currency.clone()).or_insert(0) += 1;
            continue;
        };
        match target {
            // The same attribution listed twice is one label on one target.
            Ok(target) => {
                if seen.insert((target_bytes(&target), label_key(&entry.label))) {
                    labels.push((target, entry.label.clone()));
                }
            }
            Err(reason) => invalid.push(Invalid {
                at: entry.at,
                text: entry.target.clone(),
                reason,
            }),
        }
    }
    invalid.sort_by_key(|i| i.at);
    Resolved {
        path: parsed.path,
        format: parsed.format,
        sha256: parsed.sha256,
        entries: parsed.entries.len(),
        labels,
        skipped,
        invalid,
    }
}

/// The target of an entry on its chain; `None` for chains the index does not hold.
fn target_of(entry: &Entry, network: Network) -> Option<Result<LabelTarget, String>> {
    match entry.chain()? {
        Chain::Btc => Some(parse_target(&entry.target, network)),
        Chain::Eth => Some(parse_eth_target(&entry.target).map_err(|e| e.to_string())),
    }
}

/// A Bitcoin address, or an output written `txid:vout` with the txid as explorers show it.
pub fn parse_target(text: &str, network: Network) -> Result<LabelTarget, String> {
    if let Some((txid, vout)) = text.split_once(':').filter(|(t, _)| t.len() == 64) {
        let txid = parse_display_hash(txid)
            .ok_or_else(|| format!("{txid:?} is not a txid (64 hex digits)"))?;
        let vout = vout
            .parse::<u32>()
            .map_err(|_| format!("{vout:?} is not an output index (txid:vout)"))?;
        return Ok(LabelTarget::BtcOutput(txid, vout));
    }
    AddrKey::parse(text, network)
        .map(LabelTarget::BtcAddr)
        .map_err(|e| e.to_string())
}

/// A target's identity for deduplication; the leading byte keeps the kinds apart.
fn target_bytes(t: &LabelTarget) -> Vec<u8> {
    match t {
        LabelTarget::BtcAddr(a) => [&[0u8][..], &a.to_bytes()].concat(),
        LabelTarget::BtcOutput(txid, vout) => [&[1u8][..], txid, &vout.to_be_bytes()].concat(),
        LabelTarget::EthAddr(a) => [&[2u8][..], &a.0].concat(),
    }
}

fn label_key(l: &Label) -> String {
    serde_json::to_string(l).expect("labels serialize")
}

/// What importing one file did.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    pub file: String,
    pub format: Format,
    pub sha256: String,
    /// Entries read from the file (every chain).
    pub entries: usize,
    /// Distinct labels written (same name, category, source, confidence, ... stored once).
    pub labels: usize,
    /// Distinct Bitcoin addresses labelled.
    pub addresses: usize,
    /// Distinct Bitcoin outputs labelled.
    pub outputs: usize,
    /// Distinct Ethereum addresses labelled.
    pub eth_addresses: usize,
    /// Entries not imported because the index does not hold their chain (yet), per currency.
    pub skipped_other_chain: BTreeMap<String, usize>,
    pub invalid: Vec<Invalid>,
    /// Labelled Bitcoin addresses that no indexed transaction uses yet; their labels apply as
    /// soon as blocks using them are indexed.
    pub addresses_not_in_index: usize,
    /// Labelled outputs whose transaction is not indexed yet.
    pub outputs_not_in_index: usize,
    /// Labelled Ethereum addresses that no indexed transfer touches yet.
    pub eth_addresses_not_in_index: usize,
    /// Labels of an earlier import of the same path that this import replaced.
    pub replaced: usize,
}

/// Writes the labels of one resolved file in one batch, replacing an earlier import of the
/// same path, and reports what the index now holds from it.
pub fn import(store: &Store, file: &Resolved) -> Result<FileReport, StoreError> {
    let outcome = LabelStore::new(store).import(
        &file.path,
        file.format.as_str(),
        &file.sha256,
        &file.labels,
    )?;
    let targets = Targets::of(&file.labels);
    let not_indexed = targets.not_indexed(store)?;
    Ok(FileReport {
        file: file.path.clone(),
        format: file.format,
        sha256: file.sha256.clone(),
        entries: file.entries,
        labels: outcome.labels,
        addresses: targets.btc_addrs.len(),
        outputs: targets.outputs.len(),
        eth_addresses: targets.eth_addrs.len(),
        skipped_other_chain: file.skipped.clone(),
        invalid: file.invalid.clone(),
        addresses_not_in_index: not_indexed.btc_addrs,
        outputs_not_in_index: not_indexed.outputs,
        eth_addresses_not_in_index: not_indexed.eth_addrs,
        replaced: outcome.replaced,
    })
}

/// The distinct targets of a file's labels, per kind.
#[derive(Default)]
struct Targets {
    btc_addrs: BTreeSet<AddrKey>,
    outputs: BTreeSet<([u8; 32], u32)>,
    eth_addrs: BTreeSet<[u8; 20]>,
}

/// How many targets of each kind the index does not hold yet.
struct NotIndexed {
    btc_addrs: usize,
    outputs: usize,
    eth_addrs: usize,
}

impl Targets {
    fn of(labels: &[(LabelTarget, Label)]) -> Targets {
        let mut t = Targets::default();
        for (target, _) in labels {
            match target {
                LabelTarget::BtcAddr(a) => {
                    t.btc_addrs.insert(*a);
                }
                LabelTarget::BtcOutput(txid, vout) => {
                    t.outputs.insert((*txid, *vout));
                }
                LabelTarget::EthAddr(a) => {
                    t.eth_addrs.insert(a.0);
                }
            }
        }
        t
    }

    fn not_indexed(&self, store: &Store) -> Result<NotIndexed, StoreError> {
        let btc = BtcIndex::new(store);
        let eth = EthIndex::new(store);
        Ok(NotIndexed {
            btc_addrs: count_missing(&self.btc_addrs, |a| Ok(btc.addr_id(a)?.is_some()))?,
            outputs: count_missing(&self.outputs, |(txid, vout)| {
                output_indexed(&btc, txid, *vout)
            })?,
            eth_addrs: count_missing(&self.eth_addrs, |a| {
                Ok(eth.addr_id(&Address::from(*a))?.is_some())
            })?,
        })
    }
}

/// How many of `items` the index does not hold, by `indexed`.
fn count_missing<T>(
    items: &BTreeSet<T>,
    mut indexed: impl FnMut(&T) -> Result<bool, StoreError>,
) -> Result<usize, StoreError> {
    let mut missing = 0;
    for item in items {
        if !indexed(item)? {
            missing += 1;
        }
    }
    Ok(missing)
}

/// Whether the output exists in the index (its transaction is indexed and has that many
/// outputs).
pub fn output_indexed(btc: &BtcIndex<'_>, txid: &[u8; 32], vout: u32) -> Result<bool, StoreError> {
    Ok(btc
        .tx_by_txid(txid)?
        .is_some_and(|(_, tx)| (vout as usize) < tx.outputs.len()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chaintrace_model::Category;
    use chaintrace_store::OpenMode;

    use super::*;
    use crate::{fixture, parse_file, Location, ParseOptions};

    fn resolved(path: &Path, network: Network) -> Resolved {
        resolve(
            parse_file(path, None, &ParseOptions::default()).unwrap(),
            network,
        )
    }

    #[test]
    fn addresses_are_checked_against_the_index_network() {
        let heist = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/btc/heist/heist.tagpack.yaml");
        let r = resolved(&heist, Network::Regtest);
        assert_eq!((r.entries, r.labels.len(), r.invalid.len()), (17, 17, 0));
        let thefts = r
            .labels
            .iter()
            .filter(|(_, l)| l.category == Category::Theft)
            .count();
        let exchanges = r
            .labels
            .iter()
            .filter(|(_, l)| l.category == Category::Exchange)
            .count();
        assert_eq!((thefts, exchanges), (3, 14));
        let main = resolved(&heist, Network::Main);
        assert_eq!((main.labels.len(), main.invalid.len()), (0, 17));
        assert!(main.invalid[0]
            .reason
            .ends_with("is a valid address, but not for the main network"));
    }

    #[test]
    fn other_chains_are_skipped_per_currency() {
        let r = resolved(&fixture("ofac.yaml"), Network::Main);
        // 384 Bitcoin and 147 Ethereum addresses (every one passes EIP-55).
        assert_eq!((r.entries, r.labels.len()), (572, 531));
        let eth = r
            .labels
            .iter()
            .filter(|(t, _)| matches!(t, LabelTarget::EthAddr(_)))
            .count();
        assert_eq!(eth, 147);
        assert_eq!(r.invalid.len(), 1);
        assert_eq!(r.invalid[0].at, Location::tag(1069, 531));
        let skipped: Vec<(&str, usize)> = r.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let expected = [
            ("BCH", 7),
            ("BSV", 1),
            ("BTG", 1),
            ("DASH", 3),
            ("LTC", 8),
            ("TRX", 3),
            ("USDT", 9),
            ("XMR", 3),
            ("XRP", 1),
            ("XVG", 1),
            ("ZEC", 3),
        ];
        assert_eq!(skipped, expected);
    }

    #[test]
    fn import_dedups_reports_and_reimport_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), OpenMode::Create).unwrap();
        let hacks = resolved(&fixture("hacks.yaml"), Network::Main);
        assert_eq!(hacks.labels.len(), 608);
        let report = import(&store, &hacks).unwrap();
        let counts = (
            report.entries,
            report.labels,
            report.addresses,
            report.outputs,
            report.replaced,
        );
        assert_eq!(counts, (608, 34, 606, 0, 0));
        assert_eq!(
            report.addresses_not_in_index, 606,
            "the index holds no blocks"
        );
        let labels = LabelStore::new(&store);
        let flexcoin = AddrKey::parse("1DssS2srnAra8ghUpgEHsEARswej4SMgd3", Network::Main).unwrap();
        let names: BTreeSet<String> = labels
            .of_btc_addr(&flexcoin)
            .unwrap()
            .into_iter()
            .map(|(_, l)| l.name)
            .collect();
        assert_eq!(
            names,
            ["Flexcoin".to_string(), "Flexcoin hack".to_string()].into()
        );

        let again = import(&store, &hacks).unwrap();
        assert_eq!((again.labels, again.replaced), (34, 34));
        assert_eq!(labels.all().count(), 34);
        assert_eq!(labels.of_btc_addr(&flexcoin).unwrap().len(), 2);
        let files: Vec<_> = labels.files().map(Result::unwrap).collect();
        assert_eq!(files.len(), 1);
        assert_eq!(
            (files[0].1.format.as_str(), files[0].1.targets),
            ("tagpack", 608)
        );
        assert_eq!(
            files[0].1.sha256,
            "7fff7a640e14800f749fa6cb222cea7494d0d92767106fa4ecca8976ca682c60"
        );
    }
}
