//! One trace across services: a caller, an axum service traced by `xray_tower::XrayLayer`
//! that calls a second one through `XrayMiddleware`, and that second service. Each service
//! has its own recorder, as separate processes would.

mod common;

use axum::Router;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::routing::get;
use common::{WAIT, expected_header, only_document, recorder, serve, subsegments};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::Value;
use xray_core::{AlwaysSample, NeverSample, Recorder, Sampler, TraceFutureExt};
use xray_reqwest::XrayMiddleware;
use xray_tower::XrayLayer;

fn client() -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new()).with(XrayMiddleware::default()).build()
}

/// `stock`: answers with the trace header it received.
fn stock(recorder: Recorder) -> Router {
    Router::new()
        .route(
            "/stock/{id}",
            get(|headers: HeaderMap| async move {
                headers.get("x-amzn-trace-id").map_or("none".to_owned(), |v| v.to_str().unwrap().to_owned())
            }),
        )
        .layer(XrayLayer::new("stock").with_recorder(recorder))
}

/// `orders`: asks `stock` (at `stock_addr`) from inside its own traced request.
fn orders(recorder: Recorder, stock_addr: std::net::SocketAddr) -> Router {
    let client = client();
    Router::new()
        .route(
            "/orders/{id}",
            get(move |Path(id): Path<u32>| async move {
                let response = client.get(format!("http://{stock_addr}/stock/{id}")).send().await.unwrap();
                response.text().await.unwrap()
            }),
        )
        .layer(XrayLayer::new("orders").with_recorder(recorder))
}

/// Starts `stock` and `orders` with the given samplers; returns the `orders` address.
async fn services(
    sampler: impl Sampler + Clone,
) -> (std::net::SocketAddr, std::sync::Arc<xray_core::MemoryEmitter>, std::sync::Arc<xray_core::MemoryEmitter>) {
    let (stock_recorder, stock_docs) = recorder("stock", sampler.clone());
    let (orders_recorder, orders_docs) = recorder("orders", sampler);
    let stock_addr = serve(stock(stock_recorder)).await;
    let orders_addr = serve(orders(orders_recorder, stock_addr)).await;
    (orders_addr, orders_docs, stock_docs)
}

fn one(docs: Vec<Value>) -> Value {
    assert_eq!(docs.len(), 1, "{docs:#?}");
    xray_tests::assert_valid(&docs[0]);
    docs.into_iter().next().unwrap()
}

#[tokio::test]
async fn one_trace_across_three_hops() {
    let (orders_addr, orders_docs, stock_docs) = services(AlwaysSample).await;
    let (caller, caller_docs) = recorder("frontend", AlwaysSample);

    let segment = caller.new_segment("frontend");
    let response =
        client().get(format!("http://{orders_addr}/orders/7")).send().with_entity(segment.entity()).await.unwrap();
    let stock_received = response.text().await.unwrap();
    segment.end();

    let frontend = only_document(&caller_docs);
    let orders = one(orders_docs.wait_for(1, WAIT));
    let stock = one(stock_docs.wait_for(1, WAIT));
    let frontend_call = &subsegments(&frontend)[0];
    let orders_call = &subsegments(&orders)[0];

    // The callee's segment continues the caller's trace, under the caller's subsegment.
    let trace_id = &frontend["trace_id"];
    assert_eq!(&orders["trace_id"], trace_id);
    assert_eq!(&stock["trace_id"], trace_id);
    assert_eq!(orders["parent_id"], frontend_call["id"]);
    assert_eq!(stock["parent_id"], orders_call["id"]);
    assert_eq!(stock_received, expected_header(&orders, orders_call));

    assert_eq!(orders["name"], "orders");
    assert_eq!(orders["http"]["request"]["url"], format!("http://{orders_addr}/orders/7"));
    assert_eq!(orders["http"]["response"]["status"], 200);
    assert_eq!(orders_call["namespace"], "remote");
    assert_eq!(orders_call["http"]["request"]["traced"], true);
    assert_eq!(orders_call["http"]["response"]["status"], 200);
    assert_eq!(stock["name"], "stock");
}

#[tokio::test]
async fn an_unsampled_trace_stays_unsampled_downstream() {
    // The services would sample everything: the caller's `Sampled=0` must win at each hop.
    let (orders_addr, orders_docs, stock_docs) = services(AlwaysSample).await;
    let (caller, caller_docs) = recorder("frontend", NeverSample);

    let segment = caller.new_segment("frontend");
    let trace_id = segment.trace_id().unwrap();
    let stock_received = client()
        .get(format!("http://{orders_addr}/orders/7"))
        .send()
        .with_entity(segment.entity())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    segment.end();

    assert_eq!(stock_received, format!("Root={trace_id};Sampled=0"));
    assert!(caller_docs.documents().is_empty());
    assert!(orders_docs.documents().is_empty());
    assert!(stock_docs.documents().is_empty());
}
