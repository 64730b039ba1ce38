//! Batches of typed writes.
//!
//! A [`Batch`] owns its encoded bytes rather than a RocksDB handle, so a full batch can be handed
//! to a writer thread while the next one is being built. Before writing, its operations are
//! sorted by table and key (stably, so repeated writes to one key keep their order): inserting
//! sorted keys lets the memtable's skip list reuse its search path, which makes bulk ingest
//! markedly cheaper than inserting hash-ordered keys as they come.

use rocksdb::{WriteBatch, DB};

use crate::tables::{KeyCodec, Table, ValueCodec, ALL_TABLES};

struct Op {
    table: u8,
    delete: bool,
    start: usize,
    key_len: u32,
    value_len: u32,
}

/// A set of writes applied atomically by [`crate::Store::write`].
#[derive(Default)]
pub struct Batch {
    arena: Vec<u8>,
    ops: Vec<Op>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put<T: Table>(&mut self, key: &T::Key, value: &T::Value) {
        let start = self.arena.len();
        key.encode_key(&mut self.arena);
        let key_len = (self.arena.len() - start) as u32;
        value.encode_value(&mut self.arena);
        let value_len = (self.arena.len() - start) as u32 - key_len;
        self.ops.push(Op {
            table: T::INDEX as u8,
            delete: false,
            start,
            key_len,
            value_len,
        });
    }

    pub fn delete<T: Table>(&mut self, key: &T::Key) {
        let start = self.arena.len();
        key.encode_key(&mut self.arena);
        let key_len = (self.arena.len() - start) as u32;
        self.ops.push(Op {
            table: T::INDEX as u8,
            delete: true,
            start,
            key_len,
            value_len: 0,
        });
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Encoded size of keys and values.
    pub fn size_in_bytes(&self) -> usize {
        self.arena.len()
    }

    fn key(&self, op: &Op) -> &[u8] {
        &self.arena[op.start..op.start + op.key_len as usize]
    }

    /// Table and the first 15 key bytes, as one integer: most comparisons stop here.
    fn sort_prefix(&self, op: &Op) -> u128 {
        let mut buf = [0u8; 16];
        buf[0] = op.table;
        let key = self.key(op);
        let n = key.len().min(15);
        buf[1..1 + n].copy_from_slice(&key[..n]);
        u128::from_be_bytes(buf)
    }

    /// The RocksDB batch, operations sorted by (table, key) with per-key order preserved.
    pub(crate) fn into_write_batch(self, db: &DB) -> WriteBatch {
        let mut order: Vec<(u128, u32)> = self
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| (self.sort_prefix(op), i as u32))
            .collect();
        // Ties on the prefix fall back to the whole key, then to submission order, which makes
        // the unstable sort behave as a stable one.
        order.sort_unstable_by(|(pa, ia), (pb, ib)| {
            pa.cmp(pb)
                .then_with(|| {
                    self.key(&self.ops[*ia as usize])
                        .cmp(self.key(&self.ops[*ib as usize]))
                })
                .then(ia.cmp(ib))
        });
        let mut wb = WriteBatch::default();
        for op in order.iter().map(|(_, i)| &self.ops[*i as usize]) {
            let cf = db
                .cf_handle(ALL_TABLES[op.table as usize].0)
                .expect("every table is opened");
            let key = self.key(op);
            if op.delete {
                wb.delete_cf(cf, key);
            } else {
                let v = op.start + op.key_len as usize;
                wb.put_cf(cf, key, &self.arena[v..v + op.value_len as usize]);
            }
        }
        wb
    }
}
