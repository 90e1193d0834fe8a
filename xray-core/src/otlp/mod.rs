//! Export to an OpenTelemetry collector over OTLP (feature `otlp`).
//!
//! [`OtlpEmitter`] sends finished segments as OTLP traces (OTLP/HTTP, protobuf bodies, built
//! with the `opentelemetry-proto` crate's types) to a collector's `/v1/traces`: the CloudWatch
//! agent, the AWS Distro for OpenTelemetry (ADOT) collector, or any OpenTelemetry collector.
//! [`FanOutEmitter`] sends to X-Ray's daemon and a collector at once, for a migration period.
//!
//! Select it in code, or with OpenTelemetry's variable when the recorder comes from
//! [`Recorder::from_env`](crate::Recorder::from_env):
//!
//! | `OTEL_TRACES_EXPORTER` | emitter |
//! |---|---|
//! | unset, or `xray` | [`UdpEmitter`](crate::UdpEmitter) to the X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`) |
//! | `otlp` | [`OtlpEmitter`] to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, else `http://127.0.0.1:4318/v1/traces` |
//! | `xray,otlp` | both, through a [`FanOutEmitter`] |
//! | `none` | nothing is sent ([`NullEmitter`](crate::NullEmitter)) |
//!
//! ```
//! use xray_core::{AlwaysSample, Recorder, otlp::OtlpEmitter};
//! # let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
//! # let url = format!("http://{closed}/v1/traces");
//! // In production: OtlpEmitter::from_env() reads OTEL_EXPORTER_OTLP_ENDPOINT.
//! let otlp = OtlpEmitter::builder().with_endpoint(url).with_service_name("orders").build().unwrap();
//! let recorder = Recorder::builder().with_service_name("orders").with_sampler(AlwaysSample).with_emitter(otlp).build().unwrap();
//! recorder.new_segment("orders").end();
//! // No collector listens in this example: the segment is counted as not delivered.
//! recorder.flush(std::time::Duration::from_secs(5));
//! let stats = recorder.stats();
//! assert_eq!(stats.enqueued, 1);
//! assert_eq!(stats.emitted + stats.dropped_send_error, 1);
//! ```
//!
//! ## The mapping
//! Documents become spans as the collector's X-Ray receiver (`awsxrayreceiver`) turns the
//! same documents into spans when they arrive by UDP, so a service's spans look the same
//! either way:
//!
//! | X-Ray | OTLP |
//! |---|---|
//! | trace id `1-5759e988-bd862e3fe1be46a994272793` | trace id `5759e988bd862e3fe1be46a994272793` |
//! | entity id, `parent_id`, the embedding subsegment | span id, parent span id |
//! | `start_time`, `end_time` | `start_time_unix_nano`, `end_time_unix_nano` (0 while absent) |
//! | segment | `SERVER` span |
//! | subsegment with a `namespace` (`remote`, `aws`) | `CLIENT` span; `aws` adds `aws.service` = its name |
//! | subsegment with `http.request.client_ip` | `SERVER` span |
//! | other subsegments | `INTERNAL` span |
//! | `http.request` `method`, `url`, `user_agent`, `client_ip`, `x_forwarded_for` | `http.method`, `http.url`, `http.user_agent`, `http.client_ip`, `aws.xray.x_forwarded_for` |
//! | `http.response` `status`, `content_length` | `http.status_code`, `http.response_content_length`; status `ERROR` outside 100–398 |
//! | `sql` `url`, `database_type`, `sanitized_query`, `user` | `db.connection_string` and `db.name` (the URL split before its last path segment), `db.system`, `db.statement`, `db.user` |
//! | `aws` `account_id`, `operation`, `region`, `request_id`, `queue_url`, `table_name`, `retries` | `aws.account_id`, `aws.operation`, `aws.region`, `aws.request_id`, `aws.queue_url`, `aws.table_name`, `aws.xray.retries` |
//! | `user`, `in_progress` | `enduser.id`, `aws.xray.inprogress` |
//! | annotations | one attribute per key, and `aws.xray.annotations`: the list of keys |
//! | metadata | `aws.xray.metadata.<namespace>`: the namespace's object as a JSON string |
//! | `cause` with exceptions | status `ERROR`, one `exception` event per exception (`exception.type`, `exception.message`, `exception.stacktrace`, `aws.xray.exception.id`, `.remote`, `.truncated`, `.skipped`, `.cause`) |
//! | `cause` naming a child's exception id | status `ERROR` with the id as its message |
//! | the segment's name | resource `service.name` |
//! | `aws.xray` `sdk`, `sdk_version` | resource `telemetry.sdk.name`, `telemetry.sdk.language` (`Rust`), `telemetry.sdk.version` |
//! | `aws` present / absent | resource `cloud.provider` = `aws` / `unknown`; `account_id` as `cloud.account.id` |
//! | `aws.ec2`, `aws.ecs`, `aws.eks`, `aws.elastic_beanstalk`, `aws.cloudwatch_logs` | resource `host.*`, `cloud.availability_zone`, `container.*`, `k8s.*`, `service.namespace`, `service.instance.id`, `service.version`, `aws.log.group.*` |
//! | `service.version`, `resource_arn` | resource `service.version`, `aws.xray.resource_arn` |
//!
//! Where this emitter parts from the receiver, on purpose:
//! - an **in-progress** document is not sent (counted in [`OtlpStats::in_progress_skipped`]):
//!   the complete one follows with the same id, and an OpenTelemetry backend, unlike X-Ray,
//!   would show both;
//! - an **independent subsegment** (Lambda's, or one streamed out of a long request) takes
//!   the recorder's service name ([`OtlpEmitterBuilder::with_service_name`]) as its
//!   `service.name`: the receiver names it after the subsegment itself (a host name, a
//!   table), which splits one service into many;
//! - `http.request.traced` becomes `aws.xray.traced` (the receiver looks for `traced` at the
//!   document's top level, where X-Ray's schema does not put it);
//! - `telemetry.sdk.language` is `Rust` also for segments with exceptions (the receiver says
//!   `java` there, for the sake of its exporter's stack-trace format);
//! - exception events carry the span's end time (the receiver leaves them at 0);
//! - integer annotations are integer attributes (the receiver's JSON decoder sees every
//!   number as a float);
//! - a `sql.url` without a database name leaves `db.connection_string` and `db.name` out (the
//!   receiver rejects the whole document).
//!
//! Error, fault and throttle flags without a `cause` or an HTTP status set no span status,
//! as in the receiver.

mod emitter;
mod endpoint;
mod fanout;
mod map;

pub use emitter::{OtlpEmitter, OtlpEmitterBuilder, OtlpError, OtlpStats};
pub use endpoint::{DEFAULT_ENDPOINT, EndpointError};
pub use fanout::FanOutEmitter;
pub use map::{EXCEPTION_EVENT, span_id_bytes, trace_id_bytes};
