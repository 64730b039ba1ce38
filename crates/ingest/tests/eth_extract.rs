//! Ethereum extraction on recorded mainnet data (`fixtures/eth/mainnet`, see
//! `fixtures/SOURCES.md`). The counts asserted here were checked independently of this code
//! (a separate script over the same files; see the shared data MANIFEST).

use std::path::PathBuf;

use alloy::primitives::{address, b256, keccak256, Address, Bytes, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::trace::parity::LocalizedTransactionTrace;
use alloy::rpc::types::{Block, BlockId, BlockNumberOrTag, TransactionReceipt};
use chaintrace_fixturegen::RpcReplay;
use chaintrace_ingest::ethereum::extract::{
    block_from_json, call_traces_from_json, erc20_transfer, extract_block, trace_transfers,
    ExtractError, ExtractedBlock, InternalTraces, RawTransfer, Receipt, TRANSFER_TOPIC,
};
use chaintrace_model::eth::TransferKind;
use serde_json::{json, Value};

// ------------------------------------------------------------------------------------------
// Loading recordings
// ------------------------------------------------------------------------------------------

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/eth/mainnet")
        .join(path)
}

fn read(path: &str) -> Value {
    let text = std::fs::read_to_string(fixture(path)).expect("fixture file");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// `result` of an ethereum-etl `web3_response.*.json`.
fn etl(path: &str) -> Value {
    read(&format!("ethereum-etl/{path}"))["result"].clone()
}

/// `result` of the (first) response in an erigon rpc-tests file.
fn erigon(path: &str) -> Value {
    let doc = read(&format!("erigon-rpc-tests/{path}"));
    let response = &doc[0]["response"];
    match response.as_array() {
        Some(batch) => batch[0]["result"].clone(),
        None => response["result"].clone(),
    }
}

fn receipts(result: &Value, block: u64) -> Vec<Receipt> {
    Receipt::list_from_json(result, block).expect("receipts parse")
}

fn block_18m() -> (Block, Vec<Receipt>) {
    let block = block_from_json(&erigon("eth_getBlockByNumber/test_08.json"), 18_000_000);
    let receipts = receipts(&erigon("eth_getBlockReceipts/test_02.json"), 18_000_000);
    (block.expect("block 18,000,000 parses"), receipts)
}

fn block_17m() -> (Block, Vec<Receipt>) {
    let block = block_from_json(&erigon("eth_getBlockByHash/test_04.json"), 17_000_000);
    let receipts = receipts(
        &erigon("erigon_getBlockReceiptsByBlockHash/test_01.json"),
        17_000_000,
    );
    (block.expect("block 17,000,000 parses"), receipts)
}

fn parity(path: &str) -> Vec<LocalizedTransactionTrace> {
    serde_json::from_value(etl(path)).expect("parity traces parse")
}

/// The tx hashes of a block by position, as parity traces tell them (the ethereum-etl trace
/// recordings come without their blocks).
fn tx_hashes(traces: &[LocalizedTransactionTrace]) -> Vec<B256> {
    let mut hashes: Vec<(u64, B256)> = traces
        .iter()
        .filter_map(|t| Some((t.transaction_position?, t.transaction_hash?)))
        .collect();
    hashes.dedup();
    hashes.into_iter().map(|(_, hash)| hash).collect()
}

fn transfers(block: &ExtractedBlock, kind: TransferKind) -> Vec<&RawTransfer> {
    block
        .txs
        .iter()
        .flat_map(|tx| &tx.transfers)
        .chain(&block.credits)
        .filter(|t| t.kind == kind)
        .collect()
}

fn transfer_topic_logs(receipts: &[Receipt]) -> usize {
    receipts
        .iter()
        .flat_map(|r| &r.logs)
        .filter(|l| l.topics().first() == Some(&TRANSFER_TOPIC))
        .count()
}

fn eth(kind: TransferKind, from: Address, to: Address, wei: u128) -> RawTransfer {
    RawTransfer {
        kind,
        asset: None,
        from,
        to,
        amount: U256::from(wei),
    }
}

/// Canonical order inside a transaction: gas (burn before tip), the tx value, internal
/// transfers, then token logs.
fn assert_canonical_order(block: &ExtractedBlock) {
    let rank = |kind: TransferKind| match kind {
        TransferKind::GasBurn => 0,
        TransferKind::GasTip => 1,
        TransferKind::TxValue => 2,
        TransferKind::Internal | TransferKind::Create | TransferKind::SelfDestruct => 3,
        TransferKind::Token => 4,
        TransferKind::Reward | TransferKind::Withdrawal => 5,
    };
    for tx in &block.txs {
        let ranks: Vec<u8> = tx.transfers.iter().map(|t| rank(t.kind)).collect();
        assert!(ranks.is_sorted(), "tx {} out of order: {ranks:?}", tx.hash);
        if !tx.success {
            assert!(
                tx.transfers.iter().all(|t| t.kind.is_gas()),
                "failed tx {}",
                tx.hash
            );
        }
    }
    assert!(block.contracts.is_sorted());
    assert!(block.contracts.windows(2).all(|w| w[0] != w[1]));
}

// ------------------------------------------------------------------------------------------
// Whole blocks: block + receipts
// ------------------------------------------------------------------------------------------

#[test]
fn block_18_000_000_has_its_recorded_transfers() {
    let (block, receipts) = block_18m();
    let out = extract_block(&block, &receipts, &InternalTraces::None).expect("extracts");
    assert_eq!(
        out.hash,
        b256!("95b198e154acbfc64109dfd22d8224fe927fd8dfdedfae01587674482ba4baf3")
    );
    assert_eq!(out.number, 18_000_000);
    assert_eq!(out.txs.len(), 94);
    assert_eq!(out.base_fee, Some(21_721_091_641));
    assert_eq!(
        out.miner,
        address!("dafea492d9c6733ae3d56b7ed1adb60692c98bc5")
    );
    // 40 txs carry ETH; tx 27 (0.02861944 ETH) failed, so 39 values moved.
    assert_eq!(out.txs.iter().filter(|t| !t.value.is_zero()).count(), 40);
    let failed = failed_indices(&out);
    assert_eq!(failed, [16, 27]);
    assert_eq!(transfers(&out, TransferKind::TxValue).len(), 39);
    // 143 logs with the Transfer topic: 141 ERC-20 (3 topics) and 2 ERC-721 (4 topics).
    assert_eq!(transfer_topic_logs(&receipts), 143);
    assert_eq!(transfers(&out, TransferKind::Token).len(), 141);
    // Tx 9 deploys a contract.
    assert_eq!(out.txs[9].to, None);
    assert!(out.txs[9].created.is_some());
    assert_canonical_order(&out);
}

#[test]
fn block_18_000_000_withdrawals_are_credits_in_wei() {
    let (block, receipts) = block_18m();
    let out = extract_block(&block, &receipts, &InternalTraces::None).expect("extracts");
    assert_eq!(out.credits.len(), 16);
    assert!(out
        .credits
        .iter()
        .all(|c| c.kind == TransferKind::Withdrawal && c.from == Address::ZERO));
    assert_eq!(
        out.credits[0],
        eth(
            TransferKind::Withdrawal,
            Address::ZERO,
            address!("d7a0b38496064412a8d6b1f77bc30ada93e7b7a5"),
            0xeb0d50 * 1_000_000_000,
        )
    );
    let total: U256 = out.credits.iter().map(|c| c.amount).sum();
    assert_eq!(
        total,
        U256::from(285_023_241u64) * U256::from(1_000_000_000u64)
    );
}

/// Tx 0 of block 18,000,000 (type 2, priority fee 1 gwei), worked by hand:
/// gasUsed 60,440 × baseFee 21,721,091,641 = 1,312,822,778,782,040 wei burnt;
/// effectiveGasPrice 22,721,091,641 − baseFee = 1 gwei, × 60,440 = 60,440,000,000,000 wei tip;
/// together 1,373,262,778,782,040 = gasUsed × effectiveGasPrice.
#[test]
fn post_london_gas_splits_into_burn_and_tip() {
    let (block, receipts) = block_18m();
    let out = extract_block(&block, &receipts, &InternalTraces::None).expect("extracts");
    let tx = &out.txs[0];
    let sender = address!("16d5783a96ab20c9157d7933ac236646b29589a4");
    assert_eq!(tx.from, sender);
    assert_eq!(
        (tx.gas_used, tx.effective_gas_price),
        (60_440, 22_721_091_641)
    );
    assert_eq!(
        tx.transfers[..2],
        [
            eth(
                TransferKind::GasBurn,
                sender,
                Address::ZERO,
                1_312_822_778_782_040
            ),
            eth(TransferKind::GasTip, sender, out.miner, 60_440_000_000_000),
        ]
    );
    assert_eq!(
        1_312_822_778_782_040u128 + 60_440_000_000_000,
        1_373_262_778_782_040
    );
    for tx in &out.txs {
        let gas: U256 = tx
            .transfers
            .iter()
            .filter(|t| t.kind.is_gas())
            .map(|t| t.amount)
            .sum();
        assert_eq!(
            gas,
            U256::from(tx.gas_used) * U256::from(tx.effective_gas_price)
        );
    }
    // Every tx burns gasUsed × baseFee, so the block burns its header gasUsed × baseFee.
    let burnt: U256 = transfers(&out, TransferKind::GasBurn)
        .iter()
        .map(|t| t.amount)
        .sum();
    assert_eq!(
        burnt,
        U256::from(16_247_211u64) * U256::from(21_721_091_641u64)
    );
}

#[test]
fn blob_gas_is_burnt_on_top_of_the_base_fee() {
    let (block, mut receipts) = block_18m();
    let plain = extract_block(&block, &receipts, &InternalTraces::None).expect("extracts");
    receipts[0].blob_gas_used = Some(131_072);
    receipts[0].blob_gas_price = Some(3);
    let blob = extract_block(&block, &receipts, &InternalTraces::None).expect("extracts");
    let burn = |b: &ExtractedBlock| b.txs[0].transfers[0].amount;
    assert_eq!(burn(&blob) - burn(&plain), U256::from(131_072u64 * 3));
    assert_eq!(blob.txs[0].transfers[1], plain.txs[0].transfers[1]);
}

#[test]
fn block_17_000_000_has_its_recorded_transfers() {
    let (block, receipts) = block_17m();
    let out = extract_block(&block, &receipts, &InternalTraces::None).expect("extracts");
    assert_eq!(out.number, 17_000_000);
    assert_eq!(out.txs.len(), 102);
    assert_eq!(out.txs.iter().filter(|t| !t.value.is_zero()).count(), 46);
    let failed = failed_indices(&out);
    assert_eq!(failed, [11, 42, 47, 63, 99, 100]);
    // 112 Transfer-topic logs: 93 ERC-20, 19 ERC-721. Before Shanghai: no withdrawals.
    assert_eq!(transfer_topic_logs(&receipts), 112);
    assert_eq!(transfers(&out, TransferKind::Token).len(), 93);
    assert!(out.credits.is_empty());
    assert_canonical_order(&out);
}

/// The callTracer `withLog` frames of tx 0 of block 17,000,000 carry the same two ERC-20
/// transfers (WETH, then another token) as its receipt, in the same order.
#[test]
fn calltracer_logs_match_the_receipt_logs() {
    let (_, receipts) = block_17m();
    let doc = read("erigon-rpc-tests/debug_traceTransaction/test_138.json");
    let hash = b256!("a278205118a242c87943b9ed83aacafe9906002627612ac3672d8ea224e38181");
    let entry = json!([{ "txHash": hash, "result": doc[0]["response"]["result"] }]);
    let frames = call_traces_from_json(&entry, &[], 17_000_000).expect("callTracer parses");
    let mut from_frames = Vec::new();
    let mut stack = vec![&frames[0].1];
    while let Some(frame) = stack.pop() {
        from_frames.extend(
            frame
                .logs
                .iter()
                .filter_map(|l| erc20_transfer(&l.clone().into_log())),
        );
        stack.extend(frame.calls.iter().rev());
    }
    let from_receipt: Vec<RawTransfer> = receipts[0]
        .logs
        .iter()
        .filter_map(|l| erc20_transfer(&l.inner))
        .collect();
    assert_eq!(receipts[0].tx_hash, hash);
    assert_eq!(from_receipt.len(), 2);
    assert_eq!(from_frames, from_receipt);
    assert_eq!(
        from_receipt[0].asset,
        Some(address!("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"))
    );
}

#[test]
fn a_trace_set_missing_a_tx_is_rejected() {
    let (block, receipts) = block_17m();
    let doc = read("erigon-rpc-tests/debug_traceTransaction/test_138.json");
    let hash = b256!("a278205118a242c87943b9ed83aacafe9906002627612ac3672d8ea224e38181");
    let entry = json!([{ "txHash": hash, "result": doc[0]["response"]["result"] }]);
    let frames = call_traces_from_json(&entry, &[], 17_000_000).expect("callTracer parses");
    let err = extract_block(&block, &receipts, &InternalTraces::CallTracer(frames));
    assert!(
        matches!(err, Err(ExtractError::MissingTrace { block: 17_000_000, tx }) if tx == block_tx(&block, 1)),
        "{err:?}"
    );
}

fn block_tx(block: &Block, index: usize) -> B256 {
    use alloy::network::TransactionResponse;
    block.transactions.as_transactions().expect("full")[index].tx_hash()
}

#[test]
fn pre_byzantium_receipts_of_4_306_306_parse() {
    let result = erigon("eth_getBlockReceipts/test_01.json");
    let receipts = receipts(&result, 4_306_306);
    assert_eq!(receipts.len(), 252);
    assert!(receipts.iter().all(|r| r.status.is_none()));
    assert_eq!(transfer_topic_logs(&receipts), 19);
    let tokens = receipts
        .iter()
        .flat_map(|r| &r.logs)
        .filter_map(|l| erc20_transfer(&l.inner));
    assert_eq!(tokens.count(), 19);
    // alloy's own receipt type reads them too (the state root becomes "no status" here).
    let alloy: Vec<TransactionReceipt> = serde_json::from_value(result).expect("alloy parses");
    let converted: Vec<Receipt> = alloy.iter().map(Receipt::from).collect();
    assert_eq!(converted, receipts);
}

/// Block 20,000,010's receipts hold three blob (type-3) receipts, whose blob gas both readers
/// keep (it is burnt on top of the base fee), and 20 ERC-20 transfers.
#[test]
fn blob_receipts_of_20_000_010_keep_their_blob_gas() {
    let result = erigon("eth_getBlockReceipts/test_10.json");
    let receipts = receipts(&result, 20_000_010);
    assert_eq!(receipts.len(), 40);
    let blobs: Vec<(usize, Option<u64>, Option<u128>)> = receipts
        .iter()
        .enumerate()
        .filter(|(_, r)| r.blob_gas_used.is_some())
        .map(|(i, r)| (i, r.blob_gas_used, r.blob_gas_price))
        .collect();
    assert_eq!(
        blobs,
        [
            (3, Some(131_072), Some(1)),
            (22, Some(524_288), Some(1)),
            (39, Some(131_072), Some(1)),
        ]
    );
    let tokens = receipts
        .iter()
        .flat_map(|r| &r.logs)
        .filter_map(|l| erc20_transfer(&l.inner));
    assert_eq!(tokens.count(), 20);
    let alloy: Vec<TransactionReceipt> = serde_json::from_value(result).expect("alloy parses");
    assert_eq!(
        alloy.iter().map(Receipt::from).collect::<Vec<_>>(),
        receipts
    );
}

fn receipts_483_920() -> Vec<Receipt> {
    let dir = "test_export_receipts_job/receipts_with_logs";
    let mut receipts: Vec<Receipt> = [
        "0x04cbcb236043d8fb7839e07bbc7f5eed692fb2ca55d897f1101eac3e3ad4fab8",
        "0x05287a561f218418892ab053adfb3d919860988b19458c570c5c30f51c146f02",
        "0x463d53f0ad57677a3b430a007c1c31d15d62c37fab5eee598551697c297c235c",
        "0xcea6f89720cc1d2f46cc7a935463ae0b99dd5fad9c91bb7357de5421511cee49",
    ]
    .iter()
    .map(|hash| {
        etl(&format!(
            "{dir}/web3_response.eth_getTransactionReceipt_{hash}.json"
        ))
    })
    .map(|r| serde_json::from_value(r).expect("receipt parses"))
    .collect();
    receipts.sort_by_key(|r| r.tx_index);
    receipts
}

#[test]
fn block_483_920_with_its_four_receipts() {
    let path = "test_export_blocks_job/block_with_logs/web3_response.eth_getBlockByNumber_0x76250_true.json";
    let block = block_from_json(&etl(path), 483_920).expect("block parses");
    let receipts = receipts_483_920();
    let out = extract_block(&block, &receipts, &InternalTraces::None).expect("extracts");
    assert_eq!(out.txs.len(), 4);
    // Pre-Byzantium: no status; every tx used less gas than its limit, so all succeeded.
    assert!(out.txs.iter().all(|t| t.success));
    let tokens = transfers(&out, TransferKind::Token);
    let token = address!("f4eced2f682ce333f96f2d8966c613ded8fc95dd");
    assert_eq!(
        tokens,
        [
            &RawTransfer {
                kind: TransferKind::Token,
                asset: Some(token),
                from: address!("1b63142628311395ceafeea5667e7c9026c862ca"),
                to: address!("ac4df82fe37ea2187bc8c011a23d743b4f39019a"),
                amount: U256::from(100_000u64),
            },
            &RawTransfer {
                kind: TransferKind::Token,
                asset: Some(token),
                from: address!("9b22a80d5c7b3374a05b446081f97d0a34079e7f"),
                to: address!("66f183060253cfbe45beff1e6e7ebbe318c81e56"),
                amount: U256::from(200_000u64),
            },
        ]
    );
    // Pre-London: the whole fee (gasUsed × 50 gwei) is a tip to the miner, nothing burnt.
    assert!(transfers(&out, TransferKind::GasBurn).is_empty());
    let tip = &out.txs[3].transfers[0];
    assert_eq!(tip.kind, TransferKind::GasTip);
    assert_eq!(tip.to, out.miner);
    assert_eq!(tip.amount, U256::from(21_000u64 * 50_000_000_000));
    assert_eq!(transfers(&out, TransferKind::TxValue).len(), 2);
    assert_canonical_order(&out);
}

/// Old Parity receipts lack `from` and `to`, which alloy's receipt type requires.
#[test]
fn old_parity_receipts_need_the_lenient_type() {
    let path = "test_export_receipts_job/receipts_with_logs/web3_response.eth_getTransactionReceipt_0x04cbcb236043d8fb7839e07bbc7f5eed692fb2ca55d897f1101eac3e3ad4fab8.json";
    let raw = etl(path);
    let alloy = serde_json::from_value::<TransactionReceipt>(raw.clone());
    assert!(alloy.is_err_and(|e| e.to_string().contains("missing field `from`")));
    let ours: Receipt = serde_json::from_value(raw).expect("lenient receipt parses");
    assert_eq!((ours.status, ours.gas_used), (None, 0xc6a5));
}

#[test]
fn block_1_755_635_with_its_two_receipts() {
    let dir = "test_stream/blocks_1755634_1755635";
    let block = block_from_json(
        &etl(&format!(
            "{dir}/web3_response.eth_getBlockByNumber_0x1ac9f3_true.json"
        )),
        1_755_635,
    )
    .expect("block parses");
    let receipts: Vec<Receipt> = [
        "0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d",
        "0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb",
    ]
    .iter()
    .map(|h| {
        etl(&format!(
            "{dir}/web3_response.eth_getTransactionReceipt_{h}.json"
        ))
    })
    .map(|r| serde_json::from_value(r).expect("receipt parses"))
    .collect();
    let out = extract_block(&block, &receipts, &InternalTraces::None).expect("extracts");
    assert_eq!(out.txs.len(), 2);
    assert_eq!(
        transfers(&out, TransferKind::Token),
        [&RawTransfer {
            kind: TransferKind::Token,
            asset: Some(address!("bb9bc244d798123fde783fcc1c72d3bb8c189413")),
            from: address!("6498077292a0921c8804924fdf47b5e91e2a215f"),
            to: address!("8b3b3b624c3c0397d3da8fd861512393d51dcbac"),
            amount: U256::from(5_000_000_000_000_000_000u64),
        }]
    );
    // The second receipt's log emitter is a contract; so is the first log's token.
    assert!(out
        .contracts
        .contains(&address!("8b3b3b624c3c0397d3da8fd861512393d51dcbac")));
    assert!(out
        .contracts
        .contains(&address!("bb9bc244d798123fde783fcc1c72d3bb8c189413")));
}

// ------------------------------------------------------------------------------------------
// Traces
// ------------------------------------------------------------------------------------------

fn traces_of_10m() -> Vec<LocalizedTransactionTrace> {
    serde_json::from_value(erigon("trace_filter/test_20.json")).expect("traces parse")
}

/// Block 10,000,000's `trace_filter`: 278 traces over all 103 txs. Of the 13 inner call
/// traces with a nonzero value, 6 are DELEGATECALLs (which only display the parent's value), so
/// 7 internal transfers move ETH. The one suicide has a zero balance, so it moves nothing.
#[test]
fn block_10_000_000_parity_traces() {
    let traces = traces_of_10m();
    assert_eq!(traces.len(), 278);
    let out = trace_transfers(&InternalTraces::Parity(traces), 10_000_000, false).expect("ok");
    let receipts = receipts(
        &erigon("erigon_getBlockReceiptsByBlockHash/test_06.json"),
        10_000_000,
    );
    assert_eq!(receipts.len(), 103);
    let traced: Vec<B256> = out.txs.iter().map(|t| t.hash).collect();
    let receipted: Vec<B256> = receipts.iter().map(|r| r.tx_hash).collect();
    assert_eq!(traced, receipted);
    // The trace's top-level errors are exactly the failed receipts.
    let failed: Vec<bool> = out.txs.iter().map(|t| t.failed).collect();
    let status: Vec<bool> = receipts.iter().map(|r| r.status == Some(false)).collect();
    assert_eq!(failed, status);
    assert_eq!(failed.iter().filter(|f| **f).count(), 4);
    let internal: Vec<&RawTransfer> = out.txs.iter().flat_map(|t| &t.transfers).collect();
    assert_eq!(internal.len(), 7);
    assert!(internal.iter().all(|t| t.kind == TransferKind::Internal));
    let total: U256 = internal.iter().map(|t| t.amount).sum();
    assert_eq!(total, U256::from(13_822_489_925_908_160_818u128));
    // Tx 78: a CALL at [2,3,3] then one at [2,4], both 4.786744962954080409 ETH, in that order.
    let tx78 = &out.txs[78].transfers;
    assert_eq!(tx78.len(), 2);
    assert_eq!(
        tx78[0].to,
        address!("65bf64ff5f51272f729bdcd7acfb00677ced86cd")
    );
    assert_eq!(
        tx78[1].from,
        address!("65bf64ff5f51272f729bdcd7acfb00677ced86cd")
    );
    // The traces belong to the recorded header, and the reward goes to its miner.
    let header = erigon("erigon_getHeaderByNumber/test_02.json");
    let hash = b256!("aa20f7bde5be60603f11a45fc4923aab7552be775403fc00c2e6b805e6297dbe");
    assert_eq!(header["hash"], json!(hash));
    assert!(traces_of_10m().iter().all(|t| t.block_hash == Some(hash)));
    assert_eq!(header["miner"], json!(out.rewards[0].to));
    // The destructed contract ran code.
    let destructed = address!("b3b2dab0eb3dc7c740889fef87cee59df949ed4b");
    assert!(out.txs[78].contracts.contains(&destructed));
    assert_eq!(
        out.rewards,
        [eth(
            TransferKind::Reward,
            Address::ZERO,
            address!("ea674fdde714fd979de3edf0f56aa9716b898ec8"),
            2_000_000_000_000_000_000,
        )]
    );
}

/// The same ethereum-etl blocks traced by parity (`trace_block`) and by old geth
/// (`callTracer`): identical per-tx transfers; only parity reports the block reward.
#[test]
fn calltracer_and_parity_agree_on_the_same_blocks() {
    for (dir, number) in [
        ("block_with_subtraces", 1_000_000u64),
        ("block_with_create", 1_000_690),
        ("block_with_error", 1_000_895),
    ] {
        let hex = format!("{number:#x}");
        let parity = parity(&format!(
            "test_export_traces_job/{dir}/web3_response.trace_block_{hex}.json"
        ));
        let hashes = tx_hashes(&parity);
        let geth = etl(&format!(
            "test_extract_geth_traces_job/{dir}/web3_response.debug_traceBlockByNumber_{hex}_tracer_calltracer.json"
        ));
        let geth = call_traces_from_json(&geth, &hashes, number).expect("callTracer parses");
        let from_parity = trace_transfers(&InternalTraces::Parity(parity), number, false);
        let from_geth = trace_transfers(&InternalTraces::CallTracer(geth), number, false);
        let (from_parity, from_geth) = (from_parity.expect("parity"), from_geth.expect("geth"));
        assert_eq!(from_parity.txs, from_geth.txs, "block {number}");
        assert_eq!(from_parity.rewards.len(), 1, "block {number}");
        assert_eq!(
            from_parity.rewards[0].amount,
            U256::from(5_000_000_000_000_000_000u64)
        );
        assert!(from_geth.rewards.is_empty());
    }
}

#[test]
fn callcode_value_stays_with_the_caller() {
    let parity = parity(
        "test_export_traces_job/block_with_subtraces/web3_response.trace_block_0xf4240.json",
    );
    let out = trace_transfers(&InternalTraces::Parity(parity), 1_000_000, false).expect("ok");
    let contract = address!("c083e9947cf02b8ffc7d3090ae9aea72df98fd47");
    assert_eq!(
        out.txs[0].transfers,
        [eth(
            TransferKind::Internal,
            contract,
            contract,
            100_000_000_000_000_000_000
        )]
    );
    assert!(out.txs[1].transfers.is_empty());
}

#[test]
fn the_out_of_gas_frame_moves_no_value() {
    let dir = "block_with_error";
    let parity = parity(&format!(
        "test_export_traces_job/{dir}/web3_response.trace_block_0xf45bf.json"
    ));
    let hashes = tx_hashes(&parity);
    let geth = etl(&format!(
        "test_extract_geth_traces_job/{dir}/web3_response.debug_traceBlockByNumber_0xf45bf_tracer_calltracer.json"
    ));
    let geth = call_traces_from_json(&geth, &hashes, 1_000_895).expect("parses");
    for traces in [
        InternalTraces::Parity(parity),
        InternalTraces::CallTracer(geth),
    ] {
        let out = trace_transfers(&traces, 1_000_895, false).expect("ok");
        assert!(out.txs[0].failed);
        assert!(!out.txs[1].failed);
        assert!(out.txs.iter().all(|t| t.transfers.is_empty()));
    }
}

#[test]
fn the_create_of_1_000_690_is_a_contract() {
    let parity =
        parity("test_export_traces_job/block_with_create/web3_response.trace_block_0xf44f2.json");
    let out = trace_transfers(&InternalTraces::Parity(parity), 1_000_690, false).expect("ok");
    let created = address!("a7e3cf952ea8d9438a26ee346c295f1ada328ae1");
    assert_eq!(out.txs[1].contracts, [created]);
}

/// Block 1,011,973: parity reports the SELFDESTRUCT (0.05 ETH back to the caller); the old
/// geth callTracer recorded only `{"type": "SELFDESTRUCT"}`, which must fail loudly, not lose
/// the value.
#[test]
fn the_selfdestruct_is_extracted_from_parity_and_refused_from_a_bare_geth_frame() {
    let dir = "block_with_suicide";
    let parity = parity(&format!(
        "test_export_traces_job/{dir}/web3_response.trace_block_0xf7105.json"
    ));
    let hashes = tx_hashes(&parity);
    let out = trace_transfers(&InternalTraces::Parity(parity), 1_011_973, false).expect("ok");
    assert_eq!(
        out.txs[0].transfers,
        [eth(
            TransferKind::SelfDestruct,
            address!("474faa5018639791952fae334e2911700ac7fe9b"),
            address!("83973747eec131bf9a08ac64fb1a518e891bdf4b"),
            50_000_000_000_000_000,
        )]
    );
    let geth = etl(&format!(
        "test_extract_geth_traces_job/{dir}/web3_response.debug_traceBlockByNumber_0xf7105_tracer_calltracer.json"
    ));
    let geth = call_traces_from_json(&geth, &hashes, 1_011_973).expect("parses leniently");
    // The missing `from` was filled in from the parent frame.
    assert_eq!(
        geth[0].1.calls[0].from,
        address!("474faa5018639791952fae334e2911700ac7fe9b")
    );
    let err = trace_transfers(&InternalTraces::CallTracer(geth), 1_011_973, false).unwrap_err();
    assert!(
        matches!(
            err,
            ExtractError::BadTrace {
                block: 1_011_973,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("SELFDESTRUCT"), "{err}");
}

/// Block 508,110: a block reward and an uncle reward, both to the same miner, in trace order.
#[test]
fn uncle_rewards_come_from_parity_traces() {
    let dir = "test_stream/blocks_508110_508110";
    let parity = parity(&format!("{dir}/web3_response.trace_block_0x7c0ce.json"));
    let out = trace_transfers(&InternalTraces::Parity(parity), 508_110, false).expect("ok");
    let miner = address!("2a65aca4d5fc5b5c859090a6c34d164135398226");
    assert_eq!(
        out.rewards,
        [
            eth(
                TransferKind::Reward,
                Address::ZERO,
                miner,
                0x478eae0e571ba000
            ),
            eth(
                TransferKind::Reward,
                Address::ZERO,
                miner,
                0x340aad21b3b70000
            ),
        ]
    );
    // The recorded block holds tx hashes only, which extraction refuses by name.
    let block = block_from_json(
        &etl(&format!(
            "{dir}/web3_response.eth_getBlockByNumber_0x7c0ce_false.json"
        )),
        508_110,
    )
    .expect("parses");
    let err = extract_block(&block, &[], &InternalTraces::None).unwrap_err();
    assert!(
        matches!(err, ExtractError::HashesOnly { block: 508_110 }),
        "{err}"
    );
}

/// A geth tracetest vector: the frame, with the tx hash keccak(raw tx).
fn tracetest(name: &str) -> (B256, Value) {
    let doc = read(&format!(
        "go-ethereum-tracetest/call_tracer_withLog/{name}.json"
    ));
    let raw: Bytes = serde_json::from_value(doc["input"].clone()).expect("raw tx hex");
    (keccak256(&raw), doc["result"].clone())
}

fn tracetest_transfers(name: &str, block: u64) -> chaintrace_ingest::ethereum::extract::TxTrace {
    let (hash, frame) = tracetest(name);
    let entry = json!([{ "txHash": hash, "result": frame }]);
    let frames = call_traces_from_json(&entry, &[], block).expect("parses");
    let out = trace_transfers(&InternalTraces::CallTracer(frames), block, false).expect("ok");
    out.txs.into_iter().next().expect("one tx")
}

#[test]
fn geth_tracetest_frames() {
    // 995,201: a CALLCODE of 10 ETH; geth names the code address as `to`, the value stays.
    let calldata = tracetest_transfers("calldata", 995_201);
    assert_eq!(
        calldata.hash,
        b256!("187e33084d825a24ea052839e4676161735fb20a0b951e5914b3da82c64bf78c")
    );
    let caller = address!("200edd17f30485a8735878661960cd7a9a95733f");
    assert_eq!(
        calldata.transfers,
        [eth(
            TransferKind::Internal,
            caller,
            caller,
            10_000_000_000_000_000_000
        )]
    );
    // 1,968,180: the tx failed (invalid jump) though a nested call carried 2.3 ETH.
    let failed = tracetest_transfers("tx_failed", 1_968_180);
    assert!(failed.failed && failed.transfers.is_empty());
    // 1,725,116: one inner value call among many zero-value ones.
    let notopic = tracetest_transfers("notopic", 1_725_116);
    assert_eq!(
        notopic.transfers,
        [eth(
            TransferKind::Internal,
            address!("50739060a2c32dc076e507ae1a893aab28ecfe68"),
            address!("88e1315687aec48a72786c6b3b3f075208b62713"),
            0x179d63013c5654,
        )]
    );
    // 765,825: the withLog frame's Transfer log decodes as an ERC-20 transfer.
    let (_, simple) = tracetest("simple");
    let log: alloy::rpc::types::trace::geth::CallLogFrame =
        serde_json::from_value(simple["logs"][0].clone()).expect("log frame");
    let token = erc20_transfer(&log.into_log()).expect("an ERC-20 transfer");
    assert_eq!(
        token.asset,
        Some(address!("f4eced2f682ce333f96f2d8966c613ded8fc95dd"))
    );
}

// ------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------

#[test]
fn garbage_is_a_clear_error_not_a_panic() {
    let err = Receipt::list_from_json(&json!({"not": "receipts"}), 7).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("block 7: could not parse receipts"),
        "{err}"
    );
    let err = block_from_json(&json!(["garbage"]), 7).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("block 7: could not parse block"),
        "{err}"
    );
    let err = block_from_json(&Value::Null, 7).unwrap_err();
    assert!(err.to_string().contains("null"), "{err}");
    let err = call_traces_from_json(&json!({"x": 1}), &[], 7).unwrap_err();
    assert!(
        matches!(err, ExtractError::Malformed { block: 7, .. }),
        "{err}"
    );
    let err = call_traces_from_json(&json!([{"result": {"type": "CALL"}}]), &[], 7).unwrap_err();
    assert!(err.to_string().contains("cannot match"), "{err}");
    let bad = json!([{"txHash": B256::ZERO, "result": {"type": "CALL", "from": 12}}]);
    let err = call_traces_from_json(&bad, &[], 7).unwrap_err();
    assert!(matches!(err, ExtractError::Parse { block: 7, .. }), "{err}");
    let failed = json!([{"txHash": B256::ZERO, "error": "execution timeout"}]);
    let err = call_traces_from_json(&failed, &[], 7).unwrap_err();
    assert!(err.to_string().contains("execution timeout"), "{err}");
}

#[test]
fn receipts_that_do_not_match_the_block_are_rejected() {
    let (block, receipts) = block_18m();
    let err = extract_block(&block, &receipts[..93], &InternalTraces::None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "block 18000000: 93 receipts for 94 transactions"
    );
    let mut swapped = receipts.clone();
    swapped.swap(3, 4);
    let err = extract_block(&block, &swapped, &InternalTraces::None).unwrap_err();
    assert!(
        matches!(err, ExtractError::ReceiptMismatch { index: 3, .. }),
        "{err}"
    );
    let mut priced = receipts;
    priced[5].effective_gas_price = Some(1);
    let err = extract_block(&block, &priced, &InternalTraces::None).unwrap_err();
    assert!(err.to_string().contains("effectiveGasPrice"), "{err}");
}

#[test]
fn traces_of_another_block_are_rejected() {
    let (block, receipts) = block_18m();
    let parity = parity(
        "test_export_traces_job/block_with_subtraces/web3_response.trace_block_0xf4240.json",
    );
    let err = extract_block(&block, &receipts, &InternalTraces::Parity(parity)).unwrap_err();
    assert!(err.to_string().contains("trace of block 1000000"), "{err}");
    let stranger = b256!("ea1093d492a1dcb1bef708f771a99a96ff05dcab81ca76c31940300177fcf49f");
    let frame =
        serde_json::from_value(json!({"type": "CALL", "from": Address::ZERO, "input": "0x"}))
            .expect("frame");
    let traces = InternalTraces::CallTracer(vec![(stranger, frame)]);
    let err = extract_block(&block, &receipts, &traces).unwrap_err();
    assert!(
        matches!(err, ExtractError::UnknownTraceTx { tx, .. } if tx == stranger),
        "{err}"
    );
}

// ------------------------------------------------------------------------------------------
// Over HTTP, through the replay server, with alloy's provider
// ------------------------------------------------------------------------------------------

fn serve_18m() -> RpcReplay {
    let server = RpcReplay::start();
    for path in [
        "eth_getBlockByNumber/test_08.json",
        "eth_getBlockReceipts/test_02.json",
    ] {
        let loaded = server.load_pairs(&fixture(&format!("erigon-rpc-tests/{path}")));
        assert_eq!(loaded.expect("recording loads"), 1);
    }
    server
}

#[tokio::test]
async fn alloy_fetches_and_extracts_block_18_000_000_over_http() {
    let server = serve_18m();
    let provider = ProviderBuilder::new().connect_http(server.url().parse().expect("url"));
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(18_000_000))
        .full()
        .await
        .expect("block call")
        .expect("block exists");
    let receipts = provider
        .get_block_receipts(BlockId::number(18_000_000))
        .await
        .expect("receipts call")
        .expect("receipts exist");
    let receipts: Vec<Receipt> = receipts.iter().map(Receipt::from).collect();
    let fetched = extract_block(&block, &receipts, &InternalTraces::None).expect("extracts");
    let (file_block, file_receipts) = block_18m();
    let from_files = extract_block(&file_block, &file_receipts, &InternalTraces::None);
    assert_eq!(fetched, from_files.expect("extracts"));
    assert_eq!(server.calls("eth_getBlockByNumber"), 1);
    assert_eq!(server.calls("eth_getBlockReceipts"), 1);
    assert_eq!(server.http_requests(), 2);
}

#[tokio::test]
async fn unrecorded_calls_and_injected_failures_surface_as_provider_errors() {
    let server = serve_18m();
    let provider = ProviderBuilder::new().connect_http(server.url().parse().expect("url"));
    let missing = provider
        .get_block_by_number(BlockNumberOrTag::Number(1))
        .await;
    assert!(missing.unwrap_err().to_string().contains("-32000"));
    let unknown = provider.get_chain_id().await;
    assert!(unknown.unwrap_err().to_string().contains("-32601"));
    server.fail_next(1, 429);
    let limited = provider
        .get_block_receipts(BlockId::number(18_000_000))
        .await;
    assert!(limited.unwrap_err().to_string().contains("429"));
    let retried = provider
        .get_block_receipts(BlockId::number(18_000_000))
        .await;
    assert_eq!(retried.expect("answers again").map(|r| r.len()), Some(94));
    assert_eq!(server.calls("eth_getBlockReceipts"), 2);
}

/// ethereum-etl recordings name no request; the test supplies it. The old Parity receipts are
/// fetched raw, into the lenient type, since alloy's typed call would reject them.
#[tokio::test]
async fn ethereum_etl_recordings_replay_with_the_request_the_test_names() {
    let server = RpcReplay::start();
    let dir = fixture("ethereum-etl/test_export_blocks_job/block_with_logs");
    let file = dir.join("web3_response.eth_getBlockByNumber_0x76250_true.json");
    server
        .load_response(&file, "eth_getBlockByNumber", json!(["0x76250", true]))
        .expect("loads");
    let receipts = receipts_483_920();
    let dir = fixture("ethereum-etl/test_export_receipts_job/receipts_with_logs");
    for receipt in &receipts {
        let hash = receipt.tx_hash;
        let file = dir.join(format!(
            "web3_response.eth_getTransactionReceipt_{hash}.json"
        ));
        server
            .load_response(&file, "eth_getTransactionReceipt", json!([hash]))
            .expect("loads");
    }
    let provider = ProviderBuilder::new().connect_http(server.url().parse().expect("url"));
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(483_920))
        .full()
        .await
        .expect("block call")
        .expect("block exists");
    let mut fetched = Vec::new();
    for receipt in &receipts {
        let raw: Receipt = provider
            .raw_request("eth_getTransactionReceipt".into(), (receipt.tx_hash,))
            .await
            .expect("receipt call");
        fetched.push(raw);
    }
    assert_eq!(fetched, receipts);
    let out = extract_block(&block, &fetched, &InternalTraces::None).expect("extracts");
    assert_eq!(transfers(&out, TransferKind::Token).len(), 2);
    assert_eq!(server.calls("eth_getTransactionReceipt"), 4);
}

/// Positions of the block's failed transactions.
fn failed_indices(out: &chaintrace_model::eth::ExtractedBlock) -> Vec<u32> {
    out.txs
        .iter()
        .filter(|t| !t.success)
        .map(|t| t.index)
        .collect()
}
