//! `chaintrace cluster show|explain|alerts` on the bundled heist (`fixtures/btc/heist`),
//! checked against its ground truth `heist.json`:
//!
//! * the theft transaction spends coins of both Bitvault hot-wallet addresses (2-of-3 P2WSH),
//!   so they are one cluster, and every step of the explanation is a transaction that spent
//!   from both of its addresses;
//! * the consolidation (height 180) spends four split addresses and the thief's clean address,
//!   all never co-spent before: one step joins its first input to the clean one;
//! * the five-input CoinJoin (height 178) does not merge the thief with the participants;
//! * `ingest btc --clustering` picks the rules: `off` leaves `cluster` nothing to answer, and
//!   `inputs+change` also joins the consolidation's lone fresh output (Meiklejohn's change rule)
//!   to the thief's cluster; an index refuses to switch rules.

mod common;

use std::path::{Path, PathBuf};

use chaintrace_fixturegen::HeistManifest;
use common::{chaintrace, Run, DATAERR, NOINPUT};
use serde_json::Value;

const USAGE: i32 = 64;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/btc/heist")
        .join(name)
}

/// An index of the heist with its labels, and the ground truth.
struct Heist {
    _tmp: tempfile::TempDir,
    db: PathBuf,
    m: HeistManifest,
}

impl Heist {
    fn new() -> Heist {
        Heist::with_clustering(&[])
    }

    /// The heist ingested with extra `ingest btc` arguments (`--clustering ...`).
    fn with_clustering(extra: &[&str]) -> Heist {
        let text = std::fs::read_to_string(fixture("heist.json")).unwrap();
        let m: HeistManifest = serde_json::from_str(&text).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let h = Heist {
            db: tmp.path().join("db"),
            _tmp: tmp,
            m,
        };
        h.ingest(extra).ok();
        let pack = fixture("heist.tagpack.yaml");
        h.run(&["labels", "import", pack.to_str().unwrap()]).ok();
        h
    }

    fn ingest(&self, extra: &[&str]) -> Run {
        let blocks = fixture("blocks");
        let mut args = vec![
            "ingest",
            "btc",
            "--blocks-dir",
            blocks.to_str().unwrap(),
            "--network",
            "regtest",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--db", self.db.to_str().unwrap()];
        all.extend_from_slice(args);
        chaintrace(all)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--format", "json"]);
        let out = self.run(&all).ok();
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"))
    }

    fn explain(&self, a: &str, b: &str) -> Value {
        self.json(&["cluster", "explain", a, b])
    }

    /// The addresses a transaction spends from.
    fn input_addresses(&self, txid: &str) -> Vec<String> {
        let tx = self.json(&["show", "tx", txid]);
        tx["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["address"].as_str().unwrap().to_string())
            .collect()
    }
}

fn steps(v: &Value) -> Vec<(String, String, String)> {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap().to_string();
            (
                s["tx"]["txid"].as_str().unwrap().to_string(),
                text("left"),
                text("right"),
            )
        })
        .collect()
}

#[test]
fn heist_clusters_follow_the_story() {
    let h = Heist::new();
    let hot = &h.m.entities.exchanges[0].hot_wallet;
    assert_eq!(h.m.entities.exchanges[0].name, "Bitvault Exchange");
    let theft_inputs: Vec<&str> =
        h.m.theft
            .inputs
            .iter()
            .map(|i| i.address.as_str())
            .collect();
    assert!(hot.iter().all(|a| theft_inputs.contains(&a.as_str())));

    let shown = h.json(&["cluster", "show", &hot[0]]);
    let other = h.json(&["cluster", "show", &hot[1]]);
    assert_eq!(shown["cluster_id"], other["cluster_id"]);
    assert!(shown["size"].as_u64().unwrap() >= 2);
    let labelled = shown["labelled_members"].as_array().unwrap();
    for a in hot {
        let m = labelled
            .iter()
            .find(|m| m["address"] == a.as_str())
            .unwrap_or_else(|| panic!("{a} is not a labelled member: {shown:#}"));
        assert_eq!(m["labels"][0]["name"], "Bitvault Exchange");
        assert_eq!(m["labels"][0]["is_cluster_definer"], true);
    }
    assert!(shown["first_seen"]["height"].as_u64() <= shown["last_seen"]["height"].as_u64());
    assert!(shown["last_seen"]["height"].as_u64().unwrap() >= u64::from(h.m.theft.height));

    let why = h.explain(&hot[0], &hot[1]);
    assert_eq!(why["same_cluster"], true);
    let chain = steps(&why);
    assert!(!chain.is_empty());
    assert_eq!(chain[0].1, hot[0]);
    assert_eq!(chain.last().unwrap().2, hot[1]);
    for w in chain.windows(2) {
        assert_eq!(w[0].2, w[1].1, "steps link up");
    }
    for (txid, left, right) in &chain {
        let inputs = h.input_addresses(txid);
        assert!(
            inputs.contains(left) && inputs.contains(right),
            "{txid} spent {inputs:?}"
        );
    }
}

#[test]
fn the_consolidation_merges_the_thiefs_inputs() {
    let h = Heist::new();
    let cons = &h.m.consolidation;
    let first = &cons.tainted_inputs[0].address;
    let clean = &cons.clean_inputs[0].address;
    let why = h.explain(first, clean);
    assert_eq!(
        steps(&why),
        vec![(cons.txid.clone(), first.clone(), clean.clone())]
    );
    for t in &cons.tainted_inputs[1..] {
        assert_eq!(h.explain(first, &t.address)["same_cluster"], true);
    }
}

#[test]
fn the_heist_coinjoin_does_not_merge_its_participants() {
    let h = Heist::new();
    let cj = &h.m.coinjoin;
    assert_eq!(cj.height, 178);
    let thief = cj.inputs.iter().find(|i| i.owner == "thief").unwrap();
    for p in cj.inputs.iter().filter(|i| i.owner != "thief") {
        let why = h.explain(&thief.input.address, &p.input.address);
        assert_eq!(
            why["same_cluster"], false,
            "the CoinJoin merged the thief with {}",
            p.owner
        );
    }
    let table = h
        .run(&[
            "cluster",
            "explain",
            &thief.input.address,
            &cj.inputs[1].input.address,
        ])
        .ok();
    assert!(
        table.stdout.contains("not in the same cluster"),
        "{}",
        table.stdout
    );
}

#[test]
fn alerts_and_errors() {
    let h = Heist::new();
    // A small chain: no cluster reaches 1,000 addresses or joins two of 100, and the Bitvault
    // addresses carry one service's labels, so nothing is flagged.
    let alerts = h.json(&["cluster", "alerts"]);
    assert_eq!(alerts["alerts"], Value::Array(vec![]));
    assert!(h
        .run(&["cluster", "alerts"])
        .ok()
        .stdout
        .contains("no cluster alerts"));

    let bad = h.run(&["cluster", "show", "not-an-address"]);
    bad.expect_code(USAGE);
    // A mainnet address on a regtest index is bad usage too.
    h.run(&["cluster", "show", "1DssS2srnAra8ghUpgEHsEARswej4SMgd3"])
        .expect_code(USAGE);
    // A well-formed regtest address the chain never used (P2WSH of the empty script).
    let unused = bitcoin::Address::p2wsh(&bitcoin::ScriptBuf::new(), bitcoin::Network::Regtest);
    h.run(&["cluster", "show", &unused.to_string()])
        .expect_code(DATAERR);
    let missing = h._tmp.path().join("nothing-here");
    chaintrace(["--db", missing.to_str().unwrap(), "cluster", "alerts"]).expect_code(NOINPUT);
}

#[test]
fn an_index_built_with_clustering_off_says_it_keeps_no_clusters() {
    let h = Heist::with_clustering(&["--clustering", "off"]);
    let thief = &h.m.consolidation.clean_inputs[0].address;
    for cmd in [
        vec!["cluster", "show", thief.as_str()],
        vec!["cluster", "alerts"],
    ] {
        let run = h.run(&cmd).expect_code(DATAERR);
        assert!(
            run.error_line().contains("this index keeps no clusters"),
            "{}",
            run.stderr
        );
    }
    // Rerunning without the flag continues with the index's own setting...
    h.ingest(&[]).ok();
    h.run(&["cluster", "alerts"]).expect_code(DATAERR);
    // ...and asking for other rules is refused before anything is written.
    let switch = h.ingest(&["--clustering", "inputs"]).expect_code(DATAERR);
    switch.stderr_has(&["built with --clustering off", "new directory"]);
}

#[test]
fn with_the_change_rule_the_consolidation_output_joins_the_thiefs_cluster() {
    let h = Heist::with_clustering(&["--clustering", "inputs+change"]);
    let cons = &h.m.consolidation;
    let (first, output) = (&cons.tainted_inputs[0].address, &cons.output.address);
    // The consolidation pays one output, to an address it is the first to use, and none of its
    // input addresses: Meiklejohn's rule takes that output for the spender's change.
    let why = h.explain(first, output);
    assert_eq!(why["same_cluster"], true, "{why:#}");
    let last = why["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["rule"], "change");
    assert_eq!(last["change"], output.as_str());
    assert_eq!(last["right"], output.as_str());
    assert_eq!(last["tx"]["txid"], cons.txid.as_str());
    let table = h.run(&["cluster", "explain", first, output]).ok();
    assert!(
        table.stdout.contains(&format!("{output} is change of")),
        "{}",
        table.stdout
    );
    // The co-spend that joined the thief's inputs is still told as one.
    let clean = &cons.clean_inputs[0].address;
    let co = h.explain(first, clean);
    assert_eq!(co["steps"][0]["rule"], "co-spent");
    assert_eq!(co["steps"][0]["change"], Value::Null);
    h.ingest(&["--clustering", "inputs"]).expect_code(DATAERR);

    // With the default rules the output stays a cluster of its own.
    let plain = Heist::new();
    assert_eq!(plain.explain(first, output)["same_cluster"], false);
    let shown = plain.json(&["cluster", "show", output]);
    assert_eq!(shown["size"], 1);
}
