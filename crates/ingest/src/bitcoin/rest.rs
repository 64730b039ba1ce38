//! A client for Bitcoin Core's REST interface (`bitcoind -rest`): chain info, block hashes by
//! height, raw blocks, and transactions (for prevouts below a partial index's start).
//!
//! Transient failures (connection refused, timeouts, HTTP 5xx such as Core's 503 during
//! warm-up) are retried with exponential backoff; a node that keeps failing is reported as
//! unavailable. Responses that are not what Core sends are bad data.

use std::time::Duration;

use bitcoin::block::{Header, Version};
use bitcoin::hashes::Hash;
use bitcoin::{Block, BlockHash, CompactTarget, Transaction, TxMerkleNode};
use chaintrace_model::btc::classify;
use chaintrace_model::Network;
use chaintrace_store::btc::{display_hash, NewOutput};
use serde::Deserialize;

use crate::IngestError;

/// How persistent the client is.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            first_backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(60),
        }
    }
}

/// `/rest/chaininfo.json`, the fields we use.
#[derive(Clone, Debug, Deserialize)]
pub struct ChainInfo {
    pub chain: String,
    pub blocks: u32,
    pub bestblockhash: String,
}

impl ChainInfo {
    pub fn network(&self) -> Result<Network, IngestError> {
        self.chain.parse().map_err(|_| {
            IngestError::bad_data(
                "/rest/chaininfo.json",
                format!("unknown chain {:?}", self.chain),
            )
        })
    }
}

pub struct RestClient {
    base: String,
    agent: ureq::Agent,
    retry: RetryPolicy,
}

/// Largest response we accept: a 4 MB block as JSON with hex is about 10 MB.
const MAX_RESPONSE: u64 = 64 << 20;

enum Fetch {
    Body(Vec<u8>),
    NotFound,
}

impl RestClient {
    pub fn new(base: &str, retry: RetryPolicy) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(retry.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        RestClient {
            base: base.trim_end_matches('/').to_string(),
            agent,
            retry,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn get(&self, path: &str) -> Result<Fetch, IngestError> {
        let url = format!("{}{path}", self.base);
        let mut backoff = self.retry.first_backoff;
        let mut last = String::new();
        for attempt in 0..self.retry.attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(backoff);
                backoff *= 2;
            }
            match self.agent.get(&url).call() {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    let body = resp
                        .body_mut()
                        .with_config()
                        .limit(MAX_RESPONSE)
                        .read_to_vec();
                    match (status, body) {
                        (200, Ok(b)) => return Ok(Fetch::Body(b)),
                        (404, _) => return Ok(Fetch::NotFound),
                        (s, Ok(b)) if s >= 500 => {
                            last = format!("HTTP {s}: {}", String::from_utf8_lossy(&b).trim())
                        }
                        (s, Ok(b)) => {
                            return Err(IngestError::bad_data(
                                url,
                                format!("HTTP {s}: {}", String::from_utf8_lossy(&b).trim()),
                            ))
                        }
                        (_, Err(e)) => last = e.to_string(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            tracing::debug!(%url, attempt, error = %last, "REST request failed");
        }
        Err(IngestError::Unavailable {
            url: self.base.clone(),
            reason: format!("GET {path}: {last}"),
        })
    }

    fn get_required(&self, path: &str) -> Result<Vec<u8>, IngestError> {
        match self.get(path)? {
            Fetch::Body(b) => Ok(b),
            Fetch::NotFound => Err(IngestError::Unavailable {
                url: self.base.clone(),
                reason: format!(
                    "GET {path} returned 404 (is the REST interface enabled with -rest?)"
                ),
            }),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
    ) -> Result<T, IngestError> {
        serde_json::from_slice(body).map_err(|e| {
            IngestError::bad_data(
                format!("{}{path}", self.base),
                format!("unexpected JSON: {e}"),
            )
        })
    }

    pub fn chain_info(&self) -> Result<ChainInfo, IngestError> {
        let path = "/rest/chaininfo.json";
        let body = self.get_required(path)?;
        self.json(path, &body)
    }

    /// Hash of the active-chain block at `height`, or `None` above the node's tip.
    pub fn block_hash(&self, height: u32) -> Result<Option<[u8; 32]>, IngestError> {
        #[derive(Deserialize)]
        struct Reply {
            blockhash: String,
        }
        let path = format!("/rest/blockhashbyheight/{height}.json");
        let body = match self.get(&path)? {
            Fetch::Body(b) => b,
            Fetch::NotFound => return Ok(None),
        };
        let reply: Reply = self.json(&path, &body)?;
        parse_hash(&reply.blockhash)
            .map(Some)
            .ok_or_else(|| IngestError::bad_data(path, "blockhash is not a 64-digit hex hash"))
    }

    /// The block with `hash`, as raw bytes when the node serves them, else rebuilt from JSON
    /// (and checked to hash to `hash` either way).
    pub fn block(&self, hash: &[u8; 32]) -> Result<Block, IngestError> {
        let shown = display_hash(hash);
        let bin_path = format!("/rest/block/{shown}.bin");
        let block = match self.get(&bin_path)? {
            Fetch::Body(raw) => bitcoin::consensus::deserialize::<Block>(&raw).map_err(|e| {
                IngestError::bad_data(
                    format!("{}{bin_path}", self.base),
                    format!("malformed block: {e}"),
                )
            })?,
            Fetch::NotFound => {
                let path = format!("/rest/block/{shown}.json");
                let body = self.get_required(&path)?;
                block_from_json(&self.json(&path, &body)?)
                    .map_err(|r| IngestError::bad_data(format!("{}{path}", self.base), r))?
            }
        };
        if block.block_hash().to_byte_array() != *hash {
            return Err(IngestError::bad_data(
                format!("{}{bin_path}", self.base),
                "the served block does not hash to the requested hash",
            ));
        }
        Ok(block)
    }

    /// Output `vout` of transaction `txid` (needs `-txindex` on the node for old transactions).
    pub fn prevout(&self, txid: &[u8; 32], vout: u32) -> Result<NewOutput, IngestError> {
        #[derive(Deserialize)]
        struct Reply {
            hex: String,
        }
        let path = format!("/rest/tx/{}.json", display_hash(txid));
        let body = match self.get(&path)? {
            Fetch::Body(b) => b,
            Fetch::NotFound => {
                return Err(IngestError::Unavailable {
                    url: self.base.clone(),
                    reason: format!("GET {path} returned 404; the node needs -txindex to serve prevouts below the index's start height"),
                })
            }
        };
        let reply: Reply = self.json(&path, &body)?;
        let bad = |r: String| IngestError::bad_data(format!("{}{path}", self.base), r);
        let tx: Transaction = decode_hex(&reply.hex)
            .and_then(|b| bitcoin::consensus::deserialize(&b).map_err(|e| e.to_string()))
            .map_err(bad)?;
        if tx.compute_txid().to_byte_array() != *txid {
            return Err(bad("the served transaction has a different txid".into()));
        }
        let out = tx
            .output
            .get(vout as usize)
            .ok_or_else(|| bad(format!("has no output {vout}")))?;
        let (kind, addr) = classify(&out.script_pubkey);
        Ok(NewOutput {
            value: out.value.to_sat(),
            kind,
            addr,
        })
    }
}

fn parse_hash(s: &str) -> Option<[u8; 32]> {
    chaintrace_store::btc::parse_display_hash(s)
}

fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return Err("odd-length hex".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| "invalid hex".to_string())
        })
        .collect()
}

/// Rebuilds a block from Core's `/rest/block/<hash>.json` (header fields plus each tx's `hex`).
fn block_from_json(v: &serde_json::Value) -> Result<Block, String> {
    let field = |k: &str| v.get(k).ok_or_else(|| format!("missing field {k:?}"));
    let hash_field = |k: &str| -> Result<BlockHash, String> {
        match v.get(k).and_then(|h| h.as_str()) {
            Some(s) => parse_hash(s)
                .map(BlockHash::from_byte_array)
                .ok_or_else(|| format!("{k} is not a hash")),
            None => Ok(BlockHash::all_zeros()),
        }
    };
    let int = |k: &str| {
        field(k)?
            .as_i64()
            .ok_or_else(|| format!("{k} is not an integer"))
    };
    let bits = field("bits")?
        .as_str()
        .and_then(|b| u32::from_str_radix(b, 16).ok())
        .ok_or("bits is not hex")?;
    let merkle = field("merkleroot")?
        .as_str()
        .and_then(parse_hash)
        .ok_or("merkleroot is not a hash")?;
    let header = Header {
        version: Version::from_consensus(int("version")? as i32),
        prev_blockhash: hash_field("previousblockhash")?,
        merkle_root: TxMerkleNode::from_byte_array(merkle),
        time: int("time")? as u32,
        bits: CompactTarget::from_consensus(bits),
        nonce: int("nonce")? as u32,
    };
    let txdata = field("tx")?
        .as_array()
        .ok_or("tx is not an array")?
        .iter()
        .map(|t| {
            let hex = t
                .get("hex")
                .and_then(|h| h.as_str())
                .ok_or("a transaction has no hex (use full tx details)")?;
            bitcoin::consensus::deserialize(&decode_hex(hex)?)
                .map_err(|e| format!("malformed transaction: {e}"))
        })
        .collect::<Result<Vec<Transaction>, String>>()?;
    Ok(Block { header, txdata })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decoding_rejects_garbage() {
        assert_eq!(decode_hex("00ff").unwrap(), vec![0, 255]);
        assert!(decode_hex("0").is_err());
        assert!(decode_hex("zz").is_err());
        assert!(decode_hex("é1").is_err());
    }

    #[test]
    fn json_blocks_need_their_fields() {
        assert!(block_from_json(&serde_json::json!({})).is_err());
        assert!(block_from_json(&serde_json::json!({"bits": "zz"})).is_err());
    }
}
