//! The peel chain (spec §6.3): one stolen coin, 54 hops, each paying a round amount to a
//! fresh address at output 0 and the rest to a fresh change address at output 1.

use super::exchanges::Taint;
use super::plot::*;
use super::story::Story;
use crate::chain::BlockDraft;
use crate::economy::Economy;
use crate::heist::PeelHop;
use crate::scenario::Addr;
use crate::scenario::{coin_at, missing, Scenario, Step};
use crate::txbuild::tx_out;

impl Story {
    /// Where hop `i` (0-based) peels to, and how the manifest names it.
    fn peel_destination(&self, i: usize) -> (Addr, String, Option<&'static str>) {
        match PEEL_DEPOSITS.iter().find(|(hop, _, _)| *hop == i + 1) {
            Some((_, exchange, slot)) => (
                self.cast.thief_deposit(exchange, *slot).clone(),
                format!("exchange:{exchange}"),
                Some(*exchange),
            ),
            None => (self.cast.peel_payees[i].clone(), "payment".to_owned(), None),
        }
    }

    pub(super) fn peel_hop(
        &mut self,
        i: usize,
        econ: &mut Economy,
        draft: &mut BlockDraft,
    ) -> Step {
        let input = if i == 0 {
            self.take_distributed(Purpose::PeelChain)?
        } else {
            self.coins
                .peel_tip
                .ok_or_else(|| missing("peel chain tip"))?
        };
        let amount = PEEL_AMOUNTS[i % PEEL_AMOUNTS.len()];
        let (dest, label, exchange) = self.peel_destination(i);
        let change = self.cast.thief.peel_changes[i].clone();
        let outputs = vec![
            tx_out(dest.script.clone(), amount),
            tx_out(change.script.clone(), 0),
        ];
        // Fee rates wander as a real wallet's would; the change takes what is left.
        let rate = self.rng.range(4, 24);
        let built = self.spend(econ, draft, &[input], outputs, Some(1), rate)?;
        let peel = coin_at(&built, 0, &dest, draft.height);
        let change = self.thief_gets(coin_at(&built, 1, &change, draft.height));
        if let Some(exchange) = exchange {
            let source = format!("peel_chain hop {}", i + 1);
            let taint = Taint::Exact(peel.value);
            let deposit = self.stolen_deposit(exchange, &peel, draft.height, &source, taint);
            self.record.deposits.push(deposit);
        }
        self.record.peel_hops.push(PeelHop {
            hop: i as u32 + 1,
            txid: built.tx.compute_txid().to_string(),
            height: draft.height,
            input: self.output_ref(&input),
            peel: self.output_ref(&peel),
            peel_destination: label,
            change: self.output_ref(&change),
            fee_sats: built.fee,
        });
        self.coins.peel_tip = Some(change);
        Ok(())
    }
}
