//! Bitcoin-specific vocabulary: how an output script becomes an indexed address.
//!
//! Outputs are grouped by *address*, not by raw script, because that is what investigators,
//! label packs and exchanges speak. The mapping follows what block explorers show:
//! P2PK outputs are indexed under the P2PKH address of their key (the form in which early coins,
//! such as Satoshi's, are known), while the output keeps [`ScriptKind::P2pk`]; scripts that have no
//! address form are indexed by the SHA-256 of the script so they can still be followed.

use bitcoin::hashes::{hash160, sha256, Hash};
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::{Address, Script, ScriptBuf, WitnessProgram, WitnessVersion};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::Network;

/// Shape of an output script. Stored with every output (one byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ScriptKind {
    P2pk = 1,
    P2pkh = 2,
    P2sh = 3,
    P2wpkh = 4,
    P2wsh = 5,
    P2tr = 6,
    /// A segwit program of a version or length without a named address type (still has an address).
    WitnessUnknown = 7,
    BareMultisig = 8,
    /// Provably unspendable data carrier (`OP_RETURN ...`).
    OpReturn = 9,
    NonStandard = 10,
}

impl ScriptKind {
    pub fn from_u8(b: u8) -> Option<ScriptKind> {
        use ScriptKind::*;
        Some(match b {
            1 => P2pk,
            2 => P2pkh,
            3 => P2sh,
            4 => P2wpkh,
            5 => P2wsh,
            6 => P2tr,
            7 => WitnessUnknown,
            8 => BareMultisig,
            9 => OpReturn,
            10 => NonStandard,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        use ScriptKind::*;
        match self {
            P2pk => "p2pk",
            P2pkh => "p2pkh",
            P2sh => "p2sh",
            P2wpkh => "p2wpkh",
            P2wsh => "p2wsh",
            P2tr => "p2tr",
            WitnessUnknown => "witness_unknown",
            BareMultisig => "bare_multisig",
            OpReturn => "op_return",
            NonStandard => "nonstandard",
        }
    }

    /// Whether value sent to this script can never be spent again.
    pub fn is_unspendable(self) -> bool {
        self == ScriptKind::OpReturn
    }
}

impl fmt::Display for ScriptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest witness program allowed by BIP141.
const MAX_WITNESS_PROGRAM: usize = 40;

/// Network-independent identity of an address: what the `address → id` index is keyed by.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddrKey {
    Pkh([u8; 20]),
    Sh([u8; 20]),
    Wpkh([u8; 20]),
    Wsh([u8; 32]),
    Tr([u8; 32]),
    Witness {
        version: u8,
        len: u8,
        program: [u8; MAX_WITNESS_PROGRAM],
    },
    /// SHA-256 of a script that has no address form (bare multisig, non-standard).
    Script([u8; 32]),
}

/// Prefix of the textual form of [`AddrKey::Script`] keys.
pub const SCRIPT_KEY_PREFIX: &str = "script:";

/// An error turning user input into an [`AddrKey`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("{input:?} is not a valid Bitcoin address: {reason}")]
    Invalid { input: String, reason: String },
    #[error("{input:?} is a valid address, but not for the {network} network")]
    WrongNetwork { input: String, network: Network },
}

/// An error decoding an [`AddrKey`] from its stored bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed address key bytes {0:02x?}")]
pub struct MalformedAddrKey(pub Vec<u8>);

impl AddrKey {
    const TAG_PKH: u8 = 1;
    const TAG_SH: u8 = 2;
    const TAG_WPKH: u8 = 3;
    const TAG_WSH: u8 = 4;
    const TAG_TR: u8 = 5;
    const TAG_WITNESS: u8 = 6;
    const TAG_SCRIPT: u8 = 7;

    /// Appends the key's canonical bytes (a tag byte, then the payload) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            AddrKey::Pkh(h) => tagged(out, Self::TAG_PKH, h),
            AddrKey::Sh(h) => tagged(out, Self::TAG_SH, h),
            AddrKey::Wpkh(h) => tagged(out, Self::TAG_WPKH, h),
            AddrKey::Wsh(h) => tagged(out, Self::TAG_WSH, h),
            AddrKey::Tr(h) => tagged(out, Self::TAG_TR, h),
            AddrKey::Witness {
                version,
                len,
                program,
            } => {
                out.push(Self::TAG_WITNESS);
                out.push(*version);
                out.extend_from_slice(&program[..*len as usize]);
            }
            AddrKey::Script(h) => tagged(out, Self::TAG_SCRIPT, h),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(42);
        self.encode_into(&mut v);
        v
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<AddrKey, MalformedAddrKey> {
        let bad = || MalformedAddrKey(bytes.to_vec());
        let (&tag, rest) = bytes.split_first().ok_or_else(bad)?;
        let h20 = || <[u8; 20]>::try_from(rest).map_err(|_| bad());
        let h32 = || <[u8; 32]>::try_from(rest).map_err(|_| bad());
        Ok(match tag {
            Self::TAG_PKH => AddrKey::Pkh(h20()?),
            Self::TAG_SH => AddrKey::Sh(h20()?),
            Self::TAG_WPKH => AddrKey::Wpkh(h20()?),
            Self::TAG_WSH => AddrKey::Wsh(h32()?),
            Self::TAG_TR => AddrKey::Tr(h32()?),
            Self::TAG_SCRIPT => AddrKey::Script(h32()?),
            Self::TAG_WITNESS => {
                let (&version, program) = rest.split_first().ok_or_else(bad)?;
                if !(2..=MAX_WITNESS_PROGRAM).contains(&program.len()) || version > 16 {
                    return Err(bad());
                }
                witness_key(version, program)
            }
            _ => return Err(bad()),
        })
    }

    /// A script paying this address. For [`AddrKey::Script`] keys the script itself is not
    /// recoverable from its hash, so there is none.
    pub fn script_pubkey(&self) -> Option<ScriptBuf> {
        Some(match self {
            AddrKey::Pkh(h) => ScriptBuf::new_p2pkh(&bitcoin::PubkeyHash::from_byte_array(*h)),
            AddrKey::Sh(h) => ScriptBuf::new_p2sh(&bitcoin::ScriptHash::from_byte_array(*h)),
            AddrKey::Wpkh(h) => witness_script(0, h),
            AddrKey::Wsh(h) => witness_script(0, h),
            AddrKey::Tr(h) => witness_script(1, h),
            AddrKey::Witness {
                version,
                len,
                program,
            } => witness_script(*version, &program[..*len as usize]),
            AddrKey::Script(_) => return None,
        })
    }

    /// The address as users write it on `network` (base58 or bech32/bech32m), or
    /// `script:<sha256 hex>` for scripts without an address form.
    pub fn to_address_string(&self, network: Network) -> String {
        if let AddrKey::Script(h) = self {
            return format!("{SCRIPT_KEY_PREFIX}{}", hex_string(h));
        }
        let spk = self
            .script_pubkey()
            .expect("every non-script key has a script");
        match Address::from_script(&spk, network.to_bitcoin()) {
            Ok(addr) => addr.to_string(),
            // Unreachable for keys built by `classify`, which only emits valid programs.
            Err(_) => format!("{SCRIPT_KEY_PREFIX}{}", hex_string(&sha256_of(&spk))),
        }
    }

    /// Parses an address string (or a `script:<hex>` key) and checks that it belongs to `network`.
    pub fn parse(input: &str, network: Network) -> Result<AddrKey, AddressError> {
        let input = input.trim();
        if let Some(hex) = input.strip_prefix(SCRIPT_KEY_PREFIX) {
            return parse_script_key(input, hex);
        }
        let unchecked: Address<bitcoin::address::NetworkUnchecked> =
            input
                .parse()
                .map_err(|e: bitcoin::address::ParseError| AddressError::Invalid {
                    input: input.to_string(),
                    reason: with_causes(&e),
                })?;
        if !unchecked.is_valid_for_network(network.to_bitcoin()) {
            return Err(AddressError::WrongNetwork {
                input: input.to_string(),
                network,
            });
        }
        let spk = unchecked.assume_checked().script_pubkey();
        match classify(&spk) {
            (_, Some(key)) => Ok(key),
            (kind, None) => Err(AddressError::Invalid {
                input: input.to_string(),
                reason: format!("it encodes a {kind} script, which has no address"),
            }),
        }
    }
}

impl fmt::Debug for AddrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AddrKey({})", hex_string(&self.to_bytes()))
    }
}

/// An error's message followed by its causes: rust-bitcoin's top-level address errors say only
/// "base58 error" or "bech32 error", and the cause says what is wrong (e.g. the checksum).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

fn tagged(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    out.push(tag);
    out.extend_from_slice(payload);
}

fn witness_key(version: u8, program: &[u8]) -> AddrKey {
    let mut buf = [0u8; MAX_WITNESS_PROGRAM];
    buf[..program.len()].copy_from_slice(program);
    AddrKey::Witness {
        version,
        len: program.len() as u8,
        program: buf,
    }
}

fn witness_script(version: u8, program: &[u8]) -> ScriptBuf {
    let version = WitnessVersion::try_from(version).expect("stored versions are 0..=16");
    let push = PushBytesBuf::try_from(program.to_vec()).expect("programs are at most 40 bytes");
    Builder::new()
        .push_opcode(version.into())
        .push_slice(push)
        .into_script()
}

fn parse_script_key(input: &str, hex: &str) -> Result<AddrKey, AddressError> {
    let invalid = |reason: &str| AddressError::Invalid {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    if hex.len() != 64 {
        return Err(invalid(
            "a script key is `script:` followed by 64 hex digits",
        ));
    }
    let mut h = [0u8; 32];
    for (i, byte) in h.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| invalid("a script key is `script:` followed by 64 hex digits"))?;
    }
    Ok(AddrKey::Script(h))
}

fn sha256_of(script: &Script) -> [u8; 32] {
    sha256::Hash::hash(script.as_bytes()).to_byte_array()
}

/// Lower-case hex of `bytes`, in the order given.
pub fn hex_string(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Classifies an output script and derives the address key it is indexed under.
///
/// Returns `None` as key only for OP_RETURN outputs, which pay no one.
pub fn classify(script: &Script) -> (ScriptKind, Option<AddrKey>) {
    let b = script.as_bytes();
    if script.is_p2pkh() {
        return (
            ScriptKind::P2pkh,
            Some(AddrKey::Pkh(b[3..23].try_into().expect("20 bytes"))),
        );
    }
    if script.is_p2sh() {
        return (
            ScriptKind::P2sh,
            Some(AddrKey::Sh(b[2..22].try_into().expect("20 bytes"))),
        );
    }
    if script.is_p2wpkh() {
        return (
            ScriptKind::P2wpkh,
            Some(AddrKey::Wpkh(b[2..22].try_into().expect("20 bytes"))),
        );
    }
    if script.is_p2wsh() {
        return (
            ScriptKind::P2wsh,
            Some(AddrKey::Wsh(b[2..34].try_into().expect("32 bytes"))),
        );
    }
    if script.is_p2tr() {
        return (
            ScriptKind::P2tr,
            Some(AddrKey::Tr(b[2..34].try_into().expect("32 bytes"))),
        );
    }
    if let Some(version) = script.witness_version() {
        // Version 0 only has 20- and 32-byte programs; other lengths can never be spent and
        // have no address, so they fall through to the non-standard case.
        if WitnessProgram::new(version, &b[2..]).is_ok() {
            return (
                ScriptKind::WitnessUnknown,
                Some(witness_key(version.to_num(), &b[2..])),
            );
        }
    }
    if let Some(pubkey) = p2pk_pubkey(b) {
        let h = hash160::Hash::hash(pubkey).to_byte_array();
        return (ScriptKind::P2pk, Some(AddrKey::Pkh(h)));
    }
    if script.is_op_return() {
        return (ScriptKind::OpReturn, None);
    }
    let key = Some(AddrKey::Script(sha256_of(script)));
    if script.is_multisig() {
        (ScriptKind::BareMultisig, key)
    } else {
        (ScriptKind::NonStandard, key)
    }
}

/// The pushed key of a pay-to-pubkey script, whether or not it is a valid curve point
/// (Bitcoin Core does not check it either when the output is created).
fn p2pk_pubkey(b: &[u8]) -> Option<&[u8]> {
    const OP_CHECKSIG: u8 = 0xac;
    match b.len() {
        67 if b[0] == 65 && b[66] == OP_CHECKSIG => Some(&b[1..66]),
        35 if b[0] == 33 && b[34] == OP_CHECKSIG => Some(&b[1..34]),
        _ => None,
    }
}

/// Formats satoshis as a BTC decimal with 8 places, e.g. `50.00000000`.
pub fn format_btc(sats: u64) -> String {
    format!("{}.{:08}", sats / 100_000_000, sats % 100_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(hex: &str) -> ScriptBuf {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        ScriptBuf::from_bytes(bytes)
    }

    #[test]
    fn genesis_p2pk_is_indexed_under_satoshis_p2pkh_address() {
        // Output script of the genesis coinbase (uncompressed key, OP_CHECKSIG).
        let spk = script(concat!(
            "4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38",
            "c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac"
        ));
        let (kind, key) = classify(&spk);
        assert_eq!(kind, ScriptKind::P2pk);
        let addr = key.unwrap().to_address_string(Network::Main);
        assert_eq!(addr, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa");
    }

    #[test]
    fn standard_addresses_round_trip_through_keys() {
        let cases = [
            ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", Network::Main),
            ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", Network::Main),
            ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", Network::Main),
            (
                "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
                Network::Main,
            ),
            (
                "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
                Network::Main,
            ),
            (
                "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
                Network::Regtest,
            ),
            ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", Network::Test),
        ];
        for (s, net) in cases {
            let key = AddrKey::parse(s, net).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(key.to_address_string(net), s);
            assert_eq!(AddrKey::from_bytes(&key.to_bytes()).unwrap(), key);
            let (_, again) = classify(&key.script_pubkey().unwrap());
            assert_eq!(again, Some(key));
        }
    }

    #[test]
    fn wrong_network_and_bad_checksum_are_rejected() {
        let err = AddrKey::parse(
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            Network::Regtest,
        );
        assert!(matches!(err, Err(AddressError::WrongNetwork { .. })));
        let err = AddrKey::parse("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", Network::Main);
        assert!(matches!(err, Err(AddressError::Invalid { .. })));
    }

    #[test]
    fn op_return_has_no_address_and_nonstandard_is_keyed_by_hash() {
        assert_eq!(
            classify(&script("6a0568656c6c6f")),
            (ScriptKind::OpReturn, None)
        );
        let odd = script("51"); // OP_TRUE: anyone can spend, but no address
        let (kind, key) = classify(&odd);
        assert_eq!(kind, ScriptKind::NonStandard);
        let text = key.unwrap().to_address_string(Network::Main);
        assert!(text.starts_with(SCRIPT_KEY_PREFIX));
        assert_eq!(AddrKey::parse(&text, Network::Main).unwrap(), key.unwrap());
    }

    #[test]
    fn bare_multisig_and_unknown_witness_versions() {
        let pk = "02".to_string() + &"11".repeat(32);
        let ms = script(&format!("5121{pk}21{pk}52ae"));
        assert_eq!(classify(&ms).0, ScriptKind::BareMultisig);
        let v2 = script(&format!("5210{}", "22".repeat(16)));
        let (kind, key) = classify(&v2);
        assert_eq!(kind, ScriptKind::WitnessUnknown);
        assert!(key
            .unwrap()
            .to_address_string(Network::Main)
            .starts_with("bc1z"));
        // Version 0 with a 16-byte program is invalid: no address.
        let bad_v0 = script(&format!("0010{}", "33".repeat(16)));
        assert_eq!(classify(&bad_v0).0, ScriptKind::NonStandard);
    }

    #[test]
    fn malformed_key_bytes_are_an_error_not_a_panic() {
        assert!(AddrKey::from_bytes(&[]).is_err());
        assert!(AddrKey::from_bytes(&[1, 2, 3]).is_err());
        assert!(AddrKey::from_bytes(&[6, 1]).is_err());
        assert!(AddrKey::from_bytes(&[99; 21]).is_err());
    }

    #[test]
    fn btc_formatting() {
        assert_eq!(format_btc(5_000_000_000), "50.00000000");
        assert_eq!(format_btc(1), "0.00000001");
    }
}
