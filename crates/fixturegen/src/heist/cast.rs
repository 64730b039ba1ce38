//! Every address the story uses.

use bitcoin::{Address, Network, ScriptBuf};

use super::plot::{Peel, CJ_PARTICIPANTS, PEELS, SPLIT_OUTPUTS};
use super::NORTHBANK;
use crate::keys::KeyFactory;
use crate::scripts::{p2pk_key_hash, script_pubkey, ScriptKind};

/// An address the story controls.
#[derive(Clone, Debug)]
pub(crate) struct Addr {
    pub(crate) kind: ScriptKind,
    pub(crate) key_id: u64,
    pub(crate) script: ScriptBuf,
    pub(crate) address: String,
}

/// Mints story addresses from consecutive key ids (scenarios start it in their own namespace).
pub(crate) struct Minter {
    pub(crate) keys: KeyFactory,
    pub(crate) next: u64,
}

impl Minter {
    pub(crate) fn mint(&mut self, kind: ScriptKind) -> Addr {
        self.next += 1;
        let key_id = self.next;
        let script = script_pubkey(&self.keys, kind, key_id);
        let address = address_string(&self.keys, kind, key_id, &script);
        Addr {
            kind,
            key_id,
            script,
            address,
        }
    }

    pub(crate) fn mint_n(&mut self, kind: ScriptKind, n: usize) -> Vec<Addr> {
        (0..n).map(|_| self.mint(kind)).collect()
    }
}

pub(crate) fn address_string(
    keys: &KeyFactory,
    kind: ScriptKind,
    key_id: u64,
    script: &ScriptBuf,
) -> String {
    if let Some(hash) = p2pk_key_hash(keys, kind, key_id) {
        return Address::p2pkh(hash, Network::Regtest).to_string();
    }
    Address::from_script(script, Network::Regtest)
        .map(|a| a.to_string())
        .unwrap_or_default()
}

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
