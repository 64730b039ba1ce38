//! The small interface the account engine needs from an index of Ethereum transfers.
//!
//! The store-backed index implements it; [`super::memory::MemAccountLedger`] implements it in
//! memory for tests and benches. Everything is addressed by dense ids and the global canonical
//! event order ([`EventNum`]), so the engine never touches hashes or storage layouts.

use chaintrace_model::eth::{AssetId, EventNum, Transfer, U256};
use chaintrace_model::{AddrId, TxNum};

use crate::ledger::TraceError;

/// One indexed transfer with its position in canonical order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventView {
    pub num: EventNum,
    /// Height of the block the transfer belongs to.
    pub height: u32,
    pub transfer: Transfer,
}

/// Read access to an account-model ledger. Implementations must be cheap to call from several
/// threads; hub accounts (millions of events) are read in pages through [`Self::history`],
/// never loaded whole.
pub trait AccountLedger: Sync {
    /// The event numbered `e`.
    fn event(&self, e: EventNum) -> Result<EventView, TraceError>;

    /// All events of one transaction, in canonical order (gas first, then value movements in
    /// call-tree order, token logs in the frame that emitted them); they are contiguous in the
    /// global order. The engine processes a transaction as a whole, because pass-through
    /// contracts match a transaction's inflows to its outflows.
    fn tx_events(&self, tx: TxNum) -> Result<Vec<EventView>, TraceError>;

    /// Events where `addr` is sender or recipient of `asset`, with number >= `from`, in order,
    /// at most `limit`. A self-transfer appears once.
    fn history(
        &self,
        addr: AddrId,
        asset: AssetId,
        from: EventNum,
        limit: usize,
    ) -> Result<Vec<EventNum>, TraceError>;

    /// Every asset `addr` ever sent or received.
    fn assets_of(&self, addr: AddrId) -> Result<Vec<AssetId>, TraceError>;

    /// Indexed balance of (addr, asset) just before event `e` (sum of indexed credits minus
    /// debits; never negative: an index that starts late clamps at zero). The engine seeds an
    /// account's state with it when taint first arrives: that balance is clean and older than
    /// anything the trace adds.
    fn balance_before(&self, addr: AddrId, asset: AssetId, e: EventNum)
        -> Result<U256, TraceError>;

    /// Whether code ran at `addr` (created by a tx, emitted a log, or made an internal call).
    /// Only contracts can be pass-through (an externally owned account cannot receive and
    /// forward value inside one transaction).
    fn is_contract(&self, addr: AddrId) -> Result<bool, TraceError>;

    /// One past the last indexed event.
    fn end(&self) -> EventNum;

    /// Events of (addr, asset) with number < `before`, newest first, at most `limit`.
    ///
    /// Backward walks need an account's most recent inflows first. The default pages
    /// [`Self::history`] forward over windows that grow fourfold back from `before`, so it
    /// reads about as many events as it returns plus one window; an index with a reverse
    /// iterator should override it.
    fn history_back(
        &self,
        addr: AddrId,
        asset: AssetId,
        before: EventNum,
        limit: usize,
    ) -> Result<Vec<EventNum>, TraceError> {
        let mut out = Vec::new();
        let (mut hi, mut span) = (before.0, 1024u64);
        while hi > 0 && out.len() < limit {
            let lo = hi.saturating_sub(span);
            let mut window = Vec::new();
            let mut from = EventNum(lo);
            loop {
                let page = self.history(addr, asset, from, 1024)?;
                let full = page.len() == 1024;
                let Some(last) = page.last().copied() else {
                    break;
                };
                window.extend(page.into_iter().filter(|e| e.0 < hi));
                if !full || last.0 + 1 >= hi {
                    break;
                }
                from = EventNum(last.0 + 1);
            }
            out.extend(window.into_iter().rev().take(limit - out.len()));
            hi = lo;
            span = span.saturating_mul(4);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::memory::MemAccountLedger;

    /// Delegates everything but `history_back`, to test the trait's default.
    struct Plain<'a>(&'a MemAccountLedger);

    impl AccountLedger for Plain<'_> {
        fn event(&self, e: EventNum) -> Result<EventView, TraceError> {
            self.0.event(e)
        }
        fn tx_events(&self, tx: TxNum) -> Result<Vec<EventView>, TraceError> {
            self.0.tx_events(tx)
        }
        fn history(
            &self,
            addr: AddrId,
            asset: AssetId,
            from: EventNum,
            limit: usize,
        ) -> Result<Vec<EventNum>, TraceError> {
            self.0.history(addr, asset, from, limit)
        }
        fn assets_of(&self, addr: AddrId) -> Result<Vec<AssetId>, TraceError> {
            self.0.assets_of(addr)
        }
        fn balance_before(
            &self,
            addr: AddrId,
            asset: AssetId,
            e: EventNum,
        ) -> Result<U256, TraceError> {
            self.0.balance_before(addr, asset, e)
        }
        fn is_contract(&self, addr: AddrId) -> Result<bool, TraceError> {
            self.0.is_contract(addr)
        }
        fn end(&self) -> EventNum {
            self.0.end()
        }
    }

    #[test]
    fn the_default_history_back_pages_correctly() {
        let mut l = MemAccountLedger::new();
        for i in 0..6_000u64 {
            // Address 1 is busy at first and rare later; address 2 the other way round.
            let to = if (i < 3_000) == (i % 7 != 0) { 1 } else { 2 };
            l.reward(AddrId(to), 1u64);
        }
        let plain = Plain(&l);
        for addr in [AddrId(1), AddrId(2), AddrId(3)] {
            for before in [0, 1, 500, 2_999, 3_000, 4_500, 6_000, 9_000] {
                for limit in [1, 10, 1_500, 10_000] {
                    let e = EventNum(before);
                    let want = l.history_back(addr, AssetId::ETH, e, limit).unwrap();
                    let got = plain.history_back(addr, AssetId::ETH, e, limit).unwrap();
                    assert_eq!(got, want, "{addr} {before} {limit}");
                }
            }
        }
    }
}
