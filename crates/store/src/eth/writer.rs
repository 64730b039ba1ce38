//! Turns extracted Ethereum blocks into rows, one atomic batch per block, and takes them out
//! again on a reorg.
//!
//! A block's batch holds its transactions, transfers, history rows, mixer events, new addresses
//! and contracts, the changed balances, its undo record and the cursor. Ids are assigned in
//! canonical order, so rolling a block back and applying it again gives byte-identical rows.

use std::collections::HashMap;

use chaintrace_model::eth::{
    Address, AssetId, EventNum, ExtractedBlock, ExtractedTx, MixerEvent, RawTransfer, Transfer,
    U256,
};
use chaintrace_model::{AddrId, TxNum};

use crate::eth::mixer::{MixerEventRecord, StoredMixerEvent};
use crate::eth::records::{
    Balance, EthBlockRecord, EthState, EthTxRecord, EthUndoRecord, EventRecord,
};
use crate::tables::{
    AddrAsset, EthAddr, EthAddrKeys, EthAddrs, EthBalances, EthBlockHeights, EthBlocks,
    EthContracts, EthEvents, EthHistory, EthMixerEvents, EthTxHashes, EthTxs, EthUndo, Hash32,
    Height, HistoryKey, Meta, MetaKey, MixerKey,
};
use crate::{Batch, Durability, Store, StoreError};

/// Writes Ethereum blocks on top of the index's current Ethereum tip.
pub struct EthWriter<'s> {
    store: &'s Store,
    state: EthState,
}

/// The rows of one block, built before anything is written.
struct BlockRows<'a> {
    store: &'a Store,
    batch: Batch,
    state: EthState,
    height: u32,
    timestamp: u64,
    addrs: HashMap<Address, AddrId>,
    balances: HashMap<(AddrId, AssetId), U256>,
    before: Vec<(AddrId, AssetId, Option<U256>)>,
    new_contracts: Vec<AddrId>,
}

impl<'s> EthWriter<'s> {
    /// Continues from the stored cursor, or starts a new Ethereum index at `start_height` for
    /// `chain_id`. An existing index of another chain id is refused.
    pub fn open(store: &'s Store, chain_id: u64, start_height: u32) -> Result<Self, StoreError> {
        let state = match super::EthIndex::new(store).state()? {
            Some(s) if s.chain_id != chain_id => {
                return Err(StoreError::NetworkMismatch {
                    found: format!("Ethereum chain id {}", s.chain_id),
                    wanted: format!("chain id {chain_id}"),
                })
            }
            Some(s) => s,
            None => EthState::empty(chain_id, start_height),
        };
        Ok(EthWriter { store, state })
    }

    pub fn state(&self) -> &EthState {
        &self.state
    }

    /// Appends `block`, which must be the next height and name the tip as its parent.
    pub fn apply(&mut self, block: &ExtractedBlock) -> Result<(), StoreError> {
        self.check_links(block)?;
        let mut rows = BlockRows::new(self.store, self.state.clone(), block)?;
        rows.resolve_addresses(block)?;
        rows.load_balances(block)?;
        let first_tx = TxNum(rows.state.next_tx);
        let first_event = rows.state.next_event;
        for tx in &block.txs {
            rows.put_tx(tx)?;
        }
        for credit in &block.credits {
            rows.put_transfer(credit, None)?;
        }
        rows.put_contracts(block)?;
        let record = EthBlockRecord {
            hash: block.hash.0,
            parent_hash: block.parent_hash.0,
            timestamp: block.timestamp,
            miner: rows.id(&block.miner)?,
            base_fee: block.base_fee,
            first_tx,
            tx_count: count(block.txs.len(), "transactions", block)?,
            first_event,
            event_count: count(
                (rows.state.next_event - first_event) as usize,
                "transfers",
                block,
            )?,
        };
        let prev_state = self.state.clone();
        let (batch, state) = rows.finish(record, prev_state)?;
        self.store.write(batch, Durability::Logged)?;
        self.state = state;
        Ok(())
    }

    fn check_links(&self, block: &ExtractedBlock) -> Result<(), StoreError> {
        let bad = |reason: String| StoreError::BadBlock {
            height: u32::try_from(block.number).unwrap_or(u32::MAX),
            hash: block.hash.to_string(),
            reason,
        };
        let want = u64::from(self.state.next_height());
        if block.number != want {
            return Err(bad(format!("the index expects height {want} next")));
        }
        if let Some((_, tip)) = self.state.tip {
            if block.parent_hash.0 != tip {
                return Err(bad(format!(
                    "its parent {} is not the indexed tip 0x{}",
                    block.parent_hash,
                    hex32(&tip)
                )));
            }
        }
        Ok(())
    }

    /// Removes the tip block, restoring the index exactly as it was before it.
    pub fn rollback_tip(&mut self) -> Result<(), StoreError> {
        let Some((height, _)) = self.state.tip else {
            return Ok(());
        };
        let batch = super::rollback::rollback_batch(self.store, &self.state, height)?;
        let undo = super::EthIndex::new(self.store).undo(height)?;
        self.store.write(batch, Durability::Logged)?;
        self.state = undo.prev_state;
        Ok(())
    }
}

fn hex32(b: &[u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn count(n: usize, what: &str, block: &ExtractedBlock) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::BadBlock {
        height: u32::try_from(block.number).unwrap_or(u32::MAX),
        hash: block.hash.to_string(),
        reason: format!("{n} {what} do not fit the index"),
    })
}

/// Every address a block mentions, in canonical order of first mention (which fixes the ids
/// new addresses get).
fn addresses_in(block: &ExtractedBlock) -> Vec<Address> {
    let mut out = vec![block.miner];
    let transfer = |t: &RawTransfer, out: &mut Vec<Address>| {
        out.extend(t.asset);
        out.push(t.from);
        out.push(t.to);
    };
    for tx in &block.txs {
        out.push(tx.from);
        out.extend(tx.to);
        out.extend(tx.created);
        for t in &tx.transfers {
            transfer(t, &mut out);
        }
    }
    for t in &block.credits {
        transfer(t, &mut out);
    }
    out.extend(block.contracts.iter().copied());
    // Last, so that blocks without mixer events number their addresses as before.
    for tx in &block.txs {
        for e in &tx.mixer.events {
            out.push(e.contract());
            if let MixerEvent::Withdrawal { to, relayer, .. } = e {
                out.extend([*to, *relayer]);
            }
        }
    }
    out
}

impl<'a> BlockRows<'a> {
    fn new(store: &'a Store, state: EthState, block: &ExtractedBlock) -> Result<Self, StoreError> {
        Ok(BlockRows {
            store,
            batch: Batch::new(),
            height: u32::try_from(block.number).map_err(|_| StoreError::BadBlock {
                height: u32::MAX,
                hash: block.hash.to_string(),
                reason: "height beyond 2^32".into(),
            })?,
            timestamp: block.timestamp,
            state,
            addrs: HashMap::new(),
            balances: HashMap::new(),
            before: Vec::new(),
            new_contracts: Vec::new(),
        })
    }

    fn resolve_addresses(&mut self, block: &ExtractedBlock) -> Result<(), StoreError> {
        let mut order = Vec::new();
        for a in addresses_in(block) {
            if a != Address::ZERO && !self.addrs.contains_key(&a) {
                self.addrs.insert(a, AddrId::NONE);
                order.push(a);
            }
        }
        let keys: Vec<EthAddr> = order.iter().map(|a| EthAddr(a.0 .0)).collect();
        let found = self.store.multi_get::<EthAddrs>(&keys)?;
        for (a, id) in order.iter().zip(found) {
            let id = match id {
                Some(id) => id,
                None => {
                    let id = AddrId(self.state.next_addr);
                    self.state.next_addr += 1;
                    self.batch.put::<EthAddrs>(&EthAddr(a.0 .0), &id);
                    self.batch.put::<EthAddrKeys>(&id, &EthAddr(a.0 .0));
                    id
                }
            };
            self.addrs.insert(*a, id);
        }
        Ok(())
    }

    fn id(&self, a: &Address) -> Result<AddrId, StoreError> {
        if *a == Address::ZERO {
            return Ok(AddrId::NONE);
        }
        self.addrs
            .get(a)
            .copied()
            .ok_or_else(|| StoreError::Graph(format!("address {a} was not resolved")))
    }

    fn asset(&self, t: &RawTransfer) -> Result<AssetId, StoreError> {
        Ok(match &t.asset {
            None => AssetId::ETH,
            Some(c) => AssetId::token(self.id(c)?),
        })
    }

    /// Reads the current balance of every (address, asset) the block moves, once.
    fn load_balances(&mut self, block: &ExtractedBlock) -> Result<(), StoreError> {
        let mut keys = Vec::new();
        let all = block
            .txs
            .iter()
            .flat_map(|t| &t.transfers)
            .chain(&block.credits);
        for t in all {
            let asset = self.asset(t)?;
            for a in [&t.from, &t.to] {
                let addr = self.id(a)?;
                if !addr.is_none() && !self.balances.contains_key(&(addr, asset)) {
                    self.balances.insert((addr, asset), U256::ZERO);
                    keys.push(AddrAsset { addr, asset });
                }
            }
        }
        for (k, v) in keys.iter().zip(self.store.multi_get::<EthBalances>(&keys)?) {
            self.before.push((k.addr, k.asset, v.map(|b| b.0)));
            self.balances
                .insert((k.addr, k.asset), v.map_or(U256::ZERO, |b| b.0));
        }
        Ok(())
    }

    fn put_tx(&mut self, tx: &ExtractedTx) -> Result<(), StoreError> {
        let num = TxNum(self.state.next_tx);
        self.state.next_tx += 1;
        let first_event = self.state.next_event;
        for t in &tx.transfers {
            self.put_transfer(t, Some(num))?;
        }
        let record = EthTxRecord {
            hash: tx.hash.0,
            height: self.height,
            index: tx.index,
            from: self.id(&tx.from)?,
            to: tx.to.as_ref().map_or(Ok(AddrId::NONE), |a| self.id(a))?,
            created: tx
                .created
                .as_ref()
                .map_or(Ok(AddrId::NONE), |a| self.id(a))?,
            success: tx.success,
            gas_used: tx.gas_used,
            effective_gas_price: tx.effective_gas_price,
            value: tx.value,
            first_event,
            event_count: (self.state.next_event - first_event) as u32,
        };
        self.batch.put::<EthTxs>(&num, &record);
        self.batch.put::<EthTxHashes>(&Hash32(tx.hash.0), &num);
        self.put_mixer_events(tx, num, record.from)
    }

    /// One row per mixer event, numbered by position among the transaction's mixer events.
    fn put_mixer_events(
        &mut self,
        tx: &ExtractedTx,
        num: TxNum,
        from: AddrId,
    ) -> Result<(), StoreError> {
        for (n, e) in tx.mixer.events.iter().enumerate() {
            let key = MixerKey {
                contract: self.id(&e.contract())?,
                tx: num,
                n: u32::try_from(n).map_err(|_| {
                    StoreError::Graph(format!("tx {} has more than 2^32 mixer events", tx.hash))
                })?,
            };
            let record = MixerEventRecord {
                height: self.height,
                block_time: self.timestamp,
                from,
                pricing: tx.pricing,
                effective_gas_price: tx.effective_gas_price,
                event: self.stored_event(e)?,
            };
            self.batch.put::<EthMixerEvents>(&key, &record);
        }
        Ok(())
    }

    fn stored_event(&self, e: &MixerEvent) -> Result<StoredMixerEvent, StoreError> {
        Ok(match e {
            MixerEvent::Deposit {
                commitment,
                leaf_index,
                timestamp,
                ..
            } => StoredMixerEvent::Deposit {
                commitment: *commitment,
                leaf_index: *leaf_index,
                timestamp: *timestamp,
            },
            MixerEvent::Withdrawal {
                to,
                nullifier_hash,
                relayer,
                fee,
                ..
            } => StoredMixerEvent::Withdrawal {
                to: self.id(to)?,
                nullifier_hash: *nullifier_hash,
                relayer: self.id(relayer)?,
                fee: *fee,
            },
        })
    }

    /// Records one transfer and moves the balances. An index that starts mid-chain does not
    /// know earlier balances, so a debit below zero clamps at zero rather than failing.
    fn put_transfer(&mut self, t: &RawTransfer, tx: Option<TxNum>) -> Result<(), StoreError> {
        let event = EventNum(self.state.next_event);
        self.state.next_event += 1;
        let transfer = Transfer {
            kind: t.kind,
            tx,
            asset: self.asset(t)?,
            from: self.id(&t.from)?,
            to: self.id(&t.to)?,
            amount: t.amount,
        };
        let record = EventRecord {
            height: self.height,
            transfer,
        };
        self.batch.put::<EthEvents>(&event, &record);
        let transfer = record.transfer;
        if transfer.from == transfer.to {
            self.history(transfer.from, transfer.asset, event, |b| b);
            return Ok(());
        }
        self.history(transfer.from, transfer.asset, event, |b| {
            b.saturating_sub(t.amount)
        });
        self.history(transfer.to, transfer.asset, event, |b| {
            b.saturating_add(t.amount)
        });
        Ok(())
    }

    fn history(&mut self, addr: AddrId, asset: AssetId, event: EventNum, f: impl Fn(U256) -> U256) {
        if addr.is_none() {
            return;
        }
        let bal = self.balances.entry((addr, asset)).or_default();
        *bal = f(*bal);
        let key = HistoryKey { addr, asset, event };
        self.batch.put::<EthHistory>(&key, &Balance(*bal));
    }

    fn put_contracts(&mut self, block: &ExtractedBlock) -> Result<(), StoreError> {
        let ids = block
            .contracts
            .iter()
            .map(|a| self.id(a))
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<AddrId> = ids.into_iter().filter(|a| !a.is_none()).collect();
        let known = self.store.multi_get::<EthContracts>(&ids)?;
        for (id, known) in ids.into_iter().zip(known) {
            if known.is_none() && !self.new_contracts.contains(&id) {
                self.batch.put::<EthContracts>(&id, &Height(self.height));
                self.new_contracts.push(id);
            }
        }
        Ok(())
    }

    fn finish(
        mut self,
        record: EthBlockRecord,
        prev_state: EthState,
    ) -> Result<(Batch, EthState), StoreError> {
        for (&(addr, asset), bal) in &self.balances {
            self.batch
                .put::<EthBalances>(&AddrAsset { addr, asset }, &Balance(*bal));
        }
        self.state.tip = Some((self.height, record.hash));
        self.batch.put::<EthBlocks>(&Height(self.height), &record);
        self.batch
            .put::<EthBlockHeights>(&Hash32(record.hash), &Height(self.height));
        self.before.sort_by_key(|(a, s, _)| (*a, *s));
        let undo = EthUndoRecord {
            prev_state,
            balances: self.before,
            new_contracts: self.new_contracts,
        };
        self.batch.put::<EthUndo>(&Height(self.height), &undo);
        let mut state = Vec::new();
        self.state.encode(&mut state);
        self.batch.put::<Meta>(&MetaKey::EthState, &state);
        Ok((self.batch, self.state))
    }
}
