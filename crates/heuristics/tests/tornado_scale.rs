//! Linking at scale: 100,000 deposits and 100,000 withdrawals, timed. Ignored by default because
//! it measures rather than checks; run it in release:
//!
//!   cargo test --release -p chaintrace-heuristics --test tornado_scale -- --ignored --nocapture

use std::time::Instant;

use chaintrace_heuristics::tornado::{
    link, withdrawal_taint, AnonymitySets, ApClaim, Deposit, GasFingerprint, Heuristic,
    Interactions, LinkParams, Pool, PoolId, TaintMode, Withdrawal, MAINNET_POOLS,
};
use chaintrace_model::eth::AssetId;
use chaintrace_model::AddrId;

/// A tiny xorshift generator: deterministic synthetic data without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Synthetic Tornado Cash activity: `n` deposits and `n` withdrawals over the 19 mainnet pools,
/// four deposits a block, withdrawals up to a week later. Some recipients reuse a depositor
/// address (H1), some self-relayed withdrawals copy a deposit's gas price (H2), random address
/// pairs interact (H3), a small set of recipients withdraws often enough to form portfolios
/// (H4), and some recipients claim mining rewards (H5).
struct Synthetic {
    pools: Vec<Pool>,
    deposits: Vec<Deposit>,
    withdrawals: Vec<Withdrawal>,
    interactions: Interactions,
    claims: Vec<ApClaim>,
}

fn synthetic(n: u64, seed: u64) -> Synthetic {
    let pools: Vec<Pool> = MAINNET_POOLS
        .iter()
        .enumerate()
        .map(|(i, p)| Pool::new(AddrId(1 + i as u64), AssetId::ETH, p.denomination, p.name))
        .collect();
    let mut rng = XorShift(seed | 1);
    let start = 12_000_000;
    let depositors = (n / 2).max(1);
    let mut deposits: Vec<Deposit> = (0..n)
        .map(|i| {
            let block = start + i / 4;
            Deposit {
                seq: 0,
                pool: PoolId(rng.below(pools.len() as u64) as u32),
                block,
                ts: block * 12,
                from: AddrId(1_000 + rng.below(depositors)),
                gas: GasFingerprint::Legacy {
                    gas_price: 1_000_000 * (20_000 + u128::from(rng.below(200_000))),
                },
                commitment: [0; 32],
                leaf_index: i as u32,
            }
        })
        .collect();
    let mut withdrawals: Vec<Withdrawal> = (0..n)
        .map(|j| {
            let source = &deposits[rng.below(n) as usize];
            let block = source.block + 1 + rng.below(50_000);
            let recipient = if rng.chance(5) {
                AddrId(1_000 + rng.below(depositors))
            } else if rng.chance(5) {
                AddrId(5_000_000 + rng.below(2_000))
            } else {
                AddrId(10_000_000 + j)
            };
            let self_relayed = rng.chance(30);
            let gas = if self_relayed && rng.chance(20) {
                source.gas
            } else {
                GasFingerprint::Legacy {
                    gas_price: 1_000_000 * (20_000 + u128::from(rng.below(200_000))),
                }
            };
            Withdrawal {
                seq: 0,
                pool: source.pool,
                block,
                ts: block * 12,
                tx_from: if self_relayed { recipient } else { AddrId(999) },
                recipient,
                relayer: (!self_relayed).then_some(AddrId(999)),
                fee: 0,
                gas,
                nullifier: [0; 32],
            }
        })
        .collect();
    assign_seqs(&mut deposits, &mut withdrawals);
    let interactions = (0..n / 2)
        .map(|_| {
            let w = &withdrawals[rng.below(n) as usize];
            let d = &deposits[rng.below(n) as usize];
            ((d.from, w.recipient), 1 + rng.below(6) as u32)
        })
        .collect();
    let claims = (0..n / 2)
        .filter_map(|_| {
            let w = &withdrawals[rng.below(n) as usize];
            let d = &deposits[rng.below(n) as usize];
            let rate = pools[w.pool.0 as usize].ap_rate?;
            let ap = rate * w.block.checked_sub(d.block)?;
            (d.pool == w.pool).then_some(ApClaim {
                addr: w.recipient,
                block: w.block + 10,
                ap,
            })
        })
        .collect();
    Synthetic {
        pools,
        deposits,
        withdrawals,
        interactions,
        claims,
    }
}

/// Global event order: by block, deposits first within a block.
fn assign_seqs(deposits: &mut [Deposit], withdrawals: &mut [Withdrawal]) {
    let mut order: Vec<(u64, bool, usize)> = deposits
        .iter()
        .enumerate()
        .map(|(i, d)| (d.block, false, i))
        .chain(
            withdrawals
                .iter()
                .enumerate()
                .map(|(i, w)| (w.block, true, i)),
        )
        .collect();
    order.sort_unstable();
    for (seq, &(_, is_withdrawal, i)) in order.iter().enumerate() {
        if is_withdrawal {
            withdrawals[i].seq = seq as u64;
        } else {
            deposits[i].seq = seq as u64;
        }
    }
}

#[test]
#[ignore = "timing run; use --release -- --ignored --nocapture"]
fn links_100k_deposits_and_100k_withdrawals() {
    let n = 100_000;
    let data = synthetic(n, 7);
    let params = LinkParams::default();
    let started = Instant::now();
    let links = link(
        &data.pools,
        &data.deposits,
        &data.withdrawals,
        &data.interactions,
        &data.claims,
        &params,
    );
    let linking = started.elapsed();
    let started = Instant::now();
    let sets = AnonymitySets::new(&data.deposits, &data.withdrawals, &links);
    let sizes = sets.sizes();
    let anonymity = started.elapsed();
    let taint: Vec<(u64, u128)> = data
        .deposits
        .iter()
        .step_by(10)
        .map(|d| (d.seq, 1_000_000))
        .collect();
    let started = Instant::now();
    let out = withdrawal_taint(
        &data.deposits,
        &data.withdrawals,
        &links,
        &taint,
        TaintMode::Pool,
    );
    let tainting = started.elapsed();
    let per_heuristic: Vec<(&str, usize)> = Heuristic::ALL
        .iter()
        .map(|&h| (h.id(), links.iter().filter(|l| l.heuristic == h).count()))
        .collect();
    eprintln!(
        "{n} deposits + {n} withdrawals: link {linking:?} ({} links, {per_heuristic:?}), \
         anonymity sets {anonymity:?}, pool taint {tainting:?}",
        links.len()
    );
    assert!(
        per_heuristic.iter().all(|&(_, count)| count > 0),
        "{per_heuristic:?}"
    );
    assert_eq!(sizes.len(), n as usize);
    let paid: u128 = out.iter().map(|t| t.tainted).sum();
    assert!(paid <= taint.iter().map(|t| t.1).sum::<u128>());
    assert!(linking.as_secs() < 10, "linking took {linking:?}");
}
