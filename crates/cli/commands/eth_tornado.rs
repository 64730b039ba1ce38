//! The `through_tornado` part of an Ethereum forward trace: which tainted deposits entered
//! which Tornado Cash pools, which withdrawals the tool believes carried that taint out (by
//! which heuristic, how confidently, out of how many candidates), and the traces beyond.

use std::collections::BTreeMap;
use std::path::Path;

use chaintrace_heuristics::tornado::{ApClaim, Heuristic, Link, LinkParams};
use chaintrace_model::eth::U256;
use chaintrace_model::{AddrId, TxNum};
use chaintrace_trace::account::tornado::{
    PoolEvents, ThroughTornado, TornadoCrossing, TornadoParams,
};
use chaintrace_trace::eth::{parse_address, EthLedger};
use chaintrace_trace::report::Names;
use chaintrace_trace::taint::Parts;
use serde_json::{json, Value};

use super::eth_tracing::{self as eth_env, EthNames};
use crate::exit::{data, usage};
use crate::trace_args::{ThroughTornadoArg, TornadoArgs};

/// The crossing parameters of the shared trace flags (`mode` as the command's default allows).
pub fn params(
    ledger: &EthLedger<'_>,
    mode: ThroughTornadoArg,
    args: &TornadoArgs,
) -> anyhow::Result<TornadoParams> {
    let mut link = LinkParams {
        by_pool: args.tornado_by_pool,
        min_interactions: args.tornado_min_interactions,
        window_secs: args.tornado_window_hours.saturating_mul(3_600),
        ..LinkParams::default()
    };
    if let Some(list) = &args.tornado_heuristics {
        link.enabled = list
            .split(',')
            .map(|h| {
                Heuristic::ALL
                    .into_iter()
                    .find(|x| x.id().eq_ignore_ascii_case(h.trim()))
                    .ok_or_else(|| usage(format!("unknown Tornado heuristic {h:?} (H1..H5)")))
            })
            .collect::<anyhow::Result<_>>()?;
    }
    let claims = match &args.ap_claims {
        Some(path) => read_claims(ledger, path)?,
        None => Vec::new(),
    };
    Ok(TornadoParams {
        mode: mode.into(),
        link,
        claims,
        ..TornadoParams::default()
    })
}

/// Anonymity-points claims (`address,block,ap` with a header), for heuristic H5.
fn read_claims(ledger: &EthLedger<'_>, path: &Path) -> anyhow::Result<Vec<ApClaim>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::Error::new(e).context(format!("reading {}", path.display())))?;
    let mut claims = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: &str| data(format!("{}:{}: {what}", path.display(), n + 1));
        let [address, block, ap] = line.split(',').map(str::trim).collect::<Vec<_>>()[..] else {
            return Err(bad("expected `address,block,ap`"));
        };
        let parsed = parse_address(address).map_err(|e| bad(&e.to_string()))?;
        let block = block
            .parse()
            .map_err(|_| bad("the block is not a number"))?;
        let ap = ap.parse().map_err(|_| bad("ap is not a number"))?;
        // An address the index never saw cannot be linked to anything in it.
        if let Some(addr) = ledger.index().addr_id(&parsed)? {
            claims.push(ApClaim { addr, block, ap });
        }
    }
    Ok(claims)
}

/// Every address and transaction the crossing names, for [`EthNames`].
pub fn ids(
    c: &TornadoCrossing,
    events: &PoolEvents,
    addrs: &mut Vec<AddrId>,
    txs: &mut Vec<TxNum>,
) {
    addrs.extend(events.pools.iter().map(|p| p.addr));
    for d in &c.deposits {
        addrs.push(d.depositor);
        txs.push(d.tx);
    }
    for w in &c.withdrawals {
        addrs.push(w.recipient);
        addrs.extend(w.relayer);
        txs.push(w.tx);
        txs.extend(w.links.iter().filter_map(|l| events.txs.get(&l.deposit)));
    }
    for t in &c.onward {
        let (a, x) = eth_env::ids_of(t);
        addrs.extend(a);
        txs.extend(x);
    }
}

fn parts_json(names: &EthNames, parts: &Parts<U256>) -> Value {
    Value::Object(
        parts
            .iter()
            .map(|(l, a)| (names.label(*l), json!(a.to_string())))
            .collect(),
    )
}

fn total(parts: &Parts<U256>) -> U256 {
    parts
        .iter()
        .fold(U256::ZERO, |s, (_, a)| s.saturating_add(*a))
}

fn link_json(names: &EthNames, events: &PoolEvents, l: &Link) -> Value {
    let tx = |seq: &u64| events.txs.get(seq).map(|t| names.txid(*t));
    json!({
        "deposit_tx": tx(&l.deposit),
        "withdrawal_tx": tx(&l.withdrawal),
        "heuristic": l.heuristic.id(),
        "name": l.heuristic.name(),
        "confidence": l.confidence,
        "detail": l.detail,
    })
}

/// The crossing as JSON: pools, tainted deposits, withdrawals with their evidence, link
/// counts per heuristic, and each later stage's trace.
pub fn json(names: &EthNames, events: &PoolEvents, c: &TornadoCrossing) -> Value {
    let pool = |i: usize| {
        let p = &events.pools[i];
        json!({"address": names.address(p.addr), "name": p.name, "denomination": p.denomination.to_string()})
    };
    let mut per_heuristic: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &c.links {
        *per_heuristic.entry(l.heuristic.id()).or_default() += 1;
    }
    let deposits: Vec<Value> = c
        .deposits
        .iter()
        .map(|d| {
            json!({
                "tx": names.txid(d.tx), "pool": pool(d.pool), "depositor": names.address(d.depositor),
                "tainted": total(&d.by_label).to_string(), "by_label": parts_json(names, &d.by_label), "stage": d.stage,
            })
        })
        .collect();
    let withdrawals: Vec<Value> = c
        .withdrawals
        .iter()
        .map(|w| {
            json!({
                "tx": names.txid(w.tx), "pool": pool(w.pool), "recipient": names.address(w.recipient),
                "relayer": w.relayer.and_then(|r| names.address(r)),
                "tainted": total(&w.by_label).to_string(), "by_label": parts_json(names, &w.by_label),
                "via_links": w.via_links.to_string(), "confidence": w.confidence,
                "anonymity_set": w.anonymity_set,
                "links": w.links.iter().map(|l| link_json(names, events, l)).collect::<Vec<_>>(),
                "stage": w.stage,
            })
        })
        .collect();
    let onward: Vec<Value> = c
        .onward
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
                "stage": i + 1,
                "sources": eth_env::sources_json(names, t),
                "holdings": eth_env::holdings_json(names, t),
                "flows": eth_env::flows_json(names, t),
                "summary": eth_env::summary_json(names, t),
            })
        })
        .collect();
    let params = c.params.as_ref();
    json!({
        "mode": params.map(|p| p.mode).unwrap_or(ThroughTornado::Stop),
        "params": params.map(|p| json!({"link": p.link, "max_stages": p.max_stages, "ap_claims": p.claims.len()})),
        "pools": (0..events.pools.len()).map(pool).collect::<Vec<_>>(),
        "links_by_heuristic": per_heuristic,
        "deposits": deposits,
        "withdrawals": withdrawals,
        "onward": onward,
    })
}

/// The crossing as text: what went in, what the tool believes came out and why, and where
/// that taint is now.
pub fn print(r: &Value) {
    let t = &r["through_tornado"];
    let Some(deposits) = t["deposits"].as_array() else {
        return;
    };
    println!("Tornado Cash ({})", t["mode"].as_str().unwrap_or_default());
    let eth = json!("ETH");
    for d in deposits {
        println!(
            "  in   {:>30}  {} into pool {} (stage {})",
            eth_env::show_amount(&eth, &d["tainted"]),
            d["tx"].as_str().unwrap_or_default(),
            d["pool"]["name"].as_str().unwrap_or_default(),
            d["stage"]
        );
    }
    for w in t["withdrawals"].as_array().into_iter().flatten() {
        let how: Vec<String> = w["links"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                format!(
                    "{} {}%",
                    l["heuristic"].as_str().unwrap_or_default(),
                    l["confidence"]
                )
            })
            .collect();
        let how = if how.is_empty() {
            format!("pool share, 1 of {} candidates", w["anonymity_set"])
        } else {
            how.join(", ")
        };
        println!(
            "  out  {:>30}  to {} in {} ({how})",
            eth_env::show_amount(&eth, &w["tainted"]),
            w["recipient"].as_str().unwrap_or_default(),
            w["tx"].as_str().unwrap_or_default(),
        );
    }
    if deposits.is_empty() {
        println!("  no tainted deposit reached a known pool");
    }
    for stage in t["onward"].as_array().into_iter().flatten() {
        println!(
            "\nbeyond the pool (stage {}): what the withdrawals' taint did",
            stage["stage"]
        );
        for a in stage["summary"]["assets"].as_array().into_iter().flatten() {
            eth_env::print_asset(stage, a);
        }
    }
}
