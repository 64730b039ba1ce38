//! Ethereum vocabulary: value transfers on the account model.
//!
//! Everything that moves value on Ethereum — a transaction's value, an internal call with
//! value, a contract creation's endowment, a self-destruct, an ERC-20 `Transfer` log, gas (the
//! burnt base fee and the tip to the fee recipient), block rewards and beacon withdrawals — is
//! indexed as one [`Transfer`]. Transfers are numbered densely in canonical order ([`EventNum`]):
//! block by block; inside a block, transaction by transaction (gas first — the burnt part, then
//! the tip —, then the transaction's value, then internal transfers in call-tree pre-order, then
//! ERC-20 `Transfer` logs in log order), then the block's own credits (rewards, withdrawals).
//! Logs come after internal transfers rather than interleaved by call frame because parity
//! traces carry no logs: the numbering must not depend on which trace API the node offers.
//!
//! The zero address stands for "no account": it is the source of minted value (rewards,
//! withdrawals, token mints) and the sink of destroyed value (burnt gas, token burns). It always
//! has the dense id [`AddrId::NONE`](crate::AddrId::NONE).

use serde::{Deserialize, Serialize};
use std::fmt;

pub use alloy_primitives::{Address, B256, U256};

use crate::{AddrId, TxNum};

/// Position of a transfer in canonical order over the whole indexed chain.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct EventNum(pub u64);

impl fmt::Display for EventNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.0)
    }
}

/// What is being moved: ether, or the token of one ERC-20 contract.
///
/// A token is named by its contract's dense address id, so no separate asset table is needed;
/// id 0 (the zero address can hold no code) means ether.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct AssetId(pub u64);

impl AssetId {
    pub const ETH: AssetId = AssetId(0);

    pub fn token(contract: AddrId) -> AssetId {
        AssetId(contract.0)
    }

    pub fn is_eth(self) -> bool {
        self == Self::ETH
    }

    /// The token contract, or `None` for ether.
    pub fn contract(self) -> Option<AddrId> {
        (!self.is_eth()).then_some(AddrId(self.0))
    }
}

/// How a transfer came about. The byte values are stored in the index; never renumber them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[repr(u8)]
pub enum TransferKind {
    /// The value of a transaction (`tx.from → tx.to`, or to the contract it creates).
    TxValue = 0,
    /// A `CALL`/`CALLCODE` with value inside a transaction (from traces).
    Internal = 1,
    /// The endowment of a `CREATE`/`CREATE2` inside a transaction.
    Create = 2,
    /// The balance a `SELFDESTRUCT` sends to its beneficiary.
    SelfDestruct = 3,
    /// An ERC-20 `Transfer(address,address,uint256)` log.
    Token = 4,
    /// The burnt part of a transaction's fee (base fee, blob fee): `tx.from → zero address`.
    GasBurn = 5,
    /// The rest of the fee (the tip; before London the whole fee): `tx.from → fee recipient`.
    GasTip = 6,
    /// Block or uncle reward (before the Merge): `zero address → miner`.
    Reward = 7,
    /// A beacon-chain withdrawal (after Shanghai): `zero address → recipient`.
    Withdrawal = 8,
}

impl TransferKind {
    pub const ALL: [TransferKind; 9] = [
        TransferKind::TxValue,
        TransferKind::Internal,
        TransferKind::Create,
        TransferKind::SelfDestruct,
        TransferKind::Token,
        TransferKind::GasBurn,
        TransferKind::GasTip,
        TransferKind::Reward,
        TransferKind::Withdrawal,
    ];

    pub fn from_byte(b: u8) -> Option<TransferKind> {
        Self::ALL.get(b as usize).copied()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::TxValue => "tx-value",
            TransferKind::Internal => "internal",
            TransferKind::Create => "create",
            TransferKind::SelfDestruct => "self-destruct",
            TransferKind::Token => "token",
            TransferKind::GasBurn => "gas-burn",
            TransferKind::GasTip => "gas-tip",
            TransferKind::Reward => "reward",
            TransferKind::Withdrawal => "withdrawal",
        }
    }

    /// Gas moves even when the transaction fails; nothing else does.
    pub fn is_gas(self) -> bool {
        matches!(self, TransferKind::GasBurn | TransferKind::GasTip)
    }
}

impl fmt::Display for TransferKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One movement of value, with addresses and the asset as dense ids.
///
/// `from == AddrId::NONE` means the value was minted; `to == AddrId::NONE` means it was
/// destroyed. `tx` is `None` for the block's own credits (rewards, withdrawals).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transfer {
    pub kind: TransferKind,
    pub tx: Option<TxNum>,
    pub asset: AssetId,
    pub from: AddrId,
    pub to: AddrId,
    pub amount: U256,
}

/// A transfer as read from the node, before addresses get dense ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RawTransfer {
    pub kind: TransferKind,
    /// `None` for ether, else the token contract.
    pub asset: Option<Address>,
    /// `Address::ZERO` when the value was minted.
    pub from: Address,
    /// `Address::ZERO` when the value was destroyed.
    pub to: Address,
    pub amount: U256,
}

/// One transaction with its value transfers in canonical order (gas first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractedTx {
    pub hash: B256,
    pub index: u32,
    pub from: Address,
    pub to: Option<Address>,
    /// The contract a creation transaction deployed.
    pub created: Option<Address>,
    pub success: bool,
    pub gas_used: u64,
    pub effective_gas_price: u128,
    pub value: U256,
    pub transfers: Vec<RawTransfer>,
    /// The fee terms the sender chose: a wallet fingerprint (tracing spec §5.2, H2).
    pub pricing: GasPricing,
    /// Tornado-shaped `Deposit`/`Withdrawal` logs; empty for a failed transaction.
    pub mixer: MixerLogs,
}

/// The fee terms a transaction was signed with. Wallets fill them in their own way, so equal
/// terms hint at the same wallet; the price actually paid is `effective_gas_price`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GasPricing {
    /// Legacy and EIP-2930 transactions: one `gasPrice`.
    Legacy { gas_price: u128 },
    /// EIP-1559 fee market (also blob and EIP-7702 transactions).
    Eip1559 {
        max_fee_per_gas: u128,
        max_priority_fee_per_gas: u128,
    },
}

/// `topic0` of Tornado Cash's `Deposit(bytes32 indexed commitment, uint32 leafIndex, uint256
/// timestamp)`.
pub const TORNADO_DEPOSIT_TOPIC: B256 = B256::new([
    0xa9, 0x45, 0xe5, 0x1e, 0xec, 0x50, 0xab, 0x98, 0xc1, 0x61, 0x37, 0x6f, 0x0d, 0xb4, 0xcf, 0x2a,
    0xeb, 0xa3, 0xec, 0x92, 0x75, 0x5f, 0xe2, 0xfc, 0xd3, 0x88, 0xbd, 0xbb, 0xb8, 0x0f, 0xf1, 0x96,
]);

/// `topic0` of Tornado Cash's `Withdrawal(address to, bytes32 nullifierHash, address indexed
/// relayer, uint256 fee)`.
pub const TORNADO_WITHDRAWAL_TOPIC: B256 = B256::new([
    0xe9, 0xe5, 0x08, 0xba, 0xd6, 0xd4, 0xc3, 0x22, 0x7e, 0x88, 0x1c, 0xa1, 0x90, 0x68, 0xf0, 0x99,
    0xda, 0x81, 0xb5, 0x16, 0x4d, 0xd6, 0xd6, 0x2b, 0x2e, 0xaf, 0x1e, 0x8b, 0xc6, 0xc3, 0x49, 0x31,
]);

/// One Tornado-shaped pool event. Any contract can emit these logs; which contracts are real
/// pools is decided later, from a registry of pool addresses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MixerEvent {
    Deposit {
        /// The emitting contract.
        contract: Address,
        commitment: B256,
        leaf_index: u32,
        /// The `timestamp` the pool logged (its `block.timestamp`).
        timestamp: u64,
    },
    Withdrawal {
        contract: Address,
        /// The recipient of the note's value (`to`).
        to: Address,
        nullifier_hash: B256,
        /// The zero address for a self-relayed withdrawal.
        relayer: Address,
        fee: U256,
    },
}

impl MixerEvent {
    pub fn contract(&self) -> Address {
        match self {
            MixerEvent::Deposit { contract, .. } | MixerEvent::Withdrawal { contract, .. } => {
                *contract
            }
        }
    }

    pub fn is_deposit(&self) -> bool {
        matches!(self, MixerEvent::Deposit { .. })
    }
}

/// The mixer events of one transaction, in log order, and how many logs carried a mixer
/// topic but not the exact Tornado layout (skipped: a contract must not be able to stop
/// ingestion or plant a half-decoded event).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixerLogs {
    pub events: Vec<MixerEvent>,
    pub malformed: u32,
}

/// One block, reduced to what the index keeps: its identity, its transactions' transfers and
/// its own credits (rewards, withdrawals), plus the addresses where code ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractedBlock {
    pub number: u64,
    pub hash: B256,
    pub parent_hash: B256,
    pub timestamp: u64,
    pub miner: Address,
    pub base_fee: Option<u64>,
    pub txs: Vec<ExtractedTx>,
    pub credits: Vec<RawTransfer>,
    /// Created contracts, log emitters and callers of internal calls; sorted, without repeats.
    pub contracts: Vec<Address>,
}

impl ExtractedBlock {
    /// Number of transfers the block adds to the index.
    pub fn transfer_count(&self) -> usize {
        self.txs.iter().map(|t| t.transfers.len()).sum::<usize>() + self.credits.len()
    }

    /// Number of Tornado-shaped events the block adds to the index.
    pub fn mixer_event_count(&self) -> usize {
        self.txs.iter().map(|t| t.mixer.events.len()).sum()
    }

    /// Logs with a mixer topic that were skipped as malformed.
    pub fn malformed_mixer_logs(&self) -> u64 {
        self.txs.iter().map(|t| u64::from(t.mixer.malformed)).sum()
    }
}

/// Formats a wei amount as ether with all 18 decimals trimmed of trailing zeros
/// (`1500000000000000000` → `1.5`). For display only.
pub fn format_units(amount: U256, decimals: u8) -> String {
    let s = amount.to_string();
    let d = decimals as usize;
    let (int, frac) = if s.len() > d {
        (s[..s.len() - d].to_string(), s[s.len() - d..].to_string())
    } else {
        ("0".to_string(), format!("{s:0>d$}"))
    };
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int
    } else {
        format!("{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_byte() {
        for k in TransferKind::ALL {
            assert_eq!(TransferKind::from_byte(k as u8), Some(k));
        }
        assert_eq!(TransferKind::from_byte(9), None);
    }

    #[test]
    fn units_format_without_float() {
        assert_eq!(
            format_units(U256::from(1_500_000_000_000_000_000u64), 18),
            "1.5"
        );
        assert_eq!(format_units(U256::from(1u64), 18), "0.000000000000000001");
        assert_eq!(format_units(U256::ZERO, 18), "0");
        assert_eq!(format_units(U256::from(2_000_000u64), 6), "2");
    }

    #[test]
    fn tornado_topics_are_the_published_ones() {
        assert_eq!(
            TORNADO_DEPOSIT_TOPIC.to_string(),
            "0xa945e51eec50ab98c161376f0db4cf2aeba3ec92755fe2fcd388bdbbb80ff196"
        );
        assert_eq!(
            TORNADO_WITHDRAWAL_TOPIC.to_string(),
            "0xe9e508bad6d4c3227e881ca19068f099da81b5164dd6d62b2eaf1e8bc6c34931"
        );
        assert_eq!(
            TORNADO_DEPOSIT_TOPIC,
            alloy_primitives::keccak256("Deposit(bytes32,uint32,uint256)")
        );
        assert_eq!(
            TORNADO_WITHDRAWAL_TOPIC,
            alloy_primitives::keccak256("Withdrawal(address,bytes32,address,uint256)")
        );
    }

    #[test]
    fn a_token_asset_names_its_contract() {
        assert!(AssetId::ETH.is_eth());
        assert_eq!(AssetId::token(AddrId(7)).contract(), Some(AddrId(7)));
        assert_eq!(AssetId::ETH.contract(), None);
    }
}
