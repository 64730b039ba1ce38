//! Turning engine results into the documented JSON shapes (amounts as decimal strings of base
//! units), and into a petgraph graph of the flow of taint (exported as Graphviz DOT).

use std::collections::BTreeMap;

use chaintrace_model::{AddrId, TxNum};
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::amount::Amount;
use crate::attribution::Attr;
use crate::backward::{CategoryExposure, EntityExposure, Exposure};
use crate::forward::{
    holding_totals, is_conserved, source_totals, Flow, ForwardParams, ForwardTrace, Holding, Status,
};
use crate::ledger::OutRef;
use crate::mixer::MixerHop;
use crate::peel::{peel_chains, Peel};
use crate::severity::Severity;
use crate::taint::{Parts, Seg, Taint, TaintLabel};

/// How the report names things: the ledger knows txids and address strings.
pub trait Names {
    fn txid(&self, tx: TxNum) -> String;
    fn address(&self, addr: AddrId) -> Option<String>;
    fn label(&self, label: TaintLabel) -> String;

    /// Called before a report names many transactions and addresses, so an implementation
    /// can read them in batches. The vectors may be sorted and deduplicated in place.
    fn prefetch(&self, txs: &mut Vec<TxNum>, addrs: &mut Vec<AddrId>) {
        let _ = (txs, addrs);
    }

    fn output(&self, out: OutRef) -> String {
        format!("{}:{}", self.txid(out.tx), out.vout)
    }
}

fn amount(v: u64) -> Value {
    Value::String(v.to_string())
}

/// An amount in base units, written as a decimal string (JSON numbers lose precision past
/// 2^53 in many readers).
#[derive(Clone, Copy)]
struct Amt(u64);

impl Serialize for Amt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Serializes the items of an iterator as a JSON array without collecting them first.
struct SeqOf<F>(F);

impl<I, F> Serialize for SeqOf<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// Per-label amounts as an object keyed by case name.
struct PerLabel<'a> {
    names: &'a dyn Names,
    parts: Parts<u64>,
}

impl Serialize for PerLabel<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            self.parts
                .iter()
                .map(|(l, a)| (self.names.label(*l), Amt(*a))),
        )
    }
}

pub fn attrs_json(attrs: &[Attr]) -> Value {
    Value::Array(
        attrs
            .iter()
            .map(|a| json!({"name": a.name.as_ref(), "category": a.category.as_str(), "confidence": a.confidence, "source": a.source.as_ref()}))
            .collect(),
    )
}

fn status_name(s: Status) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A forward trace as the documented JSON object (`sources`, `holdings`, `flows`, `summary`),
/// serialized straight to the writer: a million-transaction trace streams out without
/// building a JSON tree in memory.
pub struct ForwardReport<'a> {
    names: &'a dyn Names,
    trace: &'a ForwardTrace,
    params: &'a ForwardParams,
    flows: bool,
}

impl<'a> ForwardReport<'a> {
    /// `flows`: whether to include every transaction with its per-input and per-output taint
    /// (the evidence; tables and CSV do not need it). Asks `names` for every txid and address
    /// the report will name at once, so the index is read in batches.
    pub fn new(
        names: &'a dyn Names,
        trace: &'a ForwardTrace,
        params: &'a ForwardParams,
        flows: bool,
    ) -> Self {
        let mut txs: Vec<TxNum> = trace.sources.iter().map(|(s, _)| s.out.tx).collect();
        let mut addrs: Vec<AddrId> = Vec::new();
        for h in &trace.holdings {
            txs.push(h.out.tx);
            addrs.push(h.addr);
        }
        if flows {
            for f in &trace.flows {
                txs.push(f.tx);
                txs.extend(trace.inputs(f).iter().filter_map(|i| i.prev.map(|p| p.tx)));
                addrs.extend(trace.outputs(f).iter().map(|o| o.addr));
            }
        }
        names.prefetch(&mut txs, &mut addrs);
        ForwardReport {
            names,
            trace,
            params,
            flows,
        }
    }
}

impl Serialize for ForwardReport<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (names, t) = (self.names, self.trace);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(
            "sources",
            &SeqOf(|| {
                t.sources.iter().map(|(src, v)| SourceRow {
                    reference: names.output(src.out),
                    label: names.label(src.label),
                    amount: Amt(*v),
                })
            }),
        )?;
        m.serialize_entry(
            "holdings",
            &SeqOf(|| t.holdings.iter().map(|h| HoldingRow { names, t, h })),
        )?;
        if self.flows {
            m.serialize_entry(
                "flows",
                &SeqOf(|| t.flows.iter().map(|f| FlowRow { names, t, f })),
            )?;
        }
        m.serialize_entry("peel_chains", &peel_chains_json(names, t))?;
        m.serialize_entry("summary", &summary_json(names, t, self.params))?;
        m.end()
    }
}

/// Peel chains on the path, collapsed: each with its peels (and where they ended, when a peel
/// is a holding) and the remaining change.
pub fn peel_chains_json(names: &dyn Names, t: &ForwardTrace) -> Value {
    let held: BTreeMap<OutRef, &Holding> = t.holdings.iter().map(|h| (h.out, h)).collect();
    let row = |p: &Peel| {
        let mut v = json!({
            "ref": names.output(p.out),
            "address": names.address(p.addr),
            "height": p.height,
            "amount": amount(p.amount),
            "tainted": amount(p.tainted),
        });
        if let Some(h) = held.get(&p.out) {
            v["status"] = json!(h.status);
            v["labels"] = json!(h.attrs);
        }
        v
    };
    let chains: Vec<Value> = peel_chains(t)
        .iter()
        .map(|c| {
            json!({
                "start": names.txid(c.txs[0]),
                "end": names.txid(c.txs[c.txs.len() - 1]),
                "hops": c.hops(),
                "first_height": c.first_height,
                "last_height": c.last_height,
                "total_peeled": amount(c.total_peeled()),
                "tainted_peeled": amount(c.tainted_peeled()),
                "peels": c.peels.iter().map(row).collect::<Vec<_>>(),
                "change_identified": c.change_identified,
                "ends": c.ends.iter().map(row).collect::<Vec<_>>(),
            })
        })
        .collect();
    Value::Array(chains)
}

#[derive(Serialize)]
struct SourceRow {
    #[serde(rename = "ref")]
    reference: String,
    label: String,
    amount: Amt,
}

struct HoldingRow<'a> {
    names: &'a dyn Names,
    t: &'a ForwardTrace,
    h: &'a Holding,
}

impl Serialize for HoldingRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (names, h) = (self.names, self.h);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("ref", &names.output(h.out))?;
        m.serialize_entry("address", &names.address(h.addr))?;
        m.serialize_entry("height", &h.height)?;
        m.serialize_entry("amount", &Amt(h.value))?;
        m.serialize_entry("tainted", &Amt(h.tainted))?;
        m.serialize_entry(
            "by_label",
            &PerLabel {
                names,
                parts: h.taint.by_label(h.value),
            },
        )?;
        m.serialize_entry("hops", &h.hops)?;
        m.serialize_entry("status", &h.status)?;
        m.serialize_entry("labels", &h.attrs)?;
        if let Some(hop) = h.mixer.and_then(|i| self.t.mixers.get(i as usize)) {
            let key = if h.status == Status::Mixer {
                "mixer"
            } else {
                "via_mixer"
            };
            m.serialize_entry(key, &mixer_json(names, hop))?;
        }
        if let Taint::Ordered(segs) = &h.taint {
            let seg = |g: &Seg<u64>| {
                let label = g.label.map_or("clean".to_string(), |l| names.label(l));
                (label, Amt(g.amount))
            };
            m.serialize_entry("segments", &SeqOf(|| segs.iter().map(seg)))?;
        }
        m.end()
    }
}

struct FlowRow<'a> {
    names: &'a dyn Names,
    t: &'a ForwardTrace,
    f: &'a Flow,
}

#[derive(Serialize)]
struct FlowInputRow {
    #[serde(rename = "ref")]
    reference: Option<String>,
    amount: Amt,
    tainted: Amt,
}

#[derive(Serialize)]
struct FlowOutputRow {
    vout: u32,
    address: Option<String>,
    amount: Amt,
    tainted: Amt,
}

impl Serialize for FlowRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (names, f) = (self.names, self.f);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("txid", &names.txid(f.tx))?;
        m.serialize_entry("height", &f.height)?;
        m.serialize_entry("hop", &f.hop)?;
        m.serialize_entry("coinbase", &f.coinbase)?;
        m.serialize_entry(
            "inputs",
            &SeqOf(|| {
                self.t.inputs(f).iter().map(|i| FlowInputRow {
                    reference: i.prev.map(|p| names.output(p)),
                    amount: Amt(i.value),
                    tainted: Amt(i.tainted),
                })
            }),
        )?;
        m.serialize_entry(
            "outputs",
            &SeqOf(|| {
                self.t.outputs(f).iter().map(|o| FlowOutputRow {
                    vout: o.vout,
                    address: names.address(o.addr),
                    amount: Amt(o.value),
                    tainted: Amt(o.tainted),
                })
            }),
        )?;
        m.serialize_entry("fee", &Amt(f.fee))?;
        m.serialize_entry("fee_tainted", &Amt(f.fee_tainted))?;
        m.serialize_entry("terminal", &f.terminal)?;
        if let Some(hop) = f.mixer.and_then(|i| self.t.mixers.get(i as usize)) {
            m.serialize_entry("mixer", &mixer_json(names, hop))?;
        }
        m.end()
    }
}

/// A CoinJoin on the path: what it is, who says so and how surely, and how taint crossed it.
pub fn mixer_json(names: &dyn Names, hop: &MixerHop) -> Value {
    let d = &hop.detection;
    json!({
        "txid": names.txid(hop.tx),
        "height": hop.height,
        "hop": hop.hop,
        "protocol": d.protocol,
        "detector": d.detector,
        "denomination": amount(d.denomination),
        "participants": d.participants,
        "confidence": d.confidence,
        "through": hop.through,
        "uncertain": hop.uncertain,
        "tainted_in": amount(hop.tainted_in),
    })
}

/// "Reached a mixer" (stopped in front of one) apart from "traced out of a mixer" (holdings
/// whose taint crossed at least one CoinJoin), per label, and every CoinJoin met.
fn mixers_json(names: &dyn Names, t: &ForwardTrace) -> Value {
    let reached = holding_totals(t, Some(Status::Mixer));
    let mut traced_out = Vec::new();
    for h in t
        .holdings
        .iter()
        .filter(|h| h.mixer.is_some() && h.status != Status::Mixer)
    {
        crate::forward::add(&mut traced_out, h.taint.by_label(h.value));
    }
    let per_label = |parts: &[(TaintLabel, u64)]| -> Map<String, Value> {
        parts
            .iter()
            .map(|(l, a)| (names.label(*l), amount(*a)))
            .collect()
    };
    json!({
        "reached": per_label(&reached),
        "traced_out": per_label(&traced_out),
        "uncertain": t.mixers.iter().any(|m| m.uncertain),
        "crossed": t.mixers.iter().map(|m| mixer_json(names, m)).collect::<Vec<_>>(),
    })
}

fn summary_json(names: &dyn Names, t: &ForwardTrace, params: &ForwardParams) -> Value {
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_category: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_hop: BTreeMap<u32, u64> = BTreeMap::new();
    for h in &t.holdings {
        *by_status.entry(status_name(h.status)).or_default() += h.tainted;
        *by_hop.entry(h.hops).or_default() += h.tainted;
        if let Some(a) = h.attrs.first() {
            *by_category.entry(a.category.to_string()).or_default() += h.tainted;
        }
    }
    let total = |parts: &[(TaintLabel, u64)]| parts.iter().map(|(_, a)| a).sum::<u64>();
    let labels: Vec<TaintLabel> = source_totals(t).into_iter().map(|(l, _)| l).collect();
    let get = |parts: &[(TaintLabel, u64)], l: TaintLabel| {
        parts.iter().find(|(k, _)| *k == l).map_or(0, |(_, a)| *a)
    };
    let (holdings, fees, burned, sources) = (
        holding_totals(t, None),
        t.fees.clone(),
        t.burned.clone(),
        source_totals(t),
    );
    let by_label: Map<String, Value> = labels
        .iter()
        .map(|l| {
            (
                names.label(*l),
                json!({
                    "source": amount(get(&sources, *l)),
                    "holdings": amount(get(&holdings, *l)),
                    "fees": amount(get(&fees, *l)),
                    "burned": amount(get(&burned, *l)),
                }),
            )
        })
        .collect();
    json!({
        "source": amount(total(&sources)),
        "by_status": by_status.into_iter().map(|(k, v)| (k, amount(v))).collect::<Map<_, _>>(),
        "by_category": by_category.into_iter().map(|(k, v)| (k, amount(v))).collect::<Map<_, _>>(),
        "by_hop": by_hop.into_iter().map(|(k, v)| (k.to_string(), amount(v))).collect::<Map<_, _>>(),
        "by_label": by_label,
        "fees": amount(total(&fees)),
        "burned": amount(total(&burned)),
        "dropped_dust": amount(t.holdings.iter().filter(|h| h.status == Status::BelowMin).map(|h| h.tainted).sum()),
        "conserved": (params.rules.policy.is_lossless()
            && (t.mixers.is_empty() || params.through_coinjoin.is_lossless()))
            .then(|| is_conserved(t)),
        "mixers": mixers_json(names, t),
        "txs": t.flows.len(),
        "holdings": t.holdings.len(),
        "max_hop": t.flows.iter().map(|f| f.hop).max().unwrap_or(0),
        "truncated": t.truncated,
    })
}

/// Exposure as JSON (amounts as strings, shares as percentages with two decimals).
pub fn exposure_json(names: &dyn Names, e: &Exposure) -> Map<String, Value> {
    let mut m = exposure_head_json(e.total, e.risk, e.score, &e.categories, &e.entities);
    m.insert(
        "origins".into(),
        Value::Array(
            e.origins
                .iter()
                .map(|o| {
                    let mut v = serde_json::to_value(o).unwrap_or_default();
                    v["ref"] = o
                        .out
                        .map_or(Value::Null, |out| Value::String(names.output(out)));
                    v["amount"] = amount(o.amount);
                    v["category"] = Value::String(o.category().to_string());
                    v
                })
                .collect(),
        ),
    );
    m.insert("truncated".into(), json!(e.truncated));
    m.insert("txs_visited".into(), json!(e.txs_visited));
    m
}

/// The chain-independent part of an exposure's JSON (`total`, `risk`, `score`, `exposure`,
/// `entities`): Bitcoin and account screens render it the same way.
pub fn exposure_head_json<A: Amount>(
    total: A,
    risk: Severity,
    score: f64,
    categories: &[CategoryExposure<A>],
    entities: &[EntityExposure<A>],
) -> Map<String, Value> {
    let pct = |bps: u32| format!("{}.{:02}", bps / 100, bps % 100);
    let amount = |v: A| Value::String(v.to_string());
    let mut m = Map::new();
    m.insert("total".into(), amount(total));
    m.insert("risk".into(), json!(risk));
    m.insert("score".into(), json!(score));
    m.insert(
        "exposure".into(),
        Value::Array(
            categories
                .iter()
                .map(|c| json!({
                    "category": c.category.as_str(),
                    "amount": amount(c.amount),
                    "share_percent": pct(c.share_bps),
                    "min_hops": c.min_hops,
                    "ownership": amount(c.ownership),
                    "direct": amount(c.direct),
                    "indirect": amount(c.indirect),
                    "severity": c.severity,
                    "by_hop": c.by_hop.iter().map(|(h, a)| (h.to_string(), amount(*a))).collect::<Map<_, _>>(),
                }))
                .collect(),
        ),
    );
    m.insert("entities".into(), Value::Array(entities.iter().map(|x| json!({"name": x.name, "category": x.category.as_str(), "amount": amount(x.amount), "min_hops": x.min_hops})).collect()));
    m
}

/// A node of the flow graph.
#[derive(Clone, Debug)]
pub enum Node {
    Tx {
        tx: TxNum,
        hop: u32,
    },
    Holding {
        out: OutRef,
        status: Status,
        tainted: u64,
    },
}

/// The flow of taint as a graph: transactions, and the holdings where taint stopped; edges carry
/// tainted amounts.
pub fn flow_graph(t: &ForwardTrace) -> StableDiGraph<Node, u64> {
    let mut g = StableDiGraph::new();
    let mut tx_nodes: BTreeMap<TxNum, NodeIndex> = BTreeMap::new();
    for f in &t.flows {
        tx_nodes.insert(
            f.tx,
            g.add_node(Node::Tx {
                tx: f.tx,
                hop: f.hop,
            }),
        );
    }
    for f in &t.flows {
        for i in t.inputs(f).iter().filter(|i| i.tainted > 0) {
            if let Some(from) = i.prev.and_then(|p| tx_nodes.get(&p.tx)) {
                g.add_edge(*from, tx_nodes[&f.tx], i.tainted);
            }
        }
    }
    for h in &t.holdings {
        let n = g.add_node(Node::Holding {
            out: h.out,
            status: h.status,
            tainted: h.tainted,
        });
        if let Some(from) = tx_nodes.get(&h.out.tx) {
            g.add_edge(*from, n, h.tainted);
        }
    }
    g
}

/// Graphviz DOT of [`flow_graph`].
pub fn to_dot(
    names: &dyn Names,
    g: &StableDiGraph<Node, u64>,
    holdings: &[crate::forward::Holding],
) -> String {
    let by_out: BTreeMap<OutRef, &crate::forward::Holding> =
        holdings.iter().map(|h| (h.out, h)).collect();
    let mut s = String::from(
        "digraph trace {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n",
    );
    for n in g.node_indices() {
        let line = match &g[n] {
            Node::Tx { tx, hop } => {
                let id = names.txid(*tx);
                format!(
                    "  n{} [shape=box, label=\"{}…\\nhop {hop}\"];\n",
                    n.index(),
                    &id[..16.min(id.len())]
                )
            }
            Node::Holding {
                out,
                status,
                tainted,
            } => {
                let h = by_out.get(out);
                let who = h
                    .and_then(|h| h.attrs.first().map(|a| a.name.to_string()))
                    .or_else(|| h.and_then(|h| names.address(h.addr)))
                    .unwrap_or_default();
                let color = match status {
                    Status::Unspent => "lightblue",
                    Status::StoppedAtLabel => "salmon",
                    _ => "lightgrey",
                };
                format!("  n{} [shape=ellipse, style=filled, fillcolor={color}, label=\"{}\\n{} sat\\n{}\"];\n", n.index(), escape(&who), tainted, status_name(*status))
            }
        };
        s.push_str(&line);
    }
    for e in g.edge_indices() {
        let (a, b) = g.edge_endpoints(e).expect("edge exists");
        s.push_str(&format!(
            "  n{} -> n{} [label=\"{}\"];\n",
            a.index(),
            b.index(),
            g[e]
        ));
    }
    s.push_str("}\n");
    s
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
