//! [`Resource`]: what the detectors found, and how two findings merge.

use serde_json::{Map, Value};

use super::{Ec2, Ecs, Eks, ElasticBeanstalk};

/// Where the service runs: the segments' `origin` and the resource blocks of their `aws` object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resource {
    /// The most specific platform, such as `AWS::ECS::Container`.
    pub origin: Option<String>,
    /// Resource blocks keyed as in the `aws` object: `ec2`, `ecs`, `eks`, `elastic_beanstalk`,
    /// `cloudwatch_logs`.
    pub aws: Map<String, Value>,
}

impl Resource {
    /// A resource with this origin and no blocks yet.
    pub fn new(origin: impl Into<String>) -> Self {
        Self { origin: Some(origin.into()), aws: Map::new() }
    }

    /// Adds (or replaces) one block of the `aws` object. Defaults to no blocks.
    #[must_use]
    pub fn with_block(mut self, key: impl Into<String>, value: Value) -> Self {
        self.aws.insert(key.into(), value);
        self
    }

    /// `true` when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.origin.is_none() && self.aws.is_empty()
    }

    /// Adds what `other` found. The more specific origin wins (Elastic Beanstalk, EKS, ECS,
    /// EC2; an origin outside that list was set by hand and wins over all of them); blocks
    /// are united: fields and list entries already present stay, new ones are added.
    pub fn merge(&mut self, other: Resource) {
        if specificity(other.origin.as_deref()) > specificity(self.origin.as_deref()) {
            self.origin = other.origin;
        }
        for (key, theirs) in other.aws {
            match (self.aws.get_mut(&key), theirs) {
                (None, theirs) => {
                    self.aws.insert(key, theirs);
                }
                (Some(Value::Object(mine)), Value::Object(theirs)) => {
                    for (field, value) in theirs {
                        mine.entry(field).or_insert(value);
                    }
                }
                (Some(Value::Array(mine)), Value::Array(theirs)) => {
                    for entry in theirs {
                        if !mine.contains(&entry) {
                            mine.push(entry);
                        }
                    }
                }
                (Some(_), _) => {}
            }
        }
    }
}

/// How specific an origin is: a platform running on top of another is more specific.
fn specificity(origin: Option<&str>) -> u8 {
    match origin {
        None => 0,
        Some(Ec2::ORIGIN) => 1,
        Some(Ecs::ORIGIN) => 2,
        Some(Eks::ORIGIN) => 3,
        Some(ElasticBeanstalk::ORIGIN) => 4,
        Some(_) => 5,
    }
}
