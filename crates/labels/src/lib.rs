//! Attribution importers of chaintrace: GraphSense TagPacks, OFAC address lists, CSV files,
//! Etherscan account labels and Tornado Cash pool registries become
//! [`Label`](chaintrace_model::Label)s on Bitcoin addresses and outputs, and on Ethereum
//! addresses.
//!
//! An import runs in three steps, each its own function so callers can stop between them:
//! [`parse_file`] reads a file into [`Entry`]s (no index needed), [`resolve`] checks them
//! against their chain (the index's network, for Bitcoin) and keeps what the index can hold,
//! and [`import`] writes one file's labels and reports what it did.
//!
//! Invariants this crate promises:
//! - Every label keeps its provenance: the file as given, the source's `source`, `confidence`,
//!   raw `category` and `abuse`, next to the category tracing uses
//!   ([`Category::for_tracing`](chaintrace_model::Category::for_tracing)).
//! - A file that cannot be read as its format at all (a YAML syntax error, a CSV without its
//!   header, truncated JSON) is a [`LabelError::Malformed`] naming file and line, and nothing is
//!   imported. A single bad entry (an address with a bad checksum or of another network, a tag
//!   without a label) is collected as an [`Invalid`] with its line, and the rest of the file
//!   still counts.
//! - Entries of chains the index does not hold (neither Bitcoin nor Ethereum) are parsed and
//!   kept with their currency, but never written; they are counted as skipped, per currency.
//! - Addresses are validated (encoding, checksum, network) before anything is written. An
//!   Ethereum address is `0x` and 40 hex digits, in one case or EIP-55 checksummed
//!   ([`parse_eth_address`]). One file is written in one atomic batch, and importing the same
//!   path again replaces what it brought.
//! - Labels are keyed by address, not by index id, so they apply to addresses that are indexed
//!   only later.
//!
//! # Formats
//!
//! **GraphSense TagPack** (`.yaml`, `.yml`): a header whose keys (`label`, `category`,
//! `abuse`, `confidence`, `source`, `currency`/`network`, `is_cluster_definer`, `actor`) are
//! the defaults of every tag in `tags:`, which may override any of them. `network` (else
//! `currency`) names the chain: `BTC` is Bitcoin, `ETH` (or `ethereum`) Ethereum, so a token
//! tag on Ethereum says `network: ETH` next to its `currency`. `confidence` is a GraphSense id
//! (`ownership`, `forensic`, `service_data`, `authority_data`, `web_crawl`, ...) or a number
//! 0–100; when absent it is `unknown` (5).
//!
//! **OFAC address list** (`sanctioned_addresses_<ASSET>.txt` with one address per line, or
//! the `.json` array of the same): every address gets the label "OFAC SDN list", category
//! `sanctioned`, confidence `authority_data` (60), source the SDN list URL. The asset comes
//! from the file name (`XBT` is Bitcoin, `ETH` Ethereum) or from the caller. The `0x`
//! addresses of the `USDT` and `USDC` lists are Ethereum addresses (labelled
//! "OFAC SDN list (USDT)"); their other addresses (Omni, Tron) are skipped.
//!
//! **CSV**: comma-separated, fields may be quoted (`"Exchange, cold wallet"`), the first row is
//! a header naming the columns in any order (case-insensitive). Required: `address`, `label`,
//! `category` (a row may leave `category` empty when it gives an `abuse`). Optional: `abuse`,
//! `source`, `confidence` (id or 0–100, default `unknown`), `chain` (`BTC` or `ETH`),
//! `is_cluster_definer` (`true`/`false`, default false), `actor`. Other columns are ignored.
//! A row's chain is its `chain`, else the caller's default (`--chain`), else told by the
//! address: `0x…` is Ethereum, anything else Bitcoin. `address` is an address or, on Bitcoin,
//! a `txid:vout` output (txid as explorers show it), so a theft can be declared by its outputs:
//!
//! ```text
//! address,label,category,abuse,source,confidence,chain
//! 85930adfe5176fc1548517fbae77914527b7fb91418318ba9b17cc6046b9ef7e:0,Bitvault theft,user,theft,incident report,forensic,
//! 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,"Satoshi Nakamoto, genesis",user,,https://en.bitcoin.it/wiki/Genesis_block,ownership,btc
//! 0x098B716B8Aaf21512996dC57EB0615e2383E2f96,Ronin bridge exploiter,user,theft,OFAC,authority_data,eth
//! ```
//!
//! **Etherscan labels** (brianleect/etherscan-labels): a label's CSV export `<label>.csv`
//! (`,Address,Name Tag,Balance,Txn Count`; the file name is the label) or
//! `combinedAccountLabels.json` (`{"0x…": {"name", "labels": [...]}}`). Labels map to
//! categories: exchanges (`binance`, `coinbase`, `kraken`, `bitfinex`, `upbit`, ... and their
//! `-deposit` labels) → `exchange`; `tornado-cash`, `ethereum-mixer` → `mixer`; `bridge` →
//! `bridge`; `ofac-sanctions-lists`, `blocked` → `sanctioned`; others keep their own name.
//! An account gets one label per category; confidence `web_crawl` (20), source the label page.
//!
//! **Tornado Cash pool registry** (pareto-xyz/tutela-app `tornado_pools.json`
//! `{"0x…": "1 ETH"}`, or the headerless `tornadocontracts.csv`
//! `address,token,denomination,short_name`): every pool is a `mixer` named with its
//! denomination ("Tornado Cash pool 1 ETH"), and the router and proxies that deposits go
//! through are added as mixers too.

mod csvfile;
mod entry;
pub mod eth;
pub mod etherscan;
mod fields;
mod import;
mod json;
mod ofac;
mod tagpack;
pub mod tornado;

use std::path::Path;

use bitcoin::hashes::{sha256, Hash};

pub use entry::{Entry, Format, Invalid, Location, ParseOptions, ParsedFile};
pub use eth::{looks_like_eth, parse_eth_address, parse_eth_target, EthAddressError};
pub use fields::DEFAULT_CONFIDENCE;
pub use import::{import, output_indexed, parse_target, resolve, FileReport, Resolved};

/// Errors that stop the import of a file.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The file is not in its format at all; `line` is 1-based.
    #[error("{path}:{line}: {reason}")]
    Malformed {
        path: String,
        line: usize,
        reason: String,
    },
    /// The caller must say something the file does not (its format, its asset).
    #[error("{path}: {reason}")]
    Ambiguous { path: String, reason: String },
}

/// Reads and parses one label file. `format` is detected when `None` (see [`Format::detect`]).
pub fn parse_file(
    path: &Path,
    format: Option<Format>,
    opts: &ParseOptions,
) -> Result<ParsedFile, LabelError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| LabelError::Read {
        path: name.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        malformed(&name, line, "the file is not UTF-8 text")
    })?;
    let format = match format {
        Some(f) => f,
        None => Format::detect(path, &text).ok_or_else(|| LabelError::Ambiguous {
            path: name.clone(),
            reason: "cannot tell its format from its name or content; pass --format \
                     tagpack|ofac|csv|etherscan|tornado"
                .into(),
        })?,
    };
    // Spreadsheet programs start UTF-8 exports with a byte-order mark; it is not content.
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (entries, invalid) = match format {
        Format::Tagpack => tagpack::parse(body, &name, opts)?,
        Format::Ofac => ofac::parse(body, &name, path, opts)?,
        Format::Csv => csvfile::parse(body, &name, opts)?,
        Format::Etherscan => etherscan::parse(body, &name, path)?,
        Format::Tornado => tornado::parse(body, &name)?,
    };
    Ok(ParsedFile {
        sha256: sha256::Hash::hash(text.as_bytes()).to_string(),
        path: name,
        format,
        entries,
        invalid,
    })
}

fn malformed(path: &str, line: usize, reason: impl Into<String>) -> LabelError {
    LabelError::Malformed {
        path: path.to_string(),
        line,
        reason: reason.into(),
    }
}

/// Path of a label file bundled in the repository's `fixtures/labels/` (`eth/...` for the
/// Ethereum ones).
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/labels")
        .join(name)
}
