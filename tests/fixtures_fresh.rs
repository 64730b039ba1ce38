//! The committed generated fixtures are exactly what the generator produces today, so tests
//! and the demo never drift from the code that documents them.

use std::path::Path;

use chaintrace_fixturegen::{write_heist, write_mixers, BlkWriterOptions};

#[test]
fn committed_heist_fixture_matches_a_fresh_generation() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/btc/heist");
    let fresh = tempfile::tempdir().unwrap();
    write_heist(fresh.path(), &BlkWriterOptions::default()).unwrap();
    for file in ["blocks/blk00000.dat", "heist.json", "heist.tagpack.yaml"] {
        let a = std::fs::read(committed.join(file)).unwrap();
        let b = std::fs::read(fresh.path().join(file)).unwrap();
        assert!(
            a == b,
            "fixtures/btc/heist/{file} differs from a fresh `chaintrace gen heist`"
        );
    }
}

#[test]
fn committed_mixers_fixture_matches_a_fresh_generation() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/btc/mixers");
    let fresh = tempfile::tempdir().unwrap();
    write_mixers(fresh.path(), &BlkWriterOptions::default()).unwrap();
    for file in ["blocks/blk00000.dat", "mixers.json", "mixers.tagpack.yaml"] {
        let a = std::fs::read(committed.join(file)).unwrap();
        let b = std::fs::read(fresh.path().join(file)).unwrap();
        assert!(
            a == b,
            "fixtures/btc/mixers/{file} differs from a fresh `chaintrace gen mixers`"
        );
    }
}
