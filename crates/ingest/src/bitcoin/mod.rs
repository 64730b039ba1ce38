//! Bitcoin ingestion: block files and Bitcoin Core's REST interface.

pub mod blkfiles;
pub mod bulk;
pub mod chain;
pub mod follow;
pub mod parse;
pub mod rest;

pub use bulk::{ingest_blocks_dir, BulkOptions, IngestReport};
pub use follow::{follow_rest, FollowOptions};
pub use rest::{RestClient, RetryPolicy};
