//! Deterministic synthetic pool activity for benchmarks and scale tests.
//!
//! Role: one generator of Tornado Cash events that the `tornado_link` benchmark and the
//! heuristics crate's scale test both run on, so that the timings they report describe the same
//! workload and stay comparable. Nothing here is used by the linker itself.
//!
//! Invariants: the same `(n, seed)` always gives the same events (a small xorshift generator, no
//! dependency and no clock); events carry a valid global `seq` order (by block, deposits first
//! within a block); every heuristic of §5.2 has inputs it can fire on once `n` is in the
//! thousands.

use chaintrace_model::eth::AssetId;
use chaintrace_model::AddrId;

use super::events::{ApClaim, Deposit, GasFingerprint, Interactions, Withdrawal};
use super::params::{Link, LinkParams};
use super::pools::{Pool, PoolId, MAINNET_POOLS};

/// How many deposits (and as many withdrawals) the benchmark and the scale test generate by
/// default: the size their published numbers were measured at.
pub const DEFAULT_EVENTS: u64 = 100_000;

/// The seed behind the published numbers.
pub const DEFAULT_SEED: u64 = 7;

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

    /// A legacy gas price between 20 and 220 gwei, in whole milli-gwei steps.
    fn gas(&mut self) -> GasFingerprint {
        GasFingerprint::Legacy {
            gas_price: 1_000_000 * (20_000 + u128::from(self.below(200_000))),
        }
    }
}

/// Synthetic Tornado Cash activity: `n` deposits and `n` withdrawals over the 19 mainnet pools,
/// four deposits a block, withdrawals up to a week later. Some recipients reuse a depositor
/// address (H1), some self-relayed withdrawals copy a deposit's gas price (H2), random address
/// pairs interact (H3), a small set of recipients withdraws often enough to form portfolios
/// (H4), and some recipients claim mining rewards (H5).
pub struct Synthetic {
    pub pools: Vec<Pool>,
    pub deposits: Vec<Deposit>,
    pub withdrawals: Vec<Withdrawal>,
    pub interactions: Interactions,
    pub claims: Vec<ApClaim>,
}

impl Synthetic {
    /// Generates `n` deposits and `n` withdrawals from `seed`.
    pub fn generate(n: u64, seed: u64) -> Synthetic {
        let pools: Vec<Pool> = MAINNET_POOLS
            .iter()
            .enumerate()
            .map(|(i, p)| Pool::new(AddrId(1 + i as u64), AssetId::ETH, p.denomination, p.name))
            .collect();
        // xorshift never leaves zero, so the state must start odd.
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
                    gas: rng.gas(),
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
                    rng.gas()
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

    /// Runs [`link`](super::link) over all of the generated events.
    pub fn link(&self, params: &LinkParams) -> Vec<Link> {
        super::link(
            &self.pools,
            &self.deposits,
            &self.withdrawals,
            &self.interactions,
            &self.claims,
            params,
        )
    }

    /// Taint for the pool-taint measurement: every tenth deposit carries 1,000,000 base units,
    /// as `(deposit seq, amount)`.
    pub fn sample_taint(&self) -> Vec<(u64, u128)> {
        self.deposits
            .iter()
            .step_by(10)
            .map(|d| (d.seq, 1_000_000))
            .collect()
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
