//! What taint looks like on one holder (a Bitcoin output, later an account balance).
//!
//! Three shapes, one per policy family (spec §0.2): poison keeps only *which* labels touched the
//! coins; haircut keeps *how much* of each label; the ordered family (FIFO, LIFO, TIHO, ...) keeps
//! the coins as an ordered list of segments, which is lossless and reversible. A holder with no
//! taint has no state at all (`None`), which keeps clean coins free.

use serde::Serialize;
use smallvec::SmallVec;

use crate::amount::Amount;

/// Labels of a poison state. Inline storage: almost every holder carries one or two labels,
/// and tracing creates a state per tainted output, so avoiding a heap allocation each time
/// matters.
pub type Labels = SmallVec<[TaintLabel; 2]>;
/// Tainted amount per label (inline for up to two labels).
pub type Parts<A> = SmallVec<[(TaintLabel, A); 2]>;
/// Segments of an ordered state (inline for up to two).
pub type Segs<A> = SmallVec<[Seg<A>; 2]>;

/// One theft case (or source) being traced; an index into the trace's label table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TaintLabel(pub u16);

/// A run of coins with one label (`None` = clean).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg<A> {
    pub label: Option<TaintLabel>,
    pub amount: A,
}

impl<A> Seg<A> {
    pub fn clean(amount: A) -> Self {
        Seg {
            label: None,
            amount,
        }
    }

    pub fn tainted(label: TaintLabel, amount: A) -> Self {
        Seg {
            label: Some(label),
            amount,
        }
    }
}

/// Taint on a holder that carries some.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taint<A> {
    /// Every unit counts as tainted by each label (sorted, non-empty).
    Poison(Labels),
    /// Tainted amount per label (sorted by label, amounts non-zero); the rest is clean.
    Haircut(Parts<A>),
    /// The holder's coins in order (coalesced, no empty segment, summing to the value); at
    /// least one segment is tainted.
    Ordered(Segs<A>),
}

impl<A: Amount> Taint<A> {
    /// Poison state for `labels`, or `None` if there are none.
    pub fn poison(labels: impl IntoIterator<Item = TaintLabel>) -> Option<Self> {
        let mut labels: Labels = labels.into_iter().collect();
        labels.sort();
        labels.dedup();
        (!labels.is_empty()).then_some(Taint::Poison(labels))
    }

    /// Haircut state, dropping zero amounts; `None` if nothing is tainted.
    pub fn haircut(parts: impl IntoIterator<Item = (TaintLabel, A)>) -> Option<Self> {
        let mut parts: Parts<A> = parts.into_iter().filter(|(_, a)| !a.is_zero()).collect();
        parts.sort_by_key(|(l, _)| *l);
        (!parts.is_empty()).then_some(Taint::Haircut(parts))
    }

    /// Ordered state, coalesced; `None` if every segment is clean.
    pub fn ordered(segs: impl IntoIterator<Item = Seg<A>>) -> Option<Self> {
        let segs: Segs<A> = coalesce(segs);
        segs.iter()
            .any(|s| s.label.is_some())
            .then_some(Taint::Ordered(segs))
    }

    /// How much of a holder of `value` is tainted (poison: all of it).
    pub fn tainted(&self, value: A) -> A {
        match self {
            Taint::Poison(_) => value,
            Taint::Haircut(parts) => A::sum(parts.iter().map(|(_, a)| *a)),
            Taint::Ordered(segs) => {
                A::sum(segs.iter().filter(|s| s.label.is_some()).map(|s| s.amount))
            }
        }
    }

    /// Tainted amount per label, sorted by label (poison: the whole value for each label).
    pub fn by_label(&self, value: A) -> Parts<A> {
        match self {
            Taint::Poison(labels) => labels.iter().map(|l| (*l, value)).collect(),
            Taint::Haircut(parts) => parts.clone(),
            Taint::Ordered(segs) => {
                let mut sums: Parts<A> = Parts::new();
                for s in segs {
                    let Some(l) = s.label else { continue };
                    match sums.iter_mut().find(|(k, _)| *k == l) {
                        Some((_, a)) => *a = a.plus(s.amount),
                        None => sums.push((l, s.amount)),
                    }
                }
                sums.sort_by_key(|(l, _)| *l);
                sums
            }
        }
    }

    /// The labels present.
    pub fn labels(&self) -> Labels {
        match self {
            Taint::Poison(labels) => labels.clone(),
            _ => self.by_label(A::ZERO).into_iter().map(|(l, _)| l).collect(),
        }
    }

    /// The segments of a holder of `value` under an ordered policy (clean holders are one
    /// clean segment).
    pub fn segments_of(state: Option<&Self>, value: A) -> Segs<A> {
        match state {
            Some(Taint::Ordered(segs)) => segs.clone(),
            _ => smallvec::smallvec![Seg::clean(value)],
        }
    }
}

/// Merges adjacent segments with the same label and drops empty ones.
pub fn coalesce<A: Amount>(segs: impl IntoIterator<Item = Seg<A>>) -> Segs<A> {
    let mut out = Segs::new();
    coalesce_into(&mut out, segs);
    out
}

/// [`coalesce`] into any segment buffer (the policies keep their working stream on the stack).
pub fn coalesce_into<A: Amount, B: smallvec::Array<Item = Seg<A>>>(
    out: &mut SmallVec<B>,
    segs: impl IntoIterator<Item = Seg<A>>,
) {
    for s in segs.into_iter().filter(|s| !s.amount.is_zero()) {
        match out.last_mut() {
            Some(last) if last.label == s.label => last.amount = last.amount.plus(s.amount),
            _ => out.push(s),
        }
    }
}

/// The segments of a holder of `value` without copying them (clean holders: one segment).
pub fn segments_iter<A: Amount>(
    state: Option<&Taint<A>>,
    value: A,
) -> impl Iterator<Item = Seg<A>> + '_ {
    let (segs, clean): (&[Seg<A>], _) = match state {
        Some(Taint::Ordered(segs)) => (segs, None),
        _ => (&[], Some(Seg::clean(value))),
    };
    segs.iter().copied().chain(clean)
}
