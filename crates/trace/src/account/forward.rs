//! Forward tracing on the account model: where did the sources' taint go?
//!
//! Taint lives on (address, asset) balances, and a balance's policy can only be applied if it
//! sees every credit and debit in order, clean ones included. So the engine follows the
//! *histories* of the tainted balances ([`Frontier`]), merged in global canonical order, and
//! runs each transaction it reaches as a whole: gas first (burn, then tip), value movements,
//! token logs, exactly as indexed. Running whole transactions is what lets pass-through
//! contracts match a transaction's inflows to its outflows ([`passthrough`]), and it processes
//! an event between two tainted accounts once.
//!
//! State is kept only for tainted balances. A balance becomes tracked on its first tainted
//! credit, seeded with its indexed balance just before (clean, older than the taint), and is
//! dropped again once it holds no taint, since a clean balance behaves exactly like an
//! untracked one. Taint that stops (the zero address, a labelled service or mixer, the hop
//! limit, dust, a cap) collects in a holding that says why. Sources are permanently tainted:
//! from a given event on, every unit they send is tainted and counts as source, so the summary
//! reconciles source = holdings + burnt + fees + dust for the lossless policies.
//!
//! Everything runs on one thread in chain order, so results are identical run to run.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chaintrace_model::eth::{AssetId, EventNum, TransferKind, U256};
use chaintrace_model::{AddrId, Category, TxNum};
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::frontier::{Frontier, Pair};
use super::ledger::{AccountLedger, EventView};
use super::passthrough::{self, Contracts, Eligibility, Route};
use super::result::{
    label_amounts, summarize, AccountFlow, AccountHolding, AccountStatus, AccountTrace,
    AssetAmount, SourceReport,
};
use super::state::{add_part, AccountPolicy, AccountRules, AccountState, Parcel};
use crate::attribution::{Attributions, StopSet};
use crate::ledger::TraceError;
use crate::taint::{Parts, TaintLabel};

/// How a forward account trace runs.
#[derive(Clone, Debug, Serialize)]
pub struct AccountForwardParams {
    pub rules: AccountRules,
    /// Gas before the transaction's value movements (protocol order, the spec default); off,
    /// gas is drawn after them, as EthereumBlacklisting does.
    pub gas_first: bool,
    /// Tainted tips taint the block's fee recipient, which is then traced like any account;
    /// off, they end in `fee` holdings.
    pub tip_to_miner: bool,
    /// Accounts this many transfers from a source are not followed further.
    pub max_hops: u32,
    /// A first tainted credit below this is dust: reported, not followed.
    pub min_amount: U256,
    /// Per-asset overrides of `min_amount` (assets have different decimals).
    pub min_amount_per_asset: BTreeMap<AssetId, U256>,
    pub stop_at: StopSet,
    /// The last event looked at (its transaction is run whole).
    pub until_event: Option<EventNum>,
    /// The last block looked at.
    pub until_height: Option<u32>,
    /// Contracts that forward what they receive within a transaction, balanced or not.
    pub pass_through: BTreeSet<AddrId>,
    /// Treat any contract whose net change for an asset within a transaction is zero as
    /// pass-through.
    pub detect_pass_through: bool,
    /// Hub protection: events of one (address, asset) before it stops being followed (its
    /// taint becomes a `truncated` holding).
    pub max_events_per_account: u64,
    /// Events processed in all before the trace stops (the rest becomes `truncated`).
    pub max_events: u64,
    /// Whether to keep every tainted transfer in [`AccountTrace::flows`].
    pub record_flows: bool,
}

impl AccountForwardParams {
    pub fn new(rules: AccountRules) -> Self {
        AccountForwardParams {
            rules,
            gas_first: true,
            tip_to_miner: true,
            max_hops: 100,
            min_amount: U256::ZERO,
            min_amount_per_asset: BTreeMap::new(),
            stop_at: StopSet::Services,
            until_event: None,
            until_height: None,
            pass_through: BTreeSet::new(),
            detect_pass_through: true,
            max_events_per_account: 100_000,
            max_events: 50_000_000,
            record_flows: true,
        }
    }

    fn min_amount(&self, asset: AssetId) -> U256 {
        self.min_amount_per_asset
            .get(&asset)
            .copied()
            .unwrap_or(self.min_amount)
    }
}

/// What the trace starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountSource {
    /// An address permanently tainted from `from` (default: its first indexed event): every
    /// outgoing transfer, of any asset, is tainted with `label`.
    Address {
        addr: AddrId,
        label: TaintLabel,
        from: Option<EventNum>,
    },
    /// One transaction: what its sender sends in it is tainted with `label`.
    Tx { tx: TxNum, label: TaintLabel },
    /// Taint that comes out of a mixer: of what transfer `event` credits to its recipient,
    /// `tainted` carries `label` (a Tornado Cash withdrawal's share of tainted deposits).
    /// `hop` continues the count of the trace that reached the mixer.
    Received {
        event: EventNum,
        label: TaintLabel,
        tainted: U256,
        hop: u32,
    },
}

/// A source resolved to an address and the events during which it is permanently tainted.
#[derive(Clone, Debug)]
struct Window {
    addr: AddrId,
    label: TaintLabel,
    from: EventNum,
    until: Option<EventNum>,
    tx: Option<TxNum>,
    assets: Vec<AssetId>,
}

impl Window {
    fn covers(&self, e: EventNum) -> bool {
        e >= self.from && self.until.is_none_or(|u| e < u)
    }
}

/// A tainted balance being followed.
#[derive(Clone, Debug)]
struct Tracked {
    state: AccountState,
    hop: u32,
    since: EventNum,
    events: u64,
    /// One of a source's own balances (permanently tainted while a window covers it).
    source: bool,
}

/// Taint collected where it stopped.
#[derive(Clone, Debug, Default)]
struct Sink {
    by_label: Parts<U256>,
    tainted: U256,
    hop: u32,
    since: EventNum,
    /// The tracked balance when a cap stopped it.
    balance: Option<U256>,
}

/// A pass-through route while its transaction runs.
#[derive(Debug)]
struct RouteRun {
    route: Route,
    received: Vec<(Parcel, u32)>,
    ready: Option<(VecDeque<Parcel>, u32)>,
}

/// One transaction while it runs.
struct TxRun {
    events: Vec<EventView>,
    routes: Vec<RouteRun>,
    /// Per event: the route it pays into, and the route it is paid from.
    into: Vec<Option<usize>>,
    out_of: Vec<Option<usize>>,
    touched: BTreeSet<Pair>,
}

impl TxRun {
    fn new(events: Vec<EventView>, routes: Vec<Route>) -> Self {
        let n = events.len();
        let (mut into, mut out_of) = (vec![None; n], vec![None; n]);
        for (r, route) in routes.iter().enumerate() {
            route.inflows.iter().for_each(|i| into[*i] = Some(r));
            route.outflows.iter().for_each(|i| out_of[*i] = Some(r));
        }
        let routes = routes
            .into_iter()
            .map(|route| RouteRun {
                route,
                received: Vec::new(),
                ready: None,
            })
            .collect();
        TxRun {
            events,
            routes,
            into,
            out_of,
            touched: BTreeSet::new(),
        }
    }

    fn first_event(&self) -> EventNum {
        self.events.iter().map(|e| e.num).min().unwrap_or_default()
    }
}

struct Engine<'a, L> {
    ledger: &'a L,
    attrs: &'a Attributions,
    params: &'a AccountForwardParams,
    frontier: Frontier,
    tracked: FxHashMap<Pair, Tracked>,
    sinks: BTreeMap<(Pair, AccountStatus), Sink>,
    /// Balances that absorb taint for good (labelled stops, the hop limit, caps).
    absorbing: FxHashMap<Pair, AccountStatus>,
    windows: Vec<Window>,
    sent: BTreeMap<(usize, AssetId), U256>,
    contracts: Contracts<'a>,
    flows: Vec<AccountFlow>,
    events: u64,
    txs: u64,
    truncated: bool,
    /// Taint that [`AccountSource::Received`] puts on a transfer when the run reaches it.
    injections: BTreeMap<EventNum, (Parts<U256>, u32)>,
    /// What the received sources brought, reported as sources.
    received: Vec<SourceReport>,
}

/// Traces `sources` forward through `ledger`.
pub fn trace_forward<L: AccountLedger>(
    ledger: &L,
    attrs: &Attributions,
    sources: &[AccountSource],
    params: &AccountForwardParams,
) -> Result<AccountTrace, TraceError> {
    let mut e = Engine {
        ledger,
        attrs,
        params,
        frontier: Frontier::default(),
        tracked: FxHashMap::default(),
        sinks: BTreeMap::new(),
        absorbing: FxHashMap::default(),
        windows: Vec::new(),
        sent: BTreeMap::new(),
        contracts: Contracts::new(&params.pass_through, params.detect_pass_through),
        flows: Vec::new(),
        events: 0,
        txs: 0,
        truncated: false,
        injections: BTreeMap::new(),
        received: Vec::new(),
    };
    e.seed(sources)?;
    e.seed_received(sources)?;
    let horizon = e.run()?;
    e.finish(horizon)
}

impl<L: AccountLedger> Engine<'_, L> {
    fn window(&self, source: &AccountSource) -> Result<Window, TraceError> {
        match *source {
            AccountSource::Address { addr, label, from } => {
                if addr.is_none() {
                    return Err(TraceError::Invalid(
                        "the zero address cannot be a source".into(),
                    ));
                }
                let assets = self.ledger.assets_of(addr)?;
                let mut first: Option<EventNum> = None;
                for a in &assets {
                    if let Some(e) = self.ledger.history(addr, *a, EventNum(0), 1)?.first() {
                        first = Some(first.map_or(*e, |f| f.min(*e)));
                    }
                }
                let from = from.or(first).ok_or_else(|| {
                    TraceError::NotFound(format!("address {addr} has no indexed transfers"))
                })?;
                Ok(Window {
                    addr,
                    label,
                    from,
                    until: None,
                    tx: None,
                    assets,
                })
            }
            AccountSource::Tx { tx, label } => self.tx_window(tx, label),
            AccountSource::Received { .. } => Err(TraceError::Invalid(
                "a received source has no window".into(),
            )),
        }
    }

    /// A transaction source: its sender (who paid its gas, else who sent its value) is
    /// permanently tainted during the transaction, for the assets it sends in it.
    fn tx_window(&self, tx: TxNum, label: TaintLabel) -> Result<Window, TraceError> {
        let events = self.ledger.tx_events(tx)?;
        let pick = |f: fn(TransferKind) -> bool| {
            events
                .iter()
                .find(|e| f(e.transfer.kind))
                .map(|e| e.transfer.from)
        };
        let sender = pick(TransferKind::is_gas)
            .or_else(|| pick(|k| k == TransferKind::TxValue))
            .ok_or_else(|| {
                TraceError::Invalid(format!("transaction {tx} moves no value from its sender"))
            })?;
        let assets: BTreeSet<AssetId> = events
            .iter()
            .filter(|e| e.transfer.from == sender)
            .map(|e| e.transfer.asset)
            .collect();
        let nums = events.iter().map(|e| e.num);
        Ok(Window {
            addr: sender,
            label,
            from: nums.clone().min().unwrap_or_default(),
            until: nums.max().map(|e| EventNum(e.0.saturating_add(1))),
            tx: Some(tx),
            assets: assets.into_iter().collect(),
        })
    }

    /// Resolves the sources and starts tracking their balances, each from its earliest
    /// window (an address can be named by several transaction sources).
    fn seed(&mut self, sources: &[AccountSource]) -> Result<(), TraceError> {
        for s in sources {
            if !matches!(s, AccountSource::Received { .. }) {
                let w = self.window(s)?;
                self.windows.push(w);
            }
        }
        let mut starts: Vec<(EventNum, Pair)> = self
            .windows
            .iter()
            .flat_map(|w| w.assets.iter().map(|a| (w.from, (w.addr, *a))))
            .collect();
        starts.sort();
        for (from, pair) in starts {
            if self.tracked.contains_key(&pair) {
                continue;
            }
            let untracked = self.ledger.balance_before(pair.0, pair.1, from)?;
            let tracked = Tracked {
                state: AccountState::new(self.params.rules, untracked),
                hop: 0,
                since: from,
                events: 0,
                source: true,
            };
            self.tracked.insert(pair, tracked);
            self.frontier.follow(self.ledger, pair, from)?;
        }
        Ok(())
    }

    /// Received sources: the recipient is followed from the crediting event, where the taint
    /// is put on the transfer as it runs; a recipient where taint stops takes it at once.
    fn seed_received(&mut self, sources: &[AccountSource]) -> Result<(), TraceError> {
        let mut by_event: BTreeMap<EventNum, (Parts<U256>, u32)> = BTreeMap::new();
        for s in sources {
            if let AccountSource::Received {
                event,
                label,
                tainted,
                hop,
            } = *s
            {
                let entry = by_event.entry(event).or_insert((Parts::new(), hop));
                add_part(&mut entry.0, label, tainted);
                entry.1 = entry.1.min(hop);
            }
        }
        for (event, (parts, hop)) in by_event {
            let ev = self.ledger.event(event)?;
            let t = &ev.transfer;
            let parcel = Parcel::with_parts(self.params.rules.policy, t.amount, &parts);
            self.received
                .extend(
                    parcel
                        .by_label()
                        .into_iter()
                        .map(|(label, amount)| SourceReport {
                            addr: t.from,
                            label,
                            from: event,
                            until: Some(EventNum(event.0.saturating_add(1))),
                            tx: t.tx,
                            sent: vec![AssetAmount {
                                asset: t.asset,
                                amount,
                            }],
                        }),
                );
            let pair = (t.to, t.asset);
            if let Some(status) = self.stop_status(pair, &parcel, hop) {
                self.sink(pair, status, &parcel, hop, event);
                continue;
            }
            if !self.tracked.contains_key(&pair) {
                let untracked = self.ledger.balance_before(pair.0, pair.1, event)?;
                let tracked = Tracked {
                    state: AccountState::new(self.params.rules, untracked),
                    hop,
                    since: event,
                    events: 0,
                    source: false,
                };
                self.tracked.insert(pair, tracked);
                self.frontier.follow(self.ledger, pair, event)?;
            }
            self.injections.insert(event, (parts, hop));
        }
        Ok(())
    }

    /// The window that makes `addr` permanently tainted at event `e` (the first listed, if
    /// several overlap: the first report wins, spec §1.3).
    fn window_at(&self, addr: AddrId, e: EventNum) -> Option<(usize, &Window)> {
        self.windows
            .iter()
            .enumerate()
            .find(|(_, w)| w.addr == addr && w.covers(e))
    }

    /// Whether a window of `addr` is open at or after event `e`.
    fn source_open(&self, addr: AddrId, e: EventNum) -> bool {
        self.windows
            .iter()
            .any(|w| w.addr == addr && w.until.is_none_or(|u| u > e))
    }

    /// Runs transactions in order until the frontier is empty or a limit is reached; returns
    /// the horizon (the first event not looked at).
    fn run(&mut self) -> Result<EventNum, TraceError> {
        while let Some(num) = self.frontier.pop() {
            if self.events >= self.params.max_events {
                self.truncated = true;
                return Ok(num);
            }
            let first = self.ledger.event(num)?;
            let events = match first.transfer.tx {
                Some(tx) => self.ledger.tx_events(tx)?,
                None => vec![first],
            };
            if !events.iter().any(|e| e.num == num) {
                return Err(TraceError::Invalid(format!(
                    "the index is inconsistent: event {num} is not among its transaction's events"
                )));
            }
            if let Some(stop) = self.beyond_until(&events) {
                return Ok(stop);
            }
            self.run_tx(events)?;
        }
        let end = self.ledger.end();
        let until = self
            .params
            .until_event
            .map(|u| EventNum(u.0.saturating_add(1)));
        Ok(until.map_or(end, |u| u.max(self.frontier.done()).min(end)))
    }

    /// The first event of a transaction that lies past `until_*`, if it does.
    fn beyond_until(&self, events: &[EventView]) -> Option<EventNum> {
        let first = events.iter().map(|e| e.num).min()?;
        let height = events.first().map_or(0, |e| e.height);
        let late = self.params.until_event.is_some_and(|u| first > u)
            || self.params.until_height.is_some_and(|h| height > h);
        late.then_some(first)
    }

    fn run_tx(&mut self, mut events: Vec<EventView>) -> Result<(), TraceError> {
        let last = events.iter().map(|e| e.num.0).max().unwrap_or(0);
        let end = EventNum(last.saturating_add(1));
        if !self.params.gas_first {
            // Stable: value movements keep their order, then gas (burn before tip).
            events.sort_by_key(|e| e.transfer.kind.is_gas());
        }
        let routes = passthrough::routes(&events, |a| self.eligibility(a))?;
        let routes = routes
            .into_iter()
            .filter(|r| !self.absorbing.contains_key(&(r.addr, r.asset)))
            .collect();
        let mut run = TxRun::new(events, routes);
        for i in 0..run.events.len() {
            self.transfer(&mut run, i)?;
        }
        self.txs += 1;
        self.events += run.events.len() as u64;
        self.frontier.finish(end);
        self.settle(&run.touched)
    }

    /// Whether `addr` may forward value as a pass-through contract.
    fn eligibility(&mut self, addr: AddrId) -> Result<Eligibility, TraceError> {
        let stops = self
            .attrs
            .of_addr(addr)
            .is_some_and(|a| self.params.stop_at.stops(a));
        if stops || self.windows.iter().any(|w| w.addr == addr) {
            return Ok(Eligibility::No);
        }
        self.contracts.eligibility(self.ledger, addr)
    }

    /// One event: what leaves the sender, then where it goes.
    fn transfer(&mut self, run: &mut TxRun, i: usize) -> Result<(), TraceError> {
        let (mut parcel, mut hop) = self.send(run, i)?;
        if let Some((parts, h)) = self.injections.remove(&run.events[i].num) {
            let amount = run.events[i].transfer.amount;
            parcel = Parcel::with_parts(self.params.rules.policy, amount, &parts);
            hop = h;
        }
        match run.into[i] {
            Some(r) => run.routes[r].received.push((parcel.clone(), hop)),
            None => self.receive(run, i, &parcel, hop)?,
        }
        if parcel.is_tainted() && self.params.record_flows {
            let ev = &run.events[i];
            let t = &ev.transfer;
            self.flows.push(AccountFlow {
                event: ev.num,
                tx: t.tx,
                height: ev.height,
                kind: t.kind,
                from: t.from,
                to: t.to,
                asset: t.asset,
                amount: t.amount,
                tainted: parcel.tainted(),
                by_label: label_amounts(&parcel.by_label()),
                hop,
                pass_through: run.out_of[i].is_some(),
            });
        }
        Ok(())
    }

    /// What event `i` takes from its sender, and its hop count.
    fn send(&mut self, run: &mut TxRun, i: usize) -> Result<(Parcel, u32), TraceError> {
        if let Some(r) = run.out_of[i] {
            return self.route_out(run, r);
        }
        let (num, t) = (run.events[i].num, &run.events[i].transfer);
        let pair = (t.from, t.asset);
        let Some(tr) = self.tracked.get_mut(&pair) else {
            return Ok((Parcel::clean(t.amount), 0));
        };
        run.touched.insert(pair);
        tr.events += 1;
        let mut parcel = tr.state.debit(t.amount)?;
        let hop = tr.hop.saturating_add(1);
        if tr.source {
            if let Some((w, window)) = self.window_at(t.from, num) {
                let (p, created) = parcel.fully_tainted(self.params.rules.policy, window.label);
                parcel = p;
                let total = self.sent.entry((w, t.asset)).or_default();
                *total = total.saturating_add(created);
            }
        }
        Ok((parcel, hop))
    }

    /// The next outflow of route `r`, sharing the route's inflows out at its first outflow.
    fn route_out(&mut self, run: &mut TxRun, r: usize) -> Result<(Parcel, u32), TraceError> {
        if run.routes[r].ready.is_none() {
            self.allocate(run, r)?;
        }
        let (ready, hop) = run.routes[r]
            .ready
            .as_mut()
            .ok_or_else(|| TraceError::Invalid("a route was not allocated".into()))?;
        let parcel = ready.pop_front().ok_or_else(|| {
            TraceError::Invalid("a route paid out more often than planned".into())
        })?;
        Ok((parcel, *hop))
    }

    /// Shares a route's inflows over its outflows. A route adds no hop: value moves from its
    /// senders to its recipients in one logical step.
    fn allocate(&mut self, run: &mut TxRun, r: usize) -> Result<(), TraceError> {
        let first = run.first_event();
        let rr = &run.routes[r];
        let pair = (rr.route.addr, rr.route.asset);
        let (total_in, total_out) = (rr.route.total_in, rr.route.total_out);
        let mut inputs: Vec<Parcel> = rr.received.iter().map(|(p, _)| p.clone()).collect();
        let mut hop = rr
            .received
            .iter()
            .filter(|(p, _)| p.is_tainted())
            .map(|(_, h)| *h)
            .min();
        let mut outputs: Vec<U256> = rr
            .route
            .outflows
            .iter()
            .map(|i| run.events[*i].transfer.amount)
            .collect();
        let events = (rr.route.inflows.len() + rr.route.outflows.len()) as u64;
        if let Some(tr) = self.tracked.get_mut(&pair) {
            tr.events += events;
            run.touched.insert(pair);
        }
        if total_out > total_in {
            inputs.push(self.draw(pair, total_out - total_in, &mut hop)?);
        } else if total_in > total_out {
            outputs.push(total_in - total_out);
        }
        let mut parcels = passthrough::allocate(&inputs, &outputs, self.params.rules.policy)?;
        let hop = hop.unwrap_or(0);
        if total_in > total_out {
            if let Some(kept) = parcels.pop() {
                self.keep(run, pair, &kept, hop, first)?;
            }
        }
        run.routes[r].ready = Some((parcels.into(), hop));
        Ok(())
    }

    /// What a named pass-through contract paid out beyond its inflows comes from its own
    /// balance (its taint, if tracked, carries its hop).
    fn draw(
        &mut self,
        pair: Pair,
        amount: U256,
        hop: &mut Option<u32>,
    ) -> Result<Parcel, TraceError> {
        let Some(tr) = self.tracked.get_mut(&pair) else {
            return Ok(Parcel::clean(amount));
        };
        let p = tr.state.debit(amount)?;
        if p.is_tainted() {
            let own = tr.hop.saturating_add(1);
            *hop = Some(hop.map_or(own, |h| h.min(own)));
        }
        Ok(p)
    }

    /// What a named pass-through contract kept of its inflows goes to its own balance.
    fn keep(
        &mut self,
        run: &mut TxRun,
        pair: Pair,
        kept: &Parcel,
        hop: u32,
        tx_start: EventNum,
    ) -> Result<(), TraceError> {
        if self.tracked.contains_key(&pair) {
            self.credit(pair, kept, hop, tx_start);
            return Ok(());
        }
        if kept.is_tainted() {
            // Its indexed balance before the transaction: the route's own events are not in it.
            self.start(run, pair, kept, hop, tx_start, tx_start)?;
        }
        Ok(())
    }

    /// Credits what event `i` carries to its recipient.
    fn receive(
        &mut self,
        run: &mut TxRun,
        i: usize,
        parcel: &Parcel,
        hop: u32,
    ) -> Result<(), TraceError> {
        let (num, t) = (run.events[i].num, &run.events[i].transfer);
        let pair = (t.to, t.asset);
        let clean;
        let mut parcel = parcel;
        if t.kind == TransferKind::GasTip && !self.params.tip_to_miner && parcel.is_tainted() {
            // The tip's taint is a sink; the miner still receives the amount.
            self.sink(pair, AccountStatus::Fee, parcel, hop, num);
            clean = Parcel::clean(parcel.amount);
            parcel = &clean;
        }
        if self.tracked.contains_key(&pair) {
            run.touched.insert(pair);
            self.credit(pair, parcel, hop, num);
            return Ok(());
        }
        if !parcel.is_tainted() {
            return Ok(());
        }
        match self.stop_status(pair, parcel, hop) {
            Some(status) => {
                self.sink(pair, status, parcel, hop, num);
                Ok(())
            }
            None => self.start(run, pair, parcel, hop, num, num),
        }
    }

    /// Why taint arriving at an untracked `pair` stops there, if it does.
    fn stop_status(&mut self, pair: Pair, parcel: &Parcel, hop: u32) -> Option<AccountStatus> {
        if pair.0.is_none() {
            return Some(AccountStatus::Burnt);
        }
        if let Some(s) = self.absorbing.get(&pair) {
            return Some(*s);
        }
        let status = match self.attrs.of_addr(pair.0) {
            Some(a) if self.params.stop_at.stops(a) => Some(stop_category(a)),
            _ if hop >= self.params.max_hops => Some(AccountStatus::MaxHops),
            _ => None,
        };
        if let Some(s) = status {
            self.absorbing.insert(pair, s);
            return Some(s);
        }
        (parcel.tainted() < self.params.min_amount(pair.1)).then_some(AccountStatus::BelowMin)
    }

    /// Credits a tracked balance. One that would pass 2^256 (only a malformed token does
    /// that) stops being followed, visibly, rather than failing the whole trace.
    fn credit(&mut self, pair: Pair, parcel: &Parcel, hop: u32, at: EventNum) {
        let credited = match self.tracked.get_mut(&pair) {
            Some(tr) => {
                tr.events += 1;
                let ok = tr.state.credit(parcel).is_ok();
                if ok && parcel.is_tainted() {
                    tr.hop = tr.hop.min(hop);
                }
                ok
            }
            None => return,
        };
        if !credited {
            self.cap(pair, AccountStatus::Truncated);
            self.sink(pair, AccountStatus::Truncated, parcel, hop, at);
        }
    }

    fn sink(&mut self, pair: Pair, status: AccountStatus, parcel: &Parcel, hop: u32, at: EventNum) {
        let s = self.sinks.entry((pair, status)).or_insert_with(|| Sink {
            hop,
            since: at,
            ..Sink::default()
        });
        s.hop = s.hop.min(hop);
        s.tainted = s.tainted.saturating_add(parcel.tainted());
        for (l, a) in parcel.by_label() {
            add_part(&mut s.by_label, l, a);
        }
    }

    /// Starts tracking `pair` with its indexed balance just before `balance_at` (clean) plus
    /// `parcel`.
    fn start(
        &mut self,
        run: &mut TxRun,
        pair: Pair,
        parcel: &Parcel,
        hop: u32,
        balance_at: EventNum,
        since: EventNum,
    ) -> Result<(), TraceError> {
        let untracked = self.ledger.balance_before(pair.0, pair.1, balance_at)?;
        let mut state = AccountState::new(self.params.rules, untracked);
        if state.credit(parcel).is_err() {
            self.truncated = true;
            self.absorbing.insert(pair, AccountStatus::Truncated);
            self.sink(pair, AccountStatus::Truncated, parcel, hop, since);
            return Ok(());
        }
        let tracked = Tracked {
            state,
            hop,
            since,
            events: 1,
            source: false,
        };
        self.tracked.insert(pair, tracked);
        run.touched.insert(pair);
        Ok(())
    }

    /// After a transaction: caps, dropping balances left clean, queueing the next events.
    fn settle(&mut self, touched: &BTreeSet<Pair>) -> Result<(), TraceError> {
        let done = self.frontier.done();
        for pair in touched {
            let Some(tr) = self.tracked.get(pair) else {
                continue;
            };
            let over_cap = tr.events > self.params.max_events_per_account;
            let source_active = tr.source && self.source_open(pair.0, done);
            let tainted = tr.state.taint().is_some();
            if over_cap {
                self.cap(*pair, AccountStatus::Truncated);
            } else if source_active || tainted {
                self.frontier.follow(self.ledger, *pair, done)?;
            } else {
                self.tracked.remove(pair);
                self.frontier.drop_pair(*pair);
            }
        }
        Ok(())
    }

    /// Stops following a tracked balance: its taint becomes a holding with `status`.
    fn cap(&mut self, pair: Pair, status: AccountStatus) {
        let Some(tr) = self.tracked.remove(&pair) else {
            return;
        };
        self.frontier.drop_pair(pair);
        self.absorbing.insert(pair, status);
        self.truncated = true;
        let s = self.sinks.entry((pair, status)).or_insert_with(|| Sink {
            hop: tr.hop,
            since: tr.since,
            ..Sink::default()
        });
        s.tainted = s.tainted.saturating_add(tr.state.tainted());
        s.balance = Some(tr.state.balance());
        for (l, a) in tr.state.by_label() {
            add_part(&mut s.by_label, l, a);
        }
    }

    fn finish(mut self, horizon: EventNum) -> Result<AccountTrace, TraceError> {
        if self.truncated && self.events >= self.params.max_events {
            let mut pairs: Vec<Pair> = self.tracked.keys().copied().collect();
            pairs.sort();
            for p in pairs {
                if self
                    .tracked
                    .get(&p)
                    .is_some_and(|t| t.state.taint().is_some())
                {
                    self.cap(p, AccountStatus::Truncated);
                }
            }
        }
        let mut holdings = self.held();
        for ((pair, status), s) in std::mem::take(&mut self.sinks) {
            holdings.push(self.sink_holding(pair, status, s, horizon)?);
        }
        holdings.sort_by_key(|h| (h.asset, h.addr, h.status));
        let sources = self.source_reports();
        let lossless = self.params.rules.policy.is_lossless();
        let (summary, conserved) = summarize(&sources, &holdings, lossless);
        Ok(AccountTrace {
            rules: self.params.rules,
            sources,
            holdings,
            flows: self.flows,
            summary,
            conserved,
            truncated: self.truncated,
            horizon,
            events_processed: self.events,
            txs_processed: self.txs,
        })
    }

    /// Holdings of the balances still tracked.
    fn held(&self) -> Vec<AccountHolding> {
        let ordered = matches!(
            self.params.rules.policy,
            AccountPolicy::Fifo | AccountPolicy::Lifo
        );
        self.tracked
            .iter()
            .filter(|(_, tr)| tr.state.taint().is_some())
            .map(|(pair, tr)| AccountHolding {
                addr: pair.0,
                asset: pair.1,
                status: AccountStatus::Held,
                balance: tr.state.balance(),
                tainted: tr.state.tainted(),
                by_label: label_amounts(&tr.state.by_label()),
                segments: if ordered {
                    tr.state.segments().into_iter().map(Into::into).collect()
                } else {
                    Vec::new()
                },
                hops: tr.hop,
                since: tr.since,
                attrs: self.attrs_of(pair.0),
            })
            .collect()
    }

    fn sink_holding(
        &self,
        pair: Pair,
        status: AccountStatus,
        s: Sink,
        horizon: EventNum,
    ) -> Result<AccountHolding, TraceError> {
        let balance = match s.balance {
            Some(b) => b,
            None if pair.0.is_none() => U256::ZERO,
            None => self.ledger.balance_before(pair.0, pair.1, horizon)?,
        };
        Ok(AccountHolding {
            addr: pair.0,
            asset: pair.1,
            status,
            balance,
            tainted: s.tainted,
            by_label: label_amounts(&s.by_label),
            segments: Vec::new(),
            hops: s.hop,
            since: s.since,
            attrs: self.attrs_of(pair.0),
        })
    }

    fn attrs_of(&self, addr: AddrId) -> Vec<crate::attribution::Attr> {
        self.attrs
            .of_addr(addr)
            .map(|a| a.to_vec())
            .unwrap_or_default()
    }

    fn source_reports(&self) -> Vec<SourceReport> {
        let mut reports: Vec<SourceReport> = self
            .windows
            .iter()
            .enumerate()
            .map(|(i, w)| SourceReport {
                addr: w.addr,
                label: w.label,
                from: w.from,
                until: w.until,
                tx: w.tx,
                sent: self
                    .sent
                    .range((i, AssetId(0))..=(i, AssetId(u64::MAX)))
                    .map(|((_, asset), amount)| AssetAmount {
                        asset: *asset,
                        amount: *amount,
                    })
                    .collect(),
            })
            .collect();
        reports.extend(self.received.iter().cloned());
        reports
    }
}

/// A stop at a mixer (or CoinJoin coordinator) is reported as such.
fn stop_category(attrs: &[crate::attribution::Attr]) -> AccountStatus {
    let mixing = attrs
        .iter()
        .any(|a| matches!(a.category, Category::Mixer | Category::Coinjoin));
    if mixing {
        AccountStatus::Mixer
    } else {
        AccountStatus::StoppedAtLabel
    }
}
