//! The RocksDB handle: opening (with the schema check), typed reads, atomic batches, the
//! content digest and the on-disk size.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use bitcoin::hashes::{sha256, Hash, HashEngine};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Direction,
    FlushOptions, IteratorMode, Options, ReadOptions, WriteOptions, DB,
};

use crate::codec::DecodeError;
use crate::tables::{KeyCodec, Meta, MetaKey, Table, ValueCodec, ALL_TABLES};
use crate::{Batch, StoreError};

/// Version of the on-disk layout described in `SCHEMA.md`. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 3;

/// How an index is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the index if it does not exist; open it for writing.
    Create,
    /// Open an existing index for reading only; works while another process is writing it.
    ReadOnly,
}

/// How hard a batch write tries to survive a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Through the write-ahead log: a batch that returned survives a process crash.
    Logged,
    /// Bypass the write-ahead log (bulk ingest). Column families are flushed atomically, so a
    /// crash loses only the batches since the last flush and leaves an earlier consistent state,
    /// including its cursor: the rerun resumes from there.
    Unlogged,
}

/// One decoded entry of table `T`.
pub type Row<T> = (<T as Table>::Key, <T as Table>::Value);

/// Tuning knobs; the defaults suit a 2-core machine with a few GiB to spare.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    pub block_cache_bytes: usize,
    pub write_buffer_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            block_cache_bytes: 256 << 20,
            write_buffer_bytes: 64 << 20,
        }
    }
}

/// An open index.
pub struct Store {
    db: Arc<DB>,
    path: PathBuf,
    read_only: bool,
}

/// Wraps a RocksDB error with what we were doing; the message is only built on failure, since
/// this sits on every read.
fn rocks<C: Into<String>>(
    context: impl FnOnce() -> C,
) -> impl FnOnce(rocksdb::Error) -> StoreError {
    move |source| StoreError::Rocks {
        context: context().into(),
        source,
    }
}

fn corrupt<T: Table>(key: &[u8]) -> impl FnOnce(DecodeError) -> StoreError + '_ {
    move |source| StoreError::Corrupt {
        table: T::NAME,
        key: hex(key),
        source,
    }
}

fn hex(b: &[u8]) -> String {
    chaintrace_model::btc::hex_string(b)
}

fn db_options(opts: &StoreOptions) -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    // Lets bulk ingest skip the write-ahead log without risking a torn state: every flush
    // persists all column families at the same sequence number.
    o.set_atomic_flush(true);
    o.set_max_background_jobs(2);
    o.set_db_write_buffer_size(opts.write_buffer_bytes * 4);
    o.set_keep_log_file_num(3);
    o.set_max_open_files(512);
    o
}

fn cf_options(bloom: bool, cache: &Cache, opts: &StoreOptions) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    // Small blocks: tracing does many point reads, each of which scans a block.
    table.set_block_size(4 << 10);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    if bloom {
        table.set_bloom_filter(10.0, false);
    }
    let mut o = Options::default();
    o.set_block_based_table_factory(&table);
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_write_buffer_size(opts.write_buffer_bytes);
    o.set_level_compaction_dynamic_level_bytes(true);
    o
}

impl Store {
    /// Opens (or, with [`OpenMode::Create`], creates) the index at `path` and checks its schema.
    pub fn open(path: &Path, mode: OpenMode) -> Result<Store, StoreError> {
        Self::open_with(path, mode, StoreOptions::default())
    }

    pub fn open_with(path: &Path, mode: OpenMode, opts: StoreOptions) -> Result<Store, StoreError> {
        let exists = path.join("CURRENT").exists();
        if mode == OpenMode::ReadOnly && !exists {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        if exists {
            // Checked before a writable open, which would already rewrite RocksDB's metadata.
            check_families(path)?;
        }
        let cache = Cache::new_lru_cache(opts.block_cache_bytes);
        // A read-only open cannot create tables that a newer build added; they read as empty.
        let existing = match mode {
            OpenMode::ReadOnly => DB::list_cf(&Options::default(), path).unwrap_or_default(),
            OpenMode::Create => Vec::new(),
        };
        let cfs: Vec<_> = ALL_TABLES
            .iter()
            .filter(|(name, _)| mode == OpenMode::Create || existing.iter().any(|e| e == name))
            .map(|(name, bloom)| {
                ColumnFamilyDescriptor::new(*name, cf_options(*bloom, &cache, &opts))
            })
            .collect();
        let db_opts = db_options(&opts);
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let db = match mode {
            OpenMode::Create => DB::open_cf_descriptors(&db_opts, path, cfs).map_err(open_err)?,
            OpenMode::ReadOnly => {
                DB::open_cf_descriptors_read_only(&db_opts, path, cfs, false).map_err(open_err)?
            }
        };
        let store = Store {
            db: Arc::new(db),
            path: path.to_path_buf(),
            read_only: mode == OpenMode::ReadOnly,
        };
        store.check_schema(exists)?;
        Ok(store)
    }

    fn check_schema(&self, existed: bool) -> Result<(), StoreError> {
        match self.get::<Meta>(&MetaKey::SchemaVersion)? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_slice())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        table: Meta::NAME,
                        key: "schema_version".into(),
                        source: DecodeError::new("schema version", "not 4 bytes"),
                    })?;
                if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        path: self.path.clone(),
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
                Ok(())
            }
            None if existed && self.read_only => Err(StoreError::Missing {
                path: self.path.clone(),
            }),
            None => {
                let mut b = Batch::new();
                b.put::<Meta>(
                    &MetaKey::SchemaVersion,
                    &SCHEMA_VERSION.to_be_bytes().to_vec(),
                );
                self.write(b, Durability::Logged)
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The table's column family; `None` only for a table missing from a read-only index.
    fn cf<T: Table>(&self) -> Option<&ColumnFamily> {
        self.db.cf_handle(T::NAME)
    }

    /// Reads one value.
    pub fn get<T: Table>(&self, key: &T::Key) -> Result<Option<T::Value>, StoreError> {
        let mut k = Vec::with_capacity(40);
        key.encode_key(&mut k);
        let Some(cf) = self.cf::<T>() else {
            return Ok(None);
        };
        let raw = self
            .db
            .get_pinned_cf(cf, &k)
            .map_err(rocks(|| format!("reading {}", T::NAME)))?;
        raw.map(|v| T::Value::decode_value(&v).map_err(corrupt::<T>(&k)))
            .transpose()
    }

    /// Reads many values in one call (faster than repeated [`Store::get`]).
    pub fn multi_get<T: Table>(
        &self,
        keys: &[T::Key],
    ) -> Result<Vec<Option<T::Value>>, StoreError> {
        self.multi_get_with::<T, _>(keys, T::Value::decode_value)
    }

    /// [`Store::multi_get`] with a custom decoder, for callers that need only part of each
    /// value (a transaction's txid, not its inputs and outputs).
    pub fn multi_get_with<T: Table, R>(
        &self,
        keys: &[T::Key],
        decode: impl Fn(&[u8]) -> Result<R, DecodeError>,
    ) -> Result<Vec<Option<R>>, StoreError> {
        let encoded: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| {
                let mut b = Vec::with_capacity(40);
                k.encode_key(&mut b);
                b
            })
            .collect();
        let Some(cf) = self.cf::<T>() else {
            return Ok(keys.iter().map(|_| None).collect());
        };
        // Callers pass keys in ascending order (outputs of one transaction), which RocksDB can exploit.
        let sorted = encoded.windows(2).all(|w| w[0] <= w[1]);
        let results = self.db.batched_multi_get_cf(cf, &encoded, sorted);
        encoded
            .iter()
            .zip(results)
            .map(
                |(k, r)| match r.map_err(rocks(|| format!("reading {}", T::NAME)))? {
                    Some(v) => decode(&v).map(Some).map_err(corrupt::<T>(k)),
                    None => Ok(None),
                },
            )
            .collect()
    }

    /// Iterates entries in key order starting at `from` (inclusive), or from the first key.
    pub fn iter_from<'a, T: Table>(
        &'a self,
        from: Option<&T::Key>,
    ) -> impl Iterator<Item = Result<(T::Key, T::Value), StoreError>> + 'a {
        let start = from.map(|k| {
            let mut b = Vec::new();
            k.encode_key(&mut b);
            b
        });
        let mode = match &start {
            Some(s) => IteratorMode::From(s, Direction::Forward),
            None => IteratorMode::Start,
        };
        let mut ro = ReadOptions::default();
        ro.fill_cache(false);
        self.cf::<T>()
            .map(|cf| self.db.iterator_cf_opt(cf, ro, mode))
            .into_iter()
            .flatten()
            .map(|item| {
                let (k, v) = item.map_err(rocks(|| format!("iterating {}", T::NAME)))?;
                let key = T::Key::decode_key(&k).map_err(corrupt::<T>(&k))?;
                let value = T::Value::decode_value(&v).map_err(corrupt::<T>(&k))?;
                Ok((key, value))
            })
    }

    /// Iterates the entries whose encoded key starts with `prefix`, in key order.
    pub fn iter_prefix<'a, T: Table>(
        &'a self,
        prefix: Vec<u8>,
    ) -> impl Iterator<Item = Result<(T::Key, T::Value), StoreError>> + 'a {
        let mut ro = ReadOptions::default();
        ro.fill_cache(true);
        let mode = IteratorMode::From(&prefix, Direction::Forward);
        let iter = self
            .cf::<T>()
            .map(|cf| self.db.iterator_cf_opt(cf, ro, mode));
        iter.into_iter()
            .flatten()
            .take_while(move |item| item.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .map(|item| {
                let (k, v) = item.map_err(rocks(|| format!("iterating {}", T::NAME)))?;
                let key = T::Key::decode_key(&k).map_err(corrupt::<T>(&k))?;
                let value = T::Value::decode_value(&v).map_err(corrupt::<T>(&k))?;
                Ok((key, value))
            })
    }

    /// Entries with keys strictly below `key` that start with `prefix`, newest (largest key)
    /// first: "what happened just before" queries over histories.
    pub fn iter_before<'a, T: Table>(
        &'a self,
        prefix: Vec<u8>,
        key: &T::Key,
    ) -> impl Iterator<Item = Result<(T::Key, T::Value), StoreError>> + 'a {
        let mut start = Vec::new();
        key.encode_key(&mut start);
        let iter = self.cf::<T>().map(|cf| {
            self.db
                .iterator_cf(cf, IteratorMode::From(&start, Direction::Reverse))
        });
        iter.into_iter()
            .flatten()
            .skip_while(move |item| item.as_ref().is_ok_and(|(k, _)| **k == *start))
            .take_while(move |item| item.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .map(|item| {
                let (k, v) = item.map_err(rocks(|| format!("iterating {} backwards", T::NAME)))?;
                let key = T::Key::decode_key(&k).map_err(corrupt::<T>(&k))?;
                let value = T::Value::decode_value(&v).map_err(corrupt::<T>(&k))?;
                Ok((key, value))
            })
    }

    /// The last entry with a key strictly below `key` that still starts with `prefix`.
    pub fn last_before<T: Table>(
        &self,
        prefix: &[u8],
        key: &T::Key,
    ) -> Result<Option<Row<T>>, StoreError> {
        self.iter_before::<T>(prefix.to_vec(), key)
            .next()
            .transpose()
    }

    /// Applies `batch` atomically.
    pub fn write(&self, batch: Batch, durability: Durability) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
            });
        }
        write_batch(&self.db, batch, durability)
    }

    /// A thread that applies batches while the caller prepares the next one.
    pub fn background_writer(&self) -> Result<BackgroundWriter, StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
            });
        }
        let (tx, rx) = crossbeam_channel::bounded::<(Batch, Durability)>(1);
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let db = Arc::clone(&self.db);
        let handle = std::thread::Builder::new()
            .name("chaintrace-writer".into())
            .spawn(move || {
                for (batch, durability) in rx {
                    if done_tx.send(write_batch(&db, batch, durability)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(BackgroundWriter {
            tx: Some(tx),
            done,
            in_flight: false,
            handle: Some(handle),
        })
    }

    /// Persists every memtable (all column families at once), so unlogged writes survive a crash.
    pub fn flush(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Ok(());
        }
        let cfs: Vec<&ColumnFamily> = ALL_TABLES
            .iter()
            .filter_map(|(name, _)| self.db.cf_handle(name))
            .collect();
        let mut fo = FlushOptions::default();
        fo.set_wait(true);
        self.db
            .flush_cfs_opt(&cfs, &fo)
            .map_err(rocks(|| "flushing memtables"))
    }

    /// SHA-256 over every entry of every non-empty table, in table order then key order, plus
    /// the number of entries per table. Equal digests mean equal indexes, whatever order or how
    /// many runs produced them (an empty table and a missing one hash alike).
    pub fn digest(&self) -> Result<Digest, StoreError> {
        let mut engine = sha256::Hash::engine();
        let mut tables = Vec::new();
        for (name, _) in ALL_TABLES {
            let mut entries = 0u64;
            let Some(cf) = self.db.cf_handle(name) else {
                tables.push((name.to_string(), 0));
                continue;
            };
            let mut ro = ReadOptions::default();
            ro.fill_cache(false);
            for item in self.db.iterator_cf_opt(cf, ro, IteratorMode::Start) {
                let (k, v) = item.map_err(rocks(|| format!("iterating {name}")))?;
                if entries == 0 {
                    engine.input(&(name.len() as u64).to_be_bytes());
                    engine.input(name.as_bytes());
                }
                engine.input(&(k.len() as u64).to_be_bytes());
                engine.input(&k);
                engine.input(&(v.len() as u64).to_be_bytes());
                engine.input(&v);
                entries += 1;
            }
            tables.push((name.to_string(), entries));
        }
        let hash = sha256::Hash::from_engine(engine);
        Ok(Digest {
            sha256: hex(hash.as_byte_array()),
            tables,
        })
    }

    /// Per table: estimated entries and bytes in SST files (RocksDB's own accounting).
    pub fn table_sizes(&self) -> Result<Vec<TableSize>, StoreError> {
        ALL_TABLES
            .iter()
            .filter_map(|(name, _)| self.db.cf_handle(name).map(|cf| (name, cf)))
            .map(|(name, cf)| {
                let prop = |p: &str| {
                    self.db
                        .property_int_value_cf(cf, p)
                        .map_err(rocks(|| format!("reading {p} of {name}")))
                };
                Ok(TableSize {
                    name: name.to_string(),
                    estimated_entries: prop("rocksdb.estimate-num-keys")?.unwrap_or(0),
                    sst_bytes: prop("rocksdb.total-sst-files-size")?.unwrap_or(0),
                })
            })
            .collect()
    }

    /// Bytes used by the index directory on disk.
    pub fn disk_size(&self) -> u64 {
        dir_size(&self.path)
    }
}

fn write_batch(db: &DB, batch: Batch, durability: Durability) -> Result<(), StoreError> {
    let mut wo = WriteOptions::default();
    wo.disable_wal(durability == Durability::Unlogged);
    db.write_opt(batch.into_write_batch(db), &wo)
        .map_err(rocks(|| "writing a batch"))
}

/// Applies batches on its own thread, one at a time and in submission order. At most one batch
/// is in flight: [`BackgroundWriter::submit`] first waits for the previous one.
pub struct BackgroundWriter {
    tx: Option<Sender<(Batch, Durability)>>,
    done: Receiver<Result<(), StoreError>>,
    in_flight: bool,
    handle: Option<JoinHandle<()>>,
}

impl BackgroundWriter {
    /// Waits until every submitted batch is in the database (or reports why not).
    pub fn wait(&mut self) -> Result<(), StoreError> {
        if !self.in_flight {
            return Ok(());
        }
        self.in_flight = false;
        self.done
            .recv()
            .map_err(|_| StoreError::Thread("the writer thread stopped".into()))?
    }

    /// Waits for the previous batch, then hands `batch` to the writer thread.
    pub fn submit(&mut self, batch: Batch, durability: Durability) -> Result<(), StoreError> {
        self.wait()?;
        let tx = self.tx.as_ref().expect("open until dropped");
        tx.send((batch, durability))
            .map_err(|_| StoreError::Thread("the writer thread stopped".into()))?;
        self.in_flight = true;
        Ok(())
    }
}

impl Drop for BackgroundWriter {
    fn drop(&mut self) {
        let _ = self.wait();
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Size of one table (see [`Store::table_sizes`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TableSize {
    pub name: String,
    pub estimated_entries: u64,
    pub sst_bytes: u64,
}

/// Content digest of an index (see [`Store::digest`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Digest {
    pub sha256: String,
    pub tables: Vec<(String, u64)>,
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Refuses, without writing anything, an index of another schema version, and a directory holding
/// column families this build does not know (not a chaintrace index, or a future one).
fn check_families(path: &Path) -> Result<(), StoreError> {
    let found = DB::list_cf(&Options::default(), path).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(found_version) = raw_schema_version(path, &found) {
        if found_version != SCHEMA_VERSION {
            return Err(StoreError::Schema {
                path: path.to_path_buf(),
                found: found_version,
                expected: SCHEMA_VERSION,
            });
        }
    }
    let unknown: Vec<String> = found
        .iter()
        .filter(|f| *f != "default" && !ALL_TABLES.iter().any(|(n, _)| n == *f))
        .cloned()
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(StoreError::UnknownTables {
            path: path.to_path_buf(),
            tables: unknown,
        })
    }
}

fn raw_schema_version(path: &Path, families: &[String]) -> Option<u32> {
    let db = DB::open_cf_for_read_only(&Options::default(), path, families, false).ok()?;
    let cf = db.cf_handle(Meta::NAME)?;
    let raw = db.get_cf(cf, MetaKey::SchemaVersion.as_str()).ok()??;
    Some(u32::from_be_bytes(raw.as_slice().try_into().ok()?))
}
