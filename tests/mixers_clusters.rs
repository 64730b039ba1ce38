//! Clusters of the bundled mixers scenario (`fixtures/btc/mixers`), checked against the
//! manifest's `clusters`: the thief's consolidations make one cluster whose explanation is
//! exactly the manifest's merging transactions, and none of the trap pairs (co-participants of
//! the Whirlpool, Wasabi and JoinMarket rounds, and of the Stonewall-shaped payment) ends up in
//! one cluster, although each pair was co-spent in one transaction.

mod common;

use std::path::{Path, PathBuf};

use chaintrace_fixturegen::MixersManifest;
use common::chaintrace;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/btc/mixers")
        .join(name)
}

struct Mixers {
    _tmp: tempfile::TempDir,
    db: PathBuf,
    m: MixersManifest,
}

impl Mixers {
    fn new() -> Mixers {
        let m: MixersManifest =
            serde_json::from_str(&std::fs::read_to_string(fixture("mixers.json")).unwrap())
                .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("db");
        let blocks = fixture("blocks");
        let db_arg = db.to_str().unwrap().to_string();
        chaintrace([
            "--db",
            &db_arg,
            "ingest",
            "btc",
            "--blocks-dir",
            blocks.to_str().unwrap(),
            "--network",
            "regtest",
        ])
        .ok();
        Mixers { _tmp: tmp, db, m }
    }

    fn json(&self, args: &[&str]) -> Value {
        let db = self.db.to_str().unwrap();
        let run = chaintrace(["--db", db].iter().chain(args).copied()).ok();
        serde_json::from_str(&run.stdout).unwrap()
    }

    fn explain(&self, a: &str, b: &str) -> Value {
        self.json(&["cluster", "explain", a, b, "--format", "json"])
    }
}

#[test]
fn the_thiefs_consolidations_form_one_cluster_explained_by_the_manifests_transactions() {
    let x = Mixers::new();
    let together =
        x.m.clusters
            .together
            .iter()
            .find(|c| c.heuristic == "multi_input")
            .expect("a common-input cluster in the manifest");
    let first = &together.merges[0].addresses[0];
    let last = together.merges.last().unwrap().addresses.last().unwrap();
    let e = x.explain(first, last);
    assert_eq!(e["same_cluster"], true);
    let txids: Vec<&str> = e["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tx"]["txid"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = together.merges.iter().map(|m| m.txid.as_str()).collect();
    assert_eq!(txids, expected);
    // Every member is in that one cluster, and it has exactly the manifest's size.
    let id = e["cluster_id"].clone();
    for a in &together.addresses {
        let show = x.json(&["cluster", "show", a, "--format", "json"]);
        assert_eq!(show["cluster_id"], id, "{a}");
        assert_eq!(show["size"], together.addresses.len(), "{a}");
    }
}

#[test]
fn coinjoin_and_stonewall_co_participants_stay_apart() {
    let x = Mixers::new();
    assert!(!x.m.clusters.apart.is_empty());
    let mut merged = Vec::new();
    for pair in &x.m.clusters.apart {
        if x.explain(&pair.a, &pair.b)["same_cluster"] != false {
            merged.push(format!("{} / {} ({})", pair.a, pair.b, pair.reason));
        }
    }
    assert!(
        merged.is_empty(),
        "merged although strangers:\n{}",
        merged.join("\n")
    );
}
