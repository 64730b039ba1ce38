//! Ethereum labels from the real files bundled in `fixtures/labels/eth/` (and the OFAC ETH
//! list in `fixtures/labels/`): every importer, bad input, and the import into an index that
//! holds some of the addresses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, U256};
use chaintrace_labels::{
    import, parse_eth_address, parse_file, resolve, Format, LabelError, Location, ParseOptions,
    Resolved,
};
use chaintrace_model::eth::{ExtractedBlock, RawTransfer, TransferKind};
use chaintrace_model::{Category, Label, Network};
use chaintrace_store::eth::EthWriter;
use chaintrace_store::labels::LabelStore;
use chaintrace_store::tables::{EthAddr, LabelTarget};
use chaintrace_store::{OpenMode, Store};

/// The Tornado Cash ETH pools, EIP-55 checksummed as OFAC's ETH list writes them (lines 14,
/// 48, 93 and 104); the registry and Etherscan write them in lower case.
const POOLS: [(&str, &str); 4] = [
    ("0.1 ETH", "0x12D66f87A04A9E220743712cE6d9bB1B5616B8Fc"),
    ("1 ETH", "0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936"),
    ("10 ETH", "0x910Cbd523D972eb0a6f4cAe4618aD62622b39DbF"),
    ("100 ETH", "0xA160cdAB225685dA1d56aa342Ad8841c3b53f291"),
];
/// Ronin bridge exploiter (Lazarus), line 11 of OFAC's ETH list.
const RONIN: &str = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/labels")
        .join(name)
}

fn resolved(name: &str) -> Resolved {
    let parsed = parse_file(&fixture(name), None, &ParseOptions::default()).unwrap();
    resolve(parsed, Network::Main)
}

fn eth(address: &str) -> LabelTarget {
    let a = parse_eth_address(address).unwrap();
    LabelTarget::EthAddr(EthAddr(a.0 .0))
}

/// The labels of `address` in a resolved file.
fn labels_of<'r>(r: &'r Resolved, address: &str) -> Vec<&'r Label> {
    let target = eth(address);
    r.labels
        .iter()
        .filter(|(t, _)| *t == target)
        .map(|(_, l)| l)
        .collect()
}

fn by_category(r: &Resolved) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (_, l) in &r.labels {
        *m.entry(l.category.to_string()).or_insert(0) += 1;
    }
    m
}

#[test]
fn the_etherscan_mixing_tagpack_labels_59_addresses_mixer() {
    let r = resolved("eth/etherscan-wordcloud-mixing_service.yaml");
    assert_eq!(r.format, Format::Tagpack);
    // 61 tags; the TORN and vTORN token contracts are each tagged twice, by two names.
    assert_eq!((r.entries, r.labels.len(), r.invalid.len()), (61, 61, 0));
    assert!(r.skipped.is_empty());
    assert!(r
        .labels
        .iter()
        .all(|(t, l)| matches!(t, LabelTarget::EthAddr(_)) && l.category == Category::Mixer));
    assert!(r.labels.iter().all(|(_, l)| l.confidence == 20
        && l.raw_category.as_deref() == Some("mixing_service")
        && l.source == "https://etherscan.io/accounts/label/mixing_service"));
    for (denomination, address) in POOLS {
        let names: Vec<&str> = labels_of(&r, address)
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(names, [format!("Tornado.Cash: {denomination}")]);
    }
    let torn = labels_of(&r, "0x77777feddddffc19ff86db637967013e6c6a116c");
    assert_eq!(torn.len(), 2);
}

#[test]
fn the_binance_pack_labels_its_32_ethereum_wallets() {
    let r = resolved("exchange-wallets-binance.yaml");
    let eth = r
        .labels
        .iter()
        .filter(|(t, _)| matches!(t, LabelTarget::EthAddr(_)))
        .count();
    assert_eq!((r.labels.len(), eth, r.invalid.len()), (36, 32, 0));
    let skipped: Vec<(&str, usize)> = r.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    // BEP20 addresses look like Ethereum ones but are on BNB Smart Chain: the pack says so.
    assert_eq!(skipped, [("BEP2", 25), ("BEP20", 16), ("TRX", 9)]);
}

#[test]
fn the_ofac_eth_list_makes_every_address_sanctioned() {
    let r = resolved("sanctioned_addresses_ETH.txt");
    assert_eq!((r.entries, r.labels.len(), r.invalid.len()), (152, 152, 0));
    assert_eq!(by_category(&r), [("sanctioned".to_string(), 152)].into());
    for address in [RONIN, POOLS[1].1] {
        let l = labels_of(&r, address);
        assert_eq!(l.len(), 1, "{address}");
        assert_eq!((l[0].name.as_str(), l[0].confidence), ("OFAC SDN list", 60));
    }
    // Matching ignores case: the list's checksummed pool is the registry's lower-case one.
    assert_eq!(labels_of(&r, &POOLS[1].1.to_ascii_lowercase()).len(), 1);
}

#[test]
fn etherscan_exports_map_their_label_to_a_category() {
    let tornado = resolved("eth/tornado-cash.csv");
    assert_eq!(tornado.format, Format::Etherscan);
    assert_eq!((tornado.entries, tornado.labels.len()), (63, 63));
    assert_eq!(by_category(&tornado), [("mixer".to_string(), 63)].into());
    let pool = labels_of(&tornado, POOLS[3].1);
    assert_eq!(pool[0].name, "Tornado.Cash: 100 ETH");
    assert_eq!(pool[0].raw_category.as_deref(), Some("tornado-cash"));
    assert_eq!(
        pool[0].source,
        "https://etherscan.io/accounts/label/tornado-cash"
    );
    // A name with a comma, quoted in the export.
    let usdc = labels_of(&tornado, "0xd96f2b1c14db8458374d9aca76e26c3d18364307");
    assert_eq!(usdc[0].name, "Tornado.Cash: 1,000 USDC");

    let kraken = resolved("eth/kraken.csv");
    assert_eq!((kraken.labels.len(), kraken.invalid.len()), (18, 0));
    assert_eq!(by_category(&kraken), [("exchange".to_string(), 18)].into());
    assert_eq!(
        labels_of(&kraken, "0x2910543af39aba0cd09dbb2d50200b3e800a63d2")[0].name,
        "Kraken"
    );

    let mixer = resolved("eth/ethereum-mixer.csv");
    let l = labels_of(&mixer, "0x94a1b5cdb22c43faab4abeb5c74999895464ddaf");
    assert_eq!(
        (l[0].name.as_str(), l[0].category.clone()),
        ("Tornado.Cash: Mixer 1", Category::Mixer)
    );

    // Etherscan leaves deposit addresses unnamed: they are called by their label.
    let deposit = resolved("eth/binance-deposit.csv");
    let l = labels_of(&deposit, "0x49812738c5c5c3f05622fcbfd192a330ba46a7d5");
    assert_eq!(
        (l[0].name.as_str(), l[0].category.clone()),
        ("binance-deposit", Category::Exchange)
    );
}

#[test]
fn the_pool_registry_labels_every_pool_and_entry_contract_mixer() {
    let json = resolved("eth/tornado_pools.json");
    assert_eq!(json.format, Format::Tornado);
    // 19 pools, then the router, the proxy and the old proxy.
    assert_eq!(
        (json.entries, json.labels.len(), json.invalid.len()),
        (22, 22, 0)
    );
    assert_eq!(by_category(&json), [("mixer".to_string(), 22)].into());
    for (denomination, address) in POOLS {
        let l = labels_of(&json, address);
        assert_eq!(l.len(), 1, "{address}");
        assert_eq!(l[0].name, format!("Tornado Cash pool {denomination}"));
        assert_eq!(
            (l[0].category.clone(), l[0].confidence),
            (Category::Mixer, 90)
        );
    }
    let router = labels_of(&json, "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b");
    assert_eq!(router[0].name, "Tornado Cash Router");
    assert_eq!(
        labels_of(&json, "0x722122dF12D4e14e13Ac3b6895a86e84145b6967")[0].name,
        "Tornado Cash Proxy"
    );
    let cdai = labels_of(&json, "0x03893a7c7463ae47d46bc7f091665f1893656003");
    assert_eq!(cdai[0].name, "Tornado Cash pool 50000 cDAI");

    // The headerless CSV form of the same registry gives the same labels.
    let csv = resolved("eth/tornadocontracts.csv");
    assert_eq!(csv.format, Format::Tornado);
    let names = |r: &Resolved| -> Vec<(LabelTarget, String)> {
        r.labels.iter().map(|(t, l)| (*t, l.name.clone())).collect()
    };
    assert_eq!(names(&csv), names(&json));
}

#[test]
fn a_bad_checksum_is_reported_with_file_line_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("case.csv");
    // The 1 ETH pool with the case of its first letter flipped, then a short address.
    let text = "address,label,category,chain\n\
                0x47Ce0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936,pool,mixer,eth\n\
                0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c293,pool,mixer,\n\
                0x47ce0c6ed5b0ce3d3a51fdb1c52dc66a7c3c2936,pool,mixer,\n";
    std::fs::write(&csv, text).unwrap();
    let r = resolve(
        parse_file(&csv, None, &ParseOptions::default()).unwrap(),
        Network::Main,
    );
    assert_eq!(r.labels.len(), 1);
    let bad: Vec<(Location, &str)> = r.invalid.iter().map(|i| (i.at, i.text.as_str())).collect();
    assert_eq!(
        bad,
        [
            (
                Location::line(2),
                "0x47Ce0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936"
            ),
            (
                Location::line(3),
                "0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c293"
            )
        ]
    );
    assert!(r.invalid[0]
        .reason
        .contains("fails its EIP-55 checksum (mixed case must read 0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936)"));
    assert!(r.invalid[1].reason.contains("39 characters after 0x"));

    // In a TagPack the tag number is reported too.
    let pack = dir.path().join("pack.yaml");
    std::fs::write(
        &pack,
        "title: t\ncurrency: ETH\nlabel: L\ntags:\n- address: '0x098b716b8aaf21512996dc57eb0615e2383e2f96'\n- address: '0x098B716B8Aaf21512996dC57EB0615e2383E2F96'\n",
    )
    .unwrap();
    let r = resolve(
        parse_file(&pack, None, &ParseOptions::default()).unwrap(),
        Network::Main,
    );
    assert_eq!((r.labels.len(), r.invalid.len()), (1, 1));
    assert_eq!(r.invalid[0].at, Location::tag(6, 2));
    assert!(r.invalid[0].reason.contains(RONIN));
}

#[test]
fn truncated_json_is_malformed_and_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::read_to_string(fixture("eth/tornado_pools.json")).unwrap();
    // Cut in the middle of line 7 (the 0.1 ETH pool).
    let cut = real.lines().take(6).collect::<Vec<_>>().join("\n") + "\n    \"0x12d66f8";
    let path = dir.path().join("tornado_pools.json");
    std::fs::write(&path, cut).unwrap();
    let err = parse_file(&path, Some(Format::Tornado), &ParseOptions::default()).unwrap_err();
    match &err {
        LabelError::Malformed { path: p, line, .. } => {
            assert_eq!((p.as_str(), *line), (path.to_str().unwrap(), 7));
        }
        other => panic!("expected a malformed-file error, got {other:?}"),
    }
    assert!(err.to_string().starts_with(&format!(
        "{}:7: not a Tornado Cash pool object",
        path.display()
    )));

    let accounts = dir.path().join("combinedAccountLabels.json");
    std::fs::write(
        &accounts,
        "{\"0xab\": {\"name\": \"Kraken\", \"labels\": [\"kra",
    )
    .unwrap();
    let err = parse_file(&accounts, Some(Format::Etherscan), &ParseOptions::default());
    assert!(
        matches!(err, Err(LabelError::Malformed { line: 1, .. })),
        "{err:?}"
    );
}

/// An index holding one Ethereum block whose only transfer pays the 1 ETH pool.
fn index_with_pool(dir: &Path) -> Store {
    let store = Store::open(dir, OpenMode::Create).unwrap();
    let pool: Address = POOLS[1].1.parse().unwrap();
    let block = ExtractedBlock {
        number: 0,
        hash: B256::repeat_byte(1),
        parent_hash: B256::ZERO,
        timestamp: 0,
        miner: Address::ZERO,
        base_fee: None,
        txs: Vec::new(),
        credits: vec![RawTransfer {
            kind: TransferKind::Withdrawal,
            asset: None,
            from: Address::ZERO,
            to: pool,
            amount: U256::from(1u64),
        }],
        contracts: Vec::new(),
    };
    EthWriter::open(&store, 1, 0)
        .unwrap()
        .apply(&block)
        .unwrap();
    store
}

#[test]
fn import_counts_the_ethereum_addresses_the_index_does_not_hold() {
    let dir = tempfile::tempdir().unwrap();
    let store = index_with_pool(dir.path());
    let report = import(&store, &resolved("eth/tornado_pools.json")).unwrap();
    let counts = (
        report.labels,
        report.eth_addresses,
        report.eth_addresses_not_in_index,
        report.addresses,
        report.outputs,
    );
    assert_eq!(counts, (22, 22, 21, 0, 0), "the 1 ETH pool is indexed");

    let labels = LabelStore::new(&store);
    let pool = parse_eth_address(POOLS[1].1).unwrap();
    let found = labels.of_eth_addr(&pool.0 .0).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.name, "Tornado Cash pool 1 ETH");

    // OFAC's list adds a second, sanctioned label to the same pool.
    let ofac = import(&store, &resolved("sanctioned_addresses_ETH.txt")).unwrap();
    assert_eq!(
        (ofac.eth_addresses, ofac.eth_addresses_not_in_index),
        (152, 151)
    );
    let categories: Vec<Category> = labels
        .of_eth_addr(&pool.0 .0)
        .unwrap()
        .into_iter()
        .map(|(_, l)| l.category)
        .collect();
    assert_eq!(categories, [Category::Mixer, Category::Sanctioned]);
}
