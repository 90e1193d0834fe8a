//! The layer in one subscriber with X-Ray's own integrations and the spans their libraries
//! emit: an outgoing call through xray-reqwest, beside reqwest-tracing's INFO span, is one
//! subsegment, never two; the AWS SDK's and lambda_runtime's spans stay out at every level.
//! (xray-sqlx: `sqlx_stack.rs`.)

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use tracing::instrument;
use tracing::level_filters::LevelFilter;
use xray_core::TraceFutureExt;
use xray_core::test::Capture;

mod common;

use common::{Seen, subscriber, subsegments, tree};

async fn serve() -> SocketAddr {
    let app = Router::new().route("/users/{id}", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[instrument(skip(client))]
async fn fetch_user(client: &reqwest_middleware::ClientWithMiddleware, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn an_outgoing_call_through_xray_reqwest_is_one_subsegment_beside_reqwest_tracing() {
    let addr = serve().await;
    let url = format!("http://{addr}/users/7");
    // reqwest-tracing's INFO span wraps the call that XrayMiddleware records.
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(reqwest_tracing::TracingMiddleware::default())
        .with(xray_reqwest::XrayMiddleware::default())
        .build();

    let run = |xray: xray_tracing::XrayLayer| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let capture = Capture::new();
            let seen = Seen::default();
            let _guard = tracing::subscriber::set_default(subscriber(&seen, xray));
            let segment = capture.recorder().new_segment("front");
            let body = fetch_user(&client, &url).with_entity(segment.entity()).await;
            segment.end();
            assert_eq!(body, "ok");
            (subsegments(&capture), seen)
        }
    };

    let ((docs, subs), seen) = run(xray_tracing::layer().with_max_level(LevelFilter::TRACE)).await;
    assert!(
        seen.span_targets().iter().any(|t| t.starts_with("reqwest_tracing")),
        "reqwest-tracing opened its span: {:?}",
        seen.span_targets()
    );
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let shape: Vec<(&str, &str)> = subs.iter().map(|(p, s)| (p.as_str(), s["name"].as_str().unwrap())).collect();
    assert_eq!(shape, [("front", "fetch_user"), ("fetch_user", "127.0.0.1")], "{docs:#?}");
    let call = &subs[1].1;
    assert_eq!(call["namespace"], "remote");
    assert_eq!(call["http"]["response"]["status"], 200);

    // The control: without the default exclusions, reqwest-tracing's span (renamed `GET` by
    // its `otel.name`) is a second subsegment for the same call, which the exclusions prevent.
    let ((docs, subs), _) = run(xray_tracing::layer().with_excluded_targets(Vec::<&str>::new())).await;
    let mut names: Vec<&str> = subs.iter().map(|(_, s)| s["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["127.0.0.1", "GET", "fetch_user"], "{docs:#?}");
}

/// An `aws_sdk_*` operation's span (DEBUG, named after the operation, as the generated crates
/// open it around the orchestrator), the orchestrator's and lambda_runtime's: left out by
/// target even when the layer records every level. (`xray-aws-sdk` records the operation.)
#[test]
fn the_aws_sdk_and_lambda_runtime_spans_are_left_out_at_every_level() {
    let capture = Capture::new();
    let seen = Seen::default();
    let _guard =
        tracing::subscriber::set_default(subscriber(&seen, xray_tracing::layer().with_max_level(LevelFilter::TRACE)));
    let segment = capture.recorder().new_segment("svc");
    segment.in_scope(|| {
        let op = tracing::debug_span!(target: "aws_sdk_s3::operation::get_object", "S3.GetObject", rpc.service = "S3");
        op.in_scope(|| {
            tracing::debug_span!(target: "aws_smithy_runtime::client::orchestrator", "try_op").in_scope(|| {
                tracing::debug_span!(target: "aws_smithy_runtime::client::orchestrator", "try_attempt", attempt = 1)
                    .in_scope(|| {});
            });
        });
        tracing::debug_span!(target: "aws_config::default_provider::credentials", "default_credentials_chain")
            .in_scope(|| {});
        tracing::debug_span!(target: "aws_runtime::env_config::source", "load_config_file").in_scope(|| {});
        tracing::info_span!(target: "lambda_runtime::layers::trace", "Lambda runtime invoke").in_scope(|| {});
        tracing::debug_span!(target: "xray_aws_sdk::interceptor", "call").in_scope(|| {});
        tracing::debug_span!("kept").in_scope(|| {});
    });
    segment.end();
    assert_eq!(seen.span_targets().len(), 8);
    let (doc, subs) = tree(&capture);
    let names: Vec<&str> = subs.iter().map(|(_, s)| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["kept"], "{doc:#}");
}
