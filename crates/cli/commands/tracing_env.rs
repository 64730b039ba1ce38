//! What `trace`, `screen` and `batch` share: opening the index for tracing, resolving sources,
//! turning flags into engine parameters, and producing the JSON results.

use std::cell::RefCell;
use std::path::Path;

use chaintrace_model::{AddrId, Category, TxNum};
use chaintrace_store::btc::display_hash;
use chaintrace_store::{OpenMode, Store};
use chaintrace_trace::attribution::{Attributions, StopSet};
use chaintrace_trace::backward::{screen, BackwardPolicy, ScreenParams};
use chaintrace_trace::btc::{load_attributions, BtcLedger};
use chaintrace_trace::forward::{trace_forward, ForwardParams, Source, Strategy};
use chaintrace_trace::ledger::OutRef;
use chaintrace_trace::policy::{FeeMode, Policy, Rules};
use chaintrace_trace::report::{exposure_json, forward_json, Names};
use chaintrace_trace::TaintLabel;
use rustc_hash::FxHashMap;
use serde_json::{json, Value};

use crate::exit::usage;
use crate::trace_args::{FeeModeArg, PolicyArg, StrategyArg};

/// An index opened for tracing, with its labels in memory.
pub struct Env<'s> {
    pub ledger: BtcLedger<'s>,
    pub attrs: Attributions,
    pub tip: (u32, [u8; 32]),
}

pub fn open(db: &Path) -> anyhow::Result<Store> {
    Ok(Store::open(db, OpenMode::ReadOnly)?)
}

impl<'s> Env<'s> {
    pub fn new(store: &'s Store) -> anyhow::Result<Self> {
        let ledger = BtcLedger::new(store)?;
        let tip = ledger
            .index()
            .state()?
            .and_then(|s| s.tip)
            .ok_or_else(|| crate::exit::data("the index holds no blocks yet"))?;
        let attrs = load_attributions(store)?;
        Ok(Env { ledger, attrs, tip })
    }

    fn header(&self, direction: &str, policy: &str) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("chain".into(), json!("btc"));
        m.insert("network".into(), json!(self.ledger.network().as_str()));
        m.insert("direction".into(), json!(direction));
        m.insert("policy".into(), json!(policy));
        m.insert(
            "tip".into(),
            json!({"height": self.tip.0, "hash": display_hash(&self.tip.1)}),
        );
        m
    }
}

/// Names for reports: txids and addresses from the index, taint labels from the cases.
pub struct BtcNames<'a> {
    ledger: &'a BtcLedger<'a>,
    labels: Vec<String>,
    txids: RefCell<FxHashMap<TxNum, String>>,
}

impl<'a> BtcNames<'a> {
    pub fn new(ledger: &'a BtcLedger<'a>, labels: Vec<String>) -> Self {
        BtcNames {
            ledger,
            labels,
            txids: RefCell::default(),
        }
    }
}

impl Names for BtcNames<'_> {
    fn txid(&self, tx: TxNum) -> String {
        self.txids
            .borrow_mut()
            .entry(tx)
            .or_insert_with(|| {
                self.ledger
                    .txid(tx)
                    .map(|t| display_hash(&t))
                    .unwrap_or_else(|_| format!("#{}", tx.0))
            })
            .clone()
    }

    fn address(&self, addr: AddrId) -> Option<String> {
        if addr.is_none() {
            return None;
        }
        let key = self.ledger.index().addr_key(addr).ok().flatten()?;
        Some(key.to_address_string(self.ledger.network()))
    }

    fn label(&self, label: TaintLabel) -> String {
        self.labels
            .get(label.0 as usize)
            .cloned()
            .unwrap_or_else(|| format!("label{}", label.0))
    }
}

/// Parses `12345` (sats) or `0.5btc`.
pub fn parse_amount(text: &str) -> anyhow::Result<u64> {
    let t = text.trim().to_ascii_lowercase();
    let bad = || {
        usage(format!(
            "{text:?} is not an amount (satoshis, or BTC with a `btc` suffix)"
        ))
    };
    if let Some(btc) = t.strip_suffix("btc") {
        let (whole, frac) = btc.trim().split_once('.').unwrap_or((btc.trim(), ""));
        if frac.len() > 8 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let frac: u64 = format!("{frac:0<8}").parse().map_err(|_| bad())?;
        return whole
            .checked_mul(100_000_000)
            .and_then(|w| w.checked_add(frac))
            .ok_or_else(bad);
    }
    t.parse().map_err(|_| bad())
}

/// `--stop-at`: `services`, `any`, `none`, or a comma list of categories.
pub fn parse_stop_at(text: Option<&str>, default: StopSet) -> StopSet {
    match text.map(str::trim) {
        None => default,
        Some("services") => StopSet::Services,
        Some("any") => StopSet::AnyLabel,
        Some("none") | Some("") => StopSet::Nothing,
        Some(list) => StopSet::Only(list.split(',').map(Category::parse).collect()),
    }
}

pub fn policy(p: PolicyArg) -> Policy {
    match p {
        PolicyArg::Poison => Policy::Poison,
        PolicyArg::Haircut => Policy::Haircut,
        PolicyArg::Fifo => Policy::FIFO,
        PolicyArg::Lifo => Policy::LIFO,
        PolicyArg::Tiho => Policy::TIHO,
        PolicyArg::Ciso => Policy::CISO,
    }
}

pub fn backward_policy(p: PolicyArg) -> anyhow::Result<BackwardPolicy> {
    match p {
        PolicyArg::Haircut => Ok(BackwardPolicy::Haircut),
        PolicyArg::Fifo => Ok(BackwardPolicy::Fifo),
        other => Err(usage(format!(
            "backward tracing supports the haircut and fifo policies, not {other:?}"
        ))),
    }
}

pub fn rules(p: PolicyArg, fee_mode: Option<FeeModeArg>, taint_fee: bool) -> Rules {
    let mut r = Rules::new(policy(p));
    if let Some(m) = fee_mode {
        r.fee_mode = match m {
            FeeModeArg::Tail => FeeMode::Tail,
            FeeModeArg::Proportional => FeeMode::Proportional,
        };
    }
    r.taint_fee = taint_fee;
    r
}

pub fn strategy(s: StrategyArg) -> Strategy {
    match s {
        StrategyArg::All => Strategy::All,
        StrategyArg::DirtyFirst => Strategy::DirtyFirst,
        StrategyArg::PureDirtyFirst => Strategy::PureDirtyFirst,
    }
}

/// Resolved sources: outputs with their taint label, the label names, whether any was capped.
pub struct Sources {
    pub sources: Vec<Source>,
    pub labels: Vec<String>,
    pub truncated: bool,
}

/// Resolves `--from` values (`REF` or `CASE=REF`).
pub fn resolve_sources(env: &Env<'_>, refs: &[String], limit: usize) -> anyhow::Result<Sources> {
    let mut out = Sources {
        sources: Vec::new(),
        labels: Vec::new(),
        truncated: false,
    };
    for r in refs {
        let (case, reference) = match r.split_once('=') {
            Some((c, rest)) if !c.contains(':') => (c.trim().to_string(), rest),
            _ => ("stolen".to_string(), r.as_str()),
        };
        let label = match out.labels.iter().position(|l| *l == case) {
            Some(i) => i,
            None => {
                out.labels.push(case);
                out.labels.len() - 1
            }
        };
        let (outs, truncated) = env.ledger.resolve(reference, limit)?;
        out.truncated |= truncated;
        let label = TaintLabel(u16::try_from(label).map_err(|_| usage("too many source cases"))?);
        out.sources
            .extend(outs.into_iter().map(|o| Source { out: o, label }));
    }
    Ok(out)
}

/// Runs a forward trace and returns the full JSON result.
pub fn forward_report(
    env: &Env<'_>,
    refs: &[String],
    params: &ForwardParams,
    source_limit: usize,
) -> anyhow::Result<Value> {
    let src = resolve_sources(env, refs, source_limit)?;
    let trace = trace_forward(&env.ledger, &env.attrs, &src.sources, params)?;
    let names = BtcNames::new(&env.ledger, src.labels);
    let mut m = env.header("forward", &params.rules.policy.name());
    m.insert("params".into(), forward_params_json(params, source_limit));
    m.insert("source_refs".into(), json!(refs));
    m.extend(forward_json(&names, &trace, params));
    m.insert("sources_truncated".into(), json!(src.truncated));
    Ok(Value::Object(m))
}

fn forward_params_json(p: &ForwardParams, source_limit: usize) -> Value {
    json!({
        "fee_mode": p.rules.fee_mode,
        "taint_fee": p.rules.taint_fee,
        "max_hops": p.max_hops,
        "min_amount": p.min_amount.to_string(),
        "stop_at": stop_json(&p.stop_at),
        "until_height": p.until_height,
        "strategy": p.strategy,
        "max_fanout": p.max_fanout,
        "max_txs": p.max_txs,
        "max_source_outputs": source_limit,
    })
}

fn stop_json(s: &StopSet) -> Value {
    match s {
        StopSet::Services => json!("services"),
        StopSet::AnyLabel => json!("any"),
        StopSet::Nothing => json!("none"),
        StopSet::Only(c) => json!(c.iter().map(Category::as_str).collect::<Vec<_>>()),
    }
}

/// Runs a backward screen of `reference` and returns the full JSON result.
pub fn backward_report(
    env: &Env<'_>,
    reference: &str,
    params: &ScreenParams,
    source_limit: usize,
) -> anyhow::Result<Value> {
    let (targets, truncated): (Vec<OutRef>, bool) = env.ledger.resolve(reference, source_limit)?;
    let exposure = screen(&env.ledger, &env.attrs, &targets, params)?;
    let names = BtcNames::new(&env.ledger, Vec::new());
    let policy = match params.policy {
        BackwardPolicy::Haircut => "haircut",
        BackwardPolicy::Fifo => "fifo",
    };
    let mut m = env.header("backward", policy);
    m.insert(
        "params".into(),
        json!({"max_hops": params.max_hops, "stop_at": stop_json(&params.stop_at), "max_frontier": params.max_frontier, "severity": params.severity}),
    );
    m.insert(
        "sources".into(),
        json!(targets.iter().map(|t| names.output(*t)).collect::<Vec<_>>()),
    );
    m.insert("sources_truncated".into(), json!(truncated));
    m.extend(exposure_json(&names, &exposure));
    Ok(Value::Object(m))
}

/// Runs `f` on a thread pool of `threads` workers (default: rayon's global pool).
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> anyhow::Result<T> {
    match threads {
        None => Ok(f()),
        Some(0) => Err(usage("--threads must be at least 1")),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build()?;
            Ok(pool.install(f))
        }
    }
}

/// Forward engine parameters from the common flags.
pub fn forward_params(
    rules: Rules,
    max_hops: Option<u32>,
    min_amount: u64,
    stop_at: StopSet,
) -> ForwardParams {
    let mut p = ForwardParams::new(rules);
    if let Some(h) = max_hops {
        p.max_hops = h;
    }
    p.min_amount = min_amount;
    p.stop_at = stop_at;
    p
}
