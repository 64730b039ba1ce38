//! Read access to the Bitcoin index.

use chaintrace_model::btc::AddrKey;
use chaintrace_model::{AddrId, Network, TxNum};

use crate::records::{BlockRecord, ChainState, SpendRecord, TxRecord};
use crate::tables::{
    AddrOutput, BtcAddrKeys, BtcAddrOutputs, BtcAddrs, BtcBlockHeights, BtcBlocks, BtcSpends,
    BtcTxids, BtcTxs, Hash32, Height, Meta, MetaKey, OutPointNum,
};
use crate::{Store, StoreError};

/// Typed queries over the Bitcoin tables.
#[derive(Clone, Copy)]
pub struct BtcIndex<'s> {
    store: &'s Store,
}

impl<'s> BtcIndex<'s> {
    pub fn new(store: &'s Store) -> Self {
        BtcIndex { store }
    }

    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// The network this index holds, once anything was ingested.
    pub fn network(&self) -> Result<Option<Network>, StoreError> {
        let Some(raw) = self.store.get::<Meta>(&MetaKey::BtcNetwork)? else {
            return Ok(None);
        };
        let name = String::from_utf8_lossy(&raw);
        name.parse().map(Some).map_err(|_| StoreError::Corrupt {
            table: "meta",
            key: "btc.network".into(),
            source: crate::codec::DecodeError::new("network", name.to_string()),
        })
    }

    pub fn state(&self) -> Result<Option<ChainState>, StoreError> {
        let Some(raw) = self.store.get::<Meta>(&MetaKey::BtcState)? else {
            return Ok(None);
        };
        ChainState::decode(&raw)
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                table: "meta",
                key: "btc.state".into(),
                source,
            })
    }

    pub fn block(&self, height: u32) -> Result<Option<BlockRecord>, StoreError> {
        self.store.get::<BtcBlocks>(&Height(height))
    }

    /// Height of an active-chain block, by hash (internal byte order).
    pub fn block_height(&self, hash: &[u8; 32]) -> Result<Option<u32>, StoreError> {
        Ok(self
            .store
            .get::<BtcBlockHeights>(&Hash32(*hash))?
            .map(|h| h.0))
    }

    pub fn tx_num(&self, txid: &[u8; 32]) -> Result<Option<TxNum>, StoreError> {
        self.store.get::<BtcTxids>(&Hash32(*txid))
    }

    pub fn tx(&self, num: TxNum) -> Result<Option<TxRecord>, StoreError> {
        self.store.get::<BtcTxs>(&num)
    }

    /// The txids of many transactions in one batched read (`None`: not in the index).
    pub fn txids(&self, nums: &[TxNum]) -> Result<Vec<Option<[u8; 32]>>, StoreError> {
        self.store
            .multi_get_with::<BtcTxs, _>(nums, TxRecord::decode_txid)
    }

    pub fn tx_by_txid(&self, txid: &[u8; 32]) -> Result<Option<(TxNum, TxRecord)>, StoreError> {
        let Some(num) = self.tx_num(txid)? else {
            return Ok(None);
        };
        Ok(self.tx(num)?.map(|t| (num, t)))
    }

    /// Who spent output `vout` of transaction `tx`; `None` while it is unspent.
    pub fn spender(&self, tx: TxNum, vout: u32) -> Result<Option<SpendRecord>, StoreError> {
        self.store.get::<BtcSpends>(&OutPointNum { tx, vout })
    }

    /// Who spent each of the first `outputs` outputs of `tx` (`None`: unspent), in one
    /// batched read.
    pub fn spenders_of(
        &self,
        tx: TxNum,
        outputs: u32,
    ) -> Result<Vec<Option<SpendRecord>>, StoreError> {
        let keys: Vec<OutPointNum> = (0..outputs).map(|vout| OutPointNum { tx, vout }).collect();
        self.store.multi_get::<BtcSpends>(&keys)
    }

    pub fn addr_id(&self, key: &AddrKey) -> Result<Option<AddrId>, StoreError> {
        self.store.get::<BtcAddrs>(key)
    }

    pub fn addr_key(&self, id: AddrId) -> Result<Option<AddrKey>, StoreError> {
        self.store.get::<BtcAddrKeys>(&id)
    }

    /// [`BtcIndex::addr_key`] for many addresses in one batched read.
    pub fn addr_keys(&self, ids: &[AddrId]) -> Result<Vec<Option<AddrKey>>, StoreError> {
        self.store.multi_get::<BtcAddrKeys>(ids)
    }

    /// Outputs received by `addr` in chain order, streamed (hub addresses have millions).
    pub fn addr_outputs(
        &self,
        addr: AddrId,
    ) -> impl Iterator<Item = Result<(TxNum, u32, u64), StoreError>> + 's {
        let start = AddrOutput {
            addr,
            tx: TxNum(0),
            vout: 0,
        };
        self.store
            .iter_from::<BtcAddrOutputs>(Some(&start))
            .take_while(move |r| r.as_ref().map_or(true, |(k, _)| k.addr == addr))
            .map(|r| r.map(|(k, v)| (k.tx, k.vout, v.0)))
    }
}
