//! `chaintrace demo`: the whole pipeline on bundled data, in a throwaway index.
//!
//! Part one indexes the first 439 blocks of Bitcoin's mainnet from a real `blk*.dat` file and
//! looks up the first payment between two people. Part two indexes the bundled heist scenario
//! (a regtest chain in Bitcoin Core's block-file format) and shows the theft.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chaintrace_fixturegen::HeistManifest;
use chaintrace_ingest::bitcoin::{ingest_blocks_dir, BulkOptions};
use chaintrace_model::btc::format_btc;
use chaintrace_model::Network;
use chaintrace_store::{OpenMode, Store};

use crate::args::{DemoArgs, Format, ShowArgs, ShowCommand, StatusArgs};
use crate::exit::data;
use crate::progress::Bars;

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
    if let Some(dir) = &args.keep {
        println!(
            "\nthe demo indexes are in {}; try `chaintrace --db {} status`",
            dir.display(),
            dir.join("heist-db").display()
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
    println!();
    super::status::run(
        &db,
        &StatusArgs {
            digest: false,
            format: Format::Table,
        },
    )?;
    let t = &manifest.theft;
    println!(
        "\nThe theft: {} BTC leave Bitvault Exchange's hot wallet at height {} in {} outputs.\n",
        format_btc(t.stolen_total_sats),
        t.height,
        t.stolen_outputs.len()
    );
    super::show::run(
        &db,
        &ShowCommand::Tx(ShowArgs {
            what: t.txid.clone(),
            format: Format::Table,
        }),
    )?;
    println!(
        "\nThe loot then runs through a peel chain of {} hops, a fan-out split, a 5-party CoinJoin \
         and a consolidation into {} exchange deposits (see {}).",
        manifest.peel_chain.len(),
        manifest.deposits.len(),
        dir.join("heist.json").display()
    );
    Ok(())
}
