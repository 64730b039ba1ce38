//! The clustering trap beside the CoinJoins: a STONEWALLx2 (spec §4.6) in which an unrelated
//! collaborator co-signs the thief's payment to a vendor. Two owners' inputs in one
//! transaction, so common-input clustering would wrongly merge them.

use super::plot::*;
use super::rounds::{seat, Round, Slot, THIEF};
use super::story::Story;
use crate::chain::BlockDraft;
use crate::economy::Economy;
use crate::scenario::{missing, Scenario, Step};

const COLLABORATOR: &str = "collaborator";

impl Story {
    pub(super) fn stonewall_funding(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let to = self.cast.collaborator.inputs[0].clone();
        let coin = self.pay_from_background(econ, draft, &to, STONEWALL_COLLABORATOR_INPUT)?;
        self.coins.collaborator = Some(coin);
        Ok(())
    }

    /// The payment and the collaborator's decoy share one value; each side's change differs;
    /// each pays half the fee.
    pub(super) fn stonewall(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let thief_in = self.take_distributed(Purpose::Stonewall)?;
        let collaborator_in = self
            .coins
            .collaborator
            .take()
            .ok_or_else(|| missing("collaborator's coin"))?;
        let change = |input: u64| input - STONEWALL_PAYMENT - STONEWALL_FEE_SHARE;
        let c = &self.cast.collaborator.outputs;
        let mut slots = vec![
            Slot::to(&self.cast.vendor, STONEWALL_PAYMENT, "vendor", "payment"),
            Slot::to(&c[0], STONEWALL_PAYMENT, COLLABORATOR, "decoy"),
            Slot::to(
                &self.cast.thief.stonewall_change,
                change(thief_in.value),
                THIEF,
                "change",
            ),
            Slot::to(&c[1], change(collaborator_in.value), COLLABORATOR, "change"),
        ];
        let mut seats = vec![seat(thief_in, THIEF), seat(collaborator_in, COLLABORATOR)];
        self.rng.shuffle(&mut seats);
        self.rng.shuffle(&mut slots);
        let round = Round {
            protocol: "stonewall",
            denomination: STONEWALL_PAYMENT,
            coordinator_fee: None,
            seats,
            slots,
            version_one: false,
            fee: 2 * STONEWALL_FEE_SHARE,
        };
        self.play_round(econ, draft, round)?;
        Ok(())
    }
}
