use super::*;
use serde_json::json;

const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

fn segment() -> Value {
    json!({"name": "example.com", "id": "70de5b6f19ff9a0a", "start_time": 1.478293361271E9,
           "trace_id": TRACE, "end_time": 1.478293361449E9})
}

/// The segment with `field` set to `value` (or removed, for null).
fn with(field: &str, value: Value) -> Value {
    let mut doc = segment();
    let fields = doc.as_object_mut().expect("object");
    if value.is_null() {
        fields.remove(field);
    } else {
        fields.insert(field.to_owned(), value);
    }
    doc
}

fn kinds(doc: &Value) -> Vec<ProblemKind> {
    check_document(doc, doc.to_string().len()).into_iter().map(|p| p.kind).collect()
}

#[test]
fn good_documents_pass() {
    let standalone = json!({"name": "api.example.com", "id": "53995c3f42cd8ad8",
        "start_time": 1.0, "end_time": 2.0, "type": "subsegment", "trace_id": TRACE,
        "parent_id": "defdfd9912dc5a56", "namespace": "remote",
        "http": {"request": {"url": "https://api.example.com/health", "method": "POST",
                             "traced": true},
                 "response": {"status": 200, "content_length": 861}}});
    let rich = json!({"name": "www.example.com", "id": "6B55DCC497934F1A", "start_time": 1.0,
        "end_time": 2.0, "trace_id": TRACE, "origin": "AWS::EC2::Instance",
        "annotations": {"customer_category": 124, "zip_code": 98101.5, "country": "US",
                        "internal": false},
        "metadata": {"debug": {"test": [1, 2]}, "AWS.SDK": {}},
        "http": {"request": {"method": "POST", "client_ip": "78.255.233.48",
                             "x_forwarded_for": true},
                 "response": {"status": 200}},
        "subsegments": [{"name": "## UserModel.saveUser (custom)", "id": "0e58d2918e9038e8",
                         "start_time": 1.1, "end_time": 1.2,
                         "subsegments": [{"name": "DynamoDB", "id": "0f910026178b71eb",
                                          "namespace": "aws", "start_time": 1.1,
                                          "in_progress": true}]}]});
    let in_progress = with("end_time", Value::Null);
    let mut in_progress = in_progress;
    in_progress["in_progress"] = json!(true);
    for doc in [segment(), standalone, rich, in_progress] {
        assert_eq!(kinds(&doc), vec![], "{doc}");
    }
}

#[test]
fn bad_segments_are_reported() {
    use ProblemKind::*;
    let long_url = "u".repeat(251);
    let cases: Vec<(Value, Vec<ProblemKind>)> = vec![
        (with("name", Value::Null), vec![MissingField]),
        (with("id", Value::Null), vec![MissingField]),
        (with("start_time", Value::Null), vec![MissingField]),
        (with("trace_id", Value::Null), vec![MissingField]),
        (with("end_time", Value::Null), vec![NoEndTime]),
        (with("in_progress", json!(false)), vec![]),
        (with("in_progress", json!(true)), vec![InvalidField]),
        (with("in_progress", json!("yes")), vec![InvalidField]),
        (with("id", json!("70de5b6f19ff9a0")), vec![InvalidField]),
        (with("id", json!("70de5b6f19ff9a0z")), vec![InvalidField]),
        (with("id", json!(12345)), vec![InvalidField]),
        (with("parent_id", json!("abc")), vec![InvalidField]),
        (with("trace_id", json!("1-581cf771-a006649127e371903a2de97")), vec![InvalidField]),
        (with("trace_id", json!("1-abc-a006649127e371903a2de979aaaaaaaaaa")), vec![InvalidField]),
        (with("start_time", json!("1478293361")), vec![InvalidField]),
        (with("end_time", json!(1.0)), vec![EndBeforeStart]),
        (with("name", json!("")), vec![InvalidName]),
        (with("name", json!("my service!")), vec![InvalidName]),
        (with("name", json!("n".repeat(201))), vec![InvalidName]),
        (with("name", json!(42)), vec![InvalidField]),
        (with("fault", json!("true")), vec![InvalidField]),
        (with("type", json!("segment")), vec![InvalidField]),
        (with("annotations", json!({"user-id": 1})), vec![InvalidAnnotation]),
        (with("annotations", json!({"k": {"nested": 1}})), vec![InvalidAnnotation]),
        (with("annotations", json!({"k": [1]})), vec![InvalidAnnotation]),
        (with("annotations", json!({"k": null})), vec![InvalidAnnotation]),
        (with("annotations", json!({"k": "v".repeat(1001)})), vec![InvalidAnnotation]),
        (with("annotations", json!({"k": "v".repeat(1000)})), vec![]),
        (with("annotations", json!([1])), vec![InvalidField]),
        (with("metadata", json!({"default": "text"})), vec![InvalidMetadata]),
        (with("metadata", json!("text")), vec![InvalidField]),
        (with("http", json!({"request": {"url": long_url}})), vec![InvalidHttp]),
        (with("http", json!({"request": {"method": 1}})), vec![InvalidHttp]),
        (with("http", json!({"request": {"traced": "yes"}})), vec![InvalidHttp]),
        (with("http", json!({"response": {"status": "200"}})), vec![InvalidHttp]),
        (with("http", json!({"response": []})), vec![InvalidHttp]),
        (with("http", json!("GET /")), vec![InvalidHttp]),
        (with("subsegments", json!({})), vec![InvalidField]),
        (with("subsegments", json!([1])), vec![InvalidField]),
    ];
    for (doc, want) in cases {
        assert_eq!(kinds(&doc), want, "{doc}");
    }
}

#[test]
fn standalone_subsegments_need_parent_and_trace() {
    let doc = json!({"name": "api", "id": "53995c3f42cd8ad8", "start_time": 1.0,
                     "end_time": 2.0, "type": "subsegment"});
    let problems = check_document(&doc, 100);
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(problems.len(), 2, "{messages:?}");
    assert!(messages[0].contains("has no \"trace_id\""), "{messages:?}");
    assert!(messages[1].contains("has no \"parent_id\""), "{messages:?}");
}

#[test]
fn nested_subsegments_are_checked_with_their_own_rules() {
    let mut doc = segment();
    doc["subsegments"] = json!([
        // Nested names only need to be non-empty: the character rules apply to documents.
        {"name": "SELECT * (query)", "id": "53995c3f42cd8ad8", "start_time": 1.0, "end_time": 1.0},
        {"name": "", "id": "53995c3f42cd8ad9", "start_time": 1.0, "end_time": 1.0},
        {"name": "open", "id": "53995c3f42cd8ada", "start_time": 1.0},
        {"name": "deep", "id": "53995c3f42cd8adb", "start_time": 1.0, "end_time": 1.0,
         "subsegments": [{"name": "x", "start_time": 1.0, "end_time": 1.0}]},
    ]);
    let problems = check_document(&doc, 1000);
    let got: Vec<(ProblemKind, Option<&str>)> = problems.iter().map(|p| (p.kind, p.entity_id.as_deref())).collect();
    assert_eq!(
        got,
        vec![
            (ProblemKind::InvalidName, Some("53995c3f42cd8ad9")),
            (ProblemKind::NoEndTime, Some("53995c3f42cd8ada")),
            (ProblemKind::MissingField, None),
        ]
    );
    assert!(problems.iter().all(|p| p.trace_id.as_deref() == Some(TRACE)));
}

#[test]
fn size_limit_is_64000_bytes() {
    let doc = segment();
    assert!(check_document(&doc, 64_000).is_empty());
    let problems = check_document(&doc, 64_001);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].kind, ProblemKind::DocumentTooLarge);
    assert!(problems[0].message.contains("64001 bytes"));
}

#[test]
fn messages_say_what_and_how_to_fix() {
    let problems = check_document(&with("end_time", Value::Null), 100);
    let message = &problems[0].message;
    assert!(message.starts_with("segment \"example.com\" (70de5b6f19ff9a0a)"), "{message}");
    assert!(message.contains("in_progress: true"), "{message}");
    let problems = check_document(&with("end_time", json!(1.478293361E9)), 100);
    assert!(problems[0].message.contains("ms before it starts"), "{}", problems[0].message);
}

#[test]
fn parse_document_explains_failures() {
    let cases: &[(&[u8], &str)] = &[
        (b"{\"name\": ", "not valid JSON"),
        (b"{\"a\":1}\n{\"b\":2}", "more than one JSON value"),
        (b"[1, 2]", "is an array, not an object"),
        (b"\"text\"", "is a string"),
        (b"{\"name\": \"\xff\"}", "not UTF-8"),
    ];
    for (body, want) in cases {
        match parse_document(body) {
            Err(p) => {
                assert_eq!(p.kind, ProblemKind::InvalidJson);
                assert!(p.message.contains(want), "{}: {}", want, p.message);
            }
            Ok(v) => panic!("{v} parsed"),
        }
    }
}

#[test]
fn deep_nesting_is_bounded() {
    let mut doc = json!({"name": "leaf", "id": "0000000000000000", "start_time": 1.0, "end_time": 1.0});
    for _ in 0..(MAX_NESTING + 5) {
        doc = json!({"name": "n", "id": "0000000000000001", "start_time": 1.0, "end_time": 1.0,
                     "subsegments": [doc]});
    }
    doc["trace_id"] = json!(TRACE);
    let got = kinds(&doc);
    assert_eq!(got, vec![ProblemKind::BadNesting]);
}
