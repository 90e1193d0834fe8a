//! A direct JSON writer for [`SegmentDocument`], used by the emitters.
//!
//! It writes the same JSON as the derived `Serialize` implementation (the same keys, in the
//! same order, the same values), but faster: keys are byte literals, ids are written as hex
//! without an escaping pass, times as fixed-point microseconds without float formatting, and
//! strings are copied in runs between the rare characters JSON must escape. Dynamic values
//! (metadata, `aws` resource blocks, causes) still go through `serde_json`.

use std::io;

use serde::Serialize;

use crate::model::{
    AnnotationValue, Aws, Http, HttpRequest, HttpResponse, Namespace, SegmentDocument, Service, Sql, XraySdk,
};
use crate::time::Timestamp;

/// Bytes that must be escaped inside a JSON string: control characters, `"` and `\`.
const fn escape_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
}
static ESCAPE: [bool; 256] = escape_table();

/// Whether any of the eight bytes in `w` must be escaped: below 0x20, `"` or a backslash. The
/// classic word tests ("has a byte less than n", "has a zero byte"), exact as a yes or no.
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    (control | (quote.wrapping_sub(ONES) & !quote) | (backslash.wrapping_sub(ONES) & !backslash)) & HIGH != 0
}

/// How many leading bytes of `bytes` need no escaping: eight at a time, then one by one.
fn clean_prefix(bytes: &[u8]) -> usize {
    let mut i = 0;
    for chunk in bytes.chunks_exact(8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else { break };
        if word_needs_escape(u64::from_le_bytes(word)) {
            break;
        }
        i += 8;
    }
    while i < bytes.len() && !ESCAPE[bytes[i] as usize] {
        i += 1;
    }
    i
}

/// Writes `s` as a JSON string. Most strings need no escaping: they are checked a word at a
/// time and copied at once.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let clean = clean_prefix(bytes);
    out.extend_from_slice(&bytes[..clean]);
    if clean < bytes.len() {
        write_escaped(out, &bytes[clean..]);
    }
    out.push(b'"');
}

/// Writes `bytes`, whose first byte needs escaping, with JSON's escapes.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !ESCAPE[b as usize] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

const fn digit_pairs() -> [[u8; 2]; 100] {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
}
static PAIRS: [[u8; 2]; 100] = digit_pairs();

/// Writes an unsigned integer in decimal, two digits per step.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while n >= 100 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[(n % 100) as usize]);
        n /= 100;
    }
    if n >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[n as usize]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Writes seconds with six decimals: exact to the microsecond, no float formatting.
fn write_time(out: &mut Vec<u8>, t: Timestamp) {
    let micros = t.as_micros();
    write_u64(out, micros / 1_000_000);
    let frac = (micros % 1_000_000) as usize;
    let [a, b, c] = [frac / 10_000, frac / 100 % 100, frac % 100].map(|p| PAIRS[p]);
    out.extend_from_slice(&[b'.', a[0], a[1], b[0], b[1], c[0], c[1]]);
}

/// Writes a value through serde_json (for dynamic and rare parts).
fn write_serde(out: &mut Vec<u8>, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::other)
}

/// Writes `,"key":` (or `"key":` for the first field of an object).
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Fields<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// `key` must be a JSON-safe literal including its quotes, such as `b"\"name\""`. A
    /// fixed-size array, so that its copy compiles to a few moves rather than a `memcpy` call.
    #[inline]
    fn key<const N: usize>(&mut self, key: &[u8; N]) -> &mut Vec<u8> {
        self.out.reserve(N + 2);
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(key);
        self.out.push(b':');
        self.out
    }

    /// A key that may need escaping (a resource block's name), written as a JSON string.
    fn key_str(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_str(self.out, key);
        self.out.push(b':');
        self.out
    }

    #[inline]
    fn str<const N: usize>(&mut self, key: &[u8; N], value: &Option<impl AsRef<str>>) {
        if let Some(v) = value {
            let out = self.key(key);
            write_str(out, v.as_ref());
        }
    }

    #[inline]
    fn flag<const N: usize>(&mut self, key: &[u8; N], value: bool) {
        if value {
            self.key(key).extend_from_slice(b"true");
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn write_http(out: &mut Vec<u8>, http: &Http) {
    let Http { request, response } = http;
    let mut f = Fields::open(out);
    if let Some(HttpRequest { method, url, user_agent, client_ip, x_forwarded_for, traced }) = request {
        let mut g = Fields::open(f.key(b"\"request\""));
        g.str(b"\"method\"", method);
        g.str(b"\"url\"", url);
        g.str(b"\"user_agent\"", user_agent);
        g.str(b"\"client_ip\"", client_ip);
        g.flag(b"\"x_forwarded_for\"", *x_forwarded_for);
        g.flag(b"\"traced\"", *traced);
        g.close();
    }
    if let Some(HttpResponse { status, content_length }) = response {
        let mut g = Fields::open(f.key(b"\"response\""));
        if let Some(s) = status {
            write_u64(g.key(b"\"status\""), u64::from(*s));
        }
        if let Some(n) = content_length {
            write_u64(g.key(b"\"content_length\""), *n);
        }
        g.close();
    }
    f.close();
}

fn write_aws(out: &mut Vec<u8>, aws: &Aws) -> io::Result<()> {
    let Aws { xray, account_id, operation, region, request_id, other } = aws;
    let mut f = Fields::open(out);
    if let Some(XraySdk { sdk, sdk_version, sampling_rule_name }) = xray {
        let mut g = Fields::open(f.key(b"\"xray\""));
        g.str(b"\"sdk\"", sdk);
        g.str(b"\"sdk_version\"", sdk_version);
        g.str(b"\"sampling_rule_name\"", sampling_rule_name);
        g.close();
    }
    f.str(b"\"account_id\"", account_id);
    f.str(b"\"operation\"", operation);
    f.str(b"\"region\"", region);
    f.str(b"\"request_id\"", request_id);
    for (k, v) in other {
        write_serde(f.key_str(k), v)?;
    }
    f.close();
    Ok(())
}

fn write_sql(out: &mut Vec<u8>, sql: &Sql) {
    let Sql {
        url,
        connection_string,
        sanitized_query,
        database_type,
        database_version,
        driver_version,
        user,
        preparation,
    } = sql;
    let mut f = Fields::open(out);
    f.str(b"\"url\"", url);
    f.str(b"\"connection_string\"", connection_string);
    f.str(b"\"sanitized_query\"", sanitized_query);
    f.str(b"\"database_type\"", database_type);
    f.str(b"\"database_version\"", database_version);
    f.str(b"\"driver_version\"", driver_version);
    f.str(b"\"user\"", user);
    f.str(b"\"preparation\"", preparation);
    f.close();
}

fn write_hex_id<const N: usize>(out: &mut Vec<u8>, bytes: &[u8; N]) {
    out.reserve(N + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// Appends `doc` as JSON to `out`.
///
/// Every field is named here (no `..`), so that a field added to the model does not compile
/// until it is written too.
pub(crate) fn write_document(out: &mut Vec<u8>, doc: &SegmentDocument) -> io::Result<()> {
    write_entity(out, doc, true)
}

/// Appends `doc` as JSON to `out` without its embedded subsegments, so that the encoder can
/// measure a large tree node by node, once.
pub(crate) fn write_document_shallow(out: &mut Vec<u8>, doc: &SegmentDocument) -> io::Result<()> {
    write_entity(out, doc, false)
}

fn write_entity(out: &mut Vec<u8>, doc: &SegmentDocument, with_children: bool) -> io::Result<()> {
    let SegmentDocument {
        name,
        id,
        trace_id,
        parent_id,
        start_time,
        end_time,
        in_progress,
        kind,
        namespace,
        error,
        fault,
        throttle,
        cause,
        http,
        aws,
        sql,
        service,
        origin,
        user,
        resource_arn,
        precursor_ids,
        annotations,
        metadata,
        subsegments,
    } = doc;
    let mut f = Fields::open(out);
    write_str(f.key(b"\"name\""), name);
    write_hex_id(f.key(b"\"id\""), &id.to_bytes());
    if let Some(t) = trace_id {
        write_hex_id(f.key(b"\"trace_id\""), &t.to_bytes());
    }
    if let Some(p) = parent_id {
        write_hex_id(f.key(b"\"parent_id\""), &p.to_bytes());
    }
    write_time(f.key(b"\"start_time\""), *start_time);
    if let Some(t) = *end_time {
        write_time(f.key(b"\"end_time\""), t);
    }
    f.flag(b"\"in_progress\"", *in_progress);
    if kind.is_some() {
        f.key(b"\"type\"").extend_from_slice(b"\"subsegment\"");
    }
    if let Some(ns) = namespace {
        let text: &[u8] = match ns {
            Namespace::Aws => b"\"aws\"",
            Namespace::Remote => b"\"remote\"",
        };
        f.key(b"\"namespace\"").extend_from_slice(text);
    }
    f.flag(b"\"error\"", *error);
    f.flag(b"\"fault\"", *fault);
    f.flag(b"\"throttle\"", *throttle);
    if let Some(cause) = cause {
        write_serde(f.key(b"\"cause\""), cause)?;
    }
    if let Some(http) = http {
        write_http(f.key(b"\"http\""), http);
    }
    if let Some(aws) = aws {
        write_aws(f.key(b"\"aws\""), aws)?;
    }
    if let Some(sql) = sql {
        write_sql(f.key(b"\"sql\""), sql);
    }
    if let Some(service) = service {
        let Service { version } = service;
        let mut g = Fields::open(f.key(b"\"service\""));
        g.str(b"\"version\"", version);
        g.close();
    }
    f.str(b"\"origin\"", origin);
    f.str(b"\"user\"", user);
    f.str(b"\"resource_arn\"", resource_arn);
    if !precursor_ids.is_empty() {
        let out = f.key(b"\"precursor_ids\"");
        out.push(b'[');
        for (i, id) in precursor_ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_hex_id(out, &id.to_bytes());
        }
        out.push(b']');
    }
    if !annotations.is_empty() {
        let out = f.key(b"\"annotations\"");
        out.push(b'{');
        for (i, (k, v)) in annotations.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            match v {
                AnnotationValue::Bool(true) => out.extend_from_slice(b"true"),
                AnnotationValue::Bool(false) => out.extend_from_slice(b"false"),
                AnnotationValue::Int(n) => write_i64(out, *n),
                AnnotationValue::UInt(n) => write_u64(out, *n),
                AnnotationValue::Float(x) => write_serde(out, x)?,
                AnnotationValue::String(s) => write_str(out, s),
            }
        }
        out.push(b'}');
    }
    if !metadata.is_empty() {
        write_serde(f.key(b"\"metadata\""), &metadata)?;
    }
    if with_children && !subsegments.is_empty() {
        let out = f.key(b"\"subsegments\"");
        out.push(b'[');
        for (i, sub) in subsegments.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_document(out, sub)?;
        }
        out.push(b']');
    }
    f.close();
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::id::{EntityId, TraceId};
    use crate::model::{Cause, DocumentType, Exception, HttpRequest, HttpResponse, Namespace, Service, XraySdk};

    fn fast(doc: &SegmentDocument) -> Value {
        let mut out = Vec::new();
        write_document(&mut out, doc).unwrap();
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
    }

    #[test]
    fn strings_escape_like_serde_json() {
        let long = [
            "https://api.example.com/users/42?q=1",
            "0123456\"89abcdef",
            "01234567\\",
            "0123456789abcde\n",
            "ünïcödé, a long string with \u{1f} inside and 🎉 after",
            "\u{80}\u{ff}\u{7ff} high bytes are never escaped: ÿÿÿÿÿÿÿÿ",
        ];
        for s in ["plain", "quo\"te", "back\\slash", "new\nline\r\t", "\u{1}\u{1f}\u{7f}", "ünï 🎉", ""]
            .into_iter()
            .chain(long)
        {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap());
        }
        let mut out = Vec::new();
        write_i64(&mut out, i64::MIN);
        out.push(b' ');
        write_u64(&mut out, u64::MAX);
        assert_eq!(out, format!("{} {}", i64::MIN, u64::MAX).into_bytes());
    }

    #[test]
    fn same_json_as_serde_for_every_field() {
        let child = SegmentDocument {
            kind: Some(DocumentType::Subsegment),
            in_progress: true,
            namespace: Some(Namespace::Aws),
            ..SegmentDocument::new("child", EntityId::new(), Timestamp::from_micros(1_700_000_000_100_000))
        };
        let mut annotations = crate::model::Annotations::default();
        annotations.insert("b", true.into());
        annotations.insert("i", (-5).into());
        annotations.insert("u", u64::MAX.into());
        annotations.insert("f", 0.25.into());
        annotations.insert("s", "x\ny".into());
        let mut metadata = crate::model::Metadata::default();
        metadata.insert("default", "k", json!({"nested": [1, "two", null]}));
        let mut other = serde_json::Map::new();
        other.insert("ecs".into(), json!({"container": "c1"}));
        other.insert("quo\"ted".into(), json!(1));
        // Every field named, without `..`: a field added to the model must be added here, and
        // then shows whether the writer sends it.
        let doc = SegmentDocument {
            name: "svc \"quoted\"".into(),
            id: EntityId::new(),
            trace_id: Some(TraceId::new()),
            parent_id: Some(EntityId::new()),
            start_time: Timestamp::from_micros(1_700_000_000_000_001),
            end_time: Some(Timestamp::from_micros(1_700_000_000_500_000)),
            in_progress: false,
            kind: Some(DocumentType::Subsegment),
            namespace: Some(Namespace::Remote),
            error: true,
            fault: true,
            throttle: true,
            cause: Some(Box::new(Cause::Details(crate::model::CauseDetails {
                working_directory: Some("/srv".into()),
                paths: vec!["src/main.rs".into()],
                exceptions: vec![Exception::new("E", "m").remote(true)],
            }))),
            http: Some(Http {
                request: Some(HttpRequest {
                    method: Some("GET".into()),
                    url: Some("http://h/p".into()),
                    user_agent: Some("ua".into()),
                    client_ip: Some("1.2.3.4".into()),
                    x_forwarded_for: true,
                    traced: true,
                }),
                response: Some(HttpResponse { status: Some(503), content_length: Some(7) }),
            }),
            aws: Some(Box::new(Aws {
                xray: Some(XraySdk {
                    sdk: Some("X-Ray for Rust".into()),
                    sdk_version: Some("0.1.0".into()),
                    sampling_rule_name: Some("r1".into()),
                }),
                account_id: Some("123".into()),
                operation: Some("GetItem".into()),
                region: Some("eu-west-1".into()),
                request_id: Some("req".into()),
                other,
            })),
            sql: Some(Box::new(Sql {
                url: Some("postgres://h/db".into()),
                connection_string: Some("host=h dbname=db".into()),
                sanitized_query: Some("SELECT $1".into()),
                database_type: Some("PostgreSQL".into()),
                database_version: Some("16.1".into()),
                driver_version: Some("sqlx-0.9".into()),
                user: Some("app".into()),
                preparation: Some("statement".into()),
            })),
            service: Some(Service { version: Some("1.0".into()) }),
            origin: Some("AWS::EC2::Instance".into()),
            user: Some("u".into()),
            resource_arn: Some("arn:aws:x".into()),
            precursor_ids: vec![EntityId::new(), EntityId::new()],
            annotations,
            metadata,
            subsegments: vec![child.clone(), child],
        };
        assert_eq!(fast(&doc), serde_json::to_value(&doc).unwrap());
        let minimal = SegmentDocument::new("m", EntityId::new(), Timestamp::from_micros(0));
        assert_eq!(fast(&minimal), serde_json::to_value(&minimal).unwrap());
    }

    #[test]
    fn times_are_exact_microseconds() {
        let mut out = Vec::new();
        write_time(&mut out, Timestamp::from_micros(1_480_615_200_010_001));
        assert_eq!(out, b"1480615200.010001");
        out.clear();
        write_time(&mut out, Timestamp::from_micros(5));
        assert_eq!(out, b"0.000005");
    }
}
