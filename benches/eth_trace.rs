//! Account-model (Ethereum) tracing on a generated history written through `EthWriter`:
//! forward haircut and FIFO traces from a theft, backward screens of 1,000 exchange deposits at
//! 6 hops (p50/p90/p99), the same screens as a batch at 1 and 2 threads, and peak RSS. No node
//! is needed: the history is generated from a seeded PRNG, written once into a RocksDB under
//! `target/` (keyed by its parameters) and reused by later runs; the run that writes it reports
//! the write time (transfers/s through `EthWriter::apply`).
//!
//! The history (see [`Gen`]): users funded by exchange withdrawals and beacon withdrawals,
//! ETH transfers paying gas as ingest extracts it (burn to the zero address, tip to the fee
//! recipient, then the value), two ERC-20 tokens, routers that forward what they receive
//! within a transaction (internal transfers or token logs), deposit addresses that exchanges
//! sweep to their hot wallets (with gas top-ups for token sweeps), commingling accounts, ten
//! fee recipients, failed transactions that only pay gas, and an exchange hack at 10 % of the
//! history whose three thief addresses then launder in chunks (peels, router splits, deposits).
//! Hot wallets and every other deposit address are labelled as exchanges.
//!
//! After Criterion, the bench prints single timed runs, the ledger calls each engine makes
//! (counted and timed through a wrapper ledger), the screens' latency percentiles and batch
//! scaling, a sample of screens with the engine's default caps, peak RSS, and the same traces
//! over the whole index preloaded into a `MemAccountLedger` (the engine without storage).
//!
//!   cargo bench --bench eth_trace
//!
//! Environment: `CHAINTRACE_BENCH_ETH_TRACE_ACCOUNTS` (addresses, default 300000),
//! `CHAINTRACE_BENCH_ETH_TRACE_BLOCKS` (default 20000), `CHAINTRACE_BENCH_ETH_TRACE_TXS`
//! (average random transactions per block besides sweeps, default 25),
//! `CHAINTRACE_BENCH_ETH_TRACE_SCREENS` (default 1000),
//! `CHAINTRACE_BENCH_ETH_TRACE_MAX_FRONTIER` and `CHAINTRACE_BENCH_ETH_TRACE_MAX_INFLOWS` (screen
//! hub caps, default 1000 each; the engine's defaults are 100000 and 10000),
//! `CHAINTRACE_BENCH_ETH_TRACE_DEFAULT_SCREENS` (screens sampled with the engine's default caps,
//! default 20, 0 skips), `CHAINTRACE_BENCH_ETH_TRACE_MEMORY=0` (skip the in-memory ledger).
//! `CHAINTRACE_BENCH_ETH_TRACE_PROFILE` skips Criterion and runs one part only: `haircut`,
//! `fifo`, `screen` (five times each, for `perf record`), `memory-haircut`, `memory-fifo` (the
//! same over the in-memory ledger), `screen-each` (one line per screen with its ledger calls),
//! `reads` (storage micro-benchmarks), `forward`, `screens` or `report`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use chaintrace_fixturegen::{splitmix64, Rng};
use chaintrace_model::eth::{
    Address, AssetId, EventNum, ExtractedBlock, ExtractedTx, GasPricing, MixerLogs, RawTransfer,
    TransferKind, B256, U256,
};
use chaintrace_model::{AddrId, Category, Label, TxNum};
use chaintrace_store::eth::{EthIndex, EthWriter};
use chaintrace_store::labels::LabelStore;
use chaintrace_store::tables::{EthAddr, EthEvents, EthHistory, HistoryKey, LabelTarget};
use chaintrace_store::{OpenMode, Store};
use chaintrace_trace::account::{
    screen_account, trace_forward, AccountForwardParams, AccountLedger, AccountPolicy,
    AccountRules, AccountScreenParams, AccountSource, AccountTrace, EventView, MemAccountLedger,
    ScreenTarget,
};
use chaintrace_trace::attribution::Attributions;
use chaintrace_trace::eth::{load_eth_attributions, EthLedger};
use chaintrace_trace::ledger::TraceError;
use chaintrace_trace::TaintLabel;
use criterion::{Criterion, Throughput};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Bump when the generator changes, so cached histories are rebuilt.
const GEN_VERSION: u32 = 4;
const SEED: u64 = 0x00e7_4ace;
const CHAIN_ID: u64 = 1;
const GWEI: u128 = 1_000_000_000;
const ETHER: u128 = 1_000_000_000 * GWEI;
/// USDT-like token (6 decimals) and an 18-decimal token.
const TOKEN_UNIT: [u128; 2] = [1_000_000, ETHER];

const MINERS: u32 = 10;
const TOKENS: u32 = 2;
const ROUTERS: u32 = 32;
const EXCHANGES: u32 = 6;
const COMMINGLERS: u32 = 64;
const THIEVES: u32 = 3;
/// Beacon withdrawals per block (mainnet has 16; most go to few addresses).
const WITHDRAWALS_PER_BLOCK: u32 = 4;
/// The zero address, as an actor.
const NONE: u32 = u32::MAX;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// What the generated history looks like.
#[derive(Clone, Copy, Debug)]
struct Spec {
    accounts: u32,
    blocks: u32,
    txs_per_block: u32,
}

impl Spec {
    fn from_env() -> Spec {
        Spec {
            accounts: env_u64("CHAINTRACE_BENCH_ETH_TRACE_ACCOUNTS", 300_000).max(10_000) as u32,
            blocks: env_u64("CHAINTRACE_BENCH_ETH_TRACE_BLOCKS", 20_000).max(100) as u32,
            txs_per_block: env_u64("CHAINTRACE_BENCH_ETH_TRACE_TXS", 25).max(2) as u32,
        }
    }

    fn key(&self) -> String {
        format!(
            "eth-trace-bench-v{GEN_VERSION}-{}a-{}b-{}t",
            self.accounts, self.blocks, self.txs_per_block
        )
    }

    fn theft_block(&self) -> u32 {
        self.blocks / 10
    }
}

fn mix(x: u64) -> u64 {
    let mut s = x;
    splitmix64(&mut s)
}

/// Draws this history needs beyond the fixture generator's integers.
trait Draw {
    fn unit(&mut self) -> f64;
    fn log_uniform(&mut self, lo: u128, hi: u128) -> u128;
    fn share(&mut self, v: u128, lo: u64, hi: u64) -> u128;
}

impl Draw for Rng {
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Log-uniform in `[lo, hi)`.
    fn log_uniform(&mut self, lo: u128, hi: u128) -> u128 {
        let r = self.unit();
        ((lo as f64) * (hi as f64 / lo as f64).powf(r)) as u128
    }

    /// `v` times a percentage uniform in `lo..=hi`.
    fn share(&mut self, v: u128, lo: u64, hi: u64) -> u128 {
        v / 100 * u128::from(lo + self.below(hi - lo + 1))
    }
}

/// Who is who: actors are numbered, and each number maps to one 20-byte address.
#[derive(Clone, Copy, Debug)]
struct Layout {
    miners: u32,
    tokens: u32,
    routers: u32,
    hots: u32,
    comminglers: u32,
    thieves: u32,
    deposits: u32,
    n_deposits: u32,
    users: u32,
    n_users: u32,
}

impl Layout {
    fn new(accounts: u32) -> Layout {
        // Actor 0 deploys the tokens.
        let miners = 1;
        let tokens = miners + MINERS;
        let routers = tokens + TOKENS;
        let hots = routers + ROUTERS;
        let comminglers = hots + EXCHANGES;
        let thieves = comminglers + COMMINGLERS;
        let deposits = thieves + THIEVES;
        let n_deposits = accounts / 8;
        let users = deposits + n_deposits;
        Layout {
            miners,
            tokens,
            routers,
            hots,
            comminglers,
            thieves,
            deposits,
            n_deposits,
            users,
            n_users: accounts - users,
        }
    }

    fn total(&self) -> u32 {
        self.users + self.n_users
    }

    fn is_deposit(&self, a: u32) -> bool {
        (self.deposits..self.users).contains(&a)
    }

    /// The exchange a deposit address belongs to.
    fn exchange_of(&self, deposit: u32) -> u32 {
        (deposit - self.deposits) % EXCHANGES
    }

    /// The deposit address an account uses (one per account; some share one).
    fn deposit_of(&self, a: u32) -> u32 {
        self.deposits + (mix(u64::from(a) ^ 0xde90) % u64::from(self.n_deposits)) as u32
    }

    /// Every other deposit address is labelled (labels are never complete).
    fn deposit_labelled(&self, deposit: u32) -> bool {
        (deposit - self.deposits) % (2 * EXCHANGES) < EXCHANGES
    }
}

fn address(actor: u32) -> Address {
    if actor == NONE {
        return Address::ZERO;
    }
    let mut s = u64::from(actor) ^ 0xadd7_e550;
    let mut b = [0u8; 20];
    b[..8].copy_from_slice(&splitmix64(&mut s).to_be_bytes());
    b[8..16].copy_from_slice(&splitmix64(&mut s).to_be_bytes());
    b[16..].copy_from_slice(&actor.to_be_bytes());
    Address::from(b)
}

fn hash32(a: u64, b: u64) -> B256 {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&mix(a ^ b.rotate_left(17)).to_be_bytes());
    h[8..16].copy_from_slice(&mix(a.wrapping_add(0x51)).to_be_bytes());
    h[16..24].copy_from_slice(&b.to_be_bytes());
    h[24..].copy_from_slice(&a.to_be_bytes());
    B256::from(h)
}

/// One value movement of a transaction body, between actors.
#[derive(Clone, Copy)]
struct Mv {
    kind: TransferKind,
    token: Option<usize>,
    from: u32,
    to: u32,
    amount: u128,
}

fn mv(kind: TransferKind, from: u32, to: u32, amount: u128) -> Mv {
    Mv {
        kind,
        token: None,
        from,
        to,
        amount,
    }
}

fn tok(t: usize, from: u32, to: u32, amount: u128) -> Mv {
    Mv {
        kind: TransferKind::Token,
        token: Some(t),
        from,
        to,
        amount,
    }
}

/// What the history holds, for the report.
#[derive(Default)]
struct Stats {
    kinds: [u64; 9],
    txs: u64,
    failed: u64,
    eth_transfers: u64,
    token_transfers: u64,
    deposits: u64,
    sweeps: u64,
    top_ups: u64,
    routed: u64,
    exchange_withdrawals: u64,
    payouts: u64,
    laundering: u64,
}

/// A block being built.
#[derive(Default)]
struct Blk {
    txs: Vec<ExtractedTx>,
    credits: Vec<RawTransfer>,
    contracts: Vec<Address>,
}

/// The generator: balances of every actor (so no transfer overdraws), pending sweeps, and
/// the event numbering ingest will assign (to remember which events are deposits).
struct Gen {
    spec: Spec,
    l: Layout,
    rng: Rng,
    eth: Vec<u128>,
    tok: [Vec<u128>; 2],
    sweep_at: Vec<Vec<u32>>,
    sweeping: Vec<bool>,
    touches: Vec<u32>,
    base_fee: u128,
    miner: u32,
    next_tx: u64,
    next_event: u64,
    prev_hash: B256,
    deposit_events: Vec<u64>,
    stats: Stats,
    /// Largest ether and token amount a payment may move (thieves move chunks).
    cap: (u128, u128),
    /// Users who recently received ether, token 0, token 1: they tend to spend it next.
    recent: [Vec<u32>; 3],
    recent_at: [usize; 3],
}

/// How many recent recipients are remembered per asset.
const RECENT: usize = 4_096;

impl Gen {
    fn new(spec: Spec) -> Gen {
        let l = Layout::new(spec.accounts);
        let n = l.total() as usize;
        Gen {
            spec,
            l,
            rng: Rng::new(SEED),
            eth: vec![0; n],
            tok: [vec![0; n], vec![0; n]],
            sweep_at: vec![Vec::new(); spec.blocks as usize + 64],
            sweeping: vec![false; l.n_deposits as usize],
            touches: vec![0; n],
            base_fee: 15 * GWEI,
            miner: l.miners,
            next_tx: 0,
            next_event: 0,
            prev_hash: B256::ZERO,
            deposit_events: Vec::new(),
            stats: Stats::default(),
            cap: (u128::MAX, u128::MAX),
            recent: [Vec::new(), Vec::new(), Vec::new()],
            recent_at: [0; 3],
        }
    }

    /// Power law over a range: low numbers are much more active.
    fn skewed(&mut self, start: u32, n: u32, power: f64) -> u32 {
        start + ((self.rng.unit().powf(power) * f64::from(n)) as u32).min(n - 1)
    }

    fn active_user(&mut self) -> u32 {
        self.skewed(self.l.users, self.l.n_users, 2.5)
    }

    /// Who spends `asset` (0 ether, 1 + token): half the time someone who just received it.
    fn spender(&mut self, asset: usize) -> u32 {
        let r = &self.recent[asset];
        if !r.is_empty() && self.rng.below(2) == 0 {
            return r[self.rng.below(r.len() as u64) as usize];
        }
        self.active_user()
    }

    fn remember(&mut self, m: &Mv) {
        if m.to < self.l.users || m.to == NONE {
            return;
        }
        let a = m.token.map_or(0, |t| t + 1);
        let i = self.recent_at[a] % RECENT;
        self.recent_at[a] += 1;
        if self.recent[a].len() < RECENT {
            self.recent[a].push(m.to);
        } else {
            self.recent[a][i] = m.to;
        }
    }

    fn any_user(&mut self) -> u32 {
        self.l.users + self.rng.below(u64::from(self.l.n_users)) as u32
    }

    fn commingler(&mut self) -> u32 {
        self.skewed(self.l.comminglers, COMMINGLERS, 1.5)
    }

    fn exchange(&mut self) -> u32 {
        self.skewed(0, EXCHANGES, 1.5)
    }

    fn prio(&mut self) -> u128 {
        GWEI / 100 + u128::from(self.rng.below(2 * GWEI as u64))
    }

    fn fee(&self, gas: u64, prio: u128) -> u128 {
        u128::from(gas) * (self.base_fee + prio)
    }

    /// What a wallet reserves for gas when sending "max".
    fn max_fee(&self, gas: u64) -> u128 {
        u128::from(gas) * (self.base_fee + 2 * GWEI + GWEI / 100)
    }

    fn debit(&mut self, token: Option<usize>, a: u32, v: u128) {
        if a == NONE {
            return;
        }
        let bal = match token {
            None => &mut self.eth[a as usize],
            Some(t) => &mut self.tok[t][a as usize],
        };
        *bal = bal.checked_sub(v).expect("the generator never overdraws");
    }

    fn credit(&mut self, token: Option<usize>, a: u32, v: u128) {
        if a == NONE {
            return;
        }
        match token {
            None => self.eth[a as usize] += v,
            Some(t) => self.tok[t][a as usize] += v,
        }
    }

    fn raw(&mut self, m: &Mv) -> RawTransfer {
        self.stats.kinds[m.kind as usize] += 1;
        for a in [m.from, m.to] {
            if a != NONE {
                self.touches[a as usize] += 1;
            }
        }
        RawTransfer {
            kind: m.kind,
            asset: m.token.map(|t| address(self.l.tokens + t as u32)),
            from: address(m.from),
            to: address(m.to),
            amount: U256::from(m.amount),
        }
    }

    /// One transaction: gas paid by `from` (burn, then tip to the fee recipient), then `body`
    /// if it succeeds. Returns the event number of the first body transfer.
    #[allow(clippy::too_many_arguments)]
    fn push_tx(
        &mut self,
        b: &mut Blk,
        from: u32,
        to: u32,
        gas: u64,
        prio: u128,
        value: u128,
        body: &[Mv],
        success: bool,
    ) -> u64 {
        let burn = u128::from(gas) * self.base_fee;
        let tip = u128::from(gas) * prio;
        let miner = self.miner;
        let mut moves = vec![
            mv(TransferKind::GasBurn, from, NONE, burn),
            mv(TransferKind::GasTip, from, miner, tip),
        ];
        if success {
            moves.extend_from_slice(body);
        }
        let first_body = self.next_event + 2;
        let mut transfers = Vec::with_capacity(moves.len());
        for m in &moves {
            self.debit(m.token, m.from, m.amount);
            self.credit(m.token, m.to, m.amount);
            if !m.kind.is_gas() {
                self.remember(m);
            }
            transfers.push(self.raw(m));
            if let Some(t) = m.token {
                b.contracts.push(address(self.l.tokens + t as u32));
                if m.from != from && m.from != NONE {
                    // A token moved by a contract's call (a router's `transfer`).
                    b.contracts.push(address(m.from));
                }
            }
            if m.kind == TransferKind::Internal {
                b.contracts.push(address(m.from));
            }
        }
        self.next_event += transfers.len() as u64;
        self.stats.txs += 1;
        if !success {
            self.stats.failed += 1;
        }
        let num = self.next_tx;
        self.next_tx += 1;
        b.txs.push(ExtractedTx {
            hash: hash32(num, 0x7a),
            index: b.txs.len() as u32,
            from: address(from),
            to: Some(address(to)),
            created: None,
            success,
            gas_used: gas,
            effective_gas_price: self.base_fee + prio,
            value: U256::from(value),
            transfers,
            pricing: GasPricing::Eip1559 {
                max_fee_per_gas: 100_000_000_000,
                max_priority_fee_per_gas: prio,
            },
            mixer: MixerLogs::default(),
        });
        first_body
    }

    /// A deposit into an exchange deposit address: remembered for screening, swept later.
    fn deposited(&mut self, to: u32, event: u64, height: u32) {
        if !self.l.is_deposit(to) {
            return;
        }
        self.stats.deposits += 1;
        self.deposit_events.push(event);
        let i = (to - self.l.deposits) as usize;
        if !self.sweeping[i] {
            self.sweeping[i] = true;
            let due = height as usize + 1 + self.rng.below(30) as usize;
            if let Some(slot) = self.sweep_at.get_mut(due) {
                slot.push(to);
            }
        }
    }

    /// The gas priority fee if `a` can pay `gas` and a little more; otherwise an exchange
    /// withdrawal funds it in this slot instead.
    fn funded(&mut self, b: &mut Blk, a: u32, gas: u64) -> Option<u128> {
        let prio = self.prio();
        if self.eth[a as usize] > self.fee(gas, prio) + ETHER / 1_000 {
            Some(prio)
        } else {
            self.withdraw(b, a, None);
            None
        }
    }

    /// An exchange hot wallet pays a customer (ETH or a token).
    fn withdraw(&mut self, b: &mut Blk, to: u32, token: Option<usize>) {
        let hot = self.l.hots + self.exchange();
        let prio = self.prio();
        self.stats.exchange_withdrawals += 1;
        match token {
            None => {
                let v = self.rng.log_uniform(ETHER / 50, 30 * ETHER);
                let body = [mv(TransferKind::TxValue, hot, to, v)];
                self.push_tx(b, hot, to, 21_000, prio, v, &body, true);
            }
            Some(t) => {
                let unit = TOKEN_UNIT[t];
                let v = self.rng.log_uniform(10 * unit, 100_000 * unit);
                let gas = 50_000 + self.rng.below(15_000);
                let token = self.l.tokens + t as u32;
                self.push_tx(b, hot, token, gas, prio, 0, &[tok(t, hot, to, v)], true);
            }
        }
    }

    /// Anyone an ordinary payment goes to.
    fn payee(&mut self, from: u32) -> u32 {
        loop {
            let to = match self.rng.below(20) {
                0..=9 => self.any_user(),
                10..=14 => self.active_user(),
                15..=17 => self.commingler(),
                _ => {
                    let u = self.active_user();
                    self.l.deposit_of(u)
                }
            };
            if to != from {
                return to;
            }
        }
    }

    fn eth_payment(&mut self, b: &mut Blk, from: u32, to: u32, h: u32, max_share: u64) {
        let Some(prio) = self.funded(b, from, 21_000) else {
            return;
        };
        let bal = self.eth[from as usize];
        let reserve = self.max_fee(21_000);
        let value = if self.rng.below(10) == 0
            && max_share >= 90
            && bal > reserve
            && self.cap.0 == u128::MAX
        {
            // "Send max": the wallet reserves gas at the maximum fee, leaving dust.
            bal - reserve
        } else {
            self.rng
                .share(bal - self.fee(21_000, prio), 2, max_share)
                .clamp(1, self.cap.0)
        };
        self.stats.eth_transfers += 1;
        let body = [mv(TransferKind::TxValue, from, to, value)];
        let e = self.push_tx(b, from, to, 21_000, prio, value, &body, true);
        self.deposited(to, e, h);
    }

    fn token_payment(&mut self, b: &mut Blk, from: u32, to: u32, t: usize, h: u32, share: u64) {
        if self.tok[t][from as usize] == 0 {
            self.withdraw(b, from, Some(t));
            return;
        }
        let gas = 45_000 + self.rng.below(20_000);
        let Some(prio) = self.funded(b, from, gas) else {
            return;
        };
        let bal = self.tok[t][from as usize];
        let amount = if self.rng.below(100) < 15 {
            bal
        } else {
            self.rng.share(bal, 2, share).clamp(1, self.cap.1)
        };
        self.stats.token_transfers += 1;
        let token = self.l.tokens + t as u32;
        let e = self.push_tx(
            b,
            from,
            token,
            gas,
            prio,
            0,
            &[tok(t, from, to, amount)],
            true,
        );
        self.deposited(to, e, h);
    }

    /// A call to a router that forwards all it receives to 1–4 recipients in the same
    /// transaction (internal transfers for ether, `Transfer` logs for a token).
    fn routed(&mut self, b: &mut Blk, from: u32, h: u32, recipients: &[u32], token: Option<usize>) {
        let router = self.skewed(self.l.routers, ROUTERS, 2.0);
        let n = recipients.len() as u64;
        let gas = 60_000 + 25_000 * n;
        if let Some(t) = token {
            if self.tok[t][from as usize] == 0 {
                self.withdraw(b, from, Some(t));
                return;
            }
        }
        let Some(prio) = self.funded(b, from, gas) else {
            return;
        };
        let total = match token {
            None => self
                .rng
                .share(self.eth[from as usize] - self.fee(gas, prio), 5, 60),
            Some(t) => self.rng.share(self.tok[t][from as usize], 10, 100),
        }
        .min(if token.is_some() {
            self.cap.1
        } else {
            self.cap.0
        });
        if total < u128::from(n) * 100 {
            return self.eth_payment(b, from, recipients[0], h, 90);
        }
        let weights: Vec<u128> = (0..n)
            .map(|_| 1 + u128::from(self.rng.below(100)))
            .collect();
        let sum: u128 = weights.iter().sum();
        let mut parts: Vec<u128> = weights.iter().map(|w| total / sum * w).collect();
        parts[0] += total - parts.iter().sum::<u128>();
        let (to, value, mut body) = match token {
            None => (
                router,
                total,
                vec![mv(TransferKind::TxValue, from, router, total)],
            ),
            Some(t) => (router, 0, vec![tok(t, from, router, total)]),
        };
        for (r, p) in recipients.iter().zip(&parts) {
            body.push(match token {
                None => mv(TransferKind::Internal, router, *r, *p),
                Some(t) => tok(t, router, *r, *p),
            });
        }
        self.stats.routed += 1;
        let e = self.push_tx(b, from, to, gas, prio, value, &body, true);
        for (i, r) in recipients.iter().enumerate() {
            self.deposited(*r, e + 1 + i as u64, h);
        }
    }

    fn random_tx(&mut self, b: &mut Blk, h: u32) {
        match self.rng.below(100) {
            0..=37 => {
                let from = if self.rng.below(10) == 0 {
                    self.commingler()
                } else {
                    self.spender(0)
                };
                let to = self.payee(from);
                self.eth_payment(b, from, to, h, 60);
            }
            38..=51 => {
                let from = if self.rng.below(10) < 7 {
                    self.spender(0)
                } else {
                    self.any_user()
                };
                let to = self.l.deposit_of(from);
                self.eth_payment(b, from, to, h, 100);
            }
            52..=69 => {
                let t = usize::from(self.rng.below(10) >= 7);
                let from = if self.rng.below(100) < 85 {
                    self.spender(1 + t)
                } else {
                    self.commingler()
                };
                let to = match self.rng.below(20) {
                    0..=10 => self.payee(from),
                    11..=15 => self.l.deposit_of(from),
                    _ => self.commingler(),
                };
                if to != from {
                    self.token_payment(b, from, to, t, h, 60);
                }
            }
            70..=77 => {
                let n = 1 + self.rng.below(4) as usize;
                let token = (self.rng.below(4) == 0).then(|| self.rng.below(2) as usize);
                let from = self.spender(token.map_or(0, |t| t + 1));
                let recipients: Vec<u32> = (0..n).map(|_| self.payee(from)).collect();
                self.routed(b, from, h, &recipients, token);
            }
            78..=91 => {
                let to = if self.rng.below(2) == 0 {
                    self.any_user()
                } else {
                    self.active_user()
                };
                let token = (self.rng.below(10) < 3).then(|| self.rng.below(2) as usize);
                self.withdraw(b, to, token);
            }
            92..=96 => {
                // A commingling account (OTC desk, merchant, payroll) pays someone.
                let c = self.commingler();
                let to = self.payee(c);
                if self.eth[c as usize] > ETHER / 20 {
                    self.stats.payouts += 1;
                    self.eth_payment(b, c, to, h, 20);
                } else {
                    let from = self.active_user();
                    self.eth_payment(b, from, c, h, 90);
                }
            }
            _ => {
                // Reverted: only the gas moves.
                let from = self.active_user();
                let gas = 30_000 + self.rng.below(170_000);
                let Some(prio) = self.funded(b, from, gas) else {
                    return;
                };
                let to = self.l.routers + self.rng.below(u64::from(ROUTERS)) as u32;
                self.push_tx(b, from, to, gas, prio, ETHER / 10, &[], false);
            }
        }
    }

    /// An exchange sweeps a deposit address into its hot wallet: tokens first (topping up
    /// gas when the address holds no ether), then the ether, exactly to zero.
    fn sweep(&mut self, b: &mut Blk, d: u32, h: u32) {
        let hot = self.l.hots + self.l.exchange_of(d);
        let mut again = false;
        for t in 0..2 {
            let amount = self.tok[t][d as usize];
            if amount == 0 {
                continue;
            }
            let gas = 52_000;
            let prio = self.prio();
            if self.eth[d as usize] >= self.fee(gas, prio) {
                self.stats.sweeps += 1;
                let token = self.l.tokens + t as u32;
                self.push_tx(b, d, token, gas, prio, 0, &[tok(t, d, hot, amount)], true);
            } else if !again {
                let v = u128::from(gas) * (self.base_fee * 3 + 3 * GWEI);
                self.stats.top_ups += 1;
                let prio = self.prio();
                let body = [mv(TransferKind::TxValue, hot, d, v)];
                self.push_tx(b, hot, d, 21_000, prio, v, &body, true);
                again = true;
            }
        }
        let prio = self.prio();
        let fee = self.fee(21_000, prio);
        if !again && self.eth[d as usize] > fee + ETHER / 1_000 {
            self.stats.sweeps += 1;
            let v = self.eth[d as usize] - fee;
            let body = [mv(TransferKind::TxValue, d, hot, v)];
            self.push_tx(b, d, hot, 21_000, prio, v, &body, true);
        }
        if again {
            if let Some(slot) = self.sweep_at.get_mut(h as usize + 2) {
                slot.push(d);
            }
        } else {
            self.sweeping[(d - self.l.deposits) as usize] = false;
        }
    }

    /// The hack: exchange 0's hot wallet is drained to the thieves.
    fn theft(&mut self, b: &mut Blk) {
        let hot = self.l.hots;
        let t = self.l.thieves;
        for (thief, v) in [
            (t, 20_000 * ETHER),
            (t + 1, 8_000 * ETHER),
            (t + 2, 10 * ETHER),
        ] {
            let prio = self.prio();
            let body = [mv(TransferKind::TxValue, hot, thief, v)];
            self.push_tx(b, hot, thief, 21_000, prio, v, &body, true);
        }
        let prio = self.prio();
        let amount = 20_000_000 * TOKEN_UNIT[0];
        let token = self.l.tokens;
        self.push_tx(
            b,
            hot,
            token,
            55_000,
            prio,
            0,
            &[tok(0, hot, t + 2, amount)],
            true,
        );
    }

    /// A thief moves part of the loot: peels to fresh addresses, splits through routers,
    /// deposits at exchanges.
    fn launder(&mut self, b: &mut Blk, thief: u32, h: u32) {
        if self.eth[thief as usize] < ETHER / 20 {
            return;
        }
        self.stats.laundering += 1;
        // Chunks of 2–60 ETH (100k–2M of the stablecoin), not shares: the loot lasts.
        self.cap = (
            self.rng.log_uniform(2 * ETHER, 60 * ETHER),
            self.rng
                .log_uniform(100_000 * TOKEN_UNIT[0], 2_000_000 * TOKEN_UNIT[0]),
        );
        match self.rng.below(20) {
            0..=9 => {
                let to = self.any_user();
                self.eth_payment(b, thief, to, h, 100);
            }
            10..=13 => {
                let n = 2 + self.rng.below(3) as usize;
                let recipients: Vec<u32> = (0..n).map(|_| self.any_user()).collect();
                self.routed(b, thief, h, &recipients, None);
            }
            14..=16 => {
                let to = self.l.deposits + self.rng.below(u64::from(self.l.n_deposits)) as u32;
                self.eth_payment(b, thief, to, h, 100);
            }
            _ => {
                let to = self.any_user();
                if self.tok[0][thief as usize] > 0 {
                    self.token_payment(b, thief, to, 0, h, 100);
                } else {
                    self.eth_payment(b, thief, to, h, 100);
                }
            }
        }
        self.cap = (u128::MAX, u128::MAX);
    }

    fn credit_block(&mut self, b: &mut Blk, to: u32, v: u128) {
        self.credit(None, to, v);
        let t = self.raw(&mv(TransferKind::Withdrawal, NONE, to, v));
        b.credits.push(t);
    }

    fn block(&mut self, h: u32) -> ExtractedBlock {
        let mut b = Blk::default();
        self.miner = self.skewed(self.l.miners, MINERS, 2.0);
        // The base fee moves by at most 12.5 % a block.
        let step = self.rng.below(251) as i128 - 125;
        let fee = self.base_fee as i128 + self.base_fee as i128 * step / 1_000;
        self.base_fee = (fee.clamp(3 * GWEI as i128, 80 * GWEI as i128)) as u128;
        if h == 1 {
            // The deployer mints both tokens to the exchanges' hot wallets.
            for (t, unit) in TOKEN_UNIT.iter().enumerate() {
                for x in 0..EXCHANGES {
                    let prio = self.prio();
                    let amount = 1_000_000_000 * unit;
                    let hot = self.l.hots + x;
                    let token = self.l.tokens + t as u32;
                    self.push_tx(
                        &mut b,
                        0,
                        token,
                        70_000,
                        prio,
                        0,
                        &[tok(t, NONE, hot, amount)],
                        true,
                    );
                }
            }
        }
        if h >= 1 {
            for d in std::mem::take(&mut self.sweep_at[h as usize]) {
                self.sweep(&mut b, d, h);
            }
            if h == self.spec.theft_block() {
                self.theft(&mut b);
            }
            let t = self.spec.txs_per_block;
            let n = t / 2 + self.rng.below(u64::from(t) + 1) as u32;
            for _ in 0..n {
                self.random_tx(&mut b, h);
            }
            if h > self.spec.theft_block() {
                for k in 0..THIEVES {
                    if self.rng.below(3) == 0 {
                        self.launder(&mut b, self.l.thieves + k, h);
                    }
                }
            }
            if h.is_multiple_of(200) && self.eth[self.miner as usize] > ETHER {
                // A fee recipient cashes out at an exchange.
                let m = self.miner;
                let to = self.l.deposit_of(m);
                self.eth_payment(&mut b, m, to, h, 95);
            }
        }
        if h == 0 {
            for x in 0..EXCHANGES {
                self.credit_block(&mut b, self.l.hots + x, 5_000_000 * ETHER);
            }
            for c in 0..COMMINGLERS {
                self.credit_block(&mut b, self.l.comminglers + c, 50 * ETHER);
            }
            self.credit_block(&mut b, 0, 100 * ETHER);
        } else {
            for _ in 0..WITHDRAWALS_PER_BLOCK {
                let to = self.any_user();
                let v = self.rng.log_uniform(ETHER / 100, ETHER / 16);
                self.credit_block(&mut b, to, v);
            }
        }
        self.next_event += b.credits.len() as u64;
        let hash = hash32(u64::from(h), 0xb10c);
        let mut contracts = b.contracts;
        contracts.sort_unstable();
        contracts.dedup();
        let block = ExtractedBlock {
            number: u64::from(h),
            hash,
            parent_hash: self.prev_hash,
            timestamp: 1_700_000_000 + 12 * u64::from(h),
            miner: address(self.miner),
            base_fee: Some(self.base_fee as u64),
            txs: b.txs,
            credits: b.credits,
            contracts,
        };
        self.prev_hash = hash;
        block
    }

    fn composition(&self) -> Vec<(String, u64)> {
        let s = &self.stats;
        let l = &self.l;
        let hub = |start: u32, n: u32| {
            (start..start + n)
                .map(|a| u64::from(self.touches[a as usize]))
                .max()
                .unwrap_or(0)
        };
        let mut out: Vec<(String, u64)> = vec![
            ("blocks".into(), u64::from(self.spec.blocks)),
            ("txs".into(), s.txs),
            ("transfers".into(), self.next_event),
            ("failed_txs".into(), s.failed),
            ("eth_payments".into(), s.eth_transfers),
            ("token_payments".into(), s.token_transfers),
            ("routed_txs".into(), s.routed),
            ("exchange_withdrawals".into(), s.exchange_withdrawals),
            ("deposits".into(), s.deposits),
            ("sweeps".into(), s.sweeps),
            ("gas_top_ups".into(), s.top_ups),
            ("commingler_payouts".into(), s.payouts),
            ("thief_actions".into(), s.laundering),
            ("theft_block".into(), u64::from(self.spec.theft_block())),
            ("deposit_addresses".into(), u64::from(l.n_deposits)),
            ("users".into(), u64::from(l.n_users)),
            ("max_events_hot_wallet".into(), hub(l.hots, EXCHANGES)),
            ("max_events_fee_recipient".into(), hub(l.miners, MINERS)),
            (
                "max_events_commingler".into(),
                hub(l.comminglers, COMMINGLERS),
            ),
            ("max_events_router".into(), hub(l.routers, ROUTERS)),
            ("max_events_user".into(), hub(l.users, l.n_users)),
        ];
        for k in TransferKind::ALL {
            out.push((format!("kind_{k}"), s.kinds[k as usize]));
        }
        out
    }
}

/// The generated index, with what the generator knows about it.
struct Built {
    db: PathBuf,
    layout: Layout,
    composition: Vec<(String, u64)>,
    deposit_events: Vec<u64>,
    /// True when this run generated it (RSS then includes generation).
    fresh: bool,
}

fn get(c: &[(String, u64)], k: &str) -> u64 {
    c.iter().find(|(n, _)| n == k).map_or(0, |(_, v)| *v)
}

/// The generated history's index, written once per parameter set and reused.
fn index(spec: Spec) -> Built {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(spec.key());
    let db = base.join("db");
    let done = base.join("done");
    let layout = Layout::new(spec.accounts);
    if done.exists() {
        let text = std::fs::read_to_string(&done).expect("marker");
        let composition = text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect();
        let raw = std::fs::read(base.join("deposits")).expect("deposits");
        let deposit_events = raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        return Built {
            db,
            layout,
            composition,
            deposit_events,
            fresh: false,
        };
    }
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("bench dir");
    eprintln!(
        "generating {} ({} blocks) into {}",
        spec.key(),
        spec.blocks,
        db.display()
    );
    let started = Instant::now();
    let store = Store::open(&db, OpenMode::Create).expect("open");
    let mut writer = EthWriter::open(&store, CHAIN_ID, 0).expect("writer");
    let (tx, rx) = mpsc::sync_channel::<ExtractedBlock>(256);
    let generator = std::thread::spawn(move || {
        let mut g = Gen::new(spec);
        for h in 0..spec.blocks {
            let block = g.block(h);
            if tx.send(block).is_err() {
                break;
            }
        }
        g
    });
    let mut busy = Duration::ZERO;
    for block in rx {
        let s = Instant::now();
        writer.apply(&block).expect("apply");
        busy += s.elapsed();
    }
    let g = generator.join().expect("generator");
    let wall = started.elapsed();
    let state = writer.state().clone();
    assert_eq!(state.next_event, g.next_event, "event numbering");
    let s = Instant::now();
    label_exchanges(&store, &g.l);
    let labelling = s.elapsed();
    // Without a flush every read-only open replays the write-ahead log into memtables
    // (seconds here) and reads then search them.
    let s = Instant::now();
    store.flush().expect("flush");
    let flushing = s.elapsed();
    drop(store);
    let mut composition = g.composition();
    composition.extend([
        ("addresses".into(), state.addresses()),
        ("write_wall_ms".into(), wall.as_millis() as u64),
        ("write_busy_ms".into(), busy.as_millis() as u64),
        ("label_ms".into(), labelling.as_millis() as u64),
        ("flush_ms".into(), flushing.as_millis() as u64),
        ("index_bytes".into(), dir_size(&db)),
    ]);
    let text: String = composition
        .iter()
        .map(|(k, v)| format!("{k} {v}\n"))
        .collect();
    let raw: Vec<u8> = g
        .deposit_events
        .iter()
        .flat_map(|e| e.to_le_bytes())
        .collect();
    std::fs::write(base.join("deposits"), raw).expect("deposits");
    std::fs::write(&done, text).expect("marker");
    Built {
        db,
        layout,
        composition,
        deposit_events: g.deposit_events,
        fresh: true,
    }
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Hot wallets, and every other deposit address, labelled as their exchange.
fn label_exchanges(store: &Store, l: &Layout) {
    let label = |x: u32| Label {
        name: format!("Bench Exchange {x}"),
        category: Category::Exchange,
        raw_category: None,
        abuse: None,
        confidence: 80,
        source: "bench".into(),
        file: "bench".into(),
        is_cluster_definer: true,
        actor: None,
    };
    let target = |a: u32| LabelTarget::EthAddr(EthAddr(address(a).0 .0));
    let mut entries: Vec<(LabelTarget, Label)> = (0..EXCHANGES)
        .map(|x| (target(l.hots + x), label(x)))
        .collect();
    entries.extend(
        (l.deposits..l.users)
            .filter(|d| l.deposit_labelled(*d))
            .map(|d| (target(d), label(l.exchange_of(d)))),
    );
    LabelStore::new(store)
        .import("bench-exchanges", "bench", "", &entries)
        .expect("labels");
}

fn sources(idx: &EthIndex<'_>, l: &Layout) -> Vec<AccountSource> {
    (0..THIEVES)
        .map(|k| AccountSource::Address {
            addr: idx
                .addr_id(&address(l.thieves + k))
                .unwrap()
                .expect("thief indexed"),
            label: TaintLabel(0),
            from: None,
        })
        .collect()
}

fn forward_params(policy: AccountPolicy) -> AccountForwardParams {
    let mut p = AccountForwardParams::new(AccountRules::new(policy));
    p.max_hops = 1_000;
    p
}

fn forward<L: AccountLedger>(
    ledger: &L,
    attrs: &Attributions,
    src: &[AccountSource],
    p: &AccountForwardParams,
) -> AccountTrace {
    trace_forward(ledger, attrs, src, p).expect("trace")
}

/// Deposits to screen: spread evenly over those in the upper half of the history.
fn screen_targets(built: &Built, end: u64, n: usize) -> Vec<EventNum> {
    let upper: Vec<u64> = built
        .deposit_events
        .iter()
        .copied()
        .filter(|e| *e >= end / 2)
        .collect();
    (0..n.min(upper.len()))
        .map(|i| EventNum(upper[i * upper.len() / n.min(upper.len())]))
        .collect()
}

/// The screen's parameters: the engine defaults (6 hops, stop at any label) with tighter hub
/// caps (1,000 points per hop, 1,000 events per account; with the defaults, 100,000 and
/// 10,000, 1,000 screens take over an hour here), overridable.
fn screen_params() -> AccountScreenParams {
    AccountScreenParams {
        max_frontier: env_u64("CHAINTRACE_BENCH_ETH_TRACE_MAX_FRONTIER", 1_000) as usize,
        max_inflows: env_u64("CHAINTRACE_BENCH_ETH_TRACE_MAX_INFLOWS", 1_000) as usize,
        ..AccountScreenParams::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time of this process so far (user + system).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn peak_rss_mib() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_maxrss as f64 / 1024.0
}

/// The ledger calls the engine makes, counted and timed (the instrumentation used instead of
/// editing the engine).
/// Per (address, asset): calls, rows, most rows in one call.
type Walked = FxHashMap<(AddrId, AssetId), (u64, u64, u64)>;

struct Counted<'a, L> {
    inner: &'a L,
    calls: [AtomicU64; 7],
    nanos: [AtomicU64; 7],
    rows: [AtomicU64; 7],
    /// Per (address, asset) walked back: calls, rows, most rows in one call.
    walked: Mutex<Walked>,
}

const CALLS: [&str; 7] = [
    "event",
    "tx_events",
    "history",
    "history_back",
    "assets_of",
    "balance_before",
    "is_contract",
];

impl<'a, L: AccountLedger> Counted<'a, L> {
    fn new(inner: &'a L) -> Self {
        Counted {
            inner,
            calls: Default::default(),
            nanos: Default::default(),
            rows: Default::default(),
            walked: Mutex::default(),
        }
    }

    fn time<R>(&self, i: usize, rows: impl Fn(&R) -> usize, f: impl FnOnce() -> R) -> R {
        let s = Instant::now();
        let r = f();
        self.nanos[i].fetch_add(s.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.calls[i].fetch_add(1, Ordering::Relaxed);
        self.rows[i].fetch_add(rows(&r) as u64, Ordering::Relaxed);
        r
    }

    /// Accounts walked back, the history rows read, and how often the same rows were read.
    fn rereads(&self) -> String {
        let w = self.walked.lock().unwrap();
        let calls: u64 = w.values().map(|v| v.0).sum();
        let rows: u64 = w.values().map(|v| v.1).sum();
        let once: u64 = w.values().map(|v| v.2).sum();
        format!(
            "{} accounts walked back at {} points, {} history rows read, >= {} distinct: each read up to {:.1}x",
            w.len(),
            calls,
            rows,
            once,
            rows as f64 / once.max(1) as f64
        )
    }

    fn print(&self, what: &str, total: Duration) {
        println!(
            "  ledger calls during {what} ({:.3} s in all):",
            total.as_secs_f64()
        );
        let mut sum = 0.0;
        for (i, name) in CALLS.iter().enumerate() {
            let n = self.calls[i].load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let t = self.nanos[i].load(Ordering::Relaxed) as f64 / 1e9;
            sum += t;
            println!(
                "    {name:<15} {n:>10} calls {:>11} rows {t:>8.3} s  {:>6.2} µs/call  {:>5.1} %",
                self.rows[i].load(Ordering::Relaxed),
                t / n as f64 * 1e6,
                t / total.as_secs_f64() * 100.0
            );
        }
        println!(
            "    {:<15} {:>52.3} s  {:>5.1} % (the rest is the engine)",
            "all reads",
            sum,
            sum / total.as_secs_f64() * 100.0
        );
    }
}

fn n_rows<T, E>(r: &Result<Vec<T>, E>) -> usize {
    r.as_ref().map_or(0, Vec::len)
}

impl<L: AccountLedger> AccountLedger for Counted<'_, L> {
    fn event(&self, e: EventNum) -> Result<EventView, TraceError> {
        self.time(0, |_| 1, || self.inner.event(e))
    }
    fn tx_events(&self, tx: TxNum) -> Result<Vec<EventView>, TraceError> {
        self.time(1, n_rows, || self.inner.tx_events(tx))
    }
    fn history(
        &self,
        addr: AddrId,
        asset: AssetId,
        from: EventNum,
        limit: usize,
    ) -> Result<Vec<EventNum>, TraceError> {
        self.time(2, n_rows, || self.inner.history(addr, asset, from, limit))
    }
    fn history_back(
        &self,
        addr: AddrId,
        asset: AssetId,
        before: EventNum,
        limit: usize,
    ) -> Result<Vec<EventNum>, TraceError> {
        let r = self.time(3, n_rows, || {
            self.inner.history_back(addr, asset, before, limit)
        });
        let n = n_rows(&r) as u64;
        let mut w = self.walked.lock().unwrap();
        let e = w.entry((addr, asset)).or_default();
        *e = (e.0 + 1, e.1 + n, e.2.max(n));
        r
    }
    fn assets_of(&self, addr: AddrId) -> Result<Vec<AssetId>, TraceError> {
        self.time(4, n_rows, || self.inner.assets_of(addr))
    }
    fn balance_before(
        &self,
        addr: AddrId,
        asset: AssetId,
        e: EventNum,
    ) -> Result<U256, TraceError> {
        self.time(5, |_| 1, || self.inner.balance_before(addr, asset, e))
    }
    fn is_contract(&self, addr: AddrId) -> Result<bool, TraceError> {
        self.time(6, |_| 1, || self.inner.is_contract(addr))
    }
    fn end(&self) -> EventNum {
        self.inner.end()
    }
}

/// The whole index replayed into the in-memory ledger: the engine's speed without storage.
fn preload(store: &Store) -> MemAccountLedger {
    let idx = EthIndex::new(store);
    let state = idx.state().unwrap().unwrap();
    let mut mem = MemAccountLedger::new();
    let mut contracts = Vec::new();
    let mut next = 0u64;
    for h in 0..=state.tip.unwrap().0 {
        let rec = idx.block(h).unwrap().unwrap();
        mem.block(rec.miner);
        let events = idx
            .events(rec.first_event..rec.first_event + u64::from(rec.event_count))
            .unwrap();
        let mut i = 0;
        while i < events.len() {
            let t = &events[i].1.transfer;
            match t.tx {
                None => {
                    mem.reward(t.to, t.amount);
                    i += 1;
                }
                Some(tx) => {
                    let mut b = mem.tx();
                    while i < events.len() && events[i].1.transfer.tx == Some(tx) {
                        let t = &events[i].1.transfer;
                        b = b.transfer(t.kind, t.asset, t.from, t.to, t.amount);
                        i += 1;
                    }
                }
            }
        }
        next += events.len() as u64;
    }
    assert_eq!(next, state.next_event);
    // Contracts: every address the index marks as one.
    for a in 1..state.next_addr {
        if idx.is_contract(AddrId(a)).unwrap() {
            contracts.push(AddrId(a));
        }
    }
    for c in contracts {
        mem.contract(c);
    }
    mem
}

fn print_composition(built: &Built, spec: Spec) {
    let c = &built.composition;
    let g = |k: &str| get(c, k);
    println!(
        "\nhistory {}: {} addresses, {} blocks, {} txs ({} failed), {} transfers; index {:.0} MiB",
        spec.key(),
        g("addresses"),
        g("blocks"),
        g("txs"),
        g("failed_txs"),
        g("transfers"),
        g("index_bytes") as f64 / (1u64 << 20) as f64
    );
    let kinds: Vec<String> = TransferKind::ALL
        .iter()
        .filter(|k| g(&format!("kind_{k}")) > 0)
        .map(|k| format!("{k} {}", g(&format!("kind_{k}"))))
        .collect();
    println!("  transfers by kind: {}", kinds.join(", "));
    println!(
        "  txs: {} ETH payments, {} token payments, {} routed (pass-through), {} exchange withdrawals, {} deposits, {} sweeps, {} gas top-ups, {} commingler payouts, {} thief actions (theft at block {})",
        g("eth_payments"),
        g("token_payments"),
        g("routed_txs"),
        g("exchange_withdrawals"),
        g("deposits"),
        g("sweeps"),
        g("gas_top_ups"),
        g("commingler_payouts"),
        g("thief_actions"),
        g("theft_block")
    );
    println!(
        "  largest histories (events): hot wallet {}, fee recipient {}, commingler {}, router {}, user {}",
        g("max_events_hot_wallet"),
        g("max_events_fee_recipient"),
        g("max_events_commingler"),
        g("max_events_router"),
        g("max_events_user")
    );
    let (wall, busy) = (g("write_wall_ms"), g("write_busy_ms"));
    println!(
        "  written through EthWriter in {:.1} s wall ({:.0} transfers/s, {:.0} txs/s, {:.0} blocks/s); EthWriter::apply busy {:.1} s ({:.0} transfers/s); labels {:.2} s; final flush {:.2} s",
        wall as f64 / 1e3,
        g("transfers") as f64 / (wall as f64 / 1e3),
        g("txs") as f64 / (wall as f64 / 1e3),
        g("blocks") as f64 / (wall as f64 / 1e3),
        busy as f64 / 1e3,
        g("transfers") as f64 / (busy as f64 / 1e3),
        g("label_ms") as f64 / 1e3,
        g("flush_ms") as f64 / 1e3
    );
    if !built.fresh {
        println!("  (cached index; the numbers above are from the run that wrote it)");
    }
}

fn print_trace(what: &str, t: &AccountTrace, d: Duration) {
    println!(
        "{what}: {} events, {} txs, {} flows, {} holdings, truncated {} in {:.3} s = {:.0} events/s, {:.0} tx/s",
        t.events_processed,
        t.txs_processed,
        t.flows.len(),
        t.holdings.len(),
        t.truncated,
        d.as_secs_f64(),
        t.events_processed as f64 / d.as_secs_f64(),
        t.txs_processed as f64 / d.as_secs_f64()
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args().sample_size(10);
    let spec = Spec::from_env();
    let built = index(spec);
    let opening = Instant::now();
    let store = Store::open(&built.db, OpenMode::ReadOnly).expect("open");
    eprintln!(
        "index opened read-only in {:.2} s",
        opening.elapsed().as_secs_f64()
    );
    let ledger = EthLedger::new(&store).expect("ledger");
    let attrs = load_eth_attributions(&store).expect("labels");
    let src = sources(ledger.index(), &built.layout);
    let list_only = std::env::args().any(|a| a == "--list" || a == "--test");
    if let Ok(what) = std::env::var("CHAINTRACE_BENCH_ETH_TRACE_PROFILE") {
        if what == "report" {
            print_composition(&built, spec);
            report(&store, &ledger, &attrs, &src, &built);
        } else if what == "reads" {
            micro_reads(&store, &ledger);
        } else if let Some(policy) = what.strip_prefix("memory-") {
            // The engine alone, repeatedly, for `perf record`.
            let mem = preload(&store);
            let policy = AccountPolicy::parse(policy).expect("policy");
            for _ in 0..5 {
                let s = Instant::now();
                let t = forward(&mem, &attrs, &src, &forward_params(policy));
                print_trace(&what, &t, s.elapsed());
            }
        } else if what == "forward" {
            report_forward(&ledger, &attrs, &src);
        } else if what == "screens" {
            let n = env_u64("CHAINTRACE_BENCH_ETH_TRACE_SCREENS", 1_000) as usize;
            report_screens(&ledger, &attrs, &screen_targets(&built, ledger.end().0, n));
        } else {
            profile(&what, &ledger, &attrs, &src, &built);
        }
        return;
    }
    let mut group = c.benchmark_group("eth_trace_forward");
    for (name, policy) in [
        ("haircut", AccountPolicy::Haircut),
        ("fifo", AccountPolicy::Fifo),
    ] {
        let p = forward_params(policy);
        let t = forward(&ledger, &attrs, &src, &p);
        let (events, txs) = (t.events_processed, t.txs_processed);
        drop(t);
        group
            .throughput(Throughput::Elements(events))
            .measurement_time(Duration::from_secs(20));
        group.bench_function(format!("{name}_{events}_events_{txs}_txs"), |b| {
            b.iter(|| forward(&ledger, &attrs, &src, &p))
        });
    }
    group.finish();
    c.final_summary();
    if list_only {
        return;
    }
    print_composition(&built, spec);
    report(&store, &ledger, &attrs, &src, &built);
}

fn profile(
    what: &str,
    ledger: &EthLedger<'_>,
    attrs: &Attributions,
    src: &[AccountSource],
    built: &Built,
) {
    if what == "screen-each" {
        // One line per screen: where the time goes case by case.
        let n = env_u64("CHAINTRACE_BENCH_ETH_TRACE_SCREENS", 1_000) as usize;
        let params = screen_params();
        for t in screen_targets(built, ledger.end().0, n) {
            let counted = Counted::new(ledger);
            let s = Instant::now();
            let e =
                screen_account(&counted, attrs, ScreenTarget::Inflow(t), &params).expect("screen");
            let d = s.elapsed();
            let calls: Vec<String> = (0..CALLS.len())
                .map(|i| {
                    format!(
                        "{} {}/{}",
                        CALLS[i],
                        counted.calls[i].load(Ordering::Relaxed),
                        counted.rows[i].load(Ordering::Relaxed)
                    )
                })
                .collect();
            println!(
                "{t}: {:.2} ms, {} events, {} txs, {} origins, truncated {}; {}; {}",
                ms(d),
                e.events_visited,
                e.txs_visited,
                e.origins.len(),
                e.truncated,
                calls.join(", "),
                counted.rereads()
            );
        }
        return;
    }
    for _ in 0..5 {
        let s = Instant::now();
        if what == "screen" {
            let targets = screen_targets(built, ledger.end().0, 1_000);
            let params = screen_params();
            for t in &targets {
                screen_account(ledger, attrs, ScreenTarget::Inflow(*t), &params).expect("screen");
            }
            eprintln!("1,000 screens in {:.3} s", s.elapsed().as_secs_f64());
        } else {
            let policy = if what == "fifo" {
                AccountPolicy::Fifo
            } else {
                AccountPolicy::Haircut
            };
            let t = forward(ledger, attrs, src, &forward_params(policy));
            print_trace(what, &t, s.elapsed());
        }
    }
}

/// Single timed runs, instrumentation, screens and batch scaling (printed after Criterion).
fn report(
    store: &Store,
    ledger: &EthLedger<'_>,
    attrs: &Attributions,
    src: &[AccountSource],
    built: &Built,
) {
    report_forward(ledger, attrs, src);
    let targets = screen_targets(
        built,
        ledger.end().0,
        env_u64("CHAINTRACE_BENCH_ETH_TRACE_SCREENS", 1_000) as usize,
    );
    report_screens(ledger, attrs, &targets);
    println!(
        "peak RSS (store-backed tracing{}): {:.0} MiB",
        if built.fresh {
            ", this run also generated the index"
        } else {
            ""
        },
        peak_rss_mib()
    );
    if env_u64("CHAINTRACE_BENCH_ETH_TRACE_MEMORY", 1) != 0 {
        report_memory(store, attrs, src, &targets);
    }
}

fn report_forward(ledger: &EthLedger<'_>, attrs: &Attributions, src: &[AccountSource]) {
    println!();
    for (name, policy) in [
        ("haircut", AccountPolicy::Haircut),
        ("fifo", AccountPolicy::Fifo),
    ] {
        let p = forward_params(policy);
        let s = Instant::now();
        let t = forward(ledger, attrs, src, &p);
        print_trace(&format!("forward {name}"), &t, s.elapsed());
        let by: std::collections::BTreeMap<String, usize> =
            t.holdings.iter().fold(Default::default(), |mut m, h| {
                *m.entry(format!("{:?}", h.status)).or_default() += 1;
                m
            });
        println!("  holdings by status: {by:?}; conserved {:?}", t.conserved);
        let counted = Counted::new(ledger);
        let s = Instant::now();
        drop(forward(&counted, attrs, src, &p));
        counted.print(&format!("forward {name}"), s.elapsed());
    }
    let mut p = forward_params(AccountPolicy::Haircut);
    p.tip_to_miner = false;
    let s = Instant::now();
    let t = forward(ledger, attrs, src, &p);
    print_trace(
        "forward haircut, tips not followed to the fee recipient",
        &t,
        s.elapsed(),
    );
}

/// What one screen found and cost.
struct Screened {
    latency: Duration,
    events: usize,
    truncated: bool,
    origins: usize,
    /// Origins below 0.01 % of the screened amount, and the share of it they carry.
    tiny: usize,
    tiny_share: f64,
}

fn screen_one<L: AccountLedger>(
    ledger: &L,
    attrs: &Attributions,
    t: EventNum,
    params: &AccountScreenParams,
) -> Screened {
    let s = Instant::now();
    let e = screen_account(ledger, attrs, ScreenTarget::Inflow(t), params).expect("screen");
    let latency = s.elapsed();
    let floor = e.total / U256::from(10_000u64);
    let tiny: Vec<U256> = e
        .origins
        .iter()
        .map(|o| o.amount)
        .filter(|a| *a < floor)
        .collect();
    let tiny_sum = tiny.iter().fold(U256::ZERO, |s, a| s.saturating_add(*a));
    let share = |a: U256| {
        let bps: u64 = (a.saturating_mul(U256::from(1_000_000u64)) / e.total.max(U256::from(1u64)))
            .saturating_to();
        bps as f64 / 1e6
    };
    Screened {
        latency,
        events: e.events_visited,
        truncated: e.truncated,
        origins: e.origins.len(),
        tiny: tiny.len(),
        tiny_share: share(tiny_sum),
    }
}

fn print_screens(what: &str, r: &[Screened]) {
    let mut lat: Vec<Duration> = r.iter().map(|x| x.latency).collect();
    lat.sort();
    let mut ev: Vec<usize> = r.iter().map(|x| x.events).collect();
    ev.sort();
    let slow = r
        .iter()
        .filter(|x| x.latency > Duration::from_millis(10))
        .count();
    println!(
        "{what}, {} deposits: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} over 10 ms; events read p50 {} p90 {} p99 {} max {}; {} truncated",
        r.len(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.9)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap()),
        slow,
        ev[ev.len() / 2],
        ev[(ev.len() - 1) * 9 / 10],
        ev[(ev.len() - 1) * 99 / 100],
        ev.last().unwrap(),
        r.iter().filter(|x| x.truncated).count()
    );
    let origins: usize = r.iter().map(|x| x.origins).sum();
    let tiny: usize = r.iter().map(|x| x.tiny).sum();
    let worst = r.iter().map(|x| x.tiny_share).fold(0.0, f64::max);
    println!(
        "  origins: {origins} in all, {tiny} ({:.1} %) below 0.01 % of their screen's amount, together at most {:.3} % of any screen's amount",
        tiny as f64 / origins.max(1) as f64 * 100.0,
        worst * 100.0
    );
}

fn report_screens(ledger: &EthLedger<'_>, attrs: &Attributions, targets: &[EventNum]) {
    let params = screen_params();
    println!(
        "\nscreens: Inflow(deposit) into exchange deposit addresses, upper half of the history, {} hops, stop at any label, max_frontier {}, max_inflows {}",
        params.max_hops, params.max_frontier, params.max_inflows
    );
    let batch = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (s, cpu) = (Instant::now(), cpu_seconds());
        let r: Vec<Screened> = pool.install(|| {
            targets
                .par_iter()
                .map(|t| screen_one(ledger, attrs, *t, &params))
                .collect()
        });
        (s.elapsed(), cpu_seconds() - cpu, r)
    };
    let (one, cpu1, r) = batch(1);
    print_screens("screen latency (one thread)", &r);
    let (two, cpu2, _) = batch(2);
    println!(
        "batch of {} screens: 1 thread {:.3} s ({:.1} CPU s), 2 threads {:.3} s ({:.1} CPU s), scaling {:.2}x",
        targets.len(),
        one.as_secs_f64(),
        cpu1,
        two.as_secs_f64(),
        cpu2,
        one.as_secs_f64() / two.as_secs_f64()
    );
    let counted = Counted::new(ledger);
    let sample: Vec<EventNum> = targets.iter().step_by(10).copied().collect();
    let s = Instant::now();
    for t in &sample {
        screen_account(&counted, attrs, ScreenTarget::Inflow(*t), &params).expect("screen");
    }
    counted.print(&format!("{} of the screens", sample.len()), s.elapsed());
    println!("    {}", counted.rereads());
    let n = env_u64("CHAINTRACE_BENCH_ETH_TRACE_DEFAULT_SCREENS", 20) as usize;
    if n > 0 && (params.max_frontier, params.max_inflows) != (100_000, 10_000) {
        let d = AccountScreenParams::default();
        let step = targets.len().div_ceil(n).max(1);
        let r: Vec<Screened> = targets
            .iter()
            .step_by(step)
            .map(|t| screen_one(ledger, attrs, *t, &d))
            .collect();
        print_screens(
            &format!(
                "screen latency with the engine's default caps (max_frontier {}, max_inflows {}), every {step}th",
                d.max_frontier, d.max_inflows
            ),
            &r,
        );
    }
}

fn report_memory(store: &Store, attrs: &Attributions, src: &[AccountSource], targets: &[EventNum]) {
    let s = Instant::now();
    let mem = preload(store);
    println!(
        "\nin-memory ledger (MemAccountLedger) loaded in {:.1} s, peak RSS now {:.0} MiB",
        s.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
    for (name, policy) in [
        ("haircut", AccountPolicy::Haircut),
        ("fifo", AccountPolicy::Fifo),
    ] {
        let p = forward_params(policy);
        let s = Instant::now();
        let t = forward(&mem, attrs, src, &p);
        print_trace(
            &format!("forward {name}, in-memory ledger"),
            &t,
            s.elapsed(),
        );
    }
    let params = screen_params();
    let r: Vec<Screened> = targets
        .iter()
        .map(|t| screen_one(&mem, attrs, *t, &params))
        .collect();
    print_screens("screen latency, in-memory ledger", &r);
}

/// Storage reads the engines make, timed one by one against alternatives the index could
/// offer (`CHAINTRACE_BENCH_ETH_TRACE_PROFILE=reads`).
fn micro_reads(store: &Store, ledger: &EthLedger<'_>) {
    let idx = ledger.index();
    let end = ledger.end().0;
    let n = 100_000u64;
    let events: Vec<EventView> = (0..n)
        .map(|i| ledger.event(EventNum(end / 2 + i * (end / 2) / n)).unwrap())
        .collect();
    let pairs: Vec<(AddrId, AssetId, EventNum)> = events
        .iter()
        .filter(|v| !v.transfer.to.is_none())
        .map(|v| (v.transfer.to, v.transfer.asset, v.num))
        .collect();
    let txs: Vec<TxNum> = events.iter().filter_map(|v| v.transfer.tx).collect();
    let run = |what: &str, count: usize, f: &dyn Fn() -> usize| {
        f();
        let s = Instant::now();
        let rows = f();
        let d = s.elapsed();
        println!(
            "{what:<72} {:>7.2} µs/call ({count} calls, {rows} rows)",
            d.as_secs_f64() * 1e6 / count as f64
        );
    };
    run("event(e): point get of eth_events", events.len(), &|| {
        events
            .iter()
            .map(|v| usize::from(idx.event(v.num).is_ok()))
            .sum()
    });
    run(
        "balance_before(to, asset, e): reverse iterator seek in eth_history",
        pairs.len(),
        &|| {
            pairs
                .iter()
                .map(|(a, s, e)| usize::from(!idx.balance_before(*a, *s, *e).unwrap().is_zero()))
                .sum()
        },
    );
    run(
        "get(eth_history, (to, asset, e)): the event's own row, exact key",
        pairs.len(),
        &|| {
            pairs
                .iter()
                .map(|(a, s, e)| {
                    let k = HistoryKey {
                        addr: *a,
                        asset: *s,
                        event: *e,
                    };
                    usize::from(store.get::<EthHistory>(&k).unwrap().is_some())
                })
                .sum()
        },
    );
    run(
        "history(to, asset, e, 256): forward page (iterator, fill_cache off)",
        pairs.len(),
        &|| {
            pairs
                .iter()
                .map(|(a, s, e)| idx.history(*a, *s, *e, 256).unwrap().len())
                .sum()
        },
    );
    run(
        "history(to, asset, e, 8): a short page",
        pairs.len(),
        &|| {
            pairs
                .iter()
                .map(|(a, s, e)| idx.history(*a, *s, *e, 8).unwrap().len())
                .sum()
        },
    );
    run(
        "history_back(to, asset, e, 1000): reverse page",
        pairs.len() / 10,
        &|| {
            pairs
                .iter()
                .step_by(10)
                .map(|(a, s, e)| idx.history_back(*a, *s, *e, 1_000).unwrap().len())
                .sum()
        },
    );
    run(
        "tx_events(tx): tx record get + iterator over its events",
        txs.len(),
        &|| {
            txs.iter()
                .map(|t| ledger.tx_events(*t).unwrap().len())
                .sum()
        },
    );
    run(
        "tx record get + multi_get of its event range (sorted keys)",
        txs.len(),
        &|| {
            txs.iter()
                .map(|t| {
                    let rec = idx.tx(*t).unwrap();
                    let keys: Vec<EventNum> = (rec.first_event
                        ..rec.first_event + u64::from(rec.event_count))
                        .map(EventNum)
                        .collect();
                    store.multi_get::<EthEvents>(&keys).unwrap().len()
                })
                .sum()
        },
    );
    run(
        "8 rows from a history's start: iter_from (fill_cache off)",
        pairs.len(),
        &|| {
            pairs
                .iter()
                .map(|(a, s, _)| {
                    let k = HistoryKey {
                        addr: *a,
                        asset: *s,
                        event: EventNum(0),
                    };
                    store.iter_from::<EthHistory>(Some(&k)).take(8).count()
                })
                .sum()
        },
    );
    run(
        "8 rows from a history's start: iter_prefix (fill_cache on)",
        pairs.len(),
        &|| {
            pairs
                .iter()
                .map(|(a, s, _)| {
                    store
                        .iter_prefix::<EthHistory>(HistoryKey::prefix(*a, *s))
                        .take(8)
                        .count()
                })
                .sum()
        },
    );
    run("tx(tx): the tx record alone", txs.len(), &|| {
        txs.iter().map(|t| usize::from(idx.tx(*t).is_ok())).sum()
    });
}
