//! Shared test support for the workspace: validation of segment documents, and a fake X-Ray
//! daemon that records the real UDP datagrams it receives.
//!
//! Documents are always checked against this project's own schema, `schema/segment-document.json`
//! (written from the X-Ray developer guide's description of segment documents), plus the one rule
//! a schema cannot state (`end_time` not before `start_time`). When AWS's published schema sits
//! beside the repository (`../shared/xray-schema/`, as in CI), documents are checked against it
//! too; without it that extra check is skipped.

use std::sync::OnceLock;

use serde_json::Value;

mod daemon;

pub use daemon::{Datagram, FakeDaemon};

/// This project's schema for segment documents, compiled into the test support.
pub const SCHEMA: &str = include_str!("../schema/segment-document.json");

/// Where AWS's published schema is looked for: `../shared/xray-schema/` beside the repository.
const AWS_SCHEMA_PATH: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/xray-schema/xray-segmentdocument-schema-v1.0.0.json");

fn project_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(SCHEMA).expect("schema/segment-document.json is JSON");
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .expect("schema/segment-document.json compiles")
    })
}

/// AWS's schema for segments and its subsegment definition, when the file is there.
struct AwsValidators {
    segment: jsonschema::Validator,
    subsegment: jsonschema::Validator,
}

fn load_aws(text: &str) -> AwsValidators {
    let schema: Value = serde_json::from_str(text).expect("AWS's schema is JSON");
    let build = |schema: &Value| {
        jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(schema).expect("AWS's schema compiles")
    };
    // AWS's top level never applies its own subsegment definition to an independently sent
    // subsegment: validate such documents against that definition too, keeping the
    // definitions it refers to.
    let definitions = schema["definitions"].clone();
    let mut subsegment = definitions["subsegment"].clone();
    subsegment["definitions"] = definitions;
    subsegment["$schema"] = Value::String("http://json-schema.org/draft-04/schema#".into());
    AwsValidators { segment: build(&schema), subsegment: build(&subsegment) }
}

fn aws_validators() -> Option<&'static AwsValidators> {
    static V: OnceLock<Option<AwsValidators>> = OnceLock::new();
    V.get_or_init(|| std::fs::read_to_string(AWS_SCHEMA_PATH).ok().map(|text| load_aws(&text))).as_ref()
}

/// Whether AWS's published schema was found beside the repository (and is checked as well).
pub fn aws_schema_available() -> bool {
    aws_validators().is_some()
}

fn check_times(doc: &Value, problems: &mut Vec<String>) {
    if let (Some(start), Some(end)) = (doc["start_time"].as_f64(), doc["end_time"].as_f64())
        && end < start
    {
        problems.push(format!("{}: end_time before start_time", doc["id"]));
    }
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        check_times(sub, problems);
    }
}

/// The problems this project's schema finds in one document, plus an `end_time` before its
/// `start_time` anywhere in the tree (AWS's schema is not consulted).
pub fn project_problems(doc: &Value) -> Vec<String> {
    let mut problems: Vec<String> =
        project_validator().iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
    check_times(doc, &mut problems);
    problems
}

/// The problems of one document as X-Ray would receive it: [`project_problems`], and when
/// AWS's schema is beside the repository, its violations too (an independent subsegment is
/// checked against both its top level and its subsegment definition).
pub fn problems(doc: &Value) -> Vec<String> {
    let mut problems = project_problems(doc);
    if let Some(aws) = aws_validators() {
        problems.extend(aws.segment.iter_errors(doc).map(|e| format!("AWS schema: {e} at {}", e.instance_path())));
        if doc["type"] == "subsegment" {
            problems.extend(
                aws.subsegment.iter_errors(doc).map(|e| format!("AWS subsegment schema: {e} at {}", e.instance_path())),
            );
        }
    }
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
