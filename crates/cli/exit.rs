//! Exit codes follow sysexits(3), so scripts can tell bad input from a dead node.

use std::process::ExitCode;

use chaintrace_ingest::IngestError;
use chaintrace_store::StoreError;
use chaintrace_trace::ledger::TraceError;

pub const USAGE: u8 = 64;
pub const DATAERR: u8 = 65;
pub const NOINPUT: u8 = 66;
pub const UNAVAILABLE: u8 = 69;
pub const SOFTWARE: u8 = 70;
pub const IOERR: u8 = 74;

/// An error that already knows its exit code (usage mistakes found after parsing).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Coded {
    pub code: u8,
    pub message: String,
}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Coded {
        code: USAGE,
        message: message.into(),
    }
    .into()
}

pub fn data(message: impl Into<String>) -> anyhow::Error {
    Coded {
        code: DATAERR,
        message: message.into(),
    }
    .into()
}

fn store_code(e: &StoreError) -> u8 {
    match e {
        StoreError::Missing { .. } => NOINPUT,
        StoreError::Schema { .. }
        | StoreError::UnknownTables { .. }
        | StoreError::NetworkMismatch { .. }
        | StoreError::BadBlock { .. } => DATAERR,
        StoreError::Open { .. }
        | StoreError::Rocks { .. }
        | StoreError::Corrupt { .. }
        | StoreError::Graph(_) => IOERR,
        StoreError::ReadOnly { .. } | StoreError::Thread(_) => SOFTWARE,
    }
}

fn ingest_code(e: &IngestError) -> u8 {
    match e {
        IngestError::Io { .. } => IOERR,
        IngestError::NotFound { .. } => NOINPUT,
        IngestError::BadData { .. } => DATAERR,
        IngestError::Unavailable { .. } => UNAVAILABLE,
        IngestError::Usage(_) => USAGE,
        IngestError::Store(s) => store_code(s),
    }
}

fn trace_code(e: &TraceError) -> u8 {
    match e {
        TraceError::Store(s) => store_code(s),
        TraceError::NotFound(_) | TraceError::Invalid(_) => DATAERR,
    }
}

/// The sysexits code for an error from any layer.
pub fn code_of(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
        if let Some(i) = cause.downcast_ref::<IngestError>() {
            return ingest_code(i);
        }
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            return store_code(s);
        }
        if let Some(t) = cause.downcast_ref::<TraceError>() {
            return trace_code(t);
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return IOERR;
        }
    }
    SOFTWARE
}

/// Prints the error chain on stderr and returns its exit code.
pub fn report(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(code_of(e))
}

/// `--help` and `--version` succeed; every other parse failure is a usage error (64).
pub fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind::*;
    let _ = e.print();
    match e.kind() {
        DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand => {
            ExitCode::SUCCESS
        }
        _ => ExitCode::from(USAGE),
    }
}
