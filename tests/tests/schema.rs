//! This project's segment-document schema (`schema/segment-document.json`): the documents of the
//! X-Ray developer guide pass, documents that break one documented rule each fail.

use serde_json::{Value, json};
use xray_tests::{problems, project_problems};

const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

/// The guide's minimal complete segment, changed by `edit`.
fn segment(edit: impl FnOnce(&mut Value)) -> Value {
    let mut doc = json!({"name": "example.com", "id": "70de5b6f19ff9a0a", "start_time": 1.478293361271E9,
        "trace_id": TRACE, "end_time": 1.478293361449E9});
    edit(&mut doc);
    doc
}

/// A segment with one embedded subsegment, changed by `edit` (which gets the subsegment).
fn with_subsegment(edit: impl FnOnce(&mut Value)) -> Value {
    let mut sub = json!({"name": "api.example.com", "id": "53995c3f42cd8ad8", "start_time": 1.478293361300E9,
        "end_time": 1.478293361400E9, "namespace": "remote"});
    edit(&mut sub);
    segment(|d| d["subsegments"] = json!([sub]))
}

/// The guide's independent subsegment, changed by `edit`.
fn independent(edit: impl FnOnce(&mut Value)) -> Value {
    let mut doc = json!({"name": "api.example.com", "id": "53995c3f42cd8ad8", "start_time": 1.478293361271E9,
        "end_time": 1.478293361449E9, "type": "subsegment", "trace_id": TRACE, "parent_id": "defdfd9912dc5a56",
        "namespace": "remote", "http": {"request": {"url": "https://api.example.com/health", "method": "POST",
        "traced": true}, "response": {"status": 200, "content_length": 861}}});
    edit(&mut doc);
    doc
}

fn remove(doc: &mut Value, key: &str) {
    doc.as_object_mut().expect("an object").remove(key);
}

#[test]
fn accepts_valid_documents() {
    let cases: Vec<(&str, Value)> = vec![
        ("minimal complete segment", segment(|_| {})),
        (
            "in-progress segment",
            segment(|d| {
                remove(d, "end_time");
                d["in_progress"] = json!(true);
            }),
        ),
        ("in_progress false with end_time", segment(|d| d["in_progress"] = json!(false))),
        ("independent subsegment", independent(|_| {})),
        ("embedded subsegment", with_subsegment(|_| {})),
        (
            "in-progress embedded subsegment",
            with_subsegment(|s| {
                remove(s, "end_time");
                s["in_progress"] = json!(true);
            }),
        ),
        ("unicode name", segment(|d| d["name"] = json!("Ünïcödé-サービス 1.0"))),
        ("name of every allowed symbol", segment(|d| d["name"] = json!("a_.:/%&#=+-@ b"))),
        ("200-character name", segment(|d| d["name"] = json!("n".repeat(200)))),
        ("uppercase hex ids", segment(|d| d["id"] = json!("70DE5B6F19FF9A0A"))),
        (
            "annotations of each type",
            segment(|d| {
                d["annotations"] = json!({"customer_category": 124, "zip_code": 98101, "country": "United States",
                        "internal": false, "ratio": 0.5, "long": "v".repeat(1000)});
            }),
        ),
        (
            "metadata namespaces with any values",
            segment(|d| d["metadata"] = json!({"debug": {"test": "x", "n": [1, {"a": null}]}})),
        ),
        (
            "segment http with x_forwarded_for",
            segment(|d| {
                d["http"] = json!({"request": {"method": "POST", "client_ip": "78.255.233.48",
                    "url": "http://www.example.com/api/user", "user_agent": "Mozilla/5.0",
                    "x_forwarded_for": true}, "response": {"status": 200}});
            }),
        ),
        ("unknown content length", independent(|d| d["http"]["response"]["content_length"] = json!(-1))),
        (
            "aws block with plugins",
            segment(|d| {
                d["origin"] = json!("AWS::ElasticBeanstalk::Environment");
                d["aws"] = json!({"elastic_beanstalk": {"version_label": "app-5a56", "deployment_id": 32,
                    "environment_name": "scorekeep"}, "ec2": {"availability_zone": "us-west-2c",
                    "instance_id": "i-075ad396f12bc325a"}, "ecs": {"container": "c1", "task_arn": "arn:t"},
                    "cloudwatch_logs": [{"log_group": "g", "arn": "arn:aws:logs:us-west-2:012345678912:log-group:g"}],
                    "xray": {"auto_instrumentation": false, "sdk": "X-Ray for Rust", "sdk_version": "0.1.0"}});
                d["service"] = json!({"version": "1.2.3"});
                d["user"] = json!("alice");
            }),
        ),
        (
            "AWS call subsegment",
            with_subsegment(|s| {
                s["namespace"] = json!("aws");
                s["aws"] = json!({"table_name": "scorekeep-user", "operation": "UpdateItem",
                    "request_id": "UBQNSO5AEM8T4FDA4RQDEB94OVTDRVV4K4HIRGVJF66Q9ASUAAJG",
                    "resource_names": ["scorekeep-user"]});
            }),
        ),
        (
            "SQL subsegment",
            with_subsegment(|s| {
                s["sql"] = json!({"url": "postgresql://db.example.com:5432/ebdb", "preparation": "statement",
                    "database_type": "PostgreSQL", "database_version": "16.2", "driver_version": "sqlx-0.9",
                    "user": "dbuser", "sanitized_query": "SELECT * FROM customers WHERE customer_id = $1"});
            }),
        ),
        (
            "cause with exceptions",
            segment(|d| {
                d["fault"] = json!(true);
                d["cause"] = json!({"working_directory": "/srv", "paths": ["/srv/lib"], "exceptions": [
                    {"id": "0123456789abcdef", "message": "boom", "type": "Io", "remote": true, "truncated": 2,
                     "skipped": 0, "cause": "fedcba9876543210", "stack": [{"path": "src/a.rs", "line": 3,
                     "label": "main"}]}]});
            }),
        ),
        ("cause referring to an exception id", segment(|d| d["cause"] = json!("0123456789abcdef"))),
        ("precursor ids", with_subsegment(|s| s["precursor_ids"] = json!(["0123456789abcdef", "fedcba9876543210"]))),
    ];
    for (what, doc) in cases {
        let found = problems(&doc);
        assert!(found.is_empty(), "{what}: should be valid, found\n  {}\n{doc:#}", found.join("\n  "));
    }
}

#[test]
fn rejects_documents_that_break_a_rule() {
    let cases: Vec<(&str, Value)> = vec![
        ("id of 15 digits", segment(|d| d["id"] = json!("70de5b6f19ff9a0"))),
        ("id not hex", segment(|d| d["id"] = json!("70de5b6f19ff9a0z"))),
        ("id a number", segment(|d| d["id"] = json!(12345))),
        ("short time part in the trace id", segment(|d| d["trace_id"] = json!("1-abc-a006649127e371903a2de979aaaaa"))),
        ("trace id of version 2", segment(|d| d["trace_id"] = json!("2-581cf771-a006649127e371903a2de979"))),
        ("trace id with a suffix", segment(|d| d["trace_id"] = json!(format!("{TRACE}0")))),
        ("missing name", segment(|d| remove(d, "name"))),
        ("empty name", segment(|d| d["name"] = json!(""))),
        ("name with a forbidden character", segment(|d| d["name"] = json!("GET /users?id=1"))),
        ("name with a tab", segment(|d| d["name"] = json!("a\tb"))),
        ("201-character name", segment(|d| d["name"] = json!("n".repeat(201)))),
        ("missing trace_id on a segment", segment(|d| remove(d, "trace_id"))),
        ("missing start_time", segment(|d| remove(d, "start_time"))),
        ("start_time a string", segment(|d| d["start_time"] = json!("1478293361.271"))),
        ("neither end_time nor in_progress", segment(|d| remove(d, "end_time"))),
        ("both end_time and in_progress", segment(|d| d["in_progress"] = json!(true))),
        ("end_time before start_time", segment(|d| d["end_time"] = json!(1.0))),
        ("annotation value an object", segment(|d| d["annotations"] = json!({"user": {"id": 1}}))),
        ("annotation value an array", segment(|d| d["annotations"] = json!({"ids": [1, 2]}))),
        ("annotation value null", segment(|d| d["annotations"] = json!({"id": null}))),
        ("annotation key with a hyphen", segment(|d| d["annotations"] = json!({"a-b": 1}))),
        ("annotation value of 1001 characters", segment(|d| d["annotations"] = json!({"k": "v".repeat(1001)}))),
        ("annotation key of 501 characters", segment(|d| d["annotations"] = json!({"k".repeat(501): 1}))),
        ("51 annotations", segment(|d| d["annotations"] = (0..51).map(|i| (format!("k{i}"), json!(i))).collect())),
        ("metadata namespace not an object", segment(|d| d["metadata"] = json!({"default": 3}))),
        ("unknown field", segment(|d| d["end_tme"] = json!(2.0))),
        ("http status a string", segment(|d| d["http"] = json!({"response": {"status": "200"}}))),
        ("http url over 250 characters", segment(|d| d["http"] = json!({"request": {"url": "u".repeat(251)}}))),
        ("traced on a segment's request", segment(|d| d["http"] = json!({"request": {"traced": true}}))),
        ("sql on a segment", segment(|d| d["sql"] = json!({"url": "postgres://h/db"}))),
        ("cause id of 8 characters", segment(|d| d["cause"] = json!("01234567"))),
        ("exception without id", segment(|d| d["cause"] = json!({"exceptions": [{"message": "boom"}]}))),
        ("type subsegment on a segment-shaped document", segment(|d| d["type"] = json!("subsegment"))),
        ("independent subsegment without parent_id", independent(|d| remove(d, "parent_id"))),
        ("independent subsegment without trace_id", independent(|d| remove(d, "trace_id"))),
        ("independent subsegment with a bad trace id", independent(|d| d["trace_id"] = json!("1-581cf771-a0066"))),
        ("x_forwarded_for on a subsegment", independent(|d| d["http"]["request"]["x_forwarded_for"] = json!(true))),
        ("namespace other than aws or remote", independent(|d| d["namespace"] = json!("local"))),
        ("type other than subsegment", independent(|d| d["type"] = json!("segment"))),
        ("embedded subsegment with a bad id", with_subsegment(|s| s["id"] = json!("53995c3f42cd8ad"))),
        ("embedded subsegment without name", with_subsegment(|s| remove(s, "name"))),
        ("embedded subsegment never ended", with_subsegment(|s| remove(s, "end_time"))),
        ("embedded subsegment ends before it starts", with_subsegment(|s| s["end_time"] = json!(1.0))),
        ("sql preparation other than call or statement", with_subsegment(|s| s["sql"] = json!({"preparation": "x"}))),
        ("precursor id not an id", with_subsegment(|s| s["precursor_ids"] = json!(["abc"]))),
    ];
    for (what, doc) in cases {
        assert!(!project_problems(&doc).is_empty(), "{what}: should be invalid\n{doc:#}");
    }
}

#[test]
fn problems_name_the_field() {
    let found = project_problems(&segment(|d| d["id"] = json!("70de5b6f19ff9a0")));
    assert!(found.iter().any(|p| p.contains("/id")), "{found:?}");
    let found = project_problems(&segment(|d| d["end_time"] = json!(1.0)));
    assert!(found.iter().any(|p| p.contains("end_time before start_time")), "{found:?}");
}
