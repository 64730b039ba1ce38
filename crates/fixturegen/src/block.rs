//! Block assembly: coinbase, witness commitment, merkle root and regtest proof of work.

use bitcoin::block::{Header, Version};
use bitcoin::blockdata::constants::genesis_block;
use bitcoin::hashes::Hash;
use bitcoin::script::Builder;
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf,
    Sequence, Target, Transaction, TxIn, TxMerkleNode, TxOut, Witness,
};

use crate::scripts::push;

/// Regtest's proof-of-work limit; roughly every second header hash meets it.
pub(crate) const REGTEST_BITS: u32 = 0x207f_ffff;

/// BIP9 "top bits" version that Core's miner uses when no deployment is signalled.
const BLOCK_VERSION: i32 = 0x2000_0000;

/// Regtest halves the subsidy every 150 blocks.
const HALVING_INTERVAL: u32 = 150;

const INITIAL_SUBSIDY: u64 = 50 * 100_000_000;

/// The witness reserved value Core puts in the coinbase witness.
const WITNESS_RESERVED_VALUE: [u8; 32] = [0; 32];

pub(crate) fn subsidy(height: u32) -> u64 {
    let halvings = height / HALVING_INTERVAL;
    INITIAL_SUBSIDY.checked_shr(halvings).unwrap_or(0)
}

pub(crate) fn regtest_genesis() -> Block {
    genesis_block(Network::Regtest)
}

/// Timestamps advance ten minutes per height with jitter below ten minutes, so they strictly
/// increase along any branch and competing blocks at one height get different times.
pub(crate) fn block_time(height: u32, jitter: u32) -> u32 {
    REGTEST_GENESIS_TIME + 600 * height + jitter % 600
}

/// `genesis_block(Network::Regtest).header.time`, checked by a unit test.
const REGTEST_GENESIS_TIME: u32 = 1_296_688_602;

/// A coinbase in Core's shape: BIP34 height first (minimally encoded, so heights 1-16 are
/// OP_1..OP_16), then an extra nonce that keeps competing coinbases at one height distinct.
pub(crate) fn coinbase(
    height: u32,
    extra_nonce: u64,
    payout: ScriptBuf,
    value: u64,
) -> Transaction {
    let builder = Builder::new().push_int(i64::from(height));
    let script_sig = push(push(builder, &extra_nonce.to_le_bytes()), b"/chaintrace/").into_script();
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig,
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(value),
            script_pubkey: payout,
        }],
    }
}

/// Puts the coinbase and transactions into a block with a valid merkle root, a BIP141
/// commitment when any transaction carries a witness, and a nonce that meets the target.
pub(crate) fn assemble(
    prev_blockhash: BlockHash,
    time: u32,
    coinbase: Transaction,
    txs: Vec<Transaction>,
) -> Block {
    let mut txdata = Vec::with_capacity(txs.len() + 1);
    txdata.push(coinbase);
    txdata.extend(txs);
    let header = Header {
        version: Version::from_consensus(BLOCK_VERSION),
        prev_blockhash,
        merkle_root: TxMerkleNode::all_zeros(),
        time,
        bits: CompactTarget::from_consensus(REGTEST_BITS),
        nonce: 0,
    };
    let mut block = Block { header, txdata };
    if block.txdata[1..]
        .iter()
        .any(|tx| tx.input.iter().any(|i| !i.witness.is_empty()))
    {
        add_witness_commitment(&mut block);
    }
    block.header.merkle_root = block
        .compute_merkle_root()
        .expect("a block always holds its coinbase");
    mine(&mut block.header);
    block
}

fn add_witness_commitment(block: &mut Block) {
    // The witness root treats the coinbase wtxid as zero, so it can be computed before the
    // commitment output exists.
    let root = block
        .witness_root()
        .expect("a block always holds its coinbase");
    let commitment = Block::compute_witness_commitment(&root, &WITNESS_RESERVED_VALUE);
    let mut payload = vec![0xaa, 0x21, 0xa9, 0xed];
    payload.extend_from_slice(commitment.as_byte_array());
    let script = push(
        Builder::new().push_opcode(bitcoin::opcodes::all::OP_RETURN),
        &payload,
    )
    .into_script();
    let coinbase = &mut block.txdata[0];
    coinbase.input[0].witness = Witness::from_slice(&[WITNESS_RESERVED_VALUE]);
    coinbase.output.push(TxOut {
        value: Amount::ZERO,
        script_pubkey: script,
    });
}

fn mine(header: &mut Header) {
    let target = Target::from_compact(header.bits);
    while !target.is_met_by(header.block_hash()) {
        header.nonce = header.nonce.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_time_matches() {
        assert_eq!(regtest_genesis().header.time, REGTEST_GENESIS_TIME);
    }

    #[test]
    fn subsidy_halves_every_150_blocks() {
        assert_eq!(subsidy(0), 5_000_000_000);
        assert_eq!(subsidy(149), 5_000_000_000);
        assert_eq!(subsidy(150), 2_500_000_000);
        assert_eq!(subsidy(150 * 64), 0);
        assert_eq!(subsidy(u32::MAX), 0);
    }

    #[test]
    fn assembled_block_is_valid() {
        let genesis = regtest_genesis();
        let cb = coinbase(1, 7, ScriptBuf::new(), subsidy(1));
        let block = assemble(genesis.block_hash(), block_time(1, 5), cb, Vec::new());
        assert!(block.check_merkle_root());
        assert!(block.check_witness_commitment());
        assert!(block.header.validate_pow(block.header.target()).is_ok());
        assert_eq!(block.header.prev_blockhash, genesis.block_hash());
    }
}
