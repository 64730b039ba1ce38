//! Ethereum ingestion against a real node: anvil (provisioned from npm by the harness) runs the
//! laundering scenario, and `chaintrace ingest eth` indexes it. The index must agree with the
//! node (blocks, transactions, balances of every account the scenario funds only through
//! transactions), give the same rows from callTracer and parity traces, survive kill -9 at any
//! moment, and follow a reorg to the same index a fresh ingest of the new branch gives.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chaintrace_fixturegen::anvil::{Anvil, AnvilOptions, TxRequest, ETHER};
use chaintrace_fixturegen::eth_scenario::{self, EthManifest};
use chaintrace_model::eth::{Address, AssetId, U256};
use chaintrace_store::eth::EthIndex;
use chaintrace_store::{OpenMode, Store};
use common::*;

fn start_scenario() -> (Anvil, EthManifest) {
    let anvil = Anvil::start(&AnvilOptions::default()).expect("anvil starts");
    let manifest = eth_scenario::run(&anvil).expect("the scenario runs");
    (anvil, manifest)
}

fn ingest_eth(db: &Path, url: &str, extra: &[&str]) -> Run {
    let mut args = vec!["ingest", "eth", "--rpc", url];
    args.extend(extra);
    on_db(db, &args)
}

fn eth_status(db: &Path) -> serde_json::Value {
    status_quick(db)["chains"]["eth"].clone()
}

fn to_model(a: &chaintrace_fixturegen::anvil::Address) -> Address {
    Address::from(a.0)
}

#[test]
fn the_scenario_chain_is_indexed_as_the_node_has_it() {
    let (anvil, m) = start_scenario();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let run = ingest_eth(&db, anvil.url(), &[]).ok();
    run.stderr_has(&["traces: calltracer"]);
    let s = eth_status(&db);
    assert_eq!(s["chain_id"], 31337);
    assert_eq!(s["tip"]["height"], m.chain.tip_number);
    assert_eq!(s["tip"]["hash"], m.chain.tip_hash.to_lowercase());
    assert_eq!(s["blocks"], m.chain.tip_number + 1);
    let txs: u64 = m.blocks.iter().map(|b| u64::from(b.tx_count)).sum();
    assert_eq!(s["txs"], txs);

    // Every account the scenario funds only through transactions has, in the index, exactly
    // the balance the node reports: gas, internal transfers, failures and reverts included.
    let store = Store::open(&db, OpenMode::ReadOnly).unwrap();
    let idx = EthIndex::new(&store);
    let mut checked = 0;
    for a in m.addresses.iter().filter(|a| a.prefunded_wei == 0) {
        let node = anvil.balance(a.address).unwrap();
        if node >= 1_000 * ETHER {
            continue; // a dev account funded in anvil's genesis, which no transaction records
        }
        let id = idx.addr_id(&to_model(&a.address)).unwrap();
        let indexed = id.map_or(U256::ZERO, |id| idx.balance(id, AssetId::ETH).unwrap());
        assert_eq!(indexed, U256::from(node), "{} ({})", a.name, a.role);
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} accounts compared");

    // Rerunning when caught up changes nothing.
    let digest = digest(&db);
    ingest_eth(&db, anvil.url(), &[]).ok();
    assert_eq!(digest, common::digest(&db));
}

#[test]
fn call_tracer_and_parity_traces_give_the_same_index() {
    let (anvil, _) = start_scenario();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ingest_eth(&a, anvil.url(), &["--traces", "calltracer"]).ok();
    ingest_eth(
        &b,
        anvil.url(),
        &["--traces", "parity", "--concurrency", "1"],
    )
    .ok()
    .stderr_has(&["traces: parity"]);
    assert_eq!(digest(&a), digest(&b));
    let c = dir.path().join("c");
    ingest_eth(&c, anvil.url(), &["--traces", "none"])
        .ok()
        .stderr_has(&["internal transfers", "MISSING"]);
    assert_ne!(
        digest(&a),
        digest(&c),
        "the scenario has internal transfers"
    );
}

#[test]
fn ranges_and_resumes_line_up() {
    let (anvil, m) = start_scenario();
    let dir = tempfile::tempdir().unwrap();
    let (whole, parts) = (dir.path().join("whole"), dir.path().join("parts"));
    ingest_eth(&whole, anvil.url(), &[]).ok();
    let mid = (m.chain.tip_number / 2).to_string();
    ingest_eth(&parts, anvil.url(), &["--to", &mid]).ok();
    assert_eq!(eth_status(&parts)["tip"]["height"].to_string(), mid);
    ingest_eth(&parts, anvil.url(), &["--confirmations", "2"]).ok();
    assert_eq!(eth_status(&parts)["tip"]["height"], m.chain.tip_number - 2);
    ingest_eth(&parts, anvil.url(), &[]).ok();
    assert_eq!(digest(&whole), digest(&parts));
    // A --from that does not continue the index is refused, and changes nothing.
    let run = ingest_eth(&parts, anvil.url(), &["--from", "3"]).expect_code(64);
    assert!(
        run.error_line().contains("gap or overlap"),
        "{}",
        run.stderr
    );
    assert_eq!(digest(&whole), digest(&parts));
}

#[test]
fn kill_9_at_any_moment_then_rerun_gives_the_same_index() {
    let (anvil, _) = start_scenario();
    // A longer chain, so that kills land while blocks are being written.
    anvil.mine(400).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    ingest_eth(&clean, anvil.url(), &[]).ok();
    let want = digest(&clean);
    let db = dir.path().join("killed");
    let mut killed = 0;
    for delay_ms in [60u64, 120, 200, 300, 450, 650] {
        let mut child = Command::new(bin_path())
            .arg("--db")
            .arg(&db)
            .args(["ingest", "eth", "--rpc", anvil.url(), "--concurrency", "1"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(delay_ms) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
    }
    eprintln!("killed {killed} of 6 runs mid-ingest");
    assert!(
        killed >= 2,
        "the ingest finished before most kills; lengthen the chain"
    );
    ingest_eth(&db, anvil.url(), &[]).ok();
    assert_eq!(digest(&db), want);
}

#[test]
fn a_reorg_rolls_back_to_the_fork_and_follows_the_new_branch() {
    let (anvil, m) = start_scenario();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ingest_eth(&db, anvil.url(), &[]).ok();
    let before = eth_status(&db);
    // Replace the top three blocks with a branch of four, with a new transfer in it.
    let payer = m
        .addresses
        .iter()
        .find(|a| a.prefunded_wei >= ETHER)
        .expect("a prefunded account");
    let reorg = anvil
        .reorg(
            3,
            &[TxRequest::transfer(
                payer.address,
                chaintrace_fixturegen::anvil::Address::tagged(0xbeef, 1),
                ETHER / 10,
            )],
        )
        .unwrap();
    let run = ingest_eth(&db, anvil.url(), &[]).ok();
    run.stderr_has(&["rolled back 3 blocks"]);
    let after = eth_status(&db);
    assert_eq!(after["tip"]["height"], reorg.fork_point + 4);
    assert_ne!(after["tip"]["hash"], before["tip"]["hash"]);
    let fresh = dir.path().join("fresh");
    ingest_eth(&fresh, anvil.url(), &[]).ok();
    assert_eq!(digest(&db), digest(&fresh));
}

#[test]
fn an_unreachable_node_is_exit_69_and_a_bad_url_is_usage() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let run = ingest_eth(&db, &url, &[]).expect_code(UNAVAILABLE);
    assert!(run.error_line().contains(&url), "{}", run.stderr);
    let run = ingest_eth(&db, "localhost:8545", &[]).expect_code(64);
    assert!(run.error_line().contains("JSON-RPC URL"), "{}", run.stderr);
    assert!(eth_status(&db).is_null(), "nothing was indexed");
}

/// The bundled recording of the scenario node, served by the loopback replay server.
fn replay(keep: impl Fn(&str) -> bool) -> chaintrace_fixturegen::RpcReplay {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/eth/scenario")
        .join(eth_scenario::RECORDING);
    let pairs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let server = chaintrace_fixturegen::RpcReplay::start();
    for p in pairs.as_array().unwrap() {
        let method = p["request"]["method"].as_str().unwrap();
        if keep(method) {
            server.record(
                method,
                p["request"]["params"].clone(),
                p["response"]["result"].clone(),
            );
        }
    }
    server
}

fn manifest() -> EthManifest {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/eth/scenario/eth_scenario.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_bundled_recording_ingests_through_retries_and_fallbacks() {
    let m = manifest();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let server = replay(|_| true);
    // The first answers are rate limits and outages: retried with backoff.
    server.fail_next(2, 429);
    server.fail_next_rpc(
        1,
        -32005,
        "daily request count exceeded, request rate limited",
    );
    let t = Instant::now();
    ingest_eth(&db, &server.url(), &[]).ok();
    eprintln!("ingest with failures: {:?}", t.elapsed());
    let s = eth_status(&db);
    assert_eq!(s["tip"]["height"], m.chain.tip_number);
    assert_eq!(s["tip"]["hash"], m.chain.tip_hash.to_lowercase());
    let want = digest(&db);

    // A node without eth_getBlockReceipts: receipts come one by one, in JSON-RPC batches.
    let without = replay(|method| method != "eth_getBlockReceipts");
    let pairs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/eth/scenario")
                .join(eth_scenario::RECORDING),
        )
        .unwrap(),
    )
    .unwrap();
    let mut per_tx = 0;
    for p in pairs.as_array().unwrap() {
        if p["request"]["method"] == "eth_getBlockReceipts" {
            for r in p["response"]["result"].as_array().unwrap() {
                without.record(
                    "eth_getTransactionReceipt",
                    serde_json::json!([r["transactionHash"]]),
                    r.clone(),
                );
                per_tx += 1;
            }
        }
    }
    let db2 = dir.path().join("db2");
    let t = Instant::now();
    ingest_eth(&db2, &without.url(), &[]).ok();
    eprintln!("ingest without block receipts: {:?}", t.elapsed());
    assert_eq!(digest(&db2), want);
    assert_eq!(without.calls("eth_getTransactionReceipt"), per_tx);
    let calls: u64 = without.call_counts().values().sum();
    assert!(
        without.http_requests() + per_tx / 2 <= calls,
        "receipts were batched: {} HTTP requests for {calls} calls",
        without.http_requests()
    );
}

#[test]
fn a_node_without_traces_is_named_and_refused_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let server = replay(|m| m != "debug_traceBlockByNumber" && m != "trace_block");
    let run = ingest_eth(&db, &server.url(), &[]).expect_code(UNAVAILABLE);
    assert!(
        run.error_line()
            .contains("debug_traceBlockByNumber or trace_block"),
        "{}",
        run.stderr
    );
    // Parity traces alone are enough.
    let parity = replay(|m| m != "debug_traceBlockByNumber");
    ingest_eth(&db, &parity.url(), &[])
        .ok()
        .stderr_has(&["traces: parity"]);
}
