//! CSV label files: a header row naming the columns, then one attribution per row (see the
//! crate documentation for the columns).

use csv::{Reader, ReaderBuilder, StringRecord};

use crate::entry::{Entry, Invalid, Location, ParseOptions};
use crate::eth::looks_like_eth;
use crate::fields::{present, RawFields};
use crate::{malformed, LabelError};

/// Columns a CSV label file must have.
pub const REQUIRED: [&str; 3] = ["address", "label", "category"];
/// Columns it may have.
pub const OPTIONAL: [&str; 6] = [
    "abuse",
    "source",
    "confidence",
    "chain",
    "is_cluster_definer",
    "actor",
];

/// Positions of the known columns in a header row.
pub struct Columns(Vec<(String, usize)>);

impl Columns {
    /// Finds the `required` and `optional` columns (case-insensitive, any order); a header
    /// without every required one means the file is not of the format, shown by `example`.
    pub fn find(
        header: &StringRecord,
        file: &str,
        required: &[&str],
        optional: &[&str],
        example: &str,
    ) -> Result<Columns, LabelError> {
        let names: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let cols: Vec<(String, usize)> = required
            .iter()
            .chain(optional)
            .filter_map(|k| {
                names
                    .iter()
                    .position(|n| n == k)
                    .map(|i| (k.to_string(), i))
            })
            .collect();
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|r| !cols.iter().any(|(k, _)| k == r))
            .collect();
        if !missing.is_empty() {
            return Err(malformed(
                file,
                header.position().map_or(1, |p| p.line() as usize),
                format!(
                    "the header row lacks the column(s) {}; {example}",
                    missing.join(", ")
                ),
            ));
        }
        Ok(Columns(cols))
    }

    /// The trimmed field of column `name`, absent when empty.
    pub fn get(&self, record: &StringRecord, name: &str) -> Option<String> {
        let (_, i) = self.0.iter().find(|(k, _)| k == name)?;
        present(record.get(*i))
    }

    fn fields(&self, r: &StringRecord) -> RawFields {
        RawFields {
            address: self.get(r, "address"),
            label: self.get(r, "label"),
            category: self.get(r, "category"),
            abuse: self.get(r, "abuse"),
            confidence: self.get(r, "confidence"),
            source: self.get(r, "source"),
            currency: self.get(r, "chain"),
            is_cluster_definer: self.get(r, "is_cluster_definer"),
            actor: self.get(r, "actor"),
        }
    }
}

/// A CSV reader over `text` that insists every row has as many fields as the first.
pub fn reader(text: &str, has_headers: bool) -> Reader<&[u8]> {
    ReaderBuilder::new()
        .has_headers(has_headers)
        .flexible(false)
        .from_reader(text.as_bytes())
}

/// The header row; an empty file has none.
pub fn header(reader: &mut Reader<&[u8]>, file: &str) -> Result<StringRecord, LabelError> {
    let header = reader
        .headers()
        .map_err(|e| malformed(file, 1, format!("cannot read the header row: {e}")))?
        .clone();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(malformed(
            file,
            1,
            "the file is empty; it must start with a header row",
        ));
    }
    Ok(header)
}

/// Gives every non-blank row to `row` with its location. Rows the reader rejects are invalid;
/// `first` names the row the others must match in length ("the header", "the first row").
pub fn rows(
    text: &str,
    mut reader: Reader<&[u8]>,
    first: &str,
    mut row: impl FnMut(&StringRecord, Location) -> Result<Entry, Invalid>,
) -> (Vec<Entry>, Vec<Invalid>) {
    let (mut entries, mut invalid) = (Vec::new(), Vec::new());
    let mut record = StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) if is_blank(&record) => {}
            Ok(true) => {
                let at = Location::line(line_at(text, record.position()));
                match row(&record, at) {
                    Ok(e) => entries.push(e),
                    Err(e) => invalid.push(e),
                }
            }
            Err(e) => invalid.push(bad_record(&e, line_at(text, e.position()), first)),
        }
    }
    (entries, invalid)
}

/// Parses a CSV label file into entries and the rows that could not be used.
pub fn parse(
    text: &str,
    file: &str,
    opts: &ParseOptions,
) -> Result<(Vec<Entry>, Vec<Invalid>), LabelError> {
    let mut reader = reader(text, true);
    let header = header(&mut reader, file)?;
    let example = "a CSV label file starts with a header such as \
                   `address,label,category,abuse,source,confidence`";
    let columns = Columns::find(&header, file, &REQUIRED, &OPTIONAL, example)?;
    Ok(rows(text, reader, "the header", |r, at| {
        row(&columns, r, at, file, opts)
    }))
}

/// A row the CSV reader rejects: a different number of fields than `first` (usually an
/// unquoted comma) or bytes that are not UTF-8.
fn bad_record(e: &csv::Error, line: usize, first: &str) -> Invalid {
    let reason = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            len, expected_len, ..
        } => format!(
            "the row has {len} fields but {first} has {expected_len} (quote fields that contain commas)"
        ),
        _ => e.to_string(),
    };
    Invalid {
        at: Location::line(line),
        text: String::new(),
        reason,
    }
}

fn is_blank(record: &StringRecord) -> bool {
    record.iter().all(|f| f.trim().is_empty())
}

/// The 1-based line a record starts on. The reader's own line count is taken before the blank
/// lines it skips, so the line is counted from the record's byte offset instead.
fn line_at(text: &str, pos: Option<&csv::Position>) -> usize {
    let Some(byte) = pos.map(|p| p.byte() as usize) else {
        return 0;
    };
    let skipped = text[byte..].len() - text[byte..].trim_start_matches(['\r', '\n']).len();
    1 + text.as_bytes()[..byte + skipped]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

fn row(
    columns: &Columns,
    r: &StringRecord,
    at: Location,
    file: &str,
    opts: &ParseOptions,
) -> Result<Entry, Invalid> {
    let mut fields = columns.fields(r);
    if fields.category.is_none() && fields.abuse.is_none() {
        return Err(Invalid {
            at,
            text: fields.address.unwrap_or_default(),
            reason: "no category (and no abuse)".into(),
        });
    }
    // The row's `chain` wins, then the caller's; CSV files are written by hand for the case at
    // hand, so without either the address's form decides: `0x...` is Ethereum, else Bitcoin.
    if fields.currency.is_none() && opts.currency.is_none() {
        let eth = fields.address.as_deref().is_some_and(looks_like_eth);
        fields.currency = Some(if eth { "ETH" } else { "BTC" }.into());
    }
    fields.into_entry(file, at, opts)
}

#[cfg(test)]
mod tests {
    use chaintrace_model::{Category, Network};
    use chaintrace_store::tables::LabelTarget;

    use super::*;
    use crate::resolve;

    const THEFT_TX: &str = "85930adfe5176fc1548517fbae77914527b7fb91418318ba9b17cc6046b9ef7e";

    fn parsed(text: &str) -> crate::ParsedFile {
        let (entries, invalid) = parse(text, "case.csv", &ParseOptions::default()).unwrap();
        crate::ParsedFile {
            path: "case.csv".into(),
            format: crate::Format::Csv,
            sha256: String::new(),
            entries,
            invalid,
        }
    }

    #[test]
    fn rows_become_labels_on_addresses_and_outputs() {
        let text = format!(
            "Label,Address,Category,Abuse,Confidence,Chain,Is_Cluster_Definer,Actor,Source,Notes\n\
             \"Bitvault Exchange, hot wallet\",bcrt1qgad0rchd5qeqsn0ktrd3952a2ek8g9gsex6pmp549gkqje34nzeqkhthj3,exchange,,ownership,,true,bitvault,\"https://example.org/a,b\",x\n\
             Bitvault hack,{THEFT_TX}:2,user,service_hack,75,BTC,,,,\n\
             \n\
             Tornado,0x12D66f87A04A9E220743712cE6d9bB1B5616B8Fc,mixing_service,,,eth,,,,\n"
        );
        let p = parsed(&text);
        assert!(p.invalid.is_empty(), "{:?}", p.invalid);
        assert_eq!(
            p.entries.iter().map(|e| e.at.line).collect::<Vec<_>>(),
            [2, 3, 5]
        );
        let hot = &p.entries[0].label;
        assert_eq!(hot.name, "Bitvault Exchange, hot wallet");
        assert_eq!(
            (hot.category.clone(), hot.confidence, hot.is_cluster_definer),
            (Category::Exchange, 100, true)
        );
        assert_eq!(
            (hot.source.as_str(), hot.actor.as_deref()),
            ("https://example.org/a,b", Some("bitvault"))
        );
        let theft = &p.entries[1].label;
        assert_eq!(
            (
                theft.category.clone(),
                theft.confidence,
                theft.raw_category.as_deref()
            ),
            (Category::Theft, 75, Some("user"))
        );
        let r = resolve(p, Network::Regtest);
        assert!(r.skipped.is_empty());
        assert_eq!(r.labels.len(), 3);
        let txid = chaintrace_store::btc::parse_display_hash(THEFT_TX).unwrap();
        assert_eq!(r.labels[1].0, LabelTarget::BtcOutput(txid, 2));
        let pool = crate::parse_eth_target("0x12D66f87A04A9E220743712cE6d9bB1B5616B8Fc").unwrap();
        assert_eq!(r.labels[2].0, pool);
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let text = format!(
            "address,label,category\n\
             1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb,bad checksum,user\n\
             bcrt1qgad0rchd5qeqsn0ktrd3952a2ek8g9gsex6pmp549gkqje34nzeqkhthj3,wrong network,exchange\n\
             1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,Genesis,\n\
             1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,Satoshi, early,user\n\
             {THEFT_TX}:x,bad vout,theft\n\
             1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,Genesis,user\n"
        );
        let r = resolve(parsed(&text), Network::Main);
        assert_eq!(r.labels.len(), 1);
        let lines: Vec<usize> = r.invalid.iter().map(|i| i.at.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6]);
        assert!(
            r.invalid[0].reason.contains("checksum"),
            "{}",
            r.invalid[0].reason
        );
        assert!(
            r.invalid[1].reason.contains("not for the main network"),
            "{}",
            r.invalid[1].reason
        );
        assert_eq!(r.invalid[2].reason, "no category (and no abuse)");
        assert_eq!(
            r.invalid[3].reason,
            "the row has 4 fields but the header has 3 (quote fields that contain commas)"
        );
        assert!(r.invalid[4].reason.contains("\"x\" is not an output index"));
    }

    #[test]
    fn spreadsheet_exports_with_a_byte_order_mark_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("case.csv");
        let text =
            "\u{feff}address,label,category\r\n1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,Genesis,user\r\n";
        std::fs::write(&path, text).unwrap();
        let p = crate::parse_file(&path, None, &ParseOptions::default()).unwrap();
        assert_eq!((p.entries.len(), p.invalid.len()), (1, 0));
        assert_eq!(p.entries[0].at, Location::line(2));
    }

    #[test]
    fn a_file_without_the_header_is_malformed() {
        let err = |text: &str| match parse(text, "case.csv", &ParseOptions::default()) {
            Err(LabelError::Malformed { line, reason, .. }) => (line, reason),
            other => panic!("expected a malformed-file error, got {other:?}"),
        };
        let (line, reason) = err("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,Genesis,user\n");
        assert_eq!(line, 1);
        assert!(
            reason.starts_with("the header row lacks the column(s) address, label, category"),
            "{reason}"
        );
        assert!(err("address,name,category\n")
            .1
            .contains("lacks the column(s) label;"));
        assert_eq!(
            err("").1,
            "the file is empty; it must start with a header row"
        );
    }
}
