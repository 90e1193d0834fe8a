//! [`SamplingError`]: why a call to the daemon's sampling proxy failed.

use std::net::SocketAddr;
use std::time::Duration;

/// Why fetching sampling rules or targets from the daemon failed. The sampler keeps deciding
/// (with the rules and quotas it has, or with local rules) and tries again later.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SamplingError {
    /// The connection could not be made or broke.
    #[error("cannot reach the X-Ray daemon at {addr} for {path}: {source}")]
    Io {
        /// The daemon's TCP address.
        addr: SocketAddr,
        /// The API path.
        path: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// No complete answer within the request timeout.
    #[error("the X-Ray daemon at {addr} did not answer {path} within {timeout:?}")]
    Timeout {
        /// The daemon's TCP address.
        addr: SocketAddr,
        /// The API path.
        path: &'static str,
        /// The time allowed.
        timeout: Duration,
    },
    /// An HTTP status other than 200 (for example when the daemon cannot reach X-Ray).
    #[error("the X-Ray daemon answered {path} with HTTP {status}: {body}")]
    Status {
        /// The API path.
        path: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The answer is not a well-formed HTTP/1.1 response (or exceeds the size limit).
    #[error("the X-Ray daemon's answer to {path} is malformed: {reason}")]
    Malformed {
        /// The API path.
        path: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The body is not the JSON the API defines.
    #[error("the X-Ray daemon's answer to {path} is not the expected JSON: {source}")]
    Json {
        /// The API path.
        path: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}
