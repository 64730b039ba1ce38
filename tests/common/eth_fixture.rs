//! The bundled Ethereum scenario (`fixtures/eth/scenario`): its manifest, and an index of it
//! ingested from the recorded node through the loopback replay server.

use std::path::{Path, PathBuf};

use chaintrace_fixturegen::eth_scenario::{self, EthManifest};
use chaintrace_fixturegen::RpcReplay;

use super::on_db;

pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/eth/scenario")
}

/// The scenario's ground truth, `eth_scenario.json`.
pub fn manifest() -> EthManifest {
    let text = std::fs::read_to_string(scenario_dir().join("eth_scenario.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A fresh index of the recorded scenario, without labels; the temp dir holds the database
/// (`db` inside it) and must live as long as it is used.
pub fn ingested() -> (tempfile::TempDir, PathBuf) {
    let server = RpcReplay::start();
    server
        .load_pairs(&scenario_dir().join(eth_scenario::RECORDING))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    on_db(&db, &["ingest", "eth", "--rpc", &server.url()]).ok();
    (dir, db)
}
