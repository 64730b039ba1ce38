//! Integer amounts. Taint arithmetic never uses floating point: splits are exact rational
//! shares rounded by the largest-remainder rule, so lossless policies conserve every unit.

use std::fmt::{Debug, Display};
use std::hash::Hash;

/// An amount in base units: satoshis for Bitcoin (`u64`); wider types for account chains.
pub trait Amount:
    Copy + Ord + Eq + Hash + Debug + Display + Default + Send + Sync + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn checked_add(self, other: Self) -> Option<Self>;
    /// `self - other`; callers guarantee `other <= self`.
    fn minus(self, other: Self) -> Self;
    /// `(self * num / den, self * num % den)` without intermediate overflow; `den > 0`.
    fn mul_div_rem(self, num: Self, den: Self) -> (Self, Self);

    fn plus(self, other: Self) -> Self {
        self.checked_add(other)
            .expect("amount overflow: more value than exists")
    }

    fn is_zero(self) -> bool {
        self == Self::ZERO
    }

    fn sum<I: IntoIterator<Item = Self>>(items: I) -> Self {
        items.into_iter().fold(Self::ZERO, Self::plus)
    }
}

impl Amount for u64 {
    const ZERO: u64 = 0;
    const ONE: u64 = 1;

    fn checked_add(self, other: u64) -> Option<u64> {
        u64::checked_add(self, other)
    }

    fn minus(self, other: u64) -> u64 {
        debug_assert!(other <= self, "{other} > {self}");
        self - other
    }

    fn mul_div_rem(self, num: u64, den: u64) -> (u64, u64) {
        let p = u128::from(self) * u128::from(num);
        let den = u128::from(den);
        // The quotient fits because callers split `self` into parts no larger than it.
        ((p / den) as u64, (p % den) as u64)
    }
}
