//! Turning a finished document into daemon datagrams of at most 64,000 bytes of JSON.
//!
//! A document that fits is written once into a reused buffer. One that does not is split:
//! its embedded subsegments are kept while they fit, and the others are sent as independent
//! subsegments (`type`, `trace_id`, `parent_id`), each split again if needed. A document
//! that is too large on its own has its largest field cut, ending in [`TRUNCATION_MARKER`].

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use crate::model::{DocumentType, SegmentDocument};

/// The header line the daemon expects before each document.
pub const DAEMON_HEADER: &[u8] = b"{\"format\":\"json\",\"version\":1}\n";

/// The largest document the daemon accepts in one datagram.
pub const MAX_DOCUMENT_BYTES: usize = 64_000;

/// Appended to a string that was cut to make its document fit.
pub const TRUNCATION_MARKER: &str = "...[truncated by X-Ray for Rust]";

/// Keys of the document itself that are never cut.
const PROTECTED: [&str; 8] = ["name", "id", "trace_id", "parent_id", "start_time", "end_time", "type", "in_progress"];

/// What encoding one document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeReport {
    /// Datagrams produced.
    pub datagrams: u32,
    /// The document was split into several.
    pub split: bool,
    /// A field was cut.
    pub truncated: bool,
}

/// Serializes documents into datagrams, reusing its buffer.
///
/// ```
/// use xray_core::{Encoder, EntityId, SegmentDocument, Timestamp, TraceId};
/// let mut doc = SegmentDocument::new("svc", EntityId::new(), Timestamp::now());
/// doc.trace_id = Some(TraceId::new());
/// doc.end_time = Some(Timestamp::now());
/// let mut datagrams = Vec::new();
/// Encoder::new().encode(doc, &mut |buf: &mut Vec<u8>| datagrams.push(buf.clone())).unwrap();
/// assert!(datagrams[0].starts_with(br#"{"format":"json","version":1}"#));
/// ```
#[derive(Debug)]
pub struct Encoder {
    buf: Vec<u8>,
    max: usize,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn json_len(value: &impl Serialize) -> usize {
    let mut c = Counter(0);
    // Serializing our model into a counter cannot fail; count nothing if it somehow does.
    match serde_json::to_writer(&mut c, value) {
        Ok(()) => c.0,
        Err(_) => 0,
    }
}

/// The length of a document's JSON as the emitters write it.
fn doc_len(doc: &SegmentDocument) -> usize {
    let mut scratch = Vec::new();
    match doc.write_json(&mut scratch) {
        Ok(()) => scratch.len(),
        Err(_) => 0,
    }
}

impl Encoder {
    /// An encoder for the daemon's 64,000-byte limit.
    pub fn new() -> Self {
        Self::with_limit(MAX_DOCUMENT_BYTES)
    }

    /// An encoder with another document size limit (tests).
    pub fn with_limit(max: usize) -> Self {
        Self { buf: Vec::with_capacity(4096), max }
    }

    /// Encodes `doc` into datagrams (header line included), handing each to `out`. `out` may
    /// swap the buffer for another (empty) one to keep it without a copy.
    pub fn encode(
        &mut self,
        mut doc: SegmentDocument,
        out: &mut dyn FnMut(&mut Vec<u8>),
    ) -> Result<EncodeReport, serde_json::Error> {
        let mut report = EncodeReport::default();
        self.encode_tree(&mut doc, out, &mut report)?;
        Ok(report)
    }

    fn write(&mut self, doc: &SegmentDocument) -> Result<usize, serde_json::Error> {
        self.buf.clear();
        self.buf.extend_from_slice(DAEMON_HEADER);
        doc.write_json(&mut self.buf).map_err(serde_json::Error::io)?;
        Ok(self.buf.len() - DAEMON_HEADER.len())
    }

    fn write_value(&mut self, value: &Value) -> Result<usize, serde_json::Error> {
        self.buf.clear();
        self.buf.extend_from_slice(DAEMON_HEADER);
        serde_json::to_writer(&mut self.buf, value)?;
        Ok(self.buf.len() - DAEMON_HEADER.len())
    }

    fn encode_tree(
        &mut self,
        doc: &mut SegmentDocument,
        out: &mut dyn FnMut(&mut Vec<u8>),
        report: &mut EncodeReport,
    ) -> Result<(), serde_json::Error> {
        if self.write(doc)? <= self.max {
            report.datagrams += 1;
            out(&mut self.buf);
            return Ok(());
        }
        if doc.subsegments.is_empty() {
            report.truncated = true;
            let value = truncate_to_fit(doc, self.max)?;
            self.write_value(&value)?;
            report.datagrams += 1;
            out(&mut self.buf);
            return Ok(());
        }
        report.split = true;
        let children = std::mem::take(&mut doc.subsegments);
        // Room left for embedded children once the bare document and `"subsegments":[]` are in.
        let mut room = self.max.saturating_sub(doc_len(doc) + 17);
        let mut detached = Vec::new();
        for child in children {
            let len = doc_len(&child) + 1;
            if len <= room {
                room -= len;
                doc.subsegments.push(child);
            } else {
                detached.push(child);
            }
        }
        for mut child in detached {
            child.kind = Some(DocumentType::Subsegment);
            child.trace_id = doc.trace_id;
            child.parent_id = Some(doc.id);
            self.encode_tree(&mut child, out, report)?;
        }
        self.encode_tree(doc, out, report)
    }
}

/// Cuts the largest parts of a childless document until it fits in `max` bytes.
fn truncate_to_fit(doc: &SegmentDocument, max: usize) -> Result<Value, serde_json::Error> {
    let mut value = serde_json::to_value(doc)?;
    for _ in 0..64 {
        let len = json_len(&value);
        if len <= max {
            return Ok(value);
        }
        if !shrink(&mut value, len - max) {
            break;
        }
    }
    // Nothing single was large enough: drop the bulky optional blocks wholesale.
    if let Value::Object(map) = &mut value {
        for key in ["metadata", "annotations", "cause", "sql", "http", "aws", "precursor_ids"] {
            map.remove(key);
        }
        map.insert("metadata".to_owned(), serde_json::json!({ "xray": { "truncated": TRUNCATION_MARKER } }));
    }
    Ok(value)
}

/// Descends into the largest child while it alone can absorb `excess`, then cuts there.
fn shrink(root: &mut Value, excess: usize) -> bool {
    let need = excess + TRUNCATION_MARKER.len() + 16;
    let mut node = root;
    let mut top = true;
    loop {
        let next = match node {
            Value::Object(map) => map
                .iter()
                .filter(|(k, _)| !(top && PROTECTED.contains(&k.as_str())))
                .map(|(k, v)| (json_len(v), k.clone()))
                .max()
                .filter(|(len, _)| *len >= need)
                .map(|(_, k)| k),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (json_len(v), i))
                .max()
                .filter(|(len, _)| *len >= need)
                .map(|(_, i)| i.to_string()),
            _ => None,
        };
        let Some(key) = next else { break };
        top = false;
        let child = match node {
            Value::Object(map) => map.get_mut(&key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        match child {
            Some(child) => node = child,
            None => return false,
        }
    }
    cut(node, need)
}

fn cut(node: &mut Value, need: usize) -> bool {
    match node {
        Value::String(s) => {
            let mut keep = s.len().saturating_sub(need);
            while !s.is_char_boundary(keep) {
                keep -= 1;
            }
            s.truncate(keep);
            s.push_str(TRUNCATION_MARKER);
            true
        }
        Value::Array(items) => {
            let mut freed = 0;
            while freed < need && items.pop().map(|v| freed += json_len(&v) + 1).is_some() {}
            freed > 0
        }
        Value::Object(map) => {
            let mut freed = 0;
            while freed < need {
                let Some(key) = map.iter().map(|(k, v)| (json_len(v), k.clone())).max().map(|(_, k)| k) else {
                    break;
                };
                if let Some(v) = map.remove(&key) {
                    freed += json_len(&v) + key.len() + 4;
                }
            }
            map.insert("truncated".to_owned(), Value::String(TRUNCATION_MARKER.to_owned()));
            freed > 0
        }
        _ => false,
    }
}
