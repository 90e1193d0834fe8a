//! A minimal HTTP/1.1 client for the daemon's sampling proxy: one `POST` per connection,
//! JSON in and out.
//!
//! Hand-written over Tokio's `TcpStream` instead of pulling hyper into the core crate: the
//! peer is the local daemon (or a collector) on a fixed address, the exchange is a single
//! small POST every few seconds, and the response is read with a size cap and a deadline. All
//! this needs is a status line, `Content-Length` or chunked framing, and a body.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::SamplingError;

/// The largest answer accepted; a page of rules is a few kilobytes.
const MAX_RESPONSE: usize = 4 << 20;

/// Talks to the daemon's TCP address.
#[derive(Debug, Clone)]
pub(crate) struct DaemonClient {
    addr: SocketAddr,
    timeout: Duration,
}

impl DaemonClient {
    pub(crate) fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self { addr, timeout }
    }

    /// POSTs `body` as JSON to `path` and parses the JSON answer.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &'static str,
        body: &impl Serialize,
    ) -> Result<T, SamplingError> {
        let body = serde_json::to_vec(body).map_err(|e| SamplingError::Malformed { path, reason: e.to_string() })?;
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: xray-rust/{}\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            env!("CARGO_PKG_VERSION"),
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        let exchange = exchange(self.addr, &request, path);
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| SamplingError::Timeout { addr: self.addr, path, timeout: self.timeout })??;
        if status != 200 {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(SamplingError::Status { path, status, body: text });
        }
        serde_json::from_slice(&body).map_err(|source| SamplingError::Json { path, source })
    }
}

async fn exchange(addr: SocketAddr, request: &[u8], path: &'static str) -> Result<(u16, Vec<u8>), SamplingError> {
    let io = |source| SamplingError::Io { addr, path, source };
    let mut stream = TcpStream::connect(addr).await.map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    stream.write_all(request).await.map_err(io)?;
    let mut buf = Vec::with_capacity(8 * 1024);
    loop {
        if buf.len() >= MAX_RESPONSE {
            return Err(SamplingError::Malformed { path, reason: format!("answer larger than {MAX_RESPONSE} bytes") });
        }
        let n = stream.read_buf(&mut buf).await.map_err(io)?;
        let eof = n == 0;
        match parse_response(&buf, eof) {
            Ok(Some(response)) => return Ok(response),
            Ok(None) if !eof => {}
            Ok(None) => return Err(SamplingError::Malformed { path, reason: "connection closed mid-answer".into() }),
            Err(reason) => return Err(SamplingError::Malformed { path, reason }),
        }
    }
}

/// Parses an HTTP/1.1 response from `buf`: `Ok(None)` while more bytes are needed.
/// `eof` says the peer has closed, which ends a body that has no framing.
pub(crate) fn parse_response(buf: &[u8], eof: bool) -> Result<Option<(u16, Vec<u8>)>, String> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > 64 * 1024 { Err("headers too long".into()) } else { Ok(None) };
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "headers are not UTF-8".to_owned())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1 answer: {:?}", truncate(status_line)));
    }
    let status: u16 = code.parse().map_err(|_| format!("bad status line {:?}", truncate(status_line)))?;
    let (mut length, mut chunked) = (None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| format!("bad Content-Length {value:?}"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().split(',').any(|c| c.trim() == "chunked");
        }
    }
    let body = &buf[head_end + 4..];
    if chunked {
        return decode_chunked(body).map(|decoded| decoded.map(|b| (status, b)));
    }
    match length {
        Some(n) if body.len() >= n => Ok(Some((status, body[..n].to_vec()))),
        Some(_) => Ok(None),
        None if eof => Ok(Some((status, body.to_vec()))),
        None => Ok(None),
    }
}

fn truncate(s: &str) -> &str {
    s.get(..60).unwrap_or(s)
}

/// Decodes a complete chunked body, or `Ok(None)` if it is not complete yet.
fn decode_chunked(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let line = std::str::from_utf8(&rest[..line_end]).map_err(|_| "bad chunk size".to_owned())?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Trailers, if any, end with an empty line; no trailer is needed here.
            return Ok(rest.windows(2).any(|w| w == b"\r\n").then_some(out));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF".into());
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn framing() {
        type Case<'a> = (&'a [u8], bool, Result<Option<(u16, &'a [u8])>, &'a str>);
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", false, Ok(Some((200, b"{}")))),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n{}", false, Ok(None)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", false, Ok(None)),
            (b"HTTP/1.0 500 Internal Server Error\r\n\r\noops", true, Ok(Some((500, b"oops")))),
            (b"HTTP/1.0 200 OK\r\n\r\n{\"a\"", false, Ok(None)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n3;x=y\r\na\":\r\n1\r\n1\r\n1\r\n}\r\n0\r\n\r\n", false, Ok(Some((200, b"{\"a\":1}")))),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n", false, Ok(None)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, Err("bad chunk size")),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx", false, Err("CRLF")),
            (b"SSH-2.0-OpenSSH\r\n\r\n", false, Err("not an HTTP/1")),
            (b"HTTP/1.1 abc\r\n\r\n", false, Err("bad status")),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, Err("Content-Length")),
        ];
        for (input, eof, want) in cases {
            let got = parse_response(input, *eof);
            let text = String::from_utf8_lossy(input);
            match (got, want) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(got, want.map(|(s, b)| (s, b.to_vec())), "{text}");
                }
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    /// Serves one connection with `answer` (written in pieces) and returns what was received.
    async fn serve_once(answer: Vec<&'static [u8]>) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") || !got.ends_with(b"}") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            for piece in answer {
                socket.write_all(piece).await.unwrap();
                socket.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            got
        });
        (addr, task)
    }

    #[tokio::test]
    async fn posts_json_and_reads_a_chunked_answer() {
        let (addr, server) = serve_once(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"5\r\n{\"ok\"\r\n",
            b"5\r\n:true\r\n1\r\n}\r\n0\r\n\r\n",
        ])
        .await;
        let client = DaemonClient::new(addr, Duration::from_secs(5));
        let answer: serde_json::Value = client.post("/GetSamplingRules", &serde_json::json!({"a": 1})).await.unwrap();
        assert_eq!(answer, serde_json::json!({"ok": true}));
        let request = String::from_utf8(server.await.unwrap()).unwrap();
        assert!(request.starts_with("POST /GetSamplingRules HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("\r\nContent-Type: application/json\r\n"), "{request}");
        assert!(request.contains("\r\nContent-Length: 7\r\n"), "{request}");
        assert!(request.ends_with("\r\n\r\n{\"a\":1}"), "{request}");
    }

    #[tokio::test]
    async fn errors_are_typed() {
        let (addr, _server) = serve_once(vec![b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"]).await;
        let client = DaemonClient::new(addr, Duration::from_secs(5));
        let e = client.post::<serde_json::Value>("/SamplingTargets", &serde_json::json!({})).await.unwrap_err();
        assert!(matches!(e, SamplingError::Status { status: 503, .. }), "{e}");

        let (addr, _server) = serve_once(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"]).await;
        let e = DaemonClient::new(addr, Duration::from_secs(5))
            .post::<serde_json::Value>("/x", &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, SamplingError::Json { .. }), "{e}");

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
