//! Tornado-shaped pool events at ingest: the bundled recording of the scenario node is indexed
//! with `chaintrace ingest eth`, and the index's `eth_mixer_events` must hold exactly the
//! manifest's deposits and withdrawals of both pools — who sent them, with which fee terms, in
//! which block — and nothing else.

mod common;

use chaintrace_fixturegen::eth_scenario::GasTerms;
use chaintrace_model::eth::{Address, GasPricing, U256};
use chaintrace_model::AddrId;
use chaintrace_store::eth::{EthIndex, MixerRow, StoredMixerEvent};
use chaintrace_store::{OpenMode, Store};
use common::eth_fixture::{ingested as indexed, manifest};

fn model(a: &chaintrace_fixturegen::anvil::Address) -> Address {
    Address::from(a.0)
}

fn pricing(g: &GasTerms) -> GasPricing {
    match g.gas_price_wei {
        Some(gas_price) => GasPricing::Legacy { gas_price },
        None => GasPricing::Eip1559 {
            max_fee_per_gas: g.max_fee_per_gas_wei.expect("a fee cap"),
            max_priority_fee_per_gas: g.max_priority_fee_per_gas_wei.expect("a priority fee"),
        },
    }
}

/// The tx hash of a stored event, as the manifest writes it.
fn hash_of(idx: &EthIndex<'_>, row: &MixerRow) -> String {
    let hash = idx.tx(row.0.tx).unwrap().hash;
    format!(
        "0x{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[test]
fn the_index_holds_exactly_the_manifest_deposits_and_withdrawals() {
    let (_dir, db) = indexed();
    let m = manifest();
    let store = Store::open(&db, OpenMode::ReadOnly).unwrap();
    let idx = EthIndex::new(&store);
    let id = |a: &chaintrace_fixturegen::anvil::Address| -> AddrId {
        idx.addr_id(&model(a))
            .unwrap()
            .unwrap_or_else(|| panic!("{a} not indexed"))
    };
    let pools: Vec<AddrId> = m.tornado.pools.iter().map(|p| id(&p.address)).collect();
    assert_eq!(
        idx.mixer_contracts().unwrap(),
        pools,
        "no other contract emits"
    );

    for pool in &m.tornado.pools {
        let contract = id(&pool.address);
        let deposits: Vec<MixerRow> = idx
            .mixer_deposits(contract)
            .collect::<Result<_, _>>()
            .unwrap();
        let want: Vec<_> = m
            .tornado
            .deposits
            .iter()
            .filter(|d| d.pool == pool.address)
            .collect();
        assert_eq!(deposits.len(), want.len(), "deposits into {}", pool.name);
        for (row, d) in deposits.iter().zip(want) {
            let r = &row.1;
            assert_eq!(hash_of(&idx, row), d.tx);
            assert_eq!(u64::from(r.height), d.block_number, "{}", d.tx);
            assert_eq!(r.block_time, d.timestamp, "{}", d.tx);
            assert_eq!(r.from, id(&d.depositor), "{}", d.tx);
            assert_eq!(r.pricing, pricing(&d.gas), "{}", d.tx);
            assert_eq!(r.effective_gas_price, d.gas.effective_gas_price_wei);
            let StoredMixerEvent::Deposit {
                commitment,
                leaf_index,
                timestamp,
            } = &r.event
            else {
                panic!("{}: not a deposit", d.tx);
            };
            assert_eq!(commitment.to_string(), d.commitment);
            assert_eq!((*leaf_index, *timestamp), (d.leaf_index, d.timestamp));
        }
        let withdrawals: Vec<MixerRow> = idx
            .mixer_withdrawals(contract)
            .collect::<Result<_, _>>()
            .unwrap();
        let want: Vec<_> = m
            .tornado
            .withdrawals
            .iter()
            .filter(|w| w.pool == pool.address)
            .collect();
        assert_eq!(
            withdrawals.len(),
            want.len(),
            "withdrawals from {}",
            pool.name
        );
        for (row, w) in withdrawals.iter().zip(want) {
            let r = &row.1;
            assert_eq!(hash_of(&idx, row), w.tx);
            assert_eq!(
                (u64::from(r.height), r.block_time),
                (w.block_number, w.timestamp)
            );
            assert_eq!(r.from, id(&w.sender), "{}", w.tx);
            assert_eq!(r.pricing, pricing(&w.gas), "{}", w.tx);
            let StoredMixerEvent::Withdrawal {
                to,
                nullifier_hash,
                relayer,
                fee,
            } = &r.event
            else {
                panic!("{}: not a withdrawal", w.tx);
            };
            assert_eq!(*to, id(&w.recipient), "{}", w.tx);
            let want_relayer = if w.self_relayed {
                AddrId::NONE
            } else {
                id(&w.relayer)
            };
            assert_eq!(*relayer, want_relayer, "{}", w.tx);
            assert_eq!(*fee, U256::from(w.fee_wei));
            assert_eq!(nullifier_hash.to_string(), w.nullifier_hash);
        }
    }

    // By block range: every event of the appended blocks, in chain order.
    let first = m
        .tornado
        .deposits
        .iter()
        .filter(|d| d.owner == "tornado user");
    let first = first.map(|d| d.block_number).min().unwrap() as u32;
    let ranged = idx
        .mixer_events_in_blocks(first, m.chain.tip_number as u32)
        .unwrap();
    let mut want: Vec<(u64, &str)> = m
        .tornado
        .deposits
        .iter()
        .map(|d| (d.block_number, d.tx.as_str()))
        .chain(
            m.tornado
                .withdrawals
                .iter()
                .map(|w| (w.block_number, w.tx.as_str())),
        )
        .filter(|(b, _)| *b >= u64::from(first))
        .collect();
    want.sort_by_key(|(b, tx)| {
        let record = m.txs.iter().find(|t| t.hash == *tx).unwrap();
        (*b, record.tx_index)
    });
    let got: Vec<String> = ranged.iter().map(|row| hash_of(&idx, row)).collect();
    let want: Vec<&str> = want.into_iter().map(|(_, tx)| tx).collect();
    assert_eq!(got, want);
}
