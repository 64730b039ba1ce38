//! `chaintrace labels import|list|show` on Ethereum label files, end to end: the real files
//! bundled in `fixtures/labels/eth/` (and OFAC's ETH list) imported into a fresh index.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

const POOLS_JSON: &str = "fixtures/labels/eth/tornado_pools.json";
const ETHERSCAN_TORNADO: &str = "fixtures/labels/eth/tornado-cash.csv";
const OFAC_ETH: &str = "fixtures/labels/sanctioned_addresses_ETH.txt";
const MIXING_PACK: &str = "fixtures/labels/eth/etherscan-wordcloud-mixing_service.yaml";
/// Tornado Cash 1 ETH pool, as OFAC lists it (EIP-55).
const POOL_1_ETH: &str = "0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936";

/// `(format, entries, labels, Ethereum addresses, of them not in the index, invalid)`.
fn eth_counts(r: &Value) -> (String, u64, u64, u64, u64, usize) {
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
    (
        r["format"].as_str().unwrap().to_string(),
        n("entries"),
        n("labels"),
        n("eth_addresses"),
        n("eth_addresses_not_in_index"),
        r["invalid"].as_array().unwrap().len(),
    )
}

fn tmp_db() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("index");
    (tmp, db)
}

#[test]
fn ethereum_files_import_and_show_an_address_with_all_its_labels() {
    let (_tmp, db) = tmp_db();
    let files = [POOLS_JSON, ETHERSCAN_TORNADO, OFAC_ETH, MIXING_PACK];
    let r = import(&db, &files, &[]);
    let expected = [
        ("tornado", 22, 22, 22),
        ("etherscan", 63, 63, 63),
        ("ofac", 152, 1, 152),
        ("tagpack", 61, 61, 59),
    ];
    for (report, (format, entries, labels, addresses)) in r.iter().zip(expected) {
        let want = (format.to_string(), entries, labels, addresses, addresses, 0);
        assert_eq!(eth_counts(report), want, "{report}");
        assert_eq!(
            (report["addresses"].as_u64(), report["outputs"].as_u64()),
            (Some(0), Some(0))
        );
    }

    // Any case is accepted on the command line; the address is shown checksummed.
    let v = json(labels(
        &db,
        &["show", &POOL_1_ETH.to_ascii_lowercase(), "--format", "json"],
    ));
    assert_eq!(
        (v["chain"].as_str(), v["target"].as_str()),
        (Some("eth"), Some(POOL_1_ETH))
    );
    assert_eq!(v["in_index"], false, "the index holds no Ethereum blocks");
    let found: Vec<(&str, &str)> = v["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["name"].as_str().unwrap(), l["category"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("Tornado Cash pool 1 ETH", "mixer"),
            ("Tornado.Cash: 1 ETH", "mixer"),
            ("OFAC SDN list", "sanctioned"),
            ("Tornado.Cash: 1 ETH", "mixer"),
        ]
    );
    let files: Vec<&str> = v["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, files_in_order());

    let table = labels(&db, &["show", POOL_1_ETH]).ok().stdout;
    for line in [
        &format!("Ethereum address {POOL_1_ETH}"),
        "in index  no (its labels apply as soon as blocks using it are indexed)",
        "labels    4",
        "Tornado Cash pool 1 ETH",
        "category         sanctioned  (raw category sanctioned, abuse -)",
    ] {
        assert!(table.contains(line), "{line:?} not in:\n{table}");
    }

    // A mainnet Bitcoin address is still read as one.
    let btc = json(labels(
        &db,
        &[
            "show",
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "--format",
            "json",
        ],
    ));
    assert_eq!(
        (
            btc["chain"].as_str(),
            btc["labels"].as_array().map(Vec::len)
        ),
        (Some("btc"), Some(0))
    );
}

fn files_in_order() -> [&'static str; 4] {
    [POOLS_JSON, ETHERSCAN_TORNADO, OFAC_ETH, MIXING_PACK]
}

#[test]
fn the_import_table_says_how_many_ethereum_addresses_are_not_indexed() {
    let (_tmp, db) = tmp_db();
    let out = labels(&db, &["import", POOLS_JSON]).ok().stdout;
    for line in [
        "fixtures/labels/eth/tornado_pools.json (tornado, 22 entries)",
        "imported     22 labels on 22 Ethereum addresses",
        "not indexed  22 of 22 Ethereum addresses (their labels apply as soon as blocks using them are indexed)",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    // A pack with both chains names both: its 32 ETH tags are on 11 wallets, each listed
    // once per token it holds.
    let out = labels(
        &db,
        &["import", "fixtures/labels/exchange-wallets-binance.yaml"],
    )
    .ok()
    .stdout;
    for line in [
        "imported     6 labels on 4 addresses and 0 outputs, and 11 Ethereum addresses",
        "not indexed  4 of 4 addresses and 11 of 11 Ethereum addresses",
        "skipped      50 of other chains (BEP2: 25, BEP20: 16, TRX: 9)",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }

    let list = json(labels(
        &db,
        &["list", "--category", "mixer", "--format", "json"],
    ));
    let rows = list["labels"].as_array().unwrap();
    assert_eq!(rows.len(), 22);
    assert!(rows
        .iter()
        .all(|l| l["eth_addresses"] == 1 && l["addresses"] == 0));
    let table = labels(&db, &["list", "--category", "mixer"]).ok().stdout;
    assert!(
        table.contains("ETH ADDRS") && table.contains("Tornado Cash Router"),
        "{table}"
    );
}

#[test]
fn explicit_formats_and_token_lists_work_for_ethereum_files() {
    let (tmp, db) = tmp_db();
    let usdt = "fixtures/labels/eth/sanctioned_addresses_USDT.txt";
    let r = &import(&db, &[usdt], &["--format", "ofac"])[0];
    assert_eq!(eth_counts(r), ("ofac".into(), 26, 1, 8, 8, 0));
    assert_eq!(
        r["skipped_other_chain"]["USDT"], 18,
        "Omni and Tron addresses"
    );

    // A CSV whose rows give no chain: the 0x address is Ethereum, the other Bitcoin.
    let csv = tmp.path().join("case.csv");
    std::fs::write(
        &csv,
        "address,label,category\n0x098B716B8Aaf21512996dC57EB0615e2383E2f96,Ronin bridge exploiter,theft\n1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,Genesis,user\n",
    )
    .unwrap();
    let r = &import(&db, &[csv.to_str().unwrap()], &["--format", "csv"])[0];
    assert_eq!(eth_counts(r), ("csv".into(), 2, 2, 1, 1, 0));
    assert_eq!(r["addresses"], 1);
    let v = json(labels(
        &db,
        &[
            "show",
            "0x098B716B8Aaf21512996dC57EB0615e2383E2f96",
            "--format",
            "json",
        ],
    ));
    let names: Vec<&str> = v["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ronin bridge exploiter"]);

    let r = &import(&db, &[MIXING_PACK], &["--format", "tagpack"])[0];
    // 61 tags, each its own label, on 59 addresses (TORN and vTORN are tagged twice).
    assert_eq!(eth_counts(r), ("tagpack".into(), 61, 61, 59, 59, 0));
}

#[test]
fn bad_ethereum_input_fails_with_file_line_and_address() {
    let (tmp, db) = tmp_db();
    // The 1 ETH pool with one letter's case flipped.
    let wrong = "0x47Ce0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936";
    let csv = tmp.path().join("case.csv");
    std::fs::write(
        &csv,
        format!("address,label,category\n{wrong},pool,mixer\n"),
    )
    .unwrap();
    let csv = csv.to_str().unwrap();
    labels(&db, &["import", csv, "--strict"])
        .expect_code(DATAERR)
        .stderr_has(&[
            &format!("{csv}:2  {wrong}"),
            &format!("fails its EIP-55 checksum (mixed case must read {POOL_1_ETH})"),
            "nothing was imported",
        ]);
    let r = &import(&db, &[csv], &[])[0];
    assert_eq!(r["invalid"][0]["line"], 2);

    let run = labels(&db, &["show", wrong]).expect_code(DATAERR);
    assert!(
        run.error_line().contains("fails its EIP-55 checksum"),
        "{}",
        run.stderr
    );

    let real = std::fs::read_to_string(POOLS_JSON).unwrap();
    let truncated = tmp.path().join("tornado_pools.json");
    std::fs::write(&truncated, &real[..real.len() / 2]).unwrap();
    let truncated = truncated.to_str().unwrap();
    let run = labels(&db, &["import", truncated]).expect_code(DATAERR);
    let line = real[..real.len() / 2].lines().count();
    assert!(
        run.error_line().starts_with(&format!(
            "error: {truncated}:{line}: not a Tornado Cash pool object"
        )),
        "{}",
        run.stderr
    );
    labels(&db, &["import", "fixtures/labels/eth/nope.json"]).expect_code(NOINPUT);
}
