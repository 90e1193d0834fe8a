//! Segment documents to OTLP spans, as the OpenTelemetry collector's X-Ray receiver turns the
//! same documents into spans (its `awsxrayreceiver` translator): the attribute names, kinds and
//! statuses below are that translator's, so that a service's spans look the same whether its
//! segments reach the collector by UDP or by OTLP. Where this module parts from it, the
//! [module docs](super) say so and why.

use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::Value;

use crate::id::{EntityId, TraceId};
use crate::model::{AnnotationValue, Aws, Cause, DocumentType, Exception, Namespace, SegmentDocument, Sql};
use crate::time::Timestamp;

/// The event name of an exception (OpenTelemetry's semantic convention).
pub const EXCEPTION_EVENT: &str = "exception";

/// The X-Ray trace id as the 16 bytes of a W3C / OTLP trace id: the epoch's 4 bytes, then the
/// 12 random ones (`1-5759e988-bd862e3fe1be46a994272793` is `5759e988bd862e3fe1be46a994272793`).
pub fn trace_id_bytes(id: &TraceId) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&id.epoch_seconds().to_be_bytes());
    out[4..].copy_from_slice(&id.random_bytes());
    out
}

/// The entity id as the 8 bytes of an OTLP span id.
pub fn span_id_bytes(id: EntityId) -> [u8; 8] {
    id.as_u64().to_be_bytes()
}

fn nanos(t: Timestamp) -> u64 {
    t.as_micros().saturating_mul(1000)
}

fn str_value(s: impl Into<String>) -> AnyValue {
    AnyValue { value: Some(any_value::Value::StringValue(s.into())) }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

/// Attributes in the order they are added; [`put`](Self::put) replaces a key set before, as the
/// collector's attribute maps do.
#[derive(Default)]
struct Attrs(Vec<KeyValue>);

impl Attrs {
    fn push(&mut self, key: &str, value: any_value::Value) {
        self.0.push(kv(key, value));
    }

    fn put(&mut self, key: &str, value: any_value::Value) {
        match self.0.iter_mut().find(|a| a.key == key) {
            Some(slot) => slot.value = Some(AnyValue { value: Some(value) }),
            None => self.push(key, value),
        }
    }

    fn string(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.push(key, any_value::Value::StringValue(v.to_owned()));
        }
    }

    fn put_string(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.put(key, any_value::Value::StringValue(v.to_owned()));
        }
    }

    /// A flag the JSON form leaves out while `false`: the receiver only sees it when `true`.
    fn flag(&mut self, key: &str, value: bool) {
        if value {
            self.push(key, any_value::Value::BoolValue(true));
        }
    }
}

/// Whether a whole document is left out: an in-progress document is followed by the complete
/// one with the same id, and a span exported twice would show twice in OpenTelemetry backends.
pub(crate) fn skipped(doc: &SegmentDocument) -> bool {
    doc.in_progress
}

/// Why a document could not become spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapError {
    /// A segment or independent subsegment without `trace_id`.
    NoTraceId,
}

/// The spans of one document (the document first, then its embedded subsegments, depth first)
/// under the resource its segment describes. `service_name` names the service of an
/// independent subsegment (see the [module docs](super)).
pub(crate) fn resource_spans(doc: &SegmentDocument, service_name: Option<&str>) -> Result<ResourceSpans, MapError> {
    let trace_id = doc.trace_id.ok_or(MapError::NoTraceId)?;
    let independent = doc.kind == Some(DocumentType::Subsegment) && doc.parent_id.is_some();
    let mut spans = Vec::with_capacity(1 + doc.subsegments.len());
    add_spans(doc, &trace_id_bytes(&trace_id), doc.parent_id, !independent, &mut spans);
    let name = match service_name {
        Some(service) if independent => service,
        _ => doc.name.as_str(),
    };
    Ok(ResourceSpans {
        resource: Some(resource(doc, name)),
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        ..Default::default()
    })
}

/// Adds `doc`'s span, then its subsegments' (depth first).
fn add_spans(doc: &SegmentDocument, trace_id: &[u8; 16], parent: Option<EntityId>, segment: bool, out: &mut Vec<Span>) {
    let at = out.len();
    out.push(span(doc, trace_id, parent, segment));
    for sub in &doc.subsegments {
        let child = out.len();
        add_spans(sub, trace_id, Some(doc.id), false, out);
        // The receiver lets a child's more specific status stand in for a cause's generic
        // error; with only Unset and Error to choose from, that keeps Error.
        let child_code = out[child].status.as_ref().map_or(0, |s| s.code);
        if doc.cause.is_some() && child_code != StatusCode::Unset as i32 {
            let status = out[at].status.get_or_insert_with(Status::default);
            if status.code == StatusCode::Error as i32 {
                status.code = child_code;
            }
        }
    }
}

/// The span kind: a segment serves a request; a subsegment with a namespace calls out; one
/// with a client address serves one; the rest is internal work.
fn kind(doc: &SegmentDocument, segment: bool) -> SpanKind {
    let client_ip = doc.http.as_ref().and_then(|h| h.request.as_ref()).is_some_and(|r| r.client_ip.is_some());
    if segment {
        SpanKind::Server
    } else if doc.namespace.is_some() {
        SpanKind::Client
    } else if client_ip {
        SpanKind::Server
    } else {
        SpanKind::Internal
    }
}

/// The receiver's mapping of an HTTP status: 100 to 398 leave the status unset, anything
/// else is an error.
fn http_status_code(status: u16) -> StatusCode {
    if (100..399).contains(&status) { StatusCode::Unset } else { StatusCode::Error }
}

fn span(doc: &SegmentDocument, trace_id: &[u8; 16], parent: Option<EntityId>, segment: bool) -> Span {
    let mut attrs = Attrs::default();
    let mut status = StatusCode::Unset;
    let mut message = String::new();
    if doc.namespace == Some(Namespace::Aws) {
        attrs.push("aws.service", any_value::Value::StringValue(doc.name.clone()));
    }
    attrs.flag("aws.xray.inprogress", doc.in_progress);
    attrs.string("enduser.id", doc.user.as_deref());
    if let Some(http) = &doc.http {
        if let Some(req) = &http.request {
            attrs.string("http.method", req.method.as_deref());
            attrs.string("http.client_ip", req.client_ip.as_deref());
            attrs.string("http.user_agent", req.user_agent.as_deref());
            attrs.string("http.url", req.url.as_deref());
            attrs.flag("aws.xray.x_forwarded_for", req.x_forwarded_for);
        }
        if let Some(resp) = &http.response {
            if let Some(code) = resp.status {
                status = http_status_code(code);
                attrs.push("http.status_code", any_value::Value::IntValue(i64::from(code)));
            }
            if let Some(len) = resp.content_length {
                attrs.push("http.response_content_length", any_value::Value::IntValue(len as i64));
            }
        }
    }
    let end = doc.end_time.map_or(0, nanos);
    let mut events = Vec::new();
    if let Some(cause) = &doc.cause {
        status = StatusCode::Error;
        match &**cause {
            Cause::Reference(id) => message = id.to_string(),
            Cause::Details(details) => {
                let time = if end > 0 { end } else { nanos(doc.start_time) };
                events.extend(details.exceptions.iter().map(|e| exception_event(e, time)));
            }
        }
    }
    if let Some(aws) = &doc.aws {
        aws_span_attrs(aws, &mut attrs);
    }
    if let Some(sql) = &doc.sql {
        sql_attrs(sql, &mut attrs);
    }
    attrs.flag("aws.xray.traced", doc.http.as_ref().and_then(|h| h.request.as_ref()).is_some_and(|r| r.traced));
    if !doc.annotations.is_empty() {
        let mut keys = Vec::with_capacity(doc.annotations.len());
        for (key, value) in doc.annotations.iter() {
            keys.push(str_value(key));
            attrs.push(key, annotation(value));
        }
        attrs.push("aws.xray.annotations", any_value::Value::ArrayValue(ArrayValue { values: keys }));
    }
    for (namespace, map) in doc.metadata.iter() {
        let json = serde_json::to_string(map).unwrap_or_default();
        attrs.push(&format!("aws.xray.metadata.{namespace}"), any_value::Value::StringValue(json));
    }
    let has_status = status != StatusCode::Unset || !message.is_empty();
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id_bytes(doc.id).to_vec(),
        parent_span_id: parent.map(|p| span_id_bytes(p).to_vec()).unwrap_or_default(),
        name: doc.name.clone(),
        kind: kind(doc, segment) as i32,
        start_time_unix_nano: nanos(doc.start_time),
        end_time_unix_nano: end,
        attributes: attrs.0,
        events,
        status: has_status.then_some(Status { message, code: status as i32 }),
        ..Default::default()
    }
}

/// An annotation's value; integers stay integers (the receiver's own conversion keeps them,
/// see the [module docs](super)).
fn annotation(value: &AnnotationValue) -> any_value::Value {
    match value {
        AnnotationValue::Bool(b) => any_value::Value::BoolValue(*b),
        AnnotationValue::Int(i) => any_value::Value::IntValue(*i),
        AnnotationValue::UInt(u) => match i64::try_from(*u) {
            Ok(i) => any_value::Value::IntValue(i),
            Err(_) => any_value::Value::DoubleValue(*u as f64),
        },
        AnnotationValue::Float(f) => any_value::Value::DoubleValue(*f),
        AnnotationValue::String(s) => any_value::Value::StringValue(s.clone()),
    }
}

fn exception_event(e: &Exception, time: u64) -> Event {
    let mut attrs = Attrs::default();
    attrs.push("aws.xray.exception.id", any_value::Value::StringValue(e.id.to_string()));
    attrs.string("exception.message", e.message.as_deref());
    attrs.string("exception.type", e.kind.as_deref());
    attrs.flag("aws.xray.exception.remote", e.remote);
    if let Some(n) = e.truncated {
        attrs.push("aws.xray.exception.truncated", any_value::Value::IntValue(i64::from(n)));
    }
    if let Some(n) = e.skipped {
        attrs.push("aws.xray.exception.skipped", any_value::Value::IntValue(i64::from(n)));
    }
    if let Some(cause) = e.cause {
        attrs.push("aws.xray.exception.cause", any_value::Value::StringValue(cause.to_string()));
    }
    if !e.stack.is_empty() {
        attrs.push("exception.stacktrace", any_value::Value::StringValue(stacktrace(e)));
    }
    Event { time_unix_nano: time, name: EXCEPTION_EVENT.to_owned(), attributes: attrs.0, ..Default::default() }
}

/// `Type: message` and one `\tat label(path: line)` line per frame, as the receiver writes it.
fn stacktrace(e: &Exception) -> String {
    use std::fmt::Write as _;
    let mut out = format!("{}: {}\n", e.kind.as_deref().unwrap_or(""), e.message.as_deref().unwrap_or(""));
    for frame in &e.stack {
        let line = frame.line.map_or_else(|| "<unknown>".to_owned(), |l| l.to_string());
        let _ = writeln!(
            out,
            "\tat {}({}: {line})",
            frame.label.as_deref().unwrap_or(""),
            frame.path.as_deref().unwrap_or("")
        );
    }
    out
}

fn other_str<'a>(aws: &'a Aws, key: &str) -> Option<&'a str> {
    aws.other.get(key).and_then(Value::as_str)
}

fn aws_span_attrs(aws: &Aws, attrs: &mut Attrs) {
    attrs.string("aws.account_id", aws.account_id.as_deref());
    attrs.string("aws.operation", aws.operation.as_deref());
    attrs.string("aws.region", aws.region.as_deref());
    attrs.string("aws.request_id", aws.request_id.as_deref());
    attrs.string("aws.queue_url", other_str(aws, "queue_url"));
    attrs.string("aws.table_name", other_str(aws, "table_name"));
    if let Some(retries) = aws.other.get("retries").and_then(Value::as_i64) {
        attrs.push("aws.xray.retries", any_value::Value::IntValue(retries));
    }
}

fn sql_attrs(sql: &Sql, attrs: &mut Attrs) {
    if let Some((url, name)) = sql.url.as_deref().and_then(split_sql_url) {
        attrs.push("db.connection_string", any_value::Value::StringValue(url.to_owned()));
        attrs.push("db.name", any_value::Value::StringValue(name.to_owned()));
    }
    attrs.string("db.system", sql.database_type.as_deref());
    attrs.string("db.statement", sql.sanitized_query.as_deref());
    attrs.string("db.user", sql.user.as_deref());
}

/// Splits `scheme://host:port/database?query` into the URL before the database name and the
/// name, as the receiver's pattern `^(.+//.+)/([^?]+)\??.*$` does: the split is at the last
/// `/` that is followed by a character other than `?` and preceded by `X//Y` (at least one
/// character on each side of the `//`); the name runs to the next `?`.
pub(crate) fn split_sql_url(url: &str) -> Option<(&str, &str)> {
    if url.contains('\n') {
        return None;
    }
    let b = url.as_bytes();
    let first_slashes = b.get(1..)?.windows(2).position(|w| w == b"//")? + 1;
    let split = (first_slashes + 3..b.len().saturating_sub(1)).rev().find(|&p| b[p] == b'/' && b[p + 1] != b'?')?;
    let rest = &url[split + 1..];
    let name = rest.split('?').next().unwrap_or(rest);
    Some((&url[..split], name))
}

/// The resource: the service, where it runs, and the recording SDK, from the segment's `aws`
/// and `service` blocks.
fn resource(doc: &SegmentDocument, service_name: &str) -> Resource {
    let mut attrs = Attrs::default();
    attrs.push("service.name", any_value::Value::StringValue(service_name.to_owned()));
    match &doc.aws {
        None => attrs.push("cloud.provider", any_value::Value::StringValue("unknown".to_owned())),
        Some(aws) => {
            attrs.push("cloud.provider", any_value::Value::StringValue("aws".to_owned()));
            attrs.put_string("cloud.account.id", aws.account_id.as_deref());
            aws_resource_attrs(aws, &mut attrs);
            if let Some(sdk) = &aws.xray {
                attrs.put_string("telemetry.sdk.version", sdk.sdk_version.as_deref());
                if let Some(name) = sdk.sdk.as_deref() {
                    attrs.put_string("telemetry.sdk.name", Some(name));
                    if let Some((_, language)) = name.split_once("for ") {
                        attrs.put_string("telemetry.sdk.language", Some(language));
                    }
                }
            }
        }
    }
    attrs.put_string("service.version", doc.service.as_ref().and_then(|s| s.version.as_deref()));
    attrs.put_string("aws.xray.resource_arn", doc.resource_arn.as_deref());
    Resource { attributes: attrs.0, ..Default::default() }
}

fn aws_resource_attrs(aws: &Aws, attrs: &mut Attrs) {
    let block = |name: &str| aws.other.get(name).and_then(Value::as_object);
    let field = |o: &serde_json::Map<String, Value>, k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(groups) = aws.other.get("cloudwatch_logs").and_then(Value::as_array) {
        let (mut arns, mut names) = (Vec::new(), Vec::new());
        for group in groups.iter().filter_map(Value::as_object) {
            arns.extend(field(group, "arn").map(str_value));
            names.extend(field(group, "log_group").map(str_value));
        }
        for (key, values) in [("aws.log.group.arns", arns), ("aws.log.group.names", names)] {
            if !values.is_empty() {
                attrs.put(key, any_value::Value::ArrayValue(ArrayValue { values }));
            }
        }
    }
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            attrs.put(key, any_value::Value::StringValue(v));
        }
    };
    if let Some(ec2) = block("ec2") {
        put("cloud.availability_zone", field(ec2, "availability_zone"));
        put("host.id", field(ec2, "instance_id"));
        put("host.type", field(ec2, "instance_size"));
        put("host.image.id", field(ec2, "ami_id"));
    }
    if let Some(ecs) = block("ecs") {
        put("container.name", field(ecs, "container"));
        put("cloud.availability_zone", field(ecs, "availability_zone"));
        put("container.id", field(ecs, "container_id"));
    }
    if let Some(eb) = block("elastic_beanstalk") {
        put("service.namespace", field(eb, "environment_name"));
        put("service.instance.id", eb.get("deployment_id").and_then(Value::as_i64).map(|d| d.to_string()));
        put("service.version", field(eb, "version_label"));
    }
    if let Some(eks) = block("eks") {
        put("container.id", field(eks, "container_id"));
        put("k8s.cluster.name", field(eks, "cluster_name"));
        put("k8s.pod.name", field(eks, "pod"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CauseDetails, Http, HttpRequest, HttpResponse, StackFrame, XraySdk};
    use serde_json::json;

    fn id(s: &str) -> EntityId {
        s.parse().unwrap()
    }

    /// The attribute `key` of `attrs`, as a plain JSON-ish value for comparisons.
    fn get(attrs: &[KeyValue], key: &str) -> Option<Value> {
        let v = attrs.iter().find(|a| a.key == key)?.value.as_ref()?.value.as_ref()?;
        Some(plain(v))
    }

    fn plain(v: &any_value::Value) -> Value {
        match v {
            any_value::Value::StringValue(s) => json!(s),
            any_value::Value::BoolValue(b) => json!(b),
            any_value::Value::IntValue(i) => json!(i),
            any_value::Value::DoubleValue(d) => json!(d),
            any_value::Value::ArrayValue(a) => {
                Value::Array(a.values.iter().filter_map(|v| v.value.as_ref()).map(plain).collect())
            }
            other => json!(format!("{other:?}")),
        }
    }

    fn segment() -> SegmentDocument {
        let mut doc =
            SegmentDocument::new("orders", id("70de5b6f19ff9a0a"), Timestamp::from_micros(1_478_293_361_271_000));
        doc.trace_id = Some("1-581cf771-a006649127e371903a2de979".parse().unwrap());
        doc.end_time = Some(Timestamp::from_micros(1_478_293_361_449_500));
        doc
    }

    #[test]
    fn ids_and_times_map_one_to_one() {
        let trace: TraceId = "1-5759e988-bd862e3fe1be46a994272793".parse().unwrap();
        let hex: String = trace_id_bytes(&trace).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5759e988bd862e3fe1be46a994272793");
        assert_eq!(span_id_bytes(id("53995c3f42cd8ad8")), [0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8]);

        let mut doc = segment();
        doc.parent_id = Some(id("53995c3f42cd8ad8"));
        let mut child =
            SegmentDocument::new("child", id("0000000000000002"), Timestamp::from_micros(1_478_293_361_300_000));
        child.end_time = Some(Timestamp::from_micros(1_478_293_361_400_000));
        let grandchild = SegmentDocument::new("grandchild", id("0000000000000003"), Timestamp::from_micros(1));
        child.subsegments.push(grandchild);
        doc.subsegments.push(child);
        let rs = resource_spans(&doc, None).unwrap();
        let spans = &rs.scope_spans[0].spans;
        assert_eq!(spans.len(), 3);
        let trace = trace_id_bytes(&doc.trace_id.unwrap()).to_vec();
        assert!(spans.iter().all(|s| s.trace_id == trace));
        assert_eq!(spans[0].span_id, span_id_bytes(doc.id));
        assert_eq!(spans[0].parent_span_id, span_id_bytes(id("53995c3f42cd8ad8")));
        assert_eq!(spans[1].parent_span_id, span_id_bytes(doc.id));
        assert_eq!(spans[2].parent_span_id, span_id_bytes(id("0000000000000002")));
        assert_eq!(
            (spans[0].start_time_unix_nano, spans[0].end_time_unix_nano),
            (1_478_293_361_271_000_000, 1_478_293_361_449_500_000)
        );
        assert_eq!(spans[2].end_time_unix_nano, 0, "no end time: zero, as the receiver leaves it");
        assert_eq!(spans.iter().map(|s| s.kind).collect::<Vec<_>>(), [2, 1, 1], "server, internal, internal");
        // A root segment has no parent span id.
        let root = resource_spans(&segment(), None).unwrap();
        assert!(root.scope_spans[0].spans[0].parent_span_id.is_empty());
        assert_eq!(resource_spans(&SegmentDocument { trace_id: None, ..segment() }, None), Err(MapError::NoTraceId));
    }

    #[test]
    fn kinds_follow_the_receiver() {
        let call = |ns: Option<Namespace>, client_ip: bool| {
            let mut sub = SegmentDocument::new("s", id("0000000000000009"), Timestamp::from_micros(1));
            sub.namespace = ns;
            if client_ip {
                sub.http = Some(Http {
                    request: Some(HttpRequest { client_ip: Some("10.0.0.1".into()), ..Default::default() }),
                    response: None,
                });
            }
            let mut doc = segment();
            doc.subsegments.push(sub);
            let rs = resource_spans(&doc, None).unwrap();
            rs.scope_spans[0].spans[1].kind
        };
        assert_eq!(call(None, false), SpanKind::Internal as i32);
        assert_eq!(call(Some(Namespace::Remote), false), SpanKind::Client as i32);
        assert_eq!(call(Some(Namespace::Aws), true), SpanKind::Client as i32);
        assert_eq!(call(None, true), SpanKind::Server as i32);

        // An independent subsegment is not a server span; it takes the recorder's service name.
        let mut indep = SegmentDocument::new("example.com", id("0000000000000009"), Timestamp::from_micros(1));
        indep.trace_id = segment().trace_id;
        indep.parent_id = Some(id("70de5b6f19ff9a0a"));
        indep.kind = Some(DocumentType::Subsegment);
        indep.namespace = Some(Namespace::Remote);
        let rs = resource_spans(&indep, Some("orders")).unwrap();
        assert_eq!(rs.scope_spans[0].spans[0].kind, SpanKind::Client as i32);
        assert_eq!(rs.scope_spans[0].spans[0].parent_span_id, span_id_bytes(id("70de5b6f19ff9a0a")));
        let res = &rs.resource.unwrap().attributes;
        assert_eq!(get(res, "service.name"), Some(json!("orders")));
        assert_eq!(get(res, "cloud.provider"), Some(json!("unknown")));
        let rs = resource_spans(&indep, None).unwrap();
        assert_eq!(get(&rs.resource.unwrap().attributes, "service.name"), Some(json!("example.com")));
    }

    #[test]
    fn http_sql_aws_annotations_and_metadata() {
        let mut doc = segment();
        doc.user = Some("alice".into());
        doc.http = Some(Http {
            request: Some(HttpRequest {
                method: Some("POST".into()),
                url: Some("http://shop/orders".into()),
                user_agent: Some("curl/8".into()),
                client_ip: Some("10.0.0.1".into()),
                x_forwarded_for: true,
                traced: false,
            }),
            response: Some(HttpResponse { status: Some(201), content_length: Some(17) }),
        });
        doc.annotations.insert("customer", "c-17".into());
        doc.annotations.insert("items", 3.into());
        doc.annotations.insert("vip", true.into());
        doc.annotations.insert("total", 12.5.into());
        doc.metadata.insert("default", "cart", json!({"n": 1}));
        let mut db = SegmentDocument::new("test@127.0.0.1", id("0000000000000002"), Timestamp::from_micros(1));
        db.namespace = Some(Namespace::Remote);
        db.sql = Some(Box::new(Sql {
            url: Some("postgresql://app@127.0.0.1:5432/test".into()),
            database_type: Some("PostgreSQL".into()),
            sanitized_query: Some("SELECT 1".into()),
            user: Some("app".into()),
            ..Default::default()
        }));
        let mut dynamo = SegmentDocument::new("DynamoDB", id("0000000000000003"), Timestamp::from_micros(1));
        dynamo.namespace = Some(Namespace::Aws);
        let mut aws = Aws { operation: Some("GetItem".into()), region: Some("eu-west-1".into()), ..Default::default() };
        aws.request_id = Some("R1".into());
        aws.other.insert("table_name".into(), json!("users"));
        aws.other.insert("retries".into(), json!(2));
        dynamo.aws = Some(Box::new(aws));
        let mut call = SegmentDocument::new("api.example", id("0000000000000004"), Timestamp::from_micros(1));
        call.namespace = Some(Namespace::Remote);
        call.http = Some(Http {
            request: Some(HttpRequest { method: Some("GET".into()), traced: true, ..Default::default() }),
            response: Some(HttpResponse { status: Some(503), content_length: None }),
        });
        doc.subsegments.extend([db, dynamo, call]);

        let rs = resource_spans(&doc, None).unwrap();
        let spans = &rs.scope_spans[0].spans;
        let a = &spans[0].attributes;
        for (key, want) in [
            ("enduser.id", json!("alice")),
            ("http.method", json!("POST")),
            ("http.client_ip", json!("10.0.0.1")),
            ("http.user_agent", json!("curl/8")),
            ("http.url", json!("http://shop/orders")),
            ("aws.xray.x_forwarded_for", json!(true)),
            ("http.status_code", json!(201)),
            ("http.response_content_length", json!(17)),
            ("customer", json!("c-17")),
            ("items", json!(3)),
            ("vip", json!(true)),
            ("total", json!(12.5)),
            ("aws.xray.annotations", json!(["customer", "items", "vip", "total"])),
            ("aws.xray.metadata.default", json!("{\"cart\":{\"n\":1}}")),
        ] {
            assert_eq!(get(a, key), Some(want), "{key}");
        }
        assert!(get(a, "aws.xray.traced").is_none() && spans[0].status.is_none());
        let db = &spans[1].attributes;
        assert_eq!(get(db, "db.connection_string"), Some(json!("postgresql://app@127.0.0.1:5432")));
        assert_eq!(get(db, "db.name"), Some(json!("test")));
        assert_eq!(get(db, "db.system"), Some(json!("PostgreSQL")));
        assert_eq!(get(db, "db.statement"), Some(json!("SELECT 1")));
        assert_eq!(get(db, "db.user"), Some(json!("app")));
        let d = &spans[2].attributes;
        assert_eq!(get(d, "aws.service"), Some(json!("DynamoDB")));
        assert_eq!(get(d, "aws.operation"), Some(json!("GetItem")));
        assert_eq!(get(d, "aws.region"), Some(json!("eu-west-1")));
        assert_eq!(get(d, "aws.request_id"), Some(json!("R1")));
        assert_eq!(get(d, "aws.table_name"), Some(json!("users")));
        assert_eq!(get(d, "aws.xray.retries"), Some(json!(2)));
        let c = &spans[3];
        assert_eq!(get(&c.attributes, "aws.xray.traced"), Some(json!(true)));
        assert_eq!(c.status.as_ref().map(|s| s.code), Some(StatusCode::Error as i32), "503 is an error");
    }

    #[test]
    fn causes_become_error_status_and_exception_events() {
        let mut doc = segment();
        doc.fault = true;
        let mut e = Exception::new("io::Error", "disk full");
        e.remote = true;
        e.skipped = Some(2);
        e.stack = vec![StackFrame { path: Some("src/main.rs".into()), line: Some(7), label: Some("main".into()) }];
        let exception_id = e.id;
        doc.cause = Some(Box::new(Cause::Details(CauseDetails { exceptions: vec![e], ..Default::default() })));
        let mut child = SegmentDocument::new("c", id("0000000000000002"), Timestamp::from_micros(1));
        child.cause = Some(Box::new(Cause::Reference(exception_id)));
        doc.subsegments.push(child);
        let rs = resource_spans(&doc, None).unwrap();
        let spans = &rs.scope_spans[0].spans;
        assert_eq!(spans[0].status.as_ref().unwrap().code, StatusCode::Error as i32);
        let event = &spans[0].events[0];
        assert_eq!(event.name, "exception");
        assert_eq!(event.time_unix_nano, spans[0].end_time_unix_nano);
        assert_eq!(get(&event.attributes, "aws.xray.exception.id"), Some(json!(exception_id.to_string())));
        assert_eq!(get(&event.attributes, "exception.type"), Some(json!("io::Error")));
        assert_eq!(get(&event.attributes, "exception.message"), Some(json!("disk full")));
        assert_eq!(get(&event.attributes, "aws.xray.exception.remote"), Some(json!(true)));
        assert_eq!(get(&event.attributes, "aws.xray.exception.skipped"), Some(json!(2)));
        assert_eq!(
            get(&event.attributes, "exception.stacktrace"),
            Some(json!("io::Error: disk full\n\tat main(src/main.rs: 7)\n"))
        );
        // A reference: an error whose message is the exception's id.
        let status = spans[1].status.as_ref().unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (StatusCode::Error as i32, exception_id.to_string().as_str())
        );
        // The fault flag alone sets no status: the receiver reads causes and HTTP statuses only.
        let flagged = SegmentDocument { fault: true, ..segment() };
        assert!(resource_spans(&flagged, None).unwrap().scope_spans[0].spans[0].status.is_none());
    }

    #[test]
    fn the_resource_names_the_service_and_where_it_runs() {
        let mut doc = segment();
        let mut aws =
            Aws { xray: Some(XraySdk::this_sdk()), account_id: Some("123456789012".into()), ..Default::default() };
        aws.other.insert("ec2".into(), json!({"instance_id": "i-1", "availability_zone": "eu-west-1a", "instance_size": "t3.micro", "ami_id": "ami-1"}));
        aws.other.insert(
            "ecs".into(),
            json!({"container": "web", "container_id": "abc", "availability_zone": "eu-west-1b"}),
        );
        aws.other.insert(
            "elastic_beanstalk".into(),
            json!({"environment_name": "prod", "version_label": "v7", "deployment_id": 3}),
        );
        aws.other.insert("eks".into(), json!({"cluster_name": "k", "pod": "p-1", "container_id": "def"}));
        aws.other.insert("cloudwatch_logs".into(), json!([{"log_group": "/app", "arn": "arn:aws:logs:x"}]));
        doc.aws = Some(Box::new(aws));
        doc.service = Some(crate::model::Service { version: Some("1.2.3".into()) });
        doc.resource_arn = Some("arn:aws:ecs:task".into());
        let res = resource_spans(&doc, Some("ignored for segments")).unwrap().resource.unwrap().attributes;
        for (key, want) in [
            ("service.name", json!("orders")),
            ("cloud.provider", json!("aws")),
            ("cloud.account.id", json!("123456789012")),
            ("cloud.availability_zone", json!("eu-west-1b")),
            ("host.id", json!("i-1")),
            ("host.type", json!("t3.micro")),
            ("host.image.id", json!("ami-1")),
            ("container.name", json!("web")),
            ("container.id", json!("def")),
            ("service.namespace", json!("prod")),
            ("service.instance.id", json!("3")),
            ("service.version", json!("1.2.3")),
            ("k8s.cluster.name", json!("k")),
            ("k8s.pod.name", json!("p-1")),
            ("aws.log.group.names", json!(["/app"])),
            ("aws.log.group.arns", json!(["arn:aws:logs:x"])),
            ("telemetry.sdk.name", json!("X-Ray for Rust")),
            ("telemetry.sdk.language", json!("Rust")),
            ("telemetry.sdk.version", json!(crate::model::SDK_VERSION)),
            ("aws.xray.resource_arn", json!("arn:aws:ecs:task")),
        ] {
            assert_eq!(get(&res, key), Some(want), "{key}");
        }
        let keys: Vec<&str> = res.iter().map(|a| a.key.as_str()).collect();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "a later value replaces an earlier one: {keys:?}");
    }

    #[test]
    fn sql_urls_split_as_the_receiver_splits_them() {
        let cases = [
            ("postgresql://app@127.0.0.1:5432/test", Some(("postgresql://app@127.0.0.1:5432", "test"))),
            ("mysql://h:3306/shop?ssl=true", Some(("mysql://h:3306", "shop"))),
            ("jdbc:mysql://h/db/extra", Some(("jdbc:mysql://h/db", "extra"))),
            ("sqlite://data/users.db", Some(("sqlite://data", "users.db"))),
            ("postgresql://h:5432", None),
            ("postgresql://h:5432/", None),
            ("postgresql://h:5432/?x=1", None),
            ("//h/db", None),
            ("sqlite::memory:", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(split_sql_url(url), want, "{url}");
        }
    }

    #[test]
    fn in_progress_documents_are_skipped() {
        assert!(skipped(&SegmentDocument { in_progress: true, end_time: None, ..segment() }));
        assert!(!skipped(&segment()));
    }
}
