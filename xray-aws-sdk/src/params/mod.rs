//! The parameters the official X-Ray SDKs record for each service (their parameter
//! whitelist, snake-cased), read from the operation's typed input and output: never by
//! parsing the wire body, and never a message body, an item or an attribute value. Each
//! service's extraction is behind its own cargo feature; without it the service's calls keep
//! the generic fields.

use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};
use serde_json::{Map, Value};

#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "sesv2")]
mod sesv2;
#[cfg(feature = "sns")]
mod sns;
#[cfg(feature = "sqs")]
mod sqs;

/// The `aws` fields being filled.
pub(crate) type Fields = Map<String, Value>;

/// Adds the request parameters of `operation` on `service` (the SDK's service id).
pub(crate) fn request(service: &str, operation: &str, input: &Input, out: &mut Fields) {
    let _ = (operation, input, &out);
    match service {
        #[cfg(feature = "dynamodb")]
        "DynamoDB" => dynamodb::request(operation, input, out),
        #[cfg(feature = "s3")]
        "S3" => s3::request(operation, input, out),
        #[cfg(feature = "sqs")]
        "SQS" => sqs::request(operation, input, out),
        #[cfg(feature = "sns")]
        "SNS" => sns::request(operation, input, out),
        #[cfg(feature = "sesv2")]
        "SESv2" => sesv2::request(operation, input, out),
        #[cfg(feature = "lambda")]
        "Lambda" => lambda::request(operation, input, out),
        _ => {}
    }
}

/// Adds the response parameters of `operation` on `service`.
pub(crate) fn response(service: &str, operation: &str, output: &Output, out: &mut Fields) {
    let _ = (operation, output, &out);
    match service {
        #[cfg(feature = "dynamodb")]
        "DynamoDB" => dynamodb::response(operation, output, out),
        #[cfg(feature = "sqs")]
        "SQS" => sqs::response(operation, output, out),
        #[cfg(feature = "sesv2")]
        "SESv2" => sesv2::response(operation, output, out),
        #[cfg(feature = "lambda")]
        "Lambda" => lambda::response(operation, output, out),
        _ => {}
    }
}

/// Sets `key` when there is a value.
#[allow(dead_code)] // without any service feature
pub(crate) fn put(out: &mut Fields, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        out.insert(key.to_owned(), value.into());
    }
}

/// The names (never the values) of a map's keys, sorted so that documents compare.
#[allow(dead_code)]
pub(crate) fn names<'a>(keys: impl Iterator<Item = &'a String>) -> Value {
    let mut names: Vec<&String> = keys.collect();
    names.sort_unstable();
    Value::from(names.into_iter().map(|k| Value::from(k.as_str())).collect::<Vec<_>>())
}
