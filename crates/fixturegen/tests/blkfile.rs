mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::{Block, BlockHash};
use chaintrace_fixturegen::{
    blk_path, generate_chain, read_blk_dir, read_xor_key, write_chain, BlkWriter, BlkWriterOptions,
    ChainSpec,
};
use common::sha256;

const MAGIC: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];

fn spec() -> ChainSpec {
    ChainSpec {
        seed: 11,
        blocks: 180,
        txs_per_block: 30,
        stale_branches: 4,
        wallets: 200,
    }
}

fn blk_files(dir: &Path) -> Vec<Vec<u8>> {
    (0..)
        .map(|n| fs::read(blk_path(dir, n)))
        .take_while(Result::is_ok)
        .map(|r| r.unwrap_or_default())
        .collect()
}

/// Every block of the spec, serialized, keyed by hash.
fn expected_blocks(spec: &ChainSpec) -> BTreeMap<BlockHash, Vec<u8>> {
    generate_chain(spec)
        .map(|g| (g.block.block_hash(), serialize(&g.block)))
        .collect()
}

fn small_files(seed: u64) -> BlkWriterOptions {
    BlkWriterOptions {
        max_file_size: 64 * 1024,
        shuffle_window: 32,
        xor_key: Some([0x13, 0x37, 0xc0, 0xde, 0x00, 0xff, 0x5a, 0xa5]),
        prealloc_chunk: Some(16 * 1024),
        seed,
    }
}

#[test]
fn plain_files_are_core_records_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_chain(&spec(), &BlkWriterOptions::default(), dir.path()).unwrap();
    assert!(!dir.path().join("xor.dat").exists());
    assert_eq!(read_xor_key(dir.path()).unwrap(), None);
    let files = blk_files(dir.path());
    assert_eq!(files.len(), 1);
    assert_eq!(summary.files, 1);
    assert_eq!(summary.bytes_written, files[0].len() as u64);
    // The first record is the regtest genesis block, in the clear.
    let genesis = serialize(&bitcoin::constants::genesis_block(
        bitcoin::Network::Regtest,
    ));
    assert_eq!(files[0][..4], MAGIC);
    assert_eq!(files[0][4..8], (genesis.len() as u32).to_le_bytes());
    assert_eq!(files[0][8..8 + genesis.len()], genesis[..]);
    let records = read_blk_dir(dir.path()).unwrap();
    let generated: Vec<_> = generate_chain(&spec())
        .map(|g| serialize(&g.block))
        .collect();
    let read: Vec<_> = records.iter().map(|r| r.raw.clone()).collect();
    assert_eq!(
        read, generated,
        "without shuffling the files hold arrival order"
    );
    assert_eq!(summary.blocks + summary.stale_blocks, records.len() as u64);
}

#[test]
fn xor_round_trip_gives_the_plain_records() {
    let plain = tempfile::tempdir().unwrap();
    let hidden = tempfile::tempdir().unwrap();
    let opts = small_files(5);
    write_chain(
        &spec(),
        &BlkWriterOptions {
            xor_key: None,
            ..opts.clone()
        },
        plain.path(),
    )
    .unwrap();
    write_chain(&spec(), &opts, hidden.path()).unwrap();
    assert_eq!(
        fs::read(hidden.path().join("xor.dat")).unwrap(),
        opts.xor_key.unwrap()
    );
    let plain_files = blk_files(plain.path());
    let hidden_files = blk_files(hidden.path());
    assert_eq!(plain_files.len(), hidden_files.len());
    let key = opts.xor_key.unwrap();
    for (p, h) in plain_files.iter().zip(&hidden_files) {
        assert_eq!(p.len(), h.len());
        assert_ne!(
            h[..4],
            MAGIC,
            "obfuscated files do not start with the magic"
        );
        let data_len = last_record_end(p);
        for i in 0..data_len {
            assert_eq!(h[i] ^ key[i % 8], p[i], "byte {i}");
        }
        // Preallocated tails stay raw zeros on disk.
        assert!(h[data_len..].iter().all(|b| *b == 0));
    }
    assert_eq!(
        read_blk_dir(plain.path()).unwrap(),
        read_blk_dir(hidden.path()).unwrap()
    );
}

fn last_record_end(file: &[u8]) -> usize {
    let mut pos = 0;
    while pos + 8 <= file.len() && file[pos..pos + 4] == MAGIC {
        let len = u32::from_le_bytes(file[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += 8 + len;
    }
    pos
}

#[test]
fn shuffled_small_files_hold_every_block_once() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_files(9);
    let summary = write_chain(&spec(), &opts, dir.path()).unwrap();
    let files = blk_files(dir.path());
    assert!(files.len() >= 5, "{} files", files.len());
    assert_eq!(summary.files as usize, files.len());
    for file in &files {
        assert_eq!(file.len() % (16 * 1024), 0, "preallocated in whole chunks");
        let plain = unxor(file, opts.xor_key.unwrap());
        assert!(last_record_end(&plain) < 64 * 1024 || count_records(&plain) == 1);
    }
    let records = read_blk_dir(dir.path()).unwrap();
    let expected = expected_blocks(&spec());
    let mut seen = BTreeMap::new();
    let mut position = BTreeMap::new();
    for (i, record) in records.iter().enumerate() {
        let block: Block = deserialize(&record.raw).unwrap();
        let hash = block.block_hash();
        assert_eq!(expected.get(&hash), Some(&record.raw));
        assert!(
            seen.insert(hash, ()).is_none(),
            "block {hash} written twice"
        );
        position.insert(hash, (i, block.header.prev_blockhash));
    }
    assert_eq!(seen.len(), expected.len());
    let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest).block_hash();
    assert_eq!(position[&genesis].0, 0, "genesis is written first");
    let children_first = position
        .values()
        .filter(|(i, prev)| position.get(prev).is_some_and(|(p, _)| p > i))
        .count();
    assert!(
        children_first > 0,
        "shuffling puts some children before their parents"
    );
    let crosses_files = records.windows(2).any(|w| w[0].file != w[1].file);
    assert!(crosses_files);
}

fn unxor(file: &[u8], key: [u8; 8]) -> Vec<u8> {
    let mut plain = file.to_vec();
    chaintrace_fixturegen::xor_in_place(&mut plain, &key, 0);
    plain
}

#[test]
fn identical_specs_write_identical_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let sa = write_chain(&spec(), &small_files(3), a.path()).unwrap();
    let sb = write_chain(&spec(), &small_files(3), b.path()).unwrap();
    assert_eq!(sa, sb);
    let digests = |dir: &Path| blk_files(dir).iter().map(|f| sha256(f)).collect::<Vec<_>>();
    assert_eq!(digests(a.path()), digests(b.path()));
    let c = tempfile::tempdir().unwrap();
    write_chain(&spec(), &small_files(4), c.path()).unwrap();
    assert_ne!(
        digests(a.path()),
        digests(c.path()),
        "the shuffle seed matters"
    );
}

#[test]
fn files_respect_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let opts = BlkWriterOptions {
        max_file_size: 40 * 1024,
        ..BlkWriterOptions::default()
    };
    write_chain(&spec(), &opts, dir.path()).unwrap();
    for file in blk_files(dir.path()) {
        let records = last_record_end(&file);
        assert_eq!(records, file.len());
        assert!(file.len() < 40 * 1024 || count_records(&file) == 1);
    }
}

fn count_records(file: &[u8]) -> usize {
    let mut pos = 0;
    let mut n = 0;
    while pos + 8 <= file.len() && file[pos..pos + 4] == MAGIC {
        pos += 8 + u32::from_le_bytes(file[pos + 4..pos + 8].try_into().unwrap()) as usize;
        n += 1;
    }
    n
}

#[test]
fn writer_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    write_chain(&spec(), &BlkWriterOptions::default(), dir.path()).unwrap();
    let again = write_chain(&spec(), &BlkWriterOptions::default(), dir.path());
    assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
    let bad = BlkWriterOptions {
        max_file_size: 0,
        ..BlkWriterOptions::default()
    };
    assert!(BlkWriter::create(&dir.path().join("other"), &bad).is_err());
}

#[test]
fn core_like_preset_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let opts = BlkWriterOptions::core_like(1);
    let spec = ChainSpec {
        blocks: 30,
        ..spec()
    };
    let summary = write_chain(&spec, &opts, dir.path()).unwrap();
    assert_eq!(
        summary.bytes_written,
        16 << 20,
        "one preallocated 16 MiB chunk"
    );
    assert_eq!(read_xor_key(dir.path()).unwrap(), opts.xor_key);
    assert_eq!(
        read_blk_dir(dir.path()).unwrap().len() as u64,
        summary.blocks + summary.stale_blocks
    );
}
