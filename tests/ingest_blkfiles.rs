//! Block files as real nodes leave them: out of order across many small files, with stale
//! branches, obfuscated, preallocated; a reorg that arrives through the block files; and the
//! same mainnet blocks offered more than once.

mod common;

use std::path::Path;

use bitcoin::hashes::Hash;
use bitcoin::Block;
use chaintrace_fixturegen::{fork_chain, write_chain, BlkWriter, BlkWriterOptions, ChainSpec};
use chaintrace_store::btc::BtcIndex;
use chaintrace_store::{OpenMode, Store};
use common::*;

const SEED: &str = "9";
const TXS: &str = "20000";
const TXS_PER_BLOCK: &str = "50";

/// The spec `gen chain --txs 20000 --txs-per-block 50 --seed 9 --stale 3` builds.
fn core_spec() -> ChainSpec {
    ChainSpec {
        seed: 9,
        blocks: 100 + 20_000 / 50,
        txs_per_block: 50,
        stale_branches: 3,
        ..ChainSpec::default()
    }
}

#[test]
fn same_chain_in_any_file_layout_gives_the_same_index() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |name: &str| tmp.path().join(name);
    let base = [
        "--txs",
        TXS,
        "--txs-per-block",
        TXS_PER_BLOCK,
        "--seed",
        SEED,
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().chain(extra.iter()).copied().collect()
    };

    let plain = gen_chain(&t("plain"), &base);
    let shuffled = gen_chain(
        &t("shuffled"),
        &with(&[
            "--shuffle",
            "64",
            "--max-file-size",
            "200000",
            "--stale",
            "5",
        ]),
    );
    let xor = gen_chain(&t("xor"), &with(&["--xor", "0f1e2d3c4b5a6978"]));
    // What a Core node leaves: a 1024-block download window (here: the whole chain after
    // genesis) and files zero-padded to 16 MiB chunks. The obfuscated variant is
    // `core28_obfuscated_preallocated_files` below.
    let spec = core_spec();
    let core_opts = BlkWriterOptions {
        xor_key: None,
        ..BlkWriterOptions::core_like(9)
    };
    let core = write_chain(&spec, &core_opts, &t("core")).unwrap();
    let padded = std::fs::metadata(t("core").join("blk00000.dat"))
        .unwrap()
        .len();
    assert_eq!(padded % (16 << 20), 0, "core-like files are preallocated");

    // Same active chain whatever the layout; stale branches come on top.
    assert_eq!((plain.blocks, plain.stale, plain.files), (501, 0, 1));
    assert!(shuffled.stale >= 5, "{shuffled:?}");
    assert!(shuffled.files >= 10, "{shuffled:?}");
    for other in [&shuffled, &xor] {
        assert_eq!(
            (other.blocks, other.txs, other.tip_height, &other.tip_hash),
            (plain.blocks, plain.txs, plain.tip_height, &plain.tip_hash)
        );
    }
    assert_eq!(core.tip_hash.to_string(), plain.tip_hash);
    assert_eq!((core.blocks, core.txs), (plain.blocks, plain.txs));
    assert!(core.stale_blocks >= 3);

    // Files without the genesis block (the ingest supplies the network's own).
    let active = active_chain(&ChainSpec {
        stale_branches: 0,
        ..core_spec()
    });
    assert_eq!(active.len() as u64, plain.blocks);
    assert_eq!(
        active.last().unwrap().block_hash().to_string(),
        plain.tip_hash
    );
    write_blk(&t("no-genesis"), 0, &active[1..]);

    let layouts = [
        ("plain", 0),
        ("shuffled", shuffled.stale),
        ("xor", 0),
        ("core", core.stale_blocks),
        ("no-genesis", 0),
    ];
    let mut reference: Option<(String, Chain)> = None;
    for (name, stale) in layouts {
        let db = t(&format!("{name}-db"));
        let run = ingest_ok(&db, &t(name));
        assert_eq!(indexed(&run.stderr), (plain.blocks, plain.txs), "{name}");
        if stale > 0 {
            run.stderr_has(&[&format!("skipped {stale} stale and 0 orphan blocks")]);
        } else {
            assert!(!run.stderr.contains("skipped"), "{name}: {}", run.stderr);
        }
        let s = status(&db);
        let c = chain_of(&s).unwrap();
        assert_eq!(c.network, "regtest");
        assert_eq!(c.tip_height, Some(plain.tip_height), "{name}");
        assert_eq!(
            c.tip_hash.as_deref(),
            Some(plain.tip_hash.as_str()),
            "{name}"
        );
        assert_eq!((c.blocks, c.txs), (plain.blocks, plain.txs), "{name}");
        match &reference {
            None => reference = Some((digest_of(&s), c)),
            Some((d, rc)) => {
                assert_eq!(&c, rc, "{name}: status differs from the plain layout");
                assert_eq!(
                    &digest_of(&s),
                    d,
                    "{name}: digest differs from the plain layout"
                );
            }
        }
    }
}

/// Bitcoin Core 28+ obfuscates block files with the key in `xor.dat` but preallocates them in
/// 16 MiB chunks with `fallocate`, so the tail after the last block is plain zeros on disk,
/// not obfuscated zeros (fixturegen's `BlkWriter` reproduces this). The reader must recognise
/// that tail before removing the obfuscation.
#[test]
fn core28_obfuscated_preallocated_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("blocks");
    let opts = BlkWriterOptions::core_like(9);
    let key = opts.xor_key.expect("core_like obfuscates");
    let summary = write_chain(&core_spec(), &opts, &dir).unwrap();
    assert_eq!(std::fs::read(dir.join("xor.dat")).unwrap(), key);
    let file = std::fs::read(dir.join("blk00000.dat")).unwrap();
    assert_eq!(file.len() % (16 << 20), 0);
    assert_eq!(
        file.last(),
        Some(&0),
        "the preallocated tail is plain zeros"
    );

    let plain = tmp.path().join("plain");
    let gen = gen_chain(
        &plain,
        &[
            "--txs",
            TXS,
            "--txs-per-block",
            TXS_PER_BLOCK,
            "--seed",
            SEED,
        ],
    );
    assert_eq!(summary.tip_hash.to_string(), gen.tip_hash);
    let reference = tmp.path().join("plain-db");
    ingest_ok(&reference, &plain);

    let db = tmp.path().join("db");
    let run = ingest_ok(&db, &dir);
    assert_eq!(indexed(&run.stderr), (summary.blocks, summary.txs));
    run.stderr_has(&[&format!(
        "skipped {} stale and 0 orphan blocks",
        summary.stale_blocks
    )]);
    let s = status(&db);
    assert_eq!(chain_of(&s), chain_of(&status(&reference)));
    assert_eq!(digest_of(&s), digest(&reference));
}

fn write_blocks(dir: &Path, blocks: &[&Block], opts: &BlkWriterOptions) {
    let mut w = BlkWriter::create(dir, opts).unwrap();
    for b in blocks {
        w.write_block(b).unwrap();
    }
    let stats = w.finish().unwrap();
    assert_eq!(stats.blocks, blocks.len() as u64);
}

#[test]
fn reorg_arriving_through_block_files() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |name: &str| tmp.path().join(name);
    let spec = ChainSpec {
        seed: 21,
        txs_per_block: 10,
        stale_branches: 0,
        ..ChainSpec::default()
    };
    let fork = 110u32;
    let (common, a, b) = fork_chain(&spec, fork, 3, 5);
    // `common` starts with the regtest genesis; BlkWriter writes blocks as given.
    assert_eq!(common.len(), fork as usize + 1);
    assert_eq!(
        common[0].block_hash(),
        bitcoin::constants::genesis_block(bitcoin::Network::Regtest).block_hash()
    );
    assert_eq!(
        a[0].header.prev_blockhash,
        common[fork as usize].block_hash()
    );
    assert_eq!(
        b[0].header.prev_blockhash,
        common[fork as usize].block_hash()
    );
    // Branch b spends a coin that branch a spends too, in a different transaction.
    let spent = |branch: &[Block]| -> Vec<bitcoin::OutPoint> {
        branch
            .iter()
            .flat_map(|blk| blk.txdata.iter().skip(1))
            .flat_map(|tx| tx.input.iter().map(|i| i.previous_output))
            .collect()
    };
    let (spent_a, spent_b) = (spent(&a), spent(&b));
    assert!(spent_a.iter().any(|o| spent_b.contains(o)));

    let plain = BlkWriterOptions::default();
    let dir1: Vec<&Block> = common.iter().chain(&a).collect();
    let dir2: Vec<&Block> = common.iter().chain(&a).chain(&b).collect();
    let dir3: Vec<&Block> = common.iter().chain(&b).collect();
    write_blocks(&t("dir1"), &dir1, &plain);
    write_blocks(&t("dir2"), &dir2, &plain);
    write_blocks(&t("dir3"), &dir3, &plain);
    // dir2 again, out of order across small files.
    let scattered = BlkWriterOptions {
        max_file_size: 20_000,
        shuffle_window: 16,
        seed: 5,
        ..BlkWriterOptions::default()
    };
    write_blocks(&t("dir2-scattered"), &dir2, &scattered);

    let a_tip = fork as u64 + a.len() as u64;
    let b_tip = fork as u64 + b.len() as u64;
    let db = t("db");
    let run = ingest_ok(&db, &t("dir1"));
    assert_eq!(indexed(&run.stderr).0, a_tip + 1);
    let c = chain_of(&status(&db)).unwrap();
    assert_eq!(c.tip_height, Some(a_tip));
    assert_eq!(c.tip_hash, Some(a.last().unwrap().block_hash().to_string()));

    // Branch b has more work: roll a back, apply b.
    let run = ingest_ok(&db, &t("dir2"));
    run.stderr_has(&[
        &format!("rolled back {} blocks", a.len()),
        &format!("skipped {} stale and 0 orphan blocks", a.len()),
    ]);
    assert_eq!(indexed(&run.stderr).0, b.len() as u64);
    let reorged = status(&db);
    let c = chain_of(&reorged).unwrap();
    assert_eq!(c.tip_height, Some(b_tip));
    assert_eq!(c.tip_hash, Some(b.last().unwrap().block_hash().to_string()));
    assert_eq!(c.blocks, b_tip + 1);

    // Identical to indexes that never saw branch a.
    for (name, dir) in [
        ("fresh-b", "dir3"),
        ("fresh-ab", "dir2"),
        ("scattered", "dir2-scattered"),
    ] {
        let fresh = t(name);
        let run = ingest_ok(&fresh, &t(dir));
        assert!(!run.stderr.contains("rolled back"), "{}", run.stderr);
        let s = status(&fresh);
        assert_eq!(chain_of(&s), Some(c.clone()), "{name}");
        assert_eq!(digest_of(&s), digest_of(&reorged), "{name}");
    }

    // Branch a's own transactions are gone; b's are there at their heights.
    {
        let store = Store::open(&db, OpenMode::ReadOnly).unwrap();
        let index = BtcIndex::new(&store);
        for (i, blk) in a.iter().enumerate() {
            for tx in blk
                .txdata
                .iter()
                .filter(|tx| !b.iter().any(|bb| bb.txdata.contains(tx)))
            {
                let txid = tx.compute_txid().to_byte_array();
                assert!(
                    index.tx_by_txid(&txid).unwrap().is_none(),
                    "tx {} of rolled-back block {} is still indexed",
                    tx.compute_txid(),
                    fork as usize + 1 + i
                );
            }
        }
        for (i, blk) in b.iter().enumerate() {
            for tx in &blk.txdata {
                let (_, rec) = index
                    .tx_by_txid(&tx.compute_txid().to_byte_array())
                    .unwrap()
                    .unwrap_or_else(|| panic!("tx {} of branch b missing", tx.compute_txid()));
                assert_eq!(rec.height, fork + 1 + i as u32);
            }
        }
    }

    // Offering the losing branch again changes nothing.
    let run = ingest_ok(&db, &t("dir1"));
    assert_eq!(indexed(&run.stderr), (0, 0));
    assert!(!run.stderr.contains("rolled back"), "{}", run.stderr);
    assert_eq!(digest(&db), digest_of(&reorged));
}

/// Offsets of the records of a mainnet blk file.
fn mainnet_records(data: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut pos = 0;
    while pos + 8 <= data.len() && data[pos..pos + 4] == [0xf9, 0xbe, 0xb4, 0xd9] {
        offsets.push(pos);
        let len = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += 8 + len;
    }
    assert_eq!(pos, data.len(), "the fixture is whole records");
    offsets
}

#[test]
fn overlapping_mainnet_sources_are_indexed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |name: &str| tmp.path().join(name);
    let data = std::fs::read(mainnet_fixture()).unwrap();
    let records = mainnet_records(&data);
    assert_eq!(records.len(), 439);
    let once = t("once");
    std::fs::create_dir_all(&once).unwrap();
    std::fs::write(once.join("blk00000.dat"), &data).unwrap();

    let db = t("db");
    let run = ingest(&db, &once, "main").ok();
    assert_eq!(indexed(&run.stderr), (439, 446));
    let first = status(&db);
    let c = chain_of(&first).unwrap();
    assert_eq!(c.network, "main");
    assert_eq!(c.tip_height, Some(438));
    assert_eq!(c.tip_hash.as_deref(), Some(MAINNET_TIP_HASH));
    assert_eq!((c.blocks, c.txs), (439, 446));

    // The same file again: nothing to do, nothing changes.
    let run = ingest(&db, &once, "main").ok();
    assert_eq!(indexed(&run.stderr), (0, 0));
    assert!(!run.stderr.contains("rolled back"), "{}", run.stderr);
    let second = status(&db);
    assert_eq!(digest_of(&second), digest_of(&first));
    assert_eq!(chain_of(&second), Some(c.clone()));

    // The blocks twice in one directory (two files with the same content).
    let twice = t("twice");
    std::fs::create_dir_all(&twice).unwrap();
    std::fs::write(twice.join("blk00000.dat"), &data).unwrap();
    std::fs::write(twice.join("blk00001.dat"), &data).unwrap();
    let run = ingest(&db, &twice, "main").ok();
    assert_eq!(indexed(&run.stderr), (0, 0));
    assert_eq!(digest(&db), digest_of(&first));
    let fresh = t("fresh-twice");
    let run = ingest(&fresh, &twice, "main").ok();
    assert_eq!(indexed(&run.stderr), (439, 446));
    assert!(!run.stderr.contains("stale"), "{}", run.stderr);
    assert_eq!(digest(&fresh), digest_of(&first));

    // A prefix first (blocks 0..=199), then the whole file overlapping it.
    let prefix = t("prefix");
    std::fs::create_dir_all(&prefix).unwrap();
    std::fs::write(prefix.join("blk00000.dat"), &data[..records[200]]).unwrap();
    let stepwise = t("stepwise");
    let run = ingest(&stepwise, &prefix, "main").ok();
    assert_eq!(indexed(&run.stderr).0, 200);
    let run = ingest(&stepwise, &once, "main").ok();
    assert_eq!(indexed(&run.stderr).0, 239);
    assert!(!run.stderr.contains("rolled back"), "{}", run.stderr);
    assert_eq!(digest(&stepwise), digest_of(&first));
}
