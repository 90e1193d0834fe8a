//! Amazon EC2: the instance identity document from the instance metadata service (IMDS).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::endpoint::Target;
use super::error::{DetectError, settle};
use super::{Env, Resource};

const TOKEN_PATH: &str = "/latest/api/token";
const IDENTITY_PATH: &str = "/latest/dynamic/instance-identity/document";
const TOKEN_TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";

/// Detects an Amazon EC2 instance through IMDS and describes it as the `ec2` block
/// (`instance_id`, `availability_zone`, `instance_size`, `ami_id`) with origin
/// [`Ec2::ORIGIN`].
///
/// IMDSv2 first (a session token from `PUT /latest/api/token`), then IMDSv1 when the token is
/// refused or never comes (a container behind a hop limit of 1). The whole exchange has one
/// deadline, so a process off EC2 waits at most that long at start-up.
/// `AWS_EC2_METADATA_DISABLED=true` skips it, and so does Lambda (`AWS_LAMBDA_FUNCTION_NAME`),
/// which has no IMDS.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// if let Some(resource) = xray_core::plugins::Ec2::new().detect().await {
///     println!("{:?} {}", resource.origin, resource.aws["ec2"]["instance_id"]);
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Ec2 {
    endpoint: SocketAddr,
    timeout: Duration,
    env: Env,
}

impl Default for Ec2 {
    fn default() -> Self {
        Self::new()
    }
}

impl Ec2 {
    /// The `origin` of a segment recorded on an EC2 instance.
    pub const ORIGIN: &'static str = "AWS::EC2::Instance";
    /// IMDS's address.
    pub const DEFAULT_ENDPOINT: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)), 80);
    /// The default start-up budget for the whole exchange.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

    /// A detector for the real IMDS and the process environment.
    pub fn new() -> Self {
        Self { endpoint: Self::DEFAULT_ENDPOINT, timeout: Self::DEFAULT_TIMEOUT, env: Env::process() }
    }

    /// Where IMDS listens. Defaults to [`Ec2::DEFAULT_ENDPOINT`] (`169.254.169.254:80`).
    pub fn with_endpoint(mut self, endpoint: SocketAddr) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// The most the whole exchange may take (token, then document). Defaults to
    /// [`Ec2::DEFAULT_TIMEOUT`], one second.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How environment variables are read. Defaults to the process environment.
    pub fn with_env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Env::from_fn(lookup);
        self
    }

    /// The EC2 resource, or `None` off EC2 (quietly) or when IMDS answers nonsense (logged).
    pub async fn detect(&self) -> Option<Resource> {
        if self.env.get("AWS_LAMBDA_FUNCTION_NAME").is_some()
            || self.env.get("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return None;
        }
        settle!("EC2", self.fetch().await)
    }

    pub(crate) async fn fetch(&self) -> Result<Resource, DetectError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let base = Target { authority: self.endpoint.to_string(), path: String::new() };
        // Half the budget for the token: if its answer is lost (hop limit), IMDSv1 still has time.
        let token_target = base.with_path(TOKEN_PATH.to_owned());
        let token = match token_target.send("PUT", &[(TOKEN_TTL_HEADER, "60")], self.timeout / 2).await {
            Ok(answer) if answer.status == 200 => {
                String::from_utf8(answer.body).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
            }
            // Refused (an IMDSv1-only endpoint, or a proxy that blocks PUT) or lost: try v1.
            Ok(_) | Err(DetectError::Timeout { .. }) => None,
            Err(e) => return Err(e),
        };
        let headers: Vec<(&str, &str)> = token.as_deref().map(|t| (TOKEN_HEADER, t)).into_iter().collect();
        let identity = base.with_path(IDENTITY_PATH.to_owned());
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let doc: IdentityDocument = identity.get_json(&headers, left).await?;
        doc.into_resource(&identity)
    }
}

/// The fields of the instance identity document that X-Ray shows.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityDocument {
    instance_id: Option<String>,
    availability_zone: Option<String>,
    instance_type: Option<String>,
    image_id: Option<String>,
}

impl IdentityDocument {
    fn into_resource(self, from: &Target) -> Result<Resource, DetectError> {
        let instance_id = self
            .instance_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| DetectError::Missing { source_name: from.to_string(), field: "instanceId" })?;
        let mut block = Map::new();
        block.insert("instance_id".into(), instance_id.into());
        for (key, value) in [
            ("availability_zone", self.availability_zone),
            ("instance_size", self.instance_type),
            ("ami_id", self.image_id),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                block.insert(key.into(), value.into());
            }
        }
        Ok(Resource::new(Ec2::ORIGIN).with_block("ec2", Value::Object(block)))
    }
}
