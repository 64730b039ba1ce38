//! The actors of the Ethereum scenario: fixed, readable addresses (two tag bytes, zeros, an
//! index) so a trace printout shows who is who, and the same on every run.
//!
//! | prefix | who |
//! |---|---|
//! | `0xde00` | deployer of the four contracts |
//! | `0xb17a` | Bitvault Exchange hot wallet (the victim) |
//! | `0x4ba4` | Northbank Exchange deposit addresses |
//! | `0x4e59` | Keyport Exchange deposit addresses |
//! | `0x7e1f` | the thief: theft address, hops, split outputs, withdrawal recipients |
//! | `0xc1ea` | background users (clean) |
//! | `0x07c0` | the OTC desk (the commingling account) |
//! | `0x4e1a` | a mixer relayer |
//! | `0xdec0` | the decoy that a reverted internal call tries to pay |
//! | `0xfee0` | the coinbase (fee recipient), see [`crate::anvil::DEFAULT_COINBASE`] |

use crate::anvil::{Address, ETHER, GWEI};

pub(crate) const BITVAULT: &str = "Bitvault Exchange";
pub(crate) const NORTHBANK: &str = "Northbank Exchange";
pub(crate) const KEYPORT: &str = "Keyport Exchange";

pub(crate) const DEPLOYER: Address = Address::tagged(0xde00, 1);
pub(crate) const HOT_WALLET: Address = Address::tagged(0xb17a, 1);

/// Northbank deposit addresses: the thief's account, the OTC desk's, a customer's.
pub(crate) const NB_THIEF: Address = Address::tagged(0x4ba4, 1);
pub(crate) const NB_OTC: Address = Address::tagged(0x4ba4, 2);
pub(crate) const NB_CUSTOMER: Address = Address::tagged(0x4ba4, 3);
/// Keyport deposit addresses: the thief's account and the OTC desk's.
pub(crate) const KP_THIEF: Address = Address::tagged(0x4e59, 1);
pub(crate) const KP_OTC: Address = Address::tagged(0x4e59, 2);

/// The theft address: receives the stolen ETH and tokens.
pub(crate) const THIEF: Address = Address::tagged(0x7e1f, 1);
/// First-layer hops out of the theft address.
pub(crate) const HOP1: Address = Address::tagged(0x7e1f, 2);
pub(crate) const HOP2: Address = Address::tagged(0x7e1f, 3);
pub(crate) const HOP3: Address = Address::tagged(0x7e1f, 4);
/// Carries the stolen tokens (and a little ETH for gas).
pub(crate) const TOKEN_HOP: Address = Address::tagged(0x7e1f, 5);
/// Second hop of the `HOP2` branch, which feeds the OTC desk.
pub(crate) const HOP5: Address = Address::tagged(0x7e1f, 6);
/// Split outputs of the Splitter call.
pub(crate) const SPLIT: [Address; 4] = [
    Address::tagged(0x7e1f, 0x11),
    Address::tagged(0x7e1f, 0x12),
    Address::tagged(0x7e1f, 0x13),
    Address::tagged(0x7e1f, 0x14),
];
/// Receives the payment that survives the reverted internal call.
pub(crate) const AFTER_REVERT: Address = Address::tagged(0x7e1f, 0x15);
/// Token hops.
pub(crate) const TOKEN_HOP2: Address = Address::tagged(0x7e1f, 0x21);
pub(crate) const TOKEN_HOP3: Address = Address::tagged(0x7e1f, 0x22);
/// Fresh recipients of the thief's mixer withdrawals.
pub(crate) const fn withdrawal_recipient(i: u16) -> Address {
    Address::tagged(0x7e1f, 0x0100 + i)
}

pub(crate) const BACKGROUND: [Address; 5] = [
    Address::tagged(0xc1ea, 1),
    Address::tagged(0xc1ea, 2),
    Address::tagged(0xc1ea, 3),
    Address::tagged(0xc1ea, 4),
    Address::tagged(0xc1ea, 5),
];
/// A background user's fresh address for a relayed mixer withdrawal.
pub(crate) const BACKGROUND_FRESH: Address = Address::tagged(0xc1ea, 6);
pub(crate) const OTC_DESK: Address = Address::tagged(0x07c0, 1);
pub(crate) const RELAYER: Address = Address::tagged(0x4e1a, 1);
pub(crate) const DECOY: Address = Address::tagged(0xdec0, 1);

/// Balances created with `anvil_setBalance`. The thief and the OTC desk get none.
pub(crate) const PREFUND: [(Address, u128); 8] = [
    (DEPLOYER, 10 * ETHER),
    (HOT_WALLET, 1_000 * ETHER),
    (BACKGROUND[0], 100 * ETHER),
    (BACKGROUND[1], 100 * ETHER),
    (BACKGROUND[2], 100 * ETHER),
    (BACKGROUND[3], 100 * ETHER),
    (BACKGROUND[4], 100 * ETHER),
    (RELAYER, 5 * ETHER),
];

/// Priority fees per actor: each wallet has its own, as real wallets do (and as the mixer
/// gas-price heuristic assumes).
pub(crate) const TIP_EXCHANGE: u128 = 3 * GWEI / 2;
pub(crate) const TIP_THIEF: u128 = 2 * GWEI;
pub(crate) const TIP_BACKGROUND: u128 = GWEI;
pub(crate) const TIP_OTC: u128 = 6 * GWEI / 5;
pub(crate) const TIP_RELAYER: u128 = 3 * GWEI;

/// Token decimals and its base unit.
pub(crate) const TOKEN_DECIMALS: u8 = 6;
pub(crate) const USD: u128 = 1_000_000;
pub(crate) const TOKEN_NAME: &str = "Chaintrace USD";
pub(crate) const TOKEN_SYMBOL: &str = "CUSD";
pub(crate) const DENOMINATION: u128 = ETHER;
/// What the relayer keeps of each relayed withdrawal.
pub(crate) const RELAYER_FEE: u128 = ETHER / 100;

/// A named actor: (address, name, role, owner).
pub(crate) struct Actor {
    pub address: Address,
    pub name: &'static str,
    pub role: &'static str,
    pub owner: &'static str,
}

const fn actor(
    address: Address,
    name: &'static str,
    role: &'static str,
    owner: &'static str,
) -> Actor {
    Actor {
        address,
        name,
        role,
        owner,
    }
}

/// Every externally owned actor (contracts are added when deployed).
pub(crate) fn actors() -> Vec<Actor> {
    let mut all = vec![
        actor(
            DEPLOYER,
            "deployer",
            "deploys the contracts, mints the token",
            "operator",
        ),
        actor(
            HOT_WALLET,
            "bitvault.hot",
            "exchange hot wallet, robbed",
            BITVAULT,
        ),
        actor(
            NB_THIEF,
            "northbank.dep.thief",
            "exchange deposit address",
            "thief",
        ),
        actor(
            NB_OTC,
            "northbank.dep.otc",
            "exchange deposit address",
            "otc desk",
        ),
        actor(
            NB_CUSTOMER,
            "northbank.dep.customer",
            "exchange deposit address",
            "background",
        ),
        actor(
            KP_THIEF,
            "keyport.dep.thief",
            "exchange deposit address",
            "thief",
        ),
        actor(
            KP_OTC,
            "keyport.dep.otc",
            "exchange deposit address",
            "otc desk",
        ),
        actor(THIEF, "thief", "theft address", "thief"),
        actor(HOP1, "thief.hop1", "hop, feeds the Splitter", "thief"),
        actor(HOP2, "thief.hop2", "hop", "thief"),
        actor(HOP3, "thief.hop3", "hop, dormant", "thief"),
        actor(
            TOKEN_HOP,
            "thief.token",
            "carries the stolen tokens",
            "thief",
        ),
        actor(HOP5, "thief.hop5", "hop, pays the OTC desk", "thief"),
        actor(
            AFTER_REVERT,
            "thief.after_revert",
            "paid by the Reverter",
            "thief",
        ),
        actor(TOKEN_HOP2, "thief.token2", "token hop, dormant", "thief"),
        actor(
            TOKEN_HOP3,
            "thief.token3",
            "token hop via splitToken, dormant",
            "thief",
        ),
        actor(
            OTC_DESK,
            "otc",
            "commingling account: clean, then stolen inflow",
            "otc desk",
        ),
        actor(RELAYER, "relayer", "mixer relayer", "relayer"),
        actor(
            DECOY,
            "decoy",
            "target of a reverted internal call",
            "background",
        ),
        actor(
            BACKGROUND_FRESH,
            "background.fresh",
            "mixer withdrawal recipient",
            "background",
        ),
    ];
    let split_names = [
        "thief.split1",
        "thief.split2",
        "thief.split3",
        "thief.split4",
    ];
    for (address, name) in SPLIT.into_iter().zip(split_names) {
        all.push(actor(address, name, "split output", "thief"));
    }
    let bg_names = [
        "background1",
        "background2",
        "background3",
        "background4",
        "background5",
    ];
    for (address, name) in BACKGROUND.into_iter().zip(bg_names) {
        all.push(actor(address, name, "clean user", "background"));
    }
    all
}

/// Names of the thief's withdrawal recipients (`thief.w01` …).
pub(crate) fn withdrawal_name(i: u16) -> String {
    format!("thief.w{i:02}")
}
