//! A JoinMarket round shaped like vector CJ2 (spec §4.5): two makers and the thief as taker.

use super::plot::*;
use super::rounds::{seat, Round, Slot, THIEF};
use super::story::Story;
use crate::chain::BlockDraft;
use crate::economy::Economy;
use crate::scenario::{missing, Scenario, Step};

fn maker(m: usize) -> String {
    format!("maker {}", m + 1)
}

impl Story {
    pub(super) fn joinmarket_funding(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
    ) -> Step {
        for (m, (inputs, _)) in JOINMARKET_MAKERS.iter().enumerate() {
            let addrs = self.cast.makers[m].inputs.clone();
            let mut coins = Vec::new();
            for (addr, value) in addrs.iter().zip(inputs.iter()) {
                coins.push(self.pay_from_background(econ, draft, addr, *value)?);
            }
            self.coins.makers.push(coins);
        }
        Ok(())
    }

    /// Every party gets one 40,000,000 output and its change; the taker pays each maker
    /// 1,000 sat and the mining fee. JoinMarket shuffles inputs and outputs.
    pub(super) fn joinmarket(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let taker = self
            .coins
            .taker
            .take()
            .ok_or_else(|| missing("taker input"))?;
        let mut seats = vec![seat(taker, THIEF)];
        let t = &self.cast.thief;
        let mut slots = vec![
            Slot::to(&t.joinmarket_out, JOINMARKET_DENOMINATION, THIEF, "mixed"),
            Slot::to(
                &t.joinmarket_change,
                JOINMARKET_TAKER_CHANGE,
                THIEF,
                "change",
            ),
        ];
        for (m, coins) in std::mem::take(&mut self.coins.makers)
            .into_iter()
            .enumerate()
        {
            let owner = maker(m);
            seats.extend(coins.into_iter().map(|c| seat(c, &owner)));
            let outs = &self.cast.makers[m].outputs;
            let change = JOINMARKET_MAKERS[m].1;
            slots.push(Slot::to(&outs[0], JOINMARKET_DENOMINATION, &owner, "mixed"));
            slots.push(Slot::to(&outs[1], change, &owner, "change"));
        }
        self.rng.shuffle(&mut seats);
        self.rng.shuffle(&mut slots);
        let mixed_vout = slots
            .iter()
            .position(|s| s.owner == THIEF && s.role == "mixed");
        let round = Round {
            protocol: "joinmarket",
            denomination: JOINMARKET_DENOMINATION,
            coordinator_fee: None,
            seats,
            slots,
            version_one: false,
            fee: JOINMARKET_FEE,
        };
        let coins = self.play_round(econ, draft, round)?;
        self.coins.thief_joinmarket_out = mixed_vout.and_then(|v| coins[v]);
        Ok(())
    }
}
