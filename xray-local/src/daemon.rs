//! The in-process daemon: a builder to start it and a handle to read what it assembled.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{ApiContext, SamplingRulesError, sampling::SamplingRules};
use crate::problem::Problem;
use crate::protocol::HEADER;
use crate::server::{EventHook, Outputs, Shared, forward_socket, run};
use crate::service_map::ServiceMap;
use crate::state::{Event, Limits, Received, State, Summary};
use crate::trace::Trace;

/// Traces the store keeps by default.
pub(crate) const DEFAULT_MAX_TRACES: usize = 10_000;

/// Bytes of documents the store keeps by default: 100 MB.
pub(crate) const DEFAULT_MAX_BYTES: usize = 100_000_000;

/// Attempts at finding a port free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 20;

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
    /// The TCP twin of the UDP address (query API, sampling proxy, console) could not be bound.
    #[error(
        "cannot listen on tcp://{addr} for the query API and console: {source} (is another daemon using the port?)"
    )]
    BindTcp {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The sampling rules file could not be read.
    #[error("cannot read the sampling rules {path}: {source}")]
    SamplingRulesFile {
        /// The file asked for.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The sampling rules file is not in the X-Ray API's rule shape.
    #[error("the sampling rules {path} cannot be used: {source}")]
    SamplingRules {
        /// The file asked for.
        path: PathBuf,
        /// What is wrong with it.
        source: SamplingRulesError,
    },
    /// The JSON-lines file to replay could not be read.
    #[error("cannot read {path} to replay it: {source}")]
    Load {
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
    http: bool,
    console: bool,
    sampling_rules: Option<PathBuf>,
    load: Vec<PathBuf>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            listen: SocketAddr::from(([127, 0, 0, 1], 2000)),
            forward: None,
            jsonl: None,
            limits: Limits {
                quiet: Duration::from_secs(1),
                max_traces: DEFAULT_MAX_TRACES,
                max_bytes: DEFAULT_MAX_BYTES,
                max_documents: 1000,
                max_problems: 1000,
            },
            on_event: None,
            http: true,
            console: true,
            sampling_rules: None,
            load: Vec::new(),
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
            .field("http", &self.http)
            .field("console", &self.console)
            .field("sampling_rules", &self.sampling_rules)
            .field("load", &self.load)
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

    /// How many traces to keep, both completed and pending; the oldest go first (counted in
    /// [`Summary::evicted_traces`]). Defaults to 10,000.
    pub fn with_max_traces(mut self, max: usize) -> Self {
        self.limits.max_traces = max.max(1);
        self
    }

    /// How many bytes of documents (their JSON text) the completed traces may hold; the oldest
    /// traces go first, the newest always stays. Defaults to 100 MB.
    pub fn with_max_bytes(mut self, max: usize) -> Self {
        self.limits.max_bytes = max.max(1);
        self
    }

    /// Serves HTTP on the TCP port of the listening address: the X-Ray query API, the sampling
    /// proxy and the console. Defaults to on.
    pub fn with_http(mut self, on: bool) -> Self {
        self.http = on;
        self
    }

    /// Serves the web console at `/` besides the APIs. Defaults to on.
    pub fn with_console(mut self, on: bool) -> Self {
        self.console = on;
        self
    }

    /// Answers `GetSamplingRules` and `GetSamplingTargets` from a file in the X-Ray API's rule
    /// shape (what `aws xray get-sampling-rules` prints, or a list of `SamplingRule` objects).
    /// Defaults to X-Ray's default rule alone: one request a second, then 5 %.
    pub fn with_sampling_rules(mut self, path: impl Into<PathBuf>) -> Self {
        self.sampling_rules = Some(path.into());
        self
    }

    /// Replays a JSON-lines file (one document a line, as `--jsonl` writes) at start, as if
    /// its documents had just arrived; they are not written to the `--jsonl` file again. May
    /// be given more than once. Defaults to none.
    pub fn with_load(mut self, path: impl Into<PathBuf>) -> Self {
        self.load.push(path.into());
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

    /// Binds the sockets and spawns the daemon on the current tokio runtime.
    pub async fn start(self) -> Result<LocalDaemon, StartError> {
        let rules = match &self.sampling_rules {
            None => SamplingRules::default(),
            Some(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|source| StartError::SamplingRulesFile { path: path.clone(), source })?;
                SamplingRules::parse(&text)
                    .map_err(|source| StartError::SamplingRules { path: path.clone(), source })?
            }
        };
        let (socket, listener) = bind(self.listen, self.http).await?;
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
        for path in &self.load {
            replay(path, &shared).await?;
        }
        let (stop, stopped) = oneshot::channel();
        let outputs = Outputs { forward, jsonl };
        let task = tokio::spawn(run(socket, Arc::clone(&shared), outputs, self.limits.quiet, stopped));
        let http = listener.map(|listener| {
            let router = crate::http::router(Arc::new(ApiContext::new(Arc::clone(&shared), rules)), self.console);
            let (stop, stopped) = oneshot::channel();
            (stop, tokio::spawn(crate::http::serve(listener, router, stopped)))
        });
        let (http_stop, http_task) = http.unzip();
        Ok(LocalDaemon {
            local_addr,
            shared,
            stop: Some(stop),
            task: Some(task),
            http_stop,
            http_task,
            console: self.http && self.console,
        })
    }
}

/// Binds UDP at `addr` and, when `http` is on, TCP at the same address. Port 0 picks a port
/// free for both.
async fn bind(addr: SocketAddr, http: bool) -> Result<(UdpSocket, Option<TcpListener>), StartError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let socket = UdpSocket::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        if !http {
            return Ok((socket, None));
        }
        let bound = socket.local_addr().map_err(|source| StartError::Bind { addr, source })?;
        match TcpListener::bind(bound).await {
            Ok(listener) => return Ok((socket, Some(listener))),
            // The UDP port picked is taken on TCP: pick another pair.
            Err(_) if addr.port() == 0 && attempt < PORT_ATTEMPTS => continue,
            Err(source) => return Err(StartError::BindTcp { addr: bound, source }),
        }
    }
}

/// Ingests every line of a JSON-lines file as a document, then completes the traces at once.
async fn replay(path: &std::path::Path, shared: &Shared) -> Result<(), StartError> {
    let text =
        tokio::fs::read_to_string(path).await.map_err(|source| StartError::Load { path: path.to_owned(), source })?;
    let now = std::time::Instant::now();
    let mut events = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let received = Received::read(format!("{HEADER}\n{line}").as_bytes(), None);
        events.extend(shared.with_state(|s| s.ingest(received, now)));
    }
    events.extend(shared.with_state(State::flush));
    shared.publish(&events);
    Ok(())
}

/// A running stand-in for the X-Ray daemon; dropping it stops the daemon.
///
/// See the [crate docs](crate) for an example.
pub struct LocalDaemon {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    http_stop: Option<oneshot::Sender<()>>,
    http_task: Option<JoinHandle<()>>,
    console: bool,
}

impl LocalDaemon {
    /// A builder with the defaults of the real daemon.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The UDP address the daemon listens on: point `AWS_XRAY_DAEMON_ADDRESS` here. The HTTP
    /// side (query API, sampling proxy, console) listens on the same address over TCP.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The base URL of the HTTP side, such as `http://127.0.0.1:2000/`: the console when it is
    /// on, and the `endpoint_url` for AWS SDK X-Ray clients. `None` without HTTP.
    pub fn http_url(&self) -> Option<String> {
        self.http_task.as_ref().map(|_| format!("http://{}/", self.local_addr))
    }

    /// Whether the web console is served at [`http_url`](Self::http_url).
    pub fn has_console(&self) -> bool {
        self.console
    }

    /// The most recent documents received, oldest first.
    pub fn documents(&self) -> Vec<Value> {
        self.shared.with_state(|s| s.documents().iter().cloned().collect())
    }

    /// The most recent completed traces, in order of completion.
    pub fn traces(&self) -> Vec<Trace> {
        self.shared.with_state(|s| s.traces().iter().map(|t| t.trace.clone()).collect())
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
        let done = |s: &State| s.store().get(trace_id).map(|t| t.trace.clone());
        self.shared.wait_for(timeout, done).await
    }

    /// Stops listening, completes every pending trace and returns the final summary.
    pub async fn shutdown(mut self) -> Summary {
        if let Some(stop) = self.http_stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.http_task.take() {
            // Open keep-alive connections may hold the graceful shutdown: wait briefly, then end it.
            if tokio::time::timeout(Duration::from_secs(2), &mut task).await.is_err() {
                task.abort();
            }
        }
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
        if let Some(task) = self.http_task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for LocalDaemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDaemon").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}
