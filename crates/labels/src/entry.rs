//! What parsers produce: entries with their place in the file, and the entries they rejected.

use std::fmt;
use std::path::Path;

use chaintrace_model::{Chain, Label};
use serde::Serialize;

use crate::json::{self, Shape};
use crate::{etherscan, tornado};

/// A label file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Tagpack,
    Ofac,
    Csv,
    Etherscan,
    Tornado,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Tagpack,
        Format::Ofac,
        Format::Csv,
        Format::Etherscan,
        Format::Tornado,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Tagpack => "tagpack",
            Format::Ofac => "ofac",
            Format::Csv => "csv",
            Format::Etherscan => "etherscan",
            Format::Tornado => "tornado",
        }
    }

    /// Guesses the format from the name, then the content:
    /// - `.yaml`/`.yml` are TagPacks;
    /// - `.csv` is an Etherscan label export when its header is Etherscan's (`Address`,
    ///   `Name Tag`, ...), a Tornado Cash pool registry when its name says `tornado` and it
    ///   has no header (rows start with an address), else a CSV label file;
    /// - `.txt` or `.json` is an OFAC list when its name says `sanctioned_addresses`, or it
    ///   holds one bare token per line (a JSON array);
    /// - a `.json` object is a Tornado Cash pool registry when its values are strings
    ///   (denominations), an Etherscan account list when they are objects. The shape is read
    ///   from the first member, so a truncated file is still recognised and reported as
    ///   malformed where it breaks.
    pub fn detect(path: &Path, text: &str) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match ext.as_str() {
            "yaml" | "yml" => Some(Format::Tagpack),
            "csv" if etherscan::is_csv_export(text) => Some(Format::Etherscan),
            "csv" if name.contains("tornado") && tornado::is_headerless_csv(text) => {
                Some(Format::Tornado)
            }
            "csv" => Some(Format::Csv),
            "txt" | "json" if name.contains("sanctioned_addresses") => Some(Format::Ofac),
            "txt" if one_token_per_line(text) => Some(Format::Ofac),
            "json" => json_format(text),
            _ => None,
        }
    }
}

/// The format of a JSON label file, from its shape (see [`json::shape`]).
fn json_format(text: &str) -> Option<Format> {
    Some(match json::shape(text)? {
        Shape::Array => Format::Ofac,
        Shape::ObjectOfStrings => Format::Tornado,
        Shape::ObjectOfObjects => Format::Etherscan,
    })
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        let s = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!("unknown label format {s:?} (tagpack|ofac|csv|etherscan|tornado)")
            })
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

/// Where an entry is in its file: a 1-based line, for TagPacks the 1-based tag number, and for
/// JSON objects the 1-based member number (a JSON file may be written on a single line).
/// Line 0 marks an entry a format adds that is not written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<usize>,
}

impl Location {
    pub fn line(line: usize) -> Location {
        Location {
            line,
            tag: None,
            entry: None,
        }
    }

    /// The `tag`-th tag of a TagPack, written on `line`.
    pub fn tag(line: usize, tag: usize) -> Location {
        Location {
            tag: Some(tag),
            ..Location::line(line)
        }
    }

    /// The `entry`-th member of a JSON object, written on `line`.
    pub fn entry(line: usize, entry: usize) -> Location {
        Location {
            entry: Some(entry),
            ..Location::line(line)
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.line)?;
        if let Some(tag) = self.tag {
            write!(f, " (tag {tag})")?;
        }
        if let Some(entry) = self.entry {
            write!(f, " (entry {entry})")?;
        }
        Ok(())
    }
}

/// One attribution read from a file, before it is checked against an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The address, or `txid:vout` for an output, as written.
    pub target: String,
    /// The currency the source states (upper case; OFAC's `XBT` reads as `BTC`), or the chain
    /// a format knows the entry is on (`ETH` for the Ethereum addresses of OFAC's USDT list).
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
    /// whose name gives no asset, TagPacks without `currency`/`network`). Without it, CSV rows
    /// are Ethereum when the address starts with `0x`, else Bitcoin.
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
        let etherscan = ",Address,Name Tag,Balance,Txn Count\n0,0xabc,Kraken,0 ETH,1\n";
        assert_eq!(d("kraken.csv", etherscan), Some(Format::Etherscan));
        assert_eq!(
            d("x.csv", &format!("\u{feff}{etherscan}")),
            Some(Format::Etherscan)
        );
        let pools = "0x12d66f87a04a9e220743712ce6d9bb1b5616b8fc,ETH,0.1,eth01\n";
        assert_eq!(d("tornadocontracts.csv", pools), Some(Format::Tornado));
        assert_eq!(d("case.csv", pools), Some(Format::Csv), "needs the name");
        assert_eq!(
            d("pools.json", r#"{"0xab": "1 ETH"}"#),
            Some(Format::Tornado)
        );
        let accounts = r#"{"0xab": {"name": "Kraken", "labels": ["kraken"]}}"#;
        assert_eq!(d("accounts.json", accounts), Some(Format::Etherscan));
        assert_eq!(d("x.json", r#"{"0xab": 1}"#), None);
        assert_eq!(d("x.json", "{"), None);
        assert_eq!(
            d("pools.json", "{\n \"0xab\": \"1 ETH\",\n \"0x"),
            Some(Format::Tornado)
        );
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
        }
        assert_eq!(" Etherscan".parse::<Format>(), Ok(Format::Etherscan));
        assert!("yaml"
            .parse::<Format>()
            .unwrap_err()
            .contains("tagpack|ofac|csv|etherscan"));
    }

    #[test]
    fn locations_name_line_tag_and_entry() {
        assert_eq!(Location::line(3).to_string(), "3");
        assert_eq!(Location::tag(1069, 531).to_string(), "1069 (tag 531)");
        assert_eq!(Location::entry(1, 42).to_string(), "1 (entry 42)");
    }

    #[test]
    fn currency_codes() {
        assert_eq!(currency_code(" xbt"), "BTC");
        assert_eq!(currency_code("eth"), "ETH");
        assert_eq!(chain_of("BTC"), Some(Chain::Btc));
        assert_eq!(chain_of("USDT"), None);
    }
}
