//! The in-process daemon: a builder to start it and a handle to read what it assembled.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::problem::Problem;
use crate::server::{EventHook, Outputs, Shared, forward_socket, run};
use crate::service_map::ServiceMap;
use crate::state::{Event, Limits, State, Summary};
use crate::trace::Trace;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The listening socket could not be bound.
    #[error("cannot listen on udp://{addr}: {source} (is another daemon using the port?)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The socket for relaying datagrams could not be bound.
    #[error("cannot open a socket to forward to udp://{addr}: {source}")]
    Forward {
        /// The daemon to forward to.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The JSON-lines file could not be opened for appending.
    #[error("cannot open {path} for appending: {source}")]
    Jsonl {
        /// The file asked for.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// Configures and starts a [`LocalDaemon`].
#[must_use]
pub struct Builder {
    listen: SocketAddr,
    forward: Option<SocketAddr>,
    jsonl: Option<PathBuf>,
    limits: Limits,
    on_event: Option<EventHook>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            listen: SocketAddr::from(([127, 0, 0, 1], 2000)),
            forward: None,
            jsonl: None,
            limits: Limits { quiet: Duration::from_secs(1), max_traces: 1000, max_documents: 1000, max_problems: 1000 },
            on_event: None,
        }
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("listen", &self.listen)
            .field("forward", &self.forward)
            .field("jsonl", &self.jsonl)
            .field("limits", &self.limits)
            .field("on_event", &self.on_event.is_some())
            .finish()
    }
}

impl Builder {
    /// The UDP address to listen on; port 0 picks a free port. Defaults to `127.0.0.1:2000`,
    /// the address SDKs send to when `AWS_XRAY_DAEMON_ADDRESS` is unset.
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Relays every datagram, unchanged, to a real daemon at `addr`. Defaults to no relay.
    pub fn with_forward(mut self, addr: SocketAddr) -> Self {
        self.forward = Some(addr);
        self
    }

    /// Appends every document to `path`, one JSON line each. Defaults to no file.
    pub fn with_jsonl(mut self, path: impl Into<PathBuf>) -> Self {
        self.jsonl = Some(path.into());
        self
    }

    /// How long a trace must go without new documents before it is complete. Defaults to 1 s.
    pub fn with_quiet_period(mut self, quiet: Duration) -> Self {
        self.limits.quiet = quiet;
        self
    }

    /// How many traces to keep, both completed and pending; the oldest go first.
    /// Defaults to 1000.
    pub fn with_max_traces(mut self, max: usize) -> Self {
        self.limits.max_traces = max.max(1);
        self
    }

    /// How many recent documents and problems to keep. Defaults to 1000 each.
    pub fn with_max_documents(mut self, max: usize) -> Self {
        self.limits.max_documents = max.max(1);
        self.limits.max_problems = max.max(1);
        self
    }

    /// Calls `hook` for every [`Event`], from the daemon's task. Defaults to no callback.
    pub fn on_event(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(hook));
        self
    }

    /// Binds the socket and spawns the daemon on the current tokio runtime.
    pub async fn start(self) -> Result<LocalDaemon, StartError> {
        let socket =
            UdpSocket::bind(self.listen).await.map_err(|source| StartError::Bind { addr: self.listen, source })?;
        let local_addr = socket.local_addr().map_err(|source| StartError::Bind { addr: self.listen, source })?;
        let forward = match self.forward {
            Some(addr) => {
                let socket = forward_socket(addr).await.map_err(|source| StartError::Forward { addr, source })?;
                Some((socket, addr))
            }
            None => None,
        };
        let jsonl = match self.jsonl {
            Some(path) => Some(
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .await
                    .map_err(|source| StartError::Jsonl { path, source })?,
            ),
            None => None,
        };
        let shared = Arc::new(Shared::new(State::new(self.limits), self.on_event));
        let (stop, stopped) = oneshot::channel();
        let outputs = Outputs { forward, jsonl };
        let task = tokio::spawn(run(socket, Arc::clone(&shared), outputs, self.limits.quiet, stopped));
        Ok(LocalDaemon { local_addr, shared, stop: Some(stop), task: Some(task) })
    }
}

/// A running stand-in for the X-Ray daemon; dropping it stops the daemon.
///
/// See the [crate docs](crate) for an example.
pub struct LocalDaemon {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LocalDaemon {
    /// A builder with the defaults of the real daemon.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The UDP address the daemon listens on: point `AWS_XRAY_DAEMON_ADDRESS` here.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The most recent documents received, oldest first.
    pub fn documents(&self) -> Vec<Value> {
        self.shared.with_state(|s| s.documents().iter().cloned().collect())
    }

    /// The most recent completed traces, in order of completion.
    pub fn traces(&self) -> Vec<Trace> {
        self.shared.with_state(|s| s.traces().iter().cloned().collect())
    }

    /// The most recent problems, oldest first: problems of a trace appear once it completes.
    pub fn problems(&self) -> Vec<Problem> {
        self.shared.with_state(|s| s.problems().iter().cloned().collect())
    }

    /// Services and calls of all completed traces.
    pub fn service_map(&self) -> ServiceMap {
        self.summary().service_map
    }

    /// Counts so far, and the service map.
    pub fn summary(&self) -> Summary {
        self.shared.with_state(|s| s.summary())
    }

    /// Completes every pending trace now, finished or not, and returns them.
    pub fn flush(&self) -> Vec<Trace> {
        let events = self.shared.with_state(State::flush);
        self.shared.publish(&events);
        (events.into_iter())
            .filter_map(|e| match e {
                Event::Trace(trace) => Some(trace),
                Event::Problem(_) => None,
            })
            .collect()
    }

    /// Waits until `n` datagrams have arrived in total; `false` if the timeout passed first.
    pub async fn wait_for_datagrams(&self, n: u64, timeout: Duration) -> bool {
        let reached = |s: &State| (s.summary().datagrams >= n).then_some(());
        self.shared.wait_for(timeout, reached).await.is_some()
    }

    /// Waits until `n` documents have arrived in total; `false` if the timeout passed first.
    pub async fn wait_for_documents(&self, n: u64, timeout: Duration) -> bool {
        let reached = |s: &State| (s.summary().documents >= n).then_some(());
        self.shared.wait_for(timeout, reached).await.is_some()
    }

    /// Waits until the trace completes and returns it; `None` if the timeout passed first.
    pub async fn wait_for_trace(&self, trace_id: &str, timeout: Duration) -> Option<Trace> {
        let done = |s: &State| s.traces().iter().find(|t| t.trace_id == trace_id).cloned();
        self.shared.wait_for(timeout, done).await
    }

    /// Stops listening, completes every pending trace and returns the final summary.
    pub async fn shutdown(mut self) -> Summary {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // The task ends by itself once stopped; a panic in an event hook ends it too.
            let _ = task.await;
        }
        self.summary()
    }
}

impl Drop for LocalDaemon {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for LocalDaemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDaemon").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}
