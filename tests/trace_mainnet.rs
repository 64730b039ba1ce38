//! Tracing real mainnet coins: the 50 BTC Satoshi mined at height 9, which paid Hal Finney at
//! height 170 and were then peeled off in small payments up to height 248.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

const COINBASE9: &str = "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9:0";

fn chaintrace(db: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("chaintrace")
        .unwrap()
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn mainnet_index() -> tempfile::TempDir {
    let blocks = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/btc/mainnet/first-100k-blocks.dat"),
        blocks.path().join("blk00000.dat"),
    )
    .unwrap();
    let db = tempfile::tempdir().unwrap();
    let out = chaintrace(
        db.path(),
        &[
            "ingest",
            "btc",
            "--blocks-dir",
            blocks.path().to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

/// Where Satoshi's height-9 coins are at height 438: (output, address, sats, hops).
const HOLDINGS: [(&str, &str, u64, u64); 6] = [
    (
        "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16:0",
        "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3",
        1_000_000_000,
        1,
    ),
    (
        "a16f3ce4dd5deb92d98ef5cf8afeaf0775ebca408f708b2146c4fb42b41e14be:0",
        "1DUDsfc23Dv9sPMEk5RsrtfzCw5ofi5sVW",
        1_000_000_000,
        2,
    ),
    (
        "4385fcf8b14497d0659adccfe06ae7e38e0b5dc95ff8a13d7c62035994a0cd79:0",
        "15NUwyBYrZcnUgTagsm1A7M2yL2GntpuaZ",
        100_000_000,
        5,
    ),
    (
        "298ca2045d174f8a158961806ffc4ef96fad02d71a6b84d9fa0491813a776160:0",
        "1BDvQZjaAJH4ecZ8aL3fYgTi7rnn3o2thE",
        100_000_000,
        4,
    ),
    (
        "828ef3b079f9c23829c56fe86e85b4a69d9e06e5b54ea597eef5fb3ffef509fe:0",
        "1ByLSV2gLRcuqUmfdYcpPQH8Npm8cccsFg",
        1_000_000_000,
        5,
    ),
    (
        "828ef3b079f9c23829c56fe86e85b4a69d9e06e5b54ea597eef5fb3ffef509fe:1",
        "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S",
        1_800_000_000,
        5,
    ),
];

fn sats(v: &Value) -> u64 {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn satoshis_height_9_coins_end_in_six_unspent_outputs_under_every_policy() {
    let db = mainnet_index();
    for policy in ["haircut", "fifo", "lifo", "tiho", "ciso", "poison"] {
        let r = json(&chaintrace(
            db.path(),
            &[
                "trace", "--chain", "btc", "--from", COINBASE9, "--policy", policy, "--format",
                "json",
            ],
        ));
        assert_eq!(r["chain"], "btc");
        assert_eq!(r["direction"], "forward");
        assert_eq!(r["tip"]["height"], 438);
        let holdings: Vec<(String, String, u64, u64)> = r["holdings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                assert_eq!(h["status"], "unspent", "{policy}");
                (
                    h["ref"].as_str().unwrap().into(),
                    h["address"].as_str().unwrap().into(),
                    sats(&h["tainted"]),
                    h["hops"].as_u64().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, String, u64, u64)> = HOLDINGS
            .iter()
            .map(|(r, a, v, h)| (r.to_string(), a.to_string(), *v, *h))
            .collect();
        assert_eq!(holdings, expected, "{policy}");
        let s = &r["summary"];
        assert_eq!(sats(&s["source"]), 5_000_000_000);
        assert_eq!(sats(&s["by_status"]["unspent"]), 5_000_000_000);
        assert_eq!(sats(&s["fees"]), 0);
        assert_eq!(s["txs"], 7);
        assert_eq!(
            s["conserved"],
            if policy == "poison" {
                Value::Null
            } else {
                Value::Bool(true)
            }
        );
        let flows: Vec<u64> = r["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["height"].as_u64().unwrap())
            .collect();
        assert_eq!(flows, vec![170, 181, 182, 183, 187, 221, 248]);
    }
}

#[test]
fn each_holding_screens_back_to_the_height_9_coinbase() {
    let db = mainnet_index();
    for (reference, _, amount, hops) in HOLDINGS {
        for policy in ["haircut", "fifo"] {
            let r = json(&chaintrace(
                db.path(),
                &[
                    "screen", "--chain", "btc", reference, "--policy", policy, "--format", "json",
                ],
            ));
            assert_eq!(r["direction"], "backward");
            assert_eq!(sats(&r["total"]), amount);
            let origins = r["origins"].as_array().unwrap();
            assert_eq!(origins.len(), 1, "{reference}");
            assert_eq!(origins[0]["ref"], COINBASE9);
            assert_eq!(origins[0]["kind"], "mined");
            assert_eq!(sats(&origins[0]["amount"]), amount);
            assert_eq!(
                origins[0]["hop"].as_u64().unwrap(),
                hops - 1,
                "hop 0 is the sender's own coins"
            );
            assert_eq!(r["risk"], "none");
        }
    }
}

#[test]
fn other_formats_and_bad_references() {
    let db = mainnet_index();
    let csv = chaintrace(
        db.path(),
        &[
            "trace", "--chain", "btc", "--from", COINBASE9, "--format", "csv",
        ],
    );
    let text = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(text.lines().count(), 7);
    assert!(text.starts_with("ref,address,height,amount,tainted,hops,status,label,category\n"));
    let dot = String::from_utf8(
        chaintrace(
            db.path(),
            &[
                "trace", "--chain", "btc", "--from", COINBASE9, "--format", "dot",
            ],
        )
        .stdout,
    )
    .unwrap();
    assert!(
        dot.starts_with("digraph trace {") && dot.matches(" -> ").count() == 12,
        "{dot}"
    );
    let table = String::from_utf8(
        chaintrace(db.path(), &["trace", "--chain", "btc", "--from", COINBASE9]).stdout,
    )
    .unwrap();
    assert!(
        table.contains("unspent")
            && table.contains("50.00000000")
            && table.contains("totals reconcile"),
        "{table}"
    );

    let unknown = chaintrace(
        db.path(),
        &[
            "trace",
            "--chain",
            "btc",
            "--from",
            "1BitcoinEaterAddressDontSendf59kuE",
        ],
    );
    assert_eq!(unknown.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("never appears in the index"));
    let invalid = chaintrace(
        db.path(),
        &["trace", "--chain", "btc", "--from", "not-an-address"],
    );
    assert_eq!(invalid.status.code(), Some(65));
    let wrong_net = chaintrace(
        db.path(),
        &[
            "trace",
            "--chain",
            "btc",
            "--from",
            "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        ],
    );
    assert_eq!(wrong_net.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&wrong_net.stderr).contains("not for the main network"));
    let bad_policy = chaintrace(
        db.path(),
        &[
            "trace",
            "--chain",
            "btc",
            "--from",
            COINBASE9,
            "--direction",
            "backward",
            "--policy",
            "lifo",
        ],
    );
    assert_eq!(bad_policy.status.code(), Some(64));
}

#[test]
fn batch_runs_cases_in_parallel_resumes_and_isolates_bad_rows() {
    let db = mainnet_index();
    let work = tempfile::tempdir().unwrap();
    let cases = work.path().join("cases.csv");
    let hal = HOLDINGS[0].0;
    std::fs::write(
        &cases,
        format!(
            "case_id,chain,ref,direction,policy,max_hops,min_amount\n\
             sat9-haircut,btc,{COINBASE9},forward,haircut,,\n\
             sat9-fifo,btc,{COINBASE9},forward,fifo,3,\n\
             hal-back,btc,{hal},backward,haircut,6,\n\
             broken,btc,not-a-ref,forward,haircut,,\n\
             wrong-policy,btc,{COINBASE9},forward,sideways,,\n"
        ),
    )
    .unwrap();
    let out_dir = work.path().join("out");
    let run = || {
        chaintrace(
            db.path(),
            &[
                "batch",
                cases.to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
                "--jobs",
                "2",
            ],
        )
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let summary = std::fs::read_to_string(out_dir.join("summary.csv")).unwrap();
    let rows: Vec<&str> = summary.lines().collect();
    assert_eq!(rows.len(), 6);
    assert!(
        rows[1].starts_with("sat9-haircut,ok,btc,") && rows[1].contains(",5000000000,5000000000,"),
        "{}",
        rows[1]
    );
    assert!(rows[2].starts_with("sat9-fifo,ok,"));
    assert!(
        rows[3].starts_with("hal-back,ok,") && rows[3].contains(",1000000000,none,mined,"),
        "{}",
        rows[3]
    );
    assert!(rows[4].starts_with("broken,error,") && rows[5].starts_with("wrong-policy,error,"));
    let fifo: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("sat9-fifo.json")).unwrap()).unwrap();
    assert_eq!(fifo["params"]["max_hops"], 3);
    assert!(fifo["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["status"] == "max-hops"));
    assert!(out_dir.join("broken.error.json").exists());

    let mtime = std::fs::metadata(out_dir.join("sat9-haircut.json"))
        .unwrap()
        .modified()
        .unwrap();
    let second = run();
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("3 already done before, 2 failed"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        std::fs::metadata(out_dir.join("sat9-haircut.json"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("summary.csv")).unwrap(),
        summary
    );
}

/// The payments from height 170 to 248 form a real peel chain: each transaction spends the
/// previous one's change and pays a round amount. The report collapses it into one segment.
#[test]
fn the_170_to_248_payments_collapse_into_one_peel_chain() {
    let db = mainnet_index();
    let r = json(&chaintrace(
        db.path(),
        &[
            "trace", "--chain", "btc", "--from", COINBASE9, "--format", "json",
        ],
    ));
    let chains = r["peel_chains"].as_array().unwrap();
    assert_eq!(chains.len(), 1);
    let c = &chains[0];
    assert_eq!(c["hops"], 5);
    assert_eq!(
        (c["first_height"].as_u64(), c["last_height"].as_u64()),
        (Some(170), Some(248))
    );
    assert_eq!(
        c["start"],
        "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
    );
    assert_eq!(
        c["end"],
        "828ef3b079f9c23829c56fe86e85b4a69d9e06e5b54ea597eef5fb3ffef509fe"
    );
    let peels: Vec<(u64, u64)> = c["peels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["height"].as_u64().unwrap(), sats(&p["amount"])))
        .collect();
    assert_eq!(
        peels,
        vec![
            (170, 1_000_000_000),
            (181, 1_000_000_000),
            (182, 100_000_000),
            (183, 100_000_000)
        ]
    );
    assert_eq!(sats(&c["total_peeled"]), 2_200_000_000);
    // The last hop pays 10 and 18 BTC, both unspent: nothing says which is change.
    assert_eq!(c["change_identified"], false);
    let ends: Vec<&str> = c["ends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ref"].as_str().unwrap())
        .collect();
    assert_eq!(ends, vec![HOLDINGS[4].0, HOLDINGS[5].0]);
}
