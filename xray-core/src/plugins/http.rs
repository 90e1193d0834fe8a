//! Just enough HTTP/1.1 to ask a link-local metadata service one question: one request per
//! connection, a deadline over connect, write and read, and a size cap on the answer.
//!
//! The sampling client has its own POST-only twin of this; both speak to fixed, local peers
//! (IMDS, the ECS agent, the daemon), which is why neither pulls hyper into the core crate.

use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::DetectError;

/// The largest answer accepted; an identity document or a task description is a few kilobytes.
const MAX_ANSWER: usize = 1 << 20;

/// A status and a complete body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// Where a metadata request goes: `host:port` to connect to, and the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) authority: String,
    pub(crate) path: String,
}

impl Target {
    /// Splits `http://host[:port]/path` (port 80 when absent). Anything else, `https` included,
    /// is refused: metadata endpoints are plain HTTP on link-local addresses.
    pub(crate) fn parse(uri: &str) -> Result<Self, DetectError> {
        let bad = |reason: &str| DetectError::Uri { uri: uri.to_owned(), reason: reason.to_owned() };
        let rest = uri
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
            .map(|_| &uri[7..])
            .ok_or_else(|| bad("not an http:// address"))?;
        let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
        if authority.is_empty() || authority.contains(['@', ' ']) {
            return Err(bad("no usable host"));
        }
        // An IPv6 literal keeps its brackets, so a port follows a `:` after the closing one.
        let has_port = authority.contains(':') && !authority.ends_with(']');
        let authority = if has_port { authority.to_owned() } else { format!("{authority}:80") };
        Ok(Self { authority, path: path.to_owned() })
    }

    /// The same host with another path.
    pub(crate) fn with_path(&self, path: String) -> Self {
        Self { authority: self.authority.clone(), path }
    }

    /// Sends one request and reads the whole answer, all within `timeout`.
    pub(crate) async fn send(
        &self,
        method: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Answer, DetectError> {
        let mut request = format!("{method} {} HTTP/1.1\r\nHost: {}\r\n", self.path, self.authority);
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        // An explicit zero length: IMDS refuses a PUT without one.
        let length = if method == "GET" { "" } else { "Content-Length: 0\r\n" };
        request.push_str(&format!(
            "User-Agent: xray-rust/{}\r\nAccept: */*\r\n{length}Connection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        ));
        tokio::time::timeout(timeout, self.exchange(request.as_bytes()))
            .await
            .map_err(|_| DetectError::Timeout { target: self.to_string(), timeout })?
    }

    /// GETs a JSON document, which must come with status 200.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<T, DetectError> {
        let answer = self.send("GET", headers, timeout).await?;
        if answer.status != 200 {
            return Err(DetectError::Status { target: self.to_string(), status: answer.status });
        }
        serde_json::from_slice(&answer.body)
            .map_err(|source| DetectError::Json { source_name: self.to_string(), source })
    }

    async fn exchange(&self, request: &[u8]) -> Result<Answer, DetectError> {
        let unreachable = |source| DetectError::Unreachable { target: self.to_string(), source };
        let mut stream = TcpStream::connect(self.authority.as_str()).await.map_err(unreachable)?;
        stream.set_nodelay(true).map_err(unreachable)?;
        stream.write_all(request).await.map_err(unreachable)?;
        let malformed = |reason: String| DetectError::Malformed { target: self.to_string(), reason };
        let mut buf = Vec::with_capacity(4 * 1024);
        loop {
            if buf.len() > MAX_ANSWER {
                return Err(malformed(format!("answer larger than {MAX_ANSWER} bytes")));
            }
            let eof = stream.read_buf(&mut buf).await.map_err(unreachable)? == 0;
            match parse_answer(&buf, eof).map_err(malformed)? {
                Some(answer) => return Ok(answer),
                None if eof => return Err(malformed("connection closed mid-answer".into())),
                None => {}
            }
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority, self.path)
    }
}

/// Parses a response from `buf`: `Ok(None)` while more bytes are needed; `eof` ends a body
/// that has neither a length nor chunked framing.
fn parse_answer(buf: &[u8], eof: bool) -> Result<Option<Answer>, String> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "headers are not UTF-8".to_owned())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = match status_line.split(' ').collect::<Vec<_>>()[..] {
        [version, code, ..] if version.starts_with("HTTP/1.") => code.parse::<u16>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("bad status line {:?}", status_line.get(..60).unwrap_or(status_line)))?;
    let (mut length, mut chunked) = (None, false);
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| format!("bad Content-Length {value:?}"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().split(',').any(|c| c.trim() == "chunked");
        }
    }
    let body = &buf[head_end + 4..];
    let body = match (chunked, length) {
        (true, _) => dechunk(body)?,
        (false, Some(n)) => (body.len() >= n).then(|| body[..n].to_vec()),
        (false, None) => eof.then(|| body.to_vec()),
    };
    Ok(body.map(|body| Answer { status, body }))
}

/// Decodes a complete chunked body, or `Ok(None)` while it is incomplete (trailers ignored).
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let line = std::str::from_utf8(&rest[..eol]).unwrap_or("?");
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size {size:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        match rest.get(size..size + 2) {
            None => return Ok(None),
            Some(b"\r\n") => out.extend_from_slice(&rest[..size]),
            Some(_) => return Err("chunk not followed by CRLF".into()),
        }
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metadata_addresses() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("http://169.254.170.2/v4/abc-123", Some(("169.254.170.2:80", "/v4/abc-123"))),
            ("HTTP://127.0.0.1:5123/v4/x", Some(("127.0.0.1:5123", "/v4/x"))),
            ("http://localhost:51678", Some(("localhost:51678", "/"))),
            ("http://[fd00:ec2::254]/latest", Some(("[fd00:ec2::254]:80", "/latest"))),
            ("http://[fd00:ec2::254]:8080/latest", Some(("[fd00:ec2::254]:8080", "/latest"))),
            ("https://169.254.170.2/v4", None),
            ("169.254.170.2/v4", None),
            ("http:///v4", None),
            ("http://user@host/v4", None),
            ("", None),
        ];
        for (uri, want) in cases {
            let got = Target::parse(uri).ok().map(|t| (t.authority, t.path));
            assert_eq!(got, want.map(|(a, p)| (a.to_owned(), p.to_owned())), "{uri}");
        }
    }

    #[test]
    fn framing() {
        type Case<'a> = (&'a [u8], bool, Result<Option<(u16, &'a [u8])>, &'a str>);
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, Ok(Some((200, b"hello")))),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", false, Ok(None)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", false, Ok(None)),
            (b"HTTP/1.0 404 Not Found\r\n\r\ngone", false, Ok(None)),
            (b"HTTP/1.0 404 Not Found\r\n\r\ngone", true, Ok(Some((404, b"gone")))),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;ext\r\n\":1}\r\n0\r\n\r\n", false, Ok(Some((200, b"{\"a\":1}")))),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n", false, Ok(None)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, Err("chunk size")),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc", false, Err("CRLF")),
            (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, Err("Content-Length")),
            (b"SSH-2.0-OpenSSH_9\r\n\r\n", true, Err("status line")),
            (b"HTTP/1.1 OK\r\n\r\n", true, Err("status line")),
        ];
        for (input, eof, want) in cases {
            let text = String::from_utf8_lossy(input);
            match (parse_answer(input, *eof), want) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(got.map(|a| (a.status, a.body)), want.map(|(s, b)| (s, b.to_vec())), "{text}")
                }
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[tokio::test]
    async fn sends_one_request_and_reads_a_chunked_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = Target::parse(&format!("http://{}/v4/abc/task", listener.local_addr().unwrap())).unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            while !got.ends_with(b"\r\n\r\n") {
                if socket.read_buf(&mut got).await.unwrap() == 0 {
                    break;
                }
            }
            for piece in [&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}"[..], b"\r\n0\r\n\r\n"] {
                socket.write_all(piece).await.unwrap();
                socket.flush().await.unwrap();
            }
            String::from_utf8(got).unwrap()
        });
        let answer = target.send("GET", &[("X-Test", "1")], Duration::from_secs(10)).await.unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"{}"[..]));
        let request = server.await.unwrap();
        assert!(request.starts_with("GET /v4/abc/task HTTP/1.1\r\nHost: 127.0.0.1:"), "{request}");
        assert!(request.contains("\r\nX-Test: 1\r\n") && request.contains("\r\nConnection: close\r\n"), "{request}");
        assert!(!request.contains("Content-Length"), "{request}");
    }
}
