//! The layer in process, with a capturing recorder: panics and the `_X_AMZN_TRACE_ID` fallback.

use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use tower::{Layer, ServiceExt};
use xray_lambda::{PANIC_TYPE, XrayLambdaLayer};

fn context() -> Context {
    let mut context = Context::default();
    context.request_id = "req-panic".into();
    context.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into());
    context
}

#[tokio::test]
async fn a_panicking_handler_is_a_fault_flushed_before_the_panic_goes_on() {
    let capture = xray_core::test::Capture::with(|b| b.with_service_name("fn"));
    let handler = service_fn(|_event: LambdaEvent<()>| async {
        if true {
            panic!("out of stock");
        }
        Ok::<(), Error>(())
    });
    let service = XrayLambdaLayer::default().with_recorder(capture.recorder().clone()).layer(handler);
    let joined = tokio::spawn(service.oneshot(LambdaEvent::new((), context()))).await;
    assert!(joined.unwrap_err().is_panic(), "the panic travels on to the runtime");
    let docs = capture.take();
    let doc = &docs[0];
    xray_tests::assert_valid(doc);
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["cause"]["exceptions"][0]["type"], PANIC_TYPE);
    assert_eq!(doc["cause"]["exceptions"][0]["message"], "out of stock");
}

#[tokio::test]
async fn without_a_recorder_the_handler_runs_untraced() {
    let handler = service_fn(|event: LambdaEvent<u8>| async move {
        assert!(xray_core::integration::current_quiet().is_noop());
        Ok::<_, Error>(event.payload + 1)
    });
    // No global recorder is installed in this test binary.
    let service = XrayLambdaLayer::default().layer(handler);
    assert_eq!(service.oneshot(LambdaEvent::new(1, context())).await.unwrap(), 2);
}
