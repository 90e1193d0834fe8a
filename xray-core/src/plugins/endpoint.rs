//! Where a metadata request goes, and the one-question exchange with it over the crate's
//! small HTTP/1.1 client ([`crate::http_client`]): the peers (IMDS, the ECS agent) are plain HTTP on
//! link-local addresses.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::error::DetectError;
use crate::http_client::{HttpError, Request, Response};

/// The largest answer accepted; an identity document or a task description is a few kilobytes.
const MAX_ANSWER: usize = 1 << 20;

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
    ) -> Result<Response, DetectError> {
        let headers = [headers, &[("Accept", "*/*")]].concat();
        let request = Request {
            method,
            authority: &self.authority,
            path: &self.path,
            headers: &headers,
            // An explicit zero length on anything but GET: IMDS refuses a PUT without one.
            body: (method != "GET").then_some(&[][..]),
            timeout,
            max_len: MAX_ANSWER,
        };
        request.send().await.map_err(|e| match e {
            HttpError::Io(source) => DetectError::Unreachable { target: self.to_string(), source },
            HttpError::Timeout(timeout) => DetectError::Timeout { target: self.to_string(), timeout },
            other => DetectError::Malformed { target: self.to_string(), reason: other.to_string() },
        })
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
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_client::tests::serve_once;

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

    #[tokio::test]
    async fn sends_one_request_and_reads_a_chunked_answer() {
        let answer =
            vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}".to_vec(), b"\r\n0\r\n\r\n".to_vec()];
        let (addr, server) = serve_once(answer, false).await;
        let target = Target::parse(&format!("http://{addr}/v4/abc/task")).unwrap();
        let answer = target.send("GET", &[("X-Test", "1")], Duration::from_secs(10)).await.unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"{}"[..]));
        let request = server.await.unwrap();
        assert!(request.starts_with("GET /v4/abc/task HTTP/1.1\r\nHost: 127.0.0.1:"), "{request}");
        assert!(request.contains("\r\nX-Test: 1\r\n") && request.contains("\r\nConnection: close\r\n"), "{request}");
        assert!(!request.contains("Content-Length"), "{request}");
    }
}
