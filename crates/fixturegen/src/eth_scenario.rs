//! An Ethereum theft-and-laundering scenario played on a real node ([`crate::anvil::Anvil`]),
//! with its ground truth ([`EthManifest`]) and a label file.
//!
//! # The story
//!
//! Actors have fixed addresses (see the table in `cast.rs`: `0xb17a…` Bitvault, `0x7e1f…` the
//! thief, `0xc1ea…` bystanders, …). Exchanges, bystanders, the relayer and the deployer are
//! funded with `anvil_setBalance` before block 1; **no thief address ever gets balance except
//! by a transaction of the story**, so all its ETH is traceable. Every transaction pays real
//! gas (base fee burnt, tip to the coinbase `0xfee0…0001`). One block per step, 12 s apart:
//!
//! 1. The deployer deploys `Token` (Chaintrace USD, CUSD, 6 decimals), `Splitter`,
//!    `MixerPool` (1 ETH, Tornado-shaped events) and `Reverter`.
//! 2. Mints: 5,000,000 CUSD to the Bitvault hot wallet, 100,000 CUSD to background1. A
//!    customer deposits 25 ETH into Bitvault; a clean 3 ETH payment.
//! 3. Two bystanders deposit 1 ETH each into the pool; background4 pays the **OTC desk** 6 ETH
//!    (its clean balance); Bitvault pays an ordinary 10 ETH withdrawal; a 5,000 CUSD payment.
//! 4. **Theft**: the hot wallet sends 200 ETH and 400,000 CUSD to the thief (two txs).
//! 5. Hops: thief → hop1 80 ETH, hop2 60, hop3 40 (dormant), token hop 2 ETH (gas money) and
//!    400,000 CUSD.
//! 6. **Split**: hop1 calls `Splitter.split` with 79.9 ETH; internal CALLs pay split1..4
//!    30 / 25 / 20 / 4.9 ETH. hop2 → hop5 59.99 ETH. A customer deposits 4 ETH at Northbank.
//! 7. **Failed tx**: split1 sends 1.5 ETH to `deposit` of the 1 ETH pool: status 0, only gas
//!    moves. **Reverted internal call**: split2 sends 10 ETH to `Reverter.attempt`; inside,
//!    a reverted frame pays the decoy 10 ETH (undone), then the Reverter pays
//!    `thief.after_revert` 10 ETH. Token hop → token2 250,000 CUSD; token hop approves the
//!    Splitter for 150,000 CUSD.
//! 8. **Mixer deposits**: split1 deposits 5 × 1 ETH; a bystander deposits 1 ETH;
//!    `Splitter.splitToken` moves 100,000 CUSD to token3 and 50,000 CUSD to the thief's
//!    Northbank deposit address (`Transfer` logs name the token hop as `from`).
//! 9. split3 deposits 5 × 1 ETH; a bystander deposits 1 ETH.
//! 10. **Commingling**: hop5 pays the OTC desk 12 ETH stolen (on top of its 6 ETH clean).
//! 11. The desk pays 8 ETH to its Northbank deposit address.
//! 12. A bystander pays the desk 7.84 ETH clean.
//! 13. The desk pays 14 ETH to its Keyport deposit address. Haircut, FIFO and LIFO disagree
//!     on both payments.
//! 14. –15. Empty blocks.
//! 16. **Withdrawals**: the relayer withdraws five of the thief's notes (not in deposit order)
//!     to fresh addresses `thief.w01..w05`, 0.99 ETH each plus 0.01 ETH fee to itself; a
//!     bystander withdraws its own note to itself (self-relayed, fee 0).
//! 17. The relayer withdraws the other five thief notes to `thief.w06..w10` and a bystander's
//!     note to a fresh bystander address. Two bystander notes stay in the pool (2 ETH).
//! 18. **Exchange deposits**: w01..w05 pay 0.98 ETH each to the thief's Keyport deposit
//!     address, w06..w08 to its Northbank one; split4 pays Keyport 4.8 ETH. w09, w10 keep
//!     their 0.99 ETH.
//! 19. Bystander traffic: a 1 ETH customer deposit at Northbank, a 0.5 ETH payment.
//! 20. –28. **Linking heuristics**, appended so that every fact above stays true: a 0.1 ETH
//!     pool, and deposits and withdrawals by fresh actors (funded with `anvil_setBalance` just
//!     before block 20) that exercise each Tornado Cash heuristic of tracing spec §5.2 — address
//!     reuse (H1), unique gas price (H2, legacy and EIP-1559), linked addresses (H3),
//!     multi-denomination portfolios within 24 h of block time (H4), anonymity-point claims
//!     (H5) — with relayed withdrawals and decoys none may link. The script is in
//!     `eth_scenario/tornado.rs`; the manifest's `tornado` section lists every deposit and
//!     withdrawal of both pools and the exact expected links.
//!
//! Exact amounts, gas, the deposit↔withdrawal pairs and the final balances are in the
//! manifest; [`write()`] stores it as `eth_scenario.json` next to `eth_scenario.tagpack.yaml`,
//! the pool registry `tornado_pools.json` and the anonymity-point claims `ap_claims.csv`.

mod abi;
mod cast;
pub mod manifest;
mod play;
pub mod record;
mod story;
mod tagpack;
mod tornado;
pub mod traffic;

use std::fs;
use std::io;
use std::path::Path;

use crate::anvil::{Address, Anvil, Result, ANVIL_VERSION};

pub use manifest::*;

use abi::Arg;
use cast::*;
use play::{scenario_err, Play};
use story::{Deployed, Outcome};

/// topic0 of `Deposit(bytes32 indexed commitment, uint32 leafIndex, uint256 timestamp)`.
pub const DEPOSIT_TOPIC0: &str =
    "0xa945e51eec50ab98c161376f0db4cf2aeba3ec92755fe2fcd388bdbbb80ff196";
/// topic0 of `Withdrawal(address to, bytes32 nullifierHash, address indexed relayer, uint256 fee)`.
pub const WITHDRAWAL_TOPIC0: &str =
    "0xe9e508bad6d4c3227e881ca19068f099da81b5164dd6d62b2eaf1e8bc6c34931";
/// topic0 of ERC-20 `Transfer(address,address,uint256)`.
pub const TRANSFER_TOPIC0: &str =
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/// Version of the [`EthManifest`] layout.
pub const FORMAT: u32 = 1;

/// Plays the scenario on `anvil`, which must be fresh (only genesis) and started with the
/// default [`crate::anvil::AnvilOptions`] for the documented hashes. Returns the ground truth.
pub fn run(anvil: &Anvil) -> Result<EthManifest> {
    let tip = anvil.block_number()?;
    if tip != 0 {
        return Err(scenario_err(
            "start",
            format!("needs a fresh node, but {} is at block {tip}", anvil.url()),
        ));
    }
    let mut p = Play::new(anvil);
    let (deployed, outcome) = story::play(&mut p)?;
    build_manifest(&p, &deployed, outcome)
}

/// Writes `dir/eth_scenario.json`, `dir/eth_scenario.tagpack.yaml`, the pool registry
/// `dir/tornado_pools.json` and the anonymity-point claims `dir/ap_claims.csv`.
pub fn write(dir: &Path, manifest: &EthManifest) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(manifest).map_err(io::Error::other)?;
    fs::write(dir.join("eth_scenario.json"), json + "\n")?;
    fs::write(dir.join("eth_scenario.tagpack.yaml"), tagpack(manifest))?;
    fs::write(dir.join(TORNADO_POOLS), tornado_registry(manifest))?;
    fs::write(dir.join(AP_CLAIMS), ap_claims_csv(manifest))
}

/// File name of the scenario's pool registry (`{"0x…": "1 ETH"}`).
pub const TORNADO_POOLS: &str = "tornado_pools.json";
/// File name of the scenario's anonymity-point claims (`address,block,ap`).
pub const AP_CLAIMS: &str = "ap_claims.csv";

/// The scenario's pools in the format of `fixtures/labels/eth/tornado_pools.json`.
pub fn tornado_registry(manifest: &EthManifest) -> String {
    tornado::registry(&manifest.tornado)
}

/// The scenario's anonymity-point claims as CSV with header `address,block,ap`.
pub fn ap_claims_csv(manifest: &EthManifest) -> String {
    tornado::claims_csv(&manifest.tornado)
}

/// File name of the recorded node answers (see [`record::record_chain`]).
pub const RECORDING: &str = "eth_scenario.rpc.json";

/// Writes what `anvil` answers about its chain to `dir/eth_scenario.rpc.json`, one pair per
/// line so that diffs stay readable.
pub fn write_recording(dir: &Path, anvil: &Anvil) -> Result<()> {
    let pairs = record::record_chain(anvil)?;
    let lines: Vec<String> = pairs
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p.to_string())
        .collect();
    let text = format!("[\n{}\n]\n", lines.join(",\n"));
    fs::create_dir_all(dir)
        .and_then(|()| fs::write(dir.join(RECORDING), text))
        .map_err(|e| scenario_err("record", format!("writing {}: {e}", dir.display())))
}

/// The scenario's labels as a TagPack: exchanges, the mixer pool and the theft address.
pub fn tagpack(manifest: &EthManifest) -> String {
    tagpack::render(manifest)
}

fn build_manifest(p: &Play<'_>, d: &Deployed, out: Outcome) -> Result<EthManifest> {
    let anvil = p.anvil;
    let genesis = anvil.block(Some(0))?;
    let tip = anvil.block(None)?;
    let addresses = named_addresses(d, out.tornado.small_pool);
    let theft_receipt = p.receipt(&out.theft_eth_tx)?;
    let tornado = tornado::truth(p, d, &out.notes, &out.tornado)?;
    let truth = GroundTruth {
        theft: Theft {
            victim: HOT_WALLET,
            thief: THIEF,
            eth_tx: out.theft_eth_tx.clone(),
            token_tx: out.theft_token_tx.clone(),
            block_number: theft_receipt.block_number,
            eth_wei: 200 * crate::anvil::ETHER,
            token_units: 400_000 * USD,
        },
        transfers: p.transfers.clone(),
        mixer: mixer_truth(d, &out),
        exchange_deposits: exchange_deposits(p),
        commingling: Commingling {
            account: OTC_DESK,
            events: out.commingling,
        },
        final_balances: final_balances(anvil, d, &addresses)?,
    };
    Ok(EthManifest {
        format: FORMAT,
        chain_id: crate::anvil::CHAIN_ID,
        story: STORY.to_owned(),
        conventions: CONVENTIONS.to_owned(),
        chain: EthChainFacts {
            tip_number: tip.number,
            tip_hash: tip.hash,
            genesis_hash: genesis.hash,
            genesis_timestamp: genesis.timestamp,
            block_time: anvil.block_time(),
            coinbase: tip.miner,
            anvil_version: ANVIL_VERSION.to_owned(),
            hardfork: "prague".to_owned(),
        },
        contracts: Contracts {
            deployer: DEPLOYER,
            token: TokenInfo {
                address: d.token,
                name: TOKEN_NAME.to_owned(),
                symbol: TOKEN_SYMBOL.to_owned(),
                decimals: TOKEN_DECIMALS,
            },
            splitter: d.splitter,
            mixer_pool: PoolInfo {
                address: d.pool,
                denomination_wei: DENOMINATION,
                deposit_topic0: DEPOSIT_TOPIC0.to_owned(),
                withdrawal_topic0: WITHDRAWAL_TOPIC0.to_owned(),
            },
            reverter: d.reverter,
        },
        addresses,
        blocks: p.blocks.clone(),
        txs: p.txs.clone(),
        truth,
        tornado,
    })
}

/// The label and category an investigator would have for an address, if any.
fn label_of(
    address: Address,
    d: &Deployed,
    small_pool: Address,
) -> Option<(&'static str, &'static str)> {
    match address {
        HOT_WALLET => Some((BITVAULT, "exchange")),
        NB_THIEF | NB_OTC | NB_CUSTOMER => Some((NORTHBANK, "exchange")),
        KP_THIEF | KP_OTC => Some((KEYPORT, "exchange")),
        THIEF => Some(("Bitvault Exchange hack", "theft")),
        a if a == d.pool => Some(("MixerPool 1 ETH", "mixer")),
        a if a == small_pool => Some(("MixerPool 0.1 ETH", "mixer")),
        _ => None,
    }
}

fn named_addresses(d: &Deployed, small_pool: Address) -> Vec<NamedAddress> {
    let prefunded = |a: Address| {
        let story = PREFUND.iter().find(|(p, _)| *p == a).map(|(_, w)| *w);
        let tornado = tornado::ACTORS.iter().find(|t| t.0 == a).map(|t| t.3);
        story.or(tornado).unwrap_or(0)
    };
    let mut actors: Vec<(Address, String, String, String)> = actors()
        .into_iter()
        .map(|a| (a.address, a.name.into(), a.role.into(), a.owner.into()))
        .collect();
    for i in 1..=10u16 {
        let role = "fresh recipient of a mixer withdrawal";
        actors.push((
            withdrawal_recipient(i),
            withdrawal_name(i),
            role.into(),
            "thief".into(),
        ));
    }
    let contracts = [
        (d.token, "token", "ERC-20 Chaintrace USD (CUSD)"),
        (d.splitter, "splitter", "pass-through forwarder"),
        (d.pool, "mixer_pool", "Tornado-style 1 ETH pool"),
        (d.reverter, "reverter", "makes a reverted internal call"),
    ];
    for (address, name, role) in contracts {
        actors.push((address, name.into(), role.into(), "contract".into()));
    }
    let coinbase = crate::anvil::DEFAULT_COINBASE;
    actors.push((
        coinbase,
        "coinbase".into(),
        "block fee recipient".into(),
        "validator".into(),
    ));
    actors.push((
        small_pool,
        "mixer_pool_small".into(),
        "Tornado-style 0.1 ETH pool".into(),
        "contract".into(),
    ));
    for (address, name, role, _) in tornado::ACTORS {
        actors.push((address, name.into(), role.into(), "tornado user".into()));
    }
    actors
        .into_iter()
        .map(|(address, name, role, owner)| {
            let label = label_of(address, d, small_pool);
            NamedAddress {
                address,
                name,
                role,
                owner,
                label: label.map(|(l, _)| l.to_owned()),
                category: label.map(|(_, c)| c.to_owned()),
                prefunded_wei: prefunded(address),
            }
        })
        .collect()
}

fn mixer_truth(d: &Deployed, out: &Outcome) -> MixerTruth {
    let spent: Vec<&String> = out
        .notes
        .withdrawals
        .iter()
        .map(|w| &w.deposit_commitment)
        .collect();
    MixerTruth {
        pool: d.pool,
        denomination_wei: DENOMINATION,
        deposits: out.notes.deposits.clone(),
        withdrawals: out.notes.withdrawals.clone(),
        unspent_commitments: out
            .notes
            .deposits
            .iter()
            .map(|dep| dep.commitment.clone())
            .filter(|c| !spent.contains(&c))
            .collect(),
    }
}

/// Exchange and account owner of a deposit address.
fn deposit_account(address: Address) -> Option<(&'static str, &'static str)> {
    match address {
        NB_THIEF => Some((NORTHBANK, "thief")),
        NB_OTC => Some((NORTHBANK, "otc desk")),
        NB_CUSTOMER => Some((NORTHBANK, "background")),
        KP_THIEF => Some((KEYPORT, "thief")),
        KP_OTC => Some((KEYPORT, "otc desk")),
        _ => None,
    }
}

fn exchange_deposits(p: &Play<'_>) -> Vec<ExchangeDeposit> {
    p.transfers
        .iter()
        .filter(|t| t.moved)
        .filter_map(|t| {
            let (exchange, owner) = deposit_account(t.to)?;
            Some(ExchangeDeposit {
                exchange: exchange.to_owned(),
                deposit_address: t.to,
                account_owner: owner.to_owned(),
                tx: t.tx.clone(),
                block_number: p.receipts.get(&t.tx).map_or(0, |r| r.block_number),
                from: t.from,
                asset: t.asset.clone(),
                amount: t.amount,
                funds: t.funds.clone(),
            })
        })
        .collect()
}

fn final_balances(anvil: &Anvil, d: &Deployed, addresses: &[NamedAddress]) -> Result<Vec<Holding>> {
    addresses
        .iter()
        .map(|named| {
            Ok(Holding {
                address: named.address,
                name: named.name.clone(),
                eth_wei: anvil.balance(named.address)?,
                token_units: token_balance(anvil, d, named.address)?,
            })
        })
        .collect()
}

fn token_balance(anvil: &Anvil, d: &Deployed, who: Address) -> Result<u128> {
    let data = d.token_calldata("balanceOf(address)", &[Arg::Address(who)])?;
    let word = anvil.call(d.token, &data)?;
    let high_zero = word.len() == 32 && word[..16].iter().all(|b| *b == 0);
    if !high_zero {
        return Err(scenario_err(
            "final-balances",
            format!(
                "balanceOf({who}) returned {} bytes or more than u128",
                word.len()
            ),
        ));
    }
    let mut low = [0u8; 16];
    low.copy_from_slice(&word[16..]);
    Ok(u128::from_be_bytes(low))
}

const STORY: &str = "Bitvault Exchange's hot wallet (0xb17a…0001) loses 200 ETH and 400,000 CUSD \
to the thief (0x7e1f…0001) in block 4. The thief hops the ETH to fresh addresses, splits 79.9 ETH \
through a Splitter contract (internal calls), makes a failed 1.5 ETH pool deposit (status 0) and a \
call whose reverted subtree tries to pay a decoy, moves the tokens through hops and a splitToken \
(transferFrom) to a Northbank deposit address, deposits 10 × 1 ETH into a Tornado-style pool among \
4 bystander deposits, and has a relayer withdraw all 10 notes to fresh addresses (0.01 ETH fee \
each), 8 of which pay 0.98 ETH into its Keyport and Northbank deposit addresses. 12 ETH stolen \
reach an OTC desk that already held 6 ETH clean; it pays 8 ETH to Northbank, receives 7.84 ETH \
clean, and pays 14 ETH to Keyport. Blocks 20-28 add a 0.1 ETH pool and clean pool users whose \
deposits and withdrawals exercise each Tornado Cash linking heuristic (H1-H5) and decoys that none \
may link (see the tornado section). See the eth_scenario module docs for the block-by-block \
script.";

const CONVENTIONS: &str = "Addresses are lowercase 0x hex. Amounts are decimal strings in base \
units: wei for ETH, 1e-6 for CUSD (6 decimals). Each tx pays fee_wei = gas_used × \
effective_gas_price_wei, of which burnt_wei = gas_used × base_fee_per_gas_wei is burnt and tip_wei \
goes to the coinbase; value transfers in truth.transfers exclude gas. moved=false marks value that \
a failed tx or a reverted subtree attempted but did not move. funds says what the story intends: \
stolen, clean, commingled (paid from the OTC desk's mixed balance), mixer (paid by the pool). \
Exchange, thief and bystander balances set with anvil_setBalance (before block 1; for the tornado \
users, before block 20) are in prefunded_wei; the thief's addresses and the OTC desk start empty. \
Legacy transactions carry gas_price_wei, which is then also their fee cap and priority fee; every \
transaction pays min(max fee, base fee + priority fee) per gas.";
