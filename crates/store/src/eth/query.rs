//! Read queries over the Ethereum tables: blocks, transactions, transfers, addresses, and the
//! per-(address, asset) histories the account-model tracer walks.

use chaintrace_model::eth::{Address, AssetId, EventNum, U256};
use chaintrace_model::{AddrId, TxNum};

use crate::codec::DecodeError;
use crate::eth::records::{EthBlockRecord, EthState, EthTxRecord, EthUndoRecord, EventRecord};
use crate::tables::{
    AddrAsset, EthAddr, EthAddrKeys, EthAddrs, EthBalances, EthBlockHeights, EthBlocks,
    EthContracts, EthEvents, EthHistory, EthTxHashes, EthTxs, EthUndo, Hash32, Height, HistoryKey,
    Meta, MetaKey,
};
use crate::{Store, StoreError};

/// Typed reads of the Ethereum side of an index.
#[derive(Clone, Copy)]
pub struct EthIndex<'s> {
    store: &'s Store,
}

fn missing(table: &'static str, key: String) -> StoreError {
    StoreError::Corrupt {
        table,
        key,
        source: DecodeError::new("row", "missing although the index refers to it"),
    }
}

impl<'s> EthIndex<'s> {
    pub fn new(store: &'s Store) -> Self {
        EthIndex { store }
    }

    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// The Ethereum cursor, or `None` when nothing Ethereum was ever ingested.
    pub fn state(&self) -> Result<Option<EthState>, StoreError> {
        let Some(raw) = self.store.get::<Meta>(&MetaKey::EthState)? else {
            return Ok(None);
        };
        EthState::decode(&raw)
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                table: "meta",
                key: "eth.state".into(),
                source,
            })
    }

    pub fn block(&self, height: u32) -> Result<Option<EthBlockRecord>, StoreError> {
        self.store.get::<EthBlocks>(&Height(height))
    }

    pub fn height_of(&self, hash: &[u8; 32]) -> Result<Option<u32>, StoreError> {
        Ok(self
            .store
            .get::<EthBlockHeights>(&Hash32(*hash))?
            .map(|h| h.0))
    }

    pub fn undo(&self, height: u32) -> Result<EthUndoRecord, StoreError> {
        self.store
            .get::<EthUndo>(&Height(height))?
            .ok_or_else(|| missing("eth_undo", format!("height {height}")))
    }

    pub fn tx_num(&self, hash: &[u8; 32]) -> Result<Option<TxNum>, StoreError> {
        self.store.get::<EthTxHashes>(&Hash32(*hash))
    }

    pub fn tx(&self, tx: TxNum) -> Result<EthTxRecord, StoreError> {
        self.store
            .get::<EthTxs>(&tx)?
            .ok_or_else(|| missing("eth_txs", tx.to_string()))
    }

    /// Hashes of several transactions at once, in the order asked.
    pub fn tx_hashes(&self, txs: &[TxNum]) -> Result<Vec<[u8; 32]>, StoreError> {
        let found = self
            .store
            .multi_get_with::<EthTxs, _>(txs, EthTxRecord::decode_hash)?;
        txs.iter()
            .zip(found)
            .map(|(t, h)| h.ok_or_else(|| missing("eth_txs", t.to_string())))
            .collect()
    }

    pub fn event(&self, e: EventNum) -> Result<EventRecord, StoreError> {
        self.store
            .get::<EthEvents>(&e)?
            .ok_or_else(|| missing("eth_events", e.to_string()))
    }

    /// The transfers numbered `range`, in order.
    pub fn events(
        &self,
        range: std::ops::Range<u64>,
    ) -> Result<Vec<(EventNum, EventRecord)>, StoreError> {
        let mut out = Vec::with_capacity(range.end.saturating_sub(range.start) as usize);
        for item in self
            .store
            .iter_from::<EthEvents>(Some(&EventNum(range.start)))
        {
            let (e, rec) = item?;
            if e.0 >= range.end {
                break;
            }
            out.push((e, rec));
        }
        Ok(out)
    }

    pub fn addr_id(&self, address: &Address) -> Result<Option<AddrId>, StoreError> {
        if *address == Address::ZERO {
            return Ok(Some(AddrId::NONE));
        }
        self.store.get::<EthAddrs>(&EthAddr(address.0 .0))
    }

    /// The 20-byte addresses of several ids at once (id 0 is the zero address).
    pub fn addresses(&self, ids: &[AddrId]) -> Result<Vec<Address>, StoreError> {
        let found = self.store.multi_get::<EthAddrKeys>(ids)?;
        ids.iter()
            .zip(found)
            .map(|(id, a)| match a {
                Some(a) => Ok(Address::from(a.0)),
                None if id.is_none() => Ok(Address::ZERO),
                None => Err(missing("eth_addr_keys", id.to_string())),
            })
            .collect()
    }

    pub fn is_contract(&self, addr: AddrId) -> Result<bool, StoreError> {
        Ok(self.store.get::<EthContracts>(&addr)?.is_some())
    }

    /// Every asset `addr` ever sent or received, ether first.
    pub fn assets_of(&self, addr: AddrId) -> Result<Vec<AssetId>, StoreError> {
        self.store
            .iter_prefix::<EthBalances>(AddrAsset::prefix(addr))
            .map(|item| item.map(|(k, _)| k.asset))
            .collect()
    }

    /// Current indexed balance.
    pub fn balance(&self, addr: AddrId, asset: AssetId) -> Result<U256, StoreError> {
        Ok(self
            .store
            .get::<EthBalances>(&AddrAsset { addr, asset })?
            .map_or(U256::ZERO, |b| b.0))
    }

    /// Up to `limit` events of (addr, asset) numbered `from` or later, with the balance after
    /// each.
    pub fn history(
        &self,
        addr: AddrId,
        asset: AssetId,
        from: EventNum,
        limit: usize,
    ) -> Result<Vec<(EventNum, U256)>, StoreError> {
        let start = HistoryKey {
            addr,
            asset,
            event: from,
        };
        let mut out = Vec::new();
        for item in self.store.iter_from::<EthHistory>(Some(&start)) {
            let (k, bal) = item?;
            if k.addr != addr || k.asset != asset || out.len() >= limit {
                break;
            }
            out.push((k.event, bal.0));
        }
        Ok(out)
    }

    /// Up to `limit` events of (addr, asset) numbered below `before`, newest first.
    pub fn history_back(
        &self,
        addr: AddrId,
        asset: AssetId,
        before: EventNum,
        limit: usize,
    ) -> Result<Vec<EventNum>, StoreError> {
        let key = HistoryKey {
            addr,
            asset,
            event: before,
        };
        self.store
            .iter_before::<EthHistory>(HistoryKey::prefix(addr, asset), &key)
            .take(limit)
            .map(|item| item.map(|(k, _)| k.event))
            .collect()
    }

    /// Indexed balance of (addr, asset) just before event `e`.
    pub fn balance_before(
        &self,
        addr: AddrId,
        asset: AssetId,
        e: EventNum,
    ) -> Result<U256, StoreError> {
        let prefix = HistoryKey::prefix(addr, asset);
        let key = HistoryKey {
            addr,
            asset,
            event: e,
        };
        Ok(self
            .store
            .last_before::<EthHistory>(&prefix, &key)?
            .map_or(U256::ZERO, |(_, b)| b.0))
    }
}
