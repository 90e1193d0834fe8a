//! # xray-aws-sdk
//!
//! AWS X-Ray tracing for the AWS SDK for Rust: every operation of a client becomes an `aws`
//! subsegment of the current trace, named by the service as X-Ray names it, with the fields
//! the official X-Ray SDKs record, and each request carries the trace header, so that an SQS
//! message or a Lambda invocation continues the trace. It is an interceptor, the AWS SDK's own
//! extension point ([`XrayInterceptor`]); nothing changes per call.
//!
//! ```
//! use aws_sdk_dynamodb::config::{BehaviorVersion, Builder, Credentials, Region};
//! use aws_smithy_http_client::test_util::infallible_client_fn;
//! use xray_core::TraceFutureExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // A stand-in for DynamoDB that answers every request and shows the header it got.
//! let http_client = infallible_client_fn(|request| {
//!     assert!(request.headers()["x-amzn-trace-id"].to_str().unwrap().contains(";Parent="));
//!     http::Response::builder()
//!         .header("x-amzn-requestid", "R3Q1D")
//!         .body(r#"{"Item":{"id":{"S":"7"}}}"#)
//!         .unwrap()
//! });
//! let config = Builder::new()
//!     .behavior_version(BehaviorVersion::latest())
//!     .region(Region::new("eu-west-1"))
//!     .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "example"))
//!     .http_client(http_client)
//!     // The one line that matters (or `xray_aws_sdk::instrument(builder)` with the `dynamodb` feature):
//!     .interceptor(xray_aws_sdk::XrayInterceptor::new())
//!     .build();
//! let dynamo = aws_sdk_dynamodb::Client::from_conf(config);
//!
//! let capture = xray_core::test::Capture::new(); // in production: Recorder::from_env()?.install()?
//! let segment = capture.recorder().new_segment("orders");
//! let key = aws_sdk_dynamodb::types::AttributeValue::S("7".into());
//! let item = dynamo.get_item().table_name("orders").key("id", key).send().with_entity(segment.entity()).await;
//! assert!(item.unwrap().item().is_some());
//! segment.end();
//!
//! let call = &capture.take()[0]["subsegments"][0];
//! assert_eq!(call["name"], "DynamoDB");
//! assert_eq!(call["namespace"], "aws");
//! assert_eq!(call["aws"]["operation"], "GetItem");
//! assert_eq!(call["aws"]["region"], "eu-west-1");
//! assert_eq!(call["aws"]["request_id"], "R3Q1D");
//! assert_eq!(call["aws"]["retries"], 0);
//! assert_eq!(call["http"]["response"]["status"], 200);
//! # }
//! ```
//!
//! ## Adding it to a client
//! The interceptor goes on each service's config builder, since the shared `SdkConfig` that
//! `aws_config::load_defaults` returns holds no interceptors (and an HTTP-client wrapper on it
//! would see requests without their service, operation or typed input):
//!
//! ```no_run
//! # fn clients(sdk_config: &aws_types::SdkConfig) {
//! // `sdk_config`: `aws_config::load_defaults(BehaviorVersion::latest()).await`
//! let dynamo = aws_sdk_dynamodb::Client::from_conf(
//!     aws_sdk_dynamodb::config::Builder::from(sdk_config).interceptor(xray_aws_sdk::XrayInterceptor::new()).build(),
//! );
//! // With the service's feature on (here `sqs`), the same as:
//! # #[cfg(feature = "sqs")]
//! let sqs = aws_sdk_sqs::Client::from_conf(xray_aws_sdk::instrument(aws_sdk_sqs::config::Builder::from(sdk_config)).build());
//! # }
//! ```
//!
//! ## What is recorded
//! See [`XrayInterceptor`]. Every service gets the generic subsegment (service, operation,
//! region, request id, retries, status, errors); the whitelisted parameters of the official
//! SDKs come from the typed input and output behind one cargo feature per service, so that
//! only the AWS crates in use are compiled:
//!
//! | feature | fields |
//! |---|---|
//! | `dynamodb` | `table_name`, `table_names` (batch), `consistent_read`, `projection_expression`, `index_name`, `limit`, `select`, `scan_index_forward`, `segment`, `total_segments`, `attributes_to_get`; response `consumed_capacity`, `count`, `scanned_count`, `table_count` |
//! | `sqs` | `queue_url`, `queue_name`, `delay_seconds`, `message_attribute_names`, `attribute_names`, `max_number_of_messages`, `visibility_timeout`, `wait_time_seconds`, `message_count`; response `message_id`, `message_count`, `failed_count`, `successful_count`, `queue_count` |
//! | `sns` | `topic_arn`, `target_arn` |
//! | `s3` | `bucket_name`, `key`, `version_id`, `prefix`, `copy_source` |
//! | `lambda` | `function_name`, `invocation_type`, `log_type`, `qualifier`; response `function_error`, `status_code` |
//! | `sesv2` | `destination_count`; response `message_id` |
//!
//! Never recorded: message bodies, items, keys, attribute values, e-mail addresses.
//!
//! ## Queues
//! With the `sqs` feature, [`sqs::in_message_trace`] runs a received message's processing in
//! its producer's trace (from the message's `AWSTraceHeader`).
//!
//! ## Cost
//! Outside a trace the interceptor returns at once; in an unsampled trace it only adds the
//! `Sampled=0` header. Sampled, it records in memory; nothing is sent from the request path.

mod call;
mod config_ext;
mod interceptor;
mod naming;
mod params;
mod propagate;
#[cfg(feature = "sqs")]
pub mod sqs;

pub use config_ext::{XrayConfigExt, instrument};
pub use interceptor::XrayInterceptor;
pub use naming::service_name;
