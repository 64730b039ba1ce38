//! Which events the forward engine must visit: the merged histories of the accounts it tracks.
//!
//! A tracked (address, asset) must see every one of its events, clean ones included, or its
//! balance drifts. Each tracked pair keeps a cursor into its history (read in pages, so a hub
//! is never loaded whole), and the next event of every cursor sits in one radix queue: popping
//! gives the next event anywhere in the trace, in global canonical order. The engine runs a
//! popped event's whole transaction, so everything before the transaction's end is done: an
//! event shared by two tracked accounts, or a second event of the same transaction, pops again
//! and is skipped.

use std::collections::VecDeque;

use chaintrace_model::eth::{AssetId, EventNum};
use chaintrace_model::AddrId;
use rustc_hash::FxHashMap;

use super::ledger::AccountLedger;
use crate::ledger::TraceError;
use crate::queue::RadixQueue;

/// An (address, asset) balance.
pub type Pair = (AddrId, AssetId);

/// History events read per page.
const PAGE: usize = 256;

/// A tracked pair's position in its history.
#[derive(Debug, Default)]
struct Cursor {
    buffered: VecDeque<EventNum>,
    /// Where the next page starts.
    next_page: EventNum,
    exhausted: bool,
}

#[derive(Debug, Default)]
pub struct Frontier {
    queue: RadixQueue,
    cursors: FxHashMap<Pair, Cursor>,
    /// Every event before it has been processed.
    done: EventNum,
}

impl Frontier {
    /// Everything before this event has been processed.
    pub fn done(&self) -> EventNum {
        self.done
    }

    /// Marks everything before `end` as processed.
    pub fn finish(&mut self, end: EventNum) {
        self.done = self.done.max(end);
    }

    /// Follows `pair` from event `from` (or from where processing stands, if later) and
    /// queues its next event.
    pub fn follow<L: AccountLedger>(
        &mut self,
        ledger: &L,
        pair: Pair,
        from: EventNum,
    ) -> Result<(), TraceError> {
        let start = from.max(self.done);
        let c = self.cursors.entry(pair).or_insert_with(|| Cursor {
            next_page: start,
            ..Cursor::default()
        });
        c.next_page = c.next_page.max(start);
        self.advance(ledger, pair)
    }

    /// Stops following `pair` (its queued event, if any, is skipped when it pops).
    pub fn drop_pair(&mut self, pair: Pair) {
        self.cursors.remove(&pair);
    }

    /// Queues the next event of a followed `pair` not yet processed.
    pub fn advance<L: AccountLedger>(&mut self, ledger: &L, pair: Pair) -> Result<(), TraceError> {
        let done = self.done;
        let Some(c) = self.cursors.get_mut(&pair) else {
            return Ok(());
        };
        while c.buffered.front().is_some_and(|e| *e < done) {
            c.buffered.pop_front();
        }
        if c.buffered.is_empty() && !c.exhausted {
            let from = c.next_page.max(done);
            let page = ledger.history(pair.0, pair.1, from, PAGE)?;
            c.exhausted = page.len() < PAGE;
            if let Some(last) = page.last() {
                c.next_page = EventNum(last.0.saturating_add(1));
            }
            c.buffered.extend(page.into_iter().filter(|e| *e >= done));
        }
        match c.buffered.front() {
            Some(e) if self.queue.push(e.0) => Ok(()),
            Some(e) => Err(TraceError::Invalid(format!(
                "the index is inconsistent: the history of {} lists {e} after later events",
                pair.0
            ))),
            None => Ok(()),
        }
    }

    /// The next event to process, in canonical order.
    pub fn pop(&mut self) -> Option<EventNum> {
        while let Some(e) = self.queue.pop() {
            if e >= self.done.0 {
                return Some(EventNum(e));
            }
        }
        None
    }

    /// Number of pairs followed.
    pub fn len(&self) -> usize {
        self.cursors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cursors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::memory::MemAccountLedger;

    #[test]
    fn merges_histories_in_order_and_skips_what_is_done() {
        let (a, b, c) = (AddrId(1), AddrId(2), AddrId(3));
        let mut l = MemAccountLedger::new();
        l.reward(a, 10u64); // e0
        l.reward(c, 10u64); // e1
        l.tx().value(a, b, 5u64); // e2, shared by a and b
        l.reward(b, 1u64); // e3
        let mut f = Frontier::default();
        f.follow(&l, (a, AssetId::ETH), EventNum(0)).unwrap();
        f.follow(&l, (b, AssetId::ETH), EventNum(0)).unwrap();
        let mut seen = Vec::new();
        while let Some(e) = f.pop() {
            seen.push(e.0);
            f.finish(EventNum(e.0 + 1));
            for p in [(a, AssetId::ETH), (b, AssetId::ETH)] {
                f.advance(&l, p).unwrap();
            }
        }
        assert_eq!(seen, vec![0, 2, 3]);
    }
}
