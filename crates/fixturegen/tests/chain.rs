mod common;

use std::collections::BTreeSet;

use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::Hash;
use chaintrace_fixturegen::{generate_chain, ChainSpec, GeneratedBlock, OutputType};
use common::{sha256, verify};

fn modest() -> ChainSpec {
    ChainSpec {
        seed: 7,
        blocks: 260,
        txs_per_block: 25,
        stale_branches: 5,
        wallets: 300,
    }
}

fn chain_digest(blocks: &[GeneratedBlock]) -> [u8; 32] {
    let mut all = Vec::new();
    for generated in blocks {
        all.extend_from_slice(&serialize(&generated.block));
        all.push(u8::from(generated.stale));
    }
    sha256(&all)
}

#[test]
fn modest_chain_obeys_every_rule() {
    let blocks: Vec<_> = generate_chain(&modest()).collect();
    let check = verify(&blocks);
    assert_eq!(check.tip_height, 260);
    assert_eq!(check.active.len(), 261);
    assert!(
        check.stale_blocks >= 5,
        "every stale branch has at least one block"
    );
    assert!(
        check.same_block_spends > 0,
        "some transactions spend outputs of the same block"
    );
    assert!(
        check.legacy_txs > 0,
        "some transactions use legacy serialization"
    );
    assert!(check.segwit_blocks > 0);
    // 160 blocks with spendable coins, 25 transactions on average.
    let expected = 160 * 25;
    assert!(
        check.non_coinbase_txs > expected * 9 / 10,
        "{} txs",
        check.non_coinbase_txs
    );
    assert!(
        check.non_coinbase_txs < expected * 11 / 10,
        "{} txs",
        check.non_coinbase_txs
    );
}

#[test]
fn blocks_before_maturity_hold_only_coinbases() {
    for generated in generate_chain(&modest()).take_while(|g| g.height <= 100) {
        assert_eq!(
            generated.block.txdata.len(),
            1,
            "height {}",
            generated.height
        );
    }
}

#[test]
fn every_output_type_is_created_and_spent() {
    let blocks: Vec<_> = generate_chain(&modest()).collect();
    let check = verify(&blocks);
    let all = [
        OutputType::P2pkh,
        OutputType::P2sh,
        OutputType::P2wpkh,
        OutputType::P2wsh,
        OutputType::P2tr,
        OutputType::P2pkCompressed,
        OutputType::P2pkUncompressed,
        OutputType::BareMultisig,
        OutputType::OpReturn,
        OutputType::NonStandard,
    ];
    for kind in all {
        assert!(
            check.created_types.get(&kind).copied().unwrap_or(0) > 0,
            "no {kind:?} output"
        );
        if kind != OutputType::OpReturn {
            assert!(
                check.spent_types.get(&kind).copied().unwrap_or(0) > 0,
                "no {kind:?} spend"
            );
        }
    }
}

#[test]
fn fan_outs_and_consolidations_occur() {
    let blocks: Vec<_> = generate_chain(&modest()).filter(|g| !g.stale).collect();
    let txs = || blocks.iter().flat_map(|g| g.block.txdata.iter().skip(1));
    assert!(txs().any(|tx| tx.output.len() >= 20), "no fan-out");
    assert!(txs().any(|tx| tx.input.len() >= 10), "no consolidation");
    let all: Vec<_> = generate_chain(&modest()).collect();
    let check = verify(&all);
    let rates: BTreeSet<u64> = txs()
        .map(|tx| check.txs[&tx.compute_txid()].1 / tx.vsize() as u64)
        .collect();
    assert!(
        rates.contains(&1) && rates.iter().any(|r| *r >= 40),
        "{rates:?}"
    );
}

#[test]
fn same_spec_same_bytes() {
    let a: Vec<_> = generate_chain(&modest()).collect();
    let b: Vec<_> = generate_chain(&modest()).collect();
    assert_eq!(chain_digest(&a), chain_digest(&b));
    let other = ChainSpec {
        seed: 8,
        ..modest()
    };
    let c: Vec<_> = generate_chain(&other).collect();
    assert_ne!(chain_digest(&a), chain_digest(&c));
}

#[test]
fn stale_branches_do_not_change_the_active_chain() {
    let with: Vec<_> = generate_chain(&modest()).filter(|g| !g.stale).collect();
    let without: Vec<_> = generate_chain(&ChainSpec {
        stale_branches: 0,
        ..modest()
    })
    .collect();
    assert!(without.iter().all(|g| !g.stale));
    assert_eq!(chain_digest(&with), chain_digest(&without));
}

#[test]
fn stale_blocks_compete_with_less_work() {
    let blocks: Vec<_> = generate_chain(&modest()).collect();
    let active: BTreeSet<_> = blocks
        .iter()
        .filter(|g| !g.stale)
        .map(|g| g.block.block_hash())
        .collect();
    let stale: Vec<_> = blocks.iter().filter(|g| g.stale).collect();
    assert!(!stale.is_empty());
    let tip = blocks
        .iter()
        .filter(|g| !g.stale)
        .map(|g| g.height)
        .max()
        .unwrap_or(0);
    for g in &stale {
        assert!(!active.contains(&g.block.block_hash()));
        assert!(g.height < tip);
    }
    // Some stale block forks directly off the active chain.
    assert!(stale
        .iter()
        .any(|g| active.contains(&g.block.header.prev_blockhash)));
    assert!(stale.iter().any(|g| g.block.txdata.len() > 1) || stale.iter().all(|g| g.height < 101));
}

#[test]
fn timestamps_increase_along_the_active_chain() {
    let blocks: Vec<_> = generate_chain(&modest()).filter(|g| !g.stale).collect();
    for pair in blocks.windows(2) {
        assert!(pair[1].block.header.time > pair[0].block.header.time);
    }
    let nonces: BTreeSet<u32> = blocks.iter().map(|g| g.block.header.nonce).collect();
    assert!(nonces.len() > 1, "nonces are ground, not constant");
    assert!(blocks
        .iter()
        .all(|g| g.block.block_hash() != bitcoin::BlockHash::all_zeros()));
}

#[test]
fn tiny_and_empty_specs_work() {
    let genesis_only: Vec<_> = generate_chain(&ChainSpec {
        blocks: 0,
        ..modest()
    })
    .collect();
    assert_eq!(genesis_only.len(), 1);
    let quiet = ChainSpec {
        blocks: 120,
        txs_per_block: 0,
        stale_branches: 2,
        ..modest()
    };
    let blocks: Vec<_> = generate_chain(&quiet).collect();
    verify(&blocks);
    assert!(blocks.iter().all(|g| g.block.txdata.len() == 1));
}
