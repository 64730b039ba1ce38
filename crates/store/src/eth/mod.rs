//! The Ethereum side of the index: value transfers in canonical order, per-(address, asset)
//! histories with the balance after each event, and what a reorg needs to undo a block.

pub mod query;
pub mod records;
mod rollback;
pub mod writer;

pub use query::EthIndex;
pub use records::{Balance, EthBlockRecord, EthState, EthTxRecord, EthUndoRecord};
pub use writer::EthWriter;
