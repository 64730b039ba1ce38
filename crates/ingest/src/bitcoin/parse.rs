//! Turning raw blocks into [`NewBlock`]s: decoding with rust-bitcoin, checking that the block is
//! what its header commits to, and classifying every output. Pure functions, safe to run in
//! parallel.

use bitcoin::hashes::Hash;
use bitcoin::{Block, Transaction, TxMerkleNode};
use chaintrace_model::btc::classify;
use chaintrace_store::btc::{NewBlock, NewOutput, NewTx};

/// Why a block was rejected (the caller adds where it came from).
pub type Rejection = String;

/// Decodes and validates a raw block. `expected_hash` is the hash the block was announced with.
pub fn parse_block(
    raw: &[u8],
    expected_hash: Option<[u8; 32]>,
    height: u32,
    chainwork: [u8; 32],
) -> Result<NewBlock, Rejection> {
    let block: Block =
        bitcoin::consensus::deserialize(raw).map_err(|e| format!("malformed block: {e}"))?;
    if let Some(expected) = expected_hash {
        let got = block.block_hash().to_byte_array();
        if got != expected {
            return Err(format!(
                "block bytes hash to {}, not the expected block",
                chaintrace_store::btc::display_hash(&got)
            ));
        }
    }
    block_to_new(&block, height, chainwork)
}

/// Validates a decoded block and converts it. Checks proof of work against the header's own
/// target, the merkle root and the segwit witness commitment.
pub fn block_to_new(
    block: &Block,
    height: u32,
    chainwork: [u8; 32],
) -> Result<NewBlock, Rejection> {
    let header = &block.header;
    header
        .validate_pow(header.target())
        .map_err(|e| format!("proof of work: {e}"))?;
    let first = block.txdata.first().ok_or("block has no transactions")?;
    if !first.is_coinbase() {
        return Err("the first transaction is not a coinbase".into());
    }
    let txs: Vec<NewTx> = block
        .txdata
        .iter()
        .enumerate()
        .map(|(i, tx)| convert_tx(tx, i == 0))
        .collect();
    let leaves = txs.iter().map(|t| TxMerkleNode::from_byte_array(t.txid));
    let root = bitcoin::merkle_tree::calculate_root(leaves).ok_or("block has no transactions")?;
    if root != header.merkle_root {
        return Err(format!(
            "merkle root mismatch: header commits to {}, transactions hash to {root}",
            header.merkle_root
        ));
    }
    if !block.check_witness_commitment() {
        return Err("segwit witness commitment does not match the transactions' witnesses".into());
    }
    Ok(NewBlock {
        height,
        hash: block.block_hash().to_byte_array(),
        prev_hash: header.prev_blockhash.to_byte_array(),
        time: header.time,
        bits: header.bits.to_consensus(),
        chainwork,
        txs,
    })
}

fn convert_tx(tx: &Transaction, coinbase: bool) -> NewTx {
    let inputs = if coinbase {
        Vec::new()
    } else {
        tx.input
            .iter()
            .map(|i| {
                (
                    i.previous_output.txid.to_byte_array(),
                    i.previous_output.vout,
                )
            })
            .collect()
    };
    let outputs = tx
        .output
        .iter()
        .map(|o| {
            let (kind, addr) = classify(&o.script_pubkey);
            NewOutput {
                value: o.value.to_sat(),
                kind,
                addr,
            }
        })
        .collect();
    NewTx {
        txid: tx.compute_txid().to_byte_array(),
        version: tx.version.0,
        lock_time: tx.lock_time.to_consensus_u32(),
        vsize: tx.vsize() as u32,
        coinbase,
        inputs,
        outputs,
    }
}
