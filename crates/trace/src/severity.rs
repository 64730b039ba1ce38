//! Risk levels for screening: which categories matter how much, and from what share on.
//!
//! The default table follows common compliance practice (spec §3.1): sanctions, theft and
//! ransomware exposure is severe at any amount (OFAC sets no de minimis), darknet markets and
//! mixers are high, gambling is medium above 5 %, ordinary services carry no risk.

use std::fmt;
use std::str::FromStr;

use chaintrace_model::Category;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    None,
    Low,
    Medium,
    High,
    Severe,
}

impl Severity {
    /// Weight in the illustrative score of spec §3.2.
    pub fn weight(self) -> f64 {
        match self {
            Severity::None => 0.0,
            Severity::Low => 0.2,
            Severity::Medium => 0.5,
            Severity::High => 0.8,
            Severity::Severe => 1.0,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Severe => "severe",
        })
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "none" => Severity::None,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "severe" => Severity::Severe,
            other => {
                return Err(format!(
                    "unknown severity {other:?} (none, low, medium, high, severe)"
                ))
            }
        })
    }
}

/// A category's severity and the share (in basis points) from which it counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeverityRule {
    pub category: Category,
    pub severity: Severity,
    pub min_share_bps: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeverityTable {
    pub rules: Vec<SeverityRule>,
}

impl Default for SeverityTable {
    fn default() -> Self {
        use Category::*;
        let rule = |category, severity, min_share_bps| SeverityRule {
            category,
            severity,
            min_share_bps,
        };
        SeverityTable {
            rules: vec![
                rule(Sanctioned, Severity::Severe, 0),
                rule(Theft, Severity::Severe, 0),
                rule(Ransomware, Severity::Severe, 0),
                rule(Market, Severity::High, 0),
                rule(Mixer, Severity::High, 0),
                rule(Scam, Severity::High, 100),
                rule(Coinjoin, Severity::Medium, 100),
                rule(Gambling, Severity::Medium, 500),
            ],
        }
    }
}

impl SeverityTable {
    pub fn rule(&self, category: &Category) -> Option<&SeverityRule> {
        self.rules.iter().find(|r| &r.category == category)
    }

    /// Sets (or replaces) a category's rule.
    pub fn set(&mut self, rule: SeverityRule) {
        self.rules.retain(|r| r.category != rule.category);
        self.rules.push(rule);
    }

    /// The severity exposure of `share_bps` to `category` amounts to.
    pub fn level(&self, category: &Category, amount: u64, share_bps: u32) -> Severity {
        match self.rule(category) {
            Some(r) if amount > 0 && share_bps >= r.min_share_bps => r.severity,
            _ => Severity::None,
        }
    }

    /// Parses `CATEGORY=LEVEL[@PERCENT]`, e.g. `gambling=high@2.5`.
    pub fn parse_rule(text: &str) -> Result<SeverityRule, String> {
        let (cat, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: expected CATEGORY=LEVEL[@PERCENT]"))?;
        let (level, pct) = match rest.split_once('@') {
            Some((l, p)) => (l, Some(p)),
            None => (rest, None),
        };
        let min_share_bps = match pct {
            None => 0,
            Some(p) => percent_to_bps(p)
                .ok_or_else(|| format!("{text:?}: {p:?} is not a percentage between 0 and 100"))?,
        };
        Ok(SeverityRule {
            category: Category::parse(cat),
            severity: level.parse()?,
            min_share_bps,
        })
    }

    /// Reads a table from CSV lines `category,severity,min_share_percent` (header optional).
    pub fn from_csv(text: &str) -> Result<Self, String> {
        let mut table = SeverityTable { rules: Vec::new() };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || (n == 0 && line.starts_with("category"))
            {
                continue;
            }
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            let spec = match cols.as_slice() {
                [c, s] => format!("{c}={s}"),
                [c, s, p] => format!("{c}={s}@{p}"),
                _ => {
                    return Err(format!(
                        "line {}: expected category,severity[,min_share_percent]",
                        n + 1
                    ))
                }
            };
            table.set(Self::parse_rule(&spec).map_err(|e| format!("line {}: {e}", n + 1))?);
        }
        Ok(table)
    }
}

fn percent_to_bps(p: &str) -> Option<u32> {
    let (whole, frac) = p.trim().split_once('.').unwrap_or((p.trim(), ""));
    if frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: u32 = format!("{frac:0<2}").parse().ok()?;
    let bps = whole.checked_mul(100)?.checked_add(frac)?;
    (bps <= 10_000).then_some(bps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_apply() {
        let r = SeverityTable::parse_rule("gambling=high@2.5").unwrap();
        assert_eq!(
            (r.category, r.severity, r.min_share_bps),
            (Category::Gambling, Severity::High, 250)
        );
        assert!(SeverityTable::parse_rule("mixer=extreme").is_err());
        assert!(SeverityTable::parse_rule("mixer=high@101").is_err());
        let t = SeverityTable::default();
        assert_eq!(t.level(&Category::Sanctioned, 1, 0), Severity::Severe);
        assert_eq!(t.level(&Category::Gambling, 10, 499), Severity::None);
        assert_eq!(t.level(&Category::Gambling, 10, 500), Severity::Medium);
        assert_eq!(t.level(&Category::Exchange, 10, 10_000), Severity::None);
        let csv = SeverityTable::from_csv(
            "category,severity,min_share_percent\nexchange,low,50\nmixer,severe\n",
        )
        .unwrap();
        assert_eq!(csv.level(&Category::Exchange, 1, 5_000), Severity::Low);
        assert!(SeverityTable::from_csv("a,b,c,d").is_err());
    }
}
