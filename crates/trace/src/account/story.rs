//! End-to-end forward traces over a small laundering story, with exact amounts per policy,
//! plus the engine's stops, caps and determinism.
//!
//! The story (ether unless noted; gas is `burn + tip`, tips go to the miner M):
//!
//! | tx | what |
//! |---|---|
//! | 0 | the USDT contract mints 3,000 USDT to the thief T |
//! | 1 | victim V → T 1,000 (gas 1 + 1): the theft |
//! | 2 | clean funder C1 → H1 500 (gas 1 + 1) |
//! | 3 | T → H1 600 (gas 2 + 1) |
//! | 4 | H1 → H2 800 (gas 2 + 2) |
//! | 5 | clean funder C2 → H2 200 (gas 1 + 0) |
//! | 6 | H2 → forwarder FW 700 (gas 3 + 2); FW → O1 400 and FW → O2 300 (internal calls) |
//! | 7 | T → H2 3,000 USDT (gas 1 + 1) |
//! | 8 | O1 → exchange EX 390 (gas 1 + 1) |
//! | 9 | H2 → EX 3,000 USDT (gas 1 + 1) |
//!
//! T sends 605 ETH in all (600 + 5 of gas) and 3,000 USDT: the source totals.

use std::collections::BTreeMap;
use std::sync::Arc;

use chaintrace_model::eth::{AssetId, EventNum, TransferKind, U256};
use chaintrace_model::{AddrId, Category, TxNum};
use rustc_hash::FxHashMap;

use super::forward::{trace_forward, AccountForwardParams, AccountSource};
use super::ledger::AccountLedger;
use super::memory::{final_balances, MemAccountLedger};
use super::result::{AccountStatus, AccountTrace};
use super::state::{AccountPolicy, AccountRules};
use crate::attribution::{Attr, Attributions};
use crate::taint::TaintLabel;

const S: TaintLabel = TaintLabel(0);
const V: AddrId = AddrId(1);
const T: AddrId = AddrId(2);
const H1: AddrId = AddrId(3);
const H2: AddrId = AddrId(4);
const FW: AddrId = AddrId(5);
const O1: AddrId = AddrId(6);
const O2: AddrId = AddrId(7);
const USDT_CONTRACT: AddrId = AddrId(8);
const EX: AddrId = AddrId(9);
const M: AddrId = AddrId(10);
const C1: AddrId = AddrId(11);
const C2: AddrId = AddrId(12);
const ETH: AssetId = AssetId::ETH;
const USDT: AssetId = AssetId(8);

fn u(v: u64) -> U256 {
    U256::from(v)
}

fn story() -> MemAccountLedger {
    let mut l = MemAccountLedger::new();
    l.block(M);
    l.reward(V, 5_000u64);
    l.reward(C1, 2_000u64);
    l.reward(C2, 300u64);
    l.tx().token(USDT_CONTRACT, AddrId::NONE, T, 3_000u64);
    l.tx().gas(V, 1u64, 1u64).value(V, T, 1_000u64);
    l.tx().gas(C1, 1u64, 1u64).value(C1, H1, 500u64);
    l.block(M);
    l.tx().gas(T, 2u64, 1u64).value(T, H1, 600u64);
    l.tx().gas(H1, 2u64, 2u64).value(H1, H2, 800u64);
    l.tx().gas(C2, 1u64, 0u64).value(C2, H2, 200u64);
    l.block(M);
    l.tx()
        .gas(H2, 3u64, 2u64)
        .value(H2, FW, 700u64)
        .internal(FW, O1, 400u64)
        .internal(FW, O2, 300u64);
    l.tx()
        .gas(T, 1u64, 1u64)
        .token(USDT_CONTRACT, T, H2, 3_000u64);
    l.block(M);
    l.tx().gas(O1, 1u64, 1u64).value(O1, EX, 390u64);
    l.tx()
        .gas(H2, 1u64, 1u64)
        .token(USDT_CONTRACT, H2, EX, 3_000u64);
    l
}

fn attr(name: &str, category: Category) -> Arc<[Attr]> {
    Arc::from(vec![Attr {
        label_id: 1,
        name: Arc::from(name),
        category,
        confidence: 100,
        source: Arc::from("test"),
        cluster_definer: false,
        via_cluster: None,
    }])
}

fn labels(addr: AddrId, name: &str, category: Category) -> Attributions {
    let mut by_addr = FxHashMap::default();
    by_addr.insert(addr, attr(name, category));
    Attributions::new(by_addr, FxHashMap::default())
}

fn thief() -> Vec<AccountSource> {
    vec![AccountSource::Address {
        addr: T,
        label: S,
        from: None,
    }]
}

fn params(policy: AccountPolicy) -> AccountForwardParams {
    AccountForwardParams::new(AccountRules::new(policy))
}

fn run_with(l: &MemAccountLedger, p: &AccountForwardParams) -> AccountTrace {
    let attrs = labels(EX, "Exchange", Category::Exchange);
    let t = trace_forward(l, &attrs, &thief(), p).unwrap();
    if p.rules.policy.is_lossless() {
        assert_eq!(t.conserved, Some(true), "{t:#?}");
    }
    t
}

fn run(policy: AccountPolicy) -> AccountTrace {
    run_with(&story(), &params(policy))
}

/// Tainted amount at (addr, asset) with `status`.
fn at(t: &AccountTrace, addr: AddrId, asset: AssetId, status: AccountStatus) -> u64 {
    t.holding(addr, asset, status)
        .map_or(0, |h| h.tainted.to::<u64>())
}

/// ETH: H1, H2, O1, O2 held; the miner; exchange; burnt. USDT at the exchange.
fn cells(t: &AccountTrace) -> [u64; 9] {
    use AccountStatus::*;
    [
        at(t, H1, ETH, Held),
        at(t, H2, ETH, Held),
        at(t, O1, ETH, Held),
        at(t, O2, ETH, Held),
        at(t, M, ETH, Held),
        at(t, EX, ETH, StoppedAtLabel),
        at(t, AddrId::NONE, ETH, Burnt),
        at(t, EX, USDT, StoppedAtLabel),
        at(t, H2, USDT, Held),
    ]
}

#[test]
fn sources_count_everything_the_thief_sent() {
    let t = run(AccountPolicy::Fifo);
    let sent: Vec<(AssetId, u64)> = t.sources[0]
        .sent
        .iter()
        .map(|a| (a.asset, a.amount.to::<u64>()))
        .collect();
    assert_eq!(sent, vec![(ETH, 605), (USDT, 3_000)]);
    assert_eq!(t.sources[0].from.0, 3); // the USDT mint, its first event
    let eth = t.asset(ETH).unwrap();
    assert_eq!(eth.totals.source, u(605));
    assert_eq!(eth.totals.holdings + eth.totals.burnt, u(605));
}

#[test]
fn fifo_story() {
    let t = run(AccountPolicy::Fifo);
    assert_eq!(cells(&t), [296, 93, 8, 90, 3, 111, 4, 3_000, 0]);
    // The forwarder split the inflow [C491, S209] proportionally, order kept.
    let o2 = t.holding(O2, ETH, AccountStatus::Held).unwrap();
    let segs: Vec<(Option<TaintLabel>, u64)> = o2
        .segments
        .iter()
        .map(|s| (s.label, s.amount.to::<u64>()))
        .collect();
    assert_eq!(segs, vec![(None, 210), (Some(S), 90)]);
}

#[test]
fn held_balances_agree_with_the_ledger() {
    let l = story();
    let balances = final_balances(&l);
    for (_, policy) in AccountPolicy::NAMED {
        let t = run_with(&l, &params(policy));
        for h in t.holdings.iter().filter(|h| !h.addr.is_none()) {
            assert_eq!(
                Some(&h.balance),
                balances.get(&(h.addr, h.asset)),
                "{policy:?} {h:?}"
            );
        }
    }
}

#[test]
fn lifo_story() {
    let t = run(AccountPolicy::Lifo);
    assert_eq!(cells(&t), [0, 293, 0, 129, 6, 170, 7, 3_000, 0]);
}

#[test]
fn haircut_story() {
    let t = run(AccountPolicy::Haircut);
    assert_eq!(cells(&t), [162, 129, 4, 131, 3, 171, 5, 3_000, 0]);
}

#[test]
fn poison_story() {
    let t = run(AccountPolicy::Poison);
    // Every tainted account is tainted whole: its balance.
    assert_eq!(cells(&t), [296, 293, 8, 300, 10, 390, 10, 3_000, 0]);
    assert_eq!(t.conserved, None);
    // Poison covers every lossless policy's holdings.
    for policy in [
        AccountPolicy::Haircut,
        AccountPolicy::Fifo,
        AccountPolicy::Lifo,
    ] {
        for h in &run(policy).holdings {
            assert!(
                t.tainted_at(h.addr, h.asset) >= h.tainted,
                "{policy:?} {h:?}"
            );
        }
    }
}

#[test]
fn flows_record_every_tainted_transfer_with_its_hop() {
    let t = run(AccountPolicy::Haircut);
    let out_of_fw: Vec<(AddrId, u64, u32, bool)> = t
        .flows
        .iter()
        .filter(|f| f.from == FW)
        .map(|f| (f.to, f.tainted.to::<u64>(), f.hop, f.pass_through))
        .collect();
    // T → H1 is hop 1, H1 → H2 hop 2, H2 → FW hop 3; the forwarder adds no hop.
    assert_eq!(out_of_fw, vec![(O1, 175, 3, true), (O2, 131, 3, true)]);
    let theft = t.flows.iter().find(|f| f.from == T && f.to == H1).unwrap();
    assert_eq!(
        (theft.kind, theft.hop, theft.tx),
        (TransferKind::TxValue, 1, Some(TxNum(3)))
    );
    assert!(t.flows.windows(2).all(|w| w[0].event < w[1].event));
    let ex = t.holding(EX, ETH, AccountStatus::StoppedAtLabel).unwrap();
    assert_eq!((ex.hops, ex.attrs[0].name.as_ref()), (4, "Exchange"));
}

#[test]
fn a_transaction_source_taints_only_that_transaction() {
    let l = story();
    let sources = [AccountSource::Tx {
        tx: TxNum(3),
        label: S,
    }];
    let attrs = labels(EX, "Exchange", Category::Exchange);
    let t = trace_forward(&l, &attrs, &sources, &params(AccountPolicy::Fifo)).unwrap();
    assert_eq!(t.conserved, Some(true));
    assert_eq!(t.asset(ETH).unwrap().totals.source, u(603));
    assert!(t.asset(USDT).is_none());
    assert_eq!((t.sources[0].addr, t.sources[0].tx), (T, Some(TxNum(3))));
    // Same as the address source, less the gas of transaction 7 and the USDT.
    assert_eq!(cells(&t), [296, 93, 8, 90, 2, 111, 3, 0, 0]);
}

#[test]
fn several_transaction_sources_of_one_sender_in_any_order() {
    let l = story();
    let sources = [7, 3].map(|tx| AccountSource::Tx {
        tx: TxNum(tx),
        label: S,
    });
    let attrs = labels(EX, "Exchange", Category::Exchange);
    let t = trace_forward(&l, &attrs, &sources, &params(AccountPolicy::Fifo)).unwrap();
    assert_eq!(t.conserved, Some(true));
    // Together they cover everything the thief sent: the address source's result.
    assert_eq!(cells(&t), cells(&run(AccountPolicy::Fifo)));
    let sent = |i: usize| -> Vec<u64> {
        t.sources[i]
            .sent
            .iter()
            .map(|a| a.amount.to::<u64>())
            .collect()
    };
    assert_eq!((sent(0), sent(1)), (vec![2, 3_000], vec![603]));
}

#[test]
fn mixers_and_hop_limits_stop_the_trace() {
    let l = story();
    let attrs = labels(H2, "Tornado", Category::Mixer);
    let t = trace_forward(&l, &attrs, &thief(), &params(AccountPolicy::Fifo)).unwrap();
    assert_eq!(t.conserved, Some(true));
    assert_eq!(at(&t, H2, ETH, AccountStatus::Mixer), 304);
    assert_eq!(at(&t, H2, USDT, AccountStatus::Mixer), 3_000);
    assert_eq!(at(&t, O1, ETH, AccountStatus::Held), 0);

    let mut p = params(AccountPolicy::Haircut);
    p.max_hops = 1;
    let t = run_with(&l, &p);
    assert_eq!(at(&t, H1, ETH, AccountStatus::MaxHops), 600);
    assert_eq!(at(&t, H2, USDT, AccountStatus::MaxHops), 3_000);
    assert_eq!(at(&t, M, ETH, AccountStatus::MaxHops), 2);
}

#[test]
fn dust_is_reported_not_followed() {
    let mut p = params(AccountPolicy::Fifo);
    p.min_amount = u(5);
    p.min_amount_per_asset.insert(USDT, u(10_000));
    let t = run_with(&story(), &p);
    // Tips of one unit never start a trace at the miner; the USDT is dust at H2.
    assert_eq!(at(&t, M, ETH, AccountStatus::BelowMin), 3);
    assert_eq!(at(&t, H2, USDT, AccountStatus::BelowMin), 3_000);
    let eth = t.asset(ETH).unwrap();
    assert_eq!(eth.totals.dust, u(3));
}

#[test]
fn until_stops_before_later_transactions() {
    let l = story();
    let mut p = params(AccountPolicy::Fifo);
    let tx8_first = l.tx_events(TxNum(8)).unwrap()[0].num;
    p.until_event = Some(EventNum(tx8_first.0 - 1));
    let t = run_with(&l, &p);
    assert_eq!(at(&t, EX, ETH, AccountStatus::StoppedAtLabel), 0);
    assert_eq!(at(&t, O1, ETH, AccountStatus::Held), 119);
    assert_eq!(t.horizon, tx8_first);
    let mut p = params(AccountPolicy::Fifo);
    p.until_height = Some(1);
    let t = run_with(&l, &p);
    assert_eq!(at(&t, H2, ETH, AccountStatus::Held), 304);
}

#[test]
fn hub_caps_are_visible_and_conserve() {
    let mut p = params(AccountPolicy::Haircut);
    p.max_events_per_account = 2;
    let t = run_with(&story(), &p);
    assert!(t.truncated);
    assert!(t
        .holdings
        .iter()
        .any(|h| h.status == AccountStatus::Truncated));
    let mut p = params(AccountPolicy::Haircut);
    p.max_events = 8;
    let t = run_with(&story(), &p);
    assert!(t.truncated);
}

#[test]
fn tips_can_be_a_sink() {
    let mut p = params(AccountPolicy::Lifo);
    p.tip_to_miner = false;
    let t = run_with(&story(), &p);
    assert_eq!(at(&t, M, ETH, AccountStatus::Fee), 6);
    assert_eq!(t.asset(ETH).unwrap().totals.fees, u(6));
}

#[test]
fn results_are_identical_run_to_run_and_across_thread_pools() {
    let l = story();
    let json = |threads: usize, policy| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| serde_json::to_string(&run_with(&l, &params(policy))).unwrap())
    };
    for (_, policy) in AccountPolicy::NAMED {
        let one = json(1, policy);
        assert_eq!(one, json(4, policy));
        assert_eq!(one, json(1, policy));
    }
}

#[test]
fn spam_does_not_spread_or_crash() {
    let mut l = story();
    let spam = AddrId(20);
    // Zero-value "address poisoning" transfers from the thief, and a token whose logs
    // credit more than 2^256 in all.
    l.tx().token(spam, T, O2, 0u64);
    l.tx().token(spam, AddrId::NONE, T, U256::MAX);
    l.tx().token(spam, AddrId::NONE, H1, U256::MAX);
    l.tx().token(spam, T, H1, U256::MAX);
    for (_, policy) in AccountPolicy::NAMED {
        let t = run_with(&l, &params(policy));
        let spam_asset = AssetId::token(spam);
        assert_eq!(at(&t, O2, spam_asset, AccountStatus::Held), 0);
        assert!(t.holdings.iter().any(|h| h.asset == spam_asset));
    }
}

#[test]
fn bad_sources_are_errors() {
    let l = story();
    let attrs = Attributions::default();
    let p = params(AccountPolicy::Fifo);
    let nobody = [AccountSource::Address {
        addr: AddrId(999),
        label: S,
        from: None,
    }];
    assert!(trace_forward(&l, &attrs, &nobody, &p).is_err());
    let zero = [AccountSource::Address {
        addr: AddrId::NONE,
        label: S,
        from: None,
    }];
    assert!(trace_forward(&l, &attrs, &zero, &p).is_err());
    let no_tx = [AccountSource::Tx {
        tx: TxNum(999),
        label: S,
    }];
    assert!(trace_forward(&l, &attrs, &no_tx, &p).is_err());
}

/// One random transaction of a generated ledger.
#[derive(Clone, Debug)]
enum Op {
    /// `from → to` ether with gas `burn + tip`.
    Value(u64, u64, u64, u64, u64),
    /// `from → router → (a, b)` in one transaction; `keep` stays with the router.
    Route(u64, u64, u64, u64, u64, u64),
    /// A token transfer.
    Token(u64, u64, u64),
    /// A block reward.
    Reward(u64, u64),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let who = 1u64..7;
    let amount = 0u64..500;
    prop_oneof![
        (who.clone(), who.clone(), amount.clone(), 0u64..3, 0u64..3)
            .prop_map(|(f, t, a, b, p)| Op::Value(f, t, a, b, p)),
        (
            who.clone(),
            who.clone(),
            who.clone(),
            amount.clone(),
            amount.clone(),
            0u64..3
        )
            .prop_map(|(f, x, y, a, b, k)| Op::Route(f, x, y, a, b, k)),
        (who.clone(), who.clone(), amount.clone()).prop_map(|(f, t, a)| Op::Token(f, t, a)),
        (who, amount).prop_map(|(t, a)| Op::Reward(t, a)),
    ]
}

/// What each generated account holds (ether, or the token), to keep a ledger solvent.
struct Purse {
    held: BTreeMap<(u64, bool), u64>,
    solvent: bool,
}

impl Purse {
    fn take(&mut self, who: u64, token: bool, want: u64) -> u64 {
        let have = self.held.entry((who, token)).or_default();
        let got = if self.solvent { want.min(*have) } else { want };
        *have = have.saturating_sub(got);
        got
    }

    fn give(&mut self, who: u64, token: bool, amount: u64) {
        *self.held.entry((who, token)).or_default() += amount;
    }
}

/// Addresses 1..7 are accounts, 7 a router, 8 a token, 10 the miner. With `solvent`, every
/// amount is cut to what the sender holds (a complete index); otherwise senders overspend,
/// as they seem to in an index that starts late.
fn generated(ops: &[Op], solvent: bool) -> MemAccountLedger {
    let (router, token) = (AddrId(7), AddrId(8));
    let mut l = MemAccountLedger::new();
    l.block(M);
    l.reward(T, 1_000u64);
    l.tx().token(token, AddrId::NONE, T, 1_000u64);
    let mut purse = Purse {
        held: BTreeMap::from([((2, false), 1_000), ((2, true), 1_000)]),
        solvent,
    };
    for (i, op) in ops.iter().enumerate() {
        if i % 4 == 0 {
            l.block(M);
        }
        match *op {
            Op::Value(f, t, a, burn, tip) => {
                let (burn, tip) = (purse.take(f, false, burn), purse.take(f, false, tip));
                let a = purse.take(f, false, a);
                purse.give(t, false, a);
                l.tx()
                    .gas(AddrId(f), burn, tip)
                    .value(AddrId(f), AddrId(t), a);
            }
            Op::Route(f, x, y, a, b, keep) => {
                let total = purse.take(f, false, a + b + keep);
                let a = a.min(total);
                let b = b.min(total - a);
                purse.give(x, false, a);
                purse.give(y, false, b);
                l.tx()
                    .value(AddrId(f), router, total)
                    .internal(router, AddrId(x), a)
                    .internal(router, AddrId(y), b);
            }
            Op::Token(f, t, a) => {
                let a = purse.take(f, true, a);
                purse.give(t, true, a);
                l.tx().token(token, AddrId(f), AddrId(t), a);
            }
            Op::Reward(t, a) => {
                purse.give(t, false, a);
                l.reward(AddrId(t), a);
            }
        }
    }
    l
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })]

    /// On any ledger, every lossless policy reconciles exactly, poison's support covers every
    /// policy's (and, on a solvent ledger, its amounts do too), and two runs give the same
    /// bytes.
    #[test]
    fn random_ledgers_reconcile(
        ops in proptest::collection::vec(op(), 1..40),
        flags in proptest::collection::vec(proptest::bool::ANY, 4),
    ) {
        let l = generated(&ops, flags[3]);
        let attrs = labels(AddrId(6), "Exchange", Category::Exchange);
        let run = |policy| {
            let mut p = params(policy);
            if flags[0] {
                p.pass_through.insert(AddrId(7));
            }
            p.gas_first = flags[1];
            p.tip_to_miner = flags[2];
            trace_forward(&l, &attrs, &thief(), &p).unwrap()
        };
        let poison = run(AccountPolicy::Poison);
        for (_, policy) in AccountPolicy::NAMED {
            let t = run(policy);
            if policy.is_lossless() {
                proptest::prop_assert_eq!(t.conserved, Some(true), "{:?} {:#?}", policy, t);
                for h in t.holdings.iter().filter(|h| !h.tainted.is_zero()) {
                    let covered = poison.holdings.iter().any(|p| (p.addr, p.asset) == (h.addr, h.asset));
                    proptest::prop_assert!(covered, "{:?} {:?}", policy, h);
                    if flags[3] {
                        proptest::prop_assert!(poison.tainted_at(h.addr, h.asset) >= h.tainted);
                    }
                }
            }
            let again = serde_json::to_string(&run(policy)).unwrap();
            proptest::prop_assert_eq!(serde_json::to_string(&t).unwrap(), again);
        }
    }
}
