//! The counts every detector asks for (equal-value groups, distinct scripts, input extremes),
//! computed once per transaction so that running eleven rules costs a few small sorts.

use chaintrace_model::btc::ScriptKind;
use smallvec::SmallVec;

use super::{Coin, TxShape};

/// Outputs sharing one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ValueGroup {
    pub value: u64,
    pub count: u32,
    /// Output index of the group's first member: the tie-break both Dumplings (LINQ `GroupBy`)
    /// and GraphSense (`Counter.most_common`) use when two values are equally frequent.
    pub first: u32,
}

/// Output values grouped, in ascending value order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Groups {
    groups: SmallVec<[ValueGroup; 16]>,
    /// Number of coins grouped.
    pub total: u32,
}

impl Groups {
    /// Groups the values of `coins` accepted by `keep`, remembering each coin's index in `coins`.
    pub fn of(coins: &[Coin], keep: impl Fn(&Coin) -> bool) -> Groups {
        let mut pairs: SmallVec<[(u64, u32); 32]> = coins
            .iter()
            .enumerate()
            .filter(|(_, c)| keep(c))
            .map(|(i, c)| (c.value, index_u32(i)))
            .collect();
        pairs.sort_unstable();
        let mut groups: SmallVec<[ValueGroup; 16]> = SmallVec::new();
        for &(value, index) in &pairs {
            match groups.last_mut() {
                Some(g) if g.value == value => g.count = g.count.saturating_add(1),
                _ => groups.push(ValueGroup {
                    value,
                    count: 1,
                    first: index,
                }),
            }
        }
        Groups {
            groups,
            total: index_u32(pairs.len()),
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ValueGroup> {
        self.groups.iter()
    }

    /// Number of distinct values.
    pub fn distinct(&self) -> usize {
        self.groups.len()
    }

    /// The most frequent value among those accepted by `keep`; ties go to the value that
    /// appears first in output order.
    pub fn most_frequent_where(&self, keep: impl Fn(u64) -> bool) -> Option<ValueGroup> {
        self.groups
            .iter()
            .filter(|g| keep(g.value))
            .copied()
            .min_by_key(|g| (std::cmp::Reverse(g.count), g.first))
    }

    pub fn most_frequent(&self) -> Option<ValueGroup> {
        self.most_frequent_where(|_| true)
    }

    /// Groups of two or more equal outputs (Dumplings' "indistinguishable outputs").
    pub fn repeated(&self) -> impl Iterator<Item = &ValueGroup> + '_ {
        self.groups.iter().filter(|g| g.count >= 2)
    }

    pub fn max_value(&self) -> Option<u64> {
        self.groups.last().map(|g| g.value)
    }

    /// Sum of all grouped values; u128 because thousands of outputs near `u64::MAX` must not wrap.
    pub fn sum(&self) -> u128 {
        self.groups
            .iter()
            .map(|g| u128::from(g.value) * u128::from(g.count))
            .sum()
    }
}

/// How many coins carry an address, how many distinct addresses, and how many coins the most
/// frequent address owns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AddrStats {
    pub addressed: u32,
    pub distinct: u32,
    pub top: u32,
}

impl AddrStats {
    pub fn of(coins: &[Coin]) -> AddrStats {
        let mut ids: SmallVec<[u64; 32]> = coins
            .iter()
            .filter(|c| !c.addr.is_none())
            .map(|c| c.addr.0)
            .collect();
        ids.sort_unstable();
        let mut stats = AddrStats {
            addressed: index_u32(ids.len()),
            ..AddrStats::default()
        };
        let mut run = 0u32;
        for (i, id) in ids.iter().enumerate() {
            let continues = i > 0 && ids[i - 1] == *id;
            run = if continues { run.saturating_add(1) } else { 1 };
            if !continues {
                stats.distinct += 1;
            }
            stats.top = stats.top.max(run);
        }
        stats
    }

    /// Whether every addressed coin has its own address.
    pub fn all_distinct(&self) -> bool {
        self.distinct == self.addressed
    }

    /// GraphSense's concentration guard: no single script owns more than 10 % of the inputs.
    pub fn top_share_at_most_tenth(&self) -> bool {
        u64::from(self.top) * 10 <= u64::from(self.addressed)
    }
}

/// Everything the detectors need about one transaction.
pub(crate) struct Profile<'a> {
    pub tx: &'a TxShape<'a>,
    /// All outputs, as Dumplings and BlockSci count them.
    pub outs: Groups,
    /// Outputs that carry an address, as GraphSense counts them; `None` when that is every output.
    addressed_outs: Option<Groups>,
    pub out_addrs: AddrStats,
    pub in_addrs: AddrStats,
    pub max_in: u64,
}

impl<'a> Profile<'a> {
    pub fn new(tx: &'a TxShape<'a>) -> Profile<'a> {
        let outs = Groups::of(tx.outputs, |_| true);
        let addressed_outs = tx
            .outputs
            .iter()
            .any(|c| c.addr.is_none())
            .then(|| Groups::of(tx.outputs, |c| !c.addr.is_none()));
        Profile {
            tx,
            outs,
            addressed_outs,
            out_addrs: AddrStats::of(tx.outputs),
            in_addrs: AddrStats::of(tx.inputs),
            max_in: tx.inputs.iter().map(|c| c.value).max().unwrap_or(0),
        }
    }

    /// Output groups over addressed outputs only (GraphSense drops outputs without an address).
    pub fn gs_outs(&self) -> &Groups {
        self.addressed_outs.as_ref().unwrap_or(&self.outs)
    }

    pub fn n_in(&self) -> u32 {
        index_u32(self.tx.inputs.len())
    }

    pub fn n_out(&self) -> u32 {
        index_u32(self.tx.outputs.len())
    }

    pub fn inputs_all(&self, kinds: &[ScriptKind]) -> bool {
        self.tx.inputs.iter().all(|c| kinds.contains(&c.kind))
    }

    pub fn outputs_all(&self, kinds: &[ScriptKind]) -> bool {
        self.tx.outputs.iter().all(|c| kinds.contains(&c.kind))
    }

    /// Dumplings' "native segwit only": every input and output pays P2WPKH.
    pub fn p2wpkh_only(&self) -> bool {
        self.inputs_all(&[ScriptKind::P2wpkh]) && self.outputs_all(&[ScriptKind::P2wpkh])
    }
}

/// Counts saturate rather than wrap: no real transaction has 2^32 inputs, and a fabricated one
/// must not panic.
pub(crate) fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// A computed confidence as a whole percent, clamped to 100.
pub(crate) fn percent(value: u64) -> u8 {
    u8::try_from(value.min(100)).unwrap_or(100)
}
