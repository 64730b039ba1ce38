//! The shared vocabulary of chaintrace.
//!
//! Every other crate speaks in these types: which chain and network an index holds, the dense
//! integer ids that stand for transactions and addresses, amounts in integer base units, and the
//! canonical, network-independent key under which a Bitcoin output's address is indexed.
//!
//! Invariants this crate promises:
//! - Amounts are integers in base units (satoshis; wei and token units as 256-bit integers); nothing here uses floating point except the
//!   human-readable formatting helpers, which never feed back into arithmetic.
//! - An [`btc::AddrKey`] is a pure function of an output script: the same script always maps to
//!   the same key, whatever the network, and the key round-trips through its byte encoding.
//! - Address strings are validated (encoding, checksum and network) before they become keys.

pub mod btc;
pub mod chain;
pub mod eth;
pub mod ids;
pub mod label;

pub use chain::{Chain, Network};
pub use ids::{AddrId, TxNum};
pub use label::{Category, Label};
