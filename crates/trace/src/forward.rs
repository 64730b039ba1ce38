//! Forward tracing: where did the tainted coins go?
//!
//! Transactions are processed in chain order (dense transaction numbers), so when a
//! transaction is processed every tainted input it spends is already known and the policy sees
//! all of them at once, as it must for the ordered policies. Each tainted output then either
//! moves on to its spender or becomes a *holding* with the reason the trace stopped there.
//! Data for upcoming transactions is fetched in parallel; the taint itself is applied
//! sequentially, so results do not depend on the number of threads.

use std::collections::BTreeSet;
use std::ops::Range;

use chaintrace_model::{AddrId, TxNum};
use crossbeam_channel::{Receiver, Sender};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use smallvec::SmallVec;

use crate::amount::Amount;
use crate::attribution::{Attr, Attributions, StopSet};
use crate::ledger::{OutRef, TraceError, TxView, UtxoLedger};
use crate::mixer::{self, detect_coinjoin, MixerHop, ThroughCoinjoin};
use crate::policy::Rules;
use crate::queue::RadixQueue;
use crate::taint::{Taint, TaintLabel};
use chaintrace_heuristics::Detection;

/// Why taint stopped moving at a holding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The output is unspent: this is where the coins are now.
    Unspent,
    /// The output pays an attributed service (exchange, mixer, ...) in the stop set.
    StoppedAtLabel,
    /// The hop limit was reached.
    MaxHops,
    /// The tainted amount is below `--min-amount`.
    BelowMin,
    /// The output was spent after `--until-height`.
    UntilHeight,
    /// Provably unspendable (OP_RETURN).
    Burned,
    /// Not followed because of a cap (fan-out per transaction, or the trace's work budget).
    Truncated,
    /// Dirty-first strategies: the transaction mixed in clean coins, so the trace ends there.
    Terminal,
    /// The output is spent into a CoinJoin and `--through-coinjoin stop` ends the trace there.
    Mixer,
}

/// How far a trace expands (spec §1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Follow every tainted output.
    All,
    /// Stop at the first transaction whose outputs contain clean value (kept as terminal).
    DirtyFirst,
    /// Like dirty-first, but such transactions are left out of the trace entirely.
    PureDirtyFirst,
}

#[derive(Clone, Debug, Serialize)]
pub struct ForwardParams {
    pub rules: Rules,
    pub max_hops: u32,
    pub min_amount: u64,
    pub stop_at: StopSet,
    pub until_height: Option<u32>,
    /// Tainted outputs followed per transaction; the rest become `truncated` holdings.
    pub max_fanout: usize,
    /// Transactions processed before the rest of the frontier becomes `truncated` holdings.
    pub max_txs: usize,
    pub strategy: Strategy,
    pub through_coinjoin: ThroughCoinjoin,
}

impl ForwardParams {
    pub fn new(rules: Rules) -> Self {
        ForwardParams {
            rules,
            max_hops: 100,
            min_amount: 0,
            stop_at: StopSet::Services,
            until_height: None,
            max_fanout: 10_000,
            max_txs: 5_000_000,
            strategy: Strategy::All,
            through_coinjoin: ThroughCoinjoin::EqualSplit,
        }
    }
}

/// A source output and the label its coins are traced under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    pub out: OutRef,
    pub label: TaintLabel,
}

/// Where traced value sits at the end.
#[derive(Clone, Debug)]
pub struct Holding {
    pub out: OutRef,
    pub height: u32,
    pub value: u64,
    pub addr: AddrId,
    pub taint: Taint<u64>,
    pub tainted: u64,
    pub hops: u32,
    pub status: Status,
    pub attrs: Vec<Attr>,
    /// Index into [`ForwardTrace::mixers`]: the CoinJoin this taint reached (status `mixer`)
    /// or the last one it came out of.
    pub mixer: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct FlowInput {
    pub prev: Option<OutRef>,
    pub value: u64,
    pub tainted: u64,
}

#[derive(Clone, Debug)]
pub struct FlowOutput {
    pub vout: u32,
    pub value: u64,
    pub addr: AddrId,
    pub tainted: u64,
}

/// One transaction on the path, with the taint it moved. Its inputs and outputs live in the
/// trace's shared arrays ([`ForwardTrace::inputs`], [`ForwardTrace::outputs`]): one allocation
/// per trace instead of two per transaction.
#[derive(Clone, Debug)]
pub struct Flow {
    pub tx: TxNum,
    pub height: u32,
    pub hop: u32,
    pub coinbase: bool,
    inputs: Range<usize>,
    outputs: Range<usize>,
    pub fee: u64,
    pub fee_tainted: u64,
    pub terminal: bool,
    /// Index into [`ForwardTrace::mixers`] when this transaction is a CoinJoin.
    pub mixer: Option<u32>,
    /// Shaped like a hop of a peel chain (one input, two spendable outputs).
    pub peel: bool,
}

/// The result of a forward trace, before rendering.
#[derive(Clone, Debug, Default)]
pub struct ForwardTrace {
    pub sources: Vec<(Source, u64)>,
    pub holdings: Vec<Holding>,
    pub flows: Vec<Flow>,
    flow_inputs: Vec<FlowInput>,
    flow_outputs: Vec<FlowOutput>,
    /// Taint paid as fees (a sink unless `taint_fee`), per label.
    pub fees: Vec<(TaintLabel, u64)>,
    /// Taint destroyed (unclaimed by a coinbase), per label.
    pub burned: Vec<(TaintLabel, u64)>,
    /// Whether a cap cut the trace short somewhere.
    pub truncated: bool,
    /// CoinJoins on the path, in the order the trace met them.
    pub mixers: Vec<MixerHop>,
}

impl ForwardTrace {
    /// Every input of a flow's transaction, with the taint it brought in.
    pub fn inputs(&self, f: &Flow) -> &[FlowInput] {
        &self.flow_inputs[f.inputs.clone()]
    }

    /// Every output of a flow's transaction, with the taint it carries.
    pub fn outputs(&self, f: &Flow) -> &[FlowOutput] {
        &self.flow_outputs[f.outputs.clone()]
    }
}

/// A tainted output waiting for its spender.
#[derive(Clone, Debug)]
struct Pending {
    taint: Taint<u64>,
    /// `taint.tainted(value)`, computed once when the output was emitted.
    tainted: u64,
    hop: u32,
    height: u32,
    value: u64,
    addr: AddrId,
    mixer: Option<u32>,
}

/// A queued step: normal transactions come first (phase 0); a block's coinbase receiving
/// tainted fees is processed after the block's last transaction (phase 1).
fn key(tx: TxNum, phase: u64) -> u64 {
    tx.0 << 1 | phase
}

/// Transactions per background load request.
const PREFETCH: usize = 256;

/// A batch of views from the loader thread.
type Loaded = Result<Vec<TxView>, TraceError>;

/// Inputs of one step as the policy sees them (inline for ordinary transactions).
type StepInputs<'a> = SmallVec<[crate::policy::In<'a, u64>; 16]>;

/// Loads queued transactions on a background thread, ahead of the engine, so reading the index
/// overlaps with applying taint.
struct Prefetcher {
    /// Channels to the loader thread; `None` when the ledger is cheap to read in place (a spend
    /// graph, memory), where handing batches to another thread costs more than it saves.
    loader: Option<(Sender<Vec<TxNum>>, Receiver<Loaded>)>,
    requested: FxHashSet<TxNum>,
    pending: Vec<TxNum>,
}

impl Prefetcher {
    fn want(&mut self, tx: TxNum) {
        // Cheap ledgers are read in place when the step comes; nothing to queue.
        if self.loader.is_some() && self.requested.insert(tx) {
            self.pending.push(tx);
            if self.pending.len() >= PREFETCH {
                self.send();
            }
        }
    }

    fn send(&mut self) {
        if let (Some((requests, _)), false) = (&self.loader, self.pending.is_empty()) {
            // The loader only stops when this sender is dropped, so sending cannot fail.
            let _ = requests.send(std::mem::take(&mut self.pending));
        }
    }

    /// Blocks until `tx` is in `loaded`, moving every view that arrives there.
    fn ensure(
        &mut self,
        tx: TxNum,
        loaded: &mut FxHashMap<TxNum, TxView>,
    ) -> Result<(), TraceError> {
        if !loaded.contains_key(&tx) && !self.requested.contains(&tx) {
            self.want(tx);
        }
        if self.loader.is_none() {
            return Ok(()); // the step reads it directly
        }
        self.send();
        while !loaded.contains_key(&tx) {
            let views = match &self.loader {
                Some((_, responses)) => responses.recv(),
                None => unreachable!("checked above"),
            };
            let views = views
                .map_err(|_| TraceError::Invalid("the transaction loader stopped".into()))??;
            self.arrived(views, loaded);
        }
        Ok(())
    }

    fn arrived(&mut self, views: Vec<TxView>, loaded: &mut FxHashMap<TxNum, TxView>) {
        for v in views {
            self.requested.remove(&v.tx);
            loaded.insert(v.tx, v);
        }
    }
}

struct Engine<'a, L> {
    ledger: &'a L,
    prefetch: Prefetcher,
    attrs: &'a Attributions,
    params: &'a ForwardParams,
    /// Steps in chain order; a step queued twice (two tainted inputs) pops twice in a row and
    /// runs once.
    queue: RadixQueue,
    pending: FxHashMap<OutRef, Pending>,
    loaded: FxHashMap<TxNum, TxView>,
    scratch: TxView,
    /// Per-step buffers kept between steps: the inputs' taken states and the outputs' taint.
    taken: Vec<Option<Pending>>,
    outs: Vec<Option<Taint<u64>>>,
    coinbase_fees: FxHashMap<u32, Vec<(u64, Taint<u64>, u32)>>,
    processed: usize,
    out: ForwardTrace,
}

/// Traces `sources` forward through `ledger`.
pub fn trace_forward<L: UtxoLedger>(
    ledger: &L,
    attrs: &Attributions,
    sources: &[Source],
    params: &ForwardParams,
) -> Result<ForwardTrace, TraceError> {
    let mut prefetch = Prefetcher {
        loader: None,
        requested: FxHashSet::default(),
        pending: Vec::new(),
    };
    if !ledger.reads_are_slow() {
        return run(ledger, attrs, sources, params, prefetch);
    }
    std::thread::scope(|scope| {
        let (requests, inbox) = crossbeam_channel::unbounded::<Vec<TxNum>>();
        let (outbox, responses) = crossbeam_channel::unbounded();
        scope.spawn(move || {
            for batch in inbox {
                if outbox.send(load_parallel(ledger, &batch, true)).is_err() {
                    break;
                }
            }
        });
        prefetch.loader = Some((requests, responses));
        run(ledger, attrs, sources, params, prefetch)
    })
}

/// The engine's main loop; dropping the prefetcher at its end stops the loader thread.
fn run<L: UtxoLedger>(
    ledger: &L,
    attrs: &Attributions,
    sources: &[Source],
    params: &ForwardParams,
    prefetch: Prefetcher,
) -> Result<ForwardTrace, TraceError> {
    let mut e = Engine {
        ledger,
        prefetch,
        attrs,
        params,
        queue: RadixQueue::new(),
        pending: FxHashMap::default(),
        loaded: FxHashMap::default(),
        scratch: TxView::default(),
        taken: Vec::new(),
        outs: Vec::new(),
        coinbase_fees: FxHashMap::default(),
        processed: 0,
        out: ForwardTrace::default(),
    };
    e.seed(sources)?;
    let mut last = None;
    while let Some(k) = e.queue.pop() {
        if last.replace(k) == Some(k) {
            continue;
        }
        let tx = TxNum(k >> 1);
        e.prefetch.ensure(tx, &mut e.loaded)?;
        if k & 1 == 1 {
            e.coinbase_step(tx)?;
        } else {
            e.step(tx)?;
        }
    }
    e.out.holdings.sort_by_key(|h| h.out);
    Ok(e.out)
}

/// Adds per-label amounts into per-label totals (kept sorted by label).
pub(crate) fn add(
    totals: &mut Vec<(TaintLabel, u64)>,
    parts: impl IntoIterator<Item = (TaintLabel, u64)>,
) {
    for (l, a) in parts {
        match totals.iter_mut().find(|(k, _)| *k == l) {
            Some((_, sum)) => *sum += a,
            None => totals.push((l, a)),
        }
    }
    totals.sort_by_key(|(l, _)| *l);
}

impl<L: UtxoLedger> Engine<'_, L> {
    /// A copy of `tx`'s view, kept loaded for its own step (seeds and coinbases only).
    fn view(&mut self, tx: TxNum) -> Result<TxView, TraceError> {
        if let Some(v) = self.loaded.get(&tx) {
            return Ok(v.clone());
        }
        let v = self.ledger.tx(tx)?;
        self.loaded.insert(tx, v.clone());
        Ok(v)
    }

    fn seed(&mut self, sources: &[Source]) -> Result<(), TraceError> {
        let mut seen = BTreeSet::new();
        for s in sources {
            if !seen.insert(s.out) {
                continue; // an output named twice keeps its first label (spec §1.3, collisions)
            }
            let view = self.view(s.out.tx)?;
            let o = view.outputs.get(s.out.vout as usize).ok_or_else(|| {
                TraceError::NotFound(format!(
                    "transaction {} has no output {}",
                    s.out.tx, s.out.vout
                ))
            })?;
            let taint = self
                .params
                .rules
                .policy
                .seed(s.label, o.value)
                .expect("a source carries taint");
            self.out.sources.push((*s, o.value));
            let tainted = taint.tainted(o.value);
            self.emit(&view, s.out.vout, taint, tainted, 0, false, None)?;
        }
        Ok(())
    }

    /// Decides what happens to a tainted output (`tainted`: `taint.tainted` of its value): a
    /// holding, or on to its spender.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        view: &TxView,
        vout: u32,
        taint: Taint<u64>,
        tainted: u64,
        hop: u32,
        capped: bool,
        mixer: Option<u32>,
    ) -> Result<(), TraceError> {
        let o = &view.outputs[vout as usize];
        let out = OutRef { tx: view.tx, vout };
        let attrs = self.attrs.of(out, o.addr).unwrap_or_default();
        let status = if o.kind.is_unspendable() {
            Some(Status::Burned)
        } else if hop > 0 && self.params.stop_at.stops(&attrs) {
            Some(Status::StoppedAtLabel)
        } else if o.spent_by.is_none() {
            Some(Status::Unspent)
        } else if capped {
            Some(Status::Truncated)
        } else if tainted < self.params.min_amount {
            Some(Status::BelowMin)
        } else if hop >= self.params.max_hops {
            Some(Status::MaxHops)
        } else {
            None
        };
        match (status, o.spent_by) {
            (Some(status), _) => {
                if status == Status::Burned {
                    add(&mut self.out.burned, taint.by_label(o.value));
                }
                self.hold_output(view, vout, taint, tainted, hop, status, attrs, mixer);
            }
            (None, Some(spender)) => {
                let p = Pending {
                    taint,
                    tainted,
                    hop,
                    height: view.height,
                    value: o.value,
                    addr: o.addr,
                    mixer,
                };
                self.pending.insert(out, p);
                self.enqueue(key(spender, 0), out.tx)?;
                if !self.loaded.contains_key(&spender) {
                    self.prefetch.want(spender);
                }
            }
            (None, None) => unreachable!("unspent outputs always get a status"),
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn hold(
        &mut self,
        out: OutRef,
        height: u32,
        value: u64,
        addr: AddrId,
        taint: Taint<u64>,
        tainted: u64,
        hops: u32,
        status: Status,
        attrs: Vec<Attr>,
        mixer: Option<u32>,
    ) {
        if status == Status::Truncated {
            self.out.truncated = true;
        }
        self.out.holdings.push(Holding {
            out,
            height,
            value,
            addr,
            taint,
            tainted,
            hops,
            status,
            attrs,
            mixer,
        });
    }

    /// A holding at output `vout` of `view`.
    #[allow(clippy::too_many_arguments)]
    fn hold_output(
        &mut self,
        view: &TxView,
        vout: u32,
        taint: Taint<u64>,
        tainted: u64,
        hop: u32,
        status: Status,
        attrs: Vec<Attr>,
        mixer: Option<u32>,
    ) {
        let o = &view.outputs[vout as usize];
        let out = OutRef { tx: view.tx, vout };
        self.hold(
            out,
            view.height,
            o.value,
            o.addr,
            taint,
            tainted,
            hop,
            status,
            attrs,
            mixer,
        );
    }

    /// Turns the tainted inputs of `view` back into holdings (the trace does not enter it).
    /// `mixer`: the CoinJoin they stop in front of, which replaces the last one they crossed.
    fn stop_before(&mut self, view: &TxView, status: Status, mixer: Option<u32>) {
        for i in &view.inputs {
            let Some(prev) = i.prev else { continue };
            if let Some(p) = self.pending.remove(&prev) {
                let attrs = self.attrs.of(prev, p.addr).unwrap_or_default();
                let mixer = mixer.or(p.mixer);
                self.hold(
                    prev, p.height, p.value, p.addr, p.taint, p.tainted, p.hop, status, attrs,
                    mixer,
                );
            }
        }
    }

    fn step(&mut self, tx: TxNum) -> Result<(), TraceError> {
        // One view is reused for every step read in place, so steps allocate nothing for it.
        let mut view = std::mem::take(&mut self.scratch);
        match self.loaded.remove(&tx) {
            Some(loaded) => view = loaded,
            None => self.ledger.tx_into(tx, &mut view)?,
        }
        let done = self.apply(&view);
        self.scratch = view;
        done
    }

    /// Runs one transaction: taint in, policy, flow record, taint out.
    fn apply(&mut self, view: &TxView) -> Result<(), TraceError> {
        if self.params.until_height.is_some_and(|u| view.height > u) {
            self.stop_before(view, Status::UntilHeight, None);
            return Ok(());
        }
        if self.processed >= self.params.max_txs {
            self.stop_before(view, Status::Truncated, None);
            return Ok(());
        }
        let coinjoin = detect_coinjoin(self.ledger, view)?;
        if let (Some(d), ThroughCoinjoin::Stop) = (&coinjoin, self.params.through_coinjoin) {
            let held = view
                .inputs
                .iter()
                .filter_map(|i| i.prev.and_then(|p| self.pending.get(&p)));
            let (hop, tainted_in) = held.fold((u32::MAX, 0u64), |(h, t), p| {
                (h.min(p.hop + 1), t + p.taint.tainted(p.value))
            });
            let index = self.mixer_hop(view, d, tainted_in);
            self.out.mixers[index as usize].hop = hop;
            self.stop_before(view, Status::Mixer, Some(index));
            return Ok(());
        }
        self.processed += 1;
        // The buffers are taken out of the engine for the step and put back after it, so
        // steps allocate nothing for them.
        let mut taken = std::mem::take(&mut self.taken);
        let mut outs = std::mem::take(&mut self.outs);
        taken.clear();
        taken.extend(
            view.inputs
                .iter()
                .map(|i| i.prev.and_then(|p| self.pending.remove(&p))),
        );
        let done = self.apply_taken(view, coinjoin.as_ref(), &mut taken, &mut outs);
        taken.clear();
        outs.clear();
        (self.taken, self.outs) = (taken, outs);
        done
    }

    /// [`Engine::apply`] past the early stops, with the inputs' states taken (`taken`, one
    /// per input) and `outs` to hold the outputs' taint.
    fn apply_taken(
        &mut self,
        view: &TxView,
        coinjoin: Option<&Detection>,
        taken: &mut Vec<Option<Pending>>,
        outs: &mut Vec<Option<Taint<u64>>>,
    ) -> Result<(), TraceError> {
        let hop = 1 + taken.iter().flatten().map(|p| p.hop).min().unwrap_or(0);
        let values: SmallVec<[u64; 8]> = view.outputs.iter().map(|o| o.value).collect();
        let fee = view.fee();
        let inputs: StepInputs<'_> = view
            .inputs
            .iter()
            .zip(taken.iter())
            .map(|(i, p)| (i.value, p.as_ref().map(|p| &p.taint)))
            .collect();
        let (fee_taint, mixer) = match coinjoin {
            None => (self.params.rules.apply_into(&inputs, &values, outs), None),
            Some(d) => {
                let mode = self.params.through_coinjoin;
                let (outcome, uncertain) =
                    mixer::cross(d, mode, &self.params.rules, &inputs, &values);
                let tainted_in = inputs
                    .iter()
                    .map(|(v, t)| t.map_or(0, |t| t.tainted(*v)))
                    .sum();
                let index = self.mixer_hop(view, d, tainted_in);
                self.out.mixers[index as usize].uncertain = uncertain;
                self.out.mixers[index as usize].hop = hop;
                *outs = outcome.outputs;
                (outcome.fee, Some(index))
            }
        };
        // Taint out of a CoinJoin remembers it; otherwise the last CoinJoin any input crossed.
        let via = mixer.or_else(|| taken.iter().flatten().find_map(|p| p.mixer));
        let ends = self.ends_here(outs, &values);
        if ends && self.params.strategy == Strategy::PureDirtyFirst {
            drop(inputs);
            self.restore(view, taken);
            self.stop_before(view, Status::Terminal, None);
            return Ok(());
        }
        // Tainted amounts, computed once for the flow record and the outputs' next step. An
        // input's was computed when it was emitted (poison's depends on the value the step
        // sees, so it is taken from there).
        let in_tainted = inputs.iter().zip(taken.iter()).map(|((v, t), p)| {
            let tainted = match t {
                Some(Taint::Poison(_)) => *v,
                Some(_) => p.as_ref().map_or(0, |p| p.tainted),
                None => 0,
            };
            (*v, tainted)
        });
        let out_tainted: SmallVec<[u64; 8]> = outs
            .iter()
            .zip(&values)
            .map(|(t, v)| t.as_ref().map_or(0, |t| t.tainted(*v)))
            .collect();
        let fee_tainted = fee_taint.as_ref().map_or(0, |t| t.tainted(fee));
        let mut flow = self.flow(view, hop, in_tainted, &out_tainted, fee);
        flow.fee_tainted = fee_tainted;
        flow.terminal = ends;
        flow.mixer = mixer;
        self.out.flows.push(flow);
        self.pay_fee(view, fee, fee_taint, hop)?;
        self.emit_outputs(view, outs, &out_tainted, hop, ends, via)
    }

    /// Records a CoinJoin met on the path; returns its index in [`ForwardTrace::mixers`].
    fn mixer_hop(&mut self, view: &TxView, d: &Detection, tainted_in: u64) -> u32 {
        self.out.mixers.push(MixerHop {
            tx: view.tx,
            height: view.height,
            hop: 0,
            detection: *d,
            // Under the poison policy every crossing is poison, whatever was asked.
            through: match self.params.rules.policy {
                crate::policy::Policy::Poison
                    if self.params.through_coinjoin != ThroughCoinjoin::Stop =>
                {
                    ThroughCoinjoin::Poison
                }
                _ => self.params.through_coinjoin,
            },
            uncertain: false,
            tainted_in,
        });
        (self.out.mixers.len() - 1) as u32
    }

    /// Dirty-first strategies end at a transaction whose outputs hold clean value.
    fn ends_here(&self, outputs: &[Option<Taint<u64>>], values: &[u64]) -> bool {
        self.params.strategy != Strategy::All
            && outputs
                .iter()
                .zip(values)
                .any(|(t, v)| t.as_ref().map_or(*v, |t| v - t.tainted(*v)) > 0)
    }

    /// Puts taken inputs back so that [`Engine::stop_before`] can report them.
    fn restore(&mut self, view: &TxView, taken: &mut Vec<Option<Pending>>) {
        for (i, p) in view.inputs.iter().zip(taken.drain(..)) {
            if let (Some(prev), Some(p)) = (i.prev, p) {
                self.pending.insert(prev, p);
            }
        }
    }

    /// Records the step's transaction in the trace (not yet pushed onto `flows`), given each
    /// input's value and tainted amount and each output's tainted amount; `fee_tainted` is
    /// left at zero.
    fn flow(
        &mut self,
        view: &TxView,
        hop: u32,
        inputs: impl Iterator<Item = (u64, u64)>,
        out_tainted: &[u64],
        fee: u64,
    ) -> Flow {
        let (ins, outputs) = (&mut self.out.flow_inputs, &mut self.out.flow_outputs);
        let (first_in, first_out) = (ins.len(), outputs.len());
        ins.extend(view.inputs.iter().zip(inputs).map(|(i, (v, t))| FlowInput {
            prev: i.prev,
            value: v,
            tainted: t,
        }));
        outputs.extend(
            view.outputs
                .iter()
                .zip(out_tainted)
                .enumerate()
                .map(|(k, (o, t))| FlowOutput {
                    vout: k as u32,
                    value: o.value,
                    addr: o.addr,
                    tainted: *t,
                }),
        );
        Flow {
            tx: view.tx,
            height: view.height,
            hop,
            coinbase: view.coinbase,
            inputs: first_in..ins.len(),
            outputs: first_out..outputs.len(),
            fee,
            fee_tainted: 0,
            terminal: false,
            mixer: None,
            peel: crate::peel::is_candidate(view),
        }
    }

    fn pay_fee(
        &mut self,
        view: &TxView,
        fee: u64,
        taint: Option<Taint<u64>>,
        hop: u32,
    ) -> Result<(), TraceError> {
        let Some(taint) = taint else { return Ok(()) };
        if !self.params.rules.taint_fee {
            add(&mut self.out.fees, taint.by_label(fee));
            return Ok(());
        }
        let (first, count) = self.ledger.block_txs(view.height)?;
        self.coinbase_fees
            .entry(view.height)
            .or_default()
            .push((fee, taint, hop));
        self.enqueue(key(TxNum(first.0 + u64::from(count) - 1), 1), view.tx)
    }

    /// Queues a step, which must come after the one running (`from`) in chain order.
    fn enqueue(&mut self, k: u64, from: TxNum) -> Result<(), TraceError> {
        if k > key(from, 0) && self.queue.push(k) {
            return Ok(());
        }
        Err(TraceError::Invalid(format!(
            "the index is inconsistent: transaction {from} is followed by transaction {}, \
             which comes earlier in the chain",
            k >> 1
        )))
    }

    /// A block's coinbase receiving the block's tainted fees (`taint_fee`), Redux order.
    fn coinbase_step(&mut self, last: TxNum) -> Result<(), TraceError> {
        let height = self.view(last)?.height;
        let fees = self.coinbase_fees.remove(&height).unwrap_or_default();
        let (first, _) = self.ledger.block_txs(height)?;
        let view = self.view(first)?;
        let inputs: Vec<(u64, Option<&Taint<u64>>)> =
            fees.iter().map(|(v, t, _)| (*v, Some(t))).collect();
        let values: Vec<u64> = view.outputs.iter().map(|o| o.value).collect();
        let outcome =
            self.params
                .rules
                .apply_coinbase(&inputs, self.ledger.subsidy(height), &values);
        let hop = 1 + fees.iter().map(|(_, _, h)| *h).min().unwrap_or(0);
        let claimed: u64 = values.iter().sum();
        let total: u64 = fees.iter().map(|(v, _, _)| v).sum::<u64>() + self.ledger.subsidy(height);
        let in_tainted = inputs
            .iter()
            .map(|(v, t)| (*v, t.map_or(0, |t| t.tainted(*v))));
        let out_tainted: Vec<u64> = outcome
            .outputs
            .iter()
            .zip(&values)
            .map(|(t, v)| t.as_ref().map_or(0, |t| t.tainted(*v)))
            .collect();
        let flow = self.flow(&view, hop, in_tainted, &out_tainted, 0);
        self.out.flows.push(flow);
        if let Some(burned) = &outcome.fee {
            add(
                &mut self.out.burned,
                burned.by_label(total.saturating_sub(claimed)),
            );
        }
        let mut outs = outcome.outputs;
        self.emit_outputs(&view, &mut outs, &out_tainted, hop, false, None)
    }

    /// Emits (or holds, `terminal`) every tainted output, draining `outputs`; `tainted`: each
    /// output's tainted amount.
    fn emit_outputs(
        &mut self,
        view: &TxView,
        outputs: &mut Vec<Option<Taint<u64>>>,
        tainted: &[u64],
        hop: u32,
        terminal: bool,
        mixer: Option<u32>,
    ) -> Result<(), TraceError> {
        let capped = self.capped(view, outputs);
        for (k, (taint, tainted)) in outputs.drain(..).zip(tainted).enumerate() {
            let Some(taint) = taint else { continue };
            let vout = k as u32;
            if terminal {
                let out = OutRef { tx: view.tx, vout };
                let attrs = self.attrs.of(out, view.outputs[k].addr).unwrap_or_default();
                self.hold_output(
                    view,
                    vout,
                    taint,
                    *tainted,
                    hop,
                    Status::Terminal,
                    attrs,
                    mixer,
                );
            } else {
                let capped = capped.get(k).copied().unwrap_or(false);
                self.emit(view, vout, taint, *tainted, hop, capped, mixer)?;
            }
        }
        Ok(())
    }

    /// Past the fan-out cap, the smallest tainted outputs are reported but not followed: which
    /// outputs those are (empty when the transaction is under the cap).
    fn capped(&self, view: &TxView, outputs: &[Option<Taint<u64>>]) -> Vec<bool> {
        if outputs.iter().flatten().count() <= self.params.max_fanout {
            return Vec::new();
        }
        let mut by_size: Vec<(u64, usize)> = outputs
            .iter()
            .enumerate()
            .filter_map(|(k, t)| t.as_ref().map(|t| (t.tainted(view.outputs[k].value), k)))
            .collect();
        by_size.sort_by(|(a, ka), (b, kb)| b.cmp(a).then(ka.cmp(kb)));
        let mut capped = vec![false; outputs.len()];
        for (_, k) in by_size.into_iter().skip(self.params.max_fanout) {
            capped[k] = true;
        }
        capped
    }
}

/// Loads `txs` in as many batched chunks as there are threads.
pub(crate) fn load_parallel<L: UtxoLedger>(
    ledger: &L,
    txs: &[TxNum],
    spenders: bool,
) -> Result<Vec<TxView>, TraceError> {
    let chunk = txs.len().div_ceil(rayon::current_num_threads()).max(64);
    let parts: Vec<Result<Vec<TxView>, TraceError>> = txs
        .par_chunks(chunk)
        .map(|c| ledger.txs(c, spenders))
        .collect();
    let mut out = Vec::with_capacity(txs.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// Per-label totals of the sources.
pub fn source_totals(t: &ForwardTrace) -> Vec<(TaintLabel, u64)> {
    let mut totals = Vec::new();
    add(&mut totals, t.sources.iter().map(|(s, v)| (s.label, *v)));
    totals
}

/// Per-label totals of holdings (optionally only one status).
pub fn holding_totals(t: &ForwardTrace, status: Option<Status>) -> Vec<(TaintLabel, u64)> {
    let mut totals = Vec::new();
    for h in t
        .holdings
        .iter()
        .filter(|h| status.is_none_or(|s| h.status == s))
    {
        add(&mut totals, h.taint.by_label(h.value));
    }
    totals
}

/// Whether every source unit is accounted for (holdings + fees + burned), per label.
pub fn is_conserved(t: &ForwardTrace) -> bool {
    let mut out = holding_totals(t, None);
    add(&mut out, t.fees.iter().copied());
    add(&mut out, t.burned.iter().copied());
    source_totals(t) == out
}

impl<A: Amount> Taint<A> {
    /// Total of `by_label` (same as `tainted` except for poison).
    pub fn label_sum(&self, value: A) -> A {
        A::sum(self.by_label(value).into_iter().map(|(_, a)| a))
    }
}
