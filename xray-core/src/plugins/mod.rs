//! Resource plugins: find out where the service runs, once at start-up, and stamp every
//! segment with its `origin` and an `aws` resource block.
//!
//! | detector | present when | `origin` | `aws` block |
//! |---|---|---|---|
//! | [`Ec2`] | the instance metadata service answers (IMDSv2, then v1) | `AWS::EC2::Instance` | `ec2`: `instance_id`, `availability_zone`, `instance_size`, `ami_id` |
//! | [`Ecs`] | `ECS_CONTAINER_METADATA_URI_V4` (or `_URI`) is set | `AWS::ECS::Container` | `ecs`: `container`, `container_id`, `container_arn`, `task_arn`, `task_family`, `cluster_arn`, `availability_zone`, `launch_type`; `cloudwatch_logs` |
//! | [`Eks`] | `KUBERNETES_SERVICE_HOST` is set | `AWS::EKS::Container` | `eks`: `pod`, `container_id`, `cluster_name` (if given) |
//! | [`ElasticBeanstalk`] | `/var/elasticbeanstalk/xray/environment.conf` exists | `AWS::ElasticBeanstalk::Environment` | `elastic_beanstalk`: `environment_name`, `version_label`, `deployment_id` |
//!
//! [`detect_all`] runs the four side by side and merges what they find: every block is kept,
//! and the most specific origin wins (Elastic Beanstalk, then EKS, then ECS, then EC2), as the
//! X-Ray developer guide asks. Its cost is the slowest detector, at most the EC2 budget of one
//! second on a machine where IMDS does not answer; set `AWS_EC2_METADATA_DISABLED=true` to skip
//! EC2. Detection never panics and never runs on the request path: its result goes into the
//! recorder through [`RecorderBuilder::with_resource`](crate::RecorderBuilder::with_resource),
//! and segments copy it from there. A platform that is absent costs no log line; one that is
//! present but answers nonsense is logged (rate-limited) and left out.
//!
//! ```
//! use std::sync::Arc;
//! use serde_json::json;
//! use xray_core::plugins::{Ec2, Resource};
//! use xray_core::{AlwaysSample, MemoryEmitter, Recorder};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // In production: let resource = xray_core::plugins::detect_all().await;
//! let resource = Resource::new(Ec2::ORIGIN)
//!     .with_block("ec2", json!({"instance_id": "i-0abc1234def567890", "availability_zone": "eu-west-1a"}));
//!
//! let emitter = Arc::new(MemoryEmitter::new());
//! let recorder = Recorder::builder()
//!     .with_service_name("orders")
//!     .with_resource(resource)
//!     .with_sampler(AlwaysSample)
//!     .with_emitter(emitter.clone())
//!     .build()
//!     .unwrap();
//! recorder.new_segment("orders").end();
//!
//! let doc = &emitter.documents()[0];
//! assert_eq!(doc["origin"], "AWS::EC2::Instance");
//! assert_eq!(doc["aws"]["ec2"]["instance_id"], "i-0abc1234def567890");
//! # }
//! ```

use std::sync::Arc;

mod container;
mod detect;
mod ec2;
mod ecs;
mod eks;
mod elastic_beanstalk;
mod endpoint;
mod error;
mod resource;
#[cfg(test)]
mod tests;

pub(crate) use detect::join;
pub use detect::{Detectors, detect_all};
pub use ec2::Ec2;
pub use ecs::Ecs;
pub use eks::Eks;
pub use elastic_beanstalk::ElasticBeanstalk;
pub use resource::Resource;

/// Looks one environment variable up.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Reads environment variables: the process's, or a closure's in tests.
#[derive(Clone)]
pub(crate) struct Env(Arc<Lookup>);

impl Env {
    pub(crate) fn process() -> Self {
        Self::from_fn(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_fn(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(lookup))
    }

    /// The variable's value, trimmed; `None` when unset or blank.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env(..)")
    }
}
