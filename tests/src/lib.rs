//! Shared test support for the workspace: validation of segment documents against AWS's
//! published schema (from `../shared/xray-schema/`) plus the checks the schema leaves out, and a
//! fake X-Ray daemon that records the real UDP datagrams it receives.

use std::sync::OnceLock;

use serde_json::Value;

mod daemon;

pub use daemon::{Datagram, FakeDaemon};

/// Where the schema lives, relative to this package.
const SCHEMA_PATH: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/xray-schema/xray-segmentdocument-schema-v1.0.0.json");

fn load(subsegment: bool) -> jsonschema::Validator {
    let text = std::fs::read_to_string(SCHEMA_PATH)
        .unwrap_or_else(|e| panic!("the X-Ray schema must be at {SCHEMA_PATH} (../shared beside the repo): {e}"));
    let mut schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    if subsegment {
        // Validate against the schema's own subsegment definition, keeping the definitions
        // it refers to.
        let definitions = schema["definitions"].clone();
        schema = definitions["subsegment"].clone();
        schema["definitions"] = definitions;
        schema["$schema"] = Value::String("http://json-schema.org/draft-04/schema#".into());
    }
    jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(&schema).expect("the schema compiles")
}

fn segment_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| load(false))
}

fn subsegment_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| load(true))
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_ids_and_times(doc: &Value, top: bool, problems: &mut Vec<String>) {
    let id = doc["id"].as_str().unwrap_or("");
    if id.len() != 16 || !is_hex(id) {
        problems.push(format!("id {id:?} is not 16 hex digits"));
    }
    if top {
        let trace = doc["trace_id"].as_str().unwrap_or("");
        let parts: Vec<&str> = trace.split('-').collect();
        let ok = parts.len() == 3
            && parts[0] == "1"
            && parts[1].len() == 8
            && is_hex(parts[1])
            && parts[2].len() == 24
            && is_hex(parts[2]);
        if !ok {
            problems.push(format!("trace_id {trace:?} is not 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx"));
        }
    }
    let in_progress = doc["in_progress"].as_bool().unwrap_or(false);
    match (doc.get("end_time"), in_progress) {
        (None, false) => problems.push(format!("{id}: neither end_time nor in_progress")),
        (Some(_), true) => problems.push(format!("{id}: both end_time and in_progress")),
        (Some(end), false) => {
            if end.as_f64() < doc["start_time"].as_f64() {
                problems.push(format!("{id}: end_time before start_time"));
            }
        }
        (None, true) => {}
    }
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        check_ids_and_times(sub, false, problems);
    }
}

/// The problems of one document as X-Ray would receive it: schema violations (an independent
/// subsegment is checked against both the top-level and the subsegment schema) plus the rules
/// the schema leaves out (trace id format, ids, end_time or in_progress).
pub fn problems(doc: &Value) -> Vec<String> {
    let mut problems: Vec<String> =
        segment_validator().iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
    if doc["type"] == "subsegment" {
        problems.extend(subsegment_validator().iter_errors(doc).map(|e| format!("subsegment schema: {e}")));
        if doc.get("parent_id").is_none() {
            problems.push("independent subsegment without parent_id".into());
        }
    }
    check_ids_and_times(doc, true, &mut problems);
    problems
}

/// Panics with every problem found when `doc` is not a valid segment document.
pub fn assert_valid(doc: &Value) {
    let found = problems(doc);
    assert!(found.is_empty(), "invalid segment document:\n  {}\n{doc:#}", found.join("\n  "));
}

/// Replaces ids and times with placeholders so documents compare with fixtures.
pub fn mask(doc: &Value) -> Value {
    match doc {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let masked = match k.as_str() {
                        "id" | "parent_id" | "trace_id" | "cause" if v.is_string() => Value::String(format!("<{k}>")),
                        "start_time" | "end_time" => Value::String(format!("<{k}>")),
                        "working_directory" | "sdk_version" => Value::String(format!("<{k}>")),
                        _ => mask(v),
                    };
                    (k.clone(), masked)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_the_guide_example_and_rejects_broken_documents() {
        let good = json!({"name":"example.com","id":"70de5b6f19ff9a0a","start_time":1.478293361271E9,
            "trace_id":"1-581cf771-a006649127e371903a2de979","end_time":1.478293361449E9});
        assert_valid(&good);
        let cases = [
            json!({"name":"x","id":"70de5b6f19ff9a0a","start_time":1.0,"trace_id":"1-abc-a006649127e371903a2de979aaaaaaaaa","end_time":2.0}),
            json!({"name":"x","id":"70de5b6f19ff9a0","start_time":1.0,"trace_id":"1-581cf771-a006649127e371903a2de979","end_time":2.0}),
            json!({"name":"x","id":"70de5b6f19ff9a0a","start_time":1.0,"trace_id":"1-581cf771-a006649127e371903a2de979"}),
            json!({"name":"x","id":"70de5b6f19ff9a0a","start_time":1.0,"trace_id":"1-581cf771-a006649127e371903a2de979","end_time":2.0,"annotations":{"a-b":1}}),
            json!({"name":"x","id":"70de5b6f19ff9a0a","start_time":1.0,"trace_id":"1-581cf771-a006649127e371903a2de979","end_time":2.0,"metadata":{"default":3}}),
            json!({"name":"x","id":"70de5b6f19ff9a0a","start_time":1.0,"trace_id":"1-581cf771-a006649127e371903a2de979","end_time":2.0,"type":"subsegment"}),
        ];
        for doc in cases {
            assert!(!problems(&doc).is_empty(), "should be invalid: {doc}");
        }
    }
}
