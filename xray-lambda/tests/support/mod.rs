//! A stand-in for the Lambda Runtime API on `127.0.0.1:0`, and the function under test run as a
//! child process (this test binary again, with the Lambda variables set, since `lambda_runtime`
//! reads its configuration from the environment only).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use xray_tests::FakeDaemon;

/// The variable that makes the child run a function, and which one.
pub const CHILD_VAR: &str = "XRAY_LAMBDA_TEST_CHILD";
pub const FUNCTION_NAME: &str = "checkout";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:checkout";

/// One invocation to hand out on `/next`.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub root: String,
    pub parent: String,
    pub sampled: bool,
    pub payload: Value,
    /// Whether Lambda hands out an X-Ray trace header (`Lambda-Runtime-Trace-Id`); without
    /// one, `root` and `parent` are the trace and span of the event's own `traceparent`.
    pub xray: bool,
}

impl Invocation {
    /// Invocation `n` (trace ids and parents differ per `n`), with `payload`.
    pub fn new(n: u32, sampled: bool, payload: Value) -> Self {
        Self {
            request_id: format!("req-{n:04}"),
            root: format!("1-5759e988-{n:024x}"),
            parent: format!("{:016x}", 0x5399_5c3f_0000_0000_u64 + u64::from(n)),
            sampled,
            payload,
            xray: true,
        }
    }

    /// Invocation `n` without X-Ray context, its HTTP event `payload` carrying a sampled
    /// `traceparent` of an OpenTelemetry trace (`root`, `parent` in X-Ray's form).
    pub fn with_traceparent(n: u32, mut payload: Value) -> Self {
        let (trace, span) = (format!("4bf92f35{n:024x}"), format!("{:016x}", 0x00f0_67aa_0000_0000_u64 + u64::from(n)));
        payload["headers"]["traceparent"] = Value::String(format!("00-{trace}-{span}-01"));
        Self {
            request_id: format!("req-{n:04}"),
            root: format!("1-{}-{}", &trace[..8], &trace[8..]),
            parent: span,
            sampled: true,
            payload,
            xray: false,
        }
    }

    /// Lambda's trace header for it, with a Lineage to keep.
    pub fn header(&self) -> String {
        format!("Root={};Parent={};Sampled={};Lineage=a87bd80c:1", self.root, self.parent, u8::from(self.sampled))
    }
}

/// What the function posted back for one invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub invocation: Invocation,
    /// `response` or `error`.
    pub kind: &'static str,
    pub body: Value,
    /// The documents of the invocation's trace the daemon had when the outcome was posted.
    pub documents_before: Vec<Value>,
}

struct State {
    queue: Mutex<VecDeque<Invocation>>,
    handed_out: Mutex<Vec<Invocation>>,
    outcomes: Mutex<Vec<Outcome>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    daemon: FakeDaemon,
}

/// The stand-in Runtime API and the fake X-Ray daemon the function sends to.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<State>,
}

impl RuntimeApi {
    /// Serves `invocations` in order; `/next` waits forever once they are handed out.
    pub async fn start(invocations: Vec<Invocation>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            queue: Mutex::new(invocations.into()),
            handed_out: Mutex::new(Vec::new()),
            outcomes: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            daemon: FakeDaemon::start(),
        });
        let served = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state }
    }

    /// Runs the function `mode` in a child process against this API, with `extra` variables.
    pub fn spawn_function(&self, mode: &str, extra: &[(&str, &str)]) -> ChildGuard {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["child_function", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env_remove("_X_AMZN_TRACE_ID")
            .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
            .env(CHILD_VAR, mode)
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_XRAY_DAEMON_ADDRESS", self.state.daemon.addr().to_string())
            .stdout(Stdio::null());
        for (name, value) in extra {
            command.env(name, value);
        }
        ChildGuard(command.spawn().unwrap())
    }

    /// Waits until `n` outcomes were posted (at most 60 s), and returns them.
    pub async fn wait_for_outcomes(&self, n: usize) -> Vec<Outcome> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let outcomes = self.state.outcomes.lock().unwrap().clone();
            if outcomes.len() >= n || Instant::now() > deadline {
                assert_eq!(outcomes.len(), n, "outcomes posted: {outcomes:#?}");
                return outcomes;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every document the daemon received.
    pub fn documents(&self) -> Vec<Value> {
        self.state.daemon.documents()
    }

    /// The most invocations that were handed out and not yet answered at one time.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

/// Kills the child function when dropped (it polls `/next` forever, as on Lambda).
pub struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder().status(status).body(Full::new(body.into())).unwrap()
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    if rest == "next" {
        let next = state.queue.lock().unwrap().pop_front();
        let Some(invocation) = next else {
            // Nothing left: hold the poll open, as Lambda does between invocations.
            std::future::pending::<()>().await;
            unreachable!()
        };
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        state.handed_out.lock().unwrap().push(invocation.clone());
        let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 60_000;
        let mut response = Response::builder()
            .header("content-type", "application/json")
            .header("Lambda-Runtime-Aws-Request-Id", &invocation.request_id)
            .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
            .header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN);
        if invocation.xray {
            response = response.header("Lambda-Runtime-Trace-Id", invocation.header());
        }
        let response = response.body(Full::new(Bytes::from(invocation.payload.to_string()))).unwrap();
        return Ok(response);
    }
    let Some((id, kind)) = rest.split_once('/') else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    let kind = match kind {
        "response" => "response",
        "error" => "error",
        _ => return Ok(reply(StatusCode::NOT_FOUND, "unknown path")),
    };
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let invocation = state.handed_out.lock().unwrap().iter().find(|i| i.request_id == id).cloned();
    let Some(invocation) = invocation else {
        return Ok(reply(StatusCode::BAD_REQUEST, "unknown request id"));
    };
    // The documents the function flushed before answering are already in the daemon's socket;
    // give its receiving thread a moment to read them. (The function's emitter otherwise waits
    // 30 s between sends, so only a flush gets them here in time.)
    let expected = usize::from(invocation.sampled);
    let deadline = Instant::now() + Duration::from_millis(if invocation.sampled { 500 } else { 50 });
    let documents_before = loop {
        let docs: Vec<Value> =
            state.daemon.documents().into_iter().filter(|d| d["trace_id"] == invocation.root.as_str()).collect();
        if (expected > 0 && docs.len() >= expected) || Instant::now() > deadline {
            break docs;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    state.outcomes.lock().unwrap().push(Outcome { invocation, kind, body, documents_before });
    Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
}
