//! `trace`, `screen` and `batch` on Ethereum: the account-model engine over the index, with
//! 0x addresses and transaction hashes in and out, amounts per asset.

use std::collections::BTreeMap;

use chaintrace_model::eth::{format_units, Address, AssetId, TransferKind, B256, U256};
use chaintrace_model::{AddrId, TxNum};
use chaintrace_store::labels::LabelStore;
use chaintrace_store::tables::LabelTarget;
use chaintrace_store::Store;
use chaintrace_trace::account::tornado::{
    trace_through_tornado, PoolEvents, ThroughTornado, TornadoParams,
};
use chaintrace_trace::account::{
    screen_account, AccountExposure, AccountForwardParams, AccountPolicy, AccountRules,
    AccountScreenParams, AccountSource, AccountTrace, ScreenTarget,
};
use chaintrace_trace::attribution::{Attributions, StopSet};
use chaintrace_trace::eth::{
    load_eth_attributions, load_pool_events, parse_address, tornado_pools, EthLedger,
};
use chaintrace_trace::report::Names;
use chaintrace_trace::TaintLabel;
use serde_json::{json, Map, Value};

use crate::exit::usage;
use crate::trace_args::PolicyArg;

/// An Ethereum index opened for tracing, with its labels in memory.
pub struct EthEnv<'s> {
    pub ledger: EthLedger<'s>,
    pub attrs: Attributions,
    store: &'s Store,
}

impl<'s> EthEnv<'s> {
    pub fn new(store: &'s Store) -> anyhow::Result<Self> {
        let ledger = EthLedger::new(store)?;
        if ledger.state().tip.is_none() {
            return Err(crate::exit::data("the index holds no Ethereum blocks yet"));
        }
        Ok(EthEnv {
            attrs: load_eth_attributions(store)?,
            ledger,
            store,
        })
    }

    fn header(&self, direction: &str, policy: &str) -> Map<String, Value> {
        let state = self.ledger.state();
        let (height, hash) = state.tip.unwrap_or_default();
        let mut m = Map::new();
        m.insert("chain".into(), json!("eth"));
        m.insert("chain_id".into(), json!(state.chain_id));
        m.insert("direction".into(), json!(direction));
        m.insert("policy".into(), json!(policy));
        m.insert(
            "tip".into(),
            json!({"height": height, "hash": B256::from(hash).to_string()}),
        );
        m
    }

    /// Resolves `--from` values: `[CASE=]0xADDRESS`, `[CASE=]0xTXHASH` or `[CASE=]label:NAME`.
    pub fn sources(&self, refs: &[String]) -> anyhow::Result<(Vec<AccountSource>, Vec<String>)> {
        let mut cases: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for r in refs {
            let (case, reference) = match r.split_once('=') {
                Some((c, rest)) if !c.contains(':') => (c.trim().to_string(), rest.trim()),
                _ => ("stolen".to_string(), r.trim()),
            };
            let at = cases.iter().position(|c| *c == case).unwrap_or_else(|| {
                cases.push(case);
                cases.len() - 1
            });
            let label = TaintLabel(u16::try_from(at).map_err(|_| usage("too many source cases"))?);
            out.extend(self.resolve(reference, label)?);
        }
        Ok((out, cases))
    }

    fn resolve(&self, reference: &str, label: TaintLabel) -> anyhow::Result<Vec<AccountSource>> {
        if let Some(name) = reference.strip_prefix("label:") {
            return self.labelled(name, label);
        }
        if reference.len() == 66 {
            let tx = self.ledger.resolve_tx(reference)?;
            return Ok(vec![AccountSource::Tx { tx, label }]);
        }
        let addr = self.ledger.resolve_address(reference)?;
        Ok(vec![AccountSource::Address {
            addr,
            label,
            from: None,
        }])
    }

    /// Every indexed Ethereum address carrying the label `name`.
    fn labelled(&self, name: &str, label: TaintLabel) -> anyhow::Result<Vec<AccountSource>> {
        let labels = LabelStore::new(self.store);
        let mut out = Vec::new();
        let mut found = false;
        for item in labels.all() {
            let (id, l) = item?;
            if l.name != name {
                continue;
            }
            found = true;
            for target in labels.targets(id) {
                if let LabelTarget::EthAddr(a) = target? {
                    if let Some(addr) = self.ledger.index().addr_id(&Address::from(a.0))? {
                        out.push(AccountSource::Address {
                            addr,
                            label,
                            from: None,
                        });
                    }
                }
            }
        }
        if !found {
            return Err(crate::exit::data(format!("no label is named {name:?}")));
        }
        if out.is_empty() {
            return Err(crate::exit::data(format!(
                "label {name:?} names no Ethereum address of this index"
            )));
        }
        Ok(out)
    }
}

/// The account policy of `--policy`.
pub fn account_policy(p: PolicyArg) -> anyhow::Result<AccountPolicy> {
    Ok(match p {
        PolicyArg::Poison => AccountPolicy::Poison,
        PolicyArg::Haircut => AccountPolicy::Haircut,
        PolicyArg::Fifo => AccountPolicy::Fifo,
        PolicyArg::Lifo => AccountPolicy::Lifo,
        PolicyArg::Seniority => AccountPolicy::Seniority,
        PolicyArg::ReversedSeniority => AccountPolicy::ReversedSeniority,
        PolicyArg::Tiho | PolicyArg::Ciso => {
            return Err(usage(
                "tiho and ciso order a transaction's inputs and outputs, which accounts do not \
                 have; on Ethereum use poison, haircut, fifo, lifo, seniority or reversed-seniority",
            ))
        }
    })
}

/// Parses an amount in base units, or ether with an `eth` / `gwei` suffix (`0.5eth`).
pub fn parse_wei(text: &str) -> anyhow::Result<U256> {
    let t = text.trim().to_ascii_lowercase();
    let bad = || {
        usage(format!(
            "{text:?} is not an amount (wei, or with an `eth` or `gwei` suffix)"
        ))
    };
    let (number, decimals) = if let Some(n) = t.strip_suffix("gwei") {
        (n.trim(), 9)
    } else if let Some(n) = t.strip_suffix("eth") {
        (n.trim(), 18)
    } else {
        (t.as_str(), 0)
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if frac.len() > decimals || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let digits = format!("{whole}{frac:0<decimals$}");
    let digits = if digits.is_empty() { "0" } else { &digits };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    U256::from_str_radix(digits, 10).map_err(|_| bad())
}

/// Names for reports: checksummed addresses and transaction hashes, read in batches.
pub struct EthNames {
    addrs: BTreeMap<AddrId, String>,
    txs: BTreeMap<TxNum, String>,
    cases: Vec<String>,
}

impl EthNames {
    pub fn new(
        ledger: &EthLedger<'_>,
        mut addrs: Vec<AddrId>,
        mut txs: Vec<TxNum>,
        cases: Vec<String>,
    ) -> anyhow::Result<Self> {
        addrs.sort_unstable();
        addrs.dedup();
        txs.sort_unstable();
        txs.dedup();
        let idx = ledger.index();
        let names = idx.addresses(&addrs)?;
        let hashes = idx.tx_hashes(&txs)?;
        Ok(EthNames {
            addrs: addrs
                .into_iter()
                .zip(names)
                .map(|(id, a)| (id, a.to_checksum(None)))
                .collect(),
            txs: txs
                .into_iter()
                .zip(hashes)
                .map(|(t, h)| (t, B256::from(h).to_string()))
                .collect(),
            cases,
        })
    }

    fn addr(&self, a: AddrId) -> Value {
        match self.addrs.get(&a) {
            Some(s) if !a.is_none() => Value::String(s.clone()),
            _ => Value::Null,
        }
    }

    fn tx_hash(&self, t: Option<TxNum>) -> Value {
        t.and_then(|t| self.txs.get(&t))
            .map_or(Value::Null, |h| Value::String(h.clone()))
    }

    /// `ETH`, or the token contract's address.
    fn asset(&self, asset: AssetId) -> Value {
        match asset.contract() {
            None => json!("ETH"),
            Some(c) => self.addr(c),
        }
    }
}

impl Names for EthNames {
    fn txid(&self, tx: TxNum) -> String {
        self.txs
            .get(&tx)
            .cloned()
            .unwrap_or_else(|| format!("#{}", tx.0))
    }

    fn address(&self, addr: AddrId) -> Option<String> {
        self.addrs.get(&addr).filter(|_| !addr.is_none()).cloned()
    }

    fn label(&self, label: TaintLabel) -> String {
        self.cases
            .get(label.0 as usize)
            .cloned()
            .unwrap_or_else(|| format!("label{}", label.0))
    }
}

/// Every address and transaction a forward result names.
pub(super) fn ids_of(trace: &AccountTrace) -> (Vec<AddrId>, Vec<TxNum>) {
    let mut addrs = Vec::new();
    let mut txs = Vec::new();
    for s in &trace.sources {
        addrs.push(s.addr);
        txs.extend(s.tx);
        addrs.extend(s.sent.iter().filter_map(|a| a.asset.contract()));
    }
    for h in &trace.holdings {
        addrs.push(h.addr);
        addrs.extend(h.asset.contract());
    }
    for f in &trace.flows {
        addrs.extend([f.from, f.to]);
        addrs.extend(f.asset.contract());
        txs.extend(f.tx);
    }
    for s in &trace.summary {
        addrs.extend(s.asset.contract());
    }
    (addrs, txs)
}

fn amount(v: U256) -> Value {
    Value::String(v.to_string())
}

fn by_label(names: &EthNames, parts: &[chaintrace_trace::account::result::LabelAmount]) -> Value {
    Value::Object(
        parts
            .iter()
            .map(|p| (names.label(p.label), amount(p.amount)))
            .collect(),
    )
}

/// A forward trace from `--from`, as the JSON document of the CLI contract.
/// With `tornado.mode` other than stop, taint that entered a Tornado Cash pool is followed
/// out of it (`through_tornado`).
pub fn forward_json(
    env: &EthEnv<'_>,
    refs: &[String],
    params: &AccountForwardParams,
    tornado: &TornadoParams,
) -> anyhow::Result<Value> {
    let (sources, cases) = env.sources(refs)?;
    let events = match tornado.mode {
        ThroughTornado::Stop => PoolEvents::default(),
        _ => load_pool_events(&env.ledger, tornado_pools(&env.ledger, &env.attrs)?)?,
    };
    let (trace, crossing) =
        trace_through_tornado(&env.ledger, &env.attrs, &sources, params, &events, tornado)?;
    let (mut addrs, mut txs) = ids_of(&trace);
    super::eth_tornado::ids(&crossing, &events, &mut addrs, &mut txs);
    let names = EthNames::new(&env.ledger, addrs, txs, cases)?;
    let mut m = env.header("forward", params.rules.policy.name());
    m.insert("params".into(), serde_json::to_value(params)?);
    m.insert("sources".into(), sources_json(&names, &trace));
    m.insert("holdings".into(), holdings_json(&names, &trace));
    m.insert("flows".into(), flows_json(&names, &trace));
    m.insert("summary".into(), summary_json(&names, &trace));
    if tornado.mode != ThroughTornado::Stop {
        let crossed = super::eth_tornado::json(&names, &events, &crossing);
        m.insert("through_tornado".into(), crossed);
    }
    Ok(Value::Object(m))
}

pub(super) fn sources_json(names: &EthNames, t: &AccountTrace) -> Value {
    Value::Array(
        t.sources
            .iter()
            .map(|s| {
                json!({
                    "ref": names.tx_hash(s.tx).as_str().map_or(names.addr(s.addr), |h| json!(h)),
                    "address": names.addr(s.addr),
                    "case": names.label(s.label),
                    "tx": names.tx_hash(s.tx),
                    "from_event": s.from.0,
                    "sent": s.sent.iter().map(|a| json!({"asset": names.asset(a.asset), "amount": amount(a.amount)})).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

pub(super) fn holdings_json(names: &EthNames, t: &AccountTrace) -> Value {
    Value::Array(
        t.holdings
            .iter()
            .map(|h| {
                json!({
                    "ref": names.addr(h.addr),
                    "address": names.addr(h.addr),
                    "asset": names.asset(h.asset),
                    "amount": amount(h.balance),
                    "tainted": amount(h.tainted),
                    "by_label": by_label(names, &h.by_label),
                    "segments": h.segments,
                    "hops": h.hops,
                    "since_event": h.since.0,
                    "status": h.status,
                    "labels": h.attrs,
                })
            })
            .collect(),
    )
}

pub(super) fn flows_json(names: &EthNames, t: &AccountTrace) -> Value {
    Value::Array(
        t.flows
            .iter()
            .map(|f| {
                json!({
                    "event": f.event.0,
                    "tx": names.tx_hash(f.tx),
                    "height": f.height,
                    "kind": f.kind,
                    "from": names.addr(f.from),
                    "to": names.addr(f.to),
                    "asset": names.asset(f.asset),
                    "amount": amount(f.amount),
                    "tainted": amount(f.tainted),
                    "by_label": by_label(names, &f.by_label),
                    "hop": f.hop,
                    "pass_through": f.pass_through,
                })
            })
            .collect(),
    )
}

pub(super) fn summary_json(names: &EthNames, t: &AccountTrace) -> Value {
    let assets: Vec<Value> = t
        .summary
        .iter()
        .map(|s| {
            json!({
                "asset": names.asset(s.asset),
                "source": amount(s.totals.source),
                "holdings": amount(s.totals.holdings),
                "burnt": amount(s.totals.burnt),
                "fees": amount(s.totals.fees),
                "dust": amount(s.totals.dust),
                "by_status": s.by_status.iter().map(|b| (serde_json::to_value(b.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(), amount(b.amount))).collect::<Map<_, _>>(),
                "by_label": s.by_label.iter().map(|l| (names.label(l.label), json!({"source": amount(l.totals.source), "holdings": amount(l.totals.holdings), "burnt": amount(l.totals.burnt), "fees": amount(l.totals.fees), "dust": amount(l.totals.dust)}))).collect::<Map<_, _>>(),
                "conserved": s.conserved,
            })
        })
        .collect();
    json!({
        "assets": assets,
        "conserved": t.conserved,
        "truncated": t.truncated,
        "events": t.events_processed,
        "txs": t.txs_processed,
        "max_hop": t.holdings.iter().map(|h| h.hops).max().unwrap_or(0),
    })
}

/// Screens a deposit (`0xTXHASH`: its first value transfer) or an address (its balance of
/// every asset), as the Bitcoin screen's JSON per asset plus the overall risk.
pub fn screen_json(
    env: &EthEnv<'_>,
    reference: &str,
    params: &AccountScreenParams,
) -> anyhow::Result<Value> {
    let targets = screen_targets(env, reference)?;
    let mut results = Vec::new();
    for t in targets {
        results.push(screen_account(&env.ledger, &env.attrs, t, params)?);
    }
    let mut addrs: Vec<AddrId> = results
        .iter()
        .flat_map(|r| r.origins.iter().filter_map(|o| o.addr))
        .collect();
    addrs.extend(results.iter().filter_map(|r| r.asset.contract()));
    let names = EthNames::new(&env.ledger, addrs, Vec::new(), Vec::new())?;
    let risk = results.iter().map(|r| r.risk).max();
    let mut m = env.header("backward", "haircut");
    m.insert(
        "params".into(),
        json!({"max_hops": params.max_hops, "stop_at": format!("{:?}", params.stop_at), "severity": params.severity}),
    );
    m.insert("sources".into(), json!([reference]));
    m.insert("risk".into(), json!(risk));
    m.insert(
        "assets".into(),
        Value::Array(results.iter().map(|r| asset_exposure(&names, r)).collect()),
    );
    Ok(Value::Object(m))
}

fn asset_exposure(names: &EthNames, r: &AccountExposure) -> Value {
    let mut m = r.to_json(names);
    m.insert("asset".into(), names.asset(r.asset));
    Value::Object(m)
}

fn screen_targets(env: &EthEnv<'_>, reference: &str) -> anyhow::Result<Vec<ScreenTarget>> {
    let r = reference.trim();
    if r.len() == 66 {
        let tx = env.ledger.resolve_tx(r)?;
        let events = chaintrace_trace::account::AccountLedger::tx_events(&env.ledger, tx)?;
        let deposit = events
            .iter()
            .find(|e| !e.transfer.kind.is_gas() && !e.transfer.amount.is_zero())
            .ok_or_else(|| crate::exit::data(format!("transaction {r} moved no value")))?;
        return Ok(vec![ScreenTarget::Inflow(deposit.num)]);
    }
    parse_address(r)?;
    let addr = env.ledger.resolve_address(r)?;
    let assets = chaintrace_trace::account::AccountLedger::assets_of(&env.ledger, addr)?;
    Ok(assets
        .into_iter()
        .map(|asset| ScreenTarget::Balance {
            addr,
            asset,
            at: None,
        })
        .collect())
}

/// Forward parameters from the shared trace flags.
pub fn forward_params(
    policy: PolicyArg,
    max_hops: Option<u32>,
    min_amount: &str,
    stop_at: StopSet,
) -> anyhow::Result<AccountForwardParams> {
    let mut p = AccountForwardParams::new(AccountRules::new(account_policy(policy)?));
    p.max_hops = max_hops.unwrap_or(100);
    p.min_amount = parse_wei(min_amount)?;
    p.stop_at = stop_at;
    Ok(p)
}

/// Readable amount: ether with its decimals for ETH, base units with the token otherwise.
pub fn show_amount(asset: &Value, v: &Value) -> String {
    let n = v
        .as_str()
        .and_then(|s| U256::from_str_radix(s, 10).ok())
        .unwrap_or_default();
    match asset.as_str() {
        Some("ETH") => format!("{} ETH", format_units(n, 18)),
        Some(token) => format!("{n} units of {}", short(token)),
        None => n.to_string(),
    }
}

fn short(addr: &str) -> String {
    if addr.len() > 12 {
        format!("{}…{}", &addr[..6], &addr[addr.len() - 4..])
    } else {
        addr.to_string()
    }
}

/// Labels of a holding, for tables.
fn label_names(h: &Value) -> String {
    h["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["name"].as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The readable summary of a forward trace: per asset, where the money is now, which
/// services it reached, and the largest holdings.
pub fn print_forward_table(r: &Value) {
    println!(
        "forward trace on Ethereum (chain id {}), {} policy, index tip {} {}",
        r["chain_id"],
        r["policy"].as_str().unwrap_or_default(),
        r["tip"]["height"],
        r["tip"]["hash"].as_str().unwrap_or_default()
    );
    let s = &r["summary"];
    println!(
        "{} transfers in {} transactions traced, up to {} hops\n",
        s["events"], s["txs"], s["max_hop"]
    );
    for a in s["assets"].as_array().into_iter().flatten() {
        print_asset(r, a);
    }
    match s["conserved"].as_bool() {
        Some(true) => println!(
            "totals reconcile: source = holdings + burnt + fees + dust, per asset and label"
        ),
        Some(false) => println!("WARNING: totals do not reconcile"),
        None => println!("poison is an upper bound: every touched balance counts in full"),
    }
    if s["truncated"] == true {
        println!("some accounts were cut by a cap (see holdings with status `truncated`)");
    }
    if r.get("through_tornado").is_some() {
        println!();
        super::eth_tornado::print(r);
    }
}

pub(super) fn print_asset(r: &Value, a: &Value) {
    let asset = &a["asset"];
    println!("{}", asset.as_str().unwrap_or_default());
    let mut rows = vec![("stolen (source)", show_amount(asset, &a["source"]))];
    let statuses: Vec<(String, String)> = a["by_status"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), show_amount(asset, v)))
        .collect();
    rows.extend(statuses.iter().map(|(k, v)| (k.as_str(), v.clone())));
    crate::render::key_values(&rows);
    let mut holdings: Vec<&Value> = r["holdings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["asset"] == *asset && h["tainted"].as_str() != Some("0"))
        .collect();
    holdings.sort_by_key(|h| {
        std::cmp::Reverse(
            h["tainted"]
                .as_str()
                .and_then(|s| U256::from_str_radix(s, 10).ok())
                .unwrap_or_default(),
        )
    });
    println!("  where it is now (largest first)");
    for h in holdings.iter().take(15) {
        println!(
            "    {:<44} {:>30}  {:<16} hop {:<3} {}",
            h["address"].as_str().unwrap_or("(burnt)"),
            show_amount(asset, &h["tainted"]),
            h["status"].as_str().unwrap_or_default(),
            h["hops"],
            label_names(h)
        );
    }
    if holdings.len() > 15 {
        println!("    … {} more (see --format json)", holdings.len() - 15);
    }
    println!();
}

/// Holdings as CSV rows.
pub fn print_forward_csv(r: &Value) {
    super::trace::print_holdings_csv(
        r,
        &[
            "address", "asset", "amount", "tainted", "hops", "status", "label", "category",
        ],
    );
}

/// The tainted transfers as a Graphviz digraph: accounts as nodes, one edge per transfer.
pub fn print_forward_dot(r: &Value) {
    println!("digraph taint {{\n  rankdir=LR;\n  node [shape=box, fontname=monospace];");
    for h in r["holdings"].as_array().into_iter().flatten() {
        if let Some(a) = h["address"].as_str() {
            let names = label_names(h);
            let note = if names.is_empty() {
                String::new()
            } else {
                format!("\\n{names}")
            };
            println!(
                "  \"{a}\" [label=\"{}{note}\\n{}\"];",
                short(a),
                h["status"].as_str().unwrap_or_default()
            );
        }
    }
    for f in r["flows"].as_array().into_iter().flatten() {
        let from = f["from"].as_str().unwrap_or("mint");
        let to = f["to"].as_str().unwrap_or("burn");
        let kind = f["kind"].as_str().unwrap_or_default();
        if kind == TransferKind::GasBurn.as_str() {
            continue;
        }
        println!(
            "  \"{from}\" -> \"{to}\" [label=\"{}\\n{kind}, hop {}\"];",
            show_amount(&f["asset"], &f["tainted"]),
            f["hop"]
        );
    }
    println!("}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_in_wei_gwei_and_eth() {
        assert_eq!(parse_wei("12").unwrap(), U256::from(12u64));
        assert_eq!(
            parse_wei("1.5eth").unwrap(),
            U256::from(1_500_000_000_000_000_000u64)
        );
        assert_eq!(parse_wei("2 gwei").unwrap(), U256::from(2_000_000_000u64));
        assert!(parse_wei("0.0000000000000000001eth").is_err());
        assert!(parse_wei("abc").is_err());
        assert!(parse_wei("-1").is_err());
    }
}
