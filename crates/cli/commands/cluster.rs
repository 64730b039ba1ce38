//! `chaintrace cluster show|explain|alerts`: which addresses the multi-input heuristic (and, in
//! an index built with `--clustering inputs+change`, the change rule) puts together, and the
//! transactions that justify it.

use std::path::Path;

use chaintrace_model::btc::AddrKey;
use chaintrace_model::{AddrId, Network, TxNum};
use chaintrace_store::btc::cluster::{ClusterAlert, ClusterInfo, MergeStep};
use chaintrace_store::btc::{display_hash, BtcIndex, ClusterIndex};
use chaintrace_store::labels::LabelStore;
use chaintrace_store::{OpenMode, Store};
use serde_json::{json, Value};

use crate::args::{ClusterAlertsArgs, ClusterCommand, ClusterExplainArgs, ClusterShowArgs, Format};
use crate::exit::{data, usage};
use crate::render;

/// Members whose labels and activity `cluster show` reads (a hub cluster has millions).
const SCAN_MEMBERS: usize = 10_000;
/// Outputs of those members read to find the first and last activity.
const SCAN_OUTPUTS: u64 = 200_000;
/// Alerts of the cluster `cluster show` lists.
const SHOW_ALERTS: usize = 20;

/// What every subcommand reads.
struct Ctx<'s> {
    btc: BtcIndex<'s>,
    clusters: ClusterIndex<'s>,
    labels: LabelStore<'s>,
    network: Network,
}

pub fn run(db: &Path, cmd: &ClusterCommand) -> anyhow::Result<()> {
    let store = Store::open(db, OpenMode::ReadOnly)?;
    let btc = BtcIndex::new(&store);
    let network = btc
        .network()?
        .ok_or_else(|| data("the index holds no Bitcoin data yet"))?;
    let clusters = ClusterIndex::new(&store);
    if !clusters.enabled()? {
        return Err(data(format!(
            "this index keeps no clusters: {} was built with --clustering off, and an index keeps \
             its setting; ingest into a new directory with --clustering inputs to get clusters",
            db.display()
        )));
    }
    let ctx = Ctx {
        btc,
        clusters,
        labels: LabelStore::new(&store),
        network,
    };
    let (value, format) = match cmd {
        ClusterCommand::Show(a) => (show(&ctx, a)?, a.format),
        ClusterCommand::Explain(a) => (explain(&ctx, a)?, a.format),
        ClusterCommand::Alerts(a) => (alerts(&ctx, a)?, a.format),
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&value)?),
        Format::Table => match cmd {
            ClusterCommand::Show(_) => print_show(&value),
            ClusterCommand::Explain(_) => print_explain(&value),
            ClusterCommand::Alerts(_) => print_alerts(&value),
        },
    }
    Ok(())
}

impl Ctx<'_> {
    /// The id of an address given on the command line: a bad address is a usage error, an
    /// address the index never saw is bad input.
    fn addr_id(&self, text: &str) -> anyhow::Result<AddrId> {
        let key = AddrKey::parse(text, self.network).map_err(|e| {
            usage(format!(
                "{e} (the index holds {} data)",
                self.network.as_str()
            ))
        })?;
        self.btc
            .addr_id(&key)?
            .ok_or_else(|| data(format!("address {text} never appears in the index")))
    }

    fn address(&self, id: AddrId) -> anyhow::Result<String> {
        let key = self
            .btc
            .addr_key(id)?
            .ok_or_else(|| data(format!("the index is missing address {id}")))?;
        Ok(key.to_address_string(self.network))
    }

    /// A transaction as JSON: txid, height and block time.
    fn tx(&self, num: TxNum) -> anyhow::Result<Value> {
        let t = self
            .btc
            .tx(num)?
            .ok_or_else(|| data(format!("the index is missing transaction {num}")))?;
        let time = self.btc.block(t.height)?.map(|b| b.time);
        Ok(json!({"txid": display_hash(&t.txid), "height": t.height, "time": time}))
    }

    fn labels_of(&self, id: AddrId) -> anyhow::Result<Vec<Value>> {
        let Some(key) = self.btc.addr_key(id)? else {
            return Ok(Vec::new());
        };
        Ok(self
            .labels
            .of_btc_addr(&key)?
            .iter()
            .map(|(_, l)| {
                json!({"name": l.name, "category": l.category.as_str(), "source": l.source,
                       "is_cluster_definer": l.is_cluster_definer})
            })
            .collect())
    }
}

fn show(ctx: &Ctx<'_>, args: &ClusterShowArgs) -> anyhow::Result<Value> {
    let addr = ctx.addr_id(&args.address)?;
    let id = ctx.clusters.cluster_of(addr)?;
    let info = ctx
        .clusters
        .info(id)?
        .ok_or_else(|| data(format!("cluster {} has no root record", id.0 .0)))?;
    let scanned = ctx.clusters.members(id, SCAN_MEMBERS.max(args.limit))?;
    let mut members = Vec::new();
    let mut labelled = Vec::new();
    for &m in &scanned.addrs {
        let labels = ctx.labels_of(m)?;
        let address = ctx.address(m)?;
        if !labels.is_empty() {
            labelled.push(json!({"address": address, "labels": labels}));
        }
        if members.len() < args.limit {
            members.push(json!({"address": address, "labels": labels}));
        }
    }
    let seen = ctx.clusters.seen(&scanned.addrs, SCAN_OUTPUTS)?;
    let alerts = ctx.clusters.alerts_of(id, SHOW_ALERTS)?;
    Ok(json!({
        "address": args.address,
        "cluster_id": id.0 .0,
        "root": ctx.address(id.0)?,
        "size": info.size,
        "members": members,
        "members_truncated": (members.len() as u64) < info.size,
        "labelled_members": labelled,
        "members_scanned": scanned.addrs.len(),
        "scan_capped": scanned.truncated,
        "first_seen": seen.first.map(|t| ctx.tx(t)).transpose()?,
        "last_seen": seen.last.map(|t| ctx.tx(t)).transpose()?,
        "activity_capped": seen.capped || scanned.truncated,
        "history": history(ctx, &info)?,
        "alerts": alerts.iter().map(|(t, a)| alert_json(ctx, *t, a)).collect::<anyhow::Result<Vec<_>>>()?,
    }))
}

/// First and latest merge and the largest jump, or null for a single address.
fn history(ctx: &Ctx<'_>, info: &ClusterInfo) -> anyhow::Result<Value> {
    let Some(rec) = info.record else {
        return Ok(Value::Null);
    };
    let j = rec.largest_jump;
    Ok(json!({
        "first_merge": ctx.tx(rec.first_merge)?,
        "last_merge": ctx.tx(rec.last_merge)?,
        "largest_jump": {"tx": ctx.tx(j.tx)?, "before": j.before, "after": j.after},
    }))
}

fn alert_json(ctx: &Ctx<'_>, tx: TxNum, alert: &ClusterAlert) -> anyhow::Result<Value> {
    Ok(match *alert {
        ClusterAlert::Growth {
            root,
            size_after,
            largest_before,
            second_before,
            clusters,
        } => json!({
            "kind": "growth", "tx": ctx.tx(tx)?,
            "cluster_id": ctx.clusters.cluster_of(root)?.0 .0,
            "size_after": size_after, "largest_before": largest_before,
            "second_before": second_before, "clusters_joined": clusters,
        }),
        ClusterAlert::LabelConflict { first, second } => json!({
            "kind": "label_conflict", "tx": ctx.tx(tx)?,
            "first": ctx.address(first)?, "second": ctx.address(second)?,
        }),
    })
}

fn explain(ctx: &Ctx<'_>, args: &ClusterExplainArgs) -> anyhow::Result<Value> {
    let (a, b) = (ctx.addr_id(&args.from)?, ctx.addr_id(&args.to)?);
    let Some(steps) = ctx.clusters.explain(a, b)? else {
        return Ok(json!({
            "from": args.from, "to": args.to, "same_cluster": false,
            "from_cluster": ctx.clusters.cluster_of(a)?.0 .0,
            "to_cluster": ctx.clusters.cluster_of(b)?.0 .0,
            "steps": [],
        }));
    };
    let steps = steps
        .iter()
        .map(|s: &MergeStep| {
            let change = s.change.map(|c| ctx.address(c)).transpose()?;
            let rule = if change.is_some() {
                "change"
            } else {
                "co-spent"
            };
            Ok(json!({"tx": ctx.tx(s.tx)?, "left": ctx.address(s.left)?,
                      "right": ctx.address(s.right)?, "rule": rule, "change": change}))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(json!({
        "from": args.from, "to": args.to, "same_cluster": true,
        "cluster_id": ctx.clusters.cluster_of(a)?.0 .0, "steps": steps,
    }))
}

fn alerts(ctx: &Ctx<'_>, args: &ClusterAlertsArgs) -> anyhow::Result<Value> {
    let mut out = Vec::new();
    let mut more = false;
    for item in ctx.clusters.alerts() {
        let (tx, alert) = item?;
        if let ClusterAlert::Growth { size_after, .. } = alert {
            if size_after < args.min_size {
                continue;
            }
        }
        if out.len() == args.limit {
            more = true;
            break;
        }
        out.push(alert_json(ctx, tx, &alert)?);
    }
    Ok(json!({"alerts": out, "truncated": more}))
}

fn tx_text(v: &Value) -> String {
    format!(
        "{} (height {})",
        v["txid"].as_str().unwrap_or("-"),
        v["height"]
    )
}

fn seen_text(v: &Value) -> String {
    if v.is_null() {
        return "-".into();
    }
    let time = v["time"].as_u64().map_or(String::new(), |t| {
        format!(", {}", render::utc(u32::try_from(t).unwrap_or(u32::MAX)))
    });
    format!("{}{time}", tx_text(v))
}

fn label_text(labels: &Value) -> String {
    labels
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let definer = if l["is_cluster_definer"] == true {
                ", cluster definer"
            } else {
                ""
            };
            format!(
                "{} ({}{definer})",
                l["name"].as_str().unwrap_or("-"),
                l["category"].as_str().unwrap_or("-")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn print_show(v: &Value) {
    println!(
        "cluster {} (root {})",
        v["cluster_id"],
        v["root"].as_str().unwrap_or("-")
    );
    let capped = if v["activity_capped"] == true {
        " (from part of the cluster)"
    } else {
        ""
    };
    let mut rows = vec![
        ("address", v["address"].as_str().unwrap_or("-").to_string()),
        ("size", render::count(v["size"].as_u64().unwrap_or(0))),
        ("first seen", seen_text(&v["first_seen"]) + capped),
        ("last seen", seen_text(&v["last_seen"]) + capped),
    ];
    let h = &v["history"];
    if !h.is_null() {
        let j = &h["largest_jump"];
        rows.push(("first merge", tx_text(&h["first_merge"])));
        rows.push(("last merge", tx_text(&h["last_merge"])));
        rows.push((
            "largest jump",
            format!("{} → {} in {}", j["before"], j["after"], tx_text(&j["tx"])),
        ));
    }
    render::key_values(&rows);
    print_labelled(v);
    println!("  members");
    for m in v["members"].as_array().into_iter().flatten() {
        let labels = label_text(&m["labels"]);
        let sep = if labels.is_empty() { "" } else { "  " };
        println!("    {}{sep}{labels}", m["address"].as_str().unwrap_or("-"));
    }
    if v["members_truncated"] == true {
        println!("    ... (raise --limit to list more)");
    }
    for a in v["alerts"].as_array().into_iter().flatten() {
        println!("  alert  {}", alert_text(a));
    }
}

fn print_labelled(v: &Value) {
    let labelled = v["labelled_members"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let scope = if v["scan_capped"] == true {
        format!(" (first {} members read)", v["members_scanned"])
    } else {
        String::new()
    };
    println!("  labelled members: {}{scope}", labelled.len());
    for m in labelled.iter().take(20) {
        println!(
            "    {}  {}",
            m["address"].as_str().unwrap_or("-"),
            label_text(&m["labels"])
        );
    }
}

fn print_explain(v: &Value) {
    let (from, to) = (
        v["from"].as_str().unwrap_or("-"),
        v["to"].as_str().unwrap_or("-"),
    );
    if v["same_cluster"] != true {
        println!(
            "{from} and {to} are not in the same cluster (clusters {} and {})",
            v["from_cluster"], v["to_cluster"]
        );
        return;
    }
    let steps = v["steps"].as_array().map(Vec::as_slice).unwrap_or_default();
    println!(
        "{from} and {to} are in cluster {}, joined by {} transaction(s):",
        v["cluster_id"],
        steps.len()
    );
    for (i, s) in steps.iter().enumerate() {
        println!("  {:>3}. {}", i + 1, step_text(s));
    }
}

/// "co-spent A and B in tx", or "B is change of A in tx" (A funded the transaction that paid
/// its change to B).
fn step_text(s: &Value) -> String {
    let (left, right) = (
        s["left"].as_str().unwrap_or("-"),
        s["right"].as_str().unwrap_or("-"),
    );
    let tx = tx_text(&s["tx"]);
    match s["change"].as_str() {
        Some(change) => {
            let sender = if change == left { right } else { left };
            format!("change:    {change} is change of {sender} in {tx}")
        }
        None => format!("co-spent:  {left} and {right} in {tx}"),
    }
}

fn alert_text(a: &Value) -> String {
    if a["kind"] == "label_conflict" {
        return format!(
            "label conflict in {}: {} and {} carry labels of different services (not merged)",
            tx_text(&a["tx"]),
            a["first"].as_str().unwrap_or("-"),
            a["second"].as_str().unwrap_or("-")
        );
    }
    format!(
        "{} joined {} clusters (largest {}, next {}) into {} addresses; now cluster {}",
        tx_text(&a["tx"]),
        a["clusters_joined"],
        a["largest_before"],
        a["second_before"],
        a["size_after"],
        a["cluster_id"]
    )
}

fn print_alerts(v: &Value) {
    let list = v["alerts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if list.is_empty() {
        println!("no cluster alerts");
    }
    for a in list {
        println!("{}", alert_text(a));
    }
    if v["truncated"] == true {
        println!("... (raise --limit to list more)");
    }
}
