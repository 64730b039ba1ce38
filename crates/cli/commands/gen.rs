//! `chaintrace gen` (hidden): deterministic regtest chains for tests, benchmarks and rehearsal.

use anyhow::Context;
use chaintrace_fixturegen::{write_chain, write_heist, write_mixers, BlkWriterOptions, ChainSpec};

use crate::args::{GenChainArgs, GenCommand};
use crate::exit::usage;

pub fn run(cmd: &GenCommand) -> anyhow::Result<()> {
    match cmd {
        GenCommand::Chain(a) => chain(a),
        GenCommand::Heist(a) => {
            let manifest = write_heist(&a.out, &BlkWriterOptions::default())
                .with_context(|| format!("writing the heist scenario to {}", a.out.display()))?;
            eprintln!(
                "wrote the heist scenario to {}: tip {} {}, manifest heist.json, labels heist.tagpack.yaml",
                a.out.display(),
                manifest.chain.tip_height,
                manifest.chain.tip_hash
            );
            Ok(())
        }
        GenCommand::Mixers(a) => {
            let manifest = write_mixers(&a.out, &BlkWriterOptions::default())
                .with_context(|| format!("writing the mixers scenario to {}", a.out.display()))?;
            eprintln!(
                "wrote the mixers scenario to {}: tip {} {}, manifest mixers.json, labels mixers.tagpack.yaml",
                a.out.display(),
                manifest.chain.tip_height,
                manifest.chain.tip_hash
            );
            Ok(())
        }
    }
}

fn chain(a: &GenChainArgs) -> anyhow::Result<()> {
    if a.txs_per_block == 0 {
        return Err(usage("--txs-per-block must be at least 1"));
    }
    // Blocks 1..=100 carry no spends (coinbases mature after 100 blocks).
    let blocks = 100 + a.txs.div_ceil(u64::from(a.txs_per_block));
    let blocks = u32::try_from(blocks).map_err(|_| usage("--txs is too large"))?;
    let spec = ChainSpec {
        seed: a.seed,
        blocks,
        txs_per_block: a.txs_per_block,
        stale_branches: a.stale,
        ..ChainSpec::default()
    };
    let xor_key = a.xor.as_deref().map(parse_key).transpose()?;
    let out = BlkWriterOptions {
        max_file_size: a.max_file_size,
        shuffle_window: a.shuffle as usize,
        xor_key,
        seed: a.seed,
        ..BlkWriterOptions::default()
    };
    let s = write_chain(&spec, &out, &a.out)
        .with_context(|| format!("writing a chain to {}", a.out.display()))?;
    eprintln!(
        "wrote {} blocks ({} stale), {} txs, {} bytes in {} files to {}; tip {} {}",
        s.blocks,
        s.stale_blocks,
        s.txs,
        s.bytes_written,
        s.files,
        a.out.display(),
        s.tip_height,
        s.tip_hash
    );
    Ok(())
}

fn parse_key(hex: &str) -> anyhow::Result<[u8; 8]> {
    let bad = || usage(format!("--xor takes 16 hex digits, got {hex:?}"));
    if hex.len() != 16 {
        return Err(bad());
    }
    let mut key = [0u8; 8];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
            .map_err(|_| bad())?;
    }
    Ok(key)
}
