//! Crash safety of bulk ingest: SIGKILL the binary at many moments (several times in a row on
//! the same index), check after every kill that the index is a consistent earlier state — the
//! exact index a clean ingest of the blocks up to its tip would give — and that a rerun completes
//! to the digest of an uninterrupted ingest.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chaintrace_fixturegen::ChainSpec;
use common::*;

const SEED: u64 = 3;
const TXS_PER_BLOCK: u32 = 200;
const FULL_TXS: u64 = 150_000;
const HALF_TXS: u64 = 75_000;

fn gen_args(txs: u64) -> Vec<String> {
    vec![
        "--txs".into(),
        txs.to_string(),
        "--txs-per-block".into(),
        TXS_PER_BLOCK.to_string(),
        "--seed".into(),
        SEED.to_string(),
    ]
}

fn spawn_ingest(db: &Path, dir: &Path) -> Child {
    Command::new(bin_path())
        .arg("--db")
        .arg(db)
        .args(["ingest", "btc", "--network", "regtest", "--blocks-dir"])
        .arg(dir)
        .env_remove("CHAINTRACE_DB")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chaintrace ingest")
}

/// When to kill a running ingest.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// After this long.
    After(Duration),
    /// In the middle of a flush: as soon as `files` new table files have appeared in the index
    /// directory since `after` (which skips the flush of recovered data when the index is
    /// opened). The end-of-run atomic flush writes one file per column family and only then
    /// records them all in the MANIFEST at once.
    MidFlush { after: Duration, files: usize },
}

fn sst_files(db: &Path) -> usize {
    std::fs::read_dir(db).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".sst"))
            .count()
    })
}

/// Starts an ingest and SIGKILLs it at `when`. Returns false if it had already finished
/// (successfully) by then.
fn kill_ingest(db: &Path, dir: &Path, when: Kill) -> bool {
    let mut child = spawn_ingest(db, dir);
    let started = Instant::now();
    let mut baseline = None;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "ingest failed on its own: {status}");
            eprintln!("ingest finished before the kill ({when:?})");
            return false;
        }
        let now = match when {
            Kill::After(delay) => started.elapsed() >= delay,
            Kill::MidFlush { after, files } => {
                if started.elapsed() < after {
                    false
                } else {
                    let count = sst_files(db);
                    count >= *baseline.get_or_insert(count) + files
                }
            }
        };
        if now {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "ingest hangs");
        std::thread::sleep(Duration::from_micros(500));
    }
    eprintln!("killing after {:?} ({when:?})", started.elapsed());
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success());
    true
}

/// Digests of clean indexes holding exactly blocks 0..=height, computed on demand.
struct References {
    tmp: PathBuf,
    digests: HashMap<u64, String>,
    empty: String,
    full_tip: u64,
}

impl References {
    fn digest_upto(&mut self, height: u64) -> String {
        if let Some(d) = self.digests.get(&height) {
            return d.clone();
        }
        // Not a tip we prepared (the kill hit after an intermediate flush): build the reference
        // from the same generator the CLI uses; without stale branches the chain up to `height`
        // does not depend on the requested length.
        let blocks = active_chain(&ChainSpec {
            seed: SEED,
            blocks: height as u32,
            txs_per_block: TXS_PER_BLOCK,
            stale_branches: 0,
            ..ChainSpec::default()
        });
        let dir = self.tmp.join(format!("upto-{height}"));
        write_blk(&dir, 0, &blocks);
        let db = self.tmp.join(format!("upto-{height}-db"));
        ingest_ok(&db, &dir);
        let d = digest(&db);
        self.digests.insert(height, d.clone());
        d
    }

    /// After a kill: `status` works and the index is exactly a clean index of some prefix of
    /// the chain (at least `min_tip`, if given).
    fn check_consistent(&mut self, db: &Path, min_tip: Option<u64>, what: &str) {
        let s = status(db);
        let got = digest_of(&s);
        eprintln!("{what}: tip {:?}", chain_of(&s).and_then(|c| c.tip_height));
        match chain_of(&s) {
            None => {
                assert_eq!(min_tip, None, "{what}: the index lost blocks it had before");
                assert_eq!(got, self.empty, "{what}: no chain, but not an empty index");
            }
            Some(c) => {
                let tip = c
                    .tip_height
                    .unwrap_or_else(|| panic!("{what}: no tip in {c:?}"));
                assert!(tip <= self.full_tip, "{what}: tip {tip} beyond the chain");
                if let Some(min) = min_tip {
                    assert!(
                        tip >= min,
                        "{what}: tip {tip} below the completed ingest's {min}"
                    );
                }
                assert_eq!(c.blocks, tip + 1, "{what}");
                assert_eq!(
                    got,
                    self.digest_upto(tip),
                    "{what}: the index at tip {tip} differs from a clean index up to {tip}"
                );
            }
        }
    }
}

#[test]
fn killed_ingests_resume_to_the_digest_of_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |name: &str| tmp.path().join(name);
    let full_dir = t("full");
    let half_dir = t("half");
    let args = gen_args(FULL_TXS);
    let full = gen_chain(
        &full_dir,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let args = gen_args(HALF_TXS);
    let half = gen_chain(
        &half_dir,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(half.tip_height < full.tip_height);

    // Clean, uninterrupted ingest.
    let clean = t("clean");
    let started = Instant::now();
    let run = ingest_ok(&clean, &full_dir);
    let t_full = started.elapsed();
    eprintln!("clean ingest took {t_full:?}");
    assert_eq!(indexed(&run.stderr), (full.blocks, full.txs));
    let clean_status = status(&clean);
    let clean_chain = chain_of(&clean_status).unwrap();
    assert_eq!(clean_chain.tip_height, Some(full.tip_height));
    assert_eq!(
        clean_chain.tip_hash.as_deref(),
        Some(full.tip_hash.as_str())
    );
    assert_eq!(
        (clean_chain.blocks, clean_chain.txs),
        (full.blocks, full.txs)
    );
    let full_digest = digest_of(&clean_status);

    // The digest of an index that holds nothing but its schema version.
    let empty_db = t("empty-db");
    let empty_dir = t("empty-dir");
    std::fs::create_dir_all(&empty_dir).unwrap();
    ingest(&empty_db, &empty_dir, "regtest").expect_code(DATAERR);
    let mut refs = References {
        tmp: tmp.path().to_path_buf(),
        digests: HashMap::from([(full.tip_height, full_digest.clone())]),
        empty: digest(&empty_db),
        full_tip: full.tip_height,
    };

    // The on-demand references (for kills that land after an intermediate flush) agree with
    // what `gen chain` writes for the same height.
    let small_dir = t("small");
    let args = gen_args(50 * u64::from(TXS_PER_BLOCK));
    let small = gen_chain(
        &small_dir,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(small.tip_height, 150);
    let small_db = t("small-db");
    ingest_ok(&small_db, &small_dir);
    assert_eq!(refs.digest_upto(150), digest(&small_db));

    // Kills on a fresh index, one after the other on the same index: early, then twice in the
    // middle of the end-of-run flush.
    let fresh = t("fresh");
    let kills = [
        Kill::After(t_full.mul_f64(0.2)),
        Kill::MidFlush {
            after: t_full.mul_f64(0.1),
            files: 1,
        },
        Kill::MidFlush {
            after: t_full.mul_f64(0.1),
            files: 6,
        },
    ];
    for (i, when) in kills.into_iter().enumerate() {
        let killed = kill_ingest(&fresh, &full_dir, when);
        assert!(killed || i > 0, "the ingest finished before the first kill");
        refs.check_consistent(&fresh, None, &format!("fresh index, kill {when:?}"));
    }
    ingest_ok(&fresh, &full_dir);
    let s = status(&fresh);
    assert_eq!(digest_of(&s), full_digest);
    assert_eq!(chain_of(&s), Some(clean_chain.clone()));

    // Kills while resuming from a complete ingest of the half chain (a prefix of the full one).
    let resumed = t("resumed");
    ingest_ok(&resumed, &half_dir);
    let s = status(&resumed);
    assert_eq!(chain_of(&s).unwrap().tip_hash, Some(half.tip_hash.clone()));
    refs.digests.insert(half.tip_height, digest_of(&s));
    let kills = [
        Kill::After(t_full.mul_f64(0.1)),
        Kill::After(t_full.mul_f64(0.3)),
        Kill::MidFlush {
            after: t_full.mul_f64(0.1),
            files: 3,
        },
    ];
    for (i, when) in kills.into_iter().enumerate() {
        let killed = kill_ingest(&resumed, &full_dir, when);
        assert!(killed || i > 0, "the ingest finished before the first kill");
        // Whatever the kills left, the completed ingest of the half chain is never lost.
        let what = format!("resumed index, kill {when:?}");
        refs.check_consistent(&resumed, Some(half.tip_height), &what);
    }
    let tip = chain_of(&status_quick(&resumed))
        .unwrap()
        .tip_height
        .unwrap();
    let run = ingest_ok(&resumed, &full_dir);
    assert!(!run.stderr.contains("rolled back"), "{}", run.stderr);
    assert_eq!(indexed(&run.stderr).0, full.tip_height - tip);
    let s = status(&resumed);
    assert_eq!(digest_of(&s), full_digest);
    assert_eq!(chain_of(&s), Some(clean_chain));
}
