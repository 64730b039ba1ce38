//! The tracing engine of chaintrace: taint policies, forward traces (where did stolen funds
//! go) and backward exposure (where did a deposit's funds come from).
//! Bitcoin (UTXO) tracing lives at the top level; Ethereum (account-model) tracing in [`account`].
//!
//! Invariants this crate promises:
//! - Integer arithmetic only. Lossless policies (haircut and the ordered family) conserve taint
//!   exactly: per label, what enters a transaction equals what its outputs, fee and burn carry.
//! - Determinism: the same index, sources and parameters give the same result, whatever the
//!   thread count. Parallelism only prefetches data; taint is applied in chain order.
//! - Nothing is dropped silently: every tainted unit ends in a holding whose status says why the
//!   trace stopped there (unspent, a labelled service, the hop limit, dust, a cap).

pub mod account;
pub mod amount;
pub mod attribution;
pub mod backward;
pub mod btc;
pub mod eth;
pub mod eth_pools;
pub mod forward;
pub mod ledger;
pub mod memory;
pub mod mixer;
pub mod peel;
pub mod policy;
pub mod queue;
pub mod report;
pub mod rounding;
pub mod severity;
pub mod taint;

pub use amount::Amount;
pub use policy::{FeeMode, InputOrder, OutputOrder, Policy, Rules};
pub use taint::{Seg, Taint, TaintLabel};
