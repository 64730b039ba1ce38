//! Which ledger an index or a reference belongs to.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A supported ledger family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    Btc,
    Eth,
}

impl Chain {
    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Btc => "btc",
            Chain::Eth => "eth",
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Bitcoin network. Test networks matter: investigators rehearse on regtest and signet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Main,
    Test,
    Testnet4,
    Signet,
    Regtest,
}

impl Network {
    pub const ALL: [Network; 5] = [
        Network::Main,
        Network::Test,
        Network::Testnet4,
        Network::Signet,
        Network::Regtest,
    ];

    /// The name used on the command line, in the index metadata and by Bitcoin Core's
    /// `chaininfo` (`main`, `test`, `testnet4`, `signet`, `regtest`).
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Main => "main",
            Network::Test => "test",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    pub fn to_bitcoin(self) -> bitcoin::Network {
        match self {
            Network::Main => bitcoin::Network::Bitcoin,
            Network::Test => bitcoin::Network::Testnet,
            Network::Testnet4 => bitcoin::Network::Testnet4,
            Network::Signet => bitcoin::Network::Signet,
            Network::Regtest => bitcoin::Network::Regtest,
        }
    }

    /// The 4 bytes that start every record of a `blk*.dat` file on this network.
    pub fn magic(self) -> [u8; 4] {
        self.to_bitcoin().magic().to_bytes()
    }

    /// Block subsidy at `height` in satoshis (regtest halves every 150 blocks).
    pub fn subsidy(self, height: u32) -> u64 {
        let interval = match self {
            Network::Regtest => 150,
            _ => 210_000,
        };
        let halvings = height / interval;
        if halvings >= 64 {
            0
        } else {
            (50 * 100_000_000u64) >> halvings
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a network name that is not one of [`Network::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown network {0:?} (expected main, test, testnet4, signet or regtest)")]
pub struct UnknownNetwork(pub String);

impl FromStr for Network {
    type Err = UnknownNetwork;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "main" | "mainnet" | "bitcoin" => Ok(Network::Main),
            "test" | "testnet" | "testnet3" => Ok(Network::Test),
            "testnet4" => Ok(Network::Testnet4),
            "signet" => Ok(Network::Signet),
            "regtest" => Ok(Network::Regtest),
            other => Err(UnknownNetwork(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_match_bitcoin_core() {
        assert_eq!(Network::Main.magic(), [0xf9, 0xbe, 0xb4, 0xd9]);
        assert_eq!(Network::Regtest.magic(), [0xfa, 0xbf, 0xb5, 0xda]);
        assert_eq!(Network::Test.magic(), [0x0b, 0x11, 0x09, 0x07]);
    }

    #[test]
    fn subsidy_halves() {
        assert_eq!(Network::Main.subsidy(0), 5_000_000_000);
        assert_eq!(Network::Main.subsidy(210_000), 2_500_000_000);
        assert_eq!(Network::Main.subsidy(574_200), 1_250_000_000);
        assert_eq!(Network::Regtest.subsidy(150), 2_500_000_000);
        assert_eq!(Network::Main.subsidy(64 * 210_000), 0);
    }

    #[test]
    fn names_round_trip() {
        for n in Network::ALL {
            assert_eq!(n.as_str().parse::<Network>().unwrap(), n);
        }
        assert!("moon".parse::<Network>().is_err());
    }
}
