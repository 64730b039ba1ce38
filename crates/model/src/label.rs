//! Attribution: who an address belongs to, according to whom, and how sure they are.
//!
//! Categories follow the GraphSense / INTERPOL darkweb and virtual-assets taxonomy (the ids
//! used by TagPacks), plus the few that tracing needs that the taxonomy lacks (`theft`,
//! `coinjoin`, `bridge`, `sanctioned`). A label keeps its raw category and abuse fields as
//! imported; [`Category::for_tracing`] folds them into the one category tracing decisions use.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of entity (or activity) a label attributes an address to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Category {
    Exchange,
    WalletService,
    Miner,
    Mixer,
    Gambling,
    Market,
    PaymentProcessor,
    Service,
    Bridge,
    Defi,
    User,
    Theft,
    Ransomware,
    Scam,
    Sanctioned,
    Coinjoin,
    /// A category this build does not know, kept verbatim (lower-cased).
    Other(String),
}

impl Category {
    /// Every known category, in a stable order.
    pub const KNOWN: [Category; 16] = [
        Category::Exchange,
        Category::WalletService,
        Category::Miner,
        Category::Mixer,
        Category::Gambling,
        Category::Market,
        Category::PaymentProcessor,
        Category::Service,
        Category::Bridge,
        Category::Defi,
        Category::User,
        Category::Theft,
        Category::Ransomware,
        Category::Scam,
        Category::Sanctioned,
        Category::Coinjoin,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            Category::Exchange => "exchange",
            Category::WalletService => "wallet_service",
            Category::Miner => "miner",
            Category::Mixer => "mixer",
            Category::Gambling => "gambling",
            Category::Market => "market",
            Category::PaymentProcessor => "payment_processor",
            Category::Service => "service",
            Category::Bridge => "bridge",
            Category::Defi => "defi",
            Category::User => "user",
            Category::Theft => "theft",
            Category::Ransomware => "ransomware",
            Category::Scam => "scam",
            Category::Sanctioned => "sanctioned",
            Category::Coinjoin => "coinjoin",
            Category::Other(s) => s,
        }
    }

    /// Parses a category or abuse id, accepting the GraphSense/INTERPOL spellings
    /// (`mixing_service`, `defi_bridge`, `service_hack`, ...).
    pub fn parse(s: &str) -> Category {
        let s = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        match s.as_str() {
            "exchange" | "exchanges" => Category::Exchange,
            "wallet_service" | "wallet" | "custodial_wallet" => Category::WalletService,
            "miner" | "mining_service" | "mining_pool" => Category::Miner,
            "mixer" | "mixing_service" | "mixing" | "tumbler" => Category::Mixer,
            "gambling" | "casino" => Category::Gambling,
            "market" | "darknet_market" | "marketplace" => Category::Market,
            "payment_processor" | "payment_service" => Category::PaymentProcessor,
            "service" | "shop" | "hosting" | "donation" => Category::Service,
            "bridge" | "defi_bridge" | "cross_chain_bridge" => Category::Bridge,
            "defi" | "defi_dex" | "defi_lending" | "dex" => Category::Defi,
            "user" | "private" | "individual" => Category::User,
            "theft" | "service_hack" | "hack" | "hacker" | "exploit" | "stolen_funds" => {
                Category::Theft
            }
            "ransomware" => Category::Ransomware,
            "scam" | "phishing" | "ponzi_scheme" | "fraud" | "sextortion" => Category::Scam,
            "sanctioned" | "sanctions" | "ofac" => Category::Sanctioned,
            "coinjoin" => Category::Coinjoin,
            _ => Category::Other(s),
        }
    }

    /// The category that drives tracing for a label with this category and optional abuse:
    /// an abuse (what the address was used for) outranks the kind of owner, so a `user`
    /// address tagged `abuse: service_hack` counts as `theft`.
    pub fn for_tracing(category: Option<&Category>, abuse: Option<&Category>) -> Category {
        match (abuse, category) {
            (Some(a), _) if *a != Category::User => a.clone(),
            (_, Some(c)) => c.clone(),
            (Some(a), None) => a.clone(),
            (None, None) => Category::User,
        }
    }

    /// Whether the category names a service that holds other people's funds: forward traces
    /// stop there by default, because movements inside a service are off-chain bookkeeping.
    pub fn is_service(&self) -> bool {
        matches!(
            self,
            Category::Exchange
                | Category::WalletService
                | Category::Mixer
                | Category::Gambling
                | Category::Market
                | Category::PaymentProcessor
                | Category::Service
                | Category::Bridge
                | Category::Defi
                | Category::Sanctioned
                | Category::Coinjoin
        )
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Category> for String {
    fn from(c: Category) -> String {
        c.as_str().to_string()
    }
}

impl From<String> for Category {
    fn from(s: String) -> Category {
        Category::parse(&s)
    }
}

/// GraphSense confidence levels (0–100), by their ids.
pub fn confidence_level(id: &str) -> Option<u8> {
    Some(match id.trim().to_ascii_lowercase().as_str() {
        "ownership" | "ledger_immanent" => 100,
        "override" => 100,
        "forensic" => 90,
        "service_data" => 80,
        "authority_data" => 60,
        "manual_verification" => 60,
        "web_crawl" => 20,
        "heuristic" => 10,
        "unknown" => 5,
        n => return n.parse::<u8>().ok().filter(|v| *v <= 100),
    })
}

/// One attribution, as imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Human name, e.g. "Binance" or "Bitfinex hack".
    pub name: String,
    /// The category that drives tracing (see [`Category::for_tracing`]).
    pub category: Category,
    /// The raw category of the source, if it had one.
    pub raw_category: Option<String>,
    /// The raw abuse of the source, if it had one.
    pub abuse: Option<String>,
    /// 0–100, GraphSense scale.
    pub confidence: u8,
    /// Where the attribution comes from (URL or reference), as the source states it.
    pub source: String,
    /// The file it was imported from.
    pub file: String,
    /// Whether the label may be extended to the address's whole cluster.
    pub is_cluster_definer: bool,
    /// Actor id (GraphSense), if given.
    pub actor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphsense_ids_map_to_tracing_categories() {
        assert_eq!(Category::parse("mixing_service"), Category::Mixer);
        assert_eq!(Category::parse("Defi-Bridge"), Category::Bridge);
        assert_eq!(
            Category::parse("weird_thing"),
            Category::Other("weird_thing".into())
        );
        let user = Category::User;
        let hack = Category::parse("service_hack");
        assert_eq!(
            Category::for_tracing(Some(&user), Some(&hack)),
            Category::Theft
        );
        assert_eq!(
            Category::for_tracing(Some(&Category::Exchange), None),
            Category::Exchange
        );
        assert!(Category::Exchange.is_service() && !Category::Theft.is_service());
        for c in Category::KNOWN {
            assert_eq!(Category::parse(c.as_str()), c);
        }
    }

    #[test]
    fn confidence_ids() {
        assert_eq!(confidence_level("web_crawl"), Some(20));
        assert_eq!(confidence_level("75"), Some(75));
        assert_eq!(confidence_level("999"), None);
        assert_eq!(confidence_level("nonsense"), None);
    }
}
