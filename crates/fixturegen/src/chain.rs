//! The chain generator: regtest genesis, then blocks of wallet traffic, plus stale forks.

use std::collections::VecDeque;

use bitcoin::{Block, BlockHash, OutPoint, Transaction};

use crate::block::{assemble, block_time, coinbase, regtest_genesis, subsidy};
use crate::economy::Economy;
use crate::keys::{KeyFactory, KEY_NAMESPACE_SHIFT};
use crate::rng::Rng;
use crate::scripts::{script_pubkey, ScriptKind};
use crate::txbuild::{BuiltTx, Coin};

/// Wallets that receive coinbase payouts; the rest only ever receive payments.
const MINERS: u32 = 8;

const STALE_SALT: u64 = 0x57a1e;

/// Key namespace of stale-block coinbases, far from any branch the active chain can use.
const STALE_KEY_NAMESPACE: u64 = 0xffff;

/// What chain to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    /// Everything (keys, amounts, shapes, nonces) derives from this seed.
    pub seed: u64,
    /// Height of the active tip: the active chain holds `blocks + 1` blocks, genesis included.
    pub blocks: u32,
    /// Mean number of non-coinbase transactions per block; each block draws uniformly from
    /// `mean - mean/2 ..= mean + mean/2`. Blocks below height 101 hold only their coinbase,
    /// because nothing is spendable until the first coinbase matures.
    pub txs_per_block: u32,
    /// Number of stale forks (1 to 3 blocks each) branching off the active chain.
    pub stale_branches: u32,
    /// Number of simulated wallets; the first eight also mine.
    pub wallets: u32,
}

impl ChainSpec {
    pub fn new(seed: u64, blocks: u32, txs_per_block: u32) -> Self {
        ChainSpec {
            seed,
            blocks,
            txs_per_block,
            ..ChainSpec::default()
        }
    }
}

impl Default for ChainSpec {
    fn default() -> Self {
        ChainSpec {
            seed: 1,
            blocks: 300,
            txs_per_block: 20,
            stale_branches: 3,
            wallets: 500,
        }
    }
}

/// One block as produced, in arrival order: genesis first, then each active block followed by
/// the stale blocks that compete with it.
#[derive(Clone, Debug)]
pub struct GeneratedBlock {
    pub block: Block,
    pub height: u32,
    /// True for blocks that are not on the final active chain.
    pub stale: bool,
}

/// Transactions chosen for the block being built.
pub(crate) struct BlockDraft {
    pub(crate) height: u32,
    pub(crate) txs: Vec<BuiltTx>,
}

#[derive(Clone, Debug)]
struct StaleBranch {
    fork_height: u32,
    remaining: u32,
    parent: BlockHash,
}

/// Stale forks draw from their own random stream and key namespace, so adding or removing them
/// never changes the active chain.
#[derive(Clone, Debug)]
struct StaleForks {
    /// `(fork height, length)`, sorted descending so the next fork is at the end.
    plans: Vec<(u32, u32)>,
    live: Vec<StaleBranch>,
    rng: Rng,
    keys: KeyFactory,
    next_key: u64,
}

/// Streams a chain block by block; memory is bounded by the live UTXO set.
#[derive(Clone, Debug)]
pub struct ChainGenerator {
    spec: ChainSpec,
    econ: Economy,
    next_height: u32,
    tip: BlockHash,
    extra_nonce: u64,
    stale: StaleForks,
    queue: VecDeque<GeneratedBlock>,
}

/// Starts generating the chain described by `spec`; see [`ChainGenerator`].
pub fn generate_chain(spec: &ChainSpec) -> ChainGenerator {
    ChainGenerator::new(spec)
}

impl ChainGenerator {
    pub fn new(spec: &ChainSpec) -> Self {
        let mut rng = Rng::derive(spec.seed, STALE_SALT);
        let mut plans = Vec::new();
        for _ in 0..spec.stale_branches {
            let len = rng.range(1, 3) as u32;
            if spec.blocks > len {
                let fork = rng.range(1, u64::from(spec.blocks - len)) as u32;
                plans.push((fork, len));
            }
        }
        plans.sort_unstable_by(|a, b| b.cmp(a));
        let stale = StaleForks {
            plans,
            live: Vec::new(),
            rng,
            keys: KeyFactory::new(spec.seed),
            next_key: STALE_KEY_NAMESPACE << KEY_NAMESPACE_SHIFT,
        };
        ChainGenerator {
            spec: spec.clone(),
            econ: Economy::new(spec.seed, spec.wallets, MINERS),
            next_height: 0,
            tip: BlockHash::from_raw_hash(bitcoin::hashes::Hash::all_zeros()),
            extra_nonce: 0,
            stale,
            queue: VecDeque::new(),
        }
    }

    /// Number of coins the wallet model currently tracks (spendable and maturing).
    pub fn live_utxos(&self) -> usize {
        self.econ.utxo_count()
    }

    /// Height the next active block will have.
    pub(crate) fn next_height(&self) -> u32 {
        self.next_height
    }

    pub(crate) fn tip(&self) -> BlockHash {
        self.tip
    }

    /// Adds a stale fork of `len` blocks whose first block competes with active `fork_height`.
    pub(crate) fn plan_stale(&mut self, fork_height: u32, len: u32) {
        self.stale.plans.push((fork_height, len));
        self.stale.plans.sort_unstable_by(|a, b| b.cmp(a));
    }

    /// Turns this copy into a competing branch: different traffic, keys and coinbases from now
    /// on, the same spendable coins.
    pub(crate) fn diverge(&mut self, salt: u64) {
        self.econ.diverge(salt);
        self.extra_nonce = salt << 32;
        self.stale.plans.clear();
        self.stale.live.clear();
    }

    pub(crate) fn force_spend(&mut self, outpoint: OutPoint) {
        self.econ.force_spend(outpoint);
    }

    /// Produces the next active block. `script` may add transactions first (scenarios); the
    /// block is then topped up with background traffic. Returns the active block followed by
    /// any stale blocks competing at the same height.
    pub(crate) fn step_with<F>(&mut self, script: F) -> Vec<GeneratedBlock>
    where
        F: FnOnce(&mut Economy, &mut BlockDraft),
    {
        if self.next_height == 0 {
            let genesis = regtest_genesis();
            self.tip = genesis.block_hash();
            self.next_height = 1;
            return vec![GeneratedBlock {
                block: genesis,
                height: 0,
                stale: false,
            }];
        }
        let height = self.next_height;
        self.econ.release_matured(height);
        let mut draft = BlockDraft {
            height,
            txs: Vec::new(),
        };
        script(&mut self.econ, &mut draft);
        for _ in 0..self.sample_tx_count() {
            match self.econ.random_tx(height) {
                Some(tx) => draft.txs.push(tx),
                None => break,
            }
        }
        let parent = self.tip;
        let stale_blocks = self.stale_blocks(height, parent, &draft.txs);
        let active = self.seal_active(height, parent, draft.txs);
        self.tip = active.block_hash();
        self.next_height += 1;
        let mut out = Vec::with_capacity(1 + stale_blocks.len());
        out.push(GeneratedBlock {
            block: active,
            height,
            stale: false,
        });
        out.extend(stale_blocks);
        out
    }

    fn sample_tx_count(&mut self) -> u32 {
        let mean = u64::from(self.spec.txs_per_block);
        self.econ.rng.range(mean - mean / 2, mean + mean / 2) as u32
    }

    fn seal_active(&mut self, height: u32, parent: BlockHash, txs: Vec<BuiltTx>) -> Block {
        let fees: u64 = txs.iter().map(|t| t.fee).sum();
        let (wallet, kind, key_id, payout) = self.econ.next_miner();
        let value = subsidy(height) + fees;
        self.extra_nonce += 1;
        let cb = coinbase(height, self.extra_nonce, payout, value);
        let time = block_time(height, self.econ.rng.below(600) as u32);
        let block = assemble(parent, time, cb, txs.into_iter().map(|t| t.tx).collect());
        let outpoint = OutPoint {
            txid: block.txdata[0].compute_txid(),
            vout: 0,
        };
        self.econ.credit_coinbase(
            wallet,
            Coin {
                outpoint,
                value,
                kind,
                key_id,
                height,
            },
        );
        block
    }

    fn stale_blocks(
        &mut self,
        height: u32,
        active_parent: BlockHash,
        txs: &[BuiltTx],
    ) -> Vec<GeneratedBlock> {
        let stale = &mut self.stale;
        while let Some(&(fork, len)) = stale.plans.last() {
            if fork > height {
                break;
            }
            stale.plans.pop();
            if fork == height && len > 0 {
                let branch = StaleBranch {
                    fork_height: height,
                    remaining: len,
                    parent: active_parent,
                };
                stale.live.push(branch);
            }
        }
        let mut out = Vec::new();
        for i in 0..stale.live.len() {
            let fork_height = stale.live[i].fork_height;
            let copied: Vec<&BuiltTx> = txs
                .iter()
                .filter(|t| t.newest_input_height < fork_height && stale.rng.chance(700))
                .collect();
            let block = stale.build(height, stale.live[i].parent, &copied);
            stale.live[i].parent = block.block_hash();
            stale.live[i].remaining -= 1;
            out.push(GeneratedBlock {
                block,
                height,
                stale: true,
            });
        }
        stale.live.retain(|b| b.remaining > 0);
        out
    }
}

impl StaleForks {
    /// A competing block: another miner, a subset of the competitor's transactions (those whose
    /// inputs predate the fork, so they are valid on this branch too).
    fn build(&mut self, height: u32, parent: BlockHash, txs: &[&BuiltTx]) -> Block {
        let fees: u64 = txs.iter().map(|t| t.fee).sum();
        self.next_key += 1;
        let payout = script_pubkey(&self.keys, ScriptKind::P2wpkh, self.next_key);
        let cb = coinbase(height, self.rng.next_u64(), payout, subsidy(height) + fees);
        let time = block_time(height, self.rng.below(600) as u32);
        let body: Vec<Transaction> = txs.iter().map(|t| t.tx.clone()).collect();
        assemble(parent, time, cb, body)
    }
}

impl Iterator for ChainGenerator {
    type Item = GeneratedBlock;

    fn next(&mut self) -> Option<GeneratedBlock> {
        if let Some(block) = self.queue.pop_front() {
            return Some(block);
        }
        if self.next_height > self.spec.blocks {
            return None;
        }
        let produced = self.step_with(|_, _| {});
        self.queue.extend(produced);
        self.queue.pop_front()
    }
}
