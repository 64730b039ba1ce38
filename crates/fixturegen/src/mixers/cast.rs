//! Every address the story uses, minted up front so the manifest can list them all.

use super::plot::*;
use super::QUAYSIDE;
use crate::scenario::{Addr, Minter};
use crate::scripts::ScriptKind;

/// The thief's addresses.
pub(super) struct Thief {
    /// Receives the stolen output.
    pub(super) theft: Addr,
    /// One per output of the first distribution, in its order; the last takes the rest.
    /// Outputs for the consolidations go to `wallet` instead, leaving their slots unused.
    pub(super) distribution: Vec<Addr>,
    /// Takes the rest of the second distribution (never spent).
    pub(super) reserve: Addr,
    /// The reused wallet addresses the consolidations co-spend.
    pub(super) wallet: Vec<Addr>,
    pub(super) consolidated: Vec<Addr>,
    /// The JoinMarket taker input the last consolidation pays.
    pub(super) taker: Addr,
    pub(super) tx0_premix: Vec<Addr>,
    pub(super) tx0_change: Addr,
    pub(super) whirlpool_out: Addr,
    pub(super) wasabi1_out: Addr,
    pub(super) wasabi1_change: Addr,
    pub(super) wasabi2_out: Vec<Addr>,
    pub(super) joinmarket_out: Addr,
    pub(super) joinmarket_change: Addr,
    pub(super) stonewall_change: Addr,
    pub(super) peel_changes: Vec<Addr>,
    /// Deposit accounts at Tallyport (index 0) and Quayside (index 1), two each.
    pub(super) deposit: [Vec<Addr>; 2],
}

/// One uninvolved participant: its input addresses and its output addresses.
pub(super) struct Stranger {
    pub(super) inputs: Vec<Addr>,
    pub(super) outputs: Vec<Addr>,
}

pub(super) struct Cast {
    pub(super) hot: Vec<Addr>,
    pub(super) thief: Thief,
    /// Payees of the peel chain's non-exchange peels, one per hop (exchange hops leave theirs
    /// unused so hop numbers index the list directly).
    pub(super) peel_payees: Vec<Addr>,
    pub(super) withdrawal_customers: Vec<Addr>,
    /// Innocent deposit accounts at Tallyport (index 0) and Quayside (index 1).
    pub(super) customers: [Vec<Addr>; 2],
    pub(super) whirlpool_coordinator: Addr,
    pub(super) wasabi_coordinator: Addr,
    /// Input: the Tx0 funding; outputs: the Tx0's premixes, its change, and the mixed output.
    pub(super) new_entrant: Stranger,
    pub(super) remixers: Vec<Stranger>,
    /// One per round participant; the thief's slot is minted but unused, so participant
    /// numbers index the lists directly.
    pub(super) wasabi1: Vec<Stranger>,
    pub(super) wasabi2: Vec<Stranger>,
    pub(super) makers: Vec<Stranger>,
    /// Inputs: the collaborator's coin; outputs: its decoy and its change.
    pub(super) collaborator: Stranger,
    pub(super) vendor: Addr,
}

impl Cast {
    pub(super) fn new(minter: &mut Minter) -> Cast {
        use ScriptKind::*;
        Cast {
            hot: minter.mint_n(P2wpkh, 2),
            thief: Thief::new(minter),
            peel_payees: minter.mint_n(P2wpkh, PEEL_HOPS),
            withdrawal_customers: minter.mint_n(P2wpkh, WITHDRAWALS.len()),
            customers: [minter.mint_n(P2wpkh, 3), minter.mint_n(P2wpkh, 3)],
            whirlpool_coordinator: minter.mint(P2wpkh),
            wasabi_coordinator: minter.mint(P2wpkh),
            new_entrant: stranger(minter, 1, STRANGER_TX0_PREMIXES + 2, P2wpkh),
            remixers: (0..REMIXERS)
                .map(|_| stranger(minter, 1, 1, P2wpkh))
                .collect(),
            wasabi1: WASABI1_PARTICIPANTS
                .iter()
                .map(|inputs| stranger(minter, inputs.len(), 2, P2wpkh))
                .collect(),
            wasabi2: WASABI2_PARTICIPANTS
                .iter()
                .map(|p| {
                    let kind = if p.taproot { P2tr } else { P2wpkh };
                    stranger(minter, p.inputs.len(), p.outputs.len(), kind)
                })
                .collect(),
            makers: JOINMARKET_MAKERS
                .iter()
                .map(|(inputs, _)| stranger(minter, inputs.len(), 2, P2wpkh))
                .collect(),
            collaborator: stranger(minter, 1, 2, P2wpkh),
            vendor: minter.mint(P2wpkh),
        }
    }

    /// The thief's deposit account `index` at `exchange`.
    pub(super) fn thief_deposit(&self, exchange: &str, index: usize) -> &Addr {
        &self.thief.deposit[exchange_slot(exchange)][index]
    }

    /// An innocent customer's deposit account at `exchange`.
    pub(super) fn customer(&self, exchange: &str, index: usize) -> &Addr {
        let list = &self.customers[exchange_slot(exchange)];
        &list[index % list.len()]
    }
}

/// Tallyport's accounts come first in the per-exchange arrays, Quayside's second.
fn exchange_slot(exchange: &str) -> usize {
    usize::from(exchange == QUAYSIDE)
}

fn stranger(minter: &mut Minter, inputs: usize, outputs: usize, kind: ScriptKind) -> Stranger {
    Stranger {
        inputs: minter.mint_n(kind, inputs),
        outputs: minter.mint_n(kind, outputs),
    }
}

impl Thief {
    fn new(minter: &mut Minter) -> Thief {
        let p2wpkh = ScriptKind::P2wpkh;
        let mut mint = |n| minter.mint_n(p2wpkh, n);
        Thief {
            theft: mint(1).remove(0),
            distribution: mint(DISTRIBUTION.len() + 1),
            reserve: mint(1).remove(0),
            wallet: mint(WALLET_ADDRESSES),
            consolidated: mint(CONSOLIDATION_HEIGHTS.len()),
            taker: mint(1).remove(0),
            tx0_premix: mint(TX0_PREMIXES),
            tx0_change: mint(1).remove(0),
            whirlpool_out: mint(1).remove(0),
            wasabi1_out: mint(1).remove(0),
            wasabi1_change: mint(1).remove(0),
            wasabi2_out: mint(WASABI2_PARTICIPANTS[WASABI2_THIEF].outputs.len()),
            joinmarket_out: mint(1).remove(0),
            joinmarket_change: mint(1).remove(0),
            stonewall_change: mint(1).remove(0),
            peel_changes: mint(PEEL_HOPS),
            deposit: [mint(2), mint(2)],
        }
    }
}
