//! `chaintrace show block|tx|address`: the index as a block explorer.

use std::path::Path;

use chaintrace_model::btc::{format_btc, AddrKey};
use chaintrace_model::{AddrId, Network, TxNum};
use chaintrace_store::btc::{display_hash, parse_display_hash, BtcIndex};
use chaintrace_store::records::{PrevTx, TxRecord};
use chaintrace_store::{OpenMode, Store};
use serde_json::{json, Value};

use crate::args::{Format, ShowAddressArgs, ShowArgs, ShowCommand};
use crate::exit::{data, usage};
use crate::render;

pub fn run(db: &Path, cmd: &ShowCommand) -> anyhow::Result<()> {
    let store = Store::open(db, OpenMode::ReadOnly)?;
    let btc = BtcIndex::new(&store);
    let network = btc
        .network()?
        .ok_or_else(|| data("the index holds no Bitcoin data yet"))?;
    let (value, format) = match cmd {
        ShowCommand::Block(a) => (block(&btc, &a.what)?, a.format),
        ShowCommand::Tx(a) => (tx(&btc, network, a)?, a.format),
        ShowCommand::Address(a) => (address(&btc, network, a)?, a.format),
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&value)?),
        Format::Table => print_table(&value),
    }
    Ok(())
}

fn sats(v: u64) -> Value {
    Value::String(v.to_string())
}

fn block(btc: &BtcIndex<'_>, what: &str) -> anyhow::Result<Value> {
    let height = match what.parse::<u32>() {
        Ok(h) => h,
        Err(_) => {
            let hash = parse_display_hash(what)
                .ok_or_else(|| usage(format!("{what:?} is neither a height nor a block hash")))?;
            btc.block_height(&hash)?
                .ok_or_else(|| data(format!("block {what} is not in the index")))?
        }
    };
    let b = btc
        .block(height)?
        .ok_or_else(|| data(format!("no block at height {height} in the index")))?;
    let mut txids = Vec::with_capacity(b.tx_count as usize);
    for n in 0..u64::from(b.tx_count) {
        let t = btc
            .tx(TxNum(b.first_tx.0 + n))?
            .ok_or_else(|| data("the index is missing a transaction"))?;
        txids.push(display_hash(&t.txid));
    }
    Ok(json!({
        "kind": "block",
        "height": height,
        "hash": display_hash(&b.hash),
        "prev_hash": display_hash(&b.prev_hash),
        "time": b.time,
        "bits": format!("{:08x}", b.bits),
        "tx_count": b.tx_count,
        "txids": txids,
    }))
}

fn addr_string(btc: &BtcIndex<'_>, network: Network, id: AddrId) -> anyhow::Result<Value> {
    if id.is_none() {
        return Ok(Value::Null);
    }
    let key = btc
        .addr_key(id)?
        .ok_or_else(|| data(format!("the index is missing address {id}")))?;
    Ok(Value::String(key.to_address_string(network)))
}

fn txid_of(btc: &BtcIndex<'_>, num: TxNum) -> anyhow::Result<String> {
    let t = btc
        .tx(num)?
        .ok_or_else(|| data(format!("the index is missing transaction {num}")))?;
    Ok(display_hash(&t.txid))
}

fn tx(btc: &BtcIndex<'_>, network: Network, args: &ShowArgs) -> anyhow::Result<Value> {
    let txid = parse_display_hash(&args.what)
        .ok_or_else(|| usage(format!("{:?} is not a txid", args.what)))?;
    let (num, t) = btc
        .tx_by_txid(&txid)?
        .ok_or_else(|| data(format!("transaction {} is not in the index", args.what)))?;
    let block = btc.block(t.height)?;
    Ok(json!({
        "kind": "tx",
        "txid": args.what.to_lowercase(),
        "height": t.height,
        "block_hash": block.as_ref().map(|b| display_hash(&b.hash)),
        "time": block.map(|b| b.time),
        "coinbase": t.coinbase,
        "version": t.version,
        "lock_time": t.lock_time,
        "vsize": t.vsize,
        "fee": sats(t.fee()),
        "inputs": inputs_json(btc, network, &t)?,
        "outputs": outputs_json(btc, network, num, &t)?,
    }))
}

fn inputs_json(btc: &BtcIndex<'_>, network: Network, t: &TxRecord) -> anyhow::Result<Vec<Value>> {
    t.inputs
        .iter()
        .map(|i| {
            let (prev, indexed) = match i.prev_tx {
                PrevTx::Indexed(n) => (txid_of(btc, n)?, true),
                PrevTx::External(txid) => (display_hash(&txid), false),
            };
            Ok(json!({
                "prev_txid": prev, "vout": i.vout, "value": sats(i.value),
                "address": addr_string(btc, network, i.addr)?, "script_kind": i.kind.as_str(), "indexed": indexed,
            }))
        })
        .collect()
}

fn outputs_json(
    btc: &BtcIndex<'_>,
    network: Network,
    num: TxNum,
    t: &TxRecord,
) -> anyhow::Result<Vec<Value>> {
    t.outputs
        .iter()
        .enumerate()
        .map(|(vout, o)| {
            let spent = match btc.spender(num, vout as u32)? {
                Some(s) => json!({"txid": txid_of(btc, s.tx)?, "input": s.input}),
                None => Value::Null,
            };
            Ok(json!({
                "vout": vout, "value": sats(o.value), "address": addr_string(btc, network, o.addr)?,
                "script_kind": o.kind.as_str(), "spent_by": spent,
            }))
        })
        .collect()
}

fn address(btc: &BtcIndex<'_>, network: Network, args: &ShowAddressArgs) -> anyhow::Result<Value> {
    let key = AddrKey::parse(&args.address, network).map_err(|e| data(e.to_string()))?;
    let id = btc.addr_id(&key)?.ok_or_else(|| {
        data(format!(
            "address {} never appears in the index",
            args.address
        ))
    })?;
    let (mut received, mut unspent, mut count) = (0u64, 0u64, 0u64);
    let mut listed = Vec::new();
    for item in btc.addr_outputs(id) {
        let (tx, vout, value) = item?;
        let spender = btc.spender(tx, vout)?;
        received += value;
        count += 1;
        if spender.is_none() {
            unspent += value;
        }
        if listed.len() < args.limit {
            let t = btc
                .tx(tx)?
                .ok_or_else(|| data("the index is missing a transaction"))?;
            let spent_by = match spender {
                Some(s) => Value::String(txid_of(btc, s.tx)?),
                None => Value::Null,
            };
            listed.push(json!({"txid": display_hash(&t.txid), "vout": vout, "value": sats(value), "height": t.height, "spent_by": spent_by}));
        }
    }
    Ok(json!({
        "kind": "address",
        "address": key.to_address_string(network),
        "outputs_received": count,
        "received": sats(received),
        "unspent": sats(unspent),
        "outputs": listed,
        "truncated": count as usize > listed.len(),
    }))
}

fn btc_str(v: &Value) -> String {
    v.as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .map(format_btc)
        .unwrap_or_default()
}

fn print_table(v: &Value) {
    let s = |k: &str| {
        v[k].as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v[k].to_string())
    };
    match v["kind"].as_str() {
        Some("block") => {
            println!("block {}", s("height"));
            render::key_values(&[
                ("hash", s("hash")),
                ("previous", s("prev_hash")),
                ("time", render::utc(v["time"].as_u64().unwrap_or(0) as u32)),
                ("transactions", s("tx_count")),
            ]);
            for t in v["txids"].as_array().into_iter().flatten().take(20) {
                println!("    {}", t.as_str().unwrap_or_default());
            }
        }
        Some("tx") => print_tx(v),
        _ => print_address(v),
    }
}

fn print_tx(v: &Value) {
    println!("transaction {}", v["txid"].as_str().unwrap_or_default());
    render::key_values(&[
        (
            "block",
            format!(
                "{} {}",
                v["height"],
                v["block_hash"].as_str().unwrap_or_default()
            ),
        ),
        ("time", render::utc(v["time"].as_u64().unwrap_or(0) as u32)),
        ("fee", format!("{} BTC", btc_str(&v["fee"]))),
        ("vsize", v["vsize"].to_string()),
    ]);
    println!(
        "  inputs{}",
        if v["coinbase"] == true {
            " (coinbase)"
        } else {
            ""
        }
    );
    let inputs = v["inputs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for i in inputs.iter().take(TABLE_ROWS) {
        println!(
            "    {:>18} BTC  {}  from {}:{}",
            btc_str(&i["value"]),
            i["address"].as_str().unwrap_or("-"),
            i["prev_txid"].as_str().unwrap_or_default(),
            i["vout"]
        );
    }
    more(inputs.len(), "inputs");
    println!("  outputs");
    let outputs = v["outputs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for o in outputs.iter().take(TABLE_ROWS) {
        let spent = o["spent_by"]["txid"]
            .as_str()
            .map_or("unspent".to_string(), |t| format!("spent in {t}"));
        println!(
            "    {:>3} {:>18} BTC  {}  {}",
            o["vout"].to_string(),
            btc_str(&o["value"]),
            o["address"].as_str().unwrap_or("(no address)"),
            spent
        );
    }
    more(outputs.len(), "outputs");
}

/// Rows of inputs or outputs a table shows; `--format json` has them all.
const TABLE_ROWS: usize = 20;

fn more(total: usize, what: &str) {
    if total > TABLE_ROWS {
        println!(
            "    ... and {} more {what} (--format json lists all)",
            total - TABLE_ROWS
        );
    }
}

fn print_address(v: &Value) {
    println!("address {}", v["address"].as_str().unwrap_or_default());
    render::key_values(&[
        (
            "received",
            format!(
                "{} BTC in {} outputs",
                btc_str(&v["received"]),
                v["outputs_received"]
            ),
        ),
        ("unspent", format!("{} BTC", btc_str(&v["unspent"]))),
    ]);
    for o in v["outputs"].as_array().into_iter().flatten() {
        let spent = o["spent_by"]
            .as_str()
            .map_or("unspent".to_string(), |t| format!("spent in {t}"));
        println!(
            "    {:>7} {:>18} BTC  {}:{}  {}",
            o["height"].to_string(),
            btc_str(&o["value"]),
            o["txid"].as_str().unwrap_or_default(),
            o["vout"],
            spent
        );
    }
    if v["truncated"] == true {
        println!("    ... (raise --limit to list more)");
    }
}
