//! The Ethereum scenario's ground truth, serialized as `eth_scenario.json`.
//!
//! Conventions: addresses are lowercase `0x` hex; transaction and block hashes are `0x` hex as
//! the node returns them; every amount is an integer in base units (wei for ETH, 10^-6 for
//! the 6-decimal token) written as a **decimal string** (`*_wei`, `*_units`), because wei
//! amounts overflow JSON doubles. In Rust they are `u128`.

use serde::{Deserialize, Serialize};

use crate::anvil::Address;

/// Serde for `u128` amounts as decimal strings.
pub mod dec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for optional `u128` amounts as decimal strings.
pub mod opt_dec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u128>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u128>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Everything a tracing engine should find on the scenario chain, and the numbers it should
/// find.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EthManifest {
    /// Version of this layout.
    pub format: u32,
    pub chain_id: u64,
    /// The story in prose.
    pub story: String,
    /// How the amounts, the gas fields and `funds` are to be read.
    pub conventions: String,
    pub chain: EthChainFacts,
    pub contracts: Contracts,
    /// Every actor with a role; contracts included.
    pub addresses: Vec<NamedAddress>,
    /// Every mined block after genesis, lowest first.
    pub blocks: Vec<BlockRecord>,
    /// Every scenario transaction, in chain order.
    pub txs: Vec<TxRecord>,
    pub truth: GroundTruth,
    /// Every Tornado-style pool event and the deposit↔withdrawal links each heuristic of
    /// tracing spec §5.2 must find.
    pub tornado: TornadoTruth,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EthChainFacts {
    pub tip_number: u64,
    pub tip_hash: String,
    pub genesis_hash: String,
    pub genesis_timestamp: u64,
    /// Seconds between blocks.
    pub block_time: u64,
    /// `block.miner` of every block: receives every priority fee.
    pub coinbase: Address,
    pub anvil_version: String,
    pub hardfork: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contracts {
    pub deployer: Address,
    pub token: TokenInfo,
    pub splitter: Address,
    pub mixer_pool: PoolInfo,
    pub reverter: Address,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub address: Address,
    pub name: String,
    pub symbol: String,
    pub decimals: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolInfo {
    pub address: Address,
    #[serde(with = "dec")]
    pub denomination_wei: u128,
    /// topic0 of `Deposit(bytes32,uint32,uint256)`, as in tracing spec §5.1.
    pub deposit_topic0: String,
    /// topic0 of `Withdrawal(address,bytes32,address,uint256)`, as in tracing spec §5.1.
    pub withdrawal_topic0: String,
}

/// An actor of the story.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedAddress {
    pub address: Address,
    /// Short unique name used in descriptions, e.g. `"thief.hop1"`.
    pub name: String,
    /// What it does in the story, e.g. `"split output"`.
    pub role: String,
    /// Who controls it: `"thief"`, `"Bitvault Exchange"`, `"background"`, …
    pub owner: String,
    /// The label a label file gives it, if any.
    pub label: Option<String>,
    /// `exchange`, `mixer`, `theft`, … for labelled addresses.
    pub category: Option<String>,
    /// Balance created with `anvil_setBalance` before block 1 (no transaction records it).
    #[serde(with = "dec")]
    pub prefunded_wei: u128,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRecord {
    pub number: u64,
    pub hash: String,
    pub timestamp: u64,
    #[serde(with = "dec")]
    pub base_fee_per_gas_wei: u128,
    pub tx_count: u32,
}

/// One transaction with its receipt facts and gas split (spec §2.1: `fee = gas_used ×
/// effective_gas_price`, `burnt = gas_used × base_fee`, `tip = fee − burnt` to the coinbase).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    pub hash: String,
    pub block_number: u64,
    pub tx_index: u64,
    /// Scenario step, e.g. `"theft"`, `"split"`, `"mixer-deposit"`.
    pub step: String,
    pub description: String,
    pub from: Address,
    /// `None` for a contract creation.
    pub to: Option<Address>,
    #[serde(with = "dec")]
    pub value_wei: u128,
    /// Receipt status: 1 success, 0 failed (pays gas, moves no value).
    pub status: u8,
    pub gas_limit: u64,
    pub gas_used: u64,
    #[serde(with = "dec")]
    pub max_fee_per_gas_wei: u128,
    #[serde(with = "dec")]
    pub max_priority_fee_per_gas_wei: u128,
    /// Legacy transactions only: the `gasPrice` (then also the fee cap and priority fee above).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_dec")]
    pub gas_price_wei: Option<u128>,
    #[serde(with = "dec")]
    pub effective_gas_price_wei: u128,
    #[serde(with = "dec")]
    pub base_fee_per_gas_wei: u128,
    #[serde(with = "dec")]
    pub fee_wei: u128,
    #[serde(with = "dec")]
    pub burnt_wei: u128,
    #[serde(with = "dec")]
    pub tip_wei: u128,
    pub contract_address: Option<Address>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub theft: Theft,
    /// Every value movement the story makes or attempts, in chain order (gas excluded; see
    /// `txs`). `moved == false` marks the failed transaction and the reverted internal call.
    pub transfers: Vec<ValueTransfer>,
    pub mixer: MixerTruth,
    /// Payments into exchange deposit addresses.
    pub exchange_deposits: Vec<ExchangeDeposit>,
    pub commingling: Commingling,
    /// Balances at the tip of every named address, in `addresses` order: where the funds
    /// ended.
    pub final_balances: Vec<Holding>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theft {
    pub victim: Address,
    pub thief: Address,
    pub eth_tx: String,
    pub token_tx: String,
    pub block_number: u64,
    #[serde(with = "dec")]
    pub eth_wei: u128,
    #[serde(with = "dec")]
    pub token_units: u128,
}

/// One intended value movement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueTransfer {
    pub tx: String,
    pub step: String,
    /// `"ETH"` or the token symbol.
    pub asset: String,
    /// `"tx"` (top-level value), `"internal"` (a CALL with value inside the tx) or `"token"`
    /// (an ERC-20 `Transfer` log).
    pub kind: String,
    pub from: Address,
    pub to: Address,
    #[serde(with = "dec")]
    pub amount: u128,
    /// `false` if the transfer was attempted but undone (failed tx, reverted subtree).
    pub moved: bool,
    /// `"stolen"`, `"clean"`, `"commingled"` (the OTC desk's mixed balance) or `"mixer"`
    /// (paid out by the pool).
    pub funds: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixerTruth {
    pub pool: Address,
    #[serde(with = "dec")]
    pub denomination_wei: u128,
    pub deposits: Vec<MixerDeposit>,
    pub withdrawals: Vec<MixerWithdrawal>,
    /// Deposits never withdrawn; the pool's balance at the tip is their sum.
    pub unspent_commitments: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixerDeposit {
    pub tx: String,
    pub block_number: u64,
    pub depositor: Address,
    pub commitment: String,
    pub leaf_index: u32,
    /// `"thief"` or `"background"`.
    pub owner: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixerWithdrawal {
    pub tx: String,
    pub block_number: u64,
    /// `tx.from`: the relayer, or the recipient when self-relayed.
    pub sender: Address,
    pub recipient: Address,
    /// The zero address when self-relayed.
    pub relayer: Address,
    #[serde(with = "dec")]
    pub fee_wei: u128,
    pub nullifier_hash: String,
    /// The deposit this note came from (ground truth no heuristic is given).
    pub deposit_commitment: String,
    pub owner: String,
    pub self_relayed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeDeposit {
    pub exchange: String,
    pub deposit_address: Address,
    /// Whose account the deposit address belongs to.
    pub account_owner: String,
    pub tx: String,
    pub block_number: u64,
    pub from: Address,
    pub asset: String,
    #[serde(with = "dec")]
    pub amount: u128,
    pub funds: String,
}

/// The OTC desk: clean balance first, then stolen inflow, then outflows, so haircut, FIFO and
/// LIFO disagree about what each outflow carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commingling {
    pub account: Address,
    /// The desk's transactions in and out, in chain order.
    pub events: Vec<CommingleEvent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommingleEvent {
    pub tx: String,
    pub block_number: u64,
    /// `"in"` or `"out"`.
    pub direction: String,
    pub counterparty: Address,
    #[serde(with = "dec")]
    pub amount_wei: u128,
    /// Gas the desk paid for this event (0 for inflows).
    #[serde(with = "dec")]
    pub gas_fee_wei: u128,
    /// For inflows: `"clean"` or `"stolen"`; outflows are `"commingled"`.
    pub funds: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub address: Address,
    pub name: String,
    #[serde(with = "dec")]
    pub eth_wei: u128,
    #[serde(with = "dec")]
    pub token_units: u128,
}

/// The Tornado-style pools of the scenario, every deposit and withdrawal in them (the story's
/// and the appended heuristic cases), the anonymity-point claims, and what tracing spec §5.2
/// H1–H5 must link. Links are ground truth by construction: each case was played so that
/// exactly its heuristic applies, and the decoys so that none does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TornadoTruth {
    pub pools: Vec<TornadoPool>,
    /// In chain order.
    pub deposits: Vec<TornadoDeposit>,
    /// In chain order.
    pub withdrawals: Vec<TornadoWithdrawal>,
    /// What `ap_claims.csv` holds.
    pub ap_claims: Vec<ApClaim>,
    /// H3: direct (non-pool) transactions needed between a depositor and a withdrawal address.
    pub min_interactions: u32,
    /// H4: width of the portfolio window, in seconds of block time.
    pub portfolio_window_secs: u64,
    /// Heuristic id (`"H1"` … `"H5"`) → the links it must find, every id present.
    pub links: std::collections::BTreeMap<String, Vec<ExpectedLink>>,
    /// Withdrawals no heuristic may link (tx hashes, chain order).
    pub unlinked: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TornadoPool {
    pub address: Address,
    /// As in `tornado_pools.json`, e.g. `"1 ETH"`.
    pub name: String,
    #[serde(with = "dec")]
    pub denomination_wei: u128,
    /// Anonymity points per block of a note in this pool (spec §5.2, H5).
    pub ap_rate: u64,
}

/// The fee terms a transaction was sent with (the H2 fingerprint) and what it paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasTerms {
    /// `"legacy"` or `"eip1559"`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_dec")]
    pub gas_price_wei: Option<u128>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_dec")]
    pub max_fee_per_gas_wei: Option<u128>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_dec")]
    pub max_priority_fee_per_gas_wei: Option<u128>,
    #[serde(with = "dec")]
    pub effective_gas_price_wei: u128,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TornadoDeposit {
    pub pool: Address,
    pub tx: String,
    pub block_number: u64,
    /// Block timestamp (also what the pool logs).
    pub timestamp: u64,
    /// `tx.from`.
    pub depositor: Address,
    pub commitment: String,
    pub leaf_index: u32,
    pub gas: GasTerms,
    /// `"thief"`, `"background"` or `"tornado user"`.
    pub owner: String,
    /// Why the story makes it, e.g. `"H2: unique legacy gas price"`.
    pub purpose: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TornadoWithdrawal {
    pub pool: Address,
    pub tx: String,
    pub block_number: u64,
    pub timestamp: u64,
    /// `tx.from`: the relayer, or the recipient when self-relayed.
    pub sender: Address,
    pub recipient: Address,
    /// The zero address when self-relayed.
    pub relayer: Address,
    #[serde(with = "dec")]
    pub fee_wei: u128,
    pub nullifier_hash: String,
    pub self_relayed: bool,
    pub gas: GasTerms,
    /// The deposit whose note this is (ground truth no heuristic is given).
    pub deposit_tx: String,
    pub owner: String,
    pub purpose: String,
}

/// One line of `ap_claims.csv`: `address` claimed `ap` anonymity points at block `block`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApClaim {
    pub address: Address,
    pub block: u64,
    pub ap: u64,
}

/// A deposit↔withdrawal link a heuristic must find.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExpectedLink {
    pub deposit_tx: String,
    pub withdrawal_tx: String,
}
