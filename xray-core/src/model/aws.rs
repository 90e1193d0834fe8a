//! The `aws` block and `service` block.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The SDK's name as reported in `aws.xray.sdk`.
pub const SDK_NAME: &str = "X-Ray for Rust";
/// The SDK's version as reported in `aws.xray.sdk_version`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `aws` block: the SDK, sampling and resource information, or an AWS call's details.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Aws {
    /// The recording SDK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xray: Option<XraySdk>,
    /// The AWS account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// For an AWS call: the API operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// For an AWS call: the region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// For an AWS call: the request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Resource blocks such as `ec2`, `ecs`, `eks`, `elastic_beanstalk`, and anything else.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `aws.xray`: which SDK recorded the document and which sampling rule chose it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct XraySdk {
    /// The SDK's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<Cow<'static, str>>,
    /// The SDK's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk_version: Option<Cow<'static, str>>,
    /// The sampling rule that decided to record this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_rule_name: Option<String>,
}

impl XraySdk {
    /// This SDK's name and version.
    pub fn this_sdk() -> Self {
        Self {
            sdk: Some(Cow::Borrowed(SDK_NAME)),
            sdk_version: Some(Cow::Borrowed(SDK_VERSION)),
            sampling_rule_name: None,
        }
    }
}

/// The `service` block.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Service {
    /// The version of the application that served the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}
