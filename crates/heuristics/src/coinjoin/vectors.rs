//! The detection truth table of spec §4.9 (CJ1–CJ6): each vector asserts exactly the BlockSci,
//! Dumplings and GraphSense columns, then what [`detect`] answers with every rule combined.

use chaintrace_model::btc::ScriptKind;
use chaintrace_model::AddrId;

use super::profile::Profile;
use super::*;

/// A vector's coins, owned so a [`TxShape`] can borrow them.
pub(super) struct Vector {
    pub height: u32,
    pub inputs: Vec<Coin>,
    pub outputs: Vec<Coin>,
}

impl Vector {
    /// P2WPKH coins with distinct addresses, as §4.9 specifies unless noted.
    fn new(height: u32, inputs: &[u64], outputs: &[u64]) -> Vector {
        let coins = |values: &[u64], first_addr: u64| -> Vec<Coin> {
            (first_addr..)
                .zip(values)
                .map(|(addr, &value)| Coin {
                    value,
                    addr: AddrId(addr),
                    kind: ScriptKind::P2wpkh,
                })
                .collect()
        };
        Vector {
            height,
            inputs: coins(inputs, 1),
            outputs: coins(outputs, 100_000),
        }
    }

    pub fn shape(&self) -> TxShape<'_> {
        TxShape {
            height: self.height,
            mainnet: true,
            coinbase: false,
            inputs: &self.inputs,
            outputs: &self.outputs,
        }
    }
}

fn repeat(value: u64, times: usize) -> Vec<u64> {
    vec![value; times]
}

fn cj1_vector() -> Vector {
    let inputs = [repeat(1_000_000, 3), repeat(1_000_285, 2)].concat();
    Vector::new(700_000, &inputs, &repeat(1_000_000, 5))
}

fn cj2_vector() -> Vector {
    let inputs = [35_000_000, 35_000_000, 45_000_000, 50_000_000];
    let outputs = [
        40_000_000, 30_001_000, 40_000_000, 5_001_000, 40_000_000, 9_995_000,
    ];
    Vector::new(700_000, &inputs, &outputs)
}

fn cj3_vector() -> Vector {
    let inputs = [
        10_500_000, 10_800_000, 11_200_000, 12_000_000, 13_000_000, 10_250_000, 15_000_000,
        10_400_000, 6_000_000, 6_100_000, 5_500_000, 5_050_000,
    ];
    let changes = [
        496_000, 796_000, 1_196_000, 1_996_000, 2_996_000, 246_000, 4_996_000, 396_000, 2_096_000,
        546_000,
    ];
    let outputs = [repeat(10_000_000, 10), changes.to_vec(), vec![30_000]].concat();
    Vector::new(650_000, &inputs, &outputs)
}

fn cj4_vector() -> Vector {
    let outputs = [vec![0, 50_000], repeat(1_000_285, 4), vec![948_360]].concat();
    let mut v = Vector::new(700_000, &[5_000_000], &outputs);
    v.outputs[0] = Coin {
        value: 0,
        addr: AddrId::NONE,
        kind: ScriptKind::OpReturn,
    };
    v
}

fn cj5_vector() -> Vector {
    let outputs = [repeat(10_000_000, 5), vec![49_990_000]].concat();
    Vector::new(700_000, &[100_000_000], &outputs)
}

fn cj6_vector() -> Vector {
    let mut inputs: Vec<u64> = (0..19).map(|i| 2_450_000 - 1_000 * i).collect();
    inputs.push(2_261_624);
    let outputs = [
        repeat(10_000_000, 2),
        repeat(5_000_000, 3),
        repeat(2_097_152, 4),
        repeat(1_000_000, 4),
        repeat(531_441, 2),
        vec![123_456, 45_678],
    ]
    .concat();
    Vector::new(850_000, &inputs, &outputs)
}

pub(super) fn all() -> Vec<(&'static str, Vector)> {
    vec![
        ("CJ1", cj1_vector()),
        ("CJ2", cj2_vector()),
        ("CJ3", cj3_vector()),
        ("CJ4", cj4_vector()),
        ("CJ5", cj5_vector()),
        ("CJ6", cj6_vector()),
    ]
}

fn fee(v: &Vector) -> u64 {
    let sum = |coins: &[Coin]| coins.iter().map(|c| c.value).sum::<u64>();
    sum(&v.inputs) - sum(&v.outputs)
}

/// `(protocol, detector, denomination, participants)` of a detection.
fn summary(d: Option<Detection>) -> Option<(Protocol, &'static str, u64, u32)> {
    d.map(|d| (d.protocol, d.detector, d.denomination, d.participants))
}

#[test]
fn vectors_have_the_stated_fees() {
    let fees: Vec<u64> = all().iter().map(|(_, v)| fee(v)).collect();
    assert_eq!(fees, [570, 3_000, 10_000, 500, 10_000, 20_000]);
}

#[test]
fn cj1_whirlpool_mix() {
    let v = cj1_vector();
    let tx = v.shape();
    assert!(!blocksci_is_coinjoin(&tx), "p = 3 but 5 equal outputs");
    let whirlpool = |id| Some((Protocol::WhirlpoolMix, id, 1_000_000, 5));
    assert_eq!(
        summary(detect_dumplings(&tx)),
        whirlpool(detector::DUMPLINGS_WHIRLPOOL)
    );
    assert_eq!(
        summary(detect_graphsense(&tx)),
        whirlpool(detector::GRAPHSENSE_WHIRLPOOL)
    );
    let round = whirlpool_mix_round(&tx).expect("GraphSense mix");
    assert_eq!(
        (round.denomination, round.remixers, round.new_entrants),
        (1_000_000, 3, 2)
    );
    let d = detect(&tx).expect("detected");
    assert_eq!(
        (d.detector, d.confidence),
        (detector::DUMPLINGS_WHIRLPOOL, 60)
    );
    assert_eq!(whirlpool_mix_with_lineage(d).confidence, 90);
}

#[test]
fn cj2_joinmarket() {
    let v = cj2_vector();
    let tx = v.shape();
    assert!(blocksci_is_coinjoin(&tx), "p = 3");
    assert_eq!(
        summary(detect_dumplings(&tx)),
        Some((
            Protocol::Generic,
            detector::DUMPLINGS_OTHER_COINJOIN,
            40_000_000,
            3
        ))
    );
    let joinmarket = Some((
        Protocol::JoinMarket,
        detector::GRAPHSENSE_JOINMARKET,
        40_000_000,
        3,
    ));
    assert_eq!(summary(detect_graphsense(&tx)), joinmarket);
    let d = detect(&tx).expect("detected");
    assert_eq!((summary(Some(d)), d.confidence), (joinmarket, 49));
    assert_eq!(
        whirlpool_mix_with_lineage(d),
        d,
        "only Whirlpool gains from lineage"
    );
}

#[test]
fn cj2_dumplings_subset_sum_bound_is_tight() {
    // max input 50,000,000 ≤ 40,000,000 + 30,001,000 − 10,000 = 69,991,000; one sat over fails.
    let mut v = cj2_vector();
    v.inputs[3].value = 69_991_000;
    assert!(joinmarket::dumplings_other(&Profile::new(&v.shape())).is_some());
    v.inputs[3].value = 69_991_001;
    assert!(joinmarket::dumplings_other(&Profile::new(&v.shape())).is_none());
}

#[test]
fn cj3_wasabi1() {
    let v = cj3_vector();
    let tx = v.shape();
    assert!(!blocksci_is_coinjoin(&tx), "21 outputs give p = 11, not 10");
    let wasabi1 = |id| Some((Protocol::Wasabi1, id, 10_000_000, 10));
    assert_eq!(
        summary(detect_dumplings(&tx)),
        wasabi1(detector::DUMPLINGS_WASABI1)
    );
    assert_eq!(
        summary(detect_graphsense(&tx)),
        wasabi1(detector::GRAPHSENSE_WASABI1_0)
    );
    assert_eq!(detect_graphsense(&tx).map(|d| d.confidence), Some(70));
    // The level rule agrees: one level (so GraphSense reports version 1.0), n = 10 of 12 input
    // scripts, both majority conditions: 50 + 50·(70 − 12)/72 = 90.
    let levels = wasabi1::graphsense_levels(&Profile::new(&tx)).expect("levels rule");
    assert_eq!(
        summary(Some(levels)),
        wasabi1(detector::GRAPHSENSE_WASABI1_1)
    );
    assert_eq!(levels.confidence, 90);
    assert_eq!(summary(detect(&tx)), wasabi1(detector::DUMPLINGS_WASABI1));
}

#[test]
fn cj3_below_the_dumplings_height_gate() {
    let mut v = cj3_vector();
    v.height = wasabi1::FIRST_HEIGHT - 1;
    let tx = v.shape();
    assert_eq!(detect_dumplings(&tx), None);
    assert_eq!(
        detect(&tx).map(|d| d.detector),
        Some(detector::GRAPHSENSE_WASABI1_0)
    );
    let test_network = TxShape {
        mainnet: false,
        ..tx
    };
    assert_eq!(
        detect(&test_network).map(|d| d.detector),
        Some(detector::DUMPLINGS_WASABI1)
    );
}

#[test]
fn cj4_whirlpool_tx0() {
    let v = cj4_vector();
    let tx = v.shape();
    assert!(!blocksci_is_coinjoin(&tx), "one input");
    assert_eq!(
        detect_dumplings(&tx),
        None,
        "Dumplings finds a Tx0 only as a mix's parent"
    );
    let tx0_summary = Some((
        Protocol::WhirlpoolTx0,
        detector::GRAPHSENSE_WHIRLPOOL_TX0,
        1_000_000,
        4,
    ));
    assert_eq!(summary(detect_graphsense(&tx)), tx0_summary);
    let tx0 = whirlpool_tx0(&tx).expect("Tx0");
    assert_eq!(
        (tx0.pool.denomination, tx0.premix_count, tx0.epsilon()),
        (1_000_000, 4, 285)
    );
    let d = detect(&tx).expect("detected");
    assert_eq!(summary(Some(d)), tx0_summary);
    assert!(!d.is_multi_party());
}

#[test]
fn cj5_exchange_batch_is_nothing() {
    let v = cj5_vector();
    let tx = v.shape();
    assert!(!blocksci_is_coinjoin(&tx));
    assert_eq!(detect_dumplings(&tx), None);
    assert_eq!(detect_graphsense(&tx), None);
    assert_eq!(detect(&tx), None);
}

#[test]
fn cj6_wasabi2() {
    let v = cj6_vector();
    let tx = v.shape();
    assert!(!blocksci_is_coinjoin(&tx), "p = 9, top count 4");
    let standard = v
        .outputs
        .iter()
        .filter(|c| is_wasabi2_denomination(c.value))
        .count();
    assert_eq!((standard, v.outputs.len()), (15, 17));
    let wasabi2 = |id| Some((Protocol::Wasabi2, id, 10_000_000, 2));
    assert_eq!(
        summary(detect_dumplings(&tx)),
        wasabi2(detector::DUMPLINGS_WASABI2)
    );
    assert_eq!(
        summary(detect_graphsense(&tx)),
        wasabi2(detector::GRAPHSENSE_WASABI2)
    );
    let profile = Profile::new(&tx);
    let levels: Vec<u64> = profile.gs_outs().repeated().map(|g| g.value).collect();
    assert_eq!(
        levels,
        [531_441, 1_000_000, 2_097_152, 5_000_000, 10_000_000]
    );
    assert_eq!(summary(detect(&tx)), wasabi2(detector::DUMPLINGS_WASABI2));
}

#[test]
fn cj6_height_gate_applies_on_mainnet_only() {
    let mut v = cj6_vector();
    v.height = wasabi2::FIRST_HEIGHT - 1;
    let tx = v.shape();
    assert_eq!(
        detect(&tx).map(|d| d.detector),
        Some(detector::GRAPHSENSE_WASABI2)
    );
    let test_network = TxShape {
        mainnet: false,
        ..tx
    };
    assert_eq!(
        detect(&test_network).map(|d| d.detector),
        Some(detector::DUMPLINGS_WASABI2)
    );
}

#[test]
fn cj6_needs_descending_order_for_dumplings() {
    let mut v = cj6_vector();
    v.outputs.swap(0, 16);
    assert_eq!(detect_dumplings(&v.shape()), None);
    assert_eq!(
        detect(&v.shape()).map(|d| d.detector),
        Some(detector::GRAPHSENSE_WASABI2)
    );
}

#[test]
fn stonewall_vetoes_multi_party_answers() {
    // Two wallets, two equal "mixed" outputs and two different changes: BlockSci calls it a
    // CoinJoin (p = 2 = count of 3,000,000), the veto keeps it out of every answer.
    let v = Vector::new(
        800_000,
        &[4_000_000, 5_000_000],
        &[3_000_000, 3_000_000, 990_000, 2_000_000],
    );
    let tx = v.shape();
    assert!(is_stonewall(&tx));
    assert!(blocksci_is_coinjoin(&tx));
    assert_eq!(detect(&tx), None);
    assert_eq!(detect_graphsense(&tx), None);
}

#[test]
fn stonewall_needs_distinct_output_scripts() {
    let mut v = Vector::new(
        800_000,
        &[4_000_000, 5_000_000],
        &[3_000_000, 3_000_000, 990_000, 2_000_000],
    );
    v.outputs[3].addr = v.outputs[2].addr;
    assert!(!is_stonewall(&v.shape()));
}

#[test]
fn mix_split_of_w1() {
    // W-1: the tainted new entrant's 1,000,285 spreads 200,000 to each of five outputs, 285 fee.
    let split = whirlpool_equal_split(1_000_000, 5, 1_000_285).expect("valid");
    assert_eq!(
        (split.per_output, split.extra, split.to_fee),
        (200_000, 0, 285)
    );
    let surge = whirlpool_equal_split(1_000_000, 6, 1_000_000).expect("valid");
    assert_eq!(
        (surge.per_output, surge.extra, surge.to_fee),
        (166_666, 4, 0)
    );
    assert_eq!(whirlpool_equal_split(1_000_000, 0, 1_000_000), None);
    assert_eq!(whirlpool_equal_split(1_000_000, 5, 999_999), None);
}

#[test]
fn pools() {
    assert_eq!(whirlpool_pool(5_000_000).and_then(|p| p.fee), Some(175_000));
    assert_eq!(whirlpool_pool(2_500_000).map(|p| p.fee), Some(None));
    assert_eq!(whirlpool_pool(1_000_285), None);
}
