//! Applying blocks to the index.
//!
//! A block is applied in two passes. The first resolves every input (against outputs created
//! earlier in the same block, the cache, the `btc_utxos` table, or prevouts fetched from a node)
//! and checks values, touching nothing; any problem is reported before a single row changes.
//! The second assigns ids and emits rows into the pending batch. Blocks accumulate in the batch
//! until [`BtcWriter::commit`], which writes them together with the cursor.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use chaintrace_model::btc::{AddrKey, ScriptKind};
use chaintrace_model::{AddrId, Network, TxNum};

use super::cache::GenCache;
use super::cluster::forest::ClusterWriter;
use super::cluster::{stored_setting, ClusterOptions, ClusterSetting};
use super::{display_hash, ExternalPrevouts, NewBlock, NewOutput, NewTx};
use crate::records::{
    BlockRecord, ChainState, InputRecord, OutputRecord, PrevTx, SpendRecord, TxRecord, UndoRecord,
    UtxoRecord,
};
use crate::tables::{
    AddrOutput, Amount, BtcAddrKeys, BtcAddrOutputs, BtcAddrs, BtcBlockHeights, BtcBlocks,
    BtcSpends, BtcTxids, BtcTxs, BtcUndo, BtcUtxos, Hash32, Height, Meta, MetaKey, OutPointNum,
    OutPointTxid,
};
use crate::{BackgroundWriter, Batch, Durability, Store, StoreError};

/// Sizing and durability of a [`BtcWriter`].
#[derive(Clone, Copy, Debug)]
pub struct WriterOptions {
    /// Unspent outputs kept in memory (most outputs are spent soon after they are created).
    pub utxo_cache_entries: usize,
    /// Address → id entries kept in memory.
    pub addr_cache_entries: usize,
    pub durability: Durability,
    /// Address clustering during ingest (on by default).
    pub clustering: ClusterOptions,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            utxo_cache_entries: 2_000_000,
            addr_cache_entries: 1_000_000,
            durability: Durability::Logged,
            clustering: ClusterOptions::default(),
        }
    }
}

#[derive(Clone, Copy)]
struct CachedUtxo {
    rec: UtxoRecord,
    /// Already in `btc_utxos` (as opposed to only in the pending batch's future).
    persisted: bool,
}

/// How pass one resolved an input.
enum Source {
    /// In the cache now, or created by an earlier transaction of the same block.
    Cached,
    /// Read from `btc_utxos`.
    Stored(UtxoRecord),
    /// Below the index's start height; resolved through a node.
    External(NewOutput),
}

/// Appends blocks to the Bitcoin index.
pub struct BtcWriter<'s> {
    store: &'s Store,
    network: Network,
    network_stored: bool,
    state: ChainState,
    batch: Batch,
    utxos: GenCache<OutPointTxid, CachedUtxo>,
    addrs: GenCache<AddrKey, AddrId>,
    /// Outputs created since the last commit; written to `btc_utxos` at commit if still unspent.
    dirty: Vec<OutPointTxid>,
    /// Coinbase txids of the batch being built and of the batch in flight, which a duplicate
    /// coinbase must see although the database may not have them yet.
    pending_coinbases: HashMap<[u8; 32], TxNum>,
    in_flight_coinbases: HashMap<[u8; 32], TxNum>,
    pending_blocks: u32,
    durability: Durability,
    writes: BackgroundWriter,
    /// Cumulative work at the tip (the database may still be writing the tip's record).
    tip_chainwork: Option<[u8; 32]>,
    /// The cluster forest's maintainer; `None` when the index is built without clustering.
    clusters: Option<ClusterWriter>,
    /// What the index's clusters are built from, and whether `meta/btc.clustering` says so yet.
    clustering: ClusterSetting,
    clustering_stored: bool,
}

impl<'s> BtcWriter<'s> {
    /// Opens the writer on `store` for `network`. `start_height` applies only to an empty index
    /// (an index that starts mid-chain, fed by a node); otherwise the index continues its tip.
    pub fn new(
        store: &'s Store,
        network: Network,
        start_height: u32,
        opts: WriterOptions,
    ) -> Result<Self, StoreError> {
        let index = super::BtcIndex::new(store);
        let network_stored = match index.network()? {
            Some(found) if found != network => {
                return Err(StoreError::NetworkMismatch {
                    found: found.to_string(),
                    wanted: network.to_string(),
                })
            }
            Some(_) => true,
            None => false,
        };
        let state = index
            .state()?
            .unwrap_or_else(|| ChainState::empty(start_height));
        let tip_chainwork = match state.tip {
            Some((h, _)) => index.block(h)?.map(|b| b.chainwork),
            None => None,
        };
        // An index keeps the clustering setting it was built with.
        let stored = stored_setting(store)?;
        let clustering = stored.unwrap_or_else(|| opts.clustering.setting());
        let clusters = if clustering.enabled() {
            let mainnet = network == Network::Main;
            let next_addr = state.next_addr;
            Some(ClusterWriter::new(
                store,
                opts.clustering.with_setting(clustering),
                mainnet,
                next_addr,
            )?)
        } else {
            None
        };
        Ok(BtcWriter {
            store,
            network,
            network_stored,
            state,
            batch: Batch::new(),
            utxos: GenCache::new(opts.utxo_cache_entries),
            addrs: GenCache::new(opts.addr_cache_entries),
            dirty: Vec::new(),
            pending_coinbases: HashMap::default(),
            in_flight_coinbases: HashMap::default(),
            pending_blocks: 0,
            durability: opts.durability,
            writes: store.background_writer()?,
            tip_chainwork,
            clusters,
            clustering,
            clustering_stored: stored.is_some(),
        })
    }

    /// The cursor and counters, including blocks not yet committed.
    pub fn state(&self) -> &ChainState {
        &self.state
    }

    pub fn network(&self) -> Network {
        self.network
    }

    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// What the index's clusters are built from (the index's own setting once it has one).
    pub fn clustering(&self) -> ClusterSetting {
        self.clustering
    }

    /// Cumulative work of the chain up to the tip (including blocks not yet committed).
    pub fn tip_chainwork(&self) -> Option<[u8; 32]> {
        self.tip_chainwork
    }

    /// Blocks applied since the last commit.
    pub fn pending_blocks(&self) -> u32 {
        self.pending_blocks
    }

    /// Bytes queued in the pending batch.
    pub fn pending_bytes(&self) -> usize {
        self.batch.size_in_bytes()
    }

    /// Prevouts of `block` that are neither in the index nor created earlier in the block:
    /// the ones a partial index must fetch from a node.
    pub fn unknown_prevouts(
        &mut self,
        block: &NewBlock,
    ) -> Result<Vec<([u8; 32], u32)>, StoreError> {
        let in_block: HashSet<[u8; 32]> = block.txs.iter().map(|t| t.txid).collect();
        let candidates: Vec<OutPointTxid> = block
            .txs
            .iter()
            .flat_map(|t| t.inputs.iter())
            .filter(|(txid, _)| !in_block.contains(txid))
            .map(|&(txid, vout)| OutPointTxid { txid, vout })
            .filter(|k| !self.utxos.contains(k))
            .collect();
        let found = self.store.multi_get::<BtcUtxos>(&candidates)?;
        Ok(candidates
            .into_iter()
            .zip(found)
            .filter(|(_, f)| f.is_none())
            .map(|(k, _)| (k.txid, k.vout))
            .collect())
    }

    /// Applies the next block. On error nothing has changed.
    pub fn apply_block(
        &mut self,
        block: &NewBlock,
        external: &ExternalPrevouts,
    ) -> Result<(), StoreError> {
        self.check_linkage(block)?;
        let sources = self.resolve_inputs(block, external)?;
        self.load_addresses(block, &sources)?;
        let prev_state = self.state;
        let first_tx = TxNum(self.state.next_tx);
        let mut undo = UndoRecord {
            prev_state,
            replaced_txids: Vec::new(),
            replaced_utxos: Vec::new(),
        };
        if let Some(c) = &mut self.clusters {
            c.begin_block();
        }
        let mut sources = sources.into_iter();
        for tx in &block.txs {
            self.apply_tx(block.height, tx, &mut sources, &mut undo)?;
        }
        if let Some(c) = &mut self.clusters {
            c.apply_block(self.store, &mut self.batch, block.height)?;
        }
        let rec = BlockRecord {
            hash: block.hash,
            prev_hash: block.prev_hash,
            time: block.time,
            bits: block.bits,
            first_tx,
            tx_count: block.txs.len() as u32,
            chainwork: block.chainwork,
        };
        let h = Height(block.height);
        self.batch.put::<BtcBlocks>(&h, &rec);
        self.batch.put::<BtcBlockHeights>(&Hash32(block.hash), &h);
        self.batch.put::<BtcUndo>(&h, &undo);
        self.state.tip = Some((block.height, block.hash));
        self.tip_chainwork = Some(block.chainwork);
        self.pending_blocks += 1;
        Ok(())
    }

    fn bad(&self, block: &NewBlock, reason: String) -> StoreError {
        StoreError::BadBlock {
            height: block.height,
            hash: display_hash(&block.hash),
            reason,
        }
    }

    fn check_linkage(&self, block: &NewBlock) -> Result<(), StoreError> {
        let expected = self.state.next_height();
        if block.height != expected {
            return Err(self.bad(block, format!("expected the block at height {expected}")));
        }
        if let Some((_, tip)) = self.state.tip {
            if block.prev_hash != tip {
                return Err(self.bad(
                    block,
                    format!(
                        "its parent {} is not the index tip {}",
                        display_hash(&block.prev_hash),
                        display_hash(&tip)
                    ),
                ));
            }
        }
        if block.txs.first().is_none_or(|t| !t.coinbase)
            || block.txs.iter().skip(1).any(|t| t.coinbase)
        {
            return Err(self.bad(
                block,
                "the first transaction, and only it, must be a coinbase".into(),
            ));
        }
        Ok(())
    }

    /// Pass one: finds every prevout and checks that no transaction creates value.
    fn resolve_inputs(
        &mut self,
        block: &NewBlock,
        external: &ExternalPrevouts,
    ) -> Result<Vec<Source>, StoreError> {
        let mut in_block: HashMap<[u8; 32], usize> = HashMap::default();
        let mut consumed: HashSet<OutPointTxid> = HashSet::default();
        let mut sources: Vec<Option<Source>> = Vec::new();
        let mut to_fetch: Vec<(usize, OutPointTxid)> = Vec::new();
        for (i, tx) in block.txs.iter().enumerate() {
            for (j, &(txid, vout)) in tx.inputs.iter().enumerate() {
                let key = OutPointTxid { txid, vout };
                if !consumed.insert(key) {
                    return Err(self.bad(
                        block,
                        format!(
                            "tx {} input {j} double-spends {}:{vout}",
                            display_hash(&tx.txid),
                            display_hash(&txid)
                        ),
                    ));
                }
                match in_block.get(&txid) {
                    Some(&k) => {
                        let out = block.txs[k].outputs.get(vout as usize);
                        if out.is_none_or(|o| o.kind.is_unspendable()) {
                            return Err(self.bad(block, format!("tx {} input {j} spends missing or unspendable output {}:{vout}", display_hash(&tx.txid), display_hash(&txid))));
                        }
                        sources.push(Some(Source::Cached));
                    }
                    None if self.utxos.contains(&key) => sources.push(Some(Source::Cached)),
                    None => {
                        to_fetch.push((sources.len(), key));
                        sources.push(None);
                    }
                }
            }
            in_block.insert(tx.txid, i);
        }
        let keys: Vec<OutPointTxid> = to_fetch.iter().map(|(_, k)| *k).collect();
        let fetched = self.store.multi_get::<BtcUtxos>(&keys)?;
        for ((slot, key), found) in to_fetch.into_iter().zip(fetched) {
            sources[slot] = Some(match found {
                Some(rec) => Source::Stored(rec),
                None => match external.get(&(key.txid, key.vout)) {
                    Some(out) => Source::External(*out),
                    None => {
                        return Err(self.bad(
                            block,
                            format!(
                            "an input spends {}:{}, which is not an unspent output in the index",
                            display_hash(&key.txid),
                            key.vout
                        ),
                        ))
                    }
                },
            });
        }
        let sources: Vec<Source> = sources
            .into_iter()
            .map(|s| s.expect("every slot resolved"))
            .collect();
        self.check_values(block, &sources)?;
        Ok(sources)
    }

    /// Sums each transaction's inputs and outputs without overflow and rejects value creation.
    fn check_values(&mut self, block: &NewBlock, sources: &[Source]) -> Result<(), StoreError> {
        let mut created: HashMap<OutPointTxid, u64> = HashMap::default();
        let mut next = 0;
        for tx in &block.txs {
            let mut total_in: u64 = 0;
            for &(txid, vout) in &tx.inputs {
                let key = OutPointTxid { txid, vout };
                let value = match &sources[next] {
                    Source::Stored(rec) => rec.value,
                    Source::External(out) => out.value,
                    Source::Cached => match created.get(&key) {
                        Some(v) => *v,
                        None => self.utxos.get(&key).map_or(0, |c| c.rec.value),
                    },
                };
                next += 1;
                total_in = total_in
                    .checked_add(value)
                    .ok_or_else(|| self.bad(block, "input values overflow".into()))?;
            }
            let mut total_out: u64 = 0;
            for (vout, o) in tx.outputs.iter().enumerate() {
                total_out = total_out
                    .checked_add(o.value)
                    .ok_or_else(|| self.bad(block, "output values overflow".into()))?;
                created.insert(
                    OutPointTxid {
                        txid: tx.txid,
                        vout: vout as u32,
                    },
                    o.value,
                );
            }
            if !tx.coinbase && total_out > total_in {
                return Err(self.bad(
                    block,
                    format!(
                        "tx {} spends {total_out} sat but its inputs hold only {total_in}",
                        display_hash(&tx.txid)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Brings the ids of every address the block touches into the cache, in one read.
    fn load_addresses(&mut self, block: &NewBlock, sources: &[Source]) -> Result<(), StoreError> {
        let external = sources.iter().filter_map(|s| match s {
            Source::External(o) => o.addr,
            _ => None,
        });
        let outputs = block
            .txs
            .iter()
            .flat_map(|t| t.outputs.iter().filter_map(|o| o.addr));
        let mut seen = HashSet::default();
        let missing: Vec<AddrKey> = external
            .chain(outputs)
            .filter(|k| !self.addrs.contains(k) && seen.insert(*k))
            .collect();
        let found = self.store.multi_get::<BtcAddrs>(&missing)?;
        for (k, id) in missing.into_iter().zip(found) {
            if let Some(id) = id {
                self.addrs.insert(k, id);
            }
        }
        Ok(())
    }

    /// The id of `key`, assigning the next one if the address is new.
    fn addr_id(&mut self, key: Option<AddrKey>) -> AddrId {
        let Some(key) = key else { return AddrId::NONE };
        if let Some(id) = self.addrs.get(&key) {
            return *id;
        }
        let id = AddrId(self.state.next_addr);
        self.state.next_addr += 1;
        self.batch.put::<BtcAddrs>(&key, &id);
        self.batch.put::<BtcAddrKeys>(&id, &key);
        self.addrs.insert(key, id);
        if let Some(c) = &mut self.clusters {
            c.note_address(&key, id);
        }
        id
    }

    /// Pass two for one transaction: ids, rows, cache updates.
    fn apply_tx(
        &mut self,
        height: u32,
        tx: &NewTx,
        sources: &mut impl Iterator<Item = Source>,
        undo: &mut UndoRecord,
    ) -> Result<(), StoreError> {
        let num = TxNum(self.state.next_tx);
        self.state.next_tx += 1;
        if tx.coinbase {
            self.note_duplicate_coinbase(tx, num, undo)?;
        }
        let mut inputs = Vec::with_capacity(tx.inputs.len());
        for (j, &(txid, vout)) in tx.inputs.iter().enumerate() {
            let source = sources.next().expect("one source per input");
            inputs.push(self.spend(num, j as u32, OutPointTxid { txid, vout }, source));
        }
        // Output addresses given ids from here on are new in this transaction.
        let first_new = self.state.next_addr;
        let mut outputs = Vec::with_capacity(tx.outputs.len());
        for (vout, o) in tx.outputs.iter().enumerate() {
            outputs.push(self.create_output(num, tx.txid, vout as u32, o));
        }
        self.state.inputs += inputs.len() as u64;
        self.state.outputs += outputs.len() as u64;
        let rec = TxRecord {
            txid: tx.txid,
            height,
            coinbase: tx.coinbase,
            version: tx.version,
            lock_time: tx.lock_time,
            vsize: tx.vsize,
            inputs,
            outputs,
        };
        self.batch.put::<BtcTxids>(&Hash32(tx.txid), &num);
        self.batch.put::<BtcTxs>(&num, &rec);
        if let Some(c) = &mut self.clusters {
            c.note_tx(num, &rec, first_new);
        }
        Ok(())
    }

    fn spend(
        &mut self,
        spender: TxNum,
        input: u32,
        key: OutPointTxid,
        source: Source,
    ) -> InputRecord {
        let (rec, persisted) = match source {
            Source::Cached => {
                let c = self.utxos.remove(&key).expect("pass one saw this output");
                (c.rec, c.persisted)
            }
            Source::Stored(rec) => (rec, true),
            Source::External(out) => {
                let addr = self.addr_id(out.addr);
                return InputRecord {
                    prev_tx: PrevTx::External(key.txid),
                    vout: key.vout,
                    value: out.value,
                    addr,
                    kind: out.kind,
                };
            }
        };
        if persisted {
            self.batch.delete::<BtcUtxos>(&key);
        }
        let spent = OutPointNum {
            tx: rec.tx,
            vout: key.vout,
        };
        self.batch
            .put::<BtcSpends>(&spent, &SpendRecord { tx: spender, input });
        InputRecord {
            prev_tx: PrevTx::Indexed(rec.tx),
            vout: key.vout,
            value: rec.value,
            addr: rec.addr,
            kind: rec.kind,
        }
    }

    fn create_output(
        &mut self,
        tx: TxNum,
        txid: [u8; 32],
        vout: u32,
        o: &NewOutput,
    ) -> OutputRecord {
        let addr = self.addr_id(o.addr);
        if !addr.is_none() {
            let key = AddrOutput { addr, tx, vout };
            self.batch.put::<BtcAddrOutputs>(&key, &Amount(o.value));
        }
        if o.kind != ScriptKind::OpReturn {
            let key = OutPointTxid { txid, vout };
            let rec = UtxoRecord {
                tx,
                value: o.value,
                addr,
                kind: o.kind,
            };
            self.utxos.insert(
                key,
                CachedUtxo {
                    rec,
                    persisted: false,
                },
            );
            self.dirty.push(key);
        }
        OutputRecord {
            value: o.value,
            addr,
            kind: o.kind,
        }
    }

    /// BIP30: two early mainnet coinbases repeat an earlier coinbase's txid and overwrite its
    /// unspent outputs. Remember what was overwritten so a rollback can restore it.
    fn note_duplicate_coinbase(
        &mut self,
        tx: &NewTx,
        num: TxNum,
        undo: &mut UndoRecord,
    ) -> Result<(), StoreError> {
        let pending = self
            .pending_coinbases
            .get(&tx.txid)
            .or_else(|| self.in_flight_coinbases.get(&tx.txid));
        let earlier = match pending {
            Some(n) => Some(*n),
            None => self.store.get::<BtcTxids>(&Hash32(tx.txid))?,
        };
        self.pending_coinbases.insert(tx.txid, num);
        let Some(earlier) = earlier else {
            return Ok(());
        };
        undo.replaced_txids.push((tx.txid, earlier));
        for vout in 0..tx.outputs.len() as u32 {
            let key = OutPointTxid {
                txid: tx.txid,
                vout,
            };
            let old = match self.utxos.remove(&key) {
                Some(c) => Some(c.rec),
                None => self.store.get::<BtcUtxos>(&key)?,
            };
            if let Some(rec) = old {
                undo.replaced_utxos.push((tx.txid, vout, rec));
            }
        }
        Ok(())
    }

    /// Hands every applied block, the unspent outputs they left and the cursor to the writer
    /// thread as one atomic batch. Returns once the previous batch is in the database; the
    /// caches keep serving everything the new batch holds until it is too.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        if self.pending_blocks == 0 && self.batch.is_empty() {
            return Ok(());
        }
        if let Some(c) = &mut self.clusters {
            c.flush(&mut self.batch)?;
        }
        for key in std::mem::take(&mut self.dirty) {
            if let Some(c) = self.utxos.get(&key) {
                if !c.persisted {
                    c.persisted = true;
                    let rec = c.rec;
                    self.batch.put::<BtcUtxos>(&key, &rec);
                }
            }
        }
        self.put_cursor();
        let batch = std::mem::take(&mut self.batch);
        // Entries dropped by the rotation below were inserted before the previous commit, so
        // their batch is the one `submit` waits for: nothing the cache forgets is missing from
        // the database.
        self.writes.submit(batch, self.durability)?;
        self.pending_blocks = 0;
        self.in_flight_coinbases = std::mem::take(&mut self.pending_coinbases);
        self.utxos.rotate_if_full();
        self.addrs.rotate_if_full();
        if let Some(c) = &mut self.clusters {
            c.committed(self.state.next_addr);
        }
        Ok(())
    }

    /// Commits and waits until everything is in the database.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.commit()?;
        self.writes.wait()
    }

    fn put_cursor(&mut self) {
        if !self.network_stored {
            let name = self.network.as_str().as_bytes().to_vec();
            self.batch.put::<Meta>(&MetaKey::BtcNetwork, &name);
            self.network_stored = true;
        }
        if !self.clustering_stored {
            let setting = self.clustering.encode();
            self.batch.put::<Meta>(&MetaKey::BtcClustering, &setting);
            self.clustering_stored = true;
        }
        let mut state = Vec::new();
        self.state.encode(&mut state);
        self.batch.put::<Meta>(&MetaKey::BtcState, &state);
    }

    /// Commits, then makes unlogged writes durable.
    pub fn finish(mut self) -> Result<ChainState, StoreError> {
        self.sync()?;
        self.store.flush()?;
        Ok(self.state)
    }

    pub(super) fn parts(&mut self) -> (&'s Store, &mut ChainState, &mut Batch) {
        (self.store, &mut self.state, &mut self.batch)
    }

    pub(super) fn reset_caches(&mut self) {
        self.utxos.clear();
        self.addrs.clear();
        self.dirty.clear();
        self.pending_coinbases.clear();
        self.in_flight_coinbases.clear();
    }

    /// After a rollback restored the cursor: cached forest nodes may be undone state, and
    /// address ids from the restored `next_addr` on will name other addresses.
    pub(super) fn reset_clusters(&mut self) {
        let next_addr = self.state.next_addr;
        if let Some(c) = &mut self.clusters {
            c.reset(next_addr);
        }
    }

    pub(super) fn set_tip_chainwork(&mut self, work: Option<[u8; 32]>) {
        self.tip_chainwork = work;
    }

    pub(super) fn put_cursor_now(&mut self) {
        self.put_cursor();
    }

    pub(super) fn write_now(&mut self) -> Result<(), StoreError> {
        let batch = std::mem::take(&mut self.batch);
        self.store.write(batch, Durability::Logged)
    }
}
