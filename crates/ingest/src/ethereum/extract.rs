//! One Ethereum block's JSON-RPC data turned into value transfers in canonical order (tracing
//! spec §2.1). Everything here is a pure function of its inputs: no I/O, no clock, no node.
//!
//! Canonical order, per transaction in block order:
//! 1. **Gas**, first, because the fee is reserved before execution. After London the fee
//!    `gasUsed × effectiveGasPrice` is split into [`TransferKind::GasBurn`] (`gasUsed × baseFee`,
//!    plus `blobGasUsed × blobGasPrice` for blob transactions) to the zero address, then
//!    [`TransferKind::GasTip`] (the rest) to the block's fee recipient. Before London the whole
//!    fee is a tip. Zero amounts are left out.
//! 2. Nothing else for a **failed** transaction: its value and everything inside it reverted.
//! 3. The top-level [`TransferKind::TxValue`] (to `tx.to`, or to the contract it creates).
//! 4. **Internal transfers** from the traces, in depth-first pre-order of the call tree; the top
//!    frame is the transaction itself (step 3), a frame with an error is skipped with its whole
//!    subtree, and zero values are left out.
//! 5. **ERC-20 `Transfer` logs**, in `logIndex` order.
//!
//! Beside the transfers, each successful transaction yields its Tornado-shaped pool events
//! ([`mixer_event`]: `Deposit`/`Withdrawal` logs of any contract, exact layout only, malformed
//! ones counted and skipped) and its fee terms ([`gas_pricing`]), which deposit↔withdrawal
//! linking reads (tracing spec §5).
//!
//! Then the block's own credits: block and uncle rewards (from parity traces), then beacon
//! withdrawals.
//!
//! Token logs come after all of a transaction's internal transfers rather than interleaved at
//! their position in the call tree (which geth's `withLog` callTracer output would allow). The
//! reason is that the index numbers transfers densely in this order: the numbering must not
//! depend on which trace API the node happened to offer, and parity traces carry no logs. ETH and
//! each token are separate assets with separate per-address state, so the relative order of an
//! ETH movement and a token movement inside one transaction only matters for conversions
//! (wrapping, swaps), which the tracer handles per transaction anyway (spec §2.3).
//!
//! Block rewards before the Merge exist only in parity traces (`trace_block`,
//! `trace_filter`); geth's callTracer reports no rewards, so a pre-Merge block extracted from
//! callTracer output has no [`TransferKind::Reward`] credits. Apart from rewards, callTracer
//! and parity traces of the same block yield identical transfers.
//!
//! Judgement calls (each explained where it is made):
//! * a `CALLCODE` with value sends it from the caller to itself: the callee's code runs in the
//!   caller's account (geth names the code address as `to`, parity the caller);
//! * a `SELFDESTRUCT` naming its own contract as beneficiary burns the balance before Cancun,
//!   and after Cancun only for a contract created in the same transaction (EIP-6780);
//! * only logs of the exact ERC-20 shape are token transfers ([`erc20_transfer`]); anything
//!   else carrying the `Transfer` topic is ignored, never an error;
//! * before Byzantium a receipt has no status; the trace's top-level error decides, or without
//!   traces "used less gas than its limit, or logged something" proves success (every failure
//!   then burnt all its gas and dropped its logs); anything else is
//!   [`ExtractError::UnknownOutcome`];
//! * the effective gas price is computed from the transaction and the base fee, and a price the
//!   receipt reports must agree.
//!
//! Input quirks handled here (old recorded responses that alloy's types do not accept):
//! * receipts from old Parity/OpenEthereum nodes lack `from`/`to`, and pre-Byzantium receipts
//!   carry a state `root` instead of `status` (sometimes with `"status": null`); hence the
//!   lenient [`Receipt`] type, convertible from alloy's [`TransactionReceipt`];
//! * old geth callTracer output has no `txHash` per entry (matched by position instead), a
//!   `time` field per frame, and `SELFDESTRUCT` frames with nothing but their type; see
//!   [`call_traces_from_json`].

use std::collections::{HashMap, HashSet};

use alloy::consensus::{Transaction as _, TxReceipt as _, Typed2718 as _};
use alloy::network::TransactionResponse as _;
use alloy::primitives::{b256, Address, Log as LogEntry, B256, U128, U256, U64};
use alloy::rpc::types::trace::geth::{CallFrame, GethTrace, TraceResult};
use alloy::rpc::types::trace::parity::{Action, CallType, LocalizedTransactionTrace, TraceOutput};
use alloy::rpc::types::{Block, Log, Transaction, TransactionReceipt};
use chaintrace_model::eth::TransferKind;
use serde::Deserialize;
use serde_json::Value;

/// topic0 of `Transfer(address,address,uint256)`, shared by ERC-20 and ERC-721.
pub const TRANSFER_TOPIC: B256 =
    b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// Timestamp of the Cancun upgrade on mainnet (block 19,426,587). From then on EIP-6780 makes
/// `SELFDESTRUCT` of an older contract a plain balance transfer, so a contract naming itself as
/// beneficiary keeps its balance instead of burning it.
pub const CANCUN_TIMESTAMP: u64 = 1_710_338_135;

pub use chaintrace_model::eth::{
    ExtractedBlock, ExtractedTx, GasPricing, MixerEvent, MixerLogs, RawTransfer,
    TORNADO_DEPOSIT_TOPIC, TORNADO_WITHDRAWAL_TOPIC,
};

fn eth_transfer(kind: TransferKind, from: Address, to: Address, amount: U256) -> RawTransfer {
    RawTransfer {
        kind,
        asset: None,
        from,
        to,
        amount,
    }
}

/// The internal-call traces of a block, in whichever shape the node offers.
#[derive(Clone, Debug)]
pub enum InternalTraces {
    /// geth-style `debug_traceBlockByNumber` with `callTracer`: one call tree per transaction.
    CallTracer(Vec<(B256, CallFrame)>),
    /// parity-style flat traces (`trace_block`, or `trace_filter` over the block).
    Parity(Vec<LocalizedTransactionTrace>),
    /// No traces: internal transfers and pre-Merge rewards are then unknown.
    None,
}

/// Why a block could not be extracted. Every variant names the block, and the transaction
/// where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(
        "block {block}: the block holds transaction hashes only; fetch it with full transactions"
    )]
    HashesOnly { block: u64 },
    #[error("block {block}: {receipts} receipts for {txs} transactions")]
    ReceiptCount {
        block: u64,
        txs: usize,
        receipts: usize,
    },
    #[error(
        "block {block}: receipt {index} is for tx {receipt}, but the block's tx {index} is {tx}"
    )]
    ReceiptMismatch {
        block: u64,
        index: usize,
        tx: B256,
        receipt: B256,
    },
    #[error("block {block}: traces given for tx {tx}, which is not in the block")]
    UnknownTraceTx { block: u64, tx: B256 },
    #[error("block {block}: tx {tx} is traced twice")]
    DuplicateTrace { block: u64, tx: B256 },
    #[error("block {block}: tx {tx} has no trace, though the block's traces were given")]
    MissingTrace { block: u64, tx: B256 },
    #[error("block {block}: the node could not trace tx {tx}: {error}")]
    TraceFailed { block: u64, tx: B256, error: String },
    #[error("block {block}: trace of tx {tx}: {reason}")]
    BadTrace {
        block: u64,
        tx: B256,
        reason: String,
    },
    #[error("block {block}: tx {tx}: {reason}")]
    Inconsistent {
        block: u64,
        tx: B256,
        reason: String,
    },
    #[error(
        "block {block}: tx {tx}: the pre-Byzantium receipt has no status, the tx used all its gas \
         and logged nothing, so whether it failed cannot be told without traces"
    )]
    UnknownOutcome { block: u64, tx: B256 },
    #[error("block {block}: malformed {what}: {reason}")]
    Malformed {
        block: u64,
        what: &'static str,
        reason: String,
    },
    #[error("block {block}: could not parse {what}: {source}")]
    Parse {
        block: u64,
        what: &'static str,
        source: serde_json::Error,
    },
}

// ---------------------------------------------------------------------------------------------
// Receipts
// ---------------------------------------------------------------------------------------------

/// The parts of a transaction receipt extraction needs, read leniently.
///
/// alloy's [`TransactionReceipt`] requires `from` and `to`, which receipts recorded from old
/// Parity nodes lack, and folds a missing `effectiveGasPrice` into 0, which would hide a fee.
/// This type accepts every vintage (`status` or pre-Byzantium `root`, with or without
/// `effectiveGasPrice`) and converts from alloy's type for receipts fetched with a provider.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "ReceiptJson")]
pub struct Receipt {
    pub tx_hash: B256,
    pub tx_index: Option<u64>,
    pub gas_used: u64,
    /// As reported; `None` when absent. Checked against the price computed from the tx.
    pub effective_gas_price: Option<u128>,
    /// `None` before Byzantium (EIP-658), when receipts carried a state root instead.
    pub status: Option<bool>,
    pub contract_address: Option<Address>,
    pub blob_gas_used: Option<u64>,
    pub blob_gas_price: Option<u128>,
    pub logs: Vec<Log>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptJson {
    transaction_hash: B256,
    #[serde(default)]
    transaction_index: Option<U64>,
    gas_used: U64,
    #[serde(default)]
    effective_gas_price: Option<U128>,
    #[serde(default)]
    status: Option<U64>,
    #[serde(default)]
    contract_address: Option<Address>,
    #[serde(default)]
    blob_gas_used: Option<U64>,
    #[serde(default)]
    blob_gas_price: Option<U128>,
    #[serde(default)]
    logs: Vec<Log>,
}

impl TryFrom<ReceiptJson> for Receipt {
    type Error = String;

    fn try_from(json: ReceiptJson) -> Result<Self, Self::Error> {
        let status = match json.status.map(|s| s.to::<u64>()) {
            None => None,
            Some(0) => Some(false),
            Some(1) => Some(true),
            Some(other) => return Err(format!("receipt status {other} is neither 0 nor 1")),
        };
        Ok(Receipt {
            tx_hash: json.transaction_hash,
            tx_index: json.transaction_index.map(|i| i.to()),
            gas_used: json.gas_used.to(),
            effective_gas_price: json.effective_gas_price.map(|p| p.to()),
            status,
            contract_address: json.contract_address,
            blob_gas_used: json.blob_gas_used.map(|g| g.to()),
            blob_gas_price: json.blob_gas_price.map(|p| p.to()),
            logs: json.logs,
        })
    }
}

impl From<&TransactionReceipt> for Receipt {
    fn from(r: &TransactionReceipt) -> Self {
        let status = match r.inner.status_or_post_state() {
            alloy::consensus::Eip658Value::Eip658(ok) => Some(ok),
            alloy::consensus::Eip658Value::PostState(_) => None,
        };
        Receipt {
            tx_hash: r.transaction_hash,
            tx_index: r.transaction_index,
            gas_used: r.gas_used,
            // alloy turns an absent field into 0; treat 0 as "not reported".
            effective_gas_price: (r.effective_gas_price != 0).then_some(r.effective_gas_price),
            status,
            contract_address: r.contract_address,
            blob_gas_used: r.blob_gas_used,
            blob_gas_price: r.blob_gas_price,
            logs: r.inner.logs().to_vec(),
        }
    }
}

impl Receipt {
    /// Parses an `eth_getBlockReceipts` result (or any list of receipts) of `block`.
    pub fn list_from_json(result: &Value, block: u64) -> Result<Vec<Receipt>, ExtractError> {
        Vec::<Receipt>::deserialize(result).map_err(|source| ExtractError::Parse {
            block,
            what: "receipts",
            source,
        })
    }
}

/// Parses an `eth_getBlockByNumber`/`eth_getBlockByHash` result. A `null` result (unknown
/// block) is reported as malformed rather than as a parse error, to say what happened.
pub fn block_from_json(result: &Value, block: u64) -> Result<Block, ExtractError> {
    if result.is_null() {
        return Err(ExtractError::Malformed {
            block,
            what: "block",
            reason: "the node returned null (block unknown)".into(),
        });
    }
    Block::deserialize(result).map_err(|source| ExtractError::Parse {
        block,
        what: "block",
        source,
    })
}

// ---------------------------------------------------------------------------------------------
// Token logs
// ---------------------------------------------------------------------------------------------

/// The ERC-20 transfer a log records, if it is one.
///
/// Only the standard shape counts: topic0 [`TRANSFER_TOPIC`], exactly 3 topics (the two
/// addresses indexed) and 32 bytes of data (the amount). The same topic0 with 4 topics is an
/// ERC-721 transfer (token id indexed), and with 1 topic and 96 bytes of data it is, on
/// mainnet, CryptoKitties' non-indexed NFT event; neither moves a fungible amount. Any contract
/// can emit any log, so a log that does not fit is ignored, never an error: a hostile contract
/// must not be able to stop ingestion.
pub fn erc20_transfer(log: &LogEntry) -> Option<RawTransfer> {
    let topics = log.topics();
    if topics.len() != 3 || topics[0] != TRANSFER_TOPIC || log.data.data.len() != 32 {
        return None;
    }
    Some(RawTransfer {
        kind: TransferKind::Token,
        asset: Some(log.address),
        from: address_word(topics[1])?,
        to: address_word(topics[2])?,
        amount: U256::from_be_slice(&log.data.data),
    })
}

/// An ABI-encoded address: 12 zero bytes, then the 20 address bytes.
fn address_word(word: B256) -> Option<Address> {
    word[..12]
        .iter()
        .all(|b| *b == 0)
        .then(|| Address::from_word(word))
}

/// A receipt's token transfers in `logIndex` order, removed logs skipped.
fn token_transfers(at: &TxAt, receipt: &Receipt) -> Result<Vec<RawTransfer>, ExtractError> {
    let mut logs: Vec<&Log> = receipt.logs.iter().filter(|l| !l.removed).collect();
    if let Some(log) = logs
        .iter()
        .find(|l| l.transaction_hash.is_some_and(|h| h != at.tx))
    {
        return Err(at.inconsistent(format!(
            "the receipt holds a log of tx {}",
            log.transaction_hash.unwrap_or_default()
        )));
    }
    logs.sort_by_key(|l| l.log_index);
    Ok(logs
        .iter()
        .filter_map(|l| erc20_transfer(&l.inner))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Tornado-shaped mixer logs
// ---------------------------------------------------------------------------------------------

/// Whether a log carries one of the Tornado pool topics (well-formed or not).
pub fn is_mixer_log(log: &LogEntry) -> bool {
    log.topics()
        .first()
        .is_some_and(|t| *t == TORNADO_DEPOSIT_TOPIC || *t == TORNADO_WITHDRAWAL_TOPIC)
}

/// The Tornado pool event a log records, or `None` if it is not one or does not have the
/// exact layout (tracing spec §5.1):
/// * `Deposit`: 2 topics (topic0, commitment), data = leafIndex ‖ timestamp (64 bytes);
/// * `Withdrawal`: 2 topics (topic0, relayer), data = to ‖ nullifierHash ‖ fee (96 bytes).
///
/// Words must be canonical ABI encodings (addresses with 12 zero bytes, a `uint32` that fits),
/// and the timestamp must fit 64 bits: anything else is not what a Tornado pool emits.
pub fn mixer_event(log: &LogEntry) -> Option<MixerEvent> {
    let topics = log.topics();
    let data = &log.data.data[..];
    match topics.first()? {
        t if *t == TORNADO_DEPOSIT_TOPIC && topics.len() == 2 && data.len() == 64 => {
            Some(MixerEvent::Deposit {
                contract: log.address,
                commitment: topics[1],
                leaf_index: uint_word(&data[..32], 4)?.try_into().ok()?,
                timestamp: uint_word(&data[32..], 8)?,
            })
        }
        t if *t == TORNADO_WITHDRAWAL_TOPIC && topics.len() == 2 && data.len() == 96 => {
            Some(MixerEvent::Withdrawal {
                contract: log.address,
                to: address_word(B256::from_slice(&data[..32]))?,
                nullifier_hash: B256::from_slice(&data[32..64]),
                relayer: address_word(topics[1])?,
                fee: U256::from_be_slice(&data[64..]),
            })
        }
        _ => None,
    }
}

/// A 32-byte ABI word holding an unsigned integer of at most `bytes` bytes (≤ 8).
fn uint_word(word: &[u8], bytes: usize) -> Option<u64> {
    let (high, low) = word.split_at(32 - bytes);
    high.iter()
        .all(|b| *b == 0)
        .then(|| low.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// A successful receipt's mixer events in `logIndex` order, removed logs skipped, malformed
/// ones counted.
fn mixer_logs(receipt: &Receipt) -> MixerLogs {
    let mut logs: Vec<&Log> = receipt.logs.iter().filter(|l| !l.removed).collect();
    logs.sort_by_key(|l| l.log_index);
    let mut out = MixerLogs::default();
    for log in logs.into_iter().filter(|l| is_mixer_log(&l.inner)) {
        match mixer_event(&log.inner) {
            Some(event) => out.events.push(event),
            None => out.malformed = out.malformed.saturating_add(1),
        }
    }
    out
}

/// The fee terms of a transaction: EIP-1559 caps when it has them, else its `gasPrice`.
pub fn gas_pricing(tx: &Transaction) -> GasPricing {
    // The signed fields, not the response's view of them (which reports a price paid).
    use alloy::consensus::Transaction as Signed;
    match Signed::max_priority_fee_per_gas(tx) {
        Some(max_priority_fee_per_gas) => GasPricing::Eip1559 {
            max_fee_per_gas: Signed::max_fee_per_gas(tx),
            max_priority_fee_per_gas,
        },
        None => GasPricing::Legacy {
            gas_price: Signed::gas_price(tx).unwrap_or_else(|| Signed::max_fee_per_gas(tx)),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Traces
// ---------------------------------------------------------------------------------------------

/// What one transaction's trace says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxTrace {
    pub hash: B256,
    /// The top-level call failed: the transaction moved no value.
    pub failed: bool,
    /// Internal transfers (not the top-level value), in call-tree pre-order.
    pub transfers: Vec<RawTransfer>,
    /// Where code ran: callers of internal calls and created contracts. May repeat.
    pub contracts: Vec<Address>,
}

/// What a block's traces say, transaction by transaction in trace order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockTraces {
    pub txs: Vec<TxTrace>,
    /// Block and uncle rewards (parity traces only).
    pub rewards: Vec<RawTransfer>,
}

/// Whether EIP-6780 `SELFDESTRUCT` semantics apply to a mainnet block with this timestamp.
pub fn eip6780_active(timestamp: u64) -> bool {
    timestamp >= CANCUN_TIMESTAMP
}

/// The internal transfers of every traced transaction of `block`.
///
/// `eip6780` ([`eip6780_active`]) decides what a `SELFDESTRUCT` naming the destructed contract
/// itself as beneficiary does: before Cancun it burns the balance (a transfer to the zero
/// address); after, it burns only if the contract was created in the same transaction, and
/// otherwise moves nothing.
pub fn trace_transfers(
    traces: &InternalTraces,
    block: u64,
    eip6780: bool,
) -> Result<BlockTraces, ExtractError> {
    match traces {
        InternalTraces::None => Ok(BlockTraces::default()),
        InternalTraces::CallTracer(frames) => {
            let txs = frames
                .iter()
                .map(|(hash, frame)| call_tree(frame, &TxAt { block, tx: *hash }, eip6780))
                .collect::<Result<_, _>>()?;
            Ok(BlockTraces {
                txs,
                rewards: Vec::new(),
            })
        }
        InternalTraces::Parity(traces) => parity_block(traces, block, eip6780),
    }
}

/// Where an error happened.
#[derive(Clone, Copy)]
struct TxAt {
    block: u64,
    tx: B256,
}

impl TxAt {
    fn bad_trace(&self, reason: impl Into<String>) -> ExtractError {
        ExtractError::BadTrace {
            block: self.block,
            tx: self.tx,
            reason: reason.into(),
        }
    }

    fn inconsistent(&self, reason: impl Into<String>) -> ExtractError {
        ExtractError::Inconsistent {
            block: self.block,
            tx: self.tx,
            reason: reason.into(),
        }
    }
}

/// Collects one transaction's internal transfers, whatever the trace format.
struct TxWalk {
    eip6780: bool,
    /// Contracts created so far in this transaction (for the EIP-6780 rule).
    created: HashSet<Address>,
    out: TxTrace,
}

impl TxWalk {
    fn new(hash: B256, eip6780: bool) -> TxWalk {
        TxWalk {
            eip6780,
            created: HashSet::new(),
            out: TxTrace {
                hash,
                ..TxTrace::default()
            },
        }
    }

    fn push(&mut self, kind: TransferKind, from: Address, to: Address, amount: U256) {
        if !amount.is_zero() {
            self.out
                .transfers
                .push(eth_transfer(kind, from, to, amount));
        }
    }

    fn created(&mut self, contract: Address) {
        self.created.insert(contract);
        self.out.contracts.push(contract);
    }

    /// A contract ran code that made a call.
    fn caller(&mut self, contract: Address) {
        self.out.contracts.push(contract);
    }

    /// `SELFDESTRUCT` of `contract` sending `balance` to `beneficiary`.
    fn self_destruct(&mut self, contract: Address, beneficiary: Address, balance: U256) {
        self.out.contracts.push(contract);
        let to = if beneficiary != contract {
            beneficiary
        } else if !self.eip6780 || self.created.contains(&contract) {
            Address::ZERO // the balance is destroyed with the account
        } else {
            return; // EIP-6780: the account survives and keeps its balance
        };
        self.push(TransferKind::SelfDestruct, contract, to, balance);
    }
}

/// Walks a callTracer tree in pre-order, skipping errored subtrees.
fn call_tree(top: &CallFrame, at: &TxAt, eip6780: bool) -> Result<TxTrace, ExtractError> {
    let mut walk = TxWalk::new(at.tx, eip6780);
    if top.error.is_some() {
        walk.out.failed = true;
        return Ok(walk.out);
    }
    if is_create(&top.typ) {
        if let Some(contract) = top.to {
            walk.created(contract);
        }
    }
    let mut stack: Vec<&CallFrame> = top.calls.iter().rev().collect();
    while let Some(frame) = stack.pop() {
        if frame.error.is_some() {
            continue;
        }
        call_frame(&mut walk, frame, at)?;
        stack.extend(frame.calls.iter().rev());
    }
    Ok(walk.out)
}

fn is_create(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("CREATE") || typ.eq_ignore_ascii_case("CREATE2")
}

/// One inner callTracer frame (not errored).
fn call_frame(walk: &mut TxWalk, frame: &CallFrame, at: &TxAt) -> Result<(), ExtractError> {
    let value = frame.value.unwrap_or_default();
    let typ = frame.typ.to_ascii_uppercase();
    match typ.as_str() {
        "CALL" => {
            walk.caller(frame.from);
            let to = frame
                .to
                .ok_or_else(|| at.bad_trace("CALL frame without `to`"))?;
            walk.push(TransferKind::Internal, frame.from, to, value);
        }
        // The code of `to` runs in the caller's account, so the value stays with the caller
        // (geth reports the code address as `to`; parity reports the caller).
        "CALLCODE" => {
            walk.caller(frame.from);
            walk.push(TransferKind::Internal, frame.from, frame.from, value);
        }
        // DELEGATECALL shows the parent's value for display; neither moves any.
        "DELEGATECALL" | "STATICCALL" => walk.caller(frame.from),
        "CREATE" | "CREATE2" => {
            walk.caller(frame.from);
            match frame.to {
                Some(contract) => {
                    walk.created(contract);
                    walk.push(TransferKind::Create, frame.from, contract, value);
                }
                None if value.is_zero() => {}
                None => return Err(at.bad_trace("value-bearing CREATE frame without `to`")),
            }
        }
        "SELFDESTRUCT" => {
            let (Some(beneficiary), Some(balance)) = (frame.to, frame.value) else {
                return Err(at.bad_trace(
                    "SELFDESTRUCT frame without beneficiary or balance (old geth callTracer \
                     output omits them); use parity traces for this block",
                ));
            };
            walk.self_destruct(frame.from, beneficiary, balance);
        }
        other => return Err(at.bad_trace(format!("unknown call frame type {other:?}"))),
    }
    Ok(())
}

/// Splits parity traces into transactions (in order of appearance) and rewards.
fn parity_block(
    traces: &[LocalizedTransactionTrace],
    block: u64,
    eip6780: bool,
) -> Result<BlockTraces, ExtractError> {
    let mut order: Vec<B256> = Vec::new();
    let mut by_tx: HashMap<B256, Vec<&LocalizedTransactionTrace>> = HashMap::new();
    let mut rewards = Vec::new();
    for trace in traces {
        let at = TxAt {
            block,
            tx: trace.transaction_hash.unwrap_or_default(),
        };
        if trace.block_number.is_some_and(|n| n != block) {
            return Err(at.bad_trace(format!(
                "trace of block {} given for block {block}",
                trace.block_number.unwrap_or_default()
            )));
        }
        match (trace.transaction_hash, &trace.trace.action) {
            (None, Action::Reward(reward)) if reward.value.is_zero() => {}
            (None, Action::Reward(reward)) => rewards.push(eth_transfer(
                TransferKind::Reward,
                Address::ZERO,
                reward.author,
                reward.value,
            )),
            (None, _) => return Err(at.bad_trace("non-reward trace without transactionHash")),
            (Some(_), Action::Reward(_)) => {
                return Err(at.bad_trace("reward trace inside a transaction"))
            }
            (Some(hash), _) => by_tx
                .entry(hash)
                .or_insert_with(|| {
                    order.push(hash);
                    Vec::new()
                })
                .push(trace),
        }
    }
    let txs = order
        .iter()
        .map(|hash| parity_tx(&by_tx[hash], &TxAt { block, tx: *hash }, eip6780))
        .collect::<Result<_, _>>()?;
    Ok(BlockTraces { txs, rewards })
}

/// One transaction's flat traces, sorted into pre-order by `traceAddress`.
fn parity_tx(
    traces: &[&LocalizedTransactionTrace],
    at: &TxAt,
    eip6780: bool,
) -> Result<TxTrace, ExtractError> {
    let mut sorted = traces.to_vec();
    sorted.sort_by(|a, b| a.trace.trace_address.cmp(&b.trace.trace_address));
    let mut walk = TxWalk::new(at.tx, eip6780);
    let mut skipping: Option<&[usize]> = None;
    for trace in sorted {
        let path = trace.trace.trace_address.as_slice();
        if skipping.is_some_and(|errored| path.starts_with(errored)) {
            continue;
        }
        skipping = None;
        if trace.trace.error.is_some() {
            skipping = Some(path);
            walk.out.failed |= path.is_empty();
            continue;
        }
        parity_trace(&mut walk, trace, path.is_empty(), at)?;
    }
    Ok(walk.out)
}

/// One parity trace (not errored, not under an errored one).
fn parity_trace(
    walk: &mut TxWalk,
    trace: &LocalizedTransactionTrace,
    top: bool,
    at: &TxAt,
) -> Result<(), ExtractError> {
    let created = match &trace.trace.result {
        Some(TraceOutput::Create(out)) => Some(out.address),
        _ => None,
    };
    match &trace.trace.action {
        Action::Create(_) if top => {
            if let Some(contract) = created {
                walk.created(contract);
            }
        }
        Action::Call(_) if top => {}
        Action::Call(call) => {
            walk.caller(call.from);
            match call.call_type {
                CallType::Call | CallType::None | CallType::AuthCall => {
                    walk.push(TransferKind::Internal, call.from, call.to, call.value)
                }
                CallType::CallCode => {
                    walk.push(TransferKind::Internal, call.from, call.from, call.value)
                }
                CallType::DelegateCall | CallType::StaticCall => {}
            }
        }
        Action::Create(create) => {
            walk.caller(create.from);
            match created {
                Some(contract) => {
                    walk.created(contract);
                    walk.push(TransferKind::Create, create.from, contract, create.value);
                }
                None if create.value.is_zero() => {}
                None => return Err(at.bad_trace("value-bearing create without a result address")),
            }
        }
        Action::Selfdestruct(sd) => walk.self_destruct(sd.address, sd.refund_address, sd.balance),
        Action::Reward(_) => return Err(at.bad_trace("reward trace inside a transaction")),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// callTracer responses of every vintage
// ---------------------------------------------------------------------------------------------

/// Reads a `debug_traceBlockByNumber(…, {tracer: "callTracer"})` result of any geth vintage.
///
/// `tx_hashes` are the block's transactions in order. Current nodes tag each entry with its
/// `txHash`; old geth did not, and then entries are matched to transactions by position (their
/// number must equal the block's). Old frames also carry a `time` field (ignored) and, for
/// `SELFDESTRUCT`, nothing but the type: `from` is then filled in with the contract the parent
/// frame ran in, while the missing beneficiary and balance make extraction fail with a clear
/// error instead of silently losing the value.
pub fn call_traces_from_json(
    result: &Value,
    tx_hashes: &[B256],
    block: u64,
) -> Result<Vec<(B256, CallFrame)>, ExtractError> {
    let entries = result.as_array().ok_or_else(|| ExtractError::Malformed {
        block,
        what: "callTracer result",
        reason: "not an array".into(),
    })?;
    let positional = entries.iter().any(|e| e.get("txHash").is_none());
    check_positional(positional, entries.len(), tx_hashes.len(), block)?;
    let mut out = Vec::with_capacity(entries.len());
    for (position, entry) in entries.iter().enumerate() {
        let hash = match entry.get("txHash") {
            Some(hash) => B256::deserialize(hash).map_err(|source| ExtractError::Parse {
                block,
                what: "callTracer txHash",
                source,
            })?,
            None => tx_hashes[position],
        };
        if let Some(error) = entry.get("error").filter(|_| entry.get("result").is_none()) {
            return Err(ExtractError::TraceFailed {
                block,
                tx: hash,
                error: error.to_string(),
            });
        }
        let frame = entry.get("result").cloned().unwrap_or(Value::Null);
        out.push((hash, frame_from_json(frame, block)?));
    }
    Ok(out)
}

/// Converts what alloy's provider returns for `debug_traceBlockByNumber` with the callTracer.
///
/// alloy deserializes trace results untagged: an old-format tree that does not fit
/// [`CallFrame`] silently becomes [`GethTrace::JS`]; such trees go through the same lenient
/// path as [`call_traces_from_json`].
pub fn call_traces_from_results(
    results: Vec<TraceResult>,
    tx_hashes: &[B256],
    block: u64,
) -> Result<Vec<(B256, CallFrame)>, ExtractError> {
    let positional = results.iter().any(|r| r.tx_hash().is_none());
    check_positional(positional, results.len(), tx_hashes.len(), block)?;
    let mut out = Vec::with_capacity(results.len());
    for (position, result) in results.into_iter().enumerate() {
        let hash = result.tx_hash().unwrap_or_else(|| tx_hashes[position]);
        let frame = match result {
            TraceResult::Error { error, .. } => {
                return Err(ExtractError::TraceFailed {
                    block,
                    tx: hash,
                    error,
                })
            }
            TraceResult::Success {
                result: GethTrace::CallTracer(frame),
                ..
            } => frame,
            TraceResult::Success {
                result: GethTrace::JS(value),
                ..
            } => frame_from_json(value, block)?,
            TraceResult::Success { .. } => {
                return Err(ExtractError::Malformed {
                    block,
                    what: "callTracer result",
                    reason: format!("tx {hash}: not callTracer output"),
                })
            }
        };
        out.push((hash, frame));
    }
    Ok(out)
}

fn check_positional(
    positional: bool,
    entries: usize,
    txs: usize,
    block: u64,
) -> Result<(), ExtractError> {
    if positional && entries != txs {
        return Err(ExtractError::Malformed {
            block,
            what: "callTracer result",
            reason: format!(
                "{entries} entries without txHash for {txs} transactions; cannot match them"
            ),
        });
    }
    Ok(())
}

fn frame_from_json(mut frame: Value, block: u64) -> Result<CallFrame, ExtractError> {
    normalize_frame(&mut frame, None);
    CallFrame::deserialize(frame).map_err(|source| ExtractError::Parse {
        block,
        what: "callTracer frame",
        source,
    })
}

/// Fills in what old geth left out so the frame fits alloy's [`CallFrame`]: `input` (required
/// there) and a `SELFDESTRUCT`'s `from`, the account its parent frame ran in.
fn normalize_frame(frame: &mut Value, context: Option<&Value>) {
    let Some(obj) = frame.as_object_mut() else {
        return;
    };
    if let (false, Some(context)) = (obj.contains_key("from"), context) {
        obj.insert("from".into(), context.clone());
    }
    obj.entry("input").or_insert_with(|| "0x".into());
    let typ = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    // DELEGATECALL and CALLCODE run the callee's code in the caller's account.
    let runs_in =
        if typ.eq_ignore_ascii_case("DELEGATECALL") || typ.eq_ignore_ascii_case("CALLCODE") {
            "from"
        } else {
            "to"
        };
    let own = obj.get(runs_in).cloned();
    if let Some(Value::Array(calls)) = obj.get_mut("calls") {
        for call in calls {
            normalize_frame(call, own.as_ref());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The block
// ---------------------------------------------------------------------------------------------

/// What every transaction of the block needs to know about it.
struct BlockCtx {
    number: u64,
    miner: Address,
    base_fee: Option<u64>,
}

/// Extracts one block: every transaction's transfers in canonical order, then the block's
/// credits. `receipts` must be the block's receipts in transaction order; `traces` may be
/// [`InternalTraces::None`], and then internal transfers and rewards are missing (and a
/// pre-Byzantium transaction that used all its gas cannot be judged).
pub fn extract_block(
    block: &Block,
    receipts: &[Receipt],
    traces: &InternalTraces,
) -> Result<ExtractedBlock, ExtractError> {
    let header = &block.header;
    let number = header.number;
    let txs = block
        .transactions
        .as_transactions()
        .ok_or(ExtractError::HashesOnly { block: number })?;
    check_receipts(number, txs, receipts)?;
    let traced = trace_transfers(traces, number, eip6780_active(header.timestamp))?;
    let mut by_hash = index_traces(number, txs, traced.txs)?;
    let traced_block = !matches!(traces, InternalTraces::None);
    let ctx = BlockCtx {
        number,
        miner: header.beneficiary,
        base_fee: header.base_fee_per_gas,
    };
    let mut contracts = Vec::new();
    let mut out = Vec::with_capacity(txs.len());
    for (index, (tx, receipt)) in txs.iter().zip(receipts).enumerate() {
        let trace = by_hash.remove(&tx.tx_hash());
        if traced_block && trace.is_none() {
            let tx = tx.tx_hash();
            return Err(ExtractError::MissingTrace { block: number, tx });
        }
        out.push(extract_tx(&ctx, index, tx, receipt, trace, &mut contracts)?);
    }
    contracts.sort_unstable();
    contracts.dedup();
    let mut credits = traced.rewards;
    credits.extend(withdrawals(block));
    Ok(ExtractedBlock {
        number,
        hash: header.hash,
        parent_hash: header.parent_hash,
        timestamp: header.timestamp,
        miner: header.beneficiary,
        base_fee: header.base_fee_per_gas,
        txs: out,
        credits,
        contracts,
    })
}

fn check_receipts(
    block: u64,
    txs: &[Transaction],
    receipts: &[Receipt],
) -> Result<(), ExtractError> {
    if txs.len() != receipts.len() {
        return Err(ExtractError::ReceiptCount {
            block,
            txs: txs.len(),
            receipts: receipts.len(),
        });
    }
    for (index, (tx, receipt)) in txs.iter().zip(receipts).enumerate() {
        if tx.tx_hash() != receipt.tx_hash {
            return Err(ExtractError::ReceiptMismatch {
                block,
                index,
                tx: tx.tx_hash(),
                receipt: receipt.tx_hash,
            });
        }
    }
    Ok(())
}

/// Traces by transaction hash; every traced transaction must be in the block, once.
fn index_traces(
    block: u64,
    txs: &[Transaction],
    traced: Vec<TxTrace>,
) -> Result<HashMap<B256, TxTrace>, ExtractError> {
    let known: HashSet<B256> = txs.iter().map(|tx| tx.tx_hash()).collect();
    let mut by_hash = HashMap::with_capacity(traced.len());
    for trace in traced {
        let tx = trace.hash;
        if !known.contains(&tx) {
            return Err(ExtractError::UnknownTraceTx { block, tx });
        }
        if by_hash.insert(tx, trace).is_some() {
            return Err(ExtractError::DuplicateTrace { block, tx });
        }
    }
    Ok(by_hash)
}

fn withdrawals(block: &Block) -> impl Iterator<Item = RawTransfer> + '_ {
    block
        .withdrawals
        .iter()
        .flat_map(|w| w.iter())
        .filter(|w| w.amount != 0)
        .map(|w| {
            eth_transfer(
                TransferKind::Withdrawal,
                Address::ZERO,
                w.address,
                w.amount_wei(),
            )
        })
}

fn extract_tx(
    ctx: &BlockCtx,
    index: usize,
    tx: &Transaction,
    receipt: &Receipt,
    trace: Option<TxTrace>,
    contracts: &mut Vec<Address>,
) -> Result<ExtractedTx, ExtractError> {
    let at = TxAt {
        block: ctx.number,
        tx: tx.tx_hash(),
    };
    let from = tx.from();
    if tx.transaction_index.is_some_and(|i| i != index as u64) {
        return Err(at.inconsistent(format!("claims index {:?}", tx.transaction_index)));
    }
    let price = effective_gas_price(ctx, &at, tx, receipt)?;
    let success = outcome(&at, tx, receipt, trace.as_ref())?;
    let mut transfers = gas(ctx, &at, tx, receipt, price)?;
    let created = match tx.to() {
        None if success => Some(created_address(&at, tx, receipt)?),
        _ => None,
    };
    // A failed transaction's logs were dropped with its state changes: no events.
    let mut mixer = MixerLogs::default();
    if success {
        let recipient = tx.to().or(created).unwrap_or_default();
        if !tx.value().is_zero() {
            let value = eth_transfer(TransferKind::TxValue, from, recipient, tx.value());
            transfers.push(value);
        }
        if let Some(trace) = trace {
            transfers.extend(trace.transfers);
            contracts.extend(trace.contracts);
        }
        transfers.extend(token_transfers(&at, receipt)?);
        mixer = mixer_logs(receipt);
        contracts.extend(
            receipt
                .logs
                .iter()
                .filter(|l| !l.removed)
                .map(|l| l.address()),
        );
        contracts.extend(created);
    }
    Ok(ExtractedTx {
        hash: at.tx,
        index: u32::try_from(index).map_err(|_| at.inconsistent("more than 2^32 transactions"))?,
        from,
        to: tx.to(),
        created,
        success,
        gas_used: receipt.gas_used,
        effective_gas_price: price,
        value: tx.value(),
        transfers,
        pricing: gas_pricing(tx),
        mixer,
    })
}

/// The price per gas the sender paid, computed from the transaction and the base fee. A price
/// the receipt reports must agree; alloy reports an absent one as 0, which is not checked.
fn effective_gas_price(
    ctx: &BlockCtx,
    at: &TxAt,
    tx: &Transaction,
    receipt: &Receipt,
) -> Result<u128, ExtractError> {
    let computed = tx.effective_gas_price(ctx.base_fee);
    match receipt.effective_gas_price {
        Some(reported) if reported != 0 && reported != computed => Err(at.inconsistent(format!(
            "receipt's effectiveGasPrice {reported} differs from {computed} computed from the tx"
        ))),
        _ => Ok(computed),
    }
}

/// Whether the transaction succeeded: the receipt's status (Byzantium on), the trace's
/// top-level error, and before Byzantium without a trace, the rule that every failure then
/// consumed all gas and dropped all logs (there was no REVERT).
fn outcome(
    at: &TxAt,
    tx: &Transaction,
    receipt: &Receipt,
    trace: Option<&TxTrace>,
) -> Result<bool, ExtractError> {
    let traced = trace.map(|t| !t.failed);
    match (receipt.status, traced) {
        (Some(status), Some(traced)) if status != traced => Err(at.inconsistent(format!(
            "receipt status {} but the trace says it {}",
            u8::from(status),
            if traced { "succeeded" } else { "failed" }
        ))),
        (Some(status), _) => Ok(status),
        (None, Some(traced)) => Ok(traced),
        (None, None) if receipt.gas_used < tx.gas_limit() || !receipt.logs.is_empty() => Ok(true),
        (None, None) => Err(ExtractError::UnknownOutcome {
            block: at.block,
            tx: at.tx,
        }),
    }
}

/// The contract a successful creation deployed: `keccak(rlp(sender, nonce))`, checked against
/// the receipt's `contractAddress` when it has one.
fn created_address(
    at: &TxAt,
    tx: &Transaction,
    receipt: &Receipt,
) -> Result<Address, ExtractError> {
    let computed = tx.from().create(tx.nonce());
    match receipt.contract_address {
        Some(reported) if reported != computed => Err(at.inconsistent(format!(
            "receipt's contractAddress {reported} differs from {computed} derived from sender and nonce"
        ))),
        _ => Ok(computed),
    }
}

/// The fee as burn (base fee and blob fee, to the zero address) then tip (to the miner).
fn gas(
    ctx: &BlockCtx,
    at: &TxAt,
    tx: &Transaction,
    receipt: &Receipt,
    price: u128,
) -> Result<Vec<RawTransfer>, ExtractError> {
    let gas_used = U256::from(receipt.gas_used);
    let fee = gas_used * U256::from(price);
    let (burn, tip) = match ctx.base_fee {
        None => (U256::ZERO, fee),
        Some(base_fee) if price < u128::from(base_fee) => {
            return Err(at.inconsistent(format!(
                "effective gas price {price} is below the base fee {base_fee}"
            )))
        }
        Some(base_fee) => {
            let base = gas_used * U256::from(base_fee);
            (base + blob_fee(at, tx, receipt)?, fee - base)
        }
    };
    let from = tx.from();
    let mut out = Vec::with_capacity(2);
    for (kind, to, amount) in [
        (TransferKind::GasBurn, Address::ZERO, burn),
        (TransferKind::GasTip, ctx.miner, tip),
    ] {
        if !amount.is_zero() {
            out.push(eth_transfer(kind, from, to, amount));
        }
    }
    Ok(out)
}

/// `blobGasUsed × blobGasPrice` of a blob (type-3) transaction, burnt in full (EIP-4844).
fn blob_fee(at: &TxAt, tx: &Transaction, receipt: &Receipt) -> Result<U256, ExtractError> {
    match (receipt.blob_gas_used, receipt.blob_gas_price) {
        (Some(used), Some(price)) => Ok(U256::from(used) * U256::from(price)),
        _ if tx.ty() == 3 => {
            Err(at.inconsistent("blob transaction whose receipt lacks blobGasUsed or blobGasPrice"))
        }
        _ => Ok(U256::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, Bytes, LogData};
    use serde_json::json;

    const A: Address = address!("00000000000000000000000000000000000000aa");
    const B: Address = address!("00000000000000000000000000000000000000bb");
    const C: Address = address!("00000000000000000000000000000000000000cc");
    const D: Address = address!("00000000000000000000000000000000000000dd");
    const E: Address = address!("00000000000000000000000000000000000000ee");
    const TX: B256 = B256::repeat_byte(0x11);

    fn eth(kind: TransferKind, from: Address, to: Address, amount: u64) -> RawTransfer {
        eth_transfer(kind, from, to, U256::from(amount))
    }

    fn word(address: Address) -> B256 {
        address.into_word()
    }

    fn log(topics: Vec<B256>, data: Vec<u8>) -> LogEntry {
        LogEntry {
            address: D,
            data: LogData::new_unchecked(topics, Bytes::from(data)),
        }
    }

    fn amount(n: u64) -> Vec<u8> {
        U256::from(n).to_be_bytes::<32>().to_vec()
    }

    fn uint(n: u64) -> Vec<u8> {
        amount(n)
    }

    fn deposit_log(data: Vec<u8>) -> LogEntry {
        log(vec![TORNADO_DEPOSIT_TOPIC, B256::repeat_byte(0xc0)], data)
    }

    fn withdrawal_data(to: B256, fee: u64) -> Vec<u8> {
        [to.to_vec(), vec![0x4a; 32], uint(fee)].concat()
    }

    #[test]
    fn tornado_deposits_and_withdrawals_decode_from_any_contract() {
        let deposit = deposit_log([uint(7), uint(1_700_000_000)].concat());
        assert!(is_mixer_log(&deposit));
        assert_eq!(
            mixer_event(&deposit),
            Some(MixerEvent::Deposit {
                contract: D,
                commitment: B256::repeat_byte(0xc0),
                leaf_index: 7,
                timestamp: 1_700_000_000,
            })
        );
        let withdrawal = log(
            vec![TORNADO_WITHDRAWAL_TOPIC, word(E)],
            withdrawal_data(word(A), 10_000),
        );
        assert_eq!(
            mixer_event(&withdrawal),
            Some(MixerEvent::Withdrawal {
                contract: D,
                to: A,
                nullifier_hash: B256::repeat_byte(0x4a),
                relayer: E,
                fee: U256::from(10_000),
            })
        );
        let self_relayed = log(
            vec![TORNADO_WITHDRAWAL_TOPIC, B256::ZERO],
            withdrawal_data(word(A), 0),
        );
        let Some(MixerEvent::Withdrawal { relayer, fee, .. }) = mixer_event(&self_relayed) else {
            panic!("a self-relayed withdrawal decodes");
        };
        assert_eq!((relayer, fee), (Address::ZERO, U256::ZERO));
    }

    #[test]
    fn malformed_tornado_logs_are_rejected_without_panicking() {
        let good_deposit = [uint(7), uint(1_700_000_000)].concat();
        let malformed = [
            // topic count: commitment not indexed, or an extra topic
            log(vec![TORNADO_DEPOSIT_TOPIC], good_deposit.clone()),
            log(
                vec![TORNADO_DEPOSIT_TOPIC, B256::ZERO, B256::ZERO],
                good_deposit.clone(),
            ),
            // data length: short, long, empty
            deposit_log(good_deposit[..63].to_vec()),
            deposit_log([good_deposit.clone(), vec![0]].concat()),
            deposit_log(Vec::new()),
            // a leafIndex beyond uint32, a timestamp beyond 64 bits
            deposit_log([uint(1 << 32), uint(1)].concat()),
            deposit_log([uint(1), vec![1; 32]].concat()),
            // withdrawal: relayer not indexed, a dirty address word, short data
            log(
                vec![TORNADO_WITHDRAWAL_TOPIC],
                [word(E).to_vec(), withdrawal_data(word(A), 1)].concat(),
            ),
            log(
                vec![TORNADO_WITHDRAWAL_TOPIC, word(E)],
                withdrawal_data(B256::repeat_byte(0xff), 1),
            ),
            log(
                vec![TORNADO_WITHDRAWAL_TOPIC, B256::repeat_byte(1)],
                withdrawal_data(word(A), 1),
            ),
            log(
                vec![TORNADO_WITHDRAWAL_TOPIC, word(E)],
                withdrawal_data(word(A), 1)[..95].to_vec(),
            ),
        ];
        for (i, l) in malformed.iter().enumerate() {
            assert!(is_mixer_log(l), "case {i}");
            assert_eq!(mixer_event(l), None, "case {i}");
        }
        // Other logs are not mixer logs at all.
        let transfer = log(vec![TRANSFER_TOPIC, word(A), word(B)], amount(5));
        assert!(!is_mixer_log(&transfer));
        assert!(!is_mixer_log(&log(vec![], vec![])));
        assert_eq!(mixer_event(&log(vec![], vec![])), None);
    }

    #[test]
    fn only_the_standard_erc20_shape_is_a_token_transfer() {
        let ok = log(vec![TRANSFER_TOPIC, word(A), word(B)], amount(5));
        let expected = RawTransfer {
            kind: TransferKind::Token,
            asset: Some(D),
            from: A,
            to: B,
            amount: U256::from(5),
        };
        assert_eq!(erc20_transfer(&ok), Some(expected));
        // A mint comes from the zero address and a burn goes to it, as logged.
        let mint = log(vec![TRANSFER_TOPIC, B256::ZERO, word(B)], amount(5));
        assert_eq!(erc20_transfer(&mint).map(|t| t.from), Some(Address::ZERO));
        let erc721 = log(
            vec![TRANSFER_TOPIC, word(A), word(B), B256::with_last_byte(7)],
            vec![],
        );
        assert_eq!(erc20_transfer(&erc721), None);
        let unindexed = [word(A).to_vec(), word(B).to_vec(), amount(5)].concat();
        assert_eq!(erc20_transfer(&log(vec![TRANSFER_TOPIC], unindexed)), None);
        let long = log(
            vec![TRANSFER_TOPIC, word(A), word(B)],
            [amount(5), amount(6)].concat(),
        );
        assert_eq!(erc20_transfer(&long), None);
        let dirty = log(
            vec![TRANSFER_TOPIC, B256::repeat_byte(1), word(B)],
            amount(5),
        );
        assert_eq!(erc20_transfer(&dirty), None);
        let other = log(vec![B256::repeat_byte(2), word(A), word(B)], amount(5));
        assert_eq!(erc20_transfer(&other), None);
    }

    /// A → B (5, B then pays C 1), a reverted call carrying 7 whose subtree paid 3, a
    /// DELEGATECALL displaying 9, a CREATE of D endowed with 2 that self-destructs to E (4),
    /// and a STATICCALL.
    fn tree() -> CallFrame {
        let frame = json!({
            "type": "CALL", "from": E, "to": A, "value": "0x0", "input": "0x",
            "calls": [
                {"type": "CALL", "from": A, "to": B, "value": "0x5", "input": "0x",
                 "calls": [{"type": "CALL", "from": B, "to": C, "value": "0x1", "input": "0x"}]},
                {"type": "CALL", "from": A, "to": C, "value": "0x7", "input": "0x",
                 "error": "execution reverted",
                 "calls": [{"type": "CALL", "from": C, "to": B, "value": "0x3", "input": "0x"}]},
                {"type": "DELEGATECALL", "from": A, "to": C, "value": "0x9", "input": "0x"},
                {"type": "CREATE2", "from": A, "to": D, "value": "0x2", "input": "0x",
                 "calls": [{"type": "SELFDESTRUCT", "from": D, "to": E, "value": "0x4", "input": "0x"}]},
                {"type": "STATICCALL", "from": A, "to": B, "input": "0x"}
            ]
        });
        serde_json::from_value(frame).expect("frame")
    }

    fn walk(frame: &CallFrame, eip6780: bool) -> TxTrace {
        call_tree(frame, &TxAt { block: 1, tx: TX }, eip6780).expect("walks")
    }

    #[test]
    fn call_trees_yield_value_in_pre_order_skipping_reverted_subtrees() {
        let out = walk(&tree(), false);
        assert!(!out.failed);
        assert_eq!(
            out.transfers,
            [
                eth(TransferKind::Internal, A, B, 5),
                eth(TransferKind::Internal, B, C, 1),
                eth(TransferKind::Create, A, D, 2),
                eth(TransferKind::SelfDestruct, D, E, 4),
            ]
        );
        let mut contracts = out.contracts;
        contracts.sort_unstable();
        contracts.dedup();
        assert_eq!(contracts, [A, B, D]);
    }

    /// Flattens a call tree into parity traces, the way `trace_block` reports it.
    fn flatten(frame: &CallFrame, path: Vec<usize>, out: &mut Vec<Value>) {
        let value = frame.value.unwrap_or_default();
        let (typ, action, result) = match frame.typ.as_str() {
            "CREATE" | "CREATE2" => (
                "create",
                json!({"from": frame.from, "gas": "0x0", "init": "0x", "value": value}),
                json!({"address": frame.to, "code": "0x", "gasUsed": "0x0"}),
            ),
            "SELFDESTRUCT" => (
                "suicide",
                json!({"address": frame.from, "refundAddress": frame.to, "balance": value}),
                Value::Null,
            ),
            call => (
                "call",
                json!({"callType": call.to_ascii_lowercase(), "from": frame.from, "to": frame.to,
                       "gas": "0x0", "input": "0x", "value": value}),
                json!({"gasUsed": "0x0", "output": "0x"}),
            ),
        };
        let mut trace = json!({"type": typ, "action": action, "result": result,
            "subtraces": frame.calls.len(), "traceAddress": path,
            "transactionHash": TX, "transactionPosition": 0, "blockNumber": 1});
        if let Some(error) = &frame.error {
            trace["error"] = json!(error);
            trace["result"] = Value::Null;
        }
        out.push(trace);
        for (i, call) in frame.calls.iter().enumerate() {
            let mut child = path.clone();
            child.push(i);
            flatten(call, child, out);
        }
    }

    fn parity_of(frame: &CallFrame) -> Vec<LocalizedTransactionTrace> {
        let mut flat = Vec::new();
        flatten(frame, Vec::new(), &mut flat);
        flat.reverse(); // order must not matter: traces are sorted by traceAddress
        serde_json::from_value(Value::Array(flat)).expect("parity traces")
    }

    #[test]
    fn parity_traces_of_the_same_tree_give_the_same_transfers() {
        let frame = tree();
        let geth = trace_transfers(
            &InternalTraces::CallTracer(vec![(TX, frame.clone())]),
            1,
            false,
        );
        let parity = trace_transfers(&InternalTraces::Parity(parity_of(&frame)), 1, false);
        let (geth, parity) = (geth.expect("geth"), parity.expect("parity"));
        assert_eq!(geth.txs[0].transfers, parity.txs[0].transfers);
        let sorted = |mut v: Vec<Address>| {
            v.sort_unstable();
            v.dedup();
            v
        };
        assert_eq!(
            sorted(geth.txs[0].contracts.clone()),
            sorted(parity.txs[0].contracts.clone())
        );
    }

    #[test]
    fn a_failed_top_frame_moves_nothing() {
        let mut frame = tree();
        frame.error = Some("out of gas".into());
        let out = walk(&frame, false);
        assert!(out.failed && out.transfers.is_empty() && out.contracts.is_empty());
        let parity = trace_transfers(&InternalTraces::Parity(parity_of(&frame)), 1, false);
        let parity = parity.expect("parity");
        assert!(parity.txs[0].failed && parity.txs[0].transfers.is_empty());
    }

    fn self_destruct_to_itself(created_here: bool) -> CallFrame {
        let destruct =
            json!({"type": "SELFDESTRUCT", "from": D, "to": D, "value": "0x4", "input": "0x"});
        let inner = if created_here {
            json!({"type": "CREATE", "from": A, "to": D, "value": "0x0", "input": "0x", "calls": [destruct]})
        } else {
            json!({"type": "CALL", "from": A, "to": D, "value": "0x0", "input": "0x", "calls": [destruct]})
        };
        let top = json!({"type": "CALL", "from": E, "to": A, "input": "0x", "calls": [inner]});
        serde_json::from_value(top).expect("frame")
    }

    #[test]
    fn a_contract_destructing_to_itself_burns_unless_eip6780_keeps_it() {
        let burn = [eth(TransferKind::SelfDestruct, D, Address::ZERO, 4)];
        // Before Cancun the balance dies with the account.
        assert_eq!(walk(&self_destruct_to_itself(false), false).transfers, burn);
        // After, an older contract survives and keeps it...
        assert_eq!(walk(&self_destruct_to_itself(false), true).transfers, []);
        // ...while one created in the same transaction still dies with it.
        assert_eq!(walk(&self_destruct_to_itself(true), true).transfers, burn);
        assert!(!eip6780_active(CANCUN_TIMESTAMP - 1) && eip6780_active(CANCUN_TIMESTAMP));
    }

    #[test]
    fn unknown_frame_types_are_errors() {
        let frame: CallFrame = serde_json::from_value(json!({"type": "CALL", "from": E, "to": A,
            "input": "0x", "calls": [{"type": "TELEPORT", "from": A, "input": "0x"}]}))
        .expect("frame");
        let err = call_tree(&frame, &TxAt { block: 9, tx: TX }, false).unwrap_err();
        assert!(err.to_string().contains("TELEPORT"), "{err}");
    }

    #[test]
    fn old_geth_selfdestruct_frames_take_the_account_their_parent_ran_in() {
        let old = json!([{"result": {"type": "CALL", "from": E, "to": A, "input": "0x", "time": "1ms",
            "calls": [{"type": "DELEGATECALL", "from": A, "to": C, "input": "0x",
                       "calls": [{"type": "SELFDESTRUCT"}]}]}}]);
        let frames = call_traces_from_json(&old, &[TX], 3).expect("parses");
        assert_eq!(frames[0].0, TX);
        let destruct = &frames[0].1.calls[0].calls[0];
        assert_eq!(
            (destruct.from, destruct.to, destruct.value),
            (A, None, None)
        );
    }

    #[test]
    fn receipts_read_every_vintage() {
        let modern: Receipt = serde_json::from_value(json!({"transactionHash": TX,
            "transactionIndex": "0x2", "gasUsed": "0x5208", "effectiveGasPrice": "0x7",
            "status": "0x0", "logs": []}))
        .expect("modern");
        assert_eq!(
            (modern.status, modern.tx_index, modern.gas_used),
            (Some(false), Some(2), 21_000)
        );
        let parity: Receipt = serde_json::from_value(json!({"transactionHash": TX,
            "gasUsed": "0x5208", "status": null, "root": B256::ZERO, "logs": []}))
        .expect("pre-Byzantium");
        assert_eq!((parity.status, parity.effective_gas_price), (None, None));
        let bad = serde_json::from_value::<Receipt>(json!({"transactionHash": TX,
            "gasUsed": "0x1", "status": "0x2"}));
        assert!(bad.unwrap_err().to_string().contains("neither 0 nor 1"));
    }

    fn fixture(path: &str) -> Value {
        let path = format!(
            "{}/../../fixtures/eth/mainnet/{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).expect("fixture");
        serde_json::from_str::<Value>(&text).expect("JSON")["result"].clone()
    }

    /// Block 483,920 (pre-Byzantium, pre-London) with its four receipts, in order.
    fn block_483_920() -> (Block, Vec<Receipt>) {
        let block = fixture("ethereum-etl/test_export_blocks_job/block_with_logs/web3_response.eth_getBlockByNumber_0x76250_true.json");
        let block = block_from_json(&block, 483_920).expect("block");
        let receipts = block
            .transactions
            .as_transactions()
            .expect("full")
            .iter()
            .map(|tx| {
                let path = format!("ethereum-etl/test_export_receipts_job/receipts_with_logs/web3_response.eth_getTransactionReceipt_{}.json", tx.tx_hash());
                serde_json::from_value(fixture(&path)).expect("receipt")
            })
            .collect();
        (block, receipts)
    }

    #[test]
    fn pre_byzantium_outcome_needs_a_trace_when_all_gas_was_used() {
        let (block, mut receipts) = block_483_920();
        let tx = block.transactions.as_transactions().expect("full")[2].clone();
        receipts[2].gas_used = tx.gas_limit();
        let err = extract_block(&block, &receipts, &InternalTraces::None).unwrap_err();
        assert!(
            matches!(err, ExtractError::UnknownOutcome { block: 483_920, .. }),
            "{err}"
        );
        // A trace decides it: here the top-level call failed.
        let frames = block
            .transactions
            .as_transactions()
            .expect("full")
            .iter()
            .map(|t| {
                let mut frame = CallFrame {
                    from: t.from(),
                    to: t.to(),
                    typ: "CALL".into(),
                    ..CallFrame::default()
                };
                if t.tx_hash() == tx.tx_hash() {
                    frame.error = Some("out of gas".into());
                }
                (t.tx_hash(), frame)
            })
            .collect();
        let out = extract_block(&block, &receipts, &InternalTraces::CallTracer(frames));
        let out = out.expect("extracts");
        assert!(!out.txs[2].success);
        assert!(out.txs[2]
            .transfers
            .iter()
            .all(|t| t.kind == TransferKind::GasTip));
        assert!(out.txs[3].success);
    }

    #[test]
    fn a_receipt_status_the_trace_contradicts_is_an_error() {
        let (block, mut receipts) = block_483_920();
        receipts[0].status = Some(true);
        let frames = block
            .transactions
            .as_transactions()
            .expect("full")
            .iter()
            .map(|t| {
                let error = Some("reverted".to_string());
                (
                    t.tx_hash(),
                    CallFrame {
                        from: t.from(),
                        error,
                        ..CallFrame::default()
                    },
                )
            })
            .collect();
        let err = extract_block(&block, &receipts, &InternalTraces::CallTracer(frames));
        assert!(
            matches!(err, Err(ExtractError::Inconsistent { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn removed_logs_move_nothing() {
        let (block, mut receipts) = block_483_920();
        receipts[0].logs[0].removed = true;
        let out = extract_block(&block, &receipts, &InternalTraces::None).expect("extracts");
        let tokens = out.txs.iter().flat_map(|t| &t.transfers);
        assert_eq!(tokens.filter(|t| t.kind == TransferKind::Token).count(), 1);
    }
}
