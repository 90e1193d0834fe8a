//! Turning a finished document into daemon datagrams of at most 64,000 bytes of JSON.
//!
//! A document that fits is written once into a reused buffer. One that does not is split:
//! its embedded subsegments are kept while they fit, and the others are sent as independent
//! subsegments (`type`, `trace_id`, `parent_id`), each split again if needed. A document
//! that is too large on its own has its largest field cut, ending in [`TRUNCATION_MARKER`].

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use super::json;
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
/// use xray_core::emit::Encoder;
/// use xray_core::integration::{SegmentDocument, Timestamp};
/// use xray_core::{EntityId, TraceId};
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

#[cfg(test)]
thread_local! {
    /// Bytes measured or serialized for measuring on this thread (tests check the work is linear).
    static MEASURED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
fn count_measured(bytes: usize) {
    MEASURED.with(|m| m.set(m.get() + bytes));
}

#[cfg(not(test))]
fn count_measured(_bytes: usize) {}

/// The JSON length of a string: its bytes and quotes when nothing in it needs escaping (the
/// common case, counted without going through the serializer), else as serialized.
fn str_json_len(s: &str) -> usize {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        count_measured(s.len() + 2);
        s.len() + 2
    } else {
        json_len(&s)
    }
}

fn json_len(value: &impl Serialize) -> usize {
    let mut c = Counter(0);
    // Serializing our model into a counter cannot fail; count nothing if it somehow does.
    let len = match serde_json::to_writer(&mut c, value) {
        Ok(()) => c.0,
        Err(_) => 0,
    };
    count_measured(len);
    len
}

/// Sizes of a document tree as the emitters write it, measured once per node, so that
/// splitting a large tree costs time linear in its size.
#[derive(Debug)]
struct Sizes {
    /// The document without its embedded subsegments.
    own: usize,
    /// The whole document.
    total: usize,
    /// The embedded subsegments', in order.
    children: Vec<Sizes>,
}

/// `,"subsegments":[` and `]` around the children, and a comma between two of them.
fn with_children(own: usize, children: &[Sizes]) -> usize {
    if children.is_empty() {
        return own;
    }
    own + 16 + children.iter().map(|c| c.total).sum::<usize>() + children.len()
}

/// The length of `doc`'s JSON without its embedded subsegments.
fn own_len(doc: &SegmentDocument, scratch: &mut Vec<u8>) -> Result<usize, serde_json::Error> {
    scratch.clear();
    json::write_document_shallow(scratch, doc).map_err(serde_json::Error::io)?;
    count_measured(scratch.len());
    Ok(scratch.len())
}

fn measure(doc: &SegmentDocument, scratch: &mut Vec<u8>) -> Result<Sizes, serde_json::Error> {
    let own = own_len(doc, scratch)?;
    let children = doc.subsegments.iter().map(|c| measure(c, scratch)).collect::<Result<Vec<_>, _>>()?;
    Ok(Sizes { own, total: with_children(own, &children), children })
}

/// Above this capacity the encoder's buffer is given back after a document: the memory an
/// oversized document needed is not kept for the small ones that follow.
const KEEP_CAPACITY: usize = 128 << 10;

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
    ///
    /// A document that fits is written once. One that does not is measured once, node by
    /// node, and split and cut from those sizes: the work stays linear in the document's size.
    pub fn encode(
        &mut self,
        mut doc: SegmentDocument,
        out: &mut dyn FnMut(&mut Vec<u8>),
    ) -> Result<EncodeReport, serde_json::Error> {
        let mut report = EncodeReport::default();
        if self.write(&doc)? <= self.max {
            report.datagrams = 1;
            out(&mut self.buf);
            return Ok(report);
        }
        let sizes = if doc.subsegments.is_empty() {
            // Nothing to split: the one write measured it.
            let total = self.buf.len() - DAEMON_HEADER.len();
            Sizes { own: total, total, children: Vec::new() }
        } else {
            measure(&doc, &mut Vec::new())?
        };
        let result = self.encode_sized(&mut doc, sizes, out, &mut report);
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::with_capacity(4096);
        }
        result.map(|()| report)
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

    /// Encodes `doc`, whose sizes are `sizes`, splitting and cutting as needed.
    fn encode_sized(
        &mut self,
        doc: &mut SegmentDocument,
        sizes: Sizes,
        out: &mut dyn FnMut(&mut Vec<u8>),
        report: &mut EncodeReport,
    ) -> Result<(), serde_json::Error> {
        if sizes.total <= self.max {
            let len = self.write(doc)?;
            debug_assert_eq!(len, sizes.total, "measured and written sizes agree");
            if len <= self.max {
                report.datagrams += 1;
                out(&mut self.buf);
                return Ok(());
            }
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
        let mut room = self.max.saturating_sub(sizes.own + 17);
        let mut kept = Vec::new();
        let mut detached = Vec::new();
        for (child, child_sizes) in children.into_iter().zip(sizes.children) {
            let len = child_sizes.total + 1;
            if len <= room {
                room -= len;
                doc.subsegments.push(child);
                kept.push(child_sizes);
            } else {
                detached.push((child, child_sizes));
            }
        }
        let mut scratch = Vec::new();
        for (mut child, mut child_sizes) in detached {
            child.kind = Some(DocumentType::Subsegment);
            child.trace_id = doc.trace_id;
            child.parent_id = Some(doc.id);
            // Only the fields just set changed: the child's own part is measured again, not its tree.
            child_sizes.own = own_len(&child, &mut scratch)?;
            child_sizes.total = with_children(child_sizes.own, &child_sizes.children);
            self.encode_sized(&mut child, child_sizes, out, report)?;
        }
        let total = with_children(sizes.own, &kept);
        self.encode_sized(doc, Sizes { own: sizes.own, total, children: kept }, out, report)
    }
}

/// Cuts the largest parts of a childless document until it fits in `max` bytes.
///
/// Every round measures the whole value once ([`measure_value`]) and cuts at one place from
/// those sizes, so a round is linear in the document's size; one round almost always does.
fn truncate_to_fit(doc: &mut SegmentDocument, max: usize) -> Result<Value, serde_json::Error> {
    // The metadata, where the bulk of an oversized childless document usually is, moves into the
    // value as it is; only the rest of the document is converted.
    let metadata = std::mem::take(&mut doc.metadata);
    let mut value = serde_json::to_value(&*doc)?;
    if !metadata.is_empty()
        && let Value::Object(map) = &mut value
    {
        map.insert("metadata".to_owned(), metadata.into_value());
    }
    let mut sizes = Vec::new();
    for _ in 0..4 {
        sizes.clear();
        let len = measure_value(&value, &mut sizes);
        if len <= max {
            return Ok(value);
        }
        if !shrink(&mut value, &sizes, len - max) {
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

/// The JSON length of `value`, pushing `(length, nodes)` for it and each node below it in
/// pre-order: a node's first child follows it, and its next sibling comes `nodes` later.
fn measure_value(value: &Value, sizes: &mut Vec<(usize, usize)>) -> usize {
    let at = sizes.len();
    sizes.push((0, 1));
    let len = match value {
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(|v| measure_value(v, sizes)).sum::<usize>()
        }
        Value::Object(map) => {
            let entries: usize = map.iter().map(|(k, v)| str_json_len(k) + 1 + measure_value(v, sizes)).sum();
            2 + map.len().saturating_sub(1) + entries
        }
        Value::String(text) => str_json_len(text),
        scalar => json_len(scalar),
    };
    sizes[at] = (len, sizes.len() - at);
    len
}

/// The table positions of the children of the node at `at`.
fn child_positions(sizes: &[(usize, usize)], at: usize) -> impl Iterator<Item = usize> + '_ {
    let end = at + sizes[at].1;
    let mut next = at + 1;
    std::iter::from_fn(move || {
        let here = next;
        (here < end).then(|| {
            next += sizes[here].1;
            here
        })
    })
}

/// Descends into the largest child while it alone can absorb `excess`, then cuts there.
/// The document object itself is never cut (its identifying fields must stay).
fn shrink(root: &mut Value, sizes: &[(usize, usize)], excess: usize) -> bool {
    let need = excess + TRUNCATION_MARKER.len() + 16;
    let mut node = root;
    let mut at = 0;
    let mut top = true;
    loop {
        // The largest child (by its value's length) that can absorb `need`: (length, index, position).
        let mut best: Option<(usize, usize, usize)> = None;
        let mut consider = |len: usize, index: usize, pos: usize| {
            if len >= need && best.is_none_or(|(l, _, _)| len > l) {
                best = Some((len, index, pos));
            }
        };
        match &*node {
            Value::Object(map) => {
                for (index, ((key, _), pos)) in map.iter().zip(child_positions(sizes, at)).enumerate() {
                    if !(top && PROTECTED.contains(&key.as_str())) {
                        consider(sizes[pos].0, index, pos);
                    }
                }
            }
            Value::Array(_) => {
                for (index, pos) in child_positions(sizes, at).enumerate() {
                    consider(sizes[pos].0, index, pos);
                }
            }
            _ => {}
        }
        let Some((_, index, pos)) = best else { break };
        let child = match node {
            Value::Object(map) => map.values_mut().nth(index),
            Value::Array(items) => items.get_mut(index),
            _ => None,
        };
        match child {
            Some(child) => node = child,
            None => return false,
        }
        top = false;
        at = pos;
    }
    !top && cut(node, sizes, at, need)
}

/// Frees at least `need` bytes from the node at table position `at`: the end of a string,
/// the last items of an array, the largest entries of an object (replaced by a marker).
fn cut(node: &mut Value, sizes: &[(usize, usize)], at: usize, need: usize) -> bool {
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
            let lens: Vec<usize> = child_positions(sizes, at).map(|pos| sizes[pos].0).collect();
            let mut freed = 0;
            while freed < need && items.pop().is_some() {
                freed += lens.get(items.len()).copied().unwrap_or(0) + 1;
            }
            freed > 0
        }
        Value::Object(map) => {
            // Each entry's length with its key and comma, largest first: one sort, not a scan per removal.
            let mut entries: Vec<(usize, usize)> = map
                .keys()
                .zip(child_positions(sizes, at))
                .enumerate()
                .map(|(index, (key, pos))| (json_len(key) + 2 + sizes[pos].0, index))
                .collect();
            entries.sort_unstable_by(|a, b| b.cmp(a));
            let mut freed = 0;
            let mut remove = Vec::new();
            for (len, index) in entries {
                if freed >= need {
                    break;
                }
                freed += len;
                remove.push(index);
            }
            remove.sort_unstable();
            let doomed: Vec<String> = {
                let mut wanted = remove.iter().copied().peekable();
                map.keys()
                    .enumerate()
                    .filter(|(index, _)| wanted.next_if_eq(index).is_some())
                    .map(|(_, key)| key.clone())
                    .collect()
            };
            for key in &doomed {
                map.remove(key);
            }
            map.insert("truncated".to_owned(), Value::String(TRUNCATION_MARKER.to_owned()));
            freed > 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    //! Splitting and truncation: every datagram fits, nothing identifying is cut, and the work
    //! stays linear in the document's size (counted in bytes measured, never timed).

    use serde_json::{Value, json};

    use super::*;
    use crate::id::{EntityId, TraceId};
    use crate::time::Timestamp;

    #[test]
    fn string_lengths_match_the_serializer() {
        for s in ["", "plain", "ünïcödé ✓", "quote\"d", "back\\slash", "tab\there", "\u{1}", "nul\u{0}x"] {
            assert_eq!(str_json_len(s), serde_json::to_string(s).unwrap().len(), "{s:?}");
        }
    }

    fn doc(name: &str) -> SegmentDocument {
        let mut d = SegmentDocument::new(name, EntityId::new(), Timestamp::from_micros(1_700_000_000_000_000));
        d.trace_id = Some(TraceId::new());
        d.end_time = Some(Timestamp::from_micros(1_700_000_000_500_000));
        d
    }

    /// Encodes `d`; the documents of the datagrams, each checked against the limit.
    fn encode(d: SegmentDocument, max: usize) -> (Vec<Value>, EncodeReport) {
        let mut got = Vec::new();
        let report = Encoder::with_limit(max)
            .encode(d, &mut |buf: &mut Vec<u8>| {
                assert!(buf.starts_with(DAEMON_HEADER));
                let body = &buf[DAEMON_HEADER.len()..];
                assert!(body.len() <= max, "{} bytes over {max}", body.len());
                got.push(serde_json::from_slice(body).unwrap());
            })
            .unwrap();
        (got, report)
    }

    fn measured() -> usize {
        MEASURED.with(std::cell::Cell::get)
    }

    /// A document with `keys` metadata keys in one namespace, each with a `len`-byte value.
    fn many_keys(keys: usize, len: usize) -> SegmentDocument {
        let mut d = doc("wide-metadata");
        for i in 0..keys {
            d.metadata.insert("default", &format!("key-{i:06}"), json!("v".repeat(len)));
        }
        d
    }

    #[test]
    fn measured_sizes_are_the_written_sizes() {
        let mut root = doc("root \"quoted\"\n");
        root.annotations.insert("a", "x\ty".into());
        for i in 0..5 {
            let mut child = doc(&format!("child-{i}"));
            child.trace_id = None;
            child.metadata.insert("ns", "k", json!({"deep": ["é", 1, null, {"q": "\u{1}"}]}));
            child.subsegments.push(doc("grandchild"));
            root.subsegments.push(child);
        }
        let mut scratch = Vec::new();
        let sizes = measure(&root, &mut scratch).unwrap();
        let mut written = Vec::new();
        root.write_json(&mut written).unwrap();
        assert_eq!(sizes.total, written.len());
        let value = serde_json::to_value(&root).unwrap();
        let mut table = Vec::new();
        assert_eq!(measure_value(&value, &mut table), serde_json::to_vec(&value).unwrap().len());
        assert_eq!(table[0].1, table.len(), "the root spans the whole table");
    }

    #[test]
    fn twenty_thousand_metadata_keys_are_cut_in_linear_work() {
        // About 1 MB of metadata in 20,000 small entries: no single entry can absorb the excess.
        let d = many_keys(20_000, 30);
        let mut size = Vec::new();
        d.write_json(&mut size).unwrap();
        assert!(size.len() > 900_000, "{}", size.len());
        let before = measured();
        let (docs, report) = encode(d.clone(), MAX_DOCUMENT_BYTES);
        let work = measured() - before;
        assert!(report.truncated && !report.split);
        assert_eq!(docs.len(), 1);
        // The old cut re-serialized every remaining entry for each one it removed: billions of bytes.
        assert!(work <= 4 * size.len(), "measured {work} bytes for a {}-byte document", size.len());
        let got = &docs[0];
        assert_eq!(got["id"], d.id.to_string());
        assert_eq!(got["trace_id"], d.trace_id.unwrap().to_string());
        let kept = got["metadata"]["default"].as_object().unwrap();
        assert_eq!(kept["truncated"], TRUNCATION_MARKER);
        assert!(kept.len() > 1_000, "only what had to go went: {} entries kept", kept.len());
    }

    #[test]
    fn a_long_array_and_a_long_string_are_cut_where_they_are() {
        let mut d = doc("array");
        d.metadata.insert("default", "items", Value::Array((0..50_000).map(|i| json!(i)).collect()));
        let (docs, report) = encode(d, 20_000);
        assert!(report.truncated);
        let items = docs[0]["metadata"]["default"]["items"].as_array().unwrap();
        assert!(items.len() > 1_000 && items.len() < 50_000, "{}", items.len());
        assert_eq!(items[0], 0, "the array keeps its beginning");

        let mut d = doc("string");
        d.metadata.insert("default", "s", json!("é".repeat(30_000)));
        let (docs, _) = encode(d, 20_000);
        let s = docs[0]["metadata"]["default"]["s"].as_str().unwrap();
        assert!(s.ends_with(TRUNCATION_MARKER) && s.starts_with('é'));
    }

    #[test]
    fn a_document_made_only_of_small_blocks_loses_them_wholesale() {
        // Several blocks of about 300 bytes and a limit of 600: no single block can absorb the
        // excess, and the document object itself is never cut.
        let mut d = doc("blocks");
        d.annotations.insert("a", "x".repeat(300).into());
        d.metadata.insert("default", "m", json!("y".repeat(300)));
        d.user = Some("u".repeat(150));
        let (docs, report) = encode(d.clone(), 600);
        assert!(report.truncated);
        assert_eq!(docs[0]["name"], "blocks");
        assert_eq!(docs[0]["id"], d.id.to_string());
        assert_eq!(docs[0]["metadata"]["xray"]["truncated"], TRUNCATION_MARKER);
        assert!(docs[0].get("annotations").is_none());
    }

    #[test]
    fn three_thousand_subsegments_split_in_linear_work() {
        let mut root = doc("many-subsegments");
        for i in 0..3_000 {
            let mut child = doc(&format!("step-{i}"));
            child.trace_id = None;
            child.metadata.insert("default", "detail", json!("z".repeat(300)));
            root.subsegments.push(child);
        }
        let mut size = Vec::new();
        root.write_json(&mut size).unwrap();
        let before = measured();
        let (docs, report) = encode(root.clone(), MAX_DOCUMENT_BYTES);
        let work = measured() - before;
        assert!(report.split && !report.truncated);
        // Measured once, and each detached subsegment's own part again (with its new fields).
        assert!(work <= 3 * size.len(), "measured {work} bytes for a {}-byte document", size.len());
        let embedded: usize = docs.iter().map(|d| d["subsegments"].as_array().map_or(0, Vec::len)).sum();
        assert_eq!(embedded + docs.len(), 3_001, "every entity arrives once");
    }

    #[test]
    fn a_deep_chain_splits_in_linear_work() {
        // 1,000 nested subsegments: the old split wrote each level's whole subtree again. Each
        // datagram holds about 40 levels, 80 deep in JSON (serde_json parses 128 at most).
        fn chain() -> (usize, EncodeReport, usize) {
            let mut leaf = doc("level-1000");
            for level in (0..=1_000).rev() {
                let mut parent = doc(&format!("level-{level}"));
                parent.trace_id = None;
                parent.metadata.insert("default", "detail", json!("z".repeat(1_500)));
                if level < 1_000 {
                    parent.subsegments.push(leaf);
                }
                leaf = parent;
            }
            leaf.trace_id = Some(TraceId::new());
            let mut size = Vec::new();
            leaf.write_json(&mut size).unwrap();
            let before = measured();
            let (docs, report) = encode(leaf, MAX_DOCUMENT_BYTES);
            let work = measured() - before;
            assert!(work <= 3 * size.len(), "measured {work} bytes for a {}-byte document", size.len());
            fn count(v: &Value) -> usize {
                1 + v["subsegments"].as_array().map_or(0, |s| s.iter().map(count).sum())
            }
            (docs.iter().map(count).sum(), report, docs.len())
        }
        let (entities, report, datagrams) =
            std::thread::Builder::new().stack_size(256 << 20).spawn(chain).unwrap().join().unwrap();
        assert!(report.split && datagrams > 5);
        assert_eq!(entities, 1_001);
    }

    #[test]
    fn the_encoders_buffer_shrinks_after_an_oversized_document() {
        let mut enc = Encoder::new();
        enc.encode(many_keys(20_000, 30), &mut |_| {}).unwrap();
        assert!(enc.buf.capacity() <= KEEP_CAPACITY, "{}", enc.buf.capacity());
    }
}
