//! Test fixtures for chaintrace: deterministic regtest Bitcoin chains written exactly as
//! Bitcoin Core stores them (`blocks/blk*.dat`), a scripted theft-and-laundering scenario with
//! its ground truth, competing branches for reorg tests, a loopback server that replays
//! Core's REST interface, and one that replays recorded Ethereum JSON-RPC ([`RpcReplay`]).
//!
//! Guarantees:
//! * **Determinism.** The same [`ChainSpec`] (or the heist) yields byte-identical blocks and
//!   files on every run and machine: one seeded xoshiro256** stream, integer arithmetic, and
//!   no hash-map iteration anywhere that shapes output.
//! * **Consensus-shaped validity.** Every block links to its parent, commits to its
//!   transactions with a correct merkle root and (when any transaction has a witness) a BIP141
//!   witness commitment, meets the regtest proof-of-work target, and has a BIP34 coinbase paying
//!   exactly subsidy plus fees. Every input spends an existing, unspent output once; coinbase
//!   outputs are spent only after 100 confirmations; every transaction conserves value
//!   (inputs = outputs + fee) and creates no dust except zero-value `OP_RETURN`s.
//!   Scripts have realistic shapes, but keys are not curve points and signatures do not verify.
//! * **Bounded memory.** Chains are streamed block by block; only the live UTXO set is kept.
//!
//! Entry points: [`write_chain`] / [`generate_chain`], [`write_heist`] / [`generate_heist`]
//! (the scenario is told in the [`heist`] module), [`write_mixers`] / [`generate_mixers`]
//! (CoinJoins, a long peel chain and clustering traps, told in [`mixers`]), [`fork_chain`], [`BlkWriter`] /
//! [`read_blk_dir`], and [`RestServer`].
//!
//! Ethereum: [`anvil::Anvil`] runs a real, pinned anvil node (provisioned from npm into
//! `target/tools/`) whose blocks are reproducible, and [`eth_scenario::run`] plays a theft,
//! split, mixer and exchange-deposit story on it and returns the ground truth.

pub mod anvil;
mod blkfile;
mod block;
mod chain;
mod economy;
pub mod eth_scenario;
mod fork;
pub mod heist;
mod keys;
pub mod mixers;
mod rest_server;
mod rng;
pub mod rpc_replay;
mod scenario;
mod scripts;
mod tagpack_yaml;
mod txbuild;

use std::io;
use std::path::Path;

use bitcoin::BlockHash;

pub use blkfile::{
    blk_path, read_blk_dir, read_xor_key, xor_in_place, BlkRecord, BlkWriter, BlkWriterOptions,
    WriteStats, CORE_MAX_FILE_SIZE, CORE_PREALLOC_CHUNK, XOR_KEY_FILE,
};
pub use chain::{generate_chain, ChainGenerator, ChainSpec, GeneratedBlock};
pub use fork::fork_chain;
pub use heist::{
    generate_heist, write_heist, ChainFacts, CoinJoin, CoinJoinInput, CoinJoinOutput,
    Consolidation, Deposit, DepositAddress, Entities, Exchange, HeistChain, HeistManifest,
    OutputRef, PeelHop, Split, Theft, Thief, Transfer, BITVAULT, KEYPORT, NORTHBANK,
};
pub use mixers::{
    generate_mixers, write_mixers, ClusterExpectations, Coordinator, Distribution, ExpectedCluster,
    Merge, MixInput, MixOutput, MixersChain, MixersExchange, MixersManifest, MixersTheft, MixingTx,
    PeelChain, Purposed, SeparatePair, MERIDIAN, QUAYSIDE, TALLYPORT,
};
pub use rest_server::RestServer;
pub use rng::{splitmix64, Rng};
pub use rpc_replay::RpcReplay;
pub use scripts::OutputType;

/// What [`write_chain`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSummary {
    pub tip_height: u32,
    pub tip_hash: BlockHash,
    /// Blocks on the active chain, genesis included.
    pub blocks: u64,
    /// Blocks written that are not on the active chain.
    pub stale_blocks: u64,
    /// Transactions on the active chain, coinbases included.
    pub txs: u64,
    /// Inputs of non-coinbase transactions on the active chain.
    pub inputs: u64,
    /// Outputs on the active chain, coinbase outputs included.
    pub outputs: u64,
    /// Number of blk files.
    pub files: u32,
    /// Size of all blk files, padding included.
    pub bytes_written: u64,
}

impl ChainSummary {
    fn empty() -> Self {
        ChainSummary {
            tip_height: 0,
            tip_hash: bitcoin::constants::genesis_block(bitcoin::Network::Regtest).block_hash(),
            blocks: 0,
            stale_blocks: 0,
            txs: 0,
            inputs: 0,
            outputs: 0,
            files: 0,
            bytes_written: 0,
        }
    }

    fn count(&mut self, generated: &GeneratedBlock) {
        if generated.stale {
            self.stale_blocks += 1;
            return;
        }
        if self.blocks == 0 || generated.height > self.tip_height {
            self.tip_height = generated.height;
            self.tip_hash = generated.block.block_hash();
        }
        self.blocks += 1;
        self.txs += generated.block.txdata.len() as u64;
        for tx in &generated.block.txdata {
            if !tx.is_coinbase() {
                self.inputs += tx.input.len() as u64;
            }
            self.outputs += tx.output.len() as u64;
        }
    }
}

/// Generates the chain described by `spec` and writes it to `dir` as Core's blk files (the
/// directory plays the role of Core's `blocks/`). Blocks stream straight to disk, so chains of
/// millions of transactions need memory only for the UTXO set and the shuffle window.
pub fn write_chain(
    spec: &ChainSpec,
    out: &BlkWriterOptions,
    dir: &Path,
) -> io::Result<ChainSummary> {
    let mut writer = BlkWriter::create(dir, out)?;
    let mut summary = ChainSummary::empty();
    for generated in generate_chain(spec) {
        summary.count(&generated);
        writer.write_block(&generated.block)?;
    }
    let stats = writer.finish()?;
    summary.files = stats.files;
    summary.bytes_written = stats.bytes;
    Ok(summary)
}
