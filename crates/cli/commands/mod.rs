//! One module per subcommand.

mod demo;
mod gen;
mod ingest;
mod ingest_rest;
mod show;
mod status;

use crate::args::{Cli, Command, IngestCommand};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Ingest(IngestCommand::Btc(args)) => ingest::btc(&cli.db, &args),
        Command::Status(args) => status::run(&cli.db, &args),
        Command::Show(cmd) => show::run(&cli.db, &cmd),
        Command::Demo(args) => demo::run(&args),
        Command::Gen(cmd) => gen::run(&cmd),
    }
}
