use std::io::{Read, Write};
use std::net::TcpStream;

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{block::Header, Block, Network};
use chaintrace_fixturegen::{fork_chain, ChainSpec, RestServer};

struct Response {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A bare HTTP/1.0 GET, so the test depends on nothing but std.
fn get(server: &RestServer, path: &str) -> Response {
    let host = server.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&host).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or_default()
        .to_owned();
    Response {
        status,
        content_type,
        body: raw[split + 4..].to_vec(),
    }
}

fn chains() -> (Vec<Block>, Vec<Block>) {
    let spec = ChainSpec {
        seed: 5,
        blocks: 0,
        txs_per_block: 6,
        stale_branches: 0,
        wallets: 60,
    };
    let (common, a, b) = fork_chain(&spec, 105, 1, 2);
    let chain_a = common.iter().chain(&a).cloned().collect();
    let chain_b = common.iter().chain(&b).cloned().collect();
    (chain_a, chain_b)
}

#[test]
fn serves_chaininfo_hashes_blocks_headers_and_txs() {
    let (chain, _) = chains();
    let server = RestServer::start();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    server.set_chain(chain.clone(), Network::Regtest);

    let info = get(&server, "/rest/chaininfo.json");
    assert_eq!(info.status, 200);
    assert_eq!(info.content_type, "application/json");
    let info = info.json();
    assert_eq!(info["chain"], "regtest");
    assert_eq!(info["blocks"], 106);
    assert_eq!(info["headers"], 106);
    assert_eq!(info["bestblockhash"], chain[106].block_hash().to_string());
    // Regtest work is 2 per block.
    assert_eq!(info["chainwork"], format!("{:064x}", 2 * 107));

    let by_height = get(&server, "/rest/blockhashbyheight/42.json").json();
    assert_eq!(by_height["blockhash"], chain[42].block_hash().to_string());
    let out_of_range = get(&server, "/rest/blockhashbyheight/107.json");
    assert_eq!(
        (out_of_range.status, out_of_range.text()),
        (404, "Block height out of range\r\n".to_owned())
    );
    assert_eq!(get(&server, "/rest/blockhashbyheight/x.json").status, 400);

    let hash = chain[103].block_hash();
    let raw = get(&server, &format!("/rest/block/{hash}.bin"));
    assert_eq!(
        (raw.status, raw.content_type.as_str()),
        (200, "application/octet-stream")
    );
    assert_eq!(raw.body, serialize(&chain[103]));
    let hex = get(&server, &format!("/rest/block/{hash}.hex")).text();
    assert_eq!(
        hex.trim_end(),
        bitcoin::hex::DisplayHex::to_lower_hex_string(&serialize(&chain[103])[..])
    );

    let headers = get(
        &server,
        &format!("/rest/headers/{}.bin?count=10", chain[100].block_hash()),
    );
    assert_eq!(headers.body.len(), 7 * 80, "walks to the tip and stops");
    let first: Header = deserialize(&headers.body[..80]).unwrap();
    assert_eq!(first, chain[100].header);
    let old_style = get(
        &server,
        &format!("/rest/headers/3/{}.bin", chain[0].block_hash()),
    );
    assert_eq!(old_style.body.len(), 3 * 80);
    assert_eq!(
        get(&server, &format!("/rest/headers/{hash}.bin?count=0")).status,
        400
    );

    let tx = &chain[103].txdata[1];
    let served = get(&server, &format!("/rest/tx/{}.bin", tx.compute_txid()));
    assert_eq!(served.body, serialize(tx));
}

#[test]
fn json_documents_are_served_only_when_registered() {
    let (chain, _) = chains();
    let server = RestServer::start();
    server.set_chain(chain.clone(), Network::Regtest);
    let hash = chain[5].block_hash();
    let missing = get(&server, &format!("/rest/block/{hash}.json"));
    assert_eq!(
        (missing.status, missing.text()),
        (404, format!("{hash} not found\r\n"))
    );
    server.add_block_json(hash, r#"{"hash":"recorded","height":5}"#, 5);
    assert_eq!(
        get(&server, &format!("/rest/block/{hash}.json")).json()["hash"],
        "recorded"
    );
    assert_eq!(
        get(&server, &format!("/rest/block/notxdetails/{hash}.json")).json()["height"],
        5
    );

    let txid = chain[104].txdata[0].compute_txid();
    assert_eq!(get(&server, &format!("/rest/tx/{txid}.json")).status, 404);
    server.add_tx_json(txid, r#"{"txid":"x"}"#);
    assert_eq!(
        get(&server, &format!("/rest/tx/{txid}.json")).json()["txid"],
        "x"
    );

    // JSON-only blocks extend the chain: a recorded mainnet block at a height beyond the tip.
    let recorded = bitcoin::BlockHash::from_byte_array([7; 32]);
    server.set_network(Network::Bitcoin);
    server.add_block_json(recorded, r#"{"chainwork":"00ff"}"#, 500);
    let info = get(&server, "/rest/chaininfo.json").json();
    assert_eq!(
        (info["chain"].as_str(), info["blocks"].as_u64()),
        (Some("main"), Some(500))
    );
    assert_eq!(info["chainwork"], "00ff");
}

#[test]
fn errors_look_like_core() {
    let server = RestServer::start();
    let unknown = "00".repeat(32);
    let r = get(&server, &format!("/rest/block/{unknown}.bin"));
    assert_eq!(
        (r.status, r.text()),
        (404, format!("{unknown} not found\r\n"))
    );
    assert_eq!(get(&server, "/rest/block/nothex.bin").status, 400);
    assert_eq!(
        get(&server, &format!("/rest/block/{unknown}.xml")).status,
        404
    );
    assert_eq!(get(&server, "/rest/nothing").status, 404);
    assert_eq!(get(&server, "/elsewhere").status, 404);
    assert_eq!(get(&server, "/rest/headers/abc/def.bin").status, 400);
    // A fresh server knows the regtest genesis block.
    let info = get(&server, "/rest/chaininfo.json").json();
    assert_eq!(info["blocks"], 0);
    let genesis = bitcoin::constants::genesis_block(Network::Regtest).block_hash();
    assert_eq!(info["bestblockhash"], genesis.to_string());
}

#[test]
fn injected_failures_then_recovery() {
    let server = RestServer::start();
    server.fail_next(2, 503);
    assert_eq!(get(&server, "/rest/chaininfo.json").status, 503);
    assert_eq!(get(&server, "/rest/chaininfo.json").status, 503);
    assert_eq!(get(&server, "/rest/chaininfo.json").status, 200);
    server.fail_next(1, 500);
    assert_eq!(get(&server, "/rest/blockhashbyheight/0.json").status, 500);
    assert_eq!(get(&server, "/rest/blockhashbyheight/0.json").status, 200);
    assert_eq!(server.request_count(), 5);
}

#[test]
fn switching_chains_simulates_a_reorg() {
    let (chain_a, chain_b) = chains();
    let server = RestServer::start();
    server.set_chain(chain_a.clone(), Network::Regtest);
    let tip_a = chain_a.last().unwrap().block_hash();
    assert_eq!(
        get(&server, "/rest/chaininfo.json").json()["bestblockhash"],
        tip_a.to_string()
    );
    server.set_chain(chain_b.clone(), Network::Regtest);
    let info = get(&server, "/rest/chaininfo.json").json();
    assert_eq!(info["blocks"], chain_b.len() - 1);
    assert_eq!(
        info["bestblockhash"],
        chain_b.last().unwrap().block_hash().to_string()
    );
    let at_106 = get(&server, "/rest/blockhashbyheight/106.json").json();
    assert_eq!(at_106["blockhash"], chain_b[106].block_hash().to_string());
    // The replaced block is still known by hash, but no longer on the active chain.
    let stale = get(&server, &format!("/rest/block/{tip_a}.bin"));
    assert_eq!(stale.body, serialize(chain_a.last().unwrap()));
    assert!(get(&server, &format!("/rest/headers/{tip_a}.bin?count=5"))
        .body
        .is_empty());
}

#[test]
fn dropping_the_server_stops_it() {
    let server = RestServer::start();
    let host = server.url().trim_start_matches("http://").to_owned();
    assert_eq!(get(&server, "/rest/chaininfo.json").status, 200);
    drop(server);
    assert!(TcpStream::connect(&host).is_err(), "listener closed");
}
