//! `chaintrace trace`: forward traces (where did the funds go) and backward traces.

use std::collections::BTreeMap;
use std::path::Path;

use chaintrace_model::btc::format_btc;
use chaintrace_trace::attribution::StopSet;
use chaintrace_trace::backward::ScreenParams;
use chaintrace_trace::forward::trace_forward;
use chaintrace_trace::report::{flow_graph, to_dot};
use serde_json::Value;

use super::eth_tracing::{self as eth_env, EthEnv};
use super::tracing_env::{self as env, Env};
use crate::render;
use crate::trace_args::{ChainArg, DirectionArg, TraceArgs, TraceFormat};

pub fn run(db: &Path, args: &TraceArgs) -> anyhow::Result<()> {
    let store = env::open(db)?;
    if args.chain == ChainArg::Eth {
        return eth(&store, args);
    }
    let env = Env::new(&store)?;
    let min_amount = env::parse_amount(&args.min_amount)?;
    if args.direction == DirectionArg::Backward {
        return backward(&env, args);
    }
    let mut params = env::forward_params(
        env::rules(args.policy, args.fee_mode, args.taint_fee)?,
        args.max_hops,
        min_amount,
        env::parse_stop_at(args.stop_at.as_deref(), StopSet::Services),
    );
    params.until_height = args.until_height;
    params.strategy = env::strategy(args.strategy);
    params.max_fanout = args.max_fanout;
    params.max_txs = args.max_txs;
    params.through_coinjoin = args.through_coinjoin.into();
    if args.format == TraceFormat::Dot {
        return dot(&env, args, &params);
    }
    let run = env::with_threads(args.threads, || {
        env::forward_run(&env, &args.from, &params, args.max_source_outputs)
    })??;
    match args.format {
        TraceFormat::Json => env::write_json(std::io::stdout().lock(), &run.doc(true))?,
        TraceFormat::Csv => print_csv(&run.summary_value()?),
        _ => print_table(&run.summary_value()?),
    }
    Ok(())
}

/// `trace --chain eth`: the account-model engine.
fn eth(store: &chaintrace_store::Store, args: &TraceArgs) -> anyhow::Result<()> {
    let env = EthEnv::new(store)?;
    if args.direction == DirectionArg::Backward {
        let [reference] = args.from.as_slice() else {
            return Err(crate::exit::usage("a backward trace takes one --from"));
        };
        let params = super::screen::eth_params(
            args.max_hops.unwrap_or(6),
            args.stop_at.as_deref(),
            Default::default(),
        );
        let report = eth_env::screen_json(&env, reference, &params)?;
        match args.format {
            TraceFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            _ => super::screen::print_eth_table(&report),
        }
        return Ok(());
    }
    let mut params = eth_env::forward_params(
        args.policy,
        args.max_hops,
        &args.min_amount,
        env::parse_stop_at(args.stop_at.as_deref(), StopSet::Services),
    )?;
    params.until_height = args.until_height;
    params.max_events = args.max_txs as u64;
    let tornado = super::eth_tornado::params(&env.ledger, args.through_tornado, &args.tornado)?;
    let report = env::with_threads(args.threads, || {
        eth_env::forward_json(&env, &args.from, &params, &tornado)
    })??;
    match args.format {
        TraceFormat::Json => env::write_json(std::io::stdout().lock(), &report)?,
        TraceFormat::Csv => eth_env::print_forward_csv(&report),
        TraceFormat::Dot => eth_env::print_forward_dot(&report),
        TraceFormat::Table => eth_env::print_forward_table(&report),
    }
    Ok(())
}

fn backward(env: &Env<'_>, args: &TraceArgs) -> anyhow::Result<()> {
    let [reference] = args.from.as_slice() else {
        return Err(crate::exit::usage("a backward trace takes one --from"));
    };
    let params = ScreenParams {
        policy: env::backward_policy(args.policy)?,
        max_hops: args.max_hops.unwrap_or(6),
        stop_at: env::parse_stop_at(args.stop_at.as_deref(), StopSet::AnyLabel),
        ..ScreenParams::default()
    };
    let report = env::with_threads(args.threads, || {
        env::backward_report(env, reference, &params, args.max_source_outputs)
    })??;
    match args.format {
        TraceFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        _ => super::screen::print_table(&report),
    }
    Ok(())
}

fn dot(
    env: &Env<'_>,
    args: &TraceArgs,
    params: &chaintrace_trace::forward::ForwardParams,
) -> anyhow::Result<()> {
    let src = env::resolve_sources(env, &args.from, args.max_source_outputs)?;
    let trace = env::with_threads(args.threads, || {
        trace_forward(&env.ledger, &env.attrs, &src.sources, params)
    })??;
    let names = env::BtcNames::new(&env.ledger, src.labels);
    print!("{}", to_dot(&names, &flow_graph(&trace), &trace.holdings));
    Ok(())
}

fn sats(v: &Value) -> u64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn btc(v: &Value) -> String {
    format_btc(sats(v))
}

fn first_label(h: &Value) -> String {
    h["labels"][0]["name"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_default()
}

/// The readable summary: where the money is now, which services it reached, by hop.
pub fn print_table(r: &Value) {
    let s = &r["summary"];
    println!(
        "forward trace, {} policy, index tip {} {}",
        r["policy"].as_str().unwrap_or_default(),
        r["tip"]["height"],
        r["tip"]["hash"].as_str().unwrap_or_default()
    );
    println!(
        "source: {} BTC in {} outputs; {} transactions traced over {} hops\n",
        btc(&s["source"]),
        r["sources"].as_array().map_or(0, Vec::len),
        s["txs"],
        s["max_hop"]
    );
    println!("where the money is now");
    let mut rows: Vec<(&str, String)> = Vec::new();
    let status_rows: Vec<(String, String)> = s["by_status"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), format!("{:>18} BTC", btc(v))))
        .collect();
    rows.extend(status_rows.iter().map(|(k, v)| (k.as_str(), v.clone())));
    rows.push(("paid as fees", format!("{:>18} BTC", btc(&s["fees"]))));
    if sats(&s["burned"]) > 0 {
        rows.push(("burned", format!("{:>18} BTC", btc(&s["burned"]))));
    }
    render::key_values(&rows);
    print_services(r);
    print_mixers(&s["mixers"]);
    print_peel_chains(&r["peel_chains"]);
    print_hops(s);
    print_holdings(r);
    match s["conserved"].as_bool() {
        Some(true) => println!("\ntotals reconcile: source = holdings + fees + burned, per label"),
        Some(false) => println!("\nWARNING: totals do not reconcile"),
        None => println!("\npoison is an upper bound: every touched output counts in full"),
    }
    if s["truncated"] == true || r["sources_truncated"] == true {
        println!("some branches were cut by a cap (see holdings with status `truncated`)");
    }
}

fn print_services(r: &Value) {
    let mut reached: BTreeMap<(String, String), (u64, u64, u64)> = BTreeMap::new();
    for h in r["holdings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["status"] == "stopped-at-label")
    {
        let key = (
            h["labels"][0]["category"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            first_label(h),
        );
        let e = reached.entry(key).or_insert((0, 0, u64::MAX));
        e.0 += sats(&h["tainted"]);
        e.1 += 1;
        e.2 = e.2.min(h["hops"].as_u64().unwrap_or(0));
    }
    if reached.is_empty() {
        return;
    }
    println!("\nreached services");
    for ((category, name), (amount, n, hop)) in reached {
        println!(
            "  {category:<12} {name:<28} {:>18} BTC  {n} deposits, first at hop {hop}",
            format_btc(amount)
        );
    }
}

/// CoinJoins on the path: which protocol, by which detector and how surely, how taint crossed.
fn print_mixers(m: &Value) {
    let Some(crossed) = m["crossed"].as_array().filter(|c| !c.is_empty()) else {
        return;
    };
    println!("\nmixers on the path");
    for c in crossed {
        println!(
            "  hop {:>3}  {:<14} {} (detector {}, confidence {}%, d = {} BTC, {} participants)  {}{}",
            c["hop"].to_string(),
            c["protocol"].as_str().unwrap_or_default(),
            c["txid"].as_str().unwrap_or_default(),
            c["detector"].as_str().unwrap_or_default(),
            c["confidence"],
            btc(&c["denomination"]),
            c["participants"],
            c["through"].as_str().unwrap_or_default(),
            if c["uncertain"] == true { ", uncertain: fell back to haircut" } else { "" }
        );
    }
    let total = |v: &Value| {
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(_, a)| sats(a))
            .sum::<u64>()
    };
    println!(
        "  reached a mixer (stopped there): {} BTC; traced out of a mixer: {} BTC",
        format_btc(total(&m["reached"])),
        format_btc(total(&m["traced_out"]))
    );
}

/// Each peel chain as one line, with the peels that reached a labelled service.
fn print_peel_chains(chains: &Value) {
    let Some(chains) = chains.as_array().filter(|c| !c.is_empty()) else {
        return;
    };
    println!("\npeel chains (collapsed)");
    for c in chains {
        let peels = c["peels"].as_array().map_or(&[][..], Vec::as_slice);
        println!(
            "  {} hops, heights {}-{}: {} BTC peeled in {} payments ({} BTC of it tainted)",
            c["hops"],
            c["first_height"],
            c["last_height"],
            btc(&c["total_peeled"]),
            peels.len(),
            btc(&c["tainted_peeled"]),
        );
        let what = if c["change_identified"] == true {
            "change left"
        } else {
            "last hop (change unclear)"
        };
        for e in c["ends"].as_array().into_iter().flatten() {
            println!(
                "      {what}: {:>18} BTC at {}",
                btc(&e["amount"]),
                e["ref"].as_str().unwrap_or_default()
            );
        }
        for p in peels.iter().filter(|p| p["status"] == "stopped-at-label") {
            println!(
                "      {:>18} BTC to {} at height {}",
                btc(&p["tainted"]),
                first_label(p),
                p["height"]
            );
        }
    }
}

/// Hop rows shown before the rest is summed up (a peel chain has one hop per payment).
const HOP_ROWS: usize = 12;

fn print_hops(s: &Value) {
    let Some(by_hop) = s["by_hop"].as_object().filter(|m| m.len() > 1) else {
        return;
    };
    let mut hops: Vec<(u64, u64)> = by_hop
        .iter()
        .map(|(k, v)| (k.parse().unwrap_or(0), sats(v)))
        .collect();
    hops.sort_unstable();
    println!("\nheld, by hop");
    for (hop, v) in hops.iter().take(HOP_ROWS) {
        println!("  hop {hop:>3}  {:>18} BTC", format_btc(*v));
    }
    if let Some((first, _)) = hops.get(HOP_ROWS) {
        let rest: u64 = hops[HOP_ROWS..].iter().map(|(_, v)| v).sum();
        let last = hops.last().map_or(0, |(h, _)| *h);
        println!("  hops {first}-{last} {:>18} BTC", format_btc(rest));
    }
}

const HOLDING_ROWS: usize = 15;

fn print_holdings(r: &Value) {
    let mut holdings: Vec<&Value> = r["holdings"].as_array().into_iter().flatten().collect();
    holdings.sort_by_key(|h| std::cmp::Reverse(sats(&h["tainted"])));
    println!("\nlargest holdings");
    for h in holdings.iter().take(HOLDING_ROWS) {
        let who = Some(first_label(h))
            .filter(|l| !l.is_empty())
            .or_else(|| h["address"].as_str().map(str::to_string))
            .unwrap_or_default();
        println!(
            "  {:>18} BTC  hop {:>3}  {:<17} {}  {}",
            btc(&h["tainted"]),
            h["hops"].to_string(),
            h["status"].as_str().unwrap_or_default(),
            h["ref"].as_str().unwrap_or_default(),
            who
        );
    }
    if holdings.len() > HOLDING_ROWS {
        println!(
            "  ... and {} more (--format json or csv lists all)",
            holdings.len() - HOLDING_ROWS
        );
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV row per holding, with `columns` read from each holding's JSON (`label` and
/// `category` from its first label).
pub(crate) fn print_holdings_csv(r: &Value, columns: &[&str]) {
    println!("{}", columns.join(","));
    for h in r["holdings"].as_array().into_iter().flatten() {
        let cell = |c: &str| -> String {
            let v = match c {
                "label" => &h["labels"][0]["name"],
                "category" => &h["labels"][0]["category"],
                other => &h[other],
            };
            match v {
                Value::Null => String::new(),
                Value::String(s) => csv_field(s),
                other => csv_field(&other.to_string()),
            }
        };
        let row: Vec<String> = columns.iter().map(|c| cell(c)).collect();
        println!("{}", row.join(","));
    }
}

/// One row per holding.
fn print_csv(r: &Value) {
    print_holdings_csv(
        r,
        &[
            "ref", "address", "height", "amount", "tainted", "hops", "status", "label", "category",
        ],
    );
}
