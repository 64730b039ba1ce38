//! Address clustering through the Bitcoin writer: merges and their evidence, union-by-size ids,
//! `explain`, the CoinJoin and label-conflict exclusions, alerts, rollbacks that restore the
//! forest exactly, and cluster rows that commit together with the cursor.
//!
//! Every chain here starts with a block whose coinbase pays addresses 1, 2, 3, ... in that order,
//! so address `n` gets id `n`, and every later transaction names the outputs it spends.

use chaintrace_model::btc::{AddrKey, ScriptKind};
use chaintrace_model::{AddrId, Category, Label, Network, TxNum};
use chaintrace_store::btc::cluster::{
    ChangeRule, ClusterAlert, ClusterEdge, ClusterSetting, EdgeRule, Jump, MergeStep,
};
use chaintrace_store::btc::{
    BtcIndex, BtcWriter, ClusterId, ClusterIndex, ClusterOptions, ExternalPrevouts, NewBlock,
    NewOutput, NewTx, WriterOptions,
};
use chaintrace_store::labels::LabelStore;
use chaintrace_store::tables::LabelTarget;
use chaintrace_store::{OpenMode, Store};

type OutRef = ([u8; 32], u32);

fn key(n: u64) -> AddrKey {
    let mut k = [0u8; 20];
    k[..8].copy_from_slice(&n.to_be_bytes());
    AddrKey::Wpkh(k)
}

fn pay(n: u64, value: u64) -> NewOutput {
    NewOutput {
        value,
        kind: ScriptKind::P2wpkh,
        addr: Some(key(n)),
    }
}

fn hash(tag: u64, a: u64) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&tag.to_le_bytes());
    h[8..16].copy_from_slice(&a.to_le_bytes());
    h
}

fn tx(id: u64, inputs: Vec<OutRef>, outputs: Vec<NewOutput>) -> NewTx {
    NewTx {
        txid: hash(1, id),
        version: 2,
        lock_time: 0,
        vsize: 200,
        coinbase: false,
        inputs,
        outputs,
    }
}

/// Block `height` on `parent`; `branch` keeps hashes of competing blocks apart.
fn block(
    height: u32,
    parent: [u8; 32],
    branch: u64,
    coinbase: Vec<NewOutput>,
    txs: Vec<NewTx>,
) -> NewBlock {
    let cb = NewTx {
        txid: hash(2 + branch, u64::from(height)),
        version: 1,
        lock_time: 0,
        vsize: 100,
        coinbase: true,
        inputs: vec![],
        outputs: coinbase,
    };
    NewBlock {
        height,
        hash: hash(100 + branch, u64::from(height)),
        prev_hash: parent,
        time: 1_600_000_000 + height,
        bits: 0x207f_ffff,
        chainwork: hash(0, u64::from(height)),
        txs: std::iter::once(cb).chain(txs).collect(),
    }
}

/// Outputs per address in the first block.
const PER_ADDR: u32 = 4;

/// Block 0: addresses 1..=20 receive `PER_ADDR` outputs of 10,000 sat each.
fn genesis() -> NewBlock {
    let outs = (1..=20)
        .flat_map(|n| (0..PER_ADDR).map(move |_| pay(n, 10_000)))
        .collect();
    block(0, [0; 32], 0, outs, vec![])
}

/// Output `k` of address `n` in block 0.
fn o(n: u64, k: u32) -> OutRef {
    (hash(2, 0), (n as u32 - 1) * PER_ADDR + k)
}

/// Transaction numbers of `merges()`: block 1 holds coinbase 1, t1 = 2, t2 = 3; block 2 holds
/// coinbase 4, t3 = 5, t4 = 6.
const T1: TxNum = TxNum(2);
const T2: TxNum = TxNum(3);
const T3: TxNum = TxNum(5);
const T4: TxNum = TxNum(6);

/// t1 spends 5 and 3 → {3,5}; t2 spends 7 and 3 → {3,5,7}; t3 spends 8 and 9 → {8,9};
/// t4 spends 9 and 5 → {3,5,7,8,9}.
fn merges() -> Vec<NewBlock> {
    let g = genesis();
    let b1 = block(
        1,
        g.hash,
        0,
        vec![pay(90, 5_000)],
        vec![
            tx(1, vec![o(5, 0), o(3, 0)], vec![pay(50, 19_000)]),
            tx(2, vec![o(7, 0), o(3, 1)], vec![pay(51, 19_000)]),
        ],
    );
    let b2 = block(
        2,
        b1.hash,
        0,
        vec![pay(90, 5_000)],
        vec![
            tx(3, vec![o(8, 0), o(9, 0)], vec![pay(52, 19_000)]),
            tx(4, vec![o(9, 1), o(5, 1)], vec![pay(53, 19_000)]),
        ],
    );
    vec![g, b1, b2]
}

fn options(cache_entries: usize) -> WriterOptions {
    WriterOptions {
        clustering: ClusterOptions {
            cache_entries,
            alert_join: 2,
            ..ClusterOptions::default()
        },
        ..WriterOptions::default()
    }
}

fn writer(store: &Store, opts: WriterOptions) -> BtcWriter<'_> {
    BtcWriter::new(store, Network::Regtest, 0, opts).unwrap()
}

/// Applies `blocks`, committing after every `commit_every` of them, and syncs.
fn ingest(store: &Store, blocks: &[NewBlock], commit_every: usize, opts: WriterOptions) {
    let mut w = writer(store, opts);
    for (i, b) in blocks.iter().enumerate() {
        w.apply_block(b, &ExternalPrevouts::new()).unwrap();
        if (i + 1) % commit_every == 0 {
            w.commit().unwrap();
        }
    }
    w.finish().unwrap();
}

fn digest_of(blocks: &[NewBlock], commit_every: usize, opts: WriterOptions) -> String {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&store, blocks, commit_every, opts);
    store.digest().unwrap().sha256
}

fn id(n: u64) -> AddrId {
    AddrId(n)
}

fn cluster(store: &Store, n: u64) -> u64 {
    ClusterIndex::new(store).cluster_of(id(n)).unwrap().0 .0
}

#[test]
fn co_spent_addresses_merge_under_the_larger_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&store, &merges(), 1, options(1_000));
    let c = ClusterIndex::new(&store);
    assert!(c.enabled().unwrap());
    for n in [3, 5, 7, 8, 9] {
        assert_eq!(cluster(&store, n), 3, "address {n}");
    }
    // Equal sizes go to the smaller root (5 under 3, 9 under 8); otherwise the larger wins,
    // whichever input came first (7 under 3, then the pair {8,9} under 3).
    let edge = |parent, tx, child_addr, parent_addr| ClusterEdge {
        parent: id(parent),
        tx,
        child_addr: id(child_addr),
        parent_addr: id(parent_addr),
        rule: EdgeRule::CoSpent,
    };
    assert_eq!(c.parent(id(5)).unwrap(), Some(edge(3, T1, 5, 3)));
    assert_eq!(c.parent(id(7)).unwrap(), Some(edge(3, T2, 7, 3)));
    assert_eq!(c.parent(id(9)).unwrap(), Some(edge(8, T3, 9, 8)));
    assert_eq!(c.parent(id(8)).unwrap(), Some(edge(3, T4, 9, 5)));
    assert_eq!(c.parent(id(3)).unwrap(), None);

    let info = c.info(ClusterId(id(3))).unwrap().unwrap();
    let rec = info.record.unwrap();
    assert_eq!(info.size, 5);
    assert_eq!((rec.first_merge, rec.last_merge), (T1, T4));
    assert_eq!(
        rec.largest_jump,
        Jump {
            tx: T4,
            before: 3,
            after: 5
        }
    );
    assert_eq!(c.info(ClusterId(id(8))).unwrap(), None, "8 was absorbed");

    let all = c.members(ClusterId(id(3)), 100).unwrap();
    assert_eq!(all.addrs, [3, 5, 7, 8, 9].map(id));
    assert!(!all.truncated);
    let some = c.members(ClusterId(id(3)), 2).unwrap();
    assert_eq!(some.addrs, [3, 5].map(id));
    assert!(some.truncated);

    let single = c.info(ClusterId(id(1))).unwrap().unwrap();
    assert_eq!((single.size, single.record), (1, None));
    assert_eq!(
        cluster(&store, 50),
        50,
        "outputs are not merged with inputs"
    );
}

#[test]
fn explain_walks_the_transactions_that_joined_two_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&store, &merges(), 1, options(1_000));
    let c = ClusterIndex::new(&store);
    let step = |tx, left, right| MergeStep {
        tx,
        left: id(left),
        right: id(right),
        change: None,
    };
    // 7 and 3 were spent together in t2, 3 and 5 in t1, 5 and 9 in t4.
    assert_eq!(
        c.explain(id(7), id(9)).unwrap(),
        Some(vec![step(T2, 7, 3), step(T1, 3, 5), step(T4, 5, 9)])
    );
    assert_eq!(c.explain(id(9), id(8)).unwrap(), Some(vec![step(T3, 9, 8)]));
    assert_eq!(c.explain(id(5), id(5)).unwrap(), Some(vec![]));
    assert_eq!(c.explain(id(1), id(3)).unwrap(), None);
}

#[test]
fn joining_two_large_clusters_raises_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&store, &merges(), 1, options(1_000));
    let c = ClusterIndex::new(&store);
    let alerts: Vec<_> = c.alerts().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        alerts,
        vec![(
            T4,
            ClusterAlert::Growth {
                root: id(3),
                size_after: 5,
                largest_before: 3,
                second_before: 2,
                clusters: 2
            }
        )]
    );
    assert_eq!(c.alerts_of(ClusterId(id(3)), 10).unwrap(), alerts);
    assert!(c.alerts_of(ClusterId(id(1)), 10).unwrap().is_empty());
}

#[test]
fn reaching_a_size_threshold_raises_an_alert() {
    let g = genesis();
    let inputs = (1..=10).map(|n| o(n, 0)).collect();
    let b1 = block(
        1,
        g.hash,
        0,
        vec![],
        vec![tx(1, inputs, vec![pay(50, 99_000)])],
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    let mut opts = options(1_000);
    opts.clustering.alert_size = 10;
    opts.clustering.alert_join = 0;
    ingest(&store, &[g, b1], 1, opts);
    let c = ClusterIndex::new(&store);
    let alerts: Vec<_> = c.alerts().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        alerts,
        vec![(
            TxNum(2),
            ClusterAlert::Growth {
                root: id(1),
                size_after: 10,
                largest_before: 1,
                second_before: 1,
                clusters: 10
            }
        )]
    );
    assert_eq!(c.members(ClusterId(id(1)), 100).unwrap().addrs.len(), 10);
}

#[test]
fn pending_blocks_see_their_own_merges_whatever_the_commit_rhythm_and_cache_size() {
    let blocks = merges();
    let reference = digest_of(&blocks, 1, options(1_000));
    assert_eq!(digest_of(&blocks, 3, options(1_000)), reference);
    assert_eq!(digest_of(&blocks, 2, options(2)), reference);
    assert_eq!(digest_of(&blocks, 1, options(2)), reference);
}

#[test]
fn cluster_rows_commit_with_the_cursor() {
    let blocks = merges();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    {
        let mut w = writer(&store, options(1_000));
        for b in &blocks[..2] {
            w.apply_block(b, &ExternalPrevouts::new()).unwrap();
        }
        w.sync().unwrap();
        w.apply_block(&blocks[2], &ExternalPrevouts::new()).unwrap();
        // Block 2 is applied but not committed: a crash now loses it, and its merges with it.
        assert_eq!(w.state().tip.unwrap().0, 2);
        assert_eq!(cluster(&store, 8), 8);
        assert_eq!(cluster(&store, 7), 3);
    }
    let state = BtcIndex::new(&store).state().unwrap().unwrap();
    assert_eq!(state.tip.unwrap().0, 1);
    assert_eq!(cluster(&store, 8), 8);
    assert_eq!(cluster(&store, 9), 9);
    ingest(&store, &blocks[2..], 1, options(1_000));
    assert_eq!(
        store.digest().unwrap().sha256,
        digest_of(&blocks, 1, options(1_000))
    );
}

/// A competing block 2: t5 spends 8 and 1, t6 spends 1 and 3 → {1,3,5,7,8}.
fn other_block_2(parent: [u8; 32]) -> NewBlock {
    block(
        2,
        parent,
        1,
        vec![pay(91, 5_000)],
        vec![
            tx(5, vec![o(8, 0), o(1, 0)], vec![pay(60, 19_000)]),
            tx(6, vec![o(1, 1), o(3, 2)], vec![pay(61, 19_000)]),
        ],
    )
}

#[test]
fn rollback_restores_the_forest_exactly() {
    let blocks = merges();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&store, &blocks, 1, options(1_000));
    let mut w = writer(&store, options(1_000));
    w.rollback_tip().unwrap().unwrap();
    assert_eq!(
        store.digest().unwrap().sha256,
        digest_of(&blocks[..2], 1, options(1_000)),
        "rolled back to block 1"
    );
    assert_eq!(cluster(&store, 8), 8);
    assert!(ClusterIndex::new(&store).alerts().next().is_none());

    let other = other_block_2(blocks[1].hash);
    w.apply_block(&other, &ExternalPrevouts::new()).unwrap();
    w.finish().unwrap();
    let fresh = [blocks[0].clone(), blocks[1].clone(), other];
    assert_eq!(
        store.digest().unwrap().sha256,
        digest_of(&fresh, 1, options(1_000))
    );
    for n in [1, 3, 5, 7, 8] {
        assert_eq!(cluster(&store, n), 3, "address {n}");
    }
    assert_eq!(cluster(&store, 9), 9);

    let mut w = writer(&store, options(1_000));
    w.rollback_tip().unwrap().unwrap();
    w.rollback_tip().unwrap().unwrap();
    w.finish().unwrap();
    assert_eq!(
        store.digest().unwrap().sha256,
        digest_of(&blocks[..1], 1, options(1_000))
    );
}

fn service(name: &str) -> Label {
    Label {
        name: name.into(),
        category: Category::Exchange,
        raw_category: None,
        abuse: None,
        confidence: 100,
        source: "test".into(),
        file: "test.csv".into(),
        is_cluster_definer: true,
        actor: None,
    }
}

#[test]
fn inputs_labelled_as_different_services_are_flagged_not_merged() {
    let g = genesis();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    let labels = LabelStore::new(&store);
    // Addresses 1 and 2 are labelled before they are indexed, 4 after.
    let early = [
        (LabelTarget::BtcAddr(key(1)), service("Alpha")),
        (LabelTarget::BtcAddr(key(2)), service("Beta")),
    ];
    labels.import("early.csv", "csv", "00", &early).unwrap();
    ingest(&store, std::slice::from_ref(&g), 1, options(1_000));
    let late = [(LabelTarget::BtcAddr(key(4)), service("ALPHA"))];
    labels.import("late.csv", "csv", "01", &late).unwrap();

    let b1 = block(
        1,
        g.hash,
        0,
        vec![],
        vec![
            tx(1, vec![o(1, 0), o(2, 0)], vec![pay(50, 19_000)]),
            tx(2, vec![o(1, 1), o(4, 0)], vec![pay(51, 19_000)]),
            tx(3, vec![o(2, 1), o(6, 0)], vec![pay(52, 19_000)]),
        ],
    );
    ingest(&store, &[b1], 1, options(1_000));
    let c = ClusterIndex::new(&store);
    // Same service (names compare case-insensitively) and unlabelled inputs merge.
    assert_eq!(cluster(&store, 4), cluster(&store, 1));
    assert_eq!(cluster(&store, 6), cluster(&store, 2));
    assert_ne!(cluster(&store, 1), cluster(&store, 2));
    let alerts: Vec<_> = c.alerts().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        alerts,
        vec![(
            TxNum(2),
            ClusterAlert::LabelConflict {
                first: id(1),
                second: id(2)
            }
        )]
    );
}

/// Block 0 for the CoinJoin tests: a Whirlpool 1M pool's mix inputs (three remixes of
/// 1,000,000 and two new premixes of 1,000,285, addresses 1..=5) and a wallet's two coins for
/// a Tx0 (addresses 6 and 7).
fn whirlpool_genesis() -> NewBlock {
    let outs = vec![
        pay(1, 1_000_000),
        pay(2, 1_000_000),
        pay(3, 1_000_000),
        pay(4, 1_000_285),
        pay(5, 1_000_285),
        pay(6, 3_000_000),
        pay(7, 2_000_000),
    ];
    block(0, [0; 32], 0, outs, vec![])
}

fn cb(vout: u32) -> OutRef {
    (hash(2, 0), vout)
}

#[test]
fn whirlpool_mix_does_not_merge_its_participants() {
    let g = whirlpool_genesis();
    let mix = tx(
        1,
        (0..5).map(cb).collect(),
        (10..15).map(|n| pay(n, 1_000_000)).collect(),
    );
    let b1 = block(1, g.hash, 0, vec![], vec![mix]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&store, &[g, b1], 1, options(1_000));
    for n in 1..=5 {
        assert_eq!(cluster(&store, n), n, "mix participant {n} was merged");
    }
}

#[test]
fn multi_input_tx0_is_one_owner_and_merges() {
    let g = whirlpool_genesis();
    let op_return = NewOutput {
        value: 0,
        kind: ScriptKind::OpReturn,
        addr: None,
    };
    // BIP69 order: OP_RETURN, coordinator fee, change, four premixes; fee 500.
    let mut outputs = vec![op_return, pay(20, 50_000), pay(25, 948_360)];
    outputs.extend((21..25).map(|n| pay(n, 1_000_285)));
    let tx0 = tx(2, vec![cb(5), cb(6)], outputs);
    let b1 = block(1, g.hash, 0, vec![], vec![tx0]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&store, &[g, b1], 1, options(1_000));
    assert_eq!(cluster(&store, 7), 6);
}

#[test]
fn a_stonewall_shaped_spend_does_not_merge_its_inputs() {
    let g = genesis();
    // Two equal outputs and a third: the shape a STONEWALLx2 between two wallets shares with a
    // one-wallet Stonewall. Without the pair it is an ordinary co-spend and merges.
    let stonewall = tx(
        20,
        vec![o(10, 0), o(11, 0)],
        vec![pay(60, 6_000), pay(61, 6_000), pay(62, 7_000)],
    );
    let plain = tx(
        21,
        vec![o(12, 0), o(13, 0)],
        vec![pay(63, 6_000), pay(64, 6_500), pay(65, 7_000)],
    );
    let b1 = block(1, g.hash, 0, vec![], vec![stonewall, plain]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&store, &[g, b1], 1, options(1_000));
    assert_eq!(cluster(&store, 11), 11);
    assert_eq!(cluster(&store, 13), 12);
}

#[test]
fn an_index_built_without_clustering_stays_without() {
    let blocks = merges();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    let mut off = options(1_000);
    off.clustering.enabled = false;
    ingest(&store, &blocks[..2], 1, off);
    // Asking for clustering later does not start it half-way through the chain.
    ingest(&store, &blocks[2..], 1, options(1_000));
    let c = ClusterIndex::new(&store);
    assert!(!c.enabled().unwrap());
    for n in [3, 5, 7, 8, 9] {
        assert_eq!(cluster(&store, n), n);
    }
    let digest = store.digest().unwrap();
    let rows = |name: &str| {
        digest
            .tables
            .iter()
            .find(|(t, _)| t == name)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(rows("btc_cluster_parent") + rows("btc_clusters"), 0);
    assert_ne!(digest.sha256, digest_of(&blocks, 1, options(1_000)));
}

/// The id of the address `pay(n, ..)` pays (ids follow first appearance, so only the first
/// block's addresses have id = n).
fn by_key(store: &Store, n: u64) -> AddrId {
    BtcIndex::new(store).addr_id(&key(n)).unwrap().unwrap()
}

fn with_change(cache_entries: usize) -> WriterOptions {
    let mut opts = options(cache_entries);
    opts.clustering.change = ChangeRule::MeiklejohnH2;
    opts
}

/// Transaction numbers of `change_blocks()`: block 1 holds coinbase 1, ta = 2, tb = 3, tc = 4;
/// block 2 holds coinbase 5, td = 6.
const TA: TxNum = TxNum(2);
const TD: TxNum = TxNum(6);

/// ta spends 1 and pays known address 2 and fresh 30: 30 is its change.
/// tb spends 3 and 4 and pays fresh 31 and 32: no change can be told, 3 and 4 still merge.
/// tc spends 5 and pays 5 back and fresh 33: it pays an input address, so no change.
/// td spends 30 (ta's change) and 6 and pays fresh 40, its change: {1, 6, 30, 40}.
fn change_blocks() -> Vec<NewBlock> {
    let g = genesis();
    let ta = tx(10, vec![o(1, 0)], vec![pay(30, 6_000), pay(2, 3_000)]);
    let ta_change = (ta.txid, 0);
    let b1 = block(
        1,
        g.hash,
        0,
        vec![pay(90, 5_000)],
        vec![
            ta,
            tx(
                11,
                vec![o(3, 0), o(4, 0)],
                vec![pay(31, 9_000), pay(32, 9_000)],
            ),
            tx(12, vec![o(5, 0)], vec![pay(5, 4_000), pay(33, 5_000)]),
        ],
    );
    let b2 = block(
        2,
        b1.hash,
        0,
        vec![pay(90, 5_000)],
        vec![tx(13, vec![ta_change, o(6, 0)], vec![pay(40, 15_000)])],
    );
    vec![g, b1, b2]
}

#[test]
fn the_change_rule_joins_a_lone_fresh_output_to_its_sender() {
    let blocks = change_blocks();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&store, &blocks, 1, with_change(1_000));
    let c = ClusterIndex::new(&store);
    assert_eq!(c.setting().unwrap(), Some(ClusterSetting::InputsAndChange));
    let at = |n| by_key(&store, n);
    for n in [1, 6, 30, 40] {
        assert_eq!(
            c.cluster_of(at(n)).unwrap(),
            ClusterId(id(1)),
            "address {n}"
        );
    }
    assert_eq!(
        cluster(&store, 4),
        3,
        "inputs still merge when no change is told"
    );
    for n in [2, 31, 32, 33, 5] {
        assert_eq!(
            c.cluster_of(at(n)).unwrap(),
            ClusterId(at(n)),
            "address {n}"
        );
    }
    let ta_edge = c.parent(at(30)).unwrap().unwrap();
    assert_eq!(ta_edge.rule, EdgeRule::ChangeToChild);
    assert_eq!(ta_edge.change_addr(), Some(at(30)));
    assert_eq!(c.parent(id(4)).unwrap().unwrap().rule, EdgeRule::CoSpent);
    // 6 was co-spent with 30 in td; 30 is ta's change, sent from 1.
    let steps = c.explain(id(6), id(1)).unwrap().unwrap();
    let told: Vec<_> = steps
        .iter()
        .map(|s| (s.tx, s.left, s.right, s.change))
        .collect();
    assert_eq!(
        told,
        [(TD, id(6), at(30), None), (TA, at(30), id(1), Some(at(30)))]
    );

    // Without the rule, only td's co-spend ties 30 to anyone: 6, not its sender 1.
    let dir = tempfile::tempdir().unwrap();
    let plain = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&plain, &blocks, 1, options(1_000));
    let c = ClusterIndex::new(&plain);
    assert_eq!(c.cluster_of(by_key(&plain, 30)).unwrap(), ClusterId(id(6)));
    assert_eq!(cluster(&plain, 1), 1);
    let paid = by_key(&plain, 40);
    assert_eq!(c.cluster_of(paid).unwrap(), ClusterId(paid));
    assert_eq!(
        ClusterIndex::new(&plain).setting().unwrap(),
        Some(ClusterSetting::Inputs)
    );
}

#[test]
fn change_merges_roll_back_exactly_and_the_index_keeps_its_rule() {
    let blocks = change_blocks();
    let reference = digest_of(&blocks, 1, with_change(1_000));
    assert_eq!(digest_of(&blocks, 3, with_change(2)), reference);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenMode::Create).unwrap();
    ingest(&store, &blocks, 1, with_change(1_000));
    // Reopened with the default options, the writer keeps the index's own rule.
    let mut w = writer(&store, options(1_000));
    assert_eq!(w.clustering(), ClusterSetting::InputsAndChange);
    w.rollback_tip().unwrap().unwrap();
    assert_eq!(
        store.digest().unwrap().sha256,
        digest_of(&blocks[..2], 1, with_change(1_000)),
        "rolled back to block 1"
    );
    assert_eq!(cluster(&store, 6), 6);
    let change = by_key(&store, 30);
    assert_eq!(cluster(&store, change.0), 1);
    w.rollback_tip().unwrap().unwrap();
    assert_eq!(BtcIndex::new(&store).addr_id(&key(30)).unwrap(), None);
    assert_eq!(cluster(&store, change.0), change.0, "the id is free again");
    for b in &blocks[1..] {
        w.apply_block(b, &ExternalPrevouts::new()).unwrap();
    }
    w.finish().unwrap();
    assert_eq!(store.digest().unwrap().sha256, reference);
    assert_ne!(reference, digest_of(&blocks, 1, options(1_000)));
}
