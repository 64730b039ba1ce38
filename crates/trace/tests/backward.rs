//! Backward exposure: the spec's X-1 deposit-screening example (★) under haircut and FIFO,
//! plus horizon, coinbase and frontier-cap behaviour.

use std::sync::Arc;

use chaintrace_model::{AddrId, Category};
use chaintrace_trace::attribution::{Attr, Attributions};
use chaintrace_trace::backward::{screen, BackwardPolicy, OriginKind, ScreenParams};
use chaintrace_trace::memory::{out, MemLedger};
use chaintrace_trace::severity::Severity;
use rustc_hash::FxHashMap;

const M: u64 = 1_000_000;

fn attrs(list: &[(u64, &str, Category)]) -> Attributions {
    let mut by_addr = FxHashMap::default();
    for (i, (addr, name, category)) in list.iter().enumerate() {
        let a = Attr {
            label_id: i as u32,
            name: Arc::from(*name),
            category: category.clone(),
            confidence: 80,
            source: Arc::from("test"),
            cluster_definer: false,
            via_cluster: None,
        };
        by_addr.insert(AddrId(*addr), Arc::from(vec![a]));
    }
    Attributions::new(by_addr, FxHashMap::default())
}

/// E → b to P; M → a to P; P spends [a, b] → c to X (+ change d); S → e to X;
/// X spends [c, e] → f, the screened deposit.
fn x1() -> (MemLedger, Attributions, chaintrace_trace::ledger::OutRef) {
    let (e, mx, s, p, x) = (10, 11, 12, 20, 30);
    let mut l = MemLedger::new(0);
    let cb = l.coinbase(&[(600 * M, e), (300 * M, mx), (400 * M, s)]);
    let t0 = l.tx(&[out(cb, 0)], &[(500 * M, p), (100 * M, e)]);
    let t1 = l.tx(&[out(cb, 1)], &[(300 * M, p)]);
    let t2 = l.tx(&[out(t1, 0), out(t0, 0)], &[(600 * M, x), (190 * M, p)]);
    let t4 = l.tx(&[out(cb, 2)], &[(400 * M, x)]);
    let t3 = l.tx(&[out(t2, 0), out(t4, 0)], &[(990 * M, 99)]);
    let a = attrs(&[
        (e, "Exchange E", Category::Exchange),
        (mx, "Mixer M", Category::Mixer),
        (s, "Sanctioned S", Category::Sanctioned),
    ]);
    (l, a, out(t3, 0))
}

fn amounts(exp: &chaintrace_trace::backward::Exposure) -> Vec<(String, u64, u32)> {
    exp.categories
        .iter()
        .map(|c| (c.category.to_string(), c.amount, c.min_hops))
        .collect()
}

#[test]
fn x1_haircut() {
    let (l, a, f) = x1();
    let exp = screen(&l, &a, &[f], &ScreenParams::default()).unwrap();
    assert_eq!(exp.total, 990 * M);
    assert_eq!(
        amounts(&exp),
        vec![
            ("sanctioned".into(), 396 * M, 1),
            ("exchange".into(), 371_250_000, 2),
            ("mixer".into(), 222_750_000, 2)
        ]
    );
    let shares: Vec<u32> = exp.categories.iter().map(|c| c.share_bps).collect();
    assert_eq!(shares, vec![4_000, 3_750, 2_250]);
    assert_eq!(exp.categories[0].direct, 396 * M);
    assert_eq!(exp.categories[1].indirect, 371_250_000);
    assert_eq!(exp.risk, Severity::Severe);
    assert_eq!(exp.score, 0.49);
}

#[test]
fn x1_fifo() {
    let (l, a, f) = x1();
    let params = ScreenParams {
        policy: BackwardPolicy::Fifo,
        ..ScreenParams::default()
    };
    let exp = screen(&l, &a, &[f], &params).unwrap();
    assert_eq!(
        amounts(&exp),
        vec![
            ("sanctioned".into(), 390 * M, 1),
            ("exchange".into(), 300 * M, 2),
            ("mixer".into(), 300 * M, 2)
        ]
    );
    assert_eq!(exp.score, 0.5152);
    assert_eq!(exp.entities[0].name, "Sanctioned S");
}

#[test]
fn horizon_and_mined_coins() {
    let (l, a, f) = x1();
    // One hop: the senders' coins are reached but nothing beyond.
    let params = ScreenParams {
        max_hops: 1,
        ..ScreenParams::default()
    };
    let exp = screen(&l, &a, &[f], &params).unwrap();
    assert_eq!(
        amounts(&exp),
        vec![
            ("unattributed".into(), 594 * M, 1),
            ("sanctioned".into(), 396 * M, 1)
        ]
    );
    // Without labels, everything traces back to the coinbase: mined coins.
    let exp = screen(&l, &Attributions::default(), &[f], &ScreenParams::default()).unwrap();
    assert_eq!(amounts(&exp), vec![("mined".into(), 990 * M, 1)]);
    assert!(exp.origins.iter().all(|o| o.kind == OriginKind::Mined));
    assert_eq!(exp.risk, Severity::None);
}

#[test]
fn frontier_cap_reports_the_rest() {
    let (l, a, f) = x1();
    let params = ScreenParams {
        max_frontier: 1,
        ..ScreenParams::default()
    };
    let exp = screen(&l, &a, &[f], &params).unwrap();
    assert!(exp.truncated);
    let total: u64 = exp.categories.iter().map(|c| c.amount).sum();
    assert_eq!(total, 990 * M, "every unit is assigned somewhere");
    assert!(exp
        .categories
        .iter()
        .any(|c| c.category.as_str() == "truncated"));
}
