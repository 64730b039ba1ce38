//! `chaintrace status`: what the index holds.

use std::path::Path;

use chaintrace_store::btc::{display_hash, BtcIndex};
use chaintrace_store::eth::{EthIndex, EthState};
use chaintrace_store::records::ChainState;
use chaintrace_store::{OpenMode, Store, SCHEMA_VERSION};
use serde_json::json;

use crate::args::{Format, StatusArgs};
use crate::render;

pub fn run(db: &Path, args: &StatusArgs) -> anyhow::Result<()> {
    let store = Store::open(db, OpenMode::ReadOnly)?;
    let report = collect(&store, args.digest)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print_table(&report),
    }
    Ok(())
}

/// The status of an index as a JSON value (also the source of the table).
pub fn collect(store: &Store, with_digest: bool) -> anyhow::Result<serde_json::Value> {
    let btc = BtcIndex::new(store);
    let mut chains = serde_json::Map::new();
    if let (Some(network), Some(state)) = (btc.network()?, btc.state()?) {
        chains.insert("btc".into(), btc_status(&btc, network, &state)?);
    }
    let eth = EthIndex::new(store);
    if let Some(state) = eth.state()? {
        chains.insert("eth".into(), eth_status(&eth, &state)?);
    }
    let mut report = json!({
        "db": store.path().display().to_string(),
        "schema_version": SCHEMA_VERSION,
        "disk_bytes": store.disk_size(),
        "chains": chains,
        "tables": store.table_sizes()?,
        "spend_graph": chaintrace_store::btc::graph::status(store)?,
    });
    if with_digest {
        report["digest"] = serde_json::to_value(store.digest()?)?;
    }
    Ok(report)
}

fn btc_status(
    btc: &BtcIndex<'_>,
    network: chaintrace_model::Network,
    s: &ChainState,
) -> anyhow::Result<serde_json::Value> {
    let tip = match s.tip {
        Some((h, hash)) => {
            let time = btc.block(h)?.map(|b| b.time).unwrap_or_default();
            json!({"height": h, "hash": display_hash(&hash), "time": time})
        }
        None => serde_json::Value::Null,
    };
    Ok(json!({
        "network": network.as_str(),
        "start_height": s.start_height,
        "tip": tip,
        "blocks": s.blocks(),
        "txs": s.next_tx,
        "inputs": s.inputs,
        "outputs": s.outputs,
        "addresses": s.addresses(),
    }))
}

fn eth_status(eth: &EthIndex<'_>, s: &EthState) -> anyhow::Result<serde_json::Value> {
    let tip = match s.tip {
        Some((h, hash)) => {
            let time = eth.block(h)?.map(|b| b.timestamp).unwrap_or_default();
            json!({"height": h, "hash": chaintrace_model::eth::B256::from(hash).to_string(), "time": time})
        }
        None => serde_json::Value::Null,
    };
    Ok(json!({
        "chain_id": s.chain_id,
        "start_height": s.start_height,
        "tip": tip,
        "blocks": s.blocks(),
        "txs": s.next_tx,
        "transfers": s.next_event,
        "addresses": s.addresses(),
    }))
}

fn print_table(r: &serde_json::Value) {
    println!(
        "chaintrace index at {} (schema v{}, {} on disk)",
        r["db"].as_str().unwrap_or_default(),
        r["schema_version"],
        render::bytes(r["disk_bytes"].as_u64().unwrap_or(0))
    );
    let chains = r["chains"].as_object();
    if chains.is_none_or(|c| c.is_empty()) {
        println!("\nthe index is empty: run `chaintrace ingest btc --blocks-dir DIR` or `chaintrace ingest eth --rpc URL` to fill it");
    }
    if let Some(btc) = r["chains"].get("btc") {
        print_btc(btc);
        let g = &r["spend_graph"];
        let graph = match (g["txs"].as_u64(), g["current"].as_bool()) {
            (Some(n), Some(true)) => format!(
                "current ({} transactions): forward traces read it",
                render::count(n)
            ),
            (Some(n), _) => format!(
                "stale ({} transactions): rebuilt by the next ingest",
                render::count(n)
            ),
            _ => "none: rebuilt by the next ingest".to_string(),
        };
        render::key_values(&[("spend graph", graph)]);
    }
    if let Some(eth) = r["chains"].get("eth") {
        print_eth(eth);
    }
    if let Some(tables) = r["tables"].as_array().filter(|_| r.get("digest").is_some()) {
        println!("\ntables (RocksDB estimates)");
        for t in tables {
            println!(
                "  {:18} {:>14} entries {:>12}",
                t["name"].as_str().unwrap_or_default(),
                render::count(t["estimated_entries"].as_u64().unwrap_or(0)),
                render::bytes(t["sst_bytes"].as_u64().unwrap_or(0))
            );
        }
    }
    if let Some(d) = r.get("digest") {
        println!(
            "\ndigest sha256 {}",
            d["sha256"].as_str().unwrap_or_default()
        );
        for t in d["tables"].as_array().into_iter().flatten() {
            println!(
                "  {:18} {:>14} rows",
                t[0].as_str().unwrap_or_default(),
                render::count(t[1].as_u64().unwrap_or(0))
            );
        }
    }
}

fn tip_row(tip: &serde_json::Value) -> String {
    if tip.is_null() {
        return "none".to_string();
    }
    format!(
        "{}  {}  {}",
        tip["height"],
        tip["hash"].as_str().unwrap_or_default(),
        render::utc(u32::try_from(tip["time"].as_u64().unwrap_or(0)).unwrap_or(u32::MAX))
    )
}

fn print_eth(e: &serde_json::Value) {
    let n = |k: &str| render::count(e[k].as_u64().unwrap_or(0));
    println!("\nethereum (chain id {})", e["chain_id"]);
    let mut rows = vec![("tip", tip_row(&e["tip"]))];
    if e["start_height"].as_u64().unwrap_or(0) > 0 {
        rows.push(("first block", e["start_height"].to_string()));
    }
    rows.extend([
        ("blocks", n("blocks")),
        ("transactions", n("txs")),
        ("transfers", n("transfers")),
        ("addresses", n("addresses")),
    ]);
    render::key_values(&rows);
}

fn print_btc(b: &serde_json::Value) {
    let n = |k: &str| render::count(b[k].as_u64().unwrap_or(0));
    println!("\nbitcoin ({})", b["network"].as_str().unwrap_or_default());
    let mut rows = vec![("tip", tip_row(&b["tip"]))];
    if b["start_height"].as_u64().unwrap_or(0) > 0 {
        rows.push(("first block", b["start_height"].to_string()));
    }
    rows.extend([
        ("blocks", n("blocks")),
        ("transactions", n("txs")),
        ("inputs", n("inputs")),
        ("outputs", n("outputs")),
        ("addresses", n("addresses")),
    ]);
    render::key_values(&rows);
}
