//! Real mainnet data through the real ingest path: the first 439 blocks from blk files, the
//! btcd 1–255 file (which lacks genesis), large segwit blocks, and block 277,647 with every
//! prevout (from btcd's UTXO fixture) indexed as a partial index.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use bitcoin::hashes::Hash;
use chaintrace_ingest::bitcoin::parse::parse_block;
use chaintrace_ingest::bitcoin::{ingest_blocks_dir, BulkOptions};
use chaintrace_ingest::NoProgress;
use chaintrace_model::btc::{AddrKey, ScriptKind};
use chaintrace_model::Network;
use chaintrace_store::btc::{
    display_hash, parse_display_hash, BtcIndex, BtcWriter, NewOutput, WriterOptions,
};
use chaintrace_store::records::PrevTx;
use chaintrace_store::{OpenMode, Store};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/btc/mainnet")
        .join(name)
}

fn bunzip(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    bzip2::read::BzDecoder::new(std::fs::File::open(fixture(name)).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A blocks directory holding `bytes` as blk00000.dat.
fn blocks_dir(bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blk00000.dat"), bytes).unwrap();
    dir
}

fn ingest(store: &Store, dir: &Path) -> chaintrace_ingest::bitcoin::IngestReport {
    ingest_blocks_dir(store, dir, &BulkOptions::new(Network::Main), &NoProgress).unwrap()
}

fn h(s: &str) -> [u8; 32] {
    parse_display_hash(s).unwrap()
}

#[test]
fn first_439_mainnet_blocks() {
    let src = blocks_dir(&std::fs::read(fixture("first-100k-blocks.dat")).unwrap());
    let db = tempfile::tempdir().unwrap();
    let store = Store::open(db.path(), OpenMode::Create).unwrap();
    let report = ingest(&store, src.path());
    assert_eq!((report.blocks, report.txs), (439, 446));
    let idx = BtcIndex::new(&store);
    let hashes = [
        (
            0,
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
        ),
        (
            1,
            "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
        ),
        (
            11,
            "0000000097be56d606cdd9c54b04d4747e957d3608abe69198c661f2add73073",
        ),
        (
            170,
            "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee",
        ),
        (
            255,
            "00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c",
        ),
        (
            438,
            "0000000025c6b644f8add734be7e666fa4afa43ca0204d623a0c0b1fd2104c7a",
        ),
    ];
    for (height, hash) in hashes {
        assert_eq!(
            display_hash(&idx.block(height).unwrap().unwrap().hash),
            hash,
            "height {height}"
        );
        assert_eq!(idx.block_height(&h(hash)).unwrap(), Some(height));
    }
    let state = idx.state().unwrap().unwrap();
    assert_eq!(
        (state.blocks(), state.next_tx, state.tip.unwrap().0),
        (439, 446, 438)
    );
    assert_eq!(idx.block(170).unwrap().unwrap().tx_count, 2);

    // The first transaction that is not a coinbase: Satoshi pays Hal Finney 10 BTC.
    let (num, tx) = idx
        .tx_by_txid(&h(
            "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16",
        ))
        .unwrap()
        .unwrap();
    assert_eq!(tx.height, 170);
    assert_eq!(tx.inputs.len(), 1);
    let input = &tx.inputs[0];
    let coinbase9 = h("0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9");
    let (cb_num, cb) = idx.tx_by_txid(&coinbase9).unwrap().unwrap();
    assert!(cb.coinbase && cb.height == 9);
    assert_eq!(input.prev_tx, PrevTx::Indexed(cb_num));
    assert_eq!(
        (input.vout, input.value, input.kind),
        (0, 50 * 100_000_000, ScriptKind::P2pk)
    );
    let addr = |id| {
        idx.addr_key(id)
            .unwrap()
            .unwrap()
            .to_address_string(Network::Main)
    };
    assert_eq!(addr(input.addr), "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S");
    assert_eq!(
        tx.outputs.iter().map(|o| o.value).collect::<Vec<_>>(),
        vec![1_000_000_000, 4_000_000_000]
    );
    assert_eq!(
        addr(tx.outputs[0].addr),
        "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"
    );
    assert_eq!(
        addr(tx.outputs[1].addr),
        "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"
    );
    assert_eq!(tx.fee(), 0);
    let spend = idx.spender(cb_num, 0).unwrap().unwrap();
    assert_eq!((spend.tx, spend.input), (num, 0));

    // Genesis pays Satoshi's famous address; its output is unspendable in practice and unspent here.
    let genesis = idx.tx(chaintrace_model::TxNum(0)).unwrap().unwrap();
    assert_eq!(
        addr(genesis.outputs[0].addr),
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    );
    let key = AddrKey::parse("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", Network::Main).unwrap();
    assert_eq!(idx.addr_id(&key).unwrap(), Some(genesis.outputs[0].addr));
}

#[test]
fn btcd_file_without_genesis_then_overlapping_file_gives_the_same_index() {
    let btcd = blocks_dir(&bunzip("blocks1-256.bz2"));
    let bitcoinj = blocks_dir(&std::fs::read(fixture("first-100k-blocks.dat")).unwrap());

    let db = tempfile::tempdir().unwrap();
    let store = Store::open(db.path(), OpenMode::Create).unwrap();
    let first = ingest(&store, btcd.path());
    assert_eq!(first.blocks, 256, "genesis comes built in");
    assert_eq!(
        first.tip_hash.as_deref(),
        Some("00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c")
    );
    assert_eq!(first.txs, 263);
    let again = ingest(&store, btcd.path());
    assert_eq!(again.blocks, 0, "rerunning adds nothing");
    let extended = ingest(&store, bitcoinj.path());
    assert_eq!((extended.blocks, extended.tip_height), (183, Some(438)));

    let db2 = tempfile::tempdir().unwrap();
    let direct = Store::open(db2.path(), OpenMode::Create).unwrap();
    ingest(&direct, bitcoinj.path());
    assert_eq!(store.digest().unwrap(), direct.digest().unwrap());
}

/// Facts from the fixture manifest: tx count, segwit tx count, inputs, outputs.
#[test]
fn large_segwit_blocks_parse_and_validate() {
    let cases = [
        ("block-574200.blk", 574_200, 3_315, 1_341, 5_055, 8_150),
        ("block-540107.blk", 540_107, 230, 104, 7_033, 472),
        ("block-702861.raw", 702_861, 2_500, 2_065, 6_518, 6_015),
        ("block-481829.raw", 481_829, 2_020, 1, 0, 0),
    ];
    for (file, height, txs, segwit, inputs, outputs) in cases {
        let raw = std::fs::read(fixture(file)).unwrap();
        let block: bitcoin::Block = bitcoin::consensus::deserialize(&raw).unwrap();
        let parsed = parse_block(
            &raw,
            Some(block.block_hash().to_byte_array()),
            height,
            [0; 32],
        )
        .unwrap();
        assert_eq!(parsed.txs.len(), txs, "{file}");
        let n_segwit = block
            .txdata
            .iter()
            .filter(|t| t.input.iter().any(|i| !i.witness.is_empty()))
            .count();
        assert_eq!(n_segwit, segwit, "{file}");
        if inputs > 0 {
            let n_in: usize = block.txdata.iter().map(|t| t.input.len()).sum();
            assert_eq!(n_in, inputs, "{file}");
            assert_eq!(
                parsed.txs.iter().map(|t| t.outputs.len()).sum::<usize>(),
                outputs,
                "{file}"
            );
        }
        // The coinbase claims subsidy plus the block's fees.
        let claimed: u64 = parsed.txs[0].outputs.iter().map(|o| o.value).sum();
        assert!(
            claimed > Network::Main.subsidy(height),
            "{file}: fees are positive"
        );
        // Witness data is committed: a flipped witness byte must be caught.
        if segwit > 0 {
            let mut bad = block.clone();
            let tx = bad
                .txdata
                .iter_mut()
                .find(|t| t.input.iter().any(|i| !i.witness.is_empty()))
                .unwrap();
            let mut items: Vec<Vec<u8>> = tx.input[0].witness.iter().map(<[u8]>::to_vec).collect();
            if let Some(first) = items.iter_mut().find(|i| !i.is_empty()) {
                first[0] ^= 1;
            }
            tx.input[0].witness = bitcoin::Witness::from_slice(&items);
            let raw_bad = bitcoin::consensus::serialize(&bad);
            let err = parse_block(&raw_bad, None, height, [0; 32]).unwrap_err();
            assert!(err.contains("witness commitment"), "{file}: {err}");
        }
    }
}

/// btcd's compressed-UTXO fixture: every prevout of block 277,647.
fn utxostore_277647() -> HashMap<([u8; 32], u32), NewOutput> {
    let data = bunzip("277647.utxostore.bz2");
    let mut out = HashMap::new();
    let mut p = 0;
    while p < data.len() {
        let txid: [u8; 32] = data[p..p + 32].try_into().unwrap();
        let vout = u32::from_le_bytes(data[p + 32..p + 36].try_into().unwrap());
        let len = u32::from_le_bytes(data[p + 36..p + 40].try_into().unwrap()) as usize;
        let entry = &data[p + 40..p + 40 + len];
        out.insert((txid, vout), decode_compressed_utxo(entry));
        p += 40 + len;
    }
    out
}

fn vlq(b: &[u8], p: &mut usize) -> u64 {
    let mut n = 0u64;
    loop {
        let c = b[*p];
        *p += 1;
        n = (n << 7) | u64::from(c & 0x7f);
        if c & 0x80 == 0 {
            return n;
        }
        n += 1;
    }
}

fn decompress_amount(x: u64) -> u64 {
    if x == 0 {
        return 0;
    }
    let mut x = x - 1;
    let e = x % 10;
    x /= 10;
    let mut n = if e < 9 {
        let d = x % 9 + 1;
        x /= 9;
        x * 10 + d
    } else {
        x + 1
    };
    for _ in 0..e {
        n *= 10;
    }
    n
}

fn decode_compressed_utxo(b: &[u8]) -> NewOutput {
    use bitcoin::script::ScriptBuf;
    let mut p = 0;
    let _height_and_coinbase = vlq(b, &mut p);
    let value = decompress_amount(vlq(b, &mut p));
    let code = vlq(b, &mut p);
    let rest = &b[p..];
    let script = match code {
        0 => ScriptBuf::new_p2pkh(&bitcoin::PubkeyHash::from_slice(&rest[..20]).unwrap()),
        1 => ScriptBuf::new_p2sh(&bitcoin::ScriptHash::from_slice(&rest[..20]).unwrap()),
        2..=5 => {
            let mut compressed = vec![if code >= 4 {
                code as u8 - 2
            } else {
                code as u8
            }];
            compressed.extend_from_slice(&rest[..32]);
            let key = bitcoin::secp256k1::PublicKey::from_slice(&compressed).unwrap();
            let bytes = if code >= 4 {
                key.serialize_uncompressed().to_vec()
            } else {
                key.serialize().to_vec()
            };
            let mut s = vec![bytes.len() as u8];
            s.extend_from_slice(&bytes);
            s.push(0xac);
            ScriptBuf::from_bytes(s)
        }
        n => ScriptBuf::from_bytes(rest[..(n - 6) as usize].to_vec()),
    };
    let (kind, addr) = chaintrace_model::btc::classify(&script);
    NewOutput { value, kind, addr }
}

#[test]
fn block_277647_with_all_prevouts_has_the_known_fees() {
    let record = bunzip("277647.dat.bz2");
    assert_eq!(&record[..4], &Network::Main.magic());
    let raw = &record[8..];
    let hash = h("0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8");
    let block = parse_block(raw, Some(hash), 277_647, [0; 32]).unwrap();
    assert_eq!(block.txs.len(), 213);
    let prevouts = utxostore_277647();
    assert_eq!(prevouts.len(), 732);

    let db = tempfile::tempdir().unwrap();
    let store = Store::open(db.path(), OpenMode::Create).unwrap();
    let mut w = BtcWriter::new(&store, Network::Main, 277_647, WriterOptions::default()).unwrap();
    let unknown = w.unknown_prevouts(&block).unwrap();
    // 62 inputs spend outputs of earlier transactions in the same block; the rest lie below.
    assert_eq!(unknown.len(), 670);
    assert!(unknown.iter().all(|k| prevouts.contains_key(k)));
    w.apply_block(&block, &prevouts).unwrap();
    let state = w.finish().unwrap();
    assert_eq!(
        (
            state.start_height,
            state.blocks(),
            state.inputs,
            state.outputs
        ),
        (277_647, 1, 732, 769)
    );

    let idx = BtcIndex::new(&store);
    let (mut fees, mut external) = (0, 0);
    for n in 0..213 {
        let tx = idx.tx(chaintrace_model::TxNum(n)).unwrap().unwrap();
        fees += tx.fee();
        external += tx
            .inputs
            .iter()
            .filter(|i| matches!(i.prev_tx, PrevTx::External(_)))
            .count();
        for i in &tx.inputs {
            let expected = prevouts.values().any(|p| p.value == i.value);
            assert!(expected, "input value {} is a known prevout value", i.value);
        }
    }
    assert_eq!(fees, 4_737_355);
    assert_eq!(external, 670);
    let coinbase = idx.tx(chaintrace_model::TxNum(0)).unwrap().unwrap();
    assert_eq!(coinbase.output_value(), 2_504_737_355);
    assert_eq!(
        coinbase.output_value() - Network::Main.subsidy(277_647),
        fees
    );
}
