//! The story's state: coins the actors hold and the ground truth recorded so far.

use std::io;

use bitcoin::{ScriptBuf, TxOut};

use super::cast::Cast;
use super::manifest::*;
use super::plot::*;
use super::{BITVAULT, KEYPORT, NORTHBANK};
use crate::chain::{BlockDraft, GeneratedBlock};
use crate::economy::Economy;
use crate::keys::KeyFactory;
use crate::rng::Rng;
use crate::scenario::{
    chain_facts, coin_at, missing, share_of, take_largest, Addr, Business, Minter, Scenario, Step,
};
use crate::txbuild::{total_value, tx_out, Coin};

/// Story keys live in their own namespace so background traffic never mints them.
const STORY_KEY_NAMESPACE: u64 = 0x4e15;

/// The story's coins and the ground truth recorded so far.
pub(super) struct Story {
    cast: Cast,
    keys: KeyFactory,
    rng: Rng,
    hot_coins: Vec<Coin>,
    theft_coins: Vec<Coin>,
    clean_coin: Option<Coin>,
    peel_tip: Option<Coin>,
    thief_premix: Option<Coin>,
    split_coins: Vec<Coin>,
    participant_premix: Vec<Coin>,
    cj_thief_out: Option<Coin>,
    cj_participant_outs: Vec<Coin>,
    consolidated: Option<Coin>,
    cj_tainted_share: (u64, u64),
    consolidation_tainted_share: (u64, u64),
    customer_deposits: Vec<Transfer>,
    withdrawals: Vec<Transfer>,
    clean_funding: Option<Transfer>,
    theft: Option<Theft>,
    peel_chain: Vec<PeelHop>,
    split: Option<Split>,
    coinjoin: Option<CoinJoin>,
    consolidation: Option<Consolidation>,
    deposits: Vec<Deposit>,
    innocent_deposits: Vec<Deposit>,
    mule_coins: Vec<Coin>,
}

impl Scenario for Story {
    fn keys(&self) -> &KeyFactory {
        &self.keys
    }

    fn rng(&mut self) -> &mut Rng {
        &mut self.rng
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
            hot_coins: Vec::new(),
            theft_coins: Vec::new(),
            clean_coin: None,
            peel_tip: None,
            thief_premix: None,
            split_coins: Vec::new(),
            participant_premix: Vec::new(),
            cj_thief_out: None,
            cj_participant_outs: Vec::new(),
            consolidated: None,
            cj_tainted_share: (0, 1),
            consolidation_tainted_share: (0, 1),
            customer_deposits: Vec::new(),
            withdrawals: Vec::new(),
            clean_funding: None,
            theft: None,
            peel_chain: Vec::new(),
            split: None,
            coinjoin: None,
            consolidation: None,
            deposits: Vec::new(),
            innocent_deposits: Vec::new(),
            mule_coins: Vec::new(),
        }
    }

    pub(super) fn play(&mut self, height: u32, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        for event in events_at(height) {
            match event {
                Event::Routine(Business::CustomerDeposit(i)) => {
                    self.customer_deposit(i, econ, draft)?
                }
                Event::Routine(Business::InnocentDeposit(i)) => {
                    self.innocent_deposit(i, econ, draft)?
                }
                Event::Routine(Business::Withdrawal(i)) => self.withdrawal(i, econ, draft)?,
                Event::CleanFunding => self.clean_funding(econ, draft)?,
                Event::Theft => self.theft(econ, draft)?,
                Event::PeelHop(i) => self.peel_hop(i, econ, draft)?,
                Event::Split => self.split(econ, draft)?,
                Event::PremixFunding => self.premix_funding(econ, draft)?,
                Event::CoinJoin => self.coinjoin(econ, draft)?,
                Event::Consolidation => self.consolidation(econ, draft)?,
                Event::CoinJoinDeposit => self.coinjoin_deposit(econ, draft)?,
                Event::ParticipantDeposit => self.participant_deposit(econ, draft)?,
                Event::ConsolidationDeposit => self.consolidation_deposit(econ, draft)?,
            }
        }
        Ok(())
    }

    fn customer_deposit(&mut self, i: usize, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let to = self.cast.hot[i % self.cast.hot.len()].clone();
        let coin = self.pay_from_background(econ, draft, &to, CUSTOMER_DEPOSITS[i % 8])?;
        self.customer_deposits.push(Transfer {
            height: draft.height,
            output: self.output_ref(&coin),
        });
        self.hot_coins.push(coin);
        Ok(())
    }

    fn innocent_deposit(&mut self, k: usize, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let (exchange, customers) = if k.is_multiple_of(2) {
            (NORTHBANK, &self.cast.northbank_customers)
        } else {
            (KEYPORT, &self.cast.keyport_customers)
        };
        let to = customers[(k / 2) % customers.len()].clone();
        let coin = self.pay_from_background(econ, draft, &to, INNOCENT_AMOUNTS[k % 7])?;
        let deposit = self.deposit_record(exchange, &coin, draft.height, "unrelated wallet", false);
        self.innocent_deposits.push(Deposit {
            stolen_sats: Some(0),
            ..deposit
        });
        Ok(())
    }

    fn clean_funding(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let to = self.cast.clean.clone();
        let coin = self.pay_from_background(econ, draft, &to, CLEAN_FUNDING.1)?;
        self.clean_funding = Some(Transfer {
            height: draft.height,
            output: self.output_ref(&coin),
        });
        self.clean_coin = Some(coin);
        Ok(())
    }

    fn withdrawal(&mut self, i: usize, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let (_, amount) = WITHDRAWALS[i];
        let customer = self.cast.withdrawal_customers[i].clone();
        let change = self.cast.hot[0].clone();
        let inputs = take_largest(
            &mut self.hot_coins,
            amount,
            &[&customer.script, &change.script],
            15,
        )?;
        let outputs = vec![
            tx_out(customer.script.clone(), amount),
            tx_out(change.script.clone(), 0),
        ];
        let built = self.spend(econ, draft, &inputs, outputs, Some(1), 15)?;
        let paid = coin_at(&built, 0, &customer, draft.height);
        self.hot_coins
            .push(coin_at(&built, 1, &change, draft.height));
        self.withdrawals.push(Transfer {
            height: draft.height,
            output: self.output_ref(&paid),
        });
        Ok(())
    }

    fn theft(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let rate = 20;
        let thieves = self.cast.theft.clone();
        let change = self.cast.hot[1].clone();
        let stolen_total: u64 = STOLEN.iter().sum();
        let scripts: Vec<&ScriptBuf> = thieves
            .iter()
            .map(|a| &a.script)
            .chain([&change.script])
            .collect();
        let inputs = take_largest(&mut self.hot_coins, stolen_total, &scripts, rate)?;
        let mut outputs: Vec<TxOut> = thieves
            .iter()
            .zip(STOLEN)
            .map(|(a, v)| tx_out(a.script.clone(), v))
            .collect();
        outputs.push(tx_out(change.script.clone(), 0));
        let built = self.spend(econ, draft, &inputs, outputs, Some(STOLEN.len()), rate)?;
        self.theft_coins = thieves
            .iter()
            .enumerate()
            .map(|(i, a)| coin_at(&built, i, a, draft.height))
            .collect();
        let change_coin = coin_at(&built, STOLEN.len(), &change, draft.height);
        self.hot_coins.push(change_coin);
        self.theft = Some(Theft {
            txid: built.tx.compute_txid().to_string(),
            height: draft.height,
            inputs: inputs.iter().map(|c| self.output_ref(c)).collect(),
            stolen_outputs: self
                .theft_coins
                .iter()
                .map(|c| self.output_ref(c))
                .collect(),
            stolen_total_sats: stolen_total,
            change: self.output_ref(&change_coin),
            fee_sats: built.fee,
        });
        Ok(())
    }

    fn peel_hop(&mut self, i: usize, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let input = if i == 0 {
            self.theft_coins.first().copied()
        } else {
            self.peel_tip
        };
        let input = input.ok_or_else(|| missing("peel chain input"))?;
        let (amount, peel) = PEELS[i];
        let (dest, label) = match peel {
            Peel::Mule(_) => {
                let mule_index = PEELS[..i]
                    .iter()
                    .filter(|(_, p)| matches!(p, Peel::Mule(_)))
                    .count();
                (self.cast.mules[mule_index].clone(), "mule".to_owned())
            }
            Peel::Premix => (self.cast.premix.clone(), "coinjoin_premix".to_owned()),
            Peel::Exchange(name, slot) => (
                self.cast.exchange_thief(name, slot).clone(),
                format!("exchange:{name}"),
            ),
        };
        let change = self.cast.peel_changes[i].clone();
        let peel_first = self.rng.chance(500);
        let (peel_vout, change_vout) = if peel_first { (0, 1) } else { (1, 0) };
        let mut outputs = vec![tx_out(change.script.clone(), 0); 2];
        outputs[peel_vout] = tx_out(dest.script.clone(), amount);
        let built = self.spend(
            econ,
            draft,
            &[input],
            outputs,
            Some(change_vout),
            PEEL_RATES[i],
        )?;
        let peel_coin = coin_at(&built, peel_vout, &dest, draft.height);
        let change_coin = coin_at(&built, change_vout, &change, draft.height);
        match peel {
            Peel::Mule(_) => self.mule_coins.push(peel_coin),
            Peel::Premix => self.thief_premix = Some(peel_coin),
            Peel::Exchange(name, _) => {
                let source = format!("peel_chain hop {}", i + 1);
                let deposit = self.deposit_record(name, &peel_coin, draft.height, &source, true);
                self.deposits.push(Deposit {
                    stolen_sats: Some(peel_coin.value),
                    haircut_stolen_sats: peel_coin.value,
                    ..deposit
                });
            }
        }
        self.peel_chain.push(PeelHop {
            hop: i as u32 + 1,
            txid: built.tx.compute_txid().to_string(),
            height: draft.height,
            input: self.output_ref(&input),
            peel: self.output_ref(&peel_coin),
            peel_destination: label,
            change: self.output_ref(&change_coin),
            fee_sats: built.fee,
        });
        self.peel_tip = Some(change_coin);
        Ok(())
    }

    fn split(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let input = *self
            .theft_coins
            .get(1)
            .ok_or_else(|| missing("split input"))?;
        let addrs = self.cast.split.clone();
        let outputs = addrs
            .iter()
            .map(|a| tx_out(a.script.clone(), SPLIT_VALUE))
            .collect();
        let built = self.spend(econ, draft, &[input], outputs, Some(SPLIT_OUTPUTS - 1), 10)?;
        self.split_coins = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| coin_at(&built, i, a, draft.height))
            .collect();
        self.split = Some(Split {
            txid: built.tx.compute_txid().to_string(),
            height: draft.height,
            input: self.output_ref(&input),
            outputs: self
                .split_coins
                .iter()
                .map(|c| self.output_ref(c))
                .collect(),
            fee_sats: built.fee,
        });
        Ok(())
    }

    fn premix_funding(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        for addr in self.cast.participant_premix.clone() {
            let coin = self.pay_from_background(econ, draft, &addr, CJ_INPUT)?;
            self.participant_premix.push(coin);
        }
        Ok(())
    }

    fn coinjoin(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let thief_in = self.thief_premix.ok_or_else(|| missing("thief premix"))?;
        let mut inputs: Vec<(Coin, String)> = vec![(thief_in, "thief".to_owned())];
        for (n, coin) in self.participant_premix.iter().enumerate() {
            inputs.push((*coin, format!("participant {}", n + 1)));
        }
        let mut outputs: Vec<(Addr, String)> =
            vec![(self.cast.cj_output.clone(), "thief".to_owned())];
        for (n, addr) in self.cast.participant_outputs.iter().enumerate() {
            outputs.push((addr.clone(), format!("participant {}", n + 1)));
        }
        self.rng.shuffle(&mut inputs);
        self.rng.shuffle(&mut outputs);
        let coins: Vec<Coin> = inputs.iter().map(|(c, _)| *c).collect();
        let txouts = outputs
            .iter()
            .map(|(a, _)| tx_out(a.script.clone(), CJ_DENOMINATION))
            .collect();
        let built = self.spend(econ, draft, &coins, txouts, None, 0)?;
        if built.fee != CJ_FEE {
            return Err(format!("CoinJoin fee {} differs from {CJ_FEE}", built.fee));
        }
        let mut recorded_outputs = Vec::new();
        for (vout, (addr, owner)) in outputs.iter().enumerate() {
            let coin = coin_at(&built, vout, addr, draft.height);
            if owner == "thief" {
                self.cj_thief_out = Some(coin);
            } else {
                self.cj_participant_outs.push(coin);
            }
            recorded_outputs.push(CoinJoinOutput {
                output: self.output_ref(&coin),
                owner: owner.clone(),
            });
        }
        let tainted_index = inputs.iter().position(|(_, o)| o == "thief").unwrap_or(0);
        self.cj_tainted_share = (thief_in.value, total_value(&coins));
        self.coinjoin = Some(CoinJoin {
            txid: built.tx.compute_txid().to_string(),
            height: draft.height,
            denomination_sats: CJ_DENOMINATION,
            fee_sats: built.fee,
            inputs: inputs
                .iter()
                .map(|(c, owner)| CoinJoinInput {
                    input: self.output_ref(c),
                    owner: owner.clone(),
                    tainted: owner == "thief",
                })
                .collect(),
            tainted_input_index: tainted_index as u32,
            outputs: recorded_outputs,
            thief_output_vout: self.cj_thief_out.map(|c| c.outpoint.vout).unwrap_or(0),
        });
        Ok(())
    }

    fn consolidation(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let clean = self.clean_coin.ok_or_else(|| missing("clean coin"))?;
        let tainted: Vec<Coin> = self
            .split_coins
            .iter()
            .take(CONSOLIDATED_SPLITS)
            .copied()
            .collect();
        // The clean coin sits between stolen ones, as a wallet's coin selection would put it.
        let mut inputs = tainted.clone();
        inputs.insert(tainted.len() / 2, clean);
        let to = self.cast.consolidation.clone();
        let built = self.spend(
            econ,
            draft,
            &inputs,
            vec![tx_out(to.script.clone(), 0)],
            Some(0),
            6,
        )?;
        let coin = coin_at(&built, 0, &to, draft.height);
        self.consolidated = Some(coin);
        self.consolidation_tainted_share = (total_value(&tainted), total_value(&inputs));
        self.consolidation = Some(Consolidation {
            txid: built.tx.compute_txid().to_string(),
            height: draft.height,
            tainted_inputs: tainted.iter().map(|c| self.output_ref(c)).collect(),
            clean_inputs: vec![self.output_ref(&clean)],
            output: self.output_ref(&coin),
            fee_sats: built.fee,
        });
        Ok(())
    }

    fn coinjoin_deposit(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let coin = self
            .cj_thief_out
            .ok_or_else(|| missing("thief CoinJoin output"))?;
        let to = self.cast.northbank_thief[0].clone();
        let deposited = self.sweep_to(econ, draft, coin, &to, 8)?;
        let deposit = self.deposit_record(NORTHBANK, &deposited, draft.height, "coinjoin", true);
        let haircut = share_of(deposited.value, self.cj_tainted_share);
        self.deposits.push(Deposit {
            haircut_stolen_sats: haircut,
            ..deposit
        });
        Ok(())
    }

    fn participant_deposit(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let coin = *self
            .cj_participant_outs
            .first()
            .ok_or_else(|| missing("participant output"))?;
        let to = self.cast.keyport_customers[0].clone();
        let deposited = self.sweep_to(econ, draft, coin, &to, 8)?;
        let deposit = self.deposit_record(
            KEYPORT,
            &deposited,
            draft.height,
            "coinjoin participant",
            false,
        );
        let haircut = share_of(deposited.value, self.cj_tainted_share);
        self.innocent_deposits.push(Deposit {
            haircut_stolen_sats: haircut,
            ..deposit
        });
        Ok(())
    }

    fn consolidation_deposit(&mut self, econ: &mut Economy, draft: &mut BlockDraft) -> Step {
        let coin = self
            .consolidated
            .ok_or_else(|| missing("consolidation output"))?;
        let to = self.cast.keyport_thief[1].clone();
        let deposited = self.sweep_to(econ, draft, coin, &to, 10)?;
        let deposit = self.deposit_record(KEYPORT, &deposited, draft.height, "consolidation", true);
        let haircut = share_of(deposited.value, self.consolidation_tainted_share);
        self.deposits.push(Deposit {
            haircut_stolen_sats: haircut,
            ..deposit
        });
        Ok(())
    }

    fn entities(&self) -> Entities {
        let addresses = |list: &[Addr]| list.iter().map(|a| a.address.clone()).collect::<Vec<_>>();
        let deposit_addresses = |thief: &[Addr], customers: &[Addr]| {
            let owned = |list: &[Addr], owner: &str| {
                list.iter()
                    .map(|a| DepositAddress {
                        address: a.address.clone(),
                        owner: owner.to_owned(),
                    })
                    .collect::<Vec<_>>()
            };
            let mut all = owned(thief, "thief");
            all.extend(owned(customers, "customer"));
            all
        };
        let cast = &self.cast;
        Entities {
            exchanges: vec![
                Exchange {
                    name: BITVAULT.to_owned(),
                    hot_wallet: addresses(&cast.hot),
                    deposit_addresses: Vec::new(),
                },
                Exchange {
                    name: NORTHBANK.to_owned(),
                    hot_wallet: Vec::new(),
                    deposit_addresses: deposit_addresses(
                        &cast.northbank_thief,
                        &cast.northbank_customers,
                    ),
                },
                Exchange {
                    name: KEYPORT.to_owned(),
                    hot_wallet: Vec::new(),
                    deposit_addresses: deposit_addresses(
                        &cast.keyport_thief,
                        &cast.keyport_customers,
                    ),
                },
            ],
            thief: Thief {
                theft_addresses: addresses(&cast.theft),
                clean_address: cast.clean.address.clone(),
                peel_change_addresses: addresses(&cast.peel_changes),
                mule_addresses: addresses(&cast.mules),
                split_addresses: addresses(&cast.split),
                consolidation_address: cast.consolidation.address.clone(),
                coinjoin_premix_address: cast.premix.address.clone(),
                coinjoin_output_address: cast.cj_output.address.clone(),
            },
            coinjoin_participants: addresses(&cast.participant_premix)
                .into_iter()
                .chain(addresses(&cast.participant_outputs))
                .collect(),
        }
    }

    fn unspent_stolen(&self) -> Vec<OutputRef> {
        let dormant = self
            .theft_coins
            .iter()
            .skip(2)
            .chain(self.split_coins.iter().skip(CONSOLIDATED_SPLITS));
        dormant
            .chain(self.mule_coins.iter())
            .chain(self.peel_tip.iter())
            .map(|c| self.output_ref(c))
            .collect()
    }

    pub(super) fn into_manifest(
        self,
        blocks: &[GeneratedBlock],
        tip: bitcoin::BlockHash,
    ) -> io::Result<HeistManifest> {
        let incomplete =
            |what: &str| io::Error::other(format!("heist scenario did not record the {what}"));
        let entities = self.entities();
        let unspent_stolen = self.unspent_stolen();
        Ok(HeistManifest {
            format: 1,
            network: "regtest".to_owned(),
            story: STORY.to_owned(),
            taint_conventions: TAINT_CONVENTIONS.to_owned(),
            chain: chain_facts(blocks, tip),
            entities,
            customer_deposits: self.customer_deposits,
            hot_wallet_withdrawals: self.withdrawals,
            thief_clean_funding: self
                .clean_funding
                .ok_or_else(|| incomplete("clean funding"))?,
            theft: self.theft.ok_or_else(|| incomplete("theft"))?,
            peel_chain: self.peel_chain,
            split: self.split.ok_or_else(|| incomplete("split"))?,
            coinjoin: self.coinjoin.ok_or_else(|| incomplete("CoinJoin"))?,
            consolidation: self
                .consolidation
                .ok_or_else(|| incomplete("consolidation"))?,
            deposits: self.deposits,
            innocent_deposits: self.innocent_deposits,
            unspent_stolen,
        })
    }
}
