//! The account-model worked examples of the spec (§2.4, E-1 to E-4) as exact tests, cell by
//! cell, on the state functions; E-1, E-3 and E-4 again through the forward engine.

use chaintrace_model::eth::{AssetId, U256};
use chaintrace_model::AddrId;

use super::convert::{one_to_one, swap_through};
use super::forward::{trace_forward, AccountForwardParams, AccountSource};
use super::memory::MemAccountLedger;
use super::passthrough::allocate;
use super::result::{AccountStatus, AccountTrace};
use super::state::{AccountPolicy, AccountRules, AccountState, Parcel, Rounding};
use crate::attribution::Attributions;
use crate::taint::{Seg, TaintLabel};

const S: TaintLabel = TaintLabel(0);
const ETH: AssetId = AssetId::ETH;

fn u(v: u64) -> U256 {
    U256::from(v)
}

fn state(policy: AccountPolicy, untracked: u64) -> AccountState {
    AccountState::new(AccountRules::new(policy), u(untracked))
}

fn segs(p: &Parcel) -> Vec<Seg<U256>> {
    p.segments().into_vec()
}

fn c(v: u64) -> Seg<U256> {
    Seg::clean(u(v))
}

fn s(v: u64) -> Seg<U256> {
    Seg::tainted(S, u(v))
}

/// E-1 on one account: tainted amounts of (B, C, tips, burns, A's taint, A's balance).
fn e1(policy: AccountPolicy) -> ([u64; 6], Vec<Parcel>) {
    let mut a = state(policy, 0);
    a.credit(&Parcel::clean(u(600))).unwrap();
    a.credit(&Parcel::seeded(policy, S, u(200))).unwrap();
    let (burn1, tip1) = (a.debit(u(4)).unwrap(), a.debit(u(4)).unwrap());
    let b = a.debit(u(400)).unwrap();
    a.credit(&Parcel::clean(u(392))).unwrap();
    let (burn2, tip2) = (a.debit(u(8)).unwrap(), a.debit(u(8)).unwrap());
    let c = a.debit(u(704)).unwrap();
    let t = |p: &Parcel| p.tainted().to::<u64>();
    let cells = [
        t(&b),
        t(&c),
        t(&tip1) + t(&tip2),
        t(&burn1) + t(&burn2),
        a.tainted().to::<u64>(),
        a.balance().to::<u64>(),
    ];
    (cells, vec![b, c, tip1, tip2, burn1, burn2])
}

#[test]
fn e1_every_policy() {
    use AccountPolicy::*;
    assert_eq!(e1(Fifo).0, [0, 200, 0, 0, 0, 64]);
    assert_eq!(e1(Lifo).0, [192, 0, 4, 4, 0, 64]);
    assert_eq!(e1(Haircut).0, [100, 88, 2, 2, 8, 64]);
    assert_eq!(e1(Seniority).0, [192, 0, 4, 4, 0, 64]);
    assert_eq!(e1(ReversedSeniority).0, [0, 136, 0, 0, 64, 64]);
    // Poison: B, C and the tips (the miner, when fees propagate) are tainted, and so is A.
    let (cells, parcels) = e1(Poison);
    assert!(parcels.iter().all(Parcel::is_tainted));
    assert_eq!(cells[4], 64);
}

#[test]
fn e1_fifo_hand_trace() {
    let mut a = state(AccountPolicy::Fifo, 0);
    a.credit(&Parcel::clean(u(600))).unwrap();
    a.credit(&Parcel::seeded(AccountPolicy::Fifo, S, u(200)))
        .unwrap();
    assert_eq!(a.segments(), vec![c(600), s(200)]);
    for y in [4, 4, 400] {
        a.debit(u(y)).unwrap();
    }
    assert_eq!(a.segments(), vec![c(192), s(200)]);
    a.credit(&Parcel::clean(u(392))).unwrap();
    assert_eq!(a.segments(), vec![c(192), s(200), c(392)]);
    for y in [8, 8] {
        a.debit(u(y)).unwrap();
    }
    let to_c = a.debit(u(704)).unwrap();
    assert_eq!(segs(&to_c), vec![c(176), s(200), c(328)]);
    assert_eq!(a.segments(), vec![c(64)]);
}

#[test]
fn e1_gas_drawn_per_policy_haircut_hand_trace() {
    let (_, p) = e1(AccountPolicy::Haircut);
    let t: Vec<u64> = p.iter().map(|p| p.tainted().to::<u64>()).collect();
    // B, C, tip1, tip2, burn1, burn2.
    assert_eq!(t, vec![100, 88, 1, 1, 1, 1]);
}

/// E-2: A holds 600 clean + 400 S USDC, swaps 500 USDC for 250 WETH, unwraps the WETH.
/// Returns (USDC sent, WETH received, A's USDC after, ETH after the unwrap).
fn e2(policy: AccountPolicy) -> (Parcel, Parcel, AccountState, AccountState) {
    let mut usdc = state(policy, 0);
    usdc.credit(&Parcel::clean(u(600))).unwrap();
    usdc.credit(&Parcel::seeded(policy, S, u(400))).unwrap();
    let sent = usdc.debit(u(500)).unwrap();
    let received = swap_through(&sent, u(250)).unwrap();
    let mut weth = state(policy, 0);
    weth.credit(&received).unwrap();
    let unwrapped = one_to_one(weth.debit(u(250)).unwrap(), policy);
    let mut eth = state(policy, 0);
    eth.credit(&unwrapped).unwrap();
    (sent, received, usdc, eth)
}

#[test]
fn e2_swap_through_and_unwrap() {
    let (sent, received, usdc, eth) = e2(AccountPolicy::Haircut);
    let by = |v: u64| vec![(S, u(v))];
    assert_eq!((sent.amount, sent.by_label().into_vec()), (u(500), by(200)));
    assert_eq!(
        (received.amount, received.by_label().into_vec()),
        (u(250), by(100))
    );
    assert_eq!(
        (usdc.balance(), usdc.by_label().into_vec()),
        (u(500), by(200))
    );
    assert_eq!(
        (eth.balance(), eth.by_label().into_vec()),
        (u(250), by(100))
    );

    let (sent, received, usdc, eth) = e2(AccountPolicy::Fifo);
    assert_eq!(segs(&sent), vec![c(500)]);
    assert_eq!(segs(&received), vec![c(250)]);
    assert_eq!(usdc.segments(), vec![c(100), s(400)]);
    assert_eq!(eth.segments(), vec![c(250)]);

    let (sent, received, usdc, eth) = e2(AccountPolicy::Lifo);
    assert_eq!(segs(&sent), vec![s(400), c(100)]);
    assert_eq!(segs(&received), vec![s(200), c(50)]);
    assert_eq!(usdc.segments(), vec![c(500)]);
    assert_eq!(eth.segments(), vec![s(200), c(50)]);
}

#[test]
fn e2_naive_pool_as_account() {
    // The pool P is just an account: it absorbs the taint and pays out clean WETH.
    let policy = AccountPolicy::Haircut;
    let mut a_usdc = state(policy, 0);
    a_usdc.credit(&Parcel::clean(u(600))).unwrap();
    a_usdc.credit(&Parcel::seeded(policy, S, u(400))).unwrap();
    let sent = a_usdc.debit(u(500)).unwrap();
    let mut pool_usdc = state(policy, 1_000_000);
    pool_usdc.credit(&sent).unwrap();
    assert_eq!(pool_usdc.tainted(), u(200));
    let weth = state(policy, 1_000_000).debit(u(250)).unwrap(); // the pool's WETH is clean
    assert_eq!(weth.tainted(), U256::ZERO);
    assert_eq!((a_usdc.balance(), a_usdc.tainted()), (u(500), u(200)));
    let mut eth = state(policy, 0);
    eth.credit(&one_to_one(weth, policy)).unwrap();
    assert_eq!(eth.tainted(), U256::ZERO);
}

#[test]
fn e3_router_rules_on_state_functions() {
    for policy in [
        AccountPolicy::Haircut,
        AccountPolicy::Fifo,
        AccountPolicy::Lifo,
    ] {
        let inflow = Parcel::seeded(policy, S, u(10_000));
        // Pass-through: the inflow is matched to the outflows within the transaction.
        let outs = allocate(std::slice::from_ref(&inflow), &[u(9_900), u(100)], policy).unwrap();
        assert_eq!((outs[0].tainted(), outs[1].tainted()), (u(9_900), u(100)));
        // Naive: the router's stored balance commingles it.
        let mut r = state(policy, 990_000);
        r.credit(&inflow).unwrap();
        let d = r.debit(u(9_900)).unwrap().tainted();
        let f = r.debit(u(100)).unwrap().tainted();
        let expect = match policy {
            AccountPolicy::Haircut => (99, 1, 9_900),
            AccountPolicy::Fifo => (0, 0, 10_000),
            _ => (9_900, 100, 0),
        };
        assert_eq!(
            (d, f, r.tainted()),
            (u(expect.0), u(expect.1), u(expect.2)),
            "{policy:?}"
        );
    }
}

#[test]
fn e4_untracked_prior_balance() {
    let run = |rules: AccountRules| {
        let mut z = AccountState::new(rules, u(1_000));
        z.credit(&Parcel::seeded(rules.policy, S, u(300))).unwrap();
        let w = z.debit(u(1_100)).unwrap();
        (w, z)
    };
    let (w, z) = run(AccountRules::new(AccountPolicy::Fifo));
    assert_eq!(
        (segs(&w), z.segments()),
        (vec![c(1_000), s(100)], vec![s(200)])
    );
    let (w, z) = run(AccountRules::new(AccountPolicy::Lifo));
    assert_eq!(
        (segs(&w), z.segments()),
        (vec![s(300), c(800)], vec![c(200)])
    );
    let (w, z) = run(AccountRules::new(AccountPolicy::Haircut));
    assert_eq!(
        (w.tainted(), z.balance(), z.tainted()),
        (u(253), u(200), u(47))
    );
    // Largest remainder rounds the 253.85 up instead; both conserve the 300.
    let lr = AccountRules {
        policy: AccountPolicy::Haircut,
        rounding: Rounding::LargestRemainder,
    };
    let (w, z) = run(lr);
    assert_eq!((w.tainted(), z.tainted()), (u(254), u(46)));
}

// --- the same examples through the forward engine ---------------------------------------

const T: AddrId = AddrId(1);
const A: AddrId = AddrId(2);
const B: AddrId = AddrId(3);
const C: AddrId = AddrId(4);
const X: AddrId = AddrId(5);
const Y: AddrId = AddrId(6);
const MINER: AddrId = AddrId(9);

fn source(addr: AddrId) -> Vec<AccountSource> {
    vec![AccountSource::Address {
        addr,
        label: S,
        from: None,
    }]
}

fn trace(l: &MemAccountLedger, params: &AccountForwardParams, from: AddrId) -> AccountTrace {
    let t = trace_forward(l, &Attributions::default(), &source(from), params).unwrap();
    if params.rules.policy.is_lossless() {
        assert_eq!(t.conserved, Some(true), "{t:#?}");
    }
    t
}

fn held(t: &AccountTrace, addr: AddrId) -> u64 {
    t.holding(addr, ETH, AccountStatus::Held)
        .map_or(0, |h| h.tainted.to::<u64>())
}

fn burnt(t: &AccountTrace) -> u64 {
    t.holding(AddrId::NONE, ETH, AccountStatus::Burnt)
        .map_or(0, |h| h.tainted.to::<u64>())
}

fn e1_ledger() -> MemAccountLedger {
    let mut l = MemAccountLedger::new();
    l.block(MINER);
    l.tx().value(X, A, 600u64);
    l.tx().value(T, A, 200u64);
    l.tx().gas(A, 4u64, 4u64).value(A, B, 400u64);
    l.tx().value(Y, A, 392u64);
    l.tx().gas(A, 8u64, 8u64).value(A, C, 704u64);
    l
}

#[test]
fn e1_through_the_engine() {
    use AccountPolicy::*;
    let l = e1_ledger();
    let table = [
        (Fifo, [0, 200, 0, 0, 0]),
        (Lifo, [192, 0, 4, 4, 0]),
        (Haircut, [100, 88, 2, 2, 8]),
        (Seniority, [192, 0, 4, 4, 0]),
        (ReversedSeniority, [0, 136, 0, 0, 64]),
    ];
    for (policy, cells) in table {
        let t = trace(&l, &AccountForwardParams::new(AccountRules::new(policy)), T);
        let got = [
            held(&t, B),
            held(&t, C),
            held(&t, MINER),
            burnt(&t),
            held(&t, A),
        ];
        assert_eq!(got, cells, "{policy:?}");
        let summary = t.asset(ETH).unwrap();
        assert_eq!(summary.totals.source, u(200));
    }
    let t = trace(&l, &AccountForwardParams::new(AccountRules::new(Poison)), T);
    let got = [
        held(&t, B),
        held(&t, C),
        held(&t, MINER),
        burnt(&t),
        held(&t, A),
    ];
    assert_eq!(got, [400, 704, 12, 12, 64]);
    assert_eq!(t.conserved, None);
}

#[test]
fn e1_with_gas_drawn_last() {
    // EthereumBlacklisting's order: value first, so LIFO sends all 200 to B and pays clean gas.
    let mut params = AccountForwardParams::new(AccountRules::new(AccountPolicy::Lifo));
    params.gas_first = false;
    let t = trace(&e1_ledger(), &params, T);
    assert_eq!([held(&t, B), held(&t, MINER), burnt(&t)], [200, 0, 0]);
}

#[test]
fn e3_through_the_engine() {
    let (r, d, f) = (AddrId(2), AddrId(3), AddrId(4));
    let mut l = MemAccountLedger::new();
    l.reward(r, 990_000u64);
    l.tx()
        .value(T, r, 10_000u64)
        .internal(r, d, 9_900u64)
        .internal(r, f, 100u64);
    for policy in AccountPolicy::NAMED.map(|(_, p)| p) {
        let t = trace(&l, &AccountForwardParams::new(AccountRules::new(policy)), T);
        assert_eq!(
            [held(&t, d), held(&t, f), held(&t, r)],
            [9_900, 100, 0],
            "{policy:?}"
        );
        assert!(t
            .flows
            .iter()
            .filter(|x| x.from == r)
            .all(|x| x.pass_through));
    }
    let naive = [
        (AccountPolicy::Haircut, [99, 1, 9_900]),
        (AccountPolicy::Fifo, [0, 0, 10_000]),
        (AccountPolicy::Lifo, [9_900, 100, 0]),
    ];
    for (policy, cells) in naive {
        let mut params = AccountForwardParams::new(AccountRules::new(policy));
        params.detect_pass_through = false;
        let t = trace(&l, &params, T);
        assert_eq!([held(&t, d), held(&t, f), held(&t, r)], cells, "{policy:?}");
    }
}

#[test]
fn e4_through_the_engine() {
    // The engine seeds Z's state with its indexed balance before the taint arrived.
    let (z, w) = (AddrId(2), AddrId(3));
    let mut l = MemAccountLedger::new();
    l.reward(z, 1_000u64);
    l.tx().value(T, z, 300u64);
    l.tx().value(z, w, 1_100u64);
    let cells = [
        (AccountPolicy::Fifo, [100, 200]),
        (AccountPolicy::Lifo, [300, 0]),
        (AccountPolicy::Haircut, [253, 47]),
    ];
    for (policy, cells) in cells {
        let t = trace(&l, &AccountForwardParams::new(AccountRules::new(policy)), T);
        assert_eq!([held(&t, w), held(&t, z)], cells, "{policy:?}");
    }
}
