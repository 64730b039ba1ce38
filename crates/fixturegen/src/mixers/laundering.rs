//! The thief's own wallet moves: fanning the stolen output out, and the consolidations whose
//! co-spends let common-input clustering tie the thief's addresses together.

use bitcoin::TxOut;

use super::manifest::{Distribution, Merge, Purposed};
use super::plot::*;
use super::story::Story;
use crate::chain::BlockDraft;
use crate::economy::Economy;
use crate::scenario::Addr;
use crate::scenario::{coin_at, missing, Scenario, Step};
use crate::txbuild::{tx_out, BuiltTx, Coin};

fn purpose_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::PeelChain => "peel_chain",
        Purpose::Tx0 => "tx0",
        Purpose::Wallet(_) => "wallet",
        Purpose::Wasabi1(_) => "wasabi1",
        Purpose::Wasabi2(_) => "wasabi2",
        Purpose::Stonewall => "stonewall",
    }
}

impl Story {
    /// Where a distribution output goes: the reused wallet addresses for the consolidations,
    /// a fresh address for everything else.
    fn distribution_address(&self, index: usize, purpose: Purpose) -> Addr {
        match purpose {
            Purpose::Wallet(n) => self.cast.thief.wallet[n].clone(),
            _ => self.cast.thief.distribution[index].clone(),
        }
    }

    pub(super) fn distribution(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let input = self.coins.stolen.ok_or_else(|| missing("stolen output"))?;
        let mut addrs: Vec<(Addr, u64, &str)> = DISTRIBUTION
            .iter()
            .enumerate()
            .map(|(i, (purpose, value))| {
                let addr = self.distribution_address(i, *purpose);
                (addr, *value, purpose_name(*purpose))
            })
            .collect();
        let rest = self.cast.thief.distribution[DISTRIBUTION.len()].clone();
        addrs.push((rest, 0, "rest"));
        let built = self.fan_out(econ, draft, input, &addrs, 12)?;
        self.coins.wallet = vec![Vec::new(); WALLET_ADDRESSES];
        for (vout, (purpose, _)) in DISTRIBUTION.iter().enumerate() {
            let coin = coin_at(&built, vout, &addrs[vout].0, draft.height);
            match purpose {
                Purpose::Wallet(n) => self.coins.wallet[*n].push(coin),
                _ => self.coins.distributed.push((*purpose, coin)),
            }
        }
        let rest = coin_at(
            &built,
            DISTRIBUTION.len(),
            &addrs[DISTRIBUTION.len()].0,
            draft.height,
        );
        self.coins.rest = Some(rest);
        Ok(())
    }

    pub(super) fn second_distribution(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
    ) -> Step {
        let input = self
            .coins
            .rest
            .ok_or_else(|| missing("distribution rest"))?;
        let mut addrs: Vec<(Addr, u64, &str)> = SECOND_DISTRIBUTION
            .iter()
            .map(|(n, value)| (self.cast.thief.wallet[*n].clone(), *value, "wallet"))
            .collect();
        addrs.push((self.cast.thief.reserve.clone(), 0, "reserve"));
        let built = self.fan_out(econ, draft, input, &addrs, 10)?;
        for (vout, (n, _)) in SECOND_DISTRIBUTION.iter().enumerate() {
            let coin = coin_at(&built, vout, &addrs[vout].0, draft.height);
            self.coins.wallet[*n].push(coin);
        }
        Ok(())
    }

    /// One stolen coin to several of the thief's addresses; the last output takes the rest.
    fn fan_out(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
        input: Coin,
        outputs: &[(Addr, u64, &str)],
        rate: u64,
    ) -> Result<BuiltTx, String> {
        let txouts: Vec<TxOut> = outputs
            .iter()
            .map(|(addr, value, _)| tx_out(addr.script.clone(), *value))
            .collect();
        let built = self.spend(econ, draft, &[input], txouts, Some(outputs.len() - 1), rate)?;
        let mut purposed = Vec::new();
        for (vout, (addr, _, purpose)) in outputs.iter().enumerate() {
            let coin = self.thief_gets(coin_at(&built, vout, addr, draft.height));
            purposed.push(Purposed {
                output: self.output_ref(&coin),
                purpose: (*purpose).to_owned(),
            });
        }
        self.record.distributions.push(Distribution {
            txid: built.tx.compute_txid().to_string(),
            height: draft.height,
            input: self.output_ref(&input),
            outputs: purposed,
            fee_sats: built.fee,
        });
        Ok(built)
    }

    /// Co-spends two wallet addresses' oldest coins; the last consolidation also sweeps the
    /// earlier outputs and pays the JoinMarket taker's input.
    pub(super) fn consolidation(
        &mut self,
        step: usize,
        econ: &mut Economy,
        draft: &mut BlockDraft,
    ) -> Step {
        let mut inputs = Vec::new();
        for n in CONSOLIDATION_WALLETS[step] {
            let coins = &mut self.coins.wallet[n];
            if coins.is_empty() {
                return Err(missing(&format!("coin at wallet address {n}")));
            }
            inputs.push(coins.remove(0));
        }
        let last = step + 1 == CONSOLIDATION_WALLETS.len();
        let mut outputs = Vec::new();
        let taker = self.cast.thief.taker.clone();
        if last {
            inputs.append(&mut self.coins.consolidated);
            outputs.push(tx_out(taker.script.clone(), JOINMARKET_TAKER_INPUT));
        }
        let to = self.cast.thief.consolidated[step].clone();
        outputs.push(tx_out(to.script.clone(), 0));
        let remainder = outputs.len() - 1;
        let rate = CONSOLIDATION_RATES[step];
        let built = self.spend(econ, draft, &inputs, outputs, Some(remainder), rate)?;
        let coin = self.thief_gets(coin_at(&built, remainder, &to, draft.height));
        if last {
            let paid = coin_at(&built, 0, &taker, draft.height);
            self.coins.taker = Some(self.thief_gets(paid));
        } else {
            self.coins.consolidated.push(coin);
        }
        let addresses = inputs.iter().map(|c| self.address_of(c)).collect();
        self.record.consolidations.push(Merge {
            txid: built.tx.compute_txid().to_string(),
            height: draft.height,
            addresses,
        });
        Ok(())
    }
}
