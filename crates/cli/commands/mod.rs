//! One module per subcommand.

mod batch;
mod cluster;
mod demo;
mod eth_tornado;
mod eth_tracing;
mod gen;
mod ingest;
mod ingest_eth;
mod ingest_rest;
mod labels;
mod screen;
mod show;
mod status;
mod trace;
mod tracing_env;

use crate::args::{Cli, Command, IngestCommand};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Ingest(IngestCommand::Btc(args)) => ingest::btc(&cli.db, &args),
        Command::Ingest(IngestCommand::Eth(args)) => ingest_eth::run(&cli.db, &args),
        Command::Status(args) => status::run(&cli.db, &args),
        Command::Trace(args) => trace::run(&cli.db, &args),
        Command::Screen(args) => screen::run(&cli.db, &args),
        Command::Batch(args) => batch::run(&cli.db, &args),
        Command::Labels(cmd) => labels::run(&cli.db, &cmd),
        Command::Show(cmd) => show::run(&cli.db, &cmd),
        Command::Cluster(cmd) => cluster::run(&cli.db, &cmd),
        Command::Demo(args) => demo::run(&args),
        Command::Gen(cmd) => gen::run(&cmd),
    }
}
