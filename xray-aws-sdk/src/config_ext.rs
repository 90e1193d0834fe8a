//! [`instrument`] and [`XrayConfigExt`]: the interceptor on a service's config builder.

#[allow(unused_imports)] // used by the impls of the enabled service features
use crate::XrayInterceptor;

/// A service config builder that takes the [`XrayInterceptor`]: implemented for the
/// `config::Builder` of each service whose cargo feature is on (any other service takes
/// `.interceptor(XrayInterceptor::new())`, which is all this does).
pub trait XrayConfigExt: Sized {
    /// The builder with the interceptor added.
    #[must_use]
    fn with_xray(self) -> Self;
}

/// `builder` with the [`XrayInterceptor`] added; the shortest form for a service with its
/// feature on: `Client::from_conf(xray_aws_sdk::instrument(Builder::from(&sdk_config)).build())`.
pub fn instrument<B: XrayConfigExt>(builder: B) -> B {
    builder.with_xray()
}

macro_rules! config_ext {
    ($($feature:literal => $krate:ident),+ $(,)?) => {$(
        #[cfg(feature = $feature)]
        impl XrayConfigExt for $krate::config::Builder {
            fn with_xray(self) -> Self {
                self.interceptor(XrayInterceptor::new())
            }
        }
    )+};
}

config_ext!(
    "dynamodb" => aws_sdk_dynamodb,
    "s3" => aws_sdk_s3,
    "sqs" => aws_sdk_sqs,
    "sns" => aws_sdk_sns,
    "sesv2" => aws_sdk_sesv2,
    "lambda" => aws_sdk_lambda,
);
