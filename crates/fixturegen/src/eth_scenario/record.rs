//! Recording what a node answers about the scenario chain, for [`crate::RpcReplay`]: every call
//! `chaintrace ingest eth` makes for blocks `0..=tip`, with both trace styles. The bundled
//! recording lets the demo and fast tests ingest the scenario with no node at all.

use serde_json::{json, Value};

use crate::anvil::{Anvil, AnvilError};

/// The callTracer options ingest sends (the replay server matches params exactly).
pub fn call_tracer_options() -> Value {
    json!({"tracer": "callTracer", "tracerConfig": {"onlyTopCall": false, "withLog": true}})
}

/// `[{request, response}]` pairs (the format [`crate::RpcReplay::load_pairs`] reads) for the
/// chain id, the head, and every block up to the head: the block with and without full
/// transactions, its receipts, its callTracer traces and its parity traces.
pub fn record_chain(anvil: &Anvil) -> Result<Value, AnvilError> {
    let tip = anvil.block_number()?;
    let mut pairs = Vec::new();
    let mut add = |method: &str, params: Value| -> Result<(), AnvilError> {
        let result = anvil.rpc(method, params.clone())?;
        pairs.push(json!({
            "request": {"jsonrpc": "2.0", "id": pairs.len(), "method": method, "params": params},
            "response": {"jsonrpc": "2.0", "id": pairs.len(), "result": result},
        }));
        Ok(())
    };
    add("eth_chainId", json!([]))?;
    add("eth_blockNumber", json!([]))?;
    for n in 0..=tip {
        let h = format!("{n:#x}");
        add("eth_getBlockByNumber", json!([h, true]))?;
        add("eth_getBlockByNumber", json!([h, false]))?;
        add("eth_getBlockReceipts", json!([h]))?;
        add(
            "debug_traceBlockByNumber",
            json!([h, call_tracer_options()]),
        )?;
        add("trace_block", json!([h]))?;
    }
    // What a node answers for the block after its head.
    add(
        "eth_getBlockByNumber",
        json!([format!("{:#x}", tip + 1), true]),
    )?;
    Ok(Value::Array(pairs))
}
