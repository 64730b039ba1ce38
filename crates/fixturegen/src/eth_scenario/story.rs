//! The scenario's steps, one block each (see the module docs of [`super`] for the story).

use crate::anvil::{Address, Result, TxRequest, ETHER};
use crate::rng::Rng;

use super::abi::{self, Arg, Artifact};
use super::cast::*;
use super::manifest::{CommingleEvent, MixerDeposit, MixerWithdrawal};
use super::play::{scenario_err, Flow, Kind, Play};

/// Seed of the commitments, nullifier hashes and fake proofs.
pub(crate) const SEED: u64 = 0x0e74_e157;

const GAS_DEPLOY: u64 = 2_000_000;
const GAS_TOKEN: u64 = 80_000;
const GAS_SPLIT: u64 = 200_000;
const GAS_DEPOSIT: u64 = 100_000;
const GAS_WITHDRAW: u64 = 150_000;
const GAS_REVERTER: u64 = 150_000;

/// The deployed contracts and their ABIs.
pub(crate) struct Deployed {
    pub token: Address,
    pub splitter: Address,
    pub pool: Address,
    pub reverter: Address,
    token_abi: Artifact,
    splitter_abi: Artifact,
    pool_abi: Artifact,
    reverter_abi: Artifact,
}

/// Mixer notes, deposits and withdrawals as they happen.
#[derive(Default)]
pub(crate) struct Notes {
    pub deposits: Vec<MixerDeposit>,
    pub withdrawals: Vec<MixerWithdrawal>,
}

/// What the steps learn as they go (theft hashes, mixer notes, the OTC desk's flows), for
/// the manifest.
#[derive(Default)]
pub(crate) struct Outcome {
    pub theft_eth_tx: String,
    pub theft_token_tx: String,
    pub notes: Notes,
    pub commingling: Vec<CommingleEvent>,
    /// Blocks 20–28: the pool activity of the linking heuristics.
    pub tornado: super::tornado::Tornado,
}

fn hex32(w: &[u8; 32]) -> String {
    format!("0x{}", crate::anvil::to_hex(w))
}

pub(crate) fn commitment(n: u64) -> [u8; 32] {
    Rng::derive(SEED, 0xc0_0000 + n).bytes()
}

pub(crate) fn nullifier(n: u64) -> [u8; 32] {
    Rng::derive(SEED, 0x4a_0000 + n).bytes()
}

/// Tornado proofs are 256 bytes (8 field elements); this one is noise the pool ignores.
fn fake_proof(n: u64) -> Vec<u8> {
    let mut proof = vec![0u8; 256];
    Rng::derive(SEED, 0x9f_0000 + n).fill(&mut proof);
    proof
}

fn call(from: Address, to: Address, data: Vec<u8>, gas: u64, tip: u128) -> TxRequest {
    TxRequest::call(from, to, data, gas).with_tip(tip)
}

/// Plays the whole story.
pub(crate) fn play(p: &mut Play<'_>) -> Result<(Deployed, Outcome)> {
    for (address, wei) in PREFUND {
        p.anvil.set_balance(address, wei)?;
    }
    let d = deploy(p)?;
    let mut out = Outcome::default();
    setup(p, &d)?;
    background(p, &d, &mut out)?;
    theft(p, &d, &mut out)?;
    first_hops(p, &d)?;
    split(p, &d)?;
    failed_and_reverted(p, &d)?;
    token_split_and_deposits(p, &d, &mut out)?;
    more_deposits(p, &d, &mut out)?;
    commingle(p, &mut out)?;
    p.wait(2)?;
    withdrawals(p, &d, &mut out)?;
    cash_out(p)?;
    tail(p)?;
    out.tornado = super::tornado::play(p, &d, &mut out.notes)?;
    fill_blocks(p, &mut out)?;
    Ok((d, out))
}

/// Block 1: the four contracts, from the deployer's nonces 0..3.
fn deploy(p: &mut Play<'_>) -> Result<Deployed> {
    let token_abi = Artifact::parse(abi::TOKEN_JSON)?;
    let splitter_abi = Artifact::parse(abi::SPLITTER_JSON)?;
    let pool_abi = Artifact::parse(abi::MIXER_POOL_JSON)?;
    let reverter_abi = Artifact::parse(abi::REVERTER_JSON)?;
    let token_args = [
        Arg::Str(TOKEN_NAME.into()),
        Arg::Str(TOKEN_SYMBOL.into()),
        Arg::Uint(TOKEN_DECIMALS.into()),
    ];
    let codes = [
        ("Token", token_abi.deploy_code(&token_args)),
        ("Splitter", splitter_abi.deploy_code(&[])),
        (
            "MixerPool",
            pool_abi.deploy_code(&[Arg::Uint(DENOMINATION)]),
        ),
        ("Reverter", reverter_abi.deploy_code(&[])),
    ];
    let mut hashes = Vec::new();
    for (name, code) in codes {
        let request = TxRequest::deploy(DEPLOYER, code, GAS_DEPLOY);
        hashes.push(p.send("deploy", &format!("deploy {name}"), request)?);
    }
    p.mine()?;
    let mut addresses = Vec::new();
    for hash in &hashes {
        let created = p.receipt(hash)?.contract_address;
        addresses.push(
            created.ok_or_else(|| scenario_err("deploy", format!("{hash} created no contract")))?,
        );
    }
    Ok(Deployed {
        token: addresses[0],
        splitter: addresses[1],
        pool: addresses[2],
        reverter: addresses[3],
        token_abi,
        splitter_abi,
        pool_abi,
        reverter_abi,
    })
}

impl Deployed {
    pub(crate) fn pool_abi(&self) -> &Artifact {
        &self.pool_abi
    }

    pub(crate) fn token_calldata(&self, sig: &str, args: &[Arg]) -> Result<Vec<u8>> {
        self.token_abi.calldata(sig, args)
    }

    /// `token.transfer(to, amount)` from `from`, recorded as a token flow.
    fn token_transfer(
        &self,
        p: &mut Play<'_>,
        step: &str,
        (from, to, amount): (Address, Address, u128),
        tip: u128,
        funds: &str,
    ) -> Result<String> {
        let data = self.token_calldata(
            "transfer(address,uint256)",
            &[Arg::Address(to), Arg::Uint(amount)],
        )?;
        let description = format!("{} {TOKEN_SYMBOL} {from} -> {to}", amount / USD);
        let hash = p.send(
            step,
            &description,
            call(from, self.token, data, GAS_TOKEN, tip),
        )?;
        p.flow(&hash, step, token_flow(from, to, amount, funds));
        Ok(hash)
    }

    fn mint(&self, p: &mut Play<'_>, to: Address, amount: u128) -> Result<()> {
        let data = self.token_calldata(
            "mint(address,uint256)",
            &[Arg::Address(to), Arg::Uint(amount)],
        )?;
        let description = format!("mint {} {TOKEN_SYMBOL} to {to}", amount / USD);
        let request = call(DEPLOYER, self.token, data, GAS_TOKEN, TIP_BACKGROUND);
        let hash = p.send("setup", &description, request)?;
        p.flow(
            &hash,
            "setup",
            token_flow(Address::ZERO, to, amount, "clean"),
        );
        Ok(())
    }

    /// `pool.deposit(commitment)` with one denomination, under the next note's commitment.
    fn deposit(
        &self,
        p: &mut Play<'_>,
        notes: &mut Notes,
        (depositor, owner, tip): (Address, &str, u128),
    ) -> Result<()> {
        let n = notes.deposits.len() as u64 + 1;
        let c = commitment(n);
        let data = self
            .pool_abi
            .calldata("deposit(bytes32)", &[Arg::Word(c)])?;
        let request = call(depositor, self.pool, data, GAS_DEPOSIT, tip).with_value(DENOMINATION);
        let step = "mixer-deposit";
        let hash = p.send(
            step,
            &format!("{owner} deposits 1 ETH into the pool"),
            request,
        )?;
        let funds = if owner == "thief" { "stolen" } else { "clean" };
        p.flow(
            &hash,
            step,
            eth_flow(Kind::Tx, depositor, self.pool, DENOMINATION, funds),
        );
        notes.deposits.push(MixerDeposit {
            tx: hash,
            block_number: 0,
            depositor,
            commitment: hex32(&c),
            leaf_index: (n - 1) as u32,
            owner: owner.to_owned(),
        });
        Ok(())
    }

    /// Withdraws the note of deposit `index` (0-based) to `recipient`. Relayed when `relayer`
    /// is not zero: the relayer sends the transaction and keeps [`RELAYER_FEE`].
    fn withdraw(
        &self,
        p: &mut Play<'_>,
        notes: &mut Notes,
        index: usize,
        (recipient, relayer): (Address, Address),
    ) -> Result<()> {
        let deposit = notes
            .deposits
            .get(index)
            .cloned()
            .ok_or_else(|| scenario_err("mixer-withdrawal", format!("no deposit #{index}")))?;
        let self_relayed = relayer == Address::ZERO;
        let (sender, fee, tip) = if self_relayed {
            (recipient, 0, TIP_BACKGROUND)
        } else {
            (relayer, RELAYER_FEE, TIP_RELAYER)
        };
        let n = index as u64 + 1;
        let nh = nullifier(n);
        let data = self.pool_abi.calldata(
            "withdraw(bytes,bytes32,bytes32,address,address,uint256,uint256)",
            &[
                Arg::Bytes(fake_proof(n)),
                Arg::Word(Rng::derive(SEED, 0x5_0000 + n).bytes()),
                Arg::Word(nh),
                Arg::Address(recipient),
                Arg::Address(relayer),
                Arg::Uint(fee),
                Arg::Uint(0),
            ],
        )?;
        let step = "mixer-withdrawal";
        let description = format!("{} withdraws a note to {recipient}", deposit.owner);
        let hash = p.send(
            step,
            &description,
            call(sender, self.pool, data, GAS_WITHDRAW, tip),
        )?;
        let pay = DENOMINATION - fee;
        p.flow(
            &hash,
            step,
            eth_flow(Kind::Internal, self.pool, recipient, pay, "mixer"),
        );
        if fee > 0 {
            p.flow(
                &hash,
                step,
                eth_flow(Kind::Internal, self.pool, relayer, fee, "mixer"),
            );
        }
        notes.withdrawals.push(MixerWithdrawal {
            tx: hash,
            block_number: 0,
            sender,
            recipient,
            relayer,
            fee_wei: fee,
            nullifier_hash: hex32(&nh),
            deposit_commitment: deposit.commitment,
            owner: deposit.owner,
            self_relayed,
        });
        Ok(())
    }
}

fn eth_flow(kind: Kind, from: Address, to: Address, amount: u128, funds: &str) -> Flow<'_> {
    Flow {
        asset: "ETH",
        kind,
        from,
        to,
        amount,
        moved: true,
        funds,
    }
}

fn token_flow(from: Address, to: Address, amount: u128, funds: &str) -> Flow<'_> {
    Flow {
        asset: TOKEN_SYMBOL,
        kind: Kind::Token,
        from,
        to,
        amount,
        moved: true,
        funds,
    }
}

/// Block 2: token supply for the exchange and a user; ordinary clean payments.
fn setup(p: &mut Play<'_>, d: &Deployed) -> Result<()> {
    d.mint(p, HOT_WALLET, 5_000_000 * USD)?;
    d.mint(p, BACKGROUND[0], 100_000 * USD)?;
    let bg = |i: usize| BACKGROUND[i];
    p.transfer(
        "background",
        (bg(0), HOT_WALLET, 25 * ETHER),
        TIP_BACKGROUND,
        "clean",
        "customer deposit into Bitvault",
    )?;
    p.transfer(
        "background",
        (bg(1), bg(2), 3 * ETHER),
        TIP_BACKGROUND,
        "clean",
        "payment",
    )?;
    p.mine().map(drop)
}

/// Block 3: two bystanders use the mixer, the OTC desk gets its clean balance, Bitvault pays
/// an ordinary withdrawal, a token payment.
fn background(p: &mut Play<'_>, d: &Deployed, out: &mut Outcome) -> Result<()> {
    d.deposit(
        p,
        &mut out.notes,
        (BACKGROUND[1], "background", TIP_BACKGROUND),
    )?;
    d.deposit(
        p,
        &mut out.notes,
        (BACKGROUND[2], "background", TIP_BACKGROUND),
    )?;
    let otc_in = p.transfer(
        "commingle",
        (BACKGROUND[3], OTC_DESK, 6 * ETHER),
        TIP_BACKGROUND,
        "clean",
        "the OTC desk's clean balance",
    )?;
    out.commingling.push(commingle_event(
        &otc_in,
        "in",
        BACKGROUND[3],
        6 * ETHER,
        "clean",
    ));
    p.transfer(
        "background",
        (HOT_WALLET, BACKGROUND[4], 10 * ETHER),
        TIP_EXCHANGE,
        "clean",
        "ordinary Bitvault withdrawal",
    )?;
    let pay = (BACKGROUND[0], BACKGROUND[3], 5_000 * USD);
    d.token_transfer(p, "background", pay, TIP_BACKGROUND, "clean")?;
    p.mine().map(drop)
}

/// Block 4: the theft, 200 ETH and 400,000 CUSD from the hot wallet.
fn theft(p: &mut Play<'_>, d: &Deployed, out: &mut Outcome) -> Result<()> {
    out.theft_eth_tx = p.transfer(
        "theft",
        (HOT_WALLET, THIEF, 200 * ETHER),
        TIP_EXCHANGE,
        "stolen",
        "theft: 200 ETH from the Bitvault hot wallet",
    )?;
    let stolen = (HOT_WALLET, THIEF, 400_000 * USD);
    out.theft_token_tx = d.token_transfer(p, "theft", stolen, TIP_EXCHANGE, "stolen")?;
    p.mine().map(drop)
}

/// Block 5: the theft address fans out to fresh hops.
fn first_hops(p: &mut Play<'_>, d: &Deployed) -> Result<()> {
    for (to, eth) in [(HOP1, 80), (HOP2, 60), (HOP3, 40), (TOKEN_HOP, 2)] {
        p.transfer(
            "hop",
            (THIEF, to, eth * ETHER),
            TIP_THIEF,
            "stolen",
            "first-layer hop",
        )?;
    }
    d.token_transfer(
        p,
        "token-hop",
        (THIEF, TOKEN_HOP, 400_000 * USD),
        TIP_THIEF,
        "stolen",
    )?;
    p.mine().map(drop)
}

/// Block 6: the Splitter fans 79.9 ETH out with internal calls; a second hop; an innocent
/// exchange deposit.
fn split(p: &mut Play<'_>, d: &Deployed) -> Result<()> {
    let amounts = [30 * ETHER, 25 * ETHER, 20 * ETHER, 49 * ETHER / 10];
    let total: u128 = amounts.iter().sum();
    let data = d.splitter_abi.calldata(
        "split(address[],uint256[])",
        &[Arg::Addresses(SPLIT.to_vec()), Arg::Uints(amounts.to_vec())],
    )?;
    let request = call(HOP1, d.splitter, data, GAS_SPLIT, TIP_THIEF).with_value(total);
    let hash = p.send(
        "split",
        "79.9 ETH through the Splitter to four addresses",
        request,
    )?;
    p.flow(
        &hash,
        "split",
        eth_flow(Kind::Tx, HOP1, d.splitter, total, "stolen"),
    );
    for (to, amount) in SPLIT.into_iter().zip(amounts) {
        p.flow(
            &hash,
            "split",
            eth_flow(Kind::Internal, d.splitter, to, amount, "stolen"),
        );
    }
    p.transfer(
        "hop",
        (HOP2, HOP5, 5999 * ETHER / 100),
        TIP_THIEF,
        "stolen",
        "second hop",
    )?;
    p.transfer(
        "background",
        (BACKGROUND[4], NB_CUSTOMER, 4 * ETHER),
        TIP_BACKGROUND,
        "clean",
        "customer deposit at Northbank",
    )?;
    p.mine().map(drop)
}

/// Block 7: a failed deposit (wrong amount, status 0), a successful call whose reverted
/// subtree tried to pay the decoy, and token hops.
fn failed_and_reverted(p: &mut Play<'_>, d: &Deployed) -> Result<()> {
    let data = d
        .pool_abi
        .calldata("deposit(bytes32)", &[Arg::Word(commitment(999))])?;
    let bad = call(SPLIT[0], d.pool, data, GAS_DEPOSIT, TIP_THIEF).with_value(3 * ETHER / 2);
    let step = "failed-tx";
    let hash = p.send_failing(step, "deposit of 1.5 ETH into the 1 ETH pool: reverts", bad)?;
    let mut flow = eth_flow(Kind::Tx, SPLIT[0], d.pool, 3 * ETHER / 2, "stolen");
    flow.moved = false;
    p.flow(&hash, step, flow);
    reverted_call(p, d)?;
    d.token_transfer(
        p,
        "token-hop",
        (TOKEN_HOP, TOKEN_HOP2, 250_000 * USD),
        TIP_THIEF,
        "stolen",
    )?;
    let approve = d.token_calldata(
        "approve(address,uint256)",
        &[Arg::Address(d.splitter), Arg::Uint(150_000 * USD)],
    )?;
    let request = call(TOKEN_HOP, d.token, approve, GAS_TOKEN, TIP_THIEF);
    p.send(
        "token-hop",
        "approve the Splitter for 150,000 CUSD",
        request,
    )?;
    p.mine().map(drop)
}

/// `Reverter.attempt{10 ETH}(decoy, recipient)`: the decoy's payment is undone.
fn reverted_call(p: &mut Play<'_>, d: &Deployed) -> Result<()> {
    let amount = 10 * ETHER;
    let data = d.reverter_abi.calldata(
        "attempt(address,address)",
        &[Arg::Address(DECOY), Arg::Address(AFTER_REVERT)],
    )?;
    let request = call(SPLIT[1], d.reverter, data, GAS_REVERTER, TIP_THIEF).with_value(amount);
    let step = "reverted-call";
    let description = "10 ETH via the Reverter: the decoy payment reverts, the recipient is paid";
    let hash = p.send(step, description, request)?;
    p.flow(
        &hash,
        step,
        eth_flow(Kind::Tx, SPLIT[1], d.reverter, amount, "stolen"),
    );
    for (from, to, moved) in [
        (d.reverter, d.reverter, false),
        (d.reverter, DECOY, false),
        (d.reverter, AFTER_REVERT, true),
    ] {
        let mut flow = eth_flow(Kind::Internal, from, to, amount, "stolen");
        flow.moved = moved;
        p.flow(&hash, step, flow);
    }
    Ok(())
}

/// Block 8: five thief deposits into the pool, one bystander deposit, a token split.
fn token_split_and_deposits(p: &mut Play<'_>, d: &Deployed, out: &mut Outcome) -> Result<()> {
    for _ in 0..5 {
        d.deposit(p, &mut out.notes, (SPLIT[0], "thief", TIP_THIEF))?;
    }
    d.deposit(
        p,
        &mut out.notes,
        (BACKGROUND[3], "background", TIP_BACKGROUND),
    )?;
    let to = [TOKEN_HOP3, NB_THIEF];
    let amounts = [100_000 * USD, 50_000 * USD];
    let data = d.splitter_abi.calldata(
        "splitToken(address,address[],uint256[])",
        &[
            Arg::Address(d.token),
            Arg::Addresses(to.to_vec()),
            Arg::Uints(amounts.to_vec()),
        ],
    )?;
    let request = call(TOKEN_HOP, d.splitter, data, GAS_SPLIT, TIP_THIEF);
    let step = "token-split";
    let hash = p.send(
        step,
        "150,000 CUSD split by transferFrom: hop and Northbank",
        request,
    )?;
    for (to, amount) in to.into_iter().zip(amounts) {
        p.flow(&hash, step, token_flow(TOKEN_HOP, to, amount, "stolen"));
    }
    p.mine().map(drop)
}

/// Block 9: five more thief deposits and a bystander deposit.
fn more_deposits(p: &mut Play<'_>, d: &Deployed, out: &mut Outcome) -> Result<()> {
    for _ in 0..5 {
        d.deposit(p, &mut out.notes, (SPLIT[2], "thief", TIP_THIEF))?;
    }
    d.deposit(
        p,
        &mut out.notes,
        (BACKGROUND[4], "background", TIP_BACKGROUND),
    )?;
    p.mine().map(drop)
}

fn commingle_event(tx: &str, dir: &str, other: Address, wei: u128, funds: &str) -> CommingleEvent {
    CommingleEvent {
        tx: tx.to_owned(),
        block_number: 0,
        direction: dir.to_owned(),
        counterparty: other,
        amount_wei: wei,
        gas_fee_wei: 0,
        funds: funds.to_owned(),
    }
}

/// Blocks 10-13: the OTC desk (6 ETH clean since block 3) takes 12 ETH stolen, pays 8 ETH to
/// its Northbank account, takes 7.84 ETH clean, and pays 14 ETH to its Keyport account.
fn commingle(p: &mut Play<'_>, out: &mut Outcome) -> Result<()> {
    let steps = [
        (
            HOP5,
            OTC_DESK,
            12 * ETHER,
            TIP_THIEF,
            "stolen",
            "stolen ETH into the OTC desk",
        ),
        (
            OTC_DESK,
            NB_OTC,
            8 * ETHER,
            TIP_OTC,
            "commingled",
            "OTC desk to its Northbank account",
        ),
        (
            BACKGROUND[2],
            OTC_DESK,
            784 * ETHER / 100,
            TIP_BACKGROUND,
            "clean",
            "clean inflow",
        ),
        (
            OTC_DESK,
            KP_OTC,
            14 * ETHER,
            TIP_OTC,
            "commingled",
            "OTC desk to its Keyport account",
        ),
    ];
    for (from, to, amount, tip, funds, description) in steps {
        let hash = p.transfer("commingle", (from, to, amount), tip, funds, description)?;
        let (dir, other) = if to == OTC_DESK {
            ("in", from)
        } else {
            ("out", to)
        };
        out.commingling
            .push(commingle_event(&hash, dir, other, amount, funds));
        p.mine()?;
    }
    Ok(())
}

/// Withdrawal order of the thief's ten notes (indexes into its deposits): not the deposit
/// order, so matching by order finds nothing.
const THIEF_WITHDRAW_ORDER: [usize; 10] = [3, 7, 0, 9, 5, 1, 8, 2, 6, 4];

/// Blocks 16-17: the relayer withdraws the thief's ten notes to ten fresh addresses; one
/// bystander withdraws its note itself, another through the relayer.
fn withdrawals(p: &mut Play<'_>, d: &Deployed, out: &mut Outcome) -> Result<()> {
    let thief_notes: Vec<usize> = (0..out.notes.deposits.len())
        .filter(|&i| out.notes.deposits[i].owner == "thief")
        .collect();
    let background: Vec<usize> = (0..out.notes.deposits.len())
        .filter(|&i| out.notes.deposits[i].owner != "thief")
        .collect();
    for (k, &order) in THIEF_WITHDRAW_ORDER.iter().enumerate() {
        let note = *thief_notes.get(order).ok_or_else(|| {
            scenario_err("mixer-withdrawal", format!("thief has no note #{order}"))
        })?;
        let recipient = withdrawal_recipient(k as u16 + 1);
        d.withdraw(p, &mut out.notes, note, (recipient, RELAYER))?;
        if k == 4 {
            d.withdraw(
                p,
                &mut out.notes,
                background[0],
                (BACKGROUND[1], Address::ZERO),
            )?;
            p.mine()?;
        }
    }
    d.withdraw(
        p,
        &mut out.notes,
        background[1],
        (BACKGROUND_FRESH, RELAYER),
    )?;
    p.mine().map(drop)
}

/// Block 18: withdrawn ETH and a split output reach the thief's exchange accounts.
fn cash_out(p: &mut Play<'_>) -> Result<()> {
    let pay = DENOMINATION - RELAYER_FEE - ETHER / 100;
    for i in 1..=8u16 {
        let to = if i <= 5 { KP_THIEF } else { NB_THIEF };
        let description = "mixer withdrawal to the thief's exchange account";
        p.transfer(
            "exchange-deposit",
            (withdrawal_recipient(i), to, pay),
            TIP_THIEF,
            "mixer",
            description,
        )?;
    }
    p.transfer(
        "exchange-deposit",
        (SPLIT[3], KP_THIEF, 48 * ETHER / 10),
        TIP_THIEF,
        "stolen",
        "split output to the thief's Keyport account",
    )?;
    p.mine().map(drop)
}

/// Block 19: more innocent traffic after the laundering.
fn tail(p: &mut Play<'_>) -> Result<()> {
    p.transfer(
        "background",
        (BACKGROUND[0], NB_CUSTOMER, ETHER),
        TIP_BACKGROUND,
        "clean",
        "customer deposit at Northbank",
    )?;
    p.transfer(
        "background",
        (BACKGROUND[3], BACKGROUND[4], ETHER / 2),
        TIP_BACKGROUND,
        "clean",
        "payment",
    )?;
    p.mine().map(drop)
}

/// Block numbers and the desk's gas are known only once mined.
fn fill_blocks(p: &Play<'_>, out: &mut Outcome) -> Result<()> {
    for dep in &mut out.notes.deposits {
        dep.block_number = p.receipt(&dep.tx)?.block_number;
    }
    for w in &mut out.notes.withdrawals {
        w.block_number = p.receipt(&w.tx)?.block_number;
    }
    for e in &mut out.commingling {
        let r = p.receipt(&e.tx)?;
        e.block_number = r.block_number;
        if e.direction == "out" {
            e.gas_fee_wei = r.fee();
        }
    }
    Ok(())
}
