//! `chaintrace`: follow stolen cryptocurrency from the command line.
//!
//! This binary only wires things together: argument parsing, opening the index, progress bars,
//! rendering results as tables (for people) or JSON (for machines), and mapping errors to
//! sysexits codes. The work itself lives in the library crates.

mod args;
mod commands;
mod exit;
mod progress;
mod render;
mod trace_args;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return exit::clap_error(e),
    };
    init_logging(cli.verbose, cli.quiet);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e),
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Rust ignores SIGPIPE, which turns `chaintrace ... | head` into a panic on the next write.
/// Command-line tools conventionally die quietly instead.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
