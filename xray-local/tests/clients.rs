//! Real clients against xray-local: traces sent by this SDK's recorder and by the official
//! X-Ray SDK for Python, queried with boto3's X-Ray client (`endpoint_url` pointed here); and
//! the Python SDK's centralized-sampling connector reading rules and targets from the proxy.
//!
//! Needs `XRAY_TEST_PYTHON`: a Python with `boto3` and `aws-xray-sdk` (`.ci/run` makes one).
//! Without it the test is skipped, visibly; under `CI` it fails instead.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use xray_core::model::Namespace;
use xray_core::{AlwaysSample, Recorder};
use xray_local::LocalDaemon;

const WAIT: Duration = Duration::from_secs(10);

/// The Python to run, or `None` (after saying so) when the test should be skipped.
fn python() -> Option<String> {
    match std::env::var("XRAY_TEST_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var_os("CI").is_some() => panic!("CI is set but XRAY_TEST_PYTHON is not"),
        _ => {
            eprintln!("SKIPPED: set XRAY_TEST_PYTHON to a Python with boto3 and aws-xray-sdk");
            None
        }
    }
}

/// Runs a script of `tests/py` and parses the JSON it prints last.
async fn run_script(python: &str, script: &str, args: Vec<String>, env: Vec<(&'static str, String)>) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(script);
    let python = python.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(&python);
        command.arg(&path).args(&args).env("PYTHONDONTWRITEBYTECODE", "1");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("cannot run XRAY_TEST_PYTHON: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_reads_traces_sent_by_this_sdk_and_the_python_sdk() {
    let Some(python) = python() else { return };
    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_quiet_period(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let addr = daemon.local_addr();

    // This SDK: a segment with an annotation and a call to a remote database.
    let recorder = Recorder::builder()
        .with_service_name("rust-shop")
        .with_daemon_address(addr.into())
        .with_sampler(AlwaysSample)
        .build()
        .unwrap();
    let segment = recorder.new_segment("rust-shop");
    segment.annotate("source", "rust");
    segment.annotate("userId", 1);
    let db = segment.begin_subsegment("orders@db.local");
    db.set_namespace(Namespace::Remote);
    tokio::time::sleep(Duration::from_millis(5)).await;
    db.end();
    let rust_id = segment.trace_id().expect("sampled").to_string();
    segment.end();
    assert!(recorder.flush(WAIT));

    // The official Python SDK, over UDP to the same address.
    let sent = run_script(&python, "send_trace.py", vec![], vec![("AWS_XRAY_DAEMON_ADDRESS", addr.to_string())]).await;
    let py_id = sent["trace_id"].as_str().expect("trace id").to_owned();

    for id in [&rust_id, &py_id] {
        daemon.wait_for_trace(id, WAIT).await.unwrap_or_else(|| panic!("trace {id} completes"));
    }
    let unknown = "1-00000000-000000000000000000000000";
    let args = json!({
        "ids": [rust_id, py_id, unknown],
        "filters": ["annotation.source = \"python\"", "service(\"rust-shop\")", "annotation.userId = 1 AND ok",
                    "http.method = \"POST\""],
    });
    let endpoint = daemon.http_url().unwrap().trim_end_matches('/').to_owned();
    let out = run_script(&python, "query.py", vec![endpoint, args.to_string()], vec![]).await;

    let filters = &out["filters"];
    assert_eq!(filters["annotation.source = \"python\""], json!([py_id]), "{out}");
    assert_eq!(filters["service(\"rust-shop\")"], json!([rust_id]));
    assert_eq!(filters["annotation.userId = 1 AND ok"], json!([rust_id]));
    assert_eq!(filters["http.method = \"POST\""], json!([py_id]));

    let summaries = out["summaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 2, "{summaries:?}");
    let summary = |id: &str| summaries.iter().find(|s| s["Id"] == id).unwrap().clone();
    let py = summary(&py_id);
    assert_eq!(py["Http"]["HttpURL"], "http://orders.local/checkout");
    assert_eq!(py["Http"]["HttpStatus"], 201);
    assert_eq!(py["Annotations"]["source"], json!([{"StringValue": "python"}]));
    assert_eq!(py["ServiceIds"], json!(["inventory.local", "py-orders"]));
    assert_eq!(py["HasError"], false);
    let rust = summary(&rust_id);
    assert_eq!(rust["ServiceIds"], json!(["orders@db.local", "rust-shop"]));
    assert!(rust["Duration"].as_f64().unwrap() >= 0.005, "{rust}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - rust["StartTime"].as_f64().unwrap()).abs() < 60.0, "botocore parsed StartTime as a time");

    assert_eq!(out["unprocessed"], json!([unknown]));
    let py_trace = &out["traces"][&py_id];
    assert_eq!(py_trace[0]["name"], "py-orders");
    let mut subs: Vec<&str> =
        py_trace[0]["subsegments"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    subs.sort_unstable();
    assert_eq!(subs, ["compute-total", "inventory.local"], "streamed subsegments merged into the segment");
    assert_eq!(out["traces"][&rust_id], json!([{"name": "rust-shop", "subsegments": ["orders@db.local"]}]));

    let graph = &out["graph"];
    assert_eq!(graph["rust-shop"]["edges"], json!(["orders@db.local"]), "{graph}");
    assert_eq!(graph["py-orders"]["edges"], json!(["inventory.local"]));
    assert_eq!(graph["inventory.local"]["type"], "remote");
    assert_eq!(
        (graph["py-orders"]["total"].as_u64(), graph["py-orders"]["histogram_count"].as_u64()),
        (Some(1), Some(1))
    );

    assert_eq!(out["rules"], json!(["Default"]));
    assert_eq!(out["bad_filter"]["code"], "InvalidRequestException");
    assert!(out["bad_filter"]["message"].as_str().unwrap().contains("at position"), "{out}");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdks_sampling_connector_reads_rules_and_targets_from_the_proxy() {
    let Some(python) = python() else { return };
    let dir = std::env::temp_dir().join(format!("xray-local-py-sampling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.json");
    std::fs::write(
        &rules,
        r#"[{"RuleName": "orders", "Priority": 5, "FixedRate": 0.5, "ReservoirSize": 3, "ServiceName": "py-orders"}]"#,
    )
    .unwrap();
    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_sampling_rules(&rules)
        .start()
        .await
        .unwrap();
    let addr = daemon.local_addr();
    let out =
        run_script(&python, "sampling_check.py", vec![addr.ip().to_string(), addr.port().to_string()], vec![]).await;
    assert_eq!(
        out["rules"],
        json!([{"name": "orders", "rate": 0.5, "can_borrow": true, "priority": 5},
               {"name": "Default", "rate": 0.05, "can_borrow": true, "priority": 10000}]),
        "{out}"
    );
    assert_eq!(out["targets"]["orders"]["quota"], 3);
    assert_eq!(out["targets"]["orders"]["rate"], 0.5);
    assert_eq!(out["targets"]["orders"]["interval"], 10);
    assert!(out["targets"]["orders"]["TTL"].as_f64().unwrap() > out["last_modified"].as_f64().unwrap());
    assert_eq!(out["matched"], json!({"py-orders": "orders", "other": "Default"}));
    daemon.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}
