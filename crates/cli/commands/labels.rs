//! `chaintrace labels import|list|show`: attribution data in the index.

use std::io::Write;
use std::path::Path;

use chaintrace_labels::{FileReport, Invalid, LabelError, ParseOptions, Resolved};
use chaintrace_model::{Category, Label, Network};
use chaintrace_store::btc::{display_hash, BtcIndex};
use chaintrace_store::eth::EthIndex;
use chaintrace_store::labels::LabelStore;
use chaintrace_store::tables::{LabelId, LabelTarget};
use chaintrace_store::{OpenMode, Store};
use clap::ValueEnum;
use serde_json::{json, Value};

use crate::args::{
    Format, LabelFormat, LabelsCommand, LabelsImportArgs, LabelsListArgs, LabelsShowArgs,
};
use crate::exit::{data, usage, Coded, IOERR, NOINPUT};
use crate::render;

pub fn run(db: &Path, cmd: &LabelsCommand) -> anyhow::Result<()> {
    match cmd {
        LabelsCommand::Import(args) => import(db, args),
        LabelsCommand::List(args) => list(db, args),
        LabelsCommand::Show(args) => show(db, args),
    }
}

/// The network addresses are checked for: the index's, else `--network`, else main.
fn network_of(store: &Store, flag: Option<Network>) -> anyhow::Result<Network> {
    match (BtcIndex::new(store).network()?, flag) {
        (Some(index), Some(flag)) if index != flag => Err(usage(format!(
            "the index at {} holds {index} data, so its labels are {index} addresses; \
             --network {flag} disagrees",
            store.path().display()
        ))),
        (Some(index), _) => Ok(index),
        (None, flag) => Ok(flag.unwrap_or(Network::Main)),
    }
}

fn label_error(e: LabelError) -> anyhow::Error {
    let message = e.to_string();
    match e {
        LabelError::Malformed { .. } => data(message),
        LabelError::Ambiguous { .. } => usage(message),
        LabelError::Read { source, .. } => {
            let missing = source.kind() == std::io::ErrorKind::NotFound;
            Coded {
                code: if missing { NOINPUT } else { IOERR },
                message,
            }
            .into()
        }
    }
}

/// The labels crate's format of a `--format` value. Matched by name, so every format the
/// argument parser offers is one the crate reads, without a list to keep in step.
fn label_format(f: LabelFormat) -> anyhow::Result<chaintrace_labels::Format> {
    let name = f.to_possible_value().map(|v| v.get_name().to_string());
    name.unwrap_or_default().parse().map_err(usage)
}

fn import(db: &Path, args: &LabelsImportArgs) -> anyhow::Result<()> {
    let opts = ParseOptions {
        currency: args.chain.clone(),
    };
    let format = args.format.map(label_format).transpose()?;
    // Every file is read before the index is touched: a malformed file stops the whole run.
    let mut parsed = Vec::with_capacity(args.files.len());
    for path in &args.files {
        parsed.push(chaintrace_labels::parse_file(path, format, &opts).map_err(label_error)?);
    }
    let store = Store::open(db, OpenMode::Create)?;
    let network = network_of(&store, args.network)?;
    let resolved: Vec<Resolved> = parsed
        .into_iter()
        .map(|p| chaintrace_labels::resolve(p, network))
        .collect();
    if args.strict {
        refuse_invalid(&resolved)?;
    }
    let mut reports = Vec::with_capacity(resolved.len());
    for file in &resolved {
        reports.push(chaintrace_labels::import(&store, file)?);
    }
    let out =
        json!({ "db": db.display().to_string(), "network": network.as_str(), "files": reports });
    match args.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        Format::Table => reports.iter().for_each(print_import),
    }
    Ok(())
}

/// With `--strict`, lists every invalid entry on stderr and fails before anything is written.
fn refuse_invalid(files: &[Resolved]) -> anyhow::Result<()> {
    let total: usize = files.iter().map(|f| f.invalid.len()).sum();
    if total == 0 {
        return Ok(());
    }
    for f in files {
        for i in &f.invalid {
            eprintln!("{}", invalid_line(&f.path, i));
        }
    }
    Err(data(format!(
        "--strict: {total} invalid {} (listed above); nothing was imported",
        if total == 1 { "entry" } else { "entries" }
    )))
}

fn invalid_line(file: &str, i: &Invalid) -> String {
    let text = if i.text.is_empty() {
        String::new()
    } else {
        format!("  {}", i.text)
    };
    format!("{file}:{}{text}  {}", i.at, i.reason)
}

/// Invalid entries a table lists; `--output json` has them all.
const INVALID_ROWS: usize = 20;

fn print_import(r: &FileReport) {
    println!("{} ({}, {} entries)", r.file, r.format, r.entries);
    let mut rows = vec![(
        "imported",
        format!("{} on {}", plural(r.labels, "label"), targets(r)),
    )];
    if r.replaced > 0 {
        rows.push((
            "replaced",
            format!(
                "{} of the earlier import of this file",
                plural(r.replaced, "label")
            ),
        ));
    }
    rows.push(("not indexed", not_indexed(r)));
    if !r.skipped_other_chain.is_empty() {
        let per: Vec<String> = r
            .skipped_other_chain
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        let total: usize = r.skipped_other_chain.values().sum();
        rows.push((
            "skipped",
            format!("{total} of other chains ({})", per.join(", ")),
        ));
    }
    rows.push(("invalid", r.invalid.len().to_string()));
    render::key_values(&rows);
    for i in r.invalid.iter().take(INVALID_ROWS) {
        println!("    {}", invalid_line(&r.file, i));
    }
    if r.invalid.len() > INVALID_ROWS {
        println!(
            "    ... and {} more (--output json lists all)",
            r.invalid.len() - INVALID_ROWS
        );
    }
}

/// `1 label`, `2 labels`, `1,024 addresses`.
fn plural(n: usize, what: &str) -> String {
    let s = if n == 1 {
        ""
    } else if what.ends_with('s') {
        "es"
    } else {
        "s"
    };
    format!("{} {what}{s}", render::count(n as u64))
}

/// What a file labelled, per kind: `606 addresses and 0 outputs` for Bitcoin only (outputs
/// are always named, as they are what a case file may declare), `22 Ethereum addresses` for
/// Ethereum only, both when the file holds both.
fn targets(r: &FileReport) -> String {
    let bitcoin = format!(
        "{} and {}",
        plural(r.addresses, "address"),
        plural(r.outputs, "output")
    );
    let ethereum = plural(r.eth_addresses, "Ethereum address");
    match (r.addresses + r.outputs > 0, r.eth_addresses > 0) {
        (true, true) => format!("{bitcoin}, and {ethereum}"),
        (false, true) => ethereum,
        _ => bitcoin,
    }
}

/// How many labelled targets the index does not hold yet, per kind, said as for Bitcoin:
/// `3 of 22 Ethereum addresses`.
fn not_indexed(r: &FileReport) -> String {
    let eth_only = r.eth_addresses > 0 && r.addresses + r.outputs == 0;
    let mut parts = Vec::new();
    if r.addresses > 0 || (r.outputs == 0 && !eth_only) {
        parts.push(format!(
            "{} of {} addresses",
            r.addresses_not_in_index, r.addresses
        ));
    }
    if r.outputs > 0 {
        parts.push(format!(
            "{} of {} outputs",
            r.outputs_not_in_index, r.outputs
        ));
    }
    if r.eth_addresses > 0 {
        parts.push(format!(
            "{} of {} Ethereum addresses",
            r.eth_addresses_not_in_index, r.eth_addresses
        ));
    }
    let mut s = parts.join(" and ");
    let missing = r.addresses_not_in_index + r.outputs_not_in_index + r.eth_addresses_not_in_index;
    if missing > 0 {
        s += " (their labels apply as soon as blocks using them are indexed)";
    }
    s
}

fn list(db: &Path, args: &LabelsListArgs) -> anyhow::Result<()> {
    let store = Store::open(db, OpenMode::ReadOnly)?;
    let labels = LabelStore::new(&store);
    let wanted = args.category.as_deref().map(Category::parse);
    let mut rows = Vec::new();
    for item in labels.all() {
        let (id, label) = item?;
        if wanted.as_ref().is_none_or(|c| *c == label.category) {
            rows.push(list_row(&labels, id, &label)?);
        }
    }
    let files: Vec<Value> = labels
        .files()
        .map(|f| f.map(|(file, r)| json!({"file": file, "format": r.format, "sha256": r.sha256, "labels": r.labels.len(), "targets": r.targets})))
        .collect::<Result<_, _>>()?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({"labels": rows, "files": files}))?
        ),
        Format::Table => print_list(&rows, files.len())?,
    }
    Ok(())
}

fn list_row(labels: &LabelStore<'_>, id: LabelId, label: &Label) -> anyhow::Result<Value> {
    let (mut addresses, mut outputs, mut eth_addresses) = (0u64, 0u64, 0u64);
    for target in labels.targets(id) {
        match target? {
            LabelTarget::BtcAddr(_) => addresses += 1,
            LabelTarget::BtcOutput(..) => outputs += 1,
            LabelTarget::EthAddr(_) => eth_addresses += 1,
        }
    }
    let mut row = label_json(id, label);
    row["addresses"] = addresses.into();
    row["outputs"] = outputs.into();
    row["eth_addresses"] = eth_addresses.into();
    Ok(row)
}

fn label_json(id: LabelId, l: &Label) -> Value {
    json!({
        "id": id.0, "name": l.name, "category": l.category, "raw_category": l.raw_category,
        "abuse": l.abuse, "confidence": l.confidence, "source": l.source, "file": l.file,
        "is_cluster_definer": l.is_cluster_definer, "actor": l.actor,
    })
}

/// Writes the table of labels; a reader that stops early (`| head`) is not an error.
fn print_list(rows: &[Value], files: usize) -> std::io::Result<()> {
    match write_list(&mut std::io::stdout().lock(), rows, files) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn write_list(out: &mut impl Write, rows: &[Value], files: usize) -> std::io::Result<()> {
    let header = [
        "ID",
        "CATEGORY",
        "CONF",
        "ADDRESSES",
        "OUTPUTS",
        "ETH ADDRS",
        "NAME",
        "FILE",
    ];
    let n = |r: &Value, k: &str| r[k].as_u64().unwrap_or(0).to_string();
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or_default().to_string();
    let mut line = |c: [String; 8]| {
        writeln!(
            out,
            "{:>5}  {:<16} {:>4} {:>9} {:>7} {:>9}  {:<30}  {}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
        )
    };
    line(header.map(str::to_string))?;
    for r in rows {
        line([
            n(r, "id"),
            s(r, "category"),
            n(r, "confidence"),
            n(r, "addresses"),
            n(r, "outputs"),
            n(r, "eth_addresses"),
            s(r, "name"),
            s(r, "file"),
        ])?;
    }
    writeln!(
        out,
        "{} shown; {} imported",
        plural(rows.len(), "label"),
        plural(files, "file")
    )
}

fn show(db: &Path, args: &LabelsShowArgs) -> anyhow::Result<()> {
    let store = Store::open(db, OpenMode::ReadOnly)?;
    let text = args.target.trim();
    // `0x` + hex is an Ethereum address whatever the Bitcoin network; anything else is read
    // as a Bitcoin address or output of the index's network.
    let out = if chaintrace_labels::looks_like_eth(text) {
        show_eth(&store, text)?
    } else {
        show_btc(&store, text, args.network)?
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        Format::Table => print_show(&out),
    }
    Ok(())
}

fn show_btc(store: &Store, text: &str, flag: Option<Network>) -> anyhow::Result<Value> {
    let network = network_of(store, flag)?;
    let target = chaintrace_labels::parse_target(text, network).map_err(data)?;
    let btc = BtcIndex::new(store);
    let labels = LabelStore::new(store);
    let (kind, text, in_index, found) = match &target {
        LabelTarget::BtcAddr(a) => (
            "address",
            a.to_address_string(network),
            btc.addr_id(a)?.is_some(),
            labels.of_btc_addr(a)?,
        ),
        LabelTarget::BtcOutput(txid, vout) => (
            "output",
            format!("{}:{vout}", display_hash(txid)),
            chaintrace_labels::output_indexed(&btc, txid, *vout)?,
            labels.of_btc_output(txid, *vout)?,
        ),
        // parse_target reads Bitcoin targets only; Ethereum ones are shown by show_eth.
        LabelTarget::EthAddr(_) => return Err(data(format!("{text:?} is not a Bitcoin target"))),
    };
    let list: Vec<Value> = found.iter().map(|(id, l)| label_json(*id, l)).collect();
    Ok(
        json!({"kind": kind, "chain": "btc", "target": text, "network": network.as_str(), "in_index": in_index, "labels": list}),
    )
}

/// An Ethereum address's labels, shown in its EIP-55 form.
fn show_eth(store: &Store, text: &str) -> anyhow::Result<Value> {
    let address = chaintrace_labels::parse_eth_address(text).map_err(|e| data(e.to_string()))?;
    let in_index = EthIndex::new(store).addr_id(&address)?.is_some();
    let found = LabelStore::new(store).of_eth_addr(&address.0 .0)?;
    let list: Vec<Value> = found.iter().map(|(id, l)| label_json(*id, l)).collect();
    Ok(
        json!({"kind": "address", "chain": "eth", "target": address.to_checksum(None), "in_index": in_index, "labels": list}),
    )
}

fn print_show(v: &Value) {
    let chain = if v["chain"] == "eth" { "Ethereum " } else { "" };
    println!(
        "{chain}{} {}",
        v["kind"].as_str().unwrap_or_default(),
        v["target"].as_str().unwrap_or_default()
    );
    let in_index = if v["in_index"] == true {
        "yes".to_string()
    } else {
        "no (its labels apply as soon as blocks using it are indexed)".to_string()
    };
    let labels = v["labels"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    render::key_values(&[("in index", in_index), ("labels", labels.len().to_string())]);
    for l in labels {
        let s = |k: &str| {
            l[k].as_str()
                .filter(|v| !v.is_empty())
                .unwrap_or("-")
                .to_string()
        };
        println!("  [{}] {}", l["id"], s("name"));
        render::key_values(&[
            (
                "  category",
                format!(
                    "{}  (raw category {}, abuse {})",
                    s("category"),
                    s("raw_category"),
                    s("abuse")
                ),
            ),
            ("  confidence", l["confidence"].to_string()),
            ("  source", s("source")),
            ("  file", s("file")),
            ("  actor", s("actor")),
            ("  cluster definer", yes_no(l["is_cluster_definer"] == true)),
        ]);
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}
