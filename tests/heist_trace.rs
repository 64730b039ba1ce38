//! The bundled heist (`fixtures/btc/heist`) traced end to end under every policy and checked
//! against its ground truth, `heist.json`.
//!
//! Each test builds its own index in a temp dir (ingest the regtest blocks, import
//! `heist.tagpack.yaml`) and runs the binary. Expected numbers come from the manifest. Where the
//! manifest has no exact figure (`stolen_sats: null`: the consolidation and the CoinJoin merged
//! stolen and clean coins), the ordered policies' results are derived from the transactions'
//! structure (spec §1.3, tail fee mode), as the comments next to the derivations explain.
//!
//! Shapes used throughout (all amounts in sats):
//!
//! * consolidation (height 180): inputs, in on-chain order, `[S 4e8, S 4e8, C 5e8, S 4e8, S 4e8]`
//!   (the thief's clean 5 BTC sits in the middle), one output `o = 21e8 − f1`, fee `f1 = 2,286`;
//!   then the deposit sweep: one input `o`, one output `d = o − f2`, fee `f2 = 1,110`.
//! * CoinJoin (height 178): five inputs of `v = 100,002,000`, the thief's first (index 0), five
//!   outputs of `D = 1e8`, fee 10,000. The thief's output is vout 2, the participant who later
//!   deposits at Keyport owns vout 0; each is swept whole (one input, one output) to the exchange.

mod common;

use std::collections::BTreeSet;

use chaintrace_fixturegen::{Deposit, HeistManifest};
use common::trace_json::{flows, holdings, largest_remainder, sats};
use serde_json::Value;
use support::*;

const POLICIES: [&str; 6] = ["haircut", "fifo", "lifo", "tiho", "ciso", "poison"];
const ORDERED: [&str; 4] = ["fifo", "lifo", "tiho", "ciso"];
/// Lossless policies (everything but poison): source = holdings + fees, per label.
const LOSSLESS: [&str; 5] = ["haircut", "fifo", "lifo", "tiho", "ciso"];

/// Running the binary on a fresh heist index, and reading its JSON.
mod support {
    use std::path::PathBuf;

    use chaintrace_fixturegen::HeistManifest;
    use serde_json::Value;

    use super::common::trace_json::{btc_fixture, flows, holdings, sats};
    use super::common::{ingest_ok, on_db};

    /// The label the TagPack puts on the thief's three theft addresses (category `user`,
    /// abuse `service_hack`, hence tracing category `theft`).
    pub const THEFT_LABEL: &str = "Bitvault Exchange hack";

    /// An index of the heist chain with the heist TagPack imported, and the ground truth.
    pub struct Heist {
        _tmp: tempfile::TempDir,
        db: PathBuf,
        pub m: HeistManifest,
    }

    impl Heist {
        pub fn new() -> Heist {
            let text = std::fs::read_to_string(btc_fixture("heist").join("heist.json")).unwrap();
            let m: HeistManifest = serde_json::from_str(&text).expect("heist.json parses");
            let pack = std::fs::read_to_string(btc_fixture("heist").join("heist.tagpack.yaml"));
            let pack = pack.unwrap();
            assert!(pack.contains(&format!("label: \"{THEFT_LABEL}\"")));
            let tmp = tempfile::tempdir().unwrap();
            let h = Heist {
                db: tmp.path().join("db"),
                _tmp: tmp,
                m,
            };
            ingest_ok(&h.db, &btc_fixture("heist").join("blocks"));
            let pack = btc_fixture("heist").join("heist.tagpack.yaml");
            h.run(&["labels", "import", pack.to_str().unwrap()]);
            h
        }

        /// `chaintrace --db DB ARGS...`; panics unless it succeeds; returns stdout.
        pub fn run(&self, args: &[&str]) -> String {
            on_db(&self.db, args).ok().stdout
        }

        pub fn json(&self, args: &[&str]) -> Value {
            let text = self.run(args);
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"))
        }

        /// Forward trace of the theft (`--from label:...`) as JSON, plus `extra` flags.
        /// The manifest's per-policy figures treat the CoinJoin like any transaction, so the
        /// traces here cross it under the policy itself (`as-policy`); the default crossing
        /// is checked on its own below.
        pub fn trace(&self, policy: &str, extra: &[&str]) -> Value {
            let text = self.trace_as(policy, extra, "json");
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{policy}: not JSON ({e})"))
        }

        /// The same trace printed in `format` (`json`, `csv`, `dot`).
        pub fn trace_as(&self, policy: &str, extra: &[&str], format: &str) -> String {
            let from = format!("label:{THEFT_LABEL}");
            let mut args = vec!["trace", "--from", &from, "--policy", policy];
            args.extend_from_slice(&["--through-coinjoin", "as-policy"]);
            args.extend_from_slice(extra);
            args.extend_from_slice(&["--format", format]);
            self.run(&args)
        }

        /// `screen REF --policy P --format json`.
        /// Screens walk on through the CoinJoin, as the manifest's figures do.
        pub fn screen(&self, reference: &str, policy: &str) -> Value {
            self.json(&[
                "screen",
                reference,
                "--policy",
                policy,
                "--through-coinjoin",
                "as-policy",
                "--format",
                "json",
            ])
        }

        /// The inputs of a transaction in on-chain order, as `txid:vout`.
        pub fn inputs(&self, txid: &str) -> Vec<String> {
            let tx = self.json(&["show", "tx", txid, "--format", "json"]);
            tx["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    out_ref(
                        i["prev_txid"].as_str().unwrap(),
                        i["vout"].as_u64().unwrap(),
                    )
                })
                .collect()
        }

        /// Whether output `vout` of `txid` is still unspent at the tip.
        pub fn unspent(&self, txid: &str, vout: u32) -> bool {
            let tx = self.json(&["show", "tx", txid, "--format", "json"]);
            tx["outputs"][vout as usize]["spent_by"].is_null()
        }
    }

    pub fn out_ref(txid: &str, vout: impl std::fmt::Display) -> String {
        format!("{txid}:{vout}")
    }

    pub fn holding<'a>(r: &'a Value, reference: &str) -> Option<&'a Value> {
        holdings(r).iter().find(|h| h["ref"] == reference)
    }

    pub fn flow<'a>(r: &'a Value, txid: &str) -> Option<&'a Value> {
        flows(r).iter().find(|f| f["txid"] == txid)
    }

    /// The tainted amount of output `vout` of a flow.
    pub fn flow_out(f: &Value, vout: u32) -> u64 {
        sats(&f["outputs"][vout as usize]["tainted"])
    }

    /// Sum of `tainted` over holdings matching `keep`.
    pub fn tainted_sum(r: &Value, keep: impl Fn(&Value) -> bool) -> u64 {
        holdings(r)
            .iter()
            .filter(|h| keep(h))
            .map(|h| sats(&h["tainted"]))
            .sum()
    }

    /// The exposure entry of `category` in a screen result.
    pub fn exposure<'a>(r: &'a Value, category: &str) -> Option<&'a Value> {
        r["exposure"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["category"] == category)
    }
}

fn overlap((a, b): (u64, u64), (c, d): (u64, u64)) -> u64 {
    b.min(d).saturating_sub(a.max(c))
}

/// Taint of CoinJoin output `vout` under an ordered policy, tail fee.
///
/// The stream is the five inputs of `v` each, `V = 5v`; the thief's coin (input `i`) is the
/// only stolen segment. FIFO keeps it at `[iv, (i+1)v)`; LIFO reverses the stream, putting it
/// at `[V − (i+1)v, V − iv)`; TIHO moves it to the front `[0, v)`, CISO to the back `[V − v, V)`.
/// All five outputs are worth `D`, so every output order (index order, or value descending /
/// ascending with ties to the lower index) takes them in index order: output `k` gets
/// `[kD, (k+1)D)` and the fee is the tail `[5D, V)`. With `i = 0`: FIFO and TIHO put the stolen
/// `[0, v)` into vout 0 (all `D`) and vout 1 (`v − D` = 2,000), fee clean; LIFO and CISO put the
/// stolen `[4v, 5v)` into vout 4 (`5D − 4v` = 99,992,000) and the fee (`V − 5D` = 10,000).
fn coinjoin_output_taint(m: &HeistManifest, policy: &str, vout: u32) -> u64 {
    let cj = &m.coinjoin;
    let v = cj.inputs[0].input.value_sats;
    assert!(cj.inputs.iter().all(|i| i.input.value_sats == v));
    let n = cj.inputs.len() as u64;
    let total = n * v;
    let i = u64::from(cj.tainted_input_index);
    let stolen = match policy {
        "fifo" => (i * v, (i + 1) * v),
        "lifo" => (total - (i + 1) * v, total - i * v),
        "tiho" => (0, v),
        "ciso" => (total - v, total),
        other => panic!("{other} is not an ordered policy"),
    };
    let d = cj.denomination_sats;
    assert!(cj.outputs.iter().all(|o| o.output.value_sats == d));
    let k = u64::from(vout);
    overlap(stolen, (k * d, (k + 1) * d))
}

/// The taint every thief or innocent deposit must carry under `policy`.
fn expected_deposit_taint(h: &Heist, policy: &str, d: &Deposit) -> u64 {
    if d.stolen_sats == Some(0) {
        return 0; // no path from the theft at all
    }
    match (policy, d.stolen_sats) {
        ("poison", _) => d.amount_sats,
        ("haircut", _) => d.haircut_stolen_sats,
        (_, Some(exact)) => exact,
        (_, None) => match d.source.as_str() {
            "consolidation" => consolidation_deposit_taint(h, policy, d),
            "coinjoin" | "coinjoin participant" => coinjoin_deposit_taint(h, policy, d),
            other => panic!("no derivation for a merged deposit from {other}"),
        },
    }
}

/// Stolen amount entering the consolidation (16 BTC) and its fee `f1`.
fn consolidation_parts(m: &HeistManifest) -> (u64, u64) {
    let c = &m.consolidation;
    let stolen: u64 = c.tainted_inputs.iter().map(|o| o.value_sats).sum();
    (stolen, c.fee_sats)
}

/// Checks the premise of the consolidation derivations: on chain, the inputs are
/// `[S, S, C, S, S]`, i.e. the stream is `[S 8e8, C 5e8, S 8e8]`.
fn assert_consolidation_shape(h: &Heist) {
    let c = &h.m.consolidation;
    let mut expected: Vec<String> = c
        .tainted_inputs
        .iter()
        .map(|o| out_ref(&o.txid, o.vout))
        .collect();
    let clean = &c.clean_inputs[0];
    expected.insert(2, out_ref(&clean.txid, clean.vout));
    assert_eq!(h.inputs(&c.txid), expected, "consolidation input order");
    assert!(c
        .tainted_inputs
        .iter()
        .all(|o| o.value_sats == c.tainted_inputs[0].value_sats));
}

/// The consolidation deposit under an ordered policy, tail fee (`f1`, `f2`: see module doc).
///
/// * FIFO: the consolidation's output takes the first `o` units of `[S 8e8, C 5e8, S 8e8]`, so
///   it is `[S 8e8, C 5e8, S 8e8 − f1]` and the fee (the tail) is stolen; the sweep again leaves
///   its fee on the stolen tail: `[S 8e8, C 5e8, S 8e8 − f1 − f2]`. Tainted: 16e8 − f1 − f2.
/// * LIFO: the reversed stream is the same (symmetric), so the consolidation output is
///   `[S 8e8, C 5e8, S 8e8 − f1]`; the sweep reverses it to `[S 8e8 − f1, C 5e8, S 8e8]` and
///   the fee takes the last `f2` (stolen). Tainted: 16e8 − f1 − f2.
/// * TIHO: stolen first, `[S 16e8, C 5e8]`: the fee is the clean tail in both transactions.
///   Tainted: all 16e8.
/// * CISO: clean first, `[C 5e8, S 16e8]`: both fees come off the stolen tail.
///   Tainted: 16e8 − f1 − f2.
fn consolidation_deposit_taint(h: &Heist, policy: &str, d: &Deposit) -> u64 {
    assert_consolidation_shape(h);
    let (stolen, f1) = consolidation_parts(&h.m);
    let f2 = h.m.consolidation.output.value_sats - d.amount_sats;
    assert_eq!(
        h.inputs(&d.txid),
        [out_ref(&h.m.consolidation.txid, 0)],
        "the deposit sweeps the consolidation output alone"
    );
    match policy {
        "fifo" | "lifo" | "ciso" => stolen - f1 - f2,
        "tiho" => stolen,
        other => panic!("{other} is not an ordered policy"),
    }
}

/// A CoinJoin output swept whole to an exchange (one input, one output, tail fee): the deposit
/// is fully stolen if the CoinJoin output was, clean if it was clean. Here every CoinJoin output
/// that is deposited is one or the other under every ordered policy (see
/// [`coinjoin_output_taint`]): FIFO and TIHO taint vout 0 fully, LIFO and CISO leave vouts 0
/// and 2 clean, and vout 2 (the thief's) is clean under all four.
fn coinjoin_deposit_taint(h: &Heist, policy: &str, d: &Deposit) -> u64 {
    let inputs = h.inputs(&d.txid);
    assert_eq!(inputs.len(), 1, "a CoinJoin deposit sweeps one coin");
    let (txid, vout) = inputs[0].split_once(':').unwrap();
    assert_eq!(txid, h.m.coinjoin.txid);
    let vout: u32 = vout.parse().unwrap();
    match coinjoin_output_taint(&h.m, policy, vout) {
        0 => 0,
        t if t == h.m.coinjoin.denomination_sats => d.amount_sats,
        t => panic!("CoinJoin vout {vout} is partly tainted ({t}); derive the sweep by hand"),
    }
}

/// Asserts that deposit `d` is reported as `expected` tainted sats stopped at its exchange
/// (or not reported at all when nothing tainted reached it).
fn assert_deposit(r: &Value, policy: &str, d: &Deposit, expected: u64) {
    let reference = out_ref(&d.txid, d.vout);
    let what = format!(
        "{policy}: deposit {reference} ({}, {})",
        d.exchange, d.source
    );
    let Some(h) = holding(r, &reference) else {
        assert_eq!(expected, 0, "{what} is missing from the holdings");
        // The engine reports only outputs that carry taint; if the deposit transaction was
        // traced at all, the deposit output must be clean in it.
        if let Some(f) = flow(r, &d.txid) {
            assert_eq!(flow_out(f, d.vout), 0, "{what}");
        }
        return;
    };
    assert_eq!(sats(&h["tainted"]), expected, "{what}: tainted");
    assert_ne!(
        expected, 0,
        "{what}: a clean output is reported as a holding"
    );
    assert_eq!(h["status"], "stopped-at-label", "{what}");
    assert_eq!(h["address"], d.address.as_str(), "{what}");
    assert_eq!(sats(&h["amount"]), d.amount_sats, "{what}");
    assert_eq!(h["height"], d.height, "{what}");
    assert_eq!(h["labels"][0]["name"], d.exchange.as_str(), "{what}");
    assert_eq!(h["labels"][0]["category"], "exchange", "{what}");
    assert_eq!(sats(&h["by_label"]["stolen"]), expected, "{what}: by_label");
    if ORDERED.contains(&policy) {
        let segs: u64 = h["segments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s[0] == "stolen")
            .map(|s| sats(&s[1]))
            .sum();
        assert_eq!(segs, expected, "{what}: stolen segments");
    }
}

#[test]
fn label_and_outputs_give_the_same_trace_of_the_stolen_total() {
    let h = Heist::new();
    let theft = &h.m.theft;
    let outputs: Vec<String> = theft
        .stolen_outputs
        .iter()
        .map(|o| out_ref(&o.txid, o.vout))
        .collect();
    assert_eq!(
        theft
            .stolen_outputs
            .iter()
            .map(|o| o.value_sats)
            .sum::<u64>(),
        theft.stolen_total_sats
    );
    for policy in POLICIES {
        let by_label = h.trace(policy, &[]);
        let mut args = vec!["trace", "--policy", policy, "--format", "json"];
        args.extend_from_slice(&["--through-coinjoin", "as-policy"]);
        for o in &outputs {
            args.extend_from_slice(&["--from", o]);
        }
        let by_outputs = h.json(&args);
        let s = &by_label["summary"];
        assert_eq!(sats(&s["source"]), theft.stolen_total_sats, "{policy}");
        let sources: Vec<(String, u64)> = by_label["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["ref"].as_str().unwrap().to_string(), sats(&s["amount"])))
            .collect();
        let expected: Vec<(String, u64)> = theft
            .stolen_outputs
            .iter()
            .map(|o| (out_ref(&o.txid, o.vout), o.value_sats))
            .collect();
        assert_eq!(
            sources, expected,
            "{policy}: the label resolves to the stolen outputs"
        );
        assert_eq!(by_label["policy"], policy);
        assert_eq!(by_label["network"], "regtest");
        let want_fee_mode = if ORDERED.contains(&policy) {
            "tail"
        } else {
            "proportional"
        };
        assert_eq!(by_label["params"]["fee_mode"], want_fee_mode, "{policy}");
        // Same result whichever way the theft is named (only the echo of --from differs).
        for key in ["sources", "holdings", "flows", "summary", "tip"] {
            assert_eq!(by_label[key], by_outputs[key], "{policy}: {key}");
        }
    }
}

#[test]
fn thief_deposits_stop_at_their_exchange_with_the_expected_taint() {
    let h = Heist::new();
    assert_eq!(h.m.deposits.len(), 5);
    for policy in POLICIES {
        let r = h.trace(policy, &[]);
        for d in &h.m.deposits {
            assert!(d.thief_owned);
            assert_deposit(&r, policy, d, expected_deposit_taint(&h, policy, d));
        }
    }
}

/// The numbers [`expected_deposit_taint`] derives for the two merged deposits, spelled out.
#[test]
fn merged_deposits_carry_the_derived_amounts() {
    let h = Heist::new();
    let find = |source: &str| {
        h.m.deposits
            .iter()
            .chain(&h.m.innocent_deposits)
            .find(|d| d.source == source)
            .unwrap()
    };
    let (consolidation, cj_thief, cj_participant) = (
        find("consolidation"),
        find("coinjoin"),
        find("coinjoin participant"),
    );
    // f1 = 2,286 and f2 = 1,110: 16e8 − f1 − f2 = 1,599,996,604 (= d − 5e8).
    let table: [(&str, [u64; 3]); 6] = [
        ("haircut", [1_599_997_412, 19_999_824, 19_999_822]),
        ("fifo", [1_599_996_604, 0, 99_999_112]),
        ("lifo", [1_599_996_604, 0, 0]),
        ("tiho", [1_600_000_000, 0, 99_999_112]),
        ("ciso", [1_599_996_604, 0, 0]),
        ("poison", [2_099_996_604, 99_999_120, 99_999_112]),
    ];
    for (policy, want) in table {
        let got = [consolidation, cj_thief, cj_participant]
            .map(|d| expected_deposit_taint(&h, policy, d));
        assert_eq!(got, want, "{policy}: derivation");
        let r = h.trace(policy, &[]);
        for (d, w) in [consolidation, cj_thief, cj_participant]
            .into_iter()
            .zip(want)
        {
            assert_deposit(&r, policy, d, w);
        }
    }
}

#[test]
fn innocent_deposits_are_clean_except_the_coinjoin_participants() {
    let h = Heist::new();
    let participant: Vec<&Deposit> =
        h.m.innocent_deposits
            .iter()
            .filter(|d| d.stolen_sats.is_none())
            .collect();
    assert_eq!(
        participant.len(),
        1,
        "one innocent deposit shares the CoinJoin"
    );
    assert_eq!(participant[0].source, "coinjoin participant");
    // Haircut: one fifth of the thief's coin, as the manifest says.
    let cj = &h.m.coinjoin;
    let fifth = participant[0].amount_sats * cj.inputs[0].input.value_sats
        / cj.inputs.iter().map(|i| i.input.value_sats).sum::<u64>();
    assert_eq!(participant[0].haircut_stolen_sats, fifth);
    for policy in POLICIES {
        let r = h.trace(policy, &[]);
        for d in &h.m.innocent_deposits {
            assert!(!d.thief_owned);
            let expected = expected_deposit_taint(&h, policy, d);
            if d.stolen_sats == Some(0) {
                assert_eq!(expected, 0);
                assert!(
                    holding(&r, &out_ref(&d.txid, d.vout)).is_none(),
                    "{policy}: innocent deposit {}:{} is tainted",
                    d.txid,
                    d.vout
                );
                assert!(flow(&r, &d.txid).is_none(), "{policy}: {} traced", d.txid);
            }
            assert_deposit(&r, policy, d, expected);
        }
    }
}

#[test]
fn unspent_stolen_outputs_are_unspent_holdings() {
    let h = Heist::new();
    for policy in POLICIES {
        let r = h.trace(policy, &[]);
        for o in &h.m.unspent_stolen {
            let reference = out_ref(&o.txid, o.vout);
            let hold = holding(&r, &reference)
                .unwrap_or_else(|| panic!("{policy}: {reference} is not a holding"));
            assert_eq!(hold["status"], "unspent", "{policy}: {reference}");
            assert_eq!(hold["address"], o.address.as_str(), "{policy}: {reference}");
            assert_eq!(sats(&hold["amount"]), o.value_sats, "{policy}: {reference}");
            // Every path from the theft to these outputs carries only stolen coins (single-input
            // peel hops and the split), so every policy taints them in full.
            assert_eq!(
                sats(&hold["tainted"]),
                o.value_sats,
                "{policy}: {reference}"
            );
        }
        // The never-moved 20 BTC theft output is a holding at hop 0 with its theft label.
        let taproot = &h.m.theft.stolen_outputs[2];
        let hold = holding(&r, &out_ref(&taproot.txid, taproot.vout)).unwrap();
        assert_eq!(hold["hops"], 0);
        assert_eq!(hold["labels"][0]["name"], THEFT_LABEL);
        assert_eq!(hold["labels"][0]["category"], "theft");
        assert_eq!(
            sats(&r["summary"]["by_category"]["theft"]),
            taproot.value_sats,
            "{policy}: only the dormant theft output holds a theft label"
        );
    }
}

#[test]
fn the_peel_chain_is_followed_hop_by_hop() {
    let h = Heist::new();
    let chain = &h.m.peel_chain;
    assert_eq!(chain.len(), 8);
    for policy in POLICIES {
        let r = h.trace(policy, &[]);
        let mut previous = 0;
        for hop in chain {
            let what = format!("{policy}: peel hop {}", hop.hop);
            let f = flow(&r, &hop.txid).unwrap_or_else(|| panic!("{what}: not in flows"));
            assert_eq!(hop.hop, previous + 1);
            assert_eq!(f["hop"], previous + 1, "{what}: hop number");
            assert_eq!(f["height"], hop.height, "{what}");
            previous = hop.hop;
            // One fully stolen input: the peel, the change and the fee are all stolen, under
            // every policy (haircut's fraction is 1, the ordered streams hold one segment).
            let input = &f["inputs"][0];
            assert_eq!(
                input["ref"],
                out_ref(&hop.input.txid, hop.input.vout),
                "{what}"
            );
            assert_eq!(sats(&input["tainted"]), hop.input.value_sats, "{what}");
            assert_eq!(
                flow_out(f, hop.peel.vout),
                hop.peel.value_sats,
                "{what}: peel"
            );
            assert_eq!(
                flow_out(f, hop.change.vout),
                hop.change.value_sats,
                "{what}: change"
            );
            assert_eq!(sats(&f["fee"]), hop.fee_sats, "{what}");
            assert_eq!(sats(&f["fee_tainted"]), hop.fee_sats, "{what}");
            // Where each peel ends up.
            let peel = out_ref(&hop.peel.txid, hop.peel.vout);
            match hop.peel_destination.as_str() {
                "mule" => {
                    let hold = holding(&r, &peel).unwrap();
                    assert_eq!(hold["status"], "unspent", "{what}");
                    assert_eq!(hold["hops"], hop.hop, "{what}");
                    assert_eq!(sats(&hold["tainted"]), hop.peel.value_sats, "{what}");
                }
                "coinjoin_premix" => {
                    let cj = flow(&r, &h.m.coinjoin.txid).unwrap();
                    let input = cj["inputs"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|i| i["ref"] == peel)
                        .unwrap();
                    assert_eq!(sats(&input["tainted"]), hop.peel.value_sats, "{what}");
                }
                exchange => {
                    let name = exchange.strip_prefix("exchange:").unwrap();
                    let hold = holding(&r, &peel).unwrap();
                    assert_eq!(hold["status"], "stopped-at-label", "{what}");
                    assert_eq!(hold["labels"][0]["name"], name, "{what}");
                    assert_eq!(hold["hops"], hop.hop, "{what}");
                    assert_eq!(sats(&hold["tainted"]), hop.peel.value_sats, "{what}");
                }
            }
        }
        // The last change is where most of the 60 BTC still sits.
        let last = &chain.last().unwrap().change;
        let hold = holding(&r, &out_ref(&last.txid, last.vout)).unwrap();
        assert_eq!(hold["status"], "unspent");
        assert_eq!(hold["hops"], 8);
        assert_eq!(r["summary"]["max_hop"], 8, "{policy}");
    }
}

#[test]
fn the_trace_goes_through_the_coinjoin_but_not_the_theft_or_the_hot_wallet_change() {
    let h = Heist::new();
    let cj = &h.m.coinjoin;
    let theft = &h.m.theft;
    let change = out_ref(&theft.change.txid, theft.change.vout);
    let premix_hop = h.m.peel_chain[1].hop;
    for policy in POLICIES {
        let r = h.trace(policy, &[]);
        // The CoinJoin has no label, so the default stop set (services) does not stop it.
        let f = flow(&r, &cj.txid).unwrap_or_else(|| panic!("{policy}: CoinJoin not traced"));
        assert_eq!(f["hop"], premix_hop + 1, "{policy}");
        assert_eq!(f["terminal"], false);
        for (k, input) in f["inputs"].as_array().unwrap().iter().enumerate() {
            let expected = &cj.inputs[k];
            assert_eq!(
                input["ref"],
                out_ref(&expected.input.txid, expected.input.vout)
            );
            let want = if expected.tainted {
                expected.input.value_sats
            } else {
                0
            };
            assert_eq!(
                sats(&input["tainted"]),
                want,
                "{policy}: CoinJoin input {k}"
            );
        }
        let fee = cj.fee_sats;
        let d = cj.denomination_sats;
        // Haircut: the thief's `v` is shared over the five outputs and the fee by value:
        // `v·D/V` = 2e7 each (one fifth of D, no rounding needed) and `v·fee/V` = 2,000.
        let mut weights: Vec<u64> = cj.outputs.iter().map(|o| o.output.value_sats).collect();
        weights.push(fee);
        let haircut = largest_remainder(
            cj.inputs[cj.tainted_input_index as usize].input.value_sats,
            &weights,
        );
        for out in &cj.outputs {
            let vout = out.output.vout;
            let expected = match policy {
                "poison" => d,
                "haircut" => haircut[vout as usize],
                _ => coinjoin_output_taint(&h.m, policy, vout),
            };
            assert_eq!(
                flow_out(f, vout),
                expected,
                "{policy}: CoinJoin vout {vout}"
            );
            let reference = out_ref(&out.output.txid, vout);
            let hold = holding(&r, &reference);
            if h.unspent(&cj.txid, vout) {
                match hold {
                    Some(hold) => {
                        assert_eq!(hold["status"], "unspent", "{policy}: {reference}");
                        assert_eq!(sats(&hold["tainted"]), expected, "{policy}: {reference}");
                    }
                    None => assert_eq!(expected, 0, "{policy}: {reference} missing"),
                }
            } else {
                assert!(hold.is_none(), "{policy}: spent {reference} is a holding");
            }
        }
        // Fee: haircut 1/5 of 10,000; FIFO/TIHO: the clean tail; LIFO/CISO: the stolen tail.
        let want_fee = match policy {
            "poison" | "lifo" | "ciso" => fee,
            "haircut" => haircut[cj.outputs.len()],
            _ => 0,
        };
        assert_eq!(sats(&f["fee_tainted"]), want_fee, "{policy}: CoinJoin fee");

        // The theft transaction created the sources: it is not a flow, and its change (the
        // exchange's own coins) is neither a holding nor spent anywhere in the trace.
        assert!(
            flow(&r, &theft.txid).is_none(),
            "{policy}: theft tx in flows"
        );
        assert!(
            holding(&r, &change).is_none(),
            "{policy}: hot wallet change tainted"
        );
        for f in flows(&r) {
            for i in f["inputs"].as_array().unwrap() {
                assert_ne!(i["ref"], change, "{policy}");
                if i["ref"].as_str().unwrap().starts_with(&theft.txid) {
                    assert_eq!(sats(&i["tainted"]), sats(&i["amount"]), "{policy}");
                }
            }
        }
    }
}

#[test]
fn summaries_reconcile() {
    let h = Heist::new();
    let total = h.m.theft.stolen_total_sats;
    for policy in POLICIES {
        let r = h.trace(policy, &[]);
        let s = &r["summary"];
        let held = tainted_sum(&r, |_| true);
        if LOSSLESS.contains(&policy) {
            assert_eq!(s["conserved"], true, "{policy}");
            assert_eq!(
                held + sats(&s["fees"]) + sats(&s["burned"]),
                total,
                "{policy}"
            );
            let by_label = &s["by_label"]["stolen"];
            assert_eq!(sats(&by_label["source"]), total, "{policy}");
            assert_eq!(sats(&by_label["holdings"]), held, "{policy}");
        } else {
            assert!(s["conserved"].is_null(), "poison is an upper bound");
            assert!(held > total, "poison counts whole merged outputs");
        }
        assert_eq!(sats(&s["burned"]), 0);
        // Fees: the sum of the flows' tainted fees.
        let fees: u64 = flows(&r).iter().map(|f| sats(&f["fee_tainted"])).sum();
        assert_eq!(sats(&s["fees"]), fees, "{policy}");
        let exchange = tainted_sum(&r, |h| h["labels"][0]["category"] == "exchange");
        assert_eq!(sats(&s["by_category"]["exchange"]), exchange, "{policy}");
        // With the default stop set, exactly the exchange holdings stopped at a label.
        assert_eq!(
            sats(&s["by_status"]["stopped-at-label"]),
            exchange,
            "{policy}"
        );
        let expected_exchange: u64 =
            h.m.deposits
                .iter()
                .chain(&h.m.innocent_deposits)
                .map(|d| expected_deposit_taint(&h, policy, d))
                .sum();
        assert_eq!(
            exchange, expected_exchange,
            "{policy}: every exchange holding is a deposit"
        );
        for (status, amount) in s["by_status"].as_object().unwrap() {
            assert_eq!(
                sats(amount),
                tainted_sum(&r, |h| h["status"] == status.as_str()),
                "{policy}: {status}"
            );
        }
        assert_eq!(s["holdings"], holdings(&r).len());
        assert_eq!(s["txs"], flows(&r).len());
        assert_eq!(s["truncated"], false);
    }
}

#[test]
fn stop_at_none_follows_past_the_exchanges() {
    let h = Heist::new();
    // Ground truth: the exchanges never move the deposits (unspent at the tip), so going past
    // them adds no transaction here; the deposits become `unspent` holdings instead.
    for d in h.m.deposits.iter().chain(&h.m.innocent_deposits) {
        assert!(h.unspent(&d.txid, d.vout), "{}:{}", d.txid, d.vout);
    }
    for policy in POLICIES {
        let stopped = h.trace(policy, &[]);
        let open = h.trace(policy, &["--stop-at", "none"]);
        assert_eq!(open["params"]["stop_at"], "none");
        let txids = |r: &Value| -> BTreeSet<String> {
            flows(r)
                .iter()
                .map(|f| f["txid"].as_str().unwrap().to_string())
                .collect()
        };
        assert!(txids(&open).is_superset(&txids(&stopped)), "{policy}");
        assert!(flows(&open).len() >= flows(&stopped).len(), "{policy}");
        assert!(
            holdings(&open)
                .iter()
                .all(|h| h["status"] != "stopped-at-label"),
            "{policy}"
        );
        assert!(open["summary"]["by_status"]["stopped-at-label"].is_null());
        for hold in holdings(&stopped) {
            let again = holding(&open, hold["ref"].as_str().unwrap()).unwrap();
            assert_eq!(again["tainted"], hold["tainted"], "{policy}");
            if hold["status"] == "stopped-at-label" {
                assert_eq!(again["status"], "unspent", "{policy}");
            }
        }
        if LOSSLESS.contains(&policy) {
            assert_eq!(open["summary"]["conserved"], true, "{policy}");
        }
    }
}

#[test]
fn max_hops_two_stops_after_the_second_hop_and_reconciles() {
    let h = Heist::new();
    assert_consolidation_shape(&h);
    let m = &h.m;
    let hop2 = &m.peel_chain[1];
    let c = &m.consolidation;
    let (stolen, f1) = consolidation_parts(m);
    // Hop 1: peel hop 1 and the split; hop 2: peel hop 2 and the consolidation.
    let expected_flows: BTreeSet<&str> = [
        m.peel_chain[0].txid.as_str(),
        m.split.txid.as_str(),
        hop2.txid.as_str(),
        c.txid.as_str(),
    ]
    .into();
    for policy in POLICIES {
        let r = h.trace(policy, &["--max-hops", "2"]);
        let s = &r["summary"];
        assert_eq!(s["max_hop"], 2, "{policy}");
        let txids: BTreeSet<&str> = flows(&r)
            .iter()
            .map(|f| f["txid"].as_str().unwrap())
            .collect();
        assert_eq!(txids, expected_flows, "{policy}");
        // Consolidation output (the stream `[S 8e8, C 5e8, S 8e8]`, fee f1): haircut gives it
        // 16/21 of its value by largest remainder against the fee; FIFO, LIFO and CISO leave
        // the fee on the stolen tail; TIHO's tail is clean; poison taints all of it.
        let consolidated = match policy {
            "haircut" => largest_remainder(stolen, &[c.output.value_sats, f1])[0],
            "fifo" | "lifo" | "ciso" => stolen - f1,
            "tiho" => stolen,
            _ => c.output.value_sats,
        };
        let mut expected: Vec<(String, u64)> = vec![
            (
                out_ref(&hop2.peel.txid, hop2.peel.vout),
                hop2.peel.value_sats,
            ),
            (
                out_ref(&hop2.change.txid, hop2.change.vout),
                hop2.change.value_sats,
            ),
            (out_ref(&c.txid, 0), consolidated),
        ];
        expected.sort();
        let mut capped: Vec<(String, u64)> = holdings(&r)
            .iter()
            .filter(|h| h["status"] == "max-hops")
            .map(|h| {
                assert_eq!(h["hops"], 2, "{policy}");
                (h["ref"].as_str().unwrap().to_string(), sats(&h["tainted"]))
            })
            .collect();
        capped.sort();
        assert_eq!(capped, expected, "{policy}");
        assert!(holdings(&r)
            .iter()
            .all(|h| h["hops"].as_u64().unwrap() <= 2));
        assert!(
            holdings(&r)
                .iter()
                .all(|h| ["unspent", "max-hops"].contains(&h["status"].as_str().unwrap())),
            "{policy}: no exchange is reached within two hops"
        );
        if LOSSLESS.contains(&policy) {
            assert_eq!(s["conserved"], true, "{policy}");
            let held = tainted_sum(&r, |_| true);
            assert_eq!(
                held + sats(&s["fees"]),
                m.theft.stolen_total_sats,
                "{policy}"
            );
        }
    }
}

#[test]
fn screening_thief_deposits_finds_the_theft() {
    let h = Heist::new();
    for d in &h.m.deposits {
        let reference = out_ref(&d.txid, d.vout);
        for policy in ["haircut", "fifo"] {
            let r = h.screen(&reference, policy);
            assert_eq!(r["direction"], "backward");
            assert_eq!(sats(&r["total"]), d.amount_sats, "{policy}: {reference}");
            // Backward FIFO is exact ancestry, the mirror of forward FIFO: the peel-chain
            // deposits are all stolen, the consolidation deposit is `d − 5e8` (its range
            // `[0, d)` covers S 8e8, C 5e8 and the first `d − 13e8` of the last S 8e8), and
            // the thief's CoinJoin output (vout 2, stream range [2D, 3D)) lies wholly in
            // participants' inputs. Haircut gives the manifest's stolen share.
            let expected = match policy {
                "haircut" => d.haircut_stolen_sats,
                _ => expected_deposit_taint(&h, "fifo", d),
            };
            let what = format!("{policy}: screen {reference} ({})", d.source);
            match exposure(&r, "theft") {
                Some(theft) => {
                    assert_eq!(sats(&theft["amount"]), expected, "{what}");
                    assert_eq!(theft["severity"], "severe", "{what}");
                    assert_eq!(r["risk"], "severe", "{what}");
                    let entity = &r["entities"][0];
                    assert_eq!(entity["name"], THEFT_LABEL, "{what}");
                    assert_eq!(sats(&entity["amount"]), expected, "{what}");
                }
                None => {
                    assert_eq!(expected, 0, "{what}: no theft exposure");
                    assert_eq!(r["risk"], "none", "{what}");
                }
            }
        }
    }
}

#[test]
fn screening_innocent_deposits_finds_no_theft() {
    let h = Heist::new();
    for d in &h.m.innocent_deposits {
        let reference = out_ref(&d.txid, d.vout);
        for policy in ["haircut", "fifo"] {
            let r = h.screen(&reference, policy);
            let what = format!("{policy}: screen {reference} ({})", d.source);
            assert_eq!(sats(&r["total"]), d.amount_sats, "{what}");
            if d.stolen_sats == Some(0) {
                assert!(exposure(&r, "theft").is_none(), "{what}");
                // The heist's only illicit category is theft; exchanges carry no severity.
                assert_eq!(r["risk"], "none", "{what}");
                continue;
            }
            // The CoinJoin participant's deposit sweeps CoinJoin vout 0 (range [0, D)).
            // FIFO: that range lies inside the thief's input [0, v), so all of it is theft.
            // Haircut: the deposit splits over the five equal CoinJoin inputs, 99,999,112 / 5 =
            // 19,999,822.4 each; largest remainder hands the 2 leftover sats to the two lowest
            // indices (all remainders tie), and the thief's input is index 0: 19,999,823, one
            // more than the forward (rounded-down) manifest figure.
            let expected = match policy {
                "fifo" => d.amount_sats,
                _ => {
                    let cj = &h.m.coinjoin;
                    let weights: Vec<u64> = cj.inputs.iter().map(|i| i.input.value_sats).collect();
                    largest_remainder(d.amount_sats, &weights)[cj.tainted_input_index as usize]
                }
            };
            let theft = exposure(&r, "theft").unwrap_or_else(|| panic!("{what}"));
            assert_eq!(sats(&theft["amount"]), expected, "{what}");
            assert_eq!(r["risk"], "severe", "{what}");
        }
    }
}

#[test]
fn csv_and_dot_list_the_same_holdings_as_json() {
    let h = Heist::new();
    for policy in POLICIES {
        let r = h.trace(policy, &[]);
        let mut from_json: Vec<(String, String, String)> = holdings(&r)
            .iter()
            .map(|h| {
                (
                    h["ref"].as_str().unwrap().to_string(),
                    h["tainted"].as_str().unwrap().to_string(),
                    h["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        from_json.sort();

        let csv = h.trace_as(policy, &[], "csv");
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("ref,address,height,amount,tainted,hops,status,label,category")
        );
        // No field of this fixture needs quoting, so a plain split is exact.
        let mut from_csv: Vec<(String, String, String)> = lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                assert_eq!(f.len(), 9, "{l}");
                (f[0].to_string(), f[4].to_string(), f[6].to_string())
            })
            .collect();
        from_csv.sort();
        assert_eq!(from_csv, from_json, "{policy}: csv");

        let dot = h.trace_as(policy, &[], "dot");
        assert!(dot.starts_with("digraph trace {"));
        // Holding nodes are ellipses labelled "WHO\nTAINTED sat\nSTATUS"; transactions boxes.
        let mut from_dot: Vec<(String, String)> = dot
            .lines()
            .filter(|l| l.contains("shape=ellipse"))
            .map(|l| {
                let label = l.split("label=\"").nth(1).unwrap().trim_end_matches("\"];");
                let parts: Vec<&str> = label.split("\\n").collect();
                let tainted = parts[1].strip_suffix(" sat").unwrap();
                (tainted.to_string(), parts[2].to_string())
            })
            .collect();
        from_dot.sort();
        let mut expected: Vec<(String, String)> = from_json
            .iter()
            .map(|(_, t, s)| (t.clone(), s.clone()))
            .collect();
        expected.sort();
        assert_eq!(from_dot, expected, "{policy}: dot holdings");
        let boxes = dot.lines().filter(|l| l.contains("shape=box")).count();
        assert_eq!(boxes, flows(&r).len(), "{policy}: dot transactions");
    }
}

/// By default the CoinJoin is recognised (five equal 1 BTC outputs, one coin per owner in, no
/// change), reported on the path, and crossed by equal split: the thief's coin buys one
/// denomination, spread as a fifth over the five outputs, and its excess pays the fee.
#[test]
fn by_default_the_coinjoin_is_reported_and_crossed_by_equal_split() {
    let h = Heist::new();
    let from = format!("label:{THEFT_LABEL}");
    let r = h.json(&["trace", "--from", &from, "--format", "json"]);
    let cj = &h.m.coinjoin;
    let crossed = r["summary"]["mixers"]["crossed"].as_array().unwrap();
    assert_eq!(crossed.len(), 1);
    let m = &crossed[0];
    assert_eq!(m["txid"], cj.txid.as_str());
    assert_eq!(m["protocol"], "generic");
    assert_eq!(m["detector"], "equal-output-mix");
    assert_eq!(sats(&m["denomination"]), cj.denomination_sats);
    assert_eq!(m["participants"], 5);
    assert_eq!(m["through"], "equal-split");
    assert_eq!(m["uncertain"], false);
    let f = flow(&r, &cj.txid).expect("the CoinJoin is on the path");
    assert!(f["mixer"].is_object());
    for out in &cj.outputs {
        assert_eq!(flow_out(f, out.output.vout), cj.denomination_sats / 5);
    }
    let thief_input = cj.inputs[cj.tainted_input_index as usize].input.value_sats;
    assert_eq!(sats(&f["fee_tainted"]), thief_input - cj.denomination_sats);
    assert_eq!(r["summary"]["conserved"], true);
    // The innocent participant's deposit, screened with the default stop, shows CoinJoin
    // exposure where the walk met the CoinJoin, and no theft behind it.
    let innocent =
        h.m.innocent_deposits
            .iter()
            .find(|d| d.stolen_sats.is_none())
            .expect("the CoinJoin participant's deposit (its taint depends on the policy)");
    let reference = out_ref(&innocent.txid, innocent.vout);
    let screen = h.json(&["screen", &reference, "--format", "json"]);
    let coinjoin = exposure(&screen, "coinjoin").expect("coinjoin exposure");
    assert_eq!(sats(&coinjoin["amount"]), innocent.amount_sats);
    assert!(exposure(&screen, "theft").is_none());
    assert_eq!(screen["entities"][0]["name"], "generic CoinJoin");
}
