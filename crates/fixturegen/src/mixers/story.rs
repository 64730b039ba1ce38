//! The story's state (coins the actors hold, ground truth recorded so far), its event loop,
//! and the bookkeeping every episode shares.

use std::collections::BTreeSet;

use bitcoin::OutPoint;

use super::cast::Cast;
use super::manifest::*;
use super::plot::{events_at, Event, Purpose};
use crate::chain::BlockDraft;
use crate::economy::Economy;
use crate::heist::{Deposit, PeelHop};
use crate::keys::KeyFactory;
use crate::rng::Rng;
use crate::scenario::{missing, Business, Minter, Scenario, Step};
use crate::txbuild::{BuiltTx, Coin};

/// Story keys live in their own namespace so background traffic never mints them.
const STORY_KEY_NAMESPACE: u64 = 0x313e;

/// Coins the story's actors hold between episodes.
#[derive(Default)]
pub(super) struct Coins {
    pub(super) hot: Vec<Coin>,
    pub(super) stolen: Option<Coin>,
    pub(super) distributed: Vec<(Purpose, Coin)>,
    pub(super) rest: Option<Coin>,
    /// Per wallet address, oldest first.
    pub(super) wallet: Vec<Vec<Coin>>,
    pub(super) consolidated: Vec<Coin>,
    pub(super) taker: Option<Coin>,
    pub(super) new_entrant_funding: Option<Coin>,
    pub(super) new_entrant_premix: Option<Coin>,
    pub(super) thief_premix: Option<Coin>,
    pub(super) remixers: Vec<Coin>,
    /// Per participant; the thief's slot stays empty.
    pub(super) wasabi1: Vec<Vec<Coin>>,
    pub(super) wasabi2: Vec<Vec<Coin>>,
    pub(super) makers: Vec<Vec<Coin>>,
    pub(super) collaborator: Option<Coin>,
    pub(super) peel_tip: Option<Coin>,
    pub(super) thief_whirlpool_out: Option<Coin>,
    pub(super) remixer_outs: Vec<Coin>,
    pub(super) thief_joinmarket_out: Option<Coin>,
}

/// Ground truth recorded so far.
#[derive(Default)]
pub(super) struct Record {
    pub(super) theft: Option<MixersTheft>,
    pub(super) distributions: Vec<Distribution>,
    pub(super) mixes: Vec<MixingTx>,
    pub(super) peel_hops: Vec<PeelHop>,
    pub(super) consolidations: Vec<Merge>,
    pub(super) apart: Vec<SeparatePair>,
    pub(super) deposits: Vec<Deposit>,
    pub(super) innocent_deposits: Vec<Deposit>,
    /// Every coin the thief has received, and every outpoint the story has spent.
    pub(super) thief_coins: Vec<Coin>,
    pub(super) spent: BTreeSet<OutPoint>,
}

pub(super) struct Story {
    pub(super) cast: Cast,
    pub(super) keys: KeyFactory,
    pub(super) rng: Rng,
    pub(super) coins: Coins,
    pub(super) record: Record,
}

impl Scenario for Story {
    fn keys(&self) -> &KeyFactory {
        &self.keys
    }

    fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Queues a built transaction and marks its inputs spent (for the thief's holdings at
    /// the tip).
    fn commit(&mut self, draft: &mut BlockDraft, built: &BuiltTx) {
        for input in &built.tx.input {
            self.record.spent.insert(input.previous_output);
        }
        draft.txs.push(built.clone());
    }
}

impl Story {
    pub(super) fn new(seed: u64) -> Story {
        let keys = KeyFactory::new(seed);
        let mut minter = Minter::story(&keys, STORY_KEY_NAMESPACE);
        Story {
            cast: Cast::new(&mut minter),
            keys,
            rng: Rng::derive(seed, STORY_KEY_NAMESPACE),
            coins: Coins::default(),
            record: Record::default(),
        }
    }

    pub(super) fn play(&mut self, height: u32, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        for event in events_at(height) {
            match event {
                Event::Routine(Business::CustomerDeposit(i)) => {
                    self.customer_deposit(i, econ, draft)?
                }
                Event::Routine(Business::InnocentDeposit(k)) => {
                    self.innocent_deposit(k, econ, draft)?
                }
                Event::Routine(Business::Withdrawal(i)) => self.withdrawal(i, econ, draft)?,
                Event::Theft => self.theft(econ, draft)?,
                Event::Distribution => self.distribution(econ, draft)?,
                Event::SecondDistribution => self.second_distribution(econ, draft)?,
                Event::WhirlpoolFunding => self.whirlpool_funding(econ, draft)?,
                Event::Wasabi1Funding => self.wasabi1_funding(econ, draft)?,
                Event::Wasabi2Funding => self.wasabi2_funding(econ, draft)?,
                Event::JoinMarketFunding => self.joinmarket_funding(econ, draft)?,
                Event::StonewallFunding => self.stonewall_funding(econ, draft)?,
                Event::Tx0s => self.tx0s(econ, draft)?,
                Event::WhirlpoolMix => self.whirlpool_mix(econ, draft)?,
                Event::Consolidation(i) => self.consolidation(i, econ, draft)?,
                Event::Wasabi1 => self.wasabi1(econ, draft)?,
                Event::Wasabi2 => self.wasabi2(econ, draft)?,
                Event::JoinMarket => self.joinmarket(econ, draft)?,
                Event::Stonewall => self.stonewall(econ, draft)?,
                Event::PeelHop(i) => self.peel_hop(i, econ, draft)?,
                Event::WhirlpoolDeposit => self.whirlpool_deposit(econ, draft)?,
                Event::JoinMarketDeposit => self.joinmarket_deposit(econ, draft)?,
                Event::RemixerDeposit => self.remixer_deposit(econ, draft)?,
            }
        }
        Ok(())
    }

    /// Notes a coin the thief now holds (for the unspent holdings at the tip).
    pub(super) fn thief_gets(&mut self, coin: Coin) -> Coin {
        self.record.thief_coins.push(coin);
        coin
    }

    pub(super) fn address_of(&self, coin: &Coin) -> String {
        self.output_ref(coin).address
    }
}

impl Story {
    /// Takes the distribution output set aside for `purpose`.
    pub(super) fn take_distributed(&mut self, purpose: Purpose) -> Result<Coin, String> {
        let at = self
            .coins
            .distributed
            .iter()
            .position(|(p, _)| *p == purpose)
            .ok_or_else(|| missing(&format!("{purpose:?} coin")))?;
        Ok(self.coins.distributed.remove(at).1)
    }
}
