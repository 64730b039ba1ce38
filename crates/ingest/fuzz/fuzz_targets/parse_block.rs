//! Arbitrary bytes as a raw block: decoding and validation must reject, never panic.
#![no_main]

use chaintrace_ingest::bitcoin::parse::parse_block;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_block(data, None, 0, [0; 32]);
});
