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

use std::io;
use std::path::Path;

use crate::blkfile::BlkWriterOptions;
use crate::chain::GeneratedBlock;
use crate::scenario::{self, Plan};

pub use manifest::*;

pub const BITVAULT: &str = "Bitvault Exchange";
pub const NORTHBANK: &str = "Northbank Exchange";
pub const KEYPORT: &str = "Keyport Exchange";

const PLAN: Plan = Plan {
    name: "heist",
    seed: 0x4e15_7b17,
    tip_height: 240,
    txs_per_block: 4,
    wallets: 120,
    stale_forks: &[(145, 1), (205, 2)],
};

/// A generated heist: blocks in arrival order (stale ones included) and the ground truth.
#[derive(Clone, Debug)]
pub struct HeistChain {
    pub blocks: Vec<GeneratedBlock>,
    pub manifest: HeistManifest,
}

/// Generates the heist chain in memory (about 250 blocks, well under 1 MB).
pub fn generate_heist() -> io::Result<HeistChain> {
    let mut story = story::Story::new(PLAN.seed);
    let (blocks, tip) =
        scenario::generate(&PLAN, |height, econ, draft| story.play(height, econ, draft))?;
    let manifest = story.into_manifest(&blocks, tip)?;
    Ok(HeistChain { blocks, manifest })
}

/// Writes the heist: blk files in `dir/blocks/`, the manifest in `dir/heist.json` and the
/// TagPack in `dir/heist.tagpack.yaml`.
pub fn write_heist(dir: &Path, opts: &BlkWriterOptions) -> io::Result<HeistManifest> {
    let heist = generate_heist()?;
    let tagpack = tagpack::render(&heist.manifest);
    scenario::write(dir, opts, "heist", &heist.blocks, &heist.manifest, tagpack)?;
    Ok(heist.manifest)
}
