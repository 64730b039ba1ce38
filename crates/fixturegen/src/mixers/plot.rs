//! The scenario's script: amounts, heights and what happens when.
//!
//! The mixing rounds copy the detection vectors of the tracing spec (§4.9): the thief's Tx0 is
//! CJ4, the Whirlpool mix is CJ1 (and W-1 for the thief's input), the Wasabi 1 round is CJ3,
//! the JoinMarket round is CJ2, and the Wasabi 2 round has CJ6's outputs.

use super::{QUAYSIDE, TALLYPORT};

use crate::scenario::{Business, Routine};
pub(super) use crate::scenario::{BTC, CUSTOMER_DEPOSITS, INNOCENT_AMOUNTS};

pub(super) const CUSTOMER_DEPOSIT_HEIGHTS: std::ops::RangeInclusive<u32> = 102..=121;
pub(super) const WITHDRAWALS: [(u32, u64); 2] = [(114, 4 * BTC), (119, 6 * BTC)];
pub(super) const THEFT_HEIGHT: u32 = 125;
pub(super) const STOLEN: u64 = 40 * BTC;

/// What each output of the first distribution transaction is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    PeelChain,
    Tx0,
    /// Wallet address `n` of the consolidation chain.
    Wallet(usize),
    Wasabi1(usize),
    Wasabi2(usize),
    Stonewall,
}

pub(super) const DISTRIBUTION_HEIGHT: u32 = 126;
/// The first distribution fans the stolen output out; its last output (the rest) goes on to
/// the second distribution.
pub(super) const DISTRIBUTION: [(Purpose, u64); 11] = [
    (Purpose::PeelChain, 30 * BTC),
    (Purpose::Tx0, TX0_INPUT),
    (Purpose::Wallet(0), 20_000_000),
    (Purpose::Wallet(1), 15_000_000),
    (Purpose::Wallet(2), 10_000_000),
    (Purpose::Wallet(3), 6_000_000),
    (Purpose::Wasabi1(0), WASABI1_THIEF_INPUTS[0]),
    (Purpose::Wasabi1(1), WASABI1_THIEF_INPUTS[1]),
    (Purpose::Wasabi2(0), 4_800_000),
    (Purpose::Wasabi2(1), 2_344_830),
    (Purpose::Stonewall, STONEWALL_THIEF_INPUT),
];
pub(super) const SECOND_DISTRIBUTION_HEIGHT: u32 = 127;
/// The second distribution pays wallet addresses 1 and 2 again: the reuse that lets the
/// consolidations chain together.
pub(super) const SECOND_DISTRIBUTION: [(usize, u64); 2] = [(1, 12_000_000), (2, 8_000_000)];
pub(super) const WALLET_ADDRESSES: usize = 4;

pub(super) const WHIRLPOOL_FUNDING_HEIGHT: u32 = 128;
pub(super) const WASABI1_FUNDING_HEIGHT: u32 = 129;
pub(super) const WASABI2_FUNDING_HEIGHT: u32 = 130;
pub(super) const JOINMARKET_FUNDING_HEIGHT: u32 = 131;
pub(super) const STONEWALL_FUNDING_HEIGHT: u32 = 133;

/// Whirlpool 0.01 BTC pool (GraphSense constants: d = 1,000,000, f = 50,000).
pub(super) const POOL: u64 = 1_000_000;
pub(super) const POOL_FEE: u64 = 50_000;
/// Per-mix miner-fee share carried by every premix output.
pub(super) const EPSILON: u64 = 285;
pub(super) const PREMIX: u64 = POOL + EPSILON;
pub(super) const TX0_MINER_FEE: u64 = 500;
pub(super) const TX0_HEIGHT: u32 = 132;
/// CJ4: 5,000,000 in; OP_RETURN, 50,000 fee, 4 premixes, change 948,360; 500 miner fee.
pub(super) const TX0_INPUT: u64 = 5_000_000;
pub(super) const TX0_PREMIXES: usize = 4;
/// The other new entrant's Tx0 makes two premixes.
pub(super) const STRANGER_TX0_INPUT: u64 = 3_000_000;
pub(super) const STRANGER_TX0_PREMIXES: usize = 2;
pub(super) const WHIRLPOOL_MIX_HEIGHT: u32 = 134;
pub(super) const REMIXERS: usize = 3;
/// CJ1: 2 × 1,000,285 + 3 × 1,000,000 in, 5 × 1,000,000 out.
pub(super) const WHIRLPOOL_MIX_FEE: u64 = 2 * EPSILON;

pub(super) const CONSOLIDATION_HEIGHTS: [u32; 3] = [136, 138, 140];
/// The wallet addresses each consolidation co-spends: consecutive pairs overlap, so the
/// common-input clusters chain W0-W1, W1-W2, W2-W3. The last consolidation also sweeps the
/// earlier ones' outputs and pays exactly the JoinMarket taker's input.
pub(super) const CONSOLIDATION_WALLETS: [[usize; 2]; 3] = [[0, 1], [1, 2], [2, 3]];
pub(super) const CONSOLIDATION_RATES: [u64; 3] = [6, 7, 5];

pub(super) const WASABI1_HEIGHT: u32 = 142;
pub(super) const WASABI1_DENOMINATION: u64 = 10_000_000;
pub(super) const WASABI1_COORDINATOR_FEE: u64 = 30_000;
/// Each participant pays 3,000 sat coordinator fee and 1,000 sat mining fee.
pub(super) const WASABI1_PARTICIPANT_COST: u64 = 4_000;
/// CJ3's participants in its order; the ninth is the thief.
pub(super) const WASABI1_PARTICIPANTS: [&[u64]; 10] = [
    &[10_500_000],
    &[10_800_000],
    &[11_200_000],
    &[12_000_000],
    &[13_000_000],
    &[10_250_000],
    &[15_000_000],
    &[10_400_000],
    &WASABI1_THIEF_INPUTS,
    &[5_500_000, 5_050_000],
];
pub(super) const WASABI1_THIEF: usize = 8;
pub(super) const WASABI1_THIEF_INPUTS: [u64; 2] = [6_000_000, 6_100_000];

pub(super) const WASABI2_HEIGHT: u32 = 144;
/// Every input pays 1,000 sat of the 20,000 sat mining fee.
pub(super) const WASABI2_FEE_PER_INPUT: u64 = 1_000;
pub(super) const DENOM_2_POW_21: u64 = 2_097_152;
pub(super) const DENOM_3_POW_12: u64 = 531_441;

/// A Wasabi 2 participant: its inputs, its outputs, and whether it takes taproot addresses.
pub(super) struct Wasabi2Participant {
    pub(super) inputs: &'static [u64],
    pub(super) outputs: &'static [u64],
    pub(super) taproot: bool,
}

/// Eight participants whose outputs are exactly CJ6's (15 of 17 standard denominations); each
/// brings inputs worth its outputs plus 1,000 sat per input. The fifth is the thief.
pub(super) const WASABI2_PARTICIPANTS: [Wasabi2Participant; 8] = [
    w2(
        &[4_000_000, 3_500_000, 2_626_456],
        &[10_000_000, 123_456],
        false,
    ),
    w2(&[5_200_000, 3_100_000, 1_703_000], &[10_000_000], false),
    w2(&[3_900_000, 2_102_000], &[5_000_000, POOL], false),
    w2(&[4_400_000, 1_133_441], &[5_000_000, DENOM_3_POW_12], false),
    w2(
        &[4_800_000, 2_344_830],
        &[5_000_000, DENOM_2_POW_21, 45_678],
        false,
    ),
    w2(
        &[1_500_000, 900_000, 700_152],
        &[DENOM_2_POW_21, POOL],
        false,
    ),
    w2(
        &[2_000_000, 1_231_593, 400_000],
        &[DENOM_2_POW_21, POOL, DENOM_3_POW_12],
        true,
    ),
    w2(&[2_600_000, 499_152], &[DENOM_2_POW_21, POOL], true),
];
pub(super) const WASABI2_THIEF: usize = 4;

const fn w2(inputs: &'static [u64], outputs: &'static [u64], taproot: bool) -> Wasabi2Participant {
    Wasabi2Participant {
        inputs,
        outputs,
        taproot,
    }
}

pub(super) const JOINMARKET_HEIGHT: u32 = 146;
pub(super) const JOINMARKET_DENOMINATION: u64 = 40_000_000;
/// CJ2: maker 1 brings two coins, maker 2 one; the taker (the thief) pays 1,000 sat to each
/// maker and the 3,000 sat mining fee.
pub(super) const JOINMARKET_MAKERS: [(&[u64], u64); 2] = [
    (&[35_000_000, 35_000_000], 30_001_000),
    (&[45_000_000], 5_001_000),
];
pub(super) const JOINMARKET_TAKER_INPUT: u64 = 50_000_000;
pub(super) const JOINMARKET_TAKER_CHANGE: u64 = 9_995_000;

pub(super) const STONEWALL_HEIGHT: u32 = 148;
pub(super) const STONEWALL_THIEF_INPUT: u64 = 4_000_000;
pub(super) const STONEWALL_COLLABORATOR_INPUT: u64 = 3_000_000;
/// The payment and the collaborator's decoy output share this value.
pub(super) const STONEWALL_PAYMENT: u64 = 2_000_000;
/// Each side pays half of the 1,400 sat mining fee.
pub(super) const STONEWALL_FEE_SHARE: u64 = 700;
pub(super) const WASABI1_FEE: u64 =
    WASABI1_PARTICIPANTS.len() as u64 * WASABI1_PARTICIPANT_COST - WASABI1_COORDINATOR_FEE;
pub(super) const JOINMARKET_FEE: u64 = 3_000;

pub(super) const PEEL_START: u32 = 150;
pub(super) const PEEL_HOPS: usize = 54;
/// Round peel amounts, cycled hop by hop.
pub(super) const PEEL_AMOUNTS: [u64; 9] = [
    20_000_000, 35_000_000, 10_000_000, 25_000_000, 50_000_000, 15_000_000, 30_000_000, 12_000_000,
    40_000_000,
];
/// 1-based hops whose peel is a deposit at an exchange (the thief's account there, by index).
pub(super) const PEEL_DEPOSITS: [(usize, &str, usize); 4] = [
    (9, TALLYPORT, 0),
    (22, QUAYSIDE, 0),
    (36, TALLYPORT, 1),
    (49, QUAYSIDE, 1),
];

pub(super) const WHIRLPOOL_DEPOSIT_HEIGHT: u32 = 206;
pub(super) const JOINMARKET_DEPOSIT_HEIGHT: u32 = 208;
pub(super) const REMIXER_DEPOSIT_HEIGHT: u32 = 210;

pub(super) const INNOCENT_FIRST: u32 = 110;
pub(super) const INNOCENT_EVERY: u32 = 9;
pub(super) const INNOCENT_COUNT: u32 = 13;

/// What happens at a height, in block order.
#[derive(Clone, Copy, Debug)]
pub(super) enum Event {
    Routine(Business),
    Theft,
    Distribution,
    SecondDistribution,
    WhirlpoolFunding,
    Wasabi1Funding,
    Wasabi2Funding,
    JoinMarketFunding,
    StonewallFunding,
    Tx0s,
    WhirlpoolMix,
    Consolidation(usize),
    Wasabi1,
    Wasabi2,
    JoinMarket,
    Stonewall,
    PeelHop(usize),
    WhirlpoolDeposit,
    JoinMarketDeposit,
    RemixerDeposit,
}

pub(super) const ROUTINE: Routine = Routine {
    customer_deposits: CUSTOMER_DEPOSIT_HEIGHTS,
    withdrawals: &WITHDRAWALS,
    innocent_first: INNOCENT_FIRST,
    innocent_every: INNOCENT_EVERY,
    innocent_count: INNOCENT_COUNT,
};

pub(super) fn events_at(height: u32) -> Vec<Event> {
    let mut events: Vec<Event> = ROUTINE.at(height).into_iter().map(Event::Routine).collect();
    if let Some(i) = CONSOLIDATION_HEIGHTS.iter().position(|h| *h == height) {
        events.push(Event::Consolidation(i));
    }
    let peel_end = PEEL_START + PEEL_HOPS as u32;
    if (PEEL_START..peel_end).contains(&height) {
        events.push(Event::PeelHop((height - PEEL_START) as usize));
    }
    events.extend(single_event(height));
    events
}

fn single_event(height: u32) -> Option<Event> {
    Some(match height {
        THEFT_HEIGHT => Event::Theft,
        DISTRIBUTION_HEIGHT => Event::Distribution,
        SECOND_DISTRIBUTION_HEIGHT => Event::SecondDistribution,
        WHIRLPOOL_FUNDING_HEIGHT => Event::WhirlpoolFunding,
        WASABI1_FUNDING_HEIGHT => Event::Wasabi1Funding,
        WASABI2_FUNDING_HEIGHT => Event::Wasabi2Funding,
        JOINMARKET_FUNDING_HEIGHT => Event::JoinMarketFunding,
        STONEWALL_FUNDING_HEIGHT => Event::StonewallFunding,
        TX0_HEIGHT => Event::Tx0s,
        WHIRLPOOL_MIX_HEIGHT => Event::WhirlpoolMix,
        WASABI1_HEIGHT => Event::Wasabi1,
        WASABI2_HEIGHT => Event::Wasabi2,
        JOINMARKET_HEIGHT => Event::JoinMarket,
        STONEWALL_HEIGHT => Event::Stonewall,
        WHIRLPOOL_DEPOSIT_HEIGHT => Event::WhirlpoolDeposit,
        JOINMARKET_DEPOSIT_HEIGHT => Event::JoinMarketDeposit,
        REMIXER_DEPOSIT_HEIGHT => Event::RemixerDeposit,
        _ => return None,
    })
}

pub(super) const STORY: &str = "Meridian Exchange keeps customer deposits on two P2WPKH \
hot-wallet addresses; from height 102 to 121 twenty customers deposit 69.5 BTC and Meridian pays \
ordinary withdrawals of 4 BTC (height 114) and 6 BTC (height 119). At height 125 the thief, \
holding Meridian's withdrawal signer, takes 40 BTC in one output. At heights 126-127 the thief \
fans it out to its own addresses (30 BTC for a peel chain, coins for each mixing round, four \
reused wallet addresses) and keeps about 9 BTC in reserve. Whirlpool (132-134): the thief's Tx0 \
is vector CJ4; an unrelated new entrant makes its own Tx0; the mix is CJ1/W-1 with the thief's \
premix as input 0. Consolidations (136, 138, 140) co-spend W0+W1, W1+W2, then W2+W3 with the \
earlier consolidation outputs, paying 0.5 BTC to the JoinMarket taker. Wasabi 1 (142): vector \
CJ3, the thief the participant with two inputs. Wasabi 2 (144): twenty descending inputs, CJ6's \
seventeen descending outputs, the thief one of eight participants. JoinMarket (146): vector \
CJ2, the thief the taker. STONEWALLx2 (148): an unrelated collaborator co-signs the thief's \
2,000,000 sat payment to a vendor. Peel chain (150-203): 54 hops, peel at output 0 (round \
amounts; hops 9, 22, 36, 49 into the thief's accounts at Tallyport and Quayside), change at \
output 1; the last change stays unspent. The thief deposits its Whirlpool output at Quayside \
(206) and its JoinMarket output at Tallyport (208); an innocent remixer deposits its mix output \
at Tallyport (210). Unrelated wallets trade throughout and thirteen innocent customers deposit \
at both exchanges. The chain ends at height 230.";

pub(super) const TAINT_CONVENTIONS: &str = "Every coin the thief puts into a round is wholly \
stolen; strangers' coins are clean. stolen_sats is exact where every coin on the path is stolen \
(peel chain) or none is, and null where a round mixed stolen and clean coins. \
haircut_stolen_sats assumes each transaction passes the stolen fraction of its input value to \
every output alike (fees proportionally), rounded down: Whirlpool mix outputs carry \
1,000,285/5,000,570 of their value, JoinMarket outputs 50,000,000/165,000,000.";
