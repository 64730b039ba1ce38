//! Bitcoin Core's block files: `blocks/blkNNNNN.dat`, each a sequence of records
//! `[network magic: 4][length: u32 LE][raw block]`, optionally XOR-obfuscated with the 8-byte key
//! in `blocks/xor.dat` (Core 28+; the key byte for a file byte is `key[offset % 8]`).
//!
//! Core preallocates files in chunks, so a file may end in zeros; that is normal. Anything else
//! that does not fit the format is an error naming the file and offset.

use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bitcoin::block::Header;
use chaintrace_model::Network;
use rayon::prelude::*;

use crate::{IngestError, Progress};

/// Bitcoin Core's limit on a serialized block (`MAX_BLOCK_SERIALIZED_SIZE`).
pub const MAX_BLOCK_BYTES: u32 = 4_000_000;
const HEADER_BYTES: u32 = 80;
const XOR_KEY_FILE: &str = "xor.dat";

/// Where one block sits in the block files.
#[derive(Clone, Copy, Debug)]
pub struct BlockLocation {
    /// Index into [`BlocksDir::files`].
    pub file: u32,
    /// Offset of the raw block (after magic and length).
    pub offset: u64,
    pub len: u32,
    pub header: Header,
}

/// A Bitcoin Core blocks directory, opened for reading.
pub struct BlocksDir {
    dir: PathBuf,
    files: Vec<PathBuf>,
    xor_key: Option<[u8; 8]>,
    network: Network,
}

impl BlocksDir {
    /// Opens `dir`, which may be the blocks directory itself or a data directory containing
    /// `blocks/`. Reads the XOR key if there is one.
    pub fn open(dir: &Path, network: Network) -> Result<BlocksDir, IngestError> {
        let mut files = list_blk_files(dir)?;
        let mut dir = dir.to_path_buf();
        if files.is_empty() && dir.join("blocks").is_dir() {
            dir = dir.join("blocks");
            files = list_blk_files(&dir)?;
        }
        if files.is_empty() {
            return Err(IngestError::bad_data(
                dir.display().to_string(),
                "no blk*.dat files here (point --blocks-dir at Bitcoin Core's blocks directory)",
            ));
        }
        let xor_key = read_xor_key(&dir)?;
        Ok(BlocksDir {
            dir,
            files,
            xor_key,
            network,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    pub fn is_obfuscated(&self) -> bool {
        self.xor_key.is_some()
    }

    /// Total size of the block files in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|f| f.metadata().ok())
            .map(|m| m.len())
            .sum()
    }

    /// `blk00012.dat at offset 345`, for messages.
    pub fn describe(&self, file: u32, offset: u64) -> String {
        let name = self.files[file as usize]
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        format!("{} at offset {offset}", name.unwrap_or_default())
    }

    /// Reads every record header of every file (in parallel), in file order then offset order.
    pub fn scan(&self, progress: &dyn Progress) -> Result<Vec<BlockLocation>, IngestError> {
        progress.start("scanning block files", Some(self.total_bytes()), "bytes");
        // Collect every file's result before looking at errors, so that the error reported is
        // always the one in the first bad file, however the threads were scheduled.
        let per_file: Vec<Result<Vec<BlockLocation>, IngestError>> = (0..self.files.len())
            .into_par_iter()
            .map(|i| {
                let found = self.scan_file(i as u32);
                if let Ok(len) = self.files[i].metadata().map(|m| m.len()) {
                    progress.advance(len);
                }
                found
            })
            .collect();
        progress.finish();
        let mut all = Vec::new();
        for file in per_file {
            all.extend(file?);
        }
        Ok(all)
    }

    fn scan_file(&self, file: u32) -> Result<Vec<BlockLocation>, IngestError> {
        let path = &self.files[file as usize];
        let f = File::open(path).map_err(|e| IngestError::io(path, e))?;
        let len = f.metadata().map_err(|e| IngestError::io(path, e))?.len();
        let mut r = BufReader::with_capacity(1 << 16, f);
        let mut found = Vec::new();
        let mut pos = 0u64;
        let io = |e| IngestError::io(path, e);
        while pos < len {
            let remaining = len - pos;
            if remaining < 8 {
                let mut tail = vec![0u8; remaining as usize];
                r.read_exact(&mut tail).map_err(io)?;
                // Core preallocates with plain zeros, which it never obfuscates.
                if tail.iter().all(|b| *b == 0) {
                    break;
                }
                return Err(IngestError::bad_data(
                    self.describe(file, pos),
                    format!("{remaining} stray bytes at the end of the file (truncated record?)"),
                ));
            }
            let mut head = [0u8; 8];
            r.read_exact(&mut head).map_err(io)?;
            if head[..4] == [0; 4] {
                break; // preallocated tail: plain zeros, never obfuscated
            }
            self.unxor(&mut head, pos);
            let magic: [u8; 4] = head[..4].try_into().expect("4 bytes");
            self.check_magic(file, pos, magic)?;
            let size = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
            self.check_size(file, pos, size, remaining - 8)?;
            let mut raw = [0u8; HEADER_BYTES as usize];
            r.read_exact(&mut raw).map_err(io)?;
            self.unxor(&mut raw, pos + 8);
            let header: Header = bitcoin::consensus::deserialize(&raw).map_err(|e| {
                IngestError::bad_data(
                    self.describe(file, pos + 8),
                    format!("bad block header: {e}"),
                )
            })?;
            found.push(BlockLocation {
                file,
                offset: pos + 8,
                len: size,
                header,
            });
            r.seek_relative(i64::from(size - HEADER_BYTES))
                .map_err(io)?;
            pos += 8 + u64::from(size);
        }
        Ok(found)
    }

    fn check_magic(&self, file: u32, pos: u64, magic: [u8; 4]) -> Result<(), IngestError> {
        if magic == self.network.magic() {
            return Ok(());
        }
        let whose = Network::ALL
            .into_iter()
            .find(|n| n.magic() == magic)
            .map(|n| format!(", which belongs to the {n} network"))
            .unwrap_or_default();
        let hint = if self.xor_key.is_none() && whose.is_empty() {
            " (is xor.dat missing?)"
        } else {
            ""
        };
        Err(IngestError::bad_data(
            self.describe(file, pos),
            format!(
                "expected the {} network magic {:02x?}, found {:02x?}{whose}{hint}",
                self.network,
                self.network.magic(),
                magic
            ),
        ))
    }

    fn check_size(
        &self,
        file: u32,
        pos: u64,
        size: u32,
        available: u64,
    ) -> Result<(), IngestError> {
        if !(HEADER_BYTES..=MAX_BLOCK_BYTES).contains(&size) {
            return Err(IngestError::bad_data(
                self.describe(file, pos),
                format!("record length {size} is not a plausible block size"),
            ));
        }
        if u64::from(size) > available {
            return Err(IngestError::bad_data(
                self.describe(file, pos),
                format!("record claims {size} bytes but only {available} remain (truncated file?)"),
            ));
        }
        Ok(())
    }

    /// Reads the raw bytes of one block.
    pub fn read_block(&self, loc: &BlockLocation) -> Result<Vec<u8>, IngestError> {
        let path = &self.files[loc.file as usize];
        let f = File::open(path).map_err(|e| IngestError::io(path, e))?;
        let mut buf = vec![0u8; loc.len as usize];
        f.read_exact_at(&mut buf, loc.offset)
            .map_err(|e| IngestError::io(path, e))?;
        self.unxor(&mut buf, loc.offset);
        Ok(buf)
    }

    fn unxor(&self, buf: &mut [u8], file_offset: u64) {
        if let Some(key) = &self.xor_key {
            xor_in_place(buf, key, file_offset);
        }
    }
}

/// XORs `buf`, which starts at `file_offset` in its file, with the cycling 8-byte key.
pub fn xor_in_place(buf: &mut [u8], key: &[u8; 8], file_offset: u64) {
    let start = (file_offset % 8) as usize;
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(start + i) % 8];
    }
}

fn list_blk_files(dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let entries = std::fs::read_dir(dir).map_err(|e| IngestError::io(dir, e))?;
    let mut files: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| IngestError::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let number = name
            .strip_prefix("blk")
            .and_then(|n| n.strip_suffix(".dat"))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(n) = number {
            files.push((n, entry.path()));
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

/// Core 28+ writes an 8-byte key; an all-zero key (upgraded data directories) means no XOR.
fn read_xor_key(dir: &Path) -> Result<Option<[u8; 8]>, IngestError> {
    let path = dir.join(XOR_KEY_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IngestError::io(&path, e)),
    };
    let key: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
        IngestError::bad_data(
            path.display().to_string(),
            format!(
                "holds {} bytes; Bitcoin Core writes an 8-byte key",
                bytes.len()
            ),
        )
    })?;
    Ok(if key == [0; 8] { None } else { Some(key) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_is_aligned_to_the_file_offset() {
        let key = [1, 2, 3, 4, 5, 6, 7, 8];
        let mut whole = vec![0u8; 20];
        xor_in_place(&mut whole, &key, 0);
        let mut part = vec![0u8; 7];
        xor_in_place(&mut part, &key, 13);
        assert_eq!(&whole[13..], &part[..]);
        xor_in_place(&mut whole, &key, 0);
        assert!(whole.iter().all(|b| *b == 0));
    }
}
