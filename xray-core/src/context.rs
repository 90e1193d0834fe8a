//! The current entity.
//!
//! A future wrapped in [`Traced`] puts its entity into a thread-local slot for the duration of
//! each poll and takes it out again afterwards, so the entity follows the future across
//! `.await` points and worker threads, and synchronous code called from inside sees it too.
//! Nothing crosses into `tokio::spawn`, `spawn_blocking` or a thread by accident: that takes
//! [`TraceFutureExt::in_current_trace`] or [`Entity::in_scope`].

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::config::ContextMissing;
use crate::entity::Entity;
use crate::log::log_limited;
use crate::segment::Subsegment;

thread_local! {
    static CURRENT: RefCell<Entity> = const { RefCell::new(Entity::noop()) };
}

static STRATEGY: AtomicU8 = AtomicU8::new(0);

/// Sets what happens when code asks for the current entity outside any trace
/// (`AWS_XRAY_CONTEXT_MISSING`; [`install`](crate::RecorderBuilder::install) sets it from the
/// recorder's configuration).
pub fn set_context_missing(strategy: ContextMissing) {
    STRATEGY.store(strategy as u8, Ordering::Relaxed);
}

fn strategy() -> ContextMissing {
    match STRATEGY.load(Ordering::Relaxed) {
        1 => ContextMissing::RuntimeError,
        2 => ContextMissing::IgnoreError,
        _ => ContextMissing::LogError,
    }
}

/// Code asked for the current segment outside any trace, under `RUNTIME_ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no X-Ray segment in context: wrap the work in a traced request, in_subsegment, or in_current_trace")]
pub struct ContextMissingError;

#[inline]
fn take_current() -> Entity {
    // A borrow conflict (only possible from a `Drop` running inside `swap`) or a torn-down
    // thread-local reads as "no entity"; both are off the hot path.
    match CURRENT.try_with(|c| c.try_borrow().ok().map(|e| e.clone())) {
        Ok(Some(e)) => e,
        _ => Entity::noop(),
    }
}

/// Kept out of line so that `current()` inlines to a borrow, a clone and one branch.
#[cold]
#[inline(never)]
fn report_missing() {
    match strategy() {
        ContextMissing::IgnoreError => {}
        ContextMissing::LogError | ContextMissing::RuntimeError => {
            log_limited!(Error, "no X-Ray segment in context; the operation records nothing")
        }
    }
}

/// The current entity; a no-op entity when there is none (after logging, per
/// `AWS_XRAY_CONTEXT_MISSING`). An unsampled request's entity is not "missing".
///
/// ```
/// let e = xray_core::current();
/// e.annotate("k", "v"); // outside a trace: does nothing
/// ```
#[inline]
pub fn current() -> Entity {
    let e = take_current();
    if e.is_noop() {
        report_missing();
    }
    e
}

/// The current entity, or an error when there is none and the strategy is `RUNTIME_ERROR`.
pub fn try_current() -> Result<Entity, ContextMissingError> {
    let e = take_current();
    if e.is_noop() {
        if strategy() == ContextMissing::RuntimeError {
            return Err(ContextMissingError);
        }
        report_missing();
    }
    Ok(e)
}

/// The current entity without any missing-context report (for integrations that simply
/// forward when nothing is traced).
#[inline]
pub fn current_quiet() -> Entity {
    take_current()
}

/// Exchanges `entity` with the current one, in place (no default values written in between).
#[inline]
fn exchange(entity: &mut Entity) {
    let _ = CURRENT.try_with(|c| {
        if let Ok(mut slot) = c.try_borrow_mut() {
            std::mem::swap(&mut *slot, entity);
        }
    });
}

/// Makes `entity` the current one and returns the entity that was current before, for
/// integrations that cannot hold an [`Entered`] guard: a `tracing` layer keeps its per-span
/// state in `Send + Sync` span extensions and sees a span's enter and exit as two separate
/// calls. Put the returned entity back with another `replace_current` when the scope ends, on
/// the same thread and in the reverse order of entering; everything else should use
/// [`Entity::in_scope`], [`Entity::enter`] or [`TraceFutureExt`], which do this for you.
///
/// On a thread whose slot is being torn down (or borrowed by a `Drop` that runs inside this
/// call) nothing changes and `entity` itself comes back.
///
/// ```
/// # use xray_core::{AlwaysSample, NullEmitter, Recorder};
/// use xray_core::integration::{current_quiet, replace_current};
///
/// let recorder = Recorder::builder().with_sampler(AlwaysSample).with_emitter(NullEmitter::default()).build().unwrap();
/// let segment = recorder.new_segment("svc");
/// let previous = replace_current(segment.entity()); // on enter
/// assert_eq!(current_quiet().id(), segment.id());
/// let ours = replace_current(previous); // on exit
/// assert_eq!(ours.id(), segment.id());
/// assert!(current_quiet().is_noop());
/// ```
#[inline]
pub fn replace_current(mut entity: Entity) -> Entity {
    exchange(&mut entity);
    entity
}

/// Exchanges back when dropped, also when the scope panics.
struct Restore<'a>(&'a mut Entity);

/// Keeps an entity current until dropped; made by [`Entity::enter`].
///
/// Not `Send`, so that a future which holds one across an `.await` (where another task could
/// run on the thread and see the wrong entity) cannot be spawned.
#[must_use = "the entity is current only while the guard lives"]
pub struct Entered {
    /// The entity that was current before, put back on drop.
    previous: Entity,
    _not_send: PhantomData<*const ()>,
}

impl Entered {
    #[inline]
    pub(crate) fn new(mut entity: Entity) -> Self {
        exchange(&mut entity);
        Self { previous: entity, _not_send: PhantomData }
    }
}

impl Drop for Entered {
    #[inline]
    fn drop(&mut self) {
        exchange(&mut self.previous);
    }
}

impl std::fmt::Debug for Entered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}

impl Drop for Restore<'_> {
    #[inline]
    fn drop(&mut self) {
        exchange(self.0);
    }
}

#[inline]
pub(crate) fn with_entity<R>(mut entity: Entity, f: impl FnOnce() -> R) -> R {
    exchange(&mut entity);
    let _restore = Restore(&mut entity);
    f()
}

/// Entering an entity: the synchronous ways to make it current.
impl Entity {
    /// Runs synchronous `f` with this entity as the current one (for threads and
    /// `spawn_blocking`).
    ///
    /// ```
    /// # use xray_core::Entity;
    /// let e = Entity::noop();
    /// let n = std::thread::spawn(move || e.in_scope(|| 1 + 1)).join().unwrap();
    /// assert_eq!(n, 2);
    /// ```
    #[inline]
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        with_entity(self.clone(), f)
    }

    /// Makes this entity the current one until the guard is dropped, for synchronous code
    /// where a closure is awkward; [`in_scope`](Self::in_scope) is the closure form. Guards
    /// must be dropped in the reverse order of entering.
    ///
    /// ```
    /// # use xray_core::{AlwaysSample, NullEmitter, Recorder};
    /// let recorder = Recorder::builder().with_sampler(AlwaysSample).with_emitter(NullEmitter::default()).build().unwrap();
    /// let segment = recorder.new_segment("svc");
    /// {
    ///     let _entered = segment.entity().enter();
    ///     assert_eq!(xray_core::integration::current_quiet().id(), segment.entity().id());
    /// }
    /// assert!(xray_core::integration::current_quiet().is_noop());
    /// ```
    ///
    /// The guard is not `Send`, so a spawned future cannot hold it across an `.await`:
    ///
    /// ```compile_fail
    /// # use xray_core::Entity;
    /// fn spawn<F: std::future::Future + Send + 'static>(_: F) {}
    /// spawn(async {
    ///     let _entered = Entity::noop().enter();
    ///     std::future::ready(()).await;
    /// });
    /// ```
    #[inline]
    pub fn enter(&self) -> Entered {
        Entered::new(self.clone())
    }
}

pin_project! {
    /// A future that runs with an entity as the current one and, for
    /// [`in_subsegment`], ends its subsegment when it completes or is dropped.
    #[must_use = "futures do nothing unless polled"]
    pub struct Traced<F> {
        #[pin]
        inner: F,
        entity: Entity,
        owner: Option<Subsegment>,
    }
}

impl<F> std::fmt::Debug for Traced<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traced").field("entity", &self.entity).field("owns_subsegment", &self.owner.is_some()).finish()
    }
}

impl<F: Future> Future for Traced<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // Our entity goes into the slot and the previous one waits in ours until the poll ends.
        exchange(this.entity);
        let polled = {
            let _restore = Restore(this.entity);
            this.inner.poll(cx)
        };
        if polled.is_ready() {
            this.owner.take();
        }
        polled
    }
}

/// Runs futures inside a trace.
pub trait TraceFutureExt: Future + Sized {
    /// Carries the current entity into this future, for `tokio::spawn` and friends.
    ///
    /// ```
    /// use xray_core::TraceFutureExt;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let handle = tokio::spawn(async { xray_core::integration::current_quiet().is_sampled() }.in_current_trace());
    /// assert!(!handle.await.unwrap());
    /// # }
    /// ```
    fn in_current_trace(self) -> Traced<Self> {
        self.with_entity(current_quiet())
    }

    /// Runs this future with `entity` as the current one.
    fn with_entity(self, entity: Entity) -> Traced<Self> {
        Traced { inner: self, entity, owner: None }
    }
}

impl<F: Future> TraceFutureExt for F {}

/// Runs `fut` inside a new subsegment of the current entity; the subsegment ends when the
/// future completes (or is dropped). Outside a trace the future runs untraced.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let n = xray_core::in_subsegment("hash-password", async { 40 + 2 }).await;
/// assert_eq!(n, 42);
/// # }
/// ```
pub fn in_subsegment<F: Future>(name: &str, fut: F) -> Traced<F> {
    let sub = current().begin_subsegment(name);
    Traced { inner: fut, entity: sub.entity(), owner: Some(sub) }
}

/// The closure form of [`in_subsegment`], for synchronous code.
///
/// ```
/// let n = xray_core::in_subsegment_sync("parse", || 6 * 7);
/// assert_eq!(n, 42);
/// ```
pub fn in_subsegment_sync<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let sub = current().begin_subsegment(name);
    sub.in_scope(f)
}
