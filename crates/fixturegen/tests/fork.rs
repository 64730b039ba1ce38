mod common;

use std::collections::{BTreeMap, BTreeSet};

use bitcoin::{Block, OutPoint, Txid};
use chaintrace_fixturegen::{fork_chain, ChainSpec, GeneratedBlock};
use common::verify;

fn spec() -> ChainSpec {
    ChainSpec {
        seed: 21,
        blocks: 0,
        txs_per_block: 12,
        stale_branches: 3,
        wallets: 150,
    }
}

fn as_chain(blocks: &[Block], start: u32) -> Vec<GeneratedBlock> {
    blocks
        .iter()
        .enumerate()
        .map(|(i, b)| GeneratedBlock {
            block: b.clone(),
            height: start + i as u32,
            stale: false,
        })
        .collect()
}

fn spends(blocks: &[Block]) -> BTreeMap<OutPoint, Txid> {
    blocks
        .iter()
        .flat_map(|b| b.txdata.iter().skip(1))
        .flat_map(|tx| {
            tx.input
                .iter()
                .map(move |i| (i.previous_output, tx.compute_txid()))
        })
        .collect()
}

fn txids(blocks: &[Block]) -> BTreeSet<Txid> {
    blocks
        .iter()
        .flat_map(|b| b.txdata.iter().map(|t| t.compute_txid()))
        .collect()
}

#[test]
fn branches_compete_on_a_common_chain() {
    let (common, a, b) = fork_chain(&spec(), 140, 2, 3);
    assert_eq!((common.len(), a.len(), b.len()), (141, 2, 3));
    let tip = common.last().unwrap().block_hash();
    assert_eq!(a[0].header.prev_blockhash, tip);
    assert_eq!(b[0].header.prev_blockhash, tip);
    assert_ne!(a[0].block_hash(), b[0].block_hash());
    // Both extensions of the common chain are valid chains on their own.
    let with_a: Vec<Block> = common.iter().chain(&a).cloned().collect();
    let with_b: Vec<Block> = common.iter().chain(&b).cloned().collect();
    verify(&as_chain(&with_a, 0));
    verify(&as_chain(&with_b, 0));
    let work = |blocks: &[Block]| {
        blocks
            .iter()
            .map(|b| b.header.work())
            .fold(bitcoin::pow::Work::from_be_bytes([0; 32]), |s, w| s + w)
    };
    assert!(work(&b) > work(&a), "branch b carries more work");
}

#[test]
fn branches_carry_conflicting_transactions() {
    let (_, a, b) = fork_chain(&spec(), 140, 2, 3);
    assert!(
        a.iter().all(|blk| blk.txdata.len() > 1),
        "branch a carries transactions"
    );
    assert!(
        b.iter().all(|blk| blk.txdata.len() > 1),
        "branch b carries transactions"
    );
    let (spent_a, spent_b) = (spends(&a), spends(&b));
    let conflicts = spent_a
        .iter()
        .filter(|(op, tx)| spent_b.get(op).is_some_and(|other| other != *tx))
        .count();
    assert!(conflicts > 0, "b spends some coin differently from a");
    let only_a = txids(&a).difference(&txids(&b)).count();
    assert!(only_a > 0, "a has transactions that b lacks");
}

#[test]
fn fork_is_deterministic_and_matches_the_plain_chain() {
    let first = fork_chain(&spec(), 120, 1, 2);
    let second = fork_chain(&spec(), 120, 1, 2);
    assert_eq!(first, second);
    let plain: Vec<Block> = chaintrace_fixturegen::generate_chain(&ChainSpec {
        blocks: 121,
        stale_branches: 0,
        ..spec()
    })
    .map(|g| g.block)
    .collect();
    assert_eq!(
        first.0[..],
        plain[..121],
        "the common part is the ordinary chain"
    );
    assert_eq!(first.1[0], plain[121], "branch a continues it unchanged");
}

#[test]
#[should_panic(expected = "branch b must be longer")]
fn branch_b_must_be_longer() {
    let _ = fork_chain(&spec(), 10, 2, 2);
}
