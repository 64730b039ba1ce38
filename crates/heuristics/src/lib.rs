//! Heuristics that read meaning into transaction shapes: which transactions are CoinJoins (and
//! of which protocol), which form peel chains, which output is change, and which Tornado Cash
//! withdrawal probably belongs to which deposit.
//!
//! This crate is pure: it sees values, dense address ids and script kinds, never storage. That is
//! what lets the same detectors run at ingest (the store keeps clusters current block by block and
//! must skip CoinJoins) and at query time (the tracer decides how taint crosses a mixer), while
//! the dependency direction stays `model ← heuristics ← store ← {ingest, trace}`. Facts a shape
//! cannot carry (whether an address is fresh, how an output was later spent) come from the
//! caller as plain slices indexed by output.
//!
//! Invariants this crate promises:
//! - Deterministic: a detector's answer depends only on its input, never on iteration order of
//!   hash maps or on the clock; where a source tool breaks ties arbitrarily, the first value in
//!   output order wins.
//! - Integer arithmetic on amounts; confidences are whole percents.
//! - No panic on any input, however large its values or counts.
//! - Cheap at ingest: ordinary payments are rejected before anything is sorted.
//! - Every positive answer says which rule fired (`detector` id) and what it inferred
//!   (denomination, participants), so a report can show its evidence.

pub mod change;
pub mod chipmixer;
pub mod coinjoin;
mod outputs;
pub mod peel;
pub mod tornado;

pub use chipmixer::chipmixer_hint;
pub use coinjoin::{detect, Coin, Detection, Protocol, TxShape};
pub use outputs::OutputSet;
pub use peel::{is_peel_candidate, peel_change, ChangeReason, PeelFacts};
