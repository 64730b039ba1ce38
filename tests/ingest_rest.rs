//! `chaintrace ingest btc --rest`: recorded mainnet REST responses replayed by a loopback HTTP
//! server, reorgs on generated competing branches, and a node that fails transiently.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use bitcoin::hashes::Hash;
use chaintrace_fixturegen::{fork_chain, ChainSpec, RestServer};
use chaintrace_model::btc::ScriptKind;
use chaintrace_model::{AddrId, Network, TxNum};
use chaintrace_store::btc::BtcIndex;
use chaintrace_store::{OpenMode, Store};
use serde_json::Value;

const BC2G2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/btc/rest/bc2g2");

fn chaintrace(db: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("chaintrace")
        .unwrap()
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

fn status(db: &Path) -> Value {
    let out = chaintrace(db, &["status", "--digest", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Serves the bc2g2 recordings: four mainnet blocks as `/rest/block/<hash>.json` and every
/// prevout they spend as `/rest/tx/<txid>.json`.
fn bc2g2_server() -> RestServer {
    let server = RestServer::start();
    server.set_network(bitcoin::Network::Bitcoin);
    for height in 120_460..=120_463u32 {
        let dir = Path::new(BC2G2).join(height.to_string());
        let block = std::fs::read_to_string(dir.join(format!("bl_{height}.json"))).unwrap();
        let hash: Value = serde_json::from_str(&block).unwrap();
        server.add_block_json(
            hash["hash"].as_str().unwrap().parse().unwrap(),
            block.clone(),
            height,
        );
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("tx_") {
                let json = std::fs::read_to_string(&path).unwrap();
                let txid: Value = serde_json::from_str(&json).unwrap();
                server.add_tx_json(txid["txid"].as_str().unwrap().parse().unwrap(), json);
            }
        }
    }
    server
}

#[test]
fn recorded_mainnet_rest_responses_build_a_partial_index() {
    let server = bc2g2_server();
    let db = tempfile::tempdir().unwrap();
    let out = chaintrace(
        db.path(),
        &[
            "ingest",
            "btc",
            "--rest",
            &server.url(),
            "--start-height",
            "120460",
            "--once",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let s = status(db.path());
    let btc = &s["chains"]["btc"];
    assert_eq!(btc["network"], "main");
    assert_eq!(btc["start_height"], 120_460);
    assert_eq!(btc["tip"]["height"], 120_463);
    assert_eq!(
        btc["tip"]["hash"].as_str(),
        Some(recorded_hash(120_463).as_str())
    );
    // nTx 10 + 8 + 10 + 12; inputs of non-coinbase transactions 13 + 14 + 12 + 12;
    // outputs 16 + 13 + 18 + 21 (counted from the recorded JSON).
    assert_eq!(
        (btc["blocks"].as_u64(), btc["txs"].as_u64()),
        (Some(4), Some(40))
    );
    assert_eq!(
        (btc["inputs"].as_u64(), btc["outputs"].as_u64()),
        (Some(51), Some(68))
    );

    let store = Store::open(db.path(), OpenMode::ReadOnly).unwrap();
    let idx = BtcIndex::new(&store);
    let mut coinbase_total = 0;
    for n in 0..40 {
        let tx = idx.tx(TxNum(n)).unwrap().unwrap();
        assert_eq!(
            tx.fee(),
            0,
            "every transaction in these 2011 blocks pays no fee"
        );
        if tx.coinbase {
            coinbase_total += tx.output_value();
        }
    }
    assert_eq!(coinbase_total, 4 * 50 * 100_000_000);

    // The bc2g2 address graph of these blocks names 74 addresses. The index has those, plus
    // the P2PKH form of the four coinbases' pay-to-pubkey keys, which bc2g2 leaves out.
    let expected = expected_addresses();
    assert_eq!(expected.len(), 74);
    let mut p2pk = BTreeSet::new();
    for n in 0..40 {
        let tx = idx.tx(TxNum(n)).unwrap().unwrap();
        for o in tx.outputs.iter().filter(|o| o.kind == ScriptKind::P2pk) {
            assert!(tx.coinbase);
            p2pk.insert(o.addr);
        }
    }
    assert_eq!(p2pk.len(), 4);
    let name = |id| {
        idx.addr_key(id)
            .unwrap()
            .unwrap()
            .to_address_string(Network::Main)
    };
    let indexed: BTreeSet<String> = (1..=btc["addresses"].as_u64().unwrap())
        .map(|id| name(AddrId(id)))
        .collect();
    let p2pk: BTreeSet<String> = p2pk.into_iter().map(name).collect();
    assert_eq!(indexed, expected.union(&p2pk).cloned().collect());
}

fn recorded_hash(height: u32) -> String {
    let dir = Path::new(BC2G2).join(height.to_string());
    let block: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("bl_{height}.json"))).unwrap(),
    )
    .unwrap();
    block["hash"].as_str().unwrap().to_string()
}

fn expected_addresses() -> BTreeSet<String> {
    let csv = std::fs::read_to_string(Path::new(BC2G2).join("expected-address_id.csv")).unwrap();
    csv.lines()
        .filter_map(|l| l.split('\t').nth(1))
        .map(str::to_string)
        .collect()
}

fn regtest_spec() -> ChainSpec {
    ChainSpec {
        seed: 42,
        txs_per_block: 20,
        ..ChainSpec::default()
    }
}

fn serve(server: &RestServer, blocks: &[bitcoin::Block]) {
    server.set_chain(blocks.to_vec(), bitcoin::Network::Regtest);
}

#[test]
fn a_reorg_rolls_back_to_the_fork_and_matches_a_fresh_index() {
    let (common, a, b) = fork_chain(&regtest_spec(), 120, 2, 4);
    let chain_a: Vec<_> = common.iter().chain(&a).cloned().collect();
    let chain_b: Vec<_> = common.iter().chain(&b).cloned().collect();
    let server = RestServer::start();
    serve(&server, &chain_a);
    let db = tempfile::tempdir().unwrap();
    let out = chaintrace(
        db.path(),
        &["ingest", "btc", "--rest", &server.url(), "--once"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status(db.path())["chains"]["btc"]["tip"]["height"], 122);

    serve(&server, &chain_b);
    let out = chaintrace(
        db.path(),
        &["ingest", "btc", "--rest", &server.url(), "--once"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rolled back 2 blocks"),
        "{}",
        stderr(&out)
    );
    let after = status(db.path());
    assert_eq!(
        after["chains"]["btc"]["tip"]["hash"],
        chain_b.last().unwrap().block_hash().to_string()
    );

    let fresh = tempfile::tempdir().unwrap();
    let out = chaintrace(
        fresh.path(),
        &["ingest", "btc", "--rest", &server.url(), "--once"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        after["digest"]["sha256"],
        status(fresh.path())["digest"]["sha256"]
    );
}

#[test]
fn following_the_tip_picks_up_new_blocks_and_reorgs_live() {
    let (common, a, b) = fork_chain(&regtest_spec(), 110, 1, 3);
    let chain_a: Vec<_> = common.iter().chain(&a).cloned().collect();
    let chain_b: Vec<_> = common.iter().chain(&b).cloned().collect();
    let server = RestServer::start();
    serve(&server, &common);
    let db = tempfile::tempdir().unwrap();
    let mut follower = std::process::Command::new(assert_cmd::cargo::cargo_bin("chaintrace"))
        .arg("--db")
        .arg(db.path())
        .args([
            "ingest",
            "btc",
            "--rest",
            &server.url(),
            "--poll-secs",
            "0.1",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |hash: bitcoin::BlockHash| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(store) = Store::open(db.path(), OpenMode::ReadOnly) {
                let tip = BtcIndex::new(&store).state().unwrap().and_then(|s| s.tip);
                if tip.map(|(_, h)| h) == Some(hash.to_byte_array()) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the follower never reached {hash}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(common.last().unwrap().block_hash());
    serve(&server, &chain_a);
    wait_for(chain_a.last().unwrap().block_hash());
    serve(&server, &chain_b);
    wait_for(chain_b.last().unwrap().block_hash());
    follower.kill().unwrap();
    follower.wait().unwrap();

    let fresh = tempfile::tempdir().unwrap();
    let out = chaintrace(
        fresh.path(),
        &["ingest", "btc", "--rest", &server.url(), "--once"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status(db.path())["digest"], status(fresh.path())["digest"]);
}

#[test]
fn transient_node_errors_are_retried() {
    let (common, _, _) = fork_chain(&regtest_spec(), 105, 1, 2);
    let server = RestServer::start();
    serve(&server, &common);
    server.fail_next(3, 503);
    let db = tempfile::tempdir().unwrap();
    let out = chaintrace(
        db.path(),
        &["ingest", "btc", "--rest", &server.url(), "--once"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status(db.path())["chains"]["btc"]["tip"]["height"], 105);
}

#[test]
fn a_node_on_another_network_is_refused_without_touching_the_index() {
    let (common, _, _) = fork_chain(&regtest_spec(), 101, 1, 2);
    let server = RestServer::start();
    serve(&server, &common);
    let db = tempfile::tempdir().unwrap();
    let out = chaintrace(
        db.path(),
        &["ingest", "btc", "--rest", &server.url(), "--once"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let before = status(db.path());
    server.set_network(bitcoin::Network::Bitcoin);
    let out = chaintrace(
        db.path(),
        &["ingest", "btc", "--rest", &server.url(), "--once"],
    );
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("regtest"), "{}", stderr(&out));
    assert_eq!(status(db.path())["digest"], before["digest"]);
}
