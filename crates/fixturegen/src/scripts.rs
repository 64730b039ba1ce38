//! Output scripts, the matching unlocking data, and a public classifier for output scripts.

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::opcodes::all::{OP_CHECKMULTISIG, OP_CHECKSIG, OP_EQUAL, OP_HASH256, OP_PUSHNUM_1};
use bitcoin::opcodes::OP_0;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::{PubkeyHash, Script, ScriptBuf, ScriptHash, WPubkeyHash, WScriptHash, Witness};

use crate::keys::{der_signature, schnorr_signature, KeyFactory};
use crate::rng::Rng;

/// The kinds of output a simulated wallet can own and later spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ScriptKind {
    P2pkh,
    P2shP2wpkh,
    P2wpkh,
    /// 2-of-3 multisig behind P2WSH.
    P2wsh,
    /// Key-path taproot.
    P2tr,
    P2pkCompressed,
    P2pkUncompressed,
    /// 1-of-2 or 1-of-3 bare `OP_CHECKMULTISIG`, as left behind by old protocols.
    BareMultisig,
    /// `OP_HASH256 <h> OP_EQUAL`: a hash puzzle, spendable by anyone who knows the preimage.
    HashPuzzle,
}

/// Wallet address-type popularity, in per mille.
const KIND_WEIGHTS: [(ScriptKind, u64); 8] = [
    (ScriptKind::P2wpkh, 340),
    (ScriptKind::P2pkh, 200),
    (ScriptKind::P2shP2wpkh, 140),
    (ScriptKind::P2tr, 140),
    (ScriptKind::P2wsh, 80),
    (ScriptKind::P2pkCompressed, 40),
    (ScriptKind::P2pkUncompressed, 30),
    (ScriptKind::BareMultisig, 30),
];

impl ScriptKind {
    pub(crate) fn random(rng: &mut Rng) -> ScriptKind {
        let mut roll = rng.below(1000);
        for (kind, weight) in KIND_WEIGHTS {
            if roll < weight {
                return kind;
            }
            roll -= weight;
        }
        ScriptKind::P2wpkh
    }

    /// Upper bound of the weight one input of this kind adds, including the one-byte empty
    /// witness that legacy inputs get in a segwit transaction. Signatures are at most 72 bytes.
    pub(crate) fn input_weight_bound(self) -> u64 {
        // Outpoint, sequence and a one-byte script length: 41 non-witness bytes.
        const BASE: u64 = 41 * 4;
        const SIG: u64 = 1 + 72;
        const PUBKEY: u64 = 1 + 33;
        let (script_sig, witness) = match self {
            ScriptKind::P2pkh => (SIG + PUBKEY, 1),
            ScriptKind::P2shP2wpkh => (23, 1 + SIG + PUBKEY),
            ScriptKind::P2wpkh => (0, 1 + SIG + PUBKEY),
            ScriptKind::P2wsh => (0, 1 + 1 + 2 * SIG + 1 + 105),
            ScriptKind::P2tr => (0, 1 + 1 + 64),
            ScriptKind::P2pkCompressed | ScriptKind::P2pkUncompressed => (SIG, 1),
            ScriptKind::BareMultisig => (1 + SIG, 1),
            ScriptKind::HashPuzzle => (33, 1),
        };
        BASE + script_sig * 4 + witness
    }
}

/// Classification of an output script, for tests and statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutputType {
    P2pkh,
    P2sh,
    P2wpkh,
    P2wsh,
    P2tr,
    /// Pay-to-pubkey with a 33-byte key.
    P2pkCompressed,
    /// Pay-to-pubkey with a 65-byte key.
    P2pkUncompressed,
    BareMultisig,
    OpReturn,
    /// Anything else: no address can be derived for it.
    NonStandard,
}

impl OutputType {
    pub fn of(script: &Script) -> OutputType {
        if script.is_p2pkh() {
            OutputType::P2pkh
        } else if script.is_p2sh() {
            OutputType::P2sh
        } else if script.is_p2wpkh() {
            OutputType::P2wpkh
        } else if script.is_p2wsh() {
            OutputType::P2wsh
        } else if script.is_p2tr() {
            OutputType::P2tr
        } else if script.is_p2pk() {
            if script.len() == 35 {
                OutputType::P2pkCompressed
            } else {
                OutputType::P2pkUncompressed
            }
        } else if script.is_multisig() {
            OutputType::BareMultisig
        } else if script.is_op_return() {
            OutputType::OpReturn
        } else {
            OutputType::NonStandard
        }
    }
}

pub(crate) fn push(builder: Builder, data: &[u8]) -> Builder {
    let data = PushBytesBuf::try_from(data.to_vec()).expect("script pushes are far below 4 GiB");
    builder.push_slice(data)
}

fn multisig(keys: &KeyFactory, key_id: u64, required: i64, total: u8) -> ScriptBuf {
    let mut builder = Builder::new().push_int(required);
    for sub in 0..total {
        builder = builder.push_slice(keys.compressed(key_id, sub));
    }
    builder
        .push_int(i64::from(total))
        .push_opcode(OP_CHECKMULTISIG)
        .into_script()
}

/// The redeem script of a P2SH-wrapped P2WPKH output.
fn nested_redeem_script(keys: &KeyFactory, key_id: u64) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&WPubkeyHash::hash(&keys.compressed(key_id, 0)))
}

fn witness_script(keys: &KeyFactory, key_id: u64) -> ScriptBuf {
    multisig(keys, key_id, 2, 3)
}

/// Bare multisig alternates between 1-of-2 and 1-of-3 so both shapes appear.
fn bare_multisig_keys(key_id: u64) -> u8 {
    if key_id.is_multiple_of(2) {
        2
    } else {
        3
    }
}

pub(crate) fn script_pubkey(keys: &KeyFactory, kind: ScriptKind, key_id: u64) -> ScriptBuf {
    match kind {
        ScriptKind::P2pkh => ScriptBuf::new_p2pkh(&PubkeyHash::hash(&keys.compressed(key_id, 0))),
        ScriptKind::P2shP2wpkh => ScriptBuf::new_p2sh(&ScriptHash::hash(
            nested_redeem_script(keys, key_id).as_bytes(),
        )),
        ScriptKind::P2wpkh => {
            ScriptBuf::new_p2wpkh(&WPubkeyHash::hash(&keys.compressed(key_id, 0)))
        }
        ScriptKind::P2wsh => {
            ScriptBuf::new_p2wsh(&WScriptHash::hash(witness_script(keys, key_id).as_bytes()))
        }
        // Built by hand: XOnlyPublicKey would insist on a valid curve point.
        ScriptKind::P2tr => Builder::new()
            .push_opcode(OP_PUSHNUM_1)
            .push_slice(keys.xonly(key_id))
            .into_script(),
        ScriptKind::P2pkCompressed => Builder::new()
            .push_slice(keys.compressed(key_id, 0))
            .push_opcode(OP_CHECKSIG)
            .into_script(),
        ScriptKind::P2pkUncompressed => Builder::new()
            .push_slice(keys.uncompressed(key_id))
            .push_opcode(OP_CHECKSIG)
            .into_script(),
        ScriptKind::BareMultisig => multisig(keys, key_id, 1, bare_multisig_keys(key_id)),
        ScriptKind::HashPuzzle => Builder::new()
            .push_opcode(OP_HASH256)
            .push_slice(sha256d::Hash::hash(&keys.preimage(key_id)).to_byte_array())
            .push_opcode(OP_EQUAL)
            .into_script(),
    }
}

/// The P2PKH-equivalent key hash of a P2PK output, which is how explorers show such outputs.
pub(crate) fn p2pk_key_hash(
    keys: &KeyFactory,
    kind: ScriptKind,
    key_id: u64,
) -> Option<PubkeyHash> {
    match kind {
        ScriptKind::P2pkCompressed => Some(PubkeyHash::hash(&keys.compressed(key_id, 0))),
        ScriptKind::P2pkUncompressed => Some(PubkeyHash::hash(&keys.uncompressed(key_id))),
        _ => None,
    }
}

/// scriptSig and witness that spend an output of `kind` owned by `key_id`.
pub(crate) fn unlock(
    keys: &KeyFactory,
    kind: ScriptKind,
    key_id: u64,
    rng: &mut Rng,
) -> (ScriptBuf, Witness) {
    let mut witness = Witness::new();
    let script_sig = match kind {
        ScriptKind::P2pkh => {
            let sig = der_signature(rng);
            push(push(Builder::new(), &sig), &keys.compressed(key_id, 0)).into_script()
        }
        ScriptKind::P2shP2wpkh => {
            witness.push(der_signature(rng));
            witness.push(keys.compressed(key_id, 0));
            push(
                Builder::new(),
                nested_redeem_script(keys, key_id).as_bytes(),
            )
            .into_script()
        }
        ScriptKind::P2wpkh => {
            witness.push(der_signature(rng));
            witness.push(keys.compressed(key_id, 0));
            ScriptBuf::new()
        }
        ScriptKind::P2wsh => {
            // The leading empty item feeds OP_CHECKMULTISIG's off-by-one extra pop.
            witness.push([]);
            witness.push(der_signature(rng));
            witness.push(der_signature(rng));
            witness.push(witness_script(keys, key_id).as_bytes());
            ScriptBuf::new()
        }
        ScriptKind::P2tr => {
            witness.push(schnorr_signature(rng));
            ScriptBuf::new()
        }
        ScriptKind::P2pkCompressed | ScriptKind::P2pkUncompressed => {
            push(Builder::new(), &der_signature(rng)).into_script()
        }
        ScriptKind::BareMultisig => {
            push(Builder::new().push_opcode(OP_0), &der_signature(rng)).into_script()
        }
        ScriptKind::HashPuzzle => Builder::new()
            .push_slice(keys.preimage(key_id))
            .into_script(),
    };
    (script_sig, witness)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::{absolute, transaction, Amount, OutPoint, Sequence, Transaction, TxIn, TxOut};

    const ALL: [ScriptKind; 9] = [
        ScriptKind::P2pkh,
        ScriptKind::P2shP2wpkh,
        ScriptKind::P2wpkh,
        ScriptKind::P2wsh,
        ScriptKind::P2tr,
        ScriptKind::P2pkCompressed,
        ScriptKind::P2pkUncompressed,
        ScriptKind::BareMultisig,
        ScriptKind::HashPuzzle,
    ];

    #[test]
    fn scripts_classify_as_intended() {
        let keys = KeyFactory::new(1);
        let expect = [
            OutputType::P2pkh,
            OutputType::P2sh,
            OutputType::P2wpkh,
            OutputType::P2wsh,
            OutputType::P2tr,
            OutputType::P2pkCompressed,
            OutputType::P2pkUncompressed,
            OutputType::BareMultisig,
            OutputType::NonStandard,
        ];
        for (kind, want) in ALL.iter().zip(expect) {
            for key_id in 0..4 {
                assert_eq!(
                    OutputType::of(&script_pubkey(&keys, *kind, key_id)),
                    want,
                    "{kind:?}"
                );
            }
        }
    }

    #[test]
    fn weight_bounds_cover_real_inputs() {
        let keys = KeyFactory::new(2);
        let mut rng = Rng::new(2);
        for kind in ALL {
            for key_id in 0..20 {
                let (script_sig, witness) = unlock(&keys, kind, key_id, &mut rng);
                let input = TxIn {
                    previous_output: OutPoint::null(),
                    script_sig,
                    sequence: Sequence::MAX,
                    witness,
                };
                let one = Transaction {
                    version: transaction::Version::TWO,
                    lock_time: absolute::LockTime::ZERO,
                    input: vec![input.clone()],
                    output: vec![TxOut {
                        value: Amount::ZERO,
                        script_pubkey: ScriptBuf::new(),
                    }],
                };
                let mut two = one.clone();
                two.input.push(input);
                let added = two.weight().to_wu() - one.weight().to_wu();
                assert!(added <= kind.input_weight_bound(), "{kind:?}: {added}");
            }
        }
    }

    #[test]
    fn p2sh_wrapped_redeem_script_matches() {
        let keys = KeyFactory::new(3);
        let mut rng = Rng::new(3);
        let spk = script_pubkey(&keys, ScriptKind::P2shP2wpkh, 7);
        let (script_sig, witness) = unlock(&keys, ScriptKind::P2shP2wpkh, 7, &mut rng);
        let redeem = &script_sig.as_bytes()[1..];
        assert_eq!(redeem.len(), 22);
        assert_eq!(ScriptBuf::new_p2sh(&ScriptHash::hash(redeem)), spk);
        assert_eq!(witness.len(), 2);
    }
}
