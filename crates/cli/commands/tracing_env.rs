//! What `trace`, `screen` and `batch` share: opening the index for tracing, resolving sources,
//! turning flags into engine parameters, and producing the JSON results.

use std::cell::RefCell;
use std::io::Write as _;
use std::path::Path;

use chaintrace_model::btc::AddrKey;
use chaintrace_model::{AddrId, Category, Network, TxNum};
use chaintrace_store::btc::display_hash;
use chaintrace_store::{OpenMode, Store};
use chaintrace_trace::attribution::{Attributions, StopSet};
use chaintrace_trace::backward::{screen, BackwardPolicy, ScreenParams};
use chaintrace_trace::btc::{load_attributions, BtcLedger};
use chaintrace_trace::forward::{trace_forward, ForwardParams, ForwardTrace, Source, Strategy};
use chaintrace_trace::ledger::OutRef;
use chaintrace_trace::policy::{FeeMode, Policy, Rules};
use chaintrace_trace::report::{exposure_json, ForwardReport, Names};
use chaintrace_trace::TaintLabel;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;
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
    txids: RefCell<FxHashMap<TxNum, [u8; 32]>>,
    addrs: RefCell<FxHashMap<AddrId, Option<String>>>,
}

/// Keys per batched read when prefetching names (one rayon task each).
const NAME_BATCH: usize = 4096;

impl<'a> BtcNames<'a> {
    pub fn new(ledger: &'a BtcLedger<'a>, labels: Vec<String>) -> Self {
        BtcNames {
            ledger,
            labels,
            txids: RefCell::default(),
            addrs: RefCell::default(),
        }
    }

    fn address_string(&self, key: Option<AddrKey>) -> Option<String> {
        address_string(self.ledger.network(), key)
    }
}

fn address_string(network: Network, key: Option<AddrKey>) -> Option<String> {
    key.map(|k| k.to_address_string(network))
}

/// Reads `keys` in parallel batches with `read`; a batch that fails is left out (the names
/// are then read one by one, and a failure shows as a placeholder).
fn fetch_batched<K: Copy + Send + Sync, V: Send>(
    keys: &[K],
    read: impl Fn(&[K]) -> Option<Vec<V>> + Sync,
) -> Vec<(K, V)> {
    keys.par_chunks(NAME_BATCH)
        .flat_map_iter(|c| {
            let values = read(c).unwrap_or_default();
            c.iter().copied().zip(values).collect::<Vec<_>>()
        })
        .collect()
}

impl Names for BtcNames<'_> {
    fn txid(&self, tx: TxNum) -> String {
        let cached = self.txids.borrow().get(&tx).copied();
        let txid = cached.or_else(|| {
            let t = self.ledger.txid(tx).ok()?;
            self.txids.borrow_mut().insert(tx, t);
            Some(t)
        });
        txid.map_or_else(|| format!("#{}", tx.0), |t| display_hash(&t))
    }

    fn address(&self, addr: AddrId) -> Option<String> {
        if addr.is_none() {
            return None;
        }
        if let Some(name) = self.addrs.borrow().get(&addr) {
            return name.clone();
        }
        let name = self.address_string(self.ledger.index().addr_key(addr).ok().flatten());
        self.addrs.borrow_mut().insert(addr, name.clone());
        name
    }

    fn label(&self, label: TaintLabel) -> String {
        self.labels
            .get(label.0 as usize)
            .cloned()
            .unwrap_or_else(|| format!("label{}", label.0))
    }

    fn prefetch(&self, txs: &mut Vec<TxNum>, addrs: &mut Vec<AddrId>) {
        let idx = self.ledger.index();
        txs.sort_unstable();
        txs.dedup();
        let found = fetch_batched(txs, |c| idx.txids(c).ok());
        self.txids
            .borrow_mut()
            .extend(found.into_iter().filter_map(|(k, v)| Some((k, v?))));
        addrs.retain(|a| !a.is_none());
        addrs.sort_unstable();
        addrs.dedup();
        let found = fetch_batched(addrs, |c| idx.addr_keys(c).ok());
        let network = self.ledger.network();
        let named: Vec<(AddrId, Option<String>)> = found
            .into_par_iter()
            .map(|(k, v)| (k, address_string(network, v)))
            .collect();
        self.addrs.borrow_mut().extend(named);
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

pub fn policy(p: PolicyArg) -> anyhow::Result<Policy> {
    Ok(match p {
        PolicyArg::Poison => Policy::Poison,
        PolicyArg::Haircut => Policy::Haircut,
        PolicyArg::Fifo => Policy::FIFO,
        PolicyArg::Lifo => Policy::LIFO,
        PolicyArg::Tiho => Policy::TIHO,
        PolicyArg::Ciso => Policy::CISO,
        PolicyArg::Seniority | PolicyArg::ReversedSeniority => {
            return Err(usage(
                "seniority policies apply to account balances (Ethereum); a Bitcoin transaction \
                 orders its coins with fifo, lifo, tiho or ciso",
            ))
        }
    })
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

pub fn rules(p: PolicyArg, fee_mode: Option<FeeModeArg>, taint_fee: bool) -> anyhow::Result<Rules> {
    let mut r = Rules::new(policy(p)?);
    if let Some(m) = fee_mode {
        r.fee_mode = match m {
            FeeModeArg::Tail => FeeMode::Tail,
            FeeModeArg::Proportional => FeeMode::Proportional,
        };
    }
    r.taint_fee = taint_fee;
    Ok(r)
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

/// A forward trace, run and ready to render.
pub struct ForwardRun<'e> {
    /// Everything the JSON document carries besides the trace itself.
    header: serde_json::Map<String, Value>,
    names: BtcNames<'e>,
    params: ForwardParams,
    pub trace: ForwardTrace,
}

/// The JSON document of a forward run: header fields, then the streamed trace.
#[derive(Serialize)]
pub struct ForwardDoc<'a> {
    #[serde(flatten)]
    header: &'a serde_json::Map<String, Value>,
    #[serde(flatten)]
    body: ForwardReport<'a>,
}

impl ForwardRun<'_> {
    /// Adds a top-level field to the document.
    pub fn set(&mut self, key: &str, value: Value) {
        self.header.insert(key.into(), value);
    }

    /// The document; `flows` includes every transaction (the evidence), which tables and CSV
    /// leave out.
    pub fn doc(&self, flows: bool) -> ForwardDoc<'_> {
        ForwardDoc {
            header: &self.header,
            body: ForwardReport::new(&self.names, &self.trace, &self.params, flows),
        }
    }

    /// The document as a JSON tree, without flows (for tables, CSV and summaries).
    pub fn summary_value(&self) -> anyhow::Result<Value> {
        Ok(serde_json::to_value(self.doc(false))?)
    }
}

/// Runs a forward trace.
pub fn forward_run<'e>(
    env: &'e Env<'e>,
    refs: &[String],
    params: &ForwardParams,
    source_limit: usize,
) -> anyhow::Result<ForwardRun<'e>> {
    let src = resolve_sources(env, refs, source_limit)?;
    let trace = trace_forward(&env.ledger, &env.attrs, &src.sources, params)?;
    let mut header = env.header("forward", &params.rules.policy.name());
    header.insert("params".into(), forward_params_json(params, source_limit));
    header.insert("source_refs".into(), json!(refs));
    header.insert("sources_truncated".into(), json!(src.truncated));
    Ok(ForwardRun {
        header,
        names: BtcNames::new(&env.ledger, src.labels),
        params: params.clone(),
        trace,
    })
}

/// Writes `value` as pretty JSON through a buffer (large documents stream out).
pub fn write_json(out: impl std::io::Write, value: &impl Serialize) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    serde_json::to_writer_pretty(&mut w, value)?;
    writeln!(w)?;
    w.flush()?;
    Ok(())
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
        "through_coinjoin": p.through_coinjoin,
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
        json!({"max_hops": params.max_hops, "stop_at": stop_json(&params.stop_at), "max_frontier": params.max_frontier, "severity": params.severity, "through_coinjoin": params.through_coinjoin}),
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
