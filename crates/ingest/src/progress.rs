//! Progress reporting, decoupled from any terminal library: the CLI draws bars, tests and
//! benches pass [`NoProgress`].

/// Receives progress of long-running work.
pub trait Progress: Sync {
    /// A new phase starts, with a known total (in `unit`s) if there is one.
    fn start(&self, phase: &str, total: Option<u64>, unit: &str);
    /// `n` more units of the current phase are done.
    fn advance(&self, n: u64);
    /// The current phase is over.
    fn finish(&self);
}

/// Ignores all progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>, _: &str) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
