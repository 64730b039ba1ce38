//! Linking at scale: 100,000 deposits and 100,000 withdrawals, timed. Ignored by default because
//! it measures rather than checks; run it in release:
//!
//!   cargo test --release -p chaintrace-heuristics --test tornado_scale -- --ignored --nocapture
//!
//! The events come from the same generator, size and seed as `benches/tornado_link.rs`, so the
//! two timings describe one workload.

use std::time::Instant;

use chaintrace_heuristics::tornado::synthetic::{Synthetic, DEFAULT_EVENTS, DEFAULT_SEED};
use chaintrace_heuristics::tornado::{
    withdrawal_taint, AnonymitySets, Heuristic, LinkParams, TaintMode,
};

#[test]
#[ignore = "timing run; use --release -- --ignored --nocapture"]
fn links_100k_deposits_and_100k_withdrawals() {
    let n = DEFAULT_EVENTS;
    let data = Synthetic::generate(n, DEFAULT_SEED);
    let params = LinkParams::default();
    let started = Instant::now();
    let links = data.link(&params);
    let linking = started.elapsed();
    let started = Instant::now();
    let sets = AnonymitySets::new(&data.deposits, &data.withdrawals, &links);
    let sizes = sets.sizes();
    let anonymity = started.elapsed();
    let taint = data.sample_taint();
    let started = Instant::now();
    let out = withdrawal_taint(
        &data.deposits,
        &data.withdrawals,
        &links,
        &taint,
        TaintMode::Pool,
    );
    let tainting = started.elapsed();
    let per_heuristic: Vec<(&str, usize)> = Heuristic::ALL
        .iter()
        .map(|&h| (h.id(), links.iter().filter(|l| l.heuristic == h).count()))
        .collect();
    eprintln!(
        "{n} deposits + {n} withdrawals: link {linking:?} ({} links, {per_heuristic:?}), \
         anonymity sets {anonymity:?}, pool taint {tainting:?}",
        links.len()
    );
    assert!(
        per_heuristic.iter().all(|&(_, count)| count > 0),
        "{per_heuristic:?}"
    );
    assert_eq!(sizes.len(), n as usize);
    let paid: u128 = out.iter().map(|t| t.tainted).sum();
    assert!(paid <= taint.iter().map(|t| t.1).sum::<u128>());
    assert!(linking.as_secs() < 10, "linking took {linking:?}");
}
