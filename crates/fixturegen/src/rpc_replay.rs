//! A loopback HTTP server that answers Ethereum JSON-RPC calls from recordings, so node-reading
//! code (alloy providers included) can be tested against real mainnet responses without a node.
//!
//! Answers are looked up by `(method, params)`. Params match after hex strings are lowercased
//! and object keys sorted, so `"0x112A880"` as recorded answers alloy's `"0x112a880"`.
//! Recordings come in two shapes:
//! * bare responses `{"jsonrpc","id","result"}` (ethereum-etl's `web3_response.*.json`), where
//!   the test names the request: [`RpcReplay::load_response`];
//! * request/response pairs `[{"request": …, "response": …}]` (erigon's rpc-tests), where a
//!   request may itself be a batch: [`RpcReplay::load_pairs`].
//!
//! Behaviour follows JSON-RPC 2.0 over HTTP as nodes implement it: batches are answered with an
//! array in request order, notifications get no answer, and anything unrecorded is an error
//! object rather than a guess — `-32601` for a method never recorded, `-32000` for recorded
//! methods with other params. Each call is counted per method, and failures can be injected
//! (HTTP 429/503, JSON-RPC errors, a delay) to test retries.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Map, Value};

/// Error code for a method the server has no recording of (what geth answers for unknown
/// methods).
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Error code for a recorded method called with params that were never recorded.
pub const NOT_RECORDED: i64 = -32000;
/// Error codes for bodies that are not JSON-RPC.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;

/// What a recorded call answers.
#[derive(Clone, Debug)]
enum Answer {
    Result(Value),
    Error(Value),
}

/// A failure the next requests get instead of their answers.
#[derive(Clone, Debug)]
enum Failure {
    Http(u16),
    Rpc(i64, String),
}

#[derive(Default)]
struct State {
    answers: HashMap<(String, String), Answer>,
    methods: HashSet<String>,
    calls: BTreeMap<String, u64>,
    http_requests: u64,
    failures_left: u32,
    failure: Option<Failure>,
    delay: Duration,
}

/// A JSON-RPC replay server on `127.0.0.1` with a free port. Stops when dropped.
pub struct RpcReplay {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl RpcReplay {
    /// Starts a server with no recordings.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound; use [`RpcReplay::try_start`] to handle that.
    pub fn start() -> RpcReplay {
        RpcReplay::try_start().expect("bind a loopback port for the JSON-RPC replay server")
    }

    pub fn try_start() -> io::Result<RpcReplay> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::Builder::new()
                .name("rpc-replay".into())
                .spawn(move || accept(listener, &state, &stop))?
        };
        Ok(RpcReplay {
            state,
            stop,
            thread: Some(thread),
            addr,
        })
    }

    /// The endpoint, e.g. `http://127.0.0.1:40123/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Answers `method(params)` with `result`.
    pub fn record(&self, method: &str, params: Value, result: Value) {
        self.insert(method, &params, Answer::Result(result));
    }

    /// Answers `method(params)` with the JSON-RPC error object `error` (`{code, message}`).
    pub fn record_error(&self, method: &str, params: Value, error: Value) {
        self.insert(method, &params, Answer::Error(error));
    }

    /// Loads a bare recorded response `{"jsonrpc","id","result"}` (or `"error"`) as the answer
    /// to `method(params)`.
    pub fn load_response(&self, path: &Path, method: &str, params: Value) -> io::Result<()> {
        let doc = read_json(path)?;
        let answer = answer_of(&doc)
            .ok_or_else(|| invalid(path, "neither a `result` nor an `error` member"))?;
        self.insert(method, &params, answer);
        Ok(())
    }

    /// Loads `[{"request": …, "response": …}, …]`; a request and its response may be batches
    /// (arrays, paired by position). Returns how many calls were recorded.
    pub fn load_pairs(&self, path: &Path) -> io::Result<usize> {
        let doc = read_json(path)?;
        let entries = doc
            .as_array()
            .ok_or_else(|| invalid(path, "not an array of {request, response}"))?;
        let mut loaded = 0;
        for entry in entries {
            let (request, response) = match (entry.get("request"), entry.get("response")) {
                (Some(request), Some(response)) => (request, response),
                _ => return Err(invalid(path, "an entry lacks `request` or `response`")),
            };
            for (request, response) in pair_up(request, response) {
                let method = request
                    .get("method")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(path, "a request has no method"))?;
                let params = request.get("params").cloned().unwrap_or(json!([]));
                let answer = answer_of(response)
                    .ok_or_else(|| invalid(path, "a response has neither result nor error"))?;
                self.insert(method, &params, answer);
                loaded += 1;
            }
        }
        Ok(loaded)
    }

    /// The next `count` HTTP requests fail with HTTP `status` (429 comes with `Retry-After: 0`).
    pub fn fail_next(&self, count: u32, status: u16) {
        self.set_failure(count, Failure::Http(status));
    }

    /// The next `count` HTTP requests are answered with a JSON-RPC error (for every call in
    /// them), as providers do when rate limiting (Infura: `-32005`).
    pub fn fail_next_rpc(&self, count: u32, code: i64, message: &str) {
        self.set_failure(count, Failure::Rpc(code, message.to_owned()));
    }

    /// Every answer waits this long first (requests are served concurrently).
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Calls of `method` received so far, failed ones and batch members included.
    pub fn calls(&self, method: &str) -> u64 {
        self.lock().calls.get(method).copied().unwrap_or(0)
    }

    /// Calls received so far, per method.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.lock().calls.clone()
    }

    /// HTTP requests received so far (a batch is one).
    pub fn http_requests(&self) -> u64 {
        self.lock().http_requests
    }

    fn insert(&self, method: &str, params: &Value, answer: Answer) {
        let mut state = self.lock();
        state.methods.insert(method.to_owned());
        state
            .answers
            .insert((method.to_owned(), canonical(params)), answer);
    }

    fn set_failure(&self, count: u32, failure: Failure) {
        let mut state = self.lock();
        state.failures_left = count;
        state.failure = Some(failure);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for RpcReplay {
    /// Stops accepting and waits (up to a second) until the port refuses connections, so a test
    /// can rely on the "node" being gone once the server is dropped.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop, which then sees `stop` and closes the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for _ in 0..100 {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(50)).is_err() {
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

fn read_json(path: &Path) -> io::Result<Value> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| invalid(path, &e.to_string()))
}

fn invalid(path: &Path, reason: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {reason}", path.display()),
    )
}

fn answer_of(response: &Value) -> Option<Answer> {
    match (response.get("result"), response.get("error")) {
        (Some(result), _) => Some(Answer::Result(result.clone())),
        (None, Some(error)) => Some(Answer::Error(error.clone())),
        (None, None) => None,
    }
}

/// Pairs a single request with its response, or a batch with its responses by position.
fn pair_up<'a>(request: &'a Value, response: &'a Value) -> Vec<(&'a Value, &'a Value)> {
    match (request.as_array(), response.as_array()) {
        (Some(requests), Some(responses)) => requests.iter().zip(responses).collect(),
        _ => vec![(request, response)],
    }
}

/// Params as a lookup key: object keys sorted, hex strings lowercased (hex is case-insensitive
/// in Ethereum JSON-RPC, and recordings spell quantities and hashes either way).
fn canonical(params: &Value) -> String {
    fn normalize(value: &Value) -> Value {
        match value {
            Value::String(s) if s.starts_with("0x") || s.starts_with("0X") => {
                Value::String(s.to_ascii_lowercase())
            }
            Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> =
                    map.iter().map(|(k, v)| (k, normalize(v))).collect();
                Value::Object(
                    sorted
                        .into_iter()
                        .map(|(k, v)| (k.clone(), v))
                        .collect::<Map<_, _>>(),
                )
            }
            other => other.clone(),
        }
    }
    let normalized = normalize(params);
    // serde_json may preserve insertion order; the sorted rebuild above fixes the key order.
    normalized.to_string()
}

/// A plain HTTP/1.1 server, one request per connection (`Connection: close`): tiny_http left
/// requests unanswered on reused keep-alive connections under concurrent clients, and a
/// client then waits for its timeout. Real nodes keep connections alive; a test server need
/// not.
fn accept(listener: TcpListener, state: &Arc<Mutex<State>>, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else { continue };
        let state = state.clone();
        // One thread per request, so an injected delay does not serialize clients.
        let spawned = std::thread::Builder::new()
            .name("rpc-replay-request".into())
            .spawn(move || {
                let _ = serve(stream, &state);
            });
        drop(spawned);
    }
}

/// The request line's method and the body of one HTTP request.
fn read_request(stream: &TcpStream) -> io::Result<(String, Vec<u8>)> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let method = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            break;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length.min(64 << 20)];
    reader.read_exact(&mut body)?;
    Ok((method, body))
}

/// What one HTTP request gets back.
struct Reply {
    status: u16,
    body: String,
    retry_after: bool,
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) -> io::Result<()> {
    let (method, body) = read_request(&stream)?;
    let reply = if method != "POST" {
        Reply {
            status: 405,
            body: "method not allowed: JSON-RPC wants POST\n".into(),
            retry_after: false,
        }
    } else {
        match String::from_utf8(body) {
            Err(_) => rpc_reply(&error_response(
                Value::Null,
                PARSE_ERROR,
                "body is not UTF-8",
            )),
            Ok(body) => {
                let (reply, delay) = answer_body(&mut lock(state), &body);
                std::thread::sleep(delay);
                reply
            }
        }
    };
    stream.write_all(&into_response(reply))?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn into_response(reply: Reply) -> Vec<u8> {
    let content_type = if reply.status == 200 {
        "application/json"
    } else {
        "text/plain"
    };
    let retry = if reply.retry_after {
        "Retry-After: 0\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n",
        reply.status,
        reason(reply.status),
        reply.body.len()
    )
    .into_bytes();
    out.extend_from_slice(reply.body.as_bytes());
    out
}

fn rpc_reply(value: &Value) -> Reply {
    Reply {
        status: 200,
        body: value.to_string(),
        retry_after: false,
    }
}

/// Answers a request body (a call or a batch); also returns the delay to wait first.
fn answer_body(state: &mut State, body: &str) -> (Reply, Duration) {
    state.http_requests += 1;
    let delay = state.delay;
    let parsed: Result<Value, _> = serde_json::from_str(body);
    let calls: Vec<&Value> = match &parsed {
        Ok(Value::Array(batch)) => batch.iter().collect(),
        Ok(call) => vec![call],
        Err(_) => Vec::new(),
    };
    for call in &calls {
        if let Some(method) = call.get("method").and_then(Value::as_str) {
            *state.calls.entry(method.to_owned()).or_default() += 1;
        }
    }
    if let Some(reply) = injected_failure(state, &calls) {
        return (reply, delay);
    }
    let reply = match parsed {
        Err(e) => rpc_reply(&error_response(
            Value::Null,
            PARSE_ERROR,
            &format!("parse error: {e}"),
        )),
        Ok(Value::Array(batch)) if batch.is_empty() => {
            rpc_reply(&error_response(Value::Null, INVALID_REQUEST, "empty batch"))
        }
        Ok(Value::Array(batch)) => {
            let answers: Vec<Value> = batch.iter().filter_map(|c| answer_call(state, c)).collect();
            if answers.is_empty() {
                empty_reply()
            } else {
                rpc_reply(&Value::Array(answers))
            }
        }
        Ok(call) => answer_call(state, &call).map_or_else(empty_reply, |a| rpc_reply(&a)),
    };
    (reply, delay)
}

/// A batch of notifications only: nothing to answer.
fn empty_reply() -> Reply {
    Reply {
        status: 200,
        body: String::new(),
        retry_after: false,
    }
}

fn injected_failure(state: &mut State, calls: &[&Value]) -> Option<Reply> {
    if state.failures_left == 0 {
        return None;
    }
    state.failures_left -= 1;
    match state.failure.clone()? {
        Failure::Http(status) => Some(Reply {
            status,
            body: match status {
                429 => "Too Many Requests\n".into(),
                503 => "Service Unavailable\n".into(),
                _ => "injected failure\n".into(),
            },
            retry_after: status == 429,
        }),
        Failure::Rpc(code, message) => {
            let errors: Vec<Value> = calls
                .iter()
                .map(|c| error_response(id_of(c), code, &message))
                .collect();
            Some(rpc_reply(&match errors.as_slice() {
                [single] if calls.len() == 1 => single.clone(),
                _ => Value::Array(errors),
            }))
        }
    }
}

fn id_of(call: &Value) -> Value {
    call.get("id").cloned().unwrap_or(Value::Null)
}

/// The response to one call, or `None` for a notification (a call without `id`).
fn answer_call(state: &State, call: &Value) -> Option<Value> {
    let id = call.get("id").cloned();
    let Some(method) = call.get("method").and_then(Value::as_str) else {
        return Some(error_response(
            id.unwrap_or(Value::Null),
            INVALID_REQUEST,
            "invalid request: no method",
        ));
    };
    let id = id?;
    let params = call.get("params").cloned().unwrap_or(json!([]));
    let key = (method.to_owned(), canonical(&params));
    Some(match state.answers.get(&key) {
        Some(Answer::Result(result)) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Some(Answer::Error(error)) => json!({"jsonrpc": "2.0", "id": id, "error": error}),
        None if !state.methods.contains(method) => error_response(
            id,
            METHOD_NOT_FOUND,
            &format!("the method {method} does not exist/is not available"),
        ),
        None => error_response(
            id,
            NOT_RECORDED,
            &format!("no recorded answer for {method} with params {params}"),
        ),
    })
}

fn error_response(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A minimal blocking JSON-RPC client over a raw TCP socket.
    fn post(server: &RpcReplay, body: &str) -> (u16, String) {
        use std::io::Write;
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        let request = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("send");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).expect("receive");
        let status = raw[9..12].parse().expect("status code");
        let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, body.to_owned())
    }

    fn value(body: &str) -> Value {
        serde_json::from_str(body).expect("JSON body")
    }

    #[test]
    fn answers_recorded_calls_case_insensitively_and_counts_them() {
        let server = RpcReplay::start();
        server.record(
            "eth_getBlockByNumber",
            json!(["0x112A880", true]),
            json!({"n": 1}),
        );
        let (status, body) = post(
            &server,
            r#"{"jsonrpc":"2.0","id":7,"method":"eth_getBlockByNumber","params":["0x112a880",true]}"#,
        );
        assert_eq!(status, 200);
        assert_eq!(
            value(&body),
            json!({"jsonrpc": "2.0", "id": 7, "result": {"n": 1}})
        );
        assert_eq!(server.calls("eth_getBlockByNumber"), 1);
        assert_eq!(server.http_requests(), 1);
    }

    #[test]
    fn unknown_methods_and_params_are_json_rpc_errors() {
        let server = RpcReplay::start();
        server.record("eth_chainId", json!([]), json!("0x1"));
        let (_, body) = post(&server, r#"{"jsonrpc":"2.0","id":1,"method":"eth_foo"}"#);
        assert_eq!(value(&body)["error"]["code"], METHOD_NOT_FOUND);
        let (_, body) = post(
            &server,
            r#"{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[1]}"#,
        );
        assert_eq!(value(&body)["error"]["code"], NOT_RECORDED);
        let (_, body) = post(&server, "{not json");
        assert_eq!(value(&body)["error"]["code"], PARSE_ERROR);
        let (_, body) = post(&server, "[]");
        assert_eq!(value(&body)["error"]["code"], INVALID_REQUEST);
    }

    #[test]
    fn batches_are_answered_in_order_and_notifications_are_not() {
        let server = RpcReplay::start();
        server.record("eth_chainId", json!([]), json!("0x1"));
        server.record("net_version", json!([]), json!("1"));
        let (_, body) = post(
            &server,
            r#"[{"jsonrpc":"2.0","id":"b","method":"net_version"},
                {"jsonrpc":"2.0","method":"eth_chainId"},
                {"jsonrpc":"2.0","id":"a","method":"eth_chainId","params":[]}]"#,
        );
        let answers = value(&body);
        assert_eq!(answers.as_array().map(Vec::len), Some(2));
        assert_eq!(answers[0]["id"], "b");
        assert_eq!(answers[0]["result"], "1");
        assert_eq!(answers[1]["result"], "0x1");
        assert_eq!(server.calls("eth_chainId"), 2);
        assert_eq!(server.http_requests(), 1);
    }

    #[test]
    fn injected_failures_come_first_then_answers() {
        let server = RpcReplay::start();
        server.record("eth_chainId", json!([]), json!("0x1"));
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
        server.fail_next(2, 429);
        assert_eq!(post(&server, call).0, 429);
        assert_eq!(post(&server, call).0, 429);
        assert_eq!(post(&server, call).0, 200);
        server.fail_next_rpc(1, -32005, "limit exceeded");
        assert_eq!(value(&post(&server, call).1)["error"]["code"], -32005);
        assert_eq!(value(&post(&server, call).1)["result"], "0x1");
        assert_eq!(server.calls("eth_chainId"), 5);
    }

    #[test]
    fn a_delay_holds_every_answer_but_not_the_other_clients() {
        let server = Arc::new(RpcReplay::start());
        server.record("eth_chainId", json!([]), json!("0x1"));
        server.set_delay(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let clients: Vec<_> = (0..3)
            .map(|_| {
                let server = server.clone();
                std::thread::spawn(move || {
                    post(
                        &server,
                        r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#,
                    )
                    .0
                })
            })
            .collect();
        for client in clients {
            assert_eq!(client.join().expect("client"), 200);
        }
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(
            elapsed < Duration::from_millis(850),
            "served one by one: {elapsed:?}"
        );
    }

    #[test]
    fn stops_listening_when_dropped() {
        let server = RpcReplay::start();
        let addr = server.addr;
        drop(server);
        assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err());
    }
}
