//! The memory-mapped spend graph gives exactly the transaction views the RocksDB tables give,
//! stays correct when extended, and is ignored (or rebuilt) whenever it does not match the index.

use chaintrace_fixturegen::{fork_chain, write_chain, BlkWriter, BlkWriterOptions, ChainSpec};
use chaintrace_ingest::bitcoin::{ingest_blocks_dir, BulkOptions};
use chaintrace_ingest::NoProgress;
use chaintrace_model::{Network, TxNum};
use chaintrace_store::btc::graph::{graph_dir, update, GraphUpdate};
use chaintrace_store::btc::BtcIndex;
use chaintrace_store::{OpenMode, Store};
use chaintrace_trace::btc::BtcLedger;
use chaintrace_trace::ledger::{TxView, UtxoLedger};

fn ingest(store: &Store, dir: &std::path::Path) {
    ingest_blocks_dir(store, dir, &BulkOptions::new(Network::Regtest), &NoProgress).unwrap();
}

/// Every transaction as the graph and as the tables describe it (input addresses are not kept
/// in the graph, so they are left out of the comparison).
fn assert_graph_matches_tables(store: &Store) {
    let with = BtcLedger::new(store).unwrap();
    assert!(with.has_graph(), "the graph is current after ingest");
    let without = BtcLedger::new(store).unwrap().without_graph();
    let n = BtcIndex::new(store).state().unwrap().unwrap().next_tx;
    let all: Vec<TxNum> = (0..n).map(TxNum).collect();
    // A graph keeps only input values; `complete_inputs` restores the rest.
    let strip = |mut v: TxView| {
        v.inputs.iter_mut().for_each(|i| {
            i.addr = chaintrace_model::AddrId::NONE;
            i.kind = chaintrace_model::btc::ScriptKind::NonStandard;
        });
        v
    };
    let a: Vec<TxView> = with.txs(&all, true).unwrap();
    let full = without.txs(&all, true).unwrap();
    for (graph_view, table_view) in a.iter().zip(&full) {
        let mut completed = graph_view.clone();
        with.complete_inputs(&mut completed).unwrap();
        assert_eq!(
            &completed, table_view,
            "completed transaction {}",
            graph_view.tx
        );
    }
    let b: Vec<TxView> = without
        .txs(&all, true)
        .unwrap()
        .into_iter()
        .map(strip)
        .collect();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "transaction {}", x.tx);
    }
}

fn spec(seed: u64, blocks: u32) -> ChainSpec {
    ChainSpec {
        seed,
        blocks,
        txs_per_block: 30,
        stale_branches: 2,
        ..ChainSpec::default()
    }
}

#[test]
fn graph_equals_tables_after_ingest_and_after_extension() {
    let blocks = tempfile::tempdir().unwrap();
    write_chain(&spec(5, 160), &BlkWriterOptions::default(), blocks.path()).unwrap();
    let db = tempfile::tempdir().unwrap();
    let store = Store::open(db.path(), OpenMode::Create).unwrap();
    ingest(&store, blocks.path());
    assert_graph_matches_tables(&store);
    assert_eq!(update(&store).unwrap(), GraphUpdate::Unchanged);

    // A longer version of the same chain: the graph is extended in place and must equal a graph
    // built from scratch for the longer chain.
    let longer = tempfile::tempdir().unwrap();
    write_chain(&spec(5, 200), &BlkWriterOptions::default(), longer.path()).unwrap();
    ingest(&store, longer.path());
    assert_graph_matches_tables(&store);
    let extended: Vec<Vec<u8>> = graph_files(db.path());
    std::fs::remove_dir_all(graph_dir(db.path())).unwrap();
    assert!(matches!(
        update(&store).unwrap(),
        GraphUpdate::Rebuilt { .. }
    ));
    assert_eq!(
        graph_files(db.path()),
        extended,
        "extension and rebuild give identical arrays"
    );
}

fn graph_files(db: &std::path::Path) -> Vec<Vec<u8>> {
    let mut names: Vec<_> = std::fs::read_dir(graph_dir(db))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn a_reorg_below_the_graph_rebuilds_it_and_a_stale_graph_is_not_used() {
    let (common, a, b) = fork_chain(&spec(9, 0), 120, 2, 4);
    let write = |blocks: &[&[bitcoin::Block]]| {
        let dir = tempfile::tempdir().unwrap();
        let mut w = BlkWriter::create(dir.path(), &BlkWriterOptions::default()).unwrap();
        for b in blocks.iter().flat_map(|x| x.iter()) {
            w.write_block(b).unwrap();
        }
        w.finish().unwrap();
        dir
    };
    let db = tempfile::tempdir().unwrap();
    let store = Store::open(db.path(), OpenMode::Create).unwrap();
    ingest(&store, write(&[&common, &a]).path());
    assert_graph_matches_tables(&store);
    ingest(&store, write(&[&common, &a, &b]).path());
    assert_graph_matches_tables(&store);

    // A graph left from another chain state is ignored, not trusted.
    let saved: Vec<Vec<u8>> = graph_files(db.path());
    let meta = graph_dir(db.path()).join("meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace("\"txs\": ", "\"txs\": 1")).unwrap();
    assert!(!BtcLedger::new(&store).unwrap().has_graph());
    // An interrupted update (marked incomplete) is rebuilt from scratch.
    std::fs::write(
        &meta,
        text.replace("\"complete\": true", "\"complete\": false"),
    )
    .unwrap();
    assert!(!BtcLedger::new(&store).unwrap().has_graph());
    assert!(matches!(
        update(&store).unwrap(),
        GraphUpdate::Rebuilt { .. }
    ));
    assert_eq!(graph_files(db.path()), saved);
    assert_graph_matches_tables(&store);
}
