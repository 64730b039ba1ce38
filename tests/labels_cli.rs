//! `chaintrace labels import|list|show` end to end, on the real label packs bundled in
//! `fixtures/labels/` and on the heist chain with its TagPack.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const USAGE: i32 = 64;
const HEIST_BLOCKS: &str = "fixtures/btc/heist/blocks";
const HEIST_PACK: &str = "fixtures/btc/heist/heist.tagpack.yaml";
const THEFT_TX: &str = "85930adfe5176fc1548517fbae77914527b7fb91418318ba9b17cc6046b9ef7e";
const FLEXCOIN: &str = "1DssS2srnAra8ghUpgEHsEARswej4SMgd3";

fn list(db: &Path, extra: &[&str]) -> Vec<Value> {
    let args: Vec<&str> = ["list", "--format", "json"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    json(labels(db, &args))["labels"]
        .as_array()
        .unwrap()
        .clone()
}

fn show(db: &Path, target: &str) -> Value {
    json(labels(db, &["show", target, "--format", "json"]))
}

fn counts(report: &Value) -> [u64; 7] {
    [
        "entries",
        "labels",
        "addresses",
        "outputs",
        "addresses_not_in_index",
        "outputs_not_in_index",
        "replaced",
    ]
    .map(|k| {
        report[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {report}"))
    })
}

fn skipped(report: &Value) -> Vec<(String, u64)> {
    let map = report["skipped_other_chain"].as_object().unwrap();
    map.iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

fn invalid_lines(report: &Value) -> Vec<(u64, String)> {
    let list = report["invalid"].as_array().unwrap();
    list.iter()
        .map(|i| {
            (
                i["line"].as_u64().unwrap(),
                i["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn tmp_db() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: `labels import` creates the index.
    let db = tmp.path().join("cases/index");
    (tmp, db)
}

#[test]
fn the_hacks_pack_imports_into_an_empty_index_and_reimport_replaces() {
    let (_tmp, db) = tmp_db();
    let table = labels(&db, &["import", "fixtures/labels/hacks.yaml"]).ok();
    assert!(
        table
            .stdout
            .contains("fixtures/labels/hacks.yaml (tagpack, 608 entries)"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains(
        "not indexed  606 of 606 addresses (their labels apply as soon as blocks using them are indexed)"
    ));
    // 608 tags on 606 addresses (two carry both the service and its hack), 34 distinct labels.
    let all = list(&db, &[]);
    assert_eq!(all.len(), 34);
    let targets: u64 = all.iter().map(|l| l["addresses"].as_u64().unwrap()).sum();
    assert_eq!(targets, 608);
    let thefts = list(&db, &["--category", "theft"]);
    assert_eq!(thefts.len(), 18);
    assert_eq!(
        thefts
            .iter()
            .map(|l| l["addresses"].as_u64().unwrap())
            .sum::<u64>(),
        178
    );
    let bitfinex = thefts
        .iter()
        .find(|l| l["name"] == "Bitfinex hack")
        .unwrap();
    assert_eq!(
        (
            bitfinex["addresses"].as_u64(),
            bitfinex["confidence"].as_u64()
        ),
        (Some(99), Some(20))
    );
    assert_eq!(bitfinex["abuse"], "service_hack");

    let flexcoin = show(&db, FLEXCOIN);
    assert_eq!(flexcoin["in_index"], false);
    let cats: Vec<&str> = flexcoin["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["category"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["wallet_service", "theft"]);

    let again = import(&db, &["fixtures/labels/hacks.yaml"], &[]);
    assert_eq!(counts(&again[0]), [608, 34, 606, 0, 606, 0, 34]);
    assert_eq!(list(&db, &[]).len(), 34);
    assert_eq!(show(&db, FLEXCOIN)["labels"].as_array().unwrap().len(), 2);
}

#[test]
fn the_ofac_bitcoin_list_has_434_addresses_and_one_invalid_line() {
    let (_tmp, db) = tmp_db();
    let strict = labels(
        &db,
        &[
            "import",
            "fixtures/labels/sanctioned_addresses_XBT.txt",
            "--strict",
        ],
    );
    strict.expect_code(DATAERR).stderr_has(&[
        "fixtures/labels/sanctioned_addresses_XBT.txt:355  TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq",
        "is not a valid Bitcoin address",
        "error: --strict: 1 invalid entry (listed above); nothing was imported",
    ]);
    assert!(list(&db, &[]).is_empty(), "--strict wrote nothing");

    let r = &import(&db, &["fixtures/labels/sanctioned_addresses_XBT.txt"], &[])[0];
    assert_eq!(r["format"], "ofac");
    assert_eq!(counts(r), [435, 1, 434, 0, 434, 0, 0]);
    assert_eq!(
        invalid_lines(r),
        [(355, "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq".to_string())]
    );
    let label = &show(&db, "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX")["labels"][0];
    assert_eq!(
        (label["name"].as_str(), label["category"].as_str()),
        (Some("OFAC SDN list"), Some("sanctioned"))
    );
    assert_eq!(label["confidence"], 60);
    assert_eq!(
        label["source"],
        "https://www.treasury.gov/ofac/downloads/sdnlist.txt"
    );
}

#[test]
fn other_chains_are_counted_and_skipped() {
    let (_tmp, db) = tmp_db();
    let files = [
        "fixtures/labels/ofac.yaml",
        "fixtures/labels/sanctioned_addresses_ETH.txt",
        "fixtures/labels/exchange-wallets-binance.yaml",
    ];
    let r = import(&db, &files, &[]);
    // Ethereum entries are imported too (tests/labels_eth_cli.rs); the rest are skipped.
    assert_eq!(counts(&r[0]), [572, 1, 384, 0, 384, 0, 0]);
    assert_eq!(r[0]["eth_addresses"], 147);
    let s = |v: &[(&str, u64)]| {
        v.iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect::<Vec<_>>()
    };
    let ofac_other = [
        ("BCH", 7),
        ("BSV", 1),
        ("BTG", 1),
        ("DASH", 3),
        ("LTC", 8),
        ("TRX", 3),
        ("USDT", 9),
        ("XMR", 3),
        ("XRP", 1),
        ("XVG", 1),
        ("ZEC", 3),
    ];
    assert_eq!(skipped(&r[0]), s(&ofac_other));
    assert_eq!(r[0]["invalid"][0]["line"], 1069);
    assert_eq!(r[0]["invalid"][0]["tag"], 531);
    assert_eq!(counts(&r[1]), [152, 1, 0, 0, 0, 0, 0]);
    assert_eq!(r[1]["eth_addresses"], 152);
    assert!(skipped(&r[1]).is_empty());
    // One label for the 4 BTC wallets, five for the 32 ETH ones (per token held).
    assert_eq!(counts(&r[2]), [86, 6, 4, 0, 4, 0, 0]);
    assert_eq!(
        skipped(&r[2]),
        s(&[("BEP2", 25), ("BEP20", 16), ("TRX", 9)])
    );
    let table = labels(
        &db,
        &["import", "fixtures/labels/exchange-wallets-binance.yaml"],
    )
    .ok();
    assert!(
        table
            .stdout
            .contains("skipped      50 of other chains (BEP2: 25, BEP20: 16, TRX: 9)"),
        "{}",
        table.stdout
    );
}

#[test]
fn heist_labels_name_indexed_addresses_and_outputs() {
    let (_tmp, db) = tmp_db();
    ingest(&db, Path::new(HEIST_BLOCKS), "regtest").ok();
    let r = &import(&db, &[HEIST_PACK], &[])[0];
    assert_eq!(
        counts(r),
        [17, 4, 17, 0, 0, 0, 0],
        "every address of the pack is in the chain"
    );
    for exchange in [
        "bcrt1qgad0rchd5qeqsn0ktrd3952a2ek8g9gsex6pmp549gkqje34nzeqkhthj3",
        "2N7tadXy5Zw9BDr3cHdPKVzrpC7h8y2siKQ",
    ] {
        let v = show(&db, exchange);
        assert_eq!(
            (v["in_index"].as_bool(), v["labels"][0]["category"].as_str()),
            (Some(true), Some("exchange"))
        );
    }
    let thief = show(
        &db,
        "bcrt1pptexvtm4cuavyhukckft5fm3atnncz8tv9zs05d596h90nsrpxmqaa3ld6",
    );
    let l = &thief["labels"][0];
    assert_eq!(
        (l["name"].as_str(), l["category"].as_str()),
        (Some("Bitvault Exchange hack"), Some("theft"))
    );
    assert_eq!(
        (
            l["raw_category"].as_str(),
            l["abuse"].as_str(),
            l["confidence"].as_u64()
        ),
        (Some("user"), Some("service_hack"), Some(100))
    );

    // A case declared by its outputs; vout 7 does not exist, the mainnet address is invalid here.
    let csv = db.parent().unwrap().join("case.csv");
    let rows: Vec<String> = [0, 1, 2, 7]
        .iter()
        .map(|v| {
            format!("{THEFT_TX}:{v},\"Bitvault theft, case 7\",user,theft,incident report,forensic")
        })
        .collect();
    std::fs::write(&csv, format!("address,label,category,abuse,source,confidence\n{}\n{FLEXCOIN},Flexcoin hack,user,service_hack,,\n", rows.join("\n"))).unwrap();
    let case = &import(&db, &[csv.to_str().unwrap()], &[])[0];
    assert_eq!(counts(case), [5, 1, 0, 4, 0, 1, 0]);
    assert_eq!(case["invalid"][0]["line"], 6);
    assert!(case["invalid"][0]["reason"]
        .as_str()
        .unwrap()
        .ends_with("is a valid address, but not for the regtest network"));
    let out = show(&db, &format!("{THEFT_TX}:2"));
    assert_eq!(
        (out["kind"].as_str(), out["in_index"].as_bool()),
        (Some("output"), Some(true))
    );
    assert_eq!(
        (
            out["labels"][0]["name"].as_str(),
            out["labels"][0]["confidence"].as_u64()
        ),
        (Some("Bitvault theft, case 7"), Some(90))
    );

    // Mainnet packs do not fit a regtest index: every address is reported, nothing is labelled.
    let hacks = &import(&db, &["fixtures/labels/hacks.yaml"], &[])[0];
    assert_eq!(
        (
            hacks["labels"].as_u64(),
            hacks["invalid"].as_array().unwrap().len()
        ),
        (Some(0), 608)
    );
    assert!(hacks["invalid"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("not for the regtest network"));
    let wrong = labels(&db, &["import", HEIST_PACK, "--network", "main"]).expect_code(USAGE);
    assert!(
        wrong.error_line().contains("holds regtest data"),
        "{}",
        wrong.stderr
    );
}

#[test]
fn labels_imported_before_the_blocks_apply_once_they_are_indexed() {
    let (_tmp, db) = tmp_db();
    let r = &import(&db, &[HEIST_PACK], &["--network", "regtest"])[0];
    assert_eq!(counts(r), [17, 4, 17, 0, 17, 0, 0]);
    let thief = "bcrt1qz4echlsa58k2cm5um5nqdpy973sgdgl2mfwukr";
    let before = json(labels(
        &db,
        &["show", thief, "--network", "regtest", "--format", "json"],
    ));
    assert_eq!(
        (
            before["in_index"].as_bool(),
            before["labels"][0]["category"].as_str()
        ),
        (Some(false), Some("theft"))
    );
    // Until blocks say which network the index holds, addresses are read as mainnet ones.
    let run = labels(&db, &["show", thief]).expect_code(DATAERR);
    assert!(run
        .error_line()
        .ends_with("is a valid address, but not for the main network"));
    ingest(&db, Path::new(HEIST_BLOCKS), "regtest").ok();
    let v = show(&db, thief);
    assert_eq!(
        (v["in_index"].as_bool(), v["labels"][0]["category"].as_str()),
        (Some(true), Some("theft"))
    );
}

#[test]
fn bad_files_fail_with_sysexits_codes_and_import_nothing() {
    let (tmp, db) = tmp_db();
    let write = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let yaml = write(
        "bad.yaml",
        "title: x\ntags:\n- address: a\n  label: [unclosed\n- address: b\n",
    );
    let run = labels(&db, &["import", "fixtures/labels/hacks.yaml", &yaml]).expect_code(DATAERR);
    assert!(
        run.error_line()
            .starts_with(&format!("error: {yaml}:5: not valid YAML")),
        "{}",
        run.stderr
    );
    assert!(
        !db.exists(),
        "a malformed file stops the run before the index is touched"
    );

    let csv = write(
        "case.csv",
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,Genesis,user\n",
    );
    let run = labels(&db, &["import", &csv]).expect_code(DATAERR);
    assert!(run.error_line().contains(&format!(
        "{csv}:1: the header row lacks the column(s) address, label, category"
    )));

    let notes = write("notes.txt", "two words\n");
    labels(&db, &["import", &notes])
        .expect_code(USAGE)
        .stderr_has(&["pass --format tagpack|ofac|csv"]);
    labels(&db, &["import", "fixtures/labels/nope.yaml"]).expect_code(NOINPUT);
    labels(&db, &["list"]).expect_code(NOINPUT);
    labels(&db, &["show", FLEXCOIN]).expect_code(NOINPUT);
}
