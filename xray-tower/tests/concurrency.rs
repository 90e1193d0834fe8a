//! 10,000 concurrent requests on a multi-threaded runtime: each gets exactly one segment,
//! carrying its own trace id and its own annotations, never another request's.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use common::*;
use xray_core::TraceId;
use xray_tower::XrayLayer;

const REQUESTS: u32 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_requests_each_get_their_own_segment() {
    let (recorder, emitter) = recorder();
    let app = Router::new()
        .route(
            "/items/{id}",
            get(|Path(id): Path<u32>| async move {
                xray_core::current().annotate("item", id);
                // Interleave with the other requests before and inside a subsegment.
                tokio::task::yield_now().await;
                xray_core::in_subsegment("load", async move {
                    tokio::task::yield_now().await;
                    xray_core::current().annotate("loaded", id);
                })
                .await;
                tokio::task::yield_now().await;
                xray_core::current().annotate("done", id);
                id.to_string()
            }),
        )
        .layer(XrayLayer::new("svc").with_recorder(recorder));

    let mut tasks = tokio::task::JoinSet::new();
    let mut roots = Vec::with_capacity(REQUESTS as usize);
    for id in 0..REQUESTS {
        let root = TraceId::new().to_string();
        roots.push(root.clone());
        let app = app.clone();
        tasks.spawn(async move {
            let header = format!("Root={root};Sampled=1");
            let (response, body) = send(&app, request(&format!("/items/{id}"), &[("x-amzn-trace-id", &header)])).await;
            assert_eq!(body, id.to_string());
            assert_eq!(trace_header(&response), format!("Root={root}"));
        });
    }
    let all = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap();
        }
    })
    .await;
    assert!(all.is_ok(), "the requests did not all complete");

    let docs = documents(&emitter);
    assert_eq!(docs.len(), REQUESTS as usize);
    let mut seen = HashSet::new();
    for doc in &docs {
        let url = doc["http"]["request"]["url"].as_str().unwrap();
        let id: u32 = url.rsplit('/').next().unwrap().parse().unwrap();
        assert!(seen.insert(id), "request {id} has two segments");
        assert_eq!(doc["trace_id"], roots[id as usize].as_str(), "request {id} in the wrong trace");
        let annotations = doc["annotations"].as_object().unwrap();
        assert_eq!(annotations.len(), 2, "{doc}");
        assert_eq!(doc["annotations"]["item"], id);
        assert_eq!(doc["annotations"]["done"], id);
        let subsegments = doc["subsegments"].as_array().unwrap();
        assert_eq!(subsegments.len(), 1);
        assert_eq!(subsegments[0]["annotations"]["loaded"], id);
    }
    assert_eq!(seen.len(), REQUESTS as usize);
}
