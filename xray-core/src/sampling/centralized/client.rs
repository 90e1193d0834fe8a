//! A minimal client for the daemon's sampling proxy: one `POST` per connection, JSON in and
//! out, over the crate's small HTTP/1.1 client ([`crate::http_client`]).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::SamplingError;
use crate::http_client::{HttpError, Request};

/// The largest answer accepted; a page of rules is a few kilobytes.
const MAX_RESPONSE: usize = 4 << 20;

/// Talks to the daemon's TCP address.
#[derive(Debug, Clone)]
pub(crate) struct DaemonClient {
    addr: SocketAddr,
    /// `addr` as `host:port`, written once: it is both where to connect and the `Host` header.
    authority: String,
    timeout: Duration,
}

impl DaemonClient {
    pub(crate) fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self { addr, authority: addr.to_string(), timeout }
    }

    /// POSTs `body` as JSON to `path` and parses the JSON answer.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &'static str,
        body: &impl Serialize,
    ) -> Result<T, SamplingError> {
        let body = serde_json::to_vec(body).map_err(|e| SamplingError::Malformed { path, reason: e.to_string() })?;
        let request = Request {
            method: "POST",
            authority: &self.authority,
            path,
            headers: &[("Content-Type", "application/json"), ("Accept", "application/json")],
            body: Some(&body),
            timeout: self.timeout,
            max_len: MAX_RESPONSE,
        };
        let addr = self.addr;
        let response = request.send().await.map_err(|e| match e {
            HttpError::Io(source) => SamplingError::Io { addr, path, source },
            HttpError::Timeout(timeout) => SamplingError::Timeout { addr, path, timeout },
            other => SamplingError::Malformed { path, reason: other.to_string() },
        })?;
        if response.status != 200 {
            let body = &response.body[..response.body.len().min(200)];
            return Err(SamplingError::Status {
                path,
                status: response.status,
                body: String::from_utf8_lossy(body).into(),
            });
        }
        serde_json::from_slice(&response.body).map_err(|source| SamplingError::Json { path, source })
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;
    use crate::http_client::tests::serve_once;

    #[tokio::test]
    async fn posts_json_and_reads_a_chunked_answer() {
        let (addr, server) = serve_once(
            vec![
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
                b"5\r\n{\"ok\"\r\n".to_vec(),
                b"5\r\n:true\r\n1\r\n}\r\n0\r\n\r\n".to_vec(),
            ],
            false,
        )
        .await;
        let client = DaemonClient::new(addr, Duration::from_secs(5));
        let answer: serde_json::Value = client.post("/GetSamplingRules", &serde_json::json!({"a": 1})).await.unwrap();
        assert_eq!(answer, serde_json::json!({"ok": true}));
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /GetSamplingRules HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("\r\nContent-Type: application/json\r\n"), "{request}");
        assert!(request.contains("\r\nContent-Length: 7\r\n"), "{request}");
        assert!(request.ends_with("\r\n\r\n{\"a\":1}"), "{request}");
    }

    #[tokio::test]
    async fn errors_are_typed() {
        let (addr, _server) =
            serve_once(vec![b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy".to_vec()], false).await;
        let client = DaemonClient::new(addr, Duration::from_secs(5));
        let e = client.post::<serde_json::Value>("/SamplingTargets", &serde_json::json!({})).await.unwrap_err();
        assert!(matches!(e, SamplingError::Status { status: 503, .. }), "{e}");

        let (addr, _server) =
            serve_once(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec()], false).await;
        let e = DaemonClient::new(addr, Duration::from_secs(5))
            .post::<serde_json::Value>("/x", &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, SamplingError::Json { .. }), "{e}");

        let (addr, _server) = serve_once(vec![b"SSH-2.0-OpenSSH_9\r\n\r\n".to_vec()], false).await;
        let e = DaemonClient::new(addr, Duration::from_secs(5))
            .post::<serde_json::Value>("/x", &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(
            matches!(e, SamplingError::Malformed { path: "/x", ref reason } if reason.contains("status line")),
            "{e}"
        );

        // A listener that never answers: the deadline ends the call.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = DaemonClient::new(silent.local_addr().unwrap(), Duration::from_millis(50));
        let e = client.post::<serde_json::Value>("/x", &serde_json::json!({})).await.unwrap_err();
        assert!(matches!(e, SamplingError::Timeout { .. }), "{e}");

        // Nobody listening.
        let port = silent.local_addr().unwrap();
        drop(silent);
        let e = DaemonClient::new(port, Duration::from_secs(5))
            .post::<serde_json::Value>("/x", &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, SamplingError::Io { .. }), "{e}");
    }
}
