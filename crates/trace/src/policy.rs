//! Taint policies for one transaction (spec §1): how the taint of the inputs is shared among the
//! outputs and the fee.
//!
//! - **Poison**: every output (and the fee) carries the union of the inputs' labels.
//! - **Haircut**: each label's tainted amount is split in proportion to output values, the fee
//!   taking its share; largest-remainder rounding keeps every unit.
//! - **Ordered** (FIFO, LIFO, TIHO, CISO, ...): the inputs' segments form one stream, reordered
//!   by the input order, and outputs take consecutive slices of it in the output order. The fee
//!   is the stream's tail (`FeeMode::Tail`) or a proportional cut of every segment first.

use serde::Serialize;

use crate::amount::Amount;
use smallvec::SmallVec;

use crate::rounding::{split, Shares};
use crate::taint::{coalesce_into, Parts, Seg, Segs, Taint, TaintLabel};

/// Order in which input coins enter the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputOrder {
    /// Natural order (input index, then segment order).
    First,
    /// The whole stream reversed.
    Last,
    /// Tainted segments first, clean after (stable).
    TaintFirst,
    /// Clean segments first (stable).
    CleanFirst,
    /// Largest segments first (stable).
    Highest,
    /// Smallest segments first (stable).
    Smallest,
}

/// Order in which outputs take from the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputOrder {
    First,
    Last,
    /// Largest value first; ties to the lower index.
    Highest,
    /// Smallest value first; ties to the lower index.
    Smallest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Policy {
    Poison,
    Haircut,
    Ordered {
        input: InputOrder,
        output: OutputOrder,
    },
}

impl Policy {
    pub const FIFO: Policy = Policy::Ordered {
        input: InputOrder::First,
        output: OutputOrder::First,
    };
    pub const LIFO: Policy = Policy::Ordered {
        input: InputOrder::Last,
        output: OutputOrder::First,
    };
    pub const TIHO: Policy = Policy::Ordered {
        input: InputOrder::TaintFirst,
        output: OutputOrder::Highest,
    };
    pub const CISO: Policy = Policy::Ordered {
        input: InputOrder::CleanFirst,
        output: OutputOrder::Smallest,
    };

    /// The named policies users choose from.
    pub const NAMED: [(&'static str, Policy); 6] = [
        ("poison", Policy::Poison),
        ("haircut", Policy::Haircut),
        ("fifo", Policy::FIFO),
        ("lifo", Policy::LIFO),
        ("tiho", Policy::TIHO),
        ("ciso", Policy::CISO),
    ];

    pub fn parse(name: &str) -> Option<Policy> {
        Self::NAMED
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, p)| *p)
    }

    pub fn name(&self) -> String {
        match Self::NAMED.iter().find(|(_, p)| p == self) {
            Some((n, _)) => n.to_string(),
            None => format!("{self:?}").to_lowercase(),
        }
    }

    /// Whether the policy conserves taint (poison does not: it over-approximates).
    pub fn is_lossless(&self) -> bool {
        !matches!(self, Policy::Poison)
    }

    /// The fee mode the spec recommends: the stream's tail for ordered policies (the
    /// Bitcoin Redux semantics), proportional otherwise.
    pub fn default_fee_mode(&self) -> FeeMode {
        match self {
            Policy::Ordered { .. } => FeeMode::Tail,
            _ => FeeMode::Proportional,
        }
    }

    /// The state a source holder starts with: entirely tainted by `label`.
    pub fn seed<A: Amount>(&self, label: TaintLabel, value: A) -> Option<Taint<A>> {
        match self {
            Policy::Poison => Taint::poison(vec![label]),
            Policy::Haircut => Taint::haircut(vec![(label, value)]),
            Policy::Ordered { .. } => Taint::ordered(vec![Seg::tainted(label, value)]),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeeMode {
    /// Outputs are paid first; the fee is the last units of the stream.
    Tail,
    /// Every input segment gives up its proportional share of the fee first.
    Proportional,
}

/// A policy with its fee handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rules {
    pub policy: Policy,
    pub fee_mode: FeeMode,
    /// Whether taint paid as fees follows into the miner's coinbase (otherwise it is a sink).
    pub taint_fee: bool,
}

impl Rules {
    pub fn new(policy: Policy) -> Self {
        Rules {
            policy,
            fee_mode: policy.default_fee_mode(),
            taint_fee: false,
        }
    }
}

/// One input: its value and its taint, if any.
pub type In<'a, A> = (A, Option<&'a Taint<A>>);

/// Taint of a transaction's outputs and of its fee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome<A> {
    pub outputs: Vec<Option<Taint<A>>>,
    pub fee: Option<Taint<A>>,
}

impl Rules {
    /// Applies the policy to a transaction. The fee is `Σ inputs − Σ outputs` (callers ensure
    /// inputs cover outputs).
    pub fn apply<A: Amount>(&self, inputs: &[In<'_, A>], outputs: &[A]) -> Outcome<A> {
        let mut outs = Vec::with_capacity(outputs.len());
        let fee = self.apply_into(inputs, outputs, &mut outs);
        Outcome { outputs: outs, fee }
    }

    /// [`Rules::apply`] writing the outputs' taint into `outs` (cleared first) and returning
    /// the fee's: a tracer running millions of steps reuses one vector for all of them.
    pub fn apply_into<A: Amount>(
        &self,
        inputs: &[In<'_, A>],
        outputs: &[A],
        outs: &mut Vec<Option<Taint<A>>>,
    ) -> Option<Taint<A>> {
        outs.clear();
        let total_in = A::sum(inputs.iter().map(|(v, _)| *v));
        let total_out = A::sum(outputs.iter().copied());
        let fee = total_in.minus(total_out.min(total_in));
        match self.policy {
            Policy::Poison => poison(inputs, outputs, fee, outs),
            Policy::Haircut => haircut(inputs, outputs, fee, outs),
            Policy::Ordered { input, output } => {
                ordered(inputs, outputs, fee, input, output, self.fee_mode, outs)
            }
        }
    }

    /// A coinbase under `taint_fee`: the block's fees (in transaction order) then the clean
    /// subsidy form the inputs; what the coinbase leaves unclaimed is burned from the tail.
    /// Returns the outputs' taint and the burned part (as the outcome's `fee`).
    pub fn apply_coinbase<A: Amount>(
        &self,
        fees: &[In<'_, A>],
        subsidy: A,
        outputs: &[A],
    ) -> Outcome<A> {
        let mut inputs: Vec<In<'_, A>> = fees.to_vec();
        inputs.push((subsidy, None));
        let tail = Rules {
            fee_mode: FeeMode::Tail,
            ..*self
        };
        tail.apply(&inputs, outputs)
    }
}

fn poison<A: Amount>(
    inputs: &[In<'_, A>],
    outputs: &[A],
    fee: A,
    outs: &mut Vec<Option<Taint<A>>>,
) -> Option<Taint<A>> {
    let labels: Vec<TaintLabel> = inputs
        .iter()
        .filter_map(|(_, t)| *t)
        .flat_map(Taint::labels)
        .collect();
    let state = Taint::poison(labels);
    let carry = |v: A| if v.is_zero() { None } else { state.clone() };
    outs.extend(outputs.iter().map(|v| carry(*v)));
    carry(fee)
}

fn haircut<A: Amount>(
    inputs: &[In<'_, A>],
    outputs: &[A],
    fee: A,
    outs: &mut Vec<Option<Taint<A>>>,
) -> Option<Taint<A>> {
    let mut totals: Parts<A> = Parts::new();
    for (value, taint) in inputs {
        let Some(taint) = taint else { continue };
        for (l, a) in taint.by_label(*value) {
            match totals.iter_mut().find(|(k, _)| *k == l) {
                Some((_, sum)) => *sum = sum.plus(a),
                None => totals.push((l, a)),
            }
        }
    }
    totals.sort_by_key(|(l, _)| *l);
    let mut weights: Shares<A> = outputs.iter().copied().collect();
    weights.push(fee);
    if totals.is_empty() || weights.iter().all(|w| w.is_zero()) {
        outs.resize(outputs.len(), None);
        return None;
    }
    let mut parts: SmallVec<[Parts<A>; 8]> = smallvec::smallvec![Parts::new(); weights.len()];
    if let [(label, total)] = totals.as_slice() {
        // One label cannot overfill an output (its share never exceeds the output's value),
        // so it needs no caps: the common case, without the bookkeeping.
        for (k, share) in split(*total, &weights, None).into_iter().enumerate() {
            parts[k].push((*label, share));
        }
    } else {
        let mut room = weights.clone();
        for (label, total) in totals {
            let shares = split(total, &weights, Some(&room));
            for (k, share) in shares.into_iter().enumerate() {
                room[k] = room[k].minus(share);
                parts[k].push((label, share));
            }
        }
    }
    let fee_part = Taint::haircut(parts.pop().unwrap_or_default());
    outs.extend(parts.into_iter().map(Taint::haircut));
    fee_part
}

/// The ordered policies' working stream: on the stack for ordinary transactions.
type Stream<A> = SmallVec<[Seg<A>; 16]>;

#[allow(clippy::too_many_arguments)]
fn ordered<A: Amount>(
    inputs: &[In<'_, A>],
    outputs: &[A],
    fee: A,
    input_order: InputOrder,
    output_order: OutputOrder,
    fee_mode: FeeMode,
    outs: &mut Vec<Option<Taint<A>>>,
) -> Option<Taint<A>> {
    // Sized once: a consolidation's stream can far outgrow the inline slots, and growing it
    // one doubling at a time copies it again and again.
    let len: usize = inputs
        .iter()
        .map(|(_, t)| match t {
            Some(Taint::Ordered(segs)) => segs.len(),
            _ => 1,
        })
        .sum();
    let mut stream = Stream::with_capacity(len);
    for (value, taint) in inputs {
        // The same stream as `coalesce_into` over `segments_iter`, without the iterator
        // adapters in the per-input loop.
        match taint {
            Some(Taint::Ordered(segs)) => {
                for s in segs {
                    push_coalesced(&mut stream, *s);
                }
            }
            _ => push_coalesced(&mut stream, Seg::clean(*value)),
        }
    }
    let mut fee_segs = Segs::new();
    if fee_mode == FeeMode::Proportional && !fee.is_zero() {
        let weights: Vec<A> = stream.iter().map(|s| s.amount).collect();
        let cuts = split(fee, &weights, None);
        for (s, cut) in stream.iter_mut().zip(cuts) {
            fee_segs.push(Seg {
                label: s.label,
                amount: cut,
            });
            s.amount = s.amount.minus(cut);
        }
        stream = recoalesced(stream);
    }
    let stream = reorder(stream, input_order);
    let mut take = Taker {
        stream: &stream,
        idx: 0,
        used: A::ZERO,
    };
    if output_order == OutputOrder::First {
        // Outputs in index order: each one's slice goes straight into place.
        outs.extend(outputs.iter().map(|v| take.front(*v)));
    } else {
        outs.resize(outputs.len(), None);
        for k in visit_order(outputs, output_order) {
            outs[k] = take.front(outputs[k]);
        }
    }
    match fee_mode {
        // The rest of a coalesced stream is coalesced and has no empty segment.
        FeeMode::Tail => take.rest(),
        FeeMode::Proportional => Taint::ordered(fee_segs),
    }
}

/// Appends `s` to a coalesced stream, keeping it coalesced (empty segments are dropped).
#[inline]
fn push_coalesced<A: Amount>(stream: &mut Stream<A>, s: Seg<A>) {
    if s.amount.is_zero() {
        return;
    }
    match stream.last_mut() {
        Some(last) if last.label == s.label => last.amount = last.amount.plus(s.amount),
        _ => stream.push(s),
    }
}

fn recoalesced<A: Amount>(stream: Stream<A>) -> Stream<A> {
    let mut out = Stream::new();
    coalesce_into(&mut out, stream);
    out
}

fn reorder<A: Amount>(mut stream: Stream<A>, order: InputOrder) -> Stream<A> {
    match order {
        InputOrder::First => return stream,
        InputOrder::Last => stream.reverse(),
        InputOrder::TaintFirst => stream.sort_by_key(|s| s.label.is_none()),
        InputOrder::CleanFirst => stream.sort_by_key(|s| s.label.is_some()),
        InputOrder::Highest => stream.sort_by_key(|s| std::cmp::Reverse(s.amount)),
        InputOrder::Smallest => stream.sort_by_key(|s| s.amount),
    }
    recoalesced(stream)
}

fn visit_order<A: Amount>(outputs: &[A], order: OutputOrder) -> SmallVec<[usize; 16]> {
    let mut idx: SmallVec<[usize; 16]> = (0..outputs.len()).collect();
    match order {
        OutputOrder::First => {}
        OutputOrder::Last => idx.reverse(),
        OutputOrder::Highest => idx.sort_by(|a, b| outputs[*b].cmp(&outputs[*a]).then(a.cmp(b))),
        OutputOrder::Smallest => idx.sort_by(|a, b| outputs[*a].cmp(&outputs[*b]).then(a.cmp(b))),
    }
    idx
}

/// Cuts consecutive slices off the front of a stream without copying it.
struct Taker<'s, A> {
    stream: &'s [Seg<A>],
    idx: usize,
    used: A,
}

impl<A: Amount> Taker<'_, A> {
    /// The next `want` units as an output's state (`None` if they are all clean). Stream
    /// segments are already coalesced, so consecutive slices of them are too.
    fn front(&mut self, mut want: A) -> Option<Taint<A>> {
        if want.is_zero() {
            return None;
        }
        if let Some(seg) = self.stream.get(self.idx) {
            // Most outputs fit in the segment at the front: one segment, nothing gathered.
            let available = seg.amount.minus(self.used);
            if want <= available {
                self.used = self.used.plus(want);
                if self.used == seg.amount {
                    self.idx += 1;
                    self.used = A::ZERO;
                }
                return seg
                    .label
                    .map(|l| Taint::Ordered(smallvec::smallvec![Seg::tainted(l, want)]));
            }
        }
        // Spans several segments: find where the slice ends and whether any of it is tainted
        // first, so that a clean slice copies nothing and a tainted one is copied once into
        // an exactly-sized list.
        let (first, first_used) = (self.idx, self.used);
        let mut tainted = false;
        while !want.is_zero() && self.idx < self.stream.len() {
            let seg = self.stream[self.idx];
            let n = seg.amount.minus(self.used).min(want);
            tainted |= seg.label.is_some();
            want = want.minus(n);
            self.used = self.used.plus(n);
            if self.used == seg.amount {
                self.idx += 1;
                self.used = A::ZERO;
            }
        }
        if !tainted {
            return None;
        }
        // Segments `first..=last` with the first one's used part and the last one's untaken
        // part cut off (`self.used` is zero when the last one was taken whole).
        let end = if self.used.is_zero() {
            self.idx
        } else {
            self.idx + 1
        };
        let mut out = Segs::with_capacity(end - first);
        for (i, seg) in self.stream[first..end].iter().enumerate() {
            let k = first + i;
            let from = if k == first { first_used } else { A::ZERO };
            let to = if k == self.idx { self.used } else { seg.amount };
            out.push(Seg {
                label: seg.label,
                amount: to.minus(from),
            });
        }
        Some(Taint::Ordered(out))
    }

    /// What is left of the stream, as a state (`None` if it is all clean).
    fn rest(&mut self) -> Option<Taint<A>> {
        let tail = self.stream.get(self.idx..).unwrap_or_default();
        if !tail.iter().any(|s| s.label.is_some()) {
            self.idx = self.stream.len();
            self.used = A::ZERO;
            return None;
        }
        let mut out = Segs::with_capacity(tail.len());
        for seg in tail {
            out.push(Seg {
                label: seg.label,
                amount: seg.amount.minus(self.used),
            });
            self.used = A::ZERO;
        }
        self.idx = self.stream.len();
        Some(Taint::Ordered(out))
    }
}
