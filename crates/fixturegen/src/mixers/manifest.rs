//! The mixers scenario's ground truth, serialized as `mixers.json`.
//!
//! Amounts are satoshis (`*_sats`), txids are in the usual display (reversed) hex, addresses
//! are regtest strings. Output references and deposits share the heist manifest's types.

use serde::{Deserialize, Serialize};

use crate::heist::{ChainFacts, Deposit, DepositAddress, OutputRef, PeelHop};

/// Everything a tracing engine should find in the mixers chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixersManifest {
    /// Version of this manifest layout.
    pub format: u32,
    /// Always `"regtest"`.
    pub network: String,
    /// The story in prose.
    pub story: String,
    /// How `stolen_sats` and `haircut_stolen_sats` of the deposits are defined.
    pub taint_conventions: String,
    pub chain: ChainFacts,
    pub exchanges: Vec<MixersExchange>,
    /// Fee addresses of the CoinJoin coordinators.
    pub coordinators: Vec<Coordinator>,
    pub theft: MixersTheft,
    /// The thief's own transactions that fan the stolen output out, in chain order.
    pub distributions: Vec<Distribution>,
    /// Every mixing (and mixing-shaped) transaction, in chain order.
    pub mixes: Vec<MixingTx>,
    pub peel_chain: PeelChain,
    pub clusters: ClusterExpectations,
    /// Deposits by the thief at exchanges.
    pub deposits: Vec<Deposit>,
    /// Deposits by uninvolved users; only the Whirlpool co-mixer's is tainted under haircut.
    pub innocent_deposits: Vec<Deposit>,
    /// Outputs the thief controls that are still unspent at the tip (peel payees excluded:
    /// they are the thief's payments to others).
    pub thief_unspent: Vec<OutputRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixersExchange {
    pub name: String,
    /// Hot wallet addresses (only Meridian, the victim, has one in the story).
    pub hot_wallet: Vec<String>,
    /// Deposit addresses, `owner` `"thief"` or `"customer"`.
    pub deposit_addresses: Vec<DepositAddress>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coordinator {
    /// E.g. `"Whirlpool coordinator"`.
    pub name: String,
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixersTheft {
    pub txid: String,
    pub height: u32,
    /// Hot wallet coins the theft spends.
    pub inputs: Vec<OutputRef>,
    /// The one output holding all stolen coins: the source of every forward trace.
    pub stolen_output: OutputRef,
    pub stolen_sats: u64,
    /// What the compromised signer returned to the hot wallet.
    pub change: OutputRef,
    /// Paid by the exchange, not part of the stolen amount.
    pub fee_sats: u64,
}

/// A one-input fan-out of stolen coins to the thief's own addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distribution {
    pub txid: String,
    pub height: u32,
    pub input: OutputRef,
    /// In output order, each with what it is for: `"peel_chain"`, `"tx0"`, `"wallet"`,
    /// `"wasabi1"`, `"wasabi2"`, `"stonewall"`, `"rest"` or `"reserve"`.
    pub outputs: Vec<Purposed>,
    pub fee_sats: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purposed {
    pub output: OutputRef,
    pub purpose: String,
}

/// One mixing transaction, with who is behind every input and output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixingTx {
    pub txid: String,
    pub height: u32,
    /// `"whirlpool-tx0"`, `"whirlpool-mix"`, `"wasabi1"`, `"wasabi2"`, `"joinmarket"`, or
    /// `"stonewall"` (a collaborative spend shaped like a small CoinJoin: a clustering trap,
    /// not a mixer).
    pub protocol: String,
    /// The pool size (Whirlpool, Tx0 included), the equal-output value (Wasabi 1,
    /// JoinMarket, Stonewall), or the largest denomination (Wasabi 2).
    pub denomination_sats: u64,
    /// Output values that occur at least twice, descending (for Wasabi 2 the set `D`).
    pub equal_output_values_sats: Vec<u64>,
    /// Distinct owners behind the inputs.
    pub participants: u32,
    pub fee_sats: u64,
    /// What the coordinator took, where there is one.
    pub coordinator_fee_sats: Option<u64>,
    /// In transaction input order.
    pub inputs: Vec<MixInput>,
    /// In transaction output order.
    pub outputs: Vec<MixOutput>,
    /// Indexes into `inputs` of the thief's inputs.
    pub thief_inputs: Vec<u32>,
    /// vouts of the thief's outputs (ground truth, not visible on chain).
    pub thief_outputs: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixInput {
    pub input: OutputRef,
    /// `"thief"` or a stranger such as `"remixer 2"`, `"participant 4"`, `"maker 1"`.
    pub owner: String,
    /// Stolen coins (every thief input here is wholly stolen; strangers' are clean).
    pub tainted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixOutput {
    pub output: OutputRef,
    /// An owner as for inputs, `"coordinator"`, or `"nobody"` for the Tx0's OP_RETURN (its
    /// address is empty).
    pub owner: String,
    /// `"mixed"`, `"change"`, `"premix"`, `"coordinator_fee"`, `"op_return"`, `"payment"`
    /// or `"decoy"`.
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeelChain {
    /// The stolen coin the first hop spends.
    pub start: OutputRef,
    /// Number of hops.
    pub length: u32,
    /// Hops in chain order: 1 input, the peel at output 0 (`peel_destination` `"payment"` or
    /// `"exchange:<name>"`), the change at output 1.
    pub hops: Vec<PeelHop>,
    /// The last change, still unspent at the tip.
    pub final_change: OutputRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterExpectations {
    /// Address sets a correct clusterer puts in one cluster each.
    pub together: Vec<ExpectedCluster>,
    /// Address pairs that belong to different people and must never share a cluster.
    pub apart: Vec<SeparatePair>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedCluster {
    /// `"multi_input"` (common-input ownership, spec §6.1) or `"peel_chain"` (every change
    /// address of a peel chain, §6.3 rule 4).
    pub heuristic: String,
    /// Sorted.
    pub addresses: Vec<String>,
    /// The transactions that merge them, in chain order.
    pub merges: Vec<Merge>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merge {
    pub txid: String,
    pub height: u32,
    /// The addresses this transaction links (its input addresses, or for a peel hop the
    /// address it spends and its change address), in input order.
    pub addresses: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeparatePair {
    pub a: String,
    pub b: String,
    /// The transaction that co-spends them and would wrongly merge them.
    pub txid: String,
    /// Why merging would be wrong, e.g. `"wasabi1 co-participants"`.
    pub reason: String,
}
