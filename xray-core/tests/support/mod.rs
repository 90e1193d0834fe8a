//! A fake X-Ray daemon for the sampling tests: a real HTTP/1.1 server (hyper) on
//! `127.0.0.1:0` answering `POST /GetSamplingRules` (in pages) and `POST /SamplingTargets`,
//! recording every request body. It runs on its own thread and runtime, so the tests'
//! runtimes only hold the SDK's own tasks.

#![allow(dead_code)] // Each test binary uses part of it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{Value, json};

/// How the daemon answers.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The configured rules and targets.
    Serve,
    /// This HTTP status with a text body (a daemon that cannot reach X-Ray).
    Status(u16),
    /// `200` with a body that is not JSON.
    Garbage,
}

#[derive(Debug)]
struct Shared {
    rule_pages: Vec<Vec<Value>>,
    targets: Value,
    mode: Mode,
    requests: Vec<(String, Value)>,
}

/// The fake daemon; stops when dropped.
pub struct FakeSamplingDaemon {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeSamplingDaemon {
    /// Starts serving, with no rules and empty targets.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared {
            rule_pages: vec![Vec::new()],
            targets: json!({"SamplingTargetDocuments": []}),
            mode: Mode::Serve,
            requests: Vec::new(),
        }));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let accepted = tokio::select! {
                        accepted = listener.accept() => accepted,
                        _ = &mut stopped => return,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                    });
                }
            });
        });
        Self { addr, shared, stop: Some(stop), thread: Some(thread) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Rule records served page by page (`NextToken` links them).
    pub fn set_rule_pages(&self, pages: Vec<Vec<Value>>) {
        self.shared.lock().unwrap().rule_pages = pages;
    }

    /// The answer to `/SamplingTargets`.
    pub fn set_targets(&self, answer: Value) {
        self.shared.lock().unwrap().targets = answer;
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.lock().unwrap().mode = mode;
    }

    /// Every request so far: path and JSON body.
    pub fn requests(&self) -> Vec<(String, Value)> {
        self.shared.lock().unwrap().requests.clone()
    }

    /// The requests since the last call.
    pub fn take_requests(&self) -> Vec<(String, Value)> {
        std::mem::take(&mut self.shared.lock().unwrap().requests)
    }

    /// Waits (at most 10 s) until `done` holds for the requests received so far.
    pub fn wait_for(&self, done: impl Fn(&[(String, Value)]) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if done(&self.shared.lock().unwrap().requests) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

impl Drop for FakeSamplingDaemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(shared: Arc<Mutex<Shared>>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut shared = shared.lock().unwrap();
    shared.requests.push((path.clone(), body.clone()));
    let (status, text) = match (&shared.mode, method.as_str(), path.as_str()) {
        (Mode::Status(code), ..) => (*code, "daemon trouble".to_owned()),
        (Mode::Garbage, ..) => (200, "<html>certainly not JSON".to_owned()),
        (Mode::Serve, "POST", "/GetSamplingRules") => {
            let page = match body.get("NextToken").and_then(Value::as_str) {
                None => 0,
                Some(token) => token.strip_prefix("page-").and_then(|n| n.parse().ok()).unwrap_or(usize::MAX),
            };
            match shared.rule_pages.get(page) {
                Some(records) => {
                    let mut answer = json!({"SamplingRuleRecords": records});
                    if page + 1 < shared.rule_pages.len() {
                        answer["NextToken"] = json!(format!("page-{}", page + 1));
                    }
                    (200, answer.to_string())
                }
                None => (400, r#"{"message":"bad token"}"#.to_owned()),
            }
        }
        (Mode::Serve, "POST", "/SamplingTargets") => (200, shared.targets.to_string()),
        _ => (404, "not found".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    Ok(response)
}

/// A rule record as `GetSamplingRules` returns it, applicable by this SDK.
pub fn rule(name: &str, priority: i64, path: &str, reservoir: i64, rate: f64) -> Value {
    json!({
        "SamplingRule": {
            "RuleName": name,
            "RuleARN": format!("arn:aws:xray:us-east-1:123456789012:sampling-rule/{name}"),
            "ResourceARN": "*",
            "Priority": priority,
            "FixedRate": rate,
            "ReservoirSize": reservoir,
            "ServiceName": "*",
            "ServiceType": "*",
            "Host": "*",
            "HTTPMethod": "*",
            "URLPath": path,
            "Version": 1,
            "Attributes": {}
        },
        "CreatedAt": 1_700_000_000.0,
        "ModifiedAt": 1_700_000_000.0
    })
}

/// The statistics documents of a `/SamplingTargets` request, by rule name, as
/// `(RequestCount, SampledCount, BorrowCount)`.
pub fn statistics(body: &Value) -> Vec<(String, (u64, u64, u64))> {
    let mut out: Vec<_> = body["SamplingStatisticsDocuments"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|d| {
            let n = |k: &str| d[k].as_u64().unwrap();
            (d["RuleName"].as_str().unwrap().to_owned(), (n("RequestCount"), n("SampledCount"), n("BorrowCount")))
        })
        .collect();
    out.sort();
    out
}

/// Polls `done` every few milliseconds for at most 10 s; `true` once it holds.
pub async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}
