//! Backward exposure on the account model (deposit screening, spec §3): where did the funds
//! of a deposit, or of an address's balance, come from?
//!
//! An account's balance at an event is a mixture of everything it received before. Under
//! haircut that mixture does not change with debits (each takes its proportional slice), so
//! the share of an inflow in the balance at a later point is its share of the balance it fed,
//! `amount / (balance before it + amount)`, times what later inflows left of the older
//! mixture. The walk therefore takes an account's inflows newest first, gives each its share
//! of what is still unassigned, and pushes that part back to the inflow's sender as of that
//! inflow, hop by hop, until it reaches an attributed address, minted value (rewards,
//! withdrawals, token mints), the hop horizon, or the edge of the index.
//!
//! Hops mirror the Bitcoin screen ([`crate::backward`]): the owner of the screened funds (the
//! sender of a deposit, or the screened address for a balance) is hop 0, whoever paid it hop 1
//! (direct exposure), and so on. A pass-through contract adds no hop: its senders stand where
//! it stands. Results have the same shape as the Bitcoin screen's ([`CategoryExposure`],
//! [`EntityExposure`], [`OriginKind`]), with `U256` amounts, and render with the same JSON.

use std::collections::{BTreeMap, BTreeSet};

use chaintrace_model::eth::{AssetId, EventNum, U256};
use chaintrace_model::{AddrId, TxNum};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::amount::{lr_split, mul_div};
use super::ledger::{AccountLedger, EventView};
use super::passthrough::{self, Contracts, Eligibility, Route};
use super::result::decimal;
use crate::attribution::{Attributions, StopSet};
use crate::backward::{tally, CategoryExposure, EntityExposure, OriginKind};
use crate::ledger::TraceError;
use crate::report::{exposure_head_json, Names};
use crate::severity::{Severity, SeverityTable};

#[derive(Clone, Debug, Serialize)]
pub struct AccountScreenParams {
    pub max_hops: u32,
    pub stop_at: StopSet,
    /// Distinct (address, event) points kept per hop; the smallest beyond it are reported as
    /// truncated.
    pub max_frontier: usize,
    /// Hub protection: events of one account read per step back; what the inflows among them
    /// do not explain is reported as truncated.
    pub max_inflows: usize,
    pub severity: SeverityTable,
    /// Contracts that forward what they receive within a transaction, balanced or not.
    pub pass_through: BTreeSet<AddrId>,
    /// Treat contracts whose net change within a transaction is zero as pass-through.
    pub detect_pass_through: bool,
}

impl Default for AccountScreenParams {
    fn default() -> Self {
        AccountScreenParams {
            max_hops: 6,
            stop_at: StopSet::AnyLabel,
            max_frontier: 100_000,
            max_inflows: 10_000,
            severity: SeverityTable::default(),
            pass_through: BTreeSet::new(),
            detect_pass_through: true,
        }
    }
}

/// What to screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScreenTarget {
    /// One transfer (typically a deposit): where did the sender's funds come from?
    Inflow(EventNum),
    /// An address's balance of `asset` just before `at` (default: the end of the index).
    Balance {
        addr: AddrId,
        asset: AssetId,
        at: Option<EventNum>,
    },
}

/// Where a part of the screened amount came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountOrigin {
    /// The account where the walk stopped (`None` for minted value).
    pub addr: Option<AddrId>,
    /// The event the funds left it with (or arrived by, for minted value).
    pub event: Option<EventNum>,
    pub hop: u32,
    #[serde(serialize_with = "decimal")]
    pub amount: U256,
    #[serde(flatten)]
    pub kind: OriginKind,
}

/// The result of screening one asset.
#[derive(Clone, Debug)]
pub struct AccountExposure {
    pub asset: AssetId,
    pub total: U256,
    pub categories: Vec<CategoryExposure<U256>>,
    pub entities: Vec<EntityExposure<U256>>,
    pub origins: Vec<AccountOrigin>,
    pub risk: Severity,
    /// Illustrative score of spec §3.2: Σ severity weight × share × 0.5^(hop−1).
    pub score: f64,
    pub truncated: bool,
    pub txs_visited: usize,
    pub events_visited: usize,
}

impl AccountExposure {
    /// The JSON the Bitcoin screen produces ([`crate::report::exposure_json`]), plus the
    /// asset and the events read.
    pub fn to_json(&self, names: &dyn Names) -> Map<String, Value> {
        let mut m = exposure_head_json(
            self.total,
            self.risk,
            self.score,
            &self.categories,
            &self.entities,
        );
        m.insert("asset".into(), json!(self.asset.0));
        let origins = self.origins.iter().map(|o| {
            let mut v = serde_json::to_value(o).unwrap_or_default();
            v["ref"] = o
                .addr
                .and_then(|a| names.address(a))
                .map_or(Value::Null, Value::String);
            v["category"] = Value::String(o.kind.category().to_string());
            v
        });
        m.insert("origins".into(), Value::Array(origins.collect()));
        m.insert("truncated".into(), json!(self.truncated));
        m.insert("txs_visited".into(), json!(self.txs_visited));
        m.insert("events_visited".into(), json!(self.events_visited));
        m
    }
}

/// A point of the walk: an account's funds as of an event (the one they left with).
type Node = (AddrId, EventNum);

struct Walk<'a, L> {
    ledger: &'a L,
    attrs: &'a Attributions,
    params: &'a AccountScreenParams,
    asset: AssetId,
    origins: Vec<AccountOrigin>,
    contracts: Contracts<'a>,
    txs: BTreeSet<TxNum>,
    events: usize,
    truncated: bool,
}

/// Screens `target` backward through `ledger`.
pub fn screen_account<L: AccountLedger>(
    ledger: &L,
    attrs: &Attributions,
    target: ScreenTarget,
    params: &AccountScreenParams,
) -> Result<AccountExposure, TraceError> {
    // Hop 0 is the depositor (the inflow's sender, or the screened address); hop 1 its
    // counterparties, where exposure is direct (spec X-1). A screened address's own label
    // does not stop the walk: screening a labelled deposit address asks where its funds came
    // from, so the walk starts at its senders.
    let (asset, total) = match target {
        ScreenTarget::Inflow(e) => {
            let ev = ledger.event(e)?;
            (ev.transfer.asset, ev.transfer.amount)
        }
        ScreenTarget::Balance { addr, asset, at } => {
            let at = at.unwrap_or_else(|| ledger.end());
            (asset, ledger.balance_before(addr, asset, at)?)
        }
    };
    let mut walk = Walk {
        ledger,
        attrs,
        params,
        asset,
        origins: Vec::new(),
        contracts: Contracts::new(&params.pass_through, params.detect_pass_through),
        txs: BTreeSet::new(),
        events: 0,
        truncated: false,
    };
    let mut frontier = BTreeMap::new();
    let mut first_hop = 0;
    if !total.is_zero() {
        match target {
            ScreenTarget::Inflow(e) => {
                let from = ledger.event(e)?.transfer.from;
                frontier.insert((from, e), total);
            }
            ScreenTarget::Balance { addr, at, .. } => {
                let at = at.unwrap_or_else(|| ledger.end());
                walk.inflows(addr, at, total, 1, &mut frontier)?;
                first_hop = 1;
            }
        }
    }
    for hop in first_hop..=params.max_hops {
        if frontier.is_empty() {
            break;
        }
        frontier = walk.cap(frontier, hop);
        frontier = walk.step(frontier, hop)?;
    }
    Ok(walk.summarize(total))
}

impl<L: AccountLedger> Walk<'_, L> {
    /// Visits every point of one hop: stops where it can, otherwise pushes its amount back to
    /// the senders that funded it (pass-through contracts to their senders at the same hop).
    fn step(
        &mut self,
        mut level: BTreeMap<Node, U256>,
        hop: u32,
    ) -> Result<BTreeMap<Node, U256>, TraceError> {
        let mut next = BTreeMap::new();
        while let Some(((addr, at), amount)) = level.pop_first() {
            let kind = match self.attrs.of_addr(addr) {
                _ if addr.is_none() => Some(OriginKind::Mined),
                Some(a) if self.params.stop_at.stops(a) => {
                    Some(OriginKind::Attributed { attrs: a.to_vec() })
                }
                _ if hop == self.params.max_hops => Some(OriginKind::Unattributed),
                _ => None,
            };
            match kind {
                Some(kind) => self.origin(Some(addr), Some(at), hop, amount, kind),
                None => match self.route_of(addr, at)? {
                    Some((events, route)) => {
                        let levels = (&mut level, &mut next);
                        self.through_route(addr, amount, &events, &route, hop, levels)?
                    }
                    None => self.inflows(addr, at, amount, hop + 1, &mut next)?,
                },
            }
        }
        Ok(next)
    }

    fn origin(
        &mut self,
        addr: Option<AddrId>,
        event: Option<EventNum>,
        hop: u32,
        amount: U256,
        kind: OriginKind,
    ) {
        self.origins.push(AccountOrigin {
            addr: addr.filter(|a| !a.is_none()),
            event,
            hop,
            amount,
            kind,
        });
    }

    /// Splits `amount` of `addr`'s balance just before `before` over its inflows, newest
    /// first, each by its share of the balance it fed; the parts go to the inflows' senders at
    /// `hop`.
    fn inflows(
        &mut self,
        addr: AddrId,
        before: EventNum,
        amount: U256,
        hop: u32,
        next: &mut BTreeMap<Node, U256>,
    ) -> Result<(), TraceError> {
        let history =
            self.ledger
                .history_back(addr, self.asset, before, self.params.max_inflows)?;
        let capped = history.len() >= self.params.max_inflows;
        let mut rest = amount;
        for e in history {
            let ev = self.read(e)?;
            let t = &ev.transfer;
            if t.to != addr || t.from == addr || t.amount.is_zero() {
                continue;
            }
            let fed = self
                .ledger
                .balance_before(addr, self.asset, e)?
                .saturating_add(t.amount);
            let part = mul_div(rest, t.amount, fed).min(rest);
            rest -= part;
            self.push(next, t.from, e, hop, part);
            if rest.is_zero() {
                return Ok(());
            }
        }
        let kind = if capped {
            self.truncated = true;
            OriginKind::Truncated
        } else {
            OriginKind::OutsideIndex
        };
        self.origin(Some(addr), Some(before), hop, rest, kind);
        Ok(())
    }

    /// Queues `amount` at the sender `from` as of event `e` (minted value ends there).
    fn push(
        &mut self,
        next: &mut BTreeMap<Node, U256>,
        from: AddrId,
        e: EventNum,
        hop: u32,
        amount: U256,
    ) {
        if amount.is_zero() {
            return;
        }
        if from.is_none() {
            self.origin(None, Some(e), hop, amount, OriginKind::Mined);
            return;
        }
        let slot = next.entry((from, e)).or_insert(U256::ZERO);
        *slot = slot.saturating_add(amount);
    }

    fn read(&mut self, e: EventNum) -> Result<EventView, TraceError> {
        let ev = self.ledger.event(e)?;
        self.events += 1;
        if let Some(tx) = ev.transfer.tx {
            self.txs.insert(tx);
        }
        Ok(ev)
    }

    /// The route `addr` forwarded event `at` through, if it is pass-through in that
    /// transaction.
    fn route_of(
        &mut self,
        addr: AddrId,
        at: EventNum,
    ) -> Result<Option<(Vec<EventView>, Route)>, TraceError> {
        if at >= self.ledger.end() || self.eligibility(addr)? == Eligibility::No {
            return Ok(None);
        }
        let ev = self.read(at)?;
        let (Some(tx), true) = (ev.transfer.tx, ev.transfer.from == addr) else {
            return Ok(None);
        };
        let events = self.ledger.tx_events(tx)?;
        let Some(i) = events.iter().position(|x| x.num == at) else {
            return Ok(None);
        };
        let routes = passthrough::routes(&events, |a| self.eligibility(a))?;
        let route = routes
            .into_iter()
            .find(|r| r.addr == addr && r.asset == self.asset && r.outflows.contains(&i));
        Ok(route.map(|r| (events, r)))
    }

    /// A pass-through contract's outflow came from its inflows in the transaction (and, for
    /// one that paid out more than it received, from its own balance before it).
    fn through_route(
        &mut self,
        addr: AddrId,
        amount: U256,
        events: &[EventView],
        route: &Route,
        hop: u32,
        (level, next): (&mut BTreeMap<Node, U256>, &mut BTreeMap<Node, U256>),
    ) -> Result<(), TraceError> {
        let draw = route.total_out.saturating_sub(route.total_in);
        let weights: Vec<U256> = route
            .inflows
            .iter()
            .map(|i| events[*i].transfer.amount)
            .chain([draw])
            .collect();
        let parts = lr_split(amount, &weights, None)?;
        for (i, part) in route.inflows.iter().zip(parts.iter()) {
            let ev = &events[*i];
            self.push(level, ev.transfer.from, ev.num, hop, *part);
        }
        let own = parts.last().copied().unwrap_or_default();
        if own.is_zero() {
            return Ok(());
        }
        // What it paid from its own balance steps back one hop, like any account's.
        let start = events.iter().map(|e| e.num).min().unwrap_or_default();
        self.inflows(addr, start, own, hop + 1, next)
    }

    fn eligibility(&mut self, addr: AddrId) -> Result<Eligibility, TraceError> {
        self.contracts.eligibility(self.ledger, addr)
    }

    /// Keeps the `max_frontier` largest points; the rest are reported as truncated.
    fn cap(&mut self, frontier: BTreeMap<Node, U256>, hop: u32) -> BTreeMap<Node, U256> {
        if frontier.len() <= self.params.max_frontier {
            return frontier;
        }
        self.truncated = true;
        let mut entries: Vec<(Node, U256)> = frontier.into_iter().collect();
        entries.sort_by(|(na, a), (nb, b)| b.cmp(a).then(na.cmp(nb)));
        for ((addr, at), amount) in entries.split_off(self.params.max_frontier) {
            self.origin(Some(addr), Some(at), hop, amount, OriginKind::Truncated);
        }
        entries.into_iter().collect()
    }

    fn summarize(self, total: U256) -> AccountExposure {
        let share = |a: U256| {
            let bps = mul_div(a, U256::from(10_000u64), total).saturating_to::<u32>();
            let scale = 1_000_000_000_000u64;
            let fraction = mul_div(a, U256::from(scale), total).saturating_to::<u64>();
            (bps, fraction as f64 / scale as f64)
        };
        let t = tally(
            self.origins.iter().map(|o| (&o.kind, o.hop, o.amount)),
            &self.params.severity,
            share,
        );
        AccountExposure {
            asset: self.asset,
            total,
            categories: t.categories,
            entities: t.entities,
            risk: t.risk,
            score: t.score,
            origins: self.origins,
            truncated: self.truncated,
            txs_visited: self.txs.len(),
            events_visited: self.events,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustc_hash::FxHashMap;

    use super::*;
    use crate::account::memory::MemAccountLedger;
    use crate::attribution::Attr;
    use crate::taint::TaintLabel;
    use chaintrace_model::Category;

    const E: AddrId = AddrId(1);
    const MIX: AddrId = AddrId(2);
    const P: AddrId = AddrId(3);
    const SANCTIONED: AddrId = AddrId(4);
    const X: AddrId = AddrId(5);
    const D: AddrId = AddrId(6);
    const R: AddrId = AddrId(7);

    fn m(v: u64) -> U256 {
        U256::from(v) * U256::from(1_000_000u64)
    }

    fn attrs() -> Attributions {
        let a = |name: &str, category| -> Arc<[Attr]> {
            Arc::from(vec![Attr {
                label_id: 0,
                name: Arc::from(name),
                category,
                confidence: 100,
                source: Arc::from("test"),
                cluster_definer: false,
                via_cluster: None,
            }])
        };
        let mut by = FxHashMap::default();
        by.insert(E, a("Exchange E", Category::Exchange));
        by.insert(MIX, a("Mixer M", Category::Mixer));
        by.insert(SANCTIONED, a("Sanctioned S", Category::Sanctioned));
        Attributions::new(by, FxHashMap::default())
    }

    /// Spec X-1 on accounts: E → P 500, M → P 300, P → X 600, S → X 400, X deposits 990.
    fn x1() -> (MemAccountLedger, EventNum) {
        let mut l = MemAccountLedger::new();
        l.tx().value(E, P, m(500));
        l.tx().value(MIX, P, m(300));
        l.tx().value(P, X, m(600));
        l.tx().value(SANCTIONED, X, m(400));
        l.tx().value(X, D, m(990));
        let deposit = l.end().0 - 1;
        (l, EventNum(deposit))
    }

    fn category<'a>(e: &'a AccountExposure, c: &Category) -> &'a CategoryExposure<U256> {
        e.categories.iter().find(|x| &x.category == c).unwrap()
    }

    #[test]
    fn x1_haircut_exposure() {
        let (l, deposit) = x1();
        let params = AccountScreenParams::default();
        let e = screen_account(&l, &attrs(), ScreenTarget::Inflow(deposit), &params).unwrap();
        assert_eq!(e.total, m(990));
        let s = category(&e, &Category::Sanctioned);
        assert_eq!(
            (s.amount, s.direct, s.min_hops, s.share_bps),
            (m(396), m(396), 1, 4_000)
        );
        let mx = category(&e, &Category::Mixer);
        let mixer = U256::from(222_750_000u64);
        assert_eq!(
            (mx.amount, mx.indirect, mx.min_hops, mx.share_bps),
            (mixer, mixer, 2, 2_250)
        );
        let ex = category(&e, &Category::Exchange);
        assert_eq!(
            (ex.amount, ex.share_bps),
            (U256::from(371_250_000u64), 3_750)
        );
        assert_eq!(e.risk, Severity::Severe);
        assert_eq!(e.score, 0.49);
        assert_eq!(e.entities.len(), 3);
        let sum = e.origins.iter().fold(U256::ZERO, |s, o| s + o.amount);
        assert_eq!(sum, e.total);
    }

    #[test]
    fn balances_minted_value_and_horizons() {
        let (mut l, _) = x1();
        l.reward(X, m(10));
        let target = ScreenTarget::Balance {
            addr: X,
            asset: AssetId::ETH,
            at: None,
        };
        let e = screen_account(&l, &attrs(), target, &AccountScreenParams::default()).unwrap();
        assert_eq!(e.total, m(20));
        // The reward fed a balance of 20: half of it, as newly minted value at hop 1.
        let mined = category(&e, &Category::Other("mined".into()));
        assert_eq!((mined.amount, mined.direct), (m(10), m(10)));
        let params = AccountScreenParams {
            max_hops: 1,
            ..AccountScreenParams::default()
        };
        let e = screen_account(&l, &attrs(), target, &params).unwrap();
        let far = category(&e, &Category::Other("unattributed".into()));
        assert_eq!((far.min_hops, far.amount), (1, m(6)));
    }

    #[test]
    fn pass_through_contracts_add_no_hop() {
        let mut l = MemAccountLedger::new();
        l.reward(R, m(1_000_000));
        l.tx().value(E, R, m(1_000)).internal(R, X, m(1_000));
        let target = ScreenTarget::Balance {
            addr: X,
            asset: AssetId::ETH,
            at: None,
        };
        let e = screen_account(&l, &attrs(), target, &AccountScreenParams::default()).unwrap();
        let ex = category(&e, &Category::Exchange);
        assert_eq!((ex.amount, ex.direct), (m(1_000), m(1_000)));
        // Without pass-through the router's stored (mined) balance dilutes it to 0.1 %.
        let naive = AccountScreenParams {
            detect_pass_through: false,
            ..AccountScreenParams::default()
        };
        let e = screen_account(&l, &attrs(), target, &naive).unwrap();
        let ex = category(&e, &Category::Exchange);
        assert_eq!((ex.amount, ex.min_hops), (U256::from(999_000u64), 2));
        let mined = category(&e, &Category::Other("mined".into()));
        assert_eq!(mined.amount, m(1_000) - U256::from(999_000u64));
    }

    #[test]
    fn hub_caps_report_truncation() {
        let (mut l, _) = x1();
        for _ in 0..5 {
            l.tx().value(P, D, 1u64);
        }
        let target = ScreenTarget::Balance {
            addr: P,
            asset: AssetId::ETH,
            at: None,
        };
        let params = AccountScreenParams {
            max_inflows: 3,
            ..AccountScreenParams::default()
        };
        let e = screen_account(&l, &attrs(), target, &params).unwrap();
        assert!(e.truncated);
        let cut = category(&e, &Category::Other("truncated".into()));
        assert_eq!(cut.amount, e.total);
    }

    struct N;
    impl Names for N {
        fn txid(&self, tx: TxNum) -> String {
            format!("tx{}", tx.0)
        }
        fn address(&self, addr: AddrId) -> Option<String> {
            Some(format!("0x{:040x}", addr.0))
        }
        fn label(&self, label: TaintLabel) -> String {
            format!("case{}", label.0)
        }
    }

    #[test]
    fn renders_like_the_bitcoin_screen() {
        let (l, deposit) = x1();
        let params = AccountScreenParams::default();
        let e = screen_account(&l, &attrs(), ScreenTarget::Inflow(deposit), &params).unwrap();
        let json = e.to_json(&N);
        for key in [
            "total",
            "risk",
            "score",
            "exposure",
            "entities",
            "origins",
            "truncated",
            "txs_visited",
        ] {
            assert!(json.contains_key(key), "{key}");
        }
        assert_eq!(json["total"], "990000000");
        assert_eq!(json["exposure"][0]["share_percent"], "40.00");
        let origin = &json["origins"][0];
        assert!(origin["ref"].as_str().unwrap().starts_with("0x"));
        assert!(origin["amount"].is_string());
    }
}
