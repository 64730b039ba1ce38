//! Building one multi-party transaction from seats (inputs) and slots (outputs) whose owners
//! are known, and recording its ground truth: who sits where, and which owners a clusterer
//! must keep apart.

use std::collections::BTreeMap;

use bitcoin::{absolute, transaction, ScriptBuf, Sequence, TxOut};

use super::manifest::{MixInput, MixOutput, MixingTx, SeparatePair};
use super::story::Story;
use crate::chain::BlockDraft;
use crate::economy::Economy;
use crate::heist::OutputRef;
use crate::scenario::{coin_at, Addr, Scenario};
use crate::txbuild::{tx_out, Coin};

pub(super) const THIEF: &str = "thief";

/// An input and who brings it.
pub(super) struct Seat {
    pub(super) coin: Coin,
    pub(super) owner: String,
}

/// An output, who receives it, and what it is for.
pub(super) struct Slot {
    /// `None` for data outputs (OP_RETURN), which nobody can spend.
    pub(super) addr: Option<Addr>,
    pub(super) script: ScriptBuf,
    pub(super) value: u64,
    pub(super) owner: String,
    pub(super) role: &'static str,
}

impl Slot {
    pub(super) fn to(addr: &Addr, value: u64, owner: &str, role: &'static str) -> Slot {
        Slot {
            addr: Some(addr.clone()),
            script: addr.script.clone(),
            value,
            owner: owner.to_owned(),
            role,
        }
    }
}

pub(super) fn seat(coin: Coin, owner: &str) -> Seat {
    Seat {
        coin,
        owner: owner.to_owned(),
    }
}

/// A round: the fee is whatever the inputs leave over the outputs, as in every CoinJoin where
/// each participant's share is fixed in advance.
pub(super) struct Round {
    pub(super) protocol: &'static str,
    pub(super) denomination: u64,
    pub(super) coordinator_fee: Option<u64>,
    pub(super) seats: Vec<Seat>,
    pub(super) slots: Vec<Slot>,
    /// Whirlpool transactions are version 1 with lock time 0 (`whirlpool-client` tx0.rs).
    pub(super) version_one: bool,
    /// The mining fee the plan implies; a mismatch means the plan's amounts are wrong.
    pub(super) fee: u64,
}

impl Story {
    /// Builds, queues and records the round; returns each output's coin (`None` for data
    /// outputs) in vout order.
    pub(super) fn play_round(
        &mut self,
        econ: &mut Economy,
        draft: &mut BlockDraft,
        round: Round,
    ) -> Result<Vec<Option<Coin>>, String> {
        let coins: Vec<Coin> = round.seats.iter().map(|s| s.coin).collect();
        let txouts: Vec<TxOut> = round
            .slots
            .iter()
            .map(|s| tx_out(s.script.clone(), s.value))
            .collect();
        let mut built = self.build(econ, draft.height, &coins, txouts, None, 0)?;
        if built.fee != round.fee {
            let (protocol, fee) = (round.protocol, built.fee);
            return Err(format!(
                "{protocol} pays {fee} sat, the plan says {}",
                round.fee
            ));
        }
        if round.version_one {
            built.tx.version = transaction::Version::ONE;
            built.tx.lock_time = absolute::LockTime::ZERO;
            for input in &mut built.tx.input {
                input.sequence = Sequence::MAX;
            }
        }
        self.commit(draft, &built);
        let outputs: Vec<Option<Coin>> = round
            .slots
            .iter()
            .enumerate()
            .map(|(vout, slot)| {
                let coin = slot
                    .addr
                    .as_ref()
                    .map(|a| coin_at(&built, vout, a, draft.height));
                match coin {
                    Some(c) if slot.owner == THIEF => Some(self.thief_gets(c)),
                    other => other,
                }
            })
            .collect();
        let txid = built.tx.compute_txid().to_string();
        let record = self.mixing_record(&round, &outputs, &txid, draft.height, built.fee);
        if round.protocol != "whirlpool-tx0" {
            self.keep_apart(&round.seats, &txid, round.protocol);
        }
        self.record.mixes.push(record);
        Ok(outputs)
    }

    fn mixing_record(
        &self,
        round: &Round,
        outputs: &[Option<Coin>],
        txid: &str,
        height: u32,
        fee: u64,
    ) -> MixingTx {
        let inputs: Vec<MixInput> = round
            .seats
            .iter()
            .map(|s| MixInput {
                input: self.output_ref(&s.coin),
                owner: s.owner.clone(),
                tainted: s.owner == THIEF,
            })
            .collect();
        let recorded_outputs = round
            .slots
            .iter()
            .zip(outputs)
            .enumerate()
            .map(|(vout, (slot, coin))| MixOutput {
                output: match coin {
                    Some(c) => self.output_ref(c),
                    None => data_output_ref(txid, vout, slot.value),
                },
                owner: slot.owner.clone(),
                role: slot.role.to_owned(),
            })
            .collect();
        let owners: BTreeMap<&str, ()> = round.seats.iter().map(|s| (&*s.owner, ())).collect();
        MixingTx {
            txid: txid.to_owned(),
            height,
            protocol: round.protocol.to_owned(),
            denomination_sats: round.denomination,
            equal_output_values_sats: equal_values(&round.slots),
            participants: owners.len() as u32,
            fee_sats: fee,
            coordinator_fee_sats: round.coordinator_fee,
            inputs,
            outputs: recorded_outputs,
            thief_inputs: positions(round.seats.iter().map(|s| &s.owner)),
            thief_outputs: positions(round.slots.iter().map(|s| &s.owner)),
        }
    }

    /// The thief must not share a cluster with any co-participant, nor strangers with each
    /// other: one pair per stranger against the thief (or against the first stranger when the
    /// thief is absent), plus consecutive strangers.
    fn keep_apart(&mut self, seats: &[Seat], txid: &str, protocol: &str) {
        let mut firsts: Vec<(&str, String)> = Vec::new();
        for s in seats {
            if !firsts.iter().any(|(owner, _)| *owner == s.owner) {
                firsts.push((s.owner.as_str(), self.address_of(&s.coin)));
            }
        }
        firsts.sort_by_key(|(owner, _)| *owner != THIEF);
        let reason = format!("{protocol} co-participants");
        let mut pairs = Vec::new();
        for (i, (_, address)) in firsts.iter().enumerate().skip(1) {
            pairs.push((firsts[0].1.clone(), address.clone()));
            if i >= 2 {
                pairs.push((firsts[i - 1].1.clone(), address.clone()));
            }
        }
        for (a, b) in pairs {
            self.record.apart.push(SeparatePair {
                a,
                b,
                txid: txid.to_owned(),
                reason: reason.clone(),
            });
        }
    }
}

fn data_output_ref(txid: &str, vout: usize, value: u64) -> OutputRef {
    OutputRef {
        txid: txid.to_owned(),
        vout: vout as u32,
        address: String::new(),
        value_sats: value,
    }
}

/// Output values that occur at least twice, descending.
fn equal_values(slots: &[Slot]) -> Vec<u64> {
    let mut counts: BTreeMap<u64, u32> = BTreeMap::new();
    for slot in slots {
        *counts.entry(slot.value).or_default() += 1;
    }
    counts
        .into_iter()
        .rev()
        .filter(|(_, n)| *n >= 2)
        .map(|(v, _)| v)
        .collect()
}

fn positions<'a>(owners: impl Iterator<Item = &'a String>) -> Vec<u32> {
    owners
        .enumerate()
        .filter(|(_, owner)| *owner == THIEF)
        .map(|(i, _)| i as u32)
        .collect()
}
