//! When and how a segment ends: after a streamed body, when the body is dropped, when the
//! request is cancelled, when the inner service fails, and when the handler panics.

mod common;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use tokio::sync::Notify;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use xray_core::MemoryEmitter;
use xray_tower::{CANCELLED_TYPE, PANIC_TYPE, XrayLayer};

/// A body of `chunks` frames of `size` bytes, with no declared length, that yields to the
/// runtime before each frame like a real stream.
struct Chunks {
    left: usize,
    size: usize,
    yielded: bool,
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        if !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.yielded = false;
        self.left -= 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; self.size])))))
    }
}

fn streaming_routes() -> Router {
    Router::new().route("/stream", get(|| async { Body::new(Chunks { left: 5, size: 1000, yielded: false }) }))
}

fn streaming_app(recorder: xray_core::Recorder) -> Router {
    streaming_routes().layer(XrayLayer::new("svc").with_recorder(recorder))
}

#[tokio::test]
async fn the_segment_ends_when_the_streamed_body_has_been_sent() {
    let (recorder, emitter) = recorder();
    sends_five_chunks_then_ends_the_segment(streaming_app(recorder), &emitter).await;
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn with_axum_body_the_segment_still_ends_when_the_body_has_been_sent() {
    let (recorder, emitter) = recorder();
    let app = streaming_routes().layer(XrayLayer::new("svc").with_recorder(recorder).with_axum_body());
    sends_five_chunks_then_ends_the_segment(app, &emitter).await;
}

async fn sends_five_chunks_then_ends_the_segment(app: Router, emitter: &MemoryEmitter) {
    let response = app.oneshot(request("/stream", &[])).await.unwrap();
    assert!(response.headers().get("content-length").is_none());
    assert!(documents(emitter).is_empty(), "the handler returned, but the body is still unsent");

    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert_eq!(first.data_ref().unwrap().len(), 1000);
    assert!(documents(emitter).is_empty(), "one chunk of five sent");

    let mut total = 1000;
    while let Some(frame) = body.frame().await {
        total += frame.unwrap().into_data().unwrap().len();
    }
    assert_eq!(total, 5000);
    let doc = only_document(emitter);
    assert_eq!(doc["http"]["response"]["content_length"], 5000, "counted from the bytes actually sent");
    assert!(doc["end_time"].as_f64().unwrap() >= doc["start_time"].as_f64().unwrap());
}

#[tokio::test]
async fn a_dropped_body_still_ends_the_segment() {
    let (recorder, emitter) = recorder();
    let response = streaming_app(recorder).oneshot(request("/stream", &[])).await.unwrap();
    let mut body = response.into_body();
    body.frame().await.unwrap().unwrap();
    drop(body);
    let doc = only_document(&emitter);
    assert_eq!(doc["http"]["response"]["status"], 200);
    assert_eq!(doc["http"]["response"]["content_length"], 1000, "what was sent before the client left");
}

#[tokio::test]
async fn a_cancelled_request_is_ended_and_marked() {
    let (recorder, emitter) = recorder();
    let started = Arc::new(Notify::new());
    let signal = started.clone();
    let app = Router::new()
        .route(
            "/slow",
            get(move || async move {
                xray_core::current().annotate("reached", true);
                signal.notify_one();
                std::future::pending::<()>().await;
                "never"
            }),
        )
        .layer(XrayLayer::new("svc").with_recorder(recorder));

    let mut call = Box::pin(app.oneshot(request("/slow", &[])));
    let reached = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            _ = &mut call => false,
            _ = started.notified() => true,
        }
    })
    .await;
    assert_eq!(reached, Ok(true), "the handler must start and not finish");
    assert!(documents(&emitter).is_empty());
    drop(call); // the client went away

    let doc = only_document(&emitter);
    assert_eq!(doc["annotations"]["reached"], true);
    assert!(flag(&doc, "error"));
    assert!(!flag(&doc, "fault"));
    assert_eq!(doc["cause"]["exceptions"][0]["type"], CANCELLED_TYPE);
    assert!(doc["http"].get("response").is_none(), "no response was sent");
}

#[tokio::test]
async fn an_error_from_the_inner_service_is_a_fault_with_its_cause() {
    let (recorder, emitter) = recorder();
    let service = ServiceBuilder::new().layer(XrayLayer::new("svc").with_recorder(recorder)).service_fn(
        |_: Request<Full<Bytes>>| async {
            let err: BoxError = Box::new(std::io::Error::other("database unreachable"));
            Err::<Response<Full<Bytes>>, BoxError>(err)
        },
    );
    let request = Request::get("/").header("host", "svc.test").body(Full::new(Bytes::new())).unwrap();
    let err = service.oneshot(request).await.unwrap_err();
    assert_eq!(err.to_string(), "database unreachable");

    let doc = only_document(&emitter);
    assert!(flag(&doc, "fault"));
    assert_eq!(doc["cause"]["exceptions"][0]["message"], "database unreachable");
    assert!(doc["http"].get("response").is_none());
}

async fn boom_42() -> &'static str {
    panic!("boom 42")
}

async fn uncaught() -> &'static str {
    panic!("nobody catches this")
}

#[tokio::test]
async fn a_panic_caught_further_out_is_a_fault() {
    let (recorder, emitter) = recorder();
    let app = Router::new()
        .route("/boom", get(boom_42))
        .layer(XrayLayer::new("svc").with_recorder(recorder))
        .layer(CatchPanicLayer::new());
    let (response, _) = send(&app, request("/boom", &[])).await;
    assert_eq!(response.status(), 500);

    let doc = only_document(&emitter);
    assert!(flag(&doc, "fault"));
    assert_eq!(doc["cause"]["exceptions"][0]["type"], PANIC_TYPE);
    assert_eq!(doc["cause"]["exceptions"][0]["message"], "boom 42");
}

#[tokio::test]
async fn an_uncaught_panic_never_loses_the_segment() {
    let (recorder, emitter) = recorder();
    let app = Router::new().route("/boom", get(uncaught)).layer(XrayLayer::new("svc").with_recorder(recorder));
    let joined = tokio::spawn(app.oneshot(request("/boom", &[]))).await;
    assert!(joined.unwrap_err().is_panic());

    let doc = only_document(&emitter);
    assert!(flag(&doc, "fault"));
    assert_eq!(doc["cause"]["exceptions"][0]["message"], "nobody catches this");
}

#[tokio::test]
async fn a_panic_in_call_itself_is_recorded() {
    #[derive(Clone)]
    struct PanicsInCall;
    impl tower::Service<Request<Body>> for PanicsInCall {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<Body>) -> Self::Future {
            panic!("synchronous part of call")
        }
    }
    let (recorder, emitter) = recorder();
    let service = ServiceBuilder::new()
        .layer(CatchPanicLayer::new())
        .layer(XrayLayer::new("svc").with_recorder(recorder))
        .service(PanicsInCall);
    let response = service.oneshot(request("/", &[])).await.unwrap();
    assert_eq!(response.status(), 500);
    let doc = only_document(&emitter);
    assert!(flag(&doc, "fault"));
    assert_eq!(doc["cause"]["exceptions"][0]["message"], "synchronous part of call");
}

#[tokio::test]
async fn grpc_status_in_a_trailers_only_response_and_in_trailers() {
    let (recorder, emitter) = recorder();
    let app = Router::new()
        .route("/unavailable", get(|| async { ([("content-type", "application/grpc"), ("grpc-status", "14")], "") }))
        .route(
            "/exhausted",
            get(|| async {
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", "8".parse().unwrap());
                Body::new(Frames([Frame::data(Bytes::from_static(b"msg")), Frame::trailers(trailers)].into()))
            }),
        )
        .route("/internal", get(|| async { ([("grpc-status", "13")], "") }))
        .layer(XrayLayer::new("svc").with_recorder(recorder));

    let mut flags = Vec::new();
    for path in ["/unavailable", "/exhausted", "/internal"] {
        send(&app, request(path, &[])).await;
        let doc = only_document(&emitter);
        assert_eq!(doc["http"]["response"]["status"], 200);
        flags.push((flag(&doc, "error"), flag(&doc, "fault"), flag(&doc, "throttle")));
    }
    assert_eq!(flags, [(true, false, false), (true, false, true), (false, true, false)]);
}

/// A body made of the given frames, in order.
struct Frames(std::collections::VecDeque<Frame<Bytes>>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

#[tokio::test]
async fn the_inner_call_itself_runs_in_context() {
    /// Reads the current entity synchronously in `call`, before any future is polled.
    #[derive(Clone)]
    struct SeesContext;
    impl tower::Service<Request<Body>> for SeesContext {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<Body>) -> Self::Future {
            let id = xray_core::integration::current_quiet().id().map(|id| id.to_string()).unwrap_or_default();
            std::future::ready(Ok(Response::new(Body::from(id))))
        }
    }
    let (recorder, emitter) = recorder();
    let service = ServiceBuilder::new().layer(XrayLayer::new("svc").with_recorder(recorder)).service(SeesContext);
    let response = service.oneshot(request("/", &[])).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let doc = only_document(&emitter);
    assert_eq!(std::str::from_utf8(&body).unwrap(), doc["id"].as_str().unwrap());
}

#[tokio::test]
async fn a_body_that_fails_midway_is_a_fault() {
    /// One chunk, then an error.
    struct Breaks(bool);
    impl http_body::Body for Breaks {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            if std::mem::replace(&mut self.0, true) {
                Poll::Ready(Some(Err(std::io::Error::other("upstream stream broke"))))
            } else {
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"part")))))
            }
        }
    }
    let (recorder, emitter) = recorder();
    let app = Router::new()
        .route("/", get(|| async { Body::new(Breaks(false)) }))
        .layer(XrayLayer::new("svc").with_recorder(recorder));
    let response = app.oneshot(request("/", &[])).await.unwrap();
    assert!(response.into_body().collect().await.is_err());

    let doc = only_document(&emitter);
    assert_eq!(doc["http"]["response"]["status"], 200);
    assert_eq!(doc["http"]["response"]["content_length"], 4);
    assert!(flag(&doc, "fault"));
    assert_eq!(doc["cause"]["exceptions"][0]["type"], xray_tower::BODY_ERROR_TYPE);
    assert_eq!(doc["cause"]["exceptions"][0]["message"], "upstream stream broke");
}
