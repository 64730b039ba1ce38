//! Arbitrary bytes as the content of `blk00000.dat`: opening, scanning, reading and parsing every
//! record found must return errors, never panic or hang.
//!
//! Input layout: if the first byte is odd, the next 8 bytes are written as `xor.dat` and the rest
//! is the block file; otherwise there is no `xor.dat` and everything after the first byte is the
//! block file. (An empty input writes an empty block file.)
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use chaintrace_ingest::bitcoin::blkfiles::BlocksDir;
use chaintrace_ingest::bitcoin::parse::parse_block;
use chaintrace_ingest::NoProgress;
use chaintrace_model::Network;
use libfuzzer_sys::fuzz_target;

/// One directory per fuzzing process, created once and overwritten on every iteration.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("chaintrace-fuzz-blk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create fuzz temp dir");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    let xor_path = dir.join("xor.dat");
    let (xor, blk) = match data.split_first() {
        Some((flag, rest)) if flag & 1 == 1 && rest.len() >= 8 => (Some(&rest[..8]), &rest[8..]),
        Some((_, rest)) => (None, rest),
        None => (None, data),
    };
    match xor {
        Some(key) => std::fs::write(&xor_path, key).expect("write xor.dat"),
        None => match std::fs::remove_file(&xor_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("remove xor.dat: {e}"),
        },
    }
    std::fs::write(dir.join("blk00000.dat"), blk).expect("write blk00000.dat");

    let Ok(blocks) = BlocksDir::open(dir, Network::Main) else {
        return;
    };
    let Ok(locations) = blocks.scan(&NoProgress) else {
        return;
    };
    for loc in &locations {
        if let Ok(raw) = blocks.read_block(loc) {
            let _ = parse_block(&raw, None, 0, [0; 32]);
        }
    }
});
