//! Ethereum ingestion: blocks, receipts and traces from any standard JSON-RPC node, turned into
//! value transfers in canonical order and written to the index block by block.
//!
//! [`node`] talks to the node (retries, batching, telling a missing method from a dead node),
//! [`fetch`] gets one block's worth of answers, [`extract`] turns them into transfers without
//! any I/O, and [`sync`] runs the loop: fetch ahead, apply in order, roll back on reorgs.

pub mod extract;
pub mod fetch;
pub mod node;
pub mod sync;
