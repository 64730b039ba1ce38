//! What parsers produce: entries with their place in the file, and the entries they rejected.

use std::fmt;
use std::path::Path;

use chaintrace_model::{Chain, Label};
use serde::Serialize;

/// A label file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Tagpack,
    Ofac,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Tagpack => "tagpack",
            Format::Ofac => "ofac",
            Format::Csv => "csv",
        }
    }

    /// Guesses the format: `.yaml`/`.yml` are TagPacks, `.csv` is CSV, and a `.txt` or `.json`
    /// file is an OFAC list when its name says `sanctioned_addresses` or it holds one bare
    /// token per line (a JSON array of strings).
    pub fn detect(path: &Path, text: &str) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        match ext.as_str() {
            "yaml" | "yml" => Some(Format::Tagpack),
            "csv" => Some(Format::Csv),
            "txt" | "json" if name.contains("sanctioned_addresses") => Some(Format::Ofac),
            "txt" if one_token_per_line(text) => Some(Format::Ofac),
            "json" if serde_json::from_str::<Vec<String>>(text).is_ok() => Some(Format::Ofac),
            _ => None,
        }
    }
}

fn one_token_per_line(text: &str) -> bool {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .peekable();
    lines.peek().is_some()
        && lines.all(|l| !l.contains(|c: char| c.is_whitespace() || c == ',' || c == ';'))
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an entry is in its file: a 1-based line, and for TagPacks the 1-based tag number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<usize>,
}

impl Location {
    pub fn line(line: usize) -> Location {
        Location { line, tag: None }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tag {
            Some(tag) => write!(f, "{} (tag {tag})", self.line),
            None => write!(f, "{}", self.line),
        }
    }
}

/// One attribution read from a file, before it is checked against an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The address, or `txid:vout` for an output, as written.
    pub target: String,
    /// The currency the source states (upper case; OFAC's `XBT` reads as `BTC`).
    pub currency: String,
    pub label: Label,
    pub at: Location,
}

impl Entry {
    /// The chain of the entry, if chaintrace knows it.
    pub fn chain(&self) -> Option<Chain> {
        chain_of(&self.currency)
    }
}

/// The chain a currency code names: only the native coins of the chains chaintrace models.
/// Tokens (USDT, USDC) live on several chains, so their code alone does not name one.
pub fn chain_of(currency: &str) -> Option<Chain> {
    match currency {
        "BTC" => Some(Chain::Btc),
        "ETH" => Some(Chain::Eth),
        _ => None,
    }
}

/// Normalises a currency or chain name to the code used in reports (`BTC`, `ETH`, ...).
pub fn currency_code(raw: &str) -> String {
    let code = raw.trim().to_ascii_uppercase();
    match code.as_str() {
        "XBT" | "BITCOIN" => "BTC".into(),
        "ETHEREUM" => "ETH".into(),
        _ => code,
    }
}

/// An entry that could not be used, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Invalid {
    #[serde(flatten)]
    pub at: Location,
    /// The offending address or text, as written (empty if there was none).
    pub text: String,
    pub reason: String,
}

/// Settings a caller gives to parsers.
#[derive(Clone, Debug, Default)]
pub struct ParseOptions {
    /// Currency of entries whose file does not state one (CSV rows without `chain`, OFAC lists
    /// whose name gives no asset, TagPacks without `currency`/`network`).
    pub currency: Option<String>,
}

/// A parsed label file.
#[derive(Clone, Debug)]
pub struct ParsedFile {
    /// The path as given.
    pub path: String,
    pub format: Format,
    /// SHA-256 of the file's bytes (hex), recorded with the import.
    pub sha256: String,
    pub entries: Vec<Entry>,
    pub invalid: Vec<Invalid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_name_and_content() {
        let d = |name: &str, text: &str| Format::detect(Path::new(name), text);
        assert_eq!(d("packs/hacks.yaml", ""), Some(Format::Tagpack));
        assert_eq!(d("x.YML", ""), Some(Format::Tagpack));
        assert_eq!(d("case.csv", ""), Some(Format::Csv));
        assert_eq!(d("sanctioned_addresses_XBT.json", "{}"), Some(Format::Ofac));
        assert_eq!(d("list.txt", "1abc\n\n3def\n"), Some(Format::Ofac));
        assert_eq!(d("list.json", r#"["1abc"]"#), Some(Format::Ofac));
        assert_eq!(d("notes.txt", "two words\n"), None);
        assert_eq!(d("notes.txt", ""), None);
        assert_eq!(d("labels", "1abc"), None);
    }

    #[test]
    fn currency_codes() {
        assert_eq!(currency_code(" xbt"), "BTC");
        assert_eq!(currency_code("eth"), "ETH");
        assert_eq!(chain_of("BTC"), Some(Chain::Btc));
        assert_eq!(chain_of("USDT"), None);
    }
}
