//! Getting chain data into the chaintrace index.
//!
//! [`bitcoin`] reads a Bitcoin Core data directory (`blocks/blk*.dat`, with the `xor.dat`
//! obfuscation of Core 28+), picks the most-work chain from the headers it finds, parses blocks in
//! parallel and hands them to the store's writer in height order; or it follows a node's tip
//! through Core's REST interface, rolling back on reorgs.
//!
//! Invariants this crate promises:
//! - Nothing is written for a block that fails to parse or validate (merkle root, witness
//!   commitment, proof of work, linkage, value conservation). Errors name the file and offset or
//!   the block.
//! - Memory does not grow with chain length: headers are kept (about 100 bytes per block), block
//!   bodies flow through a bounded window, and prevouts are resolved through the store.
//! - This crate knows nothing of taint; it only produces the index.

pub mod bitcoin;
mod error;
pub mod ethereum;
mod progress;

pub use error::IngestError;
pub use progress::{NoProgress, Progress};
