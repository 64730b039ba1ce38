//! Tracing the Ethereum laundering scenario through its two Tornado-style pools (tracing spec
//! §5): the bundled recording is ingested through the loopback replay server, the tagpack and
//! the pool registry are imported, and
//! - the linker, run as the tracer runs it, must find exactly the manifest's links per
//!   heuristic (H1–H5) and nothing for the manifest's unlinked withdrawals;
//! - each withdrawal's anonymity set must be §5.3's `AS(W)`, counted here from the manifest;
//! - `trace --through-tornado anonymity-set` must carry the ten stolen notes' taint out of the
//!   1 ETH pool as the pool-balance model says, minus the share left in unspent notes, and
//!   every stage must reconcile;
//! - `linked-only` releases nothing (the thief's withdrawals are unlinked), `stop` leaves the
//!   first stage byte for byte as it was;
//! - bad `--ap-claims` files and heuristic names fail with their sysexits codes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chaintrace_fixturegen::eth_scenario::EthManifest;
use chaintrace_heuristics::tornado::{
    AnonymitySets, ApClaim, Heuristic, Link, LinkDetail, LinkParams,
};
use chaintrace_model::TxNum;
use chaintrace_store::{OpenMode, Store};
use chaintrace_trace::account::tornado::{
    trace_through_tornado, PoolEvents, ThroughTornado, TornadoCrossing, TornadoParams,
};
use chaintrace_trace::account::{AccountForwardParams, AccountPolicy, AccountRules, AccountSource};
use chaintrace_trace::attribution::{Attributions, StopSet};
use chaintrace_trace::eth::{load_eth_attributions, load_pool_events, tornado_pools, EthLedger};
use chaintrace_trace::TaintLabel;
use common::eth_fixture::{ingested, manifest, scenario_dir};
use common::*;
use serde_json::Value;

const ETHER: u128 = 1_000_000_000_000_000_000;

/// One note, in the hundredths the taint model counts (`chaintrace_heuristics::tornado` taint).
const NOTE_UNITS: u128 = 100;

fn scenario_file(name: &str) -> String {
    scenario_dir().join(name).to_str().unwrap().to_string()
}

/// An index of the scenario with the tagpack and the Tornado pool registry imported (the
/// registry is what makes the scenario's two contracts pools: they are not mainnet instances).
fn indexed() -> (tempfile::TempDir, PathBuf) {
    let (dir, db) = ingested();
    let tags = scenario_file("eth_scenario.tagpack.yaml");
    on_db(&db, &["labels", "import", &tags]).ok();
    let registry = scenario_file("tornado_pools.json");
    on_db(&db, &["labels", "import", &registry, "--format", "tornado"]).ok();
    (dir, db)
}

fn addr(a: &chaintrace_fixturegen::anvil::Address) -> String {
    a.to_string().to_lowercase()
}

fn hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

fn wei(v: &Value) -> u128 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an amount: {v}"))
}

// ---------------------------------------------------------------------------------------------
// The manifest's ground truth, read independently of the engine.

/// Chain position of a transaction: (block, index in block).
fn position(m: &EthManifest, tx: &str) -> (u64, u64) {
    let t = m
        .txs
        .iter()
        .find(|t| t.hash == tx)
        .unwrap_or_else(|| panic!("{tx} is not in the manifest"));
    (t.block_number, t.tx_index)
}

fn deposit_pool(m: &EthManifest, tx: &str) -> String {
    addr(&m.tornado.deposits.iter().find(|d| d.tx == tx).unwrap().pool)
}

fn withdrawal_pool(m: &EthManifest, tx: &str) -> String {
    addr(
        &m.tornado
            .withdrawals
            .iter()
            .find(|w| w.tx == tx)
            .unwrap()
            .pool,
    )
}

/// (deposit tx, withdrawal tx) pairs.
type Pairs = BTreeSet<(String, String)>;

/// The manifest's expected links per heuristic id.
fn expected_links(m: &EthManifest) -> BTreeMap<String, Pairs> {
    m.tornado
        .links
        .iter()
        .map(|(h, list)| {
            let pairs = list
                .iter()
                .map(|l| (l.deposit_tx.clone(), l.withdrawal_tx.clone()))
                .collect();
            (h.clone(), pairs)
        })
        .collect()
}

/// The manifest's H4 section lists the whole portfolio cross product (5 deposits × 5
/// withdrawals). A note never leaves its pool, so the linker deliberately links only the
/// same-pool pairs among them (crates/heuristics/src/tornado/multi_denomination.rs): these.
fn same_pool(m: &EthManifest, pairs: &Pairs) -> Pairs {
    pairs
        .iter()
        .filter(|(d, w)| deposit_pool(m, d) == withdrawal_pool(m, w))
        .cloned()
        .collect()
}

/// Every link the linker should produce: H1, H2, H3, H5 as listed, H4 restricted to same-pool
/// pairs.
fn note_links(m: &EthManifest) -> Pairs {
    let mut all = Pairs::new();
    for (h, pairs) in expected_links(m) {
        if h == "H4" {
            all.extend(same_pool(m, &pairs));
        } else {
            all.extend(pairs);
        }
    }
    all
}

/// §5.3 `AS(W)`, counted from the manifest: deposits of W's pool earlier than W, minus
/// deposits linked to a different withdrawal (links in any pool count: they say whose note it
/// is). With the scenario's links, that is exactly what the spec's formula gives.
fn expected_anonymity_set(m: &EthManifest, links: &Pairs, wd_tx: &str) -> u64 {
    let pool = withdrawal_pool(m, wd_tx);
    let at = position(m, wd_tx);
    m.tornado
        .deposits
        .iter()
        .filter(|d| addr(&d.pool) == pool && position(m, &d.tx) < at)
        .filter(|d| !links.iter().any(|(dt, wt)| *dt == d.tx && wt != wd_tx))
        .count() as u64
}

fn pool_named<'m>(
    m: &'m EthManifest,
    name: &str,
) -> &'m chaintrace_fixturegen::eth_scenario::TornadoPool {
    m.tornado.pools.iter().find(|p| p.name == name).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The library, run as `trace` runs it.

/// Opens the index read-only with its labels and hands both to `f`.
fn with_ledger<T>(db: &Path, f: impl FnOnce(&EthLedger<'_>, &Attributions) -> T) -> T {
    let store = Store::open(db, OpenMode::ReadOnly).unwrap();
    let ledger = EthLedger::new(&store).unwrap();
    let attrs = load_eth_attributions(&store).unwrap();
    f(&ledger, &attrs)
}

/// `ap_claims.csv` with its addresses resolved to index ids; the file must say what the
/// manifest says it holds.
fn claims(ledger: &EthLedger<'_>, m: &EthManifest) -> Vec<ApClaim> {
    let text = std::fs::read_to_string(scenario_dir().join("ap_claims.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("address,block,ap"));
    let rows: Vec<(String, u64, u64)> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (
                f[0].to_lowercase(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64, u64)> = m
        .tornado
        .ap_claims
        .iter()
        .map(|c| (addr(&c.address), c.block, c.ap))
        .collect();
    assert_eq!(rows, want, "ap_claims.csv is not what the manifest says");
    rows.into_iter()
        .map(|(a, block, ap)| ApClaim {
            addr: ledger.resolve_address(&a).unwrap(),
            block,
            ap,
        })
        .collect()
}

/// The theft's two transactions as trace sources, both with the first case label.
fn theft_sources(ledger: &EthLedger<'_>, m: &EthManifest) -> Vec<AccountSource> {
    [&m.truth.theft.eth_tx, &m.truth.theft.token_tx]
        .into_iter()
        .map(|tx| AccountSource::Tx {
            tx: ledger.resolve_tx(tx).unwrap(),
            label: TaintLabel(0),
        })
        .collect()
}

/// What one crossing found, with transaction hashes for every pool event.
struct Crossed {
    events: PoolEvents,
    crossing: TornadoCrossing,
    /// Event `seq` → transaction hash.
    hash: BTreeMap<u64, String>,
    /// Pool addresses (lower-case hex) in `PoolId` order.
    pool_addrs: Vec<String>,
}

impl Crossed {
    fn tx(&self, seq: u64) -> &str {
        &self.hash[&seq]
    }

    /// The links of `crossing.links` as (deposit tx, withdrawal tx) pairs per heuristic id.
    fn links_by_heuristic(&self) -> BTreeMap<String, Pairs> {
        let mut out: BTreeMap<String, Pairs> = BTreeMap::new();
        for l in &self.crossing.links {
            out.entry(l.heuristic.id().to_string())
                .or_default()
                .insert((
                    self.tx(l.deposit).to_string(),
                    self.tx(l.withdrawal).to_string(),
                ));
        }
        out
    }

    fn links_of(&self, heuristic: Heuristic) -> Vec<&Link> {
        self.crossing
            .links
            .iter()
            .filter(|l| l.heuristic == heuristic)
            .collect()
    }

    fn withdrawal_seq(&self, tx: &str) -> u64 {
        self.events
            .withdrawals
            .iter()
            .map(|w| w.seq)
            .find(|s| self.tx(*s) == tx)
            .unwrap_or_else(|| panic!("{tx} is no withdrawal of the index"))
    }
}

/// Traces the theft with `--through-tornado anonymity-set` through the library, as the CLI
/// does (haircut, stopping at services), with the given linking parameters and claims.
fn cross(db: &Path, m: &EthManifest, link: LinkParams, with_claims: bool) -> Crossed {
    with_ledger(db, |ledger, attrs| {
        let pools = tornado_pools(ledger, attrs).unwrap();
        let pool_addrs = pools
            .iter()
            .map(|p| hex(ledger.index().addresses(&[p.addr]).unwrap()[0].as_slice()))
            .collect();
        let events = load_pool_events(ledger, pools).unwrap();
        let mut trace = AccountForwardParams::new(AccountRules::new(AccountPolicy::Haircut));
        trace.stop_at = StopSet::Services;
        let params = TornadoParams {
            mode: ThroughTornado::AnonymitySet,
            link,
            claims: if with_claims {
                claims(ledger, m)
            } else {
                Vec::new()
            },
            ..TornadoParams::default()
        };
        let sources = theft_sources(ledger, m);
        let (_, crossing) =
            trace_through_tornado(ledger, attrs, &sources, &trace, &events, &params).unwrap();
        let seqs: Vec<u64> = events.txs.keys().copied().collect();
        let txs: Vec<TxNum> = seqs.iter().map(|s| events.txs[s]).collect();
        let hashes = ledger.index().tx_hashes(&txs).unwrap();
        let hash = seqs
            .into_iter()
            .zip(hashes)
            .map(|(s, h)| (s, hex(&h)))
            .collect();
        Crossed {
            events,
            crossing,
            hash,
            pool_addrs,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// 1. Linking.

#[test]
fn the_linker_finds_exactly_the_manifest_links_and_none_for_the_unlinked_withdrawals() {
    let (_dir, db) = indexed();
    let m = manifest();
    // The manifest was played for Tutela's defaults, which are `LinkParams::default()`.
    let defaults = LinkParams::default();
    assert_eq!(defaults.min_interactions, m.tornado.min_interactions);
    assert_eq!(defaults.window_secs, m.tornado.portfolio_window_secs);
    let c = cross(&db, &m, defaults, true);

    // The registry made exactly the manifest's two pools, with their §5.2 mining rates.
    let want_pools: Vec<String> = m.tornado.pools.iter().map(|p| addr(&p.address)).collect();
    let mut got_pools = c.pool_addrs.clone();
    got_pools.sort();
    let mut sorted_want = want_pools.clone();
    sorted_want.sort();
    assert_eq!(got_pools, sorted_want);
    for (p, a) in c.events.pools.iter().zip(&c.pool_addrs) {
        let want = m
            .tornado
            .pools
            .iter()
            .find(|w| addr(&w.address) == *a)
            .unwrap();
        assert_eq!(p.name, want.name, "{a}");
        assert_eq!(p.denomination, want.denomination_wei, "{a}");
        assert_eq!(p.ap_rate, Some(want.ap_rate), "{a}");
    }
    assert_eq!(c.events.deposits.len(), m.tornado.deposits.len());
    assert_eq!(c.events.withdrawals.len(), m.tornado.withdrawals.len());

    let got = c.links_by_heuristic();
    let want = expected_links(&m);
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        ["H1", "H2", "H3", "H4", "H5"],
        "the manifest lists every heuristic"
    );
    for h in ["H1", "H2", "H3", "H5"] {
        assert_eq!(got.get(h), want.get(h), "{h} links");
    }
    // H4: the manifest lists all 25 depositor × withdrawer pairs of the {1 ETH: 2, 0.1 ETH: 3}
    // portfolio; the linker links only the 2×2 + 3×3 = 13 pairs that can be one note.
    let h4 = &want["H4"];
    assert_eq!(h4.len(), 25);
    let h4_same = same_pool(&m, h4);
    assert_eq!(h4_same.len(), 2 * 2 + 3 * 3);
    // Equality also says none of the other 12 (cross-pool) pairs is linked.
    assert_eq!(got.get("H4"), Some(&h4_same), "H4 links");
    // No H1/H2 candidate in the scenario crosses pools, so Tutela's default (pools ignored)
    // and `--by-pool` agree; the manifest's H1/H2 pairs are all same-pool.
    for h in ["H1", "H2"] {
        assert_eq!(same_pool(&m, &want[h]), want[h], "{h}");
    }
    let by_pool = cross(
        &db,
        &m,
        LinkParams {
            by_pool: true,
            ..LinkParams::default()
        },
        true,
    );
    assert_eq!(by_pool.links_by_heuristic(), got);
    // Nothing else: one record per (withdrawal, deposit, heuristic).
    assert_eq!(c.crossing.links.len(), 2 + 2 + 1 + 13 + 1);

    // No link at all touches a withdrawal the manifest says no heuristic may link.
    for tx in &m.tornado.unlinked {
        let seq = c.withdrawal_seq(tx);
        let linked: Vec<&Link> = c
            .crossing
            .links
            .iter()
            .filter(|l| l.withdrawal == seq)
            .collect();
        assert!(linked.is_empty(), "{tx} is linked: {linked:?}");
    }
    // Every withdrawal of the manifest is either an expected link's or listed as unlinked.
    let linked_wds: BTreeSet<&str> = want.values().flatten().map(|(_, w)| w.as_str()).collect();
    for w in &m.tornado.withdrawals {
        let unlinked = m.tornado.unlinked.contains(&w.tx);
        assert_ne!(linked_wds.contains(w.tx.as_str()), unlinked, "{}", w.tx);
    }

    // Confidences and evidence (§5.3's example weights, `Confidences::default()`).
    for l in c.links_of(Heuristic::AddressMatch) {
        assert_eq!((l.confidence, l.detail), (100, LinkDetail::SameAddress));
    }
    for l in c.links_of(Heuristic::UniqueGasPrice) {
        assert_eq!(l.confidence, 90);
        assert!(matches!(l.detail, LinkDetail::GasPrice { .. }), "{l:?}");
    }
    // The H3 recipient was paid exactly 3 times by the depositor: 3 × 15 %.
    let [h3] = c.links_of(Heuristic::LinkedAddresses)[..] else {
        panic!("one H3 link");
    };
    assert_eq!(
        (h3.confidence, h3.detail),
        (45, LinkDetail::Interactions { count: 3 })
    );
    // One depositor matched the full portfolio of 2 pools and 5 transactions.
    for l in c.links_of(Heuristic::MultiDenomination) {
        let full = LinkDetail::Portfolio {
            pools: 2,
            txs: 5,
            depositors: 1,
        };
        assert_eq!((l.confidence, l.detail), (70, full), "{l:?}");
    }
    // 100 AP at the 1 ETH pool's 20 AP/block: the note stayed 5 blocks. The decoy claim (140 AP,
    // 7 blocks before its withdrawal) finds no deposit at that block.
    let [h5] = c.links_of(Heuristic::TornMining)[..] else {
        panic!("one H5 link");
    };
    assert_eq!(
        (h5.confidence, h5.detail),
        (90, LinkDetail::Mining { ap: 100, blocks: 5 })
    );
    // Without the claims file, H5 has no evidence and links nothing; the rest is unchanged.
    let unclaimed = cross(&db, &m, LinkParams::default(), false);
    let mut without_h5 = got.clone();
    without_h5.remove("H5");
    assert_eq!(unclaimed.links_by_heuristic(), without_h5);
}

/// H3 reads direct transactions counted from the recipients' ether histories. The scenario has
/// a recipient paid 3 times by a depositor (linked at the default threshold of 3) and one paid
/// twice (not linked): the thresholds 2 and 4 must move exactly those links, which pins both
/// counts — a count that double-counted or missed a transfer would link at the wrong threshold.
#[test]
fn h3_links_follow_the_exact_interaction_counts() {
    let (_dir, db) = indexed();
    let m = manifest();
    let h3 = |min: u32| {
        let c = cross(
            &db,
            &m,
            LinkParams {
                min_interactions: min,
                enabled: vec![Heuristic::LinkedAddresses],
                ..LinkParams::default()
            },
            false,
        );
        c.links_of(Heuristic::LinkedAddresses)
            .iter()
            .map(|l| {
                let LinkDetail::Interactions { count } = l.detail else {
                    panic!("H3 without a count: {l:?}");
                };
                (
                    c.tx(l.deposit).to_string(),
                    c.tx(l.withdrawal).to_string(),
                    count,
                )
            })
            .collect::<BTreeSet<_>>()
    };
    let by_purpose = |purpose: &str| {
        let w = m
            .tornado
            .withdrawals
            .iter()
            .find(|w| w.purpose == purpose)
            .unwrap_or_else(|| panic!("no withdrawal for {purpose:?}"));
        (w.deposit_tx.clone(), w.tx.clone())
    };
    let (thrice_d, thrice_w) = by_purpose("H3: relayed to a recipient paid 3 times");
    let (twice_d, twice_w) = by_purpose("relayed to a recipient paid twice");
    let thrice = (thrice_d, thrice_w, 3);
    let twice = (twice_d, twice_w, 2);
    assert_eq!(h3(4), BTreeSet::new());
    assert_eq!(h3(3), BTreeSet::from([thrice.clone()]));
    assert_eq!(h3(2), BTreeSet::from([thrice, twice]));
}

// ---------------------------------------------------------------------------------------------
// 2. Anonymity sets.

#[test]
fn anonymity_sets_are_the_earlier_pool_deposits_minus_those_linked_elsewhere() {
    let (_dir, db) = indexed();
    let m = manifest();
    let c = cross(&db, &m, LinkParams::default(), true);
    let sets = AnonymitySets::new(&c.events.deposits, &c.events.withdrawals, &c.crossing.links);
    let size = |tx: &str| sets.size(c.withdrawal_seq(tx)).unwrap();
    let wd = |purpose: &str, recipient_suffix: &str| -> String {
        m.tornado
            .withdrawals
            .iter()
            .find(|w| {
                w.purpose.starts_with(purpose) && addr(&w.recipient).ends_with(recipient_suffix)
            })
            .unwrap_or_else(|| panic!("no withdrawal {purpose:?} to …{recipient_suffix}"))
            .tx
            .clone()
    };
    // The 1 ETH pool took 14 notes by block 9 (2 background, 2 × (5 stolen + 1 background)).
    // The thief's first withdrawal (block 16): 14 earlier deposits, less the background note H1
    // ties to another withdrawal (its depositor withdrew to itself) → 13.
    let thief_first = &m.tornado.withdrawals[0];
    assert_eq!(thief_first.owner, "thief");
    assert_eq!(size(&thief_first.tx), 13);
    // That self-withdrawal keeps its own linked note: 14.
    let h1_self = &m.tornado.links["H1"]
        .iter()
        .find(|l| position(&m, &l.withdrawal_tx).0 == thief_first.block_number)
        .unwrap()
        .withdrawal_tx;
    assert_eq!(size(h1_self), 14);
    // Block 27: all 29 deposits of the 1 ETH pool are earlier; 8 of them are linked (H1 ×2,
    // H2 ×2, H3, H4 ×2, H5). A withdrawal with no link of its own: 29 − 8 = 21.
    let shared_gas = wd("self-relayed at a shared gas price", "03");
    assert_eq!(size(&shared_gas), 21);
    // The H2 withdrawal keeps its own note: 29 − 7 = 22.
    let h2 = wd("H2: self-relayed at 27.4 gwei", "02");
    assert_eq!(size(&h2), 22);
    // An H4 withdrawal's two 1 ETH notes are also linked to its sibling withdrawal, so both
    // count as "linked to a different withdrawal" under §5.3's formula: 21.
    let h4_first = &m.tornado.links["H4"]
        .iter()
        .find(|l| withdrawal_pool(&m, &l.withdrawal_tx) == addr(&pool_named(&m, "1 ETH").address))
        .unwrap()
        .withdrawal_tx;
    assert_eq!(size(h4_first), 21);
    // The 0.1 ETH pool: 4 deposits before block 28, 3 of them the H4 depositor's, each linked
    // to the other two H4 withdrawals too: |AS| = 1 (the one unrelated deposit). The literal
    // formula leaves an H4 withdrawal only the deposit it is *not* linked to.
    let h4_tenth = m.tornado.links["H4"]
        .iter()
        .map(|l| &l.withdrawal_tx)
        .find(|w| withdrawal_pool(&m, w) == addr(&pool_named(&m, "0.1 ETH").address))
        .unwrap();
    assert_eq!(size(h4_tenth), 1);

    // And every withdrawal agrees with the count from the manifest's links.
    let links = note_links(&m);
    for w in &m.tornado.withdrawals {
        assert_eq!(
            size(&w.tx),
            expected_anonymity_set(&m, &links, &w.tx),
            "{} ({})",
            w.tx,
            w.purpose
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3–4. The CLI.

fn trace_cli(db: &Path, m: &EthManifest, extra: &[&str]) -> Value {
    let (eth, token) = (&m.truth.theft.eth_tx, &m.truth.theft.token_tx);
    let mut args = vec![
        "trace",
        "--chain",
        "eth",
        "--from",
        eth.as_str(),
        "--from",
        token.as_str(),
        "--format",
        "json",
    ];
    args.extend(extra);
    json(on_db(db, &args))
}

fn lower(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_lowercase()
}

fn eth_asset(summary: &Value) -> &Value {
    summary["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["asset"] == "ETH")
        .unwrap_or_else(|| panic!("no ETH in {summary}"))
}

/// Confidence (whole percent) of each heuristic's links in the scenario, from §5.3's example
/// weights as `Confidences::default()` sets them; H3's is 15 % per interaction, × 3 here.
fn confidence(heuristic: &str) -> u128 {
    match heuristic {
        "H1" => 100,
        "H2" => 90,
        "H3" => 45,
        "H4" => 70,
        "H5" => 90,
        other => panic!("{other}"),
    }
}

#[test]
fn anonymity_set_mode_carries_the_pool_share_of_the_stolen_notes_out_and_reconciles() {
    let (_dir, db) = indexed();
    let m = manifest();
    let claims = scenario_file("ap_claims.csv");
    let r = trace_cli(
        &db,
        &m,
        &["--through-tornado", "anonymity-set", "--ap-claims", &claims],
    );
    let t = &r["through_tornado"];
    assert_eq!(t["mode"], "anonymity-set");
    assert_eq!(t["params"]["ap_claims"], 2);
    let pools: BTreeMap<String, (String, u128)> = t["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                lower(&p["address"]),
                (
                    p["name"].as_str().unwrap().to_string(),
                    wei(&p["denomination"]),
                ),
            )
        })
        .collect();
    let want_pools: BTreeMap<String, (String, u128)> = m
        .tornado
        .pools
        .iter()
        .map(|p| (addr(&p.address), (p.name.clone(), p.denomination_wei)))
        .collect();
    assert_eq!(pools, want_pools);
    let counts: BTreeMap<String, u64> = t["links_by_heuristic"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    let want_counts: BTreeMap<String, u64> =
        [("H1", 2), ("H2", 2), ("H3", 1), ("H4", 13), ("H5", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    assert_eq!(counts, want_counts);

    // In: exactly the thief's ten notes, 1 ETH of stolen ether each, found by the first stage.
    let one = pool_named(&m, "1 ETH");
    let one_addr = addr(&one.address);
    let deposits = t["deposits"].as_array().unwrap();
    let got: BTreeSet<(String, String)> = deposits
        .iter()
        .map(|d| {
            (
                d["tx"].as_str().unwrap().to_string(),
                lower(&d["depositor"]),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = m
        .tornado
        .deposits
        .iter()
        .filter(|d| d.owner == "thief")
        .map(|d| (d.tx.clone(), addr(&d.depositor)))
        .collect();
    assert_eq!(want.len(), 10);
    assert_eq!(got, want);
    for d in deposits {
        assert_eq!(wei(&d["tainted"]), ETHER, "{d}");
        assert_eq!(wei(&d["by_label"]["stolen"]), ETHER, "{d}");
        assert_eq!(lower(&d["pool"]["address"]), one_addr);
        assert_eq!(d["stage"], 0);
    }
    let deposited: u128 = deposits.iter().map(|d| wei(&d["tainted"])).sum();
    assert_eq!(deposited, 10 * ETHER);
    // The first stage stops at the pool holding exactly that.
    let at_pool = r["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| {
            // Burnt gas is held by no address (`null`).
            h["address"].as_str().map(str::to_lowercase).as_deref() == Some(one_addr.as_str())
                && h["asset"] == "ETH"
        })
        .unwrap();
    assert_eq!(at_pool["status"], "mixer");
    assert_eq!(wei(&at_pool["tainted"]), deposited);

    // Out: every 1 ETH withdrawal draws on the pool's account, except the two H1 withdrawals:
    // a 100 % link says each spent a (clean) note of its own, so it draws nothing from the
    // pool. No stolen note is linked to anything, so no taint moves along links, and the
    // 0.1 ETH pool, which took no stolen note, releases none.
    let withdrawals = t["withdrawals"].as_array().unwrap();
    let h1: BTreeSet<&str> = m.tornado.links["H1"]
        .iter()
        .map(|l| l.withdrawal_tx.as_str())
        .collect();
    let want_out: BTreeSet<&str> = m
        .tornado
        .withdrawals
        .iter()
        .filter(|w| addr(&w.pool) == one_addr && !h1.contains(w.tx.as_str()))
        .map(|w| w.tx.as_str())
        .collect();
    let got_out: BTreeSet<&str> = withdrawals
        .iter()
        .map(|w| w["tx"].as_str().unwrap())
        .collect();
    assert_eq!(got_out, want_out);
    let links = note_links(&m);
    for w in withdrawals {
        let tx = w["tx"].as_str().unwrap();
        let truth = m.tornado.withdrawals.iter().find(|x| x.tx == tx).unwrap();
        assert_eq!(lower(&w["recipient"]), addr(&truth.recipient), "{tx}");
        assert_eq!(wei(&w["via_links"]), 0, "{tx}");
        assert!(w["confidence"].is_null(), "{tx}");
        assert_eq!(w["links"], Value::Array(vec![]), "{tx}");
        assert_eq!(w["stage"], 1, "{tx}");
        assert!(wei(&w["tainted"]) > 0, "{tx}");
        assert_eq!(w["tainted"], w["by_label"]["stolen"], "{tx}");
        // Part 2's count, from the manifest.
        assert_eq!(
            w["anonymity_set"].as_u64().unwrap(),
            expected_anonymity_set(&m, &links, tx),
            "{tx}"
        );
    }

    // The pool-balance model, from first principles. Phase A (blocks 3–17): 14 notes in, one
    // of them fully reserved by H1 for its self-withdrawal, so 13 notes (1300 units) carry the
    // 10 stolen ether; 12 withdrawals take out 12 notes (11 from the account, 1 by the link).
    // Each of the 11 draws a full note: 10 ETH / 13 (to the wei, floors kept in the pool).
    // Phase B (blocks 21–28): 15 clean notes in, less what links reserve for their
    // withdrawals (a linked withdrawal takes its top confidence, in hundredths of a note,
    // straight from its linked deposits and draws only the rest from the account); then 14
    // withdrawals; what stays is the 3 unspent notes. The account's taint per unit is constant
    // while it is drawn down, so the stolen ether still in the pool is
    //   10 ETH × (units left after A / units carrying taint in A) × (300 / units before B's draws).
    let in_pool = |block_lo: u64, block_hi: u64| {
        let deposits = m
            .tornado
            .deposits
            .iter()
            .filter(|d| addr(&d.pool) == one_addr)
            .filter(|d| (block_lo..=block_hi).contains(&d.block_number))
            .count() as u128;
        let withdrawals: Vec<&str> = m
            .tornado
            .withdrawals
            .iter()
            .filter(|w| addr(&w.pool) == one_addr)
            .filter(|w| (block_lo..=block_hi).contains(&w.block_number))
            .map(|w| w.tx.as_str())
            .collect();
        // Units links reserve: per linked withdrawal, its most confident link.
        let reserved: u128 = withdrawals
            .iter()
            .filter_map(|w| {
                m.tornado
                    .links
                    .iter()
                    .filter(|(_, ls)| ls.iter().any(|l| l.withdrawal_tx == *w))
                    .map(|(h, _)| confidence(h))
                    .max()
            })
            .sum();
        (deposits, withdrawals.len() as u128, reserved)
    };
    let thief_last = m
        .tornado
        .withdrawals
        .iter()
        .filter(|w| w.owner == "thief")
        .map(|w| w.block_number)
        .max()
        .unwrap();
    let (dep_a, wd_a, reserved_a) = in_pool(0, thief_last);
    let (dep_b, wd_b, reserved_b) = in_pool(thief_last + 1, u64::MAX);
    assert_eq!((dep_a, wd_a, reserved_a), (14, 12, 100));
    assert_eq!((dep_b, wd_b, reserved_b), (15, 14, 555));
    let carrying_a = dep_a * NOTE_UNITS - reserved_a;
    let left_a = (dep_a - wd_a) * NOTE_UNITS;
    let before_b = left_a + dep_b * NOTE_UNITS - reserved_b;
    let unspent = (dep_a + dep_b - wd_a - wd_b) * NOTE_UNITS;
    // The manifest's own count of unspent notes: deposits no withdrawal spends.
    let spent: BTreeSet<&str> = m
        .tornado
        .withdrawals
        .iter()
        .map(|w| w.deposit_tx.as_str())
        .collect();
    let unspent_notes = m
        .tornado
        .deposits
        .iter()
        .filter(|d| addr(&d.pool) == one_addr && !spent.contains(d.tx.as_str()))
        .count() as u128;
    assert_eq!(unspent, unspent_notes * NOTE_UNITS);
    // 10 ETH × 200/1300 × 300/1145, as an exact rational num/den.
    let num = deposited * left_a * unspent;
    let den = carrying_a * before_b;
    let withdrawn: u128 = withdrawals.iter().map(|w| wei(&w["tainted"])).sum();
    assert!(withdrawn < deposited);
    let remaining = deposited - withdrawn;
    // Each draw floors, keeping the fraction in the pool: the pool keeps at most one wei per
    // draw more than the exact share, never less than its floor.
    let draws = withdrawals.len() as u128;
    assert!(
        remaining * den >= num - num % den && remaining <= num / den + draws,
        "left in the pool: {remaining} wei; the model says {num}/{den} ≈ {} wei",
        num / den
    );
    // A withdrawal of phase A drew a full note of the 13: 10 ETH / 13, to the wei.
    let first = &m.tornado.withdrawals[0].tx;
    let first = withdrawals.iter().find(|w| w["tx"] == *first).unwrap();
    assert!((10 * ETHER / 13..=10 * ETHER / 13 + 1).contains(&wei(&first["tainted"])));

    // Beyond the pool: one more stage, fed exactly what came out, and it reconciles.
    let onward = t["onward"].as_array().unwrap();
    assert_eq!(onward.len(), 1, "the withdrawn taint re-enters no pool");
    for (i, stage) in onward.iter().enumerate() {
        assert_eq!(stage["stage"], i + 1);
        assert_eq!(stage["summary"]["conserved"], true, "stage {}", i + 1);
        for a in stage["summary"]["assets"].as_array().unwrap() {
            assert_eq!(a["conserved"], true, "stage {}: {a}", i + 1);
        }
    }
    let stage1 = &onward[0];
    assert_eq!(wei(&eth_asset(&stage1["summary"])["source"]), withdrawn);
    let sent: u128 = stage1["sources"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|s| {
            assert!(got_out.contains(s["tx"].as_str().unwrap()), "{s}");
            assert_eq!(lower(&s["address"]), one_addr, "{s}");
        })
        .flat_map(|s| s["sent"].as_array().unwrap().iter())
        .map(|a| wei(&a["amount"]))
        .sum();
    assert_eq!(sent, withdrawn);
    // The first stage reconciles too.
    assert_eq!(r["summary"]["conserved"], true);
}

#[test]
fn linked_only_releases_nothing_and_stop_leaves_the_first_stage_unchanged() {
    let (_dir, db) = indexed();
    let m = manifest();
    let anon = trace_cli(&db, &m, &["--through-tornado", "anonymity-set"]);
    let linked = trace_cli(&db, &m, &["--through-tornado", "linked-only"]);
    let stop = trace_cli(&db, &m, &["--through-tornado", "stop"]);

    // The ten stolen notes still go in …
    let t = &linked["through_tornado"];
    assert_eq!(t["mode"], "linked-only");
    assert_eq!(t["deposits"], anon["through_tornado"]["deposits"]);
    assert_eq!(t["deposits"].as_array().unwrap().len(), 10);
    // … but no heuristic links any of them (the thief's withdrawals are all in `unlinked`), so
    // nothing comes out and there is no stage beyond the pool.
    let thief: BTreeSet<&str> = m
        .tornado
        .withdrawals
        .iter()
        .filter(|w| w.owner == "thief")
        .map(|w| w.tx.as_str())
        .collect();
    assert_eq!(thief.len(), 10);
    assert!(thief
        .iter()
        .all(|w| m.tornado.unlinked.iter().any(|u| u == w)));
    assert_eq!(t["withdrawals"], Value::Array(vec![]));
    assert_eq!(t["onward"], Value::Array(vec![]));
    // The links are found all the same; they just touch no stolen note.
    assert_eq!(
        t["links_by_heuristic"],
        anon["through_tornado"]["links_by_heuristic"]
    );

    // `stop` reports no crossing at all, and the first stage is the same, to the byte, in all
    // three modes: the crossing only adds.
    assert!(stop.get("through_tornado").is_none(), "{stop}");
    for key in ["sources", "holdings", "flows", "summary"] {
        let s = serde_json::to_string(&stop[key]).unwrap();
        assert_eq!(s, serde_json::to_string(&anon[key]).unwrap(), "{key}");
        assert_eq!(s, serde_json::to_string(&linked[key]).unwrap(), "{key}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Bad input.

#[test]
fn bad_claims_files_and_heuristic_names_fail_with_their_exit_codes() {
    let (dir, db) = indexed();
    let m = manifest();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let claimant = addr(&m.tornado.ap_claims[0].address);
    let header = "address,block,ap\n";
    let cases = [
        (
            "short.csv",
            format!("{header}{claimant},28\n"),
            2,
            "expected `address,block,ap`",
        ),
        (
            "block.csv",
            format!("{header}{claimant},28,100\n{claimant},x28,100\n"),
            3,
            "the block is not a number",
        ),
        (
            "ap.csv",
            format!("{header}{claimant},28,-100\n"),
            2,
            "ap is not a number",
        ),
    ];
    for (name, text, line, what) in cases {
        let path = write(name, &text);
        let run = on_db(
            &db,
            &[
                "trace",
                "--chain",
                "eth",
                "--from",
                &m.truth.theft.eth_tx,
                "--ap-claims",
                &path,
                "--format",
                "json",
            ],
        )
        .expect_code(DATAERR);
        let at = format!("{path}:{line}:");
        run.stderr_has(&[&at, what]);
        assert!(run.stdout.is_empty(), "{name}: {}", run.stdout);
    }

    // A missing claims file is an I/O failure (74), as for the other files `trace`, `screen`
    // and `batch` read (`--severity-file`, the batch cases): they report any read error through
    // `exit::code_of`, which maps `std::io::Error` to IOERR. (`labels import` and the index
    // itself distinguish a missing file, 66.)
    let missing = dir.path().join("no-such-claims.csv");
    let missing = missing.to_str().unwrap();
    on_db(
        &db,
        &[
            "trace",
            "--chain",
            "eth",
            "--from",
            &m.truth.theft.eth_tx,
            "--ap-claims",
            missing,
            "--format",
            "json",
        ],
    )
    .expect_code(74)
    .stderr_has(&[missing]);

    // An unknown heuristic id is a usage error that names it.
    for list in ["H9", "H1,H9", "H1,,H2"] {
        let run = on_db(
            &db,
            &[
                "trace",
                "--chain",
                "eth",
                "--from",
                &m.truth.theft.eth_tx,
                "--tornado-heuristics",
                list,
                "--format",
                "json",
            ],
        )
        .expect_code(64);
        let bad = list
            .split(',')
            .find(|h| !matches!(*h, "H1" | "H2"))
            .unwrap();
        run.stderr_has(&[&format!("{bad:?}"), "H1..H5"]);
    }
    // Lower case and spaces are accepted ids.
    let r = trace_cli(&db, &m, &["--tornado-heuristics", "h1, H2"]);
    let counts = r["through_tornado"]["links_by_heuristic"]
        .as_object()
        .unwrap();
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["H1", "H2"]);
}

/// A claims row whose address is not an address at all is as malformed as one whose block is
/// not a number, and must be reported the same way (65, file and line). Only a well-formed
/// address the index never saw may be skipped, since it cannot be linked to anything in it.
#[test]
fn a_claims_row_with_an_unparseable_address_is_malformed() {
    let (dir, db) = indexed();
    let m = manifest();
    let path = dir.path().join("typo.csv");
    std::fs::write(&path, "address,block,ap\n0x70c1-not-hex,28,100\n").unwrap();
    let path = path.to_str().unwrap();
    let run = on_db(
        &db,
        &[
            "trace",
            "--chain",
            "eth",
            "--from",
            &m.truth.theft.eth_tx,
            "--ap-claims",
            path,
            "--format",
            "json",
        ],
    )
    .expect_code(DATAERR);
    run.stderr_has(&[&format!("{path}:2:")]);
}
