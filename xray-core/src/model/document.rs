//! [`SegmentDocument`]: one segment or subsegment as X-Ray receives it.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{Annotations, Aws, Cause, Http, Metadata, Service, Sql, StatusFlags};
use crate::id::{EntityId, TraceId};
use crate::time::Timestamp;

/// The longest name X-Ray accepts, in characters.
pub const MAX_NAME_CHARS: usize = 200;

fn is_false(b: &bool) -> bool {
    !*b
}

/// `type` of an independently sent document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentType {
    /// A subsegment sent on its own, with `trace_id` and `parent_id`.
    Subsegment,
}

/// `namespace` of a subsegment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    /// A call to an AWS service.
    Aws,
    /// A call to anything else outside the service (HTTP, SQL).
    Remote,
}

/// A segment or subsegment document.
///
/// The blocks most documents lack (`cause`, `aws`, `sql`) are boxed, so that a document moves
/// cheaply through the emitter's queue.
///
/// ```
/// use xray_core::integration::{SegmentDocument, Timestamp};
/// use xray_core::{EntityId, TraceId};
/// let mut doc = SegmentDocument::new("example.com", EntityId::new(), Timestamp::now());
/// doc.trace_id = Some(TraceId::new());
/// doc.end_time = Some(Timestamp::now());
/// let json = serde_json::to_value(&doc).unwrap();
/// assert_eq!(json["name"], "example.com");
/// assert!(json.get("in_progress").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentDocument {
    /// The service's (segment) or operation's (subsegment) name.
    pub name: String,
    /// The entity's id.
    pub id: EntityId,
    /// The trace; required on segments and independently sent subsegments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// The caller's subsegment (segments) or the parent (independent subsegments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<EntityId>,
    /// When the work started.
    pub start_time: Timestamp,
    /// When the work ended; absent while in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// Sent before the work ends.
    #[serde(default, skip_serializing_if = "is_false")]
    pub in_progress: bool,
    /// `subsegment` for an independently sent subsegment.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DocumentType>,
    /// `remote` or `aws` for calls leaving the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,
    /// A client error.
    #[serde(default, skip_serializing_if = "is_false")]
    pub error: bool,
    /// A server error.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fault: bool,
    /// Throttled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub throttle: bool,
    /// What caused the error or fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<Cause>>,
    /// The HTTP request and response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Http>,
    /// SDK, sampling, resource or AWS-call information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Box<Aws>>,
    /// A SQL query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<Box<Sql>>,
    /// The application's version (segments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// The kind of AWS resource running the application, such as `AWS::EC2::Instance` (segments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The user who sent the request (segments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The ARN of the resource running the application (segments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    /// Ids of subsegments with the same parent that completed before this one started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub precursor_ids: Vec<EntityId>,
    /// Indexed key-value pairs.
    #[serde(default, skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
    /// Namespaced, unindexed data.
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    /// Embedded subsegments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsegments: Vec<SegmentDocument>,
}

impl SegmentDocument {
    /// A document with a name (sanitized per [`sanitize_name`]), an id and a start time.
    pub fn new(name: &str, id: EntityId, start_time: Timestamp) -> Self {
        Self {
            name: sanitize_name(name).into_owned(),
            id,
            trace_id: None,
            parent_id: None,
            start_time,
            end_time: None,
            in_progress: false,
            kind: None,
            namespace: None,
            error: false,
            fault: false,
            throttle: false,
            cause: None,
            http: None,
            aws: None,
            sql: None,
            service: None,
            origin: None,
            user: None,
            resource_arn: None,
            precursor_ids: Vec::new(),
            annotations: Annotations::default(),
            metadata: Metadata::default(),
            subsegments: Vec::new(),
        }
    }

    /// Sets error, fault and throttle from a status code (never clears a flag already set).
    pub fn apply_status(&mut self, status: u16) {
        let flags = StatusFlags::from_status(status);
        self.error |= flags.error;
        self.fault |= flags.fault;
        self.throttle |= flags.throttle;
    }

    /// Appends the document's JSON to `out`: the same JSON as its `Serialize` implementation
    /// gives, written faster (this is what the emitters send).
    ///
    /// ```
    /// use xray_core::integration::{SegmentDocument, Timestamp};
    /// use xray_core::EntityId;
    /// let doc = SegmentDocument::new("svc", EntityId::new(), Timestamp::from_micros(1_500_000));
    /// let mut out = Vec::new();
    /// doc.write_json(&mut out).unwrap();
    /// let fast: serde_json::Value = serde_json::from_slice(&out).unwrap();
    /// assert_eq!(fast, serde_json::to_value(&doc).unwrap());
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        crate::emit::json::write_document(out, self)
    }

    /// A cheap estimate of the serialized size in bytes, for queue and streaming budgets.
    pub fn estimated_size(&self) -> usize {
        let mut n = 150 + self.name.len();
        n += self.http.as_ref().map_or(0, |h| h.request.as_ref().map_or(0, |r| r.estimated_size()) + 60);
        n += self.sql.as_ref().map_or(0, |s| s.estimated_size());
        n += self.cause.as_ref().map_or(0, |c| c.estimated_size());
        n += self.aws.as_ref().map_or(0, |_| 120);
        n += self.annotations.estimated_size() + self.metadata.estimated_size();
        n += self.precursor_ids.len() * 19;
        n += self.user.as_ref().map_or(0, String::len) + self.origin.as_ref().map_or(0, String::len);
        n + self.subsegments.iter().map(Self::estimated_size).sum::<usize>()
    }

    /// What the document holds in memory while it waits in an emitter's queue: its own
    /// struct (twice, for the slack of a growing queue), every heap allocation with the
    /// allocator's overhead, and the nodes of its metadata maps. An upper-bound estimate, so
    /// that a queue capped in these bytes (as [`UdpEmitter`](crate::UdpEmitter)'s is) is
    /// capped in real memory too.
    ///
    /// ```
    /// use xray_core::integration::{SegmentDocument, Timestamp};
    /// use xray_core::EntityId;
    /// let doc = SegmentDocument::new("svc", EntityId::new(), Timestamp::now());
    /// assert!(doc.queued_size() > std::mem::size_of::<SegmentDocument>());
    /// ```
    pub fn queued_size(&self) -> usize {
        self.heap_size() + 2 * std::mem::size_of::<Self>()
    }

    /// The heap this document owns (its struct excluded).
    fn heap_size(&self) -> usize {
        const ALLOC: usize = 32; // glibc's per-allocation header and rounding, generously
        let string = |s: &String| if s.capacity() == 0 { 0 } else { s.capacity() + ALLOC };
        let opt = |s: &Option<String>| s.as_ref().map_or(0, string);
        let mut n = string(&self.name) + opt(&self.origin) + opt(&self.user) + opt(&self.resource_arn);
        if let Some(h) = &self.http {
            n += h.request.as_ref().map_or(0, |r| r.estimated_size() + 4 * ALLOC);
        }
        if let Some(c) = &self.cause {
            n += std::mem::size_of::<Cause>() + ALLOC + 2 * c.estimated_size();
        }
        if self.aws.is_some() {
            n += std::mem::size_of::<Aws>() + 8 * ALLOC + 256;
        }
        if let Some(sql) = &self.sql {
            n += std::mem::size_of::<Sql>() + ALLOC + sql.estimated_size() + 8 * ALLOC;
        }
        if !self.precursor_ids.is_empty() {
            n += self.precursor_ids.capacity() * std::mem::size_of::<EntityId>() + ALLOC;
        }
        if !self.annotations.is_empty() {
            // A vector of pairs (grown by doubling) and the keys' and strings' allocations.
            n += 2 * self.annotations.len() * 56
                + ALLOC
                + self.annotations.estimated_size()
                + 2 * ALLOC * self.annotations.len();
        }
        for (ns, map) in self.metadata.iter() {
            // A B-tree node holds at most 11 entries and is about 600 bytes.
            n += 48 + ns.len() + ALLOC + map.len().div_ceil(5) * (600 + ALLOC);
            n += map.iter().map(|(k, v)| k.len() + ALLOC + value_heap(v)).sum::<usize>();
        }
        if !self.subsegments.is_empty() {
            n += self.subsegments.capacity() * std::mem::size_of::<Self>() + ALLOC;
            n += self.subsegments.iter().map(Self::heap_size).sum::<usize>();
        }
        n
    }
}

/// The heap a JSON value owns (its inline part excluded).
fn value_heap(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    const ALLOC: usize = 32;
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) if s.capacity() == 0 => 0,
        Value::String(s) => s.capacity() + ALLOC,
        Value::Array(a) => {
            a.capacity() * std::mem::size_of::<Value>() + ALLOC + a.iter().map(value_heap).sum::<usize>()
        }
        Value::Object(o) => {
            o.len().div_ceil(5) * (600 + ALLOC) + o.iter().map(|(k, x)| k.len() + ALLOC + value_heap(x)).sum::<usize>()
        }
    }
}

/// Which ASCII bytes may stand in a name.
static ASCII_NAME: [bool; 128] = {
    let mut t = [false; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(c, b' ' | b'_' | b'.' | b':' | b'/' | b'%' | b'&' | b'#' | b'=' | b'+' | b'-' | b'@');
        i += 1;
    }
    t
};

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric()
        || c == ' '
        || (c.is_whitespace() && !c.is_control())
        || matches!(c, '_' | '.' | ':' | '/' | '%' | '&' | '#' | '=' | '+' | '-' | '@')
}

/// Makes a name acceptable to X-Ray: characters other than Unicode letters, numbers, spaces
/// and `_ . : / % & # = + - @` become `_`, the name is cut to 200 characters, and an empty
/// name becomes `unnamed`.
///
/// ```
/// use xray_core::integration::sanitize_name;
/// assert_eq!(sanitize_name("users-db@127.0.0.1"), "users-db@127.0.0.1");
/// assert_eq!(sanitize_name("GET /users?id=1"), "GET /users_id=1");
/// ```
pub fn sanitize_name(name: &str) -> Cow<'_, str> {
    if name.is_empty() {
        return Cow::Borrowed("unnamed");
    }
    // Most names are ASCII: check bytes first, characters only when needed.
    let clean =
        if name.is_ascii() { name.bytes().all(|b| ASCII_NAME[b as usize]) } else { name.chars().all(is_name_char) };
    let short = name.len() <= MAX_NAME_CHARS || name.chars().count() <= MAX_NAME_CHARS;
    if clean && short {
        return Cow::Borrowed(name);
    }
    Cow::Owned(name.chars().take(MAX_NAME_CHARS).map(|c| if is_name_char(c) { c } else { '_' }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_table() {
        let long = "a".repeat(250);
        let cases: [(&str, &str); 6] = [
            ("example.com", "example.com"),
            ("user management", "user management"),
            ("Ünïcödé-サービス", "Ünïcödé-サービス"),
            ("a\\b|c", "a_b_c"),
            ("", "unnamed"),
            ("tab\there", "tab_here"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_name(input), want, "{input:?}");
        }
        assert_eq!(sanitize_name(&long).len(), MAX_NAME_CHARS);
    }

    #[test]
    fn minimal_document_json() {
        let id: EntityId = "70de5b6f19ff9a0a".parse().unwrap();
        let mut doc = SegmentDocument::new("example.com", id, Timestamp::from_micros(1_478_293_361_271_000));
        doc.trace_id = Some("1-581cf771-a006649127e371903a2de979".parse().unwrap());
        doc.end_time = Some(Timestamp::from_micros(1_478_293_361_449_000));
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"name":"example.com","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449}"#
        );
        let back: SegmentDocument = serde_json::from_str(&serde_json::to_string(&doc).unwrap()).unwrap();
        assert_eq!(back, doc);
    }
}
