//! The Ethereum side of the index: value transfers in canonical order, per-(address, asset)
//! histories with the balance after each event, Tornado-shaped pool events for
//! deposit↔withdrawal linking, and what a reorg needs to undo a block.

pub mod mixer;
pub mod query;
pub mod records;
mod rollback;
pub mod writer;

pub use mixer::{MixerEventRecord, MixerRow, StoredMixerEvent};
pub use query::EthIndex;
pub use records::{Balance, EthBlockRecord, EthState, EthTxRecord, EthUndoRecord};
pub use writer::EthWriter;
