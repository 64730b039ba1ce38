//! Deterministic key material and signature-shaped bytes.
//!
//! Nothing downstream verifies scripts, so keys only need the right shape (a 0x02/0x03 or 0x04
//! prefix and the right length) and signatures only need DER or BIP340 framing. Deriving every
//! key from `sha256(seed || key_id || sub)` lets a coin be spent later from just its key id,
//! without keeping key bytes in the UTXO state.

use bitcoin::hashes::{sha256, Hash, HashEngine};

use crate::rng::Rng;

/// Key ids carry a namespace in their top 16 bits so that diverging branches (forks) can mint
/// fresh addresses that never collide with the ones minted before the split.
pub(crate) const KEY_NAMESPACE_SHIFT: u32 = 48;

#[derive(Clone, Debug)]
pub(crate) struct KeyFactory {
    seed: u64,
}

impl KeyFactory {
    pub(crate) fn new(seed: u64) -> Self {
        KeyFactory { seed }
    }

    fn material(&self, key_id: u64, sub: u8) -> [u8; 32] {
        let mut engine = sha256::Hash::engine();
        engine.input(b"chaintrace-fixturegen/key");
        engine.input(&self.seed.to_le_bytes());
        engine.input(&key_id.to_le_bytes());
        engine.input(&[sub]);
        sha256::Hash::from_engine(engine).to_byte_array()
    }

    /// A 33-byte SEC1-compressed-shaped public key. `sub` selects one of several keys behind the
    /// same key id (the members of a multisig).
    pub(crate) fn compressed(&self, key_id: u64, sub: u8) -> [u8; 33] {
        let x = self.material(key_id, sub);
        let mut key = [0u8; 33];
        key[0] = 0x02 | (x[31] & 1);
        key[1..].copy_from_slice(&x);
        key
    }

    /// A 65-byte uncompressed-shaped public key, as used by early pay-to-pubkey outputs.
    pub(crate) fn uncompressed(&self, key_id: u64) -> [u8; 65] {
        let mut key = [0u8; 65];
        key[0] = 0x04;
        key[1..33].copy_from_slice(&self.material(key_id, 0));
        key[33..].copy_from_slice(&self.material(key_id, 1));
        key
    }

    /// A 32-byte x-only output key for taproot.
    pub(crate) fn xonly(&self, key_id: u64) -> [u8; 32] {
        self.material(key_id, 0x10)
    }

    /// The secret preimage of a hash-puzzle output.
    pub(crate) fn preimage(&self, key_id: u64) -> [u8; 32] {
        self.material(key_id, 0x20)
    }
}

/// A DER-encoded ECDSA signature with a SIGHASH_ALL byte: 71 or 72 bytes, low-S, minimal
/// integer encoding, matching the length distribution of real signatures.
pub(crate) fn der_signature(rng: &mut Rng) -> Vec<u8> {
    let mut r: [u8; 32] = rng.bytes();
    let mut s: [u8; 32] = rng.bytes();
    r[0] = r[0].max(1);
    s[0] = (s[0] & 0x7f).max(1);
    let r_pad = usize::from(r[0] >= 0x80);
    let r_len = 32 + r_pad;
    let mut sig = Vec::with_capacity(6 + r_len + 32 + 1);
    sig.extend_from_slice(&[0x30, (4 + r_len + 32) as u8, 0x02, r_len as u8]);
    if r_pad == 1 {
        sig.push(0);
    }
    sig.extend_from_slice(&r);
    sig.extend_from_slice(&[0x02, 32]);
    sig.extend_from_slice(&s);
    sig.push(0x01);
    sig
}

/// A 64-byte BIP340 signature (default sighash, so no trailing byte).
pub(crate) fn schnorr_signature(rng: &mut Rng) -> [u8; 64] {
    rng.bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_signatures_are_71_or_72_bytes() {
        let mut rng = Rng::new(1);
        let mut seen = [false; 2];
        for _ in 0..200 {
            let sig = der_signature(&mut rng);
            assert!(sig.len() == 71 || sig.len() == 72, "{}", sig.len());
            assert_eq!(sig[0], 0x30);
            assert_eq!(usize::from(sig[1]), sig.len() - 3);
            assert_eq!(*sig.last().unwrap(), 0x01);
            seen[sig.len() - 71] = true;
        }
        assert_eq!(seen, [true, true]);
    }

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let a = KeyFactory::new(5);
        let b = KeyFactory::new(5);
        assert_eq!(a.compressed(1, 0), b.compressed(1, 0));
        assert_ne!(a.compressed(1, 0), a.compressed(2, 0));
        assert_ne!(a.compressed(1, 0), a.compressed(1, 1));
        assert!(matches!(a.compressed(9, 0)[0], 2 | 3));
        assert_eq!(a.uncompressed(9)[0], 4);
    }
}
