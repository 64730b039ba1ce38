//! The recorder the story plays through: it submits transactions from impersonated accounts,
//! mines one block per scenario step, checks every receipt's status against the script, and
//! keeps the transaction, block and value-transfer records the manifest is built from.

use std::collections::{BTreeMap, BTreeSet};

use crate::anvil::{Address, Anvil, AnvilError, BlockRef, Receipt, Result, TxRequest};

use super::manifest::{BlockRecord, TxRecord, ValueTransfer};

/// A submitted transaction waiting for its block.
struct Pending {
    hash: String,
    step: String,
    description: String,
    request: TxRequest,
    expect_success: bool,
}

/// Scenario state that every step appends to.
pub(crate) struct Play<'a> {
    pub anvil: &'a Anvil,
    impersonated: BTreeSet<Address>,
    pending: Vec<Pending>,
    pub txs: Vec<TxRecord>,
    pub blocks: Vec<BlockRecord>,
    pub transfers: Vec<ValueTransfer>,
    pub receipts: BTreeMap<String, Receipt>,
}

/// Where a value movement comes from, for [`ValueTransfer::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Tx,
    Internal,
    Token,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Tx => "tx",
            Kind::Internal => "internal",
            Kind::Token => "token",
        }
    }
}

/// One intended movement, recorded with [`Play::flow`].
pub(crate) struct Flow<'s> {
    pub asset: &'s str,
    pub kind: Kind,
    pub from: Address,
    pub to: Address,
    pub amount: u128,
    pub moved: bool,
    pub funds: &'s str,
}

impl<'a> Play<'a> {
    pub fn new(anvil: &'a Anvil) -> Play<'a> {
        Play {
            anvil,
            impersonated: BTreeSet::new(),
            pending: Vec::new(),
            txs: Vec::new(),
            blocks: Vec::new(),
            transfers: Vec::new(),
            receipts: BTreeMap::new(),
        }
    }

    /// Submits a transaction that must succeed; it is mined by the next [`Play::mine`].
    pub fn send(&mut self, step: &str, description: &str, request: TxRequest) -> Result<String> {
        self.submit(step, description, request, true)
    }

    /// Submits a transaction that must fail (receipt status 0).
    pub fn send_failing(
        &mut self,
        step: &str,
        description: &str,
        request: TxRequest,
    ) -> Result<String> {
        self.submit(step, description, request, false)
    }

    fn submit(
        &mut self,
        step: &str,
        description: &str,
        request: TxRequest,
        expect_success: bool,
    ) -> Result<String> {
        if self.impersonated.insert(request.from) {
            self.anvil.impersonate(request.from)?;
        }
        let hash = self
            .anvil
            .submit(&request)
            .map_err(|e| scenario_err(step, format!("{description}: {e}")))?;
        self.pending.push(Pending {
            hash: hash.clone(),
            step: step.to_owned(),
            description: description.to_owned(),
            request,
            expect_success,
        });
        Ok(hash)
    }

    /// A plain ETH transfer (top-level value), recorded as a flow.
    pub fn transfer(
        &mut self,
        step: &str,
        (from, to, amount): (Address, Address, u128),
        tip: u128,
        funds: &str,
        description: &str,
    ) -> Result<String> {
        let request = TxRequest::transfer(from, to, amount).with_tip(tip);
        let hash = self.send(step, description, request)?;
        self.flow(
            &hash,
            step,
            Flow {
                asset: "ETH",
                kind: Kind::Tx,
                from,
                to,
                amount,
                moved: true,
                funds,
            },
        );
        Ok(hash)
    }

    /// Records an intended value movement of transaction `tx`.
    pub fn flow(&mut self, tx: &str, step: &str, flow: Flow<'_>) {
        self.transfers.push(ValueTransfer {
            tx: tx.to_owned(),
            step: step.to_owned(),
            asset: flow.asset.to_owned(),
            kind: flow.kind.as_str().to_owned(),
            from: flow.from,
            to: flow.to,
            amount: flow.amount,
            moved: flow.moved,
            funds: flow.funds.to_owned(),
        });
    }

    /// Mines one block holding every pending transaction, checks their statuses and records
    /// them. Fails if a transaction is missing from the block or has the wrong status.
    pub fn mine(&mut self) -> Result<BlockRef> {
        self.mine_after(self.anvil.block_time())
    }

    /// [`Play::mine`] with the block stamped `spacing` seconds after its parent (time passes
    /// between scenario steps).
    pub fn mine_after(&mut self, spacing: u64) -> Result<BlockRef> {
        let block = self
            .anvil
            .mine_spaced(1, spacing)?
            .pop()
            .ok_or_else(|| scenario_err("mine", "evm_mine mined no block".into()))?;
        self.blocks.push(BlockRecord {
            number: block.number,
            hash: block.hash.clone(),
            timestamp: block.timestamp,
            base_fee_per_gas_wei: block.base_fee_per_gas,
            tx_count: block.tx_hashes.len() as u32,
        });
        for pending in std::mem::take(&mut self.pending) {
            self.record(&block, pending)?;
        }
        Ok(block)
    }

    /// Mines `n` empty blocks (time passes between scenario steps).
    pub fn wait(&mut self, n: u64) -> Result<()> {
        for _ in 0..n {
            self.mine()?;
        }
        Ok(())
    }

    fn record(&mut self, block: &BlockRef, p: Pending) -> Result<()> {
        let receipt = self
            .anvil
            .receipt(&p.hash)
            .map_err(|e| scenario_err(&p.step, format!("{}: {e}", p.description)))?;
        if receipt.block_number != block.number {
            return Err(scenario_err(
                &p.step,
                format!(
                    "{} ({}) landed in block {}, expected {}",
                    p.description, p.hash, receipt.block_number, block.number
                ),
            ));
        }
        if receipt.success != p.expect_success {
            return Err(scenario_err(
                &p.step,
                format!(
                    "{} ({}): status {}, expected {}",
                    p.description,
                    p.hash,
                    u8::from(receipt.success),
                    u8::from(p.expect_success)
                ),
            ));
        }
        self.txs.push(tx_record(block, &p, &receipt));
        self.receipts.insert(p.hash, receipt);
        Ok(())
    }

    /// The receipt of a mined scenario transaction.
    pub fn receipt(&self, hash: &str) -> Result<&Receipt> {
        self.receipts
            .get(hash)
            .ok_or_else(|| scenario_err("lookup", format!("no receipt recorded for {hash}")))
    }
}

fn tx_record(block: &BlockRef, p: &Pending, r: &Receipt) -> TxRecord {
    let fee = r.fee();
    let burnt = u128::from(r.gas_used) * block.base_fee_per_gas;
    TxRecord {
        hash: p.hash.clone(),
        block_number: r.block_number,
        tx_index: r.tx_index,
        step: p.step.clone(),
        description: p.description.clone(),
        from: r.from,
        to: r.to,
        value_wei: p.request.value,
        status: u8::from(r.success),
        gas_limit: p.request.gas,
        gas_used: r.gas_used,
        max_fee_per_gas_wei: p.request.max_fee_per_gas,
        max_priority_fee_per_gas_wei: p.request.max_priority_fee_per_gas,
        gas_price_wei: p.request.gas_price,
        effective_gas_price_wei: r.effective_gas_price,
        base_fee_per_gas_wei: block.base_fee_per_gas,
        fee_wei: fee,
        burnt_wei: burnt,
        tip_wei: fee.saturating_sub(burnt),
        contract_address: r.contract_address,
    }
}

pub(crate) fn scenario_err(step: &str, message: String) -> AnvilError {
    AnvilError::Scenario {
        step: step.to_owned(),
        message,
    }
}
