//! Bitcoin Core's block storage format: `blocks/blkNNNNN.dat` files of
//! `[network magic][u32 LE length][raw block]` records.
//!
//! The writer can reproduce the quirks a reader meets on real data directories:
//! * blocks out of height order (Core downloads headers first, then blocks in parallel);
//! * zero-filled tails, because Core preallocates files in 16 MiB chunks;
//! * XOR obfuscation (Core 28+): an 8-byte key in `xor.dat`, applied to every byte of a blk
//!   file as `byte ^ key[offset_in_file % 8]`. Preallocated tails stay plain zeros on disk,
//!   as Core allocates them with `fallocate` rather than through its obfuscating writer.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bitcoin::consensus::encode::serialize;
use bitcoin::{Block, Network};

use crate::rng::Rng;

/// Core's `MAX_BLOCKFILE_SIZE`.
pub const CORE_MAX_FILE_SIZE: u64 = 128 << 20;

/// Core's `BLOCKFILE_CHUNK_SIZE`.
pub const CORE_PREALLOC_CHUNK: u64 = 16 << 20;

/// Name of Core's obfuscation key file in the blocks directory.
pub const XOR_KEY_FILE: &str = "xor.dat";

/// Record header: four magic bytes and a four-byte length.
const RECORD_HEADER: u64 = 8;

/// How blocks are laid out on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlkWriterOptions {
    /// A new file starts when the next record would make the file reach this size (Core's rule);
    /// a record larger than this still goes into an empty file of its own.
    pub max_file_size: u64,
    /// Blocks after the first are emitted in shuffled groups of this many; 0 or 1 keeps
    /// arrival order. The first block (genesis) is always written first, as Core does.
    pub shuffle_window: usize,
    /// Obfuscate the files and write `xor.dat`; `None` writes plain files and no `xor.dat`, like
    /// Core before version 28.
    pub xor_key: Option<[u8; 8]>,
    /// Zero-pad every file to a multiple of this many bytes.
    pub prealloc_chunk: Option<u64>,
    /// Seed of the shuffle.
    pub seed: u64,
}

impl Default for BlkWriterOptions {
    /// Core's file size, blocks in arrival order, no padding, no obfuscation.
    fn default() -> Self {
        BlkWriterOptions {
            max_file_size: CORE_MAX_FILE_SIZE,
            shuffle_window: 0,
            xor_key: None,
            prealloc_chunk: None,
            seed: 0,
        }
    }
}

impl BlkWriterOptions {
    /// What a recent Core node leaves behind: 128 MiB files preallocated in 16 MiB chunks,
    /// blocks reordered within a 1024-block download window, obfuscated with a key derived from
    /// `seed`.
    pub fn core_like(seed: u64) -> Self {
        BlkWriterOptions {
            max_file_size: CORE_MAX_FILE_SIZE,
            shuffle_window: 1024,
            xor_key: Some(Rng::derive(seed, 0x0b5c).bytes()),
            prealloc_chunk: Some(CORE_PREALLOC_CHUNK),
            seed,
        }
    }
}

/// What a finished writer put on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Number of `blk*.dat` files.
    pub files: u32,
    /// Number of block records.
    pub blocks: u64,
    /// Total size of the blk files, padding included.
    pub bytes: u64,
}

/// Streams blocks into blk files. Only the shuffle window is held in memory.
pub struct BlkWriter {
    dir: PathBuf,
    opts: BlkWriterOptions,
    rng: Rng,
    magic: [u8; 4],
    window: Vec<Vec<u8>>,
    file: Option<BufWriter<File>>,
    file_no: u32,
    file_len: u64,
    stats: WriteStats,
}

/// Path of blk file number `n` in `dir`.
pub fn blk_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("blk{n:05}.dat"))
}

impl BlkWriter {
    /// Creates `dir` if needed. Refuses to overwrite existing blk files or `xor.dat`, so a
    /// directory can never end up mixing two chains.
    pub fn create(dir: &Path, opts: &BlkWriterOptions) -> io::Result<BlkWriter> {
        if opts.max_file_size == 0 || opts.prealloc_chunk == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_file_size and prealloc_chunk must be positive",
            ));
        }
        fs::create_dir_all(dir)?;
        if let Some(key) = opts.xor_key {
            create_new(&dir.join(XOR_KEY_FILE))?.write_all(&key)?;
        }
        Ok(BlkWriter {
            dir: dir.to_path_buf(),
            opts: opts.clone(),
            rng: Rng::derive(opts.seed, 0x5_4ff1e),
            magic: Network::Regtest.magic().to_bytes(),
            window: Vec::new(),
            file: None,
            file_no: 0,
            file_len: 0,
            stats: WriteStats::default(),
        })
    }

    pub fn write_block(&mut self, block: &Block) -> io::Result<()> {
        self.write_raw(serialize(block))
    }

    /// Queues one serialized block.
    pub fn write_raw(&mut self, raw: Vec<u8>) -> io::Result<()> {
        if self.stats.blocks == 0 || self.opts.shuffle_window <= 1 {
            return self.emit(&raw);
        }
        self.window.push(raw);
        if self.window.len() >= self.opts.shuffle_window {
            self.flush_window()?;
        }
        Ok(())
    }

    fn flush_window(&mut self) -> io::Result<()> {
        let mut window = std::mem::take(&mut self.window);
        self.rng.shuffle(&mut window);
        for raw in &window {
            self.emit(raw)?;
        }
        Ok(())
    }

    fn emit(&mut self, raw: &[u8]) -> io::Result<()> {
        let len = u32::try_from(raw.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "block exceeds 4 GiB"))?;
        let add = RECORD_HEADER + u64::from(len);
        if self.file.is_some()
            && self.file_len > 0
            && self.file_len + add >= self.opts.max_file_size
        {
            self.close_file()?;
            self.file_no += 1;
        }
        if self.file.is_none() {
            self.file = Some(BufWriter::with_capacity(
                1 << 20,
                create_new(&blk_path(&self.dir, self.file_no))?,
            ));
            self.file_len = 0;
        }
        let mut record = Vec::with_capacity(add as usize);
        record.extend_from_slice(&self.magic);
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(raw);
        if let Some(key) = self.opts.xor_key {
            xor_in_place(&mut record, &key, self.file_len);
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(&record)?;
        }
        self.file_len += add;
        self.stats.blocks += 1;
        Ok(())
    }

    fn close_file(&mut self) -> io::Result<()> {
        let Some(writer) = self.file.take() else {
            return Ok(());
        };
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        let mut size = self.file_len;
        if let Some(chunk) = self.opts.prealloc_chunk {
            // set_len leaves a hole that reads as zeros, exactly like fallocate.
            size = self.file_len.div_ceil(chunk) * chunk;
            file.set_len(size)?;
        }
        self.stats.files += 1;
        self.stats.bytes += size;
        Ok(())
    }

    /// Writes out the remaining window and closes the last file.
    pub fn finish(mut self) -> io::Result<WriteStats> {
        self.flush_window()?;
        self.close_file()?;
        Ok(self.stats.clone())
    }
}

fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// XORs `data`, which starts at `offset` within its file, with Core's repeating key.
pub fn xor_in_place(data: &mut [u8], key: &[u8; 8], offset: u64) {
    let start = (offset % 8) as usize;
    for (i, byte) in data.iter_mut().enumerate() {
        *byte ^= key[(start + i) % 8];
    }
}

/// One record read back from a blk file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlkRecord {
    /// Number of the blk file.
    pub file: u32,
    /// Offset of the block bytes (after magic and length) within the file.
    pub offset: u64,
    /// The serialized block.
    pub raw: Vec<u8>,
}

/// Reads every regtest record from `blk00000.dat`, `blk00001.dat`, … in `dir`, removing the
/// obfuscation if `xor.dat` is present. Like Core's `-loadblock` importer it resynchronises on
/// the magic bytes, so zero padding and torn tails are skipped.
pub fn read_blk_dir(dir: &Path) -> io::Result<Vec<BlkRecord>> {
    let key = read_xor_key(dir)?;
    let magic = Network::Regtest.magic().to_bytes();
    let mut records = Vec::new();
    for file_no in 0u32.. {
        let path = blk_path(dir, file_no);
        let mut data = Vec::new();
        match File::open(&path) {
            Ok(mut f) => f.read_to_end(&mut data)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        };
        if let Some(key) = key {
            xor_in_place(&mut data, &key, 0);
        }
        scan_records(&data, &magic, file_no, &mut records);
    }
    Ok(records)
}

/// The key from `dir/xor.dat`, or `None` when absent or all zeros (Core's "no obfuscation").
pub fn read_xor_key(dir: &Path) -> io::Result<Option<[u8; 8]>> {
    match fs::read(dir.join(XOR_KEY_FILE)) {
        Ok(bytes) => {
            let key: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "xor.dat must hold exactly 8 bytes",
                )
            })?;
            Ok((key != [0; 8]).then_some(key))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn scan_records(data: &[u8], magic: &[u8; 4], file: u32, out: &mut Vec<BlkRecord>) {
    let mut pos = 0usize;
    while pos + RECORD_HEADER as usize <= data.len() {
        if data[pos..pos + 4] != magic[..] {
            match data[pos + 1..].windows(4).position(|w| w == magic) {
                Some(skip) => pos += 1 + skip,
                None => return,
            }
            continue;
        }
        let len_bytes: [u8; 4] = data[pos + 4..pos + 8].try_into().unwrap_or([0; 4]);
        let len = u32::from_le_bytes(len_bytes) as usize;
        let start = pos + RECORD_HEADER as usize;
        let Some(raw) = data.get(start..start + len) else {
            return;
        };
        out.push(BlkRecord {
            file,
            offset: start as u64,
            raw: raw.to_vec(),
        });
        pos = start + len;
    }
}
