//! Splitting and truncation: every datagram fits, nothing identifying is cut, and the work
//! stays linear in the document's size (counted in bytes measured, never timed).

use serde_json::{Value, json};

use super::*;
use crate::id::{EntityId, TraceId};
use crate::time::Timestamp;

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
