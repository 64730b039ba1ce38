//! A small regtest chain with a scripted exchange theft and its laundering, plus ground truth.
//!
//! # The story
//!
//! *Bitvault Exchange* keeps customer deposits in a 2-of-3 P2WSH hot wallet (two addresses).
//! From height 102 to 141 forty customers deposit 137.5 BTC in total; Bitvault pays two
//! ordinary withdrawals (5 BTC at height 155, 7.5 BTC at 162). At height 150 an unrelated
//! wallet pays the thief 5 BTC of clean coins.
//!
//! At height **170** the thief, having compromised Bitvault's withdrawal signer, takes
//! **120 BTC** in one transaction: 60 BTC and 40 BTC to two P2WPKH addresses and 20 BTC to a
//! taproot address. The exchange pays the fee and its change returns to the hot wallet.
//!
//! * **Peel chain** (heights 172-186, one hop every two blocks): the 60 BTC output goes
//!   through 8 hops, each peeling a round amount to a fresh address and sending the rest to a
//!   fresh change address: 5 BTC (mule), 1.00002 BTC (the thief's CoinJoin premix), 3 BTC
//!   (deposit at *Northbank Exchange*), 2.5 BTC (mule), 4 BTC (deposit at *Keyport Exchange*),
//!   2 BTC (mule), 1.5 BTC (deposit at Northbank), 3 BTC (mule). About 38 BTC stays on the
//!   last change address.
//! * **Split** (height 173): the 40 BTC output fans out into ten outputs of 4 BTC (the last
//!   one 4 BTC minus the fee).
//! * **CoinJoin** (height 178): the 1.00002 BTC premix joins four uninvolved participants,
//!   each funded with 1.00002 BTC at height 176, in a 5-input/5-output transaction with five
//!   1 BTC outputs and no change; the 10,000 sat fee is the inputs' excess.
//! * **Consolidation** (height 180): four split outputs (16 BTC stolen) and the clean 5 BTC
//!   merge into one output, deposited at Keyport at height 188.
//! * The thief's CoinJoin output is deposited at Northbank at height 182. At height 184 one
//!   uninvolved participant deposits its CoinJoin output at Keyport: innocent, yet one fifth
//!   tainted under the haircut policy.
//! * The 20 BTC taproot output and six split outputs never move.
//!
//! Unrelated wallets trade in every block from height 101, and fourteen innocent customers
//! deposit at Northbank and Keyport (heights 112-229), so not everything reaching an exchange
//! is stolen. The chain ends at height 240; stale forks compete at heights 145 and 205-206.
//!
//! [`write_heist`] stores the blocks in `dir/blocks/` and the ground truth next to them in
//! `dir/heist.json` ([`HeistManifest`]) and `dir/heist.tagpack.yaml` (a GraphSense TagPack).

mod cast;
mod manifest;
mod plot;
mod story;
mod tagpack;

use std::fs;
use std::io;
use std::path::Path;

use crate::blkfile::{BlkWriter, BlkWriterOptions};
use crate::chain::{ChainGenerator, ChainSpec, GeneratedBlock};

pub(crate) use cast::{address_string, Addr, Minter};
pub use manifest::*;

pub const BITVAULT: &str = "Bitvault Exchange";
pub const NORTHBANK: &str = "Northbank Exchange";
pub const KEYPORT: &str = "Keyport Exchange";

const SEED: u64 = 0x4e15_7b17;
const TIP_HEIGHT: u32 = 240;
const BACKGROUND_TXS_PER_BLOCK: u32 = 4;
const WALLETS: u32 = 120;
const STALE_FORKS: [(u32, u32); 2] = [(145, 1), (205, 2)];

/// A generated heist: blocks in arrival order (stale ones included) and the ground truth.
#[derive(Clone, Debug)]
pub struct HeistChain {
    pub blocks: Vec<GeneratedBlock>,
    pub manifest: HeistManifest,
}

/// Generates the heist chain in memory (about 250 blocks, well under 1 MB).
pub fn generate_heist() -> io::Result<HeistChain> {
    let spec = ChainSpec {
        seed: SEED,
        blocks: TIP_HEIGHT,
        txs_per_block: BACKGROUND_TXS_PER_BLOCK,
        stale_branches: 0,
        wallets: WALLETS,
    };
    let mut gen = ChainGenerator::new(&spec);
    for (fork, len) in STALE_FORKS {
        gen.plan_stale(fork, len);
    }
    let mut story = story::Story::new(SEED);
    let mut blocks = Vec::new();
    while gen.next_height() <= TIP_HEIGHT {
        let height = gen.next_height();
        let mut outcome = Ok(());
        blocks.extend(gen.step_with(|econ, draft| outcome = story.play(height, econ, draft)));
        outcome.map_err(|what| {
            io::Error::other(format!("heist scenario failed at height {height}: {what}"))
        })?;
    }
    let manifest = story.into_manifest(&blocks, gen.tip())?;
    Ok(HeistChain { blocks, manifest })
}

/// Writes the heist: blk files in `dir/blocks/`, the manifest in `dir/heist.json` and the
/// TagPack in `dir/heist.tagpack.yaml`.
pub fn write_heist(dir: &Path, opts: &BlkWriterOptions) -> io::Result<HeistManifest> {
    let heist = generate_heist()?;
    let mut writer = BlkWriter::create(&dir.join("blocks"), opts)?;
    for generated in &heist.blocks {
        writer.write_block(&generated.block)?;
    }
    writer.finish()?;
    let json = serde_json::to_string_pretty(&heist.manifest).map_err(io::Error::other)?;
    fs::write(dir.join("heist.json"), json + "\n")?;
    fs::write(
        dir.join("heist.tagpack.yaml"),
        tagpack::render(&heist.manifest),
    )?;
    Ok(heist.manifest)
}

pub(crate) fn chain_facts(blocks: &[GeneratedBlock], tip: bitcoin::BlockHash) -> ChainFacts {
    let active = blocks.iter().filter(|b| !b.stale);
    let mut facts = ChainFacts {
        tip_height: 0,
        tip_hash: tip.to_string(),
        blocks: 0,
        stale_blocks: blocks.iter().filter(|b| b.stale).count() as u32,
        txs: 0,
        inputs: 0,
        outputs: 0,
    };
    for generated in active {
        facts.tip_height = facts.tip_height.max(generated.height);
        facts.blocks += 1;
        facts.txs += generated.block.txdata.len() as u64;
        for tx in &generated.block.txdata {
            if !tx.is_coinbase() {
                facts.inputs += tx.input.len() as u64;
            }
            facts.outputs += tx.output.len() as u64;
        }
    }
    facts
}
