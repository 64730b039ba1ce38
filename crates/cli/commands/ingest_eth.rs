//! `chaintrace ingest eth --rpc URL`: index Ethereum from a JSON-RPC node.

use std::time::Duration;

use anyhow::Context;
use chaintrace_ingest::ethereum::fetch::TraceSource;
use chaintrace_ingest::ethereum::sync::{ingest_eth, EthIngestOptions, EthIngestReport};
use chaintrace_store::{OpenMode, Store};

use crate::args::{EthIngestArgs, EthTraces};
use crate::progress::Bars;

pub fn run(db: &std::path::Path, args: &EthIngestArgs) -> anyhow::Result<()> {
    let opts = options(args)?;
    let store = Store::open(db, OpenMode::Create)?;
    if args.follow {
        eprintln!(
            "following {}; press Ctrl-C to stop (every indexed block is already saved)",
            args.rpc
        );
    }
    let report = ingest_eth(&store, &opts, &Bars::default(), &|| false)
        .with_context(|| format!("ingesting Ethereum from {}", args.rpc))?;
    print_report(&report);
    Ok(())
}

fn options(args: &EthIngestArgs) -> anyhow::Result<EthIngestOptions> {
    if !(args.poll_secs.is_finite() && args.poll_secs > 0.0) {
        return Err(crate::exit::usage(
            "--poll-secs must be a positive number of seconds",
        ));
    }
    if args.concurrency == 0 {
        return Err(crate::exit::usage("--concurrency must be at least 1"));
    }
    if let (Some(from), Some(to)) = (args.from, args.to) {
        if from > to {
            return Err(crate::exit::usage(format!(
                "--from {from} is after --to {to}"
            )));
        }
    }
    let mut opts = EthIngestOptions::new(&args.rpc);
    opts.from = args.from;
    opts.to = args.to;
    opts.confirmations = args.confirmations;
    opts.concurrency = args.concurrency;
    opts.follow = args.follow;
    opts.poll = Duration::from_secs_f64(args.poll_secs);
    opts.max_reorg_depth = args.max_reorg_depth;
    opts.traces = match args.traces {
        EthTraces::Auto => None,
        EthTraces::Calltracer => Some(TraceSource::CallTracer),
        EthTraces::Parity => Some(TraceSource::Parity),
        EthTraces::None => Some(TraceSource::None),
    };
    Ok(opts)
}

fn print_report(r: &EthIngestReport) {
    let tip = match (&r.tip_height, &r.tip_hash) {
        (Some(h), Some(hash)) => format!("tip {h} {hash}"),
        _ => "index is empty".to_string(),
    };
    let rate = if r.seconds > 0.0 {
        r.blocks as f64 / r.seconds
    } else {
        0.0
    };
    eprintln!(
        "indexed {} Ethereum blocks, {} txs, {} transfers in {:.1}s ({:.0} blocks/s, traces: {}); {tip}",
        r.blocks, r.txs, r.transfers, r.seconds, rate, r.traces
    );
    if r.rolled_back > 0 {
        eprintln!("rolled back {} blocks of a replaced branch", r.rolled_back);
    }
}
