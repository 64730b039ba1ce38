//! `chaintrace screen`: exposure of a deposit, with a risk level.

use std::path::Path;

use chaintrace_model::btc::format_btc;
use chaintrace_trace::attribution::StopSet;
use chaintrace_trace::backward::ScreenParams;
use chaintrace_trace::severity::{Severity, SeverityTable};
use serde_json::Value;

use super::eth_tracing::{self, show_amount, EthEnv};
use super::tracing_env::{self as env, Env};
use crate::args::Format;
use crate::exit::{data, usage};
use crate::trace_args::{ChainArg, ScreenArgs};
use chaintrace_trace::account::AccountScreenParams;

pub fn run(db: &Path, args: &ScreenArgs) -> anyhow::Result<()> {
    let params = params(args)?;
    let fail_on: Option<Severity> = args
        .fail_on
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(usage)?;
    let store = env::open(db)?;
    let report = if args.chain == ChainArg::Eth {
        let env = EthEnv::new(&store)?;
        let p = eth_params(args.max_hops, args.stop_at.as_deref(), params.severity);
        eth_tracing::screen_json(&env, &args.reference, &p)?
    } else {
        let env = Env::new(&store)?;
        env::with_threads(args.threads, || {
            env::backward_report(&env, &args.reference, &params, 100_000)
        })??
    };
    match (args.format, args.chain) {
        (Format::Json, _) => println!("{}", serde_json::to_string_pretty(&report)?),
        (Format::Table, ChainArg::Eth) => print_eth_table(&report),
        (Format::Table, ChainArg::Btc) => print_table(&report),
    }
    let risk: Option<Severity> = report["risk"].as_str().and_then(|r| r.parse().ok());
    if let (Some(limit), Some(risk)) = (fail_on, risk) {
        if risk >= limit {
            std::process::exit(1);
        }
    }
    Ok(())
}

fn params(args: &ScreenArgs) -> anyhow::Result<ScreenParams> {
    let mut severity = match &args.severity_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::Error::new(e).context(format!("reading {}", path.display()))
            })?;
            SeverityTable::from_csv(&text).map_err(|e| data(format!("{}: {e}", path.display())))?
        }
        None => SeverityTable::default(),
    };
    for rule in &args.severity {
        severity.set(SeverityTable::parse_rule(rule).map_err(usage)?);
    }
    Ok(ScreenParams {
        policy: env::backward_policy(args.policy)?,
        max_hops: args.max_hops,
        stop_at: env::parse_stop_at(args.stop_at.as_deref(), StopSet::AnyLabel),
        severity,
        through_coinjoin: args.through_coinjoin.into(),
        ..ScreenParams::default()
    })
}

/// Account-model screening parameters from the shared flags.
pub fn eth_params(
    max_hops: u32,
    stop_at: Option<&str>,
    severity: SeverityTable,
) -> AccountScreenParams {
    AccountScreenParams {
        max_hops,
        stop_at: env::parse_stop_at(stop_at, StopSet::AnyLabel),
        severity,
        ..AccountScreenParams::default()
    }
}

fn btc(v: &Value) -> String {
    format_btc(v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0))
}

/// Readable exposure: risk, categories with direct/indirect split, entities.
pub fn print_table(r: &Value) {
    println!(
        "risk {}  (score {})  screened {} BTC, {} policy, {} hops, index tip {}",
        r["risk"].as_str().unwrap_or_default().to_uppercase(),
        r["score"],
        btc(&r["total"]),
        r["policy"].as_str().unwrap_or_default(),
        r["params"]["max_hops"],
        r["tip"]["height"]
    );
    print_exposure(r, "BTC", &btc);
}

/// Readable Ethereum exposure: the overall risk, then each asset the deposit carried.
pub fn print_eth_table(r: &Value) {
    println!(
        "risk {}  screened on Ethereum, {} hops, index tip {}",
        r["risk"].as_str().unwrap_or("none").to_uppercase(),
        r["params"]["max_hops"],
        r["tip"]["height"]
    );
    for a in r["assets"].as_array().into_iter().flatten() {
        let asset = a["asset"].clone();
        let unit = asset.as_str().unwrap_or_default().to_string();
        println!(
            "\n{unit}: screened {}, risk {} (score {})",
            show_amount(&asset, &a["total"]),
            a["risk"].as_str().unwrap_or_default(),
            a["score"]
        );
        let fmt = move |v: &Value| show_amount(&asset, v);
        print_exposure(a, &unit, &fmt);
    }
}

fn print_exposure(r: &Value, unit: &str, amount: &dyn Fn(&Value) -> String) {
    let btc = amount;
    println!(
        "\n  {:<16} {:>18} {:>8} {:>9} {:>18} {:>18}  severity",
        "category", unit, "share", "min hops", "direct", "indirect"
    );
    for c in r["exposure"].as_array().into_iter().flatten() {
        println!(
            "  {:<16} {:>18} {:>7}% {:>9} {:>18} {:>18}  {}",
            c["category"].as_str().unwrap_or_default(),
            btc(&c["amount"]),
            c["share_percent"].as_str().unwrap_or_default(),
            c["min_hops"].to_string(),
            btc(&c["direct"]),
            btc(&c["indirect"]),
            c["severity"].as_str().unwrap_or_default()
        );
    }
    let entities = r["entities"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !entities.is_empty() {
        println!("\nentities reached");
        for e in entities.iter().take(20) {
            println!(
                "  {:<32} {:<12} {:>18}  min hop {}",
                e["name"].as_str().unwrap_or_default(),
                e["category"].as_str().unwrap_or_default(),
                btc(&e["amount"]),
                e["min_hops"]
            );
        }
    }
    if r["truncated"] == true {
        println!(
            "\nthe walk was cut by the frontier cap; part of the value is reported as `truncated`"
        );
    }
}
