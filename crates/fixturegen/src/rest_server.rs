//! A loopback HTTP server that answers like Bitcoin Core's REST interface (`-rest`), from data
//! the test provides, so node-following code can be tested without a node.
//!
//! Served paths (status codes, content types and error texts follow Core):
//! * `GET /rest/chaininfo.json`
//! * `GET /rest/blockhashbyheight/<height>.{json,hex,bin}`
//! * `GET /rest/block/<hash>.{bin,hex}` and `/rest/block/notxdetails/<hash>.{bin,hex}`; `.json`
//!   only for documents registered with [`RestServer::add_block_json`]
//! * `GET /rest/tx/<txid>.{bin,hex}` for transactions in any block the server was given; `.json`
//!   only for documents registered with [`RestServer::add_tx_json`]
//! * `GET /rest/headers/<hash>.{bin,hex}?count=<n>` and the older `/rest/headers/<n>/<hash>.<ext>`
//!
//! Blocks from a replaced chain stay retrievable by hash, as stale blocks do on a node, but
//! drop out of height lookups and header walks.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use bitcoin::block::Header;
use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::Hash;
use bitcoin::hex::DisplayHex;
use bitcoin::pow::Work;
use bitcoin::{Block, BlockHash, Network, Txid};

/// Core's `MAX_REST_HEADERS_RESULTS`.
const MAX_HEADERS: u32 = 2000;

/// Core's default `count` for `/rest/headers/<hash>`.
const DEFAULT_HEADERS: u32 = 5;

struct KnownBlock {
    raw: Vec<u8>,
    header: Header,
}

struct State {
    network: Network,
    /// The active chain.
    active: BTreeMap<u32, BlockHash>,
    /// Heights of every block ever registered; a block's height never changes.
    height_of: HashMap<BlockHash, u32>,
    blocks: HashMap<BlockHash, KnownBlock>,
    txs: HashMap<Txid, Vec<u8>>,
    block_json: HashMap<BlockHash, String>,
    tx_json: HashMap<Txid, String>,
    failures_left: u32,
    failure_status: u16,
    requests: u64,
}

/// A Core REST look-alike on `127.0.0.1` with a free port. Stops when dropped.
pub struct RestServer {
    server: Option<Arc<tiny_http::Server>>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl RestServer {
    /// Starts serving a regtest chain holding only the genesis block.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound; use [`RestServer::try_start`] to handle that.
    pub fn start() -> RestServer {
        RestServer::try_start().expect("bind a loopback port for the REST replay server")
    }

    pub fn try_start() -> io::Result<RestServer> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("REST replay server is not listening on TCP"))?;
        let server = Arc::new(server);
        let state = Arc::new(Mutex::new(State {
            network: Network::Regtest,
            active: BTreeMap::new(),
            height_of: HashMap::new(),
            blocks: HashMap::new(),
            txs: HashMap::new(),
            block_json: HashMap::new(),
            tx_json: HashMap::new(),
            failures_left: 0,
            failure_status: 503,
            requests: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, state, stop) = (server.clone(), state.clone(), stop.clone());
            std::thread::Builder::new()
                .name("rest-replay".into())
                .spawn(move || serve(&server, &state, &stop))?
        };
        let rest = RestServer {
            server: Some(server),
            state,
            stop,
            thread: Some(thread),
            addr,
        };
        let genesis = bitcoin::constants::genesis_block(Network::Regtest);
        rest.set_chain(vec![genesis], Network::Regtest);
        Ok(rest)
    }

    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the active chain; `blocks[i]` is the block at height `i`. Blocks of the
    /// previous chain remain known by hash (like stale blocks on a node).
    pub fn set_chain(&self, blocks: Vec<Block>, network: Network) {
        let mut state = self.lock();
        state.network = network;
        state.active.clear();
        for (height, block) in blocks.into_iter().enumerate() {
            let height = height as u32;
            let hash = block.block_hash();
            for tx in &block.txdata {
                state.txs.insert(tx.compute_txid(), serialize(tx));
            }
            state.blocks.insert(
                hash,
                KnownBlock {
                    raw: serialize(&block),
                    header: block.header,
                },
            );
            state.active.insert(height, hash);
            state.height_of.insert(hash, height);
        }
    }

    /// Changes the chain name reported by `chaininfo` without touching the blocks.
    pub fn set_network(&self, network: Network) {
        self.lock().network = network;
    }

    /// Registers Core's JSON for a block (as returned by `/rest/block/<hash>.json`) and makes
    /// `height` resolve to it. Its `chainwork` field is reported when it is the tip.
    pub fn add_block_json(&self, hash: BlockHash, json: impl Into<String>, height: u32) {
        let mut state = self.lock();
        state.block_json.insert(hash, json.into());
        state.active.insert(height, hash);
        state.height_of.insert(hash, height);
    }

    /// Registers Core's JSON for a transaction (as returned by `/rest/tx/<txid>.json`).
    pub fn add_tx_json(&self, txid: Txid, json: impl Into<String>) {
        self.lock().tx_json.insert(txid, json.into());
    }

    /// The next `count` requests fail with HTTP `status` (e.g. 500, or 503 as Core answers
    /// when its work queue is full).
    pub fn fail_next(&self, count: u32, status: u16) {
        let mut state = self.lock();
        state.failures_left = count;
        state.failure_status = status;
    }

    /// Requests received so far, failed ones included.
    pub fn request_count(&self) -> u64 {
        self.lock().requests
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for RestServer {
    /// Stops the serving thread and waits (up to a second) until the port refuses
    /// connections, so a test can rely on the "node" being gone once the server is dropped.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(server) = &self.server {
            server.unblock();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // tiny_http closes its listener on its own accept thread, shortly after the last
        // handle to the server goes away.
        drop(self.server.take());
        for _ in 0..100 {
            let probe = TcpStream::connect_timeout(&self.addr, Duration::from_millis(50));
            if probe.is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A handler panic must not take every later request down with it.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn serve(server: &tiny_http::Server, state: &Mutex<State>, stop: &AtomicBool) {
    loop {
        match server.recv() {
            Ok(request) => {
                let reply = respond_to(&mut lock(state), request.method(), request.url());
                // A client that hung up is its own problem; keep serving the others.
                let _ = request.respond(reply.into_response());
            }
            Err(_) if stop.load(Ordering::SeqCst) => return,
            Err(_) => continue,
        }
    }
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn json(body: String) -> Reply {
        Reply {
            status: 200,
            content_type: "application/json",
            body: (body + "\n").into_bytes(),
        }
    }

    fn text(line: String) -> Reply {
        Reply {
            status: 200,
            content_type: "text/plain",
            body: (line + "\n").into_bytes(),
        }
    }

    fn hex(bytes: &[u8]) -> Reply {
        Reply::text(bytes.to_lower_hex_string())
    }

    fn bin(bytes: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            content_type: "application/octet-stream",
            body: bytes,
        }
    }

    /// Core's `RESTERR`: plain text message ending in CRLF.
    fn error(status: u16, message: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain",
            body: format!("{message}\r\n").into_bytes(),
        }
    }

    fn not_found(what: &str) -> Reply {
        Reply::error(404, &format!("{what} not found"))
    }

    fn into_response(self) -> tiny_http::Response<io::Cursor<Vec<u8>>> {
        let response = tiny_http::Response::from_data(self.body).with_status_code(self.status);
        match tiny_http::Header::from_bytes("Content-Type", self.content_type) {
            Ok(header) => response.with_header(header),
            Err(()) => response,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Hex,
    Bin,
}

/// Splits `<param>.<ext>` like Core's `ParseDataFormat`.
fn split_format(part: &str) -> Result<(&str, Format), Reply> {
    let unknown = || Reply::error(404, "output format not found (available: json, bin, hex)");
    let (param, ext) = part.rsplit_once('.').ok_or_else(unknown)?;
    let format = match ext {
        "json" => Format::Json,
        "hex" => Format::Hex,
        "bin" => Format::Bin,
        _ => return Err(unknown()),
    };
    Ok((param, format))
}

fn respond_to(state: &mut State, method: &tiny_http::Method, url: &str) -> Reply {
    state.requests += 1;
    if state.failures_left > 0 {
        state.failures_left -= 1;
        let message = match state.failure_status {
            503 => "Work queue depth exceeded",
            _ => "Internal server error",
        };
        return Reply::error(state.failure_status, message);
    }
    if *method != tiny_http::Method::Get {
        return Reply::error(405, "Method not allowed");
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let Some(route) = path.strip_prefix("/rest/") else {
        return Reply {
            status: 404,
            content_type: "text/plain",
            body: Vec::new(),
        };
    };
    let result = match route.split_once('/') {
        None if route == "chaininfo.json" => Ok(chaininfo(state)),
        Some(("blockhashbyheight", rest)) => split_format(rest).map(|p| hash_by_height(state, p)),
        Some(("block", rest)) => {
            let rest = rest.strip_prefix("notxdetails/").unwrap_or(rest);
            split_format(rest).map(|p| block(state, p))
        }
        Some(("tx", rest)) => split_format(rest).map(|p| tx(state, p)),
        Some(("headers", rest)) => headers(state, rest, query),
        _ => Err(Reply {
            status: 404,
            content_type: "text/plain",
            body: Vec::new(),
        }),
    };
    result.unwrap_or_else(|reply| reply)
}

fn parse_hash<T: std::str::FromStr>(text: &str) -> Result<T, Reply> {
    if text.len() != 64 {
        return Err(Reply::error(400, &format!("Invalid hash: {text}")));
    }
    text.parse()
        .map_err(|_| Reply::error(400, &format!("Invalid hash: {text}")))
}

fn chaininfo(state: &State) -> Reply {
    let tip = state.active.iter().next_back().map(|(h, hash)| (*h, *hash));
    let (height, hash) = tip.unwrap_or((0, BlockHash::all_zeros()));
    let tip_header = state.blocks.get(&hash).map(|b| b.header);
    let times: Vec<u32> = state
        .active
        .values()
        .rev()
        .take(11)
        .filter_map(|h| state.blocks.get(h).map(|b| b.header.time))
        .collect();
    let size_on_disk: usize = state
        .active
        .values()
        .filter_map(|h| state.blocks.get(h))
        .map(|b| b.raw.len() + 8)
        .sum();
    let doc = serde_json::json!({
        "chain": state.network.to_core_arg(),
        "blocks": height,
        "headers": height,
        "bestblockhash": hash.to_string(),
        "difficulty": tip_header.map(|h| h.difficulty_float()).unwrap_or(0.0),
        "time": tip_header.map(|h| h.time).unwrap_or(0),
        "mediantime": median(times),
        "verificationprogress": 1.0,
        "initialblockdownload": false,
        "chainwork": chainwork(state, hash),
        "size_on_disk": size_on_disk,
        "pruned": false,
        "warnings": [],
    });
    Reply::json(doc.to_string())
}

fn median(mut times: Vec<u32>) -> u32 {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or(0)
}

/// The tip's recorded chainwork if it came as JSON, else the sum over the active headers.
fn chainwork(state: &State, tip: BlockHash) -> String {
    let recorded = state
        .block_json
        .get(&tip)
        .and_then(|doc| serde_json::from_str::<serde_json::Value>(doc).ok())
        .and_then(|doc| doc.get("chainwork")?.as_str().map(str::to_owned));
    if let Some(work) = recorded {
        return work;
    }
    let total = state
        .active
        .values()
        .filter_map(|h| state.blocks.get(h))
        .fold(Work::from_be_bytes([0; 32]), |sum, b| sum + b.header.work());
    total.to_be_bytes().to_lower_hex_string()
}

fn hash_by_height(state: &State, (param, format): (&str, Format)) -> Reply {
    let Ok(height) = param.parse::<u32>() else {
        return Reply::error(400, &format!("Invalid height: {param}"));
    };
    let Some(hash) = state.active.get(&height) else {
        return Reply::error(404, "Block height out of range");
    };
    match format {
        Format::Json => {
            Reply::json(serde_json::json!({ "blockhash": hash.to_string() }).to_string())
        }
        Format::Hex => Reply::text(hash.to_string()),
        Format::Bin => Reply::bin(hash.to_byte_array().to_vec()),
    }
}

fn block(state: &State, (param, format): (&str, Format)) -> Reply {
    let hash: BlockHash = match parse_hash(param) {
        Ok(hash) => hash,
        Err(reply) => return reply,
    };
    match format {
        Format::Json => match state.block_json.get(&hash) {
            Some(doc) => Reply::json(doc.trim_end().to_owned()),
            None => Reply::not_found(param),
        },
        Format::Hex | Format::Bin => match state.blocks.get(&hash) {
            Some(known) if format == Format::Hex => Reply::hex(&known.raw),
            Some(known) => Reply::bin(known.raw.clone()),
            None => Reply::not_found(param),
        },
    }
}

fn tx(state: &State, (param, format): (&str, Format)) -> Reply {
    let txid: Txid = match parse_hash(param) {
        Ok(txid) => txid,
        Err(reply) => return reply,
    };
    match format {
        Format::Json => match state.tx_json.get(&txid) {
            Some(doc) => Reply::json(doc.trim_end().to_owned()),
            None => Reply::not_found(param),
        },
        Format::Hex | Format::Bin => match state.txs.get(&txid) {
            Some(raw) if format == Format::Hex => Reply::hex(raw),
            Some(raw) => Reply::bin(raw.clone()),
            None => Reply::not_found(param),
        },
    }
}

/// `<hash>.<ext>?count=N` (Core 24+) or `<count>/<hash>.<ext>` (older Core).
fn headers(state: &State, rest: &str, query: &str) -> Result<Reply, Reply> {
    let (count_text, target) = match rest.split_once('/') {
        Some((count, target)) => (count.to_owned(), target),
        None => {
            let count = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("count="))
                .map_or_else(|| DEFAULT_HEADERS.to_string(), str::to_owned);
            (count, rest)
        }
    };
    let (param, format) = split_format(target)?;
    let count = match count_text.parse::<u32>() {
        Ok(n) if (1..=MAX_HEADERS).contains(&n) => n,
        _ => {
            return Err(Reply::error(
                400,
                &format!("Header count is invalid or out of acceptable range (1-{MAX_HEADERS}): {count_text}"),
            ))
        }
    };
    let hash: BlockHash = parse_hash(param)?;
    let mut raw = Vec::new();
    // Like Core: nothing for blocks off the active chain, else walk forward along it.
    let start = state
        .height_of
        .get(&hash)
        .filter(|h| state.active.get(h) == Some(&hash));
    if let Some(&start) = start {
        for height in start..start.saturating_add(count) {
            let known = state.active.get(&height).and_then(|h| state.blocks.get(h));
            let Some(known) = known else {
                break;
            };
            raw.extend_from_slice(&serialize(&known.header));
        }
    }
    Ok(match format {
        Format::Bin => Reply::bin(raw),
        Format::Hex => Reply::hex(&raw),
        Format::Json => Reply::error(404, "output format not found (available: bin, hex)"),
    })
}
