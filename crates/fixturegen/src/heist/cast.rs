//! Every address the story uses.

use super::plot::{Peel, CJ_PARTICIPANTS, PEELS, SPLIT_OUTPUTS};
use super::NORTHBANK;
use crate::scenario::{Addr, Minter};
use crate::scripts::ScriptKind;

/// Every address in the story, minted up front so the manifest can list them all.
pub(super) struct Cast {
    pub(super) hot: Vec<Addr>,
    pub(super) northbank_thief: Vec<Addr>,
    pub(super) northbank_customers: Vec<Addr>,
    pub(super) keyport_thief: Vec<Addr>,
    pub(super) keyport_customers: Vec<Addr>,
    pub(super) withdrawal_customers: Vec<Addr>,
    pub(super) theft: Vec<Addr>,
    pub(super) clean: Addr,
    pub(super) peel_changes: Vec<Addr>,
    pub(super) mules: Vec<Addr>,
    pub(super) split: Vec<Addr>,
    pub(super) consolidation: Addr,
    pub(super) premix: Addr,
    pub(super) cj_output: Addr,
    pub(super) participant_premix: Vec<Addr>,
    pub(super) participant_outputs: Vec<Addr>,
}

impl Cast {
    pub(super) fn new(minter: &mut Minter) -> Cast {
        use ScriptKind::*;
        let mules = PEELS
            .iter()
            .filter_map(|(_, peel)| match peel {
                Peel::Mule(kind) => Some(minter.mint(*kind)),
                _ => None,
            })
            .collect();
        Cast {
            hot: minter.mint_n(P2wsh, 2),
            northbank_thief: minter.mint_n(P2wpkh, 2),
            northbank_customers: minter.mint_n(P2wpkh, 4),
            keyport_thief: minter.mint_n(P2shP2wpkh, 2),
            keyport_customers: minter.mint_n(P2shP2wpkh, 4),
            withdrawal_customers: vec![minter.mint(P2pkh), minter.mint(P2wpkh)],
            theft: vec![minter.mint(P2wpkh), minter.mint(P2wpkh), minter.mint(P2tr)],
            clean: minter.mint(P2wpkh),
            peel_changes: minter.mint_n(P2wpkh, PEELS.len()),
            mules,
            split: minter.mint_n(P2wpkh, SPLIT_OUTPUTS),
            consolidation: minter.mint(P2wpkh),
            premix: minter.mint(P2wpkh),
            cj_output: minter.mint(P2wpkh),
            participant_premix: minter.mint_n(P2wpkh, CJ_PARTICIPANTS),
            participant_outputs: minter.mint_n(P2wpkh, CJ_PARTICIPANTS),
        }
    }

    pub(super) fn exchange_thief(&self, exchange: &str, index: usize) -> &Addr {
        if exchange == NORTHBANK {
            &self.northbank_thief[index]
        } else {
            &self.keyport_thief[index]
        }
    }
}
