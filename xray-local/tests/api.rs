//! The HTTP side of xray-local through real HTTP requests: the X-Ray query API, the sampling
//! proxy (also against this SDK's centralized sampler), the console's endpoints, the store's
//! caps, `--load` replays and the JSON-lines file.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use serde_json::{Value, json};
use xray_local::LocalDaemon;

const WAIT: Duration = Duration::from_secs(10);
const HEADER: &str = r#"{"format":"json","version":1}"#;

/// A trace id whose epoch is `secs`.
fn trace_id(secs: u32, n: u32) -> String {
    format!("1-{secs:08x}-{n:024x}")
}

fn send(addr: SocketAddr, docs: &[Value]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for doc in docs {
        socket.send_to(format!("{HEADER}\n{doc}").as_bytes(), addr).unwrap();
    }
}

async fn daemon() -> LocalDaemon {
    LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_quiet_period(Duration::from_millis(50))
        .start()
        .await
        .unwrap()
}

/// A response: status, the error type header, and the body as JSON.
struct Answer {
    status: u16,
    error_type: Option<String>,
    body: Value,
}

async fn call(daemon: &LocalDaemon, method: &str, path: &str, body: &str) -> Answer {
    let url = format!("{}{}", daemon.http_url().expect("http on").trim_end_matches('/'), path);
    let client = reqwest::Client::new();
    let request = match method {
        "GET" => client.get(&url),
        "PUT" => client.put(&url).body(body.to_owned()),
        _ => client.post(&url).header("content-type", "application/json").body(body.to_owned()),
    };
    let response = request.timeout(WAIT).send().await.expect("request");
    let status = response.status().as_u16();
    let error_type = (response.headers().get("x-amzn-errortype")).map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, error_type, body }
}

async fn post(daemon: &LocalDaemon, path: &str, body: Value) -> Value {
    let answer = call(daemon, "POST", path, &body.to_string()).await;
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    answer.body
}

/// Three services: `web` (entry, HTTP) calls `api` (traced) which calls `db` (remote), with
/// one subsegment of `api` streamed on its own, and annotations on both services.
fn shop_trace(id: &str, user: i64, status: u16) -> Vec<Value> {
    let t = 1_700_000_000.0;
    let web = json!({
        "name": "web", "id": "a000000000000001", "trace_id": id, "start_time": t, "end_time": t + 0.3,
        "fault": status >= 500, "error": (400..500).contains(&status), "throttle": status == 429,
        "annotations": {"userId": user},
        "http": {"request": {"method": "GET", "url": "http://shop.local/cart", "user_agent": "curl/8",
                             "client_ip": "10.0.0.9"},
                 "response": {"status": status}},
        "subsegments": [{"name": "api", "id": "a000000000000002", "namespace": "remote",
                         "start_time": t + 0.01, "end_time": t + 0.29,
                         "http": {"request": {"method": "POST", "url": "http://api.local/price", "traced": true}}}]
    });
    let api = json!({
        "name": "api", "id": "b000000000000001", "trace_id": id, "parent_id": "a000000000000002",
        "start_time": t + 0.02, "end_time": t + 0.28, "annotations": {"tier": "gold"}, "user": "ann",
        "subsegments": [{"name": "db", "id": "b000000000000002", "namespace": "remote",
                         "start_time": t + 0.03, "end_time": t + 0.05, "sql": {"database_type": "PostgreSQL"}}]
    });
    let streamed = json!({
        "name": "pricing", "id": "b000000000000003", "trace_id": id, "type": "subsegment",
        "parent_id": "b000000000000001", "start_time": t + 0.06, "end_time": t + 0.2
    });
    vec![streamed, api, web]
}

async fn sent(daemon: &LocalDaemon, id: &str, docs: &[Value]) {
    send(daemon.local_addr(), docs);
    daemon.wait_for_trace(id, WAIT).await.expect("trace completes");
}

const WINDOW: (f64, f64) = (1_699_999_000.0, 1_700_001_000.0);

fn window(extra: Value) -> Value {
    let mut body = json!({"StartTime": WINDOW.0, "EndTime": WINDOW.1});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn error_and_fault_are_the_root_segments_throttle_and_partial_any_documents() {
    let daemon = daemon().await;
    let id = trace_id(1_700_000_000, 3);
    let mut docs = shop_trace(&id, 1, 200);
    // The downstream service failed and was throttled; the entry point handled it and answered 200.
    docs[1]["fault"] = json!(true);
    docs[1]["error"] = json!(true);
    docs[1]["throttle"] = json!(true);
    sent(&daemon, &id, &docs).await;

    let answer = post(&daemon, "/TraceSummaries", window(json!({}))).await;
    let s = &answer["TraceSummaries"][0];
    assert_eq!(s["Id"], id.as_str());
    assert_eq!((&s["HasFault"], &s["HasError"], &s["HasThrottle"]), (&json!(false), &json!(false), &json!(true)));
    // The same reading as the filter keywords: `fault` does not find it, the service's does.
    for (expression, matches) in [("fault", false), ("ok", true), ("service(\"api\") { fault }", true)] {
        let answer = post(&daemon, "/TraceSummaries", window(json!({"FilterExpression": expression}))).await;
        assert_eq!(answer["TraceSummaries"].as_array().unwrap().len(), usize::from(matches), "{expression}");
    }
}

#[tokio::test]
async fn trace_summaries_hold_the_services_http_flags_and_annotations() {
    let daemon = daemon().await;
    let (ok, fault) = (trace_id(1_700_000_000, 1), trace_id(1_700_000_000, 2));
    sent(&daemon, &ok, &shop_trace(&ok, 1, 200)).await;
    sent(&daemon, &fault, &shop_trace(&fault, 2, 503)).await;

    let answer = post(&daemon, "/TraceSummaries", window(json!({}))).await;
    let summaries = answer["TraceSummaries"].as_array().unwrap();
    let ids: Vec<&str> = summaries.iter().map(|s| s["Id"].as_str().unwrap()).collect();
    assert_eq!(ids, [fault.as_str(), ok.as_str()], "newest first");
    assert_eq!(answer["TracesProcessedCount"], 2);
    assert!(answer.get("NextToken").is_none());
    let s = &summaries[1];
    assert!((s["Duration"].as_f64().unwrap() - 0.3).abs() < 1e-6, "{s}");
    assert!((s["ResponseTime"].as_f64().unwrap() - 0.3).abs() < 1e-6);
    assert_eq!(s["StartTime"], 1_700_000_000.0);
    assert_eq!(
        (&s["HasFault"], &s["HasError"], &s["HasThrottle"], &s["IsPartial"]),
        (&json!(false), &json!(false), &json!(false), &json!(false))
    );
    assert_eq!(
        s["Http"],
        json!({"HttpURL": "http://shop.local/cart", "HttpMethod": "GET", "UserAgent": "curl/8",
               "ClientIp": "10.0.0.9", "HttpStatus": 200})
    );
    let services: Vec<&str> =
        (s["ServiceIds"].as_array().unwrap().iter()).map(|id| id["Name"].as_str().unwrap()).collect();
    assert_eq!(services, ["web", "api", "db"]);
    assert_eq!(s["ServiceIds"][2]["Type"], "remote");
    assert_eq!(s["EntryPoint"]["Name"], "web");
    assert_eq!(s["Annotations"]["userId"][0]["AnnotationValue"], json!({"NumberValue": 1.0}));
    assert_eq!(s["Annotations"]["userId"][0]["ServiceIds"][0]["Name"], "web");
    assert_eq!(s["Annotations"]["tier"][0]["AnnotationValue"], json!({"StringValue": "gold"}));
    assert_eq!(s["Annotations"]["tier"][0]["ServiceIds"][0]["Name"], "api");
    assert_eq!(s["Users"], json!([{"UserName": "ann", "ServiceIds": [{"Name": "api", "Names": ["api"]}]}]));
    assert_eq!(summaries[0]["HasFault"], true);

    // Filter expressions go through the filter module, with its messages on a bad one.
    let cases = [
        ("fault", vec![fault.as_str()]),
        ("ok", vec![ok.as_str()]),
        ("annotation.userId = 1 AND ok", vec![ok.as_str()]),
        ("service(\"api\")", vec![fault.as_str(), ok.as_str()]),
        ("http.status >= 500", vec![fault.as_str()]),
        ("service(\"nope\")", vec![]),
    ];
    for (expr, want) in cases {
        let answer = post(&daemon, "/TraceSummaries", window(json!({"FilterExpression": expr}))).await;
        let got: Vec<&str> =
            (answer["TraceSummaries"].as_array().unwrap().iter()).map(|s| s["Id"].as_str().unwrap()).collect();
        assert_eq!(got, want, "{expr}");
    }
    let bad =
        call(&daemon, "POST", "/TraceSummaries", &window(json!({"FilterExpression": "ok AND"})).to_string()).await;
    assert_eq!((bad.status, bad.error_type.as_deref()), (400, Some("InvalidRequestException")));
    assert_eq!(bad.body["__type"], "InvalidRequestException");
    assert!(bad.body["Message"].as_str().unwrap().contains("at position"), "{}", bad.body);

    // The window counts: a trace that started outside it is not processed.
    let outside = post(&daemon, "/TraceSummaries", json!({"StartTime": 1.0, "EndTime": 2.0})).await;
    assert_eq!(outside["TraceSummaries"], json!([]));
    assert_eq!(outside["TracesProcessedCount"], 0);
}

#[tokio::test]
async fn summaries_page_with_next_token_and_sample_with_a_fixed_rate() {
    let daemon = daemon().await;
    let mut all = Vec::new();
    for n in 0..230u32 {
        let id = trace_id(1_700_000_000, 1000 + n);
        let doc = json!({"name": "svc", "id": format!("{:016x}", n + 1), "trace_id": id,
                         "start_time": 1_700_000_000.0 + f64::from(n), "end_time": 1_700_000_000.5 + f64::from(n)});
        send(daemon.local_addr(), &[doc]);
        all.push(id);
    }
    assert!(daemon.wait_for_documents(230, WAIT).await);
    daemon.flush();
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages <= 10, "pagination does not end");
        let mut body = window(json!({}));
        if let Some(token) = &token {
            body["NextToken"] = json!(token);
        }
        let answer = post(&daemon, "/TraceSummaries", body).await;
        let page = answer["TraceSummaries"].as_array().unwrap();
        seen.extend(page.iter().map(|s| s["Id"].as_str().unwrap().to_owned()));
        match answer.get("NextToken").and_then(Value::as_str) {
            Some(next) => {
                assert_eq!(page.len(), 100);
                token = Some(next.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut want = all.clone();
    want.reverse();
    assert_eq!(seen, want, "every trace once, newest first");

    let bad = call(&daemon, "POST", "/TraceSummaries", &window(json!({"NextToken": "garbage"})).to_string()).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["Message"].as_str().unwrap().contains("NextToken"));

    let sampled = window(json!({"Sampling": true, "SamplingStrategy": {"Name": "FixedRate", "Value": 0.25}}));
    let first = post(&daemon, "/TraceSummaries", sampled.clone()).await;
    let n = first["TraceSummaries"].as_array().unwrap().len();
    assert!((20..=90).contains(&n), "{n} of the first 100 at 25 %");
    let again = post(&daemon, "/TraceSummaries", sampled).await;
    assert_eq!(first["TraceSummaries"], again["TraceSummaries"], "the same sample each time");
}

#[tokio::test]
async fn batch_get_traces_returns_segment_documents_with_streamed_subsegments_merged() {
    let daemon = daemon().await;
    let id = trace_id(1_700_000_000, 7);
    sent(&daemon, &id, &shop_trace(&id, 1, 200)).await;
    let unknown = trace_id(1_700_000_000, 8);
    let answer = post(&daemon, "/Traces", json!({"TraceIds": [id, unknown]})).await;
    assert_eq!(answer["UnprocessedTraceIds"], json!([unknown]));
    let trace = &answer["Traces"][0];
    assert_eq!(trace["Id"], id.as_str());
    assert!((trace["Duration"].as_f64().unwrap() - 0.3).abs() < 1e-6);
    let segments = trace["Segments"].as_array().unwrap();
    let docs: Vec<Value> =
        segments.iter().map(|s| serde_json::from_str(s["Document"].as_str().unwrap()).unwrap()).collect();
    let ids: Vec<&str> = segments.iter().map(|s| s["Id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a000000000000001", "b000000000000001"]);
    assert_eq!(docs[0]["name"], "web");
    assert_eq!(docs[0]["subsegments"][0]["name"], "api");
    assert_eq!(docs[1]["parent_id"], "a000000000000002");
    let names: Vec<&str> =
        (docs[1]["subsegments"].as_array().unwrap().iter()).map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["db", "pricing"], "the streamed subsegment sits in its segment, by start time");
    assert!(docs[1]["subsegments"][1].get("type").is_none());

    let pages = (0..7).map(|n| trace_id(1_700_000_000, 100 + n)).collect::<Vec<_>>();
    let first = post(&daemon, "/Traces", json!({"TraceIds": pages})).await;
    assert_eq!(first["UnprocessedTraceIds"].as_array().unwrap().len(), 5, "five ids a page");
    let token = first["NextToken"].as_str().unwrap();
    let second = post(&daemon, "/Traces", json!({"TraceIds": pages, "NextToken": token})).await;
    assert_eq!(second["UnprocessedTraceIds"].as_array().unwrap().len(), 2);
    assert!(second.get("NextToken").is_none());
}

#[tokio::test]
async fn service_and_trace_graphs_have_edges_statistics_and_histograms() {
    let daemon = daemon().await;
    let (a, b) = (trace_id(1_700_000_000, 11), trace_id(1_700_000_000, 12));
    sent(&daemon, &a, &shop_trace(&a, 1, 200)).await;
    sent(&daemon, &b, &shop_trace(&b, 2, 429)).await;
    let graph = post(&daemon, "/ServiceGraph", window(json!({}))).await;
    assert_eq!(graph["StartTime"], WINDOW.0);
    let services = graph["Services"].as_array().unwrap();
    let names: Vec<&str> = services.iter().map(|s| s["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["web", "api", "db"]);
    let by_ref = |r: &Value| services.iter().find(|s| s["ReferenceId"] == *r).unwrap()["Name"].as_str().unwrap();
    let edges: Vec<(String, String)> = (services.iter())
        .flat_map(|s| {
            (s["Edges"].as_array().unwrap().iter())
                .map(move |e| (s["Name"].as_str().unwrap().to_owned(), e["ReferenceId"].clone()))
        })
        .map(|(from, to)| (from, by_ref(&to).to_owned()))
        .collect();
    assert_eq!(edges, [("web".into(), "api".into()), ("api".into(), "db".into())]);
    let web = &services[0];
    assert_eq!(web["Root"], true);
    let stats = &web["SummaryStatistics"];
    assert_eq!((stats["TotalCount"].as_u64(), stats["OkCount"].as_u64()), (Some(2), Some(1)));
    assert_eq!(stats["ErrorStatistics"]["ThrottleCount"], 1);
    assert!((stats["TotalResponseTime"].as_f64().unwrap() - 0.6).abs() < 1e-6);
    assert_eq!(web["ResponseTimeHistogram"], json!([{"Value": 0.3, "Count": 2}]));
    let edge = &web["Edges"][0];
    assert_eq!(edge["SummaryStatistics"]["TotalCount"], 2);
    assert_eq!(edge["ResponseTimeHistogram"][0]["Value"], 0.26);
    assert_eq!(services[2]["Type"], "remote");

    let one = post(&daemon, "/TraceGraph", json!({"TraceIds": [a]})).await;
    assert_eq!(one["Services"][0]["SummaryStatistics"]["TotalCount"], 1);
    assert_eq!(one["Services"].as_array().unwrap().len(), 3);
    let none = post(&daemon, "/ServiceGraph", json!({"StartTime": 1, "EndTime": 2})).await;
    assert_eq!(none["Services"], json!([]));
}

#[tokio::test]
async fn bad_requests_get_the_service_error_shape() {
    let daemon = daemon().await;
    let cases: [(&str, &str, &str, &str); 9] = [
        ("POST", "/TraceSummaries", "{", "not valid JSON"),
        ("POST", "/TraceSummaries", "[]", "must be a JSON object"),
        ("POST", "/TraceSummaries", r#"{"EndTime": 2}"#, "StartTime is required"),
        ("POST", "/TraceSummaries", r#"{"StartTime": "soon", "EndTime": 2}"#, "StartTime must be a timestamp"),
        ("POST", "/TraceSummaries", r#"{"StartTime": 3, "EndTime": 2}"#, "EndTime (2) is before StartTime (3)"),
        ("POST", "/Traces", r#"{}"#, "TraceIds is required"),
        ("POST", "/Traces", r#"{"TraceIds": [1]}"#, "TraceIds[0] must be a string"),
        ("POST", "/ServiceGraph", r#"{"StartTime": 1, "EndTime": 2, "NextToken": "x"}"#, "NextToken"),
        ("POST", "/SamplingTargets", r#"{"SamplingStatisticsDocuments": [{"RuleName": "Default"}]}"#, "ClientID"),
    ];
    for (method, path, body, want) in cases {
        let answer = call(&daemon, method, path, body).await;
        assert_eq!(answer.status, 400, "{path} {body}");
        assert_eq!(answer.error_type.as_deref(), Some("InvalidRequestException"));
        assert_eq!(answer.body["__type"], "InvalidRequestException");
        let message = answer.body["Message"].as_str().unwrap();
        assert!(message.contains(want), "{path} {body}: {message}");
    }
    for (method, path) in [("POST", "/GetTraceSummaries"), ("GET", "/TraceSummaries"), ("PUT", "/Traces")] {
        let answer = call(&daemon, method, path, "{}").await;
        assert_eq!(answer.status, 404, "{method} {path}");
        assert_eq!(answer.error_type.as_deref(), Some("UnknownOperationException"));
        assert!(answer.body["Message"].as_str().unwrap().contains("POST /TraceSummaries"));
    }
}

#[tokio::test]
async fn local_endpoints_show_documents_problems_and_counts() {
    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_quiet_period(Duration::from_millis(50))
        .with_max_traces(2)
        .start()
        .await
        .unwrap();
    let id = trace_id(1_700_000_000, 21);
    let mut docs = shop_trace(&id, 1, 200);
    docs[1]["name"] = json!("<script>alert(1)</script>");
    sent(&daemon, &id, &docs).await;
    let answer = call(&daemon, "GET", &format!("/local/traces/{id}"), "").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["id"], id.as_str());
    assert_eq!(answer.body["documents"].as_array().unwrap().len(), 3);
    assert_eq!(answer.body["documents"][0]["type"], "subsegment", "as received, in arrival order");
    let problems = answer.body["problems"].as_array().unwrap();
    let bad_name = problems.iter().find(|p| p["kind"] == "invalid-name").unwrap_or_else(|| panic!("{problems:?}"));
    assert_eq!(bad_name["severity"], "error");
    assert_eq!(bad_name["entity_id"], "b000000000000001");
    let missing = call(&daemon, "GET", "/local/traces/1-00000000-000000000000000000000000", "").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body["message"].as_str().unwrap().contains("not completed yet"));

    for n in 22..25 {
        let id = trace_id(1_700_000_000, n);
        sent(&daemon, &id, &shop_trace(&id, 1, 200)).await;
    }
    let status = call(&daemon, "GET", "/local/status", "").await.body;
    assert_eq!(status["traces"], 2);
    assert_eq!(status["evicted_traces"], 2);
    assert_eq!(status["documents"], 12);
    assert_eq!(status["max_traces"], 2);
    assert_eq!(status["max_bytes"], 100_000_000);
    assert!(status["errors"].as_u64().unwrap() >= 1);
    let bytes = status["bytes"].as_u64().unwrap();
    let one: usize = shop_trace(&id, 1, 200).iter().map(|d| d.to_string().len()).sum();
    assert_eq!(bytes, 2 * one as u64);
    let evicted = call(&daemon, "GET", &format!("/local/traces/{id}"), "").await;
    assert_eq!(evicted.status, 404, "the oldest trace went first");
}

#[tokio::test]
async fn the_byte_cap_evicts_the_oldest_traces() {
    let one: usize = shop_trace(&trace_id(1_700_000_000, 31), 1, 200).iter().map(|d| d.to_string().len()).sum();
    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_quiet_period(Duration::from_millis(50))
        .with_max_bytes(one * 3)
        .start()
        .await
        .unwrap();
    for n in 31..36 {
        let id = trace_id(1_700_000_000, n);
        sent(&daemon, &id, &shop_trace(&id, 1, 200)).await;
    }
    let summary = daemon.summary();
    assert_eq!((summary.stored_traces, summary.evicted_traces, summary.stored_bytes), (3, 2, one * 3));
    let answer = post(&daemon, "/TraceSummaries", window(json!({}))).await;
    assert_eq!(answer["TraceSummaries"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn sampling_rules_come_from_the_default_rule_or_a_file() {
    let daemon = daemon().await;
    let rules = post(&daemon, "/GetSamplingRules", json!({})).await;
    let rule = &rules["SamplingRuleRecords"][0]["SamplingRule"];
    assert_eq!(
        (&rule["RuleName"], &rule["FixedRate"], &rule["ReservoirSize"]),
        (&json!("Default"), &json!(0.05), &json!(1))
    );
    assert_eq!(rule["Priority"], 10000);
    assert_eq!(rules["SamplingRuleRecords"].as_array().unwrap().len(), 1);

    let dir = std::env::temp_dir().join(format!("xray-local-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.json");
    std::fs::write(
        &path,
        r#"{"SamplingRuleRecords": [{"SamplingRule": {"RuleName": "checkout", "Priority": 10, "FixedRate": 1.0,
            "ReservoirSize": 4, "ServiceName": "shop", "ServiceType": "*", "Host": "*", "HTTPMethod": "POST",
            "URLPath": "/checkout*", "ResourceARN": "*", "Version": 1}}]}"#,
    )
    .unwrap();
    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_sampling_rules(&path)
        .start()
        .await
        .unwrap();
    let rules = post(&daemon, "/GetSamplingRules", json!({})).await;
    let names: Vec<&str> = (rules["SamplingRuleRecords"].as_array().unwrap().iter())
        .map(|r| r["SamplingRule"]["RuleName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["checkout", "Default"]);
    let stats = |rule: &str, client: &str| {
        json!({"RuleName": rule, "ClientID": client, "Timestamp": 1_700_000_000, "RequestCount": 10,
               "SampledCount": 5, "BorrowCount": 1})
    };
    let targets = post(
        &daemon,
        "/SamplingTargets",
        json!({"SamplingStatisticsDocuments": [stats("checkout", "aaaaaaaaaaaaaaaaaaaaaaaa"), stats("gone", "aaaaaaaaaaaaaaaaaaaaaaaa")]}),
    )
    .await;
    let doc = &targets["SamplingTargetDocuments"][0];
    assert_eq!(
        (&doc["RuleName"], &doc["FixedRate"], &doc["ReservoirQuota"], &doc["Interval"]),
        (&json!("checkout"), &json!(1.0), &json!(4), &json!(10))
    );
    assert!(doc["ReservoirQuotaTTL"].as_f64().unwrap() > 1_700_000_000.0);
    assert_eq!(targets["UnprocessedStatistics"][0]["RuleName"], "gone");
    assert!(targets["LastRuleModification"].as_f64().is_some());
    // A second client shares the reservoir.
    let second = post(
        &daemon,
        "/SamplingTargets",
        json!({"SamplingStatisticsDocuments": [stats("checkout", "bbbbbbbbbbbbbbbbbbbbbbbb")]}),
    )
    .await;
    assert_eq!(second["SamplingTargetDocuments"][0]["ReservoirQuota"], 2);

    std::fs::write(&path, r#"[{"RuleName": "x", "Priority": 1, "FixedRate": 7, "ReservoirSize": 1}]"#).unwrap();
    let err = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_sampling_rules(&path)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("FixedRate must be a number from 0 to 1"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn this_sdks_centralized_sampler_works_against_the_proxy() {
    use xray_core::Sampler;
    use xray_core::sampling::{CentralizedSampler, SamplingRequest};

    let dir = std::env::temp_dir().join(format!("xray-local-sampler-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.json");
    // Everything to "shop" is sampled, nothing else is (the default rule samples 0 %).
    std::fs::write(
        &path,
        r#"[{"RuleName": "shop", "Priority": 1, "FixedRate": 1.0, "ReservoirSize": 0, "ServiceName": "shop"},
            {"RuleName": "Default", "Priority": 10000, "FixedRate": 0.0, "ReservoirSize": 0}]"#,
    )
    .unwrap();
    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_sampling_rules(&path)
        .start()
        .await
        .unwrap();
    let sampler = CentralizedSampler::builder(daemon.local_addr()).with_background_polling(false).build();
    assert_eq!(sampler.refresh_rules().await.expect("rules from xray-local"), 2);
    let request = |service| SamplingRequest { service_name: Some(service), ..SamplingRequest::default() };
    for _ in 0..20 {
        let shop = sampler.should_sample(&request("shop"));
        assert!(shop.sampled);
        assert_eq!(shop.rule_name.as_deref(), Some("shop"));
        assert!(!sampler.should_sample(&request("other")).sampled);
    }
    let update = sampler.refresh_targets().await.expect("targets from xray-local");
    // Both rules decided requests, so both are reported and both get targets back.
    assert_eq!((update.reported, update.applied, update.rules_changed), (2, 2, false), "{update:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn load_replays_a_jsonl_file_and_jsonl_keeps_writing() {
    let dir = std::env::temp_dir().join(format!("xray-local-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (old, new) = (trace_id(1_700_000_000, 41), trace_id(1_700_000_000, 42));
    let lines: Vec<String> = shop_trace(&old, 1, 200).iter().map(Value::to_string).collect();
    let replay = dir.join("replay.jsonl");
    std::fs::write(&replay, format!("{}\n\n{{broken\n", lines.join("\n"))).unwrap();
    let out = dir.join("out.jsonl");
    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_quiet_period(Duration::from_millis(50))
        .with_load(&replay)
        .with_jsonl(&out)
        .start()
        .await
        .unwrap();
    let answer = post(&daemon, "/Traces", json!({"TraceIds": [old]})).await;
    assert_eq!(answer["Traces"][0]["Segments"].as_array().unwrap().len(), 2, "replayed and complete at start");
    assert_eq!(daemon.summary().problems.errors, 1, "the broken line is reported");
    sent(&daemon, &new, &shop_trace(&new, 1, 200)).await;
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.lines().count(), 3, "only what arrived, not what was replayed");
    assert!(written.contains(&new) && !written.contains(&old));
    let err = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_load(dir.join("none.jsonl"))
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("to replay it"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_console_is_served_unless_turned_off_and_http_can_be_off() {
    let on = daemon().await;
    let page = reqwest::get(on.http_url().unwrap()).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(on.has_console());

    let off =
        LocalDaemon::builder().with_listen("127.0.0.1:0".parse().unwrap()).with_console(false).start().await.unwrap();
    assert!(!off.has_console());
    assert_eq!(call(&off, "GET", "/", "").await.status, 404);
    assert_eq!(call(&off, "GET", "/local/status", "").await.status, 200, "the APIs stay");

    let none =
        LocalDaemon::builder().with_listen("127.0.0.1:0".parse().unwrap()).with_http(false).start().await.unwrap();
    assert!(none.http_url().is_none());
    assert!(std::net::TcpStream::connect(none.local_addr()).is_err());
    on.shutdown().await;
    off.shutdown().await;
}

/// The binary, started with `args`: its stdout lines until one contains `until` (bounded).
struct Binary {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Binary {
    fn start(args: &[&str]) -> Binary {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xray-local"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Binary { child, lines }
    }

    fn line_with(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line with {text:?} in {seen:?}");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_binary_prints_the_console_url_serves_it_and_warns_off_loopback() {
    let binary = Binary::start(&["--listen", "127.0.0.1:0", "--max-traces", "7"]);
    let line = binary.line_with("console: ");
    let url = line.split_whitespace().nth(1).expect("a URL").to_owned();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with('/'), "{line}");
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), 200);
    let status: Value =
        serde_json::from_str(&reqwest::get(format!("{url}local/status")).await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(status["max_traces"], 7);
    drop(binary);

    let no_ui = Binary::start(&["--listen", "127.0.0.1:0", "--no-ui"]);
    assert!(no_ui.line_with("X-Ray API and sampling proxy on tcp://").contains("console off"));
    drop(no_ui);

    let open = Binary::start(&["--listen", "0.0.0.0:0"]);
    let warning = open.line_with("warning:");
    assert!(warning.contains("not loopback") && warning.contains("console"), "{warning}");
    drop(open);

    let dir = std::env::temp_dir().join(format!("xray-local-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.json");
    std::fs::write(&rules, "{\"SamplingRuleRecords\": 3}").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xray-local"))
        .args(["--listen", "127.0.0.1:0", "--sampling-rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SamplingRuleRecords must be a list"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
