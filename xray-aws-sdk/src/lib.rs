//! # xray-aws-sdk
//!
//! AWS X-Ray tracing for the AWS SDK for Rust.
