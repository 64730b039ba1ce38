//! Independent checks of generated chains, shared by the integration tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::Hash;
use bitcoin::script::Builder;
use bitcoin::{Address, Block, BlockHash, Network, OutPoint, ScriptBuf, Transaction, Txid};
use chaintrace_fixturegen::{read_blk_dir, GeneratedBlock, OutputRef, OutputType};
use serde::de::DeserializeOwned;

pub const DUST: u64 = 546;
pub const MATURITY: u32 = 100;

pub fn subsidy(height: u32) -> u64 {
    let halvings = height / 150;
    if halvings >= 64 {
        0
    } else {
        5_000_000_000 >> halvings
    }
}

#[derive(Clone, Debug)]
pub struct Utxo {
    pub value: u64,
    pub height: u32,
    pub coinbase: bool,
    pub script: ScriptBuf,
}

/// What a verified active chain contains.
#[derive(Default)]
pub struct ChainCheck {
    pub tip_height: u32,
    pub tip_hash: Option<BlockHash>,
    pub active: Vec<BlockHash>,
    pub utxos: HashMap<OutPoint, Utxo>,
    /// Every output ever created on the active chain.
    pub outputs: HashMap<OutPoint, Utxo>,
    /// txid -> (height, fee)
    pub txs: HashMap<Txid, (u32, u64)>,
    pub created_types: BTreeMap<OutputType, u64>,
    pub spent_types: BTreeMap<OutputType, u64>,
    pub non_coinbase_txs: u64,
    pub inputs: u64,
    pub outputs_count: u64,
    pub segwit_blocks: u64,
    pub legacy_txs: u64,
    pub stale_blocks: u64,
    pub same_block_spends: u64,
}

/// Checks every rule the generator promises; panics with a precise message on violation.
pub fn verify(blocks: &[GeneratedBlock]) -> ChainCheck {
    let mut check = ChainCheck::default();
    let mut heights: HashMap<BlockHash, u32> = HashMap::new();
    let mut stale_hashes = Vec::new();
    for generated in blocks {
        let block = &generated.block;
        let hash = block.block_hash();
        check_block_shape(block, generated.height);
        if generated.stale {
            let parent = heights.get(&block.header.prev_blockhash).copied();
            assert_eq!(
                parent.map(|p| p + 1),
                Some(generated.height),
                "stale block {hash} has an unknown parent"
            );
            check_stale_body(&check, block);
            stale_hashes.push(hash);
            check.stale_blocks += 1;
        } else {
            apply_active(&mut check, generated);
        }
        heights.insert(hash, generated.height);
    }
    let active: HashSet<_> = check.active.iter().collect();
    for hash in &stale_hashes {
        assert!(
            !active.contains(hash),
            "stale block {hash} is on the active chain"
        );
        assert!(
            heights[hash] < check.tip_height,
            "stale branch must not reach the tip height"
        );
    }
    check
}

fn check_block_shape(block: &Block, height: u32) {
    assert!(block.check_merkle_root(), "bad merkle root at {height}");
    assert!(
        block.check_witness_commitment(),
        "bad witness commitment at {height}"
    );
    assert!(
        block.header.validate_pow(block.header.target()).is_ok(),
        "bad PoW at {height}"
    );
    assert_eq!(block.header.bits.to_consensus(), 0x207f_ffff);
    if height > 0 {
        assert_eq!(block.header.version.to_consensus(), 0x2000_0000);
        let coinbase = &block.txdata[0];
        assert!(coinbase.is_coinbase());
        let bip34 = Builder::new().push_int(i64::from(height)).into_script();
        assert!(
            coinbase.input[0]
                .script_sig
                .as_bytes()
                .starts_with(bip34.as_bytes()),
            "BIP34 at {height}"
        );
        let len = coinbase.input[0].script_sig.len();
        assert!((2..=100).contains(&len));
        let has_witness = block
            .txdata
            .iter()
            .skip(1)
            .any(|t| t.input.iter().any(|i| !i.witness.is_empty()));
        assert_eq!(coinbase.input[0].witness.len(), usize::from(has_witness));
    }
}

fn apply_active(check: &mut ChainCheck, generated: &GeneratedBlock) {
    let block = &generated.block;
    let height = generated.height;
    assert_eq!(
        height as usize,
        check.active.len(),
        "active blocks arrive in height order"
    );
    if let Some(prev) = check.active.last() {
        assert_eq!(&block.header.prev_blockhash, prev, "prev link at {height}");
        assert!(block.header.time > 0);
    } else {
        assert_eq!(
            block.block_hash(),
            bitcoin::constants::genesis_block(bitcoin::Network::Regtest).block_hash()
        );
    }
    let mut fees = 0u64;
    let mut created_here: HashSet<Txid> = HashSet::new();
    let mut segwit = false;
    for tx in block.txdata.iter().skip(1) {
        let txid = tx.compute_txid();
        let mut input_total = 0u64;
        for input in &tx.input {
            let spent = check
                .utxos
                .remove(&input.previous_output)
                .unwrap_or_else(|| {
                    panic!("{txid} spends missing or spent {}", input.previous_output)
                });
            if spent.coinbase {
                assert!(
                    height >= spent.height + MATURITY,
                    "{txid} spends immature coinbase"
                );
            }
            if created_here.contains(&input.previous_output.txid) {
                check.same_block_spends += 1;
            }
            *check
                .spent_types
                .entry(OutputType::of(&spent.script))
                .or_default() += 1;
            input_total += spent.value;
            segwit |= !input.witness.is_empty();
        }
        let output_total = check_outputs(tx);
        let fee = input_total
            .checked_sub(output_total)
            .unwrap_or_else(|| panic!("{txid} creates value"));
        assert!(
            fee >= tx.vsize() as u64,
            "{txid} pays below 1 sat/vB: {fee}"
        );
        assert!(
            fee <= tx.vsize() as u64 * 60 + 200_000,
            "{txid} overpays: {fee}"
        );
        fees += fee;
        if tx.input.iter().all(|i| i.witness.is_empty()) {
            check.legacy_txs += 1;
        }
        check.non_coinbase_txs += 1;
        check.inputs += tx.input.len() as u64;
        add_outputs(check, tx, txid, height, false);
        assert!(
            check.txs.insert(txid, (height, fee)).is_none(),
            "duplicate txid {txid}"
        );
        created_here.insert(txid);
    }
    let coinbase = &block.txdata[0];
    let cb_txid = coinbase.compute_txid();
    if height > 0 {
        let claimed: u64 = coinbase.output.iter().map(|o| o.value.to_sat()).sum();
        assert_eq!(
            claimed,
            subsidy(height) + fees,
            "coinbase value at {height}"
        );
        add_outputs(check, coinbase, cb_txid, height, true);
        assert!(
            check.txs.insert(cb_txid, (height, 0)).is_none(),
            "duplicate coinbase txid"
        );
    } else {
        check.txs.insert(cb_txid, (0, 0));
    }
    check.outputs_count += block
        .txdata
        .iter()
        .map(|t| t.output.len() as u64)
        .sum::<u64>();
    if segwit {
        check.segwit_blocks += 1;
    }
    check.active.push(block.block_hash());
    check.tip_height = height;
    check.tip_hash = Some(block.block_hash());
}

fn check_outputs(tx: &Transaction) -> u64 {
    let mut total = 0;
    for out in &tx.output {
        let value = out.value.to_sat();
        if out.script_pubkey.is_op_return() {
            assert_eq!(value, 0, "OP_RETURN with value");
        } else {
            assert!(
                value >= DUST,
                "dust output {value} in {}",
                tx.compute_txid()
            );
        }
        total += value;
    }
    total
}

fn add_outputs(check: &mut ChainCheck, tx: &Transaction, txid: Txid, height: u32, coinbase: bool) {
    for (vout, out) in tx.output.iter().enumerate() {
        let kind = OutputType::of(&out.script_pubkey);
        if !coinbase || kind != OutputType::OpReturn {
            *check.created_types.entry(kind).or_default() += 1;
        }
        let utxo = Utxo {
            value: out.value.to_sat(),
            height,
            coinbase,
            script: out.script_pubkey.clone(),
        };
        let outpoint = OutPoint {
            txid,
            vout: vout as u32,
        };
        check.outputs.insert(outpoint, utxo.clone());
        if !out.script_pubkey.is_op_return() {
            check.utxos.insert(outpoint, utxo);
        }
    }
}

/// Stale blocks copy transactions of the competing active block, so each must be known already;
/// the coinbase claims exactly subsidy plus the copied fees.
fn check_stale_body(check: &ChainCheck, block: &Block) {
    let mut fees = 0;
    let mut seen = BTreeSet::new();
    for tx in block.txdata.iter().skip(1) {
        let txid = tx.compute_txid();
        let (_, fee) = check
            .txs
            .get(&txid)
            .unwrap_or_else(|| panic!("stale tx {txid} unknown"));
        assert!(seen.insert(txid));
        fees += fee;
    }
    let height = block
        .bip34_block_height()
        .map(|h| h as u32)
        .unwrap_or_else(|_| small_height(block));
    let claimed: u64 = block.txdata[0]
        .output
        .iter()
        .map(|o| o.value.to_sat())
        .sum();
    assert_eq!(claimed, subsidy(height) + fees, "stale coinbase value");
}

/// Heights 1-16 are encoded as OP_1..OP_16, which rust-bitcoin's BIP34 parser rejects.
fn small_height(block: &Block) -> u32 {
    let first = block.txdata[0].input[0].script_sig.as_bytes()[0];
    u32::from(first - 0x50)
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    bitcoin::hashes::sha256::Hash::hash(bytes).to_byte_array()
}

/// The regtest chain's block subsidy unit, for amounts the scenario manifests state in BTC.
pub const BTC: u64 = 100_000_000;

/// A manifest's txid.
pub fn txid(text: &str) -> Txid {
    text.parse().expect("manifest txids are hex")
}

/// The outpoint a manifest output names.
pub fn outpoint(r: &OutputRef) -> OutPoint {
    OutPoint {
        txid: txid(&r.txid),
        vout: r.vout,
    }
}

/// The transaction with txid `id` on the active chain.
pub fn tx_by_id(blocks: &[GeneratedBlock], id: &str) -> Transaction {
    let id = txid(id);
    blocks
        .iter()
        .filter(|g| !g.stale)
        .flat_map(|g| g.block.txdata.iter())
        .find(|tx| tx.compute_txid() == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not on the active chain"))
}

/// The regtest address an output on the active chain pays, as the manifests spell it.
pub fn address_of(check: &ChainCheck, op: &OutPoint) -> String {
    Address::from_script(&check.outputs[op].script, Network::Regtest)
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// Every block serialised, stale ones included, for byte-for-byte comparisons.
pub fn block_bytes(blocks: &[GeneratedBlock]) -> Vec<Vec<u8>> {
    blocks.iter().map(|g| serialize(&g.block)).collect()
}

/// What a scenario writer left in a directory, read back independently.
pub struct Written<M> {
    /// Blocks in `blocks/`, stale ones included.
    pub records: usize,
    /// `{name}.json`, parsed.
    pub manifest: M,
    /// `{name}.tagpack.yaml`.
    pub tagpack: String,
}

/// Reads back what `write_heist` / `write_mixers` wrote to `dir` for scenario `name`.
pub fn read_written<M: DeserializeOwned>(dir: &Path, name: &str) -> Written<M> {
    let records = read_blk_dir(&dir.join("blocks")).unwrap().len();
    let json = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
    Written {
        records,
        manifest: serde_json::from_str(&json).unwrap(),
        tagpack: std::fs::read_to_string(dir.join(format!("{name}.tagpack.yaml"))).unwrap(),
    }
}
