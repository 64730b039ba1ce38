//! Linking parameters, heuristic ids, and the link record every heuristic emits.
//!
//! Invariant: confidences are whole percents in 0..=100; values above 100 given by a caller are
//! read as 100.

use serde::Serialize;

use super::events::GasFingerprint;

/// The five linking heuristics of §5.2, with stable ids "H1".."H5".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Heuristic {
    #[serde(rename = "H1")]
    AddressMatch,
    #[serde(rename = "H2")]
    UniqueGasPrice,
    #[serde(rename = "H3")]
    LinkedAddresses,
    #[serde(rename = "H4")]
    MultiDenomination,
    #[serde(rename = "H5")]
    TornMining,
}

impl Heuristic {
    pub const ALL: [Heuristic; 5] = [
        Heuristic::AddressMatch,
        Heuristic::UniqueGasPrice,
        Heuristic::LinkedAddresses,
        Heuristic::MultiDenomination,
        Heuristic::TornMining,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Heuristic::AddressMatch => "H1",
            Heuristic::UniqueGasPrice => "H2",
            Heuristic::LinkedAddresses => "H3",
            Heuristic::MultiDenomination => "H4",
            Heuristic::TornMining => "H5",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Heuristic::AddressMatch => "address-match",
            Heuristic::UniqueGasPrice => "unique-gas-price",
            Heuristic::LinkedAddresses => "linked-addresses",
            Heuristic::MultiDenomination => "multi-denomination",
            Heuristic::TornMining => "torn-mining",
        }
    }
}

/// How sure each heuristic's links are, in whole percents (§5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Confidences {
    pub address_match: u8,
    pub unique_gas_price: u8,
    /// H3 grows with the evidence: `per_interaction × interactions`, capped.
    pub per_interaction: u8,
    pub linked_addresses_cap: u8,
    /// H4 for a single matching depositor; shared out when several depositors match.
    pub multi_denomination: u8,
    pub torn_mining: u8,
}

impl Default for Confidences {
    fn default() -> Confidences {
        Confidences {
            address_match: 100,
            unique_gas_price: 90,
            per_interaction: 15,
            linked_addresses_cap: 75,
            multi_denomination: 70,
            torn_mining: 90,
        }
    }
}

impl Confidences {
    /// H3's confidence for `interactions` direct transactions.
    pub fn linked_addresses(&self, interactions: u32) -> u8 {
        let scaled = u32::from(self.per_interaction).saturating_mul(interactions);
        let cap = u32::from(self.linked_addresses_cap.min(100));
        scaled.min(cap) as u8
    }
}

/// Parameters of [`link`](super::link). `Default` gives Tutela's published defaults (§5.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkParams {
    /// H1 and H2 only consider deposits in the withdrawal's own pool (Tutela `--by-pool`).
    pub by_pool: bool,
    /// H3: direct transactions needed between a depositor and a recipient.
    pub min_interactions: u32,
    /// H4: the look-back window of a portfolio, in seconds.
    pub window_secs: u64,
    /// H4: fewest transactions a portfolio needs.
    pub min_portfolio_txs: u32,
    /// H4: a portfolio matched by more depositors than this links to none of them; below it,
    /// the confidence is shared among the matches.
    pub max_portfolio_matches: u32,
    pub enabled: Vec<Heuristic>,
    pub confidence: Confidences,
}

impl Default for LinkParams {
    fn default() -> LinkParams {
        LinkParams {
            by_pool: false,
            min_interactions: 3,
            window_secs: 86_400,
            min_portfolio_txs: 2,
            max_portfolio_matches: 5,
            enabled: Heuristic::ALL.to_vec(),
            confidence: Confidences::default(),
        }
    }
}

impl LinkParams {
    pub fn is_enabled(&self, heuristic: Heuristic) -> bool {
        self.enabled.contains(&heuristic)
    }
}

/// What a heuristic saw when it linked a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum LinkDetail {
    /// H1: the deposit's sender is the withdrawal's recipient.
    SameAddress,
    /// H2: the fingerprint no other deposit used.
    GasPrice { gas: GasFingerprint },
    /// H3: direct transactions between depositor and recipient.
    Interactions { count: u32 },
    /// H4: the matched portfolio and how many depositors matched it.
    Portfolio {
        pools: u32,
        txs: u32,
        depositors: u32,
    },
    /// H5: the claim and the blocks it implies the note stayed in the pool.
    Mining { ap: u64, blocks: u64 },
}

/// One heuristic's claim that a withdrawal spent a deposit's note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Link {
    /// `seq` of the withdrawal.
    pub withdrawal: u64,
    /// `seq` of the deposit.
    pub deposit: u64,
    pub heuristic: Heuristic,
    /// Whole percent.
    pub confidence: u8,
    pub detail: LinkDetail,
}
