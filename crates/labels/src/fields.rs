//! The attribution fields shared by TagPack tags and CSV rows, and how they become a [`Label`].

use chaintrace_model::label::confidence_level;
use chaintrace_model::{Category, Label};

use crate::entry::{currency_code, Entry, Invalid, Location, ParseOptions};

/// Confidence of a label whose source states none: GraphSense's `unknown`.
pub const DEFAULT_CONFIDENCE: u8 = 5;

/// One entry's fields as text, absent when the source leaves them out or empty.
#[derive(Clone, Debug, Default)]
pub struct RawFields {
    pub address: Option<String>,
    pub label: Option<String>,
    pub category: Option<String>,
    pub abuse: Option<String>,
    pub confidence: Option<String>,
    pub source: Option<String>,
    pub currency: Option<String>,
    pub is_cluster_definer: Option<String>,
    pub actor: Option<String>,
}

/// Trims a field, treating an empty one as absent.
pub fn present(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl RawFields {
    /// Builds the entry, or says which field makes it unusable.
    pub fn into_entry(
        self,
        file: &str,
        at: Location,
        opts: &ParseOptions,
    ) -> Result<Entry, Invalid> {
        let text = self.address.clone().unwrap_or_default();
        let invalid = |reason: String| Invalid {
            at,
            text: text.clone(),
            reason,
        };
        let target = self.address.ok_or_else(|| invalid("no address".into()))?;
        let name = self.label.ok_or_else(|| invalid("no label".into()))?;
        let currency = self
            .currency
            .or_else(|| opts.currency.clone())
            .map(|c| currency_code(&c))
            .ok_or_else(|| invalid("no currency or chain is given (pass --chain)".into()))?;
        let confidence = match &self.confidence {
            None => DEFAULT_CONFIDENCE,
            Some(c) => confidence_level(c).ok_or_else(|| {
                invalid(format!(
                    "confidence {c:?} is neither a GraphSense confidence id nor a number 0-100"
                ))
            })?,
        };
        let is_cluster_definer = match self.is_cluster_definer.as_deref() {
            None => false,
            Some(b) => parse_bool(b).ok_or_else(|| {
                invalid(format!(
                    "is_cluster_definer {b:?} is neither true nor false"
                ))
            })?,
        };
        let category = self.category.as_deref().map(Category::parse);
        let abuse = self.abuse.as_deref().map(Category::parse);
        let label = Label {
            name,
            category: Category::for_tracing(category.as_ref(), abuse.as_ref()),
            raw_category: self.category,
            abuse: self.abuse,
            confidence,
            source: self.source.unwrap_or_default(),
            file: file.to_string(),
            is_cluster_definer,
            actor: self.actor,
        };
        Ok(Entry {
            target,
            currency,
            label,
            at,
        })
    }
}

/// What a format that fixes every field of its labels (OFAC, Etherscan, Tornado Cash) says
/// about an address; `confidence` is a GraphSense id.
pub struct Fixed {
    pub name: String,
    pub category: Category,
    pub raw_category: String,
    pub confidence: &'static str,
    pub source: String,
}

impl Fixed {
    /// The entry of `target` on `currency`, labelled from `file`. Such formats carry no abuse,
    /// actor or cluster flag: their lists name single addresses.
    pub fn entry(self, target: &str, currency: &str, file: &str, at: Location) -> Entry {
        let label = Label {
            name: self.name,
            category: self.category,
            raw_category: Some(self.raw_category),
            abuse: None,
            confidence: confidence_level(self.confidence).unwrap_or(DEFAULT_CONFIDENCE),
            source: self.source,
            file: file.to_string(),
            is_cluster_definer: false,
            actor: None,
        };
        Entry {
            target: target.trim().to_string(),
            currency: currency.to_string(),
            label,
            at,
        }
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}
