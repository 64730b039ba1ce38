//! The Ethereum index as an [`AccountLedger`], plus resolving what users type (0x addresses,
//! transaction hashes) into ids.

use chaintrace_model::eth::{Address, AssetId, EventNum, B256, U256};
use chaintrace_model::{AddrId, TxNum};
use chaintrace_store::eth::{EthIndex, EthState};
use chaintrace_store::Store;

use chaintrace_store::tables::LabelTarget;

use crate::account::ledger::{AccountLedger, EventView};
use crate::attribution::{load_labels, Attributions, Named};
use crate::ledger::TraceError;

pub use crate::eth_pools::{load_pool_events, tornado_pools};

/// An Ethereum index opened for tracing.
#[derive(Clone)]
pub struct EthLedger<'s> {
    idx: EthIndex<'s>,
    state: EthState,
}

impl<'s> EthLedger<'s> {
    pub fn new(store: &'s Store) -> Result<Self, TraceError> {
        let idx = EthIndex::new(store);
        let state = idx
            .state()?
            .ok_or_else(|| TraceError::NotFound("the index holds no Ethereum data".into()))?;
        Ok(EthLedger { idx, state })
    }

    pub fn index(&self) -> &EthIndex<'s> {
        &self.idx
    }

    pub fn state(&self) -> &EthState {
        &self.state
    }

    /// The id of a `0x` address; an address the index never saw is an error that says so.
    pub fn resolve_address(&self, text: &str) -> Result<AddrId, TraceError> {
        let address = parse_address(text)?;
        self.idx.addr_id(&address)?.ok_or_else(|| {
            TraceError::NotFound(format!(
                "address {address} does not appear in the indexed Ethereum blocks"
            ))
        })
    }

    /// The number of a transaction given by its hash.
    pub fn resolve_tx(&self, text: &str) -> Result<TxNum, TraceError> {
        let hash = parse_hash(text)?;
        self.idx.tx_num(&hash.0)?.ok_or_else(|| {
            TraceError::NotFound(format!("transaction {hash} is not in the indexed blocks"))
        })
    }
}

/// The labels of the index that name Ethereum addresses it holds.
pub fn load_eth_attributions(store: &Store) -> Result<Attributions, TraceError> {
    let idx = EthIndex::new(store);
    load_labels(store, |target| {
        Ok(match target {
            LabelTarget::EthAddr(a) => idx
                .addr_id(&Address::from(a.0))?
                .filter(|id| !id.is_none())
                .map_or(Named::Elsewhere, Named::Addr),
            _ => Named::Elsewhere,
        })
    })
}

/// Parses `0x` + 40 hex digits. Mixed case must carry a valid EIP-55 checksum: a wrong
/// checksum usually means a mistyped address, which must not silently trace something else.
pub fn parse_address(text: &str) -> Result<Address, TraceError> {
    let t = text.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .ok_or_else(|| TraceError::Invalid(format!("{t:?} is not an Ethereum address (0x…)")))?;
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TraceError::Invalid(format!(
            "{t:?} is not an Ethereum address: expected 0x and 40 hex digits"
        )));
    }
    let mixed =
        hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    if mixed {
        return Address::parse_checksummed(format!("0x{hex}"), None).map_err(|_| {
            TraceError::Invalid(format!("{t}: the EIP-55 checksum (letter case) is wrong"))
        });
    }
    hex.parse::<Address>()
        .map_err(|e| TraceError::Invalid(format!("{t:?} is not an Ethereum address: {e}")))
}

/// Parses a `0x` + 64 hex digit transaction hash.
pub fn parse_hash(text: &str) -> Result<B256, TraceError> {
    let t = text.trim();
    let ok = t.len() == 66 && t.starts_with("0x") && t[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(TraceError::Invalid(format!(
            "{t:?} is not an Ethereum transaction hash: expected 0x and 64 hex digits"
        )));
    }
    t.parse::<B256>()
        .map_err(|e| TraceError::Invalid(format!("{t:?}: {e}")))
}

impl AccountLedger for EthLedger<'_> {
    fn event(&self, e: EventNum) -> Result<EventView, TraceError> {
        let rec = self.idx.event(e)?;
        Ok(EventView {
            num: e,
            height: rec.height,
            transfer: rec.transfer,
        })
    }

    fn tx_events(&self, tx: TxNum) -> Result<Vec<EventView>, TraceError> {
        let rec = self.idx.tx(tx)?;
        let range = rec.first_event..rec.first_event + u64::from(rec.event_count);
        Ok(self
            .idx
            .events(range)?
            .into_iter()
            .map(|(num, r)| EventView {
                num,
                height: r.height,
                transfer: r.transfer,
            })
            .collect())
    }

    fn history(
        &self,
        addr: AddrId,
        asset: AssetId,
        from: EventNum,
        limit: usize,
    ) -> Result<Vec<EventNum>, TraceError> {
        Ok(self
            .idx
            .history(addr, asset, from, limit)?
            .into_iter()
            .map(|(e, _)| e)
            .collect())
    }

    fn history_back(
        &self,
        addr: AddrId,
        asset: AssetId,
        before: EventNum,
        limit: usize,
    ) -> Result<Vec<EventNum>, TraceError> {
        Ok(self.idx.history_back(addr, asset, before, limit)?)
    }

    fn assets_of(&self, addr: AddrId) -> Result<Vec<AssetId>, TraceError> {
        Ok(self.idx.assets_of(addr)?)
    }

    fn balance_before(
        &self,
        addr: AddrId,
        asset: AssetId,
        e: EventNum,
    ) -> Result<U256, TraceError> {
        Ok(self.idx.balance_before(addr, asset, e)?)
    }

    fn is_contract(&self, addr: AddrId) -> Result<bool, TraceError> {
        Ok(self.idx.is_contract(addr)?)
    }

    fn end(&self) -> EventNum {
        EventNum(self.state.next_event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_like_wallets_do() {
        let pool = "0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936";
        assert!(parse_address(pool).is_ok());
        assert!(parse_address(&pool.to_lowercase()).is_ok());
        assert!(parse_address(&pool.replace("CE0C", "ce0C")).is_err());
        assert!(parse_address("0x1234").is_err());
        assert!(parse_address("47ce0c6ed5b0ce3d3a51fdb1c52dc66a7c3c2936").is_err());
        assert!(parse_hash(&format!("0x{}", "ab".repeat(32))).is_ok());
        assert!(parse_hash("0xzz").is_err());
    }
}
