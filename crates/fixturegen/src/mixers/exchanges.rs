//! The exchanges' side of the story: Meridian's hot wallet filling up, its ordinary
//! withdrawals, the theft from it, and deposits (the thief's and innocent customers') at
//! Tallyport and Quayside.

use bitcoin::ScriptBuf;

use super::manifest::MixersTheft;
use super::plot::*;
use super::story::{missing, Step, Story};
use super::{QUAYSIDE, TALLYPORT};
use crate::chain::BlockDraft;
use crate::economy::Economy;
use crate::heist::{Addr, Deposit};
use crate::txbuild::{fee_bound, total_value, tx_out, BuiltTx, Coin, DUST};

/// How a deposit's stolen content is known.
pub(super) enum Taint {
    /// Every coin on the path is stolen (or none is): the exact stolen amount.
    Exact(u64),
    /// Stolen and clean coins were mixed: the stolen fraction under haircut.
    Mixed((u64, u64)),
}

impl Story {
    pub(super) fn customer_deposit(
        &mut self,
        i: usize,
        econ: &mut Economy,
        draft: &mut BlockDraft,
    ) -> Step {
        let to = self.cast.hot[i % self.cast.hot.len()].clone();
        let amount = CUSTOMER_DEPOSITS[i % CUSTOMER_DEPOSITS.len()];
        let coin = self.pay_from_background(econ, draft, &to, amount)?;
        self.coins.hot.push(coin);
        Ok(())
    }

    pub(super) fn innocent_deposit(
        &mut self,
        k: usize,
        econ: &mut Economy,
        draft: &mut BlockDraft,
    ) -> Step {
        let exchange = if k.is_multiple_of(2) {
            TALLYPORT
        } else {
            QUAYSIDE
        };
        let to = self.cast.customer(exchange, k / 2).clone();
        let amount = INNOCENT_AMOUNTS[k % INNOCENT_AMOUNTS.len()];
        let coin = self.pay_from_background(econ, draft, &to, amount)?;
        let deposit = self.deposit(exchange, &coin, draft.height, "unrelated wallet", None);
        self.record.innocent_deposits.push(deposit);
        Ok(())
    }

    /// Picks the hot wallet's largest coins until they cover `amount` plus fee and change.
    fn take_hot_coins(
        &mut self,
        amount: u64,
        outputs: &[&ScriptBuf],
        rate: u64,
    ) -> Result<Vec<Coin>, String> {
        self.coins
            .hot
            .sort_by_key(|coin| std::cmp::Reverse(coin.value));
        let mut taken = Vec::new();
        while total_value(&taken) < amount + fee_bound(&taken, outputs, rate) + DUST {
            if self.coins.hot.is_empty() {
                return Err(format!("hot wallet cannot cover {amount} sat"));
            }
            taken.push(self.coins.hot.remove(0));
        }
        Ok(taken)
    }

    /// Pays `amount` from the hot wallet to `to`, change back to hot address `change_slot`.
    fn hot_payment(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
        to: &Addr,
        amount: u64,
        change_slot: usize,
    ) -> Result<(BuiltTx, Vec<Coin>), String> {
        let rate = 15;
        let change = self.cast.hot[change_slot].clone();
        let inputs = self.take_hot_coins(amount, &[&to.script, &change.script], rate)?;
        let outputs = vec![
            tx_out(to.script.clone(), amount),
            tx_out(change.script.clone(), 0),
        ];
        let built = self.spend(econ, draft, &inputs, outputs, Some(1), rate)?;
        let change_coin = Story::coin_at(&built, 1, &change, draft.height);
        self.coins.hot.push(change_coin);
        Ok((built, inputs))
    }

    pub(super) fn withdrawal(
        &mut self,
        i: usize,
        econ: &mut Economy,
        draft: &mut BlockDraft,
    ) -> Step {
        let customer = self.cast.withdrawal_customers[i].clone();
        self.hot_payment(econ, draft, &customer, WITHDRAWALS[i].1, 0)?;
        Ok(())
    }

    pub(super) fn theft(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let thief = self.cast.thief.theft.clone();
        let (built, inputs) = self.hot_payment(econ, draft, &thief, STOLEN, 1)?;
        let stolen = Story::coin_at(&built, 0, &thief, draft.height);
        self.coins.stolen = Some(self.thief_gets(stolen));
        let change = *self.coins.hot.last().ok_or_else(|| missing("hot change"))?;
        self.record.theft = Some(MixersTheft {
            txid: built.tx.compute_txid().to_string(),
            height: draft.height,
            inputs: inputs.iter().map(|c| self.output_ref(c)).collect(),
            stolen_output: self.output_ref(&stolen),
            stolen_sats: STOLEN,
            change: self.output_ref(&change),
            fee_sats: built.fee,
        });
        Ok(())
    }

    /// A deposit record made by someone other than the thief; `taint` is `None` for coins with
    /// no stolen content.
    pub(super) fn deposit(
        &self,
        exchange: &str,
        coin: &Coin,
        height: u32,
        source: &str,
        taint: Option<Taint>,
    ) -> Deposit {
        let output = self.output_ref(coin);
        let (stolen, haircut) = match taint {
            None => (Some(0), 0),
            Some(Taint::Exact(stolen)) => (Some(stolen), stolen),
            Some(Taint::Mixed(share)) => (None, share_of(coin.value, share)),
        };
        Deposit {
            exchange: exchange.to_owned(),
            txid: output.txid,
            vout: output.vout,
            height,
            address: output.address,
            amount_sats: coin.value,
            source: source.to_owned(),
            thief_owned: false,
            stolen_sats: stolen,
            haircut_stolen_sats: haircut,
        }
    }

    /// The thief's deposit.
    pub(super) fn stolen_deposit(
        &self,
        exchange: &str,
        coin: &Coin,
        height: u32,
        source: &str,
        taint: Taint,
    ) -> Deposit {
        Deposit {
            thief_owned: true,
            ..self.deposit(exchange, coin, height, source, Some(taint))
        }
    }

    /// Sends a whole coin to a deposit address.
    fn sweep_to(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
        coin: Coin,
        to: &Addr,
    ) -> Result<Coin, String> {
        let outputs = vec![tx_out(to.script.clone(), 0)];
        let built = self.spend(econ, draft, &[coin], outputs, Some(0), 8)?;
        Ok(Story::coin_at(&built, 0, to, draft.height))
    }

    /// The stolen fraction of a mix's inputs (thief's input value over all input value).
    fn mix_share(&self, protocol: &str) -> Result<(u64, u64), String> {
        let mix = self
            .record
            .mixes
            .iter()
            .find(|m| m.protocol == protocol)
            .ok_or_else(|| missing(protocol))?;
        let value = |tainted: bool| -> u64 {
            mix.inputs
                .iter()
                .filter(|i| tainted || !i.tainted)
                .map(|i| i.input.value_sats)
                .sum()
        };
        let total = value(true);
        Ok((total - value(false), total))
    }

    pub(super) fn whirlpool_deposit(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let coin = self
            .coins
            .thief_whirlpool_out
            .ok_or_else(|| missing("thief's Whirlpool output"))?;
        let to = self.cast.thief_deposit(QUAYSIDE, 0).clone();
        let deposited = self.sweep_to(econ, draft, coin, &to)?;
        let share = self.mix_share("whirlpool-mix")?;
        let deposit = self.stolen_deposit(
            QUAYSIDE,
            &deposited,
            draft.height,
            "whirlpool-mix",
            Taint::Mixed(share),
        );
        self.record.deposits.push(deposit);
        Ok(())
    }

    pub(super) fn joinmarket_deposit(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
    ) -> Step {
        let coin = self
            .coins
            .thief_joinmarket_out
            .ok_or_else(|| missing("thief's JoinMarket output"))?;
        let to = self.cast.thief_deposit(TALLYPORT, 0).clone();
        let deposited = self.sweep_to(econ, draft, coin, &to)?;
        let share = self.mix_share("joinmarket")?;
        let deposit = self.stolen_deposit(
            TALLYPORT,
            &deposited,
            draft.height,
            "joinmarket",
            Taint::Mixed(share),
        );
        self.record.deposits.push(deposit);
        Ok(())
    }

    /// An innocent remixer cashes out its Whirlpool output: clean, yet sharing the mix.
    pub(super) fn remixer_deposit(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let coin = *self
            .coins
            .remixer_outs
            .first()
            .ok_or_else(|| missing("remixer output"))?;
        let to = self.cast.customer(TALLYPORT, 0).clone();
        let deposited = self.sweep_to(econ, draft, coin, &to)?;
        let share = self.mix_share("whirlpool-mix")?;
        let deposit = self.deposit(
            TALLYPORT,
            &deposited,
            draft.height,
            "whirlpool co-mixer",
            Some(Taint::Mixed(share)),
        );
        self.record.innocent_deposits.push(deposit);
        Ok(())
    }
}

/// `amount * numerator / denominator`, rounded down.
pub(super) fn share_of(amount: u64, (numerator, denominator): (u64, u64)) -> u64 {
    (u128::from(amount) * u128::from(numerator) / u128::from(denominator.max(1))) as u64
}
