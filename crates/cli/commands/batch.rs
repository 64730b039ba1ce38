//! `chaintrace batch`: many cases from a CSV file, in parallel, resumable.
//!
//! Each case's result is written to `OUT/<case_id>.json` through a temporary file and a rename,
//! so a result file is either complete or absent; a rerun skips cases that have one. A case that
//! fails writes `OUT/<case_id>.error.json` instead and is retried on the next run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use chaintrace_ingest::Progress;
use chaintrace_trace::attribution::StopSet;
use chaintrace_trace::backward::ScreenParams;
use chaintrace_trace::policy::Rules;
use rayon::prelude::*;
use serde_json::{json, Value};

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
    let env = Env::new(&store)?;
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

fn run_case(env: &Env<'_>, case: &Case, out: &Path, force: bool, skipped: &AtomicUsize) -> Value {
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

/// A case's result: forward traces stream their (possibly large) document to the file.
enum CaseResult<'e> {
    Forward(Box<env::ForwardRun<'e>>),
    Backward(Value),
}

impl CaseResult<'_> {
    fn set(&mut self, key: &str, value: Value) {
        match self {
            CaseResult::Forward(run) => run.set(key, value),
            CaseResult::Backward(v) => v[key] = value,
        }
    }

    fn write(&self, path: &Path) -> anyhow::Result<()> {
        match self {
            CaseResult::Forward(run) => write_atomic(path, &run.doc(true)),
            CaseResult::Backward(v) => write_atomic(path, v),
        }
    }

    /// The document without flows, for the summary row.
    fn summary(self) -> anyhow::Result<Value> {
        match self {
            CaseResult::Forward(run) => run.summary_value(),
            CaseResult::Backward(v) => Ok(v),
        }
    }
}

fn compute<'e>(env: &'e Env<'e>, case: &Case) -> anyhow::Result<CaseResult<'e>> {
    if !matches!(case.get(1), "" | "btc") {
        return Err(data(format!(
            "chain {:?} is not indexed (this index holds btc)",
            case.get(1)
        )));
    }
    let reference = case.get(2);
    if reference.is_empty() {
        return Err(data("the ref column is empty"));
    }
    let policy = parse_policy(case.get(4))?;
    let max_hops = match case.get(5) {
        "" => None,
        h => Some(
            h.parse::<u32>()
                .map_err(|_| data(format!("max_hops {h:?} is not a number")))?,
        ),
    };
    let min_amount = match case.get(6) {
        "" => 0,
        a => env::parse_amount(a)?,
    };
    match case.get(3) {
        "" | "forward" => {
            let params = env::forward_params(
                Rules::new(env::policy(policy)),
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
            env::backward_report(env, reference, &params, 100_000).map(CaseResult::Backward)
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
    let s = &result["summary"];
    base["status"] = json!("ok");
    base["direction"] = result["direction"].clone();
    base["policy"] = result["policy"].clone();
    base["source_sats"] = s["source"].clone();
    base["unspent_sats"] = s["by_status"]["unspent"].clone();
    base["at_services_sats"] = s["by_status"]["stopped-at-label"].clone();
    base["fees_sats"] = s["fees"].clone();
    base["txs"] = s["txs"].clone();
    base["total_sats"] = result["total"].clone();
    base["risk"] = result["risk"].clone();
    base["top_category"] = result["exposure"][0]["category"].clone();
    base
}

const SUMMARY: [&str; 15] = [
    "case_id",
    "status",
    "chain",
    "ref",
    "direction",
    "policy",
    "source_sats",
    "unspent_sats",
    "at_services_sats",
    "fees_sats",
    "txs",
    "total_sats",
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
