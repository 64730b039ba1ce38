//! A real Ethereum node for tests: the pinned anvil binary, started on loopback with settings
//! that make every block reproducible, and a small blocking JSON-RPC client.
//!
//! # Why these settings
//! * `--no-mining`: blocks are mined only on request ([`Anvil::mine`]), each with an explicit
//!   timestamp of `parent + block_time`. Interval mining (`--block-time`) and automine stamp
//!   blocks with the wall clock, which would change every block hash on every run.
//! * `--order fifo`: transactions of one block keep their submission order.
//! * `--timestamp`, `--chain-id 31337`, `--hardfork prague`, the default test mnemonic and a
//!   fixed coinbase (fee recipient, set with `anvil_setCoinbase`): with the above, the same
//!   calls yield the same transaction and block hashes on every machine.
//!
//! # Provisioning
//! [`Anvil::start`] looks for `<target>/tools/anvil-1.7.1/anvil` and installs it from the npm
//! package `@foundry-rs/anvil-linux-amd64@1.7.1` when missing (see [`ensure_anvil`]); the
//! target dir is `CARGO_TARGET_DIR` or `<workspace>/target` ([`target_dir`]). Setting
//! `CHAINTRACE_ANVIL` to a binary skips provisioning.
//!
//! # Reorgs
//! anvil 1.7.1 has `anvil_rollback(depth)`, which drops the top `depth` blocks and their
//! transactions (they do not return to the mempool), and `anvil_reorg(depth, txs)`, which
//! re-mines the dropped heights with new transactions it signs itself and stamps with the
//! fork point's timestamp. [`Anvil::reorg`] uses `anvil_rollback` and mines the new branch
//! itself, so the new branch is just as reproducible as the old one; `evm_snapshot` /
//! `evm_revert` ([`Anvil::snapshot`], [`Anvil::revert`]) work too.
//!
//! # Traces
//! anvil 1.7.1 serves `debug_traceBlockByNumber` / `debug_traceTransaction` with
//! `{"tracer": "callTracer"}`, parity-style `trace_block` / `trace_transaction`, and
//! `eth_getBlockReceipts`; the integration tests check all of them.

mod install;
mod types;

use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub use install::{
    anvil_path, ensure_anvil, resolve_anvil, target_dir, workspace_root, ANVIL_ENV, ANVIL_VERSION,
};
pub use types::{
    parse_hex, parse_quantity, parse_u64, quantity, to_hex, Address, BlockRef, Log, Receipt, Reorg,
    TxRequest, ETHER, GWEI,
};

/// The dev chain id anvil and hardhat use.
pub const CHAIN_ID: u64 = 31337;
/// Genesis timestamp: 2023-11-14 22:13:20 UTC.
pub const DEFAULT_GENESIS_TIMESTAMP: u64 = 1_700_000_000;
/// Seconds between consecutive blocks, as on mainnet since the Merge.
pub const DEFAULT_BLOCK_TIME: u64 = 12;
/// The fee recipient of every block (`block.miner`), so priority fees land on a named
/// account instead of the zero address (which a tracer would mistake for a burn).
pub const DEFAULT_COINBASE: Address = Address::tagged(0xfee0, 1);
/// anvil's default mnemonic, spelled out so a change of default cannot change the accounts.
pub const TEST_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Why an anvil helper failed. Messages name the RPC method, address or file involved.
#[derive(Debug)]
pub enum AnvilError {
    /// The binary could not be provisioned.
    Install(String),
    /// The node did not start or did not answer.
    Start(String),
    /// A JSON-RPC call failed: transport error, JSON-RPC error object, or a bad result.
    Rpc { method: String, message: String },
    /// A malformed value: an address, a hex quantity, a receipt field.
    Input(String),
    /// The Ethereum scenario could not be played as scripted.
    Scenario { step: String, message: String },
}

impl std::fmt::Display for AnvilError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnvilError::Install(m) => write!(f, "anvil install: {m}"),
            AnvilError::Start(m) => write!(f, "anvil start: {m}"),
            AnvilError::Rpc { method, message } => write!(f, "anvil RPC {method}: {message}"),
            AnvilError::Input(m) => write!(f, "bad value: {m}"),
            AnvilError::Scenario { step, message } => {
                write!(f, "Ethereum scenario, step {step:?}: {message}")
            }
        }
    }
}

impl std::error::Error for AnvilError {}

pub type Result<T, E = AnvilError> = std::result::Result<T, E>;

/// How to start anvil. [`Default`] gives the reproducible settings described in the module
/// docs; change them only if a test needs something else.
#[derive(Clone, Debug)]
pub struct AnvilOptions {
    /// Where `tools/anvil-<version>/` lives; `None` means [`target_dir`].
    pub target_dir: Option<PathBuf>,
    pub genesis_timestamp: u64,
    /// Seconds added to the parent's timestamp for each block [`Anvil::mine`] mines.
    pub block_time: u64,
    pub chain_id: u64,
    /// Number of unlocked dev accounts derived from [`TEST_MNEMONIC`].
    pub accounts: u32,
    pub coinbase: Address,
    /// How long to wait for the first `eth_chainId` answer.
    pub startup_timeout: Duration,
    /// Timeout of one RPC call.
    pub rpc_timeout: Duration,
    /// Appended to the command line as is.
    pub extra_args: Vec<String>,
}

impl Default for AnvilOptions {
    fn default() -> Self {
        AnvilOptions {
            target_dir: None,
            genesis_timestamp: DEFAULT_GENESIS_TIMESTAMP,
            block_time: DEFAULT_BLOCK_TIME,
            chain_id: CHAIN_ID,
            accounts: 10,
            coinbase: DEFAULT_COINBASE,
            startup_timeout: Duration::from_secs(30),
            rpc_timeout: Duration::from_secs(60),
            extra_args: Vec::new(),
        }
    }
}

/// Ports picked from the OS can be taken by someone else before anvil binds them; retry.
const START_ATTEMPTS: u32 = 4;
/// Largest RPC response accepted (block traces of the fixtures are far smaller).
const MAX_RESPONSE: u64 = 256 << 20;

/// A running anvil process, killed when dropped.
pub struct Anvil {
    child: Child,
    url: String,
    port: u16,
    block_time: u64,
    agent: ureq::Agent,
    log: PathBuf,
    next_id: AtomicU64,
}

impl Anvil {
    /// Provisions the binary if needed, starts anvil on a free loopback port, waits until it
    /// answers `eth_chainId`, and sets the coinbase.
    pub fn start(opts: &AnvilOptions) -> Result<Anvil> {
        let target = opts.target_dir.clone().unwrap_or_else(target_dir);
        let bin = resolve_anvil(&target)?;
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&bin, opts)? {
                Ok(anvil) => {
                    anvil.set_coinbase(opts.coinbase)?;
                    return Ok(anvil);
                }
                Err(reason) => last = reason,
            }
        }
        Err(AnvilError::Start(format!(
            "{} did not come up after {START_ATTEMPTS} attempts: {last}",
            bin.display()
        )))
    }

    /// One start on one port. The outer `Err` is fatal; the inner one (anvil exited, e.g.
    /// because the port was taken meanwhile) is worth another try.
    fn try_start(bin: &Path, opts: &AnvilOptions) -> Result<std::result::Result<Anvil, String>> {
        let port = free_port()?;
        let log = std::env::temp_dir().join(format!(
            "chaintrace-anvil-{}-{port}.log",
            std::process::id()
        ));
        let child = spawn(bin, opts, port, &log)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(opts.rpc_timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
            block_time: opts.block_time,
            agent,
            log,
            next_id: AtomicU64::new(1),
        };
        anvil.wait_ready(opts)
    }

    fn wait_ready(mut self, opts: &AnvilOptions) -> Result<std::result::Result<Anvil, String>> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Ok(Err(format!("exited with {status}: {}", self.log_tail())));
            }
            if let Ok(id) = self.rpc("eth_chainId", json!([])) {
                let id = parse_u64(&id, "eth_chainId")?;
                if id != opts.chain_id {
                    return Err(AnvilError::Start(format!(
                        "{} answers chain id {id}, expected {}",
                        self.url, opts.chain_id
                    )));
                }
                return Ok(Ok(self));
            }
            if started.elapsed() > opts.startup_timeout {
                return Err(AnvilError::Start(format!(
                    "no eth_chainId answer from {} within {:?}: {}",
                    self.url,
                    opts.startup_timeout,
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Last lines of anvil's output, for error messages.
    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join(" | ")
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Seconds between the blocks [`Anvil::mine`] mines.
    pub fn block_time(&self) -> u64 {
        self.block_time
    }

    /// Calls a JSON-RPC method and returns its `result` (which may be `null`).
    pub fn rpc(&self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let err = |message: String| AnvilError::Rpc {
            method: method.to_owned(),
            message,
        };
        let mut resp = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .send(body.to_string())
            .map_err(|e| err(format!("{}: {e}", self.url)))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_string()
            .map_err(|e| err(format!("reading the response: {e}")))?;
        let mut reply: Value = serde_json::from_str(&text)
            .map_err(|e| err(format!("HTTP {status}, not JSON ({e}): {}", clip(&text))))?;
        if let Some(error) = reply.get("error").filter(|e| !e.is_null()) {
            return Err(err(format!("{error}")));
        }
        match reply.get_mut("result") {
            Some(result) => Ok(result.take()),
            None => Err(err(format!("HTTP {status}, no result: {}", clip(&text)))),
        }
    }

    /// The current block number.
    pub fn block_number(&self) -> Result<u64> {
        parse_u64(&self.rpc("eth_blockNumber", json!([]))?, "eth_blockNumber")
    }

    /// A block by number (`None` = latest), transactions as hashes.
    pub fn block(&self, number: Option<u64>) -> Result<BlockRef> {
        let tag = number.map_or_else(|| "latest".to_owned(), |n| quantity(n.into()));
        let v = self.rpc("eth_getBlockByNumber", json!([tag, false]))?;
        if v.is_null() {
            return Err(AnvilError::Rpc {
                method: "eth_getBlockByNumber".into(),
                message: format!("no block {tag}"),
            });
        }
        BlockRef::from_json(&v)
    }

    /// Mines `n` blocks, each stamped `parent.timestamp + block_time`, and returns them.
    pub fn mine(&self, n: u64) -> Result<Vec<BlockRef>> {
        self.mine_spaced(n, self.block_time)
    }

    /// Mines `n` blocks, each `spacing` seconds after its parent.
    pub fn mine_spaced(&self, n: u64, spacing: u64) -> Result<Vec<BlockRef>> {
        let mut parent = self.block(None)?;
        let mut mined = Vec::new();
        for _ in 0..n {
            let timestamp = parent.timestamp + spacing.max(1);
            self.rpc("evm_mine", json!([{ "timestamp": timestamp }]))?;
            parent = self.block(None)?;
            mined.push(parent.clone());
        }
        Ok(mined)
    }

    /// Takes an `evm_snapshot` of the whole chain state; returns its id for [`Anvil::revert`].
    pub fn snapshot(&self) -> Result<String> {
        let id = self.rpc("evm_snapshot", json!([]))?;
        id.as_str()
            .map(str::to_owned)
            .ok_or_else(|| AnvilError::Rpc {
                method: "evm_snapshot".into(),
                message: format!("unexpected id {id}"),
            })
    }

    /// Restores a snapshot (blocks mined after it are discarded). A snapshot can be used once.
    pub fn revert(&self, id: &str) -> Result<()> {
        let ok = self.rpc("evm_revert", json!([id]))?;
        self.expect_true("evm_revert", &ok, id)
    }

    /// Lets `eth_sendTransaction` send from `addr` without its key.
    pub fn impersonate(&self, addr: Address) -> Result<()> {
        self.rpc("anvil_impersonateAccount", json!([addr.to_string()]))
            .map(drop)
    }

    /// Sets a balance out of thin air. No transaction or trace records it, so tracing sees it
    /// as untracked prior balance: use it for exchanges and bystanders, never for the thief.
    pub fn set_balance(&self, addr: Address, wei: u128) -> Result<()> {
        self.rpc("anvil_setBalance", json!([addr.to_string(), quantity(wei)]))
            .map(drop)
    }

    /// Sets `block.miner` (the priority-fee recipient) for the blocks mined from now on.
    pub fn set_coinbase(&self, addr: Address) -> Result<()> {
        self.rpc("anvil_setCoinbase", json!([addr.to_string()]))
            .map(drop)
    }

    /// The balance at the latest block.
    pub fn balance(&self, addr: Address) -> Result<u128> {
        let v = self.rpc("eth_getBalance", json!([addr.to_string(), "latest"]))?;
        parse_quantity(&v, &format!("eth_getBalance {addr}"))
    }

    /// Read-only call at the latest block; returns the raw return data.
    pub fn call(&self, to: Address, data: &[u8]) -> Result<Vec<u8>> {
        let params =
            json!([{ "to": to.to_string(), "input": format!("0x{}", to_hex(data)) }, "latest"]);
        let v = self.rpc("eth_call", params)?;
        let hex = v.as_str().ok_or_else(|| AnvilError::Rpc {
            method: "eth_call".into(),
            message: format!("to {to}: unexpected result {v}"),
        })?;
        parse_hex(hex).map_err(|e| AnvilError::Input(format!("eth_call to {to}: {e}")))
    }

    /// Submits a transaction to the mempool without mining; returns its hash. Use it to put
    /// several transactions into one block, then [`Anvil::mine`] and [`Anvil::receipt`].
    pub fn submit(&self, tx: &TxRequest) -> Result<String> {
        let hash = self
            .rpc("eth_sendTransaction", json!([tx.to_json()]))
            .map_err(|e| with_context(e, &format!("from {}", tx.from)))?;
        hash.as_str()
            .map(str::to_owned)
            .ok_or_else(|| AnvilError::Rpc {
                method: "eth_sendTransaction".into(),
                message: format!("from {}: unexpected result {hash}", tx.from),
            })
    }

    /// Submits a transaction, mines one block, and returns the receipt. A reverted
    /// transaction is not an error here: check [`Receipt::success`].
    pub fn send_tx(&self, tx: &TxRequest) -> Result<Receipt> {
        let hash = self.submit(tx)?;
        self.mine(1)?;
        self.receipt(&hash)
    }

    /// The receipt of a mined transaction; an error if it is unknown or still pending.
    pub fn receipt(&self, hash: &str) -> Result<Receipt> {
        let v = self.rpc("eth_getTransactionReceipt", json!([hash]))?;
        if v.is_null() {
            return Err(AnvilError::Rpc {
                method: "eth_getTransactionReceipt".into(),
                message: format!("{hash} is not mined (still pending, or dropped by a reorg)"),
            });
        }
        Receipt::from_json(&v)
    }

    /// `eth_getBlockReceipts` of block `number`, parsed.
    pub fn block_receipts(&self, number: u64) -> Result<Vec<Receipt>> {
        let v = self.rpc("eth_getBlockReceipts", json!([quantity(number.into())]))?;
        let list = v.as_array().ok_or_else(|| AnvilError::Rpc {
            method: "eth_getBlockReceipts".into(),
            message: format!("block {number}: unexpected result {}", clip(&v.to_string())),
        })?;
        list.iter().map(Receipt::from_json).collect()
    }

    /// `debug_traceBlockByNumber` with the geth `callTracer`: one `{txHash, result}` per
    /// transaction, `result` being the call tree (`calls`, `value`, `error`).
    pub fn call_traces(&self, number: u64) -> Result<Value> {
        let params = json!([quantity(number.into()), { "tracer": "callTracer" }]);
        self.rpc("debug_traceBlockByNumber", params)
    }

    /// Parity-style `trace_block`: a flat list of frames with `traceAddress`.
    pub fn trace_block(&self, number: u64) -> Result<Value> {
        self.rpc("trace_block", json!([quantity(number.into())]))
    }

    /// Drops the top `depth` blocks with `anvil_rollback`. Their transactions are discarded,
    /// not returned to the mempool.
    pub fn rollback(&self, depth: u64) -> Result<()> {
        self.rpc("anvil_rollback", json!([depth])).map(drop)
    }

    /// Replaces the top `depth` blocks with a branch one block longer, as a real reorg would:
    /// rolls back, submits `replacement` (to be mined in the new branch's first block), and
    /// mines `depth + 1` blocks spaced `block_time + 1` seconds, so even empty blocks get new
    /// hashes. Deterministic like the rest of the chain.
    pub fn reorg(&self, depth: u64, replacement: &[TxRequest]) -> Result<Reorg> {
        let tip = self.block_number()?;
        if depth == 0 || depth > tip {
            return Err(AnvilError::Input(format!(
                "reorg depth {depth} at tip {tip}: must be 1..={tip}"
            )));
        }
        let fork_point = tip - depth;
        let old: Vec<BlockRef> = (fork_point + 1..=tip)
            .map(|n| self.block(Some(n)))
            .collect::<Result<_>>()?;
        self.rollback(depth)?;
        for tx in replacement {
            self.submit(tx)?;
        }
        let new = self.mine_spaced(depth + 1, self.block_time + 1)?;
        let kept: Vec<&String> = new.iter().flat_map(|b| &b.tx_hashes).collect();
        Ok(Reorg {
            fork_point,
            old_hashes: old.iter().map(|b| b.hash.clone()).collect(),
            new_hashes: new.iter().map(|b| b.hash.clone()).collect(),
            dropped_txs: old
                .iter()
                .flat_map(|b| &b.tx_hashes)
                .filter(|h| !kept.contains(h))
                .cloned()
                .collect(),
        })
    }

    fn expect_true(&self, method: &str, v: &Value, what: &str) -> Result<()> {
        match v {
            Value::Bool(true) => Ok(()),
            other => Err(AnvilError::Rpc {
                method: method.into(),
                message: format!("{what}: returned {other}"),
            }),
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.log);
    }
}

/// Asks the OS for a free loopback port. Another process may take it before anvil binds it;
/// [`Anvil::start`] retries in that case.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| AnvilError::Start(format!("no free loopback port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| AnvilError::Start(format!("no free loopback port: {e}")))
}

fn spawn(bin: &Path, opts: &AnvilOptions, port: u16, log: &Path) -> Result<Child> {
    let out = File::create(log)
        .map_err(|e| AnvilError::Start(format!("create log {}: {e}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(|e| AnvilError::Start(format!("log {}: {e}", log.display())))?;
    Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--no-mining", "--order", "fifo", "--hardfork", "prague"])
        .args(["--timestamp", &opts.genesis_timestamp.to_string()])
        .args(["--chain-id", &opts.chain_id.to_string()])
        .args(["--accounts", &opts.accounts.to_string()])
        .args(["--mnemonic", TEST_MNEMONIC])
        .args(&opts.extra_args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| AnvilError::Start(format!("spawn {}: {e}", bin.display())))
}

fn with_context(e: AnvilError, context: &str) -> AnvilError {
    match e {
        AnvilError::Rpc { method, message } => AnvilError::Rpc {
            method,
            message: format!("{context}: {message}"),
        },
        other => other,
    }
}

fn clip(text: &str) -> &str {
    let end = text.char_indices().nth(300).map_or(text.len(), |(i, _)| i);
    &text[..end]
}
