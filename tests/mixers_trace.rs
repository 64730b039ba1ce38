//! The bundled mixers scenario (`fixtures/btc/mixers`) traced end to end through its CoinJoins
//! and checked against its ground truth, `mixers.json`.
//!
//! Each test builds its own index in a temp dir (ingest the regtest blocks, import
//! `mixers.tagpack.yaml`) and runs the binary. Expectations are read from the manifest wherever
//! it states them (txids, heights, protocols, denominations, participants, peel amounts,
//! deposits). Where the manifest has no figure (how much taint each CoinJoin output gets), the
//! numbers are derived by hand from the spec (`tracing-spec.md` §4.8, W-1) and the round's
//! structure, as the comments next to each derivation explain.
//!
//! The story, in short: 40 BTC are stolen at height 125 and fanned out; the thief then enters a
//! Whirlpool Tx0 and mix (exactly W-1, its premix is input 0), a Wasabi 1 round (CJ3), a Wasabi 2
//! round (CJ6) and a JoinMarket round as taker (CJ2), pays through a Stonewall-shaped
//! transaction (not a mixer), and runs 30 BTC through a 54-hop peel chain with four peels into
//! its accounts at Tallyport and Quayside. Every coin the thief brings into a round is wholly
//! stolen; strangers' coins are clean.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use common::trace_json::{btc_fixture, flows, holdings, largest_remainder, sats};
use common::{ingest_ok, json, labels, on_db};

/// The CoinJoins the thief's coins go through (manifest `protocol` names).
const THIEF_ROUNDS: [&str; 4] = ["whirlpool-mix", "wasabi1", "wasabi2", "joinmarket"];

/// The label `mixers.tagpack.yaml` puts on the theft address (category `theft`).
const THEFT_LABEL: &str = "Meridian Exchange hack";

/// An index of a bundled fixture with its TagPack imported, and its manifest as JSON.
struct Fixture {
    _tmp: tempfile::TempDir,
    db: PathBuf,
    m: Value,
}

impl Fixture {
    fn load(name: &str) -> Fixture {
        let dir = btc_fixture(name);
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let m: Value = serde_json::from_str(&text).expect("the manifest parses");
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("db");
        ingest_ok(&db, &dir.join("blocks"));
        let pack = dir.join(format!("{name}.tagpack.yaml"));
        labels(&db, &["import", pack.to_str().unwrap()]).ok();
        Fixture { _tmp: tmp, db, m }
    }

    fn mixers() -> Fixture {
        let f = Fixture::load("mixers");
        let pack = std::fs::read_to_string(btc_fixture("mixers").join("mixers.tagpack.yaml"));
        assert!(pack.unwrap().contains(&format!("label: \"{THEFT_LABEL}\"")));
        f
    }

    /// `chaintrace --db DB ARGS...` as JSON; panics unless it succeeds.
    fn json(&self, args: &[&str]) -> Value {
        json(on_db(&self.db, args))
    }

    /// `trace --chain btc --from FROM EXTRA... --format json`.
    fn trace(&self, from: &str, extra: &[&str]) -> Value {
        let mut args = vec!["trace", "--chain", "btc", "--from", from];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--format", "json"]);
        self.json(&args)
    }

    /// Forward trace of the theft outpoint (the manifest's `theft.stolen_output`).
    fn trace_theft(&self, extra: &[&str]) -> Value {
        self.trace(&out_ref(&self.m["theft"]["stolen_output"]), extra)
    }

    /// `screen --chain btc REF EXTRA... --format json`.
    fn screen(&self, reference: &str, extra: &[&str]) -> Value {
        let mut args = vec!["screen", "--chain", "btc", reference];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--format", "json"]);
        self.json(&args)
    }

    /// The round of `protocol` the thief takes part in.
    fn round(&self, protocol: &str) -> &Value {
        let found: Vec<&Value> = mixes(&self.m)
            .iter()
            .filter(|x| x["protocol"] == protocol && !arr(&x["thief_inputs"]).is_empty())
            .collect();
        assert_eq!(found.len(), 1, "one {protocol} round with the thief in it");
        found[0]
    }
}

fn arr(v: &Value) -> &[Value] {
    v.as_array()
        .unwrap_or_else(|| panic!("{v} is not an array"))
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a number"))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a string"))
}

/// `txid:vout` of a manifest output reference.
fn out_ref(o: &Value) -> String {
    format!("{}:{}", text(&o["txid"]), num(&o["vout"]))
}

fn mixes(m: &Value) -> &[Value] {
    arr(&m["mixes"])
}

fn flow<'a>(r: &'a Value, txid: &str) -> &'a Value {
    flows(r)
        .iter()
        .find(|f| f["txid"] == txid)
        .unwrap_or_else(|| panic!("no flow for {txid}"))
}

/// Tainted amount of each output of a flow, in vout order.
fn flow_taint(f: &Value) -> Vec<u64> {
    arr(&f["outputs"])
        .iter()
        .enumerate()
        .map(|(k, o)| {
            assert_eq!(num(&o["vout"]), k as u64);
            sats(&o["tainted"])
        })
        .collect()
}

/// The `summary.mixers.crossed` entry of a txid.
fn crossed<'a>(r: &'a Value, txid: &str) -> Option<&'a Value> {
    arr(&r["summary"]["mixers"]["crossed"])
        .iter()
        .find(|c| c["txid"] == txid)
}

fn is_mixer_free(f: &Value) -> bool {
    f.get("mixer").is_none_or(Value::is_null)
}

/// The thief's input values of a round (each wholly stolen), and their sum.
fn thief_in(round: &Value) -> u64 {
    arr(&round["thief_inputs"])
        .iter()
        .map(|i| num(&round["inputs"][num(i) as usize]["input"]["value_sats"]))
        .sum()
}

fn output_values(round: &Value) -> Vec<u64> {
    arr(&round["outputs"])
        .iter()
        .map(|o| num(&o["output"]["value_sats"]))
        .collect()
}

/// The deposits (thief's and innocent) with the given `source`.
fn deposits_from<'a>(m: &'a Value, source: &str) -> Vec<&'a Value> {
    arr(&m["deposits"])
        .iter()
        .chain(arr(&m["innocent_deposits"]))
        .filter(|d| d["source"] == source)
        .collect()
}

fn deposit_ref(d: &Value) -> String {
    format!("{}:{}", text(&d["txid"]), num(&d["vout"]))
}

/// Every CoinJoin the thief's coins enter is crossed (default `equal-split`) and reported, in
/// `summary.mixers.crossed` and on its flow, with the manifest's txid, height and denomination;
/// the taint that entered is exactly the thief's coins (wholly stolen); nothing else is a mixer.
#[test]
fn every_coinjoin_the_thief_enters_is_crossed_and_reported() {
    let f = Fixture::mixers();
    for policy in ["haircut", "fifo"] {
        let r = f.trace_theft(&["--policy", policy]);
        let expected: BTreeSet<&str> = THIEF_ROUNDS
            .iter()
            .map(|p| text(&f.round(p)["txid"]))
            .collect();
        let reported: BTreeSet<&str> = arr(&r["summary"]["mixers"]["crossed"])
            .iter()
            .map(|c| text(&c["txid"]))
            .collect();
        assert_eq!(reported, expected, "{policy}: the CoinJoins crossed");
        let flagged: BTreeSet<&str> = flows(&r)
            .iter()
            .filter(|f| !is_mixer_free(f))
            .map(|f| text(&f["txid"]))
            .collect();
        assert_eq!(flagged, expected, "{policy}: flows marked as CoinJoins");

        for protocol in THIEF_ROUNDS {
            let round = f.round(protocol);
            let txid = text(&round["txid"]);
            let c = crossed(&r, txid).unwrap();
            let what = format!("{policy}: {protocol} {txid}");
            assert_eq!(c["height"], round["height"], "{what}: height");
            assert_eq!(
                sats(&c["denomination"]),
                num(&round["denomination_sats"]),
                "{what}: denomination"
            );
            assert_eq!(c["through"], "equal-split", "{what}: the default mode");
            assert_eq!(sats(&c["tainted_in"]), thief_in(round), "{what}: taint in");
            let fl = flow(&r, txid);
            assert_eq!(&fl["mixer"], c, "{what}: the flow carries the same record");
            assert_eq!(c["hop"], fl["hop"], "{what}: hop");
            let tainted_in: u64 = arr(&fl["inputs"]).iter().map(|i| sats(&i["tainted"])).sum();
            assert_eq!(tainted_in, thief_in(round), "{what}: flow inputs");
            // Spec §4.8 3c: a multi-denomination Wasabi 2 round is split by haircut and flagged
            // uncertain; the single-denomination rounds have a unique mapping.
            assert_eq!(c["uncertain"], protocol == "wasabi2", "{what}: uncertain");
        }
        assert_eq!(r["summary"]["mixers"]["uncertain"], true, "{policy}");
        // Spec §4.4: a Whirlpool mix whose lineage back to a Tx0 is verified has confidence
        // 90 (60 without); the thief's premix comes straight from its Tx0. Spec §4.5:
        // GraphSense's JoinMarket rule has confidence 49.
        let whirlpool = crossed(&r, text(&f.round("whirlpool-mix")["txid"])).unwrap();
        assert_eq!(whirlpool["confidence"], 90, "{policy}: Tx0 lineage");
        let joinmarket = crossed(&r, text(&f.round("joinmarket")["txid"])).unwrap();
        assert_eq!(
            joinmarket["confidence"], 49,
            "{policy}: GraphSense JoinMarket"
        );
        assert!(
            sats(&r["summary"]["mixers"]["traced_out"]["stolen"]) > 0,
            "{policy}: taint traced out of the CoinJoins"
        );
        assert_eq!(r["summary"]["mixers"]["reached"], serde_json::json!({}));
    }
}

/// The protocol names the CLI reports (trace and screen) are the manifest's: `whirlpool-mix`,
/// `wasabi1`, `wasabi2`, `joinmarket`.
#[test]
fn coinjoin_protocols_carry_the_manifest_names() {
    let f = Fixture::mixers();
    let r = f.trace_theft(&[]);
    let mut wrong = Vec::new();
    for protocol in THIEF_ROUNDS {
        let txid = text(&f.round(protocol)["txid"]);
        let c = crossed(&r, txid).unwrap();
        if c["protocol"] != protocol {
            wrong.push(format!("trace {txid}: {} for {protocol}", c["protocol"]));
        }
    }
    // The thief's JoinMarket output, deposited at Tallyport: screening stops at the round.
    for d in deposits_from(&f.m, "joinmarket") {
        let s = f.screen(&deposit_ref(d), &[]);
        for o in arr(&s["origins"]) {
            if o["mixer"]["protocol"] != "joinmarket" {
                let got = &o["mixer"]["protocol"];
                wrong.push(format!("screen {}: {got} for joinmarket", deposit_ref(d)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "protocol names differ:\n{}",
        wrong.join("\n")
    );
}

/// The participant count reported for each round is the size of its anonymity set at the
/// reported denomination: the outputs of that value. For single-denomination rounds that is the
/// manifest's number of owners (Whirlpool 5, Wasabi 1 10, JoinMarket 3); a Wasabi 2 round mixes
/// several denominations, and the reported one (the largest level) has its own, smaller set.
#[test]
fn coinjoin_participants_are_the_manifests() {
    let f = Fixture::mixers();
    let r = f.trace_theft(&[]);
    let mut wrong = Vec::new();
    for protocol in THIEF_ROUNDS {
        let round = f.round(protocol);
        let c = crossed(&r, text(&round["txid"])).unwrap();
        let d = sats(&c["denomination"]);
        let at_d = round["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["output"]["value_sats"].as_u64() == Some(d))
            .count();
        let expected = if protocol == "wasabi2" {
            serde_json::json!(at_d)
        } else {
            assert_eq!(round["participants"], serde_json::json!(at_d), "{protocol}");
            round["participants"].clone()
        };
        if c["participants"] != expected {
            wrong.push(format!(
                "{protocol}: {} participants reported, manifest {}",
                c["participants"], round["participants"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Spec W-1 ★, traced from the thief's premix (input 0 of the mix, 1,000,285 sats): the three
/// ways through the mix give the spec's exact table, derived here from the manifest's values.
#[test]
fn whirlpool_mix_from_the_thiefs_premix_is_spec_w1() {
    let f = Fixture::mixers();
    let mix = f.round("whirlpool-mix");
    let txid = text(&mix["txid"]);
    assert_eq!(
        arr(&mix["thief_inputs"]),
        [0],
        "the thief's premix is input 0"
    );
    let premix_ref = out_ref(&mix["inputs"][0]["input"]);
    let premix = thief_in(mix);
    let d = num(&mix["denomination_sats"]);
    let values = output_values(mix);
    let n = values.len() as u64;
    let fee = num(&mix["fee_sats"]);
    assert!(values.iter().all(|v| *v == d), "every mix output is d");
    assert_eq!(d % n, 0);

    // Equal split (§4.8 3b): the premix's d spreads as d/5 over the five outputs, its excess
    // ε = premix − d (its miner-fee share) goes to the fee.
    let equal = (vec![d / n; n as usize], premix - d);
    // Haircut: the premix's taint over outputs and fee in proportion to value, largest
    // remainder: 200,034.19 per output and 114.02 for the fee; the one spare unit goes to the
    // largest fraction, output 0.
    let mut weights = values.clone();
    weights.push(fee);
    let mut hc = largest_remainder(premix, &weights);
    let hc_fee = hc.pop().unwrap();
    let haircut = (hc, hc_fee);
    // FIFO as for any transaction, tail fee: the stolen coin is the front of the input stream,
    // so output 0 takes d of it, output 1 the remaining ε, the rest and the (clean) tail fee
    // nothing.
    let mut rest = premix;
    let fifo_outs: Vec<u64> = values
        .iter()
        .map(|v| {
            let t = rest.min(*v);
            rest -= t;
            t
        })
        .collect();
    let fifo = (fifo_outs, rest);

    // The spec's table, literally.
    assert_eq!(equal, (vec![200_000; 5], 285));
    assert_eq!(
        haircut,
        (vec![200_035, 200_034, 200_034, 200_034, 200_034], 114)
    );
    assert_eq!(fifo, (vec![1_000_000, 285, 0, 0, 0], 0));

    let runs = [
        ("haircut", "equal-split", equal),
        ("haircut", "haircut", haircut),
        ("fifo", "as-policy", fifo),
    ];
    for (policy, mode, (outs, fee_taint)) in runs {
        let what = format!("--policy {policy} --through-coinjoin {mode}");
        let r = f.trace(
            &premix_ref,
            &["--policy", policy, "--through-coinjoin", mode],
        );
        let fl = flow(&r, txid);
        assert_eq!(flow_taint(fl), outs, "{what}: mix outputs");
        assert_eq!(sats(&fl["fee"]), fee, "{what}: fee");
        assert_eq!(sats(&fl["fee_tainted"]), fee_taint, "{what}: fee taint");
        let c = &fl["mixer"];
        assert_eq!(c["txid"], txid);
        assert_eq!(c["height"], mix["height"]);
        assert_eq!(c["hop"], 1, "{what}: the mix spends the source");
        assert_eq!(c["protocol"], "whirlpool-mix", "{what}");
        assert_eq!(c["confidence"], 90, "{what}: Tx0 lineage");
        assert_eq!(sats(&c["denomination"]), d, "{what}");
        assert_eq!(c["participants"], mix["participants"], "{what}");
        assert_eq!(c["through"], mode, "{what}");
        assert_eq!(c["uncertain"], false, "{what}");
        assert_eq!(sats(&c["tainted_in"]), premix, "{what}");
        assert_eq!(r["summary"]["conserved"], true, "{what}");
        // Every holding downstream of the mix says so.
        for h in holdings(&r) {
            assert_eq!(h["via_mixer"]["txid"], txid, "{what}: {}", h["ref"]);
        }
    }

    // Beyond the mix, under haircut: the thief's mix output and the innocent co-mixer's are
    // each swept whole (one input, one output) to an exchange, each sweep a plain haircut of
    // its input's taint over output and fee. The manifest's `haircut_stolen_sats` (199,858 for
    // both) floors the end-to-end fraction; per-hop rounding gives the co-mixer, whose mix
    // output got the W-1 spare unit, one sat more.
    let r = f.trace(&premix_ref, &["--through-coinjoin", "haircut"]);
    let mix_taint = flow_taint(flow(&r, txid));
    let mut swept = 0;
    for source in ["whirlpool-mix", "whirlpool co-mixer"] {
        for d in deposits_from(&f.m, source) {
            let sweep = flow(&r, text(&d["txid"]));
            let input = arr(&sweep["inputs"]);
            assert_eq!(input.len(), 1, "{source}: a sweep of one coin");
            let (from_tx, vout) = text(&input[0]["ref"]).split_once(':').unwrap();
            assert_eq!(from_tx, txid, "{source}: sweeps a mix output");
            let taint_in = mix_taint[vout.parse::<usize>().unwrap()];
            let amount = num(&d["amount_sats"]);
            let sweep_fee = sats(&sweep["fee"]);
            let expected = largest_remainder(taint_in, &[amount, sweep_fee]);
            let h = holdings(&r)
                .iter()
                .find(|h| h["ref"] == deposit_ref(d))
                .unwrap();
            assert_eq!(sats(&h["tainted"]), expected[0], "{source}: deposit");
            assert_eq!(sats(&sweep["fee_tainted"]), expected[1], "{source}: fee");
            assert_eq!(h["status"], "stopped-at-label", "{source}");
            assert_eq!(h["labels"][0]["name"], d["exchange"], "{source}");
            let manifest = num(&d["haircut_stolen_sats"]);
            assert!(expected[0].abs_diff(manifest) <= 1, "{source}");
            swept += 1;
        }
    }
    assert_eq!(swept, 2, "the thief's and the co-mixer's deposits");
}

/// Wasabi 1 (CJ3) under equal split, from the theft. The thief is the participant with two
/// inputs, 6,000,000 + 6,100,000 = V = 12,100,000, all stolen. The unique mapping (§4.8 3a) is
/// one 10,000,000 output (j = 1) plus its change 2,096,000 (manifest thief outputs), leaving
/// 4,000 = V − d − change for the round's fees (its share of the coordinator's 30,000 and of
/// the 10,000 miner fee). So: the change is fully the thief's (2,096,000), its mixed
/// d = 10,000,000 spreads as d/k over the k = 10 outputs of the denomination, exactly
/// 1,000,000 each, and the 4,000 sits with the fees (miner fee or coordinator output: the
/// chain cannot tell which share went where). Every other change output is clean.
#[test]
fn wasabi1_equal_split_gives_the_change_back_and_spreads_the_mixed_coin_evenly() {
    let f = Fixture::mixers();
    let round = f.round("wasabi1");
    let d = num(&round["denomination_sats"]);
    let values = output_values(round);
    let k = values.iter().filter(|v| **v == d).count() as u64;
    let mut mixed = 0;
    let mut change = 0;
    for vout in arr(&round["thief_outputs"]) {
        let o = &round["outputs"][num(vout) as usize];
        match text(&o["role"]) {
            "mixed" => mixed += num(&o["output"]["value_sats"]),
            "change" => change = num(vout) as usize,
            role => panic!("thief output role {role}"),
        }
    }
    assert_eq!((mixed, k), (10_000_000, 10));
    let residual = thief_in(round) - mixed - values[change];
    assert_eq!(residual, 4_000);
    let coordinator = arr(&round["outputs"])
        .iter()
        .position(|o| o["role"] == "coordinator_fee")
        .unwrap();

    let mut expected: Vec<u64> = values
        .iter()
        .map(|v| if *v == d { mixed / k } else { 0 })
        .collect();
    expected[change] = values[change];

    let r = f.trace_theft(&["--through-coinjoin", "equal-split"]);
    let fl = flow(&r, text(&round["txid"]));
    let mut got = flow_taint(fl);
    let fees = sats(&fl["fee_tainted"]) + got[coordinator];
    got[coordinator] = 0;
    assert_eq!(got, expected, "Wasabi 1 outputs (coordinator output apart)");
    assert_eq!(fees, residual, "miner fee + coordinator output");
}

/// JoinMarket (CJ2) under equal split, from the theft; the thief is the taker. By hand, from
/// the manifest's owners (inputs: maker 2 45,000,000; maker 1 35,000,000 + 35,000,000; taker
/// 50,000,000 stolen. Outputs: 40,000,000 taker, 30,001,000 maker 1 change, 5,001,000 maker 2
/// change, 40,000,000 maker 2, 9,995,000 taker change, 40,000,000 maker 1; fee 3,000):
///
/// * the sub-transactions are unique: maker 1 puts in 70,000,000 and takes out 70,001,000,
///   maker 2 puts in 45,000,000 and takes out 45,001,000, the taker puts in 50,000,000 and
///   takes out 49,995,000. The taker's 5,000 pays each maker its 1,000 fee (in their change)
///   and the 3,000 miner fee;
/// * so (§4.8 3a) the taker's change 9,995,000 is wholly its own, fully tainted; its mixed
///   40,000,000 spreads over the k = 3 outputs of 40,000,000 as 13,333,333⅓ each, largest
///   remainder with ties to the lower index: 13,333,334 (vout 0), 13,333,333 (vouts 3, 5);
///   1,000 stolen sats reach each maker's change and 3,000 the fee.
///
/// Σ = 40,000,000 + 9,995,000 + 2 × 1,000 + 3,000 = 50,000,000: lossless, and no output or fee
/// holds more taint than its value.
#[test]
fn joinmarket_equal_split_follows_the_takers_sub_transaction() {
    let f = Fixture::mixers();
    let round = f.round("joinmarket");
    let d = num(&round["denomination_sats"]);
    let values = output_values(round);
    let fee = num(&round["fee_sats"]);

    // Each owner's net: outputs − inputs (negative: it paid).
    let mut net: BTreeMap<&str, i64> = BTreeMap::new();
    for i in arr(&round["inputs"]) {
        *net.entry(text(&i["owner"])).or_default() -= num(&i["input"]["value_sats"]) as i64;
    }
    for o in arr(&round["outputs"]) {
        *net.entry(text(&o["owner"])).or_default() += num(&o["output"]["value_sats"]) as i64;
    }
    assert_eq!(net["thief"], -5_000, "the taker pays");
    assert_eq!(net["maker 1"], 1_000);
    assert_eq!(net["maker 2"], 1_000);
    assert_eq!(net.values().sum::<i64>(), -(fee as i64));

    let mixed_outs: Vec<usize> = (0..values.len()).filter(|k| values[*k] == d).collect();
    let thief_mixed: u64 = arr(&round["thief_outputs"])
        .iter()
        .map(|v| &round["outputs"][num(v) as usize])
        .filter(|o| o["role"] == "mixed")
        .map(|o| num(&o["output"]["value_sats"]))
        .sum();
    let split = largest_remainder(thief_mixed, &vec![1; mixed_outs.len()]);
    assert_eq!(split, [13_333_334, 13_333_333, 13_333_333]);
    let mut expected = vec![0; values.len()];
    for (k, part) in mixed_outs.iter().zip(split) {
        expected[*k] = part;
    }
    for (k, o) in arr(&round["outputs"]).iter().enumerate() {
        match (text(&o["owner"]), text(&o["role"])) {
            ("thief", "change") => expected[k] = values[k],
            (maker, "change") => expected[k] = net[maker] as u64,
            _ => {}
        }
    }
    assert_eq!(
        expected[4], 9_995_000,
        "manifest thief output 4: the taker's change"
    );
    let fee_taint = thief_in(round) - expected.iter().sum::<u64>();
    assert_eq!(fee_taint, fee, "the taker pays the whole miner fee");

    for policy in ["haircut", "fifo"] {
        let r = f.trace_theft(&["--policy", policy, "--through-coinjoin", "equal-split"]);
        let fl = flow(&r, text(&round["txid"]));
        assert_eq!(
            (flow_taint(fl), sats(&fl["fee_tainted"])),
            (expected.clone(), fee_taint),
            "{policy}: JoinMarket outputs and fee"
        );
    }
}

/// No output and no fee of any transaction on the path carries more taint than its value, for
/// every lossless way through the CoinJoins.
#[test]
fn no_output_or_fee_carries_more_taint_than_its_value() {
    let f = Fixture::mixers();
    let mut over = Vec::new();
    for policy in ["haircut", "fifo"] {
        for mode in ["equal-split", "haircut", "as-policy"] {
            let r = f.trace_theft(&["--policy", policy, "--through-coinjoin", mode]);
            for fl in flows(&r) {
                let txid = text(&fl["txid"]);
                for o in arr(&fl["outputs"]) {
                    if sats(&o["tainted"]) > sats(&o["amount"]) {
                        over.push(format!(
                            "{policy}/{mode}: {txid}:{} tainted {} of {}",
                            o["vout"], o["tainted"], o["amount"]
                        ));
                    }
                }
                if sats(&fl["fee_tainted"]) > sats(&fl["fee"]) {
                    over.push(format!(
                        "{policy}/{mode}: {txid} fee tainted {} of {}",
                        fl["fee_tainted"], fl["fee"]
                    ));
                }
            }
        }
    }
    assert!(over.is_empty(), "taint above value:\n{}", over.join("\n"));
}

/// `--through-coinjoin stop`: the thief's coins wait in front of each of the four rounds with
/// status `mixer`, naming the round; `summary.mixers.reached` is their total; nothing is traced
/// past a round (no round's flow, no output of a round, no deposit of mixed coins).
#[test]
fn stop_holds_the_taint_in_front_of_every_coinjoin() {
    let f = Fixture::mixers();
    for policy in ["haircut", "fifo"] {
        let r = f.trace_theft(&["--policy", policy, "--through-coinjoin", "stop"]);
        let mut expected: BTreeMap<String, (&str, u64)> = BTreeMap::new();
        for protocol in THIEF_ROUNDS {
            let round = f.round(protocol);
            for i in arr(&round["thief_inputs"]) {
                let input = &round["inputs"][num(i) as usize]["input"];
                let value = num(&input["value_sats"]);
                expected.insert(out_ref(input), (text(&round["txid"]), value));
            }
        }
        let waiting: BTreeMap<String, (&str, u64)> = holdings(&r)
            .iter()
            .filter(|h| h["status"] == "mixer")
            .map(|h| {
                assert_eq!(h["tainted"], h["amount"], "{policy}: wholly stolen coin");
                let mixer = &h["mixer"];
                assert_eq!(mixer["through"], "stop", "{policy}");
                (
                    text(&h["ref"]).to_string(),
                    (text(&mixer["txid"]), sats(&h["tainted"])),
                )
            })
            .collect();
        assert_eq!(waiting, expected, "{policy}: coins in front of the rounds");
        let total: u64 = expected.values().map(|(_, v)| v).sum();
        let mixers = &r["summary"]["mixers"];
        assert_eq!(
            sats(&mixers["reached"]["stolen"]),
            total,
            "{policy}: reached"
        );
        assert_eq!(sats(&r["summary"]["by_status"]["mixer"]), total, "{policy}");
        assert_eq!(mixers["traced_out"], serde_json::json!({}), "{policy}");
        assert_eq!(r["summary"]["conserved"], true, "{policy}");

        let rounds: BTreeSet<&str> = THIEF_ROUNDS
            .iter()
            .map(|p| text(&f.round(p)["txid"]))
            .collect();
        let mut past: BTreeSet<&str> = rounds.clone();
        for source in ["whirlpool-mix", "joinmarket"] {
            past.extend(deposits_from(&f.m, source).iter().map(|d| text(&d["txid"])));
        }
        for fl in flows(&r) {
            assert!(
                !past.contains(text(&fl["txid"])),
                "{policy}: {}",
                fl["txid"]
            );
            assert!(is_mixer_free(fl), "{policy}: {}", fl["txid"]);
        }
        for h in holdings(&r) {
            let txid = text(&h["ref"]).split(':').next().unwrap();
            assert!(
                !rounds.contains(txid),
                "{policy}: {} is past a round",
                h["ref"]
            );
            assert!(h.get("via_mixer").is_none(), "{policy}: {}", h["ref"]);
        }
    }
}

/// Under `stop`, the record of each round says at which hop the trace met it: one hop past the
/// coins waiting in front of it, the hop the same round has when it is crossed.
#[test]
fn stop_reports_the_hop_at_which_each_coinjoin_is_met() {
    let f = Fixture::mixers();
    let crossing = f.trace_theft(&["--through-coinjoin", "equal-split"]);
    let stopped = f.trace_theft(&["--through-coinjoin", "stop"]);
    let mut wrong = Vec::new();
    for h in holdings(&stopped).iter().filter(|h| h["status"] == "mixer") {
        let txid = text(&h["mixer"]["txid"]);
        let met = num(&h["hops"]) + 1;
        let crossed_at = num(&crossed(&crossing, txid).unwrap()["hop"]);
        let reported = num(&h["mixer"]["hop"]);
        if reported != met || reported != crossed_at {
            wrong.push(format!(
                "{} in front of {txid}: mixer.hop {reported}, holding hops + 1 = {met}, \
                 hop when crossed {crossed_at}",
                h["ref"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The 30 BTC peel chain: one chain of the manifest's 54 hops from its first to its last
/// transaction, every peel at output 0 with the manifest's amount (all stolen), the four peels
/// into the thief's exchange accounts stopped at their labels, and the last change unspent.
#[test]
fn the_peel_chain_is_reported_as_the_manifest_says() {
    let f = Fixture::mixers();
    let pc = &f.m["peel_chain"];
    let hops = arr(&pc["hops"]);
    assert_eq!(hops.len() as u64, num(&pc["length"]));
    let (first, last) = (&hops[0], &hops[hops.len() - 1]);
    assert_eq!(out_ref(&first["input"]), out_ref(&pc["start"]));
    for policy in ["haircut", "fifo"] {
        let r = f.trace_theft(&["--policy", policy]);
        let chains: Vec<&Value> = arr(&r["peel_chains"])
            .iter()
            .filter(|c| c["start"] == first["txid"])
            .collect();
        assert_eq!(chains.len(), 1, "{policy}: one chain starts at hop 1");
        let c = chains[0];
        assert_eq!(c["hops"], pc["length"], "{policy}: length");
        assert_eq!(c["end"], last["txid"], "{policy}: last hop");
        assert_eq!(c["first_height"], first["height"], "{policy}");
        assert_eq!(c["last_height"], last["height"], "{policy}");
        assert_eq!(c["change_identified"], true, "{policy}");

        let peels = arr(&c["peels"]);
        assert_eq!(peels.len(), hops.len(), "{policy}: one peel per hop");
        let mut to_exchanges = Vec::new();
        for (hop, p) in hops.iter().zip(peels) {
            let what = format!("{policy}: hop {}", hop["hop"]);
            let peel = &hop["peel"];
            assert_eq!(p["ref"], out_ref(peel), "{what}");
            assert_eq!(p["address"], peel["address"], "{what}");
            assert_eq!(p["height"], hop["height"], "{what}");
            assert_eq!(sats(&p["amount"]), num(&peel["value_sats"]), "{what}");
            assert_eq!(
                p["tainted"], p["amount"],
                "{what}: the peel chain is all stolen"
            );
            let names: Vec<&str> = p
                .get("labels")
                .map_or(&[][..], arr)
                .iter()
                .map(|l| text(&l["name"]))
                .collect();
            match text(&hop["peel_destination"]).strip_prefix("exchange:") {
                Some(exchange) => {
                    assert_eq!(names, [exchange], "{what}");
                    assert_eq!(p["status"], "stopped-at-label", "{what}");
                    to_exchanges.push(text(&p["ref"]));
                }
                None => {
                    assert!(names.is_empty(), "{what}: a payment");
                    assert_ne!(p["status"], "stopped-at-label", "{what}");
                }
            }
        }
        // The exchange peels are exactly the manifest's peel-chain deposits.
        let deposits: Vec<String> = arr(&f.m["deposits"])
            .iter()
            .filter(|d| text(&d["source"]).starts_with("peel_chain"))
            .map(deposit_ref)
            .collect();
        assert_eq!(to_exchanges, deposits, "{policy}: peels into exchanges");
        assert_eq!(to_exchanges.len(), 4);

        let peeled: u64 = hops.iter().map(|h| num(&h["peel"]["value_sats"])).sum();
        assert_eq!(sats(&c["total_peeled"]), peeled, "{policy}");
        assert_eq!(sats(&c["tainted_peeled"]), peeled, "{policy}");
        let ends = arr(&c["ends"]);
        assert_eq!(ends.len(), 1, "{policy}: one end");
        let fin = &pc["final_change"];
        assert_eq!(ends[0]["ref"], out_ref(fin), "{policy}: final change");
        assert_eq!(
            sats(&ends[0]["amount"]),
            num(&fin["value_sats"]),
            "{policy}"
        );
        assert_eq!(ends[0]["tainted"], ends[0]["amount"], "{policy}");
        assert_eq!(ends[0]["status"], "unspent", "{policy}");
    }
}

/// The Stonewall-shaped payment (two owners' inputs, one value paid twice) and the
/// single-owner Whirlpool Tx0s are not mixers: the trace goes through them as through any
/// transaction, even with `--through-coinjoin stop`.
#[test]
fn the_stonewall_trap_and_the_tx0s_are_not_mixers() {
    let f = Fixture::mixers();
    let stonewall = f.round("stonewall");
    let tx0 = f.round("whirlpool-tx0");
    for mode in ["equal-split", "stop"] {
        let r = f.trace_theft(&["--through-coinjoin", mode]);
        for tx in [stonewall, tx0] {
            let txid = text(&tx["txid"]);
            let fl = flow(&r, txid);
            assert!(is_mixer_free(fl), "{mode}: {} flagged", tx["protocol"]);
            assert!(crossed(&r, txid).is_none(), "{mode}: {}", tx["protocol"]);
        }
        // Not stopped in front of either: the thief's Stonewall change is reached.
        let change = out_ref(&stonewall["outputs"][1]["output"]);
        assert_eq!(stonewall["outputs"][1]["owner"], "thief");
        let h = holdings(&r).iter().find(|h| h["ref"] == change).unwrap();
        assert_eq!(h["status"], "unspent", "{mode}");
    }
}

/// Screening with the default `stop`: a deposit of coins straight out of a CoinJoin is
/// coinjoin exposure, all of it, attributed to the round it came out of: the innocent
/// co-mixer's Whirlpool output at Tallyport, and the thief's Whirlpool and JoinMarket outputs.
#[test]
fn screening_a_deposit_of_mixed_coins_stops_at_the_coinjoin() {
    let f = Fixture::mixers();
    let cases = [
        ("whirlpool co-mixer", "whirlpool-mix", 90),
        ("whirlpool-mix", "whirlpool-mix", 90),
        ("joinmarket", "joinmarket", 49),
    ];
    for (source, protocol, confidence) in cases {
        let round = f.round(protocol);
        let found = deposits_from(&f.m, source);
        assert_eq!(found.len(), 1, "{source}");
        let d = found[0];
        let what = format!("{source} deposit {}", deposit_ref(d));
        let s = f.screen(&deposit_ref(d), &[]);
        assert_eq!(
            s["params"]["through_coinjoin"], "stop",
            "{what}: the default"
        );
        let amount = num(&d["amount_sats"]);
        assert_eq!(sats(&s["total"]), amount, "{what}");

        let categories: Vec<&str> = arr(&s["exposure"])
            .iter()
            .map(|c| text(&c["category"]))
            .collect();
        assert_eq!(categories, ["coinjoin"], "{what}: only coinjoin exposure");
        assert_eq!(sats(&s["exposure"][0]["amount"]), amount, "{what}");
        for o in arr(&s["origins"]) {
            assert_eq!(o["kind"], "coinjoin", "{what}");
            assert_eq!(o["category"], "coinjoin", "{what}");
            let (from_tx, _) = text(&o["ref"]).split_once(':').unwrap();
            assert_eq!(from_tx, round["txid"], "{what}: out of the round");
            assert_eq!(o["mixer"]["confidence"], confidence, "{what}");
            assert!(o["mixer"]["detector"].is_string(), "{what}");
        }
        let entities = arr(&s["entities"]);
        assert_eq!(entities.len(), 1, "{what}");
        assert_eq!(entities[0]["category"], "coinjoin", "{what}");
        if protocol == "whirlpool-mix" {
            let name = text(&entities[0]["name"]).to_lowercase();
            assert!(name.contains("whirlpool"), "{what}: entity {name}");
        }
        assert_ne!(s["risk"], "none", "{what}");
    }
}

/// The screen's CoinJoin record gives the denomination as an amount (a decimal string of sats,
/// as every amount in the JSON output, and as `trace` gives it): the manifest's pool size.
#[test]
fn screening_reports_the_coinjoin_denomination_as_an_amount() {
    let f = Fixture::mixers();
    let d = deposits_from(&f.m, "whirlpool co-mixer")[0];
    let s = f.screen(&deposit_ref(d), &[]);
    let pool = num(&f.round("whirlpool-mix")["denomination_sats"]);
    let origin = &s["origins"][0];
    assert_eq!(origin["kind"], "coinjoin");
    assert_eq!(sats(&origin["mixer"]["denomination"]), pool);
}

/// Screening with `--through-coinjoin haircut` walks on through the rounds and reaches the
/// theft: the thief's deposits of mixed coins, and the innocent co-mixer's, carry exactly the
/// manifest's `haircut_stolen_sats` of theft exposure. (Exact shares: the Whirlpool deposits
/// 999,120 × 1,000,285 / 5,000,570 = 199,858.17, the JoinMarket deposit
/// 39,999,120 × 50,000,000 / 165,000,000 = 12,120,945.45; the largest-remainder split keeps
/// the floors the manifest states.)
#[test]
fn screening_through_the_coinjoins_reaches_the_theft() {
    let f = Fixture::mixers();
    let mut screened = 0;
    for source in ["whirlpool-mix", "joinmarket", "whirlpool co-mixer"] {
        for d in deposits_from(&f.m, source) {
            let what = format!("{source} deposit {}", deposit_ref(d));
            let s = f.screen(&deposit_ref(d), &["--through-coinjoin", "haircut"]);
            let theft = arr(&s["exposure"])
                .iter()
                .find(|c| c["category"] == "theft")
                .unwrap_or_else(|| panic!("{what}: no theft exposure"));
            assert_eq!(
                sats(&theft["amount"]),
                num(&d["haircut_stolen_sats"]),
                "{what}: theft exposure"
            );
            assert!(
                arr(&s["exposure"])
                    .iter()
                    .all(|c| c["category"] != "coinjoin"),
                "{what}: the walk did not stop at the round"
            );
            let named: Vec<&str> = arr(&s["entities"])
                .iter()
                .filter(|e| e["category"] == "theft")
                .map(|e| text(&e["name"]))
                .collect();
            assert_eq!(named, [THEFT_LABEL], "{what}");
            screened += 1;
        }
    }
    assert_eq!(screened, 3);
}

/// Lossless policies stay lossless through every lossless way across a CoinJoin (and in front
/// of one): `conserved` is true and the stolen amount is fully accounted for; poison, an upper
/// bound, reports no conservation (`null`).
#[test]
fn taint_is_conserved_through_the_coinjoins_except_under_poison() {
    let f = Fixture::mixers();
    let source = num(&f.m["theft"]["stolen_sats"]);
    for policy in ["haircut", "fifo"] {
        for mode in ["equal-split", "haircut", "as-policy", "stop", "poison"] {
            let what = format!("--policy {policy} --through-coinjoin {mode}");
            let r = f.trace_theft(&["--policy", policy, "--through-coinjoin", mode]);
            let s = &r["summary"];
            assert_eq!(sats(&s["source"]), source, "{what}");
            if mode == "poison" {
                assert!(s["conserved"].is_null(), "{what}: {}", s["conserved"]);
                continue;
            }
            assert_eq!(s["conserved"], true, "{what}");
            let by = &s["by_label"]["stolen"];
            let held: u64 = holdings(&r).iter().map(|h| sats(&h["tainted"])).sum();
            assert_eq!(sats(&by["holdings"]), held, "{what}: holdings");
            assert_eq!(
                held + sats(&by["fees"]) + sats(&by["burned"]),
                source,
                "{what}: holdings + fees + burned"
            );
        }
    }
    let r = f.trace_theft(&["--policy", "poison"]);
    assert!(r["summary"]["conserved"].is_null(), "poison policy");
}
