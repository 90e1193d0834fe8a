//! Amazon ECS: the container's hostname and id, and what the task metadata endpoint says.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::container::ProcFiles;
use super::endpoint::Target;
use super::error::DetectError;
use super::{Env, Resource, join};
use crate::log::log_limited;

/// The variables the ECS agent sets in every container, newest first.
const METADATA_VARIABLES: [&str; 2] = ["ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI"];

/// Detects an Amazon ECS container (EC2 or Fargate launch type) and describes it as the `ecs`
/// block with origin [`Ecs::ORIGIN`].
///
/// The container counts as ECS when the agent's `ECS_CONTAINER_METADATA_URI_V4` (or, on older
/// agents, `ECS_CONTAINER_METADATA_URI`) is set. The block always has `container` (the
/// hostname); the task metadata endpoint adds `container_id`, `container_arn`, `task_arn`,
/// `task_family`, `cluster_arn`, `availability_zone` and `launch_type`, and an `awslogs` log
/// configuration becomes `aws.cloudwatch_logs`. When the endpoint fails, that is logged and
/// the hostname block is still returned: the variable alone proves the platform.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let resource = xray_core::plugins::Ecs::new().detect().await;
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Ecs {
    env: Env,
    files: ProcFiles,
    timeout: Duration,
}

impl Default for Ecs {
    fn default() -> Self {
        Self::new()
    }
}

impl Ecs {
    /// The `origin` of a segment recorded in an ECS container.
    pub const ORIGIN: &'static str = "AWS::ECS::Container";

    /// A detector for the process environment and the real `/proc` files.
    pub fn new() -> Self {
        Self { env: Env::process(), files: ProcFiles::default(), timeout: Duration::from_secs(1) }
    }

    /// How environment variables are read (the metadata address, `HOSTNAME`). Defaults to the
    /// process environment.
    pub fn with_env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Env::from_fn(lookup);
        self
    }

    /// The cgroup file that names the container when the endpoint does not. Defaults to
    /// `/proc/self/cgroup` (and `/proc/self/mountinfo` beside it for cgroup v2).
    pub fn with_cgroup_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.cgroup = path.into();
        self.files.mountinfo = self.files.cgroup.with_file_name("mountinfo");
        self
    }

    /// The most each request to the metadata endpoint may take. Defaults to one second.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The ECS resource, or `None` outside ECS.
    pub async fn detect(&self) -> Option<Resource> {
        let uri = METADATA_VARIABLES.iter().find_map(|name| self.env.get(name))?;
        let mut block = Map::new();
        if let Some(hostname) = self.files.hostname(&self.env) {
            block.insert("container".into(), hostname.into());
        }
        let mut resource = Resource::new(Self::ORIGIN);
        match self.metadata(&uri).await {
            Ok((container, task)) => describe(&mut block, &mut resource, container, task),
            Err(e) => {
                log_limited!(Warn, error = %e, "X-Ray plugins: ECS task metadata unusable; recording the hostname only")
            }
        }
        if !block.contains_key("container_id")
            && let Some(id) = self.files.container_id()
        {
            block.insert("container_id".into(), id.into());
        }
        Some(resource.with_block("ecs", Value::Object(block)))
    }

    /// The container's metadata and, if it could be read, its task's.
    async fn metadata(&self, uri: &str) -> Result<(ContainerMetadata, Option<TaskMetadata>), DetectError> {
        let container = Target::parse(uri)?;
        let task = container.with_path(format!("{}/task", container.path.trim_end_matches('/')));
        let (container_answer, task_answer) = join(
            container.get_json::<ContainerMetadata>(&[], self.timeout),
            task.get_json::<TaskMetadata>(&[], self.timeout),
        )
        .await;
        let container = container_answer?;
        let task = task_answer
            .inspect_err(|e| log_limited!(Warn, error = %e, "X-Ray plugins: ECS task description unusable"))
            .ok();
        Ok((container, task))
    }
}

/// `${ECS_CONTAINER_METADATA_URI_V4}`: this container.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerMetadata {
    docker_id: Option<String>,
    #[serde(rename = "ContainerARN")]
    container_arn: Option<String>,
    #[serde(default)]
    labels: Map<String, Value>,
    log_driver: Option<String>,
    #[serde(default)]
    log_options: Map<String, Value>,
}

/// `${ECS_CONTAINER_METADATA_URI_V4}/task`: the task it belongs to.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskMetadata {
    cluster: Option<String>,
    #[serde(rename = "TaskARN")]
    task_arn: Option<String>,
    family: Option<String>,
    availability_zone: Option<String>,
    launch_type: Option<String>,
}

/// Fills the `ecs` block (and `cloudwatch_logs`) from the endpoint's answers; the container's
/// labels stand in for a task description that could not be read.
fn describe(block: &mut Map<String, Value>, resource: &mut Resource, c: ContainerMetadata, t: Option<TaskMetadata>) {
    let t = t.unwrap_or_default();
    let label = |key: &str| c.labels.get(key).and_then(Value::as_str).map(str::to_owned);
    let task_arn = t.task_arn.or_else(|| label("com.amazonaws.ecs.task-arn"));
    let cluster = t.cluster.or_else(|| label("com.amazonaws.ecs.cluster"));
    let cluster_arn = cluster.and_then(|cluster| cluster_arn(&cluster, task_arn.as_deref()));
    let fields = [
        ("container_id", c.docker_id),
        ("container_arn", c.container_arn.clone()),
        ("task_arn", task_arn.clone()),
        ("task_family", t.family.or_else(|| label("com.amazonaws.ecs.task-definition-family"))),
        ("cluster_arn", cluster_arn),
        ("availability_zone", t.availability_zone),
        ("launch_type", t.launch_type),
    ];
    for (key, value) in fields {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            block.insert(key.into(), value.into());
        }
    }
    let option = |key: &str| c.log_options.get(key).and_then(Value::as_str).filter(|v| !v.is_empty());
    if c.log_driver.as_deref() == Some("awslogs")
        && let Some(group) = option("awslogs-group")
    {
        let owner = c.container_arn.as_deref().or(task_arn.as_deref()).and_then(arn_parts);
        let mut log = json!({ "log_group": group });
        if let (Some(region), Some((partition, _, account))) = (option("awslogs-region"), owner) {
            log["arn"] = format!("arn:{partition}:logs:{region}:{account}:log-group:{group}").into();
        }
        resource.aws.insert("cloudwatch_logs".into(), json!([log]));
    }
}

/// `(partition, region, account)` of an ARN.
fn arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    match arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", partition, _service, region, account, _, ..] if !account.is_empty() => {
            Some((partition, region, account))
        }
        _ => None,
    }
}

/// The cluster's ARN: given as such by newer agents, a short name otherwise, completed from
/// the task's ARN (same partition, region and account).
fn cluster_arn(cluster: &str, task_arn: Option<&str>) -> Option<String> {
    if cluster.starts_with("arn:") {
        return Some(cluster.to_owned());
    }
    let (partition, region, account) = task_arn.and_then(arn_parts)?;
    Some(format!("arn:{partition}:ecs:{region}:{account}:cluster/{cluster}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_cluster_arns() {
        let task = "arn:aws:ecs:us-west-2:111122223333:task/default/8f03e41243824aea923aca126495f665";
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("default", Some(task), Some("arn:aws:ecs:us-west-2:111122223333:cluster/default")),
            ("arn:aws:ecs:us-west-2:111122223333:cluster/prod", None, Some("arn:aws:ecs:us-west-2:111122223333:cluster/prod")),
            ("default", Some("arn:aws-cn:ecs:cn-north-1:123:task/x/y"), Some("arn:aws-cn:ecs:cn-north-1:123:cluster/default")),
            ("default", None, None),
            ("default", Some("not-an-arn"), None),
            ("default", Some("arn:aws:ecs:us-west-2::task/x"), None),
        ];
        for (cluster, task, want) in cases {
            assert_eq!(cluster_arn(cluster, *task).as_deref(), *want, "{cluster} {task:?}");
        }
    }

    #[test]
    fn labels_stand_in_for_a_missing_task_description() {
        let container: ContainerMetadata = serde_json::from_value(json!({
            "DockerId": "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66",
            "Labels": {
                "com.amazonaws.ecs.cluster": "default",
                "com.amazonaws.ecs.task-arn": "arn:aws:ecs:us-west-2:111122223333:task/default/8f03",
                "com.amazonaws.ecs.task-definition-family": "curltest",
                "com.amazonaws.ecs.task-definition-version": 24
            },
            "LogDriver": "awslogs",
            "LogOptions": {"awslogs-group": "/ecs/metadata", "awslogs-region": "us-west-2"}
        }))
        .unwrap();
        let (mut block, mut resource) = (Map::new(), Resource::new(Ecs::ORIGIN));
        describe(&mut block, &mut resource, container, None);
        assert_eq!(
            Value::Object(block),
            json!({
                "container_id": "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66",
                "task_arn": "arn:aws:ecs:us-west-2:111122223333:task/default/8f03",
                "task_family": "curltest",
                "cluster_arn": "arn:aws:ecs:us-west-2:111122223333:cluster/default"
            })
        );
        // No container ARN: the task's ARN names the account of the log group.
        assert_eq!(
            resource.aws["cloudwatch_logs"],
            json!([{"log_group": "/ecs/metadata", "arn": "arn:aws:logs:us-west-2:111122223333:log-group:/ecs/metadata"}])
        );
    }
}
