//! [`Detectors`] and [`detect_all`]: run the chosen detectors side by side and merge.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use super::{Ec2, Ecs, Eks, ElasticBeanstalk, Resource};

/// Runs every detector against the real environment and merges what they find.
///
/// Call it once at start-up, before building the recorder; it takes as long as the slowest
/// detector (at most about a second, when IMDS does not answer).
pub async fn detect_all() -> Resource {
    Detectors::new().detect().await
}

/// A chosen set of detectors, each configurable; [`detect_all`] uses all four with defaults.
///
/// ```no_run
/// use std::time::Duration;
/// use xray_core::plugins::{Detectors, Ec2, Eks};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let resource = Detectors::new()
///     .with_ec2(Ec2::new().with_timeout(Duration::from_millis(300)))
///     .with_eks(Eks::new().with_cluster_name("prod"))
///     .detect()
///     .await;
/// let recorder = xray_core::Recorder::builder().with_resource(resource).build();
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Detectors {
    ec2: Option<Ec2>,
    ecs: Option<Ecs>,
    eks: Option<Eks>,
    elastic_beanstalk: Option<ElasticBeanstalk>,
}

impl Default for Detectors {
    fn default() -> Self {
        Self::new()
    }
}

impl Detectors {
    /// All four detectors, with their defaults.
    pub fn new() -> Self {
        Self {
            ec2: Some(Ec2::new()),
            ecs: Some(Ecs::new()),
            eks: Some(Eks::new()),
            elastic_beanstalk: Some(ElasticBeanstalk::new()),
        }
    }

    /// No detector; add the wanted ones with the `with_*` methods.
    pub fn none() -> Self {
        Self { ec2: None, ecs: None, eks: None, elastic_beanstalk: None }
    }

    /// The EC2 detector. Defaults to [`Ec2::new`].
    pub fn with_ec2(mut self, detector: Ec2) -> Self {
        self.ec2 = Some(detector);
        self
    }

    /// The ECS detector. Defaults to [`Ecs::new`].
    pub fn with_ecs(mut self, detector: Ecs) -> Self {
        self.ecs = Some(detector);
        self
    }

    /// The EKS detector. Defaults to [`Eks::new`].
    pub fn with_eks(mut self, detector: Eks) -> Self {
        self.eks = Some(detector);
        self
    }

    /// The Elastic Beanstalk detector. Defaults to [`ElasticBeanstalk::new`].
    pub fn with_elastic_beanstalk(mut self, detector: ElasticBeanstalk) -> Self {
        self.elastic_beanstalk = Some(detector);
        self
    }

    /// Runs the detectors concurrently and merges their findings (see [`Resource::merge`]).
    pub async fn detect(&self) -> Resource {
        let ((ec2, ecs), (eks, elastic_beanstalk)) = join(
            join(async { self.ec2.as_ref()?.detect().await }, async { self.ecs.as_ref()?.detect().await }),
            join(async { self.eks.as_ref()?.detect().await }, async {
                self.elastic_beanstalk.as_ref()?.detect().await
            }),
        )
        .await;
        let mut resource = Resource::default();
        for found in [ec2, ecs, eks, elastic_beanstalk].into_iter().flatten() {
            resource.merge(found);
        }
        crate::log::log_event!(Info, origin = ?resource.origin, blocks = ?resource.aws.keys().collect::<Vec<_>>(), "X-Ray plugins: resource detected");
        resource
    }
}

/// Polls both futures until both are done: Tokio's `join!` without needing its `macros`
/// feature in the core crate.
pub(crate) async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut a_out, mut b_out) = (None, None);
    std::future::poll_fn(|cx| {
        if a_out.is_none()
            && let Poll::Ready(out) = a.as_mut().poll(cx)
        {
            a_out = Some(out);
        }
        if b_out.is_none()
            && let Poll::Ready(out) = b.as_mut().poll(cx)
        {
            b_out = Some(out);
        }
        match (a_out.take(), b_out.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (a_out, b_out) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}
