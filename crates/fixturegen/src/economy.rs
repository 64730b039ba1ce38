//! The wallet model that produces background traffic.
//!
//! Many wallets each prefer one address type and own a list of spendable coins. A transaction
//! picks a funded wallet, spends a few of its coins (or many, when the wallet consolidates),
//! pays other wallets and usually returns change to a fresh address of its own. Every output a
//! wallet receives becomes spendable immediately, so later transactions in the same block may
//! spend it; coinbase outputs wait in a queue until they are 100 blocks deep.
//!
//! Only live state is kept (wallets, coins, the maturity queue), so memory depends on the UTXO
//! set, not on the chain length.

use std::collections::VecDeque;

use bitcoin::{OutPoint, ScriptBuf, TxOut};

use crate::keys::{KeyFactory, KEY_NAMESPACE_SHIFT};
use crate::rng::Rng;
use crate::scripts::{push, script_pubkey, ScriptKind};
use crate::txbuild::{
    assemble_tx, fee_at, fee_bound, settle_remainder, total_value, tx_out, BuiltTx, Coin, DUST,
};

/// Consensus rule: a coinbase output can be spent from this many blocks after its own.
pub(crate) const COINBASE_MATURITY: u32 = 100;

/// Smallest payment a background wallet makes.
const MIN_PAYMENT: u64 = 2_000;

/// Attempts before a block gives up on filling one more transaction slot.
const SPEND_ATTEMPTS: usize = 8;

const NOT_FUNDED: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Wallet {
    kind: ScriptKind,
    coins: Vec<Coin>,
}

/// An output being planned: who will own it once the transaction exists.
struct Planned {
    script: ScriptBuf,
    value: u64,
    owner: Option<(u32, ScriptKind, u64)>,
    is_change: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Economy {
    pub(crate) rng: Rng,
    pub(crate) keys: KeyFactory,
    seed: u64,
    next_key: u64,
    wallets: Vec<Wallet>,
    /// Wallets with at least one spendable coin, for O(1) uniform choice.
    funded: Vec<u32>,
    funded_pos: Vec<u32>,
    maturing: VecDeque<(u32, Coin)>,
    miners: u32,
    forced: Option<OutPoint>,
}

impl Economy {
    pub(crate) fn new(seed: u64, wallets: u32, miners: u32) -> Self {
        let mut rng = Rng::derive(seed, 0x3c0_40e4);
        let wallets = wallets.max(2);
        let miners = miners.clamp(1, wallets);
        let list = (0..wallets)
            .map(|i| {
                let kind = if i < miners {
                    miner_kind(i)
                } else {
                    ScriptKind::random(&mut rng)
                };
                Wallet {
                    kind,
                    coins: Vec::new(),
                }
            })
            .collect();
        Economy {
            rng,
            keys: KeyFactory::new(seed),
            seed,
            next_key: 0,
            wallets: list,
            funded: Vec::new(),
            funded_pos: vec![NOT_FUNDED; wallets as usize],
            maturing: VecDeque::new(),
            miners,
            forced: None,
        }
    }

    /// Makes this copy of the economy behave differently from now on (another random stream,
    /// another key namespace) while keeping the coins both copies can spend: used to grow two
    /// competing branches from one common state.
    pub(crate) fn diverge(&mut self, salt: u64) {
        self.rng = Rng::derive(self.seed ^ salt, 0xd1_7e26e);
        self.next_key = (salt & 0xffff) << KEY_NAMESPACE_SHIFT;
    }

    pub(crate) fn fresh_key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    pub(crate) fn utxo_count(&self) -> usize {
        self.wallets.iter().map(|w| w.coins.len()).sum::<usize>() + self.maturing.len()
    }

    /// Makes the next background transaction spend `outpoint` first, if a wallet owns it.
    pub(crate) fn force_spend(&mut self, outpoint: OutPoint) {
        self.forced = Some(outpoint);
    }

    /// Moves coinbase outputs that reach maturity at `height` into their wallets.
    pub(crate) fn release_matured(&mut self, height: u32) {
        while let Some((_, coin)) = self.maturing.front() {
            if coin.height + COINBASE_MATURITY > height {
                break;
            }
            if let Some((wallet, coin)) = self.maturing.pop_front() {
                self.add_coin(wallet, coin);
            }
        }
    }

    /// Chooses who mines the next block and returns the payout script and its owner.
    pub(crate) fn next_miner(&mut self) -> (u32, ScriptKind, u64, ScriptBuf) {
        let wallet = self.rng.below(u64::from(self.miners)) as u32;
        let kind = self.wallets[wallet as usize].kind;
        let key_id = self.fresh_key();
        (
            wallet,
            kind,
            key_id,
            script_pubkey(&self.keys, kind, key_id),
        )
    }

    pub(crate) fn credit_coinbase(&mut self, wallet: u32, coin: Coin) {
        if coin.value >= DUST {
            self.maturing.push_back((wallet, coin));
        }
    }

    fn add_coin(&mut self, wallet: u32, coin: Coin) {
        let w = wallet as usize;
        if self.wallets[w].coins.is_empty() {
            self.funded_pos[w] = self.funded.len() as u32;
            self.funded.push(wallet);
        }
        self.wallets[w].coins.push(coin);
    }

    fn take_coin(&mut self, wallet: u32, index: usize) -> Coin {
        let w = wallet as usize;
        let coin = self.wallets[w].coins.swap_remove(index);
        if self.wallets[w].coins.is_empty() {
            let pos = self.funded_pos[w] as usize;
            self.funded.swap_remove(pos);
            if let Some(&moved) = self.funded.get(pos) {
                self.funded_pos[moved as usize] = pos as u32;
            }
            self.funded_pos[w] = NOT_FUNDED;
        }
        coin
    }

    fn return_coins(&mut self, wallet: u32, coins: Vec<Coin>) {
        for coin in coins {
            self.add_coin(wallet, coin);
        }
    }

    fn random_funded(&mut self) -> Option<u32> {
        if self.funded.is_empty() {
            return None;
        }
        let i = self.rng.index(self.funded.len());
        Some(self.funded[i])
    }

    /// Removes the forced coin from its owner, if any wallet holds it.
    fn take_forced(&mut self) -> Option<(u32, Coin)> {
        let outpoint = self.forced.take()?;
        let (w, i) = self.wallets.iter().enumerate().find_map(|(w, wallet)| {
            wallet
                .coins
                .iter()
                .position(|c| c.outpoint == outpoint)
                .map(|i| (w, i))
        })?;
        let wallet = w as u32;
        Some((wallet, self.take_coin(wallet, i)))
    }

    /// One background transaction, or `None` when no wallet managed to pay.
    pub(crate) fn random_tx(&mut self, height: u32) -> Option<BuiltTx> {
        if let Some((wallet, coin)) = self.take_forced() {
            if let Some(tx) = self.try_spend(wallet, Some(coin), height) {
                return Some(tx);
            }
        }
        for _ in 0..SPEND_ATTEMPTS {
            let wallet = self.random_funded()?;
            if let Some(tx) = self.try_spend(wallet, None, height) {
                return Some(tx);
            }
        }
        None
    }

    fn select_inputs(&mut self, wallet: u32, first: Option<Coin>, consolidate: bool) -> Vec<Coin> {
        let available = self.wallets[wallet as usize].coins.len() + usize::from(first.is_some());
        let want = if consolidate {
            available.min(5 + self.rng.index(16))
        } else {
            input_count(&mut self.rng).min(available)
        };
        let mut inputs = Vec::with_capacity(want);
        inputs.extend(first);
        while inputs.len() < want {
            let i = self.rng.index(self.wallets[wallet as usize].coins.len());
            inputs.push(self.take_coin(wallet, i));
        }
        inputs
    }

    fn try_spend(&mut self, wallet: u32, first: Option<Coin>, height: u32) -> Option<BuiltTx> {
        let held = self.wallets[wallet as usize].coins.len() + usize::from(first.is_some());
        let consolidate = held >= 12 && self.rng.chance(300);
        let inputs = self.select_inputs(wallet, first, consolidate);
        let rate = if consolidate {
            self.rng.range(1, 5)
        } else {
            feerate(&mut self.rng)
        };
        let mut outputs = if consolidate {
            vec![self.own_output(wallet)]
        } else {
            let payees = payee_count(&mut self.rng);
            (0..payees).map(|_| self.payee(wallet)).collect()
        };
        let payments = outputs.len() as u64;
        if !consolidate && self.rng.chance(850) {
            let mut change = self.own_output(wallet);
            change.is_change = true;
            outputs.push(change);
        }
        if self.rng.chance(20) {
            outputs.push(self.op_return());
        }
        let has_change = outputs.iter().any(|o| o.is_change);
        let scripts: Vec<&ScriptBuf> = outputs.iter().map(|o| &o.script).collect();
        let total = total_value(&inputs);
        let reserve = payments * MIN_PAYMENT + if has_change { DUST } else { 0 };
        let spendable = match total.checked_sub(fee_bound(&inputs, &scripts, rate)) {
            Some(s) if s >= reserve => s,
            _ => {
                self.return_coins(wallet, inputs);
                return None;
            }
        };
        let pay_total = if has_change {
            let room = spendable - reserve;
            payments * MIN_PAYMENT + room / 100 * self.rng.range(5, 95)
        } else {
            spendable
        };
        self.split_payments(&mut outputs, pay_total, has_change);
        self.rng.shuffle(&mut outputs);
        Some(self.finish_spend(height, inputs, outputs, rate))
    }

    /// Spreads `pay_total` over the payments; payments with change get wallet-style round
    /// amounts part of the time, the rounding going to change.
    fn split_payments(&mut self, outputs: &mut [Planned], pay_total: u64, round: bool) {
        let payees: Vec<usize> = (0..outputs.len())
            .filter(|&i| outputs[i].owner.is_some() && !outputs[i].is_change)
            .collect();
        let weights: Vec<u64> = payees.iter().map(|_| 1 + self.rng.below(1000)).collect();
        let weight_sum: u64 = weights.iter().sum();
        let extra = pay_total - payees.len() as u64 * MIN_PAYMENT;
        let mut assigned = 0;
        for (&i, &w) in payees.iter().zip(&weights) {
            let share = (u128::from(extra) * u128::from(w) / u128::from(weight_sum)) as u64;
            let mut value = MIN_PAYMENT + share;
            if round && self.rng.chance(400) {
                let unit = 10u64.pow(self.rng.range(3, 7) as u32);
                if value / unit * unit >= MIN_PAYMENT {
                    value = value / unit * unit;
                }
            }
            outputs[i].value = value;
            assigned += MIN_PAYMENT + share;
        }
        if !round {
            // Without change every satoshi must go somewhere: the first payee takes the dust
            // left by integer division.
            if let Some(&i) = payees.first() {
                outputs[i].value += pay_total - assigned;
            }
        }
    }

    fn finish_spend(
        &mut self,
        height: u32,
        inputs: Vec<Coin>,
        outputs: Vec<Planned>,
        rate: u64,
    ) -> BuiltTx {
        let total = total_value(&inputs);
        let tx_outputs: Vec<TxOut> = outputs
            .iter()
            .map(|o| tx_out(o.script.clone(), o.value))
            .collect();
        let mut tx = assemble_tx(&self.keys, &mut self.rng, height, &inputs, tx_outputs);
        let fee = match outputs.iter().position(|o| o.is_change) {
            Some(change) => settle_remainder(&mut tx, total, change, rate)
                .expect("fee bound guarantees the change stays above dust"),
            None => {
                // No change: the surplus over the exact fee goes to the first payee, as a
                // "send max" wallet would do.
                let fee = fee_at(&tx, rate);
                let paid: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
                let surplus = total - paid - fee;
                if let Some(i) = outputs.iter().position(|o| o.owner.is_some()) {
                    tx.output[i].value += bitcoin::Amount::from_sat(surplus);
                }
                fee
            }
        };
        let txid = tx.compute_txid();
        for (vout, (planned, out)) in outputs.iter().zip(&tx.output).enumerate() {
            if let Some((wallet, kind, key_id)) = planned.owner {
                let coin = Coin {
                    outpoint: OutPoint {
                        txid,
                        vout: vout as u32,
                    },
                    value: out.value.to_sat(),
                    kind,
                    key_id,
                    height,
                };
                self.add_coin(wallet, coin);
            }
        }
        let newest_input_height = inputs.iter().map(|c| c.height).max().unwrap_or(0);
        BuiltTx {
            tx,
            fee,
            newest_input_height,
        }
    }

    fn own_output(&mut self, wallet: u32) -> Planned {
        let preferred = self.wallets[wallet as usize].kind;
        let kind = if self.rng.chance(950) {
            preferred
        } else {
            ScriptKind::random(&mut self.rng)
        };
        self.planned(wallet, kind)
    }

    fn payee(&mut self, payer: u32) -> Planned {
        let others = self.wallets.len() as u64 - 1;
        let mut wallet = self.rng.below(others) as u32;
        if wallet >= payer {
            wallet += 1;
        }
        let kind = if self.rng.chance(3) {
            ScriptKind::HashPuzzle
        } else if self.rng.chance(800) {
            self.wallets[wallet as usize].kind
        } else {
            ScriptKind::random(&mut self.rng)
        };
        self.planned(wallet, kind)
    }

    fn planned(&mut self, wallet: u32, kind: ScriptKind) -> Planned {
        let key_id = self.fresh_key();
        Planned {
            script: script_pubkey(&self.keys, kind, key_id),
            value: 0,
            owner: Some((wallet, kind, key_id)),
            is_change: false,
        }
    }

    fn op_return(&mut self) -> Planned {
        let len = self.rng.range(8, 80) as usize;
        let mut data = vec![0u8; len];
        self.rng.fill(&mut data);
        let script = push(
            bitcoin::script::Builder::new().push_opcode(bitcoin::opcodes::all::OP_RETURN),
            &data,
        )
        .into_script();
        Planned {
            script,
            value: 0,
            owner: None,
            is_change: false,
        }
    }

    /// A background wallet pays exactly `amount` to `script` (someone outside the wallet model),
    /// with change back to itself. Returns the transaction and the payment's output index.
    pub(crate) fn pay_exact(
        &mut self,
        height: u32,
        script: &ScriptBuf,
        amount: u64,
        rate: u64,
    ) -> Option<(BuiltTx, u32)> {
        for _ in 0..64 {
            let wallet = self.random_funded()?;
            if let Some(paid) = self.try_pay_exact(wallet, height, script, amount, rate) {
                return Some(paid);
            }
        }
        None
    }

    fn try_pay_exact(
        &mut self,
        wallet: u32,
        height: u32,
        script: &ScriptBuf,
        amount: u64,
        rate: u64,
    ) -> Option<(BuiltTx, u32)> {
        let mut change = self.own_output(wallet);
        change.is_change = true;
        let mut inputs = Vec::new();
        loop {
            let needed = amount + fee_bound(&inputs, &[script, &change.script], rate) + DUST;
            if total_value(&inputs) >= needed {
                break;
            }
            let held = self.wallets[wallet as usize].coins.len();
            if held == 0 || inputs.len() >= 20 {
                self.return_coins(wallet, inputs);
                return None;
            }
            let i = self.rng.index(held);
            inputs.push(self.take_coin(wallet, i));
        }
        let target = Planned {
            script: script.clone(),
            value: amount,
            owner: None,
            is_change: false,
        };
        let mut outputs = vec![target, change];
        self.rng.shuffle(&mut outputs);
        let vout = outputs.iter().position(|o| !o.is_change).unwrap_or(0) as u32;
        Some((self.finish_spend(height, inputs, outputs, rate), vout))
    }

    /// Builds a scripted transaction (heist, forks) from explicitly chosen coins. Output
    /// `remainder` receives whatever is left after paying `rate` sat/vB; without it the fee is
    /// the difference between inputs and outputs.
    pub(crate) fn spend_scripted(
        &mut self,
        height: u32,
        inputs: &[Coin],
        outputs: Vec<TxOut>,
        remainder: Option<usize>,
        rate: u64,
    ) -> Option<BuiltTx> {
        let total = total_value(inputs);
        let mut tx = assemble_tx(&self.keys, &mut self.rng, height, inputs, outputs);
        let fee = match remainder {
            Some(index) => settle_remainder(&mut tx, total, index, rate)?,
            None => {
                let paid: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
                total.checked_sub(paid)?
            }
        };
        let newest_input_height = inputs.iter().map(|c| c.height).max().unwrap_or(0);
        Some(BuiltTx {
            tx,
            fee,
            newest_input_height,
        })
    }
}

/// Miners favour a spread of payout types, including pay-to-pubkey as in Bitcoin's early years.
fn miner_kind(index: u32) -> ScriptKind {
    const KINDS: [ScriptKind; 8] = [
        ScriptKind::P2pkh,
        ScriptKind::P2wpkh,
        ScriptKind::P2pkUncompressed,
        ScriptKind::P2pkCompressed,
        ScriptKind::P2shP2wpkh,
        ScriptKind::P2tr,
        ScriptKind::P2wpkh,
        ScriptKind::P2wsh,
    ];
    KINDS[index as usize % KINDS.len()]
}

/// Mostly one to three inputs, occasionally more.
fn input_count(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..600 => 1,
        600..820 => 2,
        820..920 => 3,
        _ => rng.range(4, 8) as usize,
    }
}

/// Mostly one or two recipients; a few percent are exchange-style fan-outs.
fn payee_count(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..560 => 1,
        560..860 => 2,
        860..970 => rng.range(3, 5) as usize,
        _ => rng.range(6, 50) as usize,
    }
}

/// 1 to 50 sat/vB, skewed towards cheap.
fn feerate(rng: &mut Rng) -> u64 {
    1 + rng.below(50).min(rng.below(50))
}
