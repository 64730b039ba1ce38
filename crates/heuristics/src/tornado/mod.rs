//! Tornado Cash deposit↔withdrawal linking (tracing spec §5).
//!
//! Role: given a pool registry and decoded `Deposit`/`Withdrawal` events, decide which
//! withdrawal probably spent which deposit's note, how large each withdrawal's anonymity set
//! is, and how much of a deposit's taint reaches each withdrawal.
//!
//! - [`link`] runs the five heuristics of §5.2 (H1 address match, H2 unique gas price, H3 linked
//!   addresses, H4 multi-denomination, H5 anonymity-points mining), each in its own module, and
//!   returns sorted [`Link`]s with a heuristic id, a whole-percent confidence and the evidence.
//! - [`AnonymitySets`] answers §5.3's per-withdrawal anonymity set, its size, its members, and
//!   the probability of each candidate deposit, as exact rationals.
//! - [`withdrawal_taint`] moves per-deposit taint through the pools to withdrawals, either as a
//!   pool-wide haircut sharpened by links, or along links only.
//!
//! Invariants: pure and deterministic (the same events in any order give the same answer);
//! "earlier" means a smaller global event `seq`; amounts are integers in base units and the
//! taint handed to withdrawals never exceeds the taint deposited; no input makes these
//! functions panic; nothing here compares every deposit with every withdrawal.

mod address_match;
mod anonymity;
mod events;
mod gas_price;
mod link;
mod linked_addresses;
mod multi_denomination;
mod pairs;
mod params;
mod pools;
pub mod synthetic;
mod taint;
mod torn_mining;

pub use anonymity::{AnonymitySets, Distribution, Ratio};
pub use events::{ApClaim, Deposit, GasFingerprint, Interactions, Withdrawal};
pub use link::link;
pub use multi_denomination::SCAN_LIMIT as PORTFOLIO_SCAN_LIMIT;
pub use params::{Confidences, Heuristic, Link, LinkDetail, LinkParams};
pub use pools::{ap_rate, MainnetPool, Pool, PoolId, MAINNET_POOLS};
pub use taint::{withdrawal_taint, TaintMode, WithdrawalTaint};
