//! The largest-remainder (Hamilton) rule: split an integer total in exact proportions,
//! give each part the floor of its share, then hand the leftover units, one each, to the parts
//! with the largest fractional remainders (ties to the lower index). The parts always add up
//! to the total, which is what makes lossless policies conserve taint exactly.

use smallvec::SmallVec;

use crate::amount::Amount;

/// Shares of one split (inline for the usual handful of outputs).
pub type Shares<A> = SmallVec<[A; 8]>;

/// Splits `total` over `weights` in proportion (`Σ weights > 0`). With `caps`, no part exceeds
/// its cap (`Σ caps ≥ total` is required); capped units go to the next parts in remainder order.
pub fn split<A: Amount>(total: A, weights: &[A], caps: Option<&[A]>) -> Shares<A> {
    let n = weights.len();
    if total.is_zero() || n == 0 {
        return smallvec::smallvec![A::ZERO; n];
    }
    let weight_sum = A::sum(weights.iter().copied());
    assert!(
        !weight_sum.is_zero(),
        "cannot split {total} over zero weights"
    );
    let cap = |i: usize| caps.map_or(total, |c| c[i]);
    let mut parts: Shares<A> = SmallVec::with_capacity(n);
    let mut remainders: Shares<A> = SmallVec::with_capacity(n);
    for (i, w) in weights.iter().enumerate() {
        let (q, r) = total.mul_div_rem(*w, weight_sum);
        parts.push(q.min(cap(i)));
        remainders.push(r);
    }
    let mut left = total.minus(A::sum(parts.iter().copied()));
    let mut order: SmallVec<[usize; 8]> = (0..n).collect();
    order.sort_by(|a, b| remainders[*b].cmp(&remainders[*a]).then(a.cmp(b)));
    while !left.is_zero() {
        let before = left;
        for &i in &order {
            if left.is_zero() {
                break;
            }
            if parts[i] < cap(i) {
                parts[i] = parts[i].plus(A::ONE);
                left = left.minus(A::ONE);
            }
        }
        assert!(left < before, "caps leave no room for {left} units");
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn u_d_rounding_keeps_every_unit() {
        // 7 tainted units over outputs 3, 3, 3 and fee 2 (spec U-D).
        assert_eq!(split(7u64, &[3, 3, 3, 2], None).to_vec(), vec![2, 2, 2, 1]);
    }

    #[test]
    fn ties_go_to_the_lower_index_and_caps_are_respected() {
        assert_eq!(split(1u64, &[1, 1], None).to_vec(), vec![1, 0]);
        assert_eq!(split(1u64, &[1, 1], Some(&[0, 5])).to_vec(), vec![0, 1]);
        assert_eq!(
            split(5u64, &[1, 1, 1], Some(&[1, 1, 3])).to_vec(),
            vec![1, 1, 3]
        );
    }

    proptest! {
        #[test]
        fn parts_sum_to_the_total_and_stay_within_one_of_the_share(
            total in 0u64..1_000_000_000_000,
            weights in proptest::collection::vec(0u64..1_000_000_000, 1..12),
        ) {
            prop_assume!(weights.iter().any(|w| *w > 0));
            let parts = split(total, &weights, None);
            prop_assert_eq!(parts.iter().sum::<u64>(), total);
            let sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
            for (p, w) in parts.iter().zip(&weights) {
                let exact = u128::from(total) * u128::from(*w);
                prop_assert!(u128::from(*p) * sum + sum > exact && u128::from(*p) * sum <= exact + sum);
            }
        }
    }
}
