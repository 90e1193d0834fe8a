//! Test helpers (feature `test-util`): a recorder whose documents stay in memory, encoded and
//! split exactly as they would go on the wire, then parsed back into JSON for assertions.
//!
//! ```
//! // One call for the common case...
//! let docs = xray_core::test::capture(|recorder| {
//!     let segment = recorder.new_segment("orders");
//!     segment.annotate("customer", "c-17");
//! });
//! assert_eq!(docs[0]["annotations"]["customer"], "c-17");
//!
//! // ...and a handle for tests that record in several steps or configure the recorder.
//! let capture = xray_core::test::Capture::with(|builder| builder.with_service_name("orders"));
//! capture.recorder().new_segment("").end();
//! assert_eq!(capture.take()[0]["name"], "orders");
//! ```

use std::sync::Arc;

use serde_json::Value;

use crate::{AlwaysSample, MemoryEmitter, Recorder, RecorderBuilder};

/// A recorder that samples everything and keeps what it emits in a [`MemoryEmitter`].
#[derive(Debug, Clone)]
pub struct Capture {
    recorder: Recorder,
    emitter: Arc<MemoryEmitter>,
}

impl Capture {
    /// A recorder with the defaults of [`Recorder::builder`] (no environment read), sampling
    /// everything, with no socket and no sampling requests.
    pub fn new() -> Self {
        Self::with(|builder| builder)
    }

    /// The same after `configure` changed the builder (its sampler, service name, streaming
    /// threshold, ...; an emitter it sets is replaced by the capturing one).
    pub fn with(configure: impl FnOnce(RecorderBuilder) -> RecorderBuilder) -> Self {
        let emitter = Arc::new(MemoryEmitter::new());
        let builder = configure(Recorder::builder().with_sampler(AlwaysSample)).with_emitter(emitter.clone());
        // A builder with its own emitter opens no socket and has nothing else that can fail.
        let recorder = match builder.build() {
            Ok(recorder) => recorder,
            Err(err) => unreachable!("a recorder with a memory emitter always builds: {err}"),
        };
        Self { recorder, emitter }
    }

    /// The recorder.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The emitter behind it, for [`MemoryEmitter::wait_for`] and the counters.
    pub fn emitter(&self) -> &Arc<MemoryEmitter> {
        &self.emitter
    }

    /// The documents so far, in the order they were emitted.
    pub fn documents(&self) -> Vec<Value> {
        self.emitter.documents()
    }

    /// Takes the documents so far, leaving none.
    pub fn take(&self) -> Vec<Value> {
        self.emitter.take()
    }
}

impl Default for Capture {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `f` with a capturing recorder (see [`Capture::new`]) and returns the documents it
/// emitted, once `f` has returned and dropped what it opened.
pub fn capture(f: impl FnOnce(&Recorder)) -> Vec<Value> {
    let capture = Capture::new();
    f(capture.recorder());
    capture.take()
}
