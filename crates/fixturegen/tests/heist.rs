mod common;

use std::collections::{BTreeMap, BTreeSet};

use bitcoin::consensus::encode::serialize;
use bitcoin::{OutPoint, Transaction};
use chaintrace_fixturegen::{
    generate_heist, write_heist, BlkWriterOptions, HeistChain, HeistManifest, OutputRef, KEYPORT,
    NORTHBANK,
};
use common::{
    address_of, block_bytes, outpoint, read_written, tx_by_id, txid, verify, ChainCheck, Written,
    BTC,
};

fn heist() -> HeistChain {
    generate_heist().expect("heist generates")
}

/// Every output reference in the manifest, with where it came from.
fn all_refs(m: &HeistManifest) -> Vec<(String, &OutputRef)> {
    let mut refs: Vec<(String, &OutputRef)> = Vec::new();
    let mut push = |what: &str, r| refs.push((what.to_owned(), r));
    for t in &m.customer_deposits {
        push("customer deposit", &t.output);
    }
    for t in &m.hot_wallet_withdrawals {
        push("withdrawal", &t.output);
    }
    push("clean funding", &m.thief_clean_funding.output);
    for r in m
        .theft
        .inputs
        .iter()
        .chain(&m.theft.stolen_outputs)
        .chain([&m.theft.change])
    {
        push("theft", r);
    }
    for hop in &m.peel_chain {
        for r in [&hop.input, &hop.peel, &hop.change] {
            push("peel", r);
        }
    }
    for r in m.split.outputs.iter().chain([&m.split.input]) {
        push("split", r);
    }
    for i in &m.coinjoin.inputs {
        push("coinjoin input", &i.input);
    }
    for o in &m.coinjoin.outputs {
        push("coinjoin output", &o.output);
    }
    let c = &m.consolidation;
    for r in c
        .tainted_inputs
        .iter()
        .chain(&c.clean_inputs)
        .chain([&c.output])
    {
        push("consolidation", r);
    }
    for r in &m.unspent_stolen {
        push("unspent stolen", r);
    }
    refs
}

fn input_set(tx: &Transaction) -> BTreeSet<OutPoint> {
    tx.input.iter().map(|i| i.previous_output).collect()
}

fn fee_of(check: &ChainCheck, id: &str) -> u64 {
    check.txs[&txid(id)].1
}

#[test]
fn heist_chain_is_valid_and_small() {
    let h = heist();
    let check = verify(&h.blocks);
    let facts = &h.manifest.chain;
    assert_eq!(facts.tip_height, check.tip_height);
    assert_eq!(facts.tip_hash, check.tip_hash.unwrap().to_string());
    assert_eq!(facts.blocks as usize, check.active.len());
    assert_eq!(u64::from(facts.stale_blocks), check.stale_blocks);
    assert_eq!(facts.stale_blocks, 3);
    assert_eq!(facts.txs, check.txs.len() as u64);
    assert_eq!(facts.inputs, check.inputs);
    assert_eq!(facts.outputs, check.outputs_count);
    let bytes: usize = h.blocks.iter().map(|g| serialize(&g.block).len()).sum();
    assert!(bytes < 1_000_000, "{bytes} bytes");
}

#[test]
fn every_manifest_output_matches_the_chain() {
    let h = heist();
    let check = verify(&h.blocks);
    for (what, r) in all_refs(&h.manifest) {
        let op = outpoint(r);
        let out = check
            .outputs
            .get(&op)
            .unwrap_or_else(|| panic!("{what} {op} not on chain"));
        assert_eq!(out.value, r.value_sats, "{what} {op}");
        assert_eq!(address_of(&check, &op), r.address, "{what} {op}");
    }
    let m = &h.manifest;
    let txids = [
        &m.theft.txid,
        &m.split.txid,
        &m.coinjoin.txid,
        &m.consolidation.txid,
    ]
    .into_iter()
    .chain(m.peel_chain.iter().map(|p| &p.txid))
    .chain(
        m.deposits
            .iter()
            .chain(&m.innocent_deposits)
            .map(|d| &d.txid),
    );
    for id in txids {
        assert!(check.txs.contains_key(&txid(id)), "{id} missing");
    }
    for d in m.deposits.iter().chain(&m.innocent_deposits) {
        let op = OutPoint {
            txid: txid(&d.txid),
            vout: d.vout,
        };
        assert_eq!(check.outputs[&op].value, d.amount_sats);
        assert_eq!(address_of(&check, &op), d.address);
        assert_eq!(check.txs[&op.txid].0, d.height);
    }
}

#[test]
fn theft_takes_120_btc_from_the_hot_wallet() {
    let h = heist();
    let check = verify(&h.blocks);
    let theft = &h.manifest.theft;
    let tx = tx_by_id(&h.blocks, &theft.txid);
    assert_eq!(theft.stolen_total_sats, 120 * BTC);
    let stolen: u64 = theft.stolen_outputs.iter().map(|o| o.value_sats).sum();
    assert_eq!(stolen, 120 * BTC);
    assert!((2..=3).contains(&theft.stolen_outputs.len()));
    assert_eq!(input_set(&tx), theft.inputs.iter().map(outpoint).collect());
    assert_eq!(fee_of(&check, &theft.txid), theft.fee_sats);
    let hot: BTreeSet<_> = h.manifest.entities.exchanges[0]
        .hot_wallet
        .iter()
        .cloned()
        .collect();
    assert!(theft.inputs.iter().all(|i| hot.contains(&i.address)));
    assert!(hot.contains(&theft.change.address));
    let thief: BTreeSet<_> = h.manifest.entities.thief.theft_addresses.iter().collect();
    assert!(theft
        .stolen_outputs
        .iter()
        .all(|o| thief.contains(&o.address)));
    let deposited: u64 = h
        .manifest
        .customer_deposits
        .iter()
        .map(|d| d.output.value_sats)
        .sum();
    assert_eq!(deposited, 1375 * BTC / 10);
}

#[test]
fn peel_chain_links_hop_to_hop() {
    let h = heist();
    let check = verify(&h.blocks);
    let hops = &h.manifest.peel_chain;
    assert!(hops.len() >= 8);
    assert_eq!(hops[0].input, h.manifest.theft.stolen_outputs[0]);
    for pair in hops.windows(2) {
        assert_eq!(pair[1].input, pair[0].change);
        assert!(pair[1].height > pair[0].height);
    }
    for hop in hops {
        let tx = tx_by_id(&h.blocks, &hop.txid);
        assert_eq!(tx.input.len(), 1);
        assert_eq!(tx.output.len(), 2);
        assert_eq!(
            hop.input.value_sats,
            hop.peel.value_sats + hop.change.value_sats + hop.fee_sats
        );
        assert_eq!(fee_of(&check, &hop.txid), hop.fee_sats);
        let rate = hop.fee_sats / tx.vsize() as u64;
        assert!(
            (5..=20).contains(&rate),
            "hop {} pays {rate} sat/vB",
            hop.hop
        );
    }
    let exchange_peels = hops
        .iter()
        .filter(|p| p.peel_destination.starts_with("exchange:"))
        .count();
    assert!(exchange_peels >= 2);
}

#[test]
fn split_coinjoin_and_consolidation_have_their_shapes() {
    let h = heist();
    let check = verify(&h.blocks);
    let m = &h.manifest;

    let split = tx_by_id(&h.blocks, &m.split.txid);
    assert_eq!(split.output.len(), 10);
    assert_eq!(m.split.input, m.theft.stolen_outputs[1]);
    assert_eq!(fee_of(&check, &m.split.txid), m.split.fee_sats);

    let cj = &m.coinjoin;
    let tx = tx_by_id(&h.blocks, &cj.txid);
    assert_eq!((tx.input.len(), tx.output.len()), (5, 5));
    assert!(tx
        .output
        .iter()
        .all(|o| o.value.to_sat() == cj.denomination_sats));
    assert_eq!(fee_of(&check, &cj.txid), cj.fee_sats);
    let in_total: u64 = cj.inputs.iter().map(|i| i.input.value_sats).sum();
    assert_eq!(
        in_total,
        5 * cj.denomination_sats + cj.fee_sats,
        "no change: the excess is the fee"
    );
    assert_eq!(cj.inputs.iter().filter(|i| i.tainted).count(), 1);
    let tainted = &cj.inputs[cj.tainted_input_index as usize];
    assert!(tainted.tainted);
    assert!(
        m.peel_chain.iter().any(|p| p.peel == tainted.input),
        "the tainted input is a peel"
    );
    for (vout, (input, output)) in tx.input.iter().zip(&cj.outputs).enumerate() {
        assert_eq!(input.previous_output, outpoint(&cj.inputs[vout].input));
        assert_eq!(output.output.vout as usize, vout);
    }
    assert_eq!(cj.outputs[cj.thief_output_vout as usize].owner, "thief");

    let c = &m.consolidation;
    let tx = tx_by_id(&h.blocks, &c.txid);
    assert_eq!(tx.output.len(), 1);
    let expected: BTreeSet<_> = c
        .tainted_inputs
        .iter()
        .chain(&c.clean_inputs)
        .map(outpoint)
        .collect();
    assert_eq!(input_set(&tx), expected);
    assert!(c.tainted_inputs.iter().all(|i| m.split.outputs.contains(i)));
    assert_eq!(c.clean_inputs, vec![m.thief_clean_funding.output.clone()]);
    assert_eq!(fee_of(&check, &c.txid), c.fee_sats);
}

#[test]
fn deposits_reach_labelled_exchange_addresses() {
    let h = heist();
    let m = &h.manifest;
    let mut owners = BTreeMap::new();
    for exchange in &m.entities.exchanges {
        for d in &exchange.deposit_addresses {
            owners.insert(d.address.clone(), (exchange.name.clone(), d.owner.clone()));
        }
    }
    let sources: BTreeSet<_> = m
        .deposits
        .iter()
        .map(|d| d.source.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(
        sources,
        ["coinjoin", "consolidation", "peel_chain"]
            .into_iter()
            .collect()
    );
    for d in &m.deposits {
        assert_eq!(owners[&d.address], (d.exchange.clone(), "thief".to_owned()));
        assert!(d.thief_owned);
        assert!(d.haircut_stolen_sats <= d.amount_sats);
        if d.source.starts_with("peel_chain") {
            assert_eq!(d.stolen_sats, Some(d.amount_sats));
        } else {
            assert_eq!(d.stolen_sats, None);
        }
    }
    let consolidation = m
        .deposits
        .iter()
        .find(|d| d.source == "consolidation")
        .unwrap();
    assert_eq!(
        consolidation.haircut_stolen_sats,
        consolidation.amount_sats * 16 / 21
    );
    let coinjoin = m.deposits.iter().find(|d| d.source == "coinjoin").unwrap();
    assert_eq!(coinjoin.haircut_stolen_sats, coinjoin.amount_sats / 5);
    assert!(m.innocent_deposits.len() >= 10);
    for d in &m.innocent_deposits {
        assert_eq!(owners[&d.address].1, "customer");
        assert!(!d.thief_owned);
    }
    let at = |name: &str| {
        m.innocent_deposits
            .iter()
            .filter(|d| d.exchange == name)
            .count()
    };
    assert!(at(NORTHBANK) > 0 && at(KEYPORT) > 0);
}

#[test]
fn unspent_stolen_outputs_are_unspent_at_the_tip() {
    let h = heist();
    let check = verify(&h.blocks);
    assert!(!h.manifest.unspent_stolen.is_empty());
    for r in &h.manifest.unspent_stolen {
        assert!(
            check.utxos.contains_key(&outpoint(r)),
            "{}:{} was spent",
            r.txid,
            r.vout
        );
    }
    assert!(h
        .manifest
        .unspent_stolen
        .contains(&h.manifest.theft.stolen_outputs[2]));
}

#[test]
fn heist_is_deterministic() {
    let a = heist();
    let b = heist();
    assert_eq!(a.manifest, b.manifest);
    assert_eq!(block_bytes(&a.blocks), block_bytes(&b.blocks));
}

#[test]
fn write_heist_stores_blocks_manifest_and_tagpack() {
    let dir = tempfile::tempdir().unwrap();
    let opts = BlkWriterOptions {
        xor_key: Some(*b"heist!!!"),
        shuffle_window: 16,
        ..Default::default()
    };
    let manifest = write_heist(dir.path(), &opts).unwrap();
    let written: Written<HeistManifest> = read_written(dir.path(), "heist");
    assert_eq!(
        written.records as u32,
        manifest.chain.blocks + manifest.chain.stale_blocks
    );
    assert_eq!(written.manifest, manifest);
    let yaml = written.tagpack;
    for key in [
        "title:",
        "creator:",
        "description:",
        "currency: \"BTC\"",
        "network:",
        "is_public:",
        "lastmod:",
        "source:",
        "confidence:",
        "is_cluster_definer: true",
        "tags:",
    ] {
        assert!(yaml.lines().any(|l| l.starts_with(key)), "header {key}");
    }
    for exchange in &manifest.entities.exchanges {
        for address in exchange
            .hot_wallet
            .iter()
            .chain(exchange.deposit_addresses.iter().map(|d| &d.address))
        {
            let tag = format!("    address: \"{address}\"\n    category: \"exchange\"");
            assert!(yaml.contains(&tag), "{address} untagged");
        }
    }
    for address in &manifest.entities.thief.theft_addresses {
        assert!(yaml.contains(&format!(
            "    address: \"{address}\"\n    category: \"user\"\n    abuse: \"service_hack\""
        )));
    }
}
