//! Amazon EKS: the pod's hostname and the container's id, from inside the container.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::container::ProcFiles;
use super::{Env, Resource};

/// Detects a Kubernetes pod and describes it as the `eks` block (`pod`, `container_id`, and
/// `cluster_name` when given) with origin [`Eks::ORIGIN`].
///
/// A pod is recognised by `KUBERNETES_SERVICE_HOST`, which Kubernetes sets in every container.
/// That does not tell EKS from other Kubernetes distributions, and the cluster's name is not
/// visible from inside a pod: the official SDKs ask the Kubernetes API for the `cluster-info`
/// ConfigMap, which needs a service-account token, RBAC permissions and a TLS client this crate
/// does not carry. Pass the name with [`with_cluster_name`](Eks::with_cluster_name) (for
/// example from an environment variable set in the pod spec) to have it recorded.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use xray_core::plugins::Eks;
/// let env = |name: &str| match name {
///     "KUBERNETES_SERVICE_HOST" => Some("10.100.0.1".to_owned()),
///     "HOSTNAME" => Some("orders-7d9f8-x2x4q".to_owned()),
///     _ => None,
/// };
/// let resource = Eks::new().with_env(env).with_cluster_name("prod").detect().await.unwrap();
/// assert_eq!(resource.origin.as_deref(), Some(Eks::ORIGIN));
/// assert_eq!(resource.aws["eks"]["pod"], "orders-7d9f8-x2x4q");
/// assert_eq!(resource.aws["eks"]["cluster_name"], "prod");
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Eks {
    env: Env,
    files: ProcFiles,
    cluster_name: Option<String>,
}

impl Default for Eks {
    fn default() -> Self {
        Self::new()
    }
}

impl Eks {
    /// The `origin` of a segment recorded in an EKS container.
    pub const ORIGIN: &'static str = "AWS::EKS::Container";

    /// A detector for the process environment and the real `/proc` files.
    pub fn new() -> Self {
        Self { env: Env::process(), files: ProcFiles::default(), cluster_name: None }
    }

    /// How environment variables are read (`KUBERNETES_SERVICE_HOST`, `HOSTNAME`). Defaults to
    /// the process environment.
    pub fn with_env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Env::from_fn(lookup);
        self
    }

    /// The cgroup file that names the container. Defaults to `/proc/self/cgroup` (and
    /// `/proc/self/mountinfo` beside it for cgroup v2).
    pub fn with_cgroup_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.cgroup = path.into();
        self.files.mountinfo = self.files.cgroup.with_file_name("mountinfo");
        self
    }

    /// The EKS cluster's name, recorded as `cluster_name`. Defaults to none (see above why it is
    /// not discovered).
    pub fn with_cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = Some(name.into());
        self
    }

    /// The EKS resource, or `None` outside Kubernetes. Reads two small local files, no network.
    pub async fn detect(&self) -> Option<Resource> {
        self.env.get("KUBERNETES_SERVICE_HOST")?;
        let mut block = Map::new();
        let fields = [
            ("pod", self.files.hostname(&self.env)),
            ("cluster_name", self.cluster_name.clone()),
            ("container_id", self.files.container_id()),
        ];
        for (key, value) in fields {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                block.insert(key.into(), value.into());
            }
        }
        Some(Resource::new(Self::ORIGIN).with_block("eks", Value::Object(block)))
    }
}
