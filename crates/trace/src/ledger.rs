//! The small interface the UTXO engine needs from an index: a transaction with its resolved
//! inputs, its outputs and who spent them. The Bitcoin index implements it ([`crate::btc`]);
//! tests implement it in memory.

use chaintrace_model::btc::ScriptKind;
use chaintrace_model::{AddrId, TxNum};

/// An output, named by its transaction's dense number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutRef {
    pub tx: TxNum,
    pub vout: u32,
}

/// One input, with its prevout resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InView {
    /// The output it spends; `None` when that output lies below a partial index's start.
    pub prev: Option<OutRef>,
    pub value: u64,
    /// `AddrId::NONE` when the view was read without input addresses (see
    /// [`UtxoLedger::complete_inputs`]).
    pub addr: AddrId,
    pub kind: ScriptKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutView {
    pub value: u64,
    pub addr: AddrId,
    pub kind: ScriptKind,
    /// The transaction that spent it, if any.
    pub spent_by: Option<TxNum>,
}

/// A transaction as the engine sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxView {
    pub tx: TxNum,
    pub height: u32,
    pub coinbase: bool,
    pub inputs: Vec<InView>,
    pub outputs: Vec<OutView>,
}

impl TxView {
    pub fn fee(&self) -> u64 {
        if self.coinbase {
            return 0;
        }
        let total_in: u64 = self.inputs.iter().map(|i| i.value).sum();
        let total_out: u64 = self.outputs.iter().map(|o| o.value).sum();
        total_in.saturating_sub(total_out)
    }
}

/// Why a trace could not run.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Store(#[from] chaintrace_store::StoreError),
    /// A reference (address, txid, output) that is not in the index.
    #[error("{0}")]
    NotFound(String),
    /// A reference or parameter that does not make sense.
    #[error("{0}")]
    Invalid(String),
}

/// Read access to a UTXO ledger. Implementations must be cheap to call from several threads.
pub trait UtxoLedger: Sync {
    fn tx(&self, tx: TxNum) -> Result<TxView, TraceError>;

    /// Reads `tx` into `view`, reusing its allocations: the forward engine reads every step's
    /// transaction this way.
    fn tx_into(&self, tx: TxNum, view: &mut TxView) -> Result<(), TraceError> {
        *view = self.tx(tx)?;
        Ok(())
    }

    /// Several transactions at once (in the order asked). Without `spenders`, outputs'
    /// `spent_by` may be left `None`, which backward walks do not need and which saves reads.
    fn txs(&self, txs: &[TxNum], spenders: bool) -> Result<Vec<TxView>, TraceError> {
        let _ = spenders;
        txs.iter().map(|t| self.tx(*t)).collect()
    }

    /// Whether reading a transaction is slow enough (storage reads) to be worth doing on a
    /// separate thread ahead of time.
    fn reads_are_slow(&self) -> bool {
        true
    }

    /// Transactions of the block at `height`: first number and count.
    fn block_txs(&self, height: u32) -> Result<(TxNum, u32), TraceError>;
    /// Block subsidy at `height`.
    fn subsidy(&self, height: u32) -> u64;

    /// Fills in the inputs' addresses and script kinds of a view that was read without them
    /// (a spend graph keeps only values). Mixer detection needs them; most steps do not.
    fn complete_inputs(&self, view: &mut TxView) -> Result<(), TraceError> {
        let _ = view;
        Ok(())
    }

    /// Whether the ledger is Bitcoin mainnet, where protocol detectors are gated by the
    /// heights at which each protocol started.
    fn mainnet(&self) -> bool {
        false
    }
}
