//! Two competing branches on a common chain, for testing reorg handling.

use std::collections::BTreeSet;

use bitcoin::{Block, OutPoint};

use crate::chain::{ChainGenerator, ChainSpec};

/// Salt that makes branch b's traffic, keys and coinbases differ from branch a's.
const BRANCH_B_SALT: u64 = 0xb;

/// Generates the active chain of `spec` up to `fork_height` (genesis included, so `common` has
/// `fork_height + 1` blocks) and two branches on top of it: `a` with `branch_a_len` blocks and
/// `b` with `branch_b_len` blocks, so `b` carries more work and wins.
///
/// Both branches carry wallet traffic (given `fork_height >= 100`, when coinbases start to
/// mature, and `spec.txs_per_block > 0`). Branch b spends at least one coin that branch a spends
/// too, but in a different transaction to different addresses, so a node that switches from a to
/// b must roll back a's spends and restore those coins before applying b. `spec.blocks` and
/// `spec.stale_branches` are ignored.
///
/// # Panics
///
/// If `branch_b_len <= branch_a_len`.
pub fn fork_chain(
    spec: &ChainSpec,
    fork_height: u32,
    branch_a_len: u32,
    branch_b_len: u32,
) -> (Vec<Block>, Vec<Block>, Vec<Block>) {
    assert!(
        branch_b_len > branch_a_len,
        "branch b must be longer than branch a to win"
    );
    let spec = ChainSpec {
        blocks: fork_height,
        stale_branches: 0,
        ..spec.clone()
    };
    let mut gen = ChainGenerator::new(&spec);
    let common = grow(&mut gen, fork_height + 1);
    let mut rival = gen.clone();
    let branch_a = grow(&mut gen, branch_a_len);
    rival.diverge(BRANCH_B_SALT);
    if let Some(outpoint) = first_pre_fork_spend(&branch_a) {
        rival.force_spend(outpoint);
    }
    let branch_b = grow(&mut rival, branch_b_len);
    (common, branch_a, branch_b)
}

fn grow(gen: &mut ChainGenerator, count: u32) -> Vec<Block> {
    (0..count)
        .flat_map(|_| gen.step_with(|_, _| {}))
        .map(|g| g.block)
        .collect()
}

/// The first coin branch `a` spends that existed before the fork.
fn first_pre_fork_spend(branch: &[Block]) -> Option<OutPoint> {
    let created: BTreeSet<_> = branch
        .iter()
        .flat_map(|b| b.txdata.iter().map(|tx| tx.compute_txid()))
        .collect();
    branch
        .iter()
        .flat_map(|b| b.txdata.iter().skip(1))
        .flat_map(|tx| tx.input.iter())
        .map(|input| input.previous_output)
        .find(|outpoint| !created.contains(&outpoint.txid))
}
