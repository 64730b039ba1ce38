//! Samourai Whirlpool, spec §4.4: the pools, the Tx0 that splits a deposit into premix coins,
//! the 5-to-8-party mixes, and the facts the tracer needs to split taint through a mix (§4.8(3b)).

use super::profile::Profile;
use super::{detector, Detection, Protocol, TxShape};

/// A Whirlpool pool: its denomination and, where known, the coordinator fee of its Tx0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Pool {
    pub denomination: u64,
    /// `None` for the Ashigaru pools (2025), whose fee the spec does not record; the Tx0 rule
    /// needs a fee and so skips them, while the mix rule still recognises their rounds.
    pub fee: Option<u64>,
}

/// Every pool, ascending: GraphSense's four with their fees plus Ashigaru's two (Dumplings).
pub const WHIRLPOOL_POOLS: [Pool; 6] = [
    pool(100_000, Some(5_000)),
    pool(1_000_000, Some(50_000)),
    pool(2_500_000, None),
    pool(5_000_000, Some(175_000)),
    pool(25_000_000, None),
    pool(50_000_000, Some(1_750_000)),
];

const fn pool(denomination: u64, fee: Option<u64>) -> Pool {
    Pool { denomination, fee }
}

/// The pool of denomination `d`, if there is one.
pub fn whirlpool_pool(denomination: u64) -> Option<Pool> {
    WHIRLPOOL_POOLS
        .iter()
        .find(|p| p.denomination == denomination)
        .copied()
}

/// The per-entrant miner-fee share ε a premix coin carries above `d` (GraphSense bounds).
const EPSILON_MIN: u64 = 100;
const EPSILON_MAX: u64 = 110_000;
/// Dumplings' `Almost(poolSize, 0.0011 BTC)` for new entrants.
const DUMPLINGS_ENTRANT_MARGIN: u64 = 110_000;
/// Most premix outputs one Tx0 may create (`tx0MaxOutputs`).
const TX0_MAX_PREMIX: u32 = 70;

/// GraphSense's confidence before lineage is checked, for mixes and Tx0s alike; Dumplings' mix
/// rule gets the same, as nothing in it is stronger evidence.
const CONFIDENCE: u8 = 60;
/// Confidence once lineage is verified (a mix's new entrants come from Tx0s, or a Tx0's premix
/// was spent in a mix).
const LINEAGE_CONFIDENCE: u8 = 90;

/// Dumplings (after the SCDH of Stütz et al.): P2WPKH only, 5–10 inputs and as many outputs,
/// every output equal to a pool size, at least one input exactly that size and the rest within
/// 0.0011 BTC of it.
pub(super) fn dumplings_mix(p: &Profile<'_>) -> Option<Detection> {
    let tx = p.tx;
    let n = tx.inputs.len();
    let d = tx.outputs.first()?.value;
    let sized = (5..=10).contains(&n) && tx.outputs.len() == n && p.outs.distinct() == 1;
    if !sized || whirlpool_pool(d).is_none() || !p.p2wpkh_only() {
        return None;
    }
    let remixers = tx.inputs.iter().filter(|c| c.value == d).count();
    let entrants_near = tx
        .inputs
        .iter()
        .all(|c| c.value.abs_diff(d) <= DUMPLINGS_ENTRANT_MARGIN);
    (remixers >= 1 && entrants_near).then(|| Detection {
        protocol: Protocol::WhirlpoolMix,
        detector: detector::DUMPLINGS_WHIRLPOOL,
        denomination: d,
        participants: p.n_out(),
        confidence: CONFIDENCE,
    })
}

/// A Whirlpool mix as GraphSense reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MixRound {
    pub denomination: u64,
    /// Inputs of exactly `d`: coins remixing from an earlier mix.
    pub remixers: u32,
    /// Inputs of `d + ε`: premix coins entering from a Tx0.
    pub new_entrants: u32,
}

/// GraphSense's mix rule: 5–8 inputs and as many outputs (surge cycles add up to three), all
/// scripts distinct, every output `d` of a fee-listed pool, every input in `[d, d + 110,000]`,
/// each new entrant's ε ≥ 100, and one to four new entrants.
pub fn whirlpool_mix_round(tx: &TxShape<'_>) -> Option<MixRound> {
    if tx.coinbase {
        return None;
    }
    mix_round(&Profile::new(tx))
}

fn mix_round(p: &Profile<'_>) -> Option<MixRound> {
    let (n, outs) = (p.in_addrs.addressed, p.gs_outs());
    let distinct = (5..=8).contains(&n)
        && outs.total == n
        && p.in_addrs.distinct == n
        && p.out_addrs.distinct == n;
    let d = outs.most_frequent().filter(|_| outs.distinct() == 1)?.value;
    let listed = whirlpool_pool(d).is_some_and(|pool| pool.fee.is_some());
    if !distinct || !listed {
        return None;
    }
    let mut round = MixRound {
        denomination: d,
        remixers: 0,
        new_entrants: 0,
    };
    for coin in p.tx.inputs.iter().filter(|c| !c.addr.is_none()) {
        match coin.value.checked_sub(d)? {
            0 => round.remixers += 1,
            EPSILON_MIN..=EPSILON_MAX => round.new_entrants += 1,
            _ => return None,
        }
    }
    (1..=4).contains(&round.new_entrants).then_some(round)
}

pub(super) fn graphsense_mix(p: &Profile<'_>) -> Option<Detection> {
    let round = mix_round(p)?;
    Some(Detection {
        protocol: Protocol::WhirlpoolMix,
        detector: detector::GRAPHSENSE_WHIRLPOOL,
        denomination: round.denomination,
        participants: round.remixers + round.new_entrants,
        confidence: CONFIDENCE,
    })
}

/// Raises a Whirlpool detection to 90 % once the tracer has verified its lineage: for a mix,
/// that its new entrants' coins come from Tx0s; for a Tx0, that one of its premix outputs was
/// spent in a mix. Other detections are returned unchanged.
pub fn whirlpool_mix_with_lineage(detection: Detection) -> Detection {
    match detection.protocol {
        Protocol::WhirlpoolMix | Protocol::WhirlpoolTx0 => Detection {
            confidence: detection.confidence.max(LINEAGE_CONFIDENCE),
            ..detection
        },
        _ => detection,
    }
}

/// A Whirlpool Tx0 as GraphSense reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tx0 {
    pub pool: Pool,
    /// `d + ε`, the value of each premix output.
    pub premix_value: u64,
    pub premix_count: u32,
}

impl Tx0 {
    /// The miner-fee share each premix coin carries into its first mix.
    pub fn epsilon(&self) -> u64 {
        self.premix_value.saturating_sub(self.pool.denomination)
    }
}

/// GraphSense's Tx0 rule: exactly one output without an address (the OP_RETURN fee payload),
/// ≥ 2 spendable outputs, and for some pool a most frequent value `d + ε` (ε in
/// `[100, 110,000]`) held by 1–70 outputs that leave at most two others, exactly one of which
/// lies in `[0.5·fee, 3·fee]`.
pub fn whirlpool_tx0(tx: &TxShape<'_>) -> Option<Tx0> {
    if tx.coinbase {
        return None;
    }
    tx0(&Profile::new(tx))
}

fn tx0(p: &Profile<'_>) -> Option<Tx0> {
    let spendable = p.gs_outs().total;
    if p.n_out().saturating_sub(spendable) != 1 || spendable < 2 {
        return None;
    }
    WHIRLPOOL_POOLS
        .iter()
        .find_map(|pool| tx0_in_pool(p, *pool))
}

fn tx0_in_pool(p: &Profile<'_>, pool: Pool) -> Option<Tx0> {
    let (d, fee) = (pool.denomination, pool.fee?);
    let outs = p.gs_outs();
    let premix = outs
        .iter()
        .filter(|g| (d + EPSILON_MIN..=d + EPSILON_MAX).contains(&g.value))
        .max_by_key(|g| (g.count, g.value))?;
    let fee_outputs: u32 = outs
        .iter()
        .filter(|g| g.value >= fee.div_ceil(2) && g.value <= 3 * fee)
        .map(|g| g.count)
        .sum();
    let shaped = premix.count <= TX0_MAX_PREMIX
        && premix.count.saturating_add(2) >= outs.total
        && fee_outputs == 1;
    shaped.then_some(Tx0 {
        pool,
        premix_value: premix.value,
        premix_count: premix.count,
    })
}

pub(super) fn graphsense_tx0(p: &Profile<'_>) -> Option<Detection> {
    let tx0 = tx0(p)?;
    Some(Detection {
        protocol: Protocol::WhirlpoolTx0,
        detector: detector::GRAPHSENSE_WHIRLPOOL_TX0,
        denomination: tx0.pool.denomination,
        participants: tx0.premix_count,
        confidence: CONFIDENCE,
    })
}

/// How one participant's input spreads through a Whirlpool mix under equal split (§4.8(3b)):
/// its `d` is shared equally by the mix's outputs, its ε goes to the miner fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MixSplit {
    /// What every output receives.
    pub per_output: u64,
    /// Outputs that receive one sat more than `per_output`: the first `extra` in output order,
    /// the largest-remainder rule's tie-break (spec §0.3). Zero in 5-party mixes, as every pool
    /// size divides by five; surge mixes of 6–8 may leave a remainder.
    pub extra: u32,
    /// ε, the part of the input that pays the miner.
    pub to_fee: u64,
}

/// The equal split of an input worth `input_value` entering a mix of `outputs` outputs of
/// `denomination`; `None` if there are no outputs or the input is below the denomination.
pub fn whirlpool_equal_split(
    denomination: u64,
    outputs: u32,
    input_value: u64,
) -> Option<MixSplit> {
    let n = u64::from(outputs);
    let to_fee = input_value.checked_sub(denomination)?;
    let per_output = denomination.checked_div(n)?;
    Some(MixSplit {
        per_output,
        extra: u32::try_from(denomination % n).ok()?,
        to_fee,
    })
}
