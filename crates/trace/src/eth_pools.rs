//! Tornado Cash pools in the Ethereum index: which indexed contracts are pools (the mainnet
//! instances, and whatever an imported registry labels as one), and their deposits and
//! withdrawals read back in chain order for linking.

use std::collections::BTreeMap;

use chaintrace_heuristics::tornado::{
    Deposit, GasFingerprint, Pool, PoolId, Withdrawal, MAINNET_POOLS,
};
use chaintrace_model::eth::{AssetId, GasPricing};
use chaintrace_model::{AddrId, TxNum};
use chaintrace_store::eth::mixer::StoredMixerEvent;

use crate::account::tornado::PoolEvents;
use crate::attribution::Attributions;
use crate::eth::{parse_address, EthLedger};
use crate::ledger::TraceError;

/// Name prefix of the labels a Tornado Cash registry import gives its pools.
const POOL_LABEL: &str = "Tornado Cash pool ";

/// Tornado Cash pools among the indexed addresses: the mainnet instances, and every address a
/// registry import labelled as a pool of ether (`Tornado Cash pool 0.1 ETH`), which is how a
/// test network's pools are named. Sorted by address id.
pub fn tornado_pools(
    ledger: &EthLedger<'_>,
    attrs: &Attributions,
) -> Result<Vec<Pool>, TraceError> {
    let mut pools: BTreeMap<AddrId, Pool> = BTreeMap::new();
    for mp in MAINNET_POOLS {
        let Some(addr) = ledger.index().addr_id(&parse_address(mp.address)?)? else {
            continue;
        };
        let asset = match mp.token {
            None => AssetId::ETH,
            Some(token) => match ledger.index().addr_id(&parse_address(token)?)? {
                Some(id) => AssetId::token(id),
                None => continue,
            },
        };
        pools.insert(addr, Pool::new(addr, asset, mp.denomination, mp.name));
    }
    for (addr, labels) in attrs.labelled_addresses() {
        let named = labels.iter().find_map(|a| a.name.strip_prefix(POOL_LABEL));
        if let (Some(name), false) = (named, pools.contains_key(&addr)) {
            if let Some(wei) = ether_denomination(name) {
                pools.insert(addr, Pool::new(addr, AssetId::ETH, wei, name));
            }
        }
    }
    Ok(pools.into_values().collect())
}

/// `"0.1 ETH"` → 10^17 wei; other assets need the mainnet table (their decimals differ).
fn ether_denomination(name: &str) -> Option<u128> {
    let number = name.strip_suffix(" ETH")?.trim();
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if frac.len() > 18 || whole.is_empty() {
        return None;
    }
    let digits = format!("{whole}{frac:0<18}");
    digits.parse().ok()
}

/// The deposits and withdrawals of `pools`, in chain order, as linking needs them.
pub fn load_pool_events(
    ledger: &EthLedger<'_>,
    pools: Vec<Pool>,
) -> Result<PoolEvents, TraceError> {
    let mut events = PoolEvents::default();
    for (i, pool) in pools.iter().enumerate() {
        let id = PoolId(i as u32);
        for row in ledger.index().mixer_events_of(pool.addr, TxNum(0)) {
            let (key, rec) = row?;
            let seq = PoolEvents::seq(key.tx, key.n);
            events.txs.insert(seq, key.tx);
            let gas = match rec.pricing {
                GasPricing::Legacy { gas_price } => GasFingerprint::Legacy { gas_price },
                GasPricing::Eip1559 {
                    max_fee_per_gas,
                    max_priority_fee_per_gas,
                } => GasFingerprint::Eip1559 {
                    max_fee: max_fee_per_gas,
                    max_priority: max_priority_fee_per_gas,
                },
            };
            let (block, ts) = (u64::from(rec.height), rec.block_time);
            match rec.event {
                StoredMixerEvent::Deposit {
                    commitment,
                    leaf_index,
                    ..
                } => events.deposits.push(Deposit {
                    seq,
                    pool: id,
                    block,
                    ts,
                    from: rec.from,
                    gas,
                    commitment: commitment.0,
                    leaf_index,
                }),
                StoredMixerEvent::Withdrawal {
                    to,
                    nullifier_hash,
                    relayer,
                    fee,
                } => events.withdrawals.push(Withdrawal {
                    seq,
                    pool: id,
                    block,
                    ts,
                    tx_from: rec.from,
                    recipient: to,
                    relayer: (!relayer.is_none()).then_some(relayer),
                    fee: u128::try_from(fee).unwrap_or(u128::MAX),
                    gas,
                    nullifier: nullifier_hash.0,
                }),
            }
        }
    }
    events.pools = pools;
    Ok(events)
}
