//! Dense integer ids. They are assigned in chain order, so encoding them big-endian in keys
//! makes RocksDB key order equal chain order.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Position of a transaction in the indexed chain: 0 is the genesis coinbase, then every
/// transaction in block order. Never reused while the transaction stays on the active chain.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct TxNum(pub u64);

/// Dense id of an address (or of a non-standard script, keyed by its hash), in order of first
/// appearance. Id 0 is reserved for "no address" (OP_RETURN and other unspendable outputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AddrId(pub u64);

impl AddrId {
    /// The id carried by outputs that pay no address at all.
    pub const NONE: AddrId = AddrId(0);

    pub fn is_none(self) -> bool {
        self == Self::NONE
    }
}

impl fmt::Display for TxNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for AddrId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}
