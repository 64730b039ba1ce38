//! The pool registry: which contracts are Tornado Cash instances, what each one mixes, and the
//! anonymity-mining rate (§5.2 H5) each one earns.
//!
//! Invariant: a pool is named by its position in the caller's registry slice ([`PoolId`]); an
//! event whose id is outside the registry is still grouped by that id, it only lacks a rate.

use chaintrace_model::eth::AssetId;
use chaintrace_model::AddrId;
use serde::Serialize;

/// Index of a pool in the caller's registry slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PoolId(pub u32);

/// One Tornado Cash instance: a contract that takes and pays out one fixed denomination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pool {
    /// Dense id of the instance contract.
    pub addr: AddrId,
    pub asset: AssetId,
    /// The fixed deposit amount, in base units of `asset`.
    pub denomination: u128,
    /// Human name such as "1 ETH" or "5k cDAI".
    pub name: String,
    /// Anonymity points earned per block a note stays in the pool; `None` for pools that were
    /// never part of anonymity mining.
    pub ap_rate: Option<u64>,
}

impl Pool {
    /// A pool whose mining rate is looked up from its name in the §5.2 table.
    pub fn new(addr: AddrId, asset: AssetId, denomination: u128, name: &str) -> Pool {
        Pool {
            addr,
            asset,
            denomination,
            name: name.to_string(),
            ap_rate: ap_rate(name),
        }
    }
}

/// A pool instance deployed on Ethereum mainnet (§5.1), for registering pools at ingest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MainnetPool {
    pub name: &'static str,
    /// Lower-case hex address of the instance contract.
    pub address: &'static str,
    /// ERC-20 contract of the mixed token, `None` for ether.
    pub token: Option<&'static str>,
    pub denomination: u128,
}

const DAI: Option<&str> = Some("0x6b175474e89094c44da98b954eedeac495271d0f");
const USDC: Option<&str> = Some("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48");
const USDT: Option<&str> = Some("0xdac17f958d2ee523a2206206994597c13d831ec7");
const WBTC: Option<&str> = Some("0x2260fac5e5542a773aa44fbcfedf7c193bc2c599");
const CDAI: Option<&str> = Some("0x5d3a536e4d6dbd6114cc1ead35777bab948e3643");
const E18: u128 = 1_000_000_000_000_000_000;
const E8: u128 = 100_000_000;
const E6: u128 = 1_000_000;

/// The instances of §5.1 (Tutela's `tornado_pools.json`).
pub const MAINNET_POOLS: [MainnetPool; 19] = [
    mp(
        "0.1 ETH",
        "0x12d66f87a04a9e220743712ce6d9bb1b5616b8fc",
        None,
        E18 / 10,
    ),
    mp(
        "1 ETH",
        "0x47ce0c6ed5b0ce3d3a51fdb1c52dc66a7c3c2936",
        None,
        E18,
    ),
    mp(
        "10 ETH",
        "0x910cbd523d972eb0a6f4cae4618ad62622b39dbf",
        None,
        10 * E18,
    ),
    mp(
        "100 ETH",
        "0xa160cdab225685da1d56aa342ad8841c3b53f291",
        None,
        100 * E18,
    ),
    mp(
        "100 DAI",
        "0xd4b88df4d29f5cedd6857912842cff3b20c8cfa3",
        DAI,
        100 * E18,
    ),
    mp(
        "1k DAI",
        "0xfd8610d20aa15b7b2e3be39b396a1bc3516c7144",
        DAI,
        1_000 * E18,
    ),
    mp(
        "10k DAI",
        "0x07687e702b410fa43f4cb4af7fa097918ffd2730",
        DAI,
        10_000 * E18,
    ),
    mp(
        "100k DAI",
        "0x23773e65ed146a459791799d01336db287f25334",
        DAI,
        100_000 * E18,
    ),
    mp(
        "100 USDC",
        "0xd96f2b1c14db8458374d9aca76e26c3d18364307",
        USDC,
        100 * E6,
    ),
    mp(
        "1k USDC",
        "0x4736dcf1b7a3d580672cce6e7c65cd5cc9cfba9d",
        USDC,
        1_000 * E6,
    ),
    mp(
        "100 USDT",
        "0x169ad27a470d064dede56a2d3ff727986b15d52b",
        USDT,
        100 * E6,
    ),
    mp(
        "1k USDT",
        "0x0836222f2b2b24a3f36f98668ed8f0b38d1a872f",
        USDT,
        1_000 * E6,
    ),
    mp(
        "0.1 WBTC",
        "0x178169b423a011fff22b9e3f3abea13414ddd0f1",
        WBTC,
        E8 / 10,
    ),
    mp(
        "1 WBTC",
        "0x610b717796ad172b316836ac95a2ffad065ceab4",
        WBTC,
        E8,
    ),
    mp(
        "10 WBTC",
        "0xbb93e510bbcd0b7beb5a853875f9ec60275cf498",
        WBTC,
        10 * E8,
    ),
    mp(
        "5k cDAI",
        "0x22aaa7720ddd5388a3c0a3333430953c68f1849b",
        CDAI,
        5_000 * E8,
    ),
    mp(
        "50k cDAI",
        "0x03893a7c7463ae47d46bc7f091665f1893656003",
        CDAI,
        50_000 * E8,
    ),
    mp(
        "500k cDAI",
        "0x2717c5e28cf931547b621a5dddb772ab6a35b701",
        CDAI,
        500_000 * E8,
    ),
    mp(
        "5M cDAI",
        "0xd21be7248e0197ee08e0c20d4a96debdac3d20af",
        CDAI,
        5_000_000 * E8,
    ),
];

const fn mp(
    name: &'static str,
    address: &'static str,
    token: Option<&'static str>,
    denomination: u128,
) -> MainnetPool {
    MainnetPool {
        name,
        address,
        token,
        denomination,
    }
}

/// (symbol, amount in thousandths, AP per block), from `run_torn_mine_heuristic.py:
/// MINE_POOL_RATES` as quoted in §5.2.
const AP_RATES: [(&str, u64, u64); 15] = [
    ("ETH", 100, 4),
    ("ETH", 1_000, 20),
    ("ETH", 10_000, 50),
    ("ETH", 100_000, 400),
    ("DAI", 100_000, 2),
    ("DAI", 1_000_000, 10),
    ("DAI", 10_000_000, 40),
    ("DAI", 100_000_000, 250),
    ("CDAI", 5_000_000, 2),
    ("CDAI", 50_000_000, 10),
    ("CDAI", 500_000_000, 40),
    ("CDAI", 5_000_000_000, 250),
    ("WBTC", 100, 15),
    ("WBTC", 1_000, 120),
    ("WBTC", 10_000, 1_000),
];

/// Anonymity points per block for a pool named "<amount> <symbol>", e.g. "1 ETH", "100 DAI",
/// "0.1 WBTC", "5k cDAI", "1,000 DAI". The symbol is case-insensitive; the amount may use
/// thousands separators and a `k` or `M` suffix. `None` for pools outside the mining table
/// (USDC, USDT) and for names that do not parse.
pub fn ap_rate(name: &str) -> Option<u64> {
    let mut words = name.split_whitespace();
    let amount = parse_milli(words.next()?)?;
    let symbol = words.next()?;
    if words.next().is_some() {
        return None;
    }
    AP_RATES
        .iter()
        .find(|(sym, milli, _)| *milli == amount && sym.eq_ignore_ascii_case(symbol))
        .map(|&(_, _, rate)| rate)
}

/// "0.1" → 100, "5k" → 5,000,000, "1,000" → 1,000,000: amounts in thousandths so that every
/// pool size in the table is an integer.
fn parse_milli(text: &str) -> Option<u64> {
    let text = text.replace(',', "");
    let (digits, scale) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 1_000u64),
        b'M' => (&text[..text.len() - 1], 1_000_000),
        _ => (text.as_str(), 1),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if frac.len() > 3 || whole.is_empty() && frac.is_empty() {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_milli: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().ok()? * 10u64.pow(3 - frac.len() as u32)
    };
    whole
        .checked_mul(1_000)?
        .checked_add(frac_milli)?
        .checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_table_reads_every_spelling() {
        assert_eq!(ap_rate("1 ETH"), Some(20));
        assert_eq!(ap_rate("0.1 ETH"), Some(4));
        assert_eq!(ap_rate("100 ETH"), Some(400));
        assert_eq!(ap_rate("100 DAI"), Some(2));
        assert_eq!(ap_rate("1k DAI"), Some(10));
        assert_eq!(ap_rate("1,000 DAI"), Some(10));
        assert_eq!(ap_rate("100000 DAI"), Some(250));
        assert_eq!(ap_rate("0.1 WBTC"), Some(15));
        assert_eq!(ap_rate("10 WBTC"), Some(1_000));
        assert_eq!(ap_rate("5k cDAI"), Some(2));
        assert_eq!(ap_rate("5M cDAI"), Some(250));
        assert_eq!(ap_rate("500k CDAI"), Some(40));
    }

    #[test]
    fn unknown_or_malformed_names_have_no_rate() {
        for name in [
            "100 USDC",
            "1k USDT",
            "2 ETH",
            "",
            "ETH",
            "1 ETH extra",
            "0.0001 ETH",
            ".",
            "9999999999999999999k DAI",
        ] {
            assert_eq!(ap_rate(name), None, "{name}");
        }
    }

    #[test]
    fn mainnet_pools_with_mining_have_rates() {
        let mined = MAINNET_POOLS
            .iter()
            .filter(|p| ap_rate(p.name).is_some())
            .count();
        assert_eq!(mined, 15);
        assert!(MAINNET_POOLS.iter().all(|p| p.address.len() == 42));
    }
}
