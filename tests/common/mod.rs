//! Helpers shared by the end-to-end tests: running the `chaintrace` binary, reading an index's
//! status and digest, and writing block files by hand.
#![allow(dead_code)]

pub mod eth_fixture;
pub mod trace_json;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use bitcoin::consensus::encode::serialize;
use bitcoin::Block;
use chaintrace_fixturegen::{generate_chain, ChainSpec};
use serde_json::Value;

/// Exit codes (sysexits), as documented by `crates/cli/exit.rs`.
pub const DATAERR: i32 = 65;
pub const NOINPUT: i32 = 66;
pub const UNAVAILABLE: i32 = 69;

/// Regtest network magic (what `BlkWriter` and `gen chain` write).
pub const REGTEST_MAGIC: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];

/// Path of the binary under test.
pub fn bin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_chaintrace"))
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the whole output unless the run exited with `code`.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit code {code}, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn ok(self) -> Run {
        self.expect_code(0)
    }

    /// Asserts that stderr contains every one of `needles`.
    pub fn stderr_has(&self, needles: &[&str]) -> &Run {
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr does not mention {n:?}:\n{}",
                self.stderr
            );
        }
        self
    }

    /// The single `error: ...` line the binary prints on failure.
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no `error:` line on stderr:\n{}", self.stderr))
    }
}

/// Runs `chaintrace ARGS...` to completion.
pub fn chaintrace<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = assert_cmd::Command::cargo_bin("chaintrace")
        .expect("the chaintrace binary is built")
        .args(args)
        .env_remove("CHAINTRACE_DB")
        .env_remove("RUST_LOG")
        .output()
        .expect("run chaintrace");
    Run {
        code: out
            .status
            .code()
            .expect("chaintrace exited normally (no signal)"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `chaintrace --db DB ingest btc --blocks-dir DIR --network NET`, whatever the outcome.
pub fn ingest(db: &Path, dir: &Path, network: &str) -> Run {
    chaintrace([
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("ingest"),
        OsStr::new("btc"),
        OsStr::new("--blocks-dir"),
        dir.as_os_str(),
        OsStr::new("--network"),
        OsStr::new(network),
    ])
}

/// Ingests a regtest blocks directory and insists on success.
pub fn ingest_ok(db: &Path, dir: &Path) -> Run {
    ingest(db, dir, "regtest").ok()
}

/// `status --digest --format json` as parsed JSON; panics if the command fails.
pub fn status(db: &Path) -> Value {
    let run = chaintrace([
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("status"),
        OsStr::new("--digest"),
        OsStr::new("--format"),
        OsStr::new("json"),
    ])
    .ok();
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("status is not JSON ({e}):\n{}", run.stdout))
}

/// `status --format json` without the digest (cheap).
pub fn status_quick(db: &Path) -> Value {
    let run = chaintrace([
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("status"),
        OsStr::new("--format"),
        OsStr::new("json"),
    ])
    .ok();
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("status is not JSON ({e}):\n{}", run.stdout))
}

/// The content digest of the index.
pub fn digest(db: &Path) -> String {
    digest_of(&status(db))
}

pub fn digest_of(status: &Value) -> String {
    status["digest"]["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("no digest.sha256 in {status}"))
        .to_string()
}

/// The Bitcoin side of a status report, if the index holds any Bitcoin data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub network: String,
    pub tip_height: Option<u64>,
    pub tip_hash: Option<String>,
    pub blocks: u64,
    pub txs: u64,
    pub inputs: u64,
    pub outputs: u64,
    pub addresses: u64,
}

pub fn chain_of(status: &Value) -> Option<Chain> {
    let btc = status["chains"].get("btc")?;
    let n = |k: &str| {
        btc[k]
            .as_u64()
            .unwrap_or_else(|| panic!("chains.btc.{k} is not a number in {status}"))
    };
    Some(Chain {
        network: btc["network"].as_str().expect("network").to_string(),
        tip_height: btc["tip"]["height"].as_u64(),
        tip_hash: btc["tip"]["hash"].as_str().map(str::to_string),
        blocks: n("blocks"),
        txs: n("txs"),
        inputs: n("inputs"),
        outputs: n("outputs"),
        addresses: n("addresses"),
    })
}

/// Number of blocks the index holds (0 when it holds no Bitcoin data at all).
pub fn block_count(status: &Value) -> u64 {
    chain_of(status).map_or(0, |c| c.blocks)
}

/// Asserts that the index at `db` holds no blocks (it may not even have a Bitcoin section).
pub fn assert_no_blocks(db: &Path) {
    let s = status(db);
    if let Some(c) = chain_of(&s) {
        assert_eq!(
            c.blocks, 0,
            "a failed ingest left blocks in a fresh index: {c:?}"
        );
        assert_eq!(c.tip_height, None, "a failed ingest left a tip: {c:?}");
        assert_eq!(c.txs, 0);
    }
}

/// The active chain of `spec` in height order (genesis first), stale blocks dropped.
pub fn active_chain(spec: &ChainSpec) -> Vec<Block> {
    generate_chain(spec)
        .filter(|g| !g.stale)
        .map(|g| g.block)
        .collect()
}

/// Block-file bytes holding `blocks` as regtest records, and the offset of each record's magic.
pub fn blk_bytes(blocks: &[Block]) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for b in blocks {
        let raw = serialize(b);
        offsets.push(out.len() as u64);
        out.extend_from_slice(&REGTEST_MAGIC);
        out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        out.extend_from_slice(&raw);
    }
    (out, offsets)
}

/// Writes `blocks` as `dir/blkNNNNN.dat`; returns the offsets of the records.
pub fn write_blk(dir: &Path, file_no: u32, blocks: &[Block]) -> Vec<u64> {
    std::fs::create_dir_all(dir).unwrap();
    let (bytes, offsets) = blk_bytes(blocks);
    std::fs::write(dir.join(format!("blk{file_no:05}.dat")), bytes).unwrap();
    offsets
}

/// Copies the regular files of `src` into `dst` (created if needed).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
        }
    }
}

/// Runs `chaintrace gen chain --out OUT EXTRA...` and returns what it reported.
pub fn gen_chain(out: &Path, extra: &[&str]) -> GenReport {
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("gen"),
        OsStr::new("chain"),
        OsStr::new("--out"),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let run = chaintrace(args).ok();
    GenReport::parse(&run.stderr)
}

/// The summary line of `gen chain`:
/// `wrote B blocks (S stale), T txs, N bytes in F files to DIR; tip H HASH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenReport {
    pub blocks: u64,
    pub stale: u64,
    pub txs: u64,
    pub files: u64,
    pub tip_height: u64,
    pub tip_hash: String,
}

impl GenReport {
    fn parse(stderr: &str) -> GenReport {
        let line = stderr
            .lines()
            .find(|l| l.starts_with("wrote "))
            .unwrap_or_else(|| panic!("no summary from gen chain:\n{stderr}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> u64 {
            words[i]
                .trim_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .unwrap_or_else(|_| panic!("word {i} of {line:?} is not a number"))
        };
        // wrote 201 blocks (6 stale), 2159 txs, 779247 bytes in 1 files to DIR; tip 200 HASH
        let n = words.len();
        GenReport {
            blocks: num(1),
            stale: num(3),
            txs: num(5),
            files: num(10),
            tip_height: num(n - 2),
            tip_hash: words[n - 1].to_string(),
        }
    }
}

/// The `indexed B blocks, T txs ...` summary of an ingest run.
pub fn indexed(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("indexed "))
        .unwrap_or_else(|| panic!("no `indexed` summary on stderr:\n{stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let blocks = words[1].parse().expect("block count");
    let txs = words[3].parse().expect("tx count");
    (blocks, txs)
}

/// The mainnet fixture: blocks 0–438 in blk record format.
pub fn mainnet_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/btc/mainnet/first-100k-blocks.dat")
}

pub const MAINNET_TIP_HASH: &str =
    "0000000025c6b644f8add734be7e666fa4afa43ca0204d623a0c0b1fd2104c7a";

/// `chaintrace --db DB ARGS...`, whatever the outcome.
pub fn on_db(db: &Path, args: &[&str]) -> Run {
    let mut all: Vec<&OsStr> = vec![OsStr::new("--db"), db.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    chaintrace(all)
}

/// `chaintrace --db DB labels ARGS...`.
pub fn labels(db: &Path, args: &[&str]) -> Run {
    let mut all = vec!["labels"];
    all.extend(args);
    on_db(db, &all)
}

/// The JSON a successful run printed.
pub fn json(run: Run) -> Value {
    let run = run.ok();
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON on stdout ({e}):\n{}", run.stdout))
}

/// `labels import FILES... --output json` (plus `extra` flags), expecting success: the report
/// of each file.
pub fn import(db: &Path, files: &[&str], extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["import"];
    args.extend(files);
    args.extend(extra);
    args.extend(["--output", "json"]);
    json(labels(db, &args))["files"].as_array().unwrap().clone()
}
