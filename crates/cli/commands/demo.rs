//! `chaintrace demo`: the whole pipeline on bundled data, in a throwaway index.
//!
//! Part one indexes the first 439 blocks of Bitcoin's mainnet from a real `blk*.dat` file and
//! looks up the first payment between two people. Part two indexes the bundled heist scenario
//! (a regtest chain in Bitcoin Core's block-file format), imports its labels, traces the stolen
//! coins to where they are now and screens one of the exchange deposits. Part three does the
//! same on Ethereum: the bundled laundering scenario (recorded from a real node, anvil, and
//! served by a loopback JSON-RPC replay server, so no node is needed) is ingested over
//! JSON-RPC, labelled, traced across ether, internal transfers and an ERC-20 token under two
//! policies, and a commingled exchange deposit is screened.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chaintrace_fixturegen::{HeistManifest, MixersManifest};
use chaintrace_ingest::bitcoin::{ingest_blocks_dir, BulkOptions};
use chaintrace_model::btc::format_btc;
use chaintrace_model::Network;
use chaintrace_store::{OpenMode, Store};

use chaintrace_labels::ParseOptions;
use chaintrace_trace::account::tornado::{ThroughTornado, TornadoParams};
use chaintrace_trace::attribution::StopSet;
use chaintrace_trace::backward::ScreenParams;
use chaintrace_trace::policy::{Policy, Rules};

use crate::args::{
    ClusterCommand, ClusterExplainArgs, DemoArgs, Format, ShowArgs, ShowCommand, StatusArgs,
};
use crate::exit::data;
use crate::progress::Bars;
use crate::trace_args::PolicyArg;

const FIRST_PAYMENT: &str = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let fixtures = fixtures_dir(args)?;
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let work = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    mainnet(&fixtures, &work)?;
    heist(&fixtures, &work)?;
    mixers(&fixtures, &work)?;
    ethereum(&fixtures, &work)?;
    if let Some(dir) = &args.keep {
        println!(
            "\nthe demo indexes are in {}; try `chaintrace --db {} status`",
            dir.display(),
            dir.join("eth-db").display()
        );
    }
    Ok(())
}

fn fixtures_dir(args: &DemoArgs) -> anyhow::Result<PathBuf> {
    let dir = args
        .fixtures
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"));
    if dir.join("btc").is_dir() {
        Ok(dir)
    } else {
        Err(
            anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::NotFound)).context(
                format!(
                    "bundled fixtures not found at {} (pass --fixtures DIR)",
                    dir.display()
                ),
            ),
        )
    }
}

fn heading(title: &str) {
    println!("\n== {title} ==\n");
}

fn ingest(db: &Path, blocks: &Path, network: Network) -> anyhow::Result<()> {
    let store = Store::open(db, OpenMode::Create)?;
    let report = ingest_blocks_dir(&store, blocks, &BulkOptions::new(network), &Bars::default())
        .with_context(|| format!("ingesting {}", blocks.display()))?;
    println!(
        "indexed {} blocks and {} transactions in {:.2} s",
        report.blocks, report.txs, report.seconds
    );
    Ok(())
}

fn mainnet(fixtures: &Path, work: &Path) -> anyhow::Result<()> {
    heading("Bitcoin mainnet, blocks 0-438 (January 2009), from a real blk*.dat file");
    let blocks = work.join("mainnet-blocks");
    std::fs::create_dir_all(&blocks)?;
    std::fs::copy(
        fixtures.join("btc/mainnet/first-100k-blocks.dat"),
        blocks.join("blk00000.dat"),
    )
    .context("copying the mainnet fixture")?;
    let db = work.join("mainnet-db");
    ingest(&db, &blocks, Network::Main)?;
    println!();
    super::status::run(
        &db,
        &StatusArgs {
            digest: false,
            format: Format::Table,
        },
    )?;
    println!(
        "\nThe first payment between two people: Satoshi sends Hal Finney 10 BTC at height 170.\n"
    );
    let show = ShowCommand::Tx(ShowArgs {
        what: FIRST_PAYMENT.into(),
        format: Format::Table,
    });
    super::show::run(&db, &show)
}

fn heist(fixtures: &Path, work: &Path) -> anyhow::Result<()> {
    heading("The bundled heist: a hot-wallet theft laundered on a regtest chain");
    let dir = fixtures.join("btc/heist");
    let manifest: HeistManifest =
        serde_json::from_slice(&std::fs::read(dir.join("heist.json"))?)
            .map_err(|e| data(format!("{}: {e}", dir.join("heist.json").display())))?;
    let db = work.join("heist-db");
    ingest(&db, &dir.join("blocks"), Network::Regtest)?;
    import_labels(&db, &dir.join("heist.tagpack.yaml"))?;
    let t = &manifest.theft;
    println!(
        "\nThe theft: {} BTC leave Bitvault Exchange's hot wallet at height {} ({}), then run \
         through a peel chain of {} hops, a fan-out split, a 5-party CoinJoin and a consolidation.",
        format_btc(t.stolen_total_sats),
        t.height,
        t.txid,
        manifest.peel_chain.len(),
    );
    heading("Where did the stolen coins go? (forward trace, haircut policy)");
    println!("$ chaintrace trace --chain btc --from 'label:{THEFT_LABEL}'\n");
    trace_theft(&db)?;
    let deposit = manifest
        .deposits
        .last()
        .ok_or_else(|| data("the heist manifest lists no deposits"))?;
    heading("Screening a deposit at an exchange (backward exposure)");
    let reference = format!("{}:{}", deposit.txid, deposit.vout);
    println!("$ chaintrace screen --chain btc {reference}\n");
    let store = super::tracing_env::open(&db)?;
    let env = super::tracing_env::Env::new(&store)?;
    let report =
        super::tracing_env::backward_report(&env, &reference, &ScreenParams::default(), 1_000)?;
    super::screen::print_table(&report);
    println!(
        "\nThe ground truth of the scenario is in {}.",
        dir.join("heist.json").display()
    );
    Ok(())
}

/// The mixers scenario: a theft taken through Whirlpool, Wasabi 1 and 2, JoinMarket and a long
/// peel chain; traced through every CoinJoin, and the thief's addresses explained as a cluster.
fn mixers(fixtures: &Path, work: &Path) -> anyhow::Result<()> {
    heading("Through the mixers: Whirlpool, Wasabi, JoinMarket and a 54-hop peel chain");
    let dir = fixtures.join("btc/mixers");
    let manifest: MixersManifest = serde_json::from_slice(&std::fs::read(dir.join("mixers.json"))?)
        .map_err(|e| data(format!("{}: {e}", dir.join("mixers.json").display())))?;
    let db = work.join("mixers-db");
    ingest(&db, &dir.join("blocks"), Network::Regtest)?;
    import_labels(&db, &dir.join("mixers.tagpack.yaml"))?;
    println!(
        "\nThe theft: {} BTC leave Meridian Exchange at height {} ({}).",
        format_btc(manifest.theft.stolen_sats),
        manifest.theft.height,
        manifest.theft.txid
    );
    heading("Where did they go? (haircut; CoinJoins crossed by equal split, the default)");
    println!("$ chaintrace trace --chain btc --from 'label:{MIXERS_THEFT_LABEL}'\n");
    let store = super::tracing_env::open(&db)?;
    let env = super::tracing_env::Env::new(&store)?;
    let params =
        super::tracing_env::forward_params(Rules::new(Policy::Haircut), None, 0, StopSet::Services);
    let source = format!("label:{MIXERS_THEFT_LABEL}");
    let run = super::tracing_env::forward_run(&env, &[source], &params, 1_000)?;
    super::trace::print_table(&run.summary_value()?);
    drop(env);
    drop(store);
    let Some(together) = manifest
        .clusters
        .together
        .iter()
        .find(|c| c.heuristic == "multi_input")
    else {
        return Err(data("the mixers manifest lists no multi-input cluster"));
    };
    // From the first consolidation's first input to the last one's last: a multi-step answer.
    let first = together.merges.first().and_then(|m| m.addresses.first());
    let last = together.merges.last().and_then(|m| m.addresses.last());
    if let (Some(first), Some(last)) = (first, last) {
        heading("Why are these two addresses one actor? (common-input clustering)");
        println!("$ chaintrace cluster explain {first} {last}\n");
        let cmd = ClusterCommand::Explain(ClusterExplainArgs {
            from: first.clone(),
            to: last.clone(),
            format: Format::Table,
        });
        super::cluster::run(&db, &cmd)?;
    }
    println!(
        "\nThe ground truth of the scenario is in {}.",
        dir.join("mixers.json").display()
    );
    Ok(())
}

/// The theft label of the mixers tagpack.
const MIXERS_THEFT_LABEL: &str = "Meridian Exchange hack";

/// Name of the thief's addresses in the heist tagpack.
const THEFT_LABEL: &str = "Bitvault Exchange hack";

fn import_labels(db: &Path, pack: &Path) -> anyhow::Result<()> {
    import_labels_as(db, pack, None)
}

fn import_labels_as(
    db: &Path,
    pack: &Path,
    format: Option<chaintrace_labels::Format>,
) -> anyhow::Result<()> {
    let parsed = chaintrace_labels::parse_file(pack, format, &ParseOptions::default())
        .map_err(|e| data(e.to_string()))?;
    let store = Store::open(db, OpenMode::Create)?;
    let report = chaintrace_labels::import(
        &store,
        &chaintrace_labels::resolve(parsed, Network::Regtest),
    )?;
    let addresses = report.addresses + report.eth_addresses;
    println!(
        "imported {} labels for {addresses} addresses from {}",
        report.labels,
        pack.display()
    );
    Ok(())
}

fn trace_theft(db: &Path) -> anyhow::Result<()> {
    let store = super::tracing_env::open(db)?;
    let env = super::tracing_env::Env::new(&store)?;
    let params =
        super::tracing_env::forward_params(Rules::new(Policy::Haircut), None, 0, StopSet::Services);
    let run =
        super::tracing_env::forward_run(&env, &[format!("label:{THEFT_LABEL}")], &params, 1_000)?;
    super::trace::print_table(&run.summary_value()?);
    Ok(())
}

fn ethereum(fixtures: &Path, work: &Path) -> anyhow::Result<()> {
    use chaintrace_fixturegen::eth_scenario::{EthManifest, RECORDING};
    use chaintrace_ingest::ethereum::sync::{ingest_eth, EthIngestOptions};

    heading("Ethereum: a hot-wallet theft laundered through hops, a splitter, a token and a mixer");
    let dir = fixtures.join("eth/scenario");
    let manifest: EthManifest =
        serde_json::from_slice(&std::fs::read(dir.join("eth_scenario.json"))?)
            .map_err(|e| data(format!("{}: {e}", dir.join("eth_scenario.json").display())))?;
    let node = chaintrace_fixturegen::RpcReplay::try_start()
        .context("starting the loopback JSON-RPC server")?;
    node.load_pairs(&dir.join(RECORDING))
        .with_context(|| format!("loading {}", dir.join(RECORDING).display()))?;
    println!(
        "$ chaintrace ingest eth --rpc {}   (the recorded scenario node)\n",
        node.url()
    );
    let db = work.join("eth-db");
    let store = Store::open(&db, OpenMode::Create)?;
    let report = ingest_eth(
        &store,
        &EthIngestOptions::new(node.url()),
        &Bars::default(),
        &|| false,
    )?;
    println!(
        "indexed {} blocks, {} transactions, {} transfers (traces: {})",
        report.blocks, report.txs, report.transfers, report.traces
    );
    drop(store);
    import_labels(&db, &dir.join("eth_scenario.tagpack.yaml"))?;
    import_labels_as(
        &db,
        &dir.join("tornado_pools.json"),
        Some(chaintrace_labels::Format::Tornado),
    )?;
    let theft = &manifest.truth.theft;
    println!(
        "\nThe theft: 200 ETH and 400,000 CUSD leave Bitvault Exchange's hot wallet at block {} \
         ({} and {}), then hop, split through a forwarding contract, pass a commingling OTC \
         desk, enter a Tornado-style pool and reach two exchanges.",
        theft.block_number, theft.eth_tx, theft.token_tx
    );
    let store = super::tracing_env::open(&db)?;
    let env = super::eth_tracing::EthEnv::new(&store)?;
    let sources = [theft.eth_tx.clone(), theft.token_tx.clone()];
    for policy in [PolicyArg::Haircut, PolicyArg::Fifo] {
        let name = format!("{policy:?}").to_lowercase();
        heading(&format!(
            "Where did the stolen funds go? (forward trace, {name} policy)"
        ));
        println!(
            "$ chaintrace trace --chain eth --from {} --from {} --policy {name}\n",
            sources[0], sources[1]
        );
        let params = super::eth_tracing::forward_params(policy, None, "0", StopSet::Services)?;
        let tornado = TornadoParams {
            mode: ThroughTornado::AnonymitySet,
            ..TornadoParams::default()
        };
        let r = super::eth_tracing::forward_json(&env, &sources, &params, &tornado)?;
        super::eth_tracing::print_forward_table(&r);
    }
    let deposit = manifest
        .truth
        .exchange_deposits
        .iter()
        .find(|d| d.funds == "commingled")
        .ok_or_else(|| data("the scenario manifest lists no commingled deposit"))?;
    heading("Screening a deposit at an exchange (backward exposure)");
    println!("$ chaintrace screen --chain eth {}\n", deposit.tx);
    let params = super::screen::eth_params(6, None, Default::default());
    let r = super::eth_tracing::screen_json(&env, &deposit.tx, &params)?;
    super::screen::print_eth_table(&r);
    println!(
        "\nThe ground truth of the scenario is in {}.",
        dir.join("eth_scenario.json").display()
    );
    Ok(())
}
