//! 256-bit amounts (wei, token base units) for the taint machinery.
//!
//! Implementing the crate's [`Amount`] trait for `U256` lets the account engine reuse the
//! UTXO helpers unchanged: largest-remainder [`split`], [`Taint`](crate::taint::Taint) states
//! and segment coalescing. Proportional shares `a·b/c` go through a 512-bit product, so they
//! never overflow. The helpers here check the preconditions those shared functions assert
//! (no overflow, non-zero weights, enough room), so that malformed chain data (a spam token can
//! log transfers summing past 2^256) becomes a [`TraceError`], never a panic.

use chaintrace_model::eth::U256;

use crate::amount::Amount;
use crate::ledger::TraceError;
use crate::rounding::{split, Shares};

type U512 = alloy_primitives::U512;

impl Amount for U256 {
    const ZERO: U256 = U256::ZERO;
    const ONE: U256 = U256::from_limbs([1, 0, 0, 0]);

    fn checked_add(self, other: U256) -> Option<U256> {
        U256::checked_add(self, other)
    }

    /// Saturates instead of asserting: the account engine keeps running (and reports) on
    /// data that breaks an invariant rather than panicking.
    fn minus(self, other: U256) -> U256 {
        self.saturating_sub(other)
    }

    fn mul_div_rem(self, num: U256, den: U256) -> (U256, U256) {
        mul_div_rem(self, num, den)
    }
}

/// `(a·b / c, a·b % c)` with a 512-bit intermediate. The quotient saturates at `U256::MAX`
/// (callers only ask for shares no larger than `a`); `c == 0` gives `(0, 0)`.
pub fn mul_div_rem(a: U256, b: U256, c: U256) -> (U256, U256) {
    if c.is_zero() {
        return (U256::ZERO, U256::ZERO);
    }
    let product: U512 = a.widening_mul(b);
    let (q, r) = product.div_rem(U512::from(c));
    (U256::saturating_from(q), U256::saturating_from(r))
}

/// `floor(a·b / c)` without overflow (see [`mul_div_rem`]).
pub fn mul_div(a: U256, b: U256, c: U256) -> U256 {
    mul_div_rem(a, b, c).0
}

/// `a + b`, or an error naming what overflowed.
pub fn add(a: U256, b: U256, what: &str) -> Result<U256, TraceError> {
    a.checked_add(b)
        .ok_or_else(|| TraceError::Invalid(format!("{what} exceeds 2^256 (malformed amounts)")))
}

/// The sum of `items`, or an error if it exceeds 2^256.
pub fn sum<I: IntoIterator<Item = U256>>(items: I, what: &str) -> Result<U256, TraceError> {
    items
        .into_iter()
        .try_fold(U256::ZERO, |s, x| add(s, x, what))
}

/// Largest-remainder split of `total` over `weights` (see [`split`]), with its preconditions
/// checked: the weights must sum to a non-zero value that fits, and with `caps`, the caps must
/// leave room for the total. All-zero weights with a zero total give all-zero parts.
pub fn lr_split(
    total: U256,
    weights: &[U256],
    caps: Option<&[U256]>,
) -> Result<Shares<U256>, TraceError> {
    let weight_sum = sum(weights.iter().copied(), "a sum of weights")?;
    if total.is_zero() {
        return Ok(smallvec::smallvec![U256::ZERO; weights.len()]);
    }
    if weight_sum.is_zero() {
        return Err(TraceError::Invalid(format!(
            "cannot split {total} over zero weights"
        )));
    }
    if let Some(caps) = caps {
        let room = sum(caps.iter().copied(), "a sum of caps")?;
        if caps.len() != weights.len() || room < total {
            return Err(TraceError::Invalid(format!(
                "cannot split {total} into parts with room for {room}"
            )));
        }
    }
    Ok(split(total, weights, caps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_div_does_not_overflow() {
        let max = U256::MAX;
        assert_eq!(mul_div(max, max, max), max);
        assert_eq!(
            mul_div(max, U256::from(3u64), U256::from(4u64)),
            max / U256::from(4u64) * U256::from(3u64) + U256::from(2u64)
        );
        assert_eq!(
            mul_div_rem(U256::from(7u64), U256::from(3u64), U256::from(4u64)),
            (U256::from(5u64), U256::from(1u64))
        );
        assert_eq!(
            mul_div(U256::from(7u64), U256::from(3u64), U256::ZERO),
            U256::ZERO
        );
    }

    #[test]
    fn split_checks_its_preconditions() {
        let u = |v: u64| U256::from(v);
        assert_eq!(
            lr_split(u(7), &[u(3), u(3), u(3), u(2)], None)
                .unwrap()
                .to_vec(),
            vec![u(2), u(2), u(2), u(1)]
        );
        assert!(lr_split(u(1), &[U256::ZERO], None).is_err());
        assert!(lr_split(u(1), &[U256::MAX, U256::MAX], None).is_err());
        assert!(lr_split(u(5), &[u(1), u(1)], Some(&[u(2), u(2)])).is_err());
        assert_eq!(
            lr_split(U256::ZERO, &[U256::ZERO], None).unwrap().to_vec(),
            vec![U256::ZERO]
        );
    }
}
