//! A regtest chain in which stolen coins go through every CoinJoin shape the tracing spec
//! detects, a long peel chain and clustering traps, plus ground truth.
//!
//! # The story
//!
//! *Meridian Exchange* keeps customer deposits on two P2WPKH hot-wallet addresses. From height
//! 102 to 121 twenty customers deposit 69.5 BTC; Meridian pays ordinary withdrawals of 4 BTC
//! (height 114) and 6 BTC (height 119).
//!
//! At height **125** the thief, holding Meridian's withdrawal signer, takes **40 BTC** in one
//! output (the theft outpoint); the exchange's change returns to its hot wallet. At height 126
//! the thief fans it out to its own addresses: 30 BTC for a peel chain, 0.05 BTC for a
//! Whirlpool Tx0, coins for the Wasabi rounds and a STONEWALLx2 payment, and 51 million sat
//! to four wallet addresses; the rest moves on at height 127, paying wallet addresses W1 and
//! W2 again (address reuse) and keeping about 9 BTC in reserve.
//!
//! * **Whirlpool** (heights 132-134): the thief's Tx0 is vector CJ4 (5,000,000 in; OP_RETURN,
//!   the 50,000 pool fee, four 1,000,285 premixes, 948,360 change, 500 fee). An unrelated new
//!   entrant makes its own Tx0 with two premixes. The mix is CJ1 and W-1: the thief's premix
//!   (input 0), the new entrant's premix and three 1,000,000 remixer coins go to five
//!   1,000,000 outputs; fee 570. Each input has its own parent transaction.
//! * **Consolidations** (heights 136-140): {W0, W1}, then {W1, W2}, then {W2, W3} together
//!   with the first two consolidations' outputs are co-spent: one multi-input cluster reached
//!   in three steps. The last one pays exactly 0.5 BTC to the JoinMarket taker's address.
//! * **Wasabi 1** (height 142): vector CJ3, ten participants and twelve inputs; the thief is
//!   the participant with two inputs (6,000,000 + 6,100,000), taking one 10,000,000 output and
//!   2,096,000 change. The coordinator takes 30,000.
//! * **Wasabi 2** (height 144): eight participants, twenty inputs sorted descending and
//!   CJ6's seventeen outputs sorted descending (15 standard denominations); two participants
//!   use taproot. The thief brings 4,800,000 + 2,344,830 and takes 5,000,000, 2,097,152 and
//!   45,678.
//! * **JoinMarket** (height 146): vector CJ2 with the thief as taker (0.5 BTC in; a 0.4 BTC
//!   output and 9,995,000 change), two makers (one with two coins).
//! * **STONEWALLx2** (height 148): the thief pays a vendor 2,000,000 with an unrelated
//!   collaborator who adds a coin and a 2,000,000 decoy output: two owners' inputs in one
//!   transaction, a trap for common-input clustering.
//! * **Peel chain** (heights 150-203): the 30 BTC coin runs through 54 hops, one per block,
//!   each with one input, the peel (a round amount to a fresh address) at output 0 and the
//!   change (to a fresh address) at output 1. Hops 9, 22, 36 and 49 peel into the thief's
//!   accounts at *Tallyport Exchange* and *Quayside Exchange*; the last change stays unspent.
//! * Deposits: the thief's Whirlpool output goes to Quayside (height 206) and its JoinMarket
//!   output to Tallyport (208). At height 210 an innocent remixer deposits its mix output at
//!   Tallyport: clean, yet a fifth tainted under haircut.
//!
//! Unrelated wallets trade in every block from height 101, and thirteen innocent customers
//! deposit at Tallyport and Quayside (heights 110-218). The chain ends at height 230.
//!
//! The CoinJoin participants and the STONEWALL collaborator are strangers to the thief and to
//! each other; `mixers.json` lists the address pairs a clusterer must keep apart, and the
//! address sets it must join (the consolidations; the peel chain's change addresses).
//!
//! [`write_mixers`] stores the blocks in `dir/blocks/` and the ground truth next to them in
//! `dir/mixers.json` ([`MixersManifest`]) and `dir/mixers.tagpack.yaml` (a GraphSense TagPack).

mod cast;
mod exchanges;
mod ground_truth;
mod joinmarket;
mod laundering;
mod manifest;
mod peel;
mod plot;
mod rounds;
mod stonewall;
mod story;
mod tagpack;
mod wasabi;
mod whirlpool;

use std::io;
use std::path::Path;

use crate::blkfile::BlkWriterOptions;
use crate::chain::GeneratedBlock;
use crate::scenario::{self, Plan};

pub use manifest::*;

pub const MERIDIAN: &str = "Meridian Exchange";
pub const TALLYPORT: &str = "Tallyport Exchange";
pub const QUAYSIDE: &str = "Quayside Exchange";

const PLAN: Plan = Plan {
    name: "mixers",
    seed: 0x313e_c01a,
    tip_height: 230,
    txs_per_block: 3,
    wallets: 100,
    stale_forks: &[],
};

/// A generated mixers chain: blocks in chain order and the ground truth.
#[derive(Clone, Debug)]
pub struct MixersChain {
    pub blocks: Vec<GeneratedBlock>,
    pub manifest: MixersManifest,
}

/// Generates the mixers chain in memory (231 blocks, well under 1 MB).
pub fn generate_mixers() -> io::Result<MixersChain> {
    let mut story = story::Story::new(PLAN.seed);
    let (blocks, tip) =
        scenario::generate(&PLAN, |height, econ, draft| story.play(height, econ, draft))?;
    let manifest = story.into_manifest(&blocks, tip)?;
    Ok(MixersChain { blocks, manifest })
}

/// Writes the scenario: blk files in `dir/blocks/`, the manifest in `dir/mixers.json` and
/// the TagPack in `dir/mixers.tagpack.yaml`.
pub fn write_mixers(dir: &Path, opts: &BlkWriterOptions) -> io::Result<MixersManifest> {
    let chain = generate_mixers()?;
    let tagpack = tagpack::render(&chain.manifest);
    scenario::write(dir, opts, "mixers", &chain.blocks, &chain.manifest, tagpack)?;
    Ok(chain.manifest)
}
