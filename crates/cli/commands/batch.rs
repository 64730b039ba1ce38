//! `chaintrace batch`: many cases from a CSV file, in parallel, resumable.
//!
//! Each case's result is written to `OUT/<case_id>.json` through a temporary file and a rename,
//! so a result file is either complete or absent; a rerun skips cases that have one. A case that
//! fails writes `OUT/<case_id>.error.json` instead and is retried on the next run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use chaintrace_ingest::Progress;
use chaintrace_trace::account::tornado::TornadoParams;
use chaintrace_trace::attribution::StopSet;
use chaintrace_trace::backward::ScreenParams;
use chaintrace_trace::policy::Rules;
use rayon::prelude::*;
use serde_json::{json, Value};

use super::eth_tracing::{self as eth_env, EthEnv};
use super::tracing_env::{self as env, Env};
use crate::exit::data;
use crate::progress::Bars;
use crate::trace_args::{BatchArgs, PolicyArg};

const COLUMNS: [&str; 7] = [
    "case_id",
    "chain",
    "ref",
    "direction",
    "policy",
    "max_hops",
    "min_amount",
];

/// One row of the cases file.
#[derive(Clone, Debug)]
struct Case {
    row: usize,
    fields: Vec<String>,
}

impl Case {
    fn get(&self, col: usize) -> &str {
        self.fields.get(col).map_or("", |s| s.trim())
    }

    fn id(&self) -> String {
        let id = self.get(0);
        if id.is_empty() {
            format!("row-{}", self.row)
        } else {
            id.to_string()
        }
    }
}

pub fn run(db: &Path, args: &BatchArgs) -> anyhow::Result<()> {
    let cases = read_cases(&args.cases)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let store = env::open(db)?;
    let env = Envs {
        btc: Env::new(&store).ok(),
        eth: EthEnv::new(&store).ok(),
    };
    if env.btc.is_none() && env.eth.is_none() {
        return Err(data("the index holds no blocks yet"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.max(1))
        .build()?;
    let bars = Bars::default();
    bars.start("running cases", Some(cases.len() as u64), "cases");
    let skipped = AtomicUsize::new(0);
    let rows: Vec<Value> = pool.install(|| {
        cases
            .par_iter()
            .map(|case| {
                let row = run_case(&env, case, &args.out, args.force, &skipped);
                bars.advance(1);
                row
            })
            .collect()
    });
    bars.finish();
    write_summary(&args.out.join("summary.csv"), &rows)?;
    let failed = rows.iter().filter(|r| r["status"] != "ok").count();
    eprintln!(
        "{} cases: {} done, {} already done before, {} failed; summary in {}",
        rows.len(),
        rows.len() - failed - skipped.load(Ordering::Relaxed),
        skipped.load(Ordering::Relaxed),
        failed,
        args.out.join("summary.csv").display()
    );
    Ok(())
}

fn read_cases(path: &Path) -> anyhow::Result<Vec<Case>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| data(format!("{}: {e}", path.display())))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    if header
        .iter()
        .map(String::as_str)
        .ne(COLUMNS.iter().copied())
    {
        return Err(data(format!(
            "{}: the header must be `{}`",
            path.display(),
            COLUMNS.join(",")
        )));
    }
    let mut cases = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| data(format!("{} row {}: {e}", path.display(), i + 2)))?;
        cases.push(Case {
            row: i + 2,
            fields: record.iter().map(str::to_string).collect(),
        });
    }
    Ok(cases)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !id.starts_with('.')
}

/// The chains of the index, each opened for tracing if it holds blocks.
struct Envs<'s> {
    btc: Option<Env<'s>>,
    eth: Option<EthEnv<'s>>,
}

fn run_case(env: &Envs<'_>, case: &Case, out: &Path, force: bool, skipped: &AtomicUsize) -> Value {
    let id = case.id();
    let base = json!({"case_id": id, "chain": case.get(1), "ref": case.get(2), "direction": case.get(3), "policy": case.get(4)});
    if !valid_id(&id) {
        return error_row(
            base,
            out,
            &id,
            "case_id may only contain letters, digits, '.', '_' and '-'",
        );
    }
    let path = out.join(format!("{id}.json"));
    if !force {
        if let Some(done) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        {
            skipped.fetch_add(1, Ordering::Relaxed);
            return summary_row(base, &done);
        }
    }
    let started = std::time::Instant::now();
    match compute(env, case).and_then(|mut result| {
        result.set("case_id", json!(id));
        result.set("elapsed_ms", json!(started.elapsed().as_millis() as u64));
        result.write(&path)?;
        result.summary()
    }) {
        Ok(summary) => {
            let _ = std::fs::remove_file(out.join(format!("{id}.error.json")));
            summary_row(base, &summary)
        }
        Err(e) => error_row(base, out, &id, &format!("{e:#}")),
    }
}

/// A case's result: Bitcoin forward traces stream their (possibly large) document to the
/// file; other results are documents in memory.
enum CaseResult<'e> {
    Forward(Box<env::ForwardRun<'e>>),
    Document(Value),
}

impl CaseResult<'_> {
    fn set(&mut self, key: &str, value: Value) {
        match self {
            CaseResult::Forward(run) => run.set(key, value),
            CaseResult::Document(v) => v[key] = value,
        }
    }

    fn write(&self, path: &Path) -> anyhow::Result<()> {
        match self {
            CaseResult::Forward(run) => write_atomic(path, &run.doc(true)),
            CaseResult::Document(v) => write_atomic(path, v),
        }
    }

    /// The document without flows, for the summary row.
    fn summary(self) -> anyhow::Result<Value> {
        match self {
            CaseResult::Forward(run) => run.summary_value(),
            CaseResult::Document(v) => Ok(v),
        }
    }
}

fn compute<'e>(envs: &'e Envs<'e>, case: &Case) -> anyhow::Result<CaseResult<'e>> {
    let missing = |chain: &str| data(format!("chain {chain} is not in this index"));
    match case.get(1) {
        "btc" => compute_btc(envs.btc.as_ref().ok_or_else(|| missing("btc"))?, case),
        "eth" => compute_eth(envs.eth.as_ref().ok_or_else(|| missing("eth"))?, case),
        "" => match (&envs.btc, &envs.eth) {
            (Some(btc), _) => compute_btc(btc, case),
            (None, Some(eth)) => compute_eth(eth, case),
            (None, None) => Err(missing("btc")),
        },
        other => Err(data(format!("unknown chain {other:?} (btc or eth)"))),
    }
}

fn reference(case: &Case) -> anyhow::Result<&str> {
    match case.get(2) {
        "" => Err(data("the ref column is empty")),
        r => Ok(r),
    }
}

fn max_hops(case: &Case) -> anyhow::Result<Option<u32>> {
    match case.get(5) {
        "" => Ok(None),
        h => h
            .parse::<u32>()
            .map(Some)
            .map_err(|_| data(format!("max_hops {h:?} is not a number"))),
    }
}

fn compute_eth<'e>(env: &'e EthEnv<'e>, case: &Case) -> anyhow::Result<CaseResult<'e>> {
    let reference = reference(case)?;
    let policy = parse_policy(case.get(4))?;
    let max_hops = max_hops(case)?;
    let doc = match case.get(3) {
        "" | "forward" => {
            let min = match case.get(6) {
                "" => "0",
                a => a,
            };
            let params = eth_env::forward_params(policy, max_hops, min, StopSet::Services)?;
            // Batch cases keep to the pools' entrance: crossing them is a choice per case.
            let tornado = TornadoParams::default();
            eth_env::forward_json(env, &[reference.to_string()], &params, &tornado)?
        }
        "backward" => {
            let params = super::screen::eth_params(max_hops.unwrap_or(6), None, Default::default());
            eth_env::screen_json(env, reference, &params)?
        }
        d => {
            return Err(data(format!(
                "direction {d:?} is neither forward nor backward"
            )))
        }
    };
    Ok(CaseResult::Document(doc))
}

fn compute_btc<'e>(env: &'e Env<'e>, case: &Case) -> anyhow::Result<CaseResult<'e>> {
    let reference = reference(case)?;
    if reference.is_empty() {
        return Err(data("the ref column is empty"));
    }
    let policy = parse_policy(case.get(4))?;
    let max_hops = max_hops(case)?;
    let min_amount = match case.get(6) {
        "" => 0,
        a => env::parse_amount(a)?,
    };
    match case.get(3) {
        "" | "forward" => {
            let params = env::forward_params(
                Rules::new(env::policy(policy)?),
                max_hops,
                min_amount,
                StopSet::Services,
            );
            env::forward_run(env, &[reference.to_string()], &params, 100_000)
                .map(|run| CaseResult::Forward(Box::new(run)))
        }
        "backward" => {
            let params = ScreenParams {
                policy: env::backward_policy(policy)?,
                max_hops: max_hops.unwrap_or(6),
                ..ScreenParams::default()
            };
            env::backward_report(env, reference, &params, 100_000).map(CaseResult::Document)
        }
        d => Err(data(format!(
            "direction {d:?} is neither forward nor backward"
        ))),
    }
}

fn parse_policy(text: &str) -> anyhow::Result<PolicyArg> {
    use clap::ValueEnum;
    if text.is_empty() {
        return Ok(PolicyArg::Haircut);
    }
    PolicyArg::from_str(text, true).map_err(|_| data(format!("unknown policy {text:?}")))
}

fn write_atomic(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let tmp: PathBuf = path.with_extension("json.tmp");
    std::fs::File::create(&tmp)
        .map_err(anyhow::Error::from)
        .and_then(|f| env::write_json(f, value))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(())
}

fn error_row(mut base: Value, out: &Path, id: &str, message: &str) -> Value {
    base["status"] = json!("error");
    base["error"] = json!(message);
    if valid_id(id) {
        let _ = write_atomic(&out.join(format!("{id}.error.json")), &base);
    }
    base
}

fn summary_row(mut base: Value, result: &Value) -> Value {
    base["status"] = json!("ok");
    base["direction"] = result["direction"].clone();
    base["policy"] = result["policy"].clone();
    base["risk"] = result["risk"].clone();
    if result["chain"] == "eth" {
        eth_summary(&mut base, result);
        return base;
    }
    let s = &result["summary"];
    base["unit"] = json!("sat");
    base["source"] = s["source"].clone();
    base["held"] = s["by_status"]["unspent"].clone();
    base["at_services"] = s["by_status"]["stopped-at-label"].clone();
    base["fees"] = s["fees"].clone();
    base["txs"] = s["txs"].clone();
    base["total"] = result["total"].clone();
    base["top_category"] = result["exposure"][0]["category"].clone();
    base
}

/// Ethereum results are per asset; the row shows ether, or the first asset without ether.
fn eth_summary(base: &mut Value, result: &Value) {
    let pick = |list: &Value| -> Value {
        let all = list.as_array().cloned().unwrap_or_default();
        all.iter()
            .find(|a| a["asset"] == "ETH")
            .or(all.first())
            .cloned()
            .unwrap_or(Value::Null)
    };
    let unit = |a: &Value| match a["asset"].as_str() {
        Some("ETH") => json!("wei"),
        Some(token) => json!(format!("units of {token}")),
        None => Value::Null,
    };
    let f = pick(&result["summary"]["assets"]);
    if !f.is_null() {
        base["unit"] = unit(&f);
        base["source"] = f["source"].clone();
        base["held"] = f["by_status"]["held"].clone();
        base["at_services"] = f["by_status"]["stopped-at-label"].clone();
        base["fees"] = f["fees"].clone();
        base["txs"] = result["summary"]["txs"].clone();
    }
    let b = pick(&result["assets"]);
    if !b.is_null() {
        base["unit"] = unit(&b);
        base["total"] = b["total"].clone();
        base["top_category"] = b["exposure"][0]["category"].clone();
    }
}

const SUMMARY: [&str; 16] = [
    "case_id",
    "status",
    "chain",
    "ref",
    "direction",
    "policy",
    "unit",
    "source",
    "held",
    "at_services",
    "fees",
    "txs",
    "total",
    "risk",
    "top_category",
    "error",
];

fn write_summary(path: &Path, rows: &[Value]) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record(SUMMARY)?;
    for r in rows {
        let cell = |k: &str| match &r[k] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        w.write_record(SUMMARY.iter().map(|k| cell(k)))?;
    }
    w.flush()?;
    Ok(())
}
