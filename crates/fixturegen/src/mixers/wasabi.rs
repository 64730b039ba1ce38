//! Wasabi Wallet rounds: a ZeroLink (Wasabi 1) round shaped like vector CJ3 and a WabiSabi
//! (Wasabi 2) round with CJ6's outputs, the thief one participant in each (spec §4.2, §4.3).

use super::plot::*;
use super::rounds::{seat, Round, Seat, Slot, THIEF};
use super::story::Story;
use crate::chain::BlockDraft;
use crate::economy::Economy;
use crate::scenario::{Addr, Scenario, Step};
use crate::txbuild::{total_value, Coin};

fn participant(p: usize) -> String {
    format!("participant {}", p + 1)
}

impl Story {
    /// Background wallets pay every stranger's inputs, one payment per input, so no two
    /// inputs share a parent transaction.
    fn fund_strangers(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
        addrs: Vec<Vec<Addr>>,
        values: &[&[u64]],
        thief: usize,
    ) -> Result<Vec<Vec<Coin>>, String> {
        let mut funded = Vec::new();
        for (p, (addrs, values)) in addrs.iter().zip(values).enumerate() {
            let mut coins = Vec::new();
            if p != thief {
                for (addr, value) in addrs.iter().zip(values.iter()) {
                    coins.push(self.pay_from_background(econ, draft, addr, *value)?);
                }
            }
            funded.push(coins);
        }
        Ok(funded)
    }

    pub(super) fn wasabi1_funding(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let addrs = self.cast.wasabi1.iter().map(|s| s.inputs.clone()).collect();
        self.coins.wasabi1 =
            self.fund_strangers(econ, draft, addrs, &WASABI1_PARTICIPANTS, WASABI1_THIEF)?;
        Ok(())
    }

    pub(super) fn wasabi2_funding(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let addrs = self.cast.wasabi2.iter().map(|s| s.inputs.clone()).collect();
        let values: Vec<&[u64]> = WASABI2_PARTICIPANTS.iter().map(|p| p.inputs).collect();
        self.coins.wasabi2 = self.fund_strangers(econ, draft, addrs, &values, WASABI2_THIEF)?;
        Ok(())
    }

    /// Everyone's seats: strangers' funded coins, and the thief's distribution outputs.
    fn wasabi_seats(
        &mut self,
        funded: Vec<Vec<Coin>>,
        thief: usize,
        thief_coins: [Purpose; 2],
    ) -> Result<Vec<(usize, Vec<Seat>)>, String> {
        let mut seats = Vec::new();
        for (p, coins) in funded.into_iter().enumerate() {
            let mine = if p == thief {
                let mut taken = Vec::new();
                for purpose in thief_coins {
                    taken.push(seat(self.take_distributed(purpose)?, THIEF));
                }
                taken
            } else {
                coins
                    .into_iter()
                    .map(|c| seat(c, &participant(p)))
                    .collect()
            };
            seats.push((p, mine));
        }
        Ok(seats)
    }

    /// CJ3: ten participants each get one 10,000,000 output and change of their total minus
    /// 10,004,000; the coordinator takes 30,000; inputs and outputs in BIP69 order.
    pub(super) fn wasabi1(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let funded = std::mem::take(&mut self.coins.wasabi1);
        let thief_coins = [Purpose::Wasabi1(0), Purpose::Wasabi1(1)];
        let mut seats = Vec::new();
        let mut slots = Vec::new();
        for (p, mine) in self.wasabi_seats(funded, WASABI1_THIEF, thief_coins)? {
            let coins: Vec<Coin> = mine.iter().map(|s| s.coin).collect();
            let change = total_value(&coins)
                .checked_sub(WASABI1_DENOMINATION + WASABI1_PARTICIPANT_COST)
                .ok_or_else(|| format!("Wasabi 1 participant {p} cannot pay its share"))?;
            let (owner, out, change_addr) = if p == WASABI1_THIEF {
                let t = &self.cast.thief;
                (THIEF.to_owned(), &t.wasabi1_out, &t.wasabi1_change)
            } else {
                let s = &self.cast.wasabi1[p];
                (participant(p), &s.outputs[0], &s.outputs[1])
            };
            slots.push(Slot::to(out, WASABI1_DENOMINATION, &owner, "mixed"));
            slots.push(Slot::to(change_addr, change, &owner, "change"));
            seats.extend(mine);
        }
        let coordinator = &self.cast.wasabi_coordinator;
        let fee = WASABI1_COORDINATOR_FEE;
        slots.push(Slot::to(coordinator, fee, "coordinator", "coordinator_fee"));
        seats.sort_by_key(|s| (s.coin.outpoint.txid.to_string(), s.coin.outpoint.vout));
        slots.sort_by(|a, b| (a.value, a.script.as_bytes()).cmp(&(b.value, b.script.as_bytes())));
        let round = Round {
            protocol: "wasabi1",
            denomination: WASABI1_DENOMINATION,
            coordinator_fee: Some(fee),
            seats,
            slots,
            version_one: false,
            fee: WASABI1_FEE,
        };
        self.play_round(econ, draft, round)?;
        Ok(())
    }

    /// CJ6's outputs: inputs and outputs sorted descending, as WabiSabi coordinators do;
    /// equal outputs in random owner order.
    pub(super) fn wasabi2(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let funded = std::mem::take(&mut self.coins.wasabi2);
        let thief_coins = [Purpose::Wasabi2(0), Purpose::Wasabi2(1)];
        let mut seats = Vec::new();
        let mut slots = Vec::new();
        for (p, mine) in self.wasabi_seats(funded, WASABI2_THIEF, thief_coins)? {
            let (owner, addrs) = if p == WASABI2_THIEF {
                (THIEF.to_owned(), &self.cast.thief.wasabi2_out)
            } else {
                (participant(p), &self.cast.wasabi2[p].outputs)
            };
            for (addr, value) in addrs.iter().zip(WASABI2_PARTICIPANTS[p].outputs) {
                slots.push(Slot::to(addr, *value, &owner, "mixed"));
            }
            seats.extend(mine);
        }
        self.rng.shuffle(&mut slots);
        seats.sort_by_key(|s| std::cmp::Reverse(s.coin.value));
        slots.sort_by_key(|s| std::cmp::Reverse(s.value));
        let fee = WASABI2_FEE_PER_INPUT * seats.len() as u64;
        let round = Round {
            protocol: "wasabi2",
            denomination: slots.first().map_or(0, |s| s.value),
            coordinator_fee: None,
            seats,
            slots,
            version_one: false,
            fee,
        };
        self.play_round(econ, draft, round)?;
        Ok(())
    }
}
