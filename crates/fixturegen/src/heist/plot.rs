//! The scenario's script: amounts, heights and what happens when.

use super::{KEYPORT, NORTHBANK};
use crate::scripts::ScriptKind;

use crate::scenario::{Business, Routine};
pub(super) use crate::scenario::{BTC, CUSTOMER_DEPOSITS, INNOCENT_AMOUNTS};
pub(super) const CUSTOMER_DEPOSIT_HEIGHTS: std::ops::RangeInclusive<u32> = 102..=141;
pub(super) const WITHDRAWALS: [(u32, u64); 2] = [(155, 5 * BTC), (162, 750 * BTC / 100)];
pub(super) const CLEAN_FUNDING: (u32, u64) = (150, 5 * BTC);
pub(super) const THEFT_HEIGHT: u32 = 170;
pub(super) const STOLEN: [u64; 3] = [60 * BTC, 40 * BTC, 20 * BTC];
pub(super) const PEEL_START: u32 = 172;
pub(super) const PEELS: [(u64, Peel); 8] = [
    (5 * BTC, Peel::Mule(ScriptKind::P2pkh)),
    (CJ_INPUT, Peel::Premix),
    (3 * BTC, Peel::Exchange(NORTHBANK, 0)),
    (250 * BTC / 100, Peel::Mule(ScriptKind::P2shP2wpkh)),
    (4 * BTC, Peel::Exchange(KEYPORT, 0)),
    (2 * BTC, Peel::Mule(ScriptKind::P2tr)),
    (150 * BTC / 100, Peel::Exchange(NORTHBANK, 1)),
    (3 * BTC, Peel::Mule(ScriptKind::P2wpkh)),
];
pub(super) const PEEL_RATES: [u64; 8] = [12, 10, 15, 9, 11, 14, 8, 13];
pub(super) const SPLIT_HEIGHT: u32 = 173;
pub(super) const SPLIT_OUTPUTS: usize = 10;
pub(super) const SPLIT_VALUE: u64 = 4 * BTC;
pub(super) const PREMIX_HEIGHT: u32 = 176;
pub(super) const COINJOIN_HEIGHT: u32 = 178;
pub(super) const CJ_DENOMINATION: u64 = BTC;
pub(super) const CJ_PARTICIPANTS: usize = 4;
/// Each input brings 2,000 sat above the denomination: five of them pay the 10,000 sat fee.
pub(super) const CJ_INPUT: u64 = BTC + 2_000;
pub(super) const CJ_FEE: u64 = 10_000;
pub(super) const CONSOLIDATION_HEIGHT: u32 = 180;
pub(super) const CONSOLIDATED_SPLITS: usize = 4;
pub(super) const CJ_DEPOSIT_HEIGHT: u32 = 182;
pub(super) const PARTICIPANT_DEPOSIT_HEIGHT: u32 = 184;
pub(super) const CONSOLIDATION_DEPOSIT_HEIGHT: u32 = 188;
pub(super) const INNOCENT_FIRST: u32 = 112;
pub(super) const INNOCENT_EVERY: u32 = 9;
pub(super) const INNOCENT_COUNT: u32 = 14;

pub(super) const STORY: &str =
    "Bitvault Exchange keeps customer deposits in a 2-of-3 P2WSH hot wallet. \
From height 102 to 141 forty customers deposit 137.5 BTC; Bitvault pays ordinary withdrawals of \
5 BTC (height 155) and 7.5 BTC (height 162). At height 150 an unrelated wallet pays the thief \
5 BTC of clean coins. At height 170 the thief, controlling Bitvault's withdrawal signer, takes \
120 BTC in one transaction: 60 BTC and 40 BTC to P2WPKH addresses and 20 BTC to a taproot \
address; the exchange pays the fee and its change returns to the hot wallet. The 60 BTC output \
runs through an 8-hop peel chain (heights 172-186, every two blocks) peeling 5 BTC (mule), \
1.00002 BTC (the thief's CoinJoin premix), 3 BTC (deposit at Northbank Exchange), 2.5 BTC (mule), \
4 BTC (deposit at Keyport Exchange), 2 BTC (mule), 1.5 BTC (deposit at Northbank) and 3 BTC \
(mule), leaving about 38 BTC on the last change address. At height 173 the 40 BTC output splits \
into ten 4 BTC outputs (the last one pays the fee). At height 178 the premix joins four \
uninvolved participants (funded with 1.00002 BTC each at height 176) in a 5-input/5-output \
CoinJoin with 1 BTC outputs and no change; the inputs' 10,000 sat excess is the fee. At height \
180 four split outputs (16 BTC stolen) and the clean 5 BTC are consolidated into one output, \
deposited at Keyport at height 188. The thief's CoinJoin output is deposited at Northbank at \
height 182; at height 184 one uninvolved participant deposits its CoinJoin output at Keyport. \
The 20 BTC output and six split outputs never move. Unrelated wallets trade throughout and \
fourteen innocent customers deposit at Northbank and Keyport. The chain ends at height 240; \
stale forks compete at heights 145 and 205-206.";

pub(super) const TAINT_CONVENTIONS: &str =
    "stolen_sats is exact where every coin on every path from the \
theft to the deposit is stolen (peel chain) or none is (innocent deposits), and null where stolen \
and clean coins were merged (consolidation, CoinJoin). haircut_stolen_sats assumes every \
transaction passes the stolen fraction of its input value to each output alike (fees \
proportionally), rounded down: the consolidation output is 16/21 stolen, every CoinJoin output \
1/5.";

/// Where a peel goes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Peel {
    Mule(ScriptKind),
    Premix,
    /// An exchange and the index of the thief's deposit address there.
    Exchange(&'static str, usize),
}

/// What happens at a height, in block order.
#[derive(Clone, Copy, Debug)]
pub(super) enum Event {
    Routine(Business),
    CleanFunding,
    Theft,
    PeelHop(usize),
    Split,
    PremixFunding,
    CoinJoin,
    Consolidation,
    CoinJoinDeposit,
    ParticipantDeposit,
    ConsolidationDeposit,
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
    let peel_end = PEEL_START + 2 * (PEELS.len() as u32 - 1);
    if (PEEL_START..=peel_end).contains(&height) && (height - PEEL_START).is_multiple_of(2) {
        events.push(Event::PeelHop(((height - PEEL_START) / 2) as usize));
    }
    let single = match height {
        h if h == CLEAN_FUNDING.0 => Some(Event::CleanFunding),
        THEFT_HEIGHT => Some(Event::Theft),
        SPLIT_HEIGHT => Some(Event::Split),
        PREMIX_HEIGHT => Some(Event::PremixFunding),
        COINJOIN_HEIGHT => Some(Event::CoinJoin),
        CONSOLIDATION_HEIGHT => Some(Event::Consolidation),
        CJ_DEPOSIT_HEIGHT => Some(Event::CoinJoinDeposit),
        PARTICIPANT_DEPOSIT_HEIGHT => Some(Event::ParticipantDeposit),
        CONSOLIDATION_DEPOSIT_HEIGHT => Some(Event::ConsolidationDeposit),
        _ => None,
    };
    events.extend(single);
    events
}
