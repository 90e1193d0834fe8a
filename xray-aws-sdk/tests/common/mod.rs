//! Shared by the integration tests: clients of the real AWS SDK crates pointed at moto or at a
//! local stub, a plain-HTTP client, the capture of documents, and a small HTTP server.

#![allow(dead_code)] // each test file uses a part

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// A plain-HTTP client (no TLS) for the loopback endpoints.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_http()
}

/// moto's URL from `XRAY_TEST_MOTO_URL`, or `None` (after a loud message) when unset
/// locally; under `CI` a missing variable fails the test.
pub fn moto_url() -> Option<String> {
    match std::env::var("XRAY_TEST_MOTO_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(std::env::var_os("CI").is_none(), "CI is set but XRAY_TEST_MOTO_URL is not: moto is required");
            eprintln!("SKIPPED: set XRAY_TEST_MOTO_URL to a moto server (moto_server -H 127.0.0.1 -p 5055)");
            None
        }
    }
}

/// A service's config builder for `endpoint` with test credentials, region `us-east-1`, the
/// plain-HTTP client and the X-Ray interceptor.
#[macro_export]
macro_rules! config {
    ($krate:ident, $endpoint:expr) => {
        $krate::config::Builder::new()
            .behavior_version($krate::config::BehaviorVersion::latest())
            .region($krate::config::Region::new("us-east-1"))
            .credentials_provider($krate::config::Credentials::new("testing", "testing", None, None, "tests"))
            .endpoint_url($endpoint)
            .http_client($crate::common::http_client())
            .interceptor(xray_aws_sdk::XrayInterceptor::new())
    };
}

/// All subsegments of `doc`, depth first, in document order.
pub fn subsegments(doc: &Value) -> Vec<&Value> {
    fn walk<'a>(doc: &'a Value, out: &mut Vec<&'a Value>) {
        for child in doc["subsegments"].as_array().into_iter().flatten() {
            out.push(child);
            walk(child, out);
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut out);
    out
}

/// The subsegments of `doc` for `operation`.
pub fn calls<'a>(doc: &'a Value, operation: &str) -> Vec<&'a Value> {
    subsegments(doc).into_iter().filter(|s| s["aws"]["operation"] == operation).collect()
}

/// The one subsegment of `doc` for `operation`.
pub fn call<'a>(doc: &'a Value, operation: &str) -> &'a Value {
    let found = calls(doc, operation);
    assert_eq!(found.len(), 1, "one {operation} call in {doc:#}");
    found[0]
}

/// Every document schema-valid, and none holding any of `secrets`.
pub fn assert_clean(docs: &[Value], secrets: &[&str]) {
    for doc in docs {
        xray_tests::assert_valid(doc);
        let text = doc.to_string();
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} appears in {doc:#}");
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub parts: http::request::Parts,
    pub body: Bytes,
}

type Handler = Arc<dyn Fn(Seen) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>> + Send + Sync>;

/// A local HTTP/1.1 server on `127.0.0.1:0` answering with `handler`; it keeps every request.
pub struct Server {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(Seen) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |seen| Box::pin(handler(seen)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (handler, log) = (handler.clone(), log.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (handler, log) = (handler.clone(), log.clone());
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let seen = Seen { parts, body };
                            log.lock().unwrap().push(seen.clone());
                            Ok::<_, Infallible>(handler(seen).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A response with `status`, `headers` and a body.
pub fn respond(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

/// Sends `seen` on to `upstream` (host:port) and returns its response: the test's proxy in
/// front of moto.
pub async fn forward(upstream: &str, seen: Seen, body: Bytes) -> Response<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(upstream).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut parts = seen.parts;
    parts.headers.insert(http::header::CONTENT_LENGTH, body.len().into());
    let response = sender.send_request(Request::from_parts(parts, Full::new(body))).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, Full::new(body))
}
