//! The exchanges' side of the story: Meridian's hot wallet filling up, its ordinary
//! withdrawals, the theft from it, and deposits (the thief's and innocent customers') at
//! Tallyport and Quayside.

use super::manifest::MixersTheft;
use super::plot::*;
use super::story::Story;
use super::{QUAYSIDE, TALLYPORT};
use crate::chain::BlockDraft;
use crate::economy::Economy;
use crate::heist::Deposit;
use crate::scenario::{coin_at, missing, share_of, take_largest, Addr, Scenario, Step};
use crate::txbuild::{tx_out, BuiltTx, Coin};

/// Fee rate (sat/vB) of every sweep into a deposit address.
const DEPOSIT_RATE: u64 = 8;

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
        let inputs = take_largest(
            &mut self.coins.hot,
            amount,
            &[&to.script, &change.script],
            rate,
        )?;
        let outputs = vec![
            tx_out(to.script.clone(), amount),
            tx_out(change.script.clone(), 0),
        ];
        let built = self.spend(econ, draft, &inputs, outputs, Some(1), rate)?;
        let change_coin = coin_at(&built, 1, &change, draft.height);
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
        let stolen = coin_at(&built, 0, &thief, draft.height);
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
        let (stolen, haircut) = match taint {
            None => (Some(0), 0),
            Some(Taint::Exact(stolen)) => (Some(stolen), stolen),
            Some(Taint::Mixed(share)) => (None, share_of(coin.value, share)),
        };
        Deposit {
            stolen_sats: stolen,
            haircut_stolen_sats: haircut,
            ..self.deposit_record(exchange, coin, height, source, false)
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
        let deposited = self.sweep_to(econ, draft, coin, &to, DEPOSIT_RATE)?;
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
        let deposited = self.sweep_to(econ, draft, coin, &to, DEPOSIT_RATE)?;
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
        let deposited = self.sweep_to(econ, draft, coin, &to, DEPOSIT_RATE)?;
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
