//! Ethereum addresses as label files write them: `0x` and 40 hex digits.
//!
//! EIP-55 encodes a checksum in the case of the letters. Lists copied by hand or scraped keep
//! either the checksummed form or lower case, so an address in one case only carries no
//! checksum and is accepted as is; an address in mixed case claims one, and a wrong one means
//! a mistyped address, which must not silently label someone else's account.

use alloy_primitives::Address;
use chaintrace_store::tables::{EthAddr, LabelTarget};

/// Why a text is not a usable Ethereum address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EthAddressError {
    #[error("{text:?} is not an Ethereum address: it does not start with 0x")]
    NoPrefix { text: String },
    #[error("{text:?} is not an Ethereum address: it has {digits} characters after 0x, not 40 hex digits")]
    Length { text: String, digits: usize },
    #[error("{text:?} is not an Ethereum address: {found:?} is not a hex digit")]
    NotHex { text: String, found: char },
    #[error(
        "{text:?} fails its EIP-55 checksum (mixed case must read {expected}); \
         the address is probably mistyped"
    )]
    Checksum { text: String, expected: String },
}

/// Whether `text` is written as an Ethereum address would be (it may still be invalid). Used
/// to pick the chain of entries whose file does not state one.
pub fn looks_like_eth(text: &str) -> bool {
    text.starts_with("0x") || text.starts_with("0X")
}

/// Parses `0x` + 40 hex digits; mixed case must be the EIP-55 checksummed form.
pub fn parse_eth_address(text: &str) -> Result<Address, EthAddressError> {
    let owned = || text.to_string();
    let digits = text
        .strip_prefix("0x")
        .ok_or_else(|| EthAddressError::NoPrefix { text: owned() })?;
    if let Some(found) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(EthAddressError::NotHex {
            text: owned(),
            found,
        });
    }
    if digits.len() != 40 {
        return Err(EthAddressError::Length {
            text: owned(),
            digits: digits.len(),
        });
    }
    let address: Address = digits.parse().map_err(|_| EthAddressError::Length {
        text: owned(),
        digits: digits.len(),
    })?;
    let has = |pred: fn(&char) -> bool| digits.chars().any(|c| pred(&c));
    if has(char::is_ascii_lowercase) && has(char::is_ascii_uppercase) {
        let expected = address.to_checksum(None);
        if expected != text {
            return Err(EthAddressError::Checksum {
                text: owned(),
                expected,
            });
        }
    }
    Ok(address)
}

/// The label target of an Ethereum address.
pub fn parse_eth_target(text: &str) -> Result<LabelTarget, EthAddressError> {
    parse_eth_address(text).map(|a| LabelTarget::EthAddr(EthAddr(a.0 .0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tornado Cash 1 ETH pool, as OFAC lists it (EIP-55).
    const POOL_1_ETH: &str = "0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936";
    /// Ronin bridge exploiter (Lazarus), as OFAC lists it.
    const RONIN: &str = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96";

    #[test]
    fn checksummed_lower_and_upper_case_are_one_address() {
        let a = parse_eth_address(POOL_1_ETH).unwrap();
        assert_eq!(a.to_checksum(None), POOL_1_ETH);
        let lower = POOL_1_ETH.to_ascii_lowercase();
        assert_eq!(parse_eth_address(&lower), Ok(a));
        let upper = format!("0x{}", POOL_1_ETH[2..].to_ascii_uppercase());
        assert_eq!(parse_eth_address(&upper), Ok(a));
        assert_eq!(parse_eth_address(RONIN).unwrap().to_checksum(None), RONIN);
        assert!(parse_eth_address("0x0000000000000000000000000000000000000000").is_ok());
    }

    #[test]
    fn a_wrong_case_fails_the_checksum() {
        // The same pool with one letter's case flipped (`C` of `0x47CE` lowered).
        let wrong = "0x47Ce0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936";
        let err = parse_eth_address(wrong).unwrap_err();
        assert_eq!(
            err,
            EthAddressError::Checksum {
                text: wrong.into(),
                expected: POOL_1_ETH.into()
            }
        );
        assert!(err.to_string().contains(wrong) && err.to_string().contains(POOL_1_ETH));
    }

    #[test]
    fn malformed_addresses_say_what_is_wrong() {
        let err = |t: &str| parse_eth_address(t).unwrap_err().to_string();
        assert!(err("47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936").contains("does not start with 0x"));
        assert!(err("0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c293").contains("39 characters"));
        assert!(err("0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936ff").contains("42 characters"));
        assert!(err("0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c29zz").contains("'z' is not a hex"));
        assert!(err("0xé7CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c293").contains("'é'"));
        assert!(looks_like_eth("0xabc") && !looks_like_eth("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
    }
}
