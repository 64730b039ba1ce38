//! Backward exposure (deposit screening): where did the coins of an output come from?
//!
//! Starting from the screened outputs, value is pushed back through the transactions that
//! created them, hop by hop, until it reaches an attributed address (a service, a sanctioned
//! or illicit entity), a coinbase (newly mined coins), the edge of the index, or the hop
//! horizon (unattributed). Hops count transfers from the screened address's own coins: the
//! inputs of the transaction that created the screened output are hop 0 (ownership), their
//! senders hop 1 (direct exposure), theirs hop 2 and beyond (indirect), as in spec §3.
//!
//! Two allocations: *haircut* (each input contributes in proportion to its value) and *FIFO*
//! (exact ancestry: the screened coins are a range of the creating transaction's input stream,
//! which maps to ranges of its inputs). Amounts stay integers: haircut splits by the
//! largest-remainder rule, FIFO splits ranges, so the screened total is always fully assigned.

use std::collections::BTreeMap;

use chaintrace_model::Category;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::amount::Amount;
use crate::attribution::{Attr, Attributions, StopSet};
use crate::forward::load_parallel;
use crate::ledger::{OutRef, TraceError, TxView, UtxoLedger};
use crate::mixer::{detect_coinjoin, ThroughCoinjoin};
use crate::rounding::split;
use crate::severity::{Severity, SeverityTable};
use chaintrace_heuristics::Detection;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackwardPolicy {
    Haircut,
    Fifo,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScreenParams {
    pub policy: BackwardPolicy,
    pub max_hops: u32,
    pub stop_at: StopSet,
    /// Distinct outputs kept per hop; the smallest beyond it are reported as truncated.
    pub max_frontier: usize,
    pub severity: SeverityTable,
    /// `Stop`: value created by a CoinJoin counts as coinjoin exposure there. Otherwise the
    /// walk goes on through the CoinJoin's inputs and the origins beyond it are marked.
    pub through_coinjoin: ThroughCoinjoin,
}

impl Default for ScreenParams {
    fn default() -> Self {
        ScreenParams {
            policy: BackwardPolicy::Haircut,
            max_hops: 6,
            stop_at: StopSet::AnyLabel,
            max_frontier: 100_000,
            severity: SeverityTable::default(),
            through_coinjoin: ThroughCoinjoin::Stop,
        }
    }
}

/// Where a part of the screened value came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OriginKind {
    /// An attributed address or output.
    Attributed { attrs: Vec<Attr> },
    /// A coinbase: newly mined coins.
    Mined,
    /// The hop horizon was reached without an attribution.
    Unattributed,
    /// The coins come from below the index's first block (a partial index).
    OutsideIndex,
    /// Dropped by the frontier cap.
    Truncated,
    /// Created by a CoinJoin, where `--through-coinjoin stop` ends the walk.
    #[serde(rename = "coinjoin")]
    CoinJoin { mixer: Detection },
}

#[derive(Clone, Debug, Serialize)]
pub struct Origin {
    /// The output where the walk stopped (`None` outside the index).
    #[serde(skip)]
    pub out: Option<OutRef>,
    pub hop: u32,
    pub amount: u64,
    #[serde(flatten)]
    pub kind: OriginKind,
}

impl Origin {
    /// The category this origin counts under.
    pub fn category(&self) -> Category {
        self.kind.category()
    }
}

impl OriginKind {
    /// The category an origin of this kind counts under (shared with the account engine).
    pub fn category(&self) -> Category {
        match self {
            OriginKind::Attributed { attrs } => most_severe(attrs),
            OriginKind::Mined => Category::Other("mined".into()),
            OriginKind::Unattributed => Category::Other("unattributed".into()),
            OriginKind::OutsideIndex => Category::Other("outside_index".into()),
            OriginKind::Truncated => Category::Other("truncated".into()),
            OriginKind::CoinJoin { .. } => Category::Coinjoin,
        }
    }
}

/// With several labels on one address, exposure counts under the most severe category
/// (illicit before services), so a sanctioned exchange wallet is not reported as just an exchange.
fn most_severe(attrs: &[Attr]) -> Category {
    let table = SeverityTable::default();
    attrs
        .iter()
        .map(|a| a.category.clone())
        .max_by_key(|c| (table.level(c, 1, 10_000), c.is_service()))
        .unwrap_or(Category::User)
}

/// Exposure of one category (amounts in satoshis, or `U256` base units for accounts).
#[derive(Clone, Debug, Serialize)]
pub struct CategoryExposure<A = u64> {
    pub category: Category,
    pub amount: A,
    pub share_bps: u32,
    pub min_hops: u32,
    /// Hop 0: the screened address's own coins carry the label.
    pub ownership: A,
    /// Hop 1.
    pub direct: A,
    /// Hop 2 and beyond.
    pub indirect: A,
    pub severity: Severity,
    /// Amount per hop.
    pub by_hop: BTreeMap<u32, A>,
}

/// The result of screening.
#[derive(Clone, Debug, Serialize)]
pub struct Exposure {
    pub total: u64,
    pub categories: Vec<CategoryExposure>,
    /// Attributed entities reached: (name, category, amount, min hop).
    pub entities: Vec<EntityExposure>,
    pub origins: Vec<Origin>,
    pub risk: Severity,
    /// Illustrative score of spec §3.2: Σ severity weight × share × 0.5^(hop−1).
    pub score: f64,
    pub truncated: bool,
    pub txs_visited: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct EntityExposure<A = u64> {
    pub name: String,
    pub category: Category,
    pub amount: A,
    pub min_hops: u32,
}

/// Value carried by one output in the walk: an amount (haircut) or ranges of it (FIFO).
#[derive(Clone, Debug)]
enum Carry {
    Amount(u64),
    Ranges(Vec<(u64, u64)>),
}

impl Carry {
    fn amount(&self) -> u64 {
        match self {
            Carry::Amount(a) => *a,
            Carry::Ranges(r) => r.iter().map(|(lo, hi)| hi - lo).sum(),
        }
    }

    fn merge(&mut self, other: Carry) {
        match (self, other) {
            (Carry::Amount(a), Carry::Amount(b)) => *a += b,
            (Carry::Ranges(a), Carry::Ranges(b)) => {
                a.extend(b);
                a.sort_unstable();
            }
            _ => unreachable!("one walk uses one policy"),
        }
    }
}

struct Walk<'a, L> {
    ledger: &'a L,
    attrs: &'a Attributions,
    params: &'a ScreenParams,
    origins: Vec<Origin>,
    visited: usize,
    truncated: bool,
}

/// Screens `targets` (outputs, typically the deposit) backward.
pub fn screen<L: UtxoLedger>(
    ledger: &L,
    attrs: &Attributions,
    targets: &[OutRef],
    params: &ScreenParams,
) -> Result<Exposure, TraceError> {
    let mut walk = Walk {
        ledger,
        attrs,
        params,
        origins: Vec::new(),
        visited: 0,
        truncated: false,
    };
    let mut frontier: BTreeMap<OutRef, Carry> = BTreeMap::new();
    let mut total = 0u64;
    for t in targets {
        let view = ledger.tx(t.tx)?;
        let value = view
            .outputs
            .get(t.vout as usize)
            .map(|o| o.value)
            .ok_or_else(|| {
                TraceError::NotFound(format!("transaction {} has no output {}", t.tx, t.vout))
            })?;
        total += value;
        let carry = match params.policy {
            BackwardPolicy::Haircut => Carry::Amount(value),
            BackwardPolicy::Fifo => Carry::Ranges(vec![(0, value)]),
        };
        walk.expand(&view, t.vout, carry, 0, &mut frontier);
    }
    for hop in 0..=params.max_hops {
        if frontier.is_empty() {
            break;
        }
        frontier = walk.cap(frontier, hop);
        frontier = walk.step(frontier, hop)?;
    }
    Ok(summarize(total, walk, params))
}

impl<L: UtxoLedger> Walk<'_, L> {
    /// Visits every output of one hop: stops where it can, otherwise pushes its value back to
    /// the inputs of the transaction that created it.
    fn step(
        &mut self,
        frontier: BTreeMap<OutRef, Carry>,
        hop: u32,
    ) -> Result<BTreeMap<OutRef, Carry>, TraceError> {
        let txs: Vec<_> = {
            let mut t: Vec<_> = frontier.keys().map(|o| o.tx).collect();
            t.dedup();
            t
        };
        let views: FxHashMap<_, TxView> = load_parallel(self.ledger, &txs, false)?
            .into_iter()
            .map(|v| (v.tx, v))
            .collect();
        self.visited += views.len();
        let mut next = BTreeMap::new();
        for (out, carry) in frontier {
            let view = &views[&out.tx];
            let addr = view.outputs[out.vout as usize].addr;
            let kind = match self.attrs.of(out, addr) {
                Some(attrs) if self.params.stop_at.stops(&attrs) => {
                    Some(OriginKind::Attributed { attrs })
                }
                _ if view.coinbase => Some(OriginKind::Mined),
                _ if hop == self.params.max_hops => Some(OriginKind::Unattributed),
                _ => self.coinjoin_stop(view)?,
            };
            match kind {
                Some(kind) => self.origins.push(Origin {
                    out: Some(out),
                    hop,
                    amount: carry.amount(),
                    kind,
                }),
                None => self.expand(view, out.vout, carry, hop + 1, &mut next),
            }
        }
        Ok(next)
    }

    /// The CoinJoin origin where the walk stops, when `view` is one and the mode is `Stop`.
    fn coinjoin_stop(&self, view: &TxView) -> Result<Option<OriginKind>, TraceError> {
        if self.params.through_coinjoin != ThroughCoinjoin::Stop {
            return Ok(None);
        }
        Ok(detect_coinjoin(self.ledger, view)?.map(|mixer| OriginKind::CoinJoin { mixer }))
    }

    /// Pushes the value carried by output `vout` of `view` back onto its inputs.
    fn expand(
        &mut self,
        view: &TxView,
        vout: u32,
        carry: Carry,
        hop: u32,
        next: &mut BTreeMap<OutRef, Carry>,
    ) {
        if view.coinbase {
            let out = OutRef { tx: view.tx, vout };
            self.origins.push(Origin {
                out: Some(out),
                hop,
                amount: carry.amount(),
                kind: OriginKind::Mined,
            });
            return;
        }
        let parts: Vec<Carry> = match carry {
            Carry::Amount(a) => {
                let weights: Vec<u64> = view.inputs.iter().map(|i| i.value).collect();
                split(a, &weights, None)
                    .into_iter()
                    .map(Carry::Amount)
                    .collect()
            }
            Carry::Ranges(ranges) => fifo_ranges(view, vout, &ranges),
        };
        for (input, part) in view.inputs.iter().zip(parts) {
            if part.amount() == 0 {
                continue;
            }
            match input.prev {
                Some(prev) => match next.get_mut(&prev) {
                    Some(c) => c.merge(part),
                    None => {
                        next.insert(prev, part);
                    }
                },
                None => {
                    let kind = match self.attrs.of_addr(input.addr) {
                        Some(a) if self.params.stop_at.stops(a) => {
                            OriginKind::Attributed { attrs: a.to_vec() }
                        }
                        _ => OriginKind::OutsideIndex,
                    };
                    self.origins.push(Origin {
                        out: None,
                        hop,
                        amount: part.amount(),
                        kind,
                    });
                }
            }
        }
    }

    /// Keeps the `max_frontier` largest entries; the rest are reported as truncated.
    fn cap(&mut self, frontier: BTreeMap<OutRef, Carry>, hop: u32) -> BTreeMap<OutRef, Carry> {
        if frontier.len() <= self.params.max_frontier {
            return frontier;
        }
        self.truncated = true;
        let mut entries: Vec<(OutRef, Carry)> = frontier.into_iter().collect();
        entries.sort_by(|(oa, a), (ob, b)| b.amount().cmp(&a.amount()).then(oa.cmp(ob)));
        for (out, carry) in entries.split_off(self.params.max_frontier) {
            self.origins.push(Origin {
                out: Some(out),
                hop,
                amount: carry.amount(),
                kind: OriginKind::Truncated,
            });
        }
        entries.into_iter().collect()
    }
}

/// FIFO ancestry: output `vout` occupies a slice of the input stream (outputs take it in index
/// order, the fee is the tail); each carried range maps to ranges of the inputs it overlaps.
fn fifo_ranges(view: &TxView, vout: u32, ranges: &[(u64, u64)]) -> Vec<Carry> {
    let start: u64 = view.outputs[..vout as usize].iter().map(|o| o.value).sum();
    let mut parts = vec![Vec::new(); view.inputs.len()];
    let mut offset = 0u64;
    for (j, input) in view.inputs.iter().enumerate() {
        let (a, b) = (offset, offset + input.value);
        for (lo, hi) in ranges {
            let (lo, hi) = (start + lo, start + hi);
            let (x, y) = (lo.max(a), hi.min(b));
            if x < y {
                parts[j].push((x - a, y - a));
            }
        }
        offset = b;
    }
    parts.into_iter().map(Carry::Ranges).collect()
}

fn share_bps(amount: u64, total: u64) -> u32 {
    if total == 0 {
        0
    } else {
        (u128::from(amount) * 10_000 / u128::from(total)) as u32
    }
}

fn summarize<L>(total: u64, walk: Walk<'_, L>, params: &ScreenParams) -> Exposure {
    let t = tally(
        walk.origins.iter().map(|o| (&o.kind, o.hop, o.amount)),
        &params.severity,
        |a| (share_bps(a, total), a as f64 / total.max(1) as f64),
    );
    let (categories, entities, risk, score) = (t.categories, t.entities, t.risk, t.score);
    Exposure {
        total,
        categories,
        entities,
        origins: walk.origins,
        risk,
        score,
        truncated: walk.truncated,
        txs_visited: walk.visited,
    }
}

/// Exposure per category and per entity, the overall risk and the illustrative score of a set
/// of origins `(kind, hop, amount)`: the part of screening that does not depend on the chain.
pub(crate) struct Tally<A> {
    pub categories: Vec<CategoryExposure<A>>,
    pub entities: Vec<EntityExposure<A>>,
    pub risk: Severity,
    /// Σ severity weight × share × 0.5^(hop−1), rounded to four decimals.
    pub score: f64,
}

/// The entity an origin names: its labels, or the protocol of the CoinJoin it stopped at.
fn entity_name(kind: &OriginKind) -> Option<String> {
    match kind {
        OriginKind::Attributed { attrs } => Some(
            attrs
                .iter()
                .map(|a| a.name.to_string())
                .collect::<Vec<_>>()
                .join(" / "),
        ),
        OriginKind::CoinJoin { mixer } => Some(format!(
            "{} CoinJoin",
            serde_json::to_value(mixer.protocol)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )),
        _ => None,
    }
}

/// Tallies origins; `share` gives an amount's share of the screened total, in basis points
/// and as a fraction.
pub(crate) fn tally<'o, A: Amount>(
    origins: impl IntoIterator<Item = (&'o OriginKind, u32, A)>,
    severity: &SeverityTable,
    share: impl Fn(A) -> (u32, f64),
) -> Tally<A> {
    let mut cats: BTreeMap<Category, CategoryExposure<A>> = BTreeMap::new();
    let mut entities: BTreeMap<(String, Category), EntityExposure<A>> = BTreeMap::new();
    for (kind, hop, amount) in origins {
        let category = kind.category();
        let c = cats
            .entry(category.clone())
            .or_insert_with(|| CategoryExposure {
                category: category.clone(),
                amount: A::ZERO,
                share_bps: 0,
                min_hops: u32::MAX,
                ownership: A::ZERO,
                direct: A::ZERO,
                indirect: A::ZERO,
                severity: Severity::None,
                by_hop: BTreeMap::new(),
            });
        c.amount = c.amount.plus(amount);
        c.min_hops = c.min_hops.min(hop);
        let at_hop = c.by_hop.entry(hop).or_insert(A::ZERO);
        *at_hop = at_hop.plus(amount);
        let slot = match hop {
            0 => &mut c.ownership,
            1 => &mut c.direct,
            _ => &mut c.indirect,
        };
        *slot = slot.plus(amount);
        if let Some(name) = entity_name(kind) {
            let e = entities
                .entry((name.clone(), category.clone()))
                .or_insert_with(|| EntityExposure {
                    name,
                    category: category.clone(),
                    amount: A::ZERO,
                    min_hops: u32::MAX,
                });
            e.amount = e.amount.plus(amount);
            e.min_hops = e.min_hops.min(hop);
        }
    }
    let mut score = 0.0;
    let mut risk = Severity::None;
    let mut categories: Vec<CategoryExposure<A>> = cats.into_values().collect();
    for c in &mut categories {
        c.share_bps = share(c.amount).0;
        let nonzero = u64::from(!c.amount.is_zero());
        c.severity = severity.level(&c.category, nonzero, c.share_bps);
        risk = risk.max(c.severity);
        for (hop, amount) in &c.by_hop {
            let decay = 0.5f64.powi(hop.saturating_sub(1) as i32);
            score += c.severity.weight() * share(*amount).1 * decay;
        }
    }
    categories.sort_by(|a, b| b.amount.cmp(&a.amount).then(a.category.cmp(&b.category)));
    let mut entities: Vec<EntityExposure<A>> = entities.into_values().collect();
    entities.sort_by(|a, b| b.amount.cmp(&a.amount).then(a.name.cmp(&b.name)));
    Tally {
        categories,
        entities,
        risk,
        score: (score * 10_000.0).round() / 10_000.0,
    }
}
