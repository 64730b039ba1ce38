//! The Bitcoin writer against a real RocksDB: ids, resolution, commits, rollbacks, and the
//! promise that the content digest depends only on which blocks are indexed.

use chaintrace_model::btc::{AddrKey, ScriptKind};
use chaintrace_model::{AddrId, Network, TxNum};
use chaintrace_store::btc::{
    BtcIndex, BtcWriter, ExternalPrevouts, NewBlock, NewOutput, NewTx, WriterOptions,
};
use chaintrace_store::records::PrevTx;
use chaintrace_store::{Durability, OpenMode, Store, StoreError};
use proptest::prelude::*;

/// A tiny deterministic PRNG so generated chains are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Unspent outputs a generated chain can spend: (txid, vout, value).
type Utxos = Vec<([u8; 32], u32, u64)>;

fn hash(tag: u64, a: u64, b: u64) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&tag.to_le_bytes());
    h[8..16].copy_from_slice(&a.to_le_bytes());
    h[16..24].copy_from_slice(&b.to_le_bytes());
    h
}

fn out(value: u64, who: u64) -> NewOutput {
    let mut k = [0u8; 20];
    k[..8].copy_from_slice(&who.to_le_bytes());
    NewOutput {
        value,
        kind: ScriptKind::P2wpkh,
        addr: Some(AddrKey::Wpkh(k)),
    }
}

/// Generates `n` blocks of random spends on top of `start` (height, parent hash); `branch`
/// makes block and coinbase hashes unique per branch.
fn gen_chain(
    seed: u64,
    branch: u64,
    n: u32,
    start_height: u32,
    parent: [u8; 32],
    mut utxos: Utxos,
) -> (Vec<NewBlock>, Utxos) {
    let mut rng = Rng(seed);
    let mut blocks = Vec::new();
    let mut prev = parent;
    for i in 0..n {
        let height = start_height + i;
        let mut txs = vec![NewTx {
            txid: hash(branch, u64::from(height), 0),
            version: 1,
            lock_time: 0,
            vsize: 100,
            coinbase: true,
            inputs: vec![],
            outputs: vec![
                out(5_000, rng.below(50)),
                NewOutput {
                    value: 0,
                    kind: ScriptKind::OpReturn,
                    addr: None,
                },
            ],
        }];
        let mut created = vec![(txs[0].txid, 0u32, 5_000u64)];
        for t in 1..=rng.below(4) {
            let mut pool: Vec<_> = utxos.iter().chain(created.iter()).copied().collect();
            if pool.is_empty() {
                break;
            }
            let mut inputs = Vec::new();
            let mut total = 0;
            for _ in 0..=rng.below(2) {
                if pool.is_empty() {
                    break;
                }
                let (txid, vout, value) = pool.swap_remove(rng.below(pool.len() as u64) as usize);
                utxos.retain(|u| (u.0, u.1) != (txid, vout));
                created.retain(|u| (u.0, u.1) != (txid, vout));
                inputs.push((txid, vout));
                total += value;
            }
            let fee = total.min(rng.below(10));
            let a = (total - fee) / 2;
            let txid = hash(branch + 1000, u64::from(height), t);
            let outputs = vec![out(a, rng.below(50)), out(total - fee - a, rng.below(50))];
            created.extend([(txid, 0, a), (txid, 1, total - fee - a)]);
            txs.push(NewTx {
                txid,
                version: 2,
                lock_time: 0,
                vsize: 150,
                coinbase: false,
                inputs,
                outputs,
            });
        }
        utxos.extend(created);
        let h = hash(branch + 2000, u64::from(height), 0);
        blocks.push(NewBlock {
            height,
            hash: h,
            prev_hash: prev,
            time: 1000 + height,
            bits: 0x207fffff,
            chainwork: hash(0, u64::from(height), 0),
            txs,
        });
        prev = h;
    }
    (blocks, utxos)
}

fn writer(store: &Store) -> BtcWriter<'_> {
    let opts = WriterOptions {
        utxo_cache_entries: 16,
        addr_cache_entries: 16,
        durability: Durability::Logged,
        ..WriterOptions::default()
    };
    BtcWriter::new(store, Network::Regtest, 0, opts).unwrap()
}

fn apply_all(store: &Store, blocks: &[NewBlock], commit_every: usize) {
    let mut w = writer(store);
    for (i, b) in blocks.iter().enumerate() {
        w.apply_block(b, &ExternalPrevouts::new()).unwrap();
        if (i + 1) % commit_every == 0 {
            w.commit().unwrap();
        }
    }
    w.finish().unwrap();
}

fn digest_of(blocks: &[NewBlock], commit_every: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    apply_all(&store, blocks, commit_every);
    store.digest().unwrap().sha256
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn digest_depends_only_on_the_blocks(seed in any::<u64>(), every in 1usize..7) {
        let (blocks, _) = gen_chain(seed, 1, 25, 0, [0; 32], vec![]);
        prop_assert_eq!(digest_of(&blocks, 1), digest_of(&blocks, every));
    }

    #[test]
    fn rollback_then_other_branch_equals_a_fresh_index(seed in any::<u64>(), common in 3u32..12, a in 1u32..6, b in 1u32..6) {
        let (base, utxos) = gen_chain(seed, 1, common, 0, [0; 32], vec![]);
        let tip = base.last().unwrap().hash;
        let (branch_a, _) = gen_chain(seed ^ 1, 10, a, common, tip, utxos.clone());
        let (branch_b, _) = gen_chain(seed ^ 2, 20, b, common, tip, utxos);

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), OpenMode::Create).unwrap();
        let mut w = writer(&store);
        for blk in base.iter().chain(&branch_a) {
            w.apply_block(blk, &ExternalPrevouts::new()).unwrap();
        }
        for _ in 0..a {
            w.rollback_tip().unwrap();
        }
        for blk in &branch_b {
            w.apply_block(blk, &ExternalPrevouts::new()).unwrap();
        }
        w.finish().unwrap();

        let fresh: Vec<NewBlock> = base.iter().chain(&branch_b).cloned().collect();
        prop_assert_eq!(store.digest().unwrap().sha256, digest_of(&fresh, 3));
    }
}

#[test]
fn prevouts_are_resolved_and_spends_indexed() {
    let (blocks, _) = gen_chain(7, 1, 30, 0, [0; 32], vec![]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    apply_all(&store, &blocks, 4);
    let idx = BtcIndex::new(&store);
    let mut checked = 0;
    for blk in &blocks {
        for tx in blk.txs.iter().filter(|t| !t.coinbase) {
            let (num, rec) = idx.tx_by_txid(&tx.txid).unwrap().unwrap();
            assert_eq!(rec.input_value(), rec.output_value() + rec.fee());
            for (j, (i, &(prev_txid, vout))) in rec.inputs.iter().zip(&tx.inputs).enumerate() {
                let PrevTx::Indexed(prev) = i.prev_tx else {
                    panic!("external input in a full index")
                };
                let (_, prev_rec) = idx.tx_by_txid(&prev_txid).unwrap().unwrap();
                assert_eq!(prev_rec.outputs[vout as usize].value, i.value);
                assert_eq!(prev_rec.outputs[vout as usize].addr, i.addr);
                let spend = idx.spender(prev, vout).unwrap().unwrap();
                assert_eq!((spend.tx, spend.input), (num, j as u32));
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} inputs checked");
    // Batched name lookups agree with single reads, and miss cleanly past the end.
    let state = idx.state().unwrap().unwrap();
    let nums: Vec<TxNum> = (0..state.next_tx + 2).map(TxNum).collect();
    let txids = idx.txids(&nums).unwrap();
    for (num, txid) in nums.iter().zip(&txids) {
        assert_eq!(*txid, idx.tx(*num).unwrap().map(|r| r.txid), "{num:?}");
    }
    assert_eq!(txids.iter().filter(|t| t.is_none()).count(), 2);
    let ids: Vec<AddrId> = (1..=state.addresses() + 1).map(AddrId).collect();
    let keys = idx.addr_keys(&ids).unwrap();
    for (id, key) in ids.iter().zip(&keys) {
        assert_eq!(*key, idx.addr_key(*id).unwrap(), "{id:?}");
    }
    assert_eq!(keys.last(), Some(&None));
    assert_eq!(state.tip.unwrap().0, 29);
    assert_eq!(idx.network().unwrap(), Some(Network::Regtest));
}

#[test]
fn address_outputs_stream_in_chain_order() {
    let (blocks, _) = gen_chain(11, 1, 40, 0, [0; 32], vec![]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    apply_all(&store, &blocks, 5);
    let idx = BtcIndex::new(&store);
    let id = idx.addr_id(&out(0, 3).addr.unwrap()).unwrap().unwrap();
    let outs: Vec<_> = idx.addr_outputs(id).map(Result::unwrap).collect();
    assert!(!outs.is_empty());
    assert!(outs.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
    for (tx, vout, value) in outs {
        let rec = idx.tx(tx).unwrap().unwrap();
        assert_eq!(rec.outputs[vout as usize].value, value);
        assert_eq!(rec.outputs[vout as usize].addr, id);
    }
    assert!(idx.addr_key(AddrId(1)).unwrap().is_some());
}

fn expect_bad_block(store: &Store, bad: &NewBlock, needle: &str) {
    let before = store.digest().unwrap();
    let mut w = writer(store);
    let err = w.apply_block(bad, &ExternalPrevouts::new()).unwrap_err();
    assert!(matches!(err, StoreError::BadBlock { .. }), "{err}");
    assert!(
        err.to_string().contains(needle),
        "{err} should mention {needle}"
    );
    w.commit().unwrap();
    assert_eq!(
        store.digest().unwrap(),
        before,
        "a rejected block must not change the index"
    );
}

#[test]
fn invalid_blocks_are_rejected_without_changing_the_index() {
    let (blocks, _) = gen_chain(5, 1, 12, 0, [0; 32], vec![]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    apply_all(&store, &blocks[..10], 3);

    let mut next = blocks[10].clone();
    let victim = blocks[..10]
        .iter()
        .map(|b| b.txs[0].txid)
        .find(|t| !idx_spent(&store, *t))
        .expect("an unspent coinbase");
    next.txs.push(NewTx {
        txid: hash(77, 1, 1),
        version: 2,
        lock_time: 0,
        vsize: 100,
        coinbase: false,
        inputs: vec![(hash(99, 9, 9), 0)],
        outputs: vec![out(1, 1)],
    });
    expect_bad_block(&store, &next, "not an unspent output");

    let mut next = blocks[10].clone();
    next.txs.push(NewTx {
        txid: hash(77, 2, 2),
        version: 2,
        lock_time: 0,
        vsize: 100,
        coinbase: false,
        inputs: vec![(victim, 0)],
        outputs: vec![out(1_000_000, 1)],
    });
    expect_bad_block(&store, &next, "inputs hold only");

    let mut next = blocks[10].clone();
    next.prev_hash = [42; 32];
    expect_bad_block(&store, &next, "is not the index tip");

    let mut next = blocks[10].clone();
    next.height = 12;
    expect_bad_block(&store, &next, "expected the block at height 10");

    let mut next = blocks[10].clone();
    let coinbase = next.txs[0].clone();
    next.txs.push(NewTx {
        txid: hash(77, 3, 3),
        inputs: vec![(coinbase.txid, 0), (coinbase.txid, 0)],
        coinbase: false,
        ..coinbase
    });
    expect_bad_block(&store, &next, "double-spends");
}

fn idx_spent(store: &Store, txid: [u8; 32]) -> bool {
    let idx = BtcIndex::new(store);
    let num = idx.tx_num(&txid).unwrap().unwrap();
    idx.spender(num, 0).unwrap().is_some()
}

#[test]
fn duplicate_coinbase_txids_roll_back_exactly() {
    // BIP30: mainnet blocks 91842 and 91880 repeat earlier coinbase txids.
    let (mut blocks, _) = gen_chain(3, 1, 6, 0, [0; 32], vec![]);
    let dup = blocks[1].txs[0].txid;
    blocks[4].txs[0].txid = dup;
    for t in blocks[4].txs.iter_mut().skip(1) {
        t.inputs.retain(|(txid, _)| *txid != dup);
    }
    blocks[4].txs.retain(|t| t.coinbase || !t.inputs.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    apply_all(&store, &blocks[..4], 2);
    let before = store.digest().unwrap();
    let mut w = writer(&store);
    w.apply_block(&blocks[4], &ExternalPrevouts::new()).unwrap();
    w.sync().unwrap();
    let idx = BtcIndex::new(&store);
    assert_eq!(
        idx.tx_num(&dup).unwrap(),
        Some(TxNum(u64::from(
            blocks[..4].iter().map(|b| b.txs.len() as u32).sum::<u32>()
        )))
    );
    w.rollback_tip().unwrap();
    w.finish().unwrap();
    assert_eq!(store.digest().unwrap(), before);
}

#[test]
fn network_and_schema_mismatches_are_clear_errors() {
    let (blocks, _) = gen_chain(1, 1, 2, 0, [0; 32], vec![]);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), OpenMode::Create).unwrap();
        apply_all(&store, &blocks, 1);
        let err = BtcWriter::new(&store, Network::Main, 0, WriterOptions::default())
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::NetworkMismatch { .. }), "{err}");
    }
    let ro = Store::open(dir.path(), OpenMode::ReadOnly).unwrap();
    assert!(BtcIndex::new(&ro).state().unwrap().is_some());
    let missing = Store::open(&dir.path().join("nope"), OpenMode::ReadOnly)
        .err()
        .unwrap();
    assert!(matches!(missing, StoreError::Missing { .. }));
}
