//! [`OtlpEmitter`]: a bounded queue drained by the emitter's own thread, which maps documents
//! to spans and POSTs them in batches to the collector's OTLP/HTTP endpoint.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;

use super::endpoint::{DEFAULT_ENDPOINT, Endpoint, EndpointError};
use super::map::{MapError, resource_spans, skipped};
use crate::config::OtlpConfig;
use crate::emit::handled::Handled;
use crate::emit::{Counters, Emitter, EmitterStats};
use crate::http_client::{HttpError, Request};
use crate::log::{log_event, log_limited};
use crate::model::SegmentDocument;

/// Why an [`OtlpEmitter`] could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtlpError {
    /// The endpoint URL cannot be used (`https://`, or not a URL).
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A header given to [`OtlpEmitterBuilder::with_header`] is not a valid HTTP header.
    #[error("{0:?} is not a valid HTTP header name and value")]
    Header(String),
    /// The emitter's thread or its I/O driver could not be started.
    #[error("cannot start the OTLP emitter's thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Configures an [`OtlpEmitter`].
#[derive(Clone)]
#[must_use]
pub struct OtlpEmitterBuilder {
    endpoint: String,
    timeout: Duration,
    queue_bytes: usize,
    flush_interval: Duration,
    wake_batch: usize,
    max_request_bytes: usize,
    service_name: Option<String>,
    headers: Vec<(String, String)>,
}

impl std::fmt::Debug for OtlpEmitterBuilder {
    /// Header values are left out: they may hold a token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpEmitterBuilder")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .field("queue_bytes", &self.queue_bytes)
            .field("flush_interval", &self.flush_interval)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("service_name", &self.service_name)
            .field("headers", &self.headers.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl OtlpEmitterBuilder {
    /// The collector's OTLP/HTTP traces URL, `http://host[:port]/path`. Defaults to
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`
    /// (with [`OtlpEmitter::from_env`]), else [`DEFAULT_ENDPOINT`].
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = url.into();
        self
    }

    /// The deadline of one export request (connect, send, answer). Defaults to
    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` / `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds) with
    /// [`OtlpEmitter::from_env`], else 10 s.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Caps the memory queued documents hold (as [`SegmentDocument::queued_size`] estimates
    /// it) until they are sent; a document that does not fit is dropped and counted in
    /// [`EmitterStats::dropped_queue_full`]. Defaults to 16 MiB.
    pub fn with_queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// How long the emitter's thread waits between exports. Defaults to 1 s.
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Wakes the emitter's thread early once this many documents are queued. Defaults to 512.
    pub fn with_wake_batch(mut self, documents: usize) -> Self {
        self.wake_batch = documents.max(1);
        self
    }

    /// The largest request body, in bytes of protobuf, before a batch is cut (a single
    /// document larger than that goes alone). Defaults to 4 MiB, the collector's default
    /// limit for a gRPC message and well under its HTTP one.
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes.max(1);
        self
    }

    /// The `service.name` of independent subsegments (a Lambda function's, a long request's
    /// streamed ones), which do not carry their segment's name. Segments are named by their
    /// own name, as the collector's X-Ray receiver names them. The recorder sets its
    /// [service name](crate::Recorder::service_name) when it builds the emitter from
    /// `OTEL_TRACES_EXPORTER`. Defaults to none: the subsegment's own name, as the receiver
    /// does.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Adds a header to every export request (a tenant id for a multi-tenant collector).
    /// Defaults to none besides `Content-Type: application/x-protobuf`.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The endpoint and timeout of an [`OtlpConfig`] (as [`Config`](crate::Config) reads
    /// them from OpenTelemetry's variables).
    pub fn with_config(self, config: &OtlpConfig) -> Self {
        let builder = self.with_timeout(config.timeout);
        match &config.endpoint {
            Some(url) => builder.with_endpoint(url.clone()),
            None => builder,
        }
    }

    /// Checks the endpoint and starts the emitter's thread. An `https://` endpoint is an
    /// [`OtlpError::Endpoint`]: send to a local collector, which exports over TLS.
    pub fn build(self) -> Result<OtlpEmitter, OtlpError> {
        let endpoint = Endpoint::parse(&self.endpoint)?;
        for (name, value) in &self.headers {
            let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if !name_ok || !value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) {
                return Err(OtlpError::Header(name.clone()));
            }
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(OtlpError::Thread)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            queue_bytes: self.queue_bytes as u64,
            wake_batch: self.wake_batch,
            counters: Counters::default(),
            otlp: OtlpCounters::default(),
            handled: Handled::default(),
            unreachable_since: Mutex::new(None),
            closed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
            endpoint,
        });
        let mut headers = vec![("Content-Type".to_owned(), "application/x-protobuf".to_owned())];
        headers.extend(self.headers);
        let worker = Worker {
            shared: shared.clone(),
            runtime,
            interval: self.flush_interval,
            timeout: self.timeout,
            max_request_bytes: self.max_request_bytes,
            service_name: self.service_name,
            headers,
        };
        let handle = std::thread::Builder::new()
            .name("xray-otlp".into())
            .spawn(move || worker.run())
            .map_err(OtlpError::Thread)?;
        let _ = shared.thread.set(handle.thread().clone());
        Ok(OtlpEmitter { shared })
    }
}

/// Counters of the OTLP side, beyond [`EmitterStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct OtlpStats {
    /// Spans in export requests the collector accepted.
    pub spans: u64,
    /// Export requests the collector accepted.
    pub requests: u64,
    /// Spans the collector accepted the request of but rejected itself (its partial-success
    /// answer); they are lost there.
    pub rejected_spans: u64,
    /// In-progress documents not exported: the complete document with the same id follows,
    /// and OpenTelemetry backends would show a span exported twice twice.
    pub in_progress_skipped: u64,
    /// Requests sent again after a retryable answer (429, 502, 503, 504).
    pub retries: u64,
}

#[derive(Default)]
struct OtlpCounters {
    spans: AtomicU64,
    requests: AtomicU64,
    rejected_spans: AtomicU64,
    in_progress_skipped: AtomicU64,
    retries: AtomicU64,
}

#[derive(Default)]
struct Queue {
    docs: Vec<SegmentDocument>,
    bytes: u64,
    in_flight: u64,
    enqueued: u64,
    dropped_queue_full: u64,
}

struct Shared {
    queue: Mutex<Queue>,
    queue_bytes: u64,
    wake_batch: usize,
    counters: Counters,
    otlp: OtlpCounters,
    /// Documents taken off the queue and sent or dropped; flush waits on it.
    handled: Handled,
    unreachable_since: Mutex<Option<SystemTime>>,
    /// Set by `shutdown`: documents handed over afterwards are dropped.
    closed: AtomicBool,
    /// Tells the thread to end once the queue is empty.
    stop: AtomicBool,
    thread: OnceLock<Thread>,
    endpoint: Endpoint,
}

impl Shared {
    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    fn set_unreachable(&self, down: bool) {
        let mut since = self.unreachable_since.lock().unwrap_or_else(PoisonError::into_inner);
        match (down, since.is_some()) {
            (true, false) => *since = Some(SystemTime::now()),
            (false, true) => *since = None,
            _ => {}
        }
    }
}

/// Sends finished documents to an OpenTelemetry collector as OTLP traces (OTLP/HTTP with
/// protobuf bodies), from its own thread, mapped as the collector's X-Ray receiver maps the
/// same documents (see the [module](super)).
///
/// The request path only queues: a push under a lock, no allocation beyond the queue's, no
/// syscall. The emitter's thread wakes every [flush interval](OtlpEmitterBuilder::with_flush_interval)
/// (or once a batch is queued), maps what is queued and posts it in requests of at most
/// [`with_max_request_bytes`](OtlpEmitterBuilder::with_max_request_bytes). Memory is bounded
/// by [`with_queue_bytes`](OtlpEmitterBuilder::with_queue_bytes); what does not fit is dropped
/// and counted. A collector that is down or answers an error costs the request's documents,
/// counted in [`EmitterStats::dropped_send_error`] and logged (rate-limited), and is shown in
/// [`EmitterStats::daemon_unreachable_since`]. A request the collector answers with a
/// retryable status (429, 502, 503, 504) is tried again twice at most, after 100 and 400 ms; a
/// refused connection or a timeout is not, so that a collector that is down never holds back
/// the documents behind it. [`flush`](Emitter::flush) waits
/// for what is queued, at most its timeout.
///
/// In its [`stats`](Emitter::stats), `emitted` counts documents in requests the collector
/// accepted, `batches` those requests and `bytes` their bodies; `datagrams`, `split` and
/// `truncated` stay 0 (OTLP has no datagram limit). [`otlp_stats`](Self::otlp_stats) adds span
/// counts and the collector's partial rejections.
///
/// ```
/// use xray_core::{Emitter, otlp::OtlpEmitter};
/// let emitter = OtlpEmitter::builder().with_endpoint("http://127.0.0.1:4318/v1/traces").build().unwrap();
/// assert_eq!(emitter.endpoint(), "http://127.0.0.1:4318/v1/traces");
/// assert_eq!(emitter.stats().emitted, 0);
/// // TLS is the collector's business: https is refused, with a typed error.
/// assert!(OtlpEmitter::builder().with_endpoint("https://collector:4318/v1/traces").build().is_err());
/// ```
pub struct OtlpEmitter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for OtlpEmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpEmitter").field("endpoint", &self.endpoint()).field("stats", &self.stats()).finish()
    }
}

impl OtlpEmitter {
    /// A builder with the defaults: [`DEFAULT_ENDPOINT`], a 10 s request timeout, a 16 MiB
    /// queue, one export a second. The environment is not read.
    pub fn builder() -> OtlpEmitterBuilder {
        OtlpEmitterBuilder {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            timeout: Duration::from_secs(10),
            queue_bytes: 16 << 20,
            flush_interval: Duration::from_secs(1),
            wake_batch: 512,
            max_request_bytes: 4 << 20,
            service_name: None,
            headers: Vec::new(),
        }
    }

    /// A builder configured from OpenTelemetry's variables: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` (see [`config`](crate::config)).
    pub fn from_env() -> OtlpEmitterBuilder {
        let (config, _) = OtlpConfig::from_lookup(|name| std::env::var(name).ok());
        Self::builder().with_config(&config)
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> String {
        self.shared.endpoint.to_string()
    }

    /// The OTLP side's own counters.
    pub fn otlp_stats(&self) -> OtlpStats {
        let c = &self.shared.otlp;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        OtlpStats {
            spans: get(&c.spans),
            requests: get(&c.requests),
            rejected_spans: get(&c.rejected_spans),
            in_progress_skipped: get(&c.in_progress_skipped),
            retries: get(&c.retries),
        }
    }
}

impl Emitter for OtlpEmitter {
    fn emit(&self, document: SegmentDocument) {
        let s = &self.shared;
        let size = document.queued_size() as u64;
        let mut queue = s.lock_queue();
        queue.enqueued += 1;
        if s.closed.load(Ordering::Relaxed) || queue.bytes + queue.in_flight + size > s.queue_bytes {
            queue.dropped_queue_full += 1;
            drop(queue);
            drop(document);
            log_limited!(
                Warn,
                "X-Ray OTLP emitter queue is full or shut down; segments are being dropped (see stats())"
            );
            return;
        }
        queue.bytes += size;
        queue.docs.push(document);
        let len = queue.docs.len();
        drop(queue);
        if len == s.wake_batch {
            s.wake();
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let s = &self.shared;
        let deadline = Instant::now() + timeout;
        let target = {
            let queue = s.lock_queue();
            queue.enqueued - queue.dropped_queue_full
        };
        s.wake();
        s.handled.wait_for(target, deadline, || s.wake())
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        self.shared.closed.store(true, Ordering::Relaxed);
        let done = self.flush(timeout);
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake();
        done
    }

    fn stats(&self) -> EmitterStats {
        let s = &self.shared;
        let mut stats = s.counters.snapshot();
        let queue = s.lock_queue();
        stats.enqueued = queue.enqueued;
        stats.dropped_queue_full = queue.dropped_queue_full;
        let accepted = queue.enqueued - queue.dropped_queue_full;
        drop(queue);
        let handled = s.handled.get();
        stats.queued = accepted.saturating_sub(handled);
        stats.daemon_unreachable_since = *s.unreachable_since.lock().unwrap_or_else(PoisonError::into_inner);
        stats
    }
}

impl Drop for OtlpEmitter {
    fn drop(&mut self) {
        self.flush(Duration::from_secs(1));
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake();
    }
}

/// The emitter's thread.
struct Worker {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Runtime,
    interval: Duration,
    timeout: Duration,
    max_request_bytes: usize,
    service_name: Option<String>,
    headers: Vec<(String, String)>,
}

/// The statuses a collector answers when it is overloaded or restarting (OTLP's retryable
/// responses).
const RETRYABLE: [u16; 4] = [429, 502, 503, 504];

/// How often a batch with a retryable answer is tried again.
const MAX_RETRIES: u32 = 2;

/// The wait before the first retry; the second waits four times as long.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// One request being filled.
#[derive(Default)]
struct Batch {
    resource_spans: Vec<ResourceSpans>,
    bytes: usize,
    docs: u64,
    spans: u64,
}

impl Batch {
    /// Adds a document's spans, under the previous document's resource when it is the same.
    fn push(&mut self, mut rs: ResourceSpans, bytes: usize) {
        self.docs += 1;
        self.spans += rs.scope_spans.iter().map(|s| s.spans.len() as u64).sum::<u64>();
        self.bytes += bytes;
        if let Some(last) = self.resource_spans.last_mut()
            && last.resource == rs.resource
            && let (Some(to), Some(from)) = (last.scope_spans.first_mut(), rs.scope_spans.first_mut())
        {
            to.spans.append(&mut from.spans);
            return;
        }
        self.resource_spans.push(rs);
    }
}

impl Worker {
    fn run(self) {
        let mut taken: Vec<SegmentDocument> = Vec::new();
        loop {
            std::thread::park_timeout(self.interval);
            let stopping = self.shared.stop.load(Ordering::Acquire);
            let taken_bytes = {
                let mut queue = self.shared.lock_queue();
                std::mem::swap(&mut queue.docs, &mut taken);
                let bytes = std::mem::take(&mut queue.bytes);
                queue.in_flight += bytes;
                bytes
            };
            let n = taken.len() as u64;
            let mut batch = Batch::default();
            for doc in taken.drain(..) {
                if skipped(&doc) {
                    Counters::add(&self.shared.otlp.in_progress_skipped, 1);
                    continue;
                }
                match resource_spans(&doc, self.service_name.as_deref()) {
                    Ok(rs) => {
                        let bytes = rs.encoded_len();
                        if batch.docs > 0 && batch.bytes + bytes > self.max_request_bytes {
                            self.send(std::mem::take(&mut batch));
                        }
                        batch.push(rs, bytes);
                    }
                    Err(MapError::NoTraceId) => {
                        Counters::add(&self.shared.counters.dropped_encode_error, 1);
                        log_limited!(Warn, name = %doc.name, "X-Ray document without trace_id cannot become a span; dropped");
                    }
                }
            }
            if batch.docs > 0 {
                self.send(batch);
            }
            if n > 0 {
                self.shared.lock_queue().in_flight -= taken_bytes;
                self.shared.handled.mark(n);
            }
            if taken.capacity() > 1024 {
                taken = Vec::new();
            }
            if stopping && self.shared.lock_queue().docs.is_empty() {
                log_event!(Debug, "X-Ray OTLP emitter thread stopping");
                return;
            }
        }
    }

    /// Posts one batch; counts its documents as emitted or dropped.
    fn send(&self, batch: Batch) {
        let body = ExportTraceServiceRequest { resource_spans: batch.resource_spans }.encode_to_vec();
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let endpoint = &self.shared.endpoint;
        let request = Request {
            method: "POST",
            authority: &endpoint.authority,
            path: &endpoint.path,
            headers: &headers,
            body: Some(&body),
            timeout: self.timeout,
            max_len: 64 * 1024,
        };
        let c = &self.shared.counters;
        let mut attempt = 0;
        let result = loop {
            let result = self.runtime.block_on(request.send());
            // An overloaded or restarting collector says so: such a batch is tried again, twice
            // at most and soon, unless the emitter is stopping. A refused connection or a
            // timeout is not, so that a collector that is down holds nothing back.
            let retryable = matches!(&result, Ok(r) if RETRYABLE.contains(&r.status));
            if !retryable || attempt == MAX_RETRIES || self.shared.stop.load(Ordering::Acquire) {
                break result;
            }
            std::thread::sleep(RETRY_BACKOFF * 4u32.pow(attempt));
            attempt += 1;
            Counters::add(&self.shared.otlp.retries, 1);
        };
        let problem = match result {
            Ok(response) if (200..300).contains(&response.status) => {
                self.shared.set_unreachable(false);
                Counters::add(&c.emitted, batch.docs);
                Counters::add(&c.bytes, body.len() as u64);
                Counters::add(&c.batches, 1);
                Counters::add(&self.shared.otlp.spans, batch.spans);
                Counters::add(&self.shared.otlp.requests, 1);
                let partial =
                    ExportTraceServiceResponse::decode(response.body.as_slice()).ok().and_then(|r| r.partial_success);
                if let Some(partial) = partial.filter(|p| p.rejected_spans > 0) {
                    Counters::add(&self.shared.otlp.rejected_spans, partial.rejected_spans as u64);
                    log_limited!(Warn, endpoint = %endpoint, rejected = partial.rejected_spans, message = %partial.error_message, "OTLP collector rejected spans");
                }
                return;
            }
            Ok(response) => {
                self.shared.set_unreachable(false);
                let text = String::from_utf8_lossy(&response.body[..response.body.len().min(200)]).into_owned();
                format!("HTTP {}: {text}", response.status)
            }
            Err(err) => {
                if matches!(err, HttpError::Io(_) | HttpError::Timeout(_)) {
                    self.shared.set_unreachable(true);
                }
                err.to_string()
            }
        };
        Counters::add(&c.dropped_send_error, batch.docs);
        log_limited!(
            Warn,
            endpoint = %endpoint,
            error = %problem,
            dropped = c.dropped_send_error.load(Ordering::Relaxed),
            "OTLP collector did not take a batch of X-Ray segments; is the collector running at this address?"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_checked_and_their_values_never_shown() {
        let builder = OtlpEmitter::builder().with_header("X-Scope-OrgID", "secret-token");
        let shown = format!("{builder:?}");
        assert!(shown.contains("X-Scope-OrgID") && !shown.contains("secret-token"), "{shown}");
        for (name, value) in [("Bad Name", "v"), ("", "v"), ("X-Ok", "line\nbreak")] {
            let err = OtlpEmitter::builder().with_header(name, value).build().unwrap_err();
            assert!(matches!(err, OtlpError::Header(_)), "{name:?}: {err}");
        }
    }
}
