//! Peel chains on a forward trace's path (spec §6.3): runs of one-input, two-output
//! transactions where each spends the previous one's change, collapsed into one reported
//! segment with every peel (payment) it made.
//!
//! Found after the trace, from its flows: a chain is only what the trace followed, so every hop
//! carries taint. The change at each hop is the output spent by the next peel candidate;
//! failing that, the larger output when it is at least three times the smaller (spec rule 2c).

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use chaintrace_model::{AddrId, TxNum};

use crate::forward::{Flow, FlowOutput, ForwardTrace};
use crate::ledger::{OutRef, TxView};

/// Shortest run reported as a chain (spec §6.3 rule 4).
pub const MIN_HOPS: usize = 3;
/// Rule 2c: the change must be at least this many times the peel.
const LARGER_RATIO: u64 = 3;

/// One payment peeled off the chain.
#[derive(Clone, Debug, Serialize)]
pub struct Peel {
    #[serde(skip)]
    pub out: OutRef,
    #[serde(skip)]
    pub addr: AddrId,
    pub height: u32,
    pub amount: u64,
    pub tainted: u64,
}

/// A collapsed peel chain.
#[derive(Clone, Debug, Serialize)]
pub struct PeelChain {
    /// The chain's transactions, in order.
    #[serde(skip)]
    pub txs: Vec<TxNum>,
    pub first_height: u32,
    pub last_height: u32,
    pub peels: Vec<Peel>,
    /// Where the chain's remainder went: the last hop's change, or both of its outputs when
    /// nothing tells its change from its payment (the chain ends there).
    pub ends: Vec<Peel>,
    /// Whether `ends` is one identified change output.
    pub change_identified: bool,
}

impl PeelChain {
    pub fn hops(&self) -> usize {
        self.txs.len()
    }

    pub fn total_peeled(&self) -> u64 {
        self.peels.iter().map(|p| p.amount).sum()
    }

    pub fn tainted_peeled(&self) -> u64 {
        self.peels.iter().map(|p| p.tainted).sum()
    }
}

/// Spec §6.3 rule 1 for one step of a trace: not a coinbase, one input, exactly two spendable
/// outputs (the caller has ruled out CoinJoins, which need several inputs anyway).
pub(crate) fn is_candidate(view: &TxView) -> bool {
    let spendable = view
        .outputs
        .iter()
        .filter(|o| o.value > 0 && !o.kind.is_unspendable())
        .count();
    !view.coinbase && view.inputs.len() == 1 && spendable == 2
}

/// Every peel chain of at least [`MIN_HOPS`] transactions on the trace's path.
pub fn peel_chains(t: &ForwardTrace) -> Vec<PeelChain> {
    let by_tx: FxHashMap<TxNum, &Flow> = t.flows.iter().map(|f| (f.tx, f)).collect();
    let mut spender: FxHashMap<OutRef, &Flow> = FxHashMap::default();
    for f in &t.flows {
        for i in t.inputs(f) {
            if let Some(prev) = i.prev {
                spender.insert(prev, f);
            }
        }
    }
    let next = |f: &Flow| -> Option<(u32, Option<&Flow>)> {
        let vout = change_of(t, f, &spender)?;
        let after = spender
            .get(&OutRef { tx: f.tx, vout })
            .copied()
            .filter(|n| n.peel);
        Some((vout, after))
    };
    // A chain starts at a candidate that does not continue another candidate's change.
    let continued: FxHashSet<TxNum> = t
        .flows
        .iter()
        .filter(|f| f.peel)
        .filter_map(|f| next(f).and_then(|(_, n)| n).map(|n| n.tx))
        .collect();
    let mut chains = Vec::new();
    for start in t
        .flows
        .iter()
        .filter(|f| f.peel && !continued.contains(&f.tx))
    {
        let mut chain = PeelChainBuilder::default();
        let mut at = Some(start);
        while let Some(f) = at {
            let step = next(f);
            chain.hop(t, f, step.map(|(vout, _)| vout));
            at = step
                .and_then(|(_, after)| after)
                .filter(|n| by_tx.contains_key(&n.tx) && !chain.has(n.tx));
        }
        if let Some(c) = chain.finish() {
            chains.push(c);
        }
    }
    chains
}

/// The change output of peel candidate `f`, if it can be told apart from the peel.
fn change_of(t: &ForwardTrace, f: &Flow, spender: &FxHashMap<OutRef, &Flow>) -> Option<u32> {
    if !f.peel {
        return None;
    }
    let outs: Vec<&FlowOutput> = t.outputs(f).iter().filter(|o| o.value > 0).collect();
    let [a, b] = outs.as_slice() else { return None };
    let continues = |o: &FlowOutput| {
        spender
            .get(&OutRef {
                tx: f.tx,
                vout: o.vout,
            })
            .is_some_and(|s| s.peel)
    };
    match (continues(a), continues(b)) {
        (true, false) => Some(a.vout),
        (false, true) => Some(b.vout),
        _ => {
            let (big, small) = if a.value >= b.value { (a, b) } else { (b, a) };
            (big.value >= small.value.saturating_mul(LARGER_RATIO)).then_some(big.vout)
        }
    }
}

#[derive(Default)]
struct PeelChainBuilder {
    txs: Vec<TxNum>,
    heights: Vec<u32>,
    peels: Vec<Peel>,
    ends: Vec<Peel>,
    change_identified: bool,
}

impl PeelChainBuilder {
    fn has(&self, tx: TxNum) -> bool {
        self.txs.contains(&tx)
    }

    /// Adds hop `f`; `change` is `None` when its change cannot be told apart (the last hop).
    fn hop(&mut self, t: &ForwardTrace, f: &Flow, change: Option<u32>) {
        self.txs.push(f.tx);
        self.heights.push(f.height);
        self.ends.clear();
        self.change_identified = change.is_some();
        for o in t.outputs(f).iter().filter(|o| o.value > 0) {
            let peel = Peel {
                out: OutRef {
                    tx: f.tx,
                    vout: o.vout,
                },
                addr: o.addr,
                height: f.height,
                amount: o.value,
                tainted: o.tainted,
            };
            match change {
                Some(c) if c != o.vout => self.peels.push(peel),
                _ => self.ends.push(peel),
            }
        }
    }

    fn finish(self) -> Option<PeelChain> {
        (self.txs.len() >= MIN_HOPS).then(|| PeelChain {
            first_height: self.heights.first().copied().unwrap_or(0),
            last_height: self.heights.last().copied().unwrap_or(0),
            txs: self.txs,
            peels: self.peels,
            ends: self.ends,
            change_identified: self.change_identified,
        })
    }
}
