//! The real-node harness and the Ethereum scenario, against anvil 1.7.1: provisioning, the
//! RPC methods the Ethereum ingest relies on (receipts, callTracer, parity traces), reorgs,
//! the scenario's ground truth checked against the node's own state, and determinism.
//!
//! Timings are printed (`cargo test … -- --nocapture`): starting anvil takes tens of
//! milliseconds once the binary is provisioned, the scenario about half a second.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chaintrace_fixturegen::anvil::{
    anvil_path, ensure_anvil, parse_quantity, Address, Anvil, AnvilOptions, TxRequest, ETHER,
};
use chaintrace_fixturegen::eth_scenario::{
    self, EthManifest, TxRecord, DEPOSIT_TOPIC0, TRANSFER_TOPIC0, WITHDRAWAL_TOPIC0,
};
use serde_json::{json, Value};

fn start() -> (Anvil, Duration) {
    let t = Instant::now();
    let anvil = Anvil::start(&AnvilOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    (anvil, t.elapsed())
}

/// A fresh node with the scenario played on it.
fn scenario() -> (Anvil, EthManifest) {
    let (anvil, started) = start();
    let t = Instant::now();
    let manifest = eth_scenario::run(&anvil).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "anvil started in {started:?}, scenario ran in {:?}",
        t.elapsed()
    );
    (anvil, manifest)
}

fn named(m: &EthManifest, name: &str) -> Address {
    m.addresses
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no address named {name}"))
        .address
}

fn tx_of_step<'m>(m: &'m EthManifest, step: &str) -> &'m TxRecord {
    m.txs
        .iter()
        .find(|t| t.step == step)
        .unwrap_or_else(|| panic!("no tx for step {step}"))
}

fn wei(v: &Value) -> u128 {
    parse_quantity(v, "value").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn provisioning_from_scratch_is_race_free() {
    let target = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    let paths: Vec<PathBuf> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|_| s.spawn(|| ensure_anvil(target.path())))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("thread").unwrap_or_else(|e| panic!("{e}")))
            .collect()
    });
    eprintln!("provisioned anvil from npm in {:?}", t.elapsed());
    let expected = anvil_path(target.path());
    assert!(paths.iter().all(|p| *p == expected), "{paths:?}");
    let leftovers: Vec<_> = std::fs::read_dir(expected.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["anvil"],
        "staging dirs and the lock are cleaned up"
    );
    let version = std::process::Command::new(&expected)
        .arg("--version")
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&version.stdout).contains("1.7.1"));

    let opts = AnvilOptions {
        target_dir: Some(target.path().to_path_buf()),
        ..AnvilOptions::default()
    };
    let anvil = Anvil::start(&opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(anvil.block_number().unwrap(), 0);
}

#[test]
fn rpc_errors_name_the_method_and_the_input() {
    let (anvil, _) = start();
    let err = anvil.rpc("no_such_method", json!([])).unwrap_err();
    assert!(err.to_string().contains("no_such_method"), "{err}");
    let missing = format!("0x{}", "ab".repeat(32));
    let err = anvil.receipt(&missing).unwrap_err();
    assert!(err.to_string().contains("not mined"), "{err}");
    let err = "0x1234".parse::<Address>().unwrap_err();
    assert!(err.to_string().contains("0x1234"), "{err}");
    // An unfunded sender: the error names it.
    let poor = Address::tagged(0x0bad, 1);
    anvil.impersonate(poor).unwrap();
    let err = anvil
        .submit(&TxRequest::transfer(
            poor,
            Address::tagged(0x0bad, 2),
            ETHER,
        ))
        .unwrap_err();
    assert!(err.to_string().contains(&poor.to_string()), "{err}");
    let err = anvil.reorg(5, &[]).unwrap_err();
    assert!(err.to_string().contains("depth"), "{err}");
}

#[test]
fn blocks_are_reproducible_and_spaced() {
    let (a, _) = start();
    let (b, _) = start();
    let mined_a = a.mine(3).unwrap();
    let mined_b = b.mine(3).unwrap();
    assert_eq!(mined_a, mined_b);
    let stamps: Vec<u64> = mined_a.iter().map(|b| b.timestamp).collect();
    assert_eq!(stamps, [1_700_000_012, 1_700_000_024, 1_700_000_036]);
    assert_eq!(
        mined_a[0].miner,
        chaintrace_fixturegen::anvil::DEFAULT_COINBASE
    );
}

#[test]
fn send_tx_snapshot_revert_and_reorg() {
    let (anvil, _) = start();
    let (alice, bob, carol) = (
        Address::tagged(0xa11c, 1),
        Address::tagged(0xb0b0, 1),
        Address::tagged(0xca01, 1),
    );
    anvil.set_balance(alice, 10 * ETHER).unwrap();
    anvil.impersonate(alice).unwrap();
    let receipt = anvil
        .send_tx(&TxRequest::transfer(alice, bob, ETHER))
        .unwrap();
    assert!(receipt.success);
    assert_eq!(receipt.block_number, 1);
    assert_eq!(anvil.balance(bob).unwrap(), ETHER);

    let snap = anvil.snapshot().unwrap();
    anvil.mine(3).unwrap();
    assert_eq!(anvil.block_number().unwrap(), 4);
    anvil.revert(&snap).unwrap();
    assert_eq!(anvil.block_number().unwrap(), 1);

    // Block 2 pays bob again; a reorg of depth 2 replaces it with a payment to carol.
    let dropped = anvil
        .send_tx(&TxRequest::transfer(alice, bob, ETHER))
        .unwrap();
    anvil.mine(1).unwrap();
    let old_2 = anvil.block(Some(2)).unwrap().hash;
    let reorg = anvil
        .reorg(2, &[TxRequest::transfer(alice, carol, 2 * ETHER)])
        .unwrap();
    assert_eq!(reorg.fork_point, 1);
    assert_eq!(reorg.old_hashes.len(), 2);
    assert_eq!(reorg.new_hashes.len(), 3);
    assert_eq!(reorg.old_hashes[0], old_2);
    let new_2 = anvil.block(Some(2)).unwrap();
    assert_ne!(new_2.hash, old_2, "the block hash at height 2 changed");
    assert_eq!(new_2.hash, reorg.new_hashes[0]);
    assert_eq!(anvil.block_number().unwrap(), 4);
    assert_eq!(reorg.dropped_txs, std::slice::from_ref(&dropped.tx_hash));
    assert!(anvil.receipt(&dropped.tx_hash).is_err());
    assert_eq!(anvil.balance(bob).unwrap(), ETHER);
    assert_eq!(anvil.balance(carol).unwrap(), 2 * ETHER);
    // Parent links hold across the fork point.
    let parent = anvil
        .rpc("eth_getBlockByNumber", json!(["0x2", false]))
        .unwrap()["parentHash"]
        .clone();
    assert_eq!(parent, json!(anvil.block(Some(1)).unwrap().hash));
}

#[test]
fn scenario_receipts_statuses_and_events() {
    let (anvil, m) = scenario();
    assert_eq!(m.chain.tip_number, m.blocks.len() as u64);
    let mut by_block: BTreeMap<u64, Vec<&TxRecord>> = BTreeMap::new();
    for tx in &m.txs {
        by_block.entry(tx.block_number).or_default().push(tx);
    }
    let mut logs = Vec::new();
    for block in &m.blocks {
        let receipts = anvil
            .rpc(
                "eth_getBlockReceipts",
                json!([format!("{:#x}", block.number)]),
            )
            .unwrap();
        let receipts = receipts.as_array().expect("array");
        let expected = by_block.get(&block.number).cloned().unwrap_or_default();
        assert_eq!(receipts.len(), expected.len(), "block {}", block.number);
        assert_eq!(receipts.len() as u32, block.tx_count);
        for (r, tx) in receipts.iter().zip(expected) {
            assert_eq!(r["transactionHash"], json!(tx.hash));
            assert_eq!(
                wei(&r["status"]),
                u128::from(tx.status),
                "{}",
                tx.description
            );
            assert_eq!(wei(&r["gasUsed"]), u128::from(tx.gas_used));
            assert_eq!(wei(&r["effectiveGasPrice"]), tx.effective_gas_price_wei);
            assert_eq!(r["blockHash"], json!(block.hash));
            logs.extend(r["logs"].as_array().unwrap().iter().cloned());
        }
        let parsed = anvil.block_receipts(block.number).unwrap();
        assert_eq!(parsed.len(), receipts.len());
        assert!(parsed.iter().all(|r| r.block_hash == block.hash));
    }
    let failed: Vec<&str> = m
        .txs
        .iter()
        .filter(|t| t.status == 0)
        .map(|t| t.step.as_str())
        .collect();
    assert_eq!(failed, ["failed-tx"]);

    let pool = json!(m.contracts.mixer_pool.address);
    let with_topic =
        |t: &str| -> Vec<&Value> { logs.iter().filter(|l| l["topics"][0] == json!(t)).collect() };
    // Both pools' events are in the tornado section; the 1 ETH pool's also in truth.mixer.
    assert_eq!(with_topic(DEPOSIT_TOPIC0).len(), m.tornado.deposits.len());
    assert_eq!(
        with_topic(WITHDRAWAL_TOPIC0).len(),
        m.tornado.withdrawals.len()
    );
    for (log, d) in with_topic(DEPOSIT_TOPIC0).iter().zip(&m.tornado.deposits) {
        assert_eq!(log["address"], json!(d.pool));
        assert_eq!(log["transactionHash"], json!(d.tx));
        assert_eq!(log["topics"][1], json!(d.commitment));
    }
    for (log, w) in with_topic(WITHDRAWAL_TOPIC0)
        .iter()
        .zip(&m.tornado.withdrawals)
    {
        assert_eq!(log["address"], json!(w.pool));
        assert_eq!(log["transactionHash"], json!(w.tx));
    }
    let in_pool = |t: &str| -> Vec<&Value> {
        with_topic(t)
            .into_iter()
            .filter(|l| l["address"] == pool)
            .collect()
    };
    let deposits = in_pool(DEPOSIT_TOPIC0);
    assert_eq!(deposits.len(), m.truth.mixer.deposits.len());
    assert_eq!(deposits.len(), 14 + 15, "the story's, then blocks 20-28");
    for (log, d) in deposits.iter().zip(&m.truth.mixer.deposits) {
        assert_eq!(log["address"], pool);
        assert_eq!(log["topics"][1], json!(d.commitment));
        let data = log["data"].as_str().unwrap();
        assert_eq!(data.len(), 2 + 2 * 64, "leafIndex ‖ timestamp");
        assert_eq!(u32::from_str_radix(&data[2..66], 16).unwrap(), d.leaf_index);
    }
    let withdrawals = in_pool(WITHDRAWAL_TOPIC0);
    assert_eq!(withdrawals.len(), 12 + 14, "the story's, then blocks 20-28");
    for (log, w) in withdrawals.iter().zip(&m.truth.mixer.withdrawals) {
        assert_eq!(log["address"], pool);
        let relayer = &log["topics"][1].as_str().unwrap()[26..];
        assert_eq!(format!("0x{relayer}"), w.relayer.to_string());
        let data = log["data"].as_str().unwrap();
        assert_eq!(data.len(), 2 + 3 * 64, "to ‖ nullifierHash ‖ fee");
        assert_eq!(format!("0x{}", &data[26..66]), w.recipient.to_string());
        assert_eq!(format!("0x{}", &data[66..130]), w.nullifier_hash);
        assert_eq!(u128::from_str_radix(&data[130..], 16).unwrap(), w.fee_wei);
    }
    let token_moves = m
        .truth
        .transfers
        .iter()
        .filter(|t| t.kind == "token")
        .count();
    assert_eq!(with_topic(TRANSFER_TOPIC0).len(), token_moves);
}

/// Every wei and token unit at the tip is explained by prefunding, the manifest's moved
/// transfers and the gas of its transactions: the ground truth is complete.
#[test]
fn scenario_ground_truth_accounts_for_every_balance() {
    let (anvil, m) = scenario();
    let mut eth: BTreeMap<Address, i128> = BTreeMap::new();
    let mut token: BTreeMap<Address, i128> = BTreeMap::new();
    for a in &m.addresses {
        eth.insert(a.address, a.prefunded_wei as i128);
    }
    for t in m.truth.transfers.iter().filter(|t| t.moved) {
        let book = if t.asset == "ETH" {
            &mut eth
        } else {
            &mut token
        };
        *book.entry(t.from).or_default() -= t.amount as i128;
        *book.entry(t.to).or_default() += t.amount as i128;
    }
    for tx in &m.txs {
        assert_eq!(
            tx.fee_wei,
            u128::from(tx.gas_used) * tx.effective_gas_price_wei
        );
        assert_eq!(tx.fee_wei, tx.burnt_wei + tx.tip_wei);
        assert_eq!(
            tx.effective_gas_price_wei,
            tx.max_fee_per_gas_wei
                .min(tx.base_fee_per_gas_wei + tx.max_priority_fee_per_gas_wei)
        );
        *eth.entry(tx.from).or_default() -= tx.fee_wei as i128;
        *eth.entry(m.chain.coinbase).or_default() += tx.tip_wei as i128;
    }
    for h in &m.truth.final_balances {
        assert_eq!(eth[&h.address], h.eth_wei as i128, "ETH of {}", h.name);
        assert_eq!(
            token.get(&h.address).copied().unwrap_or(0),
            h.token_units as i128,
            "CUSD of {}",
            h.name
        );
        assert_eq!(anvil.balance(h.address).unwrap(), h.eth_wei, "{}", h.name);
    }
    // Thief addresses start empty: everything they hold came through the story.
    for a in m.addresses.iter().filter(|a| a.owner == "thief") {
        assert_eq!(a.prefunded_wei, 0, "{}", a.name);
    }
    let balance = |name: &str| {
        let address = named(&m, name);
        m.truth
            .final_balances
            .iter()
            .find(|h| h.address == address)
            .unwrap()
            .clone()
    };
    assert_eq!(
        balance("decoy").eth_wei,
        0,
        "the reverted call paid nothing"
    );
    assert_eq!(balance("thief.after_revert").eth_wei, 10 * ETHER);
    assert_eq!(
        balance("mixer_pool").eth_wei,
        3 * ETHER,
        "two bystander notes, and tc.g30b's note from block 21"
    );
    assert_eq!(
        balance("mixer_pool_small").eth_wei,
        0,
        "every note withdrawn"
    );
    assert_eq!(balance("splitter").eth_wei, 0, "pass-through");
    assert_eq!(balance("thief.w09").eth_wei, 99 * ETHER / 100);
    assert_eq!(balance("thief.token2").token_units, 250_000_000_000);
    assert_eq!(balance("northbank.dep.thief").token_units, 50_000_000_000);
    assert_eq!(
        balance("keyport.dep.thief").eth_wei,
        5 * 98 * ETHER / 100 + 48 * ETHER / 10
    );

    let thief_pairs = m
        .truth
        .mixer
        .withdrawals
        .iter()
        .filter(|w| w.owner == "thief")
        .count();
    assert_eq!(thief_pairs, 10);
    assert_eq!(m.truth.mixer.unspent_commitments.len(), 3);
    let otc = &m.truth.commingling.events;
    let dirs: Vec<&str> = otc.iter().map(|e| e.direction.as_str()).collect();
    assert_eq!(dirs, ["in", "in", "out", "in", "out"]);
    assert_eq!(otc[0].funds, "clean");
    assert_eq!(otc[1].funds, "stolen");
    assert!(otc[2].gas_fee_wei > 0);
}

fn trace_of(traces: &Value, hash: &str) -> Value {
    traces
        .as_array()
        .expect("array")
        .iter()
        .find(|t| t["txHash"] == json!(hash))
        .unwrap_or_else(|| panic!("no trace for {hash}"))["result"]
        .clone()
}

#[test]
fn call_tracer_shows_internal_value_calls_and_reverted_frames() {
    let (anvil, m) = scenario();
    let split = tx_of_step(&m, "split");
    let traces = anvil.call_traces(split.block_number).unwrap();
    let top = trace_of(&traces, &split.hash);
    assert_eq!(wei(&top["value"]), 799 * ETHER / 10);
    let calls = top["calls"].as_array().expect("internal calls");
    let paid: Vec<(String, u128)> = calls
        .iter()
        .filter(|c| c["type"] == "CALL")
        .map(|c| (c["to"].as_str().unwrap().to_owned(), wei(&c["value"])))
        .collect();
    let expected: Vec<(String, u128)> = [
        "thief.split1",
        "thief.split2",
        "thief.split3",
        "thief.split4",
    ]
    .iter()
    .map(|n| named(&m, n).to_string())
    .zip([30 * ETHER, 25 * ETHER, 20 * ETHER, 49 * ETHER / 10])
    .collect();
    assert_eq!(paid, expected);

    let reverted = tx_of_step(&m, "reverted-call");
    let failed = tx_of_step(&m, "failed-tx");
    assert_eq!(reverted.block_number, failed.block_number);
    let traces = anvil.call_traces(reverted.block_number).unwrap();
    assert!(
        trace_of(&traces, &failed.hash)["error"].is_string(),
        "failed tx"
    );
    let top = trace_of(&traces, &reverted.hash);
    assert!(top.get("error").is_none());
    let frames = top["calls"].as_array().unwrap();
    let inner = &frames[0];
    assert!(inner["error"].is_string(), "self-call reverted: {inner}");
    assert_eq!(wei(&inner["value"]), 10 * ETHER);
    let decoy_call = &inner["calls"][0];
    assert_eq!(decoy_call["to"], json!(named(&m, "decoy")));
    assert_eq!(wei(&decoy_call["value"]), 10 * ETHER);
    let paid = &frames[1];
    assert!(paid.get("error").is_none());
    assert_eq!(paid["to"], json!(named(&m, "thief.after_revert")));
}

#[test]
fn trace_block_serves_parity_traces() {
    let (anvil, m) = scenario();
    let split = tx_of_step(&m, "split");
    let traces = anvil.trace_block(split.block_number).unwrap();
    let of_split: Vec<&Value> = traces
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["transactionHash"] == json!(split.hash))
        .collect();
    assert_eq!(of_split.len(), 5, "the call and its four internal CALLs");
    let subs: Vec<(Value, u128)> = of_split[1..]
        .iter()
        .map(|t| (t["traceAddress"].clone(), wei(&t["action"]["value"])))
        .collect();
    assert_eq!(subs[0], (json!([0]), 30 * ETHER));
    assert_eq!(subs[3], (json!([3]), 49 * ETHER / 10));

    let reverted = tx_of_step(&m, "reverted-call");
    let traces = anvil
        .rpc("trace_transaction", json!([reverted.hash]))
        .unwrap();
    let errors: Vec<Value> = traces
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t.get("error").is_some())
        .map(|t| t["traceAddress"].clone())
        .collect();
    assert_eq!(errors, [json!([0])], "only the self-call frame reverted");
}

/// Two fresh nodes give the same chain, byte for byte; the committed copies in
/// `fixtures/eth/scenario/` match (`CHAINTRACE_BLESS=1` rewrites them).
#[test]
fn scenario_is_deterministic_and_matches_the_committed_copy() {
    let (first, second) = std::thread::scope(|s| {
        let a = s.spawn(scenario);
        let b = s.spawn(scenario);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(first.1, second.1);
    let m = first.1;
    let hashes: Vec<&str> = m.txs.iter().map(|t| t.hash.as_str()).collect();
    let mut unique = hashes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), hashes.len());

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/eth/scenario");
    if std::env::var_os("CHAINTRACE_BLESS").is_some() {
        eth_scenario::write(&dir, &m).unwrap();
        eth_scenario::write_recording(&dir, &first.0).unwrap();
    }
    // The bundled recording holds exactly what this node answers.
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(eth_scenario::RECORDING)).expect("committed recording"),
    )
    .unwrap();
    assert_eq!(
        recorded,
        eth_scenario::record::record_chain(&first.0).unwrap(),
        "rerun with CHAINTRACE_BLESS=1 if the change is intended"
    );
    let committed = std::fs::read_to_string(dir.join("eth_scenario.json"))
        .expect("committed manifest (run with CHAINTRACE_BLESS=1 to write it)");
    let committed: EthManifest = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        committed, m,
        "rerun with CHAINTRACE_BLESS=1 if the change is intended"
    );
    let tags = std::fs::read_to_string(dir.join("eth_scenario.tagpack.yaml")).unwrap();
    assert_eq!(tags, eth_scenario::tagpack(&m));
    for (file, text) in [
        (
            eth_scenario::TORNADO_POOLS,
            eth_scenario::tornado_registry(&m),
        ),
        (eth_scenario::AP_CLAIMS, eth_scenario::ap_claims_csv(&m)),
    ] {
        assert_eq!(
            std::fs::read_to_string(dir.join(file)).unwrap(),
            text,
            "{file}"
        );
    }
}

#[test]
fn tagpack_labels_exchanges_mixer_and_thief() {
    let (_anvil, m) = scenario();
    let tags = eth_scenario::tagpack(&m);
    let tag = |name: &str| {
        let address = named(&m, name).to_string();
        let at = tags
            .find(&format!("address: \"{address}\""))
            .unwrap_or_else(|| panic!("{name} ({address}) untagged"));
        let rest = &tags[at..];
        let category = rest.lines().nth(1).unwrap().trim().to_owned();
        category
    };
    assert_eq!(tag("bitvault.hot"), "category: \"exchange\"");
    assert_eq!(tag("northbank.dep.thief"), "category: \"exchange\"");
    assert_eq!(tag("keyport.dep.otc"), "category: \"exchange\"");
    assert_eq!(tag("mixer_pool"), "category: \"mixer\"");
    assert_eq!(tag("thief"), "category: \"theft\"");
    assert!(!tags.contains(&named(&m, "thief.hop1").to_string()));
    for line in tags.lines().filter(|l| l.contains("address:")) {
        assert_eq!(line, line.to_lowercase(), "addresses are lowercase");
    }
}
