//! Mixed background traffic for benchmarks: thousands of blocks of ordinary activity on top of
//! the scenario's contracts, deterministic like the rest of the chain.
//!
//! Every block holds `min_txs..=max_txs` transactions drawn from a seeded generator:
//!
//! | kind | share | what it adds to the index |
//! |---|---|---|
//! | plain ETH transfer | ~50 % | one tx-value transfer |
//! | ERC-20 `transfer` (CUSD) | ~20 % | one token transfer (`Transfer` log) |
//! | `Splitter.split` to 2–5 recipients | ~12 % | tx value to the Splitter + one internal transfer per recipient |
//! | pool deposit (1 ETH) | ~7 % | tx value to the pool |
//! | pool withdrawal (relayed or not) | ~5 % | one or two internal transfers |
//! | `Reverter.attempt` | ~2 % | tx value + internal transfers, one of them in a reverted frame |
//! | failed tx (wrong pool deposit or token overdraft) | ~4 % | gas only (status 0) |
//!
//! Senders are `accounts` fixed addresses `0xbe4c…<i>`, funded with `anvil_setBalance`,
//! impersonated, and given CUSD by mints in a few setup blocks before the traffic starts.
//! About a third of the recipients are fresh addresses (`0xbe4d…`, derived from a counter), so
//! the address tables grow as they do on a real chain. Each block is submitted transaction by
//! transaction and then mined with one `evm_mine` stamped `parent + block_time`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::anvil::{Address, Anvil, Result, TxRequest, ETHER, GWEI};
use crate::rng::Rng;

use super::abi::{self, Arg, Artifact};
use super::cast::USD;
use super::manifest::Contracts;
use super::play::scenario_err;

const GAS_TOKEN: u64 = 80_000;
const GAS_SPLIT: u64 = 250_000;
const GAS_DEPOSIT: u64 = 100_000;
const GAS_WITHDRAW: u64 = 150_000;
const GAS_REVERTER: u64 = 150_000;
const GAS_MINT: u64 = 100_000;
/// Mints per setup block.
const MINTS_PER_BLOCK: usize = 50;

/// ETH each traffic account starts with.
pub const ACCOUNT_BALANCE: u128 = 100_000 * ETHER;
/// CUSD (base units) minted to each traffic account.
pub const ACCOUNT_TOKENS: u128 = 10_000_000 * USD;

/// What to generate.
#[derive(Clone, Debug)]
pub struct TrafficSpec {
    pub seed: u64,
    /// Traffic blocks (after the setup blocks).
    pub blocks: u64,
    pub min_txs: u32,
    pub max_txs: u32,
    /// Funded sender accounts (at most 65,535).
    pub accounts: u16,
}

impl Default for TrafficSpec {
    fn default() -> Self {
        TrafficSpec {
            seed: 0x7aff_1c00,
            blocks: 3_000,
            min_txs: 4,
            max_txs: 12,
            accounts: 256,
        }
    }
}

/// What was generated, counted as the generator intended it (the node's receipts are not read
/// back, to keep generation fast; an ingest of the range checks the transaction count).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrafficSummary {
    /// First setup block (the mints).
    pub first_block: u64,
    /// First traffic block.
    pub first_traffic_block: u64,
    pub last_block: u64,
    pub setup_blocks: u64,
    pub traffic_blocks: u64,
    /// Transactions in setup and traffic blocks.
    pub txs: u64,
    pub mints: u64,
    pub eth_transfers: u64,
    pub token_transfers: u64,
    pub splits: u64,
    /// Internal transfers of successful Splitter calls (one per recipient).
    pub split_outputs: u64,
    pub deposits: u64,
    pub withdrawals: u64,
    /// Internal transfers of withdrawals (recipient, plus relayer when relayed).
    pub withdrawal_payouts: u64,
    pub reverter_calls: u64,
    /// Transactions with receipt status 0.
    pub failed: u64,
    /// Fresh recipient addresses (never funded by `anvil_setBalance`).
    pub fresh_addresses: u64,
    /// Wall time spent submitting transactions (`eth_sendTransaction`) and mining blocks.
    pub submit_time: Duration,
    pub mine_time: Duration,
}

impl TrafficSummary {
    /// Value transfers (excluding gas) the traffic should produce: tx values, internal
    /// transfers (Reverter: the successful payment only) and token transfers (mints included).
    pub fn value_transfers(&self) -> u64 {
        self.eth_transfers
            + self.token_transfers
            + self.mints
            + self.splits
            + self.split_outputs
            + self.deposits
            + self.withdrawal_payouts
            + 2 * self.reverter_calls
    }
}

/// The traffic account `i` (1-based).
pub fn account(i: u16) -> Address {
    Address::tagged(0xbe4c, i)
}

/// Fresh recipient number `n`: `0xbe4d` + `n` big-endian in the last 8 bytes.
pub fn fresh_address(n: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0xbe;
    bytes[1] = 0x4d;
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    Address(bytes)
}

struct Abis {
    token: Artifact,
    splitter: Artifact,
    pool: Artifact,
    reverter: Artifact,
}

struct Gen<'a> {
    anvil: &'a Anvil,
    c: &'a Contracts,
    abi: Abis,
    rng: Rng,
    accounts: Vec<Address>,
    timestamp: u64,
    /// Our unspent pool notes (commitment numbers), oldest first.
    notes: Vec<u64>,
    next_note: u64,
    next_nullifier: u64,
    next_fresh: u64,
    sum: TrafficSummary,
}

/// Generates traffic on `anvil` after whatever it already holds; `contracts` are the
/// scenario's (see [`super::run`]), which must have been played on this node.
pub fn generate(
    anvil: &Anvil,
    contracts: &Contracts,
    spec: &TrafficSpec,
) -> Result<TrafficSummary> {
    if spec.min_txs == 0 || spec.min_txs > spec.max_txs || spec.accounts < 2 {
        return Err(scenario_err(
            "traffic",
            format!(
                "bad spec: {}..={} txs per block, {} accounts",
                spec.min_txs, spec.max_txs, spec.accounts
            ),
        ));
    }
    let tip = anvil.block(None)?;
    let mut g = Gen {
        anvil,
        c: contracts,
        abi: Abis {
            token: Artifact::parse(abi::TOKEN_JSON)?,
            splitter: Artifact::parse(abi::SPLITTER_JSON)?,
            pool: Artifact::parse(abi::MIXER_POOL_JSON)?,
            reverter: Artifact::parse(abi::REVERTER_JSON)?,
        },
        rng: Rng::new(spec.seed),
        accounts: (1..=spec.accounts).map(account).collect(),
        timestamp: tip.timestamp,
        notes: Vec::new(),
        next_note: 1,
        next_nullifier: 1,
        next_fresh: 1,
        sum: TrafficSummary {
            first_block: tip.number + 1,
            ..TrafficSummary::default()
        },
    };
    g.setup()?;
    g.sum.first_traffic_block = g.sum.first_block + g.sum.setup_blocks;
    for _ in 0..spec.blocks {
        let n = g
            .rng
            .range(u64::from(spec.min_txs), u64::from(spec.max_txs));
        for _ in 0..n {
            g.one_tx()?;
        }
        g.mine()?;
        g.sum.traffic_blocks += 1;
    }
    g.sum.last_block = g.sum.first_traffic_block + g.sum.traffic_blocks - 1;
    g.sum.fresh_addresses = g.next_fresh - 1;
    g.check_done()?;
    Ok(g.sum)
}

impl Gen<'_> {
    /// Funds and impersonates the accounts; mints them CUSD, [`MINTS_PER_BLOCK`] per block.
    fn setup(&mut self) -> Result<()> {
        let deployer = self.c.deployer;
        self.anvil.set_balance(deployer, ACCOUNT_BALANCE)?;
        self.anvil.impersonate(deployer)?;
        for a in &self.accounts {
            self.anvil.set_balance(*a, ACCOUNT_BALANCE)?;
            self.anvil.impersonate(*a)?;
        }
        let accounts = self.accounts.clone();
        for chunk in accounts.chunks(MINTS_PER_BLOCK) {
            for to in chunk {
                let data = self.abi.token.calldata(
                    "mint(address,uint256)",
                    &[Arg::Address(*to), Arg::Uint(ACCOUNT_TOKENS)],
                )?;
                self.submit(TxRequest::call(
                    deployer,
                    self.c.token.address,
                    data,
                    GAS_MINT,
                ))?;
                self.sum.mints += 1;
            }
            self.mine()?;
            self.sum.setup_blocks += 1;
        }
        Ok(())
    }

    fn submit(&mut self, tx: TxRequest) -> Result<()> {
        let started = Instant::now();
        self.anvil.submit(&tx)?;
        self.sum.submit_time += started.elapsed();
        self.sum.txs += 1;
        Ok(())
    }

    fn mine(&mut self) -> Result<()> {
        let started = Instant::now();
        self.timestamp += self.anvil.block_time().max(1);
        self.anvil
            .rpc("evm_mine", json!([{ "timestamp": self.timestamp }]))?;
        self.sum.mine_time += started.elapsed();
        Ok(())
    }

    /// An account other than `not`.
    fn pick(&mut self, not: Option<Address>) -> Address {
        loop {
            let a = self.accounts[self.rng.index(self.accounts.len())];
            if Some(a) != not {
                return a;
            }
        }
    }

    /// A recipient: a fresh address one time in three, else another account.
    fn recipient(&mut self, from: Address) -> Address {
        if self.rng.chance(333) {
            let a = fresh_address(self.next_fresh);
            self.next_fresh += 1;
            a
        } else {
            self.pick(Some(from))
        }
    }

    /// Each account has its own tip (1.0–3.55 gwei), as real wallets do.
    fn tip(from: Address) -> u128 {
        GWEI + u128::from(from.0[19]) * GWEI / 100
    }

    fn call(&self, from: Address, to: Address, data: Vec<u8>, gas: u64) -> TxRequest {
        TxRequest::call(from, to, data, gas).with_tip(Self::tip(from))
    }

    fn one_tx(&mut self) -> Result<()> {
        let roll = self.rng.below(1000);
        match roll {
            0..500 => self.eth_transfer(),
            500..700 => self.token_transfer(),
            700..820 => self.split(),
            820..890 => self.deposit(),
            890..940 if !self.notes.is_empty() => self.withdraw(),
            890..940 => self.deposit(),
            940..960 => self.reverter(),
            _ => self.failing(),
        }
    }

    fn eth_transfer(&mut self) -> Result<()> {
        let from = self.pick(None);
        let to = self.recipient(from);
        let value = u128::from(self.rng.range(1, 2_000)) * ETHER / 1_000;
        self.submit(TxRequest::transfer(from, to, value).with_tip(Self::tip(from)))?;
        self.sum.eth_transfers += 1;
        Ok(())
    }

    fn token_transfer(&mut self) -> Result<()> {
        let from = self.pick(None);
        let to = self.recipient(from);
        let amount = u128::from(self.rng.range(1, 1_000_000)) * USD / 100;
        let data = self.abi.token.calldata(
            "transfer(address,uint256)",
            &[Arg::Address(to), Arg::Uint(amount)],
        )?;
        let tx = self.call(from, self.c.token.address, data, GAS_TOKEN);
        self.submit(tx)?;
        self.sum.token_transfers += 1;
        Ok(())
    }

    fn split(&mut self) -> Result<()> {
        let from = self.pick(None);
        let n = self.rng.range(2, 5) as usize;
        let to: Vec<Address> = (0..n).map(|_| self.recipient(from)).collect();
        let amounts: Vec<u128> = (0..n)
            .map(|_| u128::from(self.rng.range(1, 1_000)) * ETHER / 1_000)
            .collect();
        let total: u128 = amounts.iter().sum();
        let data = self.abi.splitter.calldata(
            "split(address[],uint256[])",
            &[Arg::Addresses(to), Arg::Uints(amounts)],
        )?;
        let tx = self
            .call(from, self.c.splitter, data, GAS_SPLIT)
            .with_value(total);
        self.submit(tx)?;
        self.sum.splits += 1;
        self.sum.split_outputs += n as u64;
        Ok(())
    }

    fn commitment(n: u64) -> [u8; 32] {
        Rng::derive(0xbe4c_0000, n).bytes()
    }

    fn deposit(&mut self) -> Result<()> {
        let from = self.pick(None);
        let note = self.next_note;
        self.next_note += 1;
        let data = self
            .abi
            .pool
            .calldata("deposit(bytes32)", &[Arg::Word(Self::commitment(note))])?;
        let tx = self
            .call(from, self.c.mixer_pool.address, data, GAS_DEPOSIT)
            .with_value(self.c.mixer_pool.denomination_wei);
        self.submit(tx)?;
        self.notes.push(note);
        self.sum.deposits += 1;
        Ok(())
    }

    /// Withdraws a random unspent note: relayed (fee to the relayer) two times in three.
    fn withdraw(&mut self) -> Result<()> {
        let note = self.notes.swap_remove(self.rng.index(self.notes.len()));
        let recipient = self.recipient(Address::ZERO);
        let relayed = self.rng.chance(667);
        let (sender, relayer, fee) = if relayed {
            let relayer = self.pick(Some(recipient));
            (relayer, relayer, self.c.mixer_pool.denomination_wei / 100)
        } else if self.accounts.contains(&recipient) {
            (recipient, Address::ZERO, 0)
        } else {
            // A fresh address has no gas: an account sends it, unpaid.
            (self.pick(None), Address::ZERO, 0)
        };
        let nullifier = Rng::derive(0xbe4c_4a00, self.next_nullifier).bytes();
        self.next_nullifier += 1;
        let mut proof = vec![0u8; 256];
        Rng::derive(0xbe4c_9f00, note).fill(&mut proof);
        let data = self.abi.pool.calldata(
            "withdraw(bytes,bytes32,bytes32,address,address,uint256,uint256)",
            &[
                Arg::Bytes(proof),
                Arg::Word(Self::commitment(note)),
                Arg::Word(nullifier),
                Arg::Address(recipient),
                Arg::Address(relayer),
                Arg::Uint(fee),
                Arg::Uint(0),
            ],
        )?;
        let tx = self.call(sender, self.c.mixer_pool.address, data, GAS_WITHDRAW);
        self.submit(tx)?;
        self.sum.withdrawals += 1;
        self.sum.withdrawal_payouts += if fee > 0 { 2 } else { 1 };
        Ok(())
    }

    fn reverter(&mut self) -> Result<()> {
        let from = self.pick(None);
        let decoy = self.recipient(from);
        let to = self.recipient(from);
        let value = u128::from(self.rng.range(1, 100)) * ETHER / 100;
        let data = self.abi.reverter.calldata(
            "attempt(address,address)",
            &[Arg::Address(decoy), Arg::Address(to)],
        )?;
        let tx = self
            .call(from, self.c.reverter, data, GAS_REVERTER)
            .with_value(value);
        self.submit(tx)?;
        self.sum.reverter_calls += 1;
        Ok(())
    }

    /// A transaction that fails: a pool deposit of the wrong amount, or a token transfer of
    /// more than the sender holds.
    fn failing(&mut self) -> Result<()> {
        let from = self.pick(None);
        let tx = if self.rng.chance(500) {
            let data = self
                .abi
                .pool
                .calldata("deposit(bytes32)", &[Arg::Word(Self::commitment(0))])?;
            let value = self.c.mixer_pool.denomination_wei * 3 / 2;
            self.call(from, self.c.mixer_pool.address, data, GAS_DEPOSIT)
                .with_value(value)
        } else {
            let to = self.recipient(from);
            let data = self.abi.token.calldata(
                "transfer(address,uint256)",
                &[Arg::Address(to), Arg::Uint(ACCOUNT_TOKENS * 1_000)],
            )?;
            self.call(from, self.c.token.address, data, GAS_TOKEN)
        };
        self.submit(tx)?;
        self.sum.failed += 1;
        Ok(())
    }

    /// Every submitted transaction was mined: the mempool is empty and the tip is where the
    /// block count says.
    fn check_done(&self) -> Result<()> {
        let tip = self.anvil.block_number()?;
        if tip != self.sum.last_block {
            return Err(scenario_err(
                "traffic",
                format!("tip is {tip}, expected {}", self.sum.last_block),
            ));
        }
        let status = self.anvil.rpc("txpool_status", json!([]))?;
        let pending = crate::anvil::parse_u64(&status["pending"], "txpool_status pending")?;
        let queued = crate::anvil::parse_u64(&status["queued"], "txpool_status queued")?;
        if pending + queued > 0 {
            return Err(scenario_err(
                "traffic",
                format!("{pending} transactions pending and {queued} queued after the last block"),
            ));
        }
        Ok(())
    }
}
