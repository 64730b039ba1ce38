//! The worked examples of tracing spec §5.4 (★, exact), plus H3 and the taint flow on the same
//! data.

use chaintrace_heuristics::tornado::{
    link, withdrawal_taint, AnonymitySets, ApClaim, Deposit, GasFingerprint, Heuristic,
    Interactions, Link, LinkDetail, LinkParams, Pool, PoolId, Ratio, TaintMode, Withdrawal,
};
use chaintrace_model::eth::AssetId;
use chaintrace_model::AddrId;

const ETH1: PoolId = PoolId(0);
const ETH01: PoolId = PoolId(1);
const GWEI: u128 = 1_000_000_000;
const RELAYER: AddrId = AddrId(50);

fn pools() -> Vec<Pool> {
    vec![
        Pool::new(
            AddrId(1_000),
            AssetId::ETH,
            1_000_000_000_000_000_000,
            "1 ETH",
        ),
        Pool::new(
            AddrId(1_001),
            AssetId::ETH,
            100_000_000_000_000_000,
            "0.1 ETH",
        ),
    ]
}

fn legacy(wei: u128) -> GasFingerprint {
    GasFingerprint::Legacy { gas_price: wei }
}

fn dep(seq: u64, pool: PoolId, block: u64, from: u64, gas: GasFingerprint) -> Deposit {
    Deposit {
        seq,
        pool,
        block,
        ts: block * 12,
        from: AddrId(from),
        gas,
        commitment: [seq as u8; 32],
        leaf_index: seq as u32,
    }
}

/// A withdrawal; `relayed` puts the relayer in `tx.from`.
fn wd(
    seq: u64,
    pool: PoolId,
    block: u64,
    to: u64,
    relayed: bool,
    gas: GasFingerprint,
) -> Withdrawal {
    Withdrawal {
        seq,
        pool,
        block,
        ts: block * 12,
        tx_from: if relayed { RELAYER } else { AddrId(to) },
        recipient: AddrId(to),
        relayer: relayed.then_some(RELAYER),
        fee: if relayed { 5_000_000_000_000_000 } else { 0 },
        gas,
        nullifier: [seq as u8 + 100; 32],
    }
}

/// §5.4: D1..D4 and W1..W4 in the 1 ETH pool, seq in block order.
fn example() -> (Vec<Deposit>, Vec<Withdrawal>) {
    let deposits = vec![
        dep(1, ETH1, 100, 1, legacy(27_400_000_000)),
        dep(2, ETH1, 110, 2, legacy(30 * GWEI)),
        dep(3, ETH1, 120, 3, legacy(30 * GWEI)),
        dep(4, ETH1, 130, 4, legacy(41_123_456_789)),
    ];
    let withdrawals = vec![
        wd(5, ETH1, 150, 11, false, legacy(27_400_000_000)),
        wd(6, ETH1, 160, 3, true, legacy(55 * GWEI)),
        wd(7, ETH1, 170, 13, true, legacy(41_123_456_789)),
        wd(8, ETH1, 180, 14, false, legacy(30 * GWEI)),
    ];
    (deposits, withdrawals)
}

fn link_example(params: &LinkParams) -> Vec<Link> {
    let (deposits, withdrawals) = example();
    link(
        &pools(),
        &deposits,
        &withdrawals,
        &Interactions::new(),
        &[],
        params,
    )
}

#[test]
fn w1_links_d1_by_unique_gas_price_and_w2_links_d3_by_address() {
    let links = link_example(&LinkParams::default());
    let expected = vec![
        Link {
            withdrawal: 5,
            deposit: 1,
            heuristic: Heuristic::UniqueGasPrice,
            confidence: 90,
            detail: LinkDetail::GasPrice {
                gas: legacy(27_400_000_000),
            },
        },
        Link {
            withdrawal: 6,
            deposit: 3,
            heuristic: Heuristic::AddressMatch,
            confidence: 100,
            detail: LinkDetail::SameAddress,
        },
    ];
    // W3 (relayed, so its gas price is the relayer's) and W4 (30 gwei is shared by D2 and D3)
    // stay unlinked.
    assert_eq!(links, expected);
}

#[test]
fn disabling_a_heuristic_drops_only_its_links() {
    let params = LinkParams {
        enabled: vec![Heuristic::AddressMatch],
        ..LinkParams::default()
    };
    let links = link_example(&params);
    assert_eq!(links.len(), 1);
    assert_eq!((links[0].withdrawal, links[0].deposit), (6, 3));
}

#[test]
fn anonymity_set_of_w4_is_d2_and_d4_with_one_half_each() {
    let (deposits, withdrawals) = example();
    let links = link_example(&LinkParams::default());
    let sets = AnonymitySets::new(&deposits, &withdrawals, &links);
    assert_eq!(sets.size(8), Some(2));
    assert_eq!(sets.members(8).collect::<Vec<_>>(), vec![2, 4]);
    let dist = sets.distribution(8).unwrap();
    assert!(dist.linked.is_empty());
    assert_eq!(
        (dist.unlinked_count, dist.unlinked_each),
        (2, Ratio { num: 1, den: 2 })
    );
    assert_eq!(sets.probability(8, 2), Ratio { num: 1, den: 2 });
    assert_eq!(sets.probability(8, 1), Ratio::ZERO);
    assert_eq!(sets.probability(8, 3), Ratio::ZERO);
    // W3 has the same set; it must have taken one of D2, D4, and the sets do not say which.
    assert_eq!(sets.members(7).collect::<Vec<_>>(), vec![2, 4]);
}

#[test]
fn linked_withdrawals_concentrate_probability_on_their_deposit() {
    let (deposits, withdrawals) = example();
    let links = link_example(&LinkParams::default());
    let sets = AnonymitySets::new(&deposits, &withdrawals, &links);
    // W1: D1 is linked to W1 only, so it stays in AS(W1) = {D1, D2, D4}; H2's 90 % goes to D1
    // and the other 10 % is shared by D2 and D4.
    assert_eq!(sets.members(5).collect::<Vec<_>>(), vec![1, 2, 4]);
    let w1 = sets.distribution(5).unwrap();
    assert_eq!(w1.linked, vec![(1, Ratio { num: 9, den: 10 })]);
    assert_eq!(
        (w1.unlinked_count, w1.unlinked_each),
        (2, Ratio { num: 1, den: 20 })
    );
    // W2: H1 is certain.
    let w2 = sets.distribution(6).unwrap();
    assert_eq!(w2.set_size, 3);
    assert_eq!(w2.linked, vec![(3, Ratio { num: 1, den: 1 })]);
    assert_eq!(w2.unlinked_each, Ratio::ZERO);
    assert_eq!(sets.sizes(), vec![(5, 3), (6, 3), (7, 2), (8, 2)]);
    assert_eq!(sets.size(99), None);
}

#[test]
fn without_links_taint_is_the_pool_wide_haircut() {
    let (deposits, withdrawals) = example();
    let one_eth = 1_000_000_000_000_000_000u128;
    let out = withdrawal_taint(
        &deposits,
        &withdrawals[3..],
        &[],
        &[(2, one_eth)],
        TaintMode::Pool,
    );
    // One tainted deposit of four: W4 carries a quarter of it.
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].withdrawal, out[0].tainted), (8, one_eth / 4));
    assert_eq!((out[0].via_links, out[0].confidence), (0, None));
}

#[test]
fn pool_taint_follows_links_and_conserves() {
    let (deposits, withdrawals) = example();
    let links = link_example(&LinkParams::default());
    // D1 tainted: W1's H2 link reserves 90 % of D1 for W1; D1's other 10 % joins the pool,
    // which W1 (10 % of a note), W3 and W4 draw from in turn.
    let out = withdrawal_taint(
        &deposits,
        &withdrawals,
        &links,
        &[(1, 1_000)],
        TaintMode::Pool,
    );
    let got: Vec<_> = out
        .iter()
        .map(|t| (t.withdrawal, t.via_links, t.via_pool, t.confidence))
        .collect();
    assert_eq!(
        got,
        vec![(5, 900, 4, Some(90)), (7, 0, 48, None), (8, 0, 48, None)]
    );
    // D2 tainted: W1 takes 10/210 of the pool (floor 47), W3 half the rest (476), W4 the last
    // note and the remainder (477).
    let out = withdrawal_taint(
        &deposits,
        &withdrawals,
        &links,
        &[(2, 1_000)],
        TaintMode::Pool,
    );
    let got: Vec<_> = out.iter().map(|t| (t.withdrawal, t.tainted)).collect();
    assert_eq!(got, vec![(5, 47), (7, 476), (8, 477)]);
}

#[test]
fn linked_only_taint_moves_along_links_with_their_confidence() {
    let (deposits, withdrawals) = example();
    let links = link_example(&LinkParams::default());
    let taint = [(1, 1_000), (2, 7_000), (3, 500)];
    let out = withdrawal_taint(
        &deposits,
        &withdrawals,
        &links,
        &taint,
        TaintMode::LinkedOnly,
    );
    let got: Vec<_> = out
        .iter()
        .map(|t| (t.withdrawal, t.tainted, t.confidence))
        .collect();
    assert_eq!(got, vec![(5, 1_000, Some(90)), (6, 500, Some(100))]);
}

#[test]
fn address_match_ignores_pools_unless_asked() {
    let (mut deposits, withdrawals) = example();
    deposits.push(dep(0, ETH01, 90, 3, legacy(33 * GWEI)));
    let all = link(
        &pools(),
        &deposits,
        &withdrawals,
        &Interactions::new(),
        &[],
        &LinkParams::default(),
    );
    let h1: Vec<_> = all
        .iter()
        .filter(|l| l.heuristic == Heuristic::AddressMatch)
        .map(|l| (l.withdrawal, l.deposit))
        .collect();
    assert_eq!(h1, vec![(6, 0), (6, 3)]);
    let params = LinkParams {
        by_pool: true,
        ..LinkParams::default()
    };
    let same_pool = link(
        &pools(),
        &deposits,
        &withdrawals,
        &Interactions::new(),
        &[],
        &params,
    );
    let h1: Vec<_> = same_pool
        .iter()
        .filter(|l| l.heuristic == Heuristic::AddressMatch)
        .map(|l| (l.withdrawal, l.deposit))
        .collect();
    assert_eq!(h1, vec![(6, 3)]);
}

/// a5 deposits 1 ETH ×2 and 0.1 ETH ×3 within a day, a6 deposits 1 ETH ×2; two days later r5
/// withdraws 1 ETH ×2 and 0.1 ETH ×3 within a day, and r6 withdraws 1 ETH ×2.
fn portfolios() -> (Vec<Deposit>, Vec<Withdrawal>) {
    let hour = 300; // blocks of 12 s
    let pools_a5 = [ETH1, ETH01, ETH01, ETH1, ETH01];
    let mut deposits: Vec<Deposit> = pools_a5
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            dep(
                10 + i as u64,
                p,
                1_000 + i as u64 * hour,
                5,
                legacy((60 + i as u128) * GWEI),
            )
        })
        .collect();
    deposits.push(dep(20, ETH1, 1_100, 6, legacy(70 * GWEI)));
    deposits.push(dep(21, ETH1, 1_200, 6, legacy(71 * GWEI)));
    let later = 1_000 + 48 * hour;
    let pools_r5 = [ETH01, ETH1, ETH01, ETH01, ETH1];
    let mut withdrawals: Vec<Withdrawal> = pools_r5
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            wd(
                30 + i as u64,
                p,
                later + i as u64 * hour,
                15,
                true,
                legacy(80 * GWEI),
            )
        })
        .collect();
    withdrawals.push(wd(40, ETH1, later + 100, 16, true, legacy(80 * GWEI)));
    withdrawals.push(wd(41, ETH1, later + 200, 16, true, legacy(80 * GWEI)));
    (deposits, withdrawals)
}

#[test]
fn multi_denomination_links_equal_portfolios_and_ignores_single_pool_ones() {
    let (deposits, withdrawals) = portfolios();
    let links = link(
        &pools(),
        &deposits,
        &withdrawals,
        &Interactions::new(),
        &[],
        &LinkParams::default(),
    );
    assert!(links
        .iter()
        .all(|l| l.heuristic == Heuristic::MultiDenomination && l.confidence == 70));
    let detail = LinkDetail::Portfolio {
        pools: 2,
        txs: 5,
        depositors: 1,
    };
    assert!(links.iter().all(|l| l.detail == detail), "{links:?}");
    // Each of a5's five deposits is linked to each of r5's withdrawals from its pool: 2×2 + 3×3.
    assert_eq!(links.len(), 13);
    let mut deps: Vec<u64> = links.iter().map(|l| l.deposit).collect();
    let mut wds: Vec<u64> = links.iter().map(|l| l.withdrawal).collect();
    deps.sort_unstable();
    deps.dedup();
    wds.dedup();
    assert_eq!(deps, vec![10, 11, 12, 13, 14]);
    assert_eq!(wds, vec![30, 31, 32, 33, 34]);
    let dep_pool = |s: u64| deposits.iter().find(|d| d.seq == s).unwrap().pool;
    let wd_pool = |s: u64| withdrawals.iter().find(|w| w.seq == s).unwrap().pool;
    assert!(links
        .iter()
        .all(|l| dep_pool(l.deposit) == wd_pool(l.withdrawal)));
}

#[test]
fn multi_denomination_needs_deposits_before_withdrawals_and_one_window() {
    let (deposits, mut withdrawals) = portfolios();
    // Spread r5's withdrawals a day and more apart: no window holds two pools.
    for (i, w) in withdrawals.iter_mut().take(5).enumerate() {
        w.ts += i as u64 * 86_400;
    }
    let links = link(
        &pools(),
        &deposits,
        &withdrawals,
        &Interactions::new(),
        &[],
        &LinkParams::default(),
    );
    assert!(links.is_empty(), "{links:?}");
    // Withdrawals before the deposits match nothing.
    let (deposits, mut withdrawals) = portfolios();
    for (i, w) in withdrawals.iter_mut().enumerate() {
        w.seq = i as u64;
    }
    let links = link(
        &pools(),
        &deposits,
        &withdrawals,
        &Interactions::new(),
        &[],
        &LinkParams::default(),
    );
    assert!(links.is_empty(), "{links:?}");
}

#[test]
fn mining_claim_links_the_deposit_exactly_delta_blocks_earlier() {
    let deposits = vec![
        dep(1, ETH1, 12_000_000, 21, legacy(40 * GWEI)),
        dep(2, ETH1, 12_000_001, 22, legacy(40 * GWEI)),
        dep(3, ETH01, 12_000_000, 23, legacy(40 * GWEI)),
        dep(4, ETH1, 11_999_999, 24, legacy(40 * GWEI)),
    ];
    let withdrawals = vec![wd(5, ETH1, 12_001_000, 26, true, legacy(40 * GWEI))];
    let claim = ApClaim {
        addr: AddrId(26),
        block: 12_001_500,
        ap: 20_000,
    };
    let run = |claims: &[ApClaim], deposits: &[Deposit]| {
        link(
            &pools(),
            deposits,
            &withdrawals,
            &Interactions::new(),
            claims,
            &LinkParams::default(),
        )
    };
    let links = run(&[claim], &deposits);
    assert_eq!(
        links,
        vec![Link {
            withdrawal: 5,
            deposit: 1,
            heuristic: Heuristic::TornMining,
            confidence: 90,
            detail: LinkDetail::Mining {
                ap: 20_000,
                blocks: 1_000
            },
        }]
    );
    // The depositor's own claim finds the same pair from the other side.
    let by_depositor = ApClaim {
        addr: AddrId(21),
        ..claim
    };
    assert_eq!(run(&[by_depositor], &deposits), links);
    // Not a whole number of blocks, a claim before the withdrawal, or two deposits at the
    // implied block: no link.
    assert!(run(
        &[ApClaim {
            ap: 20_010,
            ..claim
        }],
        &deposits
    )
    .is_empty());
    assert!(run(
        &[ApClaim {
            block: 12_000_900,
            ..claim
        }],
        &deposits
    )
    .is_empty());
    let mut crowded = deposits.clone();
    crowded.push(dep(0, ETH1, 12_000_000, 25, legacy(40 * GWEI)));
    assert!(run(&[claim], &crowded).is_empty());
}

fn interaction_example(count: u32, reversed: bool) -> Vec<Link> {
    let deposits = vec![
        dep(1, ETH1, 100, 7, legacy(40 * GWEI)),
        dep(2, ETH01, 101, 7, legacy(40 * GWEI)),
        dep(3, ETH1, 102, 8, legacy(40 * GWEI)),
        dep(5, ETH1, 300, 7, legacy(40 * GWEI)),
    ];
    let withdrawals = vec![wd(4, ETH1, 200, 17, true, legacy(40 * GWEI))];
    let pair = if reversed {
        (AddrId(7), AddrId(17))
    } else {
        (AddrId(17), AddrId(7))
    };
    let interactions: Interactions = [(pair, count)].into_iter().collect();
    link(
        &pools(),
        &deposits,
        &withdrawals,
        &interactions,
        &[],
        &LinkParams::default(),
    )
}

#[test]
fn linked_addresses_need_three_interactions_and_scale_confidence() {
    assert!(interaction_example(2, false).is_empty());
    let links = interaction_example(3, false);
    // Only a7's earlier deposit in the withdrawal's pool: not the 0.1 ETH one, not the later one.
    assert_eq!(
        links,
        vec![Link {
            withdrawal: 4,
            deposit: 1,
            heuristic: Heuristic::LinkedAddresses,
            confidence: 45,
            detail: LinkDetail::Interactions { count: 3 },
        }]
    );
    assert_eq!(interaction_example(3, true), links);
    assert_eq!(interaction_example(4, false)[0].confidence, 60);
    assert_eq!(interaction_example(40, false)[0].confidence, 75);
}

#[test]
fn interactions_count_both_directions_together() {
    let mut counts = Interactions::new();
    counts.add(AddrId(1), AddrId(2), 2);
    counts.add(AddrId(2), AddrId(1), 1);
    assert_eq!(counts.count(AddrId(1), AddrId(2)), 3);
    assert_eq!(counts.count(AddrId(2), AddrId(1)), 3);
    assert_eq!(counts.len(), 1);
}

#[test]
fn heuristic_ids_and_params_serialise_stably() {
    let ids: Vec<_> = Heuristic::ALL.iter().map(|h| h.id()).collect();
    assert_eq!(ids, ["H1", "H2", "H3", "H4", "H5"]);
    assert_eq!(Heuristic::MultiDenomination.name(), "multi-denomination");
    let json = serde_json::to_value(LinkParams::default()).unwrap();
    assert_eq!(json["min_interactions"], 3);
    assert_eq!(json["window_secs"], 86_400);
    assert_eq!(
        json["enabled"],
        serde_json::json!(["H1", "H2", "H3", "H4", "H5"])
    );
    assert_eq!(json["confidence"]["unique_gas_price"], 90);
}
