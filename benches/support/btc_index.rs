//! The indexed, generated Bitcoin chain the tracing benches share (`benches/trace.rs`,
//! `benches/mixers.rs`): one seed, size, label set and cache directory, so both benches run on
//! the same cached index and their numbers compare. Bench targets are separate crates; each
//! includes this file with `#[path = "support/btc_index.rs"] mod btc_index;` (Cargo does not
//! discover files under `benches/support/` as benches of their own).

use std::path::{Path, PathBuf};

use chaintrace_fixturegen::{write_chain, BlkWriterOptions, ChainSpec};
use chaintrace_ingest::bitcoin::{ingest_blocks_dir, BulkOptions};
use chaintrace_ingest::NoProgress;
use chaintrace_model::{AddrId, Category, Label, Network};
use chaintrace_store::btc::BtcIndex;
use chaintrace_store::labels::LabelStore;
use chaintrace_store::tables::LabelTarget;
use chaintrace_store::{OpenMode, Store, StoreError};
use chaintrace_trace::attribution::Attributions;
use chaintrace_trace::btc::BtcLedger;
use chaintrace_trace::forward::{trace_forward, ForwardParams, ForwardTrace, Source};
use chaintrace_trace::ledger::{OutRef, UtxoLedger};
use chaintrace_trace::policy::{Policy, Rules};
use chaintrace_trace::TaintLabel;

pub const TXS_PER_BLOCK: u32 = 1_000;

/// Transactions in the generated chain (CHAINTRACE_BENCH_TRACE_TXS overrides the default 1M).
pub fn size() -> u64 {
    std::env::var("CHAINTRACE_BENCH_TRACE_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// An index of a generated chain, built once and reused by later runs; rebuilt when the cached
/// one was written under another store schema version, which this build refuses to open.
pub fn index() -> PathBuf {
    let txs = size();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("trace-bench-{txs}"));
    let db = base.join("db");
    let done = base.join("done");
    if done.exists() {
        match Store::open(&db, OpenMode::ReadOnly) {
            Ok(_) => return db,
            Err(StoreError::Schema {
                found, expected, ..
            }) => {
                eprintln!(
                    "cached index has schema {found}, this build reads {expected}: rebuilding"
                )
            }
            Err(e) => panic!("cached index at {}: {e}", db.display()),
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    let blocks = 100 + txs.div_ceil(u64::from(TXS_PER_BLOCK)) as u32;
    let spec = ChainSpec {
        seed: 11,
        blocks,
        txs_per_block: TXS_PER_BLOCK,
        stale_branches: 0,
        ..ChainSpec::default()
    };
    write_chain(&spec, &BlkWriterOptions::default(), &base.join("blocks")).expect("chain");
    let store = Store::open(&db, OpenMode::Create).expect("open");
    ingest_blocks_dir(
        &store,
        &base.join("blocks"),
        &BulkOptions::new(Network::Regtest),
        &NoProgress,
    )
    .expect("ingest");
    label_exchanges(&store);
    std::fs::write(&done, b"ok").expect("marker");
    db
}

/// Labels every 50th address as an exchange deposit address, so traces and screens stop
/// somewhere.
fn label_exchanges(store: &Store) {
    let idx = BtcIndex::new(store);
    let state = idx.state().unwrap().unwrap();
    let label = Label {
        name: "Bench Exchange".into(),
        category: Category::Exchange,
        raw_category: None,
        abuse: None,
        confidence: 80,
        source: "bench".into(),
        file: "bench".into(),
        is_cluster_definer: false,
        actor: None,
    };
    let entries: Vec<(LabelTarget, Label)> = (1..state.next_addr)
        .step_by(50)
        .filter_map(|id| idx.addr_key(AddrId(id)).unwrap())
        .map(|k| (LabelTarget::BtcAddr(k), label.clone()))
        .collect();
    LabelStore::new(store)
        .import("bench-exchanges", "bench", "", &entries)
        .expect("labels");
}

/// Sources: the first `n` coinbase rewards, so the trace spreads.
pub fn sources(ledger: &BtcLedger<'_>, n: u32) -> Vec<Source> {
    (1..=n)
        .map(|h| Source {
            out: OutRef {
                tx: ledger.block_txs(h).unwrap().0,
                vout: 0,
            },
            label: TaintLabel(0),
        })
        .collect()
}

/// A forward trace under `policy`, up to 1,000 hops.
pub fn forward(
    ledger: &BtcLedger<'_>,
    attrs: &Attributions,
    policy: Policy,
    src: &[Source],
) -> ForwardTrace {
    let mut p = ForwardParams::new(Rules::new(policy));
    p.max_hops = 1_000;
    trace_forward(ledger, attrs, src, &p).expect("trace")
}
