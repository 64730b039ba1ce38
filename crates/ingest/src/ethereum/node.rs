//! A JSON-RPC connection to an Ethereum node (alloy's RPC client over HTTP) that survives what
//! real nodes and providers do: it retries timeouts, rate limits (429) and server errors (5xx)
//! with exponential backoff, tells "the node lacks this method" apart from "the node is down",
//! and batches calls where one round trip can carry many.

use std::borrow::Cow;
use std::time::Duration;

use alloy::rpc::client::RpcClient;
use alloy::rpc::json_rpc::{RpcError, RpcRecv, RpcSend};
use alloy::transports::http::reqwest;
use alloy::transports::TransportErrorKind;

/// Why a node call failed, after retries.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot reach the Ethereum node at {url} ({method}): {reason}")]
    Unreachable {
        url: String,
        method: String,
        reason: String,
    },
    #[error("the Ethereum node at {url} does not serve {method}: {reason}")]
    MethodMissing {
        url: String,
        method: String,
        reason: String,
    },
    #[error("the Ethereum node at {url} answered {method} for {what} with an error: {reason}")]
    Rejected {
        url: String,
        method: String,
        what: String,
        reason: String,
    },
    #[error("the Ethereum node at {url} sent a malformed answer to {method} for {what}: {reason}")]
    Malformed {
        url: String,
        method: String,
        what: String,
        reason: String,
    },
    #[error("{0} is not a usable JSON-RPC URL (expected e.g. http://127.0.0.1:8545)")]
    BadUrl(String),
}

impl NodeError {
    /// The node is not there (or keeps failing): sysexits 69, "service unavailable".
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            NodeError::Unreachable { .. } | NodeError::MethodMissing { .. }
        )
    }
}

/// How hard to try before giving up on a call.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
        }
    }
}

/// One node, shared by the fetch tasks.
#[derive(Clone)]
pub struct EthNode {
    url: String,
    client: RpcClient,
    retry: RetryPolicy,
}

/// What to do with a failed attempt.
enum Verdict {
    Retry(String),
    Fail(NodeError),
}

impl EthNode {
    pub fn connect(url: &str, retry: RetryPolicy) -> Result<Self, NodeError> {
        let parsed: reqwest::Url = url.parse().map_err(|_| NodeError::BadUrl(url.into()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(NodeError::BadUrl(url.into()));
        }
        let http = reqwest::Client::builder()
            .timeout(retry.timeout)
            .build()
            .map_err(|e| NodeError::BadUrl(format!("{url} ({e})")))?;
        Ok(EthNode {
            url: url.into(),
            client: RpcClient::new_http_with_client(http, parsed),
            retry,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method`; `what` names the object asked about (a block, a transaction) for errors.
    /// `Ok(None)` when the node answered `null` (e.g. a block it does not have).
    pub async fn call<P, R>(
        &self,
        method: &'static str,
        params: P,
        what: &dyn Fn() -> String,
    ) -> Result<Option<R>, NodeError>
    where
        P: RpcSend + Clone,
        R: RpcRecv,
    {
        self.retrying(method, what, || {
            self.client
                .request::<P, Option<R>>(Cow::Borrowed(method), params.clone())
        })
        .await
    }

    /// Sends the same method with many parameter sets in one JSON-RPC batch, retrying the whole
    /// batch on transient failures. Answers come back in the order of `params`.
    pub async fn batch<P, R>(
        &self,
        method: &'static str,
        params: &[P],
        what: &dyn Fn() -> String,
    ) -> Result<Vec<Option<R>>, NodeError>
    where
        P: RpcSend,
        R: RpcRecv,
    {
        self.retrying(method, what, || self.batch_once::<P, R>(method, params))
            .await
    }

    /// Runs `attempt` until it succeeds, fails for good, or runs out of attempts, sleeping with
    /// exponential backoff between transient failures.
    async fn retrying<T, F>(
        &self,
        method: &'static str,
        what: &dyn Fn() -> String,
        attempt: impl Fn() -> F,
    ) -> Result<T, NodeError>
    where
        F: std::future::IntoFuture<Output = Result<T, RpcError<TransportErrorKind>>>,
    {
        let mut backoff = self.retry.first_backoff;
        let mut tries = 0;
        loop {
            tries += 1;
            let err = match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match self.judge(method, what, err) {
                Verdict::Fail(e) => return Err(e),
                Verdict::Retry(reason) if tries >= self.retry.attempts => {
                    return Err(self.gave_up(method, reason));
                }
                Verdict::Retry(reason) => {
                    tracing::warn!(method, attempt = tries, %reason, "retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                }
            }
        }
    }

    async fn batch_once<P: RpcSend, R: RpcRecv>(
        &self,
        method: &'static str,
        params: &[P],
    ) -> Result<Vec<Option<R>>, RpcError<TransportErrorKind>> {
        let mut batch = self.client.new_batch();
        let mut waiters = Vec::with_capacity(params.len());
        for p in params {
            waiters.push(batch.add_call::<&P, Option<R>>(method, &p)?);
        }
        batch.send().await?;
        let mut out = Vec::with_capacity(waiters.len());
        for w in waiters {
            out.push(w.await?);
        }
        Ok(out)
    }

    fn gave_up(&self, method: &str, reason: String) -> NodeError {
        NodeError::Unreachable {
            url: self.url.clone(),
            method: method.into(),
            reason: format!("{reason} (gave up after {} attempts)", self.retry.attempts),
        }
    }

    fn judge(
        &self,
        method: &str,
        what: &dyn Fn() -> String,
        err: RpcError<TransportErrorKind>,
    ) -> Verdict {
        let rejected = |reason: String| NodeError::Rejected {
            url: self.url.clone(),
            method: method.into(),
            what: what(),
            reason,
        };
        match err {
            RpcError::ErrorResp(p) if is_missing_method(p.code, &p.message) => {
                Verdict::Fail(NodeError::MethodMissing {
                    url: self.url.clone(),
                    method: method.into(),
                    reason: format!("{} (code {})", p.message, p.code),
                })
            }
            RpcError::ErrorResp(p) if p.is_retry_err() || is_transient_code(p.code) => {
                Verdict::Retry(format!("{} (code {})", p.message, p.code))
            }
            RpcError::ErrorResp(p) => {
                Verdict::Fail(rejected(format!("{} (code {})", p.message, p.code)))
            }
            RpcError::DeserError { err, text } => Verdict::Fail(NodeError::Malformed {
                url: self.url.clone(),
                method: method.into(),
                what: what(),
                reason: format!("{err}; got {}", excerpt(&text)),
            }),
            RpcError::Transport(kind) => self.judge_transport(method, kind),
            other => Verdict::Fail(rejected(other.to_string())),
        }
    }

    fn judge_transport(&self, method: &str, kind: TransportErrorKind) -> Verdict {
        match kind {
            TransportErrorKind::HttpError(h) if h.status == 429 || h.status >= 500 => {
                Verdict::Retry(format!("HTTP {}", h.status))
            }
            TransportErrorKind::HttpErrorWithRetryAfter { error, .. } => {
                Verdict::Retry(format!("HTTP {}", error.status))
            }
            TransportErrorKind::HttpError(h) if h.status == 404 || h.status == 405 => {
                Verdict::Fail(NodeError::Unreachable {
                    url: self.url.clone(),
                    method: method.into(),
                    reason: format!("HTTP {}: no JSON-RPC endpoint here", h.status),
                })
            }
            TransportErrorKind::HttpError(h) => Verdict::Fail(NodeError::Unreachable {
                url: self.url.clone(),
                method: method.into(),
                reason: format!("HTTP {}: {}", h.status, excerpt(&h.body)),
            }),
            TransportErrorKind::MissingBatchResponse(id) => {
                Verdict::Retry(format!("the batch answer lacked request {id}"))
            }
            // Connection refused, reset, DNS, timeouts: the node may be restarting.
            other => Verdict::Retry(error_chain(&other)),
        }
    }
}

/// JSON-RPC "method not found", and the wordings nodes use for disabled namespaces.
fn is_missing_method(code: i64, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    code == -32601
        || m.contains("method not found")
        || m.contains("does not exist")
        || m.contains("not available")
        || m.contains("unsupported method")
        || m.contains("not supported")
}

/// Codes that providers use for "try again later" beyond alloy's list.
fn is_transient_code(code: i64) -> bool {
    matches!(code, -32005 | -32603 | 429)
}

fn excerpt(text: &str) -> String {
    let t = text.trim();
    if t.len() <= 200 {
        return t.to_string();
    }
    let cut = (0..=200)
        .rev()
        .find(|&i| t.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}…", &t[..cut])
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut src = err.source();
    while let Some(s) = src {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_missing_is_recognised_in_the_usual_wordings() {
        assert!(is_missing_method(-32601, "whatever"));
        assert!(is_missing_method(
            -32000,
            "the method debug_traceBlockByNumber does not exist/is not available"
        ));
        assert!(!is_missing_method(-32000, "header not found"));
    }

    #[test]
    fn urls_are_checked_before_anything_is_sent() {
        assert!(EthNode::connect("not a url", RetryPolicy::default()).is_err());
        assert!(EthNode::connect("ftp://x", RetryPolicy::default()).is_err());
        assert!(EthNode::connect("http://127.0.0.1:8545", RetryPolicy::default()).is_ok());
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_after_retries() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let retry = RetryPolicy {
            attempts: 2,
            first_backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let node = EthNode::connect(&format!("http://127.0.0.1:{port}"), retry).unwrap();
        let err = node
            .call::<_, String>("eth_chainId", (), &|| "the chain id".into())
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(err.to_string().contains("cannot reach"), "{err}");
    }
}
