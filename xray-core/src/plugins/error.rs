//! Why a detector found nothing, and whether that deserves a log line.

use std::path::PathBuf;
use std::time::Duration;

/// Why one platform's metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DetectError {
    /// Nothing accepted the connection: the usual answer off that platform.
    #[error("nothing answers at {target}: {source}")]
    Unreachable {
        target: String,
        #[source]
        source: std::io::Error,
    },
    /// The peer took longer than the start-up budget.
    #[error("{target} did not answer within {timeout:?}")]
    Timeout { target: String, timeout: Duration },
    /// The service answered with an error status.
    #[error("{target} answered HTTP {status}")]
    Status { target: String, status: u16 },
    /// The answer was not HTTP as expected.
    #[error("malformed answer from {target}: {reason}")]
    Malformed { target: String, reason: String },
    /// The answer or file was not the JSON expected.
    #[error("{source_name} is not the expected JSON: {source}")]
    Json {
        source_name: String,
        #[source]
        source: serde_json::Error,
    },
    /// A field every valid answer has was missing.
    #[error("{source_name} has no {field:?}")]
    Missing { source_name: String, field: &'static str },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A metadata address from the environment is not usable.
    #[error("unusable metadata address {uri:?}: {reason}")]
    Uri { uri: String, reason: String },
}

impl DetectError {
    /// `true` when the error only says "not on this platform": the detector then stays quiet
    /// (a debug line at most) instead of warning.
    pub(crate) fn means_absent(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Read { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// Turns a detector's outcome into its public shape, logging what went wrong: quietly when
/// the platform is simply absent, once per interval and call site when it is present but broken.
macro_rules! settle {
    ($platform:literal, $outcome:expr) => {
        match $outcome {
            Ok(resource) => Some(resource),
            Err(e) if e.means_absent() => {
                $crate::log::log_event!(Debug, error = %e, concat!("X-Ray plugins: not on ", $platform));
                None
            }
            Err(e) => {
                $crate::log::log_limited!(Warn, error = %e, concat!("X-Ray plugins: ", $platform, " metadata unusable; segments will not carry it"));
                None
            }
        }
    };
}

pub(crate) use settle;
