//! The Ethereum writer: ids, balances and histories as written, and rollback that leaves the
//! index byte-identical to one that never saw the block.

use chaintrace_model::eth::{
    Address, AssetId, EventNum, ExtractedBlock, ExtractedTx, GasPricing, MixerEvent, MixerLogs,
    RawTransfer, TransferKind, B256, U256,
};
use chaintrace_model::{AddrId, TxNum};
use chaintrace_store::eth::{EthIndex, EthWriter, MixerRow, StoredMixerEvent};
use chaintrace_store::{OpenMode, Store};

fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

fn hash(n: u8) -> B256 {
    B256::repeat_byte(n)
}

fn t(
    kind: TransferKind,
    asset: Option<Address>,
    from: Address,
    to: Address,
    v: u64,
) -> RawTransfer {
    RawTransfer {
        kind,
        asset,
        from,
        to,
        amount: U256::from(v),
    }
}

fn tx(n: u8, from: Address, to: Address, transfers: Vec<RawTransfer>) -> ExtractedTx {
    ExtractedTx {
        hash: hash(0x80 + n),
        index: 0,
        from,
        to: Some(to),
        created: None,
        success: true,
        gas_used: 21_000,
        effective_gas_price: 1,
        value: U256::ZERO,
        transfers,
        pricing: GasPricing::Legacy { gas_price: 1 },
        mixer: MixerLogs::default(),
    }
}

fn block(number: u64, parent: B256, txs: Vec<ExtractedTx>) -> ExtractedBlock {
    ExtractedBlock {
        number,
        hash: hash(number as u8 + 1),
        parent_hash: parent,
        timestamp: 1_700_000_000 + number,
        miner: addr(0xee),
        base_fee: Some(7),
        txs,
        credits: vec![],
        contracts: vec![],
    }
}

/// Three blocks: A is funded, pays B ether and a token, B pays C.
fn chain() -> Vec<ExtractedBlock> {
    let (a, b, c, token) = (addr(0xa), addr(0xb), addr(0xc), addr(0x70));
    let mut b0 = block(0, B256::ZERO, vec![]);
    b0.credits = vec![t(TransferKind::Withdrawal, None, Address::ZERO, a, 1_000)];
    let mut b1 = block(
        1,
        b0.hash,
        vec![tx(
            1,
            a,
            b,
            vec![
                t(TransferKind::GasBurn, None, a, Address::ZERO, 4),
                t(TransferKind::GasTip, None, a, addr(0xee), 3),
                t(TransferKind::TxValue, None, a, b, 600),
                t(TransferKind::Token, Some(token), Address::ZERO, b, 50),
            ],
        )],
    );
    b1.contracts = vec![token];
    let b2 = block(
        2,
        b1.hash,
        vec![tx(
            2,
            b,
            c,
            vec![
                t(TransferKind::TxValue, None, b, c, 700),
                t(TransferKind::Token, Some(token), b, c, 20),
            ],
        )],
    );
    vec![b0, b1, b2]
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path(), OpenMode::Create).unwrap()
}

#[test]
fn blocks_become_events_histories_and_balances() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut w = EthWriter::open(&store, 1, 0).unwrap();
    for b in chain() {
        w.apply(&b).unwrap();
    }
    let idx = EthIndex::new(&store);
    let state = idx.state().unwrap().unwrap();
    assert_eq!(state.tip.unwrap().0, 2);
    assert_eq!((state.next_tx, state.next_event), (2, 7));
    let a = idx.addr_id(&addr(0xa)).unwrap().unwrap();
    let b = idx.addr_id(&addr(0xb)).unwrap().unwrap();
    let token = AssetId::token(idx.addr_id(&addr(0x70)).unwrap().unwrap());
    assert_eq!(idx.addr_id(&Address::ZERO).unwrap(), Some(AddrId::NONE));
    assert_eq!(idx.balance(a, AssetId::ETH).unwrap(), U256::from(393u64));
    // B spent 700 with 600 indexed: an index that starts late clamps at zero.
    assert_eq!(idx.balance(b, AssetId::ETH).unwrap(), U256::ZERO);
    assert_eq!(idx.balance(b, token).unwrap(), U256::from(30u64));
    assert_eq!(idx.assets_of(b).unwrap(), vec![AssetId::ETH, token]);
    assert!(idx.is_contract(token.contract().unwrap()).unwrap());
    let hist = idx.history(a, AssetId::ETH, EventNum(0), 10).unwrap();
    let events: Vec<u64> = hist.iter().map(|(e, _)| e.0).collect();
    assert_eq!(events, vec![0, 1, 2, 3]);
    let back = idx.history_back(a, AssetId::ETH, EventNum(3), 10).unwrap();
    assert_eq!(back, vec![EventNum(2), EventNum(1), EventNum(0)]);
    assert_eq!(
        idx.history_back(a, AssetId::ETH, EventNum(9), 1).unwrap(),
        vec![EventNum(3)]
    );
    assert!(idx
        .history_back(a, AssetId::ETH, EventNum(0), 5)
        .unwrap()
        .is_empty());
    assert_eq!(
        idx.balance_before(a, AssetId::ETH, EventNum(3)).unwrap(),
        U256::from(993u64)
    );
    assert_eq!(
        idx.balance_before(a, AssetId::ETH, EventNum(0)).unwrap(),
        U256::ZERO
    );
    let tx = idx.tx(TxNum(1)).unwrap();
    assert_eq!((tx.first_event, tx.event_count, tx.height), (5, 2, 2));
    assert_eq!(idx.tx_num(&hash(0x82).0).unwrap(), Some(TxNum(1)));
    let ev = idx.event(EventNum(6)).unwrap();
    assert_eq!(ev.height, 2);
    assert_eq!(ev.transfer.asset, token);
    assert_eq!(ev.transfer.tx, Some(TxNum(1)));
    assert_eq!(idx.event(EventNum(0)).unwrap().transfer.tx, None);
}

#[test]
fn rollback_restores_the_exact_index() {
    let blocks = chain();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (s1, s2) = (open(&d1), open(&d2));
    let mut w1 = EthWriter::open(&s1, 1, 0).unwrap();
    for b in &blocks[..2] {
        w1.apply(b).unwrap();
    }
    let before = s1.digest().unwrap().sha256;
    let mut w2 = EthWriter::open(&s2, 1, 0).unwrap();
    for b in &blocks {
        w2.apply(b).unwrap();
    }
    w2.rollback_tip().unwrap();
    assert_eq!(s2.digest().unwrap().sha256, before);
    w2.rollback_tip().unwrap();
    w2.rollback_tip().unwrap();
    assert_eq!(EthIndex::new(&s2).state().unwrap().unwrap().tip, None);
    // Applying again after a full rollback gives the same rows.
    for b in &blocks[..2] {
        w2.apply(b).unwrap();
    }
    assert_eq!(s2.digest().unwrap().sha256, before);
}

#[test]
fn blocks_out_of_place_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let blocks = chain();
    let mut w = EthWriter::open(&store, 1, 0).unwrap();
    w.apply(&blocks[0]).unwrap();
    let digest = store.digest().unwrap().sha256;
    let err = w.apply(&blocks[2]).unwrap_err().to_string();
    assert!(err.contains("expects height 1"), "{err}");
    let mut orphan = blocks[1].clone();
    orphan.parent_hash = hash(0x55);
    let err = w.apply(&orphan).unwrap_err().to_string();
    assert!(err.contains("is not the indexed tip"), "{err}");
    assert_eq!(store.digest().unwrap().sha256, digest);
    assert!(EthWriter::open(&store, 5, 0).is_err(), "another chain id");
}

fn deposit(pool: Address, leaf: u32) -> MixerEvent {
    MixerEvent::Deposit {
        contract: pool,
        commitment: B256::repeat_byte(0xc0 + leaf as u8),
        leaf_index: leaf,
        timestamp: 1_700_000_000 + u64::from(leaf),
    }
}

/// Blocks 3 and 4 on top of `chain()`: deposits into two pools, then a withdrawal from the
/// first to a fresh address and a second deposit in the same transaction's neighbour.
fn mixer_chain() -> Vec<ExtractedBlock> {
    let (pool, other, relayer, fresh) = (addr(0x90), addr(0x91), addr(0x4e), addr(0xf1));
    let mut blocks = chain();
    let mut d = tx(3, addr(0xa), pool, vec![]);
    d.pricing = GasPricing::Legacy {
        gas_price: 27_400_000_000,
    };
    d.mixer.events = vec![deposit(pool, 0), deposit(other, 0)];
    let b3 = block(3, blocks[2].hash, vec![d]);
    let mut w = tx(4, relayer, pool, vec![]);
    w.mixer.events = vec![MixerEvent::Withdrawal {
        contract: pool,
        to: fresh,
        nullifier_hash: B256::repeat_byte(0x4a),
        relayer,
        fee: U256::from(10u64).pow(U256::from(16u64)),
    }];
    w.mixer.malformed = 1;
    let mut d2 = tx(5, addr(0xb), pool, vec![]);
    d2.index = 1;
    d2.mixer.events = vec![deposit(pool, 1)];
    let b4 = block(4, b3.hash, vec![w, d2]);
    blocks.extend([b3, b4]);
    blocks
}

#[test]
fn mixer_events_are_stored_per_contract_in_chain_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut w = EthWriter::open(&store, 1, 0).unwrap();
    for b in mixer_chain() {
        w.apply(&b).unwrap();
    }
    let idx = EthIndex::new(&store);
    let id = |a: u8| idx.addr_id(&addr(a)).unwrap().expect("indexed");
    let (pool, other) = (id(0x90), id(0x91));
    assert_eq!(idx.mixer_contracts().unwrap(), vec![pool, other]);
    let rows: Vec<MixerRow> = idx
        .mixer_events_of(pool, TxNum(0))
        .collect::<Result<_, _>>()
        .unwrap();
    let keys: Vec<(u64, u32)> = rows.iter().map(|(k, _)| (k.tx.0, k.n)).collect();
    assert_eq!(
        keys,
        [(2, 0), (3, 0), (4, 0)],
        "chain order within the pool"
    );
    let (_, first) = &rows[0];
    assert_eq!((first.height, first.from), (3, id(0xa)));
    assert_eq!(first.block_time, 1_700_000_003);
    assert_eq!(
        first.pricing,
        GasPricing::Legacy {
            gas_price: 27_400_000_000
        }
    );
    // The withdrawal's recipient got an id although no transfer names it.
    let StoredMixerEvent::Withdrawal { to, relayer, .. } = &rows[1].1.event else {
        panic!("a withdrawal: {:?}", rows[1]);
    };
    assert_eq!((*to, *relayer), (id(0xf1), id(0x4e)));
    let deposits = idx.mixer_deposits(pool).count();
    let withdrawals = idx.mixer_withdrawals(pool).count();
    assert_eq!((deposits, withdrawals), (2, 1));
    let in_block_4: Vec<(u64, u32)> = idx
        .mixer_events_in_blocks(4, 9)
        .unwrap()
        .iter()
        .map(|(k, _)| (k.tx.0, k.n))
        .collect();
    assert_eq!(in_block_4, [(3, 0), (4, 0)]);
    let all = idx.mixer_events_in_blocks(0, 4).unwrap();
    let contracts: Vec<AddrId> = all.iter().map(|(k, _)| k.contract).collect();
    assert_eq!(
        contracts,
        [pool, other, pool, pool],
        "all contracts, by tx then position"
    );
    assert!(idx.mixer_events_in_blocks(5, 9).unwrap().is_empty());
}

#[test]
fn mixer_events_roll_back_byte_exactly() {
    let blocks = mixer_chain();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (s1, s2) = (open(&d1), open(&d2));
    let mut w1 = EthWriter::open(&s1, 1, 0).unwrap();
    for b in &blocks[..3] {
        w1.apply(b).unwrap();
    }
    let fresh = s1.digest().unwrap().sha256;
    let mut w2 = EthWriter::open(&s2, 1, 0).unwrap();
    for b in &blocks {
        w2.apply(b).unwrap();
    }
    let full = s2.digest().unwrap().sha256;
    w2.rollback_tip().unwrap();
    w2.rollback_tip().unwrap();
    assert_eq!(s2.digest().unwrap().sha256, fresh);
    assert!(EthIndex::new(&s2).mixer_contracts().unwrap().is_empty());
    for b in &blocks[3..] {
        w2.apply(b).unwrap();
    }
    assert_eq!(
        s2.digest().unwrap().sha256,
        full,
        "re-applied rows are identical"
    );
}
