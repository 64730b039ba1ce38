//! Tracing the Ethereum laundering scenario end to end: the bundled recording of the scenario
//! node is ingested through the loopback replay server, its labels imported, and `trace`,
//! `screen` and `batch` run on it; every ground-truth fact of the manifest is checked.

mod common;

use std::path::{Path, PathBuf};

use chaintrace_fixturegen::eth_scenario::EthManifest;
use common::eth_fixture::{self, manifest, scenario_dir};
use common::*;
use serde_json::Value;

/// An index of the scenario with its labels.
fn indexed() -> (tempfile::TempDir, PathBuf) {
    let (dir, db) = eth_fixture::ingested();
    let tags = scenario_dir().join("eth_scenario.tagpack.yaml");
    on_db(&db, &["labels", "import", tags.to_str().unwrap()]).ok();
    (dir, db)
}

fn run_json(db: &Path, args: &[&str]) -> Value {
    json(on_db(db, args))
}

const ETHER: u128 = 1_000_000_000_000_000_000;

fn wei(v: &Value) -> u128 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an amount: {v}"))
}

fn addr(a: &chaintrace_fixturegen::anvil::Address) -> String {
    a.to_string().to_lowercase()
}

fn named(m: &EthManifest, name: &str) -> String {
    addr(&m.addresses.iter().find(|a| a.name == name).unwrap().address)
}

/// Tainted amount of `asset` ("ETH" or a token address) held at `address` in a trace result.
fn tainted(r: &Value, address: &str, asset: &str) -> u128 {
    holding(r, address, asset).map_or(0, |h| wei(&h["tainted"]))
}

fn holding<'a>(r: &'a Value, address: &str, asset: &str) -> Option<&'a Value> {
    r["holdings"].as_array().unwrap().iter().find(|h| {
        h["address"].as_str().map(str::to_lowercase).as_deref() == Some(address)
            && h["asset"].as_str().map(str::to_lowercase).as_deref() == Some(asset)
    })
}

fn trace(db: &Path, m: &EthManifest, policy: &str) -> Value {
    let (eth, token) = (&m.truth.theft.eth_tx, &m.truth.theft.token_tx);
    run_json(
        db,
        &[
            "trace", "--chain", "eth", "--from", eth, "--from", token, "--policy", policy,
            "--format", "json",
        ],
    )
}

const LOSSLESS: [&str; 5] = ["haircut", "fifo", "lifo", "seniority", "reversed-seniority"];

#[test]
fn every_policy_reconciles_and_follows_ether_and_tokens_to_where_they_are() {
    let (_dir, db) = indexed();
    let m = manifest();
    let token = addr(&m.contracts.token.address);
    let fee = |hash: &str| m.txs.iter().find(|t| t.hash == hash).unwrap().fee_wei;
    let source_eth =
        m.truth.theft.eth_wei + fee(&m.truth.theft.eth_tx) + fee(&m.truth.theft.token_tx);
    for policy in LOSSLESS.into_iter().chain(["poison"]) {
        let r = trace(&db, &m, policy);
        assert_eq!(r["chain"], "eth");
        assert_eq!(r["tip"]["height"], m.chain.tip_number);
        let assets = r["summary"]["assets"].as_array().unwrap();
        let eth = assets.iter().find(|a| a["asset"] == "ETH").unwrap();
        let cusd = assets
            .iter()
            .find(|a| a["asset"].as_str().map(str::to_lowercase) == Some(token.clone()))
            .unwrap();
        assert_eq!(wei(&eth["source"]), source_eth, "{policy}");
        assert_eq!(wei(&cusd["source"]), m.truth.theft.token_units, "{policy}");
        // The token hops: no commingling, so every policy agrees to the unit.
        for (name, units) in [
            ("thief.token2", 250_000_000_000u128),
            ("thief.token3", 100_000_000_000),
            ("northbank.dep.thief", 50_000_000_000),
        ] {
            assert_eq!(
                tainted(&r, &named(&m, name), &token),
                units,
                "{policy} {name}"
            );
        }
        let northbank = holding(&r, &named(&m, "northbank.dep.thief"), &token).unwrap();
        assert_eq!(northbank["status"], "stopped-at-label");
        assert_eq!(northbank["labels"][0]["name"], "Northbank Exchange");
        // Ten stolen notes entered the pool: the trace stops there and says so.
        let pool = holding(&r, &addr(&m.contracts.mixer_pool.address), "eth").unwrap();
        assert_eq!(pool["status"], "mixer", "{policy}");
        // A split output paid Keyport 4.8 ETH from a balance that was all stolen.
        let keyport = named(&m, "keyport.dep.thief");
        assert_eq!(
            holding(&r, &keyport, "eth").unwrap()["status"],
            "stopped-at-label"
        );
        if policy == "poison" {
            assert!(r["summary"]["conserved"].is_null());
            continue;
        }
        assert_eq!(r["summary"]["conserved"], true, "{policy}");
        assert_eq!(
            tainted(&r, &addr(&m.contracts.mixer_pool.address), "eth"),
            10 * ETHER,
            "{policy}"
        );
        assert_eq!(tainted(&r, &keyport, "eth"), 48 * ETHER / 10, "{policy}");
        assert_eq!(
            tainted(&r, &named(&m, "thief.hop3"), "eth"),
            40 * ETHER,
            "{policy}"
        );
        // Failed transactions and reverted calls moved nothing: the decoy holds no taint.
        assert_eq!(tainted(&r, &named(&m, "decoy"), "eth"), 0, "{policy}");
    }
}

/// A reference model of one account under each policy (spec §2.2), independent of the
/// engine: the OTC desk's two payments out of a commingled balance.
fn desk_outflows(m: &EthManifest, policy: &str) -> Vec<u128> {
    let gas_parts = |hash: &str| {
        let t = m.txs.iter().find(|t| t.hash == hash).unwrap();
        [t.burnt_wei, t.tip_wei]
    };
    let mut queue: std::collections::VecDeque<(bool, u128)> = Default::default();
    let (mut bal, mut taint) = (0u128, 0u128);
    let mut out = Vec::new();
    for e in &m.truth.commingling.events {
        if e.direction == "in" {
            let stolen = e.funds == "stolen";
            queue.push_back((stolen, e.amount_wei));
            bal += e.amount_wei;
            taint += if stolen { e.amount_wei } else { 0 };
            continue;
        }
        let mut sent = 0;
        for y in gas_parts(&e.tx).into_iter().chain([e.amount_wei]) {
            let s = match policy {
                "haircut" => y * taint / bal,
                "seniority" => y.min(taint),
                "reversed-seniority" => taint.saturating_sub(bal - y),
                "fifo" | "lifo" => draw(&mut queue, y, policy == "lifo"),
                _ => unreachable!(),
            };
            bal -= y;
            taint -= s;
            sent = s;
        }
        out.push(sent);
    }
    out
}

fn draw(queue: &mut std::collections::VecDeque<(bool, u128)>, mut y: u128, back: bool) -> u128 {
    let mut tainted = 0;
    while y > 0 {
        let seg = if back {
            queue.back_mut()
        } else {
            queue.front_mut()
        }
        .unwrap();
        let take = y.min(seg.1);
        seg.1 -= take;
        y -= take;
        tainted += if seg.0 { take } else { 0 };
        if seg.1 == 0 {
            if back {
                queue.pop_back();
            } else {
                queue.pop_front();
            }
        }
    }
    tainted
}

#[test]
fn the_otc_desk_passes_on_what_each_policy_says() {
    let (_dir, db) = indexed();
    let m = manifest();
    let northbank = named(&m, "northbank.dep.otc");
    let keyport = named(&m, "keyport.dep.otc");
    let mut seen = std::collections::BTreeSet::new();
    for policy in LOSSLESS {
        let r = trace(&db, &m, policy);
        let want = desk_outflows(&m, policy);
        let got = vec![tainted(&r, &northbank, "eth"), tainted(&r, &keyport, "eth")];
        assert_eq!(got, want, "{policy}");
        seen.insert(got);
    }
    assert!(
        seen.len() >= 4,
        "the scenario tells the policies apart: {seen:?}"
    );
    let r = trace(&db, &m, "poison");
    for d in [&northbank, &keyport] {
        let h = holding(&r, d, "eth").unwrap();
        assert_eq!(h["status"], "stopped-at-label");
        assert!(wei(&h["tainted"]) > 0);
    }
}

#[test]
fn screening_a_deposit_finds_the_theft_behind_it() {
    let (_dir, db) = indexed();
    let m = manifest();
    let deposit = |owner: &str, asset: &str| {
        m.truth
            .exchange_deposits
            .iter()
            .find(|d| d.account_owner == owner && d.asset == asset)
            .unwrap()
            .tx
            .clone()
    };
    let r = run_json(
        &db,
        &[
            "screen",
            "--chain",
            "eth",
            &deposit("otc desk", "ETH"),
            "--format",
            "json",
        ],
    );
    assert_eq!(r["risk"], "severe", "{r:#}");
    let eth = &r["assets"][0];
    let theft = eth["exposure"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "theft")
        .expect("theft exposure");
    assert!(wei(&theft["amount"]) > 0);
    assert!(eth["entities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "Bitvault Exchange hack"));

    // A labelled deposit address screened as a whole: the walk starts at its senders.
    let address = named(&m, "keyport.dep.otc");
    let r = run_json(
        &db,
        &["screen", "--chain", "eth", &address, "--format", "json"],
    );
    assert_eq!(r["risk"], "severe", "{r:#}");

    let clean = run_json(
        &db,
        &[
            "screen",
            "--chain",
            "eth",
            &deposit("background", "ETH"),
            "--format",
            "json",
        ],
    );
    assert_ne!(clean["risk"], "severe", "{clean:#}");
    let otc = deposit("otc desk", "ETH");
    let table = on_db(&db, &["screen", "--chain", "eth", &otc]).ok().stdout;
    assert!(
        table.contains("risk SEVERE") && table.contains("theft"),
        "{table}"
    );
}

#[test]
fn tables_csv_dot_and_batch_speak_ethereum() {
    let (dir, db) = indexed();
    let m = manifest();
    let thief = addr(&m.truth.theft.thief);
    let run = |args: &[&str]| on_db(&db, args);
    let table = run(&["trace", "--chain", "eth", "--from", &thief])
        .ok()
        .stdout;
    assert!(
        table.contains("where it is now") && table.contains("Northbank Exchange"),
        "{table}"
    );
    assert!(table.contains("totals reconcile"), "{table}");
    let csv = run(&[
        "trace", "--chain", "eth", "--from", &thief, "--format", "csv",
    ])
    .ok()
    .stdout;
    assert!(csv.starts_with("address,asset,amount,tainted,hops,status,label,category"));
    let dot = run(&[
        "trace", "--chain", "eth", "--from", &thief, "--format", "dot",
    ])
    .ok()
    .stdout;
    assert!(dot.starts_with("digraph") && dot.contains("->"), "{dot}");
    // Policies that order a transaction's inputs have no meaning on accounts.
    run(&[
        "trace", "--chain", "eth", "--from", &thief, "--policy", "tiho",
    ])
    .expect_code(64);
    // Unknown and malformed references are clear errors.
    let err = run(&["trace", "--chain", "eth", "--from", "0x1234"]).expect_code(DATAERR);
    assert!(err.error_line().contains("40 hex digits"), "{}", err.stderr);
    let unknown = "0x00000000000000000000000000000000deadbeef";
    let err = run(&["trace", "--chain", "eth", "--from", unknown]).expect_code(DATAERR);
    assert!(
        err.error_line().contains("does not appear"),
        "{}",
        err.stderr
    );

    let cases = dir.path().join("cases.csv");
    let deposit = &m.truth.exchange_deposits[2].tx;
    std::fs::write(
        &cases,
        format!(
            "case_id,chain,ref,direction,policy,max_hops,min_amount\n\
             theft,eth,{},forward,fifo,,\n\
             deposit,eth,{deposit},backward,,,\n\
             bad,eth,0xnothex,forward,,,\n",
            m.truth.theft.eth_tx
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    run(&[
        "batch",
        cases.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .ok();
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let row = |id: &str| {
        summary
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap()
            .to_string()
    };
    assert!(row("theft,ok,eth").contains(",wei,"), "{summary}");
    assert!(row("deposit,ok,eth").contains("severe"), "{summary}");
    assert!(row("bad,error,eth").contains("40 hex digits"), "{summary}");
    let theft: Value =
        serde_json::from_slice(&std::fs::read(out.join("theft.json")).unwrap()).unwrap();
    assert_eq!(theft["policy"], "fifo");
    assert_eq!(theft["summary"]["conserved"], true);
}
