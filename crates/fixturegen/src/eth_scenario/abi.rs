//! The committed contract builds (`fixtures/eth/contracts/build/*.json`) and just enough ABI
//! encoding to deploy and call them: static words, `bytes`, `string` and arrays of words.
//!
//! Selectors come from the artifacts' `methodIdentifiers` (computed by solc), so this crate
//! needs no Keccak implementation.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::anvil::{parse_hex, Address, AnvilError};

pub(crate) const TOKEN_JSON: &str =
    include_str!("../../../../fixtures/eth/contracts/build/Token.json");
pub(crate) const SPLITTER_JSON: &str =
    include_str!("../../../../fixtures/eth/contracts/build/Splitter.json");
pub(crate) const MIXER_POOL_JSON: &str =
    include_str!("../../../../fixtures/eth/contracts/build/MixerPool.json");
pub(crate) const REVERTER_JSON: &str =
    include_str!("../../../../fixtures/eth/contracts/build/Reverter.json");

/// One ABI argument.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Uint(u128),
    Address(Address),
    Word([u8; 32]),
    Bytes(Vec<u8>),
    Str(String),
    Addresses(Vec<Address>),
    Uints(Vec<u128>),
}

impl Arg {
    fn is_dynamic(&self) -> bool {
        !matches!(self, Arg::Uint(_) | Arg::Address(_) | Arg::Word(_))
    }

    /// The head word of a static argument.
    fn static_word(&self) -> [u8; 32] {
        match self {
            Arg::Uint(v) => uint_word(*v),
            Arg::Address(a) => a.word(),
            Arg::Word(w) => *w,
            _ => [0; 32],
        }
    }

    /// The tail of a dynamic argument: length word, then the padded payload.
    fn tail(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Arg::Bytes(b) => push_bytes(&mut out, b),
            Arg::Str(s) => push_bytes(&mut out, s.as_bytes()),
            Arg::Addresses(list) => {
                out.extend(uint_word(list.len() as u128));
                list.iter().for_each(|a| out.extend(a.word()));
            }
            Arg::Uints(list) => {
                out.extend(uint_word(list.len() as u128));
                list.iter().for_each(|v| out.extend(uint_word(*v)));
            }
            _ => {}
        }
        out
    }
}

fn uint_word(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend(uint_word(bytes.len() as u128));
    out.extend(bytes);
    out.resize(out.len() + (32 - bytes.len() % 32) % 32, 0);
}

/// ABI-encodes an argument tuple (head words, then the tails of dynamic arguments).
pub(crate) fn encode(args: &[Arg]) -> Vec<u8> {
    let mut head = Vec::with_capacity(args.len() * 32);
    let mut tail = Vec::new();
    for arg in args {
        if arg.is_dynamic() {
            head.extend(uint_word((args.len() * 32 + tail.len()) as u128));
            tail.extend(arg.tail());
        } else {
            head.extend(arg.static_word());
        }
    }
    head.extend(tail);
    head
}

/// A compiled contract from `fixtures/eth/contracts/build`.
#[derive(Clone, Debug)]
pub(crate) struct Artifact {
    pub name: String,
    pub bytecode: Vec<u8>,
    selectors: BTreeMap<String, [u8; 4]>,
}

impl Artifact {
    /// Parses an artifact written by `fixtures/eth/contracts/compile.cjs`.
    pub fn parse(json: &str) -> Result<Artifact, AnvilError> {
        let bad = |what: String| AnvilError::Input(format!("contract artifact: {what}"));
        let v: Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let name = v["contractName"]
            .as_str()
            .ok_or_else(|| bad("contractName missing".into()))?
            .to_owned();
        let code = v["bytecode"]
            .as_str()
            .ok_or_else(|| bad(format!("{name}: bytecode missing")))?;
        let bytecode = parse_hex(code).map_err(|e| bad(format!("{name}: bytecode: {e}")))?;
        let ids = v["methodIdentifiers"]
            .as_object()
            .ok_or_else(|| bad(format!("{name}: methodIdentifiers missing")))?;
        let mut selectors = BTreeMap::new();
        for (signature, id) in ids {
            let raw = id.as_str().map(parse_hex);
            let sel: [u8; 4] = match raw {
                Some(Ok(bytes)) => bytes
                    .try_into()
                    .map_err(|_| bad(format!("{name}: selector of {signature}")))?,
                _ => return Err(bad(format!("{name}: selector of {signature}"))),
            };
            selectors.insert(signature.clone(), sel);
        }
        Ok(Artifact {
            name,
            bytecode,
            selectors,
        })
    }

    /// Init code with ABI-encoded constructor arguments appended.
    pub fn deploy_code(&self, args: &[Arg]) -> Vec<u8> {
        let mut code = self.bytecode.clone();
        code.extend(encode(args));
        code
    }

    /// Calldata for `signature` (as solc writes it, e.g. `"transfer(address,uint256)"`).
    pub fn calldata(&self, signature: &str, args: &[Arg]) -> Result<Vec<u8>, AnvilError> {
        let selector = self.selectors.get(signature).ok_or_else(|| {
            AnvilError::Input(format!("{} has no function {signature}", self.name))
        })?;
        let mut data = selector.to_vec();
        data.extend(encode(args));
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_dynamic_arguments_after_the_head() {
        let a = Address::tagged(1, 2);
        let data = encode(&[Arg::Addresses(vec![a]), Arg::Uint(5), Arg::Str("ab".into())]);
        let word = |i: usize| &data[i * 32..(i + 1) * 32];
        assert_eq!(data.len(), 7 * 32);
        assert_eq!(word(0), &uint_word(96)); // offset of the array
        assert_eq!(word(1), &uint_word(5));
        assert_eq!(word(2), &uint_word(160)); // offset of the string
        assert_eq!(word(3), &uint_word(1)); // array length
        assert_eq!(word(4), &a.word());
        assert_eq!(word(5), &uint_word(2)); // string length
        assert_eq!(&word(6)[..2], b"ab");
    }

    #[test]
    fn artifacts_parse_and_know_tornado_selectors() {
        let pool = Artifact::parse(MIXER_POOL_JSON).unwrap();
        let deposit = pool.calldata("deposit(bytes32)", &[Arg::Word([7; 32])]);
        assert_eq!(deposit.unwrap()[..4], [0xb2, 0x14, 0xfa, 0xa5]);
        let sig = "withdraw(bytes,bytes32,bytes32,address,address,uint256,uint256)";
        assert_eq!(pool.selectors[sig], [0x21, 0xa0, 0xad, 0xb6]);
        assert!(pool.calldata("nope()", &[]).is_err());
        assert!(Artifact::parse("{}").is_err());
        for json in [TOKEN_JSON, SPLITTER_JSON, REVERTER_JSON] {
            assert!(!Artifact::parse(json).unwrap().bytecode.is_empty());
        }
    }
}
