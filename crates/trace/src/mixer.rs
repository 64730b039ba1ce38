//! Crossing a CoinJoin (spec §4.8): recognising one on the path and deciding, as the user
//! chose, how the taint of its inputs reaches its outputs.
//!
//! A CoinJoin is where evidence gets weakest, so every crossing is recorded as a [`MixerHop`]
//! with the detector that fired, its confidence, the mode applied, and whether the split had to
//! fall back to a guess (`uncertain`). Lossless modes (equal split, haircut, as-policy) keep
//! every unit of taint: what enters the transaction equals what its outputs and fee carry.

use serde::Serialize;
use smallvec::SmallVec;

use chaintrace_heuristics::coinjoin::whirlpool_mix_with_lineage;
use chaintrace_heuristics::{detect, Coin, Detection, Protocol, TxShape};
use chaintrace_model::TxNum;

use crate::ledger::{TraceError, TxView, UtxoLedger};
use crate::policy::{In, Outcome, Policy, Rules};
use crate::rounding::split;
use crate::taint::{coalesce, Parts, Seg, Taint, TaintLabel};

/// How taint crosses a CoinJoin (`--through-coinjoin`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThroughCoinjoin {
    /// Stop in front of it: the tainted inputs are reported as having reached a mixer.
    Stop,
    /// Spread each participant's mixed amount equally over the outputs of its denomination and
    /// give its change back to it (spec §4.8 option 3); falls back to haircut, flagged
    /// uncertain, when the participant's change cannot be singled out.
    #[default]
    EqualSplit,
    /// Plain proportional split over every output and the fee.
    Haircut,
    /// Every output possibly tainted (an upper bound, not lossless).
    Poison,
    /// The trace's own policy, as for any transaction. Deterministic but arbitrary at a
    /// CoinJoin (input order decides which output is dirty): an artefact, not evidence.
    AsPolicy,
}

impl ThroughCoinjoin {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "stop" => ThroughCoinjoin::Stop,
            "equal-split" => ThroughCoinjoin::EqualSplit,
            "haircut" => ThroughCoinjoin::Haircut,
            "poison" => ThroughCoinjoin::Poison,
            "as-policy" => ThroughCoinjoin::AsPolicy,
            _ => return None,
        })
    }

    /// Whether crossing in this mode keeps the total taint unchanged.
    pub fn is_lossless(self) -> bool {
        self != ThroughCoinjoin::Poison
    }
}

/// One CoinJoin on a trace's path.
#[derive(Clone, Debug, Serialize)]
pub struct MixerHop {
    #[serde(skip)]
    pub tx: TxNum,
    pub height: u32,
    pub hop: u32,
    #[serde(flatten)]
    pub detection: Detection,
    pub through: ThroughCoinjoin,
    /// The split could not follow the participant's coins and fell back to haircut (always
    /// the case for multi-denomination Wasabi 2 rounds: spec §4.8 3c).
    pub uncertain: bool,
    /// Taint that entered the CoinJoin.
    pub tainted_in: u64,
}

/// Inputs from which a Wasabi 2 round may have no two equal outputs.
const WASABI2_MIN_INPUTS: usize = 15;

/// Transactions that cannot be multi-party CoinJoins by shape: the check every step pays.
fn may_be_coinjoin(view: &TxView) -> bool {
    if view.coinbase || view.inputs.len() < 2 || view.outputs.len() < 3 {
        return false;
    }
    if view.inputs.len() >= WASABI2_MIN_INPUTS {
        return true;
    }
    let mut values: SmallVec<[u64; 16]> = view.outputs.iter().map(|o| o.value).collect();
    values.sort_unstable();
    values.windows(2).any(|w| w[0] == w[1])
}

/// The multi-party CoinJoin `view` is, if any (a Whirlpool Tx0 has one owner: not a mixer).
pub fn detect_coinjoin<L: UtxoLedger>(
    ledger: &L,
    view: &TxView,
) -> Result<Option<Detection>, TraceError> {
    if !may_be_coinjoin(view) {
        return Ok(None);
    }
    let mut full;
    let view = if view.inputs.iter().any(|i| i.addr.is_none()) {
        full = view.clone();
        ledger.complete_inputs(&mut full)?;
        &full
    } else {
        view
    };
    let Some(found) = detect_in(ledger, view).filter(Detection::is_multi_party) else {
        return Ok(None);
    };
    if found.protocol == Protocol::WhirlpoolMix && comes_from_tx0(ledger, view)? {
        return Ok(Some(whirlpool_mix_with_lineage(found)));
    }
    Ok(Some(found))
}

/// Runs the detectors on a view whose inputs carry their addresses.
fn detect_in<L: UtxoLedger>(ledger: &L, view: &TxView) -> Option<Detection> {
    let coin = |value, addr, kind| Coin { value, addr, kind };
    let inputs: SmallVec<[Coin; 16]> = view
        .inputs
        .iter()
        .map(|i| coin(i.value, i.addr, i.kind))
        .collect();
    let outputs: SmallVec<[Coin; 16]> = view
        .outputs
        .iter()
        .map(|o| coin(o.value, o.addr, o.kind))
        .collect();
    detect(&TxShape {
        height: view.height,
        mainnet: ledger.mainnet(),
        coinbase: view.coinbase,
        inputs: &inputs,
        outputs: &outputs,
    })
}

/// Whether a Whirlpool mix has an input straight from a Tx0: the lineage that makes the
/// detection near certain (new entrants come from Tx0s; remixers from earlier mixes).
fn comes_from_tx0<L: UtxoLedger>(ledger: &L, view: &TxView) -> Result<bool, TraceError> {
    for input in &view.inputs {
        let Some(prev) = input.prev else { continue };
        let mut parent = ledger.tx(prev.tx)?;
        ledger.complete_inputs(&mut parent)?;
        if detect_in(ledger, &parent).is_some_and(|d| d.protocol == Protocol::WhirlpoolTx0) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Taint of the outputs and fee of a CoinJoin crossed in `mode` (not `Stop`), and whether the
/// split is uncertain. Under the poison policy every crossing is poison.
pub fn cross(
    detection: &Detection,
    mode: ThroughCoinjoin,
    rules: &Rules,
    inputs: &[In<'_, u64>],
    values: &[u64],
) -> (Outcome<u64>, bool) {
    let with = |policy| Rules { policy, ..*rules };
    match (rules.policy, mode) {
        (Policy::Poison, _) | (_, ThroughCoinjoin::Poison) => {
            (with(Policy::Poison).apply(inputs, values), false)
        }
        (_, ThroughCoinjoin::AsPolicy | ThroughCoinjoin::Stop) => {
            (rules.apply(inputs, values), false)
        }
        (_, ThroughCoinjoin::Haircut) => (haircut(rules, inputs, values), false),
        (_, ThroughCoinjoin::EqualSplit) => match equal_split(detection, inputs, values) {
            Some(parts) => (represent(rules, parts, inputs, values), false),
            None => (haircut(rules, inputs, values), true),
        },
    }
}

/// Haircut over every output and the fee, in the trace's representation.
fn haircut(rules: &Rules, inputs: &[In<'_, u64>], values: &[u64]) -> Outcome<u64> {
    let plain = Rules {
        policy: Policy::Haircut,
        ..*rules
    }
    .apply(inputs, values);
    let parts = plain
        .outputs
        .iter()
        .chain(std::iter::once(&plain.fee))
        .map(|t| t.as_ref().map(|t| t.by_label(0)).unwrap_or_default())
        .collect();
    represent(rules, parts, inputs, values)
}

/// Per-label amounts of each output (and the fee, last) as the trace's taint states: haircut
/// parts as they are; for ordered policies, a tainted lead segment before the clean rest.
fn represent(
    rules: &Rules,
    parts: Vec<Parts<u64>>,
    inputs: &[In<'_, u64>],
    values: &[u64],
) -> Outcome<u64> {
    let fee_value = {
        let total_in: u64 = inputs.iter().map(|(v, _)| *v).sum();
        total_in.saturating_sub(values.iter().sum())
    };
    let state = |parts: Parts<u64>, value: u64| -> Option<Taint<u64>> {
        match rules.policy {
            Policy::Ordered { .. } => {
                let tainted: u64 = parts.iter().map(|(_, a)| a).sum();
                let segs = parts
                    .iter()
                    .map(|(l, a)| Seg::tainted(*l, *a))
                    .chain(std::iter::once(Seg::clean(value.saturating_sub(tainted))));
                Taint::ordered(coalesce(segs))
            }
            _ => Taint::haircut(parts.into_iter().filter(|(_, a)| *a > 0)),
        }
    };
    let mut parts = parts;
    let fee = state(parts.pop().unwrap_or_default(), fee_value);
    Outcome {
        outputs: parts
            .into_iter()
            .zip(values)
            .map(|(p, v)| state(p, *v))
            .collect(),
        fee,
    }
}

/// Spec §4.8 option 3: per-label amounts for each output and the fee (last), or `None` when the
/// tainted participant's coins cannot be followed and the caller must fall back.
fn equal_split(
    detection: &Detection,
    inputs: &[In<'_, u64>],
    values: &[u64],
) -> Option<Vec<Parts<u64>>> {
    let d = detection.denomination;
    match detection.protocol {
        Protocol::WhirlpoolMix => Some(whirlpool(d, inputs, values)),
        Protocol::Wasabi2 => None,
        _ => participant(d, inputs, values),
    }
}

/// Whirlpool: every input is one participant; its `d` spreads equally over the outputs of the
/// pool denomination and its excess `ε` (the miner-fee share) goes to the fee.
fn whirlpool(d: u64, inputs: &[In<'_, u64>], values: &[u64]) -> Vec<Parts<u64>> {
    let n = values.iter().filter(|v| **v == d).count() as u64;
    let mut acc = Accumulator::new(values);
    for (value, taint) in inputs {
        let Some(taint) = taint else { continue };
        let mut weights: SmallVec<[u64; 16]> =
            values.iter().map(|v| if *v == d { d } else { 0 }).collect();
        weights.push(n * value.saturating_sub(d));
        acc.add(taint.by_label(*value), &weights);
    }
    acc.finish()
}

/// Equal-output rounds with change (Wasabi 1, JoinMarket, generic): the tainted inputs form
/// one participant of value `V`, which bought `j` denomination outputs and took back change
/// `c`, with `V − j·d − c` within the round's fees. Only a unique such `(j, c)` is a mapping.
/// Then the change gets `c/V` of the taint, the outputs of the denomination share `j·d/V`
/// equally, and what the participant paid beyond that goes to the fee, as far as the fee
/// goes, and the rest to the other participants' change (a JoinMarket taker pays its makers),
/// shared equally among them.
fn participant(d: u64, inputs: &[In<'_, u64>], values: &[u64]) -> Option<Vec<Parts<u64>>> {
    if d == 0 {
        return None;
    }
    let v: u64 = inputs
        .iter()
        .filter(|(_, t)| t.is_some())
        .map(|(v, _)| v)
        .sum();
    let total_in: u64 = inputs.iter().map(|(v, _)| v).sum();
    let fee = total_in.saturating_sub(values.iter().sum());
    let k = values.iter().filter(|x| **x == d).count() as u64;
    let (j, change) = unique_mapping(d, k, v, fee.max(v / 1000), values)?;
    let kept = j * d + change.map_or(0, |c| values[c]);
    let left = v.saturating_sub(kept);
    let to_fee = left.min(fee);
    let others: Vec<usize> = (0..values.len())
        .filter(|i| values[*i] != d && Some(*i) != change && values[*i] > 0)
        .collect();
    if left > to_fee && others.is_empty() {
        return None;
    }
    let weights = participant_weights(d, j, k, change, to_fee, left - to_fee, &others, values)?;
    let mut totals: Parts<u64> = Parts::new();
    for (value, taint) in inputs {
        for (label, amount) in taint.map(|t| t.by_label(*value)).unwrap_or_default() {
            add_part(&mut totals, label, amount);
        }
    }
    let mut acc = Accumulator::new(values);
    acc.add(totals, &weights);
    Some(acc.finish())
}

/// The outputs' and the fee's (last) shares of the participant's value, scaled by `k·m` (the
/// denomination's outputs, the other participants' change outputs) to stay integral; `None`
/// if that overflows.
#[allow(clippy::too_many_arguments)]
fn participant_weights(
    d: u64,
    j: u64,
    k: u64,
    change: Option<usize>,
    to_fee: u64,
    to_others: u64,
    others: &[usize],
    values: &[u64],
) -> Option<SmallVec<[u64; 16]>> {
    let m = others.len().max(1) as u64;
    let km = k.checked_mul(m)?;
    let mut weights: SmallVec<[u64; 16]> = SmallVec::new();
    for (i, x) in values.iter().enumerate() {
        weights.push(match () {
            _ if *x == d => j.checked_mul(d)?.checked_mul(m)?,
            _ if Some(i) == change => km.checked_mul(*x)?,
            _ if others.contains(&i) => k.checked_mul(to_others)?,
            _ => 0,
        });
    }
    weights.push(km.checked_mul(to_fee)?);
    Some(weights)
}

/// The one `(j, change output)` explaining a participant of value `v`, if exactly one does
/// (`None` as the change: the participant swept everything into the denomination).
fn unique_mapping(
    d: u64,
    k: u64,
    v: u64,
    tolerance: u64,
    values: &[u64],
) -> Option<(u64, Option<usize>)> {
    let near = |left: i128| left.unsigned_abs() <= u128::from(tolerance);
    let mut found = None;
    for j in 1..=k.min(v.saturating_add(tolerance) / d) {
        let left = i128::from(v) - i128::from(j * d);
        let changes = values
            .iter()
            .enumerate()
            .filter(|(_, x)| **x != d && **x > 0 && near(left - i128::from(**x)))
            .map(|(i, _)| Some(i));
        for candidate in changes.chain(near(left).then_some(None)) {
            if found.replace((j, candidate)).is_some() {
                return None;
            }
        }
    }
    found
}

/// Sums per-label splits of several inputs; each output holds at most its value, any excess
/// from rounding going to the fee so that nothing is lost.
struct Accumulator<'v> {
    values: &'v [u64],
    parts: Vec<Parts<u64>>,
}

impl<'v> Accumulator<'v> {
    fn new(values: &'v [u64]) -> Self {
        Accumulator {
            values,
            parts: vec![Parts::new(); values.len() + 1],
        }
    }

    fn add(&mut self, labels: Parts<u64>, weights: &[u64]) {
        if weights.iter().all(|w| *w == 0) {
            return;
        }
        for (label, amount) in labels {
            for (k, share) in split(amount, weights, None).into_iter().enumerate() {
                if share > 0 {
                    add_part(&mut self.parts[k], label, share);
                }
            }
        }
    }

    fn finish(mut self) -> Vec<Parts<u64>> {
        let fee = self.values.len();
        for k in 0..fee {
            let mut excess = self.parts[k].iter().map(|(_, a)| a).sum::<u64>();
            excess = excess.saturating_sub(self.values[k]);
            while excess > 0 {
                let Some((label, amount)) = self.parts[k].last_mut() else {
                    break;
                };
                let moved = excess.min(*amount);
                *amount -= moved;
                excess -= moved;
                let label = *label;
                self.parts[k].retain(|(_, a)| *a > 0);
                add_part(&mut self.parts[fee], label, moved);
            }
        }
        for p in &mut self.parts {
            p.sort_by_key(|(l, _)| *l);
        }
        self.parts
    }
}

fn add_part(parts: &mut Parts<u64>, label: TaintLabel, amount: u64) {
    match parts.iter_mut().find(|(l, _)| *l == label) {
        Some((_, a)) => *a += amount,
        None => parts.push((label, amount)),
    }
}
