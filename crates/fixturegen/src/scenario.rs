//! What the scripted Bitcoin scenarios ([`crate::heist`], [`crate::mixers`]) share: story
//! addresses, running a story block by block over background traffic, writing the blocks with
//! their manifest and TagPack, and the bookkeeping every episode of a story does (paying from
//! background wallets, building and queueing story transactions, sweeping coins into deposit
//! addresses, recording deposits).
//!
//! Invariants: the only random draw made here is [`Scenario::pay_from_background`]'s fee rate,
//! from the story's own stream; everything else is a pure function of its inputs, so a story
//! replays to byte-identical blocks.

use std::fs;
use std::io;
use std::path::Path;

use bitcoin::{Address, BlockHash, Network, OutPoint, ScriptBuf, TxOut};
use serde::Serialize;

use crate::blkfile::{BlkWriter, BlkWriterOptions};
use crate::chain::{BlockDraft, ChainGenerator, ChainSpec, GeneratedBlock};
use crate::economy::Economy;
use crate::heist::{ChainFacts, Deposit, OutputRef};
use crate::keys::{KeyFactory, KEY_NAMESPACE_SHIFT};
use crate::rng::Rng;
use crate::scripts::{p2pk_key_hash, script_pubkey, ScriptKind};
use crate::txbuild::{fee_bound, total_value, tx_out, BuiltTx, Coin, DUST};
use crate::ChainSummary;

pub(crate) const BTC: u64 = 100_000_000;

/// Deposits that fill an exchange's hot wallet before its theft (cycled).
pub(crate) const CUSTOMER_DEPOSITS: [u64; 8] = [
    250 * BTC / 100,
    3 * BTC,
    4 * BTC,
    5 * BTC,
    2 * BTC,
    6 * BTC,
    350 * BTC / 100,
    150 * BTC / 100,
];

/// What innocent customers deposit at the receiving exchanges (cycled).
pub(crate) const INNOCENT_AMOUNTS: [u64; 7] = [
    25 * BTC / 100,
    BTC,
    50 * BTC / 100,
    2 * BTC,
    75 * BTC / 100,
    150 * BTC / 100,
    3 * BTC,
];

/// An exchange's ordinary business, scheduled alike in every scenario: customers fill the
/// victim's hot wallet one block after another, the hot wallet pays a few withdrawals, and
/// innocent customers deposit at the receiving exchanges every few blocks.
pub(crate) struct Routine {
    pub(crate) customer_deposits: std::ops::RangeInclusive<u32>,
    /// `(height, amount)` of each withdrawal.
    pub(crate) withdrawals: &'static [(u32, u64)],
    pub(crate) innocent_first: u32,
    pub(crate) innocent_every: u32,
    pub(crate) innocent_count: u32,
}

/// One piece of [`Routine`] business, numbered from 0 within its kind.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Business {
    CustomerDeposit(usize),
    InnocentDeposit(usize),
    Withdrawal(usize),
}

impl Routine {
    /// What business happens at `height`, in block order.
    pub(crate) fn at(&self, height: u32) -> Vec<Business> {
        let mut business = Vec::new();
        if self.customer_deposits.contains(&height) {
            let i = height - self.customer_deposits.start();
            business.push(Business::CustomerDeposit(i as usize));
        }
        let (first, every) = (self.innocent_first, self.innocent_every);
        if height >= first && (height - first).is_multiple_of(every) {
            let k = (height - first) / every;
            if k < self.innocent_count {
                business.push(Business::InnocentDeposit(k as usize));
            }
        }
        if let Some(i) = self.withdrawals.iter().position(|(h, _)| *h == height) {
            business.push(Business::Withdrawal(i));
        }
        business
    }
}

/// An address the story controls.
#[derive(Clone, Debug)]
pub(crate) struct Addr {
    pub(crate) kind: ScriptKind,
    pub(crate) key_id: u64,
    pub(crate) script: ScriptBuf,
    pub(crate) address: String,
}

/// Mints story addresses from consecutive key ids (scenarios start it in their own namespace).
pub(crate) struct Minter {
    pub(crate) keys: KeyFactory,
    pub(crate) next: u64,
}

impl Minter {
    /// A story's minter: key ids from the start of its own `namespace`, which background
    /// traffic never reaches.
    pub(crate) fn story(keys: &KeyFactory, namespace: u64) -> Minter {
        Minter {
            keys: keys.clone(),
            next: namespace << KEY_NAMESPACE_SHIFT,
        }
    }

    pub(crate) fn mint(&mut self, kind: ScriptKind) -> Addr {
        self.next += 1;
        let key_id = self.next;
        let script = script_pubkey(&self.keys, kind, key_id);
        let address = address_string(&self.keys, kind, key_id, &script);
        Addr {
            kind,
            key_id,
            script,
            address,
        }
    }

    pub(crate) fn mint_n(&mut self, kind: ScriptKind, n: usize) -> Vec<Addr> {
        (0..n).map(|_| self.mint(kind)).collect()
    }
}

pub(crate) fn address_string(
    keys: &KeyFactory,
    kind: ScriptKind,
    key_id: u64,
    script: &ScriptBuf,
) -> String {
    if let Some(hash) = p2pk_key_hash(keys, kind, key_id) {
        return Address::p2pkh(hash, Network::Regtest).to_string();
    }
    Address::from_script(script, Network::Regtest)
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// The shape of a scenario's chain: background traffic and the heights stale forks compete at.
pub(crate) struct Plan {
    /// Names the scenario in error messages.
    pub(crate) name: &'static str,
    pub(crate) seed: u64,
    pub(crate) tip_height: u32,
    pub(crate) txs_per_block: u32,
    pub(crate) wallets: u32,
    /// `(fork height, length)` of each stale branch.
    pub(crate) stale_forks: &'static [(u32, u32)],
}

/// What a story episode returns: `Err` says what was missing or could not be paid.
pub(crate) type Step = Result<(), String>;

pub(crate) fn missing(what: &str) -> String {
    format!("{what} is not available yet")
}

/// Generates `plan`'s chain, letting `play` add the story's transactions to each block.
/// Returns the blocks in arrival order (stale ones included) and the active tip.
pub(crate) fn generate<F>(plan: &Plan, mut play: F) -> io::Result<(Vec<GeneratedBlock>, BlockHash)>
where
    F: FnMut(u32, &mut Economy, &mut BlockDraft) -> Step,
{
    let spec = ChainSpec {
        seed: plan.seed,
        blocks: plan.tip_height,
        txs_per_block: plan.txs_per_block,
        stale_branches: 0,
        wallets: plan.wallets,
    };
    let mut gen = ChainGenerator::new(&spec);
    for &(fork, len) in plan.stale_forks {
        gen.plan_stale(fork, len);
    }
    let mut blocks = Vec::new();
    while gen.next_height() <= plan.tip_height {
        let height = gen.next_height();
        let mut outcome = Ok(());
        blocks.extend(gen.step_with(|econ, draft| outcome = play(height, econ, draft)));
        outcome.map_err(|what| {
            io::Error::other(format!(
                "{} scenario failed at height {height}: {what}",
                plan.name
            ))
        })?;
    }
    Ok((blocks, gen.tip()))
}

/// Writes a scenario: blk files in `dir/blocks/`, the manifest in `dir/{name}.json` and the
/// TagPack in `dir/{name}.tagpack.yaml`.
pub(crate) fn write(
    dir: &Path,
    opts: &BlkWriterOptions,
    name: &str,
    blocks: &[GeneratedBlock],
    manifest: &impl Serialize,
    tagpack: String,
) -> io::Result<()> {
    let mut writer = BlkWriter::create(&dir.join("blocks"), opts)?;
    for generated in blocks {
        writer.write_block(&generated.block)?;
    }
    writer.finish()?;
    let json = serde_json::to_string_pretty(manifest).map_err(io::Error::other)?;
    fs::write(dir.join(format!("{name}.json")), json + "\n")?;
    fs::write(dir.join(format!("{name}.tagpack.yaml")), tagpack)?;
    Ok(())
}

/// The manifest's summary of the active chain.
pub(crate) fn chain_facts(blocks: &[GeneratedBlock], tip: BlockHash) -> ChainFacts {
    let mut summary = ChainSummary::empty();
    for generated in blocks {
        summary.count(generated);
    }
    ChainFacts {
        tip_height: summary.tip_height,
        tip_hash: tip.to_string(),
        blocks: summary.blocks as u32,
        stale_blocks: summary.stale_blocks as u32,
        txs: summary.txs,
        inputs: summary.inputs,
        outputs: summary.outputs,
    }
}

/// The coin that output `vout` of `built` pays to `addr`.
pub(crate) fn coin_at(built: &BuiltTx, vout: usize, addr: &Addr, height: u32) -> Coin {
    Coin {
        outpoint: OutPoint {
            txid: built.tx.compute_txid(),
            vout: vout as u32,
        },
        value: built.tx.output[vout].value.to_sat(),
        kind: addr.kind,
        key_id: addr.key_id,
        height,
    }
}

/// The manifest's view of a coin.
pub(crate) fn coin_ref(keys: &KeyFactory, coin: &Coin) -> OutputRef {
    let script = script_pubkey(keys, coin.kind, coin.key_id);
    OutputRef {
        txid: coin.outpoint.txid.to_string(),
        vout: coin.outpoint.vout,
        address: address_string(keys, coin.kind, coin.key_id, &script),
        value_sats: coin.value,
    }
}

/// Takes `coins`' largest until they cover `amount` plus fee (paying `outputs` at `rate`) and
/// change above dust, as a hot wallet's coin selection would. On failure `coins` is left whole.
pub(crate) fn take_largest(
    coins: &mut Vec<Coin>,
    amount: u64,
    outputs: &[&ScriptBuf],
    rate: u64,
) -> Result<Vec<Coin>, String> {
    coins.sort_by_key(|coin| std::cmp::Reverse(coin.value));
    let mut taken = Vec::new();
    while total_value(&taken) < amount + fee_bound(&taken, outputs, rate) + DUST {
        if coins.is_empty() {
            coins.extend(taken);
            return Err(format!("hot wallet cannot cover {amount} sat"));
        }
        taken.push(coins.remove(0));
    }
    Ok(taken)
}

/// `amount * numerator / denominator`, rounded down.
pub(crate) fn share_of(amount: u64, (numerator, denominator): (u64, u64)) -> u64 {
    (u128::from(amount) * u128::from(numerator) / u128::from(denominator.max(1))) as u64
}

/// The bookkeeping every story shares; a story provides its keys and random stream.
pub(crate) trait Scenario {
    fn keys(&self) -> &KeyFactory;

    /// The story's own random stream (never the background traffic's).
    fn rng(&mut self) -> &mut Rng;

    /// Queues a built transaction. Stories that track spent outpoints extend this.
    fn commit(&mut self, draft: &mut BlockDraft, built: &BuiltTx) {
        draft.txs.push(built.clone());
    }

    fn output_ref(&self, coin: &Coin) -> OutputRef {
        coin_ref(self.keys(), coin)
    }

    /// An unrelated background wallet pays exactly `amount` to `to`.
    fn pay_from_background(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
        to: &Addr,
        amount: u64,
    ) -> Result<Coin, String> {
        let rate = self.rng().range(2, 20);
        let (built, vout) = econ
            .pay_exact(draft.height, &to.script, amount, rate)
            .ok_or_else(|| format!("no background wallet could pay {amount} sat"))?;
        let coin = coin_at(&built, vout as usize, to, draft.height);
        draft.txs.push(built);
        Ok(coin)
    }

    /// Builds a story transaction without queueing it. Output `remainder` takes what is left
    /// at `rate` sat/vB; without it the fee is whatever the outputs leave.
    fn build(
        &mut self,
        econ: &mut Economy,
        height: u32,
        inputs: &[Coin],
        outputs: Vec<TxOut>,
        remainder: Option<usize>,
        rate: u64,
    ) -> Result<BuiltTx, String> {
        econ.spend_scripted(height, inputs, outputs, remainder, rate)
            .ok_or_else(|| {
                format!(
                    "inputs worth {} sat cannot fund outputs at height {height}",
                    total_value(inputs)
                )
            })
    }

    /// Builds and queues a story transaction.
    fn spend(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
        inputs: &[Coin],
        outputs: Vec<TxOut>,
        remainder: Option<usize>,
        rate: u64,
    ) -> Result<BuiltTx, String> {
        let built = self.build(econ, draft.height, inputs, outputs, remainder, rate)?;
        self.commit(draft, &built);
        Ok(built)
    }

    /// Sends a whole coin to one address (an exchange deposit, a consolidation) at `rate`.
    fn sweep_to(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
        coin: Coin,
        to: &Addr,
        rate: u64,
    ) -> Result<Coin, String> {
        let outputs = vec![tx_out(to.script.clone(), 0)];
        let built = self.spend(econ, draft, &[coin], outputs, Some(0), rate)?;
        Ok(coin_at(&built, 0, to, draft.height))
    }

    /// The record of depositing `coin` at `exchange`, with no stolen content yet: callers set
    /// `stolen_sats` and `haircut_stolen_sats` from what they know of the coin's path.
    fn deposit_record(
        &self,
        exchange: &str,
        coin: &Coin,
        height: u32,
        source: &str,
        thief_owned: bool,
    ) -> Deposit {
        let output = self.output_ref(coin);
        Deposit {
            exchange: exchange.to_owned(),
            txid: output.txid,
            vout: output.vout,
            height,
            address: output.address,
            amount_sats: coin.value,
            source: source.to_owned(),
            thief_owned,
            stolen_sats: None,
            haircut_stolen_sats: 0,
        }
    }
}
