//! Checks one segment document against the schema facts and the developer guide.

use serde_json::{Map, Value};

use crate::fields::{
    MAX_ANNOTATION_VALUE_CHARS, MAX_HTTP_FIELD_CHARS, is_annotation_key, is_entity_id, is_trace_id, name_error,
};
use crate::problem::{Problem, ProblemKind, Severity};
use crate::protocol::{MAX_DOCUMENT_BYTES, shorten};
use crate::trace::{EntityKind, MAX_NESTING, json_type, label};

/// Parses a document body into JSON, or explains why it is not a document.
///
/// ```
/// use xray_local::check::parse_document;
/// assert!(parse_document(br#"{"name":"a"}"#).is_ok());
/// assert!(parse_document(b"[1, 2]").is_err());
/// ```
pub fn parse_document(body: &[u8]) -> Result<Value, Problem> {
    let invalid = |message: String| Problem::error(ProblemKind::InvalidJson, message);
    if std::str::from_utf8(body).is_err() {
        return Err(invalid("document is not UTF-8 text: SDKs send JSON encoded as UTF-8".to_owned()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(doc @ Value::Object(_)) => Ok(doc),
        Ok(other) => Err(invalid(format!(
            "document is {}, not an object: send one segment document per datagram",
            json_type(&other)
        ))),
        Err(e) if e.to_string().starts_with("trailing characters") => Err(invalid(format!(
            "document holds more than one JSON value ({e}): send exactly one document per \
             datagram, each with its own header line"
        ))),
        Err(e) => Err(invalid(format!(
            "document is not valid JSON ({e}): check the SDK's serializer or your hand-written JSON"
        ))),
    }
}

/// Checks a parsed document of `size` bytes; returns every problem found, in document order.
///
/// Covers required fields, id and trace id formats, `end_time`/`in_progress`, names,
/// annotations, metadata, the `http` block and the 64,000-byte limit, for the document and
/// every nested subsegment. Problems between documents (orphans, duplicates) are found when
/// a trace is assembled.
///
/// ```
/// use serde_json::json;
/// use xray_local::check::check_document;
///
/// let doc = json!({"name": "a", "id": "70de5b6f19ff9a0a", "start_time": 1.0,
///                  "trace_id": "1-581cf771-a006649127e371903a2de979", "end_time": 2.0});
/// assert!(check_document(&doc, 120).is_empty());
/// ```
pub fn check_document(doc: &Value, size: usize) -> Vec<Problem> {
    let trace_id = doc.get("trace_id").and_then(Value::as_str);
    let mut checker = Checker { trace_id, problems: Vec::new() };
    if size > MAX_DOCUMENT_BYTES {
        checker.push(
            Severity::Error,
            ProblemKind::DocumentTooLarge,
            doc.get("id").and_then(Value::as_str),
            format!(
                "document of {size} bytes is over the {MAX_DOCUMENT_BYTES} bytes X-Ray accepts, \
                 so X-Ray drops it: send subsegments as separate documents or trim metadata"
            ),
        );
    }
    let kind = match doc.get("type").and_then(Value::as_str) {
        Some("subsegment") => EntityKind::Subsegment,
        _ => EntityKind::Segment,
    };
    checker.entity(doc, kind, true, 0);
    checker.problems
}

struct Checker<'a> {
    trace_id: Option<&'a str>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn push(&mut self, severity: Severity, kind: ProblemKind, id: Option<&str>, message: String) {
        self.problems.push(Problem::new(severity, kind, message).in_trace(self.trace_id).about(id));
    }

    fn error(&mut self, kind: ProblemKind, id: Option<&str>, message: String) {
        self.push(Severity::Error, kind, id, message);
    }

    fn entity(&mut self, doc: &Value, kind: EntityKind, top_level: bool, depth: usize) {
        let Some(fields) = doc.as_object() else {
            let message = format!("a subsegment is {}, not an object", json_type(doc));
            return self.error(ProblemKind::InvalidField, None, message);
        };
        let id = fields.get("id").and_then(Value::as_str);
        let who = label(kind, doc);
        self.required(fields, kind, top_level, &who, id);
        self.formats(fields, top_level, &who, id);
        self.timing(fields, &who, id);
        if let Some(annotations) = fields.get("annotations") {
            self.annotations(annotations, &who, id);
        }
        if let Some(metadata) = fields.get("metadata") {
            self.metadata(metadata, &who, id);
        }
        if let Some(http) = fields.get("http") {
            self.http(http, &who, id);
        }
        match fields.get("subsegments") {
            None => {}
            Some(Value::Array(children)) if depth < MAX_NESTING => {
                for child in children {
                    self.entity(child, EntityKind::Subsegment, false, depth + 1);
                }
            }
            Some(Value::Array(_)) => self.error(
                ProblemKind::BadNesting,
                id,
                format!("{who} nests subsegments more than {MAX_NESTING} levels deep: flatten them"),
            ),
            Some(other) => self.error(
                ProblemKind::InvalidField,
                id,
                format!("{who} has \"subsegments\" as {}, not an array", json_type(other)),
            ),
        }
    }

    fn required(
        &mut self,
        fields: &Map<String, Value>,
        kind: EntityKind,
        top_level: bool,
        who: &str,
        id: Option<&str>,
    ) {
        let mut required = vec![
            ("name", "name it after the service or resource it records"),
            ("id", "give it a random id of 16 hex digits"),
            ("start_time", "set it to epoch seconds as a number"),
        ];
        if top_level {
            required.push(("trace_id", "copy the trace id of the request (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx)"));
        }
        if top_level && kind == EntityKind::Subsegment {
            required.push(("parent_id", "a subsegment sent on its own must name the id of its parent"));
        }
        for (field, fix) in required {
            if !fields.contains_key(field) {
                let message = format!("{who} has no \"{field}\": {fix}");
                self.error(ProblemKind::MissingField, id, message);
            }
        }
    }

    fn formats(&mut self, fields: &Map<String, Value>, top_level: bool, who: &str, id: Option<&str>) {
        match fields.get("name") {
            None => {}
            Some(Value::String(name)) => {
                // The schema applies the character rules to top-level documents only.
                let why = if top_level { name_error(name) } else { name.is_empty().then(|| "is empty".to_owned()) };
                if let Some(why) = why {
                    let message = format!("{who}: name {:?} {why}", shorten(name, 40));
                    self.error(ProblemKind::InvalidName, id, message);
                }
            }
            Some(other) => self.wrong_type(who, id, "name", "a string", other),
        }
        self.hex_field(fields, who, id, "id");
        self.hex_field(fields, who, id, "parent_id");
        match fields.get("trace_id") {
            Some(Value::String(t)) if is_trace_id(t) => {}
            None => {}
            Some(other) => self.error(
                ProblemKind::InvalidField,
                id,
                format!(
                    "{who} has trace_id {other} which is not 1-<8 hex digits>-<24 hex digits>: \
                     take it from the Root of the X-Amzn-Trace-Id header or generate one"
                ),
            ),
        }
        for flag in ["error", "fault", "throttle", "in_progress"] {
            match fields.get(flag) {
                None | Some(Value::Bool(_)) => {}
                Some(other) => self.wrong_type(who, id, flag, "true or false", other),
            }
        }
        if top_level {
            match fields.get("type") {
                None => {}
                Some(Value::String(t)) if t == "subsegment" => {}
                Some(other) => self.push(
                    Severity::Warning,
                    ProblemKind::InvalidField,
                    id,
                    format!(
                        "{who} has type {other}: the only type X-Ray knows is \"subsegment\", \
                         for subsegments sent on their own; leave it out for segments"
                    ),
                ),
            }
        }
    }

    fn hex_field(&mut self, fields: &Map<String, Value>, who: &str, id: Option<&str>, field: &str) {
        match fields.get(field) {
            Some(Value::String(v)) if is_entity_id(v) => {}
            None => {}
            Some(other) => self.error(
                ProblemKind::InvalidField,
                id,
                format!("{who} has {field} {other}, which is not 16 hex digits"),
            ),
        }
    }

    fn timing(&mut self, fields: &Map<String, Value>, who: &str, id: Option<&str>) {
        let start = fields.get("start_time");
        let end = fields.get("end_time");
        for (field, value) in [("start_time", start), ("end_time", end)] {
            if let Some(v) = value.filter(|v| !v.is_number()) {
                self.wrong_type(who, id, field, "a number of epoch seconds", v);
            }
        }
        let in_progress = fields.get("in_progress").and_then(Value::as_bool) == Some(true);
        match (end, in_progress) {
            (None, false) => self.error(
                ProblemKind::NoEndTime,
                id,
                format!(
                    "{who} has neither end_time nor in_progress: true: set end_time when it \
                     finishes, or send in_progress: true while it still runs"
                ),
            ),
            (Some(_), true) => self.push(
                Severity::Warning,
                ProblemKind::InvalidField,
                id,
                format!("{who} has an end_time and in_progress: true: drop in_progress once it ends"),
            ),
            _ => {}
        }
        if let (Some(s), Some(e)) = (start.and_then(Value::as_f64), end.and_then(Value::as_f64))
            && e < s
        {
            let message = format!(
                "{who} ends {:.3} ms before it starts (start_time {s}, end_time {e}): \
                 both are epoch seconds; check for milliseconds or a swapped pair",
                (s - e) * 1000.0
            );
            self.error(ProblemKind::EndBeforeStart, id, message);
        }
    }

    fn annotations(&mut self, annotations: &Value, who: &str, id: Option<&str>) {
        let Some(map) = annotations.as_object() else {
            return self.wrong_type(who, id, "annotations", "an object", annotations);
        };
        for (key, value) in map {
            if !is_annotation_key(key) {
                let message = format!(
                    "{who} has annotation key {:?}: keys are 1 to 500 ASCII letters, digits or \
                     underscores, so X-Ray rejects the document",
                    shorten(key, 40)
                );
                self.error(ProblemKind::InvalidAnnotation, id, message);
            }
            let why = match value {
                Value::String(s) if s.chars().count() > MAX_ANNOTATION_VALUE_CHARS => {
                    format!("is a string of {} characters, more than {MAX_ANNOTATION_VALUE_CHARS}", s.chars().count())
                }
                Value::String(_) | Value::Number(_) | Value::Bool(_) => continue,
                other => format!(
                    "is {}; annotations hold a string, number or boolean, structured data \
                     belongs in metadata",
                    json_type(other)
                ),
            };
            let message = format!("{who}: annotation {:?} {why}", shorten(key, 40));
            self.error(ProblemKind::InvalidAnnotation, id, message);
        }
    }

    fn metadata(&mut self, metadata: &Value, who: &str, id: Option<&str>) {
        let Some(map) = metadata.as_object() else {
            return self.wrong_type(who, id, "metadata", "an object", metadata);
        };
        for (namespace, value) in map.iter().filter(|(_, v)| !v.is_object()) {
            let message = format!(
                "{who}: metadata {:?} holds {}: metadata is grouped by namespace, each an \
                 object, e.g. \"metadata\": {{\"default\": {{\"key\": value}}}}",
                shorten(namespace, 40),
                json_type(value)
            );
            self.error(ProblemKind::InvalidMetadata, id, message);
        }
    }

    fn http(&mut self, http: &Value, who: &str, id: Option<&str>) {
        for message in http_problems(http) {
            self.error(ProblemKind::InvalidHttp, id, format!("{who}: {message}"));
        }
    }

    fn wrong_type(&mut self, who: &str, id: Option<&str>, field: &str, want: &str, got: &Value) {
        let message = format!("{who}: {field} is {}, it must be {want}", json_type(got));
        self.error(ProblemKind::InvalidField, id, message);
    }
}

/// What is wrong with an `http` block, one message per field.
fn http_problems(http: &Value) -> Vec<String> {
    let wrong = |path: &str, want: &str, got: &Value| format!("http{path} is {}, it must be {want}", json_type(got));
    let Some(http) = http.as_object() else {
        return vec![wrong("", "an object", http)];
    };
    let mut found = Vec::new();
    match http.get("request") {
        None => {}
        Some(Value::Object(request)) => {
            for (field, value) in request {
                let path = format!(".request.{field}");
                match (field.as_str(), value) {
                    ("method" | "url" | "user_agent" | "client_ip", Value::String(text)) => {
                        let chars = text.chars().count();
                        if chars > MAX_HTTP_FIELD_CHARS {
                            found.push(format!(
                                "http{path} is {chars} characters, more than the {MAX_HTTP_FIELD_CHARS} \
                                 X-Ray accepts: shorten it"
                            ));
                        }
                    }
                    ("method" | "url" | "user_agent" | "client_ip", other) => {
                        found.push(wrong(&path, "a string", other));
                    }
                    ("x_forwarded_for" | "traced", other) if !other.is_boolean() => {
                        found.push(wrong(&path, "true or false", other));
                    }
                    _ => {}
                }
            }
        }
        Some(other) => found.push(wrong(".request", "an object", other)),
    }
    match http.get("response") {
        None => {}
        Some(Value::Object(response)) => {
            for field in ["status", "content_length"] {
                if let Some(v) = response.get(field).filter(|v| !v.is_number()) {
                    found.push(wrong(&format!(".response.{field}"), "a number", v));
                }
            }
        }
        Some(other) => found.push(wrong(".response", "an object", other)),
    }
    found
}

#[cfg(test)]
mod tests {
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
}
