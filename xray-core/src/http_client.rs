//! Just enough HTTP/1.1 for the crate's own outbound calls: one request per connection, a
//! deadline over connect, write and read, and a size cap on the answer.
//!
//! Two callers use it: the centralized sampler (`POST` JSON to the daemon's sampling proxy) and
//! the platform plugins (`GET`/`PUT` to EC2 IMDS and the ECS agent). Both talk to fixed, local
//! peers and exchange a few kilobytes now and then, so a hand-written client over Tokio's
//! `TcpStream` serves them and keeps hyper out of the core crate. All it needs is a status
//! line, `Content-Length` or chunked framing, or a body that ends when the peer closes.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest status line and header block accepted before the blank line that ends them.
const MAX_HEAD: usize = 64 * 1024;

/// One request: where it goes, what it says, and how long and how large its answer may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    /// `GET`, `PUT`, `POST`, …
    pub(crate) method: &'a str,
    /// `host:port` to connect to, also sent as the `Host` header.
    pub(crate) authority: &'a str,
    /// The request target, starting with `/`.
    pub(crate) path: &'a str,
    /// Headers besides `Host`, `User-Agent`, `Content-Length` and `Connection`, which are set here.
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// The body; `Some` (even empty) also sends its `Content-Length`, which IMDS wants on a `PUT`.
    pub(crate) body: Option<&'a [u8]>,
    /// The deadline for the whole exchange.
    pub(crate) timeout: Duration,
    /// The most bytes of answer (head and body) read before giving up.
    pub(crate) max_len: usize,
}

/// A status and a complete, de-chunked body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// Why a request got no complete answer. Callers map it to their own error, adding what they
/// were asking and of whom.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// Connecting, writing or reading failed.
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// No complete answer within the request's timeout.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// The answer grew past the request's size cap.
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    /// The peer closed before the answer was complete.
    #[error("connection closed mid-answer")]
    Closed,
    /// The bytes are not an HTTP/1 response.
    #[error("{0}")]
    Malformed(String),
}

impl Request<'_> {
    /// Sends the request and reads the whole answer, all within `timeout`.
    pub(crate) async fn send(&self) -> Result<Response, HttpError> {
        tokio::time::timeout(self.timeout, self.exchange()).await.map_err(|_| HttpError::Timeout(self.timeout))?
    }

    /// The bytes on the wire.
    fn encode(&self) -> Vec<u8> {
        let Self { method, authority, path, .. } = self;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: xray-rust/{}\r\n",
            env!("CARGO_PKG_VERSION")
        );
        for (name, value) in self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if let Some(body) = self.body {
            let _ = write!(head, "Content-Length: {}\r\n", body.len());
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.unwrap_or_default());
        bytes
    }

    async fn exchange(&self) -> Result<Response, HttpError> {
        let mut stream = TcpStream::connect(self.authority).await.map_err(HttpError::Io)?;
        stream.set_nodelay(true).map_err(HttpError::Io)?;
        stream.write_all(&self.encode()).await.map_err(HttpError::Io)?;
        let mut buf = Vec::with_capacity(8 * 1024);
        loop {
            if buf.len() > self.max_len {
                return Err(HttpError::TooLarge(self.max_len));
            }
            let eof = stream.read_buf(&mut buf).await.map_err(HttpError::Io)? == 0;
            match parse_response(&buf, eof).map_err(HttpError::Malformed)? {
                Some(response) => return Ok(response),
                None if eof => return Err(HttpError::Closed),
                None => {}
            }
        }
    }
}

/// Parses a response from `buf`: `Ok(None)` while more bytes are needed. `eof` says the peer
/// has closed, which ends a body that has neither a length nor chunked framing.
fn parse_response(buf: &[u8], eof: bool) -> Result<Option<Response>, String> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD { Err("headers too long".into()) } else { Ok(None) };
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "headers are not UTF-8".to_owned())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let shown = status_line.get(..60).unwrap_or(status_line);
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1 status line {shown:?}"));
    }
    let status: u16 = code.parse().map_err(|_| format!("bad status line {shown:?}"))?;
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
        (true, _) => decode_chunked(body, eof)?,
        (false, Some(n)) => body.get(..n).map(<[u8]>::to_vec),
        (false, None) => eof.then(|| body.to_vec()),
    };
    Ok(body.map(|body| Response { status, body }))
}

/// Decodes a complete chunked body, or `Ok(None)` while it is incomplete. Trailers are
/// ignored; the body is complete once the last chunk's line is followed by a line end, or by
/// the peer closing.
fn decode_chunked(mut rest: &[u8], eof: bool) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| "bad chunk size".to_owned())?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size {size:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok((eof || rest.windows(2).any(|w| w == b"\r\n")).then_some(out));
        }
        let end = size.checked_add(2).ok_or_else(|| format!("chunk size {size:#x} too large"))?;
        match rest.get(size..end) {
            None => return Ok(None),
            Some(b"\r\n") => out.extend_from_slice(&rest[..size]),
            Some(_) => return Err("chunk not followed by CRLF".into()),
        }
        rest = &rest[end..];
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::SocketAddr;

    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    use super::*;

    #[test]
    fn framing() {
        type Case<'a> = (&'a [u8], bool, Result<Option<(u16, &'a [u8])>, &'a str>);
        let long_head = [&b"HTTP/1.1 200 OK\r\nX: "[..], &[b'a'; MAX_HEAD]].concat();
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            // Content-Length, header names in any case.
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, Ok(Some((200, b"hello")))),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n{}", false, Ok(None)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", false, Ok(None)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra", false, Ok(Some((200, b"{}")))),
            // No framing: the body ends when the peer closes.
            (b"HTTP/1.0 404 Not Found\r\n\r\ngone", false, Ok(None)),
            (b"HTTP/1.0 404 Not Found\r\n\r\ngone", true, Ok(Some((404, b"gone")))),
            (b"HTTP/1.1 204\r\n\r\n", true, Ok(Some((204, b"")))),
            // Chunked, with extensions, split anywhere, and a last chunk ended by CRLF or close.
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n3;x=y\r\na\":\r\n1\r\n1\r\n1\r\n}\r\n0\r\n\r\n", false, Ok(Some((200, b"{\"a\":1}")))),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n1\r\nx\r\n0\r\nX-Trailer: 1\r\n\r\n", false, Ok(Some((200, b"x")))),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n", false, Ok(None)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n", true, Ok(Some((200, b"{}")))),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n", false, Ok(None)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n", false, Ok(None)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{", false, Ok(None)),
            // Broken framing.
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, Err("bad chunk size")),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\xff\r\n", false, Err("bad chunk size")),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", false, Err("chunk size")),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx", false, Err("CRLF")),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, Err("Content-Length")),
            (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, Err("Content-Length")),
            (b"HTTP/1.1 200 OK\r\nX: \xff\r\n\r\n", false, Err("not UTF-8")),
            (&long_head, false, Err("headers too long")),
            // Not an HTTP/1 status line.
            (b"SSH-2.0-OpenSSH_9\r\n\r\n", true, Err("not an HTTP/1 status line")),
            (b"HTTP/1.1 abc\r\n\r\n", false, Err("bad status line")),
            (b"HTTP/1.1 OK\r\n\r\n", true, Err("bad status line")),
        ];
        for (input, eof, want) in cases {
            let text = String::from_utf8_lossy(&input[..input.len().min(120)]);
            match (parse_response(input, *eof), want) {
                (Ok(got), Ok(want)) => {
                    let want = want.map(|(status, body)| Response { status, body: body.to_vec() });
                    assert_eq!(got, want, "{text}");
                }
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    /// Accepts one connection on a loopback port, reads the request (head and a body of its
    /// `Content-Length`), writes `answer` piece by piece, then closes, or with `hold` waits for
    /// the client to close first. Returns the address and, from the task, the request received.
    /// The callers' tests use it too.
    pub(crate) async fn serve_once(answer: Vec<Vec<u8>>, hold: bool) -> (SocketAddr, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            while parse_request_end(&got).is_none_or(|end| got.len() < end) {
                if socket.read_buf(&mut got).await.unwrap() == 0 {
                    break;
                }
            }
            for piece in answer {
                // The client may give up (size cap) and close before all is written.
                if socket.write_all(&piece).await.and(socket.flush().await).is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            if hold {
                let _ = socket.read(&mut [0u8; 64]).await;
            }
            String::from_utf8_lossy(&got).into_owned()
        });
        (addr, task)
    }

    /// Where a request in `got` ends, once its head is complete.
    fn parse_request_end(got: &[u8]) -> Option<usize> {
        let head_end = got.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
        let length = head.split("\r\n").find_map(|line| line.strip_prefix("content-length:"));
        Some(head_end + length.map_or(0, |n| n.trim().parse::<usize>().unwrap()))
    }

    fn request<'a>(authority: &'a str, body: Option<&'a [u8]>, max_len: usize) -> Request<'a> {
        Request {
            method: if body.is_some() { "POST" } else { "GET" },
            authority,
            path: "/a/b",
            headers: &[("Accept", "application/json"), ("X-Test", "1")],
            body,
            timeout: Duration::from_secs(10),
            max_len,
        }
    }

    #[tokio::test]
    async fn writes_the_request_and_reads_a_split_answer() {
        let answer =
            vec![b"HTTP/1.1 201 Created\r\nContent-Le".to_vec(), b"ngth: 4\r\n\r\nda".to_vec(), b"ta".to_vec()];
        let (addr, server) = serve_once(answer, true).await;
        let authority = addr.to_string();
        let response = request(&authority, Some(b"{\"a\":1}"), 1024).send().await.unwrap();
        assert_eq!(response, Response { status: 201, body: b"data".to_vec() });
        let sent = server.await.unwrap();
        let want = format!(
            "POST /a/b HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: xray-rust/{}\r\nAccept: application/json\r\n\
             X-Test: 1\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{{\"a\":1}}",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(sent, want);

        // Without a body there is no Content-Length; with an empty one it is zero.
        let (addr, server) = serve_once(vec![b"HTTP/1.1 200 OK\r\n\r\n".to_vec()], false).await;
        let authority = addr.to_string();
        request(&authority, None, 1024).send().await.unwrap();
        let sent = server.await.unwrap();
        assert!(sent.starts_with("GET /a/b HTTP/1.1\r\n") && !sent.contains("Content-Length"), "{sent}");
        let (addr, server) = serve_once(vec![b"HTTP/1.1 200 OK\r\n\r\n".to_vec()], false).await;
        let authority = addr.to_string();
        Request { method: "PUT", ..request(&authority, Some(b""), 1024) }.send().await.unwrap();
        let sent = server.await.unwrap();
        assert!(
            sent.starts_with("PUT /a/b HTTP/1.1\r\n")
                && sent.ends_with("\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
            "{sent}"
        );
    }

    /// GETs, with a 4 KiB cap, from a server that answers `answer`.
    async fn get_capped(answer: Vec<u8>, hold: bool) -> Result<Response, HttpError> {
        let (addr, _server) = serve_once(vec![answer], hold).await;
        request(&addr.to_string(), None, 4096).send().await
    }

    #[tokio::test]
    async fn failures_are_typed() {
        // Larger than the cap, whether framed or ended by close.
        let big = [&b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"[..], &[b'x'; 100_000]].concat();
        let e = get_capped(big, true).await.unwrap_err();
        assert!(matches!(e, HttpError::TooLarge(4096)), "{e}");
        let big = [&b"HTTP/1.0 200 OK\r\n\r\n"[..], &[b'x'; 100_000]].concat();
        let e = get_capped(big, false).await.unwrap_err();
        assert!(matches!(e, HttpError::TooLarge(4096)), "{e}");

        // Closed before the promised length arrived.
        let e = get_capped(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec(), false).await.unwrap_err();
        assert!(matches!(e, HttpError::Closed), "{e}");

        // Not HTTP at all.
        let e = get_capped(b"SSH-2.0-OpenSSH_9\r\n\r\n".to_vec(), true).await.unwrap_err();
        assert!(matches!(e, HttpError::Malformed(ref reason) if reason.contains("status line")), "{e}");

        // A listener that never answers: the deadline ends the call.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority = silent.local_addr().unwrap().to_string();
        let e = Request { timeout: Duration::from_millis(50), ..request(&authority, None, 4096) }.send().await;
        assert!(matches!(e, Err(HttpError::Timeout(t)) if t == Duration::from_millis(50)), "{e:?}");

        // Nobody listening.
        drop(silent);
        let e = request(&authority, None, 4096).send().await.unwrap_err();
        assert!(matches!(e, HttpError::Io(_)), "{e}");
    }
}
