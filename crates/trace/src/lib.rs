//! The tracing engine of chaintrace: taint policies, forward traces (where did stolen funds
//! go) and backward exposure (where did a deposit's funds come from).
//! Bitcoin (UTXO) tracing lives at the top level; Ethereum (account-model) tracing in [`account`].
//! Mixers are part of the path, not its end: [`mixer`] recognises CoinJoins and crosses them as
//! the user chose, [`account::tornado`] follows taint out of Tornado Cash pools in stages, and
//! [`peel`] collapses peel chains in reports.
//!
//! Invariants this crate promises:
//! - Integer arithmetic only. Lossless policies (haircut and the ordered family) conserve taint
//!   exactly: per label, what enters a transaction equals what its outputs, fee and burn carry.
//! - Determinism: the same index, sources and parameters give the same result, whatever the
//!   thread count. Parallelism only prefetches data; taint is applied in chain order.
//! - Nothing is dropped silently: every tainted unit ends in a holding whose status says why the
//!   trace stopped there (unspent, a labelled service, a mixer, the hop limit, dust, a cap).
//! - What a mixer is believed to have done is reported apart from what the chain shows: every
//!   CoinJoin crossed carries its detector and confidence, and every Tornado Cash withdrawal
//!   that carries taint out carries its heuristic links and anonymity set.

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
