//! Blocks 20–28: pool activity appended after the laundering story, one case per Tornado Cash
//! linking heuristic of tracing spec §5.2 (H1–H5) and decoys that none may link. Nothing here
//! touches the thief's funds; the actors are fresh (`0x70c0…` depositors, `0x70c1…`
//! recipients) and funded with `anvil_setBalance` just before block 20.
//!
//! | block | what |
//! |---|---|
//! | 20 | the deployer deploys a second pool, 0.1 ETH |
//! | 21 | 1 ETH deposits: h1 (plain), h2 (legacy 27.4 gwei, unique), g30a and g30b (legacy 30 gwei, shared), g41 (legacy 41.123456789 gwei, unique), fp (EIP-1559 caps 77 / 1.7 gwei, unique), h3, h3x, plain |
//! | 22 | h3 pays r.h3 three times, h3x pays r.h3x twice (direct transactions) |
//! | 23 | h5 deposits 1 ETH, alone in the block (block B) |
//! | 24 | h4 deposits 2 × 1 ETH, h4s 2 × 1 ETH, h4w 1 ETH |
//! | 25 (+6 h) | h4 deposits 3 × 0.1 ETH |
//! | 26 (+24 h) | h4w deposits 0.1 ETH: 30 h after its 1 ETH, outside any 24 h window |
//! | 27 (+2 h) | withdrawals: relayed to h1 (H1); self-relayed by r.h2 at 27.4 gwei (H2); self-relayed by r.g30 at 30 gwei (not unique: no link); relayed to r.g41, the relayer paying 41.123456789 gwei (relayed: H2 ignores it); self-relayed by r.fp with caps 77 / 1.7 gwei (H2, EIP-1559 fingerprint); relayed to r.h3 (H3) and r.h3x (2 interactions: no link); relayed to r.plain (decoy); r.h4 2 × 1 ETH, r.h4s 2 × 1 ETH, r.h4w 1 ETH (relayed) |
//! | 28 (+3 h) | r.h4 3 × 0.1 ETH and r.h4w 0.1 ETH (relayed); relayed to r.h5 from the 1 ETH pool at B + 5 (H5: r.h5 claims 5 × 20 = 100 AP) |
//!
//! r.plain also claims 140 AP: 7 blocks before its withdrawal is block 20, where the 1 ETH
//! pool took no deposit, so H5 links nothing.

use std::collections::BTreeMap;

use crate::anvil::{Address, Result, TxRequest, ETHER, GWEI};
use crate::rng::Rng;

use super::abi::Arg;
use super::cast::{DENOMINATION, DEPLOYER, RELAYER, RELAYER_FEE, TIP_BACKGROUND, TIP_RELAYER};
use super::manifest::{
    ApClaim, ExpectedLink, GasTerms, MixerDeposit, MixerWithdrawal, TornadoDeposit, TornadoPool,
    TornadoTruth, TornadoWithdrawal, TxRecord,
};
use super::play::{scenario_err, Flow, Kind, Play};
use super::story::{commitment, nullifier, Deployed, Notes, SEED};

/// Denomination of the second pool.
pub(crate) const SMALL_DENOMINATION: u128 = ETHER / 10;
/// What the relayer keeps of a 0.1 ETH withdrawal.
const SMALL_RELAYER_FEE: u128 = ETHER / 1_000;
/// Anonymity points per block (spec §5.2, H5: `MINE_POOL_RATES`).
const AP_RATE_1_ETH: u64 = 20;
const AP_RATE_0_1_ETH: u64 = 4;
/// H3's threshold and H4's window, as in Tutela's defaults.
const MIN_INTERACTIONS: u32 = 3;
const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;

const GAS_DEPLOY: u64 = 2_000_000;
const GAS_DEPOSIT: u64 = 100_000;
const GAS_WITHDRAW: u64 = 150_000;

const fn depositor(i: u16) -> Address {
    Address::tagged(0x70c0, i)
}

const fn recipient(i: u16) -> Address {
    Address::tagged(0x70c1, i)
}

pub(crate) const H1: Address = depositor(1);
pub(crate) const H2: Address = depositor(2);
pub(crate) const G30A: Address = depositor(3);
pub(crate) const G30B: Address = depositor(4);
pub(crate) const G41: Address = depositor(5);
pub(crate) const FP: Address = depositor(6);
pub(crate) const H3: Address = depositor(7);
pub(crate) const H3X: Address = depositor(8);
pub(crate) const H5: Address = depositor(9);
pub(crate) const H4: Address = depositor(10);
pub(crate) const H4S: Address = depositor(11);
pub(crate) const H4W: Address = depositor(12);
pub(crate) const PLAIN: Address = depositor(13);
pub(crate) const R_H2: Address = recipient(2);
pub(crate) const R_G30: Address = recipient(3);
pub(crate) const R_G41: Address = recipient(4);
pub(crate) const R_FP: Address = recipient(5);
pub(crate) const R_H3: Address = recipient(6);
pub(crate) const R_H3X: Address = recipient(7);
pub(crate) const R_H5: Address = recipient(8);
pub(crate) const R_H4: Address = recipient(9);
pub(crate) const R_H4S: Address = recipient(10);
pub(crate) const R_H4W: Address = recipient(11);
pub(crate) const R_PLAIN: Address = recipient(12);

/// (address, name, role, balance set just before block 20). Self-relayed withdrawers get gas
/// money this way, not by a transaction, so that no direct transaction links them (H3).
pub(crate) const ACTORS: [(Address, &str, &str, u128); 24] = [
    (
        H1,
        "tc.h1",
        "H1: deposits, later withdraws to itself",
        10 * ETHER,
    ),
    (
        H2,
        "tc.h2",
        "H2: deposit at a unique legacy gas price",
        10 * ETHER,
    ),
    (
        G30A,
        "tc.g30a",
        "deposit at a shared legacy gas price",
        10 * ETHER,
    ),
    (
        G30B,
        "tc.g30b",
        "deposit at a shared legacy gas price",
        10 * ETHER,
    ),
    (
        G41,
        "tc.g41",
        "deposit at a unique legacy gas price",
        10 * ETHER,
    ),
    (
        FP,
        "tc.fp",
        "H2: deposit with unique EIP-1559 caps",
        10 * ETHER,
    ),
    (
        H3,
        "tc.h3",
        "H3: depositor paying its recipient 3 times",
        10 * ETHER,
    ),
    (
        H3X,
        "tc.h3x",
        "depositor paying its recipient twice",
        10 * ETHER,
    ),
    (H5, "tc.h5", "H5: deposit alone in its block", 10 * ETHER),
    (
        H4,
        "tc.h4",
        "H4: deposits 2 x 1 ETH + 3 x 0.1 ETH",
        10 * ETHER,
    ),
    (H4S, "tc.h4s", "deposits 2 x 1 ETH (one pool)", 10 * ETHER),
    (
        H4W,
        "tc.h4w",
        "deposits 1 ETH, then 0.1 ETH 30 h later",
        10 * ETHER,
    ),
    (PLAIN, "tc.plain", "decoy depositor", 10 * ETHER),
    (R_H2, "tc.r.h2", "H2: self-relayed withdrawal", ETHER),
    (
        R_G30,
        "tc.r.g30",
        "self-relayed withdrawal, shared gas price",
        ETHER,
    ),
    (
        R_G41,
        "tc.r.g41",
        "relayed withdrawal at a unique gas price",
        0,
    ),
    (
        R_FP,
        "tc.r.fp",
        "H2: self-relayed withdrawal, same caps",
        ETHER,
    ),
    (R_H3, "tc.r.h3", "H3: recipient paid 3 times by tc.h3", 0),
    (R_H3X, "tc.r.h3x", "recipient paid twice by tc.h3x", 0),
    (R_H5, "tc.r.h5", "H5: withdraws at B + 5, claims 100 AP", 0),
    (R_H4, "tc.r.h4", "H4: withdraws 2 x 1 ETH + 3 x 0.1 ETH", 0),
    (R_H4S, "tc.r.h4s", "withdraws 2 x 1 ETH (one pool)", 0),
    (R_H4W, "tc.r.h4w", "withdraws 1 ETH + 0.1 ETH", 0),
    (R_PLAIN, "tc.r.plain", "decoy recipient, claims 140 AP", 0),
];

/// How a transaction is priced.
#[derive(Clone, Copy)]
enum Fee {
    /// EIP-1559 with the default cap and this tip.
    Tip(u128),
    /// EIP-1559 with this cap and tip.
    Caps(u128, u128),
    /// Legacy, at this gas price.
    Legacy(u128),
}

impl Fee {
    fn apply(self, r: TxRequest) -> TxRequest {
        match self {
            Fee::Tip(tip) => r.with_tip(tip),
            Fee::Caps(cap, tip) => TxRequest {
                max_fee_per_gas: cap,
                ..r.with_tip(tip)
            },
            Fee::Legacy(price) => r.with_gas_price(price),
        }
    }
}

const PLAIN_FEE: Fee = Fee::Tip(TIP_BACKGROUND);
const RELAYED: Fee = Fee::Tip(TIP_RELAYER);

/// A note deposited by this part of the story.
#[derive(Clone)]
struct Note {
    pool: Address,
    tx: String,
    depositor: Address,
    commitment: [u8; 32],
    nullifier: [u8; 32],
    leaf_index: u32,
    purpose: &'static str,
}

/// What this part of the story did, for the manifest.
#[derive(Default)]
pub(crate) struct Tornado {
    pub small_pool: Address,
    notes: Vec<Note>,
    small_leaves: u32,
    /// Purpose of each deposit or withdrawal tx (story ones are described when built).
    purposes: BTreeMap<String, &'static str>,
    /// Withdrawal tx → deposit tx of its note, for the 0.1 ETH pool (the 1 ETH pool's are in
    /// the story's notes).
    small_withdrawals: Vec<SmallWithdrawal>,
    claims: Vec<ApClaim>,
    /// Deposit tx of each case, by case name.
    cases: BTreeMap<&'static str, Vec<String>>,
}

struct SmallWithdrawal {
    tx: String,
    sender: Address,
    recipient: Address,
    relayer: Address,
    fee: u128,
    nullifier: [u8; 32],
    deposit_tx: String,
}

fn hex32(w: &[u8; 32]) -> String {
    format!("0x{}", crate::anvil::to_hex(w))
}

/// Plays blocks 20–28 on top of the story.
pub(crate) fn play(p: &mut Play<'_>, d: &Deployed, notes: &mut Notes) -> Result<Tornado> {
    for (address, _, _, wei) in ACTORS {
        if wei > 0 {
            p.anvil.set_balance(address, wei)?;
        }
    }
    let (small_pool, deployed_at) = deploy_small_pool(p, d)?;
    let mut t = Tornado {
        small_pool,
        ..Tornado::default()
    };
    first_deposits(p, d, notes, &mut t)?;
    interactions(p)?;
    let b = {
        t.deposit(p, d, notes, (H5, d.pool, PLAIN_FEE), ("h5", "H5: deposit"))?;
        p.mine()?.number
    };
    portfolios(p, d, notes, &mut t)?;
    let first_withdrawals = withdrawals(p, d, notes, &mut t)?;
    let last = last_withdrawals(p, d, notes, &mut t)?;
    t.claims = claims((b, deployed_at), last, first_withdrawals)?;
    Ok(t)
}

/// Block 20: a 0.1 ETH pool next to the story's 1 ETH one. Returns it and its block.
fn deploy_small_pool(p: &mut Play<'_>, d: &Deployed) -> Result<(Address, u64)> {
    let code = d.pool_abi().deploy_code(&[Arg::Uint(SMALL_DENOMINATION)]);
    let request = TxRequest::deploy(DEPLOYER, code, GAS_DEPLOY);
    let hash = p.send("tornado-deploy", "deploy MixerPool (0.1 ETH)", request)?;
    let block = p.mine()?.number;
    let pool = p.receipt(&hash)?.contract_address;
    let pool =
        pool.ok_or_else(|| scenario_err("tornado-deploy", format!("{hash} created no contract")))?;
    Ok((pool, block))
}

/// Block 21: deposits whose fee terms and depositors set up H1, H2 and H3.
fn first_deposits(p: &mut Play<'_>, d: &Deployed, n: &mut Notes, t: &mut Tornado) -> Result<()> {
    let cases: [(Address, Fee, &'static str, &'static str); 9] = [
        (H1, PLAIN_FEE, "h1", "H1: deposit by a later recipient"),
        (
            H2,
            Fee::Legacy(274 * GWEI / 10),
            "h2",
            "H2: unique legacy gas price 27.4 gwei",
        ),
        (
            G30A,
            Fee::Legacy(30 * GWEI),
            "g30a",
            "legacy gas price 30 gwei, shared",
        ),
        (
            G30B,
            Fee::Legacy(30 * GWEI),
            "g30b",
            "legacy gas price 30 gwei, shared",
        ),
        (
            G41,
            Fee::Legacy(41_123_456_789),
            "g41",
            "unique legacy gas price 41.123456789 gwei",
        ),
        (
            FP,
            Fee::Caps(77 * GWEI, 17 * GWEI / 10),
            "fp",
            "H2: unique EIP-1559 caps 77 / 1.7 gwei",
        ),
        (
            H3,
            PLAIN_FEE,
            "h3",
            "H3: depositor with 3 direct txs to its recipient",
        ),
        (
            H3X,
            PLAIN_FEE,
            "h3x",
            "depositor with only 2 direct txs to its recipient",
        ),
        (PLAIN, PLAIN_FEE, "plain", "decoy"),
    ];
    for (who, fee, case, purpose) in cases {
        t.deposit(p, d, n, (who, d.pool, fee), (case, purpose))?;
    }
    p.mine().map(drop)
}

/// Block 22: direct payments between depositors and their later recipients (H3 counts them).
fn interactions(p: &mut Play<'_>) -> Result<()> {
    for (from, to, times) in [(H3, R_H3, 3), (H3X, R_H3X, 2)] {
        for _ in 0..times {
            let pay = (from, to, ETHER / 20);
            p.transfer(
                "tornado-interaction",
                pay,
                TIP_BACKGROUND,
                "clean",
                "direct payment",
            )?;
        }
    }
    p.mine().map(drop)
}

/// Blocks 24–26: deposit portfolios over both pools (H4), one outside a 24 h window.
fn portfolios(p: &mut Play<'_>, d: &Deployed, n: &mut Notes, t: &mut Tornado) -> Result<()> {
    let (big, small) = (d.pool, t.small_pool);
    for (who, pool, count, case) in [
        (H4, big, 2, "h4"),
        (H4S, big, 2, "h4s"),
        (H4W, big, 1, "h4w"),
    ] {
        for _ in 0..count {
            t.deposit(p, d, n, (who, pool, PLAIN_FEE), (case, "H4 portfolio"))?;
        }
    }
    p.mine()?;
    for _ in 0..3 {
        t.deposit(p, d, n, (H4, small, PLAIN_FEE), ("h4", "H4 portfolio"))?;
    }
    p.mine_after(6 * HOUR)?;
    t.deposit(
        p,
        d,
        n,
        (H4W, small, PLAIN_FEE),
        ("h4w", "30 h after its 1 ETH deposit"),
    )?;
    p.mine_after(DAY).map(drop)
}

/// Block 27 (+2 h): the withdrawals of H1–H3, the decoys, and the first half of the H4
/// portfolios. Returns the block.
fn withdrawals(p: &mut Play<'_>, d: &Deployed, n: &mut Notes, t: &mut Tornado) -> Result<u64> {
    let cases: [(&str, Address, Option<Fee>, &'static str); 7] = [
        ("h1", H1, None, "H1: relayed to an earlier depositor"),
        (
            "h2",
            R_H2,
            Some(Fee::Legacy(274 * GWEI / 10)),
            "H2: self-relayed at 27.4 gwei",
        ),
        (
            "g30a",
            R_G30,
            Some(Fee::Legacy(30 * GWEI)),
            "self-relayed at a shared gas price",
        ),
        (
            "fp",
            R_FP,
            Some(Fee::Caps(77 * GWEI, 17 * GWEI / 10)),
            "H2: self-relayed, same caps",
        ),
        ("h3", R_H3, None, "H3: relayed to a recipient paid 3 times"),
        ("h3x", R_H3X, None, "relayed to a recipient paid twice"),
        ("plain", R_PLAIN, None, "decoy"),
    ];
    for (case, to, self_fee, purpose) in cases {
        let how = self_fee.map_or((RELAYER, RELAYED), |fee| (Address::ZERO, fee));
        t.withdraw(p, d, n, (case, 0), (to, how), purpose)?;
    }
    let relayed_unique = (RELAYER, Fee::Legacy(41_123_456_789));
    let purpose = "relayed; the relayer pays the unique 41.123456789 gwei";
    t.withdraw(p, d, n, ("g41", 0), (R_G41, relayed_unique), purpose)?;
    for (case, to, notes) in [
        ("h4", R_H4, 0..2),
        ("h4s", R_H4S, 0..2),
        ("h4w", R_H4W, 0..1),
    ] {
        for i in notes {
            t.withdraw(p, d, n, (case, i), (to, (RELAYER, RELAYED)), "H4 portfolio")?;
        }
    }
    p.mine_after(2 * HOUR).map(|b| b.number)
}

/// Block 28 (+3 h): the rest of the H4 portfolios and the H5 withdrawal. Returns the block.
fn last_withdrawals(p: &mut Play<'_>, d: &Deployed, n: &mut Notes, t: &mut Tornado) -> Result<u64> {
    for (case, to, notes) in [("h4", R_H4, 2..5), ("h4w", R_H4W, 1..2)] {
        for i in notes {
            t.withdraw(p, d, n, (case, i), (to, (RELAYER, RELAYED)), "H4 portfolio")?;
        }
    }
    let purpose = "H5: relayed, 5 blocks after its deposit";
    t.withdraw(p, d, n, ("h5", 0), (R_H5, (RELAYER, RELAYED)), purpose)?;
    p.mine_after(3 * HOUR).map(|b| b.number)
}

/// The anonymity-point claims, both made at the last block: r.h5's points at its deposit
/// (block B), r.plain's at the block that deployed the 0.1 ETH pool, where the 1 ETH pool took
/// no deposit.
fn claims((b, empty): (u64, u64), last: u64, first_withdrawals: u64) -> Result<Vec<ApClaim>> {
    let order = |later: u64, earlier: u64| {
        later
            .checked_sub(earlier)
            .filter(|d| *d > 0)
            .ok_or_else(|| scenario_err("tornado", format!("block {later} is not after {earlier}")))
    };
    let delta = order(last, b)?;
    let decoy_delta = order(first_withdrawals, empty)?;
    Ok(vec![
        ApClaim {
            address: R_H5,
            block: last,
            ap: delta * AP_RATE_1_ETH,
        },
        ApClaim {
            address: R_PLAIN,
            block: last,
            ap: decoy_delta * AP_RATE_1_ETH,
        },
    ])
}

impl Tornado {
    /// A deposit of `who` into `pool` priced by `fee`, recorded under `case`.
    fn deposit(
        &mut self,
        p: &mut Play<'_>,
        d: &Deployed,
        notes: &mut Notes,
        (who, pool, fee): (Address, Address, Fee),
        (case, purpose): (&'static str, &'static str),
    ) -> Result<()> {
        let big = pool == d.pool;
        let (denomination, c, nh, leaf) = if big {
            let k = notes.deposits.len() as u64 + 1;
            (DENOMINATION, commitment(k), nullifier(k), k as u32 - 1)
        } else {
            let k = u64::from(self.small_leaves) + 1;
            self.small_leaves += 1;
            let c = Rng::derive(SEED, 0xc1_0000 + k).bytes();
            (
                SMALL_DENOMINATION,
                c,
                Rng::derive(SEED, 0x4b_0000 + k).bytes(),
                k as u32 - 1,
            )
        };
        let data = d.pool_abi().calldata("deposit(bytes32)", &[Arg::Word(c)])?;
        let request = fee.apply(TxRequest::call(who, pool, data, GAS_DEPOSIT));
        let step = "tornado-deposit";
        let hash = p.send(
            step,
            &format!("{case} deposits into {pool}"),
            request.with_value(denomination),
        )?;
        p.flow(&hash, step, flow(Kind::Tx, who, pool, denomination));
        if big {
            notes.deposits.push(MixerDeposit {
                tx: hash.clone(),
                block_number: 0,
                depositor: who,
                commitment: hex32(&c),
                leaf_index: leaf,
                owner: OWNER.to_owned(),
            });
        }
        self.purposes.insert(hash.clone(), purpose);
        self.cases.entry(case).or_default().push(hash.clone());
        self.notes.push(Note {
            pool,
            tx: hash,
            depositor: who,
            commitment: c,
            nullifier: nh,
            leaf_index: leaf,
            purpose,
        });
        Ok(())
    }

    /// Withdraws note `i` of `case` to `to`, relayed by `relayer` (or self-relayed when it is
    /// zero) with the sender's fee terms `fee`.
    fn withdraw(
        &mut self,
        p: &mut Play<'_>,
        d: &Deployed,
        notes: &mut Notes,
        (case, i): (&str, usize),
        (to, (relayer, fee)): (Address, (Address, Fee)),
        purpose: &'static str,
    ) -> Result<()> {
        let deposit_tx = self.cases.get(case).and_then(|c| c.get(i)).cloned();
        let note = deposit_tx
            .and_then(|tx| self.notes.iter().find(|n| n.tx == tx).cloned())
            .ok_or_else(|| scenario_err("tornado", format!("no note {i} of case {case}")))?;
        let big = note.pool == d.pool;
        let self_relayed = relayer == Address::ZERO;
        let relayer_fee = match (self_relayed, big) {
            (true, _) => 0,
            (false, true) => RELAYER_FEE,
            (false, false) => SMALL_RELAYER_FEE,
        };
        let sender = if self_relayed { to } else { relayer };
        let proof_seed = 0x9e_0000 + u64::from(note.leaf_index) + if big { 0 } else { 0x1000 };
        let mut proof = vec![0u8; 256];
        Rng::derive(SEED, proof_seed).fill(&mut proof);
        let data = d.pool_abi().calldata(
            "withdraw(bytes,bytes32,bytes32,address,address,uint256,uint256)",
            &[
                Arg::Bytes(proof),
                Arg::Word(Rng::derive(SEED, 0x5e_0000 + proof_seed).bytes()),
                Arg::Word(note.nullifier),
                Arg::Address(to),
                Arg::Address(relayer),
                Arg::Uint(relayer_fee),
                Arg::Uint(0),
            ],
        )?;
        let request = fee.apply(TxRequest::call(sender, note.pool, data, GAS_WITHDRAW));
        let step = "tornado-withdrawal";
        let hash = p.send(step, &format!("{case} note withdrawn to {to}"), request)?;
        let denomination = if big {
            DENOMINATION
        } else {
            SMALL_DENOMINATION
        };
        p.flow(
            &hash,
            step,
            flow(Kind::Internal, note.pool, to, denomination - relayer_fee),
        );
        if relayer_fee > 0 {
            p.flow(
                &hash,
                step,
                flow(Kind::Internal, note.pool, relayer, relayer_fee),
            );
        }
        self.purposes.insert(hash.clone(), purpose);
        if big {
            notes.withdrawals.push(MixerWithdrawal {
                tx: hash,
                block_number: 0,
                sender,
                recipient: to,
                relayer,
                fee_wei: relayer_fee,
                nullifier_hash: hex32(&note.nullifier),
                deposit_commitment: hex32(&note.commitment),
                owner: OWNER.to_owned(),
                self_relayed,
            });
        } else {
            self.small_withdrawals.push(SmallWithdrawal {
                tx: hash,
                sender,
                recipient: to,
                relayer,
                fee: relayer_fee,
                nullifier: note.nullifier,
                deposit_tx: note.tx,
            });
        }
        Ok(())
    }
}

const OWNER: &str = "tornado user";

fn flow(kind: Kind, from: Address, to: Address, amount: u128) -> Flow<'static> {
    Flow {
        asset: "ETH",
        kind,
        from,
        to,
        amount,
        moved: true,
        funds: if kind == Kind::Tx { "clean" } else { "mixer" },
    }
}

/// The ground truth: both pools' events (the story's included), the claims and the links.
pub(crate) fn truth(
    p: &Play<'_>,
    d: &Deployed,
    notes: &Notes,
    t: &Tornado,
) -> Result<TornadoTruth> {
    let tx = |hash: &str| -> Result<&TxRecord> {
        p.txs
            .iter()
            .find(|r| r.hash == hash)
            .ok_or_else(|| scenario_err("tornado", format!("no record of {hash}")))
    };
    let time = |block: u64| {
        p.blocks
            .iter()
            .find(|b| b.number == block)
            .map_or(0, |b| b.timestamp)
    };
    let mut deposits = Vec::new();
    for dep in &notes.deposits {
        let r = tx(&dep.tx)?;
        deposits.push(TornadoDeposit {
            pool: d.pool,
            tx: dep.tx.clone(),
            block_number: r.block_number,
            timestamp: time(r.block_number),
            depositor: dep.depositor,
            commitment: dep.commitment.clone(),
            leaf_index: dep.leaf_index,
            gas: gas_terms(r),
            owner: dep.owner.clone(),
            purpose: t.purpose_of(&dep.tx),
        });
    }
    for note in t.notes.iter().filter(|n| n.pool == t.small_pool) {
        let r = tx(&note.tx)?;
        deposits.push(TornadoDeposit {
            pool: note.pool,
            tx: note.tx.clone(),
            block_number: r.block_number,
            timestamp: time(r.block_number),
            depositor: note.depositor,
            commitment: hex32(&note.commitment),
            leaf_index: note.leaf_index,
            gas: gas_terms(r),
            owner: OWNER.to_owned(),
            purpose: note.purpose.to_owned(),
        });
    }
    let mut withdrawals = Vec::new();
    for w in &notes.withdrawals {
        let r = tx(&w.tx)?;
        let deposit_tx = notes
            .deposits
            .iter()
            .find(|dep| dep.commitment == w.deposit_commitment)
            .map(|dep| dep.tx.clone())
            .unwrap_or_default();
        withdrawals.push(TornadoWithdrawal {
            pool: d.pool,
            tx: w.tx.clone(),
            block_number: r.block_number,
            timestamp: time(r.block_number),
            sender: w.sender,
            recipient: w.recipient,
            relayer: w.relayer,
            fee_wei: w.fee_wei,
            nullifier_hash: w.nullifier_hash.clone(),
            self_relayed: w.self_relayed,
            gas: gas_terms(r),
            deposit_tx,
            owner: w.owner.clone(),
            purpose: t.purpose_of(&w.tx),
        });
    }
    for w in &t.small_withdrawals {
        let r = tx(&w.tx)?;
        withdrawals.push(TornadoWithdrawal {
            pool: t.small_pool,
            tx: w.tx.clone(),
            block_number: r.block_number,
            timestamp: time(r.block_number),
            sender: w.sender,
            recipient: w.recipient,
            relayer: w.relayer,
            fee_wei: w.fee,
            nullifier_hash: hex32(&w.nullifier),
            self_relayed: w.relayer == Address::ZERO,
            gas: gas_terms(r),
            deposit_tx: w.deposit_tx.clone(),
            owner: OWNER.to_owned(),
            purpose: t.purpose_of(&w.tx),
        });
    }
    let order = |hash: &str| {
        tx(hash)
            .map(|r| (r.block_number, r.tx_index))
            .unwrap_or_default()
    };
    deposits.sort_by_key(|x| order(&x.tx));
    withdrawals.sort_by_key(|x| order(&x.tx));
    let links = expected_links(&deposits, &withdrawals, t);
    let linked: Vec<&String> = links.values().flatten().map(|l| &l.withdrawal_tx).collect();
    let unlinked = withdrawals
        .iter()
        .map(|w| w.tx.clone())
        .filter(|w| !linked.contains(&w))
        .collect();
    Ok(TornadoTruth {
        pools: vec![
            pool_info(d.pool, "1 ETH", DENOMINATION, AP_RATE_1_ETH),
            pool_info(t.small_pool, "0.1 ETH", SMALL_DENOMINATION, AP_RATE_0_1_ETH),
        ],
        deposits,
        withdrawals,
        ap_claims: t.claims.clone(),
        min_interactions: MIN_INTERACTIONS,
        portfolio_window_secs: DAY,
        links,
        unlinked,
    })
}

impl Tornado {
    fn purpose_of(&self, tx: &str) -> String {
        self.purposes
            .get(tx)
            .copied()
            .unwrap_or("laundering story")
            .to_owned()
    }
}

fn pool_info(address: Address, name: &str, denomination_wei: u128, ap_rate: u64) -> TornadoPool {
    TornadoPool {
        address,
        name: name.to_owned(),
        denomination_wei,
        ap_rate,
    }
}

fn gas_terms(r: &TxRecord) -> GasTerms {
    let legacy = r.gas_price_wei.is_some();
    GasTerms {
        kind: if legacy { "legacy" } else { "eip1559" }.to_owned(),
        gas_price_wei: r.gas_price_wei,
        max_fee_per_gas_wei: (!legacy).then_some(r.max_fee_per_gas_wei),
        max_priority_fee_per_gas_wei: (!legacy).then_some(r.max_priority_fee_per_gas_wei),
        effective_gas_price_wei: r.effective_gas_price_wei,
    }
}

/// The links each heuristic must find, by construction of the cases:
/// * H1: the withdrawal to h1 ↔ h1's deposit, and the story's bystander who withdrew its own
///   note to itself ↔ its deposit (block 3);
/// * H2: r.h2 ↔ h2 (legacy 27.4 gwei), r.fp ↔ fp (caps 77 / 1.7 gwei);
/// * H3: r.h3 ↔ h3;
/// * H4: each of r.h4's five withdrawals ↔ each of h4's five deposits;
/// * H5: r.h5 ↔ h5.
fn expected_links(
    deposits: &[TornadoDeposit],
    withdrawals: &[TornadoWithdrawal],
    t: &Tornado,
) -> BTreeMap<String, Vec<ExpectedLink>> {
    let case = |c: &str| t.cases.get(c).cloned().unwrap_or_default();
    let to = |r: Address| -> Vec<String> {
        withdrawals
            .iter()
            .filter(|w| w.recipient == r)
            .map(|w| w.tx.clone())
            .collect()
    };
    let pairs = |ds: Vec<String>, ws: Vec<String>| -> Vec<ExpectedLink> {
        let mut out: Vec<ExpectedLink> = ds
            .iter()
            .flat_map(|dep| {
                ws.iter().map(|w| ExpectedLink {
                    deposit_tx: dep.clone(),
                    withdrawal_tx: w.clone(),
                })
            })
            .collect();
        out.sort();
        out
    };
    // H1 over the whole chain: every withdrawal to an address that deposited before it.
    let mut h1 = Vec::new();
    for w in withdrawals {
        let earlier = deposits
            .iter()
            .filter(|dep| dep.depositor == w.recipient && dep.timestamp < w.timestamp);
        h1.extend(earlier.map(|dep| ExpectedLink {
            deposit_tx: dep.tx.clone(),
            withdrawal_tx: w.tx.clone(),
        }));
    }
    h1.sort();
    let mut h2 = pairs(case("h2"), to(R_H2));
    h2.extend(pairs(case("fp"), to(R_FP)));
    h2.sort();
    BTreeMap::from([
        ("H1".to_owned(), h1),
        ("H2".to_owned(), h2),
        ("H3".to_owned(), pairs(case("h3"), to(R_H3))),
        ("H4".to_owned(), pairs(case("h4"), to(R_H4))),
        ("H5".to_owned(), pairs(case("h5"), to(R_H5))),
    ])
}

/// `tornado_pools.json`: the pools as a registry (`{"0x…": "1 ETH"}`), the format of
/// `fixtures/labels/eth/tornado_pools.json`.
pub(crate) fn registry(truth: &TornadoTruth) -> String {
    let map: BTreeMap<String, &str> = truth
        .pools
        .iter()
        .map(|pool| (pool.address.to_string(), pool.name.as_str()))
        .collect();
    serde_json::to_string_pretty(&map).unwrap_or_default() + "\n"
}

/// `ap_claims.csv`: `address,block,ap`.
pub(crate) fn claims_csv(truth: &TornadoTruth) -> String {
    let mut out = String::from("address,block,ap\n");
    for c in &truth.ap_claims {
        out.push_str(&format!("{},{},{}\n", c.address, c.block, c.ap));
    }
    out
}
