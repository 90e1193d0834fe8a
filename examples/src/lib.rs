//! Support for the runnable examples: where their segments go.
//!
//! With `AWS_XRAY_DAEMON_ADDRESS` set, examples send to that daemon (a real X-Ray daemon, or an
//! `xray-local` you started yourself). Without it, they start an in-process `xray-local` on a
//! free UDP port and print what it received when they finish.

use std::time::Duration;

use xray_core::{DaemonAddress, RecorderBuilder};
use xray_local::{LocalDaemon, Trace, render};

pub mod services;
pub mod store;

/// The Rust blocks of the workspace's README and of each crate's README, compiled (and, unless
/// marked `no_run`, run) as doc tests, so that a README cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../xray-core/README.md")]
pub struct CoreReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../xray-tower/README.md")]
pub struct TowerReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../xray-reqwest/README.md")]
pub struct ReqwestReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../xray-sqlx/README.md")]
pub struct SqlxReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../xray-local/README.md")]
pub struct LocalReadmeDoctests;

/// Where an example's segments go.
pub enum Destination {
    /// An in-process `xray-local`, to show the traces at the end.
    Local(LocalDaemon),
    /// The daemon named by `AWS_XRAY_DAEMON_ADDRESS`.
    External(String),
}

impl Destination {
    /// Starts an in-process `xray-local` unless `AWS_XRAY_DAEMON_ADDRESS` is set.
    pub async fn from_env() -> Result<Self, Box<dyn std::error::Error>> {
        match std::env::var("AWS_XRAY_DAEMON_ADDRESS") {
            Ok(addr) if !addr.trim().is_empty() => Ok(Self::External(addr)),
            _ => {
                let daemon = LocalDaemon::builder()
                    .with_listen("127.0.0.1:0".parse()?)
                    .with_quiet_period(Duration::from_millis(200))
                    .start()
                    .await?;
                Ok(Self::Local(daemon))
            }
        }
    }

    /// Points a recorder builder at this destination.
    pub fn configure(&self, builder: RecorderBuilder) -> RecorderBuilder {
        match self {
            Self::Local(daemon) => {
                let addr = daemon.local_addr();
                builder.with_daemon_address(DaemonAddress::from(addr)).with_centralized_sampling(false)
            }
            Self::External(_) => builder,
        }
    }

    /// A one-line description for the example's output.
    pub fn describe(&self) -> String {
        match self {
            Self::Local(daemon) => format!("in-process xray-local on udp://{}", daemon.local_addr()),
            Self::External(addr) => format!("the X-Ray daemon at {addr}"),
        }
    }

    /// The web console's address, for an in-process `xray-local` (an external daemon's console,
    /// if it has one, is its own business).
    pub fn console_url(&self) -> Option<String> {
        match self {
            Self::Local(daemon) => Some(format!("http://{}/", daemon.local_addr())),
            Self::External(_) => None,
        }
    }

    /// Waits for `documents` documents, then prints every trace, any problems xray-local found,
    /// and the service map. Returns the traces (none for an external daemon).
    pub async fn report(self, documents: u64) -> Vec<Trace> {
        let Self::Local(daemon) = self else {
            println!("segments were sent to the external daemon; see its output or the X-Ray console");
            return Vec::new();
        };
        daemon.wait_for_documents(documents, Duration::from_secs(10)).await;
        let traces = daemon.flush();
        for trace in &traces {
            println!("{}", render::trace_tree(trace));
        }
        let summary = daemon.shutdown().await;
        println!("{}", render::summary(&summary));
        traces
    }
}
