//! The account-model (Ethereum) tracing engine: taint on per-(address, asset) balances.
//!
//! On an account chain value does not move in coins but between balances, so taint sits on
//! each (address, asset) pot and a policy decides which of a pot's coins leave with each
//! transfer (spec §2). The pieces:
//!
//! - [`ledger`]: the small read interface over an index of transfers in canonical order;
//!   [`memory`] implements it in memory for tests and benches;
//! - [`state`]: one balance's taint under poison, haircut, FIFO, LIFO and the two seniority
//!   policies, and the [`Parcel`] a transfer carries;
//! - [`convert`]: swap-through and 1:1 wrap/unwrap conversions between assets;
//! - [`passthrough`]: routers and other contracts that forward what they receive inside one
//!   transaction, matched inflow to outflow instead of commingled with their balance;
//! - [`forward`]: where did the sources' taint go (holdings, flows, a per-asset summary that
//!   reconciles), following the tainted balances' histories in canonical order
//!   ([`frontier`]) and reporting through [`result`];
//! - [`backward`]: where did a deposit's funds come from (exposure per category and hop, in
//!   the same shape as the Bitcoin screen).
//!
//! It reuses the UTXO engine's building blocks rather than copying them: [`crate::taint`]
//! states and segments, largest-remainder [`crate::rounding`], the UTXO haircut and poison
//! policies for pass-through matching, attributions and stop sets, the radix work queue, and
//! the exposure tally and JSON. Amounts are `U256` base units; shares use a 512-bit
//! intermediate product and integer rounding that conserves every unit (see [`amount`]).

pub mod amount;
pub mod backward;
pub mod convert;
pub mod forward;
pub mod frontier;
pub mod ledger;
pub mod memory;
pub mod passthrough;
pub mod result;
pub mod state;
pub mod tornado;

pub use backward::{screen_account, AccountExposure, AccountScreenParams, ScreenTarget};
pub use forward::{trace_forward, AccountForwardParams, AccountSource};
pub use ledger::{AccountLedger, EventView};
pub use memory::MemAccountLedger;
pub use result::{AccountHolding, AccountStatus, AccountTrace};
pub use state::{AccountPolicy, AccountRules, AccountState, Parcel, Rounding};

#[cfg(test)]
mod story;
#[cfg(test)]
mod vectors;
