//! The heist's ground truth, serialized as `heist.json`.
//!
//! Amounts are satoshis (`*_sats`), txids are in the usual display (reversed) hex, addresses
//! are regtest strings. A pay-to-pubkey output would be listed under the P2PKH address of its
//! key, as explorers do; the story itself uses only address-bearing scripts.

use serde::{Deserialize, Serialize};

/// Everything a tracing engine should find, and the numbers it should find.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeistManifest {
    /// Version of this manifest layout.
    pub format: u32,
    /// Always `"regtest"`.
    pub network: String,
    /// The story in prose.
    pub story: String,
    /// How `stolen_sats` and `haircut_stolen_sats` are defined.
    pub taint_conventions: String,
    pub chain: ChainFacts,
    pub entities: Entities,
    /// Customer deposits that filled the Bitvault hot wallet before the theft.
    pub customer_deposits: Vec<Transfer>,
    /// Ordinary Bitvault withdrawals before the theft (clean coins leaving the hot wallet).
    pub hot_wallet_withdrawals: Vec<Transfer>,
    /// An unrelated, clean payment to the thief, later mixed into the consolidation.
    pub thief_clean_funding: Transfer,
    pub theft: Theft,
    /// Hops in chain order, starting from the first stolen output.
    pub peel_chain: Vec<PeelHop>,
    pub split: Split,
    pub coinjoin: CoinJoin,
    pub consolidation: Consolidation,
    /// Deposits by the thief at exchanges.
    pub deposits: Vec<Deposit>,
    /// Deposits by uninvolved users at the same exchanges; `haircut_stolen_sats` is non-zero
    /// only for the CoinJoin participant whose coins share the mix with the thief.
    pub innocent_deposits: Vec<Deposit>,
    /// Outputs holding stolen coins that are still unspent at the tip.
    pub unspent_stolen: Vec<OutputRef>,
}

/// Shape of the active chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainFacts {
    pub tip_height: u32,
    pub tip_hash: String,
    /// Active blocks, genesis included.
    pub blocks: u32,
    /// Blocks written to the blk files that are not on the active chain.
    pub stale_blocks: u32,
    /// Transactions on the active chain, coinbases included.
    pub txs: u64,
    /// Non-coinbase inputs on the active chain.
    pub inputs: u64,
    /// Outputs on the active chain, coinbase outputs included.
    pub outputs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entities {
    pub exchanges: Vec<Exchange>,
    pub thief: Thief,
    /// The four uninvolved CoinJoin participants' addresses (premix inputs and mixed outputs).
    pub coinjoin_participants: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub name: String,
    /// Hot wallet addresses (only Bitvault has one in the story).
    pub hot_wallet: Vec<String>,
    pub deposit_addresses: Vec<DepositAddress>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositAddress {
    pub address: String,
    /// `"thief"` for the thief's accounts, `"customer"` for everyone else's.
    pub owner: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thief {
    /// Addresses that received the theft outputs.
    pub theft_addresses: Vec<String>,
    /// Address of the clean funding.
    pub clean_address: String,
    pub peel_change_addresses: Vec<String>,
    /// Fresh addresses that received peels and never spent them.
    pub mule_addresses: Vec<String>,
    pub split_addresses: Vec<String>,
    pub consolidation_address: String,
    pub coinjoin_premix_address: String,
    pub coinjoin_output_address: String,
}

/// One output, spent or created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRef {
    pub txid: String,
    pub vout: u32,
    pub address: String,
    pub value_sats: u64,
}

/// A payment into or out of an entity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub height: u32,
    pub output: OutputRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theft {
    pub txid: String,
    pub height: u32,
    /// Hot wallet coins spent by the theft.
    pub inputs: Vec<OutputRef>,
    pub stolen_outputs: Vec<OutputRef>,
    pub stolen_total_sats: u64,
    /// What the compromised withdrawal system returned to the hot wallet.
    pub change: OutputRef,
    /// Paid by the exchange, not part of the stolen total.
    pub fee_sats: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeelHop {
    /// 1-based hop number.
    pub hop: u32,
    pub txid: String,
    pub height: u32,
    pub input: OutputRef,
    pub peel: OutputRef,
    /// `"mule"`, `"coinjoin_premix"`, or `"exchange:<name>"`.
    pub peel_destination: String,
    pub change: OutputRef,
    pub fee_sats: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub txid: String,
    pub height: u32,
    pub input: OutputRef,
    pub outputs: Vec<OutputRef>,
    pub fee_sats: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consolidation {
    pub txid: String,
    pub height: u32,
    pub tainted_inputs: Vec<OutputRef>,
    pub clean_inputs: Vec<OutputRef>,
    pub output: OutputRef,
    pub fee_sats: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoinJoin {
    pub txid: String,
    pub height: u32,
    pub denomination_sats: u64,
    pub fee_sats: u64,
    /// In transaction input order.
    pub inputs: Vec<CoinJoinInput>,
    /// Index into `inputs` of the thief's (stolen) input.
    pub tainted_input_index: u32,
    /// In transaction output order; every output is worth `denomination_sats`.
    pub outputs: Vec<CoinJoinOutput>,
    /// vout of the thief's mixed output (ground truth, not visible on chain).
    pub thief_output_vout: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoinJoinInput {
    pub input: OutputRef,
    /// `"thief"` or `"participant <n>"`.
    pub owner: String,
    pub tainted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoinJoinOutput {
    pub output: OutputRef,
    pub owner: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    pub exchange: String,
    pub txid: String,
    pub vout: u32,
    pub height: u32,
    pub address: String,
    pub amount_sats: u64,
    /// Where the coins came from, e.g. `"peel_chain hop 3"`, `"consolidation"`, `"coinjoin"`.
    pub source: String,
    /// Whether the thief made the deposit (ground truth).
    pub thief_owned: bool,
    /// Stolen amount where every path back to the theft is fully tainted (peel chain) or
    /// entirely clean; `None` where clean and stolen coins were merged.
    pub stolen_sats: Option<u64>,
    /// Stolen amount under the haircut policy (see `taint_conventions`).
    pub haircut_stolen_sats: u64,
}
