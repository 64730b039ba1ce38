//! Writes the heist scenario: `cargo run -p chaintrace-fixturegen --example write_heist -- DIR`.

use chaintrace_fixturegen::{write_heist, BlkWriterOptions};

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "heist".to_owned());
    let manifest = write_heist(std::path::Path::new(&dir), &BlkWriterOptions::default())?;
    println!(
        "heist written to {dir}: tip {} at height {}, {} txs",
        manifest.chain.tip_hash, manifest.chain.tip_height, manifest.chain.txs
    );
    Ok(())
}
