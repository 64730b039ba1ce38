//! Bad input through the real binary: every rejection must exit with the documented sysexits
//! code, name the file and byte offset (or the block), and leave the index exactly as it was —
//! both a fresh index and one already holding a good prefix of the chain.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use bitcoin::consensus::encode::serialize;
use bitcoin::Block;
use chaintrace_fixturegen::ChainSpec;
use chaintrace_store::tables::{Meta, MetaKey};
use chaintrace_store::{Batch, Durability, OpenMode, Store, StoreError};
use common::*;

/// Active chain used by most cases: heights 0..=140, transactions from height 101 on.
fn chain() -> Vec<Block> {
    let blocks = active_chain(&ChainSpec {
        seed: 11,
        blocks: 140,
        txs_per_block: 8,
        stale_branches: 0,
        ..ChainSpec::default()
    });
    assert_eq!(blocks.len(), 141);
    blocks
}

/// Blocks 0..=120: the good prefix, stored as `blk00000.dat`.
const PREFIX: usize = 121;

/// A work area holding the good prefix as a blocks directory and an index built from it.
struct Setup {
    tmp: tempfile::TempDir,
    blocks: Vec<Block>,
}

impl Setup {
    fn new() -> Setup {
        let setup = Setup {
            tmp: tempfile::tempdir().unwrap(),
            blocks: chain(),
        };
        write_blk(&setup.prefix_dir(), 0, &setup.blocks[..PREFIX]);
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn prefix_dir(&self) -> PathBuf {
        self.path("prefix")
    }

    /// A new index holding blocks 0..=120; returns its path and status.
    fn prefix_index(&self, name: &str) -> (PathBuf, serde_json::Value) {
        let db = self.path(name);
        let run = ingest_ok(&db, &self.prefix_dir());
        let txs: usize = self.blocks[..PREFIX].iter().map(|b| b.txdata.len()).sum();
        assert_eq!(indexed(&run.stderr), (PREFIX as u64, txs as u64));
        let s = status(&db);
        let c = chain_of(&s).expect("btc chain");
        assert_eq!(c.tip_height, Some(PREFIX as u64 - 1));
        assert_eq!(
            c.tip_hash.as_deref(),
            Some(self.blocks[PREFIX - 1].block_hash().to_string().as_str())
        );
        (db, s)
    }

    /// A blocks directory: the good prefix as `blk00000.dat` plus `extra` as `blk00001.dat`.
    fn dir_with_extra(&self, name: &str, extra: &[u8]) -> PathBuf {
        let dir = self.path(name);
        copy_dir(&self.prefix_dir(), &dir);
        std::fs::write(dir.join("blk00001.dat"), extra).unwrap();
        dir
    }

    /// Blocks 121..=140 as block-file bytes, with their record offsets.
    fn rest(&self) -> (Vec<u8>, Vec<u64>) {
        blk_bytes(&self.blocks[PREFIX..])
    }
}

/// Fails the same bad directory into a fresh index and into an index holding the good prefix.
/// Both runs must exit with `code` and an `error:` line containing every needle; the fresh index
/// must hold no blocks and the prefix index must keep its exact content.
fn assert_rejected(setup: &Setup, bad: &Path, network: &str, code: i32, needles: &[&str]) {
    let fresh = setup.path(&format!("fresh-{}", name_of(bad)));
    let run = ingest(&fresh, bad, network).expect_code(code);
    assert_error_has(&run, needles);
    assert_no_blocks(&fresh);

    let (db, before) = setup.prefix_index(&format!("prefix-{}", name_of(bad)));
    let run = ingest(&db, bad, network).expect_code(code);
    assert_error_has(&run, needles);
    let after = status(&db);
    assert_eq!(
        digest_of(&after),
        digest_of(&before),
        "a failed ingest changed the index"
    );
    assert_eq!(chain_of(&after), chain_of(&before));
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn assert_error_has(run: &Run, needles: &[&str]) {
    let line = run.error_line();
    for n in needles {
        assert!(
            line.contains(n),
            "error line does not mention {n:?}: {line}"
        );
    }
}

#[test]
fn truncated_last_record_is_rejected_with_its_offset() {
    let s = Setup::new();
    let (rest, offsets) = s.rest();
    let last = *offsets.last().unwrap();
    let len = serialize(s.blocks.last().unwrap()).len() as u64;
    assert_eq!(last + 8 + len, rest.len() as u64);

    // Cut in the middle of the last block's bytes.
    let keep = len / 2;
    let bad = s.dir_with_extra("cut-body", &rest[..(last + 8 + keep) as usize]);
    assert_rejected(
        &s,
        &bad,
        "regtest",
        DATAERR,
        &[
            &format!("blk00001.dat at offset {last}:"),
            "truncated",
            &format!("{len} bytes"),
            &format!("only {keep} remain"),
        ],
    );

    // Cut inside the record header (magic complete, length incomplete).
    let bad = s.dir_with_extra("cut-header", &rest[..(last + 5) as usize]);
    assert_rejected(
        &s,
        &bad,
        "regtest",
        DATAERR,
        &[
            &format!("blk00001.dat at offset {last}:"),
            "truncated",
            "5 stray bytes",
        ],
    );
}

#[test]
fn wrong_magic_in_the_middle_of_a_file_is_rejected_with_its_offset() {
    let s = Setup::new();
    let (mut rest, offsets) = s.rest();
    let third = offsets[2] as usize;
    assert_eq!(rest[third..third + 4], REGTEST_MAGIC);
    rest[third..third + 4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let bad = s.dir_with_extra("bad-magic", &rest);
    assert_rejected(
        &s,
        &bad,
        "regtest",
        DATAERR,
        &[
            &format!("blk00001.dat at offset {third}:"),
            "magic",
            "[de, ad, be, ef]",
        ],
    );
}

#[test]
fn block_file_of_another_network_is_rejected_naming_that_network() {
    let s = Setup::new();
    let mainnet = std::fs::read(mainnet_fixture()).unwrap();

    // Fresh index: the mainnet file alone, read as regtest.
    let alone = s.path("mainnet-alone");
    std::fs::create_dir_all(&alone).unwrap();
    std::fs::write(alone.join("blk00000.dat"), &mainnet).unwrap();
    let fresh = s.path("fresh");
    let run = ingest(&fresh, &alone, "regtest").expect_code(DATAERR);
    assert_error_has(
        &run,
        &[
            "blk00000.dat at offset 0:",
            "regtest",
            "belongs to the main network",
        ],
    );
    assert_no_blocks(&fresh);

    // Behind a good regtest file, in both a fresh and a prefix index.
    let bad = s.dir_with_extra("mainnet-extra", &mainnet);
    assert_rejected(
        &s,
        &bad,
        "regtest",
        DATAERR,
        &["blk00001.dat at offset 0:", "belongs to the main network"],
    );

    // Correct magic for the files, but the index holds regtest data.
    let (db, before) = s.prefix_index("regtest-index");
    let run = ingest(&db, &alone, "main").expect_code(DATAERR);
    assert_error_has(&run, &["regtest", "main"]);
    assert_eq!(digest(&db), digest_of(&before));
}

#[test]
fn corrupted_transaction_stops_at_the_block_before_and_resumes_after_repair() {
    let s = Setup::new();
    let bad_height = 130usize;
    let bad_block = &s.blocks[bad_height];
    assert!(
        bad_block.txdata.len() > 1,
        "block {bad_height} must carry wallet traffic"
    );

    // Reference digests: clean indexes of blocks 0..=129 and of the whole chain.
    let upto = s.path("upto-129");
    write_blk(&upto, 0, &s.blocks[..bad_height]);
    let clean_before = s.path("clean-before");
    ingest_ok(&clean_before, &upto);
    let digest_before = digest(&clean_before);
    let full = s.path("full");
    let offsets = write_blk(&full, 0, &s.blocks);
    let clean_full = s.path("clean-full");
    ingest_ok(&clean_full, &full);
    let digest_full = digest(&clean_full);
    assert_ne!(digest_before, digest_full);

    // Flip a bit in the last transaction's lock time (the block's last byte): the transaction
    // still decodes, the header is intact, but the merkle root no longer matches.
    let bad = s.path("bad");
    copy_dir(&full, &bad);
    let file = bad.join("blk00000.dat");
    let mut bytes = std::fs::read(&file).unwrap();
    let block_start = offsets[bad_height] + 8;
    let block_end = block_start + serialize(bad_block).len() as u64;
    bytes[block_end as usize - 1] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();

    let needles = [
        format!("block {bad_height} "),
        format!("blk00000.dat at offset {block_start}"),
        "merkle".to_string(),
    ];
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    let (prefix_db, _) = s.prefix_index("prefix");
    for db in [s.path("fresh"), prefix_db] {
        let run = ingest(&db, &bad, "regtest").expect_code(DATAERR);
        assert_error_has(&run, &needles);
        // Everything before the bad block is kept, and nothing of it.
        let st = status(&db);
        let c = chain_of(&st).expect("btc chain");
        assert_eq!(c.tip_height, Some(bad_height as u64 - 1));
        assert_eq!(digest_of(&st), digest_before);

        // Running again on the same bad files fails the same way and changes nothing.
        let run = ingest(&db, &bad, "regtest").expect_code(DATAERR);
        assert_error_has(&run, &needles);
        assert_eq!(digest(&db), digest_before);
    }

    // Restore the byte: the rerun completes to the same index as a clean ingest.
    bytes[block_end as usize - 1] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();
    for db in [s.path("fresh"), s.path("prefix")] {
        let run = ingest_ok(&db, &bad);
        assert_eq!(indexed(&run.stderr).0, (s.blocks.len() - bad_height) as u64);
        assert_eq!(digest(&db), digest_full);
    }
}

#[test]
fn obfuscated_files_need_a_valid_xor_key() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("xor");
    let gen = gen_chain(
        &good,
        &[
            "--txs",
            "400",
            "--txs-per-block",
            "10",
            "--seed",
            "5",
            "--xor",
            "0123456789abcdef",
        ],
    );
    assert_eq!(
        std::fs::read(good.join("xor.dat")).unwrap(),
        [1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
    );
    // The files really are obfuscated: the first record does not start with the plain magic.
    assert_ne!(
        std::fs::read(good.join("blk00000.dat")).unwrap()[..4],
        REGTEST_MAGIC
    );

    let db = tmp.path().join("db");
    ingest_ok(&db, &good);
    let before = status(&db);
    let c = chain_of(&before).unwrap();
    assert_eq!(c.tip_height, Some(gen.tip_height));
    assert_eq!(c.tip_hash.as_deref(), Some(gen.tip_hash.as_str()));
    assert_eq!((c.blocks, c.txs), (gen.blocks, gen.txs));

    // xor.dat deleted: the obfuscated magic is not any network's; the hint names xor.dat.
    let missing = tmp.path().join("missing");
    copy_dir(&good, &missing);
    std::fs::remove_file(missing.join("xor.dat")).unwrap();
    // xor.dat truncated to 5 bytes.
    let short = tmp.path().join("short");
    copy_dir(&good, &short);
    std::fs::write(short.join("xor.dat"), [1, 0x23, 0x45, 0x67, 0x89]).unwrap();

    let cases: [(&Path, Vec<String>); 2] = [
        (
            &missing,
            vec![
                "blk00000.dat at offset 0:".into(),
                "magic".into(),
                "xor.dat".into(),
            ],
        ),
        (
            &short,
            vec![
                format!("{}", short.join("xor.dat").display()),
                "5 bytes".into(),
            ],
        ),
    ];
    for (dir, needles) in &cases {
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        let fresh = tmp.path().join(format!("fresh-{}", name_of(dir)));
        let run = ingest(&fresh, dir, "regtest").expect_code(DATAERR);
        assert_error_has(&run, &needles);
        assert_no_blocks(&fresh);

        let run = ingest(&db, dir, "regtest").expect_code(DATAERR);
        assert_error_has(&run, &needles);
        let after = status(&db);
        assert_eq!(digest_of(&after), digest_of(&before));
        assert_eq!(chain_of(&after), chain_of(&before));
    }
}

#[test]
fn unreachable_node_exits_69_and_leaves_the_index_alone() {
    let s = Setup::new();
    // A port nobody listens on: bind an ephemeral port, then release it.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let (db, before) = s.prefix_index("prefix");
    let run = chaintrace([
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("ingest"),
        OsStr::new("btc"),
        OsStr::new("--rest"),
        OsStr::new(&url),
        OsStr::new("--once"),
    ])
    .expect_code(UNAVAILABLE);
    assert_error_has(&run, &[&url, "unavailable"]);
    assert_eq!(digest(&db), digest_of(&before));
}

/// Every file of an index directory, subdirectories included: name → (size, content).
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, Vec<u8>)> {
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            for (name, v) in snapshot(&path) {
                files.insert(format!("{}/{name}", name_of(&path)), v);
            }
        } else {
            let data = std::fs::read(&path).unwrap();
            files.insert(name_of(&path), (data.len() as u64, data));
        }
    }
    files
}

/// The files that hold the index's rows: table files and write-ahead logs.
fn data_files(snap: &BTreeMap<String, (u64, Vec<u8>)>) -> BTreeMap<String, (u64, Vec<u8>)> {
    snap.iter()
        .filter(|(name, _)| name.ends_with(".sst"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn wal_bytes(snap: &BTreeMap<String, (u64, Vec<u8>)>) -> u64 {
    snap.iter()
        .filter(|(name, _)| name.ends_with(".log"))
        .map(|(_, (len, _))| len)
        .sum()
}

#[test]
fn index_of_a_newer_schema_is_refused_and_not_modified() {
    let s = Setup::new();
    let (db, _) = s.prefix_index("newer");
    let newer = chaintrace_store::SCHEMA_VERSION + 1;
    {
        // Opened at the current version, so writing the next one bypasses the check.
        let store = Store::open(&db, OpenMode::Create).unwrap();
        let mut batch = Batch::new();
        batch.put::<Meta>(&MetaKey::SchemaVersion, &newer.to_be_bytes().to_vec());
        store.write(batch, Durability::Logged).unwrap();
        // Persist it in a table file, so that every row lives in a .sst file and the
        // write-ahead log is empty.
        store.flush().unwrap();
    }
    let before = snapshot(&db);
    assert_eq!(wal_bytes(&before), 0);

    let found = format!("schema version {}", chaintrace_store::SCHEMA_VERSION + 1);
    let reads = format!("reads version {}", chaintrace_store::SCHEMA_VERSION);
    let needles = [found.as_str(), reads.as_str(), "upgrade chaintrace"];
    let run = chaintrace([
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("status"),
        OsStr::new("--digest"),
        OsStr::new("--format"),
        OsStr::new("json"),
    ])
    .expect_code(DATAERR);
    assert_error_has(&run, &needles);
    assert_eq!(
        run.stdout, "",
        "status printed a report for an index it refused"
    );
    // A read-only command leaves every byte of the directory as it was.
    assert!(
        snapshot(&db) == before,
        "status modified the index directory"
    );

    let run = chaintrace([
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("show"),
        OsStr::new("block"),
        OsStr::new("0"),
        OsStr::new("--format"),
        OsStr::new("json"),
    ])
    .expect_code(DATAERR);
    assert_error_has(&run, &needles);
    assert!(snapshot(&db) == before, "show modified the index directory");

    let run = ingest(&db, &s.prefix_dir(), "regtest").expect_code(DATAERR);
    assert_error_has(&run, &needles);
    // No rows were written: the table files are the same and the write-ahead log is empty.
    // (Opening for writing does rewrite RocksDB's MANIFEST, OPTIONS and LOG files.)
    let after = snapshot(&db);
    assert!(
        data_files(&after) == data_files(&before),
        "ingest changed the table files of a newer index: {:?} -> {:?}",
        data_files(&before).keys().collect::<Vec<_>>(),
        data_files(&after).keys().collect::<Vec<_>>()
    );
    assert_eq!(
        wal_bytes(&after),
        0,
        "ingest wrote to the log of a newer index"
    );

    // The version is still the newer one, for the binary and for the library.
    chaintrace([OsStr::new("--db"), db.as_os_str(), OsStr::new("status")])
        .expect_code(DATAERR)
        .stderr_has(&[found.as_str()]);
    match Store::open(&db, OpenMode::ReadOnly) {
        Err(StoreError::Schema {
            found, expected, ..
        }) => assert_eq!((found, expected), (newer, chaintrace_store::SCHEMA_VERSION)),
        Err(e) => panic!("expected a schema error, got {e}"),
        Ok(_) => panic!("a newer index opened"),
    }
}

#[test]
fn missing_or_empty_inputs() {
    let s = Setup::new();
    let (db, before) = s.prefix_index("prefix");

    // A directory without blk files: bad input (65), naming the directory.
    let empty = s.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("xor.dat"), [0u8; 8]).unwrap();
    std::fs::write(empty.join("blk.dat"), b"not a numbered block file").unwrap();
    let empty_name = empty.display().to_string();
    // A path that does not exist: missing input (66).
    let missing = s.path("no-such-dir");
    let missing_name = missing.display().to_string();
    let cases = [
        (&empty, DATAERR, [empty_name.as_str(), "no blk*.dat files"]),
        (&missing, NOINPUT, [missing_name.as_str(), "does not exist"]),
    ];
    for (dir, code, needles) in cases {
        let fresh = s.path(&format!("fresh-{}", name_of(dir)));
        let run = ingest(&fresh, dir, "regtest").expect_code(code);
        assert_error_has(&run, &needles);
        assert_no_blocks(&fresh);

        let run = ingest(&db, dir, "regtest").expect_code(code);
        assert_error_has(&run, &needles);
        assert_eq!(digest(&db), digest_of(&before));
    }

    // status on an index that does not exist: 66, and it is not created.
    let nowhere = s.path("no-index");
    let run = chaintrace([
        OsStr::new("--db"),
        nowhere.as_os_str(),
        OsStr::new("status"),
        OsStr::new("--format"),
        OsStr::new("json"),
    ])
    .expect_code(NOINPUT);
    assert_error_has(&run, &[&nowhere.display().to_string(), "no index"]);
    assert!(!nowhere.exists(), "status created an index directory");
}
