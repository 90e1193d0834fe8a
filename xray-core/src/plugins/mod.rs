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

#[cfg(test)]
mod tests {
    // The detectors against real loopback servers (a fake IMDS, a fake ECS agent), real files,
    // and a recorder whose segments carry what they found.

    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use http_body_util::Full;
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};
    use serde_json::{Value, json};

    use super::error::DetectError;
    use super::*;
    use crate::{AlwaysSample, MemoryEmitter, Recorder};

    /// A directory of its own under the system's temporary directory, removed when dropped.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(name: &str) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("xray-plugins-{}-{name}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        pub(crate) fn path(&self, file: &str) -> PathBuf {
            self.0.join(file)
        }

        pub(crate) fn write(&self, file: &str, text: &str) -> PathBuf {
            let path = self.path(file);
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// One request as the fake server saw it.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        path: String,
        headers: Vec<(String, String)>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }
    }

    /// A real HTTP/1.1 server (hyper) on 127.0.0.1:0 that answers with `answer` and records
    /// every request; stops when dropped.
    struct FakeServer {
        addr: SocketAddr,
        seen: Arc<Mutex<Vec<Seen>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl FakeServer {
        async fn start(answer: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let answer = Arc::new(answer);
            let state = seen.clone();
            let task = tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (state, answer) = (state.clone(), answer.clone());
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                            let seen = Seen {
                                method: req.method().to_string(),
                                path: req.uri().path().to_owned(),
                                headers: req
                                    .headers()
                                    .iter()
                                    .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_owned()))
                                    .collect(),
                            };
                            let (status, body) = answer(&seen);
                            state.lock().unwrap().push(seen);
                            let mut response = Response::new(Full::new(Bytes::from(body)));
                            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            async move { Ok::<_, Infallible>(response) }
                        });
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                    });
                }
            });
            Self { addr, seen, task }
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl Drop for FakeServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// An environment of exactly these variables.
    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + use<> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    const CONTAINER_ID: &str = "9f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";

    fn identity_document() -> String {
        json!({
            "accountId": "111122223333", "architecture": "x86_64", "availabilityZone": "eu-west-1b",
            "imageId": "ami-0a1b2c3d4e5f67890", "instanceId": "i-0123456789abcdef0", "instanceType": "m7g.large",
            "pendingTime": "2025-01-10T08:00:00Z", "privateIp": "10.0.1.17", "region": "eu-west-1", "version": "2017-09-30"
        })
        .to_string()
    }

    /// An IMDS that requires IMDSv2: a token from `PUT`, then the document only with it.
    fn imds_v2(seen: &Seen) -> (u16, String) {
        match (seen.method.as_str(), seen.path.as_str()) {
            ("PUT", "/latest/api/token") if seen.header("x-aws-ec2-metadata-token-ttl-seconds") == Some("60") => {
                (200, "AQAEAtok-123==".into())
            }
            ("PUT", _) => (400, "missing ttl".into()),
            ("GET", "/latest/dynamic/instance-identity/document")
                if seen.header("x-aws-ec2-metadata-token") == Some("AQAEAtok-123==") =>
            {
                (200, identity_document())
            }
            ("GET", "/latest/dynamic/instance-identity/document") => (401, String::new()),
            _ => (404, String::new()),
        }
    }

    /// An IMDSv1-only endpoint (or a proxy that refuses PUT).
    fn imds_v1(seen: &Seen) -> (u16, String) {
        match (seen.method.as_str(), seen.path.as_str()) {
            ("GET", "/latest/dynamic/instance-identity/document") => (200, identity_document()),
            ("PUT", _) => (405, "method not allowed".into()),
            _ => (404, String::new()),
        }
    }

    fn ec2_for(server: &FakeServer) -> Ec2 {
        Ec2::new().with_endpoint(server.addr).with_timeout(Duration::from_secs(5)).with_env(env(&[]))
    }

    fn expected_ec2_block() -> Value {
        json!({
            "instance_id": "i-0123456789abcdef0", "availability_zone": "eu-west-1b",
            "instance_size": "m7g.large", "ami_id": "ami-0a1b2c3d4e5f67890"
        })
    }

    #[tokio::test]
    async fn ec2_uses_an_imdsv2_token_for_the_identity_document() {
        let imds = FakeServer::start(imds_v2).await;
        let resource = ec2_for(&imds).detect().await.expect("EC2 detected");
        assert_eq!(resource.origin.as_deref(), Some("AWS::EC2::Instance"));
        assert_eq!(Value::Object(resource.aws), json!({ "ec2": expected_ec2_block() }));
        let seen = imds.seen();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("PUT", "/latest/api/token"));
        assert_eq!(seen[1].header("x-aws-ec2-metadata-token"), Some("AQAEAtok-123=="));
    }

    #[tokio::test]
    async fn ec2_falls_back_to_imdsv1_when_the_token_is_refused() {
        let imds = FakeServer::start(imds_v1).await;
        let resource = ec2_for(&imds).detect().await.expect("EC2 detected through IMDSv1");
        assert_eq!(resource.aws["ec2"], expected_ec2_block());
        let seen = imds.seen();
        assert_eq!(seen.iter().map(|s| s.method.as_str()).collect::<Vec<_>>(), ["PUT", "GET"]);
        assert_eq!(seen[1].header("x-aws-ec2-metadata-token"), None, "IMDSv1 has no token");
    }

    #[tokio::test]
    async fn ec2_gives_up_on_a_silent_imds_within_its_deadline() {
        // Accepts connections and never answers, like IMDS behind a dropped hop.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let holder = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                open.push(stream);
            }
        });
        let ec2 = Ec2::new().with_endpoint(addr).with_timeout(Duration::from_millis(200)).with_env(env(&[]));
        let outcome = tokio::time::timeout(Duration::from_secs(10), ec2.detect()).await;
        assert_eq!(outcome.expect("detection ends by its own deadline"), None);
        assert!(matches!(ec2.fetch().await, Err(e @ DetectError::Timeout { .. }) if e.means_absent()));
        // The lost token was followed by an IMDSv1 attempt: two connections per detection.
        for _ in 0..200 {
            if accepted.load(Ordering::SeqCst) >= 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        holder.abort();
    }

    #[tokio::test]
    async fn ec2_is_quietly_absent_when_nothing_listens() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let ec2 = Ec2::new().with_endpoint(closed).with_env(env(&[]));
        let err = ec2.fetch().await.unwrap_err();
        assert!(matches!(err, DetectError::Unreachable { .. }) && err.means_absent(), "{err}");
        assert_eq!(ec2.detect().await, None);
    }

    #[tokio::test]
    async fn ec2_answers_that_make_no_sense_are_typed_errors() {
        type Case = (fn(&Seen) -> (u16, String), fn(&DetectError) -> bool);
        let cases: [Case; 3] = [
            (|_| (200, "<html>captive portal</html>".into()), |e| matches!(e, DetectError::Json { .. })),
            (
                |_| (200, r#"{"region":"eu-west-1"}"#.into()),
                |e| matches!(e, DetectError::Missing { field: "instanceId", .. }),
            ),
            (
                |s| if s.method == "PUT" { (200, "t".into()) } else { (500, "oops".into()) },
                |e| matches!(e, DetectError::Status { status: 500, .. }),
            ),
        ];
        for (answer, is_expected) in cases {
            let imds = FakeServer::start(answer).await;
            let ec2 = ec2_for(&imds);
            let err = ec2.fetch().await.unwrap_err();
            assert!(is_expected(&err) && !err.means_absent(), "{err}");
            assert_eq!(ec2.detect().await, None);
        }
    }

    #[tokio::test]
    async fn ec2_is_skipped_on_lambda_and_when_disabled() {
        let imds = FakeServer::start(imds_v2).await;
        for vars in [[("AWS_EC2_METADATA_DISABLED", "TRUE")], [("AWS_LAMBDA_FUNCTION_NAME", "checkout")]] {
            assert_eq!(ec2_for(&imds).with_env(env(&vars)).detect().await, None);
        }
        assert!(imds.seen().is_empty(), "no request at all: {:?}", imds.seen());
        let enabled = ec2_for(&imds).with_env(env(&[("AWS_EC2_METADATA_DISABLED", "false")]));
        assert!(enabled.detect().await.is_some());
    }

    const TASK_ARN: &str = "arn:aws:ecs:eu-west-1:111122223333:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0";

    /// The ECS agent's task metadata endpoint (v4 paths) for one container.
    fn ecs_agent(seen: &Seen) -> (u16, String) {
        match seen.path.as_str() {
            "/v4/0f1e2d3c-container" => (
                200,
                json!({
                    "DockerId": CONTAINER_ID, "Name": "orders", "DockerName": "ecs-orders-3-orders-a1b2c3",
                    "Image": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders:1.4.2",
                    "Labels": { "com.amazonaws.ecs.cluster": "prod", "com.amazonaws.ecs.task-arn": TASK_ARN },
                    "ContainerARN": "arn:aws:ecs:eu-west-1:111122223333:container/prod/0f1e/5d6c",
                    "LogDriver": "awslogs",
                    "LogOptions": { "awslogs-group": "/ecs/orders", "awslogs-region": "eu-west-1", "awslogs-stream": "ecs/orders/0f1e" }
                })
                .to_string(),
            ),
            "/v4/0f1e2d3c-container/task" => (
                200,
                json!({
                    "Cluster": "arn:aws:ecs:eu-west-1:111122223333:cluster/prod", "TaskARN": TASK_ARN,
                    "Family": "orders", "Revision": "3", "AvailabilityZone": "eu-west-1c", "LaunchType": "FARGATE",
                    "Containers": []
                })
                .to_string(),
            ),
            _ => (404, "not found".into()),
        }
    }

    fn ecs_env(server: &FakeServer) -> impl Fn(&str) -> Option<String> + Send + Sync + use<> {
        let uri = format!("http://{}/v4/0f1e2d3c-container", server.addr);
        env(&[("ECS_CONTAINER_METADATA_URI_V4", uri.as_str()), ("HOSTNAME", "ip-10-0-1-17.eu-west-1.compute.internal")])
    }

    fn expected_ecs_block() -> Value {
        json!({
            "container": "ip-10-0-1-17.eu-west-1.compute.internal",
            "container_id": CONTAINER_ID,
            "container_arn": "arn:aws:ecs:eu-west-1:111122223333:container/prod/0f1e/5d6c",
            "task_arn": TASK_ARN,
            "task_family": "orders",
            "cluster_arn": "arn:aws:ecs:eu-west-1:111122223333:cluster/prod",
            "availability_zone": "eu-west-1c",
            "launch_type": "FARGATE"
        })
    }

    #[tokio::test]
    async fn ecs_reads_the_container_and_task_metadata() {
        let agent = FakeServer::start(ecs_agent).await;
        let resource = Ecs::new().with_env(ecs_env(&agent)).detect().await.expect("ECS detected");
        assert_eq!(resource.origin.as_deref(), Some("AWS::ECS::Container"));
        assert_eq!(
            Value::Object(resource.aws),
            json!({
                "ecs": expected_ecs_block(),
                "cloudwatch_logs": [{ "log_group": "/ecs/orders", "arn": "arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/orders" }]
            })
        );
        let mut paths: Vec<String> = agent.seen().into_iter().map(|s| s.path).collect();
        paths.sort();
        assert_eq!(paths, ["/v4/0f1e2d3c-container", "/v4/0f1e2d3c-container/task"]);
    }

    #[tokio::test]
    async fn ecs_keeps_the_hostname_and_cgroup_id_when_the_endpoint_fails() {
        let agent = FakeServer::start(|_| (500, "agent restarting".into())).await;
        let dir = TempDir::new("ecs");
        let cgroup = dir.write("cgroup", &format!("9:perf_event:/ecs/0f1e2d3c/{CONTAINER_ID}\n"));
        let resource = Ecs::new().with_env(ecs_env(&agent)).with_cgroup_path(cgroup).detect().await.unwrap();
        assert_eq!(
            Value::Object(resource.aws),
            json!({ "ecs": { "container": "ip-10-0-1-17.eu-west-1.compute.internal", "container_id": CONTAINER_ID } })
        );
    }

    #[tokio::test]
    async fn ecs_needs_its_variable_and_falls_back_to_the_v3_one() {
        assert_eq!(Ecs::new().with_env(env(&[("HOSTNAME", "h")])).detect().await, None);

        let agent = FakeServer::start(|s| {
            if s.path == "/v3/abc" {
                (200, json!({ "DockerId": CONTAINER_ID }).to_string())
            } else {
                (404, String::new())
            }
        })
        .await;
        let uri = format!("http://{}/v3/abc", agent.addr);
        let ecs = Ecs::new().with_env(env(&[("ECS_CONTAINER_METADATA_URI", &uri), ("HOSTNAME", "h")]));
        let resource = ecs.detect().await.unwrap();
        // The v3 task description failed (404): the container's answer is still used.
        assert_eq!(resource.aws["ecs"], json!({ "container": "h", "container_id": CONTAINER_ID }));
    }

    #[tokio::test]
    async fn elastic_beanstalk_reads_its_environment_file() {
        let dir = TempDir::new("beanstalk");
        let conf = r#"{"deployment_id":32,"version_label":"app-5a56-170119_190650","environment_name":"scorekeep","extra":[1]}"#;
        let path = dir.write("environment.conf", conf);
        let resource = ElasticBeanstalk::new().with_path(&path).detect().await.expect("Beanstalk detected");
        assert_eq!(resource.origin.as_deref(), Some("AWS::ElasticBeanstalk::Environment"));
        assert_eq!(
            resource.aws["elastic_beanstalk"],
            json!({ "environment_name": "scorekeep", "version_label": "app-5a56-170119_190650", "deployment_id": 32 })
        );

        // A quoted deployment id still becomes the number X-Ray expects.
        let path = dir.write("quoted.conf", r#"{"environment_name":"e","deployment_id":"7"}"#);
        let resource = ElasticBeanstalk::new().with_path(path).detect().await.unwrap();
        assert_eq!(resource.aws["elastic_beanstalk"], json!({ "environment_name": "e", "deployment_id": 7 }));
    }

    #[tokio::test]
    async fn elastic_beanstalk_broken_or_missing_files_give_nothing() {
        let dir = TempDir::new("beanstalk-bad");
        type Case = (PathBuf, fn(&DetectError) -> bool, bool);
        let cases: [Case; 3] = [
            (
                dir.write("truncated.conf", r#"{"environment_name": "scorek"#),
                |e| matches!(e, DetectError::Json { .. }),
                false,
            ),
            (
                dir.write("nameless.conf", r#"{"version_label": "v1"}"#),
                |e| matches!(e, DetectError::Missing { .. }),
                false,
            ),
            (dir.path("absent.conf"), |e| matches!(e, DetectError::Read { .. }), true),
        ];
        for (path, is_expected, absent) in cases {
            let detector = ElasticBeanstalk::new().with_path(&path);
            let err = detector.read().unwrap_err();
            assert!(is_expected(&err) && err.means_absent() == absent, "{}: {err}", path.display());
            assert_eq!(detector.detect().await, None);
        }
    }

    #[tokio::test]
    async fn eks_reads_the_pod_and_container_from_inside() {
        let dir = TempDir::new("eks");
        let cgroup = dir.write(
            "cgroup",
            &format!("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod3c4d.slice/cri-containerd-{CONTAINER_ID}.scope\n"),
        );
        let vars = [("KUBERNETES_SERVICE_HOST", "10.100.0.1"), ("HOSTNAME", "orders-7d9f8b6c5-x2x4q")];
        let eks = Eks::new().with_env(env(&vars)).with_cgroup_path(&cgroup);
        let resource = eks.clone().detect().await.expect("EKS detected");
        assert_eq!(resource.origin.as_deref(), Some("AWS::EKS::Container"));
        assert_eq!(resource.aws["eks"], json!({ "pod": "orders-7d9f8b6c5-x2x4q", "container_id": CONTAINER_ID }));
        let named = eks.with_cluster_name("prod-eu").detect().await.unwrap();
        assert_eq!(named.aws["eks"]["cluster_name"], "prod-eu");

        assert_eq!(Eks::new().with_env(env(&[("HOSTNAME", "laptop")])).detect().await, None);
    }

    /// Every platform at once: a multicontainer Beanstalk environment on ECS on EC2, plus a
    /// Kubernetes variable; each detector against its own fake.
    #[tokio::test]
    async fn detect_all_merges_blocks_and_keeps_the_most_specific_origin() {
        let (imds, agent) = (FakeServer::start(imds_v2).await, FakeServer::start(ecs_agent).await);
        let dir = TempDir::new("all");
        let conf =
            dir.write("environment.conf", r#"{"environment_name":"scorekeep","version_label":"v9","deployment_id":4}"#);
        let ec2 = ec2_for(&imds);
        let ecs = Ecs::new().with_env(ecs_env(&agent));
        let eks = Eks::new().with_env(env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1"), ("HOSTNAME", "pod-1")]));
        let beanstalk = ElasticBeanstalk::new().with_path(conf);
        let absent_beanstalk = ElasticBeanstalk::new().with_path(dir.path("absent.conf"));
        let absent_eks = Eks::new().with_env(env(&[]));
        let all = || {
            Detectors::none()
                .with_ec2(ec2.clone())
                .with_ecs(ecs.clone())
                .with_eks(eks.clone())
                .with_elastic_beanstalk(beanstalk.clone())
        };

        let resource = all().detect().await;
        assert_eq!(resource.origin.as_deref(), Some("AWS::ElasticBeanstalk::Environment"));
        let mut keys: Vec<&str> = resource.aws.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["cloudwatch_logs", "ec2", "ecs", "eks", "elastic_beanstalk"]);

        let origin = |d: Detectors| async move { d.detect().await.origin };
        let no_beanstalk = all().with_elastic_beanstalk(absent_beanstalk.clone());
        assert_eq!(origin(no_beanstalk.clone()).await.as_deref(), Some("AWS::EKS::Container"));
        let ecs_on_ec2 = no_beanstalk.with_eks(absent_eks);
        assert_eq!(origin(ecs_on_ec2).await.as_deref(), Some("AWS::ECS::Container"));
        assert_eq!(origin(Detectors::none().with_ec2(ec2.clone())).await.as_deref(), Some("AWS::EC2::Instance"));
        let nothing = Detectors::none().with_elastic_beanstalk(absent_beanstalk).detect().await;
        assert!(nothing.is_empty(), "{nothing:?}");
    }

    #[tokio::test]
    async fn segments_carry_the_detected_origin_and_blocks() {
        let (imds, agent) = (FakeServer::start(imds_v2).await, FakeServer::start(ecs_agent).await);
        let resource =
            Detectors::none().with_ec2(ec2_for(&imds)).with_ecs(Ecs::new().with_env(ecs_env(&agent))).detect().await;

        let emitter = Arc::new(MemoryEmitter::new());
        let recorder = Recorder::builder()
            .with_service_name("orders")
            .with_resource(resource)
            .with_sampler(AlwaysSample)
            .with_emitter(emitter.clone())
            .build()
            .unwrap();
        recorder.new_segment("orders").end();
        recorder.new_segment("orders").end();

        let docs = emitter.documents();
        assert_eq!(docs.len(), 2);
        for doc in &docs {
            xray_tests::assert_valid(doc);
            assert_eq!(doc["origin"], "AWS::ECS::Container");
            assert_eq!(doc["aws"]["ec2"], expected_ec2_block());
            assert_eq!(doc["aws"]["ecs"], expected_ecs_block());
            assert_eq!(doc["aws"]["cloudwatch_logs"][0]["log_group"], "/ecs/orders");
            assert_eq!(doc["aws"]["xray"]["sdk"], "X-Ray for Rust", "the SDK block stays beside the resource");
        }
    }

    #[test]
    fn merging_keeps_what_is_there_and_the_most_specific_origin() {
        let mut base = Resource::new(Ecs::ORIGIN)
            .with_block("ecs", json!({ "container": "a" }))
            .with_block("cloudwatch_logs", json!([{ "log_group": "g1" }]));
        base.merge(
            Resource::new(Ec2::ORIGIN)
                .with_block("ecs", json!({ "container": "b", "container_id": "c" }))
                .with_block("cloudwatch_logs", json!([{ "log_group": "g1" }, { "log_group": "g2" }]))
                .with_block("ec2", json!({ "instance_id": "i-1" })),
        );
        assert_eq!(base.origin.as_deref(), Some(Ecs::ORIGIN), "EC2 is less specific than ECS");
        assert_eq!(
            Value::Object(base.aws.clone()),
            json!({
                "ecs": { "container": "a", "container_id": "c" },
                "cloudwatch_logs": [{ "log_group": "g1" }, { "log_group": "g2" }],
                "ec2": { "instance_id": "i-1" }
            })
        );
        base.merge(Resource::new(ElasticBeanstalk::ORIGIN));
        assert_eq!(base.origin.as_deref(), Some(ElasticBeanstalk::ORIGIN));
        base.merge(Resource::new("AWS::AppRunner::Service"));
        assert_eq!(base.origin.as_deref(), Some("AWS::AppRunner::Service"), "a hand-set origin wins");
        base.merge(Resource::default());
        assert_eq!(base.origin.as_deref(), Some("AWS::AppRunner::Service"));
        assert!(Resource::default().is_empty() && !base.is_empty());
    }

    #[test]
    fn detection_can_run_on_a_spawned_task() {
        fn spawnable<F: std::future::Future + Send + 'static>(_: &F) {}
        spawnable(&detect_all());
        let detectors = Detectors::new();
        spawnable(&async move { detectors.detect().await });
    }
}
