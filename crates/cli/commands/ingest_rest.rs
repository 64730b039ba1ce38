//! `chaintrace ingest btc --rest URL`: follow a Bitcoin Core node.

use std::time::Duration;

use anyhow::Context;
use chaintrace_ingest::bitcoin::{
    follow_rest, FollowOptions, IngestReport, RestClient, RetryPolicy,
};
use chaintrace_store::Store;

use crate::args::BtcIngestArgs;
use crate::progress::Bars;

pub fn follow(store: &Store, url: &str, args: &BtcIngestArgs) -> anyhow::Result<IngestReport> {
    if !(args.poll_secs.is_finite() && args.poll_secs > 0.0) {
        return Err(crate::exit::usage(
            "--poll-secs must be a positive number of seconds",
        ));
    }
    let client = RestClient::new(url, RetryPolicy::default());
    let opts = FollowOptions {
        once: args.once,
        poll: Duration::from_secs_f64(args.poll_secs),
        start_height: args.start_height.unwrap_or(0),
        stop_height: args.stop_height,
        writer: super::ingest::writer_options(store, args)?,
    };
    if !args.once {
        eprintln!("following {url}; press Ctrl-C to stop (every indexed block is already saved)");
    }
    follow_rest(store, &client, &opts, &Bars::default()).with_context(|| format!("following {url}"))
}
