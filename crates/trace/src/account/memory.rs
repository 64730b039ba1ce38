//! An in-memory account ledger: transfers of a precise shape for tests, examples and benches,
//! with the balances and per-account histories an index would keep.
//!
//! ```
//! use chaintrace_model::AddrId;
//! use chaintrace_trace::account::memory::MemAccountLedger;
//!
//! let (a, b, miner) = (AddrId(1), AddrId(2), AddrId(9));
//! let mut l = MemAccountLedger::new();
//! l.block(miner);
//! l.reward(a, 100u64);
//! l.tx().gas(a, 1u64, 1u64).value(a, b, 50u64);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use chaintrace_model::eth::{AssetId, EventNum, Transfer, TransferKind, U256};
use chaintrace_model::{AddrId, TxNum};
use rustc_hash::{FxHashMap, FxHashSet};

use super::ledger::{AccountLedger, EventView};
use crate::ledger::TraceError;

/// Amounts the builder accepts: `u64`, `u128` or `U256`.
pub trait ToU256 {
    fn to_u256(self) -> U256;
}

impl ToU256 for u64 {
    fn to_u256(self) -> U256 {
        U256::from(self)
    }
}

impl ToU256 for u128 {
    fn to_u256(self) -> U256 {
        U256::from(self)
    }
}

impl ToU256 for U256 {
    fn to_u256(self) -> U256 {
        self
    }
}

/// One account's events in one asset, with the indexed balance after each.
#[derive(Clone, Debug, Default)]
struct History {
    events: Vec<EventNum>,
    balance_after: Vec<U256>,
}

/// Transfers in canonical order, grouped in blocks and transactions.
#[derive(Clone, Debug, Default)]
pub struct MemAccountLedger {
    events: Vec<EventView>,
    txs: Vec<Range<usize>>,
    miners: Vec<AddrId>,
    histories: FxHashMap<(AddrId, AssetId), History>,
    assets: FxHashMap<AddrId, BTreeSet<AssetId>>,
    contracts: FxHashSet<AddrId>,
}

impl MemAccountLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a block whose tips go to `miner`; returns its height.
    pub fn block(&mut self, miner: AddrId) -> u32 {
        self.miners.push(miner);
        (self.miners.len() - 1) as u32
    }

    /// Starts a transaction in the current block (block 0, mined by nobody, if none was
    /// started). Add its transfers in canonical order through the builder.
    pub fn tx(&mut self) -> TxBuilder<'_> {
        if self.miners.is_empty() {
            self.block(AddrId::NONE);
        }
        let tx = TxNum(self.txs.len() as u64);
        let at = self.events.len();
        self.txs.push(at..at);
        TxBuilder { ledger: self, tx }
    }

    /// A block reward (or any credit without a transaction) of ether to `to`.
    pub fn reward(&mut self, to: AddrId, amount: impl ToU256) -> EventNum {
        self.push(
            TransferKind::Reward,
            None,
            AssetId::ETH,
            AddrId::NONE,
            to,
            amount.to_u256(),
        )
    }

    /// Marks `addr` as a contract (code ran there).
    pub fn contract(&mut self, addr: AddrId) {
        self.contracts.insert(addr);
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Number of transactions.
    pub fn tx_count(&self) -> usize {
        self.txs.len()
    }

    fn height(&self) -> u32 {
        self.miners.len().saturating_sub(1) as u32
    }

    fn push(
        &mut self,
        kind: TransferKind,
        tx: Option<TxNum>,
        asset: AssetId,
        from: AddrId,
        to: AddrId,
        amount: U256,
    ) -> EventNum {
        if self.miners.is_empty() {
            self.block(AddrId::NONE);
        }
        let num = EventNum(self.events.len() as u64);
        let transfer = Transfer {
            kind,
            tx,
            asset,
            from,
            to,
            amount,
        };
        self.record(num, &transfer);
        self.events.push(EventView {
            num,
            height: self.height(),
            transfer,
        });
        num
    }

    /// Updates both parties' histories and balances (clamped at zero, like a late index).
    fn record(&mut self, num: EventNum, t: &Transfer) {
        let parties = [(t.from, true), (t.to, false)];
        for (addr, debit) in parties {
            if addr.is_none() || (!debit && t.from == t.to) {
                continue;
            }
            self.assets.entry(addr).or_default().insert(t.asset);
            let h = self.histories.entry((addr, t.asset)).or_default();
            let before = h.balance_after.last().copied().unwrap_or_default();
            let after = match (debit, t.from == t.to) {
                (_, true) => before,
                (true, false) => before.saturating_sub(t.amount),
                (false, false) => before.saturating_add(t.amount),
            };
            h.events.push(num);
            h.balance_after.push(after);
        }
    }
}

/// Adds the transfers of one transaction, in canonical order.
pub struct TxBuilder<'a> {
    ledger: &'a mut MemAccountLedger,
    tx: TxNum,
}

impl TxBuilder<'_> {
    /// The transaction's number.
    pub fn num(&self) -> TxNum {
        self.tx
    }

    /// Any transfer of this transaction.
    pub fn transfer(
        self,
        kind: TransferKind,
        asset: AssetId,
        from: AddrId,
        to: AddrId,
        amount: impl ToU256,
    ) -> Self {
        let l = &mut *self.ledger;
        let num = l.push(kind, Some(self.tx), asset, from, to, amount.to_u256());
        if let Some(r) = l.txs.get_mut(self.tx.0 as usize) {
            r.end = num.0 as usize + 1;
        }
        self
    }

    /// Gas paid by `from`: `burn` to the zero address, then `tip` to the block's miner (zero
    /// amounts are left out, as an index would).
    pub fn gas(self, from: AddrId, burn: impl ToU256, tip: impl ToU256) -> Self {
        let miner = self.ledger.miners.last().copied().unwrap_or(AddrId::NONE);
        let (burn, tip) = (burn.to_u256(), tip.to_u256());
        let mut b = self;
        if !burn.is_zero() {
            b = b.transfer(
                TransferKind::GasBurn,
                AssetId::ETH,
                from,
                AddrId::NONE,
                burn,
            );
        }
        if !tip.is_zero() {
            b = b.transfer(TransferKind::GasTip, AssetId::ETH, from, miner, tip);
        }
        b
    }

    /// The transaction's ether value.
    pub fn value(self, from: AddrId, to: AddrId, amount: impl ToU256) -> Self {
        self.transfer(TransferKind::TxValue, AssetId::ETH, from, to, amount)
    }

    /// An internal call with value; `from` is a contract (its code made the call).
    pub fn internal(self, from: AddrId, to: AddrId, amount: impl ToU256) -> Self {
        self.ledger.contract(from);
        self.transfer(TransferKind::Internal, AssetId::ETH, from, to, amount)
    }

    /// An ERC-20 `Transfer` log of `token` (a contract: it emitted the log).
    pub fn token(self, token: AddrId, from: AddrId, to: AddrId, amount: impl ToU256) -> Self {
        self.ledger.contract(token);
        self.transfer(TransferKind::Token, AssetId::token(token), from, to, amount)
    }
}

impl AccountLedger for MemAccountLedger {
    fn event(&self, e: EventNum) -> Result<EventView, TraceError> {
        self.events
            .get(e.0 as usize)
            .cloned()
            .ok_or_else(|| TraceError::NotFound(format!("no event {e}")))
    }

    fn tx_events(&self, tx: TxNum) -> Result<Vec<EventView>, TraceError> {
        let r = self
            .txs
            .get(tx.0 as usize)
            .ok_or_else(|| TraceError::NotFound(format!("no transaction {tx}")))?;
        Ok(self.events.get(r.clone()).unwrap_or_default().to_vec())
    }

    fn history(
        &self,
        addr: AddrId,
        asset: AssetId,
        from: EventNum,
        limit: usize,
    ) -> Result<Vec<EventNum>, TraceError> {
        let Some(h) = self.histories.get(&(addr, asset)) else {
            return Ok(Vec::new());
        };
        let start = h.events.partition_point(|e| *e < from);
        Ok(h.events[start..].iter().take(limit).copied().collect())
    }

    fn history_back(
        &self,
        addr: AddrId,
        asset: AssetId,
        before: EventNum,
        limit: usize,
    ) -> Result<Vec<EventNum>, TraceError> {
        let Some(h) = self.histories.get(&(addr, asset)) else {
            return Ok(Vec::new());
        };
        let end = h.events.partition_point(|e| *e < before);
        Ok(h.events[..end].iter().rev().take(limit).copied().collect())
    }

    fn assets_of(&self, addr: AddrId) -> Result<Vec<AssetId>, TraceError> {
        Ok(self
            .assets
            .get(&addr)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default())
    }

    fn balance_before(
        &self,
        addr: AddrId,
        asset: AssetId,
        e: EventNum,
    ) -> Result<U256, TraceError> {
        let Some(h) = self.histories.get(&(addr, asset)) else {
            return Ok(U256::ZERO);
        };
        let i = h.events.partition_point(|x| *x < e);
        Ok(i.checked_sub(1).map_or(U256::ZERO, |i| h.balance_after[i]))
    }

    fn is_contract(&self, addr: AddrId) -> Result<bool, TraceError> {
        Ok(self.contracts.contains(&addr))
    }

    fn end(&self) -> EventNum {
        EventNum(self.events.len() as u64)
    }
}

/// Balances of every (address, asset) at the end, for tests that check an engine against the
/// ledger's own arithmetic.
pub fn final_balances(l: &MemAccountLedger) -> BTreeMap<(AddrId, AssetId), U256> {
    l.histories
        .iter()
        .map(|(k, h)| (*k, h.balance_after.last().copied().unwrap_or_default()))
        .collect()
}
