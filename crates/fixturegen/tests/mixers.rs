mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use bitcoin::consensus::encode::serialize;
use bitcoin::{OutPoint, Transaction, Txid};
use chaintrace_fixturegen::{
    generate_mixers, write_mixers, BlkWriterOptions, MixersChain, MixersManifest, MixingTx,
    OutputRef, OutputType, QUAYSIDE, TALLYPORT,
};
use common::{
    address_of, block_bytes, outpoint, read_written, tx_by_id, txid, verify, ChainCheck, Written,
    BTC,
};

/// Generated once: every test reads the same chain.
fn mixers() -> &'static (MixersChain, ChainCheck) {
    static CHAIN: OnceLock<(MixersChain, ChainCheck)> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let chain = generate_mixers().expect("mixers scenario generates");
        let check = verify(&chain.blocks);
        (chain, check)
    })
}

fn mix<'a>(m: &'a MixersManifest, protocol: &str) -> Vec<&'a MixingTx> {
    m.mixes.iter().filter(|x| x.protocol == protocol).collect()
}

fn only<'a>(m: &'a MixersManifest, protocol: &str) -> &'a MixingTx {
    let found = mix(m, protocol);
    assert_eq!(found.len(), 1, "{protocol}");
    found[0]
}

fn values(tx: &Transaction) -> Vec<u64> {
    tx.output.iter().map(|o| o.value.to_sat()).collect()
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

fn input_values(check: &ChainCheck, tx: &Transaction) -> Vec<u64> {
    tx.input
        .iter()
        .map(|i| check.outputs[&i.previous_output].value)
        .collect()
}

fn all_types(check: &ChainCheck, tx: &Transaction) -> BTreeSet<OutputType> {
    let spent = tx
        .input
        .iter()
        .map(|i| OutputType::of(&check.outputs[&i.previous_output].script));
    let created = tx.output.iter().map(|o| OutputType::of(&o.script_pubkey));
    spent.chain(created).collect()
}

fn distinct_output_scripts(tx: &Transaction) -> bool {
    let scripts: BTreeSet<_> = tx.output.iter().map(|o| o.script_pubkey.clone()).collect();
    scripts.len() == tx.output.len()
}

/// Every output reference in the manifest.
fn all_refs(m: &MixersManifest) -> Vec<&OutputRef> {
    let mut refs: Vec<&OutputRef> = Vec::new();
    let t = &m.theft;
    refs.extend(t.inputs.iter().chain([&t.stolen_output, &t.change]));
    for d in &m.distributions {
        refs.push(&d.input);
        refs.extend(d.outputs.iter().map(|o| &o.output));
    }
    for x in &m.mixes {
        refs.extend(x.inputs.iter().map(|i| &i.input));
        refs.extend(x.outputs.iter().map(|o| &o.output));
    }
    for h in &m.peel_chain.hops {
        refs.extend([&h.input, &h.peel, &h.change]);
    }
    refs.extend([&m.peel_chain.start, &m.peel_chain.final_change]);
    refs.extend(&m.thief_unspent);
    refs
}

#[test]
fn chain_is_valid_small_and_matches_its_facts() {
    let (chain, check) = mixers();
    let facts = &chain.manifest.chain;
    assert_eq!(facts.tip_height, check.tip_height);
    assert_eq!(facts.tip_hash, check.tip_hash.unwrap().to_string());
    assert_eq!(facts.blocks as usize, check.active.len());
    assert_eq!(facts.stale_blocks, 0);
    assert_eq!(facts.txs, check.txs.len() as u64);
    assert_eq!(facts.inputs, check.inputs);
    assert_eq!(facts.outputs, check.outputs_count);
    let bytes: usize = chain.blocks.iter().map(|g| serialize(&g.block).len()).sum();
    assert!(bytes < 600_000, "{bytes} bytes");
}

#[test]
fn every_manifest_output_matches_the_chain() {
    let (chain, check) = mixers();
    for r in all_refs(&chain.manifest) {
        let op = outpoint(r);
        let out = check.outputs.get(&op).unwrap_or_else(|| panic!("{op}"));
        assert_eq!(out.value, r.value_sats, "{op}");
        assert_eq!(address_of(check, &op), r.address, "{op}");
    }
}

#[test]
fn every_story_transaction_conserves_value_and_pays_its_fee() {
    let (chain, check) = mixers();
    let m = &chain.manifest;
    let fee = |id: &str| check.txs[&txid(id)].1;
    for x in &m.mixes {
        let tx = tx_by_id(&chain.blocks, &x.txid);
        let inputs: u64 = x.inputs.iter().map(|i| i.input.value_sats).sum();
        let outputs: u64 = x.outputs.iter().map(|o| o.output.value_sats).sum();
        assert_eq!(inputs, outputs + x.fee_sats, "{}", x.protocol);
        assert_eq!(fee(&x.txid), x.fee_sats, "{}", x.protocol);
        assert_eq!(tx.input.len(), x.inputs.len());
        for (input, recorded) in tx.input.iter().zip(&x.inputs) {
            assert_eq!(input.previous_output, outpoint(&recorded.input));
        }
        for (vout, o) in x.outputs.iter().enumerate() {
            assert_eq!(o.output.vout as usize, vout);
        }
        let owners: BTreeSet<_> = x.inputs.iter().map(|i| &i.owner).collect();
        assert_eq!(owners.len() as u32, x.participants, "{}", x.protocol);
        for &i in &x.thief_inputs {
            assert_eq!(x.inputs[i as usize].owner, "thief");
            assert!(x.inputs[i as usize].tainted);
        }
        for &v in &x.thief_outputs {
            assert_eq!(x.outputs[v as usize].owner, "thief");
        }
        assert!(!x.thief_inputs.is_empty() || x.protocol == "whirlpool-tx0");
    }
    for d in &m.distributions {
        let outputs: u64 = d.outputs.iter().map(|o| o.output.value_sats).sum();
        assert_eq!(d.input.value_sats, outputs + d.fee_sats);
        assert_eq!(fee(&d.txid), d.fee_sats);
    }
    for h in &m.peel_chain.hops {
        assert_eq!(
            h.input.value_sats,
            h.peel.value_sats + h.change.value_sats + h.fee_sats
        );
        assert_eq!(fee(&h.txid), h.fee_sats);
    }
}

#[test]
fn theft_moves_forty_btc_from_the_hot_wallet_in_one_output() {
    let (chain, check) = mixers();
    let m = &chain.manifest;
    let t = &m.theft;
    assert_eq!(t.stolen_sats, 40 * BTC);
    assert_eq!(t.stolen_output.value_sats, t.stolen_sats);
    let hot = &m.exchanges[0].hot_wallet;
    assert!(t.inputs.iter().all(|i| hot.contains(&i.address)));
    assert!(hot.contains(&t.change.address));
    let theft = tx_by_id(&chain.blocks, &t.txid);
    assert_eq!(theft.output.len(), 2);
    assert_eq!(check.txs[&txid(&t.txid)].1, t.fee_sats);
    assert_eq!(m.distributions[0].input, t.stolen_output);
    assert_eq!(
        m.distributions[1].input,
        m.distributions[0].outputs.last().unwrap().output
    );
}

#[test]
fn whirlpool_tx0s_have_the_tx0_shape() {
    let (chain, check) = mixers();
    let m = &chain.manifest;
    let tx0s = mix(m, "whirlpool-tx0");
    assert_eq!(tx0s.len(), 2);
    for x in &tx0s {
        let tx = tx_by_id(&chain.blocks, &x.txid);
        let owners: BTreeSet<_> = x.inputs.iter().map(|i| &i.owner).collect();
        assert_eq!(owners.len(), 1, "a Tx0 has one owner");
        let op_returns: Vec<_> = tx
            .output
            .iter()
            .filter(|o| o.script_pubkey.is_op_return())
            .collect();
        assert_eq!(op_returns.len(), 1);
        assert_eq!(op_returns[0].value.to_sat(), 0);
        let fee_like = values(&tx)
            .into_iter()
            .filter(|v| (25_000..=150_000).contains(v))
            .count();
        assert_eq!(fee_like, 1, "one output within [0.5f, 3f]");
        let premixes = values(&tx).into_iter().filter(|v| *v == 1_000_285).count();
        assert!(premixes >= 1 && premixes + 2 >= tx.output.len() - 1);
        assert_eq!(tx.version, bitcoin::transaction::Version::ONE);
        assert_eq!(tx.lock_time, bitcoin::absolute::LockTime::ZERO);
        let spendable = tx.output.iter().filter(|o| !o.script_pubkey.is_op_return());
        assert!(spendable.clone().count() >= 2);
        assert!(all_types(check, &tx)
            .iter()
            .all(|t| matches!(t, OutputType::P2wpkh | OutputType::OpReturn)));
    }
    let thief = tx0s.iter().find(|x| x.inputs[0].owner == "thief").unwrap();
    let tx = tx_by_id(&chain.blocks, &thief.txid);
    assert_eq!(input_values(check, &tx), vec![5_000_000], "vector CJ4");
    assert_eq!(
        sorted(values(&tx)),
        vec![0, 50_000, 948_360, 1_000_285, 1_000_285, 1_000_285, 1_000_285]
    );
    assert_eq!(thief.fee_sats, 500);
    assert_eq!(thief.thief_outputs.len(), 5);
}

#[test]
fn whirlpool_mix_is_vector_w1() {
    let (chain, check) = mixers();
    let m = &chain.manifest;
    let x = only(m, "whirlpool-mix");
    let tx = tx_by_id(&chain.blocks, &x.txid);
    assert_eq!(
        input_values(check, &tx),
        vec![1_000_285, 1_000_285, 1_000_000, 1_000_000, 1_000_000]
    );
    assert_eq!(values(&tx), vec![1_000_000; 5]);
    assert_eq!(x.fee_sats, 570);
    assert_eq!((x.denomination_sats, x.participants), (1_000_000, 5));
    assert_eq!(x.thief_inputs, vec![0], "S is input 0, as in W-1");
    assert_eq!(x.thief_outputs.len(), 1);
    assert!(distinct_output_scripts(&tx));
    assert!(all_types(check, &tx)
        .iter()
        .all(|t| *t == OutputType::P2wpkh));
    let parents: BTreeSet<_> = tx.input.iter().map(|i| i.previous_output.txid).collect();
    assert_eq!(parents.len(), 5, "no two inputs share a parent");
    let input_addresses: BTreeSet<_> = x.inputs.iter().map(|i| &i.input.address).collect();
    assert_eq!(input_addresses.len(), 5);
    let tx0_txids: BTreeMap<_, _> = mix(m, "whirlpool-tx0")
        .iter()
        .map(|t| (t.txid.clone(), t.inputs[0].owner.clone()))
        .collect();
    for input in &x.inputs[..2] {
        assert_eq!(tx0_txids[&input.input.txid], input.owner, "premix lineage");
    }
    for input in &x.inputs[2..] {
        assert!(input.owner.starts_with("remixer"));
        assert!(!tx0_txids.contains_key(&input.input.txid));
    }
}

#[test]
fn wasabi1_round_is_vector_cj3() {
    let (chain, check) = mixers();
    let x = only(&chain.manifest, "wasabi1");
    let tx = tx_by_id(&chain.blocks, &x.txid);
    assert_eq!((tx.input.len(), tx.output.len()), (12, 21));
    assert_eq!(x.participants, 10);
    assert_eq!(x.fee_sats, 10_000);
    assert_eq!(x.coordinator_fee_sats, Some(30_000));
    let outs = values(&tx);
    assert_eq!(outs.iter().filter(|v| **v == 10_000_000).count(), 10);
    let coordinator = &chain.manifest.coordinators[1].address;
    let paid: Vec<_> = x
        .outputs
        .iter()
        .filter(|o| &o.output.address == coordinator)
        .collect();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].output.value_sats, 30_000);
    let unique = outs
        .iter()
        .filter(|v| outs.iter().filter(|w| w == v).count() == 1);
    assert!(unique.count() >= 2);
    assert!(all_types(check, &tx)
        .iter()
        .all(|t| *t == OutputType::P2wpkh));
    assert!(distinct_output_scripts(&tx));
    let thief_in: Vec<u64> = x
        .thief_inputs
        .iter()
        .map(|&i| x.inputs[i as usize].input.value_sats)
        .collect();
    assert_eq!(sorted(thief_in), vec![6_000_000, 6_100_000]);
    let thief_out: Vec<u64> = x.thief_outputs.iter().map(|&v| outs[v as usize]).collect();
    assert_eq!(sorted(thief_out), vec![2_096_000, 10_000_000]);
    let ins = input_values(check, &tx);
    assert!(
        ins.windows(2).any(|w| w[0] < w[1]),
        "not sorted descending like Wasabi 2"
    );
}

/// Dumplings' Wasabi 2 standard denominations (spec §4.3).
fn standard_denominations() -> BTreeSet<u64> {
    let mut set = BTreeSet::new();
    let (lo, hi) = (5_000u64, 134_375_000_000u64);
    for base in [2u64, 3, 10] {
        let mut p = 1u64;
        while p <= hi {
            let factors: &[u64] = match base {
                2 => &[1],
                3 => &[1, 2],
                _ => &[1, 2, 5],
            };
            for f in factors {
                if (lo..=hi).contains(&(f * p)) {
                    set.insert(f * p);
                }
            }
            p *= base;
        }
    }
    set
}

#[test]
fn wasabi2_round_has_the_cj6_outputs_and_shape() {
    let (chain, check) = mixers();
    let x = only(&chain.manifest, "wasabi2");
    let tx = tx_by_id(&chain.blocks, &x.txid);
    let denominations = standard_denominations();
    assert_eq!(denominations.len(), 78);
    assert!(tx.input.len() >= 20);
    let ins = input_values(check, &tx);
    assert!(ins.windows(2).all(|w| w[0] >= w[1]), "inputs descending");
    let outs = values(&tx);
    assert!(outs.windows(2).all(|w| w[0] >= w[1]), "outputs descending");
    let cj6 = [
        10_000_000, 10_000_000, 5_000_000, 5_000_000, 5_000_000, 2_097_152, 2_097_152, 2_097_152,
        2_097_152, 1_000_000, 1_000_000, 1_000_000, 1_000_000, 531_441, 531_441, 123_456, 45_678,
    ];
    assert_eq!(outs, cj6);
    let standard = outs.iter().filter(|v| denominations.contains(v)).count();
    assert!(
        standard * 100 > outs.len() * 80,
        "{standard} of {}",
        outs.len()
    );
    let types = all_types(check, &tx);
    assert!(types.contains(&OutputType::P2tr));
    assert!(types
        .iter()
        .all(|t| matches!(t, OutputType::P2wpkh | OutputType::P2tr)));
    assert!(distinct_output_scripts(&tx));
    assert_eq!(x.fee_sats, 20_000);
    assert_eq!(
        x.equal_output_values_sats,
        vec![10_000_000, 5_000_000, 2_097_152, 1_000_000, 531_441]
    );
    let thief_out: Vec<u64> = x.thief_outputs.iter().map(|&v| outs[v as usize]).collect();
    assert_eq!(sorted(thief_out), vec![45_678, 2_097_152, 5_000_000]);
    assert_eq!(x.thief_inputs.len(), 2);
}

#[test]
fn joinmarket_round_is_vector_cj2_with_the_thief_as_taker() {
    let (chain, check) = mixers();
    let x = only(&chain.manifest, "joinmarket");
    let tx = tx_by_id(&chain.blocks, &x.txid);
    assert_eq!(
        sorted(input_values(check, &tx)),
        vec![35_000_000, 35_000_000, 45_000_000, 50_000_000]
    );
    assert_eq!(
        sorted(values(&tx)),
        vec![5_001_000, 9_995_000, 30_001_000, 40_000_000, 40_000_000, 40_000_000]
    );
    assert_eq!((x.fee_sats, x.participants), (3_000, 3));
    let thief_in: Vec<u64> = x
        .thief_inputs
        .iter()
        .map(|&i| x.inputs[i as usize].input.value_sats)
        .collect();
    assert_eq!(thief_in, vec![50_000_000]);
    let outs = values(&tx);
    let thief_out: Vec<u64> = x.thief_outputs.iter().map(|&v| outs[v as usize]).collect();
    assert_eq!(sorted(thief_out), vec![9_995_000, 40_000_000]);
    assert!(distinct_output_scripts(&tx));
    let last_consolidation = chain.manifest.clusters.together[0].merges.last().unwrap();
    assert_eq!(
        x.inputs[x.thief_inputs[0] as usize].input.txid,
        last_consolidation.txid
    );
}

#[test]
fn stonewall_trap_has_the_veto_shape() {
    let (chain, _) = mixers();
    let x = only(&chain.manifest, "stonewall");
    let tx = tx_by_id(&chain.blocks, &x.txid);
    assert!(tx.input.len() >= 2 && tx.output.len() == 4);
    assert!(distinct_output_scripts(&tx));
    let outs = values(&tx);
    let twice: Vec<u64> = outs
        .iter()
        .copied()
        .filter(|v| outs.iter().filter(|w| *w == v).count() == 2)
        .collect();
    assert_eq!(twice, vec![2_000_000; 2]);
    let others: BTreeSet<_> = outs.iter().filter(|v| **v != 2_000_000).collect();
    assert_eq!(others.len(), 2, "the two non-d outputs differ");
    assert_eq!(x.participants, 2);
}

#[test]
fn peel_chain_has_fifty_four_hops_linked_change_to_input() {
    let (chain, check) = mixers();
    let p = &chain.manifest.peel_chain;
    assert!(p.length >= 50);
    assert_eq!(p.length as usize, p.hops.len());
    let from = chain.manifest.distributions[0]
        .outputs
        .iter()
        .find(|o| o.purpose == "peel_chain");
    assert_eq!(p.start, from.unwrap().output);
    assert_eq!(p.hops[0].input, p.start);
    let mut addresses = BTreeSet::new();
    for (i, hop) in p.hops.iter().enumerate() {
        assert_eq!(hop.hop as usize, i + 1);
        if i > 0 {
            assert_eq!(hop.input, p.hops[i - 1].change);
        }
        let tx = tx_by_id(&chain.blocks, &hop.txid);
        assert_eq!((tx.input.len(), tx.output.len()), (1, 2));
        assert_eq!((hop.peel.vout, hop.change.vout), (0, 1));
        assert_eq!(hop.peel.value_sats % 1_000_000, 0, "round peel");
        assert_ne!(hop.change.value_sats % 1_000_000, 0, "change is not round");
        assert!(addresses.insert(hop.change.address.clone()), "fresh change");
        if hop.peel_destination == "payment" {
            assert!(addresses.insert(hop.peel.address.clone()), "fresh payee");
        }
    }
    assert_eq!(p.final_change, p.hops.last().unwrap().change);
    assert!(check.utxos.contains_key(&outpoint(&p.final_change)));
    let to_exchanges = p
        .hops
        .iter()
        .filter(|h| h.peel_destination.starts_with("exchange:"));
    assert_eq!(to_exchanges.count(), 4);
}

/// Common-input clustering over every transaction except those in `skip`.
fn cluster(chain: &MixersChain, check: &ChainCheck, skip: &BTreeSet<Txid>) -> UnionFind {
    let mut uf = UnionFind::default();
    for tx in chain
        .blocks
        .iter()
        .flat_map(|g| g.block.txdata.iter().skip(1))
    {
        if skip.contains(&tx.compute_txid()) {
            continue;
        }
        let addrs: Vec<String> = tx
            .input
            .iter()
            .map(|i| address_of(check, &i.previous_output))
            .collect();
        for a in &addrs[1..] {
            uf.union(&addrs[0], a);
        }
    }
    uf
}

#[derive(Default)]
struct UnionFind {
    parent: HashMap<String, String>,
}

impl UnionFind {
    fn find(&mut self, a: &str) -> String {
        let parent = self.parent.get(a).cloned().unwrap_or_else(|| a.to_owned());
        if parent == a {
            return parent;
        }
        let root = self.find(&parent);
        self.parent.insert(a.to_owned(), root.clone());
        root
    }

    fn union(&mut self, a: &str, b: &str) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent.insert(ra, rb);
        }
    }
}

#[test]
fn cluster_expectations_hold_only_when_mixing_transactions_are_skipped() {
    let (chain, check) = mixers();
    let c = &chain.manifest.clusters;
    let mixing: BTreeSet<Txid> = chain
        .manifest
        .mixes
        .iter()
        .filter(|x| x.protocol != "whirlpool-tx0")
        .map(|x| txid(&x.txid))
        .collect();
    let mut careful = cluster(chain, check, &mixing);
    let mut naive = cluster(chain, check, &BTreeSet::new());
    let multi = &c.together[0];
    assert_eq!(multi.heuristic, "multi_input");
    assert_eq!(multi.merges.len(), 3);
    let root = careful.find(&multi.addresses[0]);
    assert!(multi.addresses.iter().all(|a| careful.find(a) == root));
    // Each step links the previous one's addresses to new ones: a multi-step explanation.
    for pair in multi.merges.windows(2) {
        let shared = pair[0]
            .addresses
            .iter()
            .filter(|a| pair[1].addresses.contains(a));
        assert_eq!(shared.count(), 1);
    }
    assert!(c.apart.len() >= 20);
    let protocols: BTreeSet<_> = c.apart.iter().map(|p| p.reason.as_str()).collect();
    assert_eq!(protocols.len(), 5, "{protocols:?}");
    for pair in &c.apart {
        assert_ne!(careful.find(&pair.a), careful.find(&pair.b), "{pair:?}");
        assert_eq!(
            naive.find(&pair.a),
            naive.find(&pair.b),
            "a trap only if naive merges"
        );
        assert!(mixing.contains(&txid(&pair.txid)));
    }
    let peel = &c.together[1];
    assert_eq!(peel.heuristic, "peel_chain");
    assert_eq!(
        peel.addresses.len(),
        chain.manifest.peel_chain.hops.len() + 1
    );
}

#[test]
fn deposits_reach_labelled_exchange_addresses() {
    let (chain, check) = mixers();
    let m = &chain.manifest;
    let mut owners = BTreeMap::new();
    for exchange in &m.exchanges {
        for d in &exchange.deposit_addresses {
            owners.insert(d.address.clone(), (exchange.name.clone(), d.owner.clone()));
        }
    }
    assert_eq!(m.deposits.len(), 6);
    for d in m.deposits.iter().chain(&m.innocent_deposits) {
        let owner = if d.thief_owned { "thief" } else { "customer" };
        assert_eq!(owners[&d.address], (d.exchange.clone(), owner.to_owned()));
        let op = OutPoint {
            txid: txid(&d.txid),
            vout: d.vout,
        };
        assert_eq!(check.outputs[&op].value, d.amount_sats);
        assert!(d.haircut_stolen_sats <= d.amount_sats);
    }
    let exchanges: BTreeSet<_> = m.deposits.iter().map(|d| d.exchange.as_str()).collect();
    assert_eq!(exchanges, [QUAYSIDE, TALLYPORT].into_iter().collect());
    let co_mixer = m
        .innocent_deposits
        .iter()
        .find(|d| d.source == "whirlpool co-mixer");
    let co_mixer = co_mixer.expect("an innocent co-mixer deposits");
    assert_eq!(co_mixer.stolen_sats, None);
    assert_eq!(
        co_mixer.haircut_stolen_sats,
        co_mixer.amount_sats * 1_000_285 / 5_000_570
    );
    assert!(
        m.innocent_deposits
            .iter()
            .filter(|d| d.stolen_sats == Some(0))
            .count()
            >= 10
    );
}

#[test]
fn thief_unspent_outputs_are_unspent_at_the_tip() {
    let (chain, check) = mixers();
    let m = &chain.manifest;
    assert!(m.thief_unspent.contains(&m.peel_chain.final_change));
    for r in &m.thief_unspent {
        assert!(
            check.utxos.contains_key(&outpoint(r)),
            "{}:{}",
            r.txid,
            r.vout
        );
    }
}

#[test]
fn tagpack_labels_exchanges_as_definers_and_the_theft() {
    let dir = tempfile::tempdir().unwrap();
    let opts = BlkWriterOptions {
        xor_key: Some(*b"mixers!!"),
        ..Default::default()
    };
    let manifest = write_mixers(dir.path(), &opts).unwrap();
    let written: Written<MixersManifest> = read_written(dir.path(), "mixers");
    assert_eq!(written.records as u32, manifest.chain.blocks);
    assert_eq!(written.manifest, manifest);
    let yaml = written.tagpack;
    let theft = format!(
        "    address: \"{}\"\n    category: \"theft\"\n    is_cluster_definer: false\n",
        manifest.theft.stolen_output.address
    );
    assert!(yaml.contains(&theft), "{yaml}");
    for exchange in &manifest.exchanges {
        for d in &exchange.deposit_addresses {
            let tag = format!(
                "    address: \"{}\"\n    category: \"exchange\"\n    is_cluster_definer: true\n",
                d.address
            );
            assert!(yaml.contains(&tag), "{}", d.address);
        }
    }
}

#[test]
fn two_generations_are_byte_identical() {
    let (a, _) = mixers();
    let b = generate_mixers().unwrap();
    assert_eq!(a.manifest, b.manifest);
    assert_eq!(block_bytes(&a.blocks), block_bytes(&b.blocks));
    let (x, y) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_mixers(x.path(), &BlkWriterOptions::default()).unwrap();
    write_mixers(y.path(), &BlkWriterOptions::default()).unwrap();
    for file in ["blocks/blk00000.dat", "mixers.json", "mixers.tagpack.yaml"] {
        let (p, q) = (x.path().join(file), y.path().join(file));
        assert_eq!(
            std::fs::read(p).unwrap(),
            std::fs::read(q).unwrap(),
            "{file}"
        );
    }
}
