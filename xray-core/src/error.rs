//! Errors of building and installing a recorder.

use std::net::SocketAddr;

use crate::config::{ConfigError, ResolveError};

/// Why a [`UdpEmitter`](crate::UdpEmitter) could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitterError {
    /// The UDP socket towards the daemon could not be opened.
    #[error("cannot open a UDP socket towards the X-Ray daemon at {addr}: {source}")]
    Socket {
        /// The daemon address.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The emitter's threads could not be started.
    #[error("cannot start the X-Ray emitter's threads: {0}")]
    Thread(#[source] std::io::Error),
}

/// Why a recorder could not be built or installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The UDP emitter could not be started.
    #[error(transparent)]
    Emitter(#[from] EmitterError),
    /// A global recorder is installed already.
    #[error("a global X-Ray recorder is installed already; build explicit recorders with build() instead")]
    AlreadyInstalled,
    /// The configuration is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The daemon's host name did not resolve.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The OTLP emitter `OTEL_TRACES_EXPORTER` asks for could not be started.
    #[cfg(feature = "otlp")]
    #[error(transparent)]
    Otlp(#[from] crate::otlp::OtlpError),
}
