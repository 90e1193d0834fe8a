//! [`Recorder`]: configuration, sampler and emitter, and where segments begin.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::{Config, ContextMissing, DaemonAddress};
use crate::context::set_context_missing;
use crate::emit::{Emitter, EmitterStats, NullEmitter, UdpEmitter};
use crate::entity::{Entity, Unsampled};
use crate::error::BuildError;
use crate::header::{SamplingFlag, TraceHeader};
use crate::id::{EntityId, TraceId};
use crate::log::{log_event, set_log_level};
use crate::model::{Aws, SegmentDocument, Service, XraySdk};
use crate::sampling::{LocalRules, Sampler, SamplingRequest, default_sampler};
use crate::segment::Segment;
use crate::trace::{Node, Trace, TraceSettings};

/// Once a trace keeps this many bytes of finished subsegments in memory, further finished
/// subsegments are sent on their own before the segment ends.
pub const DEFAULT_STREAMING_THRESHOLD: usize = 256 * 1024;

static GLOBAL: OnceLock<Recorder> = OnceLock::new();

/// Set by Lambda to the function's name: its presence means Lambda mode.
const LAMBDA_FUNCTION_VAR: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// Set by Lambda to the Runtime API's address (custom runtimes, emulators).
const LAMBDA_RUNTIME_API_VAR: &str = "AWS_LAMBDA_RUNTIME_API";

struct Inner {
    config: Config,
    service_name: String,
    /// The emitter and what the recorder's traces need of it.
    traces: Arc<TraceSettings>,
    sampler: Arc<dyn Sampler>,
    origin: Option<String>,
    service_version: Option<String>,
    resource: Option<serde_json::Map<String, serde_json::Value>>,
    /// Publishes the emitter's counters through the `metrics` facade; stops on shutdown or drop.
    #[cfg(feature = "metrics")]
    metrics: Option<crate::metrics::Publisher>,
}

/// Begins segments, decides sampling, and hands finished documents to the emitter.
/// Cheap to clone; [`install`](RecorderBuilder::install) makes one the process's global recorder.
///
/// ```
/// use std::sync::Arc;
/// use xray_core::{AlwaysSample, MemoryEmitter, Recorder, TraceFutureExt};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let emitter = Arc::new(MemoryEmitter::new());
/// let recorder = Recorder::builder().with_emitter(emitter.clone()).with_sampler(AlwaysSample).build().unwrap();
/// let segment = recorder.new_segment("checkout");
/// async {
///     xray_core::current().annotate("order_id", 17);
///     xray_core::in_subsegment("charge-card", async {}).await;
/// }
/// .with_entity(segment.entity())
/// .await;
/// segment.end();
/// let doc = &emitter.documents()[0];
/// assert_eq!(doc["annotations"]["order_id"], 17);
/// assert_eq!(doc["subsegments"][0]["name"], "charge-card");
/// # }
/// ```
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("service_name", &self.inner.service_name)
            .field("enabled", &self.inner.config.enabled)
            .field("daemon", &self.inner.config.daemon_address)
            .finish()
    }
}

impl Recorder {
    /// A builder with default configuration (the environment is not read).
    pub fn builder() -> RecorderBuilder {
        RecorderBuilder::new(Config::default())
    }

    /// A builder configured from the `AWS_XRAY_*` environment variables. A set
    /// `AWS_XRAY_DAEMON_ADDRESS` wins over [`with_daemon_address`](RecorderBuilder::with_daemon_address),
    /// so that an operator can redirect a built binary, as with the official SDKs.
    ///
    /// Inside AWS Lambda (`AWS_LAMBDA_FUNCTION_NAME` or `AWS_LAMBDA_RUNTIME_API` set) the
    /// builder starts in Lambda mode: centralized sampling is off (Lambda samples, and the
    /// facade obeys its decision), the [service name](Recorder::service_name) defaults to the
    /// function's name, the daemon is the one Lambda names in `AWS_XRAY_DAEMON_ADDRESS`, and
    /// [`install`](RecorderBuilder::install) logs that it runs in Lambda mode.
    pub fn from_env() -> Result<RecorderBuilder, BuildError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env), reading the variables through `lookup`.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<RecorderBuilder, BuildError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let config = Config::from_lookup(get)?;
        let daemon_from_env = get(crate::config::DAEMON_ADDRESS_VAR).is_some();
        let function = get(LAMBDA_FUNCTION_VAR).map(|v| v.trim().to_owned());
        let lambda = function.is_some() || get(LAMBDA_RUNTIME_API_VAR).is_some();
        let mut builder = RecorderBuilder { daemon_from_env, lambda, ..RecorderBuilder::new(config) };
        if lambda {
            builder.centralized_sampling = false;
            // AWS_XRAY_TRACING_NAME, when set, stays the fallback it is everywhere else.
            builder.service_name = builder.config.tracing_name.clone().or(function);
        }
        Ok(builder)
    }

    /// The installed global recorder.
    pub fn global() -> Option<&'static Recorder> {
        GLOBAL.get()
    }

    /// `false` when the SDK is turned off; every segment is then a no-op.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.inner.config.enabled
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The name of segments begun without one (an empty name): `XrayLayer::default()` in
    /// `xray-tower`, the Lambda layer, `new_segment("")`. Set with
    /// [`with_service_name`](RecorderBuilder::with_service_name).
    pub fn service_name(&self) -> &str {
        &self.inner.service_name
    }

    /// Whether SQL text may be recorded (`AWS_XRAY_COLLECT_SQL_QUERIES`).
    pub fn collect_sql_queries(&self) -> bool {
        self.inner.config.collect_sql_queries
    }

    /// The sampler.
    pub fn sampler(&self) -> &Arc<dyn Sampler> {
        &self.inner.sampler
    }

    /// Hands a finished document to the emitter.
    pub fn emit(&self, document: SegmentDocument) {
        self.inner.traces.emitter.emit(document);
    }

    /// The emitter's counters.
    pub fn stats(&self) -> EmitterStats {
        self.inner.traces.emitter.stats()
    }

    /// Sends everything queued, waiting at most `timeout`; `true` when all of it was handled.
    /// Blocks the calling thread: from async code, use [`flush_async`](Self::flush_async).
    pub fn flush(&self, timeout: Duration) -> bool {
        self.inner.traces.emitter.flush(timeout)
    }

    /// [`flush`](Self::flush) for async code: the wait runs on Tokio's blocking pool, so the
    /// calling task's worker thread keeps serving other tasks (a Lambda handler's end, an axum
    /// graceful shutdown). Outside a Tokio runtime it waits on the calling thread.
    ///
    /// ```
    /// # use xray_core::{AlwaysSample, NullEmitter, Recorder};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let recorder = Recorder::builder().with_sampler(AlwaysSample).with_emitter(NullEmitter::default()).build().unwrap();
    /// recorder.new_segment("job").end();
    /// assert!(recorder.flush_async(std::time::Duration::from_secs(1)).await);
    /// # }
    /// ```
    pub async fn flush_async(&self, timeout: Duration) -> bool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.flush(timeout);
        };
        let recorder = self.clone();
        runtime.spawn_blocking(move || recorder.flush(timeout)).await.unwrap_or(false)
    }

    /// Sends what is queued, waiting at most `timeout`, and stops the emitter: segments that
    /// end afterwards are dropped and counted. `true` when everything queued was handled.
    /// With the `metrics` feature, the counters are then published once more and the
    /// publisher stops.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let done = self.inner.traces.emitter.shutdown(timeout);
        #[cfg(feature = "metrics")]
        if let Some(publisher) = &self.inner.metrics {
            publisher.stop();
        }
        done
    }

    /// Begins a segment for an incoming request.
    ///
    /// `incoming` is the caller's header: its `Root` and `Parent` continue the caller's trace
    /// (a missing or malformed root starts a new one), and its `Sampled=1`/`0` is obeyed, with
    /// or without a root, as the official SDKs do (a health checker that sends `Sampled=0` is
    /// not traced); when it is absent or `?` the sampler decides. `AWS_XRAY_TRACING_NAME`
    /// overrides `name`; an empty `name` stands for the [service name](Self::service_name).
    ///
    /// A caller that sent W3C trace context instead gives its `traceparent` as the header
    /// ([`TraceParent::to_header`](crate::w3c::TraceParent::to_header)); the header's
    /// [`tracestate`](TraceHeader::with_tracestate) stays with the trace, and outgoing calls
    /// pass it on.
    pub fn begin_segment(&self, name: &str, incoming: Option<&TraceHeader>, request: &SamplingRequest<'_>) -> Segment {
        if !self.is_enabled() {
            return Segment::new(Entity::noop());
        }
        let name = match self.inner.config.tracing_name.as_deref() {
            Some(forced) => forced,
            None if name.is_empty() => &self.inner.service_name,
            None => name,
        };
        let root = incoming.and_then(TraceHeader::root);
        let (trace_id, parent_id) = match root {
            Some(root) => (root, incoming.and_then(TraceHeader::parent)),
            None => (TraceId::new(), None),
        };
        let extra = incoming.map_or("", TraceHeader::extra);
        let tracestate = incoming.and_then(TraceHeader::tracestate);
        let flag = incoming.map_or(SamplingFlag::Unknown, TraceHeader::sampled);
        let (sampled, rule_name) = match flag.decision() {
            Some(decision) => (decision, None),
            None => {
                let mut req = *request;
                req.service_name = req.service_name.or(Some(name));
                req.service_type = req.service_type.or(self.inner.origin.as_deref());
                let d = self.inner.sampler.should_sample(&req);
                (d.sampled, d.rule_name)
            }
        };
        if !sampled {
            return Segment::new(Entity::unsampled(Unsampled {
                trace_id,
                id: (!self.inner.config.noop_id).then(EntityId::new),
                extra: (!extra.is_empty()).then(|| Arc::from(extra)),
                tracestate: tracestate.map(Arc::from),
                propagation: self.inner.traces.propagation,
            }));
        }
        let trace = Trace::new(self.inner.traces.clone(), trace_id, extra, tracestate);
        let node = Node::new_segment(trace, name, |doc| {
            doc.trace_id = Some(trace_id);
            doc.parent_id = parent_id;
            // Spelled out rather than `..Aws::default()`, which would build and drop a spare map.
            doc.aws = Some(Box::new(Aws {
                xray: Some(XraySdk { sampling_rule_name: rule_name.map(|r| r.to_string()), ..XraySdk::this_sdk() }),
                account_id: None,
                operation: None,
                region: None,
                request_id: None,
                other: self.inner.resource.clone().unwrap_or_default(),
            }));
            doc.origin.clone_from(&self.inner.origin);
            if let Some(version) = &self.inner.service_version {
                doc.service = Some(Service { version: Some(version.clone()) });
            }
        });
        Segment::new(Entity::from_node(node))
    }

    /// The facade of an AWS Lambda invocation's segment.
    ///
    /// Lambda records the function's segment itself and hands its trace id, segment id and
    /// sampling decision to the function as a tracing header (`_X_AMZN_TRACE_ID`, or the
    /// invocation context's trace id). The facade stands for that segment: recording on it does
    /// nothing, and every subsegment opened under it is sent as an independent subsegment
    /// whose parent is Lambda's segment. A header without `Root` and `Parent`, or with
    /// `Sampled=0`, gives an entity that records nothing (but still propagates the trace).
    pub fn lambda_segment(&self, header: &TraceHeader) -> Segment {
        let (Some(root), Some(parent)) = (header.root(), header.parent()) else {
            return Segment::new(Entity::noop());
        };
        if !self.is_enabled() || header.sampled() != SamplingFlag::Sampled {
            let extra = header.extra();
            return Segment::new(Entity::unsampled(Unsampled {
                trace_id: root,
                id: None,
                extra: (!extra.is_empty()).then(|| Arc::from(extra)),
                tracestate: header.tracestate().map(Arc::from),
                propagation: self.inner.traces.propagation,
            }));
        }
        let trace = Trace::new(self.inner.traces.clone(), root, header.extra(), header.tracestate());
        Segment::new(Entity::from_node(Node::new_facade(trace, parent)))
    }

    /// [`lambda_segment`](Self::lambda_segment) for the header Lambda puts in the
    /// `_X_AMZN_TRACE_ID` environment variable.
    pub fn lambda_segment_from_env(&self) -> Segment {
        let header = std::env::var("_X_AMZN_TRACE_ID").map(|v| TraceHeader::parse(&v)).unwrap_or_default();
        self.lambda_segment(&header)
    }

    /// Begins a segment of a new trace named `name` (empty: the [service
    /// name](Self::service_name)), sampled by the sampler (background jobs, scripts, queue
    /// consumers).
    pub fn new_segment(&self, name: &str) -> Segment {
        self.begin_segment(name, None, &SamplingRequest::default())
    }
}

/// Builds a [`Recorder`].
#[must_use]
pub struct RecorderBuilder {
    config: Config,
    service_name: Option<String>,
    emitter: Option<Arc<dyn Emitter>>,
    sampler: Option<Arc<dyn Sampler>>,
    sampling_rules: Option<LocalRules>,
    centralized_sampling: bool,
    origin: Option<String>,
    service_version: Option<String>,
    resource: Option<serde_json::Map<String, serde_json::Value>>,
    streaming_threshold: usize,
    /// How often the `metrics` publisher runs; `None`: not at all.
    #[cfg(feature = "metrics")]
    metrics_interval: Option<Duration>,
    /// `AWS_XRAY_DAEMON_ADDRESS` was set: it wins over [`with_daemon_address`](Self::with_daemon_address).
    daemon_from_env: bool,
    /// [`Recorder::from_env`] found itself inside AWS Lambda.
    lambda: bool,
}

impl std::fmt::Debug for RecorderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderBuilder")
            .field("config", &self.config)
            .field("service_name", &self.service_name)
            .field("emitter", &self.emitter.as_ref().map(|_| "custom"))
            .field("sampler", &self.sampler.as_ref().map(|_| "custom"))
            .field("centralized_sampling", &self.centralized_sampling)
            .field("origin", &self.origin)
            .field("streaming_threshold", &self.streaming_threshold)
            .field("lambda", &self.lambda)
            .finish_non_exhaustive()
    }
}

impl RecorderBuilder {
    /// A builder from a configuration.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            service_name: None,
            emitter: None,
            sampler: None,
            sampling_rules: None,
            centralized_sampling: true,
            origin: None,
            service_version: None,
            resource: None,
            streaming_threshold: DEFAULT_STREAMING_THRESHOLD,
            #[cfg(feature = "metrics")]
            metrics_interval: Some(crate::metrics::DEFAULT_INTERVAL),
            daemon_from_env: false,
            lambda: false,
        }
    }

    /// The name of segments begun without one (see [`Recorder::service_name`]): set it here
    /// once, and `XrayLayer::default()` and the Lambda layer use it. Defaults to
    /// `AWS_XRAY_TRACING_NAME`, else `service`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Where the daemon listens. Defaults to `127.0.0.1:2000`. On a builder from
    /// [`Recorder::from_env`], a set `AWS_XRAY_DAEMON_ADDRESS` wins over this value (the
    /// order is: the variable, then this method, then the default).
    pub fn with_daemon_address(mut self, address: DaemonAddress) -> Self {
        if self.daemon_from_env {
            log_event!(Debug, ignored = %address, env = %self.config.daemon_address, "AWS_XRAY_DAEMON_ADDRESS wins over with_daemon_address");
        } else {
            self.config.daemon_address = address;
        }
        self
    }

    /// Where finished documents go. Defaults to a [`UdpEmitter`] towards the daemon, or what
    /// `OTEL_TRACES_EXPORTER` names (`xray`, `otlp`, both, `none`; see
    /// [`TracesExporter`](crate::config::TracesExporter)).
    pub fn with_emitter(mut self, emitter: impl Emitter) -> Self {
        self.emitter = Some(Arc::new(emitter));
        self
    }

    /// Who decides what to record; overrides the sampling rules and centralized sampling.
    /// Defaults to a [`CentralizedSampler`](crate::sampling::CentralizedSampler) asking the
    /// daemon's TCP address, with the [sampling rules](Self::with_sampling_rules) as its
    /// fallback (a [`LocalSampler`](crate::sampling::LocalSampler) when the SDK is disabled or
    /// centralized sampling is off).
    pub fn with_sampler(mut self, sampler: impl Sampler) -> Self {
        self.sampler = Some(Arc::new(sampler));
        self
    }

    /// Same as [`with_sampler`](Self::with_sampler) for a shared sampler.
    pub fn with_shared_sampler(mut self, sampler: Arc<dyn Sampler>) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// The local sampling rules: the fallback of centralized sampling, or the rules themselves
    /// when it is off. Defaults to X-Ray's default rule (one request per second, then 5 %).
    pub fn with_sampling_rules(mut self, rules: LocalRules) -> Self {
        self.sampling_rules = Some(rules);
        self
    }

    /// Whether the default sampler fetches rules and quotas from X-Ray through the daemon.
    /// Defaults to on.
    pub fn with_centralized_sampling(mut self, enabled: bool) -> Self {
        self.centralized_sampling = enabled;
        self
    }

    /// What happens when code asks for a segment outside any trace. Defaults to
    /// `AWS_XRAY_CONTEXT_MISSING` or `LOG_ERROR`.
    pub fn with_context_missing(mut self, strategy: ContextMissing) -> Self {
        self.config.context_missing = strategy;
        self
    }

    /// Turns the SDK on or off. Defaults to on unless `AWS_XRAY_SDK_ENABLED=false`.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.config.enabled = enabled;
        self
    }

    /// Overrides every segment's name. Defaults to `AWS_XRAY_TRACING_NAME`.
    pub fn with_tracing_name(mut self, name: impl Into<String>) -> Self {
        self.config.tracing_name = Some(name.into());
        self
    }

    /// Which trace headers are read from incoming requests and written on outgoing calls:
    /// X-Ray's `X-Amzn-Trace-Id`, W3C's `traceparent` and `tracestate`, both, or neither (see
    /// [`Propagation`](crate::Propagation)). Every trace the recorder begins carries the
    /// setting to its outgoing calls. Defaults to `OTEL_PROPAGATORS` or both.
    pub fn with_propagation(mut self, propagation: crate::Propagation) -> Self {
        self.config.propagation = propagation;
        self
    }

    /// Allows SQL text in `sanitized_query`. Defaults to `AWS_XRAY_COLLECT_SQL_QUERIES` or off.
    pub fn with_collect_sql_queries(mut self, collect: bool) -> Self {
        self.config.collect_sql_queries = collect;
        self
    }

    /// The segments' `origin`, such as `AWS::ECS::Container`. Defaults to none.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// The segments' `service.version`. Defaults to none.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Resource blocks added to every segment's `aws` (for example `ecs`, `ec2`). Defaults to none.
    pub fn with_aws_resource(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.resource.get_or_insert_with(Default::default).insert(key.into(), value);
        self
    }

    /// Where the service runs, as found by [`plugins::detect_all`](crate::plugins::detect_all):
    /// sets the [origin](Self::with_origin) (if any) and adds every
    /// [resource block](Self::with_aws_resource). Defaults to none.
    pub fn with_resource(mut self, resource: crate::plugins::Resource) -> Self {
        if let Some(origin) = resource.origin {
            self = self.with_origin(origin);
        }
        for (key, value) in resource.aws {
            self = self.with_aws_resource(key, value);
        }
        self
    }

    /// Kept bytes per trace after which finished subsegments stream out early. Defaults to
    /// [`DEFAULT_STREAMING_THRESHOLD`].
    pub fn with_streaming_threshold(mut self, bytes: usize) -> Self {
        self.streaming_threshold = bytes;
        self
    }

    /// How often the recorder publishes its emitter's counters through the `metrics` facade,
    /// on a thread of its own (see [`crate::metrics`]); `None` publishes nothing. Defaults to
    /// `Some(`[`DEFAULT_INTERVAL`](crate::metrics::DEFAULT_INTERVAL)`)`, 10 s.
    #[cfg(feature = "metrics")]
    pub fn with_metrics_interval(mut self, interval: Option<Duration>) -> Self {
        self.metrics_interval = interval;
        self
    }

    /// Builds the recorder: resolves the daemon's host names (a blocking lookup, once) and
    /// opens the UDP socket, unless an emitter was given or the SDK is off.
    pub fn build(self) -> Result<Recorder, BuildError> {
        // The daemon's host names are looked up here, where the sockets are made, each once: the
        // TCP address serves both the emitter's probe and the default sampler.
        let needs_tcp = self.sampler.is_none() || (self.emitter.is_none() && self.config.enabled);
        let tcp = if needs_tcp { Some(self.config.daemon_address.tcp.resolve()?) } else { None };
        let service_name =
            self.service_name.or_else(|| self.config.tracing_name.clone()).unwrap_or_else(|| "service".to_owned());
        let exporter = self.config.traces_exporter;
        let emitter: Arc<dyn Emitter> = match (self.emitter, self.config.enabled) {
            (Some(e), _) => e,
            (None, false) => Arc::new(NullEmitter::default()),
            (None, true) => {
                let mut emitters: Vec<Arc<dyn Emitter>> = Vec::new();
                if exporter.xray {
                    // The daemon's TCP port is probed (off the request path) so that a daemon that
                    // is down shows in `stats()` even while the kernel does not report refusals.
                    let mut builder = UdpEmitter::builder(self.config.daemon_address.udp.resolve()?);
                    if let Some(tcp) = tcp {
                        builder = builder.with_tcp_probe(tcp);
                    }
                    emitters.push(Arc::new(builder.build()?));
                }
                #[cfg(feature = "otlp")]
                if exporter.otlp {
                    let otlp = crate::otlp::OtlpEmitter::builder().with_config(&self.config.otlp);
                    emitters.push(Arc::new(otlp.with_service_name(service_name.as_str()).build()?));
                }
                match emitters.pop() {
                    None => Arc::new(NullEmitter::default()),
                    #[cfg(feature = "otlp")]
                    Some(last) if !emitters.is_empty() => {
                        emitters.push(last);
                        Arc::new(crate::otlp::FanOutEmitter::new(emitters))
                    }
                    Some(only) => only,
                }
            }
        };
        let sampler = match self.sampler {
            Some(sampler) => sampler,
            None => {
                let rules = self.sampling_rules.unwrap_or_default();
                let tcp = match tcp {
                    Some(tcp) => tcp,
                    None => self.config.daemon_address.tcp.resolve()?,
                };
                default_sampler(tcp, self.config.enabled, self.centralized_sampling, rules)
            }
        };
        #[cfg(feature = "metrics")]
        let metrics = match self.metrics_interval {
            Some(interval) if self.config.enabled => crate::metrics::Publisher::start(emitter.clone(), interval),
            _ => None,
        };
        Ok(Recorder {
            inner: Arc::new(Inner {
                #[cfg(feature = "metrics")]
                metrics,
                service_name,
                traces: Arc::new(TraceSettings {
                    emitter,
                    streaming_threshold: self.streaming_threshold,
                    collect_sql_queries: self.config.collect_sql_queries,
                    propagation: self.config.propagation,
                }),
                sampler,
                origin: self.origin,
                service_version: self.service_version,
                resource: self.resource,
                config: self.config,
            }),
        })
    }

    /// Builds the recorder, makes it the global one, applies its log level and context-missing
    /// strategy, and returns a guard that shuts the recorder down when dropped.
    pub fn install(self) -> Result<RecorderGuard, BuildError> {
        let lambda = self.lambda;
        let recorder = self.build()?;
        GLOBAL.set(recorder.clone()).map_err(|_| BuildError::AlreadyInstalled)?;
        set_context_missing(recorder.config().context_missing);
        set_log_level(recorder.config().log_level);
        if lambda {
            log_event!(Info, daemon = %recorder.config().daemon_address, enabled = recorder.is_enabled(), function = recorder.service_name(), "X-Ray recorder installed in AWS Lambda mode (Lambda samples; centralized sampling off)");
        } else {
            log_event!(Info, daemon = %recorder.config().daemon_address, enabled = recorder.is_enabled(), "X-Ray recorder installed");
        }
        Ok(RecorderGuard { recorder, armed: true })
    }
}

/// Keeps the installed recorder; dropping it shuts the recorder down (sends what is queued,
/// waiting at most 2 s, and logs what could not be sent).
///
/// A process that exits without dropping the guard (`std::process::exit`, a signal, a panic
/// with `panic = "abort"`) loses what is still queued: keep the guard in `main` and return
/// from `main`, or call [`shutdown`](Self::shutdown) before exiting.
#[must_use = "dropping the guard shuts the recorder down; keep it alive for the life of the program"]
#[derive(Debug)]
pub struct RecorderGuard {
    recorder: Recorder,
    /// `false` once [`shutdown`](Self::shutdown) has run.
    armed: bool,
}

/// How long dropping a [`RecorderGuard`] waits for queued segments.
const DROP_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

impl RecorderGuard {
    /// The installed recorder.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Sends everything queued now, waiting at most `timeout`; the recorder keeps working.
    /// `true` when all of it was handled.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.recorder.flush(timeout)
    }

    /// Sends what is queued, waiting at most `timeout`, and stops the emitter (what ends
    /// afterwards is dropped and counted); `true` when everything queued was handled.
    pub fn shutdown(mut self, timeout: Duration) -> bool {
        self.armed = false;
        shutdown_and_report(&self.recorder, timeout)
    }
}

/// Shuts `recorder` down and, when it could not send everything, says so in a last log line.
fn shutdown_and_report(recorder: &Recorder, timeout: Duration) -> bool {
    let done = recorder.shutdown(timeout);
    let queued = recorder.stats().queued;
    if !done && queued > 0 {
        log_event!(
            Warn,
            queued,
            waited_ms = timeout.as_millis() as u64,
            "X-Ray: documents were still queued when the recorder shut down and are lost; shut down with a longer timeout before the process ends"
        );
    }
    done
}

impl Drop for RecorderGuard {
    fn drop(&mut self) {
        if self.armed {
            shutdown_and_report(&self.recorder, DROP_FLUSH_TIMEOUT);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{AlwaysSample, MemoryEmitter, NeverSample};

    fn recorder(sampler: impl Sampler, emitter: &Arc<MemoryEmitter>) -> Recorder {
        Recorder::builder()
            .with_service_name("orders")
            .with_sampler(sampler)
            .with_emitter(emitter.clone())
            .build()
            .unwrap()
    }

    #[test]
    fn a_sampling_flag_without_a_root_is_obeyed() {
        let emitter = Arc::new(MemoryEmitter::new());
        // The sampler would record everything, and a flag of 0 still wins; and the reverse.
        let always = recorder(AlwaysSample, &emitter);
        let never = recorder(NeverSample, &emitter);
        let cases = [
            (&always, "Sampled=0", false),
            (&always, "Root=garbage;Sampled=0", false),
            (&never, "Sampled=1", true),
            (&never, "Root=1-xyz;Parent=53995c3f42cd8ad8;Sampled=1", true),
            (&never, "Sampled=?", false),
            (&always, "Sampled=?", true),
        ];
        for (recorder, header, sampled) in cases {
            let incoming = TraceHeader::parse(header);
            let segment = recorder.begin_segment("api", Some(&incoming), &SamplingRequest::default());
            assert_eq!(segment.is_sampled(), sampled, "{header}");
            let down = segment.downstream_header().unwrap();
            // A new trace either way, with the decision passed on.
            assert_ne!(down.root(), None, "{header}");
            assert_eq!(down.sampled(), SamplingFlag::from_decision(sampled), "{header}");
            assert_eq!(down.parent().is_some(), sampled, "{header}");
        }
    }

    #[test]
    fn an_empty_name_is_the_service_name() {
        let emitter = Arc::new(MemoryEmitter::new());
        let recorder = recorder(AlwaysSample, &emitter);
        recorder.new_segment("").end();
        recorder.new_segment("nightly-report").end();
        let names: Vec<_> = emitter.documents().iter().map(|d| d["name"].clone()).collect();
        assert_eq!(names, ["orders", "nightly-report"]);
    }

    #[test]
    fn the_environment_names_the_daemon_over_the_builder() {
        let env = |name: &str| (name == "AWS_XRAY_DAEMON_ADDRESS").then(|| "127.0.0.1:2999".to_owned());
        let from_env =
            RecorderBuilder { daemon_from_env: true, ..RecorderBuilder::new(Config::from_lookup(env).unwrap()) };
        let code: DaemonAddress = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(from_env.with_daemon_address(code.clone()).config.daemon_address.udp.port(), 2999);
        // Without the variable, the builder's address is used.
        let plain = RecorderBuilder::new(Config::default()).with_daemon_address(code);
        assert_eq!(plain.config.daemon_address.udp.port(), 4000);
    }

    #[test]
    fn lambda_is_detected_from_its_variables() {
        fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        }
        let lambda = [
            ("AWS_LAMBDA_FUNCTION_NAME", "checkout"),
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000"),
        ];
        let builder = Recorder::from_lookup(lookup(&lambda)).unwrap();
        assert!(builder.lambda && !builder.centralized_sampling);
        assert_eq!(builder.config.daemon_address.udp.to_string(), "169.254.79.129:2000");
        let emitter = Arc::new(MemoryEmitter::new());
        assert_eq!(builder.with_emitter(emitter.clone()).build().unwrap().service_name(), "checkout");
        // The runtime API alone is enough; the tracing name stays the fallback; code still wins.
        let builder = Recorder::from_lookup(lookup(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")])).unwrap();
        assert!(builder.lambda && !builder.centralized_sampling && builder.service_name.is_none());
        let named = [("AWS_LAMBDA_FUNCTION_NAME", "checkout"), ("AWS_XRAY_TRACING_NAME", "shop")];
        assert_eq!(Recorder::from_lookup(lookup(&named)).unwrap().service_name.as_deref(), Some("shop"));
        let code = Recorder::from_lookup(lookup(&lambda)).unwrap().with_service_name("api").with_emitter(emitter);
        assert_eq!(code.build().unwrap().service_name(), "api");
        // Elsewhere: centralized sampling on, no Lambda mode.
        let plain = Recorder::from_lookup(lookup(&[("AWS_XRAY_TRACING_NAME", "shop")])).unwrap();
        assert!(!plain.lambda && plain.centralized_sampling);
    }

    #[test]
    fn the_guard_flushes_and_keeps_recording_then_shuts_down() {
        let emitter = Arc::new(MemoryEmitter::new());
        let guard = RecorderGuard { recorder: recorder(AlwaysSample, &emitter), armed: true };
        guard.recorder().new_segment("a").end();
        assert!(guard.flush(Duration::from_millis(100)));
        guard.recorder().new_segment("b").end();
        assert!(guard.shutdown(Duration::from_millis(100)));
        assert_eq!(emitter.documents().len(), 2);
    }
}
