//! Samourai Whirlpool (spec §4.4): two single-owner Tx0s feed the 0.01 BTC pool, then one
//! mix shaped exactly like vector CJ1 / W-1.

use bitcoin::opcodes::all::OP_RETURN;
use bitcoin::script::Builder;

use super::plot::*;
use super::rounds::{seat, Round, Slot, THIEF};
use super::story::Story;
use crate::chain::BlockDraft;
use crate::economy::Economy;
use crate::scenario::Addr;
use crate::scenario::{missing, Scenario, Step};
use crate::scripts::push;
use crate::txbuild::Coin;

/// Length of the Tx0's masked fee payload.
const TX0_PAYLOAD: usize = 46;
const NEW_ENTRANT: &str = "new entrant";

fn remixer(i: usize) -> String {
    format!("remixer {}", i + 1)
}

/// Outputs in BIP69 order (value, then script), as Whirlpool clients sort them.
fn bip69(slots: &mut [Slot]) {
    slots.sort_by(|a, b| (a.value, a.script.as_bytes()).cmp(&(b.value, b.script.as_bytes())));
}

impl Story {
    pub(super) fn whirlpool_funding(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let entrant = self.cast.new_entrant.inputs[0].clone();
        let coin = self.pay_from_background(econ, draft, &entrant, STRANGER_TX0_INPUT)?;
        self.coins.new_entrant_funding = Some(coin);
        for i in 0..REMIXERS {
            let to = self.cast.remixers[i].inputs[0].clone();
            let coin = self.pay_from_background(econ, draft, &to, POOL)?;
            self.coins.remixers.push(coin);
        }
        Ok(())
    }

    pub(super) fn tx0s(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let input = self.take_distributed(Purpose::Tx0)?;
        let premixes = self.cast.thief.tx0_premix.clone();
        let change = self.cast.thief.tx0_change.clone();
        let thief = self.tx0(econ, draft, input, THIEF, &premixes, &change)?;
        self.coins.thief_premix = thief.first().copied();

        let input = self
            .coins
            .new_entrant_funding
            .take()
            .ok_or_else(|| missing("new entrant's funding"))?;
        let outputs = &self.cast.new_entrant.outputs;
        let premixes = outputs[..STRANGER_TX0_PREMIXES].to_vec();
        let change = outputs[STRANGER_TX0_PREMIXES].clone();
        let entrant = self.tx0(econ, draft, input, NEW_ENTRANT, &premixes, &change)?;
        self.coins.new_entrant_premix = entrant.first().copied();
        Ok(())
    }

    /// One owner's Tx0: OP_RETURN, the pool fee, `premixes` of d + ε and the change; returns
    /// the premix coins in `premixes` order.
    fn tx0(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
        input: Coin,
        owner: &str,
        premixes: &[Addr],
        change: &Addr,
    ) -> Result<Vec<Coin>, String> {
        let spent = POOL_FEE + PREMIX * premixes.len() as u64 + TX0_MINER_FEE;
        let change_value = input
            .value
            .checked_sub(spent)
            .ok_or_else(|| format!("Tx0 input {} sat is too small", input.value))?;
        let mut slots = vec![self.tx0_payload(), self.coordinator_fee()];
        slots.extend(
            premixes
                .iter()
                .map(|a| Slot::to(a, PREMIX, owner, "premix")),
        );
        slots.push(Slot::to(change, change_value, owner, "change"));
        bip69(&mut slots);
        let order: Vec<Option<String>> = slots
            .iter()
            .map(|s| s.addr.as_ref().map(|a| a.address.clone()))
            .collect();
        let round = Round {
            protocol: "whirlpool-tx0",
            denomination: POOL,
            coordinator_fee: Some(POOL_FEE),
            seats: vec![seat(input, owner)],
            slots,
            version_one: true,
            fee: TX0_MINER_FEE,
        };
        let coins = self.play_round(econ, draft, round)?;
        Ok(premixes
            .iter()
            .filter_map(|p| {
                let vout = order
                    .iter()
                    .position(|a| a.as_deref() == Some(&p.address))?;
                coins[vout]
            })
            .collect())
    }

    fn tx0_payload(&mut self) -> Slot {
        let payload: [u8; TX0_PAYLOAD] = self.rng.bytes();
        let script = push(Builder::new().push_opcode(OP_RETURN), &payload).into_script();
        Slot {
            addr: None,
            script,
            value: 0,
            owner: "nobody".to_owned(),
            role: "op_return",
        }
    }

    fn coordinator_fee(&self) -> Slot {
        let coordinator = &self.cast.whirlpool_coordinator;
        Slot::to(coordinator, POOL_FEE, "coordinator", "coordinator_fee")
    }

    /// W-1: the thief's premix first (so FIFO gives O0 = 1,000,000 and O1 = 285 stolen), the
    /// other new entrant's premix, then three remixers; five equal outputs in BIP69 order.
    pub(super) fn whirlpool_mix(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let thief_in = self
            .coins
            .thief_premix
            .ok_or_else(|| missing("thief premix"))?;
        let entrant_in = self
            .coins
            .new_entrant_premix
            .ok_or_else(|| missing("new entrant premix"))?;
        let mut seats = vec![seat(thief_in, THIEF), seat(entrant_in, NEW_ENTRANT)];
        let mut slots = vec![
            Slot::to(&self.cast.thief.whirlpool_out, POOL, THIEF, "mixed"),
            Slot::to(
                &self.cast.new_entrant.outputs[STRANGER_TX0_PREMIXES + 1],
                POOL,
                NEW_ENTRANT,
                "mixed",
            ),
        ];
        for (i, coin) in std::mem::take(&mut self.coins.remixers)
            .into_iter()
            .enumerate()
        {
            seats.push(seat(coin, &remixer(i)));
            slots.push(Slot::to(
                &self.cast.remixers[i].outputs[0],
                POOL,
                &remixer(i),
                "mixed",
            ));
        }
        bip69(&mut slots);
        let owners: Vec<String> = slots.iter().map(|s| s.owner.clone()).collect();
        let round = Round {
            protocol: "whirlpool-mix",
            denomination: POOL,
            coordinator_fee: None,
            seats,
            slots,
            version_one: true,
            fee: WHIRLPOOL_MIX_FEE,
        };
        let coins = self.play_round(econ, draft, round)?;
        for (owner, coin) in owners.iter().zip(coins) {
            let coin = coin.ok_or_else(|| missing("mix output"))?;
            if owner == THIEF {
                self.coins.thief_whirlpool_out = Some(coin);
            } else if owner.starts_with("remixer") {
                self.coins.remixer_outs.push(coin);
            }
        }
        Ok(())
    }
}
