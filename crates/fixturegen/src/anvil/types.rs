//! Value types shared by the anvil client and the Ethereum scenario: addresses, hex quantities,
//! transaction requests and receipts.
//!
//! Amounts are `u128` wei (or token base units): enough for any balance a local test node
//! holds (3.4e20 ETH) while staying plain integers that tests can compare exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};

use super::AnvilError;

/// One ether in wei.
pub const ETHER: u128 = 1_000_000_000_000_000_000;
/// One gwei in wei.
pub const GWEI: u128 = 1_000_000_000;

/// A 20-byte Ethereum address. Displays and serializes as lowercase `0x` hex, the form label
/// files and the manifest use, so string comparison is address comparison.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The zero address (mint source, burn sink, "no relayer").
    pub const ZERO: Address = Address([0; 20]);

    /// A readable fixed address: `prefix` fills the first two bytes and `index` the last two,
    /// e.g. `Address::tagged(0x7e1f, 3)` is `0x7e1f…0003`. Scenario actors use these so a
    /// trace printout shows who is who at a glance.
    pub const fn tagged(prefix: u16, index: u16) -> Address {
        let mut bytes = [0u8; 20];
        bytes[0] = (prefix >> 8) as u8;
        bytes[1] = prefix as u8;
        bytes[18] = (index >> 8) as u8;
        bytes[19] = index as u8;
        Address(bytes)
    }

    /// The address as a 32-byte ABI word (left-padded).
    pub fn word(&self) -> [u8; 32] {
        let mut w = [0u8; 32];
        w[12..].copy_from_slice(&self.0);
        w
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", to_hex(&self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Address {
    type Err = AnvilError;

    /// Accepts `0x`-prefixed hex of exactly 20 bytes, any letter case (no checksum check).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = parse_hex(s).map_err(|e| AnvilError::Input(format!("address {s:?}: {e}")))?;
        let array: [u8; 20] = bytes.try_into().map_err(|b: Vec<u8>| {
            AnvilError::Input(format!("address {s:?}: {} bytes, expected 20", b.len()))
        })?;
        Ok(Address(array))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Lowercase hex without prefix.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Decodes `0x`-prefixed (or bare) hex of even length.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if !digits.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(format!("invalid hex digit {:?}", c as char)),
    };
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| Ok(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// A JSON-RPC quantity (`"0x1a"`) for a value.
pub fn quantity(value: u128) -> String {
    format!("{value:#x}")
}

/// Parses a JSON-RPC quantity; `what` names the field in the error.
pub fn parse_quantity(value: &Value, what: &str) -> Result<u128, AnvilError> {
    let bad = || AnvilError::Input(format!("{what}: expected a hex quantity, got {value}"));
    match value {
        Value::String(s) => {
            let digits = s.strip_prefix("0x").ok_or_else(bad)?;
            if digits.is_empty() {
                return Err(bad());
            }
            u128::from_str_radix(digits, 16).map_err(|_| bad())
        }
        // anvil writes a few fields (`blockNumber` in trace_block, `blockTimestamp`) as numbers.
        Value::Number(n) => n.as_u64().map(u128::from).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// [`parse_quantity`] for values that must fit a `u64` (block numbers, gas, indexes).
pub fn parse_u64(value: &Value, what: &str) -> Result<u64, AnvilError> {
    let wide = parse_quantity(value, what)?;
    u64::try_from(wide).map_err(|_| AnvilError::Input(format!("{what}: {wide} exceeds u64")))
}

/// A transaction for `eth_sendTransaction` from an unlocked or impersonated account.
///
/// Every field that shapes the transaction hash is explicit (gas limit, EIP-1559 fees), so the
/// same request on the same chain state always yields the same hash. The nonce is left to the
/// node unless set: it takes the sender's pending count, which is just as deterministic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRequest {
    pub from: Address,
    /// `None` deploys `data` as init code.
    pub to: Option<Address>,
    pub value: u128,
    pub data: Vec<u8>,
    pub gas: u64,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    /// A legacy (type 0) transaction at this `gasPrice` instead of an EIP-1559 one.
    pub gas_price: Option<u128>,
    pub nonce: Option<u64>,
}

impl TxRequest {
    /// Gas of a plain ETH transfer to an account without code.
    pub const TRANSFER_GAS: u64 = 21_000;
    /// Default fee cap: far above any base fee a quiet test chain reaches, so the effective
    /// price is always `base fee + tip`.
    pub const DEFAULT_MAX_FEE: u128 = 100 * GWEI;
    pub const DEFAULT_TIP: u128 = GWEI;

    /// A plain ETH transfer (21,000 gas).
    pub fn transfer(from: Address, to: Address, value: u128) -> TxRequest {
        TxRequest {
            from,
            to: Some(to),
            value,
            data: Vec::new(),
            gas: Self::TRANSFER_GAS,
            max_fee_per_gas: Self::DEFAULT_MAX_FEE,
            max_priority_fee_per_gas: Self::DEFAULT_TIP,
            gas_price: None,
            nonce: None,
        }
    }

    /// A contract call with calldata `data` and gas limit `gas`.
    pub fn call(from: Address, to: Address, data: Vec<u8>, gas: u64) -> TxRequest {
        TxRequest {
            data,
            gas,
            ..TxRequest::transfer(from, to, 0)
        }
    }

    /// A contract creation with init code `code` (constructor arguments appended).
    pub fn deploy(from: Address, code: Vec<u8>, gas: u64) -> TxRequest {
        TxRequest {
            to: None,
            ..TxRequest::call(from, Address::ZERO, code, gas)
        }
    }

    pub fn with_value(mut self, value: u128) -> TxRequest {
        self.value = value;
        self
    }

    /// Sets the priority fee (tip per gas). Distinct tips make a wallet fingerprint, as the
    /// Tornado gas-price heuristic (spec §5.2, H2) assumes.
    pub fn with_tip(mut self, tip: u128) -> TxRequest {
        self.max_priority_fee_per_gas = tip;
        self
    }

    /// Makes it a legacy transaction paying `gas_price` per gas. A legacy price is the same
    /// for every block, so wallets that type it in leave a fingerprint (spec §5.2, H2); in
    /// EIP-1559 terms it is both the fee cap and the priority fee.
    pub fn with_gas_price(mut self, gas_price: u128) -> TxRequest {
        self.gas_price = Some(gas_price);
        self.max_fee_per_gas = gas_price;
        self.max_priority_fee_per_gas = gas_price;
        self
    }

    pub fn with_nonce(mut self, nonce: u64) -> TxRequest {
        self.nonce = Some(nonce);
        self
    }

    /// The JSON object `eth_sendTransaction` takes.
    pub fn to_json(&self) -> Value {
        let mut tx = json!({
            "from": self.from.to_string(),
            "value": quantity(self.value),
            "input": format!("0x{}", to_hex(&self.data)),
            "gas": quantity(self.gas.into()),
        });
        match self.gas_price {
            Some(price) => tx["gasPrice"] = Value::String(quantity(price)),
            None => {
                tx["maxFeePerGas"] = Value::String(quantity(self.max_fee_per_gas));
                tx["maxPriorityFeePerGas"] = Value::String(quantity(self.max_priority_fee_per_gas));
            }
        }
        if let Some(to) = self.to {
            tx["to"] = Value::String(to.to_string());
        }
        if let Some(nonce) = self.nonce {
            tx["nonce"] = Value::String(quantity(nonce.into()));
        }
        tx
    }
}

/// An event log from a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    pub address: Address,
    /// `0x` hex, topic0 first.
    pub topics: Vec<String>,
    /// `0x` hex.
    pub data: String,
    pub log_index: u64,
}

/// The parts of a transaction receipt the fixtures use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub tx_hash: String,
    pub block_number: u64,
    pub block_hash: String,
    pub tx_index: u64,
    pub from: Address,
    pub to: Option<Address>,
    /// `true` for status 1. A failed transaction (status 0) pays gas and moves no value.
    pub success: bool,
    pub gas_used: u64,
    pub effective_gas_price: u128,
    pub contract_address: Option<Address>,
    pub logs: Vec<Log>,
}

impl Receipt {
    /// Parses an `eth_getTransactionReceipt` result.
    pub fn from_json(v: &Value) -> Result<Receipt, AnvilError> {
        let hash = v["transactionHash"].as_str().unwrap_or("?").to_owned();
        let field = |name: &str| format!("receipt {hash}: {name}");
        let opt_addr = |name: &str| -> Result<Option<Address>, AnvilError> {
            match &v[name] {
                Value::Null => Ok(None),
                Value::String(s) => s.parse().map(Some),
                other => Err(AnvilError::Input(format!("{}: {other}", field(name)))),
            }
        };
        let logs = match v["logs"].as_array() {
            Some(logs) => logs
                .iter()
                .map(|l| parse_log(l, &hash))
                .collect::<Result<_, _>>()?,
            None => return Err(AnvilError::Input(field("logs missing"))),
        };
        Ok(Receipt {
            block_number: parse_u64(&v["blockNumber"], &field("blockNumber"))?,
            block_hash: str_field(v, "blockHash", &hash)?,
            tx_index: parse_u64(&v["transactionIndex"], &field("transactionIndex"))?,
            from: opt_addr("from")?.ok_or_else(|| AnvilError::Input(field("from")))?,
            to: opt_addr("to")?,
            success: parse_quantity(&v["status"], &field("status"))? == 1,
            gas_used: parse_u64(&v["gasUsed"], &field("gasUsed"))?,
            effective_gas_price: parse_quantity(
                &v["effectiveGasPrice"],
                &field("effectiveGasPrice"),
            )?,
            contract_address: opt_addr("contractAddress")?,
            logs,
            tx_hash: hash,
        })
    }

    /// Gas paid by the sender: `gas_used × effective_gas_price`.
    pub fn fee(&self) -> u128 {
        u128::from(self.gas_used) * self.effective_gas_price
    }
}

fn str_field(v: &Value, name: &str, hash: &str) -> Result<String, AnvilError> {
    v[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| AnvilError::Input(format!("receipt {hash}: {name} missing")))
}

fn parse_log(l: &Value, hash: &str) -> Result<Log, AnvilError> {
    let bad = |what: &str| AnvilError::Input(format!("receipt {hash}: log {what}: {l}"));
    let topics = l["topics"]
        .as_array()
        .ok_or_else(|| bad("topics"))?
        .iter()
        .map(|t| t.as_str().map(str::to_owned).ok_or_else(|| bad("topic")))
        .collect::<Result<_, _>>()?;
    Ok(Log {
        address: l["address"]
            .as_str()
            .ok_or_else(|| bad("address"))?
            .parse()?,
        topics,
        data: l["data"].as_str().ok_or_else(|| bad("data"))?.to_owned(),
        log_index: parse_u64(&l["logIndex"], &format!("receipt {hash}: logIndex"))?,
    })
}

/// A mined block as the helpers report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRef {
    pub number: u64,
    pub hash: String,
    pub timestamp: u64,
    pub base_fee_per_gas: u128,
    pub miner: Address,
    pub tx_hashes: Vec<String>,
}

impl BlockRef {
    /// Parses an `eth_getBlockByNumber(.., false)` result.
    pub fn from_json(v: &Value) -> Result<BlockRef, AnvilError> {
        let number = parse_u64(&v["number"], "block number")?;
        let what = |name: &str| format!("block {number}: {name}");
        let tx_hashes = v["transactions"]
            .as_array()
            .ok_or_else(|| AnvilError::Input(what("transactions")))?
            .iter()
            .map(|t| match t {
                Value::String(s) => Ok(s.clone()),
                other => other["hash"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| AnvilError::Input(what("transaction hash"))),
            })
            .collect::<Result<_, _>>()?;
        Ok(BlockRef {
            number,
            hash: v["hash"]
                .as_str()
                .ok_or_else(|| AnvilError::Input(what("hash")))?
                .to_owned(),
            timestamp: parse_u64(&v["timestamp"], &what("timestamp"))?,
            base_fee_per_gas: parse_quantity(&v["baseFeePerGas"], &what("baseFeePerGas"))?,
            miner: v["miner"]
                .as_str()
                .ok_or_else(|| AnvilError::Input(what("miner")))?
                .parse()?,
            tx_hashes,
        })
    }
}

/// What [`super::Anvil::reorg`] replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reorg {
    /// The last block both branches share.
    pub fork_point: u64,
    /// Hashes of the abandoned blocks, lowest first.
    pub old_hashes: Vec<String>,
    /// Hashes of the new branch, lowest first (one block longer than the old one).
    pub new_hashes: Vec<String>,
    /// Transactions of abandoned blocks that the new branch does not contain.
    pub dropped_txs: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_reject_bad_input() {
        let a = Address::tagged(0x7e1f, 0x0102);
        assert_eq!(a.to_string(), "0x7e1f000000000000000000000000000000000102");
        assert_eq!(
            a.to_string()
                .to_uppercase()
                .replace("0X", "0x")
                .parse::<Address>()
                .unwrap(),
            a
        );
        assert!("0x12".parse::<Address>().is_err());
        assert!("0xzz1f000000000000000000000000000000000102"
            .parse::<Address>()
            .is_err());
        assert!("0x7e1f00000000000000000000000000000000010"
            .parse::<Address>()
            .is_err());
    }

    #[test]
    fn quantities_parse() {
        assert_eq!(parse_quantity(&json!("0x1a"), "x").unwrap(), 26);
        assert_eq!(parse_quantity(&json!(7), "x").unwrap(), 7);
        assert!(parse_quantity(&json!("0x"), "x").is_err());
        assert!(parse_quantity(&json!("12"), "x").is_err());
        assert!(parse_quantity(&Value::Null, "x").is_err());
        assert_eq!(quantity(255), "0xff");
    }
}
