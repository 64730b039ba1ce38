//! Invariants of Tornado Cash linking on arbitrary small inputs, malformed ones included (pool
//! ids outside the registry, the "no address" id, repeated `seq`s, amounts near the top of u128
//! whose total still fits).

use chaintrace_heuristics::tornado::{
    link, withdrawal_taint, AnonymitySets, ApClaim, Deposit, GasFingerprint, Interactions,
    LinkParams, Pool, PoolId, Ratio, TaintMode, Withdrawal,
};
use chaintrace_model::eth::AssetId;
use chaintrace_model::AddrId;
use proptest::prelude::*;

fn pools() -> Vec<Pool> {
    vec![
        Pool::new(AddrId(900), AssetId::ETH, 1_000, "1 ETH"),
        Pool::new(AddrId(901), AssetId::ETH, 100, "0.1 ETH"),
    ]
}

fn gas() -> impl Strategy<Value = GasFingerprint> {
    prop_oneof![
        (0u128..6).prop_map(|g| GasFingerprint::Legacy { gas_price: g }),
        (0u128..3, 0u128..2).prop_map(|(f, p)| GasFingerprint::Eip1559 {
            max_fee: f,
            max_priority: p
        }),
    ]
}

/// Pools 0..3 where pool 2 is not in the registry.
fn deposit() -> impl Strategy<Value = Deposit> {
    (0u64..60, 0u32..3, 0u64..40, 0u64..6, gas()).prop_map(|(seq, pool, block, from, gas)| {
        Deposit {
            seq,
            pool: PoolId(pool),
            block,
            ts: block * 3_000,
            from: AddrId(from),
            gas,
            commitment: [seq as u8; 32],
            leaf_index: seq as u32,
        }
    })
}

fn withdrawal() -> impl Strategy<Value = Withdrawal> {
    (
        0u64..60,
        0u32..3,
        0u64..40,
        0u64..6,
        0u64..8,
        any::<bool>(),
        gas(),
    )
        .prop_map(|(seq, pool, block, to, from, relayed, gas)| Withdrawal {
            seq,
            pool: PoolId(pool),
            block,
            ts: block * 3_000,
            tx_from: AddrId(from),
            recipient: AddrId(to),
            relayer: relayed.then_some(AddrId(7)),
            fee: 0,
            gas,
            nullifier: [seq as u8; 32],
        })
}

#[derive(Debug, Clone)]
struct Case {
    deposits: Vec<Deposit>,
    withdrawals: Vec<Withdrawal>,
    interactions: Vec<((AddrId, AddrId), u32)>,
    claims: Vec<ApClaim>,
    taint: Vec<(u64, u128)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(deposit(), 0..25),
        prop::collection::vec(withdrawal(), 0..25),
        prop::collection::vec(((0u64..6, 0u64..6), 0u32..6), 0..8),
        prop::collection::vec((0u64..6, 0u64..45, 0u64..200), 0..4),
        prop::collection::vec(
            (0u64..60, prop_oneof![0u128..2_000, Just(u128::MAX / 16)]),
            0..10,
        ),
    )
        .prop_map(|(deposits, withdrawals, pairs, claims, taint)| Case {
            deposits,
            withdrawals,
            interactions: pairs
                .into_iter()
                .map(|((a, b), n)| ((AddrId(a), AddrId(b)), n))
                .collect(),
            claims: claims
                .into_iter()
                .map(|(a, block, ap)| ApClaim {
                    addr: AddrId(a),
                    block,
                    ap: ap * 4,
                })
                .collect(),
            taint,
        })
}

fn params() -> LinkParams {
    // A short window so that the coarse timestamps above form several portfolios.
    LinkParams {
        window_secs: 9_000,
        ..LinkParams::default()
    }
}

fn run_link(c: &Case) -> Vec<chaintrace_heuristics::tornado::Link> {
    let interactions: Interactions = c.interactions.iter().copied().collect();
    link(
        &pools(),
        &c.deposits,
        &c.withdrawals,
        &interactions,
        &c.claims,
        &params(),
    )
}

/// Deposits of the canonical input (first by full order wins a repeated seq), for bounds.
fn canonical_deposits(c: &Case) -> Vec<Deposit> {
    let mut d = c.deposits.clone();
    d.sort_unstable();
    d.dedup_by(|a, b| a.seq == b.seq);
    d
}

/// A permutation of `items` chosen by `seed`.
fn permute<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut keyed: Vec<(u64, usize)> = (0..items.len())
        .map(|i| {
            (
                (i as u64 ^ seed)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    .rotate_left(29),
                i,
            )
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| items[i].clone()).collect()
}

/// The exact sum of `times × r`, kept in lowest terms so that it cannot overflow here.
fn sum_ratios(rs: impl Iterator<Item = (Ratio, u128)>) -> (u128, u128) {
    rs.fold((0u128, 1u128), |(n, d), (r, times)| {
        let sum = Ratio::new(n * r.den + r.num * times * d, d * r.den);
        (sum.num, sum.den)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn results_do_not_depend_on_input_order(c in case(), seed in any::<u64>()) {
        let shuffled = Case {
            deposits: permute(&c.deposits, seed),
            withdrawals: permute(&c.withdrawals, seed ^ 1),
            interactions: permute(&c.interactions, seed ^ 2),
            claims: permute(&c.claims, seed ^ 3),
            taint: c.taint.clone(),
        };
        let links = run_link(&c);
        prop_assert_eq!(&links, &run_link(&shuffled));
        let a = AnonymitySets::new(&c.deposits, &c.withdrawals, &links);
        let b = AnonymitySets::new(&shuffled.deposits, &shuffled.withdrawals, &links);
        prop_assert_eq!(a.sizes(), b.sizes());
        for mode in [TaintMode::Pool, TaintMode::LinkedOnly] {
            prop_assert_eq!(
                withdrawal_taint(&c.deposits, &c.withdrawals, &links, &c.taint, mode),
                withdrawal_taint(&shuffled.deposits, &shuffled.withdrawals, &links, &c.taint, mode)
            );
        }
    }

    #[test]
    fn links_join_a_deposit_to_a_later_withdrawal(c in case()) {
        for l in run_link(&c) {
            prop_assert!(l.deposit < l.withdrawal);
            prop_assert!(l.confidence <= 100);
        }
    }

    #[test]
    fn withdrawals_never_carry_more_taint_than_deposits(c in case()) {
        let links = run_link(&c);
        let known: Vec<u64> = canonical_deposits(&c).iter().map(|d| d.seq).collect();
        let deposited = c.taint.iter().filter(|(s, _)| known.contains(s)).fold(0u128, |a, &(_, t)| a.saturating_add(t));
        for mode in [TaintMode::Pool, TaintMode::LinkedOnly] {
            let out = withdrawal_taint(&c.deposits, &c.withdrawals, &links, &c.taint, mode);
            let paid = out.iter().try_fold(0u128, |a, t| a.checked_add(t.tainted));
            prop_assert!(paid.is_some_and(|p| p <= deposited), "{:?} > {}", paid, deposited);
            prop_assert!(out.iter().all(|t| t.tainted == t.via_links + t.via_pool));
        }
    }

    #[test]
    fn anonymity_sets_are_bounded_and_sum_to_one(c in case()) {
        let links = run_link(&c);
        let sets = AnonymitySets::new(&c.deposits, &c.withdrawals, &links);
        let deposits = canonical_deposits(&c);
        for (w, size) in sets.sizes() {
            let wd = c.withdrawals.iter().filter(|x| x.seq == w).min().unwrap();
            let earlier = deposits.iter().filter(|d| d.pool == wd.pool && d.seq < w).count() as u64;
            prop_assert!(size <= earlier);
            prop_assert_eq!(sets.members(w).count() as u64, size);
            let dist = sets.distribution(w).unwrap();
            if size > 0 || !dist.linked.is_empty() {
                let parts = dist.linked.iter().map(|&(_, r)| (r, 1))
                    .chain(std::iter::once((dist.unlinked_each, u128::from(dist.unlinked_count))));
                let (num, den) = sum_ratios(parts);
                prop_assert_eq!(num, den);
            }
        }
    }
}
