//! AWS Elastic Beanstalk: the environment file the platform writes for the X-Ray SDKs.

use std::io::Read;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::Resource;
use super::error::{DetectError, settle};

/// Detects an Elastic Beanstalk environment from the file its platforms write,
/// `/var/elasticbeanstalk/xray/environment.conf`, and describes it as the `elastic_beanstalk`
/// block (`environment_name`, `version_label`, `deployment_id`) with origin
/// [`ElasticBeanstalk::ORIGIN`].
///
/// No file: not Beanstalk, quietly. A file that is not the expected JSON: logged, and `None`.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let resource = xray_core::plugins::ElasticBeanstalk::new().detect().await;
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ElasticBeanstalk {
    path: PathBuf,
}

impl Default for ElasticBeanstalk {
    fn default() -> Self {
        Self::new()
    }
}

impl ElasticBeanstalk {
    /// The `origin` of a segment recorded in an Elastic Beanstalk environment.
    pub const ORIGIN: &'static str = "AWS::ElasticBeanstalk::Environment";
    /// Where Elastic Beanstalk platforms write the environment's description.
    pub const DEFAULT_PATH: &'static str = "/var/elasticbeanstalk/xray/environment.conf";

    /// A detector reading [`ElasticBeanstalk::DEFAULT_PATH`].
    pub fn new() -> Self {
        Self { path: PathBuf::from(Self::DEFAULT_PATH) }
    }

    /// The environment file. Defaults to [`ElasticBeanstalk::DEFAULT_PATH`].
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = path.into();
        self
    }

    /// The Elastic Beanstalk resource, or `None` when there is no (usable) environment file.
    ///
    /// The file is a few hundred bytes read once at start-up, so it is read in place rather
    /// than on a blocking thread.
    pub async fn detect(&self) -> Option<Resource> {
        settle!("Elastic Beanstalk", self.read())
    }

    pub(crate) fn read(&self) -> Result<Resource, DetectError> {
        let read_error = |source| DetectError::Read { path: self.path.clone(), source };
        let mut text = Vec::new();
        std::fs::File::open(&self.path)
            .map_err(read_error)?
            .take(64 * 1024)
            .read_to_end(&mut text)
            .map_err(read_error)?;
        let source_name = self.path.display().to_string();
        let conf: EnvironmentConf = serde_json::from_slice(&text)
            .map_err(|source| DetectError::Json { source_name: source_name.clone(), source })?;
        let environment_name = conf
            .environment_name
            .filter(|name| !name.is_empty())
            .ok_or(DetectError::Missing { source_name, field: "environment_name" })?;
        let mut block = Map::new();
        block.insert("environment_name".into(), environment_name.into());
        if let Some(label) = conf.version_label {
            block.insert("version_label".into(), label.into());
        }
        if let Some(id) = conf.deployment_id.and_then(DeploymentId::number) {
            block.insert("deployment_id".into(), id.into());
        }
        Ok(Resource::new(Self::ORIGIN).with_block("elastic_beanstalk", Value::Object(block)))
    }
}

/// The file's fields; anything else in it is ignored.
#[derive(Debug, Deserialize)]
struct EnvironmentConf {
    environment_name: Option<String>,
    version_label: Option<String>,
    deployment_id: Option<DeploymentId>,
}

/// The platform writes a number; a quoted one is accepted too, since X-Ray wants a number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DeploymentId {
    Number(u64),
    Text(String),
}

impl DeploymentId {
    fn number(self) -> Option<u64> {
        match self {
            Self::Number(n) => Some(n),
            Self::Text(text) => text.trim().parse().ok(),
        }
    }
}
