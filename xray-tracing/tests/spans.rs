//! Spans through a real `tracing_subscriber` registry become subsegments: under an axum request
//! through `xray_tower::XrayLayer`, across `tokio::spawn`, with filters, fields and errors.

use std::sync::{Arc, Barrier};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use serde_json::Value;
use tower::ServiceExt;
use tracing::level_filters::LevelFilter;
use tracing::{Instrument, Span, instrument};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};
use xray_core::TraceFutureExt;
use xray_core::integration::current_quiet;
use xray_core::test::Capture;
use xray_tests::assert_valid;

fn subscriber(layer: impl Layer<Registry> + Send + Sync) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(layer)
}

fn documents(capture: &Capture) -> Vec<Value> {
    let docs = capture.take();
    for doc in &docs {
        assert_valid(doc);
    }
    docs
}

fn names(doc: &Value) -> Vec<String> {
    doc["subsegments"]
        .as_array()
        .map_or_else(Vec::new, |subs| subs.iter().map(|s| s["name"].as_str().unwrap_or_default().to_owned()).collect())
}

#[instrument(fields(xray.annotation.user_id = id))]
async fn load_user(id: u64) -> String {
    query_db(id).await;
    xray_core::current().annotate("loaded", true);
    "ok".to_owned()
}

#[instrument(skip_all, fields(rows = 1))]
async fn query_db(id: u64) {
    // `current()` is this function's subsegment, across the await as well.
    xray_core::current().annotate("query_for", id);
    tokio::task::yield_now().await;
    xray_core::current().add_metadata("after_yield", true);
}

async fn send(app: &Router, uri: &str) -> String {
    let request = Request::get(uri).header("host", "svc.test").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn instrumented_functions_under_an_axum_request_become_nested_subsegments() {
    let capture = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber(xray_tracing::layer()));
    let app = Router::new()
        .route("/users/7", get(|| load_user(7)))
        .layer(xray_tower::XrayLayer::new("svc").with_recorder(capture.recorder().clone()));

    assert_eq!(send(&app, "/users/7").await, "ok");

    let docs = documents(&capture);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let segment = &docs[0];
    assert_eq!(segment["name"], "svc");
    assert_eq!(names(segment), ["load_user"]);
    let load = &segment["subsegments"][0];
    assert_eq!(load["annotations"]["user_id"], 7);
    assert_eq!(load["annotations"]["loaded"], true);
    assert_eq!(load["metadata"]["tracing"]["id"], 7);
    assert!(load["end_time"].as_f64().is_some());
    assert_eq!(names(load), ["query_db"]);
    let query = &load["subsegments"][0];
    assert_eq!(query["annotations"]["query_for"], 7);
    assert_eq!(query["metadata"]["tracing"]["rows"], 1);
    assert_eq!(query["metadata"]["default"]["after_yield"], true);
    // The segment itself got nothing that belonged to the spans.
    assert!(segment.get("annotations").is_none_or(|a| a.get("query_for").is_none()));
}

#[tokio::test]
async fn an_instrumented_spawned_task_stays_in_the_trace() {
    let capture = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber(xray_tracing::layer()));
    let segment = capture.recorder().new_segment("svc");
    async {
        let span = tracing::info_span!("background", job = "mail");
        // No `in_current_trace`: the span carries the subsegment into the task.
        tokio::spawn(
            async {
                xray_core::current().annotate("in_task", true);
                load_user(9).await;
            }
            .instrument(span),
        )
        .await
        .unwrap();
    }
    .with_entity(segment.entity())
    .await;
    segment.end();

    let docs = documents(&capture);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(names(&docs[0]), ["background"]);
    let background = &docs[0]["subsegments"][0];
    assert_eq!(background["annotations"]["in_task"], true);
    assert_eq!(background["metadata"]["tracing"]["job"], "mail");
    assert_eq!(names(background), ["load_user"]);
    assert_eq!(names(&background["subsegments"][0]), ["query_db"]);
}

#[tokio::test]
async fn debug_spans_and_the_spans_of_recorded_crates_stay_out_by_default() {
    let capture = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber(xray_tracing::layer()));
    let segment = capture.recorder().new_segment("svc");
    segment.in_scope(|| {
        tracing::debug_span!("connection").in_scope(|| {});
        tracing::trace_span!("poll").in_scope(|| {});
        // What sqlx, tower-http, the AWS SDK and hyper emit, even when raised to INFO.
        tracing::info_span!(target: "sqlx::query", "statement").in_scope(|| {});
        tracing::info_span!(target: "tower_http::trace::make_span", "request").in_scope(|| {});
        tracing::info_span!(target: "aws_smithy_runtime::client::orchestrator", "try_op").in_scope(|| {});
        tracing::info_span!(target: "aws_sdk_s3::operation", "GetObject").in_scope(|| {});
        tracing::info_span!(target: "hyper::proto", "parse_headers").in_scope(|| {});
        tracing::info_span!("kept").in_scope(|| {});
        tracing::warn_span!("kept_too").in_scope(|| {});
    });
    segment.end();
    assert_eq!(names(&documents(&capture)[0]), ["kept", "kept_too"]);
}

#[tokio::test]
async fn the_layer_bound_and_a_per_layer_filter_choose_the_spans() {
    let capture = Capture::new();
    let layer = xray_tracing::layer()
        .with_max_level(LevelFilter::TRACE)
        .with_filter(EnvFilter::new("warn,my_app=debug,my_app::cache=off"));
    let _guard = tracing::subscriber::set_default(subscriber(layer));
    let segment = capture.recorder().new_segment("svc");
    segment.in_scope(|| {
        tracing::debug_span!(target: "my_app::db", "lookup").in_scope(|| {});
        tracing::info_span!(target: "my_app::cache", "get").in_scope(|| {});
        tracing::trace_span!(target: "my_app::db", "too_verbose").in_scope(|| {});
        tracing::info_span!(target: "other_crate", "below_warn").in_scope(|| {});
        // The default exclusions still hold under a permissive filter.
        tracing::warn_span!(target: "sqlx::query", "statement").in_scope(|| {});
    });
    segment.end();
    assert_eq!(names(&documents(&capture)[0]), ["lookup"]);

    // `with_max_level` alone: DEBUG spans count, TRACE spans do not.
    let _guard = tracing::subscriber::set_default(subscriber(xray_tracing::layer().with_max_level(LevelFilter::DEBUG)));
    let segment = capture.recorder().new_segment("svc");
    segment.in_scope(|| {
        tracing::debug_span!("dbg").in_scope(|| {});
        tracing::trace_span!("trc").in_scope(|| {});
    });
    segment.end();
    assert_eq!(names(&documents(&capture)[0]), ["dbg"]);
}

#[tokio::test]
async fn outside_a_trace_spans_record_nothing_and_leave_the_context_empty() {
    let capture = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber(xray_tracing::layer()));
    load_user(1).await;
    tracing::info_span!("alone").in_scope(|| assert!(current_quiet().is_noop()));
    assert!(documents(&capture).is_empty());
}

#[derive(Debug)]
struct Timeout;
impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream timed out")
    }
}
impl std::error::Error for Timeout {}

#[test]
fn names_errors_annotations_recorded_later_and_error_events() {
    let capture = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber(xray_tracing::layer()));
    let segment = capture.recorder().new_segment("svc");
    segment.in_scope(|| {
        tracing::info_span!("renamed", otel.name = "GET /orders").in_scope(|| {});
        tracing::info_span!("flagged", error = true).in_scope(|| {});
        let err = Timeout;
        tracing::info_span!("failed", error = &err as &(dyn std::error::Error + 'static)).in_scope(|| {});
        tracing::info_span!("client", xray.error = true, xray.namespace = "remote").in_scope(|| {});
        let later =
            tracing::info_span!("later", xray.annotation.order = tracing::field::Empty, step = tracing::field::Empty);
        later.in_scope(|| {
            Span::current().record("xray.annotation.order", "o-1").record("step", 2);
            tracing::error!(code = 7, "payment refused");
            tracing::warn!("only a warning");
        });
    });
    segment.end();

    let doc = &documents(&capture)[0];
    assert_eq!(names(doc), ["GET /orders", "flagged", "failed", "client", "later"]);
    let sub = |i: usize| &doc["subsegments"][i];
    assert_eq!(sub(1)["fault"], true);
    assert_eq!(sub(2)["fault"], true);
    assert_eq!(sub(2)["cause"]["exceptions"][0]["message"], "upstream timed out");
    assert_eq!(sub(3)["error"], true);
    assert_eq!(sub(3)["namespace"], "remote");
    let later = sub(4);
    assert_eq!(later["annotations"]["order"], "o-1");
    assert_eq!(later["metadata"]["tracing"]["step"], 2);
    let exceptions = later["cause"]["exceptions"].as_array().unwrap();
    assert_eq!(exceptions.len(), 1, "only the ERROR event: {exceptions:#?}");
    assert_eq!(exceptions[0]["message"], "payment refused");
    assert!(later.get("fault").is_none(), "an ERROR log line does not fail the span");
}

#[instrument]
fn login(user: &str, password: &str, api_token: &str) {
    let _ = (user, password, api_token);
}

#[test]
fn secret_looking_fields_are_redacted_and_long_values_cut() {
    let capture = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber(xray_tracing::layer()));
    let segment = capture.recorder().new_segment("svc");
    segment.in_scope(|| {
        login("ada", "hunter2", "t0k3n");
        let long = "x".repeat(10_000);
        tracing::info_span!("big", body = %long).in_scope(|| {});
    });
    segment.end();
    let doc = &documents(&capture)[0];
    let fields = &doc["subsegments"][0]["metadata"]["tracing"];
    assert_eq!(fields["user"], "ada");
    assert_eq!(fields["password"], "[redacted]");
    assert_eq!(fields["api_token"], "[redacted]");
    assert!(!doc.to_string().contains("hunter2"));
    let body = doc["subsegments"][1]["metadata"]["tracing"]["body"].as_str().unwrap();
    assert!(body.len() <= xray_tracing::MAX_VALUE_BYTES + 3 && body.ends_with('…'), "{}", body.len());
}

#[test]
fn a_span_entered_on_several_threads_at_once_is_current_on_each() {
    let capture = Capture::new();
    let dispatch = tracing::Dispatch::new(subscriber(xray_tracing::layer()));
    let segment = capture.recorder().new_segment("svc");
    let span = tracing::dispatcher::with_default(&dispatch, || {
        segment.in_scope(|| tracing::info_span!("shared", xray.annotation.kind = "fan-out"))
    });
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let (dispatch, span, barrier) = (dispatch.clone(), span.clone(), barrier.clone());
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let own = capture_id(&span, || {
                        barrier.wait(); // every thread is inside the span at once
                        xray_core::current().annotate(&format!("thread_{n}"), n);
                        current_quiet().id()
                    });
                    assert!(current_quiet().is_noop(), "exit put back the thread's empty context");
                    own
                })
            })
        })
        .collect();
    let ids: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    drop(span);
    segment.end();

    let doc = &documents(&capture)[0];
    let shared = &doc["subsegments"][0];
    assert_eq!(shared["name"], "shared");
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(id.map(|i| i.to_string()).as_deref(), shared["id"].as_str());
        assert_eq!(shared["annotations"][format!("thread_{n}")], n);
    }
}

fn capture_id<R>(span: &Span, f: impl FnOnce() -> R) -> R {
    span.in_scope(f)
}

#[test]
fn an_unsampled_trace_follows_the_span_but_records_nothing() {
    let capture = Capture::with(|b| b.with_sampler(xray_core::NeverSample));
    let _guard = tracing::subscriber::set_default(subscriber(xray_tracing::layer()));
    let segment = capture.recorder().new_segment("svc");
    let trace_id = segment.trace_id();
    assert!(trace_id.is_some() && !segment.is_sampled());
    let span = segment.in_scope(|| tracing::info_span!("work"));
    // Entered elsewhere (another task, no X-Ray context), the span brings the trace id along.
    span.in_scope(|| assert_eq!(current_quiet().trace_id(), trace_id));
    drop(span);
    segment.end();
    assert!(documents(&capture).is_empty());
}
