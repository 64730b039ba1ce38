//! An in-memory UTXO ledger: for tests, examples and benchmarks that need transaction graphs
//! of a precise shape without building blocks.

use chaintrace_model::btc::ScriptKind;
use chaintrace_model::{AddrId, TxNum};

use crate::ledger::{InView, OutRef, OutView, TraceError, TxView, UtxoLedger};

/// Transactions in chain order; each block's first transaction is its coinbase.
#[derive(Default, Clone)]
pub struct MemLedger {
    txs: Vec<TxView>,
    blocks: Vec<(TxNum, u32)>,
    subsidy: u64,
}

impl MemLedger {
    pub fn new(subsidy: u64) -> Self {
        MemLedger {
            subsidy,
            ..Default::default()
        }
    }

    /// Starts a block with a coinbase paying `outputs` (value, address).
    pub fn coinbase(&mut self, outputs: &[(u64, u64)]) -> TxNum {
        let height = self.blocks.len() as u32;
        self.blocks.push((TxNum(self.txs.len() as u64), 0));
        self.push(height, true, &[], outputs)
    }

    /// Adds a transaction to the current block.
    pub fn tx(&mut self, inputs: &[OutRef], outputs: &[(u64, u64)]) -> TxNum {
        let height = self
            .blocks
            .len()
            .checked_sub(1)
            .expect("a block was started with coinbase()") as u32;
        self.push(height, false, inputs, outputs)
    }

    fn push(
        &mut self,
        height: u32,
        coinbase: bool,
        inputs: &[OutRef],
        outputs: &[(u64, u64)],
    ) -> TxNum {
        let tx = TxNum(self.txs.len() as u64);
        let mut ins = Vec::with_capacity(inputs.len());
        for prev in inputs {
            let o = &mut self.txs[prev.tx.0 as usize].outputs[prev.vout as usize];
            assert!(o.spent_by.is_none(), "{prev:?} is spent twice");
            o.spent_by = Some(tx);
            ins.push(InView {
                prev: Some(*prev),
                value: o.value,
                addr: o.addr,
                kind: o.kind,
            });
        }
        let outs = outputs
            .iter()
            .map(|(value, addr)| OutView {
                value: *value,
                addr: AddrId(*addr),
                kind: ScriptKind::P2wpkh,
                spent_by: None,
            })
            .collect();
        self.txs.push(TxView {
            tx,
            height,
            coinbase,
            inputs: ins,
            outputs: outs,
        });
        self.blocks.last_mut().expect("block").1 += 1;
        tx
    }

    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }
}

impl UtxoLedger for MemLedger {
    fn tx(&self, tx: TxNum) -> Result<TxView, TraceError> {
        self.txs
            .get(tx.0 as usize)
            .cloned()
            .ok_or_else(|| TraceError::NotFound(format!("no transaction {tx}")))
    }

    fn tx_into(&self, tx: TxNum, view: &mut TxView) -> Result<(), TraceError> {
        let found = self
            .txs
            .get(tx.0 as usize)
            .ok_or_else(|| TraceError::NotFound(format!("no transaction {tx}")))?;
        view.clone_from(found);
        Ok(())
    }

    fn reads_are_slow(&self) -> bool {
        false
    }

    fn block_txs(&self, height: u32) -> Result<(TxNum, u32), TraceError> {
        self.blocks
            .get(height as usize)
            .copied()
            .ok_or_else(|| TraceError::NotFound(format!("no block {height}")))
    }

    fn subsidy(&self, _height: u32) -> u64 {
        self.subsidy
    }
}

/// Shorthand for an output reference.
pub fn out(tx: TxNum, vout: u32) -> OutRef {
    OutRef { tx, vout }
}
