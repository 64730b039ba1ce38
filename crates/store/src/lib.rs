//! The index of chaintrace, kept in one embedded RocksDB.
//!
//! [`tables`] is the table of contents: every column family with its typed key and value, and
//! nothing outside it encodes bytes. [`db::Store`] opens the database (refusing other schema
//! versions), reads typed values and applies [`db::Batch`]es atomically. [`btc`] holds the
//! Bitcoin side: the writer that turns parsed blocks into rows (resolving every input's prevout),
//! the rollback that undoes blocks on a reorg, and read queries. [`eth`] is the Ethereum side:
//! value transfers in canonical order, per-(address, asset) histories with balances, and the
//! same block-atomic writer and rollback.
//!
//! Invariants this crate promises:
//! - A block's rows, its undo record and the cursor that names it as the tip are written in one
//!   batch. After a crash at any moment the index holds a whole number of blocks and its cursor
//!   says which, so ingest resumes without losing or doubling anything.
//! - Ids are dense and assigned in chain order; rolling a block back and applying it again gives
//!   byte-identical rows, so the content digest of an index depends only on its blocks.
//! - Corrupt stored bytes surface as [`StoreError::Corrupt`] naming the table and key, never as a
//!   panic.

mod batch;
pub mod btc;
pub mod codec;
pub mod db;
pub mod eth;
pub mod labels;
pub mod records;
pub mod tables;

use std::path::PathBuf;

pub use batch::Batch;
pub use db::{
    BackgroundWriter, Digest, Durability, OpenMode, Store, StoreOptions, TableSize, SCHEMA_VERSION,
};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the index at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rocksdb::Error,
    },
    #[error("no index at {path} (create one with `chaintrace ingest`)")]
    Missing { path: PathBuf },
    #[error(
        "the index at {path} has schema version {found}, but this chaintrace reads version \
         {expected}; {}",
        if found > expected { "upgrade chaintrace" } else { "re-ingest into a new directory" }
    )]
    Schema {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("{path} holds column families chaintrace does not know ({}); it is not a chaintrace index", tables.join(", "))]
    UnknownTables { path: PathBuf, tables: Vec<String> },
    #[error("the index at {path} is open read-only")]
    ReadOnly { path: PathBuf },
    #[error("RocksDB failed while {context}: {source}")]
    Rocks {
        context: String,
        source: rocksdb::Error,
    },
    #[error("the index is corrupt: table {table}, key {key}: {source}")]
    Corrupt {
        table: &'static str,
        key: String,
        source: codec::DecodeError,
    },
    #[error("the index holds {found} data, but {wanted} was requested")]
    NetworkMismatch { found: String, wanted: String },
    #[error("spend graph: {0}")]
    Graph(String),
    #[error("cannot run the index writer thread: {0}")]
    Thread(String),
    #[error("block {height} ({hash}): {reason}")]
    BadBlock {
        height: u32,
        hash: String,
        reason: String,
    },
}

impl StoreError {
    /// Whether the error is caused by the input data rather than by the machine or the index.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            StoreError::BadBlock { .. } | StoreError::NetworkMismatch { .. }
        )
    }
}
