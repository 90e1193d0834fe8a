//! [`Endpoint`]: the collector's `http://` URL, split into what the HTTP client needs.

use std::fmt;

/// The OTLP/HTTP traces endpoint of a collector on the local machine or in the same VPC: the
/// CloudWatch agent and the ADOT collector listen on `http://127.0.0.1:4318/v1/traces`.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4318/v1/traces";

/// Why an endpoint URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// `https://`: this emitter speaks plain HTTP to a collector beside the service (the
    /// CloudWatch agent, the ADOT collector, a sidecar), which then sends on over TLS.
    #[error(
        "{url:?}: https endpoints are not supported; send to a local collector over http:// (the CloudWatch agent or the ADOT collector at http://127.0.0.1:4318/v1/traces), which exports over TLS"
    )]
    Https {
        /// The URL.
        url: String,
    },
    /// Not an `http://host[:port][/path]` URL.
    #[error("{url:?} is not an http://host[:port][/path] URL: {reason}")]
    Malformed {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A parsed `http://` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `host:port`, connected to and sent as `Host`.
    pub(crate) authority: String,
    /// The request target, starting with `/`.
    pub(crate) path: String,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.path)
    }
}

impl Endpoint {
    /// Parses `http://host[:port][/path][?query]`; the port defaults to 80, the path to `/`.
    pub(crate) fn parse(url: &str) -> Result<Self, EndpointError> {
        let url = url.trim();
        let malformed = |reason| EndpointError::Malformed { url: url.to_owned(), reason };
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        if lower.starts_with("https://") {
            return Err(EndpointError::Https { url: url.to_owned() });
        }
        if !lower.starts_with("http://") {
            return Err(malformed("the scheme must be http://"));
        }
        let rest = &url[7..];
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        let path = path.split('#').next().unwrap_or("/").to_owned();
        if authority.is_empty() {
            return Err(malformed("no host"));
        }
        if authority.contains('@') {
            return Err(malformed("credentials in the URL are not supported"));
        }
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(malformed("spaces or control characters in the path"));
        }
        // `[v6]:port`, `[v6]`, `host:port` or `host`.
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or_else(|| malformed("unclosed [ in the host"))?;
            (format!("[{addr}]"), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() || host == "[]" || host.contains([':', '/', ' ']) && !host.starts_with('[') {
            return Err(malformed("bad host"));
        }
        let port = match port {
            None => 80,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| malformed("bad port"))?,
        };
        Ok(Self { authority: format!("{host}:{port}"), path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let ok = [
            ("http://127.0.0.1:4318/v1/traces", "127.0.0.1:4318", "/v1/traces"),
            ("HTTP://collector:4318/v1/traces", "collector:4318", "/v1/traces"),
            ("http://collector", "collector:80", "/"),
            ("http://collector/", "collector:80", "/"),
            ("http://[::1]:4318/v1/traces", "[::1]:4318", "/v1/traces"),
            ("http://[::1]/x", "[::1]:80", "/x"),
            ("http://h:1/p?tenant=a#frag", "h:1", "/p?tenant=a"),
            ("http://h:1?x", "h:1", "/?x"),
            (" http://h:4318/v1/traces ", "h:4318", "/v1/traces"),
        ];
        for (url, authority, path) in ok {
            let e = Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!((e.authority.as_str(), e.path.as_str()), (authority, path), "{url}");
        }
        assert_eq!(Endpoint::parse(DEFAULT_ENDPOINT).unwrap().to_string(), DEFAULT_ENDPOINT);
        assert!(matches!(Endpoint::parse("https://collector:4318/v1/traces"), Err(EndpointError::Https { .. })));
        assert!(Endpoint::parse("HTTPS://x").unwrap_err().to_string().contains("https endpoints are not supported"));
        for bad in [
            "collector:4318",
            "grpc://h:4317",
            "http://",
            "http://:4318/",
            "http://u:p@h/",
            "http://h:0/",
            "http://h:99999/",
            "http://h:x/",
            "http://[::1/",
            "http://h/a b",
            "http://a:b:c/",
        ] {
            assert!(matches!(Endpoint::parse(bad), Err(EndpointError::Malformed { .. })), "{bad}");
        }
    }
}
